// What the user-mode network needs from the host: datagram and stream sockets, timers and the
// host's name resolver. Implemented for Node in src/host/node/net_host.ts; tests use the
// in-memory fakes of src/net/testing.ts (with a clock that only moves when the test says so).

export interface HostUdpSocket {
  /** Sends one datagram to `address` (IPv4 dotted quad) : `port`. Errors are the host's to swallow. */
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export type LookupResult = { kind: "ok"; addresses: string[] } | { kind: "nxdomain" } | { kind: "nodata" } | { kind: "servfail" };

/** What a host stream socket reports to the stack. */
export interface HostTcpEvents {
  /** The connection is up (for tcpConnect; accepted sockets are connected already). */
  connected(): void;
  data(data: Uint8Array): void;
  /** The peer sent FIN: no more data will come. */
  end(): void;
  /** Everything written so far has been handed to the host's kernel. */
  drain(): void;
  /** The socket is gone: `error` when it failed (refused, reset) rather than closed in order. */
  closed(error: boolean): void;
}

export interface HostTcpSocket {
  /** Queues `data` for the peer (copies or keeps it: the caller does not reuse the bytes). */
  write(data: Uint8Array): void;
  /** Bytes written and not yet handed to the host's kernel (Node's writableLength). */
  readonly bufferedBytes: number;
  /** Half-close: FIN after what is queued. */
  end(): void;
  /** Abort: the peer sees a reset where the host can send one. */
  destroy(): void;
  /** Stop / restart reading from the peer (backpressure toward the host). */
  pause(): void;
  resume(): void;
}

/** A connection accepted by a listener, not yet reading: `accept` attaches the stack to it. */
export interface HostTcpIncoming {
  remoteAddress: string; remotePort: number;
  accept(ev: HostTcpEvents): HostTcpSocket;
}

export interface HostListener { readonly port: number; close(): void }

export interface HostTimer { cancel(): void }

export interface NetHost {
  /** A new unconnected IPv4 UDP socket on an ephemeral port; datagrams received go to `onMessage`. */
  udpOpen(onMessage: (data: Uint8Array, address: string, port: number) => void): HostUdpSocket;
  /** A UDP socket bound to `address`:`port`; a string is the host's error code (EADDRINUSE, EACCES...). */
  udpBind(address: string, port: number, onMessage: (data: Uint8Array, address: string, port: number) => void): Promise<HostUdpSocket | string>;
  /** Opens an IPv4 TCP connection to `address`:`port`; failures arrive as `closed(true)` before `connected`. */
  tcpConnect(address: string, port: number, ev: HostTcpEvents): HostTcpSocket;
  /** Listens on `address`:`port`; a string is the host's error code (EADDRINUSE, EACCES...). */
  tcpListen(address: string, port: number, onConnection: (c: HostTcpIncoming) => void): Promise<HostListener | string>;
  /** Calls `fn` once after `ms` milliseconds of `now()`. */
  setTimer(ms: number, fn: () => void): HostTimer;
  /** Resolves `name` through the host's resolver; `family` 4 for A records, 6 for AAAA. */
  lookup(name: string, family: 4 | 6): Promise<LookupResult>;
  /** Monotonic milliseconds. */
  now(): number;
}

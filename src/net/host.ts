// What the user-mode network needs from the host: datagram sockets and the host's name
// resolver. Implemented for Node in src/host/node/net_host.ts; tests use in-memory fakes.

export interface HostUdpSocket {
  /** Sends one datagram to `address` (IPv4 dotted quad) : `port`. Errors are the host's to swallow. */
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export type LookupResult = { kind: "ok"; addresses: string[] } | { kind: "nxdomain" } | { kind: "nodata" } | { kind: "servfail" };

export interface NetHost {
  /** A new unconnected IPv4 UDP socket on an ephemeral port; datagrams received go to `onMessage`. */
  udpOpen(onMessage: (data: Uint8Array, address: string, port: number) => void): HostUdpSocket;
  /** Resolves `name` through the host's resolver; `family` 4 for A records, 6 for AAAA. */
  lookup(name: string, family: 4 | 6): Promise<LookupResult>;
  /** Monotonic milliseconds. */
  now(): number;
}

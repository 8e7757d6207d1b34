// In-memory fakes for the user-mode network's tests and fuzz target: a NetHost whose sockets
// record what they send and can be made to receive, and a NIC frontend that collects frames.
import type { NetFrontend } from "./backend.js";
import type {
  HostListener, HostTcpEvents, HostTcpIncoming, HostTcpSocket, HostTimer, HostUdpSocket, LookupResult, NetHost,
} from "./host.js";
import {
  BROADCAST_MAC, ETHERTYPE_IPV4, IPPROTO_UDP, type Ip4, buildEth, buildIpv4, buildUdp,
} from "./packet.js";
import { GATEWAY_MAC } from "./user_net.js";

export class FakeSocket implements HostUdpSocket {
  readonly sent: { data: Uint8Array; address: string; port: number }[] = [];
  closed = false;
  constructor(readonly receive: (data: Uint8Array, address: string, port: number) => void) {}
  send(data: Uint8Array, address: string, port: number): void { this.sent.push({ data: data.slice(), address, port }); }
  close(): void { this.closed = true; }
}

/** A host stream socket under the test's control: what the stack writes is recorded. */
export class FakeTcpSocket implements HostTcpSocket {
  readonly written: Uint8Array[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  /** What the fake kernel has not taken yet (the test sets it to simulate a congested socket). */
  bufferedBytes = 0;
  ev: HostTcpEvents | null = null;
  constructor(readonly address: string, readonly port: number) {}
  write(data: Uint8Array): void { this.written.push(data.slice()); }
  end(): void { this.ended = true; }
  destroy(): void { this.destroyed = true; }
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }
  /** All bytes written so far, as one array. */
  bytes(): Uint8Array {
    const n = this.written.reduce((a, b) => a + b.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const w of this.written) { out.set(w, o); o += w.length; }
    return out;
  }
}

export class FakeNetHost implements NetHost {
  readonly sockets: FakeSocket[] = [];
  readonly tcpSockets: FakeTcpSocket[] = [];
  /** Listeners by `${address}:${port}`; a key present in `taken` fails with EADDRINUSE. */
  readonly listeners = new Map<string, (c: HostTcpIncoming) => void>();
  readonly udpBound = new Map<string, FakeSocket>();
  readonly taken = new Set<string>();
  time = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private timerSeq = 0;
  /** name → A/AAAA results; missing names are NXDOMAIN. */
  readonly names = new Map<string, { v4: string[]; v6: string[] }>();
  lookups: string[] = [];
  udpOpen(onMessage: (data: Uint8Array, address: string, port: number) => void): HostUdpSocket {
    const s = new FakeSocket(onMessage);
    this.sockets.push(s);
    return s;
  }
  udpBind(address: string, port: number, onMessage: (data: Uint8Array, address: string, port: number) => void): Promise<HostUdpSocket | string> {
    const key = `${address}:${port}`;
    if (this.taken.has(key) || this.udpBound.has(key)) return Promise.resolve("EADDRINUSE");
    const s = new FakeSocket(onMessage);
    this.udpBound.set(key, s);
    return Promise.resolve(s);
  }
  tcpConnect(address: string, port: number, ev: HostTcpEvents): HostTcpSocket {
    const s = new FakeTcpSocket(address, port);
    s.ev = ev;
    this.tcpSockets.push(s);
    return s;
  }
  tcpListen(address: string, port: number, onConnection: (c: HostTcpIncoming) => void): Promise<HostListener | string> {
    const key = `${address}:${port}`;
    if (this.taken.has(key) || this.listeners.has(key)) return Promise.resolve("EADDRINUSE");
    this.listeners.set(key, onConnection);
    return Promise.resolve({ port, close: () => { this.listeners.delete(key); } });
  }
  /** A host client connects to the listener at `address`:`port`; returns its socket (null if none listens). */
  clientConnect(address: string, port: number, from = "127.0.0.1", fromPort = 40000): FakeTcpSocket | null {
    const l = this.listeners.get(`${address}:${port}`);
    if (l === undefined) return null;
    let sock: FakeTcpSocket | null = null;
    l({
      remoteAddress: from, remotePort: fromPort,
      accept: (ev) => { sock = new FakeTcpSocket(from, fromPort); sock.ev = ev; this.tcpSockets.push(sock); return sock; },
    });
    return sock;
  }
  setTimer(ms: number, fn: () => void): HostTimer {
    const t = { at: this.time + ms, seq: this.timerSeq++, fn, live: true };
    this.timers.push(t);
    return { cancel: () => { t.live = false; } };
  }
  /** Timers still pending. */
  get pendingTimers(): number { return this.timers.filter((t) => t.live).length; }
  /** Moves the clock forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => t.live);
      let next: (typeof this.timers)[number] | null = null;
      for (const t of this.timers) if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (next === null) break;
      this.time = Math.max(this.time, next.at);
      next.live = false;
      next.fn();
    }
    this.time = end;
  }
  lookup(name: string, family: 4 | 6): Promise<LookupResult> {
    this.lookups.push(`${name}/${family}`);
    const r = this.names.get(name);
    if (r === undefined) return Promise.resolve({ kind: "nxdomain" });
    const a = family === 4 ? r.v4 : r.v6;
    return Promise.resolve(a.length === 0 ? { kind: "nodata" } : { kind: "ok", addresses: a });
  }
  now(): number { return this.time; }
}

export class FakeFrontend implements NetFrontend {
  readonly frames: Uint8Array[] = [];
  /** Beside each frame: its NET_FRAME_* flags and GSO size. */
  readonly meta: { flags: number; gsoSize: number }[] = [];
  /** Frames the fake guest can still take; Infinity = always room. */
  room = Infinity;
  /** The NET_OFFLOAD_* bits the fake guest takes (none: complete frames only). */
  offloads = 0;
  /** The card's MAC, when the fake NIC names one (a virtio-net card does). */
  mac: Uint8Array | undefined = undefined;
  canReceive(): boolean { return this.room > 0; }
  deliver(frame: Uint8Array, flags = 0, gsoSize = 0): void { this.room--; this.frames.push(frame.slice()); this.meta.push({ flags, gsoSize }); }
  take(): Uint8Array[] { this.meta.length = 0; return this.frames.splice(0); }
  /** Frames with their flags and GSO sizes since the last call. */
  takeWithMeta(): { frame: Uint8Array; flags: number; gsoSize: number }[] {
    const m = this.meta.splice(0);
    return this.frames.splice(0).map((frame, i) => ({ frame, ...m[i] }));
  }
}

export const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

/** An Ethernet+IPv4+UDP frame from the guest. */
export function guestUdp(src: Ip4, srcPort: number, dst: Ip4, dstPort: number, data: Uint8Array, id = 1): Uint8Array {
  const broadcast = dst === 0xffffffff;
  return buildEth(broadcast ? BROADCAST_MAC : GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4,
    buildIpv4(src, dst, IPPROTO_UDP, id, buildUdp(src, dst, srcPort, dstPort, data)));
}

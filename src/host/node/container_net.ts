// A container's network: the process VM's HostNet (src/user/host.ts) seen through the container's
// port table, so that only published ports reach the host (docs/containers.md, "Ports").
// - TCP and UDP ports the guest binds are the container's own: a port published with
//   `-p [HOSTIP:]HOSTPORT:PORT[/PROTO]` is listened on at HOSTIP:HOSTPORT on the host (127.0.0.1
//   unless given); any other port exists only inside the container: no host socket is made for it.
// - A guest connecting to a loopback or wildcard address reaches the container's own listeners
//   through an in-memory stream (published or not), else ECONNREFUSED: the host's loopback
//   services are not the container's (as with Docker's network namespace).
// - Other destinations (the outside world) go through the host's sockets as with `rvisor exec`.
// Unix sockets are files in the container's filesystem and pass through unchanged.
import { EADDRINUSE, ECONNREFUSED, EPIPE } from "../../abi/linux.js";
import type {
  HostDgram, HostDgramEvents, HostListener, HostListenerEvents, HostNet, HostStream, HostStreamEvents, ListenOptions, SockAddr,
} from "../../user/host.js";

export type PortProto = "tcp" | "udp";
/** One `-p` mapping. */
export interface PortMapping { hostIp: string; hostPort: number; port: number; proto: PortProto }

/** Linux's default ip_local_port_range. */
const EPHEMERAL_FIRST = 32768, EPHEMERAL_LAST = 60999;
/** Bytes queued for an in-memory peer before write() asks the writer to wait for drained(). */
const STREAM_HIGH_WATER = 1 << 20;

/** The addresses that mean "this container" to a guest: loopback and the wildcard. */
export function isContainerLocal(address: string): boolean {
  const a = address.toLowerCase();
  return a.startsWith("127.") || a === "::1" || a === "0.0.0.0" || a === "::" || a === "" || a.startsWith("::ffff:127.") || a === "::ffff:0.0.0.0" || a === "localhost";
}

const loopbackOf = (family: "inet" | "inet6" | "unix"): string => (family === "inet6" ? "::1" : "127.0.0.1");
const later = (f: () => void): void => { setImmediate(f); };

/** One end of an in-memory stream between two guest sockets. */
class MemStream implements HostStream {
  peer: MemStream | null = null;
  ev: HostStreamEvents | null = null;
  private readonly inbox: (Uint8Array | null)[] = [];
  private queued = 0;
  private paused = false;
  private scheduled = false;
  private wantDrain = false;
  private shut = false;
  closed = false;

  write(data: Uint8Array): boolean {
    const p = this.peer;
    if (p === null || p.closed || this.shut) { later(() => this.ev?.error(EPIPE)); return true; }
    p.enqueue(data.slice());
    if (p.queued > STREAM_HIGH_WATER) { this.wantDrain = true; return false; }
    return true;
  }
  shutdownWrite(): void {
    if (this.shut) return;
    this.shut = true;
    this.peer?.enqueue(null);
  }
  close(): void { this.shutdownWrite(); this.closed = true; }
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; this.schedule(); }
  setNoDelay(): void { /* nothing is delayed in memory */ }
  setKeepAlive(): void { /* no keepalive probes in memory */ }

  enqueue(c: Uint8Array | null): void {
    if (this.closed) return;
    this.inbox.push(c);
    this.queued += c?.length ?? 0;
    this.schedule();
  }
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    later(() => { this.scheduled = false; this.flush(); });
  }
  private flush(): void {
    const ev = this.ev;
    if (ev === null) return;
    while (!this.paused && this.inbox.length > 0 && !this.closed) {
      const c = this.inbox.shift() ?? null;
      if (c === null) { ev.end(); continue; }
      this.queued -= c.length;
      ev.data(c);
    }
    const w = this.peer;
    if (w !== null && w.wantDrain && this.queued <= STREAM_HIGH_WATER / 2) { w.wantDrain = false; w.ev?.drained(); }
  }
}

/** A stream that failed to connect. */
class RefusedStream implements HostStream {
  write(): boolean { return true; }
  shutdownWrite(): void { /* never connected */ }
  close(): void { /* never connected */ }
  pause(): void { /* never connected */ }
  resume(): void { /* never connected */ }
  setNoDelay(): void { /* never connected */ }
  setKeepAlive(): void { /* never connected */ }
}

interface TcpBinding { ev: HostListenerEvents; addr: SockAddr }
interface UdpBinding { ev: HostDgramEvents; addr: SockAddr }

export class ContainerNet implements HostNet {
  private readonly tcp = new Map<number, TcpBinding>();
  private readonly udp = new Map<number, UdpBinding>();
  private nextEphemeral = EPHEMERAL_FIRST;

  constructor(readonly inner: HostNet, readonly ports: readonly PortMapping[]) {}

  private published(proto: PortProto, port: number): PortMapping | undefined {
    return this.ports.find((p) => p.proto === proto && p.port === port);
  }
  private hostAddr(m: PortMapping): SockAddr {
    return { family: m.hostIp.includes(":") ? "inet6" : "inet", address: m.hostIp, port: m.hostPort };
  }

  /** A free port of the container's (the ephemeral range, as Linux picks one for bind(port 0)). */
  private ephemeral(table: Map<number, unknown>): number {
    for (let i = 0; i <= EPHEMERAL_LAST - EPHEMERAL_FIRST; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p >= EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
      if (!table.has(p)) return p;
    }
    return 0;
  }

  listen(addr: SockAddr, opts: ListenOptions, ev: HostListenerEvents, done: (r: HostListener | number) => void): void {
    if (addr.family === "unix") { this.inner.listen(addr, opts, ev, done); return; }
    const port = addr.port === 0 ? this.ephemeral(this.tcp) : addr.port;
    if (port === 0 || this.tcp.has(port)) { later(() => done(-EADDRINUSE)); return; }
    const guest: SockAddr = { family: addr.family, address: addr.address, port };
    const binding: TcpBinding = { ev, addr: guest };
    this.tcp.set(port, binding);
    let host: HostListener | null = null;
    const facade: HostListener = {
      address: () => guest,
      close: () => { if (this.tcp.get(port) === binding) this.tcp.delete(port); host?.close(); host = null; },
    };
    const m = this.published("tcp", port);
    if (m === undefined) { later(() => done(facade)); return; }
    this.inner.listen(this.hostAddr(m), opts, {
      // The guest sees the connection arrive at its own address and port.
      connection: (s, _local, remote) => ev.connection(s, guest, remote),
      error: (e) => ev.error(e),
    }, (r) => {
      if (typeof r === "number") { if (this.tcp.get(port) === binding) this.tcp.delete(port); done(r); return; }
      host = r;
      done(facade);
    });
  }

  connect(to: SockAddr, from: SockAddr | null, ev: HostStreamEvents): HostStream {
    if (to.family === "unix" || !isContainerLocal(to.address)) return this.inner.connect(to, from, ev);
    const b = this.tcp.get(to.port);
    if (b === undefined) { later(() => ev.error(ECONNREFUSED)); return new RefusedStream(); }
    const client = new MemStream(), server = new MemStream();
    client.peer = server; server.peer = client;
    client.ev = ev;
    const local: SockAddr = { family: to.family, address: from !== null && from.port !== 0 ? from.address : loopbackOf(to.family), port: from !== null && from.port !== 0 ? from.port : this.ephemeral(this.tcp) };
    const remote: SockAddr = { family: to.family, address: isContainerLocal(to.address) && !to.address.startsWith("127.") && to.address !== "::1" ? loopbackOf(to.family) : to.address, port: to.port };
    later(() => {
      if (this.tcp.get(to.port) !== b) { ev.error(ECONNREFUSED); return; }
      server.ev = b.ev.connection(server, remote, local);
      ev.connected(local, remote);
      server.schedule(); client.schedule();
    });
    return client;
  }

  dgram(family: "inet" | "inet6", ev: HostDgramEvents): HostDgram {
    let bound: SockAddr | null = null;
    let host: HostDgram | null = null;
    let closed = false;
    const net = this;
    /** The host socket for published ports and for traffic to the outside (made on first need). */
    const hostSocket = (): HostDgram => {
      if (host === null) {
        host = this.inner.dgram(family, {
          message: (data, from) => ev.message(data, from),
          error: (e) => ev.error(e),
        });
      }
      return host;
    };
    const bindLocal = (addr: SockAddr): SockAddr | number => {
      const port = addr.port === 0 ? this.ephemeral(this.udp) : addr.port;
      if (port === 0 || this.udp.has(port)) return -EADDRINUSE;
      const a: SockAddr = { family: addr.family, address: addr.address, port };
      this.udp.set(port, { ev, addr: a });
      bound = a;
      return a;
    };
    return {
      bind(addr: SockAddr, done: (r: SockAddr | number) => void): void {
        const r = bindLocal(addr);
        if (typeof r === "number") { later(() => done(r)); return; }
        const m = net.published("udp", r.port);
        if (m === undefined) { later(() => done(r)); return; }
        hostSocket().bind(net.hostAddr(m), (hr) => {
          if (typeof hr === "number") { net.udp.delete(r.port); bound = null; done(hr); return; }
          done(r);
        });
      },
      send(data: Uint8Array, to: SockAddr): void {
        if (closed) return;
        if (bound === null) bindLocal({ family, address: family === "inet6" ? "::" : "0.0.0.0", port: 0 });
        if (isContainerLocal(to.address)) {
          const peer = net.udp.get(to.port);
          const me = bound ?? { family, address: loopbackOf(family), port: 0 };
          const from: SockAddr = { family: me.family, address: isContainerLocal(me.address) ? loopbackOf(me.family) : me.address, port: me.port };
          if (peer !== undefined) { const copy = data.slice(); later(() => peer.ev.message(copy, from)); }
          return; // nobody bound there: the datagram is dropped (an ICMP error Linux would report is not modelled)
        }
        hostSocket().send(data, to);
      },
      address(): SockAddr | null { return bound; },
      setBroadcast(on: boolean): void { host?.setBroadcast(on); },
      close(): void {
        closed = true;
        if (bound !== null && net.udp.get(bound.port)?.ev === ev) net.udp.delete(bound.port);
        host?.close();
      },
    };
  }

  closeAll(): Promise<void> { return this.inner.closeAll(); }
}

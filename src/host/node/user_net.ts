// Node implementation of the process VM's HostNet (src/user/host.ts): TCP and Unix stream
// sockets through node:net, UDP through node:dgram. Every handle is tracked so that closeAll()
// can let queued output drain and then release the event loop when the guest exits.
import * as net from "node:net";
import * as dgram from "node:dgram";
import { errnoOfCode } from "../../abi/linux.js";
import type {
  HostDgram, HostDgramEvents, HostListener, HostListenerEvents, HostNet, HostStream, HostStreamEvents, ListenOptions, SockAddr,
} from "../../user/host.js";

function errnoOf(e: unknown): number {
  return errnoOfCode((e as NodeJS.ErrnoException).code);
}

function addrOf(family: string | undefined, address: string | undefined, port: number | undefined): SockAddr {
  const fam = family === "IPv6" || (address ?? "").includes(":") ? "inet6" : "inet";
  return { family: fam, address: address ?? (fam === "inet6" ? "::" : "0.0.0.0"), port: port ?? 0 };
}

export class NodeNet implements HostNet {
  private readonly streams = new Set<net.Socket>();
  private readonly servers = new Set<net.Server>();
  private readonly dgrams = new Set<dgram.Socket>();

  private wrap(s: net.Socket): HostStream {
    this.streams.add(s);
    s.on("close", () => this.streams.delete(s));
    return {
      write: (data) => s.write(data),
      shutdownWrite: () => { s.end(); },
      close: () => {
        if (s.destroyed) return;
        s.end();
        // A peer that never reads must not keep the host alive.
        const timer = setTimeout(() => s.destroy(), 5000);
        timer.unref();
        s.once("close", () => clearTimeout(timer));
        s.resume();
      },
      pause: () => { s.pause(); },
      resume: () => { s.resume(); },
      setNoDelay: (on) => { s.setNoDelay(on); },
      setKeepAlive: (on) => { s.setKeepAlive(on); },
    };
  }

  private attach(s: net.Socket, ev: HostStreamEvents): void {
    s.on("data", (b: Buffer) => ev.data(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    s.on("end", () => ev.end());
    s.on("drain", () => ev.drained());
    s.on("error", (e) => ev.error(errnoOf(e)));
  }

  connect(to: SockAddr, from: SockAddr | null, ev: HostStreamEvents): HostStream {
    const opts: net.NetConnectOpts = to.family === "unix"
      ? { path: to.address, allowHalfOpen: true }
      : { host: to.address, port: to.port, allowHalfOpen: true, family: to.family === "inet6" ? 6 : 4, ...(from !== null ? { localAddress: from.address, localPort: from.port } : {}) };
    const s = net.connect(opts);
    this.attach(s, ev);
    s.once("connect", () => {
      const local: SockAddr = to.family === "unix" ? { family: "unix", address: "", port: 0 } : addrOf(s.localFamily, s.localAddress, s.localPort);
      const remote: SockAddr = to.family === "unix" ? to : addrOf(s.remoteFamily, s.remoteAddress, s.remotePort);
      ev.connected(local, remote);
    });
    return this.wrap(s);
  }

  listen(addr: SockAddr, opts: ListenOptions, ev: HostListenerEvents, done: (r: HostListener | number) => void): void {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
    const unix = addr.family === "unix";
    let listening = false;
    server.on("connection", (s) => {
      const local: SockAddr = unix ? addr : addrOf(s.localFamily, s.localAddress, s.localPort);
      const remote: SockAddr = unix ? { family: "unix", address: "", port: 0 } : addrOf(s.remoteFamily, s.remoteAddress, s.remotePort);
      const e = ev.connection(this.wrap(s), local, remote);
      this.attach(s, e);
    });
    server.on("error", (e) => {
      if (!listening) { this.servers.delete(server); done(-errnoOf(e)); } else ev.error(errnoOf(e));
    });
    const listener: HostListener = {
      address: () => {
        const a = server.address();
        if (a === null || typeof a === "string") return addr;
        return addrOf(a.family, a.address, a.port);
      },
      close: () => { this.servers.delete(server); server.close(); },
    };
    this.servers.add(server);
    const cb = (): void => { listening = true; done(listener); };
    if (unix) server.listen({ path: addr.address, backlog: opts.backlog }, cb);
    else server.listen({ host: addr.address, port: addr.port, backlog: opts.backlog, ipv6Only: opts.ipv6Only, exclusive: true }, cb);
  }

  dgram(family: "inet" | "inet6", ev: HostDgramEvents): HostDgram {
    const s = dgram.createSocket({ type: family === "inet6" ? "udp6" : "udp4" });
    this.dgrams.add(s);
    let bound: SockAddr | null = null;
    let broadcast = false;
    s.on("message", (b, rinfo) => ev.message(new Uint8Array(b.buffer, b.byteOffset, b.length), addrOf(rinfo.family, rinfo.address, rinfo.port)));
    s.on("error", (e) => ev.error(errnoOf(e)));
    s.on("listening", () => {
      const a = s.address();
      bound = addrOf(a.family, a.address, a.port);
      if (broadcast) s.setBroadcast(true);
    });
    return {
      bind: (addr, done) => {
        const onErr = (e: Error): void => { done(-errnoOf(e)); };
        s.once("error", onErr);
        s.bind({ address: addr.address, port: addr.port, exclusive: true }, () => {
          s.off("error", onErr);
          const a = s.address();
          bound = addrOf(a.family, a.address, a.port);
          done(bound);
        });
      },
      send: (data, to) => {
        s.send(data, to.port, to.address, (e) => { if (e !== null && e !== undefined) ev.error(errnoOf(e)); });
      },
      address: () => bound,
      setBroadcast: (on) => { broadcast = on; if (bound !== null) s.setBroadcast(on); },
      close: () => { this.dgrams.delete(s); try { s.close(); } catch { /* not running */ } },
    };
  }

  async closeAll(): Promise<void> {
    for (const s of this.servers) s.close();
    this.servers.clear();
    for (const d of this.dgrams) { try { d.close(); } catch { /* not running */ } }
    this.dgrams.clear();
    const open = [...this.streams].filter((s) => !s.destroyed);
    if (open.length === 0) return;
    // Let queued output reach the peer (our FIN included), then drop the connections.
    await new Promise<void>((resolve) => {
      let left = open.length;
      const timer = setTimeout(() => { for (const s of open) s.destroy(); resolve(); }, 2000);
      const one = (s: net.Socket): void => { s.destroy(); if (--left === 0) { clearTimeout(timer); resolve(); } };
      for (const s of open) {
        if (s.writableFinished) one(s);
        else { s.once("finish", () => one(s)); s.once("close", () => { if (!s.writableFinished) one(s); }); s.end(); }
      }
    });
  }
}

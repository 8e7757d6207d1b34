// Node implementation of the user-mode network's NetHost (src/net/host.ts): node:dgram sockets,
// node:net stream sockets and listeners (for TCP and the forwards), timers, and node:dns lookup (getaddrinfo: /etc/hosts, then the host's configured resolver — whatever
// address that is, 127.0.0.53 included, it is the host that talks to it, never the guest).
import * as dgram from "node:dgram";
import * as net from "node:net";
import { lookup } from "node:dns/promises";
import type {
  HostListener, HostTcpEvents, HostTcpIncoming, HostTcpSocket, HostTimer, HostUdpSocket, LookupResult, NetHost,
} from "../../net/host.js";

function errorCode(e: unknown): string { return (e as NodeJS.ErrnoException).code ?? "EIO"; }

export class NodeNetHost implements NetHost {
  private readonly sockets = new Set<dgram.Socket>();
  private readonly streams = new Set<net.Socket>();
  private readonly servers = new Set<net.Server>();

  private stream(s: net.Socket, ev: HostTcpEvents): HostTcpSocket {
    this.streams.add(s);
    s.setNoDelay(true); // the guest's TCP already segments; no Nagle delay on top
    s.on("data", (b: Buffer) => ev.data(new Uint8Array(b.buffer, b.byteOffset, b.length)));
    s.on("end", () => ev.end());
    s.on("drain", () => ev.drain());
    s.on("error", () => undefined); // reported through 'close' (hadError)
    s.on("close", (hadError) => { this.streams.delete(s); ev.closed(hadError); });
    return {
      write: (d) => { if (!s.destroyed && s.writable) s.write(d); },
      get bufferedBytes() { return s.writableLength; },
      end: () => { if (!s.destroyed) s.end(); },
      destroy: () => { s.resetAndDestroy(); },
      pause: () => { s.pause(); },
      resume: () => { s.resume(); },
    };
  }

  tcpConnect(address: string, port: number, ev: HostTcpEvents): HostTcpSocket {
    const s = net.connect({ host: address, port, family: 4, allowHalfOpen: true });
    s.once("connect", () => ev.connected());
    return this.stream(s, ev);
  }

  tcpListen(address: string, port: number, onConnection: (c: HostTcpIncoming) => void): Promise<HostListener | string> {
    return new Promise((resolve) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
      server.on("connection", (s) => {
        onConnection({
          remoteAddress: s.remoteAddress ?? "", remotePort: s.remotePort ?? 0,
          accept: (ev) => { const h = this.stream(s, ev); s.resume(); return h; },
        });
      });
      server.once("error", (e) => resolve(errorCode(e)));
      server.listen({ host: address, port, exclusive: true }, () => {
        server.removeAllListeners("error");
        server.on("error", () => undefined);
        server.unref();
        this.servers.add(server);
        const a = server.address();
        resolve({ port: typeof a === "object" && a !== null ? a.port : port, close: () => { this.servers.delete(server); server.close(); } });
      });
    });
  }

  udpBind(address: string, port: number, onMessage: (data: Uint8Array, address: string, port: number) => void): Promise<HostUdpSocket | string> {
    return new Promise((resolve) => {
      const s = dgram.createSocket("udp4");
      s.once("error", (e) => { resolve(errorCode(e)); s.close(); });
      s.bind({ address, port, exclusive: true }, () => {
        s.removeAllListeners("error");
        s.on("error", () => undefined);
        s.unref();
        this.sockets.add(s);
        s.on("message", (msg, rinfo) => onMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), rinfo.address, rinfo.port));
        let open = true;
        resolve({
          send: (data, to, toPort) => { if (open) s.send(data, toPort, to, () => undefined); },
          close: () => { if (!open) return; open = false; this.sockets.delete(s); s.close(); },
        });
      });
    });
  }

  setTimer(ms: number, fn: () => void): HostTimer {
    const t = setTimeout(fn, ms);
    t.unref(); // the run loop keeps the process alive, not the stack's timers
    return { cancel: () => clearTimeout(t) };
  }

  udpOpen(onMessage: (data: Uint8Array, address: string, port: number) => void): HostUdpSocket {
    const s = dgram.createSocket("udp4");
    this.sockets.add(s);
    let open = true;
    s.on("message", (msg, rinfo) => onMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), rinfo.address, rinfo.port));
    s.on("error", () => undefined); // ICMP errors (ECONNREFUSED) and the like: UDP is unreliable anyway
    s.bind(0);
    s.unref(); // the guest's sockets never keep the process alive on their own
    return {
      send: (data, address, port) => { if (open) s.send(data, port, address, () => undefined); },
      close: () => { if (!open) return; open = false; this.sockets.delete(s); s.close(); },
    };
  }

  async lookup(name: string, family: 4 | 6): Promise<LookupResult> {
    try {
      const r = await lookup(name, { family, all: true, verbatim: true });
      return { kind: "ok", addresses: r.map((a) => a.address) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTFOUND") {
        // getaddrinfo says ENOTFOUND for a name without records of this family too (localhost
        // with only 127.0.0.1 in /etc/hosts, asked for AAAA): the name exists, the answer is empty.
        try { await lookup(name, { family: family === 4 ? 6 : 4 }); return { kind: "nodata" }; } catch { return { kind: "nxdomain" }; }
      }
      if (code === "ENODATA") return { kind: "nodata" };
      return { kind: "servfail" };
    }
  }

  now(): number { return performance.now(); }

  closeAll(): void {
    for (const s of this.sockets) s.close();
    this.sockets.clear();
    for (const s of this.streams) s.destroy();
    this.streams.clear();
    for (const s of this.servers) s.close();
    this.servers.clear();
  }
}

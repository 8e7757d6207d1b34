// Node implementation of the user-mode network's NetHost (src/net/host.ts): node:dgram sockets
// and node:dns lookup (getaddrinfo: /etc/hosts, then the host's configured resolver — whatever
// address that is, 127.0.0.53 included, it is the host that talks to it, never the guest).
import * as dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import type { HostUdpSocket, LookupResult, NetHost } from "../../net/host.js";

export class NodeNetHost implements NetHost {
  private readonly sockets = new Set<dgram.Socket>();

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

  closeAll(): void { for (const s of this.sockets) s.close(); this.sockets.clear(); }
}

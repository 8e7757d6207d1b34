// In-memory fakes for the user-mode network's tests and fuzz target: a NetHost whose sockets
// record what they send and can be made to receive, and a NIC frontend that collects frames.
import type { NetFrontend } from "./backend.js";
import type { HostUdpSocket, LookupResult, NetHost } from "./host.js";
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

export class FakeNetHost implements NetHost {
  readonly sockets: FakeSocket[] = [];
  time = 0;
  /** name → A/AAAA results; missing names are NXDOMAIN. */
  readonly names = new Map<string, { v4: string[]; v6: string[] }>();
  lookups: string[] = [];
  udpOpen(onMessage: (data: Uint8Array, address: string, port: number) => void): HostUdpSocket {
    const s = new FakeSocket(onMessage);
    this.sockets.push(s);
    return s;
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
  /** Frames the fake guest can still take; Infinity = always room. */
  room = Infinity;
  canReceive(): boolean { return this.room > 0; }
  deliver(frame: Uint8Array): void { this.room--; this.frames.push(frame.slice()); }
  take(): Uint8Array[] { return this.frames.splice(0); }
}

export const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

/** An Ethernet+IPv4+UDP frame from the guest. */
export function guestUdp(src: Ip4, srcPort: number, dst: Ip4, dstPort: number, data: Uint8Array, id = 1): Uint8Array {
  const broadcast = dst === 0xffffffff;
  return buildEth(broadcast ? BROADCAST_MAC : GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4,
    buildIpv4(src, dst, IPPROTO_UDP, id, buildUdp(src, dst, srcPort, dstPort, data)));
}

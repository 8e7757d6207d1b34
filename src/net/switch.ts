// A virtual switch between VMs (`--net switch=NAME`): a learning bridge (IEEE 802.1D 7.8) with
// one built-in host on it that serves DHCP and DNS, as vde_switch plus dnsmasq would. Platform
// neutral: ports are callbacks; the Node side (src/host/node/switch_process.ts) gives each VM's
// Unix-socket connection a port.
//
// Addressing: each switch has its own /24, 10.0.X.0/24 with X = 3 + (FNV-1a of the switch's name
// mod 251), so X is 3..253 and never 2 (user-mode networking's 10.0.2.0/24). The switch's host
// is .1 (DHCP server and DNS server; no router: a switch leads nowhere else), leases go from .15
// upward, one per MAC for the switch's life.
//
// Forwarding: a frame's source MAC is learned on its port (entries age out after
// MAC_AGEING_MS); a unicast frame to a learned MAC goes to that port only, anything else
// (broadcast, multicast, unknown unicast) to every other port. The switch host also takes
// broadcasts and frames to its own MAC. Each port's handshake MAC is pinned to it: another port
// sending from it is dropped, so a misbehaving VM cannot steal a neighbour's traffic.
//
// DNS: `NAME.internal` (case-insensitive) is answered with the lease of the port that joined as
// NAME or sent DHCP host name NAME; other `.internal` names are NXDOMAIN; names outside
// `.internal` get REFUSED (the switch has no upstream; a resolver then asks its next server).
//
// Guest bytes never throw: malformed frames are dropped and counted in `stats.dropped`.
import { ETH_FRAME_MAX_VLAN, ETH_HEADER_LEN } from "./backend.js";
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HEADER_LEN,
  IPPROTO_ICMP, IPPROTO_UDP, buildArp, buildEth, buildIpv4, buildUdp, checksum, ip4String, parseArp, parseEth, parseIpv4,
  parseUdp, writeU16, type Ip4,
} from "./packet.js";
import { DHCPACK, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer, parseDhcp } from "./dhcp.js";
import {
  DNS_CLASS_IN, DNS_PORT, DNS_RCODE_NOERROR, DNS_RCODE_NOTIMP, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, DNS_TYPE_AAAA,
  buildDnsResponse, parseDnsQuery,
} from "./dns.js";

/** 802.1D's recommended ageing time: 300 s. */
export const MAC_AGEING_MS = 300_000;
/** Learned MACs at most (a flood of made-up sources cannot grow the table without bound). */
export const MAC_TABLE_MAX = 4096;
/** Ports at most on one switch. */
export const SWITCH_PORTS_MAX = 64;
/** The DNS suffix of names on a switch. */
export const SWITCH_DOMAIN = "internal";
/** RFC 1035 4.1.1 RCODE 5: the server refuses (here: a name outside `.internal`). */
export const DNS_RCODE_REFUSED = 5;
/** The switch host's MAC (locally administered, 52:55 as slirp's virtual hosts, then 0a:00:X:01). */
export const SWITCH_HOST_MAC_PREFIX = [0x52, 0x55, 0x0a, 0x00] as const;
export const SWITCH_HOST_SUFFIX = 1;
export const SWITCH_DHCP_START_SUFFIX = 15;
/** Leases .15 to .214. */
export const SWITCH_DHCP_POOL = 200;
export const SWITCH_PREFIX = 24;
/** A port's name: as a VM name (src/hypervisor/config.ts NAME_PATTERN), or empty for none. */
export const PORT_NAME_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,62})?$/;
const FNV_OFFSET = 0x811c9dc5, FNV_PRIME = 0x01000193;
const SUBNET_THIRD_OCTET_FIRST = 3, SUBNET_THIRD_OCTET_COUNT = 251;
const MAC_LEN = 6;

/** The switch's network: 10.0.X.0 (a /24). */
export function switchSubnet(name: string): Ip4 {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, FNV_PRIME) >>> 0;
  return ((10 << 24) | ((SUBNET_THIRD_OCTET_FIRST + (h % SUBNET_THIRD_OCTET_COUNT)) << 8)) >>> 0;
}

/** A switch name: a VM name's characters (it names a socket file in the state directory). */
export const SWITCH_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** "52:54:00:12:34:56" → 48-bit number; null when malformed, multicast or zero. */
export function macNumber(s: string): number | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  if (m === null) return null;
  const b = m.slice(1).map((x) => parseInt(x, 16));
  if ((b[0] & 1) !== 0) return null;
  const n = b.reduce((a, x) => a * 256 + x, 0);
  return n === 0 ? null : n;
}

function macOf(b: Uint8Array, off: number): number {
  let n = 0;
  for (let i = 0; i < MAC_LEN; i++) n = n * 256 + b[off + i];
  return n;
}

export type SwitchDropReason =
  | "short" | "too-long" | "source-multicast" | "source-zero" | "spoofed" | "same-port" | "no-port" | "arp-malformed"
  | "ip-malformed" | "udp-malformed" | "dhcp-malformed" | "dns-malformed" | "icmp-malformed" | "host-unsupported";

export interface SwitchStats { frames: number; forwarded: number; flooded: number; toHost: number; dropped: Partial<Record<SwitchDropReason, number>> }

interface Port {
  id: number; name: string; mac: number;
  send: (frame: Uint8Array) => void;
  /** The DHCP host name it gave and the address it was given (for DNS). */
  hostName: string | null; ip: Ip4 | null;
}

export class SwitchJoinError extends Error {}

export class VirtualSwitch {
  readonly subnet: Ip4;
  readonly hostIp: Ip4;
  readonly hostMac: Uint8Array;
  readonly dhcp: DhcpServer;
  readonly stats: SwitchStats = { frames: 0, forwarded: 0, flooded: 0, toHost: 0, dropped: {} };
  private readonly hostMacN: number;
  private readonly ports = new Map<number, Port>();
  /** MAC → port id and when it was last seen. */
  private readonly table = new Map<number, { port: number; at: number }>();
  private nextId = 1;
  private ipId = 0;

  constructor(readonly name: string, private readonly now: () => number) {
    this.subnet = switchSubnet(name);
    this.hostIp = (this.subnet | SWITCH_HOST_SUFFIX) >>> 0;
    this.hostMac = Uint8Array.of(...SWITCH_HOST_MAC_PREFIX, (this.subnet >>> 8) & 0xff, SWITCH_HOST_SUFFIX);
    this.hostMacN = macOf(this.hostMac, 0);
    this.dhcp = new DhcpServer({
      server: this.hostIp, router: null, dns: this.hostIp, netmask: (0xffffffff << (32 - SWITCH_PREFIX)) >>> 0,
      start: (this.subnet | SWITCH_DHCP_START_SUFFIX) >>> 0, poolSize: SWITCH_DHCP_POOL, domain: SWITCH_DOMAIN,
    });
  }

  get portCount(): number { return this.ports.size; }
  get subnetString(): string { return `${ip4String(this.subnet)}/${SWITCH_PREFIX}`; }

  /** Adds a port; throws SwitchJoinError for a bad name or MAC, a name or MAC already on the switch, or a full switch. */
  join(name: string, mac: string, send: (frame: Uint8Array) => void): number {
    if (!PORT_NAME_PATTERN.test(name)) throw new SwitchJoinError(`invalid port name '${name}'`);
    const m = macNumber(mac);
    if (m === null || m === this.hostMacN) throw new SwitchJoinError(`invalid MAC '${mac}' (a unicast address such as 52:54:00:12:34:56)`);
    if (this.ports.size >= SWITCH_PORTS_MAX) throw new SwitchJoinError(`switch '${this.name}' is full (${SWITCH_PORTS_MAX} ports)`);
    for (const p of this.ports.values()) {
      if (name !== "" && p.name.toLowerCase() === name.toLowerCase()) throw new SwitchJoinError(`a VM named '${name}' is already on switch '${this.name}'`);
      if (p.mac === m) throw new SwitchJoinError(`MAC ${mac} is already on switch '${this.name}' (VM '${p.name}')`);
    }
    const id = this.nextId++;
    this.ports.set(id, { id, name, mac: m, send, hostName: null, ip: null });
    this.table.set(m, { port: id, at: this.now() });
    return id;
  }

  leave(id: number): void {
    if (!this.ports.delete(id)) return;
    for (const [mac, e] of this.table) if (e.port === id) this.table.delete(mac);
  }

  private drop(r: SwitchDropReason): void { this.stats.dropped[r] = (this.stats.dropped[r] ?? 0) + 1; }

  /** A frame from port `id`. */
  input(id: number, frame: Uint8Array): void {
    this.stats.frames++;
    const from = this.ports.get(id);
    if (from === undefined) { this.drop("no-port"); return; }
    if (frame.length < ETH_HEADER_LEN) { this.drop("short"); return; }
    if (frame.length > ETH_FRAME_MAX_VLAN) { this.drop("too-long"); return; }
    if ((frame[MAC_LEN] & 1) !== 0) { this.drop("source-multicast"); return; }
    const src = macOf(frame, MAC_LEN);
    if (src === 0) { this.drop("source-zero"); return; }
    if (src === this.hostMacN) { this.drop("spoofed"); return; }
    const now = this.now();
    const had = this.table.get(src);
    if (had !== undefined && had.port !== id) {
      // A MAC pinned by another port's handshake stays there.
      const owner = this.ports.get(had.port);
      if (owner !== undefined && owner.mac === src) { this.drop("spoofed"); return; }
    }
    if (had === undefined && this.table.size >= MAC_TABLE_MAX) this.age(now, true);
    if (had !== undefined || this.table.size < MAC_TABLE_MAX) this.table.set(src, { port: id, at: now });
    const group = (frame[0] & 1) !== 0;
    const dst = macOf(frame, 0);
    if (!group && dst === this.hostMacN) { this.stats.toHost++; this.hostInput(from, frame); return; }
    if (!group) {
      const e = this.table.get(dst);
      if (e !== undefined && now - e.at <= MAC_AGEING_MS) {
        if (e.port === id) { this.drop("same-port"); return; }
        const to = this.ports.get(e.port);
        if (to !== undefined) { this.stats.forwarded++; to.send(frame); return; }
      }
    }
    this.stats.flooded++;
    for (const p of this.ports.values()) if (p.id !== id) p.send(frame);
    if (group) this.hostInput(from, frame);
  }

  /** Forgets entries older than the ageing time (with `full`, the oldest one too when none is). */
  private age(now: number, full: boolean): void {
    let oldest: number | null = null, oldestAt = Infinity;
    for (const [mac, e] of this.table) {
      const pinned = this.ports.get(e.port)?.mac === mac;
      if (pinned) continue;
      if (now - e.at > MAC_AGEING_MS) this.table.delete(mac);
      else if (e.at < oldestAt) { oldest = mac; oldestAt = e.at; }
    }
    if (full && this.table.size >= MAC_TABLE_MAX && oldest !== null) this.table.delete(oldest);
  }

  /** Learned MACs (for tests and `stats`). */
  get learned(): number { return this.table.size; }

  // ---- the switch's own host: ARP, ICMP echo, DHCP, DNS ----

  private hostSend(dstMac: Uint8Array, type: number, payload: Uint8Array): void {
    const frame = buildEth(dstMac, this.hostMac, type, payload);
    const e = this.table.get(macOf(dstMac, 0));
    const to = e === undefined ? undefined : this.ports.get(e.port);
    if (to !== undefined) to.send(frame);
  }

  private hostIp4(dstMac: Uint8Array, dst: Ip4, proto: number, payload: Uint8Array): void {
    this.ipId = (this.ipId + 1) & 0xffff;
    this.hostSend(dstMac, ETHERTYPE_IPV4, buildIpv4(this.hostIp, dst, proto, this.ipId, payload));
  }

  private hostInput(from: Port, frame: Uint8Array): void {
    const eth = parseEth(frame);
    if (eth === null) return;
    const srcMac = eth.src.slice();
    if (eth.type === ETHERTYPE_ARP) {
      const a = parseArp(eth.payload);
      if (a === null) { this.drop("arp-malformed"); return; }
      if (a.op !== ARP_OP_REQUEST || a.tpa !== this.hostIp) return;
      this.hostSend(srcMac, ETHERTYPE_ARP, buildArp({ op: ARP_OP_REPLY, sha: this.hostMac, spa: this.hostIp, tha: a.sha, tpa: a.spa }));
      return;
    }
    if (eth.type !== ETHERTYPE_IPV4) return;
    const ip = parseIpv4(eth.payload);
    if (typeof ip === "string") { this.drop("ip-malformed"); return; }
    const broadcast = ip.dst === 0xffffffff || ip.dst === ((this.subnet | 0xff) >>> 0);
    if (ip.dst !== this.hostIp && !broadcast) return; // another VM's traffic, flooded past us
    if (ip.proto === IPPROTO_ICMP && ip.dst === this.hostIp) { this.echo(srcMac, ip.src, ip.payload); return; }
    if (ip.proto !== IPPROTO_UDP) { if (ip.dst === this.hostIp) this.drop("host-unsupported"); return; }
    const u = parseUdp(ip.payload, ip.src, ip.dst);
    if (typeof u === "string") { this.drop("udp-malformed"); return; }
    if (u.dstPort === DHCP_SERVER_PORT) { this.dhcpInput(from, u.data); return; }
    if (u.dstPort === DNS_PORT && ip.dst === this.hostIp) { this.dnsInput(srcMac, ip.src, u.srcPort, u.data); return; }
    if (ip.dst === this.hostIp) this.drop("host-unsupported");
  }

  private echo(mac: Uint8Array, src: Ip4, p: Uint8Array): void {
    if (p.length < ICMP_HEADER_LEN || checksum(p, 0, p.length) !== 0) { this.drop("icmp-malformed"); return; }
    if (p[0] !== ICMP_ECHO_REQUEST) { this.drop("host-unsupported"); return; }
    const r = p.slice();
    r[0] = ICMP_ECHO_REPLY; r[1] = 0;
    writeU16(r, 2, 0);
    writeU16(r, 2, checksum(r, 0, r.length));
    this.hostIp4(mac, src, IPPROTO_ICMP, r);
  }

  private dhcpInput(from: Port, data: Uint8Array): void {
    const m = parseDhcp(data);
    if (m === null) { this.drop("dhcp-malformed"); return; }
    const r = this.dhcp.handle(m);
    if (r === null) return;
    if (r.type === DHCPACK && r.yiaddr !== 0) {
      // The address is the port's for DNS; its host name too, unless another port goes by it.
      const hn = m.hostName !== null && PORT_NAME_PATTERN.test(m.hostName) ? m.hostName.toLowerCase() : null;
      const clash = hn !== null && [...this.ports.values()].some((p) => p !== from && (p.name.toLowerCase() === hn || p.hostName === hn));
      from.ip = r.yiaddr;
      from.hostName = clash ? null : hn;
    }
    // RFC 2131 4.1: the client has no address yet; an IP broadcast to its MAC reaches it.
    const udp = buildUdp(this.hostIp, 0xffffffff, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, r.payload);
    this.ipId = (this.ipId + 1) & 0xffff;
    this.hostSend(m.chaddr, ETHERTYPE_IPV4, buildIpv4(this.hostIp, 0xffffffff, IPPROTO_UDP, this.ipId, udp));
  }

  /** The address `NAME.internal` resolves to, if a port has that name (or DHCP host name) and a lease. */
  resolve(fqdn: string): Ip4 | null | undefined {
    const n = fqdn.toLowerCase().replace(/\.$/, "");
    const suffix = `.${SWITCH_DOMAIN}`;
    if (!n.endsWith(suffix)) return undefined;
    const label = n.slice(0, -suffix.length);
    for (const p of this.ports.values()) if (p.name !== "" && p.name.toLowerCase() === label) return p.ip;
    for (const p of this.ports.values()) if (p.hostName === label) return p.ip;
    return null;
  }

  private dnsInput(mac: Uint8Array, src: Ip4, srcPort: number, data: Uint8Array): void {
    const q = parseDnsQuery(data);
    if (q === null) { this.drop("dns-malformed"); return; }
    const answer = (rcode: number, addrs: Uint8Array[] = []): void => {
      this.hostIp4(mac, src, IPPROTO_UDP, buildUdp(this.hostIp, src, DNS_PORT, srcPort, buildDnsResponse(q, rcode, addrs)));
    };
    const ip = this.resolve(q.name);
    if (ip === undefined) { answer(DNS_RCODE_REFUSED); return; }
    if (q.qclass !== DNS_CLASS_IN || (q.qtype !== DNS_TYPE_A && q.qtype !== DNS_TYPE_AAAA)) { answer(ip === null ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOTIMP); return; }
    if (ip === null) { answer(DNS_RCODE_NXDOMAIN); return; }
    // The name exists; it has an A record and no AAAA record (an empty NOERROR answer).
    answer(DNS_RCODE_NOERROR, q.qtype === DNS_TYPE_A ? [Uint8Array.of(ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff)] : []);
  }
}

// The DHCP server of the user-mode network (RFC 2131, options RFC 2132), handing out what QEMU's
// slirp hands out: addresses from dhcpstart (10.0.2.15) upward, one per client MAC, with the
// subnet mask, router (the gateway), DNS server and lease time.
import { type Ip4, readU16, readU32, writeU16, writeU32 } from "./packet.js";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** op htype hlen hops xid secs flags ciaddr yiaddr siaddr giaddr chaddr[16] sname[64] file[128] */
export const BOOTP_FIXED_LEN = 236;
const OPTIONS_OFFSET = BOOTP_FIXED_LEN + 4;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS_SERVER = 6;
export const OPT_HOST_NAME = 12;
export const OPT_DOMAIN_NAME = 15;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_END = 255;

/** slirp's NB_BOOTP_CLIENTS: addresses dhcpstart .. dhcpstart+15. */
export const DHCP_POOL_SIZE = 16;
/** slirp's LEASE_TIME: 24 hours. */
export const DHCP_LEASE_SECONDS = 24 * 3600;

export interface DhcpMessage {
  op: number; xid: number; flags: number; ciaddr: Ip4; chaddr: Uint8Array;
  type: number; requestedIp: Ip4 | null; serverId: Ip4 | null;
  /** Option 12, the client's host name (RFC 2132 3.14), when it sent one. */
  hostName: string | null;
}

export function parseDhcp(p: Uint8Array): DhcpMessage | null {
  if (p.length < OPTIONS_OFFSET || readU32(p, BOOTP_FIXED_LEN) !== DHCP_MAGIC_COOKIE) return null;
  if (p[1] !== 1 || p[2] !== 6) return null; // htype Ethernet, hlen 6
  let type = 0, requestedIp: Ip4 | null = null, serverId: Ip4 | null = null, hostName: string | null = null;
  for (let i = OPTIONS_OFFSET; i < p.length;) {
    const code = p[i];
    if (code === OPT_END) break;
    if (code === OPT_PAD) { i++; continue; }
    if (i + 1 >= p.length) return null;
    const len = p[i + 1], v = i + 2;
    if (v + len > p.length) return null;
    if (code === OPT_MESSAGE_TYPE && len === 1) type = p[v];
    else if (code === OPT_REQUESTED_IP && len === 4) requestedIp = readU32(p, v);
    else if (code === OPT_SERVER_ID && len === 4) serverId = readU32(p, v);
    else if (code === OPT_HOST_NAME && len > 0) hostName = String.fromCharCode(...p.subarray(v, v + len));
    i = v + len;
  }
  if (type === 0) return null; // plain BOOTP: not served
  return { op: p[0], xid: readU32(p, 4), flags: readU16(p, 10), ciaddr: readU32(p, 12), chaddr: p.slice(28, 34), type, requestedIp, serverId, hostName };
}

export interface DhcpConfig {
  server: Ip4;
  /** null: no router option (a network without a way out, as a VM switch). */
  router: Ip4 | null;
  dns: Ip4; netmask: Ip4; start: Ip4;
  /** Addresses from `start` on (default DHCP_POOL_SIZE, slirp's). */
  poolSize?: number;
  /** Option 15, the domain name clients put in their resolver's search list. */
  domain?: string;
}

export interface DhcpReply { type: number; yiaddr: Ip4; payload: Uint8Array }

export interface DhcpServerState { leases: { mac: string; ip: Ip4 }[] }

export class DhcpServer {
  /** MAC (hex) → address. */
  private leases = new Map<string, Ip4>();
  constructor(readonly config: DhcpConfig) {}

  private static key(mac: Uint8Array): string { return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":"); }

  /** The address a client has or would get; null when the pool is full. */
  private addressFor(mac: Uint8Array): Ip4 | null {
    const k = DhcpServer.key(mac);
    const had = this.leases.get(k);
    if (had !== undefined) return had;
    const taken = new Set(this.leases.values());
    for (let i = 0; i < (this.config.poolSize ?? DHCP_POOL_SIZE); i++) {
      const a = (this.config.start + i) >>> 0;
      if (!taken.has(a)) { this.leases.set(k, a); return a; }
    }
    return null;
  }

  /** The address leased to `mac`, if any. */
  leaseOf(mac: Uint8Array): Ip4 | undefined { return this.leases.get(DhcpServer.key(mac)); }

  /** Answers one client message (null: no answer, as for RELEASE, DECLINE or a foreign server id). */
  handle(m: DhcpMessage): DhcpReply | null {
    if (m.op !== BOOTREQUEST) return null;
    switch (m.type) {
      case DHCPDISCOVER: {
        const a = this.addressFor(m.chaddr);
        return a === null ? null : this.reply(m, DHCPOFFER, a);
      }
      case DHCPREQUEST: {
        // RFC 2131 4.3.2: a REQUEST naming another server is that server's business.
        if (m.serverId !== null && m.serverId !== this.config.server) return null;
        const want = m.requestedIp ?? m.ciaddr;
        const a = this.addressFor(m.chaddr);
        if (a === null || want !== a) return this.reply(m, DHCPNAK, 0);
        return this.reply(m, DHCPACK, a);
      }
      case DHCPINFORM: return this.reply(m, DHCPACK, 0);
      case DHCPRELEASE:
        if (this.leases.get(DhcpServer.key(m.chaddr)) === m.ciaddr) this.leases.delete(DhcpServer.key(m.chaddr));
        return null;
      default: return null;
    }
  }

  private reply(m: DhcpMessage, type: number, yiaddr: Ip4): DhcpReply {
    const c = this.config;
    const opts: number[] = [OPT_MESSAGE_TYPE, 1, type, OPT_SERVER_ID, 4, ...be32(c.server)];
    if (type !== DHCPNAK) {
      if (type !== DHCPACK || yiaddr !== 0) opts.push(OPT_LEASE_TIME, 4, ...be32(DHCP_LEASE_SECONDS));
      opts.push(OPT_SUBNET_MASK, 4, ...be32(c.netmask));
      if (c.router !== null) opts.push(OPT_ROUTER, 4, ...be32(c.router));
      opts.push(OPT_DNS_SERVER, 4, ...be32(c.dns));
      if (c.domain !== undefined) opts.push(OPT_DOMAIN_NAME, c.domain.length, ...Array.from(c.domain, (ch) => ch.charCodeAt(0)));
    }
    opts.push(OPT_END);
    const p = new Uint8Array(OPTIONS_OFFSET + opts.length);
    p[0] = BOOTREPLY; p[1] = 1; p[2] = 6;
    writeU32(p, 4, m.xid); writeU16(p, 10, m.flags);
    if (type === DHCPINFORM || (type === DHCPACK && yiaddr === 0)) writeU32(p, 12, m.ciaddr);
    writeU32(p, 16, yiaddr);
    if (type !== DHCPNAK) writeU32(p, 20, c.server); // siaddr
    p.set(m.chaddr, 28);
    writeU32(p, BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
    p.set(opts, OPTIONS_OFFSET);
    return { type, yiaddr, payload: p };
  }

  saveState(): DhcpServerState { return { leases: [...this.leases].map(([mac, ip]) => ({ mac, ip })) }; }
  loadState(s: DhcpServerState): void { this.leases = new Map(s.leases.map((l) => [l.mac, l.ip >>> 0])); }
}

function be32(v: number): number[] { return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]; }

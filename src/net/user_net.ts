// User-mode networking in the style of QEMU's slirp: the guest's NIC talks to this NetBackend,
// which plays the gateway of a private network and carries the guest's traffic over ordinary
// host sockets, so no root, TAP device or host configuration is needed. QEMU's defaults:
//
//   network 10.0.2.0/24   gateway/host 10.0.2.2 (the host's 127.0.0.1)   DNS 10.0.2.3
//   DHCP from 10.0.2.15
//
// What it does with the guest's frames:
//  - Ethernet: frames for the gateway's MAC or broadcast are taken; the guest's MAC is learned
//    from what it sends. IPv6 and other EtherTypes are dropped (counted).
//  - ARP: requests for the gateway and DNS addresses are answered (slirp answers for those two).
//  - IPv4: header checksum, version, lengths checked; bad datagrams dropped and counted.
//    Fragments are dropped (counted): the NIC's MTU is 1500 and TCP never fragments (TSO
//    segments come whole, with their own IPv4 total length), so a guest fragments only UDP
//    datagrams above 1472 bytes, which QEMU's slirp reassembles and we do not yet (a later
//    step; see stats.dropped.fragment).
//  - Offloads (NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4): the guest's TCP/UDP checksums may be partial
//    (not checked: the stack ends every connection itself) and its TCP segments up to 64 KiB
//    (taken whole); toward a guest that takes them, TCP segments leave the checksum partial and
//    carry up to 64 KiB with the MSS as GSO size (virtio-net: NEEDS_CSUM, GUEST_TSO4).
//  - ICMP echo to the gateway or DNS address is answered here; other ICMP is dropped.
//  - UDP: DHCP (port 67) is served by DhcpServer; DNS to 10.0.2.3:53 is answered through the
//    host's resolver; anything else leaves through a host datagram socket, one per guest
//    (address, port), to the destination — 10.0.2.2 meaning the host's 127.0.0.1.
//  - TCP: terminated by TcpStack (src/net/tcp.ts) and carried over host stream sockets, to the
//    destination or, for 10.0.2.2, the host's 127.0.0.1. Host forwards (hostfwd) listen on the
//    host and open connections toward the guest from 10.0.2.2 (TCP) or relay datagrams (UDP).
//  - guestfwd: a guest connection to a named address:port of the network (10.0.2.100:80) is
//    carried to a given host address:port; the stack answers ARP for those addresses.
//  - restrict=on: the guest reaches DHCP, DNS, ICMP echo to the gateway and the forwards only;
//    every other TCP connection is refused with RST and every other datagram dropped, so the
//    guest can never make the host connect anywhere.
import type { NetBackend, NetFrontend } from "./backend.js";
import { ETH_FRAME_MAX, ETH_HEADER_LEN, NET_FRAME_CSUM_PARTIAL, NET_FRAME_CSUM_VALID, NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4 } from "./backend.js";
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_MIN, UDP_HEADER_LEN, type Ip4, buildArp, buildEth,
  buildIpv4, buildUdp, checksum, ip4, ip4String, parseArp, parseEth, parseIpv4, parseUdp, writeEthHeader, writeIpv4Header, writeU16,
} from "./packet.js";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer, parseDhcp } from "./dhcp.js";
import {
  DNS_CLASS_IN, DNS_PORT, DNS_RCODE_NOERROR, DNS_RCODE_NOTIMP, DNS_RCODE_NXDOMAIN, DNS_RCODE_SERVFAIL, DNS_TYPE_A,
  DNS_TYPE_AAAA, addressBytes, buildDnsResponse, isPlausibleName, parseDnsQuery,
} from "./dns.js";
import type { HostListener, HostTcpIncoming, HostUdpSocket, NetHost } from "./host.js";
import { EPHEMERAL_FIRST, EPHEMERAL_LAST, TcpStack, type TcpDropReason } from "./tcp.js";

/** slirp's special_ethaddr: the MAC every virtual host of the network answers with. */
export const GATEWAY_MAC = Uint8Array.of(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02);
export const HOST_LOOPBACK = "127.0.0.1";
/** Frames waiting for guest receive buffers; beyond this new frames are dropped (counted). */
export const MAX_QUEUED_FRAMES = 1024;
/** Host UDP sockets at most (the oldest idle one is closed to make room). */
export const MAX_UDP_SESSIONS = 256;
/** A UDP session with no traffic for this long is closed (slirp: SO_EXPIRE, 4 minutes; DNS 10 s). */
export const UDP_IDLE_MS = 60_000;
/** DNS queries being resolved at once; more are dropped (the guest resolver retries). */
export const MAX_PENDING_DNS = 64;
/**
 * Address records in one answer at most: with the longest name (255) the reply stays within
 * RFC 1035's 512-byte UDP message, so no truncation (TC) handling is needed.
 */
export const DNS_MAX_ANSWERS = 8;
/** Largest UDP payload sent to the guest without fragmenting at MTU 1500. */
const UDP_MAX_PAYLOAD = ETH_FRAME_MAX - ETH_HEADER_LEN - IPV4_HEADER_MIN - UDP_HEADER_LEN;
/**
 * Frames queued toward the guest beyond which TCP holds its data segments back (it sends again
 * once the guest takes frames), leaving the rest of the queue to ACKs, UDP and the others.
 */
export const TCP_QUEUE_FRAMES = MAX_QUEUED_FRAMES / 2;

/** QEMU's hostfwd=tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport. */
export interface HostForward {
  proto: "tcp" | "udp";
  /** The host address to listen on (QEMU listens on every address; we on loopback unless told). */
  hostAddr: string; hostPort: number;
  /** null: the first DHCP address (dhcpStart). */
  guestAddr: Ip4 | null; guestPort: number;
}

/**
 * QEMU's guestfwd=[tcp]:server:port-dev with dev a `tcp:hostaddr:hostport` connection: each guest
 * connection to server:port gets its own host connection (as QEMU's `cmd:nc hostaddr hostport`).
 */
export interface GuestForward { addr: Ip4; port: number; hostAddr: string; hostPort: number }

export interface UserNetConfig {
  /** Network address and prefix length: 10.0.2.0/24. */
  net: Ip4; prefix: number;
  host: Ip4; dns: Ip4; dhcpStart: Ip4;
  /** restrict=on: no connections to the host or beyond, except the forwards and built-in services. */
  restrict: boolean;
  hostfwd: readonly HostForward[];
  guestfwd: readonly GuestForward[];
}

export const USER_NET_DEFAULTS: UserNetConfig = {
  net: ip4("10.0.2.0"), prefix: 24, host: ip4("10.0.2.2"), dns: ip4("10.0.2.3"), dhcpStart: ip4("10.0.2.15"), restrict: false, hostfwd: [], guestfwd: [],
};

/** A forward could not listen on the host (the port taken, no permission, no such address). */
export class HostForwardError extends Error {}

/** Why frames were dropped, by reason. */
export type DropReason =
  | "eth-short" | "not-for-us" | "ethertype" | "arp-malformed" | "ip-short" | "ip-version" | "ip-header-length"
  | "ip-total-length" | "ip-checksum" | "fragment" | "ip-source" | "ip-destination" | "icmp-malformed" | "icmp-checksum"
  | "icmp-unsupported" | "udp-short" | "udp-length" | "udp-checksum" | "udp-destination" | "udp-too-big" | "dhcp-malformed"
  | "dns-malformed" | "dns-busy" | "rx-queue-full" | "no-guest-mac" | "restricted" | TcpDropReason;

export interface UserNetStats { fromGuest: number; toGuest: number; dropped: Partial<Record<DropReason, number>> }

interface UdpSession { sock: HostUdpSocket; guestIp: Ip4; guestPort: number; lastUsed: number }

/** A host client of a UDP forward: its datagrams reach the guest from host:mappedPort. */
interface UdpForwardSession { sock: HostUdpSocket; clientAddr: string; clientPort: number; guestIp: Ip4; guestPort: number; mappedPort: number; lastUsed: number }

export function formatForward(f: HostForward): string {
  return `hostfwd=${f.proto}:${f.hostAddr}:${f.hostPort}-${f.guestAddr === null ? "" : ip4String(f.guestAddr)}:${f.guestPort}`;
}

export class UserNet implements NetBackend {
  /**
   * The guest's frames may leave TCP/UDP checksums partial and be TSO segments: the stack ends
   * every connection itself, so it never needs the sum, and takes a long segment whole.
   */
  readonly offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4;
  readonly config: UserNetConfig;
  readonly dhcp: DhcpServer;
  readonly stats: UserNetStats = { fromGuest: 0, toGuest: 0, dropped: {} };
  private frontend: NetFrontend | null = null;
  private guestMac: Uint8Array | null = null;
  private readonly queue: Uint8Array[] = [];
  /** Beside each queued frame: its NET_FRAME_* flags and its GSO size (0: one frame). */
  private readonly queueFlags: number[] = [];
  private readonly queueGso: number[] = [];
  private ipId = 0;
  private readonly udp = new Map<string, UdpSession>();
  private pendingDns = 0;
  private closed = false;
  private readonly netmask: Ip4;
  readonly tcp: TcpStack;
  private readonly listeners: HostListener[] = [];
  private readonly forwardSockets: HostUdpSocket[] = [];
  /** UDP forward sessions by `${guestIp}:${guestPort}:${mappedPort}` (the guest's replies find them). */
  private readonly udpFwd = new Map<string, UdpForwardSession>();
  /** The same sessions by `${forward}:${clientAddr}:${clientPort}`. */
  private readonly udpFwdByClient = new Map<string, UdpForwardSession>();
  private nextUdpFwdPort = EPHEMERAL_FIRST;

  /**
   * `onAsyncFrame` is called when a frame for the guest was queued from a host event (socket
   * data, a resolver answer): the run loop wakes up so the guest sees it without delay.
   */
  constructor(private readonly host: NetHost, opts: { config?: Partial<UserNetConfig>; onAsyncFrame?: () => void } = {}) {
    this.config = { ...USER_NET_DEFAULTS, ...opts.config };
    this.netmask = this.config.prefix === 0 ? 0 : (0xffffffff << (32 - this.config.prefix)) >>> 0;
    this.dhcp = new DhcpServer({ server: this.config.host, router: this.config.host, dns: this.config.dns, netmask: this.netmask, start: this.config.dhcpStart });
    this.onAsyncFrame = opts.onAsyncFrame ?? ((): void => undefined);
    this.tcp = new TcpStack({
      host,
      send: (src, dst, frame, partial, gsoSize) => this.sendTcpFrame(src, dst, frame, partial, gsoSize),
      offloads: () => this.frontend?.offloads ?? 0,
      room: () => this.queue.length < TCP_QUEUE_FRAMES,
      wake: () => this.onAsyncFrame(),
      drop: (r) => this.drop(r),
      route: (dst, port) => this.tcpRoute(dst, port),
    });
  }
  private readonly onAsyncFrame: () => void;

  attach(frontend: NetFrontend): void { this.frontend = frontend; }

  rxReady(): void {
    this.flush();
    if (this.queue.length < TCP_QUEUE_FRAMES) this.tcp.pump();
  }

  /**
   * Starts listening for the forwards of the configuration; rejects with HostForwardError (and
   * listens on none) when one cannot.
   */
  async startForwards(): Promise<void> {
    for (const [i, f] of this.config.hostfwd.entries()) {
      const bound: { sock: HostUdpSocket | null } = { sock: null };
      const r = f.proto === "tcp"
        ? await this.host.tcpListen(f.hostAddr, f.hostPort, (c) => this.tcpForwardIn(f, c))
        : await this.host.udpBind(f.hostAddr, f.hostPort, (data, address, port) => {
          if (bound.sock !== null) this.udpForwardIn(i, f, bound.sock, data, address, port);
        });
      if (typeof r === "string") {
        this.closeForwards();
        const why = r === "EADDRINUSE" ? `host port ${f.hostPort} on ${f.hostAddr} is already in use`
          : r === "EACCES" ? `no permission to listen on ${f.hostAddr}:${f.hostPort}`
          : r === "EADDRNOTAVAIL" ? `${f.hostAddr} is not an address of this host` : `cannot listen on ${f.hostAddr}:${f.hostPort}`;
        throw new HostForwardError(`${formatForward(f)}: ${why} (${r})`);
      }
      if (f.proto === "tcp") this.listeners.push(r as HostListener);
      else { bound.sock = r as HostUdpSocket; this.forwardSockets.push(bound.sock); }
    }
  }

  private closeForwards(): void {
    for (const l of this.listeners) l.close();
    this.listeners.length = 0;
    for (const s of this.forwardSockets) s.close();
    this.forwardSockets.length = 0;
    this.udpFwd.clear();
    this.udpFwdByClient.clear();
  }

  /** Closes every host socket and listener; later guest traffic is dropped. */
  close(): void {
    this.closed = true;
    for (const s of this.udp.values()) s.sock.close();
    this.udp.clear();
    this.closeForwards();
    this.tcp.close();
  }

  /** Frames waiting for guest receive buffers. */
  get queuedFrames(): number { return this.queue.length; }

  /** Host UDP sockets open for the guest. */
  get udpSessions(): number { return this.udp.size; }

  private drop(r: DropReason): void { this.stats.dropped[r] = (this.stats.dropped[r] ?? 0) + 1; }

  private inNet(a: Ip4): boolean { return ((a & this.netmask) >>> 0) === this.config.net; }
  private isBroadcast(a: Ip4): boolean { return a === 0xffffffff || a === ((this.config.net | ~this.netmask) >>> 0); }

  // ---- toward the guest ----

  private flush(): void {
    const fe = this.frontend;
    if (fe === null) return;
    while (this.queue.length > 0 && fe.canReceive(this.queue[0].length)) {
      fe.deliver(this.queue.shift()!, this.queueFlags.shift(), this.queueGso.shift());
      this.stats.toGuest++;
    }
  }

  /** Every frame the stack builds has its checksums filled in (VALID) or, for TCP toward an offloading guest, left partial. */
  private enqueue(frame: Uint8Array, flags = NET_FRAME_CSUM_VALID, gsoSize = 0): void {
    if (this.queue.length >= MAX_QUEUED_FRAMES) { this.drop("rx-queue-full"); return; }
    this.queue.push(frame);
    this.queueFlags.push(flags);
    this.queueGso.push(gsoSize);
    this.flush();
  }

  /**
   * The guest's MAC: learned from its frames, or else the NIC's own (a guest restored from a
   * snapshot may not have sent anything to this new stack yet, and a forward must still reach it).
   */
  private get toGuestMac(): Uint8Array | null {
    if (this.guestMac === null && this.frontend?.mac !== undefined) this.guestMac = this.frontend.mac.slice();
    return this.guestMac;
  }

  private sendIp(src: Ip4, dst: Ip4, proto: number, payload: Uint8Array, dstMac: Uint8Array | null = this.toGuestMac): void {
    if (dstMac === null) { this.drop("no-guest-mac"); return; }
    this.ipId = (this.ipId + 1) & 0xffff;
    this.enqueue(buildEth(dstMac, GATEWAY_MAC, ETHERTYPE_IPV4, buildIpv4(src, dst, proto, this.ipId, payload)));
  }

  /** A TCP segment built in place by the stack, after FRAME_HEADROOM bytes for the Ethernet and IPv4 headers written here. */
  private sendTcpFrame(src: Ip4, dst: Ip4, frame: Uint8Array, partial: boolean, gsoSize: number): void {
    const mac = this.toGuestMac;
    if (mac === null) { this.drop("no-guest-mac"); return; }
    this.ipId = (this.ipId + 1) & 0xffff;
    writeEthHeader(frame, mac, GATEWAY_MAC, ETHERTYPE_IPV4);
    writeIpv4Header(frame, ETH_HEADER_LEN, src, dst, IPPROTO_TCP, this.ipId, frame.length - ETH_HEADER_LEN - IPV4_HEADER_MIN);
    // A TSO segment stands for gsoSize-byte segments, each of which would take an IPv4 id (as Linux counts them).
    if (gsoSize > 0) this.ipId = (this.ipId + Math.ceil((frame.length - ETH_HEADER_LEN - IPV4_HEADER_MIN) / gsoSize) - 1) & 0xffff;
    this.enqueue(frame, partial ? NET_FRAME_CSUM_PARTIAL : NET_FRAME_CSUM_VALID, gsoSize);
  }

  private sendUdp(src: Ip4, srcPort: number, dst: Ip4, dstPort: number, data: Uint8Array, dstMac?: Uint8Array): void {
    if (data.length > UDP_MAX_PAYLOAD) { this.drop("udp-too-big"); return; }
    this.sendIp(src, dst, IPPROTO_UDP, buildUdp(src, dst, srcPort, dstPort, data), dstMac);
  }

  // ---- from the guest ----

  transmit(frame: Uint8Array, flags = 0): void {
    this.stats.fromGuest++;
    if (this.closed) return;
    const eth = parseEth(frame);
    if (eth === null) { this.drop("eth-short"); return; }
    const broadcast = eth.dst.every((b) => b === 0xff);
    if (!broadcast && !eth.dst.every((b, i) => b === GATEWAY_MAC[i])) { this.drop("not-for-us"); return; }
    if ((eth.src[0] & 1) === 0) this.guestMac = eth.src.slice();
    if (eth.type === ETHERTYPE_ARP) this.arpInput(eth.payload);
    else if (eth.type === ETHERTYPE_IPV4) this.ipInput(eth.payload, (flags & NET_FRAME_CSUM_PARTIAL) !== 0);
    else this.drop("ethertype");
  }

  private arpInput(p: Uint8Array): void {
    const a = parseArp(p);
    if (a === null) { this.drop("arp-malformed"); return; }
    if (a.op !== ARP_OP_REQUEST) return; // replies and gratuitous ARP: nothing to learn beyond the MAC
    // Not ours (an address probe, another guest) unless the gateway, DNS or a guestfwd address.
    if (a.tpa !== this.config.host && a.tpa !== this.config.dns && !this.config.guestfwd.some((g) => g.addr === a.tpa)) return;
    const reply = buildArp({ op: ARP_OP_REPLY, sha: GATEWAY_MAC, spa: a.tpa, tha: a.sha, tpa: a.spa });
    this.enqueue(buildEth(a.sha, GATEWAY_MAC, ETHERTYPE_ARP, reply));
  }

  /** `partial`: the guest left the TCP/UDP checksum to us (offload); IPv4's own is always checked. */
  private ipInput(p: Uint8Array, partial: boolean): void {
    const ip = parseIpv4(p);
    if (typeof ip === "string") {
      this.drop(ip === "fragment" ? "fragment" : `ip-${ip}` as DropReason);
      return;
    }
    // The guest speaks from its address in the network, or from 0.0.0.0 while it asks DHCP.
    if (ip.src !== 0 && !this.inNet(ip.src)) { this.drop("ip-source"); return; }
    if (ip.proto === IPPROTO_UDP) this.udpInput(ip.src, ip.dst, ip.payload, partial);
    else if (ip.src === 0) this.drop("ip-source");
    else if (ip.proto === IPPROTO_ICMP) this.icmpInput(ip.src, ip.dst, ip.payload);
    else if (ip.proto === IPPROTO_TCP) this.tcp.input(ip.src, ip.dst, ip.payload, partial);
    else this.drop("ip-destination");
  }

  private icmpInput(src: Ip4, dst: Ip4, p: Uint8Array): void {
    if (p.length < ICMP_HEADER_LEN) { this.drop("icmp-malformed"); return; }
    if (checksum(p, 0, p.length) !== 0) { this.drop("icmp-checksum"); return; }
    if (p[0] !== ICMP_ECHO_REQUEST || (dst !== this.config.host && dst !== this.config.dns)) { this.drop("icmp-unsupported"); return; }
    // RFC 792: the echo reply carries the request's identifier, sequence number and data.
    const r = p.slice();
    r[0] = ICMP_ECHO_REPLY; r[1] = 0;
    writeU16(r, 2, 0);
    writeU16(r, 2, checksum(r, 0, r.length));
    this.sendIp(dst, src, IPPROTO_ICMP, r);
  }

  private udpInput(src: Ip4, dst: Ip4, p: Uint8Array, partial: boolean): void {
    const u = parseUdp(p, src, dst, partial);
    if (typeof u === "string") { this.drop(`udp-${u}`); return; }
    if (u.dstPort === DHCP_SERVER_PORT && (this.isBroadcast(dst) || dst === this.config.host)) { this.dhcpInput(u.data); return; }
    if (src === 0) { this.drop("ip-source"); return; }
    if (dst === this.config.dns && u.dstPort === DNS_PORT) { this.dnsInput(src, u.srcPort, u.data); return; }
    if (dst === this.config.host) {
      const fwd = this.udpFwd.get(`${src}:${u.srcPort}:${u.dstPort}`);
      if (fwd !== undefined) { fwd.lastUsed = this.host.now(); fwd.sock.send(u.data, fwd.clientAddr, fwd.clientPort); return; }
    }
    if (this.config.restrict) { this.drop("restricted"); return; }
    let to: string;
    if (dst === this.config.host) to = HOST_LOOPBACK;
    else if (this.inNet(dst) || this.isBroadcast(dst) || dst >>> 28 === 0xe || dst === 0) { this.drop("udp-destination"); return; }
    else to = ip4String(dst);
    this.udpSession(src, u.srcPort).sock.send(u.data, to, u.dstPort);
  }

  private udpSession(guestIp: Ip4, guestPort: number): UdpSession {
    const key = `${guestIp}:${guestPort}`;
    const now = this.host.now();
    let s = this.udp.get(key);
    if (s !== undefined) { s.lastUsed = now; return s; }
    for (const [k, o] of this.udp) if (now - o.lastUsed > UDP_IDLE_MS) { o.sock.close(); this.udp.delete(k); }
    if (this.udp.size >= MAX_UDP_SESSIONS) {
      // Maps iterate in insertion order; take the least recently used.
      let oldest: [string, UdpSession] | null = null;
      for (const e of this.udp) if (oldest === null || e[1].lastUsed < oldest[1].lastUsed) oldest = e;
      if (oldest !== null) { oldest[1].sock.close(); this.udp.delete(oldest[0]); }
    }
    const session: UdpSession = {
      guestIp, guestPort, lastUsed: now,
      sock: this.host.udpOpen((data, address, port) => {
        if (this.closed) return;
        session.lastUsed = this.host.now();
        // Replies from the host's loopback come from the gateway, as in QEMU.
        let from: Ip4;
        try { from = address === HOST_LOOPBACK ? this.config.host : ip4(address); } catch { return; }
        this.sendUdp(from, port, session.guestIp, session.guestPort, data);
        this.onAsyncFrame();
      }),
    };
    this.udp.set(key, session);
    return session;
  }

  private dhcpInput(data: Uint8Array): void {
    const m = parseDhcp(data);
    if (m === null) { this.drop("dhcp-malformed"); return; }
    const r = this.dhcp.handle(m);
    if (r === null) return;
    // RFC 2131 4.1: the client has no address yet; broadcasting the reply reaches it whatever its flags.
    this.sendUdp(this.config.host, DHCP_SERVER_PORT, 0xffffffff, DHCP_CLIENT_PORT, r.payload, BROADCAST_MAC);
  }

  private dnsInput(src: Ip4, srcPort: number, data: Uint8Array): void {
    const q = parseDnsQuery(data);
    if (q === null) { this.drop("dns-malformed"); return; }
    const answer = (rcode: number, addrs: Uint8Array[] = []): void => {
      if (this.closed) return;
      this.sendUdp(this.config.dns, DNS_PORT, src, srcPort, buildDnsResponse(q, rcode, addrs));
    };
    if (q.qclass !== DNS_CLASS_IN || (q.qtype !== DNS_TYPE_A && q.qtype !== DNS_TYPE_AAAA)) { answer(DNS_RCODE_NOTIMP); return; }
    if (!isPlausibleName(q.name)) { answer(DNS_RCODE_NXDOMAIN); return; }
    if (this.pendingDns >= MAX_PENDING_DNS) { this.drop("dns-busy"); return; }
    this.pendingDns++;
    const family = q.qtype === DNS_TYPE_A ? 4 : 6;
    const want = family === 4 ? 4 : 16;
    this.host.lookup(q.name, family).then((r) => {
      if (r.kind === "ok") {
        const addrs = r.addresses.map(addressBytes).filter((b): b is Uint8Array => b !== null && b.length === want).slice(0, DNS_MAX_ANSWERS);
        answer(DNS_RCODE_NOERROR, addrs);
      } else answer(r.kind === "nxdomain" ? DNS_RCODE_NXDOMAIN : r.kind === "nodata" ? DNS_RCODE_NOERROR : DNS_RCODE_SERVFAIL);
    }, () => answer(DNS_RCODE_SERVFAIL)).finally(() => { this.pendingDns--; this.onAsyncFrame(); });
  }

  /** Where a guest's TCP connection goes on the host (null: refused with RST). */
  private tcpRoute(dst: Ip4, port: number): { address: string; port: number } | null {
    const g = this.config.guestfwd.find((f) => f.addr === dst && f.port === port);
    if (g !== undefined) return { address: g.hostAddr, port: g.hostPort }; // a service the user named: restrict or not
    if (this.config.restrict) return null;
    if (dst === this.config.host) return { address: HOST_LOOPBACK, port };
    if (this.inNet(dst) || this.isBroadcast(dst) || dst >>> 28 === 0xe || dst === 0 || dst >>> 24 === 127) return null;
    return { address: ip4String(dst), port };
  }

  private tcpForwardIn(f: HostForward, c: HostTcpIncoming): void {
    const refuse = (): void => c.accept({ connected: () => undefined, data: () => undefined, end: () => undefined, drain: () => undefined, closed: () => undefined }).destroy();
    // Without the guest's MAC (it has sent nothing yet and the NIC names none) there is no one to connect to.
    if (this.closed || this.toGuestMac === null) { refuse(); return; }
    if (!this.tcp.connectToGuest(f.guestAddr ?? this.config.dhcpStart, f.guestPort, this.config.host, c)) refuse();
    this.onAsyncFrame();
  }

  private udpForwardIn(index: number, f: HostForward, sock: HostUdpSocket, data: Uint8Array, address: string, port: number): void {
    if (this.closed) return;
    const now = this.host.now();
    const key = `${index}:${address}:${port}`;
    let s = this.udpFwdByClient.get(key);
    if (s === undefined) {
      for (const [k, o] of this.udpFwdByClient) {
        if (now - o.lastUsed > UDP_IDLE_MS || this.udpFwd.size >= MAX_UDP_SESSIONS) {
          this.udpFwdByClient.delete(k); this.udpFwd.delete(`${o.guestIp}:${o.guestPort}:${o.mappedPort}`);
        }
      }
      const guestIp = f.guestAddr ?? this.config.dhcpStart;
      let mappedPort = this.nextUdpFwdPort;
      while (this.udpFwd.has(`${guestIp}:${f.guestPort}:${mappedPort}`)) mappedPort = mappedPort === EPHEMERAL_LAST ? EPHEMERAL_FIRST : mappedPort + 1;
      this.nextUdpFwdPort = mappedPort === EPHEMERAL_LAST ? EPHEMERAL_FIRST : mappedPort + 1;
      s = { sock, clientAddr: address, clientPort: port, guestIp, guestPort: f.guestPort, mappedPort, lastUsed: now };
      this.udpFwdByClient.set(key, s);
      this.udpFwd.set(`${guestIp}:${f.guestPort}:${mappedPort}`, s);
    }
    s.lastUsed = now;
    this.sendUdp(this.config.host, s.mappedPort, s.guestIp, s.guestPort, data);
    this.onAsyncFrame();
  }
}

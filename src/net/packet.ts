// Wire formats the user-mode stack reads and writes: Ethernet II, ARP (RFC 826), IPv4 (RFC 791),
// ICMP (RFC 792), UDP (RFC 768) and the Internet checksum (RFC 1071). Parsers return null for
// anything malformed; they never throw on guest bytes.
import { ETH_HEADER_LEN } from "./backend.js";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
/** htype, ptype, hlen, plen, op, sha[6], spa[4], tha[6], tpa[4]. */
export const ARP_LEN = 28;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPV4_HEADER_MIN = 20;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;
export const DEFAULT_TTL = 64;
export const UDP_HEADER_LEN = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_HEADER_LEN = 8;

/** An IPv4 address as an unsigned 32-bit number (10.0.2.2 = 0x0a000202). */
export type Ip4 = number;

export function ip4(s: string): Ip4 {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new RangeError(`not an IPv4 address: ${s}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function ip4String(a: Ip4): string { return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`; }

export function readU16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function readU32(b: Uint8Array, o: number): number { return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0; }
export function writeU16(b: Uint8Array, o: number, v: number): void { b[o] = v >>> 8; b[o + 1] = v; }
export function writeU32(b: Uint8Array, o: number, v: number): void { b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v; }

/** RFC 1071 one's-complement sum of `b[off, off+len)` added to `sum` (not folded, not inverted). */
export function onesSum(b: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

/** Folds a sum to 16 bits and inverts it: the checksum field's value. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function checksum(b: Uint8Array, off: number, len: number): number { return finishChecksum(onesSum(b, off, len)); }

/** The pseudo-header sum for UDP/TCP over IPv4 (RFC 768). */
export function pseudoSum(src: Ip4, dst: Ip4, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

export interface EthFrame { dst: Uint8Array; src: Uint8Array; type: number; payload: Uint8Array }

export function parseEth(f: Uint8Array): EthFrame | null {
  if (f.length < ETH_HEADER_LEN) return null;
  return { dst: f.subarray(0, 6), src: f.subarray(6, 12), type: readU16(f, 12), payload: f.subarray(ETH_HEADER_LEN) };
}

export function buildEth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HEADER_LEN + payload.length);
  writeEthHeader(f, dst, src, type);
  f.set(payload, ETH_HEADER_LEN);
  return f;
}

/** Writes an Ethernet header at the start of `f`. */
export function writeEthHeader(f: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  f.set(dst.subarray(0, 6), 0); f.set(src.subarray(0, 6), 6); writeU16(f, 12, type);
}

export interface ArpPacket { op: number; sha: Uint8Array; spa: Ip4; tha: Uint8Array; tpa: Ip4 }

export function parseArp(p: Uint8Array): ArpPacket | null {
  if (p.length < ARP_LEN) return null;
  if (readU16(p, 0) !== ARP_HTYPE_ETHERNET || readU16(p, 2) !== ETHERTYPE_IPV4 || p[4] !== 6 || p[5] !== 4) return null;
  return { op: readU16(p, 6), sha: p.slice(8, 14), spa: readU32(p, 14), tha: p.slice(18, 24), tpa: readU32(p, 24) };
}

export function buildArp(a: ArpPacket): Uint8Array {
  const p = new Uint8Array(ARP_LEN);
  writeU16(p, 0, ARP_HTYPE_ETHERNET); writeU16(p, 2, ETHERTYPE_IPV4); p[4] = 6; p[5] = 4; writeU16(p, 6, a.op);
  p.set(a.sha, 8); writeU32(p, 14, a.spa); p.set(a.tha, 18); writeU32(p, 24, a.tpa);
  return p;
}

export interface Ipv4Packet { src: Ip4; dst: Ip4; proto: number; ttl: number; id: number; flags: number; payload: Uint8Array }

export type Ipv4Error = "short" | "version" | "header-length" | "total-length" | "checksum" | "fragment";

/** Parses and checks an IPv4 header (version, IHL, total length, header checksum); fragments are refused. */
export function parseIpv4(p: Uint8Array): Ipv4Packet | Ipv4Error {
  if (p.length < IPV4_HEADER_MIN) return "short";
  if (p[0] >>> 4 !== 4) return "version";
  const ihl = (p[0] & 0xf) * 4;
  if (ihl < IPV4_HEADER_MIN || ihl > p.length) return "header-length";
  const total = readU16(p, 2);
  if (total < ihl || total > p.length) return "total-length";
  if (checksum(p, 0, ihl) !== 0) return "checksum";
  const fragField = readU16(p, 6);
  if ((fragField & IPV4_FLAG_MF) !== 0 || (fragField & IPV4_FRAG_OFFSET_MASK) !== 0) return "fragment";
  return {
    src: readU32(p, 12), dst: readU32(p, 16), proto: p[9], ttl: p[8], id: readU16(p, 4), flags: fragField & ~IPV4_FRAG_OFFSET_MASK,
    // Ethernet pads short frames: the datagram ends at total length.
    payload: p.subarray(ihl, total),
  };
}

export function buildIpv4(src: Ip4, dst: Ip4, proto: number, id: number, payload: Uint8Array, ttl = DEFAULT_TTL): Uint8Array {
  const p = new Uint8Array(IPV4_HEADER_MIN + payload.length);
  writeIpv4Header(p, 0, src, dst, proto, id, payload.length, ttl);
  p.set(payload, IPV4_HEADER_MIN);
  return p;
}

/** Writes an option-less IPv4 header (DF set) with its checksum at `b[o]`, for `payloadLen` bytes that follow it. */
export function writeIpv4Header(b: Uint8Array, o: number, src: Ip4, dst: Ip4, proto: number, id: number, payloadLen: number, ttl = DEFAULT_TTL): void {
  b[o] = 0x45; b[o + 1] = 0; writeU16(b, o + 2, IPV4_HEADER_MIN + payloadLen); writeU16(b, o + 4, id & 0xffff); writeU16(b, o + 6, IPV4_FLAG_DF);
  b[o + 8] = ttl; b[o + 9] = proto; writeU16(b, o + 10, 0); writeU32(b, o + 12, src); writeU32(b, o + 16, dst);
  writeU16(b, o + 10, checksum(b, o, IPV4_HEADER_MIN));
}

/** Bytes in front of a transport segment built in place: its Ethernet and option-less IPv4 headers. */
export const FRAME_HEADROOM = ETH_HEADER_LEN + IPV4_HEADER_MIN;

export interface UdpDatagram { srcPort: number; dstPort: number; data: Uint8Array }

/**
 * Parses a UDP datagram carried from `src` to `dst`; checks length and (when not 0) the checksum,
 * unless `partialChecksum` says the sender left it to us (checksum offload) and we need none.
 */
export function parseUdp(p: Uint8Array, src: Ip4, dst: Ip4, partialChecksum = false): UdpDatagram | "short" | "length" | "checksum" {
  if (p.length < UDP_HEADER_LEN) return "short";
  const len = readU16(p, 4);
  if (len < UDP_HEADER_LEN || len > p.length) return "length";
  // RFC 768: "An all zero transmitted checksum value means that the transmitter generated no checksum".
  if (!partialChecksum && readU16(p, 6) !== 0 && finishChecksum(onesSum(p, 0, len, pseudoSum(src, dst, IPPROTO_UDP, len))) !== 0) return "checksum";
  return { srcPort: readU16(p, 0), dstPort: readU16(p, 2), data: p.subarray(UDP_HEADER_LEN, len) };
}

export function buildUdp(src: Ip4, dst: Ip4, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const p = new Uint8Array(UDP_HEADER_LEN + data.length);
  writeU16(p, 0, srcPort); writeU16(p, 2, dstPort); writeU16(p, 4, p.length);
  p.set(data, UDP_HEADER_LEN);
  // RFC 768: a computed checksum of 0 is sent as all ones.
  writeU16(p, 6, finishChecksum(onesSum(p, 0, p.length, pseudoSum(src, dst, IPPROTO_UDP, p.length))) || 0xffff);
  return p;
}

// The work that checksum offload and TSO leave to whoever consumes a frame (virtio 1.2 5.1.6.2):
// completing a partial TCP/UDP checksum, and cutting a large TCP/IPv4 segment into frames of
// one MSS each (what a NIC does with a TSO frame, and Linux's tcp_gso_segment in software).
// Used by the virtio-net device for a backend that takes neither (a switch port, whose frames
// reach other VMs as they would cross a wire) and for a guest that has not negotiated them.
import { ETH_HEADER_LEN } from "./backend.js";
import {
  ETHERTYPE_IPV4, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_MIN, checksum, finishChecksum, onesSum, pseudoSum, readU16, readU32,
  writeU16, writeU32,
} from "./packet.js";
import { TCP_CWR, TCP_FIN, TCP_HEADER_MIN, TCP_PSH } from "./tcp.js";

/** Offset of the checksum field in a TCP header and in a UDP header. */
export const TCP_CHECKSUM_OFFSET = 16;
export const UDP_CHECKSUM_OFFSET = 6;
const IPV4_TOTAL_LENGTH = 2, IPV4_ID = 4, IPV4_CHECKSUM = 10, IPV4_PROTO = 9, IPV4_SRC = 12, IPV4_DST = 16;
const TCP_SEQ = 4, TCP_FLAGS = 13;

/**
 * Completes a partial checksum in place: the one's-complement sum of `frame[start..]` (which
 * includes the field at start + offset, holding the pseudo-header sum) goes into that field.
 * A result of 0 is written as 0xffff (the same value in one's complement, and what UDP
 * requires: 0 there means "no checksum"). False when the offsets lie outside the frame.
 */
export function completeChecksum(frame: Uint8Array, start: number, offset: number): boolean {
  if (start < 0 || offset < 0 || start + offset + 2 > frame.length) return false;
  const sum = finishChecksum(onesSum(frame, start, frame.length - start));
  writeU16(frame, start + offset, sum === 0 ? 0xffff : sum);
  return true;
}

/** Where an IPv4 TCP or UDP frame's transport header starts, and its checksum field's offset in it; null for anything else. */
export function transportChecksum(frame: Uint8Array): { start: number; offset: number } | null {
  if (frame.length < ETH_HEADER_LEN + IPV4_HEADER_MIN || readU16(frame, 12) !== ETHERTYPE_IPV4) return null;
  const ip = ETH_HEADER_LEN, ihl = (frame[ip] & 0xf) * 4;
  if (ihl < IPV4_HEADER_MIN) return null;
  const proto = frame[ip + IPV4_PROTO];
  if (proto === IPPROTO_TCP) return { start: ip + ihl, offset: TCP_CHECKSUM_OFFSET };
  if (proto === IPPROTO_UDP) return { start: ip + ihl, offset: UDP_CHECKSUM_OFFSET };
  return null;
}

/** The folded pseudo-header sum a partial TCP/UDP checksum field holds (not inverted). */
export function partialChecksumSeed(src: number, dst: number, proto: number, len: number): number {
  return ~finishChecksum(pseudoSum(src, dst, proto, len)) & 0xffff;
}

/**
 * Cuts an Ethernet + IPv4 + TCP frame whose data is longer than `mss` into frames of at most
 * `mss` data bytes, each with its own IPv4 total length, identification (counting up from the
 * original's) and header checksum, its sequence number, and a full TCP checksum; FIN and PSH
 * stay on the last segment, CWR on the first (RFC 3168 6.1.2). The input's TCP checksum is not
 * read (it is partial). Null when the frame is not such a segment or `mss` is 0.
 */
export function segmentTcp4(frame: Uint8Array, mss: number): Uint8Array[] | null {
  const ip = ETH_HEADER_LEN;
  if (mss <= 0 || frame.length < ip + IPV4_HEADER_MIN || readU16(frame, 12) !== ETHERTYPE_IPV4 || frame[ip] >>> 4 !== 4) return null;
  const ihl = (frame[ip] & 0xf) * 4, tcp = ip + ihl;
  if (ihl < IPV4_HEADER_MIN || frame[ip + IPV4_PROTO] !== IPPROTO_TCP || tcp + TCP_HEADER_MIN > frame.length) return null;
  const thl = (frame[tcp + 12] >>> 4) * 4, hdrs = tcp + thl;
  // The datagram ends at its total length (Linux sets it for a TSO frame below 64 KiB) or the frame's end.
  const total = readU16(frame, ip + IPV4_TOTAL_LENGTH);
  const end = total >= ihl + thl && ip + total <= frame.length ? ip + total : frame.length;
  if (thl < TCP_HEADER_MIN || hdrs > end) return null;
  const src = readU32(frame, ip + IPV4_SRC), dst = readU32(frame, ip + IPV4_DST);
  const id = readU16(frame, ip + IPV4_ID), seq = readU32(frame, tcp + TCP_SEQ), flags = frame[tcp + TCP_FLAGS];
  const out: Uint8Array[] = [];
  const dataLen = end - hdrs, count = Math.max(1, Math.ceil(dataLen / mss));
  for (let i = 0; i < count; i++) {
    const off = i * mss, n = Math.min(mss, dataLen - off), last = i === count - 1;
    const f = new Uint8Array(hdrs + n);
    f.set(frame.subarray(0, hdrs), 0);
    f.set(frame.subarray(hdrs + off, hdrs + off + n), hdrs);
    writeU16(f, ip + IPV4_TOTAL_LENGTH, ihl + thl + n);
    writeU16(f, ip + IPV4_ID, (id + i) & 0xffff);
    writeU16(f, ip + IPV4_CHECKSUM, 0);
    writeU16(f, ip + IPV4_CHECKSUM, checksum(f, ip, ihl));
    writeU32(f, tcp + TCP_SEQ, (seq + off) >>> 0);
    f[tcp + TCP_FLAGS] = flags & ~(last ? 0 : TCP_FIN | TCP_PSH) & ~(i === 0 ? 0 : TCP_CWR);
    writeU16(f, tcp + TCP_CHECKSUM_OFFSET, 0);
    writeU16(f, tcp + TCP_CHECKSUM_OFFSET, finishChecksum(onesSum(f, tcp, thl + n, pseudoSum(src, dst, IPPROTO_TCP, thl + n))));
    out.push(f);
  }
  return out;
}

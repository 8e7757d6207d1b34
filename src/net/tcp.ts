// TCP for the user-mode network (RFC 9293): the guest's connections end here and are carried
// over host stream sockets (NetHost.tcpConnect), and forwarded host connections (hostfwd) are
// opened toward the guest from here. Toward the guest this is a complete TCP endpoint:
//
//  - the three-way handshake both ways, with the MSS option and window scaling (RFC 7323) when
//    the guest offers it; a guest SYN is answered only once the host connection is up, and with
//    RST when it fails (so the guest sees ECONNREFUSED, as with QEMU's slirp);
//  - sequence arithmetic modulo 2^32; segmentation to the guest's MSS; the guest's advertised
//    window respected, with sender silly-window avoidance (3.8.6.2.1);
//  - retransmission on a timer (RFC 6298: SRTT/RTTVAR, Karn's rule, exponential backoff), fast
//    retransmit after three duplicate ACKs and RFC 5681 congestion control (slow start,
//    congestion avoidance), zero-window probing with backoff that never gives up while the
//    guest answers (3.8.6.1);
//  - out-of-order segments held for later (bounded), duplicates trimmed, bad checksums dropped;
//  - FIN both ways with half-close, TIME-WAIT, RST handling with RFC 5961's checks (an in-window
//    RST or SYN that is not exact draws a challenge ACK);
//  - delayed ACKs (every second full segment, or a short timer);
//  - backpressure both ways: host reads pause while the bytes the guest has not acknowledged
//    exceed SND_BUF_MAX; the window offered to the guest is what the host socket has not
//    taken yet, so a congested host socket closes the window (receiver SWS avoidance, 3.8.6.2.2).
//
// TIME-WAIT lasts TIME_WAIT_MS, far shorter than 2 MSL: the only path is the NIC's queue, where
// no segment lingers. Timers run on NetHost.setTimer/now, so tests drive them with a fake clock.
import type { HostTcpEvents, HostTcpIncoming, HostTcpSocket, HostTimer, NetHost } from "./host.js";
import { IPV4_DATAGRAM_MAX, NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4 } from "./backend.js";
import {
  FRAME_HEADROOM, IPPROTO_TCP, IPV4_HEADER_MIN, type Ip4, finishChecksum, onesSum, pseudoSum, readU16, readU32, writeU16, writeU32,
} from "./packet.js";

export const TCP_HEADER_MIN = 20;
export const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80;
export const TCPOPT_EOL = 0, TCPOPT_NOP = 1, TCPOPT_MSS = 2, TCPOPT_WINDOW = 3;
/** RFC 9293 3.7.1: the MSS a host assumes when the SYN carries none. */
export const TCP_DEFAULT_MSS = 536;
/** MTU 1500 less 20 bytes of IPv4 and 20 of TCP header: what we advertise and send at most. */
export const TCP_MSS = 1460;
/** RFC 7323 2.3: shift counts above 14 are taken as 14. */
export const TCP_MAX_WSCALE = 14;
/** Our receive window shift: TCP_RCV_BUF >> 3 fits the 16-bit window field. */
export const TCP_WSCALE = 3;
/** Bytes from the guest we let the host socket hold before the window closes. */
export const TCP_RCV_BUF = 256 * 1024;
/** Bytes from the host the guest has not acknowledged yet, before host reads pause. */
export const SND_BUF_MAX = 256 * 1024;
/** RFC 6298 2.1: the RTO before any RTT sample. */
export const RTO_INITIAL_MS = 1000;
/** Linux's TCP_RTO_MIN (RFC 6298 2.4 asks for 1 s; the NIC queue is not the Internet). */
export const RTO_MIN_MS = 200;
/** RFC 6298 2.5: a maximum RTO of at least 60 s. */
export const RTO_MAX_MS = 60_000;
/** Retransmissions of one segment before the connection is reset (Linux tcp_retries2 = 15). */
export const MAX_RETRIES = 15;
/** SYN / SYN-ACK retransmissions before giving up (Linux tcp_syn_retries = 6). */
export const SYN_RETRIES = 6;
export const DELACK_MS = 40;
export const TIME_WAIT_MS = 5000;
/** RFC 5681 3.2 after three duplicate ACKs. */
export const DUPACK_THRESHOLD = 3;
/** RFC 6928: initial window of 10 segments. */
export const INITIAL_CWND_SEGMENTS = 10;
/** Out-of-order segments held per connection at most. */
export const MAX_OOO_SEGMENTS = 64;
export const MAX_TCP_CONNECTIONS = 1024;
/** Local ports for connections the stack opens toward the guest (IANA dynamic range). */
export const EPHEMERAL_FIRST = 49152, EPHEMERAL_LAST = 65535;
/** Data bytes of the largest segment with TSO: an IPv4 datagram with option-less IPv4 and TCP headers. */
export const TSO_DATA_MAX = IPV4_DATAGRAM_MAX - IPV4_HEADER_MIN - TCP_HEADER_MIN;

// ---- wire format ----

export interface TcpSegment {
  srcPort: number; dstPort: number; seq: number; ack: number; flags: number; wnd: number;
  /** Options of a SYN: MSS and window scale (null when absent). */
  mss: number | null; wscale: number | null;
  data: Uint8Array;
}

export type TcpParseError = "short" | "header-length" | "checksum";

/**
 * Parses a TCP segment carried from `src` to `dst`, checking the checksum over the pseudo-header
 * unless `partialChecksum` says the guest left it to us (checksum offload: the segment comes
 * from its own stack through the NIC, and we end the connection, so there is nothing to check).
 */
export function parseTcp(p: Uint8Array, src: Ip4, dst: Ip4, partialChecksum = false): TcpSegment | TcpParseError {
  if (p.length < TCP_HEADER_MIN) return "short";
  const hlen = (p[12] >>> 4) * 4;
  if (hlen < TCP_HEADER_MIN || hlen > p.length) return "header-length";
  if (!partialChecksum && finishChecksum(onesSum(p, 0, p.length, pseudoSum(src, dst, IPPROTO_TCP, p.length))) !== 0) return "checksum";
  let mss: number | null = null, wscale: number | null = null;
  for (let i = TCP_HEADER_MIN; i < hlen;) {
    const kind = p[i];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) { i++; continue; }
    if (i + 1 >= hlen) break;
    const len = p[i + 1];
    if (len < 2 || i + len > hlen) break; // a malformed option list: ignore the rest
    if (kind === TCPOPT_MSS && len === 4) mss = readU16(p, i + 2);
    else if (kind === TCPOPT_WINDOW && len === 3) wscale = Math.min(p[i + 2], TCP_MAX_WSCALE);
    i += len;
  }
  return {
    srcPort: readU16(p, 0), dstPort: readU16(p, 2), seq: readU32(p, 4), ack: readU32(p, 8), flags: p[13] & 0x3f,
    wnd: readU16(p, 14), mss, wscale, data: p.subarray(hlen),
  };
}

export interface TcpHeader { srcPort: number; dstPort: number; seq: number; ack: number; flags: number; wnd: number; mss?: number; wscale?: number }

/** The header length of a segment with `h`'s options. */
export function tcpHeaderLen(h: TcpHeader): number {
  return TCP_HEADER_MIN + (h.mss !== undefined ? 4 : 0) + (h.wscale !== undefined ? 4 : 0);
}

/** A TCP segment from `src` to `dst` with its checksum; SYNs carry MSS and window scale when given. */
export function buildTcp(src: Ip4, dst: Ip4, h: TcpHeader, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hlen = tcpHeaderLen(h);
  const p = new Uint8Array(hlen + data.length);
  p.set(data, hlen);
  writeTcpHeader(p, 0, src, dst, h, data.length, false);
  return p;
}

/**
 * Writes `h` at `b[o]` in front of the `dataLen` data bytes already in place after it, and the
 * checksum: complete, or with `partial` only the pseudo-header sum (checksum offload: the NIC or
 * the guest completes it, as Linux leaves a CHECKSUM_PARTIAL segment).
 */
export function writeTcpHeader(b: Uint8Array, o: number, src: Ip4, dst: Ip4, h: TcpHeader, dataLen: number, partial: boolean): void {
  const hlen = tcpHeaderLen(h), len = hlen + dataLen;
  writeU16(b, o, h.srcPort); writeU16(b, o + 2, h.dstPort); writeU32(b, o + 4, h.seq); writeU32(b, o + 8, h.ack);
  b[o + 12] = (hlen / 4) << 4; b[o + 13] = h.flags; writeU16(b, o + 14, h.wnd); writeU16(b, o + 16, 0); writeU16(b, o + 18, 0);
  let p = o + TCP_HEADER_MIN;
  if (h.mss !== undefined) { b[p] = TCPOPT_MSS; b[p + 1] = 4; writeU16(b, p + 2, h.mss); p += 4; }
  if (h.wscale !== undefined) { b[p] = TCPOPT_NOP; b[p + 1] = TCPOPT_WINDOW; b[p + 2] = 3; b[p + 3] = h.wscale; p += 4; }
  const pseudo = pseudoSum(src, dst, IPPROTO_TCP, len);
  writeU16(b, o + 16, partial ? ~finishChecksum(pseudo) & 0xffff : finishChecksum(onesSum(b, o, len, pseudo)));
}

// ---- sequence numbers (RFC 9293 3.4: arithmetic modulo 2^32) ----

/** a - b as a signed distance. */
export function seqDiff(a: number, b: number): number { return (a - b) | 0; }
export function seqLt(a: number, b: number): boolean { return seqDiff(a, b) < 0; }
export function seqLe(a: number, b: number): boolean { return seqDiff(a, b) <= 0; }
export function seqAdd(a: number, n: number): number { return (a + n) >>> 0; }

/** Bytes in order, read by offset and dropped from the front as they are acknowledged. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  length = 0;
  private static readonly COALESCE = 16 * 1024;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    const last = this.chunks.length > (this.head > 0 ? 1 : 0) ? this.chunks[this.chunks.length - 1] : null;
    if (last !== null && last.length + b.length <= ByteQueue.COALESCE) {
      // Small writes are merged so reading a segment touches few chunks.
      const m = new Uint8Array(last.length + b.length);
      m.set(last); m.set(b, last.length);
      this.chunks[this.chunks.length - 1] = m;
    } else this.chunks.push(b);
    this.length += b.length;
  }

  /** A copy of `len` bytes from offset `off` (off + len <= length). */
  copy(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.copyInto(out, 0, off, len);
    return out;
  }

  /** Copies `len` bytes from offset `off` (off + len <= length) to `out[at]`. */
  copyInto(out: Uint8Array, at: number, off: number, len: number): void {
    let pos = -this.head, got = 0;
    for (const c of this.chunks) {
      if (got === len) break;
      const end = pos + c.length;
      if (end > off + got) {
        const from = off + got - pos;
        const n = Math.min(c.length - from, len - got);
        out.set(c.subarray(from, from + n), at + got);
        got += n;
      }
      pos = end;
    }
  }

  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0];
      const left = c.length - this.head;
      if (n < left) { this.head += n; return; }
      n -= left; this.head = 0; this.chunks.shift();
    }
  }
}

/** A timer that is re-armed lazily: moving its deadline later does not touch the host's timers. */
class Deadline {
  private timer: HostTimer | null = null;
  private fireAt = 0;
  private due = -1;
  constructor(private readonly host: NetHost, private readonly fn: () => void) {}
  get armed(): boolean { return this.due >= 0; }
  set(ms: number): void {
    const due = this.host.now() + ms;
    this.due = due;
    if (this.timer !== null && this.fireAt <= due) return;
    this.timer?.cancel();
    this.start(ms, due);
  }
  clear(): void { this.due = -1; this.timer?.cancel(); this.timer = null; }
  private start(ms: number, at: number): void { this.fireAt = at; this.timer = this.host.setTimer(ms, () => this.expire()); }
  private expire(): void {
    this.timer = null;
    if (this.due < 0) return;
    const left = this.due - this.host.now();
    if (left > 0) { this.start(left, this.due); return; }
    this.due = -1;
    this.fn();
  }
}

// ---- the stack ----

export type TcpDropReason = "tcp-short" | "tcp-header-length" | "tcp-checksum" | "tcp-refused" | "tcp-too-many" | "tcp-unexpected";

export interface TcpStackOptions {
  host: NetHost;
  /**
   * Sends a segment to the guest in an IPv4 datagram from `src` to `dst`: `frame` has
   * FRAME_HEADROOM bytes for the Ethernet and IPv4 headers, then the segment. `partial`: its
   * checksum holds only the pseudo-header sum; `gsoSize` > 0: it is longer than one frame and
   * stands for segments of that many data bytes (TSO toward the guest).
   */
  send(src: Ip4, dst: Ip4, frame: Uint8Array, partial: boolean, gsoSize: number): void;
  /** NET_OFFLOAD_* bits the guest's NIC takes now (partial checksums, large segments). */
  offloads(): number;
  /** Whether segments carrying data may be queued toward the guest now; when not, pump() is called later. */
  room(): boolean;
  /** A segment was queued from a host event (socket, timer): the guest should look. */
  wake(): void;
  drop(reason: TcpDropReason): void;
  /** Where a guest connection to `dst`:`port` goes on the host; null refuses it (RST). */
  route(dst: Ip4, port: number): { address: string; port: number } | null;
}

export type TcpState =
  | "SYN-SENT" | "SYN-RECEIVED" | "ESTABLISHED" | "FIN-WAIT-1" | "FIN-WAIT-2" | "CLOSE-WAIT" | "CLOSING" | "LAST-ACK"
  | "TIME-WAIT" | "CLOSED";

function connKey(guestIp: Ip4, guestPort: number, peerIp: Ip4, peerPort: number): string {
  return `${guestIp}:${guestPort}-${peerIp}:${peerPort}`;
}

/** Counters for diagnostics (and tests): how often the recovery paths ran. */
export interface TcpStats {
  opened: number; segmentsOut: number; retransmitTimeouts: number; fastRetransmits: number; zeroWindowProbes: number; resetsSent: number;
}

export class TcpStack {
  readonly stats: TcpStats = { opened: 0, segmentsOut: 0, retransmitTimeouts: 0, fastRetransmits: 0, zeroWindowProbes: 0, resetsSent: 0 };
  private readonly conns = new Map<string, TcpConnection>();
  /** Connections that had data to send when room() said no. */
  private readonly blocked = new Set<TcpConnection>();
  private nextPort = EPHEMERAL_FIRST;
  constructor(readonly opts: TcpStackOptions) {}

  get connections(): number { return this.conns.size; }

  /** The connections by state, for tests and diagnostics. */
  states(): TcpState[] { return [...this.conns.values()].map((c) => c.state); }

  /**
   * A segment from the guest (`src` the guest, `dst` where it is headed); `partialChecksum`: the
   * NIC says the guest left the checksum to us (offload), so it is not checked. With TSO from the
   * guest a segment may be longer than the MSS: it is taken whole.
   */
  input(src: Ip4, dst: Ip4, p: Uint8Array, partialChecksum = false): void {
    const seg = parseTcp(p, src, dst, partialChecksum);
    if (typeof seg === "string") { this.opts.drop(`tcp-${seg}`); return; }
    const key = connKey(src, seg.srcPort, dst, seg.dstPort);
    const c = this.conns.get(key);
    // RFC 6191-style reuse: a new SYN for a tuple in TIME-WAIT ends the old connection.
    if (c !== undefined && c.state === "TIME-WAIT" && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) c.forget();
    else if (c !== undefined) { c.segment(seg); return; }
    if (seg.flags & TCP_RST) return; // 3.10.7.1: an incoming RST is discarded
    if ((seg.flags & (TCP_SYN | TCP_ACK | TCP_FIN)) !== TCP_SYN) { this.opts.drop("tcp-unexpected"); this.resetFor(src, dst, seg); return; }
    if (this.conns.size >= MAX_TCP_CONNECTIONS) { this.opts.drop("tcp-too-many"); this.resetFor(src, dst, seg); return; }
    const to = this.opts.route(dst, seg.dstPort);
    if (to === null) { this.opts.drop("tcp-refused"); this.resetFor(src, dst, seg); return; }
    const conn = new TcpConnection(this, key, src, seg.srcPort, dst, seg.dstPort);
    this.conns.set(key, conn);
    this.stats.opened++;
    conn.passiveOpen(seg, to.address, to.port);
  }

  /**
   * Opens a connection toward the guest's `guestIp`:`guestPort` for a host connection accepted
   * by a forward; the guest sees it come from `fromIp` (the gateway) on an ephemeral port.
   */
  connectToGuest(guestIp: Ip4, guestPort: number, fromIp: Ip4, incoming: HostTcpIncoming): boolean {
    if (this.conns.size >= MAX_TCP_CONNECTIONS) return false;
    for (let tries = 0; tries <= EPHEMERAL_LAST - EPHEMERAL_FIRST; tries++) {
      const port = this.nextPort;
      this.nextPort = port === EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
      const key = connKey(guestIp, guestPort, fromIp, port);
      if (this.conns.has(key)) continue;
      const conn = new TcpConnection(this, key, guestIp, guestPort, fromIp, port);
      this.conns.set(key, conn);
      this.stats.opened++;
      conn.activeOpen(incoming);
      return true;
    }
    return false;
  }

  /** The guest took frames: connections that waited for room send again. */
  pump(): void {
    if (this.blocked.size === 0) return;
    const waiting = [...this.blocked];
    this.blocked.clear();
    for (const c of waiting) {
      if (!this.opts.room()) { for (const w of waiting) if (w.state !== "CLOSED") this.blocked.add(w); return; }
      c.output();
    }
  }

  /** Closes every connection (host sockets destroyed, timers cancelled); nothing more is sent. */
  close(): void {
    for (const c of [...this.conns.values()]) c.abort(false);
    this.conns.clear();
    this.blocked.clear();
  }

  /** @internal */ block(c: TcpConnection): void { this.blocked.add(c); }
  /** @internal */ remove(c: TcpConnection): void {
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    this.blocked.delete(c);
  }

  /** RFC 9293 3.10.7.1 (CLOSED): the reset for a segment that belongs to no connection. */
  private resetFor(src: Ip4, dst: Ip4, seg: TcpSegment): void {
    const segLen = seg.data.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    const h: TcpHeader = seg.flags & TCP_ACK
      ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TCP_RST, wnd: 0 }
      : { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, ack: seqAdd(seg.seq, segLen), flags: TCP_RST | TCP_ACK, wnd: 0 };
    this.stats.resetsSent++;
    this.sendSegment(dst, src, h, null, 0, 0);
  }

  /**
   * @internal Builds a segment from `src` to `dst` in a frame with room for its lower headers,
   * with `len` data bytes from `data` at offset `off`, and sends it.
   */
  sendSegment(src: Ip4, dst: Ip4, h: TcpHeader, data: ByteQueue | null, off: number, len: number, gsoSize = 0): void {
    const offloads = this.opts.offloads();
    const partial = (offloads & NET_OFFLOAD_CSUM) !== 0;
    const hlen = tcpHeaderLen(h);
    const frame = new Uint8Array(FRAME_HEADROOM + hlen + len);
    if (data !== null && len > 0) data.copyInto(frame, FRAME_HEADROOM + hlen, off, len);
    writeTcpHeader(frame, FRAME_HEADROOM, src, dst, h, len, partial);
    this.opts.send(src, dst, frame, partial, len > gsoSize && gsoSize > 0 && (offloads & NET_OFFLOAD_TSO4) !== 0 ? gsoSize : 0);
  }

  /** The largest segment to send toward the guest: one MSS, or with TSO as many as fit an IPv4 datagram. */
  maxSegment(mss: number): number {
    if ((this.opts.offloads() & NET_OFFLOAD_TSO4) === 0) return mss;
    return Math.max(mss, Math.floor(TSO_DATA_MAX / mss) * mss);
  }
}

interface OooSegment { seq: number; data: Uint8Array; fin: boolean }

/** Random initial sequence numbers (RFC 9293 3.4.1 asks for unpredictable ones). */
function initialSequence(): number { return Math.floor(Math.random() * 0x100000000) >>> 0; }

export class TcpConnection {
  state: TcpState = "CLOSED";
  private sock: HostTcpSocket | null = null;
  // send sequence space (RFC 9293 3.3.1)
  private iss = 0;
  private sndUna = 0;
  private sndNxt = 0;
  /** The highest sequence sent: sndNxt goes back to sndUna on a timeout (go-back-N). */
  private sndMax = 0;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private maxSndWnd = 0;
  private sndShift = 0;
  private rcvShift = 0;
  private mss = TCP_DEFAULT_MSS;
  /** Host bytes from sequence bufSeq on (acknowledged bytes are dropped). */
  private readonly sndBuf = new ByteQueue();
  private bufSeq = 0;
  /** The host ended its side: our FIN follows the data, at sequence bufSeq + sndBuf.length. */
  private finQueued = false;
  // receive sequence space
  private irs = 0;
  private rcvNxt = 0;
  /** rcvNxt + the window we last advertised: never moved left (3.8.6.2.2). */
  private rcvAdvEdge = 0;
  private peerFin = false;
  private readonly ooo: OooSegment[] = [];
  private oooBytes = 0;
  // retransmission (RFC 6298) and congestion control (RFC 5681)
  private rto = RTO_INITIAL_MS;
  private srtt = -1;
  private rttvar = 0;
  private rttSeq = -1;
  private rttStart = 0;
  private retries = 0;
  private cwnd = 0;
  private ssthresh = 0x40000000;
  private dupAcks = 0;
  private readonly rtx: Deadline;
  private readonly delack: Deadline;
  /** Full-size segments received and not yet acknowledged. */
  private unacked = 0;
  private ackPending = false;
  private hostPaused = false;
  private synAckSent = false;
  /** A zero-window probe is out (its byte is retransmitted on the timer until the window opens). */
  private probing = false;
  /** Set while the SWS override timeout sends a short segment. */
  private swsOverride = false;

  constructor(private readonly stack: TcpStack, readonly key: string, readonly guestIp: Ip4, readonly guestPort: number,
    readonly peerIp: Ip4, readonly peerPort: number) {
    this.rtx = new Deadline(stack.opts.host, () => this.onRtxTimer());
    this.delack = new Deadline(stack.opts.host, () => {
      if (this.state !== "CLOSED" && (this.unacked > 0 || this.ackPending)) { this.sendAck(); this.stack.opts.wake(); }
    });
  }

  private get host(): NetHost { return this.stack.opts.host; }

  // ---- opening ----

  /** A guest SYN: connect to the host first, answer SYN-ACK once connected (RST when refused). */
  passiveOpen(syn: TcpSegment, address: string, port: number): void {
    this.state = "SYN-RECEIVED";
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.takeSynOptions(syn, true);
    this.sndWnd = syn.wnd; // 3.10.7.2: the window of a SYN is never scaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
    this.iss = initialSequence();
    this.sndUna = this.iss; this.sndNxt = this.iss; this.sndMax = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.sock = this.host.tcpConnect(address, port, this.events(() => {
      if (this.state !== "SYN-RECEIVED" || this.synAckSent) return;
      this.synAckSent = true;
      this.sendSyn();
      this.stack.opts.wake();
    }));
  }

  /** A host connection accepted by a forward: SYN toward the guest. */
  activeOpen(incoming: HostTcpIncoming): void {
    this.state = "SYN-SENT";
    this.iss = initialSequence();
    this.sndUna = this.iss; this.sndNxt = this.iss; this.sndMax = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.rcvShift = TCP_WSCALE; // offered; kept only if the guest's SYN-ACK has the option too
    this.sock = incoming.accept(this.events(() => undefined));
    this.sendSyn();
  }

  private takeSynOptions(seg: TcpSegment, offerScale: boolean): void {
    this.mss = Math.max(1, Math.min(seg.mss ?? TCP_DEFAULT_MSS, TCP_MSS));
    // RFC 7323 2.2: scaling is in effect only when both SYNs carry the option.
    if (seg.wscale !== null && offerScale) { this.sndShift = seg.wscale; this.rcvShift = TCP_WSCALE; }
    else { this.sndShift = 0; this.rcvShift = 0; }
    this.cwnd = INITIAL_CWND_SEGMENTS * this.mss;
  }

  /** SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with our MSS and, where agreed, window scale. */
  private sendSyn(): void {
    const synAck = this.state === "SYN-RECEIVED";
    this.emit({
      seq: this.iss, ack: synAck ? this.rcvNxt : 0, flags: synAck ? TCP_SYN | TCP_ACK : TCP_SYN,
      wnd: Math.min(this.freeSpace(), 0xffff), mss: TCP_MSS, ...(this.rcvShift > 0 || !synAck ? { wscale: TCP_WSCALE } : {}),
    });
    if (synAck) this.rcvAdvEdge = seqAdd(this.rcvNxt, Math.min(this.freeSpace(), 0xffff));
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.rtx.set(this.rto);
  }

  // ---- host socket events ----

  private events(connected: () => void): HostTcpEvents {
    return {
      connected,
      data: (d) => {
        if (this.state === "CLOSED" || this.finQueued) return;
        this.sndBuf.push(d);
        if (this.sndBuf.length >= SND_BUF_MAX && !this.hostPaused) { this.hostPaused = true; this.sock?.pause(); }
        this.output();
        this.stack.opts.wake();
      },
      end: () => {
        if (this.state === "CLOSED") return;
        this.finQueued = true;
        this.output();
        this.stack.opts.wake();
      },
      drain: () => {
        if (this.state === "CLOSED") return;
        if (this.windowGrewEnough()) { this.sendAck(); this.stack.opts.wake(); }
      },
      closed: (error) => {
        const wasOpen = this.sock !== null;
        this.sock = null;
        if (this.state === "CLOSED") return;
        if (error || !wasOpen) {
          // The host refused or reset: so does the guest's connection.
          if (this.state === "SYN-RECEIVED" && !this.synAckSent) this.emit({ seq: 0, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, wnd: 0 });
          else if (this.state !== "SYN-SENT" && this.state !== "TIME-WAIT") this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, wnd: 0 });
          this.finish();
          this.stack.opts.wake();
        } else if (!this.finQueued) {
          // Closed in order without an 'end' first (the host socket ended both ways): FIN after the data.
          this.finQueued = true;
          this.output();
          this.stack.opts.wake();
        }
      },
    };
  }

  // ---- toward the guest ----

  /** A segment to the guest, with `len` bytes of sndBuf from `off` (TSO: more than an MSS, cut at mss). */
  private emit(h: Omit<TcpHeader, "srcPort" | "dstPort">, off = 0, len = 0): void {
    const { stats } = this.stack;
    stats.segmentsOut++;
    if (h.flags & TCP_RST) stats.resetsSent++;
    this.stack.sendSegment(this.peerIp, this.guestIp, { srcPort: this.peerPort, dstPort: this.guestPort, ...h }, len > 0 ? this.sndBuf : null, off, len, this.mss);
  }

  /** Receive space the host side has left (3.8.6.2.2: the window is what the receiver can take). */
  private freeSpace(): number {
    const held = (this.sock?.bufferedBytes ?? 0) + this.oooBytes;
    return Math.max(0, TCP_RCV_BUF - held);
  }

  /** Receiver SWS avoidance: the right edge moves only by at least min(half the buffer, one MSS). */
  private windowToOffer(): number {
    const cur = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    const space = this.freeSpace();
    return space - cur >= Math.min(TCP_RCV_BUF / 2, this.mss) ? space : cur;
  }

  private windowGrewEnough(): boolean {
    if (this.state === "SYN-SENT" || this.state === "TIME-WAIT" || (this.state === "SYN-RECEIVED" && !this.synAckSent)) return false;
    const cur = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    return this.freeSpace() - cur >= Math.min(TCP_RCV_BUF / 2, this.mss);
  }

  /** The window field for a segment now, and the right edge it advertises. */
  private windowField(): number {
    const max = 0xffff << this.rcvShift;
    const w = Math.min(this.windowToOffer(), max) >>> this.rcvShift;
    const edge = seqAdd(this.rcvNxt, w << this.rcvShift);
    if (seqLt(this.rcvAdvEdge, edge)) this.rcvAdvEdge = edge;
    return w;
  }

  private sendAck(): void {
    this.ackPending = false; this.unacked = 0; this.delack.clear();
    this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_ACK, wnd: this.windowField() });
  }

  /** Sequence of our FIN (valid when finQueued). */
  private get finSeq(): number { return seqAdd(this.bufSeq, this.sndBuf.length); }

  private get synchronized(): boolean {
    return this.state !== "SYN-SENT" && this.state !== "SYN-RECEIVED" && this.state !== "CLOSED" && this.state !== "TIME-WAIT";
  }

  /** Sends what the window, the congestion window and the NIC's queue allow. */
  output(): void {
    if (!this.synchronized) {
      if (this.ackPending && this.state !== "CLOSED") this.sendAck();
      return;
    }
    let sent = false;
    for (;;) {
      const off = seqDiff(this.sndNxt, this.bufSeq);
      const unsent = this.sndBuf.length - off;
      const finNow = this.finQueued && seqLe(this.sndNxt, this.finSeq);
      if (unsent <= 0 && !finNow) break;
      const flight = seqDiff(this.sndNxt, this.sndUna);
      const usable = Math.min(seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt), this.cwnd - flight);
      let len = Math.max(0, Math.min(this.stack.maxSegment(this.mss), unsent, usable));
      if (unsent > 0 && len === 0) {
        // 3.8.6.1: a zero window is probed on the persist timer (rtx below, with backoff).
        if (this.sndWnd === 0 && flight === 0 && !this.rtx.armed) this.rtx.set(this.rto);
        break;
      }
      // 3.8.6.2.1 sender SWS avoidance: a short segment only when it empties the queue or fills
      // half the window — or when the override timeout (the rtx timer with nothing in flight) fired.
      if (len > 0 && len < this.mss && len < unsent && len < this.maxSndWnd / 2 && !this.swsOverride) {
        if (flight === 0 && !this.rtx.armed) this.rtx.set(this.rto);
        break;
      }
      if (!this.stack.opts.room()) { this.stack.block(this); break; }
      const fin = finNow && len === unsent;
      this.sendData(len, fin);
      sent = true;
      if (fin) break;
    }
    if (!sent && this.ackPending) this.sendAck();
  }

  /** One segment of `len` bytes from sndNxt (plus FIN). */
  private sendData(len: number, fin: boolean): void {
    const off = seqDiff(this.sndNxt, this.bufSeq);
    const flags = TCP_ACK | (len > 0 && off + len === this.sndBuf.length ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
    this.ackPending = false; this.unacked = 0; this.delack.clear();
    this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags, wnd: this.windowField() }, off, len);
    const retransmit = seqLt(this.sndNxt, this.sndMax);
    this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
    if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
    if (!retransmit && this.rttSeq < 0) { this.rttSeq = this.sndNxt; this.rttStart = this.host.now(); }
    if (!this.rtx.armed) this.rtx.set(this.rto);
    if (fin) {
      if (this.state === "ESTABLISHED") this.state = "FIN-WAIT-1";
      else if (this.state === "CLOSE-WAIT") this.state = "LAST-ACK";
    }
  }

  private onRtxTimer(): void {
    if (this.state === "CLOSED") return;
    if (this.state === "TIME-WAIT") { this.finish(); return; }
    if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") {
      if (this.state === "SYN-RECEIVED" && !this.synAckSent) return; // still waiting for the host connection
      if (++this.retries > SYN_RETRIES) { this.abort(this.state === "SYN-RECEIVED"); this.stack.opts.wake(); return; }
      this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
      this.sendSyn();
      this.stack.opts.wake();
      return;
    }
    const flight = seqDiff(this.sndMax, this.sndUna);
    if (flight > 0) {
      // RFC 6298 5.4-5.6: retransmit the earliest unacknowledged segment, back off, restart the timer.
      if (++this.retries > MAX_RETRIES) { this.abort(true); this.stack.opts.wake(); return; }
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
      this.cwnd = this.mss;
      this.dupAcks = 0;
      this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
      this.rttSeq = -1; // Karn: no RTT sample from a retransmitted segment
      this.sndNxt = this.sndUna;
      this.stack.stats.retransmitTimeouts++;
      this.rtx.set(this.rto);
      this.retransmitOne();
      this.stack.opts.wake();
      return;
    }
    if (this.sndWnd > 0 && this.sndBuf.length > seqDiff(this.sndNxt, this.bufSeq)) {
      // The SWS override: what the small window allows goes out now.
      this.swsOverride = true;
      this.output();
      this.swsOverride = false;
      this.stack.opts.wake();
      return;
    }
    if (this.sndWnd === 0 && this.sndBuf.length > seqDiff(this.sndNxt, this.bufSeq)) {
      // 3.8.6.1 zero-window probe: one byte beyond the window; it is retransmitted (with backoff)
      // until the window opens, and the retry count restarts with every ACK the guest sends back.
      this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
      const off = seqDiff(this.sndNxt, this.bufSeq);
      this.probing = true;
      this.stack.stats.zeroWindowProbes++;
      this.sendData(1, this.finQueued && off + 1 === this.sndBuf.length);
      this.rtx.set(this.rto);
      this.stack.opts.wake();
    }
  }

  /** Sends the segment at sndNxt (= sndUna) regardless of the window (a retransmission or a probe). */
  private retransmitOne(): void {
    const off = seqDiff(this.sndNxt, this.bufSeq);
    const unsent = this.sndBuf.length - off;
    // Within the window, or a single byte when it is shut (the probe).
    const len = Math.max(0, Math.min(this.mss, unsent, Math.max(1, seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt))));
    const fin = this.finQueued && len === Math.max(0, unsent) && seqLe(this.sndNxt, this.finSeq);
    if (len === 0 && !fin) return;
    this.sendData(len, fin);
  }

  // ---- from the guest ----

  segment(seg: TcpSegment): void {
    if (this.state === "SYN-SENT") { this.synSentSegment(seg); return; }
    if (this.state === "SYN-RECEIVED" && !this.synAckSent) {
      // The host connection is not up yet: retransmitted SYNs wait; a RST abandons the attempt.
      if (seg.flags & TCP_RST && seg.seq === this.rcvNxt) this.abort(false);
      return;
    }
    const wnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    if (seg.flags & TCP_RST) {
      // RFC 5961 3.2: reset only on an exact match; in the window, a challenge ACK.
      if (seg.seq === this.rcvNxt) { this.abort(false); return; }
      if (seqLe(this.rcvNxt, seg.seq) && seqLt(seg.seq, seqAdd(this.rcvNxt, Math.max(wnd, 1)))) this.sendAck();
      return;
    }
    if (seg.flags & TCP_SYN) {
      if (this.state === "SYN-RECEIVED" && seg.seq === this.irs) { this.sendSyn(); return; } // our SYN-ACK was lost
      this.sendAck(); // RFC 5961 4.2: challenge ACK
      return;
    }
    // Trim what was received already and what lies beyond the window (3.10.7.4 first check).
    let seq = seg.seq, data = seg.data, fin = (seg.flags & TCP_FIN) !== 0;
    const old = seqDiff(this.rcvNxt, seq);
    if (old > 0) {
      if (old > data.length) {
        // Wholly a duplicate (a retransmitted FIN included): acknowledge, take nothing.
        if (data.length > 0 || fin) { this.sendAck(); return; }
        // A pure ACK with an old sequence number: its acknowledgment is still news.
      } else { data = data.subarray(old); seq = this.rcvNxt; }
    }
    const ahead = seqDiff(seq, this.rcvNxt);
    const room = wnd - Math.max(0, ahead);
    if (data.length > 0 || fin) {
      if (ahead > 0 && ahead >= wnd) { this.sendAck(); return; } // beyond the window
      if (data.length > room) { data = data.subarray(0, Math.max(0, room)); fin = false; }
      if (data.length === 0 && !fin && ahead >= 0) {
        // A zero-window probe (or a segment entirely beyond the window): ACK with the window, but
        // still take its acknowledgment below.
        this.ackPending = true;
      }
    }
    if (!(seg.flags & TCP_ACK)) return;
    if (!this.ackInput(seg)) return;
    if (this.state === "CLOSED") return;
    // Text and FIN (3.10.7.4 seventh and eighth checks); nothing is taken after the guest's FIN.
    if ((data.length > 0 || fin) && this.peerFin) {
      if (this.state === "TIME-WAIT") this.rtx.set(TIME_WAIT_MS); // a retransmitted FIN restarts the wait
      this.ackPending = true;
    } else if ((data.length > 0 || fin) && ahead > 0) {
      this.holdOutOfOrder(seq, data, fin);
      this.ackPending = true; // a duplicate ACK at once tells the guest what is missing
    } else if (data.length > 0 || fin) {
      const full = data.length >= this.mss;
      this.takeInOrder(data, fin);
      const filled = this.drainOutOfOrder();
      if (fin || filled || this.peerFin) this.ackPending = true;
      else if (data.length > 0) {
        // A TSO segment from the guest counts for the full-size segments it stands for.
        if (full) this.unacked += Math.floor(data.length / this.mss);
        // An ACK for every second full-size segment (RFC 5681 4.2); a lone or short one after DELACK_MS.
        if (this.unacked >= 2 || !full) this.ackPending = true;
        else this.delack.set(DELACK_MS);
      }
    }
    if ((this.state as TcpState) !== "CLOSED") this.output();
  }

  /** The ACK field (3.10.7.4 fifth check); false when the segment is to be dropped. */
  private ackInput(seg: TcpSegment): boolean {
    const ack = seg.ack;
    if (this.state === "SYN-RECEIVED") {
      if (!(seqLt(this.sndUna, ack) && seqLe(ack, this.sndMax))) {
        this.emit({ seq: ack, ack: 0, flags: TCP_RST, wnd: 0 });
        return false;
      }
      this.state = "ESTABLISHED";
      this.retries = 0;
      this.rto = RTO_INITIAL_MS;
      this.sndWl1 = seg.seq; this.sndWl2 = ack;
      this.sndWnd = seg.wnd << this.sndShift;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.rtx.clear();
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      return true;
    }
    if (seqLt(this.sndMax, ack)) { this.sendAck(); return false; } // acknowledges something never sent
    const wndBytes = seg.wnd << this.sndShift;
    if (seqLt(this.sndUna, ack)) {
      const acked = seqDiff(ack, this.sndUna);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), this.sndBuf.length);
      this.sndBuf.drop(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      if (this.rttSeq >= 0 && seqLe(this.rttSeq, ack)) { this.rttSample(this.host.now() - this.rttStart); this.rttSeq = -1; }
      this.retries = 0;
      // Growth by the bytes acknowledged, as Linux counts (tcp_slow_start, tcp_cong_avoid_ai)
      // rather than RFC 5681's one MSS per ACK: the guest's GRO and delayed ACKs acknowledge
      // many segments at once (a TSO segment is dozens), which would keep the window small.
      if (this.dupAcks >= DUPACK_THRESHOLD) this.cwnd = this.ssthresh; // leaving fast recovery
      else if (this.cwnd < this.ssthresh) this.cwnd += acked;
      else this.cwnd += Math.max(1, Math.floor(this.mss * acked / this.cwnd));
      this.dupAcks = 0;
      if (seqDiff(this.sndMax, this.sndUna) > 0) this.rtx.set(this.rto); else this.rtx.clear();
      if (this.hostPaused && this.sndBuf.length < SND_BUF_MAX / 2) { this.hostPaused = false; this.sock?.resume(); }
    } else if (ack === this.sndUna && seg.data.length === 0 && (seg.flags & TCP_FIN) === 0 && wndBytes === this.sndWnd &&
      seqDiff(this.sndMax, this.sndUna) > 0) {
      // RFC 5681 3.2: a duplicate ACK; the third one retransmits the missing segment at once.
      if (++this.dupAcks === DUPACK_THRESHOLD) {
        this.ssthresh = Math.max(Math.floor(seqDiff(this.sndMax, this.sndUna) / 2), 2 * this.mss);
        this.cwnd = this.ssthresh + DUPACK_THRESHOLD * this.mss;
        this.rttSeq = -1;
        const saved = this.sndNxt;
        this.sndNxt = this.sndUna;
        this.stack.stats.fastRetransmits++;
        this.retransmitOne();
        if (seqLt(this.sndNxt, saved)) this.sndNxt = saved;
      } else if (this.dupAcks > DUPACK_THRESHOLD) this.cwnd += this.mss;
    }
    // 3.10.7.4: the window is taken from the newest segment only.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = wndBytes;
      this.maxSndWnd = Math.max(this.maxSndWnd, wndBytes);
      this.sndWl1 = seg.seq; this.sndWl2 = ack;
    }
    // The guest answers: a zero-window probe that stays unaccepted does not count toward giving up.
    if (this.sndWnd === 0 && ack === this.sndUna) this.retries = 0;
    if (this.probing && (this.sndWnd > 0 || seqLt(this.sndUna, ack) || ack !== this.sndUna)) {
      // The window opened: what the probe carried (taken or not) goes on as ordinary data.
      this.probing = false;
      if (ack === this.sndUna && seqLt(this.sndUna, this.sndNxt)) { this.sndNxt = this.sndUna; this.rtx.clear(); }
    }
    if (this.finQueued && ack === seqAdd(this.finSeq, 1)) {
      // Our FIN is acknowledged.
      if (this.state === "FIN-WAIT-1") this.state = "FIN-WAIT-2";
      else if (this.state === "CLOSING") this.enterTimeWait();
      else if (this.state === "LAST-ACK") { this.finish(); return false; }
    }
    return true;
  }

  private rttSample(r: number): void {
    // RFC 6298 2.2 / 2.3 with alpha 1/8, beta 1/4, K = 4, G = 1 ms.
    if (this.srtt < 0) { this.srtt = r; this.rttvar = r / 2; }
    else { this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r); this.srtt = 0.875 * this.srtt + 0.125 * r; }
    this.rto = Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  private takeInOrder(data: Uint8Array, fin: boolean): void {
    if (data.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      this.sock?.write(data); // the frame is ours (NetBackend.transmit): no copy
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.peerFin = true;
      this.sock?.end();
      if (this.state === "ESTABLISHED") this.state = "CLOSE-WAIT";
      else if (this.state === "FIN-WAIT-1") this.state = "CLOSING";
      else if (this.state === "FIN-WAIT-2") this.enterTimeWait();
    }
  }

  private holdOutOfOrder(seq: number, data: Uint8Array, fin: boolean): void {
    if (this.ooo.length >= MAX_OOO_SEGMENTS) return;
    if (this.ooo.some((s) => s.seq === seq && s.data.length >= data.length)) return; // a duplicate
    this.ooo.push({ seq, data: data.slice(), fin });
    this.oooBytes += data.length;
    this.ooo.sort((a, b) => seqDiff(a.seq, b.seq));
  }

  /** Moves held segments that now continue the stream; true when any did. */
  private drainOutOfOrder(): boolean {
    let any = false;
    while (this.ooo.length > 0 && !this.peerFin) {
      const s = this.ooo[0];
      const old = seqDiff(this.rcvNxt, s.seq);
      if (old < 0) break;
      this.ooo.shift();
      this.oooBytes -= s.data.length;
      if (old > s.data.length) continue; // wholly covered already
      this.takeInOrder(s.data.subarray(old), s.fin);
      any = true;
    }
    if (this.peerFin) { this.ooo.length = 0; this.oooBytes = 0; }
    return any;
  }

  private synSentSegment(seg: TcpSegment): void {
    // RFC 9293 3.10.7.3.
    const ackOk = (seg.flags & TCP_ACK) !== 0 && seqLt(this.iss, seg.ack) && seqLe(seg.ack, this.sndMax);
    if (seg.flags & TCP_ACK && !ackOk) {
      if (!(seg.flags & TCP_RST)) this.emit({ seq: seg.ack, ack: 0, flags: TCP_RST, wnd: 0 });
      return;
    }
    if (seg.flags & TCP_RST) { if (ackOk) this.abort(false); return; }
    if (!(seg.flags & TCP_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.takeSynOptions(seg, true);
    this.sndWl1 = seg.seq;
    this.retries = 0;
    this.rto = RTO_INITIAL_MS;
    if (!ackOk) {
      // Simultaneous open: SYN-RECEIVED, our SYN-ACK repeats our sequence number.
      this.state = "SYN-RECEIVED";
      this.synAckSent = true;
      this.sndWnd = seg.wnd;
      this.sendSyn();
      return;
    }
    this.sndUna = seg.ack;
    this.sndWnd = seg.wnd; // unscaled in a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl2 = seg.ack;
    this.state = "ESTABLISHED";
    this.rtx.clear();
    this.ackPending = true;
    this.output();
  }

  // ---- closing ----

  private enterTimeWait(): void {
    this.state = "TIME-WAIT";
    this.rtx.set(TIME_WAIT_MS);
  }

  /** Ends the connection: RST to the guest when `reset`, the host socket destroyed. */
  abort(reset: boolean): void {
    if (this.state === "CLOSED") return;
    if (reset) this.emit({ seq: this.sndNxt, ack: this.rcvNxt, flags: TCP_RST | TCP_ACK, wnd: 0 });
    const s = this.sock;
    this.sock = null;
    s?.destroy();
    this.finish();
  }

  /** Drops the connection without a word (a new SYN takes over its tuple). */
  forget(): void { this.finish(); }

  private finish(): void {
    this.state = "CLOSED";
    this.rtx.clear();
    this.delack.clear();
    this.ooo.length = 0;
    this.stack.remove(this);
    // In-order close: the host socket ended both ways already (or does once its writes drain).
    const s = this.sock;
    this.sock = null;
    if (s !== null && !this.peerFin) s.destroy();
  }
}

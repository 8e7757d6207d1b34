// User-mode network fuzzing: mutated Ethernet frames from the guest into the stack
// (src/net/user_net.ts) on an in-memory host — ARP, DHCP, ICMP echo, UDP to the host, DNS
// queries, TCP segments as seeds; bit flips, byte runs, boundary values in length/offset
// fields, truncation and extension; half of the mutated inputs get their IPv4 header (and UDP)
// checksums fixed up so the parsers behind the checksum checks run too. Host sockets now and
// then answer with random datagrams.
// One batch in four goes through the virtio-net device instead (a driver on test RAM, with or
// without MRG_RXBUF, posting receive buffers of random sizes), checking the used lengths.
// One batch in four drives TCP instead: a connection is set up, then segments with sequence and
// acknowledgment numbers around the live ones (data always the guest's stream at that sequence
// number, random flags, windows, options), host socket events (data, end, drain, congestion,
// reset), guest receive room coming and going and the fake clock jumping (RTO, persist,
// delayed ACK, TIME-WAIT), mixed with wholly mutated frames for the same connection.
// Findings: an exception out of transmit(), an input slower than HANG_MS, host sockets or
// queued frames beyond their bounds, a frame to the guest with a wrong IPv4 header checksum;
// for TCP also a segment with a bad checksum, bytes written to the host socket that are not the
// guest's stream in order, data to the guest that is not the host's stream at its sequence
// number, and timers left running after close().
import { Rng, type FuzzFinding, type FuzzTarget } from "../lib.js";
import { UserNet, MAX_QUEUED_FRAMES, MAX_UDP_SESSIONS, GATEWAY_MAC } from "../../src/net/user_net.js";
import { FakeFrontend, FakeNetHost, GUEST_MAC, guestUdp, type FakeTcpSocket } from "../../src/net/testing.js";
import {
  MAX_TCP_CONNECTIONS, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, buildTcp, parseTcp, seqAdd, seqDiff, type TcpHeader,
} from "../../src/net/tcp.js";
import {
  ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
  buildArp, buildEth, buildIpv4, checksum, finishChecksum, ip4, onesSum, parseEth, parseIpv4, pseudoSum, readU16, readU32,
  writeU16,
} from "../../src/net/packet.js";
import { VIRTIO_F_VERSION_1, VIRTIO_STATUS_DEVICE_NEEDS_RESET, featureBit } from "../../src/system/devices/virtio_mmio.js";
import {
  RX_QUEUE, TX_QUEUE, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_SIZE, VirtioNet,
} from "../../src/system/devices/virtio_net.js";
import type { NetBackend } from "../../src/net/backend.js";
import { TestDriver } from "../../src/system/devices/virtio_testing.js";
import { BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE, DHCPDISCOVER, OPT_END, OPT_MESSAGE_TYPE } from "../../src/net/dhcp.js";

const INPUTS_PER_BATCH = 400;
const HANG_MS = 200;
const GUEST = ip4("10.0.2.15"), GW = ip4("10.0.2.2"), DNS = ip4("10.0.2.3");
const ETH = 14;

function seeds(): Uint8Array[] {
  const arp = buildEth(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, buildArp({ op: ARP_OP_REQUEST, sha: GUEST_MAC, spa: GUEST, tha: new Uint8Array(6), tpa: GW }));
  const dhcp = new Uint8Array(BOOTP_FIXED_LEN + 4 + 4);
  dhcp[0] = 1; dhcp[1] = 1; dhcp[2] = 6; dhcp.set(GUEST_MAC, 28);
  dhcp.set([DHCP_MAGIC_COOKIE >>> 24, 0x82, 0x53, 0x63, OPT_MESSAGE_TYPE, 1, DHCPDISCOVER, OPT_END], BOOTP_FIXED_LEN);
  const echo = new Uint8Array(16); echo[0] = ICMP_ECHO_REQUEST; writeU16(echo, 2, checksum(echo, 0, 16));
  const dnsq = Uint8Array.of(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...new TextEncoder().encode("localhost"), 0, 0, 1, 0, 1);
  const syn = new Uint8Array(20); writeU16(syn, 0, 40000); writeU16(syn, 2, 80); syn[12] = 0x50; syn[13] = 2;
  writeU16(syn, 16, finishChecksum(onesSum(syn, 0, 20, pseudoSum(GUEST, GW, IPPROTO_TCP, 20))));
  return [
    arp,
    guestUdp(0, 68, 0xffffffff, 67, dhcp),
    buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_ICMP, 1, echo)),
    guestUdp(GUEST, 5000, GW, 7, new TextEncoder().encode("hello")),
    guestUdp(GUEST, 5001, DNS, 53, dnsq),
    buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 2, syn)),
  ];
}

const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x00, 0x14, 0x45, 0x4f, 0x40];

function mutate(rng: Rng, seed: Uint8Array): Uint8Array {
  let f = seed.slice();
  for (let k = rng.below(4) + 1; k > 0; k--) {
    switch (rng.below(6)) {
      case 0: { const i = rng.below(f.length); f[i] ^= 1 << rng.below(8); break; }
      case 1: { const i = rng.below(f.length); f[i] = rng.pick(BOUNDARY); break; }
      case 2: f = f.slice(0, rng.below(f.length + 1)); break;
      case 3: { const g = new Uint8Array(f.length + rng.below(64)); g.set(f); g.set(rng.bytes(g.length - f.length), f.length); f = g; break; }
      case 4: { // a length or offset field of the IPv4/UDP headers
        const at = rng.pick([ETH + 2, ETH + 6, ETH + 20 + 4, ETH + 20 + 2]);
        if (at + 1 < f.length) writeU16(f, at, rng.pick([0, 1, 7, 8, 19, 20, 0xffff, f.length - ETH, f.length - ETH + 1, rng.below(0x10000)]));
        break;
      }
      default: { const i = rng.below(f.length); f.set(rng.bytes(Math.min(8, f.length - i)), i); break; }
    }
  }
  if (rng.chance(0.5)) fixChecksums(f);
  return f;
}

/** Recomputes the IPv4 header checksum and, for UDP, the datagram's, where the lengths allow. */
function fixChecksums(f: Uint8Array): void {
  if (f.length < ETH + 20 || readU16(f, 12) !== ETHERTYPE_IPV4) return;
  const ihl = (f[ETH] & 0xf) * 4;
  if (ihl < 20 || ETH + ihl > f.length) return;
  writeU16(f, ETH + 10, 0); writeU16(f, ETH + 10, checksum(f, ETH, ihl));
  const total = readU16(f, ETH + 2);
  if (f[ETH + 9] !== IPPROTO_UDP || total > f.length - ETH || total < ihl + 8) return;
  const u = ETH + ihl, len = readU16(f, u + 4);
  if (len < 8 || u + len > f.length) return;
  writeU16(f, u + 6, 0);
  writeU16(f, u + 6, finishChecksum(onesSum(f, u, len, pseudoSum(readU32(f, ETH + 12), readU32(f, ETH + 16), IPPROTO_UDP, len))) || 0xffff);
}

let SEEDS: Uint8Array[] | null = null;

/** A random virtio_net_hdr: mostly plausible offload requests (NEEDS_CSUM, TSO) with hostile offsets and sizes. */
function randomHdr(rng: Rng, frameLen: number): Uint8Array {
  const h = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  if (rng.chance(0.4)) return h;
  h[0] = rng.chance(0.8) ? VIRTIO_NET_HDR_F_NEEDS_CSUM : rng.below(256);
  h[1] = rng.chance(0.5) ? rng.pick([VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4]) : rng.below(256);
  const le = (o: number, v: number): void => { h[o] = v & 0xff; h[o + 1] = (v >>> 8) & 0xff; };
  le(2, rng.below(0x10000));
  le(4, rng.pick([0, 1, 536, 1460, 1448, 9000, rng.below(0x10000)]));
  le(6, rng.pick([34, 14, frameLen, frameLen - 1, rng.below(0x10000)]));
  le(8, rng.pick([16, 6, 0, rng.below(0x10000)]));
  return h;
}

/** Frames through a VirtioNet on the stack; the device must never need a reset or overfill a buffer. */
function deviceBatch(rng: Rng, report: (f: FuzzFinding) => void): void {
  const net = new UserNet(new FakeNetHost());
  // The stack takes offloads; a backend that takes none (as a switch port) makes the card complete checksums and cut TSO segments.
  const plain = rng.chance(0.5);
  const backend: NetBackend = plain
    ? { offloads: 0, attach: (fe) => net.attach(fe), transmit: (f) => net.transmit(f), rxReady: () => net.rxReady() }
    : net;
  const dev = new VirtioNet(backend);
  const d = new TestDriver(dev, 2 << 20);
  const mrg = rng.chance(0.5);
  const offloads = rng.chance(0.5) ? [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4].filter(() => rng.chance(0.7)) : [];
  d.init(offloads.reduce((f, b) => f | featureBit(b), featureBit(VIRTIO_F_VERSION_1) | (mrg ? featureBit(VIRTIO_NET_F_MRG_RXBUF) : 0n)), [16, 16]);
  const mark = d.mark();
  const posted = new Map<number, number>();
  for (let i = 0; i < INPUTS_PER_BATCH / 8; i++) {
    const input = `seed ${rng.seed} device #${i} (mrg ${mrg}, offloads ${offloads.join(",")}, plain backend ${plain})`;
    try {
      d.release(mark);
      while (posted.size < 8) {
        // Without MRG_RXBUF a driver posts buffers for the largest frame (Linux: header + 1518);
        // a smaller one would wait forever for a frame it fits, and its descriptor be reused here.
        const len = mrg ? rng.pick([1, VIRTIO_NET_HDR_SIZE, 64, 600, 1526, 2048, rng.below(3000) + 1]) : rng.pick([1530, 2048, 4096]);
        posted.set(d.submit(RX_QUEUE, [{ writeLen: len }], { notify: rng.chance(0.5) }).head, len);
      }
      const f = mutate(rng, rng.pick(SEEDS!));
      d.submit(TX_QUEUE, [{ data: randomHdr(rng, f.length) }, { data: f }]);
      d.takeUsed(TX_QUEUE);
      for (const u of d.takeUsed(RX_QUEUE)) {
        const cap = posted.get(u.id);
        if (cap === undefined || u.len > cap || u.len < (mrg ? 1 : VIRTIO_NET_HDR_SIZE + 14)) report({ target: "net", input, error: `used ${JSON.stringify(u)} for a ${String(cap)}-byte buffer` });
        posted.delete(u.id);
      }
      if (d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET) { report({ target: "net", input, error: `device needs reset: ${d.mmio.lastError}` }); return; }
    } catch (e) {
      report({ target: "net", input, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      return;
    }
  }
}

/** Byte `i` of the guest's (g) or the host's (h) stream: any accepted data can be checked against it. */
const streamByte = (which: "g" | "h", i: number): number => (which === "g" ? Math.imul(i, 131) + 7 : Math.imul(i, 29) + 101) & 0xff;
const stream = (which: "g" | "h", off: number, len: number): Uint8Array => Uint8Array.from({ length: len }, (_, k) => streamByte(which, off + k));

/** False when `f` is a valid TCP segment of the guest whose data is not the guest's stream at its sequence number. */
function isStreamSegment(f: Uint8Array, isn: number): boolean {
  const eth = parseEth(f);
  if (eth === null || eth.type !== ETHERTYPE_IPV4) return true;
  const ip = parseIpv4(eth.payload);
  if (typeof ip === "string" || ip.proto !== IPPROTO_TCP) return true;
  const t = parseTcp(ip.payload, ip.src, ip.dst);
  if (typeof t === "string") return true;
  const off = seqDiff(t.seq, seqAdd(isn, 1));
  return off >= 0 && t.data.every((b, k) => b === streamByte("g", off + k));
}

/** One TCP connection under random segments, host events and clock jumps, with stream checks. */
function tcpBatch(rng: Rng, report: (f: FuzzFinding) => void): void {
  const host = new FakeNetHost();
  const net = new UserNet(host);
  const fe = new FakeFrontend();
  net.attach(fe);
  const port = 40000 + rng.below(1000);
  const isn = rng.u32();
  const input = (i: number, what: string): string => `seed ${rng.seed} tcp #${i}: ${what}`;
  const frame = (h: TcpHeader, data?: Uint8Array): Uint8Array =>
    buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 1, buildTcp(GUEST, GW, h, data)));
  const mss = rng.pick([undefined, 1, 88, 536, 1460, 0xffff]);
  const wscale = rng.pick([undefined, 0, 7, 14, 15, 255]);
  net.transmit(frame({ srcPort: port, dstPort: 80, seq: isn, ack: 0, flags: TCP_SYN, wnd: 0xffff, ...(mss !== undefined ? { mss } : {}), ...(wscale !== undefined ? { wscale } : {}) }));
  const sock: FakeTcpSocket | undefined = host.tcpSockets[0];
  if (sock === undefined) { report({ target: "net", input: input(0, "SYN"), error: "no host connection for a SYN" }); return; }
  sock.ev!.connected();
  let iss = -1;
  let hostSent = 0, hostEnded = false, written = 0, guestSent = 0;
  let guestFin = -1;
  let tainted = false;
  /** Checks what the stack sent; returns false after a finding. */
  const check = (i: number, what: string): boolean => {
    for (const out of fe.take()) {
      const eth = parseEth(out);
      if (eth === null || eth.type !== ETHERTYPE_IPV4) continue;
      const ip = parseIpv4(eth.payload);
      if (typeof ip === "string") { report({ target: "net", input: input(i, what), error: `bad IPv4 to the guest: ${ip}` }); return false; }
      if (ip.proto !== IPPROTO_TCP) continue;
      const t = parseTcp(ip.payload, ip.src, ip.dst);
      if (typeof t === "string") { report({ target: "net", input: input(i, what), error: `bad TCP to the guest: ${t}` }); return false; }
      if (t.flags & TCP_SYN) { iss = t.seq; continue; }
      if (t.data.length === 0 || iss < 0) continue;
      const off = seqDiff(t.seq, seqAdd(iss, 1));
      const want = off >= 0 && off + t.data.length <= hostSent ? stream("h", off, t.data.length) : null;
      if (want === null || want.some((b, k) => b !== t.data[k])) {
        report({ target: "net", input: input(i, what), error: `data to the guest at offset ${off} (+${t.data.length}) is not the host's stream (${hostSent} sent)` });
        return false;
      }
    }
    for (const w of sock.written.splice(0)) {
      if (tainted) continue;
      if (w.some((b, k) => b !== streamByte("g", written + k))) {
        report({ target: "net", input: input(i, what), error: `host socket got bytes ${written}+${w.length} out of order` });
        return false;
      }
      written += w.length;
    }
    if (!tainted && written > guestSent) { report({ target: "net", input: input(i, what), error: `host socket got ${written} bytes, the guest sent ${guestSent}` }); return false; }
    return true;
  };
  if (!check(0, "SYN-ACK") || iss < 0) { report({ target: "net", input: input(0, "SYN"), error: "no SYN-ACK" }); return; }
  net.transmit(frame({ srcPort: port, dstPort: 80, seq: seqAdd(isn, 1), ack: seqAdd(iss, 1), flags: TCP_ACK, wnd: rng.below(0x10000) }));
  for (let i = 1; i < INPUTS_PER_BATCH; i++) {
    let what = "";
    const t0 = Date.now();
    try {
      const ack = rng.chance(0.9) ? seqAdd(iss, 1 + rng.below(hostSent + 1)) : rng.u32();
      const wnd = rng.pick([0, 1, 100, 1460, 0xffff, rng.below(0x10000)]);
      switch (rng.below(10)) {
        case 0: case 1: case 2: { // guest data around the live sequence numbers
          // Around what the host socket has (the stack's RCV.NXT, or close): gaps get filled.
          let off = Math.max(0, written + rng.pick([0, 0, 0, -1, -100, -1460, 1, 100, 1460, 3000]));
          let len = rng.pick([0, 1, 7, 536, 1460, 2000]);
          if (guestFin >= 0) { off = Math.min(off, guestFin); len = Math.min(len, guestFin - off); }
          const fin = guestFin >= 0 ? off + len === guestFin && rng.chance(0.5) : rng.chance(0.03);
          if (fin && guestFin < 0) guestFin = off + len;
          const flags = (rng.chance(0.97) ? TCP_ACK : 0) | (rng.chance(0.5) ? TCP_PSH : 0) | (fin ? TCP_FIN : 0);
          what = `data off ${off} len ${len} flags ${flags} ack ${ack} wnd ${wnd}`;
          net.transmit(frame({ srcPort: port, dstPort: 80, seq: seqAdd(isn, 1 + off), ack, flags, wnd }, stream("g", off, len)));
          guestSent = Math.max(guestSent, off + len);
          break;
        }
        case 3: { // a bare segment with random flags (RST, SYN, URG ...) near the sequence numbers
          // RST is rare: an exact one ends the connection and the rest of the batch.
          const flags = rng.below(0x40) & (rng.chance(0.1) ? 0x3f : ~TCP_RST);
          const seq = seqAdd(isn, 1 + written + rng.pick([0, -1, 1, 0x10000, rng.u32()]));
          what = `flags ${flags} seq ${seq} ack ${ack}`;
          net.transmit(frame({ srcPort: port, dstPort: 80, seq, ack, flags, wnd }));
          break;
        }
        case 4: { // host data
          if (hostEnded) break;
          const n = rng.pick([1, 100, 1460, 5000, 70000]);
          what = `host data ${n}`;
          sock.ev!.data(stream("h", hostSent, n));
          hostSent += n;
          break;
        }
        case 5: {
          const e = rng.below(6);
          what = `host event ${e}`;
          if (e === 0 && !hostEnded) { hostEnded = true; sock.ev!.end(); }
          else if (e === 1) { sock.bufferedBytes = rng.pick([0, 1000, 1 << 20]); sock.ev!.drain(); }
          else if (e === 2 && rng.chance(0.1)) sock.ev!.closed(rng.chance(0.5));
          else if (e === 3) { fe.room = rng.chance(0.5) ? 0 : Infinity; net.rxReady(); }
          break;
        }
        case 6: {
          const ms = rng.pick([1, 40, 200, 1000, 5000, 60_000]);
          what = `clock +${ms}`;
          host.advance(ms);
          break;
        }
        default: { // a mutated frame of this connection
          const len = rng.below(64);
          what = "mutated";
          // fixChecksums leaves the TCP checksum alone: a frame that still passes carries this very
          // stream data (only padding or IPv4 fields changed), so the stream checks hold.
          const f = mutate(rng, frame({ srcPort: port, dstPort: 80, seq: seqAdd(isn, 1 + written), ack, flags: TCP_ACK, wnd }, stream("g", written, len)));
          // A 16-bit checksum lets about one changed segment in 65536 through: from then on the
          // guest's stream is not what this batch generated, and only the other checks apply.
          if (!tainted && !isStreamSegment(f, isn)) tainted = true;
          net.transmit(f);
          guestSent = Math.max(guestSent, written + len);
        }
      }
    } catch (e) {
      report({ target: "net", input: input(i, what), error: e instanceof Error ? e.stack ?? e.message : String(e) });
      return;
    }
    const ms = Date.now() - t0;
    if (ms > HANG_MS) report({ target: "net", input: input(i, what), error: `hang: ${ms} ms` });
    if (net.tcp.connections > MAX_TCP_CONNECTIONS) report({ target: "net", input: input(i, what), error: `${net.tcp.connections} TCP connections` });
    if (!check(i, what)) return;
  }
  net.close();
  if (host.pendingTimers !== 0) report({ target: "net", input: `seed ${rng.seed} tcp close`, error: `${host.pendingTimers} timers left after close()` });
}

export const target: FuzzTarget = {
  name: "net",
  description: "mutated guest frames into the user-mode network stack, TCP connections under random segments and host events; finding = exception, hang, unbounded host sockets/queues, bad outgoing checksums, TCP streams out of order, timers left behind",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    SEEDS ??= seeds();
    if (rng.chance(0.25)) { deviceBatch(rng, report); return INPUTS_PER_BATCH / 8; }
    if (rng.chance(1 / 3)) { tcpBatch(rng, report); return INPUTS_PER_BATCH; }
    const host = new FakeNetHost();
    const net = new UserNet(host);
    const fe = new FakeFrontend();
    fe.room = rng.chance(0.2) ? 0 : Infinity;
    net.attach(fe);
    for (let i = 0; i < INPUTS_PER_BATCH; i++) {
      const f = mutate(rng, rng.pick(SEEDS));
      const input = `seed ${rng.seed} #${i}: ${Array.from(f.subarray(0, 64), (b) => b.toString(16).padStart(2, "0")).join("")}`;
      const t0 = Date.now();
      try {
        net.transmit(f);
        if (rng.chance(0.05) && host.sockets.length > 0) rng.pick(host.sockets).receive(rng.bytes(rng.below(1600)), rng.pick(["127.0.0.1", "192.0.2.1", "::1", "bogus"]), rng.below(0x10000));
      } catch (e) {
        report({ target: "net", input, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      }
      const ms = Date.now() - t0;
      if (ms > HANG_MS) report({ target: "net", input, error: `hang: ${ms} ms` });
      if (net.udpSessions > MAX_UDP_SESSIONS) report({ target: "net", input, error: `${net.udpSessions} host UDP sockets` });
      for (const out of fe.take()) {
        const eth = parseEth(out);
        if (eth !== null && eth.type === ETHERTYPE_IPV4 && checksum(eth.payload, 0, 20) !== 0) report({ target: "net", input, error: "frame to the guest with a bad IPv4 header checksum" });
      }
    }
    await new Promise((r) => setImmediate(r)); // DNS answers
    const queued = net.queuedFrames;
    if (queued > MAX_QUEUED_FRAMES) report({ target: "net", input: `seed ${rng.seed}`, error: `${queued} frames queued` });
    net.close();
    return INPUTS_PER_BATCH;
  },
};

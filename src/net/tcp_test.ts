// The TCP state machine against constructed frames: a test plays the guest (segments in through
// UserNet.transmit, segments out of the fake NIC), the fake host's sockets play the far end, and
// the fake clock drives the timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ARP_OP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPPROTO_TCP, buildArp, buildEth, buildIpv4, ip4, parseArp, parseEth,
  parseIpv4, type Ip4,
} from "./packet.js";
import {
  DELACK_MS, MAX_RETRIES, SYN_RETRIES, RTO_INITIAL_MS, SND_BUF_MAX, TCP_ACK, TCP_FIN, TCP_MSS, TCP_PSH, TCP_RCV_BUF, TCP_RST, TCP_SYN,
  TCP_WSCALE, TIME_WAIT_MS, ByteQueue, buildTcp, parseTcp, seqAdd, seqLt, writeTcpHeader, type TcpHeader, type TcpSegment,
} from "./tcp.js";
import { NET_FRAME_CSUM_PARTIAL, NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4 } from "./backend.js";
import { completeChecksum } from "./offload.js";
import { GATEWAY_MAC, HostForwardError, UserNet, type UserNetConfig } from "./user_net.js";
import { FakeFrontend, FakeNetHost, GUEST_MAC, guestUdp, type FakeTcpSocket } from "./testing.js";

const GW = ip4("10.0.2.2"), GUEST = ip4("10.0.2.15"), OUTSIDE = ip4("192.0.2.7");
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Out extends TcpSegment { src: Ip4; dst: Ip4; partial: boolean; gsoSize: number }

class Harness {
  readonly host = new FakeNetHost();
  readonly fe = new FakeFrontend();
  readonly net: UserNet;
  constructor(config: Partial<UserNetConfig> = {}) {
    this.net = new UserNet(this.host, { config });
    this.net.attach(this.fe);
  }
  /** A segment from the guest; `partial`: its checksum left to the NIC (offload), as the frame is flagged. */
  send(h: TcpHeader, data?: Uint8Array, dst = GW, corrupt = false, partial = false): void {
    const t = buildTcp(GUEST, dst, h, data);
    if (partial) writeTcpHeader(t, 0, GUEST, dst, h, data?.length ?? 0, true);
    if (corrupt) t[t.length - 1] ^= 0x01;
    this.net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, dst, IPPROTO_TCP, 1, t)), partial ? NET_FRAME_CSUM_PARTIAL : 0);
  }
  /** Segments the stack sent to the guest since the last call (checksums verified; partial ones completed first, as the guest's NIC would). */
  take(): Out[] {
    return this.fe.takeWithMeta().map(({ frame: f, flags, gsoSize }) => {
      const partial = (flags & NET_FRAME_CSUM_PARTIAL) !== 0;
      if (partial) assert.ok(completeChecksum(f, 34, 16));
      const eth = parseEth(f)!;
      assert.equal(eth.type, ETHERTYPE_IPV4);
      const ip = parseIpv4(eth.payload);
      assert.ok(typeof ip !== "string");
      assert.equal(ip.proto, IPPROTO_TCP);
      const s = parseTcp(ip.payload, ip.src, ip.dst);
      assert.ok(typeof s !== "string", `bad TCP from the stack: ${String(s)}`);
      return { ...s, src: ip.src, dst: ip.dst, partial, gsoSize };
    });
  }
}

/** A guest-side connection: tracks its own sequence numbers. */
interface Conn { h: Harness; port: number; dstPort: number; seq: number; ack: number; sock: FakeTcpSocket; dst: Ip4 }

const GUEST_ISN = 0x1000;

/** Guest connects to dst:port; the host side accepts; returns the established connection. */
function connect(h: Harness, o: { port?: number; dstPort?: number; mss?: number; wscale?: number; wnd?: number; isn?: number; dst?: Ip4 } = {}): Conn {
  const port = o.port ?? 40000, dstPort = o.dstPort ?? 80, dst = o.dst ?? GW, isn = o.isn ?? GUEST_ISN;
  h.send({ srcPort: port, dstPort, seq: isn, ack: 0, flags: TCP_SYN, wnd: 0xffff, mss: o.mss ?? 1460, ...(o.wscale !== undefined ? { wscale: o.wscale } : {}) }, undefined, dst);
  assert.equal(h.take().length, 0, "SYN-ACK waits for the host connection");
  const sock = h.host.tcpSockets[h.host.tcpSockets.length - 1];
  sock.ev!.connected();
  const [sa] = h.take();
  assert.equal(sa.flags, TCP_SYN | TCP_ACK);
  assert.equal(sa.ack, seqAdd(isn, 1));
  const c: Conn = { h, port, dstPort, seq: seqAdd(isn, 1), ack: seqAdd(sa.seq, 1), sock, dst };
  h.send({ srcPort: port, dstPort, seq: c.seq, ack: c.ack, flags: TCP_ACK, wnd: o.wnd ?? 0xffff }, undefined, dst);
  assert.equal(h.take().length, 0);
  return c;
}

function gsend(c: Conn, data: Uint8Array, o: { flags?: number; wnd?: number; seq?: number } = {}): void {
  const seq = o.seq ?? c.seq;
  c.h.send({ srcPort: c.port, dstPort: c.dstPort, seq, ack: c.ack, flags: o.flags ?? (TCP_ACK | (data.length > 0 ? TCP_PSH : 0)), wnd: o.wnd ?? 0xffff }, data, c.dst);
  if (o.seq === undefined) c.seq = seqAdd(c.seq, data.length + ((o.flags ?? 0) & TCP_FIN ? 1 : 0));
}

/** The guest acknowledges everything it has received (ack = c.ack) with window `wnd`. */
function gack(c: Conn, wnd = 0xffff, ack = c.ack): void {
  c.h.send({ srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack, flags: TCP_ACK, wnd }, undefined, c.dst);
}

/** Data segments out, taking c.ack forward over the in-order ones. */
function received(c: Conn, segs: Out[]): string {
  let s = "";
  for (const x of segs) {
    if (x.data.length > 0 && x.seq === c.ack) { s += dec(x.data); c.ack = seqAdd(c.ack, x.data.length); }
    if (x.flags & TCP_FIN && seqAdd(x.seq, x.data.length) === c.ack) c.ack = seqAdd(c.ack, 1);
  }
  return s;
}

test("handshake: the SYN-ACK comes once the host connects, with our MSS and window scale; a retransmitted SYN is answered again", () => {
  const h = new Harness();
  h.send({ srcPort: 40000, dstPort: 8080, seq: 77, ack: 0, flags: TCP_SYN, wnd: 0xffff, mss: 1000, wscale: 7 });
  assert.equal(h.host.tcpSockets.length, 1);
  assert.equal(`${h.host.tcpSockets[0].address}:${h.host.tcpSockets[0].port}`, "127.0.0.1:8080");
  h.send({ srcPort: 40000, dstPort: 8080, seq: 77, ack: 0, flags: TCP_SYN, wnd: 0xffff, mss: 1000, wscale: 7 });
  assert.equal(h.take().length, 0);
  assert.equal(h.host.tcpSockets.length, 1, "a retransmitted SYN opens no second host connection");
  h.host.tcpSockets[0].ev!.connected();
  const [sa] = h.take();
  assert.deepEqual([sa.src, sa.dst, sa.srcPort, sa.dstPort, sa.flags, sa.ack, sa.mss, sa.wscale], [GW, GUEST, 8080, 40000, TCP_SYN | TCP_ACK, 78, TCP_MSS, TCP_WSCALE]);
  h.send({ srcPort: 40000, dstPort: 8080, seq: 77, ack: 0, flags: TCP_SYN, wnd: 0xffff, mss: 1000, wscale: 7 });
  const [again] = h.take();
  assert.deepEqual([again.flags, again.seq], [TCP_SYN | TCP_ACK, sa.seq], "our SYN-ACK was lost: the same one again");
  h.send({ srcPort: 40000, dstPort: 8080, seq: 78, ack: seqAdd(sa.seq, 1), flags: TCP_ACK, wnd: 100 });
  assert.deepEqual(h.net.tcp.states(), ["ESTABLISHED"]);
  // Without the guest's window scale option, none is offered back.
  h.send({ srcPort: 40001, dstPort: 8080, seq: 5, ack: 0, flags: TCP_SYN, wnd: 0xffff });
  h.host.tcpSockets[1].ev!.connected();
  const [sb] = h.take();
  assert.equal(sb.wscale, null);
  assert.equal(sb.mss, TCP_MSS);
});

test("data both ways: guest bytes reach the host socket and are acknowledged; host bytes reach the guest with PSH", () => {
  const h = new Harness();
  const c = connect(h);
  gsend(c, enc("GET / HTTP/1.0\r\n\r\n"));
  assert.equal(dec(c.sock.bytes()), "GET / HTTP/1.0\r\n\r\n");
  const [ack] = h.take();
  assert.equal(ack.flags, TCP_ACK);
  assert.equal(ack.ack, c.seq, "a short segment is acknowledged at once");
  c.sock.ev!.data(enc("HTTP/1.0 200 OK\r\n"));
  const segs = h.take();
  assert.equal(segs.length, 1);
  assert.equal(segs[0].flags, TCP_ACK | TCP_PSH);
  assert.equal(received(c, segs), "HTTP/1.0 200 OK\r\n");
});

test("segmentation: host data is cut to the guest's MSS; a full-size segment from the guest is acknowledged on a short timer", () => {
  const h = new Harness();
  const c = connect(h, { mss: 1000, wscale: 7, wnd: 1000 });
  const big = new Uint8Array(5500).map((_, i) => i & 0xff);
  c.sock.ev!.data(big);
  const segs = h.take();
  assert.deepEqual(segs.map((s) => s.data.length), [1000, 1000, 1000, 1000, 1000, 500]);
  assert.deepEqual(segs.map((s) => s.flags & TCP_PSH), [0, 0, 0, 0, 0, TCP_PSH]);
  const got = new Uint8Array(5500);
  for (const s of segs) got.set(s.data, s.seq - segs[0].seq);
  assert.deepEqual(got, big);
  // Guest → host: one full-size segment waits for a second one or DELACK_MS.
  c.ack = seqAdd(c.ack, 5500);
  gsend(c, new Uint8Array(1460));
  assert.equal(h.take().length, 0);
  h.host.advance(DELACK_MS);
  const [d] = h.take();
  assert.equal(d.ack, c.seq);
  gsend(c, new Uint8Array(1460));
  gsend(c, new Uint8Array(1460));
  const acks = h.take();
  assert.equal(acks.length, 1, "every second full-size segment");
  assert.equal(acks[0].ack, c.seq);
});

test("the guest's window: sending stops when it is full and goes on when the guest acknowledges", () => {
  const h = new Harness();
  const c = connect(h, { mss: 1000, wnd: 3000 });
  c.sock.ev!.data(new Uint8Array(10_000));
  const first = h.take();
  assert.deepEqual(first.map((s) => s.data.length), [1000, 1000, 1000], "3000 bytes: the window");
  c.ack = seqAdd(c.ack, 2000);
  gack(c, 3000);
  const next = h.take();
  assert.deepEqual(next.map((s) => s.data.length), [1000, 1000], "the right edge moved by 2000");
  // A larger window (update without new data acknowledged) lets more out.
  gack(c, 6000);
  assert.deepEqual(h.take().map((s) => s.data.length), [1000, 1000, 1000]);
});

test("sender SWS avoidance: a window smaller than a segment waits, then the override timeout sends what fits", () => {
  const h = new Harness();
  const c = connect(h, { mss: 1000 });
  gack(c, 500);
  c.sock.ev!.data(new Uint8Array(5000));
  assert.equal(h.take().length, 0, "500 bytes of window: less than a segment and half the largest window");
  h.host.advance(RTO_INITIAL_MS);
  assert.deepEqual(h.take().map((s) => s.data.length), [500]);
});

test("retransmission: a lost segment is sent again after the RTO, then with the RTO doubled; a late ACK stops it", () => {
  const h = new Harness();
  const c = connect(h);
  c.sock.ev!.data(enc("lost data"));
  const [orig] = h.take(); // the guest never sees it
  h.host.advance(RTO_INITIAL_MS - 1);
  assert.equal(h.take().length, 0);
  h.host.advance(1);
  const [r1] = h.take();
  assert.deepEqual([r1.seq, dec(r1.data)], [orig.seq, "lost data"]);
  h.host.advance(2 * RTO_INITIAL_MS - 1);
  assert.equal(h.take().length, 0, "backoff: the second retransmission waits twice as long");
  h.host.advance(1);
  const [r2] = h.take();
  assert.equal(r2.seq, orig.seq);
  assert.equal(received(c, [r2]), "lost data");
  gack(c);
  h.host.advance(60_000);
  assert.equal(h.take().length, 0, "acknowledged: no more retransmissions");
  assert.equal(h.net.tcp.stats.retransmitTimeouts, 2);
});

test("retransmission gives up after MAX_RETRIES: RST to the guest, the host socket destroyed", () => {
  const h = new Harness();
  const c = connect(h);
  c.sock.ev!.data(enc("x"));
  h.take();
  for (let i = 0; i <= MAX_RETRIES; i++) h.host.advance(60_000);
  const segs = h.take();
  assert.equal(segs.filter((s) => s.data.length === 1).length, MAX_RETRIES);
  assert.equal(segs[segs.length - 1].flags & TCP_RST, TCP_RST);
  assert.ok(c.sock.destroyed);
  assert.equal(h.net.tcp.connections, 0);
});

test("fast retransmit: three duplicate ACKs resend the missing segment before the timer", () => {
  const h = new Harness();
  const c = connect(h, { mss: 1000 });
  c.sock.ev!.data(new Uint8Array(5000));
  const segs = h.take();
  assert.equal(segs.length, 5);
  // The guest got all but the first: three duplicate ACKs for it.
  for (let i = 0; i < 3; i++) gack(c);
  const [re] = h.take();
  assert.deepEqual([re.seq, re.data.length], [segs[0].seq, 1000]);
  assert.deepEqual([h.net.tcp.stats.fastRetransmits, h.net.tcp.stats.retransmitTimeouts], [1, 0]);
});

test("zero window: nothing is sent, a one-byte probe goes out on the persist timer with backoff, the rest once the window opens", () => {
  const h = new Harness();
  const c = connect(h, { wnd: 0 });
  c.sock.ev!.data(enc("0123456789"));
  assert.equal(h.take().length, 0);
  h.host.advance(RTO_INITIAL_MS);
  const [p1] = h.take();
  assert.deepEqual([p1.seq, dec(p1.data)], [c.ack, "0"], "a one-byte probe");
  gack(c, 0); // the guest drops the byte and says its window is still zero
  h.host.advance(2 * RTO_INITIAL_MS - 1);
  assert.equal(h.take().length, 0);
  h.host.advance(1);
  const [p2] = h.take();
  assert.deepEqual([p2.seq, dec(p2.data)], [c.ack, "0"]);
  // Probing goes on (far past MAX_RETRIES) as long as the guest answers.
  for (let i = 0; i < MAX_RETRIES + 5; i++) { gack(c, 0); h.host.advance(60_000); }
  assert.ok(h.take().every((s) => s.data.length === 1 && (s.flags & TCP_RST) === 0));
  assert.equal(h.net.tcp.connections, 1);
  gack(c, 1000);
  assert.equal(received(c, h.take()), "0123456789");
});

test("FIN from the guest: a half-close; the host still sends, then its FIN goes out and the connection ends on the ACK", () => {
  const h = new Harness();
  const c = connect(h);
  gsend(c, enc("request"), { flags: TCP_ACK | TCP_FIN });
  assert.equal(dec(c.sock.bytes()), "request");
  assert.ok(c.sock.ended, "the guest's FIN half-closes the host socket");
  const [a] = h.take();
  assert.equal(a.ack, c.seq, "FIN acknowledged");
  assert.deepEqual(h.net.tcp.states(), ["CLOSE-WAIT"]);
  c.sock.ev!.data(enc("response"));
  c.sock.ev!.end();
  const segs = h.take();
  assert.equal(received(c, segs), "response");
  assert.ok(segs.some((s) => s.flags & TCP_FIN));
  assert.deepEqual(h.net.tcp.states(), ["LAST-ACK"]);
  gack(c);
  assert.equal(h.net.tcp.connections, 0);
  assert.equal(c.sock.destroyed, false, "closed in order, not destroyed");
});

test("FIN from the host: FIN-WAIT-1/2, the guest may still send (half-close), its FIN leads to TIME-WAIT and then nothing", () => {
  const h = new Harness();
  const c = connect(h);
  c.sock.ev!.data(enc("bye"));
  c.sock.ev!.end();
  const segs = h.take();
  assert.equal(received(c, segs), "bye");
  assert.equal(segs[segs.length - 1].flags & TCP_FIN, TCP_FIN);
  assert.deepEqual(h.net.tcp.states(), ["FIN-WAIT-1"]);
  gack(c);
  assert.deepEqual(h.net.tcp.states(), ["FIN-WAIT-2"]);
  gsend(c, enc("more from the guest"));
  assert.equal(dec(c.sock.bytes()), "more from the guest");
  h.take();
  gsend(c, new Uint8Array(0), { flags: TCP_ACK | TCP_FIN });
  assert.ok(c.sock.ended);
  const [a] = h.take();
  assert.equal(a.ack, c.seq);
  assert.deepEqual(h.net.tcp.states(), ["TIME-WAIT"]);
  // A retransmitted FIN is acknowledged again.
  gsend(c, new Uint8Array(0), { flags: TCP_ACK | TCP_FIN, seq: seqAdd(c.seq, -1) });
  assert.equal(h.take()[0].ack, c.seq);
  h.host.advance(TIME_WAIT_MS);
  assert.equal(h.net.tcp.connections, 0);
  assert.equal(h.host.pendingTimers, 0, "no timer left behind");
});

test("RST: an exact one ends the connection and destroys the host socket; an in-window one draws a challenge ACK; a host reset becomes RST", () => {
  const h = new Harness();
  const c = connect(h);
  h.send({ srcPort: c.port, dstPort: c.dstPort, seq: seqAdd(c.seq, 100), ack: 0, flags: TCP_RST, wnd: 0 });
  const [ch] = h.take();
  assert.deepEqual([ch.flags, ch.ack], [TCP_ACK, c.seq], "RFC 5961 challenge ACK");
  assert.equal(h.net.tcp.connections, 1);
  h.send({ srcPort: c.port, dstPort: c.dstPort, seq: seqAdd(c.seq, 10_000_000), ack: 0, flags: TCP_RST, wnd: 0 });
  assert.equal(h.take().length, 0, "out of the window: ignored");
  h.send({ srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack: 0, flags: TCP_RST, wnd: 0 });
  assert.equal(h.net.tcp.connections, 0);
  assert.ok(c.sock.destroyed);
  assert.equal(h.take().length, 0, "a RST is never answered");
  const d = connect(h, { port: 40001 });
  d.sock.ev!.closed(true);
  const [r] = h.take();
  assert.equal(r.flags & TCP_RST, TCP_RST);
  assert.equal(r.seq, d.ack);
  assert.equal(h.net.tcp.connections, 0);
  // A segment for no connection is answered with RST (seq from its ACK field).
  gack(d);
  const [r2] = h.take();
  assert.deepEqual([r2.flags, r2.seq], [TCP_RST, d.ack]);
});

test("out-of-order segments are held and delivered once the gap fills; duplicates are acknowledged and not written twice", () => {
  const h = new Harness();
  const c = connect(h);
  const a = enc("a".repeat(1000)), b = enc("b".repeat(1000)), cc = enc("c".repeat(500));
  gsend(c, b, { seq: seqAdd(c.seq, 1000) });
  gsend(c, cc, { seq: seqAdd(c.seq, 2000) });
  assert.equal(c.sock.bytes().length, 0);
  const dups = h.take();
  assert.ok(dups.length >= 2 && dups.every((s) => s.ack === c.seq), "duplicate ACKs name the gap");
  gsend(c, a, { seq: c.seq });
  c.seq = seqAdd(c.seq, 2500);
  assert.equal(dec(c.sock.bytes()), dec(a) + dec(b) + dec(cc));
  assert.equal(h.take().at(-1)!.ack, c.seq);
  gsend(c, a, { seq: seqAdd(c.seq, -2500) }); // an old duplicate
  gsend(c, enc("bbbbcccc"), { seq: seqAdd(c.seq, -8) }); // overlapping the end
  assert.equal(c.sock.bytes().length, 2500, "nothing written twice");
  assert.ok(h.take().every((s) => s.ack === c.seq));
  // Partly old, partly new: only the new part is taken.
  gsend(c, enc("ccNEW"), { seq: seqAdd(c.seq, -2) });
  c.seq = seqAdd(c.seq, 3);
  assert.equal(dec(c.sock.bytes()).slice(-5), "ccNEW");
  assert.equal(c.sock.bytes().length, 2503);
});

test("sequence numbers wrap modulo 2^32", () => {
  const h = new Harness();
  const c = connect(h, { isn: 0xfffffe00 });
  const data = new Uint8Array(1400).map((_, i) => (i * 7) & 0xff);
  gsend(c, data);
  assert.ok(seqLt(0xfffffe00, c.seq) && c.seq < 0x1000, "the stream crossed 2^32");
  assert.deepEqual(c.sock.bytes(), data);
  assert.equal(h.take()[0].ack, c.seq);
});

test("bad checksums and truncated headers are dropped without an answer or harm", () => {
  const h = new Harness();
  const c = connect(h);
  gsend(c, enc("corrupt"), {});
  c.sock.written.length = 0; h.take();
  h.send({ srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: TCP_ACK, wnd: 0xffff }, enc("bad!"), GW, true);
  assert.equal(c.sock.written.length, 0);
  assert.equal(h.take().length, 0);
  assert.equal(h.net.stats.dropped["tcp-checksum"], 1);
  const t = buildTcp(GUEST, GW, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, wnd: 0 });
  h.net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 1, t.subarray(0, 12))));
  assert.equal(h.net.stats.dropped["tcp-short"], 1);
  const bad = t.slice(); bad[12] = 0xf0; // data offset beyond the segment
  h.net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 1, bad)));
  assert.equal(h.net.stats.dropped["tcp-header-length"], 1);
  assert.equal(h.net.tcp.connections, 1);
});

test("backpressure: host reads pause while the guest holds its window shut and resume as it acknowledges; a congested host socket closes the window", () => {
  const h = new Harness();
  const c = connect(h, { wscale: 7, wnd: 0 });
  c.sock.ev!.data(new Uint8Array(SND_BUF_MAX));
  assert.ok(c.sock.paused, "host reads paused");
  gack(c, (SND_BUF_MAX * 2) >> 7);
  let got = 0;
  for (let i = 0; i < 500 && got < SND_BUF_MAX; i++) {
    const segs = h.take();
    got += received(c, segs).length;
    gack(c, (SND_BUF_MAX * 2) >> 7);
  }
  assert.equal(got, SND_BUF_MAX);
  assert.equal(c.sock.paused, false, "resumed once acknowledged");
  // The host socket takes nothing more: the window offered to the guest closes as the guest
  // fills what was advertised (the right edge never moves left, 3.8.6.2.2).
  c.sock.bufferedBytes = TCP_RCV_BUF;
  gsend(c, new Uint8Array(100));
  let last = h.take().at(-1)!;
  let sent = 100;
  while (last.wnd > 0) {
    const n = Math.min(1460, last.wnd << TCP_WSCALE);
    gsend(c, new Uint8Array(n)); sent += n;
    h.host.advance(DELACK_MS);
    last = h.take().at(-1)!;
  }
  assert.equal(last.ack, c.seq);
  assert.ok(sent <= TCP_RCV_BUF);
  gsend(c, new Uint8Array(100));
  assert.equal(c.sock.bytes().length, sent, "data beyond the closed window is not taken");
  h.take();
  c.sock.bufferedBytes = 0;
  c.sock.ev!.drain();
  const [u] = h.take();
  assert.equal(u.wnd << TCP_WSCALE, TCP_RCV_BUF, "a window update once the host socket drains");
});

test("many concurrent connections keep their streams apart", () => {
  const h = new Harness();
  const conns: Conn[] = [];
  for (let i = 0; i < 20; i++) conns.push(connect(h, { port: 41000 + i, dstPort: 8000 + (i % 3) }));
  assert.equal(h.net.tcp.connections, 20);
  for (const [i, c] of conns.entries()) { gsend(c, enc(`to-host-${i}`)); c.sock.ev!.data(enc(`to-guest-${i}`)); }
  const segs = h.take();
  for (const [i, c] of conns.entries()) {
    assert.equal(dec(c.sock.bytes()), `to-host-${i}`);
    assert.equal(received(c, segs.filter((s) => s.dstPort === c.port)), `to-guest-${i}`);
  }
});

test("hostfwd tcp: a host client's connection opens one toward the guest from 10.0.2.2; data flows both ways", async () => {
  const h = new Harness({ hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 8080, guestAddr: null, guestPort: 80 }] });
  await h.net.startForwards();
  // Before the guest has sent a frame there is no one to connect to.
  const early = h.host.clientConnect("127.0.0.1", 8080)!;
  assert.ok(early.destroyed);
  h.net.transmit(guestUdp(GUEST, 5000, GW, 9, enc("hi"))); // the stack learns the guest's MAC
  const client = h.host.clientConnect("127.0.0.1", 8080, "127.0.0.1", 50123)!;
  client.ev!.data(enc("early bytes"));
  const [syn] = h.take();
  assert.deepEqual([syn.src, syn.dst, syn.dstPort, syn.flags, syn.mss, syn.wscale], [GW, GUEST, 80, TCP_SYN, TCP_MSS, TCP_WSCALE]);
  h.send({ srcPort: 80, dstPort: syn.srcPort, seq: 9000, ack: seqAdd(syn.seq, 1), flags: TCP_SYN | TCP_ACK, wnd: 0xffff, mss: 1460, wscale: 7 });
  const c: Conn = { h, port: 80, dstPort: syn.srcPort, seq: 9001, ack: seqAdd(syn.seq, 1), sock: client, dst: GW };
  const segs = h.take();
  assert.equal(received(c, segs), "early bytes");
  gsend(c, enc("from the guest"));
  assert.equal(dec(client.bytes()), "from the guest");
  // The guest's SYN retransmission timer: an unanswered SYN is sent again, then given up.
  const lonely = h.host.clientConnect("127.0.0.1", 8080, "127.0.0.1", 50124)!;
  h.take();
  h.host.advance(RTO_INITIAL_MS);
  assert.equal(h.take()[0].flags, TCP_SYN);
  for (let i = 0; i < 8; i++) h.host.advance(60_000);
  assert.ok(lonely.destroyed, "the host client is dropped once the guest never answers");
  assert.equal(h.take().filter((s) => s.flags === TCP_SYN).length, SYN_RETRIES - 1, "SYN_RETRIES retransmissions in all");
  // A refused forward (RST from the guest) drops the host client.
  const refused = h.host.clientConnect("127.0.0.1", 8080, "127.0.0.1", 50125)!;
  const [s2] = h.take();
  assert.equal(s2.flags, TCP_SYN);
  h.send({ srcPort: 80, dstPort: s2.srcPort, seq: 0, ack: seqAdd(s2.seq, 1), flags: TCP_RST | TCP_ACK, wnd: 0 });
  assert.ok(refused.destroyed);
});

test("hostfwd: a host port already taken is a clear error", async () => {
  const h = new Harness({ hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestAddr: null, guestPort: 22 }] });
  h.host.taken.add("127.0.0.1:2222");
  await assert.rejects(h.net.startForwards(), (e: Error) => e instanceof HostForwardError &&
    e.message === "hostfwd=tcp:127.0.0.1:2222-:22: host port 2222 on 127.0.0.1 is already in use (EADDRINUSE)");
});

test("hostfwd udp: host datagrams reach the guest from 10.0.2.2 and the guest's replies go back to the client", async () => {
  const h = new Harness({ hostfwd: [{ proto: "udp", hostAddr: "127.0.0.1", hostPort: 5353, guestAddr: null, guestPort: 53 }] });
  await h.net.startForwards();
  h.net.transmit(guestUdp(GUEST, 5000, GW, 9, enc("mac")));
  h.fe.take();
  const bound = h.host.udpBound.get("127.0.0.1:5353")!;
  bound.receive(enc("query"), "127.0.0.1", 34567);
  const [f] = h.fe.take();
  const ip = parseIpv4(parseEth(f)!.payload);
  assert.ok(typeof ip !== "string");
  assert.deepEqual([ip.src, ip.dst], [GW, GUEST]);
  const mapped = (ip.payload[0] << 8) | ip.payload[1];
  assert.equal((ip.payload[2] << 8) | ip.payload[3], 53);
  h.net.transmit(guestUdp(GUEST, 53, GW, mapped, enc("answer")));
  assert.deepEqual(bound.sent.map((s) => [dec(s.data), s.address, s.port]), [["answer", "127.0.0.1", 34567]]);
});

test("restrict=on: connections anywhere are refused at once (no host socket), other UDP dropped; forwards still work", async () => {
  const h = new Harness({ restrict: true, hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 8080, guestAddr: null, guestPort: 80 }] });
  await h.net.startForwards();
  for (const dst of [OUTSIDE, GW]) {
    h.send({ srcPort: 40000, dstPort: 443, seq: 1, ack: 0, flags: TCP_SYN, wnd: 0xffff }, undefined, dst);
    const [r] = h.take();
    assert.deepEqual([r.flags, r.ack], [TCP_RST | TCP_ACK, 2]);
  }
  assert.equal(h.host.tcpSockets.length, 0, "the host connected nowhere");
  h.net.transmit(guestUdp(GUEST, 5000, OUTSIDE, 9, enc("x")));
  assert.equal(h.host.sockets.length, 0);
  assert.equal(h.net.stats.dropped.restricted, 1);
  const client = h.host.clientConnect("127.0.0.1", 8080)!;
  assert.equal(client.destroyed, false);
  const [syn] = h.take();
  assert.equal(syn.flags, TCP_SYN);
});

test("guestfwd: the named address:port reaches its host service even with restrict=on, and ARP answers for it", () => {
  const svc = ip4("10.0.2.100");
  const h = new Harness({ restrict: true, guestfwd: [{ addr: svc, port: 80, hostAddr: "127.0.0.1", hostPort: 8080 }] });
  h.net.transmit(buildEth(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, buildArp({ op: ARP_OP_REQUEST, sha: GUEST_MAC, spa: GUEST, tha: new Uint8Array(6), tpa: svc })));
  const [arp] = h.fe.take();
  assert.equal(parseArp(parseEth(arp)!.payload)!.spa, svc);
  const c = connect(h, { dst: svc });
  assert.equal(`${c.sock.address}:${c.sock.port}`, "127.0.0.1:8080");
  gsend(c, enc("hi"));
  assert.equal(dec(c.sock.bytes()), "hi");
  // Another port of that address is not a named service.
  h.send({ srcPort: 40001, dstPort: 81, seq: 1, ack: 0, flags: TCP_SYN, wnd: 0xffff }, undefined, svc);
  assert.equal(h.take().at(-1)!.flags, TCP_RST | TCP_ACK);
  assert.equal(h.host.tcpSockets.length, 1);
});

test("ByteQueue: pushes coalesce, copies cross chunks, drops advance", () => {
  const q = new ByteQueue();
  q.push(enc("abc")); q.push(new Uint8Array(20_000).fill(0x78)); q.push(enc("def"));
  assert.equal(q.length, 20_006);
  assert.equal(dec(q.copy(1, 4)), "bcxx");
  q.drop(2);
  assert.equal(dec(q.copy(0, 3)), "cxx");
  assert.equal(dec(q.copy(20_001, 3)), "def");
  q.drop(20_001);
  assert.equal(dec(q.copy(0, 3)), "def");
  q.drop(5);
  assert.equal(q.length, 0);
});

test("offloads toward the guest: with CSUM checksums are left partial; with TSO host data goes out in segments of many MSS, the MSS as GSO size", () => {
  const h = new Harness();
  h.fe.offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4;
  const c = connect(h, { mss: 1000, wscale: 7 });
  const data = new Uint8Array(100_000).map((_, i) => (i * 13) & 0xff);
  c.sock.ev!.data(data);
  // The initial congestion window (10 segments) goes out as one segment standing for ten.
  const first = h.take();
  assert.deepEqual(first.map((x) => [x.data.length, x.gsoSize, x.partial]), [[10_000, 1000, true]]);
  c.ack = seqAdd(c.ack, 10_000);
  gack(c);
  // Slow start grows by the bytes acknowledged (one ACK for ten segments doubles the window).
  const second = h.take();
  assert.deepEqual(second.map((x) => x.data.length), [20_000]);
  c.ack = seqAdd(c.ack, 20_000);
  gack(c);
  const third = h.take();
  assert.deepEqual(third.map((x) => x.data.length), [40_000], "40 segments of 1000 fit one IPv4 datagram");
  c.ack = seqAdd(c.ack, 40_000);
  gack(c);
  const rest = h.take();
  assert.deepEqual(rest.map((x) => x.data.length), [30_000]);
  const got = new Uint8Array(100_000);
  for (const x of [...first, ...second, ...third, ...rest]) got.set(x.data, seqAdd(x.seq, -first[0].seq));
  assert.deepEqual(got, data);
  // A segment of at most one MSS is no GSO segment.
  c.ack = seqAdd(c.ack, 30_000);
  gack(c);
  c.sock.ev!.data(new Uint8Array(700));
  assert.deepEqual(h.take().map((x) => [x.data.length, x.gsoSize, x.partial]), [[700, 0, true]]);

  // CSUM alone: partial checksums, segments of one MSS.
  const h2 = new Harness();
  h2.fe.offloads = NET_OFFLOAD_CSUM;
  const c2 = connect(h2, { mss: 1000 });
  c2.sock.ev!.data(new Uint8Array(2500));
  assert.deepEqual(h2.take().map((x) => [x.data.length, x.gsoSize, x.partial]), [[1000, 0, true], [1000, 0, true], [500, 0, true]]);
});

test("offloads from the guest: a TSO segment with a partial checksum is taken whole and acknowledged at once; unflagged, that checksum is refused", () => {
  const h = new Harness();
  const c = connect(h, { mss: 1460 });
  const big = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff);
  h.send({ srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: TCP_ACK, wnd: 0xffff }, big, GW, false, true);
  c.seq = seqAdd(c.seq, big.length);
  assert.deepEqual(c.sock.bytes(), big);
  const acks = h.take();
  assert.deepEqual(acks.map((x) => x.ack), [c.seq], "it stands for 13 full-size segments: ACK now, no delay");
  // The same partial checksum without the NIC's flag is a bad checksum: dropped.
  const before = h.net.stats.dropped["tcp-checksum"] ?? 0;
  const t = buildTcp(GUEST, GW, { srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: TCP_ACK, wnd: 0xffff }, enc("x"));
  writeTcpHeader(t, 0, GUEST, GW, { srcPort: c.port, dstPort: c.dstPort, seq: c.seq, ack: c.ack, flags: TCP_ACK, wnd: 0xffff }, 1, true);
  h.net.transmit(buildEth(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST, GW, IPPROTO_TCP, 1, t)));
  assert.equal(h.net.stats.dropped["tcp-checksum"], before + 1);
  assert.equal(c.sock.bytes().length, big.length);
});

test("hostfwd after a snapshot restore: a new stack reaches a guest that has sent nothing yet at the MAC its NIC names", async () => {
  const h = new Harness({ hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 8080, guestAddr: null, guestPort: 80 }] });
  h.fe.mac = GUEST_MAC;
  await h.net.startForwards();
  const client = h.host.clientConnect("127.0.0.1", 8080, "127.0.0.1", 50123)!;
  assert.equal(client.destroyed, false);
  const [f] = h.fe.takeWithMeta();
  assert.deepEqual(parseEth(f.frame)!.dst, GUEST_MAC, "the SYN goes to the NIC's MAC");
});

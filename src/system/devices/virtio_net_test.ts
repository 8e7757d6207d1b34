import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_INT_CONFIG, featureBit,
} from "./virtio_mmio.js";
import {
  RX_QUEUE, TX_QUEUE, VIRTIO_ID_NET, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_SIZE, VIRTIO_NET_S_LINK_UP, VirtioNet, defaultMac, formatMac, parseMac, type VirtioNetState,
} from "./virtio_net.js";
import { TestDriver, TestIrq } from "./virtio_testing.js";
import { VIRTIO_MMIO_QUEUE_NOTIFY, VirtioMmio } from "./virtio_mmio.js";
import { viaJson } from "../../memory/device.js";
import {
  NET_FRAME_CSUM_PARTIAL, NET_FRAME_CSUM_VALID, NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4, type NetBackend, type NetFrontend,
} from "../../net/backend.js";
import { ETHERTYPE_IPV4, IPPROTO_TCP, IPPROTO_UDP, buildEth, buildIpv4, ip4, parseEth, parseIpv4, parseUdp, readU16, writeU16 } from "../../net/packet.js";
import { TCP_ACK, TCP_CWR, TCP_FIN, TCP_PSH, parseTcp, writeTcpHeader } from "../../net/tcp.js";
import { partialChecksumSeed } from "../../net/offload.js";

/** A backend that records transmitted frames and delivers queued ones when the NIC has room. */
class LoopBackend implements NetBackend {
  fe: NetFrontend | null = null;
  readonly sent: Uint8Array[] = [];
  readonly sentFlags: number[] = [];
  readonly queued: Uint8Array[] = [];
  rxReadyCalls = 0;
  constructor(readonly offloads = 0) {}
  attach(fe: NetFrontend): void { this.fe = fe; }
  transmit(frame: Uint8Array, flags = 0): void { this.sent.push(frame); this.sentFlags.push(flags); }
  rxReady(): void { this.rxReadyCalls++; this.flush(); }
  push(frame: Uint8Array): void { this.queued.push(frame); this.flush(); }
  flush(): void { while (this.queued.length > 0 && this.fe!.canReceive(this.queued[0].length)) this.fe!.deliver(this.queued.shift()!); }
}

const V1 = featureBit(VIRTIO_F_VERSION_1);
const MRG = featureBit(VIRTIO_NET_F_MRG_RXBUF);
const frame = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function setup(features: bigint, mac?: Uint8Array, offloads = 0): { d: TestDriver; net: VirtioNet; be: LoopBackend } {
  const be = new LoopBackend(offloads);
  const net = new VirtioNet(be, { mac });
  const d = new TestDriver(net);
  d.init(features, [16, 16]);
  return { d, net, be };
}

test("virtio-net: device id, offered features, MAC and link status in config space", () => {
  const { d, net } = setup(V1, parseMac("52:54:00:ab:cd:ef")!);
  assert.equal(d.r(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
  const f = d.deviceFeatures();
  for (const b of [VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX]) {
    assert.notEqual(f & featureBit(b), 0n, `feature ${b}`);
  }
  // The offloads are offered, and withheld on request (QEMU's csum=off, guest_tso4=off, ...).
  const OFFLOADS = [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4];
  for (const b of OFFLOADS) assert.notEqual(f & featureBit(b), 0n, `offload ${b}`);
  const none = new VirtioNet(new LoopBackend(), { offloads: false }).features;
  for (const b of OFFLOADS) assert.equal(none & featureBit(b), 0n);
  const noTso = new VirtioNet(new LoopBackend(), { offloads: { hostTso4: false, guestTso4: false } }).features;
  assert.deepEqual(OFFLOADS.map((b) => (noTso & featureBit(b)) !== 0n), [true, true, false, false]);
  // 5.1.3.1: TSO needs its checksum offload; without CSUM no HOST_TSO4 is offered.
  assert.equal(new VirtioNet(new LoopBackend(), { offloads: { csum: false } }).features & featureBit(VIRTIO_NET_F_HOST_TSO4), 0n);
  const mac = Array.from({ length: 6 }, (_, i) => d.mmio.read(VIRTIO_MMIO_CONFIG + i, 1));
  assert.deepEqual(mac, [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 6, 2), VIRTIO_NET_S_LINK_UP);
  d.mmio.write(VIRTIO_MMIO_CONFIG, 1, 0xff); // read-only
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG, 1), 0x52);
  d.ackInterrupt();
  net.setLink(false);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 6, 2), 0);
  assert.equal(d.ackInterrupt() & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
  assert.equal(formatMac(defaultMac(1)), "52:54:00:12:34:57");
  assert.equal(new VirtioNet(new LoopBackend(), { mrgRxbuf: false }).features & MRG, 0n);
  assert.equal(parseMac("01:00:5e:00:00:01"), null, "multicast");
  assert.equal(parseMac("52:54:00:12:34"), null);
});

test("virtio-net tx: the 12-byte header is stripped, the frame goes to the backend, runts and giants are dropped", () => {
  const { d, net, be } = setup(V1);
  const f = frame(60);
  // A header and a frame split over two descriptors, as Linux may hand them.
  const s = d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE) }, { data: f.subarray(0, 20) }, { data: f.subarray(20) }]);
  assert.deepEqual(be.sent, [f]);
  assert.deepEqual(d.takeUsed(TX_QUEUE), [{ id: s.head, len: 0 }]);
  d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE + 13) }]);
  d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE + 1519) }]);
  d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE + 1518) }]); // with an 802.1Q tag
  assert.equal(be.sent.length, 2);
  assert.equal(d.takeUsed(TX_QUEUE).length, 3, "every chain is returned, dropped or not");
  assert.deepEqual([net.stats.txFrames, net.stats.txDropped], [2, 2]);
});

test("virtio-net rx without MRG_RXBUF: one chain per frame, num_buffers = 1; a frame too big for the buffer is dropped", () => {
  const { d, net, be } = setup(V1);
  be.push(frame(100)); // no buffers yet: the backend keeps it
  assert.equal(be.queued.length, 1);
  const calls = be.rxReadyCalls;
  const a = d.submit(RX_QUEUE, [{ writeLen: VIRTIO_NET_HDR_SIZE }, { writeLen: 1514 }]);
  assert.equal(be.rxReadyCalls, calls + 1, "posting rx buffers tells the backend");
  assert.deepEqual(d.takeUsed(RX_QUEUE), [{ id: a.head, len: VIRTIO_NET_HDR_SIZE + 100 }]);
  const hdr = d.ram.read(a.bufs[0].addr, VIRTIO_NET_HDR_SIZE);
  assert.deepEqual(Array.from(hdr), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(d.ram.read(a.bufs[1].addr, 100), frame(100));
  assert.equal(d.irq.level, true);
  const small = d.submit(RX_QUEUE, [{ writeLen: 64 }]);
  be.push(frame(200));
  assert.equal(net.stats.rxDropped, 1);
  be.push(frame(40, 9));
  assert.deepEqual(d.takeUsed(RX_QUEUE), [{ id: small.head, len: VIRTIO_NET_HDR_SIZE + 40 }]);
  assert.deepEqual(d.ram.read(small.bufs[0].addr + VIRTIO_NET_HDR_SIZE, 40), frame(40, 9));
});

test("virtio-net rx with MRG_RXBUF: a frame spans chains, num_buffers counts them; it waits until enough buffers are posted", () => {
  const { d, net, be } = setup(V1 | MRG);
  assert.notEqual(d.mmio.driverFeatures & MRG, 0n);
  const a = d.submit(RX_QUEUE, [{ writeLen: 512 }]);
  const f = frame(1500);
  be.push(f);
  assert.equal(be.queued.length, 1, "512 bytes posted: not enough, the frame waits");
  assert.deepEqual(d.takeUsed(RX_QUEUE), []);
  const b = d.submit(RX_QUEUE, [{ writeLen: 512 }]);
  assert.equal(be.queued.length, 1);
  const c = d.submit(RX_QUEUE, [{ writeLen: 1024 }]);
  assert.equal(be.queued.length, 0);
  assert.deepEqual(d.takeUsed(RX_QUEUE), [{ id: a.head, len: 512 }, { id: b.head, len: 512 }, { id: c.head, len: 1512 - 1024 }]);
  const got = new Uint8Array(1512);
  got.set(d.ram.read(a.bufs[0].addr, 512), 0);
  got.set(d.ram.read(b.bufs[0].addr, 512), 512);
  got.set(d.ram.read(c.bufs[0].addr, 488), 1024);
  assert.equal(got[10] | (got[11] << 8), 3, "num_buffers");
  assert.deepEqual(got.subarray(VIRTIO_NET_HDR_SIZE), f);
  assert.equal(net.stats.rxFrames, 1);
});

const CSUM = featureBit(VIRTIO_NET_F_CSUM), GUEST_CSUM = featureBit(VIRTIO_NET_F_GUEST_CSUM);
const HOST_TSO4 = featureBit(VIRTIO_NET_F_HOST_TSO4), GUEST_TSO4 = featureBit(VIRTIO_NET_F_GUEST_TSO4);
const GUEST_IP = ip4("10.0.2.15"), HOST_IP = ip4("10.0.2.2");
const MAC_A = parseMac("52:54:00:12:34:56")!, MAC_B = parseMac("52:55:0a:00:02:02")!;
/** Ethernet + IPv4 (20) + TCP (20): where the TCP header and the data start. */
const TCP_AT = 34, DATA_AT = 54, MSS = 1460;

/** An Ethernet + IPv4 + TCP frame with `n` data bytes; `partial`: only the pseudo-header sum in the checksum field (as Linux leaves it). */
function tcpFrame(n: number, o: { partial?: boolean; flags?: number; seq?: number; id?: number } = {}): Uint8Array {
  const tcp = new Uint8Array(20 + n);
  tcp.set(frame(n, 3), 20);
  writeTcpHeader(tcp, 0, GUEST_IP, HOST_IP, { srcPort: 40000, dstPort: 80, seq: o.seq ?? 1000, ack: 7, flags: o.flags ?? TCP_ACK, wnd: 512 }, n, o.partial ?? false);
  return buildEth(MAC_B, MAC_A, ETHERTYPE_IPV4, buildIpv4(GUEST_IP, HOST_IP, IPPROTO_TCP, o.id ?? 100, tcp));
}

/** A virtio_net_hdr (little-endian fields, 5.1.6). */
function netHdr(h: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Uint8Array {
  const b = new Uint8Array(VIRTIO_NET_HDR_SIZE);
  b[0] = h.flags ?? 0; b[1] = h.gsoType ?? 0;
  [h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset].forEach((v, i) => { b[2 + 2 * i] = (v ?? 0) & 0xff; b[3 + 2 * i] = (v ?? 0) >>> 8; });
  return b;
}
const le16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const NEEDS_CSUM_TCP = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: TCP_AT, csumOffset: 16 };

/** The TCP segment of a frame the device passed on, checksum verified (or the reason it fails). */
function tcpOf(f: Uint8Array): ReturnType<typeof parseTcp> {
  const ip = parseIpv4(parseEth(f)!.payload);
  if (typeof ip === "string") return "short";
  return parseTcp(ip.payload, ip.src, ip.dst);
}

test("virtio-net tx with CSUM: a partial checksum is completed for a backend without offloads, passed on flagged to one that takes it", () => {
  const { d, net, be } = setup(V1 | CSUM);
  const f = tcpFrame(100, { partial: true });
  assert.equal(tcpOf(f), "checksum", "as the guest hands it over, the sum is not complete");
  d.submit(TX_QUEUE, [{ data: netHdr(NEEDS_CSUM_TCP) }, { data: f }]);
  const seg = tcpOf(be.sent[0]);
  assert.ok(typeof seg !== "string", `completed checksum: ${String(seg)}`);
  assert.deepEqual(seg.data, frame(100, 3));
  assert.equal(be.sentFlags[0], 0);
  // UDP: the sum goes to offset 6 of its header; a zero result would be sent as 0xffff.
  const udp = new Uint8Array(8 + 5);
  writeU16(udp, 0, 5353); writeU16(udp, 2, 53); writeU16(udp, 4, udp.length); udp.set([1, 2, 3, 4, 5], 8);
  writeU16(udp, 6, partialChecksumSeed(GUEST_IP, HOST_IP, IPPROTO_UDP, udp.length));
  const uf = buildEth(MAC_B, MAC_A, ETHERTYPE_IPV4, buildIpv4(GUEST_IP, HOST_IP, IPPROTO_UDP, 1, udp));
  d.submit(TX_QUEUE, [{ data: netHdr({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: TCP_AT, csumOffset: 6 }) }, { data: uf }]);
  const ipu = parseIpv4(parseEth(be.sent[1])!.payload);
  assert.ok(typeof ipu !== "string");
  assert.ok(typeof parseUdp(ipu.payload, GUEST_IP, HOST_IP) !== "string", "UDP checksum completed");
  assert.notEqual(readU16(ipu.payload, 6), 0);
  // Offsets outside the frame: dropped, not a crash.
  d.submit(TX_QUEUE, [{ data: netHdr({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 200, csumOffset: 16 }) }, { data: tcpFrame(10, { partial: true }) }]);
  assert.equal(be.sent.length, 2);
  assert.equal(net.stats.txDropped, 1);

  const took = setup(V1 | CSUM, undefined, NET_OFFLOAD_CSUM);
  took.d.submit(TX_QUEUE, [{ data: netHdr(NEEDS_CSUM_TCP) }, { data: f }]);
  assert.deepEqual(took.be.sent, [f], "left as it is");
  assert.deepEqual(took.be.sentFlags, [NET_FRAME_CSUM_PARTIAL]);
});

test("virtio-net tx with HOST_TSO4: a TSO segment is cut to gso_size for a backend without TSO, passed whole to one with it", () => {
  const { d, net, be } = setup(V1 | CSUM | HOST_TSO4);
  const big = tcpFrame(4000, { partial: true, flags: TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, seq: 0xfffffc00, id: 0xffff });
  const tso = netHdr({ ...NEEDS_CSUM_TCP, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: DATA_AT, gsoSize: MSS });
  d.submit(TX_QUEUE, [{ data: tso }, { data: big.subarray(0, 1000) }, { data: big.subarray(1000) }]);
  assert.equal(be.sent.length, 3);
  const segs = be.sent.map(tcpOf);
  const ok = segs.filter((x): x is Exclude<typeof x, string> => typeof x !== "string");
  assert.equal(ok.length, 3, "every segment has a correct TCP (and IPv4) checksum");
  assert.deepEqual(ok.map((x) => x.data.length), [1460, 1460, 1080]);
  assert.deepEqual(ok.map((x) => x.seq), [0xfffffc00, (0xfffffc00 + 1460) >>> 0, (0xfffffc00 + 2920) >>> 0], "sequence numbers wrap mod 2^32");
  // TCP_CWR is masked by the parser (flags & 0x3f): read the byte itself.
  assert.deepEqual(be.sent.map((f) => f[TCP_AT + 13]), [TCP_ACK | TCP_CWR, TCP_ACK, TCP_ACK | TCP_PSH | TCP_FIN]);
  assert.deepEqual(be.sent.map((f) => readU16(f, 14 + 4)), [0xffff, 0, 1], "IPv4 ids count up");
  assert.deepEqual(be.sent.map((f) => readU16(f, 14 + 2)), [1500, 1500, 1120]);
  const joined = new Uint8Array(4000);
  ok.forEach((x, i) => joined.set(x.data, i * MSS));
  assert.deepEqual(joined, frame(4000, 3));
  assert.deepEqual([net.stats.txTso, net.stats.txTsoFrames, net.stats.txFrames], [1, 3, 3]);
  // An MSS that would make frames longer than the MTU: dropped.
  d.submit(TX_QUEUE, [{ data: netHdr({ ...NEEDS_CSUM_TCP, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, gsoSize: 3000 }) }, { data: big }]);
  assert.equal(be.sent.length, 3);

  const took = setup(V1 | CSUM | HOST_TSO4, undefined, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
  took.d.submit(TX_QUEUE, [{ data: tso }, { data: big }]);
  assert.deepEqual(took.be.sent, [big]);
  assert.deepEqual(took.be.sentFlags, [NET_FRAME_CSUM_PARTIAL]);

  // Without HOST_TSO4 negotiated a TSO header, or a frame longer than the MTU, is dropped.
  const plain = setup(V1 | CSUM, undefined, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
  plain.d.submit(TX_QUEUE, [{ data: tso }, { data: big }]);
  plain.d.submit(TX_QUEUE, [{ data: netHdr(NEEDS_CSUM_TCP) }, { data: big }]);
  assert.deepEqual([plain.be.sent.length, plain.net.stats.txDropped], [0, 2]);
  assert.equal(plain.d.takeUsed(TX_QUEUE).length, 2, "dropped chains are returned too");
});

test("virtio-net rx with GUEST_CSUM and GUEST_TSO4: NEEDS_CSUM, DATA_VALID and GSO fields; a guest without them gets complete frames", () => {
  const { d, net, be } = setup(V1 | MRG | GUEST_CSUM | GUEST_TSO4);
  assert.equal(net.offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
  const bufs = [0, 1].map(() => d.submit(RX_QUEUE, [{ writeLen: 4096 }]));
  const big = tcpFrame(3000, { partial: true });
  be.fe!.deliver(big, NET_FRAME_CSUM_PARTIAL, MSS);
  assert.deepEqual(d.takeUsed(RX_QUEUE), [{ id: bufs[0].head, len: VIRTIO_NET_HDR_SIZE + big.length }]);
  const h = d.ram.read(bufs[0].bufs[0].addr, VIRTIO_NET_HDR_SIZE);
  assert.deepEqual([h[0], h[1], le16(h, 2), le16(h, 4), le16(h, 6), le16(h, 8), le16(h, 10)],
    [VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, DATA_AT, MSS, TCP_AT, 16, 1]);
  assert.deepEqual(d.ram.read(bufs[0].bufs[0].addr + VIRTIO_NET_HDR_SIZE, big.length), big, "the frame as the backend built it");
  be.fe!.deliver(tcpFrame(10), NET_FRAME_CSUM_VALID);
  const v = d.ram.read(bufs[1].bufs[0].addr, VIRTIO_NET_HDR_SIZE);
  assert.deepEqual([v[0], v[1]], [VIRTIO_NET_HDR_F_DATA_VALID, 0]);
  assert.equal(net.stats.rxTso, 1);

  const old = setup(V1 | MRG);
  assert.equal(old.net.offloads, 0);
  const b = old.d.submit(RX_QUEUE, [{ writeLen: 4096 }]);
  old.d.submit(RX_QUEUE, [{ writeLen: 4096 }]);
  old.be.fe!.deliver(tcpFrame(100, { partial: true }), NET_FRAME_CSUM_PARTIAL | NET_FRAME_CSUM_VALID);
  const [u] = old.d.takeUsed(RX_QUEUE);
  const got = old.d.ram.read(b.bufs[0].addr, u.len);
  assert.equal(got[0], 0, "no flags");
  assert.ok(typeof tcpOf(got.subarray(VIRTIO_NET_HDR_SIZE)) !== "string", "the device completed the checksum");
  old.be.fe!.deliver(big, NET_FRAME_CSUM_PARTIAL, MSS); // renegotiated without TSO since the backend queued it
  assert.deepEqual([old.net.stats.rxDropped, old.d.takeUsed(RX_QUEUE).length], [1, 0]);
});

test("virtio-net: the offloads in force carry over a snapshot (the driver's features, saved by the transport)", () => {
  const { d } = setup(V1 | MRG | CSUM | HOST_TSO4 | GUEST_CSUM | GUEST_TSO4);
  const saved = viaJson(d.mmio.saveState());
  const be2 = new LoopBackend();
  const net2 = new VirtioNet(be2);
  const t2 = new VirtioMmio(d.ram, new TestIrq(), net2);
  assert.equal(net2.offloads, 0);
  t2.loadState(saved);
  assert.equal(net2.offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
  d.submit(TX_QUEUE, [{ data: netHdr({ ...NEEDS_CSUM_TCP, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, gsoSize: MSS }) }, { data: tcpFrame(2000, { partial: true }) }], { notify: false });
  t2.write(VIRTIO_MMIO_QUEUE_NOTIFY, 4, TX_QUEUE);
  assert.equal(be2.sent.length, 2, "the restored device cuts the TSO segment for its backend");
  assert.ok(be2.sent.every((f) => typeof tcpOf(f) !== "string"));
});

test("virtio-net: saveState/loadState round-trips MAC and link; a reset drops held buffers", () => {
  const { net } = setup(V1, parseMac("52:54:00:00:00:42")!);
  net.setLink(false);
  const s = viaJson(net.saveState());
  const other = new VirtioNet(new LoopBackend());
  other.loadState(s);
  assert.equal(formatMac(other.mac), "52:54:00:00:00:42");
  assert.equal(other.linkUp, false);
  assert.deepEqual(other.saveState(), net.saveState());
  assert.throws(() => other.loadState({ ...s, version: 2 } as unknown as VirtioNetState), /incompatible state/);
  assert.throws(() => other.loadState({ kind: "net", version: 1, mac: "nonsense", linkUp: true }), /bad MAC/);
});

test("virtio-net over the user-mode stack: an ARP request out, the reply in through the rx queue", async () => {
  const { UserNet } = await import("../../net/user_net.js");
  const { FakeNetHost, GUEST_MAC } = await import("../../net/testing.js");
  const { buildArp, buildEth, BROADCAST_MAC, ETHERTYPE_ARP, ARP_OP_REQUEST, ARP_OP_REPLY, ip4, parseArp, parseEth } = await import("../../net/packet.js");
  const user = new UserNet(new FakeNetHost());
  const net = new VirtioNet(user, { mac: GUEST_MAC });
  const d = new TestDriver(net);
  d.init(V1 | MRG, [16, 16]);
  const rx = d.submit(RX_QUEUE, [{ writeLen: 2048 }]);
  const req = buildEth(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP,
    buildArp({ op: ARP_OP_REQUEST, sha: GUEST_MAC, spa: ip4("10.0.2.15"), tha: new Uint8Array(6), tpa: ip4("10.0.2.2") }));
  d.submit(TX_QUEUE, [{ data: new Uint8Array(VIRTIO_NET_HDR_SIZE) }, { data: req }]);
  const [u] = d.takeUsed(RX_QUEUE);
  assert.equal(u.id, rx.head);
  const reply = parseEth(d.ram.read(rx.bufs[0].addr + VIRTIO_NET_HDR_SIZE, u.len - VIRTIO_NET_HDR_SIZE))!;
  assert.equal(parseArp(reply.payload)?.op, ARP_OP_REPLY);
  assert.equal(user.stats.toGuest, 1);
});

test("virt board: --net adds a virtio-net row (device id 1, its MAC) with a virtio,mmio node in the device tree", async () => {
  const { VirtMachine } = await import("../machine.js");
  const { nullCharBackend } = await import("./char_backend.js");
  const { UserNet } = await import("../../net/user_net.js");
  const { FakeNetHost } = await import("../../net/testing.js");
  const kernel = Uint8Array.of(0x73, 0x00, 0x50, 0x10); // wfi
  const base = new VirtMachine({ memBytes: 16 << 20, harts: 1, firmware: { kind: "none" }, kernel, console: nullCharBackend });
  const m = new VirtMachine({
    memBytes: 16 << 20, harts: 1, firmware: { kind: "none" }, kernel, console: nullCharBackend,
    nics: [{ backend: new UserNet(new FakeNetHost()) }, { backend: new UserNet(new FakeNetHost()), mac: parseMac("52:54:00:00:00:09")! }],
  });
  const nets = m.virtio.filter((t) => t.read(VIRTIO_MMIO_DEVICE_ID, 4) === VIRTIO_ID_NET);
  assert.equal(nets.length, 2);
  assert.deepEqual(nets.map((t) => formatMac((t.device as VirtioNet).mac)), ["52:54:00:12:34:56", "52:54:00:00:00:09"]);
  assert.equal(m.virtio.length, base.virtio.length + 2);
  const count = (dtb: Uint8Array): number => new TextDecoder("latin1").decode(dtb).split("virtio_mmio@").length - 1;
  assert.equal(count(m.dtb), count(base.dtb) + 2);
  // The machine's virtio snapshot carries the card's state.
  const st = nets[1].saveState() as { device: unknown };
  assert.deepEqual(st.device, { kind: "net", version: 1, mac: "52:54:00:00:00:09", linkUp: true });
});

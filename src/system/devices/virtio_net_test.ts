import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_INT_CONFIG, featureBit,
} from "./virtio_mmio.js";
import {
  RX_QUEUE, TX_QUEUE, VIRTIO_ID_NET, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_HDR_SIZE,
  VIRTIO_NET_S_LINK_UP, VirtioNet, defaultMac, formatMac, parseMac, type VirtioNetState,
} from "./virtio_net.js";
import { TestDriver } from "./virtio_testing.js";
import { viaJson } from "../../memory/device.js";
import type { NetBackend, NetFrontend } from "../../net/backend.js";

/** A backend that records transmitted frames and delivers queued ones when the NIC has room. */
class LoopBackend implements NetBackend {
  fe: NetFrontend | null = null;
  readonly sent: Uint8Array[] = [];
  readonly queued: Uint8Array[] = [];
  rxReadyCalls = 0;
  attach(fe: NetFrontend): void { this.fe = fe; }
  transmit(frame: Uint8Array): void { this.sent.push(frame); }
  rxReady(): void { this.rxReadyCalls++; this.flush(); }
  push(frame: Uint8Array): void { this.queued.push(frame); this.flush(); }
  flush(): void { while (this.queued.length > 0 && this.fe!.canReceive(this.queued[0].length)) this.fe!.deliver(this.queued.shift()!); }
}

const V1 = featureBit(VIRTIO_F_VERSION_1);
const MRG = featureBit(VIRTIO_NET_F_MRG_RXBUF);
const frame = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function setup(features: bigint, mac?: Uint8Array): { d: TestDriver; net: VirtioNet; be: LoopBackend } {
  const be = new LoopBackend();
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
  // No checksum offload or GSO: frames are always complete and checksummed.
  for (const b of [0 /* CSUM */, 1 /* GUEST_CSUM */, 7 /* GUEST_TSO4 */, 11 /* HOST_TSO4 */]) assert.equal(f & featureBit(b), 0n);
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

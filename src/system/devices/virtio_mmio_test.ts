import { test } from "node:test";
import assert from "node:assert/strict";
import type { AccessWidth } from "../../memory/device.js";
import {
  DescChain, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK, VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VirtioDevice, VirtioMmio, VirtioTransport, featureBit, readConfigBytes,
  virtioMmioFdt,
} from "./virtio_mmio.js";
import type { VirtioDeviceState } from "./virtio_mmio.js";
import { TEST_RAM_BASE, TestDriver } from "./virtio_testing.js";
import { FdtBuilder, fdtCells, fdtFind, fdtStrings, parseFdt } from "../fdt.js";
import { viaJson } from "../../memory/device.js";

/** Echo device: copies the readable bytes, uppercased, into the writable ones. Can defer completions. */
class EchoDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly features = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(VIRTIO_F_EVENT_IDX);
  readonly numQueues = 1;
  readonly queueMax = 16;
  t: VirtioTransport | null = null;
  deferred: DescChain[] = [];
  defer = false;
  resets = 0;
  config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  attach(t: VirtioTransport): void { this.t = t; }
  readConfig(o: number, w: AccessWidth): number { return readConfigBytes(this.config, o, w); }
  writeConfig(o: number, _w: AccessWidth, v: number): void { this.config[o] = v; }
  onNotify(): void {
    const q = this.t!.queue(0);
    for (let c = q.pop(); c !== null; c = q.pop()) {
      if (this.defer) this.deferred.push(c); else this.complete(c);
    }
  }
  complete(c: DescChain): void {
    const data = c.read(0, c.readableLen).map((b) => (b >= 97 && b <= 122 ? b - 32 : b));
    this.t!.queue(0).push(c, c.write(0, data));
  }
  reset(): void { this.resets++; this.deferred = []; }
  saveState(): VirtioDeviceState { return { kind: "rng", version: 1 }; } // stateless, as virtio-rng
  loadState(): void { /* stateless */ }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

test("identification registers and config space", () => {
  const d = new TestDriver(new EchoDevice());
  assert.equal(d.r(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
  assert.equal(d.r(VIRTIO_MMIO_VERSION), 2);
  assert.equal(d.r(VIRTIO_MMIO_DEVICE_ID), 42);
  assert.equal(d.r(VIRTIO_MMIO_VENDOR_ID), 0x554d4551);
  assert.equal(d.deviceFeatures() & featureBit(VIRTIO_F_VERSION_1), featureBit(VIRTIO_F_VERSION_1));
  assert.equal(d.r(VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
  d.w(VIRTIO_MMIO_QUEUE_SEL, 5);
  assert.equal(d.r(VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "nonexistent queue has max 0");
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG, 4), 0x04030201);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 6, 2), 0x0807);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 7, 1), 8);
  assert.equal(d.r(VIRTIO_MMIO_CONFIG_GENERATION), 0);
});

test("FEATURES_OK is accepted as QEMU accepts it: without VERSION_1, and with unoffered bits dropped", () => {
  const d = new TestDriver(new EchoDevice());
  assert.equal(d.init() & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
  assert.equal(d.mmio.driverFeatures, featureBit(VIRTIO_F_VERSION_1));
  // A driver that acknowledges nothing (features 0) or only low bits, never VERSION_1.
  assert.equal(d.init(0n) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
  assert.equal(d.mmio.driverFeatures, 0n);
  assert.equal(d.init(featureBit(VIRTIO_F_INDIRECT_DESC)) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
  assert.equal(d.mmio.indirectDesc, true);
  // Bits the device did not offer (3, 40) are dropped, the rest negotiated.
  const st = d.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_EVENT_IDX) | featureBit(3) | featureBit(40));
  assert.equal(st & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
  assert.equal(d.mmio.driverFeatures, featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_EVENT_IDX));
  // Features cannot change once FEATURES_OK is set.
  d.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  d.w(VIRTIO_MMIO_DRIVER_FEATURES, 0);
  assert.equal(d.mmio.driverFeatures & featureBit(VIRTIO_F_EVENT_IDX), featureBit(VIRTIO_F_EVENT_IDX));
});

test("a driver that never acknowledges VERSION_1 (xv6's virtio_disk) runs requests on the modern transport", () => {
  const d = new TestDriver(new EchoDevice());
  // xv6: reads the device features, clears the ones it does not want, writes the low word only.
  const low = Number(d.deviceFeatures() & 0xffffffffn) & ~(1 << VIRTIO_F_EVENT_IDX) & ~(1 << VIRTIO_F_INDIRECT_DESC);
  const st = d.init(BigInt(low >>> 0));
  assert.equal(st & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK stays set when re-read");
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
  const r = d.submit(0, [{ data: enc("legacy driver") }, { writeLen: 13 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: r.head, len: 13 }]);
  assert.equal(dec(d.ram.read(r.bufs[1].addr, 13)), "LEGACY DRIVER");
  assert.equal(d.irq.level, true);
});

test("a direct chain is processed, used ring filled, interrupt held until ACK", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init();
  const s = d.submit(0, [{ data: enc("hel") }, { data: enc("lo") }, { writeLen: 3 }, { writeLen: 10 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: s.head, len: 5 }]);
  assert.equal(dec(d.ram.read(s.bufs[2].addr, 3)), "HEL");
  assert.equal(dec(d.ram.read(s.bufs[3].addr, 2)), "LO");
  assert.equal(d.irq.level, true);
  assert.equal(d.r(VIRTIO_MMIO_INTERRUPT_STATUS), 1);
  assert.equal(d.irq.level, true, "reading the status does not clear it");
  d.ackInterrupt();
  assert.equal(d.irq.level, false);
  assert.equal(d.r(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
});

test("indirect descriptors, and async completion out of order", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC));
  dev.defer = true;
  const a = d.submit(0, [{ data: enc("ab") }, { writeLen: 2 }], { indirect: true });
  const b = d.submit(0, [{ data: enc("cd") }, { writeLen: 2 }]);
  assert.equal(dev.deferred.length, 2);
  assert.deepEqual(d.takeUsed(0), []);
  dev.complete(dev.deferred[1]);
  dev.complete(dev.deferred[0]);
  assert.deepEqual(d.takeUsed(0), [{ id: b.head, len: 2 }, { id: a.head, len: 2 }]);
  assert.equal(dec(d.ram.read(a.bufs[1].addr, 2)), "AB");
  assert.equal(dec(d.ram.read(b.bufs[1].addr, 2)), "CD");
});

test("a chain completed after a device reset is dropped, not written", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init();
  dev.defer = true;
  const s = d.submit(0, [{ data: enc("x") }, { writeLen: 1 }]);
  const chain = dev.deferred[0];
  d.w(VIRTIO_MMIO_STATUS, 0);
  assert.equal(dev.resets, 2); // init() resets too
  assert.equal(chain.live, false);
  dev.complete(chain);
  assert.deepEqual([...d.ram.read(s.bufs[1].addr, 1)], [0]);
  assert.equal(d.r(VIRTIO_MMIO_QUEUE_READY), 0);
});

function expectNeedsReset(d: TestDriver, dev: EchoDevice): void {
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET, d.mmio.lastError ?? "");
  assert.equal(d.r(VIRTIO_MMIO_INTERRUPT_STATUS) & 2, 2, "config-change interrupt");
  assert.equal(d.irq.level, true);
  assert.equal(dev.deferred.length, 0);
  // A reset recovers the device.
  d.init();
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
  const s = d.submit(0, [{ data: enc("ok") }, { writeLen: 2 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: s.head, len: 2 }]);
}

test("malformed: descriptor loop is bounded and marks NEEDS_RESET", () => {
  const dev = new EchoDevice(); dev.defer = true;
  const d = new TestDriver(dev);
  d.init();
  const buf = d.alloc(8);
  d.writeDesc(0, 0, buf, 8, VIRTQ_DESC_F_NEXT, 1);
  d.writeDesc(0, 1, buf, 8, VIRTQ_DESC_F_NEXT, 0);
  d.makeAvailable(0, 0);
  d.notify(0);
  assert.match(d.mmio.lastError ?? "", /loop/);
  dev.defer = false;
  expectNeedsReset(d, dev);
});

test("malformed: buffers outside RAM, huge lengths, bad next/head indices", () => {
  const cases: [string, (d: TestDriver) => void][] = [
    ["addr outside RAM", (d) => { d.writeDesc(0, 0, 0x1000, 8, 0, 0); d.makeAvailable(0, 0); }],
    ["addr past end", (d) => { d.writeDesc(0, 0, TEST_RAM_BASE + d.ram.size - 4, 8, VIRTQ_DESC_F_WRITE, 0); d.makeAvailable(0, 0); }],
    ["huge length", (d) => { d.writeDesc(0, 0, TEST_RAM_BASE, 0xffffffff, 0, 0); d.makeAvailable(0, 0); }],
    ["2^53 address", (d) => { d.writeDesc(0, 0, 2 ** 52, 16, 0, 0); d.makeAvailable(0, 0); }],
    ["next out of range", (d) => { d.writeDesc(0, 0, TEST_RAM_BASE, 8, VIRTQ_DESC_F_NEXT, 999); d.makeAvailable(0, 0); }],
    ["head out of range", (d) => { d.makeAvailable(0, 500); }],
    ["readable after writable", (d) => {
      d.writeDesc(0, 0, TEST_RAM_BASE, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
      d.writeDesc(0, 1, TEST_RAM_BASE, 8, 0, 0); d.makeAvailable(0, 0);
    }],
    ["indirect not negotiated", (d) => { d.writeDesc(0, 0, TEST_RAM_BASE, 16, VIRTQ_DESC_F_INDIRECT, 0); d.makeAvailable(0, 0); }],
    ["avail idx jump", (d) => { d.ram.write16(d.mmio.queue(0).driverAddr + 2, 1000); }],
  ];
  for (const [name, corrupt] of cases) {
    const dev = new EchoDevice(); dev.defer = true;
    const d = new TestDriver(dev);
    d.init();
    corrupt(d);
    assert.doesNotThrow(() => d.notify(0), name);
    dev.defer = false;
    expectNeedsReset(d, dev);
  }
});

test("an indirect table is followed without VIRTIO_F_INDIRECT_DESC, and NEXT beside INDIRECT is ignored (as QEMU)", () => {
  for (const features of [featureBit(VIRTIO_F_VERSION_1), 0n]) {
    const d = new TestDriver(new EchoDevice());
    d.init(features);
    assert.equal(d.mmio.indirectDesc, false);
    const s = d.submit(0, [{ data: enc("indirect") }, { writeLen: 8 }], { indirect: true, notify: false });
    // Set NEXT (pointing at a garbage descriptor) on the head that points to the table.
    d.writeDesc(0, s.head, d.ram.read64(d.mmio.queue(0).descAddr + 16 * s.head), 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 7);
    d.writeDesc(0, 7, 0x10, 0xffff_ffff, 0, 0);
    d.notify(0);
    assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0, d.mmio.lastError ?? "");
    assert.deepEqual(d.takeUsed(0), [{ id: s.head, len: 8 }]);
    assert.equal(dec(d.ram.read(s.bufs[1].addr, 8)), "INDIRECT");
  }
});

test("malformed: indirect table loops, nesting and bad sizes", () => {
  const cases: [string, (d: TestDriver, t: number) => void][] = [
    ["indirect loop", (d, t) => { d.ram.write64(t, TEST_RAM_BASE); d.ram.write32(t + 8, 4); d.ram.write16(t + 12, VIRTQ_DESC_F_NEXT); d.ram.write16(t + 14, 0); d.writeDesc(0, 0, t, 16, VIRTQ_DESC_F_INDIRECT, 0); }],
    ["nested indirect", (d, t) => { d.ram.write64(t, t); d.ram.write32(t + 8, 16); d.ram.write16(t + 12, VIRTQ_DESC_F_INDIRECT); d.writeDesc(0, 0, t, 16, VIRTQ_DESC_F_INDIRECT, 0); }],
    ["table length not multiple of 16", (d, t) => { d.writeDesc(0, 0, t, 10, VIRTQ_DESC_F_INDIRECT, 0); }],
    ["table outside RAM", (d) => { d.writeDesc(0, 0, 0x100, 64, VIRTQ_DESC_F_INDIRECT, 0); }],
  ];
  for (const [name, corrupt] of cases) {
    const dev = new EchoDevice(); dev.defer = true;
    const d = new TestDriver(dev);
    d.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC));
    corrupt(d, d.alloc(64, 16));
    d.makeAvailable(0, 0);
    assert.doesNotThrow(() => d.notify(0), name);
    dev.defer = false;
    expectNeedsReset(d, dev);
  }
});

test("queue rings outside RAM are refused at QueueReady", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init();
  d.w(VIRTIO_MMIO_STATUS, 0);
  d.w(VIRTIO_MMIO_QUEUE_SEL, 0);
  d.w(0x080, 0x10); // desc low: below RAM
  d.w(VIRTIO_MMIO_QUEUE_READY, 1);
  assert.equal(d.r(VIRTIO_MMIO_QUEUE_READY), 0);
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
});

test("QueueNum must be a power of 2 no larger than QueueNumMax, else QueueReady is refused", () => {
  for (const [size, ok] of [[1, true], [2, true], [8, true], [16, true], [0, false], [3, false], [12, false], [15, false], [17, false], [32, false], [0xffffffff, false]] as const) {
    const dev = new EchoDevice();
    const d = new TestDriver(dev);
    d.init(featureBit(VIRTIO_F_VERSION_1), []);
    d.w(VIRTIO_MMIO_STATUS, d.status() & ~VIRTIO_STATUS_DRIVER_OK); // set the queue up by hand
    d.w(VIRTIO_MMIO_QUEUE_SEL, 0);
    d.w(VIRTIO_MMIO_QUEUE_NUM, size);
    d.w(VIRTIO_MMIO_QUEUE_DESC_LOW, TEST_RAM_BASE + 0x1000);
    d.w(VIRTIO_MMIO_QUEUE_DRIVER_LOW, TEST_RAM_BASE + 0x2000);
    d.w(VIRTIO_MMIO_QUEUE_DEVICE_LOW, TEST_RAM_BASE + 0x3000);
    d.w(VIRTIO_MMIO_QUEUE_READY, 1);
    assert.equal(d.r(VIRTIO_MMIO_QUEUE_READY), ok ? 1 : 0, `size ${size}`);
    assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, ok ? 0 : VIRTIO_STATUS_DEVICE_NEEDS_RESET, `size ${size}`);
    if (!ok) assert.match(d.mmio.lastError ?? "", /power of 2|not in 1\.\.16/);
  }
});

test("device exceptions never escape the transport", () => {
  const dev = new EchoDevice();
  dev.onNotify = (): void => { throw new Error("boom"); };
  const d = new TestDriver(dev);
  d.init();
  assert.doesNotThrow(() => d.submit(0, [{ data: enc("x") }]));
  assert.equal(d.mmio.lastError, "boom");
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
});

test("VIRTQ_AVAIL_F_NO_INTERRUPT and EVENT_IDX suppress interrupts", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init();
  d.ram.write16(d.mmio.queue(0).driverAddr, 1); // NO_INTERRUPT
  d.submit(0, [{ data: enc("a") }, { writeLen: 1 }]);
  assert.equal(d.takeUsed(0).length, 1);
  assert.equal(d.irq.level, false);

  const dev2 = new EchoDevice();
  const e = new TestDriver(dev2);
  e.init(featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_EVENT_IDX));
  const q = e.mmio.queue(0);
  e.ram.write16(q.driverAddr + 4 + 2 * q.size, 1); // used_event = 1: interrupt when used idx passes 1
  e.submit(0, [{ data: enc("a") }, { writeLen: 1 }]);
  assert.equal(e.irq.level, false, "first completion (idx 0->1) does not cross used_event 1");
  assert.equal(e.ram.read16(q.deviceAddr + 4 + 8 * q.size), 1, "avail_event published");
  e.submit(0, [{ data: enc("b") }, { writeLen: 1 }]);
  assert.equal(e.irq.level, true);
});

test("snapshot round trip replays requests that were in flight", () => {
  const dev = new EchoDevice(); dev.defer = true;
  const d = new TestDriver(dev);
  d.init();
  const s = d.submit(0, [{ data: enc("zz") }, { writeLen: 2 }]);
  const snap = viaJson(d.mmio.saveState());
  // A fresh transport over the same RAM (as after restoring RAM from the snapshot).
  const dev2 = new EchoDevice();
  const m2 = new VirtioMmio(d.ram, d.irq, dev2);
  m2.loadState(snap);
  assert.equal(m2.read(VIRTIO_MMIO_STATUS, 4), d.status());
  m2.kick();
  assert.deepEqual(d.takeUsed(0), [{ id: s.head, len: 2 }]);
  assert.equal(dec(d.ram.read(s.bufs[1].addr, 2)), "ZZ");
});

test("virtioMmioFdt writes QEMU's node", () => {
  const b = new FdtBuilder();
  b.beginNode("");
  b.beginNode("soc");
  virtioMmioFdt(b, 0x10001000, 0x1000, 1, 3);
  b.endNode();
  b.endNode();
  const root = parseFdt(b.finish()).root;
  const node = fdtFind(root, "/soc/virtio_mmio@10001000");
  assert.ok(node !== null);
  assert.deepEqual(fdtCells(node, "interrupts"), [1]);
  assert.deepEqual(fdtCells(node, "interrupt-parent"), [3]);
  assert.deepEqual(fdtCells(node, "reg"), [0, 0x10001000, 0, 0x1000]);
  assert.deepEqual(fdtStrings(node, "compatible"), ["virtio,mmio"]);
});

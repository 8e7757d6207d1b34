import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_QUEUE_READY, VIRTIO_STATUS_DEVICE_NEEDS_RESET, featureBit,
} from "./virtio_mmio.js";
import {
  MemBlockBackend, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk,
} from "./virtio_blk.js";
import { TestDriver, settle } from "./virtio_testing.js";
import { VirtioRng } from "./virtio_rng.js";
import { viaJson } from "../../memory/device.js";

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(8, sector >>> 0, true);
  dv.setUint32(12, Math.floor(sector / 2 ** 32), true);
  return h;
}

function setup(backend: MemBlockBackend): { d: TestDriver; blk: VirtioBlk } {
  const blk = new VirtioBlk(backend);
  const d = new TestDriver(blk);
  d.init(featureBit(VIRTIO_F_VERSION_1), [64]);
  return { d, blk };
}

test("config: capacity in sectors, blk_size, features", () => {
  const { d } = setup(new MemBlockBackend(8 * 512 + 100));
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG, 4), 8);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 4, 4), 0);
  assert.equal(d.mmio.read(VIRTIO_MMIO_CONFIG + 20, 4), 512);
  const f = d.deviceFeatures();
  assert.notEqual(f & featureBit(VIRTIO_BLK_F_FLUSH), 0n);
  assert.equal(f & featureBit(VIRTIO_BLK_F_RO), 0n);
  const ro = setup(new MemBlockBackend(4096, true)).d;
  assert.notEqual(ro.deviceFeatures() & featureBit(VIRTIO_BLK_F_RO), 0n);
});

test("write then read back across segments; flush; get id", async () => {
  const be = new MemBlockBackend(64 * 512, false, "rvisor-disk-serial-number-long");
  const { d } = setup(be);
  const data = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
  const w = d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 3) }, { data: data.subarray(0, 300) }, { data: data.subarray(300) }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: w.head, len: 1 }]);
  assert.equal(d.ram.read8(w.bufs[3].addr), VIRTIO_BLK_S_OK);
  assert.deepEqual(be.data.subarray(3 * 512, 3 * 512 + 1024), data);

  const r = d.submit(0, [{ data: header(VIRTIO_BLK_T_IN, 3) }, { writeLen: 512 }, { writeLen: 512 }, { writeLen: 1 }], { indirect: false });
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: r.head, len: 1025 }]);
  assert.deepEqual(d.ram.read(r.bufs[1].addr, 512), data.subarray(0, 512));
  assert.deepEqual(d.ram.read(r.bufs[2].addr, 512), data.subarray(512));
  assert.equal(d.ram.read8(r.bufs[3].addr), VIRTIO_BLK_S_OK);

  const f = d.submit(0, [{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { writeLen: 1 }]);
  const id = d.submit(0, [{ data: header(VIRTIO_BLK_T_GET_ID, 0) }, { writeLen: 20 }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: f.head, len: 1 }, { id: id.head, len: 21 }]);
  assert.equal(d.ram.read8(f.bufs[1].addr), VIRTIO_BLK_S_OK);
  assert.equal(new TextDecoder().decode(d.ram.read(id.bufs[1].addr, 20)), "rvisor-disk-serial-n");
});

test("out of range -> IOERR, readonly write -> IOERR, unknown type -> UNSUPP", async () => {
  const { d } = setup(new MemBlockBackend(8 * 512));
  const a = d.submit(0, [{ data: header(VIRTIO_BLK_T_IN, 7) }, { writeLen: 1024 }, { writeLen: 1 }]);
  const b = d.submit(0, [{ data: header(VIRTIO_BLK_T_IN, 2 ** 40) }, { writeLen: 512 }, { writeLen: 1 }]);
  const c = d.submit(0, [{ data: header(99, 0) }, { writeLen: 1 }]);
  await settle();
  assert.equal(d.takeUsed(0).length, 3);
  assert.equal(d.ram.read8(a.bufs[2].addr), VIRTIO_BLK_S_IOERR);
  assert.equal(d.ram.read8(b.bufs[2].addr), VIRTIO_BLK_S_IOERR);
  assert.equal(d.ram.read8(c.bufs[1].addr), VIRTIO_BLK_S_UNSUPP);

  const be = new MemBlockBackend(8 * 512, true);
  const ro = setup(be).d;
  const w = ro.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(512).fill(9) }, { writeLen: 1 }]);
  await settle();
  assert.equal(ro.takeUsed(0).length, 1);
  assert.equal(ro.ram.read8(w.bufs[2].addr), VIRTIO_BLK_S_IOERR);
  assert.equal(be.data[0], 0);
});

test("requests without a status byte or header are dropped, not crashed on", async () => {
  const { d } = setup(new MemBlockBackend(8 * 512));
  const a = d.submit(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }]);
  const b = d.submit(0, [{ data: new Uint8Array(4) }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: a.head, len: 0 }, { id: b.head, len: 0 }]);
  assert.equal(d.ram.read8(b.bufs[1].addr), 0);
});

test("backend errors become IOERR", async () => {
  const be = new MemBlockBackend(8 * 512);
  be.flush = (): void => { throw new Error("disk gone"); };
  const { d } = setup(be);
  const f = d.submit(0, [{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: f.head, len: 1 }]);
  assert.equal(d.ram.read8(f.bufs[1].addr), VIRTIO_BLK_S_IOERR);
});

test("a read or write whose data length is not a multiple of 512 fails with IOERR and changes nothing", async () => {
  const be = new MemBlockBackend(8 * 512);
  be.data.fill(0xaa);
  const { d } = setup(be);
  const cases: [string, number][] = [["511-byte write", 511], ["513-byte write", 513], ["1-byte write", 1], ["1000-byte write", 1000]];
  for (const [what, n] of cases) {
    const w = d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 1) }, { data: new Uint8Array(n).fill(0x55) }, { writeLen: 1 }]);
    await settle();
    assert.deepEqual(d.takeUsed(0), [{ id: w.head, len: 1 }], what);
    assert.equal(d.ram.read8(w.bufs[2].addr), VIRTIO_BLK_S_IOERR, what);
    assert.ok(be.data.every((b) => b === 0xaa), `${what} must not reach the disk`);
  }
  // A data part split into pieces that add up to 511 is just as wrong.
  const split = d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(256) }, { data: new Uint8Array(255) }, { writeLen: 1 }]);
  const rd = d.submit(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }, { writeLen: 511 }, { writeLen: 1 }]);
  await settle();
  assert.equal(d.takeUsed(0).length, 2);
  assert.equal(d.ram.read8(split.bufs[3].addr), VIRTIO_BLK_S_IOERR);
  assert.equal(d.ram.read8(rd.bufs[2].addr), VIRTIO_BLK_S_IOERR);
  assert.ok(be.data.every((b) => b === 0xaa));
  assert.ok(d.ram.read(rd.bufs[1].addr, 511).every((b) => b === 0), "a failed read writes no data");
  // A zero-length write (no data) is a no-op that succeeds, as in QEMU.
  const z = d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 0) }, { writeLen: 1 }]);
  await settle();
  assert.equal(d.takeUsed(0).length, 1);
  assert.equal(d.ram.read8(z.bufs[1].addr), VIRTIO_BLK_S_OK);
});

test("a queue size that is not a power of 2 is refused (the disk does not go live)", async () => {
  const be = new MemBlockBackend(8 * 512);
  const d = new TestDriver(new VirtioBlk(be));
  d.init(featureBit(VIRTIO_F_VERSION_1), [100]);
  assert.equal(d.r(VIRTIO_MMIO_QUEUE_READY), 0);
  assert.equal(d.status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(512).fill(1) }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), []);
  assert.equal(be.data[0], 0);
  // After a reset, a power-of-2 size works.
  d.init(featureBit(VIRTIO_F_VERSION_1), [128]);
  const w = d.submit(0, [{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(512).fill(1) }, { writeLen: 1 }]);
  await settle();
  assert.deepEqual(d.takeUsed(0), [{ id: w.head, len: 1 }]);
  assert.equal(be.data[0], 1);
});

test("state round trip: save → load into a fresh device → save gives the same state; another disk is refused", () => {
  const a = setup(new MemBlockBackend(64 * 512));
  const saved = viaJson(a.d.mmio.saveState());
  assert.deepEqual(saved.device, { kind: "blk", version: 1, capacitySectors: 64, readonly: false });
  const b = new TestDriver(new VirtioBlk(new MemBlockBackend(64 * 512)));
  b.mmio.loadState(saved);
  assert.deepEqual(viaJson(b.mmio.saveState()), saved);
  for (const other of [new MemBlockBackend(128 * 512), new MemBlockBackend(64 * 512, true)]) {
    const c = new TestDriver(new VirtioBlk(other));
    const before = viaJson(c.mmio.saveState());
    assert.throws(() => c.mmio.loadState(saved), /virtio-blk: the snapshot's disk has 64 sectors, this one (128|64 \(read-only\))/);
    assert.deepEqual(viaJson(c.mmio.saveState()), before, "a refused state changes nothing");
  }
  // A virtio-rng state does not load into a disk's slot.
  const rng = new TestDriver(new VirtioRng());
  assert.throws(() => a.d.mmio.loadState(viaJson(rng.mmio.saveState())), /snapshot holds device id 4, this slot has 2/);
  assert.deepEqual(viaJson(rng.mmio.saveState()).device, { kind: "rng", version: 1 });
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { VIRTIO_F_VERSION_1, VIRTIO_MMIO_CONFIG, VIRTQ_DESC_F_NEXT, featureBit } from "./virtio_mmio.js";
import { VirtioConsole } from "./virtio_console.js";
import { VirtioRng } from "./virtio_rng.js";
import { TestDriver } from "./virtio_testing.js";
import { viaJson } from "../../memory/device.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

test("console: tx goes to the backend", () => {
  const out: string[] = [];
  const con = new VirtioConsole({ write: (b) => out.push(dec(b)) });
  const d = new TestDriver(con);
  d.init(featureBit(VIRTIO_F_VERSION_1), [8, 8]);
  const s = d.submit(1, [{ data: enc("hello ") }, { data: enc("world\n") }]);
  assert.deepEqual(out, ["hello world\n"]);
  assert.deepEqual(d.takeUsed(1), [{ id: s.head, len: 0 }]);
  d.mmio.write(VIRTIO_MMIO_CONFIG + 8, 4, 0x21); // emerg_wr
  assert.deepEqual(out, ["hello world\n", "!"]);
});

test("console: a transmit chain naming all of guest RAM many times is copied out in bounded pieces", () => {
  const pieces: number[] = [];
  const con = new VirtioConsole({ write: (b) => pieces.push(b.length) });
  const d = new TestDriver(con, 4 << 20);
  d.init(featureBit(VIRTIO_F_VERSION_1), [16, 16]);
  // 16 descriptors, each the whole 4 MiB of RAM: 64 MiB of "output" in one chain.
  for (let i = 0; i < 16; i++) d.writeDesc(1, i, d.ram.base, d.ram.size, i < 15 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
  d.makeAvailable(1, 0);
  d.notify(1);
  assert.deepEqual(d.takeUsed(1), [{ id: 0, len: 0 }]);
  assert.ok(Math.max(...pieces) <= 64 * 1024, `largest host buffer ${Math.max(...pieces)}`);
  assert.equal(pieces.reduce((a, b) => a + b, 0), 1 << 20, "at most 1 MiB is taken from one chain");
});

test("console: input is buffered until rx buffers arrive, and split across them", () => {
  const con = new VirtioConsole({ write: () => undefined });
  con.receive(enc("early"));
  const d = new TestDriver(con);
  d.init(featureBit(VIRTIO_F_VERSION_1), [8, 8]);
  con.receive(enc("-input"));
  assert.equal(con.pendingInput, 11);
  const a = d.submit(0, [{ writeLen: 4 }]);
  const b = d.submit(0, [{ writeLen: 64 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: a.head, len: 4 }, { id: b.head, len: 7 }]);
  assert.equal(dec(d.ram.read(a.bufs[0].addr, 4)), "earl");
  assert.equal(dec(d.ram.read(b.bufs[0].addr, 7)), "y-input");
  assert.equal(con.pendingInput, 0);
  // An rx buffer posted before input is used as soon as input comes.
  const c = d.submit(0, [{ writeLen: 16 }]);
  assert.deepEqual(d.takeUsed(0), []);
  con.receive(enc("k"));
  assert.deepEqual(d.takeUsed(0), [{ id: c.head, len: 1 }]);
  assert.equal(d.irq.level, true);
  // Snapshot round trip keeps buffered input.
  con.receive(enc("zz"));
  const con2 = new VirtioConsole({ write: () => undefined });
  con2.loadState(viaJson(con.saveState()));
  assert.equal(con2.pendingInput, 2);
});

test("rng: fills writable buffers from the injected source", () => {
  let calls = 0;
  const rng = new VirtioRng((dst) => { calls++; dst.fill(0x5a); });
  const d = new TestDriver(rng);
  d.init();
  const s = d.submit(0, [{ writeLen: 32 }, { writeLen: 8 }]);
  assert.deepEqual(d.takeUsed(0), [{ id: s.head, len: 40 }]);
  assert.ok(d.ram.read(s.bufs[0].addr, 32).every((b) => b === 0x5a));
  assert.ok(d.ram.read(s.bufs[1].addr, 8).every((b) => b === 0x5a));
  assert.equal(calls, 1);
  // Default source: crypto.getRandomValues.
  const d2 = new TestDriver(new VirtioRng());
  d2.init();
  const t = d2.submit(0, [{ writeLen: 64 }]);
  assert.deepEqual(d2.takeUsed(0), [{ id: t.head, len: 64 }]);
  assert.ok(d2.ram.read(t.bufs[0].addr, 64).some((b) => b !== 0));
});

// Whole-machine snapshots: capture, restore into a new board, the state round trip, and every
// validation error (the machine stays unchanged).
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtMachine, type VirtConfig } from "./machine.js";
import { CaptureCharBackend } from "./devices/char_backend.js";
import { MemBlockBackend } from "./devices/virtio_blk.js";
import { Isa } from "../cpu/isa.js";
import {
  captureSnapshot, machineFromSnapshot, parseSnapshot, restoreSnapshot, snapshotChecksum, SnapshotError,
  SNAPSHOT_FORMAT_VERSION, SNAPSHOT_PAGE_SIZE,
} from "./snapshot.js";

const DRAM = 0x8000_0000;
const I = (op: number, f3: number, rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
/** auipc rd, 1: rd = pc + 0x1000 (the counter lives on the page after the code, so its stores do not hit the code page). */
const auipc1 = (rd: number): number => (1 << 12) | (rd << 7) | 0x17;
const sd = (rs2: number, rs1: number, imm: number): number => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
const JAL_BACK_8 = 0xff9ff06f; // jal x0, -8

/** x6 = &counter (kernel + 0x1000); loop: x5 += 1; sd x5, 0(x6); j loop. */
function counterProgram(step = 1): Uint8Array {
  const code = [auipc1(6), I(0x13, 0, 6, 6, 0), I(0x13, 0, 5, 5, step), sd(5, 6, 0), JAL_BACK_8];
  const bytes = new Uint8Array(0x1000);
  const view = new DataView(bytes.buffer);
  code.forEach((w, i) => view.setUint32(4 * i, w, true));
  return bytes;
}
const COUNTER = DRAM + 0x1000;

interface Rig { m: VirtMachine; clock: { now: number }; disk: MemBlockBackend; out: CaptureCharBackend }

function rig(over: Partial<VirtConfig> = {}, diskBytes = 1 << 20): Rig {
  const clock = { now: 1000 };
  const disk = new MemBlockBackend(diskBytes);
  const out = new CaptureCharBackend();
  const m = new VirtMachine({
    memBytes: 16 << 20, harts: 2, firmware: { kind: "none" }, kernel: counterProgram(), console: out, drives: [disk],
    clock: () => clock.now, wallClock: () => 1.7e12 + clock.now, randomBytes: (d) => d.fill(7), ...over,
  });
  return { m, clock, disk, out };
}

const backendsOf = (r: Rig): Parameters<typeof machineFromSnapshot>[1] =>
  ({ console: r.out, drives: [r.disk], clock: () => r.clock.now, wallClock: () => 1.7e12 + r.clock.now, randomBytes: (d) => d.fill(7) });

/** The whole guest-visible machine, for equality checks: its state and a checksum of RAM. */
function fingerprint(m: VirtMachine): string {
  return JSON.stringify({ state: m.saveState(), ram: snapshotChecksum(m.ram.u8) });
}

test("a machine restored into a new board continues from the snapshot: RAM, harts, devices, mtime", () => {
  const a = rig();
  a.m.step(50_000);
  a.clock.now += 5;
  const counter = a.m.ram.read32(COUNTER);
  assert.ok(counter > 1000, "the program ran");
  const mtime = a.m.clint.mtime();
  const before = a.m.saveState();
  const file = captureSnapshot(a.m, { producer: "rvisor test" });
  // The original runs on: the snapshot must not follow it.
  a.m.step(50_000);
  assert.ok(a.m.ram.read32(COUNTER) > counter);

  const snap = parseSnapshot(file);
  assert.equal(snap.header.producer, "rvisor test");
  // Code, counter, the device tree's page(s) and fw_dynamic_info: nothing of the other 16 MiB.
  assert.ok(snap.pages.length >= 3 && snap.pages.length <= 4, `only touched pages are stored (${snap.pages.length})`);
  assert.equal(snap.pages[0], 0);
  assert.equal(snap.pages[1], 1);
  // A new board whose host clock is far ahead: mtime continues from the snapshot's value.
  const b = { ...a, clock: { now: 987_654 } };
  const m2 = machineFromSnapshot(snap, backendsOf(b));
  assert.equal(m2.ram.read32(COUNTER), counter);
  assert.equal(m2.clint.mtime(), mtime);
  assert.deepEqual(m2.saveState(), before, "save → load → save gives the same state");
  m2.step(10_000);
  assert.ok(m2.ram.read32(COUNTER) > counter && m2.ram.read32(COUNTER) < counter + 10_000, "the counter continues from the snapshot's value");
});

test("a restore into a running machine drops its decoded code: the snapshot's code runs", () => {
  const a = rig({ harts: 1 });
  a.m.step(20_000); // blocks of "x5 += 1" are decoded and compiled
  const other = rig({ harts: 1, kernel: counterProgram(0x100) });
  other.m.step(20_000);
  const file = captureSnapshot(other.m, { producer: "t" });
  const fp = fingerprint(other.m);
  a.m.ram.write(DRAM + (8 << 20), Uint8Array.of(0x5a)); // a page the snapshot does not hold: zero after the restore
  restoreSnapshot(a.m, parseSnapshot(file)); // RAM is written behind the code cache's back
  assert.equal(fingerprint(a.m), fp);
  const c = a.m.ram.read32(COUNTER);
  a.m.step(3000);
  const d = a.m.ram.read32(COUNTER) - c;
  assert.ok(d > 0 && d % 0x100 === 0, `the restored program counts in steps of 256 (moved by ${d})`);
});

test("a snapshot reads only the pages something wrote: capturing a large, mostly untouched RAM commits no host memory for it", () => {
  // On a host without a shared zero page (this CI's), reading an untouched page commits it:
  // a capture that scanned all of RAM grew the process by the RAM's size.
  const ramBytes = 512 << 20;
  const a = rig({ harts: 1, memBytes: ramBytes });
  a.m.step(20_000);
  const rss0 = process.memoryUsage.rss();
  const snap = parseSnapshot(captureSnapshot(a.m, { producer: "t" }));
  const grown = process.memoryUsage.rss() - rss0;
  assert.ok(grown < ramBytes / 8, `the capture grew the process by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(snap.pages.length >= 3 && snap.pages.length <= 4, `${snap.pages.length} pages`);
  const b = machineFromSnapshot(snap, backendsOf(a));
  assert.equal(b.ram.read32(COUNTER), a.m.ram.read32(COUNTER));
  assert.deepEqual([...b.ram.written.keys()].filter((p) => b.ram.written[p] !== 0), [...snap.pages], "a restored board knows which pages it holds");
});

test("the built-in SBI's PMU counters and the harts' HSM states survive a snapshot", () => {
  const a = rig({ firmware: { kind: "builtin" } });
  // The SBI stops every hart but the boot hart (HSM); fake a PMU configuration on hart 1.
  const h1 = a.m.harts[1];
  h1.setX(10, 3); h1.setX(11, 1); h1.setX(12, 0); h1.setX(13, (0xf << 16) | 5);
  a.m.sbi!.pmu.call(h1, 2, (i) => h1.getX(10 + i), (i) => h1.x[2 * (10 + i)], (i) => h1.x[2 * (10 + i) + 1]);
  const state = a.m.saveState();
  assert.ok(state.sbi !== null && state.sbi.pmu.harts[1] !== null && state.sbi.pmu.harts[0] === null);
  const m2 = machineFromSnapshot(parseSnapshot(captureSnapshot(a.m, { producer: "t" })), backendsOf(a));
  assert.deepEqual(m2.saveState(), state);
  assert.equal(m2.harts[1].stopped, true);
  assert.equal(m2.harts[0].stopped, false);
});

/** A file of machine `a`, changed by `edit`, fixing the checksum afterwards unless `keepSum`. */
function edited(file: Uint8Array, edit: (f: Uint8Array, dv: DataView) => void, fixSum = true): Uint8Array {
  const f = file.slice();
  const dv = new DataView(f.buffer);
  edit(f, dv);
  if (fixSum) {
    const [x, y] = snapshotChecksum(f.subarray(0, f.length - 8));
    dv.setUint32(f.length - 8, x, true); dv.setUint32(f.length - 4, y, true);
  }
  return f;
}

function editHeader(file: Uint8Array, change: (h: Record<string, unknown>) => void): Uint8Array {
  const snap = parseSnapshot(file);
  const h = JSON.parse(JSON.stringify(snap.header)) as Record<string, unknown>;
  change(h);
  // Rebuild with the same pages: header bytes, then the rest of the file as it was.
  const json = new TextEncoder().encode(JSON.stringify(h));
  const oldLen = new DataView(file.buffer, file.byteOffset).getUint32(12, true);
  const oldRest = file.subarray(24 + ((oldLen + 7) & ~7), file.length - 8);
  const pad = (json.length + 7) & ~7;
  const out = new Uint8Array(24 + pad + oldRest.length + 8);
  out.set(file.subarray(0, 24));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 24);
  out.set(oldRest, 24 + pad);
  return edited(out, () => undefined);
}

test("corrupt or foreign snapshots are refused with a clear error, and the running machine is unchanged", () => {
  const src = rig();
  src.m.step(30_000);
  const file = captureSnapshot(src.m, { producer: "t" });
  assert.doesNotThrow(() => editHeader(file, () => undefined), "the editing helper itself keeps a file valid");

  const target = rig();
  target.m.step(12_345);
  const fp = fingerprint(target.m);
  const cases: [string, Uint8Array | (() => VirtMachine), RegExp][] = [
    ["empty file", new Uint8Array(0), /too short/],
    ["wrong magic", edited(file, (f) => { f[0] = 0x51; }), /bad magic/],
    ["unknown version", edited(file, (_f, dv) => dv.setUint32(8, SNAPSHOT_FORMAT_VERSION + 1, true)), /format version 2 is not supported/],
    ["truncated", file.subarray(0, file.length - 100), /truncated/],
    ["trailing bytes", Uint8Array.from([...file, 0, 0, 0, 0]), /longer than its header says/],
    ["a flipped RAM bit", edited(file, (f) => { f[f.length - 8 - SNAPSHOT_PAGE_SIZE + 5] ^= 1; }, false), /checksum mismatch/],
    ["a flipped checksum bit", edited(file, (f) => { f[f.length - 1] ^= 0x80; }, false), /checksum mismatch/],
    ["bad header JSON", edited(file, (f) => { f[24] = 0x7b + 1; }), /not valid JSON/],
    ["another RAM size", editHeader(file, (h) => { (h.board as { memBytes: number }).memBytes = 32 << 20; }), /memory: the snapshot has 32 MiB, this machine 16 MiB/],
    ["another hart count", editHeader(file, (h) => { (h.board as { harts: number }).harts = 1; }), /harts: the snapshot has 1, this machine 2/],
    ["another firmware", editHeader(file, (h) => { (h.board as { firmware: string }).firmware = "builtin"; }), /firmware: the snapshot ran with builtin/],
    ["another ISA", editHeader(file, (h) => { (h.board as { isa: string }).isa = "rv64imafdc"; }), /ISA: the snapshot's harts are rv64imafdc/],
    ["another disk size", editHeader(file, (h) => {
      (h.board as { virtio: { disk?: { capacitySectors: number } }[] }).virtio[0].disk!.capacitySectors = 4096;
    }), /virtio0: the snapshot's disk has 4096 sectors, this one 2048/],
  ];
  for (const [what, input, msg] of cases) {
    assert.throws(() => {
      const snap = parseSnapshot(input as Uint8Array);
      restoreSnapshot(target.m, snap);
    }, (e: unknown) => e instanceof SnapshotError && msg.test(e.message), what);
    assert.equal(fingerprint(target.m), fp, `machine changed by: ${what}`);
  }
  // A board built from the snapshot with other backends is refused before it runs.
  assert.throws(() => machineFromSnapshot(parseSnapshot(file), { ...backendsOf(src), drives: [new MemBlockBackend(2 << 20)] }), /virtio0: the snapshot's disk has 2048 sectors, this one 4096/);
  assert.throws(() => machineFromSnapshot(parseSnapshot(file), { ...backendsOf(src), drives: [] }), /virtio devices: the snapshot has 3, this machine 2/);
  assert.throws(() => machineFromSnapshot(parseSnapshot(editHeader(file, (h) => { (h.board as { extensions: string[] }).extensions.push("xfoo"); })), backendsOf(src)),
    /extensions this rvisor does not implement: xfoo/);
  // A snapshot of an rv64gc board does not restore on a max board.
  const gc = rig({ isa: Isa.profile("rv64gc") });
  assert.throws(() => restoreSnapshot(src.m, parseSnapshot(captureSnapshot(gc.m, { producer: "t" }))), /ISA: the snapshot's harts are rv64imafdc_zicntr/);
});

/** Writes "ab" to the UART's THR once (x7 = 0x1000_0000), then spins. */
function uartProgram(): Uint8Array {
  const LUI_X7_UART = (0x10000 << 12) | (7 << 7) | 0x37; // lui x7, 0x10000
  const sb = (rs2: number, rs1: number, imm: number): number => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (0 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
  const JAL_SELF = 0x0000006f;
  const code = [LUI_X7_UART, I(0x13, 0, 5, 0, 0x61), sb(5, 7, 0), I(0x13, 0, 5, 0, 0x62), sb(5, 7, 0), JAL_SELF];
  const bytes = new Uint8Array(0x1000);
  const view = new DataView(bytes.buffer);
  code.forEach((w, i) => view.setUint32(4 * i, w, true));
  return bytes;
}

test("a snapshot carries the console's recent output; a restored machine keeps adding to it; older files without it restore with none", () => {
  const a = rig({ kernel: uartProgram(), harts: 1, drives: [] });
  a.m.step(1000);
  assert.equal(a.out.text(), "ab");
  assert.equal(new TextDecoder().decode(a.m.consoleHistory.bytes()), "ab");
  const file = captureSnapshot(a.m, { producer: "rvisor test" });
  const snap = parseSnapshot(file);
  assert.deepEqual(snap.header.console, { history: "ab" });
  const m2 = machineFromSnapshot(snap, { console: new CaptureCharBackend() });
  assert.equal(new TextDecoder().decode(m2.consoleHistory.bytes()), "ab");
  m2.consoleHistory.push(Uint8Array.of(0x63));
  assert.equal(parseSnapshot(captureSnapshot(m2, { producer: "t" })).header.console?.history, "abc");
  // A header without the field (a file from before it): no history, the machine restores.
  const old = parseSnapshot(file);
  delete old.header.console;
  assert.equal(machineFromSnapshot(old, { console: new CaptureCharBackend() }).consoleHistory.bytes().length, 0);
});

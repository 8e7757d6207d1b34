import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrqLine } from "../../memory/device.js";
import { Clint, clintFdt } from "./clint.js";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings } from "../fdt.js";
import { viaJson } from "../../memory/device.js";

class Line implements IrqLine {
  level = false;
  sets = 0;
  set(level: boolean): void { this.level = level; this.sets++; }
}

function setup(n = 2): { clint: Clint; harts: { msip: Line; mtip: Line }[]; time: { ms: number } } {
  const time = { ms: 1000 };
  const harts = Array.from({ length: n }, () => ({ msip: new Line(), mtip: new Line() }));
  return { clint: new Clint(harts, () => time.ms), harts, time };
}

const read64 = (c: Clint, off: number): number => c.read(off, 4) + c.read(off + 4, 4) * 2 ** 32;
const write64 = (c: Clint, off: number, v: number): void => {
  c.write(off, 4, v >>> 0);
  c.write(off + 4, 4, Math.floor(v / 2 ** 32));
};

test("mtime counts at 10 MHz of host time", () => {
  const { clint, time } = setup();
  assert.equal(clint.mtime(), 0);
  time.ms += 1.5;
  assert.equal(clint.mtime(), 15000);
  assert.equal(read64(clint, 0xbff8), 15000);
});

test("mtime writes set an offset; 64-bit values are exact", () => {
  const { clint, time } = setup();
  write64(clint, 0xbff8, 0x1_2345_6789);
  assert.equal(clint.mtime(), 0x1_2345_6789);
  time.ms += 1;
  assert.equal(read64(clint, 0xbff8), 0x1_2345_6789 + 10000);
});

test("mtime low/high pair read does not tear across a 2^32 boundary", () => {
  const { clint, time } = setup();
  write64(clint, 0xbff8, 0xffff_fff0);
  const lo = clint.read(0xbff8, 4);
  time.ms += 1; // carries into the high word
  const hi = clint.read(0xbffc, 4);
  assert.equal(hi * 2 ** 32 + lo, 0xffff_fff0);
  assert.equal(clint.read(0xbffc, 4), 1); // a lone high read is current
});

test("mtimecmp resets to all ones and reads back its halves", () => {
  const { clint } = setup();
  assert.equal(clint.read(0x4000, 4), 0xffffffff);
  assert.equal(clint.read(0x4004, 4), 0xffffffff);
  assert.equal(clint.read(0x4008, 4), 0xffffffff);
  assert.equal(clint.nextDeadline(), Infinity);
});

test("MTIP follows mtime >= mtimecmp per hart", () => {
  const { clint, harts, time } = setup();
  write64(clint, 0x4008, 20000); // hart 1
  assert.equal(harts[1].mtip.level, false);
  assert.equal(clint.nextDeadline(), 2);
  time.ms += 1.9999;
  clint.tick();
  assert.ok(clint.nextDeadline() < 0.001);
  assert.equal(harts[1].mtip.level, false);
  time.ms += 0.0001;
  assert.equal(clint.nextDeadline(), 0); // due but not ticked yet
  clint.tick();
  assert.equal(harts[1].mtip.level, true);
  assert.equal(harts[0].mtip.level, false);
  assert.equal(clint.nextDeadline(), Infinity); // already raised: nothing left to wait for
  write64(clint, 0x4000, 0); // hart 0: due, but not ticked yet
  assert.equal(harts[0].mtip.level, true); // mtimecmp writes re-evaluate at once
  assert.equal(clint.nextDeadline(), Infinity);
  // Writing a later mtimecmp lowers MTIP immediately (as Linux/OpenSBI rely on).
  write64(clint, 0x4008, 0x1_0000_0000);
  assert.equal(harts[1].mtip.level, false);
  // Writing the low half first with a high-half already large: no spurious fire.
  clint.write(0x400c, 4, 0xffffffff);
  clint.write(0x4008, 4, 0);
  assert.equal(harts[1].mtip.level, false);
  assert.equal(clint.read(0x400c, 4), 0xffffffff);
  clint.write(0x400c, 4, 0);
  assert.equal(harts[1].mtip.level, true);
});

test("msip drives MSIP; only bit 0 is writable; narrow accesses work", () => {
  const { clint, harts } = setup();
  clint.write(4, 4, 0xffffffff);
  assert.equal(harts[1].msip.level, true);
  assert.equal(clint.read(4, 4), 1);
  assert.equal(harts[0].msip.level, false);
  clint.write(4, 1, 0);
  assert.equal(harts[1].msip.level, false);
  clint.write(0x4000, 2, 0x1234);
  assert.equal(clint.read(0x4000, 4), 0xffff1234);
  assert.equal(clint.read(0x4002, 2), 0xffff);
  assert.equal(clint.read(8, 4), 0); // no hart 2
});

test("saveState/loadState round-trip", () => {
  const a = setup();
  a.time.ms += 5;
  write64(a.clint, 0x4000, 123456);
  a.clint.write(4, 4, 1);
  const state = viaJson(a.clint.saveState());
  const b = setup();
  b.time.ms += 777;
  b.clint.loadState(state);
  assert.equal(b.clint.mtime(), 50000);
  assert.equal(read64(b.clint, 0x4000), 123456);
  assert.equal(b.harts[1].msip.level, true);
  assert.equal(b.harts[0].mtip.level, false);
  assert.equal(b.clint.read(0x400c, 4), 0xffffffff);
});

test("clintFdt writes QEMU's node", () => {
  const fdt = new FdtBuilder();
  fdt.beginNode("");
  clintFdt(fdt, 0x200_0000, 0x10000, [5, 6]);
  fdt.endNode();
  const node = fdtFind(parseFdt(fdt.finish()).root, "/clint@2000000");
  assert.ok(node);
  assert.deepEqual(fdtStrings(node, "compatible"), ["sifive,clint0", "riscv,clint0"]);
  assert.deepEqual(fdtCells(node, "reg"), [0, 0x200_0000, 0, 0x10000]);
  assert.deepEqual(fdtCells(node, "interrupts-extended"), [5, 3, 5, 7, 6, 3, 6, 7]);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import type { IrqLine } from "../../memory/device.js";
import { Plic, plicFdt } from "./plic.js";
import { FdtBuilder, parseFdt, fdtFind, fdtCells, fdtStrings } from "../fdt.js";
import { viaJson } from "../../memory/device.js";

class Line implements IrqLine {
  level = false;
  set(level: boolean): void { this.level = level; }
}

const PRIO = (id: number): number => 4 * id;
const PENDING = 0x1000;
const ENABLE = (ctx: number, w = 0): number => 0x2000 + 0x80 * ctx + 4 * w;
const THRESHOLD = (ctx: number): number => 0x20_0000 + 0x1000 * ctx;
const CLAIM = (ctx: number): number => THRESHOLD(ctx) + 4;

function setup(): { plic: Plic; harts: { meip: Line; seip: Line }[] } {
  const harts = [{ meip: new Line(), seip: new Line() }, { meip: new Line(), seip: new Line() }];
  return { plic: new Plic(harts), harts };
}

test("level source: pending, claim, complete, re-pend while still high", () => {
  const { plic, harts } = setup();
  plic.write(PRIO(10), 4, 1);
  plic.write(ENABLE(1), 4, 1 << 10); // hart 0 S-mode
  const src = plic.irq(10);
  src.set(true);
  assert.equal(plic.read(PENDING, 4), 1 << 10);
  assert.equal(harts[0].seip.level, true);
  assert.equal(harts[0].meip.level, false);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  assert.equal(plic.read(PENDING, 4), 0);
  assert.equal(harts[0].seip.level, false);
  assert.equal(plic.read(CLAIM(1), 4), 0); // claimed: not forwarded again
  plic.write(CLAIM(1), 4, 10); // complete with the line still high
  assert.equal(harts[0].seip.level, true);
  assert.equal(plic.read(CLAIM(1), 4), 10);
  src.set(false);
  plic.write(CLAIM(1), 4, 10);
  assert.equal(harts[0].seip.level, false);
  assert.equal(plic.read(PENDING, 4), 0);
});

test("lowering an unclaimed source retracts the request", () => {
  const { plic, harts } = setup();
  plic.write(PRIO(3), 4, 1);
  plic.write(ENABLE(0), 4, 1 << 3);
  plic.irq(3).set(true);
  assert.equal(harts[0].meip.level, true);
  plic.irq(3).set(false);
  assert.equal(harts[0].meip.level, false);
  assert.equal(plic.read(CLAIM(0), 4), 0);
});

test("priorities decide the claim; ties go to the lowest id; priority 0 never interrupts", () => {
  const { plic, harts } = setup();
  plic.write(ENABLE(0, 0), 4, 0xffffffff);
  plic.write(ENABLE(0, 1), 4, 0xffffffff);
  plic.write(ENABLE(0, 2), 4, 0xffffffff);
  assert.equal(plic.read(ENABLE(0, 0), 4), 0xfffffffe); // source 0 does not exist
  plic.irq(40).set(true); // priority 0
  assert.equal(harts[0].meip.level, false);
  assert.equal(plic.read(CLAIM(0), 4), 0);
  for (const [id, p] of [[5, 2], [7, 3], [6, 3], [95, 1]]) { plic.write(PRIO(id), 4, p); plic.irq(id).set(true); }
  assert.equal(plic.read(PENDING + 8, 4), 0x8000_0000); // source 95
  assert.equal(plic.read(CLAIM(0), 4), 6);
  assert.equal(plic.read(CLAIM(0), 4), 7);
  assert.equal(plic.read(CLAIM(0), 4), 5);
  assert.equal(plic.read(CLAIM(0), 4), 95);
  assert.equal(plic.read(CLAIM(0), 4), 0);
  plic.write(PRIO(5), 4, 0xffffffff);
  assert.equal(plic.read(PRIO(5), 4), 7); // WARL: 7 levels
});

test("threshold masks priorities at or below it", () => {
  const { plic, harts } = setup();
  plic.write(PRIO(1), 4, 3);
  plic.write(ENABLE(2), 4, 1 << 1); // hart 1 M-mode
  plic.write(THRESHOLD(2), 4, 3);
  plic.irq(1).set(true);
  assert.equal(harts[1].meip.level, false);
  assert.equal(plic.read(CLAIM(2), 4), 0);
  plic.write(THRESHOLD(2), 4, 2);
  assert.equal(plic.read(THRESHOLD(2), 4), 2);
  assert.equal(harts[1].meip.level, true);
  assert.equal(plic.read(CLAIM(2), 4), 1);
});

test("enables are per context; completion for a disabled context is ignored", () => {
  const { plic, harts } = setup();
  plic.write(PRIO(9), 4, 1);
  plic.write(ENABLE(3), 4, 1 << 9); // hart 1 S-mode only
  plic.irq(9).set(true);
  assert.equal(harts[1].seip.level, true);
  assert.equal(harts[0].meip.level, false);
  assert.equal(harts[0].seip.level, false);
  assert.equal(harts[1].meip.level, false);
  assert.equal(plic.read(CLAIM(0), 4), 0);
  assert.equal(plic.read(CLAIM(3), 4), 9);
  plic.write(CLAIM(0), 4, 9); // wrong context: ignored, still claimed
  assert.equal(plic.read(CLAIM(3), 4), 0);
  plic.write(CLAIM(3), 4, 9);
  assert.equal(plic.read(CLAIM(3), 4), 9);
});

test("saveState/loadState round-trip restores outputs", () => {
  const a = setup();
  a.plic.write(PRIO(10), 4, 1);
  a.plic.write(ENABLE(1), 4, 1 << 10);
  a.plic.irq(10).set(true);
  const b = setup();
  b.plic.loadState(viaJson(a.plic.saveState()));
  assert.equal(b.harts[0].seip.level, true);
  assert.equal(b.plic.read(CLAIM(1), 4), 10);
  b.plic.write(CLAIM(1), 4, 10);
  assert.equal(b.harts[0].seip.level, true); // level was restored too
});

test("plicFdt writes QEMU's node", () => {
  const fdt = new FdtBuilder();
  fdt.beginNode("");
  plicFdt(fdt, 0xc00_0000, 0x600_0000, 3, [1, 2]);
  fdt.endNode();
  const node = fdtFind(parseFdt(fdt.finish()).root, "/plic@c000000");
  assert.ok(node);
  assert.deepEqual(fdtStrings(node, "compatible"), ["sifive,plic-1.0.0", "riscv,plic0"]);
  assert.deepEqual(fdtCells(node, "interrupts-extended"), [1, 11, 1, 9, 2, 11, 2, 9]);
  assert.deepEqual(fdtCells(node, "riscv,ndev"), [95]);
  assert.deepEqual(fdtCells(node, "#interrupt-cells"), [1]);
  assert.deepEqual(fdtCells(node, "#address-cells"), [0]);
  assert.deepEqual(fdtCells(node, "phandle"), [3]);
  assert.deepEqual(fdtCells(node, "reg"), [0, 0xc00_0000, 0, 0x600_0000]);
  assert.ok(node.props.has("interrupt-controller"));
});

// VirtMachine run loop: LR/SC reservations across the harts' time slices.
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtMachine } from "./machine.js";
import { nullCharBackend } from "./devices/char_backend.js";

const DRAM = 0x8000_0000;
const NOP = 0x00000013;
const I = (op: number, f3: number, rd: number, rs1: number, imm: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const auipc = (rd: number): number => (rd << 7) | 0x17;
const lr_d = (rd: number, rs1: number): number => ((0x02 << 27) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x2f) >>> 0;
const sc_d = (rd: number, rs1: number, rs2: number): number => ((0x03 << 27) | (rs2 << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x2f) >>> 0;
const JAL_SELF = 0x0000006f;

/** `harts` harts running: x6 = &data; 61 nops; lr.d x5, (x6) as the 64th instruction; sc.d x7, x8, (x6). */
function lrScMachine(harts: number): { m: VirtMachine; lrPc: number } {
  const code = [auipc(6), I(0x13, 0, 6, 6, 0x400), ...Array<number>(61).fill(NOP), lr_d(5, 6), sc_d(7, 6, 8), JAL_SELF];
  const bytes = new Uint8Array(0x408);
  const view = new DataView(bytes.buffer);
  code.forEach((w, i) => view.setUint32(4 * i, w, true));
  const m = new VirtMachine({ memBytes: 16 << 20, harts, firmware: { kind: "none" }, kernel: bytes, console: nullCharBackend });
  return { m, lrPc: DRAM + 4 * 63 };
}

test("one hart: an LR/SC pair split by the end of a time slice still succeeds", () => {
  const { m, lrPc } = lrScMachine(1);
  const h = m.harts[0];
  assert.ok(h !== undefined);
  assert.equal(h.pc, DRAM);
  m.step(64); // exactly the first block, which ends with the LR
  assert.equal(h.pc, lrPc + 4, "the slice must end between LR and SC for this test to mean anything");
  assert.notEqual(h.reservation, -1);
  h.setX(8, 0x1234);
  m.step(2);
  assert.equal(h.getX(7), 0, "SC failed");
  assert.equal(m.ram.read32(DRAM + 0x400), 0x1234);
});

test("two harts: a reservation does not survive the other hart's slice", () => {
  const { m, lrPc } = lrScMachine(2);
  const h = m.harts[0];
  assert.ok(h !== undefined);
  m.step(64); // hart 0 runs its first block (ending with the LR); hart 1 gets no budget
  assert.equal(h.pc, lrPc + 4);
  m.step(200); // hart 1 runs (and may store), then hart 0's SC must fail
  assert.equal(h.getX(7), 1, "SC succeeded across another hart's slice");
});

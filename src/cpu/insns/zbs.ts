// Zbs: single-bit instructions (unprivileged spec, "B" chapter). The bit index is rs2[5:0] or
// the 6-bit immediate. Registers are lo/hi int32 pairs (src/cpu/insn.ts).
import { Fmt, type InsnDef, type Insn, MASK_R as R, MASK_SH64 as SH64 } from "../insn.js";
import type { Hart } from "../hart.js";

const enum BitOp { Clr, Inv, Set }

/** rd = rs1 with bit `i` (0..63) cleared, inverted or set. */
function bitOp(x: Int32Array, rd: number, rs1: number, i: number, op: BitOp): void {
  let lo = x[rs1], hi = x[rs1 + 1];
  const m = 1 << (i & 31);
  if (i < 32) lo = op === BitOp.Clr ? lo & ~m : op === BitOp.Inv ? lo ^ m : lo | m;
  else hi = op === BitOp.Clr ? hi & ~m : op === BitOp.Inv ? hi ^ m : hi | m;
  x[rd] = lo; x[rd + 1] = hi;
}
/** rd = bit `i` of rs1. */
function bitExt(x: Int32Array, rd: number, rs1: number, i: number): void {
  const v = i < 32 ? x[rs1] >>> i : x[rs1 + 1] >>> (i - 32);
  x[rd] = v & 1; x[rd + 1] = 0;
}

const bclr = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, h.x[d.rs2] & 63, BitOp.Clr); };
const binv = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, h.x[d.rs2] & 63, BitOp.Inv); };
const bset = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, h.x[d.rs2] & 63, BitOp.Set); };
const bext = (h: Hart, d: Insn): void => { bitExt(h.x, d.rd, d.rs1, h.x[d.rs2] & 63); };
const bclri = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, d.imm & 63, BitOp.Clr); };
const binvi = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, d.imm & 63, BitOp.Inv); };
const bseti = (h: Hart, d: Insn): void => { bitOp(h.x, d.rd, d.rs1, d.imm & 63, BitOp.Set); };
const bexti = (h: Hart, d: Insn): void => { bitExt(h.x, d.rd, d.rs1, d.imm & 63); };


export const zbs: readonly InsnDef[] = [
  { name: "bclr", match: 0x48001033, mask: R, fmt: Fmt.R, exec: bclr },
  { name: "bext", match: 0x48005033, mask: R, fmt: Fmt.R, exec: bext },
  { name: "binv", match: 0x68001033, mask: R, fmt: Fmt.R, exec: binv },
  { name: "bset", match: 0x28001033, mask: R, fmt: Fmt.R, exec: bset },
  { name: "bclri", match: 0x48001013, mask: SH64, fmt: Fmt.I, exec: bclri },
  { name: "bexti", match: 0x48005013, mask: SH64, fmt: Fmt.I, exec: bexti },
  { name: "binvi", match: 0x68001013, mask: SH64, fmt: Fmt.I, exec: binvi },
  { name: "bseti", match: 0x28001013, mask: SH64, fmt: Fmt.I, exec: bseti },
];

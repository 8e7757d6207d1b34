// Zfhmin and Zfh: half-precision floating point (RISC-V unprivileged spec, chapter "Zfh" and
// "Zfhmin"). Halves live NaN-boxed in the 64-bit f registers: bits 63:16 all ones, bits 15:0
// binary16. An operand that is not properly NaN-boxed reads as the canonical NaN (0x7e00).
//
// Zfhmin is the subset of Zfh with loads/stores, moves and conversions to/from single (and,
// with D, double); Zfh adds the arithmetic. The shared instructions are the same InsnDef
// objects in both lists (the decoder keeps one copy). fcvt.d.h/fcvt.h.d exist only with D:
// they are in `zfhminD`, which the decoder adds when both Zfhmin and D are present.
import { Fmt, type InsnDef } from "../insn.js";
import type { FpExec } from "../fpu/fp_hart.js";
import { RM, R3, R2RM, R2, R4 } from "../fpu/fp_hart.js";
import { fclass16, cvtH16 } from "../fpu/half.js";
import { FFmt, IntKind, fadd, fsub, fmul, fdiv, fsqrt } from "../fpu/ops.js";
import {
  FMT_S, FMT_D, FMT_H, Cmp, readH, writeHBits, binOp, fmaOp, unaryOp, minmaxOp, cmpOp, cvtToIntOp, cvtFromIntOp, cvtFmtOp,
} from "./fp_generic.js";

export { readH, writeHBits };

function sgnjH(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const a = readH(h, d.rs1), b = readH(h, d.rs2);
    const s = kind === 0 ? b : kind === 1 ? ~b : a ^ b;
    writeHBits(h, d.rd & 63, (a & 0x7fff) | (s & 0x8000));
    h.fs = 3;
  };
}

const flh: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const v = h.load16(d.rs1, d.imm);
  writeHBits(h, d.rd & 63, v & 0xffff);
  h.fs = 3;
};

const fsh: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.store16(d.rs1, d.imm, h.fi[d.rs2]); // the low 16 bits, whatever the box
};

/** fmv.x.h: bits 15:0 of rs1 (no box check), sign-extended into rd. */
const fmv_x_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const v = (h.fi[d.rs1] << 16) >> 16;
  h.x[d.rd] = v;
  h.x[d.rd + 1] = v >> 31;
};

const fmv_h_x: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  writeHBits(h, d.rd & 63, h.x[d.rs1] & 0xffff);
  h.fs = 3;
};

const fclass_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.x[d.rd] = fclass16(readH(h, d.rs1));
  h.x[d.rd + 1] = 0;
};

/** Widening to single/double is exact (rm is still checked, as for fcvt.d.s). */
const exact = (v: number): number => v;
const H = FMT_H;

/** Zfhmin (needs F): half loads/stores, moves, conversions to and from single. */
export const zfhmin: InsnDef[] = [
  { name: "flh", match: 0x00001007, mask: 0x0000707f, fmt: Fmt.I, exec: flh },
  { name: "fsh", match: 0x00001027, mask: 0x0000707f, fmt: Fmt.S, exec: fsh },
  { name: "fmv_x_h", match: 0xe4000053, mask: R2, fmt: Fmt.R, exec: fmv_x_h },
  { name: "fmv_h_x", match: 0xf4000053, mask: R2, fmt: Fmt.R, exec: fmv_h_x },
  { name: "fcvt_s_h", match: 0x40200053, mask: R2RM, fmt: Fmt.R, exec: cvtFmtOp(FMT_S, H, exact) },
  { name: "fcvt_h_s", match: 0x44000053, mask: R2RM, fmt: Fmt.R, exec: cvtFmtOp(H, FMT_S, cvtH16) },
];

/** Zfhmin with D: conversions to and from double. */
export const zfhminD: InsnDef[] = [
  { name: "fcvt_d_h", match: 0x42200053, mask: R2RM, fmt: Fmt.R, exec: cvtFmtOp(FMT_D, H, exact) },
  { name: "fcvt_h_d", match: 0x44100053, mask: R2RM, fmt: Fmt.R, exec: cvtFmtOp(H, FMT_D, cvtH16) },
];

/** Zfh: Zfhmin plus half-precision arithmetic, comparisons and integer conversions. */
export const zfh: InsnDef[] = [
  ...zfhmin,
  { name: "fmadd_h", match: 0x04000043, mask: R4, fmt: Fmt.R4, exec: fmaOp(H, false, false) },
  { name: "fmsub_h", match: 0x04000047, mask: R4, fmt: Fmt.R4, exec: fmaOp(H, false, true) },
  { name: "fnmsub_h", match: 0x0400004b, mask: R4, fmt: Fmt.R4, exec: fmaOp(H, true, false) },
  { name: "fnmadd_h", match: 0x0400004f, mask: R4, fmt: Fmt.R4, exec: fmaOp(H, true, true) },
  { name: "fadd_h", match: 0x04000053, mask: RM, fmt: Fmt.R, exec: binOp(H, fadd) },
  { name: "fsub_h", match: 0x0c000053, mask: RM, fmt: Fmt.R, exec: binOp(H, fsub) },
  { name: "fmul_h", match: 0x14000053, mask: RM, fmt: Fmt.R, exec: binOp(H, fmul) },
  { name: "fdiv_h", match: 0x1c000053, mask: RM, fmt: Fmt.R, exec: binOp(H, fdiv) },
  { name: "fsqrt_h", match: 0x5c000053, mask: R2RM, fmt: Fmt.R, exec: unaryOp(H, (a, rm) => fsqrt(a, FFmt.H, rm)) },
  { name: "fsgnj_h", match: 0x24000053, mask: R3, fmt: Fmt.R, exec: sgnjH(0) },
  { name: "fsgnjn_h", match: 0x24001053, mask: R3, fmt: Fmt.R, exec: sgnjH(1) },
  { name: "fsgnjx_h", match: 0x24002053, mask: R3, fmt: Fmt.R, exec: sgnjH(2) },
  { name: "fmin_h", match: 0x2c000053, mask: R3, fmt: Fmt.R, exec: minmaxOp(H, false, false) },
  { name: "fmax_h", match: 0x2c001053, mask: R3, fmt: Fmt.R, exec: minmaxOp(H, true, false) },
  { name: "feq_h", match: 0xa4002053, mask: R3, fmt: Fmt.R, exec: cmpOp(H, Cmp.EQ) },
  { name: "flt_h", match: 0xa4001053, mask: R3, fmt: Fmt.R, exec: cmpOp(H, Cmp.LT) },
  { name: "fle_h", match: 0xa4000053, mask: R3, fmt: Fmt.R, exec: cmpOp(H, Cmp.LE) },
  { name: "fclass_h", match: 0xe4001053, mask: R2, fmt: Fmt.R, exec: fclass_h },
  { name: "fcvt_w_h", match: 0xc4000053, mask: R2RM, fmt: Fmt.R, exec: cvtToIntOp(H, IntKind.W) },
  { name: "fcvt_wu_h", match: 0xc4100053, mask: R2RM, fmt: Fmt.R, exec: cvtToIntOp(H, IntKind.WU) },
  { name: "fcvt_l_h", match: 0xc4200053, mask: R2RM, fmt: Fmt.R, exec: cvtToIntOp(H, IntKind.L) },
  { name: "fcvt_lu_h", match: 0xc4300053, mask: R2RM, fmt: Fmt.R, exec: cvtToIntOp(H, IntKind.LU) },
  { name: "fcvt_h_w", match: 0xd4000053, mask: R2RM, fmt: Fmt.R, exec: cvtFromIntOp(H, IntKind.W) },
  { name: "fcvt_h_wu", match: 0xd4100053, mask: R2RM, fmt: Fmt.R, exec: cvtFromIntOp(H, IntKind.WU) },
  { name: "fcvt_h_l", match: 0xd4200053, mask: R2RM, fmt: Fmt.R, exec: cvtFromIntOp(H, IntKind.L) },
  { name: "fcvt_h_lu", match: 0xd4300053, mask: R2RM, fmt: Fmt.R, exec: cvtFromIntOp(H, IntKind.LU) },
];

// Zfhmin and Zfh: half-precision floating point (RISC-V unprivileged spec, chapter "Zfh" and
// "Zfhmin"). Halves live NaN-boxed in the 64-bit f registers: bits 63:16 all ones, bits 15:0
// binary16. An operand that is not properly NaN-boxed reads as the canonical NaN (0x7e00).
//
// Zfhmin is the subset of Zfh with loads/stores, moves and conversions to/from single (and,
// with D, double); Zfh adds the arithmetic. The shared instructions are the same InsnDef
// objects in both lists (the decoder keeps one copy). fcvt.d.h/fcvt.h.d exist only with D:
// they are in `zfhminD`, which the decoder adds when both Zfhmin and D are present.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { FpHart, FpExec } from "../fpu/fp_hart.js";
import { roundingMode, RM, R3, R2RM, R2, R4 } from "../fpu/fp_hart.js";
import { fpst, NV, CANON_NAN32, CANON_NAN64_HI, f32Bits, f32FromBits, isSnan32, isSnan64 } from "../fpu/bits.js";
import { CANON_NAN16, f16Bits, f16FromBits, isSnan16, fclass16, cvtH16 } from "../fpu/half.js";
import { FFmt, IntKind, fadd, fsub, fmul, fdiv, fsqrt, fmadd, fminmax, cvtToInt, cvtFromInt } from "../fpu/ops.js";
import { readS } from "./rv64f.js";

const BOX16 = 0xffff0000 | 0;

/** Reads the binary16 bits of f register pair index i (not NaN-boxed -> canonical NaN). */
export function readH(h: FpHart, i: number): number {
  const lo = h.fi[i];
  return h.fi[i + 1] === -1 && (lo & BOX16) === BOX16 ? lo & 0xffff : CANON_NAN16;
}

/** The half operand in f register pair index i as a double. */
export function valueH(h: FpHart, i: number): number {
  return f16FromBits(readH(h, i));
}

/** Writes binary16 bits NaN-boxed into f register pair index i. */
export function writeHBits(h: FpHart, i: number, bits: number): void {
  h.fi[i] = BOX16 | bits;
  h.fi[i + 1] = -1;
}

/** Writes a result value (an exact half, or NaN -> canonical NaN) and the flags; FS dirty. */
export function finishH(h: FpHart, d: Insn, r: number): void {
  writeHBits(h, d.rd & 63, f16Bits(r));
  h.fflags |= fpst.flags;
  h.fs = 3;
}

type BinOp = (a: number, b: number, fmt: FFmt, rm: number) => number;

function binH(op: BinOp): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    const ab = readH(h, d.rs1), bb = readH(h, d.rs2);
    fpst.flags = isSnan16(ab) || isSnan16(bb) ? NV : 0;
    const a = f16FromBits(ab);
    finishH(h, d, op(a, f16FromBits(bb), FFmt.H, rm));
  };
}

function fmaH(negProduct: boolean, negAddend: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    const ab = readH(h, d.rs1), bb = readH(h, d.rs2), cb = readH(h, d.rs3);
    fpst.flags = isSnan16(ab) || isSnan16(bb) || isSnan16(cb) ? NV : 0;
    const a = f16FromBits(ab), b = f16FromBits(bb), c = f16FromBits(cb);
    finishH(h, d, fmadd(negProduct ? -a : a, b, negAddend ? -c : c, FFmt.H, rm));
  };
}

function sgnjH(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const a = readH(h, d.rs1), b = readH(h, d.rs2);
    const s = kind === 0 ? b : kind === 1 ? ~b : a ^ b;
    writeHBits(h, d.rd & 63, (a & 0x7fff) | (s & 0x8000));
    h.fs = 3;
  };
}

function minmaxH(isMax: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const ab = readH(h, d.rs1), bb = readH(h, d.rs2);
    fpst.flags = isSnan16(ab) || isSnan16(bb) ? NV : 0;
    const a = f16FromBits(ab);
    finishH(h, d, fminmax(a, f16FromBits(bb), isMax));
  };
}

/** 0 feq (quiet), 1 flt, 2 fle (signalling). */
function cmpH(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const ab = readH(h, d.rs1), bb = readH(h, d.rs2);
    const a = f16FromBits(ab), b = f16FromBits(bb);
    let r = 0;
    if (a !== a || b !== b) {
      if (kind !== 0 || isSnan16(ab) || isSnan16(bb)) {
        h.fflags |= NV;
        h.fs = 3;
      }
    } else {
      r = (kind === 0 ? a === b : kind === 1 ? a < b : a <= b) ? 1 : 0;
    }
    h.x[d.rd] = r;
    h.x[d.rd + 1] = 0;
  };
}

function cvtIntH(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    cvtToInt(valueH(h, d.rs1), kind, rm);
    h.x[d.rd] = fpst.lo;
    h.x[d.rd + 1] = fpst.hi;
    if (fpst.flags !== 0) {
      h.fflags |= fpst.flags;
      h.fs = 3;
    }
  };
}

function cvtHInt(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    finishH(h, d, cvtFromInt(h.x[d.rs1], h.x[d.rs1 + 1], kind, FFmt.H, rm));
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

const fsqrt_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  const ab = readH(h, d.rs1);
  fpst.flags = isSnan16(ab) ? NV : 0;
  finishH(h, d, fsqrt(f16FromBits(ab), FFmt.H, rm));
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

/** fcvt.s.h: exact (rm is still checked, as for fcvt.d.s). */
const fcvt_s_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  roundingMode(h, d);
  const ab = readH(h, d.rs1);
  const v = f16FromBits(ab);
  const rd = d.rd & 63;
  h.fi[rd] = v !== v ? CANON_NAN32 : f32Bits(v);
  h.fi[rd + 1] = -1;
  if (isSnan16(ab)) h.fflags |= NV;
  h.fs = 3;
};

/** fcvt.d.h: exact. */
const fcvt_d_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  roundingMode(h, d);
  const ab = readH(h, d.rs1);
  const v = f16FromBits(ab);
  const rd = d.rd & 63;
  if (v !== v) {
    h.fi[rd] = 0;
    h.fi[rd + 1] = CANON_NAN64_HI;
  } else {
    h.f[rd >> 1] = v;
  }
  if (isSnan16(ab)) h.fflags |= NV;
  h.fs = 3;
};

const fcvt_h_s: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  const ab = readS(h, d.rs1);
  fpst.flags = isSnan32(ab) ? NV : 0;
  finishH(h, d, cvtH16(f32FromBits(ab), rm));
};

const fcvt_h_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  fpst.flags = isSnan64(h.fi[d.rs1], h.fi[d.rs1 + 1]) ? NV : 0;
  finishH(h, d, cvtH16(h.f[d.rs1 >> 1], rm));
};

/** Zfhmin (needs F): half loads/stores, moves, conversions to and from single. */
export const zfhmin: InsnDef[] = [
  { name: "flh", match: 0x00001007, mask: 0x0000707f, fmt: Fmt.I, exec: flh },
  { name: "fsh", match: 0x00001027, mask: 0x0000707f, fmt: Fmt.S, exec: fsh },
  { name: "fmv_x_h", match: 0xe4000053, mask: R2, fmt: Fmt.R, exec: fmv_x_h },
  { name: "fmv_h_x", match: 0xf4000053, mask: R2, fmt: Fmt.R, exec: fmv_h_x },
  { name: "fcvt_s_h", match: 0x40200053, mask: R2RM, fmt: Fmt.R, exec: fcvt_s_h },
  { name: "fcvt_h_s", match: 0x44000053, mask: R2RM, fmt: Fmt.R, exec: fcvt_h_s },
];

/** Zfhmin with D: conversions to and from double. */
export const zfhminD: InsnDef[] = [
  { name: "fcvt_d_h", match: 0x42200053, mask: R2RM, fmt: Fmt.R, exec: fcvt_d_h },
  { name: "fcvt_h_d", match: 0x44100053, mask: R2RM, fmt: Fmt.R, exec: fcvt_h_d },
];

/** Zfh: Zfhmin plus half-precision arithmetic, comparisons and integer conversions. */
export const zfh: InsnDef[] = [
  ...zfhmin,
  { name: "fmadd_h", match: 0x04000043, mask: R4, fmt: Fmt.R4, exec: fmaH(false, false) },
  { name: "fmsub_h", match: 0x04000047, mask: R4, fmt: Fmt.R4, exec: fmaH(false, true) },
  { name: "fnmsub_h", match: 0x0400004b, mask: R4, fmt: Fmt.R4, exec: fmaH(true, false) },
  { name: "fnmadd_h", match: 0x0400004f, mask: R4, fmt: Fmt.R4, exec: fmaH(true, true) },
  { name: "fadd_h", match: 0x04000053, mask: RM, fmt: Fmt.R, exec: binH(fadd) },
  { name: "fsub_h", match: 0x0c000053, mask: RM, fmt: Fmt.R, exec: binH(fsub) },
  { name: "fmul_h", match: 0x14000053, mask: RM, fmt: Fmt.R, exec: binH(fmul) },
  { name: "fdiv_h", match: 0x1c000053, mask: RM, fmt: Fmt.R, exec: binH(fdiv) },
  { name: "fsqrt_h", match: 0x5c000053, mask: R2RM, fmt: Fmt.R, exec: fsqrt_h },
  { name: "fsgnj_h", match: 0x24000053, mask: R3, fmt: Fmt.R, exec: sgnjH(0) },
  { name: "fsgnjn_h", match: 0x24001053, mask: R3, fmt: Fmt.R, exec: sgnjH(1) },
  { name: "fsgnjx_h", match: 0x24002053, mask: R3, fmt: Fmt.R, exec: sgnjH(2) },
  { name: "fmin_h", match: 0x2c000053, mask: R3, fmt: Fmt.R, exec: minmaxH(false) },
  { name: "fmax_h", match: 0x2c001053, mask: R3, fmt: Fmt.R, exec: minmaxH(true) },
  { name: "feq_h", match: 0xa4002053, mask: R3, fmt: Fmt.R, exec: cmpH(0) },
  { name: "flt_h", match: 0xa4001053, mask: R3, fmt: Fmt.R, exec: cmpH(1) },
  { name: "fle_h", match: 0xa4000053, mask: R3, fmt: Fmt.R, exec: cmpH(2) },
  { name: "fclass_h", match: 0xe4001053, mask: R2, fmt: Fmt.R, exec: fclass_h },
  { name: "fcvt_w_h", match: 0xc4000053, mask: R2RM, fmt: Fmt.R, exec: cvtIntH(IntKind.W) },
  { name: "fcvt_wu_h", match: 0xc4100053, mask: R2RM, fmt: Fmt.R, exec: cvtIntH(IntKind.WU) },
  { name: "fcvt_l_h", match: 0xc4200053, mask: R2RM, fmt: Fmt.R, exec: cvtIntH(IntKind.L) },
  { name: "fcvt_lu_h", match: 0xc4300053, mask: R2RM, fmt: Fmt.R, exec: cvtIntH(IntKind.LU) },
  { name: "fcvt_h_w", match: 0xd4000053, mask: R2RM, fmt: Fmt.R, exec: cvtHInt(IntKind.W) },
  { name: "fcvt_h_wu", match: 0xd4100053, mask: R2RM, fmt: Fmt.R, exec: cvtHInt(IntKind.WU) },
  { name: "fcvt_h_l", match: 0xd4200053, mask: R2RM, fmt: Fmt.R, exec: cvtHInt(IntKind.L) },
  { name: "fcvt_h_lu", match: 0xd4300053, mask: R2RM, fmt: Fmt.R, exec: cvtHInt(IntKind.LU) },
];

// RV64F: single-precision floating point (RISC-V unprivileged spec, chapter "F").
// Singles live NaN-boxed in the 64-bit f registers: high word all ones, low word binary32.
// An operand that is not properly NaN-boxed reads as the canonical NaN.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { FpHart, FpExec } from "../fpu/fp_hart.js";
import { roundingMode, RM, R3, R2RM, R2, R4 } from "../fpu/fp_hart.js";
import { fpst, NV, CANON_NAN32, f32Bits, f32FromBits, isSnan32, fclass32 } from "../fpu/bits.js";
import { FFmt, IntKind, fadd, fsub, fmul, fdiv, fsqrt, fmadd, fminmax, cvtToInt, cvtFromInt } from "../fpu/ops.js";

/** Reads the binary32 bits of f register pair index i (unboxed -> canonical NaN). */
export function readS(h: FpHart, i: number): number {
  return h.fi[i + 1] === -1 ? h.fi[i] : CANON_NAN32;
}

/** Writes binary32 bits NaN-boxed into f register pair index i. */
function writeSBits(h: FpHart, i: number, bits: number): void {
  h.fi[i] = bits;
  h.fi[i + 1] = -1;
}

/** Writes a result value (NaN -> canonical NaN) and the accumulated flags; marks FS dirty. */
function finishS(h: FpHart, d: Insn, r: number): void {
  writeSBits(h, d.rd & 63, r !== r ? CANON_NAN32 : f32Bits(r));
  h.fflags |= fpst.flags;
  h.fs = 3;
}

type BinOp = (a: number, b: number, fmt: FFmt, rm: number) => number;

function binS(op: BinOp): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    const ab = readS(h, d.rs1), bb = readS(h, d.rs2);
    fpst.flags = isSnan32(ab) || isSnan32(bb) ? NV : 0;
    const a = f32FromBits(ab);
    finishS(h, d, op(a, f32FromBits(bb), FFmt.S, rm));
  };
}

function fmaS(negProduct: boolean, negAddend: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    const ab = readS(h, d.rs1), bb = readS(h, d.rs2), cb = readS(h, d.rs3);
    fpst.flags = isSnan32(ab) || isSnan32(bb) || isSnan32(cb) ? NV : 0;
    const a = f32FromBits(ab), b = f32FromBits(bb), c = f32FromBits(cb);
    finishS(h, d, fmadd(negProduct ? -a : a, b, negAddend ? -c : c, FFmt.S, rm));
  };
}

function sgnjS(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const a = readS(h, d.rs1), b = readS(h, d.rs2);
    const s = kind === 0 ? b : kind === 1 ? ~b : a ^ b;
    writeSBits(h, d.rd & 63, (a & 0x7fffffff) | (s & 0x80000000));
    h.fs = 3;
  };
}

function minmaxS(isMax: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const ab = readS(h, d.rs1), bb = readS(h, d.rs2);
    fpst.flags = isSnan32(ab) || isSnan32(bb) ? NV : 0;
    const a = f32FromBits(ab);
    finishS(h, d, fminmax(a, f32FromBits(bb), isMax));
  };
}

/** 0 feq (quiet), 1 flt, 2 fle (signalling). */
function cmpS(kind: 0 | 1 | 2): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const ab = readS(h, d.rs1), bb = readS(h, d.rs2);
    const a = f32FromBits(ab), b = f32FromBits(bb);
    let r = 0;
    if (a !== a || b !== b) {
      if (kind !== 0 || isSnan32(ab) || isSnan32(bb)) {
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

function cvtIntS(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    const ab = readS(h, d.rs1);
    fpst.flags = 0;
    cvtToInt(f32FromBits(ab), kind, rm);
    h.x[d.rd] = fpst.lo;
    h.x[d.rd + 1] = fpst.hi;
    if (fpst.flags !== 0) {
      h.fflags |= fpst.flags;
      h.fs = 3;
    }
  };
}

function cvtSInt(kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    finishS(h, d, cvtFromInt(h.x[d.rs1], h.x[d.rs1 + 1], kind, FFmt.S, rm));
  };
}

const flw: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const v = h.load32(d.rs1, d.imm);
  writeSBits(h, d.rd & 63, v);
  h.fs = 3;
};

const fsw: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.store32(d.rs1, d.imm, h.fi[d.rs2]);
};

const fsqrt_s: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rm = roundingMode(h, d);
  const ab = readS(h, d.rs1);
  fpst.flags = isSnan32(ab) ? NV : 0;
  finishS(h, d, fsqrt(f32FromBits(ab), FFmt.S, rm));
};

const fmv_x_w: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const v = h.fi[d.rs1];
  h.x[d.rd] = v;
  h.x[d.rd + 1] = v >> 31;
};

const fmv_w_x: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  writeSBits(h, d.rd & 63, h.x[d.rs1]);
  h.fs = 3;
};

const fclass_s: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  h.x[d.rd] = fclass32(readS(h, d.rs1));
  h.x[d.rd + 1] = 0;
};


export const rv64f: InsnDef[] = [
  { name: "flw", match: 0x00002007, mask: 0x0000707f, fmt: Fmt.I, exec: flw },
  { name: "fsw", match: 0x00002027, mask: 0x0000707f, fmt: Fmt.S, exec: fsw },
  { name: "fmadd_s", match: 0x00000043, mask: R4, fmt: Fmt.R4, exec: fmaS(false, false) },
  { name: "fmsub_s", match: 0x00000047, mask: R4, fmt: Fmt.R4, exec: fmaS(false, true) },
  { name: "fnmsub_s", match: 0x0000004b, mask: R4, fmt: Fmt.R4, exec: fmaS(true, false) },
  { name: "fnmadd_s", match: 0x0000004f, mask: R4, fmt: Fmt.R4, exec: fmaS(true, true) },
  { name: "fadd_s", match: 0x00000053, mask: RM, fmt: Fmt.R, exec: binS(fadd) },
  { name: "fsub_s", match: 0x08000053, mask: RM, fmt: Fmt.R, exec: binS(fsub) },
  { name: "fmul_s", match: 0x10000053, mask: RM, fmt: Fmt.R, exec: binS(fmul) },
  { name: "fdiv_s", match: 0x18000053, mask: RM, fmt: Fmt.R, exec: binS(fdiv) },
  { name: "fsqrt_s", match: 0x58000053, mask: R2RM, fmt: Fmt.R, exec: fsqrt_s },
  { name: "fsgnj_s", match: 0x20000053, mask: R3, fmt: Fmt.R, exec: sgnjS(0) },
  { name: "fsgnjn_s", match: 0x20001053, mask: R3, fmt: Fmt.R, exec: sgnjS(1) },
  { name: "fsgnjx_s", match: 0x20002053, mask: R3, fmt: Fmt.R, exec: sgnjS(2) },
  { name: "fmin_s", match: 0x28000053, mask: R3, fmt: Fmt.R, exec: minmaxS(false) },
  { name: "fmax_s", match: 0x28001053, mask: R3, fmt: Fmt.R, exec: minmaxS(true) },
  { name: "fcvt_w_s", match: 0xc0000053, mask: R2RM, fmt: Fmt.R, exec: cvtIntS(IntKind.W) },
  { name: "fcvt_wu_s", match: 0xc0100053, mask: R2RM, fmt: Fmt.R, exec: cvtIntS(IntKind.WU) },
  { name: "fcvt_l_s", match: 0xc0200053, mask: R2RM, fmt: Fmt.R, exec: cvtIntS(IntKind.L) },
  { name: "fcvt_lu_s", match: 0xc0300053, mask: R2RM, fmt: Fmt.R, exec: cvtIntS(IntKind.LU) },
  { name: "fmv_x_w", match: 0xe0000053, mask: R2, fmt: Fmt.R, exec: fmv_x_w },
  { name: "fclass_s", match: 0xe0001053, mask: R2, fmt: Fmt.R, exec: fclass_s },
  { name: "feq_s", match: 0xa0002053, mask: R3, fmt: Fmt.R, exec: cmpS(0) },
  { name: "flt_s", match: 0xa0001053, mask: R3, fmt: Fmt.R, exec: cmpS(1) },
  { name: "fle_s", match: 0xa0000053, mask: R3, fmt: Fmt.R, exec: cmpS(2) },
  { name: "fcvt_s_w", match: 0xd0000053, mask: R2RM, fmt: Fmt.R, exec: cvtSInt(IntKind.W) },
  { name: "fcvt_s_wu", match: 0xd0100053, mask: R2RM, fmt: Fmt.R, exec: cvtSInt(IntKind.WU) },
  { name: "fcvt_s_l", match: 0xd0200053, mask: R2RM, fmt: Fmt.R, exec: cvtSInt(IntKind.L) },
  { name: "fcvt_s_lu", match: 0xd0300053, mask: R2RM, fmt: Fmt.R, exec: cvtSInt(IntKind.LU) },
  { name: "fmv_w_x", match: 0xf0000053, mask: R2, fmt: Fmt.R, exec: fmv_w_x },
];

// Format-generic FP instruction builders for the Zfh and Zfa tables: one exec function shape
// per operation, parameterised by how a format reads its operands and writes its results.
// (rv64f/rv64d keep their own specialised copies: they are the hot FP path, and a closure
// shared by several formats sees polymorphic calls.)
import type { Insn } from "../insn.js";
import type { FpHart, FpExec } from "../fpu/fp_hart.js";
import { roundingMode } from "../fpu/fp_hart.js";
import { fpst, NV, CANON_NAN32, CANON_NAN64_HI, f32Bits, f32FromBits, isSnan32, isSnan64 } from "../fpu/bits.js";
import { CANON_NAN16, f16Bits, f16FromBits, isSnan16 } from "../fpu/half.js";
import { FFmt, IntKind, fmadd, fminmax, fminmaxM, cvtToInt, cvtFromInt, roundToIntegral } from "../fpu/ops.js";

/** How one format's operands are read and its results written. */
export interface FpFormat {
  fmt: FFmt;
  /** The operand in f register pair index i as a double (unboxed S/H -> canonical NaN). */
  value(h: FpHart, i: number): number;
  snan(h: FpHart, i: number): boolean;
  /** Writes an exact value of the format (NaN -> canonical NaN) to f register pair index i. */
  write(h: FpHart, i: number, v: number): void;
}

const BOX16 = 0xffff0000 | 0;

/** binary32 bits of f register pair index i (not NaN-boxed -> canonical NaN). */
function bitsS(h: FpHart, i: number): number {
  return h.fi[i + 1] === -1 ? h.fi[i] : CANON_NAN32;
}

/** binary16 bits of f register pair index i (bits 63:16 not all ones -> canonical NaN). */
export function readH(h: FpHart, i: number): number {
  const lo = h.fi[i];
  return h.fi[i + 1] === -1 && (lo & BOX16) === BOX16 ? lo & 0xffff : CANON_NAN16;
}

/** Writes binary16 bits NaN-boxed into f register pair index i. */
export function writeHBits(h: FpHart, i: number, bits: number): void {
  h.fi[i] = BOX16 | bits;
  h.fi[i + 1] = -1;
}

export const FMT_S: FpFormat = {
  fmt: FFmt.S,
  value: (h, i) => f32FromBits(bitsS(h, i)),
  snan: (h, i) => isSnan32(bitsS(h, i)),
  write: (h, i, v) => {
    h.fi[i] = v !== v ? CANON_NAN32 : f32Bits(v);
    h.fi[i + 1] = -1;
  },
};

export const FMT_D: FpFormat = {
  fmt: FFmt.D,
  value: (h, i) => h.f[i >> 1],
  snan: (h, i) => isSnan64(h.fi[i], h.fi[i + 1]),
  write: (h, i, v) => {
    if (v !== v) {
      h.fi[i] = 0;
      h.fi[i + 1] = CANON_NAN64_HI;
    } else {
      h.f[i >> 1] = v;
    }
  },
};

export const FMT_H: FpFormat = {
  fmt: FFmt.H,
  value: (h, i) => f16FromBits(readH(h, i)),
  snan: (h, i) => isSnan16(readH(h, i)),
  write: (h, i, v) => writeHBits(h, i, f16Bits(v)),
};

/** Writes the result of `f` and the accumulated flags; marks FS dirty. */
export function finish(h: FpHart, d: Insn, f: FpFormat, r: number): void {
  f.write(h, d.rd & 63, r);
  h.fflags |= fpst.flags;
  h.fs = 3;
}

type BinOp = (a: number, b: number, fmt: FFmt, rm: number) => number;

/** fadd/fsub/fmul/fdiv. */
export function binOp(f: FpFormat, op: BinOp): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = f.snan(h, d.rs1) || f.snan(h, d.rs2) ? NV : 0;
    finish(h, d, f, op(f.value(h, d.rs1), f.value(h, d.rs2), f.fmt, rm));
  };
}

/** fmadd (false, false), fmsub (false, true), fnmsub (true, false), fnmadd (true, true). */
export function fmaOp(f: FpFormat, negProduct: boolean, negAddend: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = f.snan(h, d.rs1) || f.snan(h, d.rs2) || f.snan(h, d.rs3) ? NV : 0;
    const a = f.value(h, d.rs1), c = f.value(h, d.rs3);
    finish(h, d, f, fmadd(negProduct ? -a : a, f.value(h, d.rs2), negAddend ? -c : c, f.fmt, rm));
  };
}

/** One-operand rounding ops: fsqrt, fround/froundnx (`op` gets the value and rm). */
export function unaryOp(f: FpFormat, op: (a: number, rm: number) => number): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = f.snan(h, d.rs1) ? NV : 0;
    finish(h, d, f, op(f.value(h, d.rs1), rm));
  };
}

/** fround (nx false) / froundnx (nx true), Zfa. */
export function froundOp(f: FpFormat, nx: boolean): FpExec {
  return unaryOp(f, (a, rm) => roundToIntegral(a, rm, nx));
}

/** fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber), or with `nanWins` Zfa's fminm/fmaxm. */
export function minmaxOp(f: FpFormat, isMax: boolean, nanWins: boolean): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    fpst.flags = f.snan(h, d.rs1) || f.snan(h, d.rs2) ? NV : 0;
    const a = f.value(h, d.rs1), b = f.value(h, d.rs2);
    finish(h, d, f, nanWins ? fminmaxM(a, b, isMax) : fminmax(a, b, isMax));
  };
}

/** Comparisons: feq (quiet), flt/fle (signalling), fleq/fltq (Zfa, quiet). */
export const enum Cmp { EQ, LT, LE, LTQ, LEQ }

export function cmpOp(f: FpFormat, kind: Cmp): FpExec {
  const quiet = kind === Cmp.EQ || kind === Cmp.LTQ || kind === Cmp.LEQ;
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const a = f.value(h, d.rs1), b = f.value(h, d.rs2);
    let r = 0;
    if (a !== a || b !== b) {
      if (!quiet || f.snan(h, d.rs1) || f.snan(h, d.rs2)) {
        h.fflags |= NV;
        h.fs = 3;
      }
    } else {
      const t = kind === Cmp.EQ ? a === b : kind === Cmp.LT || kind === Cmp.LTQ ? a < b : a <= b;
      r = t ? 1 : 0;
    }
    h.x[d.rd] = r;
    h.x[d.rd + 1] = 0;
  };
}

/** fcvt.{w,wu,l,lu}.fmt */
export function cvtToIntOp(f: FpFormat, kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    cvtToInt(f.value(h, d.rs1), kind, rm);
    h.x[d.rd] = fpst.lo;
    h.x[d.rd + 1] = fpst.hi;
    if (fpst.flags !== 0) {
      h.fflags |= fpst.flags;
      h.fs = 3;
    }
  };
}

/** fcvt.fmt.{w,wu,l,lu} */
export function cvtFromIntOp(f: FpFormat, kind: IntKind): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = 0;
    finish(h, d, f, cvtFromInt(h.x[d.rs1], h.x[d.rs1 + 1], kind, f.fmt, rm));
  };
}

/**
 * fcvt.<to>.<from> between formats: the value is converted by `cvt` (exact widenings pass
 * the identity); sNaN operands set NV, NaN results are the destination's canonical NaN.
 */
export function cvtFmtOp(to: FpFormat, from: FpFormat, cvt: (v: number, rm: number) => number): FpExec {
  return (h, d) => {
    if (h.fs === 0) throw h.illegal(d);
    const rm = roundingMode(h, d);
    fpst.flags = from.snan(h, d.rs1) ? NV : 0;
    finish(h, d, to, cvt(from.value(h, d.rs1), rm));
  };
}

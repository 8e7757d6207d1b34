// Zfa: additional floating-point instructions (RISC-V unprivileged spec, chapter "Zfa").
// fli (32-entry constant table), fminm/fmaxm (IEEE 754-2019 minimum/maximum), fround/froundnx
// (roundToIntegral / roundToIntegralExact), fcvtmod.w.d (JavaScript's ToInt32), fleq/fltq
// (quiet comparisons).
//
// The spec defines the .s forms for Zfa, the .d forms "if the D extension is implemented" and
// the .h forms "if the Zfh extension is implemented" (fli.h also with Zvfh, which rvisor lacks):
// three lists, `zfa`, `zfaD` and `zfaH`; the decoder adds the last two when Zfa comes with D
// or with Zfh (INSN_TABLES_JOINT in decode.ts).
//
// fmvh.x.d and fmvp.d.x are defined "for RV32 only": on RV64 their encodings stay reserved
// (illegal instruction), so they are not in these tables.
import { Fmt, type InsnDef } from "../insn.js";
import type { FpExec } from "../fpu/fp_hart.js";
import { R3, R2RM, R2 } from "../fpu/fp_hart.js";
import { fpst, CANON_NAN32, CANON_NAN64_HI, f32Bits, f64Lo, f64Hi, pow2 } from "../fpu/bits.js";
import { f16Bits, INF16, MAX16 } from "../fpu/half.js";
import { cvtModW } from "../fpu/ops.js";
import { FMT_S as S, FMT_D as D, FMT_H as H, Cmp, writeHBits, minmaxOp, froundOp, cmpOp } from "./fp_generic.js";

// ---------------------------------------------------------------- fli

/** The fli table (Zfa, "Immediate values loaded by the FLI.S instruction"); entry 1 is the
 *  format's minimum positive normal, filled in per format. */
const FLI_VALUES: readonly number[] = [
  -1, 0, 2 ** -16, 2 ** -15, 2 ** -8, 2 ** -7, 0.0625, 0.125, 0.25, 0.3125, 0.375, 0.4375,
  0.5, 0.625, 0.75, 0.875, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 8, 16, 128, 256, 2 ** 15, 2 ** 16,
  Infinity, NaN,
];
const FLI_MIN_NORMAL = 1;
const MIN_NORMAL_EXP = { s: -126, d: -1022, h: -14 } as const;

/** fli.s/fli.d bit patterns, and fli.h (2^16 is not a half: entry 29 loads +inf, per the spec). */
const FLI_S = new Int32Array(32);
const FLI_D = new Int32Array(64);
const FLI_H = new Int32Array(32);
for (let k = 0; k < 32; k++) {
  const v = FLI_VALUES[k] as number;
  FLI_S[k] = k === FLI_MIN_NORMAL ? f32Bits(pow2(MIN_NORMAL_EXP.s)) : v !== v ? CANON_NAN32 : f32Bits(v);
  const dv = k === FLI_MIN_NORMAL ? pow2(MIN_NORMAL_EXP.d) : v;
  FLI_D[2 * k] = dv !== dv ? 0 : f64Lo(dv);
  FLI_D[2 * k + 1] = dv !== dv ? CANON_NAN64_HI : f64Hi(dv);
  FLI_H[k] = k === FLI_MIN_NORMAL ? f16Bits(pow2(MIN_NORMAL_EXP.h)) : v > MAX16 ? INF16 : f16Bits(v);
}

// d.rs1 is the pre-scaled pair index 2 * rs1: the table index is rs1 = d.rs1 >> 1.
const fli_s: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rd = d.rd & 63;
  h.fi[rd] = FLI_S[d.rs1 >> 1] as number;
  h.fi[rd + 1] = -1;
  h.fs = 3;
};

const fli_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  const rd = d.rd & 63;
  h.fi[rd] = FLI_D[d.rs1] as number;
  h.fi[rd + 1] = FLI_D[d.rs1 + 1] as number;
  h.fs = 3;
};

const fli_h: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  writeHBits(h, d.rd & 63, FLI_H[d.rs1 >> 1] as number);
  h.fs = 3;
};

/** fcvtmod.w.d (encoded with rm = RTZ only; the other rm values are reserved). */
const fcvtmod_w_d: FpExec = (h, d) => {
  if (h.fs === 0) throw h.illegal(d);
  fpst.flags = 0;
  cvtModW(h.f[d.rs1 >> 1]);
  h.x[d.rd] = fpst.lo;
  h.x[d.rd + 1] = fpst.hi;
  if (fpst.flags !== 0) {
    h.fflags |= fpst.flags;
    h.fs = 3;
  }
};

// Encodings: fli like fmv.w.x with rs2 = 1; fminm/fmaxm like fmin/fmax with bit 13 set;
// fround/froundnx like fcvt.<fmt>.<other> with rs2 = 4/5; fleq/fltq like fle/flt with bit 14
// set; fcvtmod.w.d like fcvt.w.d with rs2 = 8 and rm = 1.
const FLI_MASK = R2; // opcode + funct7 + rs2 + funct3; rs1 is the table index

/** Zfa forms for single precision (Zfa needs F). */
export const zfa: InsnDef[] = [
  { name: "fli_s", match: 0xf0100053, mask: FLI_MASK, fmt: Fmt.R, exec: fli_s },
  { name: "fminm_s", match: 0x28002053, mask: R3, fmt: Fmt.R, exec: minmaxOp(S, false, true) },
  { name: "fmaxm_s", match: 0x28003053, mask: R3, fmt: Fmt.R, exec: minmaxOp(S, true, true) },
  { name: "fround_s", match: 0x40400053, mask: R2RM, fmt: Fmt.R, exec: froundOp(S, false) },
  { name: "froundnx_s", match: 0x40500053, mask: R2RM, fmt: Fmt.R, exec: froundOp(S, true) },
  { name: "fleq_s", match: 0xa0004053, mask: R3, fmt: Fmt.R, exec: cmpOp(S, Cmp.LEQ) },
  { name: "fltq_s", match: 0xa0005053, mask: R3, fmt: Fmt.R, exec: cmpOp(S, Cmp.LTQ) },
];

/** Zfa forms for double precision (Zfa with D). */
export const zfaD: InsnDef[] = [
  { name: "fli_d", match: 0xf2100053, mask: FLI_MASK, fmt: Fmt.R, exec: fli_d },
  { name: "fminm_d", match: 0x2a002053, mask: R3, fmt: Fmt.R, exec: minmaxOp(D, false, true) },
  { name: "fmaxm_d", match: 0x2a003053, mask: R3, fmt: Fmt.R, exec: minmaxOp(D, true, true) },
  { name: "fround_d", match: 0x42400053, mask: R2RM, fmt: Fmt.R, exec: froundOp(D, false) },
  { name: "froundnx_d", match: 0x42500053, mask: R2RM, fmt: Fmt.R, exec: froundOp(D, true) },
  { name: "fcvtmod_w_d", match: 0xc2801053, mask: R2, fmt: Fmt.R, exec: fcvtmod_w_d },
  { name: "fleq_d", match: 0xa2004053, mask: R3, fmt: Fmt.R, exec: cmpOp(D, Cmp.LEQ) },
  { name: "fltq_d", match: 0xa2005053, mask: R3, fmt: Fmt.R, exec: cmpOp(D, Cmp.LTQ) },
];

/** Zfa forms for half precision (Zfa with Zfh). */
export const zfaH: InsnDef[] = [
  { name: "fli_h", match: 0xf4100053, mask: FLI_MASK, fmt: Fmt.R, exec: fli_h },
  { name: "fminm_h", match: 0x2c002053, mask: R3, fmt: Fmt.R, exec: minmaxOp(H, false, true) },
  { name: "fmaxm_h", match: 0x2c003053, mask: R3, fmt: Fmt.R, exec: minmaxOp(H, true, true) },
  { name: "fround_h", match: 0x44400053, mask: R2RM, fmt: Fmt.R, exec: froundOp(H, false) },
  { name: "froundnx_h", match: 0x44500053, mask: R2RM, fmt: Fmt.R, exec: froundOp(H, true) },
  { name: "fleq_h", match: 0xa4004053, mask: R3, fmt: Fmt.R, exec: cmpOp(H, Cmp.LEQ) },
  { name: "fltq_h", match: 0xa4005053, mask: R3, fmt: Fmt.R, exec: cmpOp(H, Cmp.LTQ) },
];

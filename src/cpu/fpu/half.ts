// IEEE 754 binary16 (RISC-V Zfhmin/Zfh): bit patterns, and correct rounding of a value given
// as a double plus an error term to binary16 with every RISC-V rounding mode and the IEEE
// flags (tininess detected after rounding, as RISC-V specifies).
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits; p = 11, emin = -14,
// emax = 15. Every binary16 value is exactly a double, so operands are handed around as
// doubles (like binary32 in ops.ts) and only results are rounded.
//
// Why doubles are enough (no BigInt here at all):
//  - add/sub/mul of two halves are exact in binary64 (a sum spans at most 2^15..2^-24, 40 bits;
//    a product has 22 significant bits); fmadd's a*b is exact and TwoSum gives p + c exactly
//    as r + e with r = RN64(p + c);
//  - div/sqrt carry an error term from the remainder (as ops.ts does for binary32). Even
//    without it, p = 53 >= 2q + 2 for q = 11 (and for the 12-bit "unbounded exponent" rounding
//    used for tininess, 53 >= 2*12 + 2): a quotient or root of halves that is not itself on
//    the binary16 grid (or a midpoint) is at relative distance >= 2^-26 from it, far more
//    than binary64's 2^-53, so RN64 never lands on a grid point or midpoint by accident.
// roundH16 therefore only needs "r = RN64(r + e)" (or |e| below half an ulp of r with the
// sign of the true error), exactly like roundDD32 in round.ts.
import { NX, UF, RNE, RTZ, RDN, RUP, fpst, pow2, f64Hi, fclassOf } from "./bits.js";
import { FFmt, MAX16, overflowResult } from "./round.js";

export { MAX16 };

export const CANON_NAN16 = 0x7e00;
export const INF16 = 0x7c00;
const MIN_NORMAL16 = 2 ** -14;
const SIGN16 = 0x8000;
const FRAC_BITS = 10;
const BIAS = 15;
/** Quantum exponent of the subnormals (and of the binade [2^-14, 2^-13)). */
const QEXP_MIN = -24;
/** Quantum of the binade below 2^-14 if the exponent range were unbounded. */
const QEXP_TINY = -25;

/** binary16 bits (low 16 bits of b) -> value as a double (NaNs give NaN). */
export function f16FromBits(b: number): number {
  const e = (b >>> FRAC_BITS) & 31, m = b & 0x3ff;
  let v: number;
  if (e === 31) v = m !== 0 ? NaN : Infinity;
  else if (e === 0) v = m * pow2(QEXP_MIN);
  else v = (m | 0x400) * pow2(e - BIAS - FRAC_BITS);
  return (b & SIGN16) !== 0 ? -v : v;
}

/** An exact binary16 value (or NaN -> canonical NaN) -> its 16 bits. */
export function f16Bits(v: number): number {
  if (v !== v) return CANON_NAN16;
  const neg = v < 0 || Object.is(v, -0);
  const a = neg ? -v : v;
  let b: number;
  if (a === Infinity) b = INF16;
  else if (a < MIN_NORMAL16) b = a * pow2(-QEXP_MIN); // subnormal or zero: the count of 2^-24
  else {
    const hi = f64Hi(a);
    const k = ((hi >>> 20) & 0x7ff) - 1023;
    b = ((k + BIAS) << FRAC_BITS) | ((hi >>> 10) & 0x3ff); // top 10 fraction bits of the double
  }
  return neg ? b | SIGN16 : b;
}

export function isSnan16(b: number): boolean {
  return (b & 0x7e00) === 0x7c00 && (b & 0x01ff) !== 0;
}

/** fclass result bit for binary16 bits. */
export function fclass16(b: number): number {
  const e = (b >>> FRAC_BITS) & 31, m = b & 0x3ff;
  return fclassOf((b & SIGN16) !== 0, e === 31, e === 0, m === 0, (m & 0x200) !== 0);
}

/**
 * Whether a value that lies strictly between two neighbours rounds to the upper one. `c` is
 * its position against their midpoint (> 0 above, < 0 below, 0 exactly on it); `loOdd` says
 * whether the lower neighbour is odd (for ties-to-even); `neg` is the sign of the value
 * (magnitudes are rounded, so RDN/RUP swap for negative values).
 */
function roundsUp(c: number, loOdd: boolean, rm: number, neg: boolean): boolean {
  switch (rm) {
    case RNE: return c > 0 || (c === 0 && loOdd);
    case RTZ: return false;
    case RDN: return neg;
    case RUP: return !neg;
    default: return c >= 0; // RMM
  }
}

/**
 * Rounds the value t + f (+ a tiny error of sign ee) on an integer grid (t integer, 0 <= f < 1;
 * t + f is inexact): returns t or t + 1, or t - 1 when f = 0 and ee < 0 (just below t).
 */
function roundBetween(t: number, f: number, ee: number, rm: number, neg: boolean): number {
  let lo: number, c: number;
  if (f !== 0) {
    lo = t;
    c = f - 0.5;
    if (c === 0) c = ee;
  } else if (ee > 0) {
    lo = t; // just above t
    c = -1;
  } else {
    lo = t - 1; // just below t
    c = 1;
  }
  return roundsUp(c, (lo & 1) !== 0, rm, neg) ? lo + 1 : lo;
}

/**
 * Rounds r + e to binary16 and returns the result as a double (an exact binary16 value, or
 * +-Infinity), ORing NX/UF/OF into fpst.flags. r is finite and non-zero, r = RN64(r + e).
 */
export function roundH16(r: number, e: number, rm: number): number {
  const neg = r < 0;
  const a = neg ? -r : r;
  const ee = neg ? -e : e;
  // Binary exponent of a (a double-subnormal a is far below the half range: any k < -14 will do).
  const k = ((f64Hi(a) >>> 20) & 0x7ff) - 1023;
  const qexp = (k > -14 ? k : -14) - FRAC_BITS;
  const scaled = a * pow2(-qexp); // exact: a power-of-two scaling, [0, 2^11)
  const t = Math.floor(scaled);
  const f = scaled - t;
  // Magnitude bits of t * 2^qexp: for t in [2^10, 2^11] the exponent field is qexp + 25 and
  // the carry of t = 2^11 lands in it; for the subnormal quantum (qexp = -24) it is just t.
  const tb = ((qexp + BIAS + FRAC_BITS) << FRAC_BITS) + t - 0x400;
  if (f === 0 && ee === 0) {
    if (tb >= INF16) return overflowResult(neg, FFmt.H, rm);
    const v = f16FromBits(tb);
    return neg ? -v : v;
  }
  // Inexact: the value lies strictly between the magnitudes with bits lo and lo + 1 (bit
  // patterns of non-negative binary16 values are ordered like the values; just below a grid
  // point, lo = tb - 1 is right even below a power of two, where the step is the finer one).
  const res = roundBetween(tb, f, ee, rm, neg);
  fpst.flags |= NX;
  if (res >= INF16) return overflowResult(neg, FFmt.H, rm);
  if (res <= 0x400 && tinyAfterRounding(a, ee, res, rm, neg)) fpst.flags |= UF;
  const v = f16FromBits(res);
  return neg ? -v : v;
}

/**
 * Tininess after rounding (RISC-V: IEEE 754 option "after rounding"): would the inexact value
 * round below 2^-14 if the exponent range were unbounded? `res` is its bounded result (bits).
 */
function tinyAfterRounding(a: number, ee: number, res: number, rm: number, neg: boolean): boolean {
  if (res < 0x400) return true; // bounded result below 2^-14 means the unbounded one is too
  // res = 2^-14: round at the quantum 2^-25 of the binade [2^-15, 2^-14).
  const scaled = a * pow2(-QEXP_TINY);
  if (scaled >= 2048 && !(scaled === 2048 && ee < 0)) return false; // a >= 2^-14
  const t = Math.floor(scaled);
  return roundBetween(t, scaled - t, ee, rm, neg) < 2048;
}

/** Converts a double (any value; binary32 values included) to binary16: fcvt.h.s, fcvt.h.d. */
export function cvtH16(v: number, rm: number): number {
  if (v !== v || v === 0 || v === Infinity || v === -Infinity) return v;
  return roundH16(v, 0, rm);
}

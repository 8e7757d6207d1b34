// Correct rounding of exact values to binary32/binary64 with all RISC-V rounding modes and
// IEEE 754 flags (tininess detected after rounding, as RISC-V specifies).
//
// Three entry points:
//  - roundBig(m, exp, fmt, rm): exact value m * 2^exp (m a non-zero signed BigInt). Slow,
//    always correct: the reference path used for the hard cases (overflow, underflow, fma.d).
//  - roundDD32(r, e, rm): value r + e given as a double plus an error term, rounded to
//    binary32. Allocation-free; valid for every finite r != 0 as long as r = RN64(r + e)
//    (or at least |e| is below half an ulp of r and has the sign of the true error).
//  - roundDD64(r, e, rm, ties): value r + e rounded to binary64 where r = RN64(r + e) is
//    a normal double comfortably inside the exponent range (no overflow, no tininess).
import { NX, OF, UF, RNE, RTZ, RDN, RUP, RMM, fpst, pow2, f32Bits, nextUp64, nextDown64 } from "./bits.js";

/** Formats; H (binary16) is rounded by half.ts (only overflowResult here serves it too). */
export const enum FFmt { S = 0, D = 1, H = 2 }

export const MAX32 = 3.4028234663852886e38;
/** Largest finite binary16, 65504. */
export const MAX16 = 65504;
export const MAX64 = Number.MAX_VALUE;
const TWO128 = 3.402823669209385e38; // 2^128
const MIN_NORMAL32 = 1.1754943508222875e-38; // 2^-126
const BELOW_MIN_NORMAL32 = MIN_NORMAL32 - 2 ** -150; // largest unbounded-exponent binary32 below 2^-126

/** Result of an overflow (|x| rounds above the largest finite) in rounding mode rm. */
export function overflowResult(neg: boolean, fmt: FFmt, rm: number): number {
  fpst.flags |= OF | NX;
  const max = fmt === FFmt.S ? MAX32 : fmt === FFmt.D ? MAX64 : MAX16;
  let toInf: boolean;
  switch (rm) {
    case RTZ: toInf = false; break;
    case RDN: toInf = neg; break;
    case RUP: toInf = !neg; break;
    default: toInf = true;
  }
  const v = toInf ? Infinity : max;
  return neg ? -v : v;
}

// ---------------------------------------------------------------- exact BigInt path

let shInexact = false;
/** m >> sh rounded with rm (m >= 0, sign `neg` of the represented value); sets shInexact. */
function shiftRound(m: bigint, sh: number, rm: number, neg: boolean): bigint {
  if (sh <= 0) {
    shInexact = false;
    return m << BigInt(-sh);
  }
  const bsh = BigInt(sh);
  const q = m >> bsh;
  const rem = m - (q << bsh);
  if (rem === 0n) {
    shInexact = false;
    return q;
  }
  shInexact = true;
  const half = 1n << (bsh - 1n);
  let up: boolean;
  switch (rm) {
    case RNE: up = rem > half || (rem === half && (q & 1n) === 1n); break;
    case RTZ: up = false; break;
    case RDN: up = neg; break;
    case RUP: up = !neg; break;
    default: up = rem >= half; break; // RMM
  }
  return up ? q + 1n : q;
}

export function bitLength(m: bigint): number {
  // m > 0
  const h = m.toString(16);
  return (h.length - 1) * 4 + 32 - Math.clz32(parseInt(h[0] ?? "0", 16));
}

/**
 * Rounds m * 2^exp (m != 0, signed) to the format, returns the result as a double (binary32
 * results are exact binary32 values) and ORs NX/UF/OF into fpst.flags.
 */
export function roundBig(m: bigint, exp: number, fmt: FFmt, rm: number): number {
  const neg = m < 0n;
  if (neg) m = -m;
  const p = fmt === FFmt.S ? 24 : 53;
  const emin = fmt === FFmt.S ? -126 : -1022;
  const emax = fmt === FFmt.S ? 127 : 1023;
  const nb = bitLength(m);
  // Round to p bits with an unbounded exponent range.
  let q = shiftRound(m, nb - p, rm, neg);
  let qe = exp + nb - p;
  let inexact = shInexact;
  if (q === 1n << BigInt(p)) {
    q >>= 1n;
    qe++;
  }
  const eu = qe + p - 1;
  if (eu > emax) return overflowResult(neg, fmt, rm);
  if (eu >= emin) {
    if (inexact) fpst.flags |= NX;
    const v = Number(q) * pow2(qe);
    return neg ? -v : v;
  }
  // Tiny: round again at the fixed subnormal quantum.
  const qmin = emin - p + 1;
  q = shiftRound(m, qmin - exp, rm, neg);
  inexact = shInexact;
  if (inexact) fpst.flags |= NX | UF;
  const v = Number(q) * pow2(qmin);
  return neg ? -v : v;
}

/** Decomposition of a finite double: value = dMant * 2^dExp (dMant signed; zeros lose their sign). */
export let dMant = 0n;
export let dExp = 0;
const dv = new DataView(new ArrayBuffer(8));
export function decompose(v: number): void {
  dv.setFloat64(0, v);
  const hi = dv.getUint32(0), lo = dv.getUint32(4);
  const e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (e === 0) {
    dExp = -1074;
  } else {
    m |= 1n << 52n;
    dExp = e - 1075;
  }
  dMant = v < 0 || Object.is(v, -0) ? -m : m;
}

// ---------------------------------------------------------------- double-double paths

function pickRounded(a: number, ee: number, lo: number, hi: number, rm: number, neg: boolean, loEven: boolean): number {
  const c = a - (lo + hi) * 0.5;
  const tc = c !== 0 ? c : ee;
  switch (rm) {
    case RNE: return tc > 0 ? hi : tc < 0 ? lo : loEven ? lo : hi;
    case RTZ: return lo;
    case RDN: return neg ? hi : lo;
    case RUP: return neg ? lo : hi;
    default: return tc >= 0 ? hi : lo; // RMM
  }
}

/** Rounds r + e to binary32 (see header). r finite and non-zero. */
export function roundDD32(r: number, e: number, rm: number): number {
  const neg = r < 0;
  const a = neg ? -r : r;
  const ee = neg ? -e : e;
  if (a > TWO128 || (a === TWO128 && ee >= 0)) return overflowResult(neg, FFmt.S, rm);
  let s = Math.fround(a);
  if (s === Infinity) s = TWO128;
  const d = a - s;
  const t = d !== 0 ? d : ee;
  if (t === 0) return neg ? -s : s;
  let lo: number, hi: number;
  if (t > 0) {
    lo = s;
    hi = s === MAX32 ? TWO128 : f32Next(s);
  } else {
    hi = s;
    lo = s === TWO128 ? MAX32 : f32Prev(s);
  }
  const res = pickRounded(a, ee, lo, hi, rm, neg, (f32Bits(lo) & 1) === 0);
  fpst.flags |= NX;
  if (res === TWO128) return overflowResult(neg, FFmt.S, rm);
  if (a <= MIN_NORMAL32) {
    // Tininess after rounding: would x round below 2^-126 with an unbounded exponent?
    let tiny = true;
    if ((a > BELOW_MIN_NORMAL32 || (a === BELOW_MIN_NORMAL32 && ee > 0)) && (a < MIN_NORMAL32 || ee < 0)) {
      tiny = pickRounded(a, ee, BELOW_MIN_NORMAL32, MIN_NORMAL32, rm, neg, false) !== MIN_NORMAL32;
    } else if (a === MIN_NORMAL32 && ee >= 0) {
      tiny = false;
    }
    if (tiny) fpst.flags |= UF;
  }
  return neg ? -res : res;
}

const sb = new Float32Array(1);
const sbi = new Int32Array(sb.buffer);
function f32Next(s: number): number {
  sb[0] = s;
  sbi[0]++;
  return sb[0];
}
function f32Prev(s: number): number {
  sb[0] = s;
  sbi[0]--;
  return sb[0];
}

/**
 * Rounds r + e to binary64 where r = RN64(r + e), 2^-1021 <= |r| < 2^1022 when e != 0.
 * `ties`: whether r + e may be exactly halfway between two doubles (false for div/sqrt,
 * whose e may then be only approximate in magnitude).
 */
export function roundDD64(r: number, e: number, rm: number, ties: boolean): number {
  if (e === 0) return r;
  fpst.flags |= NX;
  if (rm === RNE) return r;
  const neg = r < 0;
  const a = neg ? -r : r;
  const ee = neg ? -e : e;
  let res = a;
  switch (rm) {
    case RTZ: if (ee < 0) res = nextDown64(a); break;
    case RDN: if (neg ? ee > 0 : ee < 0) res = neg ? nextUp64(a) : nextDown64(a); break;
    case RUP: if (neg ? ee < 0 : ee > 0) res = neg ? nextDown64(a) : nextUp64(a); break;
    default: // RMM: differs from RNE only on a tie that RNE resolved towards zero
      if (ties && ee > 0) {
        const up = nextUp64(a);
        if (ee === (up - a) * 0.5) res = up;
      }
  }
  return neg ? -res : res;
}

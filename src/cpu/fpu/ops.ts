// IEEE 754 arithmetic for the RISC-V F and D extensions on values held in doubles.
//
// Operands are passed as doubles (a binary32 operand is its exact value as a double);
// results are returned as doubles (binary32 results are exact binary32 values). A NaN
// result means "write the canonical NaN". Exception flags are ORed into fpst.flags; the
// caller adds NV for signalling NaN operands (it knows the bit patterns, this code does
// not need them because no NaN payload is ever propagated on RISC-V).
//
// Fast paths use error-free transformations (TwoSum, Dekker/Veltkamp TwoProduct) to know
// the exact error of the double result, and fall back to the exact BigInt path in
// round.ts for overflow/underflow ranges and for fmadd.d. Binary16 (FFmt.H) results are
// rounded once by half.ts from an exact or error-tracked double (see the argument there).
import { NV, DZ, NX, RNE, RTZ, RDN, RUP, fpst, pow2, nextUp64, nextDown64 } from "./bits.js";
import { FFmt, roundBig, roundDD32, roundDD64, decompose, dMant, dExp, bitLength } from "./round.js";
import { roundH16 } from "./half.js";

export { FFmt };

const SPLIT = 134217729; // 2^27 + 1
let twoErr = 0;

/** s = RN(a + b), twoErr = exact (a + b) - s. */
function twoSum(a: number, b: number): number {
  const s = a + b;
  const bb = s - a;
  twoErr = (a - (s - bb)) + (b - bb);
  return s;
}

/** p = RN(a * b), twoErr = exact a * b - p (needs |a|,|b| < 2^995, no underflow of the error). */
function twoProd(a: number, b: number): number {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  twoErr = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

const P2_1022 = pow2(1022);
const P2_995 = pow2(995);
const P2_M969 = pow2(-969);
const P2_900 = pow2(900);
const P2_M900 = pow2(-900);

function isInf(v: number): boolean {
  return v === Infinity || v === -Infinity;
}

/** Sign of an exact zero sum of x + y (x, y zeros, or non-zero values that cancel). */
function zeroSum(x: number, y: number, rm: number): number {
  if (x === 0 && y === 0 && Object.is(x, y)) return x; // same-signed zeros
  return rm === RDN ? -0 : 0;
}

// ---------------------------------------------------------------- add / sub

function addBig(a: number, b: number, fmt: FFmt, rm: number): number {
  decompose(a);
  const ma = dMant, ea = dExp;
  decompose(b);
  const mb = dMant, eb = dExp;
  const e = Math.min(ea, eb);
  const m = (ma << BigInt(ea - e)) + (mb << BigInt(eb - e));
  if (m === 0n) return rm === RDN ? -0 : 0;
  return roundBig(m, e, fmt, rm);
}

export function fadd(a: number, b: number, fmt: FFmt, rm: number): number {
  const r = a + b;
  if (r !== r) {
    if (a === a && b === b) fpst.flags |= NV; // inf - inf
    return NaN;
  }
  if (isInf(a) || isInf(b)) return r;
  if (r === 0) return zeroSum(a, b, rm);
  if (fmt === FFmt.H) return roundH16(r, 0, rm); // a sum of two halves is exact in binary64
  if (fmt === FFmt.S) {
    twoSum(a, b);
    return roundDD32(r, twoErr, rm);
  }
  if (isInf(r) || r >= P2_1022 || r <= -P2_1022) return addBig(a, b, fmt, rm);
  twoSum(a, b);
  return roundDD64(r, twoErr, rm, true);
}

export function fsub(a: number, b: number, fmt: FFmt, rm: number): number {
  return fadd(a, -b, fmt, rm);
}

// ---------------------------------------------------------------- mul

export function fmul(a: number, b: number, fmt: FFmt, rm: number): number {
  const r = a * b;
  if (r !== r) {
    if (a === a && b === b) fpst.flags |= NV; // inf * 0
    return NaN;
  }
  if (isInf(a) || isInf(b) || a === 0 || b === 0) return r;
  if (fmt === FFmt.H) return roundH16(r, 0, rm); // exact in binary64
  if (fmt === FFmt.S) return roundDD32(r, 0, rm); // binary32 products are exact in binary64
  const ar = r < 0 ? -r : r;
  if (ar >= P2_M969 && ar < P2_1022 && a < P2_995 && a > -P2_995 && b < P2_995 && b > -P2_995) {
    twoProd(a, b);
    return roundDD64(r, twoErr, rm, true);
  }
  decompose(a);
  const ma = dMant, ea = dExp;
  decompose(b);
  return roundBig(ma * dMant, ea + dExp, fmt, rm);
}

// ---------------------------------------------------------------- div

function divBig(a: number, b: number, fmt: FFmt, rm: number): number {
  decompose(a);
  let ma = dMant;
  const ea = dExp;
  decompose(b);
  let mb = dMant;
  const eb = dExp;
  const neg = (ma < 0n) !== (mb < 0n);
  if (ma < 0n) ma = -ma;
  if (mb < 0n) mb = -mb;
  const p = fmt === FFmt.S ? 24 : 53;
  const k = Math.max(0, p + 3 + bitLength(mb) - bitLength(ma));
  const num = ma << BigInt(k);
  const q = num / mb;
  let m = (q << 1n) | (num - q * mb !== 0n ? 1n : 0n);
  if (neg) m = -m;
  return roundBig(m, ea - eb - k - 1, fmt, rm);
}

export function fdiv(a: number, b: number, fmt: FFmt, rm: number): number {
  const q = a / b;
  if (q !== q) {
    if (a === a && b === b) fpst.flags |= NV; // 0/0, inf/inf
    return NaN;
  }
  if (isInf(a) || isInf(b) || a === 0) return q;
  if (b === 0) {
    fpst.flags |= DZ;
    return q;
  }
  if (fmt !== FFmt.D) {
    const p = twoProd(q, b);
    const rem = (a - p) - twoErr;
    return fmt === FFmt.S ? roundDD32(q, rem / b, rm) : roundH16(q, rem / b, rm);
  }
  const aa = a < 0 ? -a : a, ab = b < 0 ? -b : b, aq = q < 0 ? -q : q;
  if (aa >= P2_M900 && aa <= P2_900 && ab >= P2_M900 && ab <= P2_900 && aq >= P2_M900 && aq <= P2_900) {
    const p = twoProd(q, b);
    const rem = (a - p) - twoErr;
    return roundDD64(q, b < 0 ? -rem : rem, rm, false);
  }
  return divBig(a, b, fmt, rm);
}

// ---------------------------------------------------------------- sqrt

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

function sqrtBig(a: number, fmt: FFmt, rm: number): number {
  decompose(a);
  const ma = dMant, ea = dExp;
  const p = fmt === FFmt.S ? 24 : 53;
  let s = Math.max(0, 2 * p + 8 - bitLength(ma));
  if (((ea - s) & 1) !== 0) s++;
  const m2 = ma << BigInt(s);
  const root = isqrt(m2);
  const m = (root << 1n) | (m2 - root * root !== 0n ? 1n : 0n);
  return roundBig(m, (ea - s) / 2 - 1, fmt, rm);
}

export function fsqrt(a: number, fmt: FFmt, rm: number): number {
  if (a !== a) return NaN;
  if (a < 0) {
    fpst.flags |= NV;
    return NaN;
  }
  if (a === 0 || a === Infinity) return a;
  const r = Math.sqrt(a);
  if (fmt !== FFmt.D) {
    const p = twoProd(r, r);
    const rem = (a - p) - twoErr;
    return fmt === FFmt.S ? roundDD32(r, rem / (2 * r), rm) : roundH16(r, rem / (2 * r), rm);
  }
  if (a >= P2_M900 && a <= P2_900) {
    const p = twoProd(r, r);
    return roundDD64(r, (a - p) - twoErr, rm, false);
  }
  return sqrtBig(a, fmt, rm);
}

// ---------------------------------------------------------------- fused multiply-add

/** RN(a * b + c) computed exactly once. fmsub/fnmsub/fnmadd negate a and/or c first. */
export function fmadd(a: number, b: number, c: number, fmt: FFmt, rm: number): number {
  if ((isInf(a) && b === 0) || (a === 0 && isInf(b))) {
    fpst.flags |= NV; // even when c is a quiet NaN (RISC-V unprivileged spec, F extension)
    return NaN;
  }
  if (a !== a || b !== b || c !== c) return NaN;
  if (isInf(a) || isInf(b)) {
    const pinf = (a < 0) !== (b < 0) ? -Infinity : Infinity;
    if (isInf(c) && c !== pinf) {
      fpst.flags |= NV;
      return NaN;
    }
    return pinf;
  }
  if (isInf(c)) return c;
  if (a === 0 || b === 0) {
    const pz = a * b;
    return c === 0 ? zeroSum(pz, c, rm) : c;
  }
  if (c === 0) return fmul(a, b, fmt, rm);
  if (fmt !== FFmt.D) {
    // binary32/binary16: the product is exact, TwoSum gives p + c = r + twoErr exactly
    const p = a * b;
    const r = twoSum(p, c);
    if (r === 0 && twoErr === 0) return rm === RDN ? -0 : 0;
    return fmt === FFmt.S ? roundDD32(r, twoErr, rm) : roundH16(r, twoErr, rm);
  }
  const p = a * b;
  const ap = p < 0 ? -p : p, ac = c < 0 ? -c : c;
  if (ap >= P2_M900 && ap <= P2_900 && ac <= P2_900 && a < P2_995 && a > -P2_995 && b < P2_995 && b > -P2_995) {
    const r = fmaFast(a, b, c, rm);
    if (r === r) return r;
  }
  return fmaBig(a, b, c, rm);
}

/**
 * fmadd.d without BigInt: a*b = p + pe exactly (TwoProduct), p + c = s + t exactly (TwoSum),
 * t + pe = u + v exactly, s + u = r + w exactly; so x = a*b + c = r + w + v. Because |v| is
 * below half an ulp of u and w is a multiple of ulp(u), r = RN(x) unless s + u was exactly
 * halfway between two doubles and v breaks the tie. Returns NaN (meaning "use the slow
 * path") when the result is outside the range where these transformations are exact.
 */
function fmaFast(a: number, b: number, c: number, rm: number): number {
  const p = twoProd(a, b);
  const pe = twoErr;
  const s = twoSum(p, c);
  const t = twoErr;
  const u = twoSum(t, pe);
  const v = twoErr;
  const r = twoSum(s, u);
  const w = twoErr;
  const ar = r < 0 ? -r : r;
  if (!(ar >= P2_M900 && ar <= P2_900)) return NaN;
  if (v === 0) return roundDD64(r, w, rm, true);
  if (w === 0) return roundDD64(r, v, rm, false);
  const neg = r < 0;
  const ww = neg ? -w : w;
  const tie = ww > 0 ? nextUp64(ar) - ar === 2 * ww : ar - nextDown64(ar) === -2 * ww;
  if (tie && (v > 0) === (w > 0)) {
    // v pushes x past the midpoint: the other neighbour is nearest, x lies below it in |w|'s direction
    return roundDD64(r + 2 * w, -w, rm, false);
  }
  return roundDD64(r, w, rm, false);
}

/** The exact BigInt fmadd.d path (exported as the reference for tests). */
export function fmaBig(a: number, b: number, c: number, rm: number): number {
  const fmt = FFmt.D;
  decompose(a);
  const ma = dMant, ea = dExp;
  decompose(b);
  const m1 = ma * dMant, e1 = ea + dExp;
  decompose(c);
  const e = Math.min(e1, dExp);
  const m = (m1 << BigInt(e1 - e)) + (dMant << BigInt(dExp - e));
  if (m === 0n) return rm === RDN ? -0 : 0;
  return roundBig(m, e, fmt, rm);
}

// ---------------------------------------------------------------- min / max / compare

/** IEEE 754-2019 minimumNumber / maximumNumber (caller flags sNaN operands). */
export function fminmax(a: number, b: number, isMax: boolean): number {
  if (a !== a) return b; // NaN if both are NaN
  if (b !== b) return a;
  if (a === b) {
    // equal values: only the zeros' signs can differ
    const an = Object.is(a, -0);
    return isMax ? (an ? b : a) : (an ? a : b);
  }
  return isMax ? (a > b ? a : b) : (a < b ? a : b);
}

/** Zfa fminm/fmaxm: IEEE 754-2019 minimum / maximum (any NaN operand gives the canonical NaN). */
export function fminmaxM(a: number, b: number, isMax: boolean): number {
  if (a !== a || b !== b) return NaN;
  return fminmax(a, b, isMax);
}

// ---------------------------------------------------------------- conversions

export const enum IntKind { W = 0, WU = 1, L = 2, LU = 3 }

/** Rounds v (finite) to an integer with rm; sets NX in cvtInexact instead of fpst. */
let cvtInexact = false;
function roundInt(v: number, rm: number): number {
  const t = Math.trunc(v);
  const f = v - t;
  if (f === 0) {
    cvtInexact = false;
    return t;
  }
  cvtInexact = true;
  const af = f < 0 ? -f : f;
  const sg = f < 0 ? -1 : 1;
  switch (rm) {
    case RNE: return af > 0.5 || (af === 0.5 && t % 2 !== 0) ? t + sg : t;
    case RTZ: return t;
    case RDN: return f < 0 ? t - 1 : t;
    case RUP: return f > 0 ? t + 1 : t;
    default: return af >= 0.5 ? t + sg : t;
  }
}

const TWO31 = 2147483648, TWO32 = 4294967296, TWO63 = 9223372036854775808, TWO64 = 18446744073709551616;

/** fcvt.{w,wu,l,lu}.{s,d}: result in fpst.lo / fpst.hi (w/wu sign-extended from 32 bits). */
export function cvtToInt(v: number, kind: IntKind, rm: number): void {
  let n: number;
  if (v !== v) {
    n = Infinity; // NaN converts like +inf
    cvtInexact = false;
  } else if (isInf(v)) {
    n = v;
  } else {
    n = roundInt(v, rm);
  }
  let lo: number, hi: number;
  switch (kind) {
    case IntKind.W:
      if (n >= TWO31 || n < -TWO31) {
        fpst.flags |= NV;
        lo = n < 0 ? -TWO31 | 0 : 0x7fffffff;
        cvtInexact = false;
      } else lo = n | 0;
      hi = lo >> 31;
      break;
    case IntKind.WU:
      if (n >= TWO32 || n < 0) {
        fpst.flags |= NV;
        lo = n < 0 ? 0 : -1;
        cvtInexact = false;
      } else lo = n | 0;
      hi = lo >> 31;
      break;
    case IntKind.L:
      if (n >= TWO63 || n < -TWO63) {
        fpst.flags |= NV;
        cvtInexact = false;
        if (n < 0) { lo = 0; hi = -TWO31 | 0; } else { lo = -1; hi = 0x7fffffff; }
      } else {
        const h = Math.floor(n / TWO32);
        lo = (n - h * TWO32) | 0;
        hi = h | 0;
      }
      break;
    default:
      if (n >= TWO64 || n < 0) {
        fpst.flags |= NV;
        cvtInexact = false;
        lo = hi = n < 0 ? 0 : -1;
      } else {
        const h = Math.floor(n / TWO32);
        lo = (n - h * TWO32) | 0;
        hi = h | 0;
      }
  }
  if (cvtInexact) fpst.flags |= NX;
  fpst.lo = lo;
  fpst.hi = hi;
}

/** fcvt.{s,d}.{w,wu,l,lu}: integer operand as lo/hi int32 halves (w/wu use lo only). */
export function cvtFromInt(lo: number, hi: number, kind: IntKind, fmt: FFmt, rm: number): number {
  let r: number, e = 0;
  switch (kind) {
    case IntKind.W: r = lo | 0; break;
    case IntKind.WU: r = lo >>> 0; break;
    case IntKind.L:
      if (hi === lo >> 31) r = lo | 0;
      else {
        const hs = (hi | 0) * TWO32, lu = lo >>> 0;
        r = hs + lu;
        e = (hs - r) + lu;
      }
      break;
    default: {
      const hs = (hi >>> 0) * TWO32, lu = lo >>> 0;
      r = hs + lu;
      e = (hs - r) + lu;
    }
  }
  if (r === 0) return 0;
  if (fmt === FFmt.H) return roundH16(r, e, rm);
  return fmt === FFmt.S ? roundDD32(r, e, rm) : roundDD64(r, e, rm, true);
}

/** fcvt.s.d */
export function cvtSD(v: number, rm: number): number {
  if (v !== v) return NaN;
  if (v === 0 || isInf(v)) return v;
  return roundDD32(v, 0, rm);
}

/**
 * Zfa fround/froundnx: v rounded to an integral value with rm, in v's own format (every
 * binary16/32/64 value that needs rounding is below 2^(p-1), so the integer is representable).
 * Zeros, infinities keep their value and sign; NX only for froundnx (`nx`), as the spec says.
 */
export function roundToIntegral(v: number, rm: number, nx: boolean): number {
  if (v !== v) return NaN;
  if (v === 0 || isInf(v)) return v;
  const r = roundInt(v, rm);
  if (nx && cvtInexact) fpst.flags |= NX;
  if (r === 0) return v < 0 ? -0 : 0; // roundToIntegral keeps the operand's sign
  return r;
}

/**
 * Zfa fcvtmod.w.d: truncate, keep bits 31:0 of the unbounded integer (sign-extended into
 * fpst.lo/hi); +-inf and NaN give 0. Flags as fcvt.w.d with RTZ: NV out of range (or NaN/inf),
 * otherwise NX when inexact.
 */
export function cvtModW(v: number): void {
  let lo = 0;
  if (v !== v || isInf(v)) {
    fpst.flags |= NV;
  } else {
    const t = Math.trunc(v);
    if (t >= TWO31 || t < -TWO31) fpst.flags |= NV;
    else if (t !== v) fpst.flags |= NX;
    lo = t | 0; // ToInt32 is exactly "modulo 2^32" of the (integral) value, for every finite double
  }
  fpst.lo = lo;
  fpst.hi = lo >> 31;
}

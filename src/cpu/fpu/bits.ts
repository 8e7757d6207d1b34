// Bit-level helpers for binary32/binary64 values (RISC-V F/D). Little-endian host assumed,
// like the hart's Float64Array view over its Int32Array register file.

const buf = new ArrayBuffer(8);
const f64 = new Float64Array(buf);
const f32 = new Float32Array(buf);
const i32 = new Int32Array(buf);

/** fflags bits (RISC-V unprivileged spec, "fcsr"). */
export const NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
/** Rounding modes (frm / instruction rm field). */
export const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;

export const CANON_NAN32 = 0x7fc00000;
export const CANON_NAN64_HI = 0x7ff80000;

/** Accumulated exception flags of the last operation, and integer results as lo/hi pairs. */
export const fpst = { flags: 0, lo: 0, hi: 0 };

/** binary32 bits (int32) -> value as a double (NaNs give some NaN). */
export function f32FromBits(b: number): number {
  i32[0] = b;
  return f32[0];
}

/** value (already a binary32 value, or anything: rounded RNE by the store) -> int32 bits. */
export function f32Bits(v: number): number {
  f32[0] = v;
  return i32[0];
}

/** Low word of a double's bits. Call f64Hi right after for the matching high word. */
export function f64Lo(v: number): number {
  f64[0] = v;
  return i32[0];
}
export function f64Hi(v: number): number {
  f64[0] = v;
  return i32[1];
}
export function f64FromBits(lo: number, hi: number): number {
  i32[0] = lo;
  i32[1] = hi;
  return f64[0];
}

export function isSnan32(b: number): boolean {
  return (b & 0x7fc00000) === 0x7f800000 && (b & 0x003fffff) !== 0;
}
export function isSnan64(lo: number, hi: number): boolean {
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x0007ffff) | lo) !== 0;
}

/** Next binary64 above a finite non-negative double (towards +inf). */
export function nextUp64(a: number): number {
  f64[0] = a;
  const lo = (i32[0] + 1) | 0;
  i32[0] = lo;
  if (lo === 0) i32[1] = (i32[1] + 1) | 0;
  return f64[0];
}
/** Next binary64 below a finite positive double (towards 0). */
export function nextDown64(a: number): number {
  f64[0] = a;
  const lo = i32[0];
  i32[0] = (lo - 1) | 0;
  if (lo === 0) i32[1] = (i32[1] - 1) | 0;
  return f64[0];
}

/** Exact powers of two 2^k for k in [-1100, 1100] (Math.pow is not guaranteed exact). */
const POW2 = new Float64Array(2201);
{
  POW2[1100] = 1;
  for (let k = 1; k <= 1023; k++) POW2[1100 + k] = POW2[1100 + k - 1] * 2;
  for (let k = 1024; k <= 1100; k++) POW2[1100 + k] = Infinity;
  for (let k = 1; k <= 1074; k++) POW2[1100 - k] = POW2[1100 - k + 1] / 2;
}
export function pow2(k: number): number {
  if (k < -1100) return 0;
  if (k > 1100) return Infinity;
  return POW2[1100 + k];
}

/**
 * fclass result bit (RISC-V unprivileged spec, "Classify"): 0 -inf, 1 -normal, 2 -subnormal,
 * 3 -0, 4 +0, 5 +subnormal, 6 +normal, 7 +inf, 8 sNaN, 9 qNaN; from a value's fields.
 */
export function fclassOf(neg: boolean, expMax: boolean, expZero: boolean, mantZero: boolean, quiet: boolean): number {
  if (expMax) {
    if (mantZero) return neg ? 1 : 128;
    return quiet ? 512 : 256;
  }
  if (expZero) {
    if (mantZero) return neg ? 8 : 16;
    return neg ? 4 : 32;
  }
  return neg ? 2 : 64;
}

/** fclass result bit for a binary32 bit pattern. */
export function fclass32(b: number): number {
  const e = (b >>> 23) & 0xff, m = b & 0x7fffff;
  return fclassOf(b < 0, e === 0xff, e === 0, m === 0, (m & 0x400000) !== 0);
}

/** fclass result bit for a binary64 bit pattern. */
export function fclass64(lo: number, hi: number): number {
  const e = (hi >>> 20) & 0x7ff;
  return fclassOf(hi < 0, e === 0x7ff, e === 0, ((hi & 0xfffff) | lo) === 0, (hi & 0x80000) !== 0);
}

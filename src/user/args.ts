// System-call arguments are untrusted 64-bit register values (gVisor's arch.SyscallArgument:
// Int(), Uint(), SizeT(), Pointer()). Kernel.syscall turns each register into one number with
// argValue(): exact when it fits in 53 bits, otherwise saturated, keeping the sign and the low
// 32 bits exact. Handlers then read their arguments through the helpers below instead of using
// the numbers raw, so that a size of 2^63 or more (negative here), a count of -1 or a pointer in
// the kernel half can never reach a typed-array length or an address computation unchecked.
import { USER_TOP } from "./memory.js";

const TWO32 = 4294967296;
/** The largest |hi| (high 32-bit half, signed) whose value hi·2^32 + lo is still a safe integer. */
const HI_SAFE = 0x1f_ffff;

/**
 * One register (lo, hi: its 32-bit halves as int32) as a number. |value| < 2^53: exact.
 * Beyond: ±(2^53 − 2^32) + lo — still a safe integer, of the right sign, at least 2^52 in
 * magnitude (so no user address or size), and with the low 32 bits exact, so `v | 0` is the
 * C `int` the kernel would see.
 */
export function argValue(lo: number, hi: number): number {
  if (hi > HI_SAFE) hi = HI_SAFE;
  else if (hi < -HI_SAFE) hi = -HI_SAFE;
  return hi * TWO32 + (lo >>> 0);
}

/** Linux's MAX_RW_COUNT (INT_MAX & PAGE_MASK): what read/write-like calls transfer at most. */
export const MAX_RW_COUNT = 0x7fff_f000;
/** A size_t of 2^63 or more, as the helpers return it (any such size is past every limit). */
export const SIZE_HUGE = Number.MAX_SAFE_INTEGER;

/** `int` argument: the low 32 bits, signed (C's conversion of the register). */
export const int = (v: number): number => v | 0;
/** `unsigned int` argument: the low 32 bits. */
export const uint = (v: number): number => v >>> 0;
/** `size_t` argument: never negative; a register of 2^63 or more is SIZE_HUGE. */
export const sizeT = (v: number): number => (v < 0 ? SIZE_HUGE : v);
/** True when a size_t is negative as an ssize_t (rw_verify_area: "(ssize_t) count < 0" → EINVAL). */
export const negativeSsize = (v: number): boolean => v < 0;
/** read/write/sendfile/getrandom byte counts: clamped to MAX_RW_COUNT as Linux does. */
export const rwCount = (v: number): number => Math.min(sizeT(v), MAX_RW_COUNT);
/** A user pointer: a register in the upper (kernel) half becomes SIZE_HUGE, which no area contains. */
export const ptr = (v: number): number => (v < 0 ? SIZE_HUGE : v);

/**
 * access_ok(): [p, p+len) lies inside the user half of the address space (mapped or not).
 * Linux checks this before anything else in read/write (EFAULT) and mincore (ENOMEM).
 */
export function accessOk(p: number, len: number): boolean {
  return p >= 0 && len >= 0 && len <= USER_TOP && p <= USER_TOP - len;
}

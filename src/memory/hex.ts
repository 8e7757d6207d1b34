// Hex formatting of 64-bit guest values held in JS numbers. Registers read as signed numbers
// (hi * 2^32 + lo with a signed hi), so a plain toString(16) prints "-0x46fc…" where a
// debugger, strace or QEMU would print the 64-bit two's complement "0xffff…b904".

const TWO32 = 4294967296;

/** `v` (signed or unsigned, |v| < 2^64) as unsigned 64-bit hex without leading zeros: "0x1f", "0xffffffffffffb904". */
export function hex64(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const hi = Math.floor(v / TWO32), lo = v - hi * TWO32;
  const h = hi >>> 0, l = Math.floor(lo) >>> 0;
  return h === 0 ? `0x${l.toString(16)}` : `0x${h.toString(16)}${l.toString(16).padStart(8, "0")}`;
}

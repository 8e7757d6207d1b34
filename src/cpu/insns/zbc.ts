// Zbc: carry-less multiplication (unprivileged spec, "B" chapter). The 128-bit carry-less
// product of two 64-bit values is built from four 32x32 products on int32 halves; clmul
// returns its bits 63:0, clmulh its bits 127:64 and clmulr its bits 126:63. Zbkc shares
// clmul and clmulh (the same InsnDef objects, exported as `zbkc`).
import { Fmt, type InsnDef, type Insn, MASK_R as R } from "../insn.js";
import type { Hart } from "../hart.js";

// Result of clmul32 (kept in module variables: no allocation per instruction).
let pLo = 0, pHi = 0;

/** 64-bit carry-less product of two 32-bit values, into pLo/pHi. */
function clmul32(a: number, b: number): void {
  let lo = 0, hi = 0;
  if ((b & 1) !== 0) lo = a;
  for (let i = 1; i < 32; i++) {
    if (((b >>> i) & 1) !== 0) { lo ^= a << i; hi ^= a >>> (32 - i); }
  }
  pLo = lo; pHi = hi;
}

// The four 32-bit words of the last 128-bit product (w0 least significant).
let w0 = 0, w1 = 0, w2 = 0, w3 = 0;

function clmul128(alo: number, ahi: number, blo: number, bhi: number): void {
  clmul32(alo, blo);
  w0 = pLo; w1 = pHi;
  clmul32(ahi, bhi);
  w2 = pLo; w3 = pHi;
  clmul32(alo, bhi);
  w1 ^= pLo; w2 ^= pHi;
  clmul32(ahi, blo);
  w1 ^= pLo; w2 ^= pHi;
}

const clmul = (h: Hart, d: Insn): void => {
  const x = h.x;
  clmul128(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]);
  x[d.rd] = w0; x[d.rd + 1] = w1;
};
const clmulh = (h: Hart, d: Insn): void => {
  const x = h.x;
  clmul128(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]);
  x[d.rd] = w2; x[d.rd + 1] = w3;
};
/** clmulr: "bits 2*XLEN-2:XLEN-1 of the carry-less product" (= product >> 63). */
const clmulr = (h: Hart, d: Insn): void => {
  const x = h.x;
  clmul128(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]);
  x[d.rd] = (w1 >>> 31) | (w2 << 1); x[d.rd + 1] = (w2 >>> 31) | (w3 << 1);
};

const CLMUL: InsnDef = { name: "clmul", match: 0x0a001033, mask: R, fmt: Fmt.R, exec: clmul };
const CLMULH: InsnDef = { name: "clmulh", match: 0x0a003033, mask: R, fmt: Fmt.R, exec: clmulh };

export const zbc: readonly InsnDef[] = [
  CLMUL, CLMULH,
  { name: "clmulr", match: 0x0a002033, mask: R, fmt: Fmt.R, exec: clmulr },
];

export const zbkc: readonly InsnDef[] = [CLMUL, CLMULH];

// Zbb: basic bit manipulation (unprivileged spec, "B" chapter, RV64 forms). Registers are lo/hi
// int32 pairs (src/cpu/insn.ts); every function reads all its operands before writing rd,
// which may alias rs1/rs2. Instructions Zbkb shares (andn, orn, xnor, rol, ror, rori, rolw, rorw,
// roriw, rev8) are exported as `zbbZbkbShared`: the same InsnDef objects go in both tables.
import { Fmt, type InsnDef, type Insn, MASK_R as R, MASK_UNARY as UNARY, MASK_SH64 as SH64 } from "../insn.js";
import type { Hart } from "../hart.js";

/** Signed 64-bit a < b on lo/hi pairs. */
export function lt64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return ahi < bhi || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}
/** Unsigned 64-bit a < b on lo/hi pairs. */
export function ltu64(alo: number, ahi: number, blo: number, bhi: number): boolean {
  return (ahi >>> 0) < (bhi >>> 0) || (ahi === bhi && (alo >>> 0) < (blo >>> 0));
}

/** Number of set bits of a 32-bit value (SWAR). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}
/** Trailing zeros of a 32-bit value (32 for 0). */
export function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}
/** Byte swap of a 32-bit value. */
export function bswap32(v: number): number {
  return (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}
/** orc.b on 32 bits: each non-zero byte becomes 0xff, each zero byte stays 0. */
function orcb32(v: number): number {
  const high = (((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v) & 0x80808080; // bit 7 of each non-zero byte
  return Math.imul(high >>> 7, 0xff);
}

/** rd = (lo, hi) rotated left by s (0..63). */
export function rotl64(x: Int32Array, rd: number, lo: number, hi: number, s: number): void {
  if (s >= 32) { const t = lo; lo = hi; hi = t; s -= 32; }
  if (s === 0) { x[rd] = lo; x[rd + 1] = hi; return; }
  x[rd] = (lo << s) | (hi >>> (32 - s));
  x[rd + 1] = (hi << s) | (lo >>> (32 - s));
}
/** 32-bit rotate left by s (0..31). */
const rotl32 = (v: number, s: number): number => (s === 0 ? v : (v << s) | (v >>> (32 - s)));

function setW(x: Int32Array, rd: number, v: number): void { x[rd] = v; x[rd + 1] = v >> 31; }
function setZ(x: Int32Array, rd: number, v: number): void { x[rd] = v; x[rd + 1] = 0; }

// ---- logical with negate ----

const andn = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] & ~x[d.rs2 + 1]; x[d.rd] = x[d.rs1] & ~x[d.rs2]; };
const orn = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = x[d.rs1 + 1] | ~x[d.rs2 + 1]; x[d.rd] = x[d.rs1] | ~x[d.rs2]; };
const xnor = (h: Hart, d: Insn): void => { const x = h.x; x[d.rd + 1] = ~(x[d.rs1 + 1] ^ x[d.rs2 + 1]); x[d.rd] = ~(x[d.rs1] ^ x[d.rs2]); };

// ---- counts: "clz counts the number of 0 bits before the first 1, starting at the MSB" (0 -> XLEN) ----

const clz = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs1 + 1];
  setZ(x, d.rd, hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo));
};
const clzw = (h: Hart, d: Insn): void => { setZ(h.x, d.rd, Math.clz32(h.x[d.rs1])); };
const ctz = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs1 + 1];
  setZ(x, d.rd, lo !== 0 ? ctz32(lo) : 32 + ctz32(hi));
};
const ctzw = (h: Hart, d: Insn): void => { setZ(h.x, d.rd, ctz32(h.x[d.rs1])); };
const cpop = (h: Hart, d: Insn): void => { const x = h.x; setZ(x, d.rd, popcount32(x[d.rs1]) + popcount32(x[d.rs1 + 1])); };
const cpopw = (h: Hart, d: Insn): void => { setZ(h.x, d.rd, popcount32(h.x[d.rs1])); };

// ---- integer minimum/maximum ----

function pick(x: Int32Array, rd: number, rs1: number, rs2: number, takeRs1: boolean): void {
  const src = takeRs1 ? rs1 : rs2;
  const lo = x[src], hi = x[src + 1];
  x[rd] = lo; x[rd + 1] = hi;
}
const max = (h: Hart, d: Insn): void => {
  const x = h.x;
  pick(x, d.rd, d.rs1, d.rs2, !lt64(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]));
};
const maxu = (h: Hart, d: Insn): void => {
  const x = h.x;
  pick(x, d.rd, d.rs1, d.rs2, !ltu64(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]));
};
const min = (h: Hart, d: Insn): void => {
  const x = h.x;
  pick(x, d.rd, d.rs1, d.rs2, lt64(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]));
};
const minu = (h: Hart, d: Insn): void => {
  const x = h.x;
  pick(x, d.rd, d.rs1, d.rs2, ltu64(x[d.rs1], x[d.rs1 + 1], x[d.rs2], x[d.rs2 + 1]));
};

// ---- sign and zero extension ----

const sext_b = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] << 24) >> 24); };
const sext_h = (h: Hart, d: Insn): void => { setW(h.x, d.rd, (h.x[d.rs1] << 16) >> 16); };
const zext_h = (h: Hart, d: Insn): void => { setZ(h.x, d.rd, h.x[d.rs1] & 0xffff); };

// ---- rotations: the amount is rs2[5:0] (rs2[4:0] for the W forms) or the immediate ----

const rol = (h: Hart, d: Insn): void => { const x = h.x; rotl64(x, d.rd, x[d.rs1], x[d.rs1 + 1], x[d.rs2] & 63); };
const ror = (h: Hart, d: Insn): void => { const x = h.x; rotl64(x, d.rd, x[d.rs1], x[d.rs1 + 1], (64 - (x[d.rs2] & 63)) & 63); };
const rori = (h: Hart, d: Insn): void => { const x = h.x; rotl64(x, d.rd, x[d.rs1], x[d.rs1 + 1], (64 - (d.imm & 63)) & 63); };
const rolw = (h: Hart, d: Insn): void => { const x = h.x; setW(x, d.rd, rotl32(x[d.rs1], x[d.rs2] & 31)); };
const rorw = (h: Hart, d: Insn): void => { const x = h.x; setW(x, d.rd, rotl32(x[d.rs1], (32 - (x[d.rs2] & 31)) & 31)); };
const roriw = (h: Hart, d: Insn): void => { const x = h.x; setW(x, d.rd, rotl32(x[d.rs1], (32 - (d.imm & 31)) & 31)); };

// ---- byte-wise ----

const orc_b = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs1 + 1];
  x[d.rd] = orcb32(lo); x[d.rd + 1] = orcb32(hi);
};
/** rev8 (RV64): reverses the order of the 8 bytes. */
const rev8 = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs1 + 1];
  x[d.rd] = bswap32(hi); x[d.rd + 1] = bswap32(lo);
};

/** R-type (funct7, rs2, funct3, opcode), unary (rs2 field fixed) and shift-immediate masks. */

export const zbbZbkbShared: readonly InsnDef[] = [
  { name: "andn", match: 0x40007033, mask: R, fmt: Fmt.R, exec: andn },
  { name: "orn", match: 0x40006033, mask: R, fmt: Fmt.R, exec: orn },
  { name: "xnor", match: 0x40004033, mask: R, fmt: Fmt.R, exec: xnor },
  { name: "rol", match: 0x60001033, mask: R, fmt: Fmt.R, exec: rol },
  { name: "ror", match: 0x60005033, mask: R, fmt: Fmt.R, exec: ror },
  { name: "rori", match: 0x60005013, mask: SH64, fmt: Fmt.I, exec: rori },
  { name: "rolw", match: 0x6000103b, mask: R, fmt: Fmt.R, exec: rolw },
  { name: "rorw", match: 0x6000503b, mask: R, fmt: Fmt.R, exec: rorw },
  { name: "roriw", match: 0x6000501b, mask: R, fmt: Fmt.I, exec: roriw },
  { name: "rev8", match: 0x6b805013, mask: UNARY, fmt: Fmt.I, exec: rev8 },
];

export const zbb: readonly InsnDef[] = [
  ...zbbZbkbShared,
  { name: "clz", match: 0x60001013, mask: UNARY, fmt: Fmt.I, exec: clz },
  { name: "ctz", match: 0x60101013, mask: UNARY, fmt: Fmt.I, exec: ctz },
  { name: "cpop", match: 0x60201013, mask: UNARY, fmt: Fmt.I, exec: cpop },
  { name: "clzw", match: 0x6000101b, mask: UNARY, fmt: Fmt.I, exec: clzw },
  { name: "ctzw", match: 0x6010101b, mask: UNARY, fmt: Fmt.I, exec: ctzw },
  { name: "cpopw", match: 0x6020101b, mask: UNARY, fmt: Fmt.I, exec: cpopw },
  { name: "max", match: 0x0a006033, mask: R, fmt: Fmt.R, exec: max },
  { name: "maxu", match: 0x0a007033, mask: R, fmt: Fmt.R, exec: maxu },
  { name: "min", match: 0x0a004033, mask: R, fmt: Fmt.R, exec: min },
  { name: "minu", match: 0x0a005033, mask: R, fmt: Fmt.R, exec: minu },
  { name: "sext_b", match: 0x60401013, mask: UNARY, fmt: Fmt.I, exec: sext_b },
  { name: "sext_h", match: 0x60501013, mask: UNARY, fmt: Fmt.I, exec: sext_h },
  // zext.h (RV64) is the encoding of Zbkb's packw with rs2 = x0, and computes the same.
  { name: "zext_h", match: 0x0800403b, mask: UNARY, fmt: Fmt.I, exec: zext_h },
  { name: "orc_b", match: 0x28705013, mask: UNARY, fmt: Fmt.I, exec: orc_b },
];

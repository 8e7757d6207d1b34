// Zbkb and Zbkx: bit manipulation for cryptography (scalar crypto spec; RV64 forms). Zbkb
// shares andn/orn/xnor/rol/ror/rori/rolw/rorw/roriw/rev8 with Zbb (the same InsnDef objects)
// and adds pack, packh, packw and brev8; zip/unzip exist only on RV32. Zbkx is the crossbar
// permutations xperm4/xperm8. (Zbkc is clmul/clmulh, in zbc.ts.)
import { Fmt, type InsnDef, type Insn, MASK_R as R, MASK_UNARY as UNARY } from "../insn.js";
import type { Hart } from "../hart.js";
import { zbbZbkbShared } from "./zbb.js";

/** pack: rd = rs2[31:0] : rs1[31:0]. */
const pack = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs2];
  x[d.rd] = lo; x[d.rd + 1] = hi;
};
/** packh: rd = zext(rs2[7:0] : rs1[7:0]). */
const packh = (h: Hart, d: Insn): void => {
  const x = h.x, v = (x[d.rs1] & 0xff) | ((x[d.rs2] & 0xff) << 8);
  x[d.rd] = v; x[d.rd + 1] = 0;
};
/** packw: rd = sext32(rs2[15:0] : rs1[15:0]). */
const packw = (h: Hart, d: Insn): void => {
  const x = h.x, v = (x[d.rs1] & 0xffff) | (x[d.rs2] << 16);
  x[d.rd] = v; x[d.rd + 1] = v >> 31;
};

/** Reverses the bits within each byte of a 32-bit value. */
function brev8_32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  return ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
}
const brev8 = (h: Hart, d: Insn): void => {
  const x = h.x, lo = x[d.rs1], hi = x[d.rs1 + 1];
  x[d.rd] = brev8_32(lo); x[d.rd + 1] = brev8_32(hi);
};

/**
 * xperm4: each nibble i of rs2 selects nibble rs2[4i+3:4i] of rs1 (all 16 indices are in
 * range on RV64). Built in the two halves, then written.
 */
const xperm4 = (h: Hart, d: Insn): void => {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  let lo = 0, hi = 0;
  for (let i = 0; i < 8; i++) {
    const ilo = (blo >>> (4 * i)) & 15, ihi = (bhi >>> (4 * i)) & 15;
    lo |= ((ilo < 8 ? alo >>> (4 * ilo) : ahi >>> (4 * (ilo - 8))) & 15) << (4 * i);
    hi |= ((ihi < 8 ? alo >>> (4 * ihi) : ahi >>> (4 * (ihi - 8))) & 15) << (4 * i);
  }
  x[d.rd] = lo; x[d.rd + 1] = hi;
};
/** xperm8: each byte i of rs2 selects byte rs2[8i+7:8i] of rs1, or 0 when that index is >= 8. */
const xperm8 = (h: Hart, d: Insn): void => {
  const x = h.x, alo = x[d.rs1], ahi = x[d.rs1 + 1], blo = x[d.rs2], bhi = x[d.rs2 + 1];
  let lo = 0, hi = 0;
  for (let i = 0; i < 4; i++) {
    const ilo = (blo >>> (8 * i)) & 0xff, ihi = (bhi >>> (8 * i)) & 0xff;
    if (ilo < 8) lo |= ((ilo < 4 ? alo >>> (8 * ilo) : ahi >>> (8 * (ilo - 4))) & 0xff) << (8 * i);
    if (ihi < 8) hi |= ((ihi < 4 ? alo >>> (8 * ihi) : ahi >>> (8 * (ihi - 4))) & 0xff) << (8 * i);
  }
  x[d.rd] = lo; x[d.rd + 1] = hi;
};


export const zbkb: readonly InsnDef[] = [
  ...zbbZbkbShared,
  { name: "pack", match: 0x08004033, mask: R, fmt: Fmt.R, exec: pack },
  { name: "packh", match: 0x08007033, mask: R, fmt: Fmt.R, exec: packh },
  { name: "packw", match: 0x0800403b, mask: R, fmt: Fmt.R, exec: packw },
  { name: "brev8", match: 0x68705013, mask: UNARY, fmt: Fmt.I, exec: brev8 },
];

export const zbkx: readonly InsnDef[] = [
  { name: "xperm4", match: 0x28002033, mask: R, fmt: Fmt.R, exec: xperm4 },
  { name: "xperm8", match: 0x28004033, mask: R, fmt: Fmt.R, exec: xperm8 },
];

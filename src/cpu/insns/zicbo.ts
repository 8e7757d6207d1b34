// Zicbom, Zicboz (CMO spec 1.0): CBO.CLEAN, CBO.FLUSH, CBO.INVAL and CBO.ZERO on 64-byte cache
// blocks (the block size the device tree gives as riscv,cbom-block-size / cboz-block-size).
// There are no caches to maintain: management instructions only check that the block may be
// accessed; CBO.ZERO stores 64 zero bytes. Zicbop's PREFETCH.I/R/W are ORI with rd = x0, which
// the base ORI already executes as a no-op, and never fault.
//
// Enables (CMO spec "Control and Status Register State"): below M-mode each instruction needs
// its menvcfg field, and in U-mode also its senvcfg field; otherwise an illegal instruction.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { Hart } from "../hart.js";
import { CBIE_ILLEGAL, ENVCFG_CBCFE, ENVCFG_CBIE, ENVCFG_CBIE_SHIFT, ENVCFG_CBZE, PRV_M, PRV_U } from "../csr_numbers.js";

/** Whether `field` (a one-bit enable) of menvcfg, and in U-mode of senvcfg, lets the mode run it. */
function enabled(h: Hart, field: number): boolean {
  if (h.priv === PRV_M) return true;
  return (h.menvcfgLo & field) !== 0 && (h.priv !== PRV_U || (h.senvcfgLo & field) !== 0);
}

const cbo_clean_flush = (h: Hart, d: Insn): void => {
  if (!enabled(h, ENVCFG_CBCFE)) throw h.illegal(d);
  h.cacheBlockProbe(h.x[d.rs1], h.x[d.rs1 + 1]);
};
/**
 * CBO.INVAL: CBIE = 00 raises; 01 performs a flush and 11 an invalidate — the same thing
 * without caches.
 */
const cbo_inval = (h: Hart, d: Insn): void => {
  if (h.priv !== PRV_M) {
    const m = (h.menvcfgLo & ENVCFG_CBIE) >>> ENVCFG_CBIE_SHIFT, s = (h.senvcfgLo & ENVCFG_CBIE) >>> ENVCFG_CBIE_SHIFT;
    if (m === CBIE_ILLEGAL || (h.priv === PRV_U && s === CBIE_ILLEGAL)) throw h.illegal(d);
  }
  h.cacheBlockProbe(h.x[d.rs1], h.x[d.rs1 + 1]);
};
const cbo_zero = (h: Hart, d: Insn): void => {
  if (!enabled(h, ENVCFG_CBZE)) throw h.illegal(d);
  h.cacheBlockZero(h.x[d.rs1], h.x[d.rs1 + 1]);
};

// MISC-MEM, funct3 = 010 (CBO), rd = 0; imm[11:0] selects the operation.
const CBO_MASK = 0xfff07fff;
export const zicbom: InsnDef[] = [
  { name: "cbo_inval", match: 0x0000200f, mask: CBO_MASK, fmt: Fmt.I, exec: cbo_inval },
  { name: "cbo_clean", match: 0x0010200f, mask: CBO_MASK, fmt: Fmt.I, exec: cbo_clean_flush },
  { name: "cbo_flush", match: 0x0020200f, mask: CBO_MASK, fmt: Fmt.I, exec: cbo_clean_flush },
];
export const zicboz: InsnDef[] = [
  { name: "cbo_zero", match: 0x0040200f, mask: CBO_MASK, fmt: Fmt.I, exec: cbo_zero },
];

// The environment-configuration CSRs the built-in SBI sets before entering S-mode, as OpenSBI's
// mstatus_init does for the extensions the hart has: the supervisor gets Sstc's stimecmp,
// Svpbmt's memory types, hardware A/D updates (Svadu: the device tree lists svadu without
// svade, which promises them), the cache-block instructions, and access to senvcfg and the
// sstateen CSRs.
import type { Hart } from "../cpu/hart.js";
import {
  CBIE_INVAL, CSR, ENVCFG_CBCFE, ENVCFG_CBIE_SHIFT, ENVCFG_CBZE, MENVCFG_ADUE_HI, MENVCFG_PBMTE_HI, MENVCFG_STCE_HI,
  MSTATEEN0_ENVCFG_HI, MSTATEEN_SE_HI,
} from "../cpu/csr_numbers.js";

export function setSupervisorEnvcfg(h: Hart): void {
  const isa = h.isa;
  let lo = 0, hi = 0;
  if (isa.has("zicbom")) lo |= ENVCFG_CBCFE | (CBIE_INVAL << ENVCFG_CBIE_SHIFT);
  if (isa.has("zicboz")) lo |= ENVCFG_CBZE;
  if (isa.has("sstc")) hi |= MENVCFG_STCE_HI;
  if (isa.has("svpbmt")) hi |= MENVCFG_PBMTE_HI;
  if (isa.has("svadu")) hi |= MENVCFG_ADUE_HI;
  h.csrWrite(CSR.menvcfg, lo, hi);
  if (isa.has("smstateen")) {
    h.csrWrite(CSR.mstateen0, 0, MSTATEEN_SE_HI | MSTATEEN0_ENVCFG_HI);
    for (let n = CSR.mstateen0 + 1; n <= CSR.mstateen3; n++) h.csrWrite(n, 0, MSTATEEN_SE_HI);
  }
}

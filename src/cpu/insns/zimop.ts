// Zimop: may-be-operations (unprivileged spec, "Zimop" chapter). Until an extension redefines
// them, "MOP.R.n and MOP.RR.n ... write 0 to x[rd]". 32 MOP.R.n take one source register, 8
// MOP.RR.n two; both live in the SYSTEM opcode with funct3 = 100:
//   mop.r.n:  1 n[4] 00 n[3:2] 0111 n[1:0] rs1 100 rd 1110011
//   mop.rr.n: 1 n[2] 00 n[1:0] 1    rs2    rs1 100 rd 1110011
// (Zcmop's c.mop.n are no-ops expanded in decode.ts.)
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { Hart } from "../hart.js";

const mop = (h: Hart, d: Insn): void => { h.x[d.rd] = 0; h.x[d.rd + 1] = 0; };

const MOP_R_MATCH = 0x81c04073, MOP_R_MASK = 0xfff0707f;
const MOP_RR_MATCH = 0x82004073, MOP_RR_MASK = 0xfe00707f;
export const MOP_R_COUNT = 32, MOP_RR_COUNT = 8;

/** The encoding of mop.r.n with rd = rs1 = 0. */
export function mopR(n: number): number {
  return (MOP_R_MATCH | (((n >>> 4) & 1) << 30) | (((n >>> 2) & 3) << 26) | ((n & 3) << 20)) >>> 0;
}
/** The encoding of mop.rr.n with rd = rs1 = rs2 = 0. */
export function mopRR(n: number): number {
  return (MOP_RR_MATCH | (((n >>> 2) & 1) << 30) | ((n & 3) << 26)) >>> 0;
}

export const zimop: readonly InsnDef[] = [
  ...Array.from({ length: MOP_R_COUNT }, (_, n): InsnDef => ({ name: `mop_r_${n}`, match: mopR(n), mask: MOP_R_MASK, fmt: Fmt.R, exec: mop })),
  ...Array.from({ length: MOP_RR_COUNT }, (_, n): InsnDef => ({ name: `mop_rr_${n}`, match: mopRR(n), mask: MOP_RR_MASK, fmt: Fmt.R, exec: mop })),
];

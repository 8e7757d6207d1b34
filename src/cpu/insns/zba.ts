// Zba: address generation (unprivileged spec, "B" chapter). rd = rs2 + (rs1 << n), where the
// .uw forms first zero-extend rs1 from 32 bits ("unsigned word"). Registers are lo/hi int32
// pairs (src/cpu/insn.ts); operands are read before rd (which may alias them) is written.
import { Fmt, type InsnDef, type Insn, MASK_R as R, MASK_SH64 as SH64 } from "../insn.js";
import type { Hart } from "../hart.js";

/** rd = (alo, ahi) << n + rs2, for n in 0..3. */
function shiftAdd(x: Int32Array, rd: number, alo: number, ahi: number, n: number, rs2: number): void {
  const slo = alo << n, shi = n === 0 ? ahi : (ahi << n) | (alo >>> (32 - n));
  const blo = x[rs2], bhi = x[rs2 + 1];
  const lo = (slo + blo) | 0;
  x[rd + 1] = (shi + bhi + ((lo >>> 0) < (slo >>> 0) ? 1 : 0)) | 0;
  x[rd] = lo;
}

const add_uw = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], 0, 0, d.rs2); };
const sh1add = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], 1, d.rs2); };
const sh2add = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], 2, d.rs2); };
const sh3add = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], h.x[d.rs1 + 1], 3, d.rs2); };
const sh1add_uw = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], 0, 1, d.rs2); };
const sh2add_uw = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], 0, 2, d.rs2); };
const sh3add_uw = (h: Hart, d: Insn): void => { shiftAdd(h.x, d.rd, h.x[d.rs1], 0, 3, d.rs2); };

/** slli.uw: rd = zext32(rs1) << shamt (shamt 0..63). */
const slli_uw = (h: Hart, d: Insn): void => {
  const x = h.x, v = x[d.rs1], s = d.imm & 63;
  if (s === 0) { x[d.rd] = v; x[d.rd + 1] = 0; }
  else if (s < 32) { x[d.rd] = v << s; x[d.rd + 1] = v >>> (32 - s); }
  else { x[d.rd] = 0; x[d.rd + 1] = v << (s - 32); }
};


export const zba: readonly InsnDef[] = [
  { name: "add_uw", match: 0x0800003b, mask: R, fmt: Fmt.R, exec: add_uw },
  { name: "sh1add", match: 0x20002033, mask: R, fmt: Fmt.R, exec: sh1add },
  { name: "sh2add", match: 0x20004033, mask: R, fmt: Fmt.R, exec: sh2add },
  { name: "sh3add", match: 0x20006033, mask: R, fmt: Fmt.R, exec: sh3add },
  { name: "sh1add_uw", match: 0x2000203b, mask: R, fmt: Fmt.R, exec: sh1add_uw },
  { name: "sh2add_uw", match: 0x2000403b, mask: R, fmt: Fmt.R, exec: sh2add_uw },
  { name: "sh3add_uw", match: 0x2000603b, mask: R, fmt: Fmt.R, exec: sh3add_uw },
  { name: "slli_uw", match: 0x0800101b, mask: SH64, fmt: Fmt.I, exec: slli_uw },
];

// Zicond: integer conditional operations (unprivileged spec, "Zicond" chapter).
// czero.eqz: rd = rs2 == 0 ? 0 : rs1; czero.nez: rd = rs2 != 0 ? 0 : rs1.
import { Fmt, type InsnDef, type Insn, MASK_R as R } from "../insn.js";
import type { Hart } from "../hart.js";

function czero(x: Int32Array, rd: number, rs1: number, zero: boolean): void {
  const lo = zero ? 0 : x[rs1], hi = zero ? 0 : x[rs1 + 1];
  x[rd] = lo; x[rd + 1] = hi;
}
const czero_eqz = (h: Hart, d: Insn): void => {
  const x = h.x;
  czero(x, d.rd, d.rs1, (x[d.rs2] | x[d.rs2 + 1]) === 0);
};
const czero_nez = (h: Hart, d: Insn): void => {
  const x = h.x;
  czero(x, d.rd, d.rs1, (x[d.rs2] | x[d.rs2 + 1]) !== 0);
};


export const zicond: readonly InsnDef[] = [
  { name: "czero_eqz", match: 0x0e005033, mask: R, fmt: Fmt.R, exec: czero_eqz },
  { name: "czero_nez", match: 0x0e007033, mask: R, fmt: Fmt.R, exec: czero_nez },
];

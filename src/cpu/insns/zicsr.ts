// Zicsr (unprivileged spec chapter 9) and the privileged instructions MRET, SRET, WFI and
// SFENCE.VMA (priv spec 3.3). CSR instructions start and end their own block so counter
// reads are exact and CSR side effects (interrupt enables, satp) apply before the next one.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { Hart } from "../hart.js";
import { PRV_M, PRV_S, PRV_U } from "../csr_numbers.js";

const enum Op { RW, RS, RC }
const CSR_MIP = 0x344;

function csrOp(op: Op, immediate: boolean) {
  return (h: Hart, d: Insn): void => {
    const n = d.imm;
    const src = d.rs1 >>> 1; // register number, or the 5-bit uimm
    // RW always writes; RS/RC write only when rs1/uimm is non-zero. RW with rd=x0 does not read.
    const writes = op === Op.RW || src !== 0;
    if (!h.csrPrivOk(n) || (writes && (n >>> 10) === 3)) throw h.illegal(d);
    if (!h.csrRead(n)) throw h.illegal(d);
    const oldLo = h.csrLo, oldHi = h.csrHi;
    if (writes) {
      const vlo = immediate ? src : h.x[d.rs1], vhi = immediate ? 0 : h.x[d.rs1 + 1];
      // "Only the software-writable SEIP bit participates in the read-modify-write sequence of
      // a CSRRS or CSRRC instruction" (priv spec 3.1.9): not the PLIC's external signal.
      const baseLo = n === CSR_MIP ? h.mipRmwBase() : oldLo;
      if (op === Op.RW) h.csrWrite(n, vlo, vhi);
      else if (op === Op.RS) h.csrWrite(n, baseLo | vlo, oldHi | vhi);
      else h.csrWrite(n, baseLo & ~vlo, oldHi & ~vhi);
    }
    h.x[d.rd] = oldLo; h.x[d.rd + 1] = oldHi;
  };
}

const mret = (h: Hart, d: Insn): void => {
  if (h.priv !== PRV_M) throw h.illegal(d);
  h.pc = h.mret();
};
const sret = (h: Hart, d: Insn): void => {
  if (h.priv === PRV_U || h.tsr) throw h.illegal(d);
  h.pc = h.sret();
};
/** WFI: illegal in U-mode, and in S-mode when mstatus.TW=1; otherwise wait for an interrupt. */
const wfi = (h: Hart, d: Insn): void => {
  if (h.priv === PRV_U || h.tw) throw h.illegal(d);
  if ((h.mip & h.mie) === 0) h.wfi = true;
};
/** SFENCE.VMA: the TLB is flushed whole (a superset of every address/ASID form). */
const sfence_vma = (h: Hart, d: Insn): void => {
  if (h.priv === PRV_U || (h.priv === PRV_S && h.tvm)) throw h.illegal(d);
  h.flushTlb();
};

const CSR_MASK = 0x0000707f;
export const zicsr: InsnDef[] = [
  { name: "csrrw", match: 0x1073, mask: CSR_MASK, fmt: Fmt.CSR, exec: csrOp(Op.RW, false), startsBlock: true, endsBlock: true },
  { name: "csrrs", match: 0x2073, mask: CSR_MASK, fmt: Fmt.CSR, exec: csrOp(Op.RS, false), startsBlock: true, endsBlock: true },
  { name: "csrrc", match: 0x3073, mask: CSR_MASK, fmt: Fmt.CSR, exec: csrOp(Op.RC, false), startsBlock: true, endsBlock: true },
  { name: "csrrwi", match: 0x5073, mask: CSR_MASK, fmt: Fmt.CSRI, exec: csrOp(Op.RW, true), startsBlock: true, endsBlock: true },
  { name: "csrrsi", match: 0x6073, mask: CSR_MASK, fmt: Fmt.CSRI, exec: csrOp(Op.RS, true), startsBlock: true, endsBlock: true },
  { name: "csrrci", match: 0x7073, mask: CSR_MASK, fmt: Fmt.CSRI, exec: csrOp(Op.RC, true), startsBlock: true, endsBlock: true },
  { name: "mret", match: 0x30200073, mask: 0xffffffff, fmt: Fmt.NONE, exec: mret, setsPc: true },
  { name: "sret", match: 0x10200073, mask: 0xffffffff, fmt: Fmt.NONE, exec: sret, setsPc: true },
  { name: "wfi", match: 0x10500073, mask: 0xffffffff, fmt: Fmt.NONE, exec: wfi, endsBlock: true },
  { name: "sfence_vma", match: 0x12000073, mask: 0xfe007fff, fmt: Fmt.R, exec: sfence_vma, endsBlock: true },
];

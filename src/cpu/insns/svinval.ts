// Svinval (priv spec, "Svinval Extension for Fine-Grained Address-Translation Cache
// Invalidation"): SINVAL.VMA invalidates what SFENCE.VMA with the same operands would (here the
// whole software TLB, as SFENCE.VMA does); SFENCE.W.INVAL and SFENCE.INVAL.IR only order, and
// the hart's memory is sequentially consistent, so they do nothing.
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { Hart } from "../hart.js";
import { PRV_U } from "../csr_numbers.js";

/** "SINVAL.VMA ... require[s] the same permissions and raise[s] the same exceptions as SFENCE.VMA." */
const sinval_vma = (h: Hart, d: Insn): void => {
  if (h.priv === PRV_U || h.tvm) throw h.illegal(d);
  h.flushTlb();
};
/** Illegal in U-mode; "unaffected by the mstatus.TVM" field. */
const sfence_inval = (h: Hart, d: Insn): void => {
  if (h.priv === PRV_U) throw h.illegal(d);
};

export const svinval: InsnDef[] = [
  { name: "sinval_vma", match: 0x16000073, mask: 0xfe007fff, fmt: Fmt.R, exec: sinval_vma, endsBlock: true },
  { name: "sfence_w_inval", match: 0x18000073, mask: 0xffffffff, fmt: Fmt.NONE, exec: sfence_inval },
  { name: "sfence_inval_ir", match: 0x18100073, mask: 0xffffffff, fmt: Fmt.NONE, exec: sfence_inval },
];

// Zawrs (wait-on-reservation-set): WRS.NTO and WRS.STO "may" stall until the reservation set
// is written, a timeout, or an interrupt. Harts here are interleaved on one thread, so both
// complete at once (a stall of zero length is a permitted implementation, and the guest loops
// around them re-checking its condition).
import { Fmt, type InsnDef, type Insn } from "../insn.js";
import type { Hart } from "../hart.js";

/**
 * The hart "may be stalled while the reservation set is valid and no pending interrupt is
 * observed", and with mstatus.TW = 1 below M-mode WRS.NTO raises an illegal instruction "if it
 * does not complete within an implementation-specific bounded time limit": that limit is zero
 * here, so it raises exactly when it would stall. (QEMU raises whenever TW = 1.)
 */
const wrs_nto = (h: Hart, d: Insn): void => {
  if (h.tw && h.reservation !== -1 && (h.mip & h.mie) === 0) throw h.illegal(d);
};
/** WRS.STO waits at most a short, bounded time and is not subject to TW. */
const wrs_sto = (_h: Hart, _d: Insn): void => {};

export const zawrs: InsnDef[] = [
  { name: "wrs_nto", match: 0x00d00073, mask: 0xffffffff, fmt: Fmt.NONE, exec: wrs_nto },
  { name: "wrs_sto", match: 0x01d00073, mask: 0xffffffff, fmt: Fmt.NONE, exec: wrs_sto },
];

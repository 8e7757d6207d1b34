// Robust futex lists (kernel/futex/core.c exit_robust_list): when a thread ends, every futex on
// the list it registered with set_robust_list that it still owns is marked FUTEX_OWNER_DIED
// (keeping FUTEX_WAITERS) and one waiter is woken, so that the next pthread_mutex_lock of a
// robust mutex returns EOWNERDEAD instead of hanging.
import type { Kernel } from "./kernel.js";
import { EFAULT, EINVAL, ESRCH } from "../abi/linux.js";
import type { Thread, Wait } from "./task.js";

type R = number | Wait;

/** sizeof(struct robust_list_head): list.next, futex_offset, list_op_pending. */
export const ROBUST_LIST_HEAD_SIZE = 24;
/** "Max numbers of elements in a futex_robust_list" (include/uapi/linux/futex.h). */
export const ROBUST_LIST_LIMIT = 2048;
export const FUTEX_WAITERS = 0x80000000, FUTEX_OWNER_DIED = 0x40000000, FUTEX_TID_MASK = 0x3fffffff;

export function sys_set_robust_list(_k: Kernel, t: Thread, a: number[]): R {
  if (a[1] !== ROBUST_LIST_HEAD_SIZE) return -EINVAL;
  t.robustList = a[0];
  return 0;
}

export function sys_get_robust_list(k: Kernel, t: Thread, a: number[]): R {
  const tid = a[0] | 0;
  const th = tid === 0 ? t : k.threads.get(tid);
  if (th === undefined) return -ESRCH;
  if (!t.proc.as.putU64(a[2], ROBUST_LIST_HEAD_SIZE)) return -EFAULT;
  return t.proc.as.putU64(a[1], th.robustList) ? 0 : -EFAULT;
}

/** handle_futex_death for the futex word at `addr`, if `t` owns it. */
function futexDeath(k: Kernel, t: Thread, addr: number, pending: boolean): void {
  const as = t.proc.as;
  const v = as.u32(addr);
  if (v === null) return;
  // "Special case for regular (non PI) futexes. The unlock path in user space has two race
  // scenarios": a pending op on a word that has no owner yet still wakes one waiter.
  if (pending && (v & FUTEX_TID_MASK) === 0) { k.futexWake(t.proc, addr, 1, -1); return; }
  if ((v & FUTEX_TID_MASK) !== t.tid) return;
  const nv = ((v & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
  if (!as.putU32(addr, nv)) return;
  if ((v & FUTEX_WAITERS) !== 0) k.futexWake(t.proc, addr, 1, -1);
}

/** Walks `t`'s robust list (at its exit, before its memory goes). */
export function exitRobustList(k: Kernel, t: Thread): void {
  const head = t.robustList;
  if (head === 0) return;
  t.robustList = 0;
  const as = t.proc.as;
  let entry = as.u64(head);
  const offset = as.u64(head + 8);
  const pending = as.u64(head + 16);
  if (entry === null || offset === null || pending === null) return;
  // Entries carry the PI flag in bit 0 of their pointer.
  const addrOf = (e: number): number => (e - (e % 2)) + offset;
  for (let n = 0; entry !== head && entry !== null && n < ROBUST_LIST_LIMIT; n++) {
    const next = as.u64(entry - (entry % 2));
    // The pending op's futex is handled last (it may also be on the list).
    if (entry !== pending) futexDeath(k, t, addrOf(entry), false);
    if (next === null) break;
    entry = next;
  }
  if (pending !== 0) futexDeath(k, t, addrOf(pending), true);
}

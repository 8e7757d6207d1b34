// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack, kill/tgkill,
// rt_sigsuspend, rt_sigpending.
import type { Kernel } from "./kernel.js";
import { EAGAIN, EFAULT, EINVAL, ENOMEM, EPERM, ESRCH, encodeSiginfo } from "../abi/linux.js";
import { NORET } from "./syscalls.js";
import { SIGKILL, SIGSEGV, SIGSTOP, UNBLOCKABLE, Wait, sigbit, type SigInfo, type Thread } from "./task.js";

/**
 * Takes the lowest pending signal in `mask` from thread `t` (its own queue first, then its
 * process's), as dequeue_signal does for sigtimedwait and signalfd reads; null when none.
 */
export function dequeueSignal(t: Thread, mask: bigint): SigInfo | null {
  const ready = (t.pending | t.proc.pending) & mask;
  if (ready === 0n) return null;
  let sig = 1;
  while ((ready & sigbit(sig)) === 0n) sig++;
  let info: SigInfo | undefined;
  if ((t.pending & sigbit(sig)) !== 0n) { t.pending &= ~sigbit(sig); info = t.info.get(sig); t.info.delete(sig); }
  else { t.proc.pending &= ~sigbit(sig); info = t.proc.info.get(sig); t.proc.info.delete(sig); }
  return info ?? { signo: sig, code: 0 };
}

type R = number | Wait;

function readSet(t: Thread, ptr: number): bigint | null {
  const b = t.proc.as.read(ptr, 8);
  if (b === null) return null;
  return new DataView(b.buffer).getBigUint64(0, true);
}
function writeSet(t: Thread, ptr: number, v: bigint): boolean {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return t.proc.as.write(ptr, b);
}

export function sys_rt_sigaction(_k: Kernel, t: Thread, a: number[]): R {
  const sig = a[0] | 0;
  if (sig < 1 || sig > 64) return -EINVAL;
  const acts = t.proc.sig.actions;
  if (a[2] !== 0) {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    const o = acts[sig];
    dv.setBigUint64(0, BigInt.asUintN(64, BigInt(o.handler)), true);
    dv.setBigUint64(8, BigInt(o.flags >>> 0), true);
    dv.setBigUint64(16, o.mask, true);
    if (!t.proc.as.write(a[2], b)) return -EFAULT;
  }
  if (a[1] !== 0) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = t.proc.as.read(a[1], 24);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    acts[sig] = {
      handler: Number(dv.getBigUint64(0, true)), flags: dv.getUint32(8, true),
      mask: dv.getBigUint64(16, true) & ~UNBLOCKABLE,
    };
  }
  return 0;
}

export function sys_rt_sigprocmask(k: Kernel, t: Thread, a: number[]): R {
  const how = a[0] | 0;
  const old = t.sigmask;
  if (a[1] !== 0) {
    const s = readSet(t, a[1]);
    if (s === null) return -EFAULT;
    if (how === 0) t.sigmask |= s;
    else if (how === 1) t.sigmask &= ~s;
    else if (how === 2) t.sigmask = s;
    else return -EINVAL;
    t.sigmask &= ~UNBLOCKABLE;
  }
  if (a[2] !== 0 && !writeSet(t, a[2], old)) return -EFAULT;
  void k;
  return 0;
}

export function sys_rt_sigreturn(k: Kernel, t: Thread): R {
  if (!k.sigreturn(t)) { k.exitProcess(t.proc, SIGSEGV); }
  return NORET;
}

const SS_ONSTACK = 1, SS_DISABLE = 2, MINSIGSTKSZ = 2048;

export function sys_sigaltstack(_k: Kernel, t: Thread, a: number[]): R {
  const sp = t.hart.getX(2);
  const onStack = t.altFlags === 0 && sp > t.altSp && sp <= t.altSp + t.altSize;
  if (a[1] !== 0) {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(t.altSp), true); dv.setInt32(8, onStack ? SS_ONSTACK : t.altFlags, true); dv.setBigUint64(16, BigInt(t.altSize), true);
    if (!t.proc.as.write(a[1], b)) return -EFAULT;
  }
  if (a[0] !== 0) {
    const b = t.proc.as.read(a[0], 24);
    if (b === null) return -EFAULT;
    if (onStack) return -EPERM;
    const dv = new DataView(b.buffer);
    const flags = dv.getInt32(8, true);
    if ((flags & ~(SS_ONSTACK | SS_DISABLE | 0x80000000)) !== 0) return -EINVAL;
    if ((flags & SS_DISABLE) === 0 && Number(dv.getBigUint64(16, true)) < MINSIGSTKSZ) return -ENOMEM;
    if ((flags & 2) !== 0) { t.altFlags = 2; t.altSp = 0; t.altSize = 0; return 0; }
    t.altSp = Number(dv.getBigUint64(0, true)); t.altSize = Number(dv.getBigUint64(16, true)); t.altFlags = 0;
  }
  return 0;
}

export function sys_kill(k: Kernel, t: Thread, a: number[]): R {
  const pid = a[0] | 0, sig = a[1] | 0;
  if (sig < 0 || sig > 64) return -EINVAL;
  const info = { signo: sig, code: 0, pid: t.proc.pid, uid: k.uid };
  if (pid > 0) {
    const p = k.procs.get(pid);
    if (p === undefined || !p.alive) return -ESRCH;
    k.sendSignal(p, null, info);
    return 0;
  }
  const pg = pid === 0 ? t.proc.pgid : -pid;
  let n = 0;
  for (const p of [...k.procs.values()]) {
    if (!p.alive) continue;
    if (pid === -1 ? p.pid !== 1 && p !== t.proc : p.pgid === pg) { k.sendSignal(p, null, info); n++; }
  }
  if (pid === -1) { k.sendSignal(t.proc, null, info); n++; }
  return n > 0 ? 0 : -ESRCH;
}

export function sys_tgkill(k: Kernel, t: Thread, a: number[]): R {
  const th = k.threads.get(a[1] | 0);
  if (th === undefined || ((a[0] | 0) !== -1 && th.proc.pid !== (a[0] | 0))) return -ESRCH;
  const sig = a[2] | 0;
  if (sig < 0 || sig > 64) return -EINVAL;
  k.sendSignal(th.proc, th, { signo: sig, code: -6, pid: t.proc.pid, uid: k.uid });
  return 0;
}
export const sys_tkill = (k: Kernel, t: Thread, a: number[]): R => sys_tgkill(k, t, [-1, a[0], a[1]]);

export function sys_rt_sigsuspend(_k: Kernel, t: Thread, a: number[]): R {
  const s = readSet(t, a[0]);
  if (s === null) return -EFAULT;
  t.savedMask = t.sigmask;
  t.sigmask = s & ~UNBLOCKABLE;
  return new Wait(() => null, Infinity, () => 0, false);
}

export function sys_rt_sigpending(_k: Kernel, t: Thread, a: number[]): R {
  return writeSet(t, a[0], (t.pending | t.proc.pending) & t.sigmask) ? 0 : -EFAULT;
}

export function sys_rt_sigtimedwait(k: Kernel, t: Thread, a: number[]): R {
  const s = readSet(t, a[0]);
  if (s === null) return -EFAULT;
  const take = (): number | null => {
    const info = dequeueSignal(t, s);
    if (info === null) return null;
    if (a[1] !== 0) t.proc.as.write(a[1], encodeSiginfo(info));
    return info.signo;
  };
  const r = take();
  if (r !== null) return r;
  let deadline = Infinity;
  if (a[2] !== 0) {
    const b = t.proc.as.read(a[2], 16);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    deadline = k.host.clock.monotonic() + dv.getUint32(0, true) * 1e9 + dv.getUint32(8, true);
  }
  // Waited-for signals must not interrupt: block them while waiting.
  const saved = t.sigmask;
  t.sigmask |= s;
  return new Wait(() => { const x = take(); if (x !== null) t.sigmask = saved; return x; }, deadline, () => { t.sigmask = saved; return -EAGAIN; }, false);
}

export { EPERM };

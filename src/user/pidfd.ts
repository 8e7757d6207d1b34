// Process file descriptors (kernel/pid.c, kernel/signal.c): pidfd_open, pidfd_send_signal,
// pidfd_getfd, CLONE_PIDFD and waitid(P_PIDFD). A pidfd polls readable once its process has
// exited (whether or not it was reaped), and names that process for ever: a pid reused later
// is another process.
import type { Kernel } from "./kernel.js";
import { EBADF, EFAULT, EINVAL, EPERM, ESRCH, O_NONBLOCK, O_RDWR, POLLHUP, POLLIN } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostStat } from "./host.js";
import { Wait, type Process, type SigInfo, type Thread } from "./task.js";

type R = number | Wait;

export const PIDFD_NONBLOCK = O_NONBLOCK;
/** si_code values a process may only send to itself (SI_USER = 0 and the kernel's > 0, SI_TKILL). */
const SI_USER = 0, SI_TKILL = -6;

export class PidFd extends OpenFile {
  constructor(readonly target: Process) { super(); this.path = "anon_inode:[pidfd]"; this.flags = O_RDWR; }
  override read(): number { return -EINVAL; }
  override write(): number { return -EINVAL; }
  /** pidfd_poll: EPOLLIN | EPOLLRDNORM once the thread group has exited; EPOLLHUP once reaped. */
  override poll(): number { return this.target.alive ? 0 : POLLIN | (this.target.reaped ? POLLHUP : 0); }
  override wakeups(): number { return this.target.alive ? 0 : this.target.reaped ? 2 : 1; }
  override stat(): HostStat { return fakeStat(0o600); }
}

/** A new pidfd for p in t's table (always close-on-exec, as Linux makes them). */
export function newPidFd(t: Thread, p: Process, flags: number): number {
  const f = new PidFd(p);
  f.flags = O_RDWR | (flags & PIDFD_NONBLOCK);
  return t.proc.fds.alloc(f, true);
}

export function pidfdTarget(t: Thread, fd: number): Process | number {
  const f = t.proc.fds.get(fd | 0);
  if (f === undefined) return -EBADF;
  return f instanceof PidFd ? f.target : -EBADF;
}

export function sys_pidfd_open(k: Kernel, t: Thread, a: number[]): R {
  const pid = a[0] | 0, flags = a[1] >>> 0;
  if ((flags & ~PIDFD_NONBLOCK) !== 0 || pid <= 0) return -EINVAL;
  const p = k.procs.get(pid);
  if (p === undefined) return k.threads.has(pid) ? -EINVAL : -ESRCH; // a thread that is not a leader: EINVAL
  if (p.reaped) return -ESRCH;
  return newPidFd(t, p, flags);
}

export function sys_pidfd_send_signal(k: Kernel, t: Thread, a: number[]): R {
  const sig = a[1] | 0, infoPtr = a[2], flags = a[3] >>> 0;
  if (flags !== 0) return -EINVAL;
  const p = pidfdTarget(t, a[0]);
  if (typeof p === "number") return p;
  if (sig < 0 || sig > 64) return -EINVAL;
  if (!p.alive) return -ESRCH;
  let info: SigInfo = { signo: sig, code: SI_USER, pid: t.proc.pid, uid: k.uid };
  if (infoPtr !== 0) {
    const b = t.proc.as.read(infoPtr, 128);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    // "The signal number in info must match sig"; another process may not be sent a code that
    // claims to come from the kernel or kill/tgkill.
    if (dv.getInt32(0, true) !== sig) return -EINVAL;
    const code = dv.getInt32(8, true);
    if (p !== t.proc && (code >= 0 || code === SI_TKILL)) return -EPERM;
    info = { signo: sig, code, pid: dv.getInt32(16, true), uid: dv.getInt32(20, true), value: Number(dv.getBigInt64(24, true)) };
  }
  if (sig === 0) return 0;
  k.sendSignal(p, null, info);
  return 0;
}

export function sys_pidfd_getfd(_k: Kernel, t: Thread, a: number[]): R {
  if ((a[2] >>> 0) !== 0) return -EINVAL;
  const p = pidfdTarget(t, a[0]);
  if (typeof p === "number") return p;
  if (!p.alive) return -ESRCH;
  const f = p.fds.get(a[1] | 0);
  if (f === undefined) return -EBADF;
  const fd = t.proc.fds.alloc(f, true);
  if (fd >= 0) f.refs++;
  return fd;
}

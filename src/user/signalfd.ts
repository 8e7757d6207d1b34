// signalfd4 (fs/signalfd.c): pending signals read as struct signalfd_siginfo records. As on
// Linux, the descriptor reads the signals of whichever thread reads or polls it (so one
// inherited across fork reads the child's own), and the signals are normally blocked with
// sigprocmask so that they stay pending instead of running a handler.
import type { Kernel } from "./kernel.js";
import { EAGAIN, EBADF, EFAULT, EINVAL, O_CLOEXEC, O_NONBLOCK, O_RDONLY, POLLIN } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostStat } from "./host.js";
import { dequeueSignal } from "./signal.js";
import { UNBLOCKABLE, Wait, type SigInfo, type Thread } from "./task.js";

type R = number | Wait;

export const SFD_CLOEXEC = O_CLOEXEC, SFD_NONBLOCK = O_NONBLOCK;
/** sizeof(struct signalfd_siginfo). */
export const SIGNALFD_SIGINFO_SIZE = 128;
/** sizeof(sigset_t) that the kernel accepts (sizemask). */
const SIGSET_SIZE = 8;

/** struct signalfd_siginfo (include/uapi/linux/signalfd.h). */
export function signalfdSiginfo(info: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGNALFD_SIGINFO_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, info.signo, true);          // ssi_signo
  dv.setInt32(8, info.code, true);            // ssi_code
  dv.setUint32(12, info.pid ?? 0, true);      // ssi_pid
  dv.setUint32(16, info.uid ?? 0, true);      // ssi_uid
  if (info.status !== undefined) dv.setInt32(40, info.status, true); // ssi_status (SIGCHLD)
  if (info.value !== undefined) {             // ssi_int / ssi_ptr (sigqueue)
    dv.setInt32(44, info.value | 0, true);
    dv.setBigUint64(48, BigInt.asUintN(64, BigInt(info.value)), true);
  }
  if (info.addr !== undefined) dv.setBigUint64(72, BigInt.asUintN(64, BigInt(info.addr)), true); // ssi_addr
  return b;
}

export class SignalFd extends OpenFile {
  private gen = 0;
  constructor(readonly k: Kernel, public mask: bigint) { super(); this.path = "anon_inode:[signalfd]"; this.flags = O_RDONLY; }

  private reader(): Thread | null { return this.k.current; }

  override read(buf: Uint8Array): number {
    const t = this.reader();
    if (t === null) return -EAGAIN;
    const max = Math.floor(buf.length / SIGNALFD_SIGINFO_SIZE);
    if (max === 0) return -EINVAL;
    let n = 0;
    for (; n < max; n++) {
      const info = dequeueSignal(t, this.mask);
      if (info === null) break;
      buf.set(signalfdSiginfo(info), n * SIGNALFD_SIGINFO_SIZE);
    }
    if (n === 0) return -EAGAIN;
    this.gen++;
    return n * SIGNALFD_SIGINFO_SIZE;
  }
  override write(): number { return -EINVAL; }
  override poll(): number {
    const t = this.reader();
    return t !== null && ((t.pending | t.proc.pending) & this.mask) !== 0n ? POLLIN : 0;
  }
  /** A signal's arrival is an edge: the pending sets (of every reader) only grow until read. */
  override wakeups(): number {
    const t = this.reader();
    return this.gen + (t === null ? 0 : Number(BigInt.asUintN(32, (t.pending | t.proc.pending) & this.mask)));
  }
  override stat(): HostStat { return fakeStat(0o600); }
}

export function sys_signalfd4(k: Kernel, t: Thread, a: number[]): R {
  const fd = a[0] | 0, flags = a[3] | 0;
  if ((flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) !== 0) return -EINVAL;
  if (a[2] !== SIGSET_SIZE) return -EINVAL;
  const m = t.proc.as.read(a[1], SIGSET_SIZE);
  if (m === null) return -EFAULT;
  // "the mask is sanitized: SIGKILL and SIGSTOP cannot be received through a signalfd".
  const mask = new DataView(m.buffer).getBigUint64(0, true) & ~UNBLOCKABLE;
  if (fd !== -1) {
    const f = t.proc.fds.get(fd);
    if (f === undefined) return -EBADF;
    if (!(f instanceof SignalFd)) return -EINVAL;
    f.mask = mask;
    OpenFile.notify();
    return fd;
  }
  const f = new SignalFd(k, mask);
  f.flags = O_RDONLY | (flags & SFD_NONBLOCK);
  return t.proc.fds.alloc(f, (flags & SFD_CLOEXEC) !== 0);
}

// Process and thread system calls: clone/clone3 (threads, fork, vfork), execve, exit, wait,
// ids, limits, futex, uname/sysinfo.
import type { Kernel } from "./kernel.js";
import { EACCES, EAGAIN, ECHILD, EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH, ETIMEDOUT, SIGINFO_SIZE, encodeSiginfo } from "../abi/linux.js";
import { PROT_WRITE, type AddressSpace } from "./memory.js";
import { accessOk, int, ptr, rwCount, uint } from "./args.js";
import { ExecError, HostProgram, loadImage } from "./loader.js";
import { execHost, hostExecAllowed } from "./host_exec.js";
import { commitExec } from "./exec.js";
import { NORET } from "./syscalls.js";
import {
  CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, Process, SIGCHLD, SIGCONT, SUID_DUMP_DISABLE, SUID_DUMP_USER, Thread,
  WCONTINUED_STATUS, Wait,
} from "./task.js";
import { readTimespec } from "./time.js";
import { newPidFd, pidfdTarget } from "./pidfd.js";

type R = number | Wait;
export const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_PIDFD = 0x1000, CLONE_VFORK = 0x4000,
  CLONE_PARENT = 0x8000, CLONE_THREAD = 0x10000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000,
  CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x01000000;

/**
 * Linux's threads-max: total RAM / (8 · THREAD_SIZE) with riscv64's 16 KiB kernel stacks, capped
 * at MAX_TASKS_HOST because every task also costs the host a hart (~40 KiB of TLBs and state).
 */
const THREAD_SIZE = 16384, MAX_TASKS_HOST = 4096;
export const maxTasks = (k: Kernel): number => Math.min(MAX_TASKS_HOST, Math.max(20, Math.floor(k.ram.size / (8 * THREAD_SIZE))));

function doClone(k: Kernel, t: Thread, flags: number, stack: number, ptid: number, tls: number, ctid: number, pidfdPtr = ptid): R {
  // CLONE_PIDFD is not for threads, and (clone, not clone3) shares parent_tid with CLONE_PARENT_SETTID.
  if ((flags & CLONE_PIDFD) !== 0 && ((flags & CLONE_THREAD) !== 0 || ((flags & CLONE_PARENT_SETTID) !== 0 && pidfdPtr === ptid))) return -EINVAL;
  // copy_process: past threads-max → EAGAIN; no memory for the copy → ENOMEM. Both before
  // anything is created, so a fork bomb fails calls instead of ending the VM.
  if (k.threads.size >= maxTasks(k)) return -EAGAIN;
  // The pids cgroup (a container's --pids-limit): fork and thread creation past pids.max fail with EAGAIN.
  if (k.opts.maxTasks !== undefined && k.threads.size >= k.opts.maxTasks) return -EAGAIN;
  let forked: AddressSpace | null = null;
  if ((flags & (CLONE_THREAD | CLONE_VM)) === 0) {
    forked = t.proc.as.fork();
    if (forked === null) return -ENOMEM;
  }
  const tid = k.allocId();
  const h = k.newHart(tid), ph = t.hart;
  h.x.set(ph.x); h.fi.set(ph.fi); h.frm = ph.frm; h.fflags = ph.fflags; h.fs = ph.fs;
  h.pc = ph.pc;
  h.setX(10, 0);
  if (stack !== 0) h.setX(2, stack);
  if ((flags & CLONE_SETTLS) !== 0) h.setX(4, tls);
  let child: Thread;
  const p = t.proc;
  if ((flags & CLONE_THREAD) !== 0) {
    child = new Thread(tid, p, h);
  } else {
    let as = p.as;
    if (forked !== null) as = forked; else as.users++;
    const parent = (flags & CLONE_PARENT) !== 0 ? p.parent : p;
    if ((flags & CLONE_FILES) !== 0) p.fds.users++;
    const np = new Process(tid, parent, as, (flags & CLONE_FILES) !== 0 ? p.fds : p.fds.clone(),
      (flags & CLONE_SIGHAND) !== 0 ? p.sig : p.sig.clone(), p.cwd, p.exe, p.argv.slice());
    np.umask = p.umask; np.commName = p.commName; np.pgid = p.pgid; np.sid = p.sid; np.ctty = p.ctty;
    // copy_process: pdeath_signal starts at 0 (the Process default); the mm's dumpable and
    // THP-disable flags (MMF_INIT_MASK) and no_new_privs are the parent's.
    np.dumpable = p.dumpable; np.thpDisable = p.thpDisable; np.noNewPrivs = p.noNewPrivs;
    np.startNs = k.host.clock.monotonic();
    parent?.children.add(np);
    k.procs.set(tid, np);
    child = new Thread(tid, np, h);
  }
  child.sigmask = t.sigmask;
  // copy_process: both timer slack values of the new task are the creator's current slack.
  child.timerSlack = t.timerSlack; child.defaultTimerSlack = t.timerSlack;
  // As Linux: a thread sharing the address space must not inherit the alternate signal stack
  // (two threads taking signals on one stack would overwrite each other's frames).
  if ((flags & (CLONE_VM | CLONE_VFORK)) !== CLONE_VM) { child.altSp = t.altSp; child.altSize = t.altSize; child.altFlags = t.altFlags; }
  if ((flags & CLONE_PIDFD) !== 0) {
    // copy_process makes the pidfd after copy_files: in the parent's table only (close-on-exec).
    p.as.putU32(pidfdPtr, newPidFd(t, child.proc, 0));
  }
  k.addThread(child);
  if ((flags & CLONE_PARENT_SETTID) !== 0) p.as.putU32(ptid, tid);
  if ((flags & CLONE_CHILD_SETTID) !== 0) child.proc.as.putU32(ctid, tid);
  if ((flags & CLONE_CHILD_CLEARTID) !== 0) child.clearTid = ctid;
  if ((flags & CLONE_VFORK) !== 0 && child.proc !== p) {
    const cp = child.proc;
    cp.vforkParent = t;
    return new Wait(() => (cp.vforkParent === null ? tid : null), Infinity, () => tid, false);
  }
  return tid;
}

export const sys_clone = (k: Kernel, t: Thread, a: number[]): R => doClone(k, t, a[0], a[1], a[2], a[3], a[4]);

export function sys_clone3(k: Kernel, t: Thread, a: number[]): R {
  const b = t.proc.as.read(a[0], 64);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const u = (o: number): number => dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 4294967296;
  const flags = u(0), stack = u(40), size = u(48);
  // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls.
  return doClone(k, t, flags, stack === 0 ? 0 : stack + size, u(24), u(56), u(16), u(8));
}

function strArray(t: Thread, ptr: number): string[] | null {
  const out: string[] = [];
  if (ptr === 0) return out;
  for (let i = 0; i < 100000; i++) {
    const p = t.proc.as.u64(ptr + i * 8);
    if (p === null) return null;
    if (p === 0) return out;
    const s = t.proc.as.cstring(p, 1 << 17);
    if (s === null) return null;
    out.push(s);
  }
  return null;
}

export function sys_execve(k: Kernel, t: Thread, a: number[]): R {
  const p = t.proc;
  const path = p.as.cstring(a[0]);
  const argv = strArray(t, a[1]), env = strArray(t, a[2]);
  if (path === null || argv === null || env === null) return -EFAULT;
  let img;
  try {
    img = loadImage({
      vfs: k.vfs, frames: k.frames, cwd: p.cwd, path, argv, env, uid: k.uid, gid: k.gid, random: (b) => k.host.random(b),
      hostNative: hostExecAllowed(k), execve: true,
    });
  } catch (e) {
    if (e instanceof ExecError) return e.errno;
    throw e;
  }
  if (img instanceof HostProgram) return execHost(k, t, img, env, path.split("/").pop() ?? null);
  commitExec(k, t, img.as, img.exe, img.argv, path.split("/").pop() ?? null);
  k.setEntry(t.hart, img);
  return NORET;
}

export function sys_exit(k: Kernel, t: Thread, a: number[]): R {
  k.exitThread(t, a[0] | 0);
  return NORET;
}
export function sys_exit_group(k: Kernel, t: Thread, a: number[]): R {
  k.exitProcess(t.proc, 0, a[0] | 0);
  return NORET;
}

function matches(c: Process, pid: number, self: Process): boolean {
  if (pid > 0) return c.pid === pid;
  if (pid === -1) return true;
  if (pid === 0) return c.pgid === self.pgid;
  return c.pgid === -pid;
}

function reap(k: Kernel, c: Process): void {
  c.reaped = true;
  c.parent?.children.delete(c);
  k.procs.delete(c.pid);
}

const P_PIDFD = 3;
// wait options (include/uapi/linux/wait.h)
const WNOHANG = 1, WUNTRACED = 2, WSTOPPED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x1000000;

/** What a child has to report to wait: its exit, or (when asked) a stop or a continue. */
function report(c: Process, options: number, exited: boolean): "exit" | "job" | null {
  if (c.reaped) return null;
  if (c.status !== null) return exited ? "exit" : null;
  if (c.jobReport === 0) return null;
  if (c.jobReport === WCONTINUED_STATUS) return (options & WCONTINUED) !== 0 ? "job" : null;
  return c.stopped && (options & WSTOPPED) !== 0 ? "job" : null;
}

export function sys_wait4(k: Kernel, t: Thread, a: number[]): R {
  const pid = a[0] | 0, statusPtr = a[1], options = a[2] | 0;
  const p = t.proc;
  const check = (): number | null => {
    let any = false;
    for (const c of p.children) {
      if (!matches(c, pid, p)) continue;
      any = true;
      const what = report(c, (options & WUNTRACED) !== 0 ? options | WSTOPPED : options & ~WSTOPPED, true);
      if (what === null) continue;
      const status = what === "exit" ? c.status ?? 0 : c.jobReport;
      if (statusPtr !== 0 && !p.as.putU32(statusPtr, status)) return -EFAULT;
      if (a[3] !== 0) p.as.write(a[3], new Uint8Array(144));
      if (what === "exit") reap(k, c); else c.jobReport = 0;
      return c.pid;
    }
    if (!any) return -ECHILD;
    return (options & WNOHANG) !== 0 ? 0 : null;
  };
  const r = check();
  return r !== null ? r : new Wait(check);
}

export function sys_waitid(k: Kernel, t: Thread, a: number[]): R {
  const idtype = a[0] | 0, id = a[1] | 0, infop = a[2], options = a[3] | 0;
  if ((options & (WEXITED | WSTOPPED | WCONTINUED)) === 0) return -EINVAL;
  // P_ALL, P_PID, P_PGID, P_PIDFD (the process a pidfd names).
  let pid = idtype === 0 ? -1 : idtype === 1 ? id : idtype === 2 ? -id : -1;
  if (idtype === P_PIDFD) { const target = pidfdTarget(t, id); if (typeof target === "number") return target; pid = target.pid; }
  else if (idtype < 0 || idtype > P_PIDFD) return -EINVAL;
  const p = t.proc;
  const check = (): number | null => {
    let any = false;
    for (const c of p.children) {
      if (!matches(c, pid, p)) continue;
      any = true;
      const what = report(c, options, (options & WEXITED) !== 0);
      if (what === null) continue;
      let code: number, status: number;
      if (what === "exit") {
        const st = c.status ?? 0, killed = (st & 0x7f) !== 0;
        code = killed ? CLD_KILLED : CLD_EXITED; status = killed ? st & 0x7f : (st >> 8) & 0xff;
      } else if (c.jobReport === WCONTINUED_STATUS) { code = CLD_CONTINUED; status = SIGCONT; }
      else { code = CLD_STOPPED; status = (c.jobReport >> 8) & 0xff; }
      if (infop !== 0 && !p.as.write(infop, encodeSiginfo({ signo: SIGCHLD, code, pid: c.pid, uid: k.uid, status }))) return -EFAULT;
      if ((options & WNOWAIT) === 0) { if (what === "exit") reap(k, c); else c.jobReport = 0; }
      return 0;
    }
    if (!any) return -ECHILD;
    if ((options & WNOHANG) !== 0) { if (infop !== 0) p.as.write(infop, new Uint8Array(SIGINFO_SIZE)); return 0; }
    return null;
  };
  const r = check();
  return r !== null ? r : new Wait(check);
}

export const sys_getpid = (_k: Kernel, t: Thread): R => t.proc.pid;
export const sys_gettid = (_k: Kernel, t: Thread): R => t.tid;
export const sys_getppid = (_k: Kernel, t: Thread): R => t.proc.parent?.pid ?? 0;
export const sys_getuid = (k: Kernel): R => k.uid;
export const sys_getgid = (k: Kernel): R => k.gid;
export const sys_setid = (k: Kernel, _t: Thread, a: number[]): R => ((a[0] | 0) === k.uid || (a[0] | 0) === -1 ? 0 : -EPERM);
export function sys_getresuid(k: Kernel, t: Thread, a: number[]): R {
  for (let i = 0; i < 3; i++) if (!t.proc.as.putU32(a[i], k.uid)) return -EFAULT;
  return 0;
}
export function sys_getresgid(k: Kernel, t: Thread, a: number[]): R {
  for (let i = 0; i < 3; i++) if (!t.proc.as.putU32(a[i], k.gid)) return -EFAULT;
  return 0;
}
export function sys_getgroups(k: Kernel, t: Thread, a: number[]): R {
  if ((a[0] | 0) === 0) return 1;
  return t.proc.as.putU32(a[1], k.gid) ? 1 : -EFAULT;
}
export function sys_set_tid_address(_k: Kernel, t: Thread, a: number[]): R { t.clearTid = a[0]; return t.tid; }

export function sys_setpgid(k: Kernel, t: Thread, a: number[]): R {
  // setpgid(2): the caller or one of its children (not after it has exec'd), never a session
  // leader, into a group of the caller's session.
  const self = t.proc;
  const pid = a[0] | 0;
  let pgid = a[1] | 0;
  if (pgid < 0) return -EINVAL;
  const p = pid === 0 ? self : k.procs.get(pid);
  if (p === undefined || !p.alive) return -ESRCH;
  if (p !== self) {
    if (p.parent !== self) return -ESRCH;
    if (p.sid !== self.sid) return -EPERM;
    if (p.execed) return -EACCES;
  }
  if (p.pid === p.sid) return -EPERM;
  if (pgid === 0) pgid = p.pid;
  if (pgid !== p.pid) {
    let ok = false;
    for (const q of k.procs.values()) if (q.alive && q.pgid === pgid && q.sid === self.sid) { ok = true; break; }
    if (!ok) return -EPERM;
  }
  p.pgid = pgid;
  return 0;
}
export function sys_getpgid(k: Kernel, t: Thread, a: number[]): R {
  const p = (a[0] | 0) === 0 ? t.proc : k.procs.get(a[0] | 0);
  return p === undefined ? -ESRCH : p.pgid;
}
export function sys_getsid(k: Kernel, t: Thread, a: number[]): R {
  const p = (a[0] | 0) === 0 ? t.proc : k.procs.get(a[0] | 0);
  return p === undefined ? -ESRCH : p.sid;
}
export function sys_setsid(k: Kernel, t: Thread): R {
  // EPERM when a process group with the caller's id exists (the caller leads one, say).
  const p = t.proc;
  for (const q of k.procs.values()) if (q.alive && q.pgid === p.pid) return -EPERM;
  p.sid = p.pgid = p.pid;
  p.ctty = null;
  return p.pid;
}

const RLIM_INF = new Uint8Array(8).fill(0xff);
export function sys_prlimit64(_k: Kernel, t: Thread, a: number[]): R {
  const res = a[1] | 0;
  if (res < 0 || res > 15) return -EINVAL;
  if (a[3] !== 0) {
    const b = new Uint8Array(16);
    b.set(RLIM_INF, 0); b.set(RLIM_INF, 8);
    const dv = new DataView(b.buffer);
    if (res === 3) { dv.setUint32(0, 8 << 20, true); dv.setUint32(4, 0, true); } // RLIMIT_STACK
    if (res === 7) { dv.setUint32(0, 1024, true); dv.setUint32(4, 0, true); dv.setUint32(8, 1024, true); dv.setUint32(12, 0, true); }
    if (!t.proc.as.write(a[3], b)) return -EFAULT;
  }
  return 0;
}
export const sys_getrlimit = (k: Kernel, t: Thread, a: number[]): R => sys_prlimit64(k, t, [0, a[0], 0, a[1]]);

export function sys_uname(k: Kernel, t: Thread, a: number[]): R {
  const b = new Uint8Array(390);
  const enc = new TextEncoder();
  ["Linux", k.host.hostname, "6.1.0", "#1 SMP rvisor", "riscv64", "(none)"].forEach((s, i) => b.set(enc.encode(s).subarray(0, 64), i * 65));
  return t.proc.as.write(a[0], b) ? 0 : -EFAULT;
}

export function sys_sysinfo(k: Kernel, t: Thread, a: number[]): R {
  const b = new Uint8Array(112);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, Math.floor((k.host.clock.monotonic() - k.bootNs) / 1e9), true);
  dv.setUint32(32, k.ram.size, true); dv.setUint32(40, k.ram.size - k.frames.used * 4096, true);
  dv.setUint16(80, k.procs.size, true); dv.setUint32(104, 1, true);
  return t.proc.as.write(a[0], b) ? 0 : -EFAULT;
}

/** Ends the thread's time slice so that the others run (Go's osyield in its spin loops). */
export const sys_sched_yield = (_k: Kernel, t: Thread): R => { t.hart.stopped = true; return 0; };
export const sys_zero = (): R => 0;
export const sys_enosys = (): R => -ENOSYS;

// prctl options (include/uapi/linux/prctl.h).
const PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4, PR_SET_NAME = 15, PR_GET_NAME = 16,
  PR_CAPBSET_READ = 23, PR_SET_TIMERSLACK = 29, PR_GET_TIMERSLACK = 30, PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37,
  PR_SET_NO_NEW_PRIVS = 38, PR_GET_NO_NEW_PRIVS = 39, PR_SET_THP_DISABLE = 41, PR_GET_THP_DISABLE = 42;
/** CAP_LAST_CAP of Linux 6.1 (CAP_CHECKPOINT_RESTORE). */
const CAP_LAST_CAP = 40;
/** _NSIG: valid_signal() accepts 0.._NSIG. */
const NSIG = 64;
/** TASK_COMM_LEN: PR_GET_NAME writes this many bytes. */
const TASK_COMM_LEN = 16;

/** prctl(option, arg2..arg5) as kernel/sys.c of Linux 6.1 for the options rvisor knows; others EINVAL. */
export function sys_prctl(_k: Kernel, t: Thread, a: number[]): R {
  const op = int(a[0]);
  const [, arg2, arg3, arg4, arg5] = a;
  const p = t.proc;
  switch (op) {
    // Every argument but the option is an unsigned long: a register of 2^63 or more is negative here.
    case PR_SET_PDEATHSIG:
      if (arg2 < 0 || arg2 > NSIG) return -EINVAL;
      p.pdeathsig = arg2;
      return 0;
    case PR_GET_PDEATHSIG: return p.as.putU32(arg2, p.pdeathsig) ? 0 : -EFAULT;
    case PR_GET_DUMPABLE: return p.dumpable;
    case PR_SET_DUMPABLE:
      if (arg2 !== SUID_DUMP_DISABLE && arg2 !== SUID_DUMP_USER) return -EINVAL;
      p.dumpable = arg2;
      return 0;
    case PR_SET_NAME: return 0;
    case PR_GET_NAME: {
      const b = new Uint8Array(TASK_COMM_LEN);
      b.set(new TextEncoder().encode(p.comm));
      return p.as.write(arg2, b) ? 0 : -EFAULT;
    }
    // The bounding set of an unprivileged process is still every capability.
    case PR_CAPBSET_READ: return arg2 >= 0 && arg2 <= CAP_LAST_CAP ? 1 : -EINVAL;
    // Per thread; 0 restores the thread's default (the slack of the thread that created it).
    // The value is a u64 returned as a long, as Linux does (2^63 and more come back negative).
    case PR_SET_TIMERSLACK: t.timerSlack = arg2 === 0 ? t.defaultTimerSlack : arg2; return 0;
    case PR_GET_TIMERSLACK: return t.timerSlack;
    case PR_SET_CHILD_SUBREAPER: p.subreaper = arg2 !== 0; return 0;
    case PR_GET_CHILD_SUBREAPER: return p.as.putU32(arg2, p.subreaper ? 1 : 0) ? 0 : -EFAULT;
    case PR_SET_NO_NEW_PRIVS:
      if (arg2 !== 1 || arg3 !== 0 || arg4 !== 0 || arg5 !== 0) return -EINVAL;
      p.noNewPrivs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (arg2 !== 0 || arg3 !== 0 || arg4 !== 0 || arg5 !== 0) return -EINVAL;
      return p.noNewPrivs ? 1 : 0;
    case PR_SET_THP_DISABLE:
      if (arg3 !== 0 || arg4 !== 0 || arg5 !== 0) return -EINVAL;
      p.thpDisable = arg2 !== 0;
      return 0;
    case PR_GET_THP_DISABLE:
      if (arg2 !== 0 || arg3 !== 0 || arg4 !== 0 || arg5 !== 0) return -EINVAL;
      return p.thpDisable ? 1 : 0;
  }
  return -EINVAL;
}

export function sys_getrusage(_k: Kernel, t: Thread, a: number[]): R {
  return t.proc.as.write(a[1], new Uint8Array(144)) ? 0 : -EFAULT;
}

export function sys_times(k: Kernel, t: Thread, a: number[]): R {
  if (a[0] !== 0 && !t.proc.as.write(a[0], new Uint8Array(32))) return -EFAULT;
  return Math.floor((k.host.clock.monotonic() - k.bootNs) / 1e7);
}

const GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;
/** getrandom hands out at most this much per call (it may return fewer bytes than asked). */
const GETRANDOM_MAX = 1 << 20;

export function sys_getrandom(k: Kernel, t: Thread, a: number[]): R {
  const flags = uint(a[2]);
  if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0) return -EINVAL;
  if ((flags & (GRND_RANDOM | GRND_INSECURE)) === (GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  // The count is clamped to MAX_RW_COUNT (import_ubuf); a buffer that is not all there → EFAULT
  // (as qemu-user checks the whole buffer), rather than random bytes over whatever follows it.
  const buf = ptr(a[0]), len = rwCount(a[1]);
  if (!accessOk(buf, len) || !t.proc.as.covers(buf, buf + len, PROT_WRITE)) return -EFAULT;
  const b = new Uint8Array(Math.min(len, GETRANDOM_MAX));
  k.host.random(b);
  return t.proc.as.write(buf, b) ? b.length : -EFAULT;
}

// ------------------------------------------------------------------------ futex
export function sys_futex(k: Kernel, t: Thread, a: number[]): R {
  const [uaddr, opFull, val, timeout, uaddr2, val3] = a;
  const op = opFull & 127;
  const p = t.proc;
  switch (op) {
    case 0: case 9: { // WAIT, WAIT_BITSET
      const cur = p.as.u32(uaddr);
      if (cur === null) return -EFAULT;
      if (cur !== (val >>> 0)) return -EAGAIN;
      const bitset = op === 9 ? val3 | 0 : -1;
      if (bitset === 0) return -EINVAL;
      let deadline = Infinity;
      if (timeout !== 0) {
        const ts = readTimespec(t, timeout);
        if (ts === null) return -EFAULT;
        if (op === 0) deadline = k.host.clock.monotonic() + ts;
        else if ((opFull & 256) !== 0) { const [s, n] = k.host.clock.realtime(); deadline = k.host.clock.monotonic() + ts - (s * 1e9 + n); }
        else deadline = ts + k.bootNs - 1e9; // absolute CLOCK_MONOTONIC as the guest sees it (time.ts)
      }
      const key = k.futexKey(p, uaddr);
      let set = k.futexes.get(key);
      if (set === undefined) { set = new Set(); k.futexes.set(key, set); }
      const w = { t, bitset, woken: false, key };
      set.add(w);
      // w.key follows FUTEX_REQUEUE, so a timeout or signal removes the waiter from where it is now.
      return new Wait(() => (w.woken ? 0 : null), deadline, () => -ETIMEDOUT, false, () => {
        const s = k.futexes.get(w.key);
        if (s !== undefined && s.delete(w) && s.size === 0) k.futexes.delete(w.key);
      });
    }
    case 1: case 10: return k.futexWake(p, uaddr, val, op === 10 ? val3 | 0 : -1);
    case 3: case 4: { // REQUEUE, CMP_REQUEUE
      if (op === 4) { const cur = p.as.u32(uaddr); if (cur === null) return -EFAULT; if (cur !== (val3 >>> 0)) return -EAGAIN; }
      const n = k.futexWake(p, uaddr, val, -1);
      const key = k.futexKey(p, uaddr), key2 = k.futexKey(p, uaddr2);
      const from = k.futexes.get(key);
      let moved = 0;
      if (from !== undefined) {
        let to = k.futexes.get(key2);
        if (to === undefined) { to = new Set(); k.futexes.set(key2, to); }
        for (const w of from) {
          if (moved >= timeout) break;
          from.delete(w); to.add(w); w.key = key2; moved++;
        }
        if (from.size === 0) k.futexes.delete(key);
      }
      return n + moved;
    }
    case 5: { // WAKE_OP
      const old = p.as.u32(uaddr2);
      if (old === null) return -EFAULT;
      const encoded = val3 >>> 0;
      const wop = (encoded >>> 28) & 7, cmp = (encoded >>> 24) & 15;
      let oparg = (encoded >>> 12) & 0xfff, cmparg = encoded & 0xfff;
      if ((encoded >>> 31) !== 0) oparg = 1 << oparg;
      if (oparg & 0x800) oparg |= ~0xfff;
      if (cmparg & 0x800) cmparg |= ~0xfff;
      const nv = wop === 0 ? oparg : wop === 1 ? old + oparg : wop === 2 ? old | oparg : wop === 3 ? old & ~oparg : old ^ oparg;
      p.as.putU32(uaddr2, nv >>> 0);
      let n = k.futexWake(p, uaddr, val, -1);
      const o = old | 0;
      const ok = cmp === 0 ? o === cmparg : cmp === 1 ? o !== cmparg : cmp === 2 ? o < cmparg : cmp === 3 ? o <= cmparg : cmp === 4 ? o > cmparg : o >= cmparg;
      if (ok) n += k.futexWake(p, uaddr2, timeout, -1);
      return n;
    }
  }
  return -ENOSYS;
}

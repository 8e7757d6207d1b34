// Time system calls: clocks, sleeps, interval timers (setitimer/getitimer; glibc's alarm is
// setitimer on riscv64, which has no alarm system call).
import type { Kernel } from "./kernel.js";
import { EFAULT, EINVAL } from "../abi/linux.js";
import { SIGALRM, SIGPROF, SIGVTALRM, Wait, type Process, type Thread } from "./task.js";

type R = number | Wait;

// include/uapi/linux/time.h
export const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
  CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7,
  CLOCK_REALTIME_ALARM = 8, CLOCK_BOOTTIME_ALARM = 9, CLOCK_TAI = 11;
export const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2;
/** SI_KERNEL: the si_code of SIGALRM from ITIMER_REAL (it_real_fn sends SEND_SIG_PRIV). */
const SI_KERNEL = 0x80;

/** Nanoseconds on a guest clock (the monotonic clocks start 1 s after the kernel's start). */
export function guestClockNs(k: Kernel, clockid: number): number {
  if (clockid === CLOCK_REALTIME || clockid === CLOCK_REALTIME_ALARM || clockid === CLOCK_REALTIME_COARSE || clockid === CLOCK_TAI) {
    const [s, ns] = k.host.clock.realtime();
    return s * 1e9 + ns;
  }
  return k.host.clock.monotonic() - k.bootNs + 1e9;
}

/** A timespec in guest memory as nanoseconds, or null on EFAULT. */
export function readTimespec(t: Thread, ptr: number): number | null {
  const b = t.proc.as.read(ptr, 16);
  if (b === null) return null;
  const dv = new DataView(b.buffer);
  return (dv.getUint32(0, true) + dv.getInt32(4, true) * 4294967296) * 1e9 + dv.getUint32(8, true);
}

export function writeTimespec(t: Thread, ptr: number, sec: number, nsec: number): boolean {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, sec >>> 0, true); dv.setInt32(4, Math.floor(sec / 4294967296), true); dv.setUint32(8, nsec, true);
  return t.proc.as.write(ptr, b);
}

function clockNs(k: Kernel, t: Thread, clk: number): [number, number] | null {
  switch (clk) {
    case 0: case 5: case 8: case 11: return k.host.clock.realtime();
    case 1: case 4: case 6: case 7: case 9: { const n = k.host.clock.monotonic() - k.bootNs + 1e9; return [Math.floor(n / 1e9), Math.floor(n % 1e9)]; }
    case 2: case 3: { const n = k.host.clock.monotonic() - t.proc.startNs; return [Math.floor(n / 1e9), Math.floor(n % 1e9)]; }
  }
  if (clk < 0) { const n = k.host.clock.monotonic() - t.proc.startNs; return [Math.floor(n / 1e9), Math.floor(n % 1e9)]; }
  return null;
}

export function sys_clock_gettime(k: Kernel, t: Thread, a: number[]): R {
  const v = clockNs(k, t, a[0] | 0);
  if (v === null) return -EINVAL;
  return writeTimespec(t, a[1], v[0], v[1]) ? 0 : -EFAULT;
}

export function sys_clock_getres(_k: Kernel, t: Thread, a: number[]): R {
  if (a[1] === 0) return 0;
  return writeTimespec(t, a[1], 0, 1) ? 0 : -EFAULT;
}

export function sys_gettimeofday(k: Kernel, t: Thread, a: number[]): R {
  if (a[0] !== 0) {
    const [s, ns] = k.host.clock.realtime();
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, s >>> 0, true); dv.setUint32(8, Math.floor(ns / 1000), true);
    if (!t.proc.as.write(a[0], b)) return -EFAULT;
  }
  if (a[1] !== 0 && !t.proc.as.write(a[1], new Uint8Array(8))) return -EFAULT;
  return 0;
}

function sleepUntil(k: Kernel, t: Thread, deadline: number, rem: number): R {
  if (deadline <= k.host.clock.monotonic()) return 0;
  return new Wait(() => null, deadline, () => 0, false, () => {
    if (rem !== 0) {
      const left = Math.max(0, deadline - k.host.clock.monotonic());
      writeTimespec(t, rem, Math.floor(left / 1e9), Math.floor(left % 1e9));
    }
  });
}

export function sys_nanosleep(k: Kernel, t: Thread, a: number[]): R {
  const ns = readTimespec(t, a[0]);
  if (ns === null) return -EFAULT;
  if (ns < 0) return -EINVAL;
  return sleepUntil(k, t, k.host.clock.monotonic() + ns, a[1]);
}

export function sys_clock_nanosleep(k: Kernel, t: Thread, a: number[]): R {
  const ns = readTimespec(t, a[2]);
  if (ns === null) return -EFAULT;
  if ((a[1] & 1) === 0) return sleepUntil(k, t, k.host.clock.monotonic() + ns, a[3]);
  const now = clockNs(k, t, a[0] | 0);
  if (now === null) return -EINVAL;
  return sleepUntil(k, t, k.host.clock.monotonic() + ns - (now[0] * 1e9 + now[1]), 0);
}

// ------------------------------------------------------------------------ interval timers
/**
 * One of a process's interval timers: ITIMER_REAL counts wall time and sends SIGALRM. The
 * process VM keeps no per-process CPU time, so ITIMER_VIRTUAL (SIGVTALRM) and ITIMER_PROF
 * (SIGPROF) count wall time too: an approximation that still fires at the asked rate while the
 * process runs (a profiler's sampling clock), and early when it sleeps.
 */
interface Itimer { next: number; interval: number; cancel: (() => void) | null }
const itimers = new WeakMap<Process, Itimer[]>();
const ITIMER_SIGNALS = [SIGALRM, SIGVTALRM, SIGPROF];

function timersOf(p: Process): Itimer[] {
  let v = itimers.get(p);
  if (v === undefined) { v = [0, 1, 2].map(() => ({ next: 0, interval: 0, cancel: null })); itimers.set(p, v); }
  return v;
}

function armItimer(k: Kernel, p: Process, which: number, it: Itimer): void {
  if (it.cancel !== null) { it.cancel(); it.cancel = null; }
  if (it.next === 0) return;
  const ms = Math.max(0, (it.next - k.host.clock.monotonic()) / 1e6);
  it.cancel = k.host.clock.setTimer(ms, () => {
    it.cancel = null;
    if (!p.alive) { it.next = 0; return; }
    // Expirations missed meanwhile are one signal (a pending signal does not queue twice).
    if (it.interval > 0) {
      const now = k.host.clock.monotonic();
      it.next += Math.max(1, Math.ceil((now - it.next) / it.interval)) * it.interval;
    } else it.next = 0;
    k.sendSignal(p, null, { signo: ITIMER_SIGNALS[which], code: SI_KERNEL });
    armItimer(k, p, which, it);
  });
}

/** Cancels a process's timers (at its exit). */
export function releaseItimers(p: Process): void {
  const v = itimers.get(p);
  if (v === undefined) return;
  for (const it of v) { it.next = 0; if (it.cancel !== null) { it.cancel(); it.cancel = null; } }
  itimers.delete(p);
}

// execve keeps the timers (POSIX: they belong to the process); a fork child starts with none.

function readTimeval(t: Thread, ptr: number, o: number): number | null {
  const b = t.proc.as.read(ptr + o, 16);
  if (b === null) return null;
  const dv = new DataView(b.buffer);
  const sec = dv.getUint32(0, true) + dv.getInt32(4, true) * 4294967296;
  const usec = dv.getUint32(8, true) + dv.getInt32(12, true) * 4294967296;
  // get_itimerval → timeval_valid: sec ≥ 0, 0 ≤ usec < USEC_PER_SEC.
  if (sec < 0 || usec < 0 || usec >= 1e6) return -1;
  return sec * 1e9 + usec * 1e3;
}

function itimerval(k: Kernel, it: Itimer): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  const put = (o: number, ns: number): void => {
    // Linux rounds the remaining time up to whole microseconds, and never reports 0 for an armed timer.
    const us = Math.ceil(ns / 1e3);
    dv.setUint32(o, Math.floor(us / 1e6) >>> 0, true); dv.setUint32(o + 8, us % 1e6, true);
  };
  put(0, it.interval);
  put(16, it.next === 0 ? 0 : Math.max(1000, it.next - k.host.clock.monotonic()));
  return b;
}

export function sys_getitimer(k: Kernel, t: Thread, a: number[]): R {
  const which = a[0] | 0;
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  return t.proc.as.write(a[1], itimerval(k, timersOf(t.proc)[which])) ? 0 : -EFAULT;
}

export function sys_setitimer(k: Kernel, t: Thread, a: number[]): R {
  const which = a[0] | 0;
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  const it = timersOf(t.proc)[which];
  let interval = 0, value = 0;
  // A null new value disarms (Linux has accepted it as "all zero" since 2.6, with a warning).
  if (a[1] !== 0) {
    const iv = readTimeval(t, a[1], 0), val = readTimeval(t, a[1], 16);
    if (iv === null || val === null) return -EFAULT;
    if (iv < 0 || val < 0) return -EINVAL;
    interval = iv; value = val;
  }
  if (a[2] !== 0 && !t.proc.as.write(a[2], itimerval(k, it))) return -EFAULT;
  it.interval = value === 0 ? 0 : interval;
  it.next = value === 0 ? 0 : k.host.clock.monotonic() + value;
  armItimer(k, t.proc, which, it);
  return 0;
}

// timerfd_create/settime/gettime (fs/timerfd.c): a timer read through a descriptor. The
// expirations are counted from the host's monotonic clock whenever the file is looked at (read,
// poll, gettime); a host timer only wakes the kernel at the next expiry, so that blocked readers
// and poll/epoll waiters see it.
import type { Kernel } from "./kernel.js";
import { EAGAIN, EBADF, EFAULT, EINVAL, EPERM, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLIN } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostClock, HostStat } from "./host.js";
import type { Thread, Wait } from "./task.js";
import { CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_REALTIME_ALARM, guestClockNs } from "./time.js";

type R = number | Wait;

// include/uapi/linux/timerfd.h
export const TFD_TIMER_ABSTIME = 1, TFD_TIMER_CANCEL_ON_SET = 2, TFD_CLOEXEC = O_CLOEXEC, TFD_NONBLOCK = O_NONBLOCK;
const NSEC = 1e9;

export class TimerFd extends OpenFile {
  /** Host monotonic ns of the next expiry; 0 when disarmed. */
  next = 0;
  /** Interval in ns (0: one-shot). */
  interval = 0;
  /** Expirations not read yet. */
  ticks = 0;
  private gen = 0;
  private cancelHost: (() => void) | null = null;
  constructor(readonly clock: HostClock, readonly clockid: number) { super(); this.path = "anon_inode:[timerfd]"; this.flags = O_RDWR; }

  /** Counts the expirations up to now. */
  update(): void {
    if (this.next === 0) return;
    const now = this.clock.monotonic();
    if (now < this.next) return;
    let n = 1;
    if (this.interval > 0) {
      n += Math.floor((now - this.next) / this.interval);
      this.next += n * this.interval;
    } else this.next = 0;
    this.ticks += n;
    this.gen++;
  }

  /** Arms (value > 0: first expiry at host monotonic `at`) or disarms (at = 0). */
  arm(at: number, interval: number): void {
    this.ticks = 0;
    this.next = at;
    this.interval = interval;
    this.gen++;
    this.schedule();
  }

  private schedule(): void {
    if (this.cancelHost !== null) { this.cancelHost(); this.cancelHost = null; }
    if (this.next === 0) return;
    const ms = Math.max(0, (this.next - this.clock.monotonic()) / 1e6);
    this.cancelHost = this.clock.setTimer(ms, () => {
      this.cancelHost = null;
      this.update();
      OpenFile.notify();
      if (this.next !== 0 && this.refs > 0) this.schedule();
    });
  }

  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -EINVAL;
    this.update();
    if (this.ticks === 0) return -EAGAIN;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, BigInt(this.ticks), true);
    this.ticks = 0;
    return 8;
  }
  override write(): number { return -EINVAL; }
  override poll(): number { this.update(); return this.ticks > 0 ? POLLIN : 0; }
  override wakeups(): number { this.update(); return this.gen; }
  override stat(): HostStat { return fakeStat(0o600); }
  override release(): void { this.next = 0; if (this.cancelHost !== null) { this.cancelHost(); this.cancelHost = null; } }
}

const CLOCKS = [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM];

export function sys_timerfd_create(k: Kernel, t: Thread, a: number[]): R {
  const clockid = a[0] | 0, flags = a[1] | 0;
  if ((flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) !== 0 || !CLOCKS.includes(clockid)) return -EINVAL;
  // The alarm clocks need CAP_WAKE_ALARM, which the guest user has not.
  if (clockid === CLOCK_REALTIME_ALARM || clockid === CLOCK_BOOTTIME_ALARM) return -EPERM;
  const f = new TimerFd(k.host.clock, clockid);
  f.flags = O_RDWR | (flags & TFD_NONBLOCK);
  const fd = t.proc.fds.alloc(f, (flags & TFD_CLOEXEC) !== 0);
  if (fd < 0) f.release();
  return fd;
}

function timerOf(t: Thread, fd: number): TimerFd | number {
  const f = t.proc.fds.get(fd | 0);
  if (f === undefined) return -EBADF;
  return f instanceof TimerFd ? f : -EINVAL;
}

/** Reads a struct itimerspec: [interval ns, value ns], or an errno. */
export function readItimerspec(t: Thread, ptr: number): [number, number] | number {
  const b = t.proc.as.read(ptr, 32);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const ts = (o: number): number | null => {
    const sec = dv.getUint32(o, true) + dv.getInt32(o + 4, true) * 4294967296;
    const nsec = dv.getUint32(o + 8, true) + dv.getInt32(o + 12, true) * 4294967296;
    // timespec64_valid: sec ≥ 0 and 0 ≤ nsec < NSEC_PER_SEC.
    if (sec < 0 || nsec < 0 || nsec >= NSEC) return null;
    return sec * NSEC + nsec;
  };
  const iv = ts(0), val = ts(16);
  if (iv === null || val === null) return -EINVAL;
  return [iv, val];
}

export function writeItimerspec(t: Thread, ptr: number, interval: number, value: number): boolean {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  const put = (o: number, ns: number): void => {
    const sec = Math.floor(ns / NSEC);
    dv.setUint32(o, sec >>> 0, true); dv.setUint32(o + 4, Math.floor(sec / 4294967296), true); dv.setUint32(o + 8, Math.floor(ns % NSEC), true);
  };
  put(0, interval); put(16, value);
  return t.proc.as.write(ptr, b);
}

function current(f: TimerFd): [number, number] {
  f.update();
  return [f.interval, f.next === 0 ? 0 : Math.max(1, f.next - f.clock.monotonic())];
}

export function sys_timerfd_settime(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[1] | 0;
  if ((flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) !== 0) return -EINVAL;
  const f = timerOf(t, a[0]);
  if (typeof f === "number") return f;
  const spec = readItimerspec(t, a[2]);
  if (typeof spec === "number") return spec;
  // TFD_TIMER_CANCEL_ON_SET only with an absolute CLOCK_REALTIME timer. The guest cannot set
  // the clock (clock_settime is EPERM), so the cancel never happens.
  if ((flags & TFD_TIMER_CANCEL_ON_SET) !== 0 && ((flags & TFD_TIMER_ABSTIME) === 0 || (f.clockid !== CLOCK_REALTIME))) return -EINVAL;
  if (a[3] !== 0) { const [iv, val] = current(f); if (!writeItimerspec(t, a[3], iv, val)) return -EFAULT; }
  const [interval, value] = spec;
  if (value === 0) { f.arm(0, 0); return 0; }
  const now = k.host.clock.monotonic();
  // An absolute expiry is on the timer's clock: turned into host monotonic time now (a later
  // change of the host's wall clock does not move it).
  const at = (flags & TFD_TIMER_ABSTIME) !== 0 ? now + (value - guestClockNs(k, f.clockid)) : now + value;
  f.arm(Math.max(at, 1), interval);
  return 0;
}

export function sys_timerfd_gettime(_k: Kernel, t: Thread, a: number[]): R {
  const f = timerOf(t, a[0]);
  if (typeof f === "number") return f;
  const [iv, val] = current(f);
  return writeItimerspec(t, a[1], iv, val) ? 0 : -EFAULT;
}

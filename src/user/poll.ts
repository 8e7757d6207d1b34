// Readiness: poll, ppoll, pselect6, epoll, built on OpenFile.poll().
import type { Kernel } from "./kernel.js";
import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, EPERM, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostStat } from "./host.js";
import { UNBLOCKABLE, Wait, type Thread } from "./task.js";
import { readTimespec } from "./time.js";

type R = number | Wait;

function deadlineOf(k: Kernel, t: Thread, tsPtr: number): number | null {
  if (tsPtr === 0) return Infinity;
  const ns = readTimespec(t, tsPtr);
  return ns === null ? null : k.host.clock.monotonic() + ns;
}

/** Runs `check` now; if nothing is ready and time remains, waits. */
function waitReady(k: Kernel, t: Thread, check: () => number | null, deadline: number, onTimeout: () => number, mask: bigint | null): R {
  const r = check();
  if (r !== null) return r;
  if (deadline <= k.host.clock.monotonic()) return onTimeout();
  if (mask !== null) { t.savedMask = t.sigmask; t.sigmask = mask & ~UNBLOCKABLE; }
  const restore = (): void => { if (mask !== null && t.savedMask !== null) { t.sigmask = t.savedMask; t.savedMask = null; } };
  return new Wait(() => { const x = check(); if (x !== null) restore(); return x; }, deadline, () => { restore(); return onTimeout(); }, false);
}

function doPoll(k: Kernel, t: Thread, fdsPtr: number, n: number, deadline: number, mask: bigint | null): R {
  if (n > 4096) return -EINVAL;
  const b = t.proc.as.read(fdsPtr, n * 8);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const check = (): number | null => {
    let count = 0;
    for (let i = 0; i < n; i++) {
      const fd = dv.getInt32(i * 8, true), ev = dv.getInt16(i * 8 + 4, true);
      let rev = 0;
      if (fd >= 0) {
        const f = t.proc.fds.get(fd);
        rev = f === undefined ? POLLNVAL : f.poll() & (ev | POLLERR | POLLHUP);
      }
      dv.setInt16(i * 8 + 6, rev, true);
      if (rev !== 0) count++;
    }
    if (count === 0) return null;
    return t.proc.as.write(fdsPtr, b) ? count : -EFAULT;
  };
  return waitReady(k, t, check, deadline, () => { for (let i = 0; i < n; i++) dv.setInt16(i * 8 + 6, 0, true); t.proc.as.write(fdsPtr, b); return 0; }, mask);
}

export function sys_ppoll(k: Kernel, t: Thread, a: number[]): R {
  const d = deadlineOf(k, t, a[2]);
  if (d === null) return -EFAULT;
  let mask: bigint | null = null;
  if (a[3] !== 0) { const m = t.proc.as.read(a[3], 8); if (m === null) return -EFAULT; mask = new DataView(m.buffer).getBigUint64(0, true); }
  return doPoll(k, t, a[0], a[1] >>> 0, d, mask);
}

export function sys_pselect6(k: Kernel, t: Thread, a: number[]): R {
  const n = a[0] | 0;
  if (n < 0 || n > 1024) return -EINVAL;
  const bytes = ((n + 63) >> 6) * 8;
  const sets = [a[1], a[2], a[3]].map((p) => (p === 0 ? null : t.proc.as.read(p, bytes)));
  if (sets.some((s, i) => s === null && [a[1], a[2], a[3]][i] !== 0)) return -EFAULT;
  const d = deadlineOf(k, t, a[4]);
  if (d === null) return -EFAULT;
  let mask: bigint | null = null;
  if (a[5] !== 0) {
    const sp = t.proc.as.u64(a[5]);
    if (sp === null) return -EFAULT;
    if (sp !== 0) { const m = t.proc.as.read(sp, 8); if (m === null) return -EFAULT; mask = new DataView(m.buffer).getBigUint64(0, true); }
  }
  for (let fd = 0; fd < n; fd++) {
    for (const s of sets) if (s !== null && (s[fd >> 3] & (1 << (fd & 7))) !== 0 && t.proc.fds.get(fd) === undefined) return -EBADF;
  }
  const out = sets.map((s) => (s === null ? null : new Uint8Array(s.length)));
  const check = (): number | null => {
    let count = 0;
    for (const o of out) o?.fill(0);
    for (let fd = 0; fd < n; fd++) {
      const want = sets.map((s) => s !== null && (s[fd >> 3] & (1 << (fd & 7))) !== 0);
      if (!want.some((w) => w)) continue;
      const f = t.proc.fds.get(fd);
      const ev = f === undefined ? POLLNVAL : f.poll();
      const got = [(ev & (POLLIN | POLLHUP | POLLERR)) !== 0, (ev & (POLLOUT | POLLERR)) !== 0, false];
      for (let i = 0; i < 3; i++) if (want[i] && got[i]) { (out[i] as Uint8Array)[fd >> 3] |= 1 << (fd & 7); count++; }
    }
    if (count === 0) return null;
    [a[1], a[2], a[3]].forEach((p, i) => { const o = out[i]; if (p !== 0 && o !== null) t.proc.as.write(p, o); });
    return count;
  };
  return waitReady(k, t, check, d, () => { [a[1], a[2], a[3]].forEach((p) => { if (p !== 0) t.proc.as.write(p, new Uint8Array(bytes)); }); return 0; }, mask);
}

// ------------------------------------------------------------------------ epoll
// include/uapi/linux/eventpoll.h
export const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
export const EPOLLEXCLUSIVE = 1 << 28, EPOLLWAKEUP = 1 << 29, EPOLLONESHOT = 1 << 30, EPOLLET = 2 ** 31;
export const EPOLL_CLOEXEC = 0o2000000;
/** EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event). */
const EP_MAX_EVENTS = Math.floor(0x7fffffff / 16);

interface Interest {
  fd: number; file: OpenFile; events: number; data: bigint; disabled: boolean;
  /** EPOLLET: the file's wakeup count and readiness when last reported. */
  seen: number; reported: number;
}

export class EpollFile extends OpenFile {
  readonly interest = new Map<number, Interest>();
  constructor() { super(); this.path = "anon_inode:[eventpoll]"; }
  /**
   * EPOLL_CTL_ADD / EPOLL_CTL_MOD: a fresh interest in fd. ep_insert and ep_modify check the
   * file's readiness at once, so an edge-triggered interest reports what is ready now.
   */
  arm(fd: number, file: OpenFile, events: number, data: bigint): void {
    this.interest.set(fd, { fd, file, events: events >>> 0, data, disabled: false, seen: file.wakeups() - 1, reported: 0 });
  }
  /**
   * Interests with events to report, at most max, and what each reports. Level-triggered ones
   * are reported while ready. Edge-triggered ones (EPOLLET) only after an edge: a wakeup of the
   * file since the last report (OpenFile.wakeups), or a readiness bit that was off then; a bit
   * that goes off is armed again.
   */
  ready(max: number): [Interest, number][] {
    const out: [Interest, number][] = [];
    for (const i of this.interest.values()) {
      if (out.length >= max) break;
      if (i.disabled || i.file.refs <= 0) continue;
      const ev = i.file.poll() & (i.events | POLLERR | POLLHUP);
      // A readiness bit that went off is armed again (a file ready to write stays so while its
      // readable edge comes and goes).
      i.reported &= ev;
      if (ev === 0) continue;
      if ((i.events & EPOLLET) !== 0 && i.file.wakeups() === i.seen && (ev & ~i.reported) === 0) continue;
      out.push([i, ev]);
    }
    return out;
  }
  /** Marks interests as reported (edges consumed, one-shots disarmed) and moves them last, so that every ready file gets its turn. */
  consume(r: [Interest, number][]): void {
    for (const [i, ev] of r) {
      if ((i.events & EPOLLET) !== 0) { i.seen = i.file.wakeups(); i.reported = ev; }
      if ((i.events & EPOLLONESHOT) !== 0) i.disabled = true;
      this.interest.delete(i.fd); this.interest.set(i.fd, i);
    }
  }
  override poll(): number { return this.ready(1).length > 0 ? POLLIN : 0; }
  override stat(): HostStat { return fakeStat(0o600); }
}

export function sys_epoll_create1(_k: Kernel, t: Thread, a: number[]): R {
  if ((a[0] & ~EPOLL_CLOEXEC) !== 0) return -EINVAL;
  return t.proc.fds.alloc(new EpollFile(), (a[0] & EPOLL_CLOEXEC) !== 0);
}

export function sys_epoll_ctl(_k: Kernel, t: Thread, a: number[]): R {
  const ep = t.proc.fds.get(a[0] | 0);
  const f = t.proc.fds.get(a[2] | 0);
  if (ep === undefined || f === undefined) return -EBADF;
  const op = a[1] | 0, fd = a[2] | 0;
  let events = 0, data = 0n;
  if (op !== EPOLL_CTL_DEL) {
    const b = t.proc.as.read(a[3], 16);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    events = dv.getUint32(0, true); data = dv.getBigUint64(8, true);
  }
  // fs/eventpoll.c do_epoll_ctl: "The target file descriptor must support poll" (regular files
  // and directories do not: EPERM); epfd must be an epoll file and not the target itself.
  if (f.seekable()) return -EPERM;
  if (!(ep instanceof EpollFile) || ep === f) return -EINVAL;
  // EPOLLEXCLUSIVE only with ADD, and not with EPOLLONESHOT.
  if ((events & EPOLLEXCLUSIVE) !== 0 && (op !== EPOLL_CTL_ADD || (events & EPOLLONESHOT) !== 0)) return -EINVAL;
  const has = ep.interest.get(fd);
  if (op === EPOLL_CTL_ADD) { if (has !== undefined) return -EEXIST; ep.arm(fd, f, events, data); }
  else if (op === EPOLL_CTL_DEL) { if (has === undefined) return -ENOENT; ep.interest.delete(fd); }
  else if (op === EPOLL_CTL_MOD) { if (has === undefined) return -ENOENT; if ((has.events & EPOLLEXCLUSIVE) !== 0) return -EINVAL; ep.arm(fd, f, events, data); }
  else return -EINVAL;
  OpenFile.notify();
  return 0;
}

function epollWait(k: Kernel, t: Thread, epfd: number, events: number, maxArg: number, deadline: number, sigmask: number): R {
  const ep = t.proc.fds.get(epfd | 0);
  if (ep === undefined) return -EBADF;
  if (!(ep instanceof EpollFile)) return -EINVAL;
  const max = maxArg | 0;
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  let mask: bigint | null = null;
  if (sigmask !== 0) { const m = t.proc.as.read(sigmask, 8); if (m === null) return -EFAULT; mask = new DataView(m.buffer).getBigUint64(0, true); }
  const check = (): number | null => {
    const r = ep.ready(max);
    if (r.length === 0) return null;
    const b = new Uint8Array(r.length * 16);
    const dv = new DataView(b.buffer);
    r.forEach(([i, ev], n) => { dv.setUint32(n * 16, ev, true); dv.setBigUint64(n * 16 + 8, i.data, true); });
    if (!t.proc.as.write(events, b)) return -EFAULT;
    ep.consume(r);
    return r.length;
  };
  return waitReady(k, t, check, deadline, () => 0, mask);
}

export function sys_epoll_pwait(k: Kernel, t: Thread, a: number[]): R {
  const timeout = a[3] | 0;
  return epollWait(k, t, a[0], a[1], a[2], timeout < 0 ? Infinity : k.host.clock.monotonic() + timeout * 1e6, a[4]);
}

/** epoll_pwait2: the timeout is a struct timespec (null: wait for ever). */
export function sys_epoll_pwait2(k: Kernel, t: Thread, a: number[]): R {
  const d = deadlineOf(k, t, a[3]);
  if (d === null) return -EFAULT;
  return epollWait(k, t, a[0], a[1], a[2], d, a[4]);
}

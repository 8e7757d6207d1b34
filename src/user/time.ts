// Time system calls: clocks, sleeps.
import type { Kernel } from "./kernel.js";
import { EFAULT, EINVAL } from "./errno.js";
import { Wait, type Thread } from "./task.js";

type R = number | Wait;

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

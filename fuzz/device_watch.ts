// Shared by the device fuzz targets: the virtio transport turns anything a device throws into
// DEVICE_NEEDS_RESET (so a guest can never crash the host), which would also hide device bugs
// from a fuzzer. watchDevice() wraps a device's entry points so such a throw is reported first.
import type { VirtioDevice } from "../src/system/devices/virtio_mmio.js";

export function watchDevice(dev: VirtioDevice, onThrow: (where: string, e: unknown) => void): void {
  const wrap = <A extends unknown[], R>(where: string, fn: (...a: A) => R): ((...a: A) => R) => (...a: A): R => {
    try { return fn(...a); } catch (e) { onThrow(where, e); throw e; }
  };
  const d = dev as unknown as Record<string, unknown>;
  for (const m of ["onNotify", "readConfig", "writeConfig", "reset", "activate"] as const) {
    const f = d[m];
    if (typeof f === "function") d[m] = wrap(`${dev.constructor.name}.${m}`, (f as (...a: unknown[]) => unknown).bind(dev));
  }
}

export function describe(e: unknown): string { return e instanceof Error ? (e.stack ?? e.message).split("\n").slice(0, 4).join(" | ") : String(e); }

/** Resolves with the promise's value, or rejects with "hang" after `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

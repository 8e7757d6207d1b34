// Scheduling and CPU-view calls: the CPU count the guest sees (the host's, through
// UserHost.cpus: runtimes size their thread pools by it), sched_getaffinity/setaffinity, getcpu,
// membarrier, and capget/capset. All harts run on one host thread, one after another, so every
// membarrier command is already satisfied when it returns.
import type { Kernel } from "./kernel.js";
import { EFAULT, EINVAL, EPERM, ESRCH } from "../abi/linux.js";
import type { AddressSpace } from "./memory.js";
import type { Thread, Wait } from "./task.js";

type R = number | Wait;

/** Linux's NR_CPUS bound for the generic riscv64 config (CONFIG_NR_CPUS=512 in Debian's). */
const NR_CPUS = 512;

/** Online CPUs the guest sees: the host's count (1 when the host does not say). */
export function onlineCpus(k: Kernel): number {
  const n = k.host.cpus ?? 1;
  return Number.isInteger(n) && n >= 1 ? Math.min(n, NR_CPUS) : 1;
}

/** "0-N" as /sys/devices/system/cpu/online prints a range. */
export function cpuList(n: number): string { return n === 1 ? "0\n" : `0-${n - 1}\n`; }

/** cpumask_size(): nr_cpu_ids bits rounded up to whole longs. */
export function cpumaskBytes(n: number): number { return Math.ceil(n / 64) * 8; }

function targetOk(k: Kernel, t: Thread, pid: number): boolean {
  return pid === 0 || pid === t.tid || k.threads.has(pid);
}

export function sys_sched_getaffinity(k: Kernel, t: Thread, a: number[]): R {
  const pid = a[0] | 0, len = a[1] >>> 0, n = onlineCpus(k);
  const size = cpumaskBytes(n);
  // kernel/sched/core.c: "(len * BITS_PER_BYTE) < nr_cpu_ids" and "len & (sizeof(unsigned long)-1)" → EINVAL.
  if (len * 8 < n || (len & 7) !== 0) return -EINVAL;
  if (!targetOk(k, t, pid)) return -ESRCH;
  const b = new Uint8Array(size);
  for (let i = 0; i < n; i++) b[i >> 3] |= 1 << (i & 7);
  return t.proc.as.write(a[2], b) ? size : -EFAULT;
}

export function sys_sched_setaffinity(k: Kernel, t: Thread, a: number[]): R {
  const pid = a[0] | 0, len = a[1] >>> 0, n = onlineCpus(k);
  if (!targetOk(k, t, pid)) return -ESRCH;
  const b = t.proc.as.read(a[2], Math.min(len, NR_CPUS / 8));
  if (b === null) return -EFAULT;
  // A mask without any online CPU is EINVAL; otherwise accepted (every hart runs on the one host thread).
  for (let i = 0; i < Math.min(n, b.length * 8); i++) if ((b[i >> 3] & (1 << (i & 7))) !== 0) return 0;
  return -EINVAL;
}

/** getcpu(cpu, node, cache): the harts run on the host thread, reported as CPU 0 of node 0. */
export function sys_getcpu(_k: Kernel, t: Thread, a: number[]): R {
  if (a[0] !== 0 && !t.proc.as.putU32(a[0], 0)) return -EFAULT;
  if (a[1] !== 0 && !t.proc.as.putU32(a[1], 0)) return -EFAULT;
  return 0;
}

// include/uapi/linux/membarrier.h
export const MEMBARRIER_CMD_QUERY = 0, MEMBARRIER_CMD_GLOBAL = 1 << 0, MEMBARRIER_CMD_GLOBAL_EXPEDITED = 1 << 1,
  MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2, MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8, MEMBARRIER_CMD_GET_REGISTRATIONS = 1 << 9;
/**
 * What MEMBARRIER_CMD_QUERY answers: the commands of Linux 6.1 on riscv64 (no SYNC_CORE there
 * before 6.9, no RSEQ ones since rseq is not implemented, no GET_REGISTRATIONS before 6.3).
 */
export const MEMBARRIER_SUPPORTED = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
  MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
/** Registrations, per address space (mm->membarrier_state). */
const registered = new WeakMap<AddressSpace, number>();

export function sys_membarrier(_k: Kernel, t: Thread, a: number[]): R {
  const cmd = a[0] | 0, flags = a[1] | 0;
  if (flags !== 0) return -EINVAL;
  if (cmd === MEMBARRIER_CMD_QUERY) return MEMBARRIER_SUPPORTED;
  if ((cmd & MEMBARRIER_SUPPORTED) === 0 || (cmd & (cmd - 1)) !== 0) return -EINVAL;
  const as = t.proc.as;
  const reg = registered.get(as) ?? 0;
  switch (cmd) {
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
      registered.set(as, reg | cmd);
      return 0;
    // "EPERM: The current process was not registered prior to using private expedited commands."
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
      return (reg & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) !== 0 ? 0 : -EPERM;
    default: return 0; // GLOBAL, GLOBAL_EXPEDITED: the barrier has happened
  }
}

// include/uapi/linux/capability.h
export const LINUX_CAPABILITY_VERSION_1 = 0x19980330, LINUX_CAPABILITY_VERSION_2 = 0x20071026, LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** The number of 32-bit words per set for a header version, or 0 for an unknown one. */
function capWords(version: number): number {
  return version === LINUX_CAPABILITY_VERSION_1 ? 1 : version === LINUX_CAPABILITY_VERSION_2 || version === LINUX_CAPABILITY_VERSION_3 ? 2 : 0;
}

/**
 * capget: the guest runs as an unprivileged user (uid 1000), so its effective, permitted and
 * inheritable sets are empty. An unknown version gets the preferred one written back and
 * EINVAL (EINVAL also when data is null: "probing" returns 0 then, as cap_validate_magic).
 */
export function sys_capget(k: Kernel, t: Thread, a: number[]): R {
  const hdr = t.proc.as.read(a[0], 8);
  if (hdr === null) return -EFAULT;
  const dv = new DataView(hdr.buffer);
  const version = dv.getUint32(0, true), pid = dv.getInt32(4, true);
  const words = capWords(version);
  if (words === 0) {
    if (!t.proc.as.putU32(a[0], LINUX_CAPABILITY_VERSION_3)) return -EFAULT;
    return a[1] === 0 ? 0 : -EINVAL;
  }
  if (pid < 0) return -EINVAL;
  if (pid !== 0 && !k.threads.has(pid) && !k.procs.has(pid)) return -ESRCH;
  if (a[1] === 0) return 0;
  return t.proc.as.write(a[1], new Uint8Array(12 * words)) ? 0 : -EFAULT;
}

/** capset: only the calling thread, and with an empty permitted set only empty sets are allowed. */
export function sys_capset(_k: Kernel, t: Thread, a: number[]): R {
  const hdr = t.proc.as.read(a[0], 8);
  if (hdr === null) return -EFAULT;
  const dv = new DataView(hdr.buffer);
  const words = capWords(dv.getUint32(0, true)), pid = dv.getInt32(4, true);
  if (words === 0) { if (!t.proc.as.putU32(a[0], LINUX_CAPABILITY_VERSION_3)) return -EFAULT; return -EINVAL; }
  if (pid !== 0 && pid !== t.tid) return -EPERM;
  const data = t.proc.as.read(a[1], 12 * words);
  if (data === null) return -EFAULT;
  return data.every((x) => x === 0) ? 0 : -EPERM;
}

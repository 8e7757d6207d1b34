// riscv_hwprobe(2) (syscall 258): what the hart implements, as Linux 6.12 answers it
// (arch/riscv/kernel/sys_hwprobe.c, uapi asm/hwprobe.h; Documentation/arch/riscv/hwprobe.rst).
// The answers come from the process VM's Isa, the same object that builds its decoder, so a
// program is told exactly what it may execute. Every online CPU (the host's count, as
// sched_getaffinity and /proc/cpuinfo report it: sched.ts onlineCpus) has the same values.
//
//   long riscv_hwprobe(struct riscv_hwprobe *pairs, size_t pair_count,
//                      size_t cpusetsize, cpu_set_t *cpus, unsigned int flags);
//   struct riscv_hwprobe { __s64 key; __u64 value; };
import type { ExtName, Isa } from "../cpu/isa.js";
import type { Kernel } from "./kernel.js";
import type { Thread } from "./task.js";
import { EFAULT, EINVAL } from "../abi/linux.js";
import { ptr, sizeT, uint } from "./args.js";
import { USER_TOP } from "./memory.js";
import { cpumaskBytes, onlineCpus } from "./sched.js";

export const RISCV_HWPROBE_KEY_MVENDORID = 0;
export const RISCV_HWPROBE_KEY_MARCHID = 1;
export const RISCV_HWPROBE_KEY_MIMPID = 2;
export const RISCV_HWPROBE_KEY_BASE_BEHAVIOR = 3;
export const RISCV_HWPROBE_BASE_BEHAVIOR_IMA = 1n << 0n;
export const RISCV_HWPROBE_KEY_IMA_EXT_0 = 4;
export const RISCV_HWPROBE_IMA_FD = 1n << 0n;
export const RISCV_HWPROBE_IMA_C = 1n << 1n;
export const RISCV_HWPROBE_IMA_V = 1n << 2n;
export const RISCV_HWPROBE_KEY_CPUPERF_0 = 5;
export const RISCV_HWPROBE_KEY_ZICBOZ_BLOCK_SIZE = 6;
export const RISCV_HWPROBE_KEY_HIGHEST_VIRT_ADDRESS = 7;
export const RISCV_HWPROBE_KEY_TIME_CSR_FREQ = 8;
export const RISCV_HWPROBE_KEY_MISALIGNED_SCALAR_PERF = 9;
/** The highest key Linux 6.12 knows (asm/hwprobe.h RISCV_HWPROBE_MAX_KEY). */
export const RISCV_HWPROBE_MAX_KEY = 9;
export const RISCV_HWPROBE_MISALIGNED_SCALAR_SLOW = 2n;
/** flags: "which CPUs have these values" instead of "what values have these CPUs". */
export const RISCV_HWPROBE_WHICH_CPUS = 1;

/**
 * RISCV_HWPROBE_KEY_IMA_EXT_0 bits of the extensions rvisor knows (uapi asm/hwprobe.h, 6.12).
 * Zcd, Zfa, Zfh and Zfhmin count only with the FPU, as sys_hwprobe.c reports them.
 */
export const IMA_EXT_0_BITS: Partial<Record<ExtName, number>> = {
  zba: 3, zbb: 4, zbs: 5, zicboz: 6, zbc: 7, zbkb: 8, zbkc: 9, zbkx: 10, zkt: 16,
  zfh: 27, zfhmin: 28, zihintntl: 29, zfa: 32, zicond: 35, zihintpause: 36,
  zimop: 42, zca: 43, zcb: 44, zcd: 45, zcmop: 47, zawrs: 48,
};
const FPU_ONLY: ReadonlySet<ExtName> = new Set<ExtName>(["zcd", "zfa", "zfh", "zfhmin"]);

/** The cbo.zero block size the device tree advertises (riscv,cboz-block-size). */
export const ZICBOZ_BLOCK_SIZE = 64n;
/** The `time` CSR's rate in the process VM (kernel.ts: monotonic ns / 100). */
export const TIME_CSR_FREQ = 10_000_000n;
/** cpumask_size() of Debian's 6.12 kernel (NR_CPUS=128): bytes of a cpu set the kernel reads or writes at most. */
export const CPUMASK_SIZE = 16;
/** Keys whose value is a set of bits (asm/hwprobe.h hwprobe_key_is_bitmask), for WHICH_CPUS matching. */
const BITMASK_KEYS: ReadonlySet<number> = new Set([RISCV_HWPROBE_KEY_BASE_BEHAVIOR, RISCV_HWPROBE_KEY_IMA_EXT_0, RISCV_HWPROBE_KEY_CPUPERF_0]);

/** The value of `key` on every CPU of this machine, or null for a key Linux 6.12 does not know. */
export function hwprobeValue(isa: Isa, key: bigint): bigint | null {
  if (key < 0n || key > BigInt(RISCV_HWPROBE_MAX_KEY)) return null;
  switch (Number(key)) {
    case RISCV_HWPROBE_KEY_MVENDORID: case RISCV_HWPROBE_KEY_MARCHID: case RISCV_HWPROBE_KEY_MIMPID:
      return 0n; // mvendorid/marchid/mimpid read 0 (not implemented / non-commercial)
    case RISCV_HWPROBE_KEY_BASE_BEHAVIOR: return RISCV_HWPROBE_BASE_BEHAVIOR_IMA;
    case RISCV_HWPROBE_KEY_IMA_EXT_0: return imaExt0(isa);
    // Misaligned loads and stores work in hardware but take the slow path (bytes assembled
    // one by one): what Linux's boot-time probe measures on rvisor ("unaligned accesses are slow").
    case RISCV_HWPROBE_KEY_CPUPERF_0: case RISCV_HWPROBE_KEY_MISALIGNED_SCALAR_PERF: return RISCV_HWPROBE_MISALIGNED_SCALAR_SLOW;
    case RISCV_HWPROBE_KEY_ZICBOZ_BLOCK_SIZE: return isa.has("zicboz") ? ZICBOZ_BLOCK_SIZE : 0n;
    // user_max_virt_addr() = TASK_SIZE_64 for Sv39, the top of the process VM's user half.
    case RISCV_HWPROBE_KEY_HIGHEST_VIRT_ADDRESS: return BigInt(USER_TOP);
    case RISCV_HWPROBE_KEY_TIME_CSR_FREQ: return TIME_CSR_FREQ;
  }
  return null;
}

/** RISCV_HWPROBE_KEY_IMA_EXT_0 for `isa`. */
export function imaExt0(isa: Isa): bigint {
  const fpu = isa.has("f") && isa.has("d"); // Linux's has_fpu(): it supports F only together with D
  let v = 0n;
  if (fpu) v |= RISCV_HWPROBE_IMA_FD;
  if (isa.has("c")) v |= RISCV_HWPROBE_IMA_C;
  for (const e of isa.extensions) {
    const bit = IMA_EXT_0_BITS[e];
    if (bit === undefined || (FPU_ONLY.has(e) && !fpu)) continue;
    v |= 1n << BigInt(bit);
  }
  return v;
}

const PAIR_BYTES = 16;
const U64 = (1n << 64n) - 1n;

/** Reads `len` bytes of user memory (null: EFAULT). */
function readUser(t: Thread, p: number, len: number): Uint8Array | null {
  return len === 0 ? new Uint8Array(0) : t.proc.as.read(ptr(p), len);
}

function writePair(t: Thread, at: number, key: bigint, value: bigint): boolean {
  const b = new Uint8Array(PAIR_BYTES), v = new DataView(b.buffer);
  v.setBigInt64(0, key, true);
  v.setBigUint64(8, value & U64, true);
  return t.proc.as.write(at, b);
}

export function sys_riscv_hwprobe(k: Kernel, t: Thread, a: number[]): number {
  const pairs = ptr(a[0]), pairCount = sizeT(a[1]), cpusetsize = sizeT(a[2]), cpus = a[3], flags = uint(a[4]);
  const isa = k.code.isa, online = onlineCpus(k);
  if ((flags & RISCV_HWPROBE_WHICH_CPUS) !== 0) return whichCpus(isa, online, t, pairs, pairCount, cpusetsize, cpus, flags);
  if (flags !== 0) return -EINVAL; // reserved flags
  // NULL and 0 are a shortcut for all online CPUs; otherwise the set must hold an online one.
  if (cpusetsize !== 0 || cpus !== 0) {
    const set = readUser(t, cpus, Math.min(cpusetsize, CPUMASK_SIZE));
    if (set === null) return -EFAULT;
    let any = false;
    for (let i = 0; i < Math.min(online, set.length * 8); i++) if ((set[i >> 3] & (1 << (i & 7))) !== 0) { any = true; break; }
    if (!any) return -EINVAL;
  }
  for (let i = 0; i < pairCount; i++) {
    const at = pairs + i * PAIR_BYTES;
    const kb = t.proc.as.read(at, 8);
    if (kb === null) return -EFAULT;
    const key = new DataView(kb.buffer, kb.byteOffset, 8).getBigInt64(0, true);
    const value = hwprobeValue(isa, key);
    // Unknown keys do not fail the call: their key becomes -1 and their value 0.
    if (!writePair(t, at, value === null ? -1n : key, value ?? 0n)) return -EFAULT;
  }
  return 0;
}

/**
 * RISCV_HWPROBE_WHICH_CPUS: the cpu set is both input and output — it keeps the CPUs whose
 * values match every pair (a bitmask key matches when the CPU has all the asked bits). An
 * unknown key is rewritten to -1 and empties the set. An empty set on input means all CPUs.
 */
function whichCpus(isa: Isa, online: number, t: Thread, pairs: number, pairCount: number, cpusetsize: number, cpus: number, flags: number): number {
  if (flags !== RISCV_HWPROBE_WHICH_CPUS) return -EINVAL;
  if (cpusetsize === 0 || cpus === 0) return -EINVAL;
  const size = Math.min(cpusetsize, CPUMASK_SIZE);
  const set = readUser(t, cpus, size);
  if (set === null) return -EFAULT;
  // cpumask_and with the online mask rewrites the words of nr_cpu_ids bits (offline CPUs'
  // bits cleared); the bytes after them are written back as they came.
  const maskBytes = Math.min(size, cpumaskBytes(online));
  const isOnline = (i: number): boolean => i < online;
  let any = false;
  for (let i = 0; i < maskBytes * 8; i++) {
    const bit = 1 << (i & 7);
    if (!isOnline(i)) set[i >> 3] &= ~bit;
    else if ((set[i >> 3] & bit) !== 0) any = true;
  }
  // Empty: all online CPUs.
  if (!any) for (let i = 0; i < Math.min(online, maskBytes * 8); i++) set[i >> 3] |= 1 << (i & 7);
  // Every CPU has the same values: the pairs keep the set or empty it.
  let match = true;
  let clearAll = false;
  for (let i = 0; i < pairCount; i++) {
    const at = pairs + i * PAIR_BYTES;
    const pb = t.proc.as.read(at, PAIR_BYTES);
    if (pb === null) return -EFAULT;
    const dv = new DataView(pb.buffer, pb.byteOffset, PAIR_BYTES);
    const key = dv.getBigInt64(0, true), want = dv.getBigUint64(8, true);
    const have = hwprobeValue(isa, key);
    if (have === null) {
      clearAll = true;
      if (!writePair(t, at, -1n, 0n)) return -EFAULT;
    }
    if (clearAll || have === null) continue;
    if (!(BITMASK_KEYS.has(Number(key)) ? (have & want) === want : have === want)) match = false;
  }
  if (clearAll) set.fill(0);
  else if (!match) set.fill(0, 0, maskBytes);
  return t.proc.as.write(cpus, set) ? 0 : -EFAULT;
}

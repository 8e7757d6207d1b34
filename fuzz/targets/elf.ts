// ELF mutation fuzzing of both loaders, in-process: execve's loader (src/user/loader.ts) and the
// board's image loader (src/system/loader.ts, and now and then a whole VirtMachine booting the
// image bare-metal or under the built-in SBI). Seeds are small ELF files built in memory
// (test/lib/tiny_elf.ts: static, static-PIE, with .bss, bare-metal) plus, when the cross gcc is
// installed, a real static riscv64 glibc program (test/user/build.ts). Each input is a seed with
// 1-4 mutations: bit flips, boundary values written into e_entry/e_phoff/e_phnum/e_phentsize
// and p_type/p_offset/p_vaddr/p_paddr/p_filesz/p_memsz/p_align, byte runs, truncation and
// extension. A loaded image then runs a bounded number of instructions.
//
// A finding is an exception that is not the loader's own clean error (ExecError, LoadError), or
// an input that takes longer than HANG_MS (a loader or run that spins).
import { existsSync, readFileSync } from "node:fs";
import { Rng, type FuzzTarget, type FuzzFinding } from "../lib.js";
import { Bus } from "../../src/memory/bus.js";
import { Ram } from "../../src/memory/ram.js";
import { ET_DYN, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR, PT_TLS } from "../../src/memory/elf.js";
import { CodeCache } from "../../src/cpu/code_cache.js";
import { Cause } from "../../src/cpu/csr_numbers.js";
import { Hart, pairToNumber } from "../../src/cpu/hart.js";
import { ENOENT, S_IFDIR, S_IFREG } from "../../src/abi/linux.js";
import { fakeStat } from "../../src/user/file.js";
import type { HostFs } from "../../src/user/host.js";
import { ExecError, loadProgram } from "../../src/user/loader.js";
import { FrameAllocator } from "../../src/user/memory.js";
import { Vfs } from "../../src/user/vfs.js";
import { checkImage, loadElfPhysical, LoadError } from "../../src/system/loader.js";
import { VirtMachine } from "../../src/system/machine.js";
import { nullCharBackend } from "../../src/system/devices/char_backend.js";
import {
  E_ENTRY, E_PHENTSIZE, E_PHNUM, E_PHOFF, P_ALIGN, P_FILESZ, P_MEMSZ, P_OFFSET, P_PADDR, P_TYPE, P_VADDR,
  USER_EXIT_42, WFI_LOOP, phdrAt, poke64, tinyElf,
} from "../../test/lib/tiny_elf.js";
import { GCC, buildProgram } from "../../test/user/build.js";
import { which } from "../../test/lib/toolchain.js";

const INPUTS_PER_BATCH = 64;
/** Instructions an image loaded by execve runs (page faults are served, anything else ends it). */
const USER_INSNS = 2_000;
/** Instructions a whole machine runs, for one input in MACHINE_EVERY. */
const MACHINE_INSNS = 20_000, MACHINE_EVERY = 32;
/** One input (both loaders and the runs) taking longer than this is a hang. */
const HANG_MS = 2_000;
const DRAM = 0x8000_0000;

/** `1: addi ra, ra, 1; addi ra, ra, 1; j 1b` */
const LOOP3 = [0x00108093, 0x00108093, 0xff9ff06f];

function seeds(): { name: string; bytes: Uint8Array }[] {
  const s = [
    { name: "static", bytes: tinyElf({ base: 0x10000, code: USER_EXIT_42 }) },
    { name: "static+bss", bytes: tinyElf({ base: 0x10000, code: USER_EXIT_42, bss: 0x5000 }) },
    { name: "static-pie", bytes: tinyElf({ base: 0, code: USER_EXIT_42, type: ET_DYN, bss: 0x100 }) },
    { name: "bare-metal", bytes: tinyElf({ base: DRAM, code: WFI_LOOP, bss: 0x2000 }) },
    { name: "bare-metal-loop", bytes: tinyElf({ base: DRAM + 0x20_0000, code: LOOP3 }) },
  ];
  // A real static glibc program when the cross compiler is here (compiled once, then cached).
  if (which(GCC) !== null) {
    try {
      const p = buildProgram("memory", "static");
      if (existsSync(p)) s.push({ name: "memory-static (gcc)", bytes: readFileSync(p) });
    } catch { /* no real ELF: the built ones suffice */ }
  }
  return s;
}

let SEEDS: { name: string; bytes: Uint8Array }[] | null = null;

// ---- mutations ----

const FIELDS64 = [P_OFFSET, P_VADDR, P_PADDR, P_FILESZ, P_MEMSZ, P_ALIGN] as const;
const FIELD_NAMES: Record<number, string> = {
  [P_OFFSET]: "p_offset", [P_VADDR]: "p_vaddr", [P_PADDR]: "p_paddr", [P_FILESZ]: "p_filesz", [P_MEMSZ]: "p_memsz", [P_ALIGN]: "p_align",
};
const TYPES = [PT_LOAD, PT_LOAD, PT_INTERP, PT_PHDR, PT_DYNAMIC, PT_TLS, PT_GNU_STACK, 0];
const U16S = [0, 1, 2, 3, 55, 56, 57, 73, 74, 0x7fff, 0xffff];

function u16(b: Uint8Array, off: number): number { return off + 2 <= b.length ? b[off] | (b[off + 1] << 8) : 0; }
function read64(b: Uint8Array, off: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(off, true) + v.getUint32(off + 4, true) * 4294967296;
}

/** A 64-bit value: a boundary (Rng.u64) or a near neighbour of the current one. */
function value64(rng: Rng, cur: number): number {
  if (rng.chance(0.3)) return cur + rng.pick([-4096, -1, 1, 4096, 0x10_0000, -0x10_0000, 2 ** 32, 2 ** 40]);
  const [lo, hi] = rng.u64();
  return (hi | 0) * 4294967296 + lo; // signed: negative values are what slip past naive checks
}

function mutate(rng: Rng, src: Uint8Array, log: string[]): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = rng.chance(0.5) ? 1 : 2 + rng.below(3);
  for (let k = 0; k < n; k++) {
    const phnum = Math.max(1, Math.min(u16(b, E_PHNUM), 8));
    const ph = rng.below(phnum);
    switch (rng.below(9)) {
      case 0: { // bit flip, mostly in the headers
        if (b.length === 0) break;
        const hdr = Math.min(b.length, phdrAt(phnum));
        const at = rng.chance(0.8) ? rng.below(hdr) : rng.below(b.length);
        b[at] ^= 1 << rng.below(8);
        log.push(`flip@${at}`);
        break;
      }
      case 1: case 2: { // a program header's 64-bit field
        const f = rng.pick(FIELDS64), at = phdrAt(ph) + f;
        if (at + 8 > b.length) break;
        const v = value64(rng, read64(b, at));
        poke64(b, at, v);
        log.push(`ph${ph}.${FIELD_NAMES[f]}=${v}`);
        break;
      }
      case 3: { // e_entry / e_phoff
        const at = rng.chance(0.5) ? E_ENTRY : E_PHOFF;
        if (at + 8 > b.length) break;
        const v = value64(rng, read64(b, at));
        poke64(b, at, v);
        log.push(`${at === E_ENTRY ? "e_entry" : "e_phoff"}=${v}`);
        break;
      }
      case 4: { // e_phnum / e_phentsize
        const at = rng.chance(0.6) ? E_PHNUM : E_PHENTSIZE;
        if (at + 2 > b.length) break;
        const v = rng.chance(0.8) ? rng.pick(U16S) : rng.below(0x10000);
        b[at] = v & 0xff; b[at + 1] = v >> 8;
        log.push(`${at === E_PHNUM ? "e_phnum" : "e_phentsize"}=${v}`);
        break;
      }
      case 5: { // p_type
        const at = phdrAt(ph) + P_TYPE;
        if (at + 4 > b.length) break;
        const t = rng.chance(0.9) ? rng.pick(TYPES) : rng.u32();
        new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, t >>> 0, true);
        log.push(`ph${ph}.p_type=${t >>> 0}`);
        break;
      }
      case 6: { // truncation, mostly inside the headers
        const len = rng.chance(0.6) ? rng.below(Math.min(b.length, phdrAt(phnum)) + 1) : rng.below(b.length + 1);
        b = b.slice(0, len);
        log.push(`truncate=${len}`);
        break;
      }
      case 7: { // extension with zeros or noise
        const extra = rng.chance(0.5) ? new Uint8Array(1 + rng.below(8192)) : rng.bytes(1 + rng.below(512));
        const c = new Uint8Array(b.length + extra.length); c.set(b); c.set(extra, b.length);
        b = c;
        log.push(`extend+${extra.length}`);
        break;
      }
      default: { // a run of random bytes somewhere
        if (b.length === 0) break;
        const at = rng.below(b.length), len = Math.min(b.length - at, 1 + rng.below(16));
        b.set(rng.bytes(len), at);
        log.push(`bytes@${at}+${len}`);
      }
    }
  }
  return b;
}

// ---- the process VM side ----

/** A host file system where every path is a directory (lstat) and a regular file holding `file` (stat/open). */
function fileEverywhere(file: () => Uint8Array): HostFs {
  const impl: Partial<HostFs> = {
    lstat: () => fakeStat(S_IFDIR | 0o755),
    stat: () => fakeStat(S_IFREG | 0o755, file().length),
    open: () => 3,
    close: () => {},
    read: (_h, buf, pos) => { const f = file(), at = pos ?? 0; const n = Math.max(0, Math.min(buf.length, f.length - at)); buf.set(f.subarray(at, at + n)); return n; },
  };
  return new Proxy(impl as HostFs, { get: (t, k) => (k in t ? t[k as keyof HostFs] : () => -ENOENT) });
}

const userRam = new Ram(DRAM, 64 << 20);
const userBus = new Bus(userRam);
const userCode = new CodeCache(userRam);
const frames = new FrameAllocator(userRam);
let current: Uint8Array = new Uint8Array(0);
const vfs = new Vfs(fileEverywhere(() => current), "/", true);

/** execve's loader on `bytes`; a loaded image runs USER_INSNS instructions in U-mode. */
function userLoad(bytes: Uint8Array): string {
  current = bytes;
  let img;
  try {
    img = loadProgram({ vfs, frames, cwd: "/", path: "/prog", argv: ["prog"], env: ["A=1"], uid: 0, gid: 0, random: (r) => r.fill(1), hostBytes: bytes });
  } catch (e) {
    if (e instanceof ExecError) return `ExecError(${e.errno})`;
    throw e;
  }
  const as = img.as;
  const h = new Hart(0, userBus, userCode);
  try {
    h.setPriv(0);
    h.fs = 1;
    as.attach(h);
    h.pc = img.entry;
    h.setX(2, img.sp);
    let faults = 0;
    h.trapHook = (hart, cause, pc) => {
      if (cause === Cause.InsnPageFault || cause === Cause.LoadPageFault || cause === Cause.StorePageFault) {
        const va = pairToNumber(hart.excTvalLo, hart.excTvalHi);
        if (++faults < 256 && as.fault(va, cause === Cause.StorePageFault ? 1 : cause === Cause.InsnPageFault ? 2 : 0) >= 0) { hart.pc = pc; return true; }
      }
      hart.stopped = true; // exit, a signal: the run is over
      return true;
    };
    let ran = 0;
    while (ran < USER_INSNS && !h.stopped && !h.wfi) ran += h.run(USER_INSNS - ran);
    return `ran ${ran}`;
  } finally {
    as.detach(h);
    userCode.removeHart(h); // else every hart ever made is visited when a page becomes code
    as.destroy();
  }
}

// ---- the board side ----

const boardRam = new Ram(DRAM, 4 << 20);

function boardLoad(bytes: Uint8Array, rng: Rng): string {
  let r: string;
  try {
    checkImage(bytes, "kernel");
    r = `entry ${loadElfPhysical(boardRam, bytes)}`;
  } catch (e) {
    if (e instanceof LoadError) r = "LoadError";
    else throw e;
  }
  if (rng.below(MACHINE_EVERY) !== 0) return r;
  const builtin = rng.chance(0.5);
  let m: VirtMachine;
  try {
    m = new VirtMachine({ memBytes: 4 << 20, harts: 1, firmware: builtin ? { kind: "builtin" } : { kind: "none" }, kernel: bytes, console: nullCharBackend, clock: () => 0, wallClock: () => 0, randomBytes: (d) => d.fill(3) });
  } catch (e) {
    if (e instanceof LoadError) return `${r}; machine: LoadError`;
    throw e;
  }
  while (m.exit === null && m.executed < MACHINE_INSNS && m.step(MACHINE_INSNS - m.executed) > 0) { /* run */ }
  return `${r}; machine ${builtin ? "sbi" : "bare"}: ${m.exit?.kind ?? "running"} after ${m.executed}`;
}

export const target: FuzzTarget = {
  name: "elf",
  description: "mutated ELF files into execve's loader and the board's loader, then a bounded run; finding = non-loader exception or a hang",
  batch(rng: Rng, report: (f: FuzzFinding) => void): number {
    SEEDS ??= seeds();
    for (let i = 0; i < INPUTS_PER_BATCH; i++) {
      const seed = rng.pick(SEEDS);
      const log: string[] = [];
      const bytes = mutate(rng, seed.bytes, log);
      const input = `seed ${rng.seed} #${i}: ${seed.name} ${log.join(" ")}`;
      const t0 = Date.now();
      let outcome = "";
      try {
        outcome = `user: ${userLoad(bytes)}; board: ${boardLoad(bytes, rng)}`;
      } catch (e) {
        report({ target: "elf", input, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      }
      const ms = Date.now() - t0;
      if (ms > HANG_MS) report({ target: "elf", input, error: `hang: ${ms} ms (${outcome})` });
    }
    return INPUTS_PER_BATCH;
  },
};

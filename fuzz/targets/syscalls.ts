// Fuzz target: the process VM's system calls. Each input is a tiny generated riscv64 program run
// as its own guest process in an in-process Kernel: it loads a0..a5 and a7 from a table, issues
// `ecall`, and moves to the next entry (1–4 calls), then exit_group(0). Numbers cover 0–450
// (a rotating first call plus random ones); arguments mix Rng.u64() boundary values, pointers
// into a scratch area, the stack and the code, small integers and file descriptors.
//
// The kernel is confined: its root is a fresh temporary directory, read-only (and the host file
// system below refuses every change and every path outside that directory, reporting such a path
// as a finding); the terminal is a fake; the network refuses everything without touching the
// host; randomness is seeded; time is the host's monotonic clock plus a warp, so sleeps and
// timeouts end at once. Nothing is excluded: calls that block forever (pause, futex waits, ppoll
// without a timeout, accept, a read of an empty pipe) are ended when every thread is blocked
// with nothing pending (a deadlock), and every input has a wall-clock budget (a guest program
// that loops, e.g. after rt_sigreturn with garbage, is killed at INPUT_BUDGET_MS).
//
// Findings: an exception escaping the Kernel (start or run), an exception a handler threw (the
// kernel kills the process and counts it in internalErrors), a kernel that does not finish within
// HANG_MS after its processes were killed, a host path outside the root. A synchronous infinite
// loop inside the kernel cannot be caught in-process: the fuzz run itself would hang.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzFinding, FuzzTarget, Rng } from "../lib.js";
import { Kernel } from "../../src/user/kernel.js";
import { ExecError } from "../../src/user/loader.js";
import { EACCES, ECONNREFUSED, EROFS } from "../../src/abi/linux.js";
import type {
  HostClock, HostDgram, HostDirent, HostFs, HostNet, HostStat, HostStream, HostTerminal, SockAddr, UserHost,
} from "../../src/user/host.js";
import { SIGKILL } from "../../src/user/task.js";
import { NodeFs } from "../../src/host/node/user_host.js";

const NR_MAX = 450;
const INPUTS_PER_KERNEL = 25;
const INPUT_BUDGET_MS = 100;
const HANG_MS = 2000;
const GUEST_MEM = 32 << 20;

// ------------------------------------------------------------------ the guest program
const CODE_VA = 0x10000, SCRATCH_VA = 0x100000, SCRATCH_BYTES = 64 << 10;
const STACK_NEAR = 0x3f_ffff_e000;
const ENTRY_BYTES = 56;

const R_S0 = 8, R_S1 = 9, R_A0 = 10, R_A7 = 17;
const iType = (op: number, f3: number, rd: number, rs1: number, imm: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => iType(0x13, 0, rd, rs1, imm);
const ld = (rd: number, rs1: number, imm: number): number => iType(0x03, 3, rd, rs1, imm);
const auipc = (rd: number, imm20: number): number => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0;
const ECALL = 0x73;
function beq(rs1: number, rs2: number, off: number): number {
  const b = (i: number): number => (off >> i) & 1;
  return ((b(12) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (((off >> 1) & 0xf) << 8) | (b(11) << 7) | 0x63) >>> 0;
}
function jal(rd: number, off: number): number {
  const b = (i: number): number => (off >> i) & 1;
  return ((b(20) << 31) | (((off >> 1) & 0x3ff) << 21) | (b(11) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
}

/** The loop: s0 = table, s1 = count; per entry a0..a5, a7 ← table; ecall; then exit_group(0). */
function code(tableRel: number): number[] {
  const c = [auipc(R_S0, 0), addi(R_S0, R_S0, tableRel), ld(R_S1, R_S0, 0), addi(R_S0, R_S0, 8)];
  const loop = c.length * 4;
  c.push(0); // beq s1, zero, done (patched below)
  for (let r = 0; r < 6; r++) c.push(ld(R_A0 + r, R_S0, r * 8));
  c.push(ld(R_A7, R_S0, 48), ECALL, addi(R_S0, R_S0, ENTRY_BYTES), addi(R_S1, R_S1, -1));
  c.push(jal(0, loop - c.length * 4));
  const done = c.length * 4;
  c[loop / 4] = beq(R_S1, 0, done - loop);
  c.push(addi(R_A7, 0, 94), addi(R_A0, 0, 0), ECALL);
  return c;
}

const HEADER = 64 + 2 * 56;
const CODE_WORDS = code(0).length;
const TABLE_OFF = HEADER + CODE_WORDS * 4;

/** Paths the arguments may point at (stored after the table, NUL-terminated). */
const PATHS = ["/a.txt", "/d", "/d/b", "/l", "/abs", "/up", "/proc/self/maps", "/proc/self/fd", "/dev/null", "/dev/zero", "/dev/tty", "", "..", "/nonexistent/x"];
const PATH_BYTES = PATHS.reduce((n, p) => n + p.length + 1, 0);
/** Where PATHS[i] lies in a program with `calls` table entries. */
function pathVa(calls: number, i: number): number {
  let o = TABLE_OFF + 8 + calls * ENTRY_BYTES;
  for (let j = 0; j < i; j++) o += PATHS[j].length + 1;
  return CODE_VA + o;
}

/** A static ELF64 RISC-V executable: one R+X segment (header, code, table, paths), one RW .bss (scratch). */
function elf(calls: [number, number][][]): Uint8Array {
  const size = TABLE_OFF + 8 + calls.length * ENTRY_BYTES + PATH_BYTES;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true); dv.setUint16(18, 243, true); dv.setUint32(20, 1, true); // ET_EXEC, EM_RISCV
  dv.setBigUint64(24, BigInt(CODE_VA + HEADER), true); dv.setBigUint64(32, 64n, true);
  dv.setUint32(48, 4, true); dv.setUint16(52, 64, true); dv.setUint16(54, 56, true); dv.setUint16(56, 2, true);
  const phdr = (o: number, flags: number, off: number, va: number, filesz: number, memsz: number): void => {
    dv.setUint32(o, 1, true); dv.setUint32(o + 4, flags, true); dv.setBigUint64(o + 8, BigInt(off), true);
    dv.setBigUint64(o + 16, BigInt(va), true); dv.setBigUint64(o + 24, BigInt(va), true);
    dv.setBigUint64(o + 32, BigInt(filesz), true); dv.setBigUint64(o + 40, BigInt(memsz), true); dv.setBigUint64(o + 48, 0x1000n, true);
  };
  phdr(64, 5, 0, CODE_VA, size, size);
  phdr(120, 6, 0, SCRATCH_VA, 0, SCRATCH_BYTES);
  code(TABLE_OFF - HEADER).forEach((w, i) => dv.setUint32(HEADER + i * 4, w, true));
  dv.setUint32(TABLE_OFF, calls.length, true);
  PATHS.forEach((p, i) => b.set(new TextEncoder().encode(p), pathVa(calls.length, i) - CODE_VA));
  calls.forEach((regs, i) => regs.forEach(([lo, hi], r) => {
    dv.setUint32(TABLE_OFF + 8 + i * ENTRY_BYTES + r * 8, lo >>> 0, true);
    dv.setUint32(TABLE_OFF + 8 + i * ENTRY_BYTES + r * 8 + 4, hi >>> 0, true);
  }));
  return b;
}

const FDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0xffffff9c /* AT_FDCWD */, 0xffffffff];
/** Placeholder for "a pointer to PATHS[i]", resolved once the table size is known. */
const PATH_TAG = 0x7eadbeef;
function arg(rng: Rng): [number, number] {
  const k = rng.below(22);
  if (k >= 20) return [rng.below(PATHS.length), PATH_TAG];
  if (k < 8) return rng.u64();
  if (k < 12) return [(SCRATCH_VA + rng.below(SCRATCH_BYTES)) & ~(rng.chance(0.7) ? 7 : 0), 0];
  if (k < 14) { const fd = rng.pick(FDS); return [fd, fd > 0x7fffffff ? 0xffffffff : 0]; }
  if (k < 16) return [rng.below(64), 0];
  if (k < 18) return [STACK_NEAR - rng.below(8192), 0];
  return [CODE_VA + rng.below(8192), 0];
}

type Call = [number, number][];
const sys = (nr: number, ...args: number[]): Call => [...[0, 1, 2, 3, 4, 5].map((i): [number, number] => [args[i] ?? 0, 0]), [nr, 0]];
/** Calls that make file descriptors 3… real before the fuzzed ones. */
const PRELUDE: Call[] = [
  sys(56, 0xffffff9c, PATH_TAG, 0), // openat(AT_FDCWD, PATHS[0], O_RDONLY)
  sys(56, 0xffffff9c, PATH_TAG + 1, 0o200000), // openat(AT_FDCWD, "/d", O_DIRECTORY)
  sys(59, SCRATCH_VA + 0x100, 0), // pipe2
  sys(19, 1, 0), // eventfd2
  sys(199, 1, 1, 0, SCRATCH_VA + 0x110), // socketpair(AF_UNIX, SOCK_STREAM)
  sys(198, 2, 2, 0), // socket(AF_INET, SOCK_DGRAM)
  sys(20, 0), // epoll_create1
  sys(279, PATH_TAG, 0), // memfd_create
];

/** One input: 1–4 calls, the first of number `first`, after a random prelude (fds, random scratch). */
function input(rng: Rng, first: number): [number, number][][] {
  const calls: [number, number][][] = [];
  if (rng.chance(0.5)) calls.push([[SCRATCH_VA, 0], [SCRATCH_BYTES, 0], [0, 0], [0, 0], [0, 0], [0, 0], [278, 0]]);
  for (let i = rng.below(4); i > 0; i--) calls.push(rng.pick(PRELUDE).map(([lo, hi]): [number, number] => [lo, hi]));
  const n = 1 + rng.below(4);
  for (let i = 0; i < n; i++) {
    const nr = i === 0 ? first : rng.below(NR_MAX + 1);
    calls.push([arg(rng), arg(rng), arg(rng), arg(rng), arg(rng), arg(rng), [nr, 0]]);
  }
  // Resolve path pointers now that the table's length is known.
  for (const c of calls) {
    for (let r = 0; r < 6; r++) {
      const [lo, hi] = c[r];
      if (hi === PATH_TAG) c[r] = [pathVa(calls.length, lo), 0];
      else if (hi === 0 && lo >= PATH_TAG && lo < PATH_TAG + PATHS.length) c[r] = [pathVa(calls.length, lo - PATH_TAG), 0];
    }
  }
  return calls;
}

function describe(calls: [number, number][][]): string {
  const h = ([lo, hi]: [number, number]): string => (hi === 0 ? `0x${(lo >>> 0).toString(16)}` : `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, "0")}`);
  return calls.map((c) => `${c[6][0]}(${c.slice(0, 6).map(h).join(",")})`).join("; ");
}

// ------------------------------------------------------------------ the confined host
let root: string | null = null;
function fuzzRoot(): string {
  if (root !== null) return root;
  const r = mkdtempSync(join(tmpdir(), "rvisor-fuzz-root-"));
  mkdirSync(join(r, "d"));
  mkdirSync(join(r, "etc"));
  writeFileSync(join(r, "a.txt"), "hello fuzz\n");
  writeFileSync(join(r, "d", "b"), new Uint8Array(10000).fill(7));
  writeFileSync(join(r, "etc", "passwd"), "root:x:0:0::/:/bin/sh\n");
  symlinkSync("a.txt", join(r, "l"));
  symlinkSync("/etc/passwd", join(r, "abs"));
  symlinkSync("../../../../../../etc/hostname", join(r, "up"));
  process.once("exit", () => rmSync(r, { recursive: true, force: true }));
  root = r;
  return r;
}

/** NodeFs limited to reading under `root`: any change is EROFS, any other path EACCES and a finding. */
class ConfinedFs implements HostFs {
  private readonly fs = new NodeFs();
  constructor(private readonly root: string, private readonly escape: (path: string) => void) {}
  private ok(p: string): boolean {
    if (p === this.root || p.startsWith(this.root + "/")) return true;
    this.escape(p);
    return false;
  }
  lstat(p: string): HostStat | number { return this.ok(p) ? this.fs.lstat(p) : -EACCES; }
  stat(p: string): HostStat | number { return this.ok(p) ? this.fs.stat(p) : -EACCES; }
  readlink(p: string): string | number { return this.ok(p) ? this.fs.readlink(p) : -EACCES; }
  open(p: string, flags: number, mode: number): number {
    if (!this.ok(p)) return -EACCES;
    if ((flags & 3) !== 0 || (flags & 0o1100) !== 0) return -EROFS; // write access, O_CREAT, O_TRUNC
    return this.fs.open(p, flags, mode);
  }
  close(h: number): void { this.fs.close(h); }
  read(h: number, buf: Uint8Array, pos: number | null): number { return this.fs.read(h, buf, pos); }
  write(): number { return -EROFS; }
  fstat(h: number): HostStat | number { return this.fs.fstat(h); }
  ftruncate(): number { return -EROFS; }
  fsync(): number { return 0; }
  readdir(p: string): HostDirent[] | number { return this.ok(p) ? this.fs.readdir(p) : -EACCES; }
  access(p: string, mode: number): number { return this.ok(p) ? this.fs.access(p, mode) : -EACCES; }
  mkdir(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  rmdir(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  unlink(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  rename(a: string, b: string): number { return this.ok(a) && this.ok(b) ? -EROFS : -EACCES; }
  symlink(_t: string, p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  link(a: string, b: string): number { return this.ok(a) && this.ok(b) ? -EROFS : -EACCES; }
  chmod(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  lchown(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  lutimes(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
  fchmod(): number { return -EROFS; }
  fchown(): number { return -EROFS; }
  futimes(): number { return -EROFS; }
  readdirHandle(h: number): HostDirent[] | number { return this.fs.readdirHandle(h); }
  truncate(p: string): number { return this.ok(p) ? -EROFS : -EACCES; }
}

class FakeTerminal implements HostTerminal {
  written = 0;
  isatty(fd: number): boolean { return fd <= 2; }
  winsize(): { rows: number; cols: number } { return { rows: 24, cols: 80 }; }
  setRaw(): void {}
  write(_fd: number, data: Uint8Array): number { this.written += data.length; return data.length; }
  startInput(onData: (c: Uint8Array | null) => void): void { onData(new TextEncoder().encode("fuzz input\n")); onData(null); }
  onSignal(): void {}
  onResize(): void {}
  release(): void {}
  suspend(): void {}
  stop(): void {}
}

/** Host time plus a warp: a timer fires on the next turn of the event loop, moving time to its deadline. */
class WarpClock implements HostClock {
  private warp = 0;
  private readonly base = process.hrtime.bigint();
  /** Bumped whenever the kernel waits on the host (a timer or a yield): it is not stuck. */
  activity = 0;
  pending = 0;
  monotonic(): number { return Number(process.hrtime.bigint() - this.base) + 1e9 + this.warp; }
  realtime(): [number, number] { const ns = this.monotonic(); return [1_700_000_000 + Math.floor(ns / 1e9), ns % 1e9]; }
  setTimer(ms: number, cb: () => void): () => void {
    this.activity++;
    let live = true;
    const target = this.monotonic() + Math.max(0, ms) * 1e6;
    this.pending++;
    setImmediate(() => {
      this.pending--;
      if (!live) return;
      const now = this.monotonic();
      if (target > now) this.warp += target - now;
      cb();
    });
    return () => { live = false; };
  }
  yield(): Promise<void> { this.activity++; return new Promise((r) => setImmediate(r)); }
}

/** Every connection is refused, every bind denied, datagrams vanish; nothing reaches the host. */
class RefusingNet implements HostNet {
  constructor(private readonly clock: WarpClock) {}
  private later(f: () => void): void {
    this.clock.pending++;
    setImmediate(() => { this.clock.pending--; this.clock.activity++; f(); });
  }
  connect(_to: SockAddr, _from: SockAddr | null, ev: { error(errno: number): void }): HostStream {
    this.later(() => ev.error(ECONNREFUSED));
    const nop = (): void => {};
    return { write: () => true, shutdownWrite: nop, close: nop, pause: nop, resume: nop, setNoDelay: nop, setKeepAlive: nop };
  }
  listen(_a: SockAddr, _o: unknown, _ev: unknown, done: (r: number) => void): void { this.later(() => done(-EACCES)); }
  dgram(): HostDgram {
    const nop = (): void => {};
    return { bind: (_a, done) => this.later(() => done(-EACCES)), send: nop, address: () => null, setBroadcast: nop, close: nop };
  }
  closeAll(): Promise<void> { return Promise.resolve(); }
}

// ------------------------------------------------------------------ running

async function runOne(k: Kernel, clock: WarpClock, bytes: Uint8Array): Promise<string | null> {
  try {
    k.start("/fuzz", ["fuzz"], ["PATH=/"], "/", bytes);
  } catch (e) {
    return e instanceof ExecError ? null : `start threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
  }
  const init = k.init;
  if (init === null) return "start made no process";
  let settled = false, error: string | null = null;
  const done = k.run().then(() => { settled = true; }, (e: unknown) => { settled = true; error = `run threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`; });
  // Watchdog: kill the input when it is stuck (every thread blocked, nothing pending) or over budget.
  const t0 = Date.now();
  let last = -1, still = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (settled) { resolve(); return; }
      if (clock.activity === last && clock.pending === 0) still++; else { still = 0; last = clock.activity; }
      if (still >= 3 || Date.now() - t0 > INPUT_BUDGET_MS) {
        // Every process: a fork's child (clone with flags 0) outlives its parent and may wait
        // forever (rt_sigsuspend), as an orphan does on Linux.
        for (const p of [...k.procs.values()]) if (p.alive) k.exitProcess(p, SIGKILL);
        resolve();
        return;
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  });
  if (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => { timer = setTimeout(r, HANG_MS); })]);
    clearTimeout(timer);
    if (!settled) return `hang: the kernel did not finish within ${HANG_MS} ms after its processes were killed`;
  }
  return error;
}

/** FUZZ_TRACE=1 prints each input before it runs (to find one that hangs the host synchronously). */
const TRACE = process.env.FUZZ_TRACE !== undefined;

export const target: FuzzTarget = {
  name: "syscalls",
  description: "random/boundary syscalls 0-450, one guest process each, confined kernel; exceptions, hangs, escapes",
  async batch(rng: Rng, report: (f: FuzzFinding) => void): Promise<number> {
    const r = fuzzRoot();
    const clock = new WarpClock();
    const escapes: string[] = [];
    let x = rng.u32() | 1;
    const host: UserHost = {
      fs: new ConfinedFs(r, (p) => escapes.push(p)), term: new FakeTerminal(), clock, net: new RefusingNet(clock),
      // xorshift32, seeded from the batch: deterministic and cheap (getrandom fills 256 KiB).
      random: (b) => {
        for (let i = 0; i < b.length; i += 4) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          b[i] = x; if (i + 1 < b.length) b[i + 1] = x >> 8; if (i + 2 < b.length) b[i + 2] = x >> 16; if (i + 3 < b.length) b[i + 3] = x >> 24;
        }
      },
      hostname: "fuzz",
    };
    const log: string[] = [];
    const k = new Kernel(host, { root: r, readonly: true, strace: false, log: (l) => { if (log.length < 100) log.push(l); }, memBytes: GUEST_MEM });
    // Consecutive numbers from a random start: every number 0–450 comes up as a first call.
    const base = rng.below(NR_MAX + 1);
    let n = 0;
    for (; n < INPUTS_PER_KERNEL; n++) {
      const first = (base + n) % (NR_MAX + 1);
      const calls = input(rng, first);
      const errors0 = k.internalErrors;
      log.length = 0;
      const what = `seed ${rng.seed} input ${n}: ${describe(calls)}`;
      if (TRACE) process.stderr.write(what + "\n");
      const err = await runOne(k, clock, elf(calls));
      if (err !== null) report({ target: "syscalls", input: what, error: err });
      if (k.internalErrors !== errors0) report({ target: "syscalls", input: what, error: log.filter((l) => l.includes("internal error")).join("\n") });
      if (escapes.length > 0) { report({ target: "syscalls", input: what, error: `host path outside the root: ${escapes.join(", ")}` }); escapes.length = 0; }
      if (err !== null && err.startsWith("hang")) { n++; break; } // this kernel is unusable now
    }
    return n;
  },
};

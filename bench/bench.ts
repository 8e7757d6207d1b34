// rvisor benchmarks: `npm run bench` (compiled to dist/bench/bench.js).
//
// Sections are independent; each returns rows for the table and the JSON report. Add a
// section (boot time, user-mode programs, ...) by appending to `sections`.
// Options: --only <name>[,<name>]  run only these sections;  --scale N  cpubench size (default 3);
//          --json <file>  also write the JSON report to a file.
// RVISOR_JIT=on|off in the environment picks the JIT (src/cpu/jit/) for every section; the
// bare-metal rows note its statistics.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildElf, crossGcc, missingCompilerMessage, repoRoot } from "../test/lib/toolchain.js";
import { qemuSystem, runQemuSpike } from "../test/lib/qemu.js";
import { bootSection } from "./boot.js";
import { jitSection } from "./jit.js";
import { snapshotSection } from "./snapshot.js";
import { imageSection } from "./image.js";
import { containerSection } from "./container.js";
import { vmSnapshotSection } from "./vm_snapshot.js";
import { loadRunBareMetal } from "../test/lib/rvisor.js";
import { netSection } from "./net.js";

export interface BenchRow {
  section: string;
  program: string;
  instructions: number | null;
  rvisorSeconds: number | null;
  rvisorMips: number | null;
  qemuSeconds: number | null;
  /** rvisor seconds / qemu seconds (how many times slower than QEMU TCG). */
  ratio: number | null;
  notes?: string;
}

export interface BenchContext {
  args: readonly string[];
  option(name: string): string | undefined;
}

export interface BenchSection {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** Builds a bare-metal C program with test/lib/crt0.S (HTIF exit) at -O2. */
export function buildBareMetalC(name: string, sources: readonly string[], defines: readonly string[] = []): string {
  const root = repoRoot();
  return buildElf({
    name: `${name}.elf`,
    sources: [{ path: join(root, "test", "lib", "crt0.S") }, ...sources.map((p) => ({ path: p }))],
    flags: ["-O2", "-mcmodel=medany", "-ffreestanding", "-fno-builtin", ...defines],
  });
}

/** Runs an ELF on rvisor and on QEMU spike; output and exit status must agree. */
export async function compareBareMetal(section: string, program: string, elfPath: string): Promise<BenchRow> {
  const loaded = await loadRunBareMetal();
  let rvisorSeconds: number | null = null;
  let instructions: number | null = null;
  let rvOut: string | null = null;
  const notes: string[] = [];
  if ("error" in loaded) notes.push(loaded.error);
  else {
    const elf = new Uint8Array(readFileSync(elfPath));
    const t0 = process.hrtime.bigint();
    const r = loaded.run(elf, { maxInstructions: 4e9 });
    rvisorSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    instructions = r.instret;
    rvOut = r.output;
    if (r.exitCode !== 0) notes.push(`rvisor exit ${String(r.exitCode)}`);
    const jit = r.harts[0]?.code.jit ?? null;
    notes.push(jit === null ? "jit off" : `jit: ${jit.stats.modules} modules, ${jit.stats.blocks} blocks, ${jit.stats.insns} insns, ` +
      `${jit.stats.compileMs} ms compiling, ${jit.stats.entries} entries, ${jit.stats.slowCalls} slow-path calls`);
  }
  let qemuSeconds: number | null = null;
  if (qemuSystem() !== null) {
    const q = await runQemuSpike(elfPath, { timeoutMs: 300_000 });
    qemuSeconds = q.seconds;
    if (q.exitCode !== 0) notes.push(`qemu exit ${String(q.exitCode)}`);
    if (rvOut !== null && q.output !== rvOut) notes.push("OUTPUT DIFFERS from QEMU");
  } else notes.push("qemu-system-riscv64 not found");
  const row: BenchRow = {
    section,
    program,
    instructions,
    rvisorSeconds,
    rvisorMips: instructions !== null && rvisorSeconds !== null ? instructions / rvisorSeconds / 1e6 : null,
    qemuSeconds,
    ratio: rvisorSeconds !== null && qemuSeconds !== null ? rvisorSeconds / qemuSeconds : null,
  };
  if (notes.length > 0) row.notes = notes.join("; ");
  return row;
}

// ------------------------------------------------------------------ process VM (`rvisor exec`)

/** Builds a static riscv64 Linux program from bench/programs into a content-addressed cache. */
export function buildLinuxProgram(name: string, sources: readonly string[], flags: readonly string[] = []): string {
  const all = ["-O2", "-static", ...flags];
  const h = createHash("sha256").update(all.join(" "));
  for (const src of sources) h.update(readFileSync(src));
  const dir = join(tmpdir(), "rvisor-bench-cache", h.digest("hex").slice(0, 16));
  const out = join(dir, name);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("riscv64-linux-gnu-gcc", [...all, "-o", `${out}.tmp`, ...sources], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`riscv64-linux-gnu-gcc ${name} failed:\n${r.stderr}`);
  renameSync(`${out}.tmp`, out);
  return out;
}

interface Timed { seconds: number; code: number | null; stdout: string }

/** Wall-clock time of a command from spawn to exit. */
export function timeCommand(cmd: string, args: readonly string[], cwd?: string): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    p.on("close", (code) => resolve({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, code, stdout }));
  });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Runs `args` (a riscv64 program and its arguments) `runs` times under `rvisor exec` and under
 * qemu-riscv64 (alternating, in the same bench run); reports median wall-clock times.
 * `prepare` runs before every run (to reset a working directory).
 */
async function compareExec(section: string, program: string, args: readonly string[], runs: number, cwd?: string, prepare?: () => void): Promise<BenchRow> {
  const rv: number[] = [], q: number[] = [];
  const notes: string[] = [];
  const rvisorBin = join(repoRoot(), "bin", "rvisor.js");
  for (let i = 0; i < runs; i++) {
    prepare?.();
    const a = await timeCommand(process.execPath, [rvisorBin, "exec", ...args], cwd);
    prepare?.();
    const b = await timeCommand("qemu-riscv64", args, cwd);
    rv.push(a.seconds); q.push(b.seconds);
    if (a.code !== 0 && !notes.includes("rvisor failed")) notes.push("rvisor failed");
    if (b.code !== 0 && !notes.includes("qemu failed")) notes.push("qemu failed");
    if (a.stdout !== b.stdout && !notes.includes("OUTPUT DIFFERS from qemu-riscv64")) notes.push("OUTPUT DIFFERS from qemu-riscv64");
  }
  const rvisorSeconds = median(rv), qemuSeconds = median(q);
  const row: BenchRow = { section, program, instructions: null, rvisorSeconds, rvisorMips: null, qemuSeconds, ratio: rvisorSeconds / qemuSeconds };
  if (runs > 1) notes.push(`median of ${runs}`);
  if (notes.length > 0) row.notes = notes.join("; ");
  return row;
}

/** A tree of files for the syscall-heavy run: `dirs` directories of `files` files of 1–8 KiB. */
function makeTree(root: string, dirs: number, files: number): void {
  let seed = 12345;
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `dir${d}`, `sub${d % 3}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < files; f++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      writeFileSync(join(dir, `file${f}.txt`), `${d}/${f} `.repeat(128 + (seed % 1024)));
    }
  }
}

const userSections: BenchSection[] = [
  {
    name: "user-hello",
    description: "process VM: static hello world, start to exit (rvisor exec vs qemu-riscv64)",
    async run() {
      const bin = buildLinuxProgram("hello", [join(repoRoot(), "bench", "programs", "hello.c")]);
      return [await compareExec("user-hello", "hello (static)", [bin], 7)];
    },
  },
  {
    name: "user-cpu",
    description: "process VM: cpubench as a static Linux program (rvisor exec vs qemu-riscv64)",
    async run(ctx) {
      const scale = Number(ctx.option("scale") ?? "3");
      const progs = join(repoRoot(), "bench", "programs");
      // -fno-builtin keeps cpubench's own memset/memcpy from being turned into calls to themselves.
      const bin = buildLinuxProgram(`cpubench-s${scale}`, [join(progs, "cpubench.c"), join(progs, "linux_putc.c")],
        [`-DSCALE=${scale}`, "-fno-builtin", "-fno-tree-loop-distribute-patterns"]);
      return [await compareExec("user-cpu", `cpubench (scale ${scale}, static)`, [bin], 1)];
    },
  },
  {
    name: "user-tar",
    description: "process VM: busybox tar of a tree of files, syscall-heavy (rvisor exec vs qemu-riscv64)",
    async run() {
      const { findBusybox } = await import("../test/user/busybox.js");
      const bb = await findBusybox(() => {}, false);
      if (!("path" in bb)) {
        return [{ section: "user-tar", program: "busybox tar", instructions: null, rvisorSeconds: null, rvisorMips: null, qemuSeconds: null, ratio: null, notes: bb.skip }];
      }
      const work = mkdtempSync(join(tmpdir(), "rvisor-bench-tar-"));
      try {
        makeTree(join(work, "tree"), 40, 25);
        const prepare = (): void => rmSync(join(work, "out.tar"), { force: true });
        const create = await compareExec("user-tar", "busybox tar cf (1000 files, 40 dirs)", [bb.path, "tar", "cf", "out.tar", "tree"], 3, work, prepare);
        const x = join(work, "x");
        const fresh = (): void => { rmSync(x, { recursive: true, force: true }); mkdirSync(x); };
        const extract = await compareExec("user-tar", "busybox tar xf (same tree)", [bb.path, "tar", "xf", "../out.tar"], 3, x, fresh);
        return [create, extract];
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  },
];

export const sections: BenchSection[] = [
  {
    name: "cpu",
    description: "CPU-bound bare-metal C (CRC32, sieve, double matmul, quicksort) on rvisor vs QEMU TCG",
    async run(ctx) {
      const scale = Number(ctx.option("scale") ?? "3");
      const elf = buildBareMetalC(`cpubench-s${scale}`, [join(repoRoot(), "bench", "programs", "cpubench.c")], [`-DSCALE=${scale}`]);
      return [await compareBareMetal("cpu", `cpubench (scale ${scale})`, elf)];
    },
  },
  bootSection,
  snapshotSection,
  imageSection,
  containerSection,
  vmSnapshotSection,
  ...userSections,
  jitSection,
  netSection,
];

const fmt = (v: number | null, digits: number): string => (v === null ? "-" : v.toFixed(digits));

export function formatTable(rows: readonly BenchRow[]): string {
  const head = ["section", "program", "instructions", "rvisor s", "rvisor MIPS", "qemu s", "rvisor/qemu"];
  const body = rows.map((r) => [r.section, r.program, r.instructions === null ? "-" : String(r.instructions),
    fmt(r.rvisorSeconds, 2), fmt(r.rvisorMips, 1), fmt(r.qemuSeconds, 2), r.ratio === null ? "-" : `${r.ratio.toFixed(1)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  const out = [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)];
  for (const r of rows) if (r.notes !== undefined) out.push(`note (${r.program}): ${r.notes}`);
  return out.join("\n");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ctx: BenchContext = {
    args,
    option(name) {
      const i = args.indexOf(`--${name}`);
      return i >= 0 ? args[i + 1] : undefined;
    },
  };
  if (crossGcc() === null) {
    console.error(`bench: ${missingCompilerMessage()}`);
    process.exit(2);
  }
  const only = ctx.option("only")?.split(",");
  const rows: BenchRow[] = [];
  for (const s of sections) {
    if (only !== undefined && !only.includes(s.name)) continue;
    console.error(`bench: ${s.name}: ${s.description}`);
    rows.push(...(await s.run(ctx)));
  }
  console.log(formatTable(rows));
  const report = JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2);
  console.log(report);
  const jsonFile = ctx.option("json");
  if (jsonFile !== undefined) writeFileSync(jsonFile, report + "\n");
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}

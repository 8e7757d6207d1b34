// rvisor benchmarks: `npm run bench` (compiled to dist/bench/bench.js).
//
// Sections are independent; each returns rows for the table and the JSON report. Add a
// section (boot time, user-mode programs, ...) by appending to `sections`.
// Options: --only <name>[,<name>]  run only these sections;  --scale N  cpubench size (default 3);
//          --json <file>  also write the JSON report to a file.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildElf, crossGcc, missingCompilerMessage, repoRoot } from "../test/lib/toolchain.js";
import { qemuSystem, runQemuSpike } from "../test/lib/qemu.js";
import { loadRunBareMetal } from "../test/lib/rvisor.js";

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

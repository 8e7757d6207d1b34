// Differential testing driver: build generated programs, run them on QEMU (reference) and on
// rvisor, compare the dumps, and bisect a divergence to the first differing instruction.
// Used by test/diff.test.ts (bounded CI slice) and scripts/diff-fuzz.mjs (long runs).
import { readFileSync } from "node:fs";
import { buildElf } from "../lib/toolchain.js";
import { runQemuSpike } from "../lib/qemu.js";
import type { RunBareMetal } from "../lib/rvisor.js";
import { Isa } from "../../src/cpu/isa.js";
import { type Chunk, type ExtGroup, chunkSeed, diffChunk, generateChunk, parseDump, renderProgram } from "./gen.js";
import { EXT_PERCENT, extMarch, extQemuCpu } from "./gen_ext.js";

/**
 * How a program is built and run. Base mode (no groups): -march=rv64gc, QEMU's default CPU,
 * rvisor's default profile. Extensions mode: the groups' -march and QEMU -cpu properties,
 * rvisor's "max" profile.
 */
export interface DiffEnv {
  groups: readonly ExtGroup[];
}

export const BASE_ENV: DiffEnv = { groups: [] };

export interface DiffProgram {
  seed: number;
  chunks: Chunk[];
  elfPath: string;
  env: DiffEnv;
  /** Random instructions in the program (sum over chunks). */
  instructions: number;
  /** Of those, the instructions from extension groups. */
  extInstructions: number;
}

export function buildDiffProgram(seed: number, chunkCount: number, length: number, env: DiffEnv = BASE_ENV): DiffProgram {
  const mode = env.groups.length > 0 ? { groups: env.groups, percent: EXT_PERCENT } : undefined;
  const chunks = Array.from({ length: chunkCount }, (_, i) => generateChunk(chunkSeed(seed, i), length, mode));
  return buildChunks(seed, chunks, env);
}

function buildChunks(seed: number, chunks: Chunk[], env: DiffEnv, counts?: number[]): DiffProgram {
  const text = renderProgram(chunks, counts);
  const ext = env.groups.length > 0;
  const tag = `${ext ? "ext-" : ""}${seed >>> 0}-${chunks.length}-${counts === undefined ? "all" : counts.join("_")}`;
  const elfPath = buildElf({
    name: `diff-${tag}.elf`, sources: [{ name: `diff-${tag}.S`, text }],
    ...(ext ? { flags: [`-march=${extMarch(env.groups)}`] } : {}),
  });
  let instructions = 0, extInstructions = 0;
  chunks.forEach((c, i) => {
    const used = c.items.slice(0, Math.min(counts?.[i] ?? c.items.length, c.items.length));
    instructions += used.length;
    extInstructions += used.filter((it) => it.ext === true).length;
  });
  return { seed, chunks, elfPath, env, instructions, extInstructions };
}

export interface QemuDump {
  chunks: string[][];
  output: string;
}

/** Runs a program on QEMU and checks that the reference itself ran cleanly. */
export async function qemuReference(p: DiffProgram): Promise<QemuDump> {
  const r = await runQemuSpike(p.elfPath, { timeoutMs: 60_000, cpuProps: extQemuCpu(p.env.groups) });
  const d = parseDump(r.output);
  if (r.exitCode !== 0 || !d.done || d.chunks.length !== p.chunks.length) {
    throw new Error(`QEMU reference run of seed ${p.seed} failed: exit ${String(r.exitCode)} trap=${d.trap ?? "none"} ` +
      `chunks=${d.chunks.length}/${p.chunks.length}\n${r.stderr}`);
  }
  return { chunks: d.chunks, output: r.output };
}

export interface Divergence {
  seed: number;
  chunk: number;
  chunkSeed: number;
  /** Differences in the full chunk's dump. */
  diffs: string[];
  /** First item (0-based) whose inclusion makes the outputs differ, when bisected. */
  firstBadItem?: number;
  /** Assembly of the items around the first bad one. */
  context?: string;
  /** Differences at the bisected prefix. */
  bisectDiffs?: string[];
}

export interface DiffResult {
  seed: number;
  instructions: number;
  extInstructions: number;
  divergences: Divergence[];
  rvisorInstret: number;
}

const maxIsa = Isa.profile("max");

function runRvisor(run: RunBareMetal, p: DiffProgram): { chunks: string[][]; trap: string | null; exitCode: number | null; instret: number; output: string } {
  const isa = p.env.groups.length > 0 ? maxIsa : undefined;
  const r = run(new Uint8Array(readFileSync(p.elfPath)), { maxInstructions: 50_000_000 + 200 * p.instructions, ...(isa !== undefined ? { isa } : {}) });
  const d = parseDump(r.output);
  return { chunks: d.chunks, trap: d.trap, exitCode: r.exitCode, instret: r.instret, output: r.output };
}

/** Compares one program on QEMU and rvisor; bisects the first diverging chunk if asked. */
export async function diffProgram(p: DiffProgram, run: RunBareMetal, opts: { bisect?: boolean } = {}): Promise<DiffResult> {
  const q = await qemuReference(p);
  const v = runRvisor(run, p);
  const divergences: Divergence[] = [];
  for (let i = 0; i < p.chunks.length; i++) {
    const a = q.chunks[i] ?? [];
    const b = v.chunks[i];
    const c = p.chunks[i] as Chunk;
    if (b === undefined) {
      const why = v.trap !== null ? `rvisor trapped: ${v.trap}` : `rvisor stopped (exit ${String(v.exitCode)})`;
      divergences.push({ seed: p.seed, chunk: i, chunkSeed: c.seed, diffs: [why] });
      break;
    }
    const diffs = diffChunk(a, b);
    if (diffs.length > 0) divergences.push({ seed: p.seed, chunk: i, chunkSeed: c.seed, diffs });
  }
  if (opts.bisect === true && divergences.length > 0) {
    const first = divergences[0] as Divergence;
    Object.assign(first, await bisectChunk(p.chunks[first.chunk] as Chunk, run, p.env));
  }
  return { seed: p.seed, instructions: p.instructions, extInstructions: p.extInstructions, divergences, rvisorInstret: v.instret };
}

/** True when the chunk's first `count` items give different results on QEMU and rvisor. */
async function prefixDiffers(c: Chunk, count: number, run: RunBareMetal, env: DiffEnv): Promise<string[]> {
  const p = buildChunks(c.seed, [c], env, [count]);
  const q = await qemuReference(p);
  const v = runRvisor(run, p);
  const b = v.chunks[0];
  if (b === undefined) return [v.trap !== null ? `rvisor trapped: ${v.trap}` : `rvisor stopped (exit ${String(v.exitCode)})`];
  return diffChunk(q.chunks[0] ?? [], b);
}

/** Binary search for the shortest diverging prefix of a chunk. */
export async function bisectChunk(c: Chunk, run: RunBareMetal, env: DiffEnv = BASE_ENV): Promise<Pick<Divergence, "firstBadItem" | "context" | "bisectDiffs">> {
  let lo = 0; // prefix length known to agree
  let hi = c.items.length; // prefix length known to differ
  let hiDiffs = await prefixDiffers(c, hi, run, env);
  if (hiDiffs.length === 0) return {}; // not reproducible alone (should not happen)
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const d = await prefixDiffers(c, mid, run, env);
    if (d.length > 0) {
      hi = mid;
      hiDiffs = d;
    } else lo = mid;
  }
  const bad = hi - 1;
  const context = c.items
    .slice(Math.max(0, bad - 3), bad + 1)
    .map((it, k) => `${Math.max(0, bad - 3) + k === bad ? ">>" : "  "} [${Math.max(0, bad - 3) + k}] ${it.text.replace(/\n\s*/g, " ; ")}`)
    .join("\n");
  return { firstBadItem: bad, context, bisectDiffs: hiDiffs };
}

export function formatDivergence(d: Divergence): string {
  const lines = [`seed ${d.seed} chunk ${d.chunk} (chunk seed ${d.chunkSeed}): ${d.diffs.length} differing values`];
  lines.push(...d.diffs.slice(0, 20).map((s) => "  " + s));
  if (d.firstBadItem !== undefined) {
    lines.push(`  first diverging instruction: item ${d.firstBadItem}`);
    lines.push(d.context ?? "");
    lines.push(...(d.bisectDiffs ?? []).slice(0, 10).map((s) => "  after it: " + s));
  }
  return lines.join("\n");
}

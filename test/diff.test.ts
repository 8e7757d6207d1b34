// Differential test against QEMU (bounded CI slice): random RV64GC programs from
// test/diff/gen.ts run on `qemu-system-riscv64 -M spike` and on rvisor; the register, fcsr and
// memory dumps must be identical. Extensions mode mixes in the instruction groups of
// test/diff/gen_ext.ts (QEMU with their -cpu properties, rvisor with the "max" profile).
// Longer runs: scripts/diff-fuzz.mjs [--ext].
// Skips only when the cross compiler is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crossGcc, missingCompilerMessage } from "./lib/toolchain.js";
import { mapLimit, qemuSystem } from "./lib/qemu.js";
import { loadRunBareMetal } from "./lib/rvisor.js";
import { buildDiffProgram, diffProgram, formatDivergence, qemuReference } from "./diff/harness.js";
import { EXT_GROUPS } from "./diff/gen_ext.js";
import { scaled } from "./lib/time_scale.js";

const PROGRAMS = 20;
const LENGTH = 2000;
const BASE_SEED = Number(process.env["RVISOR_DIFF_SEED"] ?? 0x5eed0000);
const skip = crossGcc() === null ? missingCompilerMessage() : qemuSystem() === null ? "qemu-system-riscv64 not found (it is the reference)" : false;
const seeds = Array.from({ length: PROGRAMS }, (_, i) => (BASE_SEED + i) >>> 0);

test(`diff: generated programs run cleanly on QEMU (${PROGRAMS} x ${LENGTH} instructions)`, { skip }, async () => {
  const dumps = await mapLimit(seeds, 4, async (seed) => qemuReference(buildDiffProgram(seed, 1, LENGTH)));
  assert.equal(dumps.length, PROGRAMS);
  for (const d of dumps) assert.equal(d.chunks[0]?.length, 31 + 32 + 1 + 32);
});

test(`diff: rvisor matches QEMU (${PROGRAMS} x ${LENGTH} instructions)`, { skip, timeout: scaled(120_000) }, async (t) => {
  const loaded = await loadRunBareMetal();
  if ("error" in loaded) assert.fail(loaded.error);
  const results = await mapLimit(seeds, 2, async (seed) => diffProgram(buildDiffProgram(seed, 1, LENGTH), loaded.run, { bisect: true }));
  const compared = results.reduce((a, r) => a + r.instructions, 0);
  const divergences = results.flatMap((r) => r.divergences);
  t.diagnostic(`compared ${compared} random instructions, ${divergences.length} divergences`);
  assert.equal(divergences.length, 0, divergences.map(formatDivergence).join("\n\n"));
});

const EXT_PROGRAMS = 6;
const ext = { groups: EXT_GROUPS };
const extSeeds = Array.from({ length: EXT_PROGRAMS }, (_, i) => (BASE_SEED + 0x10000 + i) >>> 0);
/** Instructions each extension group must have contributed to the slice. */
const EXT_SAMPLES = ["sh2add.uw", "slli.uw", "clz", "ctzw", "rori", "orc.b", "rev8", "clmulr", "bexti", "binv", "packw", "brev8", "xperm8"];

test(`diff: rvisor matches QEMU in extensions mode (${EXT_PROGRAMS} x ${LENGTH} items, ${EXT_GROUPS.map((g) => g.name).join(" ")})`, { skip, timeout: scaled(120_000) }, async (t) => {
  const loaded = await loadRunBareMetal();
  if ("error" in loaded) assert.fail(loaded.error);
  const programs = extSeeds.map((seed) => buildDiffProgram(seed, 1, LENGTH, ext));
  const results = await mapLimit(programs, 2, async (p) => diffProgram(p, loaded.run, { bisect: true }));
  const compared = results.reduce((a, r) => a + r.instructions, 0);
  const extCompared = results.reduce((a, r) => a + r.extInstructions, 0);
  const divergences = results.flatMap((r) => r.divergences);
  t.diagnostic(`compared ${compared} random instructions (${extCompared} new-extension instructions), ${divergences.length} divergences`);
  // Most items are extension instructions, and every group took part.
  assert.ok(extCompared > compared / 2, `only ${extCompared} of ${compared} items are extension instructions`);
  const mnemonics = new Set(programs.flatMap((p) => p.chunks.flatMap((c) => c.items.filter((it) => it.ext === true)
    .map((it) => (it.text.split("\n").pop() ?? "").trim().split(" ")[0]))));
  for (const op of EXT_SAMPLES) assert.ok(mnemonics.has(op), `no ${op} generated`);
  assert.equal(divergences.length, 0, divergences.map(formatDivergence).join("\n\n"));
});

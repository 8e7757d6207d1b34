// Differential test against QEMU (bounded CI slice): random RV64GC programs from
// test/diff/gen.ts run on `qemu-system-riscv64 -M spike` and on rvisor; the register, fcsr and
// memory dumps must be identical. Longer runs: scripts/diff-fuzz.mjs.
// Skips only when the cross compiler is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crossGcc, missingCompilerMessage } from "./lib/toolchain.js";
import { mapLimit, qemuSystem } from "./lib/qemu.js";
import { loadRunBareMetal } from "./lib/rvisor.js";
import { buildDiffProgram, diffProgram, formatDivergence, qemuReference } from "./diff/harness.js";

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

test(`diff: rvisor matches QEMU (${PROGRAMS} x ${LENGTH} instructions)`, { skip, timeout: 120_000 }, async (t) => {
  const loaded = await loadRunBareMetal();
  if ("error" in loaded) assert.fail(loaded.error);
  const results = await mapLimit(seeds, 2, async (seed) => diffProgram(buildDiffProgram(seed, 1, LENGTH), loaded.run, { bisect: true }));
  const compared = results.reduce((a, r) => a + r.instructions, 0);
  const divergences = results.flatMap((r) => r.divergences);
  t.diagnostic(`compared ${compared} random instructions, ${divergences.length} divergences`);
  assert.equal(divergences.length, 0, divergences.map(formatDivergence).join("\n\n"));
});

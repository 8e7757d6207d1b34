// Differential slice with the JIT forced on at threshold 1 (every block is translated before it
// first runs), so CI exercises the translation of every generated instruction against QEMU.
// Its own file: the environment is read when each machine's code cache is built.
// Longer runs: RVISOR_JIT=on RVISOR_JIT_THRESHOLD=1 node scripts/diff-fuzz.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crossGcc, missingCompilerMessage } from "./lib/toolchain.js";
import { mapLimit, qemuSystem } from "./lib/qemu.js";
import { loadRunBareMetal } from "./lib/rvisor.js";
import { buildDiffProgram, diffProgram, formatDivergence } from "./diff/harness.js";
import { scaled } from "./lib/time_scale.js";

process.env["RVISOR_JIT"] = "on";
process.env["RVISOR_JIT_THRESHOLD"] = "1";

const PROGRAMS = 8;
const LENGTH = 2000;
const BASE_SEED = Number(process.env["RVISOR_DIFF_SEED"] ?? 0x5eed1000);
const skip = crossGcc() === null ? missingCompilerMessage() : qemuSystem() === null ? "qemu-system-riscv64 not found (it is the reference)" : false;
const seeds = Array.from({ length: PROGRAMS }, (_, i) => (BASE_SEED + i) >>> 0);

test(`diff (JIT, threshold 1): rvisor matches QEMU (${PROGRAMS} x ${LENGTH} instructions)`, { skip, timeout: scaled(300_000) }, async (t) => {
  const loaded = await loadRunBareMetal();
  if ("error" in loaded) assert.fail(loaded.error);
  const results = await mapLimit(seeds, 2, async (seed) => diffProgram(buildDiffProgram(seed, 1, LENGTH), loaded.run, { bisect: true }));
  const compared = results.reduce((a, r) => a + r.instructions, 0);
  const divergences = results.flatMap((r) => r.divergences);
  t.diagnostic(`compared ${compared} random instructions with every block translated, ${divergences.length} divergences`);
  assert.equal(compared, PROGRAMS * LENGTH);
  assert.equal(divergences.length, 0, divergences.map(formatDivergence).join("\n\n"));
});

#!/usr/bin/env node
// Long differential fuzzing run: random RV64GC programs (dist/test/diff/gen.js) on QEMU
// (reference) and rvisor (dist/src/system/baremetal.js), comparing register/fcsr/memory dumps.
// Usage: npm run build && node scripts/diff-fuzz.mjs [--instructions N] [--seed S]
//        [--length L] [--chunks C] [--jobs J] [--no-bisect] [--ext]
// Each program holds C chunks of L random instructions (one gcc and one QEMU run per
// program). Prints progress, every divergence (bisected to the first differing instruction)
// and a final summary; exits 1 if any divergence was found.
// --ext: extensions mode (test/diff/gen_ext.ts): most items are instructions of the extension
// groups (Zba, Zbb, Zbc, Zbs, Zbkb, Zbkc, Zbkx...), QEMU runs with their -cpu properties and
// rvisor with the "max" profile; --instructions then counts new-extension instructions.
import { buildDiffProgram, diffProgram, formatDivergence } from "../dist/test/diff/harness.js";
import { EXT_GROUPS, EXT_PERCENT } from "../dist/test/diff/gen_ext.js";
import { loadRunBareMetal } from "../dist/test/lib/rvisor.js";
import { crossGcc, missingCompilerMessage } from "../dist/test/lib/toolchain.js";
import { qemuSystem } from "../dist/test/lib/qemu.js";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const total = opt("instructions", 1_000_000);
const length = opt("length", 2000);
const chunks = opt("chunks", 25);
const jobs = opt("jobs", 2);
const seed0 = opt("seed", Date.now() % 0x7fffffff) >>> 0;
const bisect = !args.includes("--no-bisect");
const ext = args.includes("--ext");
const env = { groups: ext ? EXT_GROUPS : [] };

if (crossGcc() === null) { console.error(missingCompilerMessage()); process.exit(2); }
if (qemuSystem() === null) { console.error("qemu-system-riscv64 not found"); process.exit(2); }
const loaded = await loadRunBareMetal();
if ("error" in loaded) { console.error(loaded.error); process.exit(2); }

// In extensions mode about EXT_PERCENT% of the items are extension instructions.
const perProgram = ext ? Math.floor((length * chunks * EXT_PERCENT) / 100) : length * chunks;
const programs = Math.max(1, Math.ceil(total / perProgram));
console.log(`diff-fuzz${ext ? ` (extensions: ${EXT_GROUPS.map((g) => g.name).join(" ")})` : ""}: ` +
  `${programs} programs x ${chunks} chunks x ${length} instructions, seeds ${seed0}..${seed0 + programs - 1}, ${jobs} jobs`);
let compared = 0;
let extCompared = 0;
let divergent = 0;
let next = 0;
const t0 = Date.now();
const failures = [];
async function worker() {
  while (next < programs) {
    const seed = (seed0 + next++) >>> 0;
    const p = buildDiffProgram(seed, chunks, length, env);
    const r = await diffProgram(p, loaded.run, { bisect });
    compared += r.instructions;
    extCompared += r.extInstructions;
    if (r.divergences.length > 0) {
      divergent += r.divergences.length;
      for (const d of r.divergences) {
        failures.push(d);
        console.log(`\nDIVERGENCE\n${formatDivergence(d)}\n`);
      }
    }
    const s = (Date.now() - t0) / 1000;
    const extNote = ext ? ` (${extCompared} new-extension)` : "";
    process.stdout.write(`\r  ${compared} instructions compared${extNote}, ${divergent} divergent chunks, ${s.toFixed(1)} s   `);
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
console.log(`\ndiff-fuzz: compared ${compared} random instructions in ${programs} programs (${programs * chunks} chunks)` +
  `${ext ? `, ${extCompared} new-extension instructions compared` : ""}; ` +
  `${divergent} divergent chunks; seeds ${seed0}..${seed0 + programs - 1}; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(failures.length > 0 ? 1 : 0);

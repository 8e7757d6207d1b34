#!/usr/bin/env node
// Runs the fuzz targets (fuzz/targets/*.ts, compiled to dist/fuzz/targets/) and reports how many
// inputs each tried and what was found. Exit status 1 if anything was found.
// Usage: node scripts/fuzz.mjs [--seconds N] [--inputs N] [--seed S] [target...]
import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: "string", default: "60" }, inputs: { type: "string", default: "1e12" }, seed: { type: "string" } },
});
const dir = new URL("../dist/fuzz/targets/", import.meta.url);
const { runTarget } = await import(new URL("../dist/fuzz/lib.js", import.meta.url).href);
const names = readdirSync(dir).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3)).sort();
const chosen = positionals.length ? names.filter((n) => positionals.includes(n)) : names;
if (chosen.length === 0) { console.error(`fuzz: no such target (have: ${names.join(", ")})`); process.exit(2); }
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() >>> 0);
const ms = Number(values.seconds) * 1000, max = Number(values.inputs);
let total = 0, found = 0;
console.log(`fuzz: seed ${seed}, ${values.seconds} s per target`);
for (const n of chosen) {
  const { target } = await import(new URL(`${n}.js`, dir).href);
  const r = await runTarget(target, seed, max, ms);
  total += r.inputs; found += r.findings.length;
  console.log(`${r.target.padEnd(12)} ${String(r.inputs).padStart(10)} inputs ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.findings.length} findings  (${target.description})`);
  for (const f of r.findings.slice(0, 20)) console.log(`  ${f.input}: ${f.error.split("\n").slice(0, 4).join("\n    ")}`);
}
console.log(`fuzz: ${total} inputs, ${found} findings`);
process.exit(found > 0 ? 1 : 0);

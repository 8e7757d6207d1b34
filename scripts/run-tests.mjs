#!/usr/bin/env node
// Runs every compiled test file with Node's built-in test runner.
// Unit tests sit beside their module as `*_test.ts`; integration tests live in test/ as `*.test.ts`.
// Usage: node scripts/run-tests.mjs [substring-filter...]
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("../dist/", import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/(_test|\.test)\.js$/.test(name)) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) { console.error("run-tests: no test files found"); process.exit(1); }
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...chosen], { stdio: "inherit" });
process.exit(r.status ?? 1);

#!/usr/bin/env node
// The whole suite (or the test files matching the filters) with the JIT forced on and every
// block translated before it first runs (RVISOR_JIT_THRESHOLD=1, issue 8), and every test time
// limit scaled by JIT1_TIME_SCALE (test/lib/time_scale.ts): compiling each block first makes a
// guest several times slower, which the time limits, not the results, must allow for.
// Usage: npm run build && node scripts/test-jit1.mjs [substring-filter...]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { JIT1_TIME_SCALE } from "../dist/test/lib/time_scale.js";

const runner = fileURLToPath(new URL("./run-tests.mjs", import.meta.url));
const env = { ...process.env, RVISOR_JIT: "on", RVISOR_JIT_THRESHOLD: "1", RVISOR_TEST_TIME_SCALE: String(JIT1_TIME_SCALE) };
const r = spawnSync(process.execPath, [runner, ...process.argv.slice(2)], { stdio: "inherit", env });
process.exit(r.status ?? 1);

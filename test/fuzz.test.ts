// A bounded slice of every fuzz target (fuzz/targets/): each must run its inputs without a
// finding. The long runs are `npm run fuzz -- --seconds N`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { runTarget, type FuzzTarget } from "../fuzz/lib.js";
import { scaled } from "./lib/time_scale.js";

const dir = new URL("../fuzz/targets/", import.meta.url);
const SLICE_MS = 8_000;

const files = existsSync(dir) ? readdirSync(dir) : [];
for (const file of files.filter((f) => f.endsWith(".js")).sort()) {
  test(`fuzz: ${file.slice(0, -3)} (bounded slice)`, { timeout: scaled(120_000) }, async (t) => {
    const { target } = (await import(new URL(file, dir).href)) as { target: FuzzTarget };
    const seed = (Date.now() ^ file.length * 0x9e3779b1) >>> 0;
    const r = await runTarget(target, seed, Number.MAX_SAFE_INTEGER, SLICE_MS);
    t.diagnostic(`${r.target}: ${r.inputs} inputs in ${r.ms} ms, seed ${seed}`);
    assert.ok(r.inputs > 0, "the target tried no input");
    assert.deepEqual(r.findings.map((f) => `${f.input}: ${f.error}`), []);
  });
}

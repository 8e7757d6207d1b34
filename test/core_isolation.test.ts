// The platform-neutral core has its own TypeScript project without Node's types
// (tsconfig.core.json): a core file that imports a Node module or uses Node's globals must fail
// to build, while the Web globals Node and browsers share (src/core_globals.d.ts) still compile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./lib/toolchain.js";
import { scaled } from "./lib/time_scale.js";

test("tsconfig.core.json rejects node: imports, Buffer and process, and accepts the shared Web globals", { timeout: scaled(180_000) }, () => {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), "rvisor-core-"));
  const probe = join(dir, "probe.ts");
  writeFileSync(probe, [
    'import { readFileSync } from "node:fs";',                                   // line 1: error
    "export const a = readFileSync;",
    'export const b = Buffer.from("x");',                                         // line 3: error
    "export const c = process.argv;",                                             // line 4: error
    'export const d = new TextEncoder().encode("ok").length + performance.now();', // Web globals: fine
    "export const e = crypto.getRandomValues(new Uint8Array(4));",
    "",
  ].join("\n"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    extends: join(root, "tsconfig.core.json"), compilerOptions: { rootDir: "/" }, include: [join(root, "src", "core_globals.d.ts"), probe], exclude: [],
  }));
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  const lines = [...r.stdout.matchAll(/probe\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
  assert.notEqual(r.status, 0, "the build fails");
  assert.deepEqual(lines, ["1:TS2307", "3:TS2591", "4:TS2591"], r.stdout);
});

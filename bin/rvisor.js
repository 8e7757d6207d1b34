#!/usr/bin/env node
// The rvisor command. It runs the CLI bundle dist/bundle/cli.cjs (scripts/cli-bundle.mjs, made by
// `npm run build`) when there is one at least as new as dist/src/cli/main.js, else the modules
// under dist/src (after a bare `tsc -p .` the bundle would be stale). The bundle is compiled
// through vm.Script with V8's code cache, one per command under dist/bundle/cache/ (written by
// the first run of that command, after it finishes, holding every function that run compiled),
// so that a short command such as `container run --rm IMAGE true` starts without parsing or
// compiling the CLI again.
// This file is CommonJS (bin/package.json): Node then starts without its ES module loader, and
// the builtins it requires need no ES module facade (which for node:fs reads every export,
// loading the streams modules with fs.ReadStream: ~8 ms of a short command).
"use strict";
const { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { Script } = require("node:vm");
const { pathToFileURL } = require("node:url");

const BUNDLE = join(__dirname, "..", "dist", "bundle", "cli.cjs");
const MODULES_MAIN = join(__dirname, "..", "dist", "src", "cli", "main.js");
const CACHE_DIR = join(__dirname, "..", "dist", "bundle", "cache") + "/";

function mtime(file) {
  try { return statSync(file).mtimeMs; } catch { return null; }
}

/** The bundle's main() with a function writing its code cache (null: nothing to write), or null without a usable bundle. */
function loadBundle(command) {
  const bundleTime = mtime(BUNDLE);
  const modulesTime = mtime(MODULES_MAIN);
  if (bundleTime === null || (modulesTime !== null && modulesTime > bundleTime)) return null;
  // ASCII only (scripts/cli-bundle.mjs checks): latin1 skips UTF-8 decoding. The file is one
  // function expression (the bundle in a wrapper, scripts/cli-bundle.mjs): compiled as it is read.
  const source = readFileSync(BUNDLE, "latin1");
  // V8 checks a cache against the source's length only: the name carries the bundle's time too.
  const cacheFile = `${CACHE_DIR}${/^[a-z_]+$/.test(command ?? "") ? command : "other"}-${source.length}-${Math.trunc(bundleTime)}-${process.version}.bin`;
  let cachedData;
  try { cachedData = readFileSync(cacheFile); } catch { /* first run of this command */ }
  const script = new Script(source, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require("node:module").createRequire(BUNDLE), module, BUNDLE, join(BUNDLE, ".."),
    pathToFileURL(BUNDLE).href, (specifier) => import(specifier));
  const writeCache = cachedData !== undefined && !script.cachedDataRejected ? null : () => {
    try {
      mkdirSync(CACHE_DIR, { recursive: true });
      const tmp = `${cacheFile}.tmp-${process.pid}`;
      writeFileSync(tmp, script.createCachedData());
      try { renameSync(tmp, cacheFile); } catch { rmSync(tmp, { force: true }); }
    } catch { /* a read-only installation runs without a cache */ }
  };
  return { main: module.exports.main, writeCache };
}

// Commands that end with their work (no handles meant to outlive main) exit at once once their
// output is flushed, skipping Node's teardown of the heap and a container's guest memory
// (~20 ms of `container run --rm IMAGE true`).
const EXIT_WHEN_DONE = new Set(["container", "image"]);

async function run() {
  const argv = process.argv.slice(2);
  const bundle = loadBundle(argv[0]);
  const main = bundle !== null ? bundle.main : (await import(pathToFileURL(MODULES_MAIN).href)).main;
  let code;
  try { code = await main(argv); } catch (err) {
    process.stderr.write(`rvisor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  bundle?.writeCache?.();
  process.exitCode = code;
  if (EXIT_WHEN_DONE.has(argv[0]) && process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
}
run();

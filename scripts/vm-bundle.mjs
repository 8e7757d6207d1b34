#!/usr/bin/env node
// Bundles the VM process's entry (src/host/node/vm_main.ts and everything it imports) into one
// CommonJS script, dist/bundle/vm.cjs, with esbuild, as scripts/cli-bundle.mjs does for the CLI.
// vm_pool.ts (vmMainEntry) spawns it when it is at least as new as dist/src/host/node/vm_main.js,
// else the modules under dist/src. One script instead of ~90 ES modules: less to resolve and load
// at each VM start, and less resident per VM process (module records, each module's source and
// scope kept alive for as long as the process runs; README "Persistent VMs" has the figures).
// The bundle defines `__rvisor_bundle_url` and `__rvisor_import` itself (scripts/lib/bundle.mjs):
// node runs it directly, as `node vm.cjs NAME`.
// Usage: node scripts/vm-bundle.mjs [--out DIR]
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asciiOnly, BUNDLE_EXTERNAL, importMetaUrl, lazyBuiltins, reportOutputs } from './lib/bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--out');
const out = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'bundle');

/** Builtins a VM process seldom calls: spawning (a switch, only with a switch NIC) and hashing (long socket paths) or random image names (snapshots). */
const LAZY = ['node:child_process', 'node:crypto'];

const result = await build({
  entryPoints: { vm: path.join(root, 'src', 'host', 'node', 'vm_main.ts') },
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: out, outExtension: { '.js': '.cjs' },
  banner: { js: 'const __rvisor_bundle_url = require("node:url").pathToFileURL(__filename).href;\nconst __rvisor_import = (specifier) => import(specifier);' },
  external: BUNDLE_EXTERNAL, plugins: [importMetaUrl(root, out), lazyBuiltins(LAZY)], metafile: true, logLevel: 'warning',
});
await asciiOnly(path.join(out, 'vm.cjs'));
reportOutputs('vm-bundle', root, result);

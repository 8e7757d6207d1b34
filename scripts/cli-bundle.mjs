#!/usr/bin/env node
// Bundles the rvisor CLI (src/cli/main.ts and everything it imports, npm dependencies included)
// into one CommonJS script, dist/bundle/cli.cjs, with esbuild (issue 11). bin/rvisor.js runs it
// when present (else dist/src/cli/main.js): one file to read instead of some 200 ES modules to
// resolve, and, being a classic script, it can be compiled through vm.Script with V8's code cache
// (bin/rvisor.js keeps one per command under dist/bundle/cache/, written on first use).
// `import.meta.url` in a bundled module reads as the URL its own file has under dist/, so that
// paths relative to it (bin/rvisor.js, vm_main.js, package.json, the web console) still resolve;
// the bundle runs inside a function whose parameters `__rvisor_bundle_url` and `__rvisor_import` are
// the bundle's URL and an import() of bin/rvisor.js's. That function is in the file itself (banner
// and footer): the file is one function expression, which bin/rvisor.js compiles as it reads it
// (wrapping it there would copy the 1.2 MB source once more).
// Whitespace and comments are dropped (identifiers kept, for stack traces): less to read and hash.
// Usage: node scripts/cli-bundle.mjs [--out DIR]
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_EXTERNAL, importMetaUrl, lazyBuiltins, reportOutputs } from './lib/bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--out');
const out = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'bundle');

/**
 * Builtins loaded on first use (scripts/lib/bundle.mjs): node:crypto (some twenty internal
 * modules, ~3 ms and ~100 page faults) only hashes image content and VM socket paths, which a
 * short command such as `container run --rm IMAGE true` never does.
 */
const LAZY = ['node:crypto', 'node:child_process', 'node:dgram'];

const result = await build({
  entryPoints: { cli: path.join(root, 'src', 'cli', 'main.ts') },
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: out, outExtension: { '.js': '.cjs' },
  banner: { js: '(function (exports, require, module, __filename, __dirname, __rvisor_bundle_url, __rvisor_import) {' }, footer: { js: '\n})' },
  external: BUNDLE_EXTERNAL, plugins: [importMetaUrl(root, out), lazyBuiltins(LAZY)], metafile: true, logLevel: 'warning',
  minifyWhitespace: true, minifySyntax: true, charset: 'ascii',
});
// bin/rvisor.js reads the bundle as latin1 (a one-byte string, no UTF-8 decoding): it must be ASCII.
const bundleBytes = await readFile(path.join(out, 'cli.cjs'));
const nonAscii = bundleBytes.findIndex((b) => b > 0x7f);
if (nonAscii >= 0) throw new Error(`cli-bundle: dist/bundle/cli.cjs has a non-ASCII byte at offset ${nonAscii}`);
// Code caches of an earlier bundle would not match this one.
await rm(path.join(out, 'cache'), { recursive: true, force: true });
reportOutputs('cli-bundle', root, result);

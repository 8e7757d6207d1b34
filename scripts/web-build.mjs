#!/usr/bin/env node
// Bundles the in-tab VM (issue 13) with esbuild into dist/web/: page.js (the page: xterm.js and
// the worker's wiring), worker.js (the machine), index.html and xterm.css. The bundles are for
// the browser platform, so an import of a Node module anywhere below them fails the build; the
// inputs are also checked to come from the core and src/host/browser only (never src/host/node).
// Usage: node scripts/web-build.mjs [--out DIR]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--out');
const out = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'web');
const browser = path.join(root, 'src', 'host', 'browser');
/** Source folders a bundle may draw from: the platform-neutral core and the browser adapters. */
const ALLOWED = ['src/cpu/', 'src/memory/', 'src/system/', 'src/net/', 'src/host/browser/', 'node_modules/@xterm/xterm/'];

mkdirSync(out, { recursive: true });
const t0 = Date.now();
const result = await build({
  entryPoints: { page: path.join(browser, 'page.ts'), worker: path.join(browser, 'worker.ts') },
  outdir: out,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: root,
});
const inputs = Object.keys(result.metafile.inputs);
const stray = inputs.filter((f) => !ALLOWED.some((a) => f.startsWith(a)));
if (stray.length > 0) {
  console.error(`web-build: the browser bundle pulls in files outside the core and src/host/browser:\n  ${stray.join('\n  ')}`);
  process.exit(1);
}
copyFileSync(path.join(browser, 'index.html'), path.join(out, 'index.html'));
const require = createRequire(import.meta.url);
copyFileSync(require.resolve('@xterm/xterm/css/xterm.css'), path.join(out, 'xterm.css'));
const sizes = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'))
  .map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(0)} KiB`).join(', ');
console.log(`web-build: ${path.relative(root, out) || out}: ${sizes}, ${inputs.length} inputs, ${Date.now() - t0} ms`);

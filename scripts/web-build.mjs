#!/usr/bin/env node
// Bundles rvisor's two browser pages with esbuild (issue 13):
//   dist/web/          the in-tab VM: page.js (xterm.js and the worker's wiring), worker.js (the
//                      machine), index.html, xterm.css; served by `npm run web`
//   dist/web/console/  the hypervisor's web console (src/web): console.js, index.html,
//                      console.css, xterm.css; served by `rvisor serve` at /ui/
// The bundles are for the browser platform, so an import of a Node module anywhere below them
// fails the build; each bundle's inputs are also checked against the folders it may draw from
// (the in-tab VM: the core and src/host/browser, never src/host/node; the console: src/web).
// Usage: node scripts/web-build.mjs [--out DIR]
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--out');
const out = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'web');
const browser = path.join(root, 'src', 'host', 'browser');
const web = path.join(root, 'src', 'web');
const XTERM = 'node_modules/@xterm/xterm/';
const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;

const bundles = [
  {
    what: 'the in-tab VM', out, entryPoints: { page: path.join(browser, 'page.ts'), worker: path.join(browser, 'worker.ts') },
    allowed: ['src/cpu/', 'src/memory/', 'src/system/', 'src/net/', 'src/abi/', 'src/host/browser/', XTERM],
    copy: [[path.join(browser, 'index.html'), 'index.html']],
  },
  {
    what: 'the web console', out: path.join(out, 'console'), entryPoints: { console: path.join(web, 'console.ts') },
    allowed: ['src/web/', XTERM],
    copy: [[path.join(web, 'index.html'), 'index.html'], [path.join(web, 'console.css'), 'console.css']],
  },
];

for (const b of bundles) {
  mkdirSync(b.out, { recursive: true });
  const t0 = Date.now();
  const result = await build({
    entryPoints: b.entryPoints,
    outdir: b.out,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
    absWorkingDir: root,
    // The version the in-tab VM writes into its snapshots' headers (`producer`).
    define: { RVISOR_VERSION: JSON.stringify(version) },
  });
  const inputs = Object.keys(result.metafile.inputs);
  // A package's path is taken from its node_modules/ on (a worktree may link node_modules elsewhere).
  const local = (f) => (f.includes('node_modules/') ? f.slice(f.indexOf('node_modules/')) : f);
  const stray = inputs.filter((f) => !b.allowed.some((a) => local(f).startsWith(a)));
  if (stray.length > 0) {
    console.error(`web-build: ${b.what} pulls in files outside ${b.allowed.join(', ')}:\n  ${stray.join('\n  ')}`);
    process.exit(1);
  }
  for (const [from, to] of b.copy) copyFileSync(from, path.join(b.out, to));
  copyFileSync(require.resolve('@xterm/xterm/css/xterm.css'), path.join(b.out, 'xterm.css'));
  const sizes = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'))
    .map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(0)} KiB`).join(', ');
  console.log(`web-build: ${path.relative(root, b.out) || b.out}: ${sizes}, ${inputs.length} inputs, ${Date.now() - t0} ms`);
}

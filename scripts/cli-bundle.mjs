#!/usr/bin/env node
// Bundles the rvisor CLI (src/cli/main.ts and everything it imports, npm dependencies included)
// into one CommonJS script, dist/bundle/cli.cjs, with esbuild (issue 11). bin/rvisor.js runs it
// when present (else dist/src/cli/main.js): one file to read instead of some 200 ES modules to
// resolve, and, being a classic script, it can be compiled through vm.Script with V8's code cache
// (bin/rvisor.js keeps one per command under dist/bundle/cache/, written on first use).
// `import.meta.url` in a bundled module reads as the URL its own file has under dist/, so that
// paths relative to it (bin/rvisor.js, vm_main.js, package.json, the web console) still resolve;
// the bundle runs inside a function whose parameters `__rvisor_bundle_url` and `__rvisor_import` are
// the bundle's URL and an import() of bin/rvisor.js's.
// Usage: node scripts/cli-bundle.mjs [--out DIR]
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outIdx = process.argv.indexOf('--out');
const out = outIdx > 0 ? path.resolve(process.argv[outIdx + 1]) : path.join(root, 'dist', 'bundle');
const src = path.join(root, 'src');

/**
 * `await import(x)` of a module outside the bundle (x not a relative path, which esbuild inlines): a
 * script compiled by vm.Script cannot import() by itself, so it calls the `__rvisor_import`
 * parameter, bin/rvisor.js's own import().
 */
const DYNAMIC_IMPORT = /\bawait import\((?!\s*["'`]\.)/g;

/** Rewrites `import.meta.url` in each module under src/ to the URL of its compiled file in dist/. */
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!args.path.startsWith(src + path.sep)) return { contents: text, loader: 'ts' };
      const compiled = path.join(root, 'dist', path.relative(root, args.path)).replace(/\.ts$/, '.js');
      const rel = path.relative(out, compiled).split(path.sep).join('/');
      const contents = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, __rvisor_bundle_url).href`)
        .replace(DYNAMIC_IMPORT, 'await __rvisor_import(');
      return { contents, loader: 'ts' };
    });
  },
};

const result = await build({
  entryPoints: { cli: path.join(src, 'cli', 'main.ts') },
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', outdir: out, outExtension: { '.js': '.cjs' },
  // ws's optional native helpers: absent, and ws copes without them.
  external: ['bufferutil', 'utf-8-validate'],
  plugins: [importMetaUrl], metafile: true, logLevel: 'warning',
});
// Code caches of an earlier bundle would not match this one.
await rm(path.join(out, 'cache'), { recursive: true, force: true });
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  process.stdout.write(`cli-bundle: ${path.relative(root, path.resolve(root, file))} ${(o.bytes / 1024).toFixed(0)} KiB\n`);
}

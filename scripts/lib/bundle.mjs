// What the esbuild bundles of rvisor (scripts/cli-bundle.mjs, scripts/vm-bundle.mjs) share: a
// bundled module's `import.meta.url` must read as the URL its own compiled file has under dist/,
// so that paths relative to it (bin/rvisor.js, vm_main.js, package.json, the guest image's
// scripts, the web console) still resolve. A bundle therefore runs with two names in scope:
// `__rvisor_bundle_url`, the bundle's own URL, and `__rvisor_import`, an import() that works from
// it (the CLI bundle gets both as parameters from bin/rvisor.js; the VM bundle defines them itself).
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * `await import(x)` of a module outside the bundle (x not a relative path, which esbuild inlines): a
 * script compiled by vm.Script cannot import() by itself, so it calls `__rvisor_import`.
 */
const DYNAMIC_IMPORT = /\bawait import\((?!\s*["'`]\.)/g;

/** ws's optional native helpers: absent, and ws copes without them. */
export const BUNDLE_EXTERNAL = ['bufferutil', 'utf-8-validate'];

/** An esbuild plugin rewriting `import.meta.url` in each module under `root`/src to the URL of its compiled file in dist/, relative to the bundle in `out`. */
export function importMetaUrl(root, out) {
  const src = path.join(root, 'src');
  return {
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
}

/** Prints each output file of an esbuild result and its size. */
export function reportOutputs(tag, root, result) {
  for (const [file, o] of Object.entries(result.metafile.outputs)) {
    process.stdout.write(`${tag}: ${path.relative(root, path.resolve(root, file))} ${(o.bytes / 1024).toFixed(0)} KiB\n`);
  }
}

/**
 * An esbuild plugin that makes the Node builtins `names` (e.g. 'node:crypto') load on first use
 * instead of when the bundle starts: each import of one resolves to a small module whose exports
 * (the builtin's functions, as this Node has them) require the builtin when first called. For a
 * process that may never call them (a VM process hashes a path or spawns a switch only in rare
 * cases) that is the builtin's share of its resident memory saved (node:crypto alone loads some
 * twenty internal modules).
 */
export function lazyBuiltins(names) {
  const require = createRequire(import.meta.url);
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
  return {
    name: 'lazy-builtins',
    setup(b) {
      // The wrapper module's own require of the builtin is left to Node (the builtin itself).
      b.onResolve({ filter }, (args) => (args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-builtin' }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
        const mod = require(args.path);
        const fns = Object.keys(mod).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && typeof mod[k] === 'function');
        const lines = [`let m; const get = () => (m ??= require(${JSON.stringify(args.path)}));`];
        // A class is constructed (new.target set), anything else called.
        for (const k of fns) lines.push(`export function ${k}(...a) { return new.target ? Reflect.construct(get().${k}, a, new.target) : get().${k}(...a); }`);
        return { contents: lines.join('\n'), loader: 'js', resolveDir: process.cwd() };
      });
    },
  };
}

/** Rewrites the non-ASCII characters left in a bundle (in comments: esbuild escapes those in strings) as \u escapes, so that V8 keeps the script's source as one byte per character rather than two. */
export async function asciiOnly(file) {
  const text = await readFile(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => [...c].map((u) => `\\u{${u.codePointAt(0).toString(16)}}`).join(''));
  if (ascii !== text) await writeFile(file, ascii);
}

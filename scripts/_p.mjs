import { build } from "esbuild";
import path from "node:path";
import { readFile } from "node:fs/promises";
const root = process.cwd();
const out = path.join(root, "dist/bundle");
const metaUrl = {
  name: "import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      let text = await readFile(args.path, "utf8");
      if (text.includes("import.meta.url")) {
        const rel = path.relative(out, path.join(root, "dist", path.relative(root, args.path))).replace(/\.ts$/, ".js");
        text = text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, __rvisor_bundle_url).href`);
      }
      return { contents: text, loader: "ts" };
    });
  },
};
const r = await build({ entryPoints: { cli: "src/cli/main.ts" }, bundle: true, platform: "node", format: "cjs", target: "node20", outdir: out, outExtension: { ".js": ".cjs" }, metafile: true, external: ["bufferutil", "utf-8-validate"], plugins: [metaUrl], logLevel: "warning" });
for (const [f, o] of Object.entries(r.metafile.outputs)) console.log(f, o.bytes);

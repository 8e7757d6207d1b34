// `npm run web`: serves the in-tab VM (dist/web, built by scripts/web-build.mjs) and rvisor's
// default guest image on loopback, so a browser boots the guest with no computation on the
// server. Every answer carries COOP/COEP (HTML's cross-origin isolation: the page then has
// SharedArrayBuffer for guest RAM) unless --no-isolation; files answer HTTP range requests
// (RFC 9110 section 14), which the worker's root disk reads with.
//   node dist/src/host/node/web_server.js [--host 127.0.0.1] [--port 8080] [--no-isolation]
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createReadStream, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { defaultGuestImage, type GuestImageFiles } from "./virt_build.js";

/** The guest's kernel command line when the image's manifest names none. */
const DEFAULT_CMDLINE = "console=ttyS0";
/** Where scripts/web-build.mjs puts the bundle (dist/web beside dist/src). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../../web/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".map": "application/json",
};

export interface WebServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** Send COOP/COEP so the page is cross-origin isolated (default true). */
  isolation: boolean;
  webRoot: string;
  image: GuestImageFiles;
}

export interface WebServer { readonly url: string; readonly server: Server; close(): Promise<void> }

/** A byte range of a file of `size` bytes from a Range header; null: serve it whole; "unsatisfiable": 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "unsatisfiable" {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return null; // several ranges or another unit: the whole file (allowed by RFC 9110 14.2)
  let start: number, end: number;
  if (m[1] === "") { start = Math.max(size - Number(m[2]), 0); end = size - 1; } // suffix: the last N bytes
  else { start = Number(m[1]); end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1); }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

interface Served { path: string | null; body?: Uint8Array; type: string }

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const files = new Map<string, Served>();
  for (const name of readdirSync(opts.webRoot)) {
    const path = join(opts.webRoot, name);
    if (statSync(path).isFile()) files.set(`/${name}`, { path, type: CONTENT_TYPES[extname(name)] ?? "application/octet-stream" });
  }
  if (!files.has("/index.html")) throw new Error(`${opts.webRoot} has no index.html: build the page first (npm run web:build)`);
  files.set("/", files.get("/index.html") as Served);
  const img = opts.image;
  let cmdline = DEFAULT_CMDLINE;
  try {
    const m = JSON.parse(readFileSync(img.manifest, "utf8")) as { cmdline?: unknown };
    if (typeof m.cmdline === "string") cmdline = m.cmdline;
  } catch { /* the default command line */ }
  for (const p of [img.kernel, img.initrd, img.rootfs]) files.set(`/image/${basename(p)}`, { path: p, type: "application/octet-stream" });
  const manifest = { kernel: basename(img.kernel), initrd: basename(img.initrd), rootfs: basename(img.rootfs), cmdline };
  files.set("/image/manifest.json", { path: null, body: new TextEncoder().encode(JSON.stringify(manifest)), type: CONTENT_TYPES[".json"] });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (opts.isolation) {
      res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
      res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    }
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    res.setHeader("Cache-Control", "no-cache");
    const url = new URL(req.url ?? "/", "http://localhost");
    const f = files.get(url.pathname);
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405, { Allow: "GET, HEAD" }).end(); return; }
    if (f === undefined) { res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n"); return; }
    let size: number;
    if (f.body !== undefined) size = f.body.length;
    else {
      // Validators (RFC 9110 section 8.8): a disk overlay saved in the browser belongs to one version of the image.
      const st = statSync(f.path as string);
      size = st.size;
      res.setHeader("Last-Modified", st.mtime.toUTCString());
      res.setHeader("ETag", `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`);
    }
    const range = parseRange(req.headers.range, size);
    res.setHeader("Accept-Ranges", "bytes");
    res.setHeader("Content-Type", f.type);
    if (range === "unsatisfiable") { res.writeHead(416, { "Content-Range": `bytes */${size}` }).end(); return; }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    const headers: Record<string, string | number> = { "Content-Length": Math.max(end - start + 1, 0) };
    if (range !== null) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range !== null ? 206 : 200, headers);
    if (req.method === "HEAD" || size === 0) { res.end(); return; }
    if (f.body !== undefined) { res.end(f.body.subarray(start, end + 1)); return; }
    const stream = createReadStream(f.path as string, { start, end });
    stream.on("error", () => res.destroy());
    stream.pipe(res);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(opts.port, opts.host, resolve); });
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : opts.port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`, server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "8080" },
    "no-isolation": { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false },
  } });
  if (values.help) {
    process.stdout.write("usage: npm run web -- [--host ADDR] [--port N] [--no-isolation]\n"
      + "  serves rvisor's in-tab VM and the default guest image (npm run image); --no-isolation leaves out\n"
      + "  the COOP/COEP headers, so the page runs without SharedArrayBuffer (the fallback path)\n");
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) { process.stderr.write(`rvisor web: bad --port '${values.port}'\n`); return 2; }
  const web = await startWebServer({ host: values.host, port, isolation: !values["no-isolation"], webRoot: DEFAULT_WEB_ROOT, image: await defaultGuestImage() });
  process.stdout.write(`rvisor web: serving the in-tab VM at ${web.url} (${values["no-isolation"] ? "not cross-origin isolated" : "cross-origin isolated: COOP/COEP"}); Ctrl-C stops\n`);
  return new Promise<number>(() => { /* serves until interrupted */ });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`rvisor web: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

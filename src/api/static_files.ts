// The web console's files (index.html, console.js, xterm.css, ...), served by `rvisor serve` at
// /ui/. They are the same for everyone and hold no data, so they need no token; the page then
// calls the API with the token the user gives it. Only the files found in the folder at start
// are served (a fixed list: no path from the request reaches the file system), each with
// headers that keep the page from being framed, sniffed or sent as a referrer, and a Content
// Security Policy that lets it load only its own scripts and talk only to this server.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".map": "application/json", ".json": "application/json",
};

/**
 * CSP (W3C Content Security Policy Level 3): scripts from this origin only; xterm.js sets
 * inline styles, hence 'unsafe-inline' for styles; fetch and WebSocket to this origin only
 * ('self' covers ws: and wss: to the same host in CSP 3).
 */
export const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": UI_CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export class StaticFiles {
  private readonly files = new Map<string, { path: string; type: string }>();

  constructor(readonly root: string) {
    if (!existsSync(root)) return;
    for (const name of readdirSync(root)) {
      const path = join(root, name);
      const type = CONTENT_TYPES[extname(name)];
      if (type !== undefined && statSync(path).isFile()) this.files.set(name, { path, type });
    }
  }

  /** Whether the folder held the page (index.html). */
  get built(): boolean { return this.files.has("index.html"); }

  /** Answers GET/HEAD for `name` (a file name under `prefix`; "" the page; null: redirect to `prefix`). */
  serve(req: IncomingMessage, res: ServerResponse, name: string | null, prefix: string): void {
    const text = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") { text(405, `${req.method ?? ""} is not allowed here (GET, HEAD)\n`, { allow: "GET, HEAD" }); return; }
    if (name === null) { text(302, `the web console is at ${prefix}\n`, { location: prefix }); return; }
    if (!this.built) { text(404, `the web console is not built in ${this.root} (npm run web:build)\n`); return; }
    const f = this.files.get(name === "" ? "index.html" : name);
    if (f === undefined) { text(404, "not found\n"); return; }
    let body: Buffer;
    try { body = readFileSync(f.path); } catch { text(404, "not found\n"); return; }
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": f.type, "content-length": String(body.length) });
    res.end(req.method === "HEAD" ? undefined : body);
  }
}

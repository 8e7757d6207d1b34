// rvisor serve [--socket PATH] [--listen HOST:PORT --token-file FILE]
// Serves the REST API (src/api/server.ts) until SIGINT/SIGTERM. By default on a Unix socket,
// $RVISOR_HOME/api.sock (mode 0600); with --listen on TCP instead (or as well, when --socket is
// also given), which requires a bearer token read from --token-file. On TCP it also serves the
// web console (src/web) at /ui/: open http://HOST:PORT/ui/#token=TOKEN, or give the token there.
import { readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ApiServer } from "../api/server.js";
import { Hypervisor } from "../host/node/hypervisor.js";

/** A token shorter than this is refused: it would be guessable. */
export const TOKEN_MIN_CHARS = 16;

/** Warm VM processes `rvisor serve` keeps by default (src/host/node/vm_pool.ts). */
const DEFAULT_WARM_POOL = 1;

export const SERVE_USAGE = `usage: rvisor serve [--socket PATH] [--listen HOST:PORT --token-file FILE] [--warm-pool N]
  Serves the REST API (OpenAPI document at GET /v1/openapi.json).
  --socket PATH       the Unix socket (default $RVISOR_HOME/api.sock; mode 0600, no token)
  --listen HOST:PORT  serve on TCP instead (add --socket to serve on both); needs --token-file
  --token-file FILE   the bearer token clients send (Authorization: Bearer TOKEN), at least
                      ${TOKEN_MIN_CHARS} characters; the file's surrounding whitespace is ignored
  --warm-pool N       keep N VM processes started ahead (Node and modules loaded), each handed to
                      the next VM that starts or is restored from shut off (default ${DEFAULT_WARM_POOL}; 0: none)
  The web console (a page for a browser: VMs, their actions, snapshots and serial consoles) is
  at http://HOST:PORT/ui/ on the TCP listener; it asks for the token (or takes #token=TOKEN).
`;

const PORT_MAX = 0xffff;
/** sun_path is 108 bytes on Linux, NUL included. */
const SUN_PATH_MAX = 107;

/** A refusal printed as `rvisor serve: MESSAGE`, exit status `code` (2 usage, 1 the server cannot start). */
export class ServeUsageError extends Error {
  constructor(message: string, readonly code = 2) { super(message); }
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 0 && port <= PORT_MAX)) throw new ServeUsageError(`--listen '${v}': use HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: m[1] ?? m[2], port };
}

/** Removes a stale socket file; refuses when another server answers on it. */
function claimSocket(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => { s.destroy(); reject(new ServeUsageError(`another server is listening on ${path}`, 1)); });
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED") rmSync(path, { force: true });
      resolve();
    });
  });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function serveMain(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseArgs({ args: argv, options: { socket: { type: "string" }, listen: { type: "string" }, "token-file": { type: "string" }, "warm-pool": { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true }).values;
  } catch (e) { process.stderr.write(`rvisor serve: ${(e as Error).message.split("\n")[0]}\n`); return 2; }
  if (o.help === true) { process.stdout.write(SERVE_USAGE); return 0; }
  try {
    const pool = o["warm-pool"] === undefined ? DEFAULT_WARM_POOL : Number(o["warm-pool"]);
    if (!/^\d+$/.test(o["warm-pool"] ?? "0")) throw new ServeUsageError(`--warm-pool: expected a whole number (got '${o["warm-pool"]}')`);
    const hv = new Hypervisor({ warmPool: pool });
    const listen = o.listen === undefined ? null : parseListen(o.listen);
    let token: string | null = null;
    if (o["token-file"] !== undefined) {
      if (o.listen === undefined) throw new ServeUsageError("--token-file is for --listen (the Unix socket is guarded by its file mode)");
      try { token = readFileSync(o["token-file"], "utf8").trim(); } catch (e) { throw new ServeUsageError(`--token-file: cannot read '${o["token-file"]}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
      if (token.length < TOKEN_MIN_CHARS || /\s/.test(token)) throw new ServeUsageError(`--token-file: the token must be at least ${TOKEN_MIN_CHARS} characters without whitespace`);
    }
    if (o.listen !== undefined && token === null) throw new ServeUsageError("--listen needs --token-file: a TCP listener requires a bearer token");
    const socket = o.socket ?? (listen === null ? join(hv.home, "api.sock") : null);
    if (socket !== null && Buffer.byteLength(socket) > SUN_PATH_MAX) throw new ServeUsageError(`the socket path ${socket} is longer than ${SUN_PATH_MAX} bytes: give a shorter --socket`);
    hv.store.ensure();
    const server = new ApiServer({ hypervisor: hv, version: version() });
    if (socket !== null) {
      await claimSocket(socket);
      await server.listenUnix(socket);
      process.stdout.write(`rvisor API listening on unix:${socket}\n`);
    }
    if (listen !== null && token !== null) {
      const a = await server.listenTcp(listen.host, listen.port, token);
      const base = `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
      process.stdout.write(`rvisor API listening on ${base} (bearer token required)\n`);
      process.stdout.write(server.hasWebConsole ? `rvisor web console at ${base}/ui/ (it asks for the token, or open ${base}/ui/#token=TOKEN)\n`
        : "rvisor web console not built (npm run web:build): /ui/ answers 404\n");
    }
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    hv.close();
    await server.close();
    if (socket !== null) rmSync(socket, { force: true });
    return 0;
  } catch (e) {
    if (e instanceof ServeUsageError) { process.stderr.write(`rvisor serve: ${e.message}\n`); return e.code; }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === "string") { process.stderr.write(`rvisor serve: ${err.message}\n`); return 1; }
    throw e;
  }
}

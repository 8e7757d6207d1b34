// `rvisor serve`: the REST API over node:http, a client of the Node API (Hypervisor) as the CLI is.
//
// Each request is routed by the operation table of the OpenAPI document (src/api/openapi.ts),
// its path parameters, query and JSON body are validated (the body against the document's JSON
// Schema, compiled by ajv) before a handler runs, and the handler turns it into one Hypervisor
// call. Every refusal is a 4xx with {"fault_message": ...} (Firecracker's error shape) and leaves
// every VM as it was: validation happens first, and Hypervisor.update writes a definition only
// once the whole new one is valid.
//
// Listeners: a Unix socket (mode 0600, no authentication, as Firecracker's and Docker's), or TCP,
// which requires a bearer token (Authorization: Bearer TOKEN), compared in constant time. A
// browser cannot send that header on a WebSocket, so on TCP the console upgrade also takes a
// single-use ticket (?ticket=, from POST /v1/vms/{name}/console/ticket; console_tickets.ts).
//
// The web console (src/web: a page that calls this API) is served at /ui/ (and / redirects
// there). Its files hold no data, so they need no token; everything under /v1 does.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { chmodSync, createReadStream, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { timingSafeEqual } from "node:crypto";
import { WebSocketServer } from "ws";
import { validateName, VmConfigError, DRIVE_ID_PATTERN, IFACE_ID_PATTERN, type VmConfig } from "../hypervisor/config.js";
import { HypervisorError, type HypervisorErrorKind, type VmConfigInput } from "../hypervisor/api.js";
import { SnapshotRecordError, validateSnapshotName } from "../hypervisor/snapshots.js";
import { ControlError } from "../host/node/vm_control.js";
import type { Hypervisor } from "../host/node/hypervisor.js";
import { OPERATIONS, openApiDocument, type Operation, type OperationId, type SchemaName } from "./openapi.js";
import { compileSchemas, type Validators } from "./validate.js";
import {
  bootSourceOf, driveOf, findDrive, fullConfigOf, machineConfigOf, withBootSource, withDrive, withDrivePatch, withMachineConfig, withoutDrive,
  networkInterfaceOf, withNetworkInterface, withoutNetworkInterface,
  type BootSource, type Drive, type MachineConfiguration, type NetworkInterface, type PartialDrive,
} from "./firecracker.js";
import { bridgeConsole } from "./console_ws.js";
import { ConsoleTickets } from "./console_tickets.js";
import { StaticFiles } from "./static_files.js";

const MS_PER_S = 1000;

/** Request bodies are small JSON objects; anything larger is refused (413) unread. */
export const MAX_BODY_BYTES = 64 * 1024;
/** A WebSocket message (console input) larger than this closes the connection (1009). */
const MAX_WS_PAYLOAD = 1 << 20;

export const HTTP_OK = 200, HTTP_CREATED = 201, HTTP_NO_CONTENT = 204;
export const HTTP_BAD_REQUEST = 400, HTTP_UNAUTHORIZED = 401, HTTP_FORBIDDEN = 403, HTTP_NOT_FOUND = 404, HTTP_METHOD_NOT_ALLOWED = 405,
  HTTP_CONFLICT = 409, HTTP_PAYLOAD_TOO_LARGE = 413, HTTP_UNSUPPORTED_MEDIA_TYPE = 415, HTTP_UPGRADE_REQUIRED = 426, HTTP_INTERNAL = 500;

const STATUS_OF_KIND: Record<HypervisorErrorKind, number> = {
  not_found: HTTP_NOT_FOUND, exists: HTTP_CONFLICT, state: HTTP_CONFLICT, limit: HTTP_FORBIDDEN, failed: HTTP_INTERNAL,
};

/** A refusal with its HTTP status; the message becomes the fault_message. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) { super(message); }
}

/** The status and message an error becomes. */
export function faultOf(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof VmConfigError || e instanceof SnapshotRecordError) return new ApiError(HTTP_BAD_REQUEST, e.message);
  if (e instanceof HypervisorError) return new ApiError(STATUS_OF_KIND[e.kind], e.message);
  if (e instanceof ControlError) return new ApiError(HTTP_INTERNAL, `the VM process did not answer: ${e.message}`);
  return new ApiError(HTTP_INTERNAL, `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * A response: a JSON or text body sent whole, or `stream`, which writes the body itself after the
 * head (chunked unless `headers` give its content-length) and ends it.
 */
type Reply = { status: number; json?: unknown; text?: string | Buffer; headers?: Record<string, string>; stream?: (res: ServerResponse) => void };

const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8" };

interface Ctx {
  name: string;
  driveId: string;
  ifaceId: string;
  snapshot: string;
  query: Map<string, boolean | number | string>;
  body: unknown;
}

type Handler = (c: Ctx) => Promise<Reply> | Reply;

const NO_CONTENT: Reply = { status: HTTP_NO_CONTENT };

interface CompiledRoute { op: Operation; re: RegExp; params: string[] }

function compileRoutes(): CompiledRoute[] {
  return (OPERATIONS as readonly Operation[]).map((op) => {
    const params: string[] = [];
    const src = op.path.replace(/[.]/g, "\\.").replace(/\{(\w+)\}/g, (_m, p: string) => { params.push(p); return "([^/]+)"; });
    return { op, re: new RegExp(`^${src}$`), params };
  });
}

function bearerOk(header: string | undefined, token: Buffer): boolean {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) return false;
  const given = Buffer.from(m[1]);
  return given.length === token.length && timingSafeEqual(given, token);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > MAX_BODY_BYTES) { reject(new ApiError(HTTP_PAYLOAD_TOO_LARGE, `the body is larger than ${MAX_BODY_BYTES} bytes`)); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY_BYTES) { reject(new ApiError(HTTP_PAYLOAD_TOO_LARGE, `the body is larger than ${MAX_BODY_BYTES} bytes`)); req.pause(); return; }
      chunks.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export interface ApiServerOptions {
  hypervisor: Hypervisor;
  /** rvisor's version, for the document's info.version. */
  version: string;
  /**
   * The web console's files (scripts/web-build.mjs writes them to dist/web/console); default
   * that folder. null: no web console (/ui/ answers 404).
   */
  webRoot?: string | null;
}

/** Where scripts/web-build.mjs puts the web console (dist/web/console beside dist/src). */
export const DEFAULT_CONSOLE_ROOT = new URL("../../web/console/", import.meta.url).pathname;
/** The web console's path prefix. */
export const UI_PREFIX = "/ui/";

export class ApiServer {
  private readonly hv: Hypervisor;
  private readonly routes = compileRoutes();
  private readonly validators: Validators;
  private readonly document: string;
  private readonly servers: Server[] = [];
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD });
  private readonly handlers: Record<OperationId, Handler>;
  private readonly tickets = new ConsoleTickets();
  private readonly ui: StaticFiles | null;

  constructor(opts: ApiServerOptions) {
    this.hv = opts.hypervisor;
    const webRoot = opts.webRoot === undefined ? DEFAULT_CONSOLE_ROOT : opts.webRoot;
    this.ui = webRoot === null ? null : new StaticFiles(webRoot);
    const doc = openApiDocument(opts.version);
    this.document = JSON.stringify(doc);
    this.validators = compileSchemas(doc);
    const hv = this.hv;
    const update = async (c: Ctx, change: (cfg: VmConfig) => VmConfig): Promise<Reply> => { await hv.update(c.name, change); return NO_CONTENT; };
    this.handlers = {
      getOpenApi: () => ({ status: HTTP_OK, text: this.document, headers: { "content-type": "application/json" } }),
      listVms: async () => ({ status: HTTP_OK, json: await hv.list() }),
      createVm: async (c) => {
        const cfg = await hv.create(c.body as VmConfigInput);
        return { status: HTTP_CREATED, json: await hv.info(cfg.name), headers: { location: `/v1/vms/${encodeURIComponent(cfg.name)}` } };
      },
      getVm: async (c) => ({ status: HTTP_OK, json: await hv.info(c.name) }),
      deleteVm: async (c) => { await hv.rm(c.name, { force: c.query.get("force") === true }); return NO_CONTENT; },
      getMachineConfiguration: (c) => ({ status: HTTP_OK, json: machineConfigOf(hv.config(c.name)) }),
      putMachineConfiguration: (c) => update(c, (cfg) => withMachineConfig(cfg, c.body as MachineConfiguration, true)),
      patchMachineConfiguration: (c) => update(c, (cfg) => withMachineConfig(cfg, c.body as Partial<MachineConfiguration>, false)),
      getBootSource: (c) => ({ status: HTTP_OK, json: bootSourceOf(hv.config(c.name)) }),
      putBootSource: (c) => update(c, (cfg) => withBootSource(cfg, c.body as BootSource)),
      listDrives: (c) => ({ status: HTTP_OK, json: hv.config(c.name).disks.map(driveOf) }),
      getDrive: (c) => ({ status: HTTP_OK, json: driveOf(findDrive(hv.config(c.name), c.driveId)) }),
      putDrive: (c) => update(c, (cfg) => withDrive(cfg, c.driveId, c.body as Drive)),
      patchDrive: (c) => update(c, (cfg) => withDrivePatch(cfg, c.driveId, c.body as PartialDrive)),
      deleteDrive: (c) => update(c, (cfg) => withoutDrive(cfg, c.driveId)),
      listNetworkInterfaces: (c) => ({ status: HTTP_OK, json: hv.config(c.name).network.map(networkInterfaceOf) }),
      putNetworkInterface: (c) => update(c, (cfg) => withNetworkInterface(cfg, c.ifaceId, c.body as NetworkInterface)),
      deleteNetworkInterface: (c) => update(c, (cfg) => withoutNetworkInterface(cfg, c.ifaceId)),
      createSyncAction: async (c) => {
        const body = c.body as { action_type: "InstanceStart" | "SendCtrlAltDel" | "InstanceStop" | "InstanceKill"; timeout_s?: number };
        const action = body.action_type;
        if (body.timeout_s !== undefined && action !== "InstanceStop") throw new VmConfigError("timeout_s", "is an InstanceStop option");
        if (action === "InstanceStart") await hv.start(c.name);
        else if (action === "SendCtrlAltDel") await hv.powerButton(c.name);
        else if (action === "InstanceStop") await hv.stop(c.name, { timeoutMs: body.timeout_s === undefined ? undefined : body.timeout_s * MS_PER_S });
        else await hv.kill(c.name);
        return NO_CONTENT;
      },
      patchVm: async (c) => {
        if ((c.body as { state: "Paused" | "Resumed" }).state === "Paused") await hv.pause(c.name);
        else await hv.resume(c.name);
        return NO_CONTENT;
      },
      listSnapshots: (c) => ({
        status: HTTP_OK, json: hv.snapshots(c.name).map((s) => ({ name: s.name, snapshot: s.record, error: s.error })),
      }),
      getSnapshot: (c) => {
        const s = hv.snapshots(c.name).find((x) => x.name === c.snapshot);
        if (s === undefined) throw new ApiError(HTTP_NOT_FOUND, `VM '${c.name}' has no snapshot '${c.snapshot}'`);
        if (s.record === null) throw new ApiError(HTTP_INTERNAL, s.error);
        return { status: HTTP_OK, json: s.record };
      },
      deleteSnapshot: async (c) => { await hv.removeSnapshot(c.name, c.snapshot); return NO_CONTENT; },
      createSnapshot: async (c) => {
        const r = await hv.snapshot(c.name, (c.body as { snapshot_name?: string }).snapshot_name);
        return { status: HTTP_CREATED, json: r, headers: { location: `/v1/vms/${encodeURIComponent(c.name)}/snapshots/${encodeURIComponent(r.name)}` } };
      },
      loadSnapshot: async (c) => {
        const b = c.body as { snapshot_name: string; resume_vm?: boolean };
        await hv.restore(c.name, b.snapshot_name, { state: b.resume_vm === undefined ? undefined : b.resume_vm ? "running" : "paused" });
        return NO_CONTENT;
      },
      cloneVm: async (c) => {
        const b = c.body as { name: string; snapshot_name?: string };
        const cfg = await hv.clone(c.name, b.name, { snapshot: b.snapshot_name });
        return { status: HTTP_CREATED, json: await hv.info(cfg.name), headers: { location: `/v1/vms/${encodeURIComponent(cfg.name)}` } };
      },
      getVmConfig: (c) => ({ status: HTTP_OK, json: fullConfigOf(hv.config(c.name)) }),
      getLogs: (c) => {
        const tail = c.query.get("tail");
        const opts = { tail: typeof tail === "number" ? tail : undefined };
        if (c.query.get("follow") !== true) return { status: HTTP_OK, text: hv.logs(c.name, opts), headers: TEXT_PLAIN };
        hv.config(c.name); // an unknown VM is refused before the head is sent (parseQuery checked tail)
        // docker logs -f / journalctl -f: the kept output, then each chunk as the VM writes it
        // (chunked), across the VM's stops and starts, until the client goes away.
        return {
          status: HTTP_OK, headers: TEXT_PLAIN, stream: (res) => {
            try {
              const stop = hv.followLogs(c.name, (b) => { res.write(b); }, { ...opts, kept: true });
              res.once("close", stop);
            } catch { res.end(); } // deleted in between
          },
        };
      },
      getSnapshotFile: (c) => {
        const f = hv.snapshotFile(c.name, c.snapshot);
        let bytes: number;
        try { bytes = statSync(f.path).size; } catch (e) {
          throw new ApiError(HTTP_INTERNAL, `snapshot '${c.snapshot}' of VM '${c.name}' has no machine file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        }
        return {
          status: HTTP_OK,
          headers: { "content-type": "application/octet-stream", "content-length": String(bytes), "content-disposition": `attachment; filename="${c.name}-${c.snapshot}.rvsnap"` },
          stream: (res) => { createReadStream(f.path).on("error", () => res.destroy()).pipe(res); },
        };
      },
      createConsoleTicket: (c) => {
        hv.config(c.name); // a VM that exists (404 otherwise); whether it runs is the upgrade's to say
        const t = this.tickets.issue(c.name);
        return { status: HTTP_CREATED, json: { ticket: t.ticket, expires_in_s: Math.ceil((t.expiresAt - Date.now()) / MS_PER_S) } };
      },
      getConsole: () => { throw new ApiError(HTTP_UPGRADE_REQUIRED, "the console is a WebSocket: send an Upgrade: websocket request", { upgrade: "websocket" }); },
    };
  }

  /** Whether /ui/ serves the web console (its files were found). */
  get hasWebConsole(): boolean { return this.ui !== null && this.ui.built; }

  /** Serves on a Unix socket (made mode 0600: only its owner may connect). */
  async listenUnix(path: string): Promise<void> {
    const server = this.makeServer(null);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => { server.off("error", reject); resolve(); });
    });
    chmodSync(path, 0o600);
  }

  /** Serves on TCP; every request must carry `Authorization: Bearer TOKEN`. */
  async listenTcp(host: string, port: number, token: string): Promise<AddressInfo> {
    if (token.length === 0) throw new Error("a TCP listener needs a bearer token");
    const server = this.makeServer(Buffer.from(token));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => { server.off("error", reject); resolve(); });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); })));
  }

  private makeServer(token: Buffer | null): Server {
    const server = createServer((req, res) => { void this.handle(req, res, token); });
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.upgrade(req, socket, head, token); });
    server.on("clientError", (_e, socket) => { if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"); });
    this.servers.push(server);
    return server;
  }

  /** Finds the operation and its path parameters, or the refusal (404, 405). */
  private route(method: string, pathname: string): { op: Operation; ctx: Ctx } {
    const allowed: string[] = [];
    for (const r of this.routes) {
      const m = r.re.exec(pathname);
      if (m === null) continue;
      if (r.op.method !== method) { allowed.push(r.op.method); continue; }
      const ctx: Ctx = { name: "", driveId: "", ifaceId: "", snapshot: "", query: new Map(), body: undefined };
      r.params.forEach((p, i) => {
        let v: string;
        try { v = decodeURIComponent(m[i + 1]); } catch { throw new ApiError(HTTP_BAD_REQUEST, `bad percent-encoding in the path: '${m[i + 1]}'`); }
        if (p === "name") ctx.name = validateName(v);
        else if (p === "snapshot_name") ctx.snapshot = validateSnapshotName(v);
        else if (p === "iface_id") {
          if (!IFACE_ID_PATTERN.test(v)) throw new VmConfigError("iface_id", `invalid interface id '${v}': use 1 to 64 letters, digits, '_' or '-'`);
          ctx.ifaceId = v;
        }
        else if (!DRIVE_ID_PATTERN.test(v)) throw new VmConfigError("drive_id", `invalid drive id '${v}': use 1 to 64 letters, digits, '_' or '-'`);
        else ctx.driveId = v;
      });
      return { op: r.op, ctx };
    }
    if (allowed.length > 0) throw new ApiError(HTTP_METHOD_NOT_ALLOWED, `${method} is not allowed on ${pathname} (allowed: ${allowed.join(", ")})`, { allow: allowed.join(", ") });
    throw new ApiError(HTTP_NOT_FOUND, `no such resource: ${pathname}`);
  }

  private parseQuery(op: Operation, params: URLSearchParams, ctx: Ctx): void {
    const declared = op.query ?? [];
    for (const [k, v] of params) {
      const q = declared.find((d) => d.name === k);
      if (q === undefined) throw new ApiError(HTTP_BAD_REQUEST, `unknown query parameter '${k}'${declared.length > 0 ? ` (valid: ${declared.map((d) => d.name).join(", ")})` : ""}`);
      if (ctx.query.has(k)) throw new ApiError(HTTP_BAD_REQUEST, `query parameter '${k}' is given twice`);
      if (q.type === "string") ctx.query.set(k, v);
      else if (q.type === "boolean") {
        if (v !== "true" && v !== "false") throw new ApiError(HTTP_BAD_REQUEST, `query parameter '${k}' must be true or false (got '${v}')`);
        ctx.query.set(k, v === "true");
      } else {
        if (!/^\d{1,9}$/.test(v)) throw new ApiError(HTTP_BAD_REQUEST, `query parameter '${k}' must be a whole number (got '${v}')`);
        ctx.query.set(k, Number(v));
      }
    }
  }

  private async parseBody(op: Operation, req: IncomingMessage, ctx: Ctx): Promise<void> {
    const raw = await readBody(req);
    if (op.body === undefined) {
      if (raw.length > 0) throw new ApiError(HTTP_BAD_REQUEST, `${op.method} ${op.path} takes no body`);
      return;
    }
    const type = req.headers["content-type"];
    if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError(HTTP_UNSUPPORTED_MEDIA_TYPE, `the body must be application/json (got '${type}')`);
    }
    if (raw.length === 0) throw new ApiError(HTTP_BAD_REQUEST, `${op.method} ${op.path} needs a JSON body (${op.body})`);
    let body: unknown;
    try { body = JSON.parse(raw.toString("utf8")) as unknown; } catch (e) {
      throw new ApiError(HTTP_BAD_REQUEST, `malformed JSON: ${(e as Error).message}`);
    }
    this.check(op.body, body);
    ctx.body = body;
  }

  private check(schema: SchemaName, value: unknown): void {
    const problem = this.validators.problem(schema, value);
    if (problem !== null) throw new ApiError(HTTP_BAD_REQUEST, problem);
  }

  /**
   * Authenticates a request (TCP listeners), routes it and parses its query. `upgrade`: the
   * request is a WebSocket upgrade, which may show a console ticket instead of the token; an
   * unauthenticated request learns nothing else (every refusal is the same 401).
   */
  private accept(req: IncomingMessage, token: Buffer | null, upgrade = false): { op: Operation; ctx: Ctx } {
    const url = new URL(req.url ?? "/", "http://rvisor");
    if (token !== null && !bearerOk(req.headers.authorization, token)) {
      const unauthorized = new ApiError(HTTP_UNAUTHORIZED, `missing or wrong bearer token (Authorization: Bearer TOKEN)${upgrade ? " or console ticket (?ticket=)" : ""}`,
        { "www-authenticate": 'Bearer realm="rvisor"' });
      if (!upgrade) throw unauthorized;
      let r: { op: Operation; ctx: Ctx };
      try {
        r = this.route(req.method ?? "GET", url.pathname);
        this.parseQuery(r.op, url.searchParams, r.ctx);
      } catch { throw unauthorized; }
      const ticket = r.ctx.query.get("ticket");
      if (r.op.operationId !== "getConsole" || typeof ticket !== "string" || !this.tickets.take(ticket, r.ctx.name)) throw unauthorized;
      return r;
    }
    const r = this.route(req.method ?? "GET", url.pathname);
    this.parseQuery(r.op, url.searchParams, r.ctx);
    return r;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, token: Buffer | null): Promise<void> {
    let reply: Reply;
    const pathname = (req.url ?? "/").split("?")[0];
    if (pathname === "/" || pathname === UI_PREFIX.slice(0, -1) || pathname.startsWith(UI_PREFIX)) {
      if (this.ui === null) this.send(res, { status: HTTP_NOT_FOUND, json: { fault_message: "this server has no web console" } });
      else this.ui.serve(req, res, pathname === "/" || pathname === UI_PREFIX.slice(0, -1) ? null : pathname.slice(UI_PREFIX.length), UI_PREFIX);
      return;
    }
    try {
      const { op, ctx } = this.accept(req, token);
      await this.parseBody(op, req, ctx);
      reply = await this.handlers[op.operationId as OperationId](ctx);
    } catch (e) {
      const f = faultOf(e);
      reply = { status: f.status, json: { fault_message: f.message }, headers: f.headers };
    }
    this.send(res, reply);
  }

  private send(res: ServerResponse, r: Reply): void {
    const headers: Record<string, string> = { ...r.headers };
    if (r.stream !== undefined) { res.writeHead(r.status, headers); r.stream(res); return; }
    let body: string | Buffer = "";
    if (r.json !== undefined) { body = JSON.stringify(r.json); headers["content-type"] ??= "application/json"; }
    else if (r.text !== undefined) body = r.text;
    if (r.status !== HTTP_NO_CONTENT) headers["content-length"] = String(Buffer.byteLength(body));
    // A request refused before its body was read: the rest of the connection is not trusted.
    if (r.status === HTTP_PAYLOAD_TOO_LARGE) headers.connection = "close";
    res.writeHead(r.status, headers);
    res.end(r.status === HTTP_NO_CONTENT ? undefined : body);
  }

  /** GET /v1/vms/{name}/console with Upgrade: websocket. Refusals are HTTP responses with a JSON fault body, before the upgrade. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, token: Buffer | null): Promise<void> {
    socket.on("error", () => socket.destroy());
    let stream: Duplex;
    try {
      const { op, ctx } = this.accept(req, token, true);
      if (op.operationId !== "getConsole") throw new ApiError(HTTP_BAD_REQUEST, `${op.path} is not a WebSocket endpoint`);
      stream = await this.hv.console(ctx.name);
    } catch (e) {
      const f = faultOf(e);
      const body = JSON.stringify({ fault_message: f.message });
      const extra = Object.entries(f.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.end(`HTTP/1.1 ${f.status} ${STATUS_CODES[f.status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${extra}Connection: close\r\n\r\n${body}`);
      return;
    }
    // ws answers a malformed handshake itself (400) without calling back: the console stream then goes.
    let upgraded = false;
    socket.once("close", () => { if (!upgraded) stream.destroy(); });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      bridgeConsole(ws, stream, (v: unknown) => this.validators.problem("ConsoleControl", v));
    });
  }
}

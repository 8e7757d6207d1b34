// A client of rvisor's REST API for tests: requests over a Unix socket (or TCP), and a check of
// every response against the OpenAPI document the server serves — the status must be one the
// operation declares (or a 4XX/5XX range it declares), and the body must match the declared
// schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). It compiles the document itself
// rather than reusing the server's validators, so a schema the server skips still gets checked.
import { request, type IncomingMessage } from "node:http";
import assert from "node:assert/strict";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { WebSocket } from "ws";
import { scaled } from "./time_scale.js";

export interface ApiResponse { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: unknown; body: Buffer }

/** A response whose body is still arriving (a followed log): its head, checked against the document, and the stream. */
export interface OpenResponse { status: number; headers: Record<string, string | string[] | undefined>; res: IncomingMessage }

type Doc = {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
  components: { schemas: Record<string, unknown> };
};

export type Target = { socketPath: string } | { host: string; port: number };

export class ApiClient {
  private doc: Doc | null = null;
  private readonly validators = new Map<string, ValidateFunction>();
  private ajv: Ajv2020 | null = null;
  /** Operation ids and statuses seen, for coverage checks. */
  readonly seen = new Map<string, Set<number>>();

  constructor(readonly target: Target, private readonly token: string | null = null) {}

  /** Sends a raw request; `body` is sent as given (a string or bytes), JSON-encoded if it is anything else. */
  raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    const h: Record<string, string> = { ...headers };
    if (payload !== undefined) {
      h["content-type"] ??= "application/json";
      h["content-length"] = String(Buffer.byteLength(payload));
    }
    if (this.token !== null) h.authorization ??= `Bearer ${this.token}`;
    return new Promise((resolve, reject) => {
      const req = request({ ...this.target, method, path, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const text = body.toString("utf8");
          let json: unknown = undefined;
          if (text !== "" && /application\/json/.test(res.headers["content-type"] ?? "")) json = JSON.parse(text) as unknown;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, body });
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** The served document, compiled once. */
  async document(): Promise<Doc> {
    if (this.doc === null) {
      const r = await this.raw("GET", "/v1/openapi.json");
      assert.equal(r.status, 200);
      const doc = r.json as Doc & { openapi: string };
      assert.equal(doc.openapi, "3.1.0");
      this.ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
      this.ajv.addKeyword("components");
      this.ajv.addSchema({ $id: "doc", components: doc.components });
      for (const name of Object.keys(doc.components.schemas)) {
        const v = this.ajv.getSchema(`doc#/components/schemas/${name}`);
        assert.ok(v !== undefined, `schema ${name} does not compile`);
        this.validators.set(`#/components/schemas/${name}`, v);
      }
      this.doc = doc;
      this.seen.set("getOpenApi", new Set([r.status]));
    }
    return this.doc;
  }

  /** Sends a request and checks the response against the document's operation for (method, template). */
  async call(method: string, template: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse> {
    const r = await this.raw(method, path, body, headers);
    await this.check(method, template, r);
    return r;
  }

  /**
   * Sends a GET whose body does not end by itself (logs?follow=true) and resolves with its head
   * once it arrives, checked against the document (status and content type); the caller reads and
   * destroys `res`.
   */
  open(template: string, path: string): Promise<OpenResponse> {
    const h: Record<string, string> = this.token === null ? {} : { authorization: `Bearer ${this.token}` };
    return new Promise((resolve, reject) => {
      const req = request({ ...this.target, method: "GET", path, headers: h }, (res) => {
        const head = { status: res.statusCode ?? 0, headers: res.headers, text: "", json: undefined, body: Buffer.alloc(0) };
        this.check("GET", template, head).then(() => resolve({ status: head.status, headers: res.headers, res }), (e: unknown) => { res.destroy(); reject(e instanceof Error ? e : new Error(String(e))); });
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** Checks a response against what the document declares for (method, template). */
  async check(method: string, template: string, r: ApiResponse): Promise<void> {
    const doc = await this.document();
    const op = doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op !== undefined, `the document has no ${method} ${template}`);
    const statuses = this.seen.get(op.operationId) ?? new Set<number>();
    statuses.add(r.status);
    this.seen.set(op.operationId, statuses);
    const range = `${String(r.status)[0]}XX`;
    const decl = op.responses[String(r.status)] ?? op.responses[range];
    assert.ok(decl !== undefined, `${method} ${template}: status ${r.status} is not declared (${Object.keys(op.responses).join(", ")}); body ${r.text}`);
    if (decl.content === undefined) { assert.equal(r.text, "", `${method} ${template} ${r.status}: a body where none is declared`); return; }
    const [type, media] = Object.entries(decl.content)[0];
    assert.ok(String(r.headers["content-type"] ?? "").startsWith(type.split(";")[0]), `${method} ${template}: content-type ${r.headers["content-type"]}, declared ${type}`);
    if (type !== "application/json") return;
    const ref = media.schema.$ref;
    if (ref === undefined) return;
    const v = this.validators.get(ref);
    assert.ok(v !== undefined, `no schema ${ref}`);
    assert.ok(v(r.json), `${method} ${template} ${r.status}: the body does not match ${ref}: ${JSON.stringify(v.errors)}\n${r.text}`);
  }

  /** Validates a value against a component schema of the document. */
  async matches(schema: string, value: unknown): Promise<boolean> {
    await this.document();
    const v = this.validators.get(`#/components/schemas/${schema}`);
    assert.ok(v !== undefined, `no schema ${schema}`);
    return v(value);
  }

  /** Opens the console WebSocket of a VM (`query`: e.g. ticket=T); resolves once open, or rejects with the HTTP refusal (status and body). */
  console(name: string, headers: Record<string, string> = {}, query = ""): Promise<WebSocket> {
    const q = query === "" ? "" : `?${query}`;
    const url = "socketPath" in this.target ? `ws+unix://${this.target.socketPath}:/v1/vms/${name}/console${q}` : `ws://${this.target.host}:${this.target.port}/v1/vms/${name}/console${q}`;
    const h = { ...headers };
    if (this.token !== null) h.authorization ??= `Bearer ${this.token}`;
    const record = (status: number): void => {
      const statuses = this.seen.get("getConsole") ?? new Set<number>();
      statuses.add(status);
      this.seen.set("getConsole", statuses);
    };
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: h });
      ws.once("open", () => { record(101); resolve(ws); });
      ws.once("unexpected-response", (_req, res) => {
        record(res.statusCode ?? 0);
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => reject(Object.assign(new Error(`console refused: ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") })));
      });
      ws.once("error", reject);
    });
  }
}

/** Collects a WebSocket's binary frames as text and waits for patterns in them. */
export class WsConsole {
  private buf = "";
  readonly texts: string[] = [];
  closed: { code: number; reason: string } | null = null;
  constructor(readonly ws: WebSocket) {
    ws.on("message", (d: Buffer, isBinary: boolean) => { if (isBinary) this.buf += d.toString("latin1"); else this.texts.push(d.toString("utf8")); });
    ws.on("close", (code: number, reason: Buffer) => { this.closed = { code, reason: reason.toString() }; });
  }
  get output(): string { return this.buf; }
  send(s: string): void { this.ws.send(Buffer.from(s, "latin1"), { binary: true }); }
  async waitFor(pred: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + scaled(timeoutMs);
    while (!pred()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; console output:\n${this.buf.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  waitText(s: string, timeoutMs: number): Promise<void> { return this.waitFor(() => this.buf.includes(s), JSON.stringify(s), timeoutMs); }
}

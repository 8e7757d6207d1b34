// A client of the OCI distribution API (distribution-spec spec.md): GET /v2/, manifests by tag or
// digest with the image and index media types in Accept, blobs by digest; the bearer-token
// challenge (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`, Docker's token spec)
// answered with a token fetched anonymously, or with HTTP Basic credentials when there are some
// (registry_auth.ts); a `Basic` challenge (docker-registry with htpasswd) answered with the
// credentials themselves. Redirects followed (the Authorization header is dropped when the host
// changes, as registries redirect blobs to storage that must not see the token). Transient
// failures (5xx, 429, a reset or cut connection, a timeout) are retried a bounded number of
// times with exponential backoff; a blob cut off mid-way is fetched again from the start.
// http:// is used for loopback registries (as Docker treats 127.0.0.0/8) and with --insecure.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { OciError } from "../../oci/digest.js";
import { DOCKER_HUB, DOCKER_HUB_API, type ImageReference } from "../../oci/reference.js";
import { MANIFEST_ACCEPT, MANIFEST_MAX_BYTES } from "../../oci/manifest.js";
import { basicAuthorization, type Credentials } from "./registry_auth.js";

const MAX_REDIRECTS = 5;
const HTTP_OK = 200, HTTP_UNAUTHORIZED = 401, HTTP_TOO_MANY_REQUESTS = 429, HTTP_SERVER_ERROR = 500;
/** Retries after the first attempt, and the first backoff (doubling each time): 0.25 + 0.5 + 1 + 2 s at most. */
const DEFAULT_RETRIES = 4, DEFAULT_RETRY_DELAY_MS = 250;
const REQUEST_TIMEOUT_MS = 60_000;
const USER_AGENT = "rvisor";

export interface Challenge { scheme: string; params: Record<string, string> }

/** Parses `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` (RFC 7235 auth-params). */
export function parseChallenge(h: string): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(h);
  if (m === null) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (let p = re.exec(m[2]); p !== null; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

/** Loopback hosts: 127.0.0.0/8, ::1, localhost (with or without a port). */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.startsWith("[") ? hostPort.slice(1, hostPort.indexOf("]")) : hostPort.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface RegistryOptions {
  insecure?: boolean;
  /** HTTP Basic credentials (for a Basic challenge, or at a bearer challenge's token endpoint). */
  credentials?: Credentials | null;
  /** Retries of a transient failure (default 4), and the first backoff in ms (default 250, doubling). */
  retries?: number;
  retryDelayMs?: number;
}

/** A failure worth another attempt; its message is the one reported when no attempt is left. */
class TransientError extends OciError {}

/** A response that may go away: 5xx (a registry or its storage in trouble) and 429 (rate limited). */
function transientStatus(status: number): boolean { return status >= HTTP_SERVER_ERROR || status === HTTP_TOO_MANY_REQUESTS; }

export class RegistryClient {
  readonly base: string;
  /** What the registry's own origin gets as Authorization once a challenge was answered. */
  private authorization: string | null = null;
  private readonly credentials: Credentials | null;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  /** Attempts that failed transiently and were retried (for tests and diagnostics). */
  retried = 0;
  constructor(readonly ref: ImageReference, opts: RegistryOptions = {}) {
    const host = ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry;
    const scheme = opts.insecure === true || isLoopbackHost(host) ? "http" : "https";
    this.base = `${scheme}://${host}/v2/`;
    this.credentials = opts.credentials ?? null;
    this.retries = opts.retries ?? DEFAULT_RETRIES;
    this.retryDelayMs = opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  }

  /** Runs `fn` again after a TransientError, up to `retries` times with doubling delays. */
  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try { return await fn(); } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        if (attempt >= this.retries) throw new OciError(`${e.message} (${attempt + 1} attempts)`);
        this.retried++;
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** attempt));
      }
    }
  }

  /** A GET whose transient failures (network errors, 5xx, 429) throw TransientError. */
  private async getOnce(path: string, headers: Record<string, string>, what: string): Promise<IncomingMessage> {
    const res = await this.get(path, headers);
    const status = res.statusCode ?? 0;
    if (transientStatus(status)) throw new TransientError(this.error(res, await readAll(res, MANIFEST_MAX_BYTES, "error"), what).message);
    return res;
  }

  private raw(url: URL, headers: Record<string, string>, method = "GET"): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers: { "User-Agent": USER_AGENT, ...headers } }, resolve);
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      // Connection refused, reset, timed out: the registry or the network may be back in a moment.
      req.on("error", (e) => reject(new TransientError(`${url.origin}: ${e.message}`)));
      req.end();
    });
  }

  /** GET with redirects and one round of the bearer challenge. */
  async get(path: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    let url = new URL(path, this.base);
    const origin = url.origin;
    for (let hops = 0, authTried = false; ; ) {
      const h = { ...headers };
      if (this.authorization !== null && url.origin === origin) h.Authorization = this.authorization;
      const res = await this.raw(url, h);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        if (++hops > MAX_REDIRECTS) throw new OciError(`${url}: too many redirects`);
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status === HTTP_UNAUTHORIZED && url.origin === origin) {
        const c = parseChallenge(String(res.headers["www-authenticate"] ?? ""));
        res.resume();
        const who = this.credentials !== null ? ` as ${this.credentials.username}` : "";
        if (authTried) throw new OciError(`${this.ref.registry}: authentication${who} refused (401)${this.credentials === null ? NO_CREDENTIALS : ""}`);
        authTried = true;
        if (c !== null && c.scheme === "bearer" && c.params.realm !== undefined) this.authorization = `Bearer ${await this.fetchToken(c)}`;
        else if (c !== null && c.scheme === "basic" && this.credentials !== null) this.authorization = basicAuthorization(this.credentials);
        else throw new OciError(`${this.ref.registry}: authentication required (${c === null ? "no challenge" : `a ${c.scheme} challenge`})${this.credentials === null ? NO_CREDENTIALS : ""}`);
        continue;
      }
      return res;
    }
  }

  private async fetchToken(c: Challenge): Promise<string> {
    const realm = new URL(c.params.realm);
    if (c.params.service !== undefined) realm.searchParams.set("service", c.params.service);
    realm.searchParams.set("scope", c.params.scope ?? `repository:${this.ref.repository}:pull`);
    // Docker's token spec: the client authenticates to the token service (Basic), not to the registry.
    const h: Record<string, string> = { Accept: "application/json" };
    if (this.credentials !== null) h.Authorization = basicAuthorization(this.credentials);
    const res = await this.raw(realm, h);
    const body = await readAll(res, MANIFEST_MAX_BYTES, `token from ${realm.origin}`);
    if (res.statusCode === HTTP_UNAUTHORIZED) {
      throw new OciError(`${this.ref.registry}: the token service ${realm.origin} refused ${this.credentials !== null ? `${this.credentials.username}'s credentials` : "an anonymous token"} (401)${this.credentials === null ? NO_CREDENTIALS : ""}`);
    }
    if (transientStatus(res.statusCode ?? 0)) throw new TransientError(`${this.ref.registry}: the token service ${realm.origin} answered ${res.statusCode}`);
    if (res.statusCode !== HTTP_OK) throw new OciError(`${this.ref.registry}: the token service ${realm.origin} answered ${res.statusCode}: ${body.toString("utf8").slice(0, 200)}`);
    let t: unknown;
    try { t = JSON.parse(body.toString("utf8")); } catch { throw new OciError(`${this.ref.registry}: the token service sent no JSON`); }
    const o = t as { token?: unknown; access_token?: unknown };
    const tok = typeof o.token === "string" ? o.token : typeof o.access_token === "string" ? o.access_token : null;
    if (tok === null) throw new OciError(`${this.ref.registry}: the token service's answer has no token`);
    return tok;
  }

  /** A manifest (or index) by tag or digest: its bytes and the Content-Type the registry gave. */
  async manifest(reference: string): Promise<{ bytes: Buffer; contentType: string | null }> {
    const what = `manifest for ${this.ref.registry}/${this.ref.repository}:${reference}`;
    return this.withRetries(async () => {
      const res = await this.getOnce(`${this.ref.repository}/manifests/${reference}`, { Accept: MANIFEST_ACCEPT.join(", ") }, what);
      const bytes = await readBody(res, MANIFEST_MAX_BYTES, `manifest ${reference}`);
      if (res.statusCode !== HTTP_OK) throw this.error(res, bytes, what);
      const ct = res.headers["content-type"];
      return { bytes, contentType: typeof ct === "string" ? ct.split(";")[0].trim() : null };
    });
  }

  /**
   * A blob, handed to `consume` as a response stream (status 200 checked). When the transfer
   * breaks (the connection is reset or cut short) and `consume` fails because of it, the blob is
   * fetched again (consume must leave nothing behind when it fails, as the store's putStream).
   */
  async blob<T>(digest: string, consume: (res: IncomingMessage) => Promise<T>): Promise<T> {
    const what = `blob ${digest}`;
    return this.withRetries(async () => {
      const res = await this.getOnce(`${this.ref.repository}/blobs/${digest}`, {}, what);
      if (res.statusCode !== HTTP_OK) throw this.error(res, await readAll(res, MANIFEST_MAX_BYTES, "error"), what);
      let broken: string | null = null;
      res.once("aborted", () => { broken ??= "the connection was cut off"; });
      res.once("error", (e) => { broken ??= e.message; });
      try { return await consume(res); } catch (e) {
        if (broken !== null) throw new TransientError(`${what}: ${broken}`);
        throw e;
      }
    });
  }

  /** A registry error: its `errors[].code: message` when it sent them (distribution-spec "Error Codes"). */
  private error(res: IncomingMessage, body: Buffer, what: string): OciError {
    let detail = "";
    try {
      const j = JSON.parse(body.toString("utf8")) as { errors?: { code?: string; message?: string }[] };
      detail = (j.errors ?? []).map((e) => `${e.code ?? "?"}: ${e.message ?? ""}`).join("; ");
    } catch { detail = body.toString("utf8").slice(0, 200); }
    return new OciError(`${what}: ${this.ref.registry} answered ${res.statusCode}${detail !== "" ? ` (${detail})` : ""}`);
  }
}

const NO_CREDENTIALS = "; give credentials with --creds USER:PASS, or log in (docker login, podman login)";

/** readAll where a broken transfer (reset, cut short) is a TransientError. */
async function readBody(res: IncomingMessage, max: number, what: string): Promise<Buffer> {
  try { return await readAll(res, max, what); } catch (e) {
    if (e instanceof OciError) throw e;
    throw new TransientError(`${what}: ${(e as Error).message}`);
  }
}

async function readAll(res: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > max) { res.destroy(); throw new OciError(`${what}: more than ${max} bytes`); }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

// A client of the OCI distribution API (distribution-spec spec.md): GET /v2/, manifests by tag or
// digest with the image and index media types in Accept, blobs by digest; the bearer-token
// challenge (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`, Docker's token spec)
// answered with an anonymous token; redirects followed (the Authorization header is dropped when
// the host changes, as registries redirect blobs to storage that must not see the token).
// http:// is used for loopback registries (as Docker treats 127.0.0.0/8) and with --insecure.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { OciError } from "../../oci/digest.js";
import { DOCKER_HUB, DOCKER_HUB_API, type ImageReference } from "../../oci/reference.js";
import { MANIFEST_ACCEPT, MANIFEST_MAX_BYTES } from "../../oci/manifest.js";

const MAX_REDIRECTS = 5;
const HTTP_OK = 200, HTTP_UNAUTHORIZED = 401;
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

export interface RegistryOptions { insecure?: boolean }

export class RegistryClient {
  readonly base: string;
  private token: string | null = null;
  constructor(readonly ref: ImageReference, opts: RegistryOptions = {}) {
    const host = ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry;
    const scheme = opts.insecure === true || isLoopbackHost(host) ? "http" : "https";
    this.base = `${scheme}://${host}/v2/`;
  }

  private raw(url: URL, headers: Record<string, string>, method = "GET"): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers: { "User-Agent": USER_AGENT, ...headers } }, resolve);
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on("error", (e) => reject(new OciError(`${url.origin}: ${e.message}`)));
      req.end();
    });
  }

  /** GET with redirects and one round of the bearer challenge. */
  async get(path: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    let url = new URL(path, this.base);
    const origin = url.origin;
    for (let hops = 0, authTried = false; ; ) {
      const h = { ...headers };
      if (this.token !== null && url.origin === origin) h.Authorization = `Bearer ${this.token}`;
      const res = await this.raw(url, h);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        if (++hops > MAX_REDIRECTS) throw new OciError(`${url}: too many redirects`);
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status === HTTP_UNAUTHORIZED && !authTried && url.origin === origin) {
        authTried = true;
        const c = parseChallenge(String(res.headers["www-authenticate"] ?? ""));
        res.resume();
        if (c === null || c.scheme !== "bearer" || c.params.realm === undefined) {
          throw new OciError(`${this.ref.registry}: authentication required (${c === null ? "no challenge" : `${c.scheme} challenge`}; rvisor answers Bearer token challenges anonymously)`);
        }
        this.token = await this.fetchToken(c);
        continue;
      }
      return res;
    }
  }

  private async fetchToken(c: Challenge): Promise<string> {
    const realm = new URL(c.params.realm);
    if (c.params.service !== undefined) realm.searchParams.set("service", c.params.service);
    realm.searchParams.set("scope", c.params.scope ?? `repository:${this.ref.repository}:pull`);
    const res = await this.raw(realm, { Accept: "application/json" });
    const body = await readAll(res, MANIFEST_MAX_BYTES, `token from ${realm.origin}`);
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
    const res = await this.get(`${this.ref.repository}/manifests/${reference}`, { Accept: MANIFEST_ACCEPT.join(", ") });
    const bytes = await readAll(res, MANIFEST_MAX_BYTES, `manifest ${reference}`);
    if (res.statusCode !== HTTP_OK) throw this.error(res, bytes, `manifest for ${this.ref.registry}/${this.ref.repository}:${reference}`);
    const ct = res.headers["content-type"];
    return { bytes, contentType: typeof ct === "string" ? ct.split(";")[0].trim() : null };
  }

  /** A blob's response stream (status 200 checked). */
  async blob(digest: string): Promise<IncomingMessage> {
    const res = await this.get(`${this.ref.repository}/blobs/${digest}`);
    if (res.statusCode !== HTTP_OK) throw this.error(res, await readAll(res, MANIFEST_MAX_BYTES, "error"), `blob ${digest}`);
    return res;
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

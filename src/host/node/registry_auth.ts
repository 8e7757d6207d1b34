// Registry credentials, found where Docker, Podman and skopeo keep them: `--creds USER:PASS` (as
// skopeo's flag), else the containers auth file ($REGISTRY_AUTH_FILE, as Podman and skopeo read
// it), else Docker's $DOCKER_CONFIG/config.json (default ~/.docker/config.json). Both files hold
// `{"auths": {"HOST[:PORT]": {"auth": base64("USER:PASS")}}}`; Docker Hub's key is
// "https://index.docker.io/v1/". Credential helpers (`credsStore`, `credHelpers`) are not run.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { OciError } from "../../oci/digest.js";
import { DOCKER_HUB } from "../../oci/reference.js";

export interface Credentials { username: string; password: string }

/** `USER:PASS` (the password may contain ':'). */
export function parseCreds(s: string): Credentials {
  const i = s.indexOf(":");
  if (i <= 0) throw new OciError("--creds wants USER:PASS");
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** The Authorization header value of HTTP Basic (RFC 7617). */
export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64")}`;
}

/** How an `auths` key names a registry: without scheme and path ("https://index.docker.io/v1/" → "index.docker.io"). */
function registryOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
}

const DOCKER_HUB_KEYS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** The credentials an auth file holds for `registry`, or null (no file, no entry). A malformed file is an error. */
export function credentialsInFile(file: string, registry: string): Credentials | null {
  if (!existsSync(file)) return null;
  let doc: unknown;
  try { doc = JSON.parse(readFileSync(file, "utf8")); } catch (e) { throw new OciError(`${file}: not JSON (${(e as Error).message})`); }
  const auths = (doc as { auths?: unknown }).auths;
  if (typeof auths !== "object" || auths === null) return null;
  const want = registry.toLowerCase();
  for (const [key, v] of Object.entries(auths as Record<string, unknown>)) {
    const k = registryOfKey(key);
    if (!(k === want || (want === DOCKER_HUB && DOCKER_HUB_KEYS.has(k)))) continue;
    const auth = (v as { auth?: unknown } | null)?.auth;
    if (typeof auth !== "string" || auth === "") continue;
    const plain = Buffer.from(auth, "base64").toString("utf8");
    if (!plain.includes(":")) throw new OciError(`${file}: the auth entry for ${key} is not base64 of USER:PASS`);
    return parseCreds(plain);
  }
  return null;
}

/** The auth files consulted, in order. */
export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE !== undefined && env.REGISTRY_AUTH_FILE !== "") files.push(env.REGISTRY_AUTH_FILE);
  files.push(join(env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== "" ? env.DOCKER_CONFIG : join(homedir(), ".docker"), "config.json"));
  return files;
}

/** Credentials for `registry`: the explicit ones, else the first auth file with an entry for it. */
export function findCredentials(registry: string, explicit: Credentials | null, env: NodeJS.ProcessEnv = process.env): Credentials | null {
  if (explicit !== null) return explicit;
  for (const f of authFiles(env)) {
    const c = credentialsInFile(f, registry);
    if (c !== null) return c;
  }
  return null;
}

// rvisor image against real tools: a busybox image built from the project's busybox with umoci
// (two layers, the second with a whiteout), imported as an OCI layout and as skopeo's oci-archive
// and docker-archive; pulled from Debian's docker-registry on 127.0.0.1 (filled with skopeo),
// through a multi-platform index, behind a bearer-token challenge, and with a corrupted blob; a
// second docker-registry with htpasswd (Basic) auth, a token service that wants Basic credentials,
// and a registry that fails transiently (503, connections cut mid-blob).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { findBusybox } from "./user/busybox.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { which } from "./lib/toolchain.js";
import { busyboxLayout, run } from "./lib/oci_image.js";
import { ImageStore } from "../src/host/node/image_store.js";
import { MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST } from "../src/oci/manifest.js";
import { scaled } from "./lib/time_scale.js";

const TOOLS = ["umoci", "skopeo", "docker-registry"];
const missing = TOOLS.filter((t) => which(t) === null);
const found = await findBusybox(() => {}, false);
const skip = missing.length > 0 ? `missing ${missing.join(", ")} (sudo bash scripts/install-deps.sh)` : "skip" in found ? found.skip : false;

const work = mkdtempSync(join(tmpdir(), "rvisor-image-"));


function rvisor(home: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // No auth file of the user running the tests is read: DOCKER_CONFIG names one that does not exist.
    const p = spawn(process.execPath, [RVISOR_BIN, ...args], {
      env: { ...process.env, RVISOR_HOME: home, DOCKER_CONFIG: join(home, "no-docker-config"), REGISTRY_AUTH_FILE: "", ...env },
    });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d; });
    p.stderr.on("data", (d: Buffer) => { stderr += d; });
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
}
async function freePort(): Promise<number> {
  const s = createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
}

let layout = "";
let registry: ReturnType<typeof spawn> | null = null;
let regPort = 0;
/** The same storage served by a second docker-registry that wants HTTP Basic auth (htpasswd). */
let authRegistry: ReturnType<typeof spawn> | null = null;
let authPort = 0;
const USER = "alice", PASS = "rvisor-pass";
/** bcrypt (cost 4) of PASS, as `htpasswd -B` writes it: docker-registry's htpasswd auth reads only bcrypt. */
const PASS_BCRYPT = "$2b$04$oAEVGZwlQl4qkX.eewaOveyYCxekqbu1JE3lJMNcy0lvcEpVzikYu";
const servers: Server[] = [];

function httpReq(method: string, port: number, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

/** Starts docker-registry on `port` with extra config lines; resolves once /v2/ answers `ready`. */
async function startRegistry(name: string, port: number, extra: string, ready: number): Promise<ReturnType<typeof spawn>> {
  const cfg = join(work, `${name}.yml`);
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, "registry")}\nhttp:\n  addr: 127.0.0.1:${port}\n${extra}`);
  const r = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  r.stderr?.on("data", (d: Buffer) => { err += d; });
  for (let i = 0; ; i++) {
    try { if ((await httpReq("GET", port, "/v2/")).status === ready) break; } catch { /* not up yet */ }
    if (i > 200) throw new Error(`docker-registry (${name}) did not start: ${err}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return r;
}

before(async () => {
  if (skip !== false || !("path" in found)) return;
  layout = busyboxLayout(found.path);
  regPort = await freePort();
  registry = await startRegistry("registry", regPort, "", 200);
  writeFileSync(join(work, "htpasswd"), `${USER}:${PASS_BCRYPT}\n`);
  authPort = await freePort();
  authRegistry = await startRegistry("auth-registry", authPort, `auth:\n  htpasswd:\n    realm: rvisor-test\n    path: ${join(work, "htpasswd")}\n`, 401);
  for (const tag of ["riscv64", "amd64"]) {
    run("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:${tag}`, `docker://127.0.0.1:${regPort}/busybox:${tag}`]);
  }
});

after(() => {
  registry?.kill();
  authRegistry?.kill();
  for (const s of servers) s.close();
  rmSync(work, { recursive: true, force: true });
});

function home(name: string): string { return join(work, `home-${name}`); }

async function inspect(h: string, ref: string): Promise<{ Id: string; RepoTags: string[]; Config: { Cmd: string[]; Env: string[]; WorkingDir: string }; RootFS: { Layers: string[] } }> {
  const r = await rvisor(h, ["image", "inspect", ref]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { Id: string; RepoTags: string[]; Config: { Cmd: string[]; Env: string[]; WorkingDir: string }; RootFS: { Layers: string[] } }[])[0];
}

/** Checks the busybox image's two layers: the binary, and the whiteout of /etc/motd in the second. */
function checkBusyboxLayers(h: string, diffIds: string[]): void {
  assert.equal(diffIds.length, 2);
  const store = new ImageStore(h);
  const [l1, l2] = diffIds.map((d) => store.readLayerIndex(d as `sha256:${string}`));
  const bb = l1.entries.find((e) => e.path === "/bin/busybox");
  assert.equal(bb?.type, "file");
  assert.equal((bb?.mode ?? 0) & 0o111, 0o111);
  assert.deepEqual(readFileSync(join(store.layerRoot(diffIds[0] as `sha256:${string}`), "bin", "busybox")), readFileSync((found as { path: string }).path));
  assert.deepEqual(l1.entries.find((e) => e.path === "/bin/sh"), { ...l1.entries.find((e) => e.path === "/bin/sh"), type: "symlink", link: "busybox" });
  assert.deepEqual(l2.whiteouts, ["/etc/motd"]);
  assert.ok(l2.entries.some((e) => e.path === "/etc/hello"));
}

test("image: import an umoci-built OCI layout; ls, inspect, rm", { skip, timeout: scaled(120_000) }, async () => {
  const h = home("layout");
  const r = await rvisor(h, ["image", "import", layout, "bb:riscv64"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Loaded image: bb:riscv64 \(oci-layout\)/);
  const i = await inspect(h, "bb:riscv64");
  assert.deepEqual(i.Config.Cmd, ["/bin/sh"]);
  assert.equal(i.Config.WorkingDir, "/etc");
  assert.ok(i.Config.Env.includes("PATH=/bin"));
  checkBusyboxLayers(h, i.RootFS.Layers);
  const ls = await rvisor(h, ["image", "ls"]);
  assert.match(ls.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  assert.match(ls.stdout, new RegExp(`\\nbb\\s+riscv64\\s+${i.Id.slice(7, 19)}\\s`));
  const js = JSON.parse((await rvisor(h, ["image", "ls", "--json"])).stdout) as { Repository: string; ID: string }[];
  assert.deepEqual(js.map((x) => [x.Repository, x.ID]), [["bb", i.Id]]);
  const rm = await rvisor(h, ["image", "rm", "bb:riscv64"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, `Untagged: bb:riscv64\nDeleted: ${i.Id}\n`);
  assert.equal((await rvisor(h, ["image", "inspect", "bb:riscv64"])).code, 1);
});

test("image: import skopeo's oci-archive and docker-archive; a truncated archive is refused", { skip, timeout: scaled(180_000) }, async () => {
  const h = home("archives");
  const oa = join(work, "bb-oci.tar"), da = join(work, "bb-docker.tar");
  run("skopeo", ["copy", "--quiet", `oci:${layout}:riscv64`, `oci-archive:${oa}:riscv64`]);
  run("skopeo", ["copy", "--quiet", `oci:${layout}:riscv64`, `docker-archive:${da}:example.com/tools/bb:v2`]);
  const a = await rvisor(h, ["image", "import", oa, "bb:oci"]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /\(oci-archive\)/);
  const d = await rvisor(h, ["image", "import", da]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /Loaded image: example\.com\/tools\/bb:v2 \(docker-archive\)/);
  const io = await inspect(h, "bb:oci"), id = await inspect(h, "example.com/tools/bb:v2");
  checkBusyboxLayers(h, io.RootFS.Layers);
  assert.deepEqual(id.RootFS.Layers, io.RootFS.Layers, "the same layers, unpacked once");
  assert.deepEqual(id.Config.Cmd, ["/bin/sh"]);
  // Layers recompressed with zstd (skopeo --dest-compress-format zstd): the same diff_ids.
  const zl = join(work, "bb-zstd");
  run("skopeo", ["copy", "--quiet", "--dest-compress-format", "zstd", `oci:${layout}:riscv64`, `oci:${zl}:riscv64`]);
  const z = await rvisor(h, ["image", "import", zl, "bb:zstd"]);
  assert.equal(z.code, 0, z.stderr);
  const iz = await inspect(h, "bb:zstd");
  assert.deepEqual(iz.RootFS.Layers, io.RootFS.Layers);
  assert.deepEqual(new ImageStore(h).find("bb:zstd")?.record.layers.map((l) => l.mediaType), ["application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar+zstd"]);
  const full = readFileSync(da);
  const cut = join(work, "cut.tar");
  writeFileSync(cut, full.subarray(0, Math.floor(full.length / 2)));
  const before = (await rvisor(h, ["image", "ls", "--json"])).stdout;
  const t = await rvisor(h, ["image", "import", cut, "cut:1"]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /truncated archive/);
  assert.equal((await rvisor(h, ["image", "ls", "--json"])).stdout, before);
});

async function manifestDigest(port: number, tag: string): Promise<{ digest: string; size: number }> {
  const r = await httpReq("GET", port, `/v2/busybox/manifests/${tag}`, { Accept: MEDIA_OCI_MANIFEST });
  assert.equal(r.status, 200);
  return { digest: `sha256:${createHash("sha256").update(r.body).digest("hex")}`, size: r.body.length };
}

async function putIndex(tag: string, archs: string[]): Promise<void> {
  const manifests = [];
  for (const a of archs) manifests.push({ mediaType: MEDIA_OCI_MANIFEST, ...(await manifestDigest(regPort, a)), platform: { architecture: a, os: "linux" } });
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests }));
  const r = await httpReq("PUT", regPort, `/v2/busybox/manifests/${tag}`, { "Content-Type": MEDIA_OCI_INDEX }, body);
  assert.equal(r.status, 201, r.body.toString());
}

test("image: pull from docker-registry on loopback, by tag, through a multi-platform index, and an index without riscv64", { skip, timeout: scaled(180_000) }, async () => {
  const h = home("pull");
  const ref = `127.0.0.1:${regPort}/busybox:riscv64`;
  const p = await rvisor(h, ["image", "pull", ref]);
  assert.equal(p.code, 0, p.stderr);
  const want = await manifestDigest(regPort, "riscv64");
  assert.equal(p.stdout, `Digest: ${want.digest}\nStatus: Downloaded newer image for ${ref}\n`);
  checkBusyboxLayers(h, (await inspect(h, ref)).RootFS.Layers);
  const again = await rvisor(h, ["image", "pull", ref]);
  assert.match(again.stdout, /Status: Image is up to date for/);
  const byDigest = await rvisor(home("digest"), ["image", "pull", `127.0.0.1:${regPort}/busybox@${want.digest}`]);
  assert.equal(byDigest.code, 0, byDigest.stderr);
  assert.match(byDigest.stdout, new RegExp(`Digest: ${want.digest}`));
  const dls = JSON.parse((await rvisor(home("digest"), ["image", "ls", "--json"])).stdout) as { Repository: string; Tag: string; Digest: string }[];
  assert.deepEqual(dls.map((x) => [x.Repository, x.Tag, x.Digest]), [[`127.0.0.1:${regPort}/busybox`, "<none>", want.digest]]);
  await putIndex("multi", ["amd64", "riscv64"]);
  const m = await rvisor(h, ["image", "pull", `127.0.0.1:${regPort}/busybox:multi`]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, new RegExp(`Digest: ${want.digest}`));
  await putIndex("x86only", ["amd64"]);
  const x = await rvisor(h, ["image", "pull", `127.0.0.1:${regPort}/busybox:x86only`]);
  assert.equal(x.code, 1);
  assert.match(x.stderr, /busybox:x86only has no linux\/riscv64 image \(it has: linux\/amd64\)/);
  const none = await rvisor(h, ["image", "pull", `127.0.0.1:${regPort}/busybox:nosuchtag`]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /answered 404 \(MANIFEST_UNKNOWN/);
});

/**
 * A proxy in front of the registry that wants a bearer token (and can corrupt blobs); with
 * `basic`, its token service hands tokens only to those Basic credentials.
 */
async function tokenProxy(opts: { corruptBlobs: boolean; basic?: string }): Promise<{ port: number; tokenRequests: string[] }> {
  const tokenRequests: string[] = [];
  const TOKEN = "t0ken";
  let port = 0;
  const s = createServer((req, res) => {
    if (req.url?.startsWith("/token")) {
      tokenRequests.push(req.url);
      if (opts.basic !== undefined && req.headers.authorization !== `Basic ${Buffer.from(opts.basic).toString("base64")}`) {
        res.statusCode = 401;
        res.setHeader("WWW-Authenticate", 'Basic realm="token"');
        res.end();
        return;
      }
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ token: TOKEN }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.statusCode = 401;
      res.setHeader("WWW-Authenticate", `Bearer realm="http://127.0.0.1:${port}/token",service="rvisor-test",scope="repository:busybox:pull"`);
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      return;
    }
    const up = request({ host: "127.0.0.1", port: regPort, path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${regPort}` } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const blob = opts.corruptBlobs && /\/blobs\//.test(req.url ?? "");
      let first = true;
      ur.on("data", (c: Buffer) => { if (blob && first && c.length > 100) { c[100] ^= 0xff; first = false; } res.write(c); });
      ur.on("end", () => res.end());
    });
    req.pipe(up);
  });
  servers.push(s);
  port = await listen(s);
  return { port, tokenRequests };
}

test("image: pull behind a bearer-token challenge; a corrupted blob is refused and the store is unchanged", { skip, timeout: scaled(180_000) }, async () => {
  const h = home("auth");
  const auth = await tokenProxy({ corruptBlobs: false });
  const p = await rvisor(h, ["image", "pull", `127.0.0.1:${auth.port}/busybox:riscv64`]);
  assert.equal(p.code, 0, p.stderr);
  assert.ok(auth.tokenRequests.length >= 1);
  assert.match(auth.tokenRequests[0], /service=rvisor-test/);
  assert.match(auth.tokenRequests[0], /scope=repository%3Abusybox%3Apull/);
  const bad = await tokenProxy({ corruptBlobs: true });
  const h2 = home("corrupt");
  const c = await rvisor(h2, ["image", "pull", `127.0.0.1:${bad.port}/busybox:riscv64`]);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /digest mismatch/);
  const ls = await rvisor(h2, ["image", "ls", "--json"]);
  assert.equal(ls.stdout.trim(), "[]");
  const store = new ImageStore(h2);
  assert.equal(existsSync(join(store.dir, "blobs")), false, "no blob was kept");
});

test("image: pull from docker-registry with htpasswd (Basic) auth: --creds, docker and containers auth files, refusals", { skip, timeout: scaled(180_000) }, async () => {
  const ref = `127.0.0.1:${authPort}/busybox:riscv64`;
  const want = await manifestDigest(regPort, "riscv64");
  const none = await rvisor(home("basic-none"), ["image", "pull", ref]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /authentication required \(a basic challenge\); give credentials with --creds USER:PASS/);
  const wrong = await rvisor(home("basic-wrong"), ["image", "pull", "--creds", `${USER}:nope`, ref]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /authentication as alice refused \(401\)/);
  const bad = await rvisor(home("basic-bad"), ["image", "pull", "--creds", "no-colon", ref]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--creds wants USER:PASS/);
  const h = home("basic");
  const ok = await rvisor(h, ["image", "pull", "--creds", `${USER}:${PASS}`, ref]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `Digest: ${want.digest}\nStatus: Downloaded newer image for ${ref}\n`);
  checkBusyboxLayers(h, (await inspect(h, ref)).RootFS.Layers);
  // docker login's file (DOCKER_CONFIG/config.json), and podman's (REGISTRY_AUTH_FILE, before it).
  const auth = (user: string, pass: string): string => JSON.stringify({ auths: { [`127.0.0.1:${authPort}`]: { auth: Buffer.from(`${user}:${pass}`).toString("base64") } } });
  const dockerDir = join(work, "docker-config");
  mkdirSync(dockerDir, { recursive: true });
  writeFileSync(join(dockerDir, "config.json"), auth(USER, PASS));
  const viaDocker = await rvisor(home("basic-docker"), ["image", "pull", ref], { DOCKER_CONFIG: dockerDir });
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  const podmanFile = join(work, "auth.json");
  writeFileSync(podmanFile, auth(USER, "stale"));
  const viaPodman = await rvisor(home("basic-podman"), ["image", "pull", ref], { DOCKER_CONFIG: dockerDir, REGISTRY_AUTH_FILE: podmanFile });
  assert.equal(viaPodman.code, 1, "REGISTRY_AUTH_FILE comes first");
  assert.match(viaPodman.stderr, /authentication as alice refused/);
});

test("image: a bearer challenge whose token service wants Basic credentials", { skip, timeout: scaled(180_000) }, async () => {
  const proxy = await tokenProxy({ corruptBlobs: false, basic: `${USER}:${PASS}` });
  const ref = `127.0.0.1:${proxy.port}/busybox:riscv64`;
  const anon = await rvisor(home("token-anon"), ["image", "pull", ref]);
  assert.equal(anon.code, 1);
  assert.match(anon.stderr, /the token service http:\/\/127\.0\.0\.1:\d+ refused an anonymous token \(401\); give credentials with --creds/);
  const ok = await rvisor(home("token-basic"), ["image", "pull", "--creds", `${USER}:${PASS}`, ref]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(proxy.tokenRequests.at(-1) ?? "", /scope=repository%3Abusybox%3Apull/);
});

/**
 * A registry in trouble: the first `fail` requests for each blob get 503, the next one is cut off
 * half-way (the socket destroyed), later ones pass. `always`: every blob request gets 503.
 */
async function flakyProxy(fail: number, always = false): Promise<{ port: number; blobRequests: Map<string, number> }> {
  const blobRequests = new Map<string, number>();
  const s = createServer((req, res) => {
    const url = req.url ?? "";
    const blob = /\/blobs\//.test(url);
    const n = (blobRequests.get(url) ?? 0) + 1;
    if (blob) blobRequests.set(url, n);
    if (blob && (always || n <= fail)) {
      res.statusCode = 503;
      res.end(JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "try again" }] }));
      return;
    }
    const up = request({ host: "127.0.0.1", port: regPort, path: url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${regPort}` } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let sent = 0;
      const total = Number(ur.headers["content-length"] ?? 0);
      ur.on("data", (c: Buffer) => {
        if (blob && n === fail + 1 && sent + c.length >= total / 2) { res.write(c.subarray(0, Math.floor(c.length / 2))); res.socket?.destroy(); ur.destroy(); return; }
        sent += c.length;
        res.write(c);
      });
      ur.on("end", () => res.end());
    });
    req.pipe(up);
  });
  servers.push(s);
  return { port: await listen(s), blobRequests };
}

test("image: transient registry failures (503, a blob cut off mid-way) are retried with backoff; a registry that stays down is given up on", { skip, timeout: scaled(180_000) }, async () => {
  const flaky = await flakyProxy(2);
  const h = home("flaky");
  const ref = `127.0.0.1:${flaky.port}/busybox:riscv64`;
  const p = await rvisor(h, ["image", "pull", ref]);
  assert.equal(p.code, 0, p.stderr);
  checkBusyboxLayers(h, (await inspect(h, ref)).RootFS.Layers);
  // Config and two layers: 503, 503, cut off, then whole.
  assert.deepEqual([...flaky.blobRequests.values()], [4, 4, 4]);
  const down = await flakyProxy(0, true);
  const h2 = home("down");
  const t0 = Date.now();
  const d = await rvisor(h2, ["image", "pull", `127.0.0.1:${down.port}/busybox:riscv64`]);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /blob sha256:[0-9a-f]{64}: 127\.0\.0\.1:\d+ answered 503 \(UNAVAILABLE: try again\) \(5 attempts\)/);
  assert.equal([...down.blobRequests.values()][0], 5);
  assert.ok(Date.now() - t0 >= 3750, "backoff 0.25 + 0.5 + 1 + 2 s");
  assert.equal((await rvisor(h2, ["image", "ls", "--json"])).stdout.trim(), "[]");
});

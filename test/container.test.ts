// rvisor container against a real image: the project's busybox packed with umoci as an OCI layout
// (test/lib/container_image.ts: three layers, two whiteouts, a user, root-only files), imported
// into a fresh state directory. Shell pipelines, image config and flags, volumes, whiteouts and
// the container's own layer, owners from the layer headers, path tricks that must not reach the
// host, -p (and a port that is not published), stop/kill/signals, -d with logs/ps/rm, exec, ten
// containers at once, limits, and Docker's exit statuses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { findBusybox } from "./user/busybox.js";
import { RVISOR_BIN } from "./lib/guest.js";
import { which } from "./lib/toolchain.js";
import { APP_UID, IMAGE_TAG, OWNERS_RECORDED, containerLayout } from "./lib/container_image.js";
import { scaled } from "./lib/time_scale.js";

const missing = ["umoci", "qemu-riscv64"].filter((t) => which(t) === null);
const found = await findBusybox(() => {}, false);
const skip = missing.length > 0 ? `missing ${missing.join(", ")} (sudo bash scripts/install-deps.sh)` : "skip" in found ? found.skip : false;

const work = mkdtempSync(join(tmpdir(), "rvisor-ctr-"));
const home = join(work, "home");
const IMG = `ctr:${IMAGE_TAG}`;
const servers: Server[] = [];

interface Result { code: number; stdout: string; stderr: string }
/** rvisor processes not yet ended: killed after the last test, so a hung one cannot keep this file running. */
const live = new Set<ChildProcess>();
function rvisor(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [RVISOR_BIN, ...args], { env: { ...process.env, RVISOR_HOME: home }, stdio: ["pipe", "pipe", "pipe"] });
    live.add(p);
    p.on("exit", () => live.delete(p));
    let stdout = "", stderr = "";
    p.stdout.on("data", (d: Buffer) => { stdout += d; });
    p.stderr.on("data", (d: Buffer) => { stderr += d; });
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input);
  });
}
const ctr = (args: string[], input?: string): Promise<Result> => rvisor(["container", ...args], input);
/** `container run --rm IMG sh -c SCRIPT`, with extra run flags before the image. */
const sh = (script: string, flags: string[] = []): Promise<Result> => ctr(["run", "--rm", ...flags, IMG, "sh", "-c", script]);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | null> | T | null, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function inspect(name: string): Promise<{ State: { Status: string; ExitCode: number; Running: boolean }; Config: { Env: string[]; Hostname: string }; HostConfig: { PortBindings: Record<string, { HostPort: string }[]>; Memory: number; PidsLimit: number | null; NanoCpus: number } }> {
  const r = await ctr(["inspect", name]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as never[])[0];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on("error", reject);
    r.end();
  });
}

/** Whether anything accepts TCP connections at 127.0.0.1:port. */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.on("connect", () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(false));
  });
}

before(async () => {
  if (skip !== false || !("path" in found)) return;
  const layout = containerLayout(found.path);
  const r = await rvisor(["image", "import", layout, IMG]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const s of servers) s.close();
  // Whatever a failed test left running.
  const ps = await ctr(["ps", "-q"]);
  for (const id of ps.stdout.split("\n").filter((l) => l !== "")) await ctr(["rm", "-f", id]);
  for (const p of live) p.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

test("container: a shell pipeline; Cmd, Env and WorkingDir from the image", { skip, timeout: scaled(120_000) }, async () => {
  const r = await sh("echo hello container | tr a-z A-Z | wc -c; echo hello container | tr a-z A-Z; pwd; echo $FOO; echo $PATH");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "16\nHELLO CONTAINER\n/srv\nfrom-image\n/bin\n");
  // No CMD: the image's Cmd (sh) reads the commands from stdin only with -i.
  const i = await ctr(["run", "--rm", "-i", IMG], "echo from stdin; pwd\n");
  assert.equal(i.code, 0, i.stderr);
  assert.equal(i.stdout, "from stdin\n/srv\n");
  const noI = await ctr(["run", "--rm", IMG], "echo should not run\n");
  assert.equal(noI.code, 0, noI.stderr);
  assert.equal(noI.stdout, "");
});

test("container: -e, --env-file, -w, -u, --hostname, --entrypoint; /etc/hosts, /etc/hostname, /etc/resolv.conf are the container's", { skip, timeout: scaled(120_000) }, async () => {
  const envFile = join(work, "env.list");
  writeFileSync(envFile, "# a comment\nFROMFILE=yes\nFOO=file\n");
  const r = await sh("id; pwd; echo $FOO $FROMFILE $HOME; hostname; cat /etc/hostname; grep box /etc/hosts; grep -c nameserver /etc/resolv.conf; grep -c 127.0.0.53 /etc/resolv.conf",
    ["--env-file", envFile, "-e", "FOO=flag", "-w", "/tmp/work", "-u", "app", "--hostname", "box"]);
  const lines = r.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 6), [`uid=${APP_UID}(app) gid=${APP_UID}(app) groups=${APP_UID}(app)`, "/tmp/work", "flag yes /home/app", "box", "box", "127.0.1.1\tbox"], r.stderr);
  const [servers, loop] = lines.slice(6, 8).map(Number);
  assert.ok(servers >= 1, r.stdout);
  assert.equal(loop, 0, "the host's loopback resolver is not the container's");
  // Numbers need not be in /etc/passwd; the group then is 0.
  const n = await sh("id -u; id -g", ["-u", "4242"]);
  assert.equal(n.stdout, "4242\n0\n");
  const bad = await sh("true", ["-u", "nosuchuser"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unable to find user nosuchuser/);
  const e = await ctr(["run", "--rm", "--entrypoint", "echo", IMG, "via", "entrypoint"]);
  assert.equal(e.stdout, "via entrypoint\n");
  // Without --hostname: the first 12 digits of the ID, as Docker names it.
  const d = await ctr(["run", "--name", "named", IMG, "hostname"]);
  assert.equal(d.code, 0, d.stderr);
  const id = (await ctr(["ps", "-a", "-q", "--no-trunc"])).stdout.split("\n").find((l) => l.startsWith(d.stdout.trim()));
  assert.ok(id !== undefined && id.length === 64, `${d.stdout} in ps`);
  assert.equal((await ctr(["rm", "named"])).code, 0);
});

test("container: owners and modes from the layer headers; -u sets what the guest sees; permissions hold", { skip, timeout: scaled(120_000) }, async () => {
  const r = await sh("stat -c '%u:%g:%a' /etc/secret /bin/busybox /home/app; cat /etc/secret");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `0:0:600\n0:0:755\n${OWNERS_RECORDED ? `${APP_UID}:${APP_UID}` : "0:0"}:755\nroot only\n`);
  const u = await sh("cat /etc/secret; echo status=$?; touch /home/app/mine && stat -c '%u:%g' /home/app/mine; touch /etc/nope; echo touch=$?", ["-u", "app"]);
  assert.match(u.stderr, /Permission denied/);
  assert.equal(u.stdout, `status=1\n${OWNERS_RECORDED ? `${APP_UID}:${APP_UID}\n` : ""}touch=1\n`);
});

test("container: pid 1 is the entry process; the container sees its own processes only", { skip, timeout: scaled(120_000) }, async () => {
  const r = await sh("echo $$; sleep 5 & ps -o pid,comm | tail -n +2 | sort -n; ls /proc | grep -c '^[0-9]'; kill %1");
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "1");
  assert.match(lines[1], /^\s*1 sh$/);
  assert.ok(lines.slice(2, -1).every((l) => /^\s*\d{1,2} (sleep|ps|tail|sort|sh)$/.test(l)), r.stdout);
  assert.ok(Number(lines[lines.length - 1]) <= 6, r.stdout);
});

test("container: volumes read and written, :ro refused; whiteouts honoured; the upper layer is the container's until rm", { skip, timeout: scaled(120_000) }, async () => {
  const vol = join(work, "vol"), ro = join(work, "ro");
  mkdirSync(vol); mkdirSync(ro);
  writeFileSync(join(vol, "in.txt"), "from the host\n");
  writeFileSync(join(ro, "keep.txt"), "read-only\n");
  const r = await ctr(["run", "--name", "vols", "-v", `${vol}:/data`, "-v", `${ro}:/ro:ro`, IMG, "sh", "-c",
    "cat /data/in.txt; echo written > /data/out.txt; cat /ro/keep.txt; echo x > /ro/new 2>/dev/null; echo ro=$?; " +
    "cat /etc/motd 2>&1; ls /var/cache; cat /etc/hello; rm /etc/hello; echo note > /root/note; ls /etc/hello 2>&1; echo end"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "from the host\nread-only\nro=1\ncat: can't open '/etc/motd': No such file or directory\nhello from layer 2\nls: /etc/hello: No such file or directory\nend\n");
  assert.equal(readFileSync(join(vol, "out.txt"), "utf8"), "written\n");
  assert.deepEqual(readdirSync(ro), ["keep.txt"]);
  // The container's writes are in its own layer, not the image's: another container sees the image.
  const other = await sh("cat /etc/hello; ls /root");
  assert.equal(other.stdout, "hello from layer 2\n");
  const ps = await ctr(["ps", "-a", "-q", "--no-trunc"]);
  const id = ps.stdout.split("\n").find((l) => existsSync(join(home, "containers", l, "upper", "root", "note")));
  assert.ok(id !== undefined, "the upper layer holds the container's files");
  assert.ok(existsSync(join(home, "containers", id, "upper", "etc", ".wh.hello")), "a whiteout in the upper layer");
  // The image of an existing container stays (its layers are the container's lower layers).
  const rmi = await rvisor(["image", "rm", IMG]);
  assert.equal(rmi.code, 1);
  assert.match(rmi.stderr, /conflict: unable to remove .* container [0-9a-f]{12} \(vols\) is using its referenced image/);
  assert.equal((await ctr(["rm", "vols"])).code, 0);
  assert.ok(!existsSync(join(home, "containers", id)));
});

test("container: nothing outside its filesystem and volumes is reachable by path tricks or the host's loopback", { skip, timeout: scaled(120_000) }, async () => {
  const host = join(work, "host-secret");
  mkdirSync(host);
  writeFileSync(join(host, "secret"), "HOST SECRET\n");
  const vol = join(work, "tricks");
  mkdirSync(vol);
  symlinkSync(join(host, "secret"), join(vol, "abs"));
  symlinkSync("../host-secret/secret", join(vol, "rel"));
  symlinkSync(host, join(vol, "dir"));
  const hostSrv = createServer((_q, s) => s.end("HOST SERVICE\n"));
  servers.push(hostSrv);
  await new Promise<void>((r) => hostSrv.listen(0, "127.0.0.1", r));
  const port = (hostSrv.address() as AddressInfo).port;
  const paths = [join(host, "secret"), `/../../../..${join(host, "secret")}`, "/data/abs", "/data/rel", "/data/dir/secret", "/data/../../host-secret/secret",
    `/proc/1/root${join(host, "secret")}`, `/proc/self/cwd/../../..${join(host, "secret")}`];
  const script = paths.map((p) => `cat '${p}' 2>/dev/null; echo "${p}=$?"`).join("; ") +
    `; cd /; cd ..; cd ..; pwd; ls | tr '\\n' ' '; echo; mkdir -p /data/dir/made 2>/dev/null; echo made=$?; wget -q -T 5 -O - http://127.0.0.1:${port}/ 2>&1; echo wget=$?`;
  const r = await sh(script, ["-v", `${vol}:/data`]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /HOST SECRET|HOST SERVICE/);
  for (const p of paths) assert.ok(r.stdout.includes(`${p}=1\n`), `${p}: ${r.stdout}`);
  assert.match(r.stdout, /\n\/\nbin data dev etc home proc root srv var \n/);
  assert.match(r.stdout, /made=1\n/);
  assert.match(r.stdout, /wget=1\n$/);
  assert.deepEqual(readdirSync(host), ["secret"]);
});

test("container: -p publishes a port on the host's loopback; a port that is not published is the container's only", { skip, timeout: scaled(180_000) }, async () => {
  const pub = await freePort(), inner = await freePort();
  const run = await ctr(["run", "-d", "--name", "web", "-p", `${pub}:80`, IMG, "sh", "-c", `httpd -p ${inner} -h /srv/www; exec httpd -f -p 80 -h /srv/www`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^[0-9a-f]{64}\n$/);
  const got = await until("the published port", async () => { try { return await httpGet(pub, "/index.html"); } catch { return null; } });
  assert.deepEqual(got, { status: 200, body: "hello from the container\n" });
  // The other server answers inside the container, and nothing listens at its port on the host.
  const e = await ctr(["exec", "web", "wget", "-q", "-O", "-", `http://127.0.0.1:${inner}/index.html`]);
  assert.equal(e.stdout, "hello from the container\n", e.stderr);
  assert.equal(await tcpOpen(inner), false);
  const ps = await ctr(["ps"]);
  assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${pub}->80/tcp\\s+web\\n`));
  const i = await inspect("web");
  assert.deepEqual(i.HostConfig.PortBindings["80/tcp"].map((b) => b.HostPort), [String(pub)]);
  assert.equal((await ctr(["rm", "-f", "web"])).code, 0);
  assert.equal(await tcpOpen(pub), false);
  // A host port that is taken: the container's bind fails (EADDRINUSE), as Docker refuses it.
  const taken = createServer();
  servers.push(taken);
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  const tp = (taken.address() as AddressInfo).port;
  const busy = await sh("httpd -f -p 80; echo httpd=$?", ["-p", `${tp}:80`]);
  assert.match(busy.stderr, /bind: Address already in use/);
});

test("container: -d keeps running after the CLI exits; logs, ps, rm and rm -f", { skip, timeout: scaled(120_000) }, async () => {
  const r = await ctr(["run", "-d", "--name", "bg", IMG, "sh", "-c", "echo one; echo two >&2; echo ready; sleep 60"]);
  assert.equal(r.code, 0, r.stderr);
  await until("the output", async () => ((await ctr(["logs", "bg"])).stdout.includes("ready") ? true : null));
  const logs = await ctr(["logs", "bg"]);
  assert.equal(logs.stdout, "one\ntwo\nready\n");
  assert.equal((await ctr(["logs", "--tail", "1", "bg"])).stdout, "ready\n");
  const ps = await ctr(["ps", "--format", "json"]);
  const row = ps.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { Names: string; State: string }).find((x) => x.Names === "bg");
  assert.equal(row?.State, "running");
  const rm = await ctr(["rm", "bg"]);
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /container is running/);
  assert.equal((await ctr(["rm", "-f", "bg"])).code, 0);
  assert.ok(!(await ctr(["ps", "-a"])).stdout.includes(" bg\n"));
  assert.equal((await ctr(["logs", "bg"])).code, 1);
  // logs -f follows until the container ends.
  const f = await ctr(["run", "-d", "--name", "follow", IMG, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done"]);
  assert.equal(f.code, 0, f.stderr);
  const fl = await ctr(["logs", "-f", "follow"]);
  assert.equal(fl.stdout, "tick 1\ntick 2\ntick 3\n");
  assert.equal((await inspect("follow")).State.ExitCode, 0);
  await ctr(["rm", "follow"]);
});

test("container: stop sends SIGTERM, then SIGKILL after the timeout; kill -s; exec", { skip, timeout: scaled(180_000) }, async () => {
  // Ignores SIGTERM: killed after -t.
  await ctr(["run", "-d", "--name", "stubborn", IMG, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.2; done"]);
  await until("ready", async () => ((await ctr(["logs", "stubborn"])).stdout.includes("ready") ? true : null));
  const t0 = Date.now();
  const st = await ctr(["stop", "-t", "1", "stubborn"]);
  assert.equal(st.code, 0, st.stderr);
  assert.ok(Date.now() - t0 >= 1000, "stop waited for the timeout");
  const s1 = await inspect("stubborn");
  assert.deepEqual([s1.State.Status, s1.State.ExitCode], ["exited", 137]);
  // Handles SIGTERM: ends by itself, with its own status.
  await ctr(["run", "-d", "--name", "polite", IMG, "sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.2; done"]);
  await until("ready", async () => ((await ctr(["logs", "polite"])).stdout.includes("ready") ? true : null));
  assert.equal((await ctr(["stop", "-t", "30", "polite"])).code, 0);
  const s2 = await inspect("polite");
  assert.deepEqual([s2.State.Status, s2.State.ExitCode], ["exited", 3]);
  assert.match((await ctr(["logs", "polite"])).stdout, /got TERM\n$/);
  // kill -s USR1 to a handler; exec into the running container meanwhile.
  await ctr(["run", "-d", "--name", "target", "-e", "MARK=set", IMG, "sh", "-c", "trap 'echo usr1; exit 9' USR1; echo ready; while :; do sleep 0.2; done"]);
  await until("ready", async () => ((await ctr(["logs", "target"])).stdout.includes("ready") ? true : null));
  const ex = await ctr(["exec", "target", "sh", "-c", "echo $$ $MARK $EXTRA; cat /etc/hostname >/dev/null; ps -o pid,comm | grep -c sh; exit 5"]);
  assert.equal(ex.code, 5, ex.stderr);
  const [pid, mark] = ex.stdout.split("\n")[0].split(" ");
  assert.ok(Number(pid) > 1, ex.stdout);
  assert.equal(mark, "set");
  const exE = await ctr(["exec", "-e", "EXTRA=x", "-w", "/etc", "target", "sh", "-c", "echo $EXTRA; pwd"]);
  assert.equal(exE.stdout, "x\n/etc\n");
  const exI = await ctr(["exec", "-i", "target", "tr", "a-z", "A-Z"], "piped input\n");
  assert.equal(exI.stdout, "PIPED INPUT\n");
  assert.equal((await ctr(["exec", "target", "nothere"])).code, 127);
  assert.equal((await ctr(["kill", "-s", "USR1", "target"])).code, 0);
  await until("exit", async () => ((await inspect("target")).State.Status === "exited" ? true : null));
  assert.equal((await inspect("target")).State.ExitCode, 9);
  assert.equal((await ctr(["exec", "target", "true"])).code, 1);
  // kill (SIGKILL): 137.
  await ctr(["run", "-d", "--name", "victim", IMG, "sleep", "60"]);
  assert.equal((await ctr(["kill", "victim"])).code, 0);
  assert.equal((await inspect("victim")).State.ExitCode, 137);
  for (const n of ["stubborn", "polite", "target", "victim"]) assert.equal((await ctr(["rm", n])).code, 0);
});

test("container: Ctrl-C (SIGINT to rvisor) reaches the attached container's foreground process", { skip, timeout: scaled(120_000) }, async () => {
  const p = spawn(process.execPath, [RVISOR_BIN, "container", "run", "--rm", IMG, "sh", "-c", "trap 'echo INT; exit 4' INT; echo ready; while :; do sleep 0.2; done"],
    { env: { ...process.env, RVISOR_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => { out += d; });
  await until("ready", () => (out.includes("ready") ? true : null));
  p.kill("SIGINT");
  const code = await new Promise<number>((r) => p.on("close", (c) => r(c ?? -1)));
  assert.equal(code, 4);
  assert.equal(out, "ready\nINT\n");
});

test("container: -it on a terminal: the container's stdin and stdout are its tty (/dev/pts/0), with the host terminal's size", { skip: skip !== false ? skip : which("script") === null ? "script (util-linux) not found" : false, timeout: scaled(120_000) }, async () => {
  // script(1) gives rvisor a pseudo-terminal; the shell reads the commands typed on it.
  const p = spawn("script", ["-qec", `stty rows 30 cols 100; '${process.execPath}' '${RVISOR_BIN}' container run --rm -it ${IMG} sh`, "/dev/null"],
    { env: { ...process.env, RVISOR_HOME: home }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => { out += d; });
  p.stdin.end("tty; stty size; echo $TERM; [ -t 0 ] && echo stdin-is-tty; exit 7\n");
  const code = await new Promise<number>((r) => p.on("close", (c) => r(c ?? -1)));
  const text = out.replace(/\r/g, "");
  assert.equal(code, 7, text);
  assert.match(text, /\n\/dev\/pts\/0\n30 100\nxterm\nstdin-is-tty\n/);
});

test("container: exit statuses as Docker reports them", { skip, timeout: scaled(120_000) }, async () => {
  assert.equal((await sh("exit 42")).code, 42);
  const nf = await ctr(["run", "--rm", IMG, "nothere"]);
  assert.equal(nf.code, 127);
  assert.match(nf.stderr, /executable file not found in \$PATH/);
  assert.equal((await ctr(["run", "--rm", IMG, "/etc/passwd"])).code, 126);
  assert.equal((await ctr(["run", "--rm", IMG, "/srv"])).code, 126);
  assert.equal((await ctr(["run", "--rm", "nosuchimage:1"])).code, 125);
  assert.equal((await ctr(["run", "--rm", "--bogus", IMG])).code, 125);
  assert.equal((await ctr(["run", "--rm", "-p", "80", IMG])).code, 125);
  // A child killed by a signal: 128+N, as the shell reports it.
  assert.equal((await sh("sh -c 'kill -9 $$'; exit $?")).code, 137);
  // pid 1 is the namespace's init: a signal from inside it that pid 1 has no handler for, even SIGKILL, is not delivered.
  const init = await sh("exec sh -c 'kill -9 $$; kill -TERM $$; echo survived'");
  assert.deepEqual([init.code, init.stdout], [0, "survived\n"]);
});

test("container: limits: --pids-limit (fork fails with EAGAIN), --memory (ENOMEM or the OOM kill), --cpus", { skip, timeout: scaled(180_000) }, async () => {
  const p = await sh("for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo end", ["--pids-limit", "4"]);
  assert.match(p.stderr, /can't fork: Resource temporarily unavailable/);
  const ok = await sh("for i in 1 2 3; do sleep 0.1 & done; wait; echo end", ["--pids-limit", "8"]);
  assert.equal(ok.stdout, "end\n", ok.stderr);
  const m = await sh("dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; head -c 40000000 /dev/zero | sort >/dev/null; echo sort=$?", ["--memory", "32m"]);
  assert.match(m.stderr, /dd: out of memory/);
  assert.equal(m.stdout, "dd=1\nsort=137\n");
  const big = await sh("dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?", ["--memory", "256m"]);
  assert.equal(big.stdout, "dd=0\n", big.stderr);
  const c = await ctr(["run", "--name", "slow", "--cpus", "0.5", "--memory", "64m", "--pids-limit", "10", IMG, "sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; echo $i"]);
  assert.equal(c.stdout, "2000\n", c.stderr);
  const i = await inspect("slow");
  assert.deepEqual([i.HostConfig.NanoCpus, i.HostConfig.Memory, i.HostConfig.PidsLimit], [500_000_000, 64 << 20, 10]);
  await ctr(["rm", "slow"]);
});

test("container: ten containers at once", { skip, timeout: scaled(300_000) }, async () => {
  const before = (await ctr(["ps", "-a", "-q"])).stdout;
  const runs = await Promise.all(Array.from({ length: 10 }, (_, n) => sh(`echo $HOSTNAME; echo $$; sleep 1; echo done ${n}`)));
  for (const [n, r] of runs.entries()) {
    assert.equal(r.code, 0, r.stderr);
    const [h, pid, done] = r.stdout.trim().split("\n");
    assert.match(h, /^[0-9a-f]{12}$/);
    assert.equal(pid, "1");
    assert.equal(done, `done ${n}`);
  }
  assert.equal(new Set(runs.map((r) => r.stdout.split("\n")[0])).size, 10);
  assert.equal((await ctr(["ps", "-a", "-q"])).stdout, before, "--rm removed them all");
});

test("container: a runner that fails once its guest exists (here: its start callback throws) ends, leaving no socket or guest behind", { skip, timeout: scaled(120_000) }, async () => {
  const base = await ctr(["run", "--name", "failbase", IMG, "true"]);
  assert.equal(base.code, 0, base.stderr);
  const mod = (m: string): string => JSON.stringify(new URL(`../src/host/node/${m}.js`, import.meta.url).href);
  const script = `const { ContainerStore } = await import(${mod("container_store")});
    const { runContainer } = await import(${mod("container_run")});
    const store = new ContainerStore(${JSON.stringify(home)});
    const b = store.find("failbase");
    const rec = await store.create("failrun", { ...b.spec, cmd: ["sleep", "30"], entrypoint: null, autoRemove: false });
    await runContainer(${JSON.stringify(home)}, rec.id, { attached: true, onStarted: () => { throw new Error("start callback failed"); } })
      .then(() => console.log("resolved"), (e) => console.log("rejected: " + e.message));`;
  const t0 = Date.now();
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => { out += d; });
    const kill = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.on("close", (code) => { clearTimeout(kill); resolve({ code, out }); });
  });
  assert.equal(r.out, "rejected: start callback failed\n");
  assert.equal(r.code, 0, "the process ended by itself (before, a listening control socket kept it alive with the guest never run)");
  assert.ok(Date.now() - t0 < 15_000, "it did not wait for the guest's sleep 30");
  await ctr(["rm", "-f", "failrun"]);
  await ctr(["rm", "failbase"]);
});

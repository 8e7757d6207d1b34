// `rvisor container`: OCI containers on the process VM, in Docker's shape (docs/containers.md).
//   rvisor container run [options] IMAGE [CMD...]
//   rvisor container ps [-a] [-q] [--format json]
//   rvisor container stop [-t SECS] C...      kill [-s SIG] C...      rm [-f] C...
//   rvisor container logs [-f] [--tail N] C   exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] C CMD...
//   rvisor container inspect C...
// (and the internal `container __run ID`, the process of a detached container)
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, watch, writeSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OciError } from "../oci/digest.js";
import { ImageStore } from "../host/node/image_store.js";
import { ContainerStore, EXIT_KILLED, CONTAINER_NAME, type ContainerRecord, type ContainerSpec, type VolumeSpec } from "../host/node/container_store.js";
import { ContainerError, parseEnvFile } from "../host/node/container_config.js";
import { FRAME_EXIT, FRAME_STDERR, FRAME_STDIN, FRAME_STDIN_EOF, FRAME_STDOUT, FrameReader, frame, openLog, runContainer } from "../host/node/container_run.js";
import type { PortMapping, PortProto } from "../host/node/container_net.js";
import { pidAlive } from "../host/node/vm_store.js";

const RVISOR_BIN = fileURLToPath(new URL("../../../bin/rvisor.js", import.meta.url));
/** Docker's exit status for an error of the runtime (bad flags included). */
const EXIT_RUNTIME = 125;
const DEFAULT_STOP_SECS = 10;
const DEFAULT_MEMORY = 1 << 30;
const PAGE = 4096;
const START_WAIT_MS = 30_000, POLL_MS = 50;
/** Linux signal numbers by name (signal(7)), for kill -s and StopSignal. */
const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15,
  STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};
const SIGKILL = SIGNALS.KILL, SIGTERM = SIGNALS.TERM;

export const CONTAINER_USAGE = `usage: rvisor container <command> [options]

commands:
  run [options] IMAGE [CMD...]   make a container of IMAGE and run it (attached unless -d)
  ps [-a] [-q] [--format json]   list running containers (-a: all)
  stop [-t SECS] C...            SIGTERM (or the image's StopSignal) to pid 1, SIGKILL after SECS (10)
  kill [-s SIG] C...             send SIG (default KILL) to pid 1
  rm [-f] C...                   remove stopped containers (-f: kill running ones first)
  logs [-f] [--tail N] C         what the container wrote (-f: follow until it stops)
  exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] C CMD...
                                 run CMD in a running container (-i: pass stdin)
  inspect C...                   containers as JSON, in docker inspect's shape

run options:
  --rm                 remove the container when it exits
  -d, --detach         run in the background and print its ID
  -i, --interactive    keep stdin open (without it the container's stdin is empty)
  -t, --tty            the container's stdout is a terminal when rvisor's is (Ctrl-C etc.)
  --name NAME          a name (default: a generated one)
  -e, --env K=V | K    an environment variable (K alone: the host's value); repeatable
  --env-file FILE      K=V lines (# comments); repeatable
  -v, --volume HOST:GUEST[:ro|:rw]
                       mount host directory HOST at GUEST; repeatable
  -p, --publish [HOSTIP:]HOSTPORT:PORT[/tcp|udp]
                       the guest's PORT at HOSTPORT on the host (HOSTIP default 127.0.0.1);
                       ports not published exist only inside the container
  -w, --workdir DIR    the working directory (made when missing)
  -u, --user U[:G]     user and group, names from the image's /etc/passwd or numbers
  --hostname NAME      the container's host name (default: the first 12 digits of its ID)
  --entrypoint CMD     replace the image's Entrypoint ("" clears it; drops the image's Cmd)
  --memory SIZE        guest memory (e.g. 256m, 1g; 16m to 2g; default 1g): past it an
                       allocation fails with ENOMEM, a page fault ends the process (OOM kill)
  --cpus N             share of one host CPU (e.g. 0.5); 1 or more: no throttle
  --pids-limit N       at most N tasks (processes and threads): fork fails with EAGAIN

Exit status of run and exec: the command's, 128+N when signal N ended it, 125 when rvisor
could not run it, 126 when the command cannot be executed, 127 when it is not found.
Containers live under $RVISOR_HOME/containers (docs/containers.md).
`;

class CtrUsage extends Error {}

/** Flags: name → takes a value. */
type FlagSpec = Record<string, boolean>;
const RUN_FLAGS: FlagSpec = {
  rm: false, detach: false, interactive: false, tty: false, name: true, env: true, "env-file": true, volume: true, publish: true,
  workdir: true, user: true, hostname: true, entrypoint: true, memory: true, cpus: true, "pids-limit": true, help: false,
};
const RUN_SHORT: Record<string, string> = { d: "detach", i: "interactive", t: "tty", e: "env", v: "volume", p: "publish", w: "workdir", u: "user", h: "help" };
const EXEC_FLAGS: FlagSpec = { interactive: false, tty: false, detach: false, env: true, workdir: true, user: true, help: false };

interface Parsed { flags: Map<string, string[]>; rest: string[] }

/**
 * Docker's flag rules: options come before the first positional (IMAGE, or the container), after
 * which everything is the command; short flags combine (-it, -dit); values as `-e V`, `-eV`,
 * `--env V` or `--env=V`.
 */
function parseFlags(cmd: string, argv: string[], spec: FlagSpec, short: Record<string, string>, positionals: number): Parsed {
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string): void => { const l = flags.get(k); if (l === undefined) flags.set(k, [v]); else l.push(v); };
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { i++; break; }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (!(name in spec)) throw new CtrUsage(`${cmd}: unknown flag: --${name}`);
      if (spec[name]) {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new CtrUsage(`${cmd}: flag needs an argument: --${name}`);
        add(name, v);
      } else {
        if (eq >= 0 && a.slice(eq + 1) !== "true" && a.slice(eq + 1) !== "false") throw new CtrUsage(`${cmd}: --${name} takes no value`);
        if (eq < 0 || a.slice(eq + 1) === "true") add(name, "true");
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const name = short[a[j]];
        if (name === undefined || !(name in spec)) throw new CtrUsage(`${cmd}: unknown shorthand flag: '${a[j]}' in ${a}`);
        if (spec[name]) {
          const v = j + 1 < a.length ? a.slice(j + 1).replace(/^=/, "") : argv[++i];
          if (v === undefined) throw new CtrUsage(`${cmd}: flag needs an argument: '${a[j]}' in ${a}`);
          add(name, v);
          break;
        }
        add(name, "true");
      }
      continue;
    }
    rest.push(a);
    if (rest.length >= positionals) { i++; break; }
  }
  rest.push(...argv.slice(i));
  return { flags, rest };
}

const one = (p: Parsed, k: string): string | null => { const l = p.flags.get(k); return l === undefined ? null : l[l.length - 1]; };
const all = (p: Parsed, k: string): string[] => p.flags.get(k) ?? [];
const has = (p: Parsed, k: string): boolean => p.flags.has(k);

function parseVolume(v: string): VolumeSpec {
  const parts = v.split(":");
  let readonly = false;
  if (parts.length === 3) {
    if (parts[2] !== "ro" && parts[2] !== "rw") throw new CtrUsage(`invalid mode '${parts[2]}' in volume ${v} (ro or rw)`);
    readonly = parts[2] === "ro"; parts.pop();
  }
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") throw new CtrUsage(`invalid volume ${v}: HOST:GUEST[:ro|:rw]`);
  if (!parts[0].startsWith("/") && !parts[0].startsWith(".")) throw new CtrUsage(`volume ${v}: named volumes are not supported; give a host directory (an absolute path, or one starting with .)`);
  if (!parts[1].startsWith("/")) throw new CtrUsage(`volume ${v}: the container path ${parts[1]} must be absolute`);
  const host = resolve(parts[0]);
  let dir = false;
  try { dir = statSync(host).isDirectory(); } catch { throw new CtrUsage(`volume ${v}: ${host} does not exist`); }
  if (!dir) throw new CtrUsage(`volume ${v}: ${host} is not a directory (rvisor mounts directories only)`);
  const guest = resolve("/", parts[1]);
  if (guest === "/") throw new CtrUsage(`volume ${v}: cannot mount over /`);
  return { host, guest, readonly };
}

const portNumber = (s: string, what: string): number => {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new CtrUsage(`invalid ${what} '${s}' (1 to 65535)`);
  return n;
};

/** [HOSTIP:]HOSTPORT:PORT[/tcp|udp] (an IPv6 HOSTIP in brackets). */
export function parsePublish(v: string): PortMapping {
  let s = v, proto: PortProto = "tcp";
  const slash = s.lastIndexOf("/");
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (p !== "tcp" && p !== "udp") throw new CtrUsage(`invalid protocol '${p}' in ${v} (tcp or udp)`);
    proto = p; s = s.slice(0, slash);
  }
  let hostIp = "127.0.0.1";
  const m6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(s);
  if (m6 !== null) { hostIp = m6[1]; s = m6[2]; }
  const parts = s.split(":");
  if (m6 === null && parts.length === 3) { hostIp = parts.shift() ?? hostIp; }
  if (parts.length !== 2) throw new CtrUsage(`invalid port mapping ${v}: [HOSTIP:]HOSTPORT:PORT[/tcp|udp] (rvisor needs the host port)`);
  if (!/^[0-9.]+$/.test(hostIp) && !hostIp.includes(":")) throw new CtrUsage(`invalid host address '${hostIp}' in ${v}`);
  return { hostIp, hostPort: portNumber(parts[0], "host port"), port: portNumber(parts[1], "container port"), proto };
}

/** The process VM's guest memory range (as `rvisor exec --mem`; not imported from main.ts, which loads the whole system VM). */
const MEM_MIN = 16 << 20, MEM_MAX = 2 * 2 ** 30;
const UNIT: Record<string, number> = { "": 1, b: 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** Docker's --memory: a number of bytes, or with b, k, m, g. */
function parseMemory(s: string): number {
  const m = /^(\d+)([bkmg]?)b?$/i.exec(s.trim());
  if (m === null) throw new CtrUsage(`invalid --memory '${s}' (e.g. 256m or 1g)`);
  let n = Number(m[1]) * UNIT[m[2].toLowerCase()];
  n = Math.ceil(n / PAGE) * PAGE;
  if (n < MEM_MIN || n > MEM_MAX) throw new CtrUsage(`--memory must be between 16m and 2g for the process VM (got ${s})`);
  return n;
}

function parseCpus(s: string): number | null {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new CtrUsage(`invalid --cpus '${s}' (a positive number, e.g. 0.5)`);
  return n >= 1 ? null : n;
}

function parsePids(s: string): number | null {
  const n = Number(s);
  if (!Number.isInteger(n)) throw new CtrUsage(`invalid --pids-limit '${s}'`);
  return n <= 0 ? null : n; // Docker: 0 or -1 is unlimited
}

function envFlags(p: Parsed): string[] {
  const out: string[] = [];
  for (const f of all(p, "env-file")) {
    let text: string;
    try { text = readFileSync(f, "utf8"); } catch (e) { throw new CtrUsage(`--env-file ${f}: ${(e as Error).message}`); }
    out.push(...parseEnvFile(text, f));
  }
  out.push(...all(p, "env"));
  // A bare K takes the host's value now (as docker run reads the client's environment).
  return out.flatMap((kv) => (kv.includes("=") ? [kv] : process.env[kv] !== undefined ? [`${kv}=${process.env[kv] ?? ""}`] : []));
}

function findContainer(store: ContainerStore, ref: string): ContainerRecord {
  let r: ContainerRecord | null;
  try { r = store.find(ref); } catch (e) { throw new ContainerError((e as Error).message, 1); }
  if (r === null) throw new ContainerError(`No such container: ${ref}`, 1);
  return r;
}

async function cmdRun(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("run", argv, RUN_FLAGS, RUN_SHORT, 1);
  if (has(p, "help")) { process.stdout.write(CONTAINER_USAGE); return 0; }
  const [imageRef, ...cmd] = p.rest;
  if (imageRef === undefined) throw new CtrUsage("run: an IMAGE is required (try 'rvisor container --help')");
  const name = one(p, "name");
  if (name !== null && !CONTAINER_NAME.test(name)) throw new CtrUsage(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const images = new ImageStore(store.home);
  let img;
  try { img = images.find(imageRef); } catch (e) { throw new ContainerError((e as Error).message); }
  if (img === null) throw new ContainerError(`Unable to find image '${imageRef}' (rvisor image pull or rvisor image import it first)`);
  const detach = has(p, "detach");
  const hostname = one(p, "hostname");
  if (hostname !== null && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) throw new CtrUsage(`invalid hostname '${hostname}'`);
  const ports = all(p, "publish").map(parsePublish);
  for (let i = 0; i < ports.length; i++) for (let j = 0; j < i; j++) {
    if (ports[i].proto === ports[j].proto && ports[i].hostPort === ports[j].hostPort && ports[i].hostIp === ports[j].hostIp) throw new CtrUsage(`host port ${ports[i].hostIp}:${ports[i].hostPort}/${ports[i].proto} is published twice`);
  }
  const spec: ContainerSpec = {
    imageRef, manifest: img.record.manifest, imageId: img.record.config,
    entrypoint: one(p, "entrypoint"), cmd, env: envFlags(p), workdir: one(p, "workdir"), user: one(p, "user"),
    hostname: hostname ?? "", tty: has(p, "tty"), interactive: has(p, "interactive"), detach, autoRemove: has(p, "rm"),
    volumes: all(p, "volume").map(parseVolume), ports,
    memory: one(p, "memory") !== null ? parseMemory(one(p, "memory") ?? "") : DEFAULT_MEMORY,
    cpus: one(p, "cpus") !== null ? parseCpus(one(p, "cpus") ?? "") : null,
    pidsLimit: one(p, "pids-limit") !== null ? parsePids(one(p, "pids-limit") ?? "") : null,
  };
  const wd = spec.workdir;
  if (wd !== null && !wd.startsWith("/")) throw new CtrUsage(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
  let rec: ContainerRecord;
  try { rec = await store.create(name, spec); } catch (e) { throw new ContainerError((e as Error).message); }
  if (spec.hostname === "") {
    rec.spec.hostname = rec.id.slice(0, 12);
    store.write(rec);
  }
  if (!detach) return runContainer(store.home, rec.id, { attached: true, onStarted: (e) => { if (e !== null) process.stderr.write(`rvisor: ${e.message}\n`); } });
  return startDetached(store, rec);
}

/** Spawns `rvisor container __run ID` detached (stdout and stderr to the log) and waits until it runs. */
async function startDetached(store: ContainerStore, rec: ContainerRecord): Promise<number> {
  const log = openLog(store, rec.id);
  const child = spawn(process.execPath, [RVISOR_BIN, "container", "__run", rec.id], {
    detached: true, stdio: ["ignore", log, log], env: { ...process.env, RVISOR_HOME: store.home },
  });
  closeSync(log);
  let exited: number | null = null;
  child.once("exit", (code) => { exited = code ?? EXIT_KILLED; });
  child.unref();
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    const r = store.read(rec.id);
    if (r === null) {
      // --rm and already gone: it ran and exited.
      process.stdout.write(`${rec.id}\n`);
      return 0;
    }
    if (r.state.status === "running" || r.state.startedAt !== null) { process.stdout.write(`${rec.id}\n`); return 0; }
    if (r.state.error !== null) { process.stderr.write(`rvisor: ${r.state.error}\n`); return r.state.exitCode ?? EXIT_RUNTIME; }
    if (exited !== null) {
      const tail = readLogTail(store, rec.id);
      process.stderr.write(`rvisor: container ${rec.name} failed to start${tail === "" ? "" : `: ${tail}`}\n`);
      return EXIT_RUNTIME;
    }
    if (Date.now() > deadline) { process.stderr.write(`rvisor: container ${rec.name} did not start within ${START_WAIT_MS / 1000} s\n`); return EXIT_RUNTIME; }
    await sleep(POLL_MS);
  }
}

function readLogTail(store: ContainerStore, id: string): string {
  try { return readFileSync(store.logPath(id), "utf8").trim().split("\n").slice(-3).join("\n"); } catch { return ""; }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function age(iso: string | null): string {
  if (iso === null) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 2) return "Less than a second";
  if (s < 60) return `${s} seconds`;
  if (s < 3600) return `${Math.round(s / 60)} minute${Math.round(s / 60) === 1 ? "" : "s"}`;
  if (s < 86400) return `${Math.round(s / 3600)} hour${Math.round(s / 3600) === 1 ? "" : "s"}`;
  return `${Math.round(s / 86400)} days`;
}

function statusText(r: ContainerRecord): string {
  const s = r.state;
  if (s.status === "running") return `Up ${age(s.startedAt)}`;
  if (s.status === "exited") return `Exited (${s.exitCode ?? 0}) ${age(s.finishedAt)} ago`;
  return "Created";
}

function portsText(r: ContainerRecord): string {
  return r.spec.ports.map((m) => `${m.hostIp}:${m.hostPort}->${m.port}/${m.proto}`).join(", ");
}

function commandText(r: ContainerRecord): string {
  const argv = r.state.argv ?? [...(r.spec.entrypoint !== null ? [r.spec.entrypoint] : []), ...r.spec.cmd];
  const s = argv.join(" ");
  return `"${s.length > 20 ? s.slice(0, 19) + "…" : s}"`;
}

function cmdPs(store: ContainerStore, argv: string[]): number {
  const p = parseFlags("ps", argv, { all: false, quiet: false, format: true, "no-trunc": false, help: false }, { a: "all", q: "quiet", h: "help" }, 0);
  if (has(p, "help")) { process.stdout.write(CONTAINER_USAGE); return 0; }
  if (p.rest.length > 0) throw new CtrUsage(`ps: unexpected argument '${p.rest[0]}'`);
  const fmt = one(p, "format");
  if (fmt !== null && fmt !== "json" && fmt !== "table") throw new CtrUsage(`ps: --format json or table (got '${fmt}')`);
  const list = store.list().filter((r) => has(p, "all") || r.state.status === "running");
  const noTrunc = has(p, "no-trunc");
  const id = (r: ContainerRecord): string => (noTrunc ? r.id : r.id.slice(0, 12));
  if (has(p, "quiet")) { for (const r of list) process.stdout.write(`${id(r)}\n`); return 0; }
  if (fmt === "json") {
    for (const r of list) {
      process.stdout.write(JSON.stringify({
        ID: id(r), Image: r.spec.imageRef, Command: commandText(r), CreatedAt: r.created, RunningFor: age(r.created), Status: statusText(r),
        State: r.state.status, Ports: portsText(r), Names: r.name, ExitCode: r.state.exitCode,
      }) + "\n");
    }
    return 0;
  }
  const rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
    ...list.map((r) => [id(r), r.spec.imageRef, commandText(r), `${age(r.created)} ago`, statusText(r), portsText(r), r.name])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) process.stdout.write(row.map((v, c) => (c === row.length - 1 ? v : v.padEnd(widths[c] + 3))).join("") + "\n");
  return 0;
}

/** Sends a request line on a running container's control socket; resolves to its answer, or null when nobody answers. */
function control(store: ContainerStore, id: string, req: object): Promise<string | null> {
  return new Promise((resolveP) => {
    const s = connect(store.socketPath(id));
    let out = "";
    s.on("data", (d: Buffer) => { out += d.toString("utf8"); });
    s.on("error", () => resolveP(null));
    s.on("close", () => resolveP(out));
    s.on("connect", () => s.write(JSON.stringify(req) + "\n"));
  });
}

function parseSignal(s: string): number {
  const up = s.toUpperCase().replace(/^SIG/, "");
  if (/^\d+$/.test(s)) { const n = Number(s); if (n >= 1 && n <= 64) return n; }
  const n = SIGNALS[up];
  if (n === undefined) throw new CtrUsage(`invalid signal: ${s}`);
  return n;
}

/** Sends a signal to pid 1; SIGKILL ends the container's process (its runner) at once. */
async function signalContainer(store: ContainerStore, r: ContainerRecord, sig: number): Promise<void> {
  const pid = r.state.pid;
  if (r.state.status !== "running" || pid === null) throw new ContainerError(`container ${r.name} is not running`, 1);
  if (sig === SIGKILL) {
    try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
    await store.update(r.id, (s) => (s.status === "running" ? { ...s, status: "exited", pid: null, exitCode: EXIT_KILLED, finishedAt: new Date().toISOString() } : s));
    if (r.spec.autoRemove) store.remove(r.id);
    return;
  }
  const ok = await control(store, r.id, { op: "signal", signal: sig });
  if (ok === null) throw new ContainerError(`container ${r.name}: its process does not answer`, 1);
}

async function waitStopped(store: ContainerStore, r: ContainerRecord, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const now = store.read(r.id);
    if (now === null || now.state.status !== "running") return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

async function cmdStop(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("stop", argv, { time: true, signal: true, help: false }, { t: "time", s: "signal", h: "help" }, Infinity);
  if (p.rest.length === 0) throw new CtrUsage("stop: give at least one container");
  const t = one(p, "time");
  const secs = t === null ? DEFAULT_STOP_SECS : Number(t);
  if (!Number.isFinite(secs) || secs < 0) throw new CtrUsage(`stop: invalid -t '${t ?? ""}'`);
  let status = 0;
  for (const ref of p.rest) {
    try {
      const r = findContainer(store, ref);
      if (r.state.status === "running") {
        const images = new ImageStore(store.home);
        const img = images.find(r.spec.manifest);
        const stopSig = one(p, "signal") ?? (img !== null ? images.config(img.record).config.StopSignal : undefined) ?? "TERM";
        await signalContainer(store, r, parseSignal(stopSig));
        if (!(await waitStopped(store, r, secs * 1000))) {
          const again = store.read(r.id);
          if (again !== null && again.state.status === "running") await signalContainer(store, again, SIGKILL);
        }
      }
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      process.stderr.write(`rvisor: ${e.message}\n`); status = 1;
    }
  }
  return status;
}

async function cmdKill(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("kill", argv, { signal: true, help: false }, { s: "signal", h: "help" }, Infinity);
  if (p.rest.length === 0) throw new CtrUsage("kill: give at least one container");
  const sig = parseSignal(one(p, "signal") ?? "KILL");
  let status = 0;
  for (const ref of p.rest) {
    try {
      await signalContainer(store, findContainer(store, ref), sig);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      process.stderr.write(`rvisor: ${e.message}\n`); status = 1;
    }
  }
  return status;
}

async function cmdRm(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("rm", argv, { force: false, help: false }, { f: "force", h: "help" }, Infinity);
  if (p.rest.length === 0) throw new CtrUsage("rm: give at least one container");
  let status = 0;
  for (const ref of p.rest) {
    try {
      const r = findContainer(store, ref);
      if (r.state.status === "running") {
        if (!has(p, "force")) throw new ContainerError(`cannot remove container ${r.name}: container is running: stop the container before removing or force remove`, 1);
        await signalContainer(store, { ...r, spec: { ...r.spec, autoRemove: false } }, SIGKILL);
      }
      store.remove(r.id);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      process.stderr.write(`rvisor: ${e.message}\n`); status = 1;
    }
  }
  return status;
}

async function cmdLogs(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("logs", argv, { follow: false, tail: true, help: false }, { f: "follow", n: "tail", h: "help" }, 1);
  const ref = p.rest[0];
  if (ref === undefined || p.rest.length > 1) throw new CtrUsage("logs: give one container");
  const r = findContainer(store, ref);
  const file = store.logPath(r.id);
  const tailS = one(p, "tail");
  let text = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  let pos = text.length;
  if (tailS !== null && tailS !== "all") {
    const n = Number(tailS);
    if (!Number.isInteger(n) || n < 0) throw new CtrUsage(`logs: invalid --tail '${tailS}'`);
    const lines = text.toString("utf8").split("\n");
    const last = lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
    text = Buffer.from(n === 0 ? "" : last.slice(-n).join("\n") + "\n");
  }
  process.stdout.write(text);
  if (!has(p, "follow")) return 0;
  // -f: what is appended, until the container is no longer running.
  const buf = Buffer.alloc(65536);
  const drain = (): void => {
    let fd: number;
    try { fd = openSync(file, "r"); } catch { return; }
    try { for (;;) { const n = readSync(fd, buf, 0, buf.length, pos); if (n <= 0) break; pos += n; writeSync(1, buf.subarray(0, n)); } } finally { closeSync(fd); }
  };
  let w: ReturnType<typeof watch> | null = null;
  try { w = watch(file, () => drain()); } catch { /* polling below still follows */ }
  try {
    for (;;) {
      drain();
      const now = store.read(r.id);
      if (now === null || now.state.status !== "running") { drain(); return 0; }
      await sleep(POLL_MS * 4);
    }
  } finally { w?.close(); }
}

function inspectDoc(images: ImageStore, r: ContainerRecord): object {
  const s = r.state, sp = r.spec;
  let cfg = null;
  try { const img = images.find(sp.manifest); cfg = img !== null ? images.config(img.record).config : null; } catch { /* image gone */ }
  return {
    Id: r.id, Created: r.created, Path: s.argv?.[0] ?? null, Args: s.argv?.slice(1) ?? [],
    State: {
      Status: s.status, Running: s.status === "running", Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: s.pid ?? 0, ExitCode: s.exitCode ?? 0, Error: s.error ?? "", StartedAt: s.startedAt ?? "0001-01-01T00:00:00Z", FinishedAt: s.finishedAt ?? "0001-01-01T00:00:00Z",
    },
    Image: sp.imageId, Name: `/${r.name}`, LogPath: new ContainerStore(images.home).logPath(r.id),
    HostConfig: {
      Binds: sp.volumes.map((v) => `${v.host}:${v.guest}${v.readonly ? ":ro" : ""}`),
      PortBindings: Object.fromEntries(sp.ports.map((m) => [`${m.port}/${m.proto}`, [{ HostIp: m.hostIp, HostPort: String(m.hostPort) }]])),
      AutoRemove: sp.autoRemove, Memory: sp.memory, NanoCpus: sp.cpus === null ? 0 : Math.round(sp.cpus * 1e9), PidsLimit: sp.pidsLimit,
    },
    Mounts: sp.volumes.map((v) => ({ Type: "bind", Source: v.host, Destination: v.guest, Mode: v.readonly ? "ro" : "", RW: !v.readonly })),
    Config: {
      Hostname: sp.hostname, User: sp.user ?? cfg?.User ?? "", Tty: sp.tty, OpenStdin: sp.interactive,
      Env: s.envResolved ?? sp.env, Cmd: sp.cmd.length > 0 ? sp.cmd : sp.entrypoint !== null ? null : cfg?.Cmd ?? null,
      Entrypoint: sp.entrypoint !== null ? (sp.entrypoint === "" ? null : [sp.entrypoint]) : cfg?.Entrypoint ?? null,
      WorkingDir: s.cwd ?? sp.workdir ?? cfg?.WorkingDir ?? "", Image: sp.imageRef,
      ExposedPorts: cfg?.ExposedPorts ?? {}, StopSignal: cfg?.StopSignal ?? "SIGTERM",
    },
    NetworkSettings: { Ports: Object.fromEntries(sp.ports.map((m) => [`${m.port}/${m.proto}`, [{ HostIp: m.hostIp, HostPort: String(m.hostPort) }]])) },
  };
}

function cmdInspect(store: ContainerStore, argv: string[]): number {
  const p = parseFlags("inspect", argv, { help: false }, { h: "help" }, Infinity);
  if (p.rest.length === 0) throw new CtrUsage("inspect: give at least one container");
  const images = new ImageStore(store.home);
  const out: object[] = [];
  let status = 0;
  for (const ref of p.rest) {
    try { out.push(inspectDoc(images, findContainer(store, ref))); } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      process.stderr.write(`rvisor: ${e.message}\n`); status = 1;
    }
  }
  process.stdout.write(JSON.stringify(out, null, 4) + "\n");
  return status;
}

async function cmdExec(store: ContainerStore, argv: string[]): Promise<number> {
  const p = parseFlags("exec", argv, EXEC_FLAGS, { i: "interactive", t: "tty", d: "detach", e: "env", w: "workdir", u: "user", h: "help" }, 1);
  if (has(p, "help")) { process.stdout.write(CONTAINER_USAGE); return 0; }
  const [ref, ...cmd] = p.rest;
  if (ref === undefined || cmd.length === 0) throw new CtrUsage("exec: give a container and a command");
  const r = findContainer(store, ref);
  if (r.state.status !== "running") throw new ContainerError(`container ${r.name} is not running`, 1);
  // The container's environment, then -e (as docker exec).
  const env = [...(r.state.envResolved ?? [])];
  for (const kv of envFlags(p)) {
    const k = kv.slice(0, kv.indexOf("="));
    const i = env.findIndex((e) => e.startsWith(k + "="));
    if (i >= 0) env[i] = kv; else env.push(kv);
  }
  const req = { op: "exec", argv: cmd, env, cwd: one(p, "workdir") ?? r.state.cwd ?? "/", user: one(p, "user") ?? "" };
  const detach = has(p, "detach");
  return new Promise((resolveP) => {
    const s = connect(store.socketPath(r.id));
    let code: number | null = null;
    const reader = new FrameReader((t, d) => {
      if (t === FRAME_STDOUT) { if (!detach) process.stdout.write(d); }
      else if (t === FRAME_STDERR) { if (!detach) process.stderr.write(d); }
      else if (t === FRAME_EXIT) {
        const x = JSON.parse(d.toString("utf8")) as { exit: number; error?: string };
        if (x.error !== undefined) process.stderr.write(`rvisor: ${x.error}\n`);
        code = x.exit;
      }
    });
    s.on("data", (d: Buffer) => reader.push(d));
    s.on("error", (e) => { process.stderr.write(`rvisor: container ${r.name}: ${e.message}\n`); code = EXIT_RUNTIME; });
    s.on("close", () => { process.stdin.pause(); resolveP(code ?? EXIT_RUNTIME); });
    s.on("connect", () => {
      s.write(JSON.stringify(req) + "\n");
      if (detach) { resolveP(0); return; }
      if (has(p, "interactive")) {
        process.stdin.on("data", (b: Buffer) => s.write(frame(FRAME_STDIN, b)));
        process.stdin.on("end", () => s.write(frame(FRAME_STDIN_EOF, new Uint8Array(0))));
      } else s.write(frame(FRAME_STDIN_EOF, new Uint8Array(0)));
    });
  });
}

export async function containerMain(argv: string[], store = new ContainerStore()): Promise<number> {
  const [sub, ...rest] = argv;
  // A closed stdout (`container ps | head`) ends the listing quietly.
  process.stdout.on("error", () => { /* the reader went away */ });
  try {
    switch (sub) {
      case "run": return await cmdRun(store, rest);
      case "ps": case "ls": case "list": return cmdPs(store, rest);
      case "stop": return await cmdStop(store, rest);
      case "kill": return await cmdKill(store, rest);
      case "rm": return await cmdRm(store, rest);
      case "logs": return await cmdLogs(store, rest);
      case "exec": return await cmdExec(store, rest);
      case "inspect": return cmdInspect(store, rest);
      case "__run": {
        const id = rest[0] ?? "";
        return await runContainer(store.home, id, { attached: false, onStarted: (e) => { if (e !== null) process.stderr.write(`rvisor: ${e.message}\n`); } });
      }
      case undefined: case "-h": case "--help": case "help":
        process.stdout.write(CONTAINER_USAGE);
        return sub === undefined ? 2 : 0;
      default: throw new CtrUsage(`unknown container command '${sub}' (try 'rvisor container --help')`);
    }
  } catch (e) {
    if (e instanceof CtrUsage) { process.stderr.write(`rvisor container: ${e.message}\n`); return EXIT_RUNTIME; }
    if (e instanceof ContainerError || e instanceof OciError) { process.stderr.write(`rvisor: ${e.message}\n`); return e instanceof ContainerError ? e.status : 1; }
    throw e;
  }
}


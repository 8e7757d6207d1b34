// Runs one container in this host process (docs/containers.md): the image's layers from the
// ImageStore as the overlay's lower layers (nothing is copied), the container's upper layer, its
// volumes; its own /etc/hosts, /etc/hostname and /etc/resolv.conf; a pid namespace (the entry
// process is pid 1); its own ports (container_net.ts); the memory, task and CPU limits; and a
// control socket through which `container exec`, `kill` and `stop` reach it.
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { posix } from "node:path";
import { ImageStore } from "./image_store.js";
import { ContainerStore, type ContainerRecord } from "./container_store.js";
import { ContainerNet } from "./container_net.js";
import { ContainerError, containerEnv, commandLine, hostsFile, parseGroup, parsePasswd, resolvConf, resolveUser } from "./container_config.js";
import { nodeUserHost } from "./user_host.js";
import { OverlayFs, type OverlayLower } from "../../user/overlay.js";
import { Kernel } from "../../user/kernel.js";
import { ExecError } from "../../user/loader.js";
import {
  EAGAIN, ENOENT, EPIPE, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, POLLHUP, POLLIN, POLLOUT, S_IFDIR, S_IFMT, S_IFREG,
} from "../../abi/linux.js";
import { fakeStat, OpenFile } from "../../user/file.js";
import type { HostFs, HostStat, HostTerminal, UserHost } from "../../user/host.js";
import type { Process } from "../../user/task.js";

/** Frame types on the control socket after an exec request (1 type byte, 4-byte big-endian length, data). */
export const FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_EXIT = 3, FRAME_STDIN_EOF = 4;
const FRAME_HEADER = 5;
/** Linux's SIGKILL, and the 128+N of a status killed by a signal. */
const SIGKILL = 9, SIGNAL_EXIT_BASE = 128;
const X_OK = 1;

export function frame(type: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(FRAME_HEADER + data.length);
  b[0] = type; b.writeUInt32BE(data.length, 1); b.set(data, FRAME_HEADER);
  return b;
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly on: (type: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= FRAME_HEADER) {
      const n = this.buf.readUInt32BE(1);
      if (this.buf.length < FRAME_HEADER + n) break;
      const t = this.buf[0], d = this.buf.subarray(FRAME_HEADER, FRAME_HEADER + n);
      this.buf = this.buf.subarray(FRAME_HEADER + n);
      this.on(t, d);
    }
  }
}

/** An exec'd process's stdin: bytes from the control socket. */
class SocketIn extends OpenFile {
  private chunks: Uint8Array[] = [];
  eof = false;
  constructor() { super(); this.flags = O_RDONLY; this.path = "pipe:[exec-stdin]"; }
  push(c: Uint8Array | null): void { if (c === null) this.eof = true; else this.chunks.push(c); OpenFile.notify(); }
  override read(buf: Uint8Array): number {
    if (this.chunks.length === 0) return this.eof ? 0 : -EAGAIN;
    let n = 0;
    while (n < buf.length && this.chunks.length > 0) {
      const c = this.chunks[0], k = Math.min(c.length, buf.length - n);
      buf.set(c.subarray(0, k), n); n += k;
      if (k === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
    }
    return n;
  }
  override poll(): number { return this.chunks.length > 0 || this.eof ? POLLIN : 0; }
  override stat(): HostStat { return fakeStat(0o010600); }
}

/** An exec'd process's stdout or stderr: frames on the control socket. */
class SocketOut extends OpenFile {
  constructor(readonly sock: Socket, readonly type: number) { super(); this.flags = O_WRONLY; this.path = `pipe:[exec-${type}]`; }
  override write(data: Uint8Array): number {
    if (this.sock.destroyed) return -EPIPE;
    this.sock.write(frame(this.type, data));
    return data.length;
  }
  override poll(): number { return this.sock.destroyed ? POLLHUP : POLLOUT; }
  override stat(): HostStat { return fakeStat(0o010600); }
}

function readAll(fs: HostFs, path: string): string | null {
  const h = fs.open(path, O_RDONLY, 0);
  if (h < 0) return null;
  const parts: Buffer[] = [];
  const b = new Uint8Array(65536);
  for (;;) { const n = fs.read(h, b, null); if (n <= 0) break; parts.push(Buffer.from(b.subarray(0, n))); }
  fs.close(h);
  return Buffer.concat(parts).toString("utf8");
}

function writeAll(fs: HostFs, path: string, text: string, mode: number): void {
  const h = fs.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (h < 0) throw new ContainerError(`cannot write ${path} in the container (errno ${-h})`);
  fs.write(h, Buffer.from(text), null);
  fs.close(h);
}

/** mkdir -p in the container's filesystem (the working directory Docker makes when missing). */
function mkdirs(fs: HostFs, dir: string): void {
  let p = "";
  for (const c of dir.split("/").filter((x) => x !== "")) {
    p += "/" + c;
    const st = fs.stat(p);
    if (typeof st !== "number") {
      if ((st.mode & S_IFMT) !== S_IFDIR) throw new ContainerError(`the working directory ${dir}: ${p} is not a directory`);
      continue;
    }
    const r = fs.mkdir(p, 0o755);
    if (r < 0) throw new ContainerError(`cannot make the working directory ${dir} (errno ${-r})`);
  }
}

/** The devices the kernel provides by name (src/user/kernel.ts devFile), as /dev lists them. */
const DEV_NODES = ["null", "zero", "random", "urandom", "tty"];
/** Links a container's /dev has (as runc makes them). */
const DEV_LINKS: [string, string][] = [["fd", "/proc/self/fd"], ["stdin", "/proc/self/fd/0"], ["stdout", "/proc/self/fd/1"], ["stderr", "/proc/self/fd/2"]];

/**
 * The container's /dev and /proc mount points, made in its own layer as Docker mounts them: /dev
 * with the names of the kernel's devices (opening them reaches the kernel's device, never a
 * file), /dev/pts, a writable /dev/shm, and the fd links; /proc is the kernel's.
 */
function containerDev(fs: HostFs, tty: boolean): void {
  mkdirs(fs, "/proc");
  mkdirs(fs, "/dev/pts");
  mkdirs(fs, "/dev/shm");
  fs.chmod("/dev/shm", 0o1777);
  for (const n of DEV_NODES) if (typeof fs.lstat(`/dev/${n}`) === "number") writeAll(fs, `/dev/${n}`, "", 0o666);
  // With -t the container's terminal is /dev/pts/0 (a name: the kernel's tty answers it).
  if (tty && typeof fs.lstat("/dev/pts/0") === "number") writeAll(fs, "/dev/pts/0", "", 0o620);
  for (const [n, target] of DEV_LINKS) if (typeof fs.lstat(`/dev/${n}`) === "number") fs.symlink(target, `/dev/${n}`);
}

/**
 * The program a command names, looked up as runc does: a name with a slash as it is (relative to
 * the working directory), else in the container's PATH. Not found: 127; not executable: 126.
 */
export function findProgram(fs: HostFs, name: string, env: string[], cwd: string, creds: { uid: number; gid: number }): string {
  const executable = (p: string): "ok" | "missing" | "denied" => {
    const st = fs.stat(p);
    if (typeof st === "number") return "missing";
    if ((st.mode & S_IFMT) !== S_IFREG) return "denied";
    const bits = creds.uid === 0 ? (st.mode & 0o111) !== 0 : st.uid === creds.uid ? (st.mode & 0o100) !== 0 : st.gid === creds.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    return bits ? "ok" : "denied";
  };
  if (name.includes("/")) {
    const p = posix.resolve(cwd, name);
    const r = executable(p);
    if (r === "missing") throw new ContainerError(`exec: "${name}": stat ${name}: no such file or directory`, 127);
    if (r === "denied") throw new ContainerError(`exec: "${name}": permission denied`, 126);
    return p;
  }
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "";
  let denied: string | null = null;
  for (const d of path.split(":")) {
    const p = posix.join(d === "" ? cwd : posix.resolve(cwd, d), name);
    const r = executable(p);
    if (r === "ok") return p;
    if (r === "denied" && denied === null) denied = p;
  }
  if (denied !== null) throw new ContainerError(`exec: "${name}": permission denied`, 126);
  throw new ContainerError(`exec: "${name}": executable file not found in $PATH`, 127);
}

/** The status as `docker wait` reports it: the exit code, or 128+N for signal N. */
function statusOf(p: Process): number {
  const st = p.status ?? 0;
  return (st & 0x7f) !== 0 ? SIGNAL_EXIT_BASE + (st & 0x7f) : (st >> 8) & 0xff;
}

/** The host terminal as the container sees it: a terminal only with -t, stdin only with -i; output also to the log. */
function containerTerm(inner: HostTerminal, o: { tty: boolean; interactive: boolean; log: string | null }): HostTerminal {
  return {
    isatty: (fd) => o.tty && inner.isatty(fd),
    winsize: (fd) => (o.tty ? inner.winsize(fd) : null),
    setRaw: (raw) => { if (o.tty) inner.setRaw(raw); },
    write: (fd, data) => {
      const n = inner.write(fd, data);
      if (o.log !== null && n > 0) { try { appendFileSync(o.log, data.subarray(0, n)); } catch { /* the log is best effort */ } }
      return n;
    },
    startInput: (cb) => { if (o.interactive) inner.startInput(cb); else setImmediate(() => cb(null)); },
    onSignal: (cb) => inner.onSignal(cb),
    onResize: (cb) => inner.onResize(cb),
    release: () => inner.release(),
    suspend: () => inner.suspend(),
    stop: () => inner.stop(),
  };
}

export interface RunIo {
  /** The container's output goes to this process's stdout/stderr and is copied to the log (attached), or stdout/stderr are the log (-d). */
  attached: boolean;
  /** Called once the container runs (state recorded), or with the failure. */
  onStarted?: (err: ContainerError | null) => void;
}

/** Runs the container to its end; resolves to its exit status (125/126/127 when it could not start). */
export async function runContainer(home: string, id: string, io: RunIo): Promise<number> {
  const store = new ContainerStore(home);
  const rec = store.read(id);
  if (rec === null) throw new ContainerError(`No such container: ${id}`);
  const fail = async (e: ContainerError): Promise<number> => {
    await store.update(id, (s) => ({ ...s, status: "created", pid: null, exitCode: e.status, error: e.message }));
    io.onStarted?.(e);
    if (rec.spec.autoRemove) store.remove(id);
    return e.status;
  };
  let started: Started;
  try { started = prepare(store, rec, io); } catch (e) {
    if (e instanceof ContainerError) return fail(e);
    throw e;
  }
  const { k, overlay, host, argv, env, cwd, path } = started;
  let server: Server | null = null;
  try {
    k.start(path, argv, env, cwd);
  } catch (e) {
    host.term.stop();
    overlay.shutdown();
    if (e instanceof ExecError) return fail(new ContainerError(`exec ${argv[0]}: ${e.message}`, e.errno === -ENOENT ? 127 : 126));
    throw e;
  }
  let code: number;
  try {
    server = await controlServer(store, id, k, rec);
    await store.update(id, (s) => ({
      ...s, status: "running", pid: process.pid, startedAt: new Date().toISOString(), finishedAt: null, exitCode: null, error: null,
      argv, envResolved: env, cwd, uid: k.uid, gid: k.gid,
    }));
    io.onStarted?.(null);
    code = await k.run();
  } catch (e) {
    // A failure once the guest exists (the state directory, the control socket) must not leave
    // this process alive with a listening socket and a guest that never runs: end them both.
    k.terminate();
    throw e;
  } finally {
    server?.close();
    rmSync(store.socketPath(id), { force: true });
    host.term.stop();
    await host.net.closeAll();
    overlay.shutdown();
  }
  await store.update(id, (s) => ({ ...s, status: "exited", pid: null, finishedAt: new Date().toISOString(), exitCode: code }));
  if (rec.spec.autoRemove) store.remove(id);
  return code;
}

interface Started { k: Kernel; overlay: OverlayFs; host: UserHost; argv: string[]; env: string[]; cwd: string; path: string }

function prepare(store: ContainerStore, rec: ContainerRecord, io: RunIo): Started {
  const spec = rec.spec;
  const images = new ImageStore(store.home);
  const img = images.find(spec.manifest);
  if (img === null) throw new ContainerError(`the image of container ${rec.name} (${spec.imageRef}, ${spec.manifest}) is no longer in the store`);
  const config = images.config(img.record).config;
  const base = nodeUserHost();
  const lowers: OverlayLower[] = [];
  for (const l of img.record.layers) {
    const lower = OverlayFs.lower(base.fs, images.layerDir(l.diffId));
    if (typeof lower === "string") throw new ContainerError(lower);
    lowers.push(lower);
  }
  const hostIds = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  let overlay: OverlayFs;
  try {
    // Files the host user owns show as root's, as a rootless container's user namespace maps them.
    overlay = new OverlayFs(base.fs, { lowers, upper: store.upperDir(rec.id), volumes: spec.volumes, hostIds, owner: { uid: 0, gid: 0 } });
  } catch (e) { throw new ContainerError((e as Error).message); }
  try {
    overlay.creds = { uid: 0, gid: 0 };
    const user = resolveUser(spec.user ?? config.User ?? "", parsePasswd(readAll(overlay, "/etc/passwd") ?? ""), parseGroup(readAll(overlay, "/etc/group") ?? ""));
    // The files Docker bind-mounts, written in the container's own layer (root's, as Docker's).
    mkdirs(overlay, "/etc");
    writeAll(overlay, "/etc/hostname", `${spec.hostname}\n`, 0o644);
    writeAll(overlay, "/etc/hosts", hostsFile(spec.hostname), 0o644);
    let hostResolv = "";
    try { hostResolv = readFileSync("/etc/resolv.conf", "utf8"); } catch { /* no resolver on the host */ }
    writeAll(overlay, "/etc/resolv.conf", resolvConf(hostResolv), 0o644);
    containerDev(overlay, spec.tty);
    const cwd = posix.resolve("/", spec.workdir ?? (config.WorkingDir !== undefined && config.WorkingDir !== "" ? config.WorkingDir : "/"));
    mkdirs(overlay, cwd);
    const env = containerEnv(config, spec.env, {}, spec.hostname, user.home, spec.tty);
    const argv = commandLine(config, spec);
    overlay.creds = { uid: user.uid, gid: user.gid };
    const path = findProgram(overlay, argv[0], env, cwd, user);
    if (overlay.access(path, X_OK) < 0) throw new ContainerError(`exec: "${argv[0]}": permission denied`, 126);
    const term = containerTerm(base.term, { tty: spec.tty, interactive: spec.interactive, log: io.attached ? store.logPath(rec.id) : null });
    const host: UserHost = { ...base, term, net: new ContainerNet(base.net, spec.ports), hostname: spec.hostname };
    const k = new Kernel(host, {
      root: "/", readonly: false, strace: process.env.RVISOR_STRACE === "1", memBytes: spec.memory, orphans: "kill",
      log: (line) => process.stderr.write(line + "\n"), fs: overlay, pidNamespace: true,
      ...(spec.pidsLimit !== null ? { maxTasks: spec.pidsLimit } : {}), ...(spec.cpus !== null ? { cpuShare: spec.cpus } : {}),
    });
    k.uid = user.uid; k.gid = user.gid;
    return { k, overlay, host, argv, env, cwd, path };
  } catch (e) {
    overlay.shutdown();
    throw e;
  }
}

/** An exec request or a signal, as the first line on the control socket. */
interface ControlRequest { op: "exec" | "signal"; argv?: string[]; env?: string[]; cwd?: string; user?: string; signal?: number }

function controlServer(store: ContainerStore, id: string, k: Kernel, rec: ContainerRecord): Promise<Server> {
  const path = store.socketPath(id);
  rmSync(path, { force: true });
  const execs = new Map<Process, Socket>();
  k.onProcessExit = (p) => {
    const s = execs.get(p);
    if (s === undefined) return;
    execs.delete(p);
    s.end(frame(FRAME_EXIT, Buffer.from(JSON.stringify({ exit: statusOf(p) }))));
  };
  const server = createServer((sock) => {
    let head = Buffer.alloc(0);
    let reader: FrameReader | null = null;
    sock.on("error", () => { /* the client went away */ });
    sock.on("data", (chunk: Buffer) => {
      if (reader !== null) { reader.push(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      let req: ControlRequest;
      try { req = JSON.parse(head.subarray(0, nl).toString("utf8")) as ControlRequest; } catch { sock.destroy(); return; }
      const rest = head.subarray(nl + 1);
      if (req.op === "signal") {
        const sig = req.signal ?? 0;
        if (k.init !== null) {
          if (sig === SIGKILL) k.exitProcess(k.init, SIGKILL);
          else k.sendSignal(k.init, null, { signo: sig, code: 0 });
          k.notify();
        }
        sock.end("ok\n");
        return;
      }
      const stdin = new SocketIn();
      reader = new FrameReader((t, d) => { if (t === FRAME_STDIN) stdin.push(new Uint8Array(d)); else if (t === FRAME_STDIN_EOF) stdin.push(null); });
      const argv = req.argv ?? [];
      const env = req.env ?? rec.spec.env;
      try {
        if (argv.length === 0) throw new ContainerError("exec: no command given");
        if (req.user !== undefined && req.user !== null && req.user !== "") {
          const u = resolveUser(req.user, parsePasswd(readAll(k.vfs.host, "/etc/passwd") ?? ""), parseGroup(readAll(k.vfs.host, "/etc/group") ?? ""));
          if (u.uid !== k.uid || u.gid !== k.gid) throw new ContainerError(`exec -u ${req.user}: the container runs as ${k.uid}:${k.gid}; rvisor runs all of a container's processes as one user`);
        }
        const cwd = posix.resolve("/", req.cwd ?? "/");
        const path = findProgram(k.vfs.host, argv[0], env, cwd, { uid: k.uid, gid: k.gid });
        const p = k.spawn(path, argv, env, cwd, [stdin, new SocketOut(sock, FRAME_STDOUT), new SocketOut(sock, FRAME_STDERR)]);
        execs.set(p, sock);
        sock.on("close", () => { if (execs.get(p) === sock && p.alive) k.exitProcess(p, SIGKILL); });
      } catch (e) {
        const ce = e instanceof ContainerError ? e : e instanceof ExecError ? new ContainerError(e.message, e.errno === -ENOENT ? 127 : 126) : null;
        if (ce === null) throw e;
        sock.end(frame(FRAME_EXIT, Buffer.from(JSON.stringify({ exit: ce.status, error: ce.message }))));
        return;
      }
      if (rest.length > 0) reader.push(rest);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => { server.off("error", reject); resolve(server); });
  });
}

/** Opens the log file for a detached runner's stdout and stderr. */
export function openLog(store: ContainerStore, id: string): number { return openSync(store.logPath(id), "a"); }
export { closeSync };

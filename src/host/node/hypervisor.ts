// The Node API of the hypervisor: `import { Hypervisor } from "rvisor"`. Every operation on
// persistent VMs lives here once; the CLI verbs (src/cli/vm_commands.ts) and the REST server
// (src/api/server.ts) are clients of this class.
//
// No daemon stands behind it: a Hypervisor reads the state directory (src/host/node/vm_store.ts)
// and talks to each VM's own process over its control socket, so any number of Hypervisor
// objects (in one program or in many) see the same VMs, and a VM outlives the program that
// started it. Decisions that host-wide limits depend on (create, start, update, rm) are taken
// under the state directory's lock.
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, watch } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Duplex } from "node:stream";
import { parseVmConfig, validateName, VmConfigError, type DiskFormat, type VmConfig } from "../../hypervisor/config.js";
import type { ControlReply, RunState, VmStatus } from "../../hypervisor/control.js";
import { createRefusal } from "../../hypervisor/limits.js";
import type { SnapshotRecord } from "../../hypervisor/snapshots.js";
import { HypervisorError, type StopResult, type VmConfigInput, type VmInfo, type VmSummary } from "../../hypervisor/api.js";
import { controlRequest, ControlError, openConsole, vmState, type VmStateInfo } from "./vm_control.js";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, killVm, liveVm, shutdownVm, startVmLocked, waitGone, type LiveVm } from "./vm_ops.js";
import {
  cloneVm, collectImages, createVmDisks, dependents, listSnapshots, newImagePath, pendingRestore, readSnapshotRecord, removeSnapshot, revertVm, snapshotVm, type SnapshotListEntry,
} from "./vm_snapshot.js";
import { VmExistsError, VmStore } from "./vm_store.js";
import { WarmPool } from "./vm_pool.js";

export interface HypervisorOptions {
  /** The state directory; default $RVISOR_HOME, else $XDG_DATA_HOME/rvisor, else ~/.local/share/rvisor. */
  home?: string;
  /** Where host-wide limits are read from (RVISOR_LIMITS_*), and the VM processes' environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * How many warm VM processes to keep (src/host/node/vm_pool.ts): Node started and the VM
   * modules loaded, each handed to the next VM that starts (a cold start or the restore of a
   * shut-off VM) and replaced in the background. Default 0 (none): a one-shot program gains
   * nothing from one; `rvisor serve` keeps 1. Idle warm processes end with this program.
   */
  warmPool?: number;
}

export interface StopOptions {
  /** How long the guest has to power off after the power-button press before the host stops it; default 30 000 ms. */
  timeoutMs?: number;
  /** Skip the guest: stop from the host at once (vCPUs stopped, disks flushed). */
  force?: boolean;
}

/** A new, empty disk image `create` makes (`rvisor create --disk 10G`); its path is one of the definition's disks. */
export interface NewDisk { path: string; size: number; format: DiskFormat }

export interface LogsOptions {
  /** Only the last `tail` lines. */
  tail?: number;
}

export const DEFAULT_STOP_TIMEOUT_MS = DEFAULT_SHUTDOWN_TIMEOUT_MS;
/** How long a killed VM process may take to disappear. */
const KILL_WAIT_MS = 5000;
const LOG_POLL_MS = 500;

function isLive(st: VmStateInfo): boolean { return st.state === "running" || st.state === "paused"; }

function checkFile(p: string, field: string, kind: "file" | "dir"): void {
  let st;
  try { st = statSync(p); } catch (e) { throw new VmConfigError(field, `cannot use '${p}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
  if (kind === "file" && !st.isFile()) throw new VmConfigError(field, `'${p}' is not a regular file`);
  if (kind === "dir" && !st.isDirectory()) throw new VmConfigError(field, `'${p}' is not a directory`);
}

/** The host files a definition names must exist when it is created or changed. */
function checkHostPaths(c: VmConfig): void {
  if (c.boot.firmware !== "builtin" && c.boot.firmware !== "none") checkFile(c.boot.firmware, "boot.firmware", "file");
  if (c.boot.kernel !== null) checkFile(c.boot.kernel, "boot.kernel", "file");
  if (c.boot.initrd !== null) checkFile(c.boot.initrd, "boot.initrd", "file");
  c.disks.forEach((d, i) => checkFile(d.path, `disks[${i}].path`, "file"));
  c.shares.forEach((s, i) => checkFile(s.path, `shares[${i}].path`, "dir"));
}

/** The definition with every host path absolute (relative ones taken from the working directory). */
function absolutePaths(c: VmConfig): VmConfig {
  const abs = (p: string): string => isAbsolute(p) ? p : resolve(p);
  const fw = c.boot.firmware === "builtin" || c.boot.firmware === "none" ? c.boot.firmware : abs(c.boot.firmware);
  return {
    ...c,
    boot: { ...c.boot, firmware: fw, kernel: c.boot.kernel === null ? null : abs(c.boot.kernel), initrd: c.boot.initrd === null ? null : abs(c.boot.initrd) },
    disks: c.disks.map((d) => ({ ...d, path: abs(d.path) })),
    shares: c.shares.map((s) => ({ ...s, path: abs(s.path) })),
  };
}

/** The last `n` lines of a text. */
function tailLines(text: string, n: number): string {
  const lines = text.split("\n");
  const last = lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
  return last.slice(Math.max(0, last.length - n)).map((l) => `${l}\n`).join("");
}

function readOrEmpty(file: string): Buffer { try { return readFileSync(file); } catch { return Buffer.alloc(0); } }

function inode(file: string): number | null { try { return statSync(file).ino; } catch { return null; } }

/** The bytes of `file` from offset `pos` to its end now (none when it is missing or not longer). */
function readFrom(file: string, pos: number): Buffer {
  let fd: number;
  try { fd = openSync(file, "r"); } catch { return Buffer.alloc(0); }
  try {
    const size = fstatSync(fd).size;
    if (size <= pos) return Buffer.alloc(0);
    const b = Buffer.alloc(size - pos);
    const n = readSync(fd, b, 0, b.length, pos);
    return b.subarray(0, n);
  } finally { closeSync(fd); }
}


export class Hypervisor {
  readonly store: VmStore;
  private readonly env: NodeJS.ProcessEnv;
  private readonly pool: WarmPool | null;

  constructor(opts: HypervisorOptions = {}) {
    this.env = opts.env ?? process.env;
    this.store = opts.home === undefined ? new VmStore() : new VmStore(opts.home);
    const size = opts.warmPool ?? 0;
    if (!Number.isInteger(size) || size < 0) throw new VmConfigError("warmPool", `must be a whole number (got ${size})`);
    this.pool = size === 0 ? null : new WarmPool(this.store, this.env, size);
    this.pool?.refill();
  }

  /** The pids of the idle warm processes (empty without a pool). */
  warmPids(): number[] { return this.pool?.pids() ?? []; }

  /** Resolves once the warm pool is full (at once without one). */
  async warmUp(timeoutMs?: number): Promise<void> { await this.pool?.whenFull(timeoutMs); }

  /** Ends the idle warm processes (running VMs are not touched); the pool starts no more. */
  close(): void { this.pool?.close(); }

  /** The state directory. */
  get home(): string { return this.store.root; }

  /** The stored definition of a VM; throws not_found (or a VmConfigError for an invalid name). */
  config(name: string): VmConfig {
    validateName(name);
    if (!this.store.exists(name)) throw new HypervisorError("not_found", `VM '${name}' does not exist`);
    return this.store.read(name);
  }

  /**
   * Defines a VM: validates the definition (VmConfigError naming the field), checks that the
   * host files it names exist, and refuses (kind "limit") what would exceed limits.instances or,
   * alone, limits.cpu / limits.memory. Returns the stored definition, defaults filled in.
   */
  async create(input: VmConfigInput, opts: { newDisks?: readonly NewDisk[] } = {}): Promise<VmConfig> {
    const cfg = absolutePaths(parseVmConfig(input));
    const fresh = opts.newDisks ?? [];
    checkHostPaths({ ...cfg, disks: cfg.disks.filter((d) => !fresh.some((f) => f.path === d.path)) });
    const s = this.store;
    await s.withLock(async () => {
      const refusal = createRefusal(s.limits(this.env), s.names().length, cfg);
      if (refusal !== null) throw new HypervisorError("limit", refusal);
      try { s.create(cfg); } catch (e) {
        if (e instanceof VmExistsError) throw new HypervisorError("exists", e.message);
        throw e;
      }
      try { await createVmDisks(fresh); } catch (e) {
        s.remove(cfg.name);
        throw new HypervisorError("failed", `cannot create the disk images of VM '${cfg.name}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    });
    return cfg;
  }

  /** Where `create` puts the i-th new disk image of VM `name` (the CLI's `--disk SIZE`). */
  newDiskPath(name: string, index: number): string { return newImagePath(this.store.disksDir(name), index); }

  /**
   * Changes the definition of a shut-off VM: `change` gets the stored definition and returns the
   * new one (in any shape parseVmConfig accepts). The name cannot change; a running or paused VM
   * is refused (kind "state": as Firecracker, a machine is configured before it boots). Nothing is
   * written unless the whole new definition is valid.
   */
  async update(name: string, change: (cfg: VmConfig) => unknown): Promise<VmConfig> {
    this.config(name);
    const s = this.store;
    return s.withLock(async () => {
      const st = await vmState(s, name);
      if (isLive(st)) throw new HypervisorError("state", `VM '${name}' is ${st.state}: its definition can change only while it is shut off`);
      const cfg = absolutePaths(parseVmConfig(change(s.read(name))));
      if (cfg.name !== name) throw new VmConfigError("name", `a VM cannot be renamed (is '${name}', got '${cfg.name}')`);
      checkHostPaths(cfg);
      // The VM is already counted against limits.instances; its own vCPUs and memory still must fit.
      const refusal = createRefusal({ ...s.limits(this.env), instances: null }, 0, cfg);
      if (refusal !== null) throw new HypervisorError("limit", refusal);
      s.writeConfig(cfg);
      return cfg;
    });
  }

  /** Starts the VM in its own detached process; resolves with its pid once it serves its control socket. */
  async start(name: string): Promise<number> {
    this.config(name);
    return this.store.withLock(() => startVmLocked(this.store, name, this.env, this.pool));
  }

  /**
   * Stops the VM gracefully (src/host/node/vm_ops.ts): presses its power button and waits up to
   * `timeoutMs` for the guest to power off, then stops it from the host (vCPUs stopped, disks
   * flushed); a VM process that does not answer is killed. `force` (and a paused VM) skip the guest.
   */
  async stop(name: string, opts: StopOptions = {}): Promise<StopResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new VmConfigError("timeoutMs", `must be a number of milliseconds (got ${timeoutMs})`);
    this.config(name);
    const r = await shutdownVm(this.store, name, { timeoutMs, force: opts.force });
    return { outcome: r.how === "guest" ? "powered-off" : r.how === "host" ? "stopped" : "killed", reason: r.why, pid: r.pid };
  }

  /** Presses the VM's power button and returns at once (Firecracker's SendCtrlAltDel); the guest decides what to do. */
  async powerButton(name: string): Promise<void> {
    const v = await this.live(name);
    if (v.state === "paused") throw new HypervisorError("state", `VM '${name}' is paused: its guest cannot see the power button`);
    await this.request(name, v.socket, "powerdown");
  }

  /** Kills the VM's process at once (SIGKILL); resolves with its pid once it is gone. */
  async kill(name: string): Promise<number> {
    this.config(name);
    return killVm(this.store, name);
  }

  /**
   * Snapshots the running or paused VM: its machine state and, in the same pause, every writable
   * disk (the current image becomes a read-only base under a new overlay). See vm_snapshot.ts.
   */
  async snapshot(name: string, snap?: string): Promise<SnapshotRecord> {
    this.config(name);
    return snapshotVm(this.store, name, snap);
  }

  /** The VM's snapshots, oldest first (a corrupt one is listed with its error). */
  snapshots(name: string): SnapshotListEntry[] {
    this.config(name);
    return listSnapshots(this.store, name);
  }

  /**
   * A snapshot's machine file (harts, devices, RAM: the versioned format of docs/snapshot.md),
   * which `rvisor run --restore FILE` runs on any host; its size is the record's machineBytes.
   * A not_found HypervisorError for an unknown VM or snapshot; a failed one for a corrupt record.
   */
  snapshotFile(name: string, snap: string): { path: string; bytes: number } {
    this.config(name);
    const rec = readSnapshotRecord(this.store, name, snap);
    return { path: join(this.store.snapshotDir(name, snap), rec.machineFile), bytes: rec.machineBytes };
  }

  /** Deletes a snapshot; returns the images that were freed. */
  async removeSnapshot(name: string, snap: string): Promise<string[]> {
    this.config(name);
    return removeSnapshot(this.store, name, snap);
  }

  /** Returns the VM to a snapshot (machine and disks) and starts it from there, running or paused. */
  async restore(name: string, snap: string, opts: { state?: RunState } = {}): Promise<{ pid: number; record: SnapshotRecord }> {
    this.config(name);
    return revertVm(this.store, name, snap, opts, this.env, this.pool);
  }

  /** A new VM with copy-on-write overlays on `src`'s disks (`src` shut off), or on a snapshot's, starting from its machine state. */
  async clone(src: string, dst: string, opts: { snapshot?: string } = {}): Promise<VmConfig> {
    this.config(src);
    return cloneVm(this.store, src, dst, opts);
  }

  /** Stops the VM's vCPUs; guest time stands still until resume. */
  pause(name: string): Promise<VmStatus> { return this.control(name, "pause"); }

  /** Continues a paused VM. */
  resume(name: string): Promise<VmStatus> { return this.control(name, "resume"); }

  /** Every defined VM, sorted by name. */
  async list(): Promise<VmSummary[]> {
    return Promise.all(this.store.names().map(async (n) => this.summary(n, this.store.read(n), await vmState(this.store, n))));
  }

  /** A VM's definition and state. */
  async info(name: string): Promise<VmInfo> {
    const cfg = this.config(name);
    const st = await vmState(this.store, name);
    const row = this.summary(name, cfg, st);
    const pending = pendingRestore(this.store, name);
    return {
      name, state: row.state, pid: row.pid, status: st.status, config: cfg, lastExit: this.store.lastExit(name),
      ...(row.crash === undefined ? {} : { crash: row.crash }), consoleLog: this.store.logPath(name),
      snapshots: listSnapshots(this.store, name).map((e) => e.name), restoreFrom: pending === null ? null : pending.from,
    };
  }

  /** The kept console output (the rotated generation, then the current log). */
  logs(name: string, opts: LogsOptions = {}): Buffer { return this.keptLogs(name, opts).text; }

  /** The kept output (tail applied) and the identity and length of the current log it ends with. */
  private keptLogs(name: string, opts: LogsOptions): { text: Buffer; ino: number | null; size: number } {
    this.config(name);
    const n = opts.tail;
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new VmConfigError("tail", `must be a whole number (got ${n})`);
    const log = this.store.logPath(name);
    const ino = inode(log);
    const current = readOrEmpty(log);
    const text = Buffer.concat([readOrEmpty(`${log}.1`), current]);
    return { text: n === undefined ? text : Buffer.from(tailLines(text.toString("utf8"), n)), ino, size: current.length };
  }

  /**
   * Calls `onData` with console output as it is appended to the log (with `kept`, first with the
   * kept output, `tail` lines of it, and then from exactly where that ended: nothing lost or
   * repeated in between); returns a function that stops following. It reads only what was
   * appended; when the VM process rotates the log (console.log → console.log.1), the rest of the
   * old generation is read before the new one.
   */
  followLogs(name: string, onData: (chunk: Buffer) => void, opts: LogsOptions & { kept?: boolean } = {}): () => void {
    const start = this.keptLogs(name, opts);
    if (opts.kept === true && start.text.length > 0) onData(start.text);
    const log = this.store.logPath(name);
    let ino = start.ino, pos = start.size;
    const poll = (): void => {
      const now = inode(log);
      if (now !== ino) {
        // Rotated (or made anew by the VM's first start): finish the generation we were reading.
        if (ino !== null && inode(`${log}.1`) === ino) { const rest = readFrom(`${log}.1`, pos); if (rest.length > 0) onData(rest); }
        ino = now;
        pos = 0;
      }
      const b = readFrom(log, pos);
      if (b.length > 0) { pos += b.length; onData(b); }
    };
    const w = watch(this.store.dir(name), () => poll());
    const t = setInterval(poll, LOG_POLL_MS);
    return () => { w.close(); clearInterval(t); };
  }

  /**
   * Opens the VM's serial console: the stream carries serial bytes both ways (what you write is
   * guest input; what you read is guest output from now on). Ending it detaches; the VM keeps running.
   */
  async console(name: string): Promise<Duplex> {
    const v = await this.live(name);
    try { return await openConsole(v.socket); } catch (e) {
      if (e instanceof ControlError) throw new HypervisorError("failed", `VM '${name}': ${e.message}`);
      throw e;
    }
  }

  /** Deletes the VM's definition and files; a running or paused VM is refused unless `force` (then it is killed first). */
  async rm(name: string, opts: { force?: boolean } = {}): Promise<void> {
    this.config(name);
    const s = this.store;
    await s.withLock(async () => {
      const st = await vmState(s, name);
      if (isLive(st)) {
        if (opts.force !== true) throw new HypervisorError("state", `VM '${name}' is ${st.state} (stop it first, or rm --force)`);
      }
      const users = await dependents(s, name);
      if (users.length > 0) {
        throw new HypervisorError("state", `VM '${name}' has disk images that ${users.map((u) => `'${u}'`).join(", ")} use${users.length === 1 ? "s" : ""} (clones): remove ${users.length === 1 ? "it" : "them"} first`);
      }
      const pid = isLive(st) ? st.runtime?.pid : undefined;
      if (pid !== undefined) { try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ } await waitGone(pid, KILL_WAIT_MS); }
      s.clearRuntime(name);
      s.remove(name);
      await collectImages(s);
    });
  }

  private summary(name: string, cfg: VmConfig, st: VmStateInfo): VmSummary {
    const row: VmSummary = { name, state: st.state, cpus: cfg.cpus, memoryMib: cfg.memoryMib, pid: isLive(st) ? st.runtime?.pid ?? null : null };
    return st.state === "crashed" ? { ...row, crash: this.crashReason(name, st) } : row;
  }

  /**
   * Why a crashed VM crashed: the error its last run recorded (exit.json, written by the VM
   * process, also by one that stopped itself past its memory cap), or, when its process vanished
   * without recording one (SIGKILL, a fatal signal), that.
   */
  private crashReason(name: string, st: VmStateInfo): string {
    const last = this.store.lastExit(name);
    const started = st.runtime === null ? null : Date.parse(st.runtime.startedAt);
    const ofThisRun = last !== null && last.reason === "error" && (started === null || Date.parse(last.at) >= started);
    if (ofThisRun) return (last.message ?? `the run ended in an error (code ${last.code})`).split("\n")[0];
    return "its process ended without a clean exit (killed by a signal, or it died)";
  }

  private async control(name: string, cmd: "pause" | "resume"): Promise<VmStatus> {
    const v = await this.live(name);
    const r = await this.request(name, v.socket, cmd);
    return {
      state: r.state ?? (cmd === "pause" ? "paused" : "running"), pid: r.pid ?? v.pid, cpus: r.cpus ?? 0,
      memoryMib: r.memoryMib ?? 0, executed: r.executed ?? 0, guestMs: r.guestMs ?? 0,
    };
  }

  /** One control request; a refusal is a "state" error, an unreachable process a "failed" one. */
  private async request(name: string, socket: string, cmd: "pause" | "resume" | "powerdown"): Promise<Extract<ControlReply, { ok: true }>> {
    let r;
    try { r = await controlRequest(socket, cmd); } catch (e) {
      if (e instanceof ControlError) throw new HypervisorError("failed", `VM '${name}': ${e.message}`);
      throw e;
    }
    if (!r.ok) throw new HypervisorError("state", r.error);
    return r;
  }

  /** The VM's live process, or a "state" error saying why there is none. */
  private async live(name: string): Promise<LiveVm> {
    this.config(name);
    return liveVm(this.store, name);
  }
}

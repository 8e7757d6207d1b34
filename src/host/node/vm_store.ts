// The state directory: where VM definitions and the traces of running VMs live.
//   $RVISOR_HOME, else $XDG_DATA_HOME/rvisor, else ~/.local/share/rvisor
//     config.json            host settings (limits.*, see src/hypervisor/limits.ts)
//     .lock                  held (O_EXCL, owner pid inside) while a create/start/rm decides
//     vms/NAME/config.json   the VmConfig (written by write + rename)
//     vms/NAME/console.log   the console output, rotated to console.log.1 past LOG_MAX_BYTES
//     vms/NAME/vm.json       {pid, socket, startedAt} of the running VM process (removed on a clean exit)
//     vms/NAME/control.sock  its control socket (JSON lines; see src/hypervisor/control.ts)
//     vms/NAME/exit.json     how the last run ended (written by the VM process on a clean exit)
//     vms/NAME/vm.err        the VM process's stderr (startup failures land here)
//     vms/NAME/disks/        disk images rvisor made: `create --disk SIZE`, snapshot overlays, clones' overlays
//     vms/NAME/snapshots/SNAP/{snapshot.json,machine.rvsnap}   a snapshot (src/hypervisor/snapshots.ts)
//     vms/NAME/restore.json, restore.rvsnap   the machine state the next start continues from (a restore, a clone)
// No daemon owns this directory: every rvisor command reads it and asks the VM processes, so a
// VM outlives any command that started it (and "restarting the manager" loses nothing).
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { NAME_PATTERN, parseVmConfig, type VmConfig } from "../../hypervisor/config.js";
import { parseLimits, type HostLimits } from "../../hypervisor/limits.js";
import type { VmExitRecord } from "../../hypervisor/api.js";

/** Console log size before it is rotated (one old generation is kept, as console.log.1). */
export const LOG_MAX_BYTES = 1 << 20;
/** sun_path is 108 bytes on Linux, NUL included. */
const SUN_PATH_MAX = 107;
/**
 * The host lock is held across a whole start (limits check until the VM process is up), so
 * concurrent starts queue behind each other: 20 at once on a loaded 2-core host took > 10 s.
 */
const LOCK_RETRY_MS = 20, LOCK_WAIT_MS = 120_000;

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RVISOR_HOME !== undefined && env.RVISOR_HOME !== "") return env.RVISOR_HOME;
  const data = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== "" ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(data, "rvisor");
}

/** Writes a file atomically: a temporary file beside it, fsync, rename over the target. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fd = openSync(tmp, "wx", 0o644);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  try { renameSync(tmp, file); } catch (e) { rmSync(tmp, { force: true }); throw e; }
}

/** A running VM process as it records itself in vm.json. */
export interface VmRuntime { pid: number; socket: string; startedAt: string }
/** How a VM's last run ended, as exit.json records it. */
export type VmExit = VmExitRecord;

export class VmExistsError extends Error {}

function readJson(file: string): unknown | null {
  try { return JSON.parse(readFileSync(file, "utf8")) as unknown; } catch { return null; }
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/** A pid file whose pid was not written within this long belongs to a command that died at once. */
const PID_FILE_UNWRITTEN_STALE_MS = 5_000;

/** Who holds a pid file, or null if it is gone. Stale: its owner died (or never wrote its pid). */
function pidFileHolder(file: string): { owner: number; ino: number; stale: boolean } | null {
  let fd: number;
  try { fd = openSync(file, "r"); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const owner = Number(readFileSync(fd, "utf8").trim() || "0");
    const stale = owner > 0 ? !pidAlive(owner) : Date.now() - st.mtimeMs > PID_FILE_UNWRITTEN_STALE_MS;
    return { owner, ino: st.ino, stale };
  } finally { closeSync(fd); }
}

/**
 * Takes a pid file (O_EXCL, holding this process's pid): null once taken, else the live holder's
 * pid (0 while it has not written it yet). A holder that released meanwhile is retried; a stale
 * one is removed, unless another command broke it and took the file meanwhile (a new inode).
 */
export function takePidFile(file: string): number | null {
  for (;;) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const held = pidFileHolder(file);
    if (held === null) continue;
    if (!held.stale) return held.owner;
    try { if (statSync(file).ino === held.ino) unlinkSync(file); } catch { /* another breaker won */ }
  }
}

export class VmStore {
  readonly vmsDir: string;
  constructor(readonly root: string = defaultHome()) {
    this.vmsDir = join(root, "vms");
  }

  ensure(): void { mkdirSync(this.vmsDir, { recursive: true }); }

  dir(name: string): string { return join(this.vmsDir, name); }
  configPath(name: string): string { return join(this.dir(name), "config.json"); }
  logPath(name: string): string { return join(this.dir(name), "console.log"); }
  runtimePath(name: string): string { return join(this.dir(name), "vm.json"); }
  exitPath(name: string): string { return join(this.dir(name), "exit.json"); }
  errPath(name: string): string { return join(this.dir(name), "vm.err"); }
  disksDir(name: string): string { return join(this.dir(name), "disks"); }
  snapshotsDir(name: string): string { return join(this.dir(name), "snapshots"); }
  snapshotDir(name: string, snap: string): string { return join(this.snapshotsDir(name), snap); }
  restorePath(name: string): string { return join(this.dir(name), "restore.json"); }

  /** Where the VM's control socket goes: in its directory, or under the temp dir when that path is too long for sun_path. */
  socketPath(name: string): string {
    const p = join(this.dir(name), "control.sock");
    if (Buffer.byteLength(p) <= SUN_PATH_MAX) return p;
    const h = createHash("sha256").update(this.dir(name)).digest("hex").slice(0, 24);
    const d = join(tmpdir(), `rvisor-${process.getuid?.() ?? "u"}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return join(d, `${h}.sock`);
  }

  exists(name: string): boolean { return NAME_PATTERN.test(name) && existsSync(this.configPath(name)); }

  /** Names of the defined VMs, sorted. */
  names(): string[] {
    let entries: string[];
    try { entries = readdirSync(this.vmsDir); } catch { return []; }
    return entries.filter((n) => NAME_PATTERN.test(n) && existsSync(this.configPath(n))).sort();
  }

  read(name: string): VmConfig {
    return parseVmConfig(JSON.parse(readFileSync(this.configPath(name), "utf8")) as unknown);
  }

  /**
   * Defines a VM. The directory is assembled under a temporary name and renamed into place:
   * rename(2) onto an existing non-empty directory fails, so of two concurrent creates of the
   * same name exactly one succeeds, and no reader ever sees a VM without its config.
   */
  create(cfg: VmConfig): void {
    this.ensure();
    const final = this.dir(cfg.name);
    if (existsSync(final)) throw new VmExistsError(`VM '${cfg.name}' already exists`);
    const tmp = join(this.vmsDir, `.new-${cfg.name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(tmp);
    try {
      writeFileAtomic(join(tmp, "config.json"), `${JSON.stringify(cfg, null, 2)}\n`);
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new VmExistsError(`VM '${cfg.name}' already exists`);
      throw e;
    }
  }

  writeConfig(cfg: VmConfig): void { writeFileAtomic(this.configPath(cfg.name), `${JSON.stringify(cfg, null, 2)}\n`); }

  remove(name: string): void {
    // Rename first so a concurrent reader sees the VM either whole or gone.
    const gone = join(this.vmsDir, `.rm-${name}-${process.pid}`);
    renameSync(this.dir(name), gone);
    rmSync(gone, { recursive: true, force: true });
  }

  runtime(name: string): VmRuntime | null {
    const r = readJson(this.runtimePath(name));
    if (typeof r !== "object" || r === null) return null;
    const o = r as Record<string, unknown>;
    if (typeof o.pid !== "number" || typeof o.socket !== "string" || typeof o.startedAt !== "string") return null;
    return { pid: o.pid, socket: o.socket, startedAt: o.startedAt };
  }

  lastExit(name: string): VmExit | null {
    const r = readJson(this.exitPath(name));
    return typeof r === "object" && r !== null ? r as VmExit : null;
  }

  /** Clears what a VM process leaves behind (before a start, after a crash is acknowledged). */
  clearRuntime(name: string): void {
    const rt = this.runtime(name);
    if (rt !== null) rmSync(rt.socket, { force: true });
    rmSync(this.runtimePath(name), { force: true });
  }

  hostConfig(): unknown { return readJson(join(this.root, "config.json")); }

  limits(env: NodeJS.ProcessEnv = process.env): HostLimits { return parseLimits(this.hostConfig(), env); }

  /**
   * Runs `fn` holding the host lock (an O_EXCL file with the owner's pid; a lock whose owner
   * died is broken). Create, start and rm decide under it, so host-wide limits hold against
   * concurrent commands.
   */
  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    mkdirSync(this.root, { recursive: true });
    const lock = join(this.root, ".lock");
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let owner = takePidFile(lock); owner !== null; owner = takePidFile(lock)) {
      if (Date.now() > deadline) throw new Error(`the state directory ${this.root} is locked by process ${owner}`);
      await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
    }
    try { return await fn(); } finally { rmSync(lock, { force: true }); }
  }
}

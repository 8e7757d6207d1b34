// Advisory locks on disk images, so two VMs never write one image at once (the ext4 on it
// would be corrupted). The semantics are QEMU's: a writer needs the image to itself; readers
// ("consistent read", readonly=on) share it with other readers but not with a writer.
//
// Node has no fcntl/flock, so the lock is a small holder file per open, named after the image's
// identity (device and inode, so every path and hard link to one image agree) in a lock
// directory shared by all rvisor processes of the machine:
//     <lockdir>/<dev>-<ino>.<pid>.<seq>.<r|w>     content: { path, pid, start }
// Taking a lock = create one's own holder file (O_EXCL), then look at the others; on a
// conflict remove one's own file and fail. Two racing writers can then both fail, never both
// succeed: the later one always sees the earlier one's file.
// A holder whose process is gone (kill -9, power loss) is stale and ignored (and removed when
// permitted). "Gone" = kill(pid, 0) says ESRCH, or on Linux the pid now belongs to a process
// that started at a different time (/proc/<pid>/stat starttime), so pid reuse cannot keep a
// lock alive forever.
//
// On Linux the OFD locks QEMU takes on its images (bytes 100+perm: "I use perm", 200+perm:
// "I do not share perm", see QEMU's raw_apply_lock_bytes) are read from /proc/locks, so an
// image in use by QEMU is refused too. QEMU cannot see rvisor's holder files.
import { closeSync, constants as C, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, chmodSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type DiskLockMode = "read" | "write";

/** The image is in use in a way that conflicts with the requested mode. */
export class DiskLockError extends Error {}

export interface DiskLockOptions {
  /** Lock directory (default $RVISOR_LOCK_DIR, else <tmpdir>/rvisor-locks). */
  dir?: string;
  /** Also honour QEMU's OFD locks from /proc/locks (default true where it exists). */
  procLocks?: string | false;
}

/** The identity of an image: st_dev and st_ino (st_rdev for a block device node). */
export interface ImageId { dev: bigint; ino: bigint; isBlockDevice: boolean; rdev: bigint }

export function imageIdOf(path: string): ImageId {
  const s = statSync(path, { bigint: true });
  return { dev: s.dev, ino: s.ino, isBlockDevice: s.isBlockDevice(), rdev: s.rdev };
}

function lockKey(id: ImageId): string { return id.isBlockDevice ? `blk${id.rdev}` : `${id.dev}-${id.ino}`; }

export function defaultLockDir(): string { return process.env.RVISOR_LOCK_DIR ?? join(tmpdir(), "rvisor-locks"); }

interface Holder { file: string; pid: number; mode: DiskLockMode; start: string | null; path: string }

/** Process start time in clock ticks after boot (/proc/<pid>/stat field 22), or null off Linux. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function alive(h: { pid: number; start: string | null }): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false; // ESRCH: no such process
  }
  if (h.start === null) return true;
  const now = processStart(h.pid);
  return now === null || now === h.start;
}

const NAME = /^(.+)\.(\d+)\.(\d+)\.([rw])$/;

function readHolder(dir: string, file: string): Holder | null {
  const m = NAME.exec(file);
  if (m === null) return null;
  let start: string | null = null, path = "?";
  try {
    const j = JSON.parse(readFileSync(join(dir, file), "utf8")) as { start?: unknown; path?: unknown };
    if (typeof j.start === "string") start = j.start;
    if (typeof j.path === "string") path = j.path;
  } catch { /* being written or unreadable: the name alone identifies the holder */ }
  return { file, pid: Number(m[2]), mode: m[4] === "w" ? "write" : "read", start, path };
}

// ---- QEMU's OFD locks (Linux /proc/locks) ----
const QEMU_LOCK_PERM_BASE = 100, QEMU_LOCK_SHARED_BASE = 200;
const BLK_PERM_CONSISTENT_READ = 0, BLK_PERM_WRITE = 1;

interface ProcLock { type: "READ" | "WRITE"; start: number; end: number }

/** Locks in /proc/locks on the file with this (dev, ino); dev is glibc-encoded as stat gives it. */
function procLocksOn(procLocks: string, id: ImageId): ProcLock[] {
  let text: string;
  try { text = readFileSync(procLocks, "latin1"); } catch { return []; }
  const major = ((id.dev >> 8n) & 0xfffn) | ((id.dev >> 32n) & ~0xfffn);
  const minor = (id.dev & 0xffn) | ((id.dev >> 12n) & ~0xffn);
  const out: ProcLock[] = [];
  // "1: OFDLCK ADVISORY  READ -1 fe:00:2146416 100 101" (blocked waiters have "->" and are skipped)
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+(\S+)\s+\S+\s+(READ|WRITE)\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s+(\d+)\s+(\d+|EOF)/.exec(line);
    if (m === null) continue;
    if (BigInt(`0x${m[3]}`) !== major || BigInt(`0x${m[4]}`) !== minor || BigInt(m[5]) !== id.ino) continue;
    out.push({ type: m[2] as "READ" | "WRITE", start: Number(m[6]), end: m[7] === "EOF" ? Infinity : Number(m[7]) });
  }
  return out;
}

/** Why another process's fcntl locks forbid `mode`, or null. */
function procLockConflict(locks: ProcLock[], mode: DiskLockMode): string | null {
  const covers = (byte: number): boolean => locks.some((l) => l.start <= byte && byte <= l.end);
  if (locks.some((l) => l.type === "WRITE")) return "holds an exclusive lock on it";
  // A reader needs consistent reads and does not share writing; a writer also writes.
  if (covers(QEMU_LOCK_PERM_BASE + BLK_PERM_WRITE)) return "is writing to it (QEMU lock)";
  if (covers(QEMU_LOCK_SHARED_BASE + BLK_PERM_CONSISTENT_READ)) return "does not share reading it (QEMU lock)";
  if (mode === "write" && covers(QEMU_LOCK_SHARED_BASE + BLK_PERM_WRITE)) return "does not share writing to it (QEMU lock)";
  return null;
}

/** Pids of processes that have the image open (Linux /proc; only those we may inspect). */
function openers(id: ImageId): number[] {
  const out: number[] = [];
  let pids: string[];
  try { pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p)); } catch { return out; }
  for (const p of pids) {
    if (Number(p) === process.pid) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${p}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if (!readlinkSync(`/proc/${p}/fd/${fd}`).startsWith("/")) continue;
        const s = statSync(`/proc/${p}/fd/${fd}`, { bigint: true });
        if (s.dev === id.dev && s.ino === id.ino) { out.push(Number(p)); break; }
      } catch { /* closed meanwhile */ }
    }
  }
  return out;
}

function commOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return "?"; }
}

// ---- Holding ----
const held = new Set<string>();
let seq = 0;
let exitHook = false;

function releaseAllAtExit(): void {
  for (const f of held) { try { unlinkSync(f); } catch { /* already gone */ } }
  held.clear();
}

export class DiskLock {
  private released = false;
  constructor(readonly file: string, readonly mode: DiskLockMode) {}
  /** Drops the lock (idempotent). Also done for every lock still held when the process exits. */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.file);
    try { unlinkSync(this.file); } catch { /* already gone */ }
  }
}

/**
 * Locks the image at `path` (already opened by the caller, so `id` is what was opened) for
 * reading (shared) or writing (exclusive). Throws DiskLockError naming the holder on a conflict.
 */
export function lockDisk(path: string, id: ImageId, mode: DiskLockMode, opts: DiskLockOptions = {}): DiskLock {
  const dir = opts.dir ?? defaultLockDir();
  ensureDir(dir);
  const key = lockKey(id);
  const me = `${key}.${process.pid}.${seq++}.${mode === "write" ? "w" : "r"}`;
  const myPath = join(dir, me);
  let fd: number;
  try {
    fd = openSync(myPath, C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o644);
  } catch (e) {
    throw new DiskLockError(`cannot create lock file ${myPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (RVISOR_LOCK_DIR picks another directory)`);
  }
  try { writeSync(fd, JSON.stringify({ path, pid: process.pid, start: processStart(process.pid) })); } finally { closeSync(fd); }
  held.add(myPath);
  if (!exitHook) { exitHook = true; process.on("exit", releaseAllAtExit); }
  const lock = new DiskLock(myPath, mode);

  const what = mode === "write" ? `Failed to get "write" lock on ${path}` : `Failed to get shared "write" lock on ${path}`;
  for (const file of readdirSync(dir)) {
    if (file === me || !file.startsWith(`${key}.`)) continue;
    const h = readHolder(dir, file);
    if (h === null) continue;
    if (!alive(h)) {
      try { unlinkSync(join(dir, file)); } catch { /* another user's stale file: ignore it */ }
      continue;
    }
    if (mode === "write" || h.mode === "write") {
      lock.release();
      const self = h.pid === process.pid ? ", this process" : "";
      throw new DiskLockError(`${what}: in use by rvisor pid ${h.pid}${self} (${h.mode === "write" ? "writing" : "reading"})`);
    }
  }
  const procLocks = opts.procLocks ?? "/proc/locks";
  if (procLocks !== false && !id.isBlockDevice) {
    const why = procLockConflict(procLocksOn(procLocks, id), mode);
    if (why !== null) {
      lock.release();
      const who = openers(id).map((p) => `${commOf(p)} pid ${p}`);
      throw new DiskLockError(`${what}: ${who.length > 0 ? who.join(", ") : "another process"} ${why}`);
    }
  }
  return lock;
}

/** Creates the lock directory; one we create is world-writable and sticky, like /tmp. */
function ensureDir(dir: string): void {
  try {
    if (mkdirSync(dir, { recursive: true, mode: 0o1777 }) !== undefined) chmodSync(dir, 0o1777); // mode is filtered by the umask
  } catch (e) {
    throw new DiskLockError(`cannot create lock directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

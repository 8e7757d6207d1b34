// File-system system calls: descriptors, paths (confined through Vfs), stat, directories,
// pipes, terminals (ioctl), eventfd.
import type { Kernel } from "./kernel.js";
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_STATX_SYNC_TYPE, AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENOTTY, ENXIO, EPERM,
  EPIPE, ERANGE, EROFS, ESPIPE, F_OK, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW,
  O_NONBLOCK, O_PATH, O_RDONLY, O_TRUNC, O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, R_OK,
  S_IALLUGO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, UTIME_NOW, UTIME_OMIT, W_OK,
  X_OK, dirent64Size, encodeDirent64, encodeStat, encodeStatfs, encodeStatx,
} from "../abi/linux.js";
import { EventFd, OpenFile, Pipe, PipeEnd, type Dirent } from "./file.js";
import type { HostStat } from "./host.js";
import { isSysCpuFile, procOpen, sysCpuOpen } from "./proc.js";
import { SIGPIPE, Wait, release, type Thread } from "./task.js";
import { LOOKUP_EMPTY, LOOKUP_FOLLOW, TermFile, type PathRef } from "./vfs.js";
import { accessOk, argValue, MAX_RW_COUNT, negativeSsize, ptr, rwCount, sizeT } from "./args.js";
import { TtyFile, ttyIoctl } from "./ctty.js";
import { F_ADD_SEALS, F_GET_SEALS, MemfdFile, writablyMapped } from "./memfd.js";
import {
  IN_ATTRIB, IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_MODIFY, IN_OPEN, fsDeleted, fsMoved, fsNotify, watching,
} from "./inotify.js";

export const STATX__RESERVED = 0x80000000;
type R = number | Wait;
const MAX_IO = 1 << 24;

export function fileOf(t: Thread, fd: number): OpenFile | undefined { return t.proc.fds.get(fd | 0); }

/**
 * The path argument at `pathPtr` looked up relative to `dirfd` (LOOKUP_* flags): every
 * path-taking call goes through here and Vfs.lookup.
 */
export function lookupAt(k: Kernel, t: Thread, dirfd: number, pathPtr: number, flags: number): PathRef | number {
  const path = t.proc.as.cstring(pathPtr);
  if (path === null) return -EFAULT;
  return lookupPath(k, t, dirfd, path, flags);
}

/** lookupAt for a path already read (socket addresses). The dirfd is only consulted when needed, as Linux. */
export function lookupPath(k: Kernel, t: Thread, dirfd: number, path: string, flags: number): PathRef | number {
  if (path === "" && (flags & LOOKUP_EMPTY) === 0) return -ENOENT;
  let dir: OpenFile | null = null;
  if ((dirfd | 0) !== AT_FDCWD && !path.startsWith("/")) {
    const f = fileOf(t, dirfd);
    if (f === undefined) return -EBADF;
    dir = f;
  }
  return k.vfs.lookup(t.proc.cwd, dir, path, flags);
}

/** Resolves (dirfd, path) to a guest path. */
export function pathAt(k: Kernel, t: Thread, dirfd: number, pathPtr: number, follow: boolean): string | number {
  const r = lookupAt(k, t, dirfd, pathPtr, follow ? LOOKUP_FOLLOW : 0);
  return typeof r === "number" ? r : r.guest;
}

export function resolveAt(k: Kernel, t: Thread, dirfd: number, path: string, follow: boolean): string | number {
  const r = lookupPath(k, t, dirfd, path, follow ? LOOKUP_FOLLOW : 0);
  return typeof r === "number" ? r : r.guest;
}

/** Stat of a looked-up path (synthetic /proc and /dev included); the object itself, as lookup left it. */
export function statRef(k: Kernel, t: Thread, ref: PathRef): HostStat | number {
  if (ref.file !== null) return ref.file.stat();
  const g = ref.guest;
  if (g === "/proc" || g.startsWith("/proc/") || k.devFile(g) !== null || isSysCpuFile(g)) {
    const f = openGuest(k, t, g, O_RDONLY, 0);
    if (typeof f === "number") return f;
    const st = f.stat();
    release(f); // drops the reference procOpen took on a /proc/PID/fd entry (the file stays open)
    const sp = k.vfs.special(g);
    if (typeof st !== "number" && typeof sp === "string") st.mode = S_IFLNK | 0o777; // an unfollowed synthetic link
    return st;
  }
  return k.vfs.stat(ref);
}

/** Whether a looked-up path is synthetic (/proc, /dev files): not on the host. */
function synthetic(k: Kernel, ref: PathRef): boolean {
  return ref.file === null && (ref.guest === "/proc" || ref.guest.startsWith("/proc/") || k.devFile(ref.guest) !== null || isSysCpuFile(ref.guest));
}

/** Opens a resolved guest path. */
export function openGuest(k: Kernel, t: Thread, g: string, flags: number, mode: number): OpenFile | number {
  // /dev/tty is the caller's controlling terminal: ENXIO without one.
  if (g === "/dev/tty" && k.tty !== null && t.proc.ctty === null) return -ENXIO;
  const dev = k.devFile(g);
  if (dev !== null) { dev.flags = flags; return dev; }
  if (g === "/proc" || g.startsWith("/proc/")) return procOpen(k, t, g);
  if (isSysCpuFile(g)) return sysCpuOpen(k, g);
  return k.vfs.open(g, flags, mode & ~t.proc.umask);
}

/** Runs an I/O operation; parks the thread while it would block (unless O_NONBLOCK). */
export function ioWait(k: Kernel, t: Thread, f: OpenFile, op: () => number): R {
  const r = op();
  if (r === -EPIPE) k.sendSignal(t.proc, t, { signo: SIGPIPE, code: 0 });
  if (r !== -EAGAIN || (f.flags & O_NONBLOCK) !== 0) return r;
  return new Wait(() => {
    const r2 = op();
    if (r2 === -EPIPE) k.sendSignal(t.proc, t, { signo: SIGPIPE, code: 0 });
    return r2 === -EAGAIN ? null : r2;
  });
}

// read/write family (fs/read_write.c): EBADF, then ESPIPE for positioned I/O on a pipe, then
// access_ok(buf, count) → EFAULT (a count of 2^63 or more never passes it), then the count is
// clamped to MAX_RW_COUNT. rvisor moves at most MAX_IO bytes per call (a short count).
function doRead(k: Kernel, t: Thread, fd: number, bufArg: number, countArg: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  if (pos !== null && !f.seekable()) return -ESPIPE;
  const buf = ptr(bufArg), count = sizeT(countArg);
  if (!accessOk(buf, count)) return -EFAULT;
  if (f.isDir()) return -EISDIR;
  const tmp = new Uint8Array(Math.min(count, MAX_RW_COUNT, MAX_IO));
  return ioWait(k, t, f, () => {
    const n = f.read(tmp, pos);
    if (n > 0 && !t.proc.as.write(buf, tmp.subarray(0, n))) return -EFAULT;
    return n;
  });
}

function doWrite(k: Kernel, t: Thread, fd: number, bufArg: number, countArg: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  if (pos !== null && !f.seekable()) return -ESPIPE;
  const buf = ptr(bufArg), count = sizeT(countArg);
  if (!accessOk(buf, count)) return -EFAULT;
  const data = t.proc.as.read(buf, Math.min(count, MAX_RW_COUNT, MAX_IO));
  if (data === null) return -EFAULT;
  let done = 0;
  return ioWait(k, t, f, () => modified(k, f, (() => {
    // Partial pipe writes continue until everything is written (blocking semantics).
    for (;;) {
      const n = f.write(data.subarray(done), pos);
      if (n < 0) return done > 0 && n !== -EAGAIN ? done : n === -EAGAIN && done > 0 && (f.flags & O_NONBLOCK) !== 0 ? done : n;
      done += n;
      if (done >= data.length || n === 0) return done;
    }
  })()));
}

/** IN_MODIFY for a write of r > 0 bytes to a file with a guest path; returns r. */
function modified(k: Kernel, f: OpenFile, r: number): number {
  if (r > 0 && watching(k) && f.path.startsWith("/")) fsNotify(k, f.path, IN_MODIFY);
  return r;
}

/** IN_ATTRIB after a successful attribute change of guest path `path`; returns r. */
function attrib(k: Kernel, path: string, r: number): number {
  if (r === 0 && watching(k)) fsNotify(k, path, IN_ATTRIB);
  return r;
}

/** IN_CREATE after a successful creation of `path`; returns r. */
function created(k: Kernel, path: string, r: number, dir = false): number {
  if (r === 0 && watching(k)) fsNotify(k, path, IN_CREATE, dir);
  return r;
}

/** UIO_MAXIOV: the most iovec entries one call takes. */
const UIO_MAXIOV = 1024;

/**
 * The iovec array of readv/writev (lib/iov_iter.c __import_iovec): more than UIO_MAXIOV entries
 * → EINVAL, an iov_len negative as ssize_t → EINVAL, a segment failing access_ok → EFAULT; the
 * lengths are then cut so that the total is at most MAX_RW_COUNT (and MAX_IO here).
 */
function iovecs(t: Thread, iov: number, cntArg: number): [number, number][] | number {
  const cnt = sizeT(cntArg);
  if (cnt > UIO_MAXIOV) return -EINVAL;
  const b = t.proc.as.read(ptr(iov), cnt * 16);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const out: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = argValue(dv.getInt32(i * 16, true), dv.getInt32(i * 16 + 4, true));
    const lenArg = argValue(dv.getInt32(i * 16 + 8, true), dv.getInt32(i * 16 + 12, true));
    if (negativeSsize(lenArg)) return -EINVAL;
    if (!accessOk(ptr(base), lenArg)) return -EFAULT;
    const len = Math.min(lenArg, Math.min(MAX_RW_COUNT, MAX_IO) - total);
    total += len;
    out.push([base, len]);
  }
  return out;
}

function doReadv(k: Kernel, t: Thread, fd: number, iov: number, cnt: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  const v = iovecs(t, iov, cnt);
  if (typeof v === "number") return v;
  const total = v.reduce((a, [, l]) => a + l, 0);
  const tmp = new Uint8Array(total);
  return ioWait(k, t, f, () => {
    const n = f.read(tmp, pos);
    if (n <= 0) return n;
    let off = 0;
    for (const [base, len] of v) {
      if (off >= n) break;
      const c = Math.min(len, n - off);
      if (!t.proc.as.write(base, tmp.subarray(off, off + c))) return -EFAULT;
      off += c;
    }
    return n;
  });
}

function doWritev(k: Kernel, t: Thread, fd: number, iov: number, cnt: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  const v = iovecs(t, iov, cnt);
  if (typeof v === "number") return v;
  const parts: Uint8Array[] = [];
  for (const [base, len] of v) { const d = t.proc.as.read(base, len); if (d === null) return -EFAULT; parts.push(d); }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  let done = 0;
  return ioWait(k, t, f, () => modified(k, f, (() => {
    for (;;) {
      const n = f.write(all.subarray(done), pos);
      if (n < 0) return done > 0 && n !== -EAGAIN ? done : n;
      done += n;
      if (done >= all.length || n === 0) return done;
    }
  })()));
}


export const sys_read = (k: Kernel, t: Thread, a: number[]): R => doRead(k, t, a[0], a[1], a[2], null);
export const sys_write = (k: Kernel, t: Thread, a: number[]): R => doWrite(k, t, a[0], a[1], a[2], null);
export const sys_pread64 = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doRead(k, t, a[0], a[1], a[2], a[3]));
export const sys_pwrite64 = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doWrite(k, t, a[0], a[1], a[2], a[3]));
export const sys_readv = (k: Kernel, t: Thread, a: number[]): R => doReadv(k, t, a[0], a[1], a[2], null);
export const sys_writev = (k: Kernel, t: Thread, a: number[]): R => doWritev(k, t, a[0], a[1], a[2], null);
export const sys_preadv = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doReadv(k, t, a[0], a[1], a[2], a[3]));
export const sys_pwritev = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doWritev(k, t, a[0], a[1], a[2], a[3]));

export function sys_openat(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[2] | 0;
  // open(2): "If O_CREAT and O_EXCL are set ... and pathname is a symbolic link, open() fails with
  // EEXIST" wherever it points: the last component is not followed then.
  const excl = (flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0;
  const ref = lookupAt(k, t, a[0], a[1], (flags & O_NOFOLLOW) !== 0 || excl ? 0 : LOOKUP_FOLLOW);
  if (typeof ref === "number") return ref;
  const g = ref.guest;
  if (excl || (flags & O_NOFOLLOW) !== 0) {
    const st = statRef(k, t, ref);
    if (excl && typeof st !== "number") return -EEXIST;
    // O_NOFOLLOW on a symlink: ELOOP, unless O_PATH (then the descriptor names the link itself).
    if ((flags & O_PATH) === 0 && typeof st !== "number" && (st.mode & S_IFMT) === S_IFLNK) return -ELOOP;
  }
  const notify = watching(k) && (flags & O_PATH) === 0;
  const existed = notify && (flags & O_CREAT) !== 0 ? typeof statRef(k, t, ref) !== "number" : true;
  const f = openGuest(k, t, g, flags & ~O_CLOEXEC, a[3]);
  if (typeof f === "number") return f;
  if ((flags & O_DIRECTORY) !== 0 && !f.isDir()) { release(f); return -ENOTDIR; }
  const trunc = (flags & O_PATH) === 0 && (flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) !== O_RDONLY && !f.isDir();
  if (trunc) f.truncate(0);
  const fd = t.proc.fds.alloc(f, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) { release(f); return fd; }
  if (notify) {
    if (!existed) fsNotify(k, g, IN_CREATE);
    else if (trunc) fsNotify(k, g, IN_MODIFY);
    fsNotify(k, g, IN_OPEN, f.isDir());
  }
  return fd;
}

export function sys_close(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  return closeNotify(k, t.proc.fds, a[0] | 0, f);
}

// include/uapi/linux/close_range.h
export const CLOSE_RANGE_UNSHARE = 1 << 1, CLOSE_RANGE_CLOEXEC = 1 << 2;

export function sys_close_range(k: Kernel, t: Thread, a: number[]): R {
  // fs/file.c: unsigned int fd, max_fd; "if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
  // return -EINVAL; if (fd > max_fd) return -EINVAL".
  const first = a[0] >>> 0, last = a[1] >>> 0, flags = a[2] >>> 0;
  if ((flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) !== 0 || first > last) return -EINVAL;
  const p = t.proc;
  // CLOSE_RANGE_UNSHARE: a table shared with CLONE_FILES is copied first, so only the caller's changes.
  if ((flags & CLOSE_RANGE_UNSHARE) !== 0 && p.fds.users > 1) { p.fds.users--; p.fds = p.fds.clone(); }
  const end = Math.min(last, p.fds.files.length - 1);
  for (let fd = first; fd <= end; fd++) {
    const f = p.fds.get(fd);
    if (f === undefined) continue;
    if ((flags & CLOSE_RANGE_CLOEXEC) !== 0) p.fds.cloexec[fd] = true;
    else closeNotify(k, p.fds, fd, f);
  }
  return 0;
}

/** Closes fd (with the inotify close event when it was the file's last descriptor). */
function closeNotify(k: Kernel, fds: Thread["proc"]["fds"], fd: number, f: OpenFile): number {
  if (f.refs === 1 && watching(k) && f.path.startsWith("/")) {
    fsNotify(k, f.path, (f.flags & O_ACCMODE) === O_RDONLY ? IN_CLOSE_NOWRITE : IN_CLOSE_WRITE, f.isDir());
  }
  return fds.close(fd);
}

export function sys_lseek(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  if (!f.seekable()) return -ESPIPE;
  const whence = a[2] | 0;
  let p: number;
  if (whence === 0) p = a[1];
  else if (whence === 1) p = f.pos + a[1];
  else if (whence === 2) { const s = f.size(); if (s < 0) return s; p = s + a[1]; }
  else return -EINVAL;
  if (p < 0) return -EINVAL;
  if (f.isDir() && p === 0) rewindDir(f);
  f.pos = p;
  return p;
}

export function sys_dup(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const fd = t.proc.fds.alloc(f, false);
  if (fd >= 0) f.refs++;
  return fd;
}

export function sys_dup3(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  const nfd = a[1] | 0;
  if (f === undefined || nfd < 0 || nfd >= 1024) return -EBADF;
  if ((a[0] | 0) === nfd) return -EINVAL;
  f.refs++;
  t.proc.fds.set(nfd, f, (a[2] & O_CLOEXEC) !== 0);
  return nfd;
}

export function sys_fcntl(k: Kernel, t: Thread, a: number[]): R {
  const fd = a[0] | 0, cmd = a[1] | 0;
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  switch (cmd) {
    case 0: case 1030: { // F_DUPFD, F_DUPFD_CLOEXEC
      const n = t.proc.fds.alloc(f, cmd === 1030, a[2] | 0);
      if (n >= 0) f.refs++;
      return n;
    }
    case 1: return t.proc.fds.cloexec[fd] ? 1 : 0;
    case 2: t.proc.fds.cloexec[fd] = (a[2] & 1) !== 0; return 0;
    case 3: return f.flags;
    case 4: f.flags = (f.flags & ~(O_APPEND | O_NONBLOCK)) | (a[2] & (O_APPEND | O_NONBLOCK)); return 0;
    case 5: { // F_GETLK: nobody else holds a lock
      const b = new Uint8Array([2, 0]);
      return t.proc.as.write(a[2], b) ? 0 : -EFAULT;
    }
    case 6: case 7: return 0; // F_SETLK(W): single process view, always granted
    case 8: case 9: return 0;
    case 1031: case 1032: return Pipe.CAPACITY;
    case F_ADD_SEALS: return f instanceof MemfdFile ? f.addSeals(a[2] >>> 0, writablyMapped(k, f)) : -EINVAL;
    case F_GET_SEALS: return f instanceof MemfdFile ? f.seals : -EINVAL;
  }
  return -EINVAL;
}

export const sys_flock = (): R => 0;

export function sys_ioctl(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const req = a[1] >>> 0, arg = a[2];
  const as = t.proc.as;
  if (f instanceof TtyFile) { const r = ttyIoctl(k, t, f, req, arg); if (r !== undefined) return r; }
  switch (req) {
    case 0x541b: { // FIONREAD
      let n = 0;
      if (f instanceof PipeEnd) n = f.pipe.bytes;
      else if (f instanceof TermFile) n = k.stdin.chunks.reduce((s, c) => s + c.length, 0);
      else if (f.seekable()) n = Math.max(0, f.size() - f.pos);
      else { const r = f.ioctl(req, arg); if (r >= 0) n = r; }
      return as.putU32(arg, n) ? 0 : -EFAULT;
    }
    case 0x5421: { // FIONBIO
      const v = as.u32(arg);
      if (v === null) return -EFAULT;
      f.flags = v !== 0 ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
    case 0x5451: t.proc.fds.cloexec[a[0] | 0] = true; return 0;
    case 0x5450: t.proc.fds.cloexec[a[0] | 0] = false; return 0;
  }
  const r = f.ioctl(req, arg);
  return r;
}

/** The stat of `dirfd`+`path` for fstatat/statx: AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW honoured. */
function statAt(k: Kernel, t: Thread, dirfd: number, pathAddr: number, flags: number): HostStat | number {
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) !== 0) return -EINVAL;
  const ref = lookupAt(k, t, dirfd, pathAddr, atLookup(flags));
  return typeof ref === "number" ? ref : statRef(k, t, ref);
}

/** LOOKUP_* flags of the usual AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH pair. */
function atLookup(flags: number): number {
  return ((flags & AT_SYMLINK_NOFOLLOW) === 0 ? LOOKUP_FOLLOW : 0) | ((flags & AT_EMPTY_PATH) !== 0 ? LOOKUP_EMPTY : 0);
}

export function sys_newfstatat(k: Kernel, t: Thread, a: number[]): R {
  const st = statAt(k, t, a[0], a[1], a[3] | 0);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[2], encodeStat(st)) ? 0 : -EFAULT;
}

export function sys_fstat(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const st = f.stat();
  if (typeof st === "number") return st;
  return t.proc.as.write(a[1], encodeStat(st)) ? 0 : -EFAULT;
}

export function sys_statx(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[2] | 0;
  if ((a[3] & STATX__RESERVED) !== 0 || (flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -EINVAL;
  const st = statAt(k, t, a[0], a[1], flags);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[4], encodeStatx(st)) ? 0 : -EFAULT;
}

const EXT4_SUPER_MAGIC = 0xef53;
/** What statfs reports for every filesystem: an ext4-like one of 64 GiB (rvisor does not ask the host). */
const GUEST_STATFS = encodeStatfs({
  type: EXT4_SUPER_MAGIC, bsize: 4096, blocks: 1 << 24, bfree: 1 << 23, bavail: 1 << 23, files: 1 << 20, ffree: 1 << 19,
  namelen: 255, frsize: 4096,
});
export function sys_statfs(k: Kernel, t: Thread, a: number[]): R {
  const ref = lookupAt(k, t, AT_FDCWD, a[0], LOOKUP_FOLLOW);
  if (typeof ref === "number") return ref;
  const st = statRef(k, t, ref);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[1], GUEST_STATFS) ? 0 : -EFAULT;
}
export function sys_fstatfs(_k: Kernel, t: Thread, a: number[]): R {
  if (fileOf(t, a[0]) === undefined) return -EBADF;
  return t.proc.as.write(a[1], GUEST_STATFS) ? 0 : -EFAULT;
}

export function sys_getdents64(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const ents = dirCache.get(f) ?? f.readdir();
  if (typeof ents === "number") return ents;
  dirCache.set(f, ents);
  const max = a[2] >>> 0;
  const out = new Uint8Array(Math.min(max, 1 << 20));
  let o = 0;
  const enc = new TextEncoder();
  while (f.pos < ents.length) {
    const e = ents[f.pos];
    const name = enc.encode(e.name);
    if (o + dirent64Size(name.length) > out.length) { if (o === 0) return -EINVAL; break; }
    // d_off: the position after this entry (what lseek takes back).
    o += encodeDirent64(out, o, e.ino, f.pos + 1, e.type, name);
    f.pos++;
  }
  return t.proc.as.write(a[1], out.subarray(0, o)) ? o : -EFAULT;
}
const dirCache = new WeakMap<OpenFile, Dirent[]>();
/** lseek(dir, 0) rewinds: drop the cached listing. */
export function rewindDir(f: OpenFile): void { dirCache.delete(f); }

export function sys_readlinkat(k: Kernel, t: Thread, a: number[]): R {
  if ((a[3] | 0) <= 0) return -EINVAL;
  // readlinkat(2): an empty path names dirfd itself (an O_PATH|O_NOFOLLOW descriptor of a link).
  const ref = lookupAt(k, t, a[0], a[1], LOOKUP_EMPTY);
  if (typeof ref === "number") return ref;
  const empty = ref.file !== null || t.proc.as.cstring(a[1]) === "";
  let target = ref.file !== null ? null : k.vfs.special(ref.guest);
  if (target === null) return empty ? -ENOENT : -EINVAL;
  if (target === undefined) {
    const st = k.vfs.stat(ref);
    if (typeof st === "number") return st;
    if ((st.mode & S_IFMT) !== S_IFLNK) return empty ? -ENOENT : -EINVAL;
    const r = k.vfs.host.readlink(ref.host);
    if (typeof r === "number") return r;
    target = r;
  }
  const b = new TextEncoder().encode(target).subarray(0, a[3] >>> 0);
  return t.proc.as.write(a[2], b) ? b.length : -EFAULT;
}

const isSpecialFile = (mode: number): boolean => {
  const type = mode & S_IFMT;
  return type === S_IFCHR || type === S_IFBLK || type === S_IFIFO || type === S_IFSOCK;
};

/** faccessat(2) has no flags argument; faccessat2 does. */
export const sys_faccessat = (k: Kernel, t: Thread, a: number[]): R => doFaccessat(k, t, a[0], a[1], a[2] | 0, 0);
export const sys_faccessat2 = (k: Kernel, t: Thread, a: number[]): R => doFaccessat(k, t, a[0], a[1], a[2] | 0, a[3] | 0);

function doFaccessat(k: Kernel, t: Thread, dirfd: number, pathPtr: number, mode: number, flags: number): R {
  if ((mode & ~(R_OK | W_OK | X_OK)) !== 0) return -EINVAL;
  if ((flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const ref = lookupAt(k, t, dirfd, pathPtr, atLookup(flags));
  if (typeof ref === "number") return ref;
  const st = statRef(k, t, ref);
  if (typeof st === "number") return st;
  if (synthetic(k, ref)) return 0;
  // Decided on the object itself: with AT_SYMLINK_NOFOLLOW a symlink is never asked of the host.
  const r = mode === F_OK ? 0 : k.vfs.access(ref, mode);
  if (r !== 0) return r;
  // "SuS v2 requires we report a read only fs too" (fs/open.c), except for device/FIFO/socket nodes.
  if ((mode & W_OK) !== 0 && k.vfs.readonly && !isSpecialFile(st.mode) && (st.mode & S_IFMT) !== S_IFLNK) return -EROFS;
  return 0;
}

function writable(k: Kernel): number { return k.vfs.readonly ? -EROFS : 0; }

export function sys_mkdirat(k: Kernel, t: Thread, a: number[]): R {
  const ref = lookupAt(k, t, a[0], a[1], 0);
  if (typeof ref === "number") return ref;
  return created(k, ref.guest, writable(k) || k.vfs.host.mkdir(ref.host, a[2] & ~t.proc.umask & S_IALLUGO), true);
}

export function sys_mknodat(k: Kernel, t: Thread, a: number[]): R {
  const mode = a[2] >>> 0, type = mode & S_IFMT;
  // may_mknod (fs/namei.c): 0 is S_IFREG; directories EPERM; unknown types EINVAL.
  if (type === S_IFDIR) return -EPERM;
  if (type !== 0 && type !== S_IFREG && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFIFO && type !== S_IFSOCK) return -EINVAL;
  const ref = lookupAt(k, t, a[0], a[1], 0);
  if (typeof ref === "number") return ref;
  // The last component is never followed: an existing name, a dangling symlink included, is EEXIST.
  if (typeof k.vfs.stat(ref) !== "number") return -EEXIST;
  if (writable(k) !== 0) return -EROFS;
  // Device nodes need CAP_MKNOD; FIFOs and socket nodes cannot be made through the host's Node API.
  if (type !== 0 && type !== S_IFREG) return -EPERM;
  const h = k.vfs.host.open(ref.host, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, mode & S_IALLUGO & ~t.proc.umask);
  if (h < 0) return h;
  k.vfs.host.close(h);
  return created(k, ref.guest, 0);
}

export function sys_unlinkat(k: Kernel, t: Thread, a: number[]): R {
  if ((a[2] & ~AT_REMOVEDIR) !== 0) return -EINVAL;
  const ref = lookupAt(k, t, a[0], a[1], 0);
  if (typeof ref === "number") return ref;
  if (writable(k) !== 0) return -EROFS;
  const dir = (a[2] & AT_REMOVEDIR) !== 0;
  const before = watching(k) ? k.vfs.host.lstat(ref.host) : null;
  const r = dir ? k.vfs.host.rmdir(ref.host) : k.vfs.host.unlink(ref.host);
  if (r === 0 && before !== null) fsDeleted(k, ref.guest, dir, dir || typeof before === "number" || before.nlink <= 1);
  return r;
}

export function sys_renameat2(k: Kernel, t: Thread, a: number[]): R {
  const flags = (a[4] ?? 0) >>> 0;
  // fs/namei.c do_renameat2: unknown flags, or NOREPLACE/WHITEOUT with EXCHANGE, are EINVAL.
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) return -EINVAL;
  if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) !== 0 && (flags & RENAME_EXCHANGE) !== 0) return -EINVAL;
  // rename(2) acts on the names: neither last component is followed.
  const from = lookupAt(k, t, a[0], a[1], 0);
  if (typeof from === "number") return from;
  const to = lookupAt(k, t, a[2], a[3], 0);
  if (typeof to === "number") return to;
  const host = k.vfs.host;
  if (writable(k) !== 0) return -EROFS;
  const src = host.lstat(from.host);
  if (typeof src === "number") return src;
  const toExists = typeof host.lstat(to.host) !== "number";
  if ((flags & RENAME_NOREPLACE) !== 0 && toExists) return -EEXIST;
  // A filesystem that cannot make whiteouts answers EINVAL (as Linux's i_op->rename does).
  if ((flags & RENAME_WHITEOUT) !== 0) return -EINVAL;
  const dir = (src.mode & S_IFMT) === S_IFDIR;
  if ((flags & RENAME_EXCHANGE) !== 0) {
    if (!toExists) return -ENOENT;
    if (from.host === to.host) return 0;
    const r = exchange(k, from.host, to.host);
    if (r === 0 && watching(k)) { fsNotify(k, from.guest, IN_ATTRIB, dir); fsNotify(k, to.guest, IN_ATTRIB); }
    return r;
  }
  const r = host.rename(from.host, to.host);
  if (r === 0 && watching(k) && from.guest !== to.guest) fsMoved(k, from.guest, to.guest, dir);
  return r;
}

/** RENAME_EXCHANGE through a temporary name beside `a`, undone on failure (the guest sees it atomically). */
function exchange(k: Kernel, a: string, b: string): number {
  const host = k.vfs.host;
  const rnd = new Uint8Array(6);
  k.host.random(rnd);
  const tmp = a.slice(0, a.lastIndexOf("/") + 1) + ".rvisor-exchange-" + Array.from(rnd, (x) => x.toString(16).padStart(2, "0")).join("");
  let r = host.rename(a, tmp);
  if (r !== 0) return r;
  r = host.rename(b, a);
  if (r !== 0) { host.rename(tmp, a); return r; }
  r = host.rename(tmp, b);
  if (r !== 0) { host.rename(a, b); host.rename(tmp, a); return r; }
  return 0;
}
export const sys_renameat = (k: Kernel, t: Thread, a: number[]): R => sys_renameat2(k, t, [a[0], a[1], a[2], a[3], 0, 0]);

export function sys_symlinkat(k: Kernel, t: Thread, a: number[]): R {
  const target = t.proc.as.cstring(a[0]);
  if (target === null) return -EFAULT;
  if (target === "") return -ENOENT;
  const ref = lookupAt(k, t, a[1], a[2], 0);
  if (typeof ref === "number") return ref;
  // The target is stored as written; it is only ever interpreted by Vfs.resolve, inside the root.
  return created(k, ref.guest, writable(k) || k.vfs.host.symlink(target, ref.host));
}

export function sys_linkat(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[4] | 0;
  if ((flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  // "To use null names we require CAP_DAC_READ_SEARCH" (fs/namei.c): the guest user has not.
  if ((flags & AT_EMPTY_PATH) !== 0) return -ENOENT;
  // Without AT_SYMLINK_FOLLOW a symlink is linked itself; the host's link(2) does not follow either.
  const from = lookupAt(k, t, a[0], a[1], (flags & AT_SYMLINK_FOLLOW) !== 0 ? LOOKUP_FOLLOW : 0);
  if (typeof from === "number") return from;
  const to = lookupAt(k, t, a[2], a[3], 0);
  if (typeof to === "number") return to;
  return created(k, to.guest, writable(k) || k.vfs.host.link(from.host, to.host));
}



export function sys_fchmod(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  return attrib(k, f.path, writable(k) || f.chmod(a[1] & S_IALLUGO));
}
/** fchmodat(2) has no flags argument (it follows); fchmodat2 has AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH. */
export const sys_fchmodat = (k: Kernel, t: Thread, a: number[]): R => doFchmodat(k, t, a[0], a[1], a[2], 0);
export const sys_fchmodat2 = (k: Kernel, t: Thread, a: number[]): R => doFchmodat(k, t, a[0], a[1], a[2], a[3] | 0);

function doFchmodat(k: Kernel, t: Thread, dirfd: number, pathPtr: number, mode: number, flags: number): R {
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const ref = lookupAt(k, t, dirfd, pathPtr, atLookup(flags));
  if (typeof ref === "number") return ref;
  if (writable(k) !== 0) return -EROFS;
  return synthetic(k, ref) ? -EPERM : attrib(k, ref.guest, k.vfs.chmod(ref, mode & S_IALLUGO));
}
export function sys_fchown(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  return attrib(k, f.path, writable(k) || f.chown(a[1] | 0, a[2] | 0));
}
export function sys_fchownat(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[4] | 0;
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  // With AT_SYMLINK_NOFOLLOW the link itself changes (lchown), never what it points at.
  const ref = lookupAt(k, t, a[0], a[1], atLookup(flags));
  if (typeof ref === "number") return ref;
  if (writable(k) !== 0) return -EROFS;
  return synthetic(k, ref) ? -EPERM : attrib(k, ref.guest, k.vfs.chown(ref, a[2] | 0, a[3] | 0));
}

export function sys_utimensat(k: Kernel, t: Thread, a: number[]): R {
  const dirfd = a[0] | 0, flags = a[3] | 0;
  const [s, ns] = k.host.clock.realtime();
  const now = s + ns / 1e9;
  let at: number | null = now, mt: number | null = now;
  let bad = false;
  if (a[2] !== 0) {
    const b = t.proc.as.read(a[2], 32);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    const nsecOf = (o: number): number => dv.getUint32(o + 8, true) + dv.getInt32(o + 12, true) * 4294967296;
    // "Nothing to do, we must not even check the path" (fs/utimes.c).
    if (nsecOf(0) === UTIME_OMIT && nsecOf(16) === UTIME_OMIT) return 0;
    const get = (o: number): number | null => {
      const nsec = nsecOf(o);
      if (nsec === UTIME_NOW) return now;
      if (nsec === UTIME_OMIT) return null;
      if (nsec < 0 || nsec > 999_999_999) bad = true;
      return dv.getUint32(o, true) + dv.getInt32(o + 4, true) * 4294967296 + nsec / 1e9;
    };
    at = get(0); mt = get(16);
  }
  let ref: PathRef | number;
  if (a[1] === 0 && dirfd !== AT_FDCWD) {
    // A null path names dirfd itself (futimens); no flags are allowed then.
    if (flags !== 0) return -EINVAL;
    const f = fileOf(t, dirfd);
    if (f === undefined) return -EBADF;
    ref = { guest: f.path, host: f.hostPath() ?? "", file: f };
  } else {
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
    if (a[1] === 0) return -EFAULT;
    // With AT_SYMLINK_NOFOLLOW the link's own times change (lutimes).
    ref = lookupAt(k, t, dirfd, a[1], atLookup(flags));
  }
  if (typeof ref === "number") return ref;
  if (bad) return -EINVAL;
  if (k.vfs.readonly) return -EROFS;
  return synthetic(k, ref) ? 0 : attrib(k, ref.guest, k.vfs.utimes(ref, at, mt));
}

export function sys_ftruncate(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  if (a[1] < 0) return -EINVAL; // loff_t length < 0
  if (k.vfs.readonly && !(f instanceof MemfdFile)) return -EROFS;
  const r = f.truncate(a[1]);
  if (r === 0 && watching(k) && f.path.startsWith("/")) fsNotify(k, f.path, IN_MODIFY);
  return r;
}
export function sys_truncate(k: Kernel, t: Thread, a: number[]): R {
  if (a[1] < 0) return -EINVAL;
  const ref = lookupAt(k, t, AT_FDCWD, a[0], LOOKUP_FOLLOW);
  if (typeof ref === "number") return ref;
  const st = statRef(k, t, ref);
  if (typeof st === "number") return st;
  if ((st.mode & S_IFMT) === S_IFDIR) return -EISDIR;
  if ((st.mode & S_IFMT) !== S_IFREG) return -EINVAL;
  const r = writable(k) || k.vfs.truncate(ref, a[1]);
  if (r === 0 && watching(k)) fsNotify(k, ref.guest, IN_MODIFY);
  return r;
}
export function sys_fsync(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  return f === undefined ? -EBADF : f.sync();
}
export const sys_sync = (): R => 0;
export function sys_fallocate(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  // offset < 0 or len <= 0 → EINVAL (vfs_fallocate).
  if (a[2] < 0 || a[3] <= 0) return -EINVAL;
  const end = a[2] + a[3];
  if (f.size() < end && (a[1] & 1) === 0) return f.truncate(end);
  return 0;
}

export function sys_pipe2(_k: Kernel, t: Thread, a: number[]): R {
  const p = new Pipe();
  const r = new PipeEnd(p, false), w = new PipeEnd(p, true);
  const fl = a[1] | 0;
  r.flags |= fl & O_NONBLOCK; w.flags |= fl & O_NONBLOCK;
  const fr = t.proc.fds.alloc(r, (fl & O_CLOEXEC) !== 0);
  if (fr < 0) return fr;
  const fw = t.proc.fds.alloc(w, (fl & O_CLOEXEC) !== 0);
  if (fw < 0) { t.proc.fds.close(fr); return fw; }
  const b = new Uint8Array(8);
  new DataView(b.buffer).setInt32(0, fr, true); new DataView(b.buffer).setInt32(4, fw, true);
  if (!t.proc.as.write(a[0], b)) { t.proc.fds.close(fr); t.proc.fds.close(fw); return -EFAULT; }
  return 0;
}

export function sys_getcwd(_k: Kernel, t: Thread, a: number[]): R {
  const b = new TextEncoder().encode(t.proc.cwd + "\0");
  if (b.length > sizeT(a[1])) return -ERANGE;
  return t.proc.as.write(a[0], b) ? b.length : -EFAULT;
}

export function sys_chdir(k: Kernel, t: Thread, a: number[]): R {
  const ref = lookupAt(k, t, AT_FDCWD, a[0], LOOKUP_FOLLOW);
  if (typeof ref === "number") return ref;
  const st = statRef(k, t, ref);
  if (typeof st === "number") return st;
  if ((st.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  t.proc.cwd = ref.guest;
  return 0;
}
export function sys_fchdir(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  if (!f.isDir()) return -ENOTDIR;
  t.proc.cwd = f.path;
  return 0;
}
export function sys_umask(_k: Kernel, t: Thread, a: number[]): R {
  const old = t.proc.umask;
  t.proc.umask = a[0] & 0o777;
  return old;
}

export function sys_eventfd2(_k: Kernel, t: Thread, a: number[]): R {
  const f = new EventFd(a[0] >>> 0, (a[1] & 1) !== 0);
  f.flags = 2 | (a[1] & O_NONBLOCK);
  return t.proc.fds.alloc(f, (a[1] & O_CLOEXEC) !== 0);
}

/**
 * copy_file_range(fd_in, off_in, fd_out, off_out, len, flags): bytes copied through the kernel
 * between two files (coreutils cp and install use it). flags must be 0; offsets given are used
 * and updated instead of the file positions; a zero count at end of input.
 */
export function sys_copy_file_range(k: Kernel, t: Thread, a: number[]): R {
  const inp = fileOf(t, a[0]), out = fileOf(t, a[2]);
  if (inp === undefined || out === undefined) return -EBADF;
  if ((a[5] >>> 0) !== 0) return -EINVAL;
  if ((inp.flags & O_ACCMODE) === O_WRONLY || (out.flags & O_ACCMODE) === O_RDONLY) return -EBADF;
  if (inp.isDir() || out.isDir()) return -EISDIR;
  if (!inp.seekable() || !out.seekable()) return -EINVAL;
  if ((out.flags & O_APPEND) !== 0) return -EBADF;
  let pin: number | null = null, pout: number | null = null;
  if (a[1] !== 0) { pin = t.proc.as.u64(a[1]); if (pin === null) return -EFAULT; if (pin < 0) return -EINVAL; }
  if (a[3] !== 0) { pout = t.proc.as.u64(a[3]); if (pout === null) return -EFAULT; if (pout < 0) return -EINVAL; }
  if (negativeSsize(a[4])) return -EINVAL;
  const buf = new Uint8Array(Math.min(rwCount(a[4]), 1 << 20));
  const from = pin ?? inp.pos, to = pout ?? out.pos;
  const n = inp.read(buf, from);
  if (n <= 0) return n;
  const w = out.write(buf.subarray(0, n), to);
  if (w < 0) return w;
  if (pin !== null) t.proc.as.putU64(a[1], from + w); else inp.pos = from + w;
  if (pout !== null) t.proc.as.putU64(a[3], to + w); else out.pos = to + w;
  return modified(k, out, w);
}

export function sys_sendfile(k: Kernel, t: Thread, a: number[]): R {
  const out = fileOf(t, a[0]), inp = fileOf(t, a[1]);
  if (out === undefined || inp === undefined) return -EBADF;
  let pos: number | null = null;
  if (a[2] !== 0) { pos = t.proc.as.u64(a[2]); if (pos === null) return -EFAULT; if (pos < 0) return -EINVAL; }
  // do_sendfile: rw_verify_area → EINVAL for a count negative as ssize_t, then MAX_RW_COUNT.
  if (negativeSsize(a[3])) return -EINVAL;
  const buf = new Uint8Array(Math.min(rwCount(a[3]), 1 << 20));
  const seekable = inp.seekable();
  // Only what the output takes is consumed from a seekable input (a pipe takes at most its room),
  // and a full output parks the thread like write().
  return ioWait(k, t, out, () => {
    const start = pos ?? inp.pos;
    const n = inp.read(buf, seekable ? start : null);
    if (n <= 0) return n;
    const w = out.write(buf.subarray(0, n), null);
    if (w < 0) return w;
    if (pos !== null) { pos = start + w; t.proc.as.putU64(a[2], pos); } else if (seekable) inp.pos = start + w;
    return w;
  });
}

export { ENOENT, EINVAL, ENOTTY };

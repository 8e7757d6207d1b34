// File-system system calls: descriptors, paths (confined through Vfs), stat, directories,
// pipes, terminals (ioctl), eventfd.
import type { Kernel } from "./kernel.js";
import {
  EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTTY, ENXIO, EPIPE, EROFS, ERANGE, ESPIPE,
} from "./errno.js";
import {
  EventFd, MemFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_PATH, O_RDONLY,
  O_TRUNC, OpenFile, Pipe, PipeEnd, S_IFDIR, S_IFLNK, S_IFMT, type Dirent,
} from "./file.js";
import type { HostStat } from "./host.js";
import { procOpen } from "./proc.js";
import { SIGPIPE, Wait, type Thread } from "./task.js";
import { TermFile } from "./vfs.js";
import { TtyFile, ttyIoctl } from "./ctty.js";

export const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400, AT_EMPTY_PATH = 0x1000;
type R = number | Wait;
const MAX_IO = 1 << 24;

export function fileOf(t: Thread, fd: number): OpenFile | undefined { return t.proc.fds.get(fd | 0); }

/** Resolves (dirfd, path) to a guest path. */
export function pathAt(k: Kernel, t: Thread, dirfd: number, pathPtr: number, follow: boolean): string | number {
  const path = t.proc.as.cstring(pathPtr);
  if (path === null) return -EFAULT;
  return resolveAt(k, t, dirfd, path, follow);
}

export function resolveAt(k: Kernel, t: Thread, dirfd: number, path: string, follow: boolean): string | number {
  let base = t.proc.cwd;
  if (!path.startsWith("/") && (dirfd | 0) !== AT_FDCWD) {
    const f = fileOf(t, dirfd);
    if (f === undefined) return -EBADF;
    if (!f.isDir()) return path === "" ? -ENOENT : -ENOTDIR;
    base = f.path;
  }
  return k.vfs.resolve(base, path, follow);
}

/** Stat of a resolved guest path (synthetic /proc and /dev included). */
export function statPath(k: Kernel, t: Thread, g: string, follow: boolean): HostStat | number {
  if (g === "/proc" || g.startsWith("/proc/") || k.devFile(g) !== null) {
    const f = openGuest(k, t, g, O_RDONLY, 0);
    if (typeof f === "number") return f;
    const st = f.stat();
    if (!follow && typeof st !== "number" && k.vfs.special(g) !== undefined && k.vfs.special(g) !== null) st.mode = S_IFLNK | 0o777;
    return st;
  }
  const hp = k.vfs.toHost(g);
  return follow ? k.vfs.host.stat(hp) : k.vfs.host.lstat(hp);
}

/** Opens a resolved guest path. */
export function openGuest(k: Kernel, t: Thread, g: string, flags: number, mode: number): OpenFile | number {
  // /dev/tty is the caller's controlling terminal: ENXIO without one.
  if (g === "/dev/tty" && k.tty !== null && t.proc.ctty === null) return -ENXIO;
  const dev = k.devFile(g);
  if (dev !== null) { dev.flags = flags; return dev; }
  if (g === "/proc" || g.startsWith("/proc/")) return procOpen(k, t, g);
  return k.vfs.open(g, flags, mode & ~t.proc.umask);
}

export function statBytes(st: HostStat): Uint8Array {
  const b = new Uint8Array(128);
  const dv = new DataView(b.buffer);
  const p64 = (o: number, v: number): void => { dv.setUint32(o, v >>> 0, true); dv.setUint32(o + 4, Math.floor(v / 4294967296) >>> 0, true); };
  p64(0, st.dev); p64(8, st.ino); dv.setUint32(16, st.mode, true); dv.setUint32(20, st.nlink, true);
  dv.setUint32(24, st.uid, true); dv.setUint32(28, st.gid, true); p64(32, st.rdev); p64(48, st.size);
  dv.setInt32(56, st.blksize, true); p64(64, st.blocks);
  p64(72, st.atimeSec); p64(80, st.atimeNsec); p64(88, st.mtimeSec); p64(96, st.mtimeNsec); p64(104, st.ctimeSec); p64(112, st.ctimeNsec);
  return b;
}

function statxBytes(st: HostStat): Uint8Array {
  const b = new Uint8Array(256);
  const dv = new DataView(b.buffer);
  const p64 = (o: number, v: number): void => { dv.setUint32(o, v >>> 0, true); dv.setUint32(o + 4, Math.floor(v / 4294967296) >>> 0, true); };
  dv.setUint32(0, 0x7ff, true); dv.setUint32(4, st.blksize, true); dv.setUint32(16, st.nlink, true);
  dv.setUint32(20, st.uid, true); dv.setUint32(24, st.gid, true); dv.setUint16(28, st.mode, true);
  p64(32, st.ino); p64(40, st.size); p64(48, st.blocks);
  p64(64, st.atimeSec); dv.setUint32(72, st.atimeNsec, true);
  p64(80, st.ctimeSec); dv.setUint32(88, st.ctimeNsec, true);
  p64(96, st.ctimeSec); dv.setUint32(104, st.ctimeNsec, true);
  p64(112, st.mtimeSec); dv.setUint32(120, st.mtimeNsec, true);
  dv.setUint32(128, (st.rdev >>> 8) & 0xfff, true); dv.setUint32(132, st.rdev & 0xff, true);
  dv.setUint32(136, (st.dev >>> 8) & 0xfff, true); dv.setUint32(140, st.dev & 0xff, true);
  return b;
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

function doRead(k: Kernel, t: Thread, fd: number, buf: number, len: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  if (f.isDir()) return -EISDIR;
  if (pos !== null && !f.seekable()) return -ESPIPE;
  const tmp = new Uint8Array(Math.min(len, MAX_IO));
  return ioWait(k, t, f, () => {
    const n = f.read(tmp, pos);
    if (n > 0 && !t.proc.as.write(buf, tmp.subarray(0, n))) return -EFAULT;
    return n;
  });
}

function doWrite(k: Kernel, t: Thread, fd: number, buf: number, len: number, pos: number | null): R {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  if (pos !== null && !f.seekable()) return -ESPIPE;
  const data = t.proc.as.read(buf, Math.min(len, MAX_IO));
  if (data === null) return -EFAULT;
  let done = 0;
  return ioWait(k, t, f, () => {
    // Partial pipe writes continue until everything is written (blocking semantics).
    for (;;) {
      const n = f.write(data.subarray(done), pos);
      if (n < 0) return done > 0 && n !== -EAGAIN ? done : n === -EAGAIN && done > 0 && (f.flags & O_NONBLOCK) !== 0 ? done : n;
      done += n;
      if (done >= data.length || n === 0) return done;
    }
  });
}

function iovecs(t: Thread, iov: number, cnt: number): [number, number][] | number {
  if (cnt < 0 || cnt > 1024) return -EINVAL;
  const b = t.proc.as.read(iov, cnt * 16);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const out: [number, number][] = [];
  for (let i = 0; i < cnt; i++) out.push([dv.getUint32(i * 16, true) + dv.getUint32(i * 16 + 4, true) * 4294967296, dv.getUint32(i * 16 + 8, true)]);
  return out;
}

function doReadv(k: Kernel, t: Thread, fd: number, iov: number, cnt: number, pos: number | null): R {
  const v = iovecs(t, iov, cnt);
  if (typeof v === "number") return v;
  const total = v.reduce((a, [, l]) => a + l, 0);
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  const tmp = new Uint8Array(Math.min(total, MAX_IO));
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
  const v = iovecs(t, iov, cnt);
  if (typeof v === "number") return v;
  const parts: Uint8Array[] = [];
  for (const [base, len] of v) { const d = t.proc.as.read(base, len); if (d === null) return -EFAULT; parts.push(d); }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  let done = 0;
  return ioWait(k, t, f, () => {
    for (;;) {
      const n = f.write(all.subarray(done), pos);
      if (n < 0) return done > 0 && n !== -EAGAIN ? done : n;
      done += n;
      if (done >= all.length || n === 0) return done;
    }
  });
}

const pos64 = (v: number): number | null => (v < 0 ? null : v);

export const sys_read = (k: Kernel, t: Thread, a: number[]): R => doRead(k, t, a[0], a[1], a[2], null);
export const sys_write = (k: Kernel, t: Thread, a: number[]): R => doWrite(k, t, a[0], a[1], a[2], null);
export const sys_pread64 = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doRead(k, t, a[0], a[1], a[2], a[3]));
export const sys_pwrite64 = (k: Kernel, t: Thread, a: number[]): R => (a[3] < 0 ? -EINVAL : doWrite(k, t, a[0], a[1], a[2], a[3]));
export const sys_readv = (k: Kernel, t: Thread, a: number[]): R => doReadv(k, t, a[0], a[1], a[2] | 0, null);
export const sys_writev = (k: Kernel, t: Thread, a: number[]): R => doWritev(k, t, a[0], a[1], a[2] | 0, null);
export const sys_preadv = (k: Kernel, t: Thread, a: number[]): R => doReadv(k, t, a[0], a[1], a[2] | 0, pos64(a[3]));
export const sys_pwritev = (k: Kernel, t: Thread, a: number[]): R => doWritev(k, t, a[0], a[1], a[2] | 0, pos64(a[3]));

export function sys_openat(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[2] | 0;
  const g = pathAt(k, t, a[0], a[1], (flags & 0o400000) === 0);
  if (typeof g === "number") return g;
  if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) {
    const st = statPath(k, t, g, false);
    if (typeof st !== "number") return -EEXIST;
  }
  if ((flags & 0o400000) !== 0) {
    const st = statPath(k, t, g, false);
    if (typeof st !== "number" && (st.mode & S_IFMT) === S_IFLNK) return -40; // ELOOP
  }
  const f = openGuest(k, t, g, flags & ~O_CLOEXEC, a[3]);
  if (typeof f === "number") return f;
  if ((flags & O_DIRECTORY) !== 0 && !f.isDir()) { f.release(); return -ENOTDIR; }
  if ((flags & O_PATH) === 0 && (flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) !== O_RDONLY && !f.isDir()) f.truncate(0);
  const fd = t.proc.fds.alloc(f, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) f.release();
  return fd;
}

export const sys_close = (_k: Kernel, t: Thread, a: number[]): R => t.proc.fds.close(a[0] | 0);

export function sys_close_range(_k: Kernel, t: Thread, a: number[]): R {
  const last = Math.min(a[1] >= 0 ? a[1] : 1 << 30, 1023);
  for (let fd = a[0] | 0; fd <= last; fd++) {
    if (t.proc.fds.get(fd) === undefined) continue;
    if ((a[2] & 4) !== 0) t.proc.fds.cloexec[fd] = true; else t.proc.fds.close(fd);
  }
  return 0;
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

export function sys_fcntl(_k: Kernel, t: Thread, a: number[]): R {
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
    case 1033: case 1034: return 0; // F_ADD_SEALS / F_GET_SEALS
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
  const path = t.proc.as.cstring(pathAddr);
  if (path === null) return -EFAULT;
  if (path === "" && (flags & AT_EMPTY_PATH) !== 0) {
    const f = fileOf(t, dirfd);
    return f === undefined ? -EBADF : f.stat();
  }
  const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
  const g = resolveAt(k, t, dirfd, path, follow);
  return typeof g === "number" ? g : statPath(k, t, g, follow);
}

export function sys_newfstatat(k: Kernel, t: Thread, a: number[]): R {
  const st = statAt(k, t, a[0], a[1], a[3] | 0);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[2], statBytes(st)) ? 0 : -EFAULT;
}

export function sys_fstat(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const st = f.stat();
  if (typeof st === "number") return st;
  return t.proc.as.write(a[1], statBytes(st)) ? 0 : -EFAULT;
}

export function sys_statx(k: Kernel, t: Thread, a: number[]): R {
  const st = statAt(k, t, a[0], a[1], a[2] | 0);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[4], statxBytes(st)) ? 0 : -EFAULT;
}

function statfsBytes(): Uint8Array {
  const b = new Uint8Array(120);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xef53, true); dv.setUint32(8, 4096, true); dv.setUint32(16, 1 << 24, true); dv.setUint32(24, 1 << 23, true);
  dv.setUint32(32, 1 << 23, true); dv.setUint32(40, 1 << 20, true); dv.setUint32(48, 1 << 19, true); dv.setUint32(64, 255, true); dv.setUint32(72, 4096, true);
  return b;
}
export function sys_statfs(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, AT_FDCWD, a[0], true);
  if (typeof g === "number") return g;
  const st = statPath(k, t, g, true);
  if (typeof st === "number") return st;
  return t.proc.as.write(a[1], statfsBytes()) ? 0 : -EFAULT;
}
export function sys_fstatfs(_k: Kernel, t: Thread, a: number[]): R {
  if (fileOf(t, a[0]) === undefined) return -EBADF;
  return t.proc.as.write(a[1], statfsBytes()) ? 0 : -EFAULT;
}

export function sys_getdents64(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  const ents = dirCache.get(f) ?? f.readdir();
  if (typeof ents === "number") return ents;
  dirCache.set(f, ents);
  const max = a[2] >>> 0;
  const out = new Uint8Array(Math.min(max, 1 << 20));
  const dv = new DataView(out.buffer);
  let o = 0;
  const enc = new TextEncoder();
  while (f.pos < ents.length) {
    const e = ents[f.pos];
    const name = enc.encode(e.name);
    const reclen = (19 + name.length + 1 + 7) & ~7;
    if (o + reclen > out.length) { if (o === 0) return -EINVAL; break; }
    dv.setUint32(o, e.ino >>> 0, true); dv.setUint32(o + 4, Math.floor(e.ino / 4294967296), true);
    dv.setUint32(o + 8, f.pos + 1, true);
    dv.setUint16(o + 16, reclen, true); out[o + 18] = e.type;
    out.set(name, o + 19);
    o += reclen;
    f.pos++;
  }
  return t.proc.as.write(a[1], out.subarray(0, o)) ? o : -EFAULT;
}
const dirCache = new WeakMap<OpenFile, Dirent[]>();
/** lseek(dir, 0) rewinds: drop the cached listing. */
export function rewindDir(f: OpenFile): void { dirCache.delete(f); }

export function sys_readlinkat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], false);
  if (typeof g === "number") return g;
  let target = k.vfs.special(g);
  if (target === null) return -EINVAL;
  if (target === undefined) {
    const r = k.vfs.host.readlink(k.vfs.toHost(g));
    if (typeof r === "number") return r;
    target = r;
  }
  const b = new TextEncoder().encode(target).subarray(0, a[3] >>> 0);
  return t.proc.as.write(a[2], b) ? b.length : -EFAULT;
}

export function sys_faccessat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], ((a[3] | 0) & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof g === "number") return g;
  const st = statPath(k, t, g, true);
  if (typeof st === "number") return st;
  if ((a[2] & 2) !== 0 && k.vfs.readonly && !g.startsWith("/dev/") && !g.startsWith("/proc")) return -EROFS;
  if (g.startsWith("/dev/") || g.startsWith("/proc")) return 0;
  return k.vfs.host.access(k.vfs.toHost(g), a[2] & 7);
}

function writable(k: Kernel): number { return k.vfs.readonly ? -EROFS : 0; }

export function sys_mkdirat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], false);
  if (typeof g === "number") return g;
  return writable(k) || k.vfs.host.mkdir(k.vfs.toHost(g), a[2] & ~t.proc.umask & 0o7777);
}

export function sys_mknodat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], false);
  if (typeof g === "number") return g;
  if ((a[2] & S_IFMT) !== 0 && (a[2] & S_IFMT) !== 0o100000) return -1; // EPERM for devices/fifos
  const h = k.vfs.host.open(k.vfs.toHost(g), O_CREAT | O_EXCL | 1, a[2] & 0o7777 & ~t.proc.umask);
  if (h < 0) return h;
  k.vfs.host.close(h);
  return 0;
}

export function sys_unlinkat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], false);
  if (typeof g === "number") return g;
  if (writable(k) !== 0) return -EROFS;
  return (a[2] & AT_REMOVEDIR) !== 0 ? k.vfs.host.rmdir(k.vfs.toHost(g)) : k.vfs.host.unlink(k.vfs.toHost(g));
}

export function sys_renameat2(k: Kernel, t: Thread, a: number[]): R {
  const from = pathAt(k, t, a[0], a[1], false);
  if (typeof from === "number") return from;
  const to = pathAt(k, t, a[2], a[3], false);
  if (typeof to === "number") return to;
  if (writable(k) !== 0) return -EROFS;
  if (((a[4] ?? 0) & 1) !== 0 && typeof k.vfs.host.lstat(k.vfs.toHost(to)) !== "number") return -EEXIST; // RENAME_NOREPLACE
  return k.vfs.host.rename(k.vfs.toHost(from), k.vfs.toHost(to));
}
export const sys_renameat = (k: Kernel, t: Thread, a: number[]): R => sys_renameat2(k, t, [a[0], a[1], a[2], a[3], 0, 0]);

export function sys_symlinkat(k: Kernel, t: Thread, a: number[]): R {
  const target = t.proc.as.cstring(a[0]);
  if (target === null) return -EFAULT;
  const g = pathAt(k, t, a[1], a[2], false);
  if (typeof g === "number") return g;
  return writable(k) || k.vfs.host.symlink(target, k.vfs.toHost(g));
}

export function sys_linkat(k: Kernel, t: Thread, a: number[]): R {
  const from = pathAt(k, t, a[0], a[1], (a[4] & AT_SYMLINK_FOLLOW) !== 0);
  if (typeof from === "number") return from;
  const to = pathAt(k, t, a[2], a[3], false);
  if (typeof to === "number") return to;
  return writable(k) || k.vfs.host.link(k.vfs.toHost(from), k.vfs.toHost(to));
}

function fdPath(t: Thread, fd: number): string | number {
  const f = fileOf(t, fd);
  if (f === undefined) return -EBADF;
  const hp = f.hostPath();
  return hp ?? -EINVAL;
}

export function sys_fchmod(k: Kernel, t: Thread, a: number[]): R {
  const hp = fdPath(t, a[0]);
  if (typeof hp === "number") return hp === -EINVAL ? 0 : hp;
  return writable(k) || k.vfs.host.chmod(hp, a[1] & 0o7777);
}
export function sys_fchmodat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], true);
  if (typeof g === "number") return g;
  return writable(k) || k.vfs.host.chmod(k.vfs.toHost(g), a[2] & 0o7777);
}
export function sys_fchown(k: Kernel, t: Thread, a: number[]): R {
  const hp = fdPath(t, a[0]);
  if (typeof hp === "number") return hp === -EINVAL ? 0 : hp;
  return writable(k) || k.vfs.host.chown(hp, a[1] | 0, a[2] | 0);
}
export function sys_fchownat(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, a[0], a[1], (a[4] & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof g === "number") return g;
  return writable(k) || k.vfs.host.chown(k.vfs.toHost(g), a[2] | 0, a[3] | 0);
}

export function sys_utimensat(k: Kernel, t: Thread, a: number[]): R {
  let hp: string;
  if (a[1] === 0) {
    const p = fdPath(t, a[0]);
    if (typeof p === "number") return p === -EINVAL ? 0 : p;
    hp = p;
  } else {
    const g = pathAt(k, t, a[0], a[1], (a[3] & AT_SYMLINK_NOFOLLOW) === 0);
    if (typeof g === "number") return g;
    hp = k.vfs.toHost(g);
  }
  if (k.vfs.readonly) return -EROFS;
  const [s, ns] = k.host.clock.realtime();
  const now = s + ns / 1e9;
  let at: number | null = now, mt: number | null = now;
  if (a[2] !== 0) {
    const b = t.proc.as.read(a[2], 32);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    const get = (o: number): number | null => {
      const nsec = dv.getUint32(o + 8, true);
      if (nsec === 0x3fffffff) return now; // UTIME_NOW
      if (nsec === 0x3ffffffe) return null; // UTIME_OMIT
      return dv.getUint32(o, true) + dv.getInt32(o + 4, true) * 4294967296 + nsec / 1e9;
    };
    at = get(0); mt = get(16);
  }
  return k.vfs.host.utimes(hp, at, mt);
}

export function sys_ftruncate(k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
  if (k.vfs.readonly) return -EROFS;
  return f.truncate(a[1]);
}
export function sys_truncate(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, AT_FDCWD, a[0], true);
  if (typeof g === "number") return g;
  return writable(k) || k.vfs.host.truncate(k.vfs.toHost(g), a[1]);
}
export function sys_fsync(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  return f === undefined ? -EBADF : f.sync();
}
export const sys_sync = (): R => 0;
export function sys_fallocate(_k: Kernel, t: Thread, a: number[]): R {
  const f = fileOf(t, a[0]);
  if (f === undefined) return -EBADF;
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
  if (b.length > a[1]) return -ERANGE;
  return t.proc.as.write(a[0], b) ? b.length : -EFAULT;
}

export function sys_chdir(k: Kernel, t: Thread, a: number[]): R {
  const g = pathAt(k, t, AT_FDCWD, a[0], true);
  if (typeof g === "number") return g;
  const st = statPath(k, t, g, true);
  if (typeof st === "number") return st;
  if ((st.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  t.proc.cwd = g;
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

export function sys_memfd_create(k: Kernel, t: Thread, a: number[]): R {
  const name = t.proc.as.cstring(a[0]) ?? "memfd";
  const f = new MemFile(new Uint8Array(0), `/memfd:${name} (deleted)`);
  void k;
  return t.proc.fds.alloc(f, (a[1] & 1) !== 0);
}

export function sys_sendfile(k: Kernel, t: Thread, a: number[]): R {
  const out = fileOf(t, a[0]), inp = fileOf(t, a[1]);
  if (out === undefined || inp === undefined) return -EBADF;
  let pos: number | null = null;
  if (a[2] !== 0) { pos = t.proc.as.u64(a[2]); if (pos === null) return -EFAULT; }
  const buf = new Uint8Array(Math.min(a[3], 1 << 20));
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

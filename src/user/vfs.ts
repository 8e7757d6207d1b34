// Guest paths → host paths, confined to the root directory: every component is resolved here
// (symlinks included, against the guest root), so no path, `..` or symlink leaves the root.
// Vfs.lookup is the one lookup every path-taking system call goes through; the path operations
// below it (stat, chown, utimes, chmod, access, truncate) pick the host call that cannot follow
// a final symlink out of the root.
// Host-backed open files (regular files, directories, O_PATH locations) and the terminal files live here too.
import {
  DT_DIR, EACCES, EAGAIN, EBADF, EISDIR, ELOOP, ENOENT, ENOSYS, ENOTDIR, EOPNOTSUPP, EROFS, O_ACCMODE, O_APPEND,
  O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY, O_TRUNC, O_WRONLY, POLLIN, POLLOUT, S_IFCHR, S_IFDIR, S_IFLNK,
  S_IFMT,
} from "../abi/linux.js";
import { OpenFile, fakeStat, type Dirent } from "./file.js";
import type { HostExecFd, HostFs, HostStat, HostTerminal } from "./host.js";

/** Synthetic paths: a symlink target, `null` for a synthetic non-link, `undefined` for a host path. */
export type SpecialLookup = (guestPath: string) => string | null | undefined;

/** Lookup flags, as Linux's namei: follow a final symlink; accept an empty path (AT_EMPTY_PATH). */
export const LOOKUP_FOLLOW = 1, LOOKUP_EMPTY = 2;

/** What a path-taking call acts on: the result of Vfs.lookup. */
export interface PathRef {
  /** The guest path, every symlink resolved inside the root (the last one only with LOOKUP_FOLLOW). */
  guest: string;
  /**
   * Its host path. Every directory component is a non-symlink inside the root, and so is the last
   * component with LOOKUP_FOLLOW (or it does not exist). Without LOOKUP_FOLLOW the last component
   * may be a symlink: only host calls that act on a link itself may be handed it.
   */
  host: string;
  /** LOOKUP_EMPTY with an empty path on a descriptor: the open file the call acts on (else null). */
  file: OpenFile | null;
}

/** Same inode (dev and ino). */
export function sameInode(a: HostStat, b: HostStat): boolean { return a.dev === b.dev && a.ino === b.ino; }

export class Vfs {
  special: SpecialLookup = () => undefined;
  /**
   * With a prefix (qemu's -L), paths that exist under it are taken from there, others from the host.
   * `confined`: the guest sees only its own filesystem (a root other than "/", or a `host` whose
   * paths are guest paths, such as the overlay, with root "/").
   */
  constructor(readonly host: HostFs, readonly root: string, readonly readonly: boolean, readonly prefix: string | null = null,
    readonly confined = root !== "/") {}

  /** The host path of a Unix socket at host path `host` (see HostFs.socketPath). */
  socketPath(host: string, bind: boolean): string | number { return this.host.socketPath?.(host, bind) ?? host; }

  toHost(guest: string): string {
    if (this.prefix !== null && guest !== "/" && typeof this.host.lstat(this.prefix + guest) !== "number") return this.prefix + guest;
    return this.root === "/" ? guest : guest === "/" ? this.root : this.root + guest;
  }

  /** Guest path of a host path inside the root (for the executable's name), or null. */
  toGuest(host: string): string | null {
    if (this.root === "/") return host;
    if (host === this.root) return "/";
    return host.startsWith(this.root + "/") ? host.slice(this.root.length) : null;
  }

  /**
   * Resolves `path` relative to guest directory `cwd` to a normalized guest path with every
   * symlink resolved (the last component only when `follow`). A missing last component is fine.
   */
  resolve(cwd: string, path: string, follow: boolean): string | number {
    if (path === "") return -ENOENT;
    let parts = (path.startsWith("/") ? path : cwd + "/" + path).split("/");
    const trailingSlash = path.endsWith("/");
    let out: string[] = [];
    let links = 0;
    for (let i = 0; i < parts.length; i++) {
      const c = parts[i];
      if (c === "" || c === ".") continue;
      if (c === "..") { out.pop(); continue; }
      out.push(c);
      let last = true;
      for (let j = i + 1; j < parts.length; j++) if (parts[j] !== "" && parts[j] !== ".") { last = false; break; }
      if (last && !follow && !trailingSlash) continue;
      const g = "/" + out.join("/");
      let target = this.special(g);
      if (target === undefined) {
        const st = this.host.lstat(this.toHost(g));
        if (typeof st === "number") { if (last) continue; return st; }
        const type = st.mode & S_IFMT;
        if (type !== S_IFLNK) {
          // A non-directory before a later component, or named with a trailing slash: ENOTDIR.
          if ((!last || trailingSlash) && type !== S_IFDIR) return -ENOTDIR;
          continue;
        }
        const t = this.host.readlink(this.toHost(g));
        if (typeof t === "number") return t;
        target = t;
      }
      if (target === null) continue;
      if (++links > 40) return -ELOOP;
      out.pop();
      if (target.startsWith("/")) out = [];
      parts = [...target.split("/"), ...parts.slice(i + 1)];
      i = -1;
    }
    return "/" + out.join("/");
  }

  /**
   * The lookup of every path-taking call: `path` relative to the directory file `dir` (null: the
   * working directory `cwd`), confined to the root. With LOOKUP_EMPTY an empty path names `dir`
   * itself (the working directory when null). Errors as Linux: ENOENT for an empty path without
   * LOOKUP_EMPTY, ENOTDIR for a relative path on a non-directory `dir`.
   */
  lookup(cwd: string, dir: OpenFile | null, path: string, flags: number): PathRef | number {
    const follow = (flags & LOOKUP_FOLLOW) !== 0;
    if (path === "") {
      if ((flags & LOOKUP_EMPTY) === 0) return -ENOENT;
      if (dir === null) return this.lookup(cwd, null, ".", flags);
      // An O_PATH location is acted on by its path (it may be a symlink itself: nofollow calls only).
      if (dir instanceof PathFile) return { guest: dir.path, host: dir.hpath, file: null };
      return { guest: dir.path, host: dir.hostPath() ?? "", file: dir };
    }
    let base = cwd;
    if (dir !== null && !path.startsWith("/")) {
      if (!dir.isDir()) return -ENOTDIR;
      base = dir.path;
    }
    const g = this.resolve(base, path, follow);
    if (typeof g === "number") return g;
    return { guest: g, host: this.toHost(g), file: null };
  }

  /** The stat of what `ref` names: the object itself, never a link's target (lookup followed already if asked). */
  stat(ref: PathRef): HostStat | number { return ref.file !== null ? ref.file.stat() : this.host.lstat(ref.host); }

  /** chown; a symlink named without LOOKUP_FOLLOW is changed itself (lchown). */
  chown(ref: PathRef, uid: number, gid: number): number {
    return ref.file !== null ? ref.file.chown(uid, gid) : this.host.lchown(ref.host, uid, gid);
  }

  /** Sets times (seconds; null: unchanged); a symlink is changed itself (lutimes). */
  utimes(ref: PathRef, atime: number | null, mtime: number | null): number {
    return ref.file !== null ? ref.file.utimes(atime, mtime) : this.host.lutimes(ref.host, atime, mtime);
  }

  /** chmod; on a symlink EOPNOTSUPP, as Linux for fchmodat(AT_SYMLINK_NOFOLLOW) (a link's mode cannot change). */
  chmod(ref: PathRef, mode: number): number {
    if (ref.file !== null) return ref.file.chmod(mode);
    const st = this.host.lstat(ref.host);
    if (typeof st === "number") return st;
    if ((st.mode & S_IFMT) === S_IFLNK) return -EOPNOTSUPP;
    return this.host.chmod(ref.host, mode);
  }

  /**
   * access(2) for R_OK/W_OK/X_OK bits `mode`, decided on the object itself: a symlink's own
   * permissions are rwxrwxrwx (faccessat2 with AT_SYMLINK_NOFOLLOW), so it is never asked of the host.
   */
  access(ref: PathRef, mode: number): number {
    const st = this.stat(ref);
    if (typeof st === "number") return st;
    if ((st.mode & S_IFMT) === S_IFLNK) return 0;
    const hp = ref.file !== null ? ref.file.hostPath() : ref.host;
    if (hp !== null) {
      const now = this.host.lstat(hp);
      if (typeof now !== "number" && sameInode(now, st)) return this.host.access(hp, mode);
    }
    // A descriptor whose path no longer names it (renamed, replaced): decide from its owner bits.
    return (((st.mode >> 6) & mode) === mode) ? 0 : -EACCES;
  }

  /** truncate(2) of what `ref` names; never follows a final symlink on the host. */
  truncate(ref: PathRef, len: number): number {
    if (ref.file !== null) return ref.file.truncate(len);
    const st = this.host.lstat(ref.host);
    if (typeof st === "number") return st;
    if ((st.mode & S_IFMT) === S_IFDIR) return -EISDIR;
    return this.host.truncate(ref.host, len);
  }

  /** Opens a host file at a resolved guest path (O_PATH: a location only, a symlink itself under O_NOFOLLOW). */
  open(guest: string, flags: number, mode: number): OpenFile | number {
    const hp = this.toHost(guest);
    const acc = flags & O_ACCMODE;
    if ((flags & O_PATH) !== 0) {
      // open(2): with O_PATH, flags other than O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW are ignored.
      const st = this.host.lstat(hp);
      if (typeof st === "number") return st;
      const isDir = (st.mode & S_IFMT) === S_IFDIR;
      if ((flags & O_DIRECTORY) !== 0 && !isDir) return -ENOTDIR;
      const p = new PathFile(this.host, hp, isDir);
      p.path = guest; p.flags = O_PATH;
      return p;
    }
    if (this.readonly && (acc !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)) !== 0)) {
      const st = this.host.lstat(hp);
      if (typeof st === "number" && (flags & O_CREAT) === 0) return st;
      return -EROFS;
    }
    // The lookup resolved the last component, so the host path is no symlink; lstat (never stat)
    // and O_NOFOLLOW keep it so even if something on the host swaps one in meanwhile.
    const st = this.host.lstat(hp);
    if (typeof st !== "number" && (st.mode & S_IFMT) === S_IFLNK) return -ELOOP;
    if (typeof st !== "number" && (st.mode & S_IFMT) === S_IFDIR) {
      if (acc !== O_RDONLY) return -EISDIR;
      const h = this.host.open(hp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
      if (h < 0) return h;
      const d = new HostDir(this.host, h, hp);
      d.path = guest; d.flags = flags;
      return d;
    }
    if (typeof st !== "number" && (flags & O_DIRECTORY) !== 0) return -ENOTDIR;
    const h = this.host.open(hp, (flags & ~O_DIRECTORY) | (this.confined ? O_NOFOLLOW : 0), mode);
    if (h < 0) return h;
    const f = new HostFile(this.host, h, hp);
    f.path = guest; f.flags = flags;
    return f;
  }
}

export class HostFile extends OpenFile {
  /**
   * The host descriptor's own file offset: rvisor reads and writes at `pos` (pread/pwrite), so
   * it moves only when a host-native program was given the descriptor (host_exec.ts).
   */
  hostOffset = 0;
  constructor(readonly host: HostFs, readonly h: number, readonly hpath: string) { super(); }
  override read(buf: Uint8Array, pos: number | null): number {
    if ((this.flags & O_ACCMODE) === O_WRONLY) return -EBADF;
    const n = this.host.read(this.h, buf, pos ?? this.pos);
    if (n > 0 && pos === null) this.pos += n;
    return n;
  }
  override write(data: Uint8Array, pos: number | null): number {
    if ((this.flags & O_ACCMODE) === O_RDONLY) return -EBADF;
    let p = pos ?? this.pos;
    if (pos === null && (this.flags & O_APPEND) !== 0) p = this.size();
    const n = this.host.write(this.h, data, p);
    if (n > 0 && pos === null) this.pos = p + n;
    return n;
  }
  override stat(): HostStat | number { return this.host.fstat(this.h); }
  override chmod(mode: number): number { return this.host.fchmod(this.h, mode); }
  override chown(uid: number, gid: number): number { return this.host.fchown(this.h, uid, gid); }
  override utimes(atime: number | null, mtime: number | null): number { return this.host.futimes(this.h, atime, mtime); }
  override seekable(): boolean { return true; }
  override size(): number { const s = this.host.fstat(this.h); return typeof s === "number" ? s : s.size; }
  override truncate(len: number): number { return this.host.ftruncate(this.h, len); }
  override sync(): number { return this.host.fsync(this.h); }
  override release(): void { this.host.close(this.h); }
  override hostPath(): string { return this.hpath; }
  /** The descriptor itself while its offset is the guest's (or O_APPEND makes it irrelevant); else a bridge. */
  override hostExecFd(): HostExecFd | null {
    return (this.flags & O_APPEND) !== 0 || this.pos === this.hostOffset ? { kind: "handle", handle: this.h } : null;
  }
}

/** A host directory: the handle is the directory itself; its path is only used to list it. */
export class HostDir extends OpenFile {
  constructor(readonly host: HostFs, readonly h: number, readonly hpath: string) { super(); }
  override stat(): HostStat | number { return this.host.fstat(this.h); }
  override chmod(mode: number): number { return this.host.fchmod(this.h, mode); }
  override chown(uid: number, gid: number): number { return this.host.fchown(this.h, uid, gid); }
  override utimes(atime: number | null, mtime: number | null): number { return this.host.futimes(this.h, atime, mtime); }
  override readdir(): Dirent[] | number {
    // The directory is listed by its handle; where the host cannot, by its path, and only while
    // that still names this directory (not a symlink or another directory swapped in after the
    // open, which could lead out of the root).
    const self = this.host.fstat(this.h);
    if (typeof self === "number") return self;
    let r = this.host.readdirHandle(this.h);
    if (r === -ENOSYS) {
      const now = this.host.lstat(this.hpath);
      if (typeof now === "number" || (now.mode & S_IFMT) !== S_IFDIR || !sameInode(now, self)) return -ENOENT;
      r = this.host.readdir(this.hpath);
    }
    if (typeof r === "number") return r;
    return [{ name: ".", ino: self.ino, type: DT_DIR }, { name: "..", ino: 1, type: DT_DIR }, ...r];
  }
  override read(): number { return -EISDIR; }
  override isDir(): boolean { return true; }
  override seekable(): boolean { return true; }
  override size(): number { return 0; }
  override release(): void { this.host.close(this.h); }
  override hostPath(): string { return this.hpath; }
  override hostExecFd(): HostExecFd { return { kind: "handle", handle: this.h }; }
}

/** An O_PATH descriptor: a location only (fstat, a base for *at calls, AT_EMPTY_PATH); I/O and fchmod/fchown give EBADF. */
export class PathFile extends OpenFile {
  constructor(readonly host: HostFs, readonly hpath: string, readonly dir: boolean) { super(); }
  override stat(): HostStat | number { return this.host.lstat(this.hpath); }
  override readdir(): number { return -EBADF; }
  override chmod(_mode: number): number { return -EBADF; }
  override chown(_uid: number, _gid: number): number { return -EBADF; }
  override utimes(_atime: number | null, _mtime: number | null): number { return -EBADF; }
  override truncate(_len: number): number { return -EBADF; }
  override isDir(): boolean { return this.dir; }
  override hostPath(): string { return this.hpath; }
}

/** Standard input shared by every stdin file description. */
export class StdinBuffer {
  chunks: Uint8Array[] = [];
  eof = false;
  started = false;
  constructor(readonly term: HostTerminal) {}
  push(c: Uint8Array | null): void {
    if (c === null) this.eof = true; else this.chunks.push(c);
    OpenFile.notify();
  }
}

/** The host's stdin/stdout/stderr when they are not a terminal (pipes, files), passed through. */
export class TermFile extends OpenFile {
  constructor(readonly fd: number, readonly term: HostTerminal, readonly input: StdinBuffer) {
    super();
    this.flags = fd === 0 ? O_RDONLY : O_WRONLY;
    this.path = term.isatty(fd) ? "/dev/pts/0" : fd === 0 ? "pipe:[0]" : `pipe:[${fd}]`;
  }
  override read(buf: Uint8Array): number {
    const s = this.input;
    if (!s.started) { s.started = true; this.term.startInput((c) => s.push(c)); }
    if (s.chunks.length === 0) return s.eof ? (s.eof = false, 0) : -EAGAIN;
    let n = 0;
    while (n < buf.length && s.chunks.length > 0) {
      const c = s.chunks[0];
      const k = Math.min(c.length, buf.length - n);
      buf.set(c.subarray(0, k), n);
      n += k;
      if (k === c.length) s.chunks.shift(); else s.chunks[0] = c.subarray(k);
    }
    return n;
  }
  override write(data: Uint8Array): number {
    if (this.fd === 0) return -EBADF;
    return this.term.write(this.fd, data);
  }
  override poll(): number {
    if (this.fd !== 0) return POLLOUT;
    const s = this.input;
    if (!s.started) { s.started = true; this.term.startInput((c) => s.push(c)); }
    return (s.chunks.length > 0 || s.eof ? POLLIN : 0) | POLLOUT;
  }
  override stat(): HostStat { return fakeStat(this.term.isatty(this.fd) ? S_IFCHR | 0o620 : 0o010600, 0, this.term.isatty(this.fd) ? 0x8800 : 0); }
  /** rvisor's own stdout/stderr; stdin only while rvisor has not started reading it (else what it read is bridged first). */
  override hostExecFd(): HostExecFd | null { return this.fd !== 0 || !this.input.started ? { kind: "stdio", fd: this.fd } : null; }
}

export { EACCES };

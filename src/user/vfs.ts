// Guest paths → host paths, confined to the root directory: every component is resolved here
// (symlinks included, against the guest root), so no path, `..` or symlink leaves the root.
// Host-backed open files (regular files and directories) and the terminal files live here too.
import { EACCES, EAGAIN, EBADF, EISDIR, ELOOP, ENOENT, ENOTDIR, EROFS } from "./errno.js";
import {
  O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY, OpenFile, POLLIN, POLLOUT,
  S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, fakeStat, type Dirent,
} from "./file.js";
import type { HostFs, HostStat, HostTerminal } from "./host.js";

/** Synthetic paths: a symlink target, `null` for a synthetic non-link, `undefined` for a host path. */
export type SpecialLookup = (guestPath: string) => string | null | undefined;

export class Vfs {
  special: SpecialLookup = () => undefined;
  /** With a prefix (qemu's -L), paths that exist under it are taken from there, others from the host. */
  constructor(readonly host: HostFs, readonly root: string, readonly readonly: boolean, readonly prefix: string | null = null) {}

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
          if (!last && type !== S_IFDIR) return -ENOTDIR;
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

  /** Opens a host file at a resolved guest path. */
  open(guest: string, flags: number, mode: number): OpenFile | number {
    const hp = this.toHost(guest);
    const acc = flags & O_ACCMODE;
    if (this.readonly && (acc !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)) !== 0)) {
      const st = this.host.stat(hp);
      if (typeof st === "number" && (flags & O_CREAT) === 0) return st;
      return -EROFS;
    }
    const st = this.host.stat(hp);
    if (typeof st !== "number" && (st.mode & S_IFMT) === S_IFDIR) {
      if (acc !== O_RDONLY) return -EISDIR;
      const d = new HostDir(this.host, hp);
      d.path = guest; d.flags = flags;
      return d;
    }
    if (typeof st !== "number" && (flags & O_DIRECTORY) !== 0) return -ENOTDIR;
    const h = this.host.open(hp, (flags & ~O_DIRECTORY) | (this.root === "/" ? 0 : O_NOFOLLOW), mode);
    if (h < 0) return h;
    const f = new HostFile(this.host, h, hp);
    f.path = guest; f.flags = flags;
    return f;
  }
}

export class HostFile extends OpenFile {
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
  override seekable(): boolean { return true; }
  override size(): number { const s = this.host.fstat(this.h); return typeof s === "number" ? s : s.size; }
  override truncate(len: number): number { return this.host.ftruncate(this.h, len); }
  override sync(): number { return this.host.fsync(this.h); }
  override release(): void { this.host.close(this.h); }
  override hostPath(): string { return this.hpath; }
}

export class HostDir extends OpenFile {
  constructor(readonly host: HostFs, readonly hpath: string) { super(); }
  override stat(): HostStat | number { return this.host.stat(this.hpath); }
  override readdir(): Dirent[] | number {
    const r = this.host.readdir(this.hpath);
    if (typeof r === "number") return r;
    const self = this.host.stat(this.hpath);
    const ino = typeof self === "number" ? 1 : self.ino;
    return [{ name: ".", ino, type: 4 }, { name: "..", ino: 1, type: 4 }, ...r];
  }
  override read(): number { return -EISDIR; }
  override isDir(): boolean { return true; }
  override seekable(): boolean { return true; }
  override size(): number { return 0; }
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
}

export { EACCES };

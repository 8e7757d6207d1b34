// virtio-9p (device id 9) speaking 9P2000.L, the dialect Linux mounts with
// `mount -t 9p -o trans=virtio,version=9p2000.L <tag> /mnt`. The protocol server lives here in
// the core and talks to a `FileSystem9p` backend (paths relative to the share root, async allowed);
// src/host/node/fs_9p_node.ts is the Node backend over a host directory.
//
// Message layout: size[4] type[1] tag[2] body, little-endian; strings are len[2] + UTF-8;
// qid = type[1] version[4] path[8]. Errors are Rlerror with a Linux errno.
import {
  AT_REMOVEDIR, EBADF, EBUSY, EINVAL, EIO, EISDIR, ENAMETOOLONG, ENOTDIR, EOPNOTSUPP, EPERM, ERANGE, O_ACCMODE,
  O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_TRUNC, S_IALLUGO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, direntType,
  errnoOfCode,
} from "../../abi/linux.js";
import type { AccessWidth } from "../../memory/device.js";
import {
  DescChain, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport, featureBit,
  readConfigBytes,
} from "./virtio_mmio.js";

/** A backend error carrying a Linux errno. Backends may also throw errors with a string `code` ("ENOENT"). */
export class Errno9p extends Error {
  constructor(readonly errno: number, message = `errno ${errno}`) { super(message); }
}

export function errnoOf(e: unknown): number {
  if (e instanceof Errno9p) return e.errno;
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    return errnoOfCode(code);
  }
  return EIO;
}

// ---- Backend interface ----
type Awaitable<T> = T | Promise<T>;

export interface Stat9p {
  /** st_mode including the S_IFMT type bits. */
  mode: number;
  ino: bigint;
  nlink: number; uid: number; gid: number; rdev: number;
  size: number; blksize: number; blocks: number;
  atimeSec: number; atimeNsec: number; mtimeSec: number; mtimeNsec: number; ctimeSec: number; ctimeNsec: number;
}
export interface DirEntry9p { name: string; ino: bigint; /** st_mode (type bits are what matter) */ mode: number }
export interface StatFs9p { type: number; bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number; namelen: number }
export type Time9p = { sec: number; nsec: number } | "now";
export interface SetAttr9p { mode?: number; uid?: number; gid?: number; size?: number; atime?: Time9p; mtime?: Time9p }

/**
 * What the 9P server needs from a file tree. `path` is relative to the share root: "" is the root,
 * components are joined with "/" and never are "", "." or "..". Nothing may follow a symlink
 * (stat is lstat); errors are thrown as Errno9p or errors with a Node-style string `code`.
 */
export interface FileSystem9p {
  stat(path: string): Awaitable<Stat9p>;
  /** Opens an existing file with Linux open flags; returns a handle. */
  open(path: string, flags: number): Awaitable<number>;
  /** Creates (O_CREAT) and opens a regular file. */
  create(path: string, flags: number, mode: number): Awaitable<number>;
  read(handle: number, offset: number, length: number): Awaitable<Uint8Array>;
  write(handle: number, offset: number, data: Uint8Array): Awaitable<number>;
  close(handle: number): Awaitable<void>;
  fsync(handle: number, datasync: boolean): Awaitable<void>;
  /** Entries without "." and "..". */
  readdir(path: string): Awaitable<DirEntry9p[]>;
  mkdir(path: string, mode: number): Awaitable<void>;
  unlink(path: string, isDir: boolean): Awaitable<void>;
  rename(from: string, to: string): Awaitable<void>;
  symlink(path: string, target: string): Awaitable<void>;
  readlink(path: string): Awaitable<string>;
  link(existing: string, newPath: string): Awaitable<void>;
  mknod(path: string, mode: number, rdev: number): Awaitable<void>;
  setattr(path: string, attrs: SetAttr9p): Awaitable<void>;
  statfs(): Awaitable<StatFs9p>;
}

// ---- Message types ----
export const P9 = {
  Tlerror: 6, Rlerror: 7, Tstatfs: 8, Rstatfs: 9, Tlopen: 12, Rlopen: 13, Tlcreate: 14, Rlcreate: 15,
  Tsymlink: 16, Rsymlink: 17, Tmknod: 18, Rmknod: 19, Trename: 20, Rrename: 21, Treadlink: 22, Rreadlink: 23,
  Tgetattr: 24, Rgetattr: 25, Tsetattr: 26, Rsetattr: 27, Txattrwalk: 30, Rxattrwalk: 31, Txattrcreate: 32,
  Rxattrcreate: 33, Treaddir: 40, Rreaddir: 41, Tfsync: 50, Rfsync: 51, Tlock: 52, Rlock: 53, Tgetlock: 54,
  Rgetlock: 55, Tlink: 70, Rlink: 71, Tmkdir: 72, Rmkdir: 73, Trenameat: 74, Rrenameat: 75, Tunlinkat: 76,
  Runlinkat: 77, Tversion: 100, Rversion: 101, Tauth: 102, Rauth: 103, Tattach: 104, Rattach: 105, Tflush: 108,
  Rflush: 109, Twalk: 110, Rwalk: 111, Tread: 116, Rread: 117, Twrite: 118, Rwrite: 119, Tclunk: 120, Rclunk: 121,
  Tremove: 122, Rremove: 123,
} as const;

export const P9_QTDIR = 0x80, P9_QTSYMLINK = 0x02, P9_QTFILE = 0;
export const P9_GETATTR_BASIC = 0x7ff;
export const P9_SETATTR_MODE = 0x1, P9_SETATTR_UID = 0x2, P9_SETATTR_GID = 0x4, P9_SETATTR_SIZE = 0x8,
  P9_SETATTR_ATIME = 0x10, P9_SETATTR_MTIME = 0x20, P9_SETATTR_ATIME_SET = 0x80, P9_SETATTR_MTIME_SET = 0x100;
export const P9_NOFID = 0xffffffff;
const P9_LOCK_SUCCESS = 0;
const F_UNLCK = 2;
const V9FS_MAGIC = 0x01021997;
const HEADER = 7;
/** Read/write replies carry size[4] type[1] tag[2] count[4] before the data. */
const IOHDR = 11;
const MAX_WALK = 16;
const MAX_NAME = 255;

export interface Qid { type: number; version: number; path: bigint }

class ProtoError extends Error {}

/** Bounds-checked little-endian reader over one message. */
export class P9Reader {
  private pos = 0;
  private readonly dv: DataView;
  constructor(private readonly buf: Uint8Array) { this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength); }
  private need(n: number): number {
    if (this.pos + n > this.buf.length) throw new ProtoError("message too short");
    const p = this.pos; this.pos += n; return p;
  }
  u8(): number { return this.dv.getUint8(this.need(1)); }
  u16(): number { return this.dv.getUint16(this.need(2), true); }
  u32(): number { return this.dv.getUint32(this.need(4), true); }
  u64(): number { const p = this.need(8); return this.dv.getUint32(p, true) + this.dv.getUint32(p + 4, true) * 2 ** 32; }
  str(): string { const n = this.u16(); const p = this.need(n); return new TextDecoder().decode(this.buf.subarray(p, p + n)); }
  bytes(n: number): Uint8Array { const p = this.need(n); return this.buf.subarray(p, p + n); }
}

/** Growable little-endian writer for replies (and for building requests in tests). */
export class P9Writer {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      const nb = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      nb.set(this.buf.subarray(0, this.length));
      this.buf = nb; this.dv = new DataView(nb.buffer);
    }
    const p = this.length; this.length += n; return p;
  }
  // grow() may replace buf/dv, so it runs before they are read: `this.dv.setUint8(this.grow(1), v)`
  // would evaluate `this.dv` first and write into the discarded buffer (every reply over 256 bytes
  // then failed with a RangeError, i.e. EIO in the guest).
  u8(v: number): this { const p = this.grow(1); this.dv.setUint8(p, v); return this; }
  u16(v: number): this { const p = this.grow(2); this.dv.setUint16(p, v, true); return this; }
  u32(v: number): this { const p = this.grow(4); this.dv.setUint32(p, v >>> 0, true); return this; }
  u64(v: number | bigint): this {
    const b = BigInt.asUintN(64, typeof v === "bigint" ? v : BigInt(Math.max(0, Math.floor(v))));
    const p = this.grow(8);
    this.dv.setUint32(p, Number(b & 0xffffffffn), true); this.dv.setUint32(p + 4, Number(b >> 32n), true);
    return this;
  }
  str(s: string): this { const b = new TextEncoder().encode(s); this.u16(b.length); return this.bytes(b); }
  bytes(b: Uint8Array): this { const p = this.grow(b.length); this.buf.set(b, p); return this; }
  qid(q: Qid): this { return this.u8(q.type).u32(q.version).u64(q.path); }
  /** The bytes written so far (no size patching). */
  toBytes(): Uint8Array { return this.buf.slice(0, this.length); }
  /** Finishes a message started with `header()`: patches size[4]. */
  finish(): Uint8Array { this.dv.setUint32(0, this.length, true); return this.buf.slice(0, this.length); }
  static header(type: number, tag: number): P9Writer { return new P9Writer().u32(0).u8(type).u16(tag); }
}

export function qidFromMode(mode: number, ino: bigint, version = 0): Qid {
  const fmt = mode & S_IFMT;
  return { type: fmt === S_IFDIR ? P9_QTDIR : fmt === S_IFLNK ? P9_QTSYMLINK : P9_QTFILE, version: version >>> 0, path: ino };
}

function qidOf(st: Stat9p): Qid {
  // Like QEMU: the version changes with mtime and size, so cache=loose clients notice host edits.
  const version = (st.mode & S_IFMT) === S_IFREG ? (st.mtimeSec ^ (st.size << 8) ^ st.mtimeNsec) >>> 0 : 0;
  return qidFromMode(st.mode, st.ino, version);
}


interface Fid {
  path: string;
  qid: Qid;
  /** Backend handle once opened (files only). */
  handle: number | null;
  /** Linux open flags when opened (-1: not opened); lets a restored snapshot reopen lazily. */
  openFlags: number;
  dir: { name: string; qid: Qid; mode: number }[] | null;
}

export function joinPath(dir: string, name: string): string { return dir === "" ? name : `${dir}/${name}`; }
export function parentPath(p: string): string { const i = p.lastIndexOf("/"); return i < 0 ? "" : p.slice(0, i); }

function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) throw new Errno9p(EINVAL, `bad name ${JSON.stringify(name)}`);
  if (new TextEncoder().encode(name).length > MAX_NAME) throw new Errno9p(ENAMETOOLONG);
}

export interface P9ServerOptions { maxMsize?: number }

/**
 * The fids the client holds: path, qid (qid.path as a decimal string, 64 bits) and the open flags
 * (-1: not open). Host file handles are not state: they are reopened on the next read or write.
 */
export interface P9ServerState {
  msize: number;
  fids: { n: number; path: string; qt: number; qv: number; qp: string; open: number }[];
}

/** The mount tag is checked on restore: a snapshot's share must come back under the same tag. */
export interface Virtio9pState { kind: "9p"; version: 1; tag: string; server: P9ServerState }

/** The 9P2000.L protocol engine: one request message in, one reply message out. */
export class P9Server {
  readonly maxMsize: number;
  msize: number;
  private readonly fids = new Map<number, Fid>();

  constructor(readonly fs: FileSystem9p, opts: P9ServerOptions = {}) {
    this.maxMsize = opts.maxMsize ?? 512 * 1024;
    this.msize = this.maxMsize;
  }

  /** Number of live fids (for tests and leak checks). */
  get fidCount(): number { return this.fids.size; }

  /**
   * Handles one T-message; `maxReply` is the room the client gave for the reply. Returns the
   * R-message, or null when the message is too broken to answer (no tag).
   */
  async handle(msg: Uint8Array, maxReply: number): Promise<Uint8Array | null> {
    if (msg.length < HEADER) return null;
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const size = dv.getUint32(0, true);
    const type = msg[4];
    const tag = dv.getUint16(5, true);
    if (size < HEADER || size > msg.length) return this.error(tag, EINVAL);
    const r = new P9Reader(msg.subarray(HEADER, size));
    let reply: Uint8Array;
    try {
      reply = await this.dispatch(type, tag, r, Math.min(maxReply, this.msize));
    } catch (e) {
      return this.error(tag, e instanceof ProtoError ? EINVAL : errnoOf(e));
    }
    if (reply.length > maxReply) return this.error(tag, ERANGE);
    return reply;
  }

  private error(tag: number, errno: number): Uint8Array { return P9Writer.header(P9.Rlerror, tag).u32(errno).finish(); }

  private fid(n: number): Fid {
    const f = this.fids.get(n);
    if (f === undefined) throw new Errno9p(EBADF, `unknown fid ${n}`);
    return f;
  }

  private async closeFid(f: Fid): Promise<void> {
    const h = f.handle;
    f.handle = null; f.openFlags = -1; f.dir = null;
    if (h !== null) await this.fs.close(h);
  }

  private async handleOf(f: Fid): Promise<number> {
    if (f.handle !== null) return f.handle;
    if (f.openFlags < 0 || f.qid.type === P9_QTDIR) throw new Errno9p(EBADF, "fid not open");
    f.handle = await this.fs.open(f.path, f.openFlags & ~(O_CREAT | O_EXCL | O_TRUNC));
    return f.handle;
  }

  private async statQid(path: string): Promise<Qid> { return qidOf(await this.fs.stat(path)); }

  /** Keeps other fids pointing at renamed files and directories. */
  private renamed(from: string, to: string): void {
    for (const f of this.fids.values()) {
      if (f.path === from) f.path = to;
      else if (f.path.startsWith(from + "/")) f.path = to + f.path.slice(from.length);
    }
  }

  private async dispatch(type: number, tag: number, r: P9Reader, room: number): Promise<Uint8Array> {
    const ok = (t: number): P9Writer => P9Writer.header(t, tag);
    switch (type) {
      case P9.Tversion: {
        const msize = r.u32();
        const version = r.str();
        for (const f of this.fids.values()) await this.closeFid(f).catch(() => undefined);
        this.fids.clear();
        this.msize = Math.max(4096, Math.min(msize, this.maxMsize));
        return ok(P9.Rversion).u32(this.msize).str(version.startsWith("9P2000.L") ? "9P2000.L" : "unknown").finish();
      }
      case P9.Tauth: throw new Errno9p(EOPNOTSUPP);
      case P9.Tattach: {
        const fid = r.u32(); r.u32(); r.str(); r.str();
        if (this.fids.has(fid)) throw new Errno9p(EBADF, "fid in use");
        const qid = await this.statQid("");
        this.fids.set(fid, { path: "", qid, handle: null, openFlags: -1, dir: null });
        return ok(P9.Rattach).qid(qid).finish();
      }
      case P9.Tflush: r.u16(); return ok(P9.Rflush).finish();
      case P9.Twalk: {
        const fidNo = r.u32();
        const fid = this.fid(fidNo);
        const newfid = r.u32();
        const n = r.u16();
        if (n > MAX_WALK) throw new Errno9p(EINVAL);
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str());
        if (newfid !== fidNo && this.fids.has(newfid)) throw new Errno9p(EBADF, "newfid in use");
        let path = fid.path, qid = fid.qid;
        const qids: Qid[] = [];
        for (const name of names) {
          try {
            if (name === "..") {
              path = parentPath(path);
            } else if (name !== ".") {
              if (qid.type !== P9_QTDIR) throw new Errno9p(ENOTDIR);
              checkName(name);
              path = joinPath(path, name);
            }
            qid = await this.statQid(path);
          } catch (e) {
            if (qids.length === 0) throw e;
            break;
          }
          qids.push(qid);
        }
        if (qids.length === names.length) {
          if (newfid === fidNo) { fid.path = path; fid.qid = qid; }
          else this.fids.set(newfid, { path, qid, handle: null, openFlags: -1, dir: null });
        }
        const w = ok(P9.Rwalk).u16(qids.length);
        for (const q of qids) w.qid(q);
        return w.finish();
      }
      case P9.Tclunk: {
        const n = r.u32();
        const f = this.fid(n);
        this.fids.delete(n);
        await this.closeFid(f);
        return ok(P9.Rclunk).finish();
      }
      case P9.Tremove: {
        const n = r.u32();
        const f = this.fid(n);
        this.fids.delete(n);
        await this.closeFid(f);
        if (f.path === "") throw new Errno9p(EBUSY);
        await this.fs.unlink(f.path, f.qid.type === P9_QTDIR);
        return ok(P9.Rremove).finish();
      }
      case P9.Tlopen: {
        const f = this.fid(r.u32());
        const flags = r.u32();
        if (f.openFlags >= 0) throw new Errno9p(EBADF, "already open");
        const st = await this.fs.stat(f.path);
        f.qid = qidOf(st);
        if ((st.mode & S_IFMT) === S_IFDIR) {
          if ((flags & O_ACCMODE) !== O_RDONLY) throw new Errno9p(EISDIR);
          f.openFlags = flags; f.dir = null;
        } else {
          if (flags & O_DIRECTORY) throw new Errno9p(ENOTDIR);
          f.handle = await this.fs.open(f.path, flags & ~(O_CREAT | O_EXCL));
          f.openFlags = flags;
        }
        return ok(P9.Rlopen).qid(f.qid).u32(0).finish();
      }
      case P9.Tlcreate: {
        const f = this.fid(r.u32());
        const name = r.str(); const flags = r.u32(); const mode = r.u32(); r.u32();
        checkName(name);
        if (f.qid.type !== P9_QTDIR) throw new Errno9p(ENOTDIR);
        if (f.openFlags >= 0) throw new Errno9p(EBADF, "already open");
        const path = joinPath(f.path, name);
        const h = await this.fs.create(path, flags | O_CREAT, mode & S_IALLUGO);
        f.path = path; f.handle = h; f.openFlags = flags; f.dir = null;
        f.qid = await this.statQid(path);
        return ok(P9.Rlcreate).qid(f.qid).u32(0).finish();
      }
      case P9.Tread: {
        const f = this.fid(r.u32());
        const offset = r.u64(); const count = r.u32();
        if (f.qid.type === P9_QTDIR) throw new Errno9p(EISDIR);
        const h = await this.handleOf(f);
        const n = Math.max(0, Math.min(count, room - IOHDR));
        const data = n === 0 ? new Uint8Array(0) : await this.fs.read(h, offset, n);
        const d = data.length > n ? data.subarray(0, n) : data;
        return ok(P9.Rread).u32(d.length).bytes(d).finish();
      }
      case P9.Twrite: {
        const f = this.fid(r.u32());
        const offset = r.u64(); const count = r.u32();
        const data = r.bytes(count);
        const h = await this.handleOf(f);
        const n = await this.fs.write(h, offset, data);
        return ok(P9.Rwrite).u32(n).finish();
      }
      case P9.Treaddir: {
        const f = this.fid(r.u32());
        const offset = r.u64(); const count = r.u32();
        if (f.qid.type !== P9_QTDIR) throw new Errno9p(ENOTDIR);
        if (f.dir === null || offset === 0) f.dir = await this.listDir(f.path, f.qid);
        const limit = Math.min(count, room - IOHDR);
        const body = new P9Writer();
        for (let i = offset; i < f.dir.length; i++) {
          const e = f.dir[i];
          const nameLen = new TextEncoder().encode(e.name).length;
          if (body.length + 13 + 8 + 1 + 2 + nameLen > limit) break;
          body.qid(e.qid).u64(i + 1).u8(direntType(e.mode)).str(e.name);
        }
        const bytes = body.toBytes();
        return ok(P9.Rreaddir).u32(bytes.length).bytes(bytes).finish();
      }
      case P9.Tgetattr: {
        const f = this.fid(r.u32());
        r.u64();
        const st = await this.fs.stat(f.path);
        f.qid = qidOf(st);
        return ok(P9.Rgetattr).u64(P9_GETATTR_BASIC).qid(f.qid).u32(st.mode).u32(st.uid).u32(st.gid)
          .u64(st.nlink).u64(st.rdev).u64(st.size).u64(st.blksize).u64(st.blocks)
          .u64(st.atimeSec).u64(st.atimeNsec).u64(st.mtimeSec).u64(st.mtimeNsec).u64(st.ctimeSec).u64(st.ctimeNsec)
          .u64(0).u64(0).u64(0).u64(0).finish();
      }
      case P9.Tsetattr: {
        const f = this.fid(r.u32());
        const valid = r.u32(); const mode = r.u32(); const uid = r.u32(); const gid = r.u32(); const size = r.u64();
        const aSec = r.u64(), aNsec = r.u64(), mSec = r.u64(), mNsec = r.u64();
        const attrs: SetAttr9p = {};
        if (valid & P9_SETATTR_MODE) attrs.mode = mode & S_IALLUGO;
        if (valid & P9_SETATTR_UID) attrs.uid = uid;
        if (valid & P9_SETATTR_GID) attrs.gid = gid;
        if (valid & P9_SETATTR_SIZE) attrs.size = size;
        if (valid & P9_SETATTR_ATIME) attrs.atime = valid & P9_SETATTR_ATIME_SET ? { sec: aSec, nsec: aNsec } : "now";
        if (valid & P9_SETATTR_MTIME) attrs.mtime = valid & P9_SETATTR_MTIME_SET ? { sec: mSec, nsec: mNsec } : "now";
        await this.fs.setattr(f.path, attrs);
        return ok(P9.Rsetattr).finish();
      }
      case P9.Tstatfs: {
        this.fid(r.u32());
        const s = await this.fs.statfs();
        return ok(P9.Rstatfs).u32(s.type || V9FS_MAGIC).u32(s.bsize).u64(s.blocks).u64(s.bfree).u64(s.bavail)
          .u64(s.files).u64(s.ffree).u64(0).u32(s.namelen).finish();
      }
      case P9.Tmkdir: {
        const d = this.fid(r.u32());
        const name = r.str(); const mode = r.u32(); r.u32();
        checkName(name);
        const path = joinPath(d.path, name);
        await this.fs.mkdir(path, mode & S_IALLUGO);
        return ok(P9.Rmkdir).qid(await this.statQid(path)).finish();
      }
      case P9.Tunlinkat: {
        const d = this.fid(r.u32());
        const name = r.str(); const flags = r.u32();
        checkName(name);
        await this.fs.unlink(joinPath(d.path, name), (flags & AT_REMOVEDIR) !== 0);
        return ok(P9.Runlinkat).finish();
      }
      case P9.Trenameat: {
        const od = this.fid(r.u32()); const oname = r.str(); const nd = this.fid(r.u32()); const nname = r.str();
        checkName(oname); checkName(nname);
        const from = joinPath(od.path, oname), to = joinPath(nd.path, nname);
        await this.fs.rename(from, to);
        this.renamed(from, to);
        return ok(P9.Rrenameat).finish();
      }
      case P9.Trename: {
        const f = this.fid(r.u32()); const d = this.fid(r.u32()); const name = r.str();
        checkName(name);
        if (f.path === "") throw new Errno9p(EBUSY);
        const from = f.path, to = joinPath(d.path, name);
        await this.fs.rename(from, to);
        this.renamed(from, to);
        return ok(P9.Rrename).finish();
      }
      case P9.Tsymlink: {
        const d = this.fid(r.u32()); const name = r.str(); const target = r.str(); r.u32();
        checkName(name);
        if (target.includes("\0")) throw new Errno9p(EINVAL);
        const path = joinPath(d.path, name);
        await this.fs.symlink(path, target);
        return ok(P9.Rsymlink).qid(await this.statQid(path)).finish();
      }
      case P9.Treadlink: {
        const f = this.fid(r.u32());
        return ok(P9.Rreadlink).str(await this.fs.readlink(f.path)).finish();
      }
      case P9.Tlink: {
        const d = this.fid(r.u32()); const f = this.fid(r.u32()); const name = r.str();
        checkName(name);
        if (f.qid.type === P9_QTDIR) throw new Errno9p(EPERM);
        await this.fs.link(f.path, joinPath(d.path, name));
        return ok(P9.Rlink).finish();
      }
      case P9.Tmknod: {
        const d = this.fid(r.u32()); const name = r.str(); const mode = r.u32(); const major = r.u32(); const minor = r.u32(); r.u32();
        checkName(name);
        const path = joinPath(d.path, name);
        await this.fs.mknod(path, mode, (major << 8) | minor);
        return ok(P9.Rmknod).qid(await this.statQid(path)).finish();
      }
      case P9.Tfsync: {
        const f = this.fid(r.u32());
        let datasync = 0;
        try { datasync = r.u32(); } catch { datasync = 0; } // older clients omit it
        if (f.handle !== null) await this.fs.fsync(f.handle, datasync !== 0);
        return ok(P9.Rfsync).finish();
      }
      case P9.Tlock: {
        this.fid(r.u32());
        return ok(P9.Rlock).u8(P9_LOCK_SUCCESS).finish(); // advisory locks are granted; the guest is the only user
      }
      case P9.Tgetlock: {
        this.fid(r.u32());
        r.u8(); const start = r.u64(); const length = r.u64(); const procId = r.u32(); const client = r.str();
        return ok(P9.Rgetlock).u8(F_UNLCK).u64(start).u64(length).u32(procId).str(client).finish();
      }
      case P9.Txattrwalk: case P9.Txattrcreate: throw new Errno9p(EOPNOTSUPP);
      default: throw new Errno9p(EOPNOTSUPP, `unsupported 9P message ${type}`);
    }
  }

  private async listDir(path: string, selfQid: Qid): Promise<{ name: string; qid: Qid; mode: number }[]> {
    const entries = await this.fs.readdir(path);
    const parentQid = path === "" ? selfQid : await this.statQid(parentPath(path));
    const out = [
      { name: ".", qid: selfQid, mode: S_IFDIR },
      { name: "..", qid: parentQid, mode: S_IFDIR },
    ];
    for (const e of entries) out.push({ name: e.name, qid: qidFromMode(e.mode, e.ino), mode: e.mode });
    return out;
  }

  saveState(): P9ServerState {
    return {
      msize: this.msize,
      fids: [...this.fids].map(([n, f]) => ({ n, path: f.path, qt: f.qid.type, qv: f.qid.version, qp: f.qid.path.toString(), open: f.openFlags })),
    };
  }

  /** Restores fids; open files are reopened lazily on their next read/write. */
  loadState(s: P9ServerState): void {
    if (!Number.isInteger(s.msize) || !Array.isArray(s.fids)) throw new Error("virtio-9p: incompatible server state");
    this.msize = s.msize;
    this.fids.clear();
    for (const f of s.fids) {
      this.fids.set(f.n, { path: f.path, qid: { type: f.qt, version: f.qv, path: BigInt(f.qp) }, handle: null, openFlags: f.open, dir: null });
    }
  }
}

export const VIRTIO_ID_9P = 9;
export const VIRTIO_9P_MOUNT_TAG = 0;

/** The virtio transport for a P9Server: one request queue, config = tag_len[2] tag[tag_len]. */
export class Virtio9p implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_9P;
  readonly features = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_9P_MOUNT_TAG) | featureBit(VIRTIO_F_INDIRECT_DESC)
    | featureBit(VIRTIO_F_EVENT_IDX);
  readonly numQueues = 1;
  readonly queueMax = 128;
  readonly server: P9Server;
  private transport: VirtioTransport | null = null;
  private readonly config: Uint8Array;
  private tail: Promise<void> = Promise.resolve();

  constructor(fs: FileSystem9p, readonly tag: string, opts: P9ServerOptions = {}) {
    this.server = new P9Server(fs, opts);
    const t = new TextEncoder().encode(tag);
    if (t.length === 0 || t.length > 0xffff) throw new Error("virtio-9p: bad mount tag");
    this.config = new Uint8Array(2 + t.length);
    this.config[0] = t.length & 0xff; this.config[1] = t.length >> 8;
    this.config.set(t, 2);
  }

  attach(t: VirtioTransport): void { this.transport = t; }
  readConfig(offset: number, width: AccessWidth): number { return readConfigBytes(this.config, offset, width); }
  writeConfig(): void { /* read-only */ }
  reset(): void { /* fids survive until the next Tversion, as the client re-negotiates */ }

  onNotify(queue: number): void {
    const t = this.transport;
    if (t === null || queue !== 0) return;
    const q = t.queue(0);
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const chain = c;
      // Requests run one at a time, in order: fid updates never race each other.
      this.tail = this.tail.then(() => this.serve(chain)).then((n) => q.push(chain, n), () => q.push(chain, 0));
    }
  }

  private async serve(c: DescChain): Promise<number> {
    const msg = c.read(0, Math.min(c.readableLen, this.server.maxMsize));
    const reply = await this.server.handle(msg, c.writableLen);
    if (reply === null) return 0;
    return c.write(0, reply);
  }

  /** Resolves when every queued request has been answered. */
  idle(): Promise<void> { return this.tail; }

  saveState(): Virtio9pState { return { kind: "9p", version: 1, tag: this.tag, server: this.server.saveState() }; }
  loadState(s: Virtio9pState): void {
    if (s?.kind !== "9p" || s.version !== 1) throw new Error("virtio-9p: unsupported snapshot");
    if (s.tag !== this.tag) throw new Error(`virtio-9p: the snapshot's share has tag '${s.tag}', this one '${this.tag}'`);
    this.server.loadState(s.server);
  }
}

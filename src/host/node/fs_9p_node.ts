// FileSystem9p over a host directory (node:fs). Confinement: every path the guest names is
// resolved so that nothing outside the shared folder is reachable —
//  * path components are never "", ".", ".." (the protocol layer guarantees it; checked again here);
//  * the parent directory is resolved with realpath and must lie inside the root (so a symlinked
//    intermediate directory pointing outside is refused with EACCES);
//  * the final component is never followed: lstat, lutimes, lchown, O_NOFOLLOW on open, and
//    chmod/truncate are refused on symlinks. Symlinks may be created with any target (the guest
//    resolves them in its own namespace); the host never follows them.
import {
  EACCES, EBADF, EINVAL, EPERM, EROFS, O_ACCMODE, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, S_IALLUGO, S_IFMT, S_IFREG,
} from "../../abi/linux.js";
import { constants as C, promises as fsp, realpathSync } from "node:fs";
import * as nodePath from "node:path";
import { nodeOpenFlags } from "./linux_flags.js";
import { DirEntry9p, Errno9p, FileSystem9p, SetAttr9p, Stat9p, StatFs9p, Time9p } from "../../system/devices/virtio_9p.js";

export class NodeFs9p implements FileSystem9p {
  readonly root: string;
  private readonly handles = new Map<number, fsp.FileHandle>();
  private nextHandle = 1;

  /** @param root host directory to share (must exist) */
  constructor(root: string, readonly opts: { readonly?: boolean } = {}) {
    this.root = realpathSync(root);
  }

  private inside(p: string): boolean { return p === this.root || p.startsWith(this.root + nodePath.sep); }

  /** Host path for a share-relative path; the last component is not resolved (never followed). */
  async resolve(rel: string): Promise<string> {
    if (rel === "") return this.root;
    const parts = rel.split("/");
    for (const c of parts) {
      if (c === "" || c === "." || c === ".." || c.includes("\0")) throw new Errno9p(EINVAL, `bad path ${JSON.stringify(rel)}`);
    }
    const parent = parts.length === 1 ? this.root : await fsp.realpath(nodePath.join(this.root, ...parts.slice(0, -1)));
    if (!this.inside(parent)) throw new Errno9p(EACCES, `${rel} escapes the shared folder`);
    return nodePath.join(parent, parts[parts.length - 1]);
  }

  private writable(): void { if (this.opts.readonly === true) throw new Errno9p(30 /* EROFS */); }

  async stat(path: string): Promise<Stat9p> {
    const s = await fsp.lstat(await this.resolve(path), { bigint: true });
    const sec = (ns: bigint): number => Number(ns / 1000000000n);
    const nsec = (ns: bigint): number => Number(ns % 1000000000n);
    return {
      mode: Number(s.mode), ino: s.ino, nlink: Number(s.nlink), uid: Number(s.uid), gid: Number(s.gid), rdev: Number(s.rdev),
      size: Number(s.size), blksize: Number(s.blksize), blocks: Number(s.blocks),
      atimeSec: sec(s.atimeNs), atimeNsec: nsec(s.atimeNs), mtimeSec: sec(s.mtimeNs), mtimeNsec: nsec(s.mtimeNs),
      ctimeSec: sec(s.ctimeNs), ctimeNsec: nsec(s.ctimeNs),
    };
  }

  /** Linux open flags (from the guest) to this host's flags; always O_NOFOLLOW. */
  private hostFlags(flags: number): number {
    const acc = flags & O_ACCMODE;
    if (this.opts.readonly === true && (acc !== O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) !== 0)) throw new Errno9p(EROFS);
    return nodeOpenFlags(flags) | C.O_NOFOLLOW | (C.O_NONBLOCK ?? 0); // non-blocking: opening a FIFO must not hang the host
  }

  private add(fh: fsp.FileHandle): number {
    const h = this.nextHandle++;
    this.handles.set(h, fh);
    return h;
  }

  private fh(h: number): fsp.FileHandle {
    const fh = this.handles.get(h);
    if (fh === undefined) throw new Errno9p(EBADF);
    return fh;
  }

  async open(path: string, flags: number): Promise<number> {
    const p = await this.resolve(path);
    const fh = await fsp.open(p, this.hostFlags(flags & ~O_CREAT));
    return this.add(fh);
  }

  async create(path: string, flags: number, mode: number): Promise<number> {
    this.writable();
    const p = await this.resolve(path);
    const fh = await fsp.open(p, this.hostFlags(flags | O_CREAT), mode & S_IALLUGO);
    return this.add(fh);
  }

  async read(h: number, offset: number, length: number): Promise<Uint8Array> {
    const fh = this.fh(h);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  }

  async write(h: number, offset: number, data: Uint8Array): Promise<number> {
    this.writable();
    const { bytesWritten } = await this.fh(h).write(data, 0, data.length, offset);
    return bytesWritten;
  }

  async close(h: number): Promise<void> {
    const fh = this.handles.get(h);
    this.handles.delete(h);
    if (fh !== undefined) await fh.close();
  }

  async fsync(h: number, datasync: boolean): Promise<void> {
    const fh = this.fh(h);
    if (datasync) await fh.datasync(); else await fh.sync();
  }

  async readdir(path: string): Promise<DirEntry9p[]> {
    const p = await this.resolve(path);
    const names = await fsp.readdir(p);
    const out: DirEntry9p[] = [];
    for (const name of names) {
      try {
        const s = await fsp.lstat(nodePath.join(p, name), { bigint: true });
        out.push({ name, ino: s.ino, mode: Number(s.mode) });
      } catch { /* vanished meanwhile */ }
    }
    return out;
  }

  async mkdir(path: string, mode: number): Promise<void> { this.writable(); await fsp.mkdir(await this.resolve(path), mode & S_IALLUGO); }

  async unlink(path: string, isDir: boolean): Promise<void> {
    this.writable();
    if (path === "") throw new Errno9p(EPERM);
    const p = await this.resolve(path);
    if (isDir) await fsp.rmdir(p); else await fsp.unlink(p);
  }

  async rename(from: string, to: string): Promise<void> {
    this.writable();
    if (from === "" || to === "") throw new Errno9p(EPERM);
    await fsp.rename(await this.resolve(from), await this.resolve(to));
  }

  async symlink(path: string, target: string): Promise<void> { this.writable(); await fsp.symlink(target, await this.resolve(path)); }

  async readlink(path: string): Promise<string> { return fsp.readlink(await this.resolve(path)); }

  async link(existing: string, newPath: string): Promise<void> {
    this.writable();
    await fsp.link(await this.resolve(existing), await this.resolve(newPath)); // link(2) does not follow symlinks
  }

  async mknod(path: string, mode: number, _rdev: number): Promise<void> {
    this.writable();
    const fmt = mode & S_IFMT;
    if (fmt !== 0 && fmt !== S_IFREG) throw new Errno9p(EPERM, "only regular files can be created with mknod");
    const fh = await fsp.open(await this.resolve(path), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode & S_IALLUGO);
    await fh.close();
  }

  async setattr(path: string, a: SetAttr9p): Promise<void> {
    this.writable();
    const p = await this.resolve(path);
    const st = await fsp.lstat(p);
    const isLink = st.isSymbolicLink();
    if (a.mode !== undefined && !isLink) await fsp.chmod(p, a.mode & S_IALLUGO);
    if (a.uid !== undefined || a.gid !== undefined) {
      try { await fsp.lchown(p, a.uid ?? st.uid, a.gid ?? st.gid); } catch (e) {
        // Like QEMU's security_model=none: an unprivileged host cannot give files away; ignore.
        if (!(typeof e === "object" && e !== null && "code" in e && (e as { code: string }).code === "EPERM")) throw e;
      }
    }
    if (a.size !== undefined) {
      if (!st.isFile()) throw new Errno9p(EINVAL);
      const fh = await fsp.open(p, C.O_WRONLY | C.O_NOFOLLOW);
      try { await fh.truncate(a.size); } finally { await fh.close(); }
    }
    if (a.atime !== undefined || a.mtime !== undefined) {
      const t = (v: Time9p | undefined, cur: Date): number | Date =>
        v === undefined ? cur : v === "now" ? Date.now() / 1000 : v.sec + v.nsec / 1e9;
      await fsp.lutimes(p, t(a.atime, st.atime), t(a.mtime, st.mtime));
    }
  }

  async statfs(): Promise<StatFs9p> {
    const s = await fsp.statfs(this.root);
    return { type: 0x01021997, bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, namelen: 255 };
  }

  /** Closes every open file (when the VM stops). */
  async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((fh) => fh.close().catch(() => undefined)));
  }
}

// A layered filesystem for the process VM, with Linux overlayfs semantics
// (Documentation/filesystems/overlayfs.rst): read-only lower directories (an image's layers) and
// one writable upper directory, plus volumes (host directories mounted at guest paths). It is a
// HostFs whose paths are guest paths ("/etc/passwd"), so the Vfs runs over it unchanged and does
// the symlink resolution inside the guest root; this layer only ever hands the real host an
// object that it found, component by component, with lstat — never a path through a symlink.
//
// - Lookup is top-down, one component at a time over the layers that still take part: a
//   non-directory hides everything below it, a directory merges with the directories below it
//   until one is opaque. A whiteout `.wh.NAME` hides NAME in the layers below its own; an entry
//   and its whiteout in the same layer is an entry whose lower copies are hidden (how the upper
//   says "opaque": a directory made where a lower one was removed); `.wh..wh..opq` makes a
//   directory opaque. These are the OCI layer names, plain empty files: no mknod, no xattrs.
//   Every `.wh.` name is bookkeeping, never shown, and the guest cannot create one (EPERM).
// - Writes copy the object up first (content, times, the owner and mode the guest saw; open
//   descriptors of it move to the copy, as overlayfs since Linux 4.19):
//   open for writing, truncate, chmod, chown, utimes, link, rename. unlink and rmdir of a lower
//   object leave a whiteout. A directory that has lower parts cannot be renamed: EXDEV, as
//   overlayfs without redirect_dir (mv then copies).
// - Owners, modes and device numbers come from the layer indexes (layer_index.ts); host files
//   owned by the host user show as `owner` (the guest user, or root for a container), as a
//   rootless container's user namespace maps them. chown never reaches the host.
// - st_dev is the overlay's own; st_ino is the host inode tagged with its layer (as overlayfs'
//   xino) and kept across copy-up, so an object keeps its number.
import {
  EACCES, EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENOTEMPTY, ENXIO, EPERM, EROFS, EXDEV,
  O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY, S_IALLUGO, S_IFDIR, S_IFLNK,
  S_IFMT, S_IFREG,
} from "../abi/linux.js";
import type { HostDirent, HostFs, HostStat } from "./host.js";
import { FileLayerIndex, type LayerIndex, type LayerMeta, StoreLayerIndex, UpperIndex, type UpperMeta } from "./layer_index.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_NAME = ".wh..wh..opq";
/** st_dev of every object in the overlay (an anonymous device number, as overlayfs gets one). */
export const OVERLAY_DEV = 0x30;
/** Bits of st_ino taken by the host inode; the layer number sits above (overlayfs' xino). */
const INO_BITS = 2 ** 44;
/** The most lower layers (layer numbers stay below 2^8, so st_ino below 2^52). */
export const MAX_LOWERS = 254;
const S_ISUID = 0o4000, S_ISGID = 0o2000, S_ISVTX = 0o1000, S_IXGRP = 0o010;
const R_OK = 4, W_OK = 2, X_OK = 1;
/** Linux MAXSYMLINKS. */
const MAXSYMLINKS = 40;
/** Lookups kept before the cache starts again. */
const MAX_CACHED = 200_000;
const COPY_CHUNK = 1 << 20;
const EADDRINUSE = 98;
/** Inode numbers of index-only objects: above any ext4 inode, below the layer's tag. */
const VIRTUAL_INO = 2 ** 40;

/** 32-bit FNV-1a of a path (stable inode numbers for index-only objects). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export interface OverlayLower { dir: string; index: LayerIndex | null }
export interface OverlayVolume { host: string; guest: string; readonly: boolean }
export interface Ids { uid: number; gid: number }

export interface OverlayOptions {
  /** Lower layers, lowest first (Docker's order: the base image's layer first). */
  lowers: OverlayLower[];
  /** The writable layer, or null: the overlay is read-only. */
  upper: string | null;
  volumes?: OverlayVolume[];
  /** The ids the host gives files this process creates (the host user). */
  hostIds: Ids;
  /** What host files owned by hostIds (and without an index entry) show as. */
  owner: Ids;
}

/** One layer: its top directory, its number in st_ino, its index (lowers) or nothing (the upper). */
interface Slot { dir: string; id: number; index: LayerIndex | null; upper: boolean }

/**
 * Where an object is: the slots holding it, topmost first (more than one only for a merged
 * directory); `virt`: the top one exists only in its layer's index (a symlink, device or FIFO).
 */
interface Node { slots: number[]; dir: boolean; virt: boolean }

/** A cached lookup: the node (null: nothing there) and the children looked up so far. */
interface CacheEntry { node: Node | null; children: Map<string, CacheEntry> }

interface VolumeAt { vol: OverlayVolume; host: string }

/** An open file: the host handle (replaced when the file is copied up), its guest path, its slot (-1: a volume's). */
interface HandleInfo { h: number; path: string; slot: number; vol: boolean }

function parentOf(p: string): string { const i = p.lastIndexOf("/"); return i <= 0 ? "/" : p.slice(0, i); }
function baseOf(p: string): string { return p.slice(p.lastIndexOf("/") + 1); }
function join(dir: string, name: string): string { return dir === "/" ? "/" + name : dir + "/" + name; }
const isHidden = (name: string): boolean => name.startsWith(WHITEOUT_PREFIX);

/** Unix permission check on what the guest sees (generic_permission for a caller with one group). */
export function permitted(st: HostStat, who: Ids, want: number): boolean {
  if (who.uid === 0) return (want & X_OK) === 0 || (st.mode & S_IFMT) === S_IFDIR || (st.mode & 0o111) !== 0;
  const bits = st.uid === who.uid ? st.mode >> 6 : st.gid === who.gid ? st.mode >> 3 : st.mode;
  return (bits & want & 7) === want;
}

export class OverlayFs implements HostFs {
  private readonly slots: Slot[] = [];
  private readonly upperIndex: UpperIndex | null = null;
  /** Volumes, longest guest path first (set once their mount points exist). */
  private volumes: OverlayVolume[] = [];
  private cache: CacheEntry = { node: null, children: new Map() };
  private cached = 0;
  private readonly handles = new Map<number, HandleInfo>();
  private nextHandle = 3;
  /** Names where Unix sockets were bound: the host makes them behind the cache's back. */
  private readonly sockets = new Set<string>();
  /** While the constructor makes mount points: no permission checks (the runtime makes them). */
  private setup = true;
  /** The guest's credentials (new objects get them; access and open check them). */
  creds: Ids;
  readonly dev = OVERLAY_DEV;

  /** Throws an Error with a message for an unusable configuration. */
  constructor(readonly inner: HostFs, readonly opts: OverlayOptions) {
    if (opts.lowers.length > MAX_LOWERS) throw new Error(`at most ${MAX_LOWERS} layers, got ${opts.lowers.length}`);
    if (opts.lowers.length === 0 && opts.upper === null) throw new Error("an overlay needs a layer");
    this.creds = { ...opts.owner };
    if (opts.upper !== null) {
      this.slots.push({ dir: opts.upper, id: 0, index: null, upper: true });
      const idx = new UpperIndex(inner, opts.upper);
      const err = idx.open();
      if (err !== null) throw new Error(err);
      this.upperIndex = idx;
    }
    for (let i = opts.lowers.length - 1; i >= 0; i--) this.slots.push({ dir: opts.lowers[i].dir, id: i + 1, index: opts.lowers[i].index, upper: false });
    for (const s of this.slots) {
      const st = inner.lstat(s.dir);
      if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFDIR) throw new Error(`${s.dir}: not a directory`);
    }
    this.cache.node = { slots: this.rootSlots(), dir: true, virt: false };
    // The upper's root shows the image's root (owner, mode) until the guest changes it.
    if (this.upperIndex !== null && this.slots.length > 1) {
      const st = inner.lstat(opts.upper ?? "");
      if (typeof st !== "number" && this.upperIndex.get(st.ino) === undefined) {
        const low = this.statIn(1, "/");
        if (typeof low !== "number") this.upperIndex.set(st.ino, { path: "/", uid: low.uid, gid: low.gid, mode: low.mode, origin: low.ino });
      }
    }
    const volumes = [...(opts.volumes ?? [])].sort((a, b) => b.guest.length - a.guest.length);
    for (const v of volumes) {
      if (!v.guest.startsWith("/") || v.guest === "/" || v.guest.split("/").some((c, i) => i > 0 && (c === "" || c === "." || c === ".."))) {
        throw new Error(`volume ${v.host}:${v.guest}: the guest path must be absolute and normalized`);
      }
      const st = inner.stat(v.host);
      if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFDIR) throw new Error(`volume ${v.host}: not a directory`);
    }
    // Mount points are made in the container's filesystem (as Docker does), outermost first.
    for (const v of [...volumes].reverse()) {
      const err = this.mkdirs(v.guest);
      if (err < 0) throw new Error(`volume ${v.host}:${v.guest}: cannot make the mount point (errno ${-err})`);
    }
    this.volumes = volumes;
    this.setup = false;
  }

  /**
   * A lower layer for `--layer DIR`: a layer of the image store (DIR/root/ with DIR/index.json,
   * StoreLayerIndex), or a plain directory with an optional DIR/.wh..wh.rvisor-index (FileLayerIndex).
   */
  static lower(inner: HostFs, dir: string): OverlayLower | string {
    const root = inner.lstat(dir + "/root"), doc = inner.lstat(dir + "/index.json");
    if (typeof root !== "number" && (root.mode & S_IFMT) === S_IFDIR && typeof doc !== "number" && (doc.mode & S_IFMT) === S_IFREG) {
      const idx = StoreLayerIndex.load(inner, dir);
      return typeof idx === "string" ? idx : { dir: dir + "/root", index: idx };
    }
    const idx = FileLayerIndex.load(inner, dir);
    return typeof idx === "string" ? idx : { dir, index: idx };
  }

  /** Closes the upper index (at exit). */
  shutdown(): void { this.upperIndex?.close(); }

  private rootSlots(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      out.push(i);
      if (this.isOpaque(i, "/")) break;
    }
    return out;
  }

  private hostPath(slot: number, path: string): string { return path === "/" ? this.slots[slot].dir : this.slots[slot].dir + path; }
  private get hasUpper(): boolean { return this.upperIndex !== null; }

  private exists(hp: string): boolean { return typeof this.inner.lstat(hp) !== "number"; }
  private isOpaque(slot: number, dir: string): boolean {
    return this.slots[slot].index?.isOpaque?.(dir) === true || this.exists(this.hostPath(slot, join(dir, OPAQUE_NAME)));
  }
  private isWhiteout(slot: number, dir: string, name: string): boolean {
    return this.slots[slot].index?.isWhiteout?.(join(dir, name)) === true || this.exists(this.hostPath(slot, join(dir, WHITEOUT_PREFIX + name)));
  }
  /** An index-only object of a lower layer at `path`. */
  private virtualAt(slot: number, path: string): LayerMeta | undefined {
    const m = this.slots[slot].index?.get(path);
    return m?.virtual === true ? m : undefined;
  }

  // ------------------------------------------------------------------ lookup

  /** The volume `path` is in (its host path), or null. */
  private volumeAt(path: string): VolumeAt | null {
    for (const v of this.volumes) {
      if (path === v.guest) return { vol: v, host: v.host };
      if (path.startsWith(v.guest + "/")) return { vol: v, host: v.host + path.slice(v.guest.length) };
    }
    return null;
  }

  /** Looks up the child `name` of directory `parent` (at `ppath`) over its slots. */
  private child(parent: Node, ppath: string, name: string): Node | null | number {
    const path = join(ppath, name);
    const slots: number[] = [];
    let dir = false, virt = false;
    for (const s of parent.slots) {
      const st = this.inner.lstat(this.hostPath(s, path));
      const wh = this.isWhiteout(s, ppath, name);
      if (typeof st === "number") {
        if (st !== -ENOENT) return st;
        // An index-only object is a non-directory: it hides what is below it, and ends a merge.
        if (this.virtualAt(s, path) !== undefined) {
          if (slots.length === 0) { slots.push(s); virt = true; }
          break;
        }
      } else {
        const isDir = (st.mode & S_IFMT) === S_IFDIR;
        // A non-directory hides what is below it; a directory merges with directories below.
        if (slots.length === 0) dir = isDir;
        else if (!isDir) break;
        slots.push(s);
        if (!isDir || this.isOpaque(s, path)) break;
      }
      if (wh) break;
    }
    return slots.length === 0 ? null : { slots, dir, virt };
  }

  /** The node at normalized guest path `path` (not in a volume): ENOENT, ENOTDIR for a non-directory on the way. */
  private node(path: string): Node | number {
    let e = this.cache;
    if (path === "/") return e.node as Node;
    let p = "/";
    for (const name of path.slice(1).split("/")) {
      if (isHidden(name) || name === "" || name === "." || name === "..") return -ENOENT;
      const n = e.node;
      if (n === null) return -ENOENT;
      if (!n.dir) return -ENOTDIR;
      let c = e.children.get(name);
      if (c === undefined) {
        const r = this.child(n, p, name);
        if (typeof r === "number") return r;
        c = { node: r, children: new Map() };
        if (r !== null || !this.sockets.has(join(p, name))) {
          if (++this.cached > MAX_CACHED) { this.flushCache(); return this.node(path); }
          e.children.set(name, c);
        }
      }
      e = c;
      p = join(p, name);
    }
    return e.node ?? -ENOENT;
  }

  private flushCache(): void {
    this.cache = { node: { slots: this.rootSlots(), dir: true, virt: false }, children: new Map() };
    this.cached = 0;
  }

  /** Forgets what is cached for `path` and below (after the layers changed there). */
  private invalidate(path: string): void {
    if (path === "/") { this.flushCache(); return; }
    let e = this.cache;
    const parts = path.slice(1).split("/");
    for (let i = 0; i < parts.length - 1; i++) {
      const c = e.children.get(parts[i]);
      if (c === undefined) return;
      e = c;
    }
    e.children.delete(parts[parts.length - 1]);
  }

  /** Whether a lower layer below the upper has `name` in directory `ppath` (visible, not whited out by the upper). */
  private lowerHas(ppath: string, name: string): boolean {
    const parent = this.node(ppath);
    if (typeof parent === "number") return false;
    for (const s of parent.slots) {
      if (this.slots[s].upper) { if (this.isWhiteout(s, ppath, name)) return false; continue; }
      const cp = join(ppath, name);
      if (this.exists(this.hostPath(s, cp)) || this.virtualAt(s, cp) !== undefined) return true;
      if (this.isWhiteout(s, ppath, name)) return false;
    }
    return false;
  }

  // ------------------------------------------------------------------ what the guest sees

  private meta(slot: number, path: string, hostIno: number): LayerMeta | UpperMeta | undefined {
    const s = this.slots[slot];
    return s.upper ? this.upperIndex?.get(hostIno) : s.index?.get(path);
  }

  private virtualIno(slot: number, hostIno: number): number {
    return this.slots[slot].id * INO_BITS + (hostIno % INO_BITS);
  }

  /** The host stat as the guest sees it: owner, mode and rdev from the index, the overlay's dev, a stable ino. */
  private present(slot: number, path: string, st: HostStat): HostStat {
    const m = this.meta(slot, path, st.ino);
    const v = { ...st };
    v.dev = this.dev;
    v.ino = m !== undefined && "origin" in m && m.origin !== undefined ? m.origin : this.virtualIno(slot, st.ino);
    this.mapOwner(v, m);
    return v;
  }

  private mapOwner(v: HostStat, m: LayerMeta | undefined): void {
    const { hostIds, owner } = this.opts;
    v.uid = m?.uid ?? (v.uid === hostIds.uid ? owner.uid : v.uid);
    v.gid = m?.gid ?? (v.gid === hostIds.gid ? owner.gid : v.gid);
    if (m?.mode !== undefined) v.mode = (m.mode & S_IFMT) !== 0 ? m.mode : (v.mode & S_IFMT) | (m.mode & S_IALLUGO);
    if (m?.rdev !== undefined) v.rdev = m.rdev;
    if (m?.mtime !== undefined) { v.mtimeSec = m.mtime; v.mtimeNsec = 0; }
  }

  /** The stat of an index-only object: its layer's top directory's, with the index's type, owner and mode. */
  private virtualStat(slot: number, path: string, m: LayerMeta): HostStat | number {
    const st = this.inner.lstat(this.slots[slot].dir);
    if (typeof st === "number") return st;
    const v = { ...st };
    v.dev = this.dev;
    v.ino = this.slots[slot].id * INO_BITS + VIRTUAL_INO + fnv1a(path);
    v.nlink = 1;
    v.size = m.link !== undefined ? new TextEncoder().encode(m.link).length : 0;
    v.blocks = 0;
    this.mapOwner(v, m);
    return v;
  }

  /** The stat of the top of node `n` at `path`. */
  private statNode(n: Node, path: string): HostStat | number {
    const s = n.slots[0];
    if (n.virt) {
      const m = this.virtualAt(s, path);
      return m === undefined ? -ENOENT : this.virtualStat(s, path, m);
    }
    const st = this.statIn(s, path);
    // overlayfs: a merged directory's link count is 1 (it cannot be known without listing every layer).
    if (typeof st !== "number" && n.slots.length > 1) st.nlink = 1;
    return st;
  }

  private statIn(slot: number, path: string): HostStat | number {
    const st = this.inner.lstat(this.hostPath(slot, path));
    return typeof st === "number" ? st : this.present(slot, path, st);
  }

  lstat(path: string): HostStat | number {
    const va = this.volumeAt(path);
    if (va !== null) {
      const st = this.inner.lstat(va.host);
      if (typeof st !== "number") this.mapOwner(st, undefined);
      return st;
    }
    const n = this.node(path);
    return typeof n === "number" ? n : this.statNode(n, path);
  }

  /** `path` with its final symlinks followed (inside the overlay). */
  private follow(path: string): string | number {
    for (let i = 0; i <= MAXSYMLINKS; i++) {
      const st = this.lstat(path);
      if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFLNK) return path;
      const t = this.readlink(path);
      if (typeof t === "number") return t;
      const parts = (t.startsWith("/") ? t : parentOf(path) + "/" + t).split("/");
      const out: string[] = [];
      for (const c of parts) { if (c === "" || c === ".") continue; if (c === "..") out.pop(); else out.push(c); }
      path = "/" + out.join("/");
    }
    return -ELOOP;
  }

  stat(path: string): HostStat | number {
    const p = this.follow(path);
    return typeof p === "number" ? p : this.lstat(p);
  }

  readlink(path: string): string | number {
    const va = this.volumeAt(path);
    if (va !== null) return this.inner.readlink(va.host);
    const n = this.node(path);
    if (typeof n === "number") return n;
    if (n.virt) {
      const m = this.virtualAt(n.slots[0], path);
      return m?.link ?? -EINVAL;
    }
    return this.inner.readlink(this.hostPath(n.slots[0], path));
  }

  access(path: string, mode: number): number {
    const st = this.stat(path);
    if (typeof st === "number") return st;
    return permitted(st, this.creds, mode) ? 0 : -EACCES;
  }

  // ------------------------------------------------------------------ copy-up

  /** Makes `path` and its parents exist in the upper (copied up); returns the upper host path. */
  private copyUp(path: string): string | number {
    if (!this.hasUpper) return -EROFS;
    const n = this.node(path);
    if (typeof n === "number") return n;
    const dst = this.hostPath(0, path);
    if (this.slots[n.slots[0]].upper) return dst;
    const pr = this.copyUp(parentOf(path));
    if (typeof pr === "number") return pr;
    const slot = n.slots[0];
    const src = this.hostPath(slot, path);
    const v = this.statNode(n, path);
    if (typeof v === "number") return v;
    // What the guest saw decides (an index-only symlink is made one; a device or FIFO becomes a placeholder file).
    const type = v.mode & S_IFMT;
    let r: number;
    if (type === S_IFDIR) r = this.inner.mkdir(dst, 0o700);
    else if (type === S_IFLNK) {
      const t = this.readlink(path);
      r = typeof t === "number" ? t : this.inner.symlink(t, dst);
    } else r = this.copyFile(type === S_IFREG && !n.virt ? src : null, dst, pr, v.ino);
    if (r < 0) return r;
    if (type !== S_IFLNK) this.inner.chmod(dst, hostMode(v.mode));
    this.inner.lutimes(dst, v.atimeSec + v.atimeNsec / 1e9, v.mtimeSec + v.mtimeNsec / 1e9);
    const up = this.inner.lstat(dst);
    if (typeof up !== "number") this.upperIndex?.set(up.ino, { path, uid: v.uid, gid: v.gid, mode: v.mode, rdev: v.rdev, origin: v.ino });
    this.invalidate(path);
    if (type === S_IFREG || type === S_IFDIR) this.moveHandles(path, dst, type === S_IFDIR);
    return dst;
  }

  /** Copies a regular file's content (src null: an empty placeholder) through a hidden temporary name, then renames it to dst. */
  private copyFile(src: string | null, dst: string, dir: string, ino: number): number {
    // A short hidden name (the object's number, not its name: that may already be NAME_MAX long).
    const tmp = dir + "/" + WHITEOUT_PREFIX + WHITEOUT_PREFIX + "copyup-" + ino.toString(36);
    const w = this.inner.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
    if (w < 0) return w;
    let r = 0;
    if (src !== null) {
      const h = this.inner.open(src, O_RDONLY | O_NOFOLLOW, 0);
      if (h < 0) r = h;
      else {
        const buf = new Uint8Array(COPY_CHUNK);
        for (let off = 0; ;) {
          const n = this.inner.read(h, buf, off);
          if (n < 0) { r = n; break; }
          if (n === 0) break;
          for (let done = 0; done < n;) {
            const m = this.inner.write(w, buf.subarray(done, n), off + done);
            if (m < 0) { r = m; break; }
            done += m;
          }
          if (r < 0) break;
          off += n;
        }
        this.inner.close(h);
      }
    }
    this.inner.close(w);
    if (r === 0) r = this.inner.rename(tmp, dst);
    if (r < 0) this.inner.unlink(tmp);
    return r;
  }

  /** mkdir -p of `path` in the merged view (mount points). */
  private mkdirs(path: string): number {
    const n = this.node(path);
    if (typeof n !== "number") return n.dir ? 0 : -ENOTDIR;
    if (n !== -ENOENT) return n;
    const r = this.mkdirs(parentOf(path));
    if (r < 0) return r;
    return this.mkdir(path, 0o755);
  }

  /** Records the owner (the guest's ids) and mode of an object just made in the upper. */
  private recordNew(path: string, mode: number | null): void {
    const hp = this.hostPath(0, path);
    const st = this.inner.lstat(hp);
    if (typeof st === "number" || this.upperIndex === null) return;
    const shown = { ...st };
    this.mapOwner(shown, undefined);
    const m: UpperMeta = { path };
    if (shown.uid !== this.creds.uid) m.uid = this.creds.uid;
    if (shown.gid !== this.creds.gid) m.gid = this.creds.gid;
    if (mode !== null && (st.mode & S_IALLUGO) !== (mode & S_IALLUGO)) {
      m.mode = (st.mode & S_IFMT) | (mode & S_IALLUGO);
      this.inner.chmod(hp, hostMode(m.mode));
    }
    if (m.uid !== undefined || m.gid !== undefined || m.mode !== undefined) this.upperIndex.set(st.ino, m);
  }

  /** Sets what the index says about the upper object at host path hp (merged with what it said). */
  private updateMeta(path: string, hp: string, change: LayerMeta): number {
    const st = this.inner.lstat(hp);
    if (typeof st === "number") return st;
    const idx = this.upperIndex;
    if (idx === null) return -EROFS;
    const old = idx.get(st.ino);
    const shown = this.present(0, path, st);
    idx.set(st.ino, { ...old, path, uid: change.uid ?? shown.uid, gid: change.gid ?? shown.gid, mode: change.mode ?? shown.mode });
    return 0;
  }

  /** Makes a whiteout for `name` in the upper directory `ppath` (copied up first). */
  private whiteout(ppath: string, name: string): number {
    const d = this.copyUp(ppath);
    if (typeof d === "number") return d;
    const hp = d + "/" + WHITEOUT_PREFIX + name;
    if (this.exists(hp)) return 0;
    const h = this.inner.open(hp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    if (h < 0) return h;
    this.inner.close(h);
    return 0;
  }

  /** Removes the bookkeeping files (whiteouts) of an upper directory that is empty to the guest. */
  private clearDir(hp: string): number {
    const list = this.inner.readdir(hp);
    if (typeof list === "number") return list;
    for (const e of list) {
      if (!isHidden(e.name)) return -ENOTEMPTY;
      const r = this.inner.unlink(hp + "/" + e.name);
      if (r < 0) return r;
    }
    return 0;
  }

  /**
   * may_delete (fs/namei.c) for the guest's credentials: write and search permission on the
   * parent, and in a sticky directory only the file's or the directory's owner (or root).
   */
  private mayDelete(ppath: string, victim: HostStat): number {
    const p = this.lstat(ppath);
    if (typeof p === "number") return p;
    if (!permitted(p, this.creds, W_OK | X_OK)) return -EACCES;
    const uid = this.creds.uid;
    if ((p.mode & S_ISVTX) !== 0 && uid !== 0 && uid !== victim.uid && uid !== p.uid) return -EPERM;
    return 0;
  }

  /** The checks of a name about to be made: it must not exist, its parent must be a directory, and the name may not be a `.wh.` one. */
  private creatable(path: string): number {
    if (isHidden(baseOf(path))) return -EPERM;
    const n = this.node(path);
    if (typeof n !== "number") return -EEXIST;
    if (n !== -ENOENT) return n;
    const p = this.node(parentOf(path));
    if (typeof p === "number") return p;
    if (!p.dir) return -ENOTDIR;
    if (!this.hasUpper) return -EROFS;
    return this.setup ? 0 : this.parentWritable(parentOf(path));
  }

  /** Write and search permission on directory `dir` for the guest's credentials. */
  private parentWritable(dir: string): number {
    const st = this.lstat(dir);
    if (typeof st === "number") return st;
    return permitted(st, this.creds, W_OK | X_OK) ? 0 : -EACCES;
  }

  // ------------------------------------------------------------------ files

  open(path: string, flags: number, mode: number): number {
    const va = this.volumeAt(path);
    if (va !== null) {
      if (va.vol.readonly && ((flags & O_ACCMODE) !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)) !== 0)) {
        return (flags & O_CREAT) === 0 && !this.exists(va.host) ? -ENOENT : -EROFS;
      }
      return this.register(this.inner.open(va.host, flags | O_NOFOLLOW, mode), path, -1, true);
    }
    const n = this.node(path);
    if (typeof n === "number") {
      if (n !== -ENOENT || (flags & O_CREAT) === 0) return n;
      const c = this.creatable(path);
      if (c < 0) return c;
      const pd = this.copyUp(parentOf(path));
      if (typeof pd === "number") return pd;
      const hp = this.hostPath(0, path);
      const h = this.inner.open(hp, flags | O_EXCL | O_NOFOLLOW, hostMode(S_IFREG | mode));
      if (h < 0) return h;
      this.invalidate(path);
      this.recordNew(path, mode);
      return this.register(h, path, 0, false);
    }
    if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -EEXIST;
    const acc = flags & O_ACCMODE;
    const writing = acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
    const st = this.statNode(n, path);
    if (typeof st === "number") return st;
    const type = st.mode & S_IFMT;
    // Device nodes and FIFOs of an image are names only here (the kernel's own /dev is synthetic).
    if (type !== S_IFREG && type !== S_IFDIR && type !== S_IFLNK) return -ENXIO;
    const want = (acc === O_RDONLY ? R_OK : acc === O_WRONLY ? W_OK : R_OK | W_OK) | ((flags & O_TRUNC) !== 0 ? W_OK : 0);
    if (!permitted(st, this.creds, want)) return -EACCES;
    if (n.dir) {
      if (writing) return -EISDIR;
      return this.register(this.inner.open(this.hostPath(n.slots[0], path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0), path, n.slots[0], false);
    }
    if ((flags & O_DIRECTORY) !== 0) return -ENOTDIR;
    let slot = n.slots[0];
    // Whatever the type, a lower object is never opened for writing: it is copied up first.
    if (writing) {
      const up = this.copyUp(path);
      if (typeof up === "number") return up;
      slot = 0;
    }
    return this.register(this.inner.open(this.hostPath(slot, path), (flags & ~(O_CREAT | O_EXCL)) | O_NOFOLLOW, 0), path, slot, false);
  }

  /**
   * The overlay's own handle numbers, each naming a host handle: when a file open on a lower
   * layer is copied up, its descriptors move to the copy (as overlayfs since Linux 4.19), so a
   * reader sees what a writer wrote.
   */
  private register(h: number, path: string, slot: number, vol: boolean): number {
    if (h < 0) return h;
    const id = this.nextHandle++;
    this.handles.set(id, { h, path, slot, vol });
    return id;
  }

  /** Moves the handles open on the lower object at `path` to its upper copy at host path `dst`. */
  private moveHandles(path: string, dst: string, dir: boolean): void {
    for (const info of this.handles.values()) {
      if (info.vol || info.slot === 0 || info.path !== path) continue;
      const h = this.inner.open(dst, O_RDONLY | O_NOFOLLOW | (dir ? O_DIRECTORY : 0), 0);
      if (h < 0) continue;
      this.inner.close(info.h);
      info.h = h;
      info.slot = 0;
    }
  }

  private hostHandle(h: number): number { return this.handles.get(h)?.h ?? -1; }

  close(h: number): void {
    const info = this.handles.get(h);
    if (info === undefined) return;
    this.handles.delete(h);
    this.inner.close(info.h);
  }
  read(h: number, buf: Uint8Array, pos: number | null): number { const x = this.hostHandle(h); return x < 0 ? -EBADF : this.inner.read(x, buf, pos); }
  write(h: number, buf: Uint8Array, pos: number | null): number { const x = this.hostHandle(h); return x < 0 ? -EBADF : this.inner.write(x, buf, pos); }
  ftruncate(h: number, len: number): number { const x = this.hostHandle(h); return x < 0 ? -EBADF : this.inner.ftruncate(x, len); }
  fsync(h: number): number { const x = this.hostHandle(h); return x < 0 ? -EBADF : this.inner.fsync(x); }

  fstat(h: number): HostStat | number {
    const info = this.handles.get(h);
    if (info === undefined) return -EBADF;
    const st = this.inner.fstat(info.h);
    if (typeof st === "number") return st;
    if (info.vol) { this.mapOwner(st, undefined); return st; }
    return this.present(info.slot, info.path, st);
  }

  /** fchmod/fchown/futimes: on the object the handle's path names now (copied up), as a path call. */
  private handlePath(h: number): HandleInfo | number {
    const info = this.handles.get(h);
    return info === undefined ? -EBADF : info;
  }

  fchmod(h: number, mode: number): number {
    const info = this.handlePath(h);
    if (typeof info === "number") return info;
    return info.vol ? this.inner.fchmod(info.h, mode) : this.chmodAt(info.path, mode);
  }

  fchown(h: number, uid: number, gid: number): number {
    const info = this.handlePath(h);
    if (typeof info === "number") return info;
    return info.vol ? this.inner.fchown(info.h, uid, gid) : this.lchown(info.path, uid, gid);
  }

  futimes(h: number, atime: number | null, mtime: number | null): number {
    const info = this.handlePath(h);
    if (typeof info === "number") return info;
    if (info.vol || info.slot === 0) return this.inner.futimes(info.h, atime, mtime);
    return this.lutimes(info.path, atime, mtime);
  }

  // ------------------------------------------------------------------ directories

  readdir(path: string): HostDirent[] | number {
    const va = this.volumeAt(path);
    if (va !== null) return this.inner.readdir(va.host);
    const n = this.node(path);
    if (typeof n === "number") return n;
    if (!n.dir) return -ENOTDIR;
    const seen = new Set<string>();
    const gone = new Set<string>();
    const out: HostDirent[] = [];
    const above: number[] = [];
    // Whited out by a layer above (a .wh. file, or the layer's index).
    const hidden = (name: string, cp: string): boolean => gone.has(name) || above.some((a) => this.slots[a].index?.isWhiteout?.(cp) === true);
    for (const s of n.slots) {
      const list = this.inner.readdir(this.hostPath(s, path));
      if (typeof list === "number") return list;
      for (const e of list) {
        const cp = join(path, e.name);
        if (isHidden(e.name) || seen.has(e.name) || hidden(e.name, cp)) continue;
        seen.add(e.name);
        const m = this.meta(s, cp, e.ino);
        const ino = m !== undefined && "origin" in m && m.origin !== undefined ? m.origin : this.virtualIno(s, e.ino);
        const type = m?.mode !== undefined && (m.mode & S_IFMT) !== 0 ? (m.mode & S_IFMT) >> 12 : e.type;
        out.push({ name: e.name, ino, type });
      }
      for (const name of this.slots[s].index?.virtualChildren?.(path) ?? []) {
        const cp = join(path, name);
        const m = this.virtualAt(s, cp);
        if (m === undefined || isHidden(name) || seen.has(name) || hidden(name, cp)) continue;
        seen.add(name);
        const v = this.virtualStat(s, cp, m);
        if (typeof v !== "number") out.push({ name, ino: v.ino, type: (v.mode & S_IFMT) >> 12 });
      }
      for (const e of list) if (isHidden(e.name) && e.name !== OPAQUE_NAME) gone.add(e.name.slice(WHITEOUT_PREFIX.length));
      above.push(s);
    }
    return out;
  }

  readdirHandle(h: number): HostDirent[] | number {
    const info = this.handles.get(h);
    if (info === undefined) return -EBADF;
    return info.vol ? this.inner.readdirHandle(info.h) : this.readdir(info.path);
  }

  mkdir(path: string, mode: number): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : path === va.vol.guest ? -EEXIST : this.inner.mkdir(va.host, mode);
    const c = this.creatable(path);
    if (c < 0) return c;
    const pd = this.copyUp(parentOf(path));
    if (typeof pd === "number") return pd;
    const r = this.inner.mkdir(this.hostPath(0, path), hostMode(S_IFDIR | mode));
    if (r < 0) return r;
    this.invalidate(path);
    this.recordNew(path, mode);
    return 0;
  }

  /** 0 when `path` (found as `n`) may be removed: an upper exists, and the directory's permissions and sticky bit allow it. */
  private deleteDenied(n: Node, path: string): number {
    if (!this.hasUpper) return -EROFS;
    const vst = this.statNode(n, path);
    if (typeof vst === "number") return vst;
    return Math.min(0, this.mayDelete(parentOf(path), vst));
  }

  rmdir(path: string): number {
    if (path === "/") return -EBUSY;
    const va = this.volumeAt(path);
    if (va !== null) return path === va.vol.guest ? -EBUSY : va.vol.readonly ? -EROFS : this.inner.rmdir(va.host);
    if (this.volumes.some((v) => v.guest.startsWith(path + "/"))) return -EBUSY;
    const n = this.node(path);
    if (typeof n === "number") return n;
    if (!n.dir) return -ENOTDIR;
    const denied = this.deleteDenied(n, path);
    if (denied < 0) return denied;
    const ppath = parentOf(path), name = baseOf(path);
    const list = this.readdir(path);
    if (typeof list === "number") return list;
    if (list.length > 0) return -ENOTEMPTY;
    const lower = n.slots.length > 1 || !this.slots[n.slots[0]].upper || this.lowerHas(ppath, name);
    if (this.slots[n.slots[0]].upper) {
      const hp = this.hostPath(0, path);
      const st = this.inner.lstat(hp);
      let r = this.clearDir(hp);
      if (r === 0) r = this.inner.rmdir(hp);
      if (r < 0) return r;
      if (typeof st !== "number") this.upperIndex?.delete(st.ino);
    }
    this.invalidate(path);
    return lower ? this.whiteout(ppath, name) : 0;
  }

  unlink(path: string): number {
    const va = this.volumeAt(path);
    if (va !== null) return path === va.vol.guest ? -EBUSY : va.vol.readonly ? -EROFS : this.inner.unlink(va.host);
    const n = this.node(path);
    if (typeof n === "number") return n;
    if (n.dir) return -EISDIR;
    const denied = this.deleteDenied(n, path);
    if (denied < 0) return denied;
    const ppath = parentOf(path), name = baseOf(path);
    const upper = this.slots[n.slots[0]].upper;
    const lower = !upper || this.lowerHas(ppath, name);
    if (upper) {
      const hp = this.hostPath(0, path);
      const st = this.inner.lstat(hp);
      const r = this.inner.unlink(hp);
      if (r < 0) return r;
      if (typeof st !== "number" && st.nlink <= 1) this.upperIndex?.delete(st.ino);
    }
    this.invalidate(path);
    return lower ? this.whiteout(ppath, name) : 0;
  }

  rename(from: string, to: string): number {
    const va = this.volumeAt(from), vb = this.volumeAt(to);
    if (va !== null || vb !== null) {
      if (va === null || vb === null || va.vol !== vb.vol) return -EXDEV;
      if (from === va.vol.guest || to === vb.vol.guest) return -EBUSY;
      return va.vol.readonly ? -EROFS : this.inner.rename(va.host, vb.host);
    }
    if (from === "/" || to === "/") return -EBUSY;
    if (this.volumes.some((v) => v.guest.startsWith(from + "/") || v.guest.startsWith(to + "/"))) return -EBUSY;
    const na = this.node(from);
    if (typeof na === "number") return na;
    if (from === to) return 0;
    // rename(2): a directory cannot become a subdirectory of itself.
    if (to.startsWith(from + "/")) return -EINVAL;
    if (isHidden(baseOf(to))) return -EPERM;
    const nb = this.node(to);
    if (typeof nb === "number" && nb !== -ENOENT) return nb;
    if (!this.hasUpper) return -EROFS;
    const pb = this.node(parentOf(to));
    if (typeof pb === "number") return pb;
    if (!pb.dir) return -ENOTDIR;
    const fromP = parentOf(from), fromN = baseOf(from), toP = parentOf(to), toN = baseOf(to);
    const sa = this.statNode(na, from);
    if (typeof sa === "number") return sa;
    let perm = this.mayDelete(fromP, sa);
    if (perm === 0) {
      const sb = typeof nb === "number" ? null : this.statNode(nb, to);
      if (typeof sb === "number") return sb;
      perm = sb !== null ? this.mayDelete(toP, sb) : this.parentWritable(toP);
    }
    if (perm < 0) return perm;
    if (na.dir && (na.slots.length > 1 || !this.slots[na.slots[0]].upper || this.lowerHas(fromP, fromN))) return -EXDEV;
    if (typeof nb !== "number") {
      if (na.dir && !nb.dir) return -ENOTDIR;
      if (!na.dir && nb.dir) return -EISDIR;
      if (nb.dir) {
        const list = this.readdir(to);
        if (typeof list === "number") return list;
        if (list.length > 0) return -ENOTEMPTY;
      }
      if (from.startsWith(to + "/")) return -ENOTEMPTY;
    }
    const src = this.copyUp(from);
    if (typeof src === "number") return src;
    const dp = this.copyUp(toP);
    if (typeof dp === "number") return dp;
    const dst = dp + "/" + toN;
    if (typeof nb !== "number" && nb.dir && this.slots[nb.slots[0]].upper) {
      const r = this.clearDir(dst);
      if (r < 0) return r;
    }
    const lowerFrom = this.lowerHas(fromP, fromN);
    const lowerTo = na.dir && this.lowerHas(toP, toN);
    const replaced = typeof nb !== "number" && this.slots[nb.slots[0]].upper ? this.inner.lstat(dst) : -ENOENT;
    const r = this.inner.rename(src, dst);
    if (r < 0) return r;
    if (typeof replaced !== "number" && (replaced.nlink <= 1 || (replaced.mode & S_IFMT) === S_IFDIR)) this.upperIndex?.delete(replaced.ino);
    this.upperIndex?.rename(from, to);
    for (const info of this.handles.values()) {
      if (info.path === from || info.path.startsWith(from + "/")) info.path = to + info.path.slice(from.length);
    }
    this.invalidate(from);
    this.invalidate(to);
    // The source's lower copy stays hidden; a directory moved over a lower one must not merge with it.
    let w = lowerFrom ? this.whiteout(fromP, fromN) : 0;
    if (w === 0 && lowerTo) w = this.whiteout(toP, toN);
    this.invalidate(to);
    return w;
  }

  symlink(target: string, path: string): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : this.inner.symlink(target, va.host);
    const c = this.creatable(path);
    if (c < 0) return c;
    const pd = this.copyUp(parentOf(path));
    if (typeof pd === "number") return pd;
    const r = this.inner.symlink(target, this.hostPath(0, path));
    if (r < 0) return r;
    this.invalidate(path);
    this.recordNew(path, null);
    return 0;
  }

  link(from: string, to: string): number {
    const va = this.volumeAt(from), vb = this.volumeAt(to);
    if (va !== null || vb !== null) {
      if (va === null || vb === null || va.vol !== vb.vol) return -EXDEV;
      return va.vol.readonly ? -EROFS : this.inner.link(va.host, vb.host);
    }
    const na = this.node(from);
    if (typeof na === "number") return na;
    if (na.dir) return -EPERM;
    const c = this.creatable(to);
    if (c < 0) return c;
    const src = this.copyUp(from);
    if (typeof src === "number") return src;
    const dp = this.copyUp(parentOf(to));
    if (typeof dp === "number") return dp;
    const r = this.inner.link(src, dp + "/" + baseOf(to));
    if (r === 0) this.invalidate(to);
    return r;
  }

  // ------------------------------------------------------------------ attributes

  /** chmod follows a final symlink (HostFs.chmod). */
  chmod(path: string, mode: number): number {
    const p = this.follow(path);
    return typeof p === "number" ? p : this.chmodAt(p, mode);
  }

  private chmodAt(path: string, mode: number): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : this.inner.chmod(va.host, mode);
    const st = this.lstat(path);
    if (typeof st === "number") return st;
    if (this.creds.uid !== 0 && this.creds.uid !== st.uid) return -EPERM;
    const hp = this.copyUp(path);
    if (typeof hp === "number") return hp;
    const full = (st.mode & S_IFMT) | (mode & S_IALLUGO);
    const r = this.inner.chmod(hp, hostMode(full));
    if (r < 0) return r;
    return this.updateMeta(path, hp, { mode: full });
  }

  /** chown as Linux's chown_ok/chgrp_ok for the guest's credentials; recorded in the index only. */
  lchown(path: string, uid: number, gid: number): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : this.inner.lchown(va.host, uid, gid);
    const st = this.lstat(path);
    if (typeof st === "number") return st;
    const root = this.creds.uid === 0, own = this.creds.uid === st.uid;
    const nu = uid === -1 ? st.uid : uid >>> 0, ng = gid === -1 ? st.gid : gid >>> 0;
    if (uid !== -1 && !root && !(own && nu === st.uid)) return -EPERM;
    if (gid !== -1 && !root && !(own && (ng === st.gid || ng === this.creds.gid))) return -EPERM;
    const hp = this.copyUp(path);
    if (typeof hp === "number") return hp;
    let mode = st.mode;
    // chown_common: a changed non-directory loses set-user-ID, and set-group-ID when group-executable.
    if ((uid !== -1 || gid !== -1) && (st.mode & S_IFMT) !== S_IFDIR && (st.mode & S_IFMT) !== S_IFLNK) {
      mode &= ~S_ISUID;
      if ((mode & S_IXGRP) !== 0) mode &= ~S_ISGID;
    }
    return this.updateMeta(path, hp, { uid: nu, gid: ng, mode });
  }

  lutimes(path: string, atime: number | null, mtime: number | null): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : this.inner.lutimes(va.host, atime, mtime);
    const hp = this.copyUp(path);
    return typeof hp === "number" ? hp : this.inner.lutimes(hp, atime, mtime);
  }

  truncate(path: string, len: number): number {
    const va = this.volumeAt(path);
    if (va !== null) return va.vol.readonly ? -EROFS : this.inner.truncate(va.host, len);
    const st = this.lstat(path);
    if (typeof st === "number") return st;
    if (!permitted(st, this.creds, W_OK)) return -EACCES;
    const hp = this.copyUp(path);
    return typeof hp === "number" ? hp : this.inner.truncate(hp, len);
  }

  /**
   * The host path where a Unix socket named `path` lives: for bind, its place in the upper
   * layer (or a volume); for connect, where the object is. Never a path outside the layers.
   */
  socketPath(path: string, bind: boolean): string | number {
    const va = this.volumeAt(path);
    if (va !== null) return bind && va.vol.readonly ? -EROFS : va.host;
    if (!bind) {
      this.invalidate(path);
      const n = this.node(path);
      return typeof n === "number" ? n : this.hostPath(n.slots[0], path);
    }
    const c = this.creatable(path);
    if (c < 0) return c === -EEXIST ? -EADDRINUSE : c;
    const pd = this.copyUp(parentOf(path));
    if (typeof pd === "number") return pd;
    // The host makes the socket file later (when it listens): never cache this name as missing.
    this.invalidate(path);
    this.sockets.add(path);
    return pd + "/" + baseOf(path);
  }
}

/** The host mode of an upper object: the guest's bits, plus what the host user needs to keep using it. */
function hostMode(mode: number): number {
  return (mode & S_IALLUGO) | ((mode & S_IFMT) === S_IFDIR ? 0o700 : 0o600);
}

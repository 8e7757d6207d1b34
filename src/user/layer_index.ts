// The side index of a layer: the owner, mode and device number that an unprivileged host cannot
// give its files (an image's root-owned files, device nodes unpacked as empty placeholders), kept
// beside the files and read through the host interface.
//
// File format (one JSON object a line, in the layer's top directory as `.wh..wh.rvisor-index`,
// a name the overlay never shows — OCI reserves every `.wh.` name):
//   {"rvisorLayerIndex":1}                                    header
//   {"path":"/etc/shadow","uid":0,"gid":42,"mode":33184}      an entry (mode: the whole st_mode)
//   {"path":"/dev/null","mode":8630,"rdev":259}               a character device placeholder
// The writable (upper) layer keys its entries by host inode instead, so that hard links share
// them and a rename keeps them; `path` is then where the inode was last seen (to re-key entries
// after the layer was copied elsewhere), `ino` the stable inode number shown to the guest:
//   {"ino":1234,"path":"/etc/passwd","uid":0,"gid":0,"mode":33188,"origin":281474976710661}
//   {"ino":1234,"del":true}                                   the entry is gone
// Later lines override earlier ones; the upper's file is compacted when the overlay opens it.
// Whiteouts are not in the index: they are the OCI whiteout files themselves (`.wh.NAME`,
// `.wh..wh..opq`), which any user can create.
import { ENOENT, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IALLUGO } from "../abi/linux.js";
import type { HostFs } from "./host.js";

export const LAYER_INDEX_NAME = ".wh..wh.rvisor-index";
export const LAYER_INDEX_VERSION = 1;

/** What the index records about one object; absent fields are the host file's own. */
export interface LayerMeta {
  uid?: number; gid?: number;
  /** The whole st_mode (file type and permission bits). */
  mode?: number;
  rdev?: number;
  /** Modification time, seconds since the epoch. */
  mtime?: number;
  /** The object exists only in the index (no host file): a symlink (with `link`), a device node, a FIFO. */
  virtual?: boolean;
  /** A virtual symlink's target. */
  link?: string;
}

/**
 * Metadata of a read-only (lower) layer by path inside the layer ("/etc/shadow"). An image store
 * implements this; the optional parts let it keep whiteouts and index-only objects out of the
 * host directory (the overlay also honours `.wh.` files there).
 */
export interface LayerIndex {
  get(path: string): LayerMeta | undefined;
  /** Names of the index-only objects in directory `dir`. */
  virtualChildren?(dir: string): readonly string[];
  /** `path` is whited out by this layer (hidden in the layers below). */
  isWhiteout?(path: string): boolean;
  /** Directory `dir` is opaque in this layer. */
  isOpaque?(dir: string): boolean;
}

/** An entry of the image store's layer index (src/oci/layer_index.ts, `<layer>/index.json`), as far as the overlay reads it. */
export interface StoreEntry {
  path: string; type: string; mode: number; uid: number; gid: number; mtime?: number;
  link?: string; devmajor?: number; devminor?: number;
}
export interface StoreIndexDoc { version: number; entries: StoreEntry[]; whiteouts: string[]; opaques: string[] }

const STORE_TYPES: Record<string, number> = { file: 0o100000, hardlink: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000 };
/** Types the store keeps only in its index (no host file). */
const STORE_VIRTUAL = new Set(["symlink", "char", "block", "fifo"]);

/** Linux new_encode_dev: the st_rdev of major:minor. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) + major * 256 + (minor & ~0xff) * 4096;
}

/**
 * The image store's layer index (a layer unpacked as `<layer>/root/` + `<layer>/index.json`):
 * owners, modes and times of every entry; symlinks, devices and FIFOs that exist only here;
 * whiteouts and opaque directories recorded instead of applied.
 */
export class StoreLayerIndex implements LayerIndex {
  private readonly entries = new Map<string, LayerMeta>();
  private readonly virtual = new Map<string, string[]>();
  private readonly whiteouts: Set<string>;
  private readonly opaques: Set<string>;
  constructor(doc: StoreIndexDoc) {
    for (const e of doc.entries) {
      const type = STORE_TYPES[e.type];
      if (type === undefined) throw new Error(`layer index: ${e.path}: unknown type ${e.type}`);
      const m: LayerMeta = { uid: e.uid, gid: e.gid, mode: type | (e.mode & S_IALLUGO) };
      if (e.mtime !== undefined) m.mtime = e.mtime;
      if (e.type === "char" || e.type === "block") m.rdev = makedev(e.devmajor ?? 0, e.devminor ?? 0);
      if (STORE_VIRTUAL.has(e.type) && e.path !== "/") {
        m.virtual = true;
        if (e.type === "symlink") m.link = e.link ?? "";
        const dir = e.path.slice(0, e.path.lastIndexOf("/")) || "/";
        const list = this.virtual.get(dir);
        const name = e.path.slice(e.path.lastIndexOf("/") + 1);
        if (list === undefined) this.virtual.set(dir, [name]); else list.push(name);
      }
      this.entries.set(e.path, m);
    }
    this.whiteouts = new Set(doc.whiteouts);
    this.opaques = new Set(doc.opaques);
  }
  get(path: string): LayerMeta | undefined { return this.entries.get(path); }
  virtualChildren(dir: string): readonly string[] { return this.virtual.get(dir) ?? []; }
  isWhiteout(path: string): boolean { return this.whiteouts.has(path); }
  isOpaque(dir: string): boolean { return this.opaques.has(dir); }

  /** Reads `<dir>/index.json`; a string is an error message. */
  static load(fs: HostFs, dir: string): StoreLayerIndex | string {
    const file = dir + "/index.json";
    const data = readHostFile(fs, file);
    if (typeof data === "number") return `${file}: cannot read (errno ${-data})`;
    let doc: unknown;
    try { doc = JSON.parse(new TextDecoder().decode(data)); } catch { return `${file}: not JSON`; }
    const d = doc as Partial<StoreIndexDoc>;
    if (typeof d !== "object" || d === null || d.version !== LAYER_INDEX_VERSION) return `${file}: not a version ${LAYER_INDEX_VERSION} layer index`;
    if (!Array.isArray(d.entries) || !Array.isArray(d.whiteouts) || !Array.isArray(d.opaques)) return `${file}: entries, whiteouts and opaques are lists`;
    try { return new StoreLayerIndex(d as StoreIndexDoc); } catch (e) { return `${file}: ${(e as Error).message}`; }
  }
}

/** An upper-layer entry: keyed by host inode. */
export interface UpperMeta extends LayerMeta {
  /** Where the inode was last seen (guest path). */
  path: string;
  /** The inode number the guest sees (the lower object's, kept across copy-up). */
  origin?: number;
}

/** Reads a whole host file; -errno on failure. */
export function readHostFile(fs: HostFs, path: string): Uint8Array | number {
  const h = fs.open(path, O_RDONLY, 0);
  if (h < 0) return h;
  try {
    const st = fs.fstat(h);
    if (typeof st === "number") return st;
    let buf = new Uint8Array(Math.max(st.size, 4096));
    let off = 0;
    for (;;) {
      if (off === buf.length) { const b = new Uint8Array(buf.length * 2); b.set(buf); buf = b; }
      const n = fs.read(h, buf.subarray(off), off);
      if (n < 0) return n;
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally { fs.close(h); }
}

function writeAll(fs: HostFs, h: number, data: Uint8Array): number {
  let off = 0;
  while (off < data.length) {
    const n = fs.write(h, data.subarray(off), null);
    if (n < 0) return n;
    off += n;
  }
  return 0;
}

function metaFields(o: Record<string, unknown>): LayerMeta {
  const m: LayerMeta = {};
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);
  const uid = num(o["uid"]), gid = num(o["gid"]), mode = num(o["mode"]), rdev = num(o["rdev"]);
  if (uid !== undefined) m.uid = uid;
  if (gid !== undefined) m.gid = gid;
  if (mode !== undefined) m.mode = mode;
  if (rdev !== undefined) m.rdev = rdev;
  return m;
}

/** The lines of an index file as objects; an error names the line. */
function parseLines(text: string, file: string): Record<string, unknown>[] | string {
  const out: Record<string, unknown>[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === "") continue;
    let o: unknown;
    try { o = JSON.parse(l); } catch { return `${file}:${i + 1}: not JSON`; }
    if (typeof o !== "object" || o === null || Array.isArray(o)) return `${file}:${i + 1}: not an object`;
    const rec = o as Record<string, unknown>;
    if ("rvisorLayerIndex" in rec) {
      if (rec["rvisorLayerIndex"] !== LAYER_INDEX_VERSION) return `${file}:${i + 1}: index version ${String(rec["rvisorLayerIndex"])}, this rvisor reads ${LAYER_INDEX_VERSION}`;
      continue;
    }
    out.push(rec);
  }
  return out;
}

/** A lower layer's index read from its file (a missing file is an empty index). */
export class FileLayerIndex implements LayerIndex {
  readonly entries = new Map<string, LayerMeta>();
  get(path: string): LayerMeta | undefined { return this.entries.get(path); }

  /** Loads `<dir>/.wh..wh.rvisor-index`; a string is an error message. */
  static load(fs: HostFs, dir: string): FileLayerIndex | string {
    const idx = new FileLayerIndex();
    const file = dir + "/" + LAYER_INDEX_NAME;
    const data = readHostFile(fs, file);
    if (data === -ENOENT) return idx;
    if (typeof data === "number") return `${file}: cannot read (errno ${-data})`;
    const recs = parseLines(new TextDecoder().decode(data), file);
    if (typeof recs === "string") return recs;
    for (const r of recs) {
      if (typeof r["path"] !== "string") return `${file}: an entry without a path`;
      idx.entries.set(r["path"], metaFields(r));
    }
    return idx;
  }
}

/**
 * The upper layer's index: entries by host inode, appended to the file as they change and
 * compacted at open.
 */
export class UpperIndex {
  private readonly map = new Map<number, UpperMeta>();
  private h = -1;
  constructor(private readonly fs: HostFs, private readonly dir: string) {}

  get size(): number { return this.map.size; }
  get(ino: number): UpperMeta | undefined { return this.map.get(ino); }

  /**
   * Reads the file, keeps the entries whose inode is still at their path (re-keys those whose
   * path now holds another inode: the layer was copied), drops the rest, rewrites the file
   * compacted and opens it for appending. A string is an error message.
   */
  open(): string | null {
    const file = this.dir + "/" + LAYER_INDEX_NAME;
    const data = readHostFile(this.fs, file);
    if (typeof data === "number" && data !== -ENOENT) return `${file}: cannot read (errno ${-data})`;
    if (typeof data !== "number") {
      const recs = parseLines(new TextDecoder().decode(data), file);
      if (typeof recs === "string") return recs;
      const seen = new Map<number, UpperMeta>();
      for (const r of recs) {
        const ino = r["ino"];
        if (typeof ino !== "number") return `${file}: an upper entry without an inode`;
        if (r["del"] === true) { seen.delete(ino); continue; }
        if (typeof r["path"] !== "string") return `${file}: an entry without a path`;
        const m: UpperMeta = { path: r["path"], ...metaFields(r) };
        if (typeof r["origin"] === "number") m.origin = r["origin"];
        seen.set(ino, m);
      }
      for (const m of seen.values()) {
        const st = this.fs.lstat(this.dir + (m.path === "/" ? "" : m.path));
        if (typeof st !== "number") this.map.set(st.ino, m);
      }
    }
    const tmp = file + ".new";
    const w = this.fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
    if (w < 0) return `${tmp}: cannot write (errno ${-w})`;
    let text = JSON.stringify({ rvisorLayerIndex: LAYER_INDEX_VERSION }) + "\n";
    for (const [ino, m] of this.map) text += this.line(ino, m);
    const r = writeAll(this.fs, w, new TextEncoder().encode(text));
    this.fs.close(w);
    if (r < 0) return `${tmp}: cannot write (errno ${-r})`;
    const mv = this.fs.rename(tmp, file);
    if (mv < 0) return `${file}: cannot replace (errno ${-mv})`;
    this.h = this.fs.open(file, O_WRONLY | O_APPEND, 0);
    return this.h < 0 ? `${file}: cannot open (errno ${-this.h})` : null;
  }

  private line(ino: number, m: UpperMeta | null): string {
    return JSON.stringify(m === null ? { ino, del: true } : { ino, ...m }) + "\n";
  }

  private append(s: string): void {
    if (this.h >= 0) writeAll(this.fs, this.h, new TextEncoder().encode(s));
  }

  set(ino: number, m: UpperMeta): void {
    this.map.set(ino, m);
    this.append(this.line(ino, m));
  }

  delete(ino: number): void {
    if (!this.map.delete(ino)) return;
    this.append(this.line(ino, null));
  }

  /** A rename: the path hints of `from` and everything under it move to `to`. */
  rename(from: string, to: string): void {
    for (const [ino, m] of this.map) {
      if (m.path === from || m.path.startsWith(from + "/")) this.set(ino, { ...m, path: to + m.path.slice(from.length) });
    }
  }

  close(): void {
    if (this.h >= 0) this.fs.close(this.h);
    this.h = -1;
  }
}

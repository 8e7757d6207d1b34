// Unpacks one image layer (tar, tar+gzip or tar+zstd, told apart by their magic numbers) into a
// directory, and builds its side index (src/oci/layer_index.ts): regular files and directories
// are written under ROOT with host-friendly modes; what the host cannot keep (owner, full mode,
// symlinks, device nodes, fifos, xattrs) and the whiteouts go into the index only. The diff_id
// (sha256 of the uncompressed tar) is computed on the way.
import { createReadStream, createWriteStream, linkSync, copyFileSync, mkdirSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Transform, type TransformCallback, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { once } from "node:events";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import * as tar from "tar-stream";
import { OciError, type Digest } from "../../oci/digest.js";
import {
  LAYER_INDEX_VERSION, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, ancestors, baseName, normaliseEntryName, parentPath,
  type LayerEntry, type LayerEntryType, type LayerIndex,
} from "../../oci/layer_index.js";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Mode of files and directories on the host: readable and writable by the store's owner (the real mode is in the index). */
const HOST_FILE_MODE = 0o644, HOST_DIR_MODE = 0o755;
/** Mode of directories a tar implies without listing them (as Docker creates them). */
const IMPLIED_DIR_MODE = 0o755;
const PERM_MASK = 0o7777;
const XATTR_PAX_PREFIX = "SCHILY.xattr.";

export type Compression = "none" | "gzip" | "zstd";

function startsWith(b: Uint8Array, magic: number[]): boolean { return magic.every((m, i) => b[i] === m); }

/** The compression of a file, from its first bytes. */
export function sniffCompression(file: string): Compression {
  const fd = openSync(file, "r");
  const head = Buffer.alloc(4);
  try { readSync(fd, head, 0, 4, 0); } finally { closeSync(fd); }
  return startsWith(head, GZIP_MAGIC) ? "gzip" : startsWith(head, ZSTD_MAGIC) ? "zstd" : "none";
}

/** zstd for Node 20 (whose zlib has none), on fzstd's streaming decoder. */
class ZstdDecompress extends Transform {
  private readonly d = new Decompress((chunk) => { this.push(Buffer.from(chunk)); });
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try { this.d.push(chunk); cb(); } catch (e) { cb(new OciError(`zstd: ${(e as Error).message}`)); }
  }
  override _flush(cb: TransformCallback): void {
    try { this.d.push(new Uint8Array(0), true); cb(); } catch (e) { cb(new OciError(`zstd: ${(e as Error).message}`)); }
  }
}

/** Hashes and counts what passes through. */
class HashTap extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk); this.bytes += chunk.length; this.onBytes?.(chunk.length); cb(null, chunk);
  }
  digest(): Digest { return `sha256:${this.hash.digest("hex")}`; }
}

export function decompressor(c: Compression): Transform | null {
  return c === "gzip" ? createGunzip() : c === "zstd" ? new ZstdDecompress() : null;
}

/** The tar stream of a (possibly compressed) file, through `tap` when given. */
export function openTar(file: string, onCompressedBytes?: (n: number) => void): { streams: (Readable | Transform)[]; compression: Compression } {
  const compression = sniffCompression(file);
  const src = createReadStream(file);
  if (onCompressedBytes !== undefined) src.on("data", (c: string | Buffer) => onCompressedBytes(c.length));
  const d = decompressor(compression);
  return { streams: d === null ? [src] : [src, d], compression };
}

/** Why an archive could not be read, in words (the tar and zlib messages are terse). */
export function describeArchiveError(e: unknown, what: string): OciError {
  const m = (e as Error).message ?? String(e);
  if (e instanceof OciError) return new OciError(`${what}: ${m}`);
  if (/unexpected end|Unexpected end of data/i.test(m)) return new OciError(`${what}: truncated archive (${m})`);
  const zlib = typeof (e as NodeJS.ErrnoException).code === "string" && ((e as NodeJS.ErrnoException).code as string).startsWith("Z_");
  if (zlib || /incorrect header check|invalid|corrupt/i.test(m)) return new OciError(`${what}: corrupt archive (${m})`);
  return new OciError(`${what}: ${m}`);
}

const TYPES: Record<string, LayerEntryType> = {
  file: "file", "contiguous-file": "file", directory: "dir", symlink: "symlink", link: "hardlink",
  "character-device": "char", "block-device": "block", fifo: "fifo",
};

export interface UnpackResult { diffId: Digest; index: LayerIndex; compression: Compression; /** bytes of the uncompressed tar */ tarBytes: number; /** bytes of regular files */ size: number }

/** Builds a layer's index and its files under `root`, entry by entry. */
class LayerBuilder {
  readonly entries = new Map<string, LayerEntry>();
  readonly whiteouts = new Set<string>();
  readonly opaques = new Set<string>();
  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true, mode: HOST_DIR_MODE });
  }

  host(path: string): string { return join(this.root, path); }

  /** Refuses an entry below a symlink or a non-directory of this layer; adds implied directories. */
  private prepareParents(path: string, mtime: number): void {
    for (const a of [...ancestors(path)]) {
      const e = this.entries.get(a);
      if (e === undefined) {
        this.entries.set(a, { path: a, type: "dir", mode: IMPLIED_DIR_MODE, uid: 0, gid: 0, mtime, implied: true });
        mkdirSync(this.host(a), { recursive: true, mode: HOST_DIR_MODE });
      } else if (e.type === "symlink") {
        throw new OciError(`tar entry ${path}: its parent ${a} is a symlink (refused: a tar must not write through a link)`);
      } else if (e.type !== "dir") {
        throw new OciError(`tar entry ${path}: its parent ${a} is not a directory`);
      }
    }
  }

  /** Removes what an entry replaces (tar semantics: a later entry for the same name wins). */
  private replace(path: string, type: LayerEntryType): void {
    const old = this.entries.get(path);
    if (old === undefined || (old.type === "dir" && type === "dir")) return;
    if (old.type === "dir") {
      for (const k of [...this.entries.keys()]) if (k.startsWith(path + "/")) this.entries.delete(k);
    }
    this.entries.delete(path);
    rmSync(this.host(path), { recursive: true, force: true });
  }

  async add(h: tar.Headers & { pax?: Record<string, string> }, body: Readable): Promise<void> {
    const path = normaliseEntryName(h.name);
    const mtime = h.mtime !== undefined ? Math.floor(h.mtime.getTime() / 1000) : 0;
    const type = TYPES[h.type ?? "file"];
    if (type === undefined) throw new OciError(`tar entry ${path}: unsupported entry type ${String(h.type)}`);
    const base = baseName(path);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.prepareParents(path, mtime);
      const dir = parentPath(path);
      if (base === WHITEOUT_OPAQUE) this.opaques.add(dir);
      else this.whiteouts.add(`${dir === "/" ? "" : dir}/${base.slice(WHITEOUT_PREFIX.length)}`);
      body.resume();
      await once(body, "end");
      return;
    }
    if (path === "/" && type !== "dir") throw new OciError(`tar entry ${JSON.stringify(h.name)}: the root must be a directory`);
    this.prepareParents(path, mtime);
    this.replace(path, type);
    const pax = h.pax ?? {};
    const e: LayerEntry = {
      path, type, mode: (h.mode ?? 0) & PERM_MASK,
      uid: pax.uid !== undefined ? Number(pax.uid) : h.uid ?? 0,
      gid: pax.gid !== undefined ? Number(pax.gid) : h.gid ?? 0, mtime,
    };
    const xattrs = Object.entries(pax).filter(([k]) => k.startsWith(XATTR_PAX_PREFIX));
    if (xattrs.length > 0) e.xattrs = Object.fromEntries(xattrs.map(([k, v]) => [k.slice(XATTR_PAX_PREFIX.length), v]));
    switch (type) {
      case "dir":
        mkdirSync(this.host(path), { recursive: true, mode: HOST_DIR_MODE });
        break;
      case "file": {
        const out = createWriteStream(this.host(path), { flags: "wx", mode: HOST_FILE_MODE });
        await pipeline(body, out);
        e.size = out.bytesWritten;
        break;
      }
      case "hardlink": {
        const target = normaliseEntryName(h.linkname ?? "");
        const t = this.entries.get(target);
        if (t === undefined || (t.type !== "file" && t.type !== "hardlink")) {
          throw new OciError(`tar entry ${path}: hard link to ${target}, which is not a regular file earlier in this layer`);
        }
        const real = t.type === "hardlink" ? (t.link as string) : target;
        try { linkSync(this.host(real), this.host(path)); } catch { copyFileSync(this.host(real), this.host(path)); }
        e.link = real; e.size = t.size;
        break;
      }
      case "symlink":
        e.link = h.linkname ?? "";
        break;
      case "char": case "block":
        e.devmajor = h.devmajor ?? 0; e.devminor = h.devminor ?? 0;
        break;
      case "fifo":
        break;
    }
    if (type !== "file") { body.resume(); await once(body, "end"); }
    this.entries.set(path, e);
  }

  index(diffId: Digest): LayerIndex {
    if (!this.entries.has("/")) this.entries.set("/", { path: "/", type: "dir", mode: IMPLIED_DIR_MODE, uid: 0, gid: 0, mtime: 0, implied: true });
    const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    return {
      version: LAYER_INDEX_VERSION, diffId,
      entries: [...this.entries.values()].sort((a, b) => byPath(a.path, b.path)),
      whiteouts: [...this.whiteouts].sort(byPath), opaques: [...this.opaques].sort(byPath),
    };
  }
}

/**
 * Unpacks the layer in `file` into `root` (which must not exist yet, or be empty). On any error
 * the caller removes `root`; nothing outside it is written.
 */
export async function unpackLayer(file: string, root: string, onCompressedBytes?: (n: number) => void): Promise<UnpackResult> {
  const { streams, compression } = openTar(file, onCompressedBytes);
  const tap = new HashTap();
  const extract = tar.extract();
  const b = new LayerBuilder(root);
  const piping = pipeline([...streams, tap, extract]);
  piping.catch(() => { /* reported through the entry loop below */ });
  try {
    for await (const entry of extract) await b.add(entry.header as tar.Headers & { pax?: Record<string, string> }, entry);
    await piping;
  } catch (e) {
    for (const s of streams) s.destroy();
    throw describeArchiveError(e, "layer");
  }
  const diffId = tap.digest();
  const index = b.index(diffId);
  const size = index.entries.reduce((n, e) => n + (e.type === "file" ? e.size ?? 0 : 0), 0);
  return { diffId, index, compression, tarBytes: tap.bytes, size };
}

// Opening disk images on the host: a raw file or a qcow2 image with its chain of backing files,
// each locked as QEMU locks it (the image itself for writing, or shared for readonly=on; its
// backing files always read-only and shared), plus QEMU's -snapshot (writes go to a
// throw-away qcow2 overlay in an unlinked temporary file).
import { promises as fsp, constants as FS } from "node:fs";
import { inflateRawSync, constants as Z } from "node:zlib";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { BlockBackend } from "../../system/devices/virtio_blk.js";
import type { ImageFile } from "../../system/block/image_file.js";
import { Qcow2, Qcow2Error, createQcow2, isQcow2, type Inflate } from "../../system/block/qcow2.js";
import { DiskLock, lockDisk, type DiskLockOptions } from "./disk_lock.js";

export type DiskFormat = "raw" | "qcow2";

/** Backing chains longer than this are refused (QEMU's limit is similar: it detects loops by depth). */
const MAX_BACKING_DEPTH = 32;

/** Raw deflate for compressed qcow2 clusters; the stream may be followed by padding. */
export const nodeInflate: Inflate = (src, outLen) => {
  const out = inflateRawSync(src, { finishFlush: Z.Z_SYNC_FLUSH, maxOutputLength: outLen });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
};

/** An ImageFile over an open host file. */
export class NodeImageFile implements ImageFile {
  private constructor(private readonly fh: fsp.FileHandle, private len: number, readonly readonly: boolean) {}

  static async open(path: string, readonly: boolean): Promise<{ file: NodeImageFile; st: import("node:fs").BigIntStats }> {
    const fh = await fsp.open(path, readonly ? FS.O_RDONLY : FS.O_RDWR);
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile() && !st.isBlockDevice()) throw new Error(`${path}: not a regular file`);
      return { file: new NodeImageFile(fh, Number(st.size), readonly), st };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** A temporary read-write file, unlinked at once so it disappears with the process. */
  static async temporary(): Promise<NodeImageFile> {
    const dir = await fsp.mkdtemp(join(process.env.TMPDIR ?? tmpdir(), "rvisor-snapshot-"));
    const p = join(dir, "overlay.qcow2");
    const fh = await fsp.open(p, "w+");
    await fsp.rm(dir, { recursive: true, force: true });
    return new NodeImageFile(fh, 0, false);
  }

  size(): number { return this.len; }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.fh.read(dst, done, dst.length - done, offset + done);
      if (bytesRead === 0) { dst.fill(0, done); return; }
      done += bytesRead;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readonly) throw new Error("read-only image file");
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
      if (bytesWritten === 0) throw new Error("short write");
      done += bytesWritten;
    }
    this.len = Math.max(this.len, offset + src.length);
  }

  async flush(): Promise<void> { if (!this.readonly) await this.fh.sync(); }
  async close(): Promise<void> { await this.fh.close(); }
}

/**
 * A raw image as a BlockBackend. A probed one (no format=) refuses guest writes that would make
 * it probe as qcow2 next time, as QEMU restricts writes to block 0 of a probed raw image.
 */
class RawImage implements BlockBackend {
  constructor(private readonly file: NodeImageFile, readonly readonly: boolean, readonly id: string | undefined, private readonly probed: boolean) {}
  get size(): number { return this.file.size(); }
  read(offset: number, dst: Uint8Array): Promise<void> { return this.file.read(offset, dst); }
  async write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readonly) throw new Error("read-only disk");
    if (this.probed && offset === 0 && isQcow2(src)) throw new Error("write of a qcow2 header to block 0 of a probed raw image refused (give format=raw)");
    return this.file.write(offset, src);
  }
  flush(): Promise<void> { return this.file.flush(); }
}

export interface OpenDiskOptions {
  /** Image format; probed from the qcow2 magic when not given (see `probed`). */
  format?: DiskFormat;
  readonly?: boolean;
  /** QEMU's snapshot=on: the image is opened read-only and writes go to a temporary overlay. */
  snapshot?: boolean;
  id?: string;
  /** Lock options; false opens without locks. */
  lock?: DiskLockOptions | false;
}

/** An open disk: the guest-visible backend and what it took to open it. */
export interface OpenDisk {
  readonly backend: BlockBackend;
  readonly format: DiskFormat;
  /** True when the format was not given and the image was probed as raw (QEMU warns then). */
  readonly probedRaw: boolean;
  /** The image and its backing files, top first. */
  readonly chain: readonly { path: string; format: DiskFormat }[];
  close(): Promise<void>;
}

/** The path QEMU opens for a backing file name: relative names are relative to the image's directory. */
export function backingPath(imagePath: string, backing: string): string {
  return isAbsolute(backing) ? backing : join(dirname(imagePath), backing);
}

/** Reads the first bytes of a file and says whether it is qcow2. */
export async function probeFormat(file: ImageFile): Promise<DiskFormat> {
  const head = new Uint8Array(4);
  await file.read(0, head);
  return isQcow2(head) ? "qcow2" : "raw";
}

/** The error for a disk that cannot be opened (missing backing file, corrupt header, lock conflict...). */
export class DiskOpenError extends Error {}

/** Opens a disk image (raw or qcow2 with its backing chain) as a BlockBackend. */
export async function openDisk(path: string, opts: OpenDiskOptions = {}): Promise<OpenDisk> {
  const files: NodeImageFile[] = [];
  const locks: DiskLock[] = [];
  const chain: { path: string; format: DiskFormat }[] = [];
  const seen = new Set<string>();
  const closeAll = async (): Promise<void> => {
    for (const l of locks) l.release();
    await Promise.all(files.map((f) => f.close()));
  };
  try {
    const topRo = opts.readonly === true || opts.snapshot === true;
    let probedRaw = false;
    const openOne = async (p: string, format: DiskFormat | undefined, ro: boolean, depth: number): Promise<{ be: BlockBackend; format: DiskFormat }> => {
      if (depth > MAX_BACKING_DEPTH) throw new DiskOpenError(`${path}: backing chain deeper than ${MAX_BACKING_DEPTH} images (a loop?)`);
      let opened;
      try {
        opened = await NodeImageFile.open(p, ro);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        throw new DiskOpenError(depth === 0 ? `cannot open ${p}: ${code}` : `cannot open backing file ${p} (of ${chain[chain.length - 1].path}): ${code}`);
      }
      const { file, st } = opened;
      files.push(file);
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) throw new DiskOpenError(`${p}: the backing chain loops back to this image`);
      seen.add(key);
      if (opts.lock !== false) locks.push(lockDisk(p, { dev: st.dev, ino: st.ino, isBlockDevice: st.isBlockDevice(), rdev: st.rdev }, ro ? "read" : "write", opts.lock));
      const fmt = format ?? (await probeFormat(file));
      if (format === undefined && fmt === "raw" && depth === 0) probedRaw = true;
      chain.push({ path: p, format: fmt });
      if (fmt === "raw") return { be: new RawImage(file, ro, depth === 0 ? opts.id : undefined, format === undefined), format: fmt };
      const h = await Qcow2.readHeader(file).catch((e: unknown) => { throw wrap(p, e); });
      let backing: BlockBackend | null = null;
      if (h.backingFile !== null) {
        const bf = h.backingFormat === "raw" || h.backingFormat === "qcow2" ? h.backingFormat : undefined;
        if (h.backingFormat !== null && bf === undefined) throw new DiskOpenError(`${p}: backing file format '${h.backingFormat}' is not supported (raw or qcow2)`);
        backing = (await openOne(backingPath(p, h.backingFile), bf, true, depth + 1)).be;
      }
      try {
        return { be: await Qcow2.open(file, { readonly: ro, backing, inflate: nodeInflate, id: depth === 0 ? opts.id : undefined }), format: fmt };
      } catch (e) { throw wrap(p, e); }
    };
    const top = await openOne(resolve(path), opts.format, topRo, 0);
    let backend = top.be;
    if (opts.snapshot === true) {
      const tmp = await NodeImageFile.temporary();
      files.push(tmp);
      await createQcow2(tmp, { size: top.be.size });
      backend = await Qcow2.open(tmp, { backing: top.be, inflate: nodeInflate, id: opts.id });
    }
    return {
      backend, format: top.format, probedRaw, chain,
      close: async () => { try { if (!backend.readonly) await backend.flush(); } finally { await closeAll(); } },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

function wrap(path: string, e: unknown): unknown {
  return e instanceof Qcow2Error ? new DiskOpenError(`${path}: ${e.message}`) : e;
}

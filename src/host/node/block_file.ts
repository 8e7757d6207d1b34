// BlockBackend over a raw disk image file: positional reads and writes on one file descriptor;
// flush() is fsync so acknowledged FLUSH requests really reach the disk. The image is locked
// while open (disk_lock.ts): exclusively for writing, shared for readonly use.
import { promises as fsp } from "node:fs";
import type { BlockBackend } from "../../system/devices/virtio_blk.js";
import { DiskLock, lockDisk, type DiskLockOptions } from "./disk_lock.js";

export interface FileBlockOptions {
  readonly?: boolean;
  id?: string;
  /** Lock options; false opens without a lock (tests of the backend alone). */
  lock?: DiskLockOptions | false;
}

export class FileBlockBackend implements BlockBackend {
  private constructor(
    private readonly fh: fsp.FileHandle,
    readonly size: number,
    readonly readonly: boolean,
    readonly id: string | undefined,
    private readonly lock: DiskLock | null,
  ) {}

  /**
   * Opens `path` ('r' when readonly, else 'r+') and locks it; the disk size is the file size.
   * Throws DiskLockError when another VM holds a conflicting lock.
   */
  static async open(path: string, opts: FileBlockOptions = {}): Promise<FileBlockBackend> {
    const ro = opts.readonly === true;
    const fh = await fsp.open(path, ro ? "r" : "r+");
    let lock: DiskLock | null = null;
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile() && !st.isBlockDevice()) throw new Error(`${path}: not a regular file`);
      if (opts.lock !== false) {
        // The identity of what was opened (not of the path again: it could have been replaced).
        lock = lockDisk(path, { dev: st.dev, ino: st.ino, isBlockDevice: st.isBlockDevice(), rdev: st.rdev }, ro ? "read" : "write", opts.lock);
      }
      return new FileBlockBackend(fh, Number(st.size), ro, opts.id, lock);
    } catch (e) {
      lock?.release();
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.fh.read(dst, done, dst.length - done, offset + done);
      if (bytesRead === 0) { dst.fill(0, done); return; } // past EOF reads as zeros
      done += bytesRead;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readonly) throw new Error("read-only disk");
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
      if (bytesWritten === 0) throw new Error("short write");
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> { if (!this.readonly) await this.fh.sync(); }

  async close(): Promise<void> {
    try { await this.fh.close(); } finally { this.lock?.release(); }
  }
}

// BlockBackend over a raw disk image file: positional reads and writes on one file descriptor;
// flush() is fsync so acknowledged FLUSH requests really reach the disk.
import { promises as fsp } from "node:fs";
import type { BlockBackend } from "../../system/devices/virtio_blk.js";

export class FileBlockBackend implements BlockBackend {
  private constructor(
    private readonly fh: fsp.FileHandle,
    readonly size: number,
    readonly readonly: boolean,
    readonly id: string | undefined,
  ) {}

  /** Opens `path` ('r' when readonly, else 'r+'); the disk size is the file size. */
  static async open(path: string, opts: { readonly?: boolean; id?: string } = {}): Promise<FileBlockBackend> {
    const ro = opts.readonly === true;
    const fh = await fsp.open(path, ro ? "r" : "r+");
    try {
      const st = await fh.stat();
      if (!st.isFile() && !st.isBlockDevice()) throw new Error(`${path}: not a regular file`);
      return new FileBlockBackend(fh, st.size, ro, opts.id);
    } catch (e) {
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

  close(): Promise<void> { return this.fh.close(); }
}

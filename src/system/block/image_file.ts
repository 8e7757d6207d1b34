// The random-access file a disk image format is stored in: a host file (src/host/node/image_file_node.ts),
// a buffer in memory (tests, throw-away overlays), or anything else with positional I/O.

export interface ImageFile {
  /** Fills `dst` from byte `offset`; bytes past the end of the file read as zeros. */
  read(offset: number, dst: Uint8Array): Promise<void> | void;
  /** Writes `src` at `offset`, extending the file when it ends before `offset + src.length`. */
  write(offset: number, src: Uint8Array): Promise<void> | void;
  /** The current length in bytes. */
  size(): number;
  /** Makes earlier writes durable (fsync); callers order metadata writes with it. */
  flush(): Promise<void> | void;
  readonly readonly: boolean;
}

/** An ImageFile held in memory; grows on demand. */
export class MemImageFile implements ImageFile {
  private buf: Uint8Array;
  private len: number;
  /** Number of flush() calls (tests check that metadata writes are ordered by flushes). */
  flushes = 0;
  constructor(init: Uint8Array | number = 0, readonly readonly = false) {
    this.buf = typeof init === "number" ? new Uint8Array(init) : init.slice();
    this.len = this.buf.length;
  }
  /** A copy of the whole file. */
  bytes(): Uint8Array { return this.buf.slice(0, this.len); }
  size(): number { return this.len; }
  read(offset: number, dst: Uint8Array): void {
    dst.fill(0);
    if (offset < this.len) dst.set(this.buf.subarray(offset, Math.min(this.len, offset + dst.length)));
  }
  write(offset: number, src: Uint8Array): void {
    if (this.readonly) throw new Error("read-only image file");
    const end = offset + src.length;
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.max(end, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(src, offset);
    this.len = Math.max(this.len, end);
  }
  /** Cuts the file to `len` bytes (tests of truncated images). */
  truncate(len: number): void { if (len < this.len) { this.buf.fill(0, len, this.len); this.len = len; } }
  flush(): void { this.flushes++; }
}

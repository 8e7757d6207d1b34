// Where a range disk keeps the chunks the guest wrote so they outlive the page: a file with a
// header naming the image it belongs to, a bitmap of the chunks held, then the chunks at fixed
// places. In the browser the file is in the Origin Private File System, opened through a
// FileSystemSyncAccessHandle (workers only), whose read/write/flush/truncate/getSize are the
// `SyncFile` below; the format itself is plain bytes, tested in Node over memory.
//
// Layout: [0, 4 KiB) header: magic "RVDISKOV", u32 little-endian JSON length, JSON of
// `DiskIdentity`; then the bitmap (bit i of byte i>>3: chunk i held), padded to 4 KiB; then
// chunk i at dataStart + i * chunkBytes. A chunk's bytes are written before its bit, so a chunk
// whose bit is set is whole.

/** The calls of FileSystemSyncAccessHandle this uses (File System standard). */
export interface SyncFile {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  getSize(): number;
  truncate(newSize: number): void;
  flush(): void;
}

/** What an overlay belongs to: saved chunks are used only on the same image, cut the same way. */
export interface DiskIdentity {
  url: string;
  size: number;
  chunkBytes: number;
  /** The server's validator for the image (ETag, else Last-Modified; RFC 9110 section 8.8). */
  validator: string;
}

/** What a range disk needs of a store (http_disk.ts). */
export interface ChunkStore {
  /** The chunks saved earlier for this image, by index. */
  load(): Map<number, Uint8Array>;
  /** Saves chunk `index` whole (durable after `flush`). */
  save(index: number, bytes: Uint8Array): void;
  flush(): void;
}

const MAGIC = new TextEncoder().encode("RVDISKOV");
const HEADER_BYTES = 4096;
const ALIGN = 4096;
const VERSION = 1;

const roundUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export class FileChunkStore implements ChunkStore {
  private readonly chunks: number;
  private readonly bitmap: Uint8Array;
  private readonly dataStart: number;
  /** Whether the file held chunks of another image (or none) and was started afresh. */
  readonly fresh: boolean;

  constructor(private readonly file: SyncFile, readonly identity: DiskIdentity) {
    this.chunks = Math.ceil(identity.size / identity.chunkBytes);
    this.bitmap = new Uint8Array(Math.ceil(this.chunks / 8));
    this.dataStart = HEADER_BYTES + roundUp(this.bitmap.length);
    const header = this.header();
    this.fresh = !this.matches(header);
    if (this.fresh) {
      file.truncate(0);
      file.write(header, { at: 0 });
      file.write(this.bitmap, { at: HEADER_BYTES });
      file.flush();
    } else {
      file.read(this.bitmap, { at: HEADER_BYTES });
    }
  }

  private header(): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify({ version: VERSION, ...this.identity }));
    if (MAGIC.length + 4 + json.length > HEADER_BYTES) throw new Error("disk overlay: identity too long for the header");
    const h = new Uint8Array(HEADER_BYTES);
    h.set(MAGIC, 0);
    new DataView(h.buffer).setUint32(MAGIC.length, json.length, true);
    h.set(json, MAGIC.length + 4);
    return h;
  }

  /** True when the file's header is byte for byte the one this identity writes. */
  private matches(want: Uint8Array): boolean {
    if (this.file.getSize() < this.dataStart) return false;
    const have = new Uint8Array(HEADER_BYTES);
    if (this.file.read(have, { at: 0 }) !== HEADER_BYTES) return false;
    return have.every((b, i) => b === want[i]);
  }

  private chunkLength(i: number): number {
    const { size, chunkBytes } = this.identity;
    return Math.min(chunkBytes, size - i * chunkBytes);
  }

  load(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (let i = 0; i < this.chunks; i++) {
      if ((this.bitmap[i >>> 3] & (1 << (i & 7))) === 0) continue;
      const c = new Uint8Array(this.chunkLength(i));
      if (this.file.read(c, { at: this.dataStart + i * this.identity.chunkBytes }) !== c.length) continue; // cut short: not whole
      out.set(i, c);
    }
    return out;
  }

  save(index: number, bytes: Uint8Array): void {
    if (index < 0 || index >= this.chunks || bytes.length !== this.chunkLength(index)) throw new Error(`disk overlay: bad chunk ${index} (${bytes.length} bytes)`);
    this.file.write(bytes, { at: this.dataStart + index * this.identity.chunkBytes });
    const byte = index >>> 3;
    if ((this.bitmap[byte] & (1 << (index & 7))) !== 0) return;
    this.bitmap[byte] |= 1 << (index & 7);
    this.file.write(this.bitmap.subarray(byte, byte + 1), { at: HEADER_BYTES + byte });
  }

  flush(): void { this.file.flush(); }
}

/** A SyncFile in memory (tests). */
export class MemSyncFile implements SyncFile {
  bytes = new Uint8Array(0);
  flushes = 0;
  read(buffer: Uint8Array, { at }: { at: number }): number {
    const part = this.bytes.subarray(at, at + buffer.length);
    buffer.set(part);
    return part.length;
  }
  write(buffer: Uint8Array, { at }: { at: number }): number {
    if (at + buffer.length > this.bytes.length) {
      const grown = new Uint8Array(at + buffer.length);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(buffer, at);
    return buffer.length;
  }
  getSize(): number { return this.bytes.length; }
  truncate(n: number): void { this.bytes = this.bytes.slice(0, n); }
  flush(): void { this.flushes++; }
}

// A disk read over HTTP range requests (RFC 9110 section 14: Range, 206 Partial Content,
// Content-Range), with the guest's writes kept in memory: the image on the server never
// changes, and a reload of the page starts from it again. Only `fetch` is used, so the same
// backend runs in a browser worker and in Node (where its tests run against node:http).
//
// The disk is cut into chunks of `chunkBytes`. A read fetches the chunks it lacks, consecutive
// ones in one request; chunks read but not written stay in a bounded cache (least recently used
// first out); a chunk once written is kept in memory for the life of the disk. With a
// `ChunkStore` (chunk_store.ts: a file in the Origin Private File System) the written chunks are
// also saved there at each guest flush and come back when the same image is opened again.
import type { BlockBackend } from "../../system/devices/virtio_blk.js";
import type { ChunkStore, DiskIdentity } from "./chunk_store.js";

/** 64 KiB: a Linux readahead window, and few enough requests for a boot. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** Clean chunks kept (512 x 64 KiB = 32 MiB). */
export const DEFAULT_CACHE_CHUNKS = 512;
const HTTP_PARTIAL_CONTENT = 206;

export class HttpDiskError extends Error {}

export interface HttpDiskOptions {
  /** Refuse guest writes (VIRTIO_BLK_F_RO) instead of keeping them in memory. */
  readonly?: boolean;
  chunkBytes?: number;
  cacheChunks?: number;
  /** Serial number for VIRTIO_BLK_T_GET_ID. */
  id?: string;
  /** Keeps written chunks beyond the page's life: given the image's identity, the store for it. */
  store?: (identity: DiskIdentity) => ChunkStore | Promise<ChunkStore>;
}

/** `bytes FIRST-LAST/TOTAL` (RFC 9110 section 14.4). */
function parseContentRange(v: string | null): { first: number; last: number; total: number } | null {
  const m = v === null ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v.trim());
  return m === null ? null : { first: Number(m[1]), last: Number(m[2]), total: Number(m[3]) };
}

export class HttpRangeDisk implements BlockBackend {
  readonly readonly: boolean;
  readonly id?: string;
  readonly chunkBytes: number;
  private readonly cacheChunks: number;
  /** Chunks the guest wrote: the disk's contents there, never evicted. */
  private readonly dirty = new Map<number, Uint8Array>();
  /** Chunks as on the server, in least-recently-used order (Map keeps insertion order). */
  private readonly clean = new Map<number, Uint8Array>();
  /** Fetches under way, per chunk, so two reads of one chunk make one request. */
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  /** Written chunks not yet in the store (saved at the next flush). */
  private readonly unsaved = new Set<number>();
  private store: ChunkStore | null = null;
  /** Range requests made and bytes they brought (for progress displays and tests). */
  requests = 0;
  fetchedBytes = 0;
  /** Bytes of written chunks the store gave back at open. */
  restoredBytes = 0;

  private constructor(readonly url: string, readonly size: number, opts: HttpDiskOptions) {
    this.readonly = opts.readonly ?? false;
    this.id = opts.id;
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.cacheChunks = opts.cacheChunks ?? DEFAULT_CACHE_CHUNKS;
    if (this.chunkBytes <= 0 || this.chunkBytes % 512 !== 0) throw new HttpDiskError(`chunk size ${this.chunkBytes} is not a multiple of 512`);
  }

  /** Opens the disk at `url`: learns its size with a one-byte range request, which also proves the server honours ranges. */
  static async open(url: string, opts: HttpDiskOptions = {}): Promise<HttpRangeDisk> {
    const r = await fetch(url, { headers: { Range: "bytes=0-0" } });
    await r.arrayBuffer();
    if (r.status !== HTTP_PARTIAL_CONTENT) {
      throw new HttpDiskError(`${url}: the server answered ${r.status} to a range request (it must answer 206 Partial Content)`);
    }
    const cr = parseContentRange(r.headers.get("Content-Range"));
    if (cr === null) throw new HttpDiskError(`${url}: no usable Content-Range in the answer (${String(r.headers.get("Content-Range"))})`);
    const disk = new HttpRangeDisk(url, cr.total, opts);
    if (opts.store !== undefined) {
      const validator = r.headers.get("ETag") ?? r.headers.get("Last-Modified") ?? "";
      disk.store = await opts.store({ url, size: cr.total, chunkBytes: disk.chunkBytes, validator });
      for (const [i, c] of disk.store.load()) { disk.dirty.set(i, c); disk.restoredBytes += c.length; }
    }
    return disk;
  }

  /** Bytes the guest has written (whole chunks), held in memory. */
  get dirtyBytes(): number {
    let n = 0;
    for (const c of this.dirty.values()) n += c.length;
    return n;
  }

  private chunkLength(i: number): number { return Math.min(this.chunkBytes, this.size - i * this.chunkBytes); }

  private cached(i: number): Uint8Array | undefined {
    const d = this.dirty.get(i);
    if (d !== undefined) return d;
    const c = this.clean.get(i);
    if (c !== undefined) { this.clean.delete(i); this.clean.set(i, c); } // most recently used now
    return c;
  }

  private keepClean(i: number, c: Uint8Array): void {
    if (this.dirty.has(i)) return;
    this.clean.set(i, c);
    while (this.clean.size > this.cacheChunks) {
      const oldest = this.clean.keys().next().value as number;
      this.clean.delete(oldest);
    }
  }

  /** Fetches chunks [first, last] in one range request; one promise per chunk. */
  private fetchRun(first: number, last: number): Promise<Uint8Array>[] {
    const start = first * this.chunkBytes, end = Math.min((last + 1) * this.chunkBytes, this.size) - 1;
    const whole = (async (): Promise<Uint8Array> => {
      this.requests++;
      const r = await fetch(this.url, { headers: { Range: `bytes=${start}-${end}` } });
      const body = new Uint8Array(await r.arrayBuffer());
      const cr = parseContentRange(r.headers.get("Content-Range"));
      if (r.status !== HTTP_PARTIAL_CONTENT || cr === null || cr.first !== start || cr.last !== end || body.length !== end - start + 1) {
        throw new HttpDiskError(`${this.url}: bytes ${start}-${end}: unexpected answer ${r.status} ${String(r.headers.get("Content-Range"))} (${body.length} bytes)`);
      }
      this.fetchedBytes += body.length;
      return body;
    })();
    const out: Promise<Uint8Array>[] = [];
    for (let i = first; i <= last; i++) {
      const off = (i - first) * this.chunkBytes, len = this.chunkLength(i);
      const one = whole.then((body) => { const c = body.slice(off, off + len); this.keepClean(i, c); return c; });
      this.inflight.set(i, one);
      const done = (): void => { if (this.inflight.get(i) === one) this.inflight.delete(i); };
      one.then(done, done);
      out.push(one);
    }
    return out;
  }

  /** Chunks [first, last] in order, fetching the missing ones (consecutive ones together). */
  private chunks(first: number, last: number): Promise<Uint8Array[]> {
    const parts: (Uint8Array | Promise<Uint8Array>)[] = [];
    let run = -1;
    for (let i = first; i <= last + 1; i++) {
      const have = i <= last ? (this.cached(i) ?? this.inflight.get(i)) : undefined;
      if (i <= last && have === undefined) { if (run < 0) run = i; continue; }
      if (run >= 0) { parts.push(...this.fetchRun(run, i - 1)); run = -1; }
      if (have !== undefined) parts.push(have);
    }
    return Promise.all(parts);
  }

  private checkRange(offset: number, len: number): void {
    if (offset < 0 || offset + len > this.size) throw new HttpDiskError(`disk access at ${offset}+${len} is outside the disk (${this.size} bytes)`);
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.checkRange(offset, dst.length);
    if (dst.length === 0) return;
    const first = Math.floor(offset / this.chunkBytes), last = Math.floor((offset + dst.length - 1) / this.chunkBytes);
    const cs = await this.chunks(first, last);
    cs.forEach((fetched, k) => {
      // A write that landed while the chunk was on its way wins over the server's bytes.
      const c = this.dirty.get(first + k) ?? fetched;
      const base = (first + k) * this.chunkBytes;
      const from = Math.max(offset, base), to = Math.min(offset + dst.length, base + c.length);
      dst.set(c.subarray(from - base, to - base), from - offset);
    });
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readonly) throw new HttpDiskError("read-only disk");
    this.checkRange(offset, src.length);
    if (src.length === 0) return;
    const first = Math.floor(offset / this.chunkBytes), last = Math.floor((offset + src.length - 1) / this.chunkBytes);
    // Only the end chunks can be partly written: fetch those that are not in memory yet, in one
    // request when they are neighbours.
    const partial = (i: number): boolean => !this.dirty.has(i)
      && (offset > i * this.chunkBytes || offset + src.length < i * this.chunkBytes + this.chunkLength(i));
    const need = [...new Set([first, last])].filter(partial);
    if (need.length === 2 && last === first + 1) await this.chunks(first, last);
    else await Promise.all(need.map((i) => this.chunks(i, i)));
    for (let i = first; i <= last; i++) {
      const base = i * this.chunkBytes, len = this.chunkLength(i);
      const from = Math.max(offset, base), to = Math.min(offset + src.length, base + len);
      let c = this.dirty.get(i);
      if (c === undefined) {
        // A chunk written whole needs nothing from the server; a partial write keeps the rest.
        const fresh = from === base && to === base + len ? new Uint8Array(len) : (await this.chunks(i, i))[0].slice();
        c = this.dirty.get(i) ?? fresh; // another write may have made it dirty meanwhile
        this.clean.delete(i);
        this.dirty.set(i, c);
      }
      c.set(src.subarray(from - offset, to - offset), from - base);
      if (this.store !== null) this.unsaved.add(i);
    }
  }

  /** Saves the chunks written since the last flush to the store; without one, writes live in memory only. */
  flush(): void {
    if (this.store === null) return;
    for (const i of this.unsaved) this.store.save(i, this.dirty.get(i) as Uint8Array);
    this.unsaved.clear();
    this.store.flush();
  }
}

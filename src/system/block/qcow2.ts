// qcow2 (QEMU copy-on-write, versions 2 and 3; docs/interop/qcow2.txt in QEMU) as a BlockBackend
// over an ImageFile. Platform-neutral: the host opens files, resolves backing file names and
// supplies `inflate` for compressed clusters.
//
// Layout: a header (cluster 0) points to the L1 table (guest offset -> L2 table) and the
// refcount table (host cluster -> refcount block -> refcount). An L2 entry maps one guest
// cluster: unallocated (read from the backing file, or zeros), zero (QCOW_OFLAG_ZERO, v3),
// a host cluster (QCOW_OFLAG_COPIED = refcount exactly 1), or compressed (deflate).
//
// Crash safety: guest data is written at once into clusters nothing references yet; metadata
// (refcount blocks, refcount table, L2 tables, L1 table) is kept in memory and written back by
// flush() in dependency order with an fsync between the stages: refcount blocks, refcount
// table (a grown table: new table, then header), L2 tables, L1 table; refcounts dropped by the
// new tables (a rewritten compressed cluster) last. So a crash at any point leaves at worst
// leaked clusters, which `qemu-img check` reports as harmless. Clusters are allocated at the
// end of the file and freed ones are not reused (qemu-img convert compacts an image).
import type { BlockBackend } from "../devices/virtio_blk.js";
import type { ImageFile } from "./image_file.js";

export const QCOW_MAGIC = 0x514649fb;
export const QCOW2_HEADER_V2_LENGTH = 72;
/** Header length of a version 3 image rvisor writes: 104 bytes + compression_type, padded to 8. */
export const QCOW2_HEADER_V3_LENGTH = 112;
const QCOW2_HEADER_V3_MIN = 104;

// Header incompatible_features bits.
export const QCOW2_INCOMPAT_DIRTY = 1 << 0;
export const QCOW2_INCOMPAT_CORRUPT = 1 << 1;
export const QCOW2_INCOMPAT_DATA_FILE = 1 << 2;
export const QCOW2_INCOMPAT_COMPRESSION = 1 << 3;
export const QCOW2_INCOMPAT_EXTL2 = 1 << 4;
export const QCOW2_COMPAT_LAZY_REFCOUNTS = 1 << 0;
export const QCOW2_AUTOCLEAR_BITMAPS = 1 << 0;

// Header extension types.
const QCOW2_EXT_END = 0;
const QCOW2_EXT_BACKING_FORMAT = 0xe2792aca;
const QCOW2_EXT_FEATURE_TABLE = 0x6803f857;

const QCOW2_COMPRESSION_ZLIB = 0;

// L1/L2 entry bits, as the high and low 32-bit halves of the big-endian 64-bit entry.
const QCOW_OFLAG_COPIED_HI = 0x80000000;     // bit 63
const QCOW_OFLAG_COMPRESSED_HI = 0x40000000; // bit 62
const QCOW_OFLAG_ZERO = 1;                   // bit 0 (version 3)
const OFFSET_HI_MASK = 0x00ffffff;           // bits 32-55 of "bits 9-55: host offset"
const OFFSET_LO_MASK = 0xfffffe00;
const SECTOR = 512;

/** Header limits QEMU enforces too (block/qcow2.h). */
const QCOW_MAX_L1_SIZE = 32 << 20;
const QCOW_MAX_REFTABLE_SIZE = 8 << 20;
const MIN_CLUSTER_BITS = 9, MAX_CLUSTER_BITS = 21;
const MAX_BACKING_FILE_NAME = 1023;
/** L2 tables held in memory before clean ones are dropped (and dirty ones written back). */
const L2_CACHE_MAX = 1024;

/** The image is malformed, truncated, or uses a feature rvisor does not implement. */
export class Qcow2Error extends Error {}

/** Raw deflate (RFC 1951, no zlib header) into exactly `outLen` bytes. */
export type Inflate = (src: Uint8Array, outLen: number) => Uint8Array;

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: number;
  /** Incompatible feature bits 32-63 (none are defined). */
  incompatibleHi: number;
  compatible: number;
  autoclear: number;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Feature names from the feature name table, keyed "incompatible:N", "compatible:N", "autoclear:N". */
  featureNames: Map<string, string>;
}

const u64 = (dv: DataView, off: number): number => dv.getUint32(off) * 2 ** 32 + dv.getUint32(off + 4);
function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, Math.floor(v / 2 ** 32));
  dv.setUint32(off + 4, v >>> 0);
}
const isQcow2 = (head: Uint8Array): boolean =>
  head.length >= 4 && new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0) === QCOW_MAGIC;
export { isQcow2 };

const FEATURE_KINDS = ["incompatible", "compatible", "autoclear"] as const;

/** Parses and validates the header (cluster 0, or at least its first `headerLength` bytes and extensions). */
export function parseQcow2Header(buf: Uint8Array, fileSize: number): Qcow2Header {
  if (buf.length < QCOW2_HEADER_V2_LENGTH) throw new Qcow2Error("image is too short for a qcow2 header");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0) !== QCOW_MAGIC) throw new Qcow2Error("not a qcow2 image (bad magic)");
  const version = dv.getUint32(4);
  if (version !== 2 && version !== 3) throw new Qcow2Error(`unsupported qcow2 version ${version}`);
  const h: Qcow2Header = {
    version, backingFileOffset: u64(dv, 8), backingFileSize: dv.getUint32(16), clusterBits: dv.getUint32(20),
    size: u64(dv, 24), cryptMethod: dv.getUint32(32), l1Size: dv.getUint32(36), l1TableOffset: u64(dv, 40),
    refcountTableOffset: u64(dv, 48), refcountTableClusters: dv.getUint32(56), nbSnapshots: dv.getUint32(60),
    snapshotsOffset: u64(dv, 64), incompatible: 0, incompatibleHi: 0, compatible: 0, autoclear: 0, refcountOrder: 4,
    headerLength: QCOW2_HEADER_V2_LENGTH, compressionType: QCOW2_COMPRESSION_ZLIB, backingFile: null, backingFormat: null,
    featureNames: new Map(),
  };
  if (h.clusterBits < MIN_CLUSTER_BITS || h.clusterBits > MAX_CLUSTER_BITS) {
    throw new Qcow2Error(`corrupt header: cluster_bits ${h.clusterBits} (must be ${MIN_CLUSTER_BITS}-${MAX_CLUSTER_BITS})`);
  }
  const cs = 2 ** h.clusterBits;
  if (version === 3) {
    if (buf.length < QCOW2_HEADER_V3_MIN) throw new Qcow2Error("image is too short for a qcow2 v3 header");
    h.incompatibleHi = dv.getUint32(72);
    h.incompatible = dv.getUint32(76);
    h.compatible = dv.getUint32(84);
    h.autoclear = dv.getUint32(92);
    h.refcountOrder = dv.getUint32(96);
    h.headerLength = dv.getUint32(100);
    if (h.headerLength < QCOW2_HEADER_V3_MIN || h.headerLength > cs || h.headerLength > buf.length) {
      throw new Qcow2Error(`corrupt header: header_length ${h.headerLength}`);
    }
    if (h.headerLength > QCOW2_HEADER_V3_MIN) h.compressionType = buf[QCOW2_HEADER_V3_MIN];
    if (h.refcountOrder > 6) throw new Qcow2Error(`corrupt header: refcount_order ${h.refcountOrder} (at most 6)`);
  }
  // Header extensions: from the end of the header up to the backing file name (or the cluster end).
  let p = h.headerLength;
  const extEnd = h.backingFileOffset !== 0 ? Math.min(h.backingFileOffset, buf.length) : Math.min(cs, buf.length);
  while (p + 8 <= extEnd) {
    const type = dv.getUint32(p), len = dv.getUint32(p + 4);
    if (type === QCOW2_EXT_END) break;
    if (p + 8 + len > extEnd) throw new Qcow2Error("corrupt header: header extension runs past its space");
    const data = buf.subarray(p + 8, p + 8 + len);
    if (type === QCOW2_EXT_BACKING_FORMAT) h.backingFormat = latin1(data);
    else if (type === QCOW2_EXT_FEATURE_TABLE) {
      for (let q = 0; q + 48 <= len; q += 48) {
        const kind = FEATURE_KINDS[data[q]];
        if (kind !== undefined) h.featureNames.set(`${kind}:${data[q + 1]}`, latin1(data.subarray(q + 2, q + 48)));
      }
    }
    p += 8 + ((len + 7) & ~7);
  }
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > MAX_BACKING_FILE_NAME || h.backingFileOffset + h.backingFileSize > cs || h.backingFileOffset + h.backingFileSize > buf.length) {
      throw new Qcow2Error("corrupt header: backing file name out of the header cluster");
    }
    h.backingFile = new TextDecoder().decode(buf.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize));
  }
  // Structural checks (QEMU's qcow2_do_open makes the same ones).
  const l2Entries = cs / 8;
  const needL1 = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size * 8 > QCOW_MAX_L1_SIZE) throw new Qcow2Error(`corrupt header: L1 table too large (${h.l1Size} entries)`);
  if (h.l1Size < needL1) throw new Qcow2Error(`corrupt header: L1 table has ${h.l1Size} entries, the disk size needs ${needL1}`);
  if (h.l1Size > 0 && h.l1TableOffset % cs !== 0) throw new Qcow2Error("corrupt header: L1 table offset not cluster aligned");
  if (h.refcountTableOffset % cs !== 0 || h.refcountTableOffset === 0) throw new Qcow2Error("corrupt header: refcount table offset invalid");
  if (h.refcountTableClusters * cs > QCOW_MAX_REFTABLE_SIZE) throw new Qcow2Error("corrupt header: refcount table too large");
  if (h.l1Size > 0 && h.l1TableOffset + h.l1Size * 8 > fileSize) {
    throw new Qcow2Error(`image is truncated: the L1 table ends at ${h.l1TableOffset + h.l1Size * 8}, the file has ${fileSize} bytes`);
  }
  if (h.refcountTableOffset + h.refcountTableClusters * 8 > fileSize) {
    throw new Qcow2Error(`image is truncated: the refcount table lies beyond the end of the file (${fileSize} bytes)`);
  }
  return h;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) { if (c === 0) break; s += String.fromCharCode(c); }
  return s;
}

function featureName(h: Qcow2Header, bit: number): string {
  return h.featureNames.get(`incompatible:${bit}`) ?? ["dirty bit", "corrupt bit", "external data file", "compression type", "extended L2 entries"][bit] ?? `bit ${bit}`;
}

export interface Qcow2OpenOptions {
  readonly?: boolean;
  /** The backing file, opened read-only by the caller from header.backingFile (null: none). */
  backing?: BlockBackend | null;
  inflate?: Inflate;
  id?: string;
}

interface Cached { buf: Uint8Array; dv: DataView; dirty: boolean }

type Mapping =
  | { kind: "unallocated" }
  | { kind: "zero"; host: number; copied: boolean }
  | { kind: "normal"; host: number; copied: boolean }
  | { kind: "compressed"; host: number; bytes: number; span: number };

export class Qcow2 implements BlockBackend {
  readonly size: number;
  readonly readonly: boolean;
  readonly id?: string;
  readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly refBits: number;
  private readonly refsPerBlock: number;
  private readonly l1: Uint8Array;
  private readonly l1dv: DataView;
  private readonly l1Dirty = new Set<number>();
  private readonly l2Cache = new Map<number, Cached>();
  private refTable: number[];
  private readonly refTableDirty = new Set<number>();
  /** A grown refcount table not yet on disk: where it goes, and the table it replaces. */
  private movedTable: { offset: number; clusters: number; oldOffset: number; oldClusters: number } | null = null;
  private readonly refBlocks = new Map<number, Cached>();
  /** Host clusters whose reference was dropped by unwritten tables: decremented after them. */
  private pendingFrees: number[] = [];
  private nextFree = 0;
  private dataDirty = false;
  private tail: Promise<unknown> = Promise.resolve();
  private lastInflated: { host: number; data: Uint8Array } | null = null;
  private readonly inflate: Inflate | undefined;
  readonly backing: BlockBackend | null;

  private constructor(private readonly file: ImageFile, readonly header: Qcow2Header, l1: Uint8Array, refTable: number[], opts: Qcow2OpenOptions) {
    this.size = header.size - (header.size % SECTOR);
    this.readonly = opts.readonly === true || file.readonly;
    this.id = opts.id;
    this.clusterSize = 2 ** header.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.refBits = 2 ** header.refcountOrder;
    this.refsPerBlock = (this.clusterSize * 8) / this.refBits;
    this.l1 = l1;
    this.l1dv = new DataView(l1.buffer, l1.byteOffset, l1.byteLength);
    this.refTable = refTable;
    this.backing = opts.backing ?? null;
    this.inflate = opts.inflate;
  }

  /** Reads the header of an image (for `img info` and for finding its backing file before open). */
  static async readHeader(file: ImageFile): Promise<Qcow2Header> {
    const head = new Uint8Array(Math.min(2 ** MAX_CLUSTER_BITS, Math.max(file.size(), QCOW2_HEADER_V2_LENGTH)));
    await file.read(0, head);
    const cb = new DataView(head.buffer).getUint32(20);
    const cs = cb >= MIN_CLUSTER_BITS && cb <= MAX_CLUSTER_BITS ? 2 ** cb : head.length;
    return parseQcow2Header(head.subarray(0, Math.min(cs, head.length)), file.size());
  }

  static async open(file: ImageFile, opts: Qcow2OpenOptions = {}): Promise<Qcow2> {
    const h = await Qcow2.readHeader(file);
    const ro = opts.readonly === true || file.readonly;
    if (h.cryptMethod !== 0) throw new Qcow2Error("encrypted qcow2 images are not supported");
    if (h.incompatibleHi !== 0) throw new Qcow2Error("image uses unknown incompatible features (bits 32-63)");
    const known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_COMPRESSION;
    const unknown = h.incompatible & ~known;
    if (unknown !== 0) {
      const names: string[] = [];
      for (let b = 0; b < 32; b++) if ((unknown & (1 << b)) !== 0) names.push(featureName(h, b));
      throw new Qcow2Error(`image uses unsupported incompatible features: ${names.join(", ")}`);
    }
    if ((h.incompatible & QCOW2_INCOMPAT_COMPRESSION) !== 0 && h.compressionType !== QCOW2_COMPRESSION_ZLIB) {
      throw new Qcow2Error(`image uses compression type ${h.compressionType === 1 ? "zstd" : h.compressionType}; only zlib is supported`);
    }
    if (!ro && (h.incompatible & QCOW2_INCOMPAT_CORRUPT) !== 0) {
      throw new Qcow2Error("image is marked corrupt; it can be opened read-only (readonly=on), or repaired with 'qemu-img check -r all'");
    }
    if (!ro && (h.incompatible & QCOW2_INCOMPAT_DIRTY) !== 0) {
      throw new Qcow2Error("image has the dirty bit set (its refcounts may be stale); repair it with 'qemu-img check -r all' or open it read-only");
    }
    if (!ro && h.nbSnapshots > 0) {
      throw new Qcow2Error(`image has ${h.nbSnapshots} internal snapshot(s); rvisor can open it read-only only`);
    }
    if (h.backingFile !== null && opts.backing === undefined) throw new Qcow2Error(`image has a backing file (${h.backingFile}) that was not opened`);
    const cs = 2 ** h.clusterBits;
    const l1 = new Uint8Array(h.l1Size * 8);
    await file.read(h.l1TableOffset, l1);
    const rt = new Uint8Array(h.refcountTableClusters * cs);
    await file.read(h.refcountTableOffset, rt);
    const rdv = new DataView(rt.buffer);
    const refTable: number[] = [];
    // Refcount table entries: bits 9-63 the refcount block's offset, bits 0-8 reserved.
    for (let i = 0; i < rt.length / 8; i++) refTable.push(rdv.getUint32(i * 8) * 2 ** 32 + ((rdv.getUint32(i * 8 + 4) & OFFSET_LO_MASK) >>> 0));
    const q = new Qcow2(file, h, l1, refTable, opts);
    if (!q.readonly) {
      if (h.version === 3 && h.autoclear !== 0) {
        // "A program that does not understand an autoclear bit must clear it when it changes the image."
        const z = new Uint8Array(8);
        await file.write(88, z);
        await file.flush();
        h.autoclear = 0;
      }
      await q.findEnd();
    }
    return q;
  }

  /** The first host cluster after everything in use: max(end of file, last cluster with a refcount). */
  private async findEnd(): Promise<void> {
    let end = Math.ceil(this.file.size() / this.clusterSize);
    for (let bi = 0; bi < this.refTable.length; bi++) {
      if (this.refTable[bi] === 0) continue;
      const blk = await this.refBlock(bi, false);
      if (blk === null) continue;
      for (let i = this.refsPerBlock - 1; i >= 0; i--) {
        if (this.getRef(blk, i) !== 0) { end = Math.max(end, bi * this.refsPerBlock + i + 1); break; }
      }
    }
    this.nextFree = end;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.serial(async () => {
      this.checkRange(offset, dst.length);
      const cs = this.clusterSize;
      for (let done = 0; done < dst.length;) {
        const pos = offset + done, inCl = pos % cs, n = Math.min(cs - inCl, dst.length - done);
        await this.readInCluster(Math.floor(pos / cs), inCl, dst.subarray(done, done + n));
        done += n;
      }
    });
  }

  write(offset: number, src: Uint8Array): Promise<void> {
    return this.serial(async () => {
      if (this.readonly) throw new Error("read-only disk");
      this.checkRange(offset, src.length);
      const cs = this.clusterSize;
      for (let done = 0; done < src.length;) {
        const pos = offset + done, inCl = pos % cs, n = Math.min(cs - inCl, src.length - done);
        await this.writeInCluster(Math.floor(pos / cs), inCl, src.subarray(done, done + n));
        done += n;
      }
      if (this.l2Cache.size > L2_CACHE_MAX) await this.trimCache();
    });
  }

  flush(): Promise<void> { return this.serial(() => this.writeBack()); }

  private checkRange(offset: number, len: number): void {
    if (offset < 0 || offset + len > this.header.size) throw new Error(`access beyond the end of the disk (${offset}+${len})`);
  }

  // ---- Mapping guest clusters ----

  private async mapping(vc: number): Promise<Mapping> {
    const l1i = Math.floor(vc / this.l2Entries);
    const l2Off = this.l1Offset(l1i);
    if (l2Off === 0) return { kind: "unallocated" };
    const l2 = await this.loadL2(l2Off);
    return this.decodeL2(l2.dv, (vc % this.l2Entries) * 8);
  }

  private l1Offset(l1i: number): number {
    const hi = this.l1dv.getUint32(l1i * 8), lo = this.l1dv.getUint32(l1i * 8 + 4);
    const off = entryOffset(hi, lo);
    if (off % this.clusterSize !== 0) throw new Qcow2Error(`corrupt image: L2 table offset ${off} not cluster aligned`);
    return off;
  }

  private decodeL2(dv: DataView, at: number): Mapping {
    const hi = dv.getUint32(at), lo = dv.getUint32(at + 4);
    if ((hi & QCOW_OFLAG_COMPRESSED_HI) !== 0) {
      // x = 62 - (cluster_bits - 8): bits 0..x-1 host offset, bits x..61 additional 512-byte sectors.
      const v = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo);
      const x = BigInt(62 - (this.header.clusterBits - 8));
      const host = Number(v & ((1n << x) - 1n));
      const sectors = Number(v >> x) + 1;
      return { kind: "compressed", host, bytes: sectors * SECTOR - (host % SECTOR), span: sectors * SECTOR };
    }
    const host = entryOffset(hi, lo);
    const copied = (hi & QCOW_OFLAG_COPIED_HI) !== 0;
    if (host % this.clusterSize !== 0) throw new Qcow2Error(`corrupt image: data cluster offset ${host} not cluster aligned`);
    if (this.header.version === 3 && (lo & QCOW_OFLAG_ZERO) !== 0) return { kind: "zero", host, copied };
    if (host === 0) return { kind: "unallocated" };
    return { kind: "normal", host, copied };
  }

  private async loadL2(off: number): Promise<Cached> {
    const hit = this.l2Cache.get(off);
    if (hit !== undefined) return hit;
    if (off + this.clusterSize > this.file.size()) {
      throw new Qcow2Error(`image is truncated: L2 table at ${off} lies beyond the end of the file (${this.file.size()} bytes)`);
    }
    const buf = new Uint8Array(this.clusterSize);
    await this.file.read(off, buf);
    const c = { buf, dv: new DataView(buf.buffer), dirty: false };
    this.l2Cache.set(off, c);
    return c;
  }

  private async readInCluster(vc: number, inCl: number, dst: Uint8Array): Promise<void> {
    const m = await this.mapping(vc);
    const pos = vc * this.clusterSize + inCl;
    switch (m.kind) {
      case "unallocated": return this.readBacking(pos, dst);
      case "zero": dst.fill(0); return;
      case "normal":
        if (m.host >= this.file.size()) throw new Qcow2Error(`image is truncated: data cluster at ${m.host} lies beyond the end of the file`);
        await this.file.read(m.host + inCl, dst);
        return;
      case "compressed":
        dst.set((await this.inflated(m)).subarray(inCl, inCl + dst.length));
    }
  }

  private async readBacking(pos: number, dst: Uint8Array): Promise<void> {
    const b = this.backing;
    if (b === null || pos >= b.size) { dst.fill(0); return; }
    const n = Math.min(dst.length, b.size - pos);
    await b.read(pos, n === dst.length ? dst : dst.subarray(0, n));
    dst.fill(0, n);
  }

  private async inflated(m: Mapping & { kind: "compressed" }): Promise<Uint8Array> {
    if (this.lastInflated !== null && this.lastInflated.host === m.host) return this.lastInflated.data;
    if (this.inflate === undefined) throw new Qcow2Error("image has compressed clusters and no decompressor was given");
    if (m.host >= this.file.size()) throw new Qcow2Error(`image is truncated: compressed cluster at ${m.host} lies beyond the end of the file`);
    const src = new Uint8Array(m.bytes);
    await this.file.read(m.host, src);
    let data: Uint8Array;
    try { data = this.inflate(src, this.clusterSize); } catch (e) {
      throw new Qcow2Error(`corrupt image: compressed cluster at ${m.host} does not decompress (${(e as Error).message})`);
    }
    if (data.length !== this.clusterSize) throw new Qcow2Error(`corrupt image: compressed cluster at ${m.host} decompresses to ${data.length} bytes`);
    this.lastInflated = { host: m.host, data };
    return data;
  }

  // ---- Writing ----

  private async writeInCluster(vc: number, inCl: number, src: Uint8Array): Promise<void> {
    const cs = this.clusterSize;
    let m = await this.mapping(vc);
    if ((m.kind === "normal" || m.kind === "zero") && !m.copied && m.host !== 0 && (await this.refcount(m.host / cs)) === 1) {
      m = { ...m, copied: true }; // QCOW_OFLAG_COPIED missing though the refcount is 1: set it below
      if (m.kind === "normal") await this.setL2(vc, m.host);
    }
    if (m.kind === "normal" && m.copied) {
      await this.file.write(m.host + inCl, src);
      this.dataDirty = true;
      return;
    }
    // Allocating (or copy-on-write) write: the whole cluster is written, the rest of it from
    // what the guest saw there before (backing file, zeros, the compressed or shared data).
    const full = new Uint8Array(cs);
    if (src.length < cs && m.kind !== "zero") await this.readInCluster(vc, 0, full);
    full.set(src, inCl);
    const reuse = m.kind === "zero" && m.copied && m.host !== 0 ? m.host : 0;
    const host = reuse !== 0 ? reuse : await this.allocCluster();
    await this.file.write(host, full);
    this.dataDirty = true;
    await this.setL2(vc, host);
    if (m.kind === "compressed") {
      for (let c = Math.floor((m.host - (m.host % SECTOR)) / cs); c * cs < m.host - (m.host % SECTOR) + m.span; c++) this.pendingFrees.push(c);
      if (this.lastInflated?.host === m.host) this.lastInflated = null;
    } else if ((m.kind === "normal" || m.kind === "zero") && m.host !== 0 && reuse === 0) {
      this.pendingFrees.push(m.host / cs);
    }
  }

  /** Points guest cluster `vc` at `host` (QCOW_OFLAG_COPIED), allocating its L2 table if needed. */
  private async setL2(vc: number, host: number): Promise<void> {
    const l1i = Math.floor(vc / this.l2Entries);
    let l2Off = this.l1Offset(l1i);
    let l2: Cached;
    if (l2Off === 0) {
      l2Off = await this.allocCluster();
      const buf = new Uint8Array(this.clusterSize);
      l2 = { buf, dv: new DataView(buf.buffer), dirty: true };
      this.l2Cache.set(l2Off, l2);
    } else {
      l2 = await this.loadL2(l2Off);
      const l1hi = this.l1dv.getUint32(l1i * 8);
      if ((l1hi & QCOW_OFLAG_COPIED_HI) === 0 && (await this.refcount(l2Off / this.clusterSize)) !== 1) {
        throw new Qcow2Error(`L2 table at ${l2Off} is shared (refcount != 1); writing such images is not supported`);
      }
    }
    if (this.l1Offset(l1i) !== l2Off || (this.l1dv.getUint32(l1i * 8) & QCOW_OFLAG_COPIED_HI) === 0) {
      this.l1dv.setUint32(l1i * 8, (QCOW_OFLAG_COPIED_HI | Math.floor(l2Off / 2 ** 32)) >>> 0);
      this.l1dv.setUint32(l1i * 8 + 4, l2Off >>> 0);
      this.l1Dirty.add(l1i);
    }
    const at = (vc % this.l2Entries) * 8;
    l2.dv.setUint32(at, (QCOW_OFLAG_COPIED_HI | Math.floor(host / 2 ** 32)) >>> 0);
    l2.dv.setUint32(at + 4, host >>> 0);
    l2.dirty = true;
  }

  // ---- Refcounts ----

  private getRef(blk: Cached, i: number): number {
    const bits = this.refBits;
    if (bits < 8) return (blk.buf[(i * bits) >>> 3] >>> ((i * bits) & 7)) & ((1 << bits) - 1);
    switch (bits) {
      case 8: return blk.buf[i];
      case 16: return blk.dv.getUint16(i * 2);
      case 32: return blk.dv.getUint32(i * 4);
      default: return u64(blk.dv, i * 8);
    }
  }

  private setRef(blk: Cached, i: number, v: number): void {
    const bits = this.refBits;
    if (v < 0 || (bits < 53 && v >= 2 ** bits)) throw new Qcow2Error(`refcount ${v} out of range for ${bits}-bit refcounts`);
    if (bits < 8) {
      const byte = (i * bits) >>> 3, sh = (i * bits) & 7, mask = ((1 << bits) - 1) << sh;
      blk.buf[byte] = (blk.buf[byte] & ~mask) | (v << sh);
    } else if (bits === 8) blk.buf[i] = v;
    else if (bits === 16) blk.dv.setUint16(i * 2, v);
    else if (bits === 32) blk.dv.setUint32(i * 4, v);
    else setU64(blk.dv, i * 8, v);
    blk.dirty = true;
  }

  /** The refcount block `bi`; with `create`, allocates it (and grows the table) when missing. */
  private async refBlock(bi: number, create: boolean): Promise<Cached | null> {
    const hit = this.refBlocks.get(bi);
    if (hit !== undefined) return hit;
    if (bi >= this.refTable.length) {
      if (!create) return null;
      await this.growRefTable(bi);
      const made = this.refBlocks.get(bi); // the new table's own refcounts may have created it
      if (made !== undefined) return made;
    }
    const off = this.refTable[bi];
    if (off === 0) {
      if (!create) return null;
      const c = this.nextFree++;
      const buf = new Uint8Array(this.clusterSize);
      const blk = { buf, dv: new DataView(buf.buffer), dirty: true };
      this.refBlocks.set(bi, blk);
      this.refTable[bi] = c * this.clusterSize;
      this.refTableDirty.add(bi);
      await this.setRefcount(c, 1); // in this block itself when it covers its own cluster
      return blk;
    }
    if (off % this.clusterSize !== 0) throw new Qcow2Error(`corrupt image: refcount block offset ${off} not cluster aligned`);
    if (off + this.clusterSize > this.file.size() && !this.readonly) {
      throw new Qcow2Error(`image is truncated: refcount block at ${off} lies beyond the end of the file`);
    }
    const buf = new Uint8Array(this.clusterSize);
    await this.file.read(off, buf);
    const blk = { buf, dv: new DataView(buf.buffer), dirty: false };
    this.refBlocks.set(bi, blk);
    return blk;
  }

  async refcount(cluster: number): Promise<number> {
    const blk = await this.refBlock(Math.floor(cluster / this.refsPerBlock), false);
    return blk === null ? 0 : this.getRef(blk, cluster % this.refsPerBlock);
  }

  private async setRefcount(cluster: number, v: number): Promise<void> {
    const blk = await this.refBlock(Math.floor(cluster / this.refsPerBlock), true);
    if (blk === null) throw new Qcow2Error("internal: refcount block missing");
    this.setRef(blk, cluster % this.refsPerBlock, v);
  }

  /** A new host cluster with refcount 1 (its contents are the caller's to write). */
  private async allocCluster(): Promise<number> {
    const c = this.nextFree++;
    await this.setRefcount(c, 1);
    return c * this.clusterSize;
  }

  /**
   * Makes the in-memory refcount table big enough for block `bi` and places the new table in
   * fresh clusters at the end of the file; flush() writes it and then switches the header to it.
   */
  private async growRefTable(bi: number): Promise<void> {
    const perCluster = this.clusterSize / 8;
    const entries = Math.ceil(Math.max(2 * (bi + 1), 2 * this.refTable.length, bi + 8) / perCluster) * perCluster;
    const clusters = entries / perCluster;
    if (clusters * this.clusterSize > QCOW_MAX_REFTABLE_SIZE) throw new Qcow2Error("refcount table would exceed its maximum size");
    const start = this.nextFree;
    this.nextFree += clusters;
    while (this.refTable.length < entries) this.refTable.push(0);
    const prev = this.movedTable;
    this.movedTable = {
      offset: start * this.clusterSize, clusters,
      oldOffset: prev?.oldOffset ?? this.header.refcountTableOffset, oldClusters: prev?.oldClusters ?? this.header.refcountTableClusters,
    };
    // The table is big enough now for the refcounts of its own clusters (2x margin).
    for (let k = 0; k < clusters; k++) await this.setRefcount(start + k, 1);
    // A table grown twice before a flush: the intermediate one never reached the disk.
    if (prev !== null) for (let k = 0; k < prev.clusters; k++) await this.setRefcount(prev.offset / this.clusterSize + k, 0);
  }

  // ---- Write-back ----

  private async writeBack(): Promise<void> {
    if (this.readonly) return;
    const f = this.file;
    const cs = this.clusterSize;
    let synced = false;
    // 1. Refcount blocks (the data written so far is made durable by the same fsync).
    if (await this.writeDirtyRefBlocks()) { await f.flush(); synced = true; }
    // 2. The refcount table: a moved one whole, then the header that points to it.
    if (this.movedTable !== null) {
      const t = this.movedTable;
      const buf = new Uint8Array(t.clusters * cs);
      const dv = new DataView(buf.buffer);
      this.refTable.forEach((off, i) => setU64(dv, i * 8, off));
      await f.write(t.offset, buf);
      await f.flush();
      const hd = new Uint8Array(12);
      const hdv = new DataView(hd.buffer);
      setU64(hdv, 0, t.offset);
      hdv.setUint32(8, t.clusters);
      await f.write(48, hd);
      await f.flush();
      this.header.refcountTableOffset = t.offset;
      this.header.refcountTableClusters = t.clusters;
      this.movedTable = null;
      this.refTableDirty.clear();
      // The old table is unreferenced now: free it (a crash before this leaks it, nothing worse).
      for (let k = 0; k < t.oldClusters; k++) await this.setRefcount(t.oldOffset / cs + k, 0);
      if (await this.writeDirtyRefBlocks()) await f.flush();
      synced = true;
    } else if (this.refTableDirty.size > 0) {
      const e = new Uint8Array(8);
      const dv = new DataView(e.buffer);
      for (const i of [...this.refTableDirty].sort((a, b) => a - b)) {
        setU64(dv, 0, this.refTable[i]);
        await f.write(this.header.refcountTableOffset + i * 8, e);
      }
      this.refTableDirty.clear();
      await f.flush();
      synced = true;
    }
    // 3. L2 tables.
    let wrote = false;
    for (const [off, c] of this.l2Cache) {
      if (!c.dirty) continue;
      await f.write(off, c.buf);
      c.dirty = false;
      wrote = true;
    }
    if (wrote) { await f.flush(); synced = true; }
    // 4. The L1 table.
    if (this.l1Dirty.size > 0) {
      for (const i of [...this.l1Dirty].sort((a, b) => a - b)) await f.write(this.header.l1TableOffset + i * 8, this.l1.subarray(i * 8, i * 8 + 8));
      this.l1Dirty.clear();
      await f.flush();
      synced = true;
    }
    // 5. References the tables above dropped: now their clusters' refcounts may fall.
    if (this.pendingFrees.length > 0) {
      const frees = this.pendingFrees;
      this.pendingFrees = [];
      for (const c of frees) await this.setRefcount(c, Math.max(0, (await this.refcount(c)) - 1));
      if (await this.writeDirtyRefBlocks()) { await f.flush(); synced = true; }
    }
    if (this.dataDirty && !synced) await f.flush();
    this.dataDirty = false;
  }

  private async writeDirtyRefBlocks(): Promise<boolean> {
    let wrote = false;
    for (const [bi, blk] of this.refBlocks) {
      if (!blk.dirty) continue;
      await this.file.write(this.refTable[bi], blk.buf);
      blk.dirty = false;
      wrote = true;
    }
    return wrote;
  }

  /** Writes metadata back and forgets clean L2 tables once too many are held. */
  private async trimCache(): Promise<void> {
    await this.writeBack();
    for (const [off, c] of this.l2Cache) if (!c.dirty) this.l2Cache.delete(off);
  }

  /** Writes all metadata back (the files of the image and its chain are the host's to close). */
  async close(): Promise<void> { await this.flush(); }
}

function entryOffset(hi: number, lo: number): number {
  return (hi & OFFSET_HI_MASK) * 2 ** 32 + ((lo & OFFSET_LO_MASK) >>> 0);
}

// ---- Creating images ----

export interface Qcow2CreateOptions {
  size: number;
  clusterBits?: number;
  /** 2 or 3 (default 3, QEMU's compat=1.1). */
  version?: 2 | 3;
  /** Refcount width in bits, a power of two from 1 to 64 (default 16; version 2 only has 16). */
  refcountBits?: number;
  backingFile?: string;
  backingFormat?: string;
}

/** QEMU's feature name table (qcow2.txt "Feature name table"), written into images rvisor creates. */
const FEATURE_TABLE: [number, number, string][] = [
  [0, 0, "dirty bit"], [0, 1, "corrupt bit"], [0, 2, "external data file"], [0, 3, "compression type"],
  [0, 4, "extended L2 entries"], [1, 0, "lazy refcounts"], [2, 0, "bitmaps"], [2, 1, "raw external data"],
];

/** Writes an empty qcow2 image into `file` (which should be empty), laid out as qemu-img does. */
export async function createQcow2(file: ImageFile, o: Qcow2CreateOptions): Promise<void> {
  const cb = o.clusterBits ?? 16;
  const version = o.version ?? 3;
  const refBits = o.refcountBits ?? 16;
  if (cb < MIN_CLUSTER_BITS || cb > MAX_CLUSTER_BITS) throw new Qcow2Error(`cluster size must be a power of two from 512 to 2M`);
  const order = Math.log2(refBits);
  if (!Number.isInteger(order) || order < 0 || order > 6 || (version === 2 && refBits !== 16)) throw new Qcow2Error(`invalid refcount width ${refBits}`);
  const cs = 2 ** cb;
  const size = Math.ceil(o.size / SECTOR) * SECTOR;
  const l1Size = Math.ceil(size / (cs * (cs / 8)));
  if (l1Size * 8 > QCOW_MAX_L1_SIZE) throw new Qcow2Error("image size too large for this cluster size");
  // Layout: header | refcount table | L1 table | refcount blocks, sized to cover themselves.
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const refsPerBlock = (cs * 8) / refBits;
  let rb = 1, rt = 1;
  for (;;) {
    const total = 1 + rt + l1Clusters + rb;
    const needRb = Math.ceil(total / refsPerBlock), needRt = Math.ceil((needRb * 8) / cs);
    if (needRb <= rb && needRt <= rt) break;
    rb = Math.max(rb, needRb); rt = Math.max(rt, needRt);
  }
  const total = 1 + rt + l1Clusters + rb;
  const hdr = new Uint8Array(cs);
  const dv = new DataView(hdr.buffer);
  dv.setUint32(0, QCOW_MAGIC);
  dv.setUint32(4, version);
  dv.setUint32(20, cb);
  setU64(dv, 24, size);
  dv.setUint32(36, l1Size);
  setU64(dv, 40, (1 + rt) * cs);
  setU64(dv, 48, cs);
  dv.setUint32(56, rt);
  let p = QCOW2_HEADER_V2_LENGTH;
  if (version === 3) {
    dv.setUint32(96, order);
    dv.setUint32(100, QCOW2_HEADER_V3_LENGTH);
    p = QCOW2_HEADER_V3_LENGTH;
  }
  const enc = new TextEncoder();
  const ext = (type: number, data: Uint8Array): void => {
    dv.setUint32(p, type); dv.setUint32(p + 4, data.length);
    hdr.set(data, p + 8);
    p += 8 + ((data.length + 7) & ~7);
  };
  if (o.backingFormat !== undefined) ext(QCOW2_EXT_BACKING_FORMAT, enc.encode(o.backingFormat));
  const name = o.backingFile === undefined ? new Uint8Array(0) : enc.encode(o.backingFile);
  if (name.length > MAX_BACKING_FILE_NAME) throw new Qcow2Error("backing file name too long");
  const table = new Uint8Array(FEATURE_TABLE.length * 48);
  FEATURE_TABLE.forEach(([kind, bit, n], i) => { table[i * 48] = kind; table[i * 48 + 1] = bit; table.set(enc.encode(n), i * 48 + 2); });
  if (version === 3 && p + 8 + table.length + 8 + name.length <= cs) ext(QCOW2_EXT_FEATURE_TABLE, table);
  p += 8; // end-of-extensions marker (zeros)
  if (o.backingFile !== undefined) {
    if (p + name.length > cs) throw new Qcow2Error("backing file name does not fit in the header cluster");
    setU64(dv, 8, p);
    dv.setUint32(16, name.length);
    hdr.set(name, p);
  }
  await file.write(0, hdr);
  // Refcount table: entries for the refcount blocks at the end of the metadata.
  const rtab = new Uint8Array(rt * cs);
  const rdv = new DataView(rtab.buffer);
  for (let i = 0; i < rb; i++) setU64(rdv, i * 8, (1 + rt + l1Clusters + i) * cs);
  await file.write(cs, rtab);
  await file.write((1 + rt) * cs, new Uint8Array(l1Clusters * cs));
  const blocks = new Uint8Array(rb * cs);
  const blk: Cached = { buf: blocks, dv: new DataView(blocks.buffer), dirty: true };
  for (let c = 0; c < total; c++) {
    // Refcount 1 for each metadata cluster, in the packing of this refcount width.
    const bit = c * refBits;
    if (refBits < 8) blocks[bit >>> 3] |= 1 << (bit & 7);
    else if (refBits === 8) blocks[c] = 1;
    else if (refBits === 16) blk.dv.setUint16(c * 2, 1);
    else if (refBits === 32) blk.dv.setUint32(c * 4, 1);
    else setU64(blk.dv, c * 8, 1);
  }
  await file.write((1 + rt + l1Clusters) * cs, blocks);
  await file.flush();
}

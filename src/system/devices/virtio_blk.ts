// virtio-blk (device id 2, virtio 1.2 section 5.2) over a tiny `BlockBackend`, so a disk can be
// a raw file in Node (src/host/node/block_file.ts), a buffer in memory, or an HTTP range reader.
import type { AccessWidth } from "../../memory/device.js";
import {
  DescChain, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport,
  featureBit, readConfigBytes,
} from "./virtio_mmio.js";

export interface BlockBackend {
  /** Size in bytes (a multiple of 512 is expected; a partial last sector is not exposed). */
  readonly size: number;
  readonly readonly: boolean;
  /** Fills `dst` with bytes starting at byte `offset`. */
  read(offset: number, dst: Uint8Array): Promise<void> | void;
  write(offset: number, src: Uint8Array): Promise<void> | void;
  /** Makes earlier writes durable. */
  flush(): Promise<void> | void;
  /** Serial number returned by VIRTIO_BLK_T_GET_ID (at most 20 bytes used). */
  readonly id?: string;
}

/** A disk held in memory (tests, browser scratch disks). */
export class MemBlockBackend implements BlockBackend {
  readonly data: Uint8Array;
  constructor(sizeOrData: number | Uint8Array, readonly readonly = false, readonly id?: string) {
    this.data = typeof sizeOrData === "number" ? new Uint8Array(sizeOrData) : sizeOrData;
  }
  get size(): number { return this.data.length; }
  read(offset: number, dst: Uint8Array): void { dst.set(this.data.subarray(offset, offset + dst.length)); }
  write(offset: number, src: Uint8Array): void {
    if (this.readonly) throw new Error("read-only disk");
    this.data.set(src, offset);
  }
  flush(): void { /* nothing to make durable */ }
}

export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_ID_BYTES = 20;
const SECTOR = 512;
const HEADER = 16;
/** Largest single data segment we advertise (and the host buffer we allocate per segment). */
const SIZE_MAX = 1 << 20;

export interface VirtioBlkOptions { queueSize?: number }

/**
 * The disk's contents are not part of the state (they are the backend's: a file, a qcow2 overlay
 * point); its geometry is, so a restore onto a different disk is refused. In-flight requests are
 * the transport's queue state, replayed after a restore.
 */
export interface VirtioBlkState { kind: "blk"; version: 1; capacitySectors: number; readonly: boolean }

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly numQueues = 1;
  readonly queueMax: number;
  readonly features: bigint;
  private transport: VirtioTransport | null = null;
  private readonly config = new Uint8Array(24);
  /** Requests run one after another, so a FLUSH never overtakes an earlier write. */
  private chainTail: Promise<void> = Promise.resolve();
  /** Number of requests queued or running (tests and snapshots wait for 0). */
  busy = 0;

  constructor(private backendNow: BlockBackend, opts: VirtioBlkOptions = {}) {
    const backend = backendNow;
    this.queueMax = opts.queueSize ?? 256;
    let f = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(VIRTIO_F_EVENT_IDX)
      | featureBit(VIRTIO_BLK_F_SIZE_MAX) | featureBit(VIRTIO_BLK_F_SEG_MAX) | featureBit(VIRTIO_BLK_F_BLK_SIZE)
      | featureBit(VIRTIO_BLK_F_FLUSH);
    if (backend.readonly) f |= featureBit(VIRTIO_BLK_F_RO);
    this.features = f;
    const dv = new DataView(this.config.buffer);
    const sectors = Math.floor(backend.size / SECTOR);
    dv.setUint32(0, sectors >>> 0, true);                       // capacity (u64, 512-byte sectors)
    dv.setUint32(4, Math.floor(sectors / 2 ** 32) >>> 0, true);
    dv.setUint32(8, SIZE_MAX, true);                            // size_max
    dv.setUint32(12, this.queueMax - 2, true);                  // seg_max (header and status take two)
    dv.setUint32(20, SECTOR, true);                             // blk_size (geometry at 16 left zero)
  }

  get capacitySectors(): number { return Math.floor(this.backend.size / SECTOR); }

  get backend(): BlockBackend { return this.backendNow; }

  /**
   * Serves the disk from `b` from now on (same size and read-only flag: the guest's view of the
   * device does not change). Only while no request runs (see idle()).
   */
  replaceBackend(b: BlockBackend): void {
    if (this.busy !== 0) throw new Error("virtio-blk: a request is in flight");
    if (Math.floor(b.size / SECTOR) !== this.capacitySectors || b.readonly !== this.backendNow.readonly) {
      throw new Error(`virtio-blk: the new backend has ${Math.floor(b.size / SECTOR)} sectors${b.readonly ? " (read-only)" : ""}, the disk ${this.capacitySectors}`);
    }
    this.backendNow = b;
  }

  attach(t: VirtioTransport): void { this.transport = t; }
  readConfig(offset: number, width: AccessWidth): number { return readConfigBytes(this.config, offset, width); }
  writeConfig(): void { /* writeback/WCE not offered: config is read-only */ }
  reset(): void { /* in-flight requests become stale through the queue generation */ }

  onNotify(queue: number): void {
    const t = this.transport;
    if (t === null || queue !== 0) return;
    const q = t.queue(0);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      const c = chain;
      this.busy++;
      this.chainTail = this.chainTail.then(async () => {
        let written = 0;
        try { written = await this.handle(c); } catch { written = this.finish(c, 0, VIRTIO_BLK_S_IOERR); }
        this.busy--;
        q.push(c, Math.max(0, written)); // a dropped (malformed) request goes back with 0 bytes
      });
    }
  }

  /** Resolves once every queued request has completed. */
  idle(): Promise<void> { return this.chainTail; }

  /** Writes the status byte (the chain's last writable byte); returns the used length. */
  private finish(c: DescChain, dataWritten: number, status: number): number {
    if (c.writableLen < 1) return 0;
    c.write(c.writableLen - 1, Uint8Array.of(status));
    return Math.max(0, dataWritten) + 1;
  }

  /** Handles one request; returns bytes written into the chain (-1: dropped as malformed). */
  private async handle(c: DescChain): Promise<number> {
    if (c.readableLen < HEADER || c.writableLen < 1) return -1; // no header or no status byte: drop
    const hdr = new DataView(c.read(0, HEADER).buffer);
    const type = hdr.getUint32(0, true);
    const sector = hdr.getUint32(8, true) + hdr.getUint32(12, true) * 2 ** 32;
    const b = this.backend;
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const len = c.writableLen - 1;
        if (!this.validIo(sector, len)) return this.finish(c, 0, VIRTIO_BLK_S_IOERR);
        let pos = 0, off = sector * SECTOR;
        // Segment by segment, so a huge (but valid) request never needs one huge host buffer.
        for (const seg of c.writable) {
          const n = Math.min(seg.len, len - pos);
          for (let done = 0; done < n;) {
            const piece = Math.min(SIZE_MAX, n - done);
            const buf = new Uint8Array(piece);
            await b.read(off, buf);
            if (!c.live) return 0;
            c.write(pos + done, buf);
            done += piece; off += piece;
          }
          pos += n;
          if (pos >= len) break;
        }
        return this.finish(c, len, VIRTIO_BLK_S_OK);
      }
      case VIRTIO_BLK_T_OUT: {
        const len = c.readableLen - HEADER;
        if (b.readonly || !this.validIo(sector, len)) return this.finish(c, 0, VIRTIO_BLK_S_IOERR);
        let off = sector * SECTOR;
        for (let done = 0; done < len;) {
          const piece = Math.min(SIZE_MAX, len - done);
          const buf = c.read(HEADER + done, piece);
          if (!c.live) return 0;
          await b.write(off, buf);
          done += piece; off += piece;
        }
        return this.finish(c, 0, VIRTIO_BLK_S_OK);
      }
      case VIRTIO_BLK_T_FLUSH:
        await b.flush();
        return this.finish(c, 0, VIRTIO_BLK_S_OK);
      case VIRTIO_BLK_T_GET_ID: {
        const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
        id.set(new TextEncoder().encode(b.id ?? "").subarray(0, VIRTIO_BLK_ID_BYTES));
        const n = Math.min(VIRTIO_BLK_ID_BYTES, c.writableLen - 1);
        c.write(0, id.subarray(0, n));
        return this.finish(c, n, VIRTIO_BLK_S_OK);
      }
      default:
        return this.finish(c, 0, VIRTIO_BLK_S_UNSUPP);
    }
  }

  /**
   * virtio 1.2 5.2.6: the data of a VIRTIO_BLK_T_IN/OUT request is `u8 data[][512]`, whole
   * 512-byte sectors; 5.2.6.1: "A driver MUST NOT submit a request which would cause a read or
   * write beyond capacity." A request that breaks either fails with VIRTIO_BLK_S_IOERR and
   * touches nothing, as in QEMU (virtio_blk_sect_range_ok; "virtio-blk: fail unaligned
   * requests"): a 511-byte write would otherwise half-overwrite a sector.
   */
  private validIo(sector: number, len: number): boolean {
    return Number.isSafeInteger(sector) && len >= 0 && len % SECTOR === 0 && sector * SECTOR + len <= this.capacitySectors * SECTOR;
  }

  saveState(): VirtioBlkState {
    return { kind: "blk", version: 1, capacitySectors: this.capacitySectors, readonly: this.backend.readonly };
  }

  loadState(s: VirtioBlkState): void {
    if (s.kind !== "blk" || s.version !== 1) throw new Error("virtio-blk: incompatible state");
    if (s.capacitySectors !== this.capacitySectors || s.readonly !== this.backend.readonly) {
      throw new Error(`virtio-blk: the snapshot's disk has ${s.capacitySectors} sectors${s.readonly ? " (read-only)" : ""}, ` +
        `this one ${this.capacitySectors}${this.backend.readonly ? " (read-only)" : ""}`);
    }
  }
}

// A minimal virtio driver for unit tests: it plays the guest side of the virtio-mmio handshake
// and of split virtqueues in a test RAM, so device tests exercise the real register and ring
// paths. Not used by the machine itself.
import type { IrqLine } from "../../memory/device.js";
import { Ram } from "../../memory/ram.js";
import {
  VIRTIO_F_VERSION_1, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
  VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VirtioDevice, VirtioMmio,
  featureBit,
} from "./virtio_mmio.js";

export const TEST_RAM_BASE = 0x80000000;

export class TestIrq implements IrqLine {
  level = false;
  raises = 0;
  set(level: boolean): void { if (level && !this.level) this.raises++; this.level = level; }
}

/** A buffer in a request: `data` is device-readable; `writeLen` makes a device-writable buffer. */
export interface TestBuf { data?: Uint8Array; writeLen?: number }
export interface SubmittedBuf { addr: number; len: number; write: boolean }
export interface Submitted { head: number; bufs: SubmittedBuf[] }

interface TestQueue { size: number; desc: number; avail: number; used: number; nextDesc: number; availIdx: number; usedSeen: number }

export class TestDriver {
  readonly ram: Ram;
  readonly irq = new TestIrq();
  readonly mmio: VirtioMmio;
  private heap: number;
  private readonly queues = new Map<number, TestQueue>();

  constructor(device: VirtioDevice, ramSize = 4 << 20) {
    this.ram = new Ram(TEST_RAM_BASE, ramSize);
    this.mmio = new VirtioMmio(this.ram, this.irq, device);
    this.heap = TEST_RAM_BASE + 0x100000;
  }

  alloc(len: number, align = 16): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const a = this.heap;
    this.heap += Math.max(len, 1);
    if (!this.ram.contains(a, len)) throw new Error("test heap exhausted");
    return a;
  }

  /** The allocation point, for `release` (tests that move more data than the heap holds). */
  mark(): number { return this.heap; }
  /** Frees everything allocated since `mark` (the caller has consumed those buffers). */
  release(mark: number): void { this.heap = mark; }

  r(off: number): number { return this.mmio.read(off, 4); }
  w(off: number, v: number): void { this.mmio.write(off, 4, v); }

  deviceFeatures(): bigint {
    this.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const lo = this.r(VIRTIO_MMIO_DEVICE_FEATURES);
    this.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const hi = this.r(VIRTIO_MMIO_DEVICE_FEATURES);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** The Linux-style init sequence; returns the Status register after FEATURES_OK. */
  init(features: bigint = featureBit(VIRTIO_F_VERSION_1), queueSizes: number[] = [16]): number {
    this.w(VIRTIO_MMIO_STATUS, 0);
    this.w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    this.w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    this.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.w(VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffffffffn));
    this.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.w(VIRTIO_MMIO_DRIVER_FEATURES, Number(features >> 32n));
    this.w(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    const st = this.r(VIRTIO_MMIO_STATUS);
    queueSizes.forEach((size, i) => this.setupQueue(i, size));
    this.w(VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    return st;
  }

  setupQueue(index: number, size: number): void {
    const desc = this.alloc(16 * size, 16), avail = this.alloc(6 + 2 * size, 2), used = this.alloc(6 + 8 * size, 4);
    // A driver hands over zeroed rings (the heap may be reused after release()).
    this.ram.write(desc, new Uint8Array(used + 6 + 8 * size - desc));
    this.w(VIRTIO_MMIO_QUEUE_SEL, index);
    this.w(VIRTIO_MMIO_QUEUE_NUM, size);
    this.w(VIRTIO_MMIO_QUEUE_DESC_LOW, desc); this.w(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
    this.w(VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail); this.w(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
    this.w(VIRTIO_MMIO_QUEUE_DEVICE_LOW, used); this.w(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
    this.w(VIRTIO_MMIO_QUEUE_READY, 1);
    this.queues.set(index, { size, desc, avail, used, nextDesc: 0, availIdx: 0, usedSeen: 0 });
  }

  private q(index: number): TestQueue {
    const q = this.queues.get(index);
    if (q === undefined) throw new Error(`queue ${index} not set up`);
    return q;
  }

  /** Writes one raw descriptor in queue `index`'s table. */
  writeDesc(index: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const d = this.q(index).desc + 16 * i;
    this.ram.write64(d, addr); this.ram.write32(d + 8, len); this.ram.write16(d + 12, flags); this.ram.write16(d + 14, next);
  }

  /** Puts `head` in the avail ring (without notifying). */
  makeAvailable(index: number, head: number): void {
    const q = this.q(index);
    this.ram.write16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.ram.write16(q.avail + 2, q.availIdx);
  }

  notify(index: number): void { this.w(VIRTIO_MMIO_QUEUE_NOTIFY, index); }

  /** Builds a chain (direct, or through an indirect table) and makes it available. */
  submit(index: number, bufs: TestBuf[], opts: { indirect?: boolean; notify?: boolean } = {}): Submitted {
    const q = this.q(index);
    const placed: SubmittedBuf[] = bufs.map((b) => {
      const len = b.data !== undefined ? b.data.length : b.writeLen ?? 0;
      const addr = this.alloc(len, 8);
      if (b.data !== undefined) this.ram.write(addr, b.data);
      return { addr, len, write: b.data === undefined };
    });
    let head: number;
    if (opts.indirect === true) {
      const table = this.alloc(16 * placed.length, 16);
      placed.forEach((p, i) => {
        const d = table + 16 * i;
        this.ram.write64(d, p.addr); this.ram.write32(d + 8, p.len);
        this.ram.write16(d + 12, (p.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < placed.length ? VIRTQ_DESC_F_NEXT : 0));
        this.ram.write16(d + 14, i + 1);
      });
      head = q.nextDesc; q.nextDesc = (q.nextDesc + 1) % q.size;
      this.writeDesc(index, head, table, 16 * placed.length, VIRTQ_DESC_F_INDIRECT, 0);
    } else {
      const ids = placed.map(() => { const i = q.nextDesc; q.nextDesc = (q.nextDesc + 1) % q.size; return i; });
      head = ids[0];
      placed.forEach((p, i) => this.writeDesc(index, ids[i], p.addr, p.len,
        (p.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < placed.length ? VIRTQ_DESC_F_NEXT : 0), ids[i + 1] ?? 0));
    }
    this.makeAvailable(index, head);
    if (opts.notify !== false) this.notify(index);
    return { head, bufs: placed };
  }

  /** New used-ring entries since the last call. */
  takeUsed(index: number): { id: number; len: number }[] {
    const q = this.q(index);
    const out: { id: number; len: number }[] = [];
    const idx = this.ram.read16(q.used + 2);
    while (q.usedSeen !== idx) {
      const e = q.used + 4 + 8 * (q.usedSeen % q.size);
      out.push({ id: this.ram.read32(e), len: this.ram.read32(e + 4) });
      q.usedSeen = (q.usedSeen + 1) & 0xffff;
    }
    return out;
  }

  ackInterrupt(): number {
    const s = this.r(VIRTIO_MMIO_INTERRUPT_STATUS);
    this.w(VIRTIO_MMIO_INTERRUPT_ACK, s);
    return s;
  }

  status(): number { return this.r(VIRTIO_MMIO_STATUS); }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export function settle(): Promise<void> { return new Promise((resolve) => setTimeout(resolve, 0)); }

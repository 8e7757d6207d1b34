// virtio-mmio transport, version 2 (the modern register layout; drivers that do not negotiate
// VIRTIO_F_VERSION_1 are accepted as QEMU accepts them, see writeStatus), plus the split-virtqueue helper that every
// virtio device (blk, console, rng, 9p, ...) uses. Written once, TinyEMU/Firecracker style: the
// transport owns registers, feature negotiation, queues and the interrupt; a device is a small
// `VirtioDevice` that pops request chains from its queues and pushes them back when done
// (possibly later, after async host I/O).
//
// Everything the guest can write is treated as hostile: descriptor loops, addresses outside RAM,
// wrong buffer directions and absurd lengths never throw out of the device or hang the host.
// The transport marks itself DEVICE_NEEDS_RESET (status bit 0x40) and raises a config-change
// interrupt, as the virtio 1.2 spec (2.1.2) describes; the guest driver then resets the device.
import type { AccessWidth, Device, IrqLine, Stateful } from "../../memory/device.js";
import type { Ram } from "../../memory/ram.js";
import type { VirtioBlkState } from "./virtio_blk.js";
import type { VirtioConsoleState } from "./virtio_console.js";
import type { VirtioRngState } from "./virtio_rng.js";
import type { Virtio9pState } from "./virtio_9p.js";
import type { VirtioNetState } from "./virtio_net.js";

// ---- Register offsets (virtio 1.2, 4.2.2) ----
export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_STATUS = 0x070;
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
export const VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090;
export const VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094;
export const VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0;
export const VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4;
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
export const VIRTIO_MMIO_QUEUE_RESET = 0x0c0;
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
export const VIRTIO_MMIO_CONFIG = 0x100;

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VENDOR = 0x554d4551; // "QEMU", as Linux and QEMU expect nothing in particular
export const VIRTIO_MMIO_WINDOW_SIZE = 0x1000;

export const VIRTIO_MMIO_INT_VRING = 1;
export const VIRTIO_MMIO_INT_CONFIG = 2;

// ---- Device status bits (2.1) ----
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 0x40;
export const VIRTIO_STATUS_FAILED = 0x80;

// ---- Reserved feature bits (6) ----
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

export function featureBit(bit: number): bigint { return 1n << BigInt(bit); }

// ---- Split virtqueue layout (2.7) ----
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
const DESC_SIZE = 16;
/** Upper bound for the sum of a chain's buffer lengths in one direction (spec: total < 2^32). */
const MAX_CHAIN_BYTES = 0xffffffff;

/** One guest buffer: a guest physical address range validated to lie inside RAM. */
export interface GuestBuffer { readonly addr: number; readonly len: number }

/** Raised inside the queue code for guest mistakes; never escapes the transport. */
export class VirtioError extends Error {}

/**
 * A descriptor chain popped from the available ring. The device reads its request from the
 * device-readable buffers and writes its reply into the device-writable ones, then hands it
 * back with `queue.push(chain, writtenLen)` — immediately or later.
 */
export class DescChain {
  readonly readableLen: number;
  readonly writableLen: number;
  constructor(
    private readonly queue: VirtQueue,
    /** Head descriptor index: the id that goes back in the used ring. */
    readonly head: number,
    readonly readable: readonly GuestBuffer[],
    readonly writable: readonly GuestBuffer[],
    /** Queue generation when popped; a reset makes the chain stale. */
    readonly generation: number,
  ) {
    this.readableLen = readable.reduce((s, b) => s + b.len, 0);
    this.writableLen = writable.reduce((s, b) => s + b.len, 0);
  }

  /** False once the queue was reset (or disabled) after this chain was popped. */
  get live(): boolean { return this.queue.generation === this.generation; }

  /** Copies up to `len` device-readable bytes starting at byte `offset` of the readable stream. */
  read(offset: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.readableLen - offset));
    const out = new Uint8Array(n);
    if (!this.live) return out.subarray(0, 0);
    let pos = 0, skip = offset;
    for (const b of this.readable) {
      if (pos >= n) break;
      if (skip >= b.len) { skip -= b.len; continue; }
      const take = Math.min(b.len - skip, n - pos);
      out.set(this.queue.ram.read(b.addr + skip, take), pos);
      pos += take; skip = 0;
    }
    return out;
  }

  /** Copies host bytes into the device-writable stream at `offset`; returns bytes written. */
  write(offset: number, data: Uint8Array): number {
    if (!this.live) return 0;
    const n = Math.max(0, Math.min(data.length, this.writableLen - offset));
    let pos = 0, skip = offset;
    for (const b of this.writable) {
      if (pos >= n) break;
      if (skip >= b.len) { skip -= b.len; continue; }
      const take = Math.min(b.len - skip, n - pos);
      this.queue.ram.write(b.addr + skip, data.subarray(pos, pos + take));
      pos += take; skip = 0;
    }
    return n;
  }
}

/** What a device may ask of its transport. */
export interface VirtioTransport {
  readonly ram: Ram;
  queue(index: number): VirtQueue;
  /** Features the driver accepted (valid once FEATURES_OK is set). */
  readonly driverFeatures: bigint;
  /** Bumps ConfigGeneration and raises the configuration-change interrupt. */
  configChanged(): void;
  /** Puts the device in DEVICE_NEEDS_RESET and tells the driver. */
  needsReset(reason: string): void;
}

/** The saved state of any virtio device, told apart by `kind` (a new device adds its member). */
export type VirtioDeviceState = VirtioBlkState | VirtioConsoleState | VirtioRngState | Virtio9pState | VirtioNetState;

/** One virtio device behind a transport (blk, console, rng, 9p, ...). */
export interface VirtioDevice extends Stateful<VirtioDeviceState> {
  readonly deviceId: number;
  /** Offered feature bits; must include VIRTIO_F_VERSION_1 (bit 32). */
  readonly features: bigint;
  readonly numQueues: number;
  /** Largest queue size the device supports (QueueNumMax). */
  readonly queueMax: number;
  /** Called once by the transport's constructor. */
  attach(transport: VirtioTransport): void;
  readConfig(offset: number, width: AccessWidth): number;
  writeConfig(offset: number, width: AccessWidth, value: number): void;
  /** The driver set DRIVER_OK; queues are live. */
  activate?(): void;
  /** The driver kicked `queue`; pop chains until null. */
  onNotify(queue: number): void;
  /** Device reset (status 0): drop all request state. In-flight chains become stale. */
  reset(): void;
  /** Resolves once every request handed to host I/O has completed (snapshots wait for it). */
  idle?(): Promise<void>;
}

/** Reads a little-endian value of `width` bytes from a config byte array (0 past its end). */
export function readConfigBytes(bytes: Uint8Array, offset: number, width: AccessWidth): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + (offset + i < bytes.length && offset + i >= 0 ? bytes[offset + i] : 0);
  return v >>> 0;
}

export interface VirtQueueState {
  size: number; ready: boolean; desc: number; driver: number; device: number;
  lastAvail: number; usedIdx: number; inflight: number[];
}

/**
 * The host side of one split virtqueue. `pop()` validates and returns the next available chain;
 * `push(chain, len)` returns it through the used ring and interrupts the driver when it asks to
 * be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT or the used_event index with VIRTIO_F_EVENT_IDX).
 */
export class VirtQueue {
  size = 0;
  ready = false;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  /** Next avail ring index the device will consume (free-running u16). */
  lastAvail = 0;
  /** Next used ring index the device will produce (free-running u16). */
  usedIdx = 0;
  /** Bumped on reset/disable; chains popped before are stale and their push is ignored. */
  generation = 0;
  /** Heads popped but not yet pushed; saved in snapshots and replayed after a restore. */
  private readonly inflight = new Set<number>();
  private replay: number[] = [];

  constructor(
    readonly ram: Ram,
    readonly index: number,
    readonly max: number,
    private readonly owner: VirtioMmio,
  ) {}

  reset(): void {
    this.size = this.max; this.ready = false;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.lastAvail = this.usedIdx = 0;
    this.generation++;
    this.inflight.clear();
    this.replay = [];
  }

  /** QueueReady = 0: in-flight chains become stale. */
  disable(): void {
    this.ready = false;
    this.generation++;
    this.inflight.clear();
    this.replay = [];
  }

  /**
   * Checks the queue size and that the rings lie inside RAM; called when the driver sets
   * QueueReady. virtio 1.2 4.2.3.2: "The driver MUST write a value to QueueNum which is less than
   * or equal to QueueNumMax"; 2.7: a split virtqueue's "Queue Size value is always a power of 2".
   * A ring of another size cannot work: the free-running 16-bit indices are taken modulo the
   * size, and 65536 is a multiple of powers of 2 only. QEMU stores any size up to its maximum;
   * we refuse instead (queue stays not ready, DEVICE_NEEDS_RESET) so the guest sees an error
   * rather than a ring that is silently corrupted at the first index wrap.
   */
  validateLayout(): string | null {
    if (this.size === 0 || this.size > this.max) return `queue ${this.index}: size ${this.size} is not in 1..${this.max}`;
    if ((this.size & (this.size - 1)) !== 0) return `queue ${this.index}: size ${this.size} is not a power of 2`;
    if (!this.ram.contains(this.descAddr, DESC_SIZE * this.size)) return `queue ${this.index}: descriptor table outside RAM`;
    if (!this.ram.contains(this.driverAddr, 6 + 2 * this.size)) return `queue ${this.index}: driver area outside RAM`;
    if (!this.ram.contains(this.deviceAddr, 6 + 8 * this.size)) return `queue ${this.index}: device area outside RAM`;
    return null;
  }

  private usable(): boolean { return this.ready && this.owner.queuesLive(); }

  /** Number of chains the driver has made available and the device has not popped. */
  pending(): number {
    if (!this.usable()) return 0;
    return (this.ram.read16(this.driverAddr + 2) - this.lastAvail) & 0xffff;
  }

  /**
   * Next available chain, or null when the ring is empty, the queue is not live, or the guest
   * handed over something malformed (then the device is marked NEEDS_RESET).
   */
  pop(): DescChain | null {
    if (!this.usable()) return null;
    try {
      const replayed = this.replay.shift();
      if (replayed !== undefined) return this.walk(replayed);
      const availIdx = this.ram.read16(this.driverAddr + 2);
      const n = (availIdx - this.lastAvail) & 0xffff;
      if (n > this.size) throw new VirtioError(`queue ${this.index}: avail idx jumped by ${n}`);
      if (n === 0) { this.publishAvailEvent(); return null; }
      const head = this.ram.read16(this.driverAddr + 4 + 2 * (this.lastAvail % this.size));
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      this.publishAvailEvent();
      return this.walk(head);
    } catch (e) {
      this.owner.needsReset(e instanceof Error ? e.message : String(e));
      return null;
    }
  }

  /** With EVENT_IDX: ask to be notified as soon as the driver adds anything past lastAvail. */
  private publishAvailEvent(): void {
    if (this.owner.eventIdx) this.ram.write16(this.deviceAddr + 4 + 8 * this.size, this.lastAvail);
  }

  private walk(head: number): DescChain {
    if (head >= this.size) throw new VirtioError(`queue ${this.index}: head ${head} >= size ${this.size}`);
    const readable: GuestBuffer[] = [];
    const writable: GuestBuffer[] = [];
    let table = this.descAddr, tableLen = this.size, i = head, count = 0, indirect = false;
    let rBytes = 0, wBytes = 0;
    for (;;) {
      if (++count > tableLen) throw new VirtioError(`queue ${this.index}: descriptor chain loops or is too long`);
      const d = table + DESC_SIZE * i;
      const addr = this.ram.read64(d);
      const len = this.ram.read32(d + 8);
      const flags = this.ram.read16(d + 12);
      const next = this.ram.read16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (indirect) throw new VirtioError("nested indirect descriptor");
        // As QEMU (virtqueue_split_pop) does, an indirect table is followed whether or not
        // VIRTIO_F_INDIRECT_DESC was negotiated, and the NEXT flag beside INDIRECT (which the
        // driver "MUST NOT" set, 2.7.5.3.1) is ignored: the chain is the table's, nothing after.
        if (len === 0 || len % DESC_SIZE !== 0) throw new VirtioError(`indirect table length ${len}`);
        if (!this.ram.contains(addr, len)) throw new VirtioError("indirect table outside RAM");
        if (readable.length + writable.length > 0) throw new VirtioError("indirect descriptor after direct ones");
        indirect = true; table = addr; tableLen = len / DESC_SIZE; i = 0; count = 0;
        continue;
      }
      if (!this.ram.contains(addr, len)) throw new VirtioError(`buffer 0x${addr.toString(16)}+${len} outside RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        wBytes += len;
        if (len > 0) writable.push({ addr, len });
      } else {
        if (writable.length > 0) throw new VirtioError("device-readable buffer after a device-writable one");
        rBytes += len;
        if (len > 0) readable.push({ addr, len });
      }
      if (rBytes > MAX_CHAIN_BYTES || wBytes > MAX_CHAIN_BYTES) throw new VirtioError("chain longer than 4 GiB");
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      i = next;
      if (i >= tableLen) throw new VirtioError(`next index ${i} out of range`);
    }
    this.inflight.add(head);
    return new DescChain(this, head, readable, writable, this.generation);
  }

  /** Returns a chain through the used ring; `written` = bytes the device wrote into it. */
  push(chain: DescChain, written: number): void {
    if (!chain.live || !this.ready) return; // reset happened while the request was in flight
    if (!this.inflight.delete(chain.head)) return; // double push: ignore rather than corrupt the ring
    const len = Math.max(0, Math.min(written, chain.writableLen)) >>> 0;
    const slot = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.ram.write32(slot, chain.head);
    this.ram.write32(slot + 4, len);
    const old = this.usedIdx;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.ram.write16(this.deviceAddr + 2, this.usedIdx);
    if (this.shouldInterrupt(old, this.usedIdx)) this.owner.raiseInterrupt(VIRTIO_MMIO_INT_VRING);
  }

  private shouldInterrupt(oldIdx: number, newIdx: number): boolean {
    if (this.owner.eventIdx) {
      const usedEvent = this.ram.read16(this.driverAddr + 4 + 2 * this.size);
      return ((newIdx - usedEvent - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }
    return (this.ram.read16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  saveState(): VirtQueueState {
    return {
      size: this.size, ready: this.ready, desc: this.descAddr, driver: this.driverAddr, device: this.deviceAddr,
      lastAvail: this.lastAvail, usedIdx: this.usedIdx, inflight: [...this.replay, ...this.inflight],
    };
  }

  loadState(s: VirtQueueState): void {
    this.generation++;
    this.inflight.clear();
    this.size = s.size; this.ready = s.ready; this.descAddr = s.desc; this.driverAddr = s.driver; this.deviceAddr = s.device;
    this.lastAvail = s.lastAvail; this.usedIdx = s.usedIdx;
    // Requests in flight when the snapshot was taken were lost with the host state; their
    // descriptors are still owned by the device in guest RAM, so pop() hands them out again.
    this.replay = s.inflight.slice();
  }
}

/** driverFeatures is a hex string (64 bits). `inflight` heads of each queue are replayed after a restore. */
export interface VirtioMmioState {
  version: 1;
  deviceId: number;
  status: number; deviceFeaturesSel: number; driverFeaturesSel: number; driverFeatures: string;
  queueSel: number; interruptStatus: number; configGeneration: number;
  queues: VirtQueueState[]; device: VirtioDeviceState;
}

/** The virtio-mmio register window (a bus `Device`) in front of one `VirtioDevice`. */
export class VirtioMmio implements Device, Stateful<VirtioMmioState>, VirtioTransport {
  status = 0;
  interruptStatus = 0;
  configGeneration = 0;
  driverFeatures = 0n;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private readonly queues: VirtQueue[] = [];
  /** Last reason the device asked for a reset (for logs and tests). */
  lastError: string | null = null;

  constructor(readonly ram: Ram, private readonly irq: IrqLine, readonly device: VirtioDevice) {
    for (let i = 0; i < device.numQueues; i++) {
      const q = new VirtQueue(ram, i, device.queueMax, this);
      q.reset();
      this.queues.push(q);
    }
    device.attach(this);
  }

  queue(index: number): VirtQueue {
    const q = this.queues[index];
    if (q === undefined) throw new RangeError(`no queue ${index}`);
    return q;
  }

  get eventIdx(): boolean { return (this.driverFeatures & featureBit(VIRTIO_F_EVENT_IDX)) !== 0n; }
  get indirectDesc(): boolean { return (this.driverFeatures & featureBit(VIRTIO_F_INDIRECT_DESC)) !== 0n; }

  /** Queues may be used: DRIVER_OK set and no reset pending. */
  queuesLive(): boolean {
    return (this.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) === VIRTIO_STATUS_DRIVER_OK;
  }

  raiseInterrupt(bits: number): void {
    this.interruptStatus |= bits;
    this.irq.set(this.interruptStatus !== 0);
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raiseInterrupt(VIRTIO_MMIO_INT_CONFIG);
  }

  needsReset(reason: string): void {
    this.lastError = reason;
    if (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (this.status & VIRTIO_STATUS_DRIVER_OK) this.raiseInterrupt(VIRTIO_MMIO_INT_CONFIG);
  }

  private resetAll(): void {
    this.status = 0;
    this.interruptStatus = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    for (const q of this.queues) q.reset();
    this.irq.set(false);
    this.guard(() => this.device.reset());
  }

  /** Runs device code; anything it throws is a device bug or guest garbage, never a host crash. */
  private guard(fn: () => void): void {
    try { fn(); } catch (e) { this.needsReset(e instanceof Error ? e.message : String(e)); }
  }

  private selected(): VirtQueue | undefined { return this.queues[this.queueSel]; }

  read(offset: number, width: AccessWidth): number {
    if (offset >= VIRTIO_MMIO_CONFIG) {
      let v = 0;
      this.guard(() => { v = this.device.readConfig(offset - VIRTIO_MMIO_CONFIG, width); });
      return v >>> 0;
    }
    if (width !== 4 || (offset & 3) !== 0) return 0; // registers are 32-bit only
    const q = this.selected();
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
      case VIRTIO_MMIO_VERSION: return 2;
      case VIRTIO_MMIO_DEVICE_ID: return this.device.deviceId;
      case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
      case VIRTIO_MMIO_DEVICE_FEATURES:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.device.features >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      case VIRTIO_MMIO_QUEUE_NUM_MAX: return q === undefined ? 0 : q.max;
      case VIRTIO_MMIO_QUEUE_NUM: return q === undefined ? 0 : q.size;
      case VIRTIO_MMIO_QUEUE_READY: return q !== undefined && q.ready ? 1 : 0;
      case VIRTIO_MMIO_INTERRUPT_STATUS: return this.interruptStatus;
      case VIRTIO_MMIO_STATUS: return this.status;
      case VIRTIO_MMIO_QUEUE_DESC_LOW: return q === undefined ? 0 : q.descAddr >>> 0;
      case VIRTIO_MMIO_QUEUE_DESC_HIGH: return q === undefined ? 0 : Math.floor(q.descAddr / 2 ** 32) >>> 0;
      case VIRTIO_MMIO_QUEUE_DRIVER_LOW: return q === undefined ? 0 : q.driverAddr >>> 0;
      case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return q === undefined ? 0 : Math.floor(q.driverAddr / 2 ** 32) >>> 0;
      case VIRTIO_MMIO_QUEUE_DEVICE_LOW: return q === undefined ? 0 : q.deviceAddr >>> 0;
      case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return q === undefined ? 0 : Math.floor(q.deviceAddr / 2 ** 32) >>> 0;
      case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff; // no shared memory regions
      case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffff;
      case VIRTIO_MMIO_QUEUE_RESET: return 0;
      case VIRTIO_MMIO_CONFIG_GENERATION: return this.configGeneration;
      default: return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (offset >= VIRTIO_MMIO_CONFIG) {
      this.guard(() => this.device.writeConfig(offset - VIRTIO_MMIO_CONFIG, width, value));
      return;
    }
    if (width !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    const q = this.selected();
    const setAddr = (which: "descAddr" | "driverAddr" | "deviceAddr", high: boolean): void => {
      if (q === undefined || q.ready) return; // spec: only while the queue is not ready
      const cur = q[which];
      const lo = cur % 2 ** 32, hi = Math.floor(cur / 2 ** 32);
      q[which] = high ? lo + value * 2 ** 32 : hi * 2 ** 32 + value;
    };
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; break;
      case VIRTIO_MMIO_DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; break;
      case VIRTIO_MMIO_DRIVER_FEATURES:
        if (this.driverFeaturesSel <= 1 && !(this.status & VIRTIO_STATUS_FEATURES_OK)) {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
        }
        break;
      case VIRTIO_MMIO_QUEUE_SEL: this.queueSel = value; break;
      case VIRTIO_MMIO_QUEUE_NUM:
        if (q !== undefined && !q.ready) q.size = value;
        break;
      case VIRTIO_MMIO_QUEUE_READY:
        if (q === undefined) break;
        if (value & 1) {
          if (q.ready) break;
          const err = q.validateLayout();
          if (err !== null) { this.needsReset(err); break; }
          q.ready = true;
        } else {
          q.disable();
        }
        break;
      case VIRTIO_MMIO_QUEUE_NOTIFY: {
        const idx = value & 0xffff;
        if (idx < this.queues.length && this.queues[idx].ready && this.queuesLive()) this.guard(() => this.device.onNotify(idx));
        break;
      }
      case VIRTIO_MMIO_INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.irq.set(this.interruptStatus !== 0);
        break;
      case VIRTIO_MMIO_STATUS: this.writeStatus(value & 0xff); break;
      case VIRTIO_MMIO_QUEUE_DESC_LOW: setAddr("descAddr", false); break;
      case VIRTIO_MMIO_QUEUE_DESC_HIGH: setAddr("descAddr", true); break;
      case VIRTIO_MMIO_QUEUE_DRIVER_LOW: setAddr("driverAddr", false); break;
      case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: setAddr("driverAddr", true); break;
      case VIRTIO_MMIO_QUEUE_DEVICE_LOW: setAddr("deviceAddr", false); break;
      case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: setAddr("deviceAddr", true); break;
      default: break;
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) { this.resetAll(); return; }
    const added = value & ~this.status;
    let next = value | (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET); // only a reset clears NEEDS_RESET
    if (added & VIRTIO_STATUS_FEATURES_OK) {
      // Tolerant as QEMU is (hw/virtio/virtio.c virtio_set_features and virtio_set_status), where
      // the letter of virtio 1.2 (3.1.1, 6.1) would refuse FEATURES_OK:
      // - without VIRTIO_F_VERSION_1 ("legacy" drivers on the modern transport, e.g. xv6 and
      //   other teaching kernels): the features are not validated and the device runs as usual.
      //   Nothing here differs for such a driver: the transport is the version 2 layout either
      //   way, and a legacy device's "guest-native" byte order on RISC-V is little-endian too.
      // - with feature bits the device never offered: those bits are dropped (the device acts
      //   on what both sides have) instead of failing the negotiation.
      this.driverFeatures &= this.device.features;
    }
    this.status = next;
    if ((added & VIRTIO_STATUS_DRIVER_OK) && this.queuesLive()) {
      const dev = this.device;
      if (dev.activate !== undefined) this.guard(() => dev.activate?.());
    }
  }

  /** Re-runs every live queue's handler (after a snapshot restore, requests are replayed). */
  kick(): void {
    if (!this.queuesLive()) return;
    for (const q of this.queues) if (q.ready) this.guard(() => this.device.onNotify(q.index));
  }

  saveState(): VirtioMmioState {
    return {
      version: 1, deviceId: this.device.deviceId, status: this.status, deviceFeaturesSel: this.deviceFeaturesSel, driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(16), queueSel: this.queueSel, interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration, queues: this.queues.map((q) => q.saveState()), device: this.device.saveState(),
    };
  }

  /** Restores registers and queues. Restore guest RAM first, then call `kick()` to replay in-flight requests. */
  loadState(s: VirtioMmioState): void {
    if (s === null || typeof s !== "object" || s.version !== 1) throw new Error("virtio-mmio: unsupported snapshot");
    if (s.deviceId !== this.device.deviceId) throw new Error(`virtio-mmio: snapshot holds device id ${s.deviceId}, this slot has ${this.device.deviceId}`);
    if (!Array.isArray(s.queues) || s.queues.length !== this.queues.length || !/^[0-9a-f]+$/.test(s.driverFeatures)) {
      throw new Error("virtio-mmio: incompatible snapshot");
    }
    this.device.loadState(s.device); // first: it checks that the backend matches
    this.status = s.status; this.deviceFeaturesSel = s.deviceFeaturesSel; this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = BigInt("0x" + s.driverFeatures); this.queueSel = s.queueSel;
    this.interruptStatus = s.interruptStatus; this.configGeneration = s.configGeneration;
    s.queues.forEach((qs, i) => this.queues[i].loadState(qs));
    this.irq.set(this.interruptStatus !== 0);
  }
}

/**
 * The subset of the FDT builder (FdtBuilder in src/system/fdt.ts) this module needs. Structural,
 * so the device layer does not depend on the builder's full surface.
 */
export interface FdtNodeWriter {
  beginNode(name: string): unknown;
  propCells(name: string, cells: readonly number[]): unknown;
  propString(name: string, value: string): unknown;
  endNode(): unknown;
}

/**
 * Writes QEMU virt's node (inside /soc, #address-cells = #size-cells = 2):
 * virtio_mmio@base { interrupts = <irq>; interrupt-parent = <&plic>; reg = <0 base 0 size>; compatible = "virtio,mmio"; }
 */
export function virtioMmioFdt(fdt: FdtNodeWriter, base: number, size: number, irq: number, plicPhandle: number): void {
  const hi = (v: number): number => Math.floor(v / 2 ** 32) >>> 0;
  fdt.beginNode(`virtio_mmio@${base.toString(16)}`);
  fdt.propCells("interrupts", [irq]);
  fdt.propCells("interrupt-parent", [plicPhandle]);
  fdt.propCells("reg", [hi(base), base >>> 0, hi(size), size >>> 0]);
  fdt.propString("compatible", "virtio,mmio");
  fdt.endNode();
}

// virtio-net (device id 1, virtio 1.2 section 5.1): receiveq 0 / transmitq 1, no control queue,
// no multiqueue. Frames go to and come from a `NetBackend` (src/net/backend.ts).
//
// Offered: VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC (the MAC in config space), VIRTIO_NET_F_STATUS
// (link status, always up unless setLink(false)), VIRTIO_NET_F_MRG_RXBUF (a received frame may
// span several receive chains; Linux then posts page-fragment buffers instead of one 1.5 KiB
// buffer per frame), INDIRECT_DESC and EVENT_IDX.
// Not offered: checksum offload (VIRTIO_NET_F_CSUM / GUEST_CSUM) and GSO/TSO. Without them every
// frame in both directions is a complete Ethernet frame of at most MTU 1500 with correct
// checksums, which is what the user-mode stack checks on input and produces on output.
//
// 5.1.6: with VIRTIO_F_VERSION_1 every buffer starts with the 12-byte virtio_net_hdr
// { u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16 csum_start; le16 csum_offset;
//   le16 num_buffers; } ("num_buffers" is always present for VERSION_1 devices).
import type { AccessWidth } from "../../memory/device.js";
import { ETH_FRAME_MAX_VLAN, ETH_HEADER_LEN, type NetBackend, type NetFrontend } from "../../net/backend.js";
import {
  DescChain, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport, featureBit,
  readConfigBytes,
} from "./virtio_mmio.js";

export const VIRTIO_ID_NET = 1;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
/** sizeof(struct virtio_net_hdr_mrg_rxbuf): the header of every VERSION_1 buffer. */
export const VIRTIO_NET_HDR_SIZE = 12;
/** Offset of num_buffers in the header. */
const HDR_NUM_BUFFERS = 10;
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
/** QEMU's default MAC prefix (52:54:00, locally administered). */
export const QEMU_MAC_PREFIX = [0x52, 0x54, 0x00] as const;
const MAC_LEN = 6;

/** "52:54:00:12:34:56" → bytes; null when malformed or a multicast address. */
export function parseMac(s: string): Uint8Array | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  if (m === null) return null;
  const b = Uint8Array.from(m.slice(1).map((x) => parseInt(x, 16)));
  return (b[0] & 1) !== 0 ? null : b; // the I/G bit: a NIC's own address is unicast
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, MAC_LEN), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** QEMU's default for NIC `index`: 52:54:00:12:34:56, :57, ... */
export function defaultMac(index = 0): Uint8Array {
  return Uint8Array.of(...QEMU_MAC_PREFIX, 0x12, 0x34, (0x56 + index) & 0xff);
}

export interface VirtioNetState { kind: "net"; version: 1; mac: string; linkUp: boolean }

export interface VirtioNetStats {
  txFrames: number; rxFrames: number;
  /** Guest frames not passed on: shorter than an Ethernet header or longer than ETH_FRAME_MAX_VLAN. */
  txDropped: number;
  /** Host frames dropped: bigger than the receive buffer the guest posted (without MRG_RXBUF). */
  rxDropped: number;
}

export class VirtioNet implements VirtioDevice, NetFrontend {
  readonly deviceId = VIRTIO_ID_NET;
  readonly features: bigint;
  readonly numQueues = 2;
  readonly queueMax: number;
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  private transport: VirtioTransport | null = null;
  /** config: mac[6], le16 status (max_virtqueue_pairs, mtu: only with MQ / MTU, not offered). */
  private readonly config = new Uint8Array(8);
  /**
   * Receive chains popped to size up a frame (canReceive) but not used yet. They stay owned by
   * the device (in the queue's in-flight set, so a snapshot replays them) until a frame fills them.
   */
  private held: DescChain[] = [];

  /** `mrgRxbuf: false` withholds VIRTIO_NET_F_MRG_RXBUF (QEMU's `-device virtio-net,mrg_rxbuf=off`). */
  constructor(readonly backend: NetBackend, opts: { mac?: Uint8Array; queueSize?: number; mrgRxbuf?: boolean } = {}) {
    this.features = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(VIRTIO_F_EVENT_IDX)
      | featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_STATUS) | (opts.mrgRxbuf === false ? 0n : featureBit(VIRTIO_NET_F_MRG_RXBUF));
    this.queueMax = opts.queueSize ?? 256;
    this.config.set((opts.mac ?? defaultMac()).subarray(0, MAC_LEN), 0);
    this.config[6] = VIRTIO_NET_S_LINK_UP;
    backend.attach(this);
  }

  get mac(): Uint8Array { return this.config.slice(0, MAC_LEN); }
  get linkUp(): boolean { return (this.config[6] & VIRTIO_NET_S_LINK_UP) !== 0; }

  /** Link status change (5.1.4: the device signals a configuration change). */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.config[6] = up ? VIRTIO_NET_S_LINK_UP : 0;
    this.transport?.configChanged();
  }

  attach(t: VirtioTransport): void { this.transport = t; }
  readConfig(offset: number, width: AccessWidth): number { return readConfigBytes(this.config, offset, width); }
  /** 5.1.4: mac is read-only to a VERSION_1 driver (it would use VIRTIO_NET_CTRL_MAC_ADDR_SET). */
  writeConfig(): void { /* read-only */ }

  private get mergeable(): boolean {
    return this.transport !== null && (this.transport.driverFeatures & featureBit(VIRTIO_NET_F_MRG_RXBUF)) !== 0n;
  }

  private heldCapacity(): number { return this.held.reduce((s, c) => s + c.writableLen, 0); }

  canReceive(len: number): boolean {
    const t = this.transport;
    if (t === null || !this.linkUp) return false;
    this.held = this.held.filter((c) => c.live);
    const need = VIRTIO_NET_HDR_SIZE + len;
    const q = t.queue(RX_QUEUE);
    if (!this.mergeable) {
      if (this.held.length === 0) { const c = q.pop(); if (c !== null) this.held.push(c); }
      return this.held.length > 0;
    }
    while (this.heldCapacity() < need) {
      const c = q.pop();
      if (c === null) return false;
      this.held.push(c);
    }
    return true;
  }

  deliver(frame: Uint8Array): void {
    const t = this.transport;
    if (t === null || !this.canReceive(frame.length)) { this.stats.rxDropped++; return; }
    const q = t.queue(RX_QUEUE);
    const hdr = new Uint8Array(VIRTIO_NET_HDR_SIZE); // flags 0, GSO_NONE: a complete, checksummed frame
    if (!this.mergeable) {
      const c = this.held[0];
      if (c.writableLen < VIRTIO_NET_HDR_SIZE + frame.length) { this.stats.rxDropped++; return; } // chain kept for a smaller frame
      this.held.shift();
      hdr[HDR_NUM_BUFFERS] = 1; // 5.1.6.3.1: "the device MUST set num_buffers to 1" without MRG_RXBUF
      c.write(0, hdr);
      c.write(VIRTIO_NET_HDR_SIZE, frame);
      q.push(c, VIRTIO_NET_HDR_SIZE + frame.length);
      this.stats.rxFrames++;
      return;
    }
    // 5.1.6.4.2: the header goes at the start of the first buffer; num_buffers counts the chains used.
    const whole = new Uint8Array(VIRTIO_NET_HDR_SIZE + frame.length);
    whole.set(frame, VIRTIO_NET_HDR_SIZE);
    const used: { c: DescChain; n: number }[] = [];
    for (let off = 0; off < whole.length;) {
      const c = this.held.shift()!;
      const n = Math.min(c.writableLen, whole.length - off);
      used.push({ c, n });
      off += n;
    }
    whole[HDR_NUM_BUFFERS] = used.length & 0xff;
    whole[HDR_NUM_BUFFERS + 1] = used.length >>> 8;
    let off = 0;
    for (const u of used) { u.c.write(0, whole.subarray(off, off + u.n)); off += u.n; }
    for (const u of used) q.push(u.c, u.n);
    this.stats.rxFrames++;
  }

  activate(): void { this.backend.rxReady(); }

  onNotify(queue: number): void {
    const t = this.transport;
    if (t === null) return;
    if (queue === RX_QUEUE) { this.backend.rxReady(); return; }
    if (queue !== TX_QUEUE) return;
    const q = t.queue(TX_QUEUE);
    for (let c = q.pop(); c !== null; c = q.pop()) {
      // The header (no offloads negotiated: flags 0, GSO_NONE) is skipped; the rest is the frame.
      const len = c.readableLen - VIRTIO_NET_HDR_SIZE;
      const frame = len >= ETH_HEADER_LEN && len <= ETH_FRAME_MAX_VLAN ? c.read(VIRTIO_NET_HDR_SIZE, len) : null;
      q.push(c, 0);
      if (frame === null) { this.stats.txDropped++; continue; }
      this.stats.txFrames++;
      if (this.linkUp) this.backend.transmit(frame);
    }
  }

  reset(): void { this.held = []; }

  saveState(): VirtioNetState {
    // Held receive chains are in the queue's in-flight list and are replayed after a restore.
    return { kind: "net", version: 1, mac: formatMac(this.mac), linkUp: this.linkUp };
  }

  loadState(s: VirtioNetState): void {
    if (s.kind !== "net" || s.version !== 1 || typeof s.linkUp !== "boolean") throw new Error("virtio-net: incompatible state");
    const mac = parseMac(s.mac);
    if (mac === null) throw new Error(`virtio-net: bad MAC in snapshot: ${String(s.mac)}`);
    this.config.set(mac, 0);
    this.config[6] = s.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    this.held = [];
  }
}

// virtio-net (device id 1, virtio 1.2 section 5.1): receiveq 0 / transmitq 1, no control queue,
// no multiqueue. Frames go to and come from a `NetBackend` (src/net/backend.ts).
//
// Offered: VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC (the MAC in config space), VIRTIO_NET_F_STATUS
// (link status, always up unless setLink(false)), VIRTIO_NET_F_MRG_RXBUF (a received frame may
// span several receive chains; Linux then posts page-fragment buffers instead of one 1.5 KiB
// buffer per frame), INDIRECT_DESC and EVENT_IDX, and the offloads (each can be withheld, as
// QEMU's csum=off, guest_csum=off, host_tso4=off, guest_tso4=off):
//  - VIRTIO_NET_F_CSUM: the guest may leave a TCP/UDP checksum partial (NEEDS_CSUM); the device
//    completes it, unless the backend takes partial frames (the user-mode stack, which ends the
//    connection itself and never needs the sum).
//  - VIRTIO_NET_F_HOST_TSO4: the guest may hand over TCP/IPv4 segments of up to 64 KiB with the
//    MSS in gso_size; a backend that takes them gets them whole, another gets them cut into
//    frames of one MSS (src/net/offload.ts), as a NIC puts them on the wire.
//  - VIRTIO_NET_F_GUEST_CSUM: frames to the guest may carry a partial checksum (NEEDS_CSUM) or be
//    marked DATA_VALID, so the guest does not sum what the stack built.
//  - VIRTIO_NET_F_GUEST_TSO4: the backend may hand the guest TCP/IPv4 segments longer than one
//    frame, which the guest takes as one (as after GRO).
// A guest that negotiates none of them sees only complete frames of at most MTU 1500 with
// correct checksums both ways.
//
// 5.1.6: with VIRTIO_F_VERSION_1 every buffer starts with the 12-byte virtio_net_hdr
// { u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size; le16 csum_start; le16 csum_offset;
//   le16 num_buffers; } ("num_buffers" is always present for VERSION_1 devices).
import type { AccessWidth } from "../../memory/device.js";
import {
  ETH_FRAME_MAX_VLAN, ETH_HEADER_LEN, NET_FRAME_CSUM_PARTIAL, NET_FRAME_CSUM_VALID, NET_OFFLOAD_CSUM, NET_OFFLOAD_TSO4,
  TSO_FRAME_MAX, type NetBackend, type NetFrontend,
} from "../../net/backend.js";
import { completeChecksum, segmentTcp4, transportChecksum } from "../../net/offload.js";
import {
  DescChain, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport, featureBit,
  readConfigBytes,
} from "./virtio_mmio.js";

export const VIRTIO_ID_NET = 1;
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
/** sizeof(struct virtio_net_hdr_mrg_rxbuf): the header of every VERSION_1 buffer. */
export const VIRTIO_NET_HDR_SIZE = 12;
// virtio_net_hdr fields (5.1.6).
const HDR_FLAGS = 0, HDR_GSO_TYPE = 1, HDR_HDR_LEN = 2, HDR_GSO_SIZE = 4, HDR_CSUM_START = 6, HDR_CSUM_OFFSET = 8;
/** Offset of num_buffers in the header. */
const HDR_NUM_BUFFERS = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;
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
  /**
   * Guest frames not passed on: shorter than an Ethernet header, longer than ETH_FRAME_MAX_VLAN
   * (TSO_FRAME_MAX for a TSO segment), or with offload fields that make no sense.
   */
  txDropped: number;
  /** Host frames dropped: bigger than the receive buffer the guest posted (without MRG_RXBUF), or offloaded beyond what the guest took. */
  rxDropped: number;
  /** TSO segments from the guest, and the frames the device cut them into for a backend without TSO. */
  txTso: number; txTsoFrames: number;
  /** Large segments handed to the guest (GUEST_TSO4). */
  rxTso: number;
}

/** Which offloads to offer (all by default); the names are QEMU's virtio-net properties. */
export interface VirtioNetOffloads { csum?: boolean; guestCsum?: boolean; hostTso4?: boolean; guestTso4?: boolean }

export interface VirtioNetOptions {
  mac?: Uint8Array;
  queueSize?: number;
  /** false withholds VIRTIO_NET_F_MRG_RXBUF (QEMU's `-device virtio-net,mrg_rxbuf=off`). */
  mrgRxbuf?: boolean;
  /** false withholds every offload; an object withholds those set to false. */
  offloads?: boolean | VirtioNetOffloads;
}

const bit32 = (b: number): number => 2 ** b;

export class VirtioNet implements VirtioDevice, NetFrontend {
  readonly deviceId = VIRTIO_ID_NET;
  readonly features: bigint;
  readonly numQueues = 2;
  readonly queueMax: number;
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0, txTso: 0, txTsoFrames: 0, rxTso: 0 };
  private transport: VirtioTransport | null = null;
  /** config: mac[6], le16 status (max_virtqueue_pairs, mtu: only with MQ / MTU, not offered). */
  private readonly config = new Uint8Array(8);
  /**
   * Receive chains popped to size up a frame (canReceive) but not used yet. They stay owned by
   * the device (in the queue's in-flight set, so a snapshot replays them) until a frame fills them.
   */
  private held: DescChain[] = [];
  /** Writable bytes of `held`. */
  private heldBytes = 0;
  /** The low 32 bits of the driver's features (every net feature used here is below 32), cached per value. */
  private featuresSeen = -1n;
  private negotiated = 0;
  private readonly hdr = new Uint8Array(VIRTIO_NET_HDR_SIZE);

  constructor(readonly backend: NetBackend, opts: VirtioNetOptions = {}) {
    const o = opts.offloads === false ? { csum: false, guestCsum: false } : opts.offloads === true || opts.offloads === undefined ? {} : opts.offloads;
    const csum = o.csum !== false, guestCsum = o.guestCsum !== false;
    // 5.1.3.1: HOST_TSO4 requires CSUM, GUEST_TSO4 requires GUEST_CSUM.
    const offered = [VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS,
      ...(opts.mrgRxbuf === false ? [] : [VIRTIO_NET_F_MRG_RXBUF]),
      ...(csum ? [VIRTIO_NET_F_CSUM] : []), ...(csum && o.hostTso4 !== false ? [VIRTIO_NET_F_HOST_TSO4] : []),
      ...(guestCsum ? [VIRTIO_NET_F_GUEST_CSUM] : []), ...(guestCsum && o.guestTso4 !== false ? [VIRTIO_NET_F_GUEST_TSO4] : [])];
    this.features = offered.reduce((f, b) => f | featureBit(b), 0n);
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

  /** Whether the driver accepted feature `bit` (< 32). */
  private has(bit: number): boolean {
    const t = this.transport;
    if (t === null) return false;
    if (t.driverFeatures !== this.featuresSeen) {
      this.featuresSeen = t.driverFeatures;
      this.negotiated = Number(t.driverFeatures & 0xffffffffn);
    }
    return (this.negotiated & bit32(bit)) !== 0;
  }

  private get mergeable(): boolean { return this.has(VIRTIO_NET_F_MRG_RXBUF); }

  /** NET_OFFLOAD_* the guest takes: partial checksums with GUEST_CSUM, large segments with GUEST_TSO4. */
  get offloads(): number {
    if (!this.has(VIRTIO_NET_F_GUEST_CSUM)) return 0;
    return NET_OFFLOAD_CSUM | (this.has(VIRTIO_NET_F_GUEST_TSO4) ? NET_OFFLOAD_TSO4 : 0);
  }

  private dropStaleHeld(): void {
    if (this.held.every((c) => c.live)) return;
    this.held = this.held.filter((c) => c.live);
    this.heldBytes = this.held.reduce((n, c) => n + c.writableLen, 0);
  }

  private hold(c: DescChain): void { this.held.push(c); this.heldBytes += c.writableLen; }

  private unhold(): DescChain {
    const c = this.held.shift()!;
    this.heldBytes -= c.writableLen;
    return c;
  }

  canReceive(len: number): boolean {
    const t = this.transport;
    if (t === null || !this.linkUp) return false;
    this.dropStaleHeld();
    const q = t.queue(RX_QUEUE);
    if (!this.mergeable) {
      if (this.held.length === 0) { const c = q.pop(); if (c !== null) this.hold(c); }
      return this.held.length > 0;
    }
    const need = VIRTIO_NET_HDR_SIZE + len;
    while (this.heldBytes < need) {
      const c = q.pop();
      if (c === null) return false;
      this.hold(c);
    }
    return true;
  }

  /**
   * Fills the header for a frame from the backend; false when the frame asks for an offload
   * the guest did not accept and cannot be mended here (a large segment).
   */
  private rxHeader(frame: Uint8Array, flags: number, gsoSize: number): boolean {
    const h = this.hdr;
    h.fill(0);
    const guestCsum = this.has(VIRTIO_NET_F_GUEST_CSUM);
    if (gsoSize > 0) {
      if (!this.has(VIRTIO_NET_F_GUEST_TSO4) || (flags & NET_FRAME_CSUM_PARTIAL) === 0) return false;
      const tc = transportChecksum(frame);
      if (tc === null || tc.start + 13 > frame.length) return false;
      h[HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
      // 5.1.6.4.1 (hdr_len): the length of the headers, Ethernet to the end of TCP's.
      writeLe16(h, HDR_HDR_LEN, tc.start + (frame[tc.start + 12] >>> 4) * 4);
      writeLe16(h, HDR_GSO_SIZE, gsoSize);
      this.stats.rxTso++;
    }
    if (flags & NET_FRAME_CSUM_PARTIAL) {
      const tc = transportChecksum(frame);
      if (tc === null) return false;
      if (guestCsum) {
        // 5.1.6.4.1: NEEDS_CSUM with csum_start/csum_offset, as the driver would have sent it.
        h[HDR_FLAGS] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        writeLe16(h, HDR_CSUM_START, tc.start);
        writeLe16(h, HDR_CSUM_OFFSET, tc.offset);
      } else if (!completeChecksum(frame, tc.start, tc.offset)) return false; // a guest that renegotiated meanwhile
    } else if ((flags & NET_FRAME_CSUM_VALID) && guestCsum) {
      h[HDR_FLAGS] = VIRTIO_NET_HDR_F_DATA_VALID;
    }
    return true;
  }

  deliver(frame: Uint8Array, flags = 0, gsoSize = 0): void {
    const t = this.transport;
    if (t === null || !this.canReceive(frame.length) || !this.rxHeader(frame, flags, gsoSize)) { this.stats.rxDropped++; return; }
    const q = t.queue(RX_QUEUE);
    const hdr = this.hdr;
    const total = VIRTIO_NET_HDR_SIZE + frame.length;
    if (!this.mergeable) {
      const c = this.held[0];
      if (c.writableLen < total) { this.stats.rxDropped++; return; } // chain kept for a smaller frame
      this.unhold();
      writeLe16(hdr, HDR_NUM_BUFFERS, 1); // 5.1.6.3.1: "the device MUST set num_buffers to 1" without MRG_RXBUF
      c.write(0, hdr);
      c.write(VIRTIO_NET_HDR_SIZE, frame);
      q.push(c, total);
      this.stats.rxFrames++;
      return;
    }
    // 5.1.6.4.2: the header goes at the start of the first buffer; num_buffers counts the chains used.
    let chains = 0;
    for (let room = 0; room < total; chains++) room += this.held[chains].writableLen;
    writeLe16(hdr, HDR_NUM_BUFFERS, chains);
    const used: { c: DescChain; n: number }[] = [];
    for (let off = 0; off < total;) {
      const c = this.unhold();
      const n = Math.min(c.writableLen, total - off);
      // This chain holds bytes [off, off + n) of header + frame.
      let w = 0;
      if (off < VIRTIO_NET_HDR_SIZE) w = c.write(0, hdr.subarray(off, Math.min(VIRTIO_NET_HDR_SIZE, off + n)));
      if (off + n > VIRTIO_NET_HDR_SIZE) c.write(w, frame.subarray(Math.max(0, off - VIRTIO_NET_HDR_SIZE), off + n - VIRTIO_NET_HDR_SIZE));
      used.push({ c, n });
      off += n;
    }
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
    const tso = this.has(VIRTIO_NET_F_HOST_TSO4);
    const max = tso ? TSO_FRAME_MAX : ETH_FRAME_MAX_VLAN;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const len = c.readableLen - VIRTIO_NET_HDR_SIZE;
      const ok = len >= ETH_HEADER_LEN && len <= max;
      const hdr = ok ? c.read(0, VIRTIO_NET_HDR_SIZE) : null;
      const frame = ok ? c.read(VIRTIO_NET_HDR_SIZE, len) : null;
      q.push(c, 0);
      if (hdr === null || frame === null) { this.stats.txDropped++; continue; }
      this.transmitFrame(hdr, frame, tso);
    }
  }

  /** One frame from the guest with its header: offloads done here unless the backend takes them. */
  private transmitFrame(hdr: Uint8Array, frame: Uint8Array, tso: boolean): void {
    const takes = this.backend.offloads ?? 0;
    const gso = hdr[HDR_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN;
    const needsCsum = (hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    if (gso !== VIRTIO_NET_HDR_GSO_NONE) {
      // 5.1.6.2.1: a TSO frame always has NEEDS_CSUM; only TCPV4 is offered (no ECN, no TSO6, no UFO).
      if (!tso || gso !== VIRTIO_NET_HDR_GSO_TCPV4 || !needsCsum || (hdr[HDR_GSO_TYPE] & VIRTIO_NET_HDR_GSO_ECN)) { this.stats.txDropped++; return; }
      this.stats.txTso++;
      if (takes & NET_OFFLOAD_TSO4) { this.send(frame, NET_FRAME_CSUM_PARTIAL); return; }
      const segs = segmentTcp4(frame, readLe16(hdr, HDR_GSO_SIZE));
      if (segs === null || segs.some((f) => f.length > ETH_FRAME_MAX_VLAN)) { this.stats.txDropped++; return; }
      this.stats.txTsoFrames += segs.length;
      for (const f of segs) this.send(f, 0);
      return;
    }
    if (frame.length > ETH_FRAME_MAX_VLAN) { this.stats.txDropped++; return; }
    if (needsCsum) {
      if (takes & NET_OFFLOAD_CSUM) { this.send(frame, NET_FRAME_CSUM_PARTIAL); return; }
      // 5.1.6.2: "the device MUST ... compute the checksum from csum_start to the end of the packet and store it at csum_start + csum_offset".
      if (!completeChecksum(frame, readLe16(hdr, HDR_CSUM_START), readLe16(hdr, HDR_CSUM_OFFSET))) { this.stats.txDropped++; return; }
    }
    this.send(frame, 0);
  }

  private send(frame: Uint8Array, flags: number): void {
    this.stats.txFrames++;
    if (this.linkUp) this.backend.transmit(frame, flags);
  }

  reset(): void { this.held = []; this.heldBytes = 0; }

  saveState(): VirtioNetState {
    // Held receive chains are in the queue's in-flight list and are replayed after a restore.
    // The offloads in force are the driver's features, which the transport saves.
    return { kind: "net", version: 1, mac: formatMac(this.mac), linkUp: this.linkUp };
  }

  loadState(s: VirtioNetState): void {
    if (s.kind !== "net" || s.version !== 1 || typeof s.linkUp !== "boolean") throw new Error("virtio-net: incompatible state");
    const mac = parseMac(s.mac);
    if (mac === null) throw new Error(`virtio-net: bad MAC in snapshot: ${String(s.mac)}`);
    this.config.set(mac, 0);
    this.config[6] = s.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    this.held = [];
    this.heldBytes = 0;
  }
}

function readLe16(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8); }
function writeLe16(b: Uint8Array, o: number, v: number): void { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; }

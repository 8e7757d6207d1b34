// virtio-console (device id 3, virtio 1.2 section 5.3): one port, receiveq 0 / transmitq 1, no
// MULTIPORT. Host output goes to a `CharBackend`; host input arrives through `receive()` and is
// buffered until the guest posts receive buffers.
import type { AccessWidth } from "../../memory/device.js";
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport, featureBit,
  readConfigBytes,
} from "./virtio_mmio.js";

export interface CharBackend { write(bytes: Uint8Array): void }

export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_F_SIZE = 0;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;
/** Input kept while the guest has no receive buffers; older bytes beyond this are dropped. */
const MAX_PENDING_INPUT = 1 << 20;
/** Guest output is copied out in pieces of this size (never one host buffer per chain). */
const TX_CHUNK = 64 * 1024;
/**
 * Output taken from one transmit chain at most. Linux sends at most a few pages per buffer; a
 * chain of many descriptors all covering guest RAM could otherwise name 2^32 bytes per
 * descriptor for the host to copy. The rest of such a chain is dropped.
 */
const MAX_TX_PER_CHAIN = 1 << 20;

/** Host input the guest has not taken yet (bytes). */
export interface VirtioConsoleState { kind: "console"; version: 1; pending: number[] }

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(VIRTIO_F_EVENT_IDX)
    | featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE);
  readonly numQueues = 2;
  readonly queueMax: number;
  private transport: VirtioTransport | null = null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32 */
  private readonly config = new Uint8Array(12);

  constructor(readonly backend: CharBackend, opts: { queueSize?: number } = {}) {
    this.queueMax = opts.queueSize ?? 64;
    this.config[4] = 1; // max_nr_ports (only meaningful with MULTIPORT)
  }

  attach(t: VirtioTransport): void { this.transport = t; }
  readConfig(offset: number, width: AccessWidth): number { return readConfigBytes(this.config, offset, width); }
  writeConfig(offset: number, _width: AccessWidth, value: number): void {
    if (offset === 8) this.backend.write(Uint8Array.of(value & 0xff)); // emerg_wr
  }

  /** Host input (keyboard, socket, ...) for the guest. */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes.slice());
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > MAX_PENDING_INPUT && this.pending.length > 1) this.pendingBytes -= this.pending.shift()!.length;
    this.drainInput();
  }

  /** Bytes waiting for guest receive buffers. */
  get pendingInput(): number { return this.pendingBytes; }

  private drainInput(): void {
    const t = this.transport;
    if (t === null || this.pendingBytes === 0) return;
    const q = t.queue(0);
    while (this.pendingBytes > 0) {
      if (q.pending() === 0) return;
      const c = q.pop();
      if (c === null) return;
      let n = 0;
      while (n < c.writableLen && this.pending.length > 0) {
        const head = this.pending[0];
        const wrote = c.write(n, head);
        n += wrote;
        this.pendingBytes -= wrote;
        if (wrote === head.length) this.pending.shift(); else this.pending[0] = head.subarray(wrote);
      }
      q.push(c, n);
    }
  }

  activate(): void { this.drainInput(); }

  onNotify(queue: number): void {
    const t = this.transport;
    if (t === null) return;
    if (queue === 0) { this.drainInput(); return; }
    if (queue !== 1) return;
    const q = t.queue(1);
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const n = Math.min(c.readableLen, MAX_TX_PER_CHAIN);
      for (let off = 0; off < n; off += TX_CHUNK) this.backend.write(c.read(off, Math.min(TX_CHUNK, n - off)));
      q.push(c, 0);
    }
  }

  reset(): void { /* pending host input is kept for the next driver */ }

  saveState(): VirtioConsoleState {
    const all = new Uint8Array(this.pendingBytes);
    let o = 0;
    for (const p of this.pending) { all.set(p, o); o += p.length; }
    return { kind: "console", version: 1, pending: Array.from(all) };
  }

  loadState(s: VirtioConsoleState): void {
    if (s?.kind !== "console" || s.version !== 1 || !Array.isArray(s.pending)) throw new Error("virtio-console: unsupported snapshot");
    this.pending = s.pending.length > 0 ? [Uint8Array.from(s.pending)] : [];
    this.pendingBytes = s.pending.length;
  }
}

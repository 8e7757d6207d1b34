// virtio-rng (device id 4, virtio 1.2 section 5.4): one request queue; every device-writable
// buffer is filled with random bytes from an injected source.
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDevice, VirtioTransport, featureBit,
} from "./virtio_mmio.js";

export const VIRTIO_ID_RNG = 4;
/** Bytes handed out per request at most; a larger buffer gets a short (still valid) fill. */
const MAX_PER_REQUEST = 64 * 1024;
/** getRandomValues refuses more than 65536 bytes per call. */
const CRYPTO_CHUNK = 65536;

export function defaultRandomBytes(dst: Uint8Array): void {
  for (let o = 0; o < dst.length; o += CRYPTO_CHUNK) globalThis.crypto.getRandomValues(dst.subarray(o, o + CRYPTO_CHUNK));
}

/** The device has no state beyond its queue (the transport's). */
export interface VirtioRngState { kind: "rng"; version: 1 }

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_INDIRECT_DESC) | featureBit(VIRTIO_F_EVENT_IDX);
  readonly numQueues = 1;
  readonly queueMax = 64;
  private transport: VirtioTransport | null = null;

  constructor(private readonly randomBytes: (dst: Uint8Array) => void = defaultRandomBytes) {}

  attach(t: VirtioTransport): void { this.transport = t; }
  readConfig(): number { return 0; }
  writeConfig(): void { /* no config space */ }
  reset(): void { /* stateless */ }

  onNotify(queue: number): void {
    const t = this.transport;
    if (t === null || queue !== 0) return;
    const q = t.queue(0);
    for (let c = q.pop(); c !== null; c = q.pop()) {
      const buf = new Uint8Array(Math.min(c.writableLen, MAX_PER_REQUEST));
      this.randomBytes(buf);
      q.push(c, c.write(0, buf));
    }
  }

  saveState(): VirtioRngState { return { kind: "rng", version: 1 }; }
  loadState(s: VirtioRngState): void {
    if (s.kind !== "rng" || s.version !== 1) throw new Error("virtio-rng: incompatible state");
  }
}

// Host side of a character device (serial console, virtio-console): the device writes guest
// output to a CharBackend; the host pushes input into the device through CharFrontend.

export interface CharBackend {
  /** Guest output. `bytes` may be a reused buffer: copy it if you keep it. */
  write(bytes: Uint8Array): void;
}

export interface CharFrontend {
  /** Host input for the guest (keyboard, socket). The device queues it. */
  receive(bytes: Uint8Array): void;
}

/** Discards output. */
export const nullCharBackend: CharBackend = { write(): void {} };

/** Collects output in memory (tests, headless runs). */
export class CaptureCharBackend implements CharBackend {
  private chunks: Uint8Array[] = [];
  write(bytes: Uint8Array): void { this.chunks.push(bytes.slice()); }
  /** All bytes written so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
  text(): string { return new TextDecoder().decode(this.bytes()); }
  clear(): void { this.chunks = []; }
}

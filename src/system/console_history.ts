// The last bytes a machine wrote to its console (UART, virtio-console, SBI console calls), kept
// so that a snapshot carries them: a machine restored elsewhere (another process, a browser tab)
// shows the output that led to its state, as a terminal that stayed open would. Host-side
// only: the guest cannot observe it. A ring of CONSOLE_HISTORY_BYTES.

/** How much console output a machine keeps (and a snapshot carries). */
export const CONSOLE_HISTORY_BYTES = 64 * 1024;

export class ConsoleHistory {
  private readonly ring: Uint8Array;
  /** Where the next byte goes. */
  private head = 0;
  private filled = false;

  constructor(readonly capacity = CONSOLE_HISTORY_BYTES) { this.ring = new Uint8Array(capacity); }

  push(bytes: Uint8Array): void {
    const n = bytes.length, cap = this.capacity;
    if (n === 1) { // the UART's one byte at a time
      this.ring[this.head] = bytes[0];
      if (++this.head === cap) { this.head = 0; this.filled = true; }
      return;
    }
    const src = n > cap ? bytes.subarray(n - cap) : bytes;
    const first = Math.min(src.length, cap - this.head);
    this.ring.set(src.subarray(0, first), this.head);
    this.ring.set(src.subarray(first), 0);
    const end = this.head + src.length;
    if (end >= cap) this.filled = true;
    this.head = end % cap;
  }

  /** The kept bytes, oldest first (a copy). */
  bytes(): Uint8Array {
    if (!this.filled) return this.ring.slice(0, this.head);
    const out = new Uint8Array(this.capacity);
    out.set(this.ring.subarray(this.head), 0);
    out.set(this.ring.subarray(0, this.head), this.capacity - this.head);
    return out;
  }

  /** Replaces the history (a restore): the last `capacity` bytes of `bytes`. */
  set(bytes: Uint8Array): void {
    this.head = 0;
    this.filled = false;
    this.push(bytes);
  }
}

/** Bytes as a string of one char (U+0000..U+00FF) per byte, which JSON carries losslessly. */
export function bytesToLatin1(bytes: Uint8Array): string {
  let s = "";
  const CHUNK = 8192;
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return s;
}

/** The inverse of bytesToLatin1; null when a char is above U+00FF (not such a string). */
export function latin1ToBytes(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return null;
    out[i] = c;
  }
  return out;
}

// Random bytes for the host side of rvisor (container IDs and names, the process VM's
// getrandom and AT_RANDOM): read from the kernel's CSPRNG, /dev/urandom, through one descriptor
// kept open. node:crypto gives the same bytes, but loading it (some twenty internal modules) is
// ~3 ms and ~100 page faults of a short `container run`; it serves where /dev/urandom is missing.
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";

const URANDOM = "/dev/urandom";
let fd: number | null | undefined;

/** Fills `b` with cryptographically strong random bytes. */
export function randomFill(b: Uint8Array): void {
  if (fd === undefined) {
    try { fd = openSync(URANDOM, "r"); } catch { fd = null; }
  }
  if (fd !== null) {
    try {
      // Reads from /dev/urandom return what was asked (up to 32 MiB at a time); loop anyway.
      for (let off = 0; off < b.length;) {
        const n = readSync(fd, b, off, b.length - off, null);
        if (n <= 0) throw new Error(`${URANDOM}: short read`);
        off += n;
      }
      return;
    } catch {
      try { closeSync(fd); } catch { /* already gone */ }
      fd = null;
    }
  }
  (createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto")).randomFillSync(b);
}

/** `n` random bytes as 2n hex digits. */
export function randomHex(n: number): string {
  const b = Buffer.alloc(n);
  randomFill(b);
  return b.toString("hex");
}

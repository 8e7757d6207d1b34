// The host terminal as the guest console: raw mode when stdin is a terminal (so every key,
// Ctrl-C included, goes to the guest), plain pass-through when it is a pipe (scripts can drive
// the guest). Ctrl-A is the escape key, as in QEMU: Ctrl-A X quits, Ctrl-A H lists the keys.
import type { CharBackend } from "../../system/devices/char_backend.js";

const CTRL_A = 0x01;

export const CONSOLE_HELP = "\r\nC-a h    print this help\r\nC-a x    exit rvisor\r\nC-a s    write a snapshot (rvisor run --snapshot-file FILE)\r\nC-a C-a  send C-a to the guest\r\n";

/** Guest output, buffered and written to stdout in batches (per run slice). */
export class StdoutBackend implements CharBackend {
  private chunks: Uint8Array[] = [];
  private size = 0;
  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.size += bytes.length;
    if (this.size > 65536) this.flush();
  }
  flush(): void {
    if (this.size === 0) return;
    const out = Buffer.concat(this.chunks);
    this.chunks = []; this.size = 0;
    process.stdout.write(out);
  }
}

export interface ConsoleHandlers {
  input(bytes: Uint8Array): void;
  quit(): void;
  /** C-a s: write a snapshot (absent: the key does nothing). */
  snapshot?(): void;
}

/** Attaches stdin; returns a function that restores the terminal. */
export function attachStdin(h: ConsoleHandlers): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  let escape = false;
  const onData = (data: Buffer): void => {
    if (!tty) { h.input(data); return; }
    const out: number[] = [];
    for (const b of data) {
      if (escape) {
        escape = false;
        if (b === 0x78 || b === 0x58) { h.quit(); return; }           // x
        if (b === 0x68 || b === 0x48) { process.stdout.write(CONSOLE_HELP); continue; } // h
        if (b === 0x73 || b === 0x53) { h.snapshot?.(); continue; }                    // s
        if (b === CTRL_A) { out.push(CTRL_A); continue; }
        continue;
      }
      if (b === CTRL_A) { escape = true; continue; }
      out.push(b);
    }
    if (out.length > 0) h.input(Uint8Array.from(out));
  };
  stdin.on("data", onData);
  stdin.resume();
  return () => {
    stdin.off("data", onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
  };
}

// Berkeley HTIF as Spike and QEMU's spike machine speak it: the guest writes a 64-bit
// command to the ELF symbol `tohost`: bits 63:56 device, 55:48 command, 47:0 payload.
//   device 0, command 0, payload odd  → exit with status payload >> 1
//   device 1, command 1               → console: print the byte in payload[7:0]
// The host clears `tohost` after each command and answers console writes in `fromhost`.
import { PAGE_WATCH, type Ram } from "../memory/ram.js";
import { hex64 } from "../memory/hex.js";

export class Htif {
  exitCode: number | null = null;
  private readonly out: number[] = [];

  constructor(private readonly ram: Ram, private readonly tohost: number, private readonly fromhost: number | null,
    private readonly onOutput: (bytes: Uint8Array) => void = () => {}, private readonly onExit: () => void = () => {}) {
    if (!ram.contains(tohost, 8)) throw new Error(`HTIF tohost at ${hex64(tohost)} is outside RAM`);
    ram.pageFlags[(tohost - ram.base) >>> 12] |= PAGE_WATCH;
    const prev = ram.watcher;
    ram.watcher = (addr, len) => {
      if (prev !== null) prev(addr, len);
      if (addr < tohost + 8 && addr + len > tohost) this.poll();
    };
  }

  /** Handles a pending command in tohost, if any. */
  poll(): void {
    const lo = this.ram.read32(this.tohost), hi = this.ram.read32(this.tohost + 4);
    if (lo === 0 && hi === 0) return;
    const dev = hi >>> 24, cmd = (hi >>> 16) & 0xff;
    this.ram.u8.fill(0, this.tohost - this.ram.base, this.tohost - this.ram.base + 8);
    if (dev === 0 && cmd === 0) {
      if ((lo & 1) === 1) this.exitCode = ((lo >>> 1) | ((hi & 0xffff) << 31)) >>> 0;
      // Other device-0 commands are proxied syscalls (pk); not supported here.
      else this.exitCode = 0x7fffffff;
      this.onExit();
      return;
    }
    if (dev === 1 && cmd === 1) {
      const ch = lo & 0xff;
      this.onOutput(Uint8Array.of(ch));
      this.out.push(ch);
      if (this.fromhost !== null) { // QEMU's answer: the command bits and 0x100 | ch
        this.ram.write32(this.fromhost, 0x100 | ch);
        this.ram.write32(this.fromhost + 4, hi & 0xffff0000);
      }
    }
  }

  output(): string { return new TextDecoder().decode(Uint8Array.from(this.out)); }
}

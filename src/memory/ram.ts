// Guest physical RAM: one SharedArrayBuffer seen through typed-array views, so harts in
// workers (and a JIT later) can share it. Host byte order must be little-endian (it is on
// every platform Node and browsers run on); RISC-V is little-endian too.
import { hex64 } from "./hex.js";

export const PAGE_CODE = 1, PAGE_WATCH = 2;

export class Ram {
  readonly buffer: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  readonly i8: Int8Array;
  readonly i16: Int16Array;
  readonly size: number;
  /**
   * Per 4 KiB page: PAGE_CODE when decoded instructions are cached for it, PAGE_WATCH when
   * a watcher wants to see stores (HTIF tohost). Harts never put such pages in their write
   * TLB, so every store to them reaches `notifyWrite`.
   */
  readonly pageFlags: Uint8Array;
  /** Called when a store or DMA write touches a PAGE_CODE page (page index from RAM start). */
  codeInvalidator: ((page: number) => void) | null = null;
  /** Called after a store or DMA write touched a PAGE_WATCH page. */
  watcher: ((addr: number, len: number) => void) | null = null;

  /** @param base guest physical address of byte 0  @param size bytes (multiple of 4 KiB) */
  constructor(readonly base: number, size: number) {
    if (size <= 0 || size % 4096 !== 0) throw new Error(`RAM size must be a positive multiple of 4 KiB, got ${size}`);
    this.size = size;
    this.buffer = new SharedArrayBuffer(size);
    this.u8 = new Uint8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.i8 = new Int8Array(this.buffer);
    this.i16 = new Int16Array(this.buffer);
    this.pageFlags = new Uint8Array(size >>> 12);
  }

  /** Must be called after guest RAM at [addr, addr+len) was written other than by a hart's fast path. */
  notifyWrite(addr: number, len: number): void {
    const first = (addr - this.base) >>> 12, last = (addr - this.base + Math.max(len, 1) - 1) >>> 12;
    const flags = this.pageFlags;
    let watched = false;
    for (let p = first; p <= last && p < flags.length; p++) {
      const f = flags[p];
      if (f === 0) continue;
      if ((f & PAGE_CODE) !== 0 && this.codeInvalidator !== null) this.codeInvalidator(p);
      if ((f & PAGE_WATCH) !== 0) watched = true;
    }
    if (watched && this.watcher !== null) this.watcher(addr, len);
  }

  /** True when [addr, addr+len) lies inside RAM (addr is a guest physical address). */
  contains(addr: number, len = 1): boolean {
    return addr >= this.base && addr + len <= this.base + this.size;
  }

  /** Copies host bytes into guest RAM at a guest physical address. */
  write(addr: number, data: Uint8Array): void {
    if (!this.contains(addr, data.length)) throw new RangeError(`write of ${data.length} bytes at ${hex64(addr)} is outside RAM`);
    this.u8.set(data, addr - this.base);
    this.notifyWrite(addr, data.length);
  }

  /** A copy of guest RAM bytes (for device DMA reads, tests and snapshots). */
  read(addr: number, len: number): Uint8Array {
    if (!this.contains(addr, len)) throw new RangeError(`read of ${len} bytes at ${hex64(addr)} is outside RAM`);
    return this.u8.slice(addr - this.base, addr - this.base + len);
  }

  // Little-endian scalar helpers by guest physical address, any alignment. Used by devices (virtqueues), not the hot path.
  read8(a: number): number { return this.u8[a - this.base]; }
  read16(a: number): number { const o = a - this.base; return this.u8[o] | (this.u8[o + 1] << 8); }
  read32(a: number): number { const o = a - this.base; const u = this.u8; return (u[o] | (u[o + 1] << 8) | (u[o + 2] << 16) | (u[o + 3] << 24)) >>> 0; }
  /** 64-bit value as a JS number; exact below 2^53 (addresses and lengths). */
  read64(a: number): number { return this.read32(a) + this.read32(a + 4) * 4294967296; }
  write8(a: number, v: number): void { this.u8[a - this.base] = v; this.notifyWrite(a, 1); }
  write16(a: number, v: number): void { const o = a - this.base; this.u8[o] = v; this.u8[o + 1] = v >>> 8; this.notifyWrite(a, 2); }
  write32(a: number, v: number): void { const o = a - this.base; const u = this.u8; u[o] = v; u[o + 1] = v >>> 8; u[o + 2] = v >>> 16; u[o + 3] = v >>> 24; this.notifyWrite(a, 4); }
  write64(a: number, v: number): void { this.write32(a, v >>> 0); this.write32(a + 4, Math.floor(v / 4294967296) >>> 0); }
}

// A process's address space: physical frames taken from one shared Ram, real Sv39 page tables
// the hart walks, and a JS-side list of areas (VMAs) plus a vpn → frame map. Pages are
// allocated on first touch (the hart's page fault comes back here), so large PROT_NONE
// reservations cost nothing. fork is copy-on-write: private pages are shared read-only between
// parent and child (the frame's reference count says how many spaces hold it) and copied by the
// first write fault (or kernel write) of either side.
import type { Ram } from "../memory/ram.js";
import type { Hart } from "../cpu/hart.js";

export const PAGE = 4096;
export const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100,
  MAP_FIXED_NOREPLACE = 0x100000, MAP_POPULATE = 0x8000;
/** Sv39 user half: [0, 2^38). */
export const USER_TOP = 0x40_0000_0000;
export const STACK_TOP = 0x3f_ffff_f000;
export const MMAP_BASE = 0x3f_f7ff_f000;
const TWO32 = 4294967296;
/** fault()'s result when no frame is left for the page or its page tables. */
export const OUT_OF_MEMORY = -2;
/** The most one kernel copy (AddressSpace.read) moves at once; callers clamp to this. */
export const MAX_COPY = 1 << 24;

/** Where a file-backed area's bytes come from (the file's content at fault time). */
export interface PageSource {
  /** Fills dst with bytes at file offset `off` (zeros past the end of file). */
  readAt(off: number, dst: Uint8Array): void;
  /**
   * For files whose pages are guest frames (memfd): the frame holding the page at `off` (made
   * when absent), with a reference taken for the caller; -1 when no frame is left. MAP_SHARED
   * mappings of such a file map its frames themselves, so every mapping and read/write see
   * one copy, and nothing is written back.
   */
  frameAt?(off: number): number;
  /** For MAP_SHARED file mappings: writes bytes back at `off`. */
  writeAt?(off: number, src: Uint8Array): void;
  /**
   * Sources that hold a file open count the areas mapping them: `hold` when an area is added
   * (a split, a fork's copy), `release` when one goes (munmap, exit, execve). AddressSpace.map
   * takes over the reference its caller holds, so the file closes with its last mapping.
   */
  hold?(): void;
  release?(): void;
  readonly name: string;
}

export interface Vma {
  start: number; end: number; prot: number; shared: boolean;
  src: PageSource | null; off: number; name: string;
}

export class FrameAllocator {
  private next = 0;
  private readonly free: number[] = [];
  readonly refs: Uint16Array;
  constructor(readonly ram: Ram) { this.refs = new Uint16Array(ram.size / PAGE); }
  get used(): number { return this.next - this.free.length; }
  /** A zeroed frame's physical address, or -1 when RAM is exhausted. */
  alloc(): number {
    let idx: number;
    if (this.free.length > 0) idx = this.free.pop() as number;
    else if (this.next < this.refs.length) idx = this.next++;
    else return -1;
    this.refs[idx] = 1;
    const off = idx * PAGE;
    this.ram.u8.fill(0, off, off + PAGE);
    this.ram.notifyWrite(this.ram.base + off, PAGE);
    return this.ram.base + off;
  }
  ref(pa: number): void { this.refs[(pa - this.ram.base) / PAGE]++; }
  /** How many holders the frame at `pa` has (address spaces, page caches of memfds). */
  count(pa: number): number { return this.refs[(pa - this.ram.base) / PAGE]; }
  unref(pa: number): void {
    const idx = (pa - this.ram.base) / PAGE;
    if (--this.refs[idx] === 0) this.free.push(idx);
  }
}

export class AddressSpace {
  readonly vmas: Vma[] = [];
  /** vpn → physical address of the frame. */
  readonly pages = new Map<number, number>();
  readonly root: number;
  private readonly tables: number[] = [];
  readonly harts = new Set<Hart>();
  /** Processes sharing this address space (vfork children). */
  users = 1;
  brkStart = 0;
  brk = 0;
  readonly ram: Ram;

  /** Use AddressSpace.create (which fails cleanly when guest memory is exhausted). */
  private constructor(readonly frames: FrameAllocator, root: number) {
    this.ram = frames.ram;
    this.root = root;
    this.tables.push(root);
  }

  /** A new, empty address space, or null when there is no frame left for its root table. */
  static create(frames: FrameAllocator): AddressSpace | null {
    const root = frames.alloc();
    return root < 0 ? null : new AddressSpace(frames, root);
  }

  /** A page-table frame, or -1 when guest memory is exhausted. */
  private allocTable(): number {
    const pa = this.frames.alloc();
    if (pa >= 0) this.tables.push(pa);
    return pa;
  }

  attach(h: Hart): void {
    h.satpMode = 8; h.satpPpn = this.root / PAGE; h.flushTlb();
    this.harts.add(h);
  }
  detach(h: Hart): void { this.harts.delete(h); }
  flush(): void { for (const h of this.harts) h.flushTlb(); }

  // ---------------------------------------------------------------- page tables
  /** Index in ram.i32 of the leaf PTE of `vpn`; -1 when absent (create false) or out of memory. */
  private pteIndex(vpn: number, create: boolean): number {
    let table = this.root;
    const i32 = this.ram.i32, base = this.ram.base;
    for (let level = 2; level > 0; level--) {
      const idx = Math.floor(vpn / 2 ** (9 * level)) % 512;
      const wi = (table - base + idx * 8) >>> 2;
      const lo = i32[wi];
      if ((lo & 1) === 0) {
        if (!create) return -1;
        const t = this.allocTable();
        if (t < 0) return -1;
        const ppn = t / PAGE;
        i32[wi] = ((ppn & 0x3fffff) << 10) | 1; i32[wi + 1] = Math.floor(ppn / 0x400000);
        table = t;
      } else {
        table = ((lo >>> 10) + (i32[wi + 1] & 0x3fffff) * 0x400000) * PAGE;
      }
    }
    return (table - base + (vpn % 512) * 8) >>> 2;
  }

  /** Installs a leaf PTE; false when a page table could not be allocated (out of memory). */
  private setPte(vpn: number, pa: number, prot: number): boolean {
    const wi = this.pteIndex(vpn, true);
    if (wi < 0) return false;
    const ppn = pa / PAGE;
    let bits = 0;
    if (prot !== 0) {
      bits = 1 | 0x10 | 0x40; // V U A
      if (prot & PROT_READ) bits |= 2;
      if (prot & PROT_WRITE) bits |= 2 | 4 | 0x80;
      if (prot & PROT_EXEC) bits |= 8;
    }
    this.ram.i32[wi] = bits === 0 ? 0 : ((ppn & 0x3fffff) << 10) | bits;
    this.ram.i32[wi + 1] = bits === 0 ? 0 : Math.floor(ppn / 0x400000);
    return true;
  }

  /**
   * The protection a present page gets in its PTE: a private page whose frame another space (or
   * a memfd) also holds is copy-on-write, so it is mapped without write permission until the
   * write fault copies it.
   */
  private pteProt(a: Vma, pa: number): number {
    return !a.shared && (a.prot & PROT_WRITE) !== 0 && this.frames.count(pa) > 1 ? a.prot & ~PROT_WRITE : a.prot;
  }

  /** Copy-on-write break for page `vpn` (private, frame shared): a private copy replaces it. */
  private breakCow(vpn: number, pa: number): number {
    const npa = this.frames.alloc();
    if (npa < 0) return OUT_OF_MEMORY;
    const base = this.ram.base;
    this.ram.u8.copyWithin(npa - base, pa - base, pa - base + PAGE);
    this.ram.notifyWrite(npa, PAGE);
    this.frames.unref(pa);
    this.pages.set(vpn, npa);
    return npa;
  }

  private clearPte(vpn: number): void {
    const wi = this.pteIndex(vpn, false);
    if (wi >= 0) { this.ram.i32[wi] = 0; this.ram.i32[wi + 1] = 0; }
  }

  // ---------------------------------------------------------------- areas
  findVma(va: number): Vma | null {
    const v = this.vmas;
    let lo = 0, hi = v.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (va < v[m].start) hi = m - 1; else if (va >= v[m].end) lo = m + 1; else return v[m];
    }
    return null;
  }

  private insertVma(a: Vma): void {
    let i = 0;
    while (i < this.vmas.length && this.vmas[i].start < a.start) i++;
    this.vmas.splice(i, 0, a);
  }

  /** Splits areas so that `addr` is an area boundary. */
  private splitAt(addr: number): void {
    const a = this.findVma(addr);
    if (a === null || a.start === addr) return;
    const b: Vma = { ...a, start: addr, off: a.off + (addr - a.start) };
    a.end = addr;
    a.src?.hold?.();
    this.insertVma(b);
  }

  isFree(start: number, end: number): boolean {
    for (const a of this.vmas) if (a.start < end && start < a.end) return false;
    return true;
  }

  /** Highest free gap of `len` bytes below `below` (top-down, like Linux's mmap layout). */
  findFree(len: number, below = MMAP_BASE): number {
    let top = below;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const a = this.vmas[i];
      if (a.start >= top) continue;
      if (a.end <= top - len) return top - len;
      top = Math.min(top, a.start);
    }
    return top - len >= 0x10000 ? top - len : -1;
  }

  /**
   * Maps [start, start+len) (page-aligned) replacing whatever was there. The area takes over one
   * reference to `src` from the caller (PageSource.hold/release).
   */
  map(start: number, len: number, prot: number, shared: boolean, src: PageSource | null, off: number, name: string): void {
    this.unmap(start, len);
    this.insertVma({ start, end: start + len, prot, shared, src, off, name });
  }

  unmap(start: number, len: number): void {
    const end = start + len;
    this.splitAt(start); this.splitAt(end);
    const keep: Vma[] = [];
    for (const a of this.vmas) {
      if (a.start >= start && a.end <= end) { this.writeBack(a, a.start, a.end); a.src?.release?.(); continue; }
      keep.push(a);
    }
    this.vmas.length = 0; this.vmas.push(...keep);
    this.freePages(start, end);
  }

  /**
   * MADV_DONTNEED/MADV_FREE: private pages in [start, end) give their frames back and fault in
   * again as zeros (anonymous) or from the file; shared mappings keep their contents.
   */
  discard(start: number, end: number): void {
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end || v.shared) continue;
      this.freePages(Math.max(start, v.start), Math.min(end, v.end));
    }
  }

  private freePages(start: number, end: number): void {
    const v0 = start / PAGE, v1 = end / PAGE;
    let any = false;
    if (v1 - v0 <= this.pages.size) {
      for (let v = v0; v < v1; v++) {
        const pa = this.pages.get(v);
        if (pa !== undefined) { this.frames.unref(pa); this.pages.delete(v); this.clearPte(v); any = true; }
      }
    } else {
      for (const [v, pa] of this.pages) {
        if (v >= v0 && v < v1) { this.frames.unref(pa); this.pages.delete(v); this.clearPte(v); any = true; }
      }
    }
    if (any) this.flush();
  }

  /** Writes dirty-or-not pages of a shared file mapping back to the file. */
  private writeBack(a: Vma, start: number, end: number): void {
    if (!a.shared || a.src === null || a.src.writeAt === undefined || (a.prot & PROT_WRITE) === 0) return;
    for (let va = start; va < end; va += PAGE) {
      const pa = this.pages.get(va / PAGE);
      if (pa === undefined) continue;
      const o = pa - this.ram.base;
      a.src.writeAt(a.off + (va - a.start), this.ram.u8.subarray(o, o + PAGE));
    }
  }

  sync(start: number, len: number): void {
    for (const a of this.vmas) {
      if (a.end <= start || a.start >= start + len) continue;
      this.writeBack(a, Math.max(a.start, start), Math.min(a.end, start + len));
    }
  }

  /** True when areas cover all of [start, end) (with every bit of `prot`, if given). */
  covers(start: number, end: number, prot = 0): boolean {
    for (let va = start; va < end;) {
      const a = this.findVma(va);
      if (a === null || (a.prot & prot) !== prot) return false;
      va = a.end;
    }
    return true;
  }

  /** mprotect: false when part of the range is unmapped. */
  protect(start: number, len: number, prot: number): boolean {
    const end = start + len;
    for (let va = start; va < end;) {
      const a = this.findVma(va);
      if (a === null) return false;
      va = a.end;
    }
    this.splitAt(start); this.splitAt(end);
    for (const a of this.vmas) {
      if (a.start >= start && a.end <= end) {
        a.prot = prot;
        const v0 = a.start / PAGE, v1 = a.end / PAGE;
        if (v1 - v0 <= this.pages.size) {
          for (let v = v0; v < v1; v++) { const pa = this.pages.get(v); if (pa !== undefined) this.setPte(v, pa, this.pteProt(a, pa)); }
        } else {
          for (const [v, pa] of this.pages) if (v >= v0 && v < v1) this.setPte(v, pa, this.pteProt(a, pa));
        }
      }
    }
    this.flush();
    return true;
  }

  /** Moves the area at [from, from+len) to `to` (mremap with MREMAP_MAYMOVE), keeping its pages. */
  move(from: number, len: number, to: number, newLen: number): void {
    this.splitAt(from); this.splitAt(from + len);
    const a = this.findVma(from);
    if (a === null) return;
    const moved: [number, number][] = [];
    for (let v = from / PAGE; v < (from + len) / PAGE; v++) {
      const pa = this.pages.get(v);
      if (pa !== undefined) { moved.push([v - from / PAGE, pa]); this.pages.delete(v); this.clearPte(v); }
    }
    this.vmas.splice(this.vmas.indexOf(a), 1);
    this.unmap(to, newLen);
    this.insertVma({ ...a, start: to, end: to + newLen });
    for (const [i, pa] of moved) {
      if (i * PAGE >= newLen) { this.frames.unref(pa); continue; }
      this.pages.set(to / PAGE + i, pa);
      this.setPte(to / PAGE + i, pa, this.pteProt(a, pa));
    }
    this.flush();
  }

  /** Grows the area ending at `end` in place by `extra` bytes. */
  growInPlace(start: number, end: number, extra: number): boolean {
    const a = this.findVma(end - 1);
    if (a === null || a.end !== end || !this.isFree(end, end + extra)) return false;
    if (a.start < start) this.splitAt(start);
    const b = this.findVma(end - 1);
    if (b === null) return false;
    b.end += extra;
    return true;
  }

  // ---------------------------------------------------------------- faults
  /**
   * Makes page `vpn` resident for an access (0 read, 1 write, 2 exec). Returns its physical
   * address, -1 when the access is not allowed (SIGSEGV), OUT_OF_MEMORY when no frame is left
   * for the page or its page tables.
   */
  fault(va: number, access: number, ignoreProt = false): number {
    if (!(va >= 0 && va < USER_TOP)) return -1;
    const a = this.findVma(va);
    if (a === null) return -1;
    if (!ignoreProt) {
      const need = access === 1 ? PROT_WRITE : access === 2 ? PROT_EXEC : PROT_READ;
      if ((a.prot & need) === 0) return -1;
    }
    const vpn = Math.floor(va / PAGE);
    let have = this.pages.get(vpn);
    if (have !== undefined) {
      // A write to a copy-on-write page (a private page whose frame is shared) copies it first.
      if (access === 1 && !a.shared && this.frames.count(have) > 1) {
        have = this.breakCow(vpn, have);
        if (have < 0) return OUT_OF_MEMORY;
        // Load TLBs may still point at the shared frame.
        this.flush();
      }
      return this.setPte(vpn, have, this.pteProt(a, have)) ? have : OUT_OF_MEMORY;
    }
    if (a.shared && a.src !== null && a.src.frameAt !== undefined) {
      const fpa = a.src.frameAt(a.off + (vpn * PAGE - a.start));
      if (fpa < 0) return OUT_OF_MEMORY;
      this.pages.set(vpn, fpa);
      return this.setPte(vpn, fpa, a.prot) ? fpa : OUT_OF_MEMORY;
    }
    const pa = this.frames.alloc();
    if (pa < 0) return OUT_OF_MEMORY;
    if (a.src !== null) {
      const o = pa - this.ram.base;
      a.src.readAt(a.off + (vpn * PAGE - a.start), this.ram.u8.subarray(o, o + PAGE));
      this.ram.notifyWrite(pa, PAGE);
    }
    this.pages.set(vpn, pa);
    // Without a page table the page stays in `pages` and the next fault retries the PTE.
    return this.setPte(vpn, pa, a.prot) ? pa : OUT_OF_MEMORY;
  }

  // ---------------------------------------------------------------- kernel access to user memory
  /** Physical address for a kernel access at `va`, faulting the page in; -1 on EFAULT. */
  phys(va: number, write: boolean, ignoreProt = false): number {
    if (!(va >= 0 && va < USER_TOP)) return -1;
    const vpn = Math.floor(va / PAGE);
    let pa = this.pages.get(vpn);
    // A kernel write to a copy-on-write page breaks the sharing, as a user write would.
    const cow = write && pa !== undefined && this.frames.count(pa) > 1;
    if (pa === undefined || !ignoreProt || cow) {
      const a = this.findVma(va);
      if (a === null) return -1;
      if (!ignoreProt && (a.prot & (write ? PROT_WRITE : PROT_READ)) === 0) return -1;
      if (pa === undefined || (cow && !a.shared)) {
        pa = this.fault(va, write ? 1 : 0, true);
        if (pa < 0) return -1;
      }
    }
    return pa + (va % PAGE);
  }

  /** Copies guest bytes into `dst`; false on EFAULT. */
  readInto(va: number, dst: Uint8Array): boolean {
    let done = 0;
    const u8 = this.ram.u8, base = this.ram.base;
    while (done < dst.length) {
      const pa = this.phys(va + done, false);
      if (pa < 0) return false;
      const n = Math.min(dst.length - done, PAGE - ((va + done) % PAGE));
      dst.set(u8.subarray(pa - base, pa - base + n), done);
      done += n;
    }
    return true;
  }

  /** `len` guest bytes at `va` (at most MAX_COPY), or null on EFAULT or a bad length. */
  read(va: number, len: number): Uint8Array | null {
    if (!(len >= 0 && len <= MAX_COPY)) return null;
    const b = new Uint8Array(len);
    return this.readInto(va, b) ? b : null;
  }

  write(va: number, data: Uint8Array, ignoreProt = false): boolean {
    let done = 0;
    const u8 = this.ram.u8, base = this.ram.base;
    while (done < data.length) {
      const pa = this.phys(va + done, true, ignoreProt);
      if (pa < 0) return false;
      const n = Math.min(data.length - done, PAGE - ((va + done) % PAGE));
      u8.set(data.subarray(done, done + n), pa - base);
      this.ram.notifyWrite(pa, n);
      done += n;
    }
    return true;
  }

  /** Bytes of guest memory as a view when they lie within one page (fast path for small structs). */
  u32(va: number): number | null {
    const b = this.read(va, 4);
    return b === null ? null : (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }
  /** 64-bit value as a number (exact below 2^53; sign-extended negative values stay negative). */
  u64(va: number): number | null {
    const b = this.read(va, 8);
    if (b === null) return null;
    const lo = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    const hi = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24);
    return hi * TWO32 + lo;
  }
  putU32(va: number, v: number): boolean {
    return this.write(va, new Uint8Array([v, v >>> 8, v >>> 16, v >>> 24]));
  }
  putU64(va: number, v: number): boolean {
    const lo = v >>> 0, hi = Math.floor(v / TWO32) | 0;
    return this.write(va, new Uint8Array([lo, lo >>> 8, lo >>> 16, lo >>> 24, hi, hi >>> 8, hi >>> 16, hi >>> 24]));
  }

  /** NUL-terminated string (UTF-8), or null on EFAULT / too long. */
  cstring(va: number, max = 4096): string | null {
    const bytes: number[] = [];
    const u8 = this.ram.u8, base = this.ram.base;
    while (bytes.length < max) {
      const pa = this.phys(va + bytes.length, false);
      if (pa < 0) return null;
      const n = PAGE - ((va + bytes.length) % PAGE);
      for (let i = 0; i < n; i++) {
        const c = u8[pa - base + i];
        if (c === 0) return new TextDecoder().decode(new Uint8Array(bytes));
        bytes.push(c);
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- fork / teardown
  /**
   * A copy of this address space (fork), copy-on-write: every resident page's frame is shared
   * (one more reference); private writable pages lose write permission in both spaces, and the
   * first write fault of either copies the page (fault, breakCow). Only page tables are
   * allocated here. Null when guest memory runs out on the way (everything taken so far is
   * given back; fork → ENOMEM).
   */
  fork(): AddressSpace | null {
    const c = AddressSpace.create(this.frames);
    if (c === null) return null;
    c.brkStart = this.brkStart; c.brk = this.brk;
    for (const a of this.vmas) {
      c.vmas.push({ ...a });
      a.src?.hold?.();
      if (a.shared) {
        for (let va = a.start; va < a.end; va += PAGE) {
          if (this.fault(va, 0, true) === OUT_OF_MEMORY) { return c.abandon(); }
        }
      }
    }
    let downgraded = false;
    for (const [vpn, pa] of this.pages) {
      const a = this.findVma(vpn * PAGE);
      if (a === null) continue;
      this.frames.ref(pa);
      c.pages.set(vpn, pa);
      const prot = c.pteProt(a, pa);
      if (!c.setPte(vpn, pa, prot)) { return c.abandon(); }
      if (prot !== a.prot) { this.setPte(vpn, pa, prot); downgraded = true; }
    }
    if (downgraded) this.flush();
    return c;
  }

  /** Gives back what a failed fork copied (no write-back: the areas were never the child's). */
  private abandon(): null {
    for (const a of this.vmas) a.src?.release?.();
    this.vmas.length = 0;
    this.destroy();
    return null;
  }

  /** Frees every page and page table (exit / execve). */
  destroy(): void {
    for (const a of this.vmas) { this.writeBack(a, a.start, a.end); a.src?.release?.(); }
    for (const pa of this.pages.values()) this.frames.unref(pa);
    this.pages.clear();
    this.vmas.length = 0;
    for (const t of this.tables) this.frames.unref(t);
    this.tables.length = 0;
  }

  /** /proc/self/maps text. */
  mapsText(): string {
    const hex = (n: number): string => n.toString(16).padStart(8, "0");
    let s = "";
    for (const a of this.vmas) {
      const p = `${a.prot & 1 ? "r" : "-"}${a.prot & 2 ? "w" : "-"}${a.prot & 4 ? "x" : "-"}${a.shared ? "s" : "p"}`;
      s += `${hex(a.start)}-${hex(a.end)} ${p} ${hex(a.off)} 00:00 0${a.name ? " ".repeat(10) + a.name : ""}\n`;
    }
    return s;
  }
}

export function bytesSource(bytes: Uint8Array, name: string): PageSource {
  return {
    name,
    readAt(off: number, dst: Uint8Array): void {
      dst.fill(0);
      if (off < bytes.length) dst.set(bytes.subarray(off, Math.min(bytes.length, off + dst.length)));
    },
  };
}

// memfd_create(2): an anonymous, writable, growable file whose pages are guest frames (as
// shmem's page cache is RAM). read/write/pread/pwrite/ftruncate/fallocate work on it, and
// MAP_SHARED mappings map its frames themselves (PageSource.frameAt), so every mapping, in every
// process that inherited or was passed the descriptor, and read/write see one copy. File seals
// (F_ADD_SEALS/F_GET_SEALS) are kept and enforced.
import type { Kernel } from "./kernel.js";
import { EBUSY, EFAULT, EFBIG, EINVAL, ENOSPC, EPERM, O_RDWR, S_IALLUGO, S_IFREG } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostStat } from "./host.js";
import { PAGE, PROT_WRITE, type AddressSpace, type FrameAllocator, type PageSource } from "./memory.js";
import type { Thread, Wait } from "./task.js";

type R = number | Wait;

// include/uapi/linux/memfd.h
export const MFD_CLOEXEC = 0x0001, MFD_ALLOW_SEALING = 0x0002, MFD_HUGETLB = 0x0004, MFD_NOEXEC_SEAL = 0x0008, MFD_EXEC = 0x0010;
/** "MFD_NAME_MAX_LEN (NAME_MAX - MFD_NAME_PREFIX_LEN)": 255 - strlen("memfd:"). */
export const MFD_NAME_MAX_LEN = 249;
// include/uapi/linux/fcntl.h
export const F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
export const F_SEAL_SEAL = 0x0001, F_SEAL_SHRINK = 0x0002, F_SEAL_GROW = 0x0004, F_SEAL_WRITE = 0x0008,
  F_SEAL_FUTURE_WRITE = 0x0010, F_SEAL_EXEC = 0x0020;
const ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;
/** MAX_LFS_FILESIZE on 64-bit, kept below 2^53 here. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

let nextMemfdIno = 1 << 24;

export class MemfdFile extends OpenFile {
  /** Page index → physical address of its frame (absent pages read as zeros). */
  readonly pages = new Map<number, number>();
  len = 0;
  seals: number;
  readonly ino = nextMemfdIno++;
  private gen = 0;
  private source: PageSource | null = null;
  constructor(readonly frames: FrameAllocator, readonly name: string, sealing: boolean, public mode: number) {
    super();
    this.path = `/memfd:${name} (deleted)`;
    this.flags = O_RDWR;
    this.seals = sealing ? 0 : F_SEAL_SEAL;
  }

  /** The frame of page `idx`, made (zeroed) when absent; -1 when guest memory is exhausted. */
  frame(idx: number): number {
    let pa = this.pages.get(idx);
    if (pa === undefined) {
      pa = this.frames.alloc();
      if (pa < 0) return -1;
      this.pages.set(idx, pa);
    }
    return pa;
  }

  override read(buf: Uint8Array, pos: number | null): number {
    const p = pos ?? this.pos;
    const n = Math.max(0, Math.min(buf.length, this.len - p));
    const ram = this.frames.ram;
    for (let done = 0; done < n;) {
      const off = p + done, idx = Math.floor(off / PAGE), inPage = off % PAGE;
      const k = Math.min(n - done, PAGE - inPage);
      const pa = this.pages.get(idx);
      if (pa === undefined) buf.fill(0, done, done + k);
      else { const o = pa - ram.base + inPage; buf.set(ram.u8.subarray(o, o + k), done); }
      done += k;
    }
    if (pos === null) this.pos += n;
    return n;
  }

  override write(data: Uint8Array, pos: number | null): number {
    if ((this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) return -EPERM;
    let p = pos ?? this.pos;
    if (pos === null && (this.flags & 0o2000) !== 0) p = this.len; // O_APPEND
    if (p + data.length > MAX_SIZE) return -EFBIG;
    if (p + data.length > this.len && (this.seals & F_SEAL_GROW) !== 0) return -EPERM;
    const ram = this.frames.ram;
    let done = 0;
    while (done < data.length) {
      const off = p + done, idx = Math.floor(off / PAGE), inPage = off % PAGE;
      const k = Math.min(data.length - done, PAGE - inPage);
      const pa = this.frame(idx);
      if (pa < 0) break;
      ram.u8.set(data.subarray(done, done + k), pa - ram.base + inPage);
      ram.notifyWrite(pa + inPage, k);
      done += k;
    }
    if (done === 0 && data.length > 0) return -ENOSPC;
    if (p + done > this.len) this.len = p + done;
    if (pos === null) this.pos = p + done;
    this.gen++;
    OpenFile.notify();
    return done;
  }

  override truncate(len: number): number {
    if (len > MAX_SIZE) return -EFBIG;
    if (len < this.len && (this.seals & F_SEAL_SHRINK) !== 0) return -EPERM;
    if (len > this.len && (this.seals & F_SEAL_GROW) !== 0) return -EPERM;
    if (len < this.len) {
      // Whole pages past the end go back (a mapping that still holds one keeps its reference);
      // the tail of the last page reads as zeros, as shmem_truncate_range leaves it.
      const keep = Math.ceil(len / PAGE);
      for (const [idx, pa] of this.pages) if (idx >= keep) { this.frames.unref(pa); this.pages.delete(idx); }
      const last = this.pages.get(Math.floor(len / PAGE));
      if (last !== undefined && len % PAGE !== 0) {
        const o = last - this.frames.ram.base;
        this.frames.ram.u8.fill(0, o + (len % PAGE), o + PAGE);
        this.frames.ram.notifyWrite(last, PAGE);
      }
    }
    this.len = len;
    this.gen++;
    return 0;
  }

  override stat(): HostStat {
    const st = fakeStat(S_IFREG | this.mode, this.len);
    st.ino = this.ino; st.dev = 1; st.blocks = this.pages.size * (PAGE / 512);
    return st;
  }
  override seekable(): boolean { return true; }
  override size(): number { return this.len; }
  override wakeups(): number { return this.gen; }
  override chmod(mode: number): number {
    // memfd_create(2): with F_SEAL_EXEC the execute bits cannot change.
    if ((this.seals & F_SEAL_EXEC) !== 0 && ((mode ^ this.mode) & 0o111) !== 0) return -EPERM;
    this.mode = mode & S_IALLUGO;
    return 0;
  }

  /** The one PageSource of this file (mappings of it are recognised by it: Vma.src). */
  override mapSource(): PageSource {
    this.source ??= {
      name: this.path,
      // Each area mapping the file holds a reference (PageSource.hold/release), as fds do.
      hold: () => { this.refs++; },
      release: () => { if (--this.refs === 0) this.release(); },
      readAt: (off, dst) => { dst.fill(0); this.read(dst, off); },
      frameAt: (off) => {
        const pa = this.frame(Math.floor(off / PAGE));
        if (pa >= 0) this.frames.ref(pa);
        return pa;
      },
    };
    return this.source;
  }

  /**
   * F_ADD_SEALS (mm/memfd.c memfd_add_seals). `writablyMapped`: some address space has a shared
   * writable mapping of the file (F_SEAL_WRITE is EBUSY then, mapping_deny_writable).
   */
  addSeals(seals: number, writablyMapped: boolean): number {
    if ((seals & ~ALL_SEALS) !== 0) return -EINVAL;
    if ((this.flags & 3) === 0) return -EPERM; // "the file must be open for writing"
    if ((this.seals & F_SEAL_SEAL) !== 0) return -EPERM;
    // F_SEAL_WRITE needs no writable shared mapping (mapping_deny_writable).
    if ((seals & F_SEAL_WRITE) !== 0 && writablyMapped) return -EBUSY;
    this.seals |= seals;
    return 0;
  }

  override release(): void {
    for (const pa of this.pages.values()) this.frames.unref(pa);
    this.pages.clear();
  }
}

/** Whether any process maps f shared and writable. */
export function writablyMapped(k: Kernel, f: MemfdFile): boolean {
  const src = f.mapSource();
  const seen = new Set<AddressSpace>();
  for (const p of k.procs.values()) {
    if (!p.alive || seen.has(p.as)) continue;
    seen.add(p.as);
    for (const v of p.as.vmas) if (v.src === src && v.shared && (v.prot & PROT_WRITE) !== 0) return true;
  }
  return false;
}

export function sys_memfd_create(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[1] >>> 0;
  if ((flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC)) !== 0) return -EINVAL;
  // No huge pages in the process VM (hugetlbfs has no pool: as a kernel without one, EINVAL).
  if ((flags & MFD_HUGETLB) !== 0) return -EINVAL;
  if ((flags & MFD_NOEXEC_SEAL) !== 0 && (flags & MFD_EXEC) !== 0) return -EINVAL;
  const name = t.proc.as.cstring(a[0], MFD_NAME_MAX_LEN + 1);
  if (name === null) return t.proc.as.cstring(a[0], 1 << 16) === null ? -EFAULT : -EINVAL;
  // MFD_NOEXEC_SEAL: mode 0666 and sealed against exec, sealing allowed.
  const noexec = (flags & MFD_NOEXEC_SEAL) !== 0;
  const f = new MemfdFile(k.frames, name, (flags & MFD_ALLOW_SEALING) !== 0 || noexec, noexec ? 0o666 : 0o777);
  if (noexec) f.seals |= F_SEAL_EXEC;
  const fd = t.proc.fds.alloc(f, (flags & MFD_CLOEXEC) !== 0);
  if (fd < 0) f.release();
  return fd;
}

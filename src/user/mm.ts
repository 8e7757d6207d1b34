// Memory system calls: brk, mmap, munmap, mprotect (enforced by the MMU), mremap, madvise.
import type { Kernel } from "./kernel.js";
import { EACCES, EBADF, EEXIST, EFAULT, EINVAL, ENODEV, ENOMEM, EPERM, O_ACCMODE, O_RDONLY } from "../abi/linux.js";
import { F_SEAL_FUTURE_WRITE, F_SEAL_WRITE, MemfdFile } from "./memfd.js";
import { type OpenFile } from "./file.js";
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_SHARED, PAGE, PROT_WRITE, USER_TOP, type PageSource,
} from "./memory.js";
import { release, type Thread } from "./task.js";
import { accessOk, int, ptr, sizeT } from "./args.js";

type R = number;
const up = (n: number): number => Math.ceil(n / PAGE) * PAGE;
export const MAP_NORESERVE = 0x4000;

/**
 * Linux's heuristic overcommit (vm.overcommit_memory = 0, mm/util.c __vm_enough_memory): one
 * request for more pages than total RAM + swap is refused. The guest's RAM is the configured
 * memory (--mem) and it has no swap; smaller requests succeed and pages are taken on first touch.
 */
export function overcommitOk(k: Kernel, bytes: number): boolean {
  return bytes <= k.ram.size;
}

/** A private writable or shared anonymous mapping is charged (mm/mmap.c accountable_mapping, shmem). */
function accountable(prot: number, flags: number): boolean {
  if ((flags & MAP_NORESERVE) !== 0) return false;
  if ((flags & MAP_SHARED) !== 0) return (flags & MAP_ANONYMOUS) !== 0;
  return (prot & PROT_WRITE) !== 0;
}

export function sys_brk(k: Kernel, t: Thread, a: number[]): R {
  const as = t.proc.as;
  const want = ptr(a[0]);
  if (want < as.brkStart) return as.brk;
  const oldEnd = up(as.brk), newEnd = up(want);
  if (newEnd > oldEnd) {
    // A break past the user half or past what overcommit allows leaves the break where it was.
    if (newEnd > USER_TOP || !overcommitOk(k, newEnd - oldEnd) || !as.isFree(oldEnd, newEnd)) return as.brk;
    as.map(oldEnd, newEnd - oldEnd, 3, false, null, 0, "[heap]");
  } else if (newEnd < oldEnd) as.unmap(newEnd, oldEnd - newEnd);
  as.brk = want;
  return want;
}

/** The pages of a mapped file, read at fault time; each area mapping it holds a reference to f. */
export function fileSource(f: OpenFile): PageSource {
  return {
    name: f.path,
    hold: () => { f.refs++; },
    release: () => { release(f); },
    readAt(off: number, dst: Uint8Array): void {
      dst.fill(0);
      let done = 0;
      while (done < dst.length) {
        const n = f.read(dst.subarray(done), off + done);
        if (n <= 0) break;
        done += n;
      }
    },
    writeAt(off: number, src: Uint8Array): void {
      const size = f.size();
      const n = Math.max(0, Math.min(src.length, size - off));
      if (n > 0) f.write(src.subarray(0, n), off);
    },
  };
}

export function sys_mmap(k: Kernel, t: Thread, a: number[]): R {
  const addr = ptr(a[0]), rawLen = sizeT(a[1]), prot = int(a[2]), flags = int(a[3]), fd = int(a[4]), off = a[5];
  // do_mmap: a zero length or an unaligned offset → EINVAL; a length that rounds past the top
  // (PAGE_ALIGN overflows for (size_t)-1) or exceeds TASK_SIZE → ENOMEM.
  if (rawLen === 0 || off % PAGE !== 0) return -EINVAL;
  const len = up(rawLen);
  if (len > USER_TOP) return -ENOMEM;
  if (accountable(prot, flags) && !overcommitOk(k, len)) return -ENOMEM;
  const as = t.proc.as;
  let src: PageSource | null = null;
  let name = "";
  const shared = (flags & MAP_SHARED) !== 0;
  if ((flags & MAP_ANONYMOUS) === 0) {
    const f = t.proc.fds.get(fd);
    if (f === undefined) return -EBADF;
    if (!f.seekable() || f.isDir()) return -ENODEV;
    if (shared && (prot & PROT_WRITE) !== 0 && (f.flags & O_ACCMODE) === O_RDONLY) return -EACCES;
    if (f instanceof MemfdFile && shared && (prot & PROT_WRITE) !== 0) {
      // A write-sealed memfd refuses shared writable mappings (mm/memfd.c, seal_check_write).
      if ((f.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) return -EPERM;
    }
    src = (shared ? f.mapSource() : null) ?? fileSource(f);
    name = f.path;
  }
  let at: number;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
    // __get_unmapped_area: "addr > TASK_SIZE - len" → ENOMEM, then an unaligned addr → EINVAL.
    if (addr > USER_TOP - len) return -ENOMEM;
    if (addr % PAGE !== 0) return -EINVAL;
    if ((flags & MAP_FIXED_NOREPLACE) !== 0 && !as.isFree(addr, addr + len)) return -EEXIST;
    at = addr;
  } else if (addr !== 0 && addr % PAGE === 0 && addr + len <= USER_TOP && addr >= 0x10000 && as.isFree(addr, addr + len)) {
    at = addr;
  } else {
    at = as.findFree(len);
    if (at < 0) return -ENOMEM;
  }
  // The new area's reference to the file (dropped with the area's last page: munmap, exit, execve).
  src?.hold?.();
  as.map(at, len, prot & 7, shared, src, off, name);
  return at;
}

export function sys_munmap(_k: Kernel, t: Thread, a: number[]): R {
  const start = ptr(a[0]), len = sizeT(a[1]);
  // __do_munmap: unaligned, past TASK_SIZE or empty → EINVAL.
  if (start % PAGE !== 0 || len === 0 || !accessOk(start, len)) return -EINVAL;
  t.proc.as.unmap(start, up(len));
  return 0;
}

export function sys_mprotect(_k: Kernel, t: Thread, a: number[]): R {
  const start = ptr(a[0]), len = sizeT(a[1]);
  if (start % PAGE !== 0) return -EINVAL;
  if (len === 0) return 0;
  if (!accessOk(start, up(len))) return -ENOMEM;
  return t.proc.as.protect(start, up(len), a[2] & 7) ? 0 : -ENOMEM;
}

const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

export function sys_mremap(k: Kernel, t: Thread, a: number[]): R {
  const old = ptr(a[0]), oldLen0 = sizeT(a[1]), newLen0 = sizeT(a[2]), flags = int(a[3]), newAddr = ptr(a[4]);
  if (old % PAGE !== 0 || newLen0 === 0) return -EINVAL;
  const as = t.proc.as;
  const oldLen = up(oldLen0), newLen = up(newLen0);
  if (!accessOk(old, oldLen) || newLen > USER_TOP) return -EINVAL;
  const vma = as.findVma(old);
  if (vma === null) return -EFAULT;
  if (newLen > oldLen && accountable(vma.prot, vma.shared ? MAP_SHARED | (vma.src === null ? MAP_ANONYMOUS : 0) : 0) && !overcommitOk(k, newLen - oldLen)) return -ENOMEM;
  if ((flags & MREMAP_FIXED) !== 0) {
    // mremap_to: the target must be page aligned and inside the user half.
    if ((flags & MREMAP_MAYMOVE) === 0 || newAddr % PAGE !== 0 || !accessOk(newAddr, newLen)) return -EINVAL;
    as.move(old, oldLen, newAddr, newLen);
    return newAddr;
  }
  if (newLen <= oldLen) { if (newLen < oldLen) as.unmap(old + newLen, oldLen - newLen); return old; }
  if (as.growInPlace(old, old + oldLen, newLen - oldLen)) return old;
  if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
  const to = as.findFree(newLen);
  if (to < 0) return -ENOMEM;
  as.move(old, oldLen, to, newLen);
  return to;
}

export function sys_madvise(_k: Kernel, t: Thread, a: number[]): R {
  const adv = a[2] | 0;
  if (a[0] % PAGE !== 0 || !accessOk(ptr(a[0]), up(sizeT(a[1])))) return -EINVAL;
  // MADV_DONTNEED (4) and MADV_FREE (8), which Go's scavenger uses to return heap memory: the
  // frames go back to the allocator and the pages read back as zero (a COW-shared frame is only
  // unreferenced, never cleared under the other process).
  if (adv === 4 || adv === 8) t.proc.as.discard(a[0], a[0] + up(a[1]));
  return 0;
}

export function sys_msync(_k: Kernel, t: Thread, a: number[]): R {
  if (!accessOk(ptr(a[0]), up(sizeT(a[1])))) return -ENOMEM;
  t.proc.as.sync(a[0], up(a[1]));
  return 0;
}

/** mincore writes its vector in pieces of this many pages (Linux: one page of vector at a time). */
const MINCORE_CHUNK = 1 << 16;

export function sys_mincore(_k: Kernel, t: Thread, a: number[]): R {
  const start = ptr(a[0]), len = sizeT(a[1]), vec = ptr(a[2]);
  // mm/mincore.c: unaligned start → EINVAL; a range outside the user half → ENOMEM; a vector
  // outside it → EFAULT; a hole in the range → ENOMEM.
  if (start % PAGE !== 0) return -EINVAL;
  if (!accessOk(start, len)) return -ENOMEM;
  const n = Math.ceil(len / PAGE);
  if (!accessOk(vec, n)) return -EFAULT;
  const as = t.proc.as;
  if (!as.covers(start, start + n * PAGE)) return -ENOMEM;
  const v0 = start / PAGE;
  // A range larger than the resident set (a big PROT_NONE reservation) is answered from the
  // resident pages, sorted once, instead of one lookup per page.
  const resident = n > as.pages.size ? [...as.pages.keys()].filter((p) => p >= v0 && p < v0 + n).sort((x, y) => x - y) : null;
  let r = 0;
  for (let i = 0; i < n; i += MINCORE_CHUNK) {
    const v = new Uint8Array(Math.min(MINCORE_CHUNK, n - i));
    if (resident === null) {
      for (let j = 0; j < v.length; j++) v[j] = as.pages.has(v0 + i + j) ? 1 : 0;
    } else {
      for (; r < resident.length && resident[r] < v0 + i + v.length; r++) v[resident[r] - v0 - i] = 1;
    }
    if (!as.write(vec + i, v)) return -EFAULT;
  }
  return 0;
}

export const sys_mlock = (): R => 0;

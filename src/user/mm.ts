// Memory system calls: brk, mmap, munmap, mprotect (enforced by the MMU), mremap, madvise.
import type { Kernel } from "./kernel.js";
import { EBADF, EEXIST, EFAULT, EINVAL, ENODEV, ENOMEM } from "./errno.js";
import { O_ACCMODE, O_RDONLY, type OpenFile } from "./file.js";
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_SHARED, PAGE, PROT_WRITE, USER_TOP, type PageSource,
} from "./memory.js";
import type { Thread } from "./task.js";

type R = number;
const up = (n: number): number => Math.ceil(n / PAGE) * PAGE;

export function sys_brk(_k: Kernel, t: Thread, a: number[]): R {
  const as = t.proc.as;
  const want = a[0];
  if (want < as.brkStart) return as.brk;
  const oldEnd = up(as.brk), newEnd = up(want);
  if (newEnd > oldEnd) {
    if (!as.isFree(oldEnd, newEnd)) return as.brk;
    as.map(oldEnd, newEnd - oldEnd, 3, false, null, 0, "[heap]");
  } else if (newEnd < oldEnd) as.unmap(newEnd, oldEnd - newEnd);
  as.brk = want;
  return want;
}

export function fileSource(f: OpenFile): PageSource {
  return {
    name: f.path,
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

export function sys_mmap(_k: Kernel, t: Thread, a: number[]): R {
  const [addr, rawLen, prot, flags, fd, off] = [a[0], a[1], a[2] | 0, a[3] | 0, a[4] | 0, a[5]];
  if (rawLen <= 0 || off % PAGE !== 0) return -EINVAL;
  const len = up(rawLen);
  if (len > USER_TOP) return -ENOMEM;
  const as = t.proc.as;
  let src: PageSource | null = null;
  let name = "";
  const shared = (flags & MAP_SHARED) !== 0;
  if ((flags & MAP_ANONYMOUS) === 0) {
    const f = t.proc.fds.get(fd);
    if (f === undefined) return -EBADF;
    if (!f.seekable() || f.isDir()) return -ENODEV;
    if (shared && (prot & PROT_WRITE) !== 0 && (f.flags & O_ACCMODE) === O_RDONLY) return -13; // EACCES
    f.refs++;
    src = fileSource(f);
    name = f.path;
  }
  let at: number;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
    if (addr % PAGE !== 0 || addr + len > USER_TOP) return -EINVAL;
    if ((flags & MAP_FIXED_NOREPLACE) !== 0 && !as.isFree(addr, addr + len)) return -EEXIST;
    at = addr;
  } else if (addr !== 0 && addr % PAGE === 0 && addr + len <= USER_TOP && addr >= 0x10000 && as.isFree(addr, addr + len)) {
    at = addr;
  } else {
    at = as.findFree(len);
    if (at < 0) return -ENOMEM;
  }
  as.map(at, len, prot & 7, shared, src, off, name);
  return at;
}

export function sys_munmap(_k: Kernel, t: Thread, a: number[]): R {
  if (a[0] % PAGE !== 0 || a[1] <= 0) return -EINVAL;
  t.proc.as.unmap(a[0], up(a[1]));
  return 0;
}

export function sys_mprotect(_k: Kernel, t: Thread, a: number[]): R {
  if (a[0] % PAGE !== 0) return -EINVAL;
  if (a[1] === 0) return 0;
  return t.proc.as.protect(a[0], up(a[1]), a[2] & 7) ? 0 : -ENOMEM;
}

export function sys_mremap(_k: Kernel, t: Thread, a: number[]): R {
  const [old, oldLen0, newLen0, flags, newAddr] = [a[0], a[1], a[2], a[3] | 0, a[4]];
  if (old % PAGE !== 0 || newLen0 <= 0) return -EINVAL;
  const as = t.proc.as;
  const oldLen = up(oldLen0), newLen = up(newLen0);
  if (as.findVma(old) === null) return -EFAULT;
  if ((flags & 2) !== 0) { // MREMAP_FIXED
    as.move(old, oldLen, newAddr, newLen);
    return newAddr;
  }
  if (newLen <= oldLen) { if (newLen < oldLen) as.unmap(old + newLen, oldLen - newLen); return old; }
  if (as.growInPlace(old, old + oldLen, newLen - oldLen)) return old;
  if ((flags & 1) === 0) return -ENOMEM;
  const to = as.findFree(newLen);
  if (to < 0) return -ENOMEM;
  as.move(old, oldLen, to, newLen);
  return to;
}

export function sys_madvise(_k: Kernel, t: Thread, a: number[]): R {
  const adv = a[2] | 0;
  if (a[0] % PAGE !== 0) return -EINVAL;
  // MADV_DONTNEED (4) and MADV_FREE (8), which Go's scavenger uses to return heap memory: the
  // frames go back to the allocator and the pages read back as zero (a COW-shared frame is only
  // unreferenced, never cleared under the other process).
  if (adv === 4 || adv === 8) t.proc.as.discard(a[0], a[0] + up(a[1]));
  return 0;
}

export function sys_msync(_k: Kernel, t: Thread, a: number[]): R {
  t.proc.as.sync(a[0], up(a[1]));
  return 0;
}

export function sys_mincore(_k: Kernel, t: Thread, a: number[]): R {
  const n = up(a[1]) / PAGE;
  const v = new Uint8Array(n);
  for (let i = 0; i < n; i++) v[i] = t.proc.as.pages.has(a[0] / PAGE + i) ? 1 : 0;
  return t.proc.as.write(a[2], v) ? 0 : -EFAULT;
}

export const sys_mlock = (): R => 0;

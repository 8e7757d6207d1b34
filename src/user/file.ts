// Open file descriptions: what a file descriptor points at. Each kind implements the few
// operations it supports; read/write return -EAGAIN when they would block, and the syscall
// layer parks the thread (or returns EAGAIN under O_NONBLOCK).
import {
  EAGAIN, EBADF, EINVAL, ENOTDIR, ENOTTY, EPIPE, ESPIPE, O_RDONLY, O_RDWR, O_WRONLY, POLLERR, POLLHUP, POLLIN,
  POLLOUT, S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG,
} from "../abi/linux.js";
import type { HostExecFd, HostStat } from "./host.js";
import type { PageSource } from "./memory.js";


export interface Dirent { name: string; ino: number; type: number }

let nextIno = 1 << 20;
export function fakeStat(mode: number, size = 0, rdev = 0): HostStat {
  const t = Math.floor(Date.now() / 1000);
  return {
    dev: 5, ino: nextIno++, mode, nlink: 1, uid: 0, gid: 0, rdev, size, blksize: 4096, blocks: Math.ceil(size / 512),
    atimeSec: t, atimeNsec: 0, mtimeSec: t, mtimeNsec: 0, ctimeSec: t, ctimeNsec: 0,
  };
}

export abstract class OpenFile {
  /** Status flags (access mode, O_APPEND, O_NONBLOCK). */
  flags = O_RDWR;
  pos = 0;
  refs = 1;
  /** Guest path for /proc/self/fd and fchdir (or a description like pipe:[N]). */
  path = "";
  /** Called when this file's readiness may have changed (set by the kernel: wakes pollers). */
  static notify: () => void = () => {};
  read(_buf: Uint8Array, _pos: number | null): number { return -EBADF; }
  write(_data: Uint8Array, _pos: number | null): number { return -EBADF; }
  /** Poll readiness mask (POLLIN/POLLOUT/POLLHUP/POLLERR). */
  poll(): number { return POLLIN | POLLOUT; }
  /**
   * A count that moves each time the file wakes its waiters (new data, room, a tick), for
   * EPOLLET: an edge is a wakeup, not only a change of the readiness mask (Linux reports a
   * pipe that is readable again after more data came, even when it never drained). Files
   * that do not count wakeups keep 0, and edges are then readiness bits that were off.
   */
  wakeups(): number { return 0; }
  /** Where mmap takes this file's pages from (null: read/write through fileSource). */
  mapSource(): PageSource | null { return null; }
  abstract stat(): HostStat | number;
  seekable(): boolean { return false; }
  size(): number { return -ESPIPE; }
  ioctl(_req: number, _arg: number): number { return -ENOTTY; }
  readdir(): Dirent[] | number { return -ENOTDIR; }
  truncate(_len: number): number { return -EINVAL; }
  /** fchmod/fchown/futimens on the file itself (host files: by handle, never by path). */
  chmod(_mode: number): number { return 0; }
  chown(_uid: number, _gid: number): number { return 0; }
  utimes(_atime: number | null, _mtime: number | null): number { return 0; }
  sync(): number { return 0; }
  /** Last reference closed. */
  release(): void {}
  isDir(): boolean { return false; }
  /** The host path of a host-backed file or directory (for *at calls relative to a dirfd). */
  hostPath(): string | null { return null; }
  /**
   * The host descriptor a host-native program gets for this file (src/user/host_exec.ts); null:
   * none, so the kernel bridges it through a host pipe.
   */
  hostExecFd(): HostExecFd | null { return null; }
}

/** A file whose whole content is generated at open (/proc files, small synthetic files). */
export class MemFile extends OpenFile {
  constructor(readonly data: Uint8Array, path: string, readonly mode = S_IFREG | 0o444) { super(); this.path = path; this.flags = O_RDONLY; }
  override read(buf: Uint8Array, pos: number | null): number {
    const p = pos ?? this.pos;
    const n = Math.max(0, Math.min(buf.length, this.data.length - p));
    buf.set(this.data.subarray(p, p + n));
    if (pos === null) this.pos += n;
    return n;
  }
  override stat(): HostStat { return fakeStat(this.mode, 0); }
  override seekable(): boolean { return true; }
  override size(): number { return this.data.length; }
}

/** A synthetic directory (/proc, /proc/self/fd). */
export class MemDir extends OpenFile {
  constructor(readonly entries: () => Dirent[], path: string) { super(); this.path = path; this.flags = O_RDONLY; }
  override stat(): HostStat { return fakeStat(S_IFDIR | 0o555); }
  override readdir(): Dirent[] { return this.entries(); }
  override isDir(): boolean { return true; }
  override seekable(): boolean { return true; }
  override size(): number { return 0; }
}

export class DevNull extends OpenFile {
  constructor(readonly kind: "null" | "zero" | "random", readonly random: (b: Uint8Array) => void) { super(); this.path = `/dev/${kind === "random" ? "urandom" : kind}`; }
  override read(buf: Uint8Array): number {
    if (this.kind === "null") return 0;
    if (this.kind === "zero") buf.fill(0); else this.random(buf);
    return buf.length;
  }
  override write(data: Uint8Array): number { return data.length; }
  override stat(): HostStat { return fakeStat(S_IFCHR | 0o666, 0, this.kind === "null" ? 0x103 : this.kind === "zero" ? 0x105 : 0x109); }
  /** /dev/null is the host's; zero and random are bridged (their bytes come from here). */
  override hostExecFd(): HostExecFd | null { return this.kind === "null" ? { kind: "null" } : null; }
  override seekable(): boolean { return true; }
  override size(): number { return 0; }
}

/** A pipe's shared buffer. */
export class Pipe {
  chunks: Uint8Array[] = [];
  bytes = 0;
  readers = 0;
  writers = 0;
  static readonly CAPACITY = 65536;
  static count = 0;
  readonly id = ++Pipe.count + 1000;
  /** Wakeups (OpenFile.wakeups): every read, write and close of an end. */
  gen = 0;
}

export class PipeEnd extends OpenFile {
  constructor(readonly pipe: Pipe, readonly writeEnd: boolean) {
    super();
    this.flags = writeEnd ? O_WRONLY : O_RDONLY;
    if (writeEnd) pipe.writers++; else pipe.readers++;
    this.path = `pipe:[${pipe.id}]`;
  }
  override read(buf: Uint8Array): number {
    const p = this.pipe;
    if (this.writeEnd) return -EBADF;
    if (p.bytes === 0) return p.writers === 0 ? 0 : -EAGAIN;
    let n = 0;
    while (n < buf.length && p.chunks.length > 0) {
      const c = p.chunks[0];
      const k = Math.min(c.length, buf.length - n);
      buf.set(c.subarray(0, k), n);
      n += k;
      if (k === c.length) p.chunks.shift(); else p.chunks[0] = c.subarray(k);
    }
    p.bytes -= n;
    p.gen++;
    OpenFile.notify();
    return n;
  }
  override write(data: Uint8Array): number {
    const p = this.pipe;
    if (!this.writeEnd) return -EBADF;
    if (p.readers === 0) return -EPIPE;
    const room = Pipe.CAPACITY - p.bytes;
    if (room <= 0) return -EAGAIN;
    // Writes up to PIPE_BUF (4096) are atomic.
    if (data.length <= 4096 && room < data.length) return -EAGAIN;
    const n = Math.min(room, data.length);
    p.chunks.push(data.slice(0, n));
    p.bytes += n;
    p.gen++;
    OpenFile.notify();
    return n;
  }
  override poll(): number {
    const p = this.pipe;
    if (this.writeEnd) return (p.readers === 0 ? POLLERR : 0) | (p.bytes < Pipe.CAPACITY ? POLLOUT : 0);
    return (p.bytes > 0 ? POLLIN : 0) | (p.writers === 0 ? POLLHUP : 0);
  }
  override stat(): HostStat { return fakeStat(S_IFIFO | 0o600); }
  override ioctl(req: number, _arg: number): number {
    return req === 0x541b ? this.pipe.bytes : -ENOTTY; // FIONREAD handled by the caller writing the value
  }
  override wakeups(): number { return this.pipe.gen; }
  override release(): void {
    if (this.writeEnd) this.pipe.writers--; else this.pipe.readers--;
    this.pipe.gen++;
    OpenFile.notify();
  }
}

/** eventfd2 counter. */
export class EventFd extends OpenFile {
  private gen = 0;
  constructor(public value: number, readonly semaphore: boolean) { super(); this.path = "anon_inode:[eventfd]"; }
  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -EINVAL;
    if (this.value === 0) return -EAGAIN;
    const v = this.semaphore ? 1 : this.value;
    this.value -= v;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, BigInt(v), true);
    this.gen++;
    OpenFile.notify();
    return 8;
  }
  override write(data: Uint8Array): number {
    if (data.length < 8) return -EINVAL;
    const v = Number(new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true));
    this.value += v;
    this.gen++;
    OpenFile.notify();
    return 8;
  }
  override wakeups(): number { return this.gen; }
  override poll(): number { return (this.value > 0 ? POLLIN : 0) | POLLOUT; }
  override stat(): HostStat { return fakeStat(0o600); }
}

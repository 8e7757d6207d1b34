// inotify(7): watches on guest paths, fed by the changes the guest itself makes through the
// system calls (fs.ts calls fsNotify after each successful create, write, delete, rename,
// attribute change, open and close). Changes made by host processes are not seen (no host
// watcher in the core); the watch follows its object across a guest rename.
import type { Kernel } from "./kernel.js";
import {
  AT_FDCWD, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, EMFILE, ENOSPC, ENOTDIR, O_CLOEXEC, O_NONBLOCK, O_RDONLY, POLLIN,
  S_IFDIR, S_IFMT,
} from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostStat } from "./host.js";
import type { Thread, Wait } from "./task.js";
import { LOOKUP_FOLLOW } from "./vfs.js";
import { lookupAt, statRef } from "./fs.js";

type R = number | Wait;

// include/uapi/linux/inotify.h
export const IN_ACCESS = 0x1, IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_CLOSE_WRITE = 0x8, IN_CLOSE_NOWRITE = 0x10,
  IN_OPEN = 0x20, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80, IN_CREATE = 0x100, IN_DELETE = 0x200,
  IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800, IN_UNMOUNT = 0x2000, IN_Q_OVERFLOW = 0x4000, IN_IGNORED = 0x8000,
  IN_ONLYDIR = 0x01000000, IN_DONT_FOLLOW = 0x02000000, IN_EXCL_UNLINK = 0x04000000, IN_MASK_CREATE = 0x10000000,
  IN_MASK_ADD = 0x20000000, IN_ISDIR = 0x40000000, IN_ONESHOT = 0x80000000;
export const IN_ALL_EVENTS = 0xfff;
export const IN_NONBLOCK = O_NONBLOCK, IN_CLOEXEC = O_CLOEXEC;
/** sizeof(struct inotify_event): wd, mask, cookie, len; the name follows, NUL-padded. */
const EVENT_HEADER = 16;
/** /proc/sys/fs/inotify defaults: max_queued_events, max_user_watches (per instance here), max_user_instances. */
const MAX_QUEUED_EVENTS = 16384, MAX_WATCHES = 8192, MAX_INSTANCES = 128;
const VALID_ADD_FLAGS = IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE | IN_MASK_ADD | IN_ONESHOT;

interface Watch { wd: number; path: string; mask: number }
interface Event { wd: number; mask: number; cookie: number; name: string }

const enc = new TextEncoder();

export class InotifyFile extends OpenFile {
  readonly watches = new Map<number, Watch>();
  readonly queue: Event[] = [];
  private nextWd = 1;
  private gen = 0;
  private overflowed = false;
  constructor(readonly reg: Registry) { super(); this.path = "anon_inode:inotify"; this.flags = O_RDONLY; }

  watchOf(path: string): Watch | undefined {
    for (const w of this.watches.values()) if (w.path === path) return w;
    return undefined;
  }

  add(path: string, mask: number): number {
    const old = this.watchOf(path);
    if (old !== undefined) {
      if ((mask & IN_MASK_CREATE) !== 0) return -EEXIST;
      old.mask = (mask & IN_MASK_ADD) !== 0 ? old.mask | (mask & ~IN_MASK_ADD) : mask;
      return old.wd;
    }
    if (this.watches.size >= MAX_WATCHES) return -ENOSPC; // "the user limit on the total number of inotify watches was reached"
    const wd = this.nextWd++;
    this.watches.set(wd, { wd, path, mask: mask & ~(IN_MASK_ADD | IN_MASK_CREATE) });
    this.reg.watches++;
    return wd;
  }

  remove(wd: number): number {
    if (!this.watches.delete(wd)) return -EINVAL;
    this.reg.watches--;
    this.push({ wd, mask: IN_IGNORED, cookie: 0, name: "" });
    return 0;
  }

  push(e: Event): void {
    // "If successive output inotify events produced on the inotify file descriptor are
    // identical (same wd, mask, cookie, and name), then they are coalesced into a single event
    // if the older event has not yet been read" (inotify(7)).
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && last.wd === e.wd && last.mask === e.mask && last.cookie === e.cookie && last.name === e.name) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      if (!this.overflowed) { this.overflowed = true; this.queue.push({ wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: "" }); }
      return;
    }
    this.queue.push(e);
    this.gen++;
    OpenFile.notify();
  }

  /** Bytes of one event as read(2) returns it: the name NUL-padded to a multiple of the header size. */
  static size(e: Event): number {
    if (e.name === "") return EVENT_HEADER;
    const n = enc.encode(e.name).length + 1;
    return EVENT_HEADER + Math.ceil(n / EVENT_HEADER) * EVENT_HEADER;
  }

  override read(buf: Uint8Array): number {
    if (this.queue.length === 0) return -EAGAIN;
    // "If the buffer given to read(2) is too small to return information about the next
    // event, then EINVAL results."
    if (InotifyFile.size(this.queue[0]) > buf.length) return -EINVAL;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    while (this.queue.length > 0) {
      const e = this.queue[0];
      const sz = InotifyFile.size(e);
      if (off + sz > buf.length) break;
      dv.setInt32(off, e.wd, true); dv.setUint32(off + 4, e.mask >>> 0, true); dv.setUint32(off + 8, e.cookie, true);
      dv.setUint32(off + 12, sz - EVENT_HEADER, true);
      buf.fill(0, off + EVENT_HEADER, off + sz);
      if (e.name !== "") buf.set(enc.encode(e.name), off + EVENT_HEADER);
      off += sz;
      this.queue.shift();
      if (e.mask === IN_Q_OVERFLOW) this.overflowed = false;
    }
    return off;
  }
  override poll(): number { return this.queue.length > 0 ? POLLIN : 0; }
  override wakeups(): number { return this.gen; }
  /** FIONREAD: the bytes queued. */
  override ioctl(req: number): number { return req === 0x541b ? this.queue.reduce((s, e) => s + InotifyFile.size(e), 0) : -25; }
  override stat(): HostStat { return fakeStat(0o600); }
  override release(): void {
    this.reg.watches -= this.watches.size;
    this.watches.clear();
    this.reg.instances.delete(this);
  }
}

interface Registry { instances: Set<InotifyFile>; watches: number; cookie: number }
const registries = new WeakMap<Kernel, Registry>();

function registry(k: Kernel): Registry {
  let r = registries.get(k);
  if (r === undefined) { r = { instances: new Set(), watches: 0, cookie: 0 }; registries.set(k, r); }
  return r;
}

/** Whether any watch exists (fs.ts skips the work of naming events otherwise). */
export function watching(k: Kernel): boolean {
  const r = registries.get(k);
  return r !== undefined && r.watches > 0;
}

function parentOf(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return i <= 0 ? ["/", path.slice(1)] : [path.slice(0, i), path.slice(i + 1)];
}

/** Events about a directory's entries: reported to watches of the directory only (with the entry's name). */
const DIRENT_EVENTS = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
/** Events about an object itself: reported to its own watches only. */
const SELF_EVENTS = IN_DELETE_SELF | IN_MOVE_SELF;

/**
 * An event on guest path `path`, as fsnotify and fsnotify_parent route it: entry events
 * (create, delete, moves) to the watches of its directory, with its name; self events to the
 * watches of the object; the others (modify, attrib, open, close) to both. `dir`: the object
 * is a directory (IN_ISDIR).
 */
export function fsNotify(k: Kernel, path: string, mask: number, dir = false, cookie = 0, selfOnly = false): void {
  const r = registries.get(k);
  if (r === undefined || r.watches === 0 || !path.startsWith("/")) return;
  const [parent, name] = parentOf(path);
  const isdir = dir ? IN_ISDIR : 0;
  const toSelf = (mask & DIRENT_EVENTS) === 0, toParent = (mask & SELF_EVENTS) === 0 && !selfOnly && path !== "/";
  for (const ino of r.instances) {
    for (const w of [...ino.watches.values()]) {
      if ((w.mask & mask) === 0) continue;
      if (toSelf && w.path === path) ino.push({ wd: w.wd, mask: mask | isdir, cookie, name: "" });
      else if (toParent && w.path === parent) ino.push({ wd: w.wd, mask: mask | isdir, cookie, name });
      else continue;
      if ((w.mask & IN_ONESHOT) !== 0) ino.remove(w.wd);
    }
  }
}

/**
 * The name `path` is gone (unlink, rmdir). A file loses a link (IN_ATTRIB to its watches), its
 * directory gets IN_DELETE, and when that was its last link (`gone`), IN_DELETE_SELF and
 * IN_IGNORED end its watches.
 */
export function fsDeleted(k: Kernel, path: string, dir: boolean, gone = true): void {
  const r = registries.get(k);
  if (r === undefined || r.watches === 0) return;
  // fsnotify_link_count: to the file's own watches (fsnotify_inode, not its parent's).
  if (!dir) fsNotify(k, path, IN_ATTRIB, false, 0, true);
  fsNotify(k, path, IN_DELETE, dir);
  if (!gone) return;
  for (const ino of r.instances) {
    const w = ino.watchOf(path);
    if (w === undefined) continue;
    if ((w.mask & IN_DELETE_SELF) !== 0) ino.push({ wd: w.wd, mask: IN_DELETE_SELF, cookie: 0, name: "" });
    ino.remove(w.wd);
  }
}

/** A rename from → to: IN_MOVED_FROM/IN_MOVED_TO with one cookie, IN_MOVE_SELF; watches under `from` follow. */
export function fsMoved(k: Kernel, from: string, to: string, dir: boolean): void {
  const r = registries.get(k);
  if (r === undefined || r.watches === 0) return;
  const cookie = ++r.cookie;
  // A watched object the rename replaces is deleted.
  for (const ino of r.instances) {
    const w = ino.watchOf(to);
    if (w !== undefined && to !== from) {
      if ((w.mask & IN_DELETE_SELF) !== 0) ino.push({ wd: w.wd, mask: IN_DELETE_SELF, cookie: 0, name: "" });
      ino.remove(w.wd);
    }
  }
  fsNotify(k, from, IN_MOVED_FROM, dir, cookie);
  fsNotify(k, to, IN_MOVED_TO, dir, cookie);
  for (const ino of r.instances) {
    for (const w of ino.watches.values()) {
      if (w.path === from) { if ((w.mask & IN_MOVE_SELF) !== 0) ino.push({ wd: w.wd, mask: IN_MOVE_SELF, cookie: 0, name: "" }); w.path = to; }
      else if (w.path.startsWith(from + "/")) w.path = to + w.path.slice(from.length);
    }
  }
}

export function sys_inotify_init1(k: Kernel, t: Thread, a: number[]): R {
  const flags = a[0] | 0;
  if ((flags & ~(IN_NONBLOCK | IN_CLOEXEC)) !== 0) return -EINVAL;
  const r = registry(k);
  if (r.instances.size >= MAX_INSTANCES) return -EMFILE;
  const f = new InotifyFile(r);
  f.flags = O_RDONLY | (flags & IN_NONBLOCK);
  const fd = t.proc.fds.alloc(f, (flags & IN_CLOEXEC) !== 0);
  if (fd >= 0) r.instances.add(f);
  return fd;
}

export function sys_inotify_add_watch(k: Kernel, t: Thread, a: number[]): R {
  const f = t.proc.fds.get(a[0] | 0);
  if (f === undefined) return -EBADF;
  const mask = a[2] >>> 0;
  // fs/notify/inotify/inotify_user.c: unknown bits, no event, or MASK_ADD with MASK_CREATE → EINVAL.
  if ((mask & ~VALID_ADD_FLAGS) !== 0 || (mask & IN_ALL_EVENTS) === 0) return -EINVAL;
  if ((mask & IN_MASK_ADD) !== 0 && (mask & IN_MASK_CREATE) !== 0) return -EINVAL;
  if (!(f instanceof InotifyFile)) return -EINVAL;
  if (a[1] === 0) return -EFAULT;
  const ref = lookupAt(k, t, AT_FDCWD, a[1], (mask & IN_DONT_FOLLOW) === 0 ? LOOKUP_FOLLOW : 0);
  if (typeof ref === "number") return ref;
  const st = statRef(k, t, ref);
  if (typeof st === "number") return st;
  if ((mask & IN_ONLYDIR) !== 0 && (st.mode & S_IFMT) !== S_IFDIR) return -ENOTDIR;
  return f.add(ref.guest, mask);
}

export function sys_inotify_rm_watch(_k: Kernel, t: Thread, a: number[]): R {
  const f = t.proc.fds.get(a[0] | 0);
  if (f === undefined) return -EBADF;
  if (!(f instanceof InotifyFile)) return -EINVAL;
  return f.remove(a[1] | 0);
}

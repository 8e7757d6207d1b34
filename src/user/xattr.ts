// Extended attributes (setxattr, getxattr, listxattr, removexattr and their l*/f* forms). The
// host API (Node) has no xattr calls, so the root behaves as a Linux filesystem without xattr
// support: get/set/remove answer EOPNOTSUPP and list answers an empty list — but only after the
// path is looked up (ENOENT, ENOTDIR, ELOOP, EROFS, EBADF come first, in fs/xattr.c's order), and
// the l* forms look at a symlink itself, never at what it points to.
import type { Kernel } from "./kernel.js";
import {
  AT_FDCWD, E2BIG, EBADF, EFAULT, EINVAL, ENODATA, EOPNOTSUPP, EPERM, ERANGE, EROFS, O_PATH, S_IFDIR, S_IFMT,
  S_IFREG,
} from "../abi/linux.js";
import { type OpenFile } from "./file.js";
import type { HostStat } from "./host.js";
import { fileOf, lookupAt, statRef } from "./fs.js";
import type { Thread, Wait } from "./task.js";
import { LOOKUP_FOLLOW, type PathRef } from "./vfs.js";

type R = number | Wait;

export const XATTR_CREATE = 1, XATTR_REPLACE = 2;
/** include/uapi/linux/limits.h */
export const XATTR_NAME_MAX = 255, XATTR_SIZE_MAX = 65536;
const MAY_READ = 4, MAY_WRITE = 2;

/** The attribute name (strncpy_from_user into XATTR_NAME_MAX + 1 bytes): ERANGE when empty or too long. */
function xattrName(t: Thread, va: number): string | number {
  const s = t.proc.as.cstring(va, XATTR_NAME_MAX + 1);
  if (s === null) return t.proc.as.read(va, XATTR_NAME_MAX + 1) === null ? -EFAULT : -ERANGE;
  const n = new TextEncoder().encode(s).length;
  return n === 0 || n > XATTR_NAME_MAX ? -ERANGE : s;
}

/**
 * xattr_permission (fs/xattr.c) for an unprivileged caller: trusted.* needs CAP_SYS_ADMIN, and in
 * user.* only regular files and directories have attributes (EPERM to write, ENODATA to read).
 * Writing security.* needs CAP_SYS_ADMIN too (the capability LSM, cap_inode_setxattr).
 */
function permission(st: HostStat, name: string, mask: number): number {
  const type = st.mode & S_IFMT;
  const deny = (mask & MAY_WRITE) !== 0 ? -EPERM : -ENODATA;
  if (name.startsWith("trusted.")) return deny;
  if (name.startsWith("user.") && type !== S_IFREG && type !== S_IFDIR) return deny;
  if (name.startsWith("security.") && (mask & MAY_WRITE) !== 0) return -EPERM;
  return 0;
}

/** The looked-up object's stat (the link itself for the l* forms). */
function target(k: Kernel, t: Thread, ref: PathRef | OpenFile): HostStat | number {
  return "guest" in ref ? statRef(k, t, ref) : ref.stat();
}

/** What a filesystem without xattr handlers answers after the VFS checks. */
function noXattrs(k: Kernel, t: Thread, ref: PathRef | OpenFile, name: string, mask: number): number {
  const st = target(k, t, ref);
  if (typeof st === "number") return st;
  return permission(st, name, mask) || -EOPNOTSUPP;
}

/** fdget(): O_PATH descriptors are not usable here. */
function fdFile(t: Thread, fd: number): OpenFile | number {
  const f = fileOf(t, fd);
  return f === undefined || (f.flags & O_PATH) !== 0 ? -EBADF : f;
}

function setxattr(k: Kernel, t: Thread, at: () => PathRef | OpenFile | number, a: number[]): R {
  const flags = a[4] | 0, size = a[3] >>> 0;
  // setxattr_copy: flags, then the name, then the value — before the path is looked up.
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) return -EINVAL;
  const name = xattrName(t, a[1]);
  if (typeof name === "number") return name;
  if (size > XATTR_SIZE_MAX) return -E2BIG;
  if (size > 0 && t.proc.as.read(a[2], size) === null) return -EFAULT;
  const ref = at();
  if (typeof ref === "number") return ref;
  if (k.vfs.readonly) return -EROFS;
  return noXattrs(k, t, ref, name, MAY_WRITE);
}

function getxattr(k: Kernel, t: Thread, ref: PathRef | OpenFile | number, a: number[]): R {
  if (typeof ref === "number") return ref;
  const name = xattrName(t, a[1]);
  if (typeof name === "number") return name;
  return noXattrs(k, t, ref, name, MAY_READ);
}

function listxattr(k: Kernel, t: Thread, ref: PathRef | OpenFile | number): R {
  if (typeof ref === "number") return ref;
  const st = target(k, t, ref);
  // vfs_listxattr without an xattr handler and without an LSM: an empty list (0 bytes).
  return typeof st === "number" ? st : 0;
}

function removexattr(k: Kernel, t: Thread, ref: PathRef | OpenFile | number, a: number[]): R {
  if (typeof ref === "number") return ref;
  if (k.vfs.readonly) return -EROFS;
  const name = xattrName(t, a[1]);
  if (typeof name === "number") return name;
  return noXattrs(k, t, ref, name, MAY_WRITE);
}

const path = (k: Kernel, t: Thread, a: number[], follow: boolean) => (): PathRef | number =>
  lookupAt(k, t, AT_FDCWD, a[0], follow ? LOOKUP_FOLLOW : 0);

export const sys_setxattr = (k: Kernel, t: Thread, a: number[]): R => setxattr(k, t, path(k, t, a, true), a);
export const sys_lsetxattr = (k: Kernel, t: Thread, a: number[]): R => setxattr(k, t, path(k, t, a, false), a);
export function sys_fsetxattr(k: Kernel, t: Thread, a: number[]): R {
  const f = fdFile(t, a[0]);
  return typeof f === "number" ? f : setxattr(k, t, () => f, a);
}
export const sys_getxattr = (k: Kernel, t: Thread, a: number[]): R => getxattr(k, t, path(k, t, a, true)(), a);
export const sys_lgetxattr = (k: Kernel, t: Thread, a: number[]): R => getxattr(k, t, path(k, t, a, false)(), a);
export const sys_fgetxattr = (k: Kernel, t: Thread, a: number[]): R => getxattr(k, t, fdFile(t, a[0]), a);
export const sys_listxattr = (k: Kernel, t: Thread, a: number[]): R => listxattr(k, t, path(k, t, a, true)());
export const sys_llistxattr = (k: Kernel, t: Thread, a: number[]): R => listxattr(k, t, path(k, t, a, false)());
export const sys_flistxattr = (k: Kernel, t: Thread, a: number[]): R => listxattr(k, t, fdFile(t, a[0]));
export const sys_removexattr = (k: Kernel, t: Thread, a: number[]): R => removexattr(k, t, path(k, t, a, true)(), a);
export const sys_lremovexattr = (k: Kernel, t: Thread, a: number[]): R => removexattr(k, t, path(k, t, a, false)(), a);
export const sys_fremovexattr = (k: Kernel, t: Thread, a: number[]): R => removexattr(k, t, fdFile(t, a[0]), a);

// Linux open(2) flags (what guests pass: the process VM's open, 9P2000.L's Tlopen/Tlcreate) to
// this host's node:fs flags, which differ between hosts (O_DIRECTORY, O_NOFOLLOW, O_SYNC on macOS).
import { constants as C } from "node:fs";
import {
  O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_DSYNC, O_EXCL, O_NOFOLLOW, O_RDWR, O_SYNC, O_TRUNC, O_WRONLY,
} from "../../abi/linux.js";

export function nodeOpenFlags(flags: number): number {
  const acc = flags & O_ACCMODE;
  let f = acc === O_WRONLY ? C.O_WRONLY : acc === O_RDWR ? C.O_RDWR : C.O_RDONLY;
  if (flags & O_CREAT) f |= C.O_CREAT;
  if (flags & O_EXCL) f |= C.O_EXCL;
  if (flags & O_TRUNC) f |= C.O_TRUNC;
  if (flags & O_APPEND) f |= C.O_APPEND;
  if (flags & O_DIRECTORY) f |= C.O_DIRECTORY;
  if (flags & O_NOFOLLOW) f |= C.O_NOFOLLOW;
  // O_SYNC includes O_DSYNC's bit (__O_SYNC | O_DSYNC).
  if ((flags & O_SYNC) === O_SYNC) f |= C.O_SYNC;
  else if (flags & O_DSYNC) f |= C.O_DSYNC;
  return f;
}

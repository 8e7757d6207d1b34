// The Linux user ABI that rvisor speaks in two places: the process VM's system calls (src/user)
// and the virtio-9p server (src/system/devices/virtio_9p.ts, 9P2000.L carries Linux errno values,
// open flags and mode bits). Values from the generic headers riscv64 uses: asm-generic/errno*.h,
// asm-generic/fcntl.h, linux/stat.h, linux/fcntl.h, asm-generic/signal.h; struct layouts from
// asm-generic/stat.h (struct stat), linux/stat.h (struct statx), linux/dirent.h
// (linux_dirent64) and asm-generic/statfs.h (struct statfs), as riscv64 (LP64, little-endian) lays them out.
// Platform-neutral: no Node, no host types.

// ---- errno (asm-generic/errno-base.h, errno.h): handlers return -E* ----
export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19,
  ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, EFBIG = 27, ENOSPC = 28, ESPIPE = 29,
  EROFS = 30, EMLINK = 31, EPIPE = 32, ERANGE = 34, EDEADLK = 35, ENAMETOOLONG = 36, ENOLCK = 37, ENOSYS = 38,
  ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EPROTO = 71, EOVERFLOW = 75, ENOTSOCK = 88, EDESTADDRREQ = 89,
  EMSGSIZE = 90, EPROTOTYPE = 91, ENOPROTOOPT = 92, EPROTONOSUPPORT = 93, ESOCKTNOSUPPORT = 94, EOPNOTSUPP = 95,
  ENOTSUP = 95, EAFNOSUPPORT = 97, EADDRINUSE = 98, EADDRNOTAVAIL = 99, ENETUNREACH = 101, ECONNABORTED = 103,
  ECONNRESET = 104, EISCONN = 106, ENOTCONN = 107, ETIMEDOUT = 110, ECONNREFUSED = 111, EHOSTUNREACH = 113,
  EALREADY = 114, EINPROGRESS = 115;
/** Kernel-internal (include/linux/errno.h): the call restarts after a signal handler with SA_RESTART. */
export const ERESTARTSYS = 512;

/** Error code names (as hosts spell them: Node's err.code) → Linux errno. */
export const ERRNO_BY_NAME: Readonly<Record<string, number>> = {
  EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD, EAGAIN, EWOULDBLOCK: EAGAIN, ENOMEM, EACCES,
  EFAULT, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, EFBIG, ENOSPC, ESPIPE, EROFS,
  EMLINK, EPIPE, ERANGE, EDEADLK, ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, ENODATA, EPROTO, EOVERFLOW, ENOTSOCK,
  EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, ENOTSUP,
  EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH, ECONNABORTED, ECONNRESET, EISCONN, ENOTCONN, ETIMEDOUT,
  ECONNREFUSED, EHOSTUNREACH, EALREADY, EINPROGRESS,
};

/** errno → its name (strace output); the first name where two share a number (EAGAIN, EOPNOTSUPP). */
export const ERRNO_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(ERRNO_BY_NAME)) names[v] ??= k;
  return names;
})();

/** The Linux errno of a host error code name (EIO for one Linux does not have). */
export function errnoOfCode(code: unknown): number {
  return typeof code === "string" ? ERRNO_BY_NAME[code] ?? EIO : EIO;
}

// ---- open(2) flags (asm-generic/fcntl.h) ----
export const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0o100, O_EXCL = 0o200, O_NOCTTY = 0o400,
  O_TRUNC = 0o1000, O_APPEND = 0o2000, O_NONBLOCK = 0o4000, O_DSYNC = 0o10000, O_DIRECT = 0o40000,
  O_LARGEFILE = 0o100000, O_DIRECTORY = 0o200000, O_NOFOLLOW = 0o400000, O_NOATIME = 0o1000000,
  O_CLOEXEC = 0o2000000, O_SYNC = 0o4010000, O_PATH = 0o10000000, __O_TMPFILE = 0o20000000;
/** O_TMPFILE includes O_DIRECTORY, so that kernels without it fail the open (EISDIR/ENOTDIR) instead of creating a file. */
export const O_TMPFILE = __O_TMPFILE | O_DIRECTORY;

// ---- *at(2) flags, renameat2, access, utimensat (linux/fcntl.h, linux/fs.h, unistd.h, linux/stat.h) ----
export const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EACCESS = 0x200,
  AT_SYMLINK_FOLLOW = 0x400, AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000, AT_STATX_SYNC_TYPE = 0x6000;
export const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
export const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
export const UTIME_NOW = 0x3fffffff, UTIME_OMIT = 0x3ffffffe;

// ---- poll(2) events (asm-generic/poll.h) ----
export const POLLIN = 1, POLLPRI = 2, POLLOUT = 4, POLLERR = 8, POLLHUP = 16, POLLNVAL = 32, POLLRDHUP = 0x2000;

// ---- st_mode (linux/stat.h) ----
export const S_IFMT = 0o170000, S_IFSOCK = 0o140000, S_IFLNK = 0o120000, S_IFREG = 0o100000, S_IFBLK = 0o060000,
  S_IFDIR = 0o040000, S_IFCHR = 0o020000, S_IFIFO = 0o010000;
/** The permission bits with set-uid, set-gid and sticky (S_IALLUGO). */
export const S_IALLUGO = 0o7777;
/** Any of the execute bits (S_IXUGO). */
export const S_IXUGO = 0o111;

// ---- d_type of linux_dirent64 (include/linux/fs_types.h) ----
export const DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

/** d_type of an st_mode: fs_umode_to_dtype, (mode & S_IFMT) >> 12. */
export function direntType(mode: number): number { return (mode & S_IFMT) >>> 12; }

// ---- signals (asm-generic/signal.h: riscv64 uses the generic numbering) ----
/** Signal names by number. */
export const SIGNAL_NAMES: readonly string[] = [
  "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV",
  "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
  "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
];

// ---- struct codecs ----
/** What struct stat and struct statx carry (times as seconds and nanoseconds; dev and rdev as Linux's new_encode_dev). */
export interface LinuxStat {
  dev: number; ino: number; mode: number; nlink: number; uid: number; gid: number; rdev: number;
  size: number; blksize: number; blocks: number;
  atimeSec: number; atimeNsec: number; mtimeSec: number; mtimeNsec: number; ctimeSec: number; ctimeNsec: number;
}

/**
 * A little-endian struct being filled, zeroed first (padding and unset fields read as 0): 64-bit
 * fields from numbers (two's complement halves, exact for safe integers).
 */
class StructWriter {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(size: number, into?: Uint8Array) {
    this.bytes = into?.fill(0) ?? new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, size);
  }
  u16(o: number, v: number): void { this.dv.setUint16(o, v, true); }
  u32(o: number, v: number): void { this.dv.setUint32(o, v >>> 0, true); }
  u64(o: number, v: number): void { this.dv.setUint32(o, v >>> 0, true); this.dv.setUint32(o + 4, Math.floor(v / 4294967296) >>> 0, true); }
}

/** sizeof(struct stat) in the generic layout (asm-generic/stat.h). */
export const STAT_SIZE = 128;
const ST_DEV = 0, ST_INO = 8, ST_MODE = 16, ST_NLINK = 20, ST_UID = 24, ST_GID = 28, ST_RDEV = 32, ST_SIZE = 48,
  ST_BLKSIZE = 56, ST_BLOCKS = 64, ST_ATIME = 72, ST_MTIME = 88, ST_CTIME = 104;

/** struct stat (fstat, newfstatat). */
export function encodeStat(st: LinuxStat): Uint8Array {
  const w = new StructWriter(STAT_SIZE);
  w.u64(ST_DEV, st.dev); w.u64(ST_INO, st.ino); w.u32(ST_MODE, st.mode); w.u32(ST_NLINK, st.nlink);
  w.u32(ST_UID, st.uid); w.u32(ST_GID, st.gid); w.u64(ST_RDEV, st.rdev); w.u64(ST_SIZE, st.size);
  w.u32(ST_BLKSIZE, st.blksize); w.u64(ST_BLOCKS, st.blocks);
  w.u64(ST_ATIME, st.atimeSec); w.u64(ST_ATIME + 8, st.atimeNsec);
  w.u64(ST_MTIME, st.mtimeSec); w.u64(ST_MTIME + 8, st.mtimeNsec);
  w.u64(ST_CTIME, st.ctimeSec); w.u64(ST_CTIME + 8, st.ctimeNsec);
  return w.bytes;
}

/** sizeof(struct statx). */
export const STATX_SIZE = 256;
/** STATX_BASIC_STATS: type, mode, nlink, uid, gid, atime, mtime, ctime, ino, size, blocks. */
export const STATX_BASIC_STATS = 0x7ff;
const STX_MASK = 0, STX_BLKSIZE = 4, STX_NLINK = 16, STX_UID = 20, STX_GID = 24, STX_MODE = 28, STX_INO = 32,
  STX_SIZE = 40, STX_BLOCKS = 48, STX_ATIME = 64, STX_BTIME = 80, STX_CTIME = 96, STX_MTIME = 112, STX_RDEV_MAJOR = 128,
  STX_RDEV_MINOR = 132, STX_DEV_MAJOR = 136, STX_DEV_MINOR = 140;

/** MAJOR and MINOR of a new_encode_dev number as rvisor keeps them (12-bit major, 8-bit minor). */
const devMajor = (d: number): number => (d >>> 8) & 0xfff, devMinor = (d: number): number => d & 0xff;

/** struct statx with STATX_BASIC_STATS (no birth time: stx_btime stays zero, outside the mask). */
export function encodeStatx(st: LinuxStat): Uint8Array {
  const w = new StructWriter(STATX_SIZE);
  w.u32(STX_MASK, STATX_BASIC_STATS); w.u32(STX_BLKSIZE, st.blksize); w.u32(STX_NLINK, st.nlink);
  w.u32(STX_UID, st.uid); w.u32(STX_GID, st.gid); w.u16(STX_MODE, st.mode);
  w.u64(STX_INO, st.ino); w.u64(STX_SIZE, st.size); w.u64(STX_BLOCKS, st.blocks);
  // struct statx_timestamp: tv_sec[8] tv_nsec[4] __reserved[4]
  w.u64(STX_ATIME, st.atimeSec); w.u32(STX_ATIME + 8, st.atimeNsec);
  w.u64(STX_BTIME, 0);
  w.u64(STX_CTIME, st.ctimeSec); w.u32(STX_CTIME + 8, st.ctimeNsec);
  w.u64(STX_MTIME, st.mtimeSec); w.u32(STX_MTIME + 8, st.mtimeNsec);
  w.u32(STX_RDEV_MAJOR, devMajor(st.rdev)); w.u32(STX_RDEV_MINOR, devMinor(st.rdev));
  w.u32(STX_DEV_MAJOR, devMajor(st.dev)); w.u32(STX_DEV_MINOR, devMinor(st.dev));
  return w.bytes;
}

/** struct statfs (asm-generic/statfs.h, 64-bit: f_type, f_bsize, counts, f_fsid, f_namelen, f_frsize, f_flags, spare). */
export const STATFS_SIZE = 120;
export interface LinuxStatFs { type: number; bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number; namelen: number; frsize: number }
const F_TYPE = 0, F_BSIZE = 8, F_BLOCKS = 16, F_BFREE = 24, F_BAVAIL = 32, F_FILES = 40, F_FFREE = 48, F_NAMELEN = 64, F_FRSIZE = 72;

export function encodeStatfs(s: LinuxStatFs): Uint8Array {
  const w = new StructWriter(STATFS_SIZE);
  w.u64(F_TYPE, s.type); w.u64(F_BSIZE, s.bsize); w.u64(F_BLOCKS, s.blocks); w.u64(F_BFREE, s.bfree);
  w.u64(F_BAVAIL, s.bavail); w.u64(F_FILES, s.files); w.u64(F_FFREE, s.ffree); w.u64(F_NAMELEN, s.namelen);
  w.u64(F_FRSIZE, s.frsize);
  return w.bytes;
}

/** linux_dirent64: d_ino[8] d_off[8] d_reclen[2] d_type[1] d_name (NUL-terminated, the record 8-byte aligned). */
const D_INO = 0, D_OFF = 8, D_RECLEN = 16, D_TYPE = 18, D_NAME = 19, DIRENT_ALIGN = 8;

/** The record length of a linux_dirent64 whose name is `nameBytes` long. */
export function dirent64Size(nameBytes: number): number {
  return Math.ceil((D_NAME + nameBytes + 1) / DIRENT_ALIGN) * DIRENT_ALIGN;
}

/** Writes one linux_dirent64 at `out[o]` (room checked by the caller with dirent64Size); returns its length. */
export function encodeDirent64(out: Uint8Array, o: number, ino: number, off: number, type: number, name: Uint8Array): number {
  const reclen = dirent64Size(name.length);
  const w = new StructWriter(reclen, out.subarray(o, o + reclen));
  w.u64(D_INO, ino); w.u64(D_OFF, off); w.u16(D_RECLEN, reclen); out[o + D_TYPE] = type;
  out.set(name, o + D_NAME);
  out[o + D_NAME + name.length] = 0;
  return reclen;
}

/**
 * What a siginfo_t carries, by union member: a fault's address (_sigfault), or the sender's pid
 * and uid (_kill, _rt) with a SIGCHLD status (_sigchld) or a sigqueue value (_rt).
 */
export interface LinuxSiginfo { signo: number; code: number; pid?: number; uid?: number; addr?: number; status?: number; value?: number }

/** sizeof(siginfo_t) (SI_MAX_SIZE). */
export const SIGINFO_SIZE = 128;
/** si_signo, si_errno, si_code, then the union (8-byte aligned on 64-bit): si_pid, si_uid, si_status / si_value; si_addr. */
const SI_SIGNO = 0, SI_CODE = 8, SI_PID = 16, SI_UID = 20, SI_STATUS = 24, SI_VALUE = 24, SI_ADDR = 16;

/** siginfo_t, written at `into[offset]` (a fresh zeroed record when `into` is absent); returns the record. */
export function encodeSiginfo(info: LinuxSiginfo, into?: Uint8Array, offset = 0): Uint8Array {
  const w = new StructWriter(SIGINFO_SIZE, into?.subarray(offset, offset + SIGINFO_SIZE));
  w.u32(SI_SIGNO, info.signo); w.u32(SI_CODE, info.code);
  if (info.addr !== undefined) w.u64(SI_ADDR, info.addr);
  else {
    w.u32(SI_PID, info.pid ?? 0); w.u32(SI_UID, info.uid ?? 0);
    if (info.status !== undefined) w.u32(SI_STATUS, info.status);
    if (info.value !== undefined) w.u64(SI_VALUE, info.value);
  }
  return w.bytes;
}

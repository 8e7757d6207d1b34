// What the process VM needs from its host: files, the terminal, clocks, randomness, timers and
// sockets. The core never imports Node; src/host/node/user_host.ts implements these.
// File-system calls are synchronous and return a negative Linux errno on failure.

import type { LinuxStat } from "../abi/linux.js";

/** A file's status as the host reports it: the fields of Linux's struct stat. */
export type HostStat = LinuxStat;

export interface HostDirent { name: string; ino: number; type: number }

/**
 * Host file calls. Confinement rule (see Vfs.lookup): a call that would follow a final symlink is
 * only handed a path whose last component was just found not to be one; where a nofollow
 * primitive exists it is used (lstat, lchown, lutimes, O_NOFOLLOW), so a link planted by a host
 * process between the check and the call is acted on itself, never followed.
 */
export interface HostFs {
  lstat(path: string): HostStat | number;
  /** Follows a final symlink (only for paths from Vfs.lookup with follow, or the -L prefix). */
  stat(path: string): HostStat | number;
  readlink(path: string): string | number;
  /** Opens with Linux O_* flags; returns a host handle ≥ 0 or -errno. */
  open(path: string, flags: number, mode: number): number;
  close(h: number): void;
  read(h: number, buf: Uint8Array, pos: number | null): number;
  write(h: number, buf: Uint8Array, pos: number | null): number;
  fstat(h: number): HostStat | number;
  ftruncate(h: number, len: number): number;
  fsync(h: number): number;
  fchmod(h: number, mode: number): number;
  /** -1 leaves an id unchanged. */
  fchown(h: number, uid: number, gid: number): number;
  /** Times in seconds (fractional); null leaves one unchanged. */
  futimes(h: number, atime: number | null, mtime: number | null): number;
  readdir(path: string): HostDirent[] | number;
  /** Lists the directory open as handle h (wherever it is now); -ENOSYS where the host cannot. */
  readdirHandle(h: number): HostDirent[] | number;
  mkdir(path: string, mode: number): number;
  rmdir(path: string): number;
  unlink(path: string): number;
  rename(from: string, to: string): number;
  symlink(target: string, path: string): number;
  /** link(2): a symlink `from` is linked itself, never followed. */
  link(from: string, to: string): number;
  /** Follows a final symlink (Linux has no lchmod): callers check the last component first. */
  chmod(path: string, mode: number): number;
  /** Never follows a final symlink (lchown); -1 leaves an id unchanged. */
  lchown(path: string, uid: number, gid: number): number;
  /** Never follows a final symlink (lutimes). Times in seconds (fractional); null leaves one unchanged. */
  lutimes(path: string, atime: number | null, mtime: number | null): number;
  /** Never follows a final symlink (ELOOP on one). */
  truncate(path: string, len: number): number;
  /** Follows a final symlink: callers check the last component first. */
  access(path: string, mode: number): number;
  /**
   * Where the host keeps a Unix socket named `path` (bind: where it is to be made), for a
   * filesystem whose paths are not host paths (the overlay); absent: `path` itself.
   */
  socketPath?(path: string, bind: boolean): string | number;
}

export interface HostTerminal {
  isatty(fd: number): boolean;
  /** Rows and columns of the terminal on fd, or null. */
  winsize(fd: number): { rows: number; cols: number } | null;
  /**
   * Raw mode of the terminal on stdin: no host line editing, echo or signal keys (the guest's
   * tty does them: src/user/tty.ts). Set when the guest starts on a terminal.
   */
  setRaw(raw: boolean): void;
  /**
   * Writes guest output to host fd 0, 1 or 2 (synchronously, in order); returns the bytes
   * written or -errno (-EPIPE once the reader of a pipe is gone).
   */
  write(fd: number, data: Uint8Array): number;
  /** Starts delivering stdin bytes (null = EOF). */
  startInput(onData: (chunk: Uint8Array | null) => void): void;
  /** Signals sent to rvisor itself (SIGINT, SIGQUIT, SIGTERM, SIGHUP, as Linux numbers). */
  onSignal(cb: (sig: number) => void): void;
  /** The terminal's size changed. */
  onResize(cb: () => void): void;
  /**
   * The guest gives the terminal back (its first process exited): the terminal's modes are
   * restored and a terminal stdin is no longer read, so keys reach the host again.
   */
  release(): void;
  /** Stops rvisor as a job-control stop (the terminal restored meanwhile); returns once continued. */
  suspend(): void;
  /** Restores everything (at exit). */
  stop(): void;
}

export interface HostClock {
  /** Wall clock: [seconds, nanoseconds] since the epoch. */
  realtime(): [number, number];
  /** Monotonic nanoseconds (exact as a double for ~100 days). */
  monotonic(): number;
  /** Calls cb after ms milliseconds; returns a cancel function. */
  setTimer(ms: number, cb: () => void): () => void;
  /** Lets the host event loop run (I/O callbacks), then resolves. */
  yield(): Promise<void>;
}

/**
 * A socket address as the host sees it. For "unix", `address` is the host path (a leading NUL
 * marks Linux's abstract namespace) and `port` is 0.
 */
export interface SockAddr { family: "inet" | "inet6" | "unix"; address: string; port: number }

/** What a host stream socket (TCP or Unix) reports; the core keeps the buffers. */
export interface HostStreamEvents {
  /** An outgoing connection is established. */
  connected(local: SockAddr, remote: SockAddr): void;
  data(chunk: Uint8Array): void;
  /** The peer shut down its sending side (FIN). */
  end(): void;
  /** The host's send buffer has room again after write() returned false. */
  drained(): void;
  /** Connection failure or reset, as a Linux errno. */
  error(errno: number): void;
}

export interface HostStream {
  /** Queues data; false when the host buffer is full (wait for drained). */
  write(data: Uint8Array): boolean;
  /** shutdown(SHUT_WR): FIN after the queued data. */
  shutdownWrite(): void;
  /** close(): flushes queued data, then closes. */
  close(): void;
  /** Stop/start delivering data (receive-side flow control). */
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean): void;
}

export interface HostListenerEvents {
  /** An incoming connection; returns where its events go. */
  connection(s: HostStream, local: SockAddr, remote: SockAddr): HostStreamEvents;
  error(errno: number): void;
}

export interface HostListener {
  address(): SockAddr;
  close(): void;
}

export interface HostDgramEvents {
  message(data: Uint8Array, from: SockAddr): void;
  error(errno: number): void;
}

export interface HostDgram {
  /** Binds; calls back with the bound address or -errno. Sending before binding binds implicitly. */
  bind(addr: SockAddr, done: (r: SockAddr | number) => void): void;
  send(data: Uint8Array, to: SockAddr): void;
  /** The bound address, once bound. */
  address(): SockAddr | null;
  setBroadcast(on: boolean): void;
  close(): void;
}

export interface ListenOptions { backlog: number; ipv6Only: boolean }

export interface HostNet {
  /** Starts a TCP or Unix stream connection (from: a local address to bind first, or null). */
  connect(to: SockAddr, from: SockAddr | null, ev: HostStreamEvents): HostStream;
  /** Binds and listens; calls back with the listener or -errno. */
  listen(addr: SockAddr, opts: ListenOptions, ev: HostListenerEvents, done: (r: HostListener | number) => void): void;
  /** A UDP socket. */
  dgram(family: "inet" | "inet6", ev: HostDgramEvents): HostDgram;
  /** Closes whatever is still open (at exit), letting queued output drain for a short while. */
  closeAll(): Promise<void>;
}

/**
 * A descriptor a host-native program starts with (HostExecRequest.fds): a host file or directory
 * the guest opened (a HostFs handle), one of rvisor's own stdin/stdout/stderr (or its terminal),
 * the null device, or a bridge: a host pipe whose other end the kernel copies to and from the guest's
 * open file (guest pipes, sockets and everything else that has no host descriptor).
 */
export type HostExecFd =
  | { kind: "handle"; handle: number }
  | { kind: "stdio"; fd: number }
  /** The host's null device (the guest's /dev/null: nothing to bridge). */
  | { kind: "null" }
  | { kind: "bridge"; toChild: boolean; fromChild: boolean };

export interface HostExecRequest {
  /** Host path of the executable and its argv (argv[0] as the guest gave it). */
  path: string; argv: string[];
  /** The environment exactly as execve passed it ("NAME=value" strings). */
  env: string[];
  /** Host path of the working directory. */
  cwd: string;
  /** The child's descriptors by number; null: closed. */
  fds: (HostExecFd | null)[];
}

export interface HostChildEvents {
  /** The host program runs (0) or could not be started (-errno, as execve reports it). */
  started(r: number): void;
  /** Bytes the program wrote to bridged descriptor `fd`. */
  data(fd: number, chunk: Uint8Array): void;
  /** The program (and whatever inherited it) closed its side of bridged descriptor `fd`. */
  end(fd: number): void;
  /** A bridged descriptor's host buffer has room again after write() returned false. */
  drained(fd: number): void;
  /**
   * The program exited and its descriptors are closed: its wait status as wait4 reports it
   * (exit code << 8, or the Linux signal number that killed it), and the file offsets of the
   * "handle" descriptors it was given, where the host can tell.
   */
  exit(status: number, offsets: Map<number, number>): void;
}

export interface HostChild {
  /** Queues bytes for the program to read on bridged `fd`; false when the host buffer is full (wait for drained). */
  write(fd: number, data: Uint8Array): boolean;
  /** No more bytes for the program on bridged `fd` (it reads end of file). */
  endInput(fd: number): void;
  /** Stops taking the program's output on `fd` (the guest side is full), or takes it again. */
  pause(fd: number): void;
  resume(fd: number): void;
  /** Closes bridged `fd` on rvisor's side (the guest reader is gone: the program's writes fail with EPIPE). */
  close(fd: number): void;
  /** Sends Linux signal `sig`. */
  kill(sig: number): void;
}

/** Runs host-native programs (unconfined execve); absent where the host cannot (a browser). */
export interface HostExec {
  spawn(req: HostExecRequest, ev: HostChildEvents): HostChild;
}

export interface UserHost {
  fs: HostFs;
  term: HostTerminal;
  clock: HostClock;
  net: HostNet;
  random(buf: Uint8Array): void;
  /** Host name for uname. */
  hostname: string;
  /**
   * How many CPUs the guest is shown (sched_getaffinity, /proc/cpuinfo, /proc/stat,
   * /sys/devices/system/cpu/online): the host's, so that runtimes size their thread pools as
   * they would natively. Absent: 1.
   */
  cpus?: number;
  /** Host processes for host-native programs an unconfined guest execs (src/user/host_exec.ts). */
  exec?: HostExec;
}

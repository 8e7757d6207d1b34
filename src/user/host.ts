// What the process VM needs from its host: files, the terminal, clocks, randomness, timers and
// sockets. The core never imports Node; src/host/node/user_host.ts implements these.
// File-system calls are synchronous and return a negative Linux errno on failure.

export interface HostStat {
  dev: number; ino: number; mode: number; nlink: number; uid: number; gid: number; rdev: number;
  size: number; blksize: number; blocks: number;
  atimeSec: number; atimeNsec: number; mtimeSec: number; mtimeNsec: number; ctimeSec: number; ctimeNsec: number;
}

export interface HostDirent { name: string; ino: number; type: number }

export interface HostFs {
  lstat(path: string): HostStat | number;
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
  readdir(path: string): HostDirent[] | number;
  mkdir(path: string, mode: number): number;
  rmdir(path: string): number;
  unlink(path: string): number;
  rename(from: string, to: string): number;
  symlink(target: string, path: string): number;
  link(from: string, to: string): number;
  chmod(path: string, mode: number): number;
  chown(path: string, uid: number, gid: number): number;
  /** Times in seconds (fractional); null leaves one unchanged. */
  utimes(path: string, atime: number | null, mtime: number | null): number;
  truncate(path: string, len: number): number;
  access(path: string, mode: number): number;
}

export interface HostTerminal {
  isatty(fd: number): boolean;
  /** Rows and columns of the terminal on fd, or null. */
  winsize(fd: number): { rows: number; cols: number } | null;
  /** Raw mode on/off (from TCSETS: ICANON/ECHO cleared → raw). */
  setRaw(raw: boolean): void;
  /** Writes guest output to host fd 1 or 2 (synchronously, in order). */
  write(fd: number, data: Uint8Array): void;
  /** Starts delivering stdin bytes (null = EOF). Called on the guest's first read of a stdin file. */
  startInput(onData: (chunk: Uint8Array | null) => void): void;
  /** Ctrl-C from the host terminal when not in raw mode (SIGINT). */
  onInterrupt(cb: () => void): void;
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

/** A host socket as a stream of events; the core keeps the buffers. */
export interface HostSocketEvents {
  data(chunk: Uint8Array, from?: SockAddr): void;
  end(): void;
  error(errno: number): void;
  connected(): void;
  /** A listening socket accepted a connection. */
  accept(adopt: (ev: HostSocketEvents) => HostSocket, peer: SockAddr): void;
  drained(): void;
}

export interface SockAddr { family: "inet" | "inet6" | "unix"; address: string; port: number }

export interface HostSocket {
  connect(to: SockAddr): void;
  /** Listen on `addr`; calls back with the bound address or -errno. */
  listen(addr: SockAddr, backlog: number, done: (r: SockAddr | number) => void): void;
  /** Stream write; returns false when the host buffer is full (wait for drained). */
  write(data: Uint8Array): boolean;
  /** Datagram send. */
  sendTo(data: Uint8Array, to: SockAddr): void;
  /** Datagram bind; calls back with the bound address or -errno. */
  bind(addr: SockAddr, done: (r: SockAddr | number) => void): void;
  shutdownWrite(): void;
  close(): void;
  localAddress(): SockAddr | null;
  remoteAddress(): SockAddr | null;
  setNoDelay?(on: boolean): void;
}

export interface HostNet {
  /** A stream (TCP/Unix) or datagram (UDP) socket. */
  create(kind: "stream" | "dgram", family: SockAddr["family"], ev: HostSocketEvents): HostSocket;
}

export interface UserHost {
  fs: HostFs;
  term: HostTerminal;
  clock: HostClock;
  net: HostNet;
  random(buf: Uint8Array): void;
  /** Host name for uname. */
  hostname: string;
}

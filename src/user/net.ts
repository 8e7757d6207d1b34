// Socket system calls. TCP and UDP (IPv4 and IPv6) are host sockets reached through HostNet;
// Unix stream sockets listen on host paths (inside the guest root) so host programs can connect,
// while a guest connecting to a guest listener, socketpair and Unix datagram sockets stay inside
// the kernel (which is also what makes SCM_RIGHTS possible). Host events only fill buffers and
// call OpenFile.notify(); a blocked call parks its thread on a Wait that re-checks them.
//
// One deliberate difference from Linux: a TCP or Unix bind() starts the host listener at once
// (so EADDRINUSE and the ephemeral port are known at bind time, as on Linux); if the socket then
// connects instead of listening, the listener is closed and the address is used as the source.
import type { Kernel } from "./kernel.js";
import {
  AT_FDCWD, EACCES, EADDRINUSE, EAFNOSUPPORT, EAGAIN, EALREADY, EBADF, ECONNREFUSED, ECONNRESET, EDESTADDRREQ,
  EFAULT, EINPROGRESS, EINVAL, EISCONN, EMSGSIZE, ENOENT, ENOPROTOOPT, ENOTCONN, ENOTDIR, ENOTSOCK, EOPNOTSUPP,
  EPIPE, EPROTONOSUPPORT, EROFS, ESOCKTNOSUPPORT, O_CLOEXEC, O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT,
  POLLRDHUP, S_IFMT, S_IFSOCK,
} from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import { lookupPath } from "./fs.js";
import { LOOKUP_FOLLOW } from "./vfs.js";
import type { HostDgram, HostListener, HostStat, HostStream, HostStreamEvents, SockAddr } from "./host.js";
import { SIGPIPE, Wait, release, type Thread } from "./task.js";
import { ptr, sizeT } from "./args.js";
import { MAX_COPY } from "./memory.js";

type R = number | Wait;

export const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
export const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = O_NONBLOCK, SOCK_CLOEXEC = O_CLOEXEC;
export const MSG_OOB = 1, MSG_PEEK = 2, MSG_CTRUNC = 8, MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_EOR = 0x80,
  MSG_WAITALL = 0x100, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;
export const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_ERROR = 4, SO_BROADCAST = 6, SO_SNDBUF = 7,
  SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_LINGER = 13, SO_PEERCRED = 17, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21,
  SO_ACCEPTCONN = 30, SO_PROTOCOL = 38, SO_DOMAIN = 39;
export const IPPROTO_IP = 0, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_IPV6 = 41, TCP_NODELAY = 1, IPV6_V6ONLY = 26;
export const SCM_RIGHTS = 1;

/** Bytes an in-kernel stream socket buffers before writers block (Linux's default wmem). */
const LOCAL_CAPACITY = 212992;
/** Host receive buffering: pause the host socket above HIGH, resume below LOW. */
const RX_HIGH = 1 << 20, RX_LOW = 256 << 10;

// ------------------------------------------------------------------ addresses

const FAMILY_OF: Record<number, SockAddr["family"]> = { [AF_UNIX]: "unix", [AF_INET]: "inet", [AF_INET6]: "inet6" };

/** A guest-visible address: for Unix sockets the guest path (not the host path). */
export interface GuestAddr { family: SockAddr["family"]; address: string; port: number; /** Unix: registry key (host path). */ key?: string }

export function parseIPv4(s: string): number[] | null {
  const p = s.split(".");
  if (p.length !== 4) return null;
  const b = p.map((x) => (/^\d{1,3}$/.test(x) ? Number(x) : -1));
  return b.every((x) => x >= 0 && x <= 255) ? b : null;
}

/** IPv6 text (with :: and an embedded IPv4 tail, %scope ignored) → 16 bytes. */
export function parseIPv6(s: string): number[] | null {
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    s = s.slice(0, lastColon + 1) + (s[lastColon - 1] === ":" ? "" : "0");
    if (s.endsWith(":0")) s = s.slice(0, -2);
    if (s.endsWith(":") && !s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const words = (h: string): number[] | null => {
    if (h === "") return [];
    const w = h.split(":").map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : -1));
    return w.every((x) => x >= 0) ? w : null;
  };
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  if (head === null || rest === null) return null;
  const need = 8 - tail.length;
  let all: number[];
  if (halves.length === 2) {
    const fill = need - head.length - rest.length;
    if (fill < 0) return null;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    if (head.length !== need) return null;
    all = [...head, ...tail];
  }
  const out: number[] = [];
  for (const w of all) out.push(w >> 8, w & 0xff);
  return out;
}

export function formatIPv6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i] << 8) | b[i + 1]);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Reads a guest sockaddr. */
function readAddr(t: Thread, ptr: number, len: number): GuestAddr | number {
  if (len < 2 || len > 128) return -EINVAL;
  const b = t.proc.as.read(ptr, len);
  if (b === null) return -EFAULT;
  const fam = b[0] | (b[1] << 8);
  if (fam === AF_INET) {
    if (len < 16) return -EINVAL;
    return { family: "inet", address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port: (b[2] << 8) | b[3] };
  }
  if (fam === AF_INET6) {
    if (len < 24) return -EINVAL;
    return { family: "inet6", address: formatIPv6(b.subarray(8, 24)), port: (b[2] << 8) | b[3] };
  }
  if (fam === AF_UNIX) {
    let path = b.subarray(2);
    if (path.length === 0) return { family: "unix", address: "", port: 0 };
    if (path[0] !== 0) { const z = path.indexOf(0); if (z >= 0) path = path.subarray(0, z); }
    return { family: "unix", address: new TextDecoder().decode(path), port: 0 };
  }
  return -EAFNOSUPPORT;
}

function addrBytes(a: GuestAddr | null, domain: number): Uint8Array {
  if (a === null || domain === AF_UNIX && (a.family !== "unix" || a.address === "")) {
    if (domain === AF_UNIX) return new Uint8Array([AF_UNIX, 0]);
    a = { family: domain === AF_INET6 ? "inet6" : "inet", address: domain === AF_INET6 ? "::" : "0.0.0.0", port: 0 };
  }
  if (a.family === "unix") {
    const p = new TextEncoder().encode(a.address);
    const b = new Uint8Array(2 + p.length + (a.address.startsWith("\0") ? 0 : 1));
    b[0] = AF_UNIX; b.set(p, 2);
    return b;
  }
  if (a.family === "inet" && domain === AF_INET6) a = { family: "inet6", address: "::ffff:" + a.address, port: a.port };
  if (a.family === "inet6" && domain === AF_INET && a.address.toLowerCase().startsWith("::ffff:") && a.address.includes(".")) {
    a = { family: "inet", address: a.address.slice(7), port: a.port };
  }
  if (a.family === "inet") {
    const b = new Uint8Array(16);
    b[0] = AF_INET; b[2] = a.port >> 8; b[3] = a.port & 0xff;
    b.set(parseIPv4(a.address) ?? [0, 0, 0, 0], 4);
    return b;
  }
  const b = new Uint8Array(28);
  b[0] = AF_INET6; b[2] = a.port >> 8; b[3] = a.port & 0xff;
  b.set(parseIPv6(a.address) ?? new Array<number>(16).fill(0), 8);
  return b;
}

/** Writes a sockaddr to (ptr, *lenPtr) as Linux does: truncated to the buffer, full length stored. */
function putAddr(t: Thread, ptr: number, lenPtr: number, bytes: Uint8Array): number {
  if (ptr === 0 || lenPtr === 0) return 0;
  const len = t.proc.as.u32(lenPtr);
  if (len === null) return -EFAULT;
  if ((len | 0) < 0) return -EINVAL;
  if (!t.proc.as.write(ptr, bytes.subarray(0, Math.min(len, bytes.length)))) return -EFAULT;
  return t.proc.as.putU32(lenPtr, bytes.length) ? 0 : -EFAULT;
}

const hostFamily = (domain: number): "inet" | "inet6" => (domain === AF_INET6 ? "inet6" : "inet");

// ------------------------------------------------------------------ socket files

interface RecvResult { data: Uint8Array; from: GuestAddr | null; rights: OpenFile[] | null; flags: number; full: number }
interface Segment { data: Uint8Array; rights: OpenFile[] | null; from: GuestAddr | null }

/** Per-kernel registry of in-kernel Unix names (host path, or "\0name" for the abstract namespace). */
const unixNames = new WeakMap<Kernel, Map<string, Socket>>();
function names(k: Kernel): Map<string, Socket> {
  let m = unixNames.get(k);
  if (m === undefined) { m = new Map(); unixNames.set(k, m); }
  return m;
}

function releaseRights(r: OpenFile[] | null): void { if (r !== null) for (const f of r) release(f); }

export abstract class Socket extends OpenFile {
  /** SO_* and protocol options as ints, keyed by level << 16 | name. */
  readonly opts = new Map<number, number>();
  rcvTimeoutNs = 0;
  sndTimeoutNs = 0;
  /** Pending error for SO_ERROR (positive errno). */
  soError = 0;
  local: GuestAddr | null = null;
  peer: GuestAddr | null = null;
  /** Host path or abstract key registered in `unixNames`. */
  unixKey: string | null = null;
  credPid = 0;
  /** Wakeups of this socket's waiters (data, a connection, room, end of file, an error): EPOLLET edges. */
  gen = 0;
  constructor(readonly k: Kernel, readonly domain: number, readonly type: number, readonly protocol: number) {
    super();
    this.flags = 2;
    this.path = `socket:[${nextSockId++}]`;
  }
  override stat(): HostStat { return fakeStat(S_IFSOCK | 0o777); }
  /**
   * Linux wakes a socket's wait queue (sk_data_ready, sk_write_space, sk_state_change) on every
   * arrival, not only when it turns readable, and an EPOLLET interest reports each such wakeup.
   */
  override wakeups(): number { return this.gen; }
  /** Wakes this socket's waiters: an edge for EPOLLET interests, and a re-check for blocked calls. */
  wake(): void { this.gen++; OpenFile.notify(); }
  abstract bind(t: Thread, a: GuestAddr): R;
  abstract connect(t: Thread, a: GuestAddr, nonblock: boolean): R;
  listen(_backlog: number): R { return -EOPNOTSUPP; }
  accept(): Socket | number { return -EOPNOTSUPP; }
  abstract send(data: Uint8Array, to: GuestAddr | null, flags: number, rights: OpenFile[] | null): number;
  abstract recv(max: number, flags: number): RecvResult | number;
  abstract shutdown(how: number): number;
  /** The guest-visible local address. */
  sockName(): GuestAddr | null { return this.local; }
  listening(): boolean { return false; }
  setOption(level: number, name: number, v: number): void { this.opts.set((level << 16) | name, v); }
  option(level: number, name: number, dflt = 0): number { return this.opts.get((level << 16) | name) ?? dflt; }
  override read(buf: Uint8Array): number {
    const r = this.recv(buf.length, 0);
    if (typeof r === "number") return r;
    buf.set(r.data);
    releaseRights(r.rights);
    return r.data.length;
  }
  override write(data: Uint8Array): number { return this.send(data, null, 0, null); }
  override ioctl(req: number): number { return req === 0x541b ? this.readable() : -25; }
  /** Bytes ready to read (FIONREAD). */
  abstract readable(): number;
  override release(): void {
    if (this.unixKey !== null && names(this.k).get(this.unixKey) === this) names(this.k).delete(this.unixKey);
    this.unixKey = null;
  }
}
let nextSockId = 9000;

// ------------------------------------------------------------------ streams (TCP, Unix stream, socketpair)

type StreamState = "init" | "binding" | "bound" | "listening" | "connecting" | "connected" | "closed";

export class StreamSocket extends Socket {
  state: StreamState = "init";
  /** Receive buffer. */
  private rx: Segment[] = [];
  rxBytes = 0;
  /** Peer sent FIN / we shut down reading. */
  rxEof = false;
  rdShut = false;
  wrShut = false;
  /** Host transport (TCP, host Unix sockets). */
  host: HostStream | null = null;
  private hostPaused = false;
  private writeBlocked = false;
  /** In-kernel peer (Unix). */
  peerSock: StreamSocket | null = null;
  /** Host listener of a bound or listening socket, and its not-yet-accepted connections. */
  listener: HostListener | null = null;
  private acceptQ: StreamSocket[] = [];
  backlog = 128;
  /** Result of an asynchronous bind (listener start): null while in progress. */
  private bindResult: number | null = 0;
  constructor(k: Kernel, domain: number, type: number, protocol: number) { super(k, domain, type, protocol); }

  /** Events for a host stream whose buffers are this socket's. */
  private events(): HostStreamEvents {
    return {
      connected: (local, remote) => {
        if (this.state !== "connecting") return;
        this.state = "connected";
        if (this.domain !== AF_UNIX) { this.local = local; this.peer = remote; }
        this.applyOptions();
        this.wake();
      },
      data: (chunk) => {
        if (this.rdShut) return;
        this.rx.push({ data: chunk, rights: null, from: null });
        this.rxBytes += chunk.length;
        if (this.rxBytes > RX_HIGH && this.host !== null && !this.hostPaused) { this.hostPaused = true; this.host.pause(); }
        this.wake();
      },
      end: () => { this.rxEof = true; this.wake(); },
      drained: () => { this.writeBlocked = false; this.wake(); },
      error: (errno) => {
        this.soError = errno;
        if (this.state === "connecting") { this.state = "init"; this.host = null; this.wake(); return; }
        this.rxEof = true;
        this.wrShut = true;
        this.wake();
      },
    };
  }

  private applyOptions(): void {
    if (this.host === null) return;
    if (this.option(IPPROTO_TCP, TCP_NODELAY) !== 0) this.host.setNoDelay(true);
    if (this.option(SOL_SOCKET, SO_KEEPALIVE) !== 0) this.host.setKeepAlive(true);
  }

  override setOption(level: number, name: number, v: number): void {
    super.setOption(level, name, v);
    if (this.host !== null && level === IPPROTO_TCP && name === TCP_NODELAY) this.host.setNoDelay(v !== 0);
    if (this.host !== null && level === SOL_SOCKET && name === SO_KEEPALIVE) this.host.setKeepAlive(v !== 0);
  }

  override listening(): boolean { return this.state === "listening"; }

  /** A connected in-kernel pair (socketpair, or a guest connecting to a guest Unix listener). */
  static pair(k: Kernel, domain: number, type: number): [StreamSocket, StreamSocket] {
    const a = new StreamSocket(k, domain, type, 0), b = new StreamSocket(k, domain, type, 0);
    a.peerSock = b; b.peerSock = a;
    a.state = b.state = "connected";
    return [a, b];
  }

  override bind(t: Thread, addr: GuestAddr): R {
    if (this.state !== "init") return -EINVAL;
    if (this.domain === AF_UNIX) {
      const key = unixKey(this.k, t, addr, false);
      if (typeof key === "number") return key;
      if (names(this.k).has(key)) return -EADDRINUSE;
      this.local = addr;
      this.unixKey = key;
      names(this.k).set(key, this);
      this.state = "bound";
      if (key.startsWith("\0")) return 0;
      return this.startListener({ family: "unix", address: key, port: 0 });
    }
    if (addr.family !== FAMILY_OF[this.domain] && !(this.domain === AF_INET6 && addr.family === "inet")) return -EAFNOSUPPORT;
    return this.startListener(addr);
  }

  /** Starts the host listener (at bind, or at listen without bind); parks until it is up. */
  private startListener(addr: SockAddr): R {
    this.state = "binding";
    this.bindResult = null;
    const ipv6Only = this.option(IPPROTO_IPV6, IPV6_V6ONLY) !== 0;
    this.k.host.net.listen(addr, { backlog: this.backlog, ipv6Only }, {
      connection: (s, local, remote) => {
        const c = new StreamSocket(this.k, this.domain, this.type, this.protocol);
        c.state = "connected";
        c.host = s;
        c.credPid = this.credPid;
        c.local = this.domain === AF_UNIX ? this.local : local;
        c.peer = this.domain === AF_UNIX ? null : remote;
        if (this.state === "closed") { s.close(); return c.events(); }
        this.acceptQ.push(c);
        for (const [key, v] of this.opts) c.opts.set(key, v);
        c.applyOptions();
        this.wake();
        return c.events();
      },
      error: (errno) => { this.soError = errno; this.wake(); },
    }, (r) => {
      if (typeof r === "number" && this.domain === AF_UNIX && r !== -EADDRINUSE && r !== -ENOENT && r !== -EACCES && r !== -ENOTDIR && r !== -EROFS) {
        // The host cannot listen there (a path too long for the host, say): the name stays guest-only.
        this.bindResult = 0;
        if (this.state === "binding") this.state = this.wantListen ? "listening" : "bound";
      } else if (typeof r === "number") {
        this.bindResult = r;
        if (this.unixKey !== null) { names(this.k).delete(this.unixKey); this.unixKey = null; }
        this.state = "init";
        this.local = null;
      } else {
        this.bindResult = 0;
        if (this.state === "closed") { r.close(); return; }
        this.listener = r;
        if (this.domain !== AF_UNIX) this.local = r.address();
        if (this.state === "binding") this.state = this.wantListen ? "listening" : "bound";
      }
      OpenFile.notify();
    });
    return this.bindResult ?? new Wait(() => this.bindResult, Infinity, () => -EINVAL, false);
  }
  private wantListen = false;

  override listen(backlog: number): R {
    this.backlog = Math.max(1, Math.min(backlog, 4096));
    if (this.state === "listening") return 0;
    if (this.state === "bound") { this.state = "listening"; return 0; }
    if (this.state === "binding") { this.wantListen = true; return 0; }
    if (this.state !== "init") return -EINVAL;
    this.wantListen = true;
    if (this.domain === AF_UNIX) return -EINVAL; // Linux autobinds an abstract name; not supported
    const any: GuestAddr = this.domain === AF_INET6 ? { family: "inet6", address: "::", port: 0 } : { family: "inet", address: "0.0.0.0", port: 0 };
    const r = this.startListener(any);
    if (r instanceof Wait) return new Wait(() => { const x = r.check(); return x === null ? null : x < 0 ? x : 0; }, Infinity, () => -EINVAL, false);
    return r;
  }

  override accept(): StreamSocket | number {
    if (this.state !== "listening") return -EINVAL;
    const c = this.acceptQ.shift();
    if (c === undefined) return this.soError !== 0 ? -this.soError : -EAGAIN;
    return c;
  }

  /** An in-kernel connection to a listening guest socket. */
  acceptLocal(client: StreamSocket): boolean {
    if (this.state !== "listening" || this.acceptQ.length >= this.backlog + 1) return false;
    const server = new StreamSocket(this.k, this.domain, this.type, this.protocol);
    server.state = "connected";
    server.local = this.local;
    server.credPid = this.credPid;
    server.peerSock = client; client.peerSock = server;
    client.state = "connected";
    server.peer = client.local;
    this.acceptQ.push(server);
    client.gen++;
    this.wake();
    return true;
  }

  override connect(t: Thread, addr: GuestAddr, nonblock: boolean): R {
    if (this.state === "connected") return -EISCONN;
    if (this.state === "connecting") return nonblock ? -EALREADY : this.waitConnected();
    if (this.state === "listening") return -EINVAL;
    if (this.domain === AF_UNIX) {
      if (addr.family !== "unix") return -EINVAL;
      const key = unixKey(this.k, t, addr, true);
      if (typeof key === "number") return key;
      this.peer = addr;
      const l = names(this.k).get(key);
      if (l instanceof StreamSocket && l.type === this.type) {
        if (!l.acceptLocal(this)) return l.state === "listening" ? -EAGAIN : -ECONNREFUSED;
        return 0;
      }
      if (l !== undefined || key.startsWith("\0")) return -ECONNREFUSED;
      // The key's last component is no symlink (looked up with follow); lstat keeps it so.
      const st = this.k.vfs.host.lstat(key);
      if (typeof st === "number") return st;
      if ((st.mode & S_IFMT) !== S_IFSOCK) return -ECONNREFUSED;
      return this.hostConnect({ family: "unix", address: key, port: 0 }, null, nonblock);
    }
    if (addr.family === "unix") return -EAFNOSUPPORT;
    if (this.domain === AF_INET && addr.family !== "inet") return -EAFNOSUPPORT;
    let from: SockAddr | null = null;
    if (this.listener !== null || this.state === "bound") {
      from = this.local;
      this.listener?.close();
      this.listener = null;
    }
    this.peer = addr;
    return this.hostConnect(addr, from, nonblock);
  }

  private hostConnect(to: SockAddr, from: SockAddr | null, nonblock: boolean): R {
    this.state = "connecting";
    this.soError = 0;
    this.host = this.k.host.net.connect(to, from, this.events());
    if (nonblock) return -EINPROGRESS;
    return this.waitConnected();
  }

  private waitConnected(): R {
    const check = (): number | null => {
      if (this.state === "connected") return 0;
      if (this.state === "connecting") return null;
      const e = this.soError || ECONNREFUSED;
      this.soError = 0;
      return -e;
    };
    return check() ?? new Wait(check, this.sndTimeoutNs > 0 ? this.k.host.clock.monotonic() + this.sndTimeoutNs : Infinity, () => -EINPROGRESS, false);
  }

  override send(data: Uint8Array, _to: GuestAddr | null, _flags: number, rights: OpenFile[] | null): number {
    if (this.soError !== 0 && this.state !== "connecting") { const e = this.soError; this.soError = 0; return -(e === ECONNRESET || e === EPIPE ? e : e); }
    if (this.wrShut) return -EPIPE;
    if (this.state !== "connected") return this.state === "closed" ? -EPIPE : -ENOTCONN;
    if (data.length === 0) return 0;
    const p = this.peerSock;
    if (p !== null) {
      if (p.state === "closed" || p.rdShut) return -EPIPE;
      const room = LOCAL_CAPACITY - p.rxBytes;
      if (room <= 0) return -EAGAIN;
      const n = Math.min(room, data.length);
      p.rx.push({ data: data.slice(0, n), rights, from: null });
      p.rxBytes += n;
      p.wake();
      return n;
    }
    if (this.host === null) return -ENOTCONN;
    if (rights !== null) releaseRights(rights); // descriptors cannot cross to the host
    if (this.writeBlocked) return -EAGAIN;
    if (!this.host.write(data.slice())) this.writeBlocked = true;
    return data.length;
  }

  override recv(max: number, flags: number): RecvResult | number {
    if (this.state === "listening") return -EINVAL;
    if (this.rxBytes === 0) {
      if (this.rdShut || this.rxEof) {
        if (this.soError !== 0 && this.soError !== EPIPE) { const e = this.soError; this.soError = 0; return -e; }
        return { data: new Uint8Array(0), from: null, rights: null, flags: 0, full: 0 };
      }
      if (this.state !== "connected" && this.state !== "connecting") return -ENOTCONN;
      return -EAGAIN;
    }
    if ((flags & MSG_WAITALL) !== 0 && this.rxBytes < max && !this.rxEof && !this.rdShut && (flags & MSG_DONTWAIT) === 0) return -EAGAIN;
    const out = new Uint8Array(Math.min(max, this.rxBytes));
    let n = 0, rights: OpenFile[] | null = null;
    const peek = (flags & MSG_PEEK) !== 0;
    for (let i = 0; n < out.length && i < this.rx.length; i++) {
      const s = this.rx[i];
      // File descriptors ride with the first byte of their segment: stop before a segment that carries some.
      if (s.rights !== null && n > 0) break;
      const c = Math.min(s.data.length, out.length - n);
      out.set(s.data.subarray(0, c), n);
      n += c;
      if (!peek) {
        if (s.rights !== null) { rights = s.rights; s.rights = null; }
        if (c === s.data.length) { this.rx.splice(i, 1); i--; } else s.data = s.data.subarray(c);
      }
    }
    if (!peek) {
      this.rxBytes -= n;
      if (this.hostPaused && this.rxBytes < RX_LOW && this.host !== null) { this.hostPaused = false; this.host.resume(); }
      // Room for an in-kernel writer (sk_write_space).
      if (this.peerSock !== null) this.peerSock.gen++;
      OpenFile.notify();
    }
    return { data: out.subarray(0, n), from: null, rights, flags: 0, full: n };
  }

  override readable(): number { return this.rxBytes; }

  override shutdown(how: number): number {
    if (this.state !== "connected") return -ENOTCONN;
    if (how === 0 || how === 2) {
      this.rdShut = true;
      for (const s of this.rx) releaseRights(s.rights);
      this.rx = []; this.rxBytes = 0;
    }
    if ((how === 1 || how === 2) && !this.wrShut) {
      this.wrShut = true;
      if (this.peerSock !== null) { this.peerSock.rxEof = true; this.peerSock.gen++; }
      else this.host?.shutdownWrite();
    }
    this.wake();
    return 0;
  }

  override poll(): number {
    switch (this.state) {
      case "listening": return (this.acceptQ.length > 0 ? POLLIN : 0) | (this.soError !== 0 ? POLLERR : 0);
      case "connecting": case "binding": return 0;
      case "init": case "bound": return POLLOUT | POLLHUP | (this.soError !== 0 ? POLLERR : 0);
      case "closed": return POLLOUT | POLLHUP | (this.soError !== 0 ? POLLERR : 0);
    }
    let ev = 0;
    const eof = this.rxEof || this.rdShut;
    if (this.rxBytes > 0 || eof) ev |= POLLIN;
    if (eof) ev |= POLLRDHUP;
    const p = this.peerSock;
    const peerGone = p !== null && (p.state === "closed" || p.rdShut);
    if (!this.wrShut && (p !== null ? p.rxBytes < LOCAL_CAPACITY || peerGone : !this.writeBlocked)) ev |= POLLOUT;
    if (this.wrShut && eof) ev |= POLLHUP;
    if (p !== null && p.state === "closed" && eof) ev |= POLLHUP;
    if (this.soError !== 0) ev |= POLLERR | POLLHUP;
    return ev;
  }

  override release(): void {
    super.release();
    const was = this.state;
    this.state = "closed";
    for (const s of this.rx) releaseRights(s.rights);
    this.rx = []; this.rxBytes = 0;
    for (const c of this.acceptQ) c.release();
    this.acceptQ = [];
    this.listener?.close();
    this.listener = null;
    if (this.peerSock !== null) { this.peerSock.rxEof = true; this.peerSock.gen++; }
    if (this.host !== null && was !== "closed") this.host.close();
    OpenFile.notify();
  }
}

/**
 * The registry key of a Unix address: the host path of the looked-up guest path, or "\0name".
 * connect/sendto follow a final symlink (as Linux's unix_find_bsd) — inside the root, so the host
 * is never handed a symlink to follow out of it; bind does not (an existing name, a symlink
 * included, is EADDRINUSE on the host as on Linux).
 */
function unixKey(k: Kernel, t: Thread, a: GuestAddr, follow: boolean): string | number {
  if (a.family !== "unix") return -EINVAL;
  if (a.address === "") return -EINVAL;
  if (a.address.startsWith("\0")) return a.address;
  const ref = lookupPath(k, t, AT_FDCWD, a.address, follow ? LOOKUP_FOLLOW : 0);
  if (typeof ref === "number") return ref;
  return k.vfs.socketPath(ref.host, !follow);
}

// ------------------------------------------------------------------ datagrams (UDP, Unix datagram, seqpacket pairs)

export class DgramSocket extends Socket {
  private rxQ: Segment[] = [];
  host: HostDgram | null = null;
  private bindResult: number | null = 0;
  /** Unix: the connected in-kernel peer (socketpair). */
  peerSock: DgramSocket | null = null;
  closed = false;
  rdShut = false;
  wrShut = false;
  /** seqpacket pairs: peer closed means end of file. */
  peerClosed = false;

  private ensureHost(): HostDgram {
    if (this.host === null) {
      this.host = this.k.host.net.dgram(hostFamily(this.domain), {
        message: (data, from) => {
          if (this.peer !== null && (from.port !== this.peer.port || !sameHost(from.address, this.peer.address))) return;
          if (this.rxQ.length >= 1024) return; // a full receive buffer drops datagrams
          this.rxQ.push({ data, rights: null, from });
          this.wake();
        },
        error: (errno) => { this.soError = errno; this.wake(); },
      });
      if (this.option(SOL_SOCKET, SO_BROADCAST) !== 0) this.host.setBroadcast(true);
    }
    return this.host;
  }

  override setOption(level: number, name: number, v: number): void {
    super.setOption(level, name, v);
    if (level === SOL_SOCKET && name === SO_BROADCAST && this.host !== null) this.host.setBroadcast(v !== 0);
  }

  override bind(t: Thread, addr: GuestAddr): R {
    if (this.local !== null) return -EINVAL;
    if (this.domain === AF_UNIX) {
      const key = unixKey(this.k, t, addr, false);
      if (typeof key === "number") return key;
      if (names(this.k).has(key)) return -EADDRINUSE;
      names(this.k).set(key, this);
      this.unixKey = key;
      this.local = addr;
      return 0;
    }
    if (addr.family === "unix") return -EAFNOSUPPORT;
    return this.hostBind(addr);
  }

  private hostBind(addr: SockAddr): R {
    this.bindResult = null;
    this.ensureHost().bind(addr, (r) => {
      if (typeof r === "number") this.bindResult = r;
      else { this.bindResult = 0; this.local = r; }
      OpenFile.notify();
    });
    return this.bindResult ?? new Wait(() => this.bindResult, Infinity, () => -EINVAL, false);
  }

  override connect(t: Thread, addr: GuestAddr): R {
    if (this.domain === AF_UNIX) {
      const key = unixKey(this.k, t, addr, true);
      if (typeof key === "number") return key;
      const l = names(this.k).get(key);
      if (!(l instanceof DgramSocket)) return -ECONNREFUSED;
      this.peerSock = l;
      this.peer = addr;
      return 0;
    }
    if (addr.family === "unix") return -EAFNOSUPPORT;
    this.peer = addr;
    if (this.local === null) {
      const any: SockAddr = this.domain === AF_INET6 ? { family: "inet6", address: "::", port: 0 } : { family: "inet", address: "0.0.0.0", port: 0 };
      return this.hostBind(any);
    }
    return 0;
  }

  override send(data: Uint8Array, to: GuestAddr | null, _flags: number, rights: OpenFile[] | null): number {
    if (this.wrShut) return -EPIPE;
    if (this.domain === AF_UNIX) {
      let dst = this.peerSock;
      if (to !== null && this.type === SOCK_DGRAM) {
        const l = names(this.k).get(to.key ?? "");
        if (!(l instanceof DgramSocket)) return -ECONNREFUSED;
        dst = l;
      }
      if (dst === null) return this.peerClosed ? -EPIPE : this.type === SOCK_DGRAM ? -EDESTADDRREQ : -ENOTCONN;
      if (dst.closed || dst.rdShut) return this.type === SOCK_DGRAM ? -ECONNREFUSED : -EPIPE;
      if (data.length > LOCAL_CAPACITY) return -EMSGSIZE;
      if (dst.rxQ.length >= 256) return -EAGAIN;
      dst.rxQ.push({ data: data.slice(), rights, from: this.local });
      dst.wake();
      return data.length;
    }
    const dest = to ?? this.peer;
    if (dest === null) return -EDESTADDRREQ;
    if (dest.family === "unix") return -EAFNOSUPPORT;
    if (data.length > 65507) return -EMSGSIZE;
    releaseRights(rights);
    this.ensureHost().send(data.slice(), dest);
    return data.length;
  }

  override recv(max: number, flags: number): RecvResult | number {
    const s = this.rxQ[0];
    if (s === undefined) {
      if (this.soError !== 0) { const e = this.soError; this.soError = 0; return -e; }
      if (this.rdShut || this.peerClosed) return { data: new Uint8Array(0), from: null, rights: null, flags: 0, full: 0 };
      return -EAGAIN;
    }
    if ((flags & MSG_PEEK) === 0) { this.rxQ.shift(); OpenFile.notify(); }
    const n = Math.min(max, s.data.length);
    const rights = (flags & MSG_PEEK) === 0 ? s.rights : null;
    return { data: s.data.subarray(0, n), from: s.from, rights, flags: n < s.data.length ? MSG_TRUNC : 0, full: s.data.length };
  }

  override readable(): number { return this.rxQ[0]?.data.length ?? 0; }

  override shutdown(how: number): number {
    if (this.peer === null && this.peerSock === null) return -ENOTCONN;
    if (how === 0 || how === 2) this.rdShut = true;
    if (how === 1 || how === 2) { this.wrShut = true; if (this.peerSock !== null) { this.peerSock.peerClosed = true; this.peerSock.gen++; } }
    this.wake();
    return 0;
  }

  override sockName(): GuestAddr | null {
    return this.local ?? (this.host?.address() ?? null);
  }

  override poll(): number {
    let ev = POLLOUT;
    if (this.rxQ.length > 0 || this.rdShut || this.peerClosed) ev |= POLLIN;
    if (this.peerClosed && this.type === SOCK_SEQPACKET) ev |= POLLHUP;
    if (this.soError !== 0) ev |= POLLERR;
    return ev;
  }

  override release(): void {
    super.release();
    this.closed = true;
    for (const s of this.rxQ) releaseRights(s.rights);
    this.rxQ = [];
    if (this.peerSock !== null && this.peerSock.peerSock === this) { this.peerSock.peerClosed = true; this.peerSock.gen++; }
    this.host?.close();
    this.host = null;
    OpenFile.notify();
  }
}

function sameHost(a: string, b: string): boolean {
  const norm = (s: string): string => {
    const v6 = parseIPv6(s);
    if (v6 !== null) return v6.join(".");
    const v4 = parseIPv4(s);
    return v4 === null ? s : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...v4].join(".");
  };
  return norm(a) === norm(b);
}

// ------------------------------------------------------------------ system calls

function sockOf(t: Thread, fd: number): Socket | number {
  const f = t.proc.fds.get(fd | 0);
  if (f === undefined) return -EBADF;
  return f instanceof Socket ? f : -ENOTSOCK;
}

function newSocket(k: Kernel, t: Thread, domain: number, type: number, protocol: number): Socket | number {
  const base = type & 0xf;
  if (domain !== AF_UNIX && domain !== AF_INET && domain !== AF_INET6) return -EAFNOSUPPORT;
  if ((type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  let s: Socket;
  if (base === SOCK_STREAM) {
    if (domain !== AF_UNIX && protocol !== 0 && protocol !== IPPROTO_TCP) return -EPROTONOSUPPORT;
    s = new StreamSocket(k, domain, base, domain === AF_UNIX ? 0 : IPPROTO_TCP);
  } else if (base === SOCK_DGRAM) {
    if (domain !== AF_UNIX && protocol !== 0 && protocol !== IPPROTO_UDP) return -EPROTONOSUPPORT;
    s = new DgramSocket(k, domain, base, domain === AF_UNIX ? 0 : IPPROTO_UDP);
  } else if (base === SOCK_SEQPACKET && domain === AF_UNIX) {
    s = new DgramSocket(k, domain, base, 0);
  } else return -ESOCKTNOSUPPORT;
  s.flags = 2 | (type & SOCK_NONBLOCK);
  s.credPid = t.proc.pid;
  return s;
}

export function sys_socket(k: Kernel, t: Thread, a: number[]): R {
  const s = newSocket(k, t, a[0] | 0, a[1] | 0, a[2] | 0);
  if (typeof s === "number") return s;
  const fd = t.proc.fds.alloc(s, (a[1] & SOCK_CLOEXEC) !== 0);
  if (fd < 0) s.release();
  return fd;
}

export function sys_socketpair(k: Kernel, t: Thread, a: number[]): R {
  const domain = a[0] | 0, type = a[1] | 0, base = type & 0xf;
  if (domain !== AF_UNIX) return domain === AF_INET || domain === AF_INET6 ? -EOPNOTSUPP : -EAFNOSUPPORT;
  let x: Socket, y: Socket;
  if (base === SOCK_STREAM) [x, y] = StreamSocket.pair(k, domain, base);
  else if (base === SOCK_DGRAM || base === SOCK_SEQPACKET) {
    const p = new DgramSocket(k, domain, base, 0), q = new DgramSocket(k, domain, base, 0);
    p.peerSock = q; q.peerSock = p;
    [x, y] = [p, q];
  } else return -ESOCKTNOSUPPORT;
  for (const s of [x, y]) { s.flags = 2 | (type & SOCK_NONBLOCK); s.credPid = t.proc.pid; }
  const cloexec = (type & SOCK_CLOEXEC) !== 0;
  const f0 = t.proc.fds.alloc(x, cloexec);
  if (f0 < 0) { x.release(); y.release(); return f0; }
  const f1 = t.proc.fds.alloc(y, cloexec);
  if (f1 < 0) { t.proc.fds.close(f0); y.release(); return f1; }
  const b = new Uint8Array(8);
  new DataView(b.buffer).setInt32(0, f0, true); new DataView(b.buffer).setInt32(4, f1, true);
  if (!t.proc.as.write(a[3], b)) { t.proc.fds.close(f0); t.proc.fds.close(f1); return -EFAULT; }
  return 0;
}

export function sys_bind(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const addr = readAddr(t, a[1], a[2] >>> 0);
  if (typeof addr === "number") return addr;
  if (s.domain === AF_UNIX && addr.family !== "unix") return -EINVAL;
  if (s.domain === AF_INET && addr.family !== "inet") return -EAFNOSUPPORT;
  return s.bind(t, addr);
}

export function sys_listen(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  return s.listen(a[1] | 0);
}

/** Parks `t` until op stops returning EAGAIN (unless non-blocking), with an optional timeout. */
function blocking(k: Kernel, s: Socket, nonblock: boolean, timeoutNs: number, op: () => number): R {
  const r = op();
  if (r !== -EAGAIN || nonblock || (s.flags & O_NONBLOCK) !== 0) return r;
  const deadline = timeoutNs > 0 ? k.host.clock.monotonic() + timeoutNs : Infinity;
  return new Wait(() => { const x = op(); return x === -EAGAIN ? null : x; }, deadline, () => -EAGAIN, true);
}

export function sys_accept4(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const flags = (a[3] ?? 0) | 0;
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  return blocking(k, s, false, s.rcvTimeoutNs, () => {
    const c = s.accept();
    if (typeof c === "number") return c;
    c.flags = 2 | (flags & SOCK_NONBLOCK);
    const fd = t.proc.fds.alloc(c, (flags & SOCK_CLOEXEC) !== 0);
    if (fd < 0) { c.release(); return fd; }
    const peer = c instanceof StreamSocket && c.peerSock !== null ? c.peerSock.local : c.peer;
    const r = putAddr(t, a[1], a[2], addrBytes(peer, s.domain));
    return r < 0 ? r : fd;
  });
}
export const sys_accept = (k: Kernel, t: Thread, a: number[]): R => sys_accept4(k, t, [a[0], a[1], a[2], 0]);

export function sys_connect(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const addr = readAddr(t, a[1], a[2] >>> 0);
  if (typeof addr === "number") return addr;
  return s.connect(t, addr, (s.flags & O_NONBLOCK) !== 0);
}

export function sys_getsockname(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  return putAddr(t, a[1], a[2], addrBytes(s.sockName(), s.domain));
}

export function sys_getpeername(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  let peer = s.peer;
  if (s instanceof StreamSocket) {
    if (s.state !== "connected") return -ENOTCONN;
    if (s.peerSock !== null) peer = s.peerSock.local;
  } else if (peer === null && !(s instanceof DgramSocket && s.peerSock !== null)) return -ENOTCONN;
  return putAddr(t, a[1], a[2], addrBytes(peer, s.domain));
}

/** Sends with blocking semantics and SIGPIPE (unless MSG_NOSIGNAL). */
function doSend(k: Kernel, t: Thread, s: Socket, data: Uint8Array, to: GuestAddr | null, flags: number, rights: OpenFile[] | null): R {
  if (to !== null && s instanceof StreamSocket) to = null; // Linux ignores the address on a stream
  if (to !== null && s.domain === AF_UNIX) {
    const key = unixKey(k, t, to, true);
    if (typeof key === "number") { releaseRights(rights); return key; }
    to = { ...to, key };
  }
  let done = 0;
  let pending = rights;
  const nonblock = (flags & MSG_DONTWAIT) !== 0;
  const op = (): number => {
    for (;;) {
      const n = s.send(data.subarray(done), to, flags, pending);
      if (n >= 0) pending = null;
      if (n < 0) {
        if (n === -EAGAIN && done > 0 && (nonblock || (s.flags & O_NONBLOCK) !== 0)) return done;
        if (n === -EPIPE && (flags & MSG_NOSIGNAL) === 0) k.sendSignal(t.proc, t, { signo: SIGPIPE, code: 0 });
        return done > 0 && n !== -EAGAIN ? done : n;
      }
      done += n;
      if (done >= data.length || !(s instanceof StreamSocket)) return s instanceof StreamSocket ? done : n;
    }
  };
  const r = blocking(k, s, nonblock, s.sndTimeoutNs, op);
  if (typeof r === "number" && r < 0) releaseRights(pending);
  return r;
}

export function sys_sendto(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  // size_t len: past INT_MAX it is clamped (net/socket.c __sys_sendto); rvisor copies at most MAX_COPY.
  const data = t.proc.as.read(ptr(a[1]), Math.min(sizeT(a[2]), MAX_COPY));
  if (data === null) return -EFAULT;
  let to: GuestAddr | null = null;
  if (a[4] !== 0) { const x = readAddr(t, a[4], a[5] >>> 0); if (typeof x === "number") return x; to = x; }
  return doSend(k, t, s, data, to, a[3] | 0, null);
}

/** Receives; writes the data with `put` and returns the count (with MSG_TRUNC, the datagram's length). */
function doRecv(k: Kernel, t: Thread, s: Socket, max: number, flags: number, done: (r: RecvResult) => number): R {
  return blocking(k, s, (flags & MSG_DONTWAIT) !== 0, s.rcvTimeoutNs, () => {
    const r = s.recv(max, flags);
    if (typeof r === "number") return r;
    return done(r);
  });
}

export function sys_recvfrom(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const flags = a[3] | 0;
  return doRecv(k, t, s, Math.min(sizeT(a[2]), MAX_COPY), flags, (r) => {
    releaseRights(r.rights);
    if (!t.proc.as.write(a[1], r.data)) return -EFAULT;
    if (a[4] !== 0 && s.type !== SOCK_STREAM) { const e = putAddr(t, a[4], a[5], addrBytes(r.from, s.domain)); if (e < 0) return e; }
    else if (a[4] !== 0 && a[5] !== 0 && !t.proc.as.putU32(a[5], 0)) return -EFAULT; // streams report no address
    return (flags & MSG_TRUNC) !== 0 ? r.full : r.data.length;
  });
}

interface MsgHdr { name: number; namelen: number; iov: [number, number][]; control: number; controllen: number }

function readMsg(t: Thread, ptr: number): MsgHdr | number {
  const b = t.proc.as.read(ptr, 56);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const u64 = (o: number): number => dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 4294967296;
  const iovPtr = u64(16), iovlen = u64(24);
  if (iovlen > 1024) return -EMSGSIZE;
  const iov: [number, number][] = [];
  if (iovlen > 0) {
    const v = t.proc.as.read(iovPtr, iovlen * 16);
    if (v === null) return -EFAULT;
    const vd = new DataView(v.buffer);
    for (let i = 0; i < iovlen; i++) {
      const base = vd.getUint32(i * 16, true) + vd.getUint32(i * 16 + 4, true) * 4294967296;
      const len = vd.getUint32(i * 16 + 8, true) + vd.getUint32(i * 16 + 12, true) * 4294967296;
      if (len > 1 << 30) return -EINVAL;
      iov.push([base, len]);
    }
  }
  return { name: u64(0), namelen: dv.getUint32(8, true), iov, control: u64(32), controllen: u64(40) };
}

export function sys_sendmsg(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const m = readMsg(t, a[1]);
  if (typeof m === "number") return m;
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const [base, len] of m.iov) {
    const d = t.proc.as.read(base, Math.min(len, 1 << 24));
    if (d === null) return -EFAULT;
    parts.push(d); total += d.length;
  }
  const data = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { data.set(p, o); o += p.length; }
  let to: GuestAddr | null = null;
  if (m.name !== 0 && m.namelen > 0) { const x = readAddr(t, m.name, m.namelen); if (typeof x === "number") return x; to = x; }
  let rights: OpenFile[] | null = null;
  if (m.control !== 0 && m.controllen >= 16) {
    const c = t.proc.as.read(m.control, Math.min(m.controllen, 65536));
    if (c === null) return -EFAULT;
    const dv = new DataView(c.buffer);
    for (let off = 0; off + 16 <= c.length;) {
      const len = dv.getUint32(off, true);
      if (len < 16 || off + len > c.length) return -EINVAL;
      const level = dv.getInt32(off + 8, true), type = dv.getInt32(off + 12, true);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        if (s.domain !== AF_UNIX) { releaseRights(rights); return -EINVAL; }
        for (let p = off + 16; p + 4 <= off + len; p += 4) {
          const f = t.proc.fds.get(dv.getInt32(p, true));
          if (f === undefined) { releaseRights(rights); return -EBADF; }
          f.refs++;
          (rights ??= []).push(f);
        }
      }
      off += (len + 7) & ~7;
    }
  }
  return doSend(k, t, s, data, to, a[2] | 0, rights);
}

export function sys_recvmsg(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const m = readMsg(t, a[1]);
  if (typeof m === "number") return m;
  const flags = a[2] | 0;
  const max = m.iov.reduce((x, [, l]) => x + l, 0);
  return doRecv(k, t, s, Math.min(max, 1 << 24), flags, (r) => {
    let off = 0;
    for (const [base, len] of m.iov) {
      if (off >= r.data.length) break;
      const c = Math.min(len, r.data.length - off);
      if (!t.proc.as.write(base, r.data.subarray(off, off + c))) { releaseRights(r.rights); return -EFAULT; }
      off += c;
    }
    let msgFlags = r.flags;
    let controllen = 0;
    if (r.rights !== null) {
      const need = 16 + r.rights.length * 4;
      const fit = m.control === 0 ? 0 : Math.max(0, Math.min(r.rights.length, Math.floor((m.controllen - 16) / 4)));
      if (fit < r.rights.length) msgFlags |= MSG_CTRUNC;
      if (fit > 0) {
        const c = new Uint8Array((16 + fit * 4 + 7) & ~7);
        const dv = new DataView(c.buffer);
        dv.setUint32(0, 16 + fit * 4, true); dv.setInt32(8, SOL_SOCKET, true); dv.setInt32(12, SCM_RIGHTS, true);
        for (let i = 0; i < fit; i++) {
          const f = r.rights[i];
          f.refs++;
          dv.setInt32(16 + i * 4, t.proc.fds.alloc(f, (flags & MSG_CMSG_CLOEXEC) !== 0), true);
        }
        controllen = Math.min(c.length, m.controllen);
        if (!t.proc.as.write(m.control, c.subarray(0, controllen))) return -EFAULT;
      }
      void need;
      releaseRights(r.rights);
    }
    // msg_namelen, msg_controllen, msg_flags
    if (m.name !== 0) {
      const from = s.type === SOCK_STREAM ? null : r.from;
      const bytes = addrBytes(from, s.domain);
      const n = s.type === SOCK_STREAM ? 0 : Math.min(m.namelen, bytes.length);
      if (!t.proc.as.write(m.name, bytes.subarray(0, n))) return -EFAULT;
      t.proc.as.putU32(a[1] + 8, s.type === SOCK_STREAM ? 0 : bytes.length);
    } else t.proc.as.putU32(a[1] + 8, 0);
    t.proc.as.putU64(a[1] + 40, controllen);
    t.proc.as.putU32(a[1] + 48, msgFlags);
    return (flags & MSG_TRUNC) !== 0 ? r.full : r.data.length;
  });
}

export function sys_shutdown(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const how = a[1] | 0;
  if (how < 0 || how > 2) return -EINVAL;
  return s.shutdown(how);
}

function timeoutNs(t: Thread, ptr: number, len: number): number | null {
  if (len < 16) return null;
  const b = t.proc.as.read(ptr, 16);
  if (b === null) return null;
  const dv = new DataView(b.buffer);
  const sec = dv.getUint32(0, true) + dv.getInt32(4, true) * 4294967296;
  const usec = dv.getUint32(8, true);
  return sec * 1e9 + usec * 1e3;
}

export function sys_setsockopt(_k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const level = a[1] | 0, name = a[2] | 0, len = a[4] >>> 0;
  if (level === SOL_SOCKET && (name === SO_RCVTIMEO || name === SO_SNDTIMEO)) {
    const ns = timeoutNs(t, a[3], len);
    if (ns === null) return len < 16 ? -EINVAL : -EFAULT;
    if (name === SO_RCVTIMEO) s.rcvTimeoutNs = ns; else s.sndTimeoutNs = ns;
    return 0;
  }
  if (level === SOL_SOCKET && name === SO_LINGER) {
    if (len < 8) return -EINVAL;
    const b = t.proc.as.read(a[3], 8);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    s.setOption(level, name, dv.getInt32(0, true) !== 0 ? 0x1_0000 | (dv.getInt32(4, true) & 0xffff) : 0);
    return 0;
  }
  if (level !== SOL_SOCKET && level !== IPPROTO_TCP && level !== IPPROTO_IP && level !== IPPROTO_IPV6 && level !== IPPROTO_UDP) return -ENOPROTOOPT;
  if (level === IPPROTO_TCP && s.type !== SOCK_STREAM) return -ENOPROTOOPT;
  if (len < 4) return -EINVAL;
  const v = t.proc.as.u32(a[3]);
  if (v === null) return -EFAULT;
  let val = v | 0;
  if (level === SOL_SOCKET && (name === SO_SNDBUF || name === SO_RCVBUF)) val = Math.max(name === SO_SNDBUF ? 4608 : 2304, Math.min(val, 212992) * 2);
  s.setOption(level, name, val);
  return 0;
}

export function sys_getsockopt(k: Kernel, t: Thread, a: number[]): R {
  const s = sockOf(t, a[0]);
  if (typeof s === "number") return s;
  const level = a[1] | 0, name = a[2] | 0;
  const lenv = t.proc.as.u32(a[4]);
  if (lenv === null) return -EFAULT;
  if ((lenv | 0) < 0) return -EINVAL;
  const put = (bytes: Uint8Array): number => {
    const n = Math.min(lenv, bytes.length);
    if (!t.proc.as.write(a[3], bytes.subarray(0, n))) return -EFAULT;
    return t.proc.as.putU32(a[4], n) ? 0 : -EFAULT;
  };
  const int = (v: number): number => { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); return put(b); };
  if (level === SOL_SOCKET) {
    switch (name) {
      case SO_TYPE: return int(s.type);
      case SO_DOMAIN: return int(s.domain);
      case SO_PROTOCOL: return int(s.protocol);
      case SO_ERROR: { const e = s.soError; s.soError = 0; return int(e); }
      case SO_ACCEPTCONN: return int(s.listening() ? 1 : 0);
      case SO_SNDBUF: return int(s.option(level, name, s.domain === AF_UNIX ? 212992 : 16384));
      case SO_RCVBUF: return int(s.option(level, name, s.domain === AF_UNIX ? 212992 : 131072));
      case SO_RCVTIMEO: case SO_SNDTIMEO: {
        const ns = name === SO_RCVTIMEO ? s.rcvTimeoutNs : s.sndTimeoutNs;
        const b = new Uint8Array(16);
        const dv = new DataView(b.buffer);
        dv.setUint32(0, Math.floor(ns / 1e9) >>> 0, true); dv.setUint32(8, Math.floor((ns % 1e9) / 1e3), true);
        return put(b);
      }
      case SO_LINGER: {
        const v = s.option(level, name);
        const b = new Uint8Array(8);
        const dv = new DataView(b.buffer);
        dv.setInt32(0, v !== 0 ? 1 : 0, true); dv.setInt32(4, v & 0xffff, true);
        return put(b);
      }
      case SO_PEERCRED: {
        if (s.domain !== AF_UNIX) return -ENOPROTOOPT;
        const peer = s instanceof StreamSocket ? s.peerSock : s instanceof DgramSocket ? s.peerSock : null;
        const b = new Uint8Array(12);
        const dv = new DataView(b.buffer);
        dv.setInt32(0, peer?.credPid ?? 0, true); dv.setInt32(4, peer !== null ? k.uid : -1, true); dv.setInt32(8, peer !== null ? k.gid : -1, true);
        return put(b);
      }
    }
    return int(s.option(level, name));
  }
  if (level === IPPROTO_TCP || level === IPPROTO_IP || level === IPPROTO_IPV6 || level === IPPROTO_UDP) {
    if (level === IPPROTO_TCP && s.type !== SOCK_STREAM) return -ENOPROTOOPT;
    if (level === IPPROTO_IP && name === 2) return int(s.option(level, name, 64)); // IP_TTL
    if (level === IPPROTO_TCP && name === 2) return int(s.option(level, name, 536)); // TCP_MAXSEG
    return int(s.option(level, name));
  }
  return -ENOPROTOOPT;
}

export { EINVAL };

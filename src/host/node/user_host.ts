// Node implementation of the process VM's host interfaces (src/user/host.ts): files through
// synchronous fs calls, the terminal, clocks and timers, randomness. Sockets: user_net.ts.
import * as fs from "node:fs";
import * as tty from "node:tty";
import * as os from "node:os";
import { DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN, EISDIR, ENOENT, ENOSYS, errnoOfCode } from "../../abi/linux.js";
import type { HostClock, HostDirent, HostFs, HostStat, HostTerminal, UserHost } from "../../user/host.js";
import { NodeNet } from "./user_net.js";
import { NodeExec } from "./user_exec.js";
import { nodeOpenFlags } from "./linux_flags.js";
import { randomFill } from "./random.js";

function errno(e: unknown): number {
  return -errnoOfCode((e as NodeJS.ErrnoException).code);
}

function conv(s: fs.BigIntStats): HostStat {
  const sec = (ns: bigint): number => Number(ns / 1000000000n);
  const nsec = (ns: bigint): number => Number(ns % 1000000000n);
  return {
    dev: Number(s.dev & 0xffffffffn), ino: Number(s.ino & 0xfffffffffffffn), mode: Number(s.mode), nlink: Number(s.nlink),
    uid: Number(s.uid), gid: Number(s.gid), rdev: Number(s.rdev & 0xffffffffn), size: Number(s.size),
    blksize: Number(s.blksize) || 4096, blocks: Number(s.blocks),
    atimeSec: sec(s.atimeNs), atimeNsec: nsec(s.atimeNs), mtimeSec: sec(s.mtimeNs), mtimeNsec: nsec(s.mtimeNs),
    ctimeSec: sec(s.ctimeNs), ctimeNsec: nsec(s.ctimeNs),
  };
}

const C = fs.constants;

function wrap<T>(f: () => T): T | number {
  try { return f(); } catch (e) { return errno(e); }
}
function wrap0(f: () => void): number {
  try { f(); return 0; } catch (e) { return errno(e); }
}

export class NodeFs implements HostFs {
  lstat(p: string): HostStat | number { return wrap(() => conv(fs.lstatSync(p, { bigint: true }))); }
  stat(p: string): HostStat | number { return wrap(() => conv(fs.statSync(p, { bigint: true }))); }
  readlink(p: string): string | number { return wrap(() => fs.readlinkSync(p)); }
  open(p: string, flags: number, mode: number): number { return wrap(() => fs.openSync(p, nodeOpenFlags(flags), mode)); }
  close(h: number): void { try { fs.closeSync(h); } catch { /* already closed */ } }
  read(h: number, buf: Uint8Array, pos: number | null): number { return wrap(() => fs.readSync(h, buf, 0, buf.length, pos)); }
  write(h: number, buf: Uint8Array, pos: number | null): number { return wrap(() => fs.writeSync(h, buf, 0, buf.length, pos)); }
  fstat(h: number): HostStat | number { return wrap(() => conv(fs.fstatSync(h, { bigint: true }))); }
  ftruncate(h: number, len: number): number { return wrap0(() => fs.ftruncateSync(h, len)); }
  fsync(h: number): number { return wrap0(() => fs.fsyncSync(h)); }
  readdir(p: string): HostDirent[] | number {
    return wrap(() => fs.readdirSync(p, { withFileTypes: true }).map((d) => {
      const type = d.isDirectory() ? DT_DIR : d.isFile() ? DT_REG : d.isSymbolicLink() ? DT_LNK : d.isFIFO() ? DT_FIFO
        : d.isSocket() ? DT_SOCK : d.isCharacterDevice() ? DT_CHR : d.isBlockDevice() ? DT_BLK : DT_UNKNOWN;
      let ino = 0;
      try { ino = Number(fs.lstatSync(p + "/" + d.name, { bigint: true }).ino & 0xfffffffffffffn); } catch { /* vanished */ }
      return { name: d.name, ino, type };
    }));
  }
  readdirHandle(h: number): HostDirent[] | number {
    // Linux: /proc/self/fd/N names the directory itself, however it was renamed or replaced since.
    // Without /proc (or elsewhere) the caller lists by path after checking it still names h.
    if (process.platform !== "linux") return -ENOSYS;
    const r = this.readdir(`/proc/self/fd/${h}`);
    return r === -ENOENT ? -ENOSYS : r;
  }
  mkdir(p: string, mode: number): number { return wrap0(() => fs.mkdirSync(p, { mode })); }
  rmdir(p: string): number { return wrap0(() => fs.rmdirSync(p)); }
  unlink(p: string): number {
    try { if (fs.lstatSync(p).isDirectory()) return -EISDIR; } catch (e) { return errno(e); }
    return wrap0(() => fs.unlinkSync(p));
  }
  rename(a: string, b: string): number { return wrap0(() => fs.renameSync(a, b)); }
  symlink(target: string, p: string): number { return wrap0(() => fs.symlinkSync(target, p)); }
  link(a: string, b: string): number { return wrap0(() => fs.linkSync(a, b)); }
  chmod(p: string, mode: number): number { return wrap0(() => fs.chmodSync(p, mode)); }
  lchown(p: string, uid: number, gid: number): number { return wrap0(() => fs.lchownSync(p, uid, gid)); }
  lutimes(p: string, at: number | null, mt: number | null): number {
    return wrap0(() => {
      const s = at === null || mt === null ? fs.lstatSync(p) : null;
      fs.lutimesSync(p, at ?? s!.atimeMs / 1000, mt ?? s!.mtimeMs / 1000);
    });
  }
  truncate(p: string, len: number): number {
    // open(O_WRONLY|O_NOFOLLOW) + ftruncate: truncate(2) itself would follow a final symlink.
    return wrap0(() => {
      const h = fs.openSync(p, C.O_WRONLY | C.O_NOFOLLOW);
      try { fs.ftruncateSync(h, len); } finally { fs.closeSync(h); }
    });
  }
  fchmod(h: number, mode: number): number { return wrap0(() => fs.fchmodSync(h, mode)); }
  fchown(h: number, uid: number, gid: number): number { return wrap0(() => fs.fchownSync(h, uid, gid)); }
  futimes(h: number, at: number | null, mt: number | null): number {
    return wrap0(() => {
      const s = at === null || mt === null ? fs.fstatSync(h) : null;
      fs.futimesSync(h, at ?? s!.atimeMs / 1000, mt ?? s!.mtimeMs / 1000);
    });
  }
  access(p: string, mode: number): number { return wrap0(() => fs.accessSync(p, mode)); }
}

/** Host signals passed to the guest (Linux numbers); SIGTSTP and SIGCONT are rvisor's own. */
const FORWARDED: [NodeJS.Signals, number][] = [["SIGINT", 2], ["SIGQUIT", 3], ["SIGTERM", 15], ["SIGHUP", 1]];

/**
 * Whether rvisor may use its terminal: not when it is a background job of its controlling
 * terminal (a tcsetattr or read would stop it with SIGTTOU/SIGTTIN, as `rvisor exec prog &`
 * in an interactive shell). From /proc/self/stat: tty_nr (0: no controlling terminal), tpgid, pgrp.
 */
function inForeground(): boolean {
  try {
    const st = fs.readFileSync("/proc/self/stat", "latin1");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(f[2]), ttyNr = Number(f[4]), tpgid = Number(f[5]);
    return ttyNr === 0 || tpgid === pgrp;
  } catch { return true; }
}

export class NodeTerminal implements HostTerminal {
  private onData: ((c: Uint8Array | null) => void) | null = null;
  /** What the guest wants (raw mode, stdin read) and what is in effect (only in the foreground). */
  private wantRaw = false;
  private wantInput = false;
  private raw = false;
  private reading = false;
  private readonly dataL = (b: Buffer): void => { this.onData?.(new Uint8Array(b)); };
  private readonly endL = (): void => { this.onData?.(null); };
  private readonly sigLs: [NodeJS.Signals, () => void][] = [];
  private resizeL: (() => void) | null = null;
  /** The terminal is restored on any exit, a crash included ('exit' runs for uncaught exceptions too). */
  private readonly exitL = (): void => { this.restoreMode(); };
  /** kill -TSTP rvisor: restore the terminal, stop; raw again when continued. */
  private readonly tstpL = (): void => { this.suspend(); };
  /** Continued (fg or bg in the host shell): take the terminal again if in the foreground. */
  private readonly contL = (): void => { this.apply(); };
  constructor() {
    process.on("exit", this.exitL);
    process.on("SIGTSTP", this.tstpL);
    process.on("SIGCONT", this.contL);
  }
  isatty(fd: number): boolean { return tty.isatty(fd); }
  winsize(fd: number): { rows: number; cols: number } | null {
    if (!tty.isatty(fd)) return null;
    const s = fd === 2 ? process.stderr : process.stdout;
    if (s.isTTY) return { rows: s.rows ?? 24, cols: s.columns ?? 80 };
    return { rows: 24, cols: 80 };
  }
  setRaw(raw: boolean): void {
    this.wantRaw = raw;
    this.apply();
  }
  /** Brings raw mode and reading in line with what is wanted, as far as the foreground allows. */
  private apply(): void {
    // isatty(0), not process.stdin.isTTY: making process.stdin (an fs.ReadStream when it is a
    // file or /dev/null) loads the streams modules, ~3 ms of a container that never reads it.
    const isTty = tty.isatty(0);
    const fg = !isTty || inForeground();
    if (isTty && fg && this.wantRaw !== this.raw) {
      try { process.stdin.setRawMode(this.wantRaw); this.raw = this.wantRaw; } catch { /* terminal gone */ }
    }
    const read = this.wantInput && fg;
    if (read && !this.reading) {
      this.reading = true;
      process.stdin.on("data", this.dataL);
      process.stdin.on("end", this.endL);
      process.stdin.resume();
    } else if (!read && this.reading) {
      this.reading = false;
      process.stdin.off("data", this.dataL);
      process.stdin.off("end", this.endL);
      process.stdin.pause();
    }
  }
  private restoreMode(): void {
    if (this.raw && process.stdin.isTTY) { try { process.stdin.setRawMode(false); } catch { /* terminal gone */ } }
    this.raw = false;
  }
  write(fd: number, data: Uint8Array): number {
    let off = 0;
    while (off < data.length) {
      try { off += fs.writeSync(fd, data, off, data.length - off); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") continue;
        // EPIPE (the reader is gone), EIO (the terminal hung up), ...: the guest sees the error.
        return off > 0 ? off : errno(e);
      }
    }
    return off;
  }
  startInput(onData: (chunk: Uint8Array | null) => void): void {
    this.onData = onData;
    this.wantInput = true;
    this.apply();
  }
  onSignal(cb: (sig: number) => void): void {
    for (const [name, sig] of FORWARDED) {
      const l = (): void => cb(sig);
      this.sigLs.push([name, l]);
      process.on(name, l);
    }
  }
  onResize(cb: () => void): void {
    if (!process.stdout.isTTY) return;
    this.resizeL = cb;
    process.stdout.on("resize", cb);
  }
  release(): void {
    if (!tty.isatty(0)) return;
    this.wantRaw = false;
    this.wantInput = false;
    this.apply();
  }
  suspend(): void {
    this.restoreMode();
    process.kill(process.pid, "SIGSTOP");
    // Continued: the host shell may have reset the terminal's modes, or continued us in the background.
    this.apply();
  }
  stop(): void {
    this.wantInput = false;
    this.wantRaw = false;
    this.apply();
    this.restoreMode();
    for (const [name, l] of this.sigLs) process.off(name, l);
    this.sigLs.length = 0;
    if (this.resizeL !== null) { process.stdout.off("resize", this.resizeL); this.resizeL = null; }
    process.off("exit", this.exitL);
    process.off("SIGTSTP", this.tstpL);
    process.off("SIGCONT", this.contL);
  }
}

export class NodeClock implements HostClock {
  private readonly base = process.hrtime.bigint();
  realtime(): [number, number] {
    const ms = performance.timeOrigin + performance.now();
    const s = Math.floor(ms / 1000);
    return [s, Math.floor((ms - s * 1000) * 1e6)];
  }
  monotonic(): number { return Number(process.hrtime.bigint() - this.base) + 1e9; }
  setTimer(ms: number, cb: () => void): () => void { const t = setTimeout(cb, ms); return () => clearTimeout(t); }
  yield(): Promise<void> { return new Promise((r) => setImmediate(r)); }
}

export function nodeUserHost(): UserHost {
  return {
    fs: new NodeFs(), term: new NodeTerminal(), clock: new NodeClock(), net: new NodeNet(),
    random: randomFill, hostname: os.hostname(), cpus: os.availableParallelism(),
    exec: new NodeExec(),
  };
}

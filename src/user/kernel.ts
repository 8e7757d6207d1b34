// The application kernel of the process VM: processes and threads on harts in U-mode, a
// round-robin scheduler on one JS thread (blocked calls park their thread; host events wake
// them), system-call dispatch through the table in syscalls.ts, and signal delivery.
import { Bus } from "../memory/bus.js";
import { hex64 } from "../memory/hex.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "../cpu/code_cache.js";
import { Hart, pairToNumber } from "../cpu/hart.js";
import { EINTR, ERRNO_NAMES, ENOSYS } from "./errno.js";
import { DevNull, OpenFile } from "./file.js";
import type { UserHost } from "./host.js";
import { ExecError, loadProgram, SIGRETURN_TRAMPOLINE, type LoadedImage } from "./loader.js";
import { FrameAllocator } from "./memory.js";
import { procLookup } from "./proc.js";
import { SYSCALLS, formatCall, NORET } from "./syscalls.js";
import {
  FdTable, Process, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_SIGINFO, SIG_DFL, SIG_IGN, SIGBUS, SIGCHLD,
  SIGCONT, SIGFPE, SIGILL, SIGKILL, SIGSEGV, SIGSTOP, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH,
  SignalHandlers, Thread, UNBLOCKABLE, Wait, sigbit, type SigInfo,
} from "./task.js";
import { StdinBuffer, TermFile, Vfs } from "./vfs.js";

export interface KernelOptions {
  root: string; readonly: boolean; strace: boolean;
  /** Where strace lines and warnings go. */
  log: (line: string) => void;
  memBytes?: number;
  /** qemu -L style lookup prefix. */
  prefix?: string | null;
}

const RAM_BASE = 0x8000_0000;
const FRAME_BYTES = 1088, UC = 128, MC = UC + 176, FPR = MC + 256;

export class Kernel {
  readonly ram: Ram;
  readonly bus: Bus;
  readonly code: CodeCache;
  readonly frames: FrameAllocator;
  readonly vfs: Vfs;
  readonly stdin: StdinBuffer;
  readonly procs = new Map<number, Process>();
  readonly threads = new Map<number, Thread>();
  private runList: Thread[] = [];
  private nextId = 1000;
  init: Process | null = null;
  /** The thread whose system call is running (for /proc/self). */
  current: Thread | null = null;
  private dirty = false;
  private idleWake: (() => void) | null = null;
  private warned = new Set<number>();
  readonly futexes = new Map<number, Set<{ t: Thread; bitset: number; woken: boolean; key: number }>>();
  readonly bootNs: number;
  uid = 1000; gid = 1000;

  constructor(readonly host: UserHost, readonly opts: KernelOptions) {
    this.ram = new Ram(RAM_BASE, opts.memBytes ?? 1 << 30);
    this.bus = new Bus(this.ram);
    this.code = new CodeCache(this.ram);
    this.frames = new FrameAllocator(this.ram);
    this.vfs = new Vfs(host.fs, opts.root, opts.readonly, opts.prefix ?? null);
    this.vfs.special = (g) => procLookup(this, g);
    this.stdin = new StdinBuffer(host.term);
    this.bootNs = host.clock.monotonic();
    OpenFile.notify = () => this.notify();
    host.term.onInterrupt(() => { if (this.init !== null) this.killProcessGroup(this.init.pgid, 2); });
  }

  /** Something a blocked thread may be waiting for happened. */
  notify(): void {
    this.dirty = true;
    if (this.idleWake !== null) { const w = this.idleWake; this.idleWake = null; w(); }
  }

  allocId(): number { while (this.procs.has(this.nextId) || this.threads.has(this.nextId)) this.nextId++; return this.nextId++; }

  newHart(tid: number): Hart {
    const h = new Hart(tid, this.bus, this.code);
    h.setPriv(0);
    h.fs = 1;
    h.mcounteren = 7; h.scounteren = 7;
    const clock = this.host.clock, boot = this.bootNs;
    h.timeSource = () => Math.floor((clock.monotonic() - boot) / 100);
    h.trapHook = this.onTrap;
    return h;
  }

  addThread(t: Thread): void {
    this.threads.set(t.tid, t);
    t.proc.threads.add(t);
    t.proc.as.attach(t.hart);
    this.runList.push(t);
  }

  /** Starts the first process. Throws ExecError with a one-line message when it cannot be loaded. */
  start(path: string, argv: string[], env: string[], cwd: string, hostBytes?: Uint8Array): Process {
    const img = loadProgram({ vfs: this.vfs, frames: this.frames, cwd, path, argv, env, uid: this.uid, gid: this.gid, random: (b) => this.host.random(b), hostBytes });
    const fds = new FdTable();
    for (let fd = 0; fd < 3; fd++) fds.set(fd, new TermFile(fd, this.host.term, this.stdin), false);
    const pid = this.allocId();
    const p = new Process(pid, null, img.as, fds, new SignalHandlers(), cwd, img.exe, img.argv);
    p.startNs = this.host.clock.monotonic();
    this.procs.set(pid, p);
    this.init = p;
    const t = new Thread(pid, p, this.newHart(pid));
    this.setEntry(t.hart, img);
    this.addThread(t);
    return p;
  }

  setEntry(h: Hart, img: LoadedImage): void {
    h.x.fill(0); h.fi.fill(0); h.fflags = 0; h.frm = 0;
    h.pc = img.entry;
    h.setX(2, img.sp);
  }

  // ------------------------------------------------------------------ scheduler
  /** Runs until the first process exits; resolves to its exit status (128+N for signal N). */
  async run(): Promise<number> {
    const init = this.init;
    if (init === null) throw new Error("no process");
    let lastYield = this.host.clock.monotonic();
    while (init.status === null) {
      let ran = 0;
      const list = this.runList;
      const slice = list.length > 1 ? 20_000 : 200_000;
      for (let i = 0; i < list.length; i++) {
        const t = list[i];
        if (t.dead || t.wait !== null) continue;
        const h = t.hart;
        h.stopped = false;
        h.reservation = -1; // another hart may have run since: an LR/SC pair across slices must fail
        // A signal sent to a thread running guest code (Go's SIGURG preemption, kill of a
        // spinning thread) is taken here, at a block boundary, before it runs on.
        if ((t.pending !== 0n || t.proc.pending !== 0n) && ((t.pending | t.proc.pending) & ~t.sigmask) !== 0n) {
          this.deliverSignals(t);
          if (init.status !== null) break;
          if (t.dead) continue;
        }
        ran += h.run(slice);
        if (init.status !== null) break;
      }
      if (this.runList.some((t) => t.dead)) this.runList = this.runList.filter((t) => !t.dead);
      if (init.status !== null) break;
      const now = this.host.clock.monotonic();
      this.checkWaits(now);
      if (ran === 0 && !this.runList.some((t) => t.wait === null)) {
        await this.idle();
        lastYield = this.host.clock.monotonic();
        this.checkWaits(lastYield);
      } else if (now - lastYield > 10e6) {
        await this.host.clock.yield();
        lastYield = this.host.clock.monotonic();
      }
    }
    const st = init.status;
    for (const p of this.procs.values()) if (p.alive) this.exitProcess(p, SIGKILL);
    return (st & 0x7f) !== 0 ? 128 + (st & 0x7f) : (st >> 8) & 0xff;
  }

  private idle(): Promise<void> {
    if (this.dirty) return Promise.resolve();
    let deadline = Infinity;
    for (const t of this.runList) if (t.wait !== null) deadline = Math.min(deadline, t.wait.deadline);
    return new Promise((resolve) => {
      let cancel = (): void => {};
      this.idleWake = () => { cancel(); resolve(); };
      if (deadline !== Infinity) {
        const ms = Math.max(0, (deadline - this.host.clock.monotonic()) / 1e6);
        cancel = this.host.clock.setTimer(ms, () => { this.idleWake = null; resolve(); });
      }
    });
  }

  private checkWaits(now: number): void {
    const all = this.dirty;
    this.dirty = false;
    for (const t of this.runList) {
      const w = t.wait;
      if (w === null) continue;
      let r: number | null = null;
      if (all) r = w.check();
      if (r === null && now >= w.deadline) { w.cancel(); r = w.onTimeout(); }
      if (r !== null) this.complete(t, r);
    }
  }

  /** Ends a thread's blocked call with result r (then delivers pending signals). */
  complete(t: Thread, r: number): void {
    t.wait = null;
    if (r !== NORET) t.hart.setX(10, r);
    if (this.opts.strace) this.opts.log(`${t.tid} ${t.waitDesc} = ${fmtResult(r)} (resumed)`);
    this.deliverSignals(t);
  }

  /** Parks `t` in a blocked call. */
  block(t: Thread, w: Wait, pc: number): void {
    t.wait = w;
    t.waitPc = pc;
    t.hart.stopped = true;
  }

  // ------------------------------------------------------------------ traps and syscalls
  private readonly onTrap = (h: Hart, cause: number, pc: number): boolean => {
    const t = this.threads.get(h.hartId);
    if (t === undefined) { h.stopped = true; return true; }
    if (cause === 8) { this.syscall(t, pc); return true; }
    const va = pairToNumber(h.excTvalLo, h.excTvalHi);
    if (cause === 12 || cause === 13 || cause === 15) {
      const r = t.proc.as.fault(va, cause === 15 ? 1 : cause === 12 ? 2 : 0);
      if (r >= 0) { h.pc = pc; return true; }
      this.forceSignal(t, pc, { signo: SIGSEGV, code: t.proc.as.findVma(va) === null ? 1 : 2, addr: va });
      return true;
    }
    if (cause === 2) this.forceSignal(t, pc, { signo: SIGILL, code: 1, addr: pc });
    else if (cause === 3) this.forceSignal(t, pc, { signo: SIGTRAP, code: 1, addr: pc });
    else if (cause === 4 || cause === 6 || cause === 0) this.forceSignal(t, pc, { signo: SIGBUS, code: 1, addr: va });
    else this.forceSignal(t, pc, { signo: SIGSEGV, code: 2, addr: va });
    return true;
  };

  private syscall(t: Thread, pc: number): void {
    const h = t.hart;
    const nr = h.x[34];
    const e = SYSCALLS[nr];
    const args = [h.getX(10), h.getX(11), h.getX(12), h.getX(13), h.getX(14), h.getX(15)];
    this.current = t;
    h.pc = pc + 4;
    let r: number | Wait;
    if (e === undefined || e.fn === undefined) {
      if (!this.warned.has(nr)) { this.warned.add(nr); this.opts.log(`rvisor: unsupported syscall ${e?.name ?? nr} (${nr}): returning ENOSYS`); }
      r = -ENOSYS;
    } else r = e.fn(this, t, args, pc);
    if (r instanceof Wait) {
      if (this.opts.strace) t.waitDesc = formatCall(this, t, nr, args);
      this.block(t, r, pc);
      return;
    }
    if (this.opts.strace) this.opts.log(`${t.proc.pid} ${formatCall(this, t, nr, args)} = ${fmtResult(r)}`);
    if (r !== NORET) h.setX(10, r);
    if (!t.dead) this.deliverSignals(t);
  }

  // ------------------------------------------------------------------ signals
  /** A fault: deliver now, or kill the process if the signal is blocked or ignored. */
  forceSignal(t: Thread, pc: number, info: SigInfo): void {
    const a = t.proc.sig.actions[info.signo];
    t.hart.pc = pc;
    if ((t.sigmask & sigbit(info.signo)) !== 0n || a.handler === SIG_IGN || a.handler === SIG_DFL) {
      if (info.signo === SIGSEGV && this.opts.strace) this.opts.log(`--- SIGSEGV {si_addr=${hex64(info.addr ?? 0)}} ---`);
      this.exitProcess(t.proc, info.signo);
      return;
    }
    t.pending |= sigbit(info.signo);
    t.info.set(info.signo, info);
    this.deliverSignals(t);
  }

  /** Queues a signal for a thread (tgkill) or process (kill). */
  sendSignal(p: Process, t: Thread | null, info: SigInfo): void {
    const sig = info.signo;
    if (sig === 0 || !p.alive) return;
    const a = p.sig.actions[sig];
    if (sig === SIGKILL) { this.exitProcess(p, SIGKILL); return; }
    if (a.handler === SIG_IGN || (a.handler === SIG_DFL && defaultIgnored(sig))) return;
    if (t !== null) { t.pending |= sigbit(sig); if (!t.info.has(sig)) t.info.set(sig, info); }
    else { p.pending |= sigbit(sig); if (!p.info.has(sig)) p.info.set(sig, info); }
    // Interrupt a blocked thread that can take it.
    const cands = t !== null ? [t] : [...p.threads];
    for (const c of cands) {
      if ((c.sigmask & sigbit(sig)) !== 0n) continue;
      if (c.wait !== null) this.interrupt(c, sig);
      else c.hart.stopped = true;
      break;
    }
    this.notify();
  }

  private interrupt(t: Thread, sig: number): void {
    const w = t.wait;
    if (w === null) return;
    w.cancel();
    t.wait = null;
    const a = t.proc.sig.actions[sig];
    if (w.restartable && (a.flags & SA_RESTART) !== 0 && a.handler > SIG_IGN) t.hart.pc = t.waitPc; // re-execute the ecall
    else t.hart.setX(10, -EINTR);
    if (this.opts.strace) this.opts.log(`${t.tid} ${t.waitDesc} = -1 errno=${EINTR} (interrupted)`);
    this.deliverSignals(t);
  }

  /** Delivers one pending, unblocked signal to `t` (at a syscall return or after a wake). */
  deliverSignals(t: Thread): void {
    const p = t.proc;
    for (;;) {
      if (t.pending === 0n && p.pending === 0n) break;
      const ready = (t.pending | p.pending) & ~t.sigmask;
      if (ready === 0n) break;
      let sig = 1;
      while ((ready & sigbit(sig)) === 0n) sig++;
      let info: SigInfo | undefined;
      if ((t.pending & sigbit(sig)) !== 0n) { t.pending &= ~sigbit(sig); info = t.info.get(sig); t.info.delete(sig); }
      else { p.pending &= ~sigbit(sig); info = p.info.get(sig); p.info.delete(sig); }
      info ??= { signo: sig, code: 0 };
      const a = p.sig.actions[sig];
      if (a.handler === SIG_IGN) continue;
      if (a.handler === SIG_DFL) {
        if (defaultIgnored(sig) || sig === SIGSTOP || sig === SIGTSTP || sig === SIGTTIN || sig === SIGTTOU) continue;
        this.exitProcess(p, sig);
        return;
      }
      if (!this.setupFrame(t, sig, a.handler, a.flags, info)) { this.exitProcess(p, SIGSEGV); return; }
      t.sigmask |= a.mask | ((a.flags & SA_NODEFER) !== 0 ? 0n : sigbit(sig));
      t.sigmask &= ~UNBLOCKABLE;
      if ((a.flags & SA_RESETHAND) !== 0) p.sig.actions[sig] = { handler: SIG_DFL, flags: 0, mask: 0n };
      break;
    }
    t.savedMask = null;
  }

  private setupFrame(t: Thread, sig: number, handler: number, flags: number, info: SigInfo): boolean {
    const h = t.hart, as = t.proc.as;
    let sp = h.getX(2);
    const onAlt = t.altFlags === 0 && sp > t.altSp && sp <= t.altSp + t.altSize;
    if ((flags & SA_ONSTACK) !== 0 && t.altFlags === 0 && !onAlt) sp = t.altSp + t.altSize;
    sp = Math.floor((sp - FRAME_BYTES) / 16) * 16;
    const f = new Uint8Array(FRAME_BYTES);
    const dv = new DataView(f.buffer);
    const put64 = (o: number, v: number): void => { dv.setUint32(o, v >>> 0, true); dv.setInt32(o + 4, Math.floor(v / 4294967296), true); };
    // siginfo
    dv.setInt32(0, sig, true); dv.setInt32(8, info.code, true);
    if (info.addr !== undefined) put64(16, info.addr);
    else { dv.setInt32(16, info.pid ?? 0, true); dv.setInt32(20, info.uid ?? 0, true); if (info.status !== undefined) dv.setInt32(24, info.status, true); if (info.value !== undefined) put64(24, info.value); }
    // ucontext: uc_stack, uc_sigmask
    put64(UC + 16, t.altSp); dv.setInt32(UC + 24, t.altFlags === 0 ? (onAlt ? 1 : 0) : 2, true); put64(UC + 32, t.altSize);
    const mask = t.savedMask ?? t.sigmask;
    put64(UC + 40, Number(mask & 0xffffffffn)); dv.setUint32(UC + 44, Number((mask >> 32n) & 0xffffffffn), true);
    // mcontext: pc, x1..x31, f0..f31, fcsr
    dv.setInt32(MC, h.pc | 0, true); dv.setInt32(MC + 4, Math.floor(h.pc / 4294967296), true);
    for (let r = 1; r < 32; r++) { dv.setInt32(MC + r * 8, h.x[2 * r], true); dv.setInt32(MC + r * 8 + 4, h.x[2 * r + 1], true); }
    for (let r = 0; r < 32; r++) { dv.setInt32(FPR + r * 8, h.fi[2 * r], true); dv.setInt32(FPR + r * 8 + 4, h.fi[2 * r + 1], true); }
    dv.setUint32(FPR + 256, h.fflags | (h.frm << 5), true);
    if (!as.write(sp, f)) return false;
    h.setX(2, sp);
    h.setX(1, SIGRETURN_TRAMPOLINE);
    h.setX(10, sig);
    h.setX(11, (flags & SA_SIGINFO) !== 0 ? sp : 0);
    h.setX(12, (flags & SA_SIGINFO) !== 0 ? sp + UC : 0);
    h.pc = handler;
    return true;
  }

  /** rt_sigreturn: restores the context saved by setupFrame. */
  sigreturn(t: Thread): boolean {
    const h = t.hart, as = t.proc.as;
    const sp = h.getX(2);
    const f = as.read(sp, FRAME_BYTES);
    if (f === null) return false;
    const dv = new DataView(f.buffer);
    const lo = dv.getUint32(UC + 40, true), hi = dv.getUint32(UC + 44, true);
    t.sigmask = ((BigInt(hi) << 32n) | BigInt(lo)) & ~UNBLOCKABLE;
    h.pc = dv.getUint32(MC, true) + dv.getInt32(MC + 4, true) * 4294967296;
    for (let r = 1; r < 32; r++) { h.x[2 * r] = dv.getInt32(MC + r * 8, true); h.x[2 * r + 1] = dv.getInt32(MC + r * 8 + 4, true); }
    for (let r = 0; r < 32; r++) { h.fi[2 * r] = dv.getInt32(FPR + r * 8, true); h.fi[2 * r + 1] = dv.getInt32(FPR + r * 8 + 4, true); }
    const fcsr = dv.getUint32(FPR + 256, true);
    h.fflags = fcsr & 0x1f; h.frm = (fcsr >>> 5) & 7;
    return true;
  }

  killProcessGroup(pgid: number, sig: number): void {
    for (const p of this.procs.values()) if (p.alive && p.pgid === pgid) this.sendSignal(p, null, { signo: sig, code: 0x80 });
  }

  // ------------------------------------------------------------------ exits
  /** Ends one thread (exit); the process ends with its last thread. */
  exitThread(t: Thread, code: number): void {
    if (t.dead) return;
    const p = t.proc;
    t.dead = true;
    t.hart.stopped = true;
    if (t.wait !== null) { t.wait.cancel(); t.wait = null; }
    if (t.clearTid !== 0 && p.alive) {
      p.as.putU32(t.clearTid, 0);
      this.futexWake(p, t.clearTid, 1, -1);
    }
    p.threads.delete(t);
    p.as.detach(t.hart);
    this.code.removeHart(t.hart);
    this.threads.delete(t.tid);
    if (p.threads.size === 0 && p.alive) this.finishProcess(p, p.exitStatus ?? (code & 0xff) << 8);
  }

  /** exit_group or death by signal `sig` (when sig ≠ 0, code is ignored). */
  exitProcess(p: Process, sig: number, code = 0): void {
    if (!p.alive) return;
    const status = sig !== 0 ? sig : (code & 0xff) << 8;
    p.exitStatus = status;
    for (const t of [...p.threads]) { t.clearTid = 0; this.exitThread(t, 0); }
    if (p.alive) this.finishProcess(p, status);
  }

  private finishProcess(p: Process, status: number): void {
    p.status = status;
    if (--p.fds.users === 0) p.fds.closeAll();
    p.as.users--;
    if (p.as.users === 0) p.as.destroy();
    if (p.vforkParent !== null) { p.vforkParent = null; }
    for (const c of p.children) { c.parent = null; if (!c.alive) { c.reaped = true; this.procs.delete(c.pid); } }
    p.children.clear();
    const parent = p.parent;
    if (parent !== null && parent.alive) {
      const a = parent.sig.actions[SIGCHLD];
      if (a.handler === SIG_IGN || (a.flags & 2) !== 0) { p.reaped = true; parent.children.delete(p); this.procs.delete(p.pid); }
      else {
        const st = (status & 0x7f) !== 0;
        this.sendSignal(parent, null, { signo: SIGCHLD, code: st ? 2 : 1, pid: p.pid, uid: this.uid, status: st ? status & 0x7f : (status >> 8) & 0xff });
      }
    } else if (p !== this.init) { p.reaped = true; this.procs.delete(p.pid); }
    this.notify();
  }

  // ------------------------------------------------------------------ futexes
  futexKey(p: Process, addr: number): number { return p.as.phys(addr, false, true); }

  futexWake(p: Process, addr: number, n: number, bitset: number): number {
    const key = this.futexKey(p, addr);
    const set = this.futexes.get(key);
    if (set === undefined) return 0;
    let woken = 0;
    for (const w of set) {
      if (woken >= n) break;
      if ((w.bitset & bitset) === 0) continue;
      w.woken = true;
      set.delete(w);
      woken++;
    }
    if (set.size === 0) this.futexes.delete(key);
    if (woken > 0) this.notify();
    return woken;
  }

  warnOnce(nr: number, msg: string): void {
    if (!this.warned.has(nr)) { this.warned.add(nr); this.opts.log(msg); }
  }

  /** /dev files by name. */
  devFile(name: string): OpenFile | null {
    const r = (b: Uint8Array): void => this.host.random(b);
    switch (name) {
      case "/dev/null": return new DevNull("null", r);
      case "/dev/zero": return new DevNull("zero", r);
      case "/dev/urandom": case "/dev/random": return new DevNull("random", r);
      case "/dev/tty": return new TermFile(1, this.host.term, this.stdin);
    }
    return null;
  }
}

export function defaultIgnored(sig: number): boolean {
  return sig === SIGCHLD || sig === SIGURG || sig === SIGWINCH || sig === SIGCONT;
}

export function fmtResult(r: number): string {
  if (r === NORET) return "0";
  if (r < 0 && r >= -4095) return `-1 errno=${-r} (${ERRNO_NAMES[-r] ?? "?"})`;
  return r >= 0x10000 ? `0x${r.toString(16)}` : String(r);
}

export { ExecError, SIGFPE };

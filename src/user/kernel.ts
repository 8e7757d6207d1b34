// The application kernel of the process VM: processes and threads on harts in U-mode, a
// round-robin scheduler on one JS thread (blocked calls park their thread; host events wake
// them), system-call dispatch through the table in syscalls.ts, and signal delivery.
import { Bus } from "../memory/bus.js";
import { hex64 } from "../memory/hex.js";
import { Ram } from "../memory/ram.js";
import { CodeCache } from "../cpu/code_cache.js";
import type { Isa } from "../cpu/isa.js";
import { Hart, pairToNumber } from "../cpu/hart.js";
import { EINTR, ENOSYS, ERESTARTSYS, ERRNO_NAMES, encodeSiginfo } from "../abi/linux.js";
import { disassociateCtty, TtyFile } from "./ctty.js";
import { DevNull, OpenFile } from "./file.js";
import type { HostFs, UserHost } from "./host.js";
import { ExecError, loadProgram, SIGRETURN_TRAMPOLINE, type LoadedImage } from "./loader.js";
import { argValue } from "./args.js";
import { FrameAllocator, OUT_OF_MEMORY } from "./memory.js";
import { procLookup } from "./proc.js";
import { SYSCALLS, formatCall, NORET } from "./syscalls.js";
import { exitRobustList } from "./robust.js";
import { releaseItimers } from "./time.js";
import {
  CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, FdTable, Process, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER,
  SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_SIGINFO, SIG_DFL, SIG_IGN, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP,
  SIGILL, SIGINT, SIGKILL, SIGQUIT, SIGSEGV, SIGSTOP, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH,
  SignalHandlers, Thread, UNBLOCKABLE, WCONTINUED_STATUS, WSTOPPED_STATUS, Wait, isStopSignal, sigbit, type SigInfo,
} from "./task.js";
import { Tty } from "./tty.js";
import { StdinBuffer, TermFile, Vfs } from "./vfs.js";

export interface KernelOptions {
  root: string; readonly: boolean; strace: boolean;
  /**
   * Print a warning the first time the guest makes a system call rvisor does not implement (as
   * qemu-riscv64 does only with -strace or -d unimp). --strace implies it. Default: quiet.
   */
  verbose?: boolean;
  /** Where strace lines and warnings go. */
  log: (line: string) => void;
  memBytes?: number;
  /** qemu -L style lookup prefix. */
  prefix?: string | null;
  /**
   * What happens to the other processes when the first one exits: "wait" (default) runs them
   * until they exit, as they would under qemu-riscv64 (adopted by the host); "kill" ends them.
   */
  orphans?: "wait" | "kill";
  /** The ISA the harts implement (`--cpu`); riscv_hwprobe and /proc/cpuinfo report it. Default: the default profile. */
  isa?: Isa;
  /**
   * The guest's filesystem when it is not a host directory: a HostFs whose paths are guest paths
   * (the overlay of src/user/overlay.ts); `root` is then "/" and nothing else is reachable.
   */
  fs?: HostFs;
  /**
   * A container's pid namespace (pid_namespaces(7)): pids start at 1, so the first process is
   * pid 1, the namespace's init: orphans are re-parented to it, and signals whose action is the
   * default are not delivered to it (SIGKILL and SIGSTOP excepted), as Linux treats an init.
   */
  pidNamespace?: boolean;
  /** The most tasks (processes and threads) at once, as the pids cgroup's pids.max: clone past it fails with EAGAIN. */
  maxTasks?: number;
  /** The share of one host CPU the guest may use (cpu.max quota/period); below 1 the scheduler sleeps between slices. */
  cpuShare?: number;
}

/** The ids the guest runs with. */
export const GUEST_UID = 1000, GUEST_GID = 1000;

/** si_code of a signal the kernel sends (SI_KERNEL) and of one from kill (SI_USER). */
const SI_KERNEL = 0x80, SI_USER = 0;
const STOP_SIGNALS = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

const RAM_BASE = 0x8000_0000;
/** The first pid outside a pid namespace (well above the host shell's usual numbers, as under qemu-riscv64 they are the host's). */
const FIRST_PID = 1000;
/** cpu.max's default period: with --cpus below 1 the guest runs quota = share · period per period. */
const CPU_PERIOD_MS = 100;
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
  private nextId: number;
  init: Process | null = null;
  /** The thread whose system call is running (for /proc/self). */
  current: Thread | null = null;
  private dirty = false;
  private idleWake: (() => void) | null = null;
  private warned = new Set<number>();
  readonly futexes = new Map<number, Set<{ t: Thread; bitset: number; woken: boolean; key: number }>>();
  readonly bootNs: number;
  uid = GUEST_UID; gid = GUEST_GID;
  /** The guest's terminal, when one of the host's stdin/stdout/stderr is a terminal. */
  readonly tty: Tty | null = null;
  /** The host fd the terminal's output (and echo) goes to. */
  readonly ttyOut: number = 1;
  private firstExitDone = false;

  constructor(readonly host: UserHost, readonly opts: KernelOptions) {
    this.nextId = opts.pidNamespace === true ? 1 : FIRST_PID;
    this.ram = new Ram(RAM_BASE, opts.memBytes ?? 1 << 30);
    this.bus = new Bus(this.ram);
    this.code = new CodeCache(this.ram, opts.isa);
    this.frames = new FrameAllocator(this.ram);
    this.vfs = opts.fs !== undefined ? new Vfs(opts.fs, "/", opts.readonly, null, true) : new Vfs(host.fs, opts.root, opts.readonly, opts.prefix ?? null);
    this.vfs.special = (g) => procLookup(this, g);
    this.stdin = new StdinBuffer(host.term);
    this.bootNs = host.clock.monotonic();
    OpenFile.notify = () => this.notify();
    const term = host.term;
    const out = [1, 2, 0].find((fd) => term.isatty(fd));
    if (out !== undefined) {
      this.ttyOut = out;
      const tty = new Tty({
        echo: (b) => { term.write(out, b); },
        signal: (sig) => { if (tty.pgrp !== 0 && !tty.released) this.killProcessGroup(tty.pgrp, sig); },
        notify: () => this.notify(),
      });
      const ws = term.winsize(out);
      if (ws !== null) { tty.rows = ws.rows; tty.cols = ws.cols; }
      this.tty = tty;
      term.onResize(() => {
        const w = term.winsize(out);
        if (w !== null && (w.rows !== tty.rows || w.cols !== tty.cols)) { tty.rows = w.rows; tty.cols = w.cols; this.winch(); }
      });
    }
    term.onSignal((sig) => this.hostSignal(sig));
  }

  /**
   * A signal to rvisor itself (kill, or Ctrl-C while the host terminal is not raw). While the
   * first process lives: SIGINT and SIGQUIT go to the terminal's foreground process group, others
   * to the first process (as qemu-riscv64 passes its own signals to the guest). After it exited,
   * any of them ends the remaining processes.
   */
  hostSignal(sig: number): void {
    const init = this.init;
    if (init === null) return;
    if (!init.alive) { this.terminate(); return; }
    if (sig === SIGINT || sig === SIGQUIT) {
      const tty = this.tty;
      this.killProcessGroup(tty !== null && tty.pgrp !== 0 && !tty.released ? tty.pgrp : init.pgid, sig);
    } else this.sendSignal(init, null, { signo: sig, code: SI_USER });
  }

  /** Ends every guest process (SIGKILL). */
  terminate(): void {
    for (const p of [...this.procs.values()]) if (p.alive) this.exitProcess(p, SIGKILL);
    this.notify();
  }

  /** The terminal's size changed: SIGWINCH to its foreground process group. */
  winch(): void {
    const tty = this.tty;
    if (tty !== null && tty.pgrp !== 0 && !tty.released) this.killProcessGroup(tty.pgrp, SIGWINCH);
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
    this.firstExitDone = false; // a new first process (a kernel may run one after another: the fuzzer does)
    const img = loadProgram({ vfs: this.vfs, frames: this.frames, cwd, path, argv, env, uid: this.uid, gid: this.gid, random: (b) => this.host.random(b), hostBytes });
    const fds = new FdTable();
    const term = this.host.term, tty = this.tty;
    // The host's terminal fds share one open file description, as a login's fds 0-2 do.
    const ttyFile = tty !== null ? new TtyFile(this, tty) : null;
    if (ttyFile !== null) ttyFile.refs = 0;
    for (let fd = 0; fd < 3; fd++) {
      if (ttyFile !== null && term.isatty(fd)) { ttyFile.refs++; fds.set(fd, ttyFile, false); }
      else fds.set(fd, new TermFile(fd, term, this.stdin), false);
    }
    const pid = this.allocId();
    const p = new Process(pid, null, img.as, fds, new SignalHandlers(), cwd, img.exe, img.argv);
    p.commName = path.split("/").pop() ?? null;
    p.startNs = this.host.clock.monotonic();
    this.procs.set(pid, p);
    this.init = p;
    if (tty !== null) {
      // The first process stands for the job the host shell started: its session has the
      // terminal and its group is in the foreground.
      p.ctty = tty; tty.sid = p.sid; tty.pgrp = p.pgid; tty.released = false;
      this.takeTerminal();
    }
    const t = new Thread(pid, p, this.newHart(pid));
    this.setEntry(t.hart, img);
    this.addThread(t);
    return p;
  }

  /**
   * Starts another process beside the first one (`container exec`): no parent in the guest, its
   * own session, and the descriptors given as fds 0-2. Throws ExecError when it cannot be loaded.
   */
  spawn(path: string, argv: string[], env: string[], cwd: string, stdio: readonly OpenFile[]): Process {
    const img = loadProgram({ vfs: this.vfs, frames: this.frames, cwd, path, argv, env, uid: this.uid, gid: this.gid, random: (b) => this.host.random(b) });
    const fds = new FdTable();
    stdio.forEach((f, fd) => fds.set(fd, f, false));
    const pid = this.allocId();
    const p = new Process(pid, null, img.as, fds, new SignalHandlers(), cwd, img.exe, img.argv);
    p.commName = path.split("/").pop() ?? null;
    p.startNs = this.host.clock.monotonic();
    this.procs.set(pid, p);
    const t = new Thread(pid, p, this.newHart(pid));
    this.setEntry(t.hart, img);
    this.addThread(t);
    this.notify();
    return p;
  }

  /**
   * rvisor does the line discipline: the host terminal is raw, and typed keys are read at once
   * (Ctrl-C must work while the guest is not reading).
   */
  private takeTerminal(): void {
    const tty = this.tty, term = this.host.term;
    if (tty === null || !term.isatty(0)) return;
    term.setRaw(true);
    term.startInput((c) => { if (c !== null) tty.input(c); });
  }

  private terminalLends = 0;
  /**
   * A host-native program got the terminal (host_exec.ts): while it runs, the host terminal is
   * in the host's own modes and rvisor does not read it, as when a shell runs a job.
   */
  lendTerminal(): void {
    if (this.terminalLends++ === 0 && this.tty !== null && !this.tty.released) this.host.term.release();
  }

  /** The last host-native program holding the terminal ended: the guest's tty takes it back. */
  reclaimTerminal(): void {
    if (--this.terminalLends === 0 && this.tty !== null && !this.tty.released) this.takeTerminal();
  }

  /** Called when a process has exited (its status set), before it may be reaped. */
  onProcessExit: ((p: Process) => void) | null = null;

  setEntry(h: Hart, img: LoadedImage): void {
    h.x.fill(0); h.fi.fill(0); h.fflags = 0; h.frm = 0;
    h.pc = img.entry;
    h.setX(2, img.sp);
  }

  // ------------------------------------------------------------------ scheduler
  /**
   * Runs while any guest process lives (or until the first one exits, with orphans "kill");
   * resolves to the first process's exit status (128+N for signal N).
   */
  async run(): Promise<number> {
    const init = this.init;
    if (init === null) throw new Error("no process");
    let lastYield = this.host.clock.monotonic();
    for (;;) {
      if (init.status !== null) {
        if (!this.firstExitDone) this.firstExit();
        if (!this.anyAlive()) break;
      }
      if (init.stopped && init.alive) {
        this.suspendHost(init);
        // Give the host's event loop a turn after every stop: a first process that stops itself
        // over and over (SIGTTIN on each read in the background) must not spin rvisor in place.
        await this.host.clock.yield();
        lastYield = this.host.clock.monotonic();
        if (init.stopped && init.alive) { this.checkWaits(lastYield); await this.idle(); continue; }
      }
      let ran = 0;
      const sliceStart = this.host.clock.monotonic();
      const list = this.runList;
      const slice = list.length > 1 ? 20_000 : 200_000;
      const firstExitPending = (): boolean => init.status !== null && !this.firstExitDone;
      for (let i = 0; i < list.length; i++) {
        const t = list[i];
        if (t.dead || t.wait !== null || t.proc.stopped) continue;
        const h = t.hart;
        h.stopped = false;
        h.reservation = -1; // another hart may have run since: an LR/SC pair across slices must fail
        // A signal sent to a thread running guest code (Go's SIGURG preemption, kill of a
        // spinning thread) is taken here, at a block boundary, before it runs on.
        if ((t.pending !== 0n || t.proc.pending !== 0n) && ((t.pending | t.proc.pending) & ~t.sigmask) !== 0n) {
          this.deliverSignals(t);
          if (firstExitPending() || init.stopped) break;
          if (t.dead || t.proc.stopped) continue;
        }
        ran += h.run(slice);
        if (firstExitPending() || init.stopped) break;
      }
      if (this.runList.some((t) => t.dead)) this.runList = this.runList.filter((t) => !t.dead);
      if (firstExitPending() || init.stopped) continue;
      let now = this.host.clock.monotonic();
      const share = this.opts.cpuShare ?? 1;
      if (share < 1 && ran > 0) {
        // cpu.max: having run for `busy`, sleep so that busy / (busy + sleep) is the share.
        const busyMs = (now - sliceStart) / 1e6;
        await this.sleepMs(Math.min(CPU_PERIOD_MS, busyMs * (1 - share) / share));
        now = lastYield = this.host.clock.monotonic();
      }
      this.checkWaits(now);
      if (ran === 0 && !this.runList.some((t) => t.wait === null && !t.proc.stopped)) {
        await this.idle();
        lastYield = this.host.clock.monotonic();
        this.checkWaits(lastYield);
      } else if (now - lastYield > 10e6) {
        await this.host.clock.yield();
        lastYield = this.host.clock.monotonic();
      }
    }
    const st = init.status ?? 0;
    return (st & 0x7f) !== 0 ? 128 + (st & 0x7f) : (st >> 8) & 0xff;
  }

  private sleepMs(ms: number): Promise<void> {
    return new Promise((resolve) => { this.host.clock.setTimer(ms, resolve); });
  }

  private anyAlive(): boolean {
    for (const p of this.procs.values()) if (p.alive) return true;
    return false;
  }

  /**
   * The first process exited: the host takes its terminal back (so keys signal rvisor, and every
   * remaining guest process is in the background, as under qemu-riscv64 once the shell has its
   * prompt again); the others run on, or end with orphans "kill".
   */
  private firstExit(): void {
    this.firstExitDone = true;
    if (this.tty !== null) this.tty.released = true;
    this.host.term.release();
    if (this.opts.orphans === "kill") this.terminate();
  }

  /**
   * The first process stopped (Ctrl-Z on a program that does not handle it, or SIGSTOP): like
   * qemu-riscv64, rvisor stops itself, so the host shell gets its prompt back; once continued
   * (fg), the first process's group gets SIGCONT.
   */
  private suspendHost(init: Process): void {
    this.host.term.suspend();
    this.killProcessGroup(init.pgid, SIGCONT);
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
      if (w === null || t.proc.stopped) continue;
      this.current = t;
      let r: number | null = null;
      if (all) r = w.check();
      if (r === null && now >= w.deadline) { w.cancel(); r = w.onTimeout(); }
      if (r !== null) this.complete(t, r);
    }
  }

  /** Ends a thread's blocked call with result r (then delivers pending signals). */
  complete(t: Thread, r: number): void {
    t.wait = null;
    if (r === -ERESTARTSYS) { t.hart.pc = t.waitPc; t.restart = true; }
    else if (r !== NORET) t.hart.setX(10, r);
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
      if (r === OUT_OF_MEMORY) { h.pc = pc; this.oomKill(t.proc, "page fault"); return true; }
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
    // Every argument is untrusted 64-bit data: argValue keeps it a safe integer (see args.ts).
    const x = h.x;
    const args = [argValue(x[20], x[21]), argValue(x[22], x[23]), argValue(x[24], x[25]), argValue(x[26], x[27]), argValue(x[28], x[29]), argValue(x[30], x[31])];
    this.current = t;
    h.pc = pc + 4;
    let r: number | Wait;
    if (e === undefined || e.fn === undefined) {
      if ((this.opts.strace || this.opts.verbose === true) && !this.warned.has(nr)) { this.warned.add(nr); this.opts.log(`rvisor: unsupported syscall ${e?.name ?? nr} (${nr}): returning ENOSYS`); }
      r = -ENOSYS;
    } else {
      try {
        r = e.fn(this, t, args, pc);
      } catch (err) {
        // A bug in a handler must not take the VM down: the calling process dies (SIGKILL, as
        // the OOM killer would end it), the others run on, and the error is reported.
        this.internalError(t, `${e.name}(${nr})`, err);
        return;
      }
    }
    if (r instanceof Wait) {
      if (this.opts.strace) t.waitDesc = formatCall(this, t, nr, args);
      this.block(t, r, pc);
      return;
    }
    if (r === -ERESTARTSYS) {
      // Back on the ecall with the arguments intact: it runs again after the signal (a stop
      // and a continue, or a handler with SA_RESTART), else EINTR (deliverSignals).
      if (this.opts.strace) this.opts.log(`${t.proc.pid} ${formatCall(this, t, nr, args)} = ? ERESTARTSYS`);
      h.pc = pc;
      t.restart = true;
      if (!t.dead) this.deliverSignals(t);
      return;
    }
    if (this.opts.strace) this.opts.log(`${t.proc.pid} ${formatCall(this, t, nr, args)} = ${fmtResult(r)}`);
    if (r !== NORET) h.setX(10, r);
    if (!t.dead) this.deliverSignals(t);
  }

  /** Number of handler exceptions caught (the syscall fuzz target counts them as findings). */
  internalErrors = 0;

  private internalError(t: Thread, where: string, err: unknown): void {
    this.internalErrors++;
    const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.opts.log(`rvisor: internal error in ${where}: ${msg}; killing process ${t.proc.pid}`);
    this.exitProcess(t.proc, SIGKILL);
  }

  /** Out of guest memory for a page the process needs: Linux's OOM killer ends it (SIGKILL). */
  oomKill(p: Process, why: string): void {
    this.opts.log(`rvisor: out of guest memory (${why}): killed process ${p.pid}`);
    this.exitProcess(p, SIGKILL);
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
    // A process running a host-native program: the signal is the host process's to handle.
    if (p.hostChild !== null) { p.hostChild.kill(sig); return; }
    const a = p.sig.actions[sig];
    // sig_task_ignored: a namespace's init does not take signals it has no handler for; from
    // outside the namespace (the host: no sender pid) SIGKILL and SIGSTOP still do.
    if (this.isNamespaceInit(p) && a.handler === SIG_DFL && (info.pid !== undefined || (sig !== SIGKILL && sig !== SIGSTOP))) return;
    if (sig === SIGKILL) { this.exitProcess(p, SIGKILL); return; }
    // prepare_signal: a stop signal cancels a pending SIGCONT; SIGCONT cancels pending stops
    // and continues a stopped process even when it is ignored.
    if (isStopSignal(sig)) this.dropPending(p, sigbit(SIGCONT));
    if (sig === SIGCONT) { this.dropPending(p, STOP_SIGNALS); this.continueProcess(p); }
    // sig_ignored: "Blocked signals are never ignored, since the signal handler may change by
    // the time it is unblocked" (and a signalfd or sigtimedwait may take it meanwhile).
    if ((a.handler === SIG_IGN || (a.handler === SIG_DFL && defaultIgnored(sig))) && !this.blockedBy(p, t, sig)) return;
    if (t !== null) { t.pending |= sigbit(sig); if (!t.info.has(sig)) t.info.set(sig, info); }
    else { p.pending |= sigbit(sig); if (!p.info.has(sig)) p.info.set(sig, info); }
    // A stopped process takes it once continued.
    if (p.stopped) { this.notify(); return; }
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

  /** p is pid 1 of the kernel's pid namespace. */
  isNamespaceInit(p: Process): boolean { return this.opts.pidNamespace === true && p === this.init && p.pid === 1; }

  /** Whether the target (thread t, or every thread of p for a process-directed signal) blocks sig. */
  private blockedBy(p: Process, t: Thread | null, sig: number): boolean {
    const bit = sigbit(sig);
    if (t !== null) return (t.sigmask & bit) !== 0n;
    if (p.threads.size === 0) return false;
    for (const c of p.threads) if ((c.sigmask & bit) === 0n) return false;
    return true;
  }

  private dropPending(p: Process, mask: bigint): void {
    p.pending &= ~mask;
    for (const t of p.threads) t.pending &= ~mask;
  }

  /** A stop signal's default action: every thread of p stops; the parent is told (SIGCHLD, wait4 WUNTRACED). */
  private stopProcess(p: Process, sig: number): void {
    p.stopped = true;
    p.jobReport = WSTOPPED_STATUS(sig);
    for (const t of p.threads) t.hart.stopped = true;
    this.notifyParentJob(p, CLD_STOPPED, sig);
    this.notify();
  }

  /** SIGCONT: a stopped process runs again (the parent is told: SIGCHLD, wait4 WCONTINUED). */
  private continueProcess(p: Process): void {
    if (!p.stopped) return;
    p.stopped = false;
    p.jobReport = WCONTINUED_STATUS;
    this.notifyParentJob(p, CLD_CONTINUED, SIGCONT);
    // Signals that came while it was stopped interrupt its blocked calls now.
    for (const t of p.threads) {
      const ready = (t.pending | p.pending) & ~t.sigmask;
      if (t.wait === null || ready === 0n) continue;
      let sig = 1;
      while ((ready & sigbit(sig)) === 0n) sig++;
      this.interrupt(t, sig);
    }
    this.notify();
  }

  private notifyParentJob(p: Process, code: number, sig: number): void {
    const parent = p.parent;
    if (parent === null || !parent.alive || (parent.sig.actions[SIGCHLD].flags & SA_NOCLDSTOP) !== 0) return;
    this.sendSignal(parent, null, { signo: SIGCHLD, code, pid: p.pid, uid: this.uid, status: sig });
  }

  /**
   * Whether a process group is orphaned: no member has a parent in another group of the same
   * session (POSIX). The first process's parent is the host shell, which counts as one.
   */
  isOrphanedPgrp(pgid: number): boolean {
    for (const q of this.procs.values()) {
      if (!q.alive || q.pgid !== pgid) continue;
      if (q === this.init) return false;
      const par = q.parent;
      if (par !== null && par.alive && par.pgid !== pgid && par.sid === q.sid) return false;
    }
    return true;
  }

  private interrupt(t: Thread, sig: number): void {
    const w = t.wait;
    if (w === null || !w.interruptible) return;
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
        if (defaultIgnored(sig)) continue;
        if (isStopSignal(sig)) {
          // POSIX: the terminal stop signals are discarded in an orphaned process group.
          if (sig !== SIGSTOP && this.isOrphanedPgrp(p.pgid)) continue;
          this.stopProcess(p, sig);
          break;
        }
        this.exitProcess(p, sig);
        return;
      }
      if (t.restart) {
        // -ERESTARTSYS: restarted after the handler with SA_RESTART, else EINTR.
        t.restart = false;
        if ((a.flags & SA_RESTART) === 0) { t.hart.pc += 4; t.hart.setX(10, -EINTR); }
      }
      if (!this.setupFrame(t, sig, a.handler, a.flags, info)) { this.exitProcess(p, SIGSEGV); return; }
      t.sigmask |= a.mask | ((a.flags & SA_NODEFER) !== 0 ? 0n : sigbit(sig));
      t.sigmask &= ~UNBLOCKABLE;
      if ((a.flags & SA_RESETHAND) !== 0) p.sig.actions[sig] = { handler: SIG_DFL, flags: 0, mask: 0n };
      break;
    }
    t.savedMask = null;
    t.restart = false;
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
    encodeSiginfo({ ...info, signo: sig }, f, 0); // the frame opens with the siginfo
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
    for (const p of [...this.procs.values()]) if (p.alive && p.pgid === pgid) this.sendSignal(p, null, { signo: sig, code: SI_KERNEL });
  }

  // ------------------------------------------------------------------ exits
  /** Ends one thread (exit); the process ends with its last thread. */
  exitThread(t: Thread, code: number): void {
    if (t.dead) return;
    const p = t.proc;
    t.dead = true;
    t.hart.stopped = true;
    if (t.wait !== null) { t.wait.cancel(); t.wait = null; }
    if (p.alive) exitRobustList(this, t);
    if (t.clearTid !== 0 && p.alive) {
      p.as.putU32(t.clearTid, 0);
      this.futexWake(p, t.clearTid, 1, -1);
    }
    p.threads.delete(t);
    p.as.detach(t.hart);
    t.hart.release();
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
    // Process groups this exit may orphan (kill_orphaned_pgrp): its own and its children's.
    const groups = new Set<number>([p.pgid]);
    for (const c of p.children) if (c.alive) groups.add(c.pgid);
    const wasOrphaned = new Map<number, boolean>();
    for (const g of groups) wasOrphaned.set(g, this.isOrphanedPgrp(g));
    p.status = status;
    p.stopped = false;
    releaseItimers(p);
    // A session leader's exit hangs up its controlling terminal (the first process stands for
    // the host shell's job, not for a session leader: its exit leaves the terminal alone).
    if (p.ctty !== null && p.pid === p.sid && p !== this.init) disassociateCtty(this, p, true);
    if (--p.fds.users === 0) p.fds.closeAll();
    p.as.users--;
    if (p.as.users === 0) p.as.destroy();
    if (p.vforkParent !== null) { p.vforkParent = null; }
    // Orphans go to the nearest PR_SET_CHILD_SUBREAPER ancestor, else to the host (as under
    // qemu-riscv64, where the host's init adopts them): they run on, reaped when they exit.
    let reaper: Process | null = null;
    for (let a = p.parent; a !== null; a = a.parent) if (a.alive && a.subreaper) { reaper = a; break; }
    // In a pid namespace the orphans' last resort is its init (find_child_reaper).
    if (reaper === null && this.opts.pidNamespace === true && this.init !== null && this.init.alive && this.init !== p) reaper = this.init;
    for (const c of p.children) {
      // PR_SET_PDEATHSIG (forget_original_parent): the child learns of its parent's death,
      // from the parent (SEND_SIG_NOINFO: SI_USER, its pid and uid). Linux sends it when the
      // parent *thread* that forked the child exits, even while other threads of its process
      // run on; rvisor keeps no forking thread and sends it when the parent process exits.
      if (c.alive && c.pdeathsig !== 0) this.sendSignal(c, null, { signo: c.pdeathsig, code: SI_USER, pid: p.pid, uid: this.uid });
      c.parent = reaper;
      if (reaper !== null) {
        reaper.children.add(c);
        if (!c.alive && !c.reaped) this.notifyExit(reaper, c);
      } else if (!c.alive) { c.reaped = true; this.procs.delete(c.pid); }
    }
    p.children.clear();
    // A group that this exit orphans and that has stopped members gets SIGHUP then SIGCONT.
    for (const g of groups) {
      if (wasOrphaned.get(g) === true || !this.isOrphanedPgrp(g)) continue;
      let stopped = false;
      for (const q of this.procs.values()) if (q.alive && q.pgid === g && q.stopped) { stopped = true; break; }
      if (stopped) { this.killProcessGroup(g, SIGHUP); this.killProcessGroup(g, SIGCONT); }
    }
    this.onProcessExit?.(p);
    const parent = p.parent;
    if (parent !== null && parent.alive) this.notifyExit(parent, p);
    else if (p !== this.init) { p.reaped = true; this.procs.delete(p.pid); }
    this.notify();
  }

  /** A child's exit: SIGCHLD to its parent, or reaped at once when the parent ignores SIGCHLD (SA_NOCLDWAIT). */
  private notifyExit(parent: Process, p: Process): void {
    const a = parent.sig.actions[SIGCHLD];
    const status = p.status ?? 0;
    if (a.handler === SIG_IGN || (a.flags & SA_NOCLDWAIT) !== 0) { p.reaped = true; parent.children.delete(p); this.procs.delete(p.pid); return; }
    const killed = (status & 0x7f) !== 0;
    this.sendSignal(parent, null, { signo: SIGCHLD, code: killed ? CLD_KILLED : CLD_EXITED, pid: p.pid, uid: this.uid, status: killed ? status & 0x7f : (status >> 8) & 0xff });
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
      case "/dev/tty": return this.tty !== null ? new TtyFile(this, this.tty) : new TermFile(1, this.host.term, this.stdin);
      // The terminal itself, as fds 0-2 name it (ttyname reads /proc/self/fd/0 and stats this).
      case "/dev/pts/0": return this.tty !== null ? new TtyFile(this, this.tty) : null;
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

// Processes and threads of the process VM, their file-descriptor tables and signal state.
import type { Hart } from "../cpu/hart.js";
import type { LinuxSiginfo } from "../abi/linux.js";
import { EBADF, EMFILE } from "../abi/linux.js";
import type { OpenFile } from "./file.js";
import type { AddressSpace } from "./memory.js";
import type { Tty } from "./tty.js";

export const MAX_FDS = 1024;

export class FdTable {
  /** Processes sharing this table (CLONE_FILES). */
  users = 1;
  files: (OpenFile | undefined)[] = [];
  cloexec: boolean[] = [];
  get(fd: number): OpenFile | undefined { return fd >= 0 ? this.files[fd] : undefined; }
  /** Lowest free descriptor ≥ min. */
  alloc(f: OpenFile, cloexec: boolean, min = 0): number {
    for (let fd = min; fd < MAX_FDS; fd++) {
      if (this.files[fd] === undefined) { this.files[fd] = f; this.cloexec[fd] = cloexec; return fd; }
    }
    return -EMFILE;
  }
  set(fd: number, f: OpenFile, cloexec: boolean): void {
    const old = this.files[fd];
    this.files[fd] = f; this.cloexec[fd] = cloexec;
    if (old !== undefined) release(old);
  }
  close(fd: number): number {
    const f = this.get(fd);
    if (f === undefined) return -EBADF;
    this.files[fd] = undefined;
    release(f);
    return 0;
  }
  closeAll(): void { for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd] !== undefined) this.close(fd); }
  closeOnExec(): void { for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd] !== undefined && this.cloexec[fd]) this.close(fd); }
  clone(): FdTable {
    const t = new FdTable();
    this.files.forEach((f, i) => { if (f !== undefined) { f.refs++; t.files[i] = f; t.cloexec[i] = this.cloexec[i]; } });
    return t;
  }
}

export function release(f: OpenFile): void {
  if (--f.refs === 0) f.release();
}

export interface SigAction { handler: number; flags: number; mask: bigint }
export const SIG_DFL = 0, SIG_IGN = 1;
export const SA_NOCLDSTOP = 1, SA_NOCLDWAIT = 2, SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SA_RESTART = 0x10000000,
  SA_NODEFER = 0x40000000, SA_RESETHAND = 0x80000000;
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8,
  SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17,
  SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28;

export function isStopSignal(sig: number): boolean { return sig === SIGSTOP || sig === SIGTSTP || sig === SIGTTIN || sig === SIGTTOU; }
/** Wait statuses of a stopped and a continued child (as WIFSTOPPED/WIFCONTINUED decode them). */
export const WSTOPPED_STATUS = (sig: number): number => (sig << 8) | 0x7f, WCONTINUED_STATUS = 0xffff;
/** siginfo si_code values for SIGCHLD. */
export const CLD_EXITED = 1, CLD_KILLED = 2, CLD_STOPPED = 5, CLD_CONTINUED = 6;

export function sigbit(sig: number): bigint { return 1n << BigInt(sig - 1); }
export const UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);

export class SignalHandlers {
  actions: SigAction[] = [];
  constructor() { for (let i = 0; i <= 64; i++) this.actions.push({ handler: SIG_DFL, flags: 0, mask: 0n }); }
  clone(): SignalHandlers {
    const s = new SignalHandlers();
    s.actions = this.actions.map((a) => ({ ...a }));
    return s;
  }
}

/** What a signal carries into siginfo_t. */
export type SigInfo = LinuxSiginfo;

/** A blocked system call: `check` returns the result once it can complete, or null to keep waiting. */
export class Wait {
  constructor(
    readonly check: () => number | null,
    /** Monotonic ns deadline; onTimeout gives the result then. */
    readonly deadline = Infinity,
    readonly onTimeout: () => number = () => -110,
    /** Whether SA_RESTART restarts the call after a handler ran. */
    readonly restartable = true,
    readonly cancel: () => void = () => {},
    /** False: signals stay pending until the call completes (execve of a host-native program while it starts). */
    readonly interruptible = true,
  ) {}
}

/** Linux's default timer slack (init_task.timer_slack_ns), in ns. */
export const DEFAULT_TIMER_SLACK_NS = 50_000;
/** get_dumpable() values prctl accepts: not dumpable, dumpable (the default). */
export const SUID_DUMP_DISABLE = 0, SUID_DUMP_USER = 1;

export class Thread {
  sigmask = 0n;
  pending = 0n;
  readonly info = new Map<number, SigInfo>();
  clearTid = 0;
  robustList = 0;
  wait: Wait | null = null;
  /** pc of the ecall that blocked (to restart it). */
  waitPc = 0;
  /** Syscall number and args of the blocked call (strace). */
  waitDesc = "";
  altSp = 0; altSize = 0; altFlags = 2; // SS_DISABLE
  dead = false;
  /** Signal mask to restore after rt_sigsuspend/ppoll/pselect6 once a handler frame is set up. */
  savedMask: bigint | null = null;
  /**
   * The system call returned -ERESTARTSYS: pc is back on the ecall, a0 still holds its argument.
   * A handler without SA_RESTART turns it into EINTR; otherwise the call runs again.
   */
  restart = false;
  /** PR_SET_TIMERSLACK: this thread's current timer slack (ns); rvisor's timers do not use it. */
  timerSlack = DEFAULT_TIMER_SLACK_NS;
  /** What PR_SET_TIMERSLACK 0 restores: the creating thread's current slack when this one was made. */
  defaultTimerSlack = DEFAULT_TIMER_SLACK_NS;
  constructor(readonly tid: number, public proc: Process, public hart: Hart) {}
}

export class Process {
  readonly threads = new Set<Thread>();
  readonly children = new Set<Process>();
  pending = 0n;
  readonly info = new Map<number, SigInfo>();
  /** Wait status (as wait4 reports it) once the process has exited. */
  status: number | null = null;
  reaped = false;
  /** Status decided by exit_group or a fatal signal while threads are being torn down. */
  exitStatus: number | null = null;
  pgid: number;
  sid: number;
  umask = 0o022;
  /** vfork parent thread waiting for this child to exec or exit. */
  vforkParent: Thread | null = null;
  /** Exit/usage accounting. */
  startNs = 0;
  /** Controlling terminal (inherited by fork, dropped by setsid). */
  ctty: Tty | null = null;
  /** Stopped by SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU until SIGCONT: its threads do not run. */
  stopped = false;
  /** What wait4 has still to report: WSTOPPED_STATUS(sig) after a stop, WCONTINUED_STATUS after a continue, or 0. */
  jobReport = 0;
  /** PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here. */
  subreaper = false;
  /**
   * PR_SET_PDEATHSIG: the signal this process gets when its parent exits (0: none). Cleared in a
   * forked child, kept across execve. (Linux keeps it per thread and sends it when the parent
   * *thread* exits; rvisor keeps it per process, see Kernel.finishProcess.)
   */
  pdeathsig = 0;
  /** PR_SET_DUMPABLE: SUID_DUMP_DISABLE (0) or SUID_DUMP_USER (1); inherited by fork, reset to 1 by execve. */
  dumpable = SUID_DUMP_USER;
  /** PR_SET_NO_NEW_PRIVS: once set, never cleared; inherited across fork and execve. */
  noNewPrivs = false;
  /** PR_SET_THP_DISABLE (Linux's MMF_DISABLE_THP): inherited by fork, kept across execve; rvisor has no huge pages. */
  thpDisable = false;
  /** Has called execve (a parent's setpgid on it fails with EACCES then). */
  execed = false;
  /** Runs a host-native program (host_exec.ts): signals sent to the process go to it. */
  hostChild: { kill(sig: number): void } | null = null;
  constructor(
    readonly pid: number,
    public parent: Process | null,
    public as: AddressSpace,
    public fds: FdTable,
    public sig: SignalHandlers,
    public cwd: string,
    public exe: string,
    public argv: string[],
  ) { this.pgid = parent?.pgid ?? pid; this.sid = parent?.sid ?? pid; }
  /** The last component of the path execve was given (Linux's comm: a symlink's name, not its target's). */
  commName: string | null = null;
  get comm(): string { const b = this.commName ?? this.exe.split("/").pop() ?? ""; return b.slice(0, 15); }
  get alive(): boolean { return this.status === null; }
}

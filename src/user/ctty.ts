// The guest terminal as processes see it: files open on it (TtyFile), the controlling terminal
// of a session (the first process's session has it; setsid drops it, TIOCSCTTY acquires it,
// TIOCNOTTY gives it up), the foreground process group (TIOCGPGRP/TIOCSPGRP) and job control:
// a background read raises SIGTTIN, a background write with TOSTOP or a background tcsetattr/
// tcsetpgrp raises SIGTTOU (drivers/tty/tty_jobctrl.c), EIO in an orphaned process group.
import type { Kernel } from "./kernel.js";
import { EAGAIN, EFAULT, EINVAL, EIO, ENOTTY, ENXIO, EPERM, ERESTARTSYS, ESRCH, O_RDWR, POLLIN, POLLOUT, S_IFCHR } from "../abi/linux.js";
import { OpenFile, fakeStat } from "./file.js";
import type { HostExecFd, HostStat } from "./host.js";
import { SIG_IGN, SIGCONT, SIGHUP, SIGTTIN, SIGTTOU, sigbit, type Process, type Thread } from "./task.js";
import { TERMIOS2_BYTES, TERMIOS_BYTES, TOSTOP, type Tty } from "./tty.js";

// ioctl requests (asm-generic/ioctls.h)
export const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCSBRK = 0x5409, TCXONC = 0x540a,
  TCFLSH = 0x540b, TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCOUTQ = 0x5411, TIOCGWINSZ = 0x5413,
  TIOCSWINSZ = 0x5414, FIONREAD = 0x541b, TIOCNOTTY = 0x5422, TIOCGETD = 0x5424, TIOCSBRK = 0x5427, TIOCCBRK = 0x5428,
  TIOCGSID = 0x5429, TCGETS2 = 0x802c542a, TCSETS2 = 0x402c542b, TCSETSW2 = 0x402c542c, TCSETSF2 = 0x402c542d;
const TCIFLUSH = 0, TCIOFLUSH = 2;
/** pts major 136, minor 0. */
const PTS0_INO = 3;
const PTS0_RDEV = 0x8800;

/** A file open on the guest terminal (fds 0-2 when the host's are terminals, /dev/tty). */
export class TtyFile extends OpenFile {
  constructor(readonly k: Kernel, readonly tty: Tty) {
    super();
    this.flags = O_RDWR;
    this.path = "/dev/pts/0";
  }
  /** The host's terminal itself (the kernel lends it to the program: host_exec.ts). */
  override hostExecFd(): HostExecFd { return { kind: "stdio", fd: this.k.ttyOut }; }
  override read(buf: Uint8Array): number {
    const t = this.k.current;
    if (t !== null) { const r = ttyCheckChange(this.k, t, this.tty, SIGTTIN); if (r !== 0) return r; }
    const n = this.tty.read(buf);
    return n === null ? -EAGAIN : n; // EAGAIN: the thread parks until input
  }
  override write(data: Uint8Array): number {
    const t = this.k.current;
    if (t !== null && (this.tty.lflag & TOSTOP) !== 0) { const r = ttyCheckChange(this.k, t, this.tty, SIGTTOU); if (r !== 0) return r; }
    this.tty.output(data);
    return this.k.host.term.write(this.k.ttyOut, data);
  }
  override poll(): number { return (this.tty.canRead() ? POLLIN : 0) | POLLOUT; }
  /** A stable inode, as devpts gives /dev/pts/0 (N + 3), so that ttyname's stat of /dev/pts/0 matches fstat of the fd. */
  override stat(): HostStat { const st = fakeStat(S_IFCHR | 0o620, 0, PTS0_RDEV); st.ino = PTS0_INO; return st; }
}

/** Whether `sig` is blocked by t or ignored by its process (is_ignored in tty_jobctrl.c). */
function ignored(t: Thread, sig: number): boolean {
  return (t.sigmask & sigbit(sig)) !== 0n || t.proc.sig.actions[sig].handler === SIG_IGN;
}

/**
 * __tty_check_change: a process of a background group touching its controlling terminal gets
 * `sig` sent to its group and the call restarts after it (-ERESTARTSYS); with the signal blocked
 * or ignored the call proceeds (SIGTTOU) or fails with EIO (SIGTTIN); an orphaned group gets EIO.
 */
export function ttyCheckChange(k: Kernel, t: Thread, tty: Tty, sig: number): number {
  const p = t.proc;
  if (p.ctty !== tty) return 0;
  const background = tty.released || (tty.pgrp !== 0 && p.pgid !== tty.pgrp);
  if (!background) return 0;
  if (ignored(t, sig)) return sig === SIGTTIN ? -EIO : 0;
  if (k.isOrphanedPgrp(p.pgid)) return -EIO;
  k.killProcessGroup(p.pgid, sig);
  return -ERESTARTSYS;
}

/**
 * The session leader gives up its controlling terminal (exit, or TIOCNOTTY): the foreground
 * group gets SIGHUP (and SIGCONT when it is not an exit), and no process of the session keeps
 * the terminal (disassociate_ctty).
 */
export function disassociateCtty(k: Kernel, leader: Process, onExit: boolean): void {
  const tty = leader.ctty;
  if (tty === null) return;
  if (tty.sid === leader.sid && tty.pgrp !== 0) {
    const pg = tty.pgrp;
    k.killProcessGroup(pg, SIGHUP);
    if (!onExit) k.killProcessGroup(pg, SIGCONT);
  }
  if (tty.sid === leader.sid) { tty.sid = 0; tty.pgrp = 0; }
  for (const p of k.procs.values()) if (p.sid === leader.sid) p.ctty = null;
}

/** The terminal requests of ioctl on a TtyFile; undefined for requests that are not the terminal's. */
export function ttyIoctl(k: Kernel, t: Thread, f: TtyFile, req: number, arg: number): number | undefined {
  const tty = f.tty, p = t.proc, as = p.as;
  switch (req) {
    case TCGETS: case TCGETS2:
      return as.write(arg, tty.termios(req === TCGETS ? TERMIOS_BYTES : TERMIOS2_BYTES)) ? 0 : -EFAULT;
    case TCSETS: case TCSETSW: case TCSETSF: case TCSETS2: case TCSETSW2: case TCSETSF2: {
      const b = as.read(arg, TERMIOS_BYTES);
      if (b === null) return -EFAULT;
      const r = ttyCheckChange(k, t, tty, SIGTTOU);
      if (r !== 0) return r;
      tty.setTermios(b, req === TCSETSF || req === TCSETSF2);
      return 0;
    }
    case TCFLSH: {
      const r = ttyCheckChange(k, t, tty, SIGTTOU);
      if (r !== 0) return r;
      const q = arg | 0;
      if (q < TCIFLUSH || q > TCIOFLUSH) return -EINVAL;
      if (q !== 1) tty.flushInput(); // TCOFLUSH: output is never queued here
      return 0;
    }
    case TCXONC: { const r = ttyCheckChange(k, t, tty, SIGTTOU); return r !== 0 ? r : 0; }
    case TCSBRK: case TIOCSBRK: case TIOCCBRK: return 0; // output is written synchronously: drained already
    case TIOCGWINSZ:
      return as.write(arg, new Uint8Array([tty.rows & 0xff, tty.rows >> 8, tty.cols & 0xff, tty.cols >> 8, 0, 0, 0, 0])) ? 0 : -EFAULT;
    case TIOCSWINSZ: {
      const b = as.read(arg, 8);
      if (b === null) return -EFAULT;
      const rows = b[0] | (b[1] << 8), cols = b[2] | (b[3] << 8);
      if (rows !== tty.rows || cols !== tty.cols) { tty.rows = rows; tty.cols = cols; k.winch(); }
      return 0;
    }
    case FIONREAD: return as.putU32(arg, tty.available()) ? 0 : -EFAULT;
    case TIOCOUTQ: return as.putU32(arg, 0) ? 0 : -EFAULT;
    case TIOCGETD: return as.putU32(arg, 0) ? 0 : -EFAULT; // N_TTY
    case TIOCGPGRP:
      // tiocgpgrp: only on one's own controlling terminal.
      if (p.ctty !== tty) return -ENOTTY;
      return as.putU32(arg, tty.pgrp) ? 0 : -EFAULT;
    case TIOCSPGRP: {
      const r = ttyCheckChange(k, t, tty, SIGTTOU);
      if (r !== 0) return r;
      if (p.ctty !== tty || tty.sid !== p.sid) return -ENOTTY;
      const v = as.u32(arg);
      if (v === null) return -EFAULT;
      const pg = v | 0;
      if (pg < 0) return -EINVAL;
      let found: Process | null = null;
      for (const q of k.procs.values()) if (q.alive && q.pgid === pg) { found = q; break; }
      if (found === null) return -ESRCH;
      if (found.sid !== p.sid) return -EPERM;
      tty.pgrp = pg;
      return 0;
    }
    case TIOCGSID:
      if (p.ctty !== tty || tty.sid === 0) return -ENOTTY;
      return as.putU32(arg, tty.sid) ? 0 : -EFAULT;
    case TIOCSCTTY: {
      // tiocsctty: a session leader without a controlling terminal takes one that no session has
      // (stealing one needs CAP_SYS_ADMIN, which the guest lacks).
      if (p.pid === p.sid && p.ctty === tty) return 0;
      if (p.pid !== p.sid || p.ctty !== null) return -EPERM;
      if (tty.sid !== 0) return -EPERM;
      tty.sid = p.sid; tty.pgrp = p.pgid; tty.released = false;
      p.ctty = tty;
      return 0;
    }
    case TIOCNOTTY:
      if (p.ctty !== tty) return -ENOTTY;
      if (p.pid === p.sid) disassociateCtty(k, p, false);
      else p.ctty = null;
      return 0;
  }
  return undefined;
}

/** open("/dev/tty"): the controlling terminal, ENXIO without one. */
export function openCtty(k: Kernel, p: Process): OpenFile | number {
  if (p.ctty === null) return -ENXIO;
  return new TtyFile(k, p.ctty);
}

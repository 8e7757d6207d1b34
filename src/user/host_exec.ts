// execve of a host-native program in the unconfined mode (guest paths are host paths). Under
// qemu-riscv64 such an execve goes to the host kernel, which runs the program natively in the
// same process; here the host runs it as a child process (UserHost.exec) and the guest process
// stands for it: same pid, its parent's wait4 reports the program's exit status or the signal
// that killed it, and signals sent to the pid go to the program. The program's descriptors are
// the guest's at execve (close-on-exec ones closed): host files and rvisor's own stdio are handed
// over as host descriptors; everything else (guest pipes, sockets, eventfds) is bridged through
// a host pipe whose other end this file copies to and from the guest's open file. Under --root
// and in containers (vfs.confined) execve of such a file fails with ENOEXEC, as on riscv64 Linux.
import type { Kernel } from "./kernel.js";
import { EAGAIN, ENOEXEC, ENOMEM, EPIPE, O_ACCMODE, O_PATH, O_RDONLY, O_WRONLY } from "../abi/linux.js";
import type { OpenFile } from "./file.js";
import type { HostChild, HostExecFd } from "./host.js";
import type { HostProgram } from "./loader.js";
import { AddressSpace } from "./memory.js";
import { NORET } from "./syscalls.js";
import { SIGKILL, SIGPIPE, Wait, sigbit, type Thread } from "./task.js";
import { commitExec } from "./exec.js";
import { TtyFile } from "./ctty.js";
import { HostFile } from "./vfs.js";

/** One bridged descriptor: a host pipe to the program on one side, the guest's open file on the other. */
interface Bridge {
  fd: number;
  file: OpenFile;
  /** The program reads what the guest file yields (until its end of file). */
  toChild: boolean;
  /** The program's writes go to the guest file. */
  fromChild: boolean;
  /** Input done: end of file passed on (or the program's side is gone). */
  inDone: boolean;
  /** The host pipe is full: wait for drained. */
  inBlocked: boolean;
  /** The program's output not yet taken by the guest file (a full guest pipe). */
  out: Uint8Array[];
  /** The program closed its side. */
  outEnded: boolean;
  paused: boolean;
  /** The guest side is gone (EPIPE and the like): further output is dropped. */
  broken: boolean;
}

/** Signals 1 to 64 (_NSIG). */
const MAX_SIGNAL = 64;

/** How much guest input one pass moves per descriptor (the host pipe then asks for more through drained). */
const BRIDGE_CHUNK = 65536;

/** Whether execve may hand a host-native program to the host (unconfined, with a host that runs processes). */
export function hostExecAllowed(k: Kernel): boolean { return !k.vfs.confined && k.host.exec !== undefined; }

/**
 * execve(prog) as a host process. The call blocks until the host has started it (a failure
 * returns the host's errno, the guest image untouched); then the process is committed as execve
 * commits (other threads end, memory is freed, close-on-exec descriptors close, a vfork parent
 * resumes) and its one thread stays parked, copying bridged data, until the program has exited
 * and its output has reached the guest: then the process exits with the program's status.
 */
export function execHost(k: Kernel, t: Thread, prog: HostProgram, env: string[], comm: string | null): number | Wait {
  const exec = k.host.exec;
  if (exec === undefined) return -ENOEXEC;
  const p = t.proc;
  const fds: (HostExecFd | null)[] = [];
  const bridges = new Map<number, Bridge>();
  const handles = new Map<number, HostFile>();
  let terminal = false;
  p.fds.files.forEach((f, fd) => {
    if (f === undefined || p.fds.cloexec[fd]) return;
    const d = f.hostExecFd();
    if (d !== null) {
      fds[fd] = d;
      if (d.kind === "handle" && f instanceof HostFile) handles.set(fd, f);
      if (f instanceof TtyFile) terminal = true;
      return;
    }
    const acc = f.flags & O_ACCMODE;
    const toChild = acc !== O_WRONLY, fromChild = acc !== O_RDONLY;
    if ((f.flags & O_PATH) !== 0) { fds[fd] = null; return; } // a location only: nothing to read or write
    fds[fd] = { kind: "bridge", toChild, fromChild };
    bridges.set(fd, {
      fd, file: f, toChild, fromChild, inDone: !toChild, inBlocked: false, out: [], outEnded: !fromChild, paused: false, broken: false,
    });
  });
  for (let fd = 0; fd < fds.length; fd++) if (fds[fd] === undefined) fds[fd] = null;

  let started: number | null = null;
  let exited: { status: number; offsets: Map<number, number> } | null = null;
  let state: "starting" | "running" | "done" = "starting";
  // Before the program starts: it may set up the terminal at once (stty), and keys typed from now
  // on are its own to read.
  if (terminal) k.lendTerminal();
  const child: HostChild = exec.spawn({ path: k.vfs.toHost(prog.path), argv: prog.argv, env, cwd: k.vfs.toHost(p.cwd), fds }, {
    started: (r) => { started = r; k.notify(); },
    data: (fd, chunk) => {
      const b = bridges.get(fd);
      if (b !== undefined && b.fromChild && !b.broken) b.out.push(chunk);
      k.notify();
    },
    end: (fd) => { const b = bridges.get(fd); if (b !== undefined) b.outEnded = true; k.notify(); },
    drained: (fd) => { const b = bridges.get(fd); if (b !== undefined) b.inBlocked = false; k.notify(); },
    exit: (status, offsets) => { exited = { status, offsets }; k.notify(); },
  });

  const buf = new Uint8Array(BRIDGE_CHUNK);
  /** Copies what can move now, both ways. */
  const pump = (): void => {
    for (const b of bridges.values()) {
      // Once the program has exited, nothing more is read from the guest for it.
      while (!b.inDone && !b.inBlocked && exited === null) {
        const n = b.file.read(buf, null);
        if (n === -EAGAIN) break;
        if (n <= 0) { b.inDone = true; child.endInput(b.fd); break; }
        if (!child.write(b.fd, buf.slice(0, n))) b.inBlocked = true;
      }
      while (b.out.length > 0) {
        const c = b.out[0];
        const n = b.file.write(c, null);
        if (n === -EAGAIN) break;
        if (n < 0) {
          // The guest's reader is gone. On Linux the program's write raises SIGPIPE: so it does
          // here (the bridge is a socket, whose writes would fail with ECONNRESET instead).
          b.broken = true; b.out.length = 0;
          if (n === -EPIPE) child.kill(SIGPIPE);
          child.close(b.fd);
          break;
        }
        if (n < c.length) b.out[0] = c.subarray(n); else b.out.shift();
      }
      const full = b.out.length > 0;
      if (full !== b.paused && !b.broken) { b.paused = full; if (full) child.pause(b.fd); else child.resume(b.fd); }
    }
  };

  /** execve's point of no return, once the host program runs. */
  const commit = (): boolean => {
    // An empty address space: the guest's memory goes, as the old image's does at execve.
    const as = AddressSpace.create(k.frames);
    if (as === null) { child.kill(SIGKILL); return false; }
    commitExec(k, t, as, prog.path, prog.argv, comm);
    p.hostChild = child;
    // Pending signals survive execve: the new program takes them.
    const pending = p.pending | t.pending;
    p.pending = 0n; t.pending = 0n; p.info.clear(); t.info.clear();
    for (let sig = 1; sig <= MAX_SIGNAL; sig++) if ((pending & sigbit(sig)) !== 0n) child.kill(sig);
    return true;
  };

  const finish = (status: number, offsets: Map<number, number>): void => {
    state = "done";
    for (const [fd, off] of offsets) { const f = handles.get(fd); if (f !== undefined) { f.pos = off; f.hostOffset = off; } }
    if (terminal) k.reclaimTerminal();
    p.hostChild = null;
    const sig = status & 0x7f;
    k.exitProcess(p, sig, (status >> 8) & 0xff);
  };

  const check = (): number | null => {
    if (state === "starting") {
      if (started === null) return null;
      if (started < 0 || !commit()) {
        state = "done";
        if (terminal) k.reclaimTerminal();
        return started < 0 ? started : -ENOMEM;
      }
      state = "running";
    }
    if (state !== "running") return null;
    pump();
    const ex: { status: number; offsets: Map<number, number> } | null = exited;
    if (ex !== null && [...bridges.values()].every((b) => b.out.length === 0 && (b.outEnded || b.broken))) finish(ex.status, ex.offsets);
    return null;
  };
  const cancel = (): void => {
    // The process was killed (SIGKILL, the end of the VM): so is the program.
    if (state === "done") return;
    if (terminal) k.reclaimTerminal();
    p.hostChild = null;
    state = "done";
    child.kill(SIGKILL);
  };
  return new Wait(check, Infinity, () => NORET, false, cancel, false);
}

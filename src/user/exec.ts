// execve's point of no return, shared by the two kinds of image a process can exec: a riscv64
// program (process.ts: sys_execve) and a host-native one (host_exec.ts).
import type { Kernel } from "./kernel.js";
import type { AddressSpace } from "./memory.js";
import { SIG_DFL, SIG_IGN, SUID_DUMP_USER, type Thread } from "./task.js";

/** sigaltstack's SS_DISABLE: execve drops the alternate signal stack. */
const SS_DISABLE = 2;

/**
 * The process of `t` becomes the new image: its other threads end, its old memory goes (`as` is
 * the new one), caught signals return to their default action (ignored ones stay ignored), a
 * shared descriptor table is unshared and close-on-exec descriptors close, and a vfork parent
 * resumes. `comm` is the last component of the path execve was given.
 */
export function commitExec(k: Kernel, t: Thread, as: AddressSpace, exe: string, argv: string[], comm: string | null): void {
  const p = t.proc;
  for (const o of [...p.threads]) if (o !== t) { o.clearTid = 0; k.exitThread(o, 0); }
  const old = p.as;
  old.detach(t.hart);
  if (--old.users === 0) old.destroy();
  p.as = as;
  as.attach(t.hart);
  p.exe = exe; p.argv = argv;
  p.commName = comm;
  p.execed = true;
  // begin_new_exec: the new mm is dumpable (no set-id programs here). PR_SET_PDEATHSIG,
  // PR_SET_NO_NEW_PRIVS and PR_SET_THP_DISABLE (an mm flag copied to the new mm) carry over.
  p.dumpable = SUID_DUMP_USER;
  p.sig = p.sig.clone();
  for (const act of p.sig.actions) if (act.handler !== SIG_IGN) { act.handler = SIG_DFL; act.flags = 0; act.mask = 0n; }
  if (p.fds.users > 1) { p.fds.users--; p.fds = p.fds.clone(); } // unshare a CLONE_FILES table
  p.fds.closeOnExec();
  t.clearTid = 0;
  t.altFlags = SS_DISABLE; t.altSp = 0; t.altSize = 0;
  if (p.vforkParent !== null) { p.vforkParent = null; k.notify(); }
}

// The system-call table (riscv64 uses Linux's generic numbering, asm-generic/unistd.h). Each
// entry records its status — supported, partial (with why) or unsupported (with why) — its
// strace argument format (d int, u unsigned, x hex, s string, o octal) and its handler.
// Unsupported calls that programs probe (rseq, io_uring_setup, ...) have a handler that answers
// ENOSYS quietly, as a kernel built without them does; calls with no handler at all answer
// ENOSYS too, with a warning under --strace or --verbose. `rvisor exec --syscalls` lists it all.
import { hex64 } from "../memory/hex.js";
import type { Kernel } from "./kernel.js";
import type { Thread, Wait } from "./task.js";
import * as fs from "./fs.js";
import * as mm from "./mm.js";
import * as pr from "./process.js";
import * as sg from "./signal.js";
import * as tm from "./time.js";
import * as pl from "./poll.js";
import * as nt from "./net.js";
import * as xa from "./xattr.js";
import * as hw from "./hwprobe.js";
import * as tfd from "./timerfd.js";
import * as sfd from "./signalfd.js";
import * as ino from "./inotify.js";
import * as mfd from "./memfd.js";
import * as pfd from "./pidfd.js";
import * as sch from "./sched.js";
import * as rb from "./robust.js";
import { ENOSYS } from "../abi/linux.js";

/** A handler's result when it has set the registers itself (exit, execve, rt_sigreturn). */
export const NORET = -0x1_0000_0001;

export type Handler = (k: Kernel, t: Thread, a: number[], pc: number) => number | Wait;
export type Status = "supported" | "partial" | "unsupported";
export interface SyscallEntry { nr: number; name: string; status: Status; why?: string; args: string; fn?: Handler }

export const SYSCALLS: (SyscallEntry | undefined)[] = [];

function def(nr: number, name: string, args: string, fn: Handler | undefined, status: Status = "supported", why?: string): void {
  SYSCALLS[nr] = { nr, name, args, fn, status: fn === undefined ? "unsupported" : status, why: fn === undefined ? why ?? "not implemented (ENOSYS)" : why };
}

/** A call answered with ENOSYS on purpose and without a warning: programs probe it and fall back. */
function enosys(nr: number, name: string, args: string, why: string): void {
  SYSCALLS[nr] = { nr, name, args, fn: () => -ENOSYS, status: "unsupported", why: `ENOSYS: ${why}` };
}

def(5, "setxattr", "ssxux", xa.sys_setxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(6, "lsetxattr", "ssxux", xa.sys_lsetxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(7, "fsetxattr", "dsxux", xa.sys_fsetxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(8, "getxattr", "ssxu", xa.sys_getxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(9, "lgetxattr", "ssxu", xa.sys_lgetxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(10, "fgetxattr", "dsxu", xa.sys_fgetxattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(11, "listxattr", "sxu", xa.sys_listxattr, "partial", "no extended attributes (an empty list)");
def(12, "llistxattr", "sxu", xa.sys_llistxattr, "partial", "no extended attributes (an empty list)");
def(13, "flistxattr", "dxu", xa.sys_flistxattr, "partial", "no extended attributes (an empty list)");
def(14, "removexattr", "ss", xa.sys_removexattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(15, "lremovexattr", "ss", xa.sys_lremovexattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(16, "fremovexattr", "ds", xa.sys_fremovexattr, "partial", "no extended attributes (EOPNOTSUPP, as a filesystem without them)");
def(17, "getcwd", "xu", fs.sys_getcwd);
def(19, "eventfd2", "ux", fs.sys_eventfd2);
def(20, "epoll_create1", "x", pl.sys_epoll_create1);
def(21, "epoll_ctl", "dddx", pl.sys_epoll_ctl, "partial", "EPOLLEXCLUSIVE and EPOLLWAKEUP accepted (one waiter is woken per event anyway); no ELOOP check of nested epolls");
def(22, "epoll_pwait", "dxddx", pl.sys_epoll_pwait);
def(23, "dup", "d", fs.sys_dup);
def(24, "dup3", "ddx", fs.sys_dup3);
def(25, "fcntl", "ddx", fs.sys_fcntl, "partial", "record locks always succeed (one kernel, no contention tracking)");
def(26, "inotify_init1", "x", ino.sys_inotify_init1);
def(27, "inotify_add_watch", "dsx", ino.sys_inotify_add_watch, "partial", "events for changes the guest makes through its own system calls; changes by host processes are not seen");
def(28, "inotify_rm_watch", "dd", ino.sys_inotify_rm_watch);
def(29, "ioctl", "dxx", fs.sys_ioctl, "partial", "terminal (termios, job control, window size; no IXON flow control or VTIME timers: tty.ts) and FIONREAD/FIONBIO requests only");
def(32, "flock", "dd", fs.sys_flock, "partial", "always granted");
def(33, "mknodat", "dsod", fs.sys_mknodat, "partial", "regular files only: FIFOs and socket nodes EPERM (no mknod in the host API), devices EPERM (no CAP_MKNOD)");
def(34, "mkdirat", "dso", fs.sys_mkdirat);
def(35, "unlinkat", "dsx", fs.sys_unlinkat);
def(36, "symlinkat", "sds", fs.sys_symlinkat);
def(37, "linkat", "dsdsx", fs.sys_linkat);
def(38, "renameat", "dsds", fs.sys_renameat);
def(39, "umount2", "sx", undefined, "unsupported", "no mounts (an unprivileged user: EPERM on Linux)");
def(40, "mount", "ssxxx", undefined, "unsupported", "no mounts (an unprivileged user: EPERM on Linux)");
def(43, "statfs", "sx", fs.sys_statfs, "partial", "fixed numbers");
def(44, "fstatfs", "dx", fs.sys_fstatfs, "partial", "fixed numbers");
def(45, "truncate", "sd", fs.sys_truncate);
def(46, "ftruncate", "dd", fs.sys_ftruncate);
def(47, "fallocate", "dddd", fs.sys_fallocate, "partial", "extends the file only");
def(48, "faccessat", "dsox", fs.sys_faccessat);
def(49, "chdir", "s", fs.sys_chdir);
def(50, "fchdir", "d", fs.sys_fchdir);
def(51, "chroot", "s", undefined, "unsupported", "not implemented (needs CAP_SYS_CHROOT on Linux)");
def(52, "fchmod", "do", fs.sys_fchmod);
def(53, "fchmodat", "dsox", fs.sys_fchmodat);
def(54, "fchownat", "dsddx", fs.sys_fchownat);
def(55, "fchown", "ddd", fs.sys_fchown);
def(56, "openat", "dsxo", fs.sys_openat);
def(57, "close", "d", fs.sys_close);
def(59, "pipe2", "xx", fs.sys_pipe2);
def(61, "getdents64", "dxu", fs.sys_getdents64);
def(62, "lseek", "ddd", fs.sys_lseek);
def(63, "read", "dxu", fs.sys_read);
def(64, "write", "dxu", fs.sys_write);
def(65, "readv", "dxd", fs.sys_readv);
def(66, "writev", "dxd", fs.sys_writev);
def(67, "pread64", "dxud", fs.sys_pread64);
def(68, "pwrite64", "dxud", fs.sys_pwrite64);
def(69, "preadv", "dxdd", fs.sys_preadv);
def(70, "pwritev", "dxdd", fs.sys_pwritev);
def(71, "sendfile", "ddxu", fs.sys_sendfile);
def(72, "pselect6", "dxxxxx", pl.sys_pselect6);
def(73, "ppoll", "xuxxu", pl.sys_ppoll);
def(74, "signalfd4", "dxux", sfd.sys_signalfd4);
def(78, "readlinkat", "dsxu", fs.sys_readlinkat);
def(79, "newfstatat", "dsxx", fs.sys_newfstatat);
def(80, "fstat", "dx", fs.sys_fstat);
def(81, "sync", "", fs.sys_sync);
def(82, "fsync", "d", fs.sys_fsync);
def(83, "fdatasync", "d", fs.sys_fsync);
def(85, "timerfd_create", "dx", tfd.sys_timerfd_create, "partial", "CLOCK_*_ALARM are EPERM (no CAP_WAKE_ALARM); absolute CLOCK_REALTIME expiries are fixed when set (the guest cannot set the clock)");
def(86, "timerfd_settime", "dxxx", tfd.sys_timerfd_settime);
def(87, "timerfd_gettime", "dx", tfd.sys_timerfd_gettime);
def(88, "utimensat", "dsxx", fs.sys_utimensat);
def(90, "capget", "xx", sch.sys_capget);
def(91, "capset", "xx", sch.sys_capset, "partial", "an unprivileged user: only empty sets");
def(93, "exit", "d", pr.sys_exit);
def(94, "exit_group", "d", pr.sys_exit_group);
def(95, "waitid", "ddxx", pr.sys_waitid);
def(96, "set_tid_address", "x", pr.sys_set_tid_address);
def(98, "futex", "xdux", pr.sys_futex);
def(99, "set_robust_list", "xu", rb.sys_set_robust_list);
def(100, "get_robust_list", "dxx", rb.sys_get_robust_list);
def(101, "nanosleep", "xx", tm.sys_nanosleep);
def(102, "getitimer", "dx", tm.sys_getitimer);
def(103, "setitimer", "dxx", tm.sys_setitimer, "partial", "ITIMER_VIRTUAL and ITIMER_PROF count wall time (no per-process CPU time is kept)");
def(113, "clock_gettime", "dx", tm.sys_clock_gettime);
def(114, "clock_getres", "dx", tm.sys_clock_getres);
def(115, "clock_nanosleep", "ddxx", tm.sys_clock_nanosleep);
def(118, "sched_setparam", "dx", pr.sys_zero, "partial", "ignored");
def(119, "sched_setscheduler", "ddx", pr.sys_zero, "partial", "ignored");
def(120, "sched_getscheduler", "d", pr.sys_zero);
def(121, "sched_getparam", "dx", pr.sys_zero, "partial", "nothing written");
def(122, "sched_setaffinity", "dux", sch.sys_sched_setaffinity, "partial", "checked, then ignored (every hart runs on one host thread)");
def(123, "sched_getaffinity", "dux", sch.sys_sched_getaffinity);
def(124, "sched_yield", "", pr.sys_sched_yield);
def(129, "kill", "dd", sg.sys_kill);
def(130, "tkill", "dd", sg.sys_tkill);
def(131, "tgkill", "ddd", sg.sys_tgkill);
def(132, "sigaltstack", "xx", sg.sys_sigaltstack);
def(133, "rt_sigsuspend", "xu", sg.sys_rt_sigsuspend);
def(134, "rt_sigaction", "dxxu", sg.sys_rt_sigaction);
def(135, "rt_sigprocmask", "dxxu", sg.sys_rt_sigprocmask);
def(136, "rt_sigpending", "xu", sg.sys_rt_sigpending);
def(137, "rt_sigtimedwait", "xxxu", sg.sys_rt_sigtimedwait);
def(139, "rt_sigreturn", "", sg.sys_rt_sigreturn);
def(140, "setpriority", "ddd", pr.sys_zero, "partial", "ignored");
def(141, "getpriority", "dd", () => 20);
def(144, "setgid", "d", pr.sys_setid, "partial", "only the current id");
def(146, "setuid", "d", pr.sys_setid, "partial", "only the current id");
def(147, "setresuid", "ddd", pr.sys_setid, "partial", "only the current id");
def(148, "getresuid", "xxx", pr.sys_getresuid);
def(149, "setresgid", "ddd", pr.sys_setid, "partial", "only the current id");
def(150, "getresgid", "xxx", pr.sys_getresgid);
def(153, "times", "x", pr.sys_times, "partial", "CPU times are zero");
def(154, "setpgid", "dd", pr.sys_setpgid);
def(155, "getpgid", "d", pr.sys_getpgid);
def(156, "getsid", "d", pr.sys_getsid);
def(157, "setsid", "", pr.sys_setsid);
def(158, "getgroups", "dx", pr.sys_getgroups);
def(159, "setgroups", "dx", pr.sys_zero, "partial", "ignored");
def(160, "uname", "x", pr.sys_uname);
def(163, "getrlimit", "dx", pr.sys_getrlimit);
def(164, "setrlimit", "dx", pr.sys_zero, "partial", "ignored");
def(165, "getrusage", "dx", pr.sys_getrusage, "partial", "zeros");
def(166, "umask", "o", fs.sys_umask);
def(168, "getcpu", "xxx", sch.sys_getcpu, "partial", "always CPU 0, node 0 (every hart runs on one host thread)");
def(167, "prctl", "dxxxx", pr.sys_prctl, "partial", "PR_SET/GET_NAME (name not changed), PDEATHSIG (sent at the parent process's exit), DUMPABLE, TIMERSLACK, CHILD_SUBREAPER, NO_NEW_PRIVS, THP_DISABLE (recorded only), PR_CAPBSET_READ; other options EINVAL");
def(169, "gettimeofday", "xx", tm.sys_gettimeofday);
def(172, "getpid", "", pr.sys_getpid);
def(173, "getppid", "", pr.sys_getppid);
def(174, "getuid", "", pr.sys_getuid);
def(175, "geteuid", "", pr.sys_getuid);
def(176, "getgid", "", pr.sys_getgid);
def(177, "getegid", "", pr.sys_getgid);
def(178, "gettid", "", pr.sys_gettid);
def(179, "sysinfo", "x", pr.sys_sysinfo);
def(198, "socket", "ddd", nt.sys_socket);
def(199, "socketpair", "dddx", nt.sys_socketpair);
def(200, "bind", "dxu", nt.sys_bind);
def(201, "listen", "dd", nt.sys_listen, "partial", "TCP/Unix listeners start at bind; Unix listen needs a bound name");
def(202, "accept", "dxx", nt.sys_accept);
def(203, "connect", "dxu", nt.sys_connect);
def(204, "getsockname", "dxx", nt.sys_getsockname);
def(205, "getpeername", "dxx", nt.sys_getpeername);
def(206, "sendto", "dxudxu", nt.sys_sendto, "partial", "MSG_OOB unsupported");
def(207, "recvfrom", "dxudxx", nt.sys_recvfrom, "partial", "MSG_OOB unsupported");
def(208, "setsockopt", "dddxu", nt.sys_setsockopt, "partial", "options are recorded; TCP_NODELAY, SO_KEEPALIVE, SO_BROADCAST, SO_RCVTIMEO/SNDTIMEO, IPV6_V6ONLY take effect");
def(209, "getsockopt", "dddxx", nt.sys_getsockopt, "partial", "recorded values and defaults; SO_ERROR, SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_PEERCRED are live");
def(210, "shutdown", "dd", nt.sys_shutdown);
def(211, "sendmsg", "dxd", nt.sys_sendmsg, "partial", "SCM_RIGHTS between in-kernel Unix sockets only");
def(212, "recvmsg", "dxd", nt.sys_recvmsg, "partial", "SCM_RIGHTS between in-kernel Unix sockets only");
def(214, "brk", "x", mm.sys_brk);
def(215, "munmap", "xu", mm.sys_munmap);
def(216, "mremap", "xuudx", mm.sys_mremap);
def(220, "clone", "xxxxx", pr.sys_clone);
def(221, "execve", "sxx", pr.sys_execve);
def(222, "mmap", "xudxdd", mm.sys_mmap, "partial", "shared file mappings are written back at munmap/msync/exit");
def(223, "fadvise64", "dddd", pr.sys_zero);
def(226, "mprotect", "xud", mm.sys_mprotect);
def(227, "msync", "xud", mm.sys_msync);
def(228, "mlock", "xu", mm.sys_mlock);
def(229, "munlock", "xu", mm.sys_mlock);
def(232, "mincore", "xux", mm.sys_mincore);
def(233, "madvise", "xud", mm.sys_madvise, "partial", "MADV_DONTNEED/MADV_FREE free the pages (read back as zero); other advice is accepted and ignored");
def(242, "accept4", "dxxx", nt.sys_accept4);
def(258, "riscv_hwprobe", "xuuxx", hw.sys_riscv_hwprobe, "partial", "no vDSO, so every probe is this system call");
def(259, "riscv_flush_icache", "xxx", pr.sys_zero);
def(260, "wait4", "dxdx", pr.sys_wait4);
def(261, "prlimit64", "ddxx", pr.sys_prlimit64, "partial", "fixed limits; setting is ignored");
def(276, "renameat2", "dsdsx", fs.sys_renameat2);
def(278, "getrandom", "xux", pr.sys_getrandom);
def(279, "memfd_create", "sx", mfd.sys_memfd_create, "partial", "MFD_HUGETLB is EINVAL (no huge pages)");
def(281, "execveat", "dsxxx", undefined);
def(285, "copy_file_range", "dxdxux", fs.sys_copy_file_range, "partial", "copies through a buffer, at most 1 MiB per call (a short count, as allowed)");
def(283, "membarrier", "dd", sch.sys_membarrier);
def(291, "statx", "dsxxx", fs.sys_statx);
enosys(293, "rseq", "xudx", "no restartable sequences (glibc then runs without them, as on a kernel without CONFIG_RSEQ)");
def(424, "pidfd_send_signal", "ddxx", pfd.sys_pidfd_send_signal);
enosys(425, "io_uring_setup", "ux", "no io_uring (programs fall back to epoll/threads, as with io_uring disabled)");
enosys(426, "io_uring_enter", "duux", "no io_uring");
enosys(427, "io_uring_register", "dudx", "no io_uring");
def(434, "pidfd_open", "dx", pfd.sys_pidfd_open);
def(435, "clone3", "xu", pr.sys_clone3);
def(436, "close_range", "uux", fs.sys_close_range);
def(438, "pidfd_getfd", "ddx", pfd.sys_pidfd_getfd);
def(439, "faccessat2", "dsox", fs.sys_faccessat2);
def(441, "epoll_pwait2", "dxdxx", pl.sys_epoll_pwait2);
enosys(444, "landlock_create_ruleset", "xux", "no Landlock (as a kernel built without it)");
enosys(445, "landlock_add_rule", "ddxx", "no Landlock");
enosys(446, "landlock_restrict_self", "dx", "no Landlock");
def(452, "fchmodat2", "dsox", fs.sys_fchmodat2);

const AT_FDCWD = -100;

/** qemu-style `name(args)` for --strace. */
export function formatCall(_k: Kernel, t: Thread, nr: number, a: number[]): string {
  const e = SYSCALLS[nr];
  if (e === undefined) return `syscall_${nr}(${a.slice(0, 6).map((v) => hex(v)).join(",")})`;
  const parts: string[] = [];
  for (let i = 0; i < e.args.length; i++) {
    const v = a[i];
    switch (e.args[i]) {
      case "d": parts.push((v | 0) === AT_FDCWD && i === 0 ? "AT_FDCWD" : String(v | 0)); break;
      case "u": parts.push(unsigned(v)); break;
      case "o": parts.push("0" + (v >>> 0).toString(8)); break;
      case "s": {
        if (v === 0) { parts.push("NULL"); break; }
        const s = t.proc.as.cstring(v, 256);
        parts.push(s === null ? hex(v) : JSON.stringify(s));
        break;
      }
      default: parts.push(hex(v));
    }
  }
  return `${e.name}(${parts.join(",")})`;
}

/** Register values are signed numbers; strace shows them as the unsigned 64-bit word. */
const hex = hex64;
function unsigned(v: number): string { return v < 0 ? (2n ** 64n + BigInt(Math.trunc(v))).toString() : String(v); }

/** Every entry in number order (for `rvisor exec --syscalls`). */
export function syscallEntries(): SyscallEntry[] {
  return SYSCALLS.filter((e): e is SyscallEntry => e !== undefined);
}

/** The table as text: one line per call (number, name, status, why), then the counts. */
export function syscallTable(): string {
  const rows = syscallEntries();
  const w = Math.max(...rows.map((e) => e.name.length));
  const lines = rows.map((e) => `${String(e.nr).padStart(3)}  ${e.name.padEnd(w)}  ${e.status.padEnd(11)}${e.why !== undefined ? "  " + e.why : ""}`.trimEnd());
  const c = coverage();
  lines.push(`${rows.length} calls: ${c.supported} supported, ${c.partial} partial, ${c.unsupported} unsupported (others: ENOSYS)`);
  return lines.join("\n") + "\n";
}

/** Counts by status (for reports and tests). */
export function coverage(): Record<Status, number> {
  const c: Record<Status, number> = { supported: 0, partial: 0, unsupported: 0 };
  for (const e of SYSCALLS) if (e !== undefined) c[e.status]++;
  return c;
}

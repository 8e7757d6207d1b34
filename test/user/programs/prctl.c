// prctl options beyond names and subreapers: PR_SET/GET_PDEATHSIG (with a real parent death),
// PR_GET/SET_DUMPABLE, PR_SET/GET_NO_NEW_PRIVS and PR_SET/GET_TIMERSLACK: results, errors and
// what fork and threads inherit. Without arguments the output is compared with qemu-riscv64's.
// "rvisor" runs the rest, which qemu-user cannot: PR_SET/GET_THP_DISABLE and a subreaper
// (qemu refuses both with EINVAL), arguments past 32 bits, and what execve keeps (qemu-user
// without binfmt cannot exec a riscv64 program).
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/** The raw system call (every argument an unsigned long): the result or -errno. */
static long P(unsigned long op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
  long r = syscall(SYS_prctl, op, a2, a3, a4, a5);
  return r == -1 ? -errno : r;
}

static void show(const char *what, long r) {
  if (r == -EINVAL) printf("%s = -EINVAL\n", what);
  else if (r == -EFAULT) printf("%s = -EFAULT\n", what);
  else printf("%s = %ld\n", what, r);
}

static int pdeathsig(void) { int s = -1; long r = P(PR_GET_PDEATHSIG, (unsigned long)&s, 0, 0, 0); return r < 0 ? (int)r : s; }

/** Runs f in a forked child and waits for it (its output goes first). */
static void in_child(void (*f)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { f(); fflush(stdout); _exit(0); }
  int st; waitpid(p, &st, 0);
}

static void child_pdeathsig(void) { printf("fork child: pdeathsig %d\n", pdeathsig()); }
static void child_dumpable(void) { show("fork child: PR_GET_DUMPABLE", P(PR_GET_DUMPABLE, 0, 0, 0, 0)); }
static void child_nnp(void) { show("fork child: PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)); }
static void child_thp(void) { show("fork child: PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0)); }
static void child_slack(void) {
  show("fork child: PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  P(PR_SET_TIMERSLACK, 0, 0, 0, 0);
  show("fork child: after PR_SET_TIMERSLACK 0", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
}

static void test_pdeathsig(void) {
  printf("pdeathsig %d\n", pdeathsig());
  show("PR_SET_PDEATHSIG 65", P(PR_SET_PDEATHSIG, 65, 0, 0, 0));
  show("PR_SET_PDEATHSIG ULONG_MAX", P(PR_SET_PDEATHSIG, ~0UL, 0, 0, 0));
  show("PR_SET_PDEATHSIG SIGUSR1", P(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0));
  printf("pdeathsig %d\n", pdeathsig());
  show("PR_GET_PDEATHSIG to a bad pointer", P(PR_GET_PDEATHSIG, 8, 0, 0, 0));
  in_child(child_pdeathsig);
  show("PR_SET_PDEATHSIG 0", P(PR_SET_PDEATHSIG, 0, 0, 0, 0));
  printf("pdeathsig %d\n", pdeathsig());
}

static volatile sig_atomic_t got_sig, got_code;
static volatile pid_t got_pid;
static int marker_fd = -1;

static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got_sig = sig; got_pid = si->si_pid; got_code = si->si_code;
  static const char m[] = "handler: SIGUSR1 arrived\n";
  write(marker_fd, m, sizeof m - 1);
}

/**
 * This process (A) forks B; B forks C, which asks for SIGUSR1 at its parent's death and says
 * when it is armed; B then exits. C's handler writes a marker into a pipe that A reads to its
 * end (C holds the last write end); C reports what it got. With `subreaper` (not under
 * qemu-riscv64, which refuses PR_SET_CHILD_SUBREAPER), A adopts C and reaps it.
 */
static void test_parent_death(int subreaper) {
  pid_t a = getpid();
  if (subreaper) P(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int out[2], ready[2];
  if (pipe(out) != 0 || pipe(ready) != 0) { perror("pipe"); exit(1); }
  fflush(stdout);
  pid_t b = fork();
  if (b == 0) {
    pid_t bpid = getpid();
    close(out[0]);
    pid_t c = fork();
    if (c == 0) {
      close(ready[0]);
      marker_fd = out[1];
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = on_usr1; sa.sa_flags = SA_SIGINFO;
      sigaction(SIGUSR1, &sa, NULL);
      sigset_t blk, old;
      sigemptyset(&blk); sigaddset(&blk, SIGUSR1);
      sigprocmask(SIG_BLOCK, &blk, &old);
      if (P(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) != 0 || getppid() != bpid) { dprintf(out[1], "grandchild: not armed\n"); _exit(1); }
      write(ready[1], "r", 1);
      close(ready[1]);
      alarm(20);
      while (!got_sig) sigsuspend(&old);
      dprintf(out[1], "grandchild: signal %d, si_pid is the dead parent's %s, si_code %d\n",
              (int)got_sig, got_pid == bpid ? "yes" : "no", (int)got_code);
      // Not under qemu-riscv64: B's first thread exits first, and the signal comes while C is
      // reparented to qemu's other (RCU) thread of B, so getppid() may still be B for a while.
      if (subreaper) dprintf(out[1], "grandchild: adopted by the subreaper %s\n", getppid() == a ? "yes" : "no");
      _exit(0);
    }
    close(out[1]); close(ready[1]);
    char ch;
    if (read(ready[0], &ch, 1) != 1) _exit(2);
    _exit(3);
  }
  close(out[1]); close(ready[1]); close(ready[0]);
  int st;
  waitpid(b, &st, 0);
  printf("parent of the grandchild exited, code %d\n", WEXITSTATUS(st));
  char buf[512];
  size_t t = 0;
  ssize_t n;
  while (t < sizeof buf - 1 && (n = read(out[0], buf + t, sizeof buf - 1 - t)) > 0) t += (size_t)n;
  buf[t] = 0;
  close(out[0]);
  fputs(buf, stdout);
  if (subreaper) {
    pid_t c = waitpid(-1, &st, 0);
    printf("reaped the grandchild %s, code %d\n", c > 0 && c != b ? "yes" : "no", WEXITSTATUS(st));
    P(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  }
}

static void test_dumpable(void) {
  show("PR_GET_DUMPABLE", P(PR_GET_DUMPABLE, 0, 0, 0, 0));
  show("PR_SET_DUMPABLE 2", P(PR_SET_DUMPABLE, 2, 0, 0, 0));
  show("PR_SET_DUMPABLE ULONG_MAX", P(PR_SET_DUMPABLE, ~0UL, 0, 0, 0));
  show("PR_SET_DUMPABLE 0", P(PR_SET_DUMPABLE, 0, 0, 0, 0));
  show("PR_GET_DUMPABLE", P(PR_GET_DUMPABLE, 0, 0, 0, 0));
  in_child(child_dumpable);
  show("PR_SET_DUMPABLE 1", P(PR_SET_DUMPABLE, 1, 0, 0, 0));
  show("PR_GET_DUMPABLE", P(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

static void test_no_new_privs(void) {
  show("PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_GET_NO_NEW_PRIVS arg2=1", P(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  show("PR_GET_NO_NEW_PRIVS arg5=1", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 1));
  show("PR_SET_NO_NEW_PRIVS 0", P(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 2", P(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 1 arg3=1", P(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 1 arg4=1", P(PR_SET_NO_NEW_PRIVS, 1, 0, 1, 0));
  show("PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 1", P(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  show("PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 1 again", P(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  show("PR_SET_NO_NEW_PRIVS 0 (no clearing)", P(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  in_child(child_nnp);
}

static void *thread_slack(void *arg) {
  (void)arg;
  show("thread: PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  P(PR_SET_TIMERSLACK, 999, 0, 0, 0);
  show("thread: after PR_SET_TIMERSLACK 999", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  P(PR_SET_TIMERSLACK, 0, 0, 0, 0);
  show("thread: after PR_SET_TIMERSLACK 0", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  fflush(stdout);
  return NULL;
}

static void test_timerslack(void) {
  show("PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  show("PR_SET_TIMERSLACK 123456", P(PR_SET_TIMERSLACK, 123456, 0, 0, 0));
  show("PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  pthread_t th;
  fflush(stdout);
  pthread_create(&th, NULL, thread_slack, NULL);
  pthread_join(th, NULL);
  show("PR_GET_TIMERSLACK after the thread", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  in_child(child_slack);
  show("PR_SET_TIMERSLACK 2^30", P(PR_SET_TIMERSLACK, 1UL << 30, 0, 0, 0));
  show("PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  show("PR_SET_TIMERSLACK 0", P(PR_SET_TIMERSLACK, 0, 0, 0, 0));
  show("PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
}

static void test_thp(void) {
  show("PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  show("PR_GET_THP_DISABLE arg2=1", P(PR_GET_THP_DISABLE, 1, 0, 0, 0));
  show("PR_GET_THP_DISABLE arg4=1", P(PR_GET_THP_DISABLE, 0, 0, 1, 0));
  show("PR_SET_THP_DISABLE 1 arg3=1", P(PR_SET_THP_DISABLE, 1, 1, 0, 0));
  show("PR_SET_THP_DISABLE 1 arg5=1", P(PR_SET_THP_DISABLE, 1, 0, 0, 1));
  show("PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  show("PR_SET_THP_DISABLE 7", P(PR_SET_THP_DISABLE, 7, 0, 0, 0));
  show("PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  in_child(child_thp);
  show("PR_SET_THP_DISABLE 0", P(PR_SET_THP_DISABLE, 0, 0, 0, 0));
  show("PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0));
}

/** /proc/self/status lines that start with `key`. */
static void status_line(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) if (strncmp(line, key, strlen(key)) == 0) fputs(line, stdout);
  if (f != NULL) fclose(f);
}

static void after_exec(void) {
  printf("after execve: pdeathsig %d\n", pdeathsig());
  show("after execve: PR_GET_DUMPABLE", P(PR_GET_DUMPABLE, 0, 0, 0, 0));
  show("after execve: PR_GET_NO_NEW_PRIVS", P(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show("after execve: PR_GET_THP_DISABLE", P(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  show("after execve: PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  status_line("THP_enabled:");
  status_line("NoNewPrivs:");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "after-exec") == 0) { after_exec(); return 0; }
  if (argc > 1 && strcmp(argv[1], "rvisor") == 0) {
    test_thp();
    // qemu-user truncates these to int: the signal (target_to_host_signal) and the result (host glibc's prctl).
    show("PR_SET_PDEATHSIG 2^32+10", P(PR_SET_PDEATHSIG, (1UL << 32) + SIGUSR1, 0, 0, 0));
    printf("pdeathsig %d\n", pdeathsig());
    show("PR_SET_TIMERSLACK 2^40", P(PR_SET_TIMERSLACK, 1UL << 40, 0, 0, 0));
    show("PR_GET_TIMERSLACK", P(PR_GET_TIMERSLACK, 0, 0, 0, 0));
    P(PR_SET_TIMERSLACK, 0, 0, 0, 0);
    test_parent_death(1);
    // What execve keeps (pdeathsig, no_new_privs, THP-disable, timer slack) and resets (dumpable),
    // in a child, whose parent (this process) waits and so sends no death signal.
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      P(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
      P(PR_SET_DUMPABLE, 0, 0, 0, 0);
      P(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      P(PR_SET_THP_DISABLE, 1, 0, 0, 0);
      P(PR_SET_TIMERSLACK, 777, 0, 0, 0);
      char *av[] = {argv[0], "after-exec", NULL};
      execv("/proc/self/exe", av);
      _exit(99);
    }
    int st; waitpid(p, &st, 0);
    printf("execve child code %d\n", WEXITSTATUS(st));
    status_line("THP_enabled:");
    status_line("NoNewPrivs:");
    return 0;
  }
  test_pdeathsig();
  test_parent_death(0);
  test_dumpable();
  test_timerslack();
  test_no_new_privs();
  return 0;
}

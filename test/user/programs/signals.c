// Signals: handlers, masks, sigaltstack, SIGCHLD, kill to self, SIGPIPE, SIGFPE-less division.
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <errno.h>

static volatile int got_usr1 = 0, got_chld = 0, got_pipe = 0, on_alt = 0;
static char altstack[65536];
static void h_usr1(int s) { got_usr1 += s; }
static void h_chld(int s) { (void)s; got_chld++; }
static void h_pipe(int s) { (void)s; got_pipe++; }
static void h_alt(int s, siginfo_t *si, void *uc) {
  (void)s; (void)uc; char x; on_alt = (&x >= altstack && &x < altstack + sizeof altstack);
  if (si->si_code != SI_TKILL && si->si_code != SI_USER) on_alt = -1;
}

int main(void) {
  signal(SIGUSR1, h_usr1);
  kill(getpid(), SIGUSR1);
  printf("usr1 %d\n", got_usr1);
  sigset_t set, old;
  sigemptyset(&set); sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR1);
  printf("blocked %d\n", got_usr1);
  sigset_t pend; sigpending(&pend);
  printf("pending %d\n", sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked %d\n", got_usr1);
  stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
  sigaltstack(&ss, NULL);
  struct sigaction sa = {0};
  sa.sa_sigaction = h_alt; sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGUSR2, &sa, NULL);
  raise(SIGUSR2);
  printf("altstack %d\n", on_alt);
  signal(SIGCHLD, h_chld);
  pid_t p = fork();
  if (p == 0) _exit(0);
  while (!got_chld) pause();
  waitpid(p, NULL, 0);
  printf("sigchld %d\n", got_chld);
  signal(SIGPIPE, h_pipe);
  int fds[2]; pipe(fds); close(fds[0]);
  ssize_t r = write(fds[1], "x", 1);
  printf("sigpipe %d write %zd errno %d\n", got_pipe, r, errno);
  double d = 1.0 / (got_pipe - 1);
  printf("fdiv %f\n", d);
  signal(SIGALRM, SIG_DFL);
  fflush(stdout);
  p = fork();
  if (p == 0) { signal(SIGINT, SIG_IGN); kill(getpid(), SIGINT); abort(); }
  int st; waitpid(p, &st, 0);
  printf("abort child sig %d\n", WTERMSIG(st));
  return 0;
}

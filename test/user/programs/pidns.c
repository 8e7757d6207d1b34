// pid namespace behaviour (rvisor containers): run as the first process it prints its pid, then
// an orphan's new parent, whether signals without a handler reach pid 1, and how many children
// it can fork before fork fails (and with which errno).
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  printf("pid %d\n", getpid());
  fflush(stdout);
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    pid_t grand = fork();
    if (grand == 0) {
      close(pipefd[0]);
      while (getppid() != 1 && getppid() != 0) usleep(1000); // until the child has exited
      char buf[64];
      int n = snprintf(buf, sizeof buf, "orphan parent %d\n", getppid());
      write(pipefd[1], buf, n);
      _exit(0);
    }
    _exit(0);
  }
  close(pipefd[1]);
  char buf[64];
  ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
  if (n > 0) { buf[n] = 0; fputs(buf, stdout); }
  fflush(stdout); // the next kill may end the process (outside a pid namespace)
  while (wait(NULL) > 0) {}
  // Signals from inside the namespace that pid 1 has no handler for.
  kill(getpid(), SIGTERM);
  kill(getpid(), SIGKILL);
  printf("survived kill\n");
  int forks = 0;
  pid_t kids[64];
  for (; forks < 64; forks++) {
    pid_t p = fork();
    if (p == 0) { pause(); _exit(0); }
    if (p < 0) { printf("fork failed: %s\n", strerror(errno)); break; }
    kids[forks] = p;
  }
  printf("forked %d\n", forks);
  for (int i = 0; i < forks; i++) kill(kids[i], SIGKILL);
  while (wait(NULL) > 0) {}
  return 0;
}

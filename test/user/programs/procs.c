// fork, execve, wait4/waitpid, exit codes, death by signal, pipes between processes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) { printf("exec'd child %s\n", argv[2]); return 42; }
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { printf("in child\n"); fflush(stdout); _exit(7); }
  int st;
  waitpid(p, &st, 0);
  printf("child exited %d code %d\n", WIFEXITED(st), WEXITSTATUS(st));
  int fds[2]; pipe(fds);
  p = fork();
  if (p == 0) { close(fds[0]); dup2(fds[1], 1); printf("child via pipe\n"); fflush(stdout); _exit(42); }
  close(fds[1]);
  char buf[128]; ssize_t n, t = 0;
  while ((n = read(fds[0], buf + t, sizeof buf - 1 - t)) > 0) t += n;
  buf[t] = 0;
  waitpid(p, &st, 0);
  printf("got: %s", buf);
  printf("pipe child code %d\n", WEXITSTATUS(st));
  p = fork();
  if (p == 0) { raise(SIGTERM); _exit(0); }
  waitpid(p, &st, 0);
  printf("signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  p = vfork();
  if (p == 0) _exit(5);
  waitpid(p, &st, 0);
  printf("vfork code %d\n", WEXITSTATUS(st));
  printf("wait none %d\n", wait(NULL));
  return 0;
}

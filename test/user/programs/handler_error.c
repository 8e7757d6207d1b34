// A system call whose handler fails inside rvisor (the test installs one that throws at number
// 424) ends only the calling process; its parent sees it killed and goes on.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void) {
  pid_t c = fork();
  if (c == 0) { syscall(424, 0, 0, 0, 0); _exit(0); }
  int st = 0;
  waitpid(c, &st, 0);
  printf("child %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed" : "exited");
  return 0;
}

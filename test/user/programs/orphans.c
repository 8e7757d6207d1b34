// Orphans: a child's children outlive it; with PR_SET_CHILD_SUBREAPER they are reparented to
// this process, which reaps them.
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  int r = prctl(PR_SET_CHILD_SUBREAPER, 1);
  int v = -1;
  prctl(PR_GET_CHILD_SUBREAPER, &v);
  printf("subreaper %d %d\n", r, v);
  fflush(stdout);
  pid_t me = getpid();
  pid_t c = fork();
  if (c == 0) {
    if (fork() == 0) {
      usleep(200000); // the middle process is gone by now
      printf("grandchild adopted by the subreaper %d\n", getppid() == me);
      fflush(stdout);
      _exit(5);
    }
    _exit(1);
  }
  int s, n = 0;
  pid_t w;
  while ((w = wait(&s)) > 0) printf("reaped %s, code %d\n", w == c ? "child" : "grandchild", WEXITSTATUS(s)), n++;
  printf("reaped %d\n", n);
  return 0;
}

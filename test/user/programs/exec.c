// execve of a riscv64 program (run under rvisor only: qemu-user without binfmt cannot exec it).
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  if (argc > 1) { printf("exec'd %s %s\n", argv[1], getenv("RVX") ? getenv("RVX") : "-"); return 42; }
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { char *env[] = {"RVX=yes", NULL}; char *av[] = {argv[0], "child", NULL}; execve("/proc/self/exe", av, env); _exit(99); }
  int st; waitpid(p, &st, 0);
  printf("code %d\n", WEXITSTATUS(st));
  return 0;
}

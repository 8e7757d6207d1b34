// execve of host-native programs (the unconfined mode: as under qemu-riscv64, which hands them to
// the host kernel) and of the same files under --root (ENOEXEC, as on a riscv64 machine).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *env[] = {"RVX=from-guest", "PATH=/usr/bin:/bin", "LC_ALL=C", NULL};

static void report(int st) {
  if (WIFEXITED(st)) printf("exit %d\n", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("signal %d\n", WTERMSIG(st));
  else printf("status %#x\n", st);
}

/** fork + execve(argv[0]); the child's status. */
static int run(char **av) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { execve(av[0], av, env); printf("execve %s: errno %d (%s)\n", av[0], errno, strerror(errno)); fflush(stdout); _exit(127); }
  int st; waitpid(p, &st, 0);
  return st;
}

static void file_offsets(void) {
  // The host program writes where the guest's shared offset is, and the guest goes on after it.
  int fd = open("offsets.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char *echo_a[] = {"/bin/echo", "A", NULL}, *echo_b[] = {"/bin/echo", "B", NULL};
  fflush(stdout);
  int saved = dup(1);
  dup2(fd, 1);
  report(run(echo_a));
  write(fd, "guest\n", 6);
  report(run(echo_b));
  write(fd, "end\n", 4);
  dup2(saved, 1);
  close(fd);
  char buf[256] = {0};
  fd = open("offsets.txt", O_RDONLY);
  read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("file:\n%s", buf);
}

static void pipeline(void) {
  // guest writer → pipe → host tr → pipe → guest reader. The reader starts once the writer is
  // done: ~100 KiB fit in the pipes and tr's buffers (on Linux as here), but not in the pipe to
  // the reader alone, so tr's output has to wait for the reader (here: backpressure on the bridge).
  int a[2], b[2];
  pipe(a); pipe(b);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    dup2(a[0], 0); dup2(b[1], 1);
    close(a[0]); close(a[1]); close(b[0]); close(b[1]);
    char *av[] = {"/usr/bin/tr", "a-z", "A-Z", NULL};
    execve(av[0], av, env);
    _exit(127);
  }
  close(a[0]); close(b[1]);
  pid_t w = fork();
  if (w == 0) {
    close(b[0]);
    for (int i = 0; i < 3500; i++) { char line[64]; int n = snprintf(line, sizeof line, "line %d of the riscv64 side\n", i); write(a[1], line, n); }
    _exit(0);
  }
  close(a[1]);
  int wst; waitpid(w, &wst, 0);
  char buf[4096]; long total = 0, lines = 0; int n; char last[64] = {0};
  while ((n = read(b[0], buf, sizeof buf)) > 0) {
    for (int i = 0; i < n; i++) if (buf[i] == '\n') lines++;
    total += n;
    if (n >= 28) memcpy(last, buf + n - 28, 28);
  }
  close(b[0]);
  printf("pipeline: %ld bytes, %ld lines, ends with %s", total, lines, last);
  int st; waitpid(p, &st, 0);
  report(st);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *mode = argv[1];
  if (strcmp(mode, "run") == 0) { report(run(argv + 2)); return 0; }
  if (strcmp(mode, "direct") == 0) { fflush(stdout); execve(argv[2], argv + 2, env); printf("execve: errno %d (%s)\n", errno, strerror(errno)); return 127; }
  if (strcmp(mode, "cwd") == 0) { chdir("/tmp"); char *av[] = {"/bin/pwd", NULL}; report(run(av)); return 0; }
  if (strcmp(mode, "pipeline") == 0) { pipeline(); return 0; }
  if (strcmp(mode, "offsets") == 0) { file_offsets(); return 0; }
  if (strcmp(mode, "kill") == 0) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { char *av[] = {"/bin/sleep", "10", NULL}; execve(av[0], av, env); _exit(127); }
    usleep(200000);
    kill(p, SIGTERM);
    int st; waitpid(p, &st, 0);
    report(st);
    return 0;
  }
  return 2;
}

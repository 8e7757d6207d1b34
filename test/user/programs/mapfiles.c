// File mappings and the files they hold open (mm/mmap.c: a VMA holds a reference to its file
// from mmap until its last page is unmapped): many open/mmap/close/munmap cycles exhaust nothing,
// a mapping outlives close(), both halves of a split mapping keep it, a forked child's copy
// keeps it after the parent unmaps, and a mapped memfd keeps its pages until the mapping goes.
// test/user_mapfiles.test.ts runs it under a low RLIMIT_NOFILE, against qemu-riscv64.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  for (struct dirent *e; (e = readdir(d)) != NULL;) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; // the directory's own fd
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *path = argv[1];
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  char page[4096];
  for (int i = 0; i < 3; i++) { memset(page, 'a' + i, sizeof page); if (write(fd, page, sizeof page) != sizeof page) return 3; }
  close(fd);
  int base = open_fds();

  // More cycles than the test's RLIMIT_NOFILE: each munmap must let the file go.
  for (int i = 0; i < 2000; i++) {
    int f = open(path, O_RDONLY);
    if (f < 0) { printf("open failed at %d\n", i); return 1; }
    char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE, f, 0);
    if (p == MAP_FAILED) { printf("mmap failed at %d\n", i); return 1; }
    close(f);
    if (p[4096 * (i % 3)] != 'a' + i % 3) { printf("bad byte at %d\n", i); return 1; }
    munmap(p, 3 * 4096);
  }
  printf("cycles ok, fds %d\n", open_fds() - base);

  // A mapping outlives close(); unmapping its middle page leaves two areas that both keep the file.
  int f = open(path, O_RDONLY);
  char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE, f, 0);
  close(f);
  munmap(p + 4096, 4096);
  printf("split %c %c\n", p[0], p[2 * 4096 + 17]);

  // A forked child's copy keeps the file after the parent unmapped its own.
  int pipefd[2];
  if (pipe(pipefd) != 0) return 4;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(pipefd[1]);
    if (read(pipefd[0], &c, 1) != 1) _exit(5);
    printf("child %c %c\n", p[100], p[2 * 4096 + 100]);
    fflush(stdout);
    _exit(0);
  }
  munmap(p, 3 * 4096);
  close(pipefd[0]);
  if (write(pipefd[1], "x", 1) != 1) return 6;
  close(pipefd[1]);
  int st;
  waitpid(pid, &st, 0);
  printf("child status %d\n", WEXITSTATUS(st));

  // A memfd mapped shared, its fd closed: the mapping still holds its pages, and writes through it stay.
  int m = memfd_create("mapfiles", 0);
  if (ftruncate(m, 2 * 4096) != 0) return 7;
  char *q = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
  close(m);
  strcpy(q + 4096, "memfd-kept");
  char *r = mremap(q, 2 * 4096, 4 * 4096, MREMAP_MAYMOVE);
  printf("memfd %s\n", r == MAP_FAILED ? "mremap failed" : r + 4096);
  if (r != MAP_FAILED) munmap(r, 4 * 4096);
  printf("fds at end %d\n", open_fds() - base);
  unlink(path);
  return 0;
}

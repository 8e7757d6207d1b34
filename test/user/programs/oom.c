// Running out of guest memory fails calls or ends one process, never the machine. Run with a
// small guest memory (rvisor exec --mem 64): a bounded fork bomb whose children each write their
// copy-on-write copy of the parent's memory, so that the copies cannot all fit (fork itself copies
// no page: the copies are made by the children's writes, and past the memory limit Linux's OOM
// killer ends a child, or fork fails with ENOMEM when its page tables do not fit),
// then children that touch more memory than there is (one page per page table, and plain
// pages). stdout only says what Linux and rvisor agree on; counts go to stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MAX_FORKS 40
#define MAX_THREADS 700
#define PARENT_BYTES (6 << 20)

/** Child: exit 0 (enough memory) or die by SIGKILL (the OOM killer) — both fine. */
static const char *ended_ok(int st) {
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return "yes";
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return "yes";
  return "no";
}

static void touch_all(size_t bytes) {
  // Mappings of 24 MiB each: every one alone is allowed by overcommit, all together are not.
  for (size_t done = 0; done < bytes; done += 24 << 20) {
    char *p = mmap(NULL, 24 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(3);
    for (size_t i = 0; i < (24 << 20); i += 4096) p[i] = 1;
  }
}

static void touch_sparse(int pages) {
  // One page every 2 MiB of a large reservation: each needs its own page table.
  char *p = mmap(NULL, 64UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) _exit(3);
  for (long i = 0; i < pages; i++) p[i << 21] = 1;
}

static int run_child(void (*fn)(long), long arg, const char *what) {
  pid_t c = fork();
  if (c < 0) { printf("%s: fork failed\n", what); return 1; }
  if (c == 0) { fn(arg); _exit(0); }
  int st = 0;
  if (waitpid(c, &st, 0) != c) { printf("%s: waitpid failed\n", what); return 1; }
  printf("%s: child exited or was OOM-killed: %s\n", what, ended_ok(st));
  fprintf(stderr, "%s: status 0x%x\n", what, st);
  return 0;
}

static int gate[2];
static void *parked(void *arg) { char x; (void)arg; read(gate[0], &x, 1); return NULL; }

/** Threads until pthread_create fails (rvisor: threads-max for the guest memory) or MAX_THREADS. */
static void thread_bomb(void) {
  static pthread_t th[MAX_THREADS];
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 64 << 10);
  if (pipe(gate) != 0) return;
  int made = 0, failed = 0, unexpected = 0;
  for (; made < MAX_THREADS; made++) {
    int e = pthread_create(&th[made], &at, parked, NULL);
    if (e != 0) { if (e == EAGAIN || e == ENOMEM) failed++; else unexpected++; break; }
  }
  close(gate[1]);
  for (int i = 0; i < made; i++) pthread_join(th[i], NULL);
  close(gate[0]);
  printf("thread bomb: created threads: %s\n", made > 0 ? "yes" : "no");
  printf("thread bomb: every failure was EAGAIN or ENOMEM: %s\n", unexpected == 0 ? "yes" : "no");
  fprintf(stderr, "thread bomb: %d created, %d failed\n", made, failed);
}

static void dense(long bytes) { touch_all((size_t)bytes); }
static void sparse(long pages) { touch_sparse((int)pages); }

int main(void) {
  char *mem = malloc(PARENT_BYTES);
  memset(mem, 7, PARENT_BYTES);
  int p[2];
  if (pipe(p) != 0) return 1;
  int forked = 0, failed = 0, unexpected = 0;
  for (int i = 0; i < MAX_FORKS; i++) {
    pid_t c = fork();
    if (c == 0) {
      // Write every page: each write makes this child's own copy of a page it shared with the parent.
      for (size_t j = 0; j < PARENT_BYTES; j += 4096) mem[j] = 7;
      char x; close(p[1]); read(p[0], &x, 1); _exit(mem[i] == 7 ? 0 : 1);
    }
    if (c < 0) { if (errno == EAGAIN || errno == ENOMEM) failed++; else unexpected++; break; }
    forked++;
  }
  close(p[1]);
  int reaped = 0, ok = 0, killed = 0, st;
  while (wait(&st) > 0) {
    reaped++;
    if (ended_ok(st)[0] == 'y') ok++;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) killed++;
  }
  printf("fork bomb: forked children: %s\n", forked > 0 ? "yes" : "no");
  printf("fork bomb: every failure was EAGAIN or ENOMEM: %s\n", unexpected == 0 ? "yes" : "no");
  printf("fork bomb: reaped all, each exited 0 or was OOM-killed: %s\n", reaped == forked && ok == forked ? "yes" : "no");
  fprintf(stderr, "fork bomb: %d forked, %d failed, %d killed\n", forked, failed, killed);
  free(mem);

  // Heuristic overcommit: one mapping larger than all of memory is refused; a smaller one is not.
  for (long mib = 32; mib <= 128; mib *= 4) {
    void *m = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fprintf(stderr, "mmap %ld MiB rw: %s\n", mib, m != MAP_FAILED ? "ok" : errno == ENOMEM ? "ENOMEM" : "other");
    if (m != MAP_FAILED) munmap(m, mib << 20);
  }

  if (run_child(dense, 96L << 20, "dense 96 MiB")) return 1;
  if (run_child(sparse, 12000, "sparse 12000 page tables")) return 1;
  thread_bomb();
  // The machine is still usable: a fork that fits works.
  if (run_child(dense, 0, "small child")) return 1;
  printf("parent still running\n");
  return 0;
}

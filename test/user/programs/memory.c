// Memory: malloc, brk, mmap/munmap/mprotect/mremap, SIGSEGV on a protected page.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <setjmp.h>
#include <unistd.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static void on_segv(int sig, siginfo_t *si, void *uc) { (void)uc; (void)si; siglongjmp(jb, sig); }

int main(void) {
  long total = 0;
  for (int i = 0; i < 1000; i++) { char *p = malloc(1000 + i); memset(p, i, 1000 + i); total += p[500] & 0xff; free(p); }
  printf("malloc %ld\n", total);
  char *big = malloc(64 << 20);
  big[0] = 1; big[(64 << 20) - 1] = 2;
  printf("big %d\n", big[0] + big[(64 << 20) - 1]);
  free(big);
  void *b0 = sbrk(0);
  sbrk(8192);
  printf("sbrk %ld\n", (long)((char *)sbrk(0) - (char *)b0));
  char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap zero %d\n", m[5000]);
  strcpy(m, "mapped");
  m = mremap(m, 3 * 4096, 300 * 4096, MREMAP_MAYMOVE);
  printf("mremap %s %d\n", m, m[299 * 4096]);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_segv; sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  mprotect(m, 4096, PROT_READ);
  int s = sigsetjmp(jb, 1);
  if (s == 0) { m[0] = 'X'; printf("no fault\n"); }
  else printf("caught signal %d, value %c\n", s, m[0]);
  mprotect(m, 4096, PROT_READ | PROT_WRITE);
  m[0] = 'Y';
  printf("after mprotect %c\n", m[0]);
  munmap(m, 300 * 4096);
  if (sigsetjmp(jb, 1) == 0) { volatile char c = *(volatile char *)m; (void)c; printf("no fault\n"); }
  else printf("unmapped fault\n");
  int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *shared = 7;
  printf("shared %d\n", *shared);
  return 0;
}

// What rvisor answers where qemu-riscv64 hands the call to the host and gets a different
// (host-specific) answer: robust futexes (qemu refuses set_robust_list), membarrier's command
// set, capabilities of the unprivileged guest user, quiet probes, and copy-on-write fork of a
// large heap (measured through /proc/meminfo, which is the guest's own).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t robust;

static void *die_holding(void *arg) {
  (void)arg;
  pthread_mutex_lock(&robust);
  return NULL; // exits without unlocking
}

static void robust_part(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  printf("robust init %d\n", pthread_mutex_init(&robust, &a));
  pthread_t th;
  pthread_create(&th, NULL, die_holding, NULL);
  pthread_join(th, NULL);
  int r = pthread_mutex_lock(&robust);
  printf("robust lock after owner died %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
  printf("robust consistent %d\n", pthread_mutex_consistent(&robust));
  pthread_mutex_unlock(&robust);
  printf("robust relock %d\n", pthread_mutex_lock(&robust));
  pthread_mutex_unlock(&robust);
  void *head; size_t len;
  printf("get_robust_list %ld len %zu set %d\n", syscall(SYS_get_robust_list, 0, &head, &len), len, head != NULL);
  printf("set_robust_list bad len %ld errno %d\n", syscall(SYS_set_robust_list, head, 8), errno);
}

static long membarrier(int cmd, unsigned flags) { return syscall(SYS_membarrier, cmd, flags, 0); }

static void membarrier_part(void) {
  printf("membarrier query %#lx\n", membarrier(MEMBARRIER_CMD_QUERY, 0));
  printf("membarrier private unregistered %ld errno %d\n", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0), errno);
  printf("membarrier register %ld\n", membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0));
  printf("membarrier private %ld\n", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0));
  printf("membarrier global %ld\n", membarrier(MEMBARRIER_CMD_GLOBAL, 0));
  printf("membarrier bad flags %ld errno %d\n", membarrier(MEMBARRIER_CMD_GLOBAL, 1), errno);
  printf("membarrier sync-core %ld errno %d\n", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0), errno);
}

static void caps_part(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0xff, sizeof d);
  printf("capget %ld eff %#x perm %#x inh %#x\n", syscall(SYS_capget, &h, d), d[0].effective, d[0].permitted, d[0].inheritable);
  h.version = 0x12345678;
  printf("capget probe %ld version %#x\n", syscall(SYS_capget, &h, NULL), h.version);
  h.version = 0x12345678;
  printf("capget bad version %ld errno %d\n", syscall(SYS_capget, &h, d), errno);
  h.version = _LINUX_CAPABILITY_VERSION_3; h.pid = 999999;
  printf("capget no such pid %ld errno %d\n", syscall(SYS_capget, &h, d), errno);
  h.pid = 0; memset(d, 0, sizeof d);
  printf("capset empty %ld\n", syscall(SYS_capset, &h, d));
  d[0].effective = 1;
  printf("capset more %ld errno %d\n", syscall(SYS_capset, &h, d), errno);
}

static void probes_part(void) {
  printf("rseq %ld errno %d\n", syscall(SYS_rseq, NULL, 0, 0, 0), errno);
  printf("io_uring_setup %ld errno %d\n", syscall(SYS_io_uring_setup, 8, NULL), errno);
  sigset_t m; sigemptyset(&m);
  printf("signalfd4 sizemask 4 %ld errno %d\n", syscall(SYS_signalfd4, -1, &m, 4, 0), errno);
  // A number no Linux has: ENOSYS, with a warning only under --verbose/--strace.
  printf("syscall 1000 %ld errno %d\n", syscall(1000), errno);
}

/** A field of /proc/self/smaps_rollup, in kB: this process's own page counts, whatever other processes do meanwhile. */
static long rollup_kb(const char *field) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[160], name[64]; long v = -1, x;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "%63[^:]: %ld kB", name, &x) == 2 && strcmp(name, field) == 0) { v = x; break; }
  if (f != NULL) fclose(f);
  return v;
}
static long private_kb(void) { return rollup_kb("Private_Clean") + rollup_kb("Private_Dirty"); }
static long shared_kb(void) { return rollup_kb("Shared_Clean") + rollup_kb("Shared_Dirty"); }

#define HEAP (128L << 20)

static void cow_part(void) {
  char *heap = malloc(HEAP);
  memset(heap, 0x5a, HEAP);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t c = fork();
  if (c == 0) {
    // Right after fork the heap's pages are still the parent's frames, shared (nothing was copied).
    long shared = shared_kb(), priv = private_kb();
    int no_copy = shared >= (HEAP >> 10) && priv < (HEAP >> 10) / 10;
    // Two writes copy two pages (volatile: the heap never escapes, so the compiler could sink them past the reads).
    ((volatile char *)heap)[0] = 1; ((volatile char *)heap)[HEAP / 2] = 2;
    long priv_after = private_kb(), shared_after = shared_kb();
    // Two heap pages (and perhaps a stack page or two, which the parent's own writes unshare) became private.
    int two = priv_after - priv >= 8 && priv_after - priv < 64 && shared - shared_after >= 8;
    if (!no_copy || !two) fprintf(stderr, "cow: shared %ld kB private %ld kB after fork; %ld / %ld after two writes\n", shared, priv, shared_after, priv_after);
    _exit(no_copy && two && heap[1] == 0x5a ? 0 : 1);
  }
  int st;
  waitpid(c, &st, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("cow fork of a %ld MiB heap: %s, parent data intact %d\n", HEAP >> 20, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "no copy" : "copied",
    heap[0] == 0x5a && heap[HEAP / 2] == 0x5a);
  fprintf(stderr, "fork+exit+wait with a %ld MiB heap: %.1f ms\n", HEAP >> 20, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  free(heap);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  robust_part();
  membarrier_part();
  caps_part();
  probes_part();
  cow_part();
  return 0;
}

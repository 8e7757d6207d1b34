// A glibc program for the system VM's guests: what Debian's userland does first. glibc's
// clock_gettime runs in the vDSO and reads the `time` CSR from U-mode (a SIGILL when nothing
// grants scounteren.TM); riscv_hwprobe is how glibc (and others) pick string routines.
#define _GNU_SOURCE
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

struct riscv_hwprobe { int64_t key; uint64_t value; };
#define NR_riscv_hwprobe 258
#define KEY_IMA_EXT_0 4

static uint64_t rdtime(void) { uint64_t t; __asm__ volatile("rdtime %0" : "=r"(t)); return t; }

static double seconds(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
  printf("glibc %s\n", gnu_get_libc_version());
  uint64_t t0 = rdtime();
  double m0 = seconds(CLOCK_MONOTONIC);
  struct timespec nap = { 0, 200 * 1000 * 1000 };
  nanosleep(&nap, NULL);
  double slept = seconds(CLOCK_MONOTONIC) - m0;
  uint64_t t1 = rdtime();
  printf("nanosleep 0.2 s took %s\n", slept >= 0.19 && slept < 5 ? "0.2 s or a little more" : "a wrong time");
  // The time CSR ticks at the device tree's timebase-frequency (10 MHz).
  double ticks = (double)(t1 - t0) / 1e7;
  printf("rdtime %s\n", t1 > t0 && ticks >= slept * 0.9 && ticks < slept * 1.5 + 0.1 ? "agrees with CLOCK_MONOTONIC" : "disagrees");
  long wall = (long)seconds(CLOCK_REALTIME);
  printf("CLOCK_REALTIME %s time()\n", labs(wall - (long)time(NULL)) <= 1 ? "matches" : "differs from");
  struct riscv_hwprobe p = { KEY_IMA_EXT_0, 0 };
  long r = syscall(NR_riscv_hwprobe, &p, 1, 0, NULL, 0);
  if (r != 0) printf("hwprobe: errno %d\n", errno);
  else printf("hwprobe ext0: 0x%llx\n", (unsigned long long)p.value);
  printf("glibc program done\n");
  return 0;
}

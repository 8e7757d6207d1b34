// futex wait/wake and timeouts, clocks, nanosleep, getrandom.
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>
#include <pthread.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/time.h>
#include <stdatomic.h>

static atomic_int word = 0;
static long fut(atomic_int *a, int op, int v, struct timespec *ts) { return syscall(SYS_futex, a, op, v, ts, NULL, 0); }
static void *waker(void *arg) { (void)arg; usleep(20000); atomic_store(&word, 1); fut(&word, FUTEX_WAKE_PRIVATE, 1, NULL); return NULL; }

int main(void) {
  struct timespec ts = {0, 30 * 1000 * 1000};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  long r = fut(&word, FUTEX_WAIT_PRIVATE, 0, &ts);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("timeout %ld errno %d waited>=30 %d\n", r, errno, ms >= 29);
  printf("eagain %ld errno %d\n", fut(&word, FUTEX_WAIT_PRIVATE, 5, NULL), errno);
  pthread_t t; pthread_create(&t, NULL, waker, NULL);
  while (atomic_load(&word) == 0) fut(&word, FUTEX_WAIT_PRIVATE, 0, NULL);
  pthread_join(t, NULL);
  printf("woken %d\n", atomic_load(&word));
  clock_gettime(CLOCK_MONOTONIC, &a);
  nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("slept>=50 %d <1000 %d\n", ms >= 49, ms < 1000);
  struct timeval tv; gettimeofday(&tv, NULL);
  printf("realtime sane %d\n", tv.tv_sec > 1600000000);
  unsigned char rnd[32]; 
  printf("getrandom %zd\n", getrandom(rnd, sizeof rnd, 0));
  printf("time sane %d\n", time(NULL) > 1600000000);
  return 0;
}

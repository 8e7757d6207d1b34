// pthreads: mutexes, condition variables, join, thread-local storage.
#include <stdio.h>
#include <pthread.h>

#define N 4
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter = 0;
static int ready = 0;
static __thread int tls = 0;

static void *worker(void *arg) {
  long id = (long)arg;
  tls = (int)id * 10;
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < 20000; i++) { pthread_mutex_lock(&mu); counter++; pthread_mutex_unlock(&mu); }
  return (void *)(long)(tls + 1);
}

int main(void) {
  pthread_t th[N];
  for (long i = 0; i < N; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  pthread_mutex_lock(&mu); ready = 1; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
  long sum = 0;
  for (int i = 0; i < N; i++) { void *r; pthread_join(th[i], &r); sum += (long)r; }
  printf("counter %ld sum %ld\n", counter, sum);
  return 0;
}

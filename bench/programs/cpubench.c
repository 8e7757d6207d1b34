/* CPU-bound bare-metal benchmark for rvisor (bench/bench.ts): CRC32, sieve of Eratosthenes,
 * double-precision matrix multiply and quicksort of pseudo-random numbers. Prints one line
 * per kernel with a checksum (so a wrong result is visible) and exits 0 through HTIF.
 * Built -O2 for rv64gc with test/lib/crt0.S. SCALE 3 (default) is about 0.5e9 instructions;
 * SCALE 1 about 0.18e9. */
#ifndef SCALE
#define SCALE 3
#endif
#include <stdint.h>
#include <stddef.h>

void htif_putc(int c);

void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static void puts_(const char *s) { while (*s) htif_putc(*s++); }
static void puthex(uint64_t v) {
  for (int i = 60; i >= 0; i -= 4) htif_putc("0123456789abcdef"[(v >> i) & 15]);
}
static void report(const char *name, uint64_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* ---- CRC32 (bitwise, reflected polynomial) */
#define BUF 65536
static uint8_t buf[BUF];
static uint32_t crc32(const uint8_t *p, size_t n, uint32_t crc) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

/* ---- sieve */
#define SIEVE 2000000
static uint8_t composite[SIEVE];
static uint64_t sieve(void) {
  memset(composite, 0, sizeof composite);
  uint64_t count = 0;
  for (uint64_t i = 2; i < SIEVE; i++) {
    if (composite[i]) continue;
    count++;
    for (uint64_t j = i * i; j < SIEVE; j += i) composite[j] = 1;
  }
  return count;
}

/* ---- matrix multiply (doubles) */
#define N 96
static double A[N][N], B[N][N], C[N][N];
static uint64_t matmul(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      A[i][j] = (double)((i * 7 + j * 3) % 17) * 0.25 - 1.5;
      B[i][j] = (double)((i * 5 + j * 11) % 13) * 0.5 + 0.125;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += A[i][k] * B[k][j];
      C[i][j] = s;
    }
  double t = 0;
  for (int i = 0; i < N; i++) t += C[i][(i * 13) % N];
  union { double d; uint64_t u; } u = { t };
  return u.u;
}

/* ---- quicksort */
#define QN 200000
static int64_t arr[QN];
static void qsort_(int64_t *a, long lo, long hi) {
  while (lo < hi) {
    int64_t p = a[(lo + hi) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { int64_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { qsort_(a, lo, j); lo = i; } else { qsort_(a, i, hi); hi = j; }
  }
}
static uint64_t sort(void) {
  for (long i = 0; i < QN; i++) arr[i] = (int64_t)next();
  qsort_(arr, 0, QN - 1);
  uint64_t h = 0;
  for (long i = 1; i < QN; i++) {
    if (arr[i - 1] > arr[i]) return 0;
    h = h * 31 + (uint64_t)arr[i];
  }
  return h;
}

int main(void) {
  for (int i = 0; i < BUF; i++) buf[i] = (uint8_t)next();
  uint32_t c = 0;
  for (int r = 0; r < 8 * SCALE; r++) c = crc32(buf, BUF, c);
  report("crc32", c);
  uint64_t primes = 0;
  for (int r = 0; r < 3 * SCALE; r++) primes += sieve();
  report("sieve", primes);
  uint64_t m = 0;
  for (int r = 0; r < 4 * SCALE; r++) m += matmul();
  report("matmul", m);
  uint64_t q = 0;
  for (int r = 0; r < SCALE; r++) q ^= sort() + (uint64_t)r;
  report("qsort", q);
  return 0;
}

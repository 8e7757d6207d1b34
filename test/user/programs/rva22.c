/* A program built for the RVA22 era: gcc -O2 -march=rv64gc_zba_zbb_zbc_zbs emits Zba/Zbb/Zbs
 * code from plain C (address arithmetic, bit counts, rotations, byte swaps, min/max), and the
 * Zbc/Zfh/Zicond parts use the instructions directly, since Debian 12's gcc 12 has neither
 * _Float16 nor Zicond. Run by test/user_rva22.test.ts under qemu-riscv64 (the reference) and
 * rvisor, in the process VM and inside a Linux guest; the outputs must be identical.
 *
 * With the argument "zicond" it also runs czero.eqz/czero.nez (QEMU 7.2 lacks Zicond) and checks
 * them against their definition in the Zicond chapter: czero.eqz rd = (rs2 == 0) ? 0 : rs1,
 * czero.nez rd = (rs2 != 0) ? 0 : rs1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, unsigned k) { return (x << (k & 63)) | (x >> ((64 - k) & 63)); }
static uint32_t rotr32(uint32_t x, unsigned k) { return (x >> (k & 31)) | (x << ((32 - k) & 31)); }

/* Zba: indexing arrays of 2-, 4- and 8-byte elements with 32-bit unsigned indices. */
static uint64_t table64[4096];
static uint32_t table32[4096];
static uint16_t table16[4096];

static uint64_t gather(const uint32_t *idx, unsigned n) {
  uint64_t s = 0;
  for (unsigned i = 0; i < n; i++) s += table64[idx[i] & 4095] + table32[idx[i] & 4095] + table16[idx[i] & 4095];
  return s;
}

static uint64_t clmul(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static uint64_t clmulh(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmulh %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static uint64_t clmulr(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }

/* Zfh through its instructions: a half-precision dot product and conversions, bits printed. */
static uint16_t half_mul_add(uint16_t a, uint16_t b, uint16_t c, int rm) {
  uint64_t r;
  switch (rm) {
    case 0: __asm__("fmv.h.x ft0, %1; fmv.h.x ft1, %2; fmv.h.x ft2, %3; fmadd.h ft3, ft0, ft1, ft2, rne; fmv.x.h %0, ft3"
                    : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); break;
    case 1: __asm__("fmv.h.x ft0, %1; fmv.h.x ft1, %2; fmv.h.x ft2, %3; fmadd.h ft3, ft0, ft1, ft2, rtz; fmv.x.h %0, ft3"
                    : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); break;
    default: __asm__("fmv.h.x ft0, %1; fmv.h.x ft1, %2; fmv.h.x ft2, %3; fmul.h ft3, ft0, ft1, rup; fadd.h ft3, ft3, ft2, rdn; fmv.x.h %0, ft3"
                    : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); break;
  }
  return (uint16_t)r;
}

static uint16_t half_from_double(double d) {
  uint64_t r;
  __asm__("fcvt.h.d ft0, %1; fmv.x.h %0, ft0" : "=r"(r) : "f"(d) : "ft0");
  return (uint16_t)r;
}

static double half_to_double(uint16_t h) {
  double d;
  __asm__("fmv.h.x ft0, %1; fcvt.d.h %0, ft0" : "=f"(d) : "r"(h) : "ft0");
  return d;
}

static unsigned fflags(void) { unsigned f; __asm__ volatile("frflags %0" : "=r"(f)); return f; }
static void clear_fflags(void) { __asm__ volatile("fsflags x0"); }

/* czero.eqz / czero.nez (Zicond, OP funct7 0000111, funct3 101 / 111). */
static uint64_t czero_eqz(uint64_t v, uint64_t c) { uint64_t r; __asm__(".insn r 0x33, 5, 7, %0, %1, %2" : "=r"(r) : "r"(v), "r"(c)); return r; }
static uint64_t czero_nez(uint64_t v, uint64_t c) { uint64_t r; __asm__(".insn r 0x33, 7, 7, %0, %1, %2" : "=r"(r) : "r"(v), "r"(c)); return r; }

int main(int argc, char **argv) {
  /* Bit manipulation that gcc maps onto Zbb/Zbs. */
  uint64_t acc = 0, pop = 0, lz = 0, tz = 0;
  for (int i = 0; i < 20000; i++) {
    uint64_t x = next(), y = next();
    if ((i & 7) == 0) x &= 0xffffull << (i % 48);
    pop += (uint64_t)__builtin_popcountll(x) + (uint64_t)__builtin_popcount((uint32_t)y);
    lz += x ? (uint64_t)__builtin_clzll(x) : 64;
    tz += (uint32_t)y ? (uint64_t)__builtin_ctz((uint32_t)y) : 32;
    acc ^= rotl(x, (unsigned)y) + rotr32((uint32_t)x, (unsigned)(y >> 7));
    acc += __builtin_bswap64(x) ^ __builtin_bswap32((uint32_t)y);
    acc += (x & ~y) | (y & (1ull << (x & 63)));          /* andn, bset/bext */
    acc ^= (x > y ? x : y) - ((int64_t)x < (int64_t)y ? x : y);  /* maxu, min */
    acc += (uint64_t)(int8_t)x + (uint64_t)(int16_t)y + (uint16_t)(x >> 3);  /* sext.b, sext.h, zext.h */
    acc ^= x & ~(1ull << (y & 63));                        /* bclr */
  }
  printf("bits: acc=%016llx pop=%llu clz=%llu ctz=%llu\n", (unsigned long long)acc, (unsigned long long)pop,
         (unsigned long long)lz, (unsigned long long)tz);

  uint32_t idx[1024];
  for (unsigned i = 0; i < 4096; i++) { table64[i] = next(); table32[i] = (uint32_t)next(); table16[i] = (uint16_t)next(); }
  for (unsigned i = 0; i < 1024; i++) idx[i] = (uint32_t)next();
  printf("gather: %016llx\n", (unsigned long long)gather(idx, 1024));

  /* A string routine on bytes (orc.b-style zero-byte detection in glibc's strlen under Zbb). */
  char buf[300];
  unsigned long total = 0;
  for (int n = 0; n < 280; n += 7) {
    memset(buf, 'a' + n % 26, (size_t)n);
    buf[n] = 0;
    total += strlen(buf + (n & 3)) + (unsigned long)strcmp(buf, "mmm") * 3;
  }
  printf("strings: %lu\n", total);

  /* Zbc: carry-less products (the GHASH/CRC building block). */
  uint64_t c0 = 0, c1 = 0, c2 = 0;
  for (int i = 0; i < 2000; i++) { uint64_t a = next(), b = next(); c0 ^= clmul(a, b); c1 += clmulh(a, b); c2 ^= clmulr(a, b) + i; }
  printf("clmul: %016llx %016llx %016llx\n", (unsigned long long)c0, (unsigned long long)c1, (unsigned long long)c2);

  /* Zfh: products and conversions, with the accumulated exception flags. */
  static const double inputs[] = { 0.0, -0.0, 1.0, -1.5, 3.140625, 65504.0, 65520.0, 1e-5, 6.0e-8, 2.9e-8, -7.25, 1000.5, 0.1 };
  const unsigned n = sizeof inputs / sizeof inputs[0];
  uint32_t hsum = 0;
  clear_fflags();
  for (unsigned i = 0; i < n; i++) {
    uint16_t hi = half_from_double(inputs[i]);
    printf("half %u: %g -> %04x -> %.10g\n", i, inputs[i], hi, half_to_double(hi));
    for (unsigned j = 0; j < n; j++) {
      uint16_t hj = half_from_double(inputs[j]);
      for (int rm = 0; rm < 3; rm++) hsum = hsum * 31 + half_mul_add(hi, hj, half_from_double(inputs[(i + j) % n]), rm);
    }
  }
  printf("zfh: %08x fflags=%02x\n", hsum, fflags());

  if (argc > 1 && strcmp(argv[1], "zicond") == 0) {
    static const uint64_t vals[] = { 0, 1, 0xffffffffffffffffull, 0x8000000000000000ull, 0x100000000ull, 42 };
    const unsigned nv = sizeof vals / sizeof vals[0];
    unsigned ok = 0, bad = 0;
    for (unsigned i = 0; i < nv; i++) {
      for (unsigned j = 0; j < nv; j++) {
        uint64_t v = vals[i], c = vals[j];
        if (czero_eqz(v, c) == (c == 0 ? 0 : v)) ok++; else bad++;
        if (czero_nez(v, c) == (c != 0 ? 0 : v)) ok++; else bad++;
      }
    }
    printf("zicond: %u ok, %u wrong\n", ok, bad);
  }
  return 0;
}

// riscv_hwprobe(2) as a program sees it: every key Linux 6.12 defines, an unknown one, the
// cpu-set rules (NULL/0 shortcut, a set without an online CPU, WHICH_CPUS) and the EFAULT and
// EINVAL paths. The constants are Linux 6.12's uapi <asm/hwprobe.h> (Debian 12's headers are
// 6.1, which has no hwprobe). Prints what it got; the IMA_EXT_0 bits as extension names.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define NR_riscv_hwprobe 258
#define RISCV_HWPROBE_WHICH_CPUS 1
#define KEY_IMA_EXT_0 4
#define KEY_MVENDORID 0

struct riscv_hwprobe { int64_t key; uint64_t value; };

static long hwprobe(struct riscv_hwprobe *p, size_t n, size_t setsize, void *cpus, unsigned flags) {
  long r = syscall(NR_riscv_hwprobe, p, n, setsize, cpus, flags);
  return r < 0 ? -errno : r;
}

static const char *const EXT0[64] = {
  [0] = "FD", [1] = "C", [2] = "V", [3] = "zba", [4] = "zbb", [5] = "zbs", [6] = "zicboz", [7] = "zbc",
  [8] = "zbkb", [9] = "zbkc", [10] = "zbkx", [11] = "zknd", [12] = "zkne", [13] = "zknh", [14] = "zksed",
  [15] = "zksh", [16] = "zkt", [17] = "zvbb", [18] = "zvbc", [19] = "zvkb", [20] = "zvkg", [21] = "zvkned",
  [22] = "zvknha", [23] = "zvknhb", [24] = "zvksed", [25] = "zvksh", [26] = "zvkt", [27] = "zfh",
  [28] = "zfhmin", [29] = "zihintntl", [30] = "zvfh", [31] = "zvfhmin", [32] = "zfa", [33] = "ztso",
  [34] = "zacas", [35] = "zicond", [36] = "zihintpause", [37] = "zve32x", [38] = "zve32f", [39] = "zve64x",
  [40] = "zve64f", [41] = "zve64d", [42] = "zimop", [43] = "zca", [44] = "zcb", [45] = "zcd", [46] = "zcf",
  [47] = "zcmop", [48] = "zawrs",
};

static void result(const char *what, long got) {
  if (got >= 0) printf("%s: %ld\n", what, got);
  else printf("%s: %s\n", what, strerrorname_np((int)-got));
}

int main(void) {
  struct riscv_hwprobe all[12];
  for (int i = 0; i < 11; i++) all[i].key = i;
  all[11].key = -7;
  long r = hwprobe(all, 12, 0, NULL, 0);
  result("probe all", r);
  if (r == -ENOSYS) return 0;
  for (int i = 0; i < 12; i++) {
    if (all[i].key == KEY_IMA_EXT_0) {
      printf("key 4 ext0:");
      for (int b = 0; b < 64; b++)
        if (all[i].value >> b & 1) printf(" %s", EXT0[b] ? EXT0[b] : "?");
      printf("\n");
    } else {
      printf("key %d -> %lld 0x%llx\n", i == 11 ? -7 : i, (long long)all[i].key, (unsigned long long)all[i].value);
    }
  }
  printf("names:");
  for (int b = 0; b < 64; b++) if (EXT0[b] && b > 2) printf(" %s", EXT0[b]);
  printf("\n");

  // The cpu set: the online CPUs are the ones sched_getaffinity reports (0 .. n-1).
  cpu_set_t cs;
  CPU_ZERO(&cs);
  int ncpu = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : -1;
  printf("online cpus: %d\n", ncpu);
  struct riscv_hwprobe one = { KEY_IMA_EXT_0, 0 };
  unsigned long set[4] = { 1, 0, 0, 0 };
  result("set {0}", hwprobe(&one, 1, sizeof set[0], set, 0));
  uint64_t ext0 = one.value;
  printf("same value: %d\n", ext0 == all[4].value);
  result("set {0}, 32-byte set (the kernel reads 16)", hwprobe(&one, 1, sizeof set, set, 0));
  // The first CPU past the online ones.
  set[0] = 0;
  if (ncpu >= 0 && ncpu < 256) set[ncpu / 64] = 1UL << (ncpu % 64);
  result("set {n} (offline)", hwprobe(&one, 1, ncpu >= 0 && ncpu < 256 ? (size_t)(ncpu / 64 + 1) * sizeof set[0] : 8, set, 0));
  memset(set, 0, sizeof set);
  set[0] = 1;
  result("size 0, set given", hwprobe(&one, 1, 0, set, 0));
  result("size 8, NULL set", hwprobe(&one, 1, 8, NULL, 0));
  result("set at a bad address", hwprobe(&one, 1, 8, (void *)16, 0));
  result("flags 2", hwprobe(&one, 1, 0, NULL, 2));
  result("pairs at a bad address", hwprobe((void *)16, 1, 0, NULL, 0));
  result("no pairs, NULL", hwprobe(NULL, 0, 0, NULL, 0));

  // WHICH_CPUS: which CPUs have these values.
  set[0] = 1;
  struct riscv_hwprobe q[2] = { { KEY_IMA_EXT_0, ext0 & 3 }, { 3, 1 } };
  result("which: FD|C on {0}", hwprobe(q, 2, sizeof set[0], set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx\n", set[0]);
  set[0] = 0;
  result("which: empty set means all", hwprobe(q, 2, sizeof set[0], set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx\n", set[0]);
  set[0] = 1;
  struct riscv_hwprobe v = { KEY_IMA_EXT_0, 1u << 2 };
  result("which: V", hwprobe(&v, 1, sizeof set[0], set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx\n", set[0]);
  set[0] = 1;
  struct riscv_hwprobe vid = { KEY_MVENDORID, 1 };
  result("which: mvendorid 1", hwprobe(&vid, 1, sizeof set[0], set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx\n", set[0]);
  set[0] = 1;
  struct riscv_hwprobe unk[2] = { { 99, 5 }, { KEY_IMA_EXT_0, 0 } };
  result("which: unknown key", hwprobe(unk, 2, sizeof set[0], set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx, key %lld value %llu, next key %lld\n", set[0], (long long)unk[0].key, (unsigned long long)unk[0].value, (long long)unk[1].key);
  set[0] = 0xff01; set[1] = 0xabc;
  struct riscv_hwprobe freq = { 8, all[8].value };
  result("which: offline CPUs' bits are dropped, words past nr_cpu_ids kept", hwprobe(&freq, 1, 16, set, RISCV_HWPROBE_WHICH_CPUS));
  printf("  set %#lx %#lx\n", set[0], set[1]);
  result("which: size 0", hwprobe(q, 1, 0, set, RISCV_HWPROBE_WHICH_CPUS));
  result("which: NULL set", hwprobe(q, 1, 8, NULL, RISCV_HWPROBE_WHICH_CPUS));
  result("which: flags 3", hwprobe(q, 1, 8, set, 3));
  result("which: pairs at a bad address", hwprobe((void *)16, 1, 8, set, RISCV_HWPROBE_WHICH_CPUS));

  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "isa", 3) == 0 || strncmp(line, "hart isa", 8) == 0 || strncmp(line, "mmu", 3) == 0) fputs(line, stdout);
  if (f) fclose(f);
  return 0;
}

// Hostile system-call arguments: sizes of 2^63 and more, (size_t)-1, negative counts, pointers
// in the kernel half, huge mappings. Each call's result is printed (value or errno name), so the
// output under rvisor must equal qemu-riscv64's (which hands the call to the real Linux kernel).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static const char *ename(int e) {
  switch (e) {
    case EFAULT: return "EFAULT"; case EINVAL: return "EINVAL"; case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF"; case EAGAIN: return "EAGAIN"; case ESPIPE: return "ESPIPE";
    case EOVERFLOW: return "EOVERFLOW";
  }
  return "other";
}

static void show(const char *what, long r) {
  if (r < 0) printf("%-34s -1 %s\n", what, ename(errno));
  else printf("%-34s %ld\n", what, r);
}

static char buf[256];
#define HUGE ((unsigned long)-1)
#define TOP_BIT (1UL << 63)
#define TOO_BIG (64UL << 30)

int main(void) {
  int p[2], sv[2];
  if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  write(p[1], "hello", 5);

  // read/write family with sizes no buffer can have: EFAULT, and nothing is consumed.
  show("write(pipe, buf, -1)", syscall(SYS_write, p[1], buf, HUGE));
  show("write(pipe, buf, 2^63)", syscall(SYS_write, p[1], buf, TOP_BIT));
  show("read(pipe, buf, -1)", syscall(SYS_read, p[0], buf, HUGE));
  show("read(pipe, buf, 2^63+1)", syscall(SYS_read, p[0], buf, TOP_BIT + 1));
  show("read(pipe, buf, 16) after", syscall(SYS_read, p[0], buf, 16));
  show("read(stdin, buf, -1)", syscall(SYS_read, 0, buf, HUGE));
  show("write(socket, buf, -1)", syscall(SYS_write, sv[0], buf, HUGE));
  show("read(socket, buf, -1)", syscall(SYS_read, sv[1], buf, HUGE));
  show("sendto(socket, buf, -1)", syscall(SYS_sendto, sv[0], buf, HUGE, 0, NULL, 0));
  int efd = eventfd(3, 0);
  show("read(eventfd, buf, -1)", syscall(SYS_read, efd, buf, HUGE));
  show("write(eventfd, buf, 2^63)", syscall(SYS_write, efd, buf, TOP_BIT));
  int mfd = memfd_create("hostile", 0);
  show("read(memfd, buf, -1)", syscall(SYS_read, mfd, buf, HUGE));
  int ffd = open("/proc/self/exe", O_RDONLY);
  show("read(file, buf, -1)", syscall(SYS_read, ffd, buf, HUGE));
  show("pread64(file, buf, -1, 0)", syscall(SYS_pread64, ffd, buf, HUGE, 0));
  show("pread64(file, buf, 16, -1)", syscall(SYS_pread64, ffd, buf, 16, -1L));
  show("pread64(file, buf, 4, 1)", syscall(SYS_pread64, ffd, buf, 4, 1));
  show("read(file, kernel ptr, 16)", syscall(SYS_read, ffd, (void *)0xffffffffffff0000UL, 16));
  show("sendfile(pipe, file, NULL, -1)", syscall(SYS_sendfile, p[1], ffd, NULL, HUGE));
  show("sendfile(pipe, file, NULL, 2^63)", syscall(SYS_sendfile, p[1], ffd, NULL, TOP_BIT));
  show("ftruncate(file, -1)", syscall(SYS_ftruncate, ffd, -1L));
  show("fallocate(file, 0, -1, 1)", syscall(SYS_fallocate, ffd, 0, -1L, 1));
  show("getrandom(buf, -1, 0)", syscall(SYS_getrandom, buf, HUGE, 0));
  show("getrandom(buf, 2^63, 0)", syscall(SYS_getrandom, buf, TOP_BIT, 0));
  show("getrandom(buf, 16, 0)", syscall(SYS_getrandom, buf, 16, 0));

  // iovecs: a negative iov_len or count → EINVAL.
  struct iovec iov[2] = { { buf, 4 }, { buf + 4, (size_t)-1 } };
  show("writev(pipe, len -1)", syscall(SYS_writev, p[1], iov, 2));
  show("readv(pipe, iovcnt -1)", syscall(SYS_readv, p[0], iov, -1L));
  show("readv(pipe, iovcnt 2^32+1)", syscall(SYS_readv, p[0], iov, (1UL << 32) + 1));

  // Memory: sizes and addresses past the top of the address space.
  void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char vec[4];
  show("mincore(page, -1, vec)", syscall(SYS_mincore, page, HUGE, vec));
  show("mincore(page, 2^63, vec)", syscall(SYS_mincore, page, TOP_BIT, vec));
  show("mincore(page, 4096, vec)", syscall(SYS_mincore, page, 4096, vec));
  show("mincore(page, 4096, kernel ptr)", syscall(SYS_mincore, page, 4096, (void *)0xffffffffffff0000UL));
  long r = syscall(SYS_mmap, 0, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("mmap(len -1)", r == -1 ? -1 : 0);
  r = syscall(SYS_mmap, 0xfffffffffffff000UL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  show("mmap(FIXED at 2^64-4096)", r == -1 ? -1 : 0);
  if (r != -1) *(volatile char *)r = 1; // must not be reachable: the mapping was refused
  r = syscall(SYS_mmap, 0, TOO_BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("mmap(64 GiB, rw)", r == -1 ? -1 : 0);
  r = syscall(SYS_mmap, 0, TOO_BIG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("mmap(64 GiB, PROT_NONE)", r == -1 ? -1 : 0);
  if (r != -1) munmap((void *)r, TOO_BIG);
  r = syscall(SYS_mmap, 0, TOO_BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  show("mmap(64 GiB, rw, NORESERVE)", r == -1 ? -1 : 0);
  if (r != -1) munmap((void *)r, TOO_BIG);
  // mincore's vector over a reservation far larger than what is resident.
  size_t res = 1UL << 30;
  char *rsv = mmap(NULL, res, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  static unsigned char rvec[(1UL << 30) / 4096];
  if (rsv != MAP_FAILED) {
    rsv[4096 * 100] = 1; rsv[4096 * 107] = 1;
    show("mincore(1 GiB reservation)", syscall(SYS_mincore, rsv, res, rvec));
    int resident = 0, first = -1, last = -1;
    for (size_t i = 0; i < sizeof rvec; i++) if (rvec[i] & 1) { resident++; if (first < 0) first = (int)i; last = (int)i; }
    printf("%-34s %d (pages %d..%d)\n", "  resident", resident, first, last);
    munmap(rsv, res);
  }
  show("munmap(page, -1)", syscall(SYS_munmap, page, HUGE));
  show("mprotect(page, -1, r)", syscall(SYS_mprotect, page, HUGE, PROT_READ));
  return 0;
}

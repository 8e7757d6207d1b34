// Event and process primitives runtimes build on: timerfd, signalfd, inotify, memfd, pidfd,
// close_range, setitimer, EPOLLET, the CPU count. Its output is compared with qemu-riscv64's
// (which hands the same calls to the host kernel), so it prints only what Linux decides:
// counts, masks, names and errno values, never times or pids.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void sleep_ms(int ms) { struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L}; nanosleep(&ts, NULL); }

static void timerfd_part(void) {
  int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  uint64_t n = 0;
  printf("timerfd read unarmed %zd errno %d\n", read(tf, &n, 8), errno);
  struct itimerspec its = {{0, 30 * 1000000}, {0, 30 * 1000000}};
  printf("timerfd settime %d\n", timerfd_settime(tf, 0, &its, NULL));
  struct itimerspec cur;
  timerfd_gettime(tf, &cur);
  printf("timerfd gettime interval %ld armed %d\n", cur.it_interval.tv_nsec, cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0);
  struct pollfd pf = {tf, POLLIN, 0};
  printf("timerfd poll %d revents %d\n", poll(&pf, 1, 2000), pf.revents);
  sleep_ms(100);
  ssize_t r = read(tf, &n, 8);
  printf("timerfd read %zd ticks>=2 %d\n", r, n >= 2);
  printf("timerfd short read %zd errno %d\n", read(tf, &n, 4), errno);
  // In epoll, and an absolute one-shot that has passed fires at once.
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev);
  struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now);
  struct itimerspec abs = {{0, 0}, now}; // already past when settime runs
  timerfd_settime(tf, TFD_TIMER_ABSTIME, &abs, NULL);
  int k = epoll_wait(ep, out, 2, 2000);
  printf("timerfd epoll %d data %u\n", k, out[0].data.u32);
  read(tf, &n, 8);
  printf("timerfd abs ticks %llu\n", (unsigned long long)n);
  struct itimerspec off = {{0, 0}, {0, 0}};
  timerfd_settime(tf, 0, &off, &cur);
  printf("timerfd disarmed, old value zero %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  printf("timerfd bad nsec %d errno %d\n", timerfd_settime(tf, 0, &bad, NULL), errno);
  printf("timerfd bad clock %d errno %d\n", timerfd_create(12345, 0), errno);
  printf("timerfd settime on pipe %d errno %d\n", timerfd_settime(ep, 0, &its, NULL), errno);
  printf("timerfd cloexec %d\n", fcntl(tf, F_GETFD));
  close(ep); close(tf);
}

static void signalfd_part(void) {
  sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR1); sigaddset(&m, SIGCHLD);
  sigprocmask(SIG_BLOCK, &m, NULL);
  int sf = signalfd(-1, &m, SFD_NONBLOCK);
  struct signalfd_siginfo si;
  printf("signalfd empty %zd errno %d\n", read(sf, &si, sizeof si), errno);
  struct pollfd pf = {sf, POLLIN, 0};
  printf("signalfd poll empty %d\n", poll(&pf, 1, 0));
  raise(SIGUSR1);
  printf("signalfd poll %d revents %d\n", poll(&pf, 1, 0), pf.revents);
  ssize_t r = read(sf, &si, sizeof si);
  printf("signalfd read %zd signo %u code %d pid ok %d\n", r, si.ssi_signo, si.ssi_code, si.ssi_pid == (uint32_t)getpid());
  printf("signalfd small buffer %zd errno %d\n", read(sf, &si, 64), errno);
  pid_t c = fork();
  if (c == 0) _exit(3);
  pf.revents = 0;
  printf("signalfd SIGCHLD poll %d\n", poll(&pf, 1, 5000));
  r = read(sf, &si, sizeof si);
  printf("signalfd child %zd signo %u code %d status %d pid ok %d\n", r, si.ssi_signo, si.ssi_code, si.ssi_status, si.ssi_pid == (uint32_t)c);
  waitpid(c, NULL, 0);
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  close(sf);
}

static const char *name_of(uint32_t mask) {
  static char b[128];
  b[0] = 0;
  static const struct { uint32_t m; const char *n; } names[] = {
    {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_MOVED_FROM, "MOVED_FROM"},
    {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
    {IN_MOVE_SELF, "MOVE_SELF"}, {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) if (mask & names[i].m) { strcat(b, b[0] ? "|" : ""); strcat(b, names[i].n); }
  return b;
}

static void drain(int in, const char *who) {
  char buf[4096] __attribute__((aligned(8)));
  uint32_t cookie = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0) break;
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)p;
      const char *cookie_note = "";
      if (e->mask & (IN_MOVED_FROM | IN_MOVED_TO)) {
        if (e->mask & IN_MOVED_FROM) cookie = e->cookie;
        else cookie_note = e->cookie == cookie && cookie != 0 ? " (same cookie)" : " (other cookie)";
      }
      printf("  %s wd %d %s %s%s\n", who, e->wd, name_of(e->mask), e->len ? e->name : "-", cookie_note);
      p += sizeof *e + e->len;
    }
  }
}

static void inotify_part(const char *dir) {
  char d[512], f[600], g[600], sub[600];
  snprintf(d, sizeof d, "%s", dir);
  mkdir(d, 0755);
  snprintf(f, sizeof f, "%s/f", d); snprintf(g, sizeof g, "%s/g", d); snprintf(sub, sizeof sub, "%s/sub", d);
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  int wd = inotify_add_watch(in, d, IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF);
  printf("inotify wd %d\n", wd);
  printf("inotify same path again %d\n", inotify_add_watch(in, d, IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF));
  printf("inotify empty %zd errno %d\n", read(in, f, 0) , errno);
  int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  write(fd, "hello", 5);
  close(fd);
  struct pollfd pf = {in, POLLIN, 0};
  printf("inotify poll %d\n", poll(&pf, 1, 1000));
  int avail = 0; ioctl(in, FIONREAD, &avail);
  printf("inotify FIONREAD %d\n", avail);
  drain(in, "dir");
  rename(f, g);
  chmod(g, 0600);
  drain(in, "dir");
  // A second instance watches the file itself.
  int in2 = inotify_init1(IN_NONBLOCK);
  printf("inotify file wd %d\n", inotify_add_watch(in2, g, IN_ATTRIB | IN_DELETE_SELF | IN_MODIFY));
  fd = open(g, O_WRONLY | O_APPEND);
  write(fd, "!", 1);
  close(fd);
  unlink(g);
  drain(in, "dir");
  drain(in2, "file");
  mkdir(sub, 0755);
  rmdir(sub);
  drain(in, "dir");
  printf("inotify onlydir on file %d errno %d\n", inotify_add_watch(in, "/dev/null", IN_ONLYDIR | IN_ATTRIB), errno);
  printf("inotify missing %d errno %d\n", inotify_add_watch(in, "/nonexistent/x", IN_ATTRIB), errno);
  printf("inotify no events %d errno %d\n", inotify_add_watch(in, d, 0), errno);
  printf("inotify rm %d\n", inotify_rm_watch(in, wd));
  drain(in, "dir");
  printf("inotify rm again %d errno %d\n", inotify_rm_watch(in, wd), errno);
  rmdir(d);
  close(in); close(in2);
}

static void memfd_part(void) {
  int m = memfd_create("rvisor-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  printf("memfd cloexec %d\n", fcntl(m, F_GETFD));
  printf("memfd write %zd\n", write(m, "abcdef", 6));
  struct stat st; fstat(m, &st);
  printf("memfd size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  char b[16] = {0};
  printf("memfd pread %zd %s\n", pread(m, b, 16, 2), b);
  printf("memfd ftruncate %d\n", ftruncate(m, 8192));
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
  printf("memfd mmap %d first %c\n", p != MAP_FAILED, p[0]);
  pid_t c = fork();
  if (c == 0) { memcpy(p + 4096, "from child", 10); _exit(0); }
  waitpid(c, NULL, 0);
  memset(b, 0, sizeof b);
  pread(m, b, 10, 4096);
  printf("memfd child wrote through the mapping: %s\n", b);
  pwrite(m, "XY", 2, 0);
  printf("memfd mapping sees pwrite: %c%c\n", p[0], p[1]);
  char *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
  printf("memfd second mapping %c%c\n", q[0], q[1]);
  munmap(q, 4096);
  munmap(p, 8192);
  printf("memfd seals %#x\n", fcntl(m, F_GET_SEALS));
  printf("memfd add seal %d\n", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  printf("memfd shrink sealed %d errno %d\n", ftruncate(m, 10), errno);
  printf("memfd grow sealed %zd errno %d\n", pwrite(m, "z", 1, 9000), errno);
  printf("memfd seals %#x\n", fcntl(m, F_GET_SEALS));
  fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL);
  printf("memfd write sealed %zd errno %d\n", write(m, "z", 1), errno);
  printf("memfd mmap shared write sealed %d errno %d\n", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0) == MAP_FAILED, errno);
  printf("memfd seal sealed %d errno %d\n", fcntl(m, F_ADD_SEALS, F_SEAL_GROW), errno);
  int n = memfd_create("plain", 0);
  printf("memfd no sealing %#x add %d errno %d\n", fcntl(n, F_GET_SEALS), fcntl(n, F_ADD_SEALS, F_SEAL_WRITE), errno);
  printf("memfd bad flags %d errno %d\n", memfd_create("x", 0x100), errno);
  printf("pipe seals %d errno %d\n", fcntl(0, F_GET_SEALS), errno);
  close(n); close(m);
}

static void pidfd_part(void) {
  pid_t c = fork();
  if (c == 0) { for (;;) pause(); }
  int pf = (int)syscall(SYS_pidfd_open, c, 0);
  printf("pidfd cloexec %d\n", fcntl(pf, F_GETFD));
  struct pollfd p = {pf, POLLIN, 0};
  printf("pidfd poll alive %d\n", poll(&p, 1, 0));
  printf("pidfd send %d\n", (int)syscall(SYS_pidfd_send_signal, pf, SIGKILL, NULL, 0));
  printf("pidfd poll dead %d revents %d\n", poll(&p, 1, 5000), p.revents & POLLIN);
  siginfo_t si; memset(&si, 0, sizeof si);
  printf("pidfd waitid %d code %d status %d pid ok %d\n", waitid(P_PIDFD, pf, &si, WEXITED), si.si_code, si.si_status, si.si_pid == c);
  printf("pidfd send after reap %d errno %d\n", (int)syscall(SYS_pidfd_send_signal, pf, SIGKILL, NULL, 0), errno);
  close(pf);
  printf("pidfd_open bad flags %d errno %d\n", (int)syscall(SYS_pidfd_open, getpid(), 1), errno);
  printf("pidfd_open bad pid %d errno %d\n", (int)syscall(SYS_pidfd_open, 0, 0), errno);
  int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
  int pp[2]; pipe(pp);
  int got = (int)syscall(SYS_pidfd_getfd, self, pp[1], 0);
  write(got, "g", 1);
  char ch = 0; read(pp[0], &ch, 1);
  printf("pidfd_getfd wrote %c cloexec %d\n", ch, fcntl(got, F_GETFD));
  printf("pidfd_getfd bad fd %d errno %d\n", (int)syscall(SYS_pidfd_getfd, self, 999, 0), errno);
  printf("pidfd send to non-pidfd %d errno %d\n", (int)syscall(SYS_pidfd_send_signal, pp[0], 0, NULL, 0), errno);
  close(got); close(pp[0]); close(pp[1]); close(self);
}

static void close_range_part(void) {
  int a = dup(1), b = dup(1), c = dup(1);
  printf("close_range cloexec %d\n", (int)syscall(SYS_close_range, a, ~0U, CLOSE_RANGE_CLOEXEC));
  printf("flags %d %d %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
  printf("close_range %d\n", (int)syscall(SYS_close_range, a, b, 0));
  printf("closed %d %d open %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
  printf("close_range bad flags %d errno %d\n", (int)syscall(SYS_close_range, 3, 4, 8), errno);
  printf("close_range first > last %d errno %d\n", (int)syscall(SYS_close_range, 9, 4, 0), errno);
  close(c);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static void itimer_part(void) {
  signal(SIGALRM, on_alarm);
  struct itimerval it = {{0, 20000}, {0, 20000}}, cur;
  printf("setitimer %d\n", setitimer(ITIMER_REAL, &it, NULL));
  getitimer(ITIMER_REAL, &cur);
  printf("getitimer interval %ld armed %d\n", cur.it_interval.tv_usec, cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 20000);
  while (alarms < 3) pause();
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, &cur);
  printf("alarms>=3 %d old interval %ld\n", alarms >= 3, cur.it_interval.tv_usec);
  alarms = 0;
  alarm(1);
  printf("alarm left %u\n", alarm(1));
  pause();
  printf("alarm fired %d\n", alarms);
  printf("setitimer bad which %d errno %d\n", setitimer(7, &it, NULL), errno);
  struct itimerval bad = {{0, 0}, {0, 1000000}};
  printf("setitimer bad usec %d errno %d\n", setitimer(ITIMER_REAL, &bad, NULL), errno);
  signal(SIGALRM, SIG_DFL);
}

static void epollet_part(void) {
  int p[2]; pipe(p);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 1}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  printf("et nothing %d\n", epoll_wait(ep, out, 2, 0));
  write(p[1], "a", 1);
  printf("et first %d\n", epoll_wait(ep, out, 2, 0));
  printf("et again (no new data) %d\n", epoll_wait(ep, out, 2, 0));
  write(p[1], "b", 1);
  printf("et more data %d\n", epoll_wait(ep, out, 2, 0));
  char b[4]; read(p[0], b, 4);
  printf("et drained %d\n", epoll_wait(ep, out, 2, 0));
  write(p[1], "c", 1);
  printf("et after drain %d\n", epoll_wait(ep, out, 2, 0));
  struct epoll_event lt = {.events = EPOLLIN, .data.u32 = 2};
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &lt);
  printf("lt %d %d\n", epoll_wait(ep, out, 2, 0), epoll_wait(ep, out, 2, 0));
  struct epoll_event one = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = 3};
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &one);
  printf("oneshot %d %d\n", epoll_wait(ep, out, 2, 0), epoll_wait(ep, out, 2, 0));
  int f = open("/proc/self/exe", O_RDONLY);
  printf("epoll regular file %d errno %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), errno);
  printf("epoll self %d errno %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), errno);
  close(f); close(ep); close(p[0]); close(p[1]);
}

static void cpus_part(void) {
  cpu_set_t s; CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  long onln = sysconf(_SC_NPROCESSORS_ONLN);
  printf("cpus affinity %d onln %ld conf>=onln %d\n", CPU_COUNT(&s), onln, sysconf(_SC_NPROCESSORS_CONF) >= onln);
  FILE *f = fopen("/sys/devices/system/cpu/online", "r");
  char line[64] = "";
  if (f != NULL) { if (fgets(line, sizeof line, f) == NULL) line[0] = 0; fclose(f); }
  printf("online %s", line);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  timerfd_part();
  signalfd_part();
  inotify_part(argc > 1 ? argv[1] : "/tmp/rvisor-events");
  memfd_part();
  pidfd_part();
  close_range_part();
  itimer_part();
  epollet_part();
  cpus_part();
  return 0;
}

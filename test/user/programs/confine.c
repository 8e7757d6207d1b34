// Path calls against a root whose symlinks point outside it (test/user_confine.test.ts).
// Usage: confine BASE SECRET HOSTDIR [rvisor] (SECRET, HOSTDIR: link targets leading out of BASE). Every call works relative to BASE; each line prints a call's
// result (0, a value, or the errno name). The common part runs under rvisor (BASE "/", the root)
// and under qemu-riscv64 (BASE a copy of the root whose absolute links are rewritten to point
// at the same root-relative, missing, places), so both must print the same. "rvisor" adds the
// calls whose Linux answer depends on the host (xattrs, fchmodat2, privileges): fixed expectations.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#define RENAME_WHITEOUT 4
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#define SYS_fchmodat2_ 452

static void res(const char *what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}

static const char *type(mode_t m) {
  return S_ISLNK(m) ? "link" : S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISSOCK(m) ? "sock" : S_ISFIFO(m) ? "fifo" : "other";
}

static void lst(const char *what, const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) { printf("%s: lstat %s\n", what, strerrorname_np(errno)); return; }
  // Times set by the program are small; others are "now" and differ between runs.
  if (st.st_mtime < 100000) printf("%s: %s uid %u mode %o mtime %ld\n", what, type(st.st_mode), st.st_uid, st.st_mode & 07777, (long)st.st_mtime);
  else printf("%s: %s uid %u mode %o\n", what, type(st.st_mode), st.st_uid, st.st_mode & 07777);
}

static void put(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) { perror(path); exit(2); }
  close(fd);
}

static void cat(const char *what, const char *path) {
  char b[64] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) { printf("%s: open %s\n", what, strerrorname_np(errno)); return; }
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  printf("%s: \"%.*s\"\n", what, (int)(n < 0 ? 0 : n), b);
}

static long un(int bindit, const char *path) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  long r = bindit ? bind(s, (struct sockaddr *)&a, sizeof a) : connect(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  if (!bindit || r != 0) close(s);
  errno = e;
  return r == 0 && bindit ? s : r;
}

static const char *secret, *hostdir;

static void common(void) {
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };

  // chown: AT_SYMLINK_NOFOLLOW changes the link itself; following leads nowhere inside the root.
  res("fchownat nofollow out-abs", fchownat(AT_FDCWD, "out-abs", 4242, 4343, AT_SYMLINK_NOFOLLOW));
  lst("  out-abs", "out-abs");
  res("fchownat nofollow out-rel", fchownat(dfd, "out-rel", 4242, -1, AT_SYMLINK_NOFOLLOW));
  res("fchownat follow out-abs", fchownat(AT_FDCWD, "out-abs", 4242, 4343, 0));
  res("fchownat follow out-rel", fchownat(dfd, "out-rel", 4242, 4343, 0));
  res("fchownat bad flags", fchownat(AT_FDCWD, "inside.txt", 1, 1, 0x2));
  res("fchownat follow in-link", fchownat(AT_FDCWD, "in-link", 4242, -1, 0));
  lst("  inside.txt", "inside.txt");
  int ofd = open("inside.txt", O_RDONLY);
  res("fchownat empty path", fchownat(ofd, "", 4545, -1, AT_EMPTY_PATH));
  res("fchownat empty path no flag", fchownat(ofd, "", 4545, -1, 0));
  lst("  inside.txt", "inside.txt");
  res("lchown out-dir", lchown("out-dir", 4646, -1));
  res("chown out-dir", chown("out-dir", 4646, -1));

  // Times.
  res("utimensat nofollow out-abs", utimensat(AT_FDCWD, "out-abs", ts, AT_SYMLINK_NOFOLLOW));
  lst("  out-abs", "out-abs");
  res("utimensat follow out-abs", utimensat(AT_FDCWD, "out-abs", ts, 0));
  res("utimensat follow out-rel", utimensat(dfd, "out-rel", ts, 0));
  res("utimensat now nofollow out-rel", utimensat(dfd, "out-rel", NULL, AT_SYMLINK_NOFOLLOW));
  res("utimensat bad flags", utimensat(AT_FDCWD, "inside.txt", ts, 0x2));
  struct timespec bad[2] = { { 1, 1000000000 }, { 1, 0 } };
  res("utimensat bad nsec", utimensat(AT_FDCWD, "inside.txt", bad, 0));
  struct timespec omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
  res("utimensat omit missing", utimensat(AT_FDCWD, "missing", omit, 0));
  res("utimensat null path fd", syscall(SYS_utimensat, ofd, NULL, ts, 0));
  lst("  inside.txt", "inside.txt");
  res("utimensat null path flags", syscall(SYS_utimensat, ofd, NULL, ts, AT_SYMLINK_NOFOLLOW));
  res("utimensat null path cwd", syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0));
  res("utimensat empty path", utimensat(ofd, "", ts, AT_EMPTY_PATH));
  res("utimensat empty path no flag", utimensat(ofd, "", ts, 0));

  // access: with AT_SYMLINK_NOFOLLOW the link itself answers, whatever (if anything) it points at.
  res("faccessat2 nofollow probe-yes", syscall(SYS_faccessat2, AT_FDCWD, "probe-yes", F_OK, AT_SYMLINK_NOFOLLOW));
  res("faccessat2 nofollow probe-no", syscall(SYS_faccessat2, AT_FDCWD, "probe-no", F_OK, AT_SYMLINK_NOFOLLOW));
  res("faccessat2 nofollow probe-no rwx", syscall(SYS_faccessat2, AT_FDCWD, "probe-no", R_OK | W_OK | X_OK, AT_SYMLINK_NOFOLLOW));
  res("faccessat2 follow probe-yes", syscall(SYS_faccessat2, AT_FDCWD, "probe-yes", F_OK, 0));
  res("faccessat2 follow probe-no", syscall(SYS_faccessat2, AT_FDCWD, "probe-no", F_OK, 0));
  res("faccessat follow probe-yes", syscall(SYS_faccessat, AT_FDCWD, "probe-yes", R_OK));
  res("faccessat2 bad mode", syscall(SYS_faccessat2, AT_FDCWD, "inside.txt", 8, 0));
  res("faccessat2 bad flags", syscall(SYS_faccessat2, AT_FDCWD, "inside.txt", F_OK, 0x2));
  res("faccessat2 empty path", syscall(SYS_faccessat2, ofd, "", R_OK, AT_EMPTY_PATH));
  res("faccessat2 empty path no flag", syscall(SYS_faccessat2, ofd, "", R_OK, 0));
  res("faccessat2 in-link", syscall(SYS_faccessat2, dfd, "in-link", R_OK | W_OK, 0));

  // chmod: a link's mode cannot change (glibc's fchmodat emulation: O_PATH|O_NOFOLLOW + fstatat).
  res("fchmodat nofollow out-abs", fchmodat(AT_FDCWD, "out-abs", 0777, AT_SYMLINK_NOFOLLOW));
  res("fchmodat follow out-abs", fchmodat(AT_FDCWD, "out-abs", 0777, 0));
  res("fchmodat nofollow inside", fchmodat(AT_FDCWD, "inside.txt", 0640, AT_SYMLINK_NOFOLLOW));
  res("fchmodat follow in-link", fchmodat(dfd, "in-link", 0604, 0));
  lst("  inside.txt", "inside.txt");
  res("chmod out-dir/secret", chmod("out-dir/secret", 0777));

  // Hard links: without AT_SYMLINK_FOLLOW the link itself is linked.
  res("linkat nofollow out-abs", linkat(AT_FDCWD, "out-abs", AT_FDCWD, "hard-link", 0));
  lst("  hard-link", "hard-link");
  res("linkat follow out-abs", linkat(AT_FDCWD, "out-abs", AT_FDCWD, "hard-2", AT_SYMLINK_FOLLOW));
  res("linkat follow in-link", linkat(AT_FDCWD, "in-link", dfd, "hard-3", AT_SYMLINK_FOLLOW));
  lst("  hard-3", "hard-3");
  res("linkat bad flags", linkat(AT_FDCWD, "inside.txt", AT_FDCWD, "hard-4", 0x100));
  res("linkat onto link", linkat(AT_FDCWD, "inside.txt", AT_FDCWD, "probe-no", 0));

  // Renames act on names, links included; flag combinations as fs/namei.c.
  put("a.txt", "A"); put("b.txt", "B");
  res("renameat2 noreplace existing", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "b.txt", RENAME_NOREPLACE));
  res("renameat2 exchange|noreplace", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "b.txt", RENAME_EXCHANGE | RENAME_NOREPLACE));
  res("renameat2 exchange|whiteout", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "b.txt", RENAME_EXCHANGE | RENAME_WHITEOUT));
  res("renameat2 unknown flag", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "b.txt", 8));
  res("renameat2 exchange", syscall(SYS_renameat2, AT_FDCWD, "a.txt", dfd, "b.txt", RENAME_EXCHANGE));
  cat("  a.txt", "a.txt"); cat("  b.txt", "b.txt");
  res("renameat2 exchange missing", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "nothere", RENAME_EXCHANGE));
  res("renameat2 exchange with link", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "probe-no", RENAME_EXCHANGE));
  lst("  a.txt", "a.txt");
  cat("  probe-no", "probe-no");
  res("renameat2 exchange back", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "probe-no", RENAME_EXCHANGE));
  res("renameat2 noreplace new", syscall(SYS_renameat2, AT_FDCWD, "b.txt", AT_FDCWD, "c.txt", RENAME_NOREPLACE));
  res("rename out-abs", rename("out-abs", "moved-link"));
  lst("  moved-link", "moved-link");
  res("rename back", rename("moved-link", "out-abs"));
  res("rename through out-dir", rename("c.txt", "out-dir/c.txt"));

  // readlinkat.
  char buf[256];
  long n = readlinkat(dfd, "in-link", buf, sizeof buf);
  printf("readlinkat in-link: %ld \"%.*s\"\n", n, (int)(n < 0 ? 0 : n), buf);
  res("readlinkat regular", readlinkat(dfd, "inside.txt", buf, sizeof buf));
  res("readlinkat missing", readlinkat(dfd, "missing", buf, sizeof buf));
  res("readlinkat bufsiz 0", readlinkat(dfd, "in-link", buf, 0));
  res("readlinkat in-link/", readlinkat(dfd, "in-link/", buf, sizeof buf));
  int pfd = open("in-link", O_PATH | O_NOFOLLOW);
  n = readlinkat(pfd, "", buf, sizeof buf);
  printf("readlinkat O_PATH link: %ld \"%.*s\"\n", n, (int)(n < 0 ? 0 : n), buf);
  res("readlinkat regular fd", readlinkat(ofd, "", buf, sizeof buf));

  // mknodat never follows the last component.
  res("mknodat reg", mknodat(dfd, "node-reg", S_IFREG | 0600, 0));
  res("mknodat zero type", mknodat(dfd, "node-zero", 0600, 0));
  lst("  node-zero", "node-zero");
  res("mknodat dir", mknodat(dfd, "node-dir", S_IFDIR | 0700, 0));
  res("mknodat bad type", mknodat(dfd, "node-bad", 0170000 | 0600, 0));
  res("mknodat on dangling link", mknodat(dfd, "make-out", S_IFREG | 0600, 0));
  res("mknodat existing", mknodat(dfd, "inside.txt", S_IFREG | 0600, 0));

  // open.
  res("open excl on dangling link", open("make-out", O_WRONLY | O_CREAT | O_EXCL, 0600));
  res("open nofollow link", open("out-abs", O_RDONLY | O_NOFOLLOW));
  res("open out-dir/secret", open("out-dir/secret", O_RDONLY));
  res("open out-abs", open("out-abs", O_RDONLY));
  int lfd = open("out-abs", O_PATH | O_NOFOLLOW);
  printf("open O_PATH|O_NOFOLLOW link: %s\n", lfd >= 0 ? "fd" : strerrorname_np(errno));
  struct stat st;
  res("fstatat empty path O_PATH link", fstatat(lfd, "", &st, AT_EMPTY_PATH));
  printf("  type %s uid %u\n", type(st.st_mode), st.st_uid);
  res("fchown O_PATH", fchown(lfd, 1, 1));
  res("read O_PATH", read(lfd, buf, 1));
  close(lfd);
  res("open creat through out-dir", open("out-dir/new", O_WRONLY | O_CREAT, 0600));

  // stat.
  res("fstatat nofollow out-abs", fstatat(AT_FDCWD, "out-abs", &st, AT_SYMLINK_NOFOLLOW));
  printf("  type %s\n", type(st.st_mode));
  res("fstatat follow out-abs", fstatat(AT_FDCWD, "out-abs", &st, 0));
  res("fstatat bad flags", fstatat(AT_FDCWD, "inside.txt", &st, 0x1));
  res("fstatat empty no flag", fstatat(ofd, "", &st, 0));
  struct statx sx;
  res("statx nofollow out-rel", statx(dfd, "out-rel", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx));
  printf("  type %s\n", type(sx.stx_mode));
  res("statx follow out-rel", statx(dfd, "out-rel", 0, STATX_BASIC_STATS, &sx));
  res("statx sync both", statx(dfd, "inside.txt", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx));
  res("statx reserved mask", statx(dfd, "inside.txt", 0, 0x80000000u, &sx));
  res("statx empty path", statx(ofd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
  printf("  type %s\n", type(sx.stx_mode));

  // truncate, chdir, unlink.
  res("truncate out-abs", truncate("out-abs", 0));
  res("truncate dir", truncate("sub", 0));
  res("truncate in-link", truncate("in-link", 3));
  cat("  inside.txt", "inside.txt");
  res("chdir out-dir", chdir("out-dir"));
  res("unlinkat bad flags", unlinkat(dfd, "hard-link", 0x100));
  res("unlinkat hard-link", unlinkat(dfd, "hard-link", 0));
  lst("  out-abs", "out-abs");
  res("rmdir link to dir", unlinkat(dfd, "out-dir", AT_REMOVEDIR));

  // Descriptors keep naming their file when its name is replaced by a link that leads out.
  int ffd = open("victim.txt", O_RDONLY);
  res("rename victim", rename("victim.txt", "victim2.txt"));
  res("symlink over victim", symlink(secret, "victim.txt"));
  res("fchmod swapped", fchmod(ffd, 0666));
  res("fchown swapped", fchown(ffd, 4747, -1));
  res("futimens swapped", futimens(ffd, ts));
  lst("  victim2.txt", "victim2.txt");
  int ddfd = open("sub", O_RDONLY | O_DIRECTORY);
  res("rename sub", rename("sub", "sub2"));
  res("symlink over sub", symlink(hostdir, "sub"));
  res("fchmod swapped dir", fchmod(ddfd, 0711));
  DIR *d = fdopendir(ddfd);
  struct dirent *e;
  int names = 0, kept = 0;
  while ((e = readdir(d)) != NULL) { names++; if (strcmp(e->d_name, "kept.txt") == 0) kept = 1; }
  printf("getdents swapped dir: %d entries, kept.txt %s\n", names, kept ? "yes" : "no");
  lst("  sub2", "sub2");

  // Unix sockets: connect follows links inside the root only; bind never follows.
  res("connect out-sock", un(0, "out-sock"));
  res("connect out-dir/host.sock", un(0, "out-dir/host.sock"));
  res("bind on dangling link", un(1, "make-out"));
  res("bind on link", un(1, "out-sock"));
  int ls = un(1, "sock-dir/s.sock");
  res("bind sock-dir/s.sock", ls < 0 ? -1 : 0);
  res("listen", listen(ls, 4));
  res("symlink to socket", symlink("sock-dir/s.sock", "s-link"));
  res("connect s-link", un(0, "s-link") == 0 ? 0 : -1);
  lst("  sock-dir/s.sock", "sock-dir/s.sock");
}

static void rvisor_only(void) {
  char v[16];
  // No xattrs on this filesystem: EOPNOTSUPP after the lookup; user.* on a link: EPERM / ENODATA.
  res("setxattr inside", setxattr("inside.txt", "user.a", "v", 1, 0));
  res("setxattr out-abs", setxattr("out-abs", "user.a", "v", 1, 0));
  res("lsetxattr out-abs", lsetxattr("out-abs", "user.a", "v", 1, 0));
  res("lsetxattr out-abs trusted", lsetxattr("out-abs", "trusted.a", "v", 1, 0));
  res("setxattr bad flags", setxattr("inside.txt", "user.a", "v", 1, 4));
  res("setxattr empty name", setxattr("inside.txt", "", "v", 1, 0));
  res("setxattr missing", setxattr("missing", "user.a", "v", 1, 0));
  res("getxattr inside", getxattr("inside.txt", "user.a", v, sizeof v));
  res("getxattr out-abs", getxattr("out-abs", "user.a", v, sizeof v));
  res("lgetxattr out-abs", lgetxattr("out-abs", "user.a", v, sizeof v));
  res("lgetxattr out-abs security", lgetxattr("out-abs", "security.a", v, sizeof v));
  res("listxattr inside", listxattr("inside.txt", v, sizeof v));
  res("listxattr out-abs", listxattr("out-abs", v, sizeof v));
  res("llistxattr out-abs", llistxattr("out-abs", v, sizeof v));
  res("removexattr inside", removexattr("inside.txt", "user.a"));
  res("lremovexattr out-abs", lremovexattr("out-abs", "user.a"));
  res("removexattr out-rel", removexattr("out-rel", "user.a"));
  int fd = open("inside.txt", O_RDONLY);
  int pfd = open("inside.txt", O_PATH);
  res("fsetxattr", fsetxattr(fd, "user.a", "v", 1, 0));
  res("fgetxattr", fgetxattr(fd, "user.a", v, sizeof v));
  res("flistxattr", flistxattr(fd, v, sizeof v));
  res("fremovexattr", fremovexattr(fd, "user.a"));
  res("fgetxattr O_PATH", fgetxattr(pfd, "user.a", v, sizeof v));
  res("fgetxattr bad fd", fgetxattr(99, "user.a", v, sizeof v));
  // fchmodat2 (Linux 6.6; qemu 7.2 does not know it).
  res("fchmodat2 nofollow out-abs", syscall(SYS_fchmodat2_, AT_FDCWD, "out-abs", 0777, AT_SYMLINK_NOFOLLOW));
  res("fchmodat2 nofollow inside", syscall(SYS_fchmodat2_, AT_FDCWD, "inside.txt", 0644, AT_SYMLINK_NOFOLLOW));
  res("fchmodat2 empty path", syscall(SYS_fchmodat2_, fd, "", 0640, AT_EMPTY_PATH));
  lst("  inside.txt", "inside.txt");
  res("fchmodat2 bad flags", syscall(SYS_fchmodat2_, AT_FDCWD, "inside.txt", 0644, 0x2));
  // The guest user lacks CAP_DAC_READ_SEARCH and CAP_MKNOD (qemu runs as the host's root).
  res("linkat empty path", linkat(fd, "", AT_FDCWD, "hard-5", AT_EMPTY_PATH));
  res("mknodat chr", mknodat(AT_FDCWD, "node-chr", S_IFCHR | 0600, makedev(1, 3)));
  res("renameat2 whiteout", syscall(SYS_renameat2, AT_FDCWD, "a.txt", AT_FDCWD, "w.txt", RENAME_WHITEOUT));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 4 || chdir(argv[1]) != 0) { perror("chdir"); return 2; }
  secret = argv[2]; hostdir = argv[3];
  common();
  if (argc > 4 && strcmp(argv[4], "rvisor") == 0) { printf("-- rvisor\n"); rvisor_only(); }
  return 0;
}

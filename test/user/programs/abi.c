// The Linux ABI as riscv64 userspace sees it (the cross toolchain's glibc and kernel headers), for
// test/user_abi.test.ts to hold src/abi/linux.ts against: constants by name, and the struct
// layouts read back from bytes rvisor's codecs wrote (stdin), field by field.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/stat.h>

#define C(x) printf("%s %ld\n", #x, (long)(x))
#define T(ts) (long long)(ts).tv_sec, (long)(ts).tv_nsec

static unsigned char buf[65536];

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "constants") == 0) {
    C(EPERM); C(ENOENT); C(ESRCH); C(EINTR); C(EIO); C(ENXIO); C(E2BIG); C(ENOEXEC); C(EBADF); C(ECHILD); C(EAGAIN);
    C(ENOMEM); C(EACCES); C(EFAULT); C(EBUSY); C(EEXIST); C(EXDEV); C(ENODEV); C(ENOTDIR); C(EISDIR); C(EINVAL);
    C(ENFILE); C(EMFILE); C(ENOTTY); C(EFBIG); C(ENOSPC); C(ESPIPE); C(EROFS); C(EMLINK); C(EPIPE); C(ERANGE);
    C(EDEADLK); C(ENAMETOOLONG); C(ENOLCK); C(ENOSYS); C(ENOTEMPTY); C(ELOOP); C(ENODATA); C(EPROTO); C(EOVERFLOW);
    C(ENOTSOCK); C(EDESTADDRREQ); C(EMSGSIZE); C(EPROTOTYPE); C(ENOPROTOOPT); C(EPROTONOSUPPORT); C(ESOCKTNOSUPPORT);
    C(EOPNOTSUPP); C(ENOTSUP); C(EAFNOSUPPORT); C(EADDRINUSE); C(EADDRNOTAVAIL); C(ENETUNREACH); C(ECONNABORTED);
    C(ECONNRESET); C(EISCONN); C(ENOTCONN); C(ETIMEDOUT); C(ECONNREFUSED); C(EHOSTUNREACH); C(EALREADY); C(EINPROGRESS);
    C(O_ACCMODE); C(O_RDONLY); C(O_WRONLY); C(O_RDWR); C(O_CREAT); C(O_EXCL); C(O_NOCTTY); C(O_TRUNC); C(O_APPEND);
    C(O_NONBLOCK); C(O_DSYNC); C(O_DIRECT); C(O_DIRECTORY); C(O_NOFOLLOW); C(O_NOATIME); C(O_CLOEXEC); C(O_SYNC);
    C(O_PATH); C(O_TMPFILE);
    C(AT_FDCWD); C(AT_SYMLINK_NOFOLLOW); C(AT_REMOVEDIR); C(AT_EACCESS); C(AT_SYMLINK_FOLLOW); C(AT_NO_AUTOMOUNT);
    C(AT_EMPTY_PATH); C(AT_STATX_SYNC_TYPE); C(RENAME_NOREPLACE); C(RENAME_EXCHANGE); C(RENAME_WHITEOUT);
    C(F_OK); C(X_OK); C(W_OK); C(R_OK); C(UTIME_NOW); C(UTIME_OMIT);
    C(POLLIN); C(POLLPRI); C(POLLOUT); C(POLLERR); C(POLLHUP); C(POLLNVAL); C(POLLRDHUP);
    C(S_IFMT); C(S_IFSOCK); C(S_IFLNK); C(S_IFREG); C(S_IFBLK); C(S_IFDIR); C(S_IFCHR); C(S_IFIFO); C(ALLPERMS);
    C(DT_UNKNOWN); C(DT_FIFO); C(DT_CHR); C(DT_DIR); C(DT_BLK); C(DT_REG); C(DT_LNK); C(DT_SOCK);
    C(STATX_BASIC_STATS);
    C(sizeof(struct stat)); C(sizeof(struct statx)); C(sizeof(struct statfs)); C(sizeof(siginfo_t));
    for (int s = 1; s < 32; s++) printf("SIG%s %d\n", sigabbrev_np(s), s);
    return 0;
  }
  ssize_t n = read(0, buf, sizeof buf), m;
  while (n > 0 && (m = read(0, buf + n, sizeof buf - n)) > 0) n += m;
  if (strcmp(argv[1], "stat") == 0) {
    struct stat *s = (struct stat *)buf;
    printf("dev %llu ino %llu mode %o nlink %u uid %u gid %u rdev %llu size %lld blksize %d blocks %lld\n",
      (unsigned long long)s->st_dev, (unsigned long long)s->st_ino, s->st_mode, (unsigned)s->st_nlink, s->st_uid, s->st_gid,
      (unsigned long long)s->st_rdev, (long long)s->st_size, (int)s->st_blksize, (long long)s->st_blocks);
    printf("atime %lld.%ld mtime %lld.%ld ctime %lld.%ld\n", T(s->st_atim), T(s->st_mtim), T(s->st_ctim));
  } else if (strcmp(argv[1], "statx") == 0) {
    struct statx *x = (struct statx *)buf;
    printf("mask %#x blksize %u nlink %u uid %u gid %u mode %o ino %llu size %llu blocks %llu\n", x->stx_mask, x->stx_blksize,
      x->stx_nlink, x->stx_uid, x->stx_gid, x->stx_mode, (unsigned long long)x->stx_ino, (unsigned long long)x->stx_size,
      (unsigned long long)x->stx_blocks);
    printf("atime %lld.%u btime %lld.%u ctime %lld.%u mtime %lld.%u\n", (long long)x->stx_atime.tv_sec, x->stx_atime.tv_nsec,
      (long long)x->stx_btime.tv_sec, x->stx_btime.tv_nsec, (long long)x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec,
      (long long)x->stx_mtime.tv_sec, x->stx_mtime.tv_nsec);
    printf("rdev %u:%u dev %u:%u\n", x->stx_rdev_major, x->stx_rdev_minor, x->stx_dev_major, x->stx_dev_minor);
  } else if (strcmp(argv[1], "statfs") == 0) {
    struct statfs *f = (struct statfs *)buf;
    printf("type %#lx bsize %ld blocks %llu bfree %llu bavail %llu files %llu ffree %llu namelen %ld frsize %ld\n", (long)f->f_type,
      (long)f->f_bsize, (unsigned long long)f->f_blocks, (unsigned long long)f->f_bfree, (unsigned long long)f->f_bavail,
      (unsigned long long)f->f_files, (unsigned long long)f->f_ffree, (long)f->f_namelen, (long)f->f_frsize);
  } else if (strcmp(argv[1], "siginfo") == 0) {
    // Records of SIGINFO_SIZE bytes: a SIGCHLD (pid, uid, status), a sigqueue value, a fault address.
    for (ssize_t o = 0; o + (ssize_t)sizeof(siginfo_t) <= n; o += sizeof(siginfo_t)) {
      siginfo_t *si = (siginfo_t *)(buf + o);
      printf("signo %d code %d pid %d uid %u status %d value %lld addr %#llx\n", si->si_signo, si->si_code, si->si_pid, si->si_uid,
        si->si_status, (long long)(intptr_t)si->si_value.sival_ptr, (unsigned long long)(uintptr_t)si->si_addr);
    }
  } else if (strcmp(argv[1], "dirent") == 0) {
    for (ssize_t o = 0; o < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + o);
      printf("ino %llu off %lld reclen %u type %u name %s\n", (unsigned long long)d->d_ino, (long long)d->d_off, d->d_reclen, d->d_type, d->d_name);
      if (d->d_reclen == 0) return 1;
      o += d->d_reclen;
    }
  } else return 2;
  return 0;
}

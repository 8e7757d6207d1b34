// Files: open/read/write/lseek/stat/getdents/rename/unlink/symlink/readlink/pipe/dup.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(int argc, char **argv) {
  char dir[256];
  snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp/rvisor-files-test");
  mkdir(dir, 0755);
  if (chdir(dir) != 0) { perror("chdir"); return 1; }
  int fd = open("a.txt", O_CREAT | O_TRUNC | O_RDWR, 0644);
  printf("open %d\n", fd >= 0);
  const char *msg = "hello files\n";
  printf("write %zd\n", write(fd, msg, strlen(msg)));
  struct iovec iov[2] = {{"ab", 2}, {"cd\n", 3}};
  printf("writev %zd\n", writev(fd, iov, 2));
  printf("lseek %ld\n", (long)lseek(fd, 0, SEEK_SET));
  char buf[64] = {0};
  printf("read %zd: %s", read(fd, buf, sizeof buf - 1), buf);
  printf("pread %zd\n", pread(fd, buf, 5, 6));
  struct stat st;
  fstat(fd, &st);
  printf("size %ld reg %d mode %o\n", (long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
  close(fd);
  printf("stat missing %d errno %d\n", stat("nope", &st), errno);
  printf("symlink %d\n", symlink("a.txt", "link"));
  ssize_t n = readlink("link", buf, sizeof buf);
  buf[n] = 0;
  printf("readlink %s\n", buf);
  printf("lstat link %d\n", lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
  printf("rename %d\n", rename("a.txt", "b.txt"));
  printf("mkdir %d\n", mkdir("sub", 0700));
  DIR *d = opendir(".");
  char *names[16]; int cnt = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) if (e->d_name[0] != '.') names[cnt++] = strdup(e->d_name);
  closedir(d);
  qsort(names, cnt, sizeof(char *), cmp);
  for (int i = 0; i < cnt; i++) printf("entry %s\n", names[i]);
  int p[2];
  pipe(p);
  write(p[1], "pipe!", 5);
  n = read(p[0], buf, sizeof buf);
  printf("pipe %zd %.5s\n", n, buf);
  int d2 = dup(p[1]);
  close(p[1]);
  write(d2, "x", 1);
  close(d2);
  printf("read %zd\n", read(p[0], buf, 10));
  printf("read eof %zd\n", read(p[0], buf, 10));
  FILE *f = fopen("b.txt", "a");
  fprintf(f, "appended\n");
  fclose(f);
  f = fopen("b.txt", "r");
  while (fgets(buf, sizeof buf, f)) printf("line %s", buf);
  fclose(f);
  printf("access %d %d\n", access("b.txt", R_OK), access("nope", F_OK));
  unlink("link"); unlink("b.txt"); rmdir("sub");
  char cwd[256]; getcwd(cwd, sizeof cwd);
  printf("cwd ok %d\n", strcmp(cwd, dir) == 0);
  chdir("/");
  printf("rmdir %d\n", rmdir(dir));
  printf("devnull %zd\n", write(open("/dev/null", O_WRONLY), "x", 1));
  fd = open("/dev/zero", O_RDONLY); read(fd, buf, 4);
  printf("zero %d\n", buf[0] + buf[1] + buf[2] + buf[3]);
  n = readlink("/proc/self/exe", buf, sizeof buf);
  printf("exe ok %d\n", n > 0);
  f = fopen("/proc/self/maps", "r");
  printf("maps %d\n", f != NULL && fgets(buf, sizeof buf, f) != NULL);
  return 0;
}

#define _GNU_SOURCE
// Sockets: TCP echo over IPv4 and IPv6 (fork and threads), non-blocking connect, refused
// connections, UDP, Unix socketpair (stream, datagram, seqpacket, SCM_RIGHTS), a Unix listening
// socket and Unix datagrams, socket options. argv[1]: a directory for Unix socket paths.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#define CHECK(x) do { if ((x) < 0) { printf("FAIL %s line %d errno %d\n", #x, __LINE__, errno); exit(1); } } while (0)

static socklen_t loopback(int fam, struct sockaddr_storage *ss, int port) {
  memset(ss, 0, sizeof *ss);
  if (fam == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET; a->sin_port = htons(port); a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6; a->sin6_port = htons(port); a->sin6_addr = in6addr_loopback;
  return sizeof *a;
}

static int port_of(int fd) {
  struct sockaddr_storage ss; socklen_t len = sizeof ss;
  CHECK(getsockname(fd, (struct sockaddr *)&ss, &len));
  return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int listener(int fam, int *port) {
  int s = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(s);
  int one = 1;
  CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  struct sockaddr_storage ss; socklen_t len = loopback(fam, &ss, 0);
  CHECK(bind(s, (struct sockaddr *)&ss, len));
  CHECK(listen(s, 8));
  *port = port_of(s);
  return s;
}

static int connect_to(int fam, int port) {
  int c = socket(fam, SOCK_STREAM, 0);
  CHECK(c);
  struct sockaddr_storage ss; socklen_t len = loopback(fam, &ss, port);
  CHECK(connect(c, (struct sockaddr *)&ss, len));
  return c;
}

static ssize_t read_all(int fd, char *buf, size_t max) {
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, max - n);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) return n;
    n += r;
  }
}

// Server side of the echo: epoll until EOF, echo everything back, then close.
static long echo_server(int c) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
  long total = 0;
  char buf[4096];
  for (;;) {
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, 5000);
    if (n <= 0) { printf("epoll timeout\n"); break; }
    ssize_t r = recv(c, buf, sizeof buf, 0);
    if (r <= 0) break;
    total += r;
    for (ssize_t o = 0; o < r;) { ssize_t w = send(c, buf + o, r - o, MSG_NOSIGNAL); CHECK(w); o += w; }
  }
  close(ep);
  close(c);
  return total;
}

static void tcp_fork(int fam) {
  int port;
  int s = listener(fam, &port);
  int acc = 0; socklen_t al = sizeof acc;
  getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
  pid_t pid = fork();
  if (pid == 0) {
    close(s);
    int c = connect_to(fam, port);
    int one = 1;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = 'a' + i % 26;
    const char *hello = "hello over tcp\n";
    CHECK(send(c, hello, strlen(hello), 0));
    for (size_t o = 0; o < sizeof big;) { ssize_t w = write(c, big + o, sizeof big - o); CHECK(w); o += w; }
    CHECK(shutdown(c, SHUT_WR));
    static char back[300000];
    ssize_t n = read_all(c, back, sizeof back);
    int same = n == (ssize_t)(strlen(hello) + sizeof big) && memcmp(back, hello, strlen(hello)) == 0 && memcmp(back + strlen(hello), big, sizeof big) == 0;
    printf("  child: echoed %zd bytes, same %d, first line %.14s\n", n, same, back);
    close(c);
    _exit(0);
  }
  struct sockaddr_storage peer; socklen_t pl = sizeof peer;
  int c = accept4(s, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
  CHECK(c);
  int isloop = fam == AF_INET ? ((struct sockaddr_in *)&peer)->sin_addr.s_addr == htonl(INADDR_LOOPBACK)
                              : memcmp(&((struct sockaddr_in6 *)&peer)->sin6_addr, &in6addr_loopback, 16) == 0;
  struct sockaddr_storage me; socklen_t ml = sizeof me;
  CHECK(getsockname(c, (struct sockaddr *)&me, &ml));
  int same_port = port_of(c) == port;
  fflush(stdout);
  long total = echo_server(c);
  int st; waitpid(pid, &st, 0);
  printf("tcp %s: acceptconn %d, peer family ok %d loopback %d, local port ok %d, server saw %ld bytes, child exit %d\n",
         fam == AF_INET ? "ipv4" : "ipv6", acc, peer.ss_family == fam, isloop, same_port, total, WEXITSTATUS(st));
  close(s);
}

struct targ { int s; long total; };
static void *server_thread(void *p) {
  struct targ *a = p;
  struct pollfd pf = {a->s, POLLIN, 0};
  int n = poll(&pf, 1, 5000);
  if (n != 1) { printf("poll on listener %d\n", n); return NULL; }
  int c = accept(a->s, NULL, NULL);
  CHECK(c);
  a->total = echo_server(c);
  return NULL;
}

static void tcp_threads(int fam) {
  int port;
  struct targ a;
  a.s = listener(fam, &port);
  pthread_t th;
  pthread_create(&th, NULL, server_thread, &a);
  // Non-blocking connect: EINPROGRESS (or immediate success), then POLLOUT and SO_ERROR 0.
  int c = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage ss; socklen_t len = loopback(fam, &ss, port);
  int r = connect(c, (struct sockaddr *)&ss, len);
  int inprog = r == 0 || errno == EINPROGRESS;
  struct pollfd pf = {c, POLLOUT, 0};
  int n = poll(&pf, 1, 5000);
  int err = -1; socklen_t el = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
  fcntl(c, F_SETFL, 0);
  char msg[] = "threads say hi";
  CHECK(send(c, msg, sizeof msg, 0));
  char buf[64];
  ssize_t got = 0;
  while (got < (ssize_t)sizeof msg) { ssize_t k = recv(c, buf + got, sizeof buf - got, 0); if (k <= 0) break; got += k; }
  // A peek sees the same bytes as the next read.
  shutdown(c, SHUT_WR);
  char tail[8]; ssize_t eof = recv(c, tail, sizeof tail, 0);
  pthread_join(th, NULL);
  printf("tcp threads %s: connect ok %d poll %d revents-out %d so_error %d reply '%s' (%zd), eof %zd, server saw %ld\n",
         fam == AF_INET ? "ipv4" : "ipv6", inprog, n, (pf.revents & POLLOUT) != 0, err, buf, got, eof, a.total);
  close(c);
  close(a.s);
}

static void tcp_refused(void) {
  int port;
  int s = listener(AF_INET, &port);
  close(s);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss; socklen_t len = loopback(AF_INET, &ss, port);
  int r = connect(c, (struct sockaddr *)&ss, len);
  printf("connect to closed port: %d %s\n", r, r < 0 && errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
  char b;
  r = recv(c, &b, 1, MSG_DONTWAIT);
  printf("recv on unconnected: %d %s\n", r, errno == ENOTCONN ? "ENOTCONN" : strerror(errno));
  close(c);
  // Timeouts: SO_RCVTIMEO on a socketpair with nothing to read.
  int sv[2]; CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  struct timeval tv = {0, 50000};
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  r = recv(sv[0], &b, 1, 0);
  printf("recv with SO_RCVTIMEO: %d %s\n", r, errno == EAGAIN ? "EAGAIN" : strerror(errno));
  close(sv[0]); close(sv[1]);
}

static void udp(int fam) {
  int a = socket(fam, SOCK_DGRAM, 0), b = socket(fam, SOCK_DGRAM, 0);
  struct sockaddr_storage sa, sb; socklen_t la = loopback(fam, &sa, 0), lb = loopback(fam, &sb, 0);
  CHECK(bind(a, (struct sockaddr *)&sa, la));
  CHECK(bind(b, (struct sockaddr *)&sb, lb));
  int pa = port_of(a), pb = port_of(b);
  loopback(fam, &sb, pb);
  const char *m1 = "datagram one", *m2 = "datagram two, longer";
  CHECK(sendto(a, m1, strlen(m1), 0, (struct sockaddr *)&sb, lb));
  CHECK(sendto(a, m2, strlen(m2), 0, (struct sockaddr *)&sb, lb));
  char buf[64];
  struct sockaddr_storage from; socklen_t fl = sizeof from;
  ssize_t n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
  int fromport = fam == AF_INET ? ntohs(((struct sockaddr_in *)&from)->sin_port) : ntohs(((struct sockaddr_in6 *)&from)->sin6_port);
  printf("udp %s: got '%.*s' from sender port ok %d family ok %d\n", fam == AF_INET ? "ipv4" : "ipv6", (int)n, buf, fromport == pa, from.ss_family == fam);
  // A short buffer truncates: recvmsg reports MSG_TRUNC, and MSG_TRUNC returns the real length.
  struct iovec iov = {buf, 8};
  struct msghdr mh = {0};
  mh.msg_iov = &iov; mh.msg_iovlen = 1;
  n = recvmsg(b, &mh, MSG_PEEK);
  ssize_t full = recv(b, buf, 8, MSG_TRUNC);
  printf("  peek %zd trunc flag %d, MSG_TRUNC length %zd '%.8s'\n", n, (mh.msg_flags & MSG_TRUNC) != 0, full, buf);
  // Connected UDP: send/recv without addresses.
  loopback(fam, &sa, pa);
  CHECK(connect(b, (struct sockaddr *)&sa, la));
  CHECK(send(b, "pong", 4, 0));
  n = recv(a, buf, sizeof buf, 0);
  printf("  connected reply '%.*s'\n", (int)n, buf);
  struct pollfd pf = {a, POLLIN, 0};
  printf("  poll empty %d\n", poll(&pf, 1, 20));
  close(a); close(b);
}

static void unix_pair(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  write(sv[0], "abc", 3);
  write(sv[0], "def", 3);
  char buf[64];
  ssize_t n = read(sv[1], buf, sizeof buf);
  printf("socketpair stream: '%.*s'\n", (int)n, buf);
  // SCM_RIGHTS: pass the read end of a pipe.
  int p[2]; pipe(p);
  write(p[1], "through the pipe", 16);
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {"x", 1};
  struct msghdr mh = {0};
  mh.msg_iov = &iov; mh.msg_iovlen = 1; mh.msg_control = cbuf; mh.msg_controllen = sizeof cbuf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
  CHECK(sendmsg(sv[0], &mh, 0));
  close(p[0]);
  char rc[CMSG_SPACE(sizeof(int))], x;
  struct iovec riov = {&x, 1};
  struct msghdr rm = {0};
  rm.msg_iov = &riov; rm.msg_iovlen = 1; rm.msg_control = rc; rm.msg_controllen = sizeof rc;
  n = recvmsg(sv[1], &rm, 0);
  struct cmsghdr *rcm = CMSG_FIRSTHDR(&rm);
  int got = -1;
  if (rcm && rcm->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(rcm), sizeof got);
  n = got >= 0 ? read(got, buf, sizeof buf) : -1;
  printf("SCM_RIGHTS: fd passed %d, read '%.*s'\n", got >= 0, (int)(n > 0 ? n : 0), buf);
  close(got); close(p[1]);
  // Peer credentials and shutdown.
  struct ucred cr; socklen_t cl = sizeof cr;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &cl));
  printf("SO_PEERCRED pid is us %d\n", cr.pid == getpid());
  shutdown(sv[0], SHUT_WR);
  printf("after shutdown: read %zd\n", read(sv[1], buf, sizeof buf));
  close(sv[1]);
  signal(SIGPIPE, SIG_IGN);
  printf("write to closed peer: %zd %s\n", write(sv[0], "z", 1), errno == EPIPE ? "EPIPE" : strerror(errno));
  close(sv[0]);
  // Datagram and seqpacket pairs keep message boundaries.
  for (int type = SOCK_DGRAM; type <= SOCK_SEQPACKET; type += SOCK_SEQPACKET - SOCK_DGRAM) {
    CHECK(socketpair(AF_UNIX, type, 0, sv));
    send(sv[0], "one", 3, 0); send(sv[0], "two!", 4, 0);
    ssize_t a = recv(sv[1], buf, sizeof buf, 0), b = recv(sv[1], buf + 10, sizeof buf, 0);
    close(sv[0]);
    ssize_t c = type == SOCK_SEQPACKET ? recv(sv[1], buf, sizeof buf, 0) : -2;
    printf("socketpair %s: %zd %zd after close %zd\n", type == SOCK_DGRAM ? "dgram" : "seqpacket", a, b, c);
    close(sv[1]);
  }
}

static void unix_listen(const char *dir) {
  char path[200];
  snprintf(path, sizeof path, "%s/sock", dir);
  unlink(path);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {0};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
  CHECK(listen(s, 4));
  struct sockaddr_un b = {0}; socklen_t bl = sizeof b;
  int again = bind(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, sizeof a);
  printf("unix: second bind %d %s\n", again, errno == EADDRINUSE ? "EADDRINUSE" : strerror(errno));
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_un pn = {0}; socklen_t pnl = sizeof pn;
    CHECK(getpeername(c, (struct sockaddr *)&pn, &pnl));
    printf("  child: peer is the path %d\n", strcmp(pn.sun_path, path) == 0);
    fflush(stdout);
    write(c, "unix hello", 10);
    shutdown(c, SHUT_WR);
    char buf[64];
    ssize_t n = read_all(c, buf, sizeof buf);
    printf("  child: reply '%.*s'\n", (int)n, buf);
    _exit(0);
  }
  int c = accept(s, (struct sockaddr *)&b, &bl);
  CHECK(c);
  char buf[64];
  ssize_t n = read_all(c, buf, sizeof buf);
  struct sockaddr_un me = {0}; socklen_t ml = sizeof me;
  getsockname(c, (struct sockaddr *)&me, &ml);
  char reply[80];
  int rl = snprintf(reply, sizeof reply, "got %.*s", (int)n, buf);
  write(c, reply, rl);
  close(c);
  int st; waitpid(pid, &st, 0);
  printf("unix listen: peer addrlen %d family %d, local is the path %d, read '%.*s'\n", (int)bl, b.sun_family, strcmp(me.sun_path, path) == 0, (int)n, buf);
  close(s);
  unlink(path);
  // Unix datagrams between two bound names.
  char p1[200], p2[200];
  snprintf(p1, sizeof p1, "%s/d1", dir); snprintf(p2, sizeof p2, "%s/d2", dir);
  unlink(p1); unlink(p2);
  int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un u1 = {AF_UNIX}, u2 = {AF_UNIX};
  strcpy(u1.sun_path, p1); strcpy(u2.sun_path, p2);
  CHECK(bind(d1, (struct sockaddr *)&u1, sizeof u1));
  CHECK(bind(d2, (struct sockaddr *)&u2, sizeof u2));
  CHECK(sendto(d1, "dgram via path", 14, 0, (struct sockaddr *)&u2, sizeof u2));
  struct sockaddr_un from = {0}; socklen_t fl = sizeof from;
  n = recvfrom(d2, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
  printf("unix dgram: '%.*s' from d1 %d\n", (int)n, buf, strcmp(from.sun_path, p1) == 0);
  close(d1); close(d2); unlink(p1); unlink(p2);
}

static void options(void) {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  int v = -1; socklen_t l = sizeof v;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l); printf("SO_TYPE %d", v);
  getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l); printf(" SO_DOMAIN %d", v);
  getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l); printf(" SO_PROTOCOL %d", v);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, &l); printf(" SO_KEEPALIVE %d", v);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l); printf(" TCP_NODELAY %d", v);
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l); printf(" IPV6_V6ONLY %d", v);
  struct linger lg = {1, 5}; socklen_t ll = sizeof lg;
  setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  memset(&lg, 0, sizeof lg);
  getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &ll); printf(" SO_LINGER %d/%d\n", lg.l_onoff, lg.l_linger);
  printf("bad family %d %s, udp socketpair %d %s\n", socket(12345, SOCK_STREAM, 0), errno == EAFNOSUPPORT ? "EAFNOSUPPORT" : strerror(errno),
         socketpair(AF_INET, SOCK_DGRAM, 0, (int[2]){0, 0}), errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno));
  char c;
  int p[2]; pipe(p);
  printf("recv on a pipe: %zd %s\n", recv(p[0], &c, 1, MSG_DONTWAIT), errno == ENOTSOCK ? "ENOTSOCK" : strerror(errno));
  close(p[0]); close(p[1]);
  close(s);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  tcp_fork(AF_INET);
  tcp_fork(AF_INET6);
  tcp_threads(AF_INET);
  tcp_threads(AF_INET6);
  tcp_refused();
  udp(AF_INET);
  udp(AF_INET6);
  unix_pair();
  unix_listen(dir);
  options();
  return 0;
}

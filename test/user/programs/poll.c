// poll, select, epoll, eventfd over pipes.
#include <stdio.h>
#include <unistd.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdint.h>

int main(void) {
  int p[2]; pipe(p);
  struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
  int n = poll(pf, 2, 0);
  printf("poll %d r=%d w=%d\n", n, pf[0].revents, pf[1].revents);
  write(p[1], "a", 1);
  n = poll(pf, 1, 100);
  printf("poll %d r=%d\n", n, pf[0].revents);
  fd_set rs; FD_ZERO(&rs); FD_SET(p[0], &rs);
  struct timeval tv = {0, 1000};
  printf("select %d isset %d\n", select(p[0] + 1, &rs, NULL, NULL, &tv), FD_ISSET(p[0], &rs));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  struct epoll_event out[4];
  n = epoll_wait(ep, out, 4, 100);
  printf("epoll %d data %llx ev %u\n", n, (unsigned long long)out[0].data.u64, out[0].events);
  char c; read(p[0], &c, 1);
  n = epoll_wait(ep, out, 4, 10);
  printf("epoll empty %d\n", n);
  int efd = eventfd(0, 0);
  ev.events = EPOLLIN; ev.data.fd = efd;
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  uint64_t v = 3; write(efd, &v, 8);
  n = epoll_wait(ep, out, 4, 100);
  printf("eventfd epoll %d fd ok %d\n", n, out[0].data.fd == efd);
  read(efd, &v, 8);
  printf("eventfd value %llu\n", (unsigned long long)v);
  close(p[1]);
  pf[0].events = POLLIN;
  n = poll(pf, 1, 100);
  printf("hup %d %d\n", n, (pf[0].revents & POLLHUP) != 0);
  return 0;
}

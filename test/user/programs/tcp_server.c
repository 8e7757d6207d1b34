// A TCP server for clients on the host: listens on 127.0.0.1 (argv[1] = "6" for [::1]) on an
// ephemeral port, prints "port N", then answers argv[2] (default 2) connections in turn: each
// line it reads is sent back upper-cased after "guest: ", until the client closes.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

int main(int argc, char **argv) {
  int v6 = argc > 1 && strcmp(argv[1], "6") == 0;
  int count = argc > 2 ? atoi(argv[2]) : 2;
  int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  struct sockaddr_storage ss = {0};
  socklen_t len;
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6; a->sin6_addr = in6addr_loopback; len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK); len = sizeof *a;
  }
  if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 4) < 0) { perror("bind/listen"); return 1; }
  len = sizeof ss;
  getsockname(s, (struct sockaddr *)&ss, &len);
  printf("port %d\n", ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port));
  fflush(stdout);
  for (int i = 0; i < count; i++) {
    int c = accept(s, NULL, NULL);
    if (c < 0) { perror("accept"); return 1; }
    FILE *in = fdopen(dup(c), "r");
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, in)) {
      char out[1100];
      for (char *p = line; *p; p++) *p = toupper((unsigned char)*p);
      int n = snprintf(out, sizeof out, "guest: %s", line);
      write(c, out, n);
      lines++;
    }
    fclose(in);
    close(c);
    printf("connection %d: %d lines\n", i + 1, lines);
    fflush(stdout);
  }
  close(s);
  return 0;
}

// The terminal's line discipline as a program sees it (run on a pseudo-terminal; the test types
// after each "READ n" prompt): canonical line editing and echo, VEOF, echo off, non-canonical
// reads (VMIN), ICRNL, signal keys with handlers (EINTR), FIONREAD.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void out(const char *s) { write(1, s, strlen(s)); }

static void show(const char *what, ssize_t n, const char *b) {
  char o[512];
  int k = snprintf(o, sizeof o, "%s: %zd [", what, n);
  for (ssize_t i = 0; i < n && k < 480; i++) {
    unsigned char c = (unsigned char)b[i];
    k += (c < 32 || c > 126) ? snprintf(o + k, sizeof o - k, "\\x%02x", c) : snprintf(o + k, sizeof o - k, "%c", c);
  }
  snprintf(o + k, sizeof o - k, "]%s\n", n < 0 ? strerror(errno) : "");
  out(o);
}

static int step;
static void prompt(void) { char p[32]; snprintf(p, sizeof p, "READ %d\n", ++step); out(p); }

static ssize_t rd(const char *what) {
  char b[256];
  prompt();
  ssize_t n = read(0, b, sizeof b);
  show(what, n, b);
  return n;
}

static volatile int sigs[32];
static void on_sig(int s) { sigs[s]++; }

int main(void) {
  struct termios t0, t;
  tcgetattr(0, &t0);
  rd("edited line");         // ab DEL c CR
  rd("VEOF ends a line");    // xy ^D
  rd("VEOF at line start");  // ^D
  rd("word erase");          // foo bar ^W baz CR
  rd("kill line");           // junk ^U ok CR
  t = t0; t.c_lflag &= ~ECHO; tcsetattr(0, TCSANOW, &t);
  rd("no echo");             // secret CR
  t = t0; t.c_lflag &= ~(ICANON | ECHO); t.c_cc[VMIN] = 1; t.c_cc[VTIME] = 0; tcsetattr(0, TCSANOW, &t);
  rd("raw byte");            // q
  t.c_cc[VMIN] = 0; tcsetattr(0, TCSANOW, &t);
  char b[8];
  ssize_t n = read(0, b, sizeof b);
  show("VMIN 0, nothing typed", n, b);
  t = t0; t.c_iflag &= ~ICRNL; tcsetattr(0, TCSANOW, &t);
  rd("no ICRNL");            // a CR LF
  tcsetattr(0, TCSANOW, &t0);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig; // no SA_RESTART: the read fails with EINTR
  sigaction(SIGINT, &sa, 0);
  sigaction(SIGQUIT, &sa, 0);
  sigaction(SIGTSTP, &sa, 0);
  rd("Ctrl-C");              // par ^C
  rd("Ctrl-\\");             // ^backslash
  rd("Ctrl-Z");              // ^Z
  rd("after the signals");   // line CR (the interrupted partial line was flushed)
  char o[96];
  snprintf(o, sizeof o, "SIGINT %d SIGQUIT %d SIGTSTP %d\n", sigs[SIGINT], sigs[SIGQUIT], sigs[SIGTSTP]);
  out(o);
  t = t0; t.c_lflag &= ~ISIG; tcsetattr(0, TCSANOW, &t);
  rd("ISIG off");            // ^C ^Z CR
  tcsetattr(0, TCSANOW, &t0);
  prompt();                  // abc CR, then the test waits
  sleep(1);
  int avail = -1;
  ioctl(0, FIONREAD, &avail);
  snprintf(o, sizeof o, "FIONREAD %d\n", avail);
  out(o);
  n = read(0, b, sizeof b);
  show("queued", n, b);
  out("done\n");
  return 0;
}

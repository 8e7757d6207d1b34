// Job control on the controlling terminal (run on a pseudo-terminal as its session leader):
// the foreground group, SIGTTIN/SIGTTOU for background groups, stops and continues seen by
// waitpid (WUNTRACED/WCONTINUED) and waitid, tcsetpgrp errors, orphaned groups (EIO),
// setsid/TIOCSCTTY/TIOCNOTTY, /dev/tty, setpgid rules, window size.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...) {
  char b[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  write(2, b, strlen(b)); // stderr: unbuffered, on the terminal
}

static const char *st(int s) {
  static char b[64];
  if (WIFEXITED(s)) snprintf(b, sizeof b, "exited %d", WEXITSTATUS(s));
  else if (WIFSIGNALED(s)) snprintf(b, sizeof b, "killed %d", WTERMSIG(s));
  else if (WIFSTOPPED(s)) snprintf(b, sizeof b, "stopped %d", WSTOPSIG(s));
  else if (WIFCONTINUED(s)) snprintf(b, sizeof b, "continued");
  else snprintf(b, sizeof b, "? %x", s);
  return b;
}

static int winched;
static void on_winch(int s) { (void)s; winched++; }

int main(void) {
  int s;
  say("session leader %d, foreground %d\n", getsid(0) == getpid(), tcgetpgrp(0) == getpgrp());
  say("tty %d %d %d\n", isatty(0), isatty(1), isatty(2));
  signal(SIGTTOU, SIG_IGN); // this process moves the terminal between groups

  // A background group reading the terminal stops with SIGTTIN, and runs on when continued in
  // the foreground.
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    char ch;
    ssize_t n = read(0, &ch, 1);
    say("child read %zd %c\n", n, n == 1 ? ch : '-');
    _exit(3);
  }
  setpgid(c, c);
  waitpid(c, &s, WUNTRACED);
  say("bg reader: %s\n", st(s));
  kill(-c, SIGCONT);
  // Still in the background, it reads again and stops again (its continue may or may not be
  // seen first: waitid below checks WCONTINUED where no such race exists).
  waitpid(c, &s, WUNTRACED);
  say("again: %s\n", st(s));
  say("tcsetpgrp child: %d\n", tcsetpgrp(0, c));
  say("foreground is child %d\n", tcgetpgrp(0) == c);
  kill(-c, SIGCONT);
  write(1, "TYPE\n", 5); // the test types one byte after this
  waitpid(c, &s, 0);
  say("child: %s\n", st(s));
  say("tcsetpgrp back: %d\n", tcsetpgrp(0, getpgrp()));

  // TOSTOP: a background write stops with SIGTTOU, or succeeds with SIGTTOU ignored.
  struct termios t;
  tcgetattr(0, &t);
  t.c_lflag |= TOSTOP;
  tcsetattr(0, TCSANOW, &t);
  c = fork();
  if (c == 0) { setpgid(0, 0); signal(SIGTTOU, SIG_DFL); write(2, "bg write\n", 9); _exit(0); }
  setpgid(c, c);
  waitpid(c, &s, WUNTRACED);
  say("bg writer with TOSTOP: %s\n", st(s));
  kill(c, SIGKILL);
  waitpid(c, &s, 0);
  say("then: %s\n", st(s));
  c = fork();
  if (c == 0) { setpgid(0, 0); write(2, "bg write, SIGTTOU ignored\n", 26); _exit(0); }
  setpgid(c, c);
  waitpid(c, &s, WUNTRACED);
  say("ignored: %s\n", st(s));
  t.c_lflag &= ~TOSTOP;
  tcsetattr(0, TCSANOW, &t);

  // A background tcsetattr stops with SIGTTOU; a background read with SIGTTIN ignored is EIO.
  c = fork();
  if (c == 0) { setpgid(0, 0); signal(SIGTTOU, SIG_DFL); tcsetattr(0, TCSANOW, &t); _exit(0); }
  setpgid(c, c);
  waitpid(c, &s, WUNTRACED);
  say("bg tcsetattr: %s\n", st(s));
  kill(c, SIGKILL);
  waitpid(c, &s, 0);
  c = fork();
  if (c == 0) {
    setpgid(0, 0);
    signal(SIGTTIN, SIG_IGN);
    char ch;
    ssize_t n = read(0, &ch, 1);
    say("bg read, SIGTTIN ignored: %zd %s\n", n, strerror(errno));
    _exit(0);
  }
  setpgid(c, c);
  waitpid(c, &s, 0);
  say("  %s\n", st(s));

  // waitid sees a stop and a continue too.
  int hold[2];
  pipe(hold);
  c = fork();
  if (c == 0) { char x; raise(SIGSTOP); read(hold[0], &x, 1); _exit(9); }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WSTOPPED);
  say("waitid: code %d status %d\n", si.si_code, si.si_status);
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  waitid(P_PID, c, &si, WCONTINUED);
  say("waitid: code %d status %d\n", si.si_code, si.si_status);
  write(hold[1], "x", 1);
  waitid(P_PID, c, &si, WEXITED);
  say("waitid: code %d status %d\n", si.si_code, si.si_status);

  // An orphaned process group: its background read is EIO, not a stop.
  int fds[2], done[2];
  pipe(fds);
  pipe(done);
  c = fork();
  if (c == 0) {
    pid_t g = fork();
    if (g == 0) {
      setpgid(0, 0);
      char x;
      read(fds[0], &x, 1); // until the middle process has gone
      char ch;
      ssize_t n = read(0, &ch, 1);
      say("orphaned group read: %zd %s\n", n, strerror(errno));
      write(done[1], "d", 1);
      _exit(0);
    }
    _exit(0);
  }
  waitpid(c, &s, 0);
  write(fds[1], "x", 1);
  close(done[1]);
  char d;
  read(done[0], &d, 1);

  // tcsetpgrp errors.
  errno = 0;
  say("tcsetpgrp nonexistent: %d %s\n", tcsetpgrp(0, 999999), strerror(errno));
  pid_t bad = -5;
  errno = 0;
  say("TIOCSPGRP -5: %d %s\n", ioctl(0, TIOCSPGRP, &bad), strerror(errno));
  errno = 0;
  say("tcgetpgrp on a pipe: %d %s\n", tcgetpgrp(fds[0]), strerror(errno));

  // setpgid rules: not a session leader, not into another session's group.
  errno = 0;
  say("setpgid self (session leader): %d %s\n", setpgid(0, 0), strerror(errno));
  c = fork();
  if (c == 0) {
    setsid();
    errno = 0;
    say("new session: tcgetpgrp %d %s\n", tcgetpgrp(0), strerror(errno));
    errno = 0;
    say("  /dev/tty: %d %s\n", open("/dev/tty", O_RDWR), strerror(errno));
    errno = 0;
    say("  TIOCSCTTY (taken): %d %s\n", ioctl(0, TIOCSCTTY, 0), strerror(errno));
    errno = 0;
    say("  setsid again: %d %s\n", setsid(), strerror(errno));
    _exit(0);
  }
  waitpid(c, &s, 0);

  // The window size is the terminal's; a change signals the foreground group.
  signal(SIGWINCH, on_winch);
  struct winsize ws;
  ioctl(0, TIOCGWINSZ, &ws);
  say("winsize %dx%d\n", ws.ws_row, ws.ws_col);
  ws.ws_row = 30; ws.ws_col = 100;
  ioctl(1, TIOCSWINSZ, &ws);
  memset(&ws, 0, sizeof ws);
  ioctl(2, TIOCGWINSZ, &ws);
  say("winsize %dx%d, SIGWINCH %d\n", ws.ws_row, ws.ws_col, winched);

  // Giving up the terminal as session leader hangs up the foreground group (SIGHUP, SIGCONT);
  // another session may then take it.
  signal(SIGHUP, SIG_IGN);
  say("TIOCNOTTY: %d\n", ioctl(0, TIOCNOTTY));
  errno = 0;
  say("tcgetpgrp after: %d %s\n", tcgetpgrp(0), strerror(errno));
  c = fork();
  if (c == 0) {
    setsid();
    say("child TIOCSCTTY: %d\n", ioctl(0, TIOCSCTTY, 0));
    say("child foreground: %d\n", tcgetpgrp(0) == getpgrp());
    _exit(0);
  }
  waitpid(c, &s, 0);
  say("done\n");
  return 0;
}

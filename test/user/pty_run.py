#!/usr/bin/env python3
# Runs a command on a new pseudo-terminal, as a login shell runs on one: the command is the
# session leader and the terminal is its controlling terminal (24x80). Bytes on stdin are typed
# on the terminal; what the command writes to it comes out on stdout. At the end the command's
# exit status (128+N for signal N) is printed on stderr as "pty-exit: N" (its pid first, as
# "pty-pid: N").
#   python3 pty_run.py COMMAND [ARGS...]
import os
import pty
import select
import struct
import sys
import fcntl
import termios


def main() -> None:
    argv = sys.argv[1:]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execvp(argv[0], argv)
    sys.stderr.write("pty-pid: %d\n" % pid)
    sys.stderr.flush()
    stdin_open = True
    while True:
        fds = [fd] + ([0] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [])
        if fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                data = b""
            if not data:
                break
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                os.write(fd, data)
            else:
                stdin_open = False
    _, st = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
    sys.stderr.write("pty-exit: %d\n" % code)


main()

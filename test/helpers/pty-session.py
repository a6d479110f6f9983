#!/usr/bin/env python3
"""pty-session.py STEP...: drive an interactive bash on a new pseudo-terminal.

bash (--norc --noprofile -i, job control on) runs as a session leader with the
pty as its controlling terminal, as in a terminal window. Each STEP is one of
  send:TEXT     write TEXT (backslash escapes: \\x03 is Ctrl-C, \\r is Enter)
  expect:REGEX  wait until the output since the previous expect matches REGEX
  sleep:SECONDS
Every expect has 10 s. The whole transcript is printed on stdout; exit 0 when
all steps passed, else 1 with the step that failed on stderr.
"""
import codecs
import os
import pty
import re
import select
import sys
import time

TIMEOUT = 10.0


def main(steps):
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, PS1="$ ", TERM="dumb", HISTFILE="/dev/null")
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
    out = b""
    mark = 0
    ok = True
    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "send":
            os.write(fd, codecs.decode(arg, "unicode_escape").encode())
        elif kind == "sleep":
            time.sleep(float(arg))
        elif kind == "expect":
            rx = re.compile(arg.encode())
            end = time.monotonic() + TIMEOUT
            while True:
                m = rx.search(out, mark)
                if m:
                    mark = m.end()
                    break
                left = end - time.monotonic()
                if left <= 0:
                    sys.stderr.write("pty-session: no match for %r within %.0f s\n" % (arg, TIMEOUT))
                    ok = False
                    break
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        sys.stderr.write("pty-session: the terminal closed before %r\n" % arg)
                        ok = False
                        break
                    out += data
            if not ok:
                break
        else:
            sys.exit("pty-session: bad step %r" % step)
    try:
        os.write(fd, b"\x04exit 0\r")
    except OSError:
        pass
    time.sleep(0.05)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""sigcount.py SECONDS SIG...: count the signals SIG... (names: INT, TERM...)
that arrive in SECONDS, then print "got: NAME=N ..." on stdout. Prints
"ready" once the handlers are in place."""
import signal
import sys
import time

seconds = float(sys.argv[1])
names = sys.argv[2:]
counts = dict.fromkeys(names, 0)


def handler(signum, frame):
    counts[signal.Signals(signum).name[3:]] += 1


for name in names:
    signal.signal(getattr(signal, "SIG" + name), handler)
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    time.sleep(0.02)
print("got: " + " ".join("%s=%d" % (n, counts[n]) for n in names), flush=True)

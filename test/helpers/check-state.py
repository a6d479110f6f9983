#!/usr/bin/env python3
"""check-state.py - audit an xray-seg state directory after crashes (hardening.bats).

usage: check-state.py [--max-temp N] STATE_DIR

It is deliberately not xray-seg code: it reads the files as a later call would
and reports, one line each on stdout, everything that is not the store's
documented layout (xray-seg(1), FILES):

  - in the state directory: only trace directories (named by a valid Root),
    the "sandbox" and "invoked" markers and at most N of its temp files "sandbox.<pid>"
    (state_mark_first in src/state.c);
  - in a trace directory: only "lock", "root", "stack.<id>", "<id>.open",
    "<id>.done", "<id>.<pid>.sending" (a document claimed by a call that sends it),
    "<id>.live" (the pid of the exec that runs inside <id>),
    "set.annotations" and at most N temp files ".tmp.<name>" (state_put in
    src/state.c); anything else is reported.
    A call killed between writing a temp file and renaming it may leave one,
    but they must not pile up: N (default 0) bounds them per directory.
  - every <id>.open, <id>.done and <id>.<pid>.sending must be one JSON object whose "id" is <id>
    and whose "trace_id" is the directory's name;
  - every stack file must be whole lines of 16 lowercase hex digits;
  - "set.annotations" must be lines of annotation keys ([A-Za-z0-9_]{1,500});
    the last may lack its newline (a call killed while appending it, whose
    line the next reader drops);
  - "root" must hold a 16-hex id; "sandbox" a Root or nothing.

Exit status: 0 when nothing was reported, 1 otherwise, 2 on bad usage.
A state directory that does not exist is fine (nothing to report).
"""
import json
import os
import re
import sys

ROOT_RE = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
ID = r"[0-9a-f]{16}"
DOC_RE = re.compile(r"^(%s)\.(open|done|[1-9][0-9]*\.sending)$" % ID)
LIVE_RE = re.compile(r"^%s\.live$" % ID)
STACK_RE = re.compile(r"^stack\.%s$" % ID)
LINE_RE = re.compile(rb"^[0-9a-f]{16}$")
KEY_RE = re.compile(rb"^[A-Za-z0-9_]{1,500}$")


def show(data):
    return repr(data[:80])


def check_temps(path, temps, limit, problems):
    if len(temps) > limit:
        problems.append("%d temp files in %s (at most %d allowed): %s"
                        % (len(temps), path, limit, " ".join(temps[:5]) + (" ..." if len(temps) > 5 else "")))


def check_trace(path, root, problems, limit):
    temps = []
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if os.path.islink(p):
            problems.append("symbolic link in a trace directory: %s" % p)
            continue
        m = DOC_RE.match(name)
        if name == "lock":
            continue
        if (name == ".tmp" or name.startswith(".tmp.")) and os.path.isfile(p):
            temps.append(name)
            continue
        if name == "root":
            with open(p, "rb") as f:
                data = f.read()
            if not re.match(rb"^[0-9a-f]{16}$", data):
                problems.append("root file is not an id: %s %s" % (p, show(data)))
            continue
        if name == "set.annotations":
            with open(p, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            # The last element is "" after a whole last line, else a cut one.
            if not all(KEY_RE.match(l) for l in lines[:-1]) or \
                    (lines[-1] and not KEY_RE.match(lines[-1])):
                problems.append("annotation key set with a bad line: %s %s" % (p, show(data)))
            continue
        if LIVE_RE.match(name):
            with open(p, "rb") as f:
                data = f.read()
            if not re.match(rb"^[1-9][0-9]*\n$", data):
                problems.append("live mark is not a pid line: %s %s" % (p, show(data)))
            continue
        if STACK_RE.match(name):
            with open(p, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            else:
                lines = None if data else []
            if lines is None or not all(LINE_RE.match(l) for l in lines):
                problems.append("stack file with a torn or bad line: %s %s" % (p, show(data)))
            continue
        if m:
            with open(p, "rb") as f:
                data = f.read()
            try:
                doc = json.loads(data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                problems.append("not readable JSON (%d bytes): %s %s (%s)" % (len(data), p, show(data), e))
                continue
            if not isinstance(doc, dict) or doc.get("id") != m.group(1) or doc.get("trace_id") != root:
                problems.append("document does not match its file name: %s %s" % (p, show(data)))
            continue
        problems.append("unexpected file in a trace directory: %s" % p)
    check_temps(path, temps, limit, problems)


def main():
    args = sys.argv[1:]
    limit = 0
    if len(args) == 3 and args[0] == "--max-temp" and args[1].isdigit():
        limit = int(args[1])
        args = args[2:]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    top = args[0]
    if not os.path.lexists(top):
        return 0
    problems = []
    temps = []
    for name in sorted(os.listdir(top)):
        p = os.path.join(top, name)
        if ROOT_RE.match(name) and os.path.isdir(p) and not os.path.islink(p):
            check_trace(p, name, problems, limit)
        elif name == "invoked" and os.path.isfile(p) and not os.path.islink(p):
            pass  # the marker of state_first_use: empty, its existence is the point
        elif name.startswith("sandbox.") and os.path.isfile(p) and not os.path.islink(p):
            temps.append(name)
        elif name == "sandbox" and os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                data = f.read()
            if data and not ROOT_RE.match(data.decode("latin-1")):
                problems.append("sandbox marker holds no Root: %s %s" % (p, show(data)))
        else:
            problems.append("unexpected file in the state directory: %s" % p)
    check_temps(top, temps, limit, problems)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

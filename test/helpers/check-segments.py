#!/usr/bin/env python3
"""check-segments.py - check-docs.py for captures that may hold root segments too.

usage: check-segments.py [--schema-dir DIR] [--subsegments-only] MODE CAPTURE
       check-segments.py [--schema-dir DIR] --serve FIFO [--idle S]

MODE says what CAPTURE is:
  udp    a udp-sink.py capture (one record per datagram, like check-docs.py)
  lines  documents one per line, as `--transport stdout` prints them: every line
         must be exactly one compact JSON document (no header, no blank lines)
  http   an http-sink.py capture: every request body must be a JSON object
         {"TraceSegmentDocuments": [STRING, ...]} (that key only, at least one
         string); each string is one document

Every document gets exactly check-docs.py's checks (it is imported, not copied:
size, UTF-8, one compact JSON value, no duplicate keys, both schemas, end_time
>= start_time), with one difference: a document WITHOUT "type" is a segment, and
the two subsegment-only rules (type "subsegment", parent_id present) do not
apply to it. With --subsegments-only they do (plain check-docs behaviour).

On success the documents are printed on stdout, one per line (their exact
bytes), and the exit status is 0; on any violation one message per problem goes
to stderr and the status is 1 (2: bad usage or unreadable capture).

--serve FIFO: like check-docs.py --serve, request lines "MODE<TAB>CAPTURE<TAB>PREFIX"
(MODE may be prefixed with "strict-" for --subsegments-only); writes PREFIX.out,
PREFIX.err, then PREFIX.rc.
"""
import argparse
import importlib.util
import json
import os
import select
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("check_docs", os.path.join(HERE, "check-docs.py"))
check_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_docs)

HEADER = check_docs.HEADER
SUBSEGMENT_ONLY = ("type is None, not \"subsegment\"", "parent_id missing")


def check_one(data, validators, strict):
    """(problems, body) for one datagram (header included) given as bytes."""
    problems, body = check_docs.check_datagram(data, validators)
    if body is not None and not strict:
        try:
            doc = json.loads(body.decode("utf-8", "replace"))
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "type" not in doc:
            problems = [p for p in problems if p not in SUBSEGMENT_ONLY]
    return problems, body


def units(mode, path):
    """Yield (label, datagram bytes or None, extra problems) for every document of CAPTURE."""
    with open(path, "rb") as f:
        raw = f.read()
    if mode == "lines":
        if raw and not raw.endswith(b"\n"):
            yield "end of file", None, ["last line has no newline"]
        for n, line in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
            if not line:
                yield "line %d" % n, None, ["empty line"]
                continue
            yield "line %d" % n, HEADER + line, []
        return
    for n, line in enumerate(raw.decode("utf-8", "surrogateescape").splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            yield "record %d" % n, None, ["not a capture record: %s" % e]
            continue
        if mode == "udp":
            try:
                data = rec["raw"].encode("utf-8", "surrogateescape")
            except (KeyError, AttributeError, UnicodeEncodeError) as e:
                yield "datagram %d" % n, None, ["not a udp-sink record: %s" % e]
                continue
            extra = []
            if rec.get("bytes") != len(data):
                extra.append("capture says %r bytes, raw has %d" % (rec.get("bytes"), len(data)))
            if rec.get("truncated"):
                extra.append("datagram was truncated by the receiver")
            yield "datagram %d" % n, data, extra
            continue
        # http
        body = rec.get("json")
        if not isinstance(body, dict) or list(body) != ["TraceSegmentDocuments"]:
            yield "request %d" % n, None, ["body is not {\"TraceSegmentDocuments\": [...]}: %r"
                                          % (rec.get("body", "")[:200],)]
            continue
        docs = body["TraceSegmentDocuments"]
        if not isinstance(docs, list) or not docs:
            yield "request %d" % n, None, ["TraceSegmentDocuments is not a non-empty list"]
            continue
        for k, d in enumerate(docs):
            if not isinstance(d, str):
                yield "request %d doc %d" % (n, k), None, ["not a JSON string but %s" % type(d).__name__]
                continue
            yield "request %d doc %d" % (n, k), HEADER + d.encode("utf-8", "surrogateescape"), []


def check_capture(mode, path, validators, strict):
    out, err = [], []
    try:
        for label, data, extra in units(mode, path):
            problems, body = list(extra), None
            if data is not None:
                p, body = check_one(data, validators, strict)
                problems += p
            if problems:
                snippet = (data or b"")[len(HEADER):][:300].decode("utf-8", "replace")
                err.append("check-segments: %s: %s\n  document starts: %r"
                           % (label, "\n  ".join(problems), snippet))
            elif body is not None:
                out.append(body.decode("utf-8", "surrogateescape"))
    except OSError as e:
        return 2, "", "check-segments: cannot read %s: %s\n" % (path, e)
    text = "".join(line + "\n" for line in out)
    if err:
        return 1, text, "".join(line + "\n" for line in err)
    return 0, text, ""


def serve(fifo, validators, idle):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fd = os.open(fifo, os.O_RDWR)
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], idle)
        if not ready:
            return
        buf += os.read(fd, 65536)
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                mode, capture, prefix = line.decode().split("\t", 2)
            except ValueError:
                continue
            strict = mode.startswith("strict-")
            mode = mode[len("strict-"):] if strict else mode
            try:
                if mode not in ("udp", "lines", "http"):
                    raise ValueError("bad mode %r" % mode)
                status, out, err = check_capture(mode, capture, validators, strict)
            except Exception as e:  # report, never die mid-suite
                status, out, err = 2, "", "check-segments: internal error: %r\n" % e
            for suffix, text in ((".out", out), (".err", err), (".rc", "%d\n" % status)):
                tmp = prefix + suffix + ".tmp"
                with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(text)
                os.replace(tmp, prefix + suffix)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", choices=["udp", "lines", "http"])
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--schema-dir", default=check_docs.DEFAULT_SCHEMAS)
    ap.add_argument("--subsegments-only", action="store_true")
    ap.add_argument("--serve", metavar="FIFO")
    ap.add_argument("--idle", type=float, default=300.0)
    a = ap.parse_args()
    if bool(a.capture) == bool(a.serve):
        ap.error("give either MODE CAPTURE or --serve FIFO")
    validators = check_docs.load_validators(a.schema_dir)
    if a.serve:
        serve(a.serve, validators, a.idle)
        return 0
    status, out, err = check_capture(a.mode, a.capture, validators, a.subsegments_only)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""check-docs.py - validate the datagrams udp-sink.py captured from xray-seg.

usage: check-docs.py [--schema-dir DIR] CAPTURE
       check-docs.py [--schema-dir DIR] --serve FIFO [--idle S]

For every line of CAPTURE (written by udp-sink.py) it checks that the datagram
  - is at most 64512 bytes and valid UTF-8,
  - starts with exactly {"format":"json","version":1} and one "\\n",
  - carries exactly one JSON document after it (no further newline, nothing after
    the document, no duplicate keys, no NaN/Infinity), which is an object,
  - is valid against the AWS schema (Draft 4) and the strict schema (Draft 7),
  - is an independent subsegment: type "subsegment", trace_id and parent_id
    present, parent_id != id, end_time present and end_time >= start_time.
On success it prints each document (its exact bytes, one compact JSON per line)
on stdout, for jq, and exits 0. On any violation it prints one message per
problem on stderr and exits 1; bad usage or an unreadable capture exits 2.

--serve FIFO keeps the schemas loaded and answers requests, one per line on
FIFO: "CAPTURE<TAB>PREFIX". For each it writes PREFIX.out, PREFIX.err and last
PREFIX.rc (the exit status above). It exits after --idle seconds (default 300)
without a request, or on SIGTERM. This only saves the interpreter and schema
start-up for each check; the checks are the same.
"""
import argparse
import json
import os
import select
import signal
import sys

HEADER = b'{"format":"json","version":1}\n'
MAX_DATAGRAM = 64512
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.join(HERE, "..", "fixtures", "schema")


class DupKey(ValueError):
    pass


def no_dup_pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise DupKey("duplicate key %r" % k)
        obj[k] = v
    return obj


def no_constant(name):
    raise ValueError("non-JSON constant %s" % name)


def load_validators(schema_dir):
    from jsonschema import Draft4Validator, Draft7Validator
    with open(os.path.join(schema_dir, "segment-document.schema.json")) as f:
        aws = json.load(f)
    with open(os.path.join(schema_dir, "segment-document.strict.schema.json")) as f:
        strict = json.load(f)
    Draft4Validator.check_schema(aws)
    Draft7Validator.check_schema(strict)
    return [("AWS schema (draft-04)", Draft4Validator(aws)),
            ("strict schema (draft-07)", Draft7Validator(strict))]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_datagram(data, validators):
    """Return (problems, body) for one datagram given as bytes."""
    problems = []
    if len(data) > MAX_DATAGRAM:
        problems.append("datagram is %d bytes > %d" % (len(data), MAX_DATAGRAM))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append("datagram is not valid UTF-8: %s" % e)
    if not data.startswith(HEADER):
        first = data.split(b"\n", 1)[0]
        problems.append("header is not exactly %r followed by a newline: got %r"
                        % (HEADER[:-1].decode(), first[:80].decode("utf-8", "replace")))
        return problems, None
    body = data[len(HEADER):]
    if not body:
        return problems + ["no document after the header"], None
    if b"\n" in body:
        problems.append("document contains a newline (more than one document, or not compact)")
        return problems, None
    try:
        doc = json.loads(body.decode("utf-8", "replace"), object_pairs_hook=no_dup_pairs,
                         parse_constant=no_constant)
    except ValueError as e:
        return problems + ["document is not one JSON value: %s" % e], None
    if not isinstance(doc, dict):
        return problems + ["document is not a JSON object"], None
    for label, validator in validators:
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(document)"
            problems.append("%s: %s: %s" % (label, where, err.message[:300]))
    if doc.get("type") != "subsegment":
        problems.append("type is %r, not \"subsegment\"" % doc.get("type"))
    for field in ("trace_id", "parent_id", "end_time"):
        if field not in doc:
            problems.append("%s missing" % field)
    if "parent_id" in doc and doc.get("parent_id") == doc.get("id"):
        problems.append("parent_id equals id")
    st, et = doc.get("start_time"), doc.get("end_time")
    if is_number(st) and is_number(et) and et < st:
        problems.append("end_time %r < start_time %r" % (et, st))
    return problems, body


def check_capture(path, validators):
    """Return (status, stdout text, stderr text)."""
    out, err = [], []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return 2, "", "check-docs: cannot read %s: %s\n" % (path, e)
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            data = rec["raw"].encode("utf-8", "surrogateescape")
        except (ValueError, KeyError, TypeError, UnicodeEncodeError) as e:
            err.append("check-docs: %s line %d: not a udp-sink record: %s" % (path, n, e))
            continue
        problems, body = check_datagram(data, validators)
        if rec.get("bytes") != len(data):
            problems.append("capture says %r bytes, raw has %d" % (rec.get("bytes"), len(data)))
        if rec.get("truncated"):
            problems.append("datagram was truncated by the receiver")
        if problems:
            snippet = data[:300].decode("utf-8", "replace")
            err.append("check-docs: datagram %d (%d bytes): %s\n  datagram starts: %r"
                       % (n, len(data), "\n  ".join(problems), snippet))
        else:
            out.append(body.decode("utf-8"))
    text = "".join(line + "\n" for line in out)
    if err:
        return 1, text, "".join(line + "\n" for line in err)
    return 0, text, ""


def serve(fifo, validators, idle):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fd = os.open(fifo, os.O_RDWR)  # read-write: never sees EOF, never blocks on open
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], idle)
        if not ready:
            return
        chunk = os.read(fd, 65536)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                capture, prefix = line.decode().split("\t", 1)
            except ValueError:
                continue
            try:
                status, out, err = check_capture(capture, validators)
            except Exception as e:  # report, never die mid-suite
                status, out, err = 2, "", "check-docs: internal error: %r\n" % e
            for suffix, text in ((".out", out), (".err", err), (".rc", "%d\n" % status)):
                tmp = prefix + suffix + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, prefix + suffix)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--schema-dir", default=DEFAULT_SCHEMAS)
    ap.add_argument("--serve", metavar="FIFO")
    ap.add_argument("--idle", type=float, default=300.0)
    a = ap.parse_args()
    if bool(a.capture) == bool(a.serve):
        ap.error("give either CAPTURE or --serve FIFO")
    validators = load_validators(a.schema_dir)
    if a.serve:
        serve(a.serve, validators, a.idle)
        return 0
    status, out, err = check_capture(a.capture, validators)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main())

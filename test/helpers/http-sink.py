#!/usr/bin/env python3
"""http-sink.py - a scripted HTTP endpoint standing in for the X-Ray API in the xray-seg tests.

It is deliberately not xray-seg code: a plain stdlib HTTP server that records what
arrives and answers what the test scripted.

usage: http-sink.py -o FILE --port-file FILE [--port N] [--reply SPEC]...
                    [--hold FILE] [--max-seconds S]

Binds 127.0.0.1 on --port (0 = any free port) and writes the bound port to
--port-file (atomically, via rename). Every request becomes one line appended to
-o FILE, flushed before the answer is sent:

    {"seq": 0, "t": 1700000000.123, "method": "POST", "path": "/TraceSegments",
     "headers": [["Host", "127.0.0.1:4242"], ...], "body": "...", "bytes": 183,
     "json": {...} or null, "reply": 200 or "drop"}

"headers" keeps names as sent, in order, duplicates included; "body" is the
body decoded as UTF-8 with surrogateescape (the exact bytes can be recovered);
"json" is the body parsed as JSON, or null if it is not JSON.

Answers come from the --reply list, consumed in order, the last one repeating
(default: 200 with {"UnprocessedTraceSegments":[]}). SPEC is one of
    STATUS              e.g. 500 (a small JSON error body is used)
    STATUS:BODY         e.g. 429:'{"__type":"ThrottledException","message":"slow down"}'
    drop                read the request, then close the connection without answering
In BODY, @ID0@, @ID1@, ... stand for the "id" of document 0, 1, ... of the
request's TraceSegmentDocuments (empty if there is no such document). A body
whose JSON has "__type" is also announced in the x-amzn-ErrorType header, like
the real API does.

--hold FILE: before answering any request, wait until FILE exists (at most 20 s),
so a test can look at the client while it waits for the answer.

The sink always stops by itself after --max-seconds (default 300), and on
SIGTERM/SIGINT (exit 0).
"""
import argparse
import http.server
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time

DEFAULT_OK = '{"UnprocessedTraceSegments":[]}'


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse_reply(spec):
    if spec == "drop":
        return ("drop", None)
    status, sep, body = spec.partition(":")
    if not status.isdigit() or not 100 <= int(status) <= 599:
        raise argparse.ArgumentTypeError("bad --reply %r: want STATUS[:BODY] or drop" % spec)
    status = int(status)
    if not sep:
        body = DEFAULT_OK if status == 200 else json.dumps(
            {"__type": "InternalFailure" if status >= 500 else "InvalidRequestException",
             "message": "http-sink scripted HTTP %d" % status})
    return (status, body)


class State:
    def __init__(self, out, replies, hold):
        self.out = open(out, "a", encoding="utf-8", errors="surrogateescape")
        self.replies = replies
        self.hold = hold
        self.seq = 0
        self.lock = threading.Lock()

    def next_reply(self):
        """Record number and reply for the next request (called under the lock)."""
        n = self.seq
        self.seq += 1
        return n, self.replies[min(n, len(self.replies) - 1)]


def doc_ids(parsed):
    ids = []
    docs = parsed.get("TraceSegmentDocuments") if isinstance(parsed, dict) else None
    if isinstance(docs, list):
        for d in docs:
            try:
                v = json.loads(d).get("id", "") if isinstance(d, str) else ""
            except (ValueError, AttributeError):
                v = ""
            ids.append(v if isinstance(v, str) else "")
    return ids


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "http-sink/1"

    def log_message(self, fmt, *args):  # quiet: the capture is the log
        pass

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        st = self.server.state
        raw = self.read_body()
        body = raw.decode("utf-8", "surrogateescape")
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            parsed = None
        with st.lock:
            n, (status, rbody) = st.next_reply()
            rec = {"seq": n, "t": time.time(), "method": self.command, "path": self.path,
                   "headers": [[k, v] for k, v in self.headers.items()],
                   "body": body, "bytes": len(raw), "json": parsed, "reply": status}
            st.out.write(json.dumps(rec, ensure_ascii=True) + "\n")
            st.out.flush()
        if st.hold:
            deadline = time.time() + 20
            while not os.path.exists(st.hold) and time.time() < deadline:
                time.sleep(0.005)
        if status == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        ids = doc_ids(parsed)
        rbody = re.sub(r"@ID(\d+)@", lambda m: ids[int(m.group(1))] if int(m.group(1)) < len(ids) else "",
                       rbody)
        data = rbody.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "http-sink-%d-%d" % (os.getpid(), n))
        try:
            t = json.loads(rbody).get("__type")
        except (ValueError, AttributeError):
            t = None
        if isinstance(t, str):
            self.send_header("x-amzn-ErrorType", t)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--reply", action="append", type=parse_reply, default=[])
    ap.add_argument("--hold")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    a = ap.parse_args()

    def bye(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    signal.signal(signal.SIGALRM, bye)
    signal.setitimer(signal.ITIMER_REAL, a.max_seconds)

    try:
        srv = Server(("127.0.0.1", a.port), Handler)
    except OSError as e:
        print("http-sink: cannot bind 127.0.0.1:%d: %s" % (a.port, e), file=sys.stderr)
        return 1
    srv.state = State(a.out, a.reply or [parse_reply("200")], a.hold)
    open(a.out, "a").close()
    write_atomic(a.port_file, "%d\n" % srv.server_address[1])
    srv.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

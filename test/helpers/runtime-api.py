#!/usr/bin/env python3
"""runtime-api.py - a local stand-in for the Lambda Runtime API, for the xray-seg tests.

It is deliberately not xray-seg code: a plain stdlib HTTP server that hands out a
scripted list of invocations and records what the runtime posts back.

usage: runtime-api.py --events FILE --log FILE --port-file FILE [--port N]
                      [--function-name NAME] [--list-dir DIR] [--max-seconds S]

Binds 127.0.0.1 on --port (0 = any free port) and writes the bound port to
--port-file (atomically, via rename). Set AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT.

--events FILE holds one JSON object per line, one invocation each, served in order:
    {"event": ANY JSON,            the body, serialized compactly (default {})
     "raw": "TEXT",                or the body as this exact text instead
     "trace": "Root=...;...",      Lambda-Runtime-Trace-Id (omitted when absent/null)
     "deadline_ms": 3000,          Lambda-Runtime-Deadline-Ms = the time of the
                                   GET /next answer + this many ms (default 3000)
     "request_id": "...",          Lambda-Runtime-Aws-Request-Id (default: a uuid4)
     "function_arn": "..."}        Lambda-Runtime-Invoked-Function-Arn (default:
                                   arn:aws:lambda:us-east-1:123456789012:function:NAME)

Endpoints (API version 2018-06-01), as the Lambda developer guide describes them:
    GET  /2018-06-01/runtime/invocation/next           -> 200, the next event
    POST /2018-06-01/runtime/invocation/ID/response    -> 202
    POST /2018-06-01/runtime/invocation/ID/error       -> 202
    POST /2018-06-01/runtime/init/error                -> 202
A POST for an ID that was never handed out gets 400, a second answer for one ID
403, anything else 404; every request is recorded all the same.

--log FILE gets one JSON line per request, flushed before the answer is sent:
    {"seq": 0, "t": 1700000000.123, "method": "GET", "path": "...",
     "kind": "next" | "response" | "error" | "init-error" | "other",
     "headers": [[NAME, VALUE], ...]   (the request's, in order, as sent)
     "body": "TEXT", "status": 200, ...}
A "next" record also has "n" (index of the event served, or null when none is
left: "exhausted": true), "reply_headers" ({NAME: VALUE} sent with the event)
and, with --list-dir DIR, "listing": every path under DIR (relative, sorted,
directories ending in "/"), taken when the request arrived, that is after the
runtime finished the previous invocation.

When the events run out, GET /next blocks (as in Lambda, where the sandbox is
frozen) until the server stops. It never signals or kills the runtime. It stops
by itself after --max-seconds (default 120), and on SIGTERM/SIGINT (exit 0).
"""
import argparse
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime/"


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def listing(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for d in dirnames:
            out.append(os.path.normpath(os.path.join(rel, d)) + "/")
        for f in filenames:
            out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


class State:
    def __init__(self, events, log_path, function_name, list_dir):
        self.events = events
        self.next_index = 0
        self.issued = {}  # request id -> answered (bool)
        self.lock = threading.Lock()
        self.seq = 0
        self.log = open(log_path, "a", encoding="utf-8")
        self.function_name = function_name
        self.list_dir = list_dir
        self.stop = threading.Event()

    def record(self, rec):
        with self.lock:
            rec["seq"] = self.seq
            self.seq += 1
            self.log.write(json.dumps(rec, sort_keys=True) + "\n")
            self.log.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "runtime-api-emulator/1"

    def log_message(self, *args):  # quiet
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n > 0 else b""
        return data.decode("utf-8", "surrogateescape")

    def _reply(self, status, body, headers=None):
        data = body.encode("utf-8", "surrogateescape")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _base(self, kind, body):
        return {"t": time.time(), "method": self.command, "path": self.path, "kind": kind,
                "headers": [[k, v] for k, v in self.headers.items()], "body": body}

    def do_GET(self):
        st = self.server.state
        body = self._body()
        if self.path != PREFIX + "invocation/next":
            rec = self._base("other", body)
            rec["status"] = 404
            st.record(rec)
            return self._reply(404, '{"errorType":"NotFound"}')
        rec = self._base("next", body)
        if st.list_dir:
            rec["listing"] = listing(st.list_dir) if os.path.isdir(st.list_dir) else None
        with st.lock:
            n = st.next_index
            if n < len(st.events):
                st.next_index += 1
        if n >= len(st.events):
            rec.update(n=None, exhausted=True, status=None)
            st.record(rec)
            st.stop.wait()  # blocks until the server stops
            return
        ev = st.events[n]
        rid = ev.get("request_id") or str(uuid.uuid4())
        with st.lock:
            st.issued[rid] = False
        arn = ev.get("function_arn") or (
            "arn:aws:lambda:us-east-1:123456789012:function:%s" % st.function_name)
        deadline = int(time.time() * 1000) + int(ev.get("deadline_ms", 3000))
        hdrs = {"Lambda-Runtime-Aws-Request-Id": rid,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": arn}
        if ev.get("trace") is not None:
            hdrs["Lambda-Runtime-Trace-Id"] = ev["trace"]
        payload = ev["raw"] if "raw" in ev else json.dumps(ev.get("event", {}),
                                                           separators=(",", ":"))
        rec.update(n=n, exhausted=False, status=200, reply_headers=hdrs, reply_body=payload)
        st.record(rec)
        self._reply(200, payload, hdrs)

    def do_POST(self):
        st = self.server.state
        body = self._body()
        rest = self.path[len(PREFIX):] if self.path.startswith(PREFIX) else None
        parts = rest.split("/") if rest is not None else []
        kind, rid = "other", None
        if parts == ["init", "error"]:
            kind = "init-error"
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind, rid = parts[2], parts[1]
        status = 202
        if kind == "other":
            status = 404
        elif rid is not None:
            with st.lock:
                if rid not in st.issued:
                    status = 400
                elif st.issued[rid]:
                    status = 403
                else:
                    st.issued[rid] = True
        rec = self._base(kind, body)
        rec.update(request_id=rid, status=status)
        st.record(rec)
        if status == 202:
            self._reply(202, '{"status":"OK"}')
        else:
            self._reply(status, '{"errorMessage":"rejected by the emulator","errorType":"%d"}'
                        % status)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def load_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            ev = json.loads(line)
            if not isinstance(ev, dict):
                sys.exit("runtime-api: %s line %d: not a JSON object" % (path, n))
            events.append(ev)
    return events


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--function-name", default="xray-seg-test")
    ap.add_argument("--list-dir")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()

    state = State(load_events(a.events), a.log, a.function_name, a.list_dir)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.state = state

    def stop(*_):
        state.stop.set()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(a.max_seconds, stop)
    timer.daemon = True
    timer.start()
    write_atomic(a.port_file, "%d\n" % srv.server_address[1])
    srv.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()

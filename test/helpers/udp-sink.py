#!/usr/bin/env python3
"""udp-sink.py - UDP receiver standing in for the X-Ray daemon in the xray-seg tests.

It is deliberately not xray-seg code: a plain socket that records what arrives.

usage: udp-sink.py --out FILE --port-file FILE [--port N] [--ipv6]
                   [--sync-file FILE] [--idle S] [--timeout S]

Binds 127.0.0.1 (or ::1 with --ipv6) on --port (0 = any free port), then writes
the bound port to --port-file (atomically, via rename). Every datagram becomes one
line appended to --out, flushed at once:

    {"seq": 0, "bytes": 231, "utf8": true, "truncated": false, "raw": "..."}

"raw" is the datagram decoded as UTF-8 with surrogateescape, so invalid bytes
survive as lone surrogates (\\udcXX) and the exact bytes can be recovered;
"bytes" is the datagram length; "truncated" is set if it did not fit the 64 KiB
read buffer (cannot happen on loopback, reported anyway).

Synchronisation: a datagram "udp-sink-sync:TOKEN" is not recorded; instead
TOKEN (and the kernel's drop counter, if available) is written to --sync-file
after every earlier datagram has been written to --out. Since one socket's
receive queue is FIFO, a test can send such a marker after running xray-seg and
wait for the token to know that everything xray-seg sent has been recorded.

The sink always stops by itself: after --idle seconds without a datagram
(default 60) or --timeout seconds in total (default 120), or on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import time

SYNC_PREFIX = b"udp-sink-sync:"
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: drop counter as cmsg


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def open_socket(ipv6, port):
    family, host = (socket.AF_INET6, "::1") if ipv6 else (socket.AF_INET, "127.0.0.1")
    s = socket.socket(family, socket.SOCK_DGRAM)
    for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 8 * 1024 * 1024)
            break
        except OSError:
            continue
    drops = True
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    except OSError:
        drops = False
    s.bind((host, port))
    return s, drops


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--sync-file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    a = ap.parse_args()

    try:
        s, have_drops = open_socket(a.ipv6, a.port)
    except OSError as e:
        sys.exit("udp-sink: cannot bind %s port %d: %s" % ("::1" if a.ipv6 else "127.0.0.1",
                                                           a.port, e))
    # Exit at once on SIGTERM/SIGINT (raising interrupts select); every line
    # written so far is already flushed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    out = open(a.out, "a", buffering=1)
    write_atomic(a.port_file, "%d\n" % s.getsockname()[1])
    start = last = time.monotonic()
    seq = 0
    dropped = 0
    cmsg_space = socket.CMSG_SPACE(4)
    while True:
        now = time.monotonic()
        left = min(a.timeout - (now - start), a.idle - (now - last))
        if left <= 0:
            break
        try:
            ready, _, _ = select.select([s], [], [], min(left, 0.5))
        except InterruptedError:
            continue
        if not ready:
            continue
        data, anc, flags, _ = s.recvmsg(65536, cmsg_space)
        last = time.monotonic()
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(payload) >= 4:
                dropped = int.from_bytes(payload[:4], sys.byteorder)
        if data.startswith(SYNC_PREFIX):
            if a.sync_file:
                token = data[len(SYNC_PREFIX):].decode("ascii", "replace")
                write_atomic(a.sync_file, "%s %s\n" % (token, dropped if have_drops else "?"))
            continue
        try:
            data.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        rec = {"seq": seq, "bytes": len(data), "utf8": utf8,
               "truncated": bool(flags & socket.MSG_TRUNC),
               "raw": data.decode("utf-8", "surrogateescape")}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        seq += 1
    out.close()
    s.close()


if __name__ == "__main__":
    main()

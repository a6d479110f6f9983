#!/usr/bin/env python3
"""udp-send.py - send files as UDP datagrams, one sendto() per file, in order.

usage: udp-send.py HOST PORT FILE...

Used by the suite's self-tests to feed udp-sink.py and check-docs.py datagrams
that xray-seg would never produce (bash's /dev/udp splits at newlines).
"""
import socket
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip())
    host, port = sys.argv[1], int(sys.argv[2])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for path in sys.argv[3:]:
            with open(path, "rb") as f:
                s.sendto(f.read(), (host, port))


if __name__ == "__main__":
    main()

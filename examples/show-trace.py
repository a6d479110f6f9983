#!/usr/bin/env python3
"""Print the subsegments captured by test/helpers/udp-sink.py as a tree.

usage: show-trace.py PARENT_ID < datagrams
"""
import json
import sys


def main():
    root_parent = sys.argv[1]
    docs = []
    for line in sys.stdin:
        raw = json.loads(line)["raw"]
        header, _, body = raw.partition("\n")
        docs.append(json.loads(body))
    children = {}
    for d in docs:
        children.setdefault(d["parent_id"], []).append(d)
    start = min((d["start_time"] for d in docs), default=0)
    print(f"{len(docs)} subsegments received, under function segment {root_parent}:")

    def show(parent, depth):
        for d in sorted(children.get(parent, []), key=lambda d: d["start_time"]):
            flags = " ".join(f for f in ("error", "throttle", "fault") if d.get(f))
            ms = (d["end_time"] - d["start_time"]) * 1000
            at = (d["start_time"] - start) * 1000
            ann = " ".join(f"{k}={json.dumps(v)}" for k, v in d.get("annotations", {}).items())
            print(f"{'  ' * depth}- {d['name']:<{28 - 2 * depth}} +{at:7.1f} ms {ms:7.1f} ms"
                  f"  {flags:<14} {ann}")
            show(d["id"], depth + 1)

    show(root_parent, 1)


if __name__ == "__main__":
    main()

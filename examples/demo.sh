#!/bin/sh
# make demo: run examples/handler.sh under a made-up Lambda context against a
# local UDP receiver and show the subsegments it received as a tree.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT INT TERM

python3 "$top/test/helpers/udp-sink.py" --out "$work/datagrams" --port-file "$work/port" \
    --idle 10 --timeout 30 &
sink=$!
i=0
while [ ! -s "$work/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

root=$(printf '1-%08x-%s' "$(date +%s)" "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')")
parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export _X_AMZN_TRACE_ID="Root=$root;Parent=$parent;Sampled=1"
export AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$(cat "$work/port")"
export XRAY_SEG_STATE_DIR="$work/state"
export PATH="$top:$PATH"

echo "function segment (made up): $_X_AMZN_TRACE_ID"
"$top/examples/handler.sh" '{"customer": "alice"}'
i=0
while [ "$(wc -l <"$work/datagrams" 2>/dev/null || echo 0)" -lt 5 ] && [ $i -lt 100 ]; do
	sleep 0.05; i=$((i + 1))
done
python3 "$top/examples/show-trace.py" "$parent" <"$work/datagrams"

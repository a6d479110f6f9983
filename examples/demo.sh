#!/bin/sh
# make demo: run examples/handler.sh under a made-up Lambda context, with
# `xray-seg listen` standing in for the X-Ray daemon, and show what it got.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
listener=
trap '[ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$work"' EXIT INT TERM

"$top/xray-seg" listen --port 0 --count 5 --idle 10 2>"$work/listen.err" &
listener=$!
i=0
until grep -q 'listening on' "$work/listen.err" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/listen.err" >&2; exit 1; }
	sleep 0.05
done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/listen.err")

root=$(printf '1-%08x-%s' "$(date +%s)" "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')")
parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export _X_AMZN_TRACE_ID="Root=$root;Parent=$parent;Sampled=1"
export AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:$port"
export XRAY_SEG_STATE_DIR="$work/state"
export PATH="$top:$PATH"

echo "function segment (made up): $_X_AMZN_TRACE_ID"
echo "xray-seg listen on 127.0.0.1:$port; running examples/handler.sh:"
"$top/examples/handler.sh" '{"customer": "alice"}'
wait "$listener"
listener=

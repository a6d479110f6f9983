#!/usr/bin/env bash
# make bench: what each xray-seg call costs next to the floor (an empty C
# program), its peers (the Python X-Ray SDK, the aws CLI), and how the cost
# scales with the state of the trace. Medians of hyperfine runs; peak RSS from
# GNU time. Prints a markdown table and writes it to bench/results.md.
#
# usage: bench/bench.sh [-r RUNS] [-o FILE]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=100
out=$top/bench/results.md
while getopts r:o: opt; do
	case $opt in
	r) runs=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: bench/bench.sh [-r RUNS] [-o FILE]" >&2; exit 2 ;;
	esac
done
for tool in hyperfine python3 /usr/bin/time cc; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done

work=$(mktemp -d)
sink=
trap '[ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work"' EXIT
X=$top/xray-seg
cc -O2 -o "$work/empty" "$top/bench/empty.c"

python3 "$top/test/helpers/udp-sink.py" --out /dev/null --port-file "$work/port" --idle 600 --timeout 3600 &
sink=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

root=$(printf '1-%08x-%s' "$(date +%s)" "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')")
parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export _X_AMZN_TRACE_ID="Root=$root;Parent=$parent;Sampled=1"
export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$port
export XRAY_SEG_STATE_DIR=$work/state
S=$XRAY_SEG_STATE_DIR

# snapshot NAME OPEN DONE: a state directory holding OPEN open and DONE undelivered subsegments.
snapshot() {
	local name=$1 open=$2 done=$3 i
	rm -rf "$S"
	for ((i = 0; i < done; i++)); do
		id=$("$X" begin "done $i")
		AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:1 "$X" end "$id" 2>/dev/null
	done
	for ((i = 0; i < open; i++)); do "$X" begin "open $i" >/dev/null; done
	cp -a "$S" "$work/snap-$name"
}

# measure LABEL PREPARE CMD...: median milliseconds of CMD, PREPARE run before each run.
declare -A median rss
measure() {
	local label=$1 prepare=$2
	shift 2
	local args=(-N --style none --warmup 10 --runs "$runs" --export-json "$work/h.json")
	# -N runs the prepare command without a shell too: give it one.
	printf '%s\n' "$prepare" >"$work/prepare.sh"
	[ -n "$prepare" ] && args+=(--prepare "bash $work/prepare.sh")
	hyperfine "${args[@]}" "$*" >/dev/null 2>&1 ||
		hyperfine "${args[@]}" --ignore-failure "$*" >/dev/null
	median[$label]=$(python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/h.json")
	local i m=()
	for i in 1 2 3 4 5 6 7 8 9; do
		[ -n "$prepare" ] && bash -c "$prepare"
		/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
		m+=("$(tail -n 1 "$work/rss")")
	done
	rss[$label]=$(printf '%s\n' "${m[@]}" | sort -n | sed -n 5p)
	printf '  %-40s %8s ms %8s KB\n' "$label" "${median[$label]}" "${rss[$label]}" >&2
}

echo "bench: $runs runs each; trace $root" >&2
snapshot one 1 0
snapshot open100 100 0
snapshot open1000 1000 0
snapshot done1 0 1
snapshot done100 0 100
snapshot done1000 0 1000
restore() { echo "rm -rf $S && cp -a $work/snap-$1 $S"; }

measure "empty C program (floor)" "" "$work/empty"
printf '%s\n' "printf '%s' '{\"format\":\"json\",\"version\":1}' >/dev/udp/127.0.0.1/$port" >"$work/udp.sh"
measure "bash: one datagram to /dev/udp" "" bash "$work/udp.sh"
measure "true" "" /bin/true
for n in one open100 open1000; do
	label=${n#open}
	[ "$n" = one ] && label=1
	measure "begin ($label open)" "$(restore $n)" "$X" begin work
	measure "annotate ($label open)" "$(restore $n)" "$X" annotate key value
	measure "end ($label open)" "$(restore $n)" "$X" end
done
measure "header" "$(restore one)" "$X" header
measure "exec -- true" "" "$X" exec -- /bin/true
for n in done1 done100 done1000; do
	measure "send (${n#done} kept)" "$(restore $n)" "$X" send
done

peers=()
if python3 -c 'import aws_xray_sdk' 2>/dev/null; then
	cat >"$work/sdk.py" <<'PY'
import os
os.environ.setdefault("LAMBDA_TASK_ROOT", "/tmp")
from aws_xray_sdk.core import xray_recorder
with xray_recorder.in_subsegment("work") as s:
    s.put_annotation("key", "value")
PY
	runs_saved=$runs
	runs=$((runs < 30 ? runs : 30))
	measure "Python X-Ray SDK: one subsegment" "" python3 "$work/sdk.py"
	runs=$runs_saved
	peers+=("Python X-Ray SDK: one subsegment")
fi
if command -v aws >/dev/null && command -v moto_server >/dev/null; then
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	moto_server -H 127.0.0.1 -p "$mport" >"$work/moto.log" 2>&1 &
	moto=$!
	for _ in $(seq 200); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$mport" 2>/dev/null && break
		sleep 0.05
	done
	runs_saved=$runs
	runs=$((runs < 10 ? runs : 10))
	doc="{\"id\":\"0123456789abcdef\",\"name\":\"w\",\"trace_id\":\"$root\",\"start_time\":1,\"end_time\":2}"
	measure "aws xray put-trace-segments (moto)" "" \
		env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
		aws xray put-trace-segments --endpoint-url "http://127.0.0.1:$mport" --trace-segment-documents "$doc"
	runs=$runs_saved
	kill "$moto" 2>/dev/null
	peers+=("aws xray put-trace-segments (moto)")
fi

curl_maps=$(LD_DEBUG=libs "$X" header 2>&1 >/dev/null | grep -c 'libcurl' || true)

{
	floor=${median["empty C program (floor)"]}
	frss=${rss["empty C program (floor)"]}
	echo "# xray-seg benchmark"
	echo
	echo "$(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $runs runs per row (peers fewer), medians."
	echo
	echo "| command | median ms | x floor | peak RSS KB | x floor |"
	echo "|---|---:|---:|---:|---:|"
	for label in "empty C program (floor)" "bash: one datagram to /dev/udp" "true" \
		"begin (1 open)" "begin (100 open)" "begin (1000 open)" \
		"annotate (1 open)" "annotate (100 open)" "annotate (1000 open)" \
		"end (1 open)" "end (100 open)" "end (1000 open)" "header" "exec -- true" \
		"send (1 kept)" "send (100 kept)" "send (1000 kept)" "${peers[@]}"; do
		python3 -c 'import sys; m,f,r,fr=map(float,sys.argv[2:]); print("| %s | %.3f | %.2f | %d | %.2f |" % (sys.argv[1], m, m/f, r, r/fr))' \
			"$label" "${median[$label]}" "$floor" "${rss[$label]}" "$frss"
	done
	echo
	echo "libcurl mapped on the UDP path (LD_DEBUG=libs, header): $curl_maps times."
} | tee "$out"

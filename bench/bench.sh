#!/usr/bin/env bash
# make bench: what each xray-seg call costs next to the floor (an empty C
# program), its peers (the Python X-Ray SDK, the aws CLI), and how the cost
# scales with the state of the trace. Medians of hyperfine runs, taken in
# interleaved rounds; peak RSS from GNU time. Prints a markdown table and
# writes it to bench/results.md.
#
# usage: bench/bench.sh [-r RUNS] [-k ROUNDS] [-t DIR] [-m DIR|none] [-o FILE]
#   -r RUNS    timed runs per row, in all (default 100)
#   -k ROUNDS  rounds the runs are split into, every row once a round (default 5)
#   -t DIR     where the state directory lives (default $TMPDIR or /tmp)
#   -m DIR     second place for the state, measured too when its file system
#              is of another type (default /dev/shm); none: skip
#   -o FILE    the table (default bench/results.md)
#
# How the trace's state is held steady (the table's notes say the same):
# every size of trace is its own trace (its own Root ID and directory), made
# once before any timing; a row's prepare step undoes only what the measured
# call changed (begin: the file it made and its stack line; end: the file it
# removed), so it costs the same at any size and leaves the directory as it
# found it. annotate changes no file count and needs none. Only send, which
# consumes what it sends, copies its trace back before each run, and its rows
# run after all others.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=100
rounds=5
out=$top/bench/results.md
base=${TMPDIR:-/tmp}
cmp=/dev/shm
usage() { echo "usage: bench/bench.sh [-r RUNS] [-k ROUNDS] [-t DIR] [-m DIR|none] [-o FILE]" >&2; exit 2; }
while getopts r:k:t:m:o: opt; do
	case $opt in
	r) runs=$OPTARG ;;
	k) rounds=$OPTARG ;;
	t) base=$OPTARG ;;
	m) cmp=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
[[ $runs =~ ^[0-9]+$ && $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || usage
for tool in hyperfine python3 /usr/bin/time cc; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done
fstype() { df --output=fstype "$1" | tail -n 1; }
[ "$cmp" = none ] && cmp=
if [ -n "$cmp" ] && { [ ! -d "$cmp" ] || [ ! -w "$cmp" ] || [ "$(fstype "$cmp")" = "$(fstype "$base")" ]; }; then
	cmp=
fi

work=$(mktemp -d -p "$base")
cwork=
[ -n "$cmp" ] && cwork=$(mktemp -d -p "$cmp")
sink=
trap '[ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work" ${cwork:+"$cwork"}' EXIT
X=$top/xray-seg
# Before the table is written: the table itself would make the tree dirty.
rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo "(no git)")
cc -O2 -o "$work/empty" "$top/bench/empty.c"
cc -O2 -static -o "$work/empty-static" "$top/bench/empty.c" 2>/dev/null || : >"$work/empty-static"
cc -O2 -static -o "$work/spawn-static" "$top/bench/spawn.c" 2>/dev/null || : >"$work/spawn-static"

python3 "$top/test/helpers/udp-sink.py" --out /dev/null --port-file "$work/port" --idle 600 --timeout 3600 &
sink=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$port
# The Lambda path: where each call is billed, and where one trace at a time
# lives in the state directory.
export AWS_LAMBDA_FUNCTION_NAME=xray-seg-bench

newroot() { printf '1-%08x-%s' "$(date +%s)" "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"; }
parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
stack=stack.$parent
ctx() { echo "_X_AMZN_TRACE_ID=Root=$1;Parent=$parent;Sampled=1"; }
# The peers and the rows without a trace of their own use this one.
_X_AMZN_TRACE_ID="Root=$(newroot);Parent=$parent;Sampled=1"
export _X_AMZN_TRACE_ID

# The traces, made once: "openN" holds N open subsegments, "doneN" N undelivered
# ones. They are made where the state is cheapest to churn (the second place
# if there is one) and copied in, so that making them frees no inode on the
# measured file system; keep/ holds the pristine copy the prepare steps use.
declare -A root
stage=${cwork:-$work}/stage
for t in open1 open100 open1000 done1000; do
	root[$t]=$(newroot)
	sleep 0.01
done
for n in 1 100 1000; do
	for ((i = 0; i < n; i++)); do
		env "$(ctx "${root[open$n]}")" XRAY_SEG_STATE_DIR="$stage" "$X" begin "open $i" >/dev/null
	done
done
for ((i = 0; i < 1000; i++)); do
	id=$(env "$(ctx "${root[done1000]}")" XRAY_SEG_STATE_DIR="$stage" "$X" begin "done $i")
	env "$(ctx "${root[done1000]}")" XRAY_SEG_STATE_DIR="$stage" AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:1 \
		"$X" end "$id" 2>/dev/null
done
# "last": the trace of the invocation before, over: one subsegment begun,
# annotated and ended; alone in its state directory, as in a Lambda sandbox.
root[last]=$(newroot)
env "$(ctx "${root[last]}")" XRAY_SEG_STATE_DIR="$stage/alone" "$X" begin "last" >/dev/null
env "$(ctx "${root[last]}")" XRAY_SEG_STATE_DIR="$stage/alone" "$X" annotate key value
env "$(ctx "${root[last]}")" XRAY_SEG_STATE_DIR="$stage/alone" "$X" end
cp -a "$stage/alone/${root[last]}" "$stage/"
# done1 and done100: the first 1 and 100 documents of done1000, copied.
for n in 1 100; do
	root[done$n]=$(newroot)
	sleep 0.01
	d=$stage/${root[done$n]}
	mkdir -m 700 "$d"
	(
		cd "$stage/${root[done1000]}"
		docs=(./*.done)
		find . -maxdepth 1 -type f ! -name '*.done' -exec cp -p -t "$d" {} +
		cp -p -t "$d" "${docs[@]:0:n}"
	)
done
for w in "$work" ${cwork:+"$cwork"}; do
	mkdir -m 700 "$w/state" "$w/keep" "$w/alone"
	for t in "${!root[@]}"; do
		[ "$t" = last ] || cp -a "$stage/${root[$t]}" "$w/state/"
		cp -a "$stage/${root[$t]}" "$w/keep/$t"
	done
	cp -a "$stage/${root[last]}" "$w/alone/"
done
first=$(newroot)

# Rows: label, variant ("" or "cmp": same command, state in the second place),
# group (rows of a group are interleaved), environment, prepare script, command.
rlabel=() rvar=() rgroup=() renv=() rprep=() rcmd=() rruns=()
declare -A idx
row() {
	local i=${#rlabel[@]}
	rlabel[i]=$1 rvar[i]=$2 rgroup[i]=$3 renv[i]=$4 rprep[i]=$5 rruns[i]=$runs
	shift 5
	rcmd[i]="$*"
	idx["${rlabel[i]}${rvar[i]:+ cmp}"]=$i
}
# prep NAME: the path of a new prepare script, its text on stdin.
prep() { cat >"$work/prep-$1.sh"; echo "$work/prep-$1.sh"; }

row "empty C program (floor)" "" main "" "" "$work/empty"
[ -s "$work/empty-static" ] && row "empty C program, static" "" main "" "" "$work/empty-static"
printf '%s\n' "printf '%s' '{\"format\":\"json\",\"version\":1}' >/dev/udp/127.0.0.1/$port" >"$work/udp.sh"
row "bash: one datagram to /dev/udp" "" main "" "" bash "$work/udp.sh"
row "true" "" main "" "" /bin/true
[ -s "$work/spawn-static" ] && row "static C program running true" "" main "" "" "$work/spawn-static" /bin/true
for w in "$work" ${cwork:+"$cwork"}; do
	v=
	[ "$w" = "$work" ] || v="cmp"
	S=$w/state
	for n in 1 100 1000; do
		t=open$n T=$S/${root[open$n]}
		e="XRAY_SEG_STATE_DIR=$S $(ctx "${root[$t]}")"
		size=$(stat -c %s "$T/$stack")
		topid=$(tail -c 17 "$T/$stack" | head -c 16)
		p=$(prep "begin$n$v" <<-EOF
			cd '$T' || exit 1
			if [ "\$(stat -c %s $stack)" -gt $size ]; then
				id=\$(tail -c 17 $stack | head -c 16)
				rm -f "\$id.open" && truncate -s $size $stack
			fi
		EOF
		)
		row "begin ($n open)" "$v" main "$e" "$p" "$X" begin work
		row "annotate ($n open)" "$v" main "$e" "" "$X" annotate key value
		p=$(prep "end$n$v" <<-EOF
			[ -e '$T/$topid.open' ] && exit 0
			if [ -d '$T' ]; then
				cp -p '$w/keep/$t/$topid.open' '$T/' && printf '%s\n' $topid >>'$T/$stack'
			else
				cp -a '$w/keep/$t' '$T'
			fi
		EOF
		)
		row "end ($n open)" "$v" main "$e" "$p" "$X" end
	done
	# The first call of an invocation: it makes the new trace's directory and
	# removes the one of the invocation before.
	A=$w/alone
	p=$(prep "first$v" <<-EOF
		rm -rf '$A/$first'
		[ -d '$A/${root[last]}' ] || cp -a '$w/keep/last' '$A/${root[last]}'
	EOF
	)
	row "begin, first of a trace" "$v" main "XRAY_SEG_STATE_DIR=$A $(ctx "$first")" "$p" "$X" begin work
	e="XRAY_SEG_STATE_DIR=$S $(ctx "${root[open1]}")"
	row "header" "$v" main "$e" "" "$X" header
	row "exec -- true" "$v" main "$e" "" "$X" exec -- /bin/true
	[ -z "$v" ] && row "exec -- true, not recording" "" main "$e AWS_XRAY_SDK_ENABLED=false" "" "$X" exec -- /bin/true
	for n in 1 100 1000; do
		t=done$n T=$S/${root[done$n]}
		p=$(prep "send$n$v" <<-EOF
			rm -rf '$T' && cp -a '$w/keep/$t' '$T'
		EOF
		)
		row "send ($n kept)" "$v" send "XRAY_SEG_STATE_DIR=$S $(ctx "${root[$t]}")" "$p" "$X" send
	done
done

declare -A median rss
# run ROW RUNS WARMUP: time RUNS runs of a row, appending each to its list.
run() {
	local i=$1 args
	# shellcheck disable=SC2206 # the environment is words without spaces
	local env=(${renv[i]})
	args=(-N --style none --warmup "$3" --runs "$2" --export-json "$work/h.json")
	# -N runs the prepare command without a shell too: it is a bash script. It runs
	# once more after the last run, so that the next row finds the trace as it was.
	[ -n "${rprep[i]}" ] && args+=(--prepare "bash ${rprep[i]}" --cleanup "bash ${rprep[i]}")
	env "${env[@]}" hyperfine "${args[@]}" "${rcmd[i]}" >/dev/null 2>&1 ||
		env "${env[@]}" hyperfine "${args[@]}" --ignore-failure "${rcmd[i]}" >/dev/null
	python3 -c 'import json,sys; print("\n".join("%.9f" % t for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' \
		"$work/h.json" >>"$work/times-$i"
}
# finish ROW: the median of its runs and its peak RSS (median of 9).
finish() {
	local i=$1 k m=() cmd
	# shellcheck disable=SC2206
	local env=(${renv[i]})
	read -ra cmd <<<"${rcmd[i]}"
	median[$i]=$(python3 -c 'import statistics,sys; print("%.3f" % (statistics.median(float(l) for l in open(sys.argv[1]))*1000))' "$work/times-$i")
	for k in 1 2 3 4 5 6 7 8 9; do
		[ -n "${rprep[i]}" ] && bash "${rprep[i]}"
		env "${env[@]}" /usr/bin/time -f %M -o "$work/rss" "${cmd[@]}" >/dev/null 2>&1 || true
		m+=("$(tail -n 1 "$work/rss")")
	done
	[ -n "${rprep[i]}" ] && bash "${rprep[i]}"
	rss[$i]=$(printf '%s\n' "${m[@]}" | sort -n | sed -n 5p)
	printf '  %-44s %8s ms %8s KB\n' "${rlabel[i]}${rvar[i]:+ (state on $(fstype "$cmp"))}" "${median[$i]}" "${rss[$i]}" >&2
}
# rounds GROUP: every row of the group once a round, its share of the runs each time.
rounds() {
	local k i per=$(((runs + rounds - 1) / rounds))
	[ "$per" -lt 2 ] && per=2
	for ((k = 0; k < rounds; k++)); do
		for i in "${!rlabel[@]}"; do
			[ "${rgroup[i]}" = "$1" ] && run "$i" "$per" 3
		done
	done
	for i in "${!rlabel[@]}"; do
		[ "${rgroup[i]}" = "$1" ] && finish "$i"
	done
	return 0
}

echo "bench: $runs runs a row in $rounds rounds; state in $work ($(fstype "$work"))${cmp:+ and $cwork ($(fstype "$cmp"))}" >&2
rounds main
rounds send

# The peers: slow, so fewer runs, in one round.
peers=()
if python3 -c 'import aws_xray_sdk' 2>/dev/null; then
	cat >"$work/sdk.py" <<'PY'
import os
os.environ.setdefault("LAMBDA_TASK_ROOT", "/tmp")
from aws_xray_sdk.core import xray_recorder
with xray_recorder.in_subsegment("work") as s:
    s.put_annotation("key", "value")
PY
	row "Python X-Ray SDK: one subsegment" "" peer "" "" python3 "$work/sdk.py"
	i=$((${#rlabel[@]} - 1))
	rruns[i]=$((runs < 30 ? runs : 30))
	run "$i" "${rruns[i]}" 3
	finish "$i"
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
	doc="{\"id\":\"0123456789abcdef\",\"name\":\"w\",\"trace_id\":\"${root[open1]}\",\"start_time\":1,\"end_time\":2}"
	row "aws xray put-trace-segments (moto)" "" peer \
		"AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1" "" \
		aws xray put-trace-segments --endpoint-url "http://127.0.0.1:$mport" --trace-segment-documents "$doc"
	i=$((${#rlabel[@]} - 1))
	rruns[i]=$((runs < 10 ? runs : 10))
	run "$i" "${rruns[i]}" 3
	finish "$i"
	kill "$moto" 2>/dev/null
	peers+=("aws xray put-trace-segments (moto)")
fi

curl_maps=$(LD_DEBUG=libs "$X" header 2>&1 >/dev/null | grep -c 'libcurl' || true)
cpuid_us=
cc -O2 -o "$work/cpuid" "$top/bench/cpuid.c" 2>/dev/null && cpuid_us=$("$work/cpuid" 2>/dev/null) || cpuid_us=

# m LABEL [cmp]: a row's median; r: its RSS.
m() { local i=${idx["$1${2:+ cmp}"]:-}; [ -n "$i" ] && echo "${median[$i]}"; }
r() { local i=${idx["$1"]:-}; [ -n "$i" ] && echo "${rss[$i]}"; }
{
	floor=$(m "empty C program (floor)")
	frss=$(r "empty C program (floor)")
	where="$(fstype "$work") ($base)"
	cmptype=${cmp:+$(fstype "$cmp")}
	cmpwhere=${cmp:+$cmptype ($cmp)}
	echo "# xray-seg benchmark"
	echo
	echo "$(date -u +%Y-%m-%d), xray-seg $rev, $(uname -m), $(nproc) cores, $((per = (runs + rounds - 1) / rounds, per < 2 ? 2 * rounds : per * rounds)) runs per row in $rounds interleaved rounds (peers fewer, in one), medians; state on $where${cmp:+ and, in the $cmptype column, on $cmpwhere}."
	echo
	echo "| command | median ms | x floor |${cmp:+ ms, state on $cmptype |} peak RSS KB | x floor |"
	echo "|---|---:|---:|${cmp:+---:|}---:|---:|"
	labels=("empty C program (floor)" "empty C program, static" "bash: one datagram to /dev/udp" "true"
		"begin (1 open)" "begin (100 open)" "begin (1000 open)" "begin, first of a trace"
		"annotate (1 open)" "annotate (100 open)" "annotate (1000 open)"
		"end (1 open)" "end (100 open)" "end (1000 open)" "header" "static C program running true" "exec -- true"
		"exec -- true, not recording"
		"send (1 kept)" "send (100 kept)" "send (1000 kept)" "${peers[@]}")
	for label in "${labels[@]}"; do
		[ -n "${idx[$label]:-}" ] || continue
		python3 -c 'import sys
l, m, f, c, r, fr, hascmp = sys.argv[1:]
cells = [l, "%.3f" % float(m), "%.2f" % (float(m) / float(f))]
if hascmp:
    cells.append(c)
cells += [r, "%.2f" % (float(r) / float(fr))]
print("| " + " | ".join(cells) + " |")' "$label" "$(m "$label")" "$floor" "$(m "$label" cmp)" "$(r "$label")" "$frss" "$cmp"
	done
	echo
	echo "libcurl mapped on the UDP path (LD_DEBUG=libs, header): $curl_maps times."
	[ -n "$cpuid_us" ] && echo "One CPUID instruction (bench/cpuid.c): $cpuid_us us; glibc runs dozens at every start."
	echo
	echo "## Against the targets of issue 7"
	echo
	python3 - "$floor" "$frss" \
		"$(m "begin (1 open)")" "$(m "begin (1000 open)")" "$(m "annotate (1 open)")" "$(m "annotate (1000 open)")" \
		"$(m "end (1 open)")" "$(m "end (1000 open)")" "$(m "exec -- true")" "$(m true)" \
		"$(m "static C program running true")" \
		"$(m "send (1 kept)")" "$(m "send (100 kept)")" "$(m "send (1000 kept)")" \
		"$(for i in "${!rcmd[@]}"; do [[ ${rcmd[i]} == "$X "* && -n ${rss[$i]:-} ]] && echo "${rss[$i]}"; done | sort -n | tail -n 1)" <<-'PY'
		import sys
		args = [float(a) if a else None for a in sys.argv[1:]]
		fl, frss, b1, b1k, a1, a1k, e1, e1k, ex, tr, sp, s1, s100, s1k, maxrss = args
		def line(ok, text):
		    print("- %s: %s" % ("met" if ok else "missed", text))
		for name, v in (("begin", b1), ("annotate", a1), ("end", e1)):
		    line(v <= 1.5 * fl, "%s (1 open) within 1.5x the floor: %.2fx" % (name, v / fl))
		line(ex - tr <= 1.0, "exec -- true within 1 ms of true: %+.3f ms" % (ex - tr))
		if sp is not None:
		    print("  (a static C program that only runs true and waits for it: %+.3f ms over true;"
		          " exec -- true %+.3f ms over that)" % (sp - tr, ex - sp))
		for name, v1, vk in (("begin", b1, b1k), ("annotate", a1, a1k)):
		    line(vk <= 1.2 * v1, "%s at 1000 open within 1.2x of 1 open: %.2fx" % (name, vk / v1))
		print("- (end, no target: %.2fx at 1000 open against 1)" % (e1k / e1))
		lo, hi = (s100 - s1) / 99, (s1k - s100) / 900
		line(0.5 <= hi / lo <= 2, "send linear: %.1f us a document from 1 to 100 kept, %.1f us from 100 to 1000" % (lo * 1000, hi * 1000))
		line(maxrss <= 1.5 * frss, "peak RSS within 1.5x the empty program: at most %.2fx" % (maxrss / frss))
		PY
	echo
	echo "## How the rows are measured"
	echo
	echo "- Every row is timed by hyperfine (no shell) in $rounds rounds, each row once a round with"
	echo "  3 warm-up runs, so that a slow spell of a shared machine falls on every row alike; the"
	echo "  median is over all of a row's runs. The floor is an empty C program linked like most"
	echo "  programs (dynamically); the static one is what a static xray-seg starts from."
	echo "- Each size of trace (1, 100, 1000 open subsegments; 1, 100, 1000 kept ones) is a trace of"
	echo "  its own, made once before any timing. Nothing is copied in before a scaling row: the"
	echo "  prepare step of \`begin\` removes the file that the previous run made and its stack line,"
	echo "  the one of \`end\` puts back the file that the previous run removed; \`annotate\`,"
	echo "  \`header\` and \`exec\` leave the number of files as it was and have none. So a prepare"
	echo "  step does the same small work at every size. Copying the whole trace in before every run"
	echo "  (as this benchmark did until 2026-12-01) made the 1000-open rows of the calls that write"
	echo "  up to twice as slow on ext4: the copy's journal and writeback work landed on the measured"
	echo "  call (\`header\`, which only reads, was not slowed; a \`sync\` after the copy removed"
	echo "  most of the excess)."
	echo "- The calls run as in Lambda (AWS_LAMBDA_FUNCTION_NAME is set): a trace's directory stays"
	echo "  until the next trace starts, so no \`end\` removes it. \`begin, first of a trace\` is the"
	echo "  first call of an invocation, in a state directory that holds only the trace before, over:"
	echo "  it makes the new trace's directory and removes the old one; its prepare step removes"
	echo "  the new directory and puts the old one back."
	echo "- \`send\` consumes what it sends, so its trace is copied back before each run; its rows run"
	echo "  after all others, so that their thousands of deleted files do not slow the other rows."
	echo "- \`end\`, \`exec\` and \`send\` send to a local UDP sink (a Python script standing in for"
	echo "  the daemon). Its wake-up can preempt the sender on the same core before the sender goes"
	echo "  on: on a 2-core machine that is about 0.1-0.2 ms of an \`end\`."
	echo "- \`exec -- true, not recording\` is \`exec\` with AWS_XRAY_SDK_ENABLED=false: the cost of"
	echo "  the extra process and the spawn alone, without the state and the datagram."
	echo "  \`static C program running true\` (bench/spawn.c, linked statically as xray-seg is) does"
	echo "  only that: posix_spawn and waitpid. It is the floor of any wrapper built on glibc."
	echo "- The state is where xray-seg keeps it by default (\$TMPDIR or /tmp, which on Lambda is"
	echo "  the function's /tmp), here on $where."
	if [ -n "$cmp" ]; then
		echo "  The column \"ms, state on $cmptype\" repeats the rows that touch the state with the"
		echo "  state on $cmpwhere."
	fi
	echo "  On ext4 every new file (the document of begin and exec, annotate's rewrite) costs an"
	echo "  inode allocation, which on a busy file system takes from 20 us to 1 ms (ext4 skips the"
	echo "  inodes freed in the last minutes); on tmpfs a few us."
} | tee "$out"

#!/usr/bin/env bats
# listen.bats - `xray-seg listen`: the loopback receiver. --json prints exactly
# the documents that arrive; --count, --idle and SIGTERM/SIGINT stop it (after
# drawing pending waterfalls); --port 0 reports the port it got; malformed
# datagrams are one warning each; the live lines and the waterfall (nesting,
# names, marks, no colour unless on a terminal); a Python X-Ray SDK datagram;
# a port in use (exit 1) and bad options (exit 2).
#
# Every listener is started with a bounded --idle, waited for with a deadline
# and killed in teardown.

# jq and sh programs are in single quotes, and bats runs each test in its own subshell:
# shellcheck disable=SC2016,SC2030,SC2031

load test_helper
bats_require_minimum_version 1.5.0

HDR='{"format":"json","version":1}'
# One datagram the Python X-Ray SDK sent from Lambda (subsegment "will-fail":
# fault, an annotation, a cause), copied byte for byte from
# /work/shared/reference/sdk-examples/sdk-lambda-datagrams.jsonl (line 3,
# header_raw + "\n" + doc_raw): the SDK writes its body with ", " and ": ".
SDK_DG=$XS_FIXTURES/listen/sdk-lambda-will-fail.datagram
SDK_ROOT=1-6b067ecf-f735ae4ea9cab4596e9c2ff3
ESC=$'\e'

teardown() {
	local n
	if [[ -n ${L_PID:-} ]] && kill "$L_PID" 2>/dev/null; then
		# SIGTERM first (it stops cleanly), at most 3 s; xs_teardown then SIGKILLs
		# whatever reap_later recorded and still runs.
		for ((n = 0; n < 300; n++)); do
			kill -0 "$L_PID" 2>/dev/null || break
			_nap 0.01
		done
	fi
	xs_teardown
}

# --- helpers -------------------------------------------------------------------

# start_listener [ARGS...]: run `xray-seg listen ARGS` in the background
# (--port 0 and --idle 60 unless ARGS give them), stdout in $L_OUT, stderr in
# $L_ERR; wait (at most 10 s) for its "listening on" line. Sets L_PID, L_PORT.
start_listener() {
	local args=("$@")
	[[ " ${args[*]} " == *" --port "* ]] || args=(--port 0 "${args[@]}")
	[[ " ${args[*]} " == *" --idle "* ]] || args+=(--idle 60)
	_launch_listener "$XRAY_SEG_WRAPPER" "$XRAY_SEG" listen "${args[@]}"
}

# _launch_listener WRAPPER CMD...: start CMD (split WRAPPER first) directly, so
# that $! is the listener itself and a signal sent to L_PID reaches it.
_launch_listener() {
	local wrapper=$1 n
	shift
	L_OUT=$BATS_TEST_TMPDIR/listen.out
	L_ERR=$BATS_TEST_TMPDIR/listen.err
	: >"$L_OUT"
	: >"$L_ERR"
	# shellcheck disable=SC2086 # the wrapper is a command line
	$wrapper "$@" </dev/null >"$L_OUT" 2>"$L_ERR" 3>&- &
	L_PID=$!
	reap_later "$L_PID"
	for ((n = 0; n < 1000; n++)); do
		if grep -q 'listening on' "$L_ERR"; then
			L_PORT=$(sed -n 's/^xray-seg: listening on 127\.0\.0\.1:\([0-9]\{1,5\}\)$/\1/p' "$L_ERR")
			[[ -n $L_PORT ]] || xs_die "listener: unexpected ready line: $(cat "$L_ERR")"
			return 0
		fi
		kill -0 "$L_PID" 2>/dev/null || xs_die "listener exited before listening: $(cat "$L_ERR")"
		_nap 0.01
	done
	xs_die "listener did not say it was listening within 10 s: $(cat "$L_ERR")"
}

# wait_exit [SECONDS]: wait (default at most 10 s) for the listener to exit;
# sets L_STATUS, and output/stderr to what it wrote (lines: lines/stderr_lines).
wait_exit() {
	local limit=${1:-10} deadline
	deadline=$((${EPOCHREALTIME/./} + limit * 1000000))
	while kill -0 "$L_PID" 2>/dev/null; do
		((${EPOCHREALTIME/./} < deadline)) ||
			xs_die "listener still running after $limit s; stdout:
$(cat "$L_OUT")
stderr:
$(cat "$L_ERR")"
		_nap 0.01
	done
	L_STATUS=0
	wait "$L_PID" || L_STATUS=$?
	L_PID=
	output=$(cat "$L_OUT")
	stderr=$(cat "$L_ERR")
	mapfile -t lines <"$L_OUT"
	mapfile -t stderr_lines <"$L_ERR"
}

# wait_lines N: wait (at most 10 s) until the listener has written N lines to stdout.
wait_lines() {
	local n
	for ((n = 0; n < 1000; n++)); do
		(($(wc -l <"$L_OUT") >= $1)) && return 0
		_nap 0.01
	done
	xs_die "expected $1 line(s) from the listener within 10 s, got:
$(cat "$L_OUT")
stderr:
$(cat "$L_ERR")"
}

# wait_stdout PATTERN: wait (at most 10 s) until a stdout line matches the ERE PATTERN.
wait_stdout() {
	local n
	for ((n = 0; n < 1000; n++)); do
		grep -Eq -- "$1" "$L_OUT" && return 0
		_nap 0.01
	done
	xs_die "no line matching '$1' from the listener within 10 s, got:
$(cat "$L_OUT")"
}

# listen_ctx: a recording Lambda-like context with fresh ids (ROOT, PARENT),
# the daemon address aimed at the listener.
listen_ctx() {
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1"
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$L_PORT
}

# fixed_root N: a well-formed trace id made from the number N.
fixed_root() { printf '1-65000000-%024x\n' "$1"; }

# dg NAME: path of datagram file NAME of this test.
dg() { echo "$BATS_TEST_TMPDIR/dg.$1"; }

# mkdg NAME DOCUMENT [HEADER]: write a datagram: HEADER (default $HDR), "\n", DOCUMENT.
mkdg() { printf '%s\n%s' "${3:-$HDR}" "$2" >"$(dg "$1")"; }

# mkdoc NAME ID [PARENT] [EXTRA]: a small finished subsegment of trace $ROOT as
# compact JSON; EXTRA is more members, e.g. ',"fault":true'.
mkdoc() {
	printf '{"id":"%s","name":"%s","trace_id":"%s",%s"type":"subsegment","start_time":%s,"end_time":%s%s}' \
		"$2" "$1" "$ROOT" "${3:+\"parent_id\":\"$3\",}" "${START:-1700000000.100000}" \
		"${END:-1700000000.200000}" "${4:-}"
}

# send_dg NAME...: send these datagram files to the listener, one datagram each, in order.
send_dg() {
	local files=() n
	for n in "$@"; do files+=("$(dg "$n")"); done
	"$XS_PYTHON" "$XS_HELPERS/udp-send.py" 127.0.0.1 "$L_PORT" "${files[@]}"
}

# waterfall_of ROOT [FIRST]: the lines of the last waterfall (with FIRST set: the
# first) of trace ROOT in $L_OUT, each as "INDENT+NAME|MARKS AND ANNOTATIONS" (bar,
# offset and duration checked and dropped). A trace that goes quiet for 1 s is
# drawn, and drawn again with everything when more arrives.
waterfall_of() {
	awk -v h="trace $1: " -v first="${2:-}" '
		index($0, h) == 1 { if (first && n) exit; f = 1; n = 0; next }
		f && /^  / { l[++n] = $0; next }
		{ f = 0 }
		END { for (i = 1; i <= n; i++) print l[i] }' "$L_OUT" |
		sed -E 's/^(  +)([^ ]+) +\|[# ]{30}\| +\+[0-9]+\.[0-9] ms +([0-9]+\.[0-9] ms|in progress)(.*)$/\1\2|\4/; s/ +$//; s/\| /|/'
}

# live_lines: the live lines (not waterfalls) in $L_OUT, time stamp checked and dropped.
live_lines() {
	grep -E '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9] ' "$L_OUT" | cut -d' ' -f2- | sed -E 's/ +/ /g; s/ $//'
}

# --- --json ----------------------------------------------------------------------

@test "--json prints the documents real begin/end/exec send, one compact JSON line each" {
	start_listener --json --count 3
	listen_ctx
	outer=$(xs_ok begin handler)
	xs_quiet annotate customer 'alice/ü "q"'
	xs_quiet annotate --number items 3.50
	xs_quiet metadata event '{"customer":"alice","n":[1,2.5e3]}'
	inner=$(xs_ok begin validate)
	xs_quiet end --error
	xs_quiet exec --name step -- true
	xs_quiet end "$outer"
	wait_exit
	((L_STATUS == 0)) || xs_die "listen --count 3 exited $L_STATUS: $stderr"
	[[ $stderr == "xray-seg: listening on 127.0.0.1:$L_PORT" ]] || xs_die "unexpected stderr: $stderr"
	((${#lines[@]} == 3)) || xs_die "expected 3 lines, got: $output"
	local printed=("${lines[@]}")

	# Compared structurally, document by document (the exec document's id is not known here).
	run -0 jq -sc --arg r "$ROOT" --arg p "$PARENT" --arg o "$outer" --arg i "$inner" '
		[.[0] == {id: $i, name: "validate", trace_id: $r, parent_id: $o, type: "subsegment",
		          start_time: .[0].start_time, end_time: .[0].end_time, error: true},
		 (.[1] | .name == "step" and .parent_id == $o and .trace_id == $r and
		         (.id | test("^[0-9a-f]{16}$")) and .metadata.process.exit_code == 0 and
		         (has("error") or has("fault") | not)),
		 (.[2] | del(.start_time, .end_time)) == {id: $o, name: "handler", trace_id: $r, parent_id: $p,
		          type: "subsegment", annotations: {customer: "alice/ü \"q\"", items: 3.5},
		          metadata: {default: {event: {customer: "alice", n: [1, 2500]}}}},
		 (map(.end_time >= .start_time and (.start_time | type) == "number") | all)]' "$L_OUT"
	assert_output '[true,true,true,true]'
	# As printed: compact, numbers as xray-seg wrote them, UTF-8 unescaped.
	[[ ${printed[2]} == *'"annotations":{"customer":"alice/ü \"q\"","items":3.50}'* ]] ||
		xs_die "annotations not as sent: ${printed[2]}"
	[[ ${printed[2]} == *'"metadata":{"default":{"event":{"customer":"alice","n":[1,2.5e3]}}}'* ]] ||
		xs_die "metadata not as sent: ${printed[2]}"

	# Each line, put back behind the header, is a datagram check-docs accepts.
	jq -cR --arg h "$HDR" '($h + "\n" + .) as $raw |
		{seq: 0, bytes: ($raw | utf8bytelength), utf8: true, truncated: false, raw: $raw}' \
		"$L_OUT" >"$BATS_TEST_TMPDIR/capture"
	run -0 check_capture "$BATS_TEST_TMPDIR/capture"
	assert_output "$(cat "$L_OUT")"
}

@test "--json output is byte for byte the documents xray-seg sent (replayed from a sink)" {
	lambda_ctx
	id=$(xs_ok begin 'sp ace/slash:x')
	xs_quiet annotate text $'tab\there ünï "q" \\ </>'
	xs_quiet annotate --number big 1e3
	xs_quiet annotate --number frac 0.10
	xs_quiet annotate --bool ok false
	xs_quiet metadata --namespace app blob '{"a":[1,2.50,-0.0,1E-7],"s":"\u00e9\u0001/","n":null,"o":{}}'
	xs_ok begin --namespace remote api.example.com >/dev/null
	xs_quiet end --http-status 429
	run -3 --separate-stderr xs exec --name fails -- sh -c 'exit 3'
	assert_stderr_empty
	xs_quiet end --cause $'two\nlines' "$id"
	wait_docs 3
	# Every datagram is valid UTF-8 (check-docs said so), so jq carries its bytes unchanged.
	local n=0 names=()
	while IFS= read -r rec; do
		jq -j '.raw' <<<"$rec" >"$(dg "sent$n")"
		names+=("sent$n")
		n=$((n + 1))
	done <"$(sink_capture)"
	((n == 3)) || xs_die "expected 3 captured datagrams, got $n"

	start_listener --json --count 3
	send_dg "${names[@]}"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	diff "$DOCS" "$L_OUT" || xs_die "listen --json changed the documents (diff above)"
}

# --- stopping: --count, --idle ------------------------------------------------

@test "--count N stops after N documents; malformed datagrams do not count" {
	start_listener --json --count 2
	ROOT=$(fixed_root 1)
	mkdg bad 'not json'
	mkdg one "$(mkdoc one 1111111111111111)"
	mkdg two "$(mkdoc two 2222222222222222)"
	mkdg three "$(mkdoc three 3333333333333333)"
	send_dg bad one bad two three
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	run -0 jq -r .name "$L_OUT"
	assert_output $'one\ntwo'
	((${#stderr_lines[@]} == 3)) || xs_die "expected the ready line and 2 warnings, got: $stderr"
}

@test "--count counts documents in the waterfall mode too, and draws the waterfall at exit" {
	start_listener --count 1
	ROOT=$(fixed_root 2)
	mkdg one "$(mkdoc one 1111111111111111)"
	mkdg two "$(mkdoc two 2222222222222222)"
	send_dg one two
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	run -0 live_lines
	assert_output "$ROOT one 100.0 ms"
	run -0 waterfall_of "$ROOT"
	assert_output '  one|'
	[[ $(cat "$L_OUT") != *two* ]] || xs_die "a document after --count was shown"
}

@test "--idle S stops after S seconds without a datagram, counted from the last one" {
	t0=$EPOCHREALTIME
	start_listener --json --idle 1
	wait_exit
	t1=$EPOCHREALTIME
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	assert_output ''
	float_ok "$t1 - $t0 >= 1.0"

	ROOT=$(fixed_root 3)
	mkdg one "$(mkdoc one 1111111111111111)"
	t0=$EPOCHREALTIME
	start_listener --json --idle 1
	_nap 0.6
	t_sent=$EPOCHREALTIME
	send_dg one
	wait_exit
	t1=$EPOCHREALTIME
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	run -0 jq -r .name <<<"$output"
	assert_output one
	float_ok "$t1 - $t_sent >= 1.0"
	float_ok "$t1 - $t0 >= 1.6"
}

# --- ports -------------------------------------------------------------------------

@test "--port 0 binds a free port and reports it; --port P binds P" {
	start_listener --json --count 1
	[[ $(cat "$L_ERR") =~ ^xray-seg:\ listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] ||
		xs_die "unexpected ready line: $(cat "$L_ERR")"
	((L_PORT > 0 && L_PORT <= 65535)) || xs_die "reported port $L_PORT"
	ROOT=$(fixed_root 4)
	mkdg one "$(mkdoc one 1111111111111111)"
	send_dg one
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	run -0 jq -r .id <<<"$output"
	assert_output 1111111111111111

	# A port known to be free: a sink's, after it stopped.
	start_sink --name probe
	port=$(sink_port probe)
	stop_sink probe
	start_listener --port "$port" --json --count 1
	[[ $L_PORT == "$port" ]] || xs_die "asked for port $port, listening on $L_PORT"
	send_dg one
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	[[ $stderr == "xray-seg: listening on 127.0.0.1:$port" ]] || xs_die "unexpected stderr: $stderr"
}

@test "a port in use: exit 1, one line on stderr, nothing on stdout" {
	start_listener --json
	run --separate-stderr xs listen --port "$L_PORT" --json --idle 5
	((status == 1)) || xs_die "expected exit 1, got $status (stderr: $stderr)"
	assert_output ''
	assert_one_line_stderr "xray-seg: listen: cannot listen on 127.0.0.1:$L_PORT: "
	[[ $stderr == *'Address already in use' ]] || xs_die "no reason given: $stderr"

	# Held by another program (the Python sink), too.
	start_sink --name busy
	port=$(sink_port busy)
	run --separate-stderr xs listen --port "$port" --idle 5
	((status == 1)) || xs_die "expected exit 1, got $status (stderr: $stderr)"
	assert_output ''
	assert_one_line_stderr "xray-seg: listen: cannot listen on 127.0.0.1:$port: "
}

# --- malformed datagrams -----------------------------------------------------------

@test "malformed datagrams are one warning each and it keeps going" {
	ROOT=$(fixed_root 5)
	good=$(mkdoc good 1111111111111111)
	printf '%s%s' "$HDR" "$good" >"$(dg nonewline)"
	printf '%s\n' "$HDR" >"$(dg headeronly)"
	mkdg badheader "$good" '{"format":"xml","version":1}'
	mkdg version2 "$good" '{"format":"json","version":2}'
	mkdg textheader "$good" 'hello'
	mkdg notjson 'this is not json'
	mkdg array "[$good]"
	mkdg truncated "${good:0:40}"
	mkdg noid "{\"name\":\"x\",\"trace_id\":\"$ROOT\"}"
	mkdg noname '{"id":"2222222222222222"}'
	mkdg good "$good"
	# The Go and Java SDKs' header has spaces: that is not malformed.
	mkdg spaced "$(mkdoc spaced 3333333333333333)" '{"format": "json", "version": 1}'
	local bad=(nonewline headeronly badheader version2 textheader notjson array truncated noid noname)
	local why=(
		'no header line or no document'
		'no header line or no document'
		'header is not {"format":"json","version":1}'
		'header is not {"format":"json","version":1}'
		'header is not {"format":"json","version":1}'
		'document is not a JSON object'
		'document is not a JSON object'
		'document is not a JSON object'
		'document has no id or name'
		'document has no id or name'
	)
	local mode k want
	for mode in --json waterfall; do
		if [[ $mode == --json ]]; then start_listener --json --count 2; else start_listener --count 2; fi
		send_dg "${bad[@]}" good spaced
		wait_exit
		((L_STATUS == 0)) || xs_die "$mode: exit $L_STATUS: $stderr"
		((${#stderr_lines[@]} == ${#bad[@]} + 1)) ||
			xs_die "$mode: expected the ready line and ${#bad[@]} warnings, got:
$stderr"
		for k in "${!bad[@]}"; do
			want="xray-seg: warning: listen: malformed datagram ($(wc -c <"$(dg "${bad[k]}")") bytes): ${why[k]}"
			[[ ${stderr_lines[k + 1]} == "$want" ]] ||
				xs_die "$mode, datagram ${bad[k]}: expected
  $want
got
  ${stderr_lines[k + 1]}"
		done
		if [[ $mode == --json ]]; then
			run -0 jq -r .name <<<"$output"
			assert_output $'good\nspaced'
		else
			run -0 live_lines
			assert_output "$ROOT good 100.0 ms"$'\n'"$ROOT spaced 100.0 ms"
			run -0 waterfall_of "$ROOT"
			assert_output $'  good|\n  spaced|'
		fi
	done
}

# --- live lines and the waterfall ----------------------------------------------------

@test "the waterfall nests children under parents, with names, marks and no colour when piped" {
	start_listener --count 8
	listen_ctx
	h=$(xs_ok begin handler)
	xs_quiet annotate customer alice
	xs_ok begin validate >/dev/null
	xs_quiet annotate --bool valid true
	xs_quiet end
	s=$(xs_ok begin store)
	xs_ok begin item-1 >/dev/null
	xs_quiet end
	xs_ok begin item-2 >/dev/null
	xs_quiet end --fault --cause 'disk full'
	xs_quiet end --error "$s"
	xs_ok begin --namespace remote api >/dev/null
	xs_quiet end --http-status 429
	# xray-seg calls in a child of exec nest under the exec subsegment.
	xs_quiet exec --name render -- sh -c 'xray-seg begin inner >/dev/null && xray-seg annotate --number n 3 && xray-seg end'
	xs_quiet end "$h"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	[[ $output != *"$ESC"* ]] || xs_die "colour codes on a pipe: $(cat -v "$L_OUT")"
	[[ $stderr == "xray-seg: listening on 127.0.0.1:$L_PORT" ]] || xs_die "unexpected stderr: $stderr"

	# One live line per document as it arrives: trace, name, duration, marks, annotations.
	run -0 live_lines
	assert_output --regexp "^$ROOT validate [0-9]+\.[0-9] ms valid=true
$ROOT item-1 [0-9]+\.[0-9] ms
$ROOT item-2 [0-9]+\.[0-9] ms fault
$ROOT store [0-9]+\.[0-9] ms error
$ROOT api [0-9]+\.[0-9] ms error throttle
$ROOT inner [0-9]+\.[0-9] ms n=3
$ROOT render [0-9]+\.[0-9] ms
$ROOT handler [0-9]+\.[0-9] ms customer=\"alice\"\$"

	# Then, at exit, the waterfall: a heading and the tree (a slow run may have
	# drawn part of it before, when the trace was quiet for a second).
	run -0 bash -c 'grep "^trace " "$1" | tail -n 1' sh "$L_OUT"
	assert_output --regexp "^trace $ROOT: 8 documents, [0-9]+\.[0-9] ms\$"
	run -0 waterfall_of "$ROOT"
	assert_output '  handler|customer="alice"
    validate|valid=true
    store|error
      item-1|
      item-2|fault
    api|error throttle
    render|
      inner|n=3'
	# The root spans the whole trace and starts it; children start later.
	block=$(sed -n "/^trace $ROOT: 8 documents/,\$p" "$L_OUT" | tail -n +2)
	run -0 grep -E '^  handler +\|#{30}\| +\+0\.0 ms ' <<<"$block"
	run -0 grep -cE '^    +[a-z0-9-]+ +\|[# ]{30}\| +\+[0-9]+\.[0-9] ms ' <<<"$block"
	assert_output 7
}

@test "a trace gets its waterfall once quiet for 1 s, again when more arrives, while listening goes on" {
	start_listener
	ROOT=$(fixed_root 6)
	mkdg parent "$(mkdoc parent aaaaaaaaaaaaaaaa 1234567812345678)"
	mkdg child "$(START=1700000000.120000 END=1700000000.150000 mkdoc child bbbbbbbbbbbbbbbb aaaaaaaaaaaaaaaa ',"error":true')"
	send_dg child
	t0=$EPOCHREALTIME
	wait_stdout "^trace $ROOT: 1 document, 30\.0 ms\$"
	t1=$EPOCHREALTIME
	float_ok "$t1 - $t0 >= 0.9"
	kill -0 "$L_PID" || xs_die "the listener stopped after drawing"
	send_dg parent
	wait_stdout "^trace $ROOT: 2 documents, 100\.0 ms\$"
	kill -TERM "$L_PID"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	[[ $(grep -c '^trace ' "$L_OUT") == 2 ]] || xs_die "expected exactly two waterfalls: $(cat "$L_OUT")"
	run -0 waterfall_of "$ROOT" first
	assert_output '  child|error'
	run -0 bash -c 'sed -n "/^trace .*: 2 documents/,\$p" "$1" | tail -n +2' sh "$L_OUT"
	assert_output --regexp '^  parent +\|#{30}\| +\+0\.0 ms +100\.0 ms *
    child +\| {5,6}#{9,10} {14,16}\| +\+20\.0 ms +30\.0 ms error *$'
}

@test "a datagram from the Python X-Ray SDK (Lambda) is shown, and printed by --json" {
	start_listener --count 1
	send_dg_file() { "$XS_PYTHON" "$XS_HELPERS/udp-send.py" 127.0.0.1 "$L_PORT" "$@"; }
	send_dg_file "$SDK_DG"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	[[ $stderr == "xray-seg: listening on 127.0.0.1:$L_PORT" ]] || xs_die "unexpected stderr: $stderr"
	run -0 live_lines
	assert_output "$SDK_ROOT will-fail 0.2 ms fault step=\"parse\""
	run -0 grep -c "^trace $SDK_ROOT: 1 document, 0\.2 ms\$" "$L_OUT"
	assert_output 1
	run -0 waterfall_of "$SDK_ROOT"
	assert_output '  will-fail|fault step="parse"'

	start_listener --json --count 1
	send_dg_file "$SDK_DG"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	((${#lines[@]} == 1)) || xs_die "expected one line, got: $output"
	# The same document, compact, members in the SDK's order.
	line=$output
	run -0 jq -cS . <<<"$line"
	assert_output "$(sed 1d "$SDK_DG" | jq -cS .)"
	run -0 jq -c keys_unsorted <<<"$line"
	assert_output "$(sed 1d "$SDK_DG" | jq -c keys_unsorted)"
	[[ $line == '{"id":"425ba54c5ad18a09","name":"will-fail","start_time":1795587792.4174879,'* ]] ||
		xs_die "not compact or reordered: $line"
}

@test "colour only when stdout is a terminal and NO_COLOR is unset" {
	# pty-run OUT PIDFILE CMD...: run CMD with stdout on a pseudo-terminal, copying what it
	# writes to OUT; its stderr is ours. Bounded: gives up after 20 s.
	local pty_run='
import os, pty, select, subprocess, sys, time
out, pidfile, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
m, s = pty.openpty()
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=s)
os.close(s)
with open(pidfile, "w") as f:
    f.write("%d\n" % p.pid)
end = time.monotonic() + 20
with open(out, "wb", buffering=0) as f:
    while time.monotonic() < end:
        r, _, _ = select.select([m], [], [], 0.05)
        if r:
            try:
                data = os.read(m, 65536)
            except OSError:
                break
            if not data:
                break
            f.write(data.replace(b"\r\n", b"\n"))
        elif p.poll() is not None:
            break
if p.poll() is None:
    p.kill()
sys.exit(p.wait())'
	local nc
	for nc in unset 1; do
		if [[ $nc == unset ]]; then unset NO_COLOR; else export NO_COLOR=$nc; fi
		# shellcheck disable=SC2086
		_launch_listener "$XS_PYTHON -c" "$pty_run" "$BATS_TEST_TMPDIR/pty.out" "$BATS_TEST_TMPDIR/pty.pid" \
			$XRAY_SEG_WRAPPER "$XRAY_SEG" listen --port 0 --count 1 --idle 30
		reap_later "$(cat "$BATS_TEST_TMPDIR/pty.pid")"
		"$XS_PYTHON" "$XS_HELPERS/udp-send.py" 127.0.0.1 "$L_PORT" "$SDK_DG"
		wait_exit 20
		((L_STATUS == 0)) || xs_die "NO_COLOR=$nc: exit $L_STATUS: $stderr"
		output=$(cat "$BATS_TEST_TMPDIR/pty.out")
		if [[ $nc == unset ]]; then
			# A fault is red, on the live line and in the waterfall, and reset after the name.
			[[ $(grep -c "${ESC}\[31mwill-fail *${ESC}\[0m" <<<"$output") == 2 ]] ||
				xs_die "expected red names on a terminal, got: $(cat -v <<<"$output")"
		else
			[[ $output == *will-fail* && $output != *"$ESC"* ]] ||
				xs_die "NO_COLOR=1 on a terminal: $(cat -v <<<"$output")"
		fi
	done
}

# --- signals -----------------------------------------------------------------

@test "SIGTERM and SIGINT stop it (exit 0) after drawing the pending waterfall" {
	local sig
	for sig in TERM INT; do
		start_listener
		if [[ $sig == TERM ]]; then ROOT=$(fixed_root 7); else ROOT=$(fixed_root 8); fi
		mkdg parent "$(mkdoc parent aaaaaaaaaaaaaaaa 1234567812345678)"
		mkdg child "$(START=1700000000.120000 END=1700000000.150000 mkdoc child bbbbbbbbbbbbbbbb aaaaaaaaaaaaaaaa ',"fault":true')"
		send_dg child parent
		wait_lines 2
		# Signalled well within the second of quiet after which it would draw by itself.
		[[ $(grep -c '^trace ' "$L_OUT") == 0 ]] || xs_die "SIG$sig: drawn before the signal: $(cat "$L_OUT")"
		kill -"$sig" "$L_PID"
		wait_exit
		((L_STATUS == 0)) || xs_die "SIG$sig: exit $L_STATUS: $stderr"
		[[ $stderr == "xray-seg: listening on 127.0.0.1:$L_PORT" ]] || xs_die "SIG$sig: unexpected stderr: $stderr"
		run -0 live_lines
		assert_output "$ROOT child 30.0 ms fault"$'\n'"$ROOT parent 100.0 ms"
		run -0 grep -c "^trace $ROOT: 2 documents, 100\.0 ms\$" "$L_OUT"
		assert_output 1
		run -0 waterfall_of "$ROOT"
		assert_output $'  parent|\n    child|fault'
	done
}

@test "SIGTERM with nothing pending: exit 0, nothing on stdout" {
	start_listener
	ROOT=$(fixed_root 9)
	mkdg one "$(mkdoc one 1111111111111111)"
	send_dg one
	wait_stdout "^trace $ROOT: 1 document"
	kill -TERM "$L_PID"
	wait_exit
	((L_STATUS == 0)) || xs_die "exit $L_STATUS: $stderr"
	[[ $(grep -c '^trace ' "$L_OUT") == 1 ]] || xs_die "drawn again at exit: $output"
}

# --- usage -------------------------------------------------------------------

@test "bad options and operands: exit 2, one line, nothing on stdout" {
	expect_usage listen --port 65536
	expect_usage listen --port -1
	expect_usage listen --port abc
	expect_usage listen --port ''
	expect_usage listen --port
	expect_usage listen --count 0
	expect_usage listen --count -3
	expect_usage listen --count 1.5
	expect_usage listen --count x
	expect_usage listen --idle 0
	expect_usage listen --idle 0.5
	expect_usage listen --idle 1s
	expect_usage listen --json=yes
	expect_usage listen --bogus
	expect_usage listen -x
	expect_usage listen extra
	expect_usage listen --json -- extra
	run -0 --separate-stderr xs listen --help
	assert_stderr_empty
	assert_line --index 0 'usage: xray-seg listen [--port P] [--json] [--count N] [--idle S]'
	run -0 --separate-stderr xs help listen
	assert_line --index 0 'usage: xray-seg listen [--port P] [--json] [--count N] [--idle S]'
}

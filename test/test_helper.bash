# test_helper.bash - shared setup and helpers for the xray-seg bats suite.
#
# Every test runs hermetically: HOME, TMPDIR, XDG_RUNTIME_DIR and the state
# directory live under $BATS_TEST_TMPDIR, and the trace/X-Ray environment is
# cleared. Datagrams go to a real UDP receiver (helpers/udp-sink.py) and every
# document a test expects is validated by helpers/check-docs.py (both schemas,
# header, size, UTF-8, subsegment fields).
#
# The "main" sink is started once per file; each test sees only the datagrams
# that arrived after it first used it (a sync marker fixes the start). Other
# sinks (IPv6, fixed port, stopped and restarted) are started per test by name.
#
# Knobs (environment):
#   XRAY_SEG          binary under test (default: <repo>/xray-seg)
#   XRAY_SEG_WRAPPER  prefix for direct invocations, e.g.
#                     "valgrind -q --error-exitcode=99 --leak-check=full"
#   XS_TEST_STRICT=1  make `skip` fail (for CI)
#   XS_TIMEOUT        if set, seconds before one direct invocation is killed
#                     (every test is bounded by BATS_TEST_TIMEOUT, default 90)
#   XS_WAIT           seconds wait_docs waits for datagrams (default 10)
#
# Pitfall: bats 1.8's `run` with flags (-N, --separate-stderr) clobbers a global
# variable `i`; tests must not use `i` as a loop variable around `run`.

# Variables set here are read by the tests, and bats sets status/output/stderr:
# shellcheck disable=SC2034,SC2154,SC2119,SC2120

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

XS_TEST_DIR=$(cd "${BATS_TEST_FILENAME%/*}" && pwd)
XS_ROOT=${XS_TEST_DIR%/*}
XS_HELPERS=$XS_TEST_DIR/helpers
XS_FIXTURES=$XS_TEST_DIR/fixtures
XS_SCHEMAS=$XS_FIXTURES/schema
: "${XRAY_SEG:=$XS_ROOT/xray-seg}"
: "${XRAY_SEG_WRAPPER:=}"
: "${XS_WAIT:=10}"
: "${BATS_TEST_TIMEOUT:=90}"
# Tests of one file share its main sink (see above): never run them in parallel
# (bats --jobs still runs files in parallel).
BATS_NO_PARALLELIZE_WITHIN_FILE=true
export XRAY_SEG XRAY_SEG_WRAPPER

HEX16_RE='^[0-9a-f]{16}$'
TRACE_RE='^1-[0-9a-f]{8}-[0-9a-f]{24}$'

# xs_die MESSAGE: fail the test, also from inside `run`, `if` or `||` in a
# helper (bats-support's `fail` only returns 1, which those contexts ignore).
xs_die() {
	fail "$@"
	exit 1
}

# _nap SECONDS: sleep without starting a process (read -t on an idle FIFO).
_nap() {
	if [[ -z ${XS_NAP_FD:-} ]]; then
		local f=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:?}}/.nap.$BASHPID
		[[ -p $f ]] || mkfifo "$f"
		exec {XS_NAP_FD}<>"$f"
	fi
	read -r -t "$1" -u "$XS_NAP_FD" _ || true
}

if [[ ${XS_TEST_STRICT:-} == 1 ]]; then
	skip() { xs_die "skip is not allowed with XS_TEST_STRICT=1: ${1:-no reason given}"; }
fi

# --- prerequisites -----------------------------------------------------------

# xs_check_prereqs [--no-binary]: fails (never skips) when something the suite
# needs is missing. Sets XS_PYTHON to the real interpreter behind `python3`
# (skipping wrapper shims such as pyenv's costs ~80 ms per helper start); the
# result is cached for the whole bats run.
xs_check_prereqs() {
	local cache=$BATS_RUN_TMPDIR/xs-python
	if [[ -s $cache ]]; then
		read -r XS_PYTHON <"$cache"
	else
		command -v python3 >/dev/null || xs_die "python3 is required by the test suite"
		command -v jq >/dev/null || xs_die "jq is required by the test suite"
		XS_PYTHON=$(python3 -c 'import sys, jsonschema; print(sys.executable)' 2>/dev/null) ||
			xs_die "python3 module jsonschema is required (apt-get install python3-jsonschema)"
		echo "$XS_PYTHON" >"$cache"
	fi
	export XS_PYTHON
	[[ ${1:-} == --no-binary ]] && return 0
	[[ -x $XRAY_SEG && ! -d $XRAY_SEG ]] ||
		xs_die "xray-seg binary not found at $XRAY_SEG: build it with 'make -C $XS_ROOT'"
	if [[ -n $XRAY_SEG_WRAPPER ]]; then
		local w
		read -r w _ <<<"$XRAY_SEG_WRAPPER"
		command -v "$w" >/dev/null || xs_die "XRAY_SEG_WRAPPER: $w not found"
	fi
}

# --- per-file / per-test setup -----------------------------------------------

# xs_setup_file [--no-binary]: checks prerequisites, starts the file's main
# sink and the check-docs server (which keeps the schemas loaded).
xs_setup_file() {
	xs_check_prereqs "$@"
	local fifo=$BATS_FILE_TMPDIR/check-docs.fifo
	mkfifo "$fifo"
	"$XS_PYTHON" "$XS_HELPERS/check-docs.py" --schema-dir "$XS_SCHEMAS" --serve "$fifo" \
		--idle 300 </dev/null >/dev/null 2>"$BATS_FILE_TMPDIR/check-docs.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/check-docs.pid"
	_start_sink_in "$BATS_FILE_TMPDIR/sink.main" main 0 "" 600
}

xs_teardown_file() {
	local f
	for f in "$BATS_FILE_TMPDIR/check-docs.pid" "$BATS_FILE_TMPDIR/sink.main/pid"; do
		[[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
	done
	return 0
}

xs_setup() {
	local v
	for v in $(compgen -e); do
		case $v in
		XRAY_SEG_WRAPPER) ;; # the suite's own setting: make valgrind runs through it
		AWS_* | LAMBDA_* | _X_AMZN_* | _HANDLER | XRAY_SEG_* | TRACEPARENT) unset "$v" ;;
		GITHUB_* | GITLAB_* | CI_* | CIRCLE* | BUILDKITE* | JENKINS_* | CODEBUILD_*) unset "$v" ;;
		esac
	done
	export HOME=$BATS_TEST_TMPDIR/home
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/run
	mkdir -p "$HOME" "$TMPDIR"
	mkdir -m 700 "$XDG_RUNTIME_DIR"
	export XRAY_SEG_STATE_DIR=$BATS_TEST_TMPDIR/state
	export LC_ALL=C.UTF-8
	umask 022

	# `xray-seg` run by children of exec must be the binary under test: the
	# repo root (or the binary's directory) goes first on PATH.
	if [[ ${XRAY_SEG##*/} == xray-seg && $XRAY_SEG == /* ]]; then
		XS_BIN_DIR=${XRAY_SEG%/*}
	else
		XS_BIN_DIR=$BATS_TEST_TMPDIR/bin
		mkdir -p "$XS_BIN_DIR"
		ln -s "$(realpath "$XRAY_SEG")" "$XS_BIN_DIR/xray-seg"
	fi
	export PATH="$XS_BIN_DIR:$PATH"

	XS_SINKS=$BATS_TEST_TMPDIR/sinks
	XS_SYNC_N=0
	XS_CHECK_N=0
	DOCS=$BATS_TEST_TMPDIR/docs.jsonl
}

xs_teardown() {
	local d pid
	for d in "$XS_SINKS"/*/; do
		[[ -f $d/pid ]] && kill "$(cat "$d/pid")" 2>/dev/null
	done
	if [[ -f $BATS_TEST_TMPDIR/reap ]]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null
		done <"$BATS_TEST_TMPDIR/reap"
	fi
	return 0
}

# reap_later PID...: kill these processes in teardown if they still run.
reap_later() { printf '%s\n' "$@" >>"$BATS_TEST_TMPDIR/reap"; }

setup_file() { xs_setup_file; }
teardown_file() { xs_teardown_file; }
setup() { xs_setup; }
teardown() { xs_teardown; }

# --- running the binary ------------------------------------------------------

# xs ARGS...: run the binary under test (through XRAY_SEG_WRAPPER, bounded by
# XS_TIMEOUT if set). Use as `run -0 --separate-stderr xs begin name`.
xs() {
	if [[ -n ${XS_TIMEOUT:-} ]]; then
		# shellcheck disable=SC2086
		timeout -k 5 "$XS_TIMEOUT" $XRAY_SEG_WRAPPER "$XRAY_SEG" "$@"
	else
		# shellcheck disable=SC2086
		$XRAY_SEG_WRAPPER "$XRAY_SEG" "$@"
	fi
}

# xs_bare ARGS...: the binary without XRAY_SEG_WRAPPER, for tests of what the
# child of exec sees (valgrind changes posix_spawn errors and the environment).
xs_bare() { "$XRAY_SEG" "$@"; }

# xs_ok ARGS...: run the binary (without bats' `run`, which is slow), require
# exit 0 and an empty stderr; its stdout passes through (id=$(xs_ok begin n)).
xs_ok() {
	local rc=0 err=$BATS_TEST_TMPDIR/.xs_ok.err.$BASHPID
	xs "$@" 2>"$err" || rc=$?
	((rc == 0)) || xs_die "xray-seg $*: exit $rc, expected 0: $(cat "$err")"
	[[ ! -s $err ]] || xs_die "xray-seg $*: unexpected stderr: $(cat "$err")"
}

# xs_quiet ARGS...: like xs_ok, and stdout must be empty too.
xs_quiet() {
	local out=$BATS_TEST_TMPDIR/.xs_quiet.out.$BASHPID
	xs_ok "$@" >"$out"
	[[ ! -s $out ]] || xs_die "xray-seg $*: unexpected stdout: $(cat "$out")"
}

# repeat N CHAR: CHAR repeated N times (by doubling: ${s// /x} is quadratic).
repeat() {
	local s=$2
	while ((${#s} < $1)); do s=$s$s; done
	printf '%s' "${s:0:$1}"
}

# --- ids and trace context ---------------------------------------------------

# hex N: N random lowercase hex digits.
hex() {
	local s=
	while ((${#s} < $1)); do
		printf -v s '%s%08x' "$s" "$SRANDOM"
	done
	printf '%s\n' "${s:0:$1}"
}

# new_ids: fresh ROOT (trace id) and PARENT (parent id), no process started.
new_ids() {
	local a b c d e
	printf -v a '%08x' "$SRANDOM"
	printf -v b '%08x' "$SRANDOM"
	printf -v c '%08x' "$SRANDOM"
	printf -v d '%08x' "$SRANDOM"
	printf -v e '%08x' "$SRANDOM"
	printf -v ROOT '1-%08x-%s%s%s' "$EPOCHSECONDS" "$a" "$b" "$c"
	PARENT=$d$e
}

# lambda_ctx [EXTRA]: a recording Lambda-like context with fresh random ids and
# the daemon address aimed at the main sink. EXTRA (e.g. "Lineage=...") is
# appended to the header.
lambda_ctx() {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1${1:+;$1}"
}

# use_sink [NAME]: aim AWS_XRAY_DAEMON_ADDRESS at sink NAME (default main;
# other names must have been started with start_sink).
use_sink() {
	local name=${1:-main} _SV _SD
	[[ $name == main && ! -d $XS_SINKS/main ]] && _attach_main_sink
	_sink "$name"
	[[ -s $_SD/port ]] || xs_die "use_sink: sink '$name' is not running"
	local host port
	read -r host <"$_SD/host"
	read -r port <"$_SD/port"
	SINK_PORT=$port
	[[ $host == *:* ]] && host="[$host]"
	export AWS_XRAY_DAEMON_ADDRESS="$host:$port"
}

# --- the UDP sinks -------------------------------------------------------------
# A sink is a directory with host, port, pid, out (capture), sync, err. For the
# per-file main sink, $XS_SINKS/main holds "shared" (the real directory) and
# "offset" (lines of the capture that belong to earlier tests).

# _sink NAME: sets _SV (the test's directory for NAME) and _SD (the sink's files).
_sink() {
	_SV=$XS_SINKS/$1
	_SD=$_SV
	[[ -f $_SV/shared ]] && read -r _SD <"$_SV/shared"
	return 0
}

# _start_sink_in DIR NAME PORT IPV6FLAG TIMEOUT [TRY]: start udp-sink.py, wait
# for its port. With TRY set, a sink that cannot bind returns 1 instead of failing.
_start_sink_in() {
	local d=$1 name=$2 port=$3 ipv6=$4 timeout=$5 try=${6:-} n
	mkdir -p "$d"
	if [[ -n $ipv6 ]]; then echo ::1 >"$d/host"; else echo 127.0.0.1 >"$d/host"; fi
	"$XS_PYTHON" -S "$XS_HELPERS/udp-sink.py" --out "$d/out" --port-file "$d/port" \
		--sync-file "$d/sync" --port "$port" ${ipv6:+"$ipv6"} --idle "$timeout" --timeout "$timeout" \
		</dev/null >/dev/null 2>"$d/err" 3>&- &
	echo $! >"$d/pid"
	local pid deadline=$((SECONDS + 10))
	read -r pid <"$d/pid"
	while ((SECONDS <= deadline)); do
		[[ -s $d/port ]] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$d/pid"
			[[ -n $try ]] && return 1
			xs_die "udp sink '$name' did not start: $(cat "$d/err")"
		fi
		_nap 0.003
	done
	xs_die "udp sink '$name' did not report its port within 10 s"
}

_attach_main_sink() {
	local d=$XS_SINKS/main shared=$BATS_FILE_TMPDIR/sink.main
	[[ -s $shared/port ]] || xs_die "the file's main sink is not running (setup_file not run?)"
	mkdir -p "$d"
	echo "$shared" >"$d/shared"
	echo 0 >"$d/offset"
	sink_sync main
	local n
	n=$(wc -l <"$shared/out")
	echo $((n)) >"$d/offset"
}

# start_sink [--name NAME] [--ipv6] [--port PORT] [--try]: start a receiver for
# this test (default name "main", replacing the shared one) and wait until it
# listens. Sets SINK_PORT for the main sink. With --try, returns 1 if the port
# cannot be bound instead of failing the test.
start_sink() {
	local name=main port=0 ipv6='' try=
	while (($#)); do
		case $1 in
		--name) name=$2; shift ;;
		--port) port=$2; shift ;;
		--ipv6) ipv6=--ipv6 ;;
		--try) try=1 ;;
		*) xs_die "start_sink: bad argument $1" ;;
		esac
		shift
	done
	local d=$XS_SINKS/$name
	[[ -f $d/pid ]] && kill "$(cat "$d/pid")" 2>/dev/null
	rm -rf "$d"
	_start_sink_in "$d" "$name" "$port" "$ipv6" 120 "$try" || {
		rm -rf "$d"
		return 1
	}
	[[ $name == main ]] && read -r SINK_PORT <"$d/port"
	return 0
}

# stop_sink NAME: stop a sink started by start_sink; its capture stays readable.
stop_sink() {
	_sink "${1:-main}"
	[[ $_SD == "$_SV" ]] || xs_die "stop_sink: the shared main sink cannot be stopped; start a named sink"
	local pid n
	pid=$(cat "$_SD/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for ((n = 0; n < 2000; n++)); do
		kill -0 "$pid" 2>/dev/null || break
		_nap 0.003
	done
	rm -f "$_SD/pid" "$_SD/port"
	touch "$_SD/stopped"
}

sink_port() { _sink "${1:-main}" && cat "$_SD/port"; }
sink_host() { _sink "${1:-main}" && cat "$_SD/host"; }

# sink_sync [NAME]: returns once every datagram sent to the sink before this
# call has been written to its capture (FIFO receive queue + marker datagram).
sink_sync() {
	local name=${1:-main} _SV _SD
	_sink "$name"
	[[ -f $_SD/stopped ]] && return 0 # stopped: nothing more can arrive
	[[ -f $_SD/pid ]] || xs_die "sink_sync: sink '$name' was never started"
	local token="$BASHPID.$((++XS_SYNC_N))" host port n got drops
	read -r host <"$_SD/host"
	read -r port <"$_SD/port"
	printf 'udp-sink-sync:%s' "$token" >"/dev/udp/$host/$port" ||
		xs_die "sink_sync: cannot send to $host:$port"
	local deadline=$((SECONDS + 10))
	for ((n = 0; SECONDS <= deadline; n++)); do
		if [[ -f $_SD/sync ]]; then
			read -r got drops <"$_SD/sync"
			if [[ $got == "$token" ]]; then
				[[ $drops == 0 || $drops == '?' ]] ||
					xs_die "sink '$name' dropped $drops datagrams (receive buffer overflow): a harness problem"
				return 0
			fi
		fi
		((n % 300 == 299)) && ! kill -0 "$(cat "$_SD/pid")" 2>/dev/null &&
			xs_die "sink '$name' died: $(cat "$_SD/err")"
		_nap 0.002
	done
	xs_die "sink '$name' did not acknowledge a sync marker within 10 s"
}

# sink_capture [NAME]: path of this test's capture of sink NAME (no sync).
sink_capture() {
	local _SV _SD off
	_sink "${1:-main}"
	if [[ -f $_SV/offset ]]; then
		read -r off <"$_SV/offset"
		tail -n "+$((off + 1))" "$_SD/out" >"$_SV/view"
		echo "$_SV/view"
	else
		echo "$_SD/out"
	fi
}

# datagram_count [NAME]: number of datagrams received so far (after a sync).
datagram_count() {
	local f n
	sink_sync "${1:-main}"
	f=$(sink_capture "${1:-main}")
	n=$(wc -l <"$f")
	echo $((n))
}

# assert_datagrams N [NAME]: exactly N datagrams have arrived.
assert_datagrams() {
	local want=$1 name=${2:-main} got
	got=$(datagram_count "$name") || xs_die "cannot count datagrams of sink '$name'"
	((got == want)) && return 0
	xs_die "expected $want datagram(s) at sink '$name', got $got:
$(jq -r '.raw' "$(sink_capture "$name")" | cut -c1-400)"
}

assert_no_datagrams() { assert_datagrams 0 "$@"; }

# check_capture FILE: run check-docs on a capture file (through the per-file
# server when it runs, else directly). Prints the documents on stdout and the
# problems on stderr; returns check-docs' status.
check_capture() {
	local capture=$1 fifo=$BATS_FILE_TMPDIR/check-docs.fifo pid
	pid=$(cat "$BATS_FILE_TMPDIR/check-docs.pid" 2>/dev/null) || pid=
	if [[ -n $pid && -p $fifo ]] && kill -0 "$pid" 2>/dev/null; then
		local prefix=$BATS_TEST_TMPDIR/check.$BASHPID.$((++XS_CHECK_N)) fd n rc
		rm -f "$prefix".*
		exec {fd}<>"$fifo"
		printf '%s\t%s\n' "$capture" "$prefix" >&"$fd"
		exec {fd}>&-
		local deadline=$((SECONDS + 30))
		while ((SECONDS <= deadline)); do
			[[ -f $prefix.rc ]] && break
			_nap 0.002
		done
		if [[ -f $prefix.rc ]]; then
			read -r rc <"$prefix.rc"
			cat "$prefix.out"
			cat "$prefix.err" >&2
			return "$rc"
		fi
	fi
	"$XS_PYTHON" "$XS_HELPERS/check-docs.py" --schema-dir "$XS_SCHEMAS" "$capture"
}

# docs [NAME]: validate every datagram of the sink with check-docs and print the
# documents, one compact JSON per line. Fails the test on any violation.
docs() {
	local name=${1:-main} rc=0 f
	sink_sync "$name"
	f=$(sink_capture "$name")
	check_capture "$f" || rc=$?
	((rc == 0)) || xs_die "check-docs rejected datagrams of sink '$name' (status $rc, see above)"
}

# wait_file FILE: bounded poll (10 s) until FILE exists and is not empty.
wait_file() {
	local n
	for ((n = 0; n < 1000; n++)); do
		[[ -s $1 ]] && return 0
		_nap 0.01
	done
	xs_die "timed out waiting for $1"
}

# wait_docs N [NAME]: wait (at most XS_WAIT seconds, default 10) until N
# datagrams arrived, insist on exactly N, validate them all and store the
# documents in $DOCS for doc/dget/dq/assert_doc.
wait_docs() {
	local want=$1 name=${2:-main} got f deadline=$((${EPOCHREALTIME/./} + XS_WAIT * 1000000))
	sink_sync "$name"
	f=$(sink_capture "$name")
	got=$(wc -l <"$f")
	while ((got < want && ${EPOCHREALTIME/./} < deadline)); do
		_nap 0.005
		sink_sync "$name"
		f=$(sink_capture "$name")
		got=$(wc -l <"$f")
	done
	((got == want)) || xs_die "expected $want datagram(s) at sink '$name', got $got:
$(jq -r '.raw' "$f" | cut -c1-400)"
	local rc=0
	check_capture "$f" >"$DOCS" || rc=$?
	((rc == 0)) || xs_die "check-docs rejected datagrams of sink '$name' (status $rc, see above)"
	got=$(wc -l <"$DOCS")
	((got == want)) || xs_die "wait_docs: $got valid documents, expected $want"
}

# --- querying documents (in $DOCS, as stored by wait_docs) -------------------

# dq FILTER...: jq -r over the array of all documents.
dq() { jq -r -s "$@" "$DOCS"; }

# _doc_jq NAME FILTER [JQ OPTS]: FILTER applied to the one document named NAME,
# in one jq run; fails unless exactly one document has that name.
_doc_jq() {
	local out rc=0
	out=$(jq -s "${@:3}" --arg n "$1" '[.[] | select(.name == $n)] |
		if length == 1 then .[0] | '"$2"' else error("COUNT \(length)") end' "$DOCS" 2>&1) || rc=$?
	if ((rc != 0)); then
		[[ $out == *COUNT* ]] && xs_die "expected exactly one document named '$1', found ${out##*COUNT } in:
$(cat "$DOCS")"
		xs_die "jq filter $2 on document '$1' failed: $out"
	fi
	printf '%s\n' "$out"
}

# doc NAME: the one document named NAME (fails unless exactly one).
doc() { _doc_jq "$1" . -c; }

# dget NAME FILTER: jq -r FILTER applied to the document named NAME.
dget() { _doc_jq "$1" "$2" -r; }

# assert_doc NAME FILTER EXPECTED: `jq -rc FILTER` on document NAME is EXPECTED.
assert_doc() {
	local got
	got=$(_doc_jq "$1" "$2" -rc) || exit 1
	[[ $got == "$3" ]] && return 0
	xs_die "$(printf 'document %s: %s\nexpected: %s\nactual  : %s\ndocument: %s' \
		"$1" "$2" "$3" "$got" "$(_doc_jq "$1" . -c)")"
}

# assert_doc_json NAME FILTER JSON: FILTER on document NAME equals JSON
# (compared structurally, key order ignored).
assert_doc_json() {
	local got want
	got=$(_doc_jq "$1" "$2" -cS) || exit 1
	want=$(jq -cS . <<<"$3") || xs_die "assert_doc_json: bad expected JSON: $3"
	[[ $got == "$want" ]] && return 0
	xs_die "$(printf 'document %s: %s\nexpected: %s\nactual  : %s\ndocument: %s' \
		"$1" "$2" "$want" "$got" "$(_doc_jq "$1" . -c)")"
}

# float_ok EXPR: awk-evaluated numeric condition, e.g. float_ok "$end >= $start".
float_ok() { awk "BEGIN { exit !($1) }" || xs_die "numeric check failed: $1"; }

# --- stderr / stdout / state assertions (after `run --separate-stderr`) -------

assert_stderr_empty() {
	[[ -z $stderr ]] || xs_die "expected no stderr, got:
$stderr"
}

# assert_one_line_stderr PREFIX: stderr is exactly one line starting with PREFIX.
assert_one_line_stderr() {
	[[ -n $stderr && $stderr != *$'\n'* ]] ||
		xs_die "expected exactly one line on stderr, got ${#stderr_lines[@]}:
$stderr"
	[[ $stderr == "$1"* ]] || xs_die "expected stderr to start with '$1', got:
$stderr"
}

# assert_usage_error: one line `xray-seg: ...` (not a warning), nothing on stdout.
assert_usage_error() {
	assert_one_line_stderr 'xray-seg: '
	[[ $stderr != 'xray-seg: warning:'* ]] || xs_die "usage error reported as a warning: $stderr"
	[[ -z $output ]] || xs_die "expected no stdout on a usage error, got: $output"
}

# expect_usage ARGS...: `xray-seg ARGS` exits 2 with one error line, no stdout.
expect_usage() {
	run --separate-stderr xs "$@"
	((status == 2)) || xs_die "xray-seg $*: expected exit 2, got $status (stdout '$output', stderr '$stderr')"
	assert_usage_error
}

# assert_warning: exactly one line, `xray-seg: warning: ...`.
assert_warning() { assert_one_line_stderr 'xray-seg: warning: '; }

# assert_all_warnings: stderr non-empty and every line is a warning.
assert_all_warnings() {
	[[ -n $stderr ]] || xs_die "expected a warning on stderr, got nothing"
	local l
	for l in "${stderr_lines[@]}"; do
		[[ $l == 'xray-seg: warning: '* ]] || xs_die "not a warning line: $l"
	done
}

assert_id_output() {
	[[ $output =~ $HEX16_RE ]] || xs_die "expected a 16-hex id on stdout, got '$output'"
}

trace_dir() { echo "$XRAY_SEG_STATE_DIR/${1:-$ROOT}"; }

# trace_left DIR: DIR (a trace directory) holds more than a finished trace
# keeps until it is over: its lock, its stacks and its set of annotation keys.
# Outside Lambda a directory without that set has no reason to be there at
# all; in Lambda the next trace removes it.
trace_left() {
	local f set=0
	[[ -d $1 ]] || return 1
	[[ -n ${AWS_LAMBDA_FUNCTION_NAME:-} ]] && set=1
	for f in "$1"/* "$1"/.[!.]*; do
		[[ -e $f || -L $f ]] || continue
		case ${f##*/} in
		lock | stack.*) ;;
		set.annotations) set=1 ;;
		*) return 0 ;;
		esac
	done
	((set == 0))
}

# left_traces: the trace directories that trace_left, one a line.
left_traces() {
	local d
	for d in "$XRAY_SEG_STATE_DIR"/1-*; do
		trace_left "$d" && echo "${d##*/}"
	done
	return 0
}

# assert_no_state: no trace holds state, beyond what a finished one keeps
# until it is over (see trace_left); nothing else is in the state directory.
assert_no_state() {
	[[ -e $XRAY_SEG_STATE_DIR ]] || return 0
	[[ -z $(left_traces) && -z $(find "$XRAY_SEG_STATE_DIR" -mindepth 1 -maxdepth 1 ! -name '1-*') ]] ||
		xs_die "expected no trace state, found:
$(find "$XRAY_SEG_STATE_DIR" -mindepth 1 | head -20)"
}

# assert_trace_gone [ROOT]: the trace directory has been removed, or holds
# only what a finished trace keeps until it is over (see trace_left).
assert_trace_gone() {
	! trace_left "$(trace_dir "$@")" || xs_die "trace directory still present:
$(ls -la "$(trace_dir "$@")")"
}

# age_tree PATH WHEN: set the mtime of PATH and everything below it (touch -d).
age_tree() { find "$1" -depth -exec touch -h -d "$2" {} +; }

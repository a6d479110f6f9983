#!/usr/bin/env bats
# transport.bats - XRAY_SEG_TRANSPORT / --transport (issue 5): stdout prints one
# compact JSON line per finished document and sends nothing over UDP; unknown
# values (usage error for the option, warning + udp for the variable); exec
# passes the transport on to its child; the UDP path never loads libcurl, the
# api path does (so the check can fail).

load test_helper
load helpers/transport
bats_require_minimum_version 1.5.0

setup_file() { xt_setup_file; }
teardown_file() { xt_teardown_file; }
setup() {
	xs_setup
	outside_lambda
	D=$BATS_TEST_TMPDIR
}

# stdout_docs FILE N: FILE (stdout of xray-seg) is exactly N lines, each one
# document valid under check-docs.py (subsegments: the suite's own checker, fed
# the lines as datagrams would carry them); documents stored in $DOCS.
stdout_docs() {
	local f=$1 want=$2 got rc=0
	got=$(wc -l <"$f")
	((got == want)) || xs_die "expected $want line(s) on stdout, got $got:
$(cut -c1-300 "$f")"
	[[ $want == 0 ]] || [[ $(tail -c1 "$f" | od -An -c | tr -d ' ') == '\n' ]] || xs_die "stdout does not end with a newline"
	lines_to_capture "$f" >"$f.capture"
	check_capture "$f.capture" >"$DOCS" || rc=$?
	((rc == 0)) || xs_die "check-docs rejected the stdout lines (status $rc, see above)"
	got=$(wc -l <"$DOCS")
	((got == want)) || xs_die "$got valid documents, expected $want"
}

# no_curl FILE WHAT: FILE (maps or a syscall log) names no libcurl.
no_curl() {
	! grep -i 'libcurl' "$1" || xs_die "$2: libcurl is loaded on the UDP path"
}

# --- stdout ------------------------------------------------------------------

@test "XRAY_SEG_TRANSPORT=stdout: each end prints exactly one compact JSON line, nothing goes to UDP" {
	lambda_ctx
	export XRAY_SEG_TRANSPORT=stdout
	a=$(xs begin outer)
	b=$(xs begin inner)
	xs end >"$D/out1" 2>"$D/err1"
	xs end >"$D/out2" 2>"$D/err2"
	[[ ! -s $D/err1 && ! -s $D/err2 ]] || xs_die "stderr: $(cat "$D/err1" "$D/err2")"
	stdout_docs "$D/out1" 1
	assert_doc inner .id "$b"
	assert_doc inner .parent_id "$a"
	stdout_docs "$D/out2" 1
	assert_doc outer .id "$a"
	assert_doc outer .parent_id "$PARENT"
	# compact: the line is the document as jq -c prints it (modulo number formatting and key order)
	run -0 jq -e 'type == "object"' "$D/out2"
	[[ $(<"$D/out2") != *': '* && $(<"$D/out2") != *', "'* ]] || xs_die "not compact: $(<"$D/out2")"
	assert_no_datagrams
	assert_trace_gone
}

@test "--transport stdout on exec: the child's output first, then one line for the subsegment" {
	lambda_ctx
	xs exec --transport stdout --name ex -- sh -c 'echo child-out' >"$D/out" 2>"$D/err"
	[[ ! -s $D/err ]] || xs_die "stderr: $(cat "$D/err")"
	[ "$(head -1 "$D/out")" = child-out ]
	tail -n +2 "$D/out" >"$D/docs"
	stdout_docs "$D/docs" 1
	assert_doc ex .parent_id "$PARENT"
	assert_doc ex .metadata.process.exit_code 0
	assert_no_datagrams
}

@test "--transport stdout on end; --transport udp overrides XRAY_SEG_TRANSPORT=stdout" {
	lambda_ctx
	xs begin viaflag >/dev/null
	xs end --transport stdout >"$D/out"
	stdout_docs "$D/out" 1
	doc viaflag >/dev/null
	assert_no_datagrams
	export XRAY_SEG_TRANSPORT=stdout
	xs begin viaudp >/dev/null
	run -0 --separate-stderr xs end --transport udp
	assert_stderr_empty
	assert_output ''
	wait_docs 1
	doc viaudp >/dev/null
}

@test "a root with nested calls on stdout: one line per document, the child inherits the transport" {
	xs exec --transport stdout --name root -- bash -c '
		xray-seg exec --name a -- true
		xray-seg begin b >/dev/null
		xray-seg end' >"$D/out" 2>"$D/err"
	[[ ! -s $D/err ]] || xs_die "stderr: $(cat "$D/err")"
	lines_docs "$D/out" 3
	sid=$(seg_id)
	assert_doc root .id "$sid"
	assert_doc a .parent_id "$sid"
	assert_doc b .parent_id "$sid"
	[ "$(dq '.[-1].name')" = root ]
	assert_no_datagrams
}

@test "send --transport stdout prints the kept documents" {
	lambda_ctx
	start_sink --name probe
	port=$(sink_port probe)
	stop_sink probe
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$port
	id=$(xs begin kept)
	run -0 --separate-stderr xs end
	assert_warning
	xs send --transport stdout >"$D/out" 2>"$D/err"
	[[ ! -s $D/err ]] || xs_die "stderr: $(cat "$D/err")"
	stdout_docs "$D/out" 1
	assert_doc kept .id "$id"
	assert_trace_gone
}

# --- unknown transports --------------------------------------------------------

@test "an unknown --transport is a usage error (exit 2) on end, send and exec --strict; the command does not run" {
	lambda_ctx
	for t in carrier-pigeon '' tcp; do
		expect_usage exec --strict --transport "$t" -- touch "$D/ran"
		[[ ! -e $D/ran ]] || xs_die "--transport '$t': the command ran"
	done
	xs begin open >/dev/null
	expect_usage end --transport carrier-pigeon
	expect_usage send --transport carrier-pigeon
	assert_no_datagrams
	xs end # the subsegment is still open
	wait_docs 1
}

@test "an unknown XRAY_SEG_TRANSPORT: one warning, udp is used" {
	lambda_ctx
	export XRAY_SEG_TRANSPORT=carrier-pigeon
	xs begin pigeon >/dev/null 2>&1
	run -0 --separate-stderr xs end
	assert_warning
	assert_output ''
	run -0 --separate-stderr xs exec --name pigeon2 -- true
	assert_warning
	assert_output ''
	wait_docs 2
	doc pigeon >/dev/null
	doc pigeon2 >/dev/null
}

@test "exec --transport T sets XRAY_SEG_TRANSPORT=T for the child" {
	lambda_ctx
	xs exec --transport stdout --name s -- printenv XRAY_SEG_TRANSPORT >"$D/out"
	[ "$(head -1 "$D/out")" = stdout ]
	tail -n +2 "$D/out" >"$D/docs"
	stdout_docs "$D/docs" 1
	export XRAY_SEG_TRANSPORT=stdout
	run -0 --separate-stderr xs exec --transport udp --name u -- printenv XRAY_SEG_TRANSPORT
	assert_stderr_empty
	assert_output udp
	wait_docs 1
	doc u >/dev/null
	unset XRAY_SEG_TRANSPORT
	start_http
	api_env "$HTTP_URL"
	unset XRAY_SEG_TRANSPORT
	run -0 --separate-stderr xs exec --transport api --name a -- printenv XRAY_SEG_TRANSPORT
	assert_stderr_empty
	assert_output api
	assert_requests 1
}

# --- libcurl: never on the UDP path ------------------------------------------

# maps_via_child NAME: run `xray-seg exec` whose child copies
# /proc/$PPID/maps (the xray-seg process while it waits for the child).
maps_via_child() {
	xs_bare exec --name "$1" -- sh -c 'cat /proc/$PPID/maps' >"$D/$1.maps"
	grep -q "$(realpath "$XRAY_SEG")" "$D/$1.maps" || xs_die "$1.maps is not the xray-seg process's: $(head -3 "$D/$1.maps")"
}

@test "the UDP path maps no libcurl: /proc/PID/maps of exec while its child runs (root, subsegment, udp explicit)" {
	maps_via_child rootmaps
	no_curl "$D/rootmaps.maps" "root segment"
	lambda_ctx
	maps_via_child submaps
	no_curl "$D/submaps.maps" subsegment
	XRAY_SEG_TRANSPORT=udp maps_via_child udpmaps
	no_curl "$D/udpmaps.maps" "XRAY_SEG_TRANSPORT=udp"
	"$XRAY_SEG" exec --name longrun -- sleep 5 &
	pid=$!
	reap_later "$pid"
	for ((n = 0; n < 500; n++)); do
		pgrep -P "$pid" sleep >/dev/null && break
		_nap 0.01
	done
	pgrep -P "$pid" sleep >/dev/null || xs_die "the sleep child did not start"
	cat "/proc/$pid/maps" >"$D/longrun.maps"
	kill -TERM "$pid"
	wait "$pid" || true
	grep -q "$(realpath "$XRAY_SEG")" "$D/longrun.maps" || xs_die "not the xray-seg process's maps"
	no_curl "$D/longrun.maps" "exec -- sleep"
	wait_segs 4
}

@test "the UDP path opens no libcurl at any time (syscall trace of begin, end, exec, send; LD_DEBUG on a dynamic build)" {
	command -v strace >/dev/null || skip "strace is not installed"
	# LeakSanitizer cannot run under ptrace; the sanitizer suite still checks the rest.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	lambda_ctx
	strace -qq -e trace=open,openat,openat2,execve -o "$D/begin.st" "$XRAY_SEG" begin traced >/dev/null
	strace -qq -e trace=open,openat,openat2,execve -o "$D/end.st" "$XRAY_SEG" end
	strace -qq -e trace=open,openat,openat2,execve -o "$D/exec.st" "$XRAY_SEG" exec --name ex -- true
	outside_lambda
	strace -qq -e trace=open,openat,openat2,execve -o "$D/root.st" "$XRAY_SEG" exec --name rt -- true
	strace -qq -e trace=open,openat,openat2,execve -o "$D/send.st" "$XRAY_SEG" send --all
	for f in begin end exec root send; do
		[[ -s $D/$f.st ]] || xs_die "no syscall trace for $f"
		no_curl "$D/$f.st" "$f"
	done
	if readelf -l "$XRAY_SEG" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		LD_DEBUG=libs "$XRAY_SEG" exec --name lddebug -- true 2>"$D/ld.log"
		grep -q 'calling init' "$D/ld.log" || xs_die "LD_DEBUG=libs printed nothing"
		no_curl "$D/ld.log" "LD_DEBUG=libs"
	fi
	n=$(datagram_count)
	wait_segs "$n"
}

@test "the api path does load libcurl (the maps and syscall checks can fail)" {
	start_http --hold "$D/release"
	api_env "$HTTP_URL"
	"$XRAY_SEG" exec --name apimaps -- true 2>"$D/err" &
	pid=$!
	reap_later "$pid"
	for ((n = 0; n < 1000; n++)); do
		(($(http_count) > 0)) && break
		_nap 0.01
	done
	(($(http_count) > 0)) || { touch "$D/release"; xs_die "no request arrived: $(cat "$D/err")"; }
	cat "/proc/$pid/maps" >"$D/api.maps"
	touch "$D/release"
	wait "$pid"
	grep -q 'libcurl' "$D/api.maps" || xs_die "libcurl not in the maps of the api transport while it sends"
	if command -v strace >/dev/null; then
		export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
		strace -qq -e trace=open,openat,openat2 -o "$D/api.st" "$XRAY_SEG" exec --name apist -- true
		grep -q 'libcurl' "$D/api.st" || xs_die "the api transport opened no libcurl"
	fi
	assert_requests 2
}

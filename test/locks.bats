#!/usr/bin/env bats
# locks.bats - a trace's lock (issue 13): no call holds it across a send, so an
# API endpoint that does not answer holds up no other call of the trace; a
# call killed while sending leaves its documents for a later one; a holder
# that keeps the lock (stopped) costs others a bounded wait and a warning,
# never their exit status.

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

# held_exec NAME: start `exec --name NAME -- true` with the api transport in
# the background against an endpoint that holds its answer until $D/release
# exists; returns once its request has arrived, with EXEC_PID and TRACE_DIR set.
held_exec() {
	start_http --hold "$D/release"
	api_env "$HTTP_URL"
	"$XRAY_SEG" exec --name "$1" -- true 2>"$D/err" &
	EXEC_PID=$!
	reap_later "$EXEC_PID"
	for ((n = 0; n < 1000; n++)); do
		(($(http_count) > 0)) && break
		_nap 0.01
	done
	(($(http_count) > 0)) || { touch "$D/release"; xs_die "no request arrived: $(cat "$D/err")"; }
	TRACE_DIR=$(echo "$XRAY_SEG_STATE_DIR"/1-*)
	[[ -d $TRACE_DIR ]] || xs_die "no trace directory while sending: $(ls -la "$XRAY_SEG_STATE_DIR")"
}

@test "a send holds no lock: while the endpoint holds its answer, the trace's lock is free and send --all goes on" {
	held_exec held
	flock -n "$TRACE_DIR/lock" true || { touch "$D/release"; xs_die "the trace's lock is held during the send"; }
	# the document on its way is this call's claim, which no other call takes
	compgen -G "$TRACE_DIR/*.$EXEC_PID.sending" >/dev/null ||
		{ touch "$D/release"; xs_die "no claim while sending: $(ls "$TRACE_DIR")"; }
	run -0 --separate-stderr timeout 5 "$XRAY_SEG" send --all
	assert_stderr_empty
	assert_requests 1
	touch "$D/release"
	wait "$EXEC_PID"
	[[ ! -s $D/err ]] || xs_die "exec warned: $(cat "$D/err")"
	assert_requests 1
	http_docs 1
	assert_doc held .name held
	[[ ! -e $TRACE_DIR ]] || xs_die "the trace's state is left: $(ls -la "$TRACE_DIR")"
}

@test "a call killed while sending: its claim goes back to the trace and send --all delivers it" {
	held_exec killed
	kill -9 "$EXEC_PID"
	wait "$EXEC_PID" 2>/dev/null || true
	stop_http
	start_http
	api_env "$HTTP_URL"
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 1
	http_docs 1
	assert_doc killed .name killed
	[[ ! -e $TRACE_DIR ]] || xs_die "the trace's state is left: $(ls -la "$TRACE_DIR")"
}

@test "a call stopped while it holds the lock: others warn after 2 s, exit 0, and go on; it finishes later" {
	lambda_ctx
	local outer t0 t1 holder n
	outer=$(xs_ok begin outer)
	# A real call, stopped (by its tracer) at a write while it holds the lock.
	# (LeakSanitizer cannot run under ptrace; the rest of ASan can.)
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	strace -qq -o /dev/null -e trace=renameat2 -e inject=renameat2:delay_enter=6000000 \
		"$XRAY_SEG" begin stopped >"$D/stopped.id" 2>"$D/stopped.err" &
	holder=$!
	reap_later "$holder"
	for ((n = 0; n < 500; n++)); do
		flock -n "$(trace_dir)/lock" true || break
		_nap 0.01
	done
	! flock -n "$(trace_dir)/lock" true || xs_die "the stopped call never took the lock"
	t0=$EPOCHREALTIME
	# (timed: the binary itself, not under valgrind)
	run -0 --separate-stderr timeout 10 "$XRAY_SEG" annotate key value
	t1=$EPOCHREALTIME
	assert_warning
	[[ $stderr == *"lock of trace $ROOT stayed with one call"*"not recording"* ]] || xs_die "$stderr"
	float_ok "${t1/,/.} - ${t0/,/.} >= 1.9 && ${t1/,/.} - ${t0/,/.} < 5"
	# exec runs its command and passes its status on, traced or not
	run -3 --separate-stderr timeout 10 "$XRAY_SEG" exec -- sh -c 'exit 3'
	wait "$holder"
	[[ ! -s $D/stopped.err ]] || xs_die "the stopped call warned: $(cat "$D/stopped.err")"
	xs_ok end "$(cat "$D/stopped.id")"
	xs_ok end "$outer"
	wait_docs 2
	assert_doc stopped .parent_id "$outer"
	assert_doc outer .id "$outer"
}

#!/usr/bin/env bats
# exec.bats - exec: the child's status (exit code, 128+N, 126, 127), its
# environment and trace header, nesting of xray-seg calls inside it, argv and
# stdio passthrough, the wrapped command's options, signal forwarding.

load test_helper
bats_require_minimum_version 1.5.0


@test "exit status 0: recorded as metadata.process.exit_code, no fault" {
	lambda_ctx
	run -0 --separate-stderr xs exec --name ok -- true
	assert_stderr_empty
	assert_output ''
	wait_docs 1
	assert_doc_json ok '.metadata.process | del(.wall_time, .user_time, .system_time, .max_rss_kb)' '{"exit_code":0}'
	assert_doc ok '.metadata.process | [.wall_time, .user_time, .system_time, .max_rss_kb] | map(type == "number") | all' true
	assert_doc ok '[.error, .fault, .throttle, .cause]' '[null,null,null,null]'
	assert_doc ok .parent_id "$PARENT"
	assert_doc ok .trace_id "$ROOT"
}

@test "the child's exit status is passed through and recorded as a fault" {
	lambda_ctx
	run -7 --separate-stderr xs exec --name seven -- sh -c 'exit 7'
	assert_stderr_empty
	run -1 --separate-stderr xs exec --name one -- false
	run -255 --separate-stderr xs exec --name max -- sh -c 'exit 255'
	wait_docs 3
	assert_doc seven .metadata.process.exit_code 7
	assert_doc seven .fault true
	assert_doc seven '.cause.exceptions | map(.message)' '["exit status 7"]'
	assert_doc one .metadata.process.exit_code 1
	assert_doc max .metadata.process.exit_code 255
}

@test "a child killed by a signal gives 128+N and metadata.process.signal" {
	lambda_ctx
	run -137 --separate-stderr xs exec --name killed -- sh -c 'kill -KILL $$'
	run -143 --separate-stderr xs exec --name termed -- sh -c 'kill -TERM $$'
	wait_docs 2
	assert_doc killed .metadata.process.signal SIGKILL
	assert_doc termed .metadata.process.signal SIGTERM
	assert_doc killed .fault true
	assert_doc termed .fault true
}

# (xs_bare: under valgrind, posix_spawn failures look different)
@test "command not found: 127 with an error line" {
	lambda_ctx
	run -127 --separate-stderr xs_bare exec -- no-such-command-xyzzy
	[[ $stderr == xray-seg:* && $stderr == *no-such-command-xyzzy* ]] || xs_die "unexpected stderr: $stderr"
	run -127 --separate-stderr xs_bare exec -- "$BATS_TEST_TMPDIR/missing/cmd"
	[[ $stderr == xray-seg:* ]] || xs_die "unexpected stderr: $stderr"
	n=$(datagram_count)
	((n <= 2)) || xs_die "$n datagrams for two failed execs"
	docs >/dev/null # whatever was sent must be valid
}

@test "not executable: 126" {
	lambda_ctx
	printf '#!/bin/sh\necho hi\n' >"$BATS_TEST_TMPDIR/noexec"
	chmod 644 "$BATS_TEST_TMPDIR/noexec"
	run -126 --separate-stderr xs_bare exec -- "$BATS_TEST_TMPDIR/noexec"
	[[ $stderr == xray-seg:* ]] || xs_die "unexpected stderr: $stderr"
	assert_output ''
	run -126 --separate-stderr xs_bare exec -- "$BATS_TEST_TMPDIR"
	docs >/dev/null
}

@test "the child gets Root, Parent = the exec subsegment, Sampled=1" {
	lambda_ctx
	run -0 --separate-stderr xs exec --name probe -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	wait_docs 1
	id=$(dget probe .id)
	assert_output "Root=$ROOT;Parent=$id;Sampled=1"
}

@test "the child's header keeps Lineage and other keys in order and drops Self" {
	lambda_ctx
	export _X_AMZN_TRACE_ID="Self=1-67891234-abcdef012345678912345678;Root=$ROOT;Foo=bar;Parent=$PARENT;Lineage=a87bd80c:1|68fd508a:5;Sampled=1;Zed=last"
	run -0 --separate-stderr xs exec --name extra -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	wait_docs 1
	assert_doc extra .parent_id "$PARENT"
	assert_output "Root=$ROOT;Parent=$(dget extra .id);Sampled=1;Foo=bar;Lineage=a87bd80c:1|68fd508a:5;Zed=last"
}

@test "the rest of the environment reaches the child unchanged" {
	lambda_ctx
	export XS_PROBE_VAR='spaces and = signs'
	env | grep -v -e '^_X_AMZN_TRACE_ID=' -e '^_=' | sort >"$BATS_TEST_TMPDIR/want"
	xs_bare exec --name envcheck -- env | grep -v -e '^_X_AMZN_TRACE_ID=' -e '^TRACEPARENT=' -e '^_=' |
		sort >"$BATS_TEST_TMPDIR/got"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	wait_docs 1
}

@test "the default name is the command's basename; --name and --namespace are used" {
	lambda_ctx
	xs exec -- /bin/true
	xs exec -- printenv HOME >/dev/null
	xs exec --name custom --namespace remote -- true
	xs exec --name=eq --namespace=aws -- true
	wait_docs 4
	doc true >/dev/null
	doc printenv >/dev/null
	assert_doc custom .namespace remote
	assert_doc eq .namespace aws
	assert_doc true .namespace null
}

@test "argv reaches the child exactly, without a shell" {
	lambda_ctx
	run -0 --separate-stderr xs exec -- printf '[%s]' 'a b' '' '*' '$HOME' "'q'" ';' '|'
	assert_output "[a b][][*][\$HOME]['q'][;][|]"
	wait_docs 1
}

@test "options after the command belong to the command, with or without --" {
	lambda_ctx
	run -0 --separate-stderr xs exec -- sh -c 'echo "$@"' x --name y --namespace z
	assert_stderr_empty
	assert_output '--name y --namespace z'
	run -0 --separate-stderr xs exec sh -c 'echo "$@"' x --name y
	assert_output '--name y'
	run -0 --separate-stderr xs exec --name outer -- sh -c 'echo "$@"' x --help
	assert_output '--help'
	wait_docs 3
	[ "$(dq '[.[].name] | sort | join(" ")')" = "outer sh sh" ]
}

@test "stdin, stdout and stderr are the child's" {
	lambda_ctx
	run -0 --separate-stderr bash -c 'printf "in put" | "$XRAY_SEG" exec -- cat'
	assert_output 'in put'
	assert_stderr_empty
	run -3 --separate-stderr xs exec -- sh -c 'echo out; echo err >&2; exit 3'
	assert_output out
	[ "$stderr" = err ]
	wait_docs 2
}

@test "the exec subsegment spans the child's run time" {
	lambda_ctx
	t0=$EPOCHREALTIME
	xs exec --name sleeper -- sleep 0.3
	t1=$EPOCHREALTIME
	wait_docs 1
	start=$(dget sleeper .start_time)
	end=$(dget sleeper .end_time)
	float_ok "$end - $start >= 0.3"
	float_ok "$start >= $t0 - 0.01 && $end <= $t1 + 0.01"
}

@test "a call of the child's waits for the subsegment, written while the child starts" {
	lambda_ctx
	command -v strace >/dev/null || xs_die "strace is required by this test"
	# Only exec itself is traced: its lock and its write of the subsegment are each
	# held back 300 ms. The child's annotate must wait for the subsegment, not miss it.
	# (LeakSanitizer cannot work in a traced process.)
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	run -0 --separate-stderr strace -o /dev/null -e trace=flock,renameat2 \
		-e inject=flock:delay_enter=300000 -e inject=renameat2:delay_enter=300000 \
		"$XRAY_SEG" exec --name slow -- xray-seg annotate k v
	assert_stderr_empty
	wait_docs 1
	assert_doc slow .annotations.k v
}

@test "xray-seg calls inside the child attach to the exec subsegment" {
	lambda_ctx
	run -0 --separate-stderr xs exec --name outer -- sh -c '
		xray-seg begin inner >/dev/null &&
		xray-seg end &&
		xray-seg exec --name nested -- sh -c "xray-seg begin deepest >/dev/null && xray-seg end" &&
		xray-seg annotate step done &&
		xray-seg metadata --namespace job rows "[1,2]"'
	assert_stderr_empty
	wait_docs 4
	outer=$(dget outer .id)
	assert_doc outer .parent_id "$PARENT"
	assert_doc inner .parent_id "$outer"
	assert_doc nested .parent_id "$outer"
	assert_doc deepest .parent_id "$(dget nested .id)"
	assert_doc_json outer .annotations '{"step":"done"}'
	assert_doc_json outer .metadata.job '{"rows":[1,2]}'
	[ "$(dq '[.[].name] | join(" ")')" = "inner deepest nested outer" ]
	assert_trace_gone
}

@test "the child's own stack is separate: its end does not end the caller's subsegment" {
	lambda_ctx
	mine=$(xs begin mine)
	run -0 --separate-stderr xs exec --name child -- xray-seg end
	assert_warning
	xs end
	wait_docs 2
	assert_doc child .parent_id "$mine"
	assert_doc mine .parent_id "$PARENT"
}

@test "exec inside an open subsegment nests under it" {
	lambda_ctx
	a=$(xs begin parent-sub)
	xs exec --name under -- true
	xs end
	wait_docs 2
	assert_doc under .parent_id "$a"
}

@test "SIGTERM and SIGHUP sent to xray-seg exec are forwarded to the child" {
	lambda_ctx
	for sig in TERM HUP; do
		ready=$BATS_TEST_TMPDIR/ready.$sig
		"$XRAY_SEG" exec --name "fwd-$sig" -- sh -c \
			'trap "exit 42" '"$sig"'; echo $$ >"$1"; while :; do sleep 0.05; done' sh "$ready" 3>&- &
		pid=$!
		reap_later "$pid"
		wait_file "$ready"
		reap_later "$(cat "$ready")"
		kill -s "$sig" "$pid"
		rc=0
		wait "$pid" || rc=$?
		((rc == 42)) || xs_die "after SIG$sig to xray-seg exec: exit $rc, expected the child's 42"
	done
	wait_docs 2
	assert_doc fwd-TERM .metadata.process.exit_code 42
	assert_doc fwd-HUP .metadata.process.exit_code 42
}

@test "not recording (Sampled=0): the child runs with the environment unchanged, nothing sent" {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=0;Lineage=x:1"
	run -5 --separate-stderr xs exec --name quiet -- sh -c 'printf %s "$_X_AMZN_TRACE_ID"; exit 5'
	assert_stderr_empty
	assert_output "$_X_AMZN_TRACE_ID"
	assert_no_datagrams
	assert_no_state
}

@test "what the command leaves open is ended by exec, innermost first, with the exceptions recorded in it (issue 14)" {
	lambda_ctx
	run -1 --separate-stderr xs exec --name ci-build -- bash -c 'set -e
		xray-seg begin compile >/dev/null
		xray-seg begin link >/dev/null
		xray-seg exception "ld: cannot find -lfoo"
		false
		xray-seg end; xray-seg end'
	assert_stderr_empty
	wait_docs 3
	[ "$(dq -c 'map(.name)')" = '["link","compile","ci-build"]' ]
	assert_doc link .parent_id "$(dget compile .id)"
	assert_doc compile .parent_id "$(dget ci-build .id)"
	assert_doc link '.cause.exceptions | map(.message)' \
		'["ld: cannot find -lfoo","left open; ended by exec: its command exited with status 1"]'
	assert_doc compile .fault true
	assert_doc ci-build '.cause.exceptions | map(.message)' '["exit status 1"]'
	# a command that succeeds and forgets an end: ended, no fault
	run -0 --separate-stderr xs exec --name tidy -- bash -c 'xray-seg begin forgotten >/dev/null'
	wait_docs 5
	assert_doc forgotten '[.fault, .cause]' '[null,null]'
}

# long_exec NAME: start `exec --name NAME` in the background, its command
# waiting for $BATS_TEST_TMPDIR/go; returns once it runs (EXEC_PID set).
long_exec() {
	local n
	# (the command gives up by itself after 30 s, should the test fail first)
	xs exec --name "$1" -- sh -c 'touch "$1/running"; n=0
		while [ ! -e "$1/go" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done' sh \
		"$BATS_TEST_TMPDIR" 2>"$BATS_TEST_TMPDIR/exec.err" &
	EXEC_PID=$!
	reap_later "$EXEC_PID"
	for ((n = 0; n < 1000; n++)); do
		[[ -e $BATS_TEST_TMPDIR/running ]] && return 0
		_nap 0.01
	done
	xs_die "the command of exec did not start: $(cat "$BATS_TEST_TMPDIR/exec.err")"
}

@test "a long exec is never swept as stale: another trace's sweep leaves it, and it is sent (issue 14)" {
	lambda_ctx
	local mine=$ROOT
	long_exec long-job
	# Nothing touched the trace for 16 minutes, as far as its directory says.
	touch -d '16 minutes ago' "$(trace_dir "$mine")"
	lambda_ctx # a new trace: its first call sweeps the others
	xs_ok begin other >/dev/null
	xs_ok end
	[[ -d $(trace_dir "$mine") ]] || xs_die "the running exec's trace was swept"
	touch "$BATS_TEST_TMPDIR/go"
	wait "$EXEC_PID"
	[[ ! -s $BATS_TEST_TMPDIR/exec.err ]] || xs_die "exec warned: $(cat "$BATS_TEST_TMPDIR/exec.err")"
	wait_docs 2
	assert_doc long-job .trace_id "$mine"
	# once it is over, the trace is stale again like any other
	[[ ! -e $(trace_dir "$mine")/lock || -z $(find "$(trace_dir "$mine")" -name '*.live') ]] ||
		xs_die "the live mark is left: $(ls "$(trace_dir "$mine")")"
}

@test "state removed while exec's command runs: the subsegment is still sent, with one warning (issue 14)" {
	lambda_ctx
	long_exec orphan
	rm -rf "$(trace_dir)"
	touch "$BATS_TEST_TMPDIR/go"
	wait "$EXEC_PID"
	run cat "$BATS_TEST_TMPDIR/exec.err"
	[[ $output == *"xray-seg: warning: exec: the state of subsegment "*" was removed while its command ran"* ]] ||
		xs_die "expected one warning: $output"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/exec.err")" = 1 ]
	wait_docs 1
	assert_doc orphan .parent_id "$PARENT"
	assert_doc orphan '.end_time > .start_time' true
}

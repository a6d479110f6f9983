#!/usr/bin/env bats
# exec_resources.bats - what exec records about the child's run for every
# command (as the man page describes for exec): metadata.process wall_time,
# user_time, system_time, max_rss_kb; death by a signal (128+N and its name);
# SIGTERM/SIGINT/SIGHUP/SIGQUIT forwarded to the child; a command that is not
# found (127, one error line, the subsegment still sent as a fault).

load test_helper
bats_require_minimum_version 1.5.0

# CPU burners for the child: they stop on the CPU time they have used, not on
# the clock, so a loaded machine makes them slower but not different.
BURN_USER='
import time
t = time.process_time()
while time.process_time() - t < 0.3:
    for i in range(20000):
        pass
'
BURN_SYS='
import os, resource
while resource.getrusage(resource.RUSAGE_SELF).ru_stime < 0.2:
    for i in range(2000):
        os.stat("/")
'
GROW_64M='b = b"x" * (64 << 20)'


# wait_comm PID NAME: bounded poll (10 s) until process PID runs NAME.
wait_comm() {
	local n c
	for ((n = 0; n < 1000; n++)); do
		read -r c <"/proc/$1/comm" 2>/dev/null && [[ $c == "$2" ]] && return 0
		_nap 0.01
	done
	xs_die "process $1 never ran $2"
}

signum() { kill -l "$1"; }

# alive PID: PID runs (not gone, not a zombie).
alive() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	[[ $st != *') Z '* ]]
}

# wait_exit PID CHILD WHAT: wait (at most 5 s) for background job PID to end and
# set rc to its status; if it does not end, kill it and CHILD and fail: WHAT
# was not acted on (a forwarded signal lost).
wait_exit() {
	local n
	for ((n = 0; n < 500; n++)); do
		alive "$1" || break
		_nap 0.01
	done
	if alive "$1"; then
		kill -KILL "$2" "$1" 2>/dev/null
		xs_die "xray-seg exec (pid $1) still ran 5 s after $3: the signal never reached its child $2"
	fi
	rc=0
	wait "$1" || rc=$?
}

@test "metadata.process: exit_code, wall_time, user_time, system_time (seconds), max_rss_kb (integer kB)" {
	lambda_ctx
	run -0 --separate-stderr xs exec --name quick -- true
	assert_stderr_empty
	run -3 --separate-stderr xs exec --name three -- sh -c 'exit 3'
	wait_docs 2
	assert_doc quick '.metadata.process | keys' '["exit_code","max_rss_kb","system_time","user_time","wall_time"]'
	assert_doc three '.metadata.process | keys' '["exit_code","max_rss_kb","system_time","user_time","wall_time"]'
	assert_doc three .metadata.process.exit_code 3
	assert_doc quick '.metadata.process | [.wall_time, .user_time, .system_time, .max_rss_kb] | map(type == "number" and . >= 0) | all' true
	assert_doc quick '.metadata.process.max_rss_kb | . > 0 and . == floor' true
	assert_doc quick '.metadata.process | .wall_time < 2 and .user_time < 0.5 and .system_time < 0.5 and .max_rss_kb < 65536' true
}

@test "wall_time is the child's run time and fits inside the subsegment" {
	lambda_ctx
	xs exec --name sleeper -- sleep 0.3
	wait_docs 1
	local w span
	w=$(dget sleeper .metadata.process.wall_time)
	span=$(dget sleeper '.end_time - .start_time')
	float_ok "$w >= 0.3 && $w < 0.3 + 5"
	float_ok "$w <= $span + 0.000002"
	# sleeping uses no CPU
	assert_doc sleeper '.metadata.process | .user_time < 0.1 and .system_time < 0.1' true
}

@test "user_time and system_time are the child's CPU time, its waited-for children included" {
	lambda_ctx
	xs exec --name user -- "$XS_PYTHON" -S -c "$BURN_USER"
	xs exec --name sys -- "$XS_PYTHON" -S -c "$BURN_SYS"
	xs exec --name via-sh -- sh -c '"$1" -S -c "$2"; exit 0' sh "$XS_PYTHON" "$BURN_USER"
	wait_docs 3
	local d u s w
	for d in user sys via-sh; do
		read -r u s w < <(dget "$d" '.metadata.process | "\(.user_time) \(.system_time) \(.wall_time)"')
		# one thread: CPU time cannot exceed the run time
		float_ok "$u + $s <= $w + 0.02"
		case $d in
		user | via-sh) float_ok "$u >= 0.25" ;;
		sys) float_ok "$s >= 0.2" ;;
		esac
	done
}

@test "max_rss_kb is the child's peak resident set in kB" {
	lambda_ctx
	xs exec --name big -- "$XS_PYTHON" -S -c "$GROW_64M"
	xs exec --name big-via-sh -- sh -c '"$1" -S -c "$2"' sh "$XS_PYTHON" "$GROW_64M"
	# Under valgrind the child is forked from valgrind's own large process: run bare.
	xs_bare exec --name small -- true
	wait_docs 3
	local big small
	big=$(dget big .metadata.process.max_rss_kb)
	small=$(dget small .metadata.process.max_rss_kb)
	# 64 MiB written: at least 65536 kB, and not bytes (x1024) or pages (/4)
	((big >= 65536 && big < 65536 * 4)) || xs_die "max_rss_kb of a 64 MiB child: $big"
	((small < 65536 / 2)) || xs_die "max_rss_kb of true: $small"
	big=$(dget big-via-sh .metadata.process.max_rss_kb)
	((big >= 65536 && big < 65536 * 4)) || xs_die "max_rss_kb of sh running a 64 MiB child: $big"
}

@test "killed by a signal: exit 128+N, metadata.process.signal is its name, exit_code 128+N, a fault" {
	lambda_ctx
	local sig n
	for sig in TERM INT HUP QUIT KILL SEGV ABRT USR1 USR2 PIPE ALRM; do
		n=$(signum "$sig")
		run "-$((128 + n))" --separate-stderr xs exec --name "by-$sig" -- \
			env --default-signal sh -c 'ulimit -c 0; kill -s "$1" $$; sleep 5' sh "$sig"
	done
	wait_docs 11
	local want
	want=$(jq -nc '[$ARGS.positional[] | {name: "by-\(.)", signal: "SIG\(.)"}]' --args TERM INT HUP QUIT KILL SEGV ABRT USR1 USR2 PIPE ALRM)
	[ "$(dq -c 'map({name, signal: .metadata.process.signal}) | sort_by(.name)')" = "$(jq -c 'sort_by(.name)' <<<"$want")" ] ||
		xs_die "signals recorded: $(dq -c 'map({name, signal: .metadata.process.signal})')"
	for sig in TERM KILL SEGV USR1; do
		n=$(signum "$sig")
		assert_doc "by-$sig" '[.metadata.process.exit_code, .fault]' "[$((128 + n)),true]"
		assert_doc "by-$sig" '.metadata.process | keys' '["exit_code","max_rss_kb","signal","system_time","user_time","wall_time"]'
	done
}

@test "SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to xray-seg reach the child, which decides the status" {
	lambda_ctx
	local sig k=0 pid ready rc
	for sig in TERM INT HUP QUIT; do
		k=$((k + 1))
		ready=$BATS_TEST_TMPDIR/ready.$sig
		# (env: a background job of this non-interactive shell starts with SIGINT/SIGQUIT ignored)
		env --default-signal=INT,QUIT,TERM,HUP "$XRAY_SEG" exec --name "trap-$sig" -- sh -c \
			'trap "exit $2" '"$sig"'; echo $$ >"$1"; while :; do sleep 0.02; done' sh "$ready" $((40 + k)) 3>&- &
		pid=$!
		reap_later "$pid"
		wait_file "$ready"
		reap_later "$(<"$ready")"
		kill -s "$sig" "$pid"
		wait_exit "$pid" "$(<"$ready")" "SIG$sig"
		((rc == 40 + k)) || xs_die "SIG$sig to xray-seg exec: exit $rc, expected the child's $((40 + k))"
	done
	wait_docs 4
	assert_doc trap-TERM '[.metadata.process.exit_code, .metadata.process.signal]' '[41,null]'
	assert_doc trap-INT '[.metadata.process.exit_code, .metadata.process.signal]' '[42,null]'
	assert_doc trap-HUP '[.metadata.process.exit_code, .metadata.process.signal]' '[43,null]'
	assert_doc trap-QUIT '[.metadata.process.exit_code, .metadata.process.signal]' '[44,null]'
}

@test "a child that does not handle a forwarded signal dies of it: 128+N, the signal recorded, the subsegment sent" {
	lambda_ctx
	local sig pid ready rc child
	for sig in TERM INT HUP QUIT; do
		ready=$BATS_TEST_TMPDIR/ready.$sig
		env --default-signal=INT,QUIT,TERM,HUP "$XRAY_SEG" exec --name "die-$sig" -- sh -c \
			'ulimit -c 0; echo $$ >"$1"; exec sleep 30' sh "$ready" 3>&- &
		pid=$!
		reap_later "$pid"
		wait_file "$ready"
		child=$(<"$ready")
		reap_later "$child"
		wait_comm "$child" sleep
		kill -s "$sig" "$pid"
		wait_exit "$pid" "$child" "SIG$sig"
		((rc == 128 + $(signum "$sig"))) || xs_die "SIG$sig to xray-seg exec: exit $rc, expected $((128 + $(signum "$sig")))"
	done
	wait_docs 4
	for sig in TERM INT HUP QUIT; do
		assert_doc "die-$sig" '[.metadata.process.signal, .metadata.process.exit_code, .fault]' \
			"[\"SIG$sig\",$((128 + $(signum "$sig"))),true]"
	done
}

@test "a signal that arrives just after the child started is forwarded, not lost (one CPU, 40 tries)" {
	# The child announces itself at once: xray-seg may not be back from
	# posix_spawn yet. With both on one CPU that window is wide.
	command -v taskset >/dev/null || xs_die "taskset (util-linux) is required"
	lambda_ctx
	local n k pid ready lost=0 wrong=0
	for ((n = 0; n < 40 && lost < 3; n++)); do
		ready=$BATS_TEST_TMPDIR/ready.$n
		taskset -c 0 env --default-signal=TERM "$XRAY_SEG" exec --name early -- sh -c \
			'trap "exit 42" TERM; echo $$ >"$1"; while :; do sleep 0.02; done' sh "$ready" 3>&- &
		pid=$!
		reap_later "$pid"
		for ((k = 0; k < 5000; k++)); do
			[[ -s $ready ]] && break
			_nap 0.001
		done
		reap_later "$(<"$ready")"
		kill -TERM "$pid"
		for ((k = 0; k < 100; k++)); do
			alive "$pid" || break
			_nap 0.01
		done
		if alive "$pid"; then
			lost=$((lost + 1))
			kill -KILL "$(<"$ready")" "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null || true
			continue
		fi
		rc=0
		wait "$pid" || rc=$?
		((rc == 42)) || wrong=$((wrong + 1))
	done
	((lost == 0 && wrong == 0)) ||
		xs_die "SIGTERM sent just after the child started: lost (xray-seg and the child kept running) $lost time(s), other status $wrong time(s), in $n tries"
}

# (xs_bare: under valgrind, posix_spawn failures look different)
@test "command not found: 127, one stderr line, the subsegment sent as a fault with the cause" {
	lambda_ctx
	run -127 --separate-stderr xs_bare exec -- no-such-command-xyzzy --flag
	[ "$stderr" = 'xray-seg: no-such-command-xyzzy: command not found' ] || xs_die "stderr: $stderr"
	assert_output ''
	run -127 --separate-stderr xs_bare exec -- "$BATS_TEST_TMPDIR/missing/dir/tool" arg
	[ "$stderr" = "xray-seg: $BATS_TEST_TMPDIR/missing/dir/tool: command not found" ] || xs_die "stderr: $stderr"
	run -127 --separate-stderr xs_bare exec --name custom --namespace remote -- no-such-command-xyzzy
	[ "$stderr" = 'xray-seg: no-such-command-xyzzy: command not found' ] || xs_die "stderr: $stderr"
	wait_docs 3
	local n
	for n in no-such-command-xyzzy tool custom; do
		assert_doc "$n" '[.fault, (.cause.exceptions | map(.message)), .metadata.process.exit_code]' \
			'[true,["command not found"],127]'
		assert_doc "$n" .parent_id "$PARENT"
	done
	assert_doc custom .namespace remote
	assert_trace_gone
}

@test "command not found when not recording: 127 and the error line, nothing sent" {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=0"
	run -127 --separate-stderr xs_bare exec -- no-such-command-xyzzy
	[ "$stderr" = 'xray-seg: no-such-command-xyzzy: command not found' ] || xs_die "stderr: $stderr"
	assert_no_datagrams
	assert_no_state
}

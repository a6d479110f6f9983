#!/usr/bin/env bats
# exec_signals.bats - `exec` is invisible (issue 13): a command behaves under
# `xray-seg exec` as when run directly. Signals from a real terminal (an
# interactive bash on a pty), from kill of a process group and of xray-seg's
# pid reach it once; its stops are the caller's job's; its death by a signal
# is xray-seg's; what the caller ignored stays ignored; broken pipes and a
# stderr held open by its background processes change nothing.

load test_helper
bats_require_minimum_version 1.5.0

PTY=$XS_HELPERS/pty-session.py
COUNT=$XS_HELPERS/sigcount.py

# pty STEP...: an interactive bash on a pty, with this test's environment.
pty() { "$XS_PYTHON" "$PTY" "$@"; }

@test "Ctrl-C and Ctrl-\\ on a terminal reach the command once each" {
	lambda_ctx
	run -0 pty "send:xray-seg exec --name counted -- python3 $COUNT 1.5 INT QUIT\\r" 'expect:ready' \
		'sleep:0.2' 'send:\x03' 'sleep:0.3' 'send:\x1c' 'sleep:0.3' 'send:\x03' 'expect:got: [^\r]*'
	[[ $output == *'got: INT=2 QUIT=1'* ]] || xs_die "expected INT=2 QUIT=1: $output"
	wait_docs 1
	assert_doc counted .metadata.process.exit_code 0
}

@test "Ctrl-C stops a script's loop of exec calls, as bash's rule for a child killed by SIGINT wants" {
	lambda_ctx
	printf '%s\n' 'for i in 1 2 3; do xray-seg exec --name "step$i" -- sleep 3; done' 'echo loop-finished' \
		>"$BATS_TEST_TMPDIR/loop.sh"
	run -0 pty "send:bash $BATS_TEST_TMPDIR/loop.sh\\r" 'sleep:0.5' 'send:\x03' 'expect:\^C' 'expect:\$ ' \
		'send:echo status=$?\r' 'expect:status=[0-9]+'
	[[ $output == *status=130* && $output != *loop-finished* ]] || xs_die "the loop went on: $output"
	wait_docs 1
	assert_doc step1 .metadata.process.signal SIGINT
}

@test "Ctrl-Z stops the job, fg continues it, and its status is the command's" {
	lambda_ctx
	run -0 pty 'send:xray-seg exec --name paused -- sh -c "sleep 1; exit 5"\r' 'sleep:0.3' 'send:\x1a' \
		'expect:Stopped' 'send:jobs\r' 'expect:Stopped +xray-seg' 'send:fg\r' 'expect:\$ ' \
		'send:echo status=$?\r' 'expect:status=[0-9]+'
	[[ $output == *status=5* ]] || xs_die "$output"
	wait_docs 1
	assert_doc paused .metadata.process.exit_code 5
}

@test "a background job that reads the terminal stops; fg gives it the terminal and it reads" {
	lambda_ctx
	run -0 pty 'send:xray-seg exec --name reader -- sh -c "read -r line; echo read=\\$line"&\r' \
		'sleep:0.5' 'send:jobs\r' 'expect:Stopped' 'send:fg\r' 'sleep:0.3' 'send:hello\r' 'expect:read=hello' \
		'send:echo status=$?\r' 'expect:status=0'
	wait_docs 1
	assert_doc reader .metadata.process.exit_code 0
}

@test "kill of the caller's process group reaches the command once (3 runs)" {
	lambda_ctx
	local n
	for n in 1 2 3; do
		# (the kill waits for "ready": until the handler is set, the caller's ignoring holds)
		run -0 setsid bash -c 'trap "" TERM; xray-seg exec -- python3 "$1" 1 TERM >"$2" & 
			until grep -q ready "$2"; do sleep .02; done; kill -TERM -$$; wait $!; cat "$2"' \
			bash "$COUNT" "$BATS_TEST_TMPDIR/out.$n"
		[[ $output == *'got: TERM=1'* ]] || xs_die "run $n: $output"
	done
}

@test "kill of xray-seg's pid reaches the command once" {
	lambda_ctx
	local out=$BATS_TEST_TMPDIR/out pid
	env --default-signal=TERM "$XRAY_SEG" exec -- python3 "$COUNT" 1 TERM >"$out" 3>&- &
	pid=$!
	reap_later "$pid"
	wait_file "$out"
	kill -TERM "$pid"
	wait "$pid"
	[[ $(<"$out") == *'got: TERM=1'* ]] || xs_die "$(<"$out")"
}

@test "death by a signal is passed on as death by that signal, after the subsegment is sent" {
	lambda_ctx
	run -0 "$XS_PYTHON" -c 'import subprocess, sys
print(subprocess.run([sys.argv[1], "exec", "--name", "intd", "--", "sh", "-c", "kill -INT $$"]).returncode)
print(subprocess.run([sys.argv[1], "exec", "--name", "killed", "--", "sh", "-c", "kill -KILL $$"]).returncode)' "$XRAY_SEG"
	assert_output $'-2\n-9'
	wait_docs 2
	assert_doc intd .metadata.process.signal SIGINT
	assert_doc killed .metadata.process.signal SIGKILL
}

# dispositions: the ignored, caught and blocked signal sets a command sees in /proc.
dispositions() { grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status; }

@test "the command gets the caller's dispositions and mask: nohup, trap '' and a background job's ignored SIGINT" {
	lambda_ctx
	local direct traced
	export -f dispositions
	for how in 'nohup bash -c dispositions 2>/dev/null' "trap '' INT USR1; bash -c dispositions" \
		'bash -c dispositions & wait' 'bash -c dispositions'; do
		direct=$(bash -c "$how")
		traced=$(bash -c "${how//bash -c dispositions/xray-seg exec -- bash -c dispositions}")
		[[ $direct == "$traced" ]] || xs_die "$how: direct
$direct
under exec
$traced"
	done
}

@test "nohup: SIGHUP sent to xray-seg stays ignored by the command" {
	lambda_ctx
	run -0 bash -c 'nohup xray-seg exec -- sleep 1 >/dev/null 2>&1 & sleep .3; kill -HUP $!; wait $!; echo $?'
	assert_output 0
}

@test "a closed pipe on stdout: the command's status, a warning, and the subsegment kept" {
	lambda_ctx
	run -0 --separate-stderr bash -c 'xray-seg exec --name piped --transport stdout -- sh -c "exit 3" | true; echo ${PIPESTATUS[0]}'
	assert_output 3
	[[ $stderr == *"kept for 'xray-seg send'"* ]] || xs_die "stderr: $stderr"
	run -0 --separate-stderr xs send --all
	wait_docs 1
	assert_doc piped .metadata.process.exit_code 3
}

@test "the aws CLI: exec returns when it exits, not when its background processes close stderr" {
	lambda_ctx
	local t0 t1 bin=$BATS_TEST_TMPDIR/bin2
	mkdir -p "$bin"
	printf '%s\n' '#!/bin/sh' 'echo to-stderr >&2' 'sleep 3 &' 'exit 0' >"$bin/aws"
	chmod +x "$bin/aws"
	t0=$EPOCHREALTIME
	# (xs_bare: what is timed is exec, not valgrind's start)
	PATH=$bin:$PATH xs_bare exec -- aws s3 ls >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
	t1=$EPOCHREALTIME
	[[ $(<"$BATS_TEST_TMPDIR/err") == to-stderr ]] || xs_die "stderr: $(<"$BATS_TEST_TMPDIR/err")"
	float_ok "${t1/,/.} - ${t0/,/.} < 1.5"
	wait_docs 1
	assert_doc S3 .namespace aws
}

@test "a stop sent to xray-seg without a terminal stops the command and xray-seg; SIGCONT resumes both" {
	lambda_ctx
	run -0 "$XS_PYTHON" - "$XRAY_SEG" <<-'PY'
		import os, signal, subprocess, sys, time
		# (a group of its own under python's, so that it is not orphaned: the kernel
		# discards a stop of an orphaned group; one process as the command: no vfork to race with)
		p = subprocess.Popen([sys.argv[1], "exec", "--", sys.executable, "-c",
		                      "import os, time; print(os.getpid(), flush=True); time.sleep(1); raise SystemExit(4)"],
		                     stdout=subprocess.PIPE, text=True, process_group=0)
		child = int(p.stdout.readline())
		os.kill(p.pid, signal.SIGTSTP)
		_, st = os.waitpid(p.pid, os.WUNTRACED)
		assert os.WIFSTOPPED(st), "xray-seg did not stop"
		state = open("/proc/%d/stat" % child).read().rsplit(")", 1)[1].split()[0]
		assert state == "T", "the command is %s, not stopped" % state
		time.sleep(1.2)
		os.kill(p.pid, signal.SIGCONT)
		_, st = os.waitpid(p.pid, 0)
		print(os.waitstatus_to_exitcode(st))
	PY
	assert_output 4
}

@test "a tracing option that cannot be used is one warning and the command runs, traced; with --strict, exit 2 and it does not" {
	lambda_ctx
	local opt n=0
	for opt in --trace-id-from= --name= '--name=!!!' --service-version= --sample-rate= --sample-rate=x \
		--namespace= --namespace=local --transport= --transport=tcp; do
		n=$((n + 1))
		run -3 --separate-stderr xs exec "$opt" -- sh -c 'exit 3'
		assert_warning
		[[ $stderr == *"exec: "* ]] || xs_die "$opt: $stderr"
		run -2 --separate-stderr xs exec --strict "$opt" -- touch "$BATS_TEST_TMPDIR/ran"
		[[ ! -e $BATS_TEST_TMPDIR/ran ]] || xs_die "$opt --strict: the command ran"
	done
	wait_docs "$n"
	[ "$(dq '[.[] | select(.name == "sh")] | length')" = "$n" ]
	[ "$(dq '[.[].metadata.process.exit_code] | unique | join(",")')" = 3 ]
}

@test "a trace lock held elsewhere: exec starts its command at once and records it once the lock is free (issue 13)" {
	lambda_ctx
	local lock t0 t1 started outer
	outer=$(xs_ok begin outer)
	lock=$(trace_dir)/lock
	flock -x "$lock" sleep 1 3>&- &
	reap_later $!
	_nap 0.2
	t0=$EPOCHREALTIME
	# (xs_bare: what is timed is exec, not valgrind's start)
	run -0 --separate-stderr xs_bare exec --name late -- bash -c 'echo "$EPOCHREALTIME" >"$1"' bash "$BATS_TEST_TMPDIR/started"
	t1=$EPOCHREALTIME
	assert_stderr_empty
	started=$(<"$BATS_TEST_TMPDIR/started")
	[[ -n $started ]] || xs_die "the command did not run"
	float_ok "${started/,/.} - ${t0/,/.} < 0.5"
	# it waited for the lock after the command, to record it
	float_ok "${t1/,/.} - ${t0/,/.} >= 0.6"
	wait_docs 1
	assert_doc late .parent_id "$outer"
	assert_doc late "(.start_time - ${t0/,/.}) | fabs < 0.5" true
}

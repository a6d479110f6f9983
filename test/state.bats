#!/usr/bin/env bats
# state.bats - the state directory: location, creation mode, refusal of unsafe
# directories, the per-trace layout, cleanup, stale traces, and concurrency.

load test_helper
bats_require_minimum_version 1.5.0

# refused: begin/end in a recording context warn, exit 0, record nothing.
refused() {
	run -0 --separate-stderr xs begin unsafe
	assert_warning
	assert_id_output
	run -0 --separate-stderr xs end
	assert_all_warnings
	assert_no_datagrams
}

@test "the state directory is created with mode 0700" {
	lambda_ctx
	[ ! -e "$XRAY_SEG_STATE_DIR" ]
	xs begin first >/dev/null
	[ -d "$XRAY_SEG_STATE_DIR" ]
	[ "$(stat -c %a "$XRAY_SEG_STATE_DIR")" = 700 ]
	[ "$(stat -c %u "$XRAY_SEG_STATE_DIR")" = "$(id -u)" ]
	xs end
	wait_docs 1
}

@test "mode 0700 also under umask 000" {
	lambda_ctx
	umask 000
	xs begin loose-umask >/dev/null
	[ "$(stat -c %a "$XRAY_SEG_STATE_DIR")" = 700 ]
	xs end
	wait_docs 1
	umask 022
}

@test "without XRAY_SEG_STATE_DIR the state lives in \$TMPDIR/xray-seg-<uid>" {
	lambda_ctx
	unset XRAY_SEG_STATE_DIR
	xs begin default-dir >/dev/null
	dir=$TMPDIR/xray-seg-$(id -u)
	[ -d "$dir/$ROOT" ]
	[ "$(stat -c %a "$dir")" = 700 ]
	xs end
	wait_docs 1
	[ ! -e "$dir/$ROOT" ]
}

@test "layout: <root>/<id>.open and stack.<parent> while open; all removed once sent" {
	lambda_ctx
	a=$(xs begin outer)
	b=$(xs begin inner)
	t=$(trace_dir)
	[ -f "$t/$a.open" ]
	[ -f "$t/$b.open" ]
	[ -e "$t/lock" ]
	run -0 cat "$t/stack.$PARENT"
	assert_output "$a"$'\n'"$b"
	xs end
	[ ! -e "$t/$b.open" ]
	[ -f "$t/$a.open" ]
	run -0 cat "$t/stack.$PARENT"
	assert_output "$a"
	xs end
	wait_docs 2
	assert_trace_gone
}

@test "a symlinked state directory is refused and not followed" {
	lambda_ctx
	mkdir -m 700 "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$XRAY_SEG_STATE_DIR"
	refused
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/real")" ] || xs_die "the symlink was followed: $(ls -A "$BATS_TEST_TMPDIR/real")"
	[ -L "$XRAY_SEG_STATE_DIR" ]
}

@test "a state directory with group or other permissions is refused" {
	lambda_ctx
	for mode in 777 755 750 701 710 707; do
		rm -rf "$XRAY_SEG_STATE_DIR"
		mkdir "$XRAY_SEG_STATE_DIR"
		chmod "$mode" "$XRAY_SEG_STATE_DIR"
		refused
		[ -z "$(ls -A "$XRAY_SEG_STATE_DIR")" ] || xs_die "mode $mode: state written anyway: $(ls -A "$XRAY_SEG_STATE_DIR")"
	done
}

@test "a state directory this user may not enter: the system's words, not a refusal for its mode (issue 14)" {
	[ "$(id -u)" = 0 ] || skip "needs root to run the call as another user"
	lambda_ctx
	local pub bin
	# (the test's own directory is root's alone: the binary goes where nobody can run it)
	pub=$(mktemp -d /tmp/xs-pub.XXXXXX)
	bin=$pub/xray-seg
	chmod 0755 "$pub" && cp "$XRAY_SEG" "$bin" && chmod 0755 "$bin"
	mkdir -p "$BATS_TEST_TMPDIR/closed/state"
	chmod 0700 "$BATS_TEST_TMPDIR/closed/state"
	# nobody reaches the binary by a public path, and the state directory not at all
	run -0 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env XRAY_SEG_STATE_DIR="$BATS_TEST_TMPDIR/closed/state" "$bin" begin denied
	[[ $stderr == *"cannot keep state in $BATS_TEST_TMPDIR/closed/state: Permission denied; not recording"* ]] ||
		xs_die "$stderr"
	[[ $(wc -l <<<"$stderr") == 1 ]] || xs_die "more than one line: $stderr"
	rm -rf "$pub"
}

@test "a relative XRAY_SEG_STATE_DIR: exec's command finds the same state after a cd (issue 14)" {
	lambda_ctx
	mkdir -p "$BATS_TEST_TMPDIR/work/sub"
	cd "$BATS_TEST_TMPDIR/work"
	export XRAY_SEG_STATE_DIR=rel-state
	run -0 --separate-stderr xs exec --name outer -- sh -c \
		'cd sub && xray-seg begin inner >/dev/null && xray-seg end && printf %s "$XRAY_SEG_STATE_DIR"'
	assert_stderr_empty
	assert_output "$BATS_TEST_TMPDIR/work/rel-state"
	wait_docs 2
	assert_doc inner .parent_id "$(dget outer .id)"
	[[ ! -e sub/rel-state ]] || xs_die "the state was split into sub/rel-state"
}

@test "a state path that is not a directory is refused and left alone" {
	lambda_ctx
	printf 'precious\n' >"$XRAY_SEG_STATE_DIR"
	refused
	[ -f "$XRAY_SEG_STATE_DIR" ]
	[ "$(cat "$XRAY_SEG_STATE_DIR")" = precious ]
}

@test "a state directory owned by another user is refused" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a directory owned by someone else"
	lambda_ctx
	mkdir -m 700 "$XRAY_SEG_STATE_DIR"
	chown 65534:65534 "$XRAY_SEG_STATE_DIR"
	refused
	[ -z "$(ls -A "$XRAY_SEG_STATE_DIR")" ]
	# the warning names the owner and the way out (issue 16)
	run -0 --separate-stderr xs begin squatted
	[[ $stderr == *"state directory $XRAY_SEG_STATE_DIR is owned by another user (uid 65534); not recording (set XRAY_SEG_STATE_DIR to a directory of your own)"* ]] ||
		xs_die "$stderr"
}

@test "exec still runs its command when the state directory is refused" {
	lambda_ctx
	mkdir -m 777 "$XRAY_SEG_STATE_DIR"
	run -4 --separate-stderr xs exec -- sh -c 'echo child; exit 4'
	assert_output child
	assert_all_warnings
	assert_no_datagrams
}

@test "stale traces: open work goes after 15 min with a warning, kept documents after a day" {
	lambda_ctx
	mkdir -m 700 "$XRAY_SEG_STATE_DIR"
	printf -v stale_open '1-%08x-%s' $((EPOCHSECONDS - 3600)) "$(hex 24)"
	printf -v kept '1-%08x-%s' $((EPOCHSECONDS - 3600)) "$(hex 24)"
	printf -v stale_kept '1-%08x-%s' $((EPOCHSECONDS - 90000)) "$(hex 24)"
	printf -v fresh '1-%08x-%s' $((EPOCHSECONDS - 300)) "$(hex 24)"
	old=$(hex 16)
	for r in "$stale_open" "$kept" "$stale_kept" "$fresh"; do
		mkdir -m 700 "$XRAY_SEG_STATE_DIR/$r"
		: >"$XRAY_SEG_STATE_DIR/$r/lock"
		printf '{"id":"%s","name":"old","trace_id":"%s","parent_id":"%s","type":"subsegment","start_time":1,"end_time":2}' \
			"$old" "$r" "$(hex 16)" >"$XRAY_SEG_STATE_DIR/$r/$old.done"
	done
	mv "$XRAY_SEG_STATE_DIR/$stale_open/$old.done" "$XRAY_SEG_STATE_DIR/$stale_open/$old.open"
	age_tree "$XRAY_SEG_STATE_DIR/$stale_open" '20 minutes ago'
	age_tree "$XRAY_SEG_STATE_DIR/$kept" '20 minutes ago'
	age_tree "$XRAY_SEG_STATE_DIR/$stale_kept" '25 hours ago'
	age_tree "$XRAY_SEG_STATE_DIR/$fresh" '5 minutes ago'

	run -0 --separate-stderr xs begin cleaner
	[ "$(printf '%s\n' "$stderr" | grep -c 'xray-seg: warning: ')" -eq 2 ]
	[[ $stderr == *"removing stale state of trace $stale_open (1 open subsegment)"* ]]
	[[ $stderr == *"dropping 1 undelivered document of trace $stale_kept, kept for over a day"* ]]
	[ ! -e "$XRAY_SEG_STATE_DIR/$stale_open" ]
	[ ! -e "$XRAY_SEG_STATE_DIR/$stale_kept" ]
	[ -f "$XRAY_SEG_STATE_DIR/$kept/$old.done" ]
	[ -f "$XRAY_SEG_STATE_DIR/$fresh/$old.done" ]
	run -0 --separate-stderr xs end
	assert_stderr_empty
	wait_docs 1 # the dropped documents are not sent
	doc cleaner >/dev/null
}

@test "a stale directory without documents goes away silently" {
	lambda_ctx
	mkdir -m 700 "$XRAY_SEG_STATE_DIR"
	printf -v stale '1-%08x-%s' $((EPOCHSECONDS - 3600)) "$(hex 24)"
	mkdir -m 700 "$XRAY_SEG_STATE_DIR/$stale"
	: >"$XRAY_SEG_STATE_DIR/$stale/lock"
	age_tree "$XRAY_SEG_STATE_DIR/$stale" '30 minutes ago'
	run -0 --separate-stderr xs begin quiet-clean
	assert_stderr_empty
	[ ! -e "$XRAY_SEG_STATE_DIR/$stale" ]
	xs end
	wait_docs 1
}

@test "not recording writes no state at all" {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=0"
	xs begin x >/dev/null
	xs annotate k v
	xs end
	xs exec -- true
	[ ! -e "$XRAY_SEG_STATE_DIR" ] || assert_no_state
	assert_no_datagrams
}

@test "concurrency: 20 parallel exec jobs x 5 nested subsegments, each received once with the right parent" {
	lambda_ctx
	pids=()
	for j in $(seq 20); do
		xray-seg exec --name "job$j" -- bash -c '
			j=$1
			xray-seg begin "job$j.s1" >/dev/null
			for k in 2 3 4 5; do
				id=$(xray-seg begin "job$j.s$k")
				xray-seg end "$id"
			done
			xray-seg end' _ "$j" 2>>"$BATS_TEST_TMPDIR/jobs.err" 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}" # not a bare wait: bats' timeout watchdog is a child too
	[ ! -s "$BATS_TEST_TMPDIR/jobs.err" ] || xs_die "jobs wrote to stderr: $(head -5 "$BATS_TEST_TMPDIR/jobs.err")"
	wait_docs 120
	[ "$(dq 'map(.id) | unique | length')" = 120 ]
	[ "$(dq 'map(.name) | unique | length')" = 120 ]
	bad=$(dq --arg p "$PARENT" '
		(map({key: .name, value: .id}) | from_entries) as $id
		| .[]
		| (.name | capture("^job(?<j>[0-9]+)(\\.s(?<k>[0-9]))?$")) as $m
		| (if $m.k == null then $p
		   elif $m.k == "1" then $id["job" + $m.j]
		   else $id["job" + $m.j + ".s1"] end) as $want
		| select(.parent_id != $want or .trace_id != "'"$ROOT"'")
		| "\(.name): parent \(.parent_id), expected \($want)"')
	[[ -z $bad ]] || xs_die "wrong parents:
$bad"
	assert_trace_gone
}

@test "concurrency: 20 parallel jobs x 5 flat subsegments with --parent, each received once" {
	lambda_ctx
	batch=$(xs begin batch)
	pids=()
	for j in $(seq 20); do
		(
			for k in 1 2 3 4 5; do
				id=$(xray-seg begin --parent "$batch" "flat$j.$k")
				xray-seg end "$id"
			done
		) 2>>"$BATS_TEST_TMPDIR/jobs.err" 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ ! -s "$BATS_TEST_TMPDIR/jobs.err" ] || xs_die "jobs wrote to stderr: $(head -5 "$BATS_TEST_TMPDIR/jobs.err")"
	assert_datagrams 100
	run -0 --separate-stderr xs end "$batch"
	assert_stderr_empty
	wait_docs 101
	[ "$(dq 'map(.id) | unique | length')" = 101 ]
	[ "$(dq 'map(.name) | unique | length')" = 101 ]
	[ "$(dq --arg b "$batch" 'map(select(.name != "batch" and .parent_id != $b)) | length')" = 0 ]
	assert_doc batch .parent_id "$PARENT"
	assert_trace_gone
}

@test "status lists what is open and kept, a line each; --all every trace; it changes nothing (issue 14)" {
	lambda_ctx
	local outer inner mine=$ROOT
	outer=$(xs_ok begin outer)
	inner=$(xs_ok begin 'inner step')
	# a finished document the daemon did not take: kept
	AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:1 xs end 2>/dev/null
	# (the lock file is bookkeeping: every call that takes the lock writes its pid there)
	before=$(cd "$XRAY_SEG_STATE_DIR" && find . ! -name lock -printf '%p %s %T@\n' | sort)
	run -0 --separate-stderr xs status
	assert_stderr_empty
	[ "${#lines[@]}" = 2 ] || xs_die "expected 2 lines: $output"
	[[ $output =~ (^|$'\n')"$mine $outer open "[0-9]+\.[0-9]s" outer"($'\n'|$) ]] || xs_die "$output"
	[[ $output =~ (^|$'\n')"$mine $inner kept "[0-9]+\.[0-9]s" inner step"($'\n'|$) ]] || xs_die "$output"
	[ "$(cd "$XRAY_SEG_STATE_DIR" && find . ! -name lock -printf '%p %s %T@\n' | sort)" = "$before" ] ||
		xs_die "status changed the state"
	# another trace: status shows only the current one, --all both
	lambda_ctx
	xs_ok begin other >/dev/null
	run -0 --separate-stderr xs status
	[[ $output == "$ROOT "*" open "*" other" ]] || xs_die "$output"
	unset _X_AMZN_TRACE_ID
	run -0 --separate-stderr xs status --all
	assert_stderr_empty
	[ "${#lines[@]}" = 3 ] || xs_die "expected 3 lines: $output"
	run -2 --separate-stderr xs status extra
	assert_usage_error
}

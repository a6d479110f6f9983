#!/usr/bin/env bats
# context.bats - the trace context: recording, not recording (Sampled=0/?/absent,
# pass-through), missing or invalid under LOG_ERROR / RUNTIME_ERROR /
# IGNORE_ERROR, path tricks in Root, AWS_XRAY_SDK_ENABLED.

load test_helper
bats_require_minimum_version 1.5.0

# These are Lambda's rules: outside Lambda, exec without a context starts a
# trace of its own (root.bats).
setup() {
	xs_setup
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-test
}

# silent_everywhere: every command exits 0 (exec: the child's status) and is
# silent; begin prints a fresh id each time; nothing sent, no state written.
silent_everywhere() {
	local args first
	run -0 --separate-stderr xs begin work
	assert_stderr_empty
	assert_id_output
	first=$output
	run -0 --separate-stderr xs begin work
	assert_id_output
	[[ $output != "$first" ]] || xs_die "begin printed the same id twice: $output"
	for args in "end" "end $first" "end --error --http-status 500 --exit-code 3 --cause x" \
		"annotate k v" "annotate --number n 1" "metadata k {}" "metadata --namespace ns k []" "send"; do
		# shellcheck disable=SC2086
		run --separate-stderr xs $args
		((status == 0)) || xs_die "xray-seg $args: exit $status, expected 0"
		assert_stderr_empty
		assert_output ''
	done
	run -3 --separate-stderr xs exec --name child -- sh -c 'exit 3'
	assert_stderr_empty
	assert_no_datagrams
	assert_no_state
}

# warns_everywhere STATUS: every command prints one warning line and exits
# STATUS (exec: warns, runs the child, exits with its status); begin still
# prints an id, header prints nothing; nothing sent, no state written.
warns_everywhere() {
	local want=$1 args
	run --separate-stderr xs begin work
	((status == want)) || xs_die "begin: exit $status, expected $want"
	assert_warning
	assert_id_output
	for args in "end" "annotate k v" "metadata k {}" "send" "header"; do
		# shellcheck disable=SC2086
		run --separate-stderr xs $args
		((status == want)) || xs_die "xray-seg $args: exit $status, expected $want"
		assert_warning
		assert_output ''
	done
	run -3 --separate-stderr xs exec -- sh -c 'echo ran; exit 3'
	assert_warning
	assert_output ran
	assert_no_datagrams
	assert_no_state
}

# quiet_everywhere: IGNORE_ERROR: like warns_everywhere 0, but without any warning.
quiet_everywhere() {
	local args
	run -0 --separate-stderr xs begin work
	assert_stderr_empty
	assert_id_output
	for args in "end" "annotate k v" "metadata k {}" "send" "header"; do
		# shellcheck disable=SC2086
		run --separate-stderr xs $args
		((status == 0)) || xs_die "xray-seg $args: exit $status, expected 0"
		assert_stderr_empty
		assert_output ''
	done
	run -3 --separate-stderr xs exec -- sh -c 'echo ran; exit 3'
	assert_stderr_empty
	assert_output ran
	assert_no_datagrams
	assert_no_state
}

@test "recording context: Root, Parent and Sampled=1" {
	lambda_ctx
	xs begin rec >/dev/null
	xs end
	wait_docs 1
	assert_doc rec '[.trace_id, .parent_id]' "[\"$ROOT\",\"$PARENT\"]"
}

@test "Sampled=0: every command is silent, nothing sent, no state" {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=0"
	silent_everywhere
}

@test "Sampled=? and Sampled absent: not recording" {
	use_sink
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=?"
	silent_everywhere
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT"
	silent_everywhere
}

@test "pass-through (no Parent): Root only, Root+Lineage, Root+Sampled=1 record nothing" {
	use_sink
	new_ids
	for h in "Root=$ROOT" "Root=$ROOT;Lineage=2:c3e4b99a:0" "Root=$ROOT;Sampled=1"; do
		export _X_AMZN_TRACE_ID=$h
		silent_everywhere
	done
}

@test "missing context, default LOG_ERROR: one warning per command, exit 0" {
	use_sink
	warns_everywhere 0
}

@test "empty _X_AMZN_TRACE_ID is missing too; unknown AWS_XRAY_CONTEXT_MISSING means LOG_ERROR" {
	use_sink
	export _X_AMZN_TRACE_ID=
	warns_everywhere 0
	export AWS_XRAY_CONTEXT_MISSING=BOGUS
	warns_everywhere 0
	export AWS_XRAY_CONTEXT_MISSING=LOG_ERROR
	warns_everywhere 0
}

@test "RUNTIME_ERROR: the same warning line, exit 1; exec still runs the child and passes its status" {
	use_sink
	for args in "begin work" "end" "annotate k v" "metadata k {}" "send" "header" "exec -- true"; do
		# shellcheck disable=SC2086
		run --separate-stderr xs $args
		logline=$stderr
		# shellcheck disable=SC2086
		AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR run --separate-stderr xs $args
		[ "$stderr" = "$logline" ] ||
			xs_die "xray-seg $args: RUNTIME_ERROR prints '$stderr', LOG_ERROR prints '$logline' (should be the same line)"
	done
	export AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR
	warns_everywhere 1
}

@test "IGNORE_ERROR: silent, exit 0" {
	use_sink
	export AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR
	quiet_everywhere
}

@test "invalid headers are treated like a missing context" {
	use_sink
	new_ids
	local -a bad=(
		"Root=1-abc-def;Parent=$PARENT;Sampled=1"
		"Root=2-${ROOT:2};Parent=$PARENT;Sampled=1"
		"Root=1-1234567-${ROOT:11};Parent=$PARENT;Sampled=1"
		"Root=${ROOT:0:34};Parent=$PARENT;Sampled=1"
		"Root=${ROOT}0;Parent=$PARENT;Sampled=1"
		"Root=${ROOT:0:10}_${ROOT:11};Parent=$PARENT;Sampled=1"
		"Root=$ROOT;Parent=xyz;Sampled=1"
		"Root=$ROOT;Parent=${PARENT:0:15};Sampled=1"
		"Root=$ROOT;Parent=${PARENT}0;Sampled=1"
		"Root=$ROOT;Parent=$PARENT;Sampled=2"
		"Root=$ROOT;Parent=$PARENT;Sampled=yes"
		"Root=;Parent=$PARENT;Sampled=1"
		"Parent=$PARENT;Sampled=1"
	)
	for h in "${bad[@]}"; do
		export _X_AMZN_TRACE_ID=$h
		run -0 --separate-stderr xs begin work
		assert_warning
		assert_id_output
		run -0 --separate-stderr xs header
		assert_warning
		assert_output ''
		AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR run -1 --separate-stderr xs end
		assert_one_line_stderr 'xray-seg: ' 
	done
	assert_no_datagrams
	assert_no_state
}

@test "path tricks in Root never create or touch anything outside the state directory" {
	use_sink
	new_ids
	mkdir -p "$BATS_TEST_TMPDIR/victim"
	local -a bad=(
		"Root=../../victim/pwned1;Parent=$PARENT;Sampled=1"
		"Root=1-../../../victim/pwned2;Parent=$PARENT;Sampled=1"
		"Root=1-12345678-../../victim/pwned3xxxxx;Parent=$PARENT;Sampled=1"
		"Root=${ROOT}/../../victim/pwned4;Parent=$PARENT;Sampled=1"
		"Root=/tmp/pwned5;Parent=$PARENT;Sampled=1"
		"Root=..;Parent=$PARENT;Sampled=1"
		"Root=.;Parent=$PARENT;Sampled=1"
	)
	for h in "${bad[@]}"; do
		export _X_AMZN_TRACE_ID=$h
		run -0 --separate-stderr xs begin work
		assert_warning
		run -0 --separate-stderr xs exec -- true
		assert_warning
		run -0 --separate-stderr xs end
		assert_warning
	done
	found=$({ find "$BATS_TEST_TMPDIR" -name 'pwned*'; find /tmp -maxdepth 1 -name 'pwned*'; } 2>/dev/null)
	[[ -z $found ]] || xs_die "a path from Root was created: $found"
	[[ -z $(ls -A "$BATS_TEST_TMPDIR/victim") ]] || xs_die "victim directory was written to"
	assert_no_datagrams
	assert_no_state
}

@test "AWS_XRAY_SDK_ENABLED=false makes every command a silent no-op" {
	lambda_ctx 'Lineage=a:1'
	export AWS_XRAY_SDK_ENABLED=false
	silent_everywhere
	run -0 --separate-stderr xs header
	assert_stderr_empty
	assert_output "$_X_AMZN_TRACE_ID"
	run -0 --separate-stderr xs exec -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	assert_output "$_X_AMZN_TRACE_ID"
}

@test "AWS_XRAY_SDK_ENABLED: n, no, f, off, 0 and any case of them disable too" {
	lambda_ctx
	for v in FALSE False n N no NO f F off Off OFF 0; do
		export AWS_XRAY_SDK_ENABLED=$v
		run -0 --separate-stderr xs begin "off-$v"
		assert_stderr_empty
		assert_id_output
		run -0 --separate-stderr xs end
		assert_stderr_empty
		run -0 --separate-stderr xs header
		assert_output "$_X_AMZN_TRACE_ID"
	done
	assert_no_datagrams
	assert_no_state
}

@test "AWS_XRAY_SDK_ENABLED=false without a context: no warning, header prints nothing" {
	use_sink
	export AWS_XRAY_SDK_ENABLED=false AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR
	quiet_everywhere
}

@test "AWS_XRAY_SDK_ENABLED=true / yes / 1 / on keep recording" {
	lambda_ctx
	for v in true TRUE yes 1 on; do
		export AWS_XRAY_SDK_ENABLED=$v
		xs begin "on-$v" >/dev/null
		xs end
	done
	wait_docs 5
	for v in true TRUE yes 1 on; do
		assert_doc "on-$v" .parent_id "$PARENT"
	done
}

#!/usr/bin/env bats
# header.bats - header: Root;Parent;Sampled=1 plus the other incoming keys in
# their order (Self dropped), no spaces, no trailing ';', one line on stdout;
# passed through unchanged when not recording.

load test_helper
bats_require_minimum_version 1.5.0

# header_is EXPECTED: `xray-seg header` prints exactly EXPECTED and a newline.
header_is() {
	xs header >"$BATS_TEST_TMPDIR/header.out" 2>"$BATS_TEST_TMPDIR/header.err" ||
		xs_die "header: exit $?: $(cat "$BATS_TEST_TMPDIR/header.err")"
	[[ ! -s $BATS_TEST_TMPDIR/header.err ]] || xs_die "header wrote to stderr: $(cat "$BATS_TEST_TMPDIR/header.err")"
	local want got
	want=$(printf '%s\n' "$1" | od -An -c)
	got=$(od -An -c <"$BATS_TEST_TMPDIR/header.out")
	[[ $got == "$want" ]] || xs_die "header printed:
$(cat "$BATS_TEST_TMPDIR/header.out")
expected:
$1"
}

@test "with nothing open: the context's Root and Parent, Sampled=1" {
	lambda_ctx
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1"
	assert_no_datagrams
}

@test "with subsegments open: Parent is the innermost one" {
	lambda_ctx
	a=$(xs begin outer)
	header_is "Root=$ROOT;Parent=$a;Sampled=1"
	b=$(xs begin inner)
	header_is "Root=$ROOT;Parent=$b;Sampled=1"
	xs end
	header_is "Root=$ROOT;Parent=$a;Sampled=1"
	xs end
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1"
	wait_docs 2
}

@test "Lineage and other keys are kept verbatim, in order, after Root;Parent;Sampled" {
	lambda_ctx
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;Foo=bar=baz;Bar="
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;Foo=bar=baz;Bar="
}

@test "keys before and between the standard ones keep their relative order" {
	lambda_ctx
	export _X_AMZN_TRACE_ID="First=1;Root=$ROOT;Lineage=2:c3e4b99a:0;Parent=$PARENT;Middle=m;Sampled=1;Last=z"
	a=$(xs begin open)
	header_is "Root=$ROOT;Parent=$a;Sampled=1;First=1;Lineage=2:c3e4b99a:0;Middle=m;Last=z"
	xs end
	wait_docs 1
	assert_doc open .parent_id "$PARENT"
}

@test "Self is dropped wherever it appears" {
	lambda_ctx
	export _X_AMZN_TRACE_ID="Self=1-67891234-12456789abcdef012345678;Root=$ROOT;Parent=$PARENT;Sampled=1;Self=again;Lineage=l:1"
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=l:1"
}

@test "whitespace around fields is trimmed, fields without '=' and empty fields are skipped" {
	lambda_ctx
	export _X_AMZN_TRACE_ID=" Root=$ROOT ;  Parent=$PARENT;junk; Sampled=1 ;;Lineage=x:1 ; "
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=x:1"
	xs begin trimmed >/dev/null
	xs end
	wait_docs 1
	assert_doc trimmed .parent_id "$PARENT"
	assert_doc trimmed .trace_id "$ROOT"
}

@test "a trailing ';' in the incoming header is not reproduced" {
	lambda_ctx
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1;"
	header_is "Root=$ROOT;Parent=$PARENT;Sampled=1"
}

@test "inside exec, header names the exec subsegment and keeps the extra keys" {
	lambda_ctx 'Lineage=a:1'
	run -0 --separate-stderr xs exec --name wrapper -- xray-seg header
	assert_stderr_empty
	wait_docs 1
	assert_output "Root=$ROOT;Parent=$(dget wrapper .id);Sampled=1;Lineage=a:1"
}

@test "not recording: the incoming header is printed unchanged" {
	use_sink
	new_ids
	for h in "Root=$ROOT;Parent=$PARENT;Sampled=0" \
		"Root=$ROOT;Sampled=1;Lineage=a:1" \
		"Root=$ROOT" \
		" Root=$ROOT ;Parent=$PARENT; Sampled=0;Self=x;" \
		"Root=$ROOT;Parent=$PARENT;Sampled=?" \
		"Root=$ROOT;Parent=$PARENT"; do
		export _X_AMZN_TRACE_ID=$h
		header_is "$h"
	done
	assert_no_datagrams
	assert_no_state
}

@test "header writes nothing, sends nothing, takes no operands" {
	lambda_ctx
	run -0 --separate-stderr xs header
	assert_stderr_empty
	assert_no_datagrams
	assert_no_state
	run -2 --separate-stderr xs header extra
	assert_usage_error
}

#!/usr/bin/env bats
# limits.bats - names and values X-Ray would not take as given: cleaned with one
# warning each by default, refused (exit 2, nothing recorded) with --strict or
# XRAY_SEG_STRICT; the 50 annotation keys of a trace, kept across its
# subsegments until the trace is over.

load test_helper
bats_require_minimum_version 1.5.0

# expect_warning ARGS...: `xray-seg ARGS` exits 0 with exactly one warning line.
expect_warning() {
	run -0 --separate-stderr xs "$@"
	assert_warning
}

# keys_of ROOT: the trace's set of annotation keys, sorted, one line.
keys_of() { sort "$XRAY_SEG_STATE_DIR/$1/set.annotations" | tr '\n' ' '; }

@test "names: cleaned with one warning; --strict and XRAY_SEG_STRICT=1 refuse them: exit 2, nothing recorded, the command not run" {
	lambda_ctx
	expect_warning begin $'bad\xffname!'
	id=$output
	[[ $stderr == *"name changed to 'badname'"* ]] || xs_die "the warning does not give the new name: $stderr"
	xs_quiet end "$id"
	expect_usage begin --strict 'bad!name'
	[[ $stderr == *"(as X-Ray takes it: 'badname')"* ]] || xs_die "the refusal does not show the name: $stderr"
	expect_usage begin --strict "$(repeat 201 n)"
	XRAY_SEG_STRICT=1 expect_usage begin 'bad!name'
	expect_usage exec --strict --name 'a!b' -- touch "$BATS_TEST_TMPDIR/ran"
	[[ ! -e $BATS_TEST_TMPDIR/ran ]] || xs_die "exec --strict ran its command after refusing the name"
	# --strict after --name still refuses it.
	expect_usage exec --name 'a!b' --strict -- true
	# A name exec makes up from its command is not the caller's: cleaned quietly.
	mkdir "$BATS_TEST_TMPDIR/bin2"
	printf '#!/bin/sh\nexit 3\n' >"$BATS_TEST_TMPDIR/bin2/we!rd"
	chmod +x "$BATS_TEST_TMPDIR/bin2/we!rd"
	run -3 --separate-stderr xs exec --strict -- "$BATS_TEST_TMPDIR/bin2/we!rd"
	assert_stderr_empty
	expect_usage exec --strict --name '!!!' -- true
	wait_docs 2
	assert_doc badname .id "$id"
	assert_doc werd .metadata.process.exit_code 3
}

@test "annotation values: bad UTF-8 becomes U+FFFD, an overlong value is cut, one warning each; --strict refuses both and adds nothing" {
	lambda_ctx
	xs begin vals >/dev/null
	expect_warning annotate bytes $'a\xffb'
	[[ $stderr == *"value of 'bytes' is not valid UTF-8"* ]] || xs_die "unexpected warning: $stderr"
	expect_warning annotate long "$(repeat 1001 v)"
	[[ $stderr == *"value of 'long' is over 1000 characters; cut"* ]] || xs_die "unexpected warning: $stderr"
	expect_usage annotate --strict sbytes $'a\xffb'
	[[ $stderr == *"value of 'sbytes' is not valid UTF-8 (see 'xray-seg help annotate')" ]] ||
		xs_die "unexpected refusal: $stderr"
	expect_usage annotate --strict slong "$(repeat 1001 v)"
	XRAY_SEG_STRICT=1 expect_usage annotate elong "$(repeat 1001 v)"
	# What X-Ray takes as it is passes --strict untouched.
	xs_quiet annotate --strict exact "$(repeat 1000 v)"
	xs_quiet end
	wait_docs 1
	assert_doc vals .annotations.bytes $'a\xef\xbf\xbdb'
	assert_doc vals '.annotations.long | length' 1000
	assert_doc vals '.annotations.exact | length' 1000
	assert_doc vals '.annotations | keys | join(" ")' 'bytes exact long'
}

@test "XRAY_SEG_STRICT: 1, true, yes and on in any case are strict; 0, false, off, other words and empty are not" {
	lambda_ctx
	xs begin env >/dev/null
	for v in 1 true TRUE yes Yes on ON; do
		XRAY_SEG_STRICT=$v expect_usage annotate "k_$v" $'\xfe'
	done
	for v in 0 false off no '' 2 strict; do
		XRAY_SEG_STRICT=$v expect_warning annotate "k_${v:-empty}" $'\xfe'
	done
	xs_quiet end
	wait_docs 1
	assert_doc env '.annotations | keys | join(" ")' 'k_0 k_2 k_empty k_false k_no k_off k_strict'
}

@test "--strict keeps control characters, quotes and backslashes: JSON escapes them, nothing is refused" {
	lambda_ctx
	xs begin --strict 'ctl' >/dev/null
	xs_quiet annotate --strict k $'a\tb\x01c"d\\e'
	xs_quiet metadata --strict $'m\x02' '"x"'
	xs_quiet exception --strict --type $'T\x03' $'first\nsecond'
	xs_quiet end --strict --cause $'tab\there'
	wait_docs 1
	assert_doc ctl .annotations.k $'a\tb\x01c"d\\e'
	assert_doc ctl ".metadata.default[\"m\\u0002\"]" x
	assert_doc ctl '.cause.exceptions | map(.message) | join("|")' $'first\nsecond|tab\there'
}

@test "metadata: a key or namespace that is not UTF-8 is cleaned with a warning, refused with --strict; --strict refuses an entry that would not fit" {
	lambda_ctx
	xs begin meta >/dev/null
	expect_warning metadata $'k\xff' 1
	[[ $stderr == *"KEY is not valid UTF-8"* ]] || xs_die "unexpected warning: $stderr"
	expect_warning metadata --namespace $'n\xff' k 2
	expect_usage metadata --strict $'s\xff' 1
	expect_usage metadata --strict --namespace $'n\xff' s 2
	xs_quiet metadata --strict fits "\"$(repeat 60000 f)\""
	expect_usage metadata --strict big "\"$(repeat 10000 b)\""
	[[ $stderr == *"with 'big', subsegment "*" would be over 64482 bytes; not added"* ]] ||
		xs_die "unexpected refusal: $stderr"
	xs_quiet end
	wait_docs 1
	assert_doc meta ".metadata.default[\"k\\ufffd\"]" 1
	assert_doc meta ".metadata[\"n\\ufffd\"].k" 2
	assert_doc meta '.metadata.default | has("big")' false
	assert_doc meta '.metadata.default.fits | length' 60000
}

@test "metadata without --strict: the entry is kept and the document cut to fit when it is sent, with a warning" {
	lambda_ctx
	xs begin meta >/dev/null
	xs_quiet metadata fits "\"$(repeat 60000 f)\""
	xs_quiet metadata big "\"$(repeat 10000 b)\""
	expect_warning end
	[[ $stderr == *"over 64482 bytes"* ]] || xs_die "unexpected warning: $stderr"
	wait_docs 1
	assert_doc meta '.metadata.default.fits.truncated' true
}

@test "causes: bad UTF-8 in end --cause or an exception is cleaned with a warning, refused with --strict; a cause that would not fit leaves the subsegment open" {
	lambda_ctx
	xs begin outer >/dev/null
	xs begin inner >/dev/null
	expect_usage exception --strict $'m\xff'
	expect_usage exception --strict --type $'t\xff' m
	expect_usage exception --strict --frame $'a\xff.sh:1:f' m
	expect_usage exception --strict --frame $'a.sh:1:f\xff' m
	expect_warning exception $'m\xff'
	expect_usage end --strict --cause $'c\xff'
	xs_quiet metadata fits "\"$(repeat 60000 f)\""
	expect_usage end --strict --cause "$(repeat 10000 c)"
	[[ $stderr == *"with its cause, subsegment "*" would be over 64482 bytes; not ended"* ]] ||
		xs_die "unexpected refusal: $stderr"
	assert_no_datagrams
	expect_usage exception --strict "$(repeat 10000 e)"
	# Refused, inner is still open and innermost: a plain end ends it.
	expect_warning end --cause $'c\xff'
	xs_quiet end
	wait_docs 2
	assert_doc inner '.cause.exceptions | map(.message) | join("|")' $'m\xef\xbf\xbd|c\xef\xbf\xbd'
	assert_doc inner .parent_id "$(dget outer .id)"
}

@test "the 50 annotation keys of a trace count ColdStart and outlive each subsegment; --strict refuses the 51st with exit 2" {
	lambda_ctx
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-limits
	xs begin first >/dev/null
	for n in $(seq 49); do xs_quiet annotate "k$n" x; done
	xs_quiet end
	[[ -f $XRAY_SEG_STATE_DIR/$ROOT/set.annotations ]] || xs_die "the trace's keys were forgotten with its last subsegment"
	[ "$(grep -c . "$XRAY_SEG_STATE_DIR/$ROOT/set.annotations")" = 50 ]
	xs begin second >/dev/null
	expect_usage annotate --strict k50 x
	[[ $stderr == *"annotation key 'k50' would be one more than the 50 X-Ray indexes in trace $ROOT"* ]] ||
		xs_die "unexpected refusal: $stderr"
	expect_warning annotate k50 x
	xs_quiet annotate --strict k1 again
	xs_quiet annotate --strict ColdStart again
	xs_quiet end
	wait_docs 2
	assert_doc first '.annotations | length' 50
	assert_doc first .annotations.ColdStart true
	assert_doc_json second .annotations '{"k1":"again","ColdStart":"again"}'
}

@test "a subsegment takes 50 annotations: --strict refuses the 51st with exit 2, without it one warning" {
	lambda_ctx
	xs begin full >/dev/null
	for n in $(seq 50); do xs_quiet annotate "a$n" "$n"; done
	expect_usage annotate --strict a51 51
	[[ $stderr == *"annotation 'a51' would be one more than the 50 X-Ray indexes in subsegment"* ]] ||
		xs_die "unexpected refusal: $stderr"
	expect_warning annotate a52 52
	xs_quiet end
	wait_docs 1
	assert_doc full '.annotations | length' 50
}

@test "Lambda: a new trace removes finished traces at once; one with open work stays" {
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-limits
	lambda_ctx
	done_root=$ROOT
	xs begin done >/dev/null
	xs_quiet annotate k v
	xs_quiet end
	[ "$(keys_of "$done_root")" = 'ColdStart k ' ] || xs_die "the finished trace's keys went before the trace"
	lambda_ctx
	open_root=$ROOT
	xs begin open >/dev/null
	[[ ! -e $XRAY_SEG_STATE_DIR/$done_root ]] || xs_die "the finished trace was kept: $(ls -A "$XRAY_SEG_STATE_DIR/$done_root")"
	lambda_ctx
	xs begin next >/dev/null
	[[ -f $XRAY_SEG_STATE_DIR/$open_root/lock ]] || xs_die "a trace with an open subsegment was removed"
	wait_docs 1
}

@test "outside Lambda: a finished trace's keys stay until it is untouched for 15 minutes; a trace started here forgets them when its segment ends" {
	lambda_ctx
	old_root=$ROOT
	xs begin done >/dev/null
	xs_quiet annotate k v
	xs_quiet end
	lambda_ctx
	xs begin other >/dev/null
	xs_quiet end
	[ "$(keys_of "$old_root")" = 'k ' ] || xs_die "the finished trace's keys went before it was stale"
	age_tree "$XRAY_SEG_STATE_DIR/$old_root" '16 minutes ago'
	lambda_ctx
	xs begin third >/dev/null
	xs_quiet end
	[[ ! -e $XRAY_SEG_STATE_DIR/$old_root ]] || xs_die "a stale finished trace was kept"
	wait_docs 3
	# A trace started here (its segment has a host annotation) is over at its end;
	# root.bats checks the segment itself.
	unset _X_AMZN_TRACE_ID
	run -0 --separate-stderr xs exec -- xray-seg annotate inner v
	assert_stderr_empty
	assert_no_state
}

@test "a last line of the key set cut short by a killed call is dropped, and the set goes on" {
	lambda_ctx
	xs begin cut >/dev/null
	xs_quiet annotate k1 v
	printf 'half' >>"$XRAY_SEG_STATE_DIR/$ROOT/set.annotations"
	xs_quiet annotate k2 v
	xs_quiet annotate k1 w
	xs_quiet end
	[ "$(cat "$XRAY_SEG_STATE_DIR/$ROOT/set.annotations")" = $'k1\nk2' ]
	wait_docs 1
	assert_doc_json cut .annotations '{"k1":"w","k2":"v"}'
}

@test "--service-version that is not UTF-8: cleaned with a warning, refused with --strict before anything runs" {
	use_sink
	unset _X_AMZN_TRACE_ID
	run -0 --separate-stderr xs exec --service-version $'v\xff' --transport stdout -- true
	assert_warning
	[[ $stderr == *"--service-version is not valid UTF-8"* ]] || xs_die "unexpected warning: $stderr"
	[ "$(jq -r .service.version <<<"$output")" = $'v\xef\xbf\xbd' ]
	expect_usage exec --strict --service-version $'v\xff' -- touch "$BATS_TEST_TMPDIR/ran"
	[[ ! -e $BATS_TEST_TMPDIR/ran ]] || xs_die "exec --strict ran its command"
	expect_usage begin --export --strict --service-version $'v\xff' job
	assert_no_state
}

@test "a Service annotation from an overlong, invalid POWERTOOLS_SERVICE_NAME is made valid and cut to 1000 characters" {
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-limits
	lambda_ctx
	export POWERTOOLS_SERVICE_NAME=$'bad\xff'"$(repeat 2000 s)"
	xs_ok begin first >/dev/null
	xs_quiet end
	wait_docs 1
	assert_doc first '.annotations.Service | length' 1000
	assert_doc first '.annotations.Service | startswith("bad\ufffdsss")' true
}

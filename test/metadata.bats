#!/usr/bin/env bats
# metadata.bats - metadata: any JSON value under a namespace (default
# "default"), strict JSON parsing, the AWS. namespace, keys, targeting, merging.

load test_helper
bats_require_minimum_version 1.5.0

@test "every kind of JSON value is stored as given under the default namespace" {
	lambda_ctx
	xs begin meta >/dev/null
	# (bare numbers and booleans have their own test below)
	values=('"text"' null '[]' '{}' '[42,-1.5e3,0,true,false]' '[1,"a",{"b":null},[true]]'
		'{"k":{"n":[1,2,3]},"s":"é\"\\\n","u":"\u00e9"}')
	for n in "${!values[@]}"; do
		xs_quiet metadata "v$n" "${values[n]}"
	done
	assert_no_datagrams
	xs end
	wait_docs 1
	for n in "${!values[@]}"; do
		got=$(dget meta ".metadata.default.v$n | tojson")
		want=$(jq -c . <<<"${values[n]}")
		[[ $got == "$want" ]] || xs_die "metadata v$n: stored $got, expected $want"
	done
	assert_doc meta '.metadata | keys' '["default"]'
}

@test "a number or boolean as the whole JSON value is accepted" {
	lambda_ctx
	xs begin scalars >/dev/null
	xs_quiet metadata count 3
	xs_quiet metadata ratio 0.5
	xs_quiet metadata neg -7
	xs_quiet metadata flag true
	xs_quiet metadata off false
	xs end
	wait_docs 1
	assert_doc_json scalars .metadata '{"default":{"count":3,"ratio":0.5,"neg":-7,"flag":true,"off":false}}'
}

@test "pretty-printed JSON input is stored compactly; the datagram stays one line" {
	lambda_ctx
	xs begin pretty >/dev/null
	xs_quiet metadata cfg $'{\n  "a": [\n    1,\n    2\n  ],\n\t"b": { }\n}\n'
	xs end
	wait_docs 1 # check-docs refuses a newline inside the document
	assert_doc_json pretty .metadata.default.cfg '{"a":[1,2],"b":{}}'
}

@test "--namespace puts the value in its own namespace next to the default one" {
	lambda_ctx
	xs begin spaces >/dev/null
	xs_quiet metadata --namespace app region '"eu-west-1"'
	xs_quiet metadata --namespace=app2 n '[1]'
	xs_quiet metadata plain '"d"'
	xs_quiet metadata --namespace app zone '"b"'
	xs_quiet metadata --namespace aws.lower x '"allowed"'
	xs end
	wait_docs 1
	assert_doc_json spaces .metadata \
		'{"app":{"region":"eu-west-1","zone":"b"},"app2":{"n":[1]},"default":{"plain":"d"},"aws.lower":{"x":"allowed"}}'
}

@test "a namespace starting with AWS. is refused: exit 2, nothing written" {
	lambda_ctx
	xs begin reserved >/dev/null
	expect_usage metadata --namespace AWS.xray k '{}'
	expect_usage metadata --namespace AWS. k '"x"'
	expect_usage metadata --namespace=AWS.x k '{}'
	xs end
	wait_docs 1
	assert_doc reserved .metadata null
}

@test "invalid JSON: exit 2, one line, nothing written" {
	lambda_ctx
	xs begin invalid >/dev/null
	for bad in '' ' ' '{' '}' tru nul NaN Infinity -Infinity '[1,]' '{"a":1,}' \
		'{"a":1} x' '1 2' '01' '"unterminated' '{a:1}' '/* c */ 1' '[1] // c' '0x10' \
		$'"\xff"' $'{"k":"\xc3"}' '"\x"' '+1' '.5' '[NaN]' '{"a":-Infinity}' '[Infinity]'; do
		expect_usage metadata k "$bad"
	done
	xs end
	wait_docs 1
	assert_doc invalid .metadata null
}

@test "near-JSON that json-c's strict mode lets through never yields an invalid document" {
	lambda_ctx
	xs begin lenient >/dev/null
	for odd in "{'a':1}" $'"a\tb"' $'["\x01"]' '{"a":1,"a":2}'; do
		run --separate-stderr xs metadata k "$odd"
		[[ $status == 0 || $status == 2 ]] || xs_die "metadata k '$odd': exit $status"
	done
	xs end
	wait_docs 1 # one valid document, whatever was accepted
}

@test "keys: any non-empty text; empty is a usage error" {
	lambda_ctx
	xs begin keys >/dev/null
	expect_usage metadata '' '{}'
	xs_quiet metadata 'a.b c/d-é' '"ok"'
	xs end
	wait_docs 1
	assert_doc_json keys .metadata '{"default":{"a.b c/d-é":"ok"}}'
}

@test "targets: innermost by default, --id otherwise, exec subsegment inside exec" {
	lambda_ctx
	a=$(xs begin outer)
	xs begin inner >/dev/null
	xs_quiet metadata where '"inner"'
	xs_quiet metadata --id "$a" where '"outer"'
	xs end
	run -0 --separate-stderr xs exec --name wrapped -- xray-seg metadata --namespace job rows '[1,2]'
	assert_stderr_empty
	xs end
	wait_docs 3
	assert_doc_json inner .metadata '{"default":{"where":"inner"}}'
	assert_doc_json outer .metadata '{"default":{"where":"outer"}}'
	assert_doc_json wrapped .metadata.job '{"rows":[1,2]}'
	assert_doc wrapped .parent_id "$a"
}

@test "nothing to attach to: one warning, exit 0, nothing sent" {
	lambda_ctx
	run -0 --separate-stderr xs metadata k '"v"'
	assert_warning
	run -0 --separate-stderr xs metadata --id "$(hex 16)" k '"v"'
	assert_warning
	assert_no_datagrams
}

@test "metadata and --exit-code share the process namespace" {
	lambda_ctx
	xs begin merged >/dev/null
	xs_quiet metadata --namespace process cmd '"tar"'
	xs end --exit-code 2
	wait_docs 1
	assert_doc_json merged .metadata.process '{"cmd":"tar","exit_code":2}'
}

@test "@FILE and - read the value from a file and from stdin; a 6 MB event is kept and cut at the end, one warning (issue 14)" {
	lambda_ctx
	local id big=$BATS_TEST_TMPDIR/event.json
	id=$(xs_ok begin handler)
	printf '{"customer":"alice","items":[1,2,3]}' >"$BATS_TEST_TMPDIR/small.json"
	xs_ok metadata small "@$BATS_TEST_TMPDIR/small.json"
	printf '{"from":"stdin"}' | xs_ok metadata piped -
	xs_ok metadata subst "@"<(printf '[true,null]')
	"$XS_PYTHON" -c 'import json, sys; json.dump({"body": "x" * 6000000}, open(sys.argv[1], "w"))' "$big"
	xs_ok metadata event "@$big"
	run -0 --separate-stderr xs metadata missing "@$BATS_TEST_TMPDIR/nothing-here"
	assert_warning
	[[ $stderr == *"No such file"* ]] || xs_die "stderr: $stderr"
	printf '{"bad":' >"$BATS_TEST_TMPDIR/bad.json"
	run -2 --separate-stderr xs metadata bad "@$BATS_TEST_TMPDIR/bad.json"
	run -0 --separate-stderr xs end "$id"
	assert_warning
	[[ $stderr == *"cut"* ]] || xs_die "stderr: $stderr"
	wait_docs 1
	assert_doc_json handler '.metadata.default | del(.event)' \
		'{"small":{"customer":"alice","items":[1,2,3]},"piped":{"from":"stdin"},"subst":[true,null]}'
	assert_doc handler '.metadata.default.event.truncated' true
	assert_doc handler '.metadata.default | has("missing") or has("bad")' false
}

@test "numbers are sent as written, or refused: -0 and integers past 64 bits are usage errors (issue 14)" {
	lambda_ctx
	local v
	xs_ok begin nums >/dev/null
	for v in -0 '[1,-0]' '{"a":{"b":-0}}' -9223372036854775809 18446744073709551616 123456789012345678901234567890; do
		run -2 --separate-stderr xs metadata bad "$v"
		assert_usage_error
	done
	xs_ok metadata edges '[-9223372036854775808,18446744073709551615,-0.0,1.5e2,1E2,-1e-7,"-0",0]'
	xs_ok end
	wait_docs 1
	# the datagram itself, not jq's reading of it (jq turns numbers into doubles)
	local raw
	raw=$(jq -r '.raw' "$(sink_capture main)")
	[[ $raw == *'"edges":[-9223372036854775808,18446744073709551615,-0.0,1.5e2,1E2,-1e-7,"-0",0]'* ]] ||
		xs_die "numbers changed on the way: $raw"
	assert_doc nums '.metadata.default | keys' '["edges"]'
}

@test "JSON nested 64 deep is kept and sent; 65 deep is refused at metadata, not lost later (issue 14)" {
	lambda_ctx
	local id deep64 deep65
	id=$(xs_ok begin w)
	deep64="$(printf '[%.0s' {1..64})1$(printf ']%.0s' {1..64})"
	deep65="[$deep64]"
	xs_ok metadata d64 "$deep64"
	xs_ok annotate after yes
	run -2 --separate-stderr xs metadata d65 "$deep65"
	[[ $stderr == *"nested deeper than 64 levels"* ]] || xs_die "stderr: $stderr"
	xs_ok end "$id"
	wait_docs 1
	assert_doc w '[.metadata.default.d64 | .. | numbers]' '[1]'
	assert_doc w .annotations.after yes
}

#!/usr/bin/env bats
# annotate.bats - annotations: string/number/bool values, the number and bool
# grammars, key rules, truncation, targeting, the 50-annotation cap.

load test_helper
bats_require_minimum_version 1.5.0

@test "string, number and bool values keep their JSON types" {
	lambda_ctx
	xs begin work >/dev/null
	xs_quiet annotate str hello
	xs_quiet annotate --number int 42
	xs_quiet annotate --number neg -3.5e2
	xs_quiet annotate --bool yes true
	xs_quiet annotate --bool no false
	xs_quiet annotate numstr 42
	xs_quiet annotate empty ''
	assert_no_datagrams
	xs end
	wait_docs 1
	assert_doc_json work .annotations \
		'{"str":"hello","int":42,"neg":-350,"yes":true,"no":false,"numstr":"42","empty":""}'
}

@test "--number accepts the JSON number grammar" {
	lambda_ctx
	xs begin nums >/dev/null
	values=(0 -0 7 -12 1.5 0.25 1e3 1E+2 -2.5e-3 123456789 9007199254740993 1.7976931348623157e308)
	for n in "${!values[@]}"; do
		xs_quiet annotate --number "n$n" "${values[n]}"
	done
	xs end
	wait_docs 1
	for n in "${!values[@]}"; do
		assert_doc nums ".annotations.n$n | (type == \"number\") and (. == (\"${values[n]}\" | tonumber))" true
	done
}

@test "--number rejects what is not a finite JSON number: exit 2, nothing added" {
	lambda_ctx
	xs begin strict >/dev/null
	for bad in abc '' ' ' 1e400 -1e400 NaN nan inf -inf Infinity 0x10 1. .5 +1 01 -01 1e 1e+ - 1_000 '1 ' ' 1' 1,5 --1 '"1"' true; do
		expect_usage annotate --number n "$bad"
	done
	xs end
	wait_docs 1
	assert_doc strict .annotations null
}

@test "--bool accepts exactly true and false" {
	lambda_ctx
	xs begin bools >/dev/null
	for bad in True TRUE False 1 0 yes no '' ' true' 'true ' t f; do
		expect_usage annotate --bool b "$bad"
	done
	expect_usage annotate --bool --number b true
	expect_usage annotate --number --bool b 1
	xs end
	wait_docs 1
	assert_doc bools .annotations null
}

@test "keys must match [A-Za-z0-9_]{1,500}: exit 2, nothing added" {
	lambda_ctx
	xs begin keys >/dev/null
	long=$(printf 'k%.0s' {1..501})
	for bad in a.b a-b '' 'a b' ä 'key:x' 'a/b' "$long" $'a\n' 'AWS.x'; do
		expect_usage annotate "$bad" v
	done
	ok=$(printf 'K%.0s' {1..500})
	xs_quiet annotate "$ok" v
	xs_quiet annotate Az_09 v
	xs end
	wait_docs 1
	assert_doc_json keys .annotations "{\"$ok\":\"v\",\"Az_09\":\"v\"}"
}

@test "string values are kept byte for byte: quotes, backslashes, control characters, UTF-8" {
	lambda_ctx
	xs begin strings >/dev/null
	value=$'quote" backslash\\ slash/ tab\t nl\n cr\r bell\a é ✓ 😀'
	xs_quiet annotate s "$value"
	xs end
	wait_docs 1
	[ "$(dget strings .annotations.s)" = "$value" ]
}

@test "string values are cut to 1000 characters with one warning" {
	lambda_ctx
	xs begin cut >/dev/null
	v1000=$(printf 'x%.0s' {1..1000})
	xs_quiet annotate exact "$v1000"
	run -0 --separate-stderr xs annotate long "${v1000}yyyyy"
	assert_warning
	wide=$(printf 'é%.0s' {1..1500})
	run -0 --separate-stderr xs annotate wide "$wide"
	assert_warning
	xs end
	wait_docs 1
	assert_doc cut '.annotations.exact' "$v1000"
	assert_doc cut '.annotations.long' "$v1000"
	assert_doc cut '.annotations.wide | length' 1000
	assert_doc cut '.annotations.wide | test("^é+$")' true
}

@test "a value that is not valid UTF-8 never yields an invalid document" {
	lambda_ctx
	xs begin bytes >/dev/null
	run --separate-stderr xs annotate raw $'ab\xff\xfecd'
	[[ $status == 0 || $status == 2 ]] || xs_die "annotate with invalid UTF-8: exit $status"
	run --separate-stderr xs annotate cut "$(printf 'x%.0s' {1..999})é"
	[[ $status == 0 ]] || xs_die "annotate: exit $status"
	xs end
	wait_docs 1 # check-docs insists on valid UTF-8 and the schemas
}

@test "targets: the innermost open subsegment by default, --id otherwise" {
	lambda_ctx
	a=$(xs begin outer)
	xs begin inner >/dev/null
	xs_quiet annotate where inner
	xs_quiet annotate --id "$a" where outer
	xs_quiet annotate --id="$a" eqform yes
	xs end
	xs end
	wait_docs 2
	assert_doc_json inner .annotations '{"where":"inner"}'
	assert_doc_json outer .annotations '{"where":"outer","eqform":"yes"}'
}

@test "inside exec the annotation lands on the exec subsegment (the context Parent)" {
	lambda_ctx
	run -0 --separate-stderr xs exec --name wrapper -- xray-seg annotate --number rows 12
	assert_stderr_empty
	wait_docs 1
	assert_doc_json wrapper .annotations '{"rows":12}'
}

@test "nothing to annotate: one warning, exit 0, nothing sent" {
	lambda_ctx
	run -0 --separate-stderr xs annotate k v
	assert_warning
	assert_output ''
	id=$(xs begin closed)
	xs end
	run -0 --separate-stderr xs annotate --id "$id" k v
	assert_warning
	run -0 --separate-stderr xs annotate --id "$(hex 16)" k v
	assert_warning
	wait_docs 1
	assert_doc closed .annotations null
}

@test "at most 50 annotations: the 51st is refused with a warning" {
	lambda_ctx
	xs begin capped >/dev/null
	for n in $(seq 50); do
		xs_quiet annotate "a$n" "$n"
	done
	run -0 --separate-stderr xs annotate a51 51
	assert_warning
	xs end
	wait_docs 1
	assert_doc capped '.annotations | length' 50
	assert_doc capped '.annotations | has("a51")' false
	assert_doc capped '.annotations.a50' 50
}

@test "a trace indexes 50 annotation keys across its subsegments: a new 51st key is left out with one warning" {
	lambda_ctx
	xs begin first >/dev/null
	for n in $(seq 30); do xs_quiet annotate "k$n" x; done
	xs end
	xs begin second >/dev/null
	# A key the trace has already is not counted again.
	for n in $(seq 10) $(seq 31 50); do xs_quiet annotate "k$n" y; done
	run -0 --separate-stderr xs annotate k51 y
	assert_warning
	[[ $stderr == *"'k51'"*" 50 "*"trace $ROOT"* ]] || xs_die "the warning names neither the key nor the trace: $stderr"
	xs_quiet annotate k7 again
	xs end
	wait_docs 2
	assert_doc first '.annotations | length' 30
	assert_doc second '.annotations | length' 30
	assert_doc second '.annotations | has("k51")' false
	assert_doc second '.annotations.k7' again
}

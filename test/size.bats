#!/usr/bin/env bats
# size.bats - the 64512-byte datagram budget: oversize metadata values are
# replaced by {"truncated":true,"bytes":N} (largest first), cause messages cut,
# a warning printed; never a datagram over 64512 bytes (check-docs enforces it).

load test_helper
bats_require_minimum_version 1.5.0

# record ARGS...: run xray-seg ARGS (exit 0) and collect its stderr in $ERRS.
record() {
	run -0 --separate-stderr xs "$@"
	ERRS+=$stderr${stderr:+$'\n'}
}

# assert_warned: something was warned, and everything printed was a warning.
assert_warned() {
	[[ -n $ERRS ]] || xs_die "no warning about the oversize document"
	local l
	while IFS= read -r l; do
		[[ -z $l || $l == 'xray-seg: warning: '* ]] || xs_die "not a warning: $l"
	done <<<"$ERRS"
}

datagram_bytes() { jq -r '.bytes' "$(sink_capture "${1:-main}")"; }

@test "a 100 KB metadata string is replaced by a truncation marker; the datagram fits" {
	lambda_ctx
	ERRS=
	big=$(repeat 100000 x)
	id=$(xs begin big-string)
	record metadata big "\"$big\""
	record metadata small '"kept"'
	record end
	assert_warned
	wait_docs 1
	assert_doc big-string .id "$id"
	assert_doc big-string .metadata.default.big.truncated true
	assert_doc big-string '.metadata.default.big | keys' '["bytes","truncated"]'
	n=$(dget big-string .metadata.default.big.bytes)
	((n >= 100000)) || xs_die "bytes = $n, the value was at least 100000 bytes"
	assert_doc big-string .metadata.default.small kept
}

@test "largest values go first; smaller ones stay when the rest fits" {
	lambda_ctx
	ERRS=
	v40=$(repeat 40000 a)
	v30=$(repeat 30000 b)
	xs begin largest-first >/dev/null
	record metadata v40 "\"$v40\""
	record metadata --namespace other v30 "\"$v30\""
	record metadata tiny '[1,2,3]'
	record end
	assert_warned
	wait_docs 1
	assert_doc largest-first .metadata.default.v40.truncated true
	assert_doc largest-first '.metadata.other.v30 | length' 30000
	assert_doc largest-first .metadata.default.tiny '[1,2,3]'
}

@test "a document just under the limit is sent intact, without a warning" {
	lambda_ctx
	v=$(repeat 63000 z)
	xs begin near-limit >/dev/null
	run -0 --separate-stderr xs metadata v "\"$v\""
	assert_stderr_empty
	run -0 --separate-stderr xs end
	assert_stderr_empty
	wait_docs 1
	assert_doc near-limit '.metadata.default.v | length' 63000
	b=$(datagram_bytes)
	((b > 63000 && b <= 64512)) || xs_die "datagram of $b bytes"
}

@test "an object holding a huge string is replaced as a whole" {
	lambda_ctx
	ERRS=
	big=$(repeat 90000 q)
	xs begin nested-big >/dev/null
	record metadata --namespace app blob "{\"inner\":{\"s\":\"$big\"},\"n\":1}"
	record end
	assert_warned
	wait_docs 1
	assert_doc nested-big '.metadata.app.blob.truncated' true
	n=$(dget nested-big .metadata.app.blob.bytes)
	((n >= 90000)) || xs_die "bytes = $n"
}

@test "multi-byte UTF-8 values are measured in bytes and never split" {
	lambda_ctx
	ERRS=
	wide=$(repeat 40000 é) # 80000 bytes
	xs begin wide-chars >/dev/null
	record metadata wide "\"$wide\""
	record end
	assert_warned
	wait_docs 1 # check-docs insists on valid UTF-8 and <= 64512 bytes
	assert_doc wide-chars .metadata.default.wide.truncated true
	n=$(dget wide-chars .metadata.default.wide.bytes)
	((n >= 80000)) || xs_die "bytes = $n for 80000 bytes of UTF-8"
}

@test "an oversize --cause message is cut, not dropped" {
	lambda_ctx
	ERRS=
	msg=$(repeat 100000 m)
	xs begin big-cause >/dev/null
	record end --cause "$msg"
	assert_warned
	wait_docs 1
	got=$(dget big-cause '.cause.exceptions[0].message')
	((${#got} >= 200 && ${#got} < 64512)) || xs_die "cause message of ${#got} characters"
	[[ $got == "${msg:0:200}"* ]] || xs_die "the cut message does not start with the original's text"
	assert_doc big-cause .fault true
}

@test "annotations survive when metadata is what makes the document too big" {
	lambda_ctx
	ERRS=
	v1000=$(repeat 1000 v)
	xs begin keep-annotations >/dev/null
	for n in $(seq 50); do
		xs annotate "a$n" "$v1000"
	done
	record metadata extra "\"$(repeat 20000 e)\""
	record end
	assert_warned
	wait_docs 1
	assert_doc keep-annotations '.annotations | length' 50
	assert_doc keep-annotations '[.annotations[] | length] | unique' '[1000]'
	assert_doc keep-annotations .metadata.default.extra.truncated true
}

@test "an oversize document kept while the daemon was down is also cut when sent later" {
	lambda_ctx
	start_sink --name probe
	port=$(sink_port probe)
	stop_sink probe
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$port
	xs begin late-big >/dev/null
	xs metadata big "\"$(repeat 100000 l)\"" 2>/dev/null
	xs end 2>/dev/null
	start_sink --name back --port "$port"
	xs send 2>/dev/null
	wait_docs 1 back
	assert_doc late-big .metadata.default.big.truncated true
}

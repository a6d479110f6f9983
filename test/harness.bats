#!/usr/bin/env bats
# harness.bats - self-tests of the suite's own helpers: the UDP sink, the sync
# barrier and check-docs. These prove the validator fails when it should, so a
# green suite means something. They need no xray-seg binary.

load test_helper
bats_require_minimum_version 1.5.0

setup_file() { xs_setup_file --no-binary; }

GOOD=$XS_FIXTURES/check-docs/good.json
HDR='{"format":"json","version":1}'

# datagram NAME: path of a datagram file to build for the current test.
datagram() { echo "$BATS_TEST_TMPDIR/dg.$1"; }

# mkdg NAME JQFILTER: header + newline + (good document | jq -c FILTER).
mkdg() {
	{
		printf '%s\n' "$HDR"
		jq -cj "$2" "$GOOD"
	} >"$(datagram "$1")"
}

send_files() { "$XS_PYTHON" "$XS_HELPERS/udp-send.py" "$(sink_host)" "$(sink_port)" "$@"; }

@test "sink records each datagram with its exact bytes and does not record sync markers" {
	start_sink
	printf 'hello\nworld' >"$(datagram a)"
	printf '\xff\x00x' >"$(datagram b)"
	send_files "$(datagram a)" "$(datagram b)"
	sink_sync
	sink_sync
	run -0 jq -c '[.seq, .bytes, .utf8, .truncated]' "$XS_SINKS/main/out"
	assert_output $'[0,11,true,false]\n[1,3,false,false]'
	run -0 "$XS_PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    sys.stdout.buffer.write(json.loads(line)["raw"].encode("utf-8", "surrogateescape") + b"|")
' "$XS_SINKS/main/out"
	assert_output "$(printf 'hello\nworld|\xff\x00x|')"
}

@test "sink listens on IPv6 ::1 and on a chosen port" {
	start_sink --ipv6 --name six
	port=$(sink_port six)
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram v6)"
	"$XS_PYTHON" "$XS_HELPERS/udp-send.py" ::1 "$port" "$(datagram v6)"
	assert_datagrams 1 six
	stop_sink six
	start_sink --name again --port "$port"
	[ "$(sink_port again)" = "$port" ]
}

@test "sink stops by itself after its idle timeout" {
	d=$BATS_TEST_TMPDIR/idle
	mkdir -p "$d"
	"$XS_PYTHON" "$XS_HELPERS/udp-sink.py" --out "$d/out" --port-file "$d/port" --idle 0.3 3>&- &
	pid=$!
	for ((n = 0; n < 500; n++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	run ! kill -0 "$pid"
	wait "$pid"
	[ -s "$d/port" ]
}

@test "check-docs accepts a valid datagram and prints the document byte for byte" {
	start_sink
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram good)"
	send_files "$(datagram good)" "$(datagram good)"
	wait_docs 2
	run -0 cat "$DOCS"
	assert_output "$(cat "$GOOD")"$'\n'"$(cat "$GOOD")"
	run -0 dq ".[1].parent_id"
	assert_output 53995c3f42cd8ad8
}

@test "check-docs rejects every kind of bad datagram with a clear message" {
	start_sink
	local -a names=() expect=()
	add() { names+=("$1"); expect+=("$2"); }

	printf '%s\n%s' '{"format": "json", "version": 1}' "$(cat "$GOOD")" >"$(datagram spaced)"
	add spaced 'header is not exactly'
	printf '%s%s' "$HDR" "$(cat "$GOOD")" >"$(datagram nonewline)"
	add nonewline 'header is not exactly'
	printf '%s\n' "$HDR" >"$(datagram empty)"
	add empty 'no document after the header'
	printf '%s\n%s\n%s' "$HDR" "$(cat "$GOOD")" "$(cat "$GOOD")" >"$(datagram twodocs)"
	add twodocs 'contains a newline'
	printf '%s\n%s x' "$HDR" "$(cat "$GOOD")" >"$(datagram trailing)"
	add trailing 'not one JSON value'
	mkdg oversize '.metadata.default.big = ("x" * 64500)'
	add oversize 'bytes > 64512'
	mkdg badutf8 '.name = "aXXb"'
	sed -i 's/aXXb/a\xffb/' "$(datagram badutf8)"
	add badutf8 'not valid UTF-8'
	mkdg noparent 'del(.parent_id)'
	add noparent 'parent_id missing'
	mkdg notrace 'del(.trace_id)'
	add notrace 'trace_id missing'
	mkdg segment 'del(.type)'
	add segment 'not "subsegment"'
	mkdg inprogress 'del(.end_time) | .in_progress = true'
	add inprogress 'end_time missing'
	mkdg backwards '.end_time = .start_time - 1'
	add backwards "< start_time"
	mkdg upperid '.id = "70DE5B6F19FF9A0A"'
	add upperid 'strict schema (draft-07): id'
	mkdg sameid '.parent_id = .id'
	add sameid 'parent_id equals id'
	mkdg ann51 '.annotations = ([range(51) | {key: "k\(.)", value: .}] | from_entries)'
	add ann51 'strict schema (draft-07): annotations'
	mkdg awsns '.metadata = {"AWS.x": {"a": 1}}'
	add awsns 'strict schema (draft-07): metadata'
	mkdg backslash '.name = "a\\b"'
	add backslash 'AWS schema (draft-04): name'
	mkdg nsstring '.metadata = {"default": 1}'
	add nsstring 'metadata/default'
	mkdg annkey '.annotations = {"a.b": 1}'
	add annkey 'AWS schema (draft-04): annotations'
	printf '%s\n%s' "$HDR" '{"id":"70de5b6f19ff9a0a","id":"70de5b6f19ff9a0b"}' >"$(datagram dupkey)"
	add dupkey 'duplicate key'
	printf '%s\n%s' "$HDR" "$(sed 's/"end_time":[0-9.]*/"end_time":NaN/' "$GOOD")" >"$(datagram nan)"
	add nan 'non-JSON constant NaN'
	printf '%s\n[%s]' "$HDR" "$(cat "$GOOD")" >"$(datagram array)"
	add array 'not a JSON object'

	local files=() n
	for n in "${names[@]}"; do files+=("$(datagram "$n")"); done
	send_files "${files[@]}"
	assert_datagrams "${#names[@]}"

	# One check-docs run over all of them: one problem block per datagram.
	run --separate-stderr check_capture "$XS_SINKS/main/out"
	assert_failure 1
	[[ -z $output ]] || xs_die "check-docs printed a bad document: $output"
	local k block
	for k in "${!names[@]}"; do
		block=$(awk -v n="check-docs: datagram $((k + 1)) " '
			index($0, n) == 1 { on = 1; print; next }
			/^check-docs: datagram / { on = 0 }
			on' <<<"$stderr")
		[[ -n $block ]] || xs_die "check-docs accepted bad datagram '${names[k]}'"
		[[ $block == *"${expect[k]}"* ]] ||
			xs_die "check-docs on '${names[k]}': expected a message containing '${expect[k]}', got: $block"
	done
}

@test "docs fails the test when one datagram of several is bad" {
	start_sink
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram good)"
	mkdg bad 'del(.parent_id)'
	send_files "$(datagram good)" "$(datagram bad)"
	run --separate-stderr docs
	assert_failure
	[[ $stderr == *'check-docs: datagram 2'* ]] || fail "unexpected stderr: $stderr"
	run --separate-stderr wait_docs 2
	assert_failure
}

@test "check-docs works without the server too" {
	start_sink
	mkdg bad '.id = "short"'
	send_files "$(datagram bad)"
	sink_sync
	run --separate-stderr "$XS_PYTHON" "$XS_HELPERS/check-docs.py" "$XS_SINKS/main/out"
	[ "$status" -eq 1 ]
	[[ $stderr == *"AWS schema (draft-04): id"* ]]
	run --separate-stderr "$XS_PYTHON" "$XS_HELPERS/check-docs.py" "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 2 ]
}

@test "assert_datagrams and wait_docs count exactly" {
	start_sink
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram good)"
	send_files "$(datagram good)"
	run assert_datagrams 0
	assert_failure
	run assert_datagrams 2
	assert_failure
	assert_datagrams 1
	XS_WAIT=0 run wait_docs 2
	assert_failure
}

@test "shared sink, part 1: a test's datagrams ..." {
	use_sink
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram good)"
	send_files "$(datagram good)"
	assert_datagrams 1
}

@test "... are not seen by the next test of the file" {
	use_sink
	assert_no_datagrams
	printf '%s\n%s' "$HDR" "$(cat "$GOOD")" >"$(datagram good)"
	send_files "$(datagram good)" "$(datagram good)"
	wait_docs 2
}

@test "lambda_ctx builds a well-formed recording context aimed at the sink" {
	lambda_ctx 'Lineage=1:abcdef12:0'
	[[ $ROOT =~ $TRACE_RE ]]
	[[ $PARENT =~ $HEX16_RE ]]
	[ "$_X_AMZN_TRACE_ID" = "Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=1:abcdef12:0" ]
	[ "$AWS_XRAY_DAEMON_ADDRESS" = "127.0.0.1:$SINK_PORT" ]
	old=$ROOT
	lambda_ctx
	[ "$ROOT" != "$old" ]
	[ "$_X_AMZN_TRACE_ID" = "Root=$ROOT;Parent=$PARENT;Sampled=1" ]
}

@test "the environment is hermetic" {
	[ "$HOME" = "$BATS_TEST_TMPDIR/home" ]
	[ "$TMPDIR" = "$BATS_TEST_TMPDIR/tmp" ]
	[ "$XRAY_SEG_STATE_DIR" = "$BATS_TEST_TMPDIR/state" ]
	run -0 bash -c 'compgen -e | grep -E "^(AWS_|LAMBDA_|_X_AMZN_|XRAY_SEG_|GITHUB_|CI_)" || true'
	# the test's state directory, and the wrapper make valgrind sets (or empty)
	assert_output $'XRAY_SEG_STATE_DIR\nXRAY_SEG_WRAPPER'
	[[ $PATH == "$XS_BIN_DIR:"* ]]
}

@test "XRAY_SEG_WRAPPER survives the hermetic environment (make valgrind relies on it)" {
	[ "$(XRAY_SEG_WRAPPER='env XS_PROBE=1' bash -c "source '$XS_TEST_DIR/test_helper.bash'; xs_setup; printf %s \"\$XRAY_SEG_WRAPPER\"")" = 'env XS_PROBE=1' ]
}

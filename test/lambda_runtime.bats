#!/usr/bin/env bats
# lambda_runtime.bats - bash custom runtimes: the example bootstrap of
# examples/lambda run against a local Runtime API (helpers/runtime-api.py) for
# several invocations (traces kept apart, parents, ColdStart and Service, the
# init subsegment, handler errors, the deadline guard, no state left, the
# exported header); and the commands it is built on, one by one: context
# (--from-headers, --from-env), --start-time/--end-time, --in-progress,
# exception, errtrap and guard.
#
# Expectations come from the tests' own knowledge: ids and times the test
# chose, line numbers read from the scripts with grep, the clock of the test
# shell and of the emulator, never from xray-seg itself.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
	xs_setup
	unset POWERTOOLS_SERVICE_NAME
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-test
	D=$BATS_TEST_TMPDIR
	TASK_ROOT=$XS_ROOT/examples/lambda
	BOOTSTRAP=$TASK_ROOT/bootstrap
	FAKEBIN=$D/fakebin
	mkdir -p "$FAKEBIN"
	# aws: the test's fake CLI, also noting the trace header each call saw
	cat >"$FAKEBIN/aws" <<-EOF
		#!/bin/sh
		printf '%s\n' "\${_X_AMZN_TRACE_ID-(unset)}" >>"$D/aws-trace"
		exec "$XS_HELPERS/fake-aws" "\$@"
	EOF
	chmod +x "$FAKEBIN/aws"
	for v in $(compgen -e FAKE_AWS_); do unset "$v"; done
	export FAKE_AWS_STDOUT=123456789012
}

# now_ms: the current time in epoch milliseconds (the test shell's clock).
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# tp_of ROOT PARENT FLAGS: the W3C traceparent of an X-Ray Root and Parent.
tp_of() { echo "00-${1:2:8}${1:11:24}-$2-$3"; }

# --- in-progress documents ---------------------------------------------------

# wait_all_docs N: like wait_docs, for captures that may hold in-progress
# documents: every datagram gets check-docs' checks (both schemas included),
# except that a document with "in_progress": true must have no end_time
# instead of having one. The documents go to $DOCS in arrival order.
wait_all_docs() {
	local want=$1 got f deadline=$((SECONDS + XS_WAIT))
	sink_sync
	f=$(sink_capture)
	got=$(wc -l <"$f")
	while ((got < want && SECONDS <= deadline)); do
		_nap 0.01
		sink_sync
		f=$(sink_capture)
		got=$(wc -l <"$f")
	done
	((got == want)) || xs_die "expected $want datagram(s), got $got:
$(jq -r '.raw' "$f" | cut -c1-400)"
	"$XS_PYTHON" -B - "$XS_HELPERS/check-docs.py" "$XS_SCHEMAS" "$f" >"$DOCS" <<-'PY' ||
		import importlib.util, json, sys
		spec = importlib.util.spec_from_file_location("check_docs", sys.argv[1])
		cd = importlib.util.module_from_spec(spec)
		spec.loader.exec_module(cd)
		validators = cd.load_validators(sys.argv[2])
		bad = 0
		for n, line in enumerate(open(sys.argv[3], encoding="utf-8"), 1):
		    data = json.loads(line)["raw"].encode("utf-8", "surrogateescape")
		    problems, body = cd.check_datagram(data, validators)
		    if body is not None:
		        doc = json.loads(body)
		        if doc.get("in_progress") is True:
		            problems = [p for p in problems if p != "end_time missing"]
		            if "end_time" in doc:
		                problems.append("in_progress document has an end_time")
		    if problems:
		        bad += 1
		        print("datagram %d: %s" % (n, "; ".join(problems)), file=sys.stderr)
		    else:
		        print(body.decode())
		sys.exit(1 if bad else 0)
	PY
		xs_die "datagrams rejected (see above)"
}

# --- the Runtime API emulator and the bootstrap --------------------------------

# event_line JSON_EVENT TRACE [DEADLINE_MS [REQUEST_ID]]: one line of an events file.
event_line() {
	jq -nc --argjson e "$1" --arg t "$2" --arg d "${3:-3000}" --arg r "${4:-}" \
		'{event: $e, deadline_ms: ($d | tonumber)} + (if $t == "" then {} else {trace: $t} end)
		 + (if $r == "" then {} else {request_id: $r} end)'
}

# uuid: a random request ID in the form Lambda uses (8-4-4-4-12 hex digits).
uuid() { echo "$(hex 8)-$(hex 4)-$(hex 4)-$(hex 4)-$(hex 12)"; }

# new_invocations N: fresh ids for N sampled invocations: ROOTS[k], PARENTS[k],
# REQS[k] (k from 0), and TRACES[k] the header Lambda would send.
new_invocations() {
	local k
	ROOTS=() PARENTS=() REQS=() TRACES=()
	for ((k = 0; k < $1; k++)); do
		new_ids
		ROOTS+=("$ROOT") PARENTS+=("$PARENT") REQS+=("$(uuid)")
		TRACES+=("Root=$ROOT;Parent=$PARENT;Sampled=1")
	done
}

# run_runtime EVENTS: serve EVENTS (a JSON lines file) with runtime-api.py and
# run the real bootstrap against it (fake aws first on PATH, daemon = the main
# sink) until every event was served and the bootstrap asked for one more, or
# it exited (bounded by RT_WAIT, default 40 s). Then the emulator is stopped,
# which must end the bootstrap (its /next fails). Sets RT_LOG (the emulator's
# log), RT_ERR (the bootstrap's stderr), RT_STATUS, RT_T0 (just before the
# bootstrap started). RT_TASK_ROOT, RT_HANDLER, RT_BOOTSTRAP, RT_PATH override.
run_runtime() {
	local events=$1 d=$D/rt api bs port n
	rm -rf "$d"
	mkdir -p "$d"
	use_sink
	"$XS_PYTHON" "$XS_HELPERS/runtime-api.py" --events "$events" --log "$d/log" \
		--port-file "$d/port" --list-dir "$XRAY_SEG_STATE_DIR" --max-seconds 90 \
		</dev/null >/dev/null 2>"$d/api.err" 3>&- &
	api=$!
	reap_later "$api"
	wait_file "$d/port"
	read -r port <"$d/port"
	RT_LOG=$d/log RT_ERR=$d/err
	: >"$RT_LOG"
	RT_T0=$EPOCHREALTIME
	(
		export AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port
		export LAMBDA_TASK_ROOT=${RT_TASK_ROOT:-$TASK_ROOT}
		export _HANDLER=${RT_HANDLER-function.handler}
		export PATH=${RT_PATH:-$FAKEBIN:$PATH}
		exec "${RT_BOOTSTRAP:-$BOOTSTRAP}"
	) </dev/null >"$d/out" 2>"$RT_ERR" 3>&- &
	bs=$!
	reap_later "$bs"
	local deadline=$((SECONDS + ${RT_WAIT:-40}))
	while ! grep -q '"exhausted": true' "$RT_LOG"; do
		kill -0 "$bs" 2>/dev/null || break
		((SECONDS <= deadline)) ||
			xs_die "the bootstrap did not get through its events in ${RT_WAIT:-40} s; stderr:
$(cat "$RT_ERR")
emulator log:
$(cut -c1-300 "$RT_LOG")"
		_nap 0.02
	done
	kill "$api" 2>/dev/null
	for ((n = 0; n < 1000; n++)); do
		kill -0 "$bs" 2>/dev/null || break
		_nap 0.01
	done
	kill -0 "$bs" 2>/dev/null && xs_die "the bootstrap still runs 10 s after the Runtime API went away"
	RT_STATUS=0
	wait "$bs" || RT_STATUS=$?
}

# rt_q FILTER...: jq -r over the array of the emulator's log records.
rt_q() { jq -r -s "$@" "$RT_LOG"; }

# assert_rt_posts KIND...: the runtime posted exactly these results, in order:
# KIND k is "response" or "error" for invocation k, each to REQS[k].
assert_rt_posts() {
	local want got k=0 kind
	want=$(for kind in "$@"; do
		echo "$kind ${REQS[k]} 202"
		k=$((k + 1))
	done)
	got=$(rt_q '.[] | select(.method == "POST") | "\(.kind) \(.request_id) \(.status)"')
	[[ $got == "$want" ]] || xs_die "posts to the Runtime API:
expected:
$want
actual:
$got
bootstrap stderr:
$(cat "$RT_ERR")"
}

# assert_rt_no_warnings: the bootstrap's stderr has no xray-seg line and no
# bootstrap complaint other than the final "no next invocation".
assert_rt_no_warnings() {
	local bad
	bad=$(grep -v -e '^bootstrap: no next invocation' -e '^curl: (52)' "$RT_ERR" || true)
	[[ -z $bad ]] || xs_die "unexpected stderr from the bootstrap:
$bad"
}

# assert_rt_clean: at every /next after the first (each taken after an
# invocation finished) and now, no trace holds anything open or kept: at most
# the trace just finished still has its directory, with only what a trace
# keeps until the next one starts (see trace_left in test_helper.bash).
assert_rt_clean() {
	local bad
	bad=$(rt_q '[.[] | select(.kind == "next")][1:][] | select(.listing != null) | .listing
		| . as $l | [.[] | select(endswith("/"))] as $dirs
		| (if ($dirs | length) > 1 then "\($dirs | length) trace directories: \($dirs)" else empty end),
		  ($l[] | select(test("/.") and (test("/(lock|stack\\.[0-9a-f]{16}|set\\.annotations)$") | not)))')
	[[ -z $bad ]] || xs_die "state left between invocations:
$bad"
	if [[ -d $XRAY_SEG_STATE_DIR ]]; then
		bad=$(left_traces)
		[[ -z $bad ]] || xs_die "state left after the last invocation: $bad"
		bad=$(find "$XRAY_SEG_STATE_DIR" -mindepth 1 -type d)
		(($(grep -c . <<<"$bad") <= 1)) || xs_die "more than the last trace kept after the last invocation:
$bad"
	fi
}

# names_of ROOT: the names of the documents of trace ROOT, sorted, one line.
names_of() { dq --arg r "$1" '[.[] | select(.trace_id == $r) | .name] | sort | join(" ")'; }

# tdoc ROOT NAME FILTER: FILTER on the one document NAME of trace ROOT.
tdoc() {
	local out
	out=$(jq -c -s --arg r "$1" --arg n "$2" '[.[] | select(.trace_id == $r and .name == $n)] |
		if length == 1 then .[0] | '"$3"' else error("COUNT \(length)") end' "$DOCS" 2>&1) ||
		xs_die "trace $1, document $2: $out"
	printf '%s\n' "$out"
}

# assert_tdoc ROOT NAME FILTER EXPECTED: jq -c FILTER on it (strings unquoted) is EXPECTED.
assert_tdoc() {
	local got
	got=$(tdoc "$1" "$2" "$3 | if type == \"string\" then . else tojson end") || exit 1
	got=$(jq -r . <<<"$got")
	[[ $got == "$4" ]] || xs_die "trace $1, document $2: $3
expected: $4
actual  : $got
document: $(tdoc "$1" "$2" .)"
}

# assert_invocation ROOT PARENT CUSTOMER: the handler's documents of one
# successful invocation: function.handler under PARENT, validate and STS under it.
assert_invocation() {
	local root=$1 parent=$2 customer=$3 hid
	hid=$(tdoc "$root" function.handler .id | jq -r .)
	[[ $hid =~ $HEX16_RE ]] || xs_die "function.handler has id '$hid'"
	assert_tdoc "$root" function.handler .parent_id "$parent"
	assert_tdoc "$root" function.handler .annotations.customer "$customer"
	assert_tdoc "$root" function.handler '.metadata.default.event' "{\"customer\":\"$customer\"}"
	assert_tdoc "$root" function.handler '[.fault, .error, .cause]' '[null,null,null]'
	assert_tdoc "$root" validate .parent_id "$hid"
	assert_tdoc "$root" validate .annotations.valid true
	assert_tdoc "$root" STS .parent_id "$hid"
	assert_tdoc "$root" STS .namespace aws
	assert_tdoc "$root" STS .aws.operation GetCallerIdentity
	assert_tdoc "$root" STS .metadata.process.exit_code 0
	# the aws CLI was called with a header naming its own subsegment
	grep -qxF "Root=$root;Parent=$(tdoc "$root" STS .id | jq -r .);Sampled=1" "$D/aws-trace" ||
		xs_die "no aws call saw the header of trace $root's STS subsegment:
$(cat "$D/aws-trace")"
}

# cold_starts: "ROOT ColdStart-value" for every document that has the annotation.
cold_starts() { dq '.[] | select(.annotations.ColdStart != null) | "\(.trace_id) \(.name) \(.annotations.ColdStart)"' | sort; }

# --- the example runtime ---------------------------------------------------------

@test "bootstrap and function.sh are shellcheck-clean" {
	command -v shellcheck >/dev/null || xs_die "shellcheck is required (apt-get install shellcheck)"
	run -0 shellcheck -s bash "$BOOTSTRAP" "$TASK_ROOT/function.sh"
	[[ -x $BOOTSTRAP ]] || xs_die "$BOOTSTRAP is not executable"
}

@test "runtime: three invocations, each trace holds only its own subsegments, with the right parents" {
	new_invocations 3
	local customers=(alice bob carol) k
	for k in 0 1 2; do
		event_line "{\"customer\":\"${customers[k]}\"}" "${TRACES[k]}" 3000 "${REQS[k]}"
	done >"$D/events"
	run_runtime "$D/events"
	((RT_STATUS == 1)) || xs_die "bootstrap exit status $RT_STATUS after the API went away, expected 1"
	assert_rt_posts response response response
	assert_rt_no_warnings
	for k in 0 1 2; do
		[ "$(rt_q --arg r "${REQS[k]}" '.[] | select(.request_id == $r) | .body')" = \
			"{\"customer\":\"${customers[k]}\",\"account\":\"123456789012\"}" ]
	done
	wait_docs 10
	[ "$(names_of "${ROOTS[0]}")" = "STS function.handler init validate" ]
	[ "$(names_of "${ROOTS[1]}")" = "STS function.handler validate" ]
	[ "$(names_of "${ROOTS[2]}")" = "STS function.handler validate" ]
	for k in 0 1 2; do
		assert_invocation "${ROOTS[k]}" "${PARENTS[k]}" "${customers[k]}"
	done
	assert_tdoc "${ROOTS[0]}" init .parent_id "${PARENTS[0]}"
	[ "$(dq '[.[].id] | unique | length')" = 10 ]
	assert_rt_clean
}

@test "runtime: ColdStart=true on the first invocation's first subsegment only, false on each later one" {
	new_invocations 3
	for k in 0 1 2; do event_line '{"customer":"c"}' "${TRACES[k]}" 3000 "${REQS[k]}"; done >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response response response
	wait_docs 10
	run -0 cold_starts
	assert_output "$(printf '%s\n' "${ROOTS[0]} init true" "${ROOTS[1]} function.handler false" \
		"${ROOTS[2]} function.handler false" | sort)"
	# the first recorded: begun before anything else of its trace
	for k in 0 1 2; do
		[ "$(dq --arg r "${ROOTS[k]}" '[.[] | select(.trace_id == $r)] | sort_by(.start_time) | .[0].annotations.ColdStart != null')" = true ]
	done
	assert_rt_clean
}

@test "runtime: POWERTOOLS_SERVICE_NAME becomes the Service annotation of each trace's first subsegment" {
	export POWERTOOLS_SERVICE_NAME=orders
	new_invocations 2
	for k in 0 1; do event_line '{"customer":"c"}' "${TRACES[k]}" 3000 "${REQS[k]}"; done >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response response
	wait_docs 7
	run -0 dq '.[] | select(.annotations.Service != null) | "\(.trace_id) \(.name) \(.annotations.Service)"'
	assert_output "$(printf '%s\n' "${ROOTS[0]} init orders" "${ROOTS[1]} function.handler orders")"
}

@test "runtime: the init subsegment is in the first trace only, with the bootstrap's own start-up times" {
	new_invocations 2
	for k in 0 1; do event_line '{"customer":"c"}' "${TRACES[k]}" 3000 "${REQS[k]}"; done >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response response
	wait_docs 7
	[ "$(dq '[.[] | select(.name == "init")] | length')" = 1 ]
	assert_tdoc "${ROOTS[0]}" init .trace_id "${ROOTS[0]}"
	first_next=$(rt_q '[.[] | select(.kind == "next")][0].t')
	start=$(tdoc "${ROOTS[0]}" init .start_time)
	end=$(tdoc "${ROOTS[0]}" init .end_time)
	handler_start=$(tdoc "${ROOTS[0]}" function.handler .start_time)
	# started after the test launched the bootstrap, ended before it first asked
	# for an event, so both times were given, not taken when begin/end ran
	float_ok "$start >= $RT_T0 - 0.002 && $start <= $end"
	float_ok "$end <= $first_next + 0.002 && $end < $handler_start"
	assert_tdoc "${ROOTS[0]}" init '[.fault, .error]' '[null,null]'
}

@test "runtime: a failing handler is posted to the error endpoint and recorded as a fault with its stack" {
	new_invocations 3
	event_line '{"customer":"alice"}' "${TRACES[0]}" 3000 "${REQS[0]}" >"$D/events"
	event_line '{"customer":"bob","fail":"out of stock"}' "${TRACES[1]}" 3000 "${REQS[1]}" >>"$D/events"
	event_line '{"customer":"carol"}' "${TRACES[2]}" 3000 "${REQS[2]}" >>"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response error response
	# the error post: Lambda's header and a JSON body with the two fields
	run -0 rt_q --arg r "${REQS[1]}" '.[] | select(.kind == "error" and .request_id == $r) |
		[.headers[] | select(.[0] | ascii_downcase == "lambda-runtime-function-error-type") | .[1]] | join(",")'
	assert_output Unhandled
	body=$(rt_q --arg r "${REQS[1]}" '.[] | select(.kind == "error" and .request_id == $r) | .body')
	run -0 jq -r '[.errorMessage, .errorType] | map(type == "string" and length > 0) | all' <<<"$body"
	assert_output true
	grep -q '^handler: refused: out of stock$' "$RT_ERR" || xs_die "the handler's stderr did not reach the log"

	wait_docs 10
	[ "$(names_of "${ROOTS[1]}")" = "STS function.handler validate" ]
	assert_tdoc "${ROOTS[1]}" function.handler .fault true
	assert_tdoc "${ROOTS[1]}" function.handler .metadata.process.exit_code 1
	# the ERR trap's exception: the failing command with its frames, innermost first
	fn_file=$TASK_ROOT/function.sh
	l_false=$(grep -n $'^\tfalse$' "$fn_file" | cut -d: -f1)
	l_call=$(grep -n 'refuse "$fail"' "$fn_file" | cut -d: -f1)
	l_boot=$(grep -n '"$fn" "$tmp/event"' "$BOOTSTRAP" | cut -d: -f1)
	[[ $l_false && $l_call && $l_boot ]] || xs_die "cannot find the marker lines in the example"
	want=$(jq -nc --arg f "$fn_file" --arg b "$BOOTSTRAP" --argjson a "$l_false" --argjson c "$l_call" \
		--argjson l "$l_boot" '{message: "false exited with status 1", type: "CommandFailed",
		stack: [{path: $f, line: $a, label: "refuse"}, {path: $f, line: $c, label: "handler"},
		        {path: $b, line: $l, label: "main"}]}')
	assert_tdoc "${ROOTS[1]}" function.handler \
		'[.cause.exceptions[] | select(.type == "CommandFailed") | {message, type, stack}]' "[$want]"
	assert_tdoc "${ROOTS[1]}" function.handler \
		'.cause.exceptions | map(.id | test("^[0-9a-f]{16}$")) | all' true
	# the invocations around it are untouched
	assert_invocation "${ROOTS[0]}" "${PARENTS[0]}" alice
	assert_invocation "${ROOTS[2]}" "${PARENTS[2]}" carol
	assert_tdoc "${ROOTS[2]}" function.handler .annotations.ColdStart false
	assert_rt_clean
}

@test "runtime: a handler past its deadline leaves timed-out subsegments, sent by the guard at deadline - 500 ms" {
	new_invocations 2
	event_line '{"customer":"slow","sleep":4}' "${TRACES[0]}" 2500 "${REQS[0]}" >"$D/events"
	event_line '{"customer":"next"}' "${TRACES[1]}" 3000 "${REQS[1]}" >>"$D/events"
	run_runtime "$D/events"
	wait_docs 8
	[ "$(names_of "${ROOTS[0]}")" = "STS function.handler init slow-call validate" ]
	deadline=$(rt_q '[.[] | select(.kind == "next")][0].reply_headers["Lambda-Runtime-Deadline-Ms"]')
	posted=$(rt_q --arg r "${REQS[0]}" '.[] | select(.method == "POST" and .request_id == $r) | .t')
	[[ $deadline =~ ^[0-9]{13}$ && -n $posted ]] || xs_die "emulator log incomplete: '$deadline' '$posted'"
	hid=$(tdoc "${ROOTS[0]}" function.handler .id | jq -r .)
	assert_tdoc "${ROOTS[0]}" slow-call .parent_id "$hid"
	assert_tdoc "${ROOTS[0]}" function.handler .parent_id "${PARENTS[0]}"
	for n in slow-call function.handler; do
		assert_tdoc "${ROOTS[0]}" "$n" .fault true
		assert_tdoc "${ROOTS[0]}" "$n" '[.cause.exceptions[] | {message, type}]' \
			'[{"message":"still open at the invocation deadline","type":"Timeout"}]'
		end=$(tdoc "${ROOTS[0]}" "$n" .end_time)
		# at deadline - 500 ms (not before, and soon after), long before the handler returned
		float_ok "$end >= ($deadline - 500) / 1000 - 0.002 && $end <= ($deadline - 500) / 1000 + 1.0"
		float_ok "$end < $posted - 1.0"
	done
	# innermost first
	[ "$(dq -c --arg r "${ROOTS[0]}" '[.[] | select(.trace_id == $r and (.name == "slow-call" or .name == "function.handler")) | .name]')" = \
		'["slow-call","function.handler"]' ]
	assert_tdoc "${ROOTS[0]}" validate .fault null
	assert_tdoc "${ROOTS[0]}" STS .fault null
	# the next invocation is an ordinary one
	assert_invocation "${ROOTS[1]}" "${PARENTS[1]}" next
	assert_tdoc "${ROOTS[1]}" function.handler .annotations.ColdStart false
	assert_rt_clean
}

@test "runtime: a failing aws call is recorded in its subsegment and the handler goes on" {
	export FAKE_AWS_ERROR=ExpiredTokenException FAKE_AWS_MESSAGE="The security token included in the request is expired"
	new_invocations 1
	event_line '{"customer":"dora"}' "${TRACES[0]}" 3000 "${REQS[0]}" >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response
	[ "$(rt_q '.[] | select(.kind == "response") | .body')" = '{"customer":"dora","account":"unknown"}' ]
	wait_docs 4
	assert_tdoc "${ROOTS[0]}" STS .error true
	assert_tdoc "${ROOTS[0]}" STS '[.cause.exceptions[].type]' '["ExpiredTokenException"]'
	assert_tdoc "${ROOTS[0]}" STS .metadata.process.exit_code 255
	assert_tdoc "${ROOTS[0]}" function.handler '[.fault, .error, .cause]' '[null,null,null]'
	assert_rt_clean
}

@test "runtime: the exported header is normalized for every SDK, and nothing leaks into the next invocation" {
	mkdir -p "$D/task"
	cat >"$D/task/probe.sh" <<-'EOF'
		handler() {
			printf '%s\n%s\n' "${_X_AMZN_TRACE_ID-(unset)}" "${TRACEPARENT-(unset)}"
		}
	EOF
	new_invocations 4
	lineage='a87bd80c:1|68fd508a:5'
	{
		event_line '{}' "Self=1-5759e988-bd862e3fe1be46a994272793;Root=${ROOTS[0]};;Parent=${PARENTS[0]}; Sampled=1;Lineage=$lineage;" 3000 "${REQS[0]}"
		event_line '{}' "Root=${ROOTS[1]};Parent=${PARENTS[1]};Sampled=0" 3000 "${REQS[1]}"
		event_line '{}' "Root=${ROOTS[2]};Lineage=$lineage" 3000 "${REQS[2]}"
		event_line '{}' "" 3000 "${REQS[3]}"
	} >"$D/events"
	RT_TASK_ROOT=$D/task RT_HANDLER=probe.handler run_runtime "$D/events"
	assert_rt_posts response response response response
	body() { rt_q --arg r "${REQS[$1]}" '.[] | select(.kind == "response" and .request_id == $r) | .body'; }
	hdr=$(body 0 | sed -n 1p)
	[ "$hdr" = "Root=${ROOTS[0]};Parent=${PARENTS[0]};Sampled=1;Lineage=$lineage" ]
	[ "$(body 0 | sed -n 2p)" = "$(tp_of "${ROOTS[0]}" "${PARENTS[0]}" 01)" ]
	# what the SDKs need (Python's rules are the strictest): no empty field, no
	# trailing ';', no spaces, every field KEY=VALUE
	[[ $hdr != *';' && $hdr != *';;'* && $hdr != *' '* ]] || xs_die "bad header: $hdr"
	IFS=';' read -ra fields <<<"$hdr"
	for f in "${fields[@]}"; do
		[[ $f =~ ^[A-Za-z]+=[^=]+ ]] || xs_die "field '$f' of '$hdr' is not KEY=VALUE"
	done
	if "$XS_PYTHON" -c 'import aws_xray_sdk' 2>/dev/null; then
		run -0 "$XS_PYTHON" -c '
import sys
from aws_xray_sdk.core.models.trace_header import TraceHeader
h = TraceHeader.from_header_str(sys.argv[1])
print(h.root, h.parent, h.sampled, h.data.get("Lineage"))' "$hdr"
		assert_output "${ROOTS[0]} ${PARENTS[0]} 1 $lineage"
	fi
	[ "$(body 1)" = "Root=${ROOTS[1]};Parent=${PARENTS[1]};Sampled=0"$'\n'"$(tp_of "${ROOTS[1]}" "${PARENTS[1]}" 00)" ]
	[ "$(body 2)" = "Root=${ROOTS[2]};Lineage=$lineage"$'\n(unset)' ]
	[ "$(body 3)" = $'(unset)\n(unset)' ]
	# only the first trace records: init and probe.handler
	wait_docs 2
	[ "$(names_of "${ROOTS[0]}")" = "init probe.handler" ]
	assert_rt_clean
}

@test "runtime: unsampled and pass-through invocations send nothing and leave no state" {
	new_invocations 3
	{
		event_line '{"customer":"a"}' "Root=${ROOTS[0]};Parent=${PARENTS[0]};Sampled=0" 3000 "${REQS[0]}"
		event_line '{"customer":"b"}' "Root=${ROOTS[1]};Lineage=a87bd80c:1|68fd508a:5" 3000 "${REQS[1]}"
		event_line '{"customer":"c"}' "${TRACES[2]}" 3000 "${REQS[2]}"
	} >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response response response
	assert_rt_no_warnings
	wait_docs 3
	[ "$(dq '[.[].trace_id] | unique | join(" ")')" = "${ROOTS[2]}" ]
	[ "$(names_of "${ROOTS[2]}")" = "STS function.handler validate" ]
	assert_rt_clean
}

@test "runtime: after an unsampled first invocation the sandbox is warm: the first recorded trace says ColdStart=false" {
	# "the first trace of this sandbox" is the first invocation's, recorded or not
	new_invocations 2
	{
		event_line '{"customer":"a"}' "Root=${ROOTS[0]};Parent=${PARENTS[0]};Sampled=0" 3000 "${REQS[0]}"
		event_line '{"customer":"b"}' "${TRACES[1]}" 3000 "${REQS[1]}"
	} >"$D/events"
	run_runtime "$D/events"
	assert_rt_posts response response
	wait_docs 3
	assert_tdoc "${ROOTS[1]}" function.handler .annotations.ColdStart false
}

@test "runtime: init errors go to /runtime/init/error and the bootstrap exits before asking for an event" {
	new_invocations 1
	event_line '{}' "${TRACES[0]}" 3000 "${REQS[0]}" >"$D/events"
	for h in nosuch.handler function.nosuch nodot; do
		RT_HANDLER=$h run_runtime "$D/events"
		((RT_STATUS == 1)) || xs_die "_HANDLER=$h: exit status $RT_STATUS, expected 1"
		run -0 rt_q -c '[.[] | {kind, status}]'
		assert_output '[{"kind":"init-error","status":202}]'
		run -0 rt_q '.[0] | [.headers[] | select(.[0] | ascii_downcase == "lambda-runtime-function-error-type") | .[1]] | join(",")'
		assert_output Unhandled
		run -0 rt_q '.[0].body | fromjson | [.errorMessage, .errorType] | map(type == "string" and length > 0) | all'
		assert_output true
	done
	assert_no_datagrams
}

@test "runtime: xray-seg is found next to the bootstrap when it is not on PATH, else an init error" {
	local path=$FAKEBIN:/usr/bin:/bin
	PATH=$path command -v xray-seg >/dev/null && xs_die "harness: xray-seg is installed in /usr/bin or /bin"
	mkdir -p "$D/var-task"
	cp "$BOOTSTRAP" "$TASK_ROOT/function.sh" "$D/var-task/"
	new_invocations 1
	event_line '{"customer":"nearby"}' "${TRACES[0]}" 3000 "${REQS[0]}" >"$D/events"
	RT_PATH=$path RT_BOOTSTRAP=$D/var-task/bootstrap RT_TASK_ROOT=$D/var-task run_runtime "$D/events"
	run -0 rt_q -c '[.[] | {kind, status}]'
	assert_output '[{"kind":"init-error","status":202}]'
	run -0 rt_q '.[0].body | fromjson | .errorType'
	assert_output Runtime.XraySegNotFound
	ln -s "$(realpath "$XRAY_SEG")" "$D/var-task/xray-seg"
	RT_PATH=$path RT_BOOTSTRAP=$D/var-task/bootstrap RT_TASK_ROOT=$D/var-task run_runtime "$D/events"
	assert_rt_posts response
	wait_docs 4
	[ "$(names_of "${ROOTS[0]}")" = "STS function.handler init validate" ]
}

# --- context --from-headers ----------------------------------------------------------

# head_file FILE LINE...: an HTTP response head as curl -D writes it: the
# LINEs, then an empty line, each ended by CRLF.
head_file() {
	local f=$1
	shift
	printf '%s\r\n' "$@" "" >"$f"
}

# after_eval CODE: eval CODE in a shell where the four variables hold stale
# exported values; print, for each, NAME=VALUE, or NAME (unset), or NAME (not exported).
after_eval() {
	(
		export _X_AMZN_TRACE_ID=stale TRACEPARENT=stale XRAY_SEG_REQUEST_ID=stale XRAY_SEG_DEADLINE_MS=stale
		eval "$1" || echo "eval failed: $?"
		for v in _X_AMZN_TRACE_ID TRACEPARENT XRAY_SEG_REQUEST_ID XRAY_SEG_DEADLINE_MS; do
			if printenv "$v" >/dev/null; then
				echo "$v=$(printenv "$v")"
			elif [[ -v $v ]]; then
				echo "$v (not exported)"
			else
				echo "$v (unset)"
			fi
		done
	)
}

# assert_shell_code: every line of $output is `export NAME='VALUE'` or `unset NAME...`.
assert_shell_code() {
	local l re_x="^export [A-Za-z_][A-Za-z0-9_]*='([^']|'\\\\'')*'\$" re_u='^unset( [A-Za-z_][A-Za-z0-9_]*)+$'
	for l in "${lines[@]}"; do
		[[ $l =~ $re_x || $l =~ $re_u ]] || xs_die "not an export or unset line: $l"
	done
}

# from_headers FILE: run `context --from-headers FILE` (exit 0, shell code only).
from_headers() {
	run -0 --separate-stderr xs context --from-headers "$1"
	assert_shell_code
}

std_head() {
	head_file "$1" 'HTTP/1.1 200 OK' 'Content-Type: application/json' \
		"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd" \
		'Lambda-Runtime-Deadline-Ms: 1796173069781' \
		'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime' \
		"Lambda-Runtime-Trace-Id: Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5" \
		'Date: Wed, 02 Dec 2026 00:57:46 GMT' 'Content-Length: 2'
}

@test "context --from-headers: the five exports, single-quoted, from a curl -D file" {
	new_ids
	std_head "$D/h"
	from_headers "$D/h"
	assert_stderr_empty
	exports=$(grep '^export ' <<<"$output" | sort)
	# the first invocation of this state directory: a cold start
	[ "$exports" = "$(printf '%s\n' \
		"export TRACEPARENT='$(tp_of "$ROOT" "$PARENT" 01)'" \
		"export XRAY_SEG_COLD_START='true'" \
		"export XRAY_SEG_DEADLINE_MS='1796173069781'" \
		"export XRAY_SEG_REQUEST_ID='8476a536-e9f4-11e8-9739-2dfe598c3fcd'" \
		"export _X_AMZN_TRACE_ID='Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5'" | sort)" ] ||
		xs_die "exports: $output"
	run -0 --separate-stderr xs context --from-headers "$D/h"
	run -0 after_eval "$output"
	assert_output "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5
TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 01)
XRAY_SEG_REQUEST_ID=8476a536-e9f4-11e8-9739-2dfe598c3fcd
XRAY_SEG_DEADLINE_MS=1796173069781"
	# a real curl -D file from the emulator gives the same
	rid=$(uuid)
	echo "{\"trace\":\"Root=$ROOT;Parent=$PARENT;Sampled=1\",\"request_id\":\"$rid\"}" >"$D/events"
	"$XS_PYTHON" "$XS_HELPERS/runtime-api.py" --events "$D/events" --log "$D/api.log" \
		--port-file "$D/port" --max-seconds 20 </dev/null >/dev/null 2>&1 3>&- &
	api=$!
	reap_later "$api"
	wait_file "$D/port"
	curl -sS -m 10 -D "$D/curl-h" -o /dev/null "http://127.0.0.1:$(<"$D/port")/2018-06-01/runtime/invocation/next"
	kill "$api"
	wait "$api" || true
	from_headers "$D/curl-h"
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1"
	assert_line --index 2 "XRAY_SEG_REQUEST_ID=$rid"
	[[ ${lines[3]} =~ ^XRAY_SEG_DEADLINE_MS=[0-9]{13}$ ]] || xs_die "deadline: ${lines[3]}"
}

@test "context --from-headers: LF line ends and any case of the names read the same" {
	new_ids
	std_head "$D/crlf"
	from_headers "$D/crlf"
	crlf=$(after_eval "$output")
	tr -d '\r' <"$D/crlf" >"$D/lf"
	from_headers "$D/lf"
	[ "$(after_eval "$output")" = "$crlf" ]
	sed -e 's/^Lambda-Runtime-Aws-Request-Id/lambda-runtime-aws-request-id/' \
		-e 's/^Lambda-Runtime-Deadline-Ms/LAMBDA-RUNTIME-DEADLINE-MS/' \
		-e 's/^Lambda-Runtime-Trace-Id/lambda-RUNTIME-trace-ID/' "$D/crlf" >"$D/case"
	grep -q '^lambda-RUNTIME-trace-ID: Root' "$D/case" || xs_die "harness: sed did not rename"
	from_headers "$D/case"
	[ "$(after_eval "$output")" = "$crlf" ]
	# no blank after the colon, and blanks around the value
	sed -e 's/^\(Lambda-Runtime-Aws-Request-Id:\) /\1/' -e 's/^\(Lambda-Runtime-Deadline-Ms:\) \(.*\)\r$/\1  \2  \r/' \
		"$D/crlf" >"$D/ows"
	from_headers "$D/ows"
	[ "$(after_eval "$output")" = "$crlf" ]
}

@test "context --from-headers: with several responses in the file, only the last one's headers count" {
	new_ids
	old_root=$ROOT old_parent=$PARENT
	new_ids
	head_file "$D/h" 'HTTP/1.1 100 Continue' '' 'HTTP/1.1 307 Temporary Redirect' \
		'Lambda-Runtime-Aws-Request-Id: 11111111-2222-3333-4444-555555555555' 'Lambda-Runtime-Deadline-Ms: 1796173000000' \
		"Lambda-Runtime-Trace-Id: Root=$old_root;Parent=$old_parent;Sampled=1" 'Location: /next' '' \
		'HTTP/1.1 200 OK' 'Lambda-Runtime-Aws-Request-Id: 66666666-7777-8888-9999-aaaaaaaaaaaa' \
		"Lambda-Runtime-Trace-Id: Root=$ROOT;Parent=$PARENT;Sampled=1"
	from_headers "$D/h"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_output "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1
TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 01)
XRAY_SEG_REQUEST_ID=66666666-7777-8888-9999-aaaaaaaaaaaa
XRAY_SEG_DEADLINE_MS (unset)"
}

@test "context --from-headers: absent headers unset their variables, silently" {
	head_file "$D/h" 'HTTP/1.1 200 OK' 'Lambda-Runtime-Aws-Request-Id: 0c2b0f4e-5d1a-4c7e-9b1f-2a3b4c5d6e7f' 'Content-Length: 2'
	from_headers "$D/h"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_output "_X_AMZN_TRACE_ID (unset)
TRACEPARENT (unset)
XRAY_SEG_REQUEST_ID=0c2b0f4e-5d1a-4c7e-9b1f-2a3b4c5d6e7f
XRAY_SEG_DEADLINE_MS (unset)"
	head_file "$D/empty" 'HTTP/1.1 200 OK'
	from_headers "$D/empty"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_output "_X_AMZN_TRACE_ID (unset)
TRACEPARENT (unset)
XRAY_SEG_REQUEST_ID (unset)
XRAY_SEG_DEADLINE_MS (unset)"
}

@test "context --from-headers: an invalid trace header is one warning and unsets both trace variables" {
	new_ids
	for bad in "garbage" "Root=1-zzzz;Parent=$PARENT;Sampled=1" "Root=$ROOT;Parent=12345;Sampled=1"; do
		head_file "$D/h" 'HTTP/1.1 200 OK' 'Lambda-Runtime-Aws-Request-Id: 8476A536-E9F4-11E8-9739-2DFE598C3FCD' \
			'Lambda-Runtime-Deadline-Ms: 1796173069781' "Lambda-Runtime-Trace-Id: $bad"
		from_headers "$D/h"
		assert_one_line_stderr 'xray-seg: warning: context: '
		run -0 after_eval "$output"
		assert_output "_X_AMZN_TRACE_ID (unset)
TRACEPARENT (unset)
XRAY_SEG_REQUEST_ID=8476A536-E9F4-11E8-9739-2DFE598C3FCD
XRAY_SEG_DEADLINE_MS=1796173069781"
	done
}

@test "context --from-headers: an unreadable file is one warning, everything unset, exit 0" {
	for f in "$D/missing" "$D"; do
		from_headers "$f"
		[[ -n $stderr ]] || xs_die "context --from-headers $f: no warning"
		assert_one_line_stderr 'xray-seg: warning: context: '
		run -0 after_eval "$output"
		assert_output "_X_AMZN_TRACE_ID (unset)
TRACEPARENT (unset)
XRAY_SEG_REQUEST_ID (unset)
XRAY_SEG_DEADLINE_MS (unset)"
	done
}

@test "context --from-headers: the header is normalized (Self dropped, no empty field, no trailing ';')" {
	new_ids
	head_file "$D/h" 'HTTP/1.1 200 OK' 'Lambda-Runtime-Aws-Request-Id: r' \
		"Lambda-Runtime-Trace-Id: Self=1-67891234-abcdef012345678912345678;Lineage=a87bd80c:1|68fd508a:5;;Sampled=1; Parent=$PARENT;Root=$ROOT;"
	from_headers "$D/h"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
	assert_line --index 1 "TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 01)"
}

@test "context --from-headers: Sampled=0 gives flags 00; no Parent (pass-through) exports no TRACEPARENT" {
	new_ids
	head_file "$D/h" 'HTTP/1.1 200 OK' "Lambda-Runtime-Trace-Id: Root=$ROOT;Parent=$PARENT;Sampled=0"
	from_headers "$D/h"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=0"
	assert_line --index 1 "TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 00)"
	head_file "$D/h" 'HTTP/1.1 200 OK' "Lambda-Runtime-Trace-Id: Root=$ROOT;Lineage=a87bd80c:1|68fd508a:5"
	from_headers "$D/h"
	assert_stderr_empty
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Lineage=a87bd80c:1|68fd508a:5"
	assert_line --index 1 "TRACEPARENT (unset)"
}

@test "context --from-headers: quotes and shell syntax in values are never run" {
	new_ids
	head_file "$D/h" 'HTTP/1.1 200 OK' "Lambda-Runtime-Aws-Request-Id: x'; touch $D/pwned1; '" \
		"Lambda-Runtime-Deadline-Ms: \$(touch $D/pwned2)" \
		"Lambda-Runtime-Trace-Id: Root=$ROOT;Parent=$PARENT;Sampled=1;Note=it's'\$(touch $D/pwned3)"
	run -0 --separate-stderr xs context --from-headers "$D/h"
	code=$output
	run -0 after_eval "$code"
	[[ ! -e $D/pwned1 && ! -e $D/pwned2 && ! -e $D/pwned3 ]] || xs_die "eval ran a command from a header: $code"
	# each value arrives intact or not at all
	for l in "${lines[@]}"; do
		case $l in
		XRAY_SEG_REQUEST_ID=*) [ "$l" = "XRAY_SEG_REQUEST_ID=x'; touch $D/pwned1; '" ] ;;
		XRAY_SEG_DEADLINE_MS=*) xs_die "a non-numeric deadline was exported: $l" ;;
		_X_AMZN_TRACE_ID=*) [ "$l" = "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1;Note=it's'\$(touch $D/pwned3)" ] ;;
		esac
	done
}

# --- context --from-env and plain context ------------------------------------------

@test "context --from-env: AWS_LAMBDA_TRACE_ID, as exports of the two variables" {
	new_ids
	export AWS_LAMBDA_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
	TRACEPARENT=00-$(hex 32)-$(hex 16)-01 # AWS_LAMBDA_TRACE_ID wins
	export TRACEPARENT
	run -0 --separate-stderr xs context --from-env
	assert_stderr_empty
	assert_shell_code
	run -0 grep -c . <<<"$output"
	assert_output 2
	run -0 xs context --from-env
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
	assert_line --index 1 "TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 01)"
}

@test "context --from-env: TRACEPARENT is converted, Sampled from the flags' low bit" {
	for flags in 01 00 03 02; do
		t=$(hex 32) p=$(hex 16)
		export TRACEPARENT=00-$t-$p-$flags
		run -0 --separate-stderr xs context --from-env
		assert_stderr_empty
		assert_shell_code
		run -0 after_eval "$output"
		assert_line --index 0 "_X_AMZN_TRACE_ID=Root=1-${t:0:8}-${t:8:24};Parent=$p;Sampled=$((16#$flags & 1))"
		if [[ $flags == 0[01] ]]; then
			assert_line --index 1 "TRACEPARENT=00-$t-$p-$flags"
		fi
	done
}

@test "context: the current _X_AMZN_TRACE_ID, normalized, as exports" {
	new_ids
	export _X_AMZN_TRACE_ID="Self=1-67891234-abcdef012345678912345678;Root=$ROOT;;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5;"
	run -0 --separate-stderr xs context
	assert_stderr_empty
	assert_shell_code
	run -0 after_eval "$output"
	assert_line --index 0 "_X_AMZN_TRACE_ID=Root=$ROOT;Parent=$PARENT;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
	assert_line --index 1 "TRACEPARENT=$(tp_of "$ROOT" "$PARENT" 01)"
}

# --- ColdStart and Service --------------------------------------------------------------

@test "ColdStart: true on the first subsegment of the sandbox's first trace, false on each later trace's first" {
	lambda_ctx
	r1=$ROOT
	xs_ok begin a >/dev/null
	xs_ok begin b >/dev/null
	xs_quiet end
	xs_quiet end
	xs_ok exec --name c -- true
	lambda_ctx
	r2=$ROOT
	xs_ok exec --name d -- true
	xs_ok begin e >/dev/null
	xs_quiet end
	lambda_ctx
	xs_ok begin f >/dev/null
	xs_quiet end
	wait_docs 6
	run -0 cold_starts
	assert_output "$(printf '%s\n' "$r1 a true" "$r2 d false" "$ROOT f false" | sort)"
}

@test "ColdStart: provisioned concurrency and SnapStart are never cold; on-demand is" {
	for t in provisioned-concurrency snap-start on-demand; do
		export XRAY_SEG_STATE_DIR=$D/state-$t AWS_LAMBDA_INITIALIZATION_TYPE=$t
		lambda_ctx
		xs_ok begin "first-$t" >/dev/null
		xs_quiet end
	done
	wait_docs 3
	assert_doc first-provisioned-concurrency .annotations.ColdStart false
	assert_doc first-snap-start .annotations.ColdStart false
	assert_doc first-on-demand .annotations.ColdStart true
}

@test "Service: POWERTOOLS_SERVICE_NAME on the first subsegment of each trace only; none outside Lambda" {
	export POWERTOOLS_SERVICE_NAME=checkout
	lambda_ctx
	xs_ok begin s1 >/dev/null
	xs_ok begin s2 >/dev/null
	xs_quiet end
	xs_quiet end
	lambda_ctx
	xs_ok begin s3 >/dev/null
	xs_quiet end
	unset AWS_LAMBDA_FUNCTION_NAME
	lambda_ctx
	xs_ok begin outside >/dev/null
	xs_quiet end
	wait_docs 4
	assert_doc_json s1 .annotations '{"ColdStart":true,"Service":"checkout"}'
	assert_doc s2 .annotations null
	assert_doc_json s3 .annotations '{"ColdStart":false,"Service":"checkout"}'
	assert_doc outside .annotations null
}

# --- --start-time / --end-time --------------------------------------------------------------

@test "--start-time/--end-time: seconds, fractions of any length (microseconds kept), milliseconds" {
	lambda_ctx
	s=$((EPOCHSECONDS - 100))
	local -a forms=("$s" "$s.5" "$s.123" "$s.1234564" "$s.123456789" "${s}250" "$(date +%s)" "$(date +%s.%N)" "$(date +%s%3N)")
	for n in "${!forms[@]}"; do
		xs_ok begin --start-time "${forms[n]}" "t$n" >/dev/null
		xs_quiet end --end-time "$((s + 200))"
	done
	wait_docs ${#forms[@]}
	for n in "${!forms[@]}"; do
		v=${forms[n]}
		# the value in seconds, by awk: 13 digits or more without a point are milliseconds
		want=$(awk -v v="$v" 'BEGIN { if (v !~ /\./ && length(v) >= 13) v = v / 1000; printf "%.6f", v }')
		got=$(dget "t$n" .start_time)
		float_ok "$got - $want < 0.0000015 && $want - $got < 0.0000015"
		assert_doc "t$n" .end_time "$((s + 200))"
	done
	# microseconds: the 7th digit on does not matter, the 6th does
	float_ok "$(dget t3 .start_time) - $s.123456 < 0.0000005 && $s.123456 - $(dget t3 .start_time) < 0.0000005"
}

@test "--start-time/--end-time: microseconds, nanoseconds (date +%s%N) and RFC 3339 with a zone (issue 14)" {
	lambda_ctx
	local s=$((EPOCHSECONDS - 100)) iso
	iso=$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S)
	local -a forms=("${s}123456" "${s}123456789" "$iso.25Z" "${iso}z" "$(date -d "@$s" +%Y-%m-%dT%H:%M:%S.125+00:00)"
		"$(TZ=Etc/GMT-2 date -d "@$s" '+%Y-%m-%d %H:%M:%S+02:00')")
	local -a want=("$s.123456" "$s.123456" "$s.25" "$s" "$s.125" "$s")
	for n in "${!forms[@]}"; do
		xs_ok begin --start-time "${forms[n]}" "t$n" >/dev/null
		xs_quiet end --end-time "$((s + 200))"
	done
	wait_docs ${#forms[@]}
	for n in "${!forms[@]}"; do
		float_ok "$(dget "t$n" .start_time) == ${want[n]}"
	done
	# without a zone, with a short field, or a sign where a digit goes: usage errors
	for v in "$iso" "$iso.5" "${iso}+2:00" "${iso}Zx" " ${iso}Z" "${iso:0:5}+1${iso:7}Z" "${s}12345678901"; do
		run --separate-stderr xs begin --start-time "$v" bad
		((status == 2)) || xs_die "--start-time '$v' was taken: exit $status"
	done
}

@test "--start-time/--end-time: anything else, before 2000 and more than a day ahead are usage errors" {
	lambda_ctx
	now=$EPOCHSECONDS
	local -a bad=(abc '' ' 1700000000' '1700000000 ' +1700000000 -1700000000 1.7e9 0x65a0bc00
		'1700000000,5' 1.2.3 .5 946684799 946684799999 $((now + 86400 + 600)) "$((now + 86400 + 600))000"
		990000000000 1797n23 2026-12-08T0)
	# every value is tried, and all that are accepted are listed
	local accepted=()
	for v in "${bad[@]}"; do
		run --separate-stderr xs begin --start-time "$v" bad
		if ((status == 2)); then
			assert_usage_error
		else
			accepted+=("begin --start-time '$v': exit $status")
			[[ $output =~ $HEX16_RE ]] && xs end "$output" 2>/dev/null
		fi
	done
	xs_ok begin open >/dev/null
	for v in "${bad[@]}"; do
		run --separate-stderr xs end --end-time "$v"
		if ((status == 2)); then
			assert_usage_error
		else
			accepted+=("end --end-time '$v': exit $status")
			xs_ok begin open >/dev/null
		fi
	done
	((${#accepted[@]} == 0)) || xs_die "accepted, expected exit 2:
$(printf '%s\n' "${accepted[@]}")"
	assert_no_datagrams
	# the edges that are accepted: 2000-01-01 and less than a day ahead
	xs_ok begin --start-time 946684800 y2k >/dev/null
	xs_quiet end --end-time $((now + 86400 - 600))
	xs_quiet end
	wait_docs 2
	assert_doc y2k .start_time 946684800
	assert_doc y2k .end_time $((now + 86400 - 600))
}

@test "--end-time before the start: a warning, and the start time is used" {
	lambda_ctx
	s=$((EPOCHSECONDS - 50))
	xs_ok begin --start-time "$s.25" early >/dev/null
	run -0 --separate-stderr xs end --end-time $((s - 10))
	assert_warning
	assert_output ''
	wait_docs 1
	assert_doc early .start_time "$s.25"
	assert_doc early .end_time "$s.25"
}

# --- --in-progress ------------------------------------------------------------------------------

@test "begin --in-progress: an in_progress document at once, then the complete one with the same id" {
	lambda_ctx
	t0=$EPOCHREALTIME
	id=$(xs_ok begin --in-progress work)
	wait_all_docs 1
	[ "$(dq -c '.[0] | [.id, .name, .trace_id, .parent_id, .type, .in_progress, has("end_time")]')" = \
		"[\"$id\",\"work\",\"$ROOT\",\"$PARENT\",\"subsegment\",true,false]" ]
	float_ok "$(dq '.[0].start_time') >= $t0 - 0.001"
	xs_quiet end
	wait_all_docs 2
	[ "$(dq -c '.[1] | [.id, .in_progress // false, has("end_time")]')" = "[\"$id\",false,true]" ]
	[ "$(dq '.[0].start_time == .[1].start_time')" = true ]
	assert_no_state_dirs
}

@test "exec --in-progress and XRAY_SEG_IN_PROGRESS=1 send in_progress first; without them nothing at begin" {
	lambda_ctx
	xs_ok exec --in-progress --name job -- sh -c \
		'n=0; while [ ! -f "$1" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done' sh "$D/go" &
	job=$!
	reap_later "$job"
	wait_all_docs 1
	[ "$(dq -c '.[0] | [.name, .in_progress]')" = '["job",true]' ]
	touch "$D/go"
	wait "$job"
	wait_all_docs 2
	[ "$(dq -c '.[1] | [.name, .in_progress // false, .metadata.process.exit_code]')" = '["job",false,0]' ]
	XRAY_SEG_IN_PROGRESS=1 xs_ok begin envwise >/dev/null
	wait_all_docs 3
	[ "$(dq -c '.[2] | [.name, .in_progress]')" = '["envwise",true]' ]
	xs_quiet end
	xs_ok begin plain >/dev/null
	XRAY_SEG_IN_PROGRESS=0 xs_ok begin plain0 >/dev/null
	wait_all_docs 4
	xs_quiet end
	xs_quiet end
	wait_all_docs 6
	[ "$(dq '[.[] | select(.in_progress == true) | .name] | join(" ")')" = "job envwise" ]
}

@test "begin --in-progress that cannot be sent: one warning, and it is not kept" {
	lambda_ctx
	start_sink --name probe
	dead=$(sink_port probe)
	stop_sink probe
	good=$AWS_XRAY_DAEMON_ADDRESS
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$dead
	run -0 --separate-stderr xs begin --in-progress lost
	assert_warning
	assert_id_output
	id=$output
	export AWS_XRAY_DAEMON_ADDRESS=$good
	xs_quiet end
	xs_quiet send
	wait_all_docs 1
	[ "$(dq -c '.[0] | [.id, .in_progress // false, has("end_time")]')" = "[\"$id\",false,true]" ]
}

# assert_no_state_dirs: no trace directory holds more than a finished trace
# keeps until the next one starts (see trace_left).
assert_no_state_dirs() {
	local left
	left=$(left_traces)
	[[ -z $left ]] || xs_die "trace state left: $left"
}

# --- exception -------------------------------------------------------------------------------------

@test "exception: one entry of cause.exceptions with id, message, type and stack; fault; exit code" {
	lambda_ctx
	xs_ok begin work >/dev/null
	xs_quiet exception --type ValueError --exit-code 4 --frame lib/a.sh:10:parse \
		--frame main.sh:20:main 'bad value: "x"'
	xs_quiet end
	wait_docs 1
	assert_doc work .fault true
	assert_doc work .metadata.process.exit_code 4
	assert_doc work '.cause.exceptions | length' 1
	assert_doc work '.cause.exceptions[0].id | test("^[0-9a-f]{16}$")' true
	assert_doc_json work '.cause.exceptions[0] | del(.id)' \
		'{"message":"bad value: \"x\"","type":"ValueError","stack":[{"path":"lib/a.sh","line":10,"label":"parse"},{"path":"main.sh","line":20,"label":"main"}]}'
}

@test "exception: entries add up in order; --id picks the target; nothing open is a warning" {
	lambda_ctx
	outer=$(xs_ok begin outer)
	xs_ok begin inner >/dev/null
	xs_quiet exception first
	xs_quiet exception --type T2 second
	xs_quiet exception --id "$outer" for-outer
	xs_quiet end
	xs_quiet end
	wait_docs 2
	assert_doc inner '[.cause.exceptions[].message]' '["first","second"]'
	assert_doc inner '[.cause.exceptions[].id] | unique | length' 2
	assert_doc inner .fault true
	assert_doc outer '[.cause.exceptions[].message]' '["for-outer"]'
	assert_doc outer .fault true
	run -0 --separate-stderr xs exception nowhere
	assert_warning
	assert_datagrams 2
}

@test "exception MESSAGE and end --cause from @FILE and stdin, without the trailing newline; unreadable: a warning (issue 14)" {
	lambda_ctx
	printf 'make: *** [all] Error 2\nsee build.log\n\n' >"$BATS_TEST_TMPDIR/err.txt"
	xs_ok begin work >/dev/null
	xs_quiet exception "@$BATS_TEST_TMPDIR/err.txt"
	printf 'from stdin\n' | xs_quiet exception -
	run -0 --separate-stderr xs exception "@$BATS_TEST_TMPDIR/missing.txt"
	assert_warning
	[[ $stderr == *"cannot read MESSAGE from $BATS_TEST_TMPDIR/missing.txt: No such file or directory"* ]] ||
		xs_die "$stderr"
	printf 'timed out\n' | xs_quiet end --cause -
	xs_ok begin other >/dev/null
	run -0 --separate-stderr xs end --cause "@$BATS_TEST_TMPDIR/missing.txt" --error
	assert_warning
	wait_docs 2
	assert_doc work '[.cause.exceptions[].message]' '["make: *** [all] Error 2\nsee build.log","from stdin","timed out"]'
	# the subsegment ends all the same, without the cause it could not read
	assert_doc other '[.error, has("cause")]' '[true,false]'
}

@test "exception: usage errors" {
	lambda_ctx
	xs_ok begin work >/dev/null
	expect_usage exception
	expect_usage exception --exit-code 256 m
	expect_usage exception --exit-code x m
	expect_usage exception --frame just-a-path m
	expect_usage exception --frame a.sh:ten:f m
	expect_usage exception --id nothex m
	xs_quiet end
	wait_docs 1
	assert_doc work .cause null
}

# --- errtrap -------------------------------------------------------------------------------------------

@test "errtrap: valid bash that sets errtrace and an ERR trap calling __xray_seg_err" {
	run -0 --separate-stderr xs errtrap
	assert_stderr_empty
	code=$output
	run -0 bash -n <<<"$code"
	run -0 bash -c 'eval "$1"; declare -F __xray_seg_err; shopt -qo errtrace && echo errtrace; trap -p ERR' _ "$code"
	assert_line --index 0 __xray_seg_err
	assert_line --index 1 errtrace
	[[ ${lines[2]} == "trap -- '__xray_seg_err"* ]] || xs_die "ERR trap: ${lines[2]}"
}

@test "errtrap: each failing command is an exception with the frames of FUNCNAME/BASH_SOURCE/BASH_LINENO; \$? kept" {
	lambda_ctx
	cat >"$D/lib.sh" <<-'EOF'
		inner() {
			sh -c 'exit 5'
			echo "inner saw $?"
		}
	EOF
	cat >"$D/main.sh" <<-EOF
		source "$D/lib.sh"
		eval "\$(xray-seg errtrap)"
		outer() {
			inner
			echo "outer saw \$?"
		}
		xray-seg begin errs >/dev/null
		outer
		sh -c 'exit 3'
		echo "main saw \$?"
		xray-seg end
	EOF
	# the lines the frames must name, read from the scripts
	[ "$(sed -n 2p "$D/lib.sh")" = "sh -c 'exit 5'" ]
	[ "$(sed -n 4p "$D/main.sh")" = "inner" ]
	[ "$(sed -n 8p "$D/main.sh")" = "outer" ]
	[ "$(sed -n 9p "$D/main.sh")" = "sh -c 'exit 3'" ]
	run -0 --separate-stderr bash "$D/main.sh"
	assert_stderr_empty
	assert_output $'inner saw 5\nouter saw 0\nmain saw 3'
	wait_docs 1
	assert_doc errs .fault true
	assert_doc errs .metadata.process.exit_code 3
	assert_doc_json errs '[.cause.exceptions[] | del(.id)]' "$(jq -nc --arg l "$D/lib.sh" --arg m "$D/main.sh" '[
		{message: "sh -c '"'exit 5'"' exited with status 5", type: "CommandFailed",
		 stack: [{path: $l, line: 2, label: "inner"}, {path: $m, line: 4, label: "outer"},
		         {path: $m, line: 8, label: "main"}]},
		{message: "sh -c '"'exit 3'"' exited with status 3", type: "CommandFailed",
		 stack: [{path: $m, line: 9, label: "main"}]}]')"
}

@test "errtrap: a later failure of the same command one level up is its own; a propagated one is not; a pipeline is named as one (issue 14)" {
	lambda_ctx
	cat >"$D/twice.sh" <<-'EOF'
		eval "$(xray-seg errtrap)"
		set -E
		xray-seg begin errs >/dev/null
		inner() { false; true; }; outer() { inner; false; }
		outer
		f2() { false; }; g2() { f2; }; h2() { g2; }
		h2
		set -o pipefail; false | cat
		xray-seg end
	EOF
	run -0 --separate-stderr bash "$D/twice.sh"
	assert_stderr_empty
	wait_docs 1
	assert_doc_json errs '[.cause.exceptions[] | {message, labels: [.stack[].label]}]' '[
		{"message": "false exited with status 1", "labels": ["inner", "outer", "main"]},
		{"message": "false exited with status 1", "labels": ["outer", "main"]},
		{"message": "false exited with status 1", "labels": ["f2", "g2", "h2", "main"]},
		{"message": "pipeline ending in '"'cat'"' exited with status 1 (PIPESTATUS 1 0)", "labels": ["main"]}]'
}

@test "errtrap: under set -e the first failure is recorded once and the script stops with its status" {
	lambda_ctx
	cat >"$D/strict.sh" <<-'EOF'
		set -e
		eval "$(xray-seg errtrap)"
		step() {
			grep -q needle /dev/null
		}
		xray-seg begin strict >/dev/null
		step
		echo unreachable
	EOF
	run -1 --separate-stderr bash "$D/strict.sh"
	assert_output ''
	assert_stderr_empty
	xs_quiet end
	wait_docs 1
	assert_doc_json strict '[.cause.exceptions[] | del(.id)]' "$(jq -nc --arg s "$D/strict.sh" '[
		{message: "grep -q needle /dev/null exited with status 1", type: "CommandFailed",
		 stack: [{path: $s, line: 4, label: "step"}, {path: $s, line: 7, label: "main"}]}]')"
	assert_doc strict .metadata.process.exit_code 1
}

# --- guard ------------------------------------------------------------------------------------------------

@test "guard: a deadline in the past ends every open subsegment of the trace at once, innermost first" {
	lambda_ctx
	outer=$(xs_ok begin outer)
	inner=$(xs_ok begin inner)
	t0=$EPOCHREALTIME
	run -0 --separate-stderr timeout 10 "$XRAY_SEG" guard --deadline $(($(now_ms) - 1000))
	t1=$EPOCHREALTIME
	# the contract names no output here; one warning line for the log is allowed
	[[ -z $stderr ]] || assert_warning
	assert_output ''
	float_ok "$t1 - $t0 < 2"
	wait_docs 2
	[ "$(dq -c '[.[].name]')" = '["inner","outer"]' ]
	for n in inner outer; do
		assert_doc "$n" .fault true
		assert_doc_json "$n" '[.cause.exceptions[] | {message, type}]' \
			'[{"message":"still open at the invocation deadline","type":"Timeout"}]'
		end=$(dget "$n" .end_time)
		float_ok "$end >= $t0 - 0.001 && $end <= $t1 + 0.001"
	done
	assert_doc inner .id "$inner"
	assert_doc inner .parent_id "$outer"
	assert_doc outer .parent_id "$PARENT"
	assert_no_state_dirs
	run -0 --separate-stderr xs end
	assert_warning
	assert_datagrams 2
}

@test "guard: killed before the deadline it exits 0 and does nothing" {
	lambda_ctx
	xs_ok begin survivor >/dev/null
	"$XRAY_SEG" guard --deadline $(($(now_ms) + 5000)) 2>"$D/guard.err" &
	g=$!
	reap_later "$g"
	_nap 0.3
	kill -TERM "$g"
	for ((n = 0; n < 200; n++)); do kill -0 "$g" 2>/dev/null || break; _nap 0.01; done
	kill -0 "$g" 2>/dev/null && xs_die "the guard still runs 2 s after SIGTERM"
	rc=0
	wait "$g" || rc=$?
	((rc == 0)) || xs_die "killed guard exited $rc"
	[[ ! -s $D/guard.err ]] || xs_die "guard stderr: $(cat "$D/guard.err")"
	assert_no_datagrams
	xs_quiet end
	wait_docs 1
	assert_doc survivor '[.fault, .cause]' '[null,null]'
}

@test "guard: sleeps until deadline - margin; the deadline defaults to XRAY_SEG_DEADLINE_MS, the margin to 500" {
	lambda_ctx
	xs_ok begin m1 >/dev/null
	dl=$(($(now_ms) + 1300))
	timeout 10 "$XRAY_SEG" guard --deadline "$dl" --margin 1000
	wait_docs 1
	float_ok "$(dget m1 .end_time) >= ($dl - 1000) / 1000 - 0.002"
	float_ok "$EPOCHREALTIME < ($dl - 1000) / 1000 + 1.5"
	lambda_ctx
	xs_ok begin m2 >/dev/null
	export XRAY_SEG_DEADLINE_MS=$(($(now_ms) + 1500))
	"$XRAY_SEG" guard &
	g=$!
	reap_later "$g"
	_nap 0.5 # deadline - 1000 ms: still asleep
	assert_datagrams 1
	for ((n = 0; n < 500; n++)); do kill -0 "$g" 2>/dev/null || break; _nap 0.01; done
	kill -0 "$g" 2>/dev/null && xs_die "the guard still runs 4 s after its deadline"
	wait "$g"
	wait_docs 2
	float_ok "$(dget m2 .end_time) >= ($XRAY_SEG_DEADLINE_MS - 500) / 1000 - 0.002"
	float_ok "$(dget m2 .end_time) < $XRAY_SEG_DEADLINE_MS / 1000 + 1.0"
}

@test "guard: only the current trace; nothing open sends nothing; no deadline is a warning and exit 0 at once" {
	lambda_ctx
	xs_ok begin other-trace >/dev/null
	other=$_X_AMZN_TRACE_ID
	lambda_ctx
	xs_ok begin this-trace >/dev/null
	timeout 10 "$XRAY_SEG" guard --deadline $(($(now_ms) - 10))
	wait_docs 1
	assert_doc this-trace .fault true
	# nothing open now in this trace
	run -0 --separate-stderr timeout 10 "$XRAY_SEG" guard --deadline $(($(now_ms) - 10))
	assert_stderr_empty
	assert_datagrams 1
	unset XRAY_SEG_DEADLINE_MS
	t0=$EPOCHREALTIME
	run -0 --separate-stderr timeout 10 "$XRAY_SEG" guard
	assert_warning
	float_ok "$EPOCHREALTIME - $t0 < 2"
	export _X_AMZN_TRACE_ID=$other
	xs_quiet end
	wait_docs 2
	assert_doc other-trace '[.fault, .cause]' '[null,null]'
}

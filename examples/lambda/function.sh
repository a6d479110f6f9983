# function.sh: an example handler for examples/lambda/bootstrap
# (_HANDLER=function.handler), traced with xray-seg.
#
# The bootstrap sources this file once and calls `handler EVENT_FILE` for each
# invocation, in a subshell with `set -euo pipefail` and xray-seg's ERR trap,
# inside the invocation's subsegment. So keep the top level free of commands
# and shell options: they would run in the bootstrap itself.
#
# Event fields it reads (all optional):
#   "customer": "NAME"    annotated as customer, and echoed in the response
#   "fail": "REASON"      make the invocation fail: a command fails (status 1)
#   "sleep": SECONDS      spend that long in a "slow-call" subsegment

# event_field NAME FILE: the value of the string or number field NAME. A sketch
# for flat events (no escaped quotes); ship jq in a layer for real parsing.
event_field() {
	local re='"'$1'"[[:space:]]*:[[:space:]]*("([^"]*)"|([0-9][0-9.]*))'
	sed -nE "/$re/{s/.*$re.*/\\2\\3/p;q;}" "$2"
}

# refuse REASON: a failing command. Under set -e it ends the invocation with an
# error; the ERR trap records it as an exception with the stack of calls.
refuse() {
	echo "handler: refused: $1" >&2
	false
}

handler() {
	local event=$1 customer fail pause valid=false account

	customer=$(event_field customer "$event")
	fail=$(event_field fail "$event")
	pause=$(event_field sleep "$event")

	# These go to the invocation's subsegment, the innermost open one.
	[[ -z $customer ]] || xray-seg annotate customer "$customer"
	xray-seg metadata event "@$event"

	xray-seg begin validate >/dev/null
	[[ -z $customer ]] || valid=true
	xray-seg annotate --bool valid "$valid"
	xray-seg end

	# Recorded as an AWS call: a subsegment named STS, namespace aws, with
	# the operation and region. A failure (no aws CLI in the sandbox, no
	# credentials) is recorded there, with the CLI's error code, and the
	# handler goes on.
	account=$(xray-seg exec -- aws sts get-caller-identity --query Account --output text) ||
		account=unknown

	if [[ -n $fail ]]; then
		refuse "$fail"
	fi

	if [[ -n $pause ]]; then
		xray-seg begin --namespace remote slow-call >/dev/null
		sleep "$pause"
		xray-seg end
	fi

	printf '{"customer":"%s","account":"%s"}\n' "$customer" "$account"
}

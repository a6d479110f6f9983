#!/usr/bin/env bash
# An example bash Lambda handler traced with xray-seg. The runtime that calls
# it has exported _X_AMZN_TRACE_ID from the Lambda-Runtime-Trace-Id header.
set -euo pipefail

handler() {
	local event=$1 id

	id=$(xray-seg begin handler)
	xray-seg annotate customer "$(printf '%s' "$event" | sed -n 's/.*"customer": *"\([^"]*\)".*/\1/p')"
	xray-seg metadata event "$event"

	xray-seg begin validate >/dev/null
	xray-seg annotate --bool valid true
	xray-seg end

	# A child process runs inside its own subsegment; xray-seg calls inside it nest there.
	xray-seg exec --name render -- bash -c '
		xray-seg annotate --number items 3
		sleep 0.02
		printf "{\"ok\":true}\n" >/dev/null'

	# A step that fails: the subsegment records the exit status as a fault.
	xray-seg exec --name flaky-step -- sh -c 'sleep 0.01; exit 3' || true

	xray-seg begin --namespace remote payments-api >/dev/null
	xray-seg end --http-status 503 --cause "payments-api unavailable"

	xray-seg end "$id"
	xray-seg send
}

default_event='{"customer": "alice"}'
handler "${1:-$default_event}"

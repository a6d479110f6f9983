#!/usr/bin/env bats
# daemon.bats - AWS_XRAY_DAEMON_ADDRESS in every form; the daemon down or the
# address unusable: warning, exit 0, the document kept and delivered by a later
# `send` (exactly once).

load test_helper
bats_require_minimum_version 1.5.0

# one_doc NAME: begin and end NAME quietly (exit 0, no stderr).
one_doc() {
	xs begin "$1" >/dev/null
	run -0 --separate-stderr xs end
	assert_stderr_empty
}

# free_port: a UDP port nothing listens on (a sink's port after it stopped).
free_port() {
	start_sink --name probe
	FREE_PORT=$(sink_port probe)
	stop_sink probe
}

# kept_docs: number of undelivered documents in this trace's state.
kept_docs() {
	local n=0 f
	for f in "$(trace_dir)"/*.done; do
		[[ -e $f ]] && n=$((n + 1))
	done
	echo "$n"
}

@test "host:port" {
	lambda_ctx
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$SINK_PORT
	one_doc plain
	wait_docs 1
	assert_trace_gone
}

@test "udp:host:port tcp:host:port sends to the udp part only" {
	lambda_ctx
	start_sink --name tcpside
	export AWS_XRAY_DAEMON_ADDRESS="udp:127.0.0.1:$SINK_PORT tcp:127.0.0.1:$(sink_port tcpside)"
	one_doc udpfirst
	wait_docs 1
	assert_no_datagrams tcpside
}

@test "tcp:host:port udp:host:port (other order) sends to the udp part only" {
	lambda_ctx
	start_sink --name tcpside
	export AWS_XRAY_DAEMON_ADDRESS="tcp:127.0.0.1:$(sink_port tcpside) udp:127.0.0.1:$SINK_PORT"
	one_doc tcpfirst
	wait_docs 1
	assert_no_datagrams tcpside
}

@test "[::1]:port reaches an IPv6 daemon" {
	lambda_ctx
	start_sink --name six --ipv6
	export AWS_XRAY_DAEMON_ADDRESS="[::1]:$(sink_port six)"
	one_doc over-ipv6
	wait_docs 1 six
	assert_doc over-ipv6 .trace_id "$ROOT"
	assert_no_datagrams
}

@test "udp:[::1]:port tcp:[::1]:port works too" {
	lambda_ctx
	start_sink --name six --ipv6
	export AWS_XRAY_DAEMON_ADDRESS="udp:[::1]:$(sink_port six) tcp:[::1]:$(sink_port six)"
	one_doc pair-ipv6
	wait_docs 1 six
}

@test "hostname:port is resolved (localhost)" {
	lambda_ctx
	start_sink --name v4 # localhost may resolve to 127.0.0.1 or ::1: listen on both
	port=$(sink_port v4)
	have6=
	start_sink --name v6 --ipv6 --port "$port" --try && have6=1
	export AWS_XRAY_DAEMON_ADDRESS="localhost:$port"
	one_doc by-name
	n4=$(datagram_count v4)
	n6=0
	[[ -n $have6 ]] && n6=$(datagram_count v6)
	((n4 + n6 == 1)) || xs_die "expected one datagram in total, got $n4 (IPv4) + $n6 (IPv6)"
	if ((n4 == 1)); then wait_docs 1 v4; else wait_docs 1 v6; fi
	assert_doc by-name .parent_id "$PARENT"
}

@test "unset address means 127.0.0.1:2000" {
	lambda_ctx
	start_sink --name default --port 2000 --try || skip "UDP port 2000 is in use on this machine"
	unset AWS_XRAY_DAEMON_ADDRESS
	one_doc default-address
	wait_docs 1 default
}

@test "daemon down: warning, exit 0, document kept; a later send delivers it once" {
	lambda_ctx
	free_port
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$FREE_PORT
	id=$(xs begin offline)
	run -0 --separate-stderr xs end
	assert_warning
	assert_output ''
	[ "$(kept_docs)" = 1 ]
	[ -f "$(trace_dir)/$id.done" ]
	start_sink --name back --port "$FREE_PORT"
	run -0 --separate-stderr xs send
	assert_stderr_empty
	assert_output ''
	wait_docs 1 back
	assert_doc offline .id "$id"
	assert_doc offline .parent_id "$PARENT"
	assert_trace_gone
	run -0 --separate-stderr xs send
	assert_stderr_empty
	assert_datagrams 1 back
}

@test "several kept documents are all delivered by one send, each once" {
	lambda_ctx
	free_port
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$FREE_PORT
	a=$(xs begin k1)
	xs begin k2 >/dev/null
	xs end 2>/dev/null
	xs end 2>/dev/null
	xs begin k3 >/dev/null
	xs end 2>/dev/null
	[ "$(kept_docs)" = 3 ]
	start_sink --name back --port "$FREE_PORT"
	xs send
	xs send
	wait_docs 3 back
	assert_doc k2 .parent_id "$a"
	assert_doc k1 .parent_id "$PARENT"
	assert_doc k3 .parent_id "$PARENT"
	assert_trace_gone
}

@test "send delivers only the current trace's documents" {
	lambda_ctx
	free_port
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$FREE_PORT
	xs begin trace-a >/dev/null
	xs end 2>/dev/null
	root_a=$ROOT ctx_a=$_X_AMZN_TRACE_ID
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1"
	xs begin trace-b >/dev/null
	xs end 2>/dev/null
	start_sink --name back --port "$FREE_PORT"
	xs send
	wait_docs 1 back
	assert_doc trace-b .trace_id "$ROOT"
	[ "$(kept_docs)" = 0 ]
	[ -d "$(trace_dir "$root_a")" ]
	export _X_AMZN_TRACE_ID=$ctx_a
	xs send
	wait_docs 2 back
	assert_doc trace-a .trace_id "$root_a"
}

@test "send with nothing kept is silent and sends nothing" {
	lambda_ctx
	run -0 --separate-stderr xs send
	assert_stderr_empty
	assert_output ''
	assert_no_datagrams
	assert_no_state
}

@test "send while the daemon is still down keeps the documents and warns" {
	lambda_ctx
	free_port
	export AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$FREE_PORT
	xs begin still-down >/dev/null
	xs end 2>/dev/null
	run -0 --separate-stderr xs send
	assert_all_warnings
	[ "$(kept_docs)" = 1 ]
	start_sink --name back --port "$FREE_PORT"
	xs send
	wait_docs 1 back
}

@test "bad addresses: warning, exit 0, document kept for a later send" {
	lambda_ctx
	good=$AWS_XRAY_DAEMON_ADDRESS
	local -a bad=(nonsense 127.0.0.1 127.0.0.1: :2000 127.0.0.1:notaport 127.0.0.1:70000
		127.0.0.1:-1 '127.0.0.1:20 00' "udp:127.0.0.1:$SINK_PORT tcp:127.0.0.1:1 extra:127.0.0.1:2"
		'udp: tcp:' '[::1' '[::1]' '::1:2000'
		no-such-host.invalid:2000)
	for addr in "${bad[@]}"; do
		export AWS_XRAY_DAEMON_ADDRESS=$addr
		xs begin "bad-${#addr}" >/dev/null
		run -0 --separate-stderr xs end
		((status == 0)) || xs_die "address '$addr': exit $status"
		assert_warning
	done
	assert_no_datagrams
	[ "$(kept_docs)" = "${#bad[@]}" ]
	export AWS_XRAY_DAEMON_ADDRESS=$good
	run -0 --separate-stderr xs send
	assert_stderr_empty
	wait_docs "${#bad[@]}"
	assert_trace_gone
}

@test "the pair form needs exactly one udp: and one tcp: part" {
	lambda_ctx
	local -a bad=("udp:127.0.0.1:$SINK_PORT" "tcp:127.0.0.1:$SINK_PORT"
		"udp:127.0.0.1:$SINK_PORT udp:127.0.0.1:$SINK_PORT")
	for addr in "${bad[@]}"; do
		export AWS_XRAY_DAEMON_ADDRESS=$addr
		xs begin "pair-${#addr}" >/dev/null
		run -0 --separate-stderr xs end
		((status == 0)) || xs_die "address '$addr': exit $status"
		assert_warning
	done
	assert_no_datagrams
	[ "$(kept_docs)" = "${#bad[@]}" ]
}

# transport.bash - helpers for root segments and transports (root.bats,
# transport.bats, api.bats, api_moto.bats), loaded after test_helper:
#
#   load test_helper
#   load helpers/transport
#
# - check-segments.py (check-docs.py's checks, segments allowed) as a per-file
#   server, for udp captures, stdout lines and http-sink captures;
# - http-sink.py endpoints per test (start_http / stop_http / http_docs / hq);
# - an environment without CI variables, xray-seg knobs or a trace context.
# shellcheck disable=SC2034,SC2154

XT_HDR='{"format":"json","version":1}'

# Every variable a CI provider detection or a root option could read.
XT_CI_VARS=(
	CI GITHUB_ACTIONS GITHUB_REPOSITORY GITHUB_WORKFLOW GITHUB_JOB GITHUB_RUN_ID GITHUB_SHA GITHUB_REF_NAME
	GITLAB_CI CI_PROJECT_PATH CI_PIPELINE_NAME CI_JOB_NAME CI_PIPELINE_ID CI_COMMIT_SHA CI_COMMIT_REF_NAME
	CIRCLECI CIRCLE_PROJECT_USERNAME CIRCLE_PROJECT_REPONAME CIRCLE_JOB CIRCLE_WORKFLOW_ID CIRCLE_SHA1 CIRCLE_BRANCH
	BUILDKITE BUILDKITE_REPO BUILDKITE_PIPELINE_SLUG BUILDKITE_LABEL BUILDKITE_BUILD_ID BUILDKITE_COMMIT BUILDKITE_BRANCH
	JENKINS_URL GIT_URL JOB_NAME STAGE_NAME BUILD_TAG GIT_COMMIT BRANCH_NAME GIT_BRANCH
	CODEBUILD_BUILD_ID CODEBUILD_SOURCE_REPO_URL CODEBUILD_RESOLVED_SOURCE_VERSION CODEBUILD_WEBHOOK_HEAD_REF
	ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_URI_V4
	TRACEPARENT TRACESTATE
	XRAY_SEG_TRANSPORT XRAY_SEG_SAMPLE_RATE XRAY_SEG_SERVICE_VERSION XRAY_SEG_LIBCURL
)

# xt_clean_env: no CI, no knobs, no trace context, outside Lambda.
xt_clean_env() {
	local v
	unset "${XT_CI_VARS[@]}"
	for v in $(compgen -e); do
		case $v in
		GITHUB_* | GITLAB_* | CI_* | CIRCLE_* | BUILDKITE_* | CODEBUILD_*) unset "$v" ;;
		esac
	done
	unset AWS_LAMBDA_FUNCTION_NAME _X_AMZN_TRACE_ID
}

# outside_lambda: clean environment, daemon address at the main sink.
outside_lambda() {
	xt_clean_env
	use_sink
}

xt_setup_file() {
	xs_setup_file "$@"
	local fifo=$BATS_FILE_TMPDIR/check-segments.fifo
	mkfifo "$fifo"
	"$XS_PYTHON" "$XS_HELPERS/check-segments.py" --schema-dir "$XS_SCHEMAS" --serve "$fifo" \
		--idle 300 </dev/null >/dev/null 2>"$BATS_FILE_TMPDIR/check-segments.log" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/check-segments.pid"
}

xt_teardown_file() {
	local f=$BATS_FILE_TMPDIR/check-segments.pid
	[[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
	xs_teardown_file
}

# check_segs MODE FILE: check-segments.py MODE FILE (udp | lines | http;
# strict-MODE: subsegments only, exactly check-docs' rules), through the
# per-file server. Documents on stdout, problems on stderr, its status.
check_segs() {
	local mode=$1 capture=$2 fifo=$BATS_FILE_TMPDIR/check-segments.fifo pid
	pid=$(cat "$BATS_FILE_TMPDIR/check-segments.pid" 2>/dev/null) || pid=
	if [[ -n $pid && -p $fifo ]] && kill -0 "$pid" 2>/dev/null; then
		local prefix=$BATS_TEST_TMPDIR/segcheck.$BASHPID.$((++XS_CHECK_N)) fd rc
		rm -f "$prefix".*
		exec {fd}<>"$fifo"
		printf '%s\t%s\t%s\n' "$mode" "$capture" "$prefix" >&"$fd"
		exec {fd}>&-
		local deadline=$((SECONDS + 30))
		while ((SECONDS <= deadline)); do
			[[ -f $prefix.rc ]] && break
			_nap 0.002
		done
		if [[ -f $prefix.rc ]]; then
			read -r rc <"$prefix.rc"
			cat "$prefix.out"
			cat "$prefix.err" >&2
			return "$rc"
		fi
	fi
	local strict=
	[[ $mode == strict-* ]] && strict=--subsegments-only mode=${mode#strict-}
	"$XS_PYTHON" "$XS_HELPERS/check-segments.py" --schema-dir "$XS_SCHEMAS" $strict "$mode" "$capture"
}

# _store_docs MODE FILE WANT: validate, store the documents in $DOCS, insist on WANT of them.
_store_docs() {
	local rc=0 got
	check_segs "$1" "$2" >"$DOCS" || rc=$?
	((rc == 0)) || xs_die "check-segments ($1) rejected documents of $2 (status $rc, see above)"
	got=$(wc -l <"$DOCS")
	[[ -z $3 ]] || ((got == $3)) || xs_die "expected $3 valid documents in $2, got $got:
$(cut -c1-300 "$DOCS")"
}

# wait_segs N [NAME]: wait_docs for captures that may hold segments: wait
# until N datagrams arrived at sink NAME, insist on exactly N, validate them
# (segments allowed) and store them in $DOCS.
wait_segs() {
	local want=$1 name=${2:-main} got f deadline=$((${EPOCHREALTIME/./} + XS_WAIT * 1000000))
	sink_sync "$name"
	f=$(sink_capture "$name")
	got=$(wc -l <"$f")
	while ((got < want && ${EPOCHREALTIME/./} < deadline)); do
		_nap 0.005
		sink_sync "$name"
		f=$(sink_capture "$name")
		got=$(wc -l <"$f")
	done
	((got == want)) || xs_die "expected $want datagram(s) at sink '$name', got $got:
$(jq -r '.raw' "$f" | cut -c1-400)"
	_store_docs udp "$f" "$want"
}

# lines_docs FILE [N]: FILE holds stdout-transport output: validate every line
# as one document (segments allowed), store them in $DOCS, insist on N.
lines_docs() { _store_docs lines "$1" "${2:-}"; }

# lines_to_capture FILE: a udp-sink-style capture of the lines of FILE (header
# + newline + line, as a datagram would carry the document), for check-docs.py.
lines_to_capture() {
	jq -cR --arg h "$XT_HDR" '($h + "\n" + .) as $r |
		{seq: (input_line_number - 1), bytes: ($r | utf8bytelength), utf8: true, truncated: false, raw: $r}' "$1"
}

# seg_id: id of the one root segment (no type) in $DOCS.
seg_id() {
	local ids
	ids=$(dq '[.[] | select(has("type") | not) | .id] | if length == 1 then .[0] else error("segments: \(length)") end') ||
		xs_die "expected exactly one segment (document without type) in: $(cat "$DOCS")"
	echo "$ids"
}

# trace_hex TRACE: the 32 hex digits of an X-Ray trace id (W3C trace-id form).
trace_hex() {
	local t=${1#1-}
	echo "${t/-/}"
}

free_tcp_port() {
	"$XS_PYTHON" -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- http-sink endpoints ------------------------------------------------------
# A sink lives in $XS_SINKS/http-NAME (port, pid, out, err), so xs_teardown
# stops it. start_http sets HTTP_PORT and HTTP_URL for that sink.

# start_http [--name NAME] [--port PORT] [--hold FILE] [--reply SPEC]...
start_http() {
	local name=main port=0
	local -a args=()
	while (($#)); do
		case $1 in
		--name) name=$2; shift ;;
		--port) port=$2; shift ;;
		--reply | --hold) args+=("$1" "$2"); shift ;;
		*) xs_die "start_http: bad argument $1" ;;
		esac
		shift
	done
	local d=$XS_SINKS/http-$name pid n
	[[ -f $d/pid ]] && kill "$(cat "$d/pid")" 2>/dev/null
	rm -rf "$d"
	mkdir -p "$d"
	"$XS_PYTHON" -S "$XS_HELPERS/http-sink.py" -o "$d/out" --port-file "$d/port" --port "$port" \
		--max-seconds 120 "${args[@]}" </dev/null >/dev/null 2>"$d/err" 3>&- &
	echo $! >"$d/pid"
	pid=$!
	for ((n = 0; n < 2000; n++)); do
		[[ -s $d/port ]] && break
		kill -0 "$pid" 2>/dev/null || xs_die "http sink '$name' did not start: $(cat "$d/err")"
		_nap 0.005
	done
	[[ -s $d/port ]] || xs_die "http sink '$name' did not report its port within 10 s"
	read -r HTTP_PORT <"$d/port"
	HTTP_URL=http://127.0.0.1:$HTTP_PORT
}

# stop_http [NAME]: stop the sink; its capture stays readable.
stop_http() {
	local d=$XS_SINKS/http-${1:-main} pid n
	pid=$(cat "$d/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for ((n = 0; n < 2000; n++)); do
		kill -0 "$pid" 2>/dev/null || break
		_nap 0.003
	done
	rm -f "$d/pid"
}

http_cap() { echo "$XS_SINKS/http-${1:-main}/out"; }
http_url() { echo "http://127.0.0.1:$(cat "$XS_SINKS/http-${1:-main}/port")"; }

# http_count [NAME]: number of requests recorded (complete once xray-seg has
# returned: a request is recorded before it is answered).
http_count() {
	local n
	n=$(wc -l <"$(http_cap "${1:-main}")")
	echo $((n))
}

# assert_requests N [NAME]
assert_requests() {
	local got
	got=$(http_count "${2:-}")
	((got == $1)) || xs_die "expected $1 request(s) at http sink '${2:-main}', got $got:
$(jq -c '{seq, method, path, reply, body: .body[:300]}' "$(http_cap "${2:-}")")"
}

# hq FILTER [NAME]: jq -r -s FILTER over the requests of sink NAME.
hq() { jq -r -s "$1" "$(http_cap "${2:-}")"; }

# http_docs [N] [NAME]: validate every document of every request (segments
# allowed, body shape checked), store them in $DOCS, insist on N if given.
http_docs() { _store_docs http "$(http_cap "${2:-}")" "${1:-}"; }

# header_of SEQ NAME [SINK]: value of header NAME (any case) of request SEQ
# (empty if absent; fails if it appears more than once).
header_of() {
	jq -r -s --argjson n "$1" --arg h "$2" '.[$n].headers | map(select(.[0] | ascii_downcase == ($h | ascii_downcase)) | .[1]) |
		if length > 1 then error("header \($h) \(length) times") else (.[0] // "") end' "$(http_cap "${3:-}")"
}

# api_env URL: api transport with test credentials and region aimed at URL.
api_env() {
	export XRAY_SEG_TRANSPORT=api
	export AWS_ACCESS_KEY_ID=AKIDXSTEST0000000001 AWS_SECRET_ACCESS_KEY=xs-secret-key-for-tests
	export AWS_REGION=eu-west-2
	export AWS_ENDPOINT_URL_XRAY=$1
	unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT_URL
}

# assert_kept_warning N: stderr is one warning line saying N documents are kept.
assert_kept_warning() {
	assert_warning
	[[ $stderr =~ ([0-9]+)\ documents?\ kept\ for\ \'xray-seg\ send\' ]] ||
		xs_die "warning does not say \"$1 documents kept for 'xray-seg send'\": $stderr"
	((BASH_REMATCH[1] == $1)) || xs_die "warning says ${BASH_REMATCH[1]} documents kept, expected $1: $stderr"
}

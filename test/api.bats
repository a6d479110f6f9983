#!/usr/bin/env bats
# api.bats - the api transport (issue 5) against helpers/http-sink.py: the
# PutTraceSegments request (method, path, Content-Type, body of document
# strings, SigV4 headers and a signature recomputed here), credentials, region
# and endpoint precedence, batching of a root with its subsegments (<= 50 per
# request), and every failure path: one warning, the command's exit status
# unchanged, documents kept and delivered by a later `xray-seg send --all`.

load test_helper
load helpers/transport
bats_require_minimum_version 1.5.0

setup_file() { xt_setup_file; }
teardown_file() { xt_teardown_file; }
setup() {
	xs_setup
	outside_lambda
	D=$BATS_TEST_TMPDIR
}

THROTTLED='{"__type":"ThrottledException","message":"slow down"}'
OK_EMPTY='{"UnprocessedTraceSegments":[]}'

# http_subsegs N [NAME]: like http_docs, with check-docs' subsegment rules unrelaxed.
http_subsegs() { _store_docs strict-http "$(http_cap "${2:-}")" "$1"; }

# verify_sigv4 SEQ SECRET [SINK]: recompute the SigV4 signature of request SEQ
# from its recorded method, path, headers and body and the secret key; exit 0
# if it matches, 1 (with the reason) if not.
verify_sigv4() {
	"$XS_PYTHON" - "$(http_cap "${3:-}")" "$1" "$2" <<-'PY'
		import hashlib, hmac, json, re, sys, urllib.parse
		cap, seq, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		rec = [json.loads(l) for l in open(cap)][seq]
		hdrs = rec["headers"]
		def values(name):
		    return [v for k, v in hdrs if k.lower() == name]
		auth = values("authorization")
		if len(auth) != 1:
		    sys.exit("Authorization header %d times" % len(auth))
		m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
		                 r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})", auth[0])
		if not m:
		    sys.exit("Authorization not parsed: %r" % auth[0])
		key, date, region, service, signed, sig = m.groups()
		amzdate = values("x-amz-date")
		if len(amzdate) != 1:
		    sys.exit("X-Amz-Date %d times" % len(amzdate))
		amzdate = amzdate[0]
		body = rec["body"].encode("utf-8", "surrogateescape")
		payload = values("x-amz-content-sha256")
		payload = payload[0] if payload else hashlib.sha256(body).hexdigest()
		if payload != hashlib.sha256(body).hexdigest():
		    sys.exit("x-amz-content-sha256 is not the body's hash")
		names = signed.split(";")
		if names != sorted(names):
		    sys.exit("SignedHeaders not sorted: %s" % signed)
		for need in ("host", "x-amz-date"):
		    if need not in names:
		        sys.exit("%s is not signed: %s" % (need, signed))
		missing = [n for n in names if not values(n)]
		canon_headers = ""
		for n in names:
		    canon_headers += n + ":" + ",".join(" ".join(v.split()) for v in values(n)) + "\n"
		path, _, query = rec["path"].partition("?")
		q = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
		cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in q)
		creq = "\n".join([rec["method"], urllib.parse.quote(path, safe="/-_.~"), cq, canon_headers, signed, payload])
		scope = "%s/%s/%s/aws4_request" % (date, region, service)
		sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
		k = ("AWS4" + secret).encode()
		for part in (date, region, service, "aws4_request"):
		    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
		want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
		if want != sig:
		    sys.exit("signature mismatch: sent %s, computed %s\ncanonical request:\n%s" % (sig, want, creq))
		if missing:
		    sys.exit("the signature matches only if the signed header(s) %s, which the request does not carry, "
		             "are taken as empty: SignedHeaders must name only headers that are sent" % ",".join(missing))
	PY
}

# epoch_of_amzdate YYYYMMDDTHHMMSSZ
epoch_of_amzdate() {
	local s=$1
	date -u -d "${s:0:4}-${s:4:2}-${s:6:2}T${s:9:2}:${s:11:2}:${s:13:2}Z" +%s
}

# kept_then_sent N: documents were kept; a sink that accepts gets all N of
# them from `send --all` (no context), in requests of at most 50; a second
# send sends nothing and no state is left.
kept_then_sent() {
	local want=$1 n
	start_http --name later
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	unset _X_AMZN_TRACE_ID XRAY_SEG_LIBCURL
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_output ''
	n=$(http_count later)
	((n >= 1)) || xs_die "send --all made no request"
	[ "$(hq 'map(.json.TraceSegmentDocuments | length) | max' later)" -le 50 ]
	http_docs "$want" later
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests "$n" later
	assert_no_state
}

# root_with_child STATUS: `exec --name job` outside Lambda of a child that runs
# one nested exec (inner) and exits STATUS; sets status/output/stderr.
root_with_child() {
	run --separate-stderr xs exec --name job -- sh -c "xray-seg exec --name inner -- true; exit $1"
	((status == $1)) || xs_die "exec: exit $status, expected $1 (stderr: $stderr)"
}

# --- the harness ---------------------------------------------------------------

@test "harness: http-sink answers the scripted replies in order, the last repeating, and records each request" {
	start_http --reply 500 --reply "429:$THROTTLED" --reply '200:{"UnprocessedTraceSegments":[{"Id":"@ID0@"}]}'
	run -0 "$XS_PYTHON" -S - "$HTTP_URL" <<-'PY'
		import json, sys, urllib.request, urllib.error
		for n in range(4):
		    body = json.dumps({"TraceSegmentDocuments": [json.dumps({"id": "id%d" % n})]}).encode()
		    req = urllib.request.Request(sys.argv[1] + "/TraceSegments", data=body, method="POST",
		                                 headers={"Content-Type": "application/json", "X-Test": str(n)})
		    try:
		        r = urllib.request.urlopen(req, timeout=10)
		        print(r.status, r.read().decode())
		    except urllib.error.HTTPError as e:
		        print(e.code, e.headers.get("x-amzn-ErrorType"))
	PY
	assert_output - <<-EOF
		500 InternalFailure
		429 ThrottledException
		200 {"UnprocessedTraceSegments":[{"Id":"id2"}]}
		200 {"UnprocessedTraceSegments":[{"Id":"id3"}]}
	EOF
	assert_requests 4
	[ "$(hq 'map(.reply) | join(",")')" = 500,429,200,200 ]
	[ "$(hq 'map(.json.TraceSegmentDocuments[0] | fromjson | .id) | join(",")')" = id0,id1,id2,id3 ]
	[ "$(header_of 3 x-test)" = 3 ]
	[ "$(hq '.[0].method + " " + .[0].path')" = "POST /TraceSegments" ]
}

# --- the request -------------------------------------------------------------

@test "request: POST /TraceSegments, Content-Type application/json, body {TraceSegmentDocuments: [strings]}" {
	start_http
	api_env "$HTTP_URL"
	lambda_ctx
	id=$(xs begin first)
	run -0 --separate-stderr xs end
	assert_stderr_empty
	assert_output ''
	assert_requests 1
	[ "$(hq '.[0].method')" = POST ]
	[ "$(hq '.[0].path')" = /TraceSegments ]
	ct=$(header_of 0 Content-Type)
	[[ $ct =~ ^application/json(\ *\;.*)?$ ]] || xs_die "Content-Type: '$ct'"
	[ "$(hq '.[0].json | keys | join(",")')" = TraceSegmentDocuments ]
	[ "$(hq '.[0].json.TraceSegmentDocuments | map(type) | join(",")')" = string ]
	[ "$(header_of 0 Host)" = "127.0.0.1:$HTTP_PORT" ]
	http_subsegs 1
	assert_doc first .id "$id"
	assert_doc first .parent_id "$PARENT"
	assert_doc first .trace_id "$ROOT"
	assert_no_datagrams
	assert_trace_gone
}

@test "a root segment alone: one request with one schema-valid segment document" {
	start_http
	api_env "$HTTP_URL"
	run -0 --separate-stderr xs exec --name solo -- true
	assert_stderr_empty
	assert_requests 1
	http_docs 1
	assert_doc solo '[has("type"), has("parent_id")]' '[false,false]'
	assert_no_datagrams
	assert_no_state
}

@test "SigV4 headers: Credential=<key>/<yyyymmdd>/<region>/xray/aws4_request, X-Amz-Date, no token without AWS_SESSION_TOKEN" {
	start_http
	api_env "$HTTP_URL"
	d0=$(date -u +%Y%m%d)
	xs exec --name signed -- true
	d1=$(date -u +%Y%m%d)
	assert_requests 1
	auth=$(header_of 0 Authorization)
	re='^AWS4-HMAC-SHA256 Credential=([^/]+)/([0-9]{8})/([^/]+)/xray/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}$'
	[[ $auth =~ $re ]] || xs_die "Authorization: '$auth'"
	[ "${BASH_REMATCH[1]}" = "$AWS_ACCESS_KEY_ID" ]
	[[ ${BASH_REMATCH[2]} == "$d0" || ${BASH_REMATCH[2]} == "$d1" ]] || xs_die "credential date ${BASH_REMATCH[2]}, today is $d0"
	[ "${BASH_REMATCH[3]}" = eu-west-2 ]
	cdate=${BASH_REMATCH[2]}
	xdate=$(header_of 0 X-Amz-Date)
	[[ $xdate =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || xs_die "X-Amz-Date: '$xdate'"
	[ "${xdate:0:8}" = "$cdate" ]
	t=$(epoch_of_amzdate "$xdate")
	((t >= EPOCHSECONDS - 300 && t <= EPOCHSECONDS + 300)) || xs_die "X-Amz-Date $xdate is not now"
	[ -z "$(header_of 0 X-Amz-Security-Token)" ] || xs_die "X-Amz-Security-Token sent without AWS_SESSION_TOKEN"
}

@test "the signature verifies against the secret key (SigV4 recomputed here, with and without a session token); a wrong key does not" {
	start_http
	api_env "$HTTP_URL"
	xs exec --name sig -- bash -c 'xray-seg exec --name "with space é" -- true'
	export AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjE//test+token/$(hex 32)=="
	xs exec --name sigtoken -- true
	assert_requests 2
	run verify_sigv4 1 "wrong-$AWS_SECRET_ACCESS_KEY"
	((status == 1)) || xs_die "the verifier accepted a wrong key: $output"
	[[ $output == *'signature mismatch'* ]] || xs_die "$output"
	run verify_sigv4 0 "$AWS_SECRET_ACCESS_KEY"
	((status == 0)) || xs_die "$output"
	run verify_sigv4 1 "$AWS_SECRET_ACCESS_KEY"
	((status == 0)) || xs_die "with a session token: $output"
}

@test "AWS_SESSION_TOKEN is sent as X-Amz-Security-Token" {
	start_http
	api_env "$HTTP_URL"
	export AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjE//test+token/$(hex 32)=="
	export AWS_ACCESS_KEY_ID=ASIAXSTEST0000000002
	xs exec --name token -- true
	assert_requests 1
	[ "$(header_of 0 X-Amz-Security-Token)" = "$AWS_SESSION_TOKEN" ]
	[[ $(header_of 0 Authorization) == *"Credential=ASIAXSTEST0000000002/"* ]]
}

@test "region: AWS_REGION over AWS_DEFAULT_REGION; AWS_DEFAULT_REGION alone" {
	start_http
	api_env "$HTTP_URL"
	export AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=us-west-1
	xs exec --name both -- true
	unset AWS_REGION
	xs exec --name default -- true
	assert_requests 2
	[[ $(header_of 0 Authorization) == *"/ap-south-1/xray/aws4_request"* ]] || xs_die "$(header_of 0 Authorization)"
	[[ $(header_of 1 Authorization) == *"/us-west-1/xray/aws4_request"* ]] || xs_die "$(header_of 1 Authorization)"
}

@test "endpoint: AWS_ENDPOINT_URL_XRAY over AWS_ENDPOINT_URL; AWS_ENDPOINT_URL alone" {
	start_http --name a
	url_a=$HTTP_URL
	start_http --name b
	url_b=$HTTP_URL
	api_env "$url_a"
	export AWS_ENDPOINT_URL=$url_b
	xs exec --name to-a -- true
	assert_requests 1 a
	assert_requests 0 b
	unset AWS_ENDPOINT_URL_XRAY
	xs exec --name to-b -- true
	assert_requests 1 a
	assert_requests 1 b
	[ "$(hq '.[0].path' b)" = /TraceSegments ]
	http_docs 1 b
	doc to-b >/dev/null
}

@test "--transport api on exec, end and send, without XRAY_SEG_TRANSPORT" {
	start_http
	api_env "$HTTP_URL"
	unset XRAY_SEG_TRANSPORT
	xs exec --transport api --name ex -- true
	lambda_ctx
	xs begin ended >/dev/null
	xs end --transport api
	assert_requests 2
	assert_no_datagrams
	export AWS_ENDPOINT_URL_XRAY=http://127.0.0.1:$(free_tcp_port)
	xs begin later >/dev/null
	run -0 --separate-stderr xs end --transport api
	assert_kept_warning 1
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	run -0 --separate-stderr xs send --transport api
	assert_stderr_empty
	assert_requests 3
	[ "$(hq '.[2].json.TraceSegmentDocuments | map(fromjson | .name) | join(",")')" = later ]
	assert_no_datagrams
}

# --- batching ----------------------------------------------------------------

@test "batching: a root's subsegments are kept quietly and delivered with the segment in one request" {
	start_http
	api_env "$HTTP_URL"
	cap=$(http_cap)
	cat >"$D/script.sh" <<-'EOF'
		set -e
		xray-seg exec --name s1 -- true
		xray-seg exec --name s2 -- bash -c 'xray-seg exec --name s3 -- true'
		xray-seg begin s4 >/dev/null
		xray-seg annotate k v
		xray-seg end
		wc -l <"$1" >"$2/during"
	EOF
	run -0 --separate-stderr xs exec --name root -- bash "$D/script.sh" "$cap" "$D"
	assert_stderr_empty
	assert_output ''
	[ "$(cat "$D/during")" = 0 ] || xs_die "$(cat "$D/during") request(s) while the root was open"
	assert_requests 1
	http_docs 5
	sid=$(seg_id)
	assert_doc root .id "$sid"
	for n in s1 s2 s4; do assert_doc "$n" .parent_id "$sid"; done
	assert_doc s3 .parent_id "$(dget s2 .id)"
	assert_doc s4 .annotations.k v
	[ "$(dq '[.[].trace_id] | unique | length')" = 1 ]
	assert_no_datagrams
	assert_no_state
}

@test "batching with begin --export: the subsegments go with the segment when end --export ends it" {
	start_http
	api_env "$HTTP_URL"
	cap=$(http_cap)
	cat >"$D/script.sh" <<-'EOF'
		set -e
		eval "$(xray-seg begin --export shell-root)"
		xray-seg exec --name one -- true
		xray-seg exec --name two -- true
		wc -l <"$1" >"$2/during"
		eval "$(xray-seg end --export)"
	EOF
	run -0 --separate-stderr bash "$D/script.sh" "$cap" "$D"
	assert_stderr_empty
	assert_output ''
	[ "$(cat "$D/during")" = 0 ] || xs_die "$(cat "$D/during") request(s) while the root was open"
	assert_requests 1
	http_docs 3
	sid=$(seg_id)
	assert_doc shell-root .id "$sid"
	assert_doc one .parent_id "$sid"
	assert_doc two .parent_id "$sid"
	assert_no_state
}

@test "more than 50 documents are split into requests of at most 50" {
	start_http
	api_env "$HTTP_URL"
	run -0 --separate-stderr xs exec --name big -- bash -c '
		for n in $(seq 60); do xray-seg begin "sub$n" >/dev/null; xray-seg end; done'
	assert_stderr_empty
	assert_requests 2
	run -0 hq 'map(.json.TraceSegmentDocuments | length) | "\(max) \(add)"'
	[ "$output" = "50 61" ] || xs_die "request sizes: $(jq -s -c 'map(.json.TraceSegmentDocuments | length)' "$(http_cap)")"
	http_docs 61
	sid=$(seg_id)
	[ "$(dq '[.[].id] | unique | length')" = 61 ]
	[ "$(dq --arg s "$sid" '[.[] | select(.id != $s and .parent_id != $s)] | length')" = 0 ]
	[ "$(dq '[.[] | select(.name | startswith("sub"))] | length')" = 60 ]
}

# --- failures ----------------------------------------------------------------

@test "endpoint down (closed port): one warning, exit status unchanged, documents kept, sent by send --all" {
	api_env "http://127.0.0.1:$(free_tcp_port)"
	root_with_child 3
	assert_kept_warning 2
	assert_output ''
	assert_no_datagrams
	kept_then_sent 2
	sid=$(seg_id)
	assert_doc inner .parent_id "$sid"
	assert_doc job .metadata.process.exit_code 3
}

@test "HTTP 500 three times: 3 attempts, one warning, kept; send --all delivers them later" {
	start_http --reply 500 --reply 500 --reply 500 --reply 200
	api_env "$HTTP_URL"
	lambda_ctx
	run -6 --separate-stderr xs exec --name five -- sh -c 'exit 6'
	assert_kept_warning 1
	assert_requests 3
	[ "$(hq 'map(.body) | unique | length')" = 1 ] || xs_die "the attempts carried different bodies"
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 4
	[ "$(hq '.[3].body == .[0].body')" = true ]
	_store_docs strict-http "$(http_cap)" 4
	assert_trace_gone
}

@test "429 ThrottledException, then 200: delivered in 2 requests, no warning, nothing kept" {
	start_http --reply "429:$THROTTLED" --reply "200:$OK_EMPTY"
	api_env "$HTTP_URL"
	root_with_child 4
	assert_stderr_empty
	assert_output ''
	assert_requests 2
	[ "$(hq '.[0].body == .[1].body')" = true ]
	http_docs 4 # the same two documents twice
	assert_no_state
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 2
}

@test "ThrottledException with HTTP 400 is retried like 429" {
	start_http --reply "400:$THROTTLED" --reply "200:$OK_EMPTY"
	api_env "$HTTP_URL"
	run -0 --separate-stderr xs exec --name thr -- true
	assert_stderr_empty
	assert_requests 2
	assert_no_state
}

@test "a dropped connection (network error), then 200: retried, delivered, no warning" {
	start_http --reply drop --reply "200:$OK_EMPTY"
	api_env "$HTTP_URL"
	run -0 --separate-stderr xs exec --name dropped -- true
	assert_stderr_empty
	assert_requests 2
	assert_no_state
}

@test "HTTP 403: not retried; one warning, kept; send --all delivers later" {
	start_http --reply '403:{"__type":"AccessDeniedException","message":"not allowed"}' --reply 200
	api_env "$HTTP_URL"
	root_with_child 0
	assert_kept_warning 2
	assert_requests 1
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 2
	[ "$(hq '.[1].json.TraceSegmentDocuments | length')" = 2 ]
}

@test "200 with UnprocessedTraceSegments: one warning per entry naming Id, ErrorCode and Message; not kept" {
	start_http --reply '200:{"UnprocessedTraceSegments":[{"Id":"@ID0@","ErrorCode":"InvalidTraceId","Message":"Invalid trace id xyzzy"}]}'
	api_env "$HTTP_URL"
	root_with_child 5
	assert_requests 1
	id0=$(hq '.[0].json.TraceSegmentDocuments[0] | fromjson | .id')
	[[ $id0 =~ $HEX16_RE ]] || xs_die "no id in the first document"
	assert_warning
	[[ $stderr == *"$id0"* && $stderr == *InvalidTraceId* && $stderr == *'Invalid trace id xyzzy'* ]] ||
		xs_die "the warning does not name the Id $id0, the ErrorCode and the Message: $stderr"
	assert_no_state
	start_http --name later
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 0 later
}

@test "two unprocessed entries: two warning lines, each naming its Id" {
	start_http --reply '200:{"UnprocessedTraceSegments":[{"Id":"@ID0@","ErrorCode":"E0","Message":"m0"},{"Id":"@ID1@","ErrorCode":"E1","Message":"m1"}]}'
	api_env "$HTTP_URL"
	root_with_child 0
	assert_requests 1
	id0=$(hq '.[0].json.TraceSegmentDocuments[0] | fromjson | .id')
	id1=$(hq '.[0].json.TraceSegmentDocuments[1] | fromjson | .id')
	assert_all_warnings
	[ "${#stderr_lines[@]}" = 2 ] || xs_die "expected 2 warning lines: $stderr"
	grep -q "$id0.*E0\|E0.*$id0" <<<"$stderr" || xs_die "no line names $id0 with E0: $stderr"
	grep -q "$id1.*E1\|E1.*$id1" <<<"$stderr" || xs_die "no line names $id1 with E1: $stderr"
	assert_no_state
}

@test "missing credentials: a clear warning, no request, kept; delivered once credentials are set" {
	start_http
	api_env "$HTTP_URL"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	root_with_child 7
	assert_kept_warning 2
	[[ $stderr == *[Cc]redential* || $stderr == *AWS_ACCESS_KEY_ID* ]] || xs_die "the warning does not say credentials are missing: $stderr"
	export AWS_ACCESS_KEY_ID=AKIDXSTEST0000000001
	run -0 --separate-stderr xs exec --name nosecret -- true
	assert_kept_warning 1
	[[ $stderr == *[Cc]redential* || $stderr == *AWS_SECRET_ACCESS_KEY* ]] || xs_die "the warning does not say the secret key is missing: $stderr"
	assert_requests 0
	export AWS_SECRET_ACCESS_KEY=xs-secret-key-for-tests
	kept_then_sent 3
}

@test "missing region: a warning naming the region, no request, kept; delivered once a region is set" {
	start_http
	api_env "$HTTP_URL"
	unset AWS_REGION AWS_DEFAULT_REGION
	root_with_child 0
	assert_kept_warning 2
	[[ $stderr == *[Rr]egion* || $stderr == *AWS_REGION* ]] || xs_die "the warning does not say the region is missing: $stderr"
	assert_requests 0
	export AWS_DEFAULT_REGION=us-east-2
	kept_then_sent 2
	[[ $(header_of 0 Authorization later) == */us-east-2/xray/* ]]
}

@test "missing libcurl (XRAY_SEG_LIBCURL=libnonexistent.so.9): a warning, no request, kept" {
	start_http
	api_env "$HTTP_URL"
	export XRAY_SEG_LIBCURL=libnonexistent.so.9
	root_with_child 9
	assert_kept_warning 2
	[[ $stderr == *libcurl* || $stderr == *libnonexistent.so.9* ]] || xs_die "the warning does not name libcurl: $stderr"
	assert_requests 0
	kept_then_sent 2
}

@test "send retries the current trace's kept documents; send --all those of every trace" {
	api_env "http://127.0.0.1:$(free_tcp_port)"
	lambda_ctx
	ctx_a=$_X_AMZN_TRACE_ID root_a=$ROOT
	xs begin in-a >/dev/null
	xs end 2>/dev/null
	lambda_ctx
	ctx_b=$_X_AMZN_TRACE_ID root_b=$ROOT
	xs begin in-b >/dev/null
	xs end 2>/dev/null
	unset _X_AMZN_TRACE_ID
	xs exec --name root-c -- true 2>/dev/null
	start_http
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	export _X_AMZN_TRACE_ID=$ctx_a
	run -0 --separate-stderr xs send
	assert_stderr_empty
	assert_requests 1
	[ "$(hq '[.[].json.TraceSegmentDocuments[] | fromjson | .trace_id] | unique | join(",")')" = "$root_a" ]
	[ -d "$(trace_dir "$root_b")" ]
	unset _X_AMZN_TRACE_ID
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	http_docs 3
	doc in-a >/dev/null
	doc in-b >/dev/null
	doc root-c >/dev/null
	assert_doc in-b .trace_id "$root_b"
	assert_no_state
}

@test "kept documents survive 2 h untouched; after 24 h the stale sweep drops them with a warning naming how many" {
	api_env "http://127.0.0.1:$(free_tcp_port)"
	root_with_child 0
	assert_kept_warning 2
	age_tree "$XRAY_SEG_STATE_DIR" '2 hours ago'
	start_http
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 1
	http_docs 2
	export AWS_ENDPOINT_URL_XRAY="http://127.0.0.1:$(free_tcp_port)"
	root_with_child 0
	assert_kept_warning 2
	age_tree "$XRAY_SEG_STATE_DIR" '25 hours ago'
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	# a new trace opens the state directory: the sweep runs
	run -0 --separate-stderr xs exec --transport stdout --name trigger -- true
	assert_warning
	[[ $stderr =~ (^|[^0-9])2([^0-9]|$) ]] || xs_die "the sweep warning does not say 2 documents: $stderr"
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 1
	assert_no_state
}

@test "container credentials (ECS, CodeBuild): fetched from AWS_CONTAINER_CREDENTIALS_FULL_URI with its token" {
	start_http --reply '200:{"AccessKeyId":"AKIDCONTAINER0000001","SecretAccessKey":"from-the-container","Token":"task-token","Expiration":"2099-01-01T00:00:00Z"}' \
		--reply '200:{"UnprocessedTraceSegments":[]}'
	api_env "$HTTP_URL"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$HTTP_URL/v2/credentials/abc
	export AWS_CONTAINER_AUTHORIZATION_TOKEN=pod-identity-token
	run -0 --separate-stderr xs exec --name in-a-task -- true
	assert_stderr_empty
	assert_requests 2
	[ "$(hq '.[0].method + " " + .[0].path')" = "GET /v2/credentials/abc" ]
	[ "$(header_of 0 Authorization)" = pod-identity-token ]
	[ "$(hq '.[1].path')" = /TraceSegments ]
	[[ $(header_of 1 Authorization) == "AWS4-HMAC-SHA256 Credential=AKIDCONTAINER0000001/"* ]]
	[ "$(header_of 1 X-Amz-Security-Token)" = task-token ]
}

@test "container credentials: a full URI off this host over http is refused; an endpoint that fails keeps the documents" {
	api_env "http://127.0.0.1:$(free_tcp_port)"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds
	run -0 --separate-stderr xs exec --name off-host -- true
	assert_warning
	[[ $stderr == *"AWS_CONTAINER_CREDENTIALS_FULL_URI is neither https nor http to this host"* ]] || xs_die "$stderr"
	start_http --reply 500
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$HTTP_URL/creds
	run -0 --separate-stderr xs exec --name creds-down -- true
	assert_warning
	[[ $stderr == *"no AWS credentials from $HTTP_URL/creds: it did not answer 200; 1 document kept"* ]]
}

# tcp_listener [close]: a raw TCP listener on 127.0.0.1 that writes whatever
# reaches it to $D/tcp.log (a line "connected" per connection), and with
# close hangs up after the first bytes; TCP_PORT set.
tcp_listener() {
	"$XS_PYTHON" -S - "$D/tcp.port" "$D/tcp.log" "${1:-}" <<-'PY' &
		import socket, sys, threading
		s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
		open(sys.argv[1], "w").write(str(s.getsockname()[1]))
		log = open(sys.argv[2], "ab", buffering=0)
		def serve(c):
		    log.write(b"connected\n")
		    c.settimeout(3)
		    try:
		        while True:
		            b = c.recv(4096)
		            if not b:
		                break
		            log.write(b)
		            if sys.argv[3] == "close":
		                break
		    except OSError:
		        pass
		    c.close()
		s.settimeout(30)
		while True:
		    try:
		        c, _ = s.accept()
		    except OSError:
		        break
		    threading.Thread(target=serve, args=(c,), daemon=True).start()
	PY
	reap_later $!
	local n
	: >"$D/tcp.log"
	for ((n = 0; n < 500; n++)); do
		[[ -s $D/tcp.port ]] && break
		_nap 0.01
	done
	TCP_PORT=$(cat "$D/tcp.port")
}

@test "only http and https: an ftp or gopher endpoint is refused before anything connects, naming the variable (issue 16)" {
	tcp_listener
	api_env "ftp://127.0.0.1:$TCP_PORT"
	run -3 --separate-stderr xs exec --name ftp -- sh -c 'exit 3'
	assert_kept_warning 1
	[[ $stderr == *"AWS_ENDPOINT_URL_XRAY is not an http or https URL"* ]] || xs_die "$stderr"
	unset AWS_ENDPOINT_URL_XRAY
	export AWS_ENDPOINT_URL="gopher://127.0.0.1:$TCP_PORT/_X"
	run -0 --separate-stderr xs send --all
	assert_kept_warning 1
	[[ $stderr == *"AWS_ENDPOINT_URL is not an http or https URL"* ]] || xs_die "$stderr"
	_nap 0.3
	[[ ! -s $D/tcp.log ]] || xs_die "the listener was reached: $(head -c 300 "$D/tcp.log")"
}

@test "a region that is not a region name, and control characters in credentials, are refused before any request (issue 16)" {
	tcp_listener
	start_http
	api_env "$HTTP_URL"
	# the default endpoint would be https://xray.<region>.amazonaws.com: the region is part of a URL
	unset AWS_ENDPOINT_URL_XRAY
	export AWS_REGION="x@127.0.0.1:$TCP_PORT#"
	run -0 --separate-stderr xs exec --name region -- true
	assert_kept_warning 1
	[[ $stderr == *"AWS_REGION is not a region name"* ]] || xs_die "$stderr"
	export AWS_REGION=eu-west-2 AWS_ENDPOINT_URL_XRAY=$HTTP_URL
	export AWS_SESSION_TOKEN=$'token\r\nX-Injected: yes'
	run -0 --separate-stderr xs send --all
	assert_kept_warning 1
	[[ $stderr == *"AWS_SESSION_TOKEN holds a control character"* ]] || xs_die "$stderr"
	unset AWS_SESSION_TOKEN
	export AWS_ACCESS_KEY_ID=$'AKID\nX-Injected: yes'
	run -0 --separate-stderr xs send --all
	[[ $stderr == *"AWS_ACCESS_KEY_ID holds a control character"* ]] || xs_die "$stderr"
	_nap 0.3
	[[ ! -s $D/tcp.log ]] || xs_die "the listener was reached: $(head -c 300 "$D/tcp.log")"
	assert_requests 0
	# and with clean values the kept document goes
	export AWS_ACCESS_KEY_ID=AKIDXSTEST0000000001
	run -0 --separate-stderr xs send --all
	assert_stderr_empty
	assert_requests 1
}

@test "container credentials: the full URI's host is parsed, not matched by prefix; no user name in it (issue 16)" {
	local uri
	tcp_listener
	api_env "http://127.0.0.1:$TCP_PORT"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONTAINER_AUTHORIZATION_TOKEN=secret-token
	# each would send the token over http to another host; the last two are the prefixes once allowed
	for uri in "http://169.254.170.2:80@127.0.0.1:$TCP_PORT/" "http://user@localhost:$TCP_PORT/" \
		"http://localhost.example:$TCP_PORT/" "http://169.254.170.23.example:$TCP_PORT/" \
		"ftp://127.0.0.1:$TCP_PORT/"; do
		AWS_CONTAINER_CREDENTIALS_FULL_URI=$uri run -0 --separate-stderr xs exec --name creds -- true
		assert_kept_warning 1
		[[ $stderr == *"AWS_CONTAINER_CREDENTIALS_FULL_URI is "*"http"* ]] || xs_die "$uri: $stderr"
		xs_bare send --all 2>/dev/null || true
		rm -rf "$XRAY_SEG_STATE_DIR"
	done
	_nap 0.3
	[[ ! -s $D/tcp.log ]] || xs_die "the listener was reached: $(head -c 300 "$D/tcp.log")"
	# what the SDKs allow: loopback over http (HTTP in capitals is http too)
	start_http --reply '200:{"AccessKeyId":"AKIDCONTAINER0000001","SecretAccessKey":"s","Token":"t"}' \
		--reply '200:{"UnprocessedTraceSegments":[]}'
	export AWS_ENDPOINT_URL_XRAY=$HTTP_URL AWS_CONTAINER_CREDENTIALS_FULL_URI=HTTP://127.0.0.1:$HTTP_PORT/creds
	run -0 --separate-stderr xs exec --name allowed -- true
	assert_stderr_empty
	assert_requests 2
}

@test "escape sequences in the endpoint's answers never reach the terminal: C0 and C1 controls replaced (issue 16)" {
	start_http --reply '403:{"__type":"AccessDeniedException","message":"\u001b]0;owned\u0007\u001b[2Jnot \u009b31mallowed"}'
	api_env "$HTTP_URL"
	root_with_child 0
	assert_kept_warning 2
	[[ $stderr == *"not ??31mallowed"* ]] || xs_die "$stderr"
	[[ $stderr != *$'\e'* && $stderr != *$'\a'* && $stderr != *$'\xc2\x9b'* ]] ||
		xs_die "control characters reached stderr: $(printf %q "$stderr")"
}

@test "container token file: a FIFO does not hang the call; missing or over 16 KiB says so; nothing sent, documents kept (issue 16)" {
	start_http
	api_env "$HTTP_URL"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$HTTP_URL/creds
	mkfifo "$D/fifo"
	head -c 17000 /dev/zero | tr '\0' t >"$D/long"
	local f want
	for f in fifo missing long; do
		case $f in
		fifo) want="not a regular file" ;;
		missing) want="No such file or directory" ;;
		long) want="over 16 KiB" ;;
		esac
		export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$D/$f
		# (timed: the binary itself)
		run -0 --separate-stderr timeout 10 "$XRAY_SEG" exec --name "token-$f" -- true
		assert_kept_warning 1
		[[ $stderr == *"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE $D/$f: $want"* ]] || xs_die "$f: $stderr"
		rm -rf "$XRAY_SEG_STATE_DIR"
	done
	assert_requests 0
}

@test "the credentials request never goes through a proxy, as with the AWS SDKs (issue 16)" {
	tcp_listener close
	start_http --reply '200:{"AccessKeyId":"AKIDCONTAINER0000001","SecretAccessKey":"s","Token":"t"}'
	api_env "$HTTP_URL"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$HTTP_URL/creds AWS_CONTAINER_AUTHORIZATION_TOKEN=secret-token
	export http_proxy=http://127.0.0.1:$TCP_PORT ALL_PROXY=http://127.0.0.1:$TCP_PORT
	run -0 --separate-stderr xs exec --name proxied -- true
	# the credentials came direct; the API request went to the proxy, which hung up
	[ "$(hq '.[0].path')" = /creds ]
	assert_requests 1
	grep -q 'POST http://127.0.0.1:[0-9]*/TraceSegments' "$D/tcp.log" || xs_die "the API request did not use the proxy: $(cat "$D/tcp.log")"
	! grep -q -e /creds -e secret-token "$D/tcp.log" || xs_die "the proxy saw the credentials request: $(cat "$D/tcp.log")"
}

@test "a user name and password in an endpoint URL never appear in a warning (issue 16)" {
	api_env "http://someone:s3cret-pw@127.0.0.1:$(free_tcp_port)/"
	run -0 --separate-stderr xs exec --name shown -- true
	assert_kept_warning 1
	[[ $stderr == *"PutTraceSegments to http://127.0.0.1:"*"/TraceSegments failed"* ]] || xs_die "$stderr"
	[[ $stderr != *s3cret-pw* && $stderr != *someone* ]] || xs_die "the userinfo is shown: $stderr"
}

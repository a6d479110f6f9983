#!/usr/bin/env bats
# api_moto.bats - the api transport against a real moto server (issue 5): a
# CI-style script under `xray-seg exec --name ci-build --transport api` is read
# back with `aws xray batch-get-traces`, every document present with its parent
# links; with moto's SigV4 checking switched on, a wrong secret key is refused
# (warning, documents kept) and the right one accepted.
#
# One moto_server per file (started in setup_file, bounded by `timeout`, killed
# in teardown_file). Needs: aws (awscli v1) and moto_server (pip moto[server]).

load test_helper
load helpers/transport
bats_require_minimum_version 1.5.0

# real_exe NAME: the executable behind NAME on PATH, past pyenv's shims.
real_exe() {
	local p
	p=$(command -v "$1") || return 1
	if [[ $p == */shims/* ]] && command -v pyenv >/dev/null; then
		p=$(pyenv which "$1" 2>/dev/null) || return 1
	fi
	printf '%s\n' "$p"
}

setup_file() {
	xt_setup_file
	local aws moto n pid
	aws=$(real_exe aws) || xs_die "the aws CLI is required (pip install awscli)"
	moto=$(real_exe moto_server) || xs_die "moto_server is required (pip install 'moto[server]')"
	export AWS_BIN_DIR=$BATS_FILE_TMPDIR/awsbin
	mkdir -p "$AWS_BIN_DIR"
	ln -s "$aws" "$AWS_BIN_DIR/aws"
	MOTO_PORT=$(free_tcp_port)
	timeout -k 5 600 "$moto" -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >"$BATS_FILE_TMPDIR/moto.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$BATS_FILE_TMPDIR/moto.pid"
	for ((n = 0; n < 400; n++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || xs_die "moto_server exited: $(cat "$BATS_FILE_TMPDIR/moto.log")"
		_nap 0.05
	done
	((n < 400)) || xs_die "moto_server did not listen on 127.0.0.1:$MOTO_PORT within 20 s"
	export MOTO_PORT MOTO_URL=http://127.0.0.1:$MOTO_PORT
}

teardown_file() {
	local pid n
	if [[ -f $BATS_FILE_TMPDIR/moto.pid ]]; then
		read -r pid <"$BATS_FILE_TMPDIR/moto.pid"
		kill "$pid" 2>/dev/null
		for ((n = 0; n < 100; n++)); do
			kill -0 "$pid" 2>/dev/null || break
			_nap 0.05
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	xt_teardown_file
}

setup() {
	xs_setup
	outside_lambda
	export PATH="$AWS_BIN_DIR:$PATH"
	export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=''
	export AWS_ENDPOINT_URL_XRAY=$MOTO_URL
	D=$BATS_TEST_TMPDIR
}

teardown() {
	[[ -f $BATS_TEST_TMPDIR/auth-on ]] && moto_auth inf
	xs_teardown
}

# moto_auth COUNT: POST /moto-api/reset-auth: "inf" = no checking, "0" = check
# every request from now on.
moto_auth() {
	"$XS_PYTHON" -S - "$MOTO_URL" "$1" <<-'PY' || xs_die "moto reset-auth $1 failed"
		import sys, urllib.request
		req = urllib.request.Request(sys.argv[1] + "/moto-api/reset-auth", data=sys.argv[2].encode(),
		                             headers={"Content-Type": "text/plain"}, method="POST")
		urllib.request.urlopen(req, timeout=10).read()
	PY
}

# traces_of TRACE OUT: `aws xray batch-get-traces` for TRACE into OUT; its
# documents (Segments[].Document, parsed) validated into $DOCS.
traces_of() {
	local rc=0
	aws xray batch-get-traces --trace-ids "$1" --endpoint-url "$MOTO_URL" --region us-east-1 >"$2" 2>"$2.err" || rc=$?
	((rc == 0)) || xs_die "batch-get-traces: exit $rc: $(cat "$2.err")"
	jq -r '.Traces[].Segments[].Document' "$2" >"$2.docs"
	lines_docs "$2.docs"
}

# trace_from_ctx FILE: the Root of the header saved in FILE.
trace_from_ctx() { sed -n 's/^Root=\([^;]*\);.*/\1/p' "$1"; }

@test "a CI-style script under exec --transport api: batch-get-traces returns the segment and every subsegment, parents intact" {
	cat >"$D/ci.sh" <<-'EOF'
		set -e
		printenv _X_AMZN_TRACE_ID >"$1/ctx"
		xray-seg exec --name checkout -- true
		xray-seg begin build >/dev/null
		xray-seg annotate stage build
		xray-seg exec --name compile -- bash -c 'xray-seg exec --name cc -- true'
		xray-seg end
		xray-seg exec --name unit-tests -- sh -c 'exit 0'
		xray-seg annotate result ok
	EOF
	run -0 --separate-stderr xs exec --name ci-build --transport api -- bash "$D/ci.sh" "$D"
	assert_stderr_empty
	assert_output ''
	assert_no_datagrams
	tid=$(trace_from_ctx "$D/ctx")
	[[ $tid =~ $TRACE_RE ]] || xs_die "child's header: $(cat "$D/ctx")"
	traces_of "$tid" "$D/traces.json"
	[ "$(jq -r '.Traces | length' "$D/traces.json")" = 1 ]
	[ "$(jq -r '.Traces[0].Id' "$D/traces.json")" = "$tid" ]
	[ "$(jq -r '.UnprocessedTraceIds | length' "$D/traces.json")" = 0 ]
	[ "$(dq 'map(.name) | sort | join(" ")')" = "build cc checkout ci-build compile unit-tests" ] ||
		xs_die "documents: $(dq -c 'map(.name)')"
	sid=$(seg_id)
	assert_doc ci-build .id "$sid"
	assert_doc ci-build '[has("type"), has("parent_id")]' '[false,false]'
	[ "$(dq '[.[].trace_id] | unique | join(",")')" = "$tid" ]
	build=$(dget build .id)
	compile=$(dget compile .id)
	run -0 dq -c 'map(select(.name != "ci-build") | {(.name): .parent_id}) | add'
	assert_output "$(jq -cn --arg s "$sid" --arg b "$build" --arg c "$compile" \
		'{checkout: $s, build: $s, compile: $b, cc: $c, "unit-tests": $s} ')" ||
		xs_die "parents: $output"
	assert_doc build .annotations.stage build
	assert_doc ci-build .annotations.result ok
	# Segments[].Id is each document's id
	[ "$(jq -c '[.Traces[0].Segments[].Id] | sort' "$D/traces.json")" = "$(dq -c 'map(.id) | sort')" ]
	assert_no_state
}

@test "SigV4 checked for real: a wrong secret key is refused (warning, kept), the right one accepted" {
	local user=xs-user-$SRANDOM ak sk
	moto_auth inf
	aws --endpoint-url "$MOTO_URL" iam create-user --user-name "$user" >/dev/null
	aws --endpoint-url "$MOTO_URL" iam put-user-policy --user-name "$user" --policy-name xray \
		--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["xray:*"],"Resource":"*"}]}'
	read -r ak sk < <(aws --endpoint-url "$MOTO_URL" iam create-access-key --user-name "$user" \
		--query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
	[[ -n $ak && -n $sk ]] || xs_die "no access key created"
	touch "$D/auth-on"
	moto_auth 0
	export AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY="${sk}wrong"
	# the check is on: the CLI itself is refused with the wrong key
	run aws xray get-trace-summaries --start-time 1 --end-time 2 --endpoint-url "$MOTO_URL"
	((status != 0)) || xs_die "moto accepted a wrong secret key: SigV4 checking is not on"

	run -3 --separate-stderr xs exec --name refused --transport api -- bash -c \
		'printenv _X_AMZN_TRACE_ID >"$1/ctx"; xray-seg exec --name inner -- true; exit 3' bash "$D"
	assert_kept_warning 2
	tid=$(trace_from_ctx "$D/ctx")

	export AWS_SECRET_ACCESS_KEY=$sk
	run -0 --separate-stderr xs send --all --transport api
	assert_stderr_empty
	run -0 --separate-stderr xs exec --name accepted --transport api -- bash -c \
		'printenv _X_AMZN_TRACE_ID >"$1/ctx2"' bash "$D"
	assert_stderr_empty
	tid2=$(trace_from_ctx "$D/ctx2")

	traces_of "$tid" "$D/t1.json"
	[ "$(dq 'map(.name) | sort | join(" ")')" = "inner refused" ] || xs_die "documents: $(dq -c 'map(.name)')"
	assert_doc inner .parent_id "$(seg_id)"
	traces_of "$tid2" "$D/t2.json"
	[ "$(dq 'map(.name) | join(" ")')" = accepted ]
	assert_no_state
}

# with_hosts NAMES CMD...: run CMD in a private mount namespace whose
# /etc/hosts maps NAMES to 127.0.0.1, so that a real name lookup happens.
with_hosts() {
	printf '127.0.0.1 %s\n' "$1" >"$BATS_TEST_TMPDIR/hosts"
	shift
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$BATS_TEST_TMPDIR/hosts" "$@"
}

@test "an endpoint by host name: resolved, sent, and the child's status kept (issue 16: the static build crashed in libcurl's resolver)" {
	unshare -m true 2>/dev/null || skip "needs a private mount namespace (unshare -m, as root)"
	export AWS_ENDPOINT_URL_XRAY=http://xray.xs-test.invalid:$MOTO_PORT
	# shellcheck disable=SC2016
	run -3 --separate-stderr with_hosts xray.xs-test.invalid $XRAY_SEG_WRAPPER "$XRAY_SEG" \
		exec --name by-name --transport api -- sh -c 'printenv _X_AMZN_TRACE_ID >"$1/ctx"; exit 3' sh "$D"
	assert_stderr_empty
	traces_of "$(trace_from_ctx "$D/ctx")" "$D/t.json"
	[ "$(dq 'map(.name) | join(" ")')" = by-name ]
	# and through a proxy known by name only (the proxy here refuses: kept, with a warning)
	export http_proxy=http://proxy.xs-test.invalid:9
	run -0 --separate-stderr with_hosts 'xray.xs-test.invalid proxy.xs-test.invalid' $XRAY_SEG_WRAPPER "$XRAY_SEG" \
		exec --name via-proxy --transport api -- true
	assert_kept_warning 1
	[[ $stderr == *"Couldn't connect"* ]] || xs_die "stderr: $stderr"
}

# test_ca DIR: a throwaway CA (ca.crt) and a certificate for localhost signed by it.
test_ca() {
	mkdir -p "$1"
	(
		cd "$1" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=xray-seg test CA" \
			-keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign &&
			openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr &&
			printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
				-extfile server.ext -out server.crt
	) >/dev/null 2>&1 || xs_die "openssl could not make a test CA"
}

@test "https with AWS_CA_BUNDLE: a certificate of a test CA is trusted with it, refused once without it (issue 16)" {
	local ca=$BATS_TEST_TMPDIR/ca port n
	test_ca "$ca"
	port=$(free_tcp_port)
	"$(real_exe moto_server)" -H 127.0.0.1 -p "$port" -c "$ca/server.crt" -k "$ca/server.key" \
		</dev/null >"$BATS_TEST_TMPDIR/moto.log" 2>&1 3>&- &
	reap_later $!
	for ((n = 0; n < 400; n++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		_nap 0.05
	done
	export AWS_ENDPOINT_URL_XRAY=https://localhost:$port
	run -4 --separate-stderr xs exec --name untrusted --transport api -- sh -c 'exit 4'
	assert_kept_warning 1
	[[ $stderr == *"certificate"* && $stderr != *"attempts"* ]] || xs_die "stderr: $stderr"
	export AWS_CA_BUNDLE=$ca/ca.crt
	run -0 --separate-stderr xs send --all --transport api
	assert_stderr_empty
	run -0 --separate-stderr xs exec --name trusted --transport api -- true
	assert_stderr_empty
	assert_no_state
}

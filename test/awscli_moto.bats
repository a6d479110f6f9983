#!/usr/bin/env bats
# awscli_moto.bats - exec with the real aws CLI (v1, whatever `aws` is on PATH)
# against a real moto server on 127.0.0.1: successful DynamoDB, S3 and SQS
# calls, service errors, a usage error and a refused connection, each checked
# in the document and against the stderr the CLI prints on its own.
#
# One moto_server per file (started in setup_file, bounded by `timeout`, killed
# in teardown_file). Needs: aws (awscli v1) and moto_server (pip moto[server]).

load test_helper
bats_require_minimum_version 1.5.0

# real_exe NAME: the executable behind NAME on PATH, past pyenv's shims (a shim
# costs a pyenv start on every call).
real_exe() {
	local p
	p=$(command -v "$1") || return 1
	if [[ $p == */shims/* ]] && command -v pyenv >/dev/null; then
		p=$(pyenv which "$1" 2>/dev/null) || return 1
	fi
	printf '%s\n' "$p"
}

free_port() {
	"$XS_PYTHON" -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

aws_env() {
	export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=''
}

setup_file() {
	xs_setup_file
	local aws moto n pid
	aws=$(real_exe aws) || xs_die "the aws CLI is required (pip install awscli)"
	moto=$(real_exe moto_server) || xs_die "moto_server is required (pip install 'moto[server]')"
	export AWS_BIN_DIR=$BATS_FILE_TMPDIR/awsbin
	mkdir -p "$AWS_BIN_DIR"
	ln -s "$aws" "$AWS_BIN_DIR/aws"
	# the interpreter of the aws script, for fixtures through botocore
	read -r AWS_PY <"$aws"
	AWS_PY=${AWS_PY#\#!}
	export AWS_PY

	MOTO_PORT=$(free_port)
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

	# fixtures: two tables, one item (one botocore process instead of several CLI runs)
	aws_env
	"$AWS_PY" - "$MOTO_URL" <<'PY' || xs_die "cannot create the DynamoDB fixtures"
import sys, botocore.session
ddb = botocore.session.get_session().create_client("dynamodb", endpoint_url=sys.argv[1])
for t in ("xs-t1", "xs-t2"):
    ddb.create_table(TableName=t, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
ddb.put_item(TableName="xs-t1", Item={"k": {"S": "a"}, "v": {"S": "hello"}})
PY
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
	xs_teardown_file
}

setup() {
	xs_setup
	aws_env
	export PATH="$AWS_BIN_DIR:$PATH"
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
	PLAIN=$BATS_TEST_TMPDIR/plain
	lambda_ctx
}

# aws_plain RC ARGS...: the aws CLI on its own; output in $PLAIN.out, $PLAIN.err.
aws_plain() {
	local want=$1 rc=0
	shift
	aws "$@" >"$PLAIN.out" 2>"$PLAIN.err" || rc=$?
	((rc == want)) || xs_die "aws $*: exit $rc, expected $want (test bug?): $(head -c 2000 "$PLAIN.err")"
}

# aws_xs RC ARGS...: `xray-seg exec -- aws ARGS...`; output in $OUT, $ERR.
aws_xs() {
	local want=$1 rc=0
	shift
	xs exec -- aws "$@" >"$OUT" 2>"$ERR" || rc=$?
	((rc == want)) || xs_die "xray-seg exec -- aws $*: exit $rc, expected $want; stderr: $(head -c 3000 "$ERR")"
}

# same_output: xray-seg's stdout and stderr are byte for byte the CLI's own.
same_output() {
	cmp "$PLAIN.err" "$ERR" || xs_die "stderr differs from the CLI's own:
the CLI:
$(od -c "$PLAIN.err" | head -20)
through xray-seg:
$(od -c "$ERR" | head -20)"
	cmp "$PLAIN.out" "$OUT" || xs_die "stdout differs from the CLI's own"
}

no_stderr() { [[ ! -s $ERR ]] || xs_die "unexpected stderr: $(head -c 2000 "$ERR")"; }

@test "dynamodb get-item on an existing table: DynamoDB GetItem, table_name, region; no error; output unchanged" {
	local -a cmd=(--endpoint-url "$MOTO_URL" dynamodb get-item --table-name xs-t1 --key '{"k": {"S": "a"}}')
	aws_plain 0 "${cmd[@]}"
	aws_xs 0 "${cmd[@]}"
	same_output
	no_stderr
	[ "$(jq -c .Item.v <"$OUT")" = '{"S":"hello"}' ]
	wait_docs 1
	assert_doc_json DynamoDB '{name, namespace, aws}' \
		'{"name":"DynamoDB","namespace":"aws","aws":{"operation":"GetItem","table_name":"xs-t1","region":"us-east-1"}}'
	assert_doc DynamoDB '[.error, .fault, .throttle, .cause, .metadata.process.exit_code]' '[null,null,null,null,0]'
	assert_doc DynamoDB .parent_id "$PARENT"
}

@test "--debug in Lambda: status 200, botocore's request id, and the request carries X-Amzn-Trace-Id Parent = the subsegment" {
	export AWS_LAMBDA_FUNCTION_NAME=xs-fn
	aws_xs 0 --debug --endpoint-url "$MOTO_URL" dynamodb get-item --table-name xs-t1 --key '{"k": {"S": "a"}}'
	wait_docs 1
	local rid id
	rid=$(sed -n 's/.* - awscli\.formatter - DEBUG - RequestId: //p' "$ERR")
	[[ -n $rid ]] || xs_die "no RequestId in the CLI's debug output"
	assert_doc DynamoDB '[.http.response.status, .aws.request_id, .error, .fault]' "[200,\"$rid\",null,null]"
	id=$(dget DynamoDB .id)
	grep -qF "'X-Amzn-Trace-Id': b'Root=$ROOT;Parent=$id;Sampled=1'" "$ERR" ||
		xs_die "the request did not carry X-Amzn-Trace-Id with Parent=$id: $(grep -o "'X-Amzn-Trace-Id': [^,]*" "$ERR" | head -3)"
	[ "$(jq -c .Item.k <"$OUT")" = '{"S":"a"}' ]
}

@test "dynamodb get-item on a missing table: error, ResourceNotFoundException, remote; stderr unchanged" {
	local -a cmd=(--endpoint-url "$MOTO_URL" dynamodb get-item --table-name xs-missing --key '{"k": {"S": "a"}}')
	aws_plain 255 "${cmd[@]}"
	aws_xs 255 "${cmd[@]}"
	same_output
	wait_docs 1
	assert_doc DynamoDB '[.error, .fault, .throttle, .aws.operation, .aws.table_name]' '[true,null,null,"GetItem","xs-missing"]'
	assert_doc_json DynamoDB '.cause.exceptions | map(del(.id))' \
		'[{"type":"ResourceNotFoundException","message":"Requested resource not found","remote":true}]'
	assert_doc DynamoDB .metadata.process.exit_code 255
}

@test "--debug on an error: status 400 and the request id from the response headers" {
	aws_xs 255 --debug --endpoint-url "$MOTO_URL" dynamodb get-item --table-name xs-missing --key '{"k": {"S": "a"}}'
	wait_docs 1
	local rid
	rid=$(grep -o "'x-amzn-requestid': '[^']*'" "$ERR" | head -1 | cut -d"'" -f4)
	[[ -n $rid ]] || xs_die "no request id header in the CLI's debug output"
	assert_doc DynamoDB '[.http.response.status, .aws.request_id, .error, .fault]' "[400,\"$rid\",true,null]"
	assert_doc DynamoDB '.cause.exceptions[0].type' ResourceNotFoundException
}

@test "s3 mb, cp local->s3, cp s3->local, ls: CreateBucket, PutObject, GetObject, ListObjectsV2 with bucket and key" {
	local b=xs-bkt-$SRANDOM f=$BATS_TEST_TMPDIR/up.txt
	printf 'hello moto\n' >"$f"
	aws_xs 0 --endpoint-url "$MOTO_URL" s3 mb "s3://$b"
	no_stderr
	[ "$(<"$OUT")" = "make_bucket: $b" ]
	aws_xs 0 --endpoint-url "$MOTO_URL" s3 cp "$f" "s3://$b/dir/up.txt" --no-progress
	no_stderr
	aws_xs 0 --endpoint-url "$MOTO_URL" s3 cp "s3://$b/dir/up.txt" "$BATS_TEST_TMPDIR/down.txt" --no-progress
	no_stderr
	cmp "$f" "$BATS_TEST_TMPDIR/down.txt"
	aws_xs 0 --endpoint-url "$MOTO_URL" s3 ls "s3://$b/dir/"
	no_stderr
	[[ $(<"$OUT") == *' up.txt' ]] || xs_die "s3 ls printed: $(<"$OUT")"
	wait_docs 4
	[ "$(dq -c "map({name, namespace, aws: (.aws | {operation, bucket_name, key, region}), flags: [.error, .fault, .throttle]})")" = \
		"$(jq -c . <<EOF
[{"name":"S3","namespace":"aws","aws":{"operation":"CreateBucket","bucket_name":"$b","key":null,"region":"us-east-1"},"flags":[null,null,null]},
 {"name":"S3","namespace":"aws","aws":{"operation":"PutObject","bucket_name":"$b","key":"dir/up.txt","region":"us-east-1"},"flags":[null,null,null]},
 {"name":"S3","namespace":"aws","aws":{"operation":"GetObject","bucket_name":"$b","key":"dir/up.txt","region":"us-east-1"},"flags":[null,null,null]},
 {"name":"S3","namespace":"aws","aws":{"operation":"ListObjectsV2","bucket_name":"$b","key":"dir/","region":"us-east-1"},"flags":[null,null,null]}]
EOF
)" ] || xs_die "documents: $(dq -c 'map({name, namespace, aws, error, fault, throttle})')"
}

@test "s3 cp to a missing bucket: error NoSuchBucket from the 'upload failed' line, exit 1; stderr unchanged" {
	local f=$BATS_TEST_TMPDIR/up.txt
	printf 'x\n' >"$f"
	cd "$BATS_TEST_TMPDIR"
	aws_plain 1 --endpoint-url "$MOTO_URL" s3 cp up.txt s3://xs-no-such-bucket/k --no-progress
	aws_xs 1 --endpoint-url "$MOTO_URL" s3 cp up.txt s3://xs-no-such-bucket/k --no-progress
	same_output
	wait_docs 1
	assert_doc S3 '[.error, .fault, .aws.operation, .aws.bucket_name, .aws.key]' '[true,null,"PutObject","xs-no-such-bucket","k"]'
	assert_doc_json S3 '.cause.exceptions | map(del(.id))' \
		'[{"type":"NoSuchBucket","message":"The specified bucket does not exist","remote":true}]'
	assert_doc S3 .metadata.process.exit_code 1
}

@test "sqs create-queue and send-message --queue-url: queue_name and queue_url" {
	local q=xs-q-$SRANDOM url
	aws_xs 0 --endpoint-url "$MOTO_URL" sqs create-queue --queue-name "$q"
	no_stderr
	url=$(jq -r .QueueUrl <"$OUT")
	[[ $url == http*/"$q" ]] || xs_die "create-queue printed: $(<"$OUT")"
	aws_xs 0 --endpoint-url "$MOTO_URL" sqs send-message --queue-url "$url" --message-body hello
	no_stderr
	[[ $(jq -r .MessageId <"$OUT") =~ ^[0-9a-f-]{36}$ ]] || xs_die "send-message printed: $(<"$OUT")"
	wait_docs 2
	[ "$(dq -c 'map({name, aws: (.aws | {operation, queue_name, queue_url, region} | with_entries(select(.value != null))), error, fault})')" = \
		"[{\"name\":\"SQS\",\"aws\":{\"operation\":\"CreateQueue\",\"queue_name\":\"$q\",\"region\":\"us-east-1\"},\"error\":null,\"fault\":null},{\"name\":\"SQS\",\"aws\":{\"operation\":\"SendMessage\",\"queue_url\":\"$url\",\"region\":\"us-east-1\"},\"error\":null,\"fault\":null}]" ] ||
		xs_die "documents: $(cat "$DOCS")"
}

@test "sqs send-message to a missing queue: error with the code AWS.SimpleQueueService.NonExistentQueue; stderr unchanged" {
	local -a cmd=(--endpoint-url "$MOTO_URL" sqs send-message --queue-url "$MOTO_URL/123456789012/xs-no-such-queue" --message-body x)
	aws_plain 255 "${cmd[@]}"
	aws_xs 255 "${cmd[@]}"
	same_output
	wait_docs 1
	assert_doc SQS '[.error, .fault, .aws.queue_url]' "[true,null,\"$MOTO_URL/123456789012/xs-no-such-queue\"]"
	assert_doc_json SQS '.cause.exceptions | map(del(.id))' \
		'[{"type":"AWS.SimpleQueueService.NonExistentQueue","message":"The specified queue does not exist.","remote":true}]'
}

@test "dynamodb batch-get-item with --request-items file://: table_names" {
	printf '{"xs-t1": {"Keys": [{"k": {"S": "a"}}]}, "xs-t2": {"Keys": [{"k": {"S": "b"}}]}}\n' >"$BATS_TEST_TMPDIR/items.json"
	aws_xs 0 --endpoint-url "$MOTO_URL" dynamodb batch-get-item --request-items "file://$BATS_TEST_TMPDIR/items.json"
	no_stderr
	[ "$(jq -c '.Responses."xs-t1"[0].k' <"$OUT")" = '{"S":"a"}' ] || xs_die "batch-get-item printed: $(<"$OUT")"
	wait_docs 1
	assert_doc_json DynamoDB .aws '{"operation":"BatchGetItem","table_names":["xs-t1","xs-t2"],"region":"us-east-1"}'
	assert_doc DynamoDB '[.error, .fault]' '[null,null]'
}

@test "dynamodb get-item with --cli-input-json file://: table_name" {
	printf '{\n  "TableName": "xs-t1",\n  "Key": {"k": {"S": "a"}}\n}\n' >"$BATS_TEST_TMPDIR/in.json"
	AWS_DEFAULT_REGION=eu-west-1 aws_xs 0 --endpoint-url "$MOTO_URL" dynamodb get-item \
		--cli-input-json "file://$BATS_TEST_TMPDIR/in.json" --region us-east-1
	no_stderr
	[ "$(jq -c .Item.v <"$OUT")" = '{"S":"hello"}' ]
	wait_docs 1
	assert_doc_json DynamoDB .aws '{"operation":"GetItem","table_name":"xs-t1","region":"us-east-1"}'
}

@test "a usage error (get-item without its required options): exit 2 passed through, UsageError; stderr unchanged" {
	aws_plain 2 dynamodb get-item
	aws_xs 2 dynamodb get-item
	same_output
	wait_docs 1
	assert_doc DynamoDB '[.error, .fault, .throttle, .aws.operation]' '[true,null,null,"GetItem"]'
	assert_doc_json DynamoDB '.cause.exceptions | map({type, message})' \
		'[{"type":"UsageError","message":"aws: error: the following arguments are required: --table-name, --key"}]'
	assert_doc DynamoDB .metadata.process.exit_code 2
}

@test "a refused connection: fault with the CLI's message, exit 255; stderr unchanged" {
	local port
	port=$(free_port)
	export AWS_MAX_ATTEMPTS=1
	aws_plain 255 --endpoint-url "http://127.0.0.1:$port" dynamodb get-item --table-name xs-t1 --key '{"k": {"S": "a"}}'
	aws_xs 255 --endpoint-url "http://127.0.0.1:$port" dynamodb get-item --table-name xs-t1 --key '{"k": {"S": "a"}}'
	same_output
	wait_docs 1
	assert_doc DynamoDB '[.fault, .error, .throttle, .aws.operation]' '[true,null,null,"GetItem"]'
	assert_doc DynamoDB '.cause.exceptions | map(.message)' "[\"Could not connect to the endpoint URL: \\\"http://127.0.0.1:$port/\\\"\"]"
	assert_doc DynamoDB .metadata.process.exit_code 255
}

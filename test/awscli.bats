#!/usr/bin/env bats
# awscli.bats - exec knows the aws CLI (see exec in the man page), driven through
# helpers/fake-aws: recognition from argv (global options, service names,
# operation names, s3 high-level commands, region, resource fields,
# --cli-input-json, --request-items), --name/--namespace/--aws/--no-aws, the
# outcome read from stderr (throttle/server/other codes, usage and other exit
# statuses, --debug status and request id), and what the child sees and the
# caller gets back (argv, trace header, stdout, stderr bytes, exit status).
#
# Most tests run many commands, each under its own context Parent so that its
# document can be found, and check every document with one jq run
# (check_cases). Every document goes through check-docs (wait_docs).

load test_helper
bats_require_minimum_version 1.5.0

# Views: what check_cases compares for each document.
AWS_VIEW='{name, namespace, aws} | with_entries(select(.value != null))'
OUTCOME_VIEW='{error, fault, throttle, exc: .cause.exceptions, status: .http.response.status,
	rid: .aws.request_id, exit: .metadata.process.exit_code}
	| .exc |= (if . == null then null else map(del(.id)) end) | with_entries(select(.value != null))'

setup() {
	xs_setup
	local v
	for v in $(compgen -e FAKE_AWS_); do unset "$v"; done
	FAKE_BIN=$BATS_TEST_TMPDIR/fakebin
	mkdir -p "$FAKE_BIN"
	ln -s "$XS_HELPERS/fake-aws" "$FAKE_BIN/aws"
	export PATH="$FAKE_BIN:$PATH"
	export FAKE_AWS_LOG=$BATS_TEST_TMPDIR/fake
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
	CASES=$BATS_TEST_TMPDIR/cases
	: >"$CASES"
	NCASES=0
	CTX_EXTRA=
	lambda_ctx
}

# --- helpers -------------------------------------------------------------------

# show FILE: the first bytes of FILE, escaped, for failure messages.
show() { head -c 1500 "$1" | od -An -c | head -20; }

# ax RC ARGS...: `xray-seg exec ARGS...` (ARGS must contain `--` before the
# command) under its own context Parent (CASE_PARENT tells its document apart),
# stdout in $OUT, stderr in $ERR. Fails unless it exits RC. When the fake is
# asked to print something, the command is also run on its own and xray-seg's
# stdout, stderr and exit status must be exactly the command's (unless AX_NO_CMP
# is set); otherwise both must be empty.
ax() {
	local want=$1 rc=0 n
	shift
	printf -v CASE_CMD '%q ' "$@"
	printf -v CASE_PARENT '%08x%08x' "$SRANDOM" "$SRANDOM"
	_X_AMZN_TRACE_ID="Root=$ROOT;Parent=$CASE_PARENT;Sampled=1${CTX_EXTRA:+;$CTX_EXTRA}" \
		xs exec "$@" >"$OUT" 2>"$ERR" || rc=$?
	((rc == want)) || xs_die "xray-seg exec ${CASE_CMD:0:300}: exit $rc, expected $want; stderr:
$(head -c 3000 "$ERR")"
	[[ -n ${AX_NO_CMP:-} ]] && return 0
	if [[ -z ${FAKE_AWS_STDERR-}${FAKE_AWS_STDERR_FILE-}${FAKE_AWS_ERROR-}${FAKE_AWS_STDOUT-}${FAKE_AWS_STDOUT_FILE-}${FAKE_AWS_DEBUG-}${FAKE_AWS_STDERR2-} ]]; then
		[[ ! -s $ERR && ! -s $OUT ]] && return 0
		xs_die "xray-seg exec ${CASE_CMD:0:300}: unexpected output: $(show "$OUT") $(show "$ERR")"
	fi
	for ((n = 1; n <= $#; n++)); do [[ ${!n} == -- ]] && break; done
	((n < $#)) || xs_die "ax: no -- before the command in: $CASE_CMD"
	rc=0
	FAKE_AWS_LOG='' "${@:n+1}" >"$OUT.want" 2>"$ERR.want" || rc=$?
	((rc == want)) || xs_die "the command alone exited $rc, expected $want (test bug?): ${CASE_CMD:0:300}"
	cmp -s "$ERR" "$ERR.want" || xs_die "xray-seg exec ${CASE_CMD:0:300}: stderr is not the command's own
expected:
$(show "$ERR.want")
actual:
$(show "$ERR")"
	[[ ! -s $OUT && ! -s $OUT.want ]] || cmp -s "$OUT" "$OUT.want" || xs_die "xray-seg exec ${CASE_CMD:0:300}: stdout is not the command's own
expected:
$(show "$OUT.want")
actual:
$(show "$OUT")"
}

# argv_is ARG...: the fake recorded exactly these arguments.
argv_is() {
	local -a av
	[[ -f $FAKE_AWS_LOG/argv ]] || xs_die "the fake aws did not run ($CASE_CMD)"
	mapfile -d '' av <"$FAKE_AWS_LOG/argv"
	local g w
	printf -v g '%q ' "${av[@]}"
	printf -v w '%q ' "$@"
	[[ $g == "$w" ]] || xs_die "argv of the child of: $CASE_CMD
expected: $w
actual  : $g"
}

# case_add WANT: the document of the last ax, seen through check_cases' view,
# must equal WANT (JSON). The trace header the fake saw is checked too.
case_add() {
	local tr=
	[[ -f $FAKE_AWS_LOG/trace ]] && { read -r -d '' tr <"$FAKE_AWS_LOG/trace" || true; }
	printf '%s\t%s\t%s\t%s\n' "$CASE_PARENT" "$1" "$tr" "$CASE_CMD" >>"$CASES"
	NCASES=$((NCASES + 1))
}

# expect RC WANT ARGS...: ax RC ARGS..., then case_add WANT.
expect() {
	local rc=$1 w=$2
	shift 2
	ax "$rc" "$@"
	case_add "$w"
}

# expect_aws NAME AWSJSON [EXEC_OPTS...] -- CMD ARG...: exit 0, nothing on
# stderr, the child got exactly ARG..., and the document is named NAME, has
# namespace aws and exactly the aws object AWSJSON (seen through AWS_VIEW).
expect_aws() {
	local name=$1 awsj=$2 n
	shift 2
	ax 0 "$@"
	[[ ! -s $ERR ]] || xs_die "xray-seg exec $CASE_CMD: unexpected stderr: $(head -c 2000 "$ERR")"
	for ((n = 1; n <= $#; n++)); do [[ ${!n} == -- ]] && break; done
	argv_is "${@:n+2}"
	case_add "{\"name\":\"$name\",\"namespace\":\"aws\",\"aws\":$awsj}"
}

# check_cases [VIEW]: wait for one document per case, validate them all, and
# compare each case's document through VIEW (jq, default AWS_VIEW) with its
# WANT. Every mismatch is reported, then the test fails.
check_cases() {
	local view=${1:-$AWS_VIEW} out
	wait_docs "$NCASES"
	out=$(jq -rn --slurpfile d "$DOCS" --rawfile c "$CASES" '
		$c | split("\n")[] | select(length > 0) | split("\t")
		| {p: .[0], w: (.[1] | fromjson), t: .[2], cmd: (.[3] | if length > 300 then .[:300] + "..." else . end)} as $k
		| [$d[] | select(.parent_id == $k.p)] as $m
		| if ($m | length) != 1 then "\($k.cmd)\n    \($m | length) documents with its parent id"
		  else $m[0] as $doc | ($doc | '"$view"') as $g
		  | (if $g == $k.w then empty
		     else "\($k.cmd)\n    expected: \($k.w | tojson)\n    actual  : \($g | tojson)\n    document: \($doc | tojson)" end),
		    (if $k.t == "" or $k.t == "Root=\($doc.trace_id);Parent=\($doc.id);Sampled=1" then empty
		     else "\($k.cmd)\n    the child got _X_AMZN_TRACE_ID=\($k.t), not Parent=\($doc.id)" end)
		  end' 2>&1) || xs_die "check_cases: jq failed: $out"
	[[ -z $out ]] || xs_die "$(printf '%s\n' "$out")"
}

# --- recognition: the basics ------------------------------------------------------

@test "get-item: name DynamoDB, namespace aws, operation GetItem, table_name; the child's argv untouched" {
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"Music"}' \
		-- aws dynamodb get-item --table-name Music --key '{"Artist": {"S": "No One You Know"}}'
	check_cases
	wait_docs 1
	assert_doc DynamoDB '.metadata.process.exit_code' 0
	assert_doc DynamoDB '[.error, .fault, .throttle, .cause, .http]' '[null,null,null,null,null]'
	assert_doc DynamoDB .parent_id "$CASE_PARENT"
	assert_doc DynamoDB .trace_id "$ROOT"
}

@test "global options with a value are skipped before the service, between service and operation, and after" {
	local -a opts=(--region us-west-2 --profile sqs --endpoint-url http://127.0.0.1:4566 --output text
		--query Item --color off --ca-bundle /etc/ssl/certs/ca.pem --cli-read-timeout 5
		--cli-connect-timeout 7 --cli-binary-format raw-in-base64-out)
	local k o v w
	for ((k = 0; k < ${#opts[@]}; k += 2)); do
		o=${opts[k]} v=${opts[k + 1]}
		w='{"operation":"GetItem","table_name":"T"}'
		[[ $o == --region ]] && w='{"operation":"GetItem","table_name":"T","region":"us-west-2"}'
		expect_aws DynamoDB "$w" -- aws "$o" "$v" dynamodb get-item --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb "$o" "$v" get-item --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb get-item "$o" "$v" --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb get-item --table-name T "$o" "$v"
	done
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"T","region":"us-west-2"}' \
		-- aws "${opts[@]}" dynamodb get-item --table-name T
	expect_aws SQS '{"operation":"ListQueues","region":"us-west-2"}' -- aws "${opts[@]}" sqs "${opts[@]}" list-queues "${opts[@]}"
	check_cases
}

@test "global flags without a value are skipped wherever they appear" {
	local f w='{"operation":"GetItem","table_name":"T"}'
	for f in --debug --no-verify-ssl --no-paginate --no-sign-request --no-cli-pager --cli-auto-prompt --no-cli-auto-prompt; do
		expect_aws DynamoDB "$w" -- aws "$f" dynamodb get-item --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb "$f" get-item --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb get-item "$f" --table-name T
		expect_aws DynamoDB "$w" -- aws dynamodb get-item --table-name T "$f"
	done
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"b"}' \
		-- aws --debug --no-verify-ssl --no-paginate --no-sign-request --no-cli-pager --no-cli-auto-prompt \
		s3api --cli-auto-prompt list-objects-v2 --no-paginate --bucket b --debug
	check_cases
}

@test "--opt=value is accepted for global options and parameters" {
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"T","region":"eu-west-1"}' \
		-- aws --region=eu-west-1 dynamodb get-item --table-name=T
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"T","region":"eu-west-1"}' \
		-- aws dynamodb --output=json get-item --query=Item --region=eu-west-1 --table-name T
	local o
	for o in --profile=sqs --endpoint-url=http://127.0.0.1:4566 --output=text --query=Item --color=on \
		--ca-bundle=/tmp/ca.pem --cli-read-timeout=0 --cli-connect-timeout=3 --cli-binary-format=base64; do
		expect_aws DynamoDB '{"operation":"GetItem","table_name":"T"}' -- aws "$o" dynamodb "$o" get-item "$o" --table-name=T "$o"
	done
	expect_aws SQS '{"operation":"SendMessage","queue_url":"https://sqs.us-east-1.amazonaws.com/1/q=x"}' \
		-- aws sqs send-message --queue-url=https://sqs.us-east-1.amazonaws.com/1/q=x --message-body=a=b
	check_cases
}

# --- names ---------------------------------------------------------------------

@test "service names: the serviceId without spaces; StepFunctions; S3 for s3 and s3api" {
	local -a c=(dynamodb get-item DynamoDB s3api list-buckets S3 s3 ls S3 stepfunctions list-state-machines StepFunctions
		secretsmanager list-secrets SecretsManager logs describe-log-groups CloudWatchLogs events list-rules EventBridge
		sqs list-queues SQS sns list-topics SNS lambda list-functions Lambda kinesis list-streams Kinesis
		sts get-caller-identity STS ssm describe-parameters SSM)
	local k
	for ((k = 0; k < ${#c[@]}; k += 3)); do
		ax 0 -- aws "${c[k]}" "${c[k + 1]}"
		case_add "{\"name\":\"${c[k + 2]}\",\"namespace\":\"aws\"}"
	done
	check_cases '{name, namespace}'
}

@test "service names of services not in the spec's list come from botocore's serviceId too" {
	# serviceId from botocore 1.43 (data/*/service-2.json metadata.serviceId), spaces removed.
	local -a c=(ec2 describe-instances EC2 cloudformation describe-stacks CloudFormation iam list-users IAM
		kms list-keys KMS apigateway get-rest-apis APIGateway route53 list-hosted-zones Route53
		cognito-idp list-user-pools CognitoIdentityProvider elbv2 describe-load-balancers ElasticLoadBalancingv2
		xray get-trace-summaries XRay cloudwatch list-metrics CloudWatch ecs list-clusters ECS)
	local k
	for ((k = 0; k < ${#c[@]}; k += 3)); do
		ax 0 -- aws "${c[k]}" "${c[k + 1]}"
		case_add "{\"name\":\"${c[k + 2]}\",\"namespace\":\"aws\"}"
	done
	check_cases '{name, namespace}'
}

@test "a service botocore does not know: recognized as aws, status and stderr passed through, valid document" {
	FAKE_AWS_STDERR=$'some output\n' FAKE_AWS_EXIT=0 ax 0 -- aws frobnicator do-the-thing --flux 3
	FAKE_AWS_ERROR=FluxCapacitorException FAKE_AWS_MESSAGE='1.21 gigawatts' FAKE_AWS_OP=DoTheThing \
		ax 255 -- aws frobnicator do-the-thing --flux 3
	wait_docs 2
	[ "$(dq -c '[.[] | [.namespace, (.name | length > 0)]] | unique')" = '[["aws",true]]' ] ||
		xs_die "unexpected documents: $(cat "$DOCS")"
}

@test "operation names: the API name from the CLI spelling" {
	local -a c=(dynamodb get-item GetItem s3api list-objects-v2 ListObjectsV2 sts assume-role-with-saml AssumeRoleWithSAML
		sts assume-role-with-web-identity AssumeRoleWithWebIdentity sts get-caller-identity GetCallerIdentity
		sqs send-message-batch SendMessageBatch lambda invoke Invoke dynamodb batch-write-item BatchWriteItem
		logs put-log-events PutLogEvents stepfunctions start-execution StartExecution s3api put-object PutObject
		secretsmanager get-secret-value GetSecretValue dynamodb query Query sns publish Publish
		s3api get-bucket-acl GetBucketAcl kinesis put-records PutRecords)
	local k
	for ((k = 0; k < ${#c[@]}; k += 3)); do
		ax 0 -- aws "${c[k]}" "${c[k + 1]}"
		case_add "\"${c[k + 2]}\""
	done
	check_cases .aws.operation
}

@test "operation names that are not the CLI words capitalized (SMS, OpenID, MFA, IO) are botocore's" {
	# botocore 1.43 models: every operation whose name differs from its CLI words capitalized,
	# sampled from sns, iam and ec2.
	local -a c=(sns get-sms-attributes GetSMSAttributes sns create-sms-sandbox-phone-number CreateSMSSandboxPhoneNumber
		iam get-open-id-connect-provider GetOpenIDConnectProvider iam create-saml-provider CreateSAMLProvider
		iam enable-mfa-device EnableMFADevice ec2 enable-volume-io EnableVolumeIO)
	local k
	for ((k = 0; k < ${#c[@]}; k += 3)); do
		ax 0 -- aws "${c[k]}" "${c[k + 1]}"
		case_add "\"${c[k + 2]}\""
	done
	check_cases .aws.operation
}

# --- s3 high-level commands -----------------------------------------------------

@test "s3 high-level commands: cp/mv direction, ls, mb, rb, rm, presign, website with bucket and key" {
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"dir/f.txt"}' -- aws s3 cp ./local.txt s3://bkt/dir/f.txt
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"k"}' -- aws s3 cp /abs/local.txt s3://bkt/k
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"k"}' -- aws s3 cp - s3://bkt/k
	expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"dir/f.txt"}' -- aws s3 cp s3://bkt/dir/f.txt ./local.txt
	expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"k"}' -- aws s3 cp s3://bkt/k -
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"a/b"}' -- aws s3 mv local.txt s3://bkt/a/b
	expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"a/b"}' -- aws s3 mv s3://bkt/a/b local.txt
	expect_aws S3 '{"operation":"ListBuckets"}' -- aws s3 ls
	expect_aws S3 '{"operation":"ListBuckets"}' -- aws s3 ls --recursive
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"bkt"}' -- aws s3 ls s3://bkt
	expect_aws S3 '{"operation":"CreateBucket","bucket_name":"bkt"}' -- aws s3 mb s3://bkt
	expect_aws S3 '{"operation":"DeleteBucket","bucket_name":"bkt"}' -- aws s3 rb s3://bkt --force
	expect_aws S3 '{"operation":"DeleteObject","bucket_name":"bkt","key":"dir/f.txt"}' -- aws s3 rm s3://bkt/dir/f.txt
	expect_aws S3 '{"operation":"Presign","bucket_name":"bkt","key":"k.bin"}' -- aws s3 presign s3://bkt/k.bin --expires-in 60
	expect_aws S3 '{"operation":"PutBucketWebsite","bucket_name":"bkt"}' -- aws s3 website s3://bkt --index-document index.html
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"k","region":"eu-west-1"}' \
		-- aws --region eu-west-1 s3 cp f.txt s3://bkt/k --no-progress
	check_cases
}

@test "s3 cp and mv between two s3:// locations are CopyObject" {
	expect 0 '["S3","CopyObject"]' -- aws s3 cp s3://src/a.txt s3://dst/b.txt
	expect 0 '["S3","CopyObject"]' -- aws s3 mv s3://src/a.txt s3://dst/b.txt --recursive
	check_cases '[.name, .aws.operation]'

}

@test "s3 sync and ls with a prefix are ListObjectsV2 on the s3:// bucket" {
	local w='{"name":"S3","op":"ListObjectsV2","bucket":"bkt"}'
	expect 0 "$w" -- aws s3 ls s3://bkt/prefix/ --recursive
	expect 0 "$w" -- aws s3 sync ./dir s3://bkt/p
	expect 0 "$w" -- aws s3 sync s3://bkt/p ./dir --delete
	check_cases '{name, op: .aws.operation, bucket: .aws.bucket_name}'
}

@test "s3 high-level options before the paths: flags and options with a value do not shift them" {
	local -a flags=(--recursive --quiet --dryrun --no-progress --only-show-errors --follow-symlinks
		--no-follow-symlinks --no-guess-mime-type --force-glacier-transfer --ignore-glacier-warnings)
	local -a valued=(--acl bucket-owner-full-control --exclude '*.tmp' --include '*.txt' --storage-class STANDARD_IA
		--content-type text/plain --cache-control max-age=60 --content-disposition inline --content-encoding gzip
		--content-language en --expires 2030-01-01T00:00:00Z --metadata k=v --metadata-directive REPLACE
		--sse-kms-key-id alias/k --sse-c-key key --sse-c-copy-source-key key --website-redirect /x
		--expected-size 10 --source-region eu-west-1 --page-size 100 --checksum-algorithm CRC32
		--checksum-mode ENABLED --case-conflict skip)
	local f k
	for f in "${flags[@]}"; do
		expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"k"}' -- aws s3 cp "$f" s3://bkt/k ./local
	done
	for ((k = 0; k < ${#valued[@]}; k += 2)); do
		expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"k"}' -- aws s3 cp "${valued[k]}" "${valued[k + 1]}" s3://bkt/k ./local
	done
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"bkt"}' -- aws s3 sync --delete --exact-timestamps --size-only ./dir s3://bkt
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"bkt"}' -- aws s3 ls --human-readable --summarize s3://bkt
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"bkt"}' -- aws s3 ls --page-size 10 s3://bkt
	expect_aws S3 '{"operation":"DeleteObject","bucket_name":"bkt","key":"p/"}' -- aws s3 rm --recursive --exclude '*' s3://bkt/p/
	expect_aws S3 '{"operation":"Presign","bucket_name":"bkt","key":"k"}' -- aws s3 presign --expires-in 60 s3://bkt/k
	check_cases
}

# --- region --------------------------------------------------------------------------

@test "region: --region, else AWS_REGION, else AWS_DEFAULT_REGION, else absent" {
	AWS_REGION=r-env AWS_DEFAULT_REGION=r-default expect 0 '"r-opt"' -- aws --region r-opt dynamodb get-item --table-name T
	AWS_REGION=r-env AWS_DEFAULT_REGION=r-default expect 0 '"r-opt"' -- aws dynamodb get-item --table-name T --region=r-opt
	AWS_REGION=r-env AWS_DEFAULT_REGION=r-default expect 0 '"r-env"' -- aws dynamodb get-item --table-name T
	AWS_REGION=r-env expect 0 '"r-env"' -- aws dynamodb get-item --table-name T
	AWS_DEFAULT_REGION=r-default expect 0 '"r-default"' -- aws dynamodb get-item --table-name T
	AWS_DEFAULT_REGION=r-default expect 0 '"r-opt"' -- aws --region r-opt dynamodb get-item --table-name T
	expect 0 '"absent"' -- aws dynamodb get-item --table-name T
	check_cases '.aws | if has("region") then .region else "absent" end'
}

# --- resource fields -----------------------------------------------------------------

@test "resource fields: table, queue, bucket/key, topic, function, stream, secret, parameter, event bus, state machine" {
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"Music"}' \
		-- aws dynamodb get-item --table-name Music --key '{"Artist":{"S":"x"}}'
	expect_aws DynamoDB '{"operation":"PutItem","table_name":"Music"}' \
		-- aws dynamodb put-item --item '{"Artist":{"S":"x"}}' --table-name Music --return-values ALL_OLD
	expect_aws SQS '{"operation":"SendMessage","queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}' \
		-- aws sqs send-message --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/jobs --message-body hi
	expect_aws SQS '{"operation":"CreateQueue","queue_name":"jobs"}' -- aws sqs create-queue --queue-name jobs
	expect_aws SQS '{"operation":"GetQueueUrl","queue_name":"jobs"}' -- aws sqs get-queue-url --queue-name jobs
	expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"dir/x.txt"}' \
		-- aws s3api get-object --bucket bkt --key dir/x.txt out.txt
	expect_aws S3 '{"operation":"PutObject","bucket_name":"bkt","key":"k"}' \
		-- aws s3api put-object --key k --body ./f --bucket bkt
	expect_aws S3 '{"operation":"ListObjectsV2","bucket_name":"bkt"}' -- aws s3api list-objects-v2 --bucket bkt --prefix p/
	expect_aws SNS '{"operation":"Publish","topic_arn":"arn:aws:sns:us-east-1:123456789012:alerts"}' \
		-- aws sns publish --topic-arn arn:aws:sns:us-east-1:123456789012:alerts --message hello
	expect_aws Lambda '{"operation":"Invoke","function_name":"my-fn","invocation_type":"Event"}' \
		-- aws lambda invoke --function-name my-fn --invocation-type Event --payload '{}' out.json
	expect_aws Lambda '{"operation":"GetFunction","function_name":"arn:aws:lambda:us-east-1:123456789012:function:f"}' \
		-- aws lambda get-function --function-name arn:aws:lambda:us-east-1:123456789012:function:f
	expect_aws Kinesis '{"operation":"PutRecord","stream_name":"clicks"}' \
		-- aws kinesis put-record --stream-name clicks --partition-key p --data ZGF0YQ==
	expect_aws SecretsManager '{"operation":"GetSecretValue","secret_id":"prod/db"}' \
		-- aws secretsmanager get-secret-value --secret-id prod/db
	expect_aws SSM '{"operation":"GetParameter","parameter_name":"/app/db/url"}' \
		-- aws ssm get-parameter --name /app/db/url --with-decryption
	expect_aws EventBridge '{"operation":"ListRules","event_bus_name":"orders"}' -- aws events list-rules --event-bus-name orders
	expect_aws StepFunctions '{"operation":"StartExecution","state_machine_arn":"arn:aws:states:us-east-1:123456789012:stateMachine:sm"}' \
		-- aws stepfunctions start-execution --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:sm --input '{}'
	# --name is ssm's parameter only; --key is S3's key only
	expect_aws EventBridge '{"operation":"DescribeRule"}' -- aws events describe-rule --name nightly
	expect_aws DynamoDB '{"operation":"DeleteItem","table_name":"T"}' -- aws dynamodb delete-item --key '{"k":{"S":"v"}}' --table-name T
	check_cases
}

@test "table_names: the keys of --request-items for batch-get-item and batch-write-item, inline and file://" {
	local items='{"Alpha": {"Keys": [{"k": {"S": "1"}}]}, "Zeta": {"Keys": [{"k": {"S": "2"}}]}}'
	printf '{\n  "Music": [{"PutRequest": {"Item": {"k": {"S": "1"}}}}],\n  "Songs": [{"DeleteRequest": {"Key": {"k": {"S": "2"}}}}]\n}\n' \
		>"$BATS_TEST_TMPDIR/items.json"
	expect_aws DynamoDB '{"operation":"BatchGetItem","table_names":["Alpha","Zeta"]}' \
		-- aws dynamodb batch-get-item --request-items "$items"
	expect_aws DynamoDB '{"operation":"BatchGetItem","table_names":["Alpha","Zeta"]}' \
		-- aws dynamodb batch-get-item --request-items="$items" --return-consumed-capacity TOTAL
	expect_aws DynamoDB '{"operation":"BatchWriteItem","table_names":["Music","Songs"]}' \
		-- aws dynamodb batch-write-item --request-items "file://$BATS_TEST_TMPDIR/items.json"
	expect_aws DynamoDB '{"operation":"BatchWriteItem","table_names":["Single"]}' \
		-- aws dynamodb batch-write-item --request-items '{"Single":[{"PutRequest":{"Item":{"k":{"S":"1"}}}}]}'
	cd "$BATS_TEST_TMPDIR"
	expect_aws DynamoDB '{"operation":"BatchWriteItem","table_names":["Music","Songs"]}' \
		-- aws dynamodb batch-write-item --request-items file://items.json
	check_cases
}

@test "--cli-input-json, inline and file://, gives the same fields in API spelling" {
	local d=$BATS_TEST_TMPDIR
	printf '{\n    "TableName": "FromFile",\n    "Key": {"k": {"S": "v"}}\n}\n' >"$d/get.json"
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"Music"}' \
		-- aws dynamodb get-item --cli-input-json '{"TableName": "Music", "Key": {"k": {"S": "v"}}}'
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"FromFile"}' -- aws dynamodb get-item --cli-input-json "file://$d/get.json"
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"FromFile"}' -- aws dynamodb get-item "--cli-input-json=file://$d/get.json"
	# only top-level members count; the command line wins over the JSON
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"Real"}' \
		-- aws dynamodb get-item --cli-input-json '{"Key": {"TableName": {"S": "nested"}}, "TableName": "Real"}'
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"Cli"}' \
		-- aws dynamodb get-item --cli-input-json '{"TableName": "Json"}' --table-name Cli
	# unreadable or not JSON: nothing taken, the command still runs
	expect_aws DynamoDB '{"operation":"GetItem"}' -- aws dynamodb get-item --cli-input-json '{"TableName": "x",'
	expect_aws DynamoDB '{"operation":"GetItem"}' -- aws dynamodb get-item --cli-input-json "file://$d/missing.json"
	expect_aws DynamoDB '{"operation":"GetItem"}' -- aws dynamodb get-item --cli-input-json "file://$d"
	expect_aws S3 '{"operation":"GetObject","bucket_name":"bkt","key":"k/1"}' \
		-- aws s3api get-object --cli-input-json '{"Bucket": "bkt", "Key": "k/1"}' out.bin
	expect_aws SQS '{"operation":"SendMessage","queue_url":"https://sqs.eu-west-1.amazonaws.com/1/q"}' \
		-- aws sqs send-message --cli-input-json '{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q", "MessageBody": "x"}'
	expect_aws SQS '{"operation":"CreateQueue","queue_name":"q2"}' -- aws sqs create-queue --cli-input-json '{"QueueName":"q2"}'
	expect_aws SNS '{"operation":"Publish","topic_arn":"arn:aws:sns:us-east-1:1:t"}' \
		-- aws sns publish --cli-input-json '{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"}'
	expect_aws Lambda '{"operation":"Invoke","function_name":"fn","invocation_type":"DryRun"}' \
		-- aws lambda invoke --cli-input-json '{"FunctionName": "fn", "InvocationType": "DryRun"}' out.json
	expect_aws Kinesis '{"operation":"PutRecord","stream_name":"s1"}' \
		-- aws kinesis put-record --cli-input-json '{"StreamName": "s1", "PartitionKey": "p", "Data": "ZA=="}'
	expect_aws SecretsManager '{"operation":"GetSecretValue","secret_id":"sec"}' \
		-- aws secretsmanager get-secret-value --cli-input-json '{"SecretId": "sec"}'
	expect_aws SSM '{"operation":"GetParameter","parameter_name":"/p"}' -- aws ssm get-parameter --cli-input-json '{"Name": "/p"}'
	expect_aws EventBridge '{"operation":"ListRules","event_bus_name":"bus"}' -- aws events list-rules --cli-input-json '{"EventBusName": "bus"}'
	cd "$d"
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"FromFile"}' -- aws dynamodb get-item --cli-input-json file://get.json
	check_cases
}

@test "--cli-input-json RequestItems gives table_names, inline and file://" {
	printf '{"RequestItems": {"A": {"Keys": []}, "B": {"Keys": []}}}' >"$BATS_TEST_TMPDIR/batch.json"
	expect_aws DynamoDB '{"operation":"BatchGetItem","table_names":["A","B"]}' \
		-- aws dynamodb batch-get-item --cli-input-json '{"RequestItems": {"A": {"Keys": []}, "B": {"Keys": []}}}'
	expect_aws DynamoDB '{"operation":"BatchWriteItem","table_names":["A","B"]}' \
		-- aws dynamodb batch-write-item --cli-input-json "file://$BATS_TEST_TMPDIR/batch.json"
	check_cases
}

@test "--cli-input-json for Step Functions: the API spells it stateMachineArn" {
	expect_aws StepFunctions '{"operation":"StartExecution","state_machine_arn":"arn:aws:states:us-east-1:1:stateMachine:sm"}' \
		-- aws stepfunctions start-execution --cli-input-json '{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:sm", "input": "{}"}'
	check_cases
}

# --- --name, --namespace, --aws, --no-aws -------------------------------------------------

@test "--name and --namespace override the name and namespace; the aws fields stay" {
	ax 0 --name custom -- aws dynamodb get-item --table-name T
	argv_is dynamodb get-item --table-name T
	case_add '{"name":"custom","namespace":"aws","aws":{"operation":"GetItem","table_name":"T"}}'
	ax 0 --namespace remote -- aws dynamodb get-item --table-name T
	case_add '{"name":"DynamoDB","namespace":"remote","aws":{"operation":"GetItem","table_name":"T"}}'
	ax 0 --name=both --namespace=remote -- aws s3 cp f s3://b/k
	case_add '{"name":"both","namespace":"remote","aws":{"operation":"PutObject","bucket_name":"b","key":"k"}}'
	ax 0 --namespace aws --name x -- aws s3 ls
	case_add '{"name":"x","namespace":"aws","aws":{"operation":"ListBuckets"}}'
	check_cases
}

@test "--no-aws: a plain exec named aws, no aws block, outcome by exit status only" {
	ax 0 --no-aws -- aws dynamodb get-item --table-name T
	argv_is dynamodb get-item --table-name T
	case_add '{"name":"aws"}'
	FAKE_AWS_ERROR=ThrottlingException FAKE_AWS_MESSAGE='Rate exceeded' ax 255 --no-aws -- aws dynamodb get-item --table-name T
	case_add '{"name":"aws","fault":true,"exc":[{"message":"exit status 255"}],"exit":255}'
	FAKE_AWS_EXIT=2 FAKE_AWS_STDERR=$'usage: aws [options]\naws: error: bad\n' ax 2 --no-aws --name plain -- aws s3
	case_add '{"name":"plain","fault":true,"exc":[{"message":"exit status 2"}],"exit":2}'
	check_cases '{name, namespace, aws, error, fault, throttle, exc: .cause.exceptions, exit: (.metadata.process.exit_code | if . == 0 then null else . end)}
		| .exc |= (if . == null then null else map(del(.id)) end) | with_entries(select(.value != null))'
}

@test "--aws recognizes a command with another name; without it such a command is a plain exec" {
	cp "$XS_HELPERS/fake-aws" "$FAKE_BIN/my-aws"
	ln -s "$XS_HELPERS/fake-aws" "$FAKE_BIN/aws2"
	ax 0 --aws -- my-aws dynamodb get-item --table-name T
	argv_is dynamodb get-item --table-name T
	[[ $(<"$FAKE_AWS_LOG/arg0") == */my-aws ]] || xs_die "the child was not my-aws: $(<"$FAKE_AWS_LOG/arg0")"
	case_add '{"name":"DynamoDB","namespace":"aws","aws":{"operation":"GetItem","table_name":"T"}}'
	FAKE_AWS_ERROR=ThrottlingException ax 255 --aws -- "$FAKE_BIN/my-aws" dynamodb get-item --table-name T
	case_add '{"name":"DynamoDB","namespace":"aws","aws":{"operation":"GetItem","table_name":"T"},"throttle":true,"error":true}'
	ax 0 -- my-aws dynamodb get-item --table-name T
	case_add '{"name":"my-aws"}'
	ax 0 -- aws2 dynamodb get-item --table-name T
	case_add '{"name":"aws2"}'
	FAKE_AWS_ERROR=ThrottlingException ax 255 -- my-aws dynamodb get-item --table-name T
	case_add '{"name":"my-aws","fault":true}'
	check_cases '{name, namespace, aws, error, fault, throttle} | with_entries(select(.value != null))'
}

@test "a path whose basename is aws is recognized" {
	expect_aws DynamoDB '{"operation":"GetItem","table_name":"T"}' -- "$FAKE_BIN/aws" dynamodb get-item --table-name T
	cd "$FAKE_BIN"
	expect_aws SQS '{"operation":"ListQueues"}' -- ./aws sqs list-queues
	check_cases
}

# --- outcome from stderr --------------------------------------------------------------

@test "throttling codes: throttle and error, the exception remote with the code as its type" {
	local c
	for c in Throttling ThrottlingException ThrottledException RequestLimitExceeded \
		ProvisionedThroughputExceededException TooManyRequestsException RequestThrottled SlowDown \
		RequestThrottledException; do
		FAKE_AWS_ERROR=$c FAKE_AWS_MESSAGE='Rate exceeded' ax 255 -- aws dynamodb get-item --table-name T
		case_add '{"error":true,"throttle":true,"exc":[{"type":"'"$c"'","message":"Rate exceeded","remote":true}],"exit":255}'
	done
	# v2 exits 254 on a service error
	FAKE_AWS_ERROR=ThrottlingException FAKE_AWS_MESSAGE='Rate exceeded' FAKE_AWS_EXIT=254 ax 254 -- aws dynamodb get-item --table-name T
	case_add '{"error":true,"throttle":true,"exc":[{"type":"ThrottlingException","message":"Rate exceeded","remote":true}],"exit":254}'
	# after botocore's retries, the message still starts after the operation's part (issue 14)
	FAKE_AWS_STDERR=$'\nAn error occurred (ThrottlingException) when calling the GetItem operation (reached max retries: 4): Rate exceeded\n' \
		FAKE_AWS_EXIT=255 ax 255 -- aws dynamodb get-item --table-name T
	case_add '{"error":true,"throttle":true,"exc":[{"type":"ThrottlingException","message":"Rate exceeded","remote":true}],"exit":255}'
	check_cases "$OUTCOME_VIEW"
}

@test "server codes: fault, the exception remote with the code as its type" {
	local c
	for c in InternalServerError InternalFailure InternalError ServiceUnavailable ServiceUnavailableException \
		InternalServerException ServiceException ServiceFailure; do
		FAKE_AWS_ERROR=$c FAKE_AWS_MESSAGE='We encountered an internal error. Please try again.' \
			ax 255 -- aws sqs send-message --queue-url https://q --message-body x
		case_add '{"fault":true,"exc":[{"type":"'"$c"'","message":"We encountered an internal error. Please try again.","remote":true}],"exit":255}'
	done
	check_cases "$OUTCOME_VIEW"
}

@test "other codes: error only, whatever the exit status; the message is the rest of the line" {
	local c
	for c in ResourceNotFoundException ValidationException ConditionalCheckFailedException AccessDeniedException \
		TransactionInProgressException NoSuchKey AWS.SimpleQueueService.NonExistentQueue \
		ThrottlingExceptionX NotThrottling InternalErrors; do
		FAKE_AWS_ERROR=$c FAKE_AWS_MESSAGE='Requested resource not found' ax 255 -- aws dynamodb get-item --table-name T
		case_add '{"error":true,"exc":[{"type":"'"$c"'","message":"Requested resource not found","remote":true}],"exit":255}'
	done
	FAKE_AWS_ERROR=ValidationException FAKE_AWS_EXIT=254 \
		FAKE_AWS_MESSAGE='One or more parameter values were invalid: Missing the key k in the item' \
		ax 254 -- aws dynamodb put-item --table-name T --item '{}'
	case_add '{"error":true,"exc":[{"type":"ValidationException","message":"One or more parameter values were invalid: Missing the key k in the item","remote":true}],"exit":254}'
	# s3 high-level commands prefix the report and exit 1
	FAKE_AWS_STDERR=$'upload failed: ./f.txt to s3://nobucket/x An error occurred (NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist\n' \
		FAKE_AWS_EXIT=1 ax 1 -- aws s3 cp ./f.txt s3://nobucket/x
	case_add '{"error":true,"exc":[{"type":"NoSuchBucket","message":"The specified bucket does not exist","remote":true}],"exit":1}'
	# quotes, backslashes and UTF-8 in the message; no newline at the end of stderr
	FAKE_AWS_STDERR='An error occurred (ValidationException) when calling the Query operation: Invalid "KeyConditionExpression": \d+ ünïcödé' \
		FAKE_AWS_EXIT=255 ax 255 -- aws dynamodb query --table-name T
	case_add '{"error":true,"exc":[{"type":"ValidationException","message":"Invalid \"KeyConditionExpression\": \\d+ ünïcödé","remote":true}],"exit":255}'
	# the report after other output
	FAKE_AWS_STDERR=$'warning: something\n\nAn error occurred (AccessDenied) when calling the ListBuckets operation: Access Denied\n' \
		FAKE_AWS_EXIT=255 ax 255 -- aws s3 ls
	case_add '{"error":true,"exc":[{"type":"AccessDenied","message":"Access Denied","remote":true}],"exit":255}'
	check_cases "$OUTCOME_VIEW"
}

@test "botocore's other throttling codes are throttles, InternalErrorException a fault" {
	# The throttling set is botocore's own (its retry rules), wider than the common names.
	local c
	for c in LimitExceededException BandwidthLimitExceeded EC2ThrottledException PriorRequestNotComplete; do
		FAKE_AWS_ERROR=$c FAKE_AWS_MESSAGE='Limit exceeded' ax 255 -- aws kinesis put-record --stream-name s
		case_add '{"error":true,"throttle":true,"exc":[{"type":"'"$c"'","message":"Limit exceeded","remote":true}],"exit":255}'
	done
	FAKE_AWS_ERROR=InternalErrorException FAKE_AWS_MESSAGE='Limit exceeded' ax 255 -- aws kinesis put-record --stream-name s
	case_add '{"fault":true,"exc":[{"type":"InternalErrorException","message":"Limit exceeded","remote":true}],"exit":255}'
	check_cases "$OUTCOME_VIEW"
}

@test "an error report after a long prefix on the same line is found (upload failed: <long path> ...)" {
	local n path
	for n in 100 4060 4070 4076 4080 4090 5000 8170; do
		path=./$(head -c "$n" /dev/zero | tr '\0' p)
		FAKE_AWS_STDERR="upload failed: $path to s3://bkt/k An error occurred (NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist"$'\n' \
			FAKE_AWS_EXIT=1 ax 1 -- aws s3 cp "$path" s3://bkt/k
		case_add '{"error":true,"exc":[{"type":"NoSuchBucket","message":"The specified bucket does not exist","remote":true}],"exit":1}'
	done
	check_cases "$OUTCOME_VIEW"
}

@test "an error report split across two writes, or after a long line, is still found" {
	AX_NO_CMP=1 FAKE_AWS_STDERR=$'\nAn error occ' FAKE_AWS_SLEEP=0.2 \
		FAKE_AWS_STDERR2=$'urred (ThrottlingException) when calling the GetItem operation: Rate exceeded\n' FAKE_AWS_EXIT=255 \
		ax 255 -- aws dynamodb get-item --table-name T
	[ "$(<"$ERR")" = $'\nAn error occurred (ThrottlingException) when calling the GetItem operation: Rate exceeded' ] ||
		xs_die "stderr: $(show "$ERR")"
	case_add '{"error":true,"throttle":true,"exc":[{"type":"ThrottlingException","message":"Rate exceeded","remote":true}],"exit":255}'
	head -c 300000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/long"
	FAKE_AWS_STDERR_FILE=$BATS_TEST_TMPDIR/long FAKE_AWS_ERROR=InternalFailure FAKE_AWS_MESSAGE=boom \
		ax 255 -- aws dynamodb get-item --table-name T
	case_add '{"fault":true,"exc":[{"type":"InternalFailure","message":"boom","remote":true}],"exit":255}'
	check_cases "$OUTCOME_VIEW"
}

@test "a very long error message is cut to fit the datagram; stderr still passes whole" {
	local msg
	msg=$(head -c 70000 /dev/zero | tr '\0' m)
	FAKE_AWS_ERROR=ThrottlingException FAKE_AWS_MESSAGE=$msg ax 255 -- aws dynamodb get-item --table-name T
	wait_docs 1
	assert_doc DynamoDB '[.error, .throttle, .cause.exceptions[0].type, .cause.exceptions[0].remote]' '[true,true,"ThrottlingException",true]'
	assert_doc DynamoDB '.cause.exceptions[0].message | startswith("mmmmmmmmmmmmmmmmmmmm") and length < 70000' true
}

@test "--debug: http.response.status and aws.request_id from botocore's debug lines" {
	FAKE_AWS_DEBUG='200 TP5G0RNdseLH1gX9DuYPLqFfmXrcAazFEkQrii74iAUPyp8wM8RV' \
		ax 0 -- aws --debug dynamodb get-item --table-name T
	case_add '{"status":200,"rid":"TP5G0RNdseLH1gX9DuYPLqFfmXrcAazFEkQrii74iAUPyp8wM8RV","exit":0}'
	FAKE_AWS_DEBUG='200 ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOP' FAKE_AWS_REQID_HEADER=x-amzn-RequestId \
		ax 0 -- aws dynamodb get-item --table-name T --debug
	case_add '{"status":200,"rid":"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOP","exit":0}'
	FAKE_AWS_DEBUG='400 psBhGW9DVTEvd2iSZdmE2GKGQcsjGO9CQyOzT1D9lTMTwyLWZxH4' FAKE_AWS_ERROR=ResourceNotFoundException \
		FAKE_AWS_MESSAGE='Requested resource not found' ax 255 -- aws --debug dynamodb get-item --table-name T
	case_add '{"error":true,"status":400,"rid":"psBhGW9DVTEvd2iSZdmE2GKGQcsjGO9CQyOzT1D9lTMTwyLWZxH4","exc":[{"type":"ResourceNotFoundException","message":"Requested resource not found","remote":true}],"exit":255}'
	FAKE_AWS_DEBUG='404 0PRAZ3V1GRBH5ZPF' FAKE_AWS_REQID_HEADER=x-amz-request-id FAKE_AWS_SERVICE=s3 FAKE_AWS_OP=HeadObject \
		FAKE_AWS_ERROR=404 FAKE_AWS_MESSAGE='Not Found' ax 255 -- aws s3api head-object --bucket b --key k --debug
	case_add '{"error":true,"status":404,"rid":"0PRAZ3V1GRBH5ZPF","exc":[{"type":"404","message":"Not Found","remote":true}],"exit":255}'
	FAKE_AWS_DEBUG='500 R500' FAKE_AWS_ERROR=InternalServerError FAKE_AWS_MESSAGE='Internal server error' \
		ax 255 -- aws --debug dynamodb get-item --table-name T
	case_add '{"fault":true,"status":500,"rid":"R500","exc":[{"type":"InternalServerError","message":"Internal server error","remote":true}],"exit":255}'
	FAKE_AWS_DEBUG='429 R429' FAKE_AWS_ERROR=TooManyRequestsException FAKE_AWS_MESSAGE='Rate exceeded' \
		FAKE_AWS_SERVICE=lambda FAKE_AWS_OP=Invoke ax 255 -- aws --debug lambda invoke --function-name f out.json
	case_add '{"error":true,"throttle":true,"status":429,"rid":"R429","exc":[{"type":"TooManyRequestsException","message":"Rate exceeded","remote":true}],"exit":255}'
	# a 5xx retried, then a 2xx: the final response's status and request id
	FAKE_AWS_DEBUG='503 FIRSTATTEMPT,200 FINALATTEMPT' ax 0 -- aws --debug dynamodb get-item --table-name T
	case_add '{"status":200,"rid":"FINALATTEMPT","exit":0}'
	FAKE_AWS_DEBUG='500 A1,500 A2,400 A3' FAKE_AWS_ERROR=ValidationException FAKE_AWS_MESSAGE=bad \
		ax 255 -- aws --debug dynamodb get-item --table-name T
	case_add '{"error":true,"status":400,"rid":"A3","exc":[{"type":"ValidationException","message":"bad","remote":true}],"exit":255}'
	# without --debug the CLI prints no debug lines and nothing is recorded
	FAKE_AWS_DEBUG='200 NOTSHOWN' ax 0 -- aws dynamodb get-item --table-name T
	case_add '{"exit":0}'
	check_cases "$OUTCOME_VIEW"
}

@test "--debug: an HTTP status >= 500 with a code outside the server list is a fault" {
	FAKE_AWS_DEBUG='503 R503' FAKE_AWS_ERROR=SomethingUnusual FAKE_AWS_MESSAGE='Try later' \
		ax 255 -- aws --debug dynamodb get-item --table-name T
	case_add '{"fault":true,"throttle":null,"status":503,"type":"SomethingUnusual"}'
	check_cases '{fault, throttle, status: .http.response.status, type: .cause.exceptions[0].type}'
}

@test "usage failures (v1 exit 2, v2 exit 252): error, UsageError with the last non-empty stderr line" {
	local v1=$'usage: Note: AWS CLI version 2, the latest major version of the AWS CLI, is now stable and recommended for general use. For more information, see the AWS CLI version 2 installation instructions at: https://docs.aws.amazon.com/cli/latest/userguide/install-cliv2.html\n\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\nTo see help text, you can run:\n\n  aws help\n  aws <command> help\n  aws <command> <subcommand> help\naws: error: the following arguments are required: --table-name, --key\n'
	local v2=$'\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\nTo see help text, you can run:\n\n  aws help\n  aws <command> help\n  aws <command> <subcommand> help\n\naws: error: the following arguments are required: --table-name, --key\n\n'
	FAKE_AWS_STDERR=$v1 FAKE_AWS_EXIT=2 ax 2 -- aws dynamodb get-item
	case_add '{"error":true,"exc":[{"type":"UsageError","message":"aws: error: the following arguments are required: --table-name, --key"}],"exit":2}'
	FAKE_AWS_STDERR=$v2 FAKE_AWS_EXIT=252 ax 252 -- aws dynamodb get-item
	case_add '{"error":true,"exc":[{"type":"UsageError","message":"aws: error: the following arguments are required: --table-name, --key"}],"exit":252}'
	FAKE_AWS_STDERR='aws: error: argument --table-name: expected one argument' FAKE_AWS_EXIT=2 ax 2 -- aws dynamodb get-item --table-name
	case_add '{"error":true,"exc":[{"type":"UsageError","message":"aws: error: argument --table-name: expected one argument"}],"exit":2}'
	check_cases '{error, fault, throttle, exc: (.cause.exceptions | map({type, message})), exit: .metadata.process.exit_code}
		| with_entries(select(.value != null))'
}

@test "v2 configuration failure (exit 253): error, ConfigurationError" {
	FAKE_AWS_STDERR=$'\nThe config profile (nope) could not be found\n' FAKE_AWS_EXIT=253 ax 253 -- aws --profile nope s3 ls
	case_add '{"error":true,"type":"ConfigurationError","exit":253}'
	check_cases '{error, fault, throttle, type: .cause.exceptions[0].type, exit: .metadata.process.exit_code}
		| with_entries(select(.value != null))'
}

@test "other non-zero exits without an error report: fault with the last stderr line" {
	FAKE_AWS_STDERR=$'\nCould not connect to the endpoint URL: "https://dynamodb.us-east-1.amazonaws.com/"\n' FAKE_AWS_EXIT=255 \
		ax 255 -- aws dynamodb get-item --table-name T
	case_add '{"fault":true,"exc":[{"message":"Could not connect to the endpoint URL: \"https://dynamodb.us-east-1.amazonaws.com/\""}],"exit":255}'
	FAKE_AWS_STDERR=$'first\nRead timeout on endpoint URL: "https://lambda.us-east-1.amazonaws.com/"' FAKE_AWS_EXIT=255 \
		ax 255 -- aws lambda invoke --function-name f out.json
	case_add '{"fault":true,"exc":[{"message":"Read timeout on endpoint URL: \"https://lambda.us-east-1.amazonaws.com/\""}],"exit":255}'
	FAKE_AWS_STDERR=$'\nSSL validation failed for https://sts.amazonaws.com/ [SSL: CERTIFICATE_VERIFY_FAILED]\n\n' FAKE_AWS_EXIT=254 \
		ax 254 -- aws sts get-caller-identity
	case_add '{"fault":true,"exc":[{"message":"SSL validation failed for https://sts.amazonaws.com/ [SSL: CERTIFICATE_VERIFY_FAILED]"}],"exit":254}'
	FAKE_AWS_STDERR=$'fatal error: [Errno 28] No space left on device\n' FAKE_AWS_EXIT=1 ax 1 -- aws s3 cp s3://b/k ./f
	case_add '{"fault":true,"exc":[{"message":"fatal error: [Errno 28] No space left on device"}],"exit":1}'
	FAKE_AWS_STDERR=$'\nTraceback (most recent call last):\nKeyboardInterrupt\n' FAKE_AWS_EXIT=130 ax 130 -- aws s3 ls
	case_add '{"fault":true,"exc":[{"message":"KeyboardInterrupt"}],"exit":130}'
	check_cases '{error, fault, throttle, exc: (.cause.exceptions | map({message})), exit: .metadata.process.exit_code}
		| with_entries(select(.value != null))'
}

@test "credential and region problems are configuration errors whatever the exit status" {
	# The CLI v1 reports them with 255 or 1; they are the caller's setup, not the service.
	FAKE_AWS_STDERR=$'\nUnable to locate credentials. You can configure credentials by running "aws configure".\n' FAKE_AWS_EXIT=255 \
		ax 255 -- aws sts get-caller-identity
	case_add '{"error":true,"exc":[{"type":"ConfigurationError","message":"Unable to locate credentials. You can configure credentials by running \"aws configure\"."}],"exit":255}'
	FAKE_AWS_STDERR=$'fatal error: Unable to locate credentials\n' FAKE_AWS_EXIT=1 ax 1 -- aws s3 ls
	case_add '{"error":true,"exc":[{"type":"ConfigurationError","message":"fatal error: Unable to locate credentials"}],"exit":1}'
	FAKE_AWS_STDERR=$'\nYou must specify a region. You can also configure your region by running "aws configure".\n' FAKE_AWS_EXIT=255 \
		ax 255 -- aws dynamodb list-tables
	case_add '{"error":true,"exc":[{"type":"ConfigurationError","message":"You must specify a region. You can also configure your region by running \"aws configure\"."}],"exit":255}'
	check_cases '{error, fault, throttle, exc: (.cause.exceptions | map({type, message})), exit: .metadata.process.exit_code}
		| with_entries(select(.value != null))'
}

@test "exit 0 without an error report: no flags and no cause, whatever else is on stderr" {
	expect 0 '{"exit":0}' -- aws dynamodb get-item --table-name T
	FAKE_AWS_STDERR=$'warning: Skipping file /tmp/x. File does not exist.\nerror-ish text: (Code) when calling\n' \
		expect 0 '{"exit":0}' -- aws s3 cp /tmp/x s3://b/x
	FAKE_AWS_STDOUT=$'An error occurred (ThrottlingException) when calling the GetItem operation: on stdout\n' \
		expect 0 '{"exit":0}' -- aws dynamodb get-item --table-name T
	check_cases "$OUTCOME_VIEW"
}

@test "the exit status passes through, recorded as metadata.process.exit_code" {
	local rc
	for rc in 0 1 2 3 42 130 252 253 254 255; do
		FAKE_AWS_EXIT=$rc expect "$rc" "$rc" -- aws sts get-caller-identity
	done
	check_cases .metadata.process.exit_code
}

@test "aws killed by a signal: 128+N, the signal recorded, a fault" {
	# xray-seg dies of the same signal: the shell says so, as for aws run directly
	AX_NO_CMP=1 FAKE_AWS_KILL=TERM ax 143 -- aws dynamodb get-item --table-name T
	[[ ! -s $OUT && $(<"$ERR") == *Terminated* ]] || xs_die "$(show "$OUT") $(show "$ERR")"
	case_add '{"signal":"SIGTERM","exit":143,"fault":true,"name":"DynamoDB"}'
	AX_NO_CMP=1 FAKE_AWS_KILL=KILL ax 137 -- aws s3 ls
	[[ ! -s $OUT && $(<"$ERR") == *Killed* ]] || xs_die "$(show "$OUT") $(show "$ERR")"
	case_add '{"signal":"SIGKILL","exit":137,"fault":true,"name":"S3"}'
	check_cases '{signal: .metadata.process.signal, exit: .metadata.process.exit_code, fault, name}'
}

@test "SIGINT and SIGTERM sent to xray-seg reach aws; what it prints then still passes through" {
	local sig k=0 pid ready rc st
	for sig in INT TERM; do
		k=$((k + 1))
		ready=$BATS_TEST_TMPDIR/ready.$sig
		# (env: a background job of this non-interactive shell starts with SIGINT ignored)
		FAKE_AWS_STDERR='working' FAKE_AWS_TRAP="$sig $((129 + k))" FAKE_AWS_READY=$ready \
			FAKE_AWS_WAIT_FOR=$BATS_TEST_TMPDIR/never env --default-signal=INT,TERM \
			"$XRAY_SEG" exec -- aws s3 cp f s3://b/k 2>"$ERR.$sig" 3>&- &
		pid=$!
		reap_later "$pid"
		for ((rc = 0; rc < 1000; rc++)); do
			[[ -s $ready ]] && break
			_nap 0.01
		done
		reap_later "$(<"$ready")"
		kill -s "$sig" "$pid"
		for ((rc = 0; rc < 500; rc++)); do
			{ read -r st <"/proc/$pid/stat"; } 2>/dev/null && [[ $st != *') Z '* ]] || break
			_nap 0.01
		done
		((rc < 500)) || { kill -KILL "$(<"$ready")" "$pid"; xs_die "xray-seg exec -- aws still ran 5 s after SIG$sig: the signal never reached aws"; }
		rc=0
		wait "$pid" || rc=$?
		((rc == 129 + k)) || xs_die "SIG$sig to xray-seg exec -- aws: exit $rc, expected $((129 + k))"
		[ "$(<"$ERR.$sig")" = "workingcaught SIG$sig" ] || xs_die "stderr after SIG$sig: $(show "$ERR.$sig")"
	done
	wait_docs 2
	[ "$(dq -c 'map([.name, .aws.operation, .metadata.process.exit_code, .fault, .cause.exceptions[0].message])')" = \
		'[["S3","PutObject",130,true,"workingcaught SIGINT"],["S3","PutObject",131,true,"workingcaught SIGTERM"]]' ] ||
		xs_die "documents: $(cat "$DOCS")"
}

@test "aws not on PATH: 127, one error line, the recognized subsegment sent as a fault" {
	run -127 --separate-stderr env PATH="$BATS_TEST_TMPDIR/empty" "$XRAY_SEG" exec -- aws dynamodb get-item --table-name T
	[ "$stderr" = 'xray-seg: aws: command not found' ] || xs_die "stderr: $stderr"
	assert_output ''
	wait_docs 1
	assert_doc DynamoDB '[.namespace, .aws.operation, .aws.table_name, .fault]' '["aws","GetItem","T",true]'
	assert_doc DynamoDB '.cause.exceptions | map(.message)' '["command not found"]'
	assert_doc DynamoDB .metadata.process.exit_code 127
}

# --- what the child sees, what the caller gets ---------------------------------------------

@test "the child's argv is exactly as given: exec takes no option after the command" {
	ax 0 -- aws s3 ls --recursive
	argv_is s3 ls --recursive
	case_add '{"name":"S3","namespace":"aws","aws":{"operation":"ListBuckets"}}'
	AX_NO_CMP=1 ax 0 aws s3 ls --no-aws --name n --namespace remote --aws
	argv_is s3 ls --no-aws --name n --namespace remote --aws
	case_add '{"name":"S3","namespace":"aws","aws":{"operation":"ListBuckets"}}'
	ax 0 --name n -- aws ssm get-parameter --name /x --help
	argv_is ssm get-parameter --name /x --help
	case_add '{"name":"n","namespace":"aws","aws":{"operation":"GetParameter","parameter_name":"/x"}}'
	ax 0 -- aws dynamodb put-item --table-name 'T' --item '{"k": {"S": "a b\tc\nd * $HOME '"'q'"' ü"}}' '' ';' '|'
	argv_is dynamodb put-item --table-name T --item '{"k": {"S": "a b\tc\nd * $HOME '"'q'"' ü"}}' '' ';' '|'
	case_add '{"name":"DynamoDB","namespace":"aws","aws":{"operation":"PutItem","table_name":"T"}}'
	check_cases
}

@test "the child's _X_AMZN_TRACE_ID: Root, Parent = the subsegment, Sampled=1, other keys kept in order" {
	export _X_AMZN_TRACE_ID="Self=1-67891234-abcdef012345678912345678;Root=$ROOT;Foo=bar;Parent=$PARENT;Lineage=a87bd80c:1|68fd508a:5;Sampled=1"
	run -0 --separate-stderr xs exec -- aws dynamodb get-item --table-name T
	assert_stderr_empty
	wait_docs 1
	assert_doc DynamoDB .parent_id "$PARENT"
	[ "$(<"$FAKE_AWS_LOG/trace")" = "Root=$ROOT;Parent=$(dget DynamoDB .id);Sampled=1;Foo=bar;Lineage=a87bd80c:1|68fd508a:5" ] ||
		xs_die "the child got _X_AMZN_TRACE_ID=$(<"$FAKE_AWS_LOG/trace")"
}

@test "stderr passes through byte for byte: partial lines, CR, NUL, invalid UTF-8, 4 MiB" {
	local d=$BATS_TEST_TMPDIR
	FAKE_AWS_STDERR=$'line 1\nline 2 without a newline' expect 0 '{"exit":0}' -- aws s3 ls
	FAKE_AWS_STDERR='no newline at all' FAKE_AWS_ERROR=ThrottlingException \
		expect 255 '{"error":true,"throttle":true,"exc":[{"type":"ThrottlingException","message":"Something went wrong","remote":true}],"exit":255}' \
		-- aws dynamodb get-item --table-name T
	FAKE_AWS_STDERR=$'Completed 1 KiB/2 KiB\rCompleted 2 KiB/2 KiB\r\n\n\n' expect 0 '{"exit":0}' -- aws s3 cp f s3://b/k
	printf 'a\0b\377\376\300\n\0\0tail' >"$d/binary"
	FAKE_AWS_STDERR_FILE=$d/binary expect 0 '{"exit":0}' -- aws s3 ls
	head -c 4194304 /dev/urandom >"$d/big"
	FAKE_AWS_STDERR_FILE=$d/big FAKE_AWS_EXIT=0 expect 0 '{"exit":0}' -- aws s3 ls
	cmp "$ERR" "$d/big"
	check_cases "$OUTCOME_VIEW"
}

@test "stderr is unbuffered: a partial line reaches the caller while aws still runs" {
	local go=$BATS_TEST_TMPDIR/go err=$BATS_TEST_TMPDIR/err.async n got=
	: >"$err" # exists before the job's redirection does, so the first read cannot fail
	FAKE_AWS_STDERR='progress: 50%' FAKE_AWS_WAIT_FOR=$go FAKE_AWS_STDERR2=$' done\n' \
		"$XRAY_SEG" exec -- aws s3 cp f s3://b/k 2>"$err" 3>&- &
	local pid=$!
	reap_later "$pid"
	for ((n = 0; n < 500; n++)); do
		got=$(<"$err")
		[[ -n $got ]] && break
		_nap 0.01
	done
	touch "$go"
	local rc=0
	wait "$pid" || rc=$?
	[ "$got" = 'progress: 50%' ] || xs_die "while aws ran, the caller had seen '$got' on stderr, expected 'progress: 50%'"
	((rc == 0)) || xs_die "exit $rc"
	[ "$(<"$err")" = 'progress: 50% done' ] || xs_die "final stderr: $(show "$err")"
	wait_docs 1
	assert_doc S3 .aws.operation PutObject
}

@test "stdin and stdout are the child's" {
	FAKE_AWS_STDIN=1 run -0 --separate-stderr bash -c 'printf "in\0put" | "$XRAY_SEG" exec -- aws s3 cp - s3://b/k'
	assert_stderr_empty
	cmp <(printf 'in\0put') "$FAKE_AWS_LOG/stdin"
	head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	FAKE_AWS_STDOUT_FILE=$BATS_TEST_TMPDIR/big ax 0 -- aws s3 cp s3://b/k -
	cmp "$OUT" "$BATS_TEST_TMPDIR/big"
	wait_docs 2
}

@test "not recording, context missing or SDK disabled: aws runs untouched, nothing sent" {
	export AWS_LAMBDA_FUNCTION_NAME=xray-seg-test # a missing context is no root in Lambda
	new_ids
	local hdr="Root=$ROOT;Parent=$PARENT;Sampled=0" rc
	export FAKE_AWS_ERROR=ThrottlingException FAKE_AWS_STDERR=$'partial\r'
	aws dynamodb get-item --table-name T 2>"$ERR.want" && xs_die "the fake aws did not fail"
	for mode in sampled0 missing disabled; do
		case $mode in
		sampled0) export _X_AMZN_TRACE_ID=$hdr ;;
		missing) unset _X_AMZN_TRACE_ID && export AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR ;;
		disabled) export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$PARENT;Sampled=1" AWS_XRAY_SDK_ENABLED=false ;;
		esac
		rc=0
		xs exec -- aws dynamodb get-item --table-name T >"$OUT" 2>"$ERR" || rc=$?
		((rc == 255)) || xs_die "$mode: exit $rc, expected 255"
		cmp "$ERR" "$ERR.want" || xs_die "$mode: stderr differs: $(show "$ERR")"
		if [[ $mode == missing ]]; then
			[[ ! -e $FAKE_AWS_LOG/trace ]] || xs_die "$mode: the child got _X_AMZN_TRACE_ID=$(<"$FAKE_AWS_LOG/trace")"
		else
			[ "$(<"$FAKE_AWS_LOG/trace")" = "$_X_AMZN_TRACE_ID" ] ||
				xs_die "$mode: the child got _X_AMZN_TRACE_ID=$(<"$FAKE_AWS_LOG/trace")"
		fi
	done
	assert_no_datagrams
	assert_no_state
}

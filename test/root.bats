#!/usr/bin/env bats
# root.bats - root segments outside Lambda (issue 5): exec with no context or a
# Root-only header starts a segment; its shape, name, trace id (random or
# --trace-id-from), sampling, service version, host and CI annotations; what
# the child sees (_X_AMZN_TRACE_ID, TRACEPARENT); nested calls attaching to it;
# Lambda unchanged; begin --export / end --export for shells that cannot be
# wrapped. Every document is validated by check-segments.py (check-docs.py's
# checks, with segments allowed).

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

HOST=$(hostname)

# root_of HEADER: the Root of an X-Ray header.
root_of() { sed -n 's/^Root=\([^;]*\).*/\1/p' <<<"$1"; }

# sha_trace STRING: the trace id the contract derives from STRING, computed
# with sha256sum (not with xray-seg).
sha_trace() {
	local h
	h=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	echo "1-${h:0:8}-${h:8:24}"
}

# sampled_flag HEADER: the value of Sampled in an X-Ray header.
sampled_flag() { sed -n 's/.*;Sampled=\([^;]*\).*/\1/p' <<<"$1"; }

# no_root_sent: nothing arrived and no trace state exists.
no_root_sent() {
	assert_no_datagrams
	assert_no_state
}

# --- the harness ---------------------------------------------------------------

@test "harness: check-segments accepts a segment, still rejects a subsegment without parent_id and bad documents" {
	good=$XS_FIXTURES/check-docs/good.json
	jq -c 'del(.type, .parent_id)' "$good" >"$D/seg"
	run -0 check_segs lines "$D/seg"
	run -1 check_segs strict-lines "$D/seg"
	for f in 'del(.parent_id)' '.id = "XYZ"' 'del(.type, .parent_id) | .trace_id = "1-abc"' \
		'del(.type, .parent_id) | .end_time = .start_time - 1' 'del(.type, .parent_id) | del(.end_time)'; do
		jq -c "$f" "$good" >"$D/bad"
		run check_segs lines "$D/bad"
		((status == 1)) || xs_die "check-segments accepted ($f): $(cat "$D/bad")"
	done
	printf '%s\n\n' "$(jq -c . "$good")" >"$D/blank"
	run -1 check_segs lines "$D/blank"
	jq -cn --slurpfile d "$D/seg" '{json: {TraceSegmentDocuments: ($d | map(tojson))}}' >"$D/http"
	run -0 check_segs http "$D/http"
	jq -cn --slurpfile d "$D/seg" '{json: {TraceSegmentDocuments: $d}}' >"$D/http"
	run -1 check_segs http "$D/http" # objects, not strings
}

# --- the segment document --------------------------------------------------

@test "exec with no context outside Lambda sends one root segment: no type, parent_id or namespace" {
	t0=$EPOCHREALTIME
	run -0 --separate-stderr xs exec --name build -- true
	t1=$EPOCHREALTIME
	assert_stderr_empty
	assert_output ''
	wait_segs 1
	assert_doc build '[has("type"), has("parent_id"), has("namespace")]' '[false,false,false]'
	id=$(dget build .id)
	tid=$(dget build .trace_id)
	[[ $id =~ $HEX16_RE ]] || xs_die "segment id '$id' is not 16 hex digits"
	[[ $tid =~ $TRACE_RE ]] || xs_die "trace id '$tid' is not 1-8hex-24hex"
	# the 8 hex digits after "1-" are the epoch seconds of the start (X-Ray's trace id format)
	epoch=$((16#${tid:2:8}))
	float_ok "$epoch >= ${t0%.*} - 1 && $epoch <= ${t1%.*} + 1"
	[[ ${tid:11} != 000000000000000000000000 ]] || xs_die "trace id has an all-zero random part: $tid"
	start=$(dget build .start_time)
	end=$(dget build .end_time)
	float_ok "$start >= $t0 - 0.01 && $end <= $t1 + 0.01 && $end >= $start"
	assert_doc build .metadata.process.exit_code 0
	assert_doc build '[.error, .fault, .throttle]' '[null,null,null]'
	assert_no_state
}

@test "two roots get different trace ids and segment ids" {
	xs exec --name r1 -- true
	xs exec --name r2 -- true
	wait_segs 2
	[ "$(dq '[.[].trace_id] | unique | length')" = 2 ]
	[ "$(dq '[.[].id] | unique | length')" = 2 ]
}

@test "the segment's name is --name, else the command's base name" {
	xs exec -- /bin/true
	xs exec -- sh -c 'exit 0'
	xs exec --name=given -- true
	wait_segs 3
	doc true >/dev/null
	doc sh >/dev/null
	doc given >/dev/null
	[ "$(dq '[.[] | select(has("type") or has("parent_id"))] | length')" = 0 ]
}

@test "an aws CLI call as the root: named by the call (as for subsegments), still a plain segment" {
	for v in $(compgen -e FAKE_AWS_); do unset "$v"; done
	mkdir -p "$D/fakebin"
	ln -s "$XS_HELPERS/fake-aws" "$D/fakebin/aws"
	PATH="$D/fakebin:$PATH" xs exec -- aws dynamodb get-item --table-name t1 --key '{"k": {"S": "a"}}'
	wait_segs 1
	assert_doc DynamoDB '[has("type"), has("parent_id"), has("namespace")]' '[false,false,false]'
}

@test "the host annotation is the machine's hostname, and no CI annotations outside CI" {
	xs exec --name plain -- true
	wait_segs 1
	assert_doc_json plain .annotations "$(jq -cn --arg h "$HOST" '{host: $h}')"
}

@test "origin: ECS_CONTAINER_METADATA_URI(_V4) gives AWS::ECS::Container; none without a known platform" {
	xs exec --name nowhere -- true
	export ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/abc
	xs exec --name ecs4 -- true
	unset ECS_CONTAINER_METADATA_URI_V4
	export ECS_CONTAINER_METADATA_URI=http://169.254.170.2/v3/abc
	xs exec --name ecs3 -- true
	wait_segs 3
	assert_doc ecs4 .origin AWS::ECS::Container
	assert_doc ecs3 .origin AWS::ECS::Container
	# expected origin on this machine, from the files the contract names
	want=null
	if [[ -f /var/elasticbeanstalk/xray/environment.conf ]]; then
		want=AWS::ElasticBeanstalk::Environment
	elif grep -qs 'Amazon EC2' /sys/devices/virtual/dmi/id/sys_vendor; then
		want=AWS::EC2::Instance
	fi
	assert_doc nowhere .origin "$want"
}

@test "the child's exit status is passed through: 0, 3, 127 (not found)" {
	run -0 --separate-stderr xs exec --name zero -- true
	assert_stderr_empty
	run -3 --separate-stderr xs exec --name three -- sh -c 'exit 3'
	assert_stderr_empty
	wait_segs 2
	assert_doc three .metadata.process.exit_code 3
	assert_doc three .fault true
	assert_doc zero .fault null
	run -127 --separate-stderr xs_bare exec --name missing -- no-such-command-xyzzy
	[[ $stderr == xray-seg:* && $stderr == *no-such-command-xyzzy* ]] || xs_die "unexpected stderr: $stderr"
	n=$(datagram_count)
	((n <= 3)) || xs_die "$n datagrams after three execs"
	wait_segs "$n" # whatever was sent is valid
}

# --- the child's context and nested calls ------------------------------------

@test "the child sees _X_AMZN_TRACE_ID and TRACEPARENT naming the segment, consistent with each other" {
	run -0 --separate-stderr xs exec --name probe -- sh -c 'printf "%s\n%s\n" "$_X_AMZN_TRACE_ID" "$TRACEPARENT"'
	assert_stderr_empty
	wait_segs 1
	id=$(dget probe .id)
	tid=$(dget probe .trace_id)
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = "Root=$tid;Parent=$id;Sampled=1" ] || xs_die "child's _X_AMZN_TRACE_ID: ${lines[0]} (segment $id, trace $tid)"
	[ "${lines[1]}" = "00-$(trace_hex "$tid")-$id-01" ] || xs_die "child's TRACEPARENT: ${lines[1]} (segment $id, trace $tid)"
}

@test "nested exec, begin/end, annotate and metadata in the child attach to the segment with correct parents" {
	cat >"$D/script.sh" <<-'EOF'
		set -e
		d=$1
		xray-seg exec --name step1 -- true
		xray-seg exec --name step2 -- bash -c 'xray-seg exec --name deep -- true
			printenv _X_AMZN_TRACE_ID >"$1/h2"; printenv TRACEPARENT >"$1/t2"' bash "$d"
		b=$(xray-seg begin phase)
		echo "$b" >"$d/phase.id"
		xray-seg annotate phase_key inphase
		xray-seg metadata phase_meta '{"a":1}'
		xray-seg exec --name inphase -- true
		xray-seg end
		xray-seg annotate stage build
		xray-seg annotate --number attempt 2
		xray-seg metadata build_info '{"n":2}'
	EOF
	run -0 --separate-stderr xs exec --name ci -- bash "$D/script.sh" "$D"
	assert_stderr_empty
	assert_output ''
	wait_segs 6
	sid=$(seg_id)
	tid=$(dget ci .trace_id)
	assert_doc ci .id "$sid"
	[ "$(dq '[.[] | select(.trace_id != "'"$tid"'")] | length')" = 0 ] || xs_die "documents of another trace: $(cat "$DOCS")"
	[ "$(dq '[.[] | select(.name != "ci") | .type] | unique | join(",")')" = subsegment ]
	step2=$(dget step2 .id)
	phase=$(dget phase .id)
	[ "$phase" = "$(cat "$D/phase.id")" ]
	run -0 dq '.[] | select(.name != "ci") | "\(.name) \(.parent_id)"'
	assert_output - <<-EOF
		step1 $sid
		deep $step2
		step2 $sid
		inphase $phase
		phase $sid
	EOF
	# the segment is sent once the command has exited: last
	[ "$(dq '.[-1].name')" = ci ]
	assert_doc phase .annotations.phase_key inphase
	assert_doc phase .metadata.default.phase_meta '{"a":1}'
	assert_doc ci '.annotations | del(.host)' '{"stage":"build","attempt":2}'
	assert_doc ci .annotations.host "$HOST"
	assert_doc ci .metadata.default.build_info '{"n":2}'
	assert_doc ci .metadata.process.exit_code 0
	# a subsegment's child gets TRACEPARENT too, consistent with _X_AMZN_TRACE_ID
	[ "$(cat "$D/h2")" = "Root=$tid;Parent=$step2;Sampled=1" ]
	[ "$(cat "$D/t2")" = "00-$(trace_hex "$tid")-$step2-01" ]
	assert_no_state
}

@test "a subsegment's child gets TRACEPARENT matching _X_AMZN_TRACE_ID (in Lambda too)" {
	lambda_ctx
	export AWS_LAMBDA_FUNCTION_NAME=fn
	run -0 --separate-stderr xs exec --name sub -- sh -c 'printf "%s\n%s\n" "$_X_AMZN_TRACE_ID" "$TRACEPARENT"'
	assert_stderr_empty
	wait_segs 1
	id=$(dget sub .id)
	assert_doc sub .parent_id "$PARENT"
	[ "${lines[0]}" = "Root=$ROOT;Parent=$id;Sampled=1" ]
	[ "${lines[1]}" = "00-$(trace_hex "$ROOT")-$id-01" ]
}

@test "a Root-only header joins that trace (Root=..., Root=...;Sampled=1)" {
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT"
	run -0 --separate-stderr xs exec --name joined1 -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	h1=$output
	export _X_AMZN_TRACE_ID="Root=$ROOT;Sampled=1"
	run -0 --separate-stderr xs exec --name joined2 -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	h2=$output
	wait_segs 2
	for n in 1 2; do
		assert_doc "joined$n" .trace_id "$ROOT"
		assert_doc "joined$n" '[has("type"), has("parent_id"), has("namespace")]' '[false,false,false]'
	done
	[ "$h1" = "Root=$ROOT;Parent=$(dget joined1 .id);Sampled=1" ] || xs_die "child of joined1 saw $h1"
	[ "$h2" = "Root=$ROOT;Parent=$(dget joined2 .id);Sampled=1" ] || xs_die "child of joined2 saw $h2"
}

@test "a Root-only header with Sampled=0 records nothing; the child gets the header unchanged" {
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Sampled=0"
	run -4 --separate-stderr xs exec --name unsampled -- sh -c 'printenv _X_AMZN_TRACE_ID; xray-seg exec --name inner -- true; exit 4'
	assert_stderr_empty
	assert_output "Root=$ROOT;Sampled=0"
	no_root_sent
}

@test "in Lambda (AWS_LAMBDA_FUNCTION_NAME set) with no context: a warning, no root, the command runs" {
	export AWS_LAMBDA_FUNCTION_NAME=fn
	run -3 --separate-stderr xs exec --name lam -- sh -c 'echo "[${_X_AMZN_TRACE_ID-unset}]"; exit 3'
	assert_warning
	assert_output '[unset]'
	no_root_sent
}

@test "in Lambda a Root-only header still records nothing (no root)" {
	export AWS_LAMBDA_FUNCTION_NAME=fn
	new_ids
	export _X_AMZN_TRACE_ID="Root=$ROOT;Sampled=1"
	run -0 --separate-stderr xs exec --name lam -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	assert_output "Root=$ROOT;Sampled=1"
	no_root_sent
}

@test "an invalid header outside Lambda: a warning, no root, the command runs" {
	export _X_AMZN_TRACE_ID='Root=garbage;Sampled=1'
	run -5 --separate-stderr xs exec --name bad -- sh -c 'echo ran; exit 5'
	assert_warning
	assert_output ran
	no_root_sent
}

# --- --trace-id-from ---------------------------------------------------------

@test "--trace-id-from S: trace id = 1- + SHA-256(S) hex 0-8 + - + 8-32, the same on every run" {
	s="github.com/octo/repo run 4711 attempt 1 é"
	want=$(sha_trace "$s")
	run -0 --separate-stderr xs exec --trace-id-from "$s" --name job1 -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	h1=$output
	run -0 --separate-stderr xs exec --trace-id-from="$s" --name job2 -- printenv _X_AMZN_TRACE_ID
	h2=$output
	other=$(sha_trace "${s}x")
	xs exec --trace-id-from "${s}x" --name job3 -- true
	wait_segs 3
	assert_doc job1 .trace_id "$want"
	assert_doc job2 .trace_id "$want"
	assert_doc job3 .trace_id "$other"
	[ "$(root_of "$h1")" = "$want" ]
	[ "$(root_of "$h2")" = "$want" ]
	[ "$(dget job1 .id)" != "$(dget job2 .id)" ] || xs_die "two jobs of one trace got the same segment id"
}

@test "root options are ignored with an existing recording context" {
	lambda_ctx
	run -0 --separate-stderr xs exec --trace-id-from abc --sample-rate 0 --service-version 9.9 --name sub -- true
	assert_stderr_empty
	wait_segs 1
	assert_doc sub .trace_id "$ROOT"
	assert_doc sub .parent_id "$PARENT"
	assert_doc sub .type subsegment
	assert_doc sub 'has("service")' false
}

# --- sampling ----------------------------------------------------------------

@test "--sample-rate 0: nothing recorded or sent; the child gets Sampled=0 and TRACEPARENT flags 00" {
	run -0 --separate-stderr xs exec --sample-rate 0 --name un -- sh -c '
		printf "%s\n%s\n" "$_X_AMZN_TRACE_ID" "$TRACEPARENT"
		xray-seg exec --name inner -- true
		xray-seg annotate k v'
	assert_stderr_empty
	[ "${#lines[@]}" = 2 ] || xs_die "child printed: $output"
	[[ ${lines[0]} =~ ^Root=(1-[0-9a-f]{8}-[0-9a-f]{24})\;Parent=([0-9a-f]{16})\;Sampled=0$ ]] ||
		xs_die "child's _X_AMZN_TRACE_ID: ${lines[0]}"
	tid=${BASH_REMATCH[1]} pid=${BASH_REMATCH[2]}
	[ "${lines[1]}" = "00-$(trace_hex "$tid")-$pid-00" ] || xs_die "child's TRACEPARENT: ${lines[1]} (header ${lines[0]})"
	no_root_sent
}

@test "--sample-rate 1 and 1.0 record; valid rates are accepted" {
	xs exec --sample-rate 1 --name one -- true
	xs exec --sample-rate 1.0 --name onedot -- true
	for r in 0 0.0 0.25 0.5; do
		run --separate-stderr xs exec --sample-rate "$r" --name "r$r" -- true
		((status == 0)) || xs_die "--sample-rate $r: exit $status: $stderr"
		assert_stderr_empty
	done
	n=$(datagram_count)
	((n >= 2 && n <= 6)) || xs_die "$n datagrams"
	wait_segs "$n"
	doc one >/dev/null
	doc onedot >/dev/null
	[ "$(dq '[.[] | select(.name == "r0" or .name == "r0.0")] | length')" = 0 ]
}

@test "the sampling decision is deterministic from the trace id (--trace-id-from, rate 0.5)" {
	yes=0 no=0
	for n in $(seq 16); do
		s="parallel-job-$n"
		a=$(xs exec --trace-id-from "$s" --sample-rate 0.5 --name "a$n" -- printenv _X_AMZN_TRACE_ID)
		b=$(xs exec --trace-id-from "$s" --sample-rate 0.5 --name "b$n" -- printenv _X_AMZN_TRACE_ID)
		[ "$(root_of "$a")" = "$(sha_trace "$s")" ] || xs_die "trace of $s: $a"
		fa=$(sampled_flag "$a") fb=$(sampled_flag "$b")
		[[ $fa == "$fb" ]] || xs_die "same trace id, different decisions: $a / $b"
		case $fa in
		1) yes=$((yes + 1)) ;;
		0) no=$((no + 1)) ;;
		*) xs_die "Sampled flag '$fa' in $a" ;;
		esac
	done
	((yes > 0 && no > 0)) || xs_die "rate 0.5 over 16 trace ids: $yes sampled, $no not (expected some of each)"
	wait_segs $((2 * yes))
	[ "$(dq '[.[].trace_id] | unique | length')" = "$yes" ]
}

@test "a bad --sample-rate with --strict is a usage error (exit 2) and the command does not run" {
	for r in -0.1 1.5 2 abc '' 0.5x nan inf -1; do
		expect_usage exec --strict --sample-rate "$r" -- touch "$D/ran"
		[[ ! -e $D/ran ]] || xs_die "--sample-rate '$r': the command ran"
	done
	expect_usage begin --export --sample-rate 7 name
	no_root_sent
}

@test "a bad XRAY_SEG_SAMPLE_RATE: one warning and rate 1 (recorded)" {
	for r in abc 1.5 -1; do
		export XRAY_SEG_SAMPLE_RATE=$r
		run -0 --separate-stderr xs exec --name "env$r" -- true
		assert_warning
	done
	wait_segs 3
}

@test "XRAY_SEG_SAMPLE_RATE=0 records nothing; --sample-rate 1 overrides it" {
	export XRAY_SEG_SAMPLE_RATE=0
	run -0 --separate-stderr xs exec --name envzero -- printenv _X_AMZN_TRACE_ID
	assert_stderr_empty
	[[ $output == *';Sampled=0' ]] || xs_die "child's header: $output"
	assert_no_datagrams
	run -0 --separate-stderr xs exec --sample-rate 1 --name flagwins -- true
	wait_segs 1
	doc flagwins >/dev/null
}

# --- service version ---------------------------------------------------------

@test "--service-version / XRAY_SEG_SERVICE_VERSION give service.version; absent otherwise" {
	xs exec --service-version 1.2.3 --name flag -- true
	XRAY_SEG_SERVICE_VERSION=4.5-rc1 xs exec --name env -- true
	XRAY_SEG_SERVICE_VERSION=4.5-rc1 xs exec --service-version=7 --name both -- true
	xs exec --name none -- true
	wait_segs 4
	assert_doc_json flag .service '{"version":"1.2.3"}'
	assert_doc_json env .service '{"version":"4.5-rc1"}'
	assert_doc_json both .service '{"version":"7"}'
	assert_doc none 'has("service")' false
}

# --- CI annotations ----------------------------------------------------------

# ci_root NAME: one root named NAME under the current environment; prints nothing.
ci_root() {
	run -0 --separate-stderr xs exec --name "$1" -- true
	assert_stderr_empty
}

# want_ann PROVIDER [KEY ENVVAR]...: the expected annotations, from the environment.
want_ann() {
	local -a args=(--arg host "$HOST" --arg p "$1")
	local f='{host: $host, ci_provider: $p}' k
	shift
	while (($#)); do
		k=$1
		args+=(--arg "$k" "$2")
		f+=" + {$k: \$$k}"
		shift 2
	done
	jq -cn "${args[@]}" "$f"
}

@test "GitHub Actions: ci_* annotations from GITHUB_*" {
	export GITHUB_ACTIONS=true GITHUB_REPOSITORY=octo/repo GITHUB_WORKFLOW='CI build' GITHUB_JOB=test
	export GITHUB_RUN_ID=$SRANDOM GITHUB_SHA=$(hex 40) GITHUB_REF_NAME=feature/x
	ci_root gh
	wait_segs 1
	assert_doc_json gh .annotations "$(want_ann github-actions ci_repository "$GITHUB_REPOSITORY" \
		ci_workflow "$GITHUB_WORKFLOW" ci_job "$GITHUB_JOB" ci_run_id "$GITHUB_RUN_ID" \
		ci_commit "$GITHUB_SHA" ci_branch "$GITHUB_REF_NAME")"
}

@test "GitLab CI: ci_* annotations from CI_*" {
	export GITLAB_CI=true CI_PROJECT_PATH=group/sub/proj CI_PIPELINE_NAME='nightly' CI_JOB_NAME='unit tests'
	export CI_PIPELINE_ID=$SRANDOM CI_COMMIT_SHA=$(hex 40) CI_COMMIT_REF_NAME=main
	ci_root gl
	wait_segs 1
	assert_doc_json gl .annotations "$(want_ann gitlab-ci ci_repository "$CI_PROJECT_PATH" \
		ci_workflow "$CI_PIPELINE_NAME" ci_job "$CI_JOB_NAME" ci_run_id "$CI_PIPELINE_ID" \
		ci_commit "$CI_COMMIT_SHA" ci_branch "$CI_COMMIT_REF_NAME")"
}

@test "CircleCI: repository is USERNAME/REPONAME, no workflow, run id from CIRCLE_WORKFLOW_ID" {
	export CIRCLECI=true CIRCLE_PROJECT_USERNAME=acme CIRCLE_PROJECT_REPONAME=widget CIRCLE_JOB=build
	export CIRCLE_WORKFLOW_ID=$(hex 8)-$(hex 4) CIRCLE_SHA1=$(hex 40) CIRCLE_BRANCH=dev
	ci_root cc
	wait_segs 1
	assert_doc_json cc .annotations "$(want_ann circleci ci_repository acme/widget \
		ci_job build ci_run_id "$CIRCLE_WORKFLOW_ID" ci_commit "$CIRCLE_SHA1" ci_branch dev)"
}

@test "Buildkite: ci_* annotations from BUILDKITE_*" {
	export BUILDKITE=true BUILDKITE_REPO=git@github.com:acme/bk.git BUILDKITE_PIPELINE_SLUG=deploy
	export BUILDKITE_LABEL=':rocket: ship' BUILDKITE_BUILD_ID=$(hex 8) BUILDKITE_COMMIT=$(hex 40) BUILDKITE_BRANCH=release
	ci_root bk
	wait_segs 1
	assert_doc_json bk .annotations "$(want_ann buildkite ci_repository "$BUILDKITE_REPO" \
		ci_workflow deploy ci_job "$BUILDKITE_LABEL" ci_run_id "$BUILDKITE_BUILD_ID" \
		ci_commit "$BUILDKITE_COMMIT" ci_branch release)"
}

@test "Jenkins: ci_* annotations; branch from BRANCH_NAME, else GIT_BRANCH" {
	export JENKINS_URL=http://jenkins.example:8080/ GIT_URL=https://git.example/acme/j.git JOB_NAME=acme/j/main
	export STAGE_NAME=Test BUILD_TAG=jenkins-acme-j-main-$SRANDOM GIT_COMMIT=$(hex 40) BRANCH_NAME=main GIT_BRANCH=origin/other
	ci_root jk1
	unset BRANCH_NAME
	ci_root jk2
	wait_segs 2
	assert_doc_json jk1 .annotations "$(want_ann jenkins ci_repository "$GIT_URL" ci_workflow "$JOB_NAME" \
		ci_job Test ci_run_id "$BUILD_TAG" ci_commit "$GIT_COMMIT" ci_branch main)"
	assert_doc_json jk2 .annotations "$(want_ann jenkins ci_repository "$GIT_URL" ci_workflow "$JOB_NAME" \
		ci_job Test ci_run_id "$BUILD_TAG" ci_commit "$GIT_COMMIT" ci_branch origin/other)"
}

@test "CodeBuild: workflow is the build id before ':', no job" {
	export CODEBUILD_BUILD_ID=my-project:$(hex 8)-$(hex 4) CODEBUILD_SOURCE_REPO_URL=https://github.com/acme/cb
	export CODEBUILD_RESOLVED_SOURCE_VERSION=$(hex 40) CODEBUILD_WEBHOOK_HEAD_REF=refs/heads/feat
	ci_root cb
	wait_segs 1
	assert_doc_json cb .annotations "$(want_ann codebuild ci_repository "$CODEBUILD_SOURCE_REPO_URL" \
		ci_workflow my-project ci_run_id "$CODEBUILD_BUILD_ID" \
		ci_commit "$CODEBUILD_RESOLVED_SOURCE_VERSION" ci_branch refs/heads/feat)"
}

@test "CI annotations: only the variables present; provider markers are required" {
	export GITHUB_ACTIONS=true GITHUB_SHA=$(hex 40)
	ci_root partial
	unset GITHUB_ACTIONS
	ci_root nomarker # GITHUB_SHA alone is not GitHub Actions
	wait_segs 2
	assert_doc_json partial .annotations "$(want_ann github-actions ci_commit "$GITHUB_SHA")"
	assert_doc_json nomarker .annotations "$(jq -cn --arg h "$HOST" '{host: $h}')"
}

@test "CI annotation values are cut to X-Ray's annotation limit" {
	long=$(printf 'b%.0s' $(seq 1500))
	export GITHUB_ACTIONS=true GITHUB_REF_NAME=$long
	ci_root longbranch
	wait_segs 1 # (the strict schema allows at most 1000 characters)
	got=$(dget longbranch .annotations.ci_branch)
	((${#got} > 0 && ${#got} <= 1000)) || xs_die "ci_branch has ${#got} characters"
	[[ $long == "$got"* ]] || xs_die "ci_branch is not a prefix of GITHUB_REF_NAME"
}

# --- begin --export / end --export -------------------------------------------

# check_exports FILE NAMES: every line of FILE is `export NAME='value'`, NAMES exactly once each.
check_exports() {
	local f=$1 l names=
	shift
	[[ -s $f ]] || xs_die "$f is empty"
	while IFS= read -r l; do
		[[ $l =~ ^export\ (_X_AMZN_TRACE_ID|TRACEPARENT)=\'[^\']*\'$ ]] || xs_die "not an export line of a single-quoted value: '$l'"
		names+="${BASH_REMATCH[1]} "
	done <"$f"
	[ "$(tr ' ' '\n' <<<"$names" | sed '/^$/d' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ] ||
		xs_die "exported names '$names', expected '$*'"
	bash -n "$f" || xs_die "not valid shell: $(cat "$f")"
}

@test "begin --export / end --export start and end a root in a shell (eval); output is shell code only" {
	cat >"$D/script.sh" <<-'EOF'
		set -e
		d=$1
		out=$(xray-seg begin --export ci-build)
		printf '%s\n' "$out" >"$d/begin.out"
		eval "$out"
		printenv _X_AMZN_TRACE_ID >"$d/h1"
		printenv TRACEPARENT >"$d/t1"
		xray-seg exec --name make -- true
		xray-seg annotate stage build
		out=$(xray-seg end --export)
		printf '%s\n' "$out" >"$d/end.out"
		eval "$out"
		echo "${_X_AMZN_TRACE_ID-unset} ${TRACEPARENT-unset}" >"$d/after"
	EOF
	run -0 --separate-stderr bash "$D/script.sh" "$D"
	assert_stderr_empty
	assert_output ''
	wait_segs 2
	sid=$(seg_id)
	assert_doc ci-build .id "$sid"
	assert_doc ci-build '[has("type"), has("parent_id"), has("namespace")]' '[false,false,false]'
	tid=$(dget ci-build .trace_id)
	assert_doc make .parent_id "$sid"
	assert_doc make .trace_id "$tid"
	assert_doc ci-build '.annotations | del(.host)' '{"stage":"build"}'
	assert_doc ci-build .annotations.host "$HOST"
	[ "$(dq '.[-1].name')" = ci-build ]
	[ "$(cat "$D/h1")" = "Root=$tid;Parent=$sid;Sampled=1" ]
	[ "$(cat "$D/t1")" = "00-$(trace_hex "$tid")-$sid-01" ]
	check_exports "$D/begin.out" _X_AMZN_TRACE_ID TRACEPARENT
	run -0 cat "$D/end.out"
	[[ $output =~ ^unset(\ (_X_AMZN_TRACE_ID|TRACEPARENT))+$ ]] || xs_die "end --export printed: $output"
	[ "$(cat "$D/after")" = "unset unset" ]
	assert_no_state
}

@test "begin --export takes the root options; plain end also ends the root and prints nothing" {
	s="pipeline-$SRANDOM"
	cat >"$D/script.sh" <<-'EOF'
		set -e
		d=$1
		eval "$(xray-seg begin --export --trace-id-from "$2" --service-version 3.1 shipped)"
		xray-seg end >"$d/end.out"
	EOF
	run -0 --separate-stderr bash "$D/script.sh" "$D" "$s"
	assert_stderr_empty
	wait_segs 1
	assert_doc shipped .trace_id "$(sha_trace "$s")"
	assert_doc_json shipped .service '{"version":"3.1"}'
	assert_doc shipped 'has("parent_id")' false
	[[ ! -s $D/end.out ]] || xs_die "end printed: $(cat "$D/end.out")"
}

@test "begin --export --sample-rate 0: exports Sampled=0, nothing recorded, and the shell stays unsampled" {
	run -0 --separate-stderr bash -c 'eval "$(xray-seg begin --export --sample-rate 0 quiet)"
		echo "$_X_AMZN_TRACE_ID"; xray-seg exec --name inner -- true
		eval "$(xray-seg end --export)"; echo "${_X_AMZN_TRACE_ID-unset}"'
	assert_stderr_empty
	[[ ${lines[0]} =~ ^Root=1-[0-9a-f]{8}-[0-9a-f]{24}\;Parent=[0-9a-f]{16}\;Sampled=0$ ]] || xs_die "exported: ${lines[0]}"
	# Nothing was recorded, so there is nothing to end or restore: later
	# calls in this shell keep recording nothing.
	[ "${lines[1]}" = "${lines[0]}" ] || xs_die "after end --export: ${lines[1]}"
	no_root_sent
}

@test "begin --export inside a recording context (Lambda) begins a subsegment; end --export restores the parent" {
	lambda_ctx
	export AWS_LAMBDA_FUNCTION_NAME=fn
	cat >"$D/script.sh" <<-'EOF'
		set -e
		d=$1
		out=$(xray-seg begin --export phase)
		printf '%s\n' "$out" >"$d/begin.out"
		eval "$out"
		printenv _X_AMZN_TRACE_ID >"$d/h1"
		printenv TRACEPARENT >"$d/t1"
		xray-seg exec --name inner -- true
		out=$(xray-seg end --export)
		printf '%s\n' "$out" >"$d/end.out"
		eval "$out"
		printenv _X_AMZN_TRACE_ID >"$d/h2"
		printenv TRACEPARENT >"$d/t2"
	EOF
	run -0 --separate-stderr bash "$D/script.sh" "$D"
	assert_stderr_empty
	assert_output ''
	wait_segs 2
	pid=$(dget phase .id)
	assert_doc phase .type subsegment
	assert_doc phase .parent_id "$PARENT"
	assert_doc phase .trace_id "$ROOT"
	assert_doc inner .parent_id "$pid"
	[ "$(cat "$D/h1")" = "Root=$ROOT;Parent=$pid;Sampled=1" ]
	[ "$(cat "$D/t1")" = "00-$(trace_hex "$ROOT")-$pid-01" ]
	[ "$(cat "$D/h2")" = "Root=$ROOT;Parent=$PARENT;Sampled=1" ]
	[ "$(cat "$D/t2")" = "00-$(trace_hex "$ROOT")-$PARENT-01" ]
	check_exports "$D/begin.out" _X_AMZN_TRACE_ID TRACEPARENT
	check_exports "$D/end.out" _X_AMZN_TRACE_ID TRACEPARENT
	assert_trace_gone
}

@test "nested begin --export inside an exported root: parents chain, each end --export restores one level" {
	cat >"$D/script.sh" <<-'EOF'
		set -e
		d=$1
		eval "$(xray-seg begin --export outer)"
		echo "$_X_AMZN_TRACE_ID" >"$d/h0"
		eval "$(xray-seg begin --export stage)"
		xray-seg exec --name work -- true
		eval "$(xray-seg end --export)"
		echo "$_X_AMZN_TRACE_ID" >"$d/h1"
		xray-seg annotate level outer
		eval "$(xray-seg end --export)"
		echo "${_X_AMZN_TRACE_ID-unset}" >"$d/h2"
	EOF
	run -0 --separate-stderr bash "$D/script.sh" "$D"
	assert_stderr_empty
	wait_segs 3
	sid=$(seg_id)
	assert_doc outer .id "$sid"
	assert_doc stage .parent_id "$sid"
	assert_doc work .parent_id "$(dget stage .id)"
	assert_doc outer .annotations.level outer
	[ "$(cat "$D/h1")" = "$(cat "$D/h0")" ] || xs_die "after the inner end --export: $(cat "$D/h1"), before: $(cat "$D/h0")"
	[ "$(cat "$D/h2")" = unset ]
}

@test "begin --export in Lambda with no context: a warning, nothing started" {
	export AWS_LAMBDA_FUNCTION_NAME=fn
	run --separate-stderr xs begin --export lam
	((status == 0)) || xs_die "exit $status"
	assert_warning
	[[ $output != *_X_AMZN_TRACE_ID=\'Root=* ]] || xs_die "exported a context: $output"
	no_root_sent
}

@test "an empty --trace-id-from (an unset CI variable): one warning, and the command runs in a trace of its own" {
	run -0 --separate-stderr xs exec --trace-id-from "" --name ci-build -- true
	assert_warning
	wait_segs 1
	assert_doc ci-build '.trace_id | test("^1-[0-9a-f]{8}-[0-9a-f]{24}$")' true
}

@test "end --export from an EXIT trap after set -e stopped a step: ends what begin --export opened, the step inside it, and unsets the context (issue 14)" {
	cat >"$D/job.sh" <<-'EOF'
		set -e
		eval "$(xray-seg begin --export ci-job)"
		trap 'eval "$(xray-seg end --export)"; printenv _X_AMZN_TRACE_ID >"$1/after" || echo unset >"$1/after"' EXIT
		xray-seg begin compile >/dev/null
		false
		xray-seg end
	EOF
	run -1 --separate-stderr bash "$D/job.sh" "$D"
	assert_stderr_empty
	wait_segs 2
	[ "$(dq -c 'map(.name)')" = '["compile","ci-job"]' ]
	assert_doc compile .parent_id "$(seg_id)"
	[ "$(<"$D/after")" = unset ]
	assert_no_state
}

@test "a W3C TRACEPARENT with no X-Ray header is joined: Root, Parent and Sampled from it, both headers to the child, TRACESTATE passed on (issue 14)" {
	export TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 TRACESTATE=vendor=opaque
	run -0 --separate-stderr xs exec --name joined -- sh -c 'printf "%s\n" "$_X_AMZN_TRACE_ID" "$TRACEPARENT" "$TRACESTATE"'
	assert_stderr_empty
	wait_segs 1
	id=$(dget joined .id)
	assert_doc joined .trace_id 1-4bf92f35-77b34da6a3ce929d0e0e4736
	assert_doc joined .parent_id 00f067aa0ba902b7
	assert_doc joined .type subsegment
	assert_line --index 0 "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=$id;Sampled=1"
	assert_line --index 1 "00-4bf92f3577b34da6a3ce929d0e0e4736-$id-01"
	assert_line --index 2 vendor=opaque
	# a later version is read by its first four fields; its flags 00 mean not sampled
	export TRACEPARENT=01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-later
	run -0 --separate-stderr xs exec --name unsampled -- sh -c 'printf "%s\n" "$_X_AMZN_TRACE_ID"'
	assert_stderr_empty
	assert_output "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0"
	# an X-Ray header wins over it
	export _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	xs_ok exec --name xray -- true
	wait_segs 2
	assert_doc xray .trace_id 1-5759e988-bd862e3fe1be46a994272793
}

@test "a TRACEPARENT that is not W3C (version 00 with more, ff, upper case): one warning, a trace of its own" {
	local tp
	for tp in 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra \
		ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
		00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01; do
		TRACEPARENT=$tp run -0 --separate-stderr xs exec --name own -- true
		assert_warning
		[[ $stderr == *"TRACEPARENT '${tp:0:64}' is not a W3C traceparent; ignored"* ]] || xs_die "$stderr"
	done
	wait_segs 3
	[ "$(dq '[.[] | select(.trace_id == "1-4bf92f35-77b34da6a3ce929d0e0e4736")] | length')" = 0 ]
	[ "$(dq '[.[] | select(has("parent_id"))] | length')" = 0 ]
}

# github_step CMD...: run CMD as a later step of a GitHub Actions job would: a
# shell of its own with the variables of $GITHUB_ENV (a later line wins).
github_step() {
	(
		while IFS= read -r line; do
			export "${line%%=*}=${line#*=}"
		done <"$GITHUB_ENV"
		"$@"
	)
}

@test "--export=github: begin puts the context in \$GITHUB_ENV for later steps, end takes it out (issue 14)" {
	export GITHUB_ENV=$D/github_env
	: >"$GITHUB_ENV"
	run -0 --separate-stderr xs begin --export=github job
	assert_output ''
	assert_stderr_empty
	github_step xs_ok exec --name step1 -- true
	github_step xs_ok exec --name step2 -- sh -c 'xray-seg annotate stage test'
	run -0 --separate-stderr github_step xs end --export=github
	assert_output ''
	assert_stderr_empty
	wait_segs 3
	job=$(dget job .id)
	assert_doc step1 .parent_id "$job"
	assert_doc step2 .parent_id "$job"
	assert_doc step2 .annotations.stage test
	[ "$(sed -n 1p "$GITHUB_ENV")" = "_X_AMZN_TRACE_ID=Root=$(dget job .trace_id);Parent=$job;Sampled=1" ]
	[ "$(tail -n 2 "$GITHUB_ENV")" = $'_X_AMZN_TRACE_ID=\nTRACEPARENT=' ]
	assert_no_state
	# outside a step: one warning, nothing begun; a format it does not know is a usage error
	unset GITHUB_ENV
	run -0 --separate-stderr xs begin --export=github orphan
	assert_warning
	assert_no_state
	run -2 --separate-stderr xs begin --export=csh x
	assert_usage_error
}

#!/usr/bin/env bats
# begin_end.bats - begin and end: ids, the document sent by end, parents (stack,
# --parent, context), scopes, ending by id, every end flag, names, namespaces.

load test_helper
bats_require_minimum_version 1.5.0

# end_flags NAME FLAGS...: begin NAME, end it with FLAGS (exit 0, quiet).
end_flags() {
	local name=$1
	shift
	xs_ok begin "$name" >/dev/null
	xs_quiet end "$@"
}

# flag_table: "name error fault throttle" for every document, in arrival order.
flag_table() { dq '.[] | "\(.name) \(.error) \(.fault) \(.throttle)"'; }

@test "begin prints a random 16-hex id and sends nothing; end sends exactly one document" {
	lambda_ctx
	run -0 --separate-stderr xs begin work
	assert_stderr_empty
	assert_id_output
	id=$output
	[ "$id" != 0000000000000000 ]
	assert_no_datagrams
	run -0 --separate-stderr xs end
	assert_stderr_empty
	assert_output ''
	wait_docs 1
	assert_doc work .id "$id"
	assert_doc work .trace_id "$ROOT"
	assert_doc work .parent_id "$PARENT"
	assert_doc work .type subsegment
	assert_doc work 'keys' '["end_time","id","name","parent_id","start_time","trace_id","type"]'
}

@test "timestamps are taken at begin and at end" {
	lambda_ctx
	t0=$EPOCHREALTIME
	xs begin timed >/dev/null
	sleep 0.3 # the duration being measured, not synchronisation
	xs end
	t1=$EPOCHREALTIME
	wait_docs 1
	start=$(dget timed .start_time)
	end=$(dget timed .end_time)
	float_ok "$start >= $t0 - 0.01"
	float_ok "$end <= $t1 + 0.01"
	float_ok "$end - $start >= 0.3"
	float_ok "$end - $start < 5"
}

@test "timestamps are printed as epoch seconds with exactly 6 decimals (trailing zeros kept)" {
	lambda_ctx
	# 60 timestamps: a formatter that drops trailing zeros shows it with
	# probability 1 - 0.9^60 > 99.8 %.
	for n in $(seq 30); do
		xs begin "t$n" >/dev/null
		xs end
	done
	wait_docs 30
	bad=$(grep -Ev '"start_time":[0-9]{10}\.[0-9]{6}[,}].*"end_time":[0-9]{10}\.[0-9]{6}[,}]|"end_time":[0-9]{10}\.[0-9]{6}[,}].*"start_time":[0-9]{10}\.[0-9]{6}[,}]' "$DOCS" || true)
	[[ -z $bad ]] || xs_die "timestamps without exactly 6 decimals:
$(grep -Eo '"(start|end)_time":[0-9.eE+-]+' <<<"$bad" | grep -Ev ':[0-9]{10}\.[0-9]{6}$')"
}

@test "ids are unique and nested begins form a chain through the stack" {
	lambda_ctx
	ids=()
	for n in 1 2 3 4 5 6 7 8 9 10; do
		ids+=("$(xs begin "level$n")")
	done
	for n in 1 2 3 4 5 6 7 8 9 10; do
		xs end
	done
	wait_docs 10
	[ "$(dq 'map(.id) | unique | length')" = 10 ]
	# end without an id ends the innermost first
	run -0 dq '.[] | "\(.name) \(.id) \(.parent_id)"'
	assert_output - <<-EOF
		level10 ${ids[9]} ${ids[8]}
		level9 ${ids[8]} ${ids[7]}
		level8 ${ids[7]} ${ids[6]}
		level7 ${ids[6]} ${ids[5]}
		level6 ${ids[5]} ${ids[4]}
		level5 ${ids[4]} ${ids[3]}
		level4 ${ids[3]} ${ids[2]}
		level3 ${ids[2]} ${ids[1]}
		level2 ${ids[1]} ${ids[0]}
		level1 ${ids[0]} $PARENT
	EOF
}

@test "--parent sets the parent explicitly and the new subsegment joins the scope's stack" {
	lambda_ctx
	other=$(hex 16)
	a=$(xs begin --parent "$other" explicit)
	b=$(xs begin inner)
	c=$(xs begin --parent "$PARENT" sibling)
	xs end "$c"
	xs end
	xs end
	wait_docs 3
	assert_doc explicit .parent_id "$other"
	assert_doc inner .parent_id "$a"
	assert_doc sibling .parent_id "$PARENT"
	assert_doc inner .id "$b"
	assert_doc explicit .trace_id "$ROOT"
}

@test "--parent may name an open subsegment out of stack order" {
	lambda_ctx
	a=$(xs begin outer)
	b=$(xs begin middle)
	xs begin --parent "$a" side >/dev/null
	xs end
	xs end "$b"
	xs end "$a"
	wait_docs 3
	assert_doc side .parent_id "$a"
	assert_doc middle .parent_id "$a"
}

@test "end ID ends that subsegment only, out of order; the stack keeps the rest" {
	lambda_ctx
	a=$(xs begin first)
	b=$(xs begin second)
	run -0 --separate-stderr xs end "$a"
	assert_stderr_empty
	assert_datagrams 1
	c=$(xs begin third)
	xs end
	xs end
	wait_docs 3
	assert_doc first .id "$a"
	assert_doc third .parent_id "$b"
	assert_doc second .parent_id "$a"
	[ "$(dq '[.[].name] | join(" ")')" = "first third second" ]
	assert_trace_gone
}

@test "end with nothing open: one warning, exit 0, nothing sent" {
	lambda_ctx
	run -0 --separate-stderr xs end
	assert_warning
	assert_output ''
	assert_no_datagrams
}

@test "end of an unknown id: one warning, exit 0, the open subsegment is untouched" {
	lambda_ctx
	a=$(xs begin kept)
	run -0 --separate-stderr xs end "$(hex 16)"
	assert_warning
	assert_output ''
	assert_no_datagrams
	run -0 --separate-stderr xs end
	assert_stderr_empty
	wait_docs 1
	assert_doc kept .id "$a"
}

@test "ending the same id twice sends it once and warns the second time" {
	lambda_ctx
	a=$(xs begin once)
	run -0 --separate-stderr xs end "$a"
	assert_stderr_empty
	run -0 --separate-stderr xs end "$a"
	assert_warning
	wait_docs 1
}

@test "scopes: the same Root with another Parent has its own stack" {
	lambda_ctx
	p1=$PARENT
	a=$(xs begin in-p1)
	p2=$(hex 16)
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$p2;Sampled=1"
	run -0 --separate-stderr xs end
	assert_warning
	b=$(xs begin in-p2)
	xs end
	export _X_AMZN_TRACE_ID="Root=$ROOT;Parent=$p1;Sampled=1"
	xs end
	wait_docs 2
	assert_doc in-p1 .parent_id "$p1"
	assert_doc in-p2 .parent_id "$p2"
	assert_doc in-p1 .id "$a"
	assert_doc in-p2 .id "$b"
}

@test "traces: another Root does not see this trace's open subsegments" {
	lambda_ctx
	root1=$ROOT ctx1=$_X_AMZN_TRACE_ID
	xs begin trace-one >/dev/null
	lambda_ctx
	run -0 --separate-stderr xs end
	assert_warning
	xs begin trace-two >/dev/null
	xs end
	export _X_AMZN_TRACE_ID=$ctx1
	xs end
	wait_docs 2
	assert_doc trace-one .trace_id "$root1"
	assert_doc trace-two .trace_id "$ROOT"
}

@test "end --error / --fault / --throttle set exactly the flags asked for" {
	lambda_ctx
	end_flags plain
	end_flags err --error
	end_flags flt --fault
	end_flags thr --throttle
	end_flags both --error --fault
	wait_docs 5
	run -0 flag_table
	assert_output - <<-EOF
		plain null null null
		err true null null
		flt null true null
		thr true null true
		both true true null
	EOF
	[ "$(dq -c 'map(.cause) | unique')" = '[null]' ]
}

@test "end --cause adds one exception with a 16-hex id; alone it sets fault" {
	lambda_ctx
	end_flags caused --cause 'disk full: /var/tmp'
	end_flags errcause --error --cause boom
	end_flags thrcause --throttle --cause slow
	wait_docs 3
	assert_doc caused '.cause.exceptions | length' 1
	assert_doc caused '.cause.exceptions[0].message' 'disk full: /var/tmp'
	[[ $(dget caused '.cause.exceptions[0].id') =~ $HEX16_RE ]]
	assert_doc caused '[.error, .fault, .throttle]' '[null,true,null]'
	assert_doc errcause '[.error, .fault, .throttle]' '[true,null,null]'
	assert_doc errcause '.cause.exceptions[0].message' boom
	assert_doc thrcause '[.error, .fault, .throttle]' '[true,null,true]'
}

@test "end --cause keeps quotes, backslashes, newlines and UTF-8 intact" {
	lambda_ctx
	msg=$'line 1 "quoted" \\ back\nline 2\ttab é ✓'
	end_flags tricky --cause "$msg"
	wait_docs 1
	[ "$(dget tricky '.cause.exceptions[0].message')" = "$msg" ]
}

@test "end --http-status maps 4xx to error, 429 to throttle+error, 5xx to fault" {
	lambda_ctx
	for code in 100 200 302 399 400 404 429 499 500 503 599; do
		end_flags "s$code" --http-status "$code"
	done
	wait_docs 11
	run -0 dq '.[] | "\(.name) \(.http | tojson) \(.error) \(.fault) \(.throttle)"'
	assert_output - <<-'EOF'
		s100 {"response":{"status":100}} null null null
		s200 {"response":{"status":200}} null null null
		s302 {"response":{"status":302}} null null null
		s399 {"response":{"status":399}} null null null
		s400 {"response":{"status":400}} true null null
		s404 {"response":{"status":404}} true null null
		s429 {"response":{"status":429}} true null true
		s499 {"response":{"status":499}} true null null
		s500 {"response":{"status":500}} null true null
		s503 {"response":{"status":503}} null true null
		s599 {"response":{"status":599}} null true null
	EOF
}

@test "end --exit-code records metadata.process.exit_code; non-zero is a fault with 'exit status N'" {
	lambda_ctx
	end_flags ok --exit-code 0
	end_flags failed --exit-code 3
	end_flags max --exit-code 255
	end_flags withcause --exit-code 7 --cause 'tar failed'
	wait_docs 4
	assert_doc_json ok .metadata '{"process":{"exit_code":0}}'
	assert_doc ok '[.error, .fault, .throttle, .cause]' '[null,null,null,null]'
	assert_doc_json failed .metadata '{"process":{"exit_code":3}}'
	assert_doc failed '.fault' true
	assert_doc failed '.cause.exceptions | length' 1
	assert_doc failed '.cause.exceptions[0].message' 'exit status 3'
	assert_doc max '.metadata.process.exit_code' 255
	assert_doc max '.cause.exceptions[0].message' 'exit status 255'
	assert_doc withcause '.cause.exceptions | map(.message)' '["tar failed"]'
	assert_doc withcause '.fault' true
}

@test "end combines --exit-code, --http-status and flags" {
	lambda_ctx
	end_flags combo --exit-code 0 --http-status 404 --throttle
	wait_docs 1
	assert_doc combo '[.error, .fault, .throttle, .http.response.status, .metadata.process.exit_code]' \
		'[true,null,true,404,0]'
}

@test "bad --http-status / --exit-code values: exit 2, nothing recorded, subsegment still open" {
	lambda_ctx
	id=$(xs begin survivor)
	for bad in 99 600 0 -1 abc 4o4 '' 200x 1e2 2000000000000; do
		run --separate-stderr xs end --http-status "$bad"
		((status == 2)) || xs_die "end --http-status '$bad': exit $status, expected 2"
		assert_usage_error
	done
	for bad in 256 -1 abc '' 1.5 0x1 99999999999; do
		run --separate-stderr xs end --exit-code "$bad"
		((status == 2)) || xs_die "end --exit-code '$bad': exit $status, expected 2"
		assert_usage_error
	done
	assert_no_datagrams
	[ -f "$(trace_dir)/$id.open" ]
	xs end
	wait_docs 1
	assert_doc survivor 'keys' '["end_time","id","name","parent_id","start_time","trace_id","type"]'
}

@test "begin --namespace aws|remote is recorded; the default has no namespace" {
	lambda_ctx
	xs begin --namespace aws S3 >/dev/null
	xs end
	xs begin --namespace remote api.example.com >/dev/null
	xs end
	xs begin --namespace=remote eqform >/dev/null
	xs end
	wait_docs 3
	assert_doc S3 .namespace aws
	assert_doc api.example.com .namespace remote
	assert_doc eqform .namespace remote
}

@test "names keep every allowed character, UTF-8 letters included, without a warning" {
	lambda_ctx
	name='a Z_0.9:/%&#=+-@ café Ünï'
	run -0 --separate-stderr xs begin "$name"
	assert_stderr_empty
	xs end
	wait_docs 1
	doc "$name" >/dev/null
}

@test "disallowed name characters are removed with one warning" {
	lambda_ctx
	run -0 --separate-stderr xs begin 'a<b>c!d?e;f*g(h)i$j~k^l\m'
	assert_warning
	assert_id_output
	xs end
	run -0 --separate-stderr xs begin $'tab\there\nnewline'
	assert_warning
	xs end
	wait_docs 2
	doc abcdefghijklm >/dev/null
	doc tabherenewline >/dev/null
}

@test "names longer than 200 characters are cut to 200 (whole UTF-8 characters)" {
	lambda_ctx
	long=$(printf 'n%.0s' {1..250})
	run -0 --separate-stderr xs begin "$long"
	assert_id_output
	xs end
	wide=$(printf 'é%.0s' {1..250})
	run -0 --separate-stderr xs begin "$wide"
	xs end
	wait_docs 2
	assert_doc "${long:0:200}" '.name | length' 200
	assert_doc "${wide:0:200}" '.name | length' 200
}

@test "a name made only of disallowed characters never yields an invalid document" {
	lambda_ctx
	run --separate-stderr xs begin '<>!?'
	case $status in
	0)
		assert_id_output
		xs end
		wait_docs 1
		[ -n "$(dq '.[0].name')" ]
		;;
	2) assert_usage_error ;;
	*) xs_die "begin '<>!?': exit $status" ;;
	esac
}

@test "end --inside ID also ends what was begun inside it and is still open, at the same time" {
	lambda_ctx
	outer=$(xs begin outer)
	a=$(xs begin a)
	b=$(xs begin b)
	xs end "$(xs begin done-inside)"
	run -0 --separate-stderr xs end --inside --fault "$outer"
	assert_stderr_empty
	wait_docs 4
	assert_doc a .parent_id "$outer"
	assert_doc b .parent_id "$a"
	[ "$(dget a .end_time)" = "$(dget outer .end_time)" ]
	[ "$(dget b .end_time)" = "$(dget outer .end_time)" ]
	# only the one ended explicitly carries its flags
	assert_doc outer .fault true
	assert_doc a .fault null
	assert_no_state
	[ -n "$b" ]
}

@test "end --inside ends every level, past a batch of 64: 100 nested, 101 sent, none left open (issue 15)" {
	lambda_ctx
	local h i
	h=$(xs_ok begin handler)
	for ((i = 1; i <= 100; i++)); do
		xs_bare begin "i$i" >/dev/null
	done
	run -0 --separate-stderr xs end --inside "$h"
	assert_stderr_empty
	wait_docs 101
	assert_doc i100 .parent_id "$(dget i99 .id)"
	assert_doc i1 .parent_id "$h"
	assert_no_state
}

@test "end --inside ID leaves alone what is open outside it" {
	lambda_ctx
	outer=$(xs begin outer)
	inner=$(xs begin inner)
	run -0 --separate-stderr xs end --inside "$inner"
	assert_stderr_empty
	wait_docs 1
	doc inner >/dev/null
	run -0 --separate-stderr xs end
	wait_docs 2
	assert_doc outer .id "$outer"
}

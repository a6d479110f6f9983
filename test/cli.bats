#!/usr/bin/env bats
# cli.bats - the command line surface: --help/--version, `help CMD`, unknown
# commands and options, missing and extra operands, option syntax; exit codes,
# stdout versus stderr, one-line errors, nothing written on a usage error.

load test_helper
bats_require_minimum_version 1.5.0

COMMANDS=(begin end annotate metadata send status exec header context guard exception errtrap listen help)

# The synopsis lines of the contract, and each command's long options.
declare -gA SYNOPSIS=(
	[begin]='xray-seg begin [--parent ID] [--namespace aws|remote] [--start-time T] [--in-progress] [--export] [--trace-id-from S] [--sample-rate R] [--service-version V] [--strict] NAME'
	[end]='xray-seg end [--error] [--fault] [--throttle] [--cause TEXT] [--exit-code N] [--http-status N] [--end-time T] [--inside] [--export] [--transport T] [--strict] [ID]'
	[annotate]='xray-seg annotate [--id ID] [--number | --bool] [--strict] KEY VALUE'
	[metadata]='xray-seg metadata [--id ID] [--namespace NS] [--strict] KEY JSON'
	[send]='xray-seg send [--all] [--transport T]'
	[status]='xray-seg status [--all]'
	[exec]='xray-seg exec [--name NAME] [--namespace aws|remote] [--aws | --no-aws] [--in-progress] [--trace-id-from S] [--sample-rate R] [--service-version V] [--transport T] [--strict] [--] CMD [ARG...]'
	[header]='xray-seg header'
	[context]='xray-seg context [--from-headers FILE | --from-env]'
	[guard]='xray-seg guard [--deadline MS] [--margin MS]'
	[exception]='xray-seg exception [--id ID] [--type TYPE] [--exit-code N] [--frame PATH:LINE:LABEL]... [--strict] MESSAGE'
	[errtrap]='xray-seg errtrap'
	[listen]='xray-seg listen [--port P] [--json] [--count N] [--idle S]'
	[help]='xray-seg help [COMMAND]'
)
declare -gA OPTIONS=(
	[begin]='--export --help --in-progress --namespace --parent --sample-rate --service-version --start-time --strict --trace-id-from'
	[end]='--cause --end-time --error --exit-code --export --fault --help --http-status --inside --strict --throttle --transport'
	[annotate]='--bool --help --id --number --strict'
	[metadata]='--help --id --namespace --strict'
	[send]='--all --help --transport'
	[status]='--all --help'
	[exec]='--aws --help --in-progress --name --namespace --no-aws --sample-rate --service-version --strict --trace-id-from --transport'
	[header]='--help'
	[context]='--from-env --from-headers --help'
	[guard]='--deadline --help --margin'
	[exception]='--exit-code --frame --help --id --strict --type'
	[errtrap]='--help'
	[listen]='--count --help --idle --json --port'
	[help]='--help'
)

# option_names: the long options listed in the Options section of $output.
option_names() {
	printf '%s\n' "$output" | awk '
		/^Options:/ { on = 1; next }
		on && /^[^ ]/ { on = 0 }
		on && /^ +(-[A-Za-z], )?--[a-z]/ {
			sub(/^ +(-[A-Za-z], )?/, ""); sub(/[ =\[].*/, ""); print
		}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# check_command_help CMD: `help CMD`, `CMD --help` and `CMD -h` agree and match the synopsis.
check_command_help() {
	local cmd=$1
	run -0 --separate-stderr xs help "$cmd"
	assert_stderr_empty
	local text=$output
	assert_line --index 0 "usage: ${SYNOPSIS[$cmd]}"
	[[ -n ${lines[1]} && ${lines[1]} != Options:* ]] || xs_die "help $cmd: no one-line summary after the usage line"
	assert_line 'Options:'
	assert_line --regexp '^ +-h, --help( |$)'
	[[ $(option_names) == "${OPTIONS[$cmd]}" ]] ||
		xs_die "help $cmd lists options '$(option_names)', the synopsis has '${OPTIONS[$cmd]}'"
	run -0 --separate-stderr xs "$cmd" --help
	assert_stderr_empty
	assert_output "$text"
	run -0 --separate-stderr xs "$cmd" -h
	assert_stderr_empty
	assert_output "$text"
}

@test "--help prints the overview on stdout, exit 0" {
	run -0 --separate-stderr xs --help
	assert_stderr_empty
	assert_line --index 0 'usage: xray-seg COMMAND [OPTION...] [ARG...]'
	assert_line 'Commands:'
	assert_line 'Options:'
	assert_line --regexp '^  -h, --help +[^ ]'
	assert_line --regexp '^  -V, --version +[^ ]'
	assert_output --partial 'xray-seg help COMMAND'
	assert_output --regexp 'xray-seg\(1\)|man xray-seg'
	listed=$(printf '%s\n' "$output" | awk '/^Commands:/ { on = 1; next } on && !/^  [a-z]/ { on = 0 } on { print $1 }' | sort | tr '\n' ' ')
	want=$(printf '%s\n' "${COMMANDS[@]}" | sort | tr '\n' ' ')
	[ "$listed" = "$want" ] || xs_die "Commands section lists '$listed', expected '$want'"
	for c in "${COMMANDS[@]}"; do
		assert_line --regexp "^  $c +[^ ].*"
	done
}

@test "-h and help print exactly what --help prints" {
	run -0 xs --help
	text=$output
	run -0 --separate-stderr xs -h
	assert_stderr_empty
	assert_output "$text"
	run -0 --separate-stderr xs help
	assert_stderr_empty
	assert_output "$text"
}

@test "--version and -V print 'xray-seg 0.1.0' on stdout" {
	run -0 --separate-stderr xs --version
	assert_stderr_empty
	assert_output 'xray-seg 0.1.0'
	run -0 --separate-stderr xs -V
	assert_stderr_empty
	assert_output 'xray-seg 0.1.0'
}

@test "help begin" { check_command_help begin; }
@test "help end" { check_command_help end; }
@test "help annotate" { check_command_help annotate; }
@test "help metadata" { check_command_help metadata; }
@test "help send" { check_command_help send; }
@test "help exec" { check_command_help exec; }
@test "help header" { check_command_help header; }
@test "help context" { check_command_help context; }
@test "help guard" { check_command_help guard; }
@test "help exception" { check_command_help exception; }
@test "help errtrap" { check_command_help errtrap; }
@test "help help" { check_command_help help; }

@test "help output ends with a newline and is written in one piece to a pipe" {
	run -0 bash -c '"$XRAY_SEG" --help | tail -c 1 | od -An -c'
	assert_output --regexp '\\n'
	run -0 bash -c '"$XRAY_SEG" --version | wc -l'
	assert_output 1
}

@test "--help of every command in a recording context sends nothing and writes nothing" {
	lambda_ctx
	for c in "${COMMANDS[@]}"; do
		run -0 --separate-stderr xs "$c" --help
		assert_stderr_empty
		assert_line --index 0 "usage: ${SYNOPSIS[$c]}"
	done
	assert_no_datagrams
	assert_no_state
}

@test "no command at all is a usage error" {
	expect_usage
}

@test "unknown command: exit 2, one line naming it, nothing on stdout" {
	expect_usage frobnicate
	[[ $stderr == *frobnicate* ]] || xs_die "error does not name the command: $stderr"
	expect_usage help frobnicate
	[[ $stderr == *frobnicate* ]] || xs_die "error does not name the command: $stderr"
}

@test "commands are matched exactly, not by prefix or case" {
	expect_usage beg x
	expect_usage BEGIN x
	expect_usage Header
	expect_usage ''
}

@test "unknown options are usage errors, globally and for every command" {
	expect_usage --bogus
	expect_usage -x
	for c in "${COMMANDS[@]}"; do
		expect_usage "$c" --bogus
	done
	expect_usage begin -z name
	expect_usage end --errors
}

@test "an ambiguous abbreviation is called ambiguous, naming the options it could be; a unique one works (issue 14)" {
	run -2 --separate-stderr xs exec --nam x -- true
	assert_output ''
	assert_one_line_stderr "xray-seg: exec: ambiguous option '--nam' (--name, --namespace)"
	lambda_ctx
	run -0 --separate-stderr xs exec --names=remote -- true
	assert_stderr_empty
	wait_docs 1
	assert_doc true .namespace remote
}

@test "missing operands and option arguments are usage errors" {
	expect_usage begin
	expect_usage begin --parent
	expect_usage begin --namespace
	expect_usage end --cause
	expect_usage end --exit-code
	expect_usage end --http-status
	expect_usage annotate
	expect_usage annotate key
	expect_usage annotate --id
	expect_usage metadata
	expect_usage metadata key
	expect_usage metadata --namespace
	expect_usage exec
	expect_usage exec --
	expect_usage exec --name
	expect_usage exec --name x
	expect_usage begin --start-time
	expect_usage end --end-time
	expect_usage context --from-headers
	expect_usage guard --deadline
	expect_usage guard --margin
	expect_usage exception
	expect_usage exception --frame
	expect_usage exception --type
}

@test "extra operands are usage errors" {
	expect_usage begin a b
	expect_usage end 0123456789abcdef 0123456789abcdef
	expect_usage send extra
	expect_usage header extra
	expect_usage annotate key value extra
	expect_usage metadata key '{}' extra
	expect_usage help begin end
	expect_usage context extra
	expect_usage guard extra
	expect_usage errtrap extra
	expect_usage exception one two
}

@test "bad times, frames, deadlines and margins are usage errors; --from-headers excludes --from-env" {
	for bad in '' x 0 -1 ' 1764637200' 1764637200, 1764637200. 1e9 946684799 99999999999 1764637200123.5; do
		expect_usage begin --start-time "$bad" name
		expect_usage end --end-time "$bad"
	done
	for bad in '' x x:y 'x:1' 'x:-1:f' 'x:1.5:f' 'x::f'; do
		expect_usage exception --frame "$bad" message
	done
	expect_usage exception --exit-code 256 message
	for bad in '' x -1 1.5; do
		expect_usage guard --deadline "$bad"
		expect_usage guard --margin "$bad"
	done
	expect_usage guard --margin 900001
	expect_usage context --from-headers /dev/null --from-env
}

@test "options after the first operand are operands (getopt '+'), so extra" {
	expect_usage begin name --parent 0123456789abcdef
	expect_usage annotate key value --number
	expect_usage metadata key '{}' --namespace ns
}

@test "empty NAME is a usage error, but for exec, whose command runs (with --strict: a usage error)" {
	expect_usage begin ''
	expect_usage exec --strict --name '' true
	expect_usage exec --name= --strict true
}

@test "bad ids are usage errors: not exactly 16 lowercase hex" {
	for bad in 0123456789ABCDEF 0123456789abcde 0123456789abcdef0 0123456789abcdeg '' ' 0123456789abcde'; do
		expect_usage end "$bad"
		expect_usage begin --parent "$bad" name
		expect_usage annotate --id "$bad" key value
		expect_usage metadata --id "$bad" key '{}'
	done
}

@test "bad --namespace values are usage errors" {
	for bad in local AWS Remote '' aws,remote; do
		expect_usage begin --namespace "$bad" name
		expect_usage exec --strict --namespace "$bad" true
	done
}

@test "a usage error in a recording context sends nothing and writes no state" {
	lambda_ctx
	expect_usage begin --parent BAD name
	expect_usage begin --namespace local name
	expect_usage begin ''
	expect_usage end --http-status 600
	expect_usage annotate 'bad.key' v
	expect_usage metadata k '{'
	expect_usage exec --strict --namespace bad -- touch "$BATS_TEST_TMPDIR/ran"
	[[ ! -e $BATS_TEST_TMPDIR/ran ]] || xs_die "exec ran the command despite a usage error"
	assert_no_datagrams
	assert_no_state
}

@test "usage errors win over a missing context (exit 2, not 1)" {
	export AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR
	expect_usage begin
	expect_usage end --exit-code 256
	expect_usage annotate --number k notanumber
}

@test "--opt=VALUE and --opt VALUE are equivalent" {
	lambda_ctx
	run -0 --separate-stderr xs begin --namespace=remote --parent="$PARENT" eq-form
	assert_stderr_empty
	run -0 --separate-stderr xs end --http-status=404 --exit-code=3
	assert_stderr_empty
	run -0 xs begin --namespace remote --parent "$PARENT" space-form
	run -0 xs end --http-status 404 --exit-code 3
	wait_docs 2
	for n in eq-form space-form; do
		assert_doc "$n" '[.namespace, .parent_id, .http.response.status, .error, .fault, .metadata.process.exit_code]' \
			"[\"remote\",\"$PARENT\",404,true,true,3]"
	done
}

@test "-- ends options: a NAME may start with a dash" {
	lambda_ctx
	run -0 --separate-stderr xs begin -- -dash-name
	assert_stderr_empty
	assert_id_output
	id=$output
	run -0 xs end
	wait_docs 1
	assert_doc -dash-name .id "$id"
}

@test "begin prints exactly the id and a newline on stdout" {
	lambda_ctx
	xs begin exact >"$BATS_TEST_TMPDIR/out"
	run -0 od -An -c "$BATS_TEST_TMPDIR/out"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/out")" -eq 17 ]
	grep -Eq '^[0-9a-f]{16}$' "$BATS_TEST_TMPDIR/out"
	run -0 xs end
	wait_docs 1
}

@test "successful commands print nothing on stdout except begin's id and header's line" {
	lambda_ctx
	run -0 --separate-stderr xs begin quiet
	id=$output
	for args in "annotate k v" "metadata k {}" "end" "send"; do
		# shellcheck disable=SC2086
		run -0 --separate-stderr xs $args
		assert_output ''
		assert_stderr_empty
	done
	wait_docs 1
	assert_doc quiet .id "$id"
}

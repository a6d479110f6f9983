#!/usr/bin/env bats
# docs.bats: the man page and the shell completions against the binary's own help.
#
# Commands come from `xray-seg help`, each command's long options from `xray-seg help CMD`
# (one "  --long" option per line), so adding a command or option without documenting and
# completing it fails here. Missing tools (mandoc, zsh, fish, shellcheck) fail, never skip.

load test_helper

MAN=$XS_ROOT/man/xray-seg.1
COMP_BASH=$XS_ROOT/completions/xray-seg.bash
COMP_ZSH=$XS_ROOT/completions/_xray-seg
COMP_FISH=$XS_ROOT/completions/xray-seg.fish

# The environment variables xray-seg reads, and XRAY_SEG_REQUEST_ID, which it only
# exports (context --from-headers) for the bootstrap.
SPEC_ENV=(_X_AMZN_TRACE_ID AWS_XRAY_DAEMON_ADDRESS AWS_XRAY_CONTEXT_MISSING
	AWS_XRAY_SDK_ENABLED XRAY_SEG_STATE_DIR TMPDIR AWS_LAMBDA_FUNCTION_NAME
	XRAY_SEG_TRANSPORT XRAY_SEG_SAMPLE_RATE XRAY_SEG_SERVICE_VERSION XRAY_SEG_LIBCURL
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
	AWS_ENDPOINT_URL_XRAY AWS_ENDPOINT_URL AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
	XRAY_SEG_IN_PROGRESS XRAY_SEG_DEADLINE_MS XRAY_SEG_REQUEST_ID
	AWS_LAMBDA_INITIALIZATION_TYPE POWERTOOLS_SERVICE_NAME AWS_LAMBDA_TRACE_ID TRACEPARENT
	XRAY_SEG_COLD_START XRAY_SEG_STRICT AWS_CA_BUNDLE)

# Only the binary and the doc tools are needed here; no document checker.
setup_file() {
	[[ -x $XRAY_SEG && ! -d $XRAY_SEG ]] ||
		fail "xray-seg binary not found at $XRAY_SEG: build it with 'make -C $XS_ROOT'"
	local f
	for f in "$MAN" "$COMP_BASH" "$COMP_ZSH" "$COMP_FISH"; do
		[[ -f $f ]] || fail "missing $f"
	done
}
teardown_file() { :; }

# need TOOL: fail (not skip) when TOOL is not installed.
need() {
	command -v "$1" >/dev/null || fail "$1 is required by this test but is not installed"
}

# --- what the binary says ----------------------------------------------------

# cli_commands: the command names listed under "Commands:" by `xray-seg help`.
cli_commands() {
	xs help | awk '/^Commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }'
}

# cli_long_opts [CMD]: the long options listed under "Options:" by `xray-seg help [CMD]`.
cli_long_opts() {
	xs help "$@" | awk '
		/^Options:/ { f = 1; next }
		f && /^$/ { exit }
		f && match($0, /^ +(-[A-Za-z0-9], )?--[A-Za-z0-9][A-Za-z0-9-]*/) {
			s = substr($0, RSTART, RLENGTH); sub(/.*--/, "--", s); print s
		}'
}

# cli_usage CMD: the synopsis of CMD from its usage line, without "usage: xray-seg ".
cli_usage() {
	xs help "$1" | sed -n 's/^usage: xray-seg //p' | head -n 1
}

# Loads COMMANDS (array) and OPTS[cmd] (space-separated long options) from the binary,
# failing when the help cannot be parsed.
load_cli() {
	mapfile -t COMMANDS < <(cli_commands)
	((${#COMMANDS[@]} > 0)) || fail "no commands parsed from 'xray-seg help'"
	declare -gA OPTS=()
	local c o
	for c in "${COMMANDS[@]}"; do
		o=$(cli_long_opts "$c" | tr '\n' ' ')
		[[ $o == *--help* ]] || fail "no options (not even --help) parsed from 'xray-seg help $c'"
		OPTS[$c]=$o
	done
	GLOBAL_OPTS=$(cli_long_opts | tr '\n' ' ')
	[[ $GLOBAL_OPTS == *--version* ]] || fail "no global options parsed from 'xray-seg help'"
}

# --- what the man page says --------------------------------------------------

# man_section NAME: the mdoc source of section NAME, with \- turned into -.
man_section() {
	awk -v s="$1" '/^\.Sh / { f = (substr($0, 5) == s); next } f' "$MAN" | sed 's/\\-/-/g'
}

# man_items: "CMD<TAB>source line" for every line of each top-level item of COMMANDS;
# CMD is the item's first Cm argument.
man_items() {
	man_section COMMANDS | awk '
		function flush(i) { for (i = 1; i <= n; i++) print name "\t" line[i]; n = 0; name = "" }
		/^\.Bl/ { if (++depth == 1) next }
		/^\.El/ { if (depth-- == 1) { flush(); next } }
		depth == 1 && /^\.It/ { flush() }
		depth >= 1 {
			line[++n] = $0
			if (name == "" && match($0, /(^\.| )Cm [a-z]+/)) {
				name = substr($0, RSTART, RLENGTH); sub(/.*Cm /, "", name)
			}
		}
		END { flush() }'
}

# man_item CMD: the source lines of the COMMANDS item of CMD.
man_item() { man_items | awk -F'\t' -v c="$1" '$1 == c { print $2 }'; }

# man_item_head CMD: the item's tag (the .It line, or the lines from .It Xo to .Xc)
# rendered as plain text: Op -> [...], Fl x -> -x, other macro names dropped.
man_item_head() {
	man_item "$1" | awk '
		NR == 1 && !/Xo$/ { one = 1 }
		/^\.Xc/ { exit }
		{
			out = ""; close_at_end = 0; n = split(substr($0, 2), w, " ")
			for (i = 1; i <= n; i++) {
				if (w[i] == "It" || w[i] == "Xo" || w[i] == "Cm" || w[i] == "Ar") continue
				if (w[i] == "Op") { out = out " ["; close_at_end++; continue }
				if (w[i] == "Fl") { out = out " -" w[++i]; continue }
				out = out " " w[i]
			}
			while (close_at_end-- > 0) out = out "]"
			printf "%s", out
		}
		one { exit }'
	echo
}

# norm_synopsis: lower case, single spaces, no spaces around "|", "[" or "]", "x ..." -> "x...".
norm_synopsis() {
	tr '[:upper:]' '[:lower:]' | sed -E 's/[[:space:]]+/ /g; s/ ?\| ?/|/g; s/\[ /[/g; s/ \]/]/g;
		s/ \.\.\./.../g; s/^ //; s/ $//'
}

# man_env_vars: the variables listed (.It Ev) under ENVIRONMENT.
man_env_vars() { man_section ENVIRONMENT | awk '/^\.It Ev / { print $3 }'; }

# man_examples: the literal blocks of EXAMPLES, as the shell sees them.
man_examples() {
	man_section EXAMPLES | awk '/^\.Bd -literal/ { f = 1; next } /^\.Ed/ { f = 0; print ""; next } f' |
		sed -e 's/\\e/\\/g' -e 's/\\&//g'
}

# --- what the completions do -------------------------------------------------

# bash_complete WORD...: COMPREPLY, one per line, for a command line whose last WORD is
# the one being completed (give '' for an empty word).
bash_complete() {
	# shellcheck source=/dev/null
	source "$COMP_BASH"
	local spec func
	spec=$(complete -p xray-seg) || fail "the bash completion does not register xray-seg"
	func=$(sed -nE 's/.*-F ([^ ]+).*/\1/p' <<<"$spec")
	[[ -n $func ]] || fail "no -F function in: $spec"
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$func" xray-seg "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
}

# fish_complete LINE: the candidates fish offers for LINE, one per line.
fish_complete() {
	# shellcheck disable=SC2016 # $argv is fish's
	fish --no-config -c 'source $argv[1]; and complete -C $argv[2]' "$COMP_FISH" "$1" |
		cut -f1
}

# zsh_arm CMD: the body of the `case $words[1]` arm that handles CMD in the zsh completion.
zsh_arm() {
	awk -v c="$1" '
		f && /;;/ { exit }
		f { print }
		match($0, /^[[:space:]]*\(?[a-z|]+\)[[:space:]]*$/) {
			s = $0; gsub(/[[:space:]()]/, "", s); k = split(s, a, "|")
			for (i = 1; i <= k; i++) if (a[i] == c) f = 1
		}' "$COMP_ZSH"
}

# same_set NAME WANT GOT: fail unless the word lists WANT and GOT hold the same words.
same_set() {
	local want got
	want=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u)
	got=$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u)
	[[ $want == "$got" ]] && return 0
	fail "$1: expected [${want//$'\n'/ }], got [${got//$'\n'/ }]"
}

# report WHAT MISSING...: fail listing every missing item, if any.
report() {
	local what=$1
	shift
	(($# == 0)) || fail "$what: $*"
}

# ============================================================================
# man page

@test "man: mandoc -T lint -W warning is clean" {
	need mandoc
	run mandoc -T lint -W warning "$MAN"
	assert_success
	assert_output ''
}

@test "man: sections appear in mdoc order" {
	local got
	got=$(sed -n 's/^\.Sh //p' "$MAN" | tr '\n' ',')
	assert_equal "$got" 'NAME,SYNOPSIS,DESCRIPTION,COMMANDS,ENVIRONMENT,FILES,EXIT STATUS,SIGNALS,EXAMPLES,DIAGNOSTICS,SEE ALSO,STANDARDS,CAVEATS,SECURITY CONSIDERATIONS,'
}

@test "man: every command of 'xray-seg help' has an item in COMMANDS, and no other" {
	load_cli
	local got
	got=$(man_items | cut -f1 | uniq | tr '\n' ' ')
	same_set "COMMANDS items vs. xray-seg help" "${COMMANDS[*]}" "$got"
}

@test "man: every long option of each command is in that command's COMMANDS item" {
	load_cli
	local c o missing=()
	man_section COMMANDS | grep -Eq '(^\.| )Fl -help( |$)' ||
		missing+=("--help (the COMMANDS introduction must say every command takes it)")
	for c in "${COMMANDS[@]}"; do
		for o in ${OPTS[$c]}; do
			[[ $o == --help ]] && continue
			man_item "$c" | grep -Eq "(^\\.| )Fl ${o#-}( |\$)" || missing+=("$c $o")
		done
	done
	report "options missing from the man page" "${missing[@]}"
}

@test "man: every long option in COMMANDS exists in the binary" {
	load_cli
	local all=" $GLOBAL_OPTS ${OPTS[*]} " o found=() stale=()
	mapfile -t found < <(man_section COMMANDS | grep -Eo '(^\.| )Fl -[a-z][a-z0-9-]*' | sed 's/.*Fl /-/' | sort -u)
	((${#found[@]} > 0)) || fail "no long options (.Fl \\-name) found in COMMANDS"
	for o in "${found[@]}"; do
		[[ $all == *" $o "* ]] || stale+=("$o")
	done
	report "the man page documents options the binary does not have" "${stale[@]}"
}

@test "man: each command's item heading matches its usage line" {
	load_cli
	local c want got bad=()
	for c in "${COMMANDS[@]}"; do
		want=$(cli_usage "$c" | norm_synopsis)
		got=$(man_item_head "$c" | norm_synopsis)
		[[ -n $want && $want == "$got" ]] || bad+=("
  help: $want
  man:  $got")
	done
	report "man page headings differ from 'xray-seg help CMD'" "${bad[@]}"
}

@test "man: the global options are documented" {
	load_cli
	local o missing=()
	for o in $GLOBAL_OPTS; do
		man_section DESCRIPTION | grep -Eq "(^\\.| )Fl ${o#-}( |\$)" || missing+=("$o")
	done
	report "global options missing from DESCRIPTION" "${missing[@]}"
}

@test "man: ENVIRONMENT lists the spec'd variables and nothing the tool does not know" {
	local help vars v missing=() unknown=()
	help=$(xs --help)
	mapfile -t vars < <(man_env_vars)
	((${#vars[@]} > 0)) || fail "no .It Ev entries under ENVIRONMENT"
	for v in "${SPEC_ENV[@]}"; do
		printf '%s\n' "${vars[@]}" | grep -Fqx -- "$v" || missing+=("$v")
	done
	for v in "${vars[@]}"; do
		printf '%s\n' "${SPEC_ENV[@]}" | grep -Fqx -- "$v" && continue
		grep -Eq "(^|[^A-Za-z0-9_])$v([^A-Za-z0-9_]|\$)" <<<"$help" || unknown+=("$v")
	done
	report "spec'd variables missing from ENVIRONMENT" "${missing[@]}"
	report "ENVIRONMENT variables neither in 'xray-seg --help' nor in the spec" "${unknown[@]}"
}

@test "man: every variable named in 'xray-seg --help' is under ENVIRONMENT" {
	local v missing=()
	# The list after "Environment:" runs to the first full stop.
	for v in $(xs --help | sed -n '/^Environment:/,$p' | tr '\n' ' ' |
		sed -e 's/^Environment://' -e 's/\.\( .*\)\{0,1\}$//' | grep -Eo '[A-Z_][A-Z0-9_]+'); do
		man_env_vars | grep -Fqx -- "$v" || missing+=("$v")
	done
	report "variables from --help missing from ENVIRONMENT" "${missing[@]}"
}

@test "man: every ENVIRONMENT entry states its default" {
	local v body missing=()
	for v in $(man_env_vars); do
		body=$(man_section ENVIRONMENT | awk -v v="$v" '/^\.It Ev / { f = ($3 == v); next } f')
		grep -q 'Default' <<<"$body" || missing+=("$v")
	done
	report "ENVIRONMENT entries without a default" "${missing[@]}"
}

@test "man: EXIT STATUS lists 0, 1, 2 and the exec statuses" {
	local s missing=()
	for s in 0 1 2 126 127 128; do
		man_section 'EXIT STATUS' | grep -Eq "^\\.It $s( |\$)" || missing+=("$s")
	done
	report "exit statuses missing" "${missing[@]}"
}

@test "man: FILES names the state directory and its files" {
	local f missing=()
	for f in xray-seg- /lock .open .done .sending .live /stack.; do
		man_section FILES | grep -Fq -- "$f" || missing+=("$f")
	done
	report "FILES does not mention" "${missing[@]}"
}

@test "man: EXAMPLES are valid shell" {
	local ex
	ex=$(man_examples)
	[[ -n $ex ]] || fail "no literal blocks in EXAMPLES"
	run bash -n <<<"$ex"
	assert_success
	assert_output ''
}

@test "man: EXAMPLES use only real commands and options" {
	load_cli
	local call c w bad=()
	while IFS= read -r call; do
		read -ra w <<<"$call"
		c=${w[1]}
		if [[ -z ${OPTS[$c]+set} ]]; then
			bad+=("unknown command: $call")
			continue
		fi
		for w in "${w[@]:2}"; do
			[[ $w == --?* ]] || continue
			[[ " ${OPTS[$c]} " == *" ${w%%=*} "* ]] || bad+=("$c has no $w: $call")
		done
	done < <(man_examples | grep -Eo 'xray-seg [a-z]+[^|;)"]*')
	report "EXAMPLES misuse xray-seg" "${bad[@]}"
}

# ============================================================================
# completions: syntax

@test "completions: bash -n" {
	run bash -n "$COMP_BASH"
	assert_success
	assert_output ''
}

@test "completions: shellcheck -s bash" {
	need shellcheck
	run shellcheck -s bash "$COMP_BASH"
	assert_success
	assert_output ''
}

@test "completions: zsh -n" {
	need zsh
	run zsh -n "$COMP_ZSH"
	assert_success
	assert_output ''
	run head -n 1 "$COMP_ZSH"
	assert_output '#compdef xray-seg'
}

@test "completions: fish -n" {
	need fish
	run fish -n "$COMP_FISH"
	assert_success
	assert_output ''
}

# ============================================================================
# completions: every command and option, in each file

@test "completions: every command and long option appears in each file" {
	load_cli
	local c o f all="$GLOBAL_OPTS ${OPTS[*]}" missing=()
	for f in "$COMP_BASH" "$COMP_ZSH" "$COMP_FISH"; do
		for c in "${COMMANDS[@]}"; do
			grep -Eq "(^|[^a-z-])$c([^a-z-]|\$)" "$f" || missing+=("${f##*/}: $c")
		done
		for o in $all; do
			case $f in
			*.fish) grep -Eq -- "-l ${o#--}( |\$)" "$f" || missing+=("${f##*/}: $o") ;;
			*) grep -Eq -- "(^|[^a-z-])$o([^a-z-]|\$)" "$f" || missing+=("${f##*/}: $o") ;;
			esac
		done
	done
	report "missing from the completion files" "${missing[@]}"
}

@test "completions: bash offers exactly the commands, then each command's options" {
	load_cli
	run -0 bash_complete xray-seg ''
	same_set "xray-seg <TAB>" "${COMMANDS[*]}" "$output"
	run -0 bash_complete xray-seg -
	same_set "xray-seg -<TAB>" "$GLOBAL_OPTS -h -V" "$output"
	local c
	for c in "${COMMANDS[@]}"; do
		run -0 bash_complete xray-seg "$c" --
		same_set "xray-seg $c --<TAB>" "${OPTS[$c]}" "$(grep -vx -- -- <<<"$output")"
	done
}

@test "completions: bash completes 'be' to begin and 'begin --na' to --namespace" {
	run -0 bash_complete xray-seg be
	assert_output begin
	run -0 bash_complete xray-seg begin --na
	assert_output --namespace
}

@test "completions: bash completes --namespace values and stops options at the first operand" {
	run -0 bash_complete xray-seg begin --namespace ''
	same_set "begin --namespace <TAB>" "aws remote" "$output"
	run -0 bash_complete xray-seg exec --namespace = r
	assert_output remote
	run -0 bash_complete xray-seg begin --parent 0123456789abcdef --na
	assert_output --namespace
	run -0 bash_complete xray-seg begin name --
	assert_output ''
	run -0 bash_complete xray-seg help he
	same_set "help he<TAB>" "header help" "$output"
}

@test "completions: bash completes a command after exec and after exec --" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\n' >"$BATS_TEST_TMPDIR/bin/xsdocs-fake-cmd"
	chmod +x "$BATS_TEST_TMPDIR/bin/xsdocs-fake-cmd"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
	run -0 bash_complete xray-seg exec xsdocs-fake
	assert_line xsdocs-fake-cmd
	run -0 bash_complete xray-seg exec --name x -- xsdocs-fake
	assert_line xsdocs-fake-cmd
}

@test "completions: fish offers exactly the commands, then each command's options" {
	need fish
	load_cli
	run -0 fish_complete 'xray-seg '
	same_set "xray-seg <TAB>" "${COMMANDS[*]}" "$output"
	local c
	for c in "${COMMANDS[@]}"; do
		run -0 fish_complete "xray-seg $c --"
		same_set "xray-seg $c --<TAB>" "${OPTS[$c]}" "$output"
	done
	run -0 fish_complete 'xray-seg be'
	assert_output begin
	run -0 fish_complete 'xray-seg begin --namespace '
	same_set "begin --namespace <TAB>" "aws remote" "$output"
	run -0 fish_complete 'xray-seg begin name --'
	assert_output ''
}

@test "completions: zsh has an _arguments arm per command with exactly its options" {
	load_cli
	local c arm o got bad=()
	for c in "${COMMANDS[@]}"; do
		grep -q "'$c:" "$COMP_ZSH" || bad+=("$c is not in the command list")
		arm=$(zsh_arm "$c")
		if [[ $arm != *_arguments* ]]; then
			bad+=("no _arguments arm for $c")
			continue
		fi
		# --help comes from the shared $common specs.
		got=$(grep -Eo -- "--[a-z][a-z0-9-]*" <<<"$arm" | sort -u | tr '\n' ' ')
		# shellcheck disable=SC2016 # the literal zsh parameter
		[[ $arm == *'$common'* ]] && got+=" --help"
		want=${OPTS[$c]}
		[[ $(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort -u) == \
			"$(tr ' ' '\n' <<<"$got" | sed '/^$/d' | sort -u)" ]] ||
			bad+=("$c: want [$want], zsh has [$got]")
	done
	grep -q -- "--help" <<<"$(grep -A2 '^common=' "$COMP_ZSH")" || bad+=("\$common lacks --help")
	report "zsh completion out of date" "${bad[@]}"
}

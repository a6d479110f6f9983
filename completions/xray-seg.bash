# bash completion for xray-seg(1)
# Install as $(PREFIX)/share/bash-completion/completions/xray-seg.

# _xray_seg_opts CMD: print the long options of CMD, then the ones that take a value after a '|'.
_xray_seg_opts()
{
	case $1 in
	begin)    echo '--parent --namespace --start-time --in-progress --export --trace-id-from' \
	               '--sample-rate --service-version --strict --help | --parent --namespace --start-time' \
	               '--trace-id-from --sample-rate --service-version' ;;
	end)      echo '--error --fault --throttle --cause --exit-code --http-status --end-time --inside --export' \
	               '--transport --strict --help | --cause --exit-code --http-status --end-time --transport' ;;
	annotate) echo '--id --number --bool --strict --help | --id' ;;
	metadata) echo '--id --namespace --strict --help | --id --namespace' ;;
	send)     echo '--all --transport --help | --transport' ;;
	status)   echo '--all --help |' ;;
	exec)     echo '--name --namespace --aws --no-aws --in-progress --trace-id-from --sample-rate' \
	               '--service-version --transport --strict --help -- | --name --namespace --trace-id-from' \
	               '--sample-rate --service-version --transport' ;;
	context)  echo '--from-headers --from-env --help | --from-headers' ;;
	guard)    echo '--deadline --margin --help | --deadline --margin' ;;
	exception) echo '--id --type --exit-code --frame --strict --help | --id --type --exit-code --frame' ;;
	listen)   echo '--port --json --count --idle --help | --port --count --idle' ;;
	header | errtrap | help) echo '--help |' ;;
	esac
}

_xray_seg()
{
	local commands='begin end annotate metadata send status exec header context guard exception errtrap'
	commands+=' listen help'
	local cur=${COMP_WORDS[COMP_CWORD]} cmd='' i=1 w opts valued operand=0 value=''
	COMPREPLY=()

	# The command is the first word after any global options.
	while ((i < COMP_CWORD)); do
		case ${COMP_WORDS[i]} in
		-*) ((i++)) ;;
		*) cmd=${COMP_WORDS[i]}; ((i++)); break ;;
		esac
	done
	if [[ -z $cmd ]]; then
		case $cur in
		-*) mapfile -t COMPREPLY < <(compgen -W '-h --help -V --version' -- "$cur") ;;
		*) mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur") ;;
		esac
		return
	fi
	opts=$(_xray_seg_opts "$cmd")
	valued=" ${opts#*|} "
	opts=${opts%%|*}

	# Walk the words before the cursor: option values, and the first operand (options stop there).
	while ((i < COMP_CWORD)); do
		w=${COMP_WORDS[i]}
		if [[ -n $value ]]; then
			[[ $w == = ]] || value=''
		elif [[ $w == -- ]]; then
			((i++)); operand=1; break
		elif [[ $w == -* ]]; then
			[[ $valued == *" $w "* ]] && value=$w
		else
			operand=1; break
		fi
		((i++))
	done

	if ((!operand)); then
		# "--opt value" and "--opt=value" (bash splits the word at '=').
		[[ $cur == = ]] && cur=''
		if [[ -n $value ]]; then
			if [[ $value == --namespace && $cmd != metadata ]]; then
				mapfile -t COMPREPLY < <(compgen -W 'aws remote' -- "$cur")
			elif [[ $value == --transport ]]; then
				mapfile -t COMPREPLY < <(compgen -W 'udp api stdout' -- "$cur")
			elif [[ $value == --from-headers ]]; then
				compopt -o filenames 2>/dev/null
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			return
		fi
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
			return
		fi
	fi
	case $cmd in
	help)
		((i == COMP_CWORD)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur") ;;
	exec)
		if ((i >= COMP_CWORD)); then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		elif declare -F _command_offset >/dev/null; then
			_command_offset "$i"
		else
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		;;
	esac
	return 0
}
complete -F _xray_seg xray-seg

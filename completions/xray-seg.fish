# fish completion for xray-seg(1)
# Install as $(PREFIX)/share/fish/vendor_completions.d/xray-seg.fish.

set -l commands begin end annotate metadata send status exec header context guard exception errtrap listen help

# True while the command line, after the subcommand, has reached no operand and no "--":
# options come before operands.
function __xray_seg_in_options
    set -l words (commandline -opc)
    set -e words[1..2]
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
        else if test "$w" = --
            return 1
        else if contains -- $w --parent --namespace --cause --exit-code --http-status --id --name --port --count --idle \
                --trace-id-from --sample-rate --service-version --transport --start-time --end-time \
                --from-headers --deadline --margin --type --frame
            set skip 1
        else if not string match -q -- '-*' $w
            return 1
        end
    end
end

# Complete the command given to exec, and its arguments, with that command's own completions.
function __xray_seg_exec_complete
    set -l words (commandline -opc) (commandline -ct)
    set -e words[1..2]
    while set -q words[2]
        switch $words[1]
            case --
                set -e words[1]
                complete --do-complete="$words"
                return
            case --name --namespace --trace-id-from --sample-rate --service-version --transport
                set -e words[1..2]
            case '-*'
                set -e words[1]
            case '*'
                break
        end
    end
    # Still at an option or its value: those come from the rules below.
    set -q words[1]; or return
    string match -q -- '-*' $words[1]; and return
    complete --do-complete="$words"
end

complete -c xray-seg -f

# Global options and subcommands
complete -c xray-seg -n __fish_use_subcommand -s h -l help -d 'Show the command summary'
complete -c xray-seg -n __fish_use_subcommand -s V -l version -d 'Show the version'
complete -c xray-seg -n __fish_use_subcommand -a begin -d 'Start a subsegment and print its ID'
complete -c xray-seg -n __fish_use_subcommand -a end -d 'End a subsegment and send it'
complete -c xray-seg -n __fish_use_subcommand -a annotate -d 'Add an indexed annotation'
complete -c xray-seg -n __fish_use_subcommand -a metadata -d 'Attach a JSON value'
complete -c xray-seg -n __fish_use_subcommand -a send -d 'Deliver documents kept for later'
complete -c xray-seg -n __fish_use_subcommand -a status -d 'List what the trace has open and kept'
complete -c xray-seg -n __fish_use_subcommand -a exec -d 'Run a command inside a subsegment (outside Lambda, a trace)'
complete -c xray-seg -n __fish_use_subcommand -a header -d 'Print the trace header'
complete -c xray-seg -n __fish_use_subcommand -a context -d "Print shell code exporting an invocation's trace context"
complete -c xray-seg -n __fish_use_subcommand -a guard -d 'Just before the deadline, end what is still open as timeouts'
complete -c xray-seg -n __fish_use_subcommand -a exception -d 'Record an exception with its stack'
complete -c xray-seg -n __fish_use_subcommand -a errtrap -d 'Print a bash ERR trap recording failing commands'
complete -c xray-seg -n __fish_use_subcommand -a listen -d 'Show the documents arriving on a local UDP port'
complete -c xray-seg -n __fish_use_subcommand -a help -d 'Show the usage of a command'

# Options every command takes
complete -c xray-seg -n "__fish_seen_subcommand_from $commands; and __xray_seg_in_options" -s h -l help -d 'Show the usage of this command'

# begin
complete -c xray-seg -n '__fish_seen_subcommand_from begin; and __xray_seg_in_options' -l parent -x -d 'Parent subsegment ID'
complete -c xray-seg -n '__fish_seen_subcommand_from begin exec; and __xray_seg_in_options' -l namespace -x -a 'aws remote' -d 'Downstream service kind'
complete -c xray-seg -n '__fish_seen_subcommand_from begin; and __xray_seg_in_options' -l start-time -x -d 'Started at this time (epoch s, ms, us or ns, or RFC 3339)'
complete -c xray-seg -n '__fish_seen_subcommand_from begin exec; and __xray_seg_in_options' -l in-progress -d 'Send an in-progress document at the start'
complete -c xray-seg -n '__fish_seen_subcommand_from begin; and __xray_seg_in_options' -l export -d 'Print shell code exporting a context inside it (eval it)'

# begin and exec: a trace started here
complete -c xray-seg -n '__fish_seen_subcommand_from begin exec; and __xray_seg_in_options' -l trace-id-from -x -d 'Derive the trace ID from this string'
complete -c xray-seg -n '__fish_seen_subcommand_from begin exec; and __xray_seg_in_options' -l sample-rate -x -d 'Share of traces recorded (0-1)'
complete -c xray-seg -n '__fish_seen_subcommand_from begin exec; and __xray_seg_in_options' -l service-version -x -d 'Service version of the trace'

# end, send and exec: how documents are delivered
complete -c xray-seg -n '__fish_seen_subcommand_from end send exec; and __xray_seg_in_options' -l transport -x -a 'udp\t"The X-Ray daemon (default)" api\t"The X-Ray API (PutTraceSegments)" stdout\t"One JSON line per document"' -d 'How documents are delivered'

# end
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l error -d 'Flag a client error'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l fault -d 'Flag a server error'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l throttle -d 'Flag throttling (implies --error)'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l cause -x -d 'Record an exception with this message'
complete -c xray-seg -n '__fish_seen_subcommand_from end exception; and __xray_seg_in_options' -l exit-code -x -d 'Record an exit status (0-255)'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l http-status -x -d 'Record an HTTP status (100-599)'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l end-time -x -d 'Ended at this time (epoch s, ms, us or ns, or RFC 3339)'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l inside -d 'Also end what was begun inside it and is still open'
complete -c xray-seg -n '__fish_seen_subcommand_from end; and __xray_seg_in_options' -l export -d 'Print shell code restoring the context around it (eval it)'

# begin, end, annotate, metadata, exception and exec: names and values
complete -c xray-seg -n '__fish_seen_subcommand_from begin end annotate metadata exception exec; and __xray_seg_in_options' -l strict -d 'Refuse (exit 2) what X-Ray would not take'

# send
complete -c xray-seg -n '__fish_seen_subcommand_from send; and __xray_seg_in_options' -l all -d 'Deliver what every trace in the state directory keeps'

# status
complete -c xray-seg -n '__fish_seen_subcommand_from status; and __xray_seg_in_options' -l all -d 'List every trace in the state directory'

# annotate
complete -c xray-seg -n '__fish_seen_subcommand_from annotate metadata exception; and __xray_seg_in_options' -l id -x -d 'Target this open subsegment'
complete -c xray-seg -n '__fish_seen_subcommand_from annotate; and __xray_seg_in_options' -l number -d 'Store the value as a number'
complete -c xray-seg -n '__fish_seen_subcommand_from annotate; and __xray_seg_in_options' -l bool -d 'Store the value as a boolean'

# metadata
complete -c xray-seg -n '__fish_seen_subcommand_from metadata; and __xray_seg_in_options' -l namespace -x -d 'Metadata namespace (default: default)'

# exec: options, then the command and its own completions
complete -c xray-seg -n '__fish_seen_subcommand_from exec; and __xray_seg_in_options' -l name -x -d 'Subsegment name'
complete -c xray-seg -n '__fish_seen_subcommand_from exec; and __xray_seg_in_options' -l aws -d 'Read the command as an aws CLI call'
complete -c xray-seg -n '__fish_seen_subcommand_from exec; and __xray_seg_in_options' -l no-aws -d 'Do not read the command as an aws CLI call'
complete -c xray-seg -n '__fish_seen_subcommand_from exec' -x -a '(__xray_seg_exec_complete)'

# context
complete -c xray-seg -n '__fish_seen_subcommand_from context; and __xray_seg_in_options' -l from-headers -r -F -d 'From the Runtime API response headers curl -D wrote'
complete -c xray-seg -n '__fish_seen_subcommand_from context; and __xray_seg_in_options' -l from-env -d 'From AWS_LAMBDA_TRACE_ID, else TRACEPARENT'

# guard
complete -c xray-seg -n '__fish_seen_subcommand_from guard; and __xray_seg_in_options' -l deadline -x -d 'Deadline in epoch ms (default: XRAY_SEG_DEADLINE_MS)'
complete -c xray-seg -n '__fish_seen_subcommand_from guard; and __xray_seg_in_options' -l margin -x -d 'Act this many ms before it (default 500)'

# exception (--id and --exit-code above)
complete -c xray-seg -n '__fish_seen_subcommand_from exception; and __xray_seg_in_options' -l type -x -d "The exception's type"
complete -c xray-seg -n '__fish_seen_subcommand_from exception; and __xray_seg_in_options' -l frame -x -d 'A stack frame PATH:LINE:LABEL, innermost first (repeatable)'

# listen
complete -c xray-seg -n '__fish_seen_subcommand_from listen; and __xray_seg_in_options' -l port -x -d 'UDP port on 127.0.0.1 (default 2000, 0: any free one)'
complete -c xray-seg -n '__fish_seen_subcommand_from listen; and __xray_seg_in_options' -l json -d 'Print each document as one JSON line'
complete -c xray-seg -n '__fish_seen_subcommand_from listen; and __xray_seg_in_options' -l count -x -d 'Stop after this many documents'
complete -c xray-seg -n '__fish_seen_subcommand_from listen; and __xray_seg_in_options' -l idle -x -d 'Stop after this many seconds without a datagram'

# help
complete -c xray-seg -n "__fish_seen_subcommand_from help; and not __fish_seen_subcommand_from (string match -v help -- $commands)" -x -a "$commands"

#!/usr/bin/env bash
# bench/exec-parts.sh: where the time of `xray-seg exec -- true` goes. Puts
# uprobes on xray-seg's functions, records them with the kernel's process
# events (perf, as root; the binary needs its debug information, as the
# default -g build has), runs exec many times and prints the median of each
# part. The probes cost a few microseconds each, so the parts add up to a
# little more than the benchmark's figure.
#
# usage: bench/exec-parts.sh [-n RUNS] [-t DIR]   (DIR: where the state lives)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
X=$top/xray-seg
runs=300
base=${TMPDIR:-/tmp}
while getopts n:t: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	t) base=$OPTARG ;;
	*) echo "usage: bench/exec-parts.sh [-n RUNS] [-t DIR]" >&2; exit 2 ;;
	esac
done
command -v perf >/dev/null || { echo "exec-parts: perf is missing" >&2; exit 1; }
[ -x "$X" ] || { echo "exec-parts: build xray-seg first (make)" >&2; exit 1; }

work=$(mktemp -d -p "$base")
sink=
cleanup() {
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	perf probe -q -d 'xsparts:*' 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
python3 "$top/test/helpers/udp-sink.py" --out /dev/null --port-file "$work/port" --idle 600 --timeout 3600 &
sink=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:$(cat "$work/port")
_X_AMZN_TRACE_ID="Root=1-$(printf %08x "$(date +%s)")-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n');Parent=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n');Sampled=1"
export AWS_XRAY_DAEMON_ADDRESS _X_AMZN_TRACE_ID
export XRAY_SEG_STATE_DIR=$work/state
"$X" begin outer >/dev/null # exec's subsegment is a child of an open one, as in the benchmark

probes=(main session_trace state_close run_child spawn exec_end subseg_load emit_open state_del)
for f in "${probes[@]}"; do
	perf probe -q -x "$X" -a "xsparts:$f=$f" || { echo "exec-parts: cannot probe $f" >&2; exit 1; }
done
# shellcheck disable=SC2016 # $(seq) is for the loop script
printf 'for i in $(seq %d); do %q exec -- /bin/true; done\n' "$runs" "$X" >"$work/loop.sh"
perf record -q -a -o "$work/perf.data" -e 'xsparts:*' -e sched:sched_process_exec \
	-e sched:sched_process_fork -e syscalls:sys_exit_wait4 -e syscalls:sys_enter_exit_group \
	-- bash "$work/loop.sh" 2>/dev/null
perf script -i "$work/perf.data" 2>/dev/null >"$work/events"

echo "xray-seg exec -- /bin/true, $runs runs, state on $(df --output=fstype "$work" | tail -n 1) ($base); medians in ms:"
python3 - "$work/events" <<'PY'
import re, statistics, sys
ev = {}
child = {}
for line in open(sys.argv[1]):
    m = re.match(r'\s*(\S+)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+\S+?:(\S+):\s*(.*)', line)
    if not m:
        continue
    comm, pid, t, name, rest = m.group(1), int(m.group(2)), float(m.group(3)) * 1e3, m.group(4), m.group(5)
    if name == 'sched_process_fork' and comm == 'xray-seg':
        child[pid] = int(re.search(r'child_pid=(\d+)', rest).group(1))
    ev.setdefault(pid, []).append((name, t))
def first(l, n):
    return next(t for k, t in l if k == n)
def last(l, n):
    return [t for k, t in l if k == n][-1]
parts = [
    ("start: execve to main (kernel exec, static glibc start-up)", lambda p, c: first(p, 'main') - first(p, 'sched_process_exec')),
    ("options, session, state directory path", lambda p, c: first(p, 'session_trace') - first(p, 'main')),
    ("begin: lock the trace, read the stack, create the .open file", lambda p, c: first(p, 'state_close') - first(p, 'session_trace')),
    ("trace header, child environment, signal handlers", lambda p, c: first(p, 'spawn') - first(p, 'state_close')),
    ("posix_spawn: vfork, the child resets 64 signals, execve", lambda p, c: first(c, 'sched_process_exec') - first(p, 'spawn')),
    ("the child, /bin/true, runs", lambda p, c: first(c, 'sys_enter_exit_group') - first(c, 'sched_process_exec')),
    ("child exit to wait4 return", lambda p, c: first(p, 'sys_exit_wait4') - first(c, 'sys_enter_exit_group')),
    ("end: lock the trace again", lambda p, c: first(p, 'subseg_load') - first(p, 'sys_exit_wait4')),
    ("end: read and parse the .open file, finish, serialise", lambda p, c: first(p, 'emit_open') - first(p, 'subseg_load')),
    ("end: socket, connect, send the datagram", lambda p, c: first(p, 'state_del') - first(p, 'emit_open')),
    ("end: unlink the .open file, tidy check, close, exit", lambda p, c: first(p, 'sys_enter_exit_group') - first(p, 'state_del')),
    ("total: execve to exit", lambda p, c: first(p, 'sys_enter_exit_group') - first(p, 'sched_process_exec')),
]
rows = {n: [] for n, _ in parts}
for pid, c in child.items():
    p, cl = ev.get(pid, []), ev.get(c, [])
    try:
        vals = [(n, f(p, cl)) for n, f in parts]
    except StopIteration:
        continue
    for n, v in vals:
        rows[n].append(v)
for n, _ in parts:
    v = rows[n]
    if v:
        print("  %-62s %6.3f" % (n, statistics.median(v)))
print("  (%d runs measured)" % len(rows[parts[0][0]]))
PY

#!/bin/sh
# Group commit: while handlers stream through, the end of one whose
# neighbours still run does not get a flush of its own; the next flush,
# 100 ms after the last, takes them along. Timed with strace on the
# committer's fsync (directories) and fdatasync (LMDB's commit) calls
# (the committer, a child of the daemon, makes every flush durable): a
# flush is the fsyncs up to and including one fdatasync. Skipped without
# strace. And a job dropped into an idle daemon is claimed in the pass
# that accepts it, before that pass's flush: no fsync or commit, in the
# daemon or its committer, stands between the drop and the handler's
# start.
. "$(dirname "$0")/lib.sh"
if ! command -v strace >/dev/null 2>&1; then
	echo "1..0 # SKIP strace is not installed"
	exit 0
fi
plan 8
# Eight handlers of 30 ms each: one ends every few ms, each while others
# still run and nothing else is waiting, the case grouping is for.
WORKERS=8 CONCURRENCY=8 TEST_COMMAND="/bin/sleep, '0.03'" setup
start_daemon
wait_for 10 committer_pid || bail "the daemon has no committer"
CPID=$(committer_pid)
strace -q -ttt -e trace=fsync,fdatasync -o "$T/strace" -p "$CPID" 2>"$T/strace.err" &
sp=$!
EXTRA_PIDS="$EXTRA_PIDS $sp"
# Attached once the tracee's status says so.
wait_for 10 sh -c "grep -q '^TracerPid:[[:space:]]*$sp\$' /proc/$CPID/status"
ok $? "strace is attached to the committer"

N=200
drop_burst "$N" g 100
wait_for 60 count_is completed "$N"
ok $? "$N jobs completed"
# The last outcomes are committed within a flush period.
committed() {
	[ "$(cli list --state completed --json | jq length)" -eq "$1" ]
}
wait_for 5 committed "$N"
ok $? "their outcomes are committed"
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null
# Each flush's start, in ms: its first fsync after the last fdatasync.
awk '
	/ fs(ync|datasync)\(/ { if (!open) { printf "%.3f\n", $1 * 1000; open = 1 } }
	/ fdatasync\(/ { open = 0 }
' "$T/strace" >"$T/starts"
flushes=$(wc -l <"$T/starts" | tr -d ' ')
# Before grouping waited for running handlers, most ends found others
# running and nothing queued, and flushed at once: close to one flush per
# job. The timing below is the sharper test.
[ "$flushes" -gt 0 ] && [ "$flushes" -lt "$N" ]
ok $? "$N jobs took $flushes flushes, fewer than jobs"
# Flushes closer than 5 ms: only where no handler ran (the burst's end).
close=$(awk 'NR > 1 && $1 - prev < 5 { n++ } { prev = $1 } END { print n + 0 }' "$T/starts")
[ "$close" -le 3 ]
ok $? "no two flushes less than 5 ms apart while handlers ran ($close)"

# ---- an idle drop: accept, claim, then one flush ----
# Both processes, in one trace: each line starts with its pid.
strace -q -e trace=renameat2,fsync,fdatasync -o "$T/strace2" -p "$DPID" -p "$CPID" 2>>"$T/strace.err" &
sp=$!
EXTRA_PIDS="$EXTRA_PIDS $sp"
wait_for 10 sh -c "grep -q '^TracerPid:[[:space:]]*$sp\$' /proc/$DPID/status &&
	grep -q '^TracerPid:[[:space:]]*$sp\$' /proc/$CPID/status"
drop idle.yaml vidle test
wait_for 10 count_is completed $((N + 1))
ok $? "a job dropped into the idle daemon completes"
wait_for 5 committed $((N + 1))
kill "$sp" 2>/dev/null
wait "$sp" 2>/dev/null
# The calls from the acceptance's rename (within pending) to the claim's.
order=$(awk '
	{ sub(/^[0-9]+ +/, "") }
	/renameat2\(.*"idle\.yaml"/ { on = 1 }
	on && /^(fsync|fdatasync)\(/ { printf "%s ", substr($0, 1, index($0, "(") - 1) }
	on && /renameat2\(.*"idle\..*\.yaml", [0-9]+, "idle\..*\.yaml"/ && !/"idle\.yaml"/ { print "claim"; exit }
' "$T/strace2")
is "$order" "claim" "it is claimed before any fsync or commit of its acceptance"
grep -q "^$CPID .*fdatasync(" "$T/strace2"
ok $? "the trace has the committer's commit of it"

stop_daemon
done_testing

#!/bin/sh
# Files present before the daemon starts are processed; the same name
# dropped twice (a nightly batch) gives two distinct completed jobs; a
# second daemon on the same spool is refused, naming the first one's pid.
. "$(dirname "$0")/lib.sh"
plan 11
SETTLE=200ms setup
for i in 1 2 3 4 5; do job "$T/spool/pending/early$i.yaml" "v$i" test; done
start_daemon
wait_for 10 count_is completed 5
ok $? "five files present at start completed"

"$SYNCSPOOLD" -c "$T/syncspool.yaml" 2>"$T/second.err" &
p2=$!
EXTRA_PIDS=$p2
wait_for 5 sh -c "! kill -0 $p2"
ok $? "a second daemon exits at once"
wait "$p2"
rc=$?
is "$rc" 75 "with EX_TEMPFAIL"
grep -q "pid $DPID" "$T/second.err"; ok $? "naming the running one's pid ($(cat "$T/second.err"))"
kill -0 "$DPID"; ok $? "the first one is unharmed"

drop nightly-square.yaml v9 test
wait_for 10 count_is completed 6
drop nightly-square.yaml v9 test
wait_for 10 count_is completed 7
ok $? "the same name dropped twice completes twice"
is "$(ls "$T/spool/completed" | grep -c '^nightly-square\.')" 2 "as two distinct jobs"
ids=$(ls "$T/spool/completed" | grep '^nightly-square\.' | sed 's/\.yaml$//')
n=0
for id in $ids; do
	wait_event "$id" completed && n=$((n + 1))
done
is "$n" 2 "each with its own history"
stop_daemon

# A spool anyone may write without the sticky bit is refused, and says why.
chmod 0777 "$T/spool/pending"
"$SYNCSPOOLD" -c "$T/syncspool.yaml" 2>"$T/refused.err"
is "$?" 78 "a world-writable pending without the sticky bit is refused"
grep -q "pending is writable by everyone without the sticky bit" "$T/refused.err"; ok $? "with the reason ($(cat "$T/refused.err"))"
chmod 1777 "$T/spool/pending"
start_daemon
kill -0 "$DPID"; ok $? "with the sticky bit it starts"
stop_daemon
done_testing

#!/bin/sh
# kill -9 of the daemon while a handler runs, then a restart: the job
# completes exactly once, its runs never overlap, and history says what
# happened (recovered: the handler outlived the daemon; interrupted: it
# did not).
. "$(dirname "$0")/lib.sh"
plan 10
setup
start_daemon

# No two runs of one job overlap: per job, starts and ends alternate.
no_overlap() {
	awk '{ if ($1 == "start") { if (open[$4]) bad = 1; open[$4] = 1 }
	       else open[$4] = 0 } END { exit bad }' "$T/stamps"
}

drop survivor.yaml v1 test 'options: {sleep: 2}'
wait_for 10 count_is processing 1
id=$(job_id_in processing survivor)
wait_for 5 test -f "$T/runs/$id.pid"
hpid=$(cat "$T/runs/$id.pid")
# Once it has written its output line: a handler that writes to its
# stdout after its daemon died gets SIGPIPE (syncspoold(8), INTERNALS).
wait_for 5 grep -q "handler: job $id" "$T/spool/logs/$id.log"
# History lags the files by up to a flush period while handlers run: a
# daemon killed sooner loses the events it had not committed yet (never
# a job). What is checked here comes after the start: wait for it.
wait_event "$id" started
kill9_daemon
kill -0 "$hpid"; ok $? "the handler outlives the daemon"
start_daemon
wait_for 20 count_is completed 1
ok $? "after a restart the job completes"
is "$(count pending)$(count processing)$(count failed)" "000" "exactly one job, in completed"
no_overlap; ok $? "its runs never overlapped"
wait_event "$id" completed
ev=$(cli history --job "$id" --json | jq -r 'reverse | map(.event) | join(" ")')
case $ev in *"started recovered interrupted started completed") ok 0 "history: $ev" ;;
*) ok 1 "history: $ev" ;; esac

drop victim.yaml v2 test 'options: {sleep: 30}'
wait_for 10 count_is processing 1
id=$(job_id_in processing victim)
wait_for 5 test -f "$T/runs/$id.pid"
hpid=$(cat "$T/runs/$id.pid")
wait_event "$id" started
kill9_daemon
kill -KILL "$hpid"
wait_for 5 sh -c "! kill -0 $hpid"
# It died without stamping its end; the test knows it is dead.
echo "end v2 test $id killed" >>"$T/stamps"
# Let the next run be quick: the job file is what the handler reads.
sed -i 's/sleep: 30/sleep: 0/' "$T/spool/processing/$id.yaml"
start_daemon
wait_for 20 count_is completed 2
ok $? "a job whose handler died with the daemon is requeued and completes"
wait_event "$id" completed
ev=$(cli history --job "$id" --json | jq -r 'reverse | map(.event) | join(" ")')
case $ev in *"started interrupted started completed") ok 0 "history: $ev" ;;
*) ok 1 "history: $ev" ;; esac
is "$(cli history --job "$id" --json | jq -r '.[0].attempt')" 1 "an interrupted attempt is not counted"
no_overlap; ok $? "no overlapping runs"
is "$(count pending)$(count processing)$(count failed)" "000" "nothing left behind"
stop_daemon
done_testing

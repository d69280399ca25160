#!/bin/sh
# Retention prunes completed files (with their logs) and history past
# their periods, and nothing else: not failed files still within theirs,
# not pending or paused jobs.
. "$(dirname "$0")/lib.sh"
plan 9
RETENTION='{completed: 1s, failed: 1h, history: 1h}' setup
start_daemon

drop done.yaml v1 test
drop broken.yaml v2 test 'options: {exit: 65}'
drop waiting.yaml v3 test 'not_before: 2099-01-01T00:00:00Z'
drop held.yaml v4 test 'not_before: 2099-01-01T00:00:00Z'
wait_for 10 count_is failed 1 && wait_for 10 count_is pending 2
hid=$(job_id_in pending held)
mv "$T/spool/pending/$hid.yaml" "$T/spool/paused/"
wait_for 10 sh -c "ls $T/spool/logs | grep -q '^done\.'"
did=$(ls "$T/spool/logs" | sed -n 's/^\(done\..*\)\.log$/\1/p')
wait_for 10 count_is completed 0
ok $? "the completed file is pruned after its retention"
[ ! -e "$T/spool/logs/$did.log" ]; ok $? "with its log"
is "$(count failed)$(count pending)$(count paused)" "111" "failed, pending and paused files are untouched"
is "$(cli history --job "$did" --json | jq -r '.[0].event')" completed "its history is kept (history: 1h)"
is "$(cli status test --venue v1 --json | jq -r '.counts.completed')" 0 "status no longer counts it"

# Now history past 1 s goes too; job files within their retention stay.
RETENTION='{completed: 1h, failed: 1h, history: 1s}' write_config
kill -HUP "$DPID"
wait_for 5 grep -q 'event=reloaded' "$T/daemon.log"
wait_for 10 sh -c "[ \"\$($SYNCSPOOL -c $T/syncspool.yaml history test --venue v1 --json | jq length)\" = 0 ]"
ok $? "history past its retention is pruned"
fid=$(job_id_in failed broken)
[ -f "$T/spool/failed/$fid.yaml" ]; ok $? "the failed file is still there"
drop after.yaml v5 test
wait_for 10 count_is completed 1
ok $? "the daemon goes on"
is "$(count pending)$(count paused)" "11" "pending and paused still untouched"
stop_daemon
done_testing

#!/bin/sh
# Retention prunes completed and failed files (with their logs) and
# history past their periods, and nothing else: not files still within
# theirs, not pending or paused jobs, not files it never recorded; and a
# history shorter than the files' periods does not keep files forever.
. "$(dirname "$0")/lib.sh"
plan 13
RETENTION='{completed: 1s, failed: 1h, history: 1h}' setup
start_daemon

# Put in completed and failed by hand, never recorded, and old.
byhand=byhand.20000101T000000Z.0bad.yaml
echo "venue_id: v0" >"$T/spool/completed/$byhand"
echo "notes" >"$T/spool/failed/notes.txt"
touch -d 2000-01-01 "$T/spool/completed/$byhand" "$T/spool/failed/notes.txt"
unrecorded() { [ -f "$T/spool/completed/$byhand" ] && [ -f "$T/spool/failed/notes.txt" ]; }

drop done.yaml v1 test
drop broken.yaml v2 test 'options: {exit: 65}'
drop waiting.yaml v3 test 'not_before: 2099-01-01T00:00:00Z'
drop held.yaml v4 test 'not_before: 2099-01-01T00:00:00Z'
wait_for 10 count_is failed 2 && wait_for 10 count_is pending 2
hid=$(job_id_in pending held)
mv "$T/spool/pending/$hid.yaml" "$T/spool/paused/"
wait_for 10 sh -c "ls $T/spool/logs | grep -q '^done\.'"
did=$(ls "$T/spool/logs" | sed -n 's/^\(done\..*\)\.log$/\1/p')
wait_for 10 count_is completed 1
ok $? "the completed file is pruned after its retention"
[ ! -e "$T/spool/logs/$did.log" ]; ok $? "with its log"
is "$(count failed)$(count pending)$(count paused)" "211" "failed, pending and paused files are untouched"
unrecorded; ok $? "files the daemon never recorded are untouched, however old"
is "$(cli history --job "$did" --json | jq -r '.[0].event')" completed "its history is kept (history: 1h)"
is "$(cli status test --venue v1 --json | jq -r '.counts.completed')" 0 "status no longer counts it"

# History 1 s, but failed files 3 s: the daemon finds the files to prune
# through their history, which it keeps as long as the files.
RETENTION='{completed: 1s, failed: 3s, history: 1s}' write_config
kill -HUP "$DPID"
wait_for 5 grep -q 'event=reloaded' "$T/daemon.log"
drop late.yaml v6 test 'options: {exit: 65}'
wait_for 10 sh -c "ls $T/spool/failed | grep -q '^late\.'"
lid=$(job_id_in failed late)
wait_event "$lid" failed
t0=$(now_ms)
wait_for 15 test ! -e "$T/spool/failed/$lid.yaml"
ok $? "a failed file is pruned after its retention, though history's is shorter"
held=$(($(now_ms) - t0))
[ "$held" -ge 2000 ]; ok $? "not before it ($held ms after it failed)"
[ ! -e "$T/spool/logs/$lid.log" ]; ok $? "with its log"
wait_for 10 sh -c "[ \"\$($SYNCSPOOL -c $T/syncspool.yaml history test --venue v1 --json | jq length)\" = 0 ]"
ok $? "history past its retention is pruned"
drop after.yaml v5 test
wait_for 10 grep -q 'event=completed job=after\.' "$T/daemon.log"
ok $? "the daemon goes on"
is "$(count pending)$(count paused)" "11" "pending and paused still untouched"
unrecorded; ok $? "and so are the files it never recorded"
stop_daemon
done_testing

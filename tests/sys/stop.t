#!/bin/sh
# Moves by hand mean what DESIGN.md says: a file moved out of processing
# kills its handler (and the handler's children) and stays where it was
# moved; pending -> paused holds a job; paused -> pending resumes it;
# failed -> pending retries it with attempts reset; a deleted pending file
# is dropped.
. "$(dirname "$0")/lib.sh"
plan 13
SETTLE=200ms setup
start_daemon

drop running.yaml v1 test 'options: {sleep: 60, grandchild: 1}'
wait_for 10 count_is processing 1
id=$(job_id_in processing running)
wait_for 5 test -f "$T/runs/$id.grandchild"
gc=$(cat "$T/runs/$id.grandchild")
hp=$(cat "$T/runs/$id.pid")
EXTRA_PIDS="$gc $hp"
mv "$T/spool/processing/$id.yaml" "$T/spool/paused/"
wait_for 5 sh -c "! kill -0 $hp && ! kill -0 $gc"
ok $? "moving it out of processing kills the handler and its child"
[ -f "$T/spool/paused/$id.yaml" ]; ok $? "the file stays in paused"
ev() { cli history --job "$1" --json | jq -r 'reverse | map(.event) | join(" ")'; }
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml history --job $id --json | grep -q cancelled"
is "$(cli history --job "$id" --json | jq -r '.[0] | .event + " " + (.signal|tostring) + " " + .error')" \
	"cancelled 15 stopped while running" "history: cancelled, with the signal that ended it"

sed -i 's/sleep: 60, grandchild: 1/sleep: 0/' "$T/spool/paused/$id.yaml"
mv "$T/spool/paused/$id.yaml" "$T/spool/pending/"
wait_for 10 count_is completed 1
ok $? "moved back to pending, it resumes and completes"
wait_event "$id" completed
is "$(ev "$id")" "queued started cancelled resumed started completed" "history: one cancel, then resumed"

# A job that waits (not_before in the future) is paused by a move.
drop later.yaml v2 test 'not_before: 2099-01-01T00:00:00Z'
wait_for 10 sh -c "ls $T/spool/pending | grep -q '^later\.'"
lid=$(job_id_in pending later)
mv "$T/spool/pending/$lid.yaml" "$T/spool/paused/"
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml history --job $lid --json | grep -q paused"
ok $? "pending -> paused records paused"
rm "$T/spool/paused/$lid.yaml"
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml history --job $lid --json | grep -q dropped"
ok $? "a deleted file is dropped, and history says so"

# Retry by hand: failed -> pending resets attempts.
drop bad.yaml v3 test 'options: {exit: 65}'
wait_for 10 count_is failed 1
fid=$(job_id_in failed bad)
sed -i 's/exit: 65/exit: 0/' "$T/spool/failed/$fid.yaml"
mv "$T/spool/failed/$fid.yaml" "$T/spool/pending/"
wait_for 10 count_is completed 2
ok $? "moved from failed to pending, it runs again and completes"
wait_event "$fid" completed
case $(ev "$fid") in *"failed retried started completed") ok 0 "history: retried" ;; *) ok 1 "history: $(ev "$fid")" ;; esac
is "$(cli history --job "$fid" --json | jq -r '.[0].attempt')" 1 "attempts were reset"
# Two paused jobs of one venue, moved out of paused one by one: the
# first move once freed the venue's queue group the second still used.
drop w1.yaml v9 test 'not_before: 2099-01-01T00:00:00Z'
drop w2.yaml v9 test 'not_before: 2099-01-01T00:00:00Z'
wait_for 10 sh -c "[ \$(ls $T/spool/pending | grep -c '^w[12]\.') -eq 2 ]"
cli stop test --venue v9 >/dev/null
wait_for 10 count_is paused 2
for f in "$T"/spool/paused/w*.yaml; do mv "$f" "$T/spool/failed/"; done
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml list --state failed --json | jq -e '[.[] | select(.venue_id == \"v9\")] | length == 2'"
ok $? "paused jobs of one venue moved out one by one are recorded"
kill -0 "$DPID"; ok $? "the daemon is alive"
is "$(count pending)$(count processing)" "00" "nothing left behind"
stop_daemon
done_testing

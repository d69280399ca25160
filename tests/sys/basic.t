#!/bin/sh
# A dropped job completes; its handler saw the contract's environment, its
# stdin was the job, only fds 0-2 were open; history and the log say so,
# and so does the daemon's stderr: one line per event, naming the job,
# its venue and its provider.
. "$(dirname "$0")/lib.sh"
plan 20
setup
start_daemon

drop venue1-test.yaml venue1 test 'sync_type: delta' 'options: {since: "2025-01-01", Page_Size: 50, result: "records: 42"}'
wait_for 10 count_is completed 1
ok $? "the job reaches completed"
is "$(count pending)$(count processing)$(count failed)" "000" "nothing left elsewhere"

id=$(job_id_in completed venue1-test)
case $id in
venue1-test.[0-9]*T[0-9]*Z.[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ok 0 "the id keeps the uploaded stem ($id)" ;;
*) ok 1 "the id keeps the uploaded stem ($id)" ;;
esac

envf=$T/runs/$id.1.env
grep -qx "SYNCSPOOL_JOB_ID=$id" "$envf"; ok $? "SYNCSPOOL_JOB_ID"
grep -qx "SYNCSPOOL_VENUE_ID=venue1" "$envf"; ok $? "SYNCSPOOL_VENUE_ID"
grep -qx "SYNCSPOOL_PROVIDER=test" "$envf"; ok $? "SYNCSPOOL_PROVIDER"
grep -qx "SYNCSPOOL_SYNC_TYPE=delta" "$envf"; ok $? "SYNCSPOOL_SYNC_TYPE"
grep -qx "SYNCSPOOL_ATTEMPT=1" "$envf"; ok $? "SYNCSPOOL_ATTEMPT"
grep -qx "SYNCSPOOL_OPTION_SINCE=2025-01-01" "$envf" &&
	grep -qx "SYNCSPOOL_OPTION_PAGE_SIZE=50" "$envf"; ok $? "options as SYNCSPOOL_OPTION_<KEY>"
grep -qx "SYNCSPOOL_JOB_FILE=$T/spool/processing/$id.yaml" "$envf" ||
	grep -q "^SYNCSPOOL_JOB_FILE=.*/processing/$id.yaml" "$envf"; ok $? "SYNCSPOOL_JOB_FILE names the claimed file"
grep -q "^SYNCSPOOL_RESULT_FILE=" "$envf"; ok $? "SYNCSPOOL_RESULT_FILE is set"
# The daemon's own environment does not leak in.
! grep -q "^ASAN_OPTIONS=\|^HOME=\|^SYNCSPOOLD=" "$envf"; ok $? "a clean environment"

cmp -s "$T/runs/$id.1.stdin" "$T/spool/completed/$id.yaml"; ok $? "stdin was the job file's content"
# ls lists its own fds: past 0-2 only the one it opened to read them.
drop fds.yaml venue1 lsfd
wait_for 10 count_is completed 2
fid=$(job_id_in completed fds)
is "$(grep -- ' -> ' "$T/spool/logs/$fid.log" | awk '$9 > 2 && $11 !~ "^/proc/"' | wc -l | tr -d ' ')" 0 "a handler inherits only fds 0-2"
grep -q ' 0 -> /memfd:' "$T/spool/logs/$fid.log"; ok $? "stdin is the daemon's sealed copy of the job"

grep -q "handler: job $id attempt 1" "$T/spool/logs/$id.log"; ok $? "handler output is in logs/<id>.log"
grep -q "=== attempt 1" "$T/spool/logs/$id.log"; ok $? "under a per-attempt header"

# The daemon's log: a line for each event in the job's history.
wait_event "$id" completed
nev=$(cli history --job "$id" --json | jq length)
is "$(grep -c "job=$id " "$T/daemon.log")" "$nev" "the daemon logs one line per event ($nev)"
is "$(grep "job=$id " "$T/daemon.log" | grep -c "^syncspoold: level=[a-z]* event=[a-z_]* job=$id venue=venue1 provider=test ")" "$nev" \
	"each names the event, the job, its venue and its provider"
grep -q "^syncspoold: level=info event=completed job=$id venue=venue1 provider=test attempt=1" "$T/daemon.log"
ok $? "the completion is among them"

stop_daemon
done_testing

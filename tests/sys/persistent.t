#!/bin/sh
# mode: persistent - the daemon keeps up to `concurrency` handler
# processes and feeds them jobs, one JSON line each; replies decide the
# outcome as exit statuses do; a handler that dies, garbles its answer or
# times out is replaced and its job retried.
. "$(dirname "$0")/lib.sh"
plan 12
TEST_COMMAND=$TOP/tests/sys/phandler MAX_ATTEMPTS=2 CONCURRENCY=2 \
	TIMEOUT=2s setup 'mode: persistent'
start_daemon

for i in 1 2 3 4 5 6; do drop "p$i.yaml" "v$i" test 'options: {sleep: 0.1}'; done
wait_for 20 count_is completed 6
ok $? "six jobs completed through persistent handlers"
pids=$(awk '$1 == "start" { print $6 }' "$T/stamps" | sort -u | wc -l | tr -d ' ')
[ "$pids" -le 2 ]; ok $? "by at most concurrency (2) processes ($pids)"
id=$(job_id_in completed p1)
wait_event "$id" completed
is "$(jq -r '.venue_id + " " + .provider + " " + (.attempt|tostring)' "$T/runs/$id.line")" "v1 test 1" "the job line carries venue, provider, attempt"
jq -e '.job | contains("venue_id: v1")' "$T/runs/$id.line" >/dev/null; ok $? "and the job's YAML"
is "$(cli history --job "$id" --json | jq -r '.[0].result.records')" 7 "the reply's result is kept in history"

drop fail.yaml v7 test 'options: {exit: 65}'
wait_for 10 count_is failed 1
ok $? "a reply with exit 65 fails the job at once"

drop noisy.yaml v8 test 'options: {stderr: "talking to the provider"}'
wait_for 10 count_is completed 7
nid=$(job_id_in completed noisy)
grep -q "talking to the provider" "$T/spool/logs/$nid.log"; ok $? "stderr goes to the job's log"

drop dies.yaml v9 test 'options: {die: 1}'
wait_for 15 count_is failed 2
did=$(job_id_in failed dies)
wait_event "$did" failed
is "$(cli history --job "$did" --json | jq -r '[.[] | select(.event == "started")] | length')" 2 "a handler that dies is retried (max_attempts 2), then fails"
e=$(cli history --job "$did" --json | jq -r '.[0].error')
case $e in *"without answering"*) ok 0 "saying it did not answer ($e)" ;; *) ok 1 "saying it did not answer ($e)" ;; esac

drop garbled.yaml v10 test 'options: {garble: 1}'
wait_for 15 count_is failed 3
gid=$(job_id_in failed garbled)
wait_event "$gid" failed
e=$(cli history --job "$gid" --json | jq -r '.[0].error')
case $e in *"not a JSON object"*) ok 0 "a garbled answer is a protocol error ($e)" ;; *) ok 1 "a garbled answer is a protocol error ($e)" ;; esac

drop slow.yaml v11 test 'options: {sleep: 30}'
wait_for 20 count_is failed 4
sid=$(job_id_in failed slow)
wait_event "$sid" failed
is "$(cli history --job "$sid" --json | jq -r '.[0].error')" "timed out after 2000 ms" "a handler past its timeout is killed and replaced"

drop after.yaml v12 test
wait_for 10 count_is completed 8
ok $? "new handlers take over"
stop_daemon
done_testing

#!/bin/sh
# Outcomes: exit 75 then 0 completes on attempt 2; a sysexits permanent
# code fails at once; other codes retry until max_attempts, then fail.
. "$(dirname "$0")/lib.sh"
plan 10
MAX_ATTEMPTS=3 setup
start_daemon

drop flaky.yaml v1 test 'options: {fail_attempts: 1}'
drop permanent.yaml v2 test 'options: {exit: 65}'
drop broken.yaml v3 test 'options: {exit: 1}'
wait_for 20 count_is completed 1 && wait_for 20 count_is failed 2
ok $? "one completed, two failed"

id=$(job_id_in completed flaky)
wait_event "$id" completed
[ -f "$T/runs/$id.2.env" ] && [ ! -f "$T/runs/$id.3.env" ]; ok $? "flaky ran exactly twice"
events() { cli history --job "$1" --json | jq -r 'reverse | map(.event + ":" + (.attempt|tostring)) | join(" ")'; }
is "$(events "$id")" "queued:0 started:1 retry_scheduled:1 started:2 completed:2" "flaky's history in order"

id=$(job_id_in failed permanent)
wait_event "$id" failed
is "$(ls "$T"/runs/"$id".*.env | wc -l | tr -d ' ')" 1 "exit 65 ran once"
is "$(events "$id")" "queued:0 started:1 failed:1" "exit 65 failed at once"
is "$(cli history --job "$id" --json | jq -r '.[0].exit_code')" 65 "its exit code is in history"

id=$(job_id_in failed broken)
wait_event "$id" failed
is "$(ls "$T"/runs/"$id".*.env | wc -l | tr -d ' ')" 3 "exit 1 ran max_attempts times"
is "$(events "$id")" "queued:0 started:1 retry_scheduled:1 started:2 retry_scheduled:2 started:3 failed:3" "then failed"
is "$(cli history --job "$id" --json | jq -r '.[0].error')" "attempts used up (3)" "the reason is given"

# The result file's keys are kept in history.
drop result.yaml v4 test 'options: {result: "records: 42"}'
wait_for 10 count_is completed 2
id=$(job_id_in completed result)
wait_event "$id" completed
is "$(cli history --job "$id" --json | jq -r '.[0].result.records')" 42 "result keys in history"
stop_daemon
done_testing

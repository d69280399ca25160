#!/bin/sh
# A handler that says "slow down" (exit 75 with retry_after in its result
# file) is called again no sooner than asked, and that does not use an
# attempt; max_age bounds how long a job may keep being put off.
. "$(dirname "$0")/lib.sh"
plan 6
MAX_ATTEMPTS=1 setup 'max_age: 3s'
start_daemon

drop slow-down.yaml v1 test 'options: {fail_runs: 1, result: "retry_after: 2"}'
wait_for 20 count_is completed 1
ok $? "a deferred job completes though max_attempts is 1"
id=$(job_id_in completed slow-down)
wait_event "$id" completed
ev=$(cli history --job "$id" --json | jq -r 'reverse | map(.event + ":" + (.attempt|tostring)) | join(" ")')
is "$ev" "queued:0 started:1 deferred:1 started:1 completed:1" "deferred, and the attempt was not counted"
gap=$(awk -v id="$id" '$4 == id { print $1, $5 }' "$T/stamps" | awk '$1 == "end" && !e { e = $2 } $1 == "start" { s = $2 } END { print int((s - e) / 1000000) }')
[ "$gap" -ge 1900 ]; ok $? "it was called again no sooner than asked ($gap ms)"

# Deferred for longer than max_age: it expires instead of waiting.
drop too-late.yaml v2 test 'options: {fail_runs: 9, result: "retry_after: 60"}'
wait_for 20 count_is failed 1
ok $? "a job put off past max_age fails"
id=$(job_id_in failed too-late)
wait_event "$id" expired
is "$(cli history --job "$id" --json | jq -r '.[0].event')" expired "as expired"
is "$(grep -c "start v2" "$T/stamps")" 1 "after one run"
stop_daemon
done_testing

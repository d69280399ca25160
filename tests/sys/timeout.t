#!/bin/sh
# A handler past its timeout gets SIGTERM, with the grandchildren in its
# process group; one that ignores SIGTERM gets SIGKILL after the grace.
. "$(dirname "$0")/lib.sh"
plan 7
TIMEOUT=1s MAX_ATTEMPTS=1 setup
start_daemon

drop slow.yaml v1 test 'options: {sleep: 60, grandchild: 1}'
wait_for 10 count_is processing 1
ok $? "the slow job runs"
id=$(job_id_in processing slow)
wait_for 5 test -f "$T/runs/$id.grandchild"
gc=$(cat "$T/runs/$id.grandchild")
EXTRA_PIDS="$gc"
kill -0 "$gc"; ok $? "its grandchild runs ($gc)"

wait_for 10 count_is failed 1
ok $? "after the timeout it fails (max_attempts 1)"
wait_for 5 sh -c "! kill -0 $gc"
ok $? "the grandchild was killed too"
wait_event "$id" failed
e=$(cli history --job "$id" --json | jq -r '.[0].error')
is "$e" "timed out after 1000 ms" "history says it timed out"

drop stubborn.yaml v2 test 'options: {sleep: 60, ignore_term: 1}'
wait_for 10 count_is processing 1
sid=$(job_id_in processing stubborn)
wait_for 15 count_is failed 2
ok $? "a handler ignoring SIGTERM is killed"
wait_event "$sid" failed
is "$(cli history --job "$sid" --json | jq -r '.[0].signal')" 9 "by SIGKILL"
stop_daemon
done_testing

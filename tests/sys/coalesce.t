#!/bin/sh
# coalesce: a burst of triggers for one venue+provider+type while one
# waits gives one run; the others are recorded as coalesced and their
# files go to completed.
. "$(dirname "$0")/lib.sh"
plan 6
setup 'coalesce: true'
start_daemon

# Hold the venue with a running job so the burst waits behind it.
drop hold.yaml v1 test 'sync_type: full' 'options: {sleep: 2}'
wait_for 10 count_is processing 1
for i in 1 2 3; do drop "burst$i.yaml" v1 test 'sync_type: delta'; done
cli trigger test --venue v1 --type delta >/dev/null
cli trigger test --venue v1 --type delta >/dev/null
wait_for 20 count_is completed 6
ok $? "all six files end in completed"
is "$(grep -c 'SYNCSPOOL_SYNC_TYPE=delta' "$T"/runs/*.env | awk -F: '{ n += $2 } END { print n }')" 1 "the five delta triggers ran once"
is "$(grep -c '^start' "$T/stamps")" 2 "two runs in all (the held job and one delta)"
is "$(grep -c 'event=coalesced' "$T/daemon.log")" 4 "four triggers were coalesced"
into=$(grep 'event=coalesced' "$T/daemon.log" | sed -n 's/.*merged into \([^"]*\)".*/\1/p' | sort -u)
is "$(echo "$into" | wc -l | tr -d ' ')" 1 "all into the same job"
cid=$(grep 'event=coalesced' "$T/daemon.log" | head -n 1 | sed 's/.* job=\([^ ]*\) .*/\1/')
wait_event "$cid" coalesced
is "$(cli history --job "$cid" --json | jq -r '.[0].event + " " + .[0].error')" "coalesced merged into $into" "history says which job it merged into"
stop_daemon
done_testing

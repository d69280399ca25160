#!/bin/sh
# A 2,000-file burst, half renamed in and half written in place, all
# completes with nothing left behind; each job ran exactly once.
. "$(dirname "$0")/lib.sh"
plan 5
N=2000
WORKERS=8 CONCURRENCY=8 SETTLE=200ms setup
start_daemon

i=0
while [ $i -lt $N ]; do
	if [ $((i % 2)) -eq 0 ]; then
		printf 'venue_id: v%d\nprovider: test\n' $((i % 50)) >"$T/spool/pending/.b$i.tmp"
		mv "$T/spool/pending/.b$i.tmp" "$T/spool/pending/b$i.yaml"
	else
		printf 'venue_id: v%d\nprovider: test\n' $((i % 50)) >"$T/spool/pending/b$i.yaml"
	fi
	i=$((i + 1))
done
wait_for 120 count_is completed $N
ok $? "all $N jobs completed"
is "$(count pending)$(count processing)$(count failed)$(count paused)" "0000" "none left elsewhere"
is "$(grep -c '^start' "$T/stamps")" $N "each handler ran once"
is "$(ls "$T/spool/completed" | sed 's/\.[0-9]*T[0-9]*Z\.[0-9a-f]*\.yaml$//' | sort -u | wc -l | tr -d ' ')" $N "every upload is its own job"
is "$(cli status --json | jq '[.providers.test.counts.completed] | add')" $N "status counts them all"
stop_daemon
done_testing

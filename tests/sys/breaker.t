#!/bin/sh
# The circuit breaker: after N failed attempts in a row the provider's
# jobs are held (not failed) for the cool-down; then one probe runs, and
# its success closes the breaker.
. "$(dirname "$0")/lib.sh"
plan 14
MAX_ATTEMPTS=1 setup 'breaker: {failures: 2, cooldown: 3s}'
start_daemon

drop f1.yaml v1 test 'options: {exit: 1}'
drop f2.yaml v2 test 'options: {exit: 1}'
wait_for 10 count_is failed 2
wait_for 5 grep -q 'event=breaker_open provider=test' "$T/daemon.log"
ok $? "two failures in a row open the breaker"
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml status --json | jq -e '.providers.test.breaker.state == \"open\"'"
ok $? "status shows it open"
is "$(cli status --json | jq -r '.providers.test.breaker.failures')" 2 "after 2 failures"
# Until when: the cool-down (3 s) from when it opened, a moment ago.
until=$(cli status --json | jq -r '.providers.test.breaker.until')
left=$(($(date -d "$until" +%s%3N) - $(now_ms)))
[ "$left" -gt 1000 ] && [ "$left" -le 3000 ]; ok $? "status says until when ($until, in $left ms)"
t0=$(now_ms)
drop ok1.yaml v3 test
drop ok2.yaml v4 test
TIMEOUT_SCALE=1 wait_for 2 count_is processing 1
is "$(count completed)$(count processing)$(count failed)" "002" "jobs are held while it is open (not failed)"
wait_for 10 count_is completed 2
ok $? "after the cool-down the jobs run"
first=$(awk '$1 == "start" && ($2 == "v3" || $2 == "v4") { print $5 }' "$T/stamps" | sort -n | head -n 1)
held=$((first / 1000000 - t0))
[ "$held" -ge 2000 ]; ok $? "not before the cool-down ended (held $held ms)"
wait_for 5 grep -q 'event=breaker_closed provider=test' "$T/daemon.log"
ok $? "the probe's success closes the breaker"
wait_for 5 sh -c "$SYNCSPOOL -c $T/syncspool.yaml status test --venue v3 --json | jq -e '.breaker.state == \"closed\"'"
ok $? "and status shows it closed"
# The probe ran alone: the second job started after the probe ended.
probe_end=$(awk '$1 == "end" && ($2 == "v3" || $2 == "v4") { print $5 }' "$T/stamps" | sort -n | head -n 1)
second=$(awk '$1 == "start" && ($2 == "v3" || $2 == "v4") { print $5 }' "$T/stamps" | sort -n | tail -n 1)
[ "$second" -ge "$probe_end" ]; ok $? "one probe at a time"
is "$(count failed)" 2 "held jobs were not failed"
# History: the breaker's events show in every venue's history with the
# provider, among the venue's own, newest first.
hist() { cli history test --venue "$1" --json | jq -r 'reverse | map(.event) | join(" ")'; }
is "$(hist v2)" "queued started failed breaker_open breaker_closed" \
	"v2's history: its failure, then the breaker opening and closing"
is "$(hist v1)" "queued started failed breaker_open breaker_closed" \
	"v1's as well"
is "$(cli history test --venue v1 --json | jq -r '[.[] | select(.event == "breaker_open")][0].error')" \
	"2 failed attempts in a row; jobs held for 3000 ms, then one probe" "with the reason"
stop_daemon
done_testing

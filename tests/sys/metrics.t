#!/bin/sh
# The metrics file: Prometheus text that node_exporter's textfile
# collector reads, rewritten atomically with jobs by state and provider,
# attempts, retries, failures by reason and handler durations, the
# oldest pending job, the breaker and free space; readable by the
# collector's user whatever the daemon's umask (the unit sets 0027).
. "$(dirname "$0")/lib.sh"
plan 18
MAX_ATTEMPTS=2 METRICS=metrics.prom setup
# As under the systemd unit: files the daemon makes are closed to others.
umask 027
start_daemon
umask 022

drop ok.yaml v1 test
drop flaky.yaml v2 test 'options: {fail_attempts: 1}'
drop bad.yaml v3 test 'options: {exit: 65}'
drop later.yaml v4 test 'not_before: 2099-01-01T00:00:00Z'
printf 'not: [valid\n' >"$T/spool/pending/junk.yaml"
wait_for 10 count_is completed 2 && wait_for 10 count_is failed 2
m=$T/metrics.prom
val() { awk -v k="$1" '$1 == k { print $2 }' "$m"; }
wait_for 12 sh -c "grep -q 'syncspool_jobs{provider=\"test\",state=\"completed\"} 2' $m"
ok $? "jobs by state: completed"
is "$(val 'syncspool_jobs{provider="test",state="pending"}')" 1 "pending"
is "$(val 'syncspool_attempts_total{provider="test"}')" 4 "attempts"
is "$(val 'syncspool_retries_total{provider="test"}')" 1 "retries"
is "$(val 'syncspool_failures_total{provider="test",reason="exit"}')" 2 "failures by reason: exit (the retried one and the failed one)"
is "$(val 'syncspool_failures_total{provider="",reason="invalid"}')" 1 "invalid files"
is "$(val 'syncspool_handler_duration_seconds_count{provider="test"}')" 4 "handler duration histogram"
# later.yaml waits until 2099: the oldest pending job is as old as the test.
age=$(val 'syncspool_oldest_pending_seconds{provider="test"}')
awk -v a="${age:-0}" 'BEGIN { exit !(a > 0 && a < 120) }'
ok $? "oldest pending age ($age s)"
is "$(val 'syncspool_breaker_open{provider="test"}')" 0 "breaker state (closed)"
free=$(val syncspool_free_space_ratio)
awk -v f="${free:-x}" 'BEGIN { exit !(f + 0 > 0 && f + 0 <= 1) }'
ok $? "free space ratio ($free)"
is "$(ls "$T" | grep -c '^metrics\.prom\.')" 0 "no temporary file is left beside it"
is "$(stat -c %a "$m")" 644 "readable by all under the daemon's umask 027"
# Every line is a comment or "name{labels} value": what the collector parses.
is "$(grep -v '^#' "$m" | grep -cvE '^[a-z_]+(\{[^}]*\})? [0-9.+eInf-]+$')" 0 "the file is well-formed"
# syncspool stats reads the same file for a person.
cli stats >"$T/stats.out"
is "$?" 0 "syncspool stats works"
grep -Eq '^test +1 +0 +2 +1 +0 +4 +1 ' "$T/stats.out"; ok $? "with the provider's row: jobs by state, attempts, retries"
grep -qx 'test: 2 failed attempts or invalid files since syncspoold started (exit 2)' "$T/stats.out"
ok $? "and its failures by reason"
grep -qx '(none): 1 failed attempts or invalid files since syncspoold started (invalid 1)' "$T/stats.out"
ok $? "invalid files under (none)"
[ "$(grep -c "$(printf '\033')" "$T/stats.out")" -eq 0 ]; ok $? "no escape sequences when not on a terminal"
stop_daemon
done_testing

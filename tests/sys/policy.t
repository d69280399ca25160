#!/bin/sh
# Scheduling policy with the real daemon: one run at a time per
# venue+provider, provider concurrency, and a provider's rate limit,
# which holds jobs back without using their attempts.
. "$(dirname "$0")/lib.sh"
plan 8
WORKERS=8 CONCURRENCY=2 setup
# The rate on a provider of its own, so that it cannot be what holds
# the test provider to its concurrency.
EXTRA_PROVIDERS="  rated:
    command: [$HANDLER]
    concurrency: 8
    max_attempts: 1
    rate: 4/2s
    env: {TEST_DIR: \"$T\"}"
WORKERS=8 CONCURRENCY=2 write_config
start_daemon

# The most runs ever at once, from the handlers' own stamps; $1 filters
# by "venue provider" (empty: all).
max_overlap() {
	awk -v key="$1" '
		key != "" && ($2 " " $3) != key { next }
		$1 == "start" { print $5, 1 } $1 == "end" { print $5, -1 }' "$T/stamps" |
	sort -n | awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

# Six jobs of one venue: never two at once, though workers and
# concurrency would allow it.
for i in 1 2 3 4 5 6; do drop "same$i.yaml" solo test 'options: {sleep: 0.3}'; done
wait_for 30 count_is completed 6
ok $? "six jobs of one venue completed"
is "$(max_overlap 'solo test')" 1 "one venue+provider never ran two at once"

# Six venues, concurrency 2: at most two at once.
: >"$T/stamps"
for i in 1 2 3 4 5 6; do drop "many$i.yaml" "venue$i" test 'options: {sleep: 1}'; done
wait_for 30 count_is completed 12
ok $? "six venues' jobs completed"
is "$(max_overlap '')" 2 "provider concurrency 2 held with six venues"

# rate 4/2s: a burst of 8 quick jobs, which concurrency 8 would start
# at once, takes at least 1.5 s after the first 4 (one per 500 ms).
: >"$T/stamps"
for i in 1 2 3 4 5 6 7 8; do drop "rate$i.yaml" "rv$i" rated; done
wait_for 30 count_is completed 20
ok $? "eight rate-limited jobs completed"
first=$(awk '$1 == "start" { print $5 }' "$T/stamps" | sort -n | head -n 1)
last=$(awk '$1 == "start" { print $5 }' "$T/stamps" | sort -n | tail -n 1)
span=$(((last - first) / 1000000))
[ "$span" -ge 1400 ]; ok $? "the rate held them back (first to last start: $span ms)"
# Held back, not tried: with max_attempts 1 any attempt used while
# waiting would have failed the job; each ran once, as attempt 1.
is "$(count failed)" 0 "none of them failed"
evs=$(for f in "$T"/spool/completed/rate*.yaml; do
	id=$(basename "$f" .yaml)
	wait_event "$id" completed
	cli history --job "$id" --json | jq -r 'reverse | map(.event + ":" + (.attempt|tostring)) | join(" ")'
done | sort | uniq -c | sed 's/^ *//')
is "$evs" "8 queued:0 started:1 completed:1" "each: queued, started and completed on attempt 1"
stop_daemon
done_testing

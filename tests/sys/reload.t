#!/bin/sh
# SIGHUP applies new limits to jobs not yet started and leaves running
# handlers alone, with the limits they started under.
. "$(dirname "$0")/lib.sh"
plan 6
WORKERS=8 CONCURRENCY=1 setup
start_daemon

max_overlap() {
	awk '$1 == "start" { print $5, 1 } $1 == "end" { print $5, -1 }' "$T/stamps" |
		sort -n | awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

for i in 1 2 3; do drop "a$i.yaml" "va$i" test 'options: {sleep: 0.3}'; done
wait_for 10 count_is completed 3
is "$(max_overlap)" 1 "concurrency 1: one at a time"
drop long.yaml v0 test 'options: {sleep: 3}'
wait_for 10 count_is processing 1
lid=$(job_id_in processing long)
wait_for 5 test -f "$T/runs/$lid.pid"
hp=$(cat "$T/runs/$lid.pid")

# Raise the limit while the long job runs, then queue more. The new
# timeout (2 s) is shorter than the long job (3 s), which started under
# 30 s: it must not be cut short.
CONCURRENCY=3 TIMEOUT=2s write_config
kill -HUP "$DPID"
wait_for 5 grep -q event=reloaded "$T/daemon.log"
kill -0 "$hp"; ok $? "the running handler was not disturbed by the reload"
: >"$T/stamps.after"
for i in 1 2 3 4; do drop "b$i.yaml" "vb$i" test 'options: {sleep: 1}'; done
wait_for 20 count_is completed 8
ok $? "all jobs completed"
n=$(awk '$1 == "start" && $2 ~ /^vb/ { print $5, 1 } $1 == "end" && $2 ~ /^vb/ { print $5, -1 }' "$T/stamps" |
	sort -n | awk '{ n += $2; if (n > m) m = n } END { print m + 0 }')
[ "$n" -ge 2 ]; ok $? "after the reload up to 3 run at once ($n seen)"
wait_event "$lid" completed
is "$(cli history --job "$lid" --json | jq -r '[.[] | select(.event == "started")] | length')" 1 "the long job ran once"
is "$(cli history --job "$lid" --json | jq -r '.[0].event + " " + (.[0].attempt|tostring)')" "completed 1" \
	"and completed on its first attempt, under the timeout it started with"
stop_daemon
done_testing

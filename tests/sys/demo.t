#!/bin/sh
# contrib/handlers/demo, the example handler the default config runs: it
# sleeps as long as the job's `sleep` option says, exits with its `exit`
# option, exits 75 while the attempt is within `fail_attempts`, writes
# its result keys on success, and refuses bad options (65) and bad usage
# (64). Then through the daemon: a job that fails once, then completes.
. "$(dirname "$0")/lib.sh"
DEMO=$TOP/contrib/handlers/demo
plan 15
setup

ID=venue1-demo.20250102T030001Z.4f2a
# demo [ARG...] [-- VAR=VALUE...]: run it as the daemon would, in a
# clean environment, the job on stdin; sets rc, leaves $T/result,
# $T/out, $T/err.
demo() {
	_args=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		_args="$_args $1"
		shift
	done
	[ $# -gt 0 ] && shift
	: >"$T/result"
	# shellcheck disable=SC2086
	printf 'venue_id: venue1\nprovider: demo\n' |
		env -i PATH="$PATH" SYNCSPOOL_JOB_ID=$ID SYNCSPOOL_VENUE_ID=venue1 \
		SYNCSPOOL_PROVIDER=demo SYNCSPOOL_SYNC_TYPE=full \
		SYNCSPOOL_ATTEMPT=1 SYNCSPOOL_RESULT_FILE="$T/result" "$@" \
		"$DEMO" $_args >"$T/out" 2>"$T/err"
	rc=$?
}

demo -- SYNCSPOOL_OPTION_SLEEP=0
is "$rc" 0 "no options: exit 0"
grep -Eq '^records: [0-9]+$' "$T/result" &&
	grep -Eq '^cursor: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$T/result"
ok $? "it writes records and cursor to the result file"
grep -q "job $ID, 2 lines on stdin" "$T/out"; ok $? "it read the job on stdin"
demo --provider square -- SYNCSPOOL_OPTION_SLEEP=0
grep -q 'with provider square' "$T/out"; ok $? "--provider names the provider in its output"

start=$(now_ms)
demo -- SYNCSPOOL_OPTION_SLEEP=1
took=$(($(now_ms) - start))
[ "$rc" -eq 0 ] && [ "$took" -ge 900 ] && [ "$took" -lt 5000 ]
ok $? "option sleep=1 takes a second (${took}ms)"

demo -- SYNCSPOOL_OPTION_SLEEP=0 SYNCSPOOL_OPTION_EXIT=65
is "$rc:$(cat "$T/result")" "65:" "option exit=65: exit 65, no result"
tail -n 1 "$T/err" | grep -q 'failed with status 65'; ok $? "and the last stderr line says why"

demo -- SYNCSPOOL_OPTION_SLEEP=0 SYNCSPOOL_OPTION_FAIL_ATTEMPTS=2
is "$rc" 75 "fail_attempts=2, attempt 1: exit 75"
demo -- SYNCSPOOL_OPTION_SLEEP=0 SYNCSPOOL_OPTION_FAIL_ATTEMPTS=2 SYNCSPOOL_ATTEMPT=3
is "$rc" 0 "fail_attempts=2, attempt 3: exit 0"

demo -- SYNCSPOOL_OPTION_SLEEP=soon
is "$rc" 65 "a bad sleep: exit 65"
demo -- SYNCSPOOL_OPTION_SLEEP=0 SYNCSPOOL_OPTION_EXIT=300
is "$rc" 65 "an exit status above 255: exit 65"
demo --verbose -- SYNCSPOOL_OPTION_SLEEP=0
is "$rc" 64 "an unknown argument: exit 64"

# Through the daemon: attempt 1 is temporary, attempt 2 completes.
EXTRA_PROVIDERS="  demo:
    command: [$DEMO, --provider, demo]
    backoff: {initial: 100ms, max: 100ms}" write_config
start_daemon
drop v1-demo.yaml v1 demo 'options: {sleep: 0, fail_attempts: 1}'
wait_for 10 count_is completed 1
ok $? "through the daemon: the job completes"
id=$(job_id_in completed v1-demo)
wait_event "$id" completed
is "$(cli history --job "$id" --json | jq -r '[.[].event] | reverse | join(" ")')" \
	"queued started retry_scheduled started completed" \
	"after one temporary failure"
is "$(cli history --job "$id" --json | jq -r '.[0].result.records')" 32 \
	"with its result keys in history (3 lines, attempt 2)"
stop_daemon
done_testing

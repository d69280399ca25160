#!/bin/sh
# Files that are not valid jobs land in failed, with the reason (line and
# column for YAML errors) in history; the daemon runs nothing for them.
. "$(dirname "$0")/lib.sh"
plan 10
setup
start_daemon

printf 'venue_id: v1\nprovider: test\noptions: {a: [1, 2\n' >"$T/spool/pending/.bad.tmp"
mv "$T/spool/pending/.bad.tmp" "$T/spool/pending/bad-yaml.yaml"
drop unknown-provider.yaml v1 nosuch
drop unknown-key.yaml v1 test 'colour: blue'
printf 'provider: test\n' >"$T/spool/pending/.m.tmp"
mv "$T/spool/pending/.m.tmp" "$T/spool/pending/missing-venue.yaml"

wait_for 10 count_is failed 4
ok $? "all four land in failed"
is "$(count pending)$(count processing)$(count completed)" "000" "none elsewhere"
is "$(ls "$T/runs" | wc -l | tr -d ' ')" 0 "no handler ran"

err_of() { # the error of the job's invalid event
	wait_event "$(job_id_in failed "$1")" invalid
	cli history --job "$(job_id_in failed "$1")" --json |
		jq -r '.[] | select(.event == "invalid") | .error'
}
e=$(err_of bad-yaml)
case $e in *"line 3, column "*) ok 0 "bad YAML: line and column in history ($e)" ;;
*) ok 1 "bad YAML: line and column in history ($e)" ;; esac
e=$(err_of unknown-provider)
case $e in *"nosuch"*"not configured"*"test"*) ok 0 "unknown provider named, known ones listed ($e)" ;;
*) ok 1 "unknown provider named, known ones listed ($e)" ;; esac
e=$(err_of unknown-key)
case $e in *"line 3"*"colour"*) ok 0 "unknown key named with its line ($e)" ;;
*) ok 1 "unknown key named with its line ($e)" ;; esac
e=$(err_of missing-venue)
case $e in *venue_id*) ok 0 "missing venue_id named ($e)" ;;
*) ok 1 "missing venue_id named ($e)" ;; esac

# The file is what the client dropped, byte for byte.
id=$(job_id_in failed unknown-key)
grep -q '^colour: blue$' "$T/spool/failed/$id.yaml"; ok $? "the failed file is the dropped file"

# Mending the file and moving it back runs it.
sed -i '/^colour/d' "$T/spool/failed/$id.yaml"
mv "$T/spool/failed/$id.yaml" "$T/spool/pending/"
wait_for 10 count_is completed 1
ok $? "a mended file moved back to pending completes"
kill -0 "$DPID"; ok $? "the daemon is alive"
stop_daemon
done_testing

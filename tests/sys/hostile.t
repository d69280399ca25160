#!/bin/sh
# A symlink, a FIFO, a hard link and a directory named *.yaml neither hang
# nor fool the daemon: none is opened as a job, and real jobs still run.
. "$(dirname "$0")/lib.sh"
plan 8
SETTLE=200ms setup
start_daemon

printf 'venue_id: secret\nprovider: test\n' >"$T/secret.yaml"
ln -s "$T/secret.yaml" "$T/spool/pending/link.yaml"
mkfifo "$T/spool/pending/fifo.yaml"
ln "$T/secret.yaml" "$T/spool/pending/hard.yaml"
mkdir "$T/spool/pending/dir.yaml"
drop real.yaml v1 test
wait_for 10 count_is completed 1
ok $? "a real job still completes"
wait_for 10 count_is failed 4
ok $? "the four impostors are quarantined in failed"
is "$(ls "$T/runs" | grep -c secret)" 0 "nothing ran for the secret's venue"
! grep -rq "venue_id: secret" "$T/runs"; ok $? "no handler saw the secret"
[ -L "$T/spool/failed/$(job_id_in failed link).yaml" ]; ok $? "the symlink was moved, not followed"
[ -p "$T/spool/failed/$(job_id_in failed fifo).yaml" ]; ok $? "the FIFO was moved, never opened"
kill -0 "$DPID"; ok $? "the daemon is alive"
wait_event "$(job_id_in failed link)" invalid
e=$(cli history --job "$(job_id_in failed link)" --json | jq -r '.[0].error')
case $e in *"symbolic link"*) ok 0 "history says why ($e)" ;; *) ok 1 "history says why ($e)" ;; esac
stop_daemon
done_testing

#!/bin/sh
# SIGTERM lets a running handler finish within the grace period and exits
# 0; past the grace it kills the handler and the next start requeues the
# job. SIGINT does what SIGTERM does, and once stopping nothing new is
# claimed. SIGHUP reloads the config; a bad one is refused, with the
# reason, and the old kept.
. "$(dirname "$0")/lib.sh"
plan 16
GRACE=10s setup
start_daemon

drop short.yaml v1 test 'options: {sleep: 1}'
wait_for 10 count_is processing 1
stop_daemon
is "$?" 0 "SIGTERM: exit 0"
is "$(count completed)" 1 "the running handler finished within the grace period"

GRACE=500ms write_config
start_daemon
drop long.yaml v2 test 'options: {sleep: 60}'
wait_for 10 count_is processing 1
id=$(job_id_in processing long)
wait_for 5 test -f "$T/runs/$id.pid"
hp=$(cat "$T/runs/$id.pid")
stop_daemon
is "$?" 0 "past the grace period: still exit 0"
wait_for 5 sh -c "! kill -0 $hp"
ok $? "the handler was killed"
[ -f "$T/spool/processing/$id.yaml" ]; ok $? "its job stays in processing"
sed -i 's/sleep: 60/sleep: 0/' "$T/spool/processing/$id.yaml"
start_daemon
wait_for 10 count_is completed 2
ok $? "and is requeued at the next start"

# SIGHUP with a broken config: refused, the old one kept.
cp "$T/syncspool.yaml" "$T/good.yaml"
echo "wrokers: 2" >>"$T/syncspool.yaml"
kill -HUP "$DPID"
wait_for 5 grep -q "event=reload_refused" "$T/daemon.log"
ok $? "a bad config is refused on SIGHUP"
grep "event=reload_refused" "$T/daemon.log" | grep -q "wrokers"
ok $? "naming what is wrong ($(grep "event=reload_refused" "$T/daemon.log"))"
drop after-bad-reload.yaml v3 test
wait_for 10 count_is completed 3
ok $? "and the daemon goes on with the old one"
cp "$T/good.yaml" "$T/syncspool.yaml"
kill -HUP "$DPID"
wait_for 5 grep -q "event=reloaded" "$T/daemon.log"
ok $? "a good config is applied"

# SIGINT, as from a terminal running syncspoold in the foreground.
GRACE=10s write_config
kill -HUP "$DPID"
wait_for 5 test "$(grep -c "event=reloaded" "$T/daemon.log")" -eq 2
drop slow.yaml v4 test 'options: {sleep: 2}'
wait_for 10 count_is processing 1
exits=$(grep -c "event=exit " "$T/daemon.log")
kill -INT "$DPID"
wait_for 5 grep -q "event=stopping signal=INT" "$T/daemon.log"
ok $? "SIGINT begins a stop"
drop late.yaml v5 test
wait_for 15 test "$(grep -c "event=exit " "$T/daemon.log")" -gt "$exits"
wait "$DPID"
is "$?" 0 "SIGINT: exit 0 once the running handler is done"
DPID=
is "$(count completed)" 4 "the running handler finished within the grace period"
is "$(grep -c " v5 " "$T/stamps")" 0 "a job dropped while stopping is not claimed"
is "$(count pending)" 1 "it waits in pending"
start_daemon
wait_for 10 count_is completed 5
ok $? "and runs at the next start"
stop_daemon
done_testing

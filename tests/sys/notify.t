#!/bin/sh
# Type=notify: the daemon tells $NOTIFY_SOCKET READY=1 once it serves,
# RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"
plan 4
setup
# A stand-in for systemd's socket: one line per datagram received.
dgram_sink "$T/notify.sock" "$T/notify.log"
NOTIFY_SOCKET=$T/notify.sock start_daemon
wait_for 5 grep -qx 'READY=1' "$T/notify.log"
ok $? "READY=1 once it serves"
kill -HUP "$DPID"
wait_for 5 grep -qx 'RELOADING=1' "$T/notify.log"
ok $? "RELOADING=1 on SIGHUP"
wait_for 5 sh -c "[ \$(grep -cx 'READY=1' $T/notify.log) -eq 2 ]"
ok $? "then READY=1 again"
stop_daemon
wait_for 5 grep -qx 'STOPPING=1' "$T/notify.log"
ok $? "STOPPING=1 on SIGTERM"
done_testing

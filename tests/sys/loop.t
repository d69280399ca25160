#!/bin/sh
# The daemon loop (syncspoold(8)): one thread, one epoll over an inotify
# descriptor, a signalfd (SIGTERM, SIGINT, SIGHUP) and a timerfd. A job
# that is not yet due waits on the timer: the daemon sleeps until then
# instead of polling, and starts it on time. inotify is a hint: events
# the daemon never got (tests/fault/deaf.c throws them away) are made up
# for by the periodic rescan (`rescan`), and only by it.
. "$(dirname "$0")/lib.sh"

# DEAF_LIB names the shim; by default libdeaf.so beside $SYNCSPOOLD,
# else build/libdeaf.so.
DEAF_LIB=${DEAF_LIB:-$(dirname "$SYNCSPOOLD")/libdeaf.so}
[ -f "$DEAF_LIB" ] || DEAF_LIB=$TOP/build/libdeaf.so
if [ ! -f "$DEAF_LIB" ]; then
	echo "1..0 # SKIP no libdeaf.so (make \$(B)/libdeaf.so)"
	exit 0
fi

plan 13
RESCAN=2s setup
export LD_PRELOAD="$DEAF_LIB" DEAF_FILE="$T/deaf" DEAF_LOG="$T/deaf.log"
export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
start_daemon
unset LD_PRELOAD DEAF_FILE DEAF_LOG

is "$(awk '$1 == "Threads:" { print $2 }' "/proc/$DPID/status")" 1 "one thread"
# The kinds of descriptor the daemon holds, one of each.
kinds() {
	for f in /proc/"$DPID"/fd/*; do readlink "$f"; done 2>/dev/null |
		grep -c "^anon_inode:$1\$"
}
is "$(kinds '\[eventpoll\]')" 1 "one epoll"
is "$(kinds 'inotify')" 1 "one inotify descriptor"
is "$(kinds '\[signalfd\]')" 1 "one signalfd"
is "$(kinds '\[timerfd\]')" 1 "one timerfd"
sfd=
for f in /proc/"$DPID"/fd/*; do
	[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[signalfd]" ] && sfd=${f##*/}
done
mask=$(awk '$1 == "sigmask:" { print $2 }' "/proc/$DPID/fdinfo/$sfd")
# SIGHUP 1, SIGINT 2, SIGTERM 15: bits 0, 1 and 14.
is "$(( (0x$mask & 0x4003) == 0x4003 ))" 1 "the signalfd takes SIGHUP, SIGINT and SIGTERM ($mask)"

# A job due in 5 s: until a second before, the daemon sleeps but for the
# rescans (every 2 s here); a loop that polled every 100 ms would switch
# some 30 times. (The wait below is for a time, not for an event.)
due=$(($(date +%s) + 5))
drop later.yaml v1 test "not_before: $(date -u -d "@$due" +%Y-%m-%dT%H:%M:%SZ)"
wait_for 5 sh -c "ls '$T/spool/pending' | grep -q '^later\.'"
id=$(job_id_in pending later)
wait_event "$id" queued
csw() { awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "/proc/$DPID/status"; }
c0=$(csw)
wait_for 10 sh -c "test \"\$(date +%s)\" -ge $((due - 1))"
c1=$(csw)
n=$((c1 - c0))
[ "$n" -le 8 ]; ok $? "the daemon slept while the job was not due: $n context switches"
wait_for 12 grep -q "^start v1 " "$T/stamps"
ok $? "the job starts"
started_ms=$(($(awk '$2 == "v1" { print $5; exit }' "$T/stamps") / 1000000))
late=$((started_ms - due * 1000))
[ "$late" -ge 0 ] && [ "$late" -lt $((1500 * ${TIMEOUT_SCALE:-1})) ]
ok $? "it starts on time: $late ms after not_before"
wait_for 10 count_is completed 1

# Deaf: the events of this drop are read and thrown away.
: >"$T/deaf"
drop missed.yaml v2 test
wait_for 5 test -s "$T/deaf.log"
ok $? "the daemon missed the drop's events ($(wc -l <"$T/deaf.log") reads dropped)"
wait_for 10 count_is completed 2
ok $? "the periodic rescan found the job, and it ran"
rm -f "$T/deaf"
grep -q "^start v2 " "$T/stamps"; ok $? "its handler ran"
kill -0 "$DPID"; ok $? "the daemon is alive"
stop_daemon
done_testing

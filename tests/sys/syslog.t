#!/bin/sh
# `log: syslog`: the daemon's key=value lines go to syslog(3), facility
# daemon, as syncspoold[PID], and no longer to stderr; a reload to
# `log: stderr` brings them back.
#
# syslog(3) writes to /dev/log. The daemon runs in a private mount
# namespace (unshare -m) whose /dev is a tmpfs holding the host's null,
# zero, full, random and urandom and, as /dev/log, a socket of this
# test's: nothing on the host is mounted or created outside $T. So this
# needs root.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
	echo "1..0 # SKIP needs root and a mount namespace, to stand in for /dev/log"
	exit 0
fi
plan 7
setup
log_config() {
	write_config
	echo "log: $1" >>"$T/syncspool.yaml"
}
log_config syslog

# A stand-in for the syslog daemon: one line per datagram received.
dgram_sink "$T/log.sock" "$T/syslog.out" ||
	bail "the syslog stand-in did not start"

# The daemon, exec'd (its pid is $!) in the namespace described above.
mkdir "$T/hostdev"
NS_SCRIPT='set -e
mount --rbind /dev "$1/hostdev"
mount -t tmpfs -o mode=755 syncspool-test /dev
for n in null zero full random urandom; do
	touch "/dev/$n"
	mount --bind "$1/hostdev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
touch /dev/log
mount --bind "$1/log.sock" /dev/log
shift 2
exec "$SYNCSPOOLD" "$@"'
SYNCSPOOLD=$SYNCSPOOLD unshare -m --propagation private \
	sh -c "$NS_SCRIPT" sh "$T" -- -c "$T/syncspool.yaml" 2>>"$T/daemon.log" &
DPID=$!
export SYNCSPOOLD
wait_for 10 grep -q "event=start pid=$DPID " "$T/syslog.out"
ok $? "event=start goes to syslog"
# <30>: facility daemon (3 * 8), priority info (6).
grep -Eq "^<30>.* syncspoold\\[$DPID\\]: level=info event=start pid=$DPID spool=" "$T/syslog.out"
ok $? "as syncspoold[PID], facility daemon, priority info, key=value"
! grep -q 'event=start' "$T/daemon.log"
ok $? "and not to stderr"

drop v1.yaml v1 test
wait_for 10 count_is completed 1
id=$(job_id_in completed v1)
wait_for 10 grep -q "event=completed job=$id venue=v1 provider=test attempt=1" "$T/syslog.out"
ok $? "a job's events are one key=value line each"
printf 'not: [valid\n' >"$T/spool/pending/junk.yaml"
wait_for 10 count_is failed 1
# <28>: priority warning (4).
wait_for 10 grep -Eq "^<28>.* level=warn event=invalid job=junk\\." "$T/syslog.out"
ok $? "an invalid file is logged at priority warning"

# Back to stderr on reload.
log_config stderr
kill -HUP "$DPID"
wait_for 10 grep -q 'event=reloaded' "$T/daemon.log"
ok $? "after a reload to log: stderr, lines go to stderr again"
drop v3.yaml v3 test
wait_for 10 grep -q 'event=completed job=v3\.' "$T/daemon.log" &&
	! grep -q 'job=v3\.' "$T/syslog.out"
ok $? "and no longer to syslog"
stop_daemon
done_testing

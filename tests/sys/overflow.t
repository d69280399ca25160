#!/bin/sh
# inotify is a hint, the directory is the truth: more events than the
# kernel queues (IN_Q_OVERFLOW) while the daemon is stopped, and every
# job is still found by the rescan and completes.
. "$(dirname "$0")/lib.sh"
plan 4
max=$(cat /proc/sys/fs/inotify/max_queued_events)
# Each file: create, modify, close, moved_from, moved_to = 5 events.
N=$((max / 4 + 500))
# No periodic rescan within the test: only the overflow rescan can help.
RESCAN=600s setup
start_daemon

kill -STOP "$DPID"
perl -e '
	my ($d, $n) = @ARGV;
	for my $i (1 .. $n) {
		open(my $f, ">", "$d/.o$i.tmp") or die "$!";
		print $f "venue_id: v" . ($i % 20) . "\nprovider: lsfd\n";
		close($f) or die "$!";
		rename("$d/.o$i.tmp", "$d/o$i.yaml") or die "$!";
	}' "$T/spool/pending" "$N"
kill -CONT "$DPID"
wait_for 20 grep -q 'event=inotify_overflow' "$T/daemon.log"
ok $? "the daemon saw the queue overflow ($N files, queue of $max events)"
wait_for 240 count_is completed "$N"
ok $? "all $N jobs completed"
is "$(count pending)$(count processing)$(count failed)" "000" "none left behind"
kill -0 "$DPID"; ok $? "the daemon is alive"
stop_daemon
done_testing

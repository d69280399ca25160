#!/bin/sh
# A backlog found in pending at start-up is taken in name order (jobs of
# one venue and stem then sit together in every LMDB tree) and in long
# passes; once it is taken, a new drop is taken as usual.
. "$(dirname "$0")/lib.sh"
plan 5
SETTLE=200ms setup
N=5000
# Written in name order: neither ext4 (hash order) nor tmpfs (newest
# first) lists them back in that order.
perl -e '
	my ($dir, $n) = @ARGV;
	for my $i (1 .. $n) {
		my $name = sprintf("%s/b%05d-v%d.yaml", $dir, $i, $i % 50);
		open my $f, ">", $name or die "$!";
		print $f "venue_id: v" . ($i % 50) . "\nprovider: test\nnot_before: 2099-01-01T00:00:00Z\n";
		close $f or die "$!";
	}' "$T/spool/pending" "$N"
start_daemon
queued() { grep -c 'event=queued' "$T/daemon.log"; }
wait_for 120 sh -c "[ \$(grep -c 'event=queued' '$T/daemon.log') -ge $N ]"
ok $? "all $N queued ($(queued))"
grep 'event=queued' "$T/daemon.log" | sed 's/.* job=\([^ ]*\) .*/\1/' >"$T/order"
LC_ALL=C sort -c "$T/order" 2>"$T/sort.err"
ok $? "in name order ($(cat "$T/sort.err"))"
is "$(count pending)" "$N" "all still in pending"
drop late.yaml v1 test
wait_for 10 sh -c "grep -q 'event=queued job=late\.' '$T/daemon.log'"
ok $? "a drop after the backlog is taken"
wait_for 10 count_is completed 1
ok $? "and runs"
stop_daemon
done_testing

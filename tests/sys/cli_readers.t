#!/bin/sh
# The CLI's LMDB reads under stress. (1) The daemon grows the map (it
# starts tiny here) while CLI readers run all the time: every read
# succeeds. A reader blocked writing its output holds no read
# transaction, nor a reader slot. (2) Readers SIGKILLed inside their read transaction, many
# times: the stale slots they leave (mdb_stat -r) are cleared by the
# daemon's check at its next rescan (1 s here), and the daemon still
# commits. (3) With a slow rescan, killed readers still cannot fill
# LMDB's reader table: every store open clears the dead slots.
. "$(dirname "$0")/lib.sh"
plan 16
export SYNCSPOOL_DB_MAPSIZE=65536
RESCAN=1s setup
start_daemon

# reaped PID...: processes we have waited for leave EXTRA_PIDS (their ids
# may be reused by the time cleanup kills what is listed there).
reaped() { for _q; do EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$_q" | tr '\n' ' '); done; }
unset SYNCSPOOL_DB_MAPSIZE
NJOBS=${NJOBS:-2000}

S="$SYNCSPOOL -c $T/syncspool.yaml"
# Reader slots whose process is gone.
stale() {
	mdb_stat -r "$T/spool/db" | awk 'NR > 2 {print $1}' | sort -u | while read -r p; do
		kill -0 "$p" 2>/dev/null || echo "$p"
	done | wc -l | tr -d ' '
}
no_stale() { [ "$(stale)" -eq 0 ]; }
mapsize() { mdb_stat -e "$T/spool/db" | awk '/Map size:/ {print $3}'; }
# Jobs that wait for ever, written under dot-names and renamed in.
bulk() { # N VENUES
	perl -e '
		my ($dir, $n, $v) = @ARGV;
		for my $i (1 .. $n) {
			open my $f, ">", "$dir/.b$i.tmp" or die "$!";
			print $f "venue_id: bulk" . ($i % $v) . "\nprovider: test\nnot_before: 2099-01-01T00:00:00Z\n";
			close $f or die "$!";
		}
		rename "$dir/.b$_.tmp", "$dir/b$_.yaml" or die "$!" for 1 .. $n;
	' "$T/spool/pending" "$1" "$2"
}
indexed() { [ "$($S status --json 2>/dev/null | jq .providers.test.counts.pending)" -eq "$1" ]; }
# How long one `list --json` of everything takes, in ms (the longest of
# three): readers are killed 1 to 9 ms after they start, and at 10% to 90%
# of that, so that many of them die inside their read transaction,
# whatever the build's speed.
run_ms() {
	_max=0
	for _k in 1 2 3; do
		_t0=$(now_ms)
		$S list --json >/dev/null 2>&1
		_d=$(($(now_ms) - _t0))
		[ $_d -gt $_max ] && _max=$_d
	done
	echo $_max
}
# kill_readers N: start a reader, SIGKILL it a moment later, N times.
# The reader is `list --json` of everything, the longest read
# transaction; the moments are spread over its run time.
kill_readers() {
	set -- "$1" $DELAYS
	_n=$1
	shift
	_i=0
	while [ $_i -lt "$_n" ]; do
		for _d; do
			_i=$((_i + 1))
			$S list --json >/dev/null 2>&1 &
			_p=$!
			sleep "$_d"
			kill -KILL $_p 2>/dev/null
			wait $_p 2>/dev/null
		done
	done
}

# --- (1) reads while the map grows ---------------------------------------------
m0=$(mapsize)
(
	# Until the indexing is over and at least 20 reads are done (a slow
	# CLI under a sanitizer may manage fewer while it lasts); each read
	# says whether it began while the jobs were still being indexed.
	n=0
	while { [ ! -e "$T/reads.stop" ] || [ $n -lt 20 ]; } && [ $n -lt 3000 ]; do
		n=$((n + 1))
		during=1
		[ -e "$T/reads.stop" ] && during=0
		case $((n % 4)) in
		0) $S status --json >/dev/null 2>>"$T/reads.err" ;;
		1) $S list --json >/dev/null 2>>"$T/reads.err" ;;
		2) $S history test --venue bulk7 --limit 0 --json >/dev/null 2>>"$T/reads.err" ;;
		3) $S status test --venue bulk3 --json >/dev/null 2>>"$T/reads.err" ;;
		esac
		echo "$? $during" >>"$T/reads"
	done
) &
rp=$!
EXTRA_PIDS="$EXTRA_PIDS $rp"
bulk "$NJOBS" 50
wait_for 60 indexed "$NJOBS"
ok $? "$NJOBS waiting jobs are indexed"
touch "$T/reads.stop"
wait_for 20 sh -c "! kill -0 $rp 2>/dev/null" && wait $rp && reaped $rp
m1=$(mapsize)
[ "$m1" -gt "$m0" ]; ok $? "the daemon grew the map meanwhile ($m0 -> $m1 bytes)"
nreads=$(wc -l <"$T/reads" | tr -d ' ')
nduring=$(grep -c ' 1$' "$T/reads")
[ "$nreads" -ge 20 ] && [ "$nduring" -ge 2 ]
ok $? "readers ran all along ($nreads reads, $nduring while indexing)"
is "$(grep -cv '^0 ' "$T/reads")" 0 "every read succeeded"
[ -s "$T/reads.err" ] && diag "$(sort "$T/reads.err" | uniq -c | head -5)"

# --- (1b) a reader blocked on its output holds no read transaction ----------------
# `list --json` of everything into a pipe whose reader waits for a go:
# the CLI blocks writing, after its read transaction has ended.
rm -f "$T/go"
$S list --json 2>"$T/slow.err" | perl -e '
	my ($go, $out) = @ARGV;
	for (1 .. 600) { last if -e $go; select(undef, undef, undef, 0.05) }
	open my $o, ">", $out or die "$out: $!";
	print $o $_ while <STDIN>;' "$T/go" "$T/slow.out" &
rd=$!
EXTRA_PIDS="$EXTRA_PIDS $rd"
lp=
find_lister() { lp=$(pgrep -P $$ -f -- "list --json\$" | head -n 1); [ -n "$lp" ]; }
blocked() { find_lister && grep -Eqx '(anon_)?pipe_(write|wait)' "/proc/$lp/wchan"; }
wait_for 10 blocked
ok $? "a list --json whose reader does not read yet blocks writing its output"
slots=$(mdb_stat -r "$T/spool/db" | awk -v p="$lp" 'NR > 2 && $1 == p' | wc -l | tr -d ' ')
is "$slots" 0 "meanwhile it holds no reader slot (mdb_stat -r), so no snapshot"
touch "$T/go"
wait_for 10 sh -c "! kill -0 $rd 2>/dev/null"
wait $rd
reaped $rd
is "$(jq length "$T/slow.out")" "$NJOBS" "once read, it ends well, with the whole list"

# --- (2) killed readers, the daemon clears their slots --------------------------------
RUN_MS=$(run_ms)
DELAYS=$(awk -v ms="$RUN_MS" 'BEGIN { for (k = 1; k <= 9; k++) printf "0.00%d %.4f ", k, ms * k / 10 / 1000 }')
diag "a list of everything takes $RUN_MS ms: readers are killed after $DELAYS s"
seen=0
for round in 1 2 3 4 5; do
	kill_readers 36
	s=$(stale)
	[ "$s" -gt "$seen" ] && seen=$s
done
diag "up to $seen stale reader slots seen after 180 readers were killed"
# Every store open clears dead readers' slots, so they never pile up past
# one round's kills (without that they fill the 126-slot table).
[ "$seen" -le 36 ]; ok $? "SIGKILLed readers' slots do not pile up ($seen at most)"
wait_for 5 no_stale
ok $? "the daemon's check at its next rescan clears them (mdb_stat -r: no dead pid)"
is "$(mdb_stat -r "$T/spool/db" | awk 'NR > 2 {print $1}' | sort -u | tr '\n' ' ')" "$DPID " "the only reader left is the daemon"
id=$($S trigger test --venue after-kills)
wait_for 10 test -f "$T/spool/completed/$id.yaml"
ok $? "the daemon still commits: a new job completes"
wait_event "$id" completed
is "$($S history --job "$id" --json | jq -r 'map(.event) | join(" ")')" "completed started queued" "and its history is readable"

# --- (3) the reader table full of dead slots ----------------------------------------------
stop_daemon
RESCAN=1h write_config
start_daemon
full=0
i=0
while [ $i -lt 25 ]; do
	i=$((i + 1))
	kill_readers 36
	[ "$(stale)" -ge 110 ] && { full=1; break; }
done
s=$(stale)
diag "$s stale slots after $((i * 36)) killed readers (LMDB's table has 126)"
[ $full -eq 0 ]; ok $? "even with a rescan of 1 h the reader table never fills with dead slots"
kill_readers 54 # fill it up to the last slot
$S status --json >"$T/out" 2>"$T/err"
is "$?" 0 "status still reads (the CLI clears the dead slots)"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
$S history test --venue bulk1 --limit 5 --json | jq -en 'input | length == 5' >/dev/null
ok $? "history too"
id=$($S trigger test --venue after-full)
wait_for 10 test -f "$T/spool/completed/$id.yaml"
ok $? "and the daemon commits"

stop_daemon
done_testing

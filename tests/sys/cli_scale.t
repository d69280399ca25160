#!/bin/sh
# Scale: a venue's 10 jobs among 5,000 waiting jobs of 500 other venues.
# With the daemon running, `stop`, `status`, `history` (and `list`,
# `resume`) for that venue answer from the index: strace shows the CLI
# opens none of the other venues' job files (reading the directory's
# names is fine). The wall time of each is reported.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null 2>&1 || { echo "1..0 # SKIP strace is not installed"; exit 0; }
plan 19
setup
NBULK=${NBULK:-5000}
later=2099-01-01T00:00:00Z

# The other venues' jobs, written under dot-names, then renamed in.
perl -e '
	my ($dir, $n) = @ARGV;
	for my $i (1 .. $n) {
		open my $f, ">", "$dir/.o$i.tmp" or die "$!";
		print $f "venue_id: o" . ($i % 500) . "\nprovider: test\nnot_before: 2099-01-01T00:00:00Z\n";
		close $f or die "$!";
	}
	rename "$dir/.o$_.tmp", "$dir/o$_.yaml" or die "$!" for 1 .. $n;
' "$T/spool/pending" "$NBULK"
start_daemon
S="$SYNCSPOOL -c $T/syncspool.yaml"
indexed() { [ "$($S status --json 2>/dev/null | jq .providers.test.counts.pending)" -eq "$1" ]; }
wait_for 60 indexed "$NBULK"
ok $? "$NBULK waiting jobs of 500 venues are indexed"
ids=
for i in 1 2 3 4 5 6 7 8 9 10; do ids="$ids $($S trigger test --venue va --not-before $later)"; done
wait_for 20 indexed $((NBULK + 10))
ok $? "and venue va's 10"
is "$(ls "$T/spool/pending" | grep -c '^va-test\.')" 10 "va's 10 files are in pending"

# traced NAME CMD...: run the CLI under strace; its output in $T/NAME.out,
# the files it opened in $T/NAME.trace, its wall time (untraced) in ms.
traced() {
	_n=$1
	shift
	_t0=$(now_ms)
	strace -f -qq -e trace=open,openat,openat2 -o "$T/$_n.trace" $S "$@" >"$T/$_n.out" 2>"$T/$_n.err"
	_rc=$?
	_t1=$(now_ms)
	eval "time_$_n=\$((_t1 - _t0))"
	return $_rc
}
# The job files (*.yaml) a trace shows opened, other than va's.
# (The config file, $T/syncspool.yaml, is not a job file.)
job_opens() { grep -v "\"$T/syncspool.yaml\"" "$T/$1.trace" | grep -o '"[^"]*\.yaml"' | tr -d '"' | sed 's|.*/||'; }
foreign_opens() { job_opens "$1" | grep -v '^va-test\.' | sort -u; }
yaml_opens() { job_opens "$1" | wc -l | tr -d ' '; }
wall() { # CMD...: the wall time of a run without strace, in ms
	_t0=$(now_ms)
	$S "$@" >/dev/null 2>&1
	echo $(($(now_ms) - _t0))
}

traced status status test --venue va --json
is "$(jq -r .counts.pending "$T/status.out")" 10 "status: va has 10 pending"
is "$(foreign_opens status | wc -l | tr -d ' ')" 0 "status opened no other venue's job file"
is "$(yaml_opens status)" 0 "(nor any job file at all)"

traced history history test --venue va --limit 0 --json
is "$(jq length "$T/history.out")" 10 "history: va's 10 queued events"
is "$(foreign_opens history | wc -l | tr -d ' ')" 0 "history opened no other venue's job file"

traced list list --venue va --provider test --json
is "$(jq length "$T/list.out")" 10 "list --venue --provider: va's 10 jobs"
is "$(foreign_opens list | wc -l | tr -d ' ')" 0 "list opened no other venue's job file"

traced stop stop test --venue va
is "$(grep -c '^paused va-test\.' "$T/stop.out")" 10 "stop paused va's 10 jobs"
f=$(foreign_opens stop)
is "$(echo "$f" | grep -c .)" 0 "stop opened no other venue's job file"
[ -n "$f" ] && diag "opened: $(echo "$f" | head -5 | tr '\n' ' ')"
is "$(yaml_opens stop)" 0 "(nor va's own: the index says whose they are)"
is "$(ls "$T/spool/paused" | grep -c '^va-test\.'):$(ls "$T/spool/pending" | wc -l | tr -d ' ')" "10:$NBULK" "all of va's in paused, the others untouched in pending"

wait_for 10 sh -c "[ \$($S status test --venue va --json | jq .counts.paused) -eq 10 ]"
traced resume resume test --venue va
is "$(grep -c '^resumed va-test\.' "$T/resume.out")" 10 "resume: va's 10 back in pending"
is "$(foreign_opens resume | wc -l | tr -d ' ')" 0 "resume opened no other venue's job file"

# Wall times without strace.
wait_for 10 sh -c "[ \$($S status test --venue va --json | jq .counts.pending) -eq 10 ]"
w_stop=$(wall stop test --venue va)
wait_for 10 sh -c "[ \$($S status test --venue va --json | jq .counts.paused) -eq 10 ]"
w_status=$(wall status test --venue va)
w_history=$(wall history test --venue va --limit 0)
w_list=$(wall list --venue va --provider test)
w_resume=$(wall resume test --venue va)
w_all=$(wall list --json)
diag "wall time with $NBULK other jobs: stop ${w_stop} ms, status ${w_status} ms, history ${w_history} ms, list --venue ${w_list} ms, resume ${w_resume} ms; list of everything ${w_all} ms"
diag "under strace: stop ${time_stop} ms, status ${time_status} ms, history ${time_history} ms"
lim=$((2000 * ${TIMEOUT_SCALE:-1}))
[ "$w_stop" -lt "$lim" ] && [ "$w_status" -lt "$lim" ] && [ "$w_history" -lt "$lim" ]
ok $? "stop, status and history each take well under 2 s"

# The control: with the daemon stopped the index may lag, so stop reads
# every job file in pending (syncspool(1) says so), and strace sees it.
stop_daemon
traced stop_down stop test --venue va
is "$(grep -c '^paused va-test\.' "$T/stop_down.out")" 10 "with the daemon stopped, stop still pauses va's 10"
n=$(foreign_opens stop_down | wc -l | tr -d ' ')
[ "$n" -ge "$NBULK" ]; ok $? "and, as documented, reads every other job file to do it ($n): the trace sees opens"
diag "stop with the daemon stopped: ${time_stop_down} ms under strace"

done_testing

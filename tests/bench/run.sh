#!/bin/bash
# run.sh - the benchmark of issue 6: syncspoold side by side with the
# naive script (contrib/naive-spool.sh) and the floor (tests/bench/floor.c),
# on this machine, in one run. `make bench` builds with -O2 into
# build-bench/ and runs this; tests/bench/README.md says what each figure
# means and how it is taken.
#
# Prints a table (figure, target, PASS/FAIL) and a one-line summary, and
# writes every figure as JSON to $BENCH_OUT (default
# build-bench/bench-<UTC time>.json; build-bench/bench.json is the latest).
#
# Inputs (the Makefile sets the first three):
#   SYNCSPOOLD, SYNCSPOOL  the programs under test
#   BENCH_BIN              where floor, handler-stamp, handler-persist and
#                          fill-history are
#   BENCH_JOBS=20000       jobs in each throughput burst
#   BENCH_ROUNDS=3         bursts of syncspoold, floor and naive each, taken
#                          in turn; each figure is the median round's
#   BENCH_PRESENT=1000     jobs already in pending when each program starts
#   BENCH_DROPS=1000       single drops for the latency
#   BENCH_PENDING=100000   jobs pending at start-up for the scale run
#   BENCH_EVENTS=1000000   history events for status/history latency
#   BENCH_MOVE=10000       jobs of one venue+provider for stop and retry
#   BENCH_IDLE=10          seconds the idle daemon is watched
#   BENCH_LIMIT=300        seconds any one run may take before it is cut off
#   BENCH_ONLY="throughput latency idle scale history move"  parts to run
#                          (throughput = syncspoold, floor, naive,
#                          persistent, floor_dirsync; each can be named)
#   BENCH_FLOOR_DIRSYNC=1  run floor -d too (0: not)
#   BENCH_KEEP=1           keep the temporary directories (printed)
#   BENCH_OUT              the JSON file
#   BENCH_WRAP, BENCH_PERF, BENCH_PERF_EVENT  for profile.sh: a command
#                          prefix for the daemon, and a perf data file to
#                          record the daemon's burst (or start-up) into
#
# Every process started here is killed by its pid (the naive script's by
# its process group, which setsid gives it) when the script exits, and
# every directory is a mktemp -d under ${TMPDIR:-/tmp}, removed at exit
# (not before: see README.md on recently deleted inodes).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BENCH_BIN:-$TOP/build-bench}
SYNCSPOOLD=${SYNCSPOOLD:-$BIN/syncspoold}
SYNCSPOOL=${SYNCSPOOL:-$BIN/syncspool}
NAIVE=$TOP/contrib/naive-spool.sh
FLOOR=$BIN/floor
STAMP=$BIN/handler-stamp
FILL=$BIN/fill-history
NCPU=$(nproc)
N_BURST=${BENCH_JOBS:-20000}
N_PRESENT=${BENCH_PRESENT:-1000}
N_DROPS=${BENCH_DROPS:-1000}
N_SCALE=${BENCH_PENDING:-100000}
N_EVENTS=${BENCH_EVENTS:-1000000}
N_MOVE=${BENCH_MOVE:-10000}
IDLE_S=${BENCH_IDLE:-10}
LIMIT=${BENCH_LIMIT:-300}
ONLY=${BENCH_ONLY:-throughput latency idle scale history move}
STAMPED=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$BIN/bench-$STAMPED.json}
VENUES=1000   # the burst's jobs are spread over this many venues
ROUNDS=${BENCH_ROUNDS:-3}
case $ROUNDS in ''|*[!0-9]*|0) echo "run.sh: BENCH_ROUNDS must be a number >= 1" >&2; exit 64 ;; esac

for p in "$SYNCSPOOLD" "$SYNCSPOOL" "$FLOOR" "$STAMP" "$FILL" "$BIN/handler-persist"; do
	[ -x "$p" ] || { echo "run.sh: $p is missing; run make bench" >&2; exit 69; }
done
for t in perl jq inotifywait; do
	command -v $t >/dev/null || { echo "run.sh: needs $t" >&2; exit 69; }
done

# ---- bookkeeping ------------------------------------------------------

DIRS=
DPID=
DIED=     # the parts during which the daemon died
CUR=      # the part running
PIDS=     # other pids to kill at exit
PGIDS=    # process groups (setsid) to kill at exit
R=        # "key=value" lines: the results, turned into JSON at the end
declare -A RES

cleanup() {
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	for g in $PGIDS; do kill -KILL -- "-$g" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${BENCH_KEEP:-}" ]; then
		[ -n "$DIRS" ] && echo "# kept:$DIRS" >&2
	else
		for d in $DIRS; do rm -rf "$d"; done
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "# $*" >&2; }
set_res() { RES[$1]=$2; }
res() { echo "${RES[$1]:-}"; }
now_ns() { date +%s%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

newdir() { # sets _t to a fresh directory with a spool in it
	_t=$(mktemp -d "${TMPDIR:-/tmp}/syncspool-bench.XXXXXX") || exit 73
	DIRS="$DIRS $_t"
	mkdir -p "$_t/spool/pending" "$_t/spool/processing" \
		"$_t/spool/completed" "$_t/spool/failed" "$_t/spool/paused" \
		"$_t/spool/logs" "$_t/spool/db"
}

# count DIR: entries not starting with a dot (fast for 100k names)
count() {
	perl -e 'opendir(my $d, $ARGV[0]) or exit 1; my $n = 0;
		while (defined(my $e = readdir $d)) { $n++ if $e !~ /^\./ }
		print "$n\n"' "$1"
}

# config T PROVIDER COMMAND... ; extra provider lines in $PLINES
config() {
	_t=$1 _p=$2
	shift 2
	_cmd=$(printf '%s, ' "$@")
	{
		echo "spool: spool"
		echo "workers: $NCPU"
		echo "shutdown_grace: 5s"
		[ -n "${SETTLE:-}" ] && echo "settle: $SETTLE"
		[ -n "${BENCH_CGROUPS:-}" ] && echo "cgroups: $BENCH_CGROUPS"
		echo "providers:"
		echo "  $_p:"
		echo "    command: [${_cmd%, }]"
		echo "    concurrency: $NCPU"
		echo "    max_attempts: 1"
		[ -n "${PLINES:-}" ] && printf '%s\n' "$PLINES"
	} >"$_t/syncspool.yaml"
}

# start_daemon T: start syncspoold on T's config (under $DWRAP, a command
# prefix, when set) and wait for its start line. DPID is the daemon's pid,
# WPID the pid of what was started (the wrapper's, when there is one).
start_daemon() {
	${DWRAP:-} "$SYNCSPOOLD" -c "$1/syncspool.yaml" 2>>"$1/daemon.log" &
	WPID=$!
	DPID=$WPID
	PIDS="$PIDS $WPID"
	if [ -n "${DWRAP:-}" ]; then
		wait_until "${START_LIMIT:-20}" grep -q "event=start pid=" "$1/daemon.log"
		DPID=$(sed -n 's/.*event=start pid=\([0-9]*\).*/\1/p' "$1/daemon.log" | tail -n 1)
	fi
	wait_until "${START_LIMIT:-20}" grep -q "event=start pid=$DPID " "$1/daemon.log" ||
		{ tail "$1/daemon.log" >&2; echo "run.sh: syncspoold did not start" >&2; exit 70; }
}

stop_daemon() { # SIGTERM, bounded wait, SIGKILL
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _i in $(seq 1 600); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$DPID" 2>/dev/null
	wait "$WPID" 2>/dev/null
	DPID= WPID=
}

# wait_until SECONDS CMD...: poll every 50 ms; 1 on timeout, 2 at once
# when the daemon under test ($DPID) has died
wait_until() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		if [ -n "$DPID" ] && ! kill -0 "$DPID" 2>/dev/null; then
			wait "${WPID:-$DPID}" 2>/dev/null
			say "syncspoold (pid $DPID) died with status $?"
			DPID=
			DIED="$DIED $CUR"
			return 2
		fi
		sleep 0.05
	done
}

# proc_field PID NAME: a field of /proc/PID/status, number only
proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# The daemon's committer (syncspoold(8), INTERNALS): its figures count
# with the daemon's. pair_field PID KEY: the field summed over the two
# (VmHWM so is an upper bound: each peak is counted, and the LMDB pages
# both map, twice); committer_field PID KEY: the committer's alone.
committer_of() { pgrep -P "$1" -x syncspoold-db 2>/dev/null | head -n 1; }
committer_field() {
	_cm=$(committer_of "$1")
	[ -n "$_cm" ] && proc_field "$_cm" "$2" || echo 0
}
pair_field() { echo $(($(proc_field "$1" "$2") + $(committer_field "$1" "$2"))); }
# proc_cpu_ms PID: the process's own user+system CPU, in ms
proc_cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat" 2>/dev/null
}
# pair_cpu_ms PID: the daemon's and its committer's
pair_cpu_ms() {
	_cm=$(committer_of "$1") _cc=0
	[ -n "$_cm" ] && _cc=$(proc_cpu_ms "$_cm")
	echo $(($(proc_cpu_ms "$1") + ${_cc:-0}))
}

# prepare SPOOL N PREFIX: N job files as dot-files in pending, ready to
# be renamed in by `drop` (their venues spread over $VENUES). The names
# a burst lands under are as long as real ones, "v<venue>-bench-<PREFIX><i>
# .yaml": how many names fit in a pipe decides what the naive script
# loses when inotify's queue overflows.
prepare() {
	perl -e '
		my ($dir, $n, $pfx, $venues) = @ARGV;
		for my $i (1 .. $n) {
			open my $f, ">", "$dir/.$pfx$i.tmp" or die "$dir: $!";
			print $f "venue_id: v" . ($i % $venues) . "\nprovider: bench\n";
			close $f or die "$!";
		}' "$1/pending" "$2" "$3" "$VENUES"
}

# drop SPOOL N PREFIX: rename the prepared dot-files in, as fast as a
# tight loop can; prints "START_NS END_NS"
drop() {
	perl -MTime::HiRes=clock_gettime,CLOCK_REALTIME -e '
		my ($dir, $n, $pfx, $venues) = @ARGV;
		my $t0 = clock_gettime(CLOCK_REALTIME);
		for my $i (1 .. $n) {
			rename "$dir/.$pfx$i.tmp", "$dir/v" . ($i % $venues) . "-bench-$pfx$i.yaml" or die "$!";
		}
		my $t1 = clock_gettime(CLOCK_REALTIME);
		printf "%.0f %.0f\n", $t0 * 1e9, $t1 * 1e9;' "$1/pending" "$2" "$3" "$VENUES"
}

# wait_done SPOOL N STALL_S LIMIT_S: until completed+failed holds N files,
# or nothing new arrived there for STALL_S, or LIMIT_S passed. Prints
# "COMPLETED FAILED LAST_NS" where LAST_NS is the later modification
# time of completed/ and failed/: the moment the last job got there.
wait_done() {
	perl -MTime::HiRes=clock_gettime,CLOCK_REALTIME,sleep,stat -e '
		my ($sp, $n, $stall, $limit) = @ARGV;
		sub cnt { opendir(my $d, $_[0]) or return 0; my $c = 0;
			while (defined(my $e = readdir $d)) { $c++ if $e !~ /^\./ } $c }
		my $t0 = clock_gettime(CLOCK_REALTIME);
		my ($last, $lastt) = (-1, $t0);
		my ($c, $f);
		for (;;) {
			$c = cnt("$sp/completed"); $f = cnt("$sp/failed");
			my $now = clock_gettime(CLOCK_REALTIME);
			if ($c + $f != $last) { $last = $c + $f; $lastt = $now; }
			last if $c + $f >= $n;
			last if $now - $lastt > $stall || $now - $t0 > $limit;
			sleep(0.25);
		}
		my $m = (stat("$sp/completed"))[9];
		my $mf = (stat("$sp/failed"))[9];
		$m = $mf if $f > 0 && $mf > $m;
		printf "%d %d %.0f\n", $c, $f, $m * 1e9;' "$1" "$2" "$3" "$4"
}

fmt() { # fmt NUMBER DECIMALS: printf, or "-" for nothing
	if [ -z "$1" ] || [ "$1" = "null" ]; then echo "-"; else printf "%.${2}f" "$1"; fi
}
calc() { perl -e "printf '%.6g', $*" 2>/dev/null; }
pct() { [ -n "$1" ] && calc "$1 * 100"; }
mib() { [ -n "$1" ] && calc "$1 / 1024"; }

# ---- 1. throughput ----------------------------------------------------

# burst NAME: run NAME on a fresh spool: first N_PRESENT jobs already
# pending when it starts, then a burst of N_BURST renamed in as fast as
# perl can, with the program running. NAME is syncspoold, persistent
# (syncspoold with the provider in mode: persistent), naive or floor.
#
# BENCH_WRAP (a command prefix, e.g. valgrind) and BENCH_PERF (a perf
# data file: perf record -g of the daemon during the burst) serve
# profile.sh; they apply to the daemon's runs (syncspoold, persistent).
burst() {
	_name=$1
	newdir
	_sp=$_t/spool
	case $_name in
	persistent) PLINES="    mode: persistent" config "$_t" bench "$BIN/handler-persist" ;;
	*) config "$_t" bench /bin/true ;;
	esac
	say "throughput: $_name: $N_PRESENT present at start, then a burst of $N_BURST (load $(load))"
	prepare "$_sp" "$N_PRESENT" p
	drop "$_sp" "$N_PRESENT" p >/dev/null
	prepare "$_sp" "$N_BURST" j
	_pid= _perf=
	case $_name in
	syncspoold|persistent)
		if [ -n "${BENCH_WRAP:-}" ]; then
			DWRAP=$BENCH_WRAP START_LIMIT=120 start_daemon "$_t"
		else
			start_daemon "$_t"
		fi
		_pid=$DPID ;;
	naive)
		setsid sh "$NAIVE" "$_sp" /bin/true 2>"$_t/naive.err" &
		_pid=$!
		PGIDS="$PGIDS $_pid"
		wait_until 20 grep -q "Watches established" "$_t/naive.err" ||
			{ echo "run.sh: the naive script did not start" >&2; exit 70; } ;;
	floor|floor_dirsync)
		mkdir -p "$_t/floor-db"
		_dflag=
		[ "$_name" = floor_dirsync ] && _dflag=-d
		"$FLOOR" $_dflag -w "$NCPU" -n $((N_BURST + N_PRESENT)) -t "$LIMIT" "$_sp" "$_t/floor-db" /bin/true >"$_t/floor.out" 2>"$_t/floor.err" &
		_pid=$!
		PIDS="$PIDS $_pid" ;;
	esac
	# Those present at start: wait for them (or give up) before the burst.
	read -r _pc _pf _ < <(wait_done "$_sp" "$N_PRESENT" 5 "$LIMIT")
	set_res "${_name}_present_missed" $((N_PRESENT - _pc))
	if [ -n "${BENCH_PERF:-}" ] && [ -n "$DPID" ]; then
		perf record -q -e "${BENCH_PERF_EVENT:-cpu-clock}" -F 999 \
			--call-graph dwarf -o "$BENCH_PERF" -p "$DPID" 2>/dev/null &
		_perf=$!
		PIDS="$PIDS $_perf"
		sleep 0.5
	fi
	[ -n "$DPID" ] && _cpu0=$(pair_cpu_ms "$DPID")
	read -r _d0 _d1 < <(drop "$_sp" "$N_BURST" j)
	read -r _c _f _last < <(wait_done "$_sp" $((N_BURST + _pc + _pf)) 10 "$LIMIT")
	_c=$((_c - _pc)) _f=$((_f - _pf))
	[ "$_last" -lt "$_d1" ] && _last=$_d1
	set_res "${_name}_completed" "$_c"
	set_res "${_name}_failed" "$_f"
	set_res "${_name}_missed" $((N_BURST - _c))
	set_res "${_name}_seconds" "$(calc "($_last - $_d0) / 1e9")"
	set_res "${_name}_jobs_per_s" "$(calc "$_c / (($_last - $_d0) / 1e9)")"
	set_res "${_name}_drop_ms" "$(calc "($_d1 - $_d0) / 1e6")"
	if [ -n "$_perf" ]; then
		kill -INT "$_perf" 2>/dev/null
		wait "$_perf" 2>/dev/null
	fi
	case $_name in
	syncspoold|persistent)
		if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
			[ "$_c" -gt 0 ] && set_res "${_name}_cpu_ms_per_job" "$(calc "($(pair_cpu_ms "$DPID") - $_cpu0) / $_c")"
			set_res "${_name}_rss_kib" "$(pair_field "$DPID" VmHWM)"
			stop_daemon
		else
			say "syncspoold died during the $_name burst"
			DIED="$DIED $_name"
			DPID=
		fi
		set_res "${_name}_log_lines" "$(wc -l <"$_t/daemon.log")"
		grep -q 'level=error' "$_t/daemon.log" &&
			say "$_name: errors in the daemon log: $(grep 'level=error' "$_t/daemon.log" | head -n 3)" ;;
	naive)
		kill -TERM -- "-$_pid" 2>/dev/null
		sleep 0.2
		kill -KILL -- "-$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
		grep -q -i 'overflow' "$_t/naive.err" && set_res naive_overflowed 1 ;;
	floor|floor_dirsync)
		# It exits by itself after its last commit; give it 10 s.
		for _i in $(seq 1 100); do
			kill -0 "$_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
		say "$(cat "$_t/floor.out")"
		# Its own figures: jobs_per_s, and the mean ms of each step.
		for _k in jobs_per_s claim_ms spawn_ms move_ms dirsync_ms commit_ms; do
			set_res "${_name}_own_$_k" "$(sed -n "s/.* $_k=\([0-9.]*\).*/\1/p" "$_t/floor.out")"
		done ;;
	esac
	say "throughput: $_name: $(res "${_name}_jobs_per_s") jobs/s, $(res "${_name}_missed") of $N_BURST missed, $(res "${_name}_present_missed") of $N_PRESENT present missed (drop took $(res "${_name}_drop_ms") ms)"
	# The spool stays until the end: deleting 20,000 files here would
	# slow the next run's file creations (see README.md, "recently
	# deleted inodes").
}

# keep_round NAME R: NAME's figures of the burst just run, kept as round R
# (NAME_rR_...); the next burst of NAME overwrites NAME_... .
keep_round() {
	for _k in "${!RES[@]}"; do
		case $_k in
		"$1"_r[0-9]*_*) ;;
		"$1"_*) [ "$1" = floor ] && case $_k in floor_dirsync_*) continue ;; esac
			RES[$1_r$2_${_k#"$1"_}]=${RES[$_k]} ;;
		esac
	done
}

# pick_median NAME: NAME's figures become those of its median round by
# jobs/s (of an even count, the slower middle one); NAME_rounds lists each
# round's jobs/s in order, and the missed files are those of all rounds,
# since every burst must miss none.
pick_median() {
	_med=$(for _r in $(seq 1 "$ROUNDS"); do
		echo "$(res "$1_r${_r}_jobs_per_s") $_r"
	done | sort -g | sed -n "$(( (ROUNDS + 1) / 2 ))p" | cut -d' ' -f2)
	[ -n "$_med" ] || return
	for _k in "${!RES[@]}"; do
		case $_k in "$1"_r"$_med"_*) RES[$1_${_k#"$1"_r"$_med"_}]=${RES[$_k]} ;; esac
	done
	_all= _miss=0 _pmiss=0
	for _r in $(seq 1 "$ROUNDS"); do
		_all="$_all${_all:+ / }$(fmt "$(res "$1_r${_r}_jobs_per_s")" 0)"
		_miss=$((_miss + $(res "$1_r${_r}_missed")))
		_pmiss=$((_pmiss + $(res "$1_r${_r}_present_missed")))
	done
	set_res "$1_rounds" "$_all"
	set_res "$1_median_round" "$_med"
	set_res "$1_missed" "$_miss"
	set_res "$1_present_missed" "$_pmiss"
}

# ---- 2. latency, and 4. idle ------------------------------------------

latency() {
	newdir
	_sp=$_t/spool
	PLINES="    env: {STAMP_FILE: \"$_t/stamps\"}" config "$_t" bench "$STAMP"
	: >"$_t/stamps"
	DWRAP=${BENCH_WRAP:-} START_LIMIT=120 start_daemon "$_t"
	sleep 1
	say "latency: $N_DROPS single drops, one at a time, the daemon idle between (load $(load))"
	perl -MTime::HiRes=clock_gettime,CLOCK_REALTIME,sleep -e '
		my ($sp, $n, $stamps, $out) = @ARGV;
		open my $s, "<", $stamps or die "$stamps: $!";
		open my $o, ">", $out or die "$out: $!";
		my $miss = 0;
		for my $i (1 .. $n) {
			my $tmp = "$sp/pending/.l$i.tmp";
			open my $f, ">", $tmp or die "$!";
			print $f "venue_id: v" . ($i % 100) . "\nprovider: bench\n";
			close $f or die "$!";
			my $t0 = clock_gettime(CLOCK_REALTIME);
			rename $tmp, "$sp/pending/l$i.yaml" or die "$!";
			my ($line, $end) = ("", $t0 + 5);
			# A bounded poll for the handler'"'"'s line.
			while (clock_gettime(CLOCK_REALTIME) < $end) {
				my $l = <$s>;
				if (defined $l) { $line .= $l; last if $line =~ /\n$/; }
				else { seek $s, 0, 1; sleep(0.0001); }
			}
			unless ($line =~ /^(\d+) (\S+)$/) { $miss++; next; }
			my ($ns, $id) = ($1, $2);
			printf $o "%.0f\n", $ns - $t0 * 1e9;
			# Idle again: the job is in completed and its flush done.
			$end = clock_gettime(CLOCK_REALTIME) + 5;
			sleep(0.0005) until -e "$sp/completed/$id.yaml" || clock_gettime(CLOCK_REALTIME) > $end;
			sleep(0.01);
		}
		print "$miss\n";' "$_sp" "$N_DROPS" "$_t/stamps" "$_t/lat" >"$_t/lat.miss"
	set_res latency_missed "$(cat "$_t/lat.miss")"
	read -r _p50 _p99 _max _mean < <(sort -n "$_t/lat" | perl -e '
		my @v = <STDIN>; chomp @v; exit 1 unless @v;
		my $p = sub { $v[int($_[0] * $#v + 0.5)] / 1e6 };
		my $s = 0; $s += $_ for @v;
		printf "%.3f %.3f %.3f %.3f\n", $p->(0.5), $p->(0.99), $v[-1] / 1e6, $s / @v / 1e6;')
	set_res latency_p50_ms "${_p50:-}"
	set_res latency_p99_ms "${_p99:-}"
	set_res latency_max_ms "${_max:-}"
	set_res latency_mean_ms "${_mean:-}"
	say "latency: p50 $_p50 ms, p99 $_p99 ms, max $_max ms, $(res latency_missed) not seen"
	idle "$_t"
	stop_daemon
}

idle() { # the daemon of the latency run, left alone
	sleep 2
	_v0=$(proc_field "$DPID" voluntary_ctxt_switches)
	_n0=$(proc_field "$DPID" nonvoluntary_ctxt_switches)
	_c0=$(proc_cpu_ms "$DPID")
	sleep "$IDLE_S"
	_v1=$(proc_field "$DPID" voluntary_ctxt_switches)
	_n1=$(proc_field "$DPID" nonvoluntary_ctxt_switches)
	_c1=$(proc_cpu_ms "$DPID")
	set_res idle_wakeups_per_s "$(calc "(($_v1 - $_v0) + ($_n1 - $_n0)) / $IDLE_S")"
	set_res idle_cpu_ms "$((_c1 - _c0))"
	say "idle: $(res idle_wakeups_per_s) wake-ups/s over ${IDLE_S} s, $(res idle_cpu_ms) ms CPU"
}

# ---- 3. scale ---------------------------------------------------------

# status_total T PROVIDER: jobs of PROVIDER that LMDB knows, any state
status_total() {
	"$SYNCSPOOL" -c "$1/syncspool.yaml" status --json 2>/dev/null |
		jq ".providers.$2.counts | [.pending, .processing, .completed, .failed, .paused] | add"
}

scale() {
	newdir
	_sp=$_t/spool
	PLINES="    env: {STAMP_FILE: \"$_t/stamps\"}" config "$_t" bench "$STAMP"
	: >"$_t/stamps"
	say "scale: writing $N_SCALE uploads into pending"
	perl -e '
		my ($dir, $n) = @ARGV;
		for my $i (1 .. $n) {
			open my $f, ">", "$dir/v" . ($i % 1000) . "-bench-u$i.yaml" or die "$!";
			print $f "venue_id: v" . ($i % 1000) . "\nprovider: bench\n";
			close $f or die "$!";
		}' "$_sp/pending" "$N_SCALE"
	sleep 3   # older than the default settle time
	say "scale: starting syncspoold on $N_SCALE pending jobs (load $(load))"
	_t0=$(now_ns)
	${BENCH_WRAP:-} "$SYNCSPOOLD" -c "$_t/syncspool.yaml" 2>>"$_t/daemon.log" &
	DPID=$! WPID=$!
	PIDS="$PIDS $WPID"
	_perf=
	if [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -e "${BENCH_PERF_EVENT:-cpu-clock}" -F 999 \
			--call-graph dwarf -o "$BENCH_PERF" -p "$DPID" 2>/dev/null &
		_perf=$!
		PIDS="$PIDS $_perf"
	fi
	_first= _indexed= _queued=
	_end=$(($(date +%s) + LIMIT))
	while [ "$(date +%s)" -lt "$_end" ]; do
		if [ -z "$_first" ] && [ -s "$_t/stamps" ]; then
			_first=$(calc "($(head -n 1 "$_t/stamps" | cut -d' ' -f1) - $_t0) / 1e9")
		fi
		if [ -z "$_queued" ] && [ "$(grep -c 'event=queued' "$_t/daemon.log")" -ge "$N_SCALE" ]; then
			_queued=$(calc "($(now_ns) - $_t0) / 1e9")
		fi
		if [ -z "$_indexed" ] && [ "$(status_total "$_t" bench)" = "$N_SCALE" ]; then
			_indexed=$(calc "($(now_ns) - $_t0) / 1e9")
			set_res scale_rss_at_indexed_kib "$(pair_field "$DPID" VmHWM)"
		fi
		[ -n "$_first" ] && [ -n "$_indexed" ] && [ -n "$_queued" ] && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -n "$_perf" ]; then
		kill -INT "$_perf" 2>/dev/null
		wait "$_perf" 2>/dev/null
	fi
	sleep 1
	set_res scale_first_handler_s "$_first"
	set_res scale_queued_logged_s "$_queued"
	set_res scale_indexed_s "$_indexed"
	set_res scale_rss_kib "$(pair_field "$DPID" VmHWM)"
	set_res scale_rss_committer_kib "$(committer_field "$DPID" VmHWM)"
	# What the resident set is made of: the daemon's own memory
	# (anonymous) and LMDB's map of data.mdb (file pages), both processes.
	set_res scale_rss_anon_kib "$(pair_field "$DPID" RssAnon)"
	set_res scale_rss_file_kib "$(pair_field "$DPID" RssFile)"
	set_res scale_db_mib "$(du -m "$_sp/db/data.mdb" 2>/dev/null | cut -f1)"
	say "scale: first handler at $_first s, all queued (log) at $_queued s, all indexed (status) at $_indexed s, VmHWM $(res scale_rss_kib) KiB, daemon and committer (the committer's $(res scale_rss_committer_kib); now: anon $(res scale_rss_anon_kib) KiB, file $(res scale_rss_file_kib) KiB; data.mdb $(res scale_db_mib) MiB)"
	stop_daemon
}

# ---- 3b. history ------------------------------------------------------

# timeit RUNS CMD...: median, min and max wall time in ms, output discarded
timeit() {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
		my $n = shift; my @t;
		open my $out, ">&", \*STDOUT or die;
		open STDOUT, ">", "/dev/null"; open STDERR, ">", "/dev/null";
		for (1 .. $n) {
			my $t0 = clock_gettime(CLOCK_MONOTONIC);
			system(@ARGV);
			push @t, (clock_gettime(CLOCK_MONOTONIC) - $t0) * 1000;
		}
		@t = sort { $a <=> $b } @t;
		my $med = @t % 2 ? $t[$#t / 2] : ($t[@t / 2 - 1] + $t[@t / 2]) / 2;
		printf $out "%.3f %.3f %.3f\n", $med, $t[0], $t[-1];' "$@"
}

history() {
	newdir
	_sp=$_t/spool
	config "$_t" square /bin/true
	for _p in stripe mailchimp quickbooks bench; do
		printf '  %s:\n    command: [/bin/true]\n' "$_p" >>"$_t/syncspool.yaml"
	done
	say "history: writing $N_EVENTS events (load $(load))"
	"$FILL" -n "$N_EVENTS" "$_sp/db" square venue-bench >"$_t/fill.out" || exit 70
	say "$(cat "$_t/fill.out")"
	set_res history_db_mib "$(du -m "$_sp/db/data.mdb" | cut -f1)"
	_S="$SYNCSPOOL -c $_t/syncspool.yaml"
	$_S history square --venue venue-bench --limit 50 --json 2>/dev/null | jq length >"$_t/n" 2>/dev/null
	set_res history_rows "$(cat "$_t/n")"
	read -r _m _lo _hi < <(timeit 20 $_S status square --venue venue-bench)
	set_res status_ms "$_m"
	set_res status_ms_max "$_hi"
	read -r _m _lo _hi < <(timeit 20 $_S history square --venue venue-bench --limit 50)
	set_res history_ms "$_m"
	set_res history_ms_max "$_hi"
	# How much of that is starting a process that reads the config.
	read -r _m _lo _hi < <(timeit 20 $_S check)
	set_res cli_check_ms "$_m"
	say "history: status $(res status_ms) ms, history --limit 50 $(res history_ms) ms (rows $(res history_rows)); check $(res cli_check_ms) ms"
}

# ---- 3c. stop and retry -----------------------------------------------

vp_count() { # T STATE: the index's count of bench/vstop jobs in STATE
	"$SYNCSPOOL" -c "$1/syncspool.yaml" status bench --venue vstop --json 2>/dev/null | jq ".counts.$2"
}
vp_count_is() { [ "$(vp_count "$1" "$2")" = "$3" ]; }

move() {
	newdir
	_sp=$_t/spool
	config "$_t" bench /bin/true
	start_daemon "$_t"
	say "move: $N_MOVE waiting jobs of bench/vstop (load $(load))"
	perl -e '
		my ($dir, $n) = @ARGV;
		for my $i (1 .. $n) {
			open my $f, ">", "$dir/.m$i.tmp" or die "$!";
			print $f "venue_id: vstop\nprovider: bench\nnot_before: 2099-01-01T00:00:00Z\n";
			close $f or die "$!";
		}
		rename "$dir/.m$_.tmp", "$dir/m$_.yaml" or die "$!" for 1 .. $n;' "$_sp/pending" "$N_MOVE"
	if ! wait_until "$LIMIT" vp_count_is "$_t" pending "$N_MOVE"; then
		say "move: the daemon did not index $N_MOVE pending jobs"
		stop_daemon
		return
	fi
	_a=$(now_ns)
	"$SYNCSPOOL" -c "$_t/syncspool.yaml" stop bench --venue vstop >/dev/null 2>"$_t/stop.err"
	_rc=$?
	_b=$(now_ns)
	set_res stop_s "$(calc "($_b - $_a) / 1e9")"
	set_res stop_moved "$(count "$_sp/paused")"
	[ $_rc -eq 0 ] || say "move: stop exited $_rc: $(head -n 3 "$_t/stop.err")"
	wait_until "$LIMIT" vp_count_is "$_t" paused "$N_MOVE" &&
		set_res stop_indexed_s "$(calc "($(now_ns) - $_a) / 1e9")"
	# Retry needs failed jobs: an admin's mv of the paused ones, made
	# while the daemon is down, which it records when it starts.
	# (XXX with the daemon up, such a move crashed it: see README.md.)
	stop_daemon
	perl -e 'opendir(my $d, "$ARGV[0]/paused") or die; for (grep !/^\./, readdir $d) {
		rename "$ARGV[0]/paused/$_", "$ARGV[0]/failed/$_" or die "$!" }' "$_sp"
	_a=$(now_ns)
	START_LIMIT=$LIMIT start_daemon "$_t"
	if ! wait_until "$LIMIT" vp_count_is "$_t" failed "$N_MOVE"; then
		say "move: the daemon did not index $N_MOVE failed jobs"
		stop_daemon
		return
	fi
	set_res restart_reconcile_s "$(calc "($(now_ns) - $_a) / 1e9")"
	_a=$(now_ns)
	"$SYNCSPOOL" -c "$_t/syncspool.yaml" retry bench --venue vstop >/dev/null 2>"$_t/retry.err"
	_rc=$?
	_b=$(now_ns)
	set_res retry_s "$(calc "($_b - $_a) / 1e9")"
	set_res retry_moved "$(count "$_sp/pending")"
	[ $_rc -eq 0 ] || say "move: retry exited $_rc: $(head -n 3 "$_t/retry.err")"
	wait_until "$LIMIT" vp_count_is "$_t" pending "$N_MOVE" &&
		set_res retry_indexed_s "$(calc "($(now_ns) - $_a) / 1e9")"
	say "move: stop $(res stop_s) s ($(res stop_moved) moved; indexed after $(res stop_indexed_s) s), restart with them failed: $(res restart_reconcile_s) s to index, retry $(res retry_s) s ($(res retry_moved) moved; indexed after $(res retry_indexed_s) s)"
	stop_daemon
}

# ---- 0. the machine ----------------------------------------------------

# probe: what the file system charges here, so that runs on different
# days can be told apart: the mean cost of creating an empty file
# (O_CREAT|O_EXCL, 2,000 in a fresh directory; ext4 without a journal
# charges more while many inodes were deleted in the last minutes), and
# of an fsync of a directory after a rename in it (200 of them).
probe() {
	newdir
	read -r _cr _fs < <(perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -MFcntl -MIO::Handle -e '
		my $d = shift;
		my $t0 = clock_gettime(CLOCK_MONOTONIC);
		for my $i (1 .. 2000) {
			sysopen(my $f, "$d/c$i", O_WRONLY | O_CREAT | O_EXCL) or die "$!";
			close $f;
		}
		my $cr = (clock_gettime(CLOCK_MONOTONIC) - $t0) / 2000 * 1e6;
		sysopen(my $dh, $d, O_RDONLY | O_DIRECTORY) or die "$!";
		$t0 = clock_gettime(CLOCK_MONOTONIC);
		for my $i (1 .. 200) {
			rename "$d/c$i", "$d/r$i" or die "$!";
			$dh->sync or die "$!";
		}
		my $fs = (clock_gettime(CLOCK_MONOTONIC) - $t0) / 200 * 1e3;
		printf "%.1f %.3f\n", $cr, $fs;' "$_t/spool/pending")
	set_res probe_create_us "$_cr"
	set_res probe_dir_fsync_ms "$_fs"
	set_res fs_journal "$(cat /sys/fs/ext4/*/journal_task 2>/dev/null | head -n 1)"
	say "machine: creating a file $_cr us, rename + dir fsync $_fs ms (load $(load))"
}

# ---- the run ----------------------------------------------------------

# What is measured: the commit, and the uncommitted changes to src/, as
# they are now (the binaries were built just before).
GIT_COMMIT=$(git -C "$TOP" rev-parse HEAD 2>/dev/null)
GIT_DIRTY=$(git -C "$TOP" status --porcelain -- src 2>/dev/null | wc -l)
GIT_SRCDIFF=$(git -C "$TOP" diff HEAD -- src 2>/dev/null | sha1sum | cut -c1-12)
set_res load_before "$(load)"
set_res started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
T_START=$(date +%s)
say "syncspool bench: $NCPU CPUs, load $(load); results to $OUT"
probe
for part in $ONLY; do
	CUR=$part
	case $part in
	throughput)
		# In turn, so that a slow spell of the machine is shared.
		for _round in $(seq 1 "$ROUNDS"); do
			for _b in syncspoold floor naive; do
				burst "$_b"
				keep_round "$_b" "$_round"
			done
		done
		for _b in syncspoold floor naive; do pick_median "$_b"; done
		burst persistent
		[ "${BENCH_FLOOR_DIRSYNC:-1}" = 1 ] && burst floor_dirsync ;;
	syncspoold|persistent|naive|floor|floor_dirsync) burst "$part" ;;
	latency) latency ;;
	idle) ;; # measured on the latency run's daemon
	scale) scale ;;
	history) history ;;
	move) move ;;
	*) echo "run.sh: unknown part $part" >&2; exit 64 ;;
	esac
done
set_res load_after "$(load)"
set_res total_s $(($(date +%s) - T_START))

# ---- the table --------------------------------------------------------

PASS=0 FAIL=0 NA=0
verdict() { # verdict EXPR FIGURE...: PASS or FAIL; n/a when a figure is missing
	_e=$1
	shift
	for _x in "$@"; do
		case $_x in ''|null|*[!0-9.e+-]*) echo "n/a"; return ;; esac
	done
	if perl -e "my @f = @ARGV; exit(($_e) ? 0 : 1)" "$@" 2>/dev/null; then
		echo PASS
	else
		echo FAIL
	fi
}
d() { res "$1"; }
# row LABEL SYNCSPOOLD PERSISTENT NAIVE FLOOR TARGET RESULT
row() { printf '%-36s %11s %11s %11s %11s   %-20s %s\n' "$@"; }
# one LABEL VALUE TARGET RESULT: a figure of syncspoold alone
one() { row "$1" "$2" "" "" "" "${3:-}" "${4:-}"; }

S=$(d syncspoold_jobs_per_s) N=$(d naive_jobs_per_s) F=$(d floor_jobs_per_s)
P=$(d persistent_jobs_per_s)
[ -n "$P" ] && [ -n "$F" ] && set_res ratio_persistent_floor "$(calc "$P / $F")"
[ -n "$S" ] && [ -n "$F" ] && set_res ratio_floor "$(calc "$S / $F")"
[ -n "$S" ] && [ -n "$N" ] && set_res ratio_naive "$(calc "$S / $N")"
[ -n "$N" ] && [ -n "$F" ] && set_res ratio_naive_floor "$(calc "$N / $F")"
MISSED=
[ -n "$(d syncspoold_missed)" ] && MISSED=$(( $(d syncspoold_missed) + $(d syncspoold_present_missed) ))

v_floor=$(verdict '$f[0] >= 0.9' "$(d ratio_floor)")
v_naive=$(verdict '$f[0] >= 5' "$(d ratio_naive)")
v_missed=$(verdict '$f[0] == 0' "$MISSED")
v_p99=$(verdict '$f[0] <= 2 && $f[1] == 0' "$(d latency_p99_ms)" "$(d latency_missed)")
v_first=$(verdict '$f[0] <= 1' "$(d scale_first_handler_s)")
v_indexed=$(verdict '$f[0] <= 10' "$(d scale_indexed_s)")
v_rss=$(verdict '$f[0] <= 65536' "$(d scale_rss_kib)")
v_status=$(verdict '$f[0] <= 5' "$(d status_ms)")
v_history=$(verdict '$f[0] <= 5' "$(d history_ms)")
v_stop=$(verdict "\$f[0] <= 1 && \$f[1] == $N_MOVE" "$(d stop_s)" "$(d stop_moved)")
v_retry=$(verdict "\$f[0] <= 1 && \$f[1] == $N_MOVE" "$(d retry_s)" "$(d retry_moved)")
v_idle=$(verdict '$f[0] <= 1' "$(d idle_wakeups_per_s)")
v_pers=$(verdict '$f[0] >= 3 && $f[1] == 0' "$(d ratio_persistent_floor)" "$(d persistent_missed)")
for v in "$v_floor" "$v_naive" "$v_missed" "$v_p99" "$v_first" "$v_indexed" \
	"$v_rss" "$v_status" "$v_history" "$v_stop" "$v_retry" "$v_idle" "$v_pers"; do
	case $v in PASS) PASS=$((PASS + 1)) ;; FAIL) FAIL=$((FAIL + 1)) ;; *) NA=$((NA + 1)) ;; esac
done
of_floor() { [ -n "$1" ] && [ -n "$F" ] && echo "$(fmt "$(calc "$1 / $F * 100")" 1)%"; }

{
echo
echo "syncspool bench $(d started): $(uname -n), $NCPU CPUs, $(uname -r); load before $(d load_before), after $(d load_after)"
echo "source: ${GIT_COMMIT:0:12}, $GIT_DIRTY changed file(s) in src/ (diff ${GIT_SRCDIFF})"
echo "file system: create $(d probe_create_us) us/file, rename + dir fsync $(d probe_dir_fsync_ms) ms (mean; see README.md)"
echo "(persistent = syncspoold with the provider in mode: persistent; floor = tests/bench/floor.c, the fork floor)"
echo
row "" syncspoold persistent naive floor target result
row "throughput, jobs/s ($N_BURST burst)" "$(fmt "$S" 1)" "$(fmt "$P" 1)" "$(fmt "$N" 1)" "$(fmt "$F" 1)"
[ -n "$(d syncspoold_rounds)" ] && echo "  (the median of $ROUNDS rounds each; syncspoold $(d syncspoold_rounds), naive $(d naive_rounds), floor $(d floor_rounds))"
row "  of the floor" "$(of_floor "$S")" "$(of_floor "$P")" "$(of_floor "$N")" "$(of_floor "$F")" ">= 90%" "$v_floor"
row "  persistent / floor" "" "$(fmt "$(d ratio_persistent_floor)" 2)x" "" "" ">= 3x, 0 missed" "$v_pers"
row "  syncspoold / naive" "$(fmt "$(d ratio_naive)" 2)x" "" "" "" ">= 5x" "$v_naive"
row "  missed of the burst, all rounds" "$(d syncspoold_missed)" "$(d persistent_missed)" "$(d naive_missed)" "$(d floor_missed)" "0 (both rows)" "$v_missed"
row "  missed of $N_PRESENT present, all rounds" "$(d syncspoold_present_missed)" "$(d persistent_present_missed)" "$(d naive_present_missed)" "$(d floor_present_missed)"
row "  failed" "$(d syncspoold_failed)" "$(d persistent_failed)" "$(d naive_failed)" "$(d floor_failed)"
row "  daemon + committer CPU per job, ms" "$(fmt "$(d syncspoold_cpu_ms_per_job)" 3)" "$(fmt "$(d persistent_cpu_ms_per_job)" 3)"
row "  floor -d (+ dir fsyncs), jobs/s" "" "" "" "$(fmt "$(d floor_dirsync_jobs_per_s)" 1)"
row "  floor per job: spawn; commit, ms" "" "" "" "$(fmt "$(d floor_own_spawn_ms)" 2); $(fmt "$(d floor_own_commit_ms)" 2)"
row "  floor -d per job: dir fsyncs, ms" "" "" "" "$(fmt "$(d floor_dirsync_own_dirsync_ms)" 2)"
one "latency drop->start p50, ms" "$(fmt "$(d latency_p50_ms)" 3)"
one "latency drop->start p99, ms" "$(fmt "$(d latency_p99_ms)" 3)" "<= 2 ms" "$v_p99"
one "  max; drops not seen" "$(fmt "$(d latency_max_ms)" 3); $(d latency_missed)"
one "$N_SCALE pending: first handler, s" "$(fmt "$(d scale_first_handler_s)" 2)" "<= 1 s" "$v_first"
one "  all queued (daemon log), s" "$(fmt "$(d scale_queued_logged_s)" 2)"
one "  all indexed (status), s" "$(fmt "$(d scale_indexed_s)" 2)" "<= 10 s" "$v_indexed"
one "  peak RSS (VmHWM, + committer), MiB" "$(fmt "$(mib "$(d scale_rss_kib)")" 1)" "<= 64 MiB" "$v_rss"
one "  RSS after: anon; LMDB file, MiB" "$(fmt "$(mib "$(d scale_rss_anon_kib)")" 1); $(fmt "$(mib "$(d scale_rss_file_kib)")" 1)"
one "status at $N_EVENTS events, ms" "$(fmt "$(d status_ms)" 2)" "<= 5 ms" "$v_status"
one "history --limit 50, ms" "$(fmt "$(d history_ms)" 2)" "<= 5 ms" "$v_history"
one "  (syncspool check, for scale), ms" "$(fmt "$(d cli_check_ms)" 2)"
one "stop of $N_MOVE jobs, s" "$(fmt "$(d stop_s)" 3)" "<= 1 s" "$v_stop"
one "retry of $N_MOVE jobs, s" "$(fmt "$(d retry_s)" 3)" "<= 1 s" "$v_retry"
one "  stop; retry: indexed after, s" "$(fmt "$(d stop_indexed_s)" 2); $(fmt "$(d retry_indexed_s)" 2)"
one "  restart, $N_MOVE failed: indexed, s" "$(fmt "$(d restart_reconcile_s)" 2)"
one "idle wake-ups per s" "$(fmt "$(d idle_wakeups_per_s)" 2)" "<= 1/s" "$v_idle"
echo
[ -n "$DIED" ] && echo "syncspoold DIED during:$DIED (its daemon.log is kept with BENCH_KEEP=1)"
} | tee "${OUT%.json}.txt"

# ---- JSON -------------------------------------------------------------

{
	for k in "${!RES[@]}"; do printf '%s\t%s\n' "$k" "${RES[$k]}"; done
} | sort | jq -R -s --arg ncpu "$NCPU" --arg host "$(uname -n)" \
	--arg kernel "$(uname -r)" --arg commit "$GIT_COMMIT" \
	--arg dirty "$GIT_DIRTY" --arg srcdiff "$GIT_SRCDIFF" \
	--argjson params "{\"jobs\":$N_BURST,\"present\":$N_PRESENT,\"drops\":$N_DROPS,\"pending\":$N_SCALE,\"events\":$N_EVENTS,\"move\":$N_MOVE,\"idle_s\":$IDLE_S,\"venues\":$VENUES}" \
	--arg pass "$PASS" --arg fail "$FAIL" --arg na "$NA" '
	[split("\n")[] | select(length > 0) | split("\t") |
	 {key: .[0], value: (.[1] as $v | ($v | tonumber? // $v))}] | from_entries |
	{machine: {host: $host, cpus: ($ncpu | tonumber), kernel: $kernel},
	 source: {commit: $commit, src_files_changed: ($dirty | tonumber), src_diff_sha1: $srcdiff},
	 params: $params, results: .,
	 targets: {pass: ($pass | tonumber), fail: ($fail | tonumber), na: ($na | tonumber)}}' >"$OUT" &&
	cp "$OUT" "$BIN/bench.json"

SUMMARY="bench: $PASS pass, $FAIL fail, $NA n/a${DIED:+, daemon died in$DIED}; syncspoold $(fmt "$S" 0) jobs/s = $(fmt "$(pct "$(d ratio_floor)")" 0)% of floor ($(fmt "$F" 0)), $(fmt "$(d ratio_naive)" 1)x naive ($(fmt "$N" 0)), missed ${MISSED:--}; persistent $(fmt "$P" 0) jobs/s = $(fmt "$(d ratio_persistent_floor)" 1)x floor; p99 $(fmt "$(d latency_p99_ms)" 2) ms; $N_SCALE pending: first $(fmt "$(d scale_first_handler_s)" 2) s, indexed $(fmt "$(d scale_indexed_s)" 1) s, $(fmt "$(mib "$(d scale_rss_kib)")" 0) MiB; status $(fmt "$(d status_ms)" 1) ms, history $(fmt "$(d history_ms)" 1) ms; stop $(fmt "$(d stop_s)" 2) s, retry $(fmt "$(d retry_s)" 2) s; idle $(fmt "$(d idle_wakeups_per_s)" 2)/s; load $(d load_after); $(d total_s) s; JSON: $OUT"
echo "$SUMMARY" | tee -a "${OUT%.json}.txt"

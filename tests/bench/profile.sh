#!/bin/bash
# profile.sh - where syncspoold's time goes during a throughput burst
# (issue 6). `make bench-profile` builds build-bench/ and runs this.
#
# Three looks at the daemon, each during run.sh's throughput burst of
# syncspoold alone (handler /bin/true, workers = CPUs), written to
# $PROF (default build-bench/profile-<UTC time>/):
#
#   perf.txt       perf record -g of the daemon's pid (on-CPU samples,
#                  user and kernel), BENCH_JOBS (default 5000) jobs; the
#                  event is cpu-clock when the machine has no PMU (a VM);
#   callgrind.txt  callgrind_annotate of the daemon under valgrind
#                  --tool=callgrind (user-space instructions, inclusive),
#                  PROFILE_CG_JOBS (default 2000) jobs; valgrind 3.19 has
#                  no pidfd_open(2), so tests/valgrind's shim is preloaded
#                  when it is there (the Makefile's libpidfd_shim.so);
#   strace.txt     strace -c -w -f of the daemon (syscall counts and wall
#                  time in each, the forked children until their exec
#                  included), PROFILE_ST_JOBS (default 2000) jobs. strace
#                  slows every syscall: read the counts per job and the
#                  shares, not the rate.
#
#   timeline.txt   strace -f -ttt -T of one drop into an idle daemon: each
#                  syscall from the inotify read to the handler's execve
#                  (PROFILE_ONLY=timeline; not run by default).
#
# PROFILE_ONLY="perf callgrind strace" picks the parts; PROFILE_MODE=
# persistent profiles the daemon with its provider in mode: persistent
# instead of exec, and PROFILE_MODE=scale its start-up on BENCH_PENDING
# (default 20,000) waiting jobs, until they are all indexed (callgrind:
# BENCH_WRAP works there too; massif, e.g. PROFILE_ONLY=massif, shows
# what the peak RSS is made of). Each part's own jobs/s (slowed by its tool) is in
# summary.txt.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BENCH_BIN:-$TOP/build-bench}
PROF=${PROF:-$BIN/profile-$(date -u +%Y%m%dT%H%M%SZ)}
ONLY=${PROFILE_ONLY:-perf callgrind strace}
MODE=${PROFILE_MODE:-syncspoold}
mkdir -p "$PROF"
export BENCH_BIN=$BIN BENCH_PRESENT=0
[ "${PROFILE_MODE:-}" = scale ] && export BENCH_PENDING=${BENCH_PENDING:-20000}

say() { echo "# $*" >&2; }
summary() { echo "$*" | tee -a "$PROF/summary.txt"; }
jobs_per_s() {
	if [ "$MODE" = scale ]; then
		jq -r '"indexed in \(.results.scale_indexed_s // "-") s, VmHWM \(.results.scale_rss_kib // "-") KiB"' "$1"
	else
		jq -r ".results.${MODE}_jobs_per_s // \"-\" | tostring + \" jobs/s\"" "$1"
	fi
}

summary "profile of syncspoold ($MODE), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"

for part in $ONLY; do
	case $part in
	perf)
		if ! command -v perf >/dev/null; then
			summary "perf: not installed"
			continue
		fi
		ev=cycles
		perf stat -e cycles true >/dev/null 2>"$PROF/perf-stat.err"
		grep -q 'not supported\|<not counted>' "$PROF/perf-stat.err" && ev=cpu-clock
		say "perf: event $ev"
		BENCH_JOBS=${BENCH_JOBS:-5000} BENCH_ONLY=$MODE \
			BENCH_PERF="$PROF/perf.data" BENCH_PERF_EVENT=$ev \
			BENCH_OUT="$PROF/perf-run.json" bash "$TOP/tests/bench/run.sh" >/dev/null
		{
			echo "# perf record -e $ev -g -p <syncspoold>; self time by symbol"
			perf report -i "$PROF/perf.data" --no-children --sort dso,sym \
				--stdio -g none --percent-limit 0.7 2>/dev/null | grep -v '^$'
			echo
			echo "# the same, inclusive (children), by symbol"
			perf report -i "$PROF/perf.data" --children --sort sym \
				--stdio -g none --percent-limit 3 2>/dev/null | grep -v '^$'
		} >"$PROF/perf.txt"
		summary "perf: $(jobs_per_s "$PROF/perf-run.json") while sampled ($ev); $PROF/perf.txt"
		;;
	callgrind)
		if ! command -v valgrind >/dev/null; then
			summary "callgrind: valgrind not installed"
			continue
		fi
		wrap="valgrind --tool=callgrind --callgrind-out-file=$PROF/callgrind.out.%p"
		if make -s -C "$TOP" B="$(realpath --relative-to="$TOP" "$BIN")" \
			"$(realpath --relative-to="$TOP" "$BIN")/libpidfd_shim.so" >/dev/null 2>&1; then
			wrap="env LD_PRELOAD=$BIN/libpidfd_shim.so $wrap"
		else
			say "callgrind: no pidfd shim; valgrind may not run handlers"
		fi
		BENCH_JOBS=${PROFILE_CG_JOBS:-2000} BENCH_ONLY=$MODE \
			BENCH_WRAP="$wrap" BENCH_OUT="$PROF/callgrind-run.json" \
			bash "$TOP/tests/bench/run.sh" >/dev/null
		out=$(ls -S "$PROF"/callgrind.out.* 2>/dev/null | head -n 1)
		if [ -z "$out" ]; then
			summary "callgrind: no output"
			continue
		fi
		{
			echo "# callgrind_annotate --inclusive=yes (top 40)"
			callgrind_annotate --inclusive=yes "$out" 2>/dev/null | head -n 60
			echo
			echo "# callgrind_annotate, self (top 40)"
			callgrind_annotate "$out" 2>/dev/null | head -n 60
		} >"$PROF/callgrind.txt"
		summary "callgrind: $(jobs_per_s "$PROF/callgrind-run.json") under valgrind; $PROF/callgrind.txt"
		;;
	massif)
		wrap="valgrind --tool=massif --massif-out-file=$PROF/massif.out.%p"
		if make -s -C "$TOP" B="$(realpath --relative-to="$TOP" "$BIN")" \
			"$(realpath --relative-to="$TOP" "$BIN")/libpidfd_shim.so" >/dev/null 2>&1; then
			wrap="env LD_PRELOAD=$BIN/libpidfd_shim.so $wrap"
		fi
		BENCH_JOBS=${PROFILE_CG_JOBS:-2000} BENCH_ONLY=$MODE \
			BENCH_WRAP="$wrap" BENCH_OUT="$PROF/massif-run.json" \
			bash "$TOP/tests/bench/run.sh" >/dev/null
		out=$(ls -S "$PROF"/massif.out.* 2>/dev/null | head -n 1)
		[ -n "$out" ] && ms_print "$out" >"$PROF/massif.txt" 2>/dev/null
		summary "massif: $(jobs_per_s "$PROF/massif-run.json") under valgrind; $PROF/massif.txt"
		;;
	timeline)
		# One drop into an idle daemon, every syscall of the daemon and
		# of the handler's process until its execve, with the time since
		# the daemon read the inotify event (the last of 20 drops).
		if ! command -v strace >/dev/null; then
			summary "timeline: strace not installed"
			continue
		fi
		BENCH_ONLY=latency BENCH_DROPS=20 BENCH_IDLE=1 \
			BENCH_WRAP="strace -f -s 256 -ttt -T -o $PROF/timeline.raw" \
			BENCH_OUT="$PROF/timeline-run.json" bash "$TOP/tests/bench/run.sh" >/dev/null
		perl -e '
			my @l = <STDIN>;
			my ($from) = grep { $l[$_] =~ /read\(.*l20\.yaml/ } 0 .. $#l;
			defined $from or die "no inotify read of l20.yaml\n";
			my ($t0) = $l[$from] =~ /^\d+\s+([\d.]+)/;
			for my $i ($from .. $#l) {
				my ($pid, $t, $rest) = $l[$i] =~ /^(\d+)\s+([\d.]+) (.*)/ or next;
				$rest = substr($rest, 0, 110);
				printf "%8.3f ms  %-7s %s\n", ($t - $t0) * 1000, $pid, $rest;
				last if $rest =~ /^execve\(.*handler-stamp/;
			}' <"$PROF/timeline.raw" >"$PROF/timeline.txt" ||
			summary "timeline: could not find the drop in the trace"
		summary "timeline: one drop, traced (slowed by strace): $PROF/timeline.txt"
		;;
	strace)
		if ! command -v strace >/dev/null; then
			summary "strace: not installed"
			continue
		fi
		BENCH_JOBS=${PROFILE_ST_JOBS:-2000} BENCH_ONLY=$MODE \
			BENCH_WRAP="strace -c -w -f -o $PROF/strace.txt" \
			BENCH_OUT="$PROF/strace-run.json" bash "$TOP/tests/bench/run.sh" >/dev/null
		summary "strace: $(jobs_per_s "$PROF/strace-run.json") under strace; $PROF/strace.txt"
		;;
	*)
		echo "profile.sh: unknown part $part" >&2
		exit 64
		;;
	esac
done
summary "profile: $PROF"

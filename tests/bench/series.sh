#!/bin/bash
# series.sh SYNCSPOOLD [JOBS]: a throughput burst as a time series.
#
# JOBS (default 20,000) job files for a provider running /bin/true,
# written as dot-files in a fresh spool's pending/, are renamed in by one
# perl loop once the daemon runs; completed/ is counted every 200 ms and
# printed once a second (seconds since the first rename, jobs completed,
# jobs/s over the last 200 ms), then the rate = JOBS / (completed/'s
# mtime - the first rename). Shows where a burst loses time, which the
# single figure of run.sh cannot. SERIES_CONFIG: more top-level config
# lines (e.g. "cgroups: off"); SERIES_LIMIT: seconds before giving up.
set -u
D=${1:?usage: series.sh SYNCSPOOLD [JOBS]}
N=${2:-20000}
NCPU=$(nproc)
t=$(mktemp -d "${TMPDIR:-/tmp}/syncspool-series.XXXXXX") || exit 73
dp=
cleanup() {
	[ -n "$dp" ] && kill "$dp" 2>/dev/null && wait "$dp" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$t"/spool/{pending,processing,completed,failed,paused,logs,db}
{
	echo "spool: spool"
	echo "workers: $NCPU"
	[ -n "${SERIES_CONFIG:-}" ] && printf '%s\n' "$SERIES_CONFIG"
	echo "providers:"
	echo "  p:"
	echo "    command: [/bin/true]"
	echo "    concurrency: $NCPU"
	echo "    max_attempts: 1"
} >"$t/syncspool.yaml"
perl -e 'for my $i (1 .. $ARGV[1]) {
		my $v = $i % 1000;
		open(my $f, ">", "$ARGV[0]/.v$v-bench-j$i.yaml") or die "$!";
		print $f "venue_id: v$v\nprovider: p\n";
		close $f or die "$!";
	}' "$t/spool/pending" "$N"
: >"$t/daemon.log"
"$D" -c "$t/syncspool.yaml" 2>>"$t/daemon.log" &
dp=$!
end=$((SECONDS + 10))
until grep -q "event=start pid=$dp " "$t/daemon.log"; do
	[ $SECONDS -ge $end ] && { cat "$t/daemon.log" >&2; exit 1; }
	sleep 0.05
done
s0=$(date +%s.%N)
perl -e 'opendir(my $d, $ARGV[0]) or die "$!";
	for (grep { /^\.v/ } readdir $d) {
		rename("$ARGV[0]/$_", "$ARGV[0]/" . substr($_, 1)) or die "$!";
	}' "$t/spool/pending"
last=0 i=0
end=$((SECONDS + ${SERIES_LIMIT:-300}))
while :; do
	c=$(($(ls -f "$t/spool/completed" | wc -l) - 2))
	i=$((i + 1))
	if [ $((i % 5)) -eq 0 ] || [ "$c" -ge "$N" ]; then
		printf '%.1f %d %d\n' "$(echo "$(date +%s.%N) - $s0" | bc)" "$c" $(((c - last) * 5))
	fi
	last=$c
	[ "$c" -ge "$N" ] && break
	[ $SECONDS -ge $end ] && { echo "series: gave up at $c of $N" >&2; exit 1; }
	sleep 0.2
done
printf 'rate: %.1f jobs/s\n' "$(echo "$N / ($(stat -c %.3Y "$t/spool/completed") - $s0)" | bc -l)"

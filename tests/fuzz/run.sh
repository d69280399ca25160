#!/bin/sh
# run.sh DIR SECONDS HARNESS... - what `make fuzz` and `make fuzz-smoke`
# run, for each harness DIR/fuzz_<harness>:
#
#   1. every case in tests/fuzz/regress/<harness>/ once: each is an input
#      that once crashed the harness, and must not any more;
#   2. the seed corpus tests/fuzz/corpus/<harness>/ once;
#   3. fuzzing for SECONDS, from the seeds and from what earlier runs
#      found (DIR/work/<harness>/, where new inputs go; the tree's corpus
#      is only read). A crash, a leak, a timeout (10 s on one input) or
#      a broken contract is written to DIR/crash-<harness>-* and fails
#      the run: copy that file into tests/fuzz/regress/<harness>/ once
#      the bug is understood, so that step 1 replays it from then on.
set -eu
dir=$1
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0
for h in "$@"; do
	bin=$dir/fuzz_$h
	case $h in
	record) opts="-max_len=8192" ;;
	*) opts="-max_len=16384 -dict=$here/yaml.dict" ;;
	esac
	opts="$opts -timeout=10 -rss_limit_mb=2048"
	cases=$(find "$here/regress/$h" -type f ! -name '.*' ! -name 'README*' 2>/dev/null | sort)
	if [ -n "$cases" ]; then
		echo "fuzz_$h: replaying $(echo "$cases" | wc -l) regression cases"
		# shellcheck disable=SC2086 # the names are ours: no spaces
		"$bin" $opts $cases >"$dir/replay-$h.log" 2>&1 || {
			tail -n 40 "$dir/replay-$h.log"
			echo "fuzz_$h: a regression case fails (log: $dir/replay-$h.log)"
			status=1
			continue
		}
	fi
	mkdir -p "$dir/work/$h"
	echo "fuzz_$h: the seeds, then $secs s of fuzzing"
	# shellcheck disable=SC2086
	if ! "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="$dir/crash-$h-" "$dir/work/$h" \
	    "$here/corpus/$h" >"$dir/fuzz-$h.log" 2>&1; then
		tail -n 60 "$dir/fuzz-$h.log"
		echo "fuzz_$h: FAILED: see $dir/fuzz-$h.log and $dir/crash-$h-*"
		status=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' \
		"$dir/fuzz-$h.log" | sed "s/^/fuzz_$h: /"
	grep -E 'cov: [0-9]+' "$dir/fuzz-$h.log" | tail -n 1 | sed "s/^/fuzz_$h: /"
done
exit $status

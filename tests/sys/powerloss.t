#!/bin/sh
# powerloss.t - power losses at random moments: the daemon runs with
# tests/fault/powerloss.c preloaded, which journals every rename, unlink
# and directory fsync it makes and keeps a copy of data.mdb as of its last
# durable commit. At a random moment the daemon and its handlers are
# killed (SIGKILL: nothing survives a power loss), and tests/fault/powercut
# throws away what was not durable yet: renames not followed by an fsync
# of both their directories are undone, newest first, data.mdb goes back
# to its last durable commit, lock.mdb and db/running go. Then, before the
# daemon runs again:
#
#  - every dropped job is in the spool exactly once: none lost, none twice;
#  - every job LMDB knows has its file under its id (an upload's rename to
#    its id is durable before the commit that records it);
#  - a job LMDB calls completed, failed or paused is in that directory,
#    and a job history calls completed is in completed: nothing reported
#    done is back in pending or processing.
#
# The daemon is restarted (with a fresh journal) and the next batch
# dropped. At the end every job completes, exactly once by history, and
# LMDB agrees with the directories job by job.
#
# POWERLOSS_CUTS cuts (default 30) of POWERLOSS_BATCH jobs each (8), over
# 8 venues. Each cut comes at the daemon's Nth journaled event since its
# start, N random in 1..POWERLOSS_EVENTS (160, about what a batch makes:
# the shim kills the daemon there, POWERLOSS_KILL_AFTER), or, when that
# comes later, a random 0..POWERLOSS_GAP_MS ms (400) after the batch was
# dropped. Cuts by event land between a rename and its fsync, or an fsync
# and its commit, as often as anywhere; cuts by time land where time is
# spent. The handler sleeps 0-30 ms. POWERLOSS_SEED replays a run's
# choices (not the scheduling). POWERLOSS_LIB names the shim; by default
# libpowerloss.so beside $SYNCSPOOLD, else build/libpowerloss.so.
. "$(dirname "$0")/lib.sh"

PL_LIB=${POWERLOSS_LIB:-$(dirname "$SYNCSPOOLD")/libpowerloss.so}
[ -f "$PL_LIB" ] || PL_LIB=$TOP/build/libpowerloss.so
if [ ! -f "$PL_LIB" ]; then
	echo "1..0 # SKIP no libpowerloss.so (make \$(B)/libpowerloss.so)"
	exit 0
fi
CUT=$TOP/tests/fault/powercut
CUTS=${POWERLOSS_CUTS:-30}
BATCH=${POWERLOSS_BATCH:-8}
GAP_MS=${POWERLOSS_GAP_MS:-400}
EVENTS=${POWERLOSS_EVENTS:-160}
VENUES=8
SEED=${POWERLOSS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
JOBS=$((CUTS * BATCH))

plan 12
WORKERS=4 CONCURRENCY=4 MAX_ATTEMPTS=5 setup
diag "cuts=$CUTS jobs=$JOBS venues=$VENUES events=1..$EVENTS" \
	"gap_ms=0..$GAP_MS seed=$SEED"
PL=$T/powerloss
mkdir "$PL"

# The handler: its pid, so that the power loss can take it too; nothing
# on stdout or stderr (see crashloop.t).
HANDLER=$T/handler
cat >"$HANDLER" <<'EOF'
#!/bin/sh
exec </dev/null >/dev/null 2>&1
echo $$ >"$TEST_DIR/runs/$SYNCSPOOL_JOB_ID.pid"
[ "$SYNCSPOOL_OPTION_SLEEP" != 0 ] && sleep "$SYNCSPOOL_OPTION_SLEEP"
rm -f "$TEST_DIR/runs/$SYNCSPOOL_JOB_ID.pid"
exit 0
EOF
chmod +x "$HANDLER"
write_config

# The batches, made ahead outside the spool; each goes in by rename.
mkdir "$T/stage"
awk -v k="$CUTS" -v b="$BATCH" -v v="$VENUES" -v seed="$SEED" \
    -v dir="$T/stage" -v gap="$GAP_MS" -v ev="$EVENTS" 'BEGIN {
	srand(seed)
	for (c = 1; c <= k; c++) {
		system("mkdir " dir "/b" c)
		for (i = 0; i < b; i++) {
			n = (c - 1) * b + i
			f = sprintf("%s/b%d/pl%04d.yaml", dir, c, n)
			printf "venue_id: v%d\nprovider: test\noptions: {sleep: \"%.3f\"}\n",
			    n % v, int(rand() * 31) / 1000 >f
			close(f)
		}
		print int(rand() * (gap + 1)), int(rand() * ev) + 1 >(dir "/gaps")
	}
}'
[ "$(find "$T/stage" -name '*.yaml' | wc -l)" -eq "$JOBS" ] ||
	bail "the batches do not hold $JOBS jobs"

# start_pl [N]: start_daemon with the shim preloaded (the daemon only:
# its handlers get a clean environment, and the CLI runs without it); with
# N, the daemon kills itself at its Nth journaled event, which may come
# before it has logged its start: a power loss during start-up.
start_pl() {
	LD_PRELOAD=$PL_LIB POWERLOSS_DIR=$PL POWERLOSS_KILL_AFTER=${1:-0}
	# A sanitizer runtime wants to be first; the shim comes before it.
	_asan=$ASAN_OPTIONS
	ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
	export LD_PRELOAD POWERLOSS_DIR POWERLOSS_KILL_AFTER ASAN_OPTIONS
	"$SYNCSPOOLD" -c "$T/syncspool.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	unset LD_PRELOAD POWERLOSS_DIR POWERLOSS_KILL_AFTER
	ASAN_OPTIONS=$_asan
	wait_for 10 started_or_dead ||
		{ cat "$T/daemon.log" >&2; bail "syncspoold did not start"; }
}
started_or_dead() {
	grep -q "event=start pid=$DPID " "$T/daemon.log" || ! kill -0 "$DPID"
}
# wait_dead MS: until the daemon has killed itself, at most MS ms.
wait_dead() {
	_end=$(($(now_ms) + $1))
	while kill -0 "$DPID" 2>/dev/null && [ "$(now_ms)" -lt "$_end" ]; do
		sleep 0.01
	done
	! kill -0 "$DPID" 2>/dev/null
}

# power_loss: the daemon and every handler die at once, and whatever was
# not durable is lost. Appends powercut's figures to $T/figures.
power_loss() {
	if kill -0 "$DPID" 2>/dev/null; then
		echo timer >>"$T/how"
	else
		echo event >>"$T/how"
	fi
	kill9_daemon
	for f in "$T"/runs/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null)
		# Only a process that is still one of this test's handlers.
		[ -n "$p" ] && { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
			grep -qx "TEST_DIR=$T" && kill -KILL "$p" 2>/dev/null
		rm -f "$f"
	done
	"$CUT" "$PL" "$T/spool" >>"$T/figures" ||
		bail "powercut failed"
}

# where: "<name> <state>" for every file in a state directory.
where() {
	for s in pending processing completed failed paused; do
		ls "$T/spool/$s" | sed "s/\$/ $s/"
	done | sort
}

# check_cut N DROPPED: the spool as the power loss left it, against what
# LMDB says; each problem goes to $T/bad.<kind> as "cut N: ...".
check_cut() {
	where >"$T/where"
	# Every job dropped so far, by its uploaded stem, exactly once.
	sed 's/^\(pl[0-9]*\)\..*/\1/' "$T/where" | sort >"$T/stems"
	seq -f 'pl%04g' 0 $(($2 - 1)) | sort >"$T/dropped"
	if ! cmp -s "$T/stems" "$T/dropped"; then
		diff "$T/dropped" "$T/stems" | grep '^[<>]' |
			sed "s/^/cut $1: lost(<) or twice(>): /" >>"$T/bad.lost"
	fi
	[ -f "$T/spool/db/data.mdb" ] || return 0
	if ! cli list --json >"$T/list.json" 2>"$T/list.err"; then
		echo "cut $1: list --json failed: $(cat "$T/list.err")" >>"$T/bad.id"
		return 0
	fi
	grep -v 'is not running' "$T/list.err" >&2
	jq -r '.[] | "\(.job_id).yaml \(.state)"' "$T/list.json" | sort >"$T/lmdb"
	# Known to LMDB, but not under its id in any state directory.
	cut -d' ' -f1 "$T/where" | sort >"$T/names"
	cut -d' ' -f1 "$T/lmdb" | sort | comm -23 - "$T/names" |
		sed "s/^/cut $1: in LMDB, no such file: /" >>"$T/bad.id"
	# LMDB says completed, failed or paused: the file is there.
	grep -E ' (completed|failed|paused)$' "$T/lmdb" | comm -23 - "$T/where" |
		sed "s/^/cut $1: LMDB ahead of the directories: /" >>"$T/bad.state"
	# History says completed: the file is in completed.
	v=0
	while [ "$v" -lt "$VENUES" ]; do
		# (It says the daemon is not running: it knows.)
		cli history test --venue "v$v" --limit 0 --json 2>/dev/null
		v=$((v + 1))
	done | jq -r '.[] | select(.event == "completed") | "\(.job_id).yaml completed"' |
		sort -u | comm -23 - "$T/where" |
		sed "s/^/cut $1: history says completed, the file is elsewhere: /" \
		>>"$T/bad.history"
}

: >"$T/figures"
: >"$T/how"
: >"$T/bad.lost"
: >"$T/bad.id"
: >"$T/bad.state"
: >"$T/bad.history"
t0=$(now_ms)
i=0
while read -r gap n; do
	i=$((i + 1))
	start_pl "$n"
	# (mv may complain of a file the daemon renamed an instant after.)
	mv "$T/stage/b$i"/*.yaml "$T/spool/pending/" 2>/dev/null
	wait_dead "$gap"
	power_loss
	echo "test: power loss $i ($(tail -n 1 "$T/how"):" \
		"$(tail -n 1 "$T/figures"))" >>"$T/daemon.log"
	check_cut "$i" $((i * BATCH))
done <"$T/stage/gaps"
start_pl

# bad KIND NAME: a test that passes when no cut left a problem of KIND.
bad() {
	[ ! -s "$T/bad.$1" ]
	ok $? "$2"
	[ -s "$T/bad.$1" ] && diag "$(head -n 10 "$T/bad.$1")"
}
bad lost "after each of $CUTS power losses every job dropped is in the spool once"
bad id "after each power loss every job LMDB knows has its file under its id"
bad state "after each power loss LMDB calls no job completed, failed or paused that is not there"
bad history "after each power loss every job history calls completed is in completed"
kept=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^kept=/) s += substr($i, 6) }
	END { print s + 0 }' "$T/figures")
is "$kept" 0 "no rename was made durable while an earlier move of its file was not"

wait_for 60 count_is completed "$JOBS"
ok $? "all $JOBS jobs complete after the power losses"
t1=$(now_ms)

# ---- at the end ----
where >"$T/where"
is "$(wc -l <"$T/where" | tr -d ' ')" "$JOBS" "$JOBS job files in the spool, no more, no fewer"
is "$(grep -c '^pl[0-9]*\.[0-9TZ]*\.[0-9a-f]*\.yaml completed$' "$T/where")" \
	"$JOBS" "every file is <id>.yaml in completed"
sed 's/\.yaml / /' "$T/where" >"$T/where.ids"
lmdb_agrees() {
	cli list --json | jq -r '.[] | "\(.job_id) \(.state)"' | sort >"$T/lmdb"
	cmp -s "$T/where.ids" "$T/lmdb"
}
wait_for 10 lmdb_agrees
ok $? "list --json (the jobs database) matches the directories job by job"
[ -s "$T/where.ids" ] && ! cmp -s "$T/where.ids" "$T/lmdb" &&
	diag "$(diff "$T/where.ids" "$T/lmdb" | head -20)"
c='"\(.pending) \(.processing) \(.completed) \(.failed) \(.paused)"'
is "$(cli status --json | jq -r ".providers.test.counts | $c")" "0 0 $JOBS 0 0" \
	"status --json: the provider's counts equal the directories"
v=0
while [ "$v" -lt "$VENUES" ]; do
	cli history test --venue "v$v" --limit 0 --json | jq -c '.[]'
	v=$((v + 1))
done >"$T/history"
ncompleted=$(jq -r 'select(.event == "completed") | .job_id' "$T/history" | sort -u | wc -l | tr -d ' ')
ncompleted_ev=$(jq -r 'select(.event == "completed") | .job_id' "$T/history" | wc -l | tr -d ' ')
is "$ncompleted/$ncompleted_ev" "$JOBS/$JOBS" \
	"history: exactly one completed event per job (none run again after it was recorded done)"

stop_daemon
ok $? "the daemon stops cleanly"
sum() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1)
	s += substr($i, length(k) + 2) } END { print s + 0 }' "$T/figures"; }
wall=$(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100))
diag "figures: cuts=$CUTS jobs=$JOBS renames=$(sum renames)" \
	"durable=$(sum durable) undone=$(sum undone) kept=$(sum kept)" \
	"dirsyncs=$(sum dirsyncs) commits=$(sum commits)" \
	"commits_rolled_back=$(sum rolled_back) pages_rolled_back=$(sum pages)" \
	"unsynced_unlinks=$(sum unsynced_unlinks)" \
	"cuts_by_event=$(grep -c event "$T/how") cuts_by_time=$(grep -c timer "$T/how")" \
	"wall=${wall}s seed=$SEED"
done_testing

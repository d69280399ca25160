#!/bin/sh
# faults.t - the daemon under failing system calls (tests/fault/inject.c,
# an LD_PRELOAD shim switched by a control file while the daemon runs):
#
#  1. a tiny initial LMDB map (SYNCSPOOL_DB_MAPSIZE=65536): the map grows
#     (MDB_MAP_FULL) and every job completes;
#  2. ENOSPC and EIO at every rename, every directory fsync, every LMDB
#     commit (all its writes, or only its data sync), with jobs running
#     and jobs dropped meanwhile: the daemon keeps running, says what
#     failed, retries at its pace (IO_RETRY_MS) rather than in a loop,
#     records nothing while no move can be made durable, reports nothing
#     done that is not in completed, stops claiming while the disk is
#     full (ENOSPC), and once the fault is off every job completes;
#  3. a disk that says it is full (statvfs): the daemon stops claiming,
#     says so in its log, and resumes by itself;
#  4. one EIO on LMDB's meta page write, after which LMDB refuses every
#     later transaction of that environment (MDB_PANIC);
#  5. a CLI killed inside its read transaction 200 times: the daemon's
#     periodic mdb_reader_check (every rescan, 1 s here) clears the slots,
#     and data.mdb grows by a bounded amount, then no more;
#  6. two crashes, each between a move and the commit that records it:
#     history must still tell of the run they cut.
#
# INJECT_LIB names the shim; by default libinject.so beside $SYNCSPOOLD,
# else build/libinject.so. READER_KILLS: how many CLIs to kill (200; 50
# under valgrind, TIMEOUT_SCALE > 1).
. "$(dirname "$0")/lib.sh"

INJECT_LIB=${INJECT_LIB:-$(dirname "$SYNCSPOOLD")/libinject.so}
[ -f "$INJECT_LIB" ] || INJECT_LIB=$TOP/build/libinject.so
if [ ! -f "$INJECT_LIB" ]; then
	echo "1..0 # SKIP no libinject.so (make \$(B)/libinject.so)"
	exit 0
fi
KILLS=${READER_KILLS:-200}
MAPJOBS=300
# Under valgrind (make check-valgrind) the daemon is some 20 times slower.
if [ "${TIMEOUT_SCALE:-1}" -gt 1 ]; then KILLS=${READER_KILLS:-50} MAPJOBS=100; fi
FAULTS="rename:ENOSPC rename:EIO dirfsync:EIO dirfsync:ENOSPC commit:ENOSPC commit:EIO sync:EIO"
WINDOW=1.5 # seconds each fault lasts

plan $((4 + 7 * 8 + 3 + 3 + 5 + 4 + 5 + 2 + 10))
RESCAN=1s MIN_FREE=1% WORKERS=4 CONCURRENCY=4 setup
CTL=$T/inject
ILOG=$T/inject.log
: >"$ILOG"
: >"$T/unindexed"

# must_ok RC NAME WHAT: a test of what a daemon bug once broke (WHAT).
must_ok() { ok "$1" "$2"; }

# start_injected: start_daemon with the shim preloaded (only the daemon:
# handlers get a clean environment, and the CLI is run without it).
start_injected() {
	LD_PRELOAD=$INJECT_LIB INJECT_FILE=$CTL INJECT_LOG=$ILOG
	# A sanitizer runtime wants to be first; the shim comes before it.
	_asan=$ASAN_OPTIONS
	ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
	export LD_PRELOAD INJECT_FILE INJECT_LOG ASAN_OPTIONS
	start_daemon
	unset LD_PRELOAD INJECT_FILE INJECT_LOG
	ASAN_OPTIONS=$_asan
}
# fault_on RULE...: one rule per argument ("commit EIO", "full").
fault_on() { printf '%s\n' "$@" >"$CTL.tmp" && mv "$CTL.tmp" "$CTL"; }
fault_off() { rm -f "$CTL"; }
injected() { grep -c "kind=$1 " "$ILOG"; }
injected_ge() { [ "$(injected "$1")" -ge "$2" ]; }
log_lines() { wc -l <"$T/daemon.log" | tr -d ' '; }
# log_since LINE PATTERN: the daemon logged PATTERN after line LINE.
log_since() { tail -n +"$(($1 + 1))" "$T/daemon.log" | grep -q "$2"; }

# History: every venue any job uses, into $T/history (one event a line).
VENUES="r0 r1 r2 r3 s0 s1 s2 s3"
snap() {
	for v in $VENUES; do
		cli history test --venue "$v" --limit 0 --json | jq -c '.[]'
	done >"$T/history"
}
n_events() { wc -l <"$T/history" | tr -d ' '; }
n_completed() { grep -c '"event":"completed"' "$T/history"; }
n_started() { grep -c '^start ' "$T/stamps"; }
# runs_started PATTERN N: N handlers of jobs matching PATTERN started.
runs_started() { [ "$(grep -c "^start .* $1" "$T/stamps")" -ge "$2" ]; }
# The jobs history (as of snap) calls completed whose file is not in
# completed: reported done, and not durably so.
done_not_durable() {
	jq -r 'select(.event == "completed") | .job_id' "$T/history" |
		sort -u >"$T/said"
	ls "$T/spool/completed" | sed 's/\.yaml$//' | sort >"$T/is"
	comm -23 "$T/said" "$T/is"
}
# The jobs database (list --json) against the directories, job by job,
# but for the jobs in $T/unindexed (see part 4).
where_vs_lmdb() {
	for s in pending processing completed failed paused; do
		ls "$T/spool/$s" | sed "s/\.yaml\$/ $s/"
	done | grep -v -F -f "$T/unindexed" | sort >"$T/where"
	cli list --json | jq -r '.[] | "\(.job_id) \(.state)"' |
		grep -v -F -f "$T/unindexed" | sort >"$T/lmdb"
	cmp -s "$T/where" "$T/lmdb"
}
# drop_many N PREFIX VENUE-PREFIX [YAML]: N jobs over 4 venues, by rename.
total=0
drop_many() {
	mkdir -p "$T/stage"
	_i=0
	while [ "$_i" -lt "$1" ]; do
		job "$T/stage/$2$_i.yaml" "$3$((_i % 4))" test ${4:+"$4"}
		_i=$((_i + 1))
	done
	# mv may complain of a file the daemon renamed an instant after.
	mv "$T/stage/"*.yaml "$T/spool/pending/" 2>/dev/null
	[ -z "$(ls "$T/stage")" ] || bail "drop_many: files left in $T/stage"
	total=$((total + $1))
}
all_done() { count_is completed "$total" && count_is pending 0 && count_is processing 0; }

# ---- 1. a tiny map ----
SYNCSPOOL_DB_MAPSIZE=65536
export SYNCSPOOL_DB_MAPSIZE
start_daemon
unset SYNCSPOOL_DB_MAPSIZE
drop_many $MAPJOBS map. s
wait_for 60 all_done
ok $? "map of 64 KiB: all $MAPJOBS jobs complete"
mapsize=$(mdb_stat -e "$T/spool/db" | awk '/Map size/ { print $3 }')
[ "${mapsize:-0}" -gt 65536 ]
ok $? "the map grew (MDB_MAP_FULL): now $mapsize bytes"
wait_for 5 where_vs_lmdb
ok $? "LMDB agrees with the directories"
snap
is "$(n_completed)" $MAPJOBS "history has the $MAPJOBS completions"
stop_daemon

# ---- 2. ENOSPC and EIO at each step ----
start_injected
n=0
for f in $FAULTS; do
	kind=${f%%:*} err=${f#*:} n=$((n + 1))
	case $err in
	ENOSPC) text="No space left on device" ;;
	EIO) text="Input/output error" ;;
	esac
	case $kind in
	rename) ev=move_failed ;;
	dirfsync) ev=fsync_failed ;;
	*) ev=commit_failed ;;
	esac
	# Two jobs run across the fault's start; four more come during it.
	drop_many 2 "run$n." r 'options: {sleep: 0.5}'
	wait_for 10 runs_started "run$n\\." 2 ||
		diag "$f: the running jobs did not start"
	i0=$(wc -l <"$ILOG")
	logf=$(log_lines)
	fault_on "$kind $err"
	sleep 0.2
	snap
	ev0=$(n_completed) st0=$(n_started) all0=$(n_events) log0=$(log_lines)
	drop_many 4 "new$n." s
	sleep $WINDOW
	snap
	kill -0 "$DPID" 2>/dev/null
	ok $? "$kind $err: the daemon keeps running"
	ni=$(tail -n +"$((i0 + 1))" "$ILOG" | grep -c "kind=$kind ")
	[ "$ni" -gt 0 ]
	ok $? "$kind $err: faults were injected ($ni)"
	log_since "$log0" "event=$ev.*$text"
	ok $? "$kind $err: the log says event=$ev with '$text'"
	# Six jobs and a flush, each retried every second at most.
	nlog=$(tail -n +"$((log0 + 1))" "$T/daemon.log" | grep -c "event=$ev")
	[ "$nlog" -le 40 ]
	ok $? "$kind $err: failed steps retried at a bounded pace ($nlog lines in ${WINDOW}s)"
	is "$(n_completed)" "$ev0" "$kind $err: nothing reported completed while it fails"
	if [ "$kind" = rename ]; then
		# No claim can move a file to processing.
		is "$(n_started)" "$st0" "$kind $err: no handler started while it fails"
	else
		# Handlers may run (their pids are in db/running, not LMDB),
		# but no move is durable, so nothing may be recorded.
		is "$(n_events)" "$all0" "$kind $err: history records nothing while it fails"
	fi
	is "$(done_not_durable)" "" "$kind $err: no completed event for a file not in completed"
	if [ "$err" = ENOSPC ]; then
		# The disk is full: once the daemon has seen it (a write
		# failed), no new work until there is room again.
		wait_for 5 log_since "$logf" event=space_low
		ok $? "$kind $err: it says the disk is full (event=space_low)"
		st1=$(n_started)
		sleep 1
		is "$(n_started)" "$st1" "$kind $err: and claims nothing while it is"
	fi
	fault_off
	wait_for 30 all_done
	ok $? "$kind $err: switched off, all $total jobs complete"
done
wait_for 5 where_vs_lmdb
ok $? "after the faults LMDB agrees with the directories"
cmp -s "$T/where" "$T/lmdb" || diag "$(diff "$T/where" "$T/lmdb" | head -10)"
snap
is "$(done_not_durable)" "" "no completed event for a file not in completed"
is "$(count failed)" 0 "no job failed"
is "$(n_completed)" "$total" "history: one completion per job"
kill -0 "$DPID"
ok $? "the daemon is still the one started before the faults"

# ---- 3. a full disk ----
drop_many 2 full.run. r 'options: {sleep: 0.5}'
wait_for 10 runs_started 'full\.run\.' 2
log0=$(log_lines)
fault_on full
wait_for 5 log_since "$log0" event=space_low
ok $? "full: the log says event=space_low"
st0=$(n_started)
drop_many 4 full.new. s
# The running jobs finish; then a second more for a claim to show.
wait_for 10 count_is processing 0
sleep 1
is "$(n_started)/$(count processing)/$(count pending)" "$st0/0/4" \
	"full: it claims nothing (the running jobs finish, four wait in pending)"
fault_off
wait_for 10 log_since "$log0" event=space_ok
ok $? "full: the log says event=space_ok when space is back"
wait_for 30 all_done
ok $? "full: then all $total jobs complete"

# ---- 4. EIO on LMDB's meta page write ----
# LMDB marks its environment fatal after a failed meta page write
# (mdb_env_write_meta: MDB_FATAL_ERROR), and every later transaction
# fails with MDB_PANIC until the environment is closed and opened again.
fault_on "meta EIO 1"
drop_many 2 meta. s
wait_for 10 injected_ge meta 1
ok $? "meta EIO: injected once"
fault_off
sleep 1
if ! kill -0 "$DPID" 2>/dev/null; then
	# Exiting for a restart is a fair answer too.
	wait "$DPID"
	diag "meta EIO: the daemon exited with status $?; restarting it"
	DPID=
	start_injected
fi
drop_many 2 late. s
wait_for 20 all_done && wait_for 3 where_vs_lmdb
rc=$?
must_ok $rc "meta EIO: after it, every job completes and is recorded" \
	"daemon: after MDB_PANIC every commit fails for good; the store is never reopened"
if [ "$rc" -ne 0 ]; then
	diag "$(grep -c event=commit_failed "$T/daemon.log") commit_failed lines; last: $(grep event=commit_failed "$T/daemon.log" | tail -n 1)"
	diag "files: $(count pending) pending $(count processing) processing $(count completed) completed; $(diff "$T/where" "$T/lmdb" | grep -c '^<') not in LMDB as they are"
	# What a restart makes of it: at start-up the directories win.
	kill9_daemon
	start_injected
	wait_for 30 all_done
	wait_for 3 where_vs_lmdb
	must_ok $? "meta EIO: a restarted daemon indexes the jobs it could not record" \
		"daemon: start-up reconcile leaves job files in completed/ that have no LMDB record out of the index"
	diff "$T/where" "$T/lmdb" | sed -n 's/^< \([^ ]*\) .*/\1/p' >"$T/unindexed"
	diag "unindexed after the restart: $(tr '\n' ' ' <"$T/unindexed")"
else
	ok 0 "meta EIO: no restart needed"
fi
snap
is "$(done_not_durable)" "" "meta EIO: no completed event for a file not in completed"

# ---- 5. readers killed inside their read transaction ----
db=$T/spool/db
size0=$(stat -c %s "$db/data.mdb")
echo "reader" >"$T/reader.ctl"
: >"$T/reader.log"
drop_many 100 rk. s
i=0 waited=0 t0=$(now_ms)
while [ "$i" -lt "$KILLS" ]; do
	i=$((i + 1))
	LD_PRELOAD=$INJECT_LIB INJECT_FILE=$T/reader.ctl INJECT_LOG=$T/reader.log \
	ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 \
		"$SYNCSPOOL" -c "$T/syncspool.yaml" history test --venue s$((i % 4)) \
		--limit 0 --json >/dev/null 2>&1 &
	p=$!
	EXTRA_PIDS="$EXTRA_PIDS $p"
	# Killed once it is inside its read transaction, holding a slot
	# (polled more often than wait_for does: this runs 200 times).
	end=$(($(now_ms) + 10000))
	until grep -q "pid=$p kind=reader" "$T/reader.log"; do
		[ "$(now_ms)" -lt "$end" ] || break
		sleep 0.01
	done
	grep -q "pid=$p kind=reader" "$T/reader.log" && waited=$((waited + 1))
	kill -KILL "$p"
	wait "$p" 2>/dev/null
	EXTRA_PIDS=
	# Keep the daemon writing, so that pinned pages would show.
	[ $((i % 50)) -eq 0 ] && drop_many 25 "rk$i." s
done
t1=$(now_ms)
is "$waited" "$KILLS" "$KILLS CLIs killed inside their read transaction ($(((t1 - t0) / KILLS)) ms each)"
# stale: reader-table pids that are not alive (mdb_stat's own aside).
stale() {
	sh -c 'echo $$; exec mdb_stat -r "$1"' sh "$db" >"$T/readers" 2>&1
	self=$(head -n 1 "$T/readers")
	awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' "$T/readers" | sort -u |
	while read -r p; do
		[ "$p" = "$self" ] && continue
		kill -0 "$p" 2>/dev/null || echo "$p"
	done
}
diag "stale reader slots right after the last kill: $(stale | wc -l | tr -d ' ')"
wait_for 30 all_done
ok $? "the daemon worked on meanwhile: all $total jobs complete"
# The daemon's check runs at every rescan (each second here).
no_stale() { [ -z "$(stale)" ]; }
wait_for 5 no_stale
is "$(stale | tr '\n' ' ')" "" "no stale reader slots after the daemon's check"
size1=$(stat -c %s "$db/data.mdb")
# Pages freed while a dead reader pins an older snapshot cannot be reused
# until the check clears its slot: at most a second or two of commits.
[ "$size1" -le $((size0 * 16)) ]
ok $? "data.mdb grew by a bounded amount while readers died ($size0 -> $size1 bytes)"
# The slots are clear, so the pages the dead readers pinned are free
# again: as much work again, with no reader killed, reuses them. The
# file may grow by what the new jobs' records and history need (pages in
# use in the trees), with room for page splits, and no more: pages held
# by dead readers made it grow by several times that.
live_pages() {
	mdb_stat -a -e "$db" | awk '/(Branch|Leaf|Overflow) pages:/ { n += $3 } END { print n + 0 }'
}
live1=$(live_pages)
drop_many 200 after.kills. s
wait_for 30 all_done
size2=$(stat -c %s "$db/data.mdb")
live2=$(live_pages)
grown=$(((live2 - live1) * 4096))
[ $((size2 - size1)) -le $((grown + grown / 2 + 65536)) ]
ok $? "then it stops growing: as much work again reuses the freed pages ($size1 -> $size2 bytes; the trees grew by $grown)"
diag "data.mdb: $size0 bytes before the kills, $size1 after, $size2 after as much work again;" \
	"free pages now: $(mdb_stat -f "$db" | awk '/Free pages/ { print $3 }')"

# ---- 6. a crash between a requeue and its commit ----
# A job runs when its daemon is killed before it could record the start
# (commit EIO). The next daemon waits for the surviving handler
# (recovered) and requeues the job when it ends (interrupted), but cannot
# commit either (commit EIO; "full" keeps it from running the job again)
# and is killed in turn. The third finds the job in pending, where its
# record says it is: history must still tell of the run that was cut.
nb=$(date -u -d "@$(($(date +%s) + 2))" +%Y-%m-%dT%H:%M:%SZ)
drop_many 1 lost. s "options: {sleep: 2}
not_before: $nb"
# queued_in_pending STEM: a job of that stem waits in pending, and its
# queued event is committed.
queued_in_pending() {
	_qid=$(job_id_in pending "$1") && [ -n "$_qid" ] &&
		cli history --job "$_qid" --json | grep -q '"queued"'
}
# events ID: the job's history, oldest first, on one line.
events() { cli history --job "$1" --json | jq -r 'reverse | map(.event) | join(" ")'; }
wait_for 10 queued_in_pending lost
id=$(job_id_in pending lost)
fault_on "commit EIO"
wait_for 10 runs_started "$id" 1
kill9_daemon
fault_on "commit EIO" full
start_injected
wait_for 10 count_is pending 1
kill9_daemon
fault_off
start_injected
wait_for 20 all_done
ok $? "lost: the job completes ($(grep -c "^start .* $id " "$T/stamps") runs)"
ev=$(events "$id")
case $ev in *interrupted*|*recovered*) rc=0 ;; *) rc=1 ;; esac
must_ok $rc "lost: history tells of the run two crashes cut ($ev)" \
	"daemon: a requeue lost between its fsync and its commit left no trace, before db/running lines were kept until the outcome is committed"

# The same, but the handler has ended before the second daemon starts,
# so there is nothing to adopt: that daemon requeues the job at once
# (interrupted, not committed) and is killed. Its db/running line is the
# only trace left, and must outlive it.
drop_many 1 gone. s "options: {sleep: 1}
not_before: $(date -u -d "@$(($(date +%s) + 2))" +%Y-%m-%dT%H:%M:%SZ)"
wait_for 10 queued_in_pending gone
gid=$(job_id_in pending gone)
fault_on "commit EIO"
wait_for 10 runs_started "$gid" 1
hpid=$(cat "$T/runs/$gid.pid")
kill9_daemon
handler_gone() {
	[ ! -e "/proc/$hpid" ] || awk '{ exit !($3 == "Z") }' "/proc/$hpid/stat"
}
wait_for 10 handler_gone
fault_on "commit EIO" full
start_injected
wait_for 10 count_is pending 1
kill9_daemon
fault_off
start_injected
wait_for 20 all_done
ev=$(events "$gid")
case $ev in *interrupted*) rc=0 ;; *) rc=1 ;; esac
ok $rc "gone: a requeue cut before its commit is still in history ($ev)"

wait_for 5 where_vs_lmdb
ok $? "at the end LMDB agrees with the directories"
cmp -s "$T/where" "$T/lmdb" || diag "$(diff "$T/where" "$T/lmdb" | head -10)"
snap
is "$(done_not_durable)" "" "at the end no completed event for a file not in completed"
stop_daemon
ok $? "the daemon stops cleanly"
is "$(count failed)" 0 "no job failed"
is "$(count completed)" "$total" "no job lost: $total in completed"
diag "figures: jobs=$total faults_injected=$(wc -l <"$ILOG" | tr -d ' ') reader_kills=$KILLS"
done_testing

#!/bin/sh
# stop racing the daemon's claim: `syncspool trigger` then at once
# `syncspool stop`, many times, while the daemon claims each new file the
# moment it appears. Every job must end paused (stopped in pending, or
# cancelled while running), never completed, never lost: each id is in
# exactly one state directory, paused; stop reported each one; no handler
# is left running; the index agrees once the daemon has caught up.
. "$(dirname "$0")/lib.sh"
N=${N:-30}
plan 25
CONCURRENCY=8 WORKERS=8 setup
start_daemon

# reaped PID...: processes we have waited for leave EXTRA_PIDS (their ids
# may be reused by the time cleanup kills what is listed there).
reaped() { for _q; do EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$_q" | tr '\n' ' '); done; }
# Handlers that were killed leave runs/<id>.pid behind, which cleanup
# kills by pid: forget those that are gone, whose ids may be reused.
forget_dead_handlers() {
	for _f in "$T"/runs/*.pid; do
		[ -f "$_f" ] || continue
		alive "$(cat "$_f")" || rm -f "$_f"
	done
}

alive() {
	[ -n "$1" ] || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

ids= paused_ids= cancelled_ids=
bad_rc=0 bad_out=0 paused_n=0 cancelled_n=0
i=0
while [ $i -lt $N ]; do
	i=$((i + 1))
	# Half the runs share a venue, half use their own.
	if [ $((i % 2)) -eq 0 ]; then v=shared; else v=r$i; fi
	id=$("$SYNCSPOOL" -c "$T/syncspool.yaml" trigger test --venue $v --option sleep=3)
	out=$("$SYNCSPOOL" -c "$T/syncspool.yaml" stop test --venue $v 2>"$T/err")
	rc=$?
	ids="$ids $id"
	[ $rc -eq 0 ] || { bad_rc=$((bad_rc + 1)); diag "stop $i: exit $rc: $(cat "$T/err")"; }
	case $out in
	"paused $id") paused_n=$((paused_n + 1)) paused_ids="$paused_ids $id" ;;
	"cancelled $id (was running)") cancelled_n=$((cancelled_n + 1)) cancelled_ids="$cancelled_ids $id" ;;
	*) bad_out=$((bad_out + 1)); diag "stop $i of $id said: $out" ;;
	esac
done
diag "$paused_n stopped in pending, $cancelled_n cancelled while running"
is "$bad_rc" 0 "every stop exited 0"
is "$bad_out" 0 "every stop reported the job it stopped, by id"

# No handler of these jobs may still run (so none can still complete).
handlers_gone() {
	for f in "$T"/runs/*.pid; do
		_p=$(cat "$f")
		# Empty when the handler was killed between creating and writing it.
		[ -n "$_p" ] && alive "$_p" && return 1
	done
	return 0
}
wait_for 10 handlers_gone
rc=$?
ok $rc "no handler is left running"
[ $rc -eq 0 ] || for f in "$T"/runs/*.pid; do
	p=$(cat "$f"); [ -n "$p" ] && alive "$p" && diag "alive: $f: $p: $(tr '\0' ' ' </proc/$p/cmdline) $(cat /proc/$p/stat)"
done
wait_for 10 sh -c "[ \$(find $T/spool/pending $T/spool/processing -name '*.yaml' | wc -l) -eq 0 ]"
ok $? "nothing is left in pending or processing"

lost=0 twice=0 notpaused=0
for id in $ids; do
	n=$(ls "$T"/spool/*/"$id.yaml" 2>/dev/null | wc -l)
	[ "$n" -eq 0 ] && { lost=$((lost + 1)); diag "lost: $id"; }
	[ "$n" -gt 1 ] && { twice=$((twice + 1)); diag "in $n directories: $id"; }
	[ -f "$T/spool/paused/$id.yaml" ] || { notpaused=$((notpaused + 1)); diag "not paused: $(ls "$T"/spool/*/"$id.yaml" 2>/dev/null)"; }
done
is "$lost/$twice" "0/0" "every job is in exactly one state directory"
is "$notpaused" 0 "every job is in paused"
is "$(count completed)" 0 "none completed"

# The index catches up: every job paused, with a paused or cancelled
# event. A job stopped in pending before the daemon had seen it is a
# known daemon bug (TODO below): it never gets indexed.
index_paused() { # IDS...: all of them paused in the index
	"$SYNCSPOOL" -c "$T/syncspool.yaml" list --state paused --json >"$T/list.json" 2>/dev/null || return 1
	for _id; do
		jq -en --arg id "$_id" 'input | any(.[]; .job_id == $id)' <"$T/list.json" >/dev/null 2>&1 || return 1
	done
}
history_ok() { # ID
	cli history --job "$1" --json 2>/dev/null |
		jq -en 'input | any(.[]; .event == "paused" or .event == "cancelled") and all(.[]; .event != "completed")' >/dev/null 2>&1
}
wait_for 10 index_paused $cancelled_ids
ok $? "list shows all $cancelled_n jobs cancelled while running paused"
noevent=0
for id in $cancelled_ids; do
	history_ok "$id" || { noevent=$((noevent + 1)); diag "$id: $(cli history --job "$id" --json | jq -c 'map(.event)')"; }
done
is "$noevent" 0 "each one's history has cancelled (or paused), and no completed"
wait_for 10 index_paused $paused_ids
ok $? "list shows all $paused_n jobs stopped in pending paused"
noevent=0
for id in $paused_ids; do
	history_ok "$id" || { noevent=$((noevent + 1)); diag "$id: $(cli history --job "$id" --json | jq -c 'map(.event)')"; }
done
is "$noevent" 0 "each one's history has paused, and no completed"

# --- stop racing the daemon's finishing move ----------------------------------------
# Jobs that finish at once: a stop may come before the claim, during the
# run, or after the job completed. Whatever it reports is what it moved:
# a job it reported ends paused, one it did not report ended completed.
fids=
fbad=0
i=0
while [ $i -lt 20 ]; do
	i=$((i + 1))
	id=$(cli trigger test --venue fast$i)
	# Jitter (0 to 40 ms, not a wait): the stop lands before, during or
	# after the run, which takes some 10-20 ms.
	sleep "0.0$((i % 5))"
	out=$(cli stop test --venue fast$i 2>"$T/err")
	[ $? -eq 0 ] || { fbad=$((fbad + 1)); diag "stop: $(cat "$T/err")"; }
	case $out in
	"paused $id" | "cancelled $id (was running)") echo "$id" >>"$T/fast.reported" ;;
	"nothing to stop for venue fast$i provider test") ;;
	*) fbad=$((fbad + 1)); diag "stop of $id said: $out" ;;
	esac
	fids="$fids $id"
done
settled() { [ "$(find "$T/spool/pending" "$T/spool/processing" -name 'fast*.yaml' | wc -l)" -eq 0 ] && handlers_gone; }
wait_for 10 settled
is "$fbad" 0 "every stop exited 0 and reported only the job it was about"
mismatch=0
for id in $fids; do
	if grep -qx "$id" "$T/fast.reported" 2>/dev/null; then want=paused; else want=completed; fi
	[ -f "$T/spool/$want/$id.yaml" ] && [ "$(ls "$T"/spool/*/"$id.yaml" | wc -l)" -eq 1 ] ||
		{ mismatch=$((mismatch + 1)); diag "$id: reported -> $want, but: $(ls "$T"/spool/*/"$id.yaml" 2>/dev/null)"; }
done
is "$mismatch" 0 "each job is where its stop said (paused if reported, else completed), in one place"
diag "$(grep -c . "$T/fast.reported" 2>/dev/null || echo 0) of 20 stopped, the rest had completed"

# --- two stops, and two retries, at once --------------------------------------------
# A file another command moved first is no error, and is not reported:
# between them each job is reported exactly once.
for i in $(seq 1 20); do cli trigger test --venue dup --not-before 2099-01-01T00:00:00Z >>"$T/dup.ids"; done
cli stop test --venue dup >"$T/dup.1" 2>"$T/dup.e1" &
p1=$!
cli stop test --venue dup >"$T/dup.2" 2>"$T/dup.e2" &
p2=$!
EXTRA_PIDS="$EXTRA_PIDS $p1 $p2"
wait $p1; r1=$?
wait $p2; r2=$?
reaped $p1 $p2
is "$r1:$r2" "0:0" "two concurrent stops both exit 0"
is "$(cat "$T/dup.1" "$T/dup.2" | grep '^paused ' | sed 's/^paused //' | sort | tr '\n' ' ')" \
	"$(sort "$T/dup.ids" | tr '\n' ' ')" "between them every job is reported once"
is "$(ls "$T/spool/paused" | grep -c '^dup-test\.')" 20 "and all 20 are in paused"

for i in $(seq 1 20); do cli trigger test --venue rdup --option exit=65 >>"$T/rdup.ids"; done
wait_for 10 sh -c "[ \$(ls $T/spool/failed | grep -c '^rdup-test\.') -eq 20 ]"
for f in "$T"/spool/failed/rdup-test.*.yaml; do sed -i 's/"exit": "65"/"exit": "0"/' "$f"; done
cli retry test --venue rdup >"$T/rdup.1" 2>"$T/rdup.e1" &
p1=$!
cli retry test --venue rdup >"$T/rdup.2" 2>"$T/rdup.e2" &
p2=$!
EXTRA_PIDS="$EXTRA_PIDS $p1 $p2"
wait $p1; r1=$?
wait $p2; r2=$?
reaped $p1 $p2
is "$r1:$r2" "0:0" "two concurrent retries both exit 0"
is "$(cat "$T/rdup.1" "$T/rdup.2" | grep '^retried ' | sed 's/^retried //' | sort | tr '\n' ' ')" \
	"$(sort "$T/rdup.ids" | tr '\n' ' ')" "between them every job is reported once"
wait_for 20 sh -c "[ \$(ls $T/spool/completed | grep -c '^rdup-test\.') -eq 20 ]"
ok $? "and all 20 run again and complete"

# --- stop racing the daemon's accept ------------------------------------------------
# The daemon renames a new upload to its id within pending, then indexes
# it a moment later. A stop in between must still find it, by reading a
# file the index does not know yet, and by looking again when a file it
# meant to move vanished under it. The daemon is held (SIGSTOP) so the
# in-between lasts; the CLI still sees it running.
INJECT_LIB=${INJECT_LIB:-$(dirname "$SYNCSPOOLD")/libinject.so}
[ -f "$INJECT_LIB" ] || INJECT_LIB=$TOP/build/libinject.so
kill -STOP "$DPID"
lag=upload.20261125T021111Z.ab12
printf 'venue_id: lag\nprovider: test\n' >"$T/spool/pending/$lag.yaml"
out=$(cli stop test --venue lag 2>&1)
is "$out" "paused $lag" "stop finds an accepted upload the index does not know yet"
[ -f "$T/spool/paused/$lag.yaml" ]; ok $? "and it is in paused"
printf 'venue_id: gone\nprovider: test\n' >"$T/spool/pending/gone.yaml"
printf 'rename ENOENT 1\n' >"$T/race.ctl"
out=$(LD_PRELOAD=$INJECT_LIB INJECT_FILE=$T/race.ctl INJECT_LOG=$T/race.log \
	ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 \
	"$SYNCSPOOL" -c "$T/syncspool.yaml" stop test --venue gone 2>&1)
is "$(grep -c kind=rename "$T/race.log" 2>/dev/null)" 1 "(the first rename of the stop was made to find nothing)"
is "$out" "paused gone.yaml" "stop looks again for an upload that vanished under it"
[ -f "$T/spool/paused/gone.yaml" ] && [ ! -e "$T/spool/pending/gone.yaml" ]; ok $? "and it is in paused"
kill -CONT "$DPID"
wait_for 10 sh -c "$SYNCSPOOL -c $T/syncspool.yaml list --state paused --json | jq -e '[.[] | select(.venue_id == \"lag\" or .venue_id == \"gone\")] | length == 2'"
ok $? "the daemon, let go, indexes both as paused"

stop_daemon
forget_dead_handlers
done_testing

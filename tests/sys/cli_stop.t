#!/bin/sh
# syncspool stop and resume: pending jobs of one venue+provider move to
# paused (and only theirs); a running job is cancelled: its handler and
# the handler's child die within seconds and the file stays in paused;
# stop is idempotent; resume moves paused jobs back to pending and they
# run. With the daemon stopped the CLI still moves the files, and the
# daemon records the moves when it starts. Usage errors exit 64/65; a
# file of the same name in paused is never overwritten (exit 73).
. "$(dirname "$0")/lib.sh"
plan 47
setup
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

err=$T/err
out=$T/out
later=2099-01-01T00:00:00Z
ev() { cli history --job "$1" --json | jq -r 'reverse | map(.event) | join(" ")'; }
has_event() { cli history --job "$1" --json | jq -en --arg e "$2" 'input | any(.[]; .event == $e)'; }
state_of() { cli list --json | jq -r --arg id "$1" '.[] | select(.job_id == $id) | .state'; }
sorted() { printf '%s\n' "$@" | sort; }
# alive PID: running, not a zombie (a reparented child stays a zombie
# until PID 1, which may be slow, reaps it).
alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# --- stop of pending jobs ----------------------------------------------
a1=$(cli trigger test --venue v1 --not-before $later)
a2=$(cli trigger test --venue v1 --not-before $later)
a3=$(cli trigger test --venue v1 --not-before $later)
o1=$(cli trigger other --venue v1 --not-before $later)
o2=$(cli trigger test --venue v2 --not-before $later)
wait_for 10 sh -c "[ \$($SYNCSPOOL -c $T/syncspool.yaml list --state pending --json | jq length) -eq 5 ]"
ok $? "five waiting jobs are indexed as pending"

cli stop test --venue v1 >"$out" 2>"$err"
is "$?" 0 "stop exits 0"
is "$(sort "$out")" "$(sorted "paused $a1" "paused $a2" "paused $a3")" "it prints 'paused ID' for each job it moved"
[ -f "$T/spool/paused/$a1.yaml" ] && [ -f "$T/spool/paused/$a2.yaml" ] && [ -f "$T/spool/paused/$a3.yaml" ]
ok $? "the three files are in paused"
[ -f "$T/spool/pending/$o1.yaml" ] && [ -f "$T/spool/pending/$o2.yaml" ]
ok $? "the same venue's other provider, and another venue, are left alone"
wait_for 5 has_event "$a3" paused
ok $? "the daemon records 'paused'"
wait_for 5 sh -c "[ \$($SYNCSPOOL -c $T/syncspool.yaml list --state paused --venue v1 --provider test --json | jq length) -eq 3 ]"
ok $? "list shows them paused"

cli stop test --venue v1 >"$out" 2>"$err"
is "$?" 0 "a second stop exits 0"
is "$(cat "$out")" "nothing to stop for venue v1 provider test" "and says there is nothing to stop"

# --- stop of a running job ------------------------------------------------
r=$(cli trigger test --venue v3 --option sleep=60 --option grandchild=1)
wait_for 10 test -f "$T/spool/processing/$r.yaml"
wait_for 10 test -s "$T/runs/$r.grandchild"
ok $? "the running job's handler has started its child"
hp=$(cat "$T/runs/$r.pid")
gc=$(cat "$T/runs/$r.grandchild")
EXTRA_PIDS="$EXTRA_PIDS $hp $gc"
t0=$(now_ms)
cli stop test --venue v3 >"$out" 2>"$err"
is "$?" 0 "stop of a running job exits 0"
is "$(cat "$out")" "cancelled $r (was running)" "it prints 'cancelled ID (was running)'"
gone() { ! alive "$hp" && ! alive "$gc"; }
if wait_for 5 gone; then
	ok 0 "the handler and its child are killed"
	reaped $hp $gc
else
	ok 1 "the handler and its child are killed"
fi
dt=$(($(now_ms) - t0))
[ "$dt" -le $((2000 * ${TIMEOUT_SCALE:-1})) ]; ok $? "within 2 s (took $dt ms)"
wait_for 5 has_event "$r" cancelled
ok $? "history records 'cancelled'"
[ -f "$T/spool/paused/$r.yaml" ] && [ "$(count processing)" -eq 0 ]
ok $? "the file stays in paused"
is "$(cli history --job "$r" --json | jq -r '.[0] | "\(.event) \(.signal)"')" "cancelled 15" "the cancel event carries SIGTERM"
is "$(state_of "$r")" paused "the index says paused"
cli stop test --venue v3 >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:nothing to stop for venue v3 provider test" "stopping it again: exit 0, nothing to stop"

# --- resume ----------------------------------------------------------------
cli resume test --venue v1 >"$out" 2>"$err"
is "$?" 0 "resume exits 0"
is "$(sort "$out")" "$(sorted "resumed $a1" "resumed $a2" "resumed $a3")" "it prints 'resumed ID' for each"
[ -f "$T/spool/pending/$a1.yaml" ] && [ -f "$T/spool/pending/$a2.yaml" ] && [ -f "$T/spool/pending/$a3.yaml" ]
ok $? "the files are back in pending"
wait_for 5 has_event "$a1" resumed
ok $? "the daemon records 'resumed'"
cli resume test --venue v1 >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:nothing to resume for venue v1 provider test" "a second resume: exit 0, nothing to resume"

# --- with the daemon stopped ----------------------------------------------
# d1 is indexed before the daemon stops; d2 is triggered while it is down.
d1=$(cli trigger test --venue v4 --not-before $later)
wait_for 5 has_event "$d1" queued
stop_daemon
d2=$(cli trigger test --venue v4 2>/dev/null)
cli stop test --venue v4 >"$out" 2>"$err"
is "$?" 0 "stop with the daemon stopped exits 0"
is "$(sort "$out")" "$(sorted "paused $d1" "paused $d2")" "it moves both pending files"
grep -q "not running" "$err"; ok $? "and notes that the daemon is not running"
[ -f "$T/spool/paused/$d1.yaml" ] && [ -f "$T/spool/paused/$d2.yaml" ]; ok $? "the files are in paused"
start_daemon
wait_for 5 has_event "$d1" paused
ok $? "at start the daemon records the stop of an indexed job as 'paused'"
is "$(state_of "$d1")" paused "the index says paused"
wait_for 10 sh -c "[ \"\$($SYNCSPOOL -c $T/syncspool.yaml list --json | jq -r '.[] | select(.job_id == \"$d2\") | .state')\" = paused ]"
ok $? "a job triggered and stopped while the daemon was down is indexed as paused at start"
[ -f "$T/spool/paused/$d2.yaml" ] && [ ! -e "$T/runs/$d2.1.env" ]; ok $? "and the job did not run"
cli resume test --venue v4 >"$out" 2>"$err"
is "$(sort "$out")" "$(sorted "resumed $d1" "resumed $d2")" "resume moves both back"
wait_for 10 test -f "$T/spool/completed/$d2.yaml"
ok $? "the resumed job runs and completes"
wait_for 5 has_event "$d1" resumed
is "$(ev "$d1")" "queued paused resumed" "history of the indexed one: queued paused resumed"
[ -f "$T/spool/pending/$d1.yaml" ]; ok $? "which waits in pending for its not_before"

# --- errors ------------------------------------------------------------------
for cmd in stop resume; do
	cli $cmd test >/dev/null 2>"$err"
	is "$?" 64 "$cmd without --venue: exit 64"
	cli $cmd nosuch --venue v1 >/dev/null 2>"$err"
	r2=$?
	is "$r2" 65 "$cmd of an unknown provider: exit 65"
	cli $cmd test --venue 'no/such' >/dev/null 2>"$err"
	is "$?" 65 "$cmd of an invalid venue: exit 65"
done
cli stop test --venue v1 --job x >/dev/null 2>"$err"
is "$?" 64 "stop --job (an option of retry only): exit 64"
grep -q -- "--job" "$err"; ok $? "the message names it"

# A file of the same name already in paused (an admin's copy, say) is
# never overwritten: the move fails, and stop says so.
n1=$(cli trigger test --venue nr --not-before $later)
wait_for 5 has_event "$n1" queued
printf 'venue_id: nr\nprovider: other\n' >"$T/paused.copy"
cp "$T/paused.copy" "$T/spool/paused/$n1.yaml"
cli stop test --venue nr >"$out" 2>"$err"
is "$?" 73 "stop onto a file of the same name in paused: exit 73"
grep -q "paused/$n1.yaml already exists" "$err"; ok $? "the message says the file in paused exists"
[ -f "$T/spool/pending/$n1.yaml" ] && cmp -s "$T/spool/paused/$n1.yaml" "$T/paused.copy"
ok $? "neither file is overwritten (RENAME_NOREPLACE)"

stop_daemon
forget_dead_handlers
done_testing

#!/bin/sh
# syncspool show and logs: show gives a job's record, where its file is
# now (also after a move by hand the index has not seen), its events
# oldest first and its log tail, for people and as JSON; logs prints the
# handler's output; logs -f follows a running job's output as it comes
# and returns by itself when the job ends (also when it is cancelled).
# Unknown ids exit 66, bad ones 65, usage errors 64.
. "$(dirname "$0")/lib.sh"
plan 49
setup
start_daemon

# reaped PID...: processes we have waited for leave EXTRA_PIDS (their ids
# may be reused by the time cleanup kills what is listed there).
reaped() { for _q; do EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$_q" | tr '\n' ' '); done; }
# alive PID: running, not a zombie.
alive() {
	[ -n "$1" ] || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}
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
# The index agrees: a file is moved before its new state is committed.
indexed_as() { cli show "$2" --json 2>/dev/null | jq -en --arg s "$1" 'input | .indexed_state == $s' >/dev/null 2>&1; }
in_state() { [ -f "$T/spool/$1/$2.yaml" ] && indexed_as "$1" "$2"; }
has_event() { cli history --job "$1" --json | jq -en --arg e "$2" 'input | any(.[]; .event == $e)'; }

# --- show of a completed job -------------------------------------------------
a=$(cli trigger test --venue w1 --type delta --option 'stderr=a line on stderr' --option 'result=records: 7')
wait_for 10 in_state completed "$a"
cli show "$a" >"$out" 2>"$err"
is "$?" 0 "show exits 0"
grep -qx "job *$a" "$out"; ok $? "it names the job"
grep -qx "file *$T/spool/completed/$a.yaml" "$out"; ok $? "where its file is"
grep -qx "state *completed" "$out"; ok $? "its state"
grep -qx "venue *w1" "$out" && grep -qx "provider *test" "$out" && grep -qx "sync type *delta" "$out"
ok $? "venue, provider, sync type"
is "$(sed -n '/^events, oldest first:/,/^$/p' "$out" | awk '$1 ~ /^[0-9][0-9][0-9][0-9]-/ {print $2}' | tr '\n' ' ')" "queued started completed " "its events, oldest first"
grep -q "^  handler: job $a attempt 1$" "$out" && grep -q "^  a line on stderr$" "$out"; ok $? "the tail of its log"

cli show "$a" --json >"$out" 2>"$err"
is "$?" 0 "show --json exits 0"
is "$(jq -r '"\(.job_id) \(.state) \(.venue_id) \(.provider) \(.sync_type) \(.attempts)"' "$out")" "$a completed w1 test delta 1" "the record"
is "$(jq -r .file "$out")" "$T/spool/completed/$a.yaml" "file: its path now"
is "$(jq -r '.events | map(.event) | join(" ")' "$out")" "queued started completed" "events, oldest first"
is "$(jq -c '.events[-1].result' "$out")" '{"records":"7"}' "with the result"
jq -en --arg id "$a" 'input | .log_tail | contains("handler: job \($id) attempt 1") and contains("a line on stderr")' "$out" >/dev/null
ok $? "log_tail has the handler's output"

# --- show follows the file, not the index ---------------------------------------
b=$(cli trigger test --venue w2 --not-before $later)
wait_for 5 has_event "$b" queued
stop_daemon
mv "$T/spool/pending/$b.yaml" "$T/spool/paused/"
cli show "$b" --json >"$out" 2>"$err"
is "$(jq -r '"\(.state) \(.indexed_state) \(.file)"' "$out")" "paused pending $T/spool/paused/$b.yaml" \
	"moved by hand with the daemon stopped: show finds it in paused (the index still says pending)"
cli show "$b" >"$out" 2>"$err"
grep -q "^state *paused (the index says pending" "$out"; ok $? "for people too"
c=$(cli trigger test --venue w3 2>/dev/null)
cli show "$c" --json >"$out" 2>"$err"
is "$(jq -r '"\(.state) \(.indexed) \(.venue_id) \(.provider)"' "$out")" "pending false w3 test" "a job not indexed yet is shown from its file"
start_daemon
wait_for 10 in_state completed "$c"

# --- logs ----------------------------------------------------------------------
cli logs "$a" >"$out" 2>"$err"
is "$?" 0 "logs exits 0"
grep -q "^=== attempt 1, started " "$out"; ok $? "the attempt's header"
grep -qx "handler: job $a attempt 1" "$out" && grep -qx "a line on stderr" "$out"; ok $? "the handler's stdout and stderr"
grep -q "^=== attempt 1 ended: " "$out"; ok $? "the attempt's footer"
cmp -s "$out" "$T/spool/logs/$a.log"; ok $? "exactly the log file"

# --- logs -f of a running job ----------------------------------------------------
r=$(cli trigger test --venue w4 --option sleep=3)
wait_for 10 in_state processing "$r"
t0=$(now_ms)
timeout $((20 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$r" >"$T/follow" 2>"$T/follow.err" &
fp=$!
EXTRA_PIDS="$EXTRA_PIDS $fp"
wait_for 5 grep -q "handler: job $r attempt 1" "$T/follow"
ok $? "logs -f prints the output as it comes"
in_state processing "$r" && kill -0 $fp 2>/dev/null; ok $? "while the job still runs, and logs -f waits"
wait_for 10 sh -c "! kill -0 $fp 2>/dev/null"
ok $? "logs -f returns by itself once the job ends"
wait $fp
rc=$?
reaped $fp
is "$rc" 0 "with exit 0 (not killed by the timeout)"
dt=$(($(now_ms) - t0))
[ "$dt" -lt $((8000 * ${TIMEOUT_SCALE:-1})) ]; ok $? "soon after the job's 3 s ($dt ms)"
in_state completed "$r"; ok $? "the job completed"
grep -q "^=== attempt 1 ended: exit 0" "$T/follow"; ok $? "the output ends with the attempt's footer"
cmp -s "$T/follow" "$T/spool/logs/$r.log"; ok $? "what it printed is the whole log"

# --- logs -f of a job that is cancelled -------------------------------------------
k=$(cli trigger test --venue w5 --option sleep=60)
wait_for 10 in_state processing "$k"
wait_for 5 grep -q "handler: job" "$T/spool/logs/$k.log"
timeout $((20 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$k" >"$T/follow" 2>"$T/follow.err" &
fp=$!
EXTRA_PIDS="$EXTRA_PIDS $fp"
wait_for 5 grep -q "handler: job $k" "$T/follow"
cli stop test --venue w5 >/dev/null
wait_for 10 sh -c "! kill -0 $fp 2>/dev/null"
ok $? "logs -f of a job that is stopped returns by itself"
wait $fp
rc=$?
reaped $fp
is "$rc" 0 "with exit 0"
grep -q "^=== attempt 1 ended: signal 15" "$T/follow"; ok $? "after the footer of the killed attempt"

# --- logs -f of a job that waits its turn, and runs twice ------------------------------
# One job at a time per venue+provider: q waits in pending behind b1.
b1=$(cli trigger test --venue w6 --option sleep=2)
wait_for 10 in_state processing "$b1"
q=$(cli trigger test --venue w6 --option fail_attempts=1)
timeout $((30 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$q" >"$T/follow" 2>"$T/follow.err" &
fp=$!
EXTRA_PIDS="$EXTRA_PIDS $fp"
wait_for 20 sh -c "! kill -0 $fp 2>/dev/null"
ok $? "logs -f of a queued job returns by itself"
wait $fp
rc=$?
reaped $fp
is "$rc" 0 "with exit 0"
in_state completed "$q"; ok $? "only once the job has completed"
grep -q "^=== attempt 1 ended: exit 75" "$T/follow" && grep -q "^=== attempt 2 ended: exit 0" "$T/follow"
ok $? "having followed it from its start, through its retry, to its end"
cmp -s "$T/follow" "$T/spool/logs/$q.log"; ok $? "what it printed is the whole log"

# --- logs -f of a finished job returns at once ------------------------------------
timeout $((10 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$a" >"$out" 2>"$err"
is "$?" 0 "logs -f of a finished job prints the log and returns"
cmp -s "$out" "$T/spool/logs/$a.log"; ok $? "the whole log"

# --- errors ---------------------------------------------------------------------
cli show w9-test.20200101T000000Z.dead >/dev/null 2>"$err"; is "$?" 66 "show of no such job: exit 66"
grep -q "no such job w9-test.20200101T000000Z.dead" "$err"; ok $? "says no such job"
cli show 'bad/id' >/dev/null 2>"$err"; is "$?" 65 "show of an invalid id: exit 65"
cli show >/dev/null 2>"$err"; is "$?" 64 "show without an id: exit 64"
cli logs w9-test.20200101T000000Z.dead >/dev/null 2>"$err"; is "$?" 66 "logs of no such job: exit 66"
cli logs >/dev/null 2>"$err"; is "$?" 64 "logs without an id: exit 64"
cli logs -x "$a" >/dev/null 2>"$err"; is "$?" 64 "logs -x: exit 64"

# --- logs -f of a waiting job, when the daemon stops --------------------------------
z=$(cli trigger test --venue w7 --not-before $later)
timeout $((30 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$z" >"$T/follow" 2>"$T/follow.err" &
fp=$!
EXTRA_PIDS="$EXTRA_PIDS $fp"
wait_for 5 has_event "$z" queued
kill -0 $fp 2>/dev/null; ok $? "logs -f of a job waiting for its not_before waits"
stop_daemon
wait_for 5 sh -c "! kill -0 $fp 2>/dev/null"
ok $? "and returns once the daemon has stopped (nothing will run it)"
wait $fp
rc=$?
reaped $fp
is "$rc" 0 "with exit 0"

forget_dead_handlers
done_testing

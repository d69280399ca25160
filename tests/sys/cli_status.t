#!/bin/sh
# syncspool status and list after a mixed run (completed, failed, paused,
# pending with a future not_before, one running): the counts equal the
# files on disk; last_run has outcome, duration, exit status and error;
# the config section; the JSON keys of DESIGN.md. Without arguments:
# the daemon runs with its pid, since when and for how long, per-provider
# counts; then with the
# daemon stopped: not running, stale. list filters by --state,
# --provider, --venue, with the JSON keys of DESIGN.md.
. "$(dirname "$0")/lib.sh"
plan 51
setup
t_start=$(date +%s)
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
# Files on disk of a venue+provider in a state (trigger names them so).
disk() { ls "$T/spool/$3" | grep -c "^$1-$2\." ; }
disk_counts() { # VENUE PROVIDER: {"pending":N,...} from the directories
	printf '{"pending":%d,"processing":%d,"completed":%d,"failed":%d,"paused":%d}' \
		"$(disk "$1" "$2" pending)" "$(disk "$1" "$2" processing)" "$(disk "$1" "$2" completed)" \
		"$(disk "$1" "$2" failed)" "$(disk "$1" "$2" paused)"
}
prov_disk() { # PROVIDER: the same over every venue
	_c() { ls "$T/spool/$2" | grep -c -- "-$1\.[0-9]"; }
	printf '{"pending":%d,"processing":%d,"completed":%d,"failed":%d,"paused":%d}' \
		"$(_c "$1" pending)" "$(_c "$1" processing)" "$(_c "$1" completed)" "$(_c "$1" failed)" "$(_c "$1" paused)"
}
counts_of() { cli status "$1" --venue "$2" --json | jq -c '.counts | {pending, processing, completed, failed, paused}'; }

# --- the mixed run for venue s1, provider test --------------------------------
p1=$(cli trigger test --venue s1 --not-before $later)
p2=$(cli trigger test --venue s1 --not-before $later)
cli stop test --venue s1 >/dev/null
c1=$(cli trigger test --venue s1)
wait_for 10 in_state completed "$c1"
c2=$(cli trigger test --venue s1)
wait_for 10 in_state completed "$c2"
f1=$(cli trigger test --venue s1 --option exit=65 --option 'stderr=token expired')
wait_for 10 in_state failed "$f1"
w1=$(cli trigger test --venue s1 --not-before $later)
r1=$(cli trigger test --venue s1 --option sleep=60)
x1=$(cli trigger test --venue s2)
y1=$(cli trigger other --venue s1)
wait_for 10 in_state processing "$r1" && wait_for 10 in_state completed "$x1" && wait_for 10 in_state completed "$y1"
ok $? "a mixed run: 2 paused, 2 completed, 1 failed, 1 waiting, 1 running"
is "$(disk_counts s1 test)" '{"pending":1,"processing":1,"completed":2,"failed":1,"paused":2}' "the files on disk say so"
in_started() { cli history --job "$r1" --json | jq -en 'input | any(.[]; .event == "started")'; }
wait_for 5 in_started

# --- status PROVIDER --venue V --json -------------------------------------------
cli status test --venue s1 --json >"$out" 2>"$err"
is "$?" 0 "status --json exits 0"
jq -en 'input | type == "object"' "$out" >/dev/null; ok $? "one JSON object"
is "$(jq -c '.counts | {pending, processing, completed, failed, paused}' "$out")" "$(disk_counts s1 test)" "counts equal the files on disk"
is "$(jq -r '"\(.venue_id) \(.provider)"' "$out")" "s1 test" "venue_id and provider"
jq -en 'input | has("venue_id") and has("provider") and has("counts") and has("last_run") and has("config")' "$out" >/dev/null
ok $? "the keys of DESIGN.md: venue_id, provider, counts, last_run, config"
is "$(jq -r '.last_run | "\(.outcome) \(.job_id) \(.exit_code) \(.signal) \(.error)"' "$out")" \
	"failed $f1 65 null token expired" "last_run: outcome, job, exit code, signal, error"
jq -en 'input | .last_run | (.duration_ms | type) == "number" and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\\.[0-9]+)?Z$"))' "$out" >/dev/null
ok $? "last_run: duration_ms a number, time RFC 3339"
c2_done=$(cli history --job "$c2" --json | jq -r '.[] | select(.event == "completed") | .time')
is "$(jq -r .last_success "$out")" "$c2_done" "last_success: when $c2 completed"
is "$(jq -r .next_attempt "$out")" "$later" "next_attempt: the waiting job's not_before"
is "$(jq -c '.config | [.command, .timeout_ms, .max_attempts, .backoff, .concurrency]' "$out")" \
	"[[\"$HANDLER\"],30000,3,{\"initial_ms\":100,\"max_ms\":100},4]" "config: command, timeout, attempts, back-off, concurrency"
is "$(jq -r '"\(.daemon.running) \(.daemon.pid) \(.stale)"' "$out")" "true $DPID false" "daemon: running, its pid; not stale"
is "$(counts_of test s2)" "$(disk_counts s2 test)" "another venue's counts are its own"
is "$(counts_of other s1)" "$(disk_counts s1 other)" "another provider's counts are its own"
is "$(cli status test --venue nobody --json | jq -c '[.counts, .last_run]')" \
	'[{"pending":0,"processing":0,"completed":0,"failed":0,"paused":0},null]' "a venue with no jobs: zero counts, last_run null"

# --- status PROVIDER --venue V, for people --------------------------------------
cli status test --venue s1 >"$out" 2>"$err"
is "$?" 0 "status exits 0"
grep -qx "jobs *1 pending, 1 processing, 2 completed, 1 failed, 2 paused" "$out"; ok $? "the counts"
grep -q "^last run .* failed after .* (exit 65)$" "$out"; ok $? "last run: failed, duration, exit 65"
grep -q "error: token expired" "$out"; ok $? "and its error"
grep -q "^command *$HANDLER\$" "$out" && grep -q "^max attempts *3$" "$out"; ok $? "the config"
grep -qx "daemon *running, pid $DPID" "$out"; ok $? "the daemon's pid"

# --- status without arguments ---------------------------------------------------
cli status --json >"$out" 2>"$err"
is "$?" 0 "status --json without arguments exits 0"
is "$(jq -r '"\(.daemon.running) \(.daemon.pid) \(.stale)"' "$out")" "true $DPID false" "the daemon runs, with its pid"
is "$(jq -c '.providers.test.counts | {pending, processing, completed, failed, paused}' "$out")" "$(prov_disk test)" "provider test: counts equal the files on disk"
is "$(jq -c '.providers.other.counts | {pending, processing, completed, failed, paused}' "$out")" "$(prov_disk other)" "provider other: too"
is "$(jq -r '"\(.providers.test.venues) \(.providers.other.venues) \(.providers.lsfd.venues)"' "$out")" "2 1 0" "venues per provider"
jq -en --argjson t0 "$t_start" --argjson now "$(date +%s)" 'input | .daemon
	| (.started | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) as $s
	| $s >= $t0 - 1 and $s <= $now and (.uptime_s | type) == "number"
	  and .uptime_s >= $now - $s - 2 and .uptime_s <= $now - $s + 2' "$out" >/dev/null
ok $? "daemon.started is when it started, daemon.uptime_s the seconds since"
cli status >"$out" 2>"$err"
grep -q "^daemon *running, pid $DPID, up [0-9.]*[a-z]* since [0-9]\{4\}-[0-9-]*T[0-9:]*Z$" "$out"; ok $? "for people: daemon running, pid $DPID, up for how long since when"
is "$(awk '$1 == "test" {print $3, $4, $5, $6, $7}' "$out")" \
	"$(prov_disk test | jq -r '"\(.pending) \(.processing) \(.completed) \(.failed) \(.paused)"')" "the provider table's counts"

# --- list --------------------------------------------------------------------------
cli list --json >"$out" 2>"$err"
is "$?" 0 "list --json exits 0"
jq -en 'input | all(.[]; has("job_id") and has("state") and has("venue_id") and has("provider") and has("sync_type")
	and has("attempts") and has("next_attempt"))' "$out" >/dev/null
ok $? "every entry has job_id, state, venue_id, provider, sync_type, attempts, next_attempt"
is "$(jq length "$out")" "$(ls "$T"/spool/*/ | grep -c '\.yaml$')" "every job on disk is listed"
ids_on_disk() { ls "$T/spool/$1" | sed 's/\.yaml$//' | sort | tr '\n' ' '; }
is "$(cli list --state failed --json | jq -r '.[].job_id' | sort | tr '\n' ' ')" "$(ids_on_disk failed)" "--state failed: the failed jobs"
is "$(cli list --state paused --json | jq -r '.[].job_id' | sort | tr '\n' ' ')" "$(ids_on_disk paused)" "--state paused: the paused jobs"
is "$(cli list --provider other --json | jq -r '.[].job_id')" "$y1" "--provider other: its one job"
is "$(cli list --venue s2 --json | jq -r '.[].job_id')" "$x1" "--venue s2: its one job"
is "$(cli list --venue s1 --provider test --state pending --json | jq -c 'map([.job_id, .state, .venue_id, .provider, .sync_type, .attempts, .next_attempt])')" \
	"[[\"$w1\",\"pending\",\"s1\",\"test\",\"full\",0,\"$later\"]]" "all three filters: the waiting job, with its fields"
is "$(cli list --state processing --json | jq -r '.[] | "\(.job_id) \(.attempts)"')" "$r1 1" "--state processing: the running job, attempt 1"
cli list --venue s1 --provider test >"$out"
is "$(head -n 1 "$out" | tr -s ' ')" "ID STATE VENUE PROVIDER TYPE ATTEMPTS NEXT" "list for people: the header"
is "$(($(wc -l <"$out") - 1))" 7 "and a row per job of the venue+provider"
cli list --state bogus >/dev/null 2>"$err"; is "$?" 64 "list --state bogus: exit 64"

# --- with the daemon stopped -----------------------------------------------------
cli stop test --venue s1 >/dev/null
wait_for 5 sh -c "[ \$($SYNCSPOOL -c $T/syncspool.yaml status test --venue s1 --json | jq .counts.paused) -eq 4 ]"
stop_daemon
cli status --json >"$out" 2>"$err"
is "$(jq -r '"\(.daemon.running) \(.daemon.pid) \(.daemon.uptime_s) \(.stale)"' "$out")" "false null null true" "daemon stopped: not running, pid and uptime null, stale"
grep -q "not running" "$err"; ok $? "with a note on stderr"
cli status >"$out" 2>/dev/null
grep -q "^daemon *not running" "$out"; ok $? "for people: daemon not running"
is "$(counts_of test s1 2>/dev/null)" "$(disk_counts s1 test)" "the counts, as the daemon left them, equal the files"

# --- errors --------------------------------------------------------------------------
cli status test >/dev/null 2>"$err"; is "$?" 64 "status PROVIDER without --venue: exit 64"
cli status --venue s1 >/dev/null 2>"$err"; is "$?" 64 "status --venue without a provider: exit 64"
cli status nosuch --venue s1 >/dev/null 2>"$err"; is "$?" 65 "status of an unknown provider: exit 65"
cli status test --venue 'a b' >/dev/null 2>"$err"; is "$?" 65 "status of an invalid venue: exit 65"
cli status test other --venue s1 >/dev/null 2>"$err"; is "$?" 64 "an extra argument: exit 64"

forget_dead_handlers
done_testing

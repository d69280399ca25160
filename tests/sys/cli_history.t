#!/bin/sh
# syncspool history: a venue+provider's events newest first, only theirs;
# --limit (default 20, 0 for all), --since, --job; the whole life of a
# retried job in order; the JSON fields of DESIGN.md (time RFC 3339,
# job_id, event, attempt, exit_code, signal, duration_ms, error, result
# as an object) with the right types and values; the human table; the
# error cases.
. "$(dirname "$0")/lib.sh"
plan 32
setup
start_daemon

err=$T/err
out=$T/out
# The index agrees: a file is moved before its new state is committed.
indexed_as() { cli show "$2" --json 2>/dev/null | jq -en --arg s "$1" 'input | .indexed_state == $s' >/dev/null 2>&1; }
in_state() { [ -f "$T/spool/$1/$2.yaml" ] && indexed_as "$1" "$2"; }
# jq: an RFC 3339 time to ms since the epoch.
JQ_MS='def ms: capture("^(?<s>[0-9-]+T[0-9:]+)(\\.(?<f>[0-9]+))?(?<z>Z|[+-][0-9]{2}:[0-9]{2})$") as $c
  | (($c.s + "Z") | fromdateiso8601) * 1000
  + ((($c.f // "0") + "00")[0:3] | tonumber)
  - (if $c.z == "Z" then 0 else ($c.z[0:1] + "1" | tonumber) * (($c.z[1:3] | tonumber) * 60 + ($c.z[4:6] | tonumber)) * 60000 end);'

# --- a job's whole life, retried ---------------------------------------------
a=$(cli trigger test --venue h1 --option exit=65 --option 'stderr=bad credentials for h1')
wait_for 10 in_state failed "$a"
ok $? "a job with exit 65 fails at once"
sed -i 's/"exit": "65"/"exit": "0"/' "$T/spool/failed/$a.yaml"
cli retry test --venue h1 --job "$a" >/dev/null
wait_for 10 in_state completed "$a"
ok $? "retried, it completes"
is "$(cli history --job "$a" --json | jq -r 'reverse | map(.event) | join(" ")')" \
	"queued started failed retried started completed" "history --job: the whole life, in order"
is "$(cli history --job "$a" --json | jq -r 'map(.attempt) | map(tostring) | join(" ")')" \
	"1 1 0 1 1 0" "attempts per event, newest first: the retry reset them"
is "$(cli history --job "$a" --json | jq -r '.[] | select(.event == "failed") | "\(.exit_code)|\(.signal)|\(.error)"')" \
	"65|null|bad credentials for h1" "failed: exit_code 65, signal null, error = the handler's last stderr line"

b=$(cli trigger test --venue h1 --option 'result=records: 42')
wait_for 10 in_state completed "$b"
done_ev=$(cli history --job "$b" --json | jq -c '.[0]')
is "$(echo "$done_ev" | jq -r '"\(.event) \(.exit_code) \(.signal) \(.error)"')" "completed 0 null null" "completed: exit_code 0, signal and error null"
is "$(echo "$done_ev" | jq -c '.result')" '{"records":"42"}' "result is an object of the handler's key: value lines"
echo "$done_ev" | jq -en 'input | (.duration_ms | type) == "number" and .duration_ms >= 0' >/dev/null
ok $? "duration_ms is a number"
is "$(echo "$done_ev" | jq -r .job_id)" "$b" "job_id is the job's id"

# --- JSON fields and order, for a venue --------------------------------------
o=$(cli trigger other --venue h1)
x=$(cli trigger test --venue h1x)
wait_for 10 in_state completed "$o" && wait_for 10 in_state completed "$x"
cli history test --venue h1 --limit 0 --json >"$out"
ok $? "history --json exits 0"
jq -en 'input | type == "array" and length == 9' "$out" >/dev/null
ok $? "one JSON array with the venue's 9 events ($(jq length "$out"))"
jq -en 'input | all(.[]; .venue_id == "h1" and .provider == "test")' "$out" >/dev/null
ok $? "only this venue+provider's events (not other provider's, not venue h1x's)"
jq -en 'input | all(.[]; has("time") and has("job_id") and has("event") and has("attempt") and has("exit_code")
	and has("signal") and has("duration_ms") and has("error") and has("result"))' "$out" >/dev/null
ok $? "every event has time, job_id, event, attempt, exit_code, signal, duration_ms, error, result"
jq -en 'input | all(.[]; (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))
	and (.attempt | type) == "number" and (.duration_ms | type) == "number"
	and ((.exit_code | type) == "number" or .exit_code == null)
	and ((.signal | type) == "number" or .signal == null)
	and ((.error | type) == "string" or .error == null)
	and (.result | type) == "object" and (.job_id | type) == "string")' "$out" >/dev/null
ok $? "with the right types (time RFC 3339, result an object)"
jq -en "$JQ_MS"' input | [.[].time | ms] as $t | $t == ($t | sort | reverse)' "$out" >/dev/null
ok $? "newest first"

# --- --limit ---------------------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do cli trigger test --venue h2 >/dev/null; done
h2_done() { [ "$(cli history test --venue h2 --limit 0 --json | jq '[.[] | select(.event == "completed")] | length')" -eq 8 ]; }
wait_for 15 h2_done
cli history test --venue h2 --limit 0 --json >"$out"
is "$(jq length "$out")" 24 "--limit 0: all 24 events of 8 jobs"
is "$(cli history test --venue h2 --json | jq length)" 20 "the default limit is 20"
is "$(cli history test --venue h2 --limit 5 --json | jq -c 'map(.time + .event + .job_id)')" \
	"$(jq -c '.[0:5] | map(.time + .event + .job_id)' "$out")" "--limit 5: the 5 newest"

# --- --since -----------------------------------------------------------------
t=$(jq -r '.[10].time' "$out")
want=$(jq -c --arg t "$t" "$JQ_MS"' ($t | ms) as $s | map(select((.time | ms) >= $s)) | map(.time + .event + .job_id)' "$out")
got=$(cli history test --venue h2 --since "$t" --limit 0 --json | jq -c 'map(.time + .event + .job_id)')
is "$got" "$want" "--since T: exactly the events at or after T"
[ "$(echo "$got" | jq length)" -ge 11 ] && [ "$(echo "$got" | jq length)" -lt 24 ]; ok $? "(a strict part of them)"
t_off=$(jq -rn --arg t "$t" "$JQ_MS"' ($t | ms) as $m | (($m / 1000 | floor) + 3600 | strftime("%Y-%m-%dT%H:%M:%S")) + "." + ("00" + ($m % 1000 | tostring))[-3:] + "+01:00"')
is "$(cli history test --venue h2 --since "$t_off" --limit 0 --json | jq -c 'map(.time + .event + .job_id)')" "$got" \
	"--since the same instant with a +01:00 offset ($t_off)"
is "$(cli history test --venue h2 --since 2099-01-01T00:00:00Z --json | jq length)" 0 "--since the future: nothing"

# --- human output ----------------------------------------------------------------
cli history test --venue h2 >"$out" 2>"$err"
is "$(head -n 1 "$out" | tr -s ' ')" "TIME EVENT ATT EXIT DURATION JOB" "the table's header"
is "$(wc -l <"$out" | tr -d ' ')" 21 "a header and 20 rows"
cli history --job "$a" >"$out" 2>"$err"
grep -q "error: bad credentials for h1" "$out"; ok $? "a failed event's error is shown under it"
cli history test --venue nobody >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:no history for venue nobody provider test" "a venue with no history: exit 0, says so"

# --- errors ----------------------------------------------------------------------
cli history test >/dev/null 2>"$err"; is "$?" 64 "without --venue: exit 64"
cli history >/dev/null 2>"$err"; is "$?" 64 "without provider or --job: exit 64"
cli history test --venue h1 --job "$a" >/dev/null 2>"$err"; is "$?" 64 "--job with a provider: exit 64"
cli history test --venue h1 --limit many >/dev/null 2>"$err"; is "$?" 64 "--limit not a number: exit 64"
cli history test --venue h1 --since yesterday >/dev/null 2>"$err"; is "$?" 65 "--since not a time: exit 65"
cli history --job h1-test.20200101T000000Z.dead >/dev/null 2>"$err"; is "$?" 66 "--job of no such job: exit 66"

stop_daemon
done_testing

#!/bin/sh
# syncspool retry: all failed jobs of one venue+provider (and only those),
# or one with --job, go back to pending with their attempts reset, and
# then complete; --job of a job that is not failed, of another venue or
# provider, or of no job at all exits 66 with a clear message. A plain
# `mv failed/X pending/` means the same, with the daemon running or
# stopped (then recorded as retried, attempts reset, at its next start).
#
# Each job fails its two attempts (exit 1, max_attempts 2); before it is
# retried the admin "fixes the cause": the job's exit option is edited to
# 0 in failed/, so the rerun completes.
. "$(dirname "$0")/lib.sh"
plan 36
MAX_ATTEMPTS=2 setup
start_daemon

err=$T/err
out=$T/out
sorted() { printf '%s\n' "$@" | sort; }
failing() { cli trigger "$1" --venue "$2" --option exit=1; }
fix() { sed -i 's/"exit": "1"/"exit": "0"/' "$T/spool/failed/$1.yaml"; }
# The attempts of its started events, oldest first: "1 2 1" is two
# attempts, a retry, and a first attempt again.
starts() { cli history --job "$1" --json | jq -r '[reverse[] | select(.event == "started") | .attempt] | map(tostring) | join(" ")'; }
ev() { cli history --job "$1" --json | jq -r 'reverse | map(.event) | join(" ")'; }
# The index agrees: a file is moved before its new state is committed.
indexed_as() { cli show "$2" --json 2>/dev/null | jq -en --arg s "$1" 'input | .indexed_state == $s' >/dev/null 2>&1; }
in_failed() { for id; do [ -f "$T/spool/failed/$id.yaml" ] && indexed_as failed "$id" || return 1; done; }
in_completed() { for id; do [ -f "$T/spool/completed/$id.yaml" ] && indexed_as completed "$id" || return 1; done; }
attempts() { cli list --json | jq -r --arg id "$1" '.[] | select(.job_id == $id) | .attempts'; }

f1=$(failing test v1)
f2=$(failing test v1)
f3=$(failing other v1)
f4=$(failing test v2)
wait_for 15 in_failed "$f1" "$f2" "$f3" "$f4"
ok $? "four jobs fail after their attempts"
is "$(cli history --job "$f1" --json | jq -r '.[0] | "\(.event) \(.attempt)"')" "failed 2" "failed on attempt 2 of 2"

# --- retry all of a venue+provider -----------------------------------------
fix "$f1"; fix "$f2"
cli retry test --venue v1 >"$out" 2>"$err"
is "$?" 0 "retry exits 0"
is "$(sort "$out")" "$(sorted "retried $f1" "retried $f2")" "it prints 'retried ID' for each"
wait_for 10 in_completed "$f1" "$f2"
ok $? "both complete"
in_failed "$f3" "$f4"; ok $? "the other provider's and the other venue's failed jobs stay failed"
is "$(starts "$f1")" "1 2 1" "the rerun is attempt 1 again (attempts reset)"
grep -qx SYNCSPOOL_ATTEMPT=1 "$T/runs/$f1.1.env" && [ ! -e "$T/runs/$f1.3.env" ]
ok $? "the handler saw SYNCSPOOL_ATTEMPT=1, never 3"
is "$(ev "$f2")" "queued started retry_scheduled started failed retried started completed" "history: the whole life, in order"
is "$(attempts "$f1")" 1 "list: attempts 1 after the retried run"
cli retry test --venue v1 >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:nothing to retry for venue v1 provider test" "a second retry: exit 0, nothing to retry"

# --- retry --job --------------------------------------------------------------
cli retry test --venue v1 --job "$f1" >"$out" 2>"$err"
is "$?" 66 "--job of a completed job: exit 66"
grep -q "not failed (it is completed)" "$err"; ok $? "the message says it is not failed, and what it is ($(cat "$err"))"
cli retry test --venue v1 --job v1-test.20200101T000000Z.dead >"$out" 2>"$err"
is "$?" 66 "--job of a job that does not exist: exit 66"
grep -q "no such job v1-test.20200101T000000Z.dead" "$err"; ok $? "the message says no such job"
cli retry test --venue v1 --job "$f4" >"$out" 2>"$err"
is "$?" 66 "--job of another venue's failed job: exit 66"
grep -q "venue v2" "$err"; ok $? "the message names the job's venue"
cli retry test --venue v1 --job "$f3" >"$out" 2>"$err"
is "$?" 66 "--job of another provider's failed job: exit 66"
in_failed "$f3" "$f4"; ok $? "and nothing moved"
fix "$f4"
cli retry test --venue v2 --job "$f4" >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:retried $f4" "--job of a failed job: exit 0, 'retried ID'"
wait_for 10 in_completed "$f4"
ok $? "it completes"
is "$(starts "$f4")" "1 2 1" "with attempts reset"

# --- retry by mv, the daemon running ---------------------------------------------
m1=$(failing test v3)
wait_for 15 in_failed "$m1"
fix "$m1"
mv "$T/spool/failed/$m1.yaml" "$T/spool/pending/"
wait_for 10 in_completed "$m1"
ok $? "moved by hand from failed to pending, it completes"
is "$(starts "$m1")" "1 2 1" "with attempts reset"
is "$(ev "$m1")" "queued started retry_scheduled started failed retried started completed" "history says retried"

# --- the daemon stopped: by mv and by retry --job --------------------------------
m2=$(failing test v4)
j2=$(failing test v5)
wait_for 15 in_failed "$m2" "$j2"
stop_daemon
fix "$m2"; fix "$j2"
mv "$T/spool/failed/$m2.yaml" "$T/spool/pending/"
cli retry test --venue v5 --job "$j2" >"$out" 2>"$err"
is "$?:$(cat "$out")" "0:retried $j2" "retry --job works with the daemon stopped"
grep -q "not running" "$err"; ok $? "and says the daemon resets the attempts when it starts"
start_daemon
wait_for 10 in_completed "$m2" "$j2"
ok $? "at start both run and complete"
is "$(starts "$m2")" "1 2 1" "the mv while stopped: attempts reset"
is "$(starts "$j2")" "1 2 1" "retry --job while stopped: attempts reset"
case "$(ev "$m2")" in *" failed retried started completed") ok 0 "history says retried" ;;
*) ok 1 "history says retried: $(ev "$m2")" ;; esac

# --- errors ----------------------------------------------------------------------
cli retry test >/dev/null 2>"$err"
is "$?" 64 "retry without --venue: exit 64"
cli retry nosuch --venue v1 >/dev/null 2>"$err"
is "$?" 65 "retry of an unknown provider: exit 65"
cli retry test --venue v1 --job '../etc/passwd' >/dev/null 2>"$err"
is "$?" 65 "an invalid --job id: exit 65"
cli retry test --venue v1 --job >/dev/null 2>"$err"
is "$?" 64 "--job without a value: exit 64"
cli retry test v1 --venue v1 >/dev/null 2>"$err"
is "$?" 64 "an extra argument: exit 64"

stop_daemon
done_testing

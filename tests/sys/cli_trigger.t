#!/bin/sh
# syncspool trigger: prints the id; the job lands in pending under that id
# and completes; --type, --option (values arrive intact in
# SYNCSPOOL_OPTION_*), --priority, --not-before; the error cases and their
# exit statuses (syncspool(1) EXIT STATUS); the file is written under a
# dot-name, fsynced and renamed into view (strace); with the daemon stopped the
# file waits in pending and runs once the daemon starts.
. "$(dirname "$0")/lib.sh"
plan 47
setup
start_daemon

# reaped PID...: processes we have waited for leave EXTRA_PIDS (their ids
# may be reused by the time cleanup kills what is listed there).
reaped() { for _q; do EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$_q" | tr '\n' ' '); done; }

err=$T/err
# rc_is WANT NAME COMMAND...: the exit status of COMMAND (stderr to $err).
rc_is() {
	_want=$1 _name=$2
	shift 2
	"$@" >"$T/out" 2>"$err"
	_rc=$?
	is "$_rc" "$_want" "$_name"
	[ "$_rc" = "$_want" ] || diag "stderr: $(cat "$err")"
}
stderr_has() { # TEXT NAME
	if grep -qF -- "$1" "$err"; then ok 0 "$2"; else ok 1 "$2"; diag "stderr: $(cat "$err")"; fi
}
envf() { echo "$T/runs/$1.1.env"; }

# --- a plain trigger ---------------------------------------------------
id=$(cli trigger test --venue v1 2>"$err")
is "$?" 0 "trigger exits 0"
case $id in
v1-test.[0-9]*T[0-9]*Z.[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ok 0 "it prints a stamped id ($id)" ;;
*) ok 1 "it prints a stamped id (got '$id')" ;;
esac
is "$(printf '%s\n' "$id" | wc -l | tr -d ' ')" 1 "one line on stdout, just the id"
wait_for 10 test -f "$T/spool/completed/$id.yaml"
ok $? "the job completes under the printed id"
grep -qx "SYNCSPOOL_SYNC_TYPE=full" "$(envf "$id")"; ok $? "the default sync type is full"
is "$(find "$T/spool/pending" -name '.*' | wc -l | tr -d ' ')" 0 "no temporary dot-file is left in pending"

# --- --type, --option, several, odd values ------------------------------
v_space='two  words with spaces '
v_quote='say "hi" and '\''bye'\'' \back\slash'
v_uni='日本語 — café ünïcödé 🎉'
v_yaml='key: [not, a, list] # {not: map} &anchor *alias !tag'
v_eq='a=b=c'
v_num='007'
v_null='null'
id=$(cli trigger test --venue v2 --type delta \
	--option "space=$v_space" --option "Quote=$v_quote" \
	--option "uni=$v_uni" --option "yaml=$v_yaml" --option "eq=$v_eq" \
	--option "num=$v_num" --option "nul=$v_null" --option "empty=" 2>"$err")
is "$?" 0 "trigger with --type and eight --option exits 0"
wait_for 10 test -f "$T/spool/completed/$id.yaml"
ok $? "that job completes"
e=$(envf "$id")
grep -qx "SYNCSPOOL_SYNC_TYPE=delta" "$e"; ok $? "--type arrives as SYNCSPOOL_SYNC_TYPE"
grep -qxF "SYNCSPOOL_OPTION_SPACE=$v_space" "$e"; ok $? "a value with spaces (and a trailing one) arrives intact"
grep -qxF "SYNCSPOOL_OPTION_QUOTE=$v_quote" "$e"; ok $? "quotes and backslashes arrive intact"
grep -qxF "SYNCSPOOL_OPTION_UNI=$v_uni" "$e"; ok $? "unicode arrives intact"
grep -qxF "SYNCSPOOL_OPTION_YAML=$v_yaml" "$e"; ok $? "YAML syntax in a value stays text"
grep -qxF "SYNCSPOOL_OPTION_EQ=$v_eq" "$e"; ok $? "'=' in a value is kept"
grep -qxF "SYNCSPOOL_OPTION_NUM=007" "$e" && grep -qxF "SYNCSPOOL_OPTION_NUL=null" "$e"
ok $? "'007' and 'null' stay strings"
grep -qxF "SYNCSPOOL_OPTION_EMPTY=" "$e"; ok $? "an empty value is passed"

# --- --priority and --not-before ----------------------------------------
id=$(cli trigger test --venue v3 --priority 7 --not-before 2099-01-01T00:00:00Z 2>"$err")
is "$?" 0 "trigger --priority --not-before exits 0"
wait_for 10 sh -c "$SYNCSPOOL -c $T/syncspool.yaml list --json | jq -en 'input | .[] | select(.job_id == \"$id\")'"
ok $? "the daemon indexes it"
rec=$(cli list --state pending --json | jq -c ".[] | select(.job_id == \"$id\") | [.state, .priority, .not_before, .next_attempt]")
is "$rec" '["pending",7,"2099-01-01T00:00:00Z","2099-01-01T00:00:00Z"]' "list --json: pending, priority 7, next_attempt = not_before"
[ -f "$T/spool/pending/$id.yaml" ] && [ ! -e "$T/runs/$id.1.env" ]; ok $? "a future --not-before keeps it pending, unrun"

# A near --not-before, given with a +05:30 offset, runs, and not before.
nb_s=$(($(date +%s) + 2))
nb=$(TZ=IST-5:30 date -d "@$nb_s" +%Y-%m-%dT%H:%M:%S%:z)
id=$(cli trigger test --venue v4 --not-before "$nb" 2>"$err")
wait_for 10 test -f "$T/spool/completed/$id.yaml"
ok $? "a job with --not-before 2 s ahead ($nb) completes"
started_ns=$(awk -v id="$id" '$1 == "start" && $4 == id {print $5}' "$T/stamps")
[ -n "$started_ns" ] && [ "$((started_ns / 1000000000))" -ge "$nb_s" ]
ok $? "and it did not start before its --not-before"

# --- many at once: unique ids ------------------------------------------------
pids=
for i in $(seq 1 40); do
	cli trigger test --venue par --not-before 2099-01-01T00:00:00Z >"$T/par.$i" 2>&1 &
	pids="$pids $!"
done
EXTRA_PIDS="$EXTRA_PIDS $pids"
prc=0
for p in $pids; do wait "$p" || prc=$((prc + 1)); done
reaped $pids
is "$prc" 0 "40 triggers at once all exit 0"
is "$(cat "$T"/par.* | sort -u | grep -c '^par-test\.')" 40 "with 40 distinct ids"
is "$(ls "$T/spool/pending" | grep -c '^par-test\.')" 40 "and 40 files in pending"

# --- errors --------------------------------------------------------------
rc_is 65 "unknown provider: exit 65" cli trigger nosuch --venue v1
stderr_has "lsfd, other, test" "the message lists the known providers"
rc_is 65 "a bad venue: exit 65" cli trigger test --venue 'bad venue'
rc_is 65 "--option without '=': exit 65 (EX_DATAERR, per the man page)" cli trigger test --venue v1 --option novalue
rc_is 65 "--option with a bad key: exit 65" cli trigger test --venue v1 --option 1bad=x
rc_is 65 "--option given twice: exit 65" cli trigger test --venue v1 --option a=1 --option a=2
rc_is 65 "--priority not a number: exit 65" cli trigger test --venue v1 --priority high
rc_is 65 "--not-before not a time: exit 65" cli trigger test --venue v1 --not-before tomorrow
rc_is 65 "--type not a token: exit 65" cli trigger test --venue v1 --type 'a b'
rc_is 64 "missing --venue: exit 64" cli trigger test
stderr_has "--venue" "the message names --venue"
rc_is 64 "missing provider: exit 64" cli trigger --venue v1
rc_is 64 "unknown option: exit 64" cli trigger test --venue v1 --bogus
stderr_has "--bogus" "the message names the unknown option"
rc_is 64 "an extra argument: exit 64" cli trigger test extra --venue v1
is "$(ls "$T/spool/pending" | grep -c '^v1-test\.')" 0 "no failed trigger left a file"

# --- how the file is written ------------------------------------------
# Under a dot-name created with O_EXCL, fsynced, renamed into view with
# RENAME_NOREPLACE, then pending fsynced: the daemon never sees a part
# of a job, and a crash leaves the whole job or none.
if command -v strace >/dev/null 2>&1; then
	strace -f -qq -e trace=openat,fsync,renameat2 -o "$T/trig.trace" \
		"$SYNCSPOOL" -c "$T/syncspool.yaml" trigger test --venue v7 --not-before 2099-01-01T00:00:00Z >"$T/trig.id" 2>"$err"
	tid=$(cat "$T/trig.id")
	steps=$(perl -ne '
		BEGIN { $id = quotemeta shift }
		s/^\d+\s+//;
		if (/^openat\(\d+, "\.$id\.yaml\.[^"]*", [^)]*O_CREAT\|O_EXCL.* = (\d+)$/) { $f = $1; print "create " }
		elsif (defined $f && /^fsync\($f\)\s*= 0$/) { print "fsync-file "; undef $f }
		elsif (/^renameat2\((\d+), "\.$id\.yaml\.[^"]*", (\d+), "$id\.yaml", RENAME_NOREPLACE\) = 0$/ && $1 == $2) { $d = $2; print "rename " }
		elsif (defined $d && /^fsync\($d\)\s*= 0$/) { print "fsync-dir"; undef $d }
	' "$tid" "$T/trig.trace")
	is "$steps" "create fsync-file rename fsync-dir" \
		"trigger: a dot-name made with O_EXCL, fsync, renameat2 NOREPLACE to the id, fsync of pending"
else
	echo "ok $((test_n + 1)) # skip strace is not installed"
	test_n=$((test_n + 1))
fi

# --- with the daemon stopped --------------------------------------------
stop_daemon
lo=$(cli trigger test --venue v5 --priority 1 2>"$err")
is "$?" 0 "trigger works with the daemon stopped"
stderr_has "not running" "and says the daemon is not running"
hi=$(cli trigger test --venue v6 --priority 9 2>/dev/null)
[ -f "$T/spool/pending/$lo.yaml" ] && [ -f "$T/spool/pending/$hi.yaml" ]
ok $? "the files wait in pending under their ids"
WORKERS=1 write_config
start_daemon
wait_for 10 sh -c "test -f $T/spool/completed/$lo.yaml && test -f $T/spool/completed/$hi.yaml"
ok $? "both run once the daemon starts"
is "$(awk '$1 == "start" {print $4}' "$T/stamps" | grep -E "^($lo|$hi)\$" | tr '\n' ' ')" "$hi $lo " \
	"with one worker, --priority 9 ran before --priority 1"

stop_daemon
done_testing

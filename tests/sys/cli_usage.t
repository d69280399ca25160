#!/bin/sh
# syncspool --help and COMMAND --help: exit 0, and the usage is the
# SYNOPSIS of man/syncspool.1, line for line; wrong arguments exit 64 and
# say which. Where the config is found (-c, $SYNCSPOOL_CONFIG,
# ./etc/syncspool.yaml). check: ok on a good spool, exit 78 with the
# message on a bad config, non-zero naming a missing directory, 69 for an
# index that is not LMDB. Human
# output with stdout not a terminal: lines are not cut, and no escape
# sequence gets through, not even one the handler printed.
. "$(dirname "$0")/lib.sh"
plan 68
setup
start_daemon

err=$T/err
out=$T/out
S=$SYNCSPOOL
ESC=$(printf '\033')

# --- --help against the man page ---------------------------------------------
# One line per SYNOPSIS entry (continuation lines joined, blanks squeezed).
join_usage() { awk '/^(usage:)? *syncspool /{if (l) print l; l = $0; next} NF {l = l " " $0} END {if (l) print l}' |
	sed 's/^usage://' | tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }
man_synopsis() {
	mandoc -T ascii "$TOP/man/syncspool.1" | sed 's/.\x08//g' | awk '/^SYNOPSIS/ {f = 1; next} /^[A-Z]/ {f = 0} f' | join_usage
}
man=$(man_synopsis)
[ "$(echo "$man" | wc -l)" -eq 13 ]; ok $? "the man page's SYNOPSIS has 13 entries"
"$S" --help >"$out" 2>"$err"
is "$?" 0 "syncspool --help exits 0"
is "$(join_usage <"$out")" "$man" "syncspool --help is the SYNOPSIS, line for line"
[ ! -s "$err" ]; ok $? "on stdout, nothing on stderr"
for cmd in trigger stop resume retry status stats history list show logs check; do
	"$S" "$cmd" --help >"$out" 2>"$err"
	rc=$?
	want=$(echo "$man" | grep "^syncspool \[-c config\] $cmd\( \|\$\)")
	if [ "$rc" -eq 0 ] && [ "$(join_usage <"$out")" = "$want" ]; then
		ok 0 "syncspool $cmd --help: exit 0, the SYNOPSIS line(s) of $cmd"
	else
		ok 1 "syncspool $cmd --help: exit 0, the SYNOPSIS line(s) of $cmd"
		diag "exit $rc, got: $(join_usage <"$out")"
		diag "want: $want"
	fi
done
cli stop test --venue v1 --help >"$out" 2>"$err"
is "$?:$(head -c 6 "$out")" "0:usage:" "--help after a full command line: the usage, exit 0"

# --- wrong arguments: 64, and which -------------------------------------------
usage_err() { # NAME WHAT-THE-MESSAGE-HAS ARGS...
	_n=$1 _w=$2
	shift 2
	"$S" -c "$T/syncspool.yaml" "$@" >"$out" 2>"$err"
	_rc=$?
	if [ $_rc -eq 64 ] && grep -qF -- "$_w" "$err" && grep -q "^usage:" "$err" && [ ! -s "$out" ]; then
		ok 0 "$_n: exit 64, names '$_w', usage on stderr"
	else
		ok 1 "$_n: exit 64, names '$_w', usage on stderr"
		diag "exit $_rc: $(cat "$err")"
	fi
}
usage_err "no command" "missing command"
usage_err "an unknown command" "unknown command 'frobnicate'" frobnicate
usage_err "an unknown global option" "-x" -x status
"$S" -c >/dev/null 2>"$err"; is "$?" 64 "-c without a file: exit 64"
usage_err "trigger --venue without its value" "--venue needs an argument" trigger test --venue
usage_err "stop with an unknown option" "--force" stop test --venue v1 --force
usage_err "resume with an extra argument" "unexpected argument 'more'" resume test more --venue v1
usage_err "retry without a provider" "missing provider" retry --venue v1
usage_err "status with --venue but no provider" "--venue needs a provider" status --venue v1
usage_err "history with --job and --limit" "--job takes no" history --job a.b --limit 3
usage_err "list with an argument" "unexpected argument 'all'" list all
usage_err "list --state with a bad state" "--state 'done'" list --state done
usage_err "show with two ids" "unexpected argument" show a b
usage_err "logs with an unknown flag" "-x" logs -x a
usage_err "check with an argument" "unexpected argument 'now'" check now
usage_err "--json=1 (takes no argument)" "--json takes no argument" status --json=1

# --- where the config is found -------------------------------------------------
SYNCSPOOL_CONFIG=$T/syncspool.yaml "$S" status --json >"$out" 2>"$err"
is "$?:$(jq -r .config "$out")" "0:$T/syncspool.yaml" "without -c: \$SYNCSPOOL_CONFIG"
mkdir -p "$T/cwd/etc"
sed "s|^spool: spool|spool: $T/spool|" "$T/syncspool.yaml" >"$T/cwd/etc/syncspool.yaml"
(cd "$T/cwd" && env -u SYNCSPOOL_CONFIG "$S" status --json) >"$out" 2>"$err"
is "$?:$(jq -r .config "$out")" "0:./etc/syncspool.yaml" "then ./etc/syncspool.yaml"
"$S" -c "$T/cwd/etc/syncspool.yaml" status --json >"$out" 2>"$err"
is "$(jq -r .daemon.pid "$out")" "$DPID" "-c with another file naming the same spool finds the same daemon"

# --- check ----------------------------------------------------------------------
cli check >"$out" 2>&1
is "$?" 0 "check on the test spool: exit 0"
grep -q "test is successful" "$out"; ok $? "it says the test is successful"
grep -q "syncspoold is running, pid $DPID" "$out"; ok $? "and that the daemon runs"
cp "$T/syncspool.yaml" "$T/bad.yaml"
echo "workerz: 3" >>"$T/bad.yaml"
"$S" -c "$T/bad.yaml" check >"$out" 2>&1
is "$?" 78 "check of a config with an unknown key: exit 78"
grep -q "unknown key 'workerz'" "$out" && grep -q "line [0-9]*, column [0-9]*" "$out"; ok $? "the message names the key, line and column"
printf 'spool: spool\nproviders:\n  x:\n    command: [%s/no/such/handler]\n' "$T" >"$T/bad2.yaml"
"$S" -c "$T/bad2.yaml" check >"$out" 2>&1
is "$?" 78 "check of a provider whose command does not exist: exit 78"
grep -q "no/such/handler" "$out"; ok $? "the message names the command"
"$S" -c "$T/bad.yaml" status >/dev/null 2>"$err"
is "$?" 78 "any command with a bad config: exit 78"
"$S" -c "$T/nonexistent.yaml" check >"$out" 2>&1
is "$?" 78 "check of a missing config file: exit 78"
# (On another spool: the daemon stops when a state directory of its own
# spool goes away.)
mkdir -p "$T/spool2/pending" "$T/spool2/processing" "$T/spool2/completed" "$T/spool2/failed" "$T/spool2/logs" "$T/spool2/db"
sed 's|^spool: spool$|spool: spool2|' "$T/syncspool.yaml" >"$T/two.yaml"
"$S" -c "$T/two.yaml" check >"$out" 2>&1
rc=$?
[ $rc -ne 0 ]; ok $? "check of a spool without its paused directory: non-zero ($rc)"
grep -q "$T/spool2/paused is missing" "$out"; ok $? "the message names the missing directory"
mkdir "$T/spool2/paused"
"$S" -c "$T/two.yaml" check >"$out" 2>&1; is "$?" 0 "once created: check is ok"
grep -q "no index in $T/spool2/db yet" "$out"; ok $? "and notes that the daemon has not created the index yet"
head -c 16384 /dev/urandom >"$T/spool2/db/data.mdb"
"$S" -c "$T/two.yaml" check >"$out" 2>&1
is "$?" 69 "check of a spool whose index is not LMDB: exit 69"
grep -q "error: the index in $T/spool2/db cannot be read" "$out"; ok $? "the message says the index cannot be read"

# --- human output, stdout not a terminal -----------------------------------------
long_venue=v$(printf '%063d' 0 | tr 0 x)
long_err="the handler's very long last line on stderr: $(printf '%0200d' 0 | tr 0 e) end"
esc_err="colour ${ESC}[31mred${ESC}[0m and a title ${ESC}]0;pwned${ESC}\\ end"
l=$(cli trigger test --venue "$long_venue" --option exit=65 --option "stderr=$long_err")
e=$(cli trigger test --venue esc --option exit=65 --option "stderr=$esc_err")
# An upload whose name has escape sequences: the daemon gives it a safe
# id and keeps the name it was uploaded under.
job "$T/spool/pending/.up.tmp" esc test 'options: {exit: 65}'
mv "$T/spool/pending/.up.tmp" "$T/spool/pending/up${ESC}[1mload.yaml"
indexed_as() { cli show "$2" --json 2>/dev/null | jq -en --arg s "$1" 'input | .indexed_state == $s' >/dev/null 2>&1; }
three_failed() {
	[ -f "$T/spool/failed/$l.yaml" ] && [ -f "$T/spool/failed/$e.yaml" ] && [ "$(ls "$T/spool/failed" | grep -c '^up')" -eq 1 ] &&
		indexed_as failed "$l" && indexed_as failed "$e" && indexed_as failed "$(ls "$T/spool/failed" | grep '^up' | sed 's/\.yaml$//')"
}
wait_for 10 three_failed
ok $? "three failed jobs: a very long venue and error; escape sequences in the log; in the uploaded name"
u=$(ls "$T/spool/failed" | grep '^up' | sed 's/\.yaml$//')
grep -q "$ESC" "$T/spool/logs/$e.log" && cli show "$u" --json | jq -en 'input | .name | contains("\u001b")' >/dev/null
ok $? "(the log and the recorded name do hold ESC bytes)"
{
	cli status test --venue "$long_venue"
	cli status
	cli history test --venue "$long_venue"
	cli list
	cli show "$l"
} >"$out" 2>"$err"
grep -qF -- "$long_err" "$out"; ok $? "status and history print the long error in full"
[ "$(grep -cF -- "$l" "$out")" -ge 3 ]; ok $? "history, list and show print the long id in full"
grep -qF "venue         $long_venue" "$out"; ok $? "status prints the long venue in full"
! grep -q '…' "$out"; ok $? "no ellipsis anywhere"
{
	cli status test --venue esc
	cli status
	cli history test --venue esc
	cli history --job "$e"
	cli list
	cli list --venue esc
	cli show "$e"
	cli show "$u"
	cli stop test --venue esc
	cli retry test --venue esc --job "$e"
	cli check
} >"$out" 2>"$err"
! grep -q "$ESC" "$out"; ok $? "no escape byte on stdout from status, history, list, show, stop, retry, check"
! grep -q "$ESC" "$err"; ok $? "nor on stderr"
grep -qF "  colour ?[31mred?[0m and a title ?]0;pwned?\\ end" "$out"; ok $? "show prints the log's escapes as '?'"
grep -qF "uploaded as   up?[1mload.yaml" "$out"; ok $? "and the uploaded name's"
cli show "$e" --json | jq -en --arg s "$esc_err" 'input | .log_tail | contains($s)' >/dev/null
ok $? "JSON carries the log tail exactly (escaped by JSON, not altered)"

# --- on a terminal (script(1) gives a pty of no size: 80 columns) ------------------
if command -v script >/dev/null 2>&1; then
	tty_run() { script -qec "$S -c $T/syncspool.yaml $*" /dev/null </dev/null | tr -d '\r'; }
	{
		tty_run list
		tty_run history test --venue "$long_venue"
		tty_run status test --venue "$long_venue"
		tty_run show "$l"
	} >"$out" 2>&1
	! grep -q "$ESC" "$out"; ok $? "on a terminal: no escape sequences (no colour)"
	tty_run list | grep -qF -- "$l" && [ "$(tty_run history test --venue "$long_venue" | grep -cF -- "$l")" -eq 3 ]
	ok $? "on a terminal: job ids are never cut (list, history), they are what show and retry take"
	line=$(grep '^    error: the handler' "$out" | head -n 1)
	case $line in *…) cols=$(printf '%s' "$line" | sed 's/…/./g' | wc -c) ;; *) cols=999 ;; esac
	[ "$cols" -le 80 ]
	ok $? "on a terminal: a long error line is cut to 80 columns, with an ellipsis ($cols)"

	# Ordinary names: every line fits 80 columns, the columns line up,
	# and each id is whole (on a line of its own when the row is full).
	w1=$(cli trigger test --venue venue-123 --not-before 2099-01-01T00:00:00Z)
	w2=$(cli trigger test --venue venue-123 --option fail_attempts=1)
	w3=$(cli trigger other --venue shop-42 --type delta)
	wait_for 10 sh -c "test -f $T/spool/completed/$w2.yaml && test -f $T/spool/completed/$w3.yaml"
	wait_event "$w2" completed
	wait_event "$w3" completed
	{
		tty_run list --venue venue-123
		tty_run list --provider other
		tty_run history test --venue venue-123
		tty_run history --job "$w2"
		tty_run status
		tty_run status test --venue venue-123
	} >"$out" 2>&1
	widest=$(sed 's/…/./g' "$out" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
	[ "$widest" -le 80 ]
	ok $? "on a terminal of 80 columns, list, history and status fit ($widest columns at most)"
	[ "$widest" -le 80 ] || diag "$(awk 'length($0) > 80' "$out")"
	tty_run list --venue venue-123 | sed "s/…/./g" >"$T/list"
	head=$(grep -m1 'STATE' "$T/list")
	row=$(grep -m1 ' pending ' "$T/list")
	hs=$(awk -v s="$head" 'BEGIN { print index(s, "STATE") " " index(s, "NEXT") }')
	rs=$(awk -v s="$row" 'BEGIN { print index(s, "pending") " " index(s, "2099-01-01T00:00:00Z") }')
	is "$rs" "$hs" "on a terminal: list's cells start under their headers"
	grep -qx "$w1" "$T/list" && grep -qx "$w2" "$T/list"
	ok $? "on a terminal: list prints each id whole, on its own line"
	n=$(tty_run history test --venue venue-123 | grep -c "^    job $w2\$")
	is "$n" 5 "on a terminal: history prints the job id whole under each of its 5 events"
else
	for n in 1 2 3 4 5 6; do echo "ok $((test_n + 1)) # skip script(1) is not installed"; test_n=$((test_n + 1)); done
fi

stop_daemon
done_testing

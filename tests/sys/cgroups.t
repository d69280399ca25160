#!/bin/sh
# A cgroup per handler: what leaves the process group (setsid) is still
# in the handler's cgroup and dies with it; the cgroup goes when the
# handler has, unless the handler left it empty: then the next handler
# runs in it; a restarted daemon keeps the cgroup of a handler it adopts
# and kills what the last one's handlers left; with `cgroups: off`, or
# where no cgroup can be made, the daemon runs handlers as before.
#
# The handler here starts an escapee with setsid that lets go of its
# stdio and would live 1000 s, records its own pid, its cgroup and the
# escapee's pid under $T/<venue>/, then sleeps as the job's options say.
. "$(dirname "$0")/lib.sh"
setup
cat >"$T/h-esc" <<'EOF'
#!/bin/sh
d=$TEST_DIR/$SYNCSPOOL_VENUE_ID
mkdir -p "$d"
sed -n 's/^0:://p' /proc/self/cgroup >"$d/cgroup"
echo $$ >"$d/pid"
setsid sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1"; exec sleep 1000 </dev/null >/dev/null 2>&1' sh "$d/esc" &
i=0
while [ ! -s "$d/esc" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
sleep "${SYNCSPOOL_OPTION_SLEEP:-0}"
exit 0
EOF
# h-plain records its cgroup and each run, and leaves nothing behind.
cat >"$T/h-plain" <<'EOF'
#!/bin/sh
d=$TEST_DIR/$SYNCSPOOL_VENUE_ID
mkdir -p "$d"
sed -n 's/^0:://p' /proc/self/cgroup >"$d/cgroup"
echo "$SYNCSPOOL_ATTEMPT" >>"$d/runs"
exit 0
EOF
chmod +x "$T/h-esc" "$T/h-plain"
EXTRA_PROVIDERS="  esc:
    command: [$T/h-esc]
    timeout: 60s
    backoff: {initial: 100ms, max: 100ms}
    env: {TEST_DIR: \"$T\"}
  plain:
    command: [$T/h-plain]
    backoff: {initial: 100ms, max: 100ms}
    env: {TEST_DIR: \"$T\"}"
write_config

plan 23

# gone PID: no such process, or a zombie.
gone() {
	[ ! -e "/proc/$1" ] || awk '{ exit !($3 == "Z") }' "/proc/$1/stat" 2>/dev/null
}
alive() { ! gone "$1"; }
# escapee V: the escapee's pid of venue V's handler, once written.
escapee() { cat "$T/$1/esc" 2>/dev/null; }
has_escapee() { [ -s "$T/$1/esc" ]; }
track() { EXTRA_PIDS="$EXTRA_PIDS $*"; }
skip() { # N REASON: N tests skipped
	_i=0
	while [ $_i -lt "$1" ]; do
		test_n=$((test_n + 1))
		echo "ok $test_n # SKIP $2"
		_i=$((_i + 1))
	done
}

# May this test make a cgroup beside its own? Then the daemon must too.
can_cgroup() {
	_mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
	_self=$(sed -n 's/^0:://p' /proc/self/cgroup)
	[ -n "$_mnt" ] && [ -n "$_self" ] || return 1
	_dir=$_mnt${_self%/}/syncspool-probe.$$
	mkdir "$_dir" 2>/dev/null || return 1
	[ -w "$_dir/cgroup.procs" ] && [ -e "$_dir/cgroup.kill" ]
	_rc=$?
	rmdir "$_dir"
	return $_rc
}

# ---- with cgroups (the default: auto)

start_daemon
wait_for 5 grep -q "event=cgroups " "$T/daemon.log"
ok $? "the daemon says whether it contains handlers in cgroups"
if can_cgroup; then
	grep -q "event=cgroups state=on" "$T/daemon.log"
	ok $? "where cgroups can be made, it does"
else
	grep -q "event=cgroups state=unavailable" "$T/daemon.log"
	ok $? "where they cannot, it says so"
fi
if grep -q "event=cgroups state=on" "$T/daemon.log"; then
	CGP=$(sed -n 's/.*event=cgroups state=on path=\([^ ]*\).*/\1/p' "$T/daemon.log" | head -n 1)
	diag "handlers' cgroups under $CGP"

	# 1. A handler runs in a cgroup of its own; its escapee dies with it.
	drop one.yaml v1 esc 'options: {sleep: "0.5"}'
	wait_for 10 has_escapee v1
	track "$(escapee v1)" "$(cat "$T/v1/pid")"
	id=$(job_id_in processing one)
	cg=$(cat "$T/v1/cgroup")
	case $cg in */"$(basename "$CGP")/run@"*) st=0 ;; *) st=1 ;; esac
	ok $st "the handler runs in a cgroup of its own: $cg"
	[ -d "$CGP/${cg##*/}" ]; ok $? "which the daemon made under $CGP"
	grep -qx "$(escapee v1)" "$CGP/${cg##*/}/cgroup.procs"
	ok $? "the escapee that left the process group is still in it"
	wait_for 10 count_is completed 1
	ok $? "the job completes"
	wait_for 5 gone "$(escapee v1)"
	ok $? "and the escapee is killed with it"
	wait_for 5 test ! -d "$CGP/${cg##*/}"
	ok $? "the job's cgroup is removed once empty"

	# 1b. A handler that leaves its cgroup empty: the cgroup is kept, and
	# the next handler runs in it, unharmed (a cgroup once killed is not
	# used again: a child cloned into it would be killed at birth).
	drop p1.yaml w1 plain
	wait_for 10 count_is completed 2
	c1=$(cat "$T/w1/cgroup")
	[ -d "$CGP/${c1##*/}" ] && [ "${c1##*/}" != "${cg##*/}" ] &&
		[ ! -s "$CGP/${c1##*/}/cgroup.procs" ]
	ok $? "a cgroup its handler left empty is kept, empty ($c1)"
	drop p2.yaml w2 plain
	wait_for 10 count_is completed 3
	ok $? "the next job completes"
	is "$(cat "$T/w2/cgroup")" "$c1" "its handler ran in the kept cgroup"
	is "$(cat "$T/w2/runs" 2>/dev/null)" "1" "once, at its first attempt"
	! grep -q "event=retry.*venue=w2" "$T/daemon.log"
	ok $? "and nothing of it was retried"

	# 2. kill -9 while a handler runs: the restarted daemon adopts it and
	# leaves its cgroup alone until it ends.
	drop two.yaml v2 esc 'options: {sleep: 5}'
	wait_for 10 has_escapee v2
	e2=$(escapee v2)
	h2=$(cat "$T/v2/pid")
	track "$e2" "$h2"
	kill9_daemon
	start_daemon
	wait_for 10 grep -q "event=recovered" "$T/daemon.log"
	ok $? "after kill -9 the daemon adopts the running handler"
	alive "$e2" && alive "$h2"
	ok $? "its handler and escapee are left alone while it runs"
	wait_for 20 count_is completed 4
	ok $? "the adopted job ends"
	wait_for 5 gone "$e2"
	ok $? "and then its escapee is killed, through the cgroup it kept"

	# 3. The handler ends while no daemon runs: what it left is killed at
	# the next start, and the interrupted job runs again.
	drop three.yaml v3 esc 'options: {sleep: "0.3"}'
	wait_for 10 has_escapee v3
	e3=$(escapee v3)
	h3=$(cat "$T/v3/pid")
	track "$e3" "$h3"
	kill9_daemon
	wait_for 10 gone "$h3"
	alive "$e3"
	ok $? "with no daemon, the escapee outlives its handler"
	rm -f "$T/v3/esc"
	start_daemon
	wait_for 5 gone "$e3"
	ok $? "the next daemon kills it at start"
	grep -q "event=cgroups_cleared killed=1" "$T/daemon.log"
	ok $? "and says so in its log"
	wait_for 15 count_is completed 5
	ok $? "the interrupted job runs again and completes"
	wait_for 5 has_escapee v3 && track "$(escapee v3)"
	stop_daemon
	[ ! -d "$CGP" ]
	ok $? "a daemon that stops cleanly leaves no cgroup behind"
else
	why=$(sed -n 's/.*event=cgroups state=\([a-z]*\) error="\([^"]*\)".*/\1: \2/p' "$T/daemon.log" | head -n 1)
	diag "no cgroups here: $why"
	skip 20 "no cgroup v2 for handlers here ($why)"
	stop_daemon
fi

# ---- cgroups: off: process groups only, as documented

CGROUPS=off write_config
start_daemon
wait_for 5 grep -q "event=cgroups state=off" "$T/daemon.log"
n0=$(count completed)
drop four.yaml v4 esc
wait_for 10 has_escapee v4
e4=$(escapee v4)
track "$e4" "$(cat "$T/v4/pid")"
wait_for 10 count_is completed $((n0 + 1))
c=$(cat "$T/v4/cgroup")
case $c in *"/syncspool."*) st=1 ;; *) st=0 ;; esac
[ $st -eq 0 ] && alive "$e4"
ok $? "with cgroups: off the job runs in the daemon's cgroup ($c), and an escapee outlives it"
kill -KILL "$e4" 2>/dev/null
stop_daemon
done_testing

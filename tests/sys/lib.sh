# lib.sh - shared set-up for the TAP system tests.
#
# Each test sources this file, calls `setup` (a fresh spool under mktemp -d
# and a config whose `test` provider runs tests/sys/handler), then starts
# the real daemon with `start_daemon` and acts as users do. Every wait is
# bounded (`wait_for`), and `cleanup` (on EXIT) kills every process the
# test started, by pid, and removes the directory.
#
# The binaries under test: $SYNCSPOOLD and $SYNCSPOOL (the Makefile sets
# them; by default the ones at the top of the tree).

TOP=$(cd "$(dirname "$0")/../.." && pwd)
SYNCSPOOLD=${SYNCSPOOLD:-$TOP/syncspoold}
SYNCSPOOL=${SYNCSPOOL:-$TOP/syncspool}
HANDLER=$TOP/tests/sys/handler

# Sanitizer runs: leaks and errors fail the process loudly.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=
DPID=
EXTRA_PIDS=
test_n=0
test_failed=0

plan() { echo "1..$1"; }
ok() {
	test_n=$((test_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $test_n - $2"
	else
		echo "not ok $test_n - $2"
		test_failed=$((test_failed + 1))
	fi
}
# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
	fi
}
diag() { echo "# $*" | sed '2,$s/^/# /'; }
bail() { echo "Bail out! $*"; exit 1; }

now_ms() { date +%s%3N; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout.
# TIMEOUT_SCALE (a whole number, default 1) multiplies every limit, for
# slow runs: the daemon under valgrind (make check-valgrind).
wait_for() {
	_limit=$(($1 * ${TIMEOUT_SCALE:-1}))
	shift
	_end=$(($(now_ms) + _limit * 1000))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -ge "$_end" ] && return 1
		sleep 0.05
	done
	return 0
}

count() { # count DIR: the job files in a state directory
	find "$T/spool/$1" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l | tr -d ' '
}
count_is() { [ "$(count "$1")" -eq "$2" ]; }

# setup [EXTRA CONFIG LINES for provider test]
setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/syncspool-test.XXXXXX")
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	mkdir -p "$T/spool/pending" "$T/spool/processing" "$T/spool/completed" \
		"$T/spool/failed" "$T/spool/paused" "$T/spool/logs" "$T/spool/db" \
		"$T/runs"
	: >"$T/stamps"
	write_config "$@"
}

# write_config [EXTRA PROVIDER LINES]: (re)write $T/syncspool.yaml
write_config() {
	{
		echo "spool: spool"
		echo "workers: ${WORKERS:-4}"
		echo "settle: ${SETTLE:-300ms}"
		echo "rescan: ${RESCAN:-60s}"
		echo "min_free: ${MIN_FREE:-0%}"
		echo "log_max: ${LOG_MAX:-64KiB}"
		echo "shutdown_grace: ${GRACE:-5s}"
		[ -n "${RETENTION:-}" ] && echo "retention: $RETENTION"
		[ -n "${METRICS:-}" ] && echo "metrics: $METRICS"
		[ -n "${CGROUPS:-}" ] && echo "cgroups: $CGROUPS"
		echo "providers:"
		echo "  test:"
		echo "    command: [${TEST_COMMAND:-$HANDLER}]"
		echo "    timeout: ${TIMEOUT:-30s}"
		echo "    max_attempts: ${MAX_ATTEMPTS:-3}"
		echo "    backoff: {initial: ${BACKOFF:-100ms}, max: ${BACKOFF:-100ms}}"
		echo "    concurrency: ${CONCURRENCY:-4}"
		echo "    env: {TEST_DIR: \"$T\"}"
		for line in "$@"; do echo "    $line"; done
		echo "  lsfd:"
		echo "    command: [/bin/ls, -l, /proc/self/fd]"
		echo "  other:"
		echo "    command: [$HANDLER]"
		echo "    concurrency: 2"
		echo "    backoff: {initial: 100ms, max: 100ms}"
		echo "    env: {TEST_DIR: \"$T\"}"
		# More providers, as YAML lines indented by two spaces.
		if [ -n "${EXTRA_PROVIDERS:-}" ]; then
			printf '%s\n' "$EXTRA_PROVIDERS"
		fi
	} >"$T/syncspool.yaml"
}

start_daemon() {
	"$SYNCSPOOLD" -c "$T/syncspool.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	# Ready once it holds the lock and has set up its watches.
	wait_for 10 grep -q "event=start pid=$DPID " "$T/daemon.log" ||
		{ cat "$T/daemon.log" >&2; bail "syncspoold did not start"; }
}

# stop_daemon: SIGTERM and wait (bounded); returns its exit status.
stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	_end=$(($(now_ms) + 20000 * ${TIMEOUT_SCALE:-1}))
	while kill -0 "$DPID" 2>/dev/null; do
		if [ "$(now_ms)" -ge "$_end" ]; then
			kill -KILL "$DPID" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$DPID"
	_rc=$?
	DPID=
	return $_rc
}

# committer_pid: the daemon's committer (syncspoold(8): a child process
# named syncspoold-db that makes its changes durable); fails when none.
committer_pid() {
	[ -n "$DPID" ] && pgrep -P "$DPID" -x syncspoold-db
}
# committers: every committer still at work on this test's spool, whoever
# its parent is now (a killed daemon's committer is reparented).
committers() {
	for _p in $(pgrep -x syncspoold-db); do
		ls -l "/proc/$_p/fd" 2>/dev/null | grep -q -F "$T/spool/" &&
			echo "$_p"
	done
}
no_committer() { [ -z "$(committers)" ]; }

# kill9_daemon: SIGKILL, then wait (bounded) until its committer, which
# gets SIGKILL as the daemon dies, is gone too: it may be in the middle
# of a system call, and what follows a kill looks at the files.
kill9_daemon() {
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
	wait_for 10 no_committer ||
		diag "kill9_daemon: a committer still runs: $(committers)"
}

cleanup() {
	_rc=$?
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	[ -n "$DPID" ] && wait "$DPID" 2>/dev/null
	for p in $EXTRA_PIDS; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$T" ] && for p in $(committers); do kill -KILL "$p" 2>/dev/null; done
	# Handlers record their pids: none may outlive the test. A pid file
	# left by a killed handler may name a recycled pid by now, so only a
	# process that is still one of this test's handlers is killed.
	if [ -d "$T/runs" ]; then
		for f in "$T"/runs/*.pid; do
			[ -f "$f" ] || continue
			p=$(cat "$f")
			{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
				grep -qx "TEST_DIR=$T" && kill -KILL "$p" 2>/dev/null
		done
	fi
	if [ "$test_failed" -ne 0 ] && [ -f "$T/daemon.log" ]; then
		echo "# daemon log (last 40 lines):"
		tail -n 40 "$T/daemon.log" | sed 's/^/#   /'
	fi
	# A sanitizer report in the daemon's log fails the test.
	if [ -f "$T/daemon.log" ] && grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/daemon.log"; then
		echo "not ok - sanitizer report in the daemon log:"
		sed 's/^/#   /' "$T/daemon.log" | head -60
		_rc=1
	fi
	# make check-valgrind runs the daemon under memcheck with -q, which
	# prints only errors and leaks, each line "==PID== ...": any fails.
	if [ -f "$T/daemon.log" ] && grep -q -E '^==[0-9]+== ' "$T/daemon.log"; then
		echo "not ok - valgrind report in the daemon log:"
		grep -E '^==[0-9]+== ' "$T/daemon.log" | sed 's/^/#   /' | head -80
		_rc=1
	fi
	# A daemon killed with -9 leaves its handlers' cgroups (see
	# syncspoold(8)) for the next start, which never comes: kill what
	# may be left in them and remove them.
	if [ -n "$T" ] && [ -d "$T/spool" ] && [ -z "${KEEP:-}" ]; then
		_cg=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
		_cg=$_cg$(sed -n 's/^0:://p' /proc/self/cgroup | sed 's|/$||')
		_cg=$_cg/syncspool.$(stat -c %d.%i "$T/spool")
		if [ -d "$_cg" ]; then
			for _c in "$_cg"/*/; do
				[ -d "$_c" ] || continue
				echo 1 >"$_c/cgroup.kill" 2>/dev/null
				rmdir "$_c" 2>/dev/null
			done
			rmdir "$_cg" 2>/dev/null
		fi
	fi
	[ -n "$T" ] && [ -z "${KEEP:-}" ] && rm -rf "$T"
	exit $_rc
}

# job FILE VENUE [PROVIDER] [extra YAML lines...]: write a job file.
job() {
	_f=$1 _v=$2 _p=${3:-test}
	shift 3 2>/dev/null || shift $#
	{
		echo "venue_id: $_v"
		echo "provider: $_p"
		for line in "$@"; do echo "$line"; done
	} >"$_f"
}

# drop NAME VENUE [PROVIDER] [lines]: write under a dot-name, rename in.
drop() {
	_n=$1
	shift
	job "$T/spool/pending/.$_n.tmp" "$@"
	mv "$T/spool/pending/.$_n.tmp" "$T/spool/pending/$_n"
}

# drop_burst N PREFIX VENUES [LINE]: N jobs for provider test over venues
# v0 .. v(VENUES-1), with LINE added to each, written as dot-files first
# and then renamed in by one perl loop, as fast as the kernel lets them
# land: PREFIX1.yaml .. PREFIXN.yaml.
drop_burst() {
	perl -e '
		my ($dir, $n, $pre, $venues, $line) = @ARGV;
		for my $i (1 .. $n) {
			open my $f, ">", "$dir/.$pre$i.tmp" or die "$!";
			print $f "venue_id: v" . ($i % $venues) . "\n";
			print $f "provider: test\n";
			print $f "$line\n" if $line ne "";
			close $f or die "$!";
		}
		rename "$dir/.$pre$_.tmp", "$dir/$pre$_.yaml" or die "$!"
			for 1 .. $n;
	' "$T/spool/pending" "$1" "$2" "$3" "${4:-}"
}

# The id of the only job file in a state dir matching a stem.
job_id_in() { # DIR STEM
	ls "$T/spool/$1" | grep "^$2\." | sed 's/\.yaml$//' | head -n 1
}

cli() { "$SYNCSPOOL" -c "$T/syncspool.yaml" "$@"; }

# dgram_sink SOCKET OUT: a datagram socket that appends each message it
# receives to OUT as a line (a stand-in for systemd's notify socket or
# the syslog daemon's /dev/log), in EXTRA_PIDS; returns once it is bound.
dgram_sink() {
	: >>"$2"
	perl -MIO::Socket::UNIX -e '
		$| = 1;
		my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM,
					      Local => $ARGV[0])
			or die "bind: $!";
		open(my $out, ">>", $ARGV[1]) or die;
		$out->autoflush(1);
		while (defined $s->recv(my $m, 8192)) { print $out "$m\n" }' \
		"$1" "$2" &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	wait_for 5 test -S "$1"
}

# wait_event ID EVENT [SECONDS]: until the job's history has that event.
# A file reaches its directory a moment before the daemon's flush records
# it, so a test that saw the file waits for its history too.
wait_event() {
	wait_for "${3:-10}" sh -c "\"$SYNCSPOOL\" -c \"$T/syncspool.yaml\" history --job \"$1\" --json 2>/dev/null | grep -q '\"event\": *\"$2\"'"
}

done_testing() {
	[ "$test_failed" -eq 0 ]
}

#!/bin/sh
# Start-up checks of who can change what the daemon trusts (the spool's
# directories, the config, the handlers): errors stop the daemon with
# exit 78 and the reason, warnings are logged, SIGHUP refuses a config
# that fails them, and `syncspool check` says the same. The table of
# directory cases is in tests/unit/test_audit.c; here, the real daemon.
. "$(dirname "$0")/lib.sh"
plan 16
setup
mkdir "$T/bin"
cp "$HANDLER" "$T/bin/handler"
chmod 755 "$T/bin/handler"
TEST_COMMAND=$T/bin/handler write_config

# refused WHY: the daemon exits 78 at once and its stderr says WHY.
refused() {
	"$SYNCSPOOLD" -c "$T/syncspool.yaml" 2>"$T/refused.err" &
	_p=$!
	EXTRA_PIDS="$EXTRA_PIDS $_p"
	wait_for 10 sh -c "! kill -0 $_p"
	wait "$_p"
	_rc=$?
	[ "$_rc" -eq 78 ] && grep -q "$1" "$T/refused.err" && return 0
	diag "exit $_rc: $(cat "$T/refused.err")"
	return 1
}

chmod 0666 "$T/syncspool.yaml"
refused "syncspool.yaml (the configuration) is writable by everyone"
ok $? "a config anyone may write is refused"
chmod 0644 "$T/syncspool.yaml"

chmod 0757 "$T/bin/handler"
refused "bin/handler (the handler of provider test) is writable by everyone"
ok $? "a handler anyone may write is refused"
cli check >"$T/check.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "error: .*bin/handler (the handler of provider test) is writable by everyone" "$T/check.out"
ok $? "syncspool check says so too (exit $rc)"
chmod 0755 "$T/bin/handler"

chmod 0777 "$T/bin"
refused "the directory $T/bin, above the handler of provider test, is writable by everyone"
ok $? "a handler in a directory anyone may write is refused"
chmod 1777 "$T/bin"
start_daemon
kill -0 "$DPID"; ok $? "with the sticky bit on that directory it starts"
stop_daemon
chmod 0755 "$T/bin"

# Warnings: logged, and the daemon runs.
chmod 0775 "$T/bin/handler"
chmod 0770 "$T/spool/db"
start_daemon
grep -q 'event=check_warning msg=".*bin/handler (the handler of provider test) is writable by its group' "$T/daemon.log"
ok $? "a handler its group may write is a warning"
grep -q 'event=check_warning msg=".*/db is writable by its group' "$T/daemon.log"
ok $? "so is db/ writable by its group"
if [ "$(id -u)" -eq 0 ]; then
	grep -q 'event=check_warning msg="syncspoold runs as root' "$T/daemon.log"
	ok $? "running as root is a warning"
else
	ok 0 "# SKIP not running as root"
fi
drop w.yaml v1 test
wait_for 10 count_is completed 1
ok $? "and jobs run"
cli check >"$T/check.out" 2>&1
grep -q "warning: .*bin/handler (the handler of provider test) is writable by its group" "$T/check.out"
ok $? "syncspool check shows the warnings"
chmod 0755 "$T/bin/handler"
chmod 0755 "$T/spool/db"

# SIGHUP: a config whose handler anyone may write is refused; the old
# one stays in force.
cp "$HANDLER" "$T/bin/handler2"
chmod 0757 "$T/bin/handler2"
TEST_COMMAND=$T/bin/handler2 write_config
kill -HUP "$DPID"
wait_for 10 grep -q "event=reload_refused" "$T/daemon.log"
ok $? "a reload whose handler anyone may write is refused"
grep -q 'event=reload_refused error=".*bin/handler2 (the handler of provider test) is writable by everyone' "$T/daemon.log"
ok $? "with the reason"
drop w2.yaml v2 test
wait_for 10 count_is completed 2
ok $? "and the old config still runs jobs"
chmod 0755 "$T/bin/handler2"
kill -HUP "$DPID"
wait_for 10 grep -q "event=reloaded" "$T/daemon.log"
ok $? "once fixed, the reload is taken"
stop_daemon

# The upload group may write pending/ only.
if [ "$(id -u)" -eq 0 ] && getent group nogroup >/dev/null; then
	chgrp nogroup "$T/spool/pending" "$T/spool/processing"
	chmod 2770 "$T/spool/pending"
	chmod 0770 "$T/spool/processing"
	start_daemon
	grep -q 'event=check_warning msg=".*/processing is writable by gid [0-9]*, the group that uploads into pending/' "$T/daemon.log"
	ok $? "processing/ writable by the uploaders' group is a warning"
	stop_daemon
	chgrp 0 "$T/spool/pending" "$T/spool/processing"
	chmod 0755 "$T/spool/pending" "$T/spool/processing"
else
	ok 0 "# SKIP needs root and a group nogroup"
fi
# A spool directory owned by another user: for a root daemon a warning.
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$T/spool/failed"
	start_daemon
	grep -q "event=check_warning msg=\".*/failed is owned by uid $(id -u nobody), not by the user syncspoold runs as" "$T/daemon.log"
	ok $? "a directory owned by another user is a warning for a root daemon"
	stop_daemon
	chown 0 "$T/spool/failed"
else
	ok 0 "# SKIP not running as root"
fi
done_testing

#!/bin/sh
# make install and make uninstall, into a temporary DESTDIR: every file in
# its place with the install's paths, an edited config never overwritten
# nor removed, nothing else left behind. Then an install under a
# temporary PREFIX is run for real: the spool made from the installed
# tmpfiles.d entry, the installed daemon with the installed config and
# handler completes a job. systemd's own tools check the systemd files
# where they are installed.
#
# make installs the binaries under test ($SYNCSPOOLD, $SYNCSPOOL), so it
# builds nothing and leaves the tree as it was.
. "$(dirname "$0")/lib.sh"
plan 28
setup

skip() {
	test_n=$((test_n + 1))
	echo "ok $test_n # skip $*"
}
# make in a clean environment: neither a PREFIX in the caller's
# environment nor the MAKEFLAGS of a `make check` running this test
# leaks in.
inst() {
	env -i PATH="$PATH" make -s --no-print-directory -C "$TOP" \
		SYNCSPOOLD_BIN="$SYNCSPOOLD" SYNCSPOOL_BIN="$SYNCSPOOL" "$@" \
		>>"$T/make.log" 2>&1
}
# Files and symlinks under a directory, relative, sorted, one a line.
files() {
	(cd "$1" 2>/dev/null || { echo "(no directory $1)"; exit; }
	find . ! -type d | sed 's|^\./||' | sort)
}

D=$T/dest
inst install DESTDIR="$D" PREFIX=/usr
ok $? "make install DESTDIR=... PREFIX=/usr"
[ -x "$D/usr/sbin/syncspoold" ] && [ -x "$D/usr/bin/syncspool" ]
ok $? "syncspoold in sbin, syncspool in bin"
cmp -s "$SYNCSPOOLD" "$D/usr/sbin/syncspoold"; ok $? "the binaries under test were installed"
missing=
for m in "$TOP"/man/*.[158]; do
	[ -f "$m" ] || continue
	n=${m##*/}
	cmp -s "$m" "$D/usr/share/man/man${n##*.}/$n" || missing="$missing $n"
done
is "$missing" "" "every man page in its section"
[ -x "$D/usr/lib/syncspool/handlers/demo" ] && [ -x "$D/usr/lib/syncspool/handlers/webhook" ]
ok $? "the example handlers in lib/syncspool/handlers"

conf=$D/etc/syncspool/syncspool.yaml
grep -qx 'spool: /var/spool/syncspool' "$conf"; ok $? "the config's spool is /var/spool/syncspool"
grep -q 'command: \[/usr/lib/syncspool/handlers/demo' "$conf" && ! grep -q '\.\./' "$conf"
ok $? "its commands name the installed handlers; no relative path is left"
unit=$D/usr/lib/systemd/system/syncspoold.service
grep -qx 'ExecStart=/usr/sbin/syncspoold -c /etc/syncspool/syncspool.yaml' "$unit" &&
	grep -qx 'ReadWritePaths=/var/spool/syncspool' "$unit"
ok $? "the unit runs the installed daemon with the installed config"
grep -Eq '^d +/var/spool/syncspool/pending +3770 +syncspool +syncspool-upload' \
	"$D/usr/lib/tmpfiles.d/syncspool.conf"
ok $? "tmpfiles.d/syncspool.conf makes pending 3770 for the upload group"
grep -Eq '^u +syncspool ' "$D/usr/lib/sysusers.d/syncspool.conf"
ok $? "sysusers.d/syncspool.conf makes the syncspool user"

# An edited config survives an install and an uninstall.
echo "# edited by the admin" >>"$conf"
: >"$T/make.log"
inst install DESTDIR="$D" PREFIX=/usr
grep -q '^# edited by the admin' "$conf"; ok $? "a second install leaves an edited config alone"
grep -q "kept $conf" "$T/make.log"; ok $? "and says so"
grep -qx 'spool: /var/spool/syncspool' "$D/usr/share/doc/syncspool/examples/syncspool.yaml"
ok $? "the new default is in share/doc/syncspool/examples"
inst uninstall DESTDIR="$D" PREFIX=/usr
ok $? "make uninstall"
is "$(files "$D")" "etc/syncspool/syncspool.yaml" "uninstall removes everything but the edited config"

# An unedited config goes with the rest, and so do the directories.
rm "$conf"
inst install DESTDIR="$D" PREFIX=/usr && inst uninstall DESTDIR="$D" PREFIX=/usr
is "$(files "$D")" "" "install then uninstall leaves no file"
is "$(cd "$D" && find . -name '*syncspool*')" "" "nor a syncspool directory"

# For real: an install under $T/local, its spool made from its tmpfiles
# entry (owners aside: the users do not exist here).
L=$T/local
inst install PREFIX="$L" SYSCONFDIR="$L/etc" LOCALSTATEDIR="$L/var"
ok $? "make install PREFIX=\$T/local SYSCONFDIR=... LOCALSTATEDIR=..."
awk '$1 == "d" { print $2, $3 }' "$L/lib/tmpfiles.d/syncspool.conf" |
	while read -r dir mode; do mkdir -p "$dir" && chmod "$mode" "$dir"; done
spool=$(sed -n 's/^spool: //p' "$L/etc/syncspool/syncspool.yaml")
[ "$spool" = "$L/var/spool/syncspool" ] && [ -d "$spool/pending" ] && [ -d "$spool/db" ]
ok $? "the tmpfiles entry makes the spool the config names"
"$L/sbin/syncspoold" -c "$L/etc/syncspool/syncspool.yaml" 2>>"$T/daemon.log" &
DPID=$!
wait_for 10 grep -q 'event=start' "$T/daemon.log"
ok $? "the installed daemon starts with the installed config"
id=$("$L/bin/syncspool" -c "$L/etc/syncspool/syncspool.yaml" trigger demo --venue v1 --option sleep=0)
wait_for 10 test -f "$spool/completed/$id.yaml"
ok $? "a triggered job completes through the installed demo handler"
grep -q '^demo: synced' "$spool/logs/$id.log"; ok $? "the handler's output is in its log"
"$L/bin/syncspool" -c "$L/etc/syncspool/syncspool.yaml" check >"$T/check.out" 2>&1
ok $? "syncspool check accepts the installed config"
stop_daemon
ok $? "and the daemon stops cleanly"

if command -v systemd-analyze >/dev/null 2>&1; then
	# --man=no: the man pages are under $L, not where man(1) looks.
	systemd-analyze verify --man=no "$L/lib/systemd/system/syncspoold.service" \
		>"$T/verify.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$T/verify.out" ]
	ok $? "systemd-analyze verify is clean"
	[ $rc -eq 0 ] || diag "$(cat "$T/verify.out")"
else
	skip "systemd-analyze is not installed"
fi

# systemd-sysusers and systemd-tmpfiles on a DESTDIR install, as --root:
# they find the installed entries themselves.
if command -v systemd-sysusers >/dev/null 2>&1 &&
	command -v systemd-tmpfiles >/dev/null 2>&1; then
	R=$T/root
	mkdir -p "$R/etc"
	inst install DESTDIR="$R" PREFIX=/usr &&
		systemd-sysusers --root="$R" >>"$T/sysusers.log" 2>&1 &&
		systemd-tmpfiles --create --root="$R" >>"$T/sysusers.log" 2>&1
	ok $? "systemd-sysusers and systemd-tmpfiles --create accept them"
	uid=$(awk -F: '$1 == "syncspool" { print $3 }' "$R/etc/passwd")
	gid=$(awk -F: '$1 == "syncspool" { print $3 }' "$R/etc/group")
	ugid=$(awk -F: '$1 == "syncspool-upload" { print $3 }' "$R/etc/group")
	is "$(awk -F: '$1 == "syncspool-upload" { print $4 }' "$R/etc/group")" syncspool \
		"syncspool is a member of syncspool-upload"
	s=$R/var/spool/syncspool
	got=$(stat -c '%n %a %u %g' "$s" "$s"/* | sed "s|^$s|spool|")
	want="spool 750 $uid $gid
spool/completed 750 $uid $gid
spool/db 750 $uid $gid
spool/failed 750 $uid $gid
spool/logs 750 $uid $gid
spool/paused 750 $uid $gid
spool/pending 3770 $uid $ugid
spool/processing 750 $uid $gid"
	is "$got" "$want" "the spool's owners and modes"
else
	skip "systemd-sysusers is not installed"
	skip "systemd-tmpfiles is not installed"
	skip "systemd-tmpfiles is not installed"
fi
done_testing

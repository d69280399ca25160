#!/bin/sh
# Build and set-up, in a copy of the tree under $T: the layout (the spool's
# directories kept in git by placeholders, the default config with its
# demo provider), contrib/deps.sh (as root it installs what is missing;
# otherwise it prints the apt-get line and `make run` stops before
# building), .ci/run (deps, then `make test`), and `make run` itself:
# it builds both programs at the top of the tree with the warnings on and
# none given (-Werror here), runs the daemon on ./spool with
# etc/syncspool.yaml, and the README's tour works against it.
#
# apt-get is never run for real: a stand-in on PATH records what it is
# asked. So is `make` for .ci/run.
. "$(dirname "$0")/lib.sh"
plan 27
setup
# Run by `make check`, this test would hand the outer make's variables
# (B=..., OPT=..., -j), in MAKEFLAGS and in the environment, to the makes
# below: they must start as a person's would.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES B OPT CFLAGS LDFLAGS XCFLAGS

# --- layout
for f in Makefile README.md etc/syncspool.yaml contrib/handlers/demo \
    contrib/deps.sh .ci/run man/syncspoold.8 man/syncspool.1; do
	[ -f "$TOP/$f" ] || echo "missing: $f" >>"$T/layout"
done
for d in src tests/unit tests/sys; do
	[ -d "$TOP/$d" ] || echo "missing: $d/" >>"$T/layout"
done
[ ! -s "$T/layout" ]; ok $? "the top level is as DESIGN.md says $(cat "$T/layout" 2>/dev/null)"
if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$TOP" ls-files spool | sort >"$T/keep"
	printf 'spool/%s/.keep\n' completed db failed logs paused pending \
		processing | sort >"$T/keep.want"
	cmp -s "$T/keep" "$T/keep.want"
	ok $? "git keeps the seven spool directories by placeholders, and nothing else there"
else
	ok 0 "# SKIP not a git checkout"
fi
"$SYNCSPOOL" -c "$TOP/etc/syncspool.yaml" check >"$T/check.out" 2>&1
ok $? "syncspool check passes etc/syncspool.yaml"
grep -q "providers: demo" "$T/check.out"; ok $? "which has a demo provider"

# --- stand-ins: apt-get records its arguments; pkg-config says that
# cmocka is missing, and otherwise asks the real one.
mkdir "$T/bin"
cat >"$T/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$T/apt.log"
EOF
cat >"$T/bin/pkg-config" <<EOF
#!/bin/sh
for a; do [ "\$a" = cmocka ] && exit 1; done
exec $(command -v pkg-config) "\$@"
EOF
chmod 755 "$T/bin/apt-get" "$T/bin/pkg-config"
chmod 755 "$T"
SPATH=$T/bin:$PATH

# --- deps.sh and make run without root
mkdir "$T/norun" "$T/norun/contrib"
cp "$TOP/Makefile" "$T/norun/"
cp "$TOP/contrib/deps.sh" "$T/norun/contrib/"
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		chown -R 65534:65534 "$T/norun"
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}
as_user env PATH="$SPATH" sh "$T/norun/contrib/deps.sh" >"$T/deps.out" 2>&1
is "$?" 1 "deps.sh without root and a package missing: fails"
grep -qx "  sudo apt-get install libcmocka-dev" "$T/deps.out"
ok $? "printing the exact apt-get line ($(head -2 "$T/deps.out" | tail -1))"
as_user env PATH="$SPATH" make -C "$T/norun" run >"$T/norun.out" 2>&1
[ $? -ne 0 ]; ok $? "make run stops"
grep -q "apt-get install libcmocka-dev" "$T/norun.out"; ok $? "with that line"
[ ! -e "$T/norun/syncspoold" ] && [ ! -e "$T/norun/build" ]; ok $? "and builds nothing"
[ ! -e "$T/apt.log" ]; ok $? "apt-get was not run"

# --- deps.sh as root installs what is missing
if [ "$(id -u)" -eq 0 ]; then
	env PATH="$SPATH" sh "$TOP/contrib/deps.sh" >"$T/deps-root.out" 2>&1
	is "$?" 0 "deps.sh as root: succeeds"
	grep -qx "apt-get install -y -qq libcmocka-dev" "$T/apt.log"
	ok $? "having run apt-get install for the missing package ($(tail -1 "$T/apt.log"))"
else
	ok 0 "# SKIP not root"
	ok 0 "# SKIP not root"
fi
rm -f "$T/apt.log"

# --- .ci/run: deps, then make test, from the top of the tree
mkdir -p "$T/ci/.ci" "$T/ci/contrib" "$T/cibin"
cp "$TOP/.ci/run" "$T/ci/.ci/"
cp "$TOP/contrib/deps.sh" "$T/ci/contrib/"
cat >"$T/cibin/make" <<EOF
#!/bin/sh
echo "make \$* in \$PWD" >>"$T/make.log"
EOF
chmod 755 "$T/cibin/make"
env PATH="$T/cibin:$SPATH" sh "$T/ci/.ci/run" >"$T/ci.out" 2>&1
rc=$?
if [ "$(id -u)" -eq 0 ]; then
	is "$rc" 0 ".ci/run succeeds as root"
	grep -q "apt-get install .*libcmocka-dev" "$T/apt.log"; ok $? ".ci/run installs what is missing"
else
	is "$rc" 1 ".ci/run stops without root when a package is missing"
	ok 0 "# SKIP not root"
fi
if [ "$(id -u)" -eq 0 ]; then
	is "$(cat "$T/make.log" 2>/dev/null)" "make test in $T/ci" "then runs make test at the top of the tree"
else
	ok 0 "# SKIP not root"
fi

# --- make run in a copy of the tree, and the README's tour
mkdir "$T/tree"
(cd "$TOP" && tar cf - Makefile src etc contrib spool/*/.keep) |
	(cd "$T/tree" && tar xf -)
setsid make -C "$T/tree" -j2 run XCFLAGS=-Werror >"$T/run.out" 2>&1 &
RUN=$!
EXTRA_PIDS=$RUN
# make and the daemon it runs are in their own process group: end it
# on the way out, even when a check below fails.
trap '_s=$?; kill -TERM "-$RUN" 2>/dev/null; (exit $_s); cleanup' EXIT
wait_for 300 grep -q "event=start pid=" "$T/run.out"
ok $? "make run builds and starts the daemon"
[ -x "$T/tree/syncspoold" ] && [ -x "$T/tree/syncspool" ]
ok $? "both programs are at the top of the tree"
ccs=$(grep -c -- "-c -o build/" "$T/run.out")
is "$(grep -- "-c -o build/" "$T/run.out" | grep -- "-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes" | grep -c -- "-Werror")" "$ccs" \
	"every compile has the warnings on, as errors ($ccs compiles)"
! grep -q "warning:" "$T/run.out"; ok $? "and none is given"
grep -- "-o build/syncspoold " "$T/run.out" | grep -q -- "-lyaml.*-llmdb"
ok $? "libyaml and LMDB come from pkg-config"
# (-n: nothing is run; the recipe's continued lines are joined.)
make -C "$TOP" -n B="$T/nob" check 2>/dev/null | sed -e :a -e '/\\$/N; s/\\\n//; ta' |
	grep -- "-o $T/nob/test_job " | grep -q -- "-lcmocka"
ok $? "cmocka too"

cd "$T/tree"
cat >spool/pending/venue1-demo.yaml <<'EOF'
venue_id: venue1
provider: demo
options: {sleep: 1}
EOF
wait_for 20 sh -c "ls spool/completed | grep -q '^venue1-demo\.'"
ok $? "the tour: a dropped job completes"
tid=$(ls spool/completed | sed -n 's/\.yaml$//p' | head -1)
wait_for 10 sh -c "./syncspool history demo --venue venue1 | grep -q completed"
ok $? "./syncspool history shows it"
./syncspool status demo --venue venue1 | grep -q "completed"
ok $? "./syncspool status counts it"
./syncspool logs "$tid" >"$T/logs.out" 2>&1; ok $? "./syncspool logs $tid"
./syncspool trigger demo --venue venue2 --option exit=65 >/dev/null
wait_for 20 sh -c "ls spool/failed | grep -q '^venue2-demo\.'"
ok $? "a trigger with exit=65 lands in failed"
cd "$T"

# As Ctrl-C in the terminal of make run would: the whole group.
kill -TERM "-$RUN"
wait_for 30 grep -q "event=exit status=0" "$T/run.out"
ok $? "a SIGTERM to make run stops the daemon, exit 0"
wait "$RUN" 2>/dev/null
done_testing

#!/bin/sh
# The hostile corpus (tests/hostile/: files, `gen` for the binary and large
# ones, `expect` for the reason each must get) dropped into a live spool
# the ways users drop files (cp, mv, writes in place), then files that are
# not files (links, a FIFO, a socket, a directory, a device), names that
# are not names (spaces, newlines, bytes that are not UTF-8, 255 bytes,
# leading dots, "../" lookalikes), and files changed behind the daemon's
# back: a writer that keeps appending after the claim, files swapped or
# rewritten between acceptance and claim, a writer holding a lease, a job
# stopped before the daemon saw it. For each: the daemon lives, nothing
# ran that should not have, and the reason is in history. Known daemon
# bugs it found are ordinary tests now (must).
. "$(dirname "$0")/lib.sh"
HOSTILE=$TOP/tests/hostile
# A rescan every second, so the ignored names below also meet it.
SETTLE=200ms RESCAN=1s setup
mkdir -p "$T/stage" "$T/corpus"
"$HOSTILE/gen" "$T/corpus" || bail "tests/hostile/gen failed"

# A provider whose handler waits for the test before it reads its stdin,
# so the test can change the job file between the claim and that read.
cat >"$T/gate" <<'EOF'
#!/bin/sh
d=$TEST_DIR
id=$SYNCSPOOL_JOB_ID
echo $$ >"$d/runs/$id.pid"
echo "start $SYNCSPOOL_VENUE_ID $SYNCSPOOL_PROVIDER $id $(date +%s%N)" >>"$d/stamps"
env | sort >"$d/runs/$id.env"
: >"$d/ready.$SYNCSPOOL_VENUE_ID"
i=0
while [ ! -e "$d/go.$SYNCSPOOL_VENUE_ID" ] && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
cat >"$d/runs/$id.stdin"
cat "$SYNCSPOOL_JOB_FILE" >"$d/runs/$id.file"
rm -f "$d/runs/$id.pid"
EOF
chmod +x "$T/gate"
EXTRA_PROVIDERS="  gate:
    command: [$T/gate]
    timeout: 60s
    max_attempts: 1
    env: {TEST_DIR: \"$T\"}"
write_config
rm -f /tmp/syncspool-pwned
start_daemon

P=$T/spool/pending
nl='
'
# check COND-STATUS NAME [DIAG...]
check() {
	_st=$1 _name=$2
	shift 2
	ok "$_st" "$_name"
	if [ "$_st" -ne 0 ]; then
		for _d in "$@"; do diag "$_d"; done
	fi
	return "$_st"
}
alive() { kill -0 "$DPID" 2>/dev/null; }
# must STATUS NAME WHAT: a test of what a daemon bug once broke (WHAT).
must() { ok "$1" "$2"; }
starts() { grep -c '^start' "$T/stamps"; }
ran_venue() { # VENUE: how many handler starts for it
	awk -v v="$1" '$1 == "start" && $2 == v' "$T/stamps" | wc -l | tr -d ' '
}
ran_once() { [ "$(ran_venue "$1")" -eq 1 ]; }
id_of_venue() { awk -v v="$1" '$1 == "start" && $2 == v { print $4; exit }' "$T/stamps"; }
# The error of the job's invalid event, from `syncspool history --json`.
invalid_error() {
	cli history --job "$1" --json |
		jq -r '[.[] | select(.event == "invalid")][0].error // empty'
}
# deliver METHOD SRC NAME: put SRC into pending as NAME, as users do.
deliver() {
	case $1 in
	cp) cp "$2" "$P/$3" ;;
	mv) cp "$2" "$T/stage/$3" && mv "$T/stage/$3" "$P/$3" ;;
	write) cat "$2" >"$P/$3" ;;
	esac
}
safe_id() { # the id grammar of DESIGN.md, and a single line
	[ "$(printf '%s' "$1" | wc -l)" -eq 0 ] &&
		printf '%s\n' "$1" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'
}

# ---- 1. contents: every case in the corpus lands in failed, with its reason

ncases=0
methods="cp mv write"
while read -r f re; do
	case $f in '#'* | '') continue ;; esac
	src=$HOSTILE/$f
	[ -f "$src" ] || src=$T/corpus/$f
	[ -f "$src" ] || bail "corpus file $f is missing"
	m=${methods%% *}
	methods="${methods#* } $m"
	deliver "$m" "$src" "$f"
	echo "$f $m" >>"$T/delivered"
	ncases=$((ncases + 1))
done <"$HOSTILE/expect"
# And 100 MB made in place, the way `truncate` or a stalled upload does.
truncate -s 100M "$P/sparse-inplace.yaml"
ncases=$((ncases + 1))

wait_for 30 count_is failed "$ncases"
check $? "all $ncases corpus files land in failed" \
	"failed: $(count failed), pending: $(count pending), completed: $(count completed)"

while read -r f re; do
	case $f in '#'* | '') continue ;; esac
	m=$(awk -v f="$f" '$1 == f { print $2 }' "$T/delivered")
	stem=${f%.yaml}
	src=$HOSTILE/$f
	[ -f "$src" ] || src=$T/corpus/$f
	id=$(job_id_in failed "$stem")
	e=
	[ -n "$id" ] && e=$(invalid_error "$id")
	st=0
	{ [ -n "$id" ] && printf '%s\n' "$e" | grep -Eq -- "$re" &&
		cmp -s "$src" "$T/spool/failed/$id.yaml" &&
		[ "$(starts)" -eq 0 ] && alive; } || st=1
	check $st "$f ($m): in failed as dropped, nothing ran, daemon alive: $e" \
		"id: '$id'" "reason: '$e'" "wanted: /$re/" "handler starts: $(starts)"
done <"$HOSTILE/expect"
id=$(job_id_in failed sparse-inplace)
e=$(invalid_error "$id")
case $e in *"is 104857600 bytes"*) st=0 ;; *) st=1 ;; esac
check $st "100 MB made in place with truncate: refused by its size: $e"
[ ! -e /tmp/syncspool-pwned ]
check $? "the python tag ran nothing (/tmp/syncspool-pwned absent)"
grep -q 'event=invalid' "$T/daemon.log"
check $? "the daemon log names the invalid files too"

# ---- 2. files that are not regular files

printf 'venue_id: secret\nprovider: test\n' >"$T/secret.yaml"
cp "$T/secret.yaml" "$T/secret.orig"
ln -s "$T/secret.yaml" "$P/link-abs.yaml"
ln -s ../../secret.yaml "$P/link-rel.yaml"
ln -s "$T/secret.yaml" "$T/stage/link-mv.yaml"
mv "$T/stage/link-mv.yaml" "$P/link-mv.yaml"
ln -s /nonexistent/job.yaml "$P/link-dangling.yaml"
ln "$T/secret.yaml" "$P/hard.yaml"
cp "$T/secret.yaml" "$T/stage/hard-mv.yaml"
ln "$T/stage/hard-mv.yaml" "$T/stage/hard-mv.other"
mv "$T/stage/hard-mv.yaml" "$P/hard-mv.yaml"
mkfifo "$P/fifo.yaml"
(cd "$P" && perl -MIO::Socket::UNIX -e \
	'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "sock.yaml", Listen => 1) or die "socket: $!\n"')
mkdir "$P/dir.yaml"
printf 'venue_id: inner\nprovider: test\n' >"$P/dir.yaml/inner.yaml"
mkdir "$T/stage/dir-mv.yaml"
mv "$T/stage/dir-mv.yaml" "$P/dir-mv.yaml"
nspecial=10
# A character device (/dev/zero's numbers): endless if anyone read it.
if mknod "$P/dev.yaml" c 1 5 2>/dev/null; then
	nspecial=$((nspecial + 1))
	have_dev=1
else
	have_dev=
fi
printf 'venue_id: sentinel1\nprovider: test\n' >"$P/sentinel1.yaml"

wait_for 20 count_is failed $((ncases + nspecial))
check $? "the $nspecial non-files land in failed" "failed: $(count failed)"
wait_for 10 count_is completed 1
check $? "a real job dropped after them still completes"

special() { # STEM TEST-FLAG REASON-ERE WHAT
	id=$(job_id_in failed "$1")
	e=
	[ -n "$id" ] && e=$(invalid_error "$id")
	st=0
	{ [ -n "$id" ] && test "$2" "$T/spool/failed/$id.yaml" &&
		printf '%s\n' "$e" | grep -Eq -- "$3" && alive; } || st=1
	check $st "$4: moved to failed as it is ($2), daemon alive: $e" \
		"id: '$id'" "reason: '$e'"
}
special link-abs -L 'is a symbolic link' "symlink to a secret file"
special link-rel -L 'is a symbolic link' "relative symlink out of the spool"
special link-mv -L 'is a symbolic link' "symlink moved in with mv"
special link-dangling -L 'is a symbolic link' "dangling symlink"
special hard -f 'has 2 hard links' "hard link to a secret file"
special hard-mv -f 'has 2 hard links' "hard link moved in with mv"
special fifo -p 'not a regular file' "FIFO"
# XXX open(2) of a socket fails with ENXIO before fstat can say what it
# is, so the reason reads "cannot open: No such device or address".
special sock -S 'not a regular file|cannot open: No such device' "UNIX socket"
special dir -d 'is a directory' "directory named dir.yaml"
special dir-mv -d 'is a directory' "directory moved in"
if [ -n "$have_dev" ]; then
	special dev -c 'not a regular file' "character device"
else
	ok 0 "character device # SKIP mknod not permitted here"
fi
is "$(ran_venue secret)$(ran_venue inner)" "00" "no handler ran for the secret or the file inside dir.yaml"
! grep -rqs 'venue_id: secret' "$T/runs"
check $? "no handler saw the secret's content"
cmp -s "$T/secret.yaml" "$T/secret.orig" && [ -e "$T/stage/hard-mv.other" ]
check $? "the secret and the other links are untouched"
is "$(starts)" 1 "only the sentinel ran"

# ---- 3. names

# Names the daemon never takes: a leading dot, partial-upload suffixes.
# "..yaml" and "..." are what is left of a "../" name once a client
# cannot put a '/' in it.
for n in .hidden.yaml ..yaml ... ....yaml .x.yaml.tmp up.part up.filepart up.tmp; do
	v=ign-$(printf '%s' "$n" | tr -c 'A-Za-z0-9' x)
	printf 'venue_id: %s\nprovider: test\n' "$v" >"$P/$n"
done

# Names that are taken, and must come out as safe ids.
i=0
name_case() { # METHOD NAME: a valid job with venue name-<i>
	i=$((i + 1))
	printf 'venue_id: name-%d\nprovider: test\n' "$i" >"$T/src.$i"
	deliver "$1" "$T/src.$i" "$2"
	eval "name_$i=\$2"
}
name_case cp "name with spaces.yaml"
name_case mv "line${nl}break.yaml"
name_case write "$(printf 'caf\351-\377\376.yaml')"
long255=$(printf '%0250d' 0 | tr 0 a).yaml
name_case cp "$long255"
utf255=$(perl -e 'print "\xc3\xa9" x 125, ".yaml"')
name_case mv "$utf255"
name_case write "x..yaml"
name_case cp "-rf.yaml"
name_case mv '$(touch pwned);`touch pwned2`.yaml'
name_case write "noext"
nnames=$i
# Odd but valid contents, as Windows clients write them, and a job of
# exactly the size cap: these run.
printf 'venue_id: odd-crlf\r\nprovider: test\r\noptions: {a: "1"}\r\n' >"$T/src.crlf"
deliver mv "$T/src.crlf" crlf.yaml
printf '\357\273\277venue_id: odd-bom\nprovider: test\n' >"$T/src.bom"
deliver cp "$T/src.bom" utf8-bom.yaml
perl -e 'my $s = "venue_id: odd-cap\nprovider: test\n";
	print $s, "#", "x" x (65536 - length($s) - 2), "\n"' >"$T/src.cap"
deliver write "$T/src.cap" at-cap.yaml
printf 'venue_id: sentinel2\nprovider: test\n' >"$P/sentinel2.yaml"

# 300 bytes is past NAME_MAX (255): the filesystem refuses it, so no
# client can drop it; `mv` into it fails the same way.
long300=$(printf '%0295d' 0 | tr 0 b).yaml
touch "$P/$long300" 2>/dev/null
st=$?
[ "$st" -ne 0 ] && [ "$(ls "$P" | grep -c '^bbbbbbbb')" -eq 0 ]
check $? "a 300-byte name cannot be made (ENAMETOOLONG): nothing to take"

wait_for 20 count_is completed $((nnames + 5))
check $? "the $nnames oddly named jobs, 3 odd contents and the sentinel complete" \
	"completed: $(count completed), pending: $(ls "$P" | tr '\n' ' ')"
for k in $(seq 1 "$nnames"); do
	eval "n=\$name_$k"
	id=$(id_of_venue "name-$k")
	shown=$(printf '%s' "$n" | tr -c '[:print:]' '?' | cut -c1-40)
	name_json=$(cli show "$id" --json 2>/dev/null | jq -r '.name' 2>/dev/null)
	st=0
	{ [ "$(ran_venue "name-$k")" -eq 1 ] && safe_id "$id" &&
		[ -f "$T/spool/completed/$id.yaml" ] && [ ! -e "$P/$n" ] &&
		[ -n "$name_json" ]; } || st=1
	check $st "'$shown' ran once as safe id $(printf '%s' "$id" | cut -c1-48)" \
		"runs: $(ran_venue "name-$k")" "id: '$id'" "show .name: '$name_json'"
done
is "$(ran_venue odd-crlf)$(ran_venue odd-bom)$(ran_venue odd-cap)" 111 \
	"CRLF lines, a UTF-8 byte order mark, exactly 64 KiB: each ran once"
grep -q '^SYNCSPOOL_OPTION_A=1$' "$T/runs/$(id_of_venue odd-crlf).1.env"
check $? "no carriage return reaches the handler's environment"
# The uploaded name is kept in the record as it was, where JSON can say it.
id=$(id_of_venue name-1)
is "$(cli show "$id" --json | jq -r .name)" "name with spaces.yaml" "show keeps the uploaded name"
id=$(id_of_venue name-4)
is "$(cli show "$id" --json | jq -r '.name | length')" 255 "a 255-byte name is kept whole"
is "$(printf '%s' "$id" | wc -c | tr -d ' ')" 128 "and its id is cut to 128 bytes"
id=$(id_of_venue name-3)
cli show "$id" --json | jq -e '.name | test("caf")' >/dev/null
check $? "a name that is not UTF-8 still makes valid JSON"
id=$(id_of_venue name-7)
case $id in -*) st=1 ;; *) st=0 ;; esac
check $st "'-rf.yaml' gives an id that cannot pass for an option ($id)"
[ ! -e /pwned ] && [ ! -e "$T/pwned" ] && [ ! -e pwned ] && [ ! -e /pwned2 ]
check $? "a name with \$(...) and backquotes ran nothing"
cli list --json | jq -e 'length > 0' >/dev/null
check $? "list --json copes with every name"

# The ignored names: still there, untouched, after more than a settle
# time and a rescan; nothing ran for them.
! wait_for 2 grep -q '^start ign-' "$T/stamps"
check $? "nothing ran for the ignored names, across rescans"
st=0
for n in .hidden.yaml ..yaml ... ....yaml .x.yaml.tmp up.part up.filepart up.tmp; do
	[ -f "$P/$n" ] || { st=1; diag "$n is gone from pending"; }
done
check $st "leading dots and partial suffixes stay in pending, never taken"

# ---- 4. a writer that keeps the file open

# (a) Written in place and still held open: never taken while open.
exec 8>"$P/held.yaml"
printf 'venue_id: held\nprovider: test\n' >&8
! wait_for 2 test ! -e "$P/held.yaml"
check $? "a file still open for writing is not taken (10 settle times)"
exec 8>&-
wait_for 10 ran_once held
check $? "once closed, it is taken and runs"

# (b) Renamed in while its writer holds it (taken at once), then appended
# to after the claim: the handler reads the content as claimed.
exec 7>"$T/stage/grow.yaml"
printf 'venue_id: grow\nprovider: gate\noptions: {a: "1"}\n' >&7
cp "$T/stage/grow.yaml" "$T/grow.claimed"
mv "$T/stage/grow.yaml" "$P/grow.yaml"
wait_for 10 test -e "$T/ready.grow"
check $? "the job renamed in is claimed while its writer holds it"
gid=$(id_of_venue grow)
printf 'options: {injected: "yes"}\nvenue_id: evil\n' >&7
: >"$T/go.grow"
wait_for 10 test -f "$T/spool/completed/$gid.yaml"
check $? "it completes"
cmp -s "$T/grow.claimed" "$T/runs/$gid.stdin"
check $? "the handler's stdin is exactly the content claimed" \
	"stdin: $(od -c "$T/runs/$gid.stdin" 2>/dev/null | head -5)"
grep -q '^venue_id: evil$' "$T/spool/completed/$gid.yaml" &&
	grep -q 'venue_id: evil' "$T/runs/$gid.file"
check $? "the file itself grew, and stays as the writer left it"
! grep -q INJECTED "$T/runs/$gid.env" && grep -q '^SYNCSPOOL_OPTION_A=1$' "$T/runs/$gid.env" &&
	grep -q '^SYNCSPOOL_VENUE_ID=grow$' "$T/runs/$gid.env"
check $? "its environment is the claimed job's, not the appended one's"
exec 7>&-

# (c) Changed between acceptance and claim (not_before holds them): the
# claim reads the file again and runs nothing for what it finds now.
# late: appended to by its writer; swap-link: replaced by a symlink to
# the secret (a rename over it); swap-venue: rewritten in place for
# another venue.
nb=$(date -u -d "+$((3 * ${TIMEOUT_SCALE:-1})) seconds" +%Y-%m-%dT%H:%M:%SZ)
exec 7>"$T/stage/late.yaml"
printf 'venue_id: late\nprovider: test\nnot_before: %s\n' "$nb" >&7
mv "$T/stage/late.yaml" "$P/late.yaml"
for v in swap-link swap-venue; do
	printf 'venue_id: %s\nprovider: test\nnot_before: %s\n' "$v" "$nb" >"$T/stage/$v.yaml"
	mv "$T/stage/$v.yaml" "$P/$v.yaml"
done
queued() { # ID
	cli history --job "$1" --json 2>/dev/null |
		jq -e '.[] | select(.event == "queued")' >/dev/null
}
all_queued() {
	for _s in late swap-link swap-venue; do
		_id=$(job_id_in pending "$_s")
		[ -n "$_id" ] && queued "$_id" || return 1
	done
}
wait_for 5 all_queued
check $? "three jobs held by not_before are queued"
lid=$(job_id_in pending late)
slid=$(job_id_in pending swap-link)
svid=$(job_id_in pending swap-venue)
printf 'colour: blue\n' >&7
exec 7>&-
ln -s "$T/secret.yaml" "$T/stage/swap"
mv -T "$T/stage/swap" "$P/$slid.yaml"
printf 'venue_id: secret\nprovider: test\n' >"$P/$svid.yaml"
[ -f "$P/$lid.yaml" ] && [ -L "$P/$slid.yaml" ] && [ -f "$P/$svid.yaml" ]
check $? "all three were changed while still in pending"
wait_for 15 test -f "$T/spool/failed/$lid.yaml" -a -L "$T/spool/failed/$slid.yaml" -a -f "$T/spool/failed/$svid.yaml"
check $? "at their claim all three fail" \
	"failed: $(ls "$T/spool/failed" | grep -E '^(late|swap)')"
e=$(invalid_error "$lid")
case $e in *"line 4"*colour*) st=0 ;; *) st=1 ;; esac
check $st "appended to: $e"
e=$(invalid_error "$slid")
case $e in *"symbolic link"*) st=0 ;; *) st=1 ;; esac
check $st "swapped for a symlink: $e"
e=$(invalid_error "$svid")
case $e in *"changed its venue or provider"*) st=0 ;; *) st=1 ;; esac
check $st "rewritten for another venue: $e"
is "$(ran_venue late)$(ran_venue swap-link)$(ran_venue swap-venue)$(ran_venue secret)" 0000 \
	"no handler ran for any of them, nor for the secret"

# (d) Renamed in while its writer holds a write lease (fcntl F_SETLEASE)
# on it: the daemon must not hang on the open (O_NONBLOCK), and the job is
# not ready rather than invalid: it should run once the lease is gone.
printf 'venue_id: leased\nprovider: test\n' >"$T/stage/leased.yaml"
perl -e '$SIG{IO} = "IGNORE"; $| = 1;
	open(my $fh, "+<", $ARGV[0]) or die "open: $!\n";
	fcntl($fh, 1024, 1) or die "F_SETLEASE: $!\n";      # F_WRLCK
	rename($ARGV[0], $ARGV[1]) or die "rename: $!\n";
	open(my $r, ">", $ARGV[2]) and close($r);
	for (1 .. 600) { last if -e $ARGV[3]; select(undef, undef, undef, 0.05) }
	close($fh)' "$T/stage/leased.yaml" "$P/leased.yaml" "$T/lease.ready" "$T/lease.go" &
lpid=$!
EXTRA_PIDS="$EXTRA_PIDS $lpid"
wait_for 10 test -e "$T/lease.ready"
check $? "a writer holds a write lease on a job it renamed in"
lease_failed() { [ -n "$(job_id_in failed leased)" ]; }
! wait_for 2 lease_failed
st=$?
alive
check $? "the daemon does not hang on the leased file"
: >"$T/lease.go"
wait "$lpid"
EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$lpid" | tr '\n' ' ')
[ "$st" -eq 0 ] && wait_for 10 ran_once leased
st=$?
e=
lease_failed && e=$(invalid_error "$(job_id_in failed leased)")
must $st "a job under a writer's lease waits, then runs once it is gone${e:+ (failed: $e)}" \
	"daemon: EAGAIN from open(O_NONBLOCK) on a leased file is taken as an invalid job, not a file that is not ready"

# (e) Moved on before the daemon saw it: triggered, then stopped before
# the daemon accepted it (SIGSTOP stands in for a daemon busy elsewhere).
# The file is in paused; the index must come to say so too.
kill -STOP "$DPID"
rid=$(cli trigger test --venue raced --not-before 2099-01-01T00:00:00Z)
cli stop test --venue raced >/dev/null
kill -CONT "$DPID"
[ -n "$rid" ] && [ -f "$T/spool/paused/$rid.yaml" ]
check $? "a job triggered and stopped before the daemon looked is in paused ($rid)"
indexed_paused() {
	cli show "$rid" --json 2>/dev/null | jq -e '.indexed_state == "paused"' >/dev/null
}
wait_for 5 indexed_paused
check $? "the daemon indexes it as paused, so status and show count it" \
	"show: $(cli show "$rid" --json 2>/dev/null | jq -c '{state, indexed, indexed_state}')"
is "$(cli status test --venue raced --json | jq -c '.counts.paused')" 1 "status counts it"

# ---- the end

alive
check $? "the daemon is alive after all of it"
stop_daemon
check $? "and stops cleanly"
plan "$test_n"
done_testing

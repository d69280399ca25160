#!/bin/sh
# Jobs uploaded with OpenSSH's sftp to a real sshd on 127.0.0.1, set up as
# contrib/sftp/README.md says: an internal-sftp chroot whose only writable
# directory is pending/, bind-mounted from the spool. A complete upload
# runs; one cut off half-way never does, whether under a temporary name
# or written in place; and the uploader can write nowhere else.
#
# As root the chroot is built in a private mount namespace (unshare -m),
# so nothing on the host is mounted or created outside $T: a tmpfs on
# /srv holds the chroot, with the spool's pending/ bound into it, and the
# uploader is `nobody` (group `nogroup` stands in for syncspool-upload).
# The daemon runs as `daemon` with CAP_LEASE and group nogroup, as the
# systemd unit runs it as syncspool. Otherwise sshd and the daemon run as
# the current user, without a chroot, and the chroot checks are skipped.
. "$(dirname "$0")/lib.sh"

SSHD=
for c in "$(command -v sshd 2>/dev/null)" /usr/sbin/sshd /usr/local/sbin/sshd; do
	if [ -n "$c" ] && [ -x "$c" ]; then
		SSHD=$c
		break
	fi
done
if [ -z "$SSHD" ] || ! command -v sftp >/dev/null 2>&1 ||
	! command -v ssh-keygen >/dev/null 2>&1; then
	echo "1..0 # SKIP sshd or sftp is not installed (contrib/deps.sh installs openssh-server and openssh-client)"
	exit 0
fi

plan 21
SETTLE=300ms setup
K=$T/ssh
mkdir "$K"

skip() {
	test_n=$((test_n + 1))
	echo "ok $test_n # skip $*"
}

# Chroot when we can: root, a mount namespace, /srv to cover, and nobody.
if [ "$(id -u)" -eq 0 ] && [ -d /srv ] && id nobody >/dev/null 2>&1 &&
	getent group nogroup >/dev/null 2>&1 &&
	unshare -m --propagation private true 2>/dev/null; then
	CHROOT=yes
	UPLOADER=nobody
	REMOTE=/pending        # where the uploader lands, as it sees it
	# sshd reads authorized_keys as the uploader, through $T.
	chmod 711 "$T"
	chown root:nogroup "$T/spool/pending"
	chmod 3770 "$T/spool/pending"
else
	CHROOT=no
	UPLOADER=$(id -un)
	REMOTE=$T/spool/pending
	diag "not root or no mount namespace: sshd runs without a chroot"
fi

ssh-keygen -q -t ed25519 -N '' -C syncspool-test-host -f "$K/host_key" &&
	ssh-keygen -q -t ed25519 -N '' -C syncspool-test-client -f "$K/client_key" &&
	cp "$K/client_key.pub" "$K/authorized_keys" ||
	bail "ssh-keygen failed"
chmod 755 "$K"
chmod 644 "$K/authorized_keys"

# sshd_config PORT: the drop box of contrib/sftp/README.md, on loopback.
sshd_config() {
	cat <<EOF
ListenAddress 127.0.0.1:$1
HostKey $K/host_key
PidFile $K/sshd.pid
AuthorizedKeysFile $K/authorized_keys
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $UPLOADER
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
	if [ "$CHROOT" = yes ]; then
		cat <<EOF
Match Group nogroup
	ChrootDirectory /srv/syncspool-sftp
	ForceCommand internal-sftp -u 0027 -d /pending
	AllowTcpForwarding no
	X11Forwarding no
	PermitTTY no
EOF
	else
		printf 'ForceCommand internal-sftp -u 0027 -d %s\n' "$REMOTE"
	fi
}

# Runs in the new mount namespace, with $1 = $T and $2 = sshd: the chroot
# on a private tmpfs, pending/ bound into it, and the privilege
# separation directory sshd insists on if the host has none.
NS_SCRIPT='set -e
mount -t tmpfs -o mode=755 syncspool-test /srv
mkdir -m 755 /srv/syncspool-sftp /srv/syncspool-sftp/pending
mount --bind "$1/spool/pending" /srv/syncspool-sftp/pending
if [ ! -d /run/sshd ]; then
	mount -t tmpfs -o mode=755 syncspool-test /run
	mkdir -m 755 /run/sshd
fi
exec "$2" -D -e -f "$1/ssh/sshd_config"'

free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

# A free port may be taken between free_port and sshd's bind: try again.
SPID=
for _ in 1 2 3; do
	PORT=$(free_port)
	sshd_config "$PORT" >"$K/sshd_config"
	: >"$T/sshd.log"
	if [ "$CHROOT" = yes ]; then
		unshare -m --propagation private sh -c "$NS_SCRIPT" sh "$T" "$SSHD" \
			2>>"$T/sshd.log" &
	else
		"$SSHD" -D -e -f "$K/sshd_config" 2>>"$T/sshd.log" &
	fi
	SPID=$!
	EXTRA_PIDS="$EXTRA_PIDS $SPID"
	wait_for 10 grep -q 'Server listening' "$T/sshd.log" && break
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
done
[ -n "$SPID" ] || { cat "$T/sshd.log" >&2; bail "sshd did not start"; }
ok 0 "sshd listens on 127.0.0.1:$PORT (chroot: $CHROOT)"
echo "[127.0.0.1]:$PORT $(cat "$K/host_key.pub")" >"$K/known_hosts"

# As root, the daemon runs as systemd would run it: not root (as `daemon`),
# in the upload group, with CAP_LEASE alone, so it can read the uploads
# and tell whether sshd still has one open.
RUN_AS=$(id -un)
if [ "$CHROOT" = yes ] && id daemon >/dev/null 2>&1; then
	RUN_AS=daemon
	chown -R daemon:daemon "$T/spool" "$T/runs" "$T/stamps"
	chown daemon:nogroup "$T/spool/pending"
	chmod 3770 "$T/spool/pending"
	cat >"$T/syncspoold-as-daemon" <<EOF
#!/bin/sh
exec setpriv --reuid=daemon --regid=daemon --groups=nogroup \\
	--inh-caps=+lease --ambient-caps=+lease "$SYNCSPOOLD" "\$@"
EOF
	chmod 755 "$T/syncspoold-as-daemon"
	SYNCSPOOLD=$T/syncspoold-as-daemon
fi
start_daemon
is "$(ps -o user= -p "$DPID" | tr -d ' ')" "$RUN_AS" "the daemon runs as $RUN_AS"
# Not dumpable: its /proc files are root's, so a handler (its user)
# cannot read its environment or open its descriptors there.
if [ "$RUN_AS" != root ]; then
	! setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --clear-groups \
		cat "/proc/$DPID/environ" >/dev/null 2>&1
	ok $? "the daemon's user cannot read its /proc/PID/environ"
else
	ok 0 "# SKIP the daemon runs as root here"
fi

SFTP_OPTS="-P $PORT -i $K/client_key -F /dev/null -o UserKnownHostsFile=$K/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o ConnectTimeout=10"
# up COMMANDS...: one sftp session running these batch lines, bounded.
up() {
	printf '%s\n' "$@" >"$T/batch"
	# shellcheck disable=SC2086
	timeout 30 sftp -b "$T/batch" $SFTP_OPTS "$UPLOADER@127.0.0.1" \
		>"$T/sftp.out" 2>&1
}

cd "$T" || bail "cd $T"
job "$T/local.yaml" v-ok test 'options: {note: "uploaded with sftp"}'
# sftp asks for the local mode; the session's umask takes out group write.
chmod 666 "$T/local.yaml"

# A complete upload, written in place under its final name.
up "put local.yaml ok.yaml"
ok $? "sftp put of a complete job"
wait_for 10 count_is completed 1
ok $? "the daemon runs it"
id=$(job_id_in completed ok)
cmp -s "$T/runs/$id.1.stdin" "$T/local.yaml"; ok $? "the handler saw what was uploaded"

if [ "$CHROOT" = yes ]; then
	is "$(stat -c '%U:%G %a' "$T/spool/completed/$id.yaml")" "nobody:nogroup 640" \
		"the upload is the uploader's, in the upload group (setgid), umask 0027"
	up "-put local.yaml /outside.yaml" "-mkdir /newdir" "-put local.yaml /pending/../x.yaml" "ls -1 /"
	is "$(grep -c 'Permission denied' "$T/sftp.out")" 3 "nothing can be written outside pending"
	is "$(sed -n '/^sftp> ls/,$p' "$T/sftp.out" | sed 1d)" "/pending" \
		"and the chroot holds pending alone"
else
	skip "the chroot needs root and a mount namespace"
	skip "the chroot needs root and a mount namespace"
	skip "the chroot needs root and a mount namespace"
fi

# Under a temporary name, then renamed: posix-rename (rename(2)) and the
# SFTP protocol's own rename, which OpenSSH does as link + unlink.
job "$T/local2.yaml" v-rename test
up "put local2.yaml posix.yaml.filepart" "rename posix.yaml.filepart posix.yaml" \
	"put local2.yaml legacy.yaml.filepart" "rename -l legacy.yaml.filepart legacy.yaml"
ok $? "sftp put under .filepart names, then rename"
wait_for 10 count_is completed 3
ok $? "both renamed uploads run"
is "$(count failed)" 0 "neither was taken while it had two links"

# Slow uploads (2 KiB/s, 1 KiB a write: a pause between writes longer
# than the settle time), one completed, one cut off by killing its ssh:
# the daemon must take neither while sshd holds it open, and never run
# the cut-off one.
# The padding sits in a flow mapping that closes on the last line, so
# that the file cut off anywhere is not valid YAML (and an option value
# is at most 4 KiB).
pad=$(head -c 3000 /dev/zero | tr '\0' x)
{
	echo "venue_id: v-slow"
	echo "provider: test"
	printf 'options: {p1: "%s", p2: "%s", p3: "%s", p4: "%s"}\n' \
		"$pad" "$pad" "$pad" "$pad"
} >"$T/slow.yaml"
sed 's/^venue_id: v-slow$/venue_id: v-cut/' "$T/slow.yaml" >"$T/cut.yaml"
printf 'put slow.yaml slow.yaml\n' >"$T/batch-slow"
printf 'put cut.yaml cut.yaml\n' >"$T/batch-cut"
# shellcheck disable=SC2086
sftp -l 16 -B 1024 -b "$T/batch-slow" $SFTP_OPTS "$UPLOADER@127.0.0.1" \
	>"$T/sftp-slow.out" 2>&1 &
slow_pid=$!
# shellcheck disable=SC2086
sftp -l 16 -B 1024 -b "$T/batch-cut" $SFTP_OPTS "$UPLOADER@127.0.0.1" \
	>"$T/sftp-cut.out" 2>&1 &
cut_pid=$!
EXTRA_PIDS="$EXTRA_PIDS $slow_pid $cut_pid"
# gone PID: the process has exited (a zombie counts: it is not reaped yet).
gone() {
	[ -e "/proc/$1" ] || return 0
	grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
size() { stat -c %s "$T/spool/pending/$1" 2>/dev/null || echo 0; }
size_over() { [ "$(size "$1")" -ge "$2" ]; }
wait_for 20 size_over cut.yaml 3072
ok $? "the cut-off upload is under way"
# Its ssh is sftp's child: killing it cuts the connection, as a network
# failure would; sshd then closes the half-written file.
cut_ssh=$(grep -l "^PPid:[[:space:]]*$cut_pid\$" /proc/[0-9]*/status 2>/dev/null |
	sed 's|^/proc/\([0-9]*\)/status$|\1|')
[ -n "$cut_ssh" ] && kill -KILL "$cut_ssh"
wait_for 10 gone "$cut_pid"
kill -KILL "$cut_pid" 2>/dev/null
wait "$cut_pid" 2>/dev/null

wait_for 30 gone "$slow_pid"
wait "$slow_pid"
ok $? "the slow complete upload finished"
wait_for 10 count_is completed 4
ok $? "the slow complete upload runs"
id=$(job_id_in completed slow)
cmp -s "$T/runs/$id.1.stdin" "$T/slow.yaml"; ok $? "and its handler saw the whole file"

wait_for 10 count_is failed 1
cid=$(job_id_in failed cut)
[ -n "$cid" ]; ok $? "the cut-off upload is quarantined in failed"
partial=$(stat -c %s "$T/spool/failed/$cid.yaml" 2>/dev/null || echo 0)
full=$(stat -c %s "$T/cut.yaml")
[ "$partial" -gt 0 ] && [ "$partial" -lt "$full" ]
ok $? "what sshd left of it is cut off half-way ($partial of $full bytes)"
is "$(cli history --job "$cid" --json | jq -r '[.[].event] | join(" ")')" invalid \
	"as an invalid job"
! grep -q ' v-cut ' "$T/stamps"; ok $? "and never run"

# A .filepart cut off (never renamed) stays where it is, untaken.
head -c 40 "$T/local.yaml" >"$T/part.yaml"
up "put part.yaml dropped.yaml.filepart"
sleep 1 # well past the settle time
[ -f "$T/spool/pending/dropped.yaml.filepart" ] && ! grep -q "dropped" "$T/daemon.log"
ok $? "a .filepart never renamed is never taken"

kill -TERM "$SPID"
wait_for 10 gone "$SPID"
wait "$SPID" 2>/dev/null
stop_daemon
done_testing

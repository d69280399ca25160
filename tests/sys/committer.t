#!/bin/sh
# committer.t - the daemon's committer (syncspoold(8), INTERNALS): a child
# process, syncspoold-db, that makes each flush durable while the loop
# goes on. It holds nothing of the daemon's but the spool; killed again
# and again in the middle of a stream of jobs it is replaced, the daemon
# commits in its own process meanwhile, and every job is recorded once;
# a stop signal sent to the whole service (as systemd sends it) leaves it
# to record the daemon's last changes; and it dies with the daemon.
. "$(dirname "$0")/lib.sh"
plan 23
setup
METRICS=$T/metrics.prom write_config
start_daemon

wait_for 10 committer_pid
ok $? "the daemon has a committer"
cp=$(committer_pid)
is "$(cat "/proc/$cp/comm")" syncspoold-db "it is called syncspoold-db"
is "$(awk '$1 == "Threads:" { print $2 }' "/proc/$cp/status")" 1 \
	"it has one thread"
# Of the daemon's descriptors it kept none but 0-2: no epoll, inotify,
# signalfd, timerfd, pidfd, pipe, nor the lock (a POSIX lock is the
# daemon's alone).
for f in "/proc/$cp/fd/"*; do
	[ "${f##*/}" -ge 3 ] && readlink "$f"
done >"$T/cfds"
! grep -q -E 'anon_inode|pipe:|syncspoold\.lock|/running$' "$T/cfds"
ok $? "it holds none of the daemon's descriptors"
grep -q "$T/spool/db/data.mdb" "$T/cfds"
ok $? "it has its own handle on the database"

# ---- killed mid-stream, three times ----
N=400
drop_burst "$N" s 4 'options: {sleep: 0.05}'
exits() { grep -c 'event=committer_exited' "$T/daemon.log"; }
new_committer() { _c=$(committer_pid) && [ "$_c" != "$1" ]; }
kills=0
for k in 1 2 3; do
	if [ "$k" -gt 1 ]; then
		# The next one starts a second after the last died.
		wait_for 10 new_committer "$cp" || break
		cp=$(committer_pid)
	fi
	kill -KILL "$cp"
	wait_for 5 sh -c "[ \$(grep -c event=committer_exited '$T/daemon.log') -ge $k ]" ||
		break
	kills=$k
done
is "$kills" 3 "the committer was killed three times while jobs ran"
# Were they still running? Otherwise the kills proved little.
[ "$(count completed)" -lt "$N" ]
ok $? "the last kill came before the stream's end ($(count completed) of $N done)"
wait_for 90 count_is completed "$N"
ok $? "all $N jobs completed"
kill -0 "$DPID"
ok $? "the daemon never stopped"
committed() {
	[ "$(cli list --state completed --json | jq length)" -eq "$1" ]
}
wait_for 10 committed "$N"
ok $? "LMDB records all $N as completed"
for v in 0 1 2 3; do
	cli history test --venue "v$v" --limit 0 --json
done | jq -r '.[] | select(.event == "completed") | .job_id' >"$T/done"
is "$(wc -l <"$T/done" | tr -d ' ')" "$N" "history has $N completions"
is "$(sort -u "$T/done" | wc -l | tr -d ' ')" "$N" "one per job: no batch was applied twice"
is "$(exits)" 3 "each death was logged (event=committer_exited)"
grep 'event=committer_exited' "$T/daemon.log" | head -n 1 >"$T/exit1"
grep -q 'signal=9 .*commits in its own process' "$T/exit1"
ok $? "saying how it died and what the daemon does: $(cut -c1-160 "$T/exit1")"
wait_for 10 new_committer "$cp"
ok $? "and a new committer runs"
# The metrics say who committed: the daemon did, while none ran.
metric() { awk -v m="$1" '$1 == m { print $2 }' "$T/metrics.prom"; }
by_daemon() { [ "$(metric 'syncspool_commits_total{by="daemon"}')" -gt 0 ]; }
wait_for 15 by_daemon
ok $? "the daemon committed in its own process meanwhile ($(metric 'syncspool_commits_total{by="daemon"}') batches)"
[ "$(metric 'syncspool_commits_total{by="committer"}')" -gt 0 ]
ok $? "and the committers the rest ($(metric 'syncspool_commits_total{by="committer"}'))"
is "$(metric syncspool_committer_exits_total)" 3 "syncspool_committer_exits_total counts the deaths"

# ---- SIGTERM to the whole service ----
cp=$(committer_pid)
drop last.yaml v9 test 'options: {sleep: 1}'
wait_for 10 count_is processing 1
id=$(job_id_in processing last)
kill -TERM "$DPID" "$cp"
wait_for 20 sh -c "! kill -0 $DPID"
wait "$DPID"
is "$?" 0 "the daemon and its committer, both sent SIGTERM: the daemon exits 0"
DPID=
is "$(count completed)" "$((N + 1))" "the running job finished first"
ev=$(cli history --job "$id" --json | jq -r 'reverse | map(.event) | join(" ")')
is "$ev" "queued started completed" "its completion was recorded, through the same committer"
is "$(exits)" 3 "which SIGTERM did not end"

# ---- the daemon killed ----
start_daemon
wait_for 10 committer_pid
cp=$(committer_pid)
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
wait_for 10 gone "$cp"
ok $? "the committer dies with the daemon"

done_testing

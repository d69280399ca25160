#!/bin/sh
# No handler execs before its pid is where a restarted daemon looks: each
# handler finds its own line in db/running (job id, pid, start time, boot
# id) at its first instruction, several at once in their own slots. A
# handler that cannot be exec'd (removed after the config was read) exits 127, counted as an attempt, and the
# daemon logs why.
. "$(dirname "$0")/lib.sh"
plan 6
setup
cat >"$T/rec" <<'SH'
#!/bin/sh
# Before anything else: this process's line, as the daemon would read it.
start=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
boot=$(cat /proc/sys/kernel/random/boot_id)
if grep -q "^$SYNCSPOOL_JOB_ID $$ $start $boot *\$" "$TEST_DIR/spool/db/running"; then
	echo found >"$TEST_DIR/runs/$SYNCSPOOL_JOB_ID.rec"
else
	cp "$TEST_DIR/spool/db/running" "$TEST_DIR/runs/$SYNCSPOOL_JOB_ID.rec"
fi
sleep 0.3
SH
chmod +x "$T/rec"
EXTRA_PROVIDERS="  rec:
    command: [$T/rec]
    concurrency: 4
    env: {TEST_DIR: \"$T\"}
  noexec:
    command: [$T/gone]
    max_attempts: 2
    backoff: {initial: 100ms, max: 100ms}"
printf '#!/bin/sh\n' >"$T/gone"
chmod +x "$T/gone"
write_config
start_daemon
# Checked when the config was read; gone by the time a job runs.
rm "$T/gone"

for v in 1 2 3 4; do drop "v$v-rec.yaml" "v$v" rec; done
wait_for 20 count_is completed 4
ok $? "four handlers ran at once and completed"
is "$(cat "$T"/runs/*.rec 2>/dev/null | sort | uniq -c | tr -s ' ')" " 4 found" \
	"each found its own pid, start time and boot id in db/running"
# Once committed, the lines are blank again: 4 slots of 256 bytes.
wait_for 5 sh -c "! grep -q '[^ ]' '$T/spool/db/running'"
ok $? "and the lines are blank once the outcomes are committed"

drop x-noexec.yaml x noexec
wait_for 20 count_is failed 1
ok $? "a handler that cannot be exec'd: failed after its attempts"
case $SYNCSPOOLD in
*valgrind*)
	# Valgrind turns the daemon's clone(CLONE_VM) into a fork, so the
	# child cannot report back; the log below still says it.
	echo "ok $((test_n += 1)) # SKIP the daemon runs under valgrind" ;;
*)
	grep -q "event=exec_failed .*command=$T/gone error=\"No such file or directory\"" "$T/daemon.log"
	ok $? "the daemon logs why the exec failed" ;;
esac
xid=$(job_id_in failed x-noexec)
grep -q "syncspool: exec $T/gone: No such file or directory" "$T/spool/logs/$xid.log"
ok $? "and the handler's log says it"

stop_daemon
done_testing

#!/bin/sh
# The log is created on a handler's first output: a handler that prints
# nothing leaves no logs/<id>.log, and `logs` and `show` say "no output";
# `logs -f` of a running job whose handler prints only later still
# follows it from the header to the footer.
. "$(dirname "$0")/lib.sh"
plan 9
setup
cat >"$T/late" <<'SH'
#!/bin/sh
# Quiet until told to speak.
while [ ! -e "$TEST_DIR/speak" ]; do sleep 0.05; done
echo "late line"
SH
chmod +x "$T/late"
EXTRA_PROVIDERS="  quiet:
    command: [/bin/true]
  late:
    command: [$T/late]
    env: {TEST_DIR: \"$T\"}"
write_config
start_daemon
reaped() { for _q; do EXTRA_PIDS=$(printf '%s\n' $EXTRA_PIDS | grep -vx "$_q" | tr '\n' ' '); done; }

q=$(cli trigger quiet --venue v1)
wait_for 10 test -f "$T/spool/completed/$q.yaml"
ok $? "a handler that prints nothing completes"
wait_event "$q" completed
[ ! -e "$T/spool/logs/$q.log" ]; ok $? "and leaves no log file"
cli logs "$q" >"$T/out" 2>"$T/err"
rc=$?
is "$rc" 0 "logs of a job with no output: exit 0"
[ ! -s "$T/out" ] && grep -q "no output for $q" "$T/err"; ok $? "nothing on stdout, \"no output\" on stderr"
cli show "$q" >"$T/out" 2>"$T/err"
grep -q "^no output: its handler has printed nothing" "$T/out"; ok $? "show says there is no output"

l=$(cli trigger late --venue v2)
wait_for 10 test -f "$T/spool/processing/$l.yaml"
[ ! -e "$T/spool/logs/$l.log" ]; ok $? "a running handler that has printed nothing has no log yet"
timeout $((20 * ${TIMEOUT_SCALE:-1})) "$SYNCSPOOL" -c "$T/syncspool.yaml" logs -f "$l" >"$T/follow" 2>"$T/follow.err" &
fp=$!
EXTRA_PIDS="$EXTRA_PIDS $fp"
sleep 0.3
: >"$T/speak"
wait_for 10 sh -c "! kill -0 $fp 2>/dev/null"
wait $fp
rc=$?
reaped $fp
is "$rc" 0 "logs -f, started before the first output, returns when the job ends"
grep -q "^late line" "$T/follow" && grep -q "^=== attempt 1 ended: exit 0" "$T/follow"
ok $? "with the output and the attempt's footer"
cmp -s "$T/follow" "$T/spool/logs/$l.log"; ok $? "what it printed is the whole log"

stop_daemon
done_testing

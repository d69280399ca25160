#!/bin/sh
# Uploads in progress are not taken: temporary names are ignored until
# renamed, and a file written in place is taken only after its writer has
# closed it and it has settled.
. "$(dirname "$0")/lib.sh"
plan 10
SETTLE=1s setup
start_daemon

for n in up.yaml.part up.yaml.filepart up.yaml.tmp .up.yaml; do
	printf 'venue_id: v1\nprovider: test\n' >"$T/spool/pending/$n"
done
# Give the daemon time to (wrongly) take them: past the settle time.
wait_for 3 count_is completed 1
is "$(count completed)$(count failed)" "00" "temporary names are never taken"
mv "$T/spool/pending/up.yaml.part" "$T/spool/pending/up.yaml"
wait_for 10 count_is completed 1
ok $? "renamed into view, it is taken"

# An in-place writer that pauses mid-file, holding it open.
exec 7>"$T/spool/pending/slow-writer.yaml"
printf 'venue_id: v2\npro' >&7
wait_for 4 count_is failed 1
is "$(count failed)$(count completed)" "01" "a half-written file is not taken while its writer holds it"
printf 'vider: test\n' >&7
wait_for 3 count_is completed 2
is "$(count completed)" 1 "not while the writer still has it open, even after the settle time"
exec 7>&-
wait_for 10 count_is completed 2
ok $? "once closed and settled, it is taken"
id=$(job_id_in completed slow-writer)
grep -qx 'provider: test' "$T/runs/$id.1.stdin"; ok $? "and the handler saw the whole file"
is "$(count failed)" 0 "nothing failed"
stop_daemon

# At start-up a file in pending may be an upload cut off a moment before,
# which its client is about to resume: one written less than the settle
# time ago waits for it, as it would with the daemon running. zmarker,
# old enough, is taken at once; it sorts after resumed, so once it is
# queued the daemon has looked at resumed too.
SETTLE=3s write_config
printf 'venue_id: v4\nprovider: test\n' >"$T/spool/pending/zmarker.yaml"
old_enough() { [ $(($(date +%s) - $(stat -c %Z "$T/spool/pending/zmarker.yaml"))) -ge 4 ]; }
wait_for 10 old_enough
printf 'venue_id: v3\nprovider: test\n' >"$T/spool/pending/resumed.yaml"
start_daemon
wait_for 10 grep -q "event=queued job=zmarker" "$T/daemon.log"
ok $? "a file older than the settle time is taken at once at start-up"
printf 'options: {note: resumed}\n' >>"$T/spool/pending/resumed.yaml"
wait_for 20 count_is completed 4
id=$(job_id_in completed resumed)
[ -n "$id" ] && grep -q 'note: resumed' "$T/runs/$id.1.stdin"
ok $? "one written just before the start waits its settle time, and is run whole"
is "$(count failed)" 0 "and nothing failed"
stop_daemon
done_testing

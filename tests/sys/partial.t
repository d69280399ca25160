#!/bin/sh
# Uploads in progress are not taken: temporary names are ignored until
# renamed, and a file written in place is taken only after its writer has
# closed it and it has settled.
. "$(dirname "$0")/lib.sh"
plan 7
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
done_testing

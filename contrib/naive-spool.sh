#!/bin/sh
# naive-spool.sh - the spool runner every admin writes first, kept as the
# baseline of `make bench` (tests/bench/README.md). Do not use it: it is
# here to be measured, and to show what syncspoold is for.
#
#   naive-spool.sh SPOOL HANDLER [ARG...]
#
# Watches SPOOL/pending with inotifywait and, for each file closed after
# writing or moved in, moves it to processing, runs HANDLER with the file
# on stdin, and moves it to completed, or to failed when the handler
# fails. One job at a time, in the order inotifywait reports them.
#
# What it gets wrong, on purpose (it is the baseline, not a fix): files
# already in pending when it starts are never run; a burst that overflows
# inotifywait's queue loses files; dot-files and partial uploads are taken
# like any other; nothing is synced, recorded or retried; a name with
# spaces or a newline breaks it; and when it dies, whatever was in
# processing stays there.
set -u
[ $# -ge 2 ] || { echo "usage: naive-spool.sh SPOOL HANDLER [ARG...]" >&2; exit 64; }
spool=$1
shift
cd "$spool" || exit 66
mkdir -p pending processing completed failed

inotifywait -m -e close_write,moved_to --format %f pending |
while read f; do
	mv "pending/$f" processing/ && "$@" <"processing/$f" &&
		mv "processing/$f" completed/ || mv "processing/$f" failed/
done

#!/bin/sh
# The manual pages: each one there, `mandoc -T lint` clean at the style
# level (a page it cannot find in this system's manual database is no
# fault of ours, unless it is one of ours and missing from man/);
# syncspoold(8) has its FILES and INTERNALS sections, INTERNALS names
# the state directories and the no-overwrite rename the protocol rests
# on; syncspool(1) lists every exit status the commands use.
. "$(dirname "$0")/lib.sh"
command -v mandoc >/dev/null 2>&1 || { echo "1..0 # SKIP mandoc is not installed"; exit 0; }
plan 12
setup

M=$TOP/man
pages="syncspool.1 syncspoold.8 syncspool.yaml.5 syncspool-job.5 syncspool-handler.7"
# The text of a section of a page, as mandoc renders it.
section() { # PAGE SECTION
	mandoc -T ascii "$M/$1" | sed 's/.\x08//g' |
		awk -v s="$2" '$0 == s { f = 1; next } /^[A-Z]/ { f = 0 } f'
}

for p in $pages; do
	mandoc -T lint -W style "$M/$p" >"$T/lint" 2>&1
	# What lint says of the system's manual database is not about us.
	grep -v -e 'outdated mandoc.db' -e 'referenced manual not found' "$T/lint" >"$T/lint.ours"
	if [ -f "$M/$p" ] && [ ! -s "$T/lint.ours" ]; then
		ok 0 "man/$p: mandoc -T lint clean"
	else
		ok 1 "man/$p: mandoc -T lint clean"
		diag "$(cat "$T/lint.ours")"
	fi
done

# Every reference to a page of ours names one that is in man/.
missing=
for ref in $(cat "$M"/* | awk '$1 == ".Xr" && $2 ~ /^syncspool/ { print $2 "." $3 }' | sort -u); do
	[ -f "$M/$ref" ] || missing="$missing $ref"
done
is "$missing" "" "every .Xr to a syncspool page names one in man/"

names=$(grep -h '^\.Sh' "$M/syncspoold.8" | sed 's/^\.Sh //' | tr '\n' '|')
case $names in *"|FILES|"*) ok 0 "syncspoold(8) has a FILES section" ;; *) ok 1 "syncspoold(8) has a FILES section: $names" ;; esac
case $names in *"|INTERNALS|"*) ok 0 "syncspoold(8) has an INTERNALS section" ;; *) ok 1 "syncspoold(8) has an INTERNALS section: $names" ;; esac
files=$(section syncspoold.8 FILES)
n=0
for d in pending processing completed failed paused logs db; do
	echo "$files" | grep -q "^ *$d/" && n=$((n + 1))
done
is "$n" 7 "FILES lists the spool's seven directories"
internals=$(section syncspoold.8 INTERNALS)
n=0
for d in pending processing completed failed paused; do
	echo "$internals" | grep -qw "$d" && n=$((n + 1))
done
is "$n" 5 "INTERNALS names the five state directories"
echo "$internals" | grep -q RENAME_NOREPLACE
ok $? "INTERNALS says moves never overwrite (RENAME_NOREPLACE)"

exits=$(section syncspool.1 "EXIT STATUS" | awk '$1 ~ /^[0-9]+$/ { print $1 }' | tr '\n' ' ')
is "$exits" "0 64 65 66 69 73 78 " "syncspool(1) EXIT STATUS: 0 64 65 66 69 73 78"

done_testing

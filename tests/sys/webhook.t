#!/bin/sh
# contrib/handlers/webhook against a small HTTP server on 127.0.0.1 that
# answers what the request path asks for: 2xx completes, 429 and 5xx are
# retried (with retry_after from Retry-After), other 4xx fail for good, a
# refused connection and a timeout are retried. Then once through the
# daemon, to see the result keys reach history.
. "$(dirname "$0")/lib.sh"
WEBHOOK=$TOP/contrib/handlers/webhook
if ! command -v curl >/dev/null 2>&1; then
	echo "1..0 # SKIP curl is not installed (contrib/deps.sh installs it)"
	exit 0
fi
plan 34
setup

# The server: GET or POST /CODE[?retry_after=VALUE] answers with that
# status and header; /slow never answers. Each request's headers and
# body are kept in $T/req/CODE.headers and CODE.body.
mkdir "$T/req"
cat >"$T/server.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::INET;

my ($portfile, $dir) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
open(my $pf, '>', "$portfile.tmp") or die;
print $pf $srv->sockport, "\n";
close($pf);
rename("$portfile.tmp", $portfile) or die;
$SIG{CHLD} = 'IGNORE';    # no zombies; children exit on their own
while (1) {
	my $c = $srv->accept or next;
	my $pid = fork;
	if (!defined $pid) { close($c); next; }
	if ($pid) { close($c); next; }
	close($srv);
	serve($c);
	exit 0;
}

sub unescape { my $s = shift; $s =~ s/\+/ /g; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; $s }

sub serve {
	my $c = shift;
	local $/ = "\r\n";
	my $line = <$c> // return;
	my (undef, $target) = split(' ', $line);
	my ($path, $query) = split(/\?/, $target, 2);
	my ($len, $head) = (0, '');
	while (defined(my $h = <$c>)) {
		$h =~ s/\r\n$//;
		last if $h eq '';
		$head .= "$h\n";
		$len = $1 if $h =~ /^content-length:\s*(\d+)/i;
	}
	my $body = '';
	read($c, $body, $len) if $len;
	if ($path eq '/slow') {
		# Hold the request until the client gives up and closes.
		sysread($c, my $x, 1);
		return;
	}
	my ($code) = $path =~ m{^/(\d{3})$} or return;
	for (['headers', $head], ['body', $body]) {
		open(my $f, '>', "$dir/$code.$_->[0]") or die;
		print $f $_->[1];
		close($f);
	}
	my $extra = '';
	if (defined $query && $query =~ /(?:^|&)retry_after=([^&]*)/) {
		$extra = 'Retry-After: ' . unescape($1) . "\r\n";
	}
	my $text = "status $code from the test server\n";
	print $c "HTTP/1.1 $code Test\r\nContent-Type: text/plain\r\n",
	    "Content-Length: ", length($text), "\r\nConnection: close\r\n",
	    $extra, "\r\n", $text;
	close($c);
}
EOF
perl "$T/server.pl" "$T/port" "$T/req" 2>>"$T/server.log" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 10 test -s "$T/port" || bail "the test HTTP server did not start"
URL=http://127.0.0.1:$(cat "$T/port")

# A port with nobody listening: bound, then closed.
dead_port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')

ID=venue1-hook.20250102T030001Z.4f2a
# hook URL [VAR=VALUE...]: run the handler as the daemon would, in a
# clean environment; sets rc, and leaves $T/result, $T/out, $T/err.
hook() {
	_u=$1
	shift
	: >"$T/result"
	env -i PATH="$HOOK_PATH" SYNCSPOOL_JOB_ID=$ID SYNCSPOOL_VENUE_ID=venue1 \
		SYNCSPOOL_PROVIDER=hook SYNCSPOOL_SYNC_TYPE=delta \
		SYNCSPOOL_ATTEMPT=2 SYNCSPOOL_OPTION_SINCE=2025-01-01 \
		SYNCSPOOL_OPTION_PAGE_SIZE=50 SYNCSPOOL_JOB_FILE=/dev/null \
		SYNCSPOOL_RESULT_FILE="$T/result" WEBHOOK_TIMEOUT=5 \
		WEBHOOK_URL="$_u" "$@" "$WEBHOOK" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
}
HOOK_PATH=$PATH
results() { tr '\n' ' ' <"$T/result" | sed 's/ $//'; }

# 200: done, and the request is the job.
hook "$URL/200" WEBHOOK_AUTHORIZATION="Bearer s3cret"
is "$rc" 0 "200: exit 0"
is "$(results)" "http_status: 200" "200: http_status in the result file"
body=$T/req/200.body
is "$(jq -r '[.job_id, .venue_id, .provider, .sync_type] | join(" ")' "$body")" \
	"$ID venue1 hook delta" "the body carries the job's fields"
is "$(jq -c '[.attempt, .options]' "$body")" '[2,{"page_size":"50","since":"2025-01-01"}]' \
	"and its attempt and options (names in lower case)"
grep -qix "content-type: application/json" "$T/req/200.headers"; ok $? "sent as application/json"
grep -qix "idempotency-key: $ID" "$T/req/200.headers"; ok $? "with the job id as Idempotency-Key"
grep -qix "authorization: Bearer s3cret" "$T/req/200.headers"; ok $? "and WEBHOOK_AUTHORIZATION as Authorization"
hook "$URL/204"
is "$rc:$(results)" "0:http_status: 204" "204 is success too"

# 429 with Retry-After in seconds, and as an HTTP date.
hook "$URL/429?retry_after=7"
is "$rc" 75 "429: exit 75 (retry)"
is "$(results)" "http_status: 429 retry_after: 7" "429: retry_after from Retry-After"
when=$(LC_ALL=C date -u -d @$(($(date +%s) + 120)) '+%a, %d %b %Y %H:%M:%S GMT')
hook "$URL/429?retry_after=$(printf '%s' "$when" | sed 's/ /%20/g; s/,/%2C/g')"
ra=$(sed -n 's/^retry_after: //p' "$T/result")
[ "$rc" -eq 75 ] && [ "${ra:-0}" -ge 100 ] && [ "$ra" -le 121 ]
ok $? "429: an HTTP-date Retry-After becomes seconds from now ($ra)"
grep -q "HTTP 429.*retry" "$T/err"; ok $? "429: the last stderr line says why"

# 5xx are temporary.
hook "$URL/503"
is "$rc:$(results)" "75:http_status: 503" "503 without Retry-After: exit 75, no retry_after"
hook "$URL/503?retry_after=30"
is "$rc:$(results)" "75:http_status: 503 retry_after: 30" "503 with Retry-After"
hook "$URL/500"
is "$rc" 75 "500: exit 75"

# Other 4xx are permanent.
hook "$URL/404"
is "$rc:$(results)" "65:http_status: 404" "404: exit 65 (permanent)"
grep -q "status 404 from the test server" "$T/err"; ok $? "404: the response body is in the log"
tail -n 1 "$T/err" | grep -q "HTTP 404.*not retried"; ok $? "404: the last stderr line says why"
hook "$URL/400"
is "$rc" 65 "400: exit 65"
hook "$URL/301"
is "$rc" 65 "a redirect is not followed: exit 65"

# Failures of the connection are temporary.
hook "http://127.0.0.1:$dead_port/200"
is "$rc:$(results)" "75:" "connection refused: exit 75, no status"
start=$(now_ms)
hook "$URL/slow" WEBHOOK_TIMEOUT=1
took=$(($(now_ms) - start))
[ "$rc" -eq 75 ] && [ "$took" -lt 4000 ]; ok $? "a timeout (WEBHOOK_TIMEOUT=1): exit 75 after ${took}ms"

# Configuration errors are permanent.
hook ""
is "$rc" 78 "no WEBHOOK_URL: exit 78"
hook "ftp://127.0.0.1:$dead_port/x"
is "$rc" 78 "a URL curl must not use: exit 78"
hook "$URL/200" WEBHOOK_TIMEOUT=soon
is "$rc" 78 "a bad WEBHOOK_TIMEOUT: exit 78"
hook "$URL/404?token=s3cret"
! grep -q s3cret "$T/err"; ok $? "a URL's query string stays out of the log"

# Without jq the shell builds the same JSON, awkward values included.
mkdir "$T/nojq"
for c in sh env sed sort tr awk mktemp rm cat head date curl; do
	ln -s "$(command -v "$c")" "$T/nojq/$c"
done
tricky='a "quoted" \back\slash	tab
two lines é'
hook "$URL/200" SYNCSPOOL_OPTION_NOTE="$tricky" SYNCSPOOL_OPTION_EMPTY= \
	SYNCSPOOL_OPTION_NL="x
"
cp "$T/req/200.body" "$T/with-jq.json"
HOOK_PATH=$T/nojq
hook "$URL/200" SYNCSPOOL_OPTION_NOTE="$tricky" SYNCSPOOL_OPTION_EMPTY= \
	SYNCSPOOL_OPTION_NL="x
"
HOOK_PATH=$PATH
is "$rc" 0 "without jq: exit 0"
is "$(jq -S . "$T/req/200.body")" "$(jq -S . "$T/with-jq.json")" "without jq: the same JSON"
is "$(jq -r .options.note "$T/req/200.body")" "$tricky" "the value came through intact"

# Through the daemon: the provider's env reaches the handler, the result
# keys reach history, and retry_after defers the job (no attempt used).
cat >>"$T/syncspool.yaml" <<EOF
  hook:
    command: [$WEBHOOK]
    backoff: {initial: 100ms, max: 100ms}
    max_attempts: 2
    env: {WEBHOOK_URL: "$URL/201", WEBHOOK_TIMEOUT: "5"}
  hookdown:
    command: [$WEBHOOK]
    backoff: {initial: 100ms, max: 100ms}
    max_attempts: 2
    env: {WEBHOOK_URL: "$URL/503"}
  hookbusy:
    command: [$WEBHOOK]
    backoff: {initial: 100ms, max: 100ms}
    max_attempts: 2
    env: {WEBHOOK_URL: "$URL/429?retry_after=1"}
EOF
start_daemon
drop v1-hook.yaml v1 hook 'options: {since: "2025-01-01"}'
drop v2-hook.yaml v2 hookdown
drop v3-hook.yaml v3 hookbusy
wait_for 10 count_is completed 1 && wait_for 10 count_is failed 1
ok $? "through the daemon: the 201 completes, the 503 fails after its attempts"
id=$(job_id_in completed v1-hook)
is "$(cli history --job "$id" --json | jq -r '.[0].result.http_status')" 201 "http_status is in history"
is "$(jq -r '.venue_id + " " + .options.since' "$T/req/201.body")" "v1 2025-01-01" "the daemon's job was posted"
id=$(cli list --provider hookbusy --json | jq -r '.[0].job_id')
deferred_twice() {
	[ "$(cli history --job "$id" --json |
		jq '[.[] | select(.event == "deferred")] | length')" -ge 2 ]
}
wait_for 10 deferred_twice
ok $? "a 429 with Retry-After defers the job, again and again"
is "$(cli history --job "$id" --json | jq -r '[.[] | select(.event == "deferred") | .result.retry_after] | unique | join(" ")')" 1 \
	"with retry_after in history"
stop_daemon
done_testing

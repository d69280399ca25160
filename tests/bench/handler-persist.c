/*
 * handler-persist - the benchmark's no-op handler for a provider in
 * `mode: persistent` (syncspool-handler(7)): the persistent counterpart of
 * /bin/true.
 *
 * Reads one JSON job per line on stdin and answers each at once with
 *   {"job_id":"<its job_id>","exit":0}
 * on stdout, flushed; exits 0 at end of input. The only field it reads is
 * job_id, found by a plain scan (ids are [A-Za-z0-9._-], never escaped).
 * With $STAMP_FILE set it also appends "<CLOCK_REALTIME ns> <job_id>\n" to
 * that file, as handler-stamp does, when it reads each line.
 *
 * Exit status: 0 at end of input, 70 (EX_SOFTWARE) on a line without a
 * job_id or a failed write, so that the daemon replaces it and says so.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The value of "job_id" in line, copied into id; 0, or -1 if none. */
static int
job_id(const char *line, char *id, size_t cap)
{
	const char *p = strstr(line, "\"job_id\"");
	size_t n = 0;

	if (p == NULL)
		return -1;
	p += strlen("\"job_id\"");
	while (*p == ' ' || *p == '\t' || *p == ':')
		p++;
	if (*p++ != '"')
		return -1;
	while (p[n] != '"' && p[n] != '\0' && n + 1 < cap) {
		id[n] = p[n];
		n++;
	}
	if (p[n] != '"' || n == 0)
		return -1;
	id[n] = '\0';
	return 0;
}

int
main(void)
{
	const char *stamp = getenv("STAMP_FILE");
	char *line = NULL, id[256];
	size_t cap = 0;
	int sfd = -1;

	if (stamp != NULL &&
	    (sfd = open(stamp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			0644)) < 0)
		return 70;
	while (getline(&line, &cap, stdin) > 0) {
		struct timespec ts;
		char buf[320];
		int n;

		clock_gettime(CLOCK_REALTIME, &ts);
		if (job_id(line, id, sizeof(id)) < 0)
			return 70;
		if (sfd >= 0) {
			n = snprintf(buf, sizeof(buf), "%lld %s\n",
				     (long long)ts.tv_sec * 1000000000LL +
				     ts.tv_nsec, id);
			if (write(sfd, buf, (size_t)n) != n)
				return 70;
		}
		if (printf("{\"job_id\":\"%s\",\"exit\":0}\n", id) < 0 ||
		    fflush(stdout) != 0)
			return 70;
	}
	free(line);
	return 0;
}

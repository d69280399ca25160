/*
 * handler-stamp - the benchmark's latency handler.
 *
 * Appends one line, "<CLOCK_REALTIME ns> <$SYNCSPOOL_JOB_ID>\n", to the
 * file named by $STAMP_FILE (set in the provider's env), with a single
 * write(2) on an O_APPEND descriptor so that lines from handlers running
 * at once never interleave, then exits 0. The clock is read first thing
 * in main(), so the stamp is as close to the handler's start as a
 * dynamically linked program gets; what came before (fork, execve, the
 * loader) is the daemon's to account for.
 *
 * Exit status: 0, or 70 (EX_SOFTWARE) when STAMP_FILE is unset or the
 * write fails, so that a broken bench shows up as failed jobs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main(void)
{
	struct timespec ts;
	const char *path, *id;
	char line[256];
	int fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	path = getenv("STAMP_FILE");
	id = getenv("SYNCSPOOL_JOB_ID");
	if (path == NULL)
		return 70;
	n = snprintf(line, sizeof(line), "%lld %s\n",
		     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		     id != NULL ? id : "-");
	if (n < 0 || (size_t)n >= sizeof(line))
		return 70;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		return 70;
	return close(fd) < 0 ? 70 : 0;
}

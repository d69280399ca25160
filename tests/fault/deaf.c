/*
 * deaf.c - an LD_PRELOAD shim that makes the daemon miss inotify events,
 * for tests/sys/loop.t: the periodic rescan must find what inotify did
 * not report (a file moved in from a filesystem that does not report,
 * say). Built by the Makefile into $(B)/libdeaf.so; not part of the
 * programs.
 *
 *   LD_PRELOAD=build/libdeaf.so DEAF_FILE=/tmp/x/deaf syncspoold ...
 *
 * The shim remembers the descriptors inotify_init1() and inotify_init()
 * return. While the file $DEAF_FILE exists, a read() of one of them reads
 * the events and throws them away: it returns -1 with errno EAGAIN, as
 * an empty non-blocking inotify descriptor does. Each read thrown away
 * appends "pid=123 dropped=N" (N bytes of events) to $DEAF_LOG when it
 * is set. Without the file, reads pass through.
 *
 * The shim calls read(2) itself through syscall(2), never through the
 * read() it defines, so it never recurses; it keeps no lock: the daemon
 * is single-threaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define DEAF_FDS 8

static int deaf_fds[DEAF_FDS] = {-1, -1, -1, -1, -1, -1, -1, -1};

static void
remember(int fd)
{
	for (int i = 0; fd >= 0 && i < DEAF_FDS; i++) {
		if (deaf_fds[i] < 0 || deaf_fds[i] == fd) {
			deaf_fds[i] = fd;
			return;
		}
	}
}

static int
is_inotify(int fd)
{
	for (int i = 0; i < DEAF_FDS; i++)
		if (deaf_fds[i] == fd)
			return 1;
	return 0;
}

static void
note(ssize_t n)
{
	const char *path = getenv("DEAF_LOG");
	char line[64];
	int fd, len;

	if (path == NULL)
		return;
	fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "pid=%ld dropped=%zd\n",
		       (long)getpid(), n);
	(void)syscall(SYS_write, fd, line, (size_t)len);
	(void)syscall(SYS_close, fd);
}

int
inotify_init1(int flags)
{
	int fd = (int)syscall(SYS_inotify_init1, flags);

	remember(fd);
	return fd;
}

int
inotify_init(void)
{
	return inotify_init1(0);
}

ssize_t
read(int fd, void *buf, size_t count)
{
	static ssize_t (*next)(int, void *, size_t);
	const char *path;
	ssize_t n;

	if (is_inotify(fd) && (path = getenv("DEAF_FILE")) != NULL &&
	    access(path, F_OK) == 0) {
		n = (ssize_t)syscall(SYS_read, fd, buf, count);
		if (n <= 0)
			return n;
		note(n);
		errno = EAGAIN;
		return -1;
	}
	if (next == NULL)
		next = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	if (next == NULL)
		return (ssize_t)syscall(SYS_read, fd, buf, count);
	return next(fd, buf, count);
}

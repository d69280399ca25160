/*
 * pidfd_shim.c - lets syncspoold run under a valgrind without
 * pidfd_open(2): valgrind 3.19 (Debian bookworm) answers it with ENOSYS
 * ("unhandled amd64-linux syscall: 434"), and the daemon then starts no
 * handler. `make check-valgrind` preloads this into the daemon, and only
 * there.
 *
 * - fork() is made with clone(CLONE_PIDFD), which valgrind passes on to
 *   the kernel, and the pidfd is kept; pidfd_open() of that child hands
 *   it out (once).
 * - pidfd_open() of any other process (a handler adopted after a
 *   restart) is asked of pidfd-helper, a program that valgrind does not
 *   run (no --trace-children), which opens the pidfd and sends it back
 *   over a socket (SCM_RIGHTS). PIDFD_HELPER names it; without it, or
 *   when it fails, the call fails as valgrind would.
 *
 * Every other syscall() goes to the real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define SHIM_SLOTS 64

extern char **environ;

/* Children forked since their pidfd was last asked for. */
static struct {
	pid_t pid;
	int fd;
} slots[SHIM_SLOTS];

typedef long (*syscall_fn)(long, ...);

static syscall_fn
real_syscall(void)
{
	static syscall_fn fn;

	if (fn == NULL)
		fn = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return fn;
}

pid_t
fork(void)
{
	int pidfd = -1, i;
	long r;

	r = real_syscall()(SYS_clone, (long)(CLONE_PIDFD | SIGCHLD), 0L,
			   (long)&pidfd, 0L, 0L);
	if (r <= 0)
		return (pid_t)r; /* the child, or -1 with errno set */
	for (i = 0; i < SHIM_SLOTS && slots[i].pid != 0; i++)
		;
	if (i == SHIM_SLOTS) {
		/* Full: the oldest goes; its pidfd_open() then asks the helper. */
		i = 0;
		close(slots[0].fd);
	}
	slots[i].pid = (pid_t)r;
	slots[i].fd = pidfd;
	return (pid_t)r;
}

/* A pidfd for pid from pidfd-helper, or -1 with errno set. */
static int
helper_pidfd(pid_t pid)
{
	const char *helper = getenv("PIDFD_HELPER");
	char pidarg[24], fdarg[24], cbuf[CMSG_SPACE(sizeof(int))];
	char *argv[] = {(char *)"pidfd-helper", pidarg, fdarg, NULL};
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	int sv[2], fd = -1, e = ENOSYS;
	pid_t child;

	if (helper == NULL || *helper == '\0')
		return errno = ENOSYS, -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	if (posix_spawn(&child, helper, NULL, NULL, argv, environ) != 0) {
		close(sv[0]);
		close(sv[1]);
		return errno = ENOSYS, -1;
	}
	close(sv[1]);
	if (recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) == 1 && byte == 'y') {
		cm = CMSG_FIRSTHDR(&mh);
		if (cm != NULL && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	} else if (byte == 'n') {
		e = ESRCH;
	}
	close(sv[0]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (fd < 0)
		errno = e;
	return fd;
}

long
syscall(long n, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_pidfd_open) {
		for (int i = 0; i < SHIM_SLOTS; i++) {
			if (slots[i].pid == 0 || slots[i].pid != (pid_t)a[0])
				continue;
			int fd = slots[i].fd;
			slots[i].pid = 0;
			slots[i].fd = -1;
			return fd;
		}
		long r = real_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (r >= 0 || errno != ENOSYS)
			return r;
		return helper_pidfd((pid_t)a[0]);
	}
	return real_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

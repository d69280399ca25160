/*
 * pidfd_helper.c - pidfd-helper PID FD: opens a pidfd for PID and sends
 * it over the socket FD (SCM_RIGHTS) with the byte 'y', or sends 'n'
 * when there is no such process. Run by pidfd_shim.c for a daemon under
 * valgrind, which cannot make that system call itself; not run under
 * valgrind, so the kernel's pidfd_open(2) is reached.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int
main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 'n';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	int sock, fd;

	if (argc != 3)
		return 64;
	sock = atoi(argv[2]);
	fd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	if (fd >= 0) {
		byte = 'y';
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : 1;
}

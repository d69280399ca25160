/*
 * commit.c - the committer: see commit.h.
 *
 * The socket is a stream (a batch may be megabytes): the daemon writes a
 * request header and the batch (store_batch_send()), the committer
 * answers each with one struct commit_result, written whole; the daemon
 * reads results without blocking and keeps a partial one until the rest
 * comes. Both ends are this program, so the structs go as they are.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "commit.h"

#define COMMIT_MAGIC 0x53534352u /* "SSCR" */
#define COMMIT_FD 3              /* the committer's end, once it runs */
#define COMMIT_START_MS 10000    /* for it to open the spool and store */
/*
 * A send waits this long for the committer to take the bytes: it reads
 * each batch as soon as it has answered the last, so only a committer
 * that is stopped (or stuck) makes it wait at all.
 */
#define COMMIT_SEND_MS 10000

struct commit_req {
	uint32_t magic;
	uint32_t dirs;
};

void
commit_durably(struct spool *sp, struct store *st, unsigned dirs,
	       const struct store_batch *b, struct commit_result *res)
{
	int rc;

	res->seq = store_batch_seq(b);
	res->rc = 0;
	res->dir = STATE_NONE;
	res->broken = 0;
	res->err[0] = '\0';
	for (int s = STATE_PENDING; s < STATE_COUNT; s++) {
		if (!(dirs & (1u << s)))
			continue;
		if ((rc = spool_sync(sp, (enum job_state)s)) < 0) {
			res->rc = rc;
			res->dir = s;
			util_seterr(res->err, sizeof(res->err), "%s",
				    strerror(-rc));
			return;
		}
	}
	rc = store_batch_commit(st, b, res->err, sizeof(res->err));
	res->rc = rc;
	res->broken = store_broken(st);
}

/* A result goes whole or not at all (the reader would wait for the rest). */
static int
reply(const struct commit_result *res)
{
	const char *p = (const char *)res;
	size_t left = sizeof(*res);

	while (left > 0) {
		ssize_t n = send(COMMIT_FD, p, left, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

/* Every descriptor but 0-2 and the socket, which is moved to COMMIT_FD. */
static int
committer_fds(int fd)
{
	if (fd != COMMIT_FD && dup2(fd, COMMIT_FD) < 0)
		return -errno;
	if (syscall(SYS_close_range, COMMIT_FD + 1, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (int i = COMMIT_FD + 1; i < (max > 0 ? max : 1024); i++)
			close(i);
	}
	return 0;
}

static void __attribute__((noreturn))
committer_main(int fd, pid_t parent, const char *spool_path)
{
	struct commit_result res = {.dir = STATE_NONE};
	struct store_batch *b;
	struct store *st = NULL;
	struct spool sp;
	char dbdir[PATH_MAX];
	struct commit_req req;
	int rc;

	/* Gone with the daemon; and it may have died before this line. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(EX_OSERR);
	(void)prctl(PR_SET_NAME, COMMITTER_NAME);
	if ((rc = committer_fds(fd)) < 0)
		_exit(EX_OSERR);
	/* Its own descriptors and its own environment: LMDB's are per process. */
	rc = spool_open(spool_path, false, &sp, res.err, sizeof(res.err));
	if (rc == 0) {
		snprintf(dbdir, sizeof(dbdir), "%s/db", spool_path);
		rc = store_open(dbdir, true, &st, res.err, sizeof(res.err));
	}
	res.rc = rc;
	if (reply(&res) < 0 || rc < 0)
		_exit(rc < 0 ? EX_UNAVAILABLE : EX_OSERR);
	for (;;) {
		rc = (int)read(COMMIT_FD, &req, sizeof(req));
		if (rc == 0)
			_exit(0); /* the daemon is done with us */
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != (int)sizeof(req) || req.magic != COMMIT_MAGIC)
			_exit(EX_PROTOCOL);
		rc = store_batch_recv(COMMIT_FD, &b, res.err, sizeof(res.err));
		if (rc < 0)
			_exit(rc == -EPROTO ? EX_PROTOCOL : EX_OSERR);
		commit_durably(&sp, st, req.dirs, b, &res);
		store_batch_free(b);
		if (reply(&res) < 0 || res.broken)
			_exit(res.broken ? EX_IOERR : EX_OSERR);
		/* What the commit touched of the map: let it go. */
		store_trim(st);
	}
}

/* Read the committer's greeting, waiting up to COMMIT_START_MS. */
static int
committer_greeting(struct committer *c, char *err, size_t errlen)
{
	struct commit_result res;
	int64_t end = util_mono_ms() + COMMIT_START_MS;
	int rc;

	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int64_t left = end - util_mono_ms();

		rc = committer_recv(c, &res);
		if (rc != -EAGAIN)
			break;
		if (left <= 0) {
			util_seterr(err, errlen, "it did not start within %d s",
				    COMMIT_START_MS / 1000);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			rc = -errno;
			util_seterr(err, errlen, "poll: %s", strerror(errno));
			return rc;
		}
	}
	if (rc == -EPIPE) {
		util_seterr(err, errlen, "it exited as it started");
		return rc;
	}
	if (rc < 0) {
		util_seterr(err, errlen, "it said something else than hello");
		return rc;
	}
	if (res.rc < 0) {
		util_seterr(err, errlen, "%s", res.err);
		return res.rc;
	}
	return 0;
}

int
committer_start(struct committer *c, const char *spool_path, char *err,
		size_t errlen)
{
	struct timeval tv = {.tv_sec = COMMIT_SEND_MS / 1000};
	pid_t parent = getpid(), pid;
	int sv[2], rc;

	c->pid = 0;
	c->fd = -1;
	c->rlen = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "socketpair: %s", strerror(errno));
		return rc;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		util_seterr(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0)
		committer_main(sv[1], parent, spool_path);
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "its socket: %s", strerror(errno));
		committer_stop(c, true, NULL);
		return rc;
	}
	if ((rc = committer_greeting(c, err, errlen)) < 0) {
		committer_stop(c, true, NULL);
		return rc;
	}
	return 0;
}

int
committer_send(struct committer *c, unsigned dirs, const struct store_batch *b)
{
	struct commit_req req = {.magic = COMMIT_MAGIC, .dirs = dirs};
	ssize_t n;

	/* The socket blocks, up to SO_SNDTIMEO; results are read without. */
	n = send(c->fd, &req, sizeof(req), MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(req))
		return store_batch_send(c->fd, b);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	return -EPIPE;
}

int
committer_recv(struct committer *c, struct commit_result *res)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen,
				 sizeof(c->rbuf) - c->rlen, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -EPIPE;
		if (n == 0)
			return -EPIPE;
		c->rlen += (size_t)n;
		if (c->rlen < sizeof(c->rbuf))
			continue;
		c->rlen = 0;
		memcpy(res, c->rbuf, sizeof(*res));
		res->err[sizeof(res->err) - 1] = '\0';
		return 0;
	}
}

void
committer_stop(struct committer *c, bool kill_it, int *status)
{
	int st = 0;

	if (c->pid <= 0)
		return;
	if (kill_it)
		kill(c->pid, SIGKILL);
	if (c->fd >= 0)
		close(c->fd);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status != NULL)
		*status = st;
	c->pid = 0;
	c->fd = -1;
	c->rlen = 0;
}

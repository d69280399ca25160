/*
 * commit.h - making the daemon's changes durable: fsync the state
 * directories its moves touched, then commit the batch of LMDB changes
 * those moves imply, in that order, so that nothing is recorded before
 * the move it describes is on disk.
 *
 * The daemon hands each batch to the committer, a child process with its
 * own LMDB environment on spool/db, so that its loop goes on while the
 * disk works: a flush held the loop for 7 ms of every 100 in a burst of
 * no-op jobs, and the handlers that ended meanwhile waited for it.
 *
 *   daemon                              committer (fork, no exec)
 *   store_batch_take() --request------> fsync the directories named,
 *     (one batch at a time)             store_batch_commit(), trim
 *   committer_recv()   <-----result---- 0, or the step that failed
 *
 * One batch is in its hands at a time; the next is taken only once the
 * last one's result is in. A batch carries an id that its commit records
 * (store_batch_commit()), so when the committer dies before it answers
 * the daemon commits that same batch itself (commit_durably()), and it
 * is applied once either way.
 *
 * The committer needs no signal handling: it inherits the daemon's
 * blocked SIGTERM, SIGINT and SIGHUP (a stop signal sent to the whole
 * service must not end it before the daemon's last flush), it exits when
 * its socket reaches end of file, and it gets SIGKILL when the daemon
 * dies (PR_SET_PDEATHSIG). It logs nothing: the daemon logs its results.
 * Its name (comm) is "syncspoold-db".
 */
#ifndef SYNCSPOOL_COMMIT_H
#define SYNCSPOOL_COMMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"
#include "store.h"
#include "util.h"

#define COMMITTER_NAME "syncspoold-db"

/* What became of a batch. */
struct commit_result {
	uint64_t seq;     /* the batch's; 0 for the committer's greeting */
	int32_t rc;       /* 0: durable and committed; else a negative errno */
	int32_t dir;      /* the state whose directory fsync failed, or
			     STATE_NONE: the commit (or the open) failed */
	uint8_t broken;   /* the committer's store can be written no more
			     (store_broken()): it exits after this */
	char err[ERRLEN]; /* what failed, for the log */
};

/*
 * In this process, what the committer does with a batch: fsync each
 * state directory whose bit (1 << state) is set in dirs, then commit b.
 * Fills res; res->rc is 0 when all of it succeeded.
 */
void commit_durably(struct spool *sp, struct store *st, unsigned dirs,
		    const struct store_batch *b, struct commit_result *res);

struct committer {
	pid_t pid;    /* 0: none runs */
	int fd;       /* our end of its socket, or -1 */
	size_t rlen;  /* bytes of the next result read so far */
	unsigned char rbuf[sizeof(struct commit_result)];
};

/*
 * Fork a committer for the spool at spool_path and wait (up to 10 s) for
 * it to open the spool and the store. Call with no LMDB transaction open
 * (the fork copies none). 0, or a negative errno with
 * err filled (what the committer could not open, or why it could not be
 * started); then c->pid is 0.
 */
int committer_start(struct committer *c, const char *spool_path, char *err,
		    size_t errlen);
/*
 * Hand it batch b and the directories to fsync first (bits as above). A
 * blocking write, bounded by a timeout: the committer reads each batch as
 * it comes. -EPIPE: it has gone; -ETIMEDOUT: it does not read.
 */
int committer_send(struct committer *c, unsigned dirs,
		   const struct store_batch *b);
/*
 * Read a result without blocking: 0 with *res filled, -EAGAIN when none
 * is complete yet, -EPIPE when the committer has gone (its socket is at
 * end of file).
 */
int committer_recv(struct committer *c, struct commit_result *res);
/*
 * End it: with kill, SIGKILL first; else it finishes the batch it holds
 * and exits at end of file. Closes the socket and reaps it; *status (when
 * not NULL) gets waitpid()'s status. Does nothing when none runs.
 */
void committer_stop(struct committer *c, bool kill, int *status);

#endif

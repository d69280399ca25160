/*
 * test_commit.c - the committer (commit.h) as the daemon uses it, on a
 * spool under mkdtemp: a batch sent is made durable and answered; a
 * committer killed after its commit but before its answer leaves a batch
 * that the daemon's own commit_durably() does not apply twice; it shrugs
 * off the stop signals the daemon blocks, ends at end of file, and dies
 * with its parent; a start that cannot open the spool says why; and a
 * failed directory fsync commits nothing.
 *
 * This process plays the daemon, with its own store on the spool.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "commit.h"
#include "store.h"

#define T0 1735786800000LL
#define DIRS ((1u << STATE_PENDING) | (1u << STATE_COMPLETED))

struct fixture {
	char dir[64];
	struct spool sp;
	struct store *st;
	struct committer cm;
	char err[ERRLEN];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char db[PATH_MAX];

	if (f == NULL)
		return -1;
	f->cm.fd = -1;
	strcpy(f->dir, "/tmp/test_commit.XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    spool_open(f->dir, true, &f->sp, f->err, sizeof(f->err)) < 0)
		return -1;
	snprintf(db, sizeof(db), "%s/db", f->dir);
	if (store_open(db, true, &f->st, f->err, sizeof(f->err)) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	committer_stop(&f->cm, true, NULL);
	store_close(f->st);
	spool_close(&f->sp);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
start(struct fixture *f)
{
	int rc = committer_start(&f->cm, f->dir, f->err, sizeof(f->err));

	if (rc != 0)
		fail_msg("committer_start: %d %s", rc, f->err);
	assert_true(f->cm.pid > 0);
}

/* Queue one event for job id and take it as batch seq of epoch 1. */
static struct store_batch *
batch(struct fixture *f, const char *id, uint64_t seq)
{
	struct store_batch *b;
	struct event e;

	event_init(&e);
	e.time = T0 + (int64_t)seq;
	e.type = EV_COMPLETED;
	snprintf(e.job_id, sizeof(e.job_id), "%s", id);
	strcpy(e.provider, "square");
	strcpy(e.venue, "v1");
	assert_int_equal(store_add_event(f->st, &e), 0);
	assert_int_equal(store_batch_take(f->st, 1, seq, &b), 0);
	return b;
}

static int
count_cb(const struct event *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

/* Job id's events, as this process's store reads them now. */
static int
events(struct fixture *f, const char *id)
{
	int n = 0;

	assert_int_equal(store_job_history(f->st, id, count_cb, &n), 0);
	return n;
}

/* The committer's next result, waiting up to 10 s. */
static void
result(struct fixture *f, struct commit_result *res)
{
	struct pollfd p = {.fd = f->cm.fd, .events = POLLIN};
	int rc;

	for (int i = 0; i < 100; i++) {
		rc = committer_recv(&f->cm, res);
		if (rc != -EAGAIN)
			break;
		poll(&p, 1, 100);
	}
	assert_int_equal(rc, 0);
}

/* Job id's event through the committer, as batch seq: committed. */
static void
through_committer(struct fixture *f, const char *id, uint64_t seq)
{
	struct commit_result res;
	struct store_batch *b = batch(f, id, seq);

	assert_int_equal(committer_send(&f->cm, DIRS, b), 0);
	result(f, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.seq, seq);
	assert_false(res.broken);
	/* Committed in its process, read in ours. */
	assert_int_equal(events(f, id), 1);
	store_batch_free(b);
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	char comm[32] = "";
	char path[64];
	FILE *fp;
	int status = -1;

	start(f);
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)f->cm.pid);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), fp) == NULL)
			comm[0] = '\0';
		fclose(fp);
	}
	assert_string_equal(comm, COMMITTER_NAME "\n");
	for (uint64_t seq = 1; seq <= 3; seq++) {
		char id[16];

		snprintf(id, sizeof(id), "job-%llu", (unsigned long long)seq);
		through_committer(f, id, seq);
	}
	/* Nothing else to say: it exits 0 at end of file. */
	committer_stop(&f->cm, false, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(f->cm.pid, 0);
}

/*
 * The committer commits, then is killed before the daemon reads its
 * answer: the daemon commits the same batch itself, and it counts once.
 */
static void
test_resend_after_death(void **state)
{
	struct fixture *f = *state;
	struct commit_result res;
	struct store_batch *b;
	int status = 0;

	start(f);
	b = batch(f, "once", 1);
	assert_int_equal(committer_send(&f->cm, DIRS, b), 0);
	for (int i = 0; i < 1000 && events(f, "once") == 0; i++)
		usleep(10000);
	assert_int_equal(events(f, "once"), 1);
	committer_stop(&f->cm, true, &status);
	assert_true(WIFSIGNALED(status));
	commit_durably(&f->sp, f->st, DIRS, b, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.seq, 1);
	assert_int_equal(events(f, "once"), 1);
	store_batch_free(b);
	/* The next batch is new: applied, by a new committer. */
	start(f);
	through_committer(f, "next", 2);
}

/* SIGTERM to the whole service must not end it before the last flush. */
static void
test_ignores_stop_signals(void **state)
{
	struct fixture *f = *state;
	sigset_t set, old;
	int status = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, &old), 0);
	start(f);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	assert_int_equal(kill(f->cm.pid, SIGTERM), 0);
	assert_int_equal(kill(f->cm.pid, SIGINT), 0);
	assert_int_equal(kill(f->cm.pid, SIGHUP), 0);
	through_committer(f, "after-term", 1);
	committer_stop(&f->cm, false, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A process's state letter (R, S, T, Z...), or 0. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* Its parent killed, it goes too (PR_SET_PDEATHSIG). */
static void
test_dies_with_parent(void **state)
{
	struct fixture *f = *state;
	int pfd[2], status = 0;
	pid_t mid, cpid = 0, got = 0;

	/* Orphans come to us, so that we can reap and look at them. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pfd), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		struct committer c;
		char err[ERRLEN];

		close(pfd[0]);
		if (committer_start(&c, f->dir, err, sizeof(err)) < 0)
			_exit(1);
		if (write(pfd[1], &c.pid, sizeof(c.pid)) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &cpid, sizeof(cpid)), sizeof(cpid));
	close(pfd[0]);
	assert_true(cpid > 0);
	/*
	 * Stopped, it cannot read the end of file its parent's death
	 * brings (which ends it too): only the death signal can end it,
	 * as it would in the middle of a commit.
	 */
	assert_int_equal(kill(cpid, SIGSTOP), 0);
	for (int i = 0; i < 1000 && proc_state(cpid) != 'T'; i++)
		usleep(10000);
	assert_int_equal(proc_state(cpid), 'T');
	assert_int_equal(kill(mid, SIGKILL), 0);
	assert_int_equal(waitpid(mid, &status, 0), mid);
	/* Reparented to us: reaped once it is dead, within 10 s. */
	status = 0;
	for (int i = 0; i < 1000 && (got = waitpid(cpid, &status, WNOHANG)) == 0;
	     i++)
		usleep(10000);
	if (got != cpid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		kill(cpid, SIGKILL);
		waitpid(cpid, NULL, 0);
		fail_msg("the committer outlived its parent (status %#x)",
			 status);
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

/* A committer that cannot open the spool: the start fails, saying why. */
static void
test_start_fails(void **state)
{
	struct fixture *f = *state;
	char missing[96];

	snprintf(missing, sizeof(missing), "%s/no-such-spool", f->dir);
	assert_true(committer_start(&f->cm, missing, f->err,
				    sizeof(f->err)) < 0);
	assert_int_equal(f->cm.pid, 0);
	assert_int_equal(f->cm.fd, -1);
	if (strstr(f->err, "no-such-spool") == NULL)
		fail_msg("the error does not name the spool: %s", f->err);
}

/* An fsync that fails: the step is named, and nothing is recorded. */
static void
test_fsync_failure(void **state)
{
	struct fixture *f = *state;
	struct commit_result res;
	struct store_batch *b;
	int fd = f->sp.dir_fd[STATE_PAUSED];

	b = batch(f, "unsynced", 1);
	f->sp.dir_fd[STATE_PAUSED] = -1; /* its fsync fails: EBADF */
	commit_durably(&f->sp, f->st, DIRS | (1u << STATE_PAUSED), b, &res);
	f->sp.dir_fd[STATE_PAUSED] = fd;
	assert_int_equal(res.rc, -EBADF);
	assert_int_equal(res.dir, STATE_PAUSED);
	assert_non_null(strstr(res.err, "Bad file descriptor"));
	assert_int_equal(events(f, "unsynced"), 0);
	/* The same batch, once the directory syncs. */
	commit_durably(&f->sp, f->st, DIRS | (1u << STATE_PAUSED), b, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.dir, STATE_NONE);
	assert_int_equal(events(f, "unsynced"), 1);
	store_batch_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resend_after_death, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ignores_stop_signals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dies_with_parent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

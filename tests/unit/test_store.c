/*
 * test_store.c - the LMDB store on a mkdtemp directory: counts and the
 * venue+provider index through state changes, history order and filters,
 * deletion, map growth under a tiny $SYNCSPOOL_DB_MAPSIZE with a reader
 * in another process, read-only opens, the data descriptor's
 * FD_CLOEXEC, the daemon's meta values, history ranges, pruning, and
 * batches committed elsewhere: applied once by id, checked on the wire,
 * and a second writer that finds the map grown by the first.
 *
 * The reader that must survive the writer's growth runs in a child
 * process: LMDB forbids opening one environment twice in a process, and
 * a CLI reading while the daemon writes is the case that matters. For
 * the same reason raw_open() closes the store before it opens the
 * databases themselves, to check what the read functions cannot see (an
 * index entry whose event is gone is skipped by them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store.h"

#define T0 1735786800000LL /* 2025-01-02T03:00:00Z */
#define MAXSEEN 64

struct fixture {
	char dir[64];
	struct store *st;
	char err[ERRLEN];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	unsetenv("SYNCSPOOL_DB_MAPSIZE");
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d;
	struct dirent *de;

	store_close(f->st);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(f->dir);
	unsetenv("SYNCSPOOL_DB_MAPSIZE");
	free(f);
	return 0;
}

static void
open_writer(struct fixture *f)
{
	int rc = store_open(f->dir, true, &f->st, f->err, sizeof(f->err));

	if (rc != 0)
		fail_msg("store_open: %d %s", rc, f->err);
}

static void
commit(struct fixture *f)
{
	int rc = store_commit(f->st, f->err, sizeof(f->err));

	if (rc != 0)
		fail_msg("store_commit: %d %s", rc, f->err);
	assert_int_equal(store_pending(f->st), 0);
}

static void
put_job(struct fixture *f, const char *id, const char *provider,
	const char *venue, enum job_state state, int64_t next_attempt)
{
	struct jobrec r;

	jobrec_init(&r);
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.name, sizeof(r.name), "%s.yaml", id);
	snprintf(r.provider, sizeof(r.provider), "%s", provider);
	snprintf(r.venue, sizeof(r.venue), "%s", venue);
	strcpy(r.sync_type, "full");
	r.state = state;
	r.next_attempt = next_attempt;
	assert_int_equal(store_put_job(f->st, &r), 0);
}

static void
add_event(struct fixture *f, int64_t time, enum event_type type,
	  const char *id, const char *provider, const char *venue,
	  uint32_t attempt)
{
	struct event e;

	event_init(&e);
	e.time = time;
	e.type = type;
	snprintf(e.job_id, sizeof(e.job_id), "%s", id);
	snprintf(e.provider, sizeof(e.provider), "%s", provider);
	snprintf(e.venue, sizeof(e.venue), "%s", venue);
	e.attempt = attempt;
	if (type == EV_COMPLETED) {
		e.exit_code = 0;
		e.duration_ms = 1500;
	} else if (type == EV_FAILED) {
		e.exit_code = 65;
		e.duration_ms = 200;
		strcpy(e.error, "bad venue");
	}
	assert_int_equal(store_add_event(f->st, &e), 0);
}

static void
get_stat(struct fixture *f, const char *provider, const char *venue,
	 struct vpstat *s)
{
	int rc = store_vpstat_get(f->st, provider, venue, s);

	if (rc != 0)
		fail_msg("store_vpstat_get %s/%s: %d", provider, venue, rc);
}

static void
check_counts(struct fixture *f, const char *provider, const char *venue,
	     uint64_t pending, uint64_t processing, uint64_t completed,
	     uint64_t failed, uint64_t paused)
{
	struct vpstat s;

	get_stat(f, provider, venue, &s);
	assert_int_equal(s.counts[STATE_PENDING], pending);
	assert_int_equal(s.counts[STATE_PROCESSING], processing);
	assert_int_equal(s.counts[STATE_COMPLETED], completed);
	assert_int_equal(s.counts[STATE_FAILED], failed);
	assert_int_equal(s.counts[STATE_PAUSED], paused);
}

/* What a read saw, in order. */
struct seen {
	int n;
	int stop_after;  /* 0: never stop */
	char id[MAXSEEN][ID_MAX + 1];
	uint32_t attempt[MAXSEEN];
	int64_t time[MAXSEEN];
	enum job_state state[MAXSEEN];
};

static int
seen_job(const struct jobrec *r, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < MAXSEEN);
	strcpy(s->id[s->n], r->id);
	s->state[s->n] = r->state;
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static int
seen_event(const struct event *e, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < MAXSEEN);
	strcpy(s->id[s->n], e->job_id);
	s->attempt[s->n] = e->attempt;
	s->time[s->n] = e->time;
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static void
check_ids(const struct seen *s, const char *const *want, int n)
{
	assert_int_equal(s->n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(s->id[i], want[i]);
}

static void
test_counts_follow_states(void **state)
{
	struct fixture *f = *state;
	struct vpstat s;
	struct jobrec r;

	open_writer(f);
	assert_int_equal(store_vpstat_get(f->st, "square", "v1", &s), -ENOENT);

	put_job(f, "a", "square", "v1", STATE_PENDING, 0);
	put_job(f, "b", "square", "v1", STATE_PENDING, 0);
	assert_int_equal(store_pending(f->st), 2);
	commit(f);
	check_counts(f, "square", "v1", 2, 0, 0, 0, 0);

	/* a claimed and completed, b failed, in one batch. */
	put_job(f, "a", "square", "v1", STATE_PROCESSING, 0);
	put_job(f, "a", "square", "v1", STATE_COMPLETED, 0);
	put_job(f, "b", "square", "v1", STATE_PROCESSING, 0);
	commit(f);
	check_counts(f, "square", "v1", 0, 1, 1, 0, 0);
	put_job(f, "b", "square", "v1", STATE_FAILED, 0);
	commit(f);
	check_counts(f, "square", "v1", 0, 0, 1, 1, 0);

	/* Retry, pause, a put without a state change. */
	put_job(f, "b", "square", "v1", STATE_PENDING, 0);
	put_job(f, "c", "square", "v1", STATE_PAUSED, 0);
	put_job(f, "c", "square", "v1", STATE_PAUSED, 0);
	commit(f);
	check_counts(f, "square", "v1", 1, 0, 1, 0, 1);

	/* A job whose record names another venue moves between counts. */
	put_job(f, "c", "square", "v2", STATE_PAUSED, 0);
	commit(f);
	check_counts(f, "square", "v1", 1, 0, 1, 0, 0);
	check_counts(f, "square", "v2", 0, 0, 0, 0, 1);

	/* Dropped: STATE_NONE, still known, counted as none. */
	put_job(f, "b", "square", "v1", STATE_NONE, 0);
	commit(f);
	check_counts(f, "square", "v1", 0, 0, 1, 0, 0);
	get_stat(f, "square", "v1", &s);
	assert_int_equal(s.counts[STATE_NONE], 1);
	assert_int_equal(store_job_get(f->st, "b", &r), 0);
	assert_int_equal(r.state, STATE_NONE);
	assert_string_equal(r.name, "b.yaml");
	assert_int_equal(store_job_get(f->st, "zz", &r), -ENOENT);
}

static void
test_vp_index_no_crosstalk(void **state)
{
	struct fixture *f = *state;
	static const char *const providers[] = {"sq", "square", "stripe"};
	static const char *const venues[] = {"v1", "v1x", "v2"};
	struct seen s;
	char id[ID_MAX + 1];

	open_writer(f);
	/* Two jobs per venue+provider, ids out of order; names that are
	 * prefixes of each other ("sq"/"square", "v1"/"v1x") must not mix. */
	for (int p = 0; p < 3; p++)
		for (int v = 0; v < 3; v++)
			for (int j = 1; j >= 0; j--) {
				snprintf(id, sizeof(id), "%s-%s-%d",
					 providers[p], venues[v], j);
				put_job(f, id, providers[p], venues[v],
					j ? STATE_PENDING : STATE_FAILED, 0);
			}
	commit(f);
	for (int p = 0; p < 3; p++)
		for (int v = 0; v < 3; v++) {
			char want0[ID_MAX + 1], want1[ID_MAX + 1];
			const char *want[2] = {want0, want1};

			snprintf(want0, sizeof(want0), "%s-%s-0", providers[p],
				 venues[v]);
			snprintf(want1, sizeof(want1), "%s-%s-1", providers[p],
				 venues[v]);
			memset(&s, 0, sizeof(s));
			assert_int_equal(store_vp_jobs(f->st, providers[p],
						       venues[v], seen_job, &s),
					 0);
			check_ids(&s, want, 2);
			assert_int_equal(s.state[0], STATE_FAILED);
			assert_int_equal(s.state[1], STATE_PENDING);
			check_counts(f, providers[p], venues[v], 1, 0, 0, 1, 0);
		}
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_jobs(f->st, "square", "v3", seen_job, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_vp_jobs(f->st, "sq", "", seen_job, &s), 0);
	assert_int_equal(s.n, 0);

	/* Every job, in id order, and a callback that stops. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_jobs(f->st, seen_job, &s), 0);
	assert_int_equal(s.n, 18);
	for (int i = 1; i < s.n; i++)
		assert_true(strcmp(s.id[i - 1], s.id[i]) < 0);
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	assert_int_equal(store_jobs(f->st, seen_job, &s), 0);
	assert_int_equal(s.n, 3);

	/* A job moved to another provider leaves the old index. */
	put_job(f, "sq-v1-0", "stripe", "v1", STATE_FAILED, 0);
	commit(f);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_jobs(f->st, "sq", "v1", seen_job, &s), 0);
	check_ids(&s, (const char *[]){"sq-v1-1"}, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_jobs(f->st, "stripe", "v1", seen_job, &s), 0);
	check_ids(&s, (const char *[]){"sq-v1-0", "stripe-v1-0", "stripe-v1-1"},
		  3);
	check_counts(f, "sq", "v1", 1, 0, 0, 0, 0);
	check_counts(f, "stripe", "v1", 1, 0, 0, 2, 0);
}

struct vps_seen {
	int n;
	char key[16][TOKEN_MAX + VENUE_MAX + 2];
	uint64_t pending[16];
	int64_t next_attempt[16];
};

static int
seen_vp(const char *provider, const char *venue, const struct vpstat *s,
	void *arg)
{
	struct vps_seen *v = arg;

	assert_true(v->n < 16);
	snprintf(v->key[v->n], sizeof(v->key[v->n]), "%s/%s", provider, venue);
	v->pending[v->n] = s->counts[STATE_PENDING];
	v->next_attempt[v->n] = s->next_attempt;
	v->n++;
	return 0;
}

static void
test_vpstat_last_run_and_next_attempt(void **state)
{
	struct fixture *f = *state;
	struct vpstat s;
	struct vps_seen v = {0};

	open_writer(f);
	put_job(f, "a", "square", "v1", STATE_PENDING, 0);
	put_job(f, "b", "square", "v1", STATE_PENDING, T0 + 500);
	put_job(f, "c", "square", "v1", STATE_PENDING, T0 + 300);
	put_job(f, "d", "square", "v1", STATE_FAILED, T0 + 100);
	put_job(f, "e", "square", "v2", STATE_PENDING, T0 + 50);
	add_event(f, T0, EV_QUEUED, "a", "square", "v1", 0);
	commit(f);
	get_stat(f, "square", "v1", &s);
	/* The earliest waiting retry among pending jobs only; 0 means now. */
	assert_int_equal(s.next_attempt, T0 + 300);
	assert_int_equal(s.last_run, 0);
	assert_int_equal(s.last_outcome, 0);
	assert_int_equal(s.last_success, 0);

	add_event(f, T0 + 1000, EV_STARTED, "a", "square", "v1", 1);
	add_event(f, T0 + 2500, EV_COMPLETED, "a", "square", "v1", 1);
	put_job(f, "a", "square", "v1", STATE_COMPLETED, 0);
	commit(f);
	get_stat(f, "square", "v1", &s);
	assert_int_equal(s.last_run, T0 + 2500);
	assert_int_equal(s.last_outcome, EV_COMPLETED);
	assert_int_equal(s.last_success, T0 + 2500);
	assert_int_equal(s.last_duration_ms, 1500);
	assert_int_equal(s.last_exit, 0);
	assert_string_equal(s.last_job, "a");

	add_event(f, T0 + 3000, EV_FAILED, "d", "square", "v1", 5);
	add_event(f, T0 + 3100, EV_PAUSED, "c", "square", "v1", 0);
	commit(f);
	get_stat(f, "square", "v1", &s);
	assert_int_equal(s.last_run, T0 + 3000);
	assert_int_equal(s.last_outcome, EV_FAILED);
	assert_int_equal(s.last_success, T0 + 2500);
	assert_int_equal(s.last_exit, 65);
	assert_string_equal(s.last_error, "bad venue");
	assert_string_equal(s.last_job, "d");

	/* c leaves pending: b's retry is now the earliest. */
	put_job(f, "c", "square", "v1", STATE_PAUSED, T0 + 300);
	commit(f);
	get_stat(f, "square", "v1", &s);
	assert_int_equal(s.next_attempt, T0 + 500);

	assert_int_equal(store_vps(f->st, seen_vp, &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.key[0], "square/v1");
	assert_string_equal(v.key[1], "square/v2");
	assert_int_equal(v.pending[0], 1);
	assert_int_equal(v.next_attempt[0], T0 + 500);
	assert_int_equal(v.next_attempt[1], T0 + 50);
}

static void
test_history_order_and_filters(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	open_writer(f);
	/* Interleaved venues and providers; times out of insertion order. */
	add_event(f, T0 + 30, EV_QUEUED, "j1", "square", "v1", 1);
	add_event(f, T0 + 10, EV_QUEUED, "k1", "square", "v2", 1);
	add_event(f, T0 + 10, EV_QUEUED, "m1", "stripe", "v1", 1);
	add_event(f, T0 + 10, EV_STARTED, "j0", "square", "v1", 1);
	commit(f);
	add_event(f, T0 + 40, EV_COMPLETED, "j1", "square", "v1", 2);
	add_event(f, T0 + 20, EV_QUEUED, "j2", "square", "v1", 1);
	commit(f);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_history(f->st, "square", "v1", 0,
					  seen_event, &s), 0);
	check_ids(&s, (const char *[]){"j1", "j1", "j2", "j0"}, 4);
	assert_int_equal(s.time[0], T0 + 40);
	assert_int_equal(s.time[3], T0 + 10);

	/* since: events at or after it only. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_history(f->st, "square", "v1", T0 + 20,
					  seen_event, &s), 0);
	check_ids(&s, (const char *[]){"j1", "j1", "j2"}, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_history(f->st, "square", "v1", T0 + 41,
					  seen_event, &s), 0);
	assert_int_equal(s.n, 0);

	/* A callback that stops is not an error. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(store_vp_history(f->st, "square", "v1", 0,
					  seen_event, &s), 0);
	assert_int_equal(s.n, 2);

	/* Per job, newest first; a venue+provider with nothing. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "j1", seen_event, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.attempt[0], 2);
	assert_int_equal(s.attempt[1], 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "j", seen_event, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_vp_history(f->st, "square", "v3", 0,
					  seen_event, &s), 0);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_history(f->st, "stripe", "v1", 0,
					  seen_event, &s), 0);
	check_ids(&s, (const char *[]){"m1"}, 1);

	/* Retention's view: everything older than T0+30, oldest first. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_history_before(f->st, T0 + 30, seen_event, &s),
			 0);
	check_ids(&s, (const char *[]){"k1", "m1", "j0", "j2"}, 4);
}

/* Equal times keep insertion order, within a batch, across batches and
 * across a reopen (the sequence lives in the database). */
static void
test_history_equal_times(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	open_writer(f);
	for (uint32_t i = 1; i <= 5; i++)
		add_event(f, T0, EV_STARTED, "j", "square", "v1", i);
	commit(f);
	add_event(f, T0, EV_STARTED, "j", "square", "v1", 6);
	commit(f);
	store_close(f->st);
	f->st = NULL;
	open_writer(f);
	add_event(f, T0, EV_STARTED, "j", "square", "v1", 7);
	add_event(f, T0, EV_STARTED, "j", "square", "v1", 8);
	commit(f);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_history(f->st, "square", "v1", 0,
					  seen_event, &s), 0);
	assert_int_equal(s.n, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(s.attempt[i], 8 - i);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "j", seen_event, &s), 0);
	assert_int_equal(s.n, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(s.attempt[i], 8 - i);
}

static void
test_del_job(void **state)
{
	struct fixture *f = *state;
	struct jobrec r;
	struct seen s;

	open_writer(f);
	put_job(f, "a", "square", "v1", STATE_COMPLETED, 0);
	put_job(f, "b", "square", "v1", STATE_COMPLETED, 0);
	put_job(f, "c", "square", "v1", STATE_FAILED, 0);
	add_event(f, T0, EV_COMPLETED, "a", "square", "v1", 1);
	commit(f);
	check_counts(f, "square", "v1", 0, 0, 2, 1, 0);

	assert_int_equal(store_del_job(f->st, "a"), 0);
	assert_int_equal(store_del_job(f->st, "nonexistent"), 0);
	commit(f);
	assert_int_equal(store_job_get(f->st, "a", &r), -ENOENT);
	check_counts(f, "square", "v1", 0, 0, 1, 1, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_vp_jobs(f->st, "square", "v1", seen_job, &s), 0);
	check_ids(&s, (const char *[]){"b", "c"}, 2);
	/* History stays until retention prunes it separately. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "a", seen_event, &s), 0);
	assert_int_equal(s.n, 1);

	/* Put and delete in one batch: the delete wins, counts unchanged. */
	put_job(f, "d", "square", "v1", STATE_PENDING, 0);
	assert_int_equal(store_del_job(f->st, "d"), 0);
	commit(f);
	check_counts(f, "square", "v1", 0, 0, 1, 1, 0);
	assert_int_equal(store_job_get(f->st, "d", &r), -ENOENT);

	assert_int_equal(store_del_job(f->st, ""), -EINVAL);
	assert_int_equal(store_pending(f->st), 0);
}

/* What cannot be stored is refused at once, not at commit. */
static void
test_queue_rejects(void **state)
{
	struct fixture *f = *state;
	struct jobrec r;
	struct event e;

	open_writer(f);
	jobrec_init(&r);
	assert_int_equal(store_put_job(f->st, &r), -EINVAL); /* no id */
	strcpy(r.id, "a");
	r.state = STATE_COUNT;
	assert_int_equal(store_put_job(f->st, &r), -EINVAL);
	event_init(&e);
	assert_int_equal(store_add_event(f->st, &e), -EINVAL); /* type 0 */
	e.type = EV_QUEUED;
	e.time = -1;
	assert_int_equal(store_add_event(f->st, &e), -EINVAL);
	assert_int_equal(store_pending(f->st), 0);
	/* An empty batch commits trivially. */
	commit(f);
	/* Events with no job or no provider are kept, just not indexed. */
	e.time = T0;
	e.type = EV_BREAKER_OPEN;
	strcpy(e.provider, "square");
	assert_int_equal(store_add_event(f->st, &e), 0);
	commit(f);
}

static int
count_event(const struct event *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static int
history_count(struct store *st)
{
	int n = 0;

	if (store_vp_history(st, "square", "v1", 0, count_event, &n) < 0)
		return -1;
	return n;
}

#define GROW_FIRST 10    /* events before the reader opens */
#define GROW_BATCHES 6
#define GROW_PER_BATCH 500
#define GROW_BIG 2000    /* then one batch that must grow several times */
#define GROW_TOTAL (GROW_FIRST + GROW_BATCHES * GROW_PER_BATCH + GROW_BIG)

/*
 * The child: open read-only while the map is still small, read, tell the
 * parent, wait for it to grow the map well past ours, read everything.
 * Plain checks and _exit: no cmocka in a forked child.
 */
static int
grow_child(const char *dir, int ready_fd, int go_fd)
{
	char err[ERRLEN];
	struct store *st = NULL;
	struct vpstat s;
	char c = 'r';
	int rc = 10;

	if (store_open(dir, false, &st, err, sizeof(err)) != 0)
		return 1;
	if (history_count(st) != GROW_FIRST)
		rc = 2;
	else if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
		rc = 3;
	else if (history_count(st) != GROW_TOTAL)
		rc = 4;
	else if (store_vpstat_get(st, "square", "v1", &s) != 0 ||
		 s.counts[STATE_COMPLETED] != GROW_TOTAL - GROW_FIRST)
		rc = 5;
	else
		rc = 0;
	store_close(st);
	return rc;
}

static void
grow_write(struct fixture *f, int from, int n)
{
	char id[ID_MAX + 1];

	for (int i = from; i < from + n; i++) {
		snprintf(id, sizeof(id), "job-%06d", i);
		add_event(f, T0 + i, EV_COMPLETED, id, "square", "v1", 1);
		put_job(f, id, "square", "v1", STATE_PROCESSING, 0);
		put_job(f, id, "square", "v1", STATE_COMPLETED, 0);
	}
}

static void
test_map_growth_and_resized_reader(void **state)
{
	struct fixture *f = *state;
	int ready[2], go[2], status;
	char c, path[PATH_MAX];
	struct stat sb;
	struct vpstat s;
	pid_t pid;

	setenv("SYNCSPOOL_DB_MAPSIZE", "65536", 1);
	open_writer(f);
	for (int i = 0; i < GROW_FIRST; i++)
		add_event(f, T0 + i, EV_QUEUED, "first", "square", "v1", 0);
	commit(f);
	/* Close before fork: the child must not inherit an open env. */
	store_close(f->st);
	f->st = NULL;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		_exit(grow_child(f->dir, ready[1], go[0]));
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);

	open_writer(f);
	for (int b = 0; b < GROW_BATCHES; b++) {
		grow_write(f, GROW_FIRST + b * GROW_PER_BATCH, GROW_PER_BATCH);
		commit(f);
	}
	grow_write(f, GROW_FIRST + GROW_BATCHES * GROW_PER_BATCH, GROW_BIG);
	commit(f);
	assert_int_equal(history_count(f->st), GROW_TOTAL);
	get_stat(f, "square", "v1", &s);
	assert_int_equal(s.counts[STATE_COMPLETED], GROW_TOTAL - GROW_FIRST);
	assert_int_equal(s.counts[STATE_PROCESSING], 0);

	/* The data is well past the 64 KiB the reader mapped. */
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 16 * 65536);

	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	close(go[1]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* A reopen with the tiny size adopts the grown one and goes on. */
	store_close(f->st);
	f->st = NULL;
	open_writer(f);
	grow_write(f, GROW_TOTAL, 10);
	commit(f);
	assert_int_equal(history_count(f->st), GROW_TOTAL + 10);
}

/*
 * The databases themselves, with the store closed (one environment per
 * process); raw_close() reopens the writer.
 */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static MDB_dbi
raw_dbi(struct raw *r, const char *name)
{
	MDB_dbi dbi;

	assert_int_equal(mdb_dbi_open(r->txn, name, 0, &dbi), 0);
	return dbi;
}

static void
raw_open(struct fixture *f, struct raw *r)
{
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
	assert_int_equal(mdb_env_open(r->env, f->dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, MDB_RDONLY, &r->txn), 0);
}

static void
raw_close(struct fixture *f, struct raw *r)
{
	mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
	open_writer(f);
}

/* Does key exist in dbi? */
static int
raw_has(struct raw *r, MDB_dbi dbi, const void *k, size_t klen)
{
	MDB_val key = {klen, (void *)k}, val;
	int rc = mdb_get(r->txn, dbi, &key, &val);

	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	return rc == 0;
}

/* Every entry of an index names an event in history; how many there are. */
static size_t
raw_index_count(struct raw *r, MDB_dbi idx, MDB_dbi hist)
{
	MDB_cursor *cur;
	MDB_val key, val;
	size_t n = 0;
	int rc;

	assert_int_equal(mdb_cursor_open(r->txn, idx, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		assert_true(key.mv_size > 16);
		if (!raw_has(r, hist, (char *)key.mv_data + key.mv_size - 16,
			     16))
			fail_msg("a dangling index entry (%zu bytes)",
				 key.mv_size);
		n++;
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	return n;
}

/*
 * vp_hist and job_hist index history exactly: each event has the entries
 * it was given (provider\0venue\0hkey when it has a provider, id\0hkey
 * when it has a job id) and no entry names a missing event. Returns the
 * number of events.
 */
static size_t
check_index(struct fixture *f)
{
	struct raw r;
	MDB_dbi hist, vp, job;
	MDB_cursor *cur;
	MDB_val key, val;
	unsigned char k[512];
	size_t events = 0, want_vp = 0, want_job = 0, n;
	struct event e;
	int rc;

	raw_open(f, &r);
	hist = raw_dbi(&r, "history");
	vp = raw_dbi(&r, "vp_hist");
	job = raw_dbi(&r, "job_hist");
	assert_int_equal(mdb_cursor_open(r.txn, hist, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		assert_int_equal(key.mv_size, 16);
		assert_int_equal(event_decode(val.mv_data, val.mv_size, &e), 0);
		events++;
		if (e.provider[0] != '\0') {
			n = (size_t)snprintf((char *)k, sizeof(k), "%s%c%s%c",
					     e.provider, 0, e.venue, 0);
			memcpy(k + n, key.mv_data, 16);
			assert_true(raw_has(&r, vp, k, n + 16));
			want_vp++;
		}
		if (e.job_id[0] != '\0') {
			n = (size_t)snprintf((char *)k, sizeof(k), "%s%c",
					     e.job_id, 0);
			memcpy(k + n, key.mv_data, 16);
			assert_true(raw_has(&r, job, k, n + 16));
			want_job++;
		}
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	assert_int_equal(raw_index_count(&r, vp, hist), want_vp);
	assert_int_equal(raw_index_count(&r, job, hist), want_job);
	raw_close(f, &r);
	return events;
}

static void
put_meta(struct fixture *f, const char *key, const char *val)
{
	assert_int_equal(store_put_meta(f->st, key, val, strlen(val)), 0);
}

/* key's value is want (NULL: absent). */
static void
check_meta(struct fixture *f, const char *key, const char *want)
{
	char buf[STORE_META_VAL_MAX];
	size_t len = 9999;
	int rc = store_get_meta(f->st, key, buf, sizeof(buf), &len);

	if (want == NULL) {
		assert_int_equal(rc, -ENOENT);
		return;
	}
	if (rc != 0)
		fail_msg("store_get_meta %s: %d", key, rc);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
}

static void
test_meta_put_get_delete(void **state)
{
	struct fixture *f = *state;

	open_writer(f);
	check_meta(f, "breaker/square", NULL);
	put_meta(f, "breaker/square", "open until 1735786800000");
	assert_int_equal(store_pending(f->st), 1);
	check_meta(f, "breaker/square", NULL); /* not before the commit */
	commit(f);
	check_meta(f, "breaker/square", "open until 1735786800000");
	check_meta(f, "breaker/stripe", NULL);
	check_meta(f, "breaker/squar", NULL);
	check_meta(f, "breaker/square/", NULL);

	/* Overwrite with a shorter value: the old tail is gone. */
	put_meta(f, "breaker/square", "closed");
	commit(f);
	check_meta(f, "breaker/square", "closed");

	/* len 0 deletes, NULL or not; deleting a missing key is fine. */
	assert_int_equal(store_put_meta(f->st, "breaker/square", NULL, 0), 0);
	assert_int_equal(store_put_meta(f->st, "breaker/none", "x", 0), 0);
	commit(f);
	check_meta(f, "breaker/square", NULL);
	check_meta(f, "breaker/none", NULL);

	/* In one batch the last op wins. */
	put_meta(f, "a", "1");
	assert_int_equal(store_put_meta(f->st, "a", NULL, 0), 0);
	assert_int_equal(store_put_meta(f->st, "b", NULL, 0), 0);
	put_meta(f, "b", "2");
	put_meta(f, "c", "3");
	put_meta(f, "c", "33");
	commit(f);
	check_meta(f, "a", NULL);
	check_meta(f, "b", "2");
	check_meta(f, "c", "33");

	/* The CLI reads them through a read-only open. */
	store_close(f->st);
	assert_int_equal(store_open(f->dir, false, &f->st, f->err,
				    sizeof(f->err)), 0);
	check_meta(f, "b", "2");
	check_meta(f, "a", NULL);
}

static void
test_meta_limits(void **state)
{
	static const struct {
		size_t klen;
		size_t vlen;
		bool null_val;
		int want;
	} rows[] = {
		{1, 1, false, 0},
		{STORE_META_KEY_MAX, STORE_META_VAL_MAX, false, 0},
		{STORE_META_KEY_MAX + 1, 1, false, -EINVAL},
		{0, 1, false, -EINVAL},
		{2, STORE_META_VAL_MAX + 1, false, -EINVAL},
		{3, 1, true, -EINVAL},  /* no bytes to copy */
		{4, 0, true, 0},        /* a delete */
		{STORE_META_KEY_MAX + 1, 0, true, -EINVAL},
	};
	struct fixture *f = *state;
	char key[STORE_META_KEY_MAX + 2];
	static unsigned char val[STORE_META_VAL_MAX + 1];
	unsigned char buf[STORE_META_VAL_MAX];
	size_t pending = 0, len;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (unsigned char)(i * 7);
	open_writer(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(key, 'a' + (int)i, rows[i].klen);
		key[rows[i].klen] = '\0';
		assert_int_equal(store_put_meta(f->st, key,
						rows[i].null_val ? NULL : val,
						rows[i].vlen), rows[i].want);
		pending += rows[i].want == 0;
		assert_int_equal(store_pending(f->st), pending);
	}
	commit(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		memset(key, 'a' + (int)i, rows[i].klen);
		key[rows[i].klen] = '\0';
		rc = store_get_meta(f->st, key, buf, sizeof(buf), &len);
		if (rows[i].want != 0 || rows[i].vlen == 0) {
			/* Refused, deleted, or a key that could not exist. */
			assert_int_equal(rc, -ENOENT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, rows[i].vlen);
		assert_memory_equal(buf, val, len);
	}
}

static void
test_meta_overflow(void **state)
{
	static const struct {
		size_t cap;
		bool null_buf;
		int want;
	} rows[] = {
		{10, false, 0},                   /* exactly */
		{STORE_META_VAL_MAX, false, 0},
		{9, false, -EOVERFLOW},
		{1, false, -EOVERFLOW},
		{0, true, -EOVERFLOW},            /* asking the size */
	};
	struct fixture *f = *state;
	unsigned char buf[STORE_META_VAL_MAX];
	size_t len;

	open_writer(f);
	put_meta(f, "breaker/square", "0123456789");
	commit(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(buf, 0xaa, sizeof(buf));
		len = 0;
		assert_int_equal(store_get_meta(f->st, "breaker/square",
						rows[i].null_buf ? NULL : buf,
						rows[i].cap, &len),
				 rows[i].want);
		assert_int_equal(len, 10); /* the length needed, either way */
		if (rows[i].want == 0) {
			assert_memory_equal(buf, "0123456789", 10);
			assert_int_equal(buf[10], 0xaa);
		} else {
			assert_int_equal(buf[0], 0xaa); /* untouched */
		}
	}
}

/* A key of the daemon's can neither read nor overwrite the store's own. */
static void
test_meta_no_collision(void **state)
{
	struct fixture *f = *state;
	unsigned char version = 0;
	struct raw r;
	MDB_dbi meta;
	MDB_val k = {6, "format"}, v;
	struct seen s;

	open_writer(f);
	add_event(f, T0, EV_QUEUED, "j", "square", "v1", 1);
	commit(f); /* "format" and "seq" exist now */
	check_meta(f, "format", NULL);
	check_meta(f, "seq", NULL);

	/* Values that would break the store if they landed on its keys:
	 * "seq" must be 8 bytes, "format" one byte equal to RECORD_VERSION. */
	put_meta(f, "format", "xx");
	put_meta(f, "seq", "abc");
	put_meta(f, "u:seq", "nested");
	commit(f);
	add_event(f, T0, EV_QUEUED, "j", "square", "v1", 2);
	commit(f);
	/* A reopen checks the format. */
	store_close(f->st);
	f->st = NULL;
	open_writer(f);
	add_event(f, T0, EV_QUEUED, "j", "square", "v1", 3);
	commit(f);
	check_meta(f, "format", "xx");
	check_meta(f, "seq", "abc");
	check_meta(f, "u:seq", "nested");
	/* The sequence went on: equal times in the order added. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "j", seen_event, &s), 0);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(s.attempt[i], 3 - i);

	/* And in the database, side by side. */
	raw_open(f, &r);
	meta = raw_dbi(&r, "meta");
	assert_int_equal(mdb_get(r.txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, 1);
	memcpy(&version, v.mv_data, 1);
	assert_int_equal(version, RECORD_VERSION);
	k = (MDB_val){3, "seq"};
	assert_int_equal(mdb_get(r.txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, 8);
	k = (MDB_val){8, "u:format"};
	assert_int_equal(mdb_get(r.txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, 2);
	raw_close(f, &r);
}

static void
test_history_range(void **state)
{
	/* attempt i+1 is event i; events 1-3 share a millisecond. */
	static const int64_t times[] = {
		T0 + 10, T0 + 20, T0 + 20, T0 + 20, T0 + 30, T0 + 40,
	};
	static const struct {
		int64_t from, before;
		int stop_after;
		int n;
		uint32_t want[6];
	} rows[] = {
		{0, INT64_MAX, 0, 6, {1, 2, 3, 4, 5, 6}},
		{T0 + 10, T0 + 40, 0, 5, {1, 2, 3, 4, 5}}, /* before excluded */
		{T0 + 20, T0 + 30, 0, 3, {2, 3, 4}},       /* from included */
		{T0 + 15, T0 + 25, 0, 3, {2, 3, 4}},       /* bounds between */
		{T0 + 20, T0 + 21, 0, 3, {2, 3, 4}},       /* one millisecond */
		{T0 + 21, T0 + 30, 0, 0, {0}},             /* none inside */
		{T0 + 20, T0 + 20, 0, 0, {0}},             /* from == before */
		{T0 + 30, T0 + 20, 0, 0, {0}},             /* inverted */
		{T0 + 41, INT64_MAX, 0, 0, {0}},     /* after the newest */
		{0, T0 + 10, 0, 0, {0}},             /* before the oldest */
		{-5, T0 + 11, 0, 1, {1}},            /* negative from: 0 */
		{INT64_MIN, INT64_MIN, 0, 0, {0}},
		{T0 + 20, INT64_MAX, 2, 2, {2, 3}},  /* the callback stops */
		{T0 + 20, INT64_MAX, 1, 1, {2}},
	};
	struct fixture *f = *state;
	struct seen s;

	open_writer(f);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_history_range(f->st, 0, INT64_MAX, seen_event,
					     &s), 0);
	assert_int_equal(s.n, 0);
	/* Newest first, in two batches: key order is time order. */
	for (int i = 5; i >= 4; i--)
		add_event(f, times[i], EV_QUEUED, "j", "square", "v1",
			  (uint32_t)i + 1);
	commit(f);
	for (int i = 0; i < 4; i++)
		add_event(f, times[i], EV_QUEUED, "j", "square", "v1",
			  (uint32_t)i + 1);
	commit(f);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.stop_after = rows[i].stop_after;
		assert_int_equal(store_history_range(f->st, rows[i].from,
						     rows[i].before,
						     seen_event, &s), 0);
		if (s.n != rows[i].n)
			fail_msg("row %zu: %d events, want %d", i, s.n,
				 rows[i].n);
		for (int j = 0; j < s.n; j++) {
			assert_int_equal(s.attempt[j], rows[i].want[j]);
			assert_int_equal(s.time[j], times[rows[i].want[j] - 1]);
		}
	}

	/* Resuming at the time it stopped sees that millisecond again. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_history_range(f->st, T0 + 20, T0 + 40,
					     seen_event, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.attempt[0], 2);
	assert_int_equal(s.attempt[3], 5);
}

static void
test_history_oldest(void **state)
{
	struct fixture *f = *state;
	int64_t t = 42;

	open_writer(f);
	assert_int_equal(store_history_oldest(f->st, &t), -ENOENT);
	assert_int_equal(t, 42);
	put_job(f, "a", "square", "v1", STATE_PENDING, 0);
	commit(f);
	assert_int_equal(store_history_oldest(f->st, &t), -ENOENT);

	add_event(f, T0 + 50, EV_QUEUED, "a", "square", "v1", 1);
	commit(f);
	assert_int_equal(store_history_oldest(f->st, &t), 0);
	assert_int_equal(t, T0 + 50);
	/* An older event added later is the oldest; time 0 is a time. */
	add_event(f, T0 + 5, EV_QUEUED, "b", "square", "v1", 1);
	commit(f);
	assert_int_equal(store_history_oldest(f->st, &t), 0);
	assert_int_equal(t, T0 + 5);
	add_event(f, 0, EV_RECOVERED, "", "", "", 0);
	commit(f);
	assert_int_equal(store_history_oldest(f->st, &t), 0);
	assert_int_equal(t, 0);

	store_close(f->st);
	assert_int_equal(store_open(f->dir, false, &f->st, f->err,
				    sizeof(f->err)), 0);
	t = 42;
	assert_int_equal(store_history_oldest(f->st, &t), 0);
	assert_int_equal(t, 0);
}

/*
 * Events of every shape the indexes care about: with provider and job,
 * provider only (a breaker), job only (a file too broken to name a
 * provider), neither, and an empty venue. Event i has attempt i + 1.
 * Times never decrease, so key order is index order.
 */
static const struct prune_ev {
	int64_t dt;
	const char *job, *provider, *venue;
	enum event_type type;
} prune_evs[] = {
	{0, "j1", "square", "v1", EV_COMPLETED},
	{10, "j2", "square", "v1", EV_QUEUED},
	{10, "", "square", "v1", EV_BREAKER_OPEN},
	{10, "j3", "", "", EV_INVALID},
	{20, "", "", "", EV_RECOVERED},
	{20, "j1", "square", "", EV_QUEUED},
	{30, "j1", "stripe", "v2", EV_STARTED},
	{40, "j2", "square", "v1", EV_FAILED},
	{50, "j3", "square", "v1", EV_QUEUED},
};
#define PRUNE_N ((int)(sizeof(prune_evs) / sizeof(prune_evs[0])))

/* What the index reads must return once events [0, first) are gone. */
static void
check_pruned(struct fixture *f, int first)
{
	static const char *const vps[][2] = {
		{"square", "v1"}, {"square", ""}, {"stripe", "v2"},
	};
	static const char *const jobs[] = {"j1", "j2", "j3"};
	struct seen s;
	int n;

	/* All of history, oldest first. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_history_range(f->st, 0, INT64_MAX, seen_event,
					     &s), 0);
	assert_int_equal(s.n, PRUNE_N - first);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.attempt[i], first + i + 1);
	/* Per venue+provider and per job, newest first. */
	for (size_t v = 0; v < sizeof(vps) / sizeof(vps[0]); v++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(store_vp_history(f->st, vps[v][0], vps[v][1],
						  0, seen_event, &s), 0);
		n = 0;
		for (int i = PRUNE_N - 1; i >= first; i--)
			if (strcmp(prune_evs[i].provider, vps[v][0]) == 0 &&
			    strcmp(prune_evs[i].venue, vps[v][1]) == 0)
				assert_int_equal(s.attempt[n++], i + 1);
		assert_int_equal(s.n, n);
	}
	for (size_t j = 0; j < sizeof(jobs) / sizeof(jobs[0]); j++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(store_job_history(f->st, jobs[j], seen_event,
						   &s), 0);
		n = 0;
		for (int i = PRUNE_N - 1; i >= first; i--)
			if (strcmp(prune_evs[i].job, jobs[j]) == 0)
				assert_int_equal(s.attempt[n++], i + 1);
		assert_int_equal(s.n, n);
	}
	assert_int_equal(check_index(f), PRUNE_N - first);
}

static void
test_prune_history(void **state)
{
	/* Applied in order; first: the index of the oldest event left. */
	static const struct {
		int64_t before;
		size_t max;
		int first;
	} steps[] = {
		{T0 + 10, 5, 1},    /* only one is older than T0+10 */
		{T0 + 30, 3, 4},    /* the three of T0+10, in the order added */
		{T0 + 30, 10, 6},   /* the two of T0+20; T0+30 is not older */
		{T0 + 30, 10, 6},   /* nothing older is left */
		{0, 5, 6},          /* nothing is older than the epoch */
		{T0 + 100, 2, 8},
		{INT64_MAX, 1, 9},  /* the last one */
		{INT64_MAX, 5, 9},  /* an empty history */
	};
	struct fixture *f = *state;
	struct vpstat before, after;
	int64_t t;

	open_writer(f);
	/* The newer half first, so key order is not the order added. */
	for (int b = 0; b < 2; b++) {
		for (int i = b ? 0 : 4; i < (b ? 4 : PRUNE_N); i++)
			add_event(f, T0 + prune_evs[i].dt, prune_evs[i].type,
				  prune_evs[i].job, prune_evs[i].provider,
				  prune_evs[i].venue, (uint32_t)i + 1);
		commit(f);
	}
	put_job(f, "j1", "square", "v1", STATE_COMPLETED, 0);
	commit(f);
	check_pruned(f, 0);
	/* The last outcome added (event 0, in the second batch). */
	get_stat(f, "square", "v1", &before);
	assert_int_equal(before.last_success, T0);
	assert_int_equal(before.last_run, T0);

	assert_int_equal(store_prune_history(f->st, T0 + 100, 0), -EINVAL);
	assert_int_equal(store_pending(f->st), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(store_prune_history(f->st, steps[i].before,
						     steps[i].max), 0);
		assert_int_equal(store_pending(f->st), 1);
		commit(f);
		check_pruned(f, steps[i].first);
		if (steps[i].first == PRUNE_N) {
			assert_int_equal(store_history_oldest(f->st, &t),
					 -ENOENT);
		} else {
			assert_int_equal(store_history_oldest(f->st, &t), 0);
			assert_int_equal(t, T0 + prune_evs[steps[i].first].dt);
		}
	}
	/* vp_stat summarises; pruning the events it came from keeps it. */
	get_stat(f, "square", "v1", &after);
	assert_int_equal(after.last_success, before.last_success);
	assert_int_equal(after.last_run, before.last_run);
	assert_int_equal(after.last_outcome, EV_COMPLETED);
	assert_string_equal(after.last_job, "j1");
	assert_int_equal(after.counts[STATE_COMPLETED], 1);
}

static off_t
data_size(struct fixture *f)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/*
 * A prune in one batch with events, jobs, a delete and a meta value,
 * big enough to fill the tiny map: the batch is replayed after the map
 * grows and each prune deletes what it would have the first time. The
 * prunes see the ops queued before them and not those after.
 */
static void
test_prune_replay_after_map_full(void **state)
{
	struct fixture *f = *state;
	char id[ID_MAX + 1];
	struct jobrec r;
	struct seen s;
	int64_t t;
	int n = 0;

	setenv("SYNCSPOOL_DB_MAPSIZE", "65536", 1);
	open_writer(f);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "old-%02d", i);
		add_event(f, T0 + i, EV_COMPLETED, id, "square", "v1", 1);
	}
	put_job(f, "gone", "square", "v1", STATE_COMPLETED, 0);
	commit(f);
	assert_true(data_size(f) <= 65536);

	add_event(f, T0 - 5, EV_QUEUED, "older", "square", "v1", 1);
	/* "older" and old-00 .. old-23 */
	assert_int_equal(store_prune_history(f->st, T0 + 30, 25), 0);
	put_meta(f, "breaker/square", "open");
	assert_int_equal(store_del_job(f->st, "gone"), 0);
	grow_write(f, 1000, GROW_BIG);
	add_event(f, T0 - 1, EV_QUEUED, "late", "square", "v1", 1);
	/* "late" (queued before it), old-24, old-25 */
	assert_int_equal(store_prune_history(f->st, T0 + 30, 3), 0);
	commit(f);
	/* The map grew during that one commit, so the batch was replayed. */
	assert_true(data_size(f) > 65536);

	assert_int_equal(store_history_oldest(f->st, &t), 0);
	assert_int_equal(t, T0 + 26);
	assert_int_equal(store_history_range(f->st, 0, INT64_MAX, count_event,
					     &n), 0);
	assert_int_equal(n, 14 + GROW_BIG);
	assert_int_equal(history_count(f->st), 14 + GROW_BIG);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "old-%02d", i);
		memset(&s, 0, sizeof(s));
		assert_int_equal(store_job_history(f->st, id, seen_event, &s),
				 0);
		assert_int_equal(s.n, i >= 26);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, "older", seen_event, &s), 0);
	assert_int_equal(store_job_history(f->st, "late", seen_event, &s), 0);
	assert_int_equal(s.n, 0);
	check_meta(f, "breaker/square", "open");
	assert_int_equal(store_job_get(f->st, "gone", &r), -ENOENT);
	check_counts(f, "square", "v1", 0, 0, GROW_BIG, 0, 0);
	assert_int_equal(check_index(f), 14 + GROW_BIG);
}

static void
test_readonly_without_database(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)f; /* must be reset to NULL */
	DIR *d;
	struct dirent *de;
	int entries = 0;

	assert_int_equal(store_open(f->dir, false, &st, f->err,
				    sizeof(f->err)), -ENOENT);
	assert_null(st);
	assert_non_null(strstr(f->err, "no database in"));
	assert_non_null(strstr(f->err, f->dir));
	assert_non_null(strstr(f->err, "syncspoold creates it"));
	/* And it left nothing behind (no lock file). */
	d = opendir(f->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 0);

	/* A writable open of a missing directory is the caller's mkdir. */
	assert_int_equal(store_open("/nonexistent/db", true, &st, f->err,
				    sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "/nonexistent/db"));
}

/* Every descriptor on a file of the environment is close-on-exec. */
static int
check_lmdb_fds_cloexec(const char *dir)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char link[PATH_MAX], target[PATH_MAX];
	int found = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, dir, strlen(dir)) != 0)
			continue;
		found++;
		if ((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0)
			fail_msg("fd %d (%s) lacks FD_CLOEXEC", fd, target);
	}
	closedir(d);
	return found;
}

static void
test_fds_cloexec(void **state)
{
	struct fixture *f = *state;

	open_writer(f);
	put_job(f, "a", "square", "v1", STATE_PENDING, 0);
	commit(f);
	/* data.mdb and lock.mdb at least. */
	assert_true(check_lmdb_fds_cloexec(f->dir) >= 2);
	store_close(f->st);
	f->st = NULL;

	assert_int_equal(store_open(f->dir, false, &f->st, f->err,
				    sizeof(f->err)), 0);
	assert_true(check_lmdb_fds_cloexec(f->dir) >= 2);
}

/* A database written by another format is refused, with the way out. */
static void
test_other_format(void **state)
{
	struct fixture *f = *state;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	unsigned char two = RECORD_VERSION + 1;
	MDB_val k = {6, "format"}, v = {1, &two};
	struct store *st = NULL;

	open_writer(f);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(store_open(f->dir, true, &st, f->err, sizeof(f->err)),
			 -EPROTO);
	assert_non_null(strstr(f->err, "format"));
	assert_int_equal(store_open(f->dir, false, &st, f->err,
				    sizeof(f->err)), -EPROTO);
	assert_null(st);
}

static void
test_bad_mapsize(void **state)
{
	struct fixture *f = *state;

	setenv("SYNCSPOOL_DB_MAPSIZE", "64k", 1);
	assert_int_equal(store_open(f->dir, true, &f->st, f->err,
				    sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "SYNCSPOOL_DB_MAPSIZE"));
	/* Smaller than LMDB can even start in: the open grows it. */
	setenv("SYNCSPOOL_DB_MAPSIZE", "1", 1);
	open_writer(f);
	put_job(f, "a", "square", "v1", STATE_PENDING, 0);
	commit(f);
	check_counts(f, "square", "v1", 1, 0, 0, 0, 0);
}

/* ---- batches committed elsewhere: ids, and the wire ---- */

/* Events for job id in history, through job_hist. */
static int
job_events(struct fixture *f, const char *id)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_job_history(f->st, id, seen_event, &s), 0);
	return s.n;
}

/* Take what is queued as batch (epoch, seq) and commit it. */
static void
take_commit(struct fixture *f, uint64_t epoch, uint64_t seq)
{
	struct store_batch *b;
	int rc;

	assert_int_equal(store_batch_take(f->st, epoch, seq, &b), 0);
	assert_int_equal(store_pending(f->st), 0);
	assert_int_equal(store_batch_seq(b), seq);
	rc = store_batch_commit(f->st, b, f->err, sizeof(f->err));
	if (rc != 0)
		fail_msg("store_batch_commit: %d %s", rc, f->err);
	store_batch_free(b);
}

/*
 * Each row commits a batch holding one event for its own job: applied
 * unless its id, or a later seq of its epoch, was committed before. A
 * batch committed again (a committer died before it answered) is the
 * case that matters; other epochs are other daemons.
 */
static void
test_batch_applied_once(void **state)
{
	static const struct {
		uint64_t epoch, seq;
		bool applied;
	} rows[] = {
		{7, 1, true},
		{7, 1, false},  /* the same batch again */
		{7, 2, true},
		{7, 2, false},
		{9, 1, true},   /* another daemon: its own numbers */
		{9, 5, true},   /* a gap is fine */
		{9, 3, false},  /* older than the last of its epoch */
		{7, 3, true},   /* back to the first epoch: it was replaced */
		{7, 3, false},
		/*
		 * Only the last id is kept: a batch goes again only from
		 * the daemon that made it, before it makes the next.
		 */
		{9, 2, true},
	};
	struct fixture *f = *state;
	char id[ID_MAX + 1];
	int total = 0;

	open_writer(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(id, sizeof(id), "job-%zu", i);
		add_event(f, T0 + (int64_t)i, EV_QUEUED, id, "square", "v1", 1);
		put_job(f, id, "square", "v1", STATE_PENDING, 0);
		take_commit(f, rows[i].epoch, rows[i].seq);
		total += rows[i].applied;
		if (job_events(f, id) != rows[i].applied)
			fail_msg("row %zu (epoch %llu seq %llu): applied %d, "
				 "want %d", i, (unsigned long long)rows[i].epoch,
				 (unsigned long long)rows[i].seq,
				 job_events(f, id), rows[i].applied);
	}
	assert_int_equal(history_count(f->st), total);
	check_counts(f, "square", "v1", (uint64_t)total, 0, 0, 0, 0);
	/* A plain store_commit() neither looks at nor moves the id. */
	add_event(f, T0 + 100, EV_QUEUED, "plain", "square", "v1", 1);
	commit(f);
	assert_int_equal(job_events(f, "plain"), 1);
	add_event(f, T0 + 101, EV_QUEUED, "again", "square", "v1", 1);
	take_commit(f, 9, 2);
	assert_int_equal(job_events(f, "again"), 0);
}

/* Changes queued after a take are the next batch's, not this one's. */
static void
test_batch_take_splits(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b1, *b2;

	open_writer(f);
	add_event(f, T0, EV_QUEUED, "one", "square", "v1", 1);
	put_job(f, "one", "square", "v1", STATE_PENDING, 0);
	assert_int_equal(store_batch_take(f->st, 3, 1, &b1), 0);
	assert_int_equal(store_batch_ops(b1), 2);
	put_job(f, "one", "square", "v1", STATE_PROCESSING, 0);
	add_event(f, T0 + 1, EV_STARTED, "one", "square", "v1", 1);
	assert_int_equal(store_pending(f->st), 2);
	/* Nothing queued: a batch of no ops still commits (dirs only). */
	assert_int_equal(store_batch_take(f->st, 3, 2, &b2), 0);
	assert_int_equal(store_batch_ops(b2), 2);
	assert_int_equal(store_batch_commit(f->st, b1, f->err, sizeof(f->err)),
			 0);
	check_counts(f, "square", "v1", 1, 0, 0, 0, 0);
	assert_int_equal(store_batch_commit(f->st, b2, f->err, sizeof(f->err)),
			 0);
	check_counts(f, "square", "v1", 0, 1, 0, 0, 0);
	assert_int_equal(job_events(f, "one"), 2);
	store_batch_free(b1);
	store_batch_free(b2);
	assert_int_equal(store_batch_take(f->st, 3, 3, &b1), 0);
	assert_int_equal(store_batch_ops(b1), 0);
	assert_int_equal(store_batch_commit(f->st, b1, f->err, sizeof(f->err)),
			 0);
	store_batch_free(b1);
}

/*
 * The wire, as store.c writes it (white box: the corruptions below need
 * its offsets): a header, then each op (kind, offset, length), then the
 * arena.
 */
struct wire_hdr {
	uint32_t magic;
	uint32_t pad;
	uint64_t epoch, seq, nops, arena_len;
};
struct wire_op {
	uint32_t kind;
	uint32_t pad;
	uint64_t off, len;
};

/* A two-op batch's bytes, as sent. */
static size_t
wire_bytes(struct fixture *f, unsigned char *buf, size_t cap)
{
	struct store_batch *b;
	size_t len;
	int sv[2];
	ssize_t n;

	add_event(f, T0, EV_QUEUED, "w", "square", "v1", 1);
	put_job(f, "w", "square", "v1", STATE_PENDING, 0);
	assert_int_equal(store_batch_take(f->st, 5, 1, &b), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	assert_int_equal(store_batch_send(sv[0], b), 0);
	close(sv[0]);
	for (len = 0; (n = read(sv[1], buf + len, cap - len)) > 0;)
		len += (size_t)n;
	assert_int_equal(n, 0);
	assert_true(len > sizeof(struct wire_hdr) + 2 * sizeof(struct wire_op));
	close(sv[1]);
	store_batch_free(b);
	return len;
}

/* store_batch_recv() of len bytes of buf, then end of file. */
static int
wire_recv(struct fixture *f, const unsigned char *buf, size_t len,
	  struct store_batch **out)
{
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	assert_int_equal(write(sv[0], buf, len), (ssize_t)len);
	close(sv[0]);
	f->err[0] = '\0';
	rc = store_batch_recv(sv[1], out, f->err, sizeof(f->err));
	close(sv[1]);
	return rc;
}

static void
test_batch_wire(void **state)
{
	enum { MAGIC, NOPS, ARENA, KIND, OFF, LEN, PRUNE_LEN, TRAIL, CUT,
	       EMPTY };
	static const struct {
		int how;
		int rc;
		const char *says;
	} rows[] = {
		{MAGIC, -EPROTO, "not a batch"},
		{NOPS, -EPROTO, "not a batch"},      /* past the bound */
		{ARENA, -EPROTO, "not a batch"},
		{KIND, -EPROTO, "op 1 is malformed"},
		{OFF, -EPROTO, "op 1 is malformed"}, /* not after op 0 */
		{LEN, -EPROTO, "op 1 is malformed"}, /* past the arena */
		{PRUNE_LEN, -EPROTO, "op 0 is malformed"},
		{TRAIL, -EPROTO, "bytes past its ops"},
		{CUT, -EPIPE, "reading a batch"},    /* the sender died */
		{EMPTY, -ENODATA, ""},               /* it closed between */
	};
	struct fixture *f = *state;
	unsigned char good[4 * RECORD_MAX], buf[sizeof(good)];
	struct wire_hdr *h = (struct wire_hdr *)buf;
	struct wire_op *op = (struct wire_op *)(buf + sizeof(*h));
	struct store_batch *b = NULL;
	size_t len;

	open_writer(f);
	len = wire_bytes(f, good, sizeof(good));
	/* As it came: committed on the other side, the same as here. */
	assert_int_equal(wire_recv(f, good, len, &b), 0);
	assert_int_equal(store_batch_ops(b), 2);
	assert_int_equal(store_batch_seq(b), 1);
	assert_int_equal(store_batch_commit(f->st, b, f->err, sizeof(f->err)),
			 0);
	store_batch_free(b);
	assert_int_equal(job_events(f, "w"), 1);
	check_counts(f, "square", "v1", 1, 0, 0, 0, 0);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = len;

		memcpy(buf, good, len);
		switch (rows[i].how) {
		case MAGIC: h->magic ^= 1; break;
		case NOPS: h->nops = 1u << 30; break;
		case ARENA: h->arena_len = 1ull << 40; break;
		case KIND: op[1].kind = 99; break;
		case OFF: op[1].off += 1; break;
		case LEN: op[1].len += 1; break;
		case PRUNE_LEN: op[0].kind = 4; break; /* OP_PRUNE_HISTORY */
		case TRAIL: op[1].len -= 1; break;
		case CUT: n = len - 10; break;
		case EMPTY: n = 0; break;
		}
		b = (struct store_batch *)f; /* must come back NULL */
		if (wire_recv(f, buf, n, &b) != rows[i].rc)
			fail_msg("row %zu: want %d (%s)", i, rows[i].rc, f->err);
		assert_null(b);
		if (strstr(f->err, rows[i].says) == NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, f->err,
				 rows[i].says);
	}
}

/*
 * Two writers of one environment, one process each, as the daemon and
 * its committer: one grows the map far past the other's, and the other
 * then writes (adopting the size) and reads it all.
 */
static void
test_second_writer_adopts_grown_map(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	setenv("SYNCSPOOL_DB_MAPSIZE", "65536", 1);
	open_writer(f);
	add_event(f, T0, EV_QUEUED, "first", "square", "v1", 0);
	commit(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A child has its own environment: the parent's is not ours. */
		struct fixture c = *f;

		if (store_open(c.dir, true, &c.st, c.err, sizeof(c.err)) != 0)
			_exit(2);
		for (int i = 0; i < 3000; i++) {
			struct event e;

			event_init(&e);
			e.time = T0 + 1 + i;
			e.type = EV_QUEUED;
			snprintf(e.job_id, sizeof(e.job_id), "grow-%d", i);
			strcpy(e.provider, "square");
			strcpy(e.venue, "v1");
			if (store_add_event(c.st, &e) != 0)
				_exit(3);
		}
		_exit(store_commit(c.st, c.err, sizeof(c.err)) == 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	add_event(f, T0 + 5000, EV_QUEUED, "last", "square", "v1", 0);
	commit(f);
	assert_int_equal(history_count(f->st), 3002);
	assert_int_equal(job_events(f, "last"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts_follow_states,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_vp_index_no_crosstalk,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_vpstat_last_run_and_next_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_order_and_filters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_equal_times,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_rejects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_map_growth_and_resized_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_without_database,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_cloexec, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_other_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_mapsize, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_meta_put_get_delete,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_meta_overflow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_meta_no_collision, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_history_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_history_oldest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prune_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_prune_replay_after_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_applied_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_take_splits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_wire, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_second_writer_adopts_grown_map, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store.c - the LMDB environment in spool/db: the status index and the
 * sync history. See store.h for the databases and the contract.
 *
 * Keys. A history key is HKEY_LEN bytes: the event's time in ms and a
 * sequence number, both u64 big-endian, so that byte order is time order
 * and two events of the same millisecond keep the order they were added
 * in. The sequence is a counter in meta ("seq"), read and advanced inside
 * the write transaction, so a replayed batch gets the same keys and no
 * key is ever reused. Index keys put NUL-terminated names before it:
 *   vp_jobs   provider \0 venue \0 id
 *   vp_hist   provider \0 venue \0 hkey
 *   job_hist  id \0 hkey
 *   vp_stat   provider \0 venue
 *   meta      "format", "seq", and STORE_META_USER key for store_put_meta()
 * Names never hold a NUL, so a "provider\0venue\0" prefix matches that
 * venue+provider and nothing else. An event is indexed in vp_hist only
 * when it has a provider and in job_hist only when it has a job id; the
 * store_key_*_hist() helpers build those keys both for store_apply_event()
 * and for store_apply_prune(), so a prune deletes exactly what was put.
 *
 * Invariants kept by store_commit(), for every job record with a
 * non-empty provider (a file too broken to name one is kept in jobs and
 * history but indexed under no venue+provider):
 *   - vp_jobs holds exactly one key for it, under its record's provider
 *     and venue, whose one-byte value is its record's state;
 *   - it is counted once, in that venue+provider's vp_stat counts[state].
 * So a count never goes below zero; store_stat_add() asserts that and
 * clamps in a release build.
 *
 * Transactions. Only one is open at a time in this process (st->busy), as
 * LMDB requires of a thread without MDB_NOTLS, and no function returns
 * with one open: a read transaction holds a reader slot and pins old
 * pages, so it is always aborted before the function returns. This is
 * also what lets mdb_env_set_mapsize() run between transactions.
 */
#include <assert.h>
#include <errno.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lmdb.h>

#include "store.h"

enum store_db {
	DB_JOBS,
	DB_HISTORY,
	DB_VP_JOBS,
	DB_VP_HIST,
	DB_JOB_HIST,
	DB_VP_STAT,
	DB_META,
	DB_COUNT
};

static const char *const store_db_names[DB_COUNT] = {
	[DB_JOBS] = "jobs",
	[DB_HISTORY] = "history",
	[DB_VP_JOBS] = "vp_jobs",
	[DB_VP_HIST] = "vp_hist",
	[DB_JOB_HIST] = "job_hist",
	[DB_VP_STAT] = "vp_stat",
	[DB_META] = "meta",
};

#define HKEY_LEN 16
/*
 * Room for the longest key, "provider\0venue\0id", or a history index
 * prefix plus a seek past its hkeys. LMDB's limit (511) is far above it.
 */
#define STORE_KEY_MAX \
	(TOKEN_MAX + 1 + VENUE_MAX + 1 + ID_MAX + 1 + HKEY_LEN + 1)
#define STORE_FILE_MODE 0660 /* readers (the CLI) write the lock file too */

/*
 * The daemon's meta values (store_put_meta()) are kept in meta under this
 * prefix. The store's own keys ("format", "seq") do not begin with it,
 * and a new one must not either: then no key a caller passes can reach
 * them, whatever it spells.
 */
#define STORE_META_USER "u:"
#define STORE_META_USER_LEN 2
_Static_assert(STORE_META_USER_LEN + STORE_META_KEY_MAX <= STORE_KEY_MAX,
	       "a meta key fits in a struct store_key");

/*
 * The batch: ops in queue order, each naming its bytes in one arena. A
 * put or an event is kept encoded (a few hundred bytes, where a struct
 * event is 4.7 KiB), which also proves at queue time that it encodes; a
 * delete keeps the id with its NUL; a meta value its key with its NUL and
 * then its bytes (none: delete the key); a prune its struct store_prune.
 * An op holds all it needs, and applying it changes nothing in the
 * batch, so a replay after MDB_MAP_FULL applies it the same way again.
 * A batch that grew past
 * STORE_BATCH_KEEP bytes is freed after its commit, so a big start-up
 * reconcile does not pin its memory for the daemon's lifetime.
 */
enum store_op_kind {
	OP_PUT_JOB,
	OP_ADD_EVENT,
	OP_DEL_JOB,
	OP_PUT_META,
	OP_PRUNE_HISTORY
};

struct store_op {
	enum store_op_kind kind;
	size_t off; /* into the arena */
	size_t len;
};

/* OP_PRUNE_HISTORY's bytes: copied in and out whole (no alignment). */
struct store_prune {
	int64_t before; /* events with a time older than this */
	uint64_t max;   /* at most this many, oldest first; never 0 */
};

#define STORE_BATCH_KEEP (1024 * 1024)

/*
 * A batch: the store's own queue, or one taken out of it (store_batch_take())
 * under an id (epoch, seq) that its commit records in meta ("batch").
 */
struct store_batch {
	struct store_op *ops;
	size_t nops;
	size_t cap;
	unsigned char *arena;
	size_t arena_len;
	size_t arena_cap;
	bool has_id;
	uint64_t epoch;
	uint64_t seq;
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	bool writable;
	bool busy;   /* a transaction of ours is open */
	bool broken; /* a remap failed: LMDB has no map; only close is safe */
	struct store_batch q; /* the changes queued since the last commit */
	unsigned char buf[RECORD_MAX]; /* vpstat encoding scratch */
	void *map_lo;                  /* the data file's mapping, for */
	size_t map_len, map_size;      /* store_trim(); map_size it was for */
};

/* One write (or, at open, read) transaction and where its errors go. */
struct store_txn {
	struct store *st;
	const struct store_batch *b; /* what store_apply_batch() applies */
	MDB_txn *txn;
	int mdb_rc; /* the LMDB error that failed it, to spot MDB_MAP_FULL */
	char *err;
	size_t errlen;
};

struct store_key {
	unsigned char b[STORE_KEY_MAX];
	size_t len;
};

static const unsigned char store_empty[1];

static int
store_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc == MDB_MAP_FULL)
		return -ENOSPC;
	if (rc > 0)
		return -rc; /* a system errno: EACCES, ENOSPC, ENOMEM, EIO... */
	return -EIO;
}

static MDB_val
store_val(const void *p, size_t n)
{
	MDB_val v = {.mv_size = n, .mv_data = (void *)p};

	return v;
}

/* Append s and, when nul, its terminator; -ENOENT when s exceeds max. */
static int
store_key_add(struct store_key *k, const char *s, size_t max, bool nul)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return -ENOENT; /* longer than any stored name: no such key */
	assert(k->len + n + 1 <= sizeof(k->b));
	memcpy(k->b + k->len, s, n);
	k->len += n;
	if (nul)
		k->b[k->len++] = '\0';
	return 0;
}

static void
store_key_bytes(struct store_key *k, const void *p, size_t n)
{
	assert(k->len + n <= sizeof(k->b));
	memcpy(k->b + k->len, p, n);
	k->len += n;
}

/* "provider\0venue\0", the prefix of vp_jobs and vp_hist keys. */
static int
store_key_vp(struct store_key *k, const char *provider, const char *venue)
{
	k->len = 0;
	if (store_key_add(k, provider, TOKEN_MAX, true) < 0 ||
	    store_key_add(k, venue, VENUE_MAX, true) < 0)
		return -ENOENT;
	return 0;
}

/* "provider\0venue", a vp_stat key. */
static int
store_key_stat(struct store_key *k, const char *provider, const char *venue)
{
	k->len = 0;
	if (store_key_add(k, provider, TOKEN_MAX, true) < 0 ||
	    store_key_add(k, venue, VENUE_MAX, false) < 0)
		return -ENOENT;
	return 0;
}

/* STORE_META_USER key, a meta key of the daemon's; -ENOENT: no such key. */
static int
store_key_meta(struct store_key *k, const char *key)
{
	k->len = 0;
	if (key[0] == '\0')
		return -ENOENT;
	store_key_bytes(k, STORE_META_USER, STORE_META_USER_LEN);
	return store_key_add(k, key, STORE_META_KEY_MAX, false);
}

static void
store_be64_put(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
store_be64_get(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int64_t
store_hkey_time(const unsigned char *hk)
{
	return (int64_t)store_be64_get(hk);
}

/* Which history indexes hold an event: see "Keys" at the top. */
static bool
store_event_vp_indexed(const struct event *e)
{
	return e->provider[0] != '\0';
}

static bool
store_event_job_indexed(const struct event *e)
{
	return e->job_id[0] != '\0';
}

/* "provider\0venue\0" hk, the vp_hist key of e stored under hk. */
static int
store_key_vp_hist(struct store_key *k, const struct event *e,
		  const unsigned char *hk)
{
	if (store_key_vp(k, e->provider, e->venue) < 0)
		return -EINVAL;
	store_key_bytes(k, hk, HKEY_LEN);
	return 0;
}

/* "id\0" hk, the job_hist key of e stored under hk. */
static int
store_key_job_hist(struct store_key *k, const struct event *e,
		   const unsigned char *hk)
{
	k->len = 0;
	if (store_key_add(k, e->job_id, ID_MAX, true) < 0)
		return -EINVAL;
	store_key_bytes(k, hk, HKEY_LEN);
	return 0;
}

/* An event type that ends an attempt, so it is the vp's "last run". */
static bool
store_event_is_outcome(enum event_type type)
{
	switch (type) {
	case EV_COMPLETED:
	case EV_FAILED:
	case EV_RETRY_SCHEDULED:
	case EV_EXPIRED:
	case EV_CANCELLED:
	case EV_INTERRUPTED:
		return true;
	default:
		return false;
	}
}

static void
store_vpstat_init(struct vpstat *s)
{
	memset(s, 0, sizeof(*s));
	s->last_exit = -1;
}

/*
 * The write side: leaf operations inside a struct store_txn. Each fills
 * err on failure and remembers the LMDB code, so that store_write() can
 * tell a full map (grow and replay) from everything else.
 */

static int
store_txn_fail(struct store_txn *t, int rc, const char *what, enum store_db db)
{
	t->mdb_rc = rc;
	util_seterr(t->err, t->errlen, "LMDB %s in %s: %s", what,
		    store_db_names[db], mdb_strerror(rc));
	return store_errno(rc);
}

/* 0, -ENOENT when absent, or another failure with err filled. */
static int
store_txn_get(struct store_txn *t, enum store_db db, const void *k,
	      size_t klen, MDB_val *v)
{
	MDB_val key = store_val(k, klen);
	int rc = mdb_get(t->txn, t->st->dbi[db], &key, v);

	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return store_txn_fail(t, rc, "get", db);
	return 0;
}

static int
store_txn_put(struct store_txn *t, enum store_db db, const void *k,
	      size_t klen, const void *v, size_t vlen, unsigned flags)
{
	MDB_val key = store_val(k, klen);
	MDB_val val = store_val(v, vlen);
	int rc = mdb_put(t->txn, t->st->dbi[db], &key, &val, flags);

	if (rc != 0)
		return store_txn_fail(t, rc, "put", db);
	return 0;
}

/* Deleting what is not there is fine: the goal is that it is not. */
static int
store_txn_del(struct store_txn *t, enum store_db db, const void *k,
	      size_t klen)
{
	MDB_val key = store_val(k, klen);
	int rc = mdb_del(t->txn, t->st->dbi[db], &key, NULL);

	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_txn_fail(t, rc, "del", db);
	return 0;
}

static int
store_txn_job_load(struct store_txn *t, const char *id, struct jobrec *r)
{
	MDB_val v;
	int rc;

	rc = store_txn_get(t, DB_JOBS, id, strlen(id), &v);
	if (rc < 0)
		return rc;
	if (jobrec_decode(v.mv_data, v.mv_size, r) < 0) {
		util_seterr(t->err, t->errlen,
			    "the record of job %s does not decode; with the "
			    "daemon stopped, remove spool/db to rebuild it "
			    "from the spool (history is lost)", id);
		return -EIO;
	}
	return 0;
}

static int
store_txn_stat_load(struct store_txn *t, const struct store_key *k,
		    struct vpstat *s)
{
	MDB_val v;
	int rc;

	rc = store_txn_get(t, DB_VP_STAT, k->b, k->len, &v);
	if (rc == -ENOENT) {
		store_vpstat_init(s);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (vpstat_decode(v.mv_data, v.mv_size, s) < 0) {
		util_seterr(t->err, t->errlen,
			    "a vp_stat record does not decode; with the daemon "
			    "stopped, remove spool/db to rebuild it");
		return -EIO;
	}
	return 0;
}

static int
store_txn_stat_save(struct store_txn *t, const struct store_key *k,
		    const struct vpstat *s)
{
	int n = vpstat_encode(s, t->st->buf, sizeof(t->st->buf));

	assert(n > 0); /* a vpstat we built always encodes */
	return store_txn_put(t, DB_VP_STAT, k->b, k->len, t->st->buf,
			     (size_t)n, 0);
}

/* Move a venue+provider's count for state by delta (+1 or -1). */
static int
store_stat_add(struct store_txn *t, const char *provider, const char *venue,
	       enum job_state state, int delta)
{
	struct store_key k;
	struct vpstat s;
	int rc;

	if (store_key_stat(&k, provider, venue) < 0)
		return -EINVAL;
	if ((rc = store_txn_stat_load(t, &k, &s)) < 0)
		return rc;
	if (delta > 0) {
		s.counts[state]++;
	} else {
		/* See the invariants at the top: the job was counted here. */
		assert(s.counts[state] > 0);
		if (s.counts[state] > 0)
			s.counts[state]--;
	}
	return store_txn_stat_save(t, &k, &s);
}

static bool
store_job_indexed(const struct jobrec *r)
{
	return r->provider[0] != '\0';
}

static bool
store_job_same_vp(const struct jobrec *a, const struct jobrec *b)
{
	return strcmp(a->provider, b->provider) == 0 &&
	       strcmp(a->venue, b->venue) == 0;
}

/* Take old out of its count and, when del_key, out of vp_jobs. */
static int
store_job_unindex(struct store_txn *t, const struct jobrec *old, bool del_key)
{
	struct store_key k;
	int rc;

	if (!store_job_indexed(old))
		return 0;
	if (store_key_vp(&k, old->provider, old->venue) < 0 ||
	    store_key_add(&k, old->id, ID_MAX, false) < 0)
		return -EINVAL;
	if (del_key && (rc = store_txn_del(t, DB_VP_JOBS, k.b, k.len)) < 0)
		return rc;
	return store_stat_add(t, old->provider, old->venue, old->state, -1);
}

static int
store_job_index(struct store_txn *t, const struct jobrec *r)
{
	unsigned char state = (unsigned char)r->state;
	struct store_key k;
	int rc;

	if (!store_job_indexed(r))
		return 0;
	if (store_key_vp(&k, r->provider, r->venue) < 0 ||
	    store_key_add(&k, r->id, ID_MAX, false) < 0)
		return -EINVAL;
	if ((rc = store_txn_put(t, DB_VP_JOBS, k.b, k.len, &state, 1, 0)) < 0)
		return rc;
	return store_stat_add(t, r->provider, r->venue, r->state, +1);
}

static int
store_apply_put(struct store_txn *t, const struct jobrec *r,
		const unsigned char *enc, size_t len)
{
	struct jobrec old;
	int rc;

	rc = store_txn_job_load(t, r->id, &old);
	if (rc == 0)
		rc = store_job_unindex(t, &old, !store_job_same_vp(&old, r));
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if ((rc = store_job_index(t, r)) < 0)
		return rc;
	return store_txn_put(t, DB_JOBS, r->id, strlen(r->id), enc, len, 0);
}

static int
store_apply_del(struct store_txn *t, const char *id)
{
	struct jobrec old;
	int rc;

	rc = store_txn_job_load(t, id, &old);
	if (rc == -ENOENT)
		return 0; /* already forgotten */
	if (rc < 0)
		return rc;
	if ((rc = store_job_unindex(t, &old, true)) < 0)
		return rc;
	return store_txn_del(t, DB_JOBS, id, strlen(id));
}

/* The vp's "last run" becomes this attempt's outcome. */
static int
store_stat_outcome(struct store_txn *t, const struct event *e)
{
	struct store_key k;
	struct vpstat s;
	int rc;

	if (store_key_stat(&k, e->provider, e->venue) < 0)
		return -EINVAL;
	if ((rc = store_txn_stat_load(t, &k, &s)) < 0)
		return rc;
	s.last_run = e->time;
	s.last_outcome = e->type;
	s.last_duration_ms = e->duration_ms;
	s.last_exit = e->exit_code;
	s.last_signal = e->signal;
	memcpy(s.last_error, e->error, sizeof(s.last_error));
	memcpy(s.last_job, e->job_id, sizeof(s.last_job));
	if (e->type == EV_COMPLETED)
		s.last_success = e->time;
	return store_txn_stat_save(t, &k, &s);
}

static int
store_apply_event(struct store_txn *t, const struct event *e,
		  const unsigned char *enc, size_t len, uint64_t seq)
{
	unsigned char hk[HKEY_LEN];
	struct store_key k;
	int rc;

	store_be64_put(hk, (uint64_t)e->time);
	store_be64_put(hk + 8, seq);
	/* The sequence makes the key new; finding it taken is corruption. */
	rc = store_txn_put(t, DB_HISTORY, hk, HKEY_LEN, enc, len,
			   MDB_NOOVERWRITE);
	if (rc < 0)
		return rc;
	if (store_event_vp_indexed(e)) {
		if (store_key_vp_hist(&k, e, hk) < 0)
			return -EINVAL;
		rc = store_txn_put(t, DB_VP_HIST, k.b, k.len, store_empty, 0, 0);
		if (rc < 0)
			return rc;
		if (store_event_is_outcome(e->type) &&
		    (rc = store_stat_outcome(t, e)) < 0)
			return rc;
	}
	if (store_event_job_indexed(e)) {
		if (store_key_job_hist(&k, e, hk) < 0)
			return -EINVAL;
		rc = store_txn_put(t, DB_JOB_HIST, k.b, k.len, store_empty, 0,
				   0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Take the event e, stored under hk, out of vp_hist and job_hist. */
static int
store_event_unindex(struct store_txn *t, const struct event *e,
		    const unsigned char *hk)
{
	struct store_key k;
	int rc;

	if (store_event_vp_indexed(e)) {
		if (store_key_vp_hist(&k, e, hk) < 0)
			return -EINVAL;
		if ((rc = store_txn_del(t, DB_VP_HIST, k.b, k.len)) < 0)
			return rc;
	}
	if (store_event_job_indexed(e)) {
		if (store_key_job_hist(&k, e, hk) < 0)
			return -EINVAL;
		if ((rc = store_txn_del(t, DB_JOB_HIST, k.b, k.len)) < 0)
			return rc;
	}
	return 0;
}

/*
 * Delete at most pr->max events older than pr->before, oldest first,
 * each with its index entries; vp_stat stays (it summarises the runs, it
 * does not index history). The oldest event is always the first key, so
 * each round reads the first key again rather than step a cursor across
 * its own deletes. An undecodable event fails the commit like an
 * undecodable job record does: its index keys cannot be rebuilt.
 */
static int
store_apply_prune(struct store_txn *t, const struct store_prune *pr)
{
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	unsigned char hk[HKEY_LEN];
	struct event e;
	int rc;

	rc = mdb_cursor_open(t->txn, t->st->dbi[DB_HISTORY], &cur);
	if (rc != 0)
		return store_txn_fail(t, rc, "cursor_open", DB_HISTORY);
	for (uint64_t n = 0; n < pr->max; n++) {
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
		if (rc == MDB_NOTFOUND) {
			rc = 0; /* history is empty */
			break;
		}
		if (rc != 0) {
			rc = store_txn_fail(t, rc, "cursor_get", DB_HISTORY);
			break;
		}
		if (key.mv_size == HKEY_LEN &&
		    store_hkey_time(key.mv_data) >= pr->before)
			break; /* the rest is newer still */
		if (key.mv_size != HKEY_LEN ||
		    event_decode(val.mv_data, val.mv_size, &e) < 0) {
			util_seterr(t->err, t->errlen,
				    "a history event does not decode; with "
				    "the daemon stopped, remove spool/db to "
				    "rebuild it from the spool (history is "
				    "lost)");
			rc = -EIO;
			break;
		}
		/* The key points into a page the delete may free. */
		memcpy(hk, key.mv_data, HKEY_LEN);
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			rc = store_txn_fail(t, rc, "del", DB_HISTORY);
			break;
		}
		if ((rc = store_event_unindex(t, &e, hk)) < 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/* A meta value of the daemon's: "key\0", then the value; none deletes. */
static int
store_apply_meta(struct store_txn *t, const unsigned char *p, size_t len)
{
	const char *key = (const char *)p;
	size_t klen = strlen(key);
	struct store_key k;

	assert(klen < len); /* store_put_meta() stored the NUL */
	if (store_key_meta(&k, key) < 0)
		return -EINVAL;
	if (len == klen + 1)
		return store_txn_del(t, DB_META, k.b, k.len);
	return store_txn_put(t, DB_META, k.b, k.len, p + klen + 1,
			     len - klen - 1, 0);
}

static int
store_seq_load(struct store_txn *t, uint64_t *seq)
{
	MDB_val v;
	int rc;

	rc = store_txn_get(t, DB_META, "seq", 3, &v);
	if (rc == -ENOENT) {
		*seq = 0;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (v.mv_size != 8) {
		util_seterr(t->err, t->errlen, "meta \"seq\" is %zu bytes, "
			    "not 8", v.mv_size);
		return -EIO;
	}
	*seq = store_be64_get(v.mv_data);
	return 0;
}

/*
 * One op of the batch. Its bytes decode: the queue functions stored
 * only what they had just encoded themselves.
 */
static int
store_apply_op(struct store_txn *t, const struct store_op *op, uint64_t *seq)
{
	const unsigned char *p = t->b->arena + op->off;
	struct store_prune pr;
	struct jobrec r;
	struct event e;
	int rc;

	switch (op->kind) {
	case OP_PUT_JOB:
		rc = jobrec_decode(p, op->len, &r);
		assert(rc == 0);
		return rc < 0 ? rc : store_apply_put(t, &r, p, op->len);
	case OP_ADD_EVENT:
		rc = event_decode(p, op->len, &e);
		assert(rc == 0);
		return rc < 0 ? rc : store_apply_event(t, &e, p, op->len,
						       (*seq)++);
	case OP_DEL_JOB:
		return store_apply_del(t, (const char *)p);
	case OP_PUT_META:
		return store_apply_meta(t, p, op->len);
	case OP_PRUNE_HISTORY:
		assert(op->len == sizeof(pr));
		memcpy(&pr, p, sizeof(pr)); /* the arena is not aligned */
		return store_apply_prune(t, &pr);
	}
	abort(); /* not an op kind */
}

/*
 * A batch with an id records it in meta ("batch": epoch and seq, u64
 * big-endian each) in the transaction that applies it, and is skipped
 * when that id, or a later one of the same epoch, is there already: it
 * was committed before, by a process that died before it could say so.
 */
static int
store_batch_applied(struct store_txn *t, bool *applied)
{
	MDB_val v;
	int rc;

	*applied = false;
	rc = store_txn_get(t, DB_META, "batch", 5, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (v.mv_size != 16) {
		util_seterr(t->err, t->errlen, "meta \"batch\" is %zu bytes, "
			    "not 16", v.mv_size);
		return -EIO;
	}
	*applied = store_be64_get(v.mv_data) == t->b->epoch &&
		   store_be64_get((const unsigned char *)v.mv_data + 8) >=
			   t->b->seq;
	return 0;
}

/* The whole batch, in the order it was queued. */
static int
store_apply_batch(struct store_txn *t)
{
	const struct store_batch *b = t->b;
	uint64_t seq, seq0;
	unsigned char be[16];
	bool applied;
	int rc = 0;

	if (b->has_id) {
		if ((rc = store_batch_applied(t, &applied)) < 0 || applied)
			return rc;
		store_be64_put(be, b->epoch);
		store_be64_put(be + 8, b->seq);
		if ((rc = store_txn_put(t, DB_META, "batch", 5, be, 16, 0)) < 0)
			return rc;
	}
	if ((rc = store_seq_load(t, &seq)) < 0)
		return rc;
	seq0 = seq;
	for (size_t i = 0; i < b->nops && rc == 0; i++)
		rc = store_apply_op(t, &b->ops[i], &seq);
	if (rc < 0 || seq == seq0)
		return rc;
	store_be64_put(be, seq);
	return store_txn_put(t, DB_META, "seq", 3, be, 8, 0);
}

/* Open (writable: create) the named databases and check the format. */
static int
store_open_dbs(struct store_txn *t)
{
	struct store *st = t->st;
	unsigned flags = st->writable ? MDB_CREATE : 0;
	unsigned char version = RECORD_VERSION;
	MDB_val v;
	int rc;

	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(t->txn, store_db_names[i], flags, &st->dbi[i]);
		if (rc == MDB_NOTFOUND)
			return -ENOENT; /* read-only, and not created yet */
		if (rc != 0)
			return store_txn_fail(t, rc, "dbi_open",
					      (enum store_db)i);
	}
	rc = store_txn_get(t, DB_META, "format", 6, &v);
	if (rc == -ENOENT && st->writable)
		return store_txn_put(t, DB_META, "format", 6, &version, 1, 0);
	if (rc < 0)
		return rc;
	if (v.mv_size != 1 || *(const unsigned char *)v.mv_data != version) {
		util_seterr(t->err, t->errlen, "the database has format %d, "
			    "this program reads format %d; with the daemon "
			    "stopped, remove spool/db to rebuild it from the "
			    "spool (history is lost)",
			    v.mv_size == 1 ? *(const unsigned char *)v.mv_data
					   : -1, RECORD_VERSION);
		return -EPROTO;
	}
	return 0;
}

/*
 * Double the map. On failure LMDB has already unmapped the old one and
 * has none (mdb_env_map() leaves me_map NULL), so the environment is
 * unusable until closed and reopened: st->broken says so.
 */
static int
store_map_grow(struct store *st, char *err, size_t errlen)
{
	MDB_envinfo info;
	int rc;

	assert(!st->busy); /* mdb_env_set_mapsize() needs no open txn */
	if ((rc = mdb_env_info(st->env, &info)) != 0)
		goto fail;
	if (info.me_mapsize > SIZE_MAX / 2) {
		rc = ENOMEM;
		goto fail;
	}
	if ((rc = mdb_env_set_mapsize(st->env, info.me_mapsize * 2)) != 0) {
		st->broken = true;
		goto fail;
	}
	return 0;
fail:
	util_seterr(err, errlen, "the database is full and its map cannot "
		    "grow: %s", mdb_strerror(rc));
	return -ENOSPC;
}

/*
 * Run fn in one write transaction and commit it; on MDB_MAP_FULL, from
 * fn or from the commit, abort, double the map and run fn again from the
 * start. fn must therefore be a pure function of the database and the
 * store's batch. Each round at least doubles the map, and the map cannot
 * pass SIZE_MAX, so this ends.
 */
static int
store_write(struct store *st, const struct store_batch *b,
	    int (*fn)(struct store_txn *), char *err, size_t errlen)
{
	struct store_txn t = {.st = st, .b = b, .err = err, .errlen = errlen};
	int rc;

	assert(!st->busy);
	for (;;) {
		if (st->broken) {
			util_seterr(err, errlen, "the database map was lost "
				    "growing it; close and reopen the store");
			return -EIO;
		}
		t.mdb_rc = 0;
		rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
		if (rc == MDB_MAP_RESIZED) {
			/*
			 * Another writer of this environment (the daemon's
			 * committer) grew the map past ours: adopt its size,
			 * as a reader does.
			 */
			if ((rc = mdb_env_set_mapsize(st->env, 0)) != 0)
				st->broken = true;
			else
				rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
		}
		if (rc != 0) {
			/* After a failed meta page write LMDB refuses all. */
			if (rc == MDB_PANIC)
				st->broken = true;
			util_seterr(err, errlen, "LMDB write txn_begin: %s",
				    mdb_strerror(rc));
			return store_errno(rc);
		}
		st->busy = true;
		rc = fn(&t);
		if (rc == 0) {
			rc = mdb_txn_commit(t.txn); /* frees the txn, always */
			if (rc != 0) {
				MDB_txn *probe = NULL;
				t.mdb_rc = rc;
				util_seterr(err, errlen, "LMDB commit: %s",
					    mdb_strerror(rc));
				rc = store_errno(rc);
				/*
				 * A failed meta page write leaves LMDB fatal:
				 * find out now, not at the next commit.
				 */
				if (mdb_txn_begin(st->env, NULL, MDB_RDONLY,
						  &probe) == MDB_PANIC)
					st->broken = true;
				else if (probe != NULL)
					mdb_txn_abort(probe);
			}
		} else {
			mdb_txn_abort(t.txn);
		}
		t.txn = NULL;
		st->busy = false;
		if (rc == 0 || t.mdb_rc != MDB_MAP_FULL)
			return rc;
		if ((rc = store_map_grow(st, err, errlen)) < 0)
			return rc;
	}
}

/* The read side: one read transaction per call, always ended. */

static int
store_read_begin(struct store *st, MDB_txn **txn)
{
	int rc;

	assert(!st->busy); /* a callback must not call back into the store */
	if (st->broken)
		return -EIO;
	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/*
		 * The writer grew the map past ours. No txn of ours is
		 * open, so we may adopt its size (0: the size it recorded).
		 */
		if ((rc = mdb_env_set_mapsize(st->env, 0)) != 0) {
			st->broken = true;
			return store_errno(rc);
		}
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
	}
	if (rc == MDB_PANIC)
		st->broken = true;
	if (rc != 0)
		return store_errno(rc);
	st->busy = true;
	return 0;
}

static void
store_read_end(struct store *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	st->busy = false;
}

static int
store_get(struct store *st, MDB_txn *txn, enum store_db db, const void *k,
	  size_t klen, MDB_val *v)
{
	MDB_val key = store_val(k, klen);

	return store_errno(mdb_get(txn, st->dbi[db], &key, v));
}

/*
 * A visitor of one key: 0 to go on, 1 to stop, or a negative errno.
 * The callbacks of store.h return "non-zero to stop"; visitors turn that
 * into 1, so a callback can never be mistaken for an error.
 */
typedef int (*store_visit_fn)(struct store *st, MDB_txn *txn,
			      const MDB_val *key, const MDB_val *val,
			      void *arg);

/*
 * Visit every key of db that begins with prefix (all keys when it is
 * empty), in key order, or newest first when backward. Backward is only
 * for the history indexes, whose keys are prefix + HKEY_LEN bytes: seek
 * to the prefix followed by more 0xff bytes than any such key has, which
 * lands just past the prefix's last key, and step back.
 */
static int
store_prefix_each(struct store *st, MDB_txn *txn, enum store_db db,
		  const struct store_key *prefix, bool backward,
		  store_visit_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct store_key seek = *prefix;
	MDB_val key, val;
	MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->dbi[db], &cur)) != 0)
		return store_errno(rc);
	if (backward) {
		assert(seek.len + HKEY_LEN + 1 <= sizeof(seek.b));
		memset(seek.b + seek.len, 0xff, HKEY_LEN + 1);
		seek.len += HKEY_LEN + 1;
		key = store_val(seek.b, seek.len);
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
		else if (rc == MDB_NOTFOUND) /* nothing after: start at the end */
			rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
	} else if (prefix->len == 0) {
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	} else {
		key = store_val(seek.b, seek.len);
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	}
	for (;;) {
		if (rc != 0) {
			rc = rc == MDB_NOTFOUND ? 0 : store_errno(rc);
			break;
		}
		if (key.mv_size < prefix->len ||
		    memcmp(key.mv_data, prefix->b, prefix->len) != 0)
			break;
		if ((rc = fn(st, txn, &key, &val, arg)) != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		rc = mdb_cursor_get(cur, &key, &val, step);
	}
	mdb_cursor_close(cur);
	return rc;
}

struct store_job_walk {
	store_job_cb cb;
	void *arg;
	size_t plen;          /* vp_jobs: the prefix before the id */
	bool pending_only;    /* for the next_attempt minimum */
	int64_t next_attempt; /* that minimum; 0 = none */
};

static int
store_visit_job(struct store *st, MDB_txn *txn, const MDB_val *key,
		const MDB_val *val, void *arg)
{
	struct store_job_walk *w = arg;
	struct jobrec r;

	(void)st, (void)txn, (void)key;
	if (jobrec_decode(val->mv_data, val->mv_size, &r) < 0)
		return -EIO;
	return w->cb(&r, w->arg) != 0;
}

/* A vp_jobs key: its value is the state, its suffix the id. */
static int
store_visit_vp_job(struct store *st, MDB_txn *txn, const MDB_val *key,
		   const MDB_val *val, void *arg)
{
	struct store_job_walk *w = arg;
	size_t idlen = key->mv_size - w->plen;
	MDB_val v;
	struct jobrec r;
	int rc;

	if (w->pending_only &&
	    (val->mv_size != 1 ||
	     *(const unsigned char *)val->mv_data != STATE_PENDING))
		return 0;
	if (idlen == 0 || idlen > ID_MAX)
		return -EIO;
	rc = store_get(st, txn, DB_JOBS, (const char *)key->mv_data + w->plen,
		       idlen, &v);
	if (rc == -ENOENT)
		return 0; /* cannot happen (see the invariants); skip it */
	if (rc < 0)
		return rc;
	if (jobrec_decode(v.mv_data, v.mv_size, &r) < 0)
		return -EIO;
	if (w->pending_only) {
		if (r.next_attempt != 0 && (w->next_attempt == 0 ||
					    r.next_attempt < w->next_attempt))
			w->next_attempt = r.next_attempt;
		return 0;
	}
	return w->cb(&r, w->arg) != 0;
}

/* The earliest non-zero next_attempt of a vp's pending jobs, or 0. */
static int
store_next_attempt(struct store *st, MDB_txn *txn, const char *provider,
		   const char *venue, int64_t *next)
{
	struct store_job_walk w = {.pending_only = true};
	struct store_key k;
	int rc;

	if (store_key_vp(&k, provider, venue) < 0)
		return -ENOENT;
	w.plen = k.len;
	rc = store_prefix_each(st, txn, DB_VP_JOBS, &k, false,
			       store_visit_vp_job, &w);
	*next = w.next_attempt;
	return rc;
}

struct store_vp_walk {
	store_vp_cb cb;
	void *arg;
};

static int
store_visit_vp(struct store *st, MDB_txn *txn, const MDB_val *key,
	       const MDB_val *val, void *arg)
{
	struct store_vp_walk *w = arg;
	char provider[TOKEN_MAX + 1], venue[VENUE_MAX + 1];
	const char *k = key->mv_data;
	const char *nul = memchr(k, '\0', key->mv_size);
	size_t plen, vlen;
	struct vpstat s;
	int rc;

	if (nul == NULL)
		return -EIO;
	plen = (size_t)(nul - k);
	vlen = key->mv_size - plen - 1;
	if (plen > TOKEN_MAX || vlen > VENUE_MAX ||
	    memchr(nul + 1, '\0', vlen) != NULL)
		return -EIO;
	memcpy(provider, k, plen);
	provider[plen] = '\0';
	memcpy(venue, nul + 1, vlen);
	venue[vlen] = '\0';
	if (vpstat_decode(val->mv_data, val->mv_size, &s) < 0)
		return -EIO;
	rc = store_next_attempt(st, txn, provider, venue, &s.next_attempt);
	if (rc < 0)
		return rc;
	return w->cb(provider, venue, &s, w->arg) != 0;
}

struct store_hist_walk {
	store_event_cb cb;
	void *arg;
	size_t plen;    /* the index prefix before the history key */
	int64_t since;  /* stop at the first older event */
	int64_t before; /* store_history_before(): stop at the first newer */
};

static int
store_hist_emit(const struct store_hist_walk *w, const MDB_val *v)
{
	struct event e;

	if (event_decode(v->mv_data, v->mv_size, &e) < 0)
		return -EIO;
	return w->cb(&e, w->arg) != 0;
}

/* A vp_hist or job_hist key, newest first: look the event up. */
static int
store_visit_hist_index(struct store *st, MDB_txn *txn, const MDB_val *key,
		       const MDB_val *val, void *arg)
{
	struct store_hist_walk *w = arg;
	const unsigned char *hk = (const unsigned char *)key->mv_data + w->plen;
	MDB_val v;
	int rc;

	(void)val;
	if (key->mv_size != w->plen + HKEY_LEN)
		return -EIO;
	if (store_hkey_time(hk) < w->since)
		return 1; /* newest first: everything after is older still */
	rc = store_get(st, txn, DB_HISTORY, hk, HKEY_LEN, &v);
	if (rc == -ENOENT)
		return 0; /* cannot happen (a prune takes both); skip it */
	if (rc < 0)
		return rc;
	return store_hist_emit(w, &v);
}

/*
 * Visit history from its first key at or after time from, oldest first,
 * until fn stops. A history key is the time and then the sequence, so
 * (from, 0) sorts before every event of that millisecond.
 */
static int
store_history_each(struct store *st, MDB_txn *txn, int64_t from,
		   store_visit_fn fn, void *arg)
{
	unsigned char hk[HKEY_LEN];
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	int rc, stop = 0;

	assert(from >= 0);
	store_be64_put(hk, (uint64_t)from);
	store_be64_put(hk + 8, 0);
	key = store_val(hk, HKEY_LEN);
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_HISTORY], &cur)) != 0)
		return store_errno(rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
		if ((stop = fn(st, txn, &key, &val, arg)) != 0)
			break;
	mdb_cursor_close(cur);
	if (stop != 0)
		return stop < 0 ? stop : 0;
	return rc == MDB_NOTFOUND ? 0 : store_errno(rc);
}

/* The first history key's time: the oldest event's. */
static int
store_visit_oldest(struct store *st, MDB_txn *txn, const MDB_val *key,
		   const MDB_val *val, void *arg)
{
	(void)st, (void)txn, (void)val;
	if (key->mv_size != HKEY_LEN)
		return -EIO;
	*(int64_t *)arg = store_hkey_time(key->mv_data);
	return 1;
}

/* A history key, oldest first. */
static int
store_visit_hist(struct store *st, MDB_txn *txn, const MDB_val *key,
		 const MDB_val *val, void *arg)
{
	struct store_hist_walk *w = arg;

	(void)st, (void)txn;
	if (key->mv_size != HKEY_LEN)
		return -EIO;
	if (store_hkey_time(key->mv_data) >= w->before)
		return 1;
	return store_hist_emit(w, val);
}

/* $SYNCSPOOL_DB_MAPSIZE, else the default, rounded up to whole pages. */
static int
store_mapsize_want(size_t *size, char *err, size_t errlen)
{
	const char *s = getenv("SYNCSPOOL_DB_MAPSIZE");
	uint64_t v = STORE_MAPSIZE_DEFAULT;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		page = 4096;
	if (s != NULL && *s != '\0' &&
	    (util_parse_uint(s, SIZE_MAX / 2, &v) < 0 || v == 0)) {
		util_seterr(err, errlen, "SYNCSPOOL_DB_MAPSIZE=%s: expected "
			    "a size in bytes, a positive decimal", s);
		return -EINVAL;
	}
	*size = ((size_t)v + (size_t)page - 1) / (size_t)page * (size_t)page;
	return 0;
}

static int
store_data_exists(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;

	if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    (int)sizeof(path)) {
		util_seterr(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (stat(path, &sb) < 0 && errno == ENOENT) {
		util_seterr(err, errlen, "no database in %s yet: syncspoold "
			    "creates it when it first starts", dir);
		return -ENOENT;
	}
	return 0; /* other errors: let mdb_env_open() say what is wrong */
}

/*
 * Use the larger of the size the last writer recorded (it may have grown
 * the map) and the size wanted. mdb_env_set_mapsize(env, 0) after open
 * adopts the recorded size, never less than the data in use.
 */
static int
store_map_adopt(struct store *st, size_t want)
{
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_set_mapsize(st->env, 0)) != 0)
		return rc;
	if ((rc = mdb_env_info(st->env, &info)) != 0)
		return rc;
	if (info.me_mapsize < want)
		rc = mdb_env_set_mapsize(st->env, want);
	return rc;
}

/*
 * LMDB leaves the data file's descriptor inheritable (mdb_env_get_fd()'s
 * documentation: so it can be closed before exec); handlers must never
 * see it, and the daemon forks them.
 */
static int
store_fd_cloexec(struct store *st)
{
	mdb_filehandle_t fd;
	int flags;

	if (mdb_env_get_fd(st->env, &fd) != 0)
		return -EBADF;
	if ((flags = fcntl(fd, F_GETFD)) < 0 ||
	    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Read-only: the databases exist once the daemon's first txn commits. */
static int
store_open_readonly(struct store *st, const char *dir, char *err,
		    size_t errlen)
{
	struct store_txn t = {.st = st, .err = err, .errlen = errlen};
	int rc;

	if ((rc = store_read_begin(st, &t.txn)) < 0) {
		util_seterr(err, errlen, "cannot read the database in %s: %s",
			    dir, strerror(-rc));
		return rc;
	}
	rc = store_open_dbs(&t);
	/* Committing, not aborting, keeps the dbi handles for later txns. */
	if (rc == 0 && (rc = mdb_txn_commit(t.txn)) != 0) {
		util_seterr(err, errlen, "LMDB commit: %s", mdb_strerror(rc));
		rc = store_errno(rc);
	} else if (rc < 0) {
		mdb_txn_abort(t.txn);
	}
	st->busy = false;
	if (rc == -ENOENT)
		util_seterr(err, errlen, "no database in %s yet: syncspoold "
			    "creates it when it first starts", dir);
	return rc;
}

/* An LMDB failure while opening dir, as a negative errno with err filled. */
static int
store_open_fail(const char *dir, int rc, char *err, size_t errlen)
{
	util_seterr(err, errlen, "cannot open the database in %s: %s", dir,
		    mdb_strerror(rc));
	return store_errno(rc);
}

int
store_open(const char *dir, bool writable, struct store **out, char *err,
	   size_t errlen)
{
	struct store *st = NULL;
	size_t mapsize;
	int rc, dead;

	*out = NULL;
	if ((rc = store_mapsize_want(&mapsize, err, errlen)) < 0)
		return rc;
	if (!writable && (rc = store_data_exists(dir, err, errlen)) < 0)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		util_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->writable = writable;
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		rc = store_open_fail(dir, rc, err, errlen);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 126)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, mapsize)) != 0 ||
	    (rc = mdb_env_open(st->env, dir,
			       (writable ? 0 : MDB_RDONLY | MDB_NOTLS) |
			       MDB_NORDAHEAD,
			       STORE_FILE_MODE)) != 0) {
		rc = store_open_fail(dir, rc, err, errlen);
		goto fail;
	}
	if ((rc = store_fd_cloexec(st)) < 0) {
		util_seterr(err, errlen, "%s: FD_CLOEXEC on data.mdb: %s", dir,
			    strerror(-rc));
		goto fail;
	}
	if ((rc = store_map_adopt(st, mapsize)) != 0) {
		rc = store_open_fail(dir, rc, err, errlen);
		goto fail;
	}
	/*
	 * Slots of readers that died (a killed CLI) pin old pages and, once
	 * the table is full, refuse new readers: clear them on every open.
	 * This touches only the lock file's reader table.
	 */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		rc = store_open_fail(dir, rc, err, errlen);
		goto fail;
	}
	if (writable)
		rc = store_write(st, NULL, store_open_dbs, err, errlen);
	else
		rc = store_open_readonly(st, dir, err, errlen);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	assert(!st->busy);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st->q.ops);
	free(st->q.arena);
	free(st);
}

/* Find where LMDB mapped the data file: by its inode, in our maps. */
static void
store_map_find(struct store *st)
{
	unsigned long lo, hi, ino;
	char line[512];
	struct stat sb;
	mdb_filehandle_t fd;
	FILE *maps;

	st->map_lo = NULL;
	st->map_len = 0;
	if (mdb_env_get_fd(st->env, &fd) != 0 || fstat(fd, &sb) < 0)
		return;
	maps = fopen("/proc/self/maps", "re");
	if (maps == NULL)
		return;
	while (fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 &&
		    ino == (unsigned long)sb.st_ino && hi > lo) {
			st->map_lo = (void *)lo;
			st->map_len = hi - lo;
			break;
		}
	}
	fclose(maps);
}

bool
store_broken(const struct store *st)
{
	return st->broken;
}

void
store_trim(struct store *st)
{
	MDB_envinfo info;

	assert(!st->busy);
	/*
	 * LMDB does not say where it mapped the data file (me_mapaddr is
	 * only set with MDB_FIXEDMAP), so look it up once per map size.
	 * Without MDB_WRITEMAP the map is read-only and shared: dropping our
	 * page-table entries loses nothing (the pages stay in the page
	 * cache and fault back in when read), and no transaction is open.
	 */
	if (mdb_env_info(st->env, &info) != 0)
		return;
	if (info.me_mapsize != st->map_size || st->map_lo == NULL) {
		store_map_find(st);
		st->map_size = info.me_mapsize;
	}
	if (st->map_lo != NULL)
		(void)madvise(st->map_lo, st->map_len, MADV_DONTNEED);
}

int
store_reader_check(struct store *st, int *dead)
{
	int n = 0;
	int rc = mdb_reader_check(st->env, &n);

	if (dead != NULL)
		*dead = n;
	return store_errno(rc);
}

/*
 * Make room for one more op of up to len bytes; 0 or -ENOMEM. The op is
 * only counted by store_op_push(), so a refused record leaves no trace.
 */
static int
store_op_reserve(struct store *st, size_t len)
{
	struct store_op *ops;
	unsigned char *arena;

	assert(st->writable);
	if (st->q.nops == st->q.cap) {
		size_t cap = st->q.cap != 0 ? st->q.cap * 2 : 16;

		if ((ops = reallocarray(st->q.ops, cap, sizeof(*ops))) == NULL)
			return -ENOMEM;
		st->q.ops = ops;
		st->q.cap = cap;
	}
	if (st->q.arena_cap - st->q.arena_len < len) {
		size_t cap = st->q.arena_cap != 0 ? st->q.arena_cap : 4 * RECORD_MAX;

		while (cap - st->q.arena_len < len)
			cap *= 2;
		if ((arena = realloc(st->q.arena, cap)) == NULL)
			return -ENOMEM;
		st->q.arena = arena;
		st->q.arena_cap = cap;
	}
	return 0;
}

/* Count the len bytes just written at the arena's end as one op. */
static void
store_op_push(struct store *st, enum store_op_kind kind, size_t len)
{
	assert(st->q.nops < st->q.cap && st->q.arena_len + len <= st->q.arena_cap);
	st->q.ops[st->q.nops++] = (struct store_op){
		.kind = kind, .off = st->q.arena_len, .len = len};
	st->q.arena_len += len;
}

/* After a commit: empty, and let go of what a big batch took. */
static void
store_batch_clear(struct store *st)
{
	st->q.nops = 0;
	st->q.arena_len = 0;
	if (st->q.arena_cap > STORE_BATCH_KEEP) {
		free(st->q.arena);
		free(st->q.ops);
		st->q.arena = NULL;
		st->q.ops = NULL;
		st->q.arena_cap = 0;
		st->q.cap = 0;
	}
}

int
store_put_job(struct store *st, const struct jobrec *r)
{
	int n;

	if (store_op_reserve(st, RECORD_MAX) < 0)
		return -ENOMEM;
	/* Refuse now what could never be stored, not at every commit. */
	n = jobrec_encode(r, st->q.arena + st->q.arena_len, RECORD_MAX);
	if (r->id[0] == '\0' || n < 0)
		return -EINVAL;
	store_op_push(st, OP_PUT_JOB, (size_t)n);
	return 0;
}

int
store_add_event(struct store *st, const struct event *e)
{
	int n;

	if (store_op_reserve(st, RECORD_MAX) < 0)
		return -ENOMEM;
	n = event_encode(e, st->q.arena + st->q.arena_len, RECORD_MAX);
	/* A negative time would sort after every other one in the key. */
	if (e->time < 0 || n < 0)
		return -EINVAL;
	store_op_push(st, OP_ADD_EVENT, (size_t)n);
	return 0;
}

int
store_del_job(struct store *st, const char *id)
{
	size_t n = strnlen(id, ID_MAX + 1);

	if (n == 0 || n > ID_MAX)
		return -EINVAL;
	if (store_op_reserve(st, n + 1) < 0)
		return -ENOMEM;
	memcpy(st->q.arena + st->q.arena_len, id, n + 1);
	store_op_push(st, OP_DEL_JOB, n + 1);
	return 0;
}

int
store_put_meta(struct store *st, const char *key, const void *val,
	       size_t len)
{
	size_t klen = strnlen(key, STORE_META_KEY_MAX + 1);

	if (klen == 0 || klen > STORE_META_KEY_MAX ||
	    len > STORE_META_VAL_MAX || (val == NULL && len != 0))
		return -EINVAL;
	if (store_op_reserve(st, klen + 1 + len) < 0)
		return -ENOMEM;
	memcpy(st->q.arena + st->q.arena_len, key, klen + 1);
	if (len != 0)
		memcpy(st->q.arena + st->q.arena_len + klen + 1, val, len);
	store_op_push(st, OP_PUT_META, klen + 1 + len);
	return 0;
}

int
store_prune_history(struct store *st, int64_t before, size_t max)
{
	struct store_prune pr = {.before = before, .max = max};

	if (max == 0)
		return -EINVAL;
	if (store_op_reserve(st, sizeof(pr)) < 0)
		return -ENOMEM;
	memcpy(st->q.arena + st->q.arena_len, &pr, sizeof(pr));
	store_op_push(st, OP_PRUNE_HISTORY, sizeof(pr));
	return 0;
}

size_t
store_pending(const struct store *st)
{
	return st->q.nops;
}

int
store_commit(struct store *st, char *err, size_t errlen)
{
	int rc;

	assert(st->writable);
	if (st->q.nops == 0)
		return 0;
	if ((rc = store_write(st, &st->q, store_apply_batch, err, errlen)) < 0)
		return rc;
	store_batch_clear(st);
	return 0;
}

int
store_job_get(struct store *st, const char *id, struct jobrec *r)
{
	MDB_txn *txn = NULL;
	MDB_val v;
	int rc;

	if (strnlen(id, ID_MAX + 1) > ID_MAX)
		return -ENOENT;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_get(st, txn, DB_JOBS, id, strlen(id), &v);
	if (rc == 0 && jobrec_decode(v.mv_data, v.mv_size, r) < 0)
		rc = -EIO;
	store_read_end(st, txn);
	return rc;
}

int
store_jobs(struct store *st, store_job_cb cb, void *arg)
{
	struct store_job_walk w = {.cb = cb, .arg = arg};
	struct store_key all = {.len = 0};
	MDB_txn *txn = NULL;
	int rc;

	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_prefix_each(st, txn, DB_JOBS, &all, false, store_visit_job,
			       &w);
	store_read_end(st, txn);
	return rc;
}

int
store_vp_jobs(struct store *st, const char *provider, const char *venue,
	      store_job_cb cb, void *arg)
{
	struct store_job_walk w = {.cb = cb, .arg = arg};
	struct store_key k;
	MDB_txn *txn = NULL;
	int rc;

	if (store_key_vp(&k, provider, venue) < 0)
		return 0; /* no such venue+provider: nothing to list */
	w.plen = k.len;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_prefix_each(st, txn, DB_VP_JOBS, &k, false,
			       store_visit_vp_job, &w);
	store_read_end(st, txn);
	return rc;
}

int
store_vpstat_get(struct store *st, const char *provider, const char *venue,
		 struct vpstat *s)
{
	struct store_key k;
	MDB_txn *txn = NULL;
	MDB_val v;
	struct vpstat t;
	int rc;

	if (store_key_stat(&k, provider, venue) < 0)
		return -ENOENT;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_get(st, txn, DB_VP_STAT, k.b, k.len, &v);
	if (rc == 0 && vpstat_decode(v.mv_data, v.mv_size, &t) < 0)
		rc = -EIO;
	if (rc == 0)
		rc = store_next_attempt(st, txn, provider, venue,
					&t.next_attempt);
	store_read_end(st, txn);
	if (rc == 0)
		*s = t;
	return rc;
}

int
store_vps(struct store *st, store_vp_cb cb, void *arg)
{
	struct store_vp_walk w = {.cb = cb, .arg = arg};
	struct store_key all = {.len = 0};
	MDB_txn *txn = NULL;
	int rc;

	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_prefix_each(st, txn, DB_VP_STAT, &all, false,
			       store_visit_vp, &w);
	store_read_end(st, txn);
	return rc;
}

int
store_vp_history(struct store *st, const char *provider, const char *venue,
		 int64_t since, store_event_cb cb, void *arg)
{
	struct store_hist_walk w = {.cb = cb, .arg = arg, .since = since};
	struct store_key k;
	MDB_txn *txn = NULL;
	int rc;

	if (store_key_vp(&k, provider, venue) < 0)
		return 0;
	w.plen = k.len;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_prefix_each(st, txn, DB_VP_HIST, &k, true,
			       store_visit_hist_index, &w);
	store_read_end(st, txn);
	return rc;
}

int
store_job_history(struct store *st, const char *id, store_event_cb cb,
		  void *arg)
{
	struct store_hist_walk w = {.cb = cb, .arg = arg, .since = INT64_MIN};
	struct store_key k = {.len = 0};
	MDB_txn *txn = NULL;
	int rc;

	if (store_key_add(&k, id, ID_MAX, true) < 0)
		return 0;
	w.plen = k.len;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_prefix_each(st, txn, DB_JOB_HIST, &k, true,
			       store_visit_hist_index, &w);
	store_read_end(st, txn);
	return rc;
}

int
store_history_before(struct store *st, int64_t before, store_event_cb cb,
		     void *arg)
{
	return store_history_range(st, 0, before, cb, arg);
}

int
store_history_range(struct store *st, int64_t from, int64_t before,
		    store_event_cb cb, void *arg)
{
	struct store_hist_walk w = {.cb = cb, .arg = arg, .before = before};
	MDB_txn *txn = NULL;
	int rc;

	if (from < 0)
		from = 0; /* no event is older than the epoch */
	if (from >= before)
		return 0;
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_history_each(st, txn, from, store_visit_hist, &w);
	store_read_end(st, txn);
	return rc;
}

int
store_history_oldest(struct store *st, int64_t *time)
{
	int64_t oldest = -1;
	MDB_txn *txn = NULL;
	int rc;

	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_history_each(st, txn, 0, store_visit_oldest, &oldest);
	store_read_end(st, txn);
	if (rc == 0 && oldest < 0)
		rc = -ENOENT;
	if (rc == 0)
		*time = oldest;
	return rc;
}

int
store_get_meta(struct store *st, const char *key, void *buf, size_t cap,
	       size_t *len)
{
	struct store_key k;
	MDB_txn *txn = NULL;
	MDB_val v;
	int rc;

	if (store_key_meta(&k, key) < 0)
		return -ENOENT; /* longer than any stored key, or empty */
	if ((rc = store_read_begin(st, &txn)) < 0)
		return rc;
	rc = store_get(st, txn, DB_META, k.b, k.len, &v);
	if (rc == 0) {
		*len = v.mv_size;
		if (v.mv_size > cap)
			rc = -EOVERFLOW;
		else if (v.mv_size != 0)
			memcpy(buf, v.mv_data, v.mv_size);
	}
	store_read_end(st, txn);
	return rc;
}

/*
 * Batches handed to another process: taken out of the queue whole, sent
 * down a socket as a header, the ops and the arena (the same program
 * reads them: only their bounds are checked), and committed there.
 */
#define STORE_BATCH_MAGIC 0x53534231u /* "SSB1" */
#define STORE_BATCH_MAX_OPS (1u << 24)
#define STORE_BATCH_MAX_BYTES (1u << 30)

struct store_batch_hdr {
	uint32_t magic;
	uint32_t pad;
	uint64_t epoch;
	uint64_t seq;
	uint64_t nops;
	uint64_t arena_len;
};

int
store_batch_take(struct store *st, uint64_t epoch, uint64_t seq,
		 struct store_batch **out)
{
	struct store_batch *b;

	assert(st->writable);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -ENOMEM;
	*b = st->q;
	b->has_id = true;
	b->epoch = epoch;
	b->seq = seq;
	memset(&st->q, 0, sizeof(st->q));
	*out = b;
	return 0;
}

size_t
store_batch_ops(const struct store_batch *b)
{
	return b->nops;
}

uint64_t
store_batch_seq(const struct store_batch *b)
{
	return b->seq;
}

void
store_batch_free(struct store_batch *b)
{
	if (b == NULL)
		return;
	free(b->ops);
	free(b->arena);
	free(b);
}

int
store_batch_commit(struct store *st, const struct store_batch *b, char *err,
		   size_t errlen)
{
	assert(st->writable && b->has_id);
	return store_write(st, b, store_apply_batch, err, errlen);
}

int
store_batch_send(int fd, const struct store_batch *b)
{
	struct store_batch_hdr h = {
		.magic = STORE_BATCH_MAGIC, .epoch = b->epoch, .seq = b->seq,
		.nops = b->nops, .arena_len = b->arena_len};
	struct iovec iov[3] = {
		{&h, sizeof(h)},
		{b->ops, b->nops * sizeof(*b->ops)},
		{b->arena, b->arena_len},
	};
	struct iovec *v = iov;
	int nv = 3;

	while (nv > 0) {
		struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)nv};
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		while (nv > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Exactly n bytes; -EPIPE at end of file, with *eof_first (when asked)
 * saying whether it came before the first byte.
 */
static int
store_read_full(int fd, void *p, size_t n, bool *eof_first)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (eof_first != NULL)
				*eof_first = got == 0;
			return -EPIPE;
		}
		got += (size_t)r;
	}
	return 0;
}

int
store_batch_recv(int fd, struct store_batch **out, char *err, size_t errlen)
{
	struct store_batch_hdr h;
	struct store_batch *b = NULL;
	bool eof_first = false;
	size_t off = 0;
	int rc;

	*out = NULL;
	if ((rc = store_read_full(fd, &h, sizeof(h), &eof_first)) < 0) {
		if (rc == -EPIPE && eof_first)
			return -ENODATA; /* the sender closed between batches */
		util_seterr(err, errlen, "reading a batch: %s", strerror(-rc));
		return rc;
	}
	if (h.magic != STORE_BATCH_MAGIC || h.nops > STORE_BATCH_MAX_OPS ||
	    h.arena_len > STORE_BATCH_MAX_BYTES) {
		util_seterr(err, errlen, "not a batch (magic %#x, %llu ops, "
			    "%llu bytes)", h.magic, (unsigned long long)h.nops,
			    (unsigned long long)h.arena_len);
		return -EPROTO;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (h.nops > 0 &&
	     (b->ops = calloc(h.nops, sizeof(*b->ops))) == NULL) ||
	    (h.arena_len > 0 && (b->arena = malloc(h.arena_len)) == NULL)) {
		store_batch_free(b);
		util_seterr(err, errlen, "out of memory for a batch of %llu "
			    "bytes", (unsigned long long)h.arena_len);
		return -ENOMEM;
	}
	b->nops = b->cap = h.nops;
	b->arena_len = b->arena_cap = h.arena_len;
	b->has_id = true;
	b->epoch = h.epoch;
	b->seq = h.seq;
	if ((rc = store_read_full(fd, b->ops, b->nops * sizeof(*b->ops),
				  NULL)) < 0 ||
	    (rc = store_read_full(fd, b->arena, b->arena_len, NULL)) < 0) {
		util_seterr(err, errlen, "reading a batch: %s", strerror(-rc));
		store_batch_free(b);
		return rc;
	}
	/* Each op's bytes follow the last one's, and they fill the arena. */
	for (size_t i = 0; i < b->nops; i++) {
		const struct store_op *op = &b->ops[i];

		if ((unsigned)op->kind > OP_PRUNE_HISTORY || op->off != off ||
		    op->len > b->arena_len - off ||
		    (op->kind == OP_PRUNE_HISTORY &&
		     op->len != sizeof(struct store_prune))) {
			util_seterr(err, errlen, "batch %llu: op %zu is "
				    "malformed", (unsigned long long)b->seq, i);
			store_batch_free(b);
			return -EPROTO;
		}
		off += op->len;
	}
	if (off != b->arena_len) {
		util_seterr(err, errlen, "batch %llu: %zu bytes past its ops",
			    (unsigned long long)b->seq, b->arena_len - off);
		store_batch_free(b);
		return -EPROTO;
	}
	*out = b;
	return 0;
}

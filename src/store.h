/*
 * store.h - the LMDB environment in spool/db: the status index and the
 * sync history.
 *
 * One environment, these named databases:
 *   jobs      id -> struct jobrec
 *   history   (time ms, u64 sequence), big-endian -> struct event
 *   vp_jobs   "provider\0venue\0id" -> one byte, the job's state
 *   vp_hist   "provider\0venue\0" + history key -> empty
 *   job_hist  "id\0" + history key -> empty
 *   vp_stat   "provider\0venue" -> struct vpstat
 *   meta      small named values: the store's own ("format" =
 *             RECORD_VERSION, "seq", ...) and, under the prefix "u:",
 *             the daemon's (store_put_meta(), e.g. "breaker/<provider>")
 * so that status, history and stop for one venue+provider read only that
 * venue+provider's keys, never the whole database.
 *
 * The daemon's meta values share meta rather than have a database of
 * their own so that the set of databases, which a read-only open needs
 * in full, stays the same: a CLI reading a database the daemon created
 * before meta values existed still opens it. The "u:" prefix, which no
 * key of the store's own begins with, keeps a caller's key from ever
 * reading or overwriting "format" or "seq".
 *
 * Writers: only the daemon writes. It queues changes with store_put_job(),
 * store_add_event(), store_del_job(), store_put_meta() and
 * store_prune_history(), which copy their arguments into an in-memory
 * batch, and applies the whole batch, in queue order, in one write
 * transaction with store_commit(). store_commit() keeps the derived
 * databases (vp_jobs, vp_hist, job_hist, vp_stat counts and last run)
 * consistent with the jobs and history it writes: a put of a job whose
 * state changed moves it between counts, and a pruned event takes its
 * vp_hist and job_hist entries with it. On MDB_MAP_FULL it aborts,
 * doubles the map and replays the batch; on any other failure it aborts,
 * keeps the batch (so the caller may retry later) and returns a negative
 * errno with err filled. Only a successful commit empties the batch.
 * The daemon calls it only after the file moves it records are durable.
 *
 * Readers (the CLI, and the daemon at start-up) use the store_* read
 * functions; each runs one short read transaction, retried once after
 * MDB_MAP_RESIZED, and calls the callback inside it for each item. A
 * callback returns 0 to go on and non-zero to stop (which is not an
 * error); it must not call store functions itself (one transaction at a
 * time). Reads see committed data only.
 *
 * Every function returns 0 or a negative errno (-ENOENT: no such key or
 * no database yet) and fills err where it takes one.
 */
#ifndef SYNCSPOOL_STORE_H
#define SYNCSPOOL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define STORE_MAPSIZE_DEFAULT (64ULL << 20)
#define STORE_META_KEY_MAX 128  /* bytes in a store_put_meta() key */
#define STORE_META_VAL_MAX 1024 /* bytes in its value */

struct store;

/*
 * Open the environment in dir (spool/db). writable: create it and the
 * databases if missing (the daemon); otherwise open read-only
 * (MDB_RDONLY | MDB_NOTLS), and -ENOENT when it does not exist yet.
 * The initial map size is $SYNCSPOOL_DB_MAPSIZE bytes when set (tests
 * use a tiny one), else STORE_MAPSIZE_DEFAULT or the file's size if larger.
 * The descriptors LMDB opens are close-on-exec. -EPROTO: the database
 * has another format (RECORD_VERSION).
 */
int store_open(const char *dir, bool writable, struct store **out,
	       char *err, size_t errlen);
void store_close(struct store *st);

/*
 * Drop this process's mapping of the database's pages (they stay in the
 * page cache): what a large start-up leaves touched otherwise counts in
 * the daemon's resident size for good. Call between transactions.
 */
void store_trim(struct store *st);
/*
 * True once the environment is unusable (LMDB's fatal error after a
 * failed meta page write, or a lost map): every call fails until the
 * process opens it anew.
 */
bool store_broken(const struct store *st);
/* Clear reader slots left by dead processes (mdb_reader_check). */
int store_reader_check(struct store *st, int *dead);

/*
 * Queue a change (copies the argument). -ENOMEM, or -EINVAL for what
 * could never be stored (an empty or over-long id, an enum out of range,
 * a string not terminated in its array, a negative event time), so one
 * bad record cannot block every later commit.
 */
int store_put_job(struct store *st, const struct jobrec *r);
int store_add_event(struct store *st, const struct event *e);
/* Forget a job: its record and its vp_jobs entry (retention). */
int store_del_job(struct store *st, const char *id);
/*
 * Set the daemon's meta value key (a C string of 1 to STORE_META_KEY_MAX
 * bytes, e.g. "breaker/square") to the len bytes at val (at most
 * STORE_META_VAL_MAX); len 0 deletes the key (val may then be NULL), and
 * deleting a missing key is not an error. The bytes are opaque to the
 * store: the caller chooses, and versions, their encoding. -EINVAL for a
 * key or value out of those bounds, -ENOMEM.
 */
int store_put_meta(struct store *st, const char *key, const void *val,
		   size_t len);
/*
 * Queue the deletion of at most max events with time < before, oldest
 * first (equal times in the order they were added), each with its
 * vp_hist and job_hist entries. It runs at commit in queue order, so it
 * sees the events queued before it in the same batch. vp_stat (a
 * summary: last run, last success) and job records are left alone.
 * -EINVAL when max is 0 (it is a bound, not "no limit"), -ENOMEM.
 *
 * Bounded so that one commit never holds the daemon's loop for long; to
 * learn whether more remain, ask store_history_oldest() after the commit:
 *
 *	store_prune_history(st, cut, 1000);
 *	store_commit(st, err, sizeof(err));
 *	more = store_history_oldest(st, &t) == 0 && t < cut;
 */
int store_prune_history(struct store *st, int64_t before, size_t max);
/* How many changes wait in the batch. */
size_t store_pending(const struct store *st);
/* Apply the batch in one durable write transaction (see above). */
int store_commit(struct store *st, char *err, size_t errlen);

/*
 * Batches committed elsewhere: by another process with its own store on
 * the same environment (the daemon's committer), or later.
 *
 * store_batch_take() moves everything queued into *out, leaving the queue
 * empty (a batch may have no ops), under the id (epoch, seq). -ENOMEM.
 * store_batch_commit() applies it in one durable write transaction, as
 * store_commit() would, and records its id (meta "batch") in the same
 * transaction; a batch whose id is recorded already, or with a higher
 * seq of the same epoch, is not applied again. So a batch sent to a
 * process that died before it answered can be committed again, by
 * anyone, without doubling its events: number batches from 1 up within
 * an epoch, an epoch chosen at random per sender. On failure nothing is
 * applied and the batch may be committed again.
 *
 * store_batch_send() writes it to fd (a blocking stream socket; -ETIMEDOUT
 * when SO_SNDTIMEO passes); store_batch_recv() reads one into *out
 * (malloc'd): -ENODATA at end of file before a batch, -EPIPE in one,
 * -EPROTO for bytes that are not a batch (err says what), -ENOMEM.
 */
struct store_batch;
int store_batch_take(struct store *st, uint64_t epoch, uint64_t seq,
		     struct store_batch **out);
size_t store_batch_ops(const struct store_batch *b);
uint64_t store_batch_seq(const struct store_batch *b);
int store_batch_commit(struct store *st, const struct store_batch *b,
		       char *err, size_t errlen);
void store_batch_free(struct store_batch *b);
int store_batch_send(int fd, const struct store_batch *b);
int store_batch_recv(int fd, struct store_batch **out, char *err,
		     size_t errlen);

typedef int (*store_job_cb)(const struct jobrec *r, void *arg);
typedef int (*store_event_cb)(const struct event *e, void *arg);
typedef int (*store_vp_cb)(const char *provider, const char *venue,
			   const struct vpstat *s, void *arg);

int store_job_get(struct store *st, const char *id, struct jobrec *r);
/* Every job, in id order. */
int store_jobs(struct store *st, store_job_cb cb, void *arg);
/* One venue+provider's jobs, through vp_jobs, in id order. */
int store_vp_jobs(struct store *st, const char *provider, const char *venue,
		  store_job_cb cb, void *arg);
/*
 * One venue+provider's summary; next_attempt is computed from its pending
 * jobs. -ENOENT when that venue+provider has never been seen.
 */
int store_vpstat_get(struct store *st, const char *provider,
		     const char *venue, struct vpstat *s);
/* Every venue+provider's summary, in (provider, venue) order. */
int store_vps(struct store *st, store_vp_cb cb, void *arg);
/* History, newest first, events with time >= since (0: all). */
int store_vp_history(struct store *st, const char *provider,
		     const char *venue, int64_t since, store_event_cb cb,
		     void *arg);
int store_job_history(struct store *st, const char *id, store_event_cb cb,
		      void *arg);
/* Every event older than before, oldest first (retention). */
int store_history_before(struct store *st, int64_t before, store_event_cb cb,
			 void *arg);
/*
 * The events with from <= time < before, oldest first, equal times in
 * the order they were added; none when from >= before. A negative from
 * is 0. To resume after the callback stopped at an event of time t, call
 * again with from = t: the events of that millisecond come again, so the
 * caller skips those it has already seen (or does nothing twice).
 */
int store_history_range(struct store *st, int64_t from, int64_t before,
			store_event_cb cb, void *arg);
/* The oldest event's time; -ENOENT when history is empty. */
int store_history_oldest(struct store *st, int64_t *time);
/*
 * Copy the daemon's meta value key (see store_put_meta()) into buf and
 * set *len to its length. -ENOENT when it is absent (or the key could
 * never be stored); -EOVERFLOW, with *len set to the length needed and
 * buf untouched, when cap is smaller (cap 0 and buf NULL asks the size).
 */
int store_get_meta(struct store *st, const char *key, void *buf, size_t cap,
		   size_t *len);

#endif

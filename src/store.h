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
 *   meta      small named values ("format" = RECORD_VERSION, ...)
 * so that status, history and stop for one venue+provider read only that
 * venue+provider's keys, never the whole database.
 *
 * Writers: only the daemon writes. It queues changes with store_put_job()
 * and store_add_event(), which copy their arguments into an in-memory
 * batch, and applies the whole batch in one write transaction with
 * store_commit(). store_commit() keeps the derived databases (vp_jobs,
 * vp_hist, job_hist, vp_stat counts and last run) consistent with the
 * jobs and history it writes: a put of a job whose state changed moves it
 * between counts. On MDB_MAP_FULL it aborts, doubles the map and replays
 * the batch; on any other failure it aborts, keeps the batch (so the
 * caller may retry later) and returns a negative errno with err filled.
 * Only a successful commit empties the batch. The daemon calls it only
 * after the file moves it records are durable.
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
/* How many changes wait in the batch. */
size_t store_pending(const struct store *st);
/* Apply the batch in one durable write transaction (see above). */
int store_commit(struct store *st, char *err, size_t errlen);

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

#endif

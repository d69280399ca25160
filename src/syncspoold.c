/*
 * syncspoold - the spool daemon.
 *
 * One thread, one epoll loop over: the inotify descriptor (the five state
 * directories), a signalfd (SIGTERM, SIGINT, SIGHUP), a timerfd for the
 * next deadline, and each running handler's pidfd and output pipes.
 *
 * The directory a job file sits in is the truth; LMDB is an index and the
 * history. Every loop iteration does its work in this order:
 *
 *   1. read events: files appearing, moving or vanishing; handlers
 *      exiting or writing; signals; the timer;
 *   2. uploads that have settled are accepted: validated, given their id
 *      (a rename within pending), and queued; invalid ones go to failed;
 *   3. handlers that exited are reaped and their files moved on;
 *   4. due jobs are claimed (pending -> processing) and their handlers
 *      started, each writing its own line of db/running before it execs;
 *   5. flush: seal the LMDB changes those moves imply into a batch and
 *      hand it to the committer (commit.h), a child process that fsyncs
 *      every directory a move touched, then commits the batch, while
 *      this loop goes on; its answer is one more event to read.
 *
 * So nothing is recorded before the move it describes is durable, and no
 * handler runs before its pid is recorded: a daemon killed at any point
 * finds on restart either a job still in processing whose handler it can
 * identify (and waits for, never running it twice at once), or one whose
 * handler is gone (requeued at once as an interrupted attempt).
 *
 * A file moved by anyone else means what DESIGN.md's table says; the
 * daemon finds out through inotify, looks where the file really is
 * (locate()), and records the change. inotify is only a hint: a periodic
 * rescan and a rescan after IN_Q_OVERFLOW catch what it missed.
 *
 * XXX A handler's stdout and stderr are pipes to this process, so a
 * handler that outlives its daemon dies of SIGPIPE at its next write.
 * That keeps delivery at least once (the restarted daemon sees it gone and
 * requeues the job) but cuts short a handler that could have finished;
 * output through a process that outlives the daemon would fix it.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "cgroup.h"
#include "commit.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "record.h"
#include "runner.h"
#include "sched.h"
#include "spool.h"
#include "store.h"
#include "table.h"
#include "util.h"

#define KILL_GRACE_MS 5000   /* SIGTERM to SIGKILL after a timeout or stop */
#define IO_RETRY_MS 1000     /* a failed move, fsync or commit is retried */
#define CG_SWEEP_MIN_MS 20   /* a killed cgroup is removed once empty: */
#define CG_SWEEP_MAX_MS 5000 /* ... looked at again this often, doubling */
#define SPACE_CHECK_MS 1000  /* how often free space is measured */
#define ACCEPT_BATCH 1024     /* uploads accepted per loop pass, at most, */
#define ACCEPT_MS 20          /* ... and for about this long, */
/*
 * ... but for only this long while a handler runs: its end is seen, and
 * the next handler started, only between passes. With 20 ms passes a
 * burst of 20,000 drops kept the two workers idle most of the 1.5 s it
 * took to accept them (a no-op handler lives under a millisecond).
 */
#define ACCEPT_BUSY_US 500
/*
 * ... and while a start-up backlog of at least BACKLOG_MIN files is
 * taken. Each pass ends in a flush (directory fsyncs and a commit with
 * its fdatasync, a few ms), so passes four times as long make a quarter
 * of the flushes: 100,000 pending were indexed in 7.6 s instead of 13
 * (load 5). Handlers still start and are reaped between passes, at the
 * same rate (about 55 a second in both, for a stamp writer).
 */
#define BACKLOG_MIN 4096
#define BACKLOG_BATCH 4096
#define BACKLOG_MS 80
/*
 * Group commit: while handlers run, at most one flush this often. Each
 * commit rewrites the leaf and branch pages it touches in six B-trees, so
 * the pages written per job fall as more jobs share one: 10 ms grouped
 * about 4 jobs and wrote 15 pages a job at 1,500 jobs/s; 50 ms took the
 * throughput of a no-op handler up by about 12 %. A flush held up the
 * loop (a commit of 50 ms of such jobs took 7 ms, two thirds of it CPU),
 * and handlers that ended meanwhile waited for it: 100 ms gained another
 * 5-10 %, and the committer, which takes the flush off the loop, about
 * 8 % more. History lags the files by this much, plus a commit, at most
 * while jobs stream; an idle daemon flushes at once.
 */
#define FLUSH_MS 100
#define FLUSH_MAX_OPS 8192    /* ... unless this many changes wait */
/*
 * Committed changes between store_trim()s: every commit. A read fault on
 * the map maps up to 16 neighbouring pages that are in the page cache
 * (the kernel's fault-around; MADV_RANDOM does not stop it), so what a
 * few hundred small commits touch was 60 MiB of resident map at 100,000
 * jobs. The trim costs some 30 us; the commit's fdatasync, milliseconds.
 */
#define TRIM_OPS 1
/*
 * The committer (commit.h): after it died, or could not start, the
 * daemon commits in its own process and tries to start another this much
 * later, doubling up to the maximum. While the committer holds a batch
 * and this many changes wait behind it, nothing new is claimed: a
 * committer that has stopped must not let the queue grow without end.
 */
#define COMMITTER_RETRY_MS 1000
#define COMMITTER_RETRY_MAX_MS 60000
#define COMMIT_BEHIND_OPS 65536
#define METRICS_EVERY_MS 5000 /* how often the metrics file is written */
#define PRUNE_BATCH 200      /* jobs or events pruned per loop pass, at most */
#define PRUNE_IDLE_MS 60000  /* retention's pace when nothing is due */
#define PRUNE_BUSY_MS 200    /* ... and while old things remain */

enum tag_kind {
	TAG_INOTIFY, TAG_SIGNAL, TAG_TIMER,
	TAG_PIDFD, TAG_OUT, TAG_ERR,       /* a handler run for one attempt */
	TAG_WPID, TAG_WOUT, TAG_WERR,      /* a persistent handler */
	TAG_COMMIT,                        /* the committer's results */
};

struct drun;
struct pworker;

struct tag {
	enum tag_kind kind;
	struct drun *run;
	struct pworker *worker;
};

#define REPLY_MAX 65536 /* a persistent handler's reply line, at most */

/* A persistent handler process (mode: persistent), idle or busy. */
struct pworker {
	struct run run;               /* its process: pid, pidfd, pipes */
	int in_fd;                    /* its stdin: one job line at a time */
	char provider[TOKEN_MAX + 1];
	struct drun *busy;            /* the attempt it runs; NULL: idle */
	char *buf;                    /* its stdout, up to a newline */
	size_t len;
	bool exited;                  /* pidfd readable */
	bool broken;                  /* said what we cannot use: killed */
	char why[ERROR_MAX + 1];      /* ... and why */
	struct tag tpid, tout, terr;
	struct pworker *next;
};

/*
 * A live job: its file is in pending, processing or paused. Kept small
 * (a few hundred bytes with its table entry): 100,000 may wait at once.
 */
struct djob {
	struct sched_job sj;          /* its place in the queue; group = vp */
	char *name;                   /* the name it was uploaded under,
				       * after id[] in the same block */
	const char *sync_type;        /* djob_type_full, or malloc'd */
	char *last_error;             /* malloc'd; NULL when none */
	enum job_state state;
	int32_t last_exit, last_signal;
	uint32_t attempts, max_attempts;
	int64_t created, not_before, next_attempt;
	uint64_t ino;
	struct drun *run;             /* set while a handler runs for it */
	char id[];
};

static const char djob_type_full[] = "full";

/* A handler running (or finished, waiting for its move to succeed). */
struct drun {
	struct run run;
	struct djob *job;
	struct tag tpid, tout, terr;
	uint64_t timeout_ms;
	int64_t deadline;             /* mono ms: SIGTERM for the timeout */
	int64_t kill_at;              /* mono ms: SIGKILL; 0 when not due */
	bool timed_out;
	bool cancelled;               /* its file left processing */
	bool exited;                  /* pidfd readable; reap pending */
	bool freed;                   /* exited 0: its sched place given back */
	/* Set at the reap: what the attempt's end means. */
	bool reaped;
	struct run_status rs;
	enum job_state to;
	enum event_type ev;
	char error[ERROR_MAX + 1];
	char result[RESULT_MAX + 1];
	char cancel_why[96];          /* why its file left processing */
	uint64_t defer_ms;            /* EV_DEFERRED: the handler's retry_after */
	int64_t retry_at;             /* mono ms: retry a failed move */
	int slot;                     /* its line in db/running; -1: none */
	struct pworker *worker;       /* mode: persistent: who runs it */
	bool replied;                 /* ... and whether it answered */
	bool persistent;
	struct drun *next;
};

/* An upload in pending, waiting to settle. */
struct cand {
	int64_t due;                  /* mono ms */
	bool moved;                   /* renamed in: take it at once */
	struct cand *prev, *next;     /* in due order */
	char name[];
};

struct daemon {
	struct config cfg;
	const char *config_path;
	struct spool sp;
	struct store *st;
	struct sched sched;
	struct table jobs;            /* id -> struct djob */
	struct table cands;           /* name -> struct cand */
	struct cand *cand_head, *cand_tail;
	struct drun *runs;
	struct pworker *workers;
	int epfd, ifd, sfd, tfd;
	int wd[STATE_COUNT];
	struct tag tinotify, tsignal, ttimer;
	bool dirty[STATE_COUNT];
	bool stopping;
	int64_t stop_deadline;        /* mono ms */
	bool stop_killed;
	int64_t next_rescan;          /* mono ms */
	int64_t io_retry_at;          /* mono ms; 0 when nothing to retry */
	bool space_low;
	int64_t space_checked;        /* mono ms */
	bool rescan_wanted;
	bool backlog;                 /* taking what start-up found pending */
	int64_t backlog_due;          /* mono ms: all of it due by then */
	bool lease_warned;            /* said once that leases are not ours */
	bool disk_full;               /* ENOSPC seen since the last flush */
	size_t *slot_done;            /* slots to free after the next commit */
	size_t nslot_done;
	/*
	 * The batch being made durable: taken out of the store's queue with
	 * the directories to fsync first, and the slots its commit frees.
	 */
	struct store_batch *sealed;
	unsigned sealed_dirs;
	size_t *sealed_slots;
	size_t nsealed_slots;
	bool sealed_sent;             /* the committer has it: await its result */
	uint64_t batch_epoch, batch_seq;
	struct committer cm;          /* cm.pid 0: none; commit in-process */
	struct tag tcommit;
	int64_t cm_retry_at;          /* mono ms: start a committer again */
	int64_t cm_retry_ms;
	int64_t prune_at;             /* mono ms: the next retention step */
	struct metrics metrics;
	int running_fd;               /* db/running */
	uint64_t sig_reset;           /* runner_sig_changed() */
	bool *slot_used;
	size_t nslots;
	struct slot *old_slots;       /* what the last daemon left, at start */
	size_t nold_slots;
	int64_t metrics_at;           /* mono ms: the next metrics file */
	int64_t flushed_at;           /* mono ms: the last flush */
	int64_t timer_at;             /* mono ms the timerfd is set for */
	size_t trim_ops;              /* changes committed since store_trim() */
	int64_t prune_from[2];        /* completed, failed: history time reached */
	uint64_t rnd;
	uint64_t seq;
	struct cgroups cg;            /* a cgroup per handler, when on */
	uint64_t cg_seq;              /* makes cgroup names unique */
	int64_t cg_sweep_at;          /* mono ms: remove emptied cgroups */
	int64_t cg_sweep_ms;
};

/* ---- small helpers ---- */

static uint64_t
rnd_next(struct daemon *d)
{
	/* xorshift64*: plenty for ids and jitter, seeded from getrandom. */
	d->rnd ^= d->rnd >> 12;
	d->rnd ^= d->rnd << 25;
	d->rnd ^= d->rnd >> 27;
	return d->rnd * 2685821657736338717ULL;
}

/* Copy src into dst of size n, cut if it is longer; always terminated. */
static void
scopy(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i] != '\0'; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static const char *
djob_venue(const struct djob *j)
{
	return j->sj.group->venue;
}

static const char *
djob_provider(const struct djob *j)
{
	return j->sj.group->provider;
}

static void
djob_filename(const struct djob *j, char name[ID_MAX + 8])
{
	spool_id_to_name(j->id, name);
}

static void
djob_to_rec(const struct djob *j, struct jobrec *r)
{
	jobrec_init(r);
	scopy(r->id, sizeof(r->id), j->id);
	scopy(r->name, sizeof(r->name), j->name);
	scopy(r->venue, sizeof(r->venue), djob_venue(j));
	scopy(r->provider, sizeof(r->provider), djob_provider(j));
	scopy(r->sync_type, sizeof(r->sync_type), j->sync_type);
	r->state = j->state;
	r->priority = j->sj.priority;
	r->created = j->created;
	r->updated = util_now_ms();
	r->not_before = j->not_before;
	r->next_attempt = j->next_attempt;
	r->attempts = j->attempts;
	r->max_attempts = j->max_attempts;
	r->ino = j->ino;
	if (j->run != NULL && !j->run->reaped) {
		r->pid = j->run->run.pid;
		r->pid_start = j->run->run.start_ticks;
		scopy(r->boot_id, sizeof(r->boot_id), runner_boot_id());
	}
	/* What status shows as the next attempt: back-off or not_before. */
	if (j->not_before > r->next_attempt)
		r->next_attempt = j->not_before;
	r->last_exit = j->last_exit;
	r->last_signal = j->last_signal;
	scopy(r->last_error, sizeof(r->last_error),
	      j->last_error != NULL ? j->last_error : "");
}

static void
djob_put(struct daemon *d, const struct djob *j)
{
	struct jobrec r;

	djob_to_rec(j, &r);
	if (store_put_job(d->st, &r) < 0)
		log_error("event=oom job=%s msg=\"cannot queue a record\"", j->id);
}

/* Record an event in history and log it. */
static void
emit(struct daemon *d, const struct djob *j, enum event_type type,
     const struct run_status *rs, const char *error, const char *result)
{
	struct event e;
	char q[2 * ERROR_MAX + 8];

	event_init(&e);
	e.time = util_now_ms();
	e.type = type;
	scopy(e.job_id, sizeof(e.job_id), j->id);
	scopy(e.venue, sizeof(e.venue), djob_venue(j));
	scopy(e.provider, sizeof(e.provider), djob_provider(j));
	scopy(e.sync_type, sizeof(e.sync_type), j->sync_type);
	e.attempt = j->attempts;
	if (rs != NULL) {
		e.exit_code = rs->exit_code;
		e.signal = rs->signal;
		e.duration_ms = rs->duration_ms;
	}
	if (error != NULL)
		scopy(e.error, sizeof(e.error), error);
	if (result != NULL)
		scopy(e.result, sizeof(e.result), result);
	if (store_add_event(d->st, &e) < 0)
		log_error("event=oom job=%s msg=\"cannot queue an event\"", j->id);
	log_info("event=%s job=%s venue=%s provider=%s attempt=%u%s%s", event_name(type),
		 j->id, djob_venue(j), djob_provider(j), j->attempts,
		 e.error[0] ? " error=" : "",
		 e.error[0] ? log_quote(e.error, q, sizeof(q)) : "");
}

/* An event for a file that never became a live job (invalid, merged). */
static void
emit_rec(struct daemon *d, const struct jobrec *r, enum event_type type,
	 const char *error)
{
	struct event e;
	char q[2 * ERROR_MAX + 8];

	event_init(&e);
	e.time = util_now_ms();
	e.type = type;
	scopy(e.job_id, sizeof(e.job_id), r->id);
	scopy(e.venue, sizeof(e.venue), r->venue);
	scopy(e.provider, sizeof(e.provider), r->provider);
	scopy(e.sync_type, sizeof(e.sync_type), r->sync_type);
	scopy(e.error, sizeof(e.error), error);
	store_add_event(d->st, &e);
	log_msg(type == EV_INVALID ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
		"event=%s job=%s name=%s error=%s", event_name(type), r->id,
		log_quote(r->name, q, sizeof(q)),
		log_quote(error, q + ERROR_MAX + 4, ERROR_MAX + 4));
}

static struct djob *
djob_get(struct daemon *d, const char *id)
{
	return table_get(&d->jobs, id);
}

static void
djob_set_type(struct djob *j, const char *type)
{
	char *copy = NULL;

	if (j->sync_type != NULL && strcmp(j->sync_type, type) == 0)
		return;
	if (strcmp(type, djob_type_full) != 0 && (copy = strdup(type)) == NULL)
		return; /* keeps the old one: only memory is short */
	if (j->sync_type != djob_type_full)
		free((char *)j->sync_type);
	j->sync_type = copy != NULL ? copy : djob_type_full;
}

static void
djob_set_error(struct djob *j, const char *error)
{
	free(j->last_error);
	j->last_error = error != NULL && error[0] != '\0' ? strdup(error)
							  : NULL;
}

static struct djob *
djob_new(struct daemon *d, const char *id, const char *name,
	const char *provider, const char *venue)
{
	size_t idlen = strlen(id) + 1, namelen = strlen(name) + 1;
	/*
	 * The name lives after the id in the same block: neither changes
	 * while the job lives, and one malloc instead of two spares some 30
	 * bytes a job (3 MiB at 100,000 pending).
	 */
	struct djob *j = calloc(1, sizeof(*j) + idlen + namelen);

	if (j == NULL)
		return NULL;
	j->sj.group = sched_group_get(&d->sched, provider, venue);
	memcpy(j->id, id, idlen);
	j->name = j->id + idlen;
	memcpy(j->name, name, namelen);
	if (j->sj.group == NULL || table_put_ref(&d->jobs, j->id, j) < 0) {
		if (j->sj.group != NULL)
			sched_group_release(&d->sched, j->sj.group);
		free(j);
		return NULL;
	}
	/* Every live job holds its group, queued or not (paused). */
	j->sj.group->refs++;
	j->sync_type = djob_type_full;
	j->last_exit = -1;
	j->created = util_now_ms();
	j->sj.seq = d->seq++;
	return j;
}


/* Free j's memory; it is out of every table already. */
static void
djob_release(struct djob *j)
{
	if (j->sync_type != djob_type_full)
		free((char *)j->sync_type);
	free(j->last_error);
	free(j);
}

static void
djob_free(struct daemon *d, struct djob *j)
{
	assert(j->run == NULL);
	sched_merge_forget(j->sj.group, &j->sj);
	sched_remove(&d->sched, &j->sj);
	table_del(&d->jobs, j->id);
	assert(j->sj.group->refs > 0);
	j->sj.group->refs--;
	sched_group_release(&d->sched, j->sj.group);
	djob_release(j);
}

static void
djob_from_rec(struct djob *j, const struct jobrec *r)
{
	djob_set_type(j, r->sync_type);
	j->state = r->state;
	j->created = r->created;
	j->not_before = r->not_before;
	j->next_attempt = r->next_attempt;
	j->attempts = r->attempts;
	j->max_attempts = r->max_attempts;
	j->ino = r->ino;
	j->sj.priority = r->priority;
	j->last_exit = r->last_exit;
	j->last_signal = r->last_signal;
	djob_set_error(j, r->last_error);
}

/* The waiting job a new trigger of the same kind would merge into. */
static struct djob *
coalesce_target(struct daemon *d, const char *provider, const char *venue,
		const char *type)
{
	struct sched_group *g = sched_group_get(&d->sched, provider, venue);

	/* sj is the first member of struct djob. */
	return g != NULL ? (struct djob *)sched_merge_target(g, type) : NULL;
}

static void
coalesce_note(struct daemon *d, struct djob *j)
{
	const struct provider *p = config_provider(&d->cfg, djob_provider(j));

	if (p != NULL && p->coalesce &&
	    sched_merge_note(j->sj.group, j->sync_type, &j->sj) < 0)
		log_error("event=oom job=%s", j->id);
}

/* Queue j to run at its due time. */
static void
djob_enqueue(struct daemon *d, struct djob *j)
{
	int64_t now = util_now_ms();

	coalesce_note(d, j);
	j->sj.due = j->next_attempt > j->not_before ? j->next_attempt
						    : j->not_before;
	if (sched_add(&d->sched, &j->sj, now) < 0)
		log_error("event=oom job=%s msg=\"cannot queue the job\"", j->id);
}

static unsigned
effective_max_attempts(const struct provider *p, unsigned asked)
{
	return asked > 0 && asked < p->max_attempts ? asked : p->max_attempts;
}

/* Where is the file called name? The first state directory holding it. */
static enum job_state
locate(struct daemon *d, const char *name, struct stat *st)
{
	struct stat tmp;

	if (st == NULL)
		st = &tmp;
	for (int s = STATE_PENDING; s < STATE_COUNT; s++)
		if (fstatat(d->sp.dir_fd[s], name, st, AT_SYMLINK_NOFOLLOW) == 0)
			return s;
	return STATE_NONE;
}

static void
mark_dirty(struct daemon *d, enum job_state a, enum job_state b)
{
	d->dirty[a] = true;
	d->dirty[b] = true;
}

static void
want_io_retry(struct daemon *d)
{
	int64_t at = util_mono_ms() + IO_RETRY_MS;

	if (d->io_retry_at == 0 || at < d->io_retry_at)
		d->io_retry_at = at;
}

/* ---- cgroups ---- */

/* Keep to process groups for the rest of the daemon's life, and say why. */
static void
cgroups_off(struct daemon *d, const char *why)
{
	log_warn("event=cgroups state=unavailable error=\"%s\" msg=\"handlers "
		 "are contained by their process group only: what one starts "
		 "with setsid() can outlive its job\"", why);
	cgroup_close(&d->cg, false);
	d->cg_sweep_at = 0;
}

static void
cgroups_setup(struct daemon *d)
{
	char err[ERRLEN];
	struct stat st;

	if (d->cfg.cgroups_off) {
		log_info("event=cgroups state=off msg=\"cgroups: off in the "
			 "config; handlers are contained by their process "
			 "group\"");
		return;
	}
	if (fstat(d->sp.root_fd, &st) < 0) {
		cgroups_off(d, strerror(errno));
		return;
	}
	if (cgroup_open(&d->cg, st.st_dev, st.st_ino, err, sizeof(err)) < 0) {
		cgroups_off(d, err);
		return;
	}
	d->cg_seq = (uint64_t)util_now_ms();
	log_info("event=cgroups state=on path=%s", d->cg.path);
}

/*
 * A cgroup for a handler about to start: its name (in name), or NULL to
 * run it without one; *fd its directory. prefix NULL: an attempt's, an
 * idle one if there is one (see cgroup.h), else a new "run@<n>".
 */
static const char *
handler_cgroup_new(struct daemon *d, const char *prefix,
		   char name[CGROUP_NAME_MAX + 1], int *fd)
{
	int r;

	*fd = -1;
	if (!cgroup_on(&d->cg))
		return NULL;
	if (prefix == NULL && cgroup_reuse(&d->cg, name, fd) == 0)
		return name;
	snprintf(name, CGROUP_NAME_MAX + 1, "%s@%llu",
		 prefix != NULL ? prefix : "run",
		 (unsigned long long)++d->cg_seq);
	if ((r = cgroup_make(&d->cg, name, fd)) < 0) {
		log_warn("event=cgroup_failed cgroup=%s/%s error=\"%s\" "
			 "msg=\"this handler runs without a cgroup\"",
			 d->cg.path, name, strerror(-r));
		return NULL;
	}
	return name;
}

/*
 * A handler has ended (runner_reap() killed its cgroup if anything was
 * left in it): keep an attempt's emptied cgroup for the next, else remove.
 */
static void
handler_cgroup_done(struct daemon *d, struct run *run, bool keep)
{
	if (run->cg_name[0] == '\0')
		return;
	cgroup_release(&d->cg, run->cg_name, run->cg_killed, keep,
		       run->cg_empty_fd);
	run->cg_empty_fd = -1;
	run->cg_name[0] = '\0';
	if (d->cg.ndying > 0 && d->cg_sweep_at == 0) {
		d->cg_sweep_ms = CG_SWEEP_MIN_MS;
		d->cg_sweep_at = util_mono_ms() + d->cg_sweep_ms;
	}
}

/* Just started: a handler that could not be moved into its cgroup. */
static void
handler_cgroup_check(struct daemon *d, struct run *run)
{
	char why[PATH_MAX + CGROUP_NAME_MAX + 128];

	if (run->cg_error == 0)
		return;
	snprintf(why, sizeof(why), "cannot move a handler into %s/%s: %s",
		 d->cg.path, run->cg_name, strerror(-run->cg_error));
	handler_cgroup_done(d, run, false);
	cgroups_off(d, why);
}

static void
cgroups_sweep(struct daemon *d, int64_t now)
{
	if (d->cg_sweep_at == 0 || now < d->cg_sweep_at)
		return;
	if (cgroup_sweep(&d->cg) == 0) {
		d->cg_sweep_at = 0;
		return;
	}
	d->cg_sweep_ms *= 2;
	if (d->cg_sweep_ms > CG_SWEEP_MAX_MS)
		d->cg_sweep_ms = CG_SWEEP_MAX_MS;
	d->cg_sweep_at = now + d->cg_sweep_ms;
}

/* ---- the running file ---- */

/*
 * db/running names the handler running in each worker slot, one fixed
 * line per slot: "<job id> <pid> <starttime> <boot id>", blank when free.
 * A slot is written before its handler may exec (by the handler's own
 * process, between clone and exec: runner_start()), and not synced: what it
 * guards against is a daemon that dies while its handler lives on, and
 * the page cache survives that; after a power loss no handler survives.
 * So a handler never runs without a trace a restarted daemon can find,
 * and no fsync stands between a claim and the handler's start. One file
 * rewritten in place, not a file per job: creating and deleting a file
 * per job costs more than the write.
 */
#define SLOT_LEN 256
#define RUNNING_NAME "running"

struct slot {
	char id[ID_MAX + 1];
	pid_t pid;
	uint64_t start_ticks;
	char boot_id[BOOT_ID_LEN + 1];
};

static int
slot_store(struct daemon *d, size_t i, const char *line)
{
	char buf[SLOT_LEN];
	size_t n = strlen(line);

	assert(n < SLOT_LEN);
	memcpy(buf, line, n);
	memset(buf + n, ' ', SLOT_LEN - 1 - n);
	buf[SLOT_LEN - 1] = '\n';
	if (pwrite(d->running_fd, buf, SLOT_LEN, (off_t)(i * SLOT_LEN)) !=
	    SLOT_LEN)
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/* A free slot's index (not yet marked used), or -ENOMEM. */
static int
slot_find(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nslots && d->slot_used[i]; i++)
		;
	if (i == d->nslots) {
		bool *used = realloc(d->slot_used, (i + 1) * sizeof(*used));
		if (used == NULL)
			return -ENOMEM;
		d->slot_used = used;
		d->slot_used[d->nslots++] = false;
	}
	return (int)i;
}

/*
 * Take a free slot for run and record its handler there: for a job
 * handed to a persistent handler, which runs already. A one-shot
 * handler writes its own line before it execs (runner_start()).
 */
static int
slot_claim(struct daemon *d, const char *id, struct drun *r)
{
	char line[SLOT_LEN];
	size_t i;
	int rc;

	if ((rc = slot_find(d)) < 0)
		return rc;
	i = (size_t)rc;
	snprintf(line, sizeof(line), "%s %ld %llu %s", id, (long)r->run.pid,
		 (unsigned long long)r->run.start_ticks,
		 runner_boot_id() != NULL ? runner_boot_id() : "-");
	if (slot_store(d, i, line) < 0)
		return -EIO;
	d->slot_used[i] = true;
	r->slot = (int)i;
	return 0;
}

/*
 * The handler ended: its line stays until the outcome is committed, so
 * that a daemon dying in between still finds that an attempt ran.
 */
/* Free line i once the next commit has recorded how its attempt ended. */
static void
slot_free_after_commit(struct daemon *d, size_t i)
{
	size_t *v;

	v = realloc(d->slot_done, (d->nslot_done + 1) * sizeof(*v));
	if (v == NULL) {
		/* Short of memory: free it now. */
		slot_store(d, i, "");
		d->slot_used[i] = false;
		return;
	}
	d->slot_done = v;
	d->slot_done[d->nslot_done++] = i;
}

static void
slot_release_later(struct daemon *d, struct drun *r)
{
	if (r->slot < 0)
		return;
	slot_free_after_commit(d, (size_t)r->slot);
	r->slot = -1;
}

/* The sealed batch is committed: the lines its outcomes waited for go. */
static void
slots_release_committed(struct daemon *d)
{
	for (size_t i = 0; i < d->nsealed_slots; i++) {
		slot_store(d, d->sealed_slots[i], "");
		d->slot_used[d->sealed_slots[i]] = false;
	}
	free(d->sealed_slots);
	d->sealed_slots = NULL;
	d->nsealed_slots = 0;
}

/* Read the slots a previous daemon left; *out is malloc'd. */
static size_t
slots_load(struct daemon *d, struct slot **out)
{
	char buf[SLOT_LEN + 1];
	struct slot *v = NULL;
	size_t n = 0;
	struct stat st;

	*out = NULL;
	if (fstat(d->running_fd, &st) < 0 || st.st_size < SLOT_LEN)
		return 0;
	n = (size_t)st.st_size / SLOT_LEN;
	v = calloc(n, sizeof(*v));
	d->slot_used = calloc(n, sizeof(*d->slot_used));
	if (v == NULL || d->slot_used == NULL) {
		free(v);
		return 0;
	}
	d->nslots = n;
	for (size_t i = 0; i < n; i++) {
		long pid;
		unsigned long long ticks;
		char id[ID_MAX + 1];

		if (pread(d->running_fd, buf, SLOT_LEN, (off_t)(i * SLOT_LEN)) !=
		    SLOT_LEN)
			break;
		buf[SLOT_LEN] = '\0';
		/* A torn or blank line is as good as none. */
		if (sscanf(buf, "%128s %ld %llu %36s", id, &pid, &ticks,
			   v[i].boot_id) != 4 || pid <= 0)
			continue;
		scopy(v[i].id, sizeof(v[i].id), id);
		v[i].pid = (pid_t)pid;
		v[i].start_ticks = ticks;
	}
	*out = v;
	return n;
}

/* ---- runs ---- */

static void
run_signal(struct drun *r, int sig)
{
	runner_signal(&r->run, sig);
	if (sig == SIGTERM && r->kill_at == 0)
		r->kill_at = util_mono_ms() + KILL_GRACE_MS;
}

static int
run_watch(struct daemon *d, struct drun *r)
{
	struct epoll_event ev = {.events = EPOLLIN};

	r->tpid = (struct tag){.kind = TAG_PIDFD, .run = r};
	r->tout = (struct tag){.kind = TAG_OUT, .run = r};
	r->terr = (struct tag){.kind = TAG_ERR, .run = r};
	ev.data.ptr = &r->tpid;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, r->run.pidfd, &ev) < 0)
		return -errno;
	/*
	 * One-shot, re-armed after each drain: runner_drain() closes a pipe
	 * at EOF, and a sibling handler between its fork and its
	 * close_range() may still hold that pipe, which would keep the
	 * registration alive after this run is freed. A one-shot
	 * registration that is not re-armed never reports again.
	 */
	ev.events = EPOLLIN | EPOLLONESHOT;
	if (r->run.out_fd >= 0) {
		ev.data.ptr = &r->tout;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, r->run.out_fd, &ev) < 0)
			return -errno;
	}
	if (r->run.err_fd >= 0) {
		ev.data.ptr = &r->terr;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, r->run.err_fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static void
run_unlink(struct daemon *d, struct drun *r)
{
	struct drun **pp;

	for (pp = &d->runs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

/* ---- metrics ---- */

static void
count_attempt(struct daemon *d, const char *provider)
{
	struct metrics_provider *mp = metrics_provider(&d->metrics, provider);

	if (mp != NULL)
		mp->attempts++;
}

/* What an attempt's end adds to the counters. */
static void
count_outcome(struct daemon *d, const struct drun *r)
{
	struct metrics_provider *mp;
	enum metrics_reason why;

	if (r->run.adopted)
		return; /* its duration and outcome are unknown */
	mp = metrics_provider(&d->metrics, djob_provider(r->job));
	if (mp == NULL)
		return;
	metrics_duration(mp, r->rs.duration_ms);
	if (r->ev == EV_RETRY_SCHEDULED)
		mp->retries++;
	if (r->ev != EV_RETRY_SCHEDULED && r->ev != EV_FAILED &&
	    r->ev != EV_EXPIRED)
		return;
	why = r->ev == EV_EXPIRED ? REASON_EXPIRED
	      : r->timed_out	  ? REASON_TIMEOUT
	      : r->rs.signal != 0 ? REASON_SIGNAL
				  : REASON_EXIT;
	mp->failures[why]++;
}

static int
metrics_count_vp(const char *provider, const char *venue,
		 const struct vpstat *st, void *arg)
{
	struct metrics_provider *mp = metrics_provider(arg, provider);

	(void)venue;
	if (mp != NULL) {
		mp->jobs[STATE_COMPLETED] += st->counts[STATE_COMPLETED];
		mp->jobs[STATE_FAILED] += st->counts[STATE_FAILED];
	}
	return 0;
}

/* Fill the gauges and write the metrics file. */
static void
metrics_update(struct daemon *d)
{
	int64_t now = util_now_ms();
	struct table_entry *e = NULL;
	char err[ERRLEN], *text;
	struct statvfs vfs;
	size_t pos = 0;

	d->metrics_at = util_mono_ms() + METRICS_EVERY_MS;
	if (d->cfg.metrics == NULL)
		return;
	metrics_clear_gauges(&d->metrics);
	for (size_t i = 0; i < d->cfg.nproviders; i++)
		metrics_provider(&d->metrics, d->cfg.providers[i].name);
	/* Live jobs from memory; finished ones from the per-vp counts. */
	while ((e = table_next(&d->jobs, &pos, e)) != NULL) {
		struct djob *j = e->value;
		struct metrics_provider *mp =
			metrics_provider(&d->metrics, djob_provider(j));
		if (mp == NULL || j->state <= STATE_NONE ||
		    j->state >= STATE_COUNT)
			continue;
		mp->jobs[j->state]++;
		if (j->state == STATE_PENDING && now - j->created >
		    mp->oldest_pending_ms)
			mp->oldest_pending_ms = now - j->created;
	}
	store_vps(d->st, metrics_count_vp, &d->metrics);
	for (size_t i = 0; i < d->metrics.nprovs; i++) {
		struct sched_provider *sp = sched_provider_find(
			&d->sched, d->metrics.provs[i].name);
		d->metrics.provs[i].breaker_open =
			sp != NULL && sp->breaker.state != BREAKER_CLOSED;
	}
	if (fstatvfs(d->sp.root_fd, &vfs) == 0) {
		if (vfs.f_blocks > 0)
			d->metrics.free_space =
				(double)vfs.f_bavail / (double)vfs.f_blocks;
		if (vfs.f_files > 0)
			d->metrics.free_inodes =
				(double)vfs.f_favail / (double)vfs.f_files;
	}
	if (metrics_format(&d->metrics, &text) < 0)
		return;
	if (metrics_write(d->cfg.metrics, text, err, sizeof(err)) < 0)
		log_warn("event=metrics_failed error=\"%s\"", err);
	free(text);
}

/* ---- persistent handlers ---- */

static void
worker_break(struct pworker *w, const char *why)
{
	if (!w->broken) {
		w->broken = true;
		scopy(w->why, sizeof(w->why), why);
		log_warn("event=handler_broken provider=%s pid=%ld error=\"%s\"",
			 w->provider, (long)w->run.pid, why);
	}
	runner_signal(&w->run, SIGKILL);
}

/* A reply line: the busy attempt's outcome. */
static void
worker_reply(struct daemon *d, struct pworker *w, const char *line,
	     size_t len)
{
	struct runner_reply rep;
	char err[ERRLEN];
	struct drun *r = w->busy;

	(void)d;
	if (r == NULL) {
		worker_break(w, "it answered when it had no job");
		return;
	}
	if (runner_reply_parse(line, len, &rep, err, sizeof(err)) < 0) {
		worker_break(w, err);
		return;
	}
	if (strcmp(rep.job_id, r->job->id) != 0) {
		snprintf(err, sizeof(err), "it answered for job %s while "
			 "running %s", rep.job_id, r->job->id);
		worker_break(w, err);
		return;
	}
	r->rs.exit_code = rep.exit_code;
	r->rs.signal = 0;
	r->rs.duration_ms = (uint64_t)(util_mono_ms() - r->run.started_mono);
	scopy(r->result, sizeof(r->result), rep.result);
	if (rep.error[0] != '\0')
		scopy(r->run.last_err, sizeof(r->run.last_err), rep.error);
	r->replied = true;
	r->exited = true;
	w->busy = NULL;
}

static void
worker_read_out(struct daemon *d, struct pworker *w)
{
	char chunk[4096];
	ssize_t n;

	while (!w->broken && (n = read(w->run.out_fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < n && !w->broken; i++) {
			if (chunk[i] != '\n') {
				if (w->len == REPLY_MAX) {
					worker_break(w, "a reply line longer "
						     "than 64 KiB");
					break;
				}
				w->buf[w->len++] = chunk[i];
				continue;
			}
			worker_reply(d, w, w->buf, w->len);
			w->len = 0;
		}
	}
}

static void
worker_read_err(struct pworker *w)
{
	char chunk[4096];
	ssize_t n;

	/* Bounded: one chatty handler cannot hold the loop. */
	for (int i = 0; i < 16; i++) {
		n = read(w->run.err_fd, chunk, sizeof(chunk));
		if (n <= 0)
			return;
		if (w->busy != NULL)
			runner_log_feed(&w->busy->run, chunk, (size_t)n);
	}
}

static struct pworker *
worker_spawn(struct daemon *d, const struct provider *p, char *err,
	     size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct pworker *w = calloc(1, sizeof(*w));
	char cgname[CGROUP_NAME_MAX + 1], prefix[TOKEN_MAX + 8];
	const char *cgn;
	int cgfd;

	if (w == NULL || (w->buf = malloc(REPLY_MAX)) == NULL) {
		free(w);
		util_seterr(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(prefix, sizeof(prefix), "worker.%s", p->name);
	cgn = handler_cgroup_new(d, prefix, cgname, &cgfd);
	if (runner_start_worker(p, &d->sig_reset, cgfd, cgn, &w->run,
				&w->in_fd, err, errlen) < 0) {
		if (cgn != NULL)
			cgroup_remove(&d->cg, cgn);
		free(w->buf);
		free(w);
		return NULL;
	}
	handler_cgroup_check(d, &w->run);
	scopy(w->provider, sizeof(w->provider), p->name);
	w->tpid = (struct tag){.kind = TAG_WPID, .worker = w};
	w->tout = (struct tag){.kind = TAG_WOUT, .worker = w};
	w->terr = (struct tag){.kind = TAG_WERR, .worker = w};
	/*
	 * Level-triggered is safe here: these fds close only in
	 * workers_reap(), after they are taken off epoll.
	 */
	ev.data.ptr = &w->tpid;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->run.pidfd, &ev);
	ev.data.ptr = &w->tout;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->run.out_fd, &ev);
	ev.data.ptr = &w->terr;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->run.err_fd, &ev);
	w->next = d->workers;
	d->workers = w;
	log_info("event=handler_started provider=%s pid=%ld mode=persistent",
		 p->name, (long)w->run.pid);
	return w;
}

/* An idle persistent handler of the provider, started if need be. */
static struct pworker *
worker_get(struct daemon *d, const struct provider *p, char *err,
	   size_t errlen)
{
	for (struct pworker *w = d->workers; w != NULL; w = w->next)
		if (w->busy == NULL && !w->exited && !w->broken &&
		    strcmp(w->provider, p->name) == 0)
			return w;
	return worker_spawn(d, p, err, errlen);
}

/* Persistent handlers that exited: reap them; a busy one's job ends. */
static void
workers_reap(struct daemon *d)
{
	struct pworker **pp = &d->workers, *w;
	struct run_status rs;

	while ((w = *pp) != NULL) {
		if (!w->exited) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->run.pidfd, NULL);
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->run.out_fd, NULL);
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->run.err_fd, NULL);
		worker_read_err(w);
		runner_reap(&w->run, &rs);
		handler_cgroup_done(d, &w->run, false);
		if (w->busy != NULL) {
			struct drun *r = w->busy;
			r->rs = rs;
			r->rs.duration_ms =
				(uint64_t)(util_mono_ms() - r->run.started_mono);
			if (w->broken)
				scopy(r->run.last_err, sizeof(r->run.last_err),
				      w->why);
			r->exited = true;
			r->worker = NULL;
		}
		log_msg(w->busy != NULL || w->broken ? LOG_LEVEL_WARN
						     : LOG_LEVEL_INFO,
			"event=handler_exited provider=%s pid=%ld exit=%d "
			"signal=%d busy=%s", w->provider, (long)w->run.pid,
			rs.exit_code, rs.signal,
			w->busy != NULL ? w->busy->job->id : "-");
		if (w->in_fd >= 0)
			close(w->in_fd);
		free(w->buf);
		free(w);
	}
}

/* Hand one attempt to a persistent handler. */
static int
worker_begin(struct daemon *d, struct drun *r,
	     const struct runner_spec *spec, char *err, size_t errlen)
{
	struct djob *j = r->job;
	struct pworker *w;
	char *line = NULL;
	size_t len;
	ssize_t n;
	int rc;

	w = worker_get(d, spec->prov, err, errlen);
	if (w == NULL)
		return -EAGAIN;
	rc = runner_job_line(spec, &line, &len);
	if (rc < 0) {
		util_seterr(err, errlen, "cannot encode the job: %s",
			    strerror(-rc));
		return rc;
	}
	runner_log_begin(d->sp.logs_fd, j->id, spec->attempt, w->run.pid,
			 d->cfg.log_max, &r->run);
	r->run.start_ticks = w->run.start_ticks;
	r->run.pidfd = r->run.out_fd = r->run.err_fd = -1;
	/* Recorded first, as for any handler: then it may run. */
	r->slot = -1;
	if ((rc = slot_claim(d, j->id, r)) < 0) {
		util_seterr(err, errlen, "cannot write db/running: %s",
			    strerror(-rc));
		runner_abandon(&r->run);
		free(line);
		return rc;
	}
	/* Its pipe is empty and holds a whole line: this never blocks. */
	n = write(w->in_fd, line, len);
	free(line);
	r->worker = w;
	w->busy = r;
	if (n != (ssize_t)len)
		worker_break(w, n < 0 ? strerror(errno)
				      : "its stdin took only part of a job");
	return 0;
}

static void disk_trouble(struct daemon *d, int rc);

/* ---- moving a job on ---- */

/*
 * Move j's file from its state to `to` and record it. On a failure other
 * than ENOENT the job stays where it durably is; the caller retries.
 */
static int
djob_move(struct daemon *d, struct djob *j, enum job_state to)
{
	char name[ID_MAX + 8];
	int rc;

	djob_filename(j, name);
	rc = spool_move(&d->sp, j->state, name, to, NULL);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_error("event=move_failed job=%s from=%s to=%s "
				  "error=\"%s\"", j->id, state_name(j->state),
				  state_name(to), strerror(-rc));
		disk_trouble(d, rc);
		return rc;
	}
	mark_dirty(d, j->state, to);
	j->state = to;
	return 0;
}

static void djob_observe(struct daemon *d, struct djob *j);
static void djob_settle(struct daemon *d, struct djob *j, bool fresh);

/* What an attempt's end means, decided once, when the handler is reaped. */
static void
run_conclude(struct daemon *d, struct drun *r)
{
	struct djob *j = r->job;
	const struct provider *p = config_provider(&d->cfg, djob_provider(j));
	char rname[ID_MAX + 16];
	enum outcome out;

	/*
	 * The pidfd was readable, so the handler has exited and this cannot
	 * be -EAGAIN; any other failure leaves the status unknown, which
	 * counts as "any other exit" (a retry).
	 */
	if (r->persistent) {
		/* Its reply, or its handler's death, said how it went. */
		if (!r->replied) {
			if (r->rs.signal == 0)
				r->rs.exit_code = -1; /* unknown: a retry */
			if (r->run.last_err[0] == '\0')
				scopy(r->run.last_err, sizeof(r->run.last_err),
				      "the persistent handler exited without "
				      "answering");
		}
		runner_log_end(&r->run, &r->rs);
	} else {
		r->rs.exit_code = -1;
		runner_reap(&r->run, &r->rs);
		handler_cgroup_done(d, &r->run, true);
	}
	if (r->run.log_errno != 0)
		log_warn("event=log_failed job=%s error=\"logs/%s.log: %s\" "
			 "msg=\"the handler's output was lost\"", j->id, j->id,
			 strerror(r->run.log_errno));
	r->reaped = true;
	slot_release_later(d, r);
	if (!r->freed)
		sched_done(&d->sched, j->sj.group);
	snprintf(rname, sizeof(rname), "%s.result", j->id);
	if (r->result[0] == '\0')
		runner_result_read(d->sp.logs_fd, rname, r->result);
	scopy(r->error, sizeof(r->error), r->run.last_err);
	if (r->timed_out)
		snprintf(r->error, sizeof(r->error), "timed out after %llu ms",
			 (unsigned long long)r->timeout_ms);
	j->last_exit = r->rs.exit_code;
	j->last_signal = r->rs.signal;
	djob_set_error(j, r->error);
	if (r->run.exec_errno != 0 && p != NULL)
		log_error("event=exec_failed job=%s command=%s error=\"%s\"",
			  j->id, p->command[0], strerror(r->run.exec_errno));
	if (r->run.setup_errno != 0) {
		/*
		 * Its process failed before exec (db/running could not be
		 * written, say) and ran nothing: a resource failure of ours,
		 * not the job's, as when the spawn itself fails.
		 */
		log_error("event=spawn_failed job=%s error=\"%s\"", j->id,
			  r->run.last_err);
		r->to = STATE_PENDING;
		r->ev = EV_DEFERRED;
		r->defer_ms = IO_RETRY_MS;
		return;
	}
	if (r->run.adopted) {
		/* Not our child: its outcome is unknown. Run it again. */
		r->to = STATE_PENDING;
		r->ev = EV_INTERRUPTED;
		scopy(r->error, sizeof(r->error), "the handler outlived a "
		      "daemon restart; its outcome is unknown");
		return;
	}
	out = sched_outcome(r->rs.exit_code, r->rs.signal, r->timed_out);
	if (r->rs.exit_code == 75 && p != NULL) {
		/*
		 * "Slow down": exit 75 with retry_after in the result defers
		 * the job by that long and uses no attempt.
		 */
		char v[32];
		uint64_t secs;
		if (runner_result_get(r->result, "retry_after", v,
				      sizeof(v)) == 0 &&
		    util_parse_uint(v, 366ULL * 86400, &secs) == 0) {
			r->to = STATE_PENDING;
			r->ev = EV_DEFERRED;
			r->defer_ms = secs * 1000;
			snprintf(r->error, sizeof(r->error), "the handler asked "
				 "to be called again in %llu s",
				 (unsigned long long)secs);
			return;
		}
	}
	if (p == NULL) {
		out = OUTCOME_FAILED;
		snprintf(r->error, sizeof(r->error), "provider '%s' is no "
			 "longer configured", djob_provider(j));
	}
	if (out == OUTCOME_RETRY && j->attempts >= j->max_attempts) {
		out = OUTCOME_FAILED;
		if (r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error),
				 "attempts used up (%u)", j->attempts);
	}
	switch (out) {
	case OUTCOME_COMPLETED:
		r->to = STATE_COMPLETED, r->ev = EV_COMPLETED;
		break;
	case OUTCOME_FAILED:
		r->to = STATE_FAILED, r->ev = EV_FAILED;
		break;
	case OUTCOME_RETRY:
		r->to = STATE_PENDING, r->ev = EV_RETRY_SCHEDULED;
		break;
	}
}

/* An event of a provider as a whole (its breaker), in its history. */
static void
emit_provider(struct daemon *d, const char *provider, enum event_type type,
	      const char *error)
{
	struct event e;

	event_init(&e);
	e.time = util_now_ms();
	e.type = type;
	scopy(e.provider, sizeof(e.provider), provider);
	scopy(e.error, sizeof(e.error), error);
	store_add_event(d->st, &e);
	log_warn("event=%s provider=%s msg=\"%s\"", event_name(type), provider,
		 error);
}

/*
 * The breaker's state in LMDB, so that `syncspool status` can show it and
 * a restart keeps it: "v1 open|closed UNTIL FAILURES" under the meta key
 * "breaker/<provider>".
 */
static void
breaker_save(struct daemon *d, const struct sched_provider *sp)
{
	char key[TOKEN_MAX + 16], val[96];
	int n;

	snprintf(key, sizeof(key), "breaker/%s", sp->name);
	n = snprintf(val, sizeof(val), "v1 %s %lld %u",
		     sp->breaker.state == BREAKER_CLOSED ? "closed" : "open",
		     (long long)sp->breaker.until, sp->breaker.failures);
	if (store_put_meta(d->st, key, val, (size_t)n) < 0)
		log_error("event=oom provider=%s", sp->name);
}

static void
breaker_load(struct daemon *d)
{
	for (size_t i = 0; i < d->cfg.nproviders; i++) {
		struct sched_provider *sp = sched_provider_find(
			&d->sched, d->cfg.providers[i].name);
		char key[TOKEN_MAX + 16], val[96], state[16];
		long long until;
		unsigned failures;
		size_t len;

		snprintf(key, sizeof(key), "breaker/%s",
			 d->cfg.providers[i].name);
		if (sp == NULL || sp->breaker.threshold == 0 ||
		    store_get_meta(d->st, key, val, sizeof(val) - 1, &len) < 0)
			continue;
		val[len] = '\0';
		if (sscanf(val, "v1 %15s %lld %u", state, &until,
			   &failures) != 3)
			continue;
		sp->breaker.failures = failures;
		if (strcmp(state, "open") == 0) {
			sp->breaker.state = BREAKER_OPEN;
			sp->breaker.until = until;
		}
	}
}

/* Tell the provider's breaker how the attempt went. */
static void
breaker_feed(struct daemon *d, const char *provider, enum event_type ev)
{
	struct sched_provider *sp = sched_provider_find(&d->sched, provider);
	enum breaker_change c;
	char why[128];

	if (sp == NULL)
		return;
	switch (ev) {
	case EV_COMPLETED:
	case EV_FAILED:
	case EV_RETRY_SCHEDULED:
	case EV_EXPIRED:
		c = sched_breaker_result(&sp->breaker, ev == EV_COMPLETED,
					 util_now_ms());
		break;
	default:
		/* Deferred, cancelled, interrupted: no verdict. */
		sched_breaker_abandoned(&sp->breaker);
		return;
	}
	if (c == BREAKER_OPENED) {
		snprintf(why, sizeof(why), "%u failed attempts in a row; jobs "
			 "held for %llu ms, then one probe",
			 sp->breaker.failures,
			 (unsigned long long)sp->breaker.cooldown_ms);
		emit_provider(d, provider, EV_BREAKER_OPEN, why);
	} else if (c == BREAKER_CLOSED_AGAIN) {
		emit_provider(d, provider, EV_BREAKER_CLOSED,
			      "the probe succeeded");
	}
	if (c != BREAKER_SAME)
		breaker_save(d, sp);
}

/*
 * When a job going back to pending would run next, or that it has
 * outlived its provider's max_age and must fail as expired instead.
 */
static bool
run_next_attempt(struct daemon *d, struct drun *r, const struct provider *p)
{
	struct djob *j = r->job;
	int64_t now = util_now_ms(), since;

	if (r->ev == EV_INTERRUPTED || p == NULL) {
		j->next_attempt = 0;
		return true;
	}
	since = j->not_before > j->created ? j->not_before : j->created;
	if (sched_retry_at(now, since, p->max_age_ms, r->ev == EV_DEFERRED,
			   r->defer_ms, p->backoff_initial_ms,
			   p->backoff_max_ms, j->attempts, rnd_next(d),
			   &j->next_attempt))
		return true;
	r->to = STATE_FAILED;
	r->ev = EV_EXPIRED;
	snprintf(r->error, sizeof(r->error), "expired: it would still be "
		 "waiting more than max_age (%llu s) after it was queued",
		 (unsigned long long)(p->max_age_ms / 1000));
	j->next_attempt = 0;
	return false;
}

/*
 * Move the job on as concluded, and record it. False when the move
 * failed (ENOSPC, EIO): the job stays where it durably is, in processing,
 * and the move is tried again later.
 */
static bool
run_apply(struct daemon *d, struct drun *r)
{
	struct djob *j = r->job;
	const struct provider *p = config_provider(&d->cfg, djob_provider(j));
	int64_t next = 0;
	int rc;

	if (r->cancelled) {
		/* Its file left processing while it ran: a stop, or by hand. */
		j->run = NULL;
		breaker_feed(d, djob_provider(j), EV_CANCELLED);
		emit(d, j, EV_CANCELLED, &r->rs, r->cancel_why, r->result);
		if (j->state == STATE_NONE)
			emit(d, j, EV_DROPPED, NULL, "the job file was removed",
			     NULL);
		djob_put(d, j);
		djob_settle(d, j, true);
		return true;
	}
	if (r->to == STATE_PENDING) {
		run_next_attempt(d, r, p);
		next = j->next_attempt;
	}
	rc = djob_move(d, j, r->to);
	if (rc == -ENOENT) {
		/* Moved by someone an instant ago: record what they did. */
		j->run = NULL;
		djob_observe(d, j);
		return true;
	}
	if (rc < 0)
		return false;
	j->run = NULL;
	j->next_attempt = next;
	count_outcome(d, r);
	emit(d, j, r->ev, &r->rs, r->error[0] ? r->error : NULL, r->result);
	/* After the attempt's event: the history says why it opened. */
	breaker_feed(d, djob_provider(j), r->ev);
	/* Neither an interruption nor a deferral uses an attempt. */
	if ((r->ev == EV_INTERRUPTED || r->ev == EV_DEFERRED) &&
	    j->attempts > 0)
		j->attempts--;
	djob_put(d, j);
	if (r->to == STATE_PENDING)
		djob_enqueue(d, j);
	else
		djob_free(d, j);
	return true;
}

/* ---- observing moves made by others ---- */

/*
 * After looking at j: keep it queued if it waits in pending (from now on
 * when `fresh`, i.e. resumed or retried), keep it if paused, and forget it
 * once its file is in completed, failed or gone.
 */
static void
djob_settle(struct daemon *d, struct djob *j, bool fresh)
{
	if (j->run != NULL)
		return;
	if (j->state == STATE_PENDING) {
		if (fresh)
			j->next_attempt = 0;
		if (!j->sj.queued)
			djob_enqueue(d, j);
	} else if (j->state != STATE_PAUSED) {
		djob_free(d, j);
	}
}

/*
 * Find where j's file is and, if that is not where we had it, record the
 * move someone else made (DESIGN.md's table of moves).
 */
static void
djob_observe(struct daemon *d, struct djob *j)
{
	char name[ID_MAX + 8];
	enum job_state was = j->state, now;
	struct stat st;

	djob_filename(j, name);
	now = locate(d, name, &st);
	if (now == was) {
		djob_settle(d, j, false);
		return;
	}
	sched_remove(&d->sched, &j->sj);
	j->state = now;
	if (was == STATE_PROCESSING && j->run != NULL) {
		/*
		 * A stop (or a move by hand) of a running job: kill the
		 * handler's group; run_apply() records it once it is gone.
		 */
		struct drun *r = j->run;
		if (!r->cancelled) {
			r->cancelled = true;
			if (now == STATE_PAUSED)
				scopy(r->cancel_why, sizeof(r->cancel_why),
				      "stopped while running");
			else
				snprintf(r->cancel_why, sizeof(r->cancel_why),
					 "moved from processing to %s while "
					 "running", state_name(now));
			if (!r->reaped)
				run_signal(r, SIGTERM);
		}
		djob_put(d, j);
		return;
	}
	switch (now) {
	case STATE_PENDING:
		if (was == STATE_FAILED || was == STATE_COMPLETED) {
			j->attempts = 0;
			emit(d, j, EV_RETRIED, NULL, NULL, NULL);
		} else {
			emit(d, j, EV_RESUMED, NULL, NULL, NULL);
		}
		break;
	case STATE_PAUSED:
		emit(d, j, was == STATE_PROCESSING ? EV_CANCELLED : EV_PAUSED,
		     NULL, was == STATE_PROCESSING ? "stopped while running"
						   : NULL, NULL);
		break;
	case STATE_NONE:
		emit(d, j, EV_DROPPED, NULL, "the job file was removed", NULL);
		break;
	default: {
		char why[96];
		snprintf(why, sizeof(why), "moved from %s to %s by hand",
			 state_name(was), state_name(now));
		emit(d, j, EV_CANCELLED, NULL, why, NULL);
		break;
	}
	}
	djob_put(d, j);
	djob_settle(d, j, true);
}

/* ---- uploads: settling, validation, acceptance ---- */

static void
cand_unlink(struct daemon *d, struct cand *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->cand_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		d->cand_tail = c->prev;
	c->prev = c->next = NULL;
}

static void
cand_append(struct daemon *d, struct cand *c)
{
	c->prev = d->cand_tail;
	c->next = NULL;
	if (d->cand_tail != NULL)
		d->cand_tail->next = c;
	else
		d->cand_head = c;
	d->cand_tail = c;
}

/* Seen name in pending: (re)start its settle clock, or take it at once. */
static void
cand_put(struct daemon *d, const char *name, bool at_once, bool moved)
{
	struct cand *c = table_get(&d->cands, name);
	int64_t now = util_mono_ms();

	if (c == NULL) {
		size_t n = strlen(name);
		c = calloc(1, sizeof(*c) + n + 1);
		if (c != NULL)
			memcpy(c->name, name, n + 1);
		if (c == NULL || table_put_ref(&d->cands, c->name, c) < 0) {
			free(c);
			log_error("event=oom name=%s", name);
			return;
		}
	} else {
		cand_unlink(d, c);
	}
	c->moved = moved;
	/*
	 * Settle times are equal for all, so appending keeps the list in
	 * due order; a file due now goes first.
	 */
	if (at_once) {
		c->due = now;
		c->next = d->cand_head;
		c->prev = NULL;
		if (d->cand_head != NULL)
			d->cand_head->prev = c;
		else
			d->cand_tail = c;
		d->cand_head = c;
	} else {
		c->due = now + (int64_t)d->cfg.settle_ms;
		cand_append(d, c);
	}
}

/* A file appeared or changed in pending: renamed in (moved), or not. */
static void
cand_touch(struct daemon *d, const char *name, bool moved)
{
	cand_put(d, name, moved, moved);
}

/*
 * Has the file in pending been unchanged (ctime) for the settle time?
 * Then the in-place rules can be checked at once.
 */
static bool
cand_settled(struct daemon *d, const char *name, int64_t wall)
{
	struct stat st;
	int64_t changed;

	if (fstatat(d->sp.dir_fd[STATE_PENDING], name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0)
		return true; /* gone, or not ours to wait for: look now */
	changed = (int64_t)st.st_ctim.tv_sec * 1000 +
		  st.st_ctim.tv_nsec / 1000000;
	return wall >= changed + (int64_t)d->cfg.settle_ms;
}

static void
cand_drop(struct daemon *d, struct cand *c)
{
	cand_unlink(d, c);
	table_del(&d->cands, c->name);
	free(c);
}

/*
 * Move an upload that does not become a live job out of pending under a
 * fresh id, with the reason in history: to failed when it is not a valid
 * job (EV_INVALID), to completed when it was merged into a waiting job
 * (EV_COALESCED).
 */
static int
park(struct daemon *d, const char *name, const struct stat *st,
     const struct job *job, enum job_state to, enum event_type ev,
     const char *reason)
{
	struct jobrec r;
	char stem[ID_MAX + 1], newname[ID_MAX + 8];
	int rc = -EEXIST;

	jobrec_init(&r);
	spool_stem(name, stem);
	for (int tries = 0; tries < 8 && rc == -EEXIST; tries++) {
		spool_id_make(stem, util_now_ms(), (uint32_t)rnd_next(d), r.id);
		spool_id_to_name(r.id, newname);
		rc = spool_move(&d->sp, STATE_PENDING, name, to, newname);
	}
	if (rc < 0) {
		if (rc != -ENOENT)
			log_error("event=move_failed name=%s to=%s "
				  "error=\"%s\"", name, state_name(to),
				  strerror(-rc));
		return rc;
	}
	mark_dirty(d, STATE_PENDING, to);
	scopy(r.name, sizeof(r.name), name);
	if (job != NULL) {
		scopy(r.venue, sizeof(r.venue), job->venue_id);
		scopy(r.provider, sizeof(r.provider), job->provider);
		scopy(r.sync_type, sizeof(r.sync_type), job->sync_type);
		r.priority = job->priority;
		r.not_before = job->not_before;
	}
	r.state = to;
	r.created = r.updated = util_now_ms();
	r.ino = st != NULL ? (uint64_t)st->st_ino : 0;
	scopy(r.last_error, sizeof(r.last_error), reason);
	store_put_job(d->st, &r);
	emit_rec(d, &r, ev, reason);
	if (ev == EV_INVALID) {
		struct metrics_provider *mp = metrics_provider(&d->metrics,
							       r.provider);
		if (mp != NULL)
			mp->failures[REASON_INVALID]++;
	}
	return 0;
}

static void
known_providers(const struct config *cfg, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->nproviders && o + 2 < len; i++) {
		int n = snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
				 cfg->providers[i].name);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

enum accept_result { ACCEPT_DONE, ACCEPT_LATER, ACCEPT_RETRY_IO };

/*
 * Take the upload `name` in pending: validate it and queue it as a job,
 * or quarantine it. A file already named for a job we know (a retry, a
 * resume, our own restart) becomes that job again.
 */
static enum accept_result
accept_file(struct daemon *d, struct cand *c)
{
	char err[ERRLEN], why[ERRLEN + 64], id[ID_MAX + 1], stem[ID_MAX + 1];
	char newname[ID_MAX + 8];
	const char *name = c->name;
	struct jobrec rec;
	bool known = false, keep_id = false;
	struct job job = {0};
	struct stat st;
	struct djob *j;
	char *buf = NULL;
	size_t len;
	int rc;
	enum accept_result res = ACCEPT_DONE;
	const struct provider *p;

	if (spool_name_to_id(name, id) == 0) {
		j = djob_get(d, id);
		if (j != NULL) {
			djob_observe(d, j);
			return ACCEPT_DONE;
		}
		if (fstatat(d->sp.dir_fd[STATE_PENDING], name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
			return ACCEPT_DONE; /* gone already */
		rc = store_job_get(d->st, id, &rec);
		/*
		 * A known id in pending is that job moved back (a retry, a
		 * resume), even if edited on the way (a new inode), unless
		 * its file is still where the record says: then this is a
		 * copy, and a copy is a new job.
		 */
		known = rc == 0 && (rec.state == STATE_PENDING ||
				    rec.state == STATE_NONE ||
				    fstatat(d->sp.dir_fd[rec.state], name, &st,
					    AT_SYMLINK_NOFOLLOW) < 0);
		keep_id = rc == -ENOENT && spool_id_stamped(id);
	}
	if (!known && !c->moved) {
		/*
		 * Written in place: wait until nobody writes it and it has
		 * been unchanged (ctime, which no client can set) for the
		 * settle time.
		 */
		int64_t now = util_now_ms(), changed;
		if (fstatat(d->sp.dir_fd[STATE_PENDING], name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
			return ACCEPT_DONE;
		changed = (int64_t)st.st_ctim.tv_sec * 1000 +
			  st.st_ctim.tv_nsec / 1000000;
		if (now < changed + (int64_t)d->cfg.settle_ms)
			return ACCEPT_LATER;
		if (S_ISREG(st.st_mode)) {
			int w = spool_has_writer(&d->sp, STATE_PENDING, name);
			if (w == 1)
				return ACCEPT_LATER;
			if ((w == -EACCES || w == -EPERM) && !d->lease_warned) {
				/* Not the file's owner and no CAP_LEASE. */
				d->lease_warned = true;
				log_warn("event=no_leases msg=\"cannot ask whether "
					 "an upload is still open for writing "
					 "(%s); relying on the settle time alone. "
					 "Grant syncspoold CAP_LEASE\"",
					 strerror(-w));
			}
		}
	}

	rc = spool_read_job(&d->sp, STATE_PENDING, name, JOB_MAX_SIZE, &buf,
			    &len, &st, err, sizeof(err));
	if (rc == -ENOENT)
		return ACCEPT_DONE;
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		return ACCEPT_LATER; /* a writer holds a lease on it */
	if (rc == -ENOMEM || rc == -EIO || rc == -EMFILE || rc == -ENFILE)
		return ACCEPT_RETRY_IO;
	if (rc < 0) {
		snprintf(why, sizeof(why), "%.200s %.300s", name, err);
		goto invalid;
	}
	if (job_parse(buf, len, &job, err, sizeof(err)) < 0) {
		scopy(why, sizeof(why), err);
		goto invalid;
	}
	p = config_provider(&d->cfg, job.provider);
	if (p == NULL) {
		char list[256];
		known_providers(&d->cfg, list, sizeof(list));
		snprintf(why, sizeof(why),
			 "provider '%s' is not configured (known: %s)",
			 job.provider, list);
		goto invalid;
	}
	if (!known && p->coalesce) {
		struct djob *into = coalesce_target(d, job.provider,
						    job.venue_id, job.sync_type);
		if (into != NULL) {
			snprintf(why, sizeof(why), "merged into %s", into->id);
			rc = park(d, name, &st, &job, STATE_COMPLETED,
				  EV_COALESCED, why);
			if (rc == 0 && job.priority > into->sj.priority) {
				/* The merged trigger's urgency is kept. */
				sched_remove(&d->sched, &into->sj);
				into->sj.priority = job.priority;
				djob_enqueue(d, into);
				djob_put(d, into);
			}
			if (rc < 0 && rc != -ENOENT)
				res = ACCEPT_RETRY_IO;
			goto out;
		}
	}
	if (known) {
		scopy(newname, sizeof(newname), name);
	} else if (keep_id) {
		scopy(newname, sizeof(newname), name);
	} else {
		spool_stem(name, stem);
		rc = -EEXIST;
		for (int tries = 0; tries < 8 && rc == -EEXIST; tries++) {
			spool_id_make(stem, util_now_ms(), (uint32_t)rnd_next(d),
				      id);
			if (djob_get(d, id) != NULL)
				continue;
			if (store_job_get(d->st, id, &rec) == 0)
				continue;
			spool_id_to_name(id, newname);
			rc = spool_move(&d->sp, STATE_PENDING, name,
					STATE_PENDING, newname);
		}
		if (rc == -ENOENT)
			goto out;
		if (rc < 0) {
			log_error("event=move_failed name=%s error=\"%s\"", name,
				  strerror(-rc));
			res = ACCEPT_RETRY_IO;
			goto out;
		}
		d->dirty[STATE_PENDING] = true;
	}
	if (keep_id || !known)
		spool_name_to_id(newname, id);
	j = djob_new(d, id, known ? rec.name : name, job.provider,
		    job.venue_id);
	if (j == NULL) {
		res = ACCEPT_RETRY_IO;
		goto out;
	}
	if (known)
		djob_from_rec(j, &rec);
	djob_set_type(j, job.sync_type);
	j->sj.priority = job.priority;
	j->not_before = job.not_before;
	j->max_attempts = effective_max_attempts(p, job.max_attempts);
	j->ino = (uint64_t)st.st_ino;
	j->state = STATE_PENDING;
	if (!known || rec.state == STATE_NONE) {
		emit(d, j, EV_QUEUED, NULL, NULL, NULL);
	} else if (rec.state == STATE_FAILED || rec.state == STATE_COMPLETED) {
		j->attempts = 0;
		j->next_attempt = 0;
		emit(d, j, EV_RETRIED, NULL, NULL, NULL);
	} else if (rec.state == STATE_PAUSED) {
		j->next_attempt = 0;
		emit(d, j, EV_RESUMED, NULL, NULL, NULL);
	} else if (rec.state == STATE_PROCESSING) {
		/* Moved out of processing while no daemon watched. */
		emit(d, j, EV_INTERRUPTED, NULL,
		     "moved back to pending while the daemon was down", NULL);
		if (j->attempts > 0)
			j->attempts--;
	}
	djob_put(d, j);
	djob_enqueue(d, j);
	goto out;

invalid:
	rc = park(d, name, buf != NULL ? &st : NULL,
		  job.venue_id[0] ? &job : NULL, STATE_FAILED, EV_INVALID, why);
	if (rc < 0 && rc != -ENOENT)
		res = ACCEPT_RETRY_IO;
out:
	job_free(&job);
	free(buf);
	return res;
}

/* A handler still runs: its end will want a flush, and its slot a next job. */
static bool
runs_active(const struct daemon *d)
{
	for (const struct drun *r = d->runs; r != NULL; r = r->next)
		if (!r->exited)
			return true;
	return false;
}

/*
 * Take the settled uploads whose time has come, a bounded batch per loop
 * pass, so that with 100,000 files waiting at start-up the first handlers
 * start at once instead of after all of them are read.
 */
static void
cands_process(struct daemon *d)
{
	int64_t now = util_mono_ms();
	int64_t until = util_mono_us();
	struct cand *c;
	int budget = d->backlog ? BACKLOG_BATCH : ACCEPT_BATCH;

	/*
	 * The backlog is taken once all of it has been due and nothing is
	 * due now (what is left waits for a writer): back to short passes.
	 */
	if (d->backlog && (d->cand_head == NULL ||
			   (d->cand_head->due > now && now >= d->backlog_due)))
		d->backlog = false;
	until += d->backlog ? BACKLOG_MS * 1000 :
		 runs_active(d) ? ACCEPT_BUSY_US : ACCEPT_MS * 1000;
	while ((c = d->cand_head) != NULL && c->due <= now && !d->stopping &&
	       budget-- > 0 && (budget % 4 != 0 || util_mono_us() < until)) {
		switch (accept_file(d, c)) {
		case ACCEPT_DONE:
			cand_drop(d, c);
			break;
		case ACCEPT_LATER:
			cand_unlink(d, c);
			c->moved = false;
			c->due = now + (int64_t)d->cfg.settle_ms;
			cand_append(d, c);
			break;
		case ACCEPT_RETRY_IO:
			cand_unlink(d, c);
			c->due = now + IO_RETRY_MS;
			cand_append(d, c);
			return;
		}
	}
}

/* ---- claiming and starting ---- */

static bool
space_ok(struct daemon *d)
{
	int64_t now = util_mono_ms();
	struct statvfs vfs;
	bool low;

	if (d->disk_full)
		return false;
	if (d->sealed_sent && store_pending(d->st) >= COMMIT_BEHIND_OPS)
		return false; /* the committer is far behind: see above */
	if (d->cfg.min_free_pct == 0)
		return true;
	if (now - d->space_checked < SPACE_CHECK_MS && d->space_checked != 0)
		return !d->space_low;
	d->space_checked = now;
	if (fstatvfs(d->sp.root_fd, &vfs) < 0)
		return true;
	low = (vfs.f_blocks > 0 &&
	       vfs.f_bavail * 100 < vfs.f_blocks * d->cfg.min_free_pct) ||
	      (vfs.f_files > 0 &&
	       vfs.f_favail * 100 < vfs.f_files * d->cfg.min_free_pct);
	if (low != d->space_low)
		log_warn("event=%s msg=\"free space or inodes %s min_free "
			 "%u%%\"", low ? "space_low" : "space_ok",
			 low ? "below" : "back above", d->cfg.min_free_pct);
	d->space_low = low;
	return !low;
}

/* A claimed job cannot run: put it back, or fail it. */
static void
start_failed(struct daemon *d, struct djob *j, bool invalid, const char *why)
{
	if (invalid) {
		if (djob_move(d, j, STATE_FAILED) < 0) {
			djob_observe(d, j);
			return;
		}
		djob_set_error(j, why);
		emit(d, j, EV_INVALID, NULL, why, NULL);
		djob_put(d, j);
		djob_free(d, j);
		return;
	}
	/* A resource failure of ours: not the job's fault, no attempt used. */
	if (djob_move(d, j, STATE_PENDING) < 0) {
		djob_observe(d, j);
		return;
	}
	j->next_attempt = util_now_ms() + IO_RETRY_MS;
	emit(d, j, EV_DEFERRED, NULL, why, NULL);
	djob_put(d, j);
	djob_enqueue(d, j);
}

static void
start_job(struct daemon *d, struct djob *j)
{
	char name[ID_MAX + 8], err[ERRLEN], why[ERRLEN + 32];
	char job_path[PATH_MAX], result_path[PATH_MAX], rname[ID_MAX + 16];
	char cgname[CGROUP_NAME_MAX + 1];
	struct runner_spec spec;
	const struct provider *p;
	struct job job = {0};
	struct drun *r = NULL;
	struct stat st;
	char *buf = NULL;
	size_t len;
	int rc, slot;

	djob_filename(j, name);
	rc = spool_move(&d->sp, STATE_PENDING, name, STATE_PROCESSING, NULL);
	if (rc < 0) {
		sched_done(&d->sched, j->sj.group);
		if (rc == -ENOENT) {
			djob_observe(d, j);
		} else {
			log_error("event=move_failed job=%s from=pending "
				  "to=processing error=\"%s\"", j->id,
				  strerror(-rc));
			j->next_attempt = util_now_ms() + IO_RETRY_MS;
			djob_enqueue(d, j);
		}
		return;
	}
	mark_dirty(d, STATE_PENDING, STATE_PROCESSING);
	j->state = STATE_PROCESSING;
	sched_done(&d->sched, j->sj.group);

	/* The content the handler sees is the content validated here. */
	rc = spool_read_job(&d->sp, STATE_PROCESSING, name, JOB_MAX_SIZE, &buf,
			    &len, &st, err, sizeof(err));
	if (rc == -ENOENT) {
		djob_observe(d, j);
		goto out;
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "%.200s %.300s", name, err);
		start_failed(d, j, rc != -ENOMEM && rc != -EMFILE &&
				   rc != -ENFILE && rc != -EIO &&
				   rc != -EAGAIN && rc != -EWOULDBLOCK, why);
		goto out;
	}
	if (job_parse(buf, len, &job, err, sizeof(err)) < 0) {
		start_failed(d, j, true, err);
		goto out;
	}
	p = config_provider(&d->cfg, job.provider);
	if (p == NULL || strcmp(job.provider, djob_provider(j)) != 0 ||
	    strcmp(job.venue_id, djob_venue(j)) != 0) {
		snprintf(why, sizeof(why), p == NULL
			 ? "provider '%s' is no longer configured"
			 : "the file changed its venue or provider after it "
			   "was queued (now %s)", job.provider);
		start_failed(d, j, true, why);
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		start_failed(d, j, false, "out of memory");
		goto out;
	}
	j->attempts++;
	snprintf(rname, sizeof(rname), "%s.result", j->id);
	unlinkat(d->sp.logs_fd, rname, 0);
	snprintf(job_path, sizeof(job_path), "%s/processing/%s", d->sp.path,
		 name);
	snprintf(result_path, sizeof(result_path), "%s/logs/%s", d->sp.path,
		 rname);
	spec = (struct runner_spec){
		.prov = p, .job = &job, .job_id = j->id, .attempt = j->attempts,
		.job_path = job_path, .result_path = result_path,
		.content = buf, .content_len = len,
		.sig_reset = &d->sig_reset,
		/*
		 * While other handlers run, the loop does not wait for this
		 * one's exec (it is the bottleneck of a burst); an idle
		 * daemon does, which hands the child its CPU: waking the
		 * other one cost the latency of a lone drop.
		 */
		.beside = runs_active(d),
	};
	r->job = j;
	r->slot = -1;
	r->persistent = p->persistent;
	if (p->persistent) {
		rc = worker_begin(d, r, &spec, err, sizeof(err));
	} else if ((slot = slot_find(d)) < 0) {
		rc = slot;
		snprintf(err, sizeof(err), "out of memory");
	} else {
		/*
		 * The handler writes its line of db/running itself, before
		 * it may exec, so a restarted daemon finds any handler that
		 * runs; if that cannot be written, it never runs.
		 */
		struct runner_record rec = {
			.fd = d->running_fd, .off = (off_t)slot * SLOT_LEN,
			.len = SLOT_LEN, .id = j->id,
		};
		spec.cgroup_name = handler_cgroup_new(d, NULL, cgname,
						      &spec.cgroup_fd);
		rc = runner_start(&spec, d->sp.logs_fd, d->cfg.log_max, &rec,
				  &r->run, err, sizeof(err));
		if (rc < 0) {
			/* Whatever the child got written must not stay. */
			slot_store(d, (size_t)slot, "");
			if (spec.cgroup_name != NULL)
				cgroup_remove(&d->cg, spec.cgroup_name);
		} else {
			d->slot_used[slot] = true;
			r->slot = slot;
			handler_cgroup_check(d, &r->run);
		}
	}
	if (rc < 0) {
		j->attempts--;
		log_error("event=spawn_failed job=%s error=\"%s\"", j->id, err);
		free(r);
		r = NULL;
		start_failed(d, j, false, err);
		goto out;
	}
	r->timeout_ms = p->timeout_ms;
	r->deadline = util_mono_ms() + (int64_t)p->timeout_ms;
	if (!p->persistent) {
		rc = run_watch(d, r);
		assert(rc == 0); /* epoll_ctl on fresh fds: only ENOMEM */
	}
	j->run = r;
	r->next = d->runs;
	d->runs = r;
	sched_start(&d->sched, j->sj.group);
	j->next_attempt = 0;
	count_attempt(d, djob_provider(j));
	emit(d, j, EV_STARTED, NULL, NULL, NULL);
	djob_put(d, j);
out:
	job_free(&job);
	free(buf);
}

static void
schedule(struct daemon *d)
{
	struct sched_job *sj;

	if (d->stopping)
		return;
	while (space_ok(d) && (sj = sched_next(&d->sched, util_now_ms())) != NULL)
		start_job(d, (struct djob *)sj);
}

/* ---- timers: timeouts, kills, shutdown ---- */

static void
runs_check(struct daemon *d)
{
	int64_t now = util_mono_ms();

	for (struct drun *r = d->runs; r != NULL; r = r->next) {
		if (r->exited)
			continue;
		if (!r->timed_out && now >= r->deadline) {
			r->timed_out = true;
			log_warn("event=timeout job=%s pid=%ld timeout_ms=%llu",
				 r->job->id, (long)r->run.pid,
				 (unsigned long long)r->timeout_ms);
			run_signal(r, SIGTERM);
		}
		if (r->kill_at != 0 && now >= r->kill_at) {
			runner_signal(&r->run, SIGKILL);
			r->kill_at = 0;
		}
	}
}

static void schedule(struct daemon *d);

/*
 * Did r's handler exit 0, and will its job so complete? Asked before the
 * reap, from the exit status alone (runner_peek()): set-up and exec
 * failures exit 127, and the rest of run_conclude()'s cases are known.
 */
static bool
run_clean_exit(struct daemon *d, struct drun *r)
{
	struct run_status st;

	if (r->persistent || r->timed_out || r->run.adopted ||
	    config_provider(&d->cfg, djob_provider(r->job)) == NULL)
		return false;
	return runner_peek(&r->run, &st) == 0 && st.exit_code == 0 &&
	       st.signal == 0;
}

/*
 * Reap every handler that exited, and move its job on. When all of them
 * exited 0, the places they free in the schedule get their next jobs
 * first: concluding them (the reap, their pipes, their cgroups), moving
 * and recording them is then not between one handler's end and the
 * next's start. A failure is concluded and recorded first, since it may
 * open the provider's breaker or hold its venue back.
 */
static void
runs_reap(struct daemon *d)
{
	int64_t now = util_mono_ms();
	struct drun *r, *next;
	bool clean = true, any = false;

	for (r = d->runs; r != NULL && clean; r = r->next) {
		if (!r->exited || r->reaped)
			continue;
		any = true;
		clean = run_clean_exit(d, r);
	}
	if (any && clean) {
		for (r = d->runs; r != NULL; r = r->next) {
			if (!r->exited || r->reaped)
				continue;
			sched_done(&d->sched, r->job->sj.group);
			r->freed = true;
		}
		schedule(d);
	}
	for (r = d->runs; r != NULL; r = r->next) {
		if (!r->exited || r->reaped)
			continue;
		/* Off epoll before runner_reap() closes them. */
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->run.pidfd, NULL);
		if (r->run.out_fd >= 0)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->run.out_fd, NULL);
		if (r->run.err_fd >= 0)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, r->run.err_fd, NULL);
		run_conclude(d, r);
	}
	for (r = d->runs; r != NULL; r = next) {
		next = r->next;
		if (!r->exited || !r->reaped || now < r->retry_at)
			continue;
		if (!run_apply(d, r)) {
			r->retry_at = now + IO_RETRY_MS;
			want_io_retry(d);
			continue;
		}
		run_unlink(d, r);
		free(r);
	}
}

/*
 * Make the moves durable, then record them: nothing is reported done
 * that is not on disk. Many jobs' moves share one fsync per directory and
 * one commit: the queue of changes and the dirty directories are sealed
 * into one batch, which the committer (commit.h) makes durable while the
 * loop goes on; the next is sealed once its result is in. Without a
 * committer the daemon does it itself, holding up the loop.
 */
static void flush(struct daemon *d);

static bool
flush_due(const struct daemon *d)
{
	bool dirty = store_pending(d->st) > 0;

	for (int s = STATE_PENDING; s < STATE_COUNT && !dirty; s++)
		dirty = d->dirty[s];
	return dirty;
}

/* Anything not durable yet: queued, dirty, or sealed and on its way. */
static bool
durable_pending(const struct daemon *d)
{
	return d->sealed != NULL || flush_due(d);
}

/*
 * Group commit: while jobs stream through, flush at most every FLUSH_MS,
 * so one fsync per directory and one commit serve many jobs. Nothing
 * waits on a flush to run (see db/running), so this delays only when
 * history shows an event, by FLUSH_MS at most.
 */
static void
flush_maybe(struct daemon *d)
{
	int64_t now = util_mono_ms();

	struct epoll_event ev;

	if (d->sealed_sent)
		return; /* the committer's result comes first */
	if (d->sealed == NULL) {
		if (!flush_due(d))
			return;
		/*
		 * Defer only while more work is already waiting, or a
		 * handler still runs whose end a later flush can take
		 * along: an idle loop flushes at once, so history lags the
		 * files by an fsync, not by FLUSH_MS. Waiting for events
		 * alone grouped 1.4 jobs per commit with two workers: each
		 * handler's end found the other still running and nothing
		 * queued, and the flush went out alone.
		 */
		if (now - d->flushed_at < FLUSH_MS &&
		    store_pending(d->st) < FLUSH_MAX_OPS && !d->stopping &&
		    (runs_active(d) || epoll_wait(d->epfd, &ev, 1, 0) > 0))
			return;
	}
	/* After a failed flush, the next try waits IO_RETRY_MS. */
	if (d->io_retry_at != 0 && now < d->io_retry_at)
		return;
	d->flushed_at = now;
	flush(d);
}

/*
 * A move, fsync or commit failed with ENOSPC: stop claiming new jobs
 * until a flush goes through, as when free space is below min_free.
 */
static void
disk_trouble(struct daemon *d, int rc)
{
	if (rc != -ENOSPC || d->disk_full)
		return;
	d->disk_full = true;
	log_warn("event=space_low msg=\"no space left on the spool's "
		 "filesystem; claiming no new jobs until writes succeed\"");
}

static void
committer_retry_later(struct daemon *d)
{
	d->cm_retry_at = util_mono_ms() + d->cm_retry_ms;
	d->cm_retry_ms = d->cm_retry_ms * 2 > COMMITTER_RETRY_MAX_MS
			 ? COMMITTER_RETRY_MAX_MS : d->cm_retry_ms * 2;
}

static void
committer_up(struct daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->tcommit};
	char err[ERRLEN];
	int rc;

	d->tcommit = (struct tag){.kind = TAG_COMMIT};
	rc = committer_start(&d->cm, d->sp.path, err, sizeof(err));
	if (rc == 0 && epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->cm.fd, &ev) < 0) {
		rc = -errno;
		snprintf(err, sizeof(err), "epoll_ctl: %s", strerror(errno));
		committer_stop(&d->cm, true, NULL);
	}
	if (rc < 0) {
		log_warn("event=committer_failed error=\"%s\" msg=\"the "
			 "daemon commits in its own process; trying again in "
			 "%lld s\"", err, (long long)d->cm_retry_ms / 1000);
		committer_retry_later(d);
		return;
	}
	log_info("event=committer_started pid=%ld", (long)d->cm.pid);
}

/*
 * The committer is gone, or is to be (kill): reap it. A batch it held
 * is sealed still and goes again, to the daemon's own commit or the next
 * committer; its id keeps it from being applied twice.
 */
static void
committer_lost(struct daemon *d, const char *why, bool kill)
{
	pid_t pid = d->cm.pid;
	char how[64];
	int status = 0;

	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->cm.fd, NULL);
	committer_stop(&d->cm, kill, &status);
	d->metrics.committer_exits++;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "signal=%d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "status=%d", WEXITSTATUS(status));
	log_warn("event=committer_exited pid=%ld %s error=\"%s\" msg=\"the "
		 "daemon commits in its own process; a new committer in "
		 "%lld s\"", (long)pid, how, why,
		 (long long)d->cm_retry_ms / 1000);
	d->sealed_sent = false;
	committer_retry_later(d);
}

/* The sealed batch's fate, from the committer or the daemon's own try. */
static void
sealed_result(struct daemon *d, const struct commit_result *res,
	      bool ours)
{
	size_t ops = store_batch_ops(d->sealed);

	d->sealed_sent = false;
	if (res->rc < 0) {
		if (res->dir != STATE_NONE)
			log_error("event=fsync_failed dir=%s error=\"%s\"",
				  state_name((enum job_state)res->dir),
				  res->err);
		else
			log_error("event=commit_failed error=\"%s\"", res->err);
		if (res->broken && ours) {
			/*
			 * LMDB refuses every transaction after a fatal
			 * error: only a new process can go on. Nothing
			 * unrecorded is lost: the files say where every job
			 * is, and db/running which handlers run. (A broken
			 * committer exits by itself, and the batch goes
			 * again.)
			 */
			log_error("event=store_broken msg=\"the database "
				  "cannot be written any more; exiting so "
				  "that a restart recovers from the spool\"");
			exit(EX_IOERR);
		}
		d->metrics.commit_failures++;
		disk_trouble(d, res->rc);
		want_io_retry(d);
		return;
	}
	d->metrics.commits[ours ? 1 : 0]++;
	if (!ours)
		d->cm_retry_ms = COMMITTER_RETRY_MS;
	if (d->disk_full) {
		d->disk_full = false;
		log_info("event=space_ok msg=\"writes succeed again\"");
	}
	slots_release_committed(d);
	store_batch_free(d->sealed);
	d->sealed = NULL;
	/* What the commit, or the loop's reads, touched of the map: let go. */
	d->trim_ops += ops;
	if (d->trim_ops >= TRIM_OPS) {
		store_trim(d->st);
		d->trim_ops = 0;
	}
}

/* The committer's socket is readable: results, or its end. */
static void
on_commit(struct daemon *d)
{
	struct commit_result res;
	int rc;

	while (d->cm.pid > 0) {
		rc = committer_recv(&d->cm, &res);
		if (rc == -EAGAIN)
			return;
		if (rc < 0) {
			committer_lost(d, "its socket closed", false);
			return;
		}
		if (!d->sealed_sent || res.seq != store_batch_seq(d->sealed)) {
			committer_lost(d, "it answered for another batch", true);
			return;
		}
		sealed_result(d, &res, false);
	}
}

/* Take what is queued and dirty into one batch; false: out of memory. */
static bool
seal(struct daemon *d)
{
	int rc = store_batch_take(d->st, d->batch_epoch, d->batch_seq + 1,
				  &d->sealed);

	if (rc < 0) {
		log_error("event=commit_failed error=\"%s\"", strerror(-rc));
		want_io_retry(d);
		return false;
	}
	d->batch_seq++;
	d->sealed_dirs = 0;
	for (int s = STATE_PENDING; s < STATE_COUNT; s++) {
		if (d->dirty[s])
			d->sealed_dirs |= 1u << s;
		d->dirty[s] = false;
	}
	d->sealed_slots = d->slot_done;
	d->nsealed_slots = d->nslot_done;
	d->slot_done = NULL;
	d->nslot_done = 0;
	return true;
}

static void
flush(struct daemon *d)
{
	struct commit_result res;
	int rc;

	if (d->sealed_sent)
		return;
	if (d->sealed == NULL && (!flush_due(d) || !seal(d)))
		return;
	if (d->cm.pid == 0 && !d->stopping && util_mono_ms() >= d->cm_retry_at)
		committer_up(d);
	if (d->cm.pid > 0) {
		rc = committer_send(&d->cm, d->sealed_dirs, d->sealed);
		if (rc == 0) {
			d->sealed_sent = true;
			return;
		}
		committer_lost(d, strerror(-rc), true);
	}
	commit_durably(&d->sp, d->st, d->sealed_dirs, d->sealed, &res);
	sealed_result(d, &res, true);
}

/*
 * Flush, and wait for the result: at start-up, so that ready means
 * recorded, and at the end. A failure is left to the loop's retries, or
 * to the next start's reconcile.
 */
static void
flush_wait(struct daemon *d)
{
	int tries = 0;

	while (d->sealed_sent || (durable_pending(d) && tries < 3)) {
		if (d->sealed_sent) {
			struct pollfd pfd = {.fd = d->cm.fd, .events = POLLIN};

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				committer_lost(d, strerror(errno), true);
			else
				on_commit(d);
			continue;
		}
		tries++;
		flush(d);
	}
}

static void
arm_timer(struct daemon *d)
{
	int64_t now = util_mono_ms(), wall = util_now_ms(), at = d->next_rescan;
	struct itimerspec its = {0};
	int64_t due;

	if (d->cand_head != NULL && d->cand_head->due < at)
		at = d->cand_head->due;
	due = sched_next_due(&d->sched, wall);
	if (due != INT64_MAX && now + (due - wall) < at)
		at = now + (due - wall);
	for (struct drun *r = d->runs; r != NULL; r = r->next) {
		if (!r->timed_out && r->deadline < at)
			at = r->deadline;
		if (r->kill_at != 0 && r->kill_at < at)
			at = r->kill_at;
	}
	if (d->io_retry_at != 0 && d->io_retry_at < at)
		at = d->io_retry_at;
	if (d->cg_sweep_at != 0 && d->cg_sweep_at < at)
		at = d->cg_sweep_at;
	if (d->prune_at < at)
		at = d->prune_at;
	if (flush_due(d) && !d->sealed_sent && d->io_retry_at == 0 &&
	    d->flushed_at + FLUSH_MS < at)
		at = d->flushed_at + FLUSH_MS;
	if (d->cfg.metrics != NULL && d->metrics_at < at)
		at = d->metrics_at;
	if (d->space_low && now + SPACE_CHECK_MS < at)
		at = now + SPACE_CHECK_MS;
	if (d->stopping && d->stop_deadline < at)
		at = d->stop_deadline;
	if (at <= now)
		at = now + 1;
	/*
	 * Absolute, so that a pass that finds the same next deadline (most
	 * passes of a burst) need not set it again. One that has expired
	 * was due at or before now, so it is never the same as a new one.
	 */
	if (at == d->timer_at)
		return;
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		d->timer_at = at;
}

/* ---- directory events ---- */

static enum job_state
wd_state(struct daemon *d, int wd)
{
	for (int s = STATE_PENDING; s < STATE_COUNT; s++)
		if (d->wd[s] == wd)
			return s;
	return STATE_NONE;
}

/* Something happened to name in directory s. */
static void paused_arrival(struct daemon *d, const char *name);

static void
on_name(struct daemon *d, enum job_state s, const char *name, uint32_t mask)
{
	char id[ID_MAX + 1];
	struct djob *j = NULL;
	struct cand *c;

	if (spool_name_to_id(name, id) == 0)
		j = djob_get(d, id);
	if (j != NULL) {
		if (j->state != s || (mask & (IN_MOVED_FROM | IN_DELETE)))
			djob_observe(d, j);
		return;
	}
	if (s == STATE_PAUSED && (mask & IN_MOVED_TO)) {
		paused_arrival(d, name);
		return;
	}
	if (s != STATE_PENDING || spool_name_ignored(name))
		return;
	if (mask & (IN_MOVED_FROM | IN_DELETE)) {
		c = table_get(&d->cands, name);
		if (c != NULL)
			cand_drop(d, c);
		return;
	}
	/* IN_CLOSE_WRITE only restarts the clock; the ctime check decides. */
	cand_touch(d, name, (mask & IN_MOVED_TO) != 0);
}

static void rescan(struct daemon *d);

static void
on_inotify(struct daemon *d)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	for (;;) {
		n = read(d->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			enum job_state s = wd_state(d, ev->wd);
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				log_warn("event=inotify_overflow msg=\"rescanning "
					 "the spool\"");
				d->rescan_wanted = true;
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
					IN_UNMOUNT)) {
				log_error("event=spool_gone dir=%s msg=\"a state "
					  "directory was removed or moved; "
					  "stopping\"", state_name(s));
				exit(EX_OSERR);
			}
			if (s == STATE_NONE || ev->len == 0)
				continue;
			on_name(d, s, ev->name, ev->mask);
		}
	}
}

/* List a state directory's names. *names is malloc'd, one after another. */
static int
list_dir(struct daemon *d, enum job_state s, char **names, size_t *count)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap), *nb;
	struct dirent *de;
	int fd;
	DIR *dir;

	*count = 0;
	*names = NULL;
	if (buf == NULL)
		return -ENOMEM;
	/* A fresh descriptor: a DIR owns its fd and its position. */
	fd = openat(d->sp.dir_fd[s], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		free(buf);
		return rc;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name) + 1;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (used + n > cap) {
			cap = cap * 2 + n;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				closedir(dir);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + used, de->d_name, n);
		used += n;
		(*count)++;
	}
	closedir(dir);
	*names = buf;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The count names list_dir() packed one after another, as an array
 * sorted by name; NULL when memory is short (then directory order does).
 * A backlog is accepted in this order: names share their job's venue and
 * stem, and ids begin with the stem, so consecutive jobs land next to
 * each other in every LMDB tree (jobs, vp_jobs, the history indexes).
 * Each commit then dirties, and each read touches, a few neighbouring
 * pages instead of one page per job scattered over the whole file
 * (directory order is hash order): fewer pages written per commit, and
 * fewer of the map's pages resident between two store_trim()s.
 */
static char **
names_sorted(char *names, size_t count)
{
	char **v = malloc((count + 1) * sizeof(*v)), *p = names;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++, p += strlen(p) + 1)
		v[i] = p;
	qsort(v, count, sizeof(*v), name_cmp);
	return v;
}

/* Look again at everything: pending for new files, live jobs for moves. */
static void
rescan(struct daemon *d)
{
	char *names, *p, id[ID_MAX + 1];
	size_t count, pos = 0;
	struct table_entry *e = NULL;
	struct djob **live;
	size_t nlive = 0;

	d->rescan_wanted = false;
	if (list_dir(d, STATE_PENDING, &names, &count) == 0) {
		p = names;
		for (size_t i = 0; i < count; i++, p += strlen(p) + 1) {
			if (spool_name_ignored(p) ||
			    table_get(&d->cands, p) != NULL)
				continue;
			if (spool_name_to_id(p, id) == 0 && djob_get(d, id) != NULL)
				continue;
			cand_touch(d, p, false);
		}
		free(names);
	}
	/* Collect first: djob_observe() may free jobs. */
	live = malloc((d->jobs.count + 1) * sizeof(*live));
	if (live == NULL)
		return;
	while ((e = table_next(&d->jobs, &pos, e)) != NULL)
		live[nlive++] = e->value;
	for (size_t i = 0; i < nlive; i++) {
		char name[ID_MAX + 8];
		struct stat st;
		djob_filename(live[i], name);
		if (locate(d, name, &st) != live[i]->state)
			djob_observe(d, live[i]);
	}
	free(live);
	store_reader_check(d->st, NULL);
}

/* ---- retention ---- */

struct prune_ctx {
	int64_t from;                 /* where this pass started */
	int64_t last;                 /* the time of the last event seen */
	size_t seen;
	enum job_state state;
	char (*ids)[ID_MAX + 1];
	size_t n;
};

static int
prune_collect(const struct event *e, void *arg)
{
	struct prune_ctx *c = arg;
	bool ends_in = c->state == STATE_COMPLETED
		? e->type == EV_COMPLETED || e->type == EV_COALESCED
		: e->type == EV_FAILED || e->type == EV_INVALID ||
		  e->type == EV_EXPIRED;

	c->last = e->time;
	if (ends_in && e->job_id[0] != '\0')
		scopy(c->ids[c->n++], ID_MAX + 1, e->job_id);
	return ++c->seen >= PRUNE_BATCH;
}

/*
 * Delete completed or failed job files past their retention, walking the
 * history in time order from where the last pass stopped. Only a file
 * whose record says it is in that state, unchanged since before the
 * cut-off, is deleted: never one the daemon has not recorded. Returns
 * true when more may remain.
 */
static bool
prune_jobs(struct daemon *d, enum job_state state, uint64_t keep_ms,
	   int64_t *from)
{
	static char ids[PRUNE_BATCH][ID_MAX + 1];
	struct prune_ctx c = {.from = *from, .last = *from, .state = state,
			      .ids = ids};
	int64_t cut = util_now_ms() - (int64_t)keep_ms;

	if (store_history_range(d->st, *from, cut, prune_collect, &c) < 0)
		return false;
	for (size_t i = 0; i < c.n; i++) {
		char name[ID_MAX + 16];
		struct jobrec rec;

		if (djob_get(d, ids[i]) != NULL ||
		    store_job_get(d->st, ids[i], &rec) < 0 ||
		    rec.state != state || rec.updated >= cut)
			continue;
		spool_id_to_name(rec.id, name);
		if (unlinkat(d->sp.dir_fd[state], name, 0) < 0 &&
		    errno != ENOENT) {
			log_warn("event=prune_failed job=%s error=\"%s\"",
				 rec.id, strerror(errno));
			continue;
		}
		snprintf(name, sizeof(name), "%s.log", rec.id);
		unlinkat(d->sp.logs_fd, name, 0);
		snprintf(name, sizeof(name), "%s.result", rec.id);
		unlinkat(d->sp.logs_fd, name, 0);
		d->dirty[state] = true;
		store_del_job(d->st, rec.id);
	}
	/*
	 * Resume at the last event's millisecond (its events come again and
	 * are harmless twice). XXX A batch entirely within one millisecond
	 * cannot move on; it skips to the next one, and any job files ended
	 * in the skipped events wait for the walk after a restart.
	 */
	*from = c.last == c.from && c.seen >= PRUNE_BATCH ? c.last + 1 : c.last;
	return c.seen >= PRUNE_BATCH;
}

/* How often to look when nothing is due: often enough for short periods. */
static int64_t
prune_pace(const struct daemon *d)
{
	uint64_t pace = PRUNE_IDLE_MS;
	const uint64_t keep[] = {d->cfg.retention_completed_ms,
				 d->cfg.retention_failed_ms,
				 d->cfg.retention_history_ms};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] / 2 < pace)
			pace = keep[i] / 2;
	return pace < PRUNE_BUSY_MS ? PRUNE_BUSY_MS : (int64_t)pace;
}

/*
 * How long history is kept: as configured, but never less than the job
 * files' periods, since prune_jobs() finds the files through it; an
 * event pruned first would leave its file for ever.
 */
static uint64_t
history_keep_ms(const struct config *cfg)
{
	uint64_t keep = cfg->retention_history_ms;

	if (keep < cfg->retention_completed_ms)
		keep = cfg->retention_completed_ms;
	if (keep < cfg->retention_failed_ms)
		keep = cfg->retention_failed_ms;
	return keep;
}

static void
retention_step(struct daemon *d)
{
	int64_t cut = util_now_ms() - (int64_t)history_keep_ms(&d->cfg);
	int64_t oldest;
	bool more;

	more = prune_jobs(d, STATE_COMPLETED, d->cfg.retention_completed_ms,
			  &d->prune_from[0]);
	more |= prune_jobs(d, STATE_FAILED, d->cfg.retention_failed_ms,
			   &d->prune_from[1]);
	if (store_history_oldest(d->st, &oldest) == 0 && oldest < cut) {
		store_prune_history(d->st, cut, PRUNE_BATCH);
		more = true;
	}
	d->prune_at = util_mono_ms() + (more ? PRUNE_BUSY_MS : prune_pace(d));
}

/* ---- signals ---- */

/* Tell systemd (Type=notify) how we are; nobody listening is fine. */
static void
tell_manager(const char *state)
{
	int rc = notify_send(state);

	if (rc < 0)
		log_warn("event=notify_failed state=%s error=\"%s\"", state,
			 strerror(-rc));
}

/* The config's limits into the scheduler: at start and on SIGHUP. */
static void
apply_limits(struct daemon *d)
{
	int64_t now = util_now_ms();

	d->sched.workers = d->cfg.workers;
	for (size_t i = 0; i < d->cfg.nproviders; i++) {
		const struct provider *p = &d->cfg.providers[i];
		if (sched_provider_limit(&d->sched, p->name, p->concurrency) < 0 ||
		    sched_provider_policy(&d->sched, p->name, p->rate_count,
					  p->rate_period_ms, p->breaker_failures,
					  p->breaker_cooldown_ms, now) < 0)
			log_error("event=oom provider=%s", p->name);
	}
}
/* ---- start-up checks ---- */

struct audit_ctx {
	char *err;        /* the first error, which the caller reports */
	size_t errlen;
	unsigned errors;
};

static void
daemon_audit(enum audit_level level, const char *msg, void *arg)
{
	struct audit_ctx *a = arg;
	char q[ERRLEN * 2];

	log_quote(msg, q, sizeof(q));
	if (level != AUDIT_ERROR) {
		log_warn("event=check_warning msg=%s", q);
		return;
	}
	if (a->errors++ == 0)
		scopy(a->err, a->errlen, msg);
	else
		log_error("event=check_failed msg=%s", q);
}

/*
 * Who can change what the daemon trusts: the spool's directories, the
 * config and the handlers. Returns the errors; the first is in err.
 */
static unsigned
audit(struct daemon *d, const struct config *cfg, bool spool, char *err,
      size_t errlen)
{
	struct audit_ctx a = {.err = err, .errlen = errlen};
	uid_t euid = geteuid();

	if (spool && euid == 0)
		daemon_audit(AUDIT_WARNING, "syncspoold runs as root, so its "
			     "handlers do too: run it as a user of its own "
			     "(contrib/systemd/syncspoold.service has one)",
			     &a);
	if (spool)
		spool_audit(&d->sp, euid, daemon_audit, &a);
	config_audit(cfg, euid, daemon_audit, &a);
	return a.errors;
}


static int
reload(struct daemon *d)
{
	struct config cfg = {0};
	char err[ERRLEN], q[ERRLEN * 2];
	char *spool;

	tell_manager("RELOADING=1");
	if (config_load(d->config_path, &cfg, err, sizeof(err)) < 0) {
		log_error("event=reload_refused error=\"%s\" msg=\"keeping the "
			  "running config\"", err);
		tell_manager("READY=1");
		return -EINVAL;
	}
	spool = realpath(cfg.spool, NULL);
	if (spool == NULL || strcmp(spool, d->sp.path) != 0) {
		log_error("event=reload_refused msg=\"the spool cannot change "
			  "on reload; restart syncspoold to move it\"");
		free(spool);
		config_free(&cfg);
		tell_manager("READY=1");
		return -EINVAL;
	}
	free(spool);
	if (audit(d, &cfg, false, err, sizeof(err)) > 0) {
		log_error("event=reload_refused error=%s msg=\"keeping the "
			  "running config\"", log_quote(err, q, sizeof(q)));
		config_free(&cfg);
		tell_manager("READY=1");
		return -EINVAL;
	}
	config_free(&d->cfg);
	d->cfg = cfg;
	log_use_syslog(d->cfg.log_syslog);
	apply_limits(d);
	log_info("event=reloaded config=%s providers=%zu", d->config_path,
		 d->cfg.nproviders);
	tell_manager("READY=1");
	return 0;
}

static void
begin_stop(struct daemon *d, int sig)
{
	if (d->stopping)
		return;
	d->stopping = true;
	tell_manager("STOPPING=1");
	d->stop_deadline = util_mono_ms() + (int64_t)d->cfg.shutdown_grace_ms;
	log_info("event=stopping signal=%s running=%u grace_ms=%llu",
		 sigabbrev_np(sig), d->sched.running,
		 (unsigned long long)d->cfg.shutdown_grace_ms);
}

static void
on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop(d, (int)si.ssi_signo);
			break;
		case SIGHUP:
			reload(d);
			break;
		}
	}
}

/* ---- start-up ---- */

/*
 * A job whose record is missing, rebuilt from its file in `where`: one
 * claimed and started by a daemon that died before any of it was
 * committed, or one paused before the daemon ever saw it.
 */
static int
rec_from_file(struct daemon *d, enum job_state where, const char *name,
	      const char *id, struct jobrec *rec)
{
	char err[ERRLEN], *buf = NULL;
	struct job job = {0};
	struct stat st;
	size_t len;
	int rc;

	rc = spool_read_job(&d->sp, where, name, JOB_MAX_SIZE, &buf, &len,
			    &st, err, sizeof(err));
	if (rc == 0)
		rc = job_parse(buf, len, &job, err, sizeof(err));
	if (rc == 0) {
		jobrec_init(rec);
		scopy(rec->id, sizeof(rec->id), id);
		scopy(rec->name, sizeof(rec->name), name);
		scopy(rec->venue, sizeof(rec->venue), job.venue_id);
		scopy(rec->provider, sizeof(rec->provider), job.provider);
		scopy(rec->sync_type, sizeof(rec->sync_type), job.sync_type);
		rec->state = where;
		rec->priority = job.priority;
		rec->not_before = job.not_before;
		rec->created = util_now_ms();
		rec->attempts = 1;
		rec->max_attempts = job.max_attempts;
		rec->ino = (uint64_t)st.st_ino;
		if (config_provider(&d->cfg, job.provider) != NULL)
			rec->max_attempts = effective_max_attempts(
				config_provider(&d->cfg, job.provider),
				job.max_attempts);
		else if (rec->max_attempts == 0)
			rec->max_attempts = 1;
	}
	job_free(&job);
	free(buf);
	return rc;
}

/* A job file found in processing at start: wait for it, or requeue it. */
static void
recover_processing(struct daemon *d, const char *name)
{
	char id[ID_MAX + 1], hboot[BOOT_ID_LEN + 1];
	uint64_t hstart = 0;
	pid_t hpid = 0;
	int hslot, arc;
	struct jobrec rec;
	struct djob *j;
	struct drun *r;
	const struct provider *p;

	if (spool_name_ignored(name))
		return;
	if (spool_name_to_id(name, id) < 0 ||
	    (store_job_get(d->st, id, &rec) < 0 &&
	     rec_from_file(d, STATE_PROCESSING, name, id, &rec) < 0)) {
		/* Not ours: hand it back to pending as a new upload. */
		if (spool_move(&d->sp, STATE_PROCESSING, name, STATE_PENDING,
			       NULL) == 0) {
			mark_dirty(d, STATE_PROCESSING, STATE_PENDING);
			log_warn("event=foreign_file dir=processing name=%s "
				 "msg=\"moved to pending\"", name);
		}
		return;
	}
	j = djob_new(d, id, rec.name, rec.provider, rec.venue);
	if (j == NULL)
		return;
	djob_from_rec(j, &rec);
	j->state = STATE_PROCESSING;
	p = config_provider(&d->cfg, rec.provider);
	/* The running file is newer than the record when the daemon died early. */
	hslot = -1;
	for (size_t i = 0; i < d->nold_slots; i++)
		if (strcmp(d->old_slots[i].id, id) == 0)
			hslot = (int)i;
	if (hslot >= 0) {
		hpid = d->old_slots[hslot].pid;
		hstart = d->old_slots[hslot].start_ticks;
		scopy(hboot, sizeof(hboot), d->old_slots[hslot].boot_id);
	} else {
		hpid = rec.pid;
		hstart = rec.pid_start;
		scopy(hboot, sizeof(hboot), rec.boot_id);
	}
	r = calloc(1, sizeof(*r));
	if (r != NULL)
		r->slot = -1;
	arc = r != NULL && hpid > 0 ? runner_adopt(hpid, hstart, hboot, &r->run)
				    : -ESRCH;
	if (arc < 0 && arc != -ESRCH) {
		/*
		 * We cannot tell whether its handler still runs: running the
		 * job now could run it twice at once. Fail closed.
		 */
		log_error("event=adopt_failed job=%s pid=%ld error=\"%s\" "
			  "msg=\"cannot watch a handler that may still run; "
			  "stopping rather than risk running it twice\"", id,
			  (long)hpid, strerror(-arc));
		exit(EX_OSERR);
	}
	if (arc == 0) {
		/* Its cgroup, if it runs in one of ours, stays with it. */
		(void)cgroup_of(&d->cg, hpid, r->run.cg_name, &r->run.cg_fd);
		/* It keeps its line until it ends. */
		if (hslot >= 0) {
			d->slot_used[hslot] = true;
			r->slot = hslot;
		}
		r->job = j;
		r->timeout_ms = p != NULL ? p->timeout_ms : 300000;
		r->deadline = util_mono_ms() + (int64_t)r->timeout_ms;
		r->run.attempt = j->attempts;
		if (run_watch(d, r) == 0) {
			j->run = r;
			r->next = d->runs;
			d->runs = r;
			sched_start(&d->sched, j->sj.group);
			emit(d, j, EV_RECOVERED, NULL,
			     "its handler survived the daemon; waiting for it",
			     NULL);
			return;
		}
		runner_abandon(&r->run);
	}
	free(r);
	if (djob_move(d, j, STATE_PENDING) < 0) {
		djob_observe(d, j);
		return;
	}
	j->next_attempt = 0;
	emit(d, j, EV_INTERRUPTED, NULL,
	     "the daemon stopped while the handler ran", NULL);
	if (j->attempts > 0)
		j->attempts--;
	djob_put(d, j);
	djob_enqueue(d, j);
}

/*
 * A job file arrived in paused that we hold no live job for: a job
 * stopped before the daemon saw it in pending (a trigger followed at
 * once by a stop, or both while the daemon was down), or a finished one
 * moved there by hand. Record it as paused; a file that is not a job of
 * this spool is left alone.
 */
static void
paused_arrival(struct daemon *d, const char *name)
{
	char id[ID_MAX + 1];
	struct jobrec rec;
	struct djob *j;
	enum job_state was = STATE_NONE;
	bool fresh = false;

	if (spool_name_ignored(name))
		return;
	if (spool_name_to_id(name, id) < 0) {
		/* An upload stopped before it was accepted: give it its id. */
		char stem[ID_MAX + 1], newname[ID_MAX + 8];
		int rc = -EEXIST;

		spool_stem(name, stem);
		for (int tries = 0; tries < 8 && rc == -EEXIST; tries++) {
			spool_id_make(stem, util_now_ms(), (uint32_t)rnd_next(d),
				      id);
			spool_id_to_name(id, newname);
			rc = spool_move(&d->sp, STATE_PAUSED, name, STATE_PAUSED,
					newname);
		}
		if (rc < 0)
			return;
		d->dirty[STATE_PAUSED] = true;
		name = newname;
		/* Its own event (IN_MOVED_TO) finds it already known. */
		if (rec_from_file(d, STATE_PAUSED, name, id, &rec) < 0 ||
		    config_provider(&d->cfg, rec.provider) == NULL) {
			log_warn("event=foreign_file dir=paused name=%s "
				 "msg=\"not a valid job; left alone\"", name);
			return;
		}
		rec.attempts = 0;
		fresh = true;
	} else if (djob_get(d, id) != NULL) {
		return; /* ours already */
	} else if (store_job_get(d->st, id, &rec) == 0) {
		was = rec.state;
	} else if (rec_from_file(d, STATE_PAUSED, name, id, &rec) == 0 &&
		   config_provider(&d->cfg, rec.provider) != NULL) {
		rec.attempts = 0;
		fresh = true;
	} else {
		log_warn("event=foreign_file dir=paused name=%s msg=\"not a "
			 "valid job of this spool; left alone\"", name);
		return;
	}
	j = djob_new(d, id, rec.name, rec.provider, rec.venue);
	if (j == NULL)
		return;
	djob_from_rec(j, &rec);
	j->state = STATE_PAUSED;
	if (fresh)
		emit(d, j, EV_QUEUED, NULL, NULL, NULL);
	if (was != STATE_PAUSED) {
		emit(d, j, was == STATE_PROCESSING ? EV_CANCELLED : EV_PAUSED,
		     NULL, fresh ? "paused before the daemon saw it queued"
				 : NULL, NULL);
		djob_put(d, j);
	}
}

struct stale_ctx {
	struct daemon *d;
	char (*ids)[ID_MAX + 1];
	size_t n, cap;
};

static int
collect_stale(const struct jobrec *r, void *arg)
{
	struct stale_ctx *c = arg;

	if (r->state != STATE_PENDING && r->state != STATE_PROCESSING &&
	    r->state != STATE_PAUSED)
		return 0;
	if (djob_get(c->d, r->id) != NULL)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *ids = realloc(c->ids, cap * sizeof(*c->ids));
		if (ids == NULL)
			return 1;
		c->ids = ids;
		c->cap = cap;
	}
	snprintf(c->ids[c->n++], ID_MAX + 1, "%s", r->id);
	return 0;
}

/*
 * Records that say a job is live, for jobs whose file is not where they
 * say: the directories win.
 */
static void
recover_stale(struct daemon *d)
{
	struct stale_ctx c = {.d = d};

	store_jobs(d->st, collect_stale, &c);
	for (size_t i = 0; i < c.n; i++) {
		char name[ID_MAX + 8];
		struct jobrec rec;
		struct stat st;
		struct djob *j;
		enum job_state where;

		if (store_job_get(d->st, c.ids[i], &rec) < 0)
			continue;
		spool_id_to_name(rec.id, name);
		where = locate(d, name, &st);
		if (where == STATE_PENDING)
			continue; /* the pending scan takes it */
		j = djob_new(d, rec.id, rec.name, rec.provider, rec.venue);
		if (j == NULL)
			continue;
		djob_from_rec(j, &rec);
		if (where == STATE_COMPLETED || where == STATE_FAILED) {
			j->state = where;
			emit(d, j, where == STATE_COMPLETED ? EV_COMPLETED
							    : EV_FAILED,
			     NULL, "outcome found at start-up; its details were "
			     "lost when the daemon stopped", NULL);
			djob_put(d, j);
			djob_free(d, j);
			continue;
		}
		djob_observe(d, j);
	}
	free(c.ids);
}

/*
 * Job files in completed or failed that LMDB has no record of (their
 * commits were lost, or db/ was removed): record them, so that list,
 * status and history agree with the directories.
 */
static void
recover_finished(struct daemon *d, enum job_state where)
{
	char *names, *p, id[ID_MAX + 1];
	size_t count;
	struct jobrec rec;

	if (list_dir(d, where, &names, &count) < 0)
		return;
	p = names;
	for (size_t i = 0; i < count; i++, p += strlen(p) + 1) {
		if (spool_name_to_id(p, id) < 0 ||
		    store_job_get(d->st, id, &rec) == 0)
			continue;
		if (rec_from_file(d, where, p, id, &rec) < 0) {
			jobrec_init(&rec);
			scopy(rec.id, sizeof(rec.id), id);
			scopy(rec.name, sizeof(rec.name), p);
			rec.created = util_now_ms();
		}
		rec.state = where;
		rec.updated = util_now_ms();
		store_put_job(d->st, &rec);
		emit_rec(d, &rec, where == STATE_COMPLETED ? EV_COMPLETED
							   : EV_FAILED,
			 "found at start-up with no record; its details were "
			 "lost");
	}
	free(names);
}

/* cgroup_clear()'s question: is name an adopted handler's cgroup? */
static bool
cgroup_adopted(const char *name, void *arg)
{
	struct daemon *d = arg;

	for (struct drun *r = d->runs; r != NULL; r = r->next)
		if (strcmp(r->run.cg_name, name) == 0)
			return true;
	return false;
}

static void
startup(struct daemon *d)
{
	char *names, *p;
	size_t count;

	d->nold_slots = slots_load(d, &d->old_slots);
	if (list_dir(d, STATE_PROCESSING, &names, &count) == 0) {
		p = names;
		for (size_t i = 0; i < count; i++, p += strlen(p) + 1)
			recover_processing(d, p);
		free(names);
	}
	/*
	 * What the last daemon's handlers left in their cgroups (children
	 * that outlived a handler, or the whole of an attempt that is now
	 * requeued) is killed; the adopted handlers keep theirs.
	 */
	{
		size_t killed = 0;
		if (cgroup_clear(&d->cg, cgroup_adopted, d, &killed) == 0 &&
		    killed > 0)
			log_warn("event=cgroups_cleared killed=%zu msg=\"killed "
				 "what the last daemon's handlers left "
				 "running\"", killed);
		if (d->cg.ndying > 0 && d->cg_sweep_at == 0) {
			d->cg_sweep_ms = CG_SWEEP_MIN_MS;
			d->cg_sweep_at = util_mono_ms() + d->cg_sweep_ms;
		}
	}
	/*
	 * A line whose job is not in processing: an attempt ran whose end
	 * was never committed (the daemon died between the move and the
	 * commit). Say so in the job's history; then the line is free.
	 */
	for (size_t i = 0; i < d->nold_slots; i++) {
		struct jobrec rec;
		char why[96];
		if (d->slot_used[i] || d->old_slots[i].id[0] == '\0' ||
		    store_job_get(d->st, d->old_slots[i].id, &rec) < 0 ||
		    djob_get(d, rec.id) != NULL)
			continue;
		snprintf(why, sizeof(why), "an attempt (pid %ld) ended without "
			 "its outcome recorded", (long)d->old_slots[i].pid);
		emit_rec(d, &rec, EV_INTERRUPTED, why);
	}
	/*
	 * Lines no adopted handler kept are freed once what this start
	 * records of their attempts (interrupted) is committed: cleared
	 * before, a crash in between would lose the only trace of them.
	 */
	for (size_t i = 0; i < d->nslots; i++) {
		if (d->slot_used[i])
			continue;
		if (d->old_slots[i].id[0] == '\0') {
			slot_store(d, i, "");
			continue;
		}
		d->slot_used[i] = true;
		slot_free_after_commit(d, i);
	}
	free(d->old_slots);
	d->old_slots = NULL;
	d->nold_slots = 0;
	if (list_dir(d, STATE_PAUSED, &names, &count) == 0) {
		p = names;
		for (size_t i = 0; i < count; i++, p += strlen(p) + 1)
			paused_arrival(d, p);
		free(names);
	}
	recover_stale(d);
	recover_finished(d, STATE_COMPLETED);
	recover_finished(d, STATE_FAILED);
	/*
	 * Files already in pending, in name order (see names_sorted()).
	 * Whether one was renamed in or is still being written in place
	 * cannot be told now, so each is judged by the in-place rules
	 * (accept_file(): no writer, unchanged for the settle time; a job
	 * the index knows skips them): looked at once when its ctime is
	 * already that old, after the settle time otherwise.
	 */
	if (list_dir(d, STATE_PENDING, &names, &count) == 0) {
		char **sorted = names_sorted(names, count);
		bool *at_once = calloc(count > 0 ? count : 1, sizeof(*at_once));
		int64_t wall = util_now_ms();
		size_t i;

		if (sorted == NULL || at_once == NULL) {
			/* Short of memory: directory order, all to settle. */
			for (p = names, i = 0; i < count;
			     i++, p += strlen(p) + 1)
				if (!spool_name_ignored(p))
					cand_put(d, p, false, false);
		} else {
			for (i = 0; i < count; i++)
				at_once[i] = cand_settled(d, sorted[i], wall);
			/*
			 * cand_put() puts a file to look at at once first and
			 * one to settle last: the first kind goes in reverse
			 * name order, the second in name order, so that both
			 * end up in name order.
			 */
			for (i = count; i-- > 0;)
				if (at_once[i] && !spool_name_ignored(sorted[i]))
					cand_put(d, sorted[i], true, false);
			for (i = 0; i < count; i++)
				if (!at_once[i] && !spool_name_ignored(sorted[i]))
					cand_put(d, sorted[i], false, false);
		}
		free(at_once);
		d->backlog = count >= BACKLOG_MIN;
		d->backlog_due = util_mono_ms() + (int64_t)d->cfg.settle_ms;
		free(sorted);
		free(names);
	}
	d->next_rescan = util_mono_ms() + (int64_t)d->cfg.rescan_ms;
	d->prune_at = util_mono_ms();
	breaker_load(d);
}

static int
setup_fds(struct daemon *d, char *err, size_t errlen)
{
	static const uint32_t masks[STATE_COUNT] = {
		[STATE_PENDING] = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE |
				  IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE,
		[STATE_PROCESSING] = IN_MOVED_FROM | IN_DELETE,
		[STATE_COMPLETED] = IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE,
		[STATE_FAILED] = IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE,
		[STATE_PAUSED] = IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE,
	};
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t set;
	char path[PATH_MAX];

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epfd < 0 || d->ifd < 0 || d->sfd < 0 || d->tfd < 0) {
		util_seterr(err, errlen, "cannot set up the event loop: %s",
			    strerror(errno));
		return -errno;
	}
	/* A handler gone before we wrote it its job must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Leases are dropped at once; a lease break must not kill us. */
	signal(SIGIO, SIG_IGN);
	/* Handlers reset just these: the set changes nowhere after this. */
	d->sig_reset = runner_sig_changed();
	for (int s = STATE_PENDING; s < STATE_COUNT; s++) {
		snprintf(path, sizeof(path), "%s/%s", d->sp.path, state_name(s));
		d->wd[s] = inotify_add_watch(d->ifd, path,
					     masks[s] | IN_ONLYDIR |
					     IN_DONT_FOLLOW | IN_DELETE_SELF |
					     IN_MOVE_SELF);
		if (d->wd[s] < 0) {
			util_seterr(err, errlen, "cannot watch %s: %s%s", path,
				    strerror(errno), errno == ENOSPC
				    ? " (raise fs.inotify.max_user_watches)"
				    : "");
			return -errno;
		}
	}
	d->tinotify = (struct tag){.kind = TAG_INOTIFY};
	d->tsignal = (struct tag){.kind = TAG_SIGNAL};
	d->ttimer = (struct tag){.kind = TAG_TIMER};
	ev.data.ptr = &d->tinotify;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->ifd, &ev);
	ev.data.ptr = &d->tsignal;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sfd, &ev);
	ev.data.ptr = &d->ttimer;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tfd, &ev);
	return 0;
}

/* ---- the loop ---- */

static void
run_drain(struct daemon *d, struct tag *t)
{
	struct run *run = &t->run->run;
	int *fd = t->kind == TAG_OUT ? &run->out_fd : &run->err_fd;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT,
				 .data.ptr = t};

	if (*fd < 0)
		return;
	if (runner_drain(run, *fd) == 0 && *fd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, *fd, &ev);
}

static void
dispatch(struct daemon *d, struct tag *t)
{
	uint64_t ticks;

	switch (t->kind) {
	case TAG_INOTIFY:
		on_inotify(d);
		break;
	case TAG_SIGNAL:
		on_signal(d);
		break;
	case TAG_TIMER:
		if (read(d->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			log_warn("event=timer_read error=\"%s\"",
				 strerror(errno));
		break;
	case TAG_PIDFD:
		t->run->exited = true;
		break;
	case TAG_OUT:
	case TAG_ERR:
		run_drain(d, t);
		break;
	case TAG_WPID:
		t->worker->exited = true;
		break;
	case TAG_WOUT:
		worker_read_out(d, t->worker);
		break;
	case TAG_WERR:
		worker_read_err(t->worker);
		break;
	case TAG_COMMIT:
		on_commit(d);
		break;
	}
}

/* After the grace period: kill what still runs; restart requeues it. */
static void
stop_kill(struct daemon *d)
{
	for (struct drun *r = d->runs; r != NULL; r = r->next) {
		if (r->exited)
			continue;
		log_warn("event=killed job=%s pid=%ld msg=\"shutdown grace "
			 "period over; the job is requeued at next start\"",
			 r->job->id, (long)r->run.pid);
		runner_signal(&r->run, SIGKILL);
	}
	d->stop_killed = true;
}

static int
loop(struct daemon *d)
{
	struct epoll_event evs[64];

	for (;;) {
		int64_t now;
		int n;

		arm_timer(d);
		/* The pass's lines, in one write, before the loop sleeps. */
		log_flush();
		n = epoll_wait(d->epfd, evs, 64, -1);
		if (n < 0 && errno != EINTR) {
			log_error("event=epoll_failed error=\"%s\"",
				  strerror(errno));
			return EX_OSERR;
		}
		for (int i = 0; i < n; i++)
			dispatch(d, evs[i].data.ptr);
		now = util_mono_ms();
		if (d->io_retry_at != 0 && now >= d->io_retry_at)
			d->io_retry_at = 0;
		if (d->rescan_wanted || now >= d->next_rescan) {
			rescan(d);
			d->next_rescan = now + (int64_t)d->cfg.rescan_ms;
		}
		runs_check(d);
		workers_reap(d);
		runs_reap(d);
		cgroups_sweep(d, now);
		/*
		 * The slots that just came free get their next jobs before
		 * new uploads are read, which then take a short pass only
		 * (ACCEPT_BUSY_US): in a burst the accepting is the longest
		 * work of a pass, and a worker waits for all of it.
		 */
		schedule(d);
		cands_process(d);
		/*
		 * Claims first, then one flush for the accepts and the claims
		 * of this pass: a flush between them (a fsync of pending and
		 * an LMDB commit) was most of the time between a drop and its
		 * handler's start. Nothing a handler's start depends on waits
		 * for it: db/running is written by the handler's own process.
		 * A disk that fails is known at the first failed flush, after
		 * this pass's claims at most; from then on nothing is claimed
		 * until a flush succeeds (space_ok()).
		 */
		schedule(d);
		if (now >= d->prune_at && !d->stopping)
			retention_step(d);
		if (now >= d->metrics_at)
			metrics_update(d);
		flush_maybe(d);
		if (d->stopping && d->runs == NULL && !durable_pending(d))
			return 0;
		if (d->stopping && !d->stop_killed && now >= d->stop_deadline)
			stop_kill(d);
		if (d->stop_killed) {
			flush_wait(d);
			/* Their pids are on record: the next start requeues them. */
			for (struct drun *r = d->runs; r != NULL; r = r->next)
				runner_abandon(&r->run);
			return 0;
		}
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: syncspoold [-c CONFIG]\n");
}

static void
daemon_free(struct daemon *d)
{
	struct drun *r, *rnext;
	struct table_entry *e = NULL;
	size_t pos = 0;
	struct cand *c, *cnext;

	for (r = d->runs; r != NULL; r = rnext) {
		rnext = r->next;
		r->job->run = NULL;
		runner_abandon(&r->run);
		free(r);
	}
	d->runs = NULL;
	/* Idle persistent handlers read EOF and exit. */
	for (struct pworker *w = d->workers, *wnext; w != NULL; w = wnext) {
		wnext = w->next;
		if (w->in_fd >= 0)
			close(w->in_fd);
		runner_abandon(&w->run);
		free(w->buf);
		free(w);
	}
	d->workers = NULL;
	while ((e = table_next(&d->jobs, &pos, e)) != NULL)
		djob_release(e->value);
	table_free(&d->jobs);
	for (c = d->cand_head; c != NULL; c = cnext) {
		cnext = c->next;
		free(c);
	}
	table_free(&d->cands);
	metrics_free(&d->metrics);
	free(d->slot_used);
	free(d->slot_done);
	/* It has nothing in hand unless a last flush failed: it finishes. */
	if (d->cm.pid > 0)
		committer_stop(&d->cm, false, NULL);
	store_batch_free(d->sealed);
	free(d->sealed_slots);
	free(d->old_slots);
	if (d->running_fd >= 0)
		close(d->running_fd);
	sched_free(&d->sched);
	cgroup_close(&d->cg, true);
	if (d->st != NULL)
		store_close(d->st);
	spool_close(&d->sp);
	config_free(&d->cfg);
	for (int *fd = &d->epfd; fd <= &d->tfd; fd++)
		if (*fd >= 0)
			close(*fd);
}

int
main(int argc, char **argv)
{
	struct daemon d;
	char err[ERRLEN], dbdir[PATH_MAX];
	const char *opt_config = NULL;
	pid_t holder;
	int ch, rc;

	memset(&d, 0, sizeof(d));
	d.epfd = d.ifd = d.sfd = d.tfd = d.running_fd = d.cm.fd = -1;
	d.cg.fd = d.cg.parent_fd = -1;
	/*
	 * Started with 0-2 closed, our own descriptors would take those
	 * numbers, and a log line could land in a handler's pipe.
	 */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			return EX_OSERR;
	log_init("syncspoold");
	log_hold(true);
	atexit(log_flush);
	/*
	 * Handlers run as our user: were we dumpable, any of them could read
	 * our environment and memory, and open our descriptors (the lock,
	 * LMDB), through /proc/<pid>. Not dumpable, those are root's. A
	 * handler is dumpable again once it has exec'd.
	 */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c':
			opt_config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "syncspoold: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	d.config_path = config_find(opt_config);
	if (config_load(d.config_path, &d.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "syncspoold: %s\n", err);
		return EX_CONFIG;
	}
	rc = EX_CANTCREAT;
	if (spool_open(d.cfg.spool, true, &d.sp, err, sizeof(err)) < 0)
		goto fail;
	rc = EX_CONFIG;
	if (audit(&d, &d.cfg, true, err, sizeof(err)) > 0)
		goto fail;
	rc = EX_TEMPFAIL;
	if (spool_lock(&d.sp, &holder, err, sizeof(err)) < 0)
		goto fail;
	rc = EX_CANTCREAT;
	d.running_fd = openat(d.sp.db_fd, RUNNING_NAME,
			      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (d.running_fd < 0) {
		snprintf(err, sizeof(err), "cannot open %s/db/%s: %s",
			 d.sp.path, RUNNING_NAME, strerror(errno));
		goto fail;
	}
	rc = EX_UNAVAILABLE;
	snprintf(dbdir, sizeof(dbdir), "%s/db", d.sp.path);
	if (store_open(dbdir, true, &d.st, err, sizeof(err)) < 0)
		goto fail;
	if (getrandom(&d.rnd, sizeof(d.rnd), 0) < 0 || d.rnd == 0)
		d.rnd = (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32) ^ 1;
	d.seq = (uint64_t)util_now_ms() << 16;
	sched_init(&d.sched, d.cfg.workers);
	apply_limits(&d);
	table_init(&d.jobs);
	table_init(&d.cands);
	metrics_init(&d.metrics, util_now_ms());
	rc = EX_OSERR;
	/* Handlers are watched through pidfds (Linux 5.3). */
	{
		int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (pfd < 0) {
			snprintf(err, sizeof(err), "pidfd_open: %s (syncspoold "
				 "needs Linux 5.3 or later)", strerror(errno));
			goto fail;
		}
		close(pfd);
	}
	/* The watches exist before the scan, so nothing falls between. */
	if (setup_fds(&d, err, sizeof(err)) < 0)
		goto fail;
	log_use_syslog(d.cfg.log_syslog);
	log_info("event=start pid=%ld spool=%s config=%s workers=%u",
		 (long)getpid(), d.sp.path, d.config_path, d.cfg.workers);
	cgroups_setup(&d);
	/*
	 * Before start-up's reads: the committer's fork then copies little,
	 * and it is in the cgroup cgroups_setup() left the daemon in.
	 */
	d.cm_retry_ms = COMMITTER_RETRY_MS;
	d.batch_epoch = rnd_next(&d);
	committer_up(&d);
	startup(&d);
	flush_wait(&d);
	/* Ready: the lock is held, the spool watched and scanned. */
	tell_manager("READY=1");
	rc = loop(&d);
	log_info("event=exit status=%d", rc);
	daemon_free(&d);
	return rc;
fail:
	log_flush(); /* what came before it, first */
	fprintf(stderr, "syncspoold: %s\n", err);
	daemon_free(&d);
	return rc;
}

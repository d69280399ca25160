/*
 * sched.h - what runs next, and what an attempt's end means. Pure: every
 * function takes the time it should consider "now", so tests drive it
 * with a fake clock.
 *
 * The queue holds the daemon's waiting jobs. A job is either not yet due
 * (in a timer heap ordered by due time) or ready (in its venue+provider
 * group's heap, ordered by priority, then age). Groups with ready jobs
 * and nothing running sit in their provider's run queue, ordered by the
 * top job's priority, then by the group's turn (a counter stamped when
 * the group last started a job, so venues take turns within a priority),
 * then by the top job's age. sched_next() picks across providers the best
 * group whose provider has room. Invariants:
 *   - a group is in its provider's run queue iff it has a ready job and
 *     none running;
 *   - at most one job runs per group (one venue+provider at a time);
 *   - at most `concurrency` per provider and `workers` in all.
 *
 * Memory: the caller owns struct sched_job (it embeds one in its own job
 * struct); the sched owns groups and provider slots, freed by
 * sched_free(). Groups are kept while they have jobs or a running job.
 */
#ifndef SYNCSPOOL_SCHED_H
#define SYNCSPOOL_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- outcomes and back-off ---- */

enum outcome {
	OUTCOME_COMPLETED, /* exit 0 */
	OUTCOME_RETRY,     /* 75, other codes, signals, timeout: try again */
	OUTCOME_FAILED,    /* sysexits' permanent errors, 64-78 but 75 */
};

enum outcome sched_outcome(int exit_code, int signal, bool timed_out);
const char *sched_outcome_name(enum outcome o);

/*
 * Exponential back-off with full jitter: a delay drawn uniformly from
 * [0, min(max, initial * 2^(attempt-1))] by rnd (any 64-bit random).
 * attempt is the attempt that just failed, from 1.
 */
uint64_t sched_backoff(uint64_t initial_ms, uint64_t max_ms, unsigned attempt,
		       uint64_t rnd);

/*
 * When a job that has been around since `since` (its creation, or its
 * not_before when later) and would next run at `next` must instead fail
 * as expired: true when next - since > max_age_ms (0: no limit).
 */
bool sched_expired(int64_t since, int64_t next, uint64_t max_age_ms);

/*
 * When a job going back to pending runs next: at now + defer_ms when its
 * handler asked to be called later (deferred), else after back-off
 * (sched_backoff() of attempt, with rnd). since is when the job was
 * queued, or its not_before when later. Returns false, with *at unset,
 * when that would be past max_age_ms after since: the job expires.
 */
bool sched_retry_at(int64_t now, int64_t since, uint64_t max_age_ms,
		    bool deferred, uint64_t defer_ms, uint64_t initial_ms,
		    uint64_t max_ms, unsigned attempt, uint64_t rnd,
		    int64_t *at);

/* ---- rate limit: a token bucket per provider ---- */

/*
 * `count` handler starts per `period_ms`, in bursts of at most `count`.
 * The level is kept in token-milliseconds: each millisecond adds `count`,
 * a start costs `period_ms`, and the bucket holds count * period_ms; so
 * the arithmetic is exact in integers. A zero count means no limit.
 */
struct sched_bucket {
	uint64_t count;
	uint64_t period_ms;
	uint64_t level;
	int64_t last;     /* ms of the last refill */
};

void sched_bucket_init(struct sched_bucket *b, uint64_t count,
		       uint64_t period_ms, int64_t now);
/* Take a token if there is one. */
bool sched_bucket_take(struct sched_bucket *b, int64_t now);
/* When the next token is there: now when one is. */
int64_t sched_bucket_ready(struct sched_bucket *b, int64_t now);

/* ---- circuit breaker per provider ---- */

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/*
 * After `threshold` failed attempts in a row the breaker opens: the
 * provider's jobs are held (not failed) until `until`. Then it is half
 * open: one job, the probe, may start. The probe's success closes it; its
 * failure opens it for another cool-down. A zero threshold: no breaker.
 */
struct sched_breaker {
	unsigned threshold;
	uint64_t cooldown_ms;
	unsigned failures;   /* consecutive failed attempts */
	enum breaker_state state;
	int64_t until;       /* open: when the probe may start */
	bool probing;        /* half open: the probe runs */
};

enum breaker_change { BREAKER_SAME, BREAKER_OPENED, BREAKER_CLOSED_AGAIN };

const char *sched_breaker_name(enum breaker_state s);
/* May one more job of the provider start now? */
bool sched_breaker_allows(struct sched_breaker *b, int64_t now);
/* A job of the provider started. */
void sched_breaker_started(struct sched_breaker *b);
/* An attempt ended, well or not; says whether the breaker changed. */
enum breaker_change sched_breaker_result(struct sched_breaker *b, bool ok,
					 int64_t now);
/* A started attempt ended without a verdict (cancelled, interrupted). */
void sched_breaker_abandoned(struct sched_breaker *b);

/* ---- the queue ---- */

struct sched_group;

struct sched_job {
	int64_t priority;
	uint64_t seq;      /* age: smaller is older */
	int64_t due;       /* ms; the job is ready when due <= now */
	struct sched_group *group;
	size_t heap_idx;   /* position in whichever heap holds it */
	bool queued;       /* in the sched at all */
};

struct sched_heap {
	void **items;
	size_t n, cap;
	bool (*before)(const void *a, const void *b);
	void (*moved)(void *item, size_t idx);
};

struct sched_provider {
	char *name;
	unsigned running;
	unsigned limit;          /* concurrency */
	struct sched_bucket rate;
	struct sched_breaker breaker;
	struct sched_heap runq;  /* groups */
};

/* coalesce: the waiting job a new trigger of one sync type merges into. */
struct sched_merge {
	struct sched_job *job;
	struct sched_merge *next;
	char type[];
};

struct sched_group {
	char *provider;          /* points into its sched_provider */
	char *venue;
	struct sched_provider *prov;
	struct sched_heap ready; /* sched_jobs */
	size_t nwaiting;         /* jobs not yet due */
	bool running;
	uint64_t turn;
	size_t runq_idx;
	bool in_runq;
	unsigned refs;           /* the caller's holders (paused jobs too) */
	struct sched_merge *merge; /* per sync type, for coalesce */
	struct sched_group *hnext; /* hash chain */
};

struct sched {
	struct sched_heap timers; /* sched_jobs not yet due */
	struct sched_group **buckets;
	size_t nbuckets, ngroups;
	struct sched_provider **provs;
	size_t nprovs;
	unsigned running, workers;
	uint64_t turn;
};

void sched_init(struct sched *s, unsigned workers);
void sched_free(struct sched *s);

/* Set a provider's concurrency (creating its slot); -ENOMEM. */
int sched_provider_limit(struct sched *s, const char *provider,
			 unsigned limit);
/*
 * Set a provider's rate and breaker settings, keeping the bucket's level
 * and the breaker's state when they were set before (a reload).
 */
int sched_provider_policy(struct sched *s, const char *provider,
			  uint64_t rate_count, uint64_t rate_period_ms,
			  unsigned breaker_failures, uint64_t cooldown_ms,
			  int64_t now);
/* The provider's slot, or NULL when it has none. */
struct sched_provider *sched_provider_find(struct sched *s,
					   const char *provider);
/* The group of venue+provider, created if missing; NULL on ENOMEM. */
struct sched_group *sched_group_get(struct sched *s, const char *provider,
				    const char *venue);
/*
 * Drop the group if it is empty, idle and held by nobody (refs, which
 * the caller counts for jobs that point to it outside the queue); returns
 * true if it was freed.
 */
bool sched_group_release(struct sched *s, struct sched_group *g);

/*
 * Coalescing, per group and sync type. sched_merge_target(): the job a
 * new trigger of type merges into: the one noted for type, if it still
 * waits in the queue (not running, not taken out). sched_merge_note():
 * note j for type unless a waiting one is noted already; -ENOMEM.
 * sched_merge_forget(): j goes away; forget it wherever it is noted.
 */
struct sched_job *sched_merge_target(struct sched_group *g, const char *type);
int sched_merge_note(struct sched_group *g, const char *type,
		     struct sched_job *j);
void sched_merge_forget(struct sched_group *g, struct sched_job *j);

/* Queue j (its priority, seq, due and group set by the caller). */
int sched_add(struct sched *s, struct sched_job *j, int64_t now);
/* Take j out wherever it is; a no-op if it is not queued. */
void sched_remove(struct sched *s, struct sched_job *j);
/* Move jobs whose due time has come from the timers to their groups. */
void sched_advance(struct sched *s, int64_t now);
/*
 * The next job to start, taken out of the queue, with its group marked
 * running and the counts raised; NULL when nothing may start now.
 */
struct sched_job *sched_next(struct sched *s, int64_t now);
/* Mark g running outside sched_next() (a handler adopted at start-up). */
void sched_start(struct sched *s, struct sched_group *g);
/* The group's job ended: lower the counts and requeue the group. */
void sched_done(struct sched *s, struct sched_group *g);
/*
 * The earliest time something may change: a waiting job's due time, or,
 * for a provider with ready jobs held back by its rate or its breaker,
 * when that ends. INT64_MAX when nothing waits.
 */
int64_t sched_next_due(struct sched *s, int64_t now);

#endif

/*
 * metrics.h - the daemon's counters, written as a Prometheus text-format
 * file for node_exporter's textfile collector (config `metrics`).
 *
 * The daemon counts events as they happen (metrics_attempt_*) and, every
 * few seconds, fills the gauges (jobs per state, oldest pending job,
 * breaker, free space) and writes the file atomically: a temporary file
 * in the same directory, then rename(2), so a reader never sees half of
 * it. metrics_format() is pure, for tests.
 *
 * Counters start at zero when the daemon starts (Prometheus handles the
 * reset: syncspool_start_time_seconds tells when).
 */
#ifndef SYNCSPOOL_METRICS_H
#define SYNCSPOOL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "util.h"

#define METRICS_BUCKETS 10

/* Why an attempt did not succeed: the `reason` label. */
enum metrics_reason {
	REASON_EXIT,      /* a non-zero exit */
	REASON_SIGNAL,    /* killed by a signal */
	REASON_TIMEOUT,
	REASON_INVALID,   /* not a valid job */
	REASON_EXPIRED,   /* past max_age */
	REASON_COUNT
};

struct metrics_provider {
	char name[TOKEN_MAX + 1];
	/* counters */
	uint64_t attempts;            /* handlers started */
	uint64_t retries;             /* attempts that went back to pending */
	uint64_t failures[REASON_COUNT];
	uint64_t duration_le[METRICS_BUCKETS]; /* cumulative, as Prometheus */
	uint64_t duration_count;
	uint64_t duration_sum_ms;
	/* gauges, filled before each write */
	uint64_t jobs[STATE_COUNT];
	int64_t oldest_pending_ms;    /* its age; 0 when none waits */
	int breaker_open;
};

struct metrics {
	struct metrics_provider *provs;
	size_t nprovs;
	int64_t started;              /* ms since the epoch */
	double free_space;            /* ratio 0..1 of the spool filesystem */
	double free_inodes;
	/* durability: see commit.h */
	uint64_t commits[2];          /* batches made durable: [0] by the
					 committer, [1] by the daemon itself */
	uint64_t commit_failures;     /* flushes that failed (and went again) */
	uint64_t committer_exits;     /* committers that died or were ended */
};

/* Upper bounds of the duration histogram's buckets, in seconds. */
extern const double metrics_bucket_le[METRICS_BUCKETS];

void metrics_init(struct metrics *m, int64_t now);
void metrics_free(struct metrics *m);
/* The provider's slot, created on first use; NULL on ENOMEM. */
struct metrics_provider *metrics_provider(struct metrics *m,
					  const char *name);
/* Zero every gauge, before they are filled again. */
void metrics_clear_gauges(struct metrics *m);
/* An attempt ended after duration_ms (its outcome counted separately). */
void metrics_duration(struct metrics_provider *p, uint64_t duration_ms);

/* The file's text; *out is malloc'd. -ENOMEM. */
int metrics_format(const struct metrics *m, char **out);
/* Write text to path atomically. -errno, with err filled. */
int metrics_write(const char *path, const char *text, char *err,
		  size_t errlen);

#endif

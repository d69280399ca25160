/*
 * job.h - the job file: a small YAML document a client drops into pending.
 *
 *   venue_id: venue-123          required, [A-Za-z0-9][A-Za-z0-9._-]{0,63}
 *   provider: square             required token, [A-Za-z0-9][A-Za-z0-9._-]{0,63}
 *   sync_type: full              optional token, default "full"
 *   options: {since: "2025-01-01"}  optional flat map of scalars
 *   priority: 0                  optional integer, higher runs first
 *   not_before: 2025-01-02T03:00:00Z   optional RFC 3339 time
 *   max_attempts: 5              optional, 1..1000
 *
 * job_parse() reads it with libyaml's event API and is bounded: at most
 * JOB_MAX_SIZE bytes, one document, nesting depth JOB_MAX_DEPTH, no
 * anchors, aliases or tags, valid UTF-8 without NUL bytes, at most
 * JOB_MAX_OPTIONS options. Unknown and duplicate keys are errors.
 *
 * Whether the provider is configured is the caller's business (the parser
 * knows nothing of the config), so tests can run it as a pure function.
 */
#ifndef SYNCSPOOL_JOB_H
#define SYNCSPOOL_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JOB_MAX_SIZE (64 * 1024)
#define JOB_MAX_DEPTH 8
#define JOB_MAX_OPTIONS 64
#define JOB_OPTION_KEY_MAX 64     /* option keys: [A-Za-z_][A-Za-z0-9_]{0,63} */
#define JOB_OPTION_VALUE_MAX 4096 /* bytes */
#define JOB_MAX_ATTEMPTS 1000

struct job_option {
	char *key;   /* as written; SYNCSPOOL_OPTION_<KEY> upper-cases it */
	char *value; /* the scalar's text */
};

struct job {
	char venue_id[VENUE_MAX + 1];
	char provider[TOKEN_MAX + 1];
	char sync_type[TOKEN_MAX + 1]; /* "full" when absent */
	int64_t priority;              /* 0 when absent */
	int64_t not_before;            /* ms since epoch, 0 when absent */
	unsigned max_attempts;         /* 0 when absent */
	size_t noptions;
	struct job_option *options; /* owned; job_free() releases */
};

/*
 * Parse len bytes at buf into *job. On success returns 0 and *job owns
 * its options. On failure returns -EINVAL (or -ENOMEM), leaves *job
 * empty, and writes into err a message of the form
 *   "line 3, column 5: unknown key 'foo' (expected venue_id, provider, ...)"
 * Line and column are 1-based.
 */
int job_parse(const char *buf, size_t len, struct job *job, char *err,
	      size_t errlen);

/* Release what job_parse() allocated; safe on a zeroed or freed job. */
void job_free(struct job *job);

#endif

/*
 * record.h - what LMDB stores: a job's state record, a history event, and
 * the per venue+provider summary, with their versioned binary encodings.
 *
 * Encodings are little-endian, start with a one-byte format version
 * (RECORD_VERSION), and are decoded defensively: a truncated, oversized
 * or unknown-version buffer is rejected with -EINVAL, never read past its
 * end. Strings are stored as a u16 length and bytes (no NUL); decoders
 * NUL-terminate into the fixed arrays below and reject anything longer.
 *
 * The *_encode functions write into a caller's buffer of RECORD_MAX bytes
 * and return the length used, or -EOVERFLOW.
 */
#ifndef SYNCSPOOL_RECORD_H
#define SYNCSPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define RECORD_VERSION 1
#define RECORD_MAX 16384
#define NAME_MAX_LEN 255     /* an uploaded file name */
#define ERROR_MAX 255        /* a short error: the handler's last stderr line */
#define RESULT_MAX 4096      /* the handler's result file, "key: value" lines */
#define BOOT_ID_LEN 36

/* The directory a job's file sits in. Order matters: it indexes counts. */
enum job_state {
	STATE_NONE = 0, /* not in any state directory (dropped) */
	STATE_PENDING,
	STATE_PROCESSING,
	STATE_COMPLETED,
	STATE_FAILED,
	STATE_PAUSED,
	STATE_COUNT
};

/* "pending", ... ; "none" for STATE_NONE. */
const char *state_name(enum job_state s);
/* The state called name, or STATE_NONE. */
enum job_state state_from_name(const char *name);

enum event_type {
	EV_QUEUED = 1,
	EV_STARTED,
	EV_COMPLETED,
	EV_RETRY_SCHEDULED,
	EV_DEFERRED,
	EV_FAILED,
	EV_INVALID,
	EV_EXPIRED,
	EV_PAUSED,
	EV_CANCELLED,
	EV_RESUMED,
	EV_RETRIED,
	EV_COALESCED,
	EV_DROPPED,
	EV_INTERRUPTED,
	EV_RECOVERED,
	EV_BREAKER_OPEN,
	EV_BREAKER_CLOSED,
	EV_COUNT
};

/* "queued", "started", ... as in DESIGN.md "History events". */
const char *event_name(enum event_type e);
enum event_type event_from_name(const char *name); /* 0 when unknown */

struct jobrec {
	char id[ID_MAX + 1];
	char name[NAME_MAX_LEN + 1];  /* the name it was uploaded under */
	char venue[VENUE_MAX + 1];
	char provider[TOKEN_MAX + 1];
	char sync_type[TOKEN_MAX + 1];
	enum job_state state;
	int64_t priority;
	int64_t created;      /* ms; when the daemon first took it */
	int64_t updated;      /* ms; last state change */
	int64_t not_before;   /* ms; 0 = none */
	int64_t next_attempt; /* ms; 0 = now */
	uint32_t attempts;    /* attempts started so far */
	uint32_t max_attempts;
	uint64_t ino;         /* the file's inode, to tell it from a new upload */
	/* The running handler, so a restarted daemon can find it. */
	int32_t pid;          /* 0 when none runs */
	uint64_t pid_start;   /* /proc/PID/stat starttime, in clock ticks */
	char boot_id[BOOT_ID_LEN + 1];
	/* The last attempt's outcome. */
	int32_t last_exit;    /* -1 when none */
	int32_t last_signal;  /* 0 when none */
	char last_error[ERROR_MAX + 1];
};

struct event {
	int64_t time;         /* ms */
	enum event_type type;
	char job_id[ID_MAX + 1];
	char venue[VENUE_MAX + 1];
	char provider[TOKEN_MAX + 1];
	char sync_type[TOKEN_MAX + 1];
	uint32_t attempt;
	int32_t exit_code;    /* -1 when none */
	int32_t signal;       /* 0 when none */
	uint64_t duration_ms;
	char error[ERROR_MAX + 1];  /* short reason; "" when none */
	char result[RESULT_MAX + 1]; /* "key: value\n" lines; "" when none */
};

/* The summary `status` reads for one venue+provider without a scan. */
struct vpstat {
	uint64_t counts[STATE_COUNT]; /* jobs per state directory */
	int64_t last_run;             /* ms the last attempt ended; 0 = never */
	enum event_type last_outcome; /* completed, failed, retry_scheduled... */
	uint64_t last_duration_ms;
	int32_t last_exit;
	int32_t last_signal;
	char last_error[ERROR_MAX + 1];
	char last_job[ID_MAX + 1];
	int64_t last_success;         /* ms; 0 = never */
	int64_t next_attempt;         /* ms of the earliest waiting retry; 0 = none */
};

void jobrec_init(struct jobrec *r);  /* zero, with last_exit = -1 */
void event_init(struct event *e);    /* zero, with exit_code = -1 */

int jobrec_encode(const struct jobrec *r, unsigned char *buf, size_t len);
int jobrec_decode(const unsigned char *buf, size_t len, struct jobrec *r);
int event_encode(const struct event *e, unsigned char *buf, size_t len);
int event_decode(const unsigned char *buf, size_t len, struct event *e);
int vpstat_encode(const struct vpstat *s, unsigned char *buf, size_t len);
int vpstat_decode(const unsigned char *buf, size_t len, struct vpstat *s);

#endif

/*
 * util.h - small pure helpers shared by the daemon and the CLI.
 *
 * Time is an int64_t count of milliseconds since the Unix epoch (UTC)
 * everywhere in syncspool; a value of 0 means "not set".
 *
 * Parsers return 0 on success or -EINVAL, never touching *out on failure.
 * Nothing here allocates unless it says so.
 */
#ifndef SYNCSPOOL_UTIL_H
#define SYNCSPOOL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ERRLEN 512 /* size of the err[] buffers callers pass down */

#define ID_MAX 128      /* job id: [A-Za-z0-9][A-Za-z0-9._-]{0,127} */
#define VENUE_MAX 64    /* venue id: [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
#define TOKEN_MAX 64    /* provider names and sync types */
#define RFC3339_LEN 32  /* buffer for util_time_format() */

/* "500ms", "30s", "10m", "1h", "7d" (a bare number is seconds). */
int util_parse_duration(const char *s, uint64_t *ms);
/* "512", "64KiB", "1MiB", "2GiB" (also kB/MB/GB as powers of 1000). */
int util_parse_size(const char *s, uint64_t *bytes);
/* An unsigned decimal that fits in *out and is <= max. */
int util_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* A signed decimal in [min, max]. */
int util_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * RFC 3339 date-time, "2025-01-02T03:00:00Z" or with a numeric offset
 * and optional fraction, to ms since the epoch.
 */
int util_time_parse(const char *s, int64_t *ms);
/* ms since the epoch to "2025-01-02T03:00:00.123Z" (ms shown when non-zero). */
const char *util_time_format(int64_t ms, char buf[RFC3339_LEN]);

/* True when s matches [A-Za-z0-9][A-Za-z0-9._-]{0,max-1}. */
bool util_name_valid(const char *s, size_t max);

/*
 * Read the small file name (relative to dirfd, or AT_FDCWD) whole, up to
 * len - 1 bytes, into buf, NUL-terminated; *got (may be NULL) gets the
 * length. Opened O_NOFOLLOW. 0 or a negative errno; on a read error buf
 * holds what came before it.
 */
int util_file_read_at(int dirfd, const char *name, char *buf, size_t len,
		      size_t *got);

/* Wall clock in ms. Tests pass their own times to the pure functions. */
int64_t util_now_ms(void);
/* CLOCK_MONOTONIC in ms, for durations. */
int64_t util_mono_ms(void);
int64_t util_mono_us(void);

/* snprintf into err, for the err[] convention; always NUL-terminates. */
/*
 * What a start-up check found (spool_audit(), config_audit()): one
 * sentence per finding, saying what is wrong, where, and what to do. An
 * error stops the daemon; a warning is logged.
 */
enum audit_level {
	AUDIT_WARNING = 1,
	AUDIT_ERROR,
};
typedef void (*audit_cb)(enum audit_level level, const char *msg, void *arg);
/* Format a finding and pass it to cb. */
void util_audit(audit_cb cb, void *arg, enum audit_level level,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void util_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

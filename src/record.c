/*
 * record.c - job records, history events and venue+provider summaries,
 * their names, and their versioned binary encodings. See record.h.
 *
 * Version 1 layout, after the version byte, every integer little-endian
 * and every "str" a u16 length followed by that many bytes (no NUL):
 *
 *   jobrec  id, name, venue, provider, sync_type (str); state (u8);
 *           priority, created, updated, not_before, next_attempt (i64);
 *           attempts, max_attempts (u32); ino (u64); pid (i32);
 *           pid_start (u64); boot_id (str); last_exit, last_signal (i32);
 *           last_error (str)
 *   event   time (i64); type (u8); job_id, venue, provider, sync_type
 *           (str); attempt (u32); exit_code, signal (i32);
 *           duration_ms (u64); error, result (str)
 *   vpstat  counts[STATE_COUNT] (u64 each); last_run (i64);
 *           last_outcome (u8); last_duration_ms (u64); last_exit,
 *           last_signal (i32); last_error, last_job (str);
 *           last_success, next_attempt (i64)
 *
 * Any change to a layout, STATE_COUNT included, is a new RECORD_VERSION.
 *
 * Encoders refuse what a decoder would refuse (an enum out of range, a
 * string not terminated inside its array) with -EINVAL, so nothing is ever
 * stored that cannot be read back. Decoders fill a local copy and touch
 * the caller's struct only on success.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "record.h"

static const char *const state_names[STATE_COUNT] = {
	[STATE_NONE] = "none",
	[STATE_PENDING] = "pending",
	[STATE_PROCESSING] = "processing",
	[STATE_COMPLETED] = "completed",
	[STATE_FAILED] = "failed",
	[STATE_PAUSED] = "paused",
};

static const char *const event_names[EV_COUNT] = {
	[EV_QUEUED] = "queued",
	[EV_STARTED] = "started",
	[EV_COMPLETED] = "completed",
	[EV_RETRY_SCHEDULED] = "retry_scheduled",
	[EV_DEFERRED] = "deferred",
	[EV_FAILED] = "failed",
	[EV_INVALID] = "invalid",
	[EV_EXPIRED] = "expired",
	[EV_PAUSED] = "paused",
	[EV_CANCELLED] = "cancelled",
	[EV_RESUMED] = "resumed",
	[EV_RETRIED] = "retried",
	[EV_COALESCED] = "coalesced",
	[EV_DROPPED] = "dropped",
	[EV_INTERRUPTED] = "interrupted",
	[EV_RECOVERED] = "recovered",
	[EV_BREAKER_OPEN] = "breaker_open",
	[EV_BREAKER_CLOSED] = "breaker_closed",
};

/*
 * Out-of-range values name themselves "unknown" rather than NULL, so a
 * caller printing a damaged record prints something.
 */
const char *
state_name(enum job_state s)
{
	if ((unsigned)s >= STATE_COUNT)
		return "unknown";
	return state_names[s];
}

enum job_state
state_from_name(const char *name)
{
	if (name == NULL)
		return STATE_NONE;
	for (unsigned i = 0; i < STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (enum job_state)i;
	return STATE_NONE;
}

const char *
event_name(enum event_type e)
{
	if ((unsigned)e < EV_QUEUED || (unsigned)e >= EV_COUNT)
		return "unknown";
	return event_names[e];
}

enum event_type
event_from_name(const char *name)
{
	if (name == NULL)
		return 0;
	for (unsigned i = EV_QUEUED; i < EV_COUNT; i++)
		if (strcmp(name, event_names[i]) == 0)
			return (enum event_type)i;
	return 0;
}

void
jobrec_init(struct jobrec *r)
{
	memset(r, 0, sizeof(*r));
	r->last_exit = -1;
}

void
event_init(struct event *e)
{
	memset(e, 0, sizeof(*e));
	e->exit_code = -1;
}

/*
 * The cursor: one position in one buffer, written by the cur_put_*
 * functions or read by the cur_get_* ones. The first failure sticks in
 * err and turns every later call into a no-op (gets then return 0), so a
 * codec is a straight list of fields with one check at the end.
 */
struct cursor {
	unsigned char *out;      /* encoding; NULL when decoding */
	const unsigned char *in; /* decoding; NULL when encoding */
	size_t len;
	size_t pos;
	int err;                 /* 0, -EOVERFLOW or -EINVAL */
};

static void
cur_put_le(struct cursor *c, uint64_t v, size_t n)
{
	if (c->err != 0)
		return;
	if (n > c->len - c->pos) {
		c->err = -EOVERFLOW;
		return;
	}
	for (size_t i = 0; i < n; i++)
		c->out[c->pos++] = (unsigned char)(v >> (8 * i));
}

static uint64_t
cur_get_le(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	if (c->err != 0)
		return 0;
	if (n > c->len - c->pos) {
		c->err = -EINVAL; /* truncated */
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->in[c->pos++] << (8 * i);
	return v;
}

static void
cur_put_u8(struct cursor *c, uint8_t v)
{
	cur_put_le(c, v, 1);
}

static void
cur_put_u32(struct cursor *c, uint32_t v)
{
	cur_put_le(c, v, 4);
}

static void
cur_put_i32(struct cursor *c, int32_t v)
{
	cur_put_le(c, (uint32_t)v, 4);
}

static void
cur_put_u64(struct cursor *c, uint64_t v)
{
	cur_put_le(c, v, 8);
}

static void
cur_put_i64(struct cursor *c, int64_t v)
{
	cur_put_le(c, (uint64_t)v, 8);
}

static uint8_t
cur_get_u8(struct cursor *c)
{
	return (uint8_t)cur_get_le(c, 1);
}

static uint32_t
cur_get_u32(struct cursor *c)
{
	return (uint32_t)cur_get_le(c, 4);
}

/* Two's complement both ways (gcc defines the narrowing conversion). */
static int32_t
cur_get_i32(struct cursor *c)
{
	return (int32_t)(uint32_t)cur_get_le(c, 4);
}

static uint64_t
cur_get_u64(struct cursor *c)
{
	return cur_get_le(c, 8);
}

static int64_t
cur_get_i64(struct cursor *c)
{
	return (int64_t)cur_get_le(c, 8);
}

/* An enum as one byte; it must lie in [lo, hi). */
static void
cur_put_enum(struct cursor *c, unsigned v, unsigned lo, unsigned hi)
{
	if (c->err == 0 && (v < lo || v >= hi))
		c->err = -EINVAL;
	cur_put_u8(c, (uint8_t)v);
}

static unsigned
cur_get_enum(struct cursor *c, unsigned lo, unsigned hi)
{
	unsigned v = cur_get_u8(c);

	if (c->err == 0 && (v < lo || v >= hi))
		c->err = -EINVAL;
	return c->err == 0 ? v : lo;
}

/*
 * A string held in a char array of size cap. It must be NUL-terminated
 * inside the array; the terminator is not stored.
 */
static void
cur_put_str(struct cursor *c, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (c->err != 0)
		return;
	if (n == cap || n > UINT16_MAX) {
		c->err = -EINVAL;
		return;
	}
	cur_put_le(c, n, 2);
	if (c->err != 0)
		return;
	if (n > c->len - c->pos) {
		c->err = -EOVERFLOW;
		return;
	}
	memcpy(c->out + c->pos, s, n);
	c->pos += n;
}

/* The inverse: at most cap - 1 bytes, no NUL among them. */
static void
cur_get_str(struct cursor *c, char *s, size_t cap)
{
	size_t n = (size_t)cur_get_le(c, 2);

	s[0] = '\0';
	if (c->err != 0)
		return;
	if (n >= cap || n > c->len - c->pos ||
	    memchr(c->in + c->pos, '\0', n) != NULL) {
		c->err = -EINVAL;
		return;
	}
	memcpy(s, c->in + c->pos, n);
	s[n] = '\0';
	c->pos += n;
}

static struct cursor
cur_writer(unsigned char *buf, size_t len)
{
	struct cursor c = {.out = buf, .len = len};

	cur_put_u8(&c, RECORD_VERSION);
	return c;
}

static struct cursor
cur_reader(const unsigned char *buf, size_t len)
{
	struct cursor c = {.in = buf, .len = len};

	if (buf == NULL)
		c.len = 0;
	if (cur_get_u8(&c) != RECORD_VERSION && c.err == 0)
		c.err = -EINVAL;
	return c;
}

/* The length written, or the first failure. */
static int
cur_written(const struct cursor *c)
{
	return c->err != 0 ? c->err : (int)c->pos;
}

/* 0 when the whole buffer was read without fault; trailing bytes are not. */
static int
cur_read_all(const struct cursor *c)
{
	if (c->err != 0)
		return c->err;
	return c->pos == c->len ? 0 : -EINVAL;
}

int
jobrec_encode(const struct jobrec *r, unsigned char *buf, size_t len)
{
	struct cursor c = cur_writer(buf, len);

	cur_put_str(&c, r->id, sizeof(r->id));
	cur_put_str(&c, r->name, sizeof(r->name));
	cur_put_str(&c, r->venue, sizeof(r->venue));
	cur_put_str(&c, r->provider, sizeof(r->provider));
	cur_put_str(&c, r->sync_type, sizeof(r->sync_type));
	cur_put_enum(&c, r->state, STATE_NONE, STATE_COUNT);
	cur_put_i64(&c, r->priority);
	cur_put_i64(&c, r->created);
	cur_put_i64(&c, r->updated);
	cur_put_i64(&c, r->not_before);
	cur_put_i64(&c, r->next_attempt);
	cur_put_u32(&c, r->attempts);
	cur_put_u32(&c, r->max_attempts);
	cur_put_u64(&c, r->ino);
	cur_put_i32(&c, r->pid);
	cur_put_u64(&c, r->pid_start);
	cur_put_str(&c, r->boot_id, sizeof(r->boot_id));
	cur_put_i32(&c, r->last_exit);
	cur_put_i32(&c, r->last_signal);
	cur_put_str(&c, r->last_error, sizeof(r->last_error));
	return cur_written(&c);
}

int
jobrec_decode(const unsigned char *buf, size_t len, struct jobrec *r)
{
	struct cursor c = cur_reader(buf, len);
	struct jobrec t;
	int rc;

	jobrec_init(&t);
	cur_get_str(&c, t.id, sizeof(t.id));
	cur_get_str(&c, t.name, sizeof(t.name));
	cur_get_str(&c, t.venue, sizeof(t.venue));
	cur_get_str(&c, t.provider, sizeof(t.provider));
	cur_get_str(&c, t.sync_type, sizeof(t.sync_type));
	t.state = cur_get_enum(&c, STATE_NONE, STATE_COUNT);
	t.priority = cur_get_i64(&c);
	t.created = cur_get_i64(&c);
	t.updated = cur_get_i64(&c);
	t.not_before = cur_get_i64(&c);
	t.next_attempt = cur_get_i64(&c);
	t.attempts = cur_get_u32(&c);
	t.max_attempts = cur_get_u32(&c);
	t.ino = cur_get_u64(&c);
	t.pid = cur_get_i32(&c);
	t.pid_start = cur_get_u64(&c);
	cur_get_str(&c, t.boot_id, sizeof(t.boot_id));
	t.last_exit = cur_get_i32(&c);
	t.last_signal = cur_get_i32(&c);
	cur_get_str(&c, t.last_error, sizeof(t.last_error));
	if ((rc = cur_read_all(&c)) < 0)
		return rc;
	*r = t;
	return 0;
}

int
event_encode(const struct event *e, unsigned char *buf, size_t len)
{
	struct cursor c = cur_writer(buf, len);

	cur_put_i64(&c, e->time);
	cur_put_enum(&c, e->type, EV_QUEUED, EV_COUNT);
	cur_put_str(&c, e->job_id, sizeof(e->job_id));
	cur_put_str(&c, e->venue, sizeof(e->venue));
	cur_put_str(&c, e->provider, sizeof(e->provider));
	cur_put_str(&c, e->sync_type, sizeof(e->sync_type));
	cur_put_u32(&c, e->attempt);
	cur_put_i32(&c, e->exit_code);
	cur_put_i32(&c, e->signal);
	cur_put_u64(&c, e->duration_ms);
	cur_put_str(&c, e->error, sizeof(e->error));
	cur_put_str(&c, e->result, sizeof(e->result));
	return cur_written(&c);
}

int
event_decode(const unsigned char *buf, size_t len, struct event *e)
{
	struct cursor c = cur_reader(buf, len);
	struct event t;
	int rc;

	event_init(&t);
	t.time = cur_get_i64(&c);
	t.type = cur_get_enum(&c, EV_QUEUED, EV_COUNT);
	cur_get_str(&c, t.job_id, sizeof(t.job_id));
	cur_get_str(&c, t.venue, sizeof(t.venue));
	cur_get_str(&c, t.provider, sizeof(t.provider));
	cur_get_str(&c, t.sync_type, sizeof(t.sync_type));
	t.attempt = cur_get_u32(&c);
	t.exit_code = cur_get_i32(&c);
	t.signal = cur_get_i32(&c);
	t.duration_ms = cur_get_u64(&c);
	cur_get_str(&c, t.error, sizeof(t.error));
	cur_get_str(&c, t.result, sizeof(t.result));
	if ((rc = cur_read_all(&c)) < 0)
		return rc;
	*e = t;
	return 0;
}

/* last_outcome is 0 until the first attempt ends, or an event type. */
int
vpstat_encode(const struct vpstat *s, unsigned char *buf, size_t len)
{
	struct cursor c = cur_writer(buf, len);

	for (unsigned i = 0; i < STATE_COUNT; i++)
		cur_put_u64(&c, s->counts[i]);
	cur_put_i64(&c, s->last_run);
	cur_put_enum(&c, s->last_outcome, 0, EV_COUNT);
	cur_put_u64(&c, s->last_duration_ms);
	cur_put_i32(&c, s->last_exit);
	cur_put_i32(&c, s->last_signal);
	cur_put_str(&c, s->last_error, sizeof(s->last_error));
	cur_put_str(&c, s->last_job, sizeof(s->last_job));
	cur_put_i64(&c, s->last_success);
	cur_put_i64(&c, s->next_attempt);
	return cur_written(&c);
}

int
vpstat_decode(const unsigned char *buf, size_t len, struct vpstat *s)
{
	struct cursor c = cur_reader(buf, len);
	struct vpstat t;
	int rc;

	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < STATE_COUNT; i++)
		t.counts[i] = cur_get_u64(&c);
	t.last_run = cur_get_i64(&c);
	t.last_outcome = cur_get_enum(&c, 0, EV_COUNT);
	t.last_duration_ms = cur_get_u64(&c);
	t.last_exit = cur_get_i32(&c);
	t.last_signal = cur_get_i32(&c);
	cur_get_str(&c, t.last_error, sizeof(t.last_error));
	cur_get_str(&c, t.last_job, sizeof(t.last_job));
	t.last_success = cur_get_i64(&c);
	t.next_attempt = cur_get_i64(&c);
	if ((rc = cur_read_all(&c)) < 0)
		return rc;
	*s = t;
	return 0;
}

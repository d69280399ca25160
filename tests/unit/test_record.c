/*
 * test_record.c - the names of states and events, and the versioned
 * encodings of job records, events and venue+provider summaries.
 *
 * The codec tests are table-driven: every sample of every record type goes
 * through the same round trip, truncation, trailing-byte and version
 * checks, through the small struct codec adapters below.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

/* Fill a char array of size cap with its longest string. */
#define FILL_MAX(arr, ch)                                   \
	do {                                                \
		memset((arr), (ch), sizeof(arr) - 1);       \
		(arr)[sizeof(arr) - 1] = '\0';              \
	} while (0)

static void
jobrec_full(void *p)
{
	struct jobrec *r = p;

	jobrec_init(r);
	strcpy(r->id, "venue1-square.20250102T030001Z.4f2a");
	strcpy(r->name, "venue1-square.yaml");
	strcpy(r->venue, "venue1");
	strcpy(r->provider, "square");
	strcpy(r->sync_type, "full");
	r->state = STATE_PROCESSING;
	r->priority = -42;
	r->created = 1735786801000;
	r->updated = 1735786802123;
	r->not_before = 1735786900000;
	r->next_attempt = 1735787000000;
	r->attempts = 3;
	r->max_attempts = 5;
	r->ino = 0xfedcba9876543210ULL;
	r->pid = 12345;
	r->pid_start = 987654321;
	strcpy(r->boot_id, "0f8e1c9a-6c1e-4f5b-9a0e-1d2c3b4a5f60");
	r->last_exit = 75;
	r->last_signal = 9;
	strcpy(r->last_error, "rate limited: try again");
}

static void
jobrec_empty(void *p)
{
	struct jobrec *r = p;

	jobrec_init(r);
	strcpy(r->id, "x");
}

static void
jobrec_max(void *p)
{
	struct jobrec *r = p;

	jobrec_init(r);
	FILL_MAX(r->id, 'i');
	FILL_MAX(r->name, 'n');
	FILL_MAX(r->venue, 'v');
	FILL_MAX(r->provider, 'p');
	FILL_MAX(r->sync_type, 's');
	FILL_MAX(r->boot_id, 'b');
	FILL_MAX(r->last_error, 'e');
	r->state = STATE_COUNT - 1;
	r->priority = INT64_MIN;
	r->created = INT64_MAX;
	r->updated = -1;
	r->attempts = UINT32_MAX;
	r->max_attempts = UINT32_MAX;
	r->ino = UINT64_MAX;
	r->pid = INT32_MIN;
	r->pid_start = UINT64_MAX;
	r->last_exit = INT32_MAX;
	r->last_signal = INT32_MIN;
}

static void
event_full(void *p)
{
	struct event *e = p;

	event_init(e);
	e->time = 1735786801234;
	e->type = EV_RETRY_SCHEDULED;
	strcpy(e->job_id, "venue1-square.20250102T030001Z.4f2a");
	strcpy(e->venue, "venue1");
	strcpy(e->provider, "square");
	strcpy(e->sync_type, "delta");
	e->attempt = 2;
	e->exit_code = 75;
	e->signal = 0;
	e->duration_ms = 12345;
	strcpy(e->error, "HTTP 429");
	strcpy(e->result, "records: 12\ncursor: abc\n");
}

static void
event_empty(void *p)
{
	struct event *e = p;

	event_init(e);
	e->type = EV_QUEUED;
}

static void
event_max(void *p)
{
	struct event *e = p;

	event_init(e);
	e->time = INT64_MAX;
	e->type = EV_COUNT - 1;
	FILL_MAX(e->job_id, 'j');
	FILL_MAX(e->venue, 'v');
	FILL_MAX(e->provider, 'p');
	FILL_MAX(e->sync_type, 's');
	FILL_MAX(e->error, 'e');
	FILL_MAX(e->result, 'r');
	e->attempt = UINT32_MAX;
	e->exit_code = INT32_MIN;
	e->signal = INT32_MAX;
	e->duration_ms = UINT64_MAX;
}

static void
vpstat_full(void *p)
{
	struct vpstat *s = p;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < STATE_COUNT; i++)
		s->counts[i] = (uint64_t)i * 1000 + 7;
	s->last_run = 1735786801234;
	s->last_outcome = EV_COMPLETED;
	s->last_duration_ms = 999;
	s->last_exit = 0;
	s->last_signal = 0;
	strcpy(s->last_error, "");
	strcpy(s->last_job, "venue1-square.1");
	s->last_success = 1735786801234;
	s->next_attempt = 1735786900000;
}

static void
vpstat_empty(void *p)
{
	struct vpstat *s = p;

	memset(s, 0, sizeof(*s));
	s->last_exit = -1;
}

static void
vpstat_max(void *p)
{
	struct vpstat *s = p;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < STATE_COUNT; i++)
		s->counts[i] = UINT64_MAX - (uint64_t)i;
	s->last_run = INT64_MIN;
	s->last_outcome = EV_COUNT - 1;
	s->last_duration_ms = UINT64_MAX;
	s->last_exit = INT32_MIN;
	s->last_signal = INT32_MAX;
	FILL_MAX(s->last_error, 'e');
	FILL_MAX(s->last_job, 'j');
	s->last_success = INT64_MAX;
	s->next_attempt = -1;
}

static void
jobrec_check_equal(const void *pa, const void *pb)
{
	const struct jobrec *a = pa, *b = pb;

	assert_string_equal(a->id, b->id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->venue, b->venue);
	assert_string_equal(a->provider, b->provider);
	assert_string_equal(a->sync_type, b->sync_type);
	assert_int_equal(a->state, b->state);
	assert_true(a->priority == b->priority);
	assert_true(a->created == b->created);
	assert_true(a->updated == b->updated);
	assert_true(a->not_before == b->not_before);
	assert_true(a->next_attempt == b->next_attempt);
	assert_true(a->attempts == b->attempts);
	assert_true(a->max_attempts == b->max_attempts);
	assert_true(a->ino == b->ino);
	assert_true(a->pid == b->pid);
	assert_true(a->pid_start == b->pid_start);
	assert_string_equal(a->boot_id, b->boot_id);
	assert_true(a->last_exit == b->last_exit);
	assert_true(a->last_signal == b->last_signal);
	assert_string_equal(a->last_error, b->last_error);
}

static void
event_check_equal(const void *pa, const void *pb)
{
	const struct event *a = pa, *b = pb;

	assert_true(a->time == b->time);
	assert_int_equal(a->type, b->type);
	assert_string_equal(a->job_id, b->job_id);
	assert_string_equal(a->venue, b->venue);
	assert_string_equal(a->provider, b->provider);
	assert_string_equal(a->sync_type, b->sync_type);
	assert_true(a->attempt == b->attempt);
	assert_true(a->exit_code == b->exit_code);
	assert_true(a->signal == b->signal);
	assert_true(a->duration_ms == b->duration_ms);
	assert_string_equal(a->error, b->error);
	assert_string_equal(a->result, b->result);
}

static void
vpstat_check_equal(const void *pa, const void *pb)
{
	const struct vpstat *a = pa, *b = pb;

	for (int i = 0; i < STATE_COUNT; i++)
		assert_true(a->counts[i] == b->counts[i]);
	assert_true(a->last_run == b->last_run);
	assert_int_equal(a->last_outcome, b->last_outcome);
	assert_true(a->last_duration_ms == b->last_duration_ms);
	assert_true(a->last_exit == b->last_exit);
	assert_true(a->last_signal == b->last_signal);
	assert_string_equal(a->last_error, b->last_error);
	assert_string_equal(a->last_job, b->last_job);
	assert_true(a->last_success == b->last_success);
	assert_true(a->next_attempt == b->next_attempt);
}

static int
jobrec_enc(const void *p, unsigned char *buf, size_t len)
{
	return jobrec_encode(p, buf, len);
}

static int
jobrec_dec(const unsigned char *buf, size_t len, void *p)
{
	return jobrec_decode(buf, len, p);
}

static int
event_enc(const void *p, unsigned char *buf, size_t len)
{
	return event_encode(p, buf, len);
}

static int
event_dec(const unsigned char *buf, size_t len, void *p)
{
	return event_decode(buf, len, p);
}

static int
vpstat_enc(const void *p, unsigned char *buf, size_t len)
{
	return vpstat_encode(p, buf, len);
}

static int
vpstat_dec(const unsigned char *buf, size_t len, void *p)
{
	return vpstat_decode(buf, len, p);
}

struct codec {
	size_t size;
	int (*encode)(const void *, unsigned char *, size_t);
	int (*decode)(const unsigned char *, size_t, void *);
	void (*check_equal)(const void *, const void *);
};

static const struct codec codec_jobrec = {
	sizeof(struct jobrec), jobrec_enc, jobrec_dec, jobrec_check_equal,
};
static const struct codec codec_event = {
	sizeof(struct event), event_enc, event_dec, event_check_equal,
};
static const struct codec codec_vpstat = {
	sizeof(struct vpstat), vpstat_enc, vpstat_dec, vpstat_check_equal,
};

static const struct sample {
	const char *name;
	const struct codec *codec;
	void (*build)(void *);
} samples[] = {
	{"jobrec full", &codec_jobrec, jobrec_full},
	{"jobrec empty strings", &codec_jobrec, jobrec_empty},
	{"jobrec max lengths", &codec_jobrec, jobrec_max},
	{"event full", &codec_event, event_full},
	{"event empty strings", &codec_event, event_empty},
	{"event max lengths", &codec_event, event_max},
	{"vpstat full", &codec_vpstat, vpstat_full},
	{"vpstat empty", &codec_vpstat, vpstat_empty},
	{"vpstat max lengths", &codec_vpstat, vpstat_max},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/* Room for any encoding plus one byte to append. */
static unsigned char buf[RECORD_MAX + 1];

static void *
sample_new(const struct sample *s)
{
	void *p = malloc(s->codec->size);

	assert_non_null(p);
	s->build(p);
	return p;
}

static int
sample_encode(const struct sample *s, const void *p)
{
	int n = s->codec->encode(p, buf, RECORD_MAX);

	if (n <= 0)
		fail_msg("%s: encode returned %d", s->name, n);
	return n;
}

static void
test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *in = sample_new(s), *out = malloc(s->codec->size);
		int n = sample_encode(s, in);

		assert_non_null(out);
		assert_true(buf[0] == RECORD_VERSION);
		memset(out, 0x5a, s->codec->size);
		assert_int_equal(s->codec->decode(buf, (size_t)n, out), 0);
		s->codec->check_equal(in, out);
		free(in);
		free(out);
	}
}

/* Every proper prefix of a valid encoding is rejected, untouched output. */
static void
test_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *in = sample_new(s), *out = malloc(s->codec->size);
		void *ref = malloc(s->codec->size);
		int n = sample_encode(s, in);

		assert_non_null(out);
		assert_non_null(ref);
		memset(ref, 0x5a, s->codec->size);
		for (int len = 0; len < n; len++) {
			/* A copy of exactly len bytes, so ASan sees overreads. */
			unsigned char *cut = malloc(len > 0 ? (size_t)len : 1);

			assert_non_null(cut);
			memcpy(cut, buf, (size_t)len);
			memset(out, 0x5a, s->codec->size);
			if (s->codec->decode(cut, (size_t)len, out) != -EINVAL)
				fail_msg("%s: %d of %d bytes accepted",
					 s->name, len, n);
			assert_memory_equal(out, ref, s->codec->size);
			free(cut);
		}
		free(in);
		free(out);
		free(ref);
	}
}

static void
test_trailing_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *in = sample_new(s), *out = malloc(s->codec->size);
		int n = sample_encode(s, in);

		assert_non_null(out);
		buf[n] = 0;
		assert_int_equal(s->codec->decode(buf, (size_t)n + 1, out),
				 -EINVAL);
		free(in);
		free(out);
	}
}

static void
test_bad_version(void **state)
{
	static const unsigned char versions[] = {0, RECORD_VERSION + 1, 0xff};

	(void)state;
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *in = sample_new(s), *out = malloc(s->codec->size);
		int n = sample_encode(s, in);

		assert_non_null(out);
		for (size_t v = 0; v < sizeof(versions); v++) {
			buf[0] = versions[v];
			assert_int_equal(s->codec->decode(buf, (size_t)n, out),
					 -EINVAL);
		}
		free(in);
		free(out);
	}
}

/* Every buffer shorter than the encoding is too small to encode into. */
static void
test_encode_overflow(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		void *in = sample_new(s);
		int n = sample_encode(s, in);

		for (int len = 0; len < n; len++) {
			unsigned char *small = malloc(len > 0 ? (size_t)len : 1);

			assert_non_null(small);
			if (s->codec->encode(in, small, (size_t)len) !=
			    -EOVERFLOW)
				fail_msg("%s: encoded into %d of %d bytes",
					 s->name, len, n);
			free(small);
		}
		assert_int_equal(s->codec->encode(in, buf, (size_t)n), n);
		free(in);
	}
}

/* Offsets into the "full" samples' encodings, from the layouts in record.c. */
static size_t
str_field_end(const unsigned char *p, size_t off, int nstr)
{
	while (nstr-- > 0)
		off += 2 + (size_t)(p[off] | p[off + 1] << 8);
	return off;
}

static void
test_bad_enum(void **state)
{
	struct jobrec r;
	struct event e;
	struct vpstat s;
	size_t off;
	int n;

	(void)state;
	/* jobrec: the state byte follows version and five strings. */
	jobrec_full(&r);
	n = jobrec_encode(&r, buf, RECORD_MAX);
	assert_true(n > 0);
	off = str_field_end(buf, 1, 5);
	assert_int_equal(buf[off], STATE_PROCESSING);
	buf[off] = STATE_COUNT;
	assert_int_equal(jobrec_decode(buf, (size_t)n, &r), -EINVAL);
	buf[off] = 0xff;
	assert_int_equal(jobrec_decode(buf, (size_t)n, &r), -EINVAL);
	buf[off] = STATE_NONE; /* "none" is a state: a dropped job */
	assert_int_equal(jobrec_decode(buf, (size_t)n, &r), 0);
	assert_int_equal(r.state, STATE_NONE);

	/* event: the type byte follows version and time. */
	event_full(&e);
	n = event_encode(&e, buf, RECORD_MAX);
	assert_true(n > 0);
	assert_int_equal(buf[9], EV_RETRY_SCHEDULED);
	buf[9] = 0;
	assert_int_equal(event_decode(buf, (size_t)n, &e), -EINVAL);
	buf[9] = EV_COUNT;
	assert_int_equal(event_decode(buf, (size_t)n, &e), -EINVAL);

	/* vpstat: last_outcome follows version, counts and last_run. */
	vpstat_full(&s);
	n = vpstat_encode(&s, buf, RECORD_MAX);
	assert_true(n > 0);
	off = 1 + 8 * STATE_COUNT + 8;
	assert_int_equal(buf[off], EV_COMPLETED);
	buf[off] = EV_COUNT;
	assert_int_equal(vpstat_decode(buf, (size_t)n, &s), -EINVAL);
	buf[off] = 0; /* "no outcome yet" is allowed */
	assert_int_equal(vpstat_decode(buf, (size_t)n, &s), 0);

	/* The encoders refuse what the decoders would. */
	jobrec_full(&r);
	r.state = STATE_COUNT;
	assert_int_equal(jobrec_encode(&r, buf, RECORD_MAX), -EINVAL);
	event_full(&e);
	e.type = 0;
	assert_int_equal(event_encode(&e, buf, RECORD_MAX), -EINVAL);
	e.type = EV_COUNT;
	assert_int_equal(event_encode(&e, buf, RECORD_MAX), -EINVAL);
	vpstat_full(&s);
	s.last_outcome = EV_COUNT;
	assert_int_equal(vpstat_encode(&s, buf, RECORD_MAX), -EINVAL);
}

static void
test_bad_strings(void **state)
{
	struct jobrec r;
	struct event e;
	size_t off;
	int n;

	(void)state;
	/* An id one byte longer than its array allows, well-formed otherwise. */
	jobrec_max(&r);
	n = jobrec_encode(&r, buf, RECORD_MAX);
	assert_true(n > 0);
	assert_int_equal(buf[1] | buf[2] << 8, ID_MAX);
	{
		unsigned char *longer = malloc((size_t)n + 1);

		assert_non_null(longer);
		longer[0] = RECORD_VERSION;
		longer[1] = (ID_MAX + 1) & 0xff;
		longer[2] = (ID_MAX + 1) >> 8;
		memset(longer + 3, 'i', ID_MAX + 1);
		memcpy(longer + 3 + ID_MAX + 1, buf + 3 + ID_MAX,
		       (size_t)n - 3 - ID_MAX);
		assert_int_equal(jobrec_decode(longer, (size_t)n + 1, &r),
				 -EINVAL);
		free(longer);
	}

	/* A length running past the end of the buffer. */
	jobrec_full(&r);
	n = jobrec_encode(&r, buf, RECORD_MAX);
	buf[1] = 0xff;
	buf[2] = 0x00;
	assert_int_equal(jobrec_decode(buf, (size_t)n, &r), -EINVAL);

	/* A NUL inside a string: the name (second string) of the full sample. */
	jobrec_full(&r);
	n = jobrec_encode(&r, buf, RECORD_MAX);
	off = str_field_end(buf, 1, 1);
	buf[off + 2 + 3] = '\0';
	assert_int_equal(jobrec_decode(buf, (size_t)n, &r), -EINVAL);

	/* The same in the last string of an event (result). */
	event_full(&e);
	n = event_encode(&e, buf, RECORD_MAX);
	buf[n - 1] = '\0';
	assert_int_equal(event_decode(buf, (size_t)n, &e), -EINVAL);

	/* An error string at its maximum plus one in an event. */
	event_full(&e);
	n = event_encode(&e, buf, RECORD_MAX);
	off = str_field_end(buf, 10, 4) + 4 + 4 + 4 + 8;
	assert_int_equal(buf[off] | buf[off + 1] << 8, strlen("HTTP 429"));
	buf[off] = (ERROR_MAX + 1) & 0xff;
	buf[off + 1] = (ERROR_MAX + 1) >> 8;
	assert_int_equal(event_decode(buf, (size_t)n, &e), -EINVAL);

	/* An encoder given a string with no NUL inside its array. */
	jobrec_full(&r);
	memset(r.venue, 'v', sizeof(r.venue));
	assert_int_equal(jobrec_encode(&r, buf, RECORD_MAX), -EINVAL);
	event_full(&e);
	memset(e.result, 'r', sizeof(e.result));
	assert_int_equal(event_encode(&e, buf, RECORD_MAX), -EINVAL);

	/* No buffer at all. */
	assert_int_equal(jobrec_decode(NULL, 0, &r), -EINVAL);
	assert_int_equal(event_decode(buf, 0, &e), -EINVAL);
}

static void
test_init(void **state)
{
	struct jobrec r;
	struct event e;

	(void)state;
	memset(&r, 0x5a, sizeof(r));
	jobrec_init(&r);
	assert_int_equal(r.last_exit, -1);
	assert_int_equal(r.state, STATE_NONE);
	assert_string_equal(r.id, "");
	assert_true(r.next_attempt == 0 && r.pid == 0 && r.attempts == 0);
	memset(&e, 0x5a, sizeof(e));
	event_init(&e);
	assert_int_equal(e.exit_code, -1);
	assert_int_equal(e.signal, 0);
	assert_string_equal(e.result, "");
	assert_true(e.time == 0 && e.duration_ms == 0);
}

static void
test_state_names(void **state)
{
	static const struct {
		enum job_state s;
		const char *name;
	} table[] = {
		{STATE_NONE, "none"},
		{STATE_PENDING, "pending"},
		{STATE_PROCESSING, "processing"},
		{STATE_COMPLETED, "completed"},
		{STATE_FAILED, "failed"},
		{STATE_PAUSED, "paused"},
	};

	(void)state;
	assert_int_equal(sizeof(table) / sizeof(table[0]), STATE_COUNT);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(state_name(table[i].s), table[i].name);
		assert_int_equal(state_from_name(table[i].name), table[i].s);
	}
	assert_int_equal(state_from_name("Pending"), STATE_NONE);
	assert_int_equal(state_from_name(""), STATE_NONE);
	assert_int_equal(state_from_name(NULL), STATE_NONE);
	assert_string_equal(state_name(STATE_COUNT), "unknown");
}

static void
test_event_names(void **state)
{
	/* DESIGN.md, "History events", in its order. */
	static const struct {
		enum event_type e;
		const char *name;
	} table[] = {
		{EV_QUEUED, "queued"},
		{EV_STARTED, "started"},
		{EV_COMPLETED, "completed"},
		{EV_RETRY_SCHEDULED, "retry_scheduled"},
		{EV_DEFERRED, "deferred"},
		{EV_FAILED, "failed"},
		{EV_INVALID, "invalid"},
		{EV_EXPIRED, "expired"},
		{EV_PAUSED, "paused"},
		{EV_CANCELLED, "cancelled"},
		{EV_RESUMED, "resumed"},
		{EV_RETRIED, "retried"},
		{EV_COALESCED, "coalesced"},
		{EV_DROPPED, "dropped"},
		{EV_INTERRUPTED, "interrupted"},
		{EV_RECOVERED, "recovered"},
		{EV_BREAKER_OPEN, "breaker_open"},
		{EV_BREAKER_CLOSED, "breaker_closed"},
	};

	(void)state;
	assert_int_equal(sizeof(table) / sizeof(table[0]), EV_COUNT - 1);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(event_name(table[i].e), table[i].name);
		assert_int_equal(event_from_name(table[i].name), table[i].e);
	}
	assert_int_equal(event_from_name("retry-scheduled"), 0);
	assert_int_equal(event_from_name("unknown"), 0);
	assert_int_equal(event_from_name(""), 0);
	assert_int_equal(event_from_name(NULL), 0);
	assert_string_equal(event_name(0), "unknown");
	assert_string_equal(event_name(EV_COUNT), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_trailing_byte),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_encode_overflow),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_event_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

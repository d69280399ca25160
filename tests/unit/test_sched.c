/*
 * test_sched.c - outcomes, back-off under a fake clock, and the queue's
 * order: priority, age, due times, one job per venue+provider, provider
 * concurrency, workers, and venues taking turns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched.h"

static void
test_outcome_table(void **state)
{
	static const struct {
		int exit_code, signal;
		bool timed_out;
		enum outcome want;
	} rows[] = {
		{0, 0, false, OUTCOME_COMPLETED},
		{0, 0, true, OUTCOME_RETRY},   /* a timeout is never success */
		{1, 0, false, OUTCOME_RETRY},
		{2, 0, false, OUTCOME_RETRY},
		{63, 0, false, OUTCOME_RETRY},
		{64, 0, false, OUTCOME_FAILED},
		{65, 0, false, OUTCOME_FAILED},
		{74, 0, false, OUTCOME_FAILED},
		{75, 0, false, OUTCOME_RETRY},
		{76, 0, false, OUTCOME_FAILED},
		{78, 0, false, OUTCOME_FAILED},
		{79, 0, false, OUTCOME_RETRY},
		{127, 0, false, OUTCOME_RETRY},
		{255, 0, false, OUTCOME_RETRY},
		{-1, 9, false, OUTCOME_RETRY},
		{-1, 15, false, OUTCOME_RETRY},
		{-1, 0, false, OUTCOME_RETRY}, /* unknown: adopted handler */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum outcome got = sched_outcome(rows[i].exit_code,
						 rows[i].signal,
						 rows[i].timed_out);
		if (got != rows[i].want)
			fail_msg("row %zu: exit %d signal %d: got %s want %s",
				 i, rows[i].exit_code, rows[i].signal,
				 sched_outcome_name(got),
				 sched_outcome_name(rows[i].want));
	}
}

static void
test_backoff_table(void **state)
{
	/* With rnd = UINT64_MAX - k the result shows the cap: cap - k%(cap+1). */
	static const struct {
		uint64_t initial, max;
		unsigned attempt;
		uint64_t cap;
	} rows[] = {
		{30000, 3600000, 1, 30000},
		{30000, 3600000, 2, 60000},
		{30000, 3600000, 3, 120000},
		{30000, 3600000, 7, 1920000},
		{30000, 3600000, 8, 3600000},
		{30000, 3600000, 100, 3600000},
		{30000, 3600000, 0, 30000},
		{1000, 1000, 5, 1000},
		{0, 0, 3, 0},
		{UINT64_MAX / 2, UINT64_MAX, 40, UINT64_MAX},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t cap = rows[i].cap;
		/* rnd = cap is the largest delay; rnd = cap + 1 wraps to 0. */
		uint64_t hi = sched_backoff(rows[i].initial, rows[i].max,
					    rows[i].attempt, cap);
		assert_int_equal(hi, cap);
		if (cap != UINT64_MAX) {
			assert_int_equal(sched_backoff(rows[i].initial,
						       rows[i].max,
						       rows[i].attempt,
						       cap + 1), 0);
		}
		/* Any draw stays within [0, cap]. */
		for (uint64_t r = 1; r < 2000000000ULL; r = r * 7 + 3)
			assert_true(sched_backoff(rows[i].initial, rows[i].max,
						  rows[i].attempt, r) <= cap);
	}
}

/* A tiny fixture: jobs named "provider/venue#n". */
struct tjob {
	struct sched_job sj; /* first, so a sched_job* is a tjob* */
	const char *name;
};

static struct tjob *
mk(struct sched *s, const char *prov, const char *venue, const char *name,
   int64_t prio, uint64_t seq, int64_t due)
{
	struct tjob *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->name = name;
	t->sj.priority = prio;
	t->sj.seq = seq;
	t->sj.due = due;
	t->sj.group = sched_group_get(s, prov, venue);
	assert_non_null(t->sj.group);
	assert_int_equal(sched_add(s, &t->sj, 0), 0);
	return t;
}

static const char *
next_name(struct sched *s, int64_t now)
{
	struct sched_job *j = sched_next(s, now);

	return j != NULL ? ((struct tjob *)j)->name : NULL;
}

static void
finish(struct sched *s, const char *prov, const char *venue)
{
	sched_done(s, sched_group_get(s, prov, venue));
}

static void
test_priority_then_age(void **state)
{
	struct sched s;
	struct tjob *t[4];

	(void)state;
	sched_init(&s, 8);
	assert_int_equal(sched_provider_limit(&s, "p", 8), 0);
	t[0] = mk(&s, "p", "a", "a-old", 0, 1, 0);
	t[1] = mk(&s, "p", "b", "b-high", 5, 2, 0);
	t[2] = mk(&s, "p", "c", "c-new", 0, 3, 0);
	t[3] = mk(&s, "p", "d", "d-low", -1, 0, 0);
	assert_string_equal(next_name(&s, 0), "b-high");
	assert_string_equal(next_name(&s, 0), "a-old");
	assert_string_equal(next_name(&s, 0), "c-new");
	assert_string_equal(next_name(&s, 0), "d-low");
	assert_null(next_name(&s, 0));
	for (int i = 0; i < 4; i++)
		free(t[i]);
	sched_free(&s);
}

static void
test_one_per_venue_provider(void **state)
{
	struct sched s;
	struct tjob *t[3];

	(void)state;
	sched_init(&s, 8);
	sched_provider_limit(&s, "p", 8);
	t[0] = mk(&s, "p", "a", "a1", 0, 1, 0);
	t[1] = mk(&s, "p", "a", "a2", 0, 2, 0);
	t[2] = mk(&s, "q", "a", "qa", 0, 3, 0); /* other provider: allowed */
	assert_string_equal(next_name(&s, 0), "a1");
	assert_string_equal(next_name(&s, 0), "qa");
	assert_null(next_name(&s, 0)); /* a2 waits for a1 */
	finish(&s, "p", "a");
	assert_string_equal(next_name(&s, 0), "a2");
	for (int i = 0; i < 3; i++)
		free(t[i]);
	sched_free(&s);
}

static void
test_limits(void **state)
{
	struct sched s;
	struct tjob *t[6];
	static const char *names[] = {"v1", "v2", "v3", "v4", "v5", "v6"};

	(void)state;
	sched_init(&s, 3);
	sched_provider_limit(&s, "p", 2);
	/* q's own limit never binds here: workers do. */
	sched_provider_limit(&s, "q", 8);
	for (int i = 0; i < 6; i++)
		t[i] = mk(&s, i < 4 ? "p" : "q", names[i], names[i], 0,
			  (uint64_t)i, 0);
	/* p may run 2; workers allow 3 in all. */
	assert_string_equal(next_name(&s, 0), "v1");
	assert_string_equal(next_name(&s, 0), "v2");
	assert_string_equal(next_name(&s, 0), "v5");
	assert_null(next_name(&s, 0)); /* v6 waits for a worker */
	assert_int_equal(s.running, 3);
	finish(&s, "q", "v5");
	assert_string_equal(next_name(&s, 0), "v6"); /* p still full */
	finish(&s, "p", "v1");
	assert_string_equal(next_name(&s, 0), "v3");
	assert_null(next_name(&s, 0)); /* workers full again */
	finish(&s, "q", "v6");
	assert_null(next_name(&s, 0)); /* p full, q empty */
	finish(&s, "p", "v2");
	assert_string_equal(next_name(&s, 0), "v4");
	for (int i = 0; i < 6; i++)
		free(t[i]);
	sched_free(&s);
}

static void
test_due_times(void **state)
{
	struct sched s;
	struct tjob *t[3];

	(void)state;
	sched_init(&s, 8);
	sched_provider_limit(&s, "p", 8);
	t[0] = mk(&s, "p", "a", "later", 0, 1, 5000);
	t[1] = mk(&s, "p", "b", "soon", 0, 2, 1000);
	t[2] = mk(&s, "p", "c", "now", 0, 3, 0);
	assert_int_equal(sched_next_due(&s, 0), 1000);
	assert_string_equal(next_name(&s, 0), "now");
	assert_null(next_name(&s, 999));
	assert_string_equal(next_name(&s, 1000), "soon");
	assert_int_equal(sched_next_due(&s, 0), 5000);
	assert_null(next_name(&s, 4999));
	assert_string_equal(next_name(&s, 5000), "later");
	assert_int_equal(sched_next_due(&s, 0), INT64_MAX);
	for (int i = 0; i < 3; i++)
		free(t[i]);
	sched_free(&s);
}

static void
test_remove(void **state)
{
	struct sched s;
	struct tjob *t[3];

	(void)state;
	sched_init(&s, 8);
	sched_provider_limit(&s, "p", 8);
	t[0] = mk(&s, "p", "a", "a1", 0, 1, 0);
	t[1] = mk(&s, "p", "a", "a2", 0, 2, 0);
	t[2] = mk(&s, "p", "b", "b-waiting", 0, 3, 100);
	sched_remove(&s, &t[0]->sj);
	sched_remove(&s, &t[2]->sj);
	sched_remove(&s, &t[2]->sj); /* twice is a no-op */
	assert_false(t[0]->sj.queued);
	assert_string_equal(next_name(&s, 1000), "a2");
	assert_null(next_name(&s, 1000));
	finish(&s, "p", "a");
	assert_true(sched_group_release(&s, t[0]->sj.group));
	assert_true(sched_group_release(&s, t[2]->sj.group));
	for (int i = 0; i < 3; i++)
		free(t[i]);
	sched_free(&s);
}

/* A venue with 10,000 jobs does not starve another venue's single job. */
static void
test_venues_take_turns(void **state)
{
	enum { BIG = 10000 };
	struct sched s;
	struct tjob **t = calloc(BIG + 1, sizeof(*t));
	char (*names)[16] = calloc(BIG, 16);

	(void)state;
	assert_non_null(t);
	assert_non_null(names);
	sched_init(&s, 1);
	sched_provider_limit(&s, "p", 1);
	for (int i = 0; i < BIG; i++) {
		snprintf(names[i], 16, "big%d", i);
		t[i] = mk(&s, "p", "big", names[i], 0, (uint64_t)i, 0);
	}
	t[BIG] = mk(&s, "p", "small", "small", 0, BIG + 100, 0);
	assert_string_equal(next_name(&s, 0), "big0");
	finish(&s, "p", "big");
	/* big just had a turn; small has not: small goes next. */
	assert_string_equal(next_name(&s, 0), "small");
	finish(&s, "p", "small");
	assert_string_equal(next_name(&s, 0), "big1");
	finish(&s, "p", "big");
	for (int i = 0; i <= BIG; i++) {
		sched_remove(&s, &t[i]->sj);
		free(t[i]);
	}
	free(t);
	free(names);
	sched_free(&s);
}

/*
 * The order jobs start in, one at a time (one worker, each finished
 * before the next starts), all queued at time 0: priority first, then
 * venues taking turns, then age, within a venue as across venues.
 */
static void
test_order_table(void **state)
{
	static const struct {
		const char *what;
		struct {
			const char *venue, *name;
			int64_t prio;
			uint64_t seq;
			int64_t due;
		} jobs[8];
		const char *want[8]; /* then nothing may start */
	} rows[] = {
		{"one venue: priority, then age",
		 {{"a", "low", 0, 0, 0}, {"a", "high-new", 5, 3, 0},
		  {"a", "high-old", 5, 1, 0}, {"a", "neg", -2, 2, 0}},
		 {"high-old", "high-new", "low", "neg"}},
		{"three venues take turns, oldest venue first",
		 {{"a", "a1", 0, 0, 0}, {"a", "a2", 0, 1, 0},
		  {"a", "a3", 0, 2, 0}, {"b", "b1", 0, 3, 0},
		  {"b", "b2", 0, 4, 0}, {"b", "b3", 0, 5, 0},
		  {"c", "c1", 0, 6, 0}},
		 {"a1", "b1", "c1", "a2", "b2", "a3", "b3"}},
		{"turns only within a priority",
		 {{"a", "a1", 5, 0, 0}, {"a", "a2", 5, 1, 0},
		  {"b", "b1", 0, 2, 0}},
		 {"a1", "a2", "b1"}},
		{"a higher priority in a venue that just ran",
		 {{"a", "a1", 0, 0, 0}, {"a", "a2", 9, 1, 0},
		  {"b", "b1", 0, 2, 0}},
		 {"a2", "b1", "a1"}},
		{"not yet due: never, whatever its priority",
		 {{"a", "later", 9, 0, 1000}, {"b", "now", 0, 1, 0},
		  {"a", "a-now", 0, 2, 0}},
		 {"now", "a-now"}},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tjob *t[8] = {0};
		struct sched s;
		size_t k;

		sched_init(&s, 1);
		sched_provider_limit(&s, "p", 1);
		for (k = 0; k < 8 && rows[i].jobs[k].name != NULL; k++)
			t[k] = mk(&s, "p", rows[i].jobs[k].venue,
				  rows[i].jobs[k].name, rows[i].jobs[k].prio,
				  rows[i].jobs[k].seq, rows[i].jobs[k].due);
		for (k = 0; k <= 8; k++) {
			struct sched_job *j = sched_next(&s, 0);
			const char *got = j ? ((struct tjob *)j)->name : NULL;
			const char *want = k < 8 ? rows[i].want[k] : NULL;
			if ((got == NULL) != (want == NULL) ||
			    (got != NULL && strcmp(got, want) != 0))
				fail_msg("%s: start %zu is %s, want %s",
					 rows[i].what, k, got ? got : "none",
					 want ? want : "none");
			if (j == NULL)
				break;
			sched_done(&s, j->group);
		}
		for (k = 0; k < 8; k++) {
			if (t[k] != NULL)
				sched_remove(&s, &t[k]->sj);
			free(t[k]);
		}
		sched_free(&s);
	}
}

/* Many groups, random operations: counts never go wrong. */
static void
test_many_groups(void **state)
{
	enum { N = 5000 };
	struct sched s;
	struct tjob *t = calloc(N, sizeof(*t));
	char (*venues)[16] = calloc(N, 16);
	size_t started = 0;
	struct sched_job *j;

	(void)state;
	assert_non_null(t);
	assert_non_null(venues);
	sched_init(&s, 1000000);
	sched_provider_limit(&s, "p", 1000000);
	for (int i = 0; i < N; i++) {
		snprintf(venues[i], 16, "v%d", i % 700);
		t[i].sj.seq = (uint64_t)i;
		t[i].sj.due = (i * 7919) % 1000;
		t[i].sj.group = sched_group_get(&s, "p", venues[i]);
		assert_int_equal(sched_add(&s, &t[i].sj, 0), 0);
	}
	assert_int_equal(s.ngroups, 700);
	for (int64_t now = 0; now <= 1000; now += 10) {
		while ((j = sched_next(&s, now)) != NULL) {
			assert_true(j->due <= now);
			started++;
			sched_done(&s, j->group);
		}
	}
	assert_int_equal(started, N);
	assert_int_equal(s.running, 0);
	free(venues);
	free(t);
	sched_free(&s);
}

static void
test_expired_table(void **state)
{
	static const struct {
		int64_t since, next;
		uint64_t max_age;
		bool want;
	} rows[] = {
		{0, 1000, 0, false},          /* no limit */
		{0, 1000, 1000, false},       /* exactly at the limit */
		{0, 1001, 1000, true},
		{5000, 1000, 10, false},      /* next before since */
		{86400000, 86400000 * 2, 86400000, false},
		{86400000, 86400000 * 2 + 1, 86400000, true},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (sched_expired(rows[i].since, rows[i].next,
				  rows[i].max_age) != rows[i].want)
			fail_msg("row %zu", i);
}

/* A token bucket of 3 per second, driven by a fake clock. */
static void
test_bucket(void **state)
{
	static const struct {
		int64_t now;
		bool take;       /* try to take a token */
		bool want;       /* whether it is granted */
		int64_t ready;   /* sched_bucket_ready() before the take */
	} steps[] = {
		{0, true, true, 0},      /* starts full: a burst of 3 */
		{0, true, true, 0},
		{0, true, true, 0},
		{0, true, false, 334},   /* empty; one token per 333.3 ms */
		{333, true, false, 334},
		{334, true, true, 334},
		{334, false, false, 667},
		{10000, true, true, 10000}, /* long idle: full again, not more */
		{10000, true, true, 10000},
		{10000, true, true, 10000},
		{10000, true, false, 10334},
		{9000, true, false, 10334}, /* the clock went back: no refill */
	};
	struct sched_bucket b;

	(void)state;
	sched_bucket_init(&b, 3, 1000, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t r = sched_bucket_ready(&b, steps[i].now);
		if (r != steps[i].ready)
			fail_msg("step %zu: ready at %lld, want %lld", i,
				 (long long)r, (long long)steps[i].ready);
		if (steps[i].take &&
		    sched_bucket_take(&b, steps[i].now) != steps[i].want)
			fail_msg("step %zu: take gave %d", i, !steps[i].want);
	}
	/* No limit: always. */
	sched_bucket_init(&b, 0, 1000, 0);
	for (int i = 0; i < 1000; i++)
		assert_true(sched_bucket_take(&b, 0));
	assert_int_equal(sched_bucket_ready(&b, 5), 5);
}

/* Breaker transitions: 3 failures open it for 10 s; a probe decides. */
static void
test_breaker(void **state)
{
	enum op { FAIL, OK, START, ALLOWS, DENIES, ABANDON };
	static const struct {
		int64_t now;
		enum op op;
		enum breaker_change change; /* for FAIL and OK */
		enum breaker_state after;
	} steps[] = {
		{0, ALLOWS, BREAKER_SAME, BREAKER_CLOSED},
		{1, FAIL, BREAKER_SAME, BREAKER_CLOSED},
		{2, FAIL, BREAKER_SAME, BREAKER_CLOSED},
		{3, OK, BREAKER_SAME, BREAKER_CLOSED},   /* resets the count */
		{4, FAIL, BREAKER_SAME, BREAKER_CLOSED},
		{5, FAIL, BREAKER_SAME, BREAKER_CLOSED},
		{6, FAIL, BREAKER_OPENED, BREAKER_OPEN}, /* third in a row */
		{7, DENIES, BREAKER_SAME, BREAKER_OPEN},
		{10005, DENIES, BREAKER_SAME, BREAKER_OPEN},
		{10006, ALLOWS, BREAKER_SAME, BREAKER_HALF_OPEN},
		{10006, START, BREAKER_SAME, BREAKER_HALF_OPEN},
		{10007, DENIES, BREAKER_SAME, BREAKER_HALF_OPEN}, /* one probe */
		{10008, FAIL, BREAKER_OPENED, BREAKER_OPEN}, /* probe failed */
		{20007, DENIES, BREAKER_SAME, BREAKER_OPEN},
		{20008, ALLOWS, BREAKER_SAME, BREAKER_HALF_OPEN},
		{20008, START, BREAKER_SAME, BREAKER_HALF_OPEN},
		{20009, ABANDON, BREAKER_SAME, BREAKER_HALF_OPEN}, /* stopped */
		{20009, ALLOWS, BREAKER_SAME, BREAKER_HALF_OPEN},
		{20009, START, BREAKER_SAME, BREAKER_HALF_OPEN},
		{20010, OK, BREAKER_CLOSED_AGAIN, BREAKER_CLOSED},
		{20011, ALLOWS, BREAKER_SAME, BREAKER_CLOSED},
		{20012, START, BREAKER_SAME, BREAKER_CLOSED},
		{20013, START, BREAKER_SAME, BREAKER_CLOSED},
	};
	struct sched_breaker b = {.threshold = 3, .cooldown_ms = 10000};

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum breaker_change c = BREAKER_SAME;
		switch (steps[i].op) {
		case FAIL:
		case OK:
			c = sched_breaker_result(&b, steps[i].op == OK,
						 steps[i].now);
			break;
		case START:
			sched_breaker_started(&b);
			break;
		case ALLOWS:
		case DENIES:
			if (sched_breaker_allows(&b, steps[i].now) !=
			    (steps[i].op == ALLOWS))
				fail_msg("step %zu: allows wrong", i);
			break;
		case ABANDON:
			sched_breaker_abandoned(&b);
			break;
		}
		if (c != steps[i].change)
			fail_msg("step %zu: change %d", i, c);
		if (b.state != steps[i].after)
			fail_msg("step %zu: state %s, want %s", i,
				 sched_breaker_name(b.state),
				 sched_breaker_name(steps[i].after));
	}
	/* Off: never opens. */
	struct sched_breaker off = {0};
	for (int i = 0; i < 100; i++)
		assert_int_equal(sched_breaker_result(&off, false, i),
				 BREAKER_SAME);
	assert_true(sched_breaker_allows(&off, 100));
}

/* The queue holds a provider back for its rate and its breaker. */
static void
test_queue_policy(void **state)
{
	struct sched s;
	struct tjob *t[4];
	struct sched_provider *p;

	(void)state;
	sched_init(&s, 8);
	sched_provider_limit(&s, "p", 8);
	assert_int_equal(sched_provider_policy(&s, "p", 2, 1000, 1, 5000, 0),
			 0);
	t[0] = mk(&s, "p", "a", "a", 0, 1, 0);
	t[1] = mk(&s, "p", "b", "b", 0, 2, 0);
	t[2] = mk(&s, "p", "c", "c", 0, 3, 0);
	t[3] = mk(&s, "p", "d", "d", 0, 4, 0);
	assert_string_equal(next_name(&s, 0), "a");
	assert_string_equal(next_name(&s, 0), "b");
	assert_null(next_name(&s, 0));            /* 2 per second */
	assert_int_equal(sched_next_due(&s, 0), 500);
	assert_string_equal(next_name(&s, 500), "c");
	p = sched_provider_find(&s, "p");
	assert_non_null(p);
	/* One failure opens the breaker (threshold 1): d is held. */
	assert_int_equal(sched_breaker_result(&p->breaker, false, 600),
			 BREAKER_OPENED);
	assert_null(next_name(&s, 2000));
	assert_int_equal(sched_next_due(&s, 2000), 5600);
	assert_string_equal(next_name(&s, 5600), "d"); /* the probe */
	for (int i = 0; i < 4; i++)
		free(t[i]);
	sched_free(&s);
}

/* Back-off and deferral arithmetic with max_age, on a fake clock. */
static void
test_retry_at_table(void **state)
{
	static const struct {
		int64_t now, since;
		uint64_t max_age;
		bool deferred;
		uint64_t defer_ms;
		unsigned attempt;
		uint64_t rnd;
		bool want_ok;
		int64_t want_at;
	} rows[] = {
		/* back-off 1 s, doubling, 8 s at most; rnd = cap: the top */
		{10000, 0, 0, false, 0, 1, 1000, true, 11000},
		{10000, 0, 0, false, 0, 2, 2000, true, 12000},
		{10000, 0, 0, false, 0, 5, 8000, true, 18000},
		{10000, 0, 0, false, 0, 9, 8000, true, 18000},
		{10000, 0, 0, false, 0, 3, 0, true, 10000},  /* jitter: 0 */
		/* deferral: exactly what the handler asked, back-off ignored */
		{10000, 0, 0, true, 60000, 1, 12345, true, 70000},
		{10000, 0, 0, true, 0, 4, 12345, true, 10000},
		/* max_age: at the limit it runs; past it, it expires */
		{10000, 0, 70000, true, 60000, 1, 0, true, 70000},
		{10000, 0, 69999, true, 60000, 1, 0, false, 0},
		{10000, 5000, 7000, false, 0, 2, 2000, true, 12000},
		{10000, 5000, 6999, false, 0, 2, 2000, false, 0},
		/* since is not_before, in the future: age counts from there */
		{10000, 50000, 1000, true, 30000, 1, 0, true, 40000},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t at = -1;
		bool ok = sched_retry_at(rows[i].now, rows[i].since,
					 rows[i].max_age, rows[i].deferred,
					 rows[i].defer_ms, 1000, 8000,
					 rows[i].attempt, rows[i].rnd, &at);
		if (ok != rows[i].want_ok)
			fail_msg("row %zu: ok %d", i, ok);
		if (ok && at != rows[i].want_at)
			fail_msg("row %zu: at %lld, want %lld", i,
				 (long long)at, (long long)rows[i].want_at);
		if (!ok && at != -1)
			fail_msg("row %zu: *at set on expiry", i);
	}
}

/* Coalescing: which waiting job a new trigger of a type merges into. */
static void
test_merge(void **state)
{
	struct sched s;
	struct tjob *full1, *full2, *delta;
	struct sched_group *g;

	(void)state;
	sched_init(&s, 1);
	sched_provider_limit(&s, "p", 1);
	full1 = mk(&s, "p", "v", "full1", 0, 1, 0);
	full2 = mk(&s, "p", "v", "full2", 0, 2, 0);
	delta = mk(&s, "p", "v", "delta", 0, 3, 5000);
	g = full1->sj.group;
	assert_null(sched_merge_target(g, "full"));
	assert_int_equal(sched_merge_note(g, "full", &full1->sj), 0);
	assert_int_equal(sched_merge_note(g, "delta", &delta->sj), 0);
	/* A second note while the first still waits keeps the first. */
	assert_int_equal(sched_merge_note(g, "full", &full2->sj), 0);
	assert_ptr_equal(sched_merge_target(g, "full"), &full1->sj);
	assert_ptr_equal(sched_merge_target(g, "delta"), &delta->sj);
	assert_null(sched_merge_target(g, "other"));
	/* A job not yet due still waits: triggers merge into it. */
	assert_ptr_equal(sched_merge_target(g, "delta"), &delta->sj);
	/* Once it runs it no longer counts; the next noted one does. */
	assert_string_equal(next_name(&s, 0), "full1");
	assert_null(sched_merge_target(g, "full"));
	assert_int_equal(sched_merge_note(g, "full", &full2->sj), 0);
	assert_ptr_equal(sched_merge_target(g, "full"), &full2->sj);
	/* A job taken out (stopped) no longer counts either. */
	sched_remove(&s, &full2->sj);
	assert_null(sched_merge_target(g, "full"));
	/* Forgotten jobs leave no trace; freeing the group frees the rest. */
	sched_merge_forget(g, &full2->sj);
	sched_merge_forget(g, &full1->sj);
	assert_null(sched_merge_target(g, "full"));
	sched_done(&s, g);
	free(full1);
	free(full2);
	free(delta);
	sched_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_table),
		cmocka_unit_test(test_backoff_table),
		cmocka_unit_test(test_priority_then_age),
		cmocka_unit_test(test_one_per_venue_provider),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_due_times),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_venues_take_turns),
		cmocka_unit_test(test_order_table),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_expired_table),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_breaker),
		cmocka_unit_test(test_queue_policy),
		cmocka_unit_test(test_retry_at_table),
		cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
	for (int i = 0; i < 6; i++)
		t[i] = mk(&s, i < 4 ? "p" : "q", names[i], names[i], 0,
			  (uint64_t)i, 0);
	/* p may run 2; workers allow 3 in all. */
	assert_string_equal(next_name(&s, 0), "v1");
	assert_string_equal(next_name(&s, 0), "v2");
	assert_string_equal(next_name(&s, 0), "v5");
	assert_null(next_name(&s, 0));
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
	assert_int_equal(sched_next_due(&s), 1000);
	assert_string_equal(next_name(&s, 0), "now");
	assert_null(next_name(&s, 999));
	assert_string_equal(next_name(&s, 1000), "soon");
	assert_int_equal(sched_next_due(&s), 5000);
	assert_null(next_name(&s, 4999));
	assert_string_equal(next_name(&s, 5000), "later");
	assert_int_equal(sched_next_due(&s), INT64_MAX);
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

/* A venue with many jobs does not starve another venue's single job. */
static void
test_venues_take_turns(void **state)
{
	struct sched s;
	struct tjob *t[11];
	char names[10][16];

	(void)state;
	sched_init(&s, 1);
	sched_provider_limit(&s, "p", 1);
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "big%d", i);
		t[i] = mk(&s, "p", "big", names[i], 0, (uint64_t)i, 0);
	}
	t[10] = mk(&s, "p", "small", "small", 0, 100, 0);
	assert_string_equal(next_name(&s, 0), "big0");
	finish(&s, "p", "big");
	/* big just had a turn; small has not: small goes next. */
	assert_string_equal(next_name(&s, 0), "small");
	finish(&s, "p", "small");
	assert_string_equal(next_name(&s, 0), "big1");
	for (int i = 0; i < 11; i++)
		free(t[i]);
	sched_free(&s);
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
		cmocka_unit_test(test_many_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

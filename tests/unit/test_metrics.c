/*
 * test_metrics.c - the Prometheus text the daemon writes: every series
 * present with its labels and values, the histogram cumulative, and the
 * file replaced atomically.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

static void
test_format(void **state)
{
	static const char *const want[] = {
		"syncspool_start_time_seconds 1700000000.000\n",
		"# TYPE syncspool_jobs gauge\n",
		"syncspool_jobs{provider=\"square\",state=\"pending\"} 3\n",
		"syncspool_jobs{provider=\"square\",state=\"failed\"} 2\n",
		"syncspool_jobs{provider=\"stripe\",state=\"paused\"} 0\n",
		"syncspool_oldest_pending_seconds{provider=\"square\"} 12.500\n",
		"syncspool_attempts_total{provider=\"square\"} 4\n",
		"syncspool_retries_total{provider=\"square\"} 1\n",
		"syncspool_failures_total{provider=\"square\",reason=\"timeout\"} 1\n",
		"syncspool_failures_total{provider=\"square\",reason=\"exit\"} 0\n",
		"# TYPE syncspool_handler_duration_seconds histogram\n",
		"syncspool_handler_duration_seconds_bucket{provider=\"square\",le=\"0.1\"} 1\n",
		"syncspool_handler_duration_seconds_bucket{provider=\"square\",le=\"1\"} 2\n",
		"syncspool_handler_duration_seconds_bucket{provider=\"square\",le=\"60\"} 3\n",
		"syncspool_handler_duration_seconds_bucket{provider=\"square\",le=\"+Inf\"} 3\n",
		"syncspool_handler_duration_seconds_sum{provider=\"square\"} 30.550\n",
		"syncspool_handler_duration_seconds_count{provider=\"square\"} 3\n",
		"syncspool_breaker_open{provider=\"square\"} 1\n",
		"syncspool_breaker_open{provider=\"stripe\"} 0\n",
		"syncspool_free_space_ratio 0.2500\n",
		"# TYPE syncspool_commits_total counter\n",
		"syncspool_commits_total{by=\"committer\"} 7\n",
		"syncspool_commits_total{by=\"daemon\"} 2\n",
		"syncspool_commit_failures_total 3\n",
		"syncspool_committer_exits_total 1\n",
	};
	struct metrics m;
	struct metrics_provider *sq;
	char *text;

	(void)state;
	metrics_init(&m, 1700000000000);
	sq = metrics_provider(&m, "square");
	assert_non_null(metrics_provider(&m, "stripe"));
	sq = metrics_provider(&m, "square"); /* the same slot again */
	assert_int_equal(m.nprovs, 2);
	sq->jobs[STATE_PENDING] = 3;
	sq->jobs[STATE_FAILED] = 2;
	sq->oldest_pending_ms = 12500;
	sq->attempts = 4;
	sq->retries = 1;
	sq->failures[REASON_TIMEOUT] = 1;
	metrics_duration(sq, 50);
	metrics_duration(sq, 500);
	metrics_duration(sq, 30000);
	sq->breaker_open = 1;
	m.free_space = 0.25;
	m.commits[0] = 7;
	m.commits[1] = 2;
	m.commit_failures = 3;
	m.committer_exits = 1;
	assert_int_equal(metrics_format(&m, &text), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing: %s", want[i]);
	/* Gauges clear; counters stay. */
	metrics_clear_gauges(&m);
	assert_int_equal(sq->jobs[STATE_PENDING], 0);
	assert_int_equal(sq->breaker_open, 0);
	assert_int_equal(sq->attempts, 4);
	free(text);
	metrics_free(&m);
}

static void
test_write_atomic(void **state)
{
	char dir[] = "/tmp/metrics-test.XXXXXX", path[256], buf[320], err[256];
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	assert_int_equal(metrics_write(path, "a 1\n", err, sizeof(err)), 0);
	assert_int_equal(metrics_write(path, "b 2\n", err, sizeof(err)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "b 2\n");
	/* No temporary file is left behind. */
	snprintf(buf, sizeof(buf), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(access(buf, F_OK), -1);
	/* A directory that does not exist: an error that names the path. */
	snprintf(path, sizeof(path), "%s/nope/m.prom", dir);
	assert_true(metrics_write(path, "x\n", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "nope"));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_write_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

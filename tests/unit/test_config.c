/*
 * test_config.c - config_parse(), config_load() and friends against
 * tables.
 *
 * config_parse() is pure, so most rows are a document and what must come
 * out of it: the values, or the line and a piece of the message. Invalid
 * rows each become their own cmocka test, named after the row.
 * config_load() is run on files in a mktemp -d style directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define NAME "etc/syncspool.yaml"
#define DIR "/srv/app/etc"
#define ROWS(t) (sizeof(t) / sizeof((t)[0]))
#define PROV "providers:\n  square:\n    command: [/bin/true]\n"

static int
parse(const char *doc, struct config *cfg, char *err)
{
	return config_parse(doc, strlen(doc), NAME, DIR, cfg, err, ERRLEN);
}

/* The line a message names after "NAME: ", or 0 when it names none. */
static size_t
err_line(const char *err)
{
	unsigned long line;

	if (strncmp(err, NAME ": ", strlen(NAME) + 2) != 0)
		return 0;
	if (sscanf(err + strlen(NAME) + 2, "line %lu, column", &line) != 1)
		return 0;
	return (size_t)line;
}

static void
test_defaults(void **state)
{
	char err[ERRLEN];
	struct config cfg;
	const struct provider *p;

	(void)state;
	if (parse("spool: /var/spool/syncspool\n" PROV, &cfg, err) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg.path, NAME);
	assert_string_equal(cfg.dir, DIR);
	assert_string_equal(cfg.spool, "/var/spool/syncspool");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.settle_ms, 2000);
	assert_int_equal(cfg.rescan_ms, 60000);
	assert_int_equal(cfg.min_free_pct, 5);
	assert_int_equal(cfg.log_max, 1048576);
	assert_int_equal(cfg.shutdown_grace_ms, 30000);
	assert_null(cfg.metrics);
	assert_false(cfg.log_syslog);
	assert_false(cfg.cgroups_off);
	assert_int_equal(cfg.retention_completed_ms, 7 * 86400000ULL);
	assert_int_equal(cfg.retention_failed_ms, 30 * 86400000ULL);
	assert_int_equal(cfg.retention_history_ms, 90 * 86400000ULL);
	assert_int_equal(cfg.nproviders, 1);
	p = &cfg.providers[0];
	assert_string_equal(p->name, "square");
	assert_int_equal(p->ncommand, 1);
	assert_string_equal(p->command[0], "/bin/true");
	assert_null(p->command[1]);
	assert_int_equal(p->timeout_ms, 300000);
	assert_int_equal(p->max_attempts, 5);
	assert_int_equal(p->backoff_initial_ms, 30000);
	assert_int_equal(p->backoff_max_ms, 3600000);
	assert_int_equal(p->concurrency, 1);
	assert_int_equal(p->rate_count, 0);
	assert_int_equal(p->rate_period_ms, 0);
	assert_false(p->coalesce);
	assert_int_equal(p->breaker_failures, 0);
	assert_int_equal(p->breaker_cooldown_ms, 600000);
	assert_int_equal(p->max_age_ms, 86400000);
	assert_false(p->persistent);
	assert_int_equal(p->nenv, 0);
	assert_null(p->env);
	config_free(&cfg);
}

static void
test_every_key(void **state)
{
	static const char doc[] =
		"spool: ../spool\n"
		"workers: 16\n"
		"settle: 500ms\n"
		"rescan: 5m\n"
		"min_free: 10%\n"
		"log_max: 64KiB\n"
		"shutdown_grace: 1m\n"
		"metrics: ../spool/metrics.prom\n"
		"log: syslog\n"
		"cgroups: off\n"
		"retention: {completed: 1d, failed: 2d, history: 3d}\n"
		"providers:\n"
		"  square:\n"
		"    command: [../contrib/handlers/demo, --provider, square]\n"
		"    timeout: 10m\n"
		"    max_attempts: 9\n"
		"    backoff: {initial: 1s, max: 2m}\n"
		"    concurrency: 3\n"
		"    rate: 60/min\n"
		"    coalesce: true\n"
		"    breaker: {failures: 5, cooldown: 15m}\n"
		"    max_age: 2h\n"
		"    mode: persistent\n"
		"    env:\n"
		"      SQUARE_API_BASE: \"https://example.invalid\"\n"
		"      EMPTY: \"\"\n";
	char err[ERRLEN];
	struct config cfg;
	const struct provider *p;

	(void)state;
	if (parse(doc, &cfg, err) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg.spool, "/srv/app/spool");
	assert_int_equal(cfg.workers, 16);
	assert_int_equal(cfg.settle_ms, 500);
	assert_int_equal(cfg.rescan_ms, 300000);
	assert_int_equal(cfg.min_free_pct, 10);
	assert_int_equal(cfg.log_max, 65536);
	assert_int_equal(cfg.shutdown_grace_ms, 60000);
	assert_string_equal(cfg.metrics, "/srv/app/spool/metrics.prom");
	assert_true(cfg.log_syslog);
	assert_true(cfg.cgroups_off);
	assert_int_equal(cfg.retention_completed_ms, 86400000);
	assert_int_equal(cfg.retention_failed_ms, 2 * 86400000);
	assert_int_equal(cfg.retention_history_ms, 3 * 86400000);
	p = config_provider(&cfg, "square");
	assert_non_null(p);
	assert_int_equal(p->ncommand, 3);
	assert_string_equal(p->command[0], "/srv/app/contrib/handlers/demo");
	assert_string_equal(p->command[1], "--provider");
	assert_string_equal(p->command[2], "square");
	assert_null(p->command[3]);
	assert_int_equal(p->timeout_ms, 600000);
	assert_int_equal(p->max_attempts, 9);
	assert_int_equal(p->backoff_initial_ms, 1000);
	assert_int_equal(p->backoff_max_ms, 120000);
	assert_int_equal(p->concurrency, 3);
	assert_int_equal(p->rate_count, 60);
	assert_int_equal(p->rate_period_ms, 60000);
	assert_true(p->coalesce);
	assert_int_equal(p->breaker_failures, 5);
	assert_int_equal(p->breaker_cooldown_ms, 900000);
	assert_int_equal(p->max_age_ms, 7200000);
	assert_true(p->persistent);
	assert_int_equal(p->nenv, 2);
	assert_string_equal(p->env[0],
			    "SQUARE_API_BASE=https://example.invalid");
	assert_string_equal(p->env[1], "EMPTY=");
	assert_null(p->env[2]);
	config_free(&cfg);
}

/* Relative paths are joined to the config's directory. */
static void
test_paths(void **state)
{
	static const struct {
		const char *dir, *path, *want;
	} rows[] = {
		{"/srv/app/etc", "../spool", "/srv/app/spool"},
		{"/srv/app/etc", "spool", "/srv/app/etc/spool"},
		{"/srv/app/etc", "./spool", "/srv/app/etc/spool"},
		{"/srv/app/etc/", "./spool", "/srv/app/etc/spool"},
		{"/srv/app/etc", ".//spool/", "/srv/app/etc/spool/"},
		{"/srv/app/etc", "../../x/y", "/srv/x/y"},
		{"/srv/app/etc", "../../../../x", "/x"},
		{"/srv/app/etc", "..", "/srv/app"},
		{"/srv/app/etc", ".", "/srv/app/etc"},
		{"/srv/app/etc", "x/../y", "/srv/app/etc/x/../y"},
		{"/srv/app/etc", "/var/spool/s", "/var/spool/s"},
		{"/", "../spool", "/spool"},
		{"/", "..", "/"},
		{"/", "spool", "/spool"},
	};
	char doc[512], err[ERRLEN];
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		snprintf(doc, sizeof(doc), "spool: '%s'\nmetrics: '%s'\n"
			 "providers: {a: {command: ['%s/h']}}\n", rows[i].path,
			 rows[i].path, rows[i].path);
		if (config_parse(doc, strlen(doc), NAME, rows[i].dir, &cfg, err,
				 sizeof(err)) != 0)
			fail_msg("%s + %s: %s", rows[i].dir, rows[i].path, err);
		if (strcmp(cfg.spool, rows[i].want) != 0 ||
		    strcmp(cfg.metrics, rows[i].want) != 0)
			fail_msg("%s + %s: '%s', want '%s'", rows[i].dir,
				 rows[i].path, cfg.spool, rows[i].want);
		config_free(&cfg);
	}
}

/* command[0] with a '/' is a path; a bare name is left for the search. */
static void
test_command_paths(void **state)
{
	static const struct {
		const char *arg0, *want;
	} rows[] = {
		{"../contrib/handlers/demo", "/srv/app/contrib/handlers/demo"},
		{"./handler", "/srv/app/etc/handler"},
		{"bin/handler", "/srv/app/etc/bin/handler"},
		{"/usr/lib/syncspool/h", "/usr/lib/syncspool/h"},
		{"true", "true"},
	};
	char doc[512], err[ERRLEN];
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		snprintf(doc, sizeof(doc), "spool: s\nproviders:\n  a:\n"
			 "    command: [%s, ./not-a-path, ../x]\n",
			 rows[i].arg0);
		if (parse(doc, &cfg, err) != 0)
			fail_msg("%s: %s", rows[i].arg0, err);
		assert_string_equal(cfg.providers[0].command[0], rows[i].want);
		/* Only the program is resolved; arguments are as written. */
		assert_string_equal(cfg.providers[0].command[1],
				    "./not-a-path");
		assert_string_equal(cfg.providers[0].command[2], "../x");
		config_free(&cfg);
	}
}

static void
test_rates(void **state)
{
	static const struct {
		const char *rate;
		unsigned count;
		uint64_t period_ms;
	} rows[] = {
		{"60/min", 60, 60000},
		{"7/m", 7, 60000},
		{"10/s", 10, 1000},
		{"5/sec", 5, 1000},
		{"1/h", 1, 3600000},
		{"2/hour", 2, 3600000},
		{"3/d", 3, 86400000},
		{"4/day", 4, 86400000},
		{"100/30s", 100, 30000},
		{"9/500ms", 9, 500},
		{"1000000/10m", 1000000, 600000},
	};
	char doc[256], err[ERRLEN];
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		snprintf(doc, sizeof(doc), "spool: s\nproviders:\n  a:\n"
			 "    command: [x]\n    rate: %s\n", rows[i].rate);
		if (parse(doc, &cfg, err) != 0)
			fail_msg("%s: %s", rows[i].rate, err);
		if (cfg.providers[0].rate_count != rows[i].count ||
		    cfg.providers[0].rate_period_ms != rows[i].period_ms)
			fail_msg("%s: %u/%llums", rows[i].rate,
				 cfg.providers[0].rate_count,
				 (unsigned long long)cfg.providers[0]
					 .rate_period_ms);
		config_free(&cfg);
	}
}

/* Scalars that read fine in more than one spelling. */
static void
test_spellings(void **state)
{
	static const struct {
		const char *doc;
		bool coalesce;
		unsigned min_free;
	} rows[] = {
		{"min_free: 0%\n", false, 0},
		{"min_free: 99%\n", false, 99},
		{"min_free: \"7%\"\n", false, 7},
		{"min_free: 5%\nproviders:\n  a:\n    command: [x]\n"
		 "    coalesce: True\n", true, 5},
		{"providers:\n  a:\n    command: [x]\n    coalesce: FALSE\n",
		 false, 5},
		{"providers:\n  a:\n    command: [x]\n    coalesce: true\n",
		 true, 5},
	};
	char doc[512], err[ERRLEN];
	struct config cfg;

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		snprintf(doc, sizeof(doc), "spool: s\n%s%s", rows[i].doc,
			 strstr(rows[i].doc, "providers") ? "" : PROV);
		if (parse(doc, &cfg, err) != 0)
			fail_msg("row %zu: %s", i, err);
		assert_int_equal(cfg.min_free_pct, rows[i].min_free);
		assert_int_equal(cfg.providers[0].coalesce, rows[i].coalesce);
		config_free(&cfg);
	}
}

/* Providers come out sorted, and config_provider() finds each. */
static void
test_providers_sorted(void **state)
{
	static const char doc[] =
		"spool: s\n"
		"providers:\n"
		"  stripe: {command: [a]}\n"
		"  mailchimp: {command: [b]}\n"
		"  square: {command: [c]}\n"
		"  quickbooks: {command: [d]}\n"
		"  demo: {command: [e]}\n";
	static const char *const sorted[] = {
		"demo", "mailchimp", "quickbooks", "square", "stripe",
	};
	char err[ERRLEN];
	struct config cfg;

	(void)state;
	if (parse(doc, &cfg, err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.nproviders, ROWS(sorted));
	for (size_t i = 0; i < ROWS(sorted); i++) {
		assert_string_equal(cfg.providers[i].name, sorted[i]);
		assert_ptr_equal(config_provider(&cfg, sorted[i]),
				 &cfg.providers[i]);
	}
	assert_string_equal(config_provider(&cfg, "quickbooks")->command[0],
			    "d");
	assert_null(config_provider(&cfg, "nope"));
	assert_null(config_provider(&cfg, ""));
	assert_null(config_provider(&cfg, "Square"));
	config_free(&cfg);
	assert_null(config_provider(&cfg, "square"));
}

struct invalid {
	const char *name;
	const char *doc;
	size_t line; /* 0: no position */
	const char *msg;
};

static const struct invalid invalid_rows[] = {
	/* The file. */
	{"empty file", "", 0, "empty config file: expected a mapping with "
	 "spool and providers"},
	{"sequence root", "- spool: s\n", 1, "a config file must be a "
	 "mapping of \"key: value\" lines, not a sequence"},
	{"anchor", "spool: &s s\n", 1, "anchors are not allowed (&s)"},
	{"tag", "spool: !!str s\n", 1, "tags are not allowed (!!str)"},
	{"two documents", "spool: s\n" PROV "---\nspool: t\n", 5,
	 "a second document starts here: a config file holds exactly one"},
	{"yaml syntax", "spool: s\nworkers: \"4\n" PROV, 6,
	 "found unexpected end of stream while scanning a quoted scalar that "
	 "starts at line 2, column 10"},
	{"invalid UTF-8", "spool: \xfe\n", 1, "invalid UTF-8 (byte 0xfe"},

	/* Unknown and duplicate keys, at each level. */
	{"unknown top-level key", "spool: s\nwrokers: 3\n" PROV, 2,
	 "unknown key 'wrokers' at the top level (expected spool, workers, "
	 "settle, rescan, min_free, log_max, shutdown_grace, metrics, log, "
	 "cgroups, retention, providers)"},
	{"unknown provider key",
	 "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    timout: 3s\n", 5,
	 "unknown key 'timout' in provider 'square' (expected command, "
	 "timeout, max_attempts, backoff, concurrency, rate, coalesce, "
	 "breaker, max_age, env, mode)"},
	{"unknown retention key", "spool: s\nretention:\n  complete: 1d\n"
	 PROV, 3, "unknown key 'complete' in retention (expected completed, "
	 "failed, history)"},
	{"unknown backoff key",
	 "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    backoff: {initial: 1s, maximum: 2s}\n", 5,
	 "unknown key 'maximum' in backoff of provider 'square' (expected "
	 "initial, max)"},
	{"unknown breaker key",
	 "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    breaker: {failure: 1}\n", 5,
	 "unknown key 'failure' in breaker of provider 'square' (expected "
	 "failures, cooldown)"},
	{"duplicate top-level key", "spool: s\nworkers: 2\nworkers: 3\n" PROV,
	 3, "duplicate key 'workers' at the top level (first given on line "
	 "2)"},
	{"duplicate provider key",
	 "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    timeout: 1s\n    timeout: 2s\n", 6,
	 "duplicate key 'timeout' in provider 'square' (first given on line "
	 "5)"},

	/* Required keys. */
	{"missing spool", "\n" PROV, 2, "missing required key 'spool' at the "
	 "top level"},
	{"missing providers", "spool: s\nworkers: 2\n", 1,
	 "missing required key 'providers' at the top level"},
	{"empty providers", "spool: s\nproviders: {}\n", 2,
	 "providers must list at least one provider"},
	{"providers a sequence", "spool: s\nproviders: [square]\n", 2,
	 "providers must be a mapping (key: value), not a sequence"},
	{"missing command", "spool: s\nproviders:\n  square:\n"
	 "    timeout: 1s\n", 4, "missing required key 'command' in provider "
	 "'square'"},
	{"provider with no settings", "spool: s\nproviders:\n  square:\n", 3,
	 "provider 'square' must be a mapping (key: value), not empty"},

	/* Top-level values. */
	{"spool empty", "spool: ''\n" PROV, 1, "spool must not be empty"},
	{"spool null", "spool:\n" PROV, 1, "spool has no value"},
	{"spool a mapping", "spool: {a: 1}\n" PROV, 1,
	 "spool must be a single value, not a mapping"},
	{"workers 0", "spool: s\nworkers: 0\n" PROV, 2,
	 "workers: '0' is not an integer from 1 to 1024"},
	{"workers 1025", "spool: s\nworkers: 1025\n" PROV, 2,
	 "workers: '1025' is not an integer from 1 to 1024"},
	{"workers a word", "spool: s\nworkers: four\n" PROV, 2,
	 "workers: 'four' is not an integer"},
	{"bad settle", "spool: s\nsettle: 2x\n" PROV, 2,
	 "settle: '2x' is not a duration (write it like 500ms, 30s, 10m, 1h "
	 "or 7d)"},
	{"rescan 0", "spool: s\nrescan: 0s\n" PROV, 2,
	 "rescan must be longer than 0"},
	{"duration too long", "spool: s\nshutdown_grace: 3651d\n" PROV, 2,
	 "shutdown_grace: '3651d' is too long (at most 3650d)"},
	{"bad retention duration", "spool: s\nretention: {history: forever}\n"
	 PROV, 2, "retention.history: 'forever' is not a duration"},
	{"retention a scalar", "spool: s\nretention: 7d\n" PROV, 2,
	 "retention must be a mapping (key: value), not a single value"},
	{"min_free without %", "spool: s\nmin_free: 5\n" PROV, 2,
	 "min_free: '5' is not a percentage from 0% to 99% (write it like "
	 "5%)"},
	{"min_free 100%", "spool: s\nmin_free: 100%\n" PROV, 2,
	 "min_free: '100%' is not a percentage"},
	{"min_free negative", "spool: s\nmin_free: -1%\n" PROV, 2,
	 "min_free: '-1%' is not a percentage"},
	{"bad log_max", "spool: s\nlog_max: 1XB\n" PROV, 2,
	 "log_max: '1XB' is not a size (write it like 65536, 64KiB or 1MiB)"},
	{"log_max 0", "spool: s\nlog_max: 0\n" PROV, 2,
	 "log_max: '0' is out of range"},
	{"log_max too big", "spool: s\nlog_max: 2GiB\n" PROV, 2,
	 "log_max: '2GiB' is out of range (1 byte to 1GiB)"},
	{"metrics empty", "spool: s\nmetrics: \"\"\n" PROV, 2,
	 "metrics must not be empty"},

	/* Provider values. */
	{"bad provider name", "spool: s\nproviders:\n  ../x: {command: [a]}\n",
	 3, "provider name '../x' is not valid"},
	{"provider name too long",
	 "spool: s\nproviders:\n  p1234567890123456789012345678901234567890"
	 "123456789012345678901234: {command: [a]}\n", 3,
	 "is not valid: use 1 to 64"},
	{"provider twice", "spool: s\nproviders:\n  a: {command: [x]}\n"
	 "  a: {command: [y]}\n", 4, "provider 'a' is defined twice"},
	{"bad timeout", "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    timeout: 5 minutes\n", 5, "timeout in provider 'square': "
	 "'5 minutes' is not a duration"},
	{"timeout 0", "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    timeout: 0\n", 5, "timeout in provider 'square' must be longer "
	 "than 0"},
	{"max_attempts 0", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    max_attempts: 0\n", 5,
	 "max_attempts in provider 'square': '0' is not an integer from 1 "
	 "to 1000"},
	{"max_attempts 1001", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    max_attempts: 1001\n", 5,
	 "'1001' is not an integer from 1 to 1000"},
	{"concurrency 0", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    concurrency: 0\n", 5,
	 "concurrency in provider 'square': '0' is not an integer from 1 to "
	 "1024"},
	{"bad backoff", "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    backoff: {initial: soon}\n", 5,
	 "backoff.initial in provider 'square': 'soon' is not a duration"},
	{"backoff initial > max", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    backoff: {initial: 10m, max: 5m}\n", 5,
	 "backoff in provider 'square': initial (10m) is longer than max "
	 "(5m)"},
	{"backoff max below the default initial", "spool: s\nproviders:\n"
	 "  square:\n    command: [x]\n    backoff: {max: 10s}\n", 5,
	 "initial (30s) is longer than max (10s)"},
	{"backoff a scalar", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    backoff: 30s\n", 5,
	 "backoff in provider 'square' must be a mapping"},
	{"bad rate period", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    rate: 60/fortnight\n", 5,
	 "rate in provider 'square': '60/fortnight' is not a rate (write it "
	 "like 60/min, 10/s or 100/30s"},
	{"rate without a period", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    rate: 60\n", 5, "'60' is not a rate"},
	{"rate of 0", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    rate: 0/min\n", 5, "'0/min' is not a rate"},
	{"rate period 0", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    rate: 5/0s\n", 5, "'5/0s' is not a rate"},
	{"mode neither exec nor persistent", "spool: s\nproviders:\n"
	 "  square:\n    command: [x]\n    mode: daemon\n", 5,
	 "mode in provider 'square': 'daemon' is not exec or persistent"},
	{"log neither stderr nor syslog", "spool: s\nlog: journal\nproviders:\n"
	 "  square:\n    command: [x]\n", 2,
	 "log: 'journal' is not stderr or syslog"},
	{"cgroups neither auto nor off", "spool: s\ncgroups: on\nproviders:\n"
	 "  square:\n    command: [x]\n", 2,
	 "cgroups: 'on' is not auto or off"},
	{"coalesce not a boolean", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    coalesce: yes\n", 5,
	 "coalesce in provider 'square': 'yes' is not true or false"},
	{"bad breaker failures", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    breaker:\n      failures: -1\n", 6,
	 "breaker.failures in provider 'square': '-1' is not an integer"},
	{"breaker cooldown 0", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    breaker: {cooldown: 0s}\n", 5,
	 "breaker.cooldown in provider 'square' must be longer than 0"},
	{"bad max_age", "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    max_age: 1y\n", 5, "max_age in provider 'square': '1y' is not "
	 "a duration"},

	/* command. */
	{"command a string", "spool: s\nproviders:\n  square:\n"
	 "    command: /usr/bin/h --x\n", 4,
	 "command in provider 'square' must be a sequence, the argv of the "
	 "handler"},
	{"command empty", "spool: s\nproviders:\n  square:\n"
	 "    command: []\n", 4,
	 "command in provider 'square' must not be empty"},
	{"command item a mapping", "spool: s\nproviders:\n  square:\n"
	 "    command: [x, {a: b}]\n", 4,
	 "items of command in provider 'square' must be single values, not "
	 "a mapping"},
	{"command item null", "spool: s\nproviders:\n  square:\n"
	 "    command:\n      - x\n      -\n      - y\n", 6,
	 "an item of command in provider 'square' has no value"},
	{"command program empty", "spool: s\nproviders:\n  square:\n"
	 "    command: ['', x]\n", 4, "the program's name is empty"},

	/* env. */
	{"env bad name", "spool: s\nproviders:\n  square:\n    command: [x]\n"
	 "    env: {API-KEY: x}\n", 5,
	 "env name 'API-KEY' in provider 'square' is not valid"},
	{"env name starting with a digit", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env: {1X: x}\n", 5,
	 "env name '1X' in provider 'square' is not valid"},
	{"env SYNCSPOOL_ name", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env:\n      SYNCSPOOL_JOB_ID: x\n", 6,
	 "names starting with SYNCSPOOL_ are set by the daemon"},
	{"env duplicate", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env:\n      A: 1\n      A: 2\n", 7,
	 "duplicate env name 'A' in provider 'square'"},
	{"env nested", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env:\n      A: {b: 1}\n", 6,
	 "env A in provider 'square' must be a single value, not a mapping"},
	{"env null value", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env:\n      A:\n", 6,
	 "env A in provider 'square' has no value"},
	{"env a sequence", "spool: s\nproviders:\n  square:\n"
	 "    command: [x]\n    env: [A=1]\n", 5,
	 "env in provider 'square' must be a mapping"},
};

static void
test_invalid(void **state)
{
	const struct invalid *r = *state;
	char err[ERRLEN] = "";
	struct config cfg;
	int rc;

	memset(&cfg, 0xa5, sizeof(cfg));
	rc = parse(r->doc, &cfg, err);
	if (rc == 0)
		config_free(&cfg);
	if (rc != -EINVAL)
		fail_msg("%s: config_parse returned %d, not -EINVAL (err '%s')",
			 r->name, rc, err);
	if (strncmp(err, NAME ": ", strlen(NAME) + 2) != 0)
		fail_msg("%s: message '%s' does not start with the file name",
			 r->name, err);
	if (strstr(err, r->msg) == NULL)
		fail_msg("%s: message '%s' lacks '%s'", r->name, err, r->msg);
	if (err_line(err) != r->line)
		fail_msg("%s: message '%s' names line %zu, not %zu", r->name,
			 err, err_line(err), r->line);
	/* A failed parse leaves the config zeroed. */
	assert_null(cfg.providers);
	assert_null(cfg.spool);
	assert_null(cfg.path);
	assert_int_equal(cfg.nproviders, 0);
}

/* The bounds of a config file, built in code. */
static void
test_bounds(void **state)
{
	size_t n = CONFIG_MAX_SIZE + 1;
	char *doc = malloc(n + 1), err[ERRLEN];
	struct config cfg;

	(void)state;
	assert_non_null(doc);
	/* 100,000 nested '[' fit in the size limit and are refused at once. */
	memcpy(doc, "spool: ", 7);
	memset(doc + 7, '[', 100000);
	assert_int_equal(config_parse(doc, 7 + 100000, NAME, DIR, &cfg, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "spool must be a single value, not a "
				    "sequence"));
	memset(doc, '[', 100000);
	assert_int_equal(config_parse(doc, 100000, NAME, DIR, &cfg, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a sequence"));
	/* One byte over the limit. */
	memset(doc, '#', n);
	assert_int_equal(config_parse(doc, n, NAME, DIR, &cfg, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "config file too large: 1048577 bytes"));
	/* A relative directory is a caller's mistake, reported. */
	assert_int_equal(config_parse("spool: s\n", 9, NAME, "etc", &cfg, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must be an absolute path"));
	free(doc);
}

static void
test_free_zeroed(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	config_free(&cfg);
	assert_null(config_provider(&cfg, "x"));
}

/* A scratch directory for config_load(), removed by teardown. */
struct scratch {
	char dir[64];
	char real[PATH_MAX];
};

static void
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static int
scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	strcpy(s->dir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(s->dir) == NULL || realpath(s->dir, s->real) == NULL) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static int
scratch_teardown(void **state)
{
	struct scratch *s = *state;
	static const char *const names[] = {
		"etc/syncspool.yaml", "etc/handler", "etc/plain", "etc/sub",
		"etc", NULL,
	};
	char path[PATH_MAX];

	for (size_t i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, names[i]);
		if (unlink(path) < 0)
			rmdir(path);
	}
	rmdir(s->dir);
	free(s);
	return 0;
}

static int
load(struct scratch *s, const char *command, struct config *cfg, char *err)
{
	char etc[PATH_MAX], doc[512], path[PATH_MAX + 32];

	snprintf(etc, sizeof(etc), "%s/etc", s->dir);
	snprintf(doc, sizeof(doc), "spool: ../spool\nproviders:\n"
		 "  demo:\n    command: [%s, --provider, demo]\n", command);
	write_file(etc, "syncspool.yaml", doc, 0644);
	snprintf(path, sizeof(path), "%s/syncspool.yaml", etc);
	return config_load(path, cfg, err, ERRLEN);
}

static void
test_load(void **state)
{
	struct scratch *s = *state;
	char etc[PATH_MAX], want[2 * PATH_MAX], err[ERRLEN];
	struct config cfg;

	snprintf(etc, sizeof(etc), "%s/etc", s->dir);
	assert_int_equal(mkdir(etc, 0755), 0);
	write_file(etc, "handler", "#!/bin/sh\nexit 0\n", 0755);
	write_file(etc, "plain", "not a program\n", 0644);
	assert_int_equal(mkdir(strcat(strcpy(want, etc), "/sub"), 0755), 0);

	/* An executable handler: paths resolved against the real dir. */
	if (load(s, "./handler", &cfg, err) != 0)
		fail_msg("%s", err);
	snprintf(want, sizeof(want), "%s/etc", s->real);
	assert_string_equal(cfg.dir, want);
	snprintf(want, sizeof(want), "%s/spool", s->real);
	assert_string_equal(cfg.spool, want);
	snprintf(want, sizeof(want), "%s/etc/handler", s->real);
	assert_string_equal(cfg.providers[0].command[0], want);
	config_free(&cfg);

	/* A bare name is looked up in /usr/local/bin:/usr/bin:/bin. */
	if (load(s, "sh", &cfg, err) != 0)
		fail_msg("%s", err);
	assert_true(cfg.providers[0].command[0][0] == '/');
	assert_non_null(strstr(cfg.providers[0].command[0], "bin/sh"));
	assert_int_equal(access(cfg.providers[0].command[0], X_OK), 0);
	config_free(&cfg);

	/* Not executable, missing, a directory, not found by name. */
	assert_int_equal(load(s, "./plain", &cfg, err), -EINVAL);
	snprintf(want, sizeof(want), "provider 'demo': command %s/etc/plain: "
		 "not executable (Permission denied)", s->real);
	if (strstr(err, want) == NULL)
		fail_msg("'%s' lacks '%s'", err, want);
	assert_null(cfg.providers);

	assert_int_equal(load(s, "../contrib/handlers/none", &cfg, err),
			 -EINVAL);
	snprintf(want, sizeof(want), "provider 'demo': command "
		 "%s/contrib/handlers/none: not executable (No such file or "
		 "directory)", s->real);
	if (strstr(err, want) == NULL)
		fail_msg("'%s' lacks '%s'", err, want);

	assert_int_equal(load(s, "./sub", &cfg, err), -EINVAL);
	assert_non_null(strstr(err, "not executable (Is a directory)"));

	assert_int_equal(load(s, "no-such-handler-here", &cfg, err), -EINVAL);
	assert_non_null(strstr(err, "command 'no-such-handler-here' not found "
				    "in /usr/local/bin:/usr/bin:/bin"));

	/* The message starts with the path as given. */
	snprintf(want, sizeof(want), "%s/etc/syncspool.yaml: ", s->dir);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
}

static void
test_load_errors(void **state)
{
	struct scratch *s = *state;
	char path[PATH_MAX + 32], err[ERRLEN];
	struct config cfg;

	snprintf(path, sizeof(path), "%s/none.yaml", s->dir);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "none.yaml: cannot open: No such file"));
	assert_null(cfg.providers);

	/* A directory where the file should be. */
	assert_int_equal(config_load(s->dir, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	/* A syntax error comes back with the path and the line. */
	snprintf(path, sizeof(path), "%s/etc", s->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(path, "syncspool.yaml", "spool: s\nworkers: '4\n", 0644);
	strcat(path, "/syncspool.yaml");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/etc/syncspool.yaml: line 3, column 1: "
				    "found unexpected end of stream"));
}

static void
test_find(void **state)
{
	struct scratch *s = *state;
	char cwd[PATH_MAX], etc[PATH_MAX];

	assert_string_equal(config_find("/x/y.yaml"), "/x/y.yaml");
	setenv("SYNCSPOOL_CONFIG", "/from/env.yaml", 1);
	assert_string_equal(config_find("/x/y.yaml"), "/x/y.yaml");
	assert_string_equal(config_find(NULL), "/from/env.yaml");
	setenv("SYNCSPOOL_CONFIG", "", 1);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(s->dir), 0);
	assert_string_equal(config_find(NULL),
			    "/etc/syncspool/syncspool.yaml");
	snprintf(etc, sizeof(etc), "%s/etc", s->dir);
	assert_int_equal(mkdir(etc, 0755), 0);
	write_file(etc, "syncspool.yaml", "spool: s\n", 0644);
	assert_string_equal(config_find(NULL), "./etc/syncspool.yaml");
	unsetenv("SYNCSPOOL_CONFIG");
	assert_string_equal(config_find(NULL), "./etc/syncspool.yaml");
	assert_int_equal(chdir(cwd), 0);
}

/* The shipped etc/syncspool.yaml parses (run from the top directory). */
static void
test_shipped_config(void **state)
{
	char buf[65536], dir[PATH_MAX], err[ERRLEN];
	struct config cfg;
	const struct provider *p;
	size_t n;
	FILE *f;

	(void)state;
	if ((f = fopen("etc/syncspool.yaml", "r")) == NULL) {
		skip();
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_non_null(realpath("etc", dir));
	if (config_parse(buf, n, "etc/syncspool.yaml", dir, &cfg, err,
			 sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.nproviders, 5);
	assert_int_equal(cfg.workers, 4);
	assert_null(cfg.metrics);
	p = config_provider(&cfg, "demo");
	assert_non_null(p);
	assert_int_equal(p->concurrency, 2);
	assert_int_equal(p->backoff_initial_ms, 5000);
	assert_int_equal(p->backoff_max_ms, 300000);
	assert_non_null(strstr(p->command[0], "/contrib/handlers/demo"));
	for (size_t i = 0; i < cfg.nproviders; i++)
		assert_true(cfg.providers[i].command[0][0] == '/');
	assert_non_null(config_provider(&cfg, "square"));
	assert_non_null(config_provider(&cfg, "stripe"));
	assert_non_null(config_provider(&cfg, "mailchimp"));
	assert_non_null(config_provider(&cfg, "quickbooks"));
	config_free(&cfg);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_command_paths),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_providers_sorted),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_free_zeroed),
		cmocka_unit_test_setup_teardown(test_load, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_load_errors,
						scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_find, scratch_setup,
						scratch_teardown),
		cmocka_unit_test(test_shipped_config),
	};
	size_t ni = ROWS(invalid_rows), n = ROWS(fixed);
	struct CMUnitTest *tests = calloc(n + ni, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < ni; i++, n++) {
		tests[n].name = invalid_rows[i].name;
		tests[n].test_func = test_invalid;
		tests[n].initial_state = (void *)&invalid_rows[i];
	}
	rc = _cmocka_run_group_tests("config", tests, n, NULL, NULL);
	free(tests);
	return rc;
}

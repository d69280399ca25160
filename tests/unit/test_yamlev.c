/*
 * test_yamlev.c - the bounded event reader on its own.
 *
 * The job and config parsers refuse a nested value as soon as they see
 * one, so the depth cap never fires through them; it is tested here by
 * walking whole documents with yamlev_next(), as a reader that skipped
 * values would. Also: yamlev_quote(), and positions after a byte order
 * mark.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "yamlev.h"

#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Read every event of doc; 0 or the error, with err filled. */
static int
walk(const char *doc, size_t len, unsigned max_depth, char *err)
{
	struct yamlev ye = {
		.kind = "test",
		.max_size = 1 << 20,
		.max_depth = max_depth,
	};
	int rc;

	if ((rc = yamlev_open(&ye, doc, len, err, ERRLEN)) < 0)
		goto done;
	do {
		if ((rc = yamlev_next(&ye)) < 0)
			goto done;
	} while (ye.ev.type != YAML_STREAM_END_EVENT);
done:
	yamlev_close(&ye);
	return rc;
}

static char *
nested(char open, size_t n, size_t *len)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, open, n);
	s[n] = '\0';
	*len = n;
	return s;
}

static void
test_depth(void **state)
{
	static const struct {
		const char *doc;
		unsigned max;
		int rc;
		const char *msg;
	} rows[] = {
		{"a: {b: {c: 1}}\n", 3, 0, NULL},
		{"a: {b: {c: 1}}\n", 2, -EINVAL,
		 "line 1, column 8: nested deeper than 2 levels"},
		{"[[[[[[[[1]]]]]]]]\n", 8, 0, NULL},
		{"[[[[[[[[[1]]]]]]]]]\n", 8, -EINVAL,
		 "line 1, column 9: nested deeper than 8 levels"},
		{"- - - - x\n", 4, 0, NULL},
		{"- - - - - x\n", 4, -EINVAL, "nested deeper than 4 levels"},
		/* Depth goes down again at each end. */
		{"a: [1]\nb: [2]\nc: [3]\nd: [4]\n", 2, 0, NULL},
	};
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		err[0] = '\0';
		int rc = walk(rows[i].doc, strlen(rows[i].doc), rows[i].max,
			      err);
		if (rc != rows[i].rc ||
		    (rows[i].msg != NULL && strstr(err, rows[i].msg) == NULL))
			fail_msg("'%s' depth %u: %d '%s'", rows[i].doc,
				 rows[i].max, rc, err);
	}
}

/* 100,000 '[' or '{' are refused at the cap, quickly and without leaks. */
static void
test_depth_hostile(void **state)
{
	char err[ERRLEN], *doc;
	size_t len;

	(void)state;
	doc = nested('[', 100000, &len);
	assert_int_equal(walk(doc, len, 8, err), -EINVAL);
	assert_non_null(strstr(err, "line 1, column 9: nested deeper than 8"));
	free(doc);
	doc = nested('{', 100000, &len);
	assert_int_equal(walk(doc, len, 8, err), -EINVAL);
	free(doc);
}

static void
test_quote(void **state)
{
	char q[YAMLEV_QUOTE_MAX], long_s[200];

	(void)state;
	assert_string_equal(yamlev_quote("plain", q), "plain");
	assert_string_equal(yamlev_quote("a\nb\tc\x7f", q), "a?b?c?");
	assert_string_equal(yamlev_quote("", q), "");
	memset(long_s, 'x', sizeof(long_s) - 1);
	long_s[sizeof(long_s) - 1] = '\0';
	yamlev_quote(long_s, q);
	assert_int_equal(strlen(q), YAMLEV_QUOTE_MAX - 1);
	assert_string_equal(q + YAMLEV_QUOTE_MAX - 4, "...");
	/* A cut never leaves half a UTF-8 character. */
	for (size_t i = 0; i + 1 < sizeof(long_s) - 1; i += 2)
		memcpy(long_s + i, "\xc3\xa9", 2);
	long_s[YAMLEV_QUOTE_MAX - 5] = 'x';
	yamlev_quote(long_s + 1, q); /* starts on a continuation byte */
	size_t n = strlen(q) - 3;
	assert_true(((unsigned char)q[n - 1] & 0xC0) != 0xC0);
}

/* Our own positions agree with libyaml's, BOM or not, CRLF or not. */
static void
test_positions(void **state)
{
	static const struct {
		const char *doc;
		size_t len;
		const char *msg;
	} rows[] = {
		{"a: \x01\n", 5, "line 1, column 4: control characters"},
		{"\xef\xbb\xbf" "a: \x01\n", 8,
		 "line 1, column 4: control characters"},
		{"a: 1\r\nb: \x01\n", 11, "line 2, column 4: control"},
		{"a: 1\rb: \x01\n", 10, "line 2, column 4: control"},
		{"a: \xc3\xa9\xff\n", 7, "line 1, column 5: invalid UTF-8"},
		{"a: 1\r\nb: \xc3\xa9\0\n", 12, "line 2, column 5: NUL byte"},
		{"a: &x 1\n", 8, "line 1, column 4: anchors"},
		{"\xef\xbb\xbf" "a: &x 1\n", 11, "line 1, column 4: anchors"},
	};
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		err[0] = '\0';
		assert_int_equal(walk(rows[i].doc, rows[i].len, 8, err),
				 -EINVAL);
		if (strstr(err, rows[i].msg) == NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, err,
				 rows[i].msg);
	}
}

/* The name, when given, comes first; the size limit is the caller's. */
static void
test_name_and_size(void **state)
{
	struct yamlev ye = {
		.kind = "thing",
		.name = "some/file",
		.max_size = 4,
		.max_depth = 8,
	};
	char err[ERRLEN];

	(void)state;
	assert_int_equal(yamlev_open(&ye, "a: 12", 5, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "some/file: thing file too large: 5 bytes, "
				 "the limit is 4");
	yamlev_close(&ye);
	yamlev_close(&ye);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_depth_hostile),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_name_and_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_util.c - the pure helpers of util.c against tables.
 *
 * One cmocka test per table; a failing row is named in the message by its
 * input, so the table stays readable and the failure stays precise.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "util.h"

#define ROWS(t) (sizeof(t) / sizeof((t)[0]))
#define OK(v) 0, (v)
#define BAD -EINVAL, 0

struct u64_row {
	const char *in;
	int rc;
	uint64_t want;
};

static void
check_u64(const struct u64_row *rows, size_t n,
	  int (*parse)(const char *, uint64_t *), const char *what)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t out = 12345;
		int rc = parse(rows[i].in, &out);
		if (rows[i].rc != 0) {
			if (rc != rows[i].rc || out != 12345)
				fail_msg("%s('%s'): accepted (%d, %llu)", what,
					 rows[i].in, rc,
					 (unsigned long long)out);
		} else if (rc != 0 || out != rows[i].want) {
			fail_msg("%s('%s'): %d, %llu, want %llu", what,
				 rows[i].in, rc, (unsigned long long)out,
				 (unsigned long long)rows[i].want);
		}
	}
}

static void
test_duration(void **state)
{
	static const struct u64_row rows[] = {
		{"500ms", OK(500)},
		{"0ms", OK(0)},
		{"0", OK(0)},
		{"30s", OK(30000)},
		{"30", OK(30000)},
		{"10m", OK(600000)},
		{"10min", OK(600000)},
		{"1h", OK(3600000)},
		{"7d", OK(604800000)},
		{"3650d", OK(315360000000ULL)},
		{"007s", OK(7000)},
		{"18446744073709551615ms", OK(UINT64_MAX)},
		{"", BAD},
		{"s", BAD},
		{"ms", BAD},
		{"-1s", BAD},
		{"+1s", BAD},
		{"1.5s", BAD},
		{"10 s", BAD},
		{" 10s", BAD},
		{"10S", BAD},
		{"1w", BAD},
		{"1h30m", BAD},
		{"213503982334601d", BAD},      /* overflows ms */
		{"18446744073709551616ms", BAD}, /* overflows the number */
		{"123456789012345678901234s", BAD},
	};

	(void)state;
	check_u64(rows, ROWS(rows), util_parse_duration, "duration");
	assert_int_equal(util_parse_duration(NULL, &(uint64_t){0}), -EINVAL);
}

static void
test_size(void **state)
{
	static const struct u64_row rows[] = {
		{"0", OK(0)},
		{"512", OK(512)},
		{"5B", OK(5)},
		{"64KiB", OK(65536)},
		{"1MiB", OK(1048576)},
		{"2GiB", OK(2147483648ULL)},
		{"1kB", OK(1000)},
		{"1KB", OK(1000)},
		{"3MB", OK(3000000)},
		{"1GB", OK(1000000000)},
		{"", BAD},
		{"KiB", BAD},
		{"1 KiB", BAD},
		{"1kib", BAD},
		{"1K", BAD},
		{"1TiB", BAD},
		{"-1", BAD},
		{"1.5MiB", BAD},
		{"99999999999999GiB", BAD}, /* overflows */
	};

	(void)state;
	check_u64(rows, ROWS(rows), util_parse_size, "size");
}

static void
test_uint(void **state)
{
	static const struct {
		const char *in;
		uint64_t max;
		int rc;
		uint64_t want;
	} rows[] = {
		{"0", 10, 0, 0},
		{"10", 10, 0, 10},
		{"0010", 10, 0, 10},
		{"11", 10, -EINVAL, 0},
		{"", 10, -EINVAL, 0},
		{"+1", 10, -EINVAL, 0},
		{"-1", 10, -EINVAL, 0},
		{"1a", 10, -EINVAL, 0},
		{" 1", 10, -EINVAL, 0},
		{"18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
		{"18446744073709551610", UINT64_MAX, 0, UINT64_MAX - 5},
		{"18446744073709551616", UINT64_MAX, -EINVAL, 0},
		{"99999999999999999999", UINT64_MAX, -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		uint64_t out = 777;
		int rc = util_parse_uint(rows[i].in, rows[i].max, &out);
		if (rc != rows[i].rc ||
		    (rc == 0 && out != rows[i].want) || (rc != 0 && out != 777))
			fail_msg("uint('%s', %llu): %d, %llu", rows[i].in,
				 (unsigned long long)rows[i].max, rc,
				 (unsigned long long)out);
	}
	assert_int_equal(util_parse_uint(NULL, 1, &(uint64_t){0}), -EINVAL);
}

static void
test_int(void **state)
{
	static const struct {
		const char *in;
		int64_t min, max;
		int rc;
		int64_t want;
	} rows[] = {
		{"0", -10, 10, 0, 0},
		{"-0", -10, 10, 0, 0},
		{"-5", -10, 10, 0, -5},
		{"+5", -10, 10, 0, 5},
		{"10", -10, 10, 0, 10},
		{"-10", -10, 10, 0, -10},
		{"11", -10, 10, -EINVAL, 0},
		{"-11", -10, 10, -EINVAL, 0},
		{"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
		{"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
		{"9223372036854775808", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"-9223372036854775809", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"-", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"--1", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"+-1", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"1e3", INT64_MIN, INT64_MAX, -EINVAL, 0},
		{"0x10", INT64_MIN, INT64_MAX, -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		int64_t out = 777;
		int rc = util_parse_int(rows[i].in, rows[i].min, rows[i].max,
					&out);
		if (rc != rows[i].rc ||
		    (rc == 0 && out != rows[i].want) || (rc != 0 && out != 777))
			fail_msg("int('%s'): %d, %lld", rows[i].in, rc,
				 (long long)out);
	}
	assert_int_equal(util_parse_int(NULL, 0, 1, &(int64_t){0}), -EINVAL);
}

static void
test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t want;
	} rows[] = {
		{"1970-01-01T00:00:00Z", 0, 0},
		{"2025-01-02T03:00:00Z", 0, 1735786800000LL},
		{"2025-01-02t03:00:00z", 0, 1735786800000LL},
		{"2025-01-02 03:00:00Z", 0, 1735786800000LL},
		{"2025-01-02T04:00:00+01:00", 0, 1735786800000LL},
		{"2025-01-01T21:30:00-05:30", 0, 1735786800000LL},
		{"2025-01-02T03:00:00+00:00", 0, 1735786800000LL},
		{"2025-01-02T03:00:00-00:00", 0, 1735786800000LL},
		{"2025-01-02T03:00:00.5Z", 0, 1735786800500LL},
		{"2025-01-02T03:00:00.123Z", 0, 1735786800123LL},
		{"2025-01-02T03:00:00.123999Z", 0, 1735786800123LL},
		{"2025-01-02T04:00:00.250+01:00", 0, 1735786800250LL},
		{"2024-02-29T12:00:00Z", 0, 1709208000000LL},
		{"2000-02-29T00:00:00Z", 0, 951782400000LL},
		{"1969-12-31T23:59:59Z", 0, -1000},
		{"1900-01-01T00:00:00Z", 0, -2208988800000LL},
		{"2016-12-31T23:59:60Z", 0, 1483228799000LL}, /* leap second */
		{"9999-12-31T23:59:59Z", 0, 253402300799000LL},
		{"2023-02-29T00:00:00Z", -EINVAL, 0},
		{"1900-02-29T00:00:00Z", -EINVAL, 0},
		{"2025-04-31T00:00:00Z", -EINVAL, 0},
		{"2025-13-01T00:00:00Z", -EINVAL, 0},
		{"2025-00-10T00:00:00Z", -EINVAL, 0},
		{"2025-01-00T00:00:00Z", -EINVAL, 0},
		{"2025-01-02T24:00:00Z", -EINVAL, 0},
		{"2025-01-02T03:60:00Z", -EINVAL, 0},
		{"2025-01-02T03:00:61Z", -EINVAL, 0},
		{"2025-01-02T03:00:00", -EINVAL, 0},
		{"2025-01-02", -EINVAL, 0},
		{"2025-01-02T03:00Z", -EINVAL, 0},
		{"2025-1-02T03:00:00Z", -EINVAL, 0},
		{"2025-01-02T03:00:00.Z", -EINVAL, 0},
		{"2025-01-02T03:00:00ZZ", -EINVAL, 0},
		{"2025-01-02T03:00:00+1:00", -EINVAL, 0},
		{"2025-01-02T03:00:00+01", -EINVAL, 0},
		{"2025-01-02T03:00:00+24:00", -EINVAL, 0},
		{"2025-01-02T03:00:00+01:60", -EINVAL, 0},
		{"2025-01-02X03:00:00Z", -EINVAL, 0},
		{"", -EINVAL, 0},
		{"tomorrow at noon please", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		int64_t out = 777;
		int rc = util_time_parse(rows[i].in, &out);
		if (rc != rows[i].rc ||
		    (rc == 0 && out != rows[i].want) || (rc != 0 && out != 777))
			fail_msg("time('%s'): %d, %lld, want %lld", rows[i].in,
				 rc, (long long)out, (long long)rows[i].want);
	}
	assert_int_equal(util_time_parse(NULL, &(int64_t){0}), -EINVAL);
}

static void
test_time_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} rows[] = {
		{0, "1970-01-01T00:00:00Z"},
		{1735786800000LL, "2025-01-02T03:00:00Z"},
		{1735786800123LL, "2025-01-02T03:00:00.123Z"},
		{1735786800001LL, "2025-01-02T03:00:00.001Z"},
		{1709208000000LL, "2024-02-29T12:00:00Z"},
		{-1, "1969-12-31T23:59:59.999Z"},
		{-1000, "1969-12-31T23:59:59Z"},
		{-1500, "1969-12-31T23:59:58.500Z"},
		{253402300799999LL, "9999-12-31T23:59:59.999Z"},
	};
	char buf[RFC3339_LEN];

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++) {
		int64_t back = 0;
		util_time_format(rows[i].ms, buf);
		if (strcmp(buf, rows[i].want) != 0)
			fail_msg("format(%lld): '%s', want '%s'",
				 (long long)rows[i].ms, buf, rows[i].want);
		/* And it reads back to the same instant. */
		if (util_time_parse(buf, &back) != 0 || back != rows[i].ms)
			fail_msg("round trip of %lld: '%s' -> %lld",
				 (long long)rows[i].ms, buf, (long long)back);
	}
	/* Out of gmtime's reach: a marker, not a crash or an overflow. */
	util_time_format(INT64_MIN, buf);
	assert_non_null(memchr(buf, '\0', sizeof(buf)));
	util_time_format(INT64_MAX, buf);
	assert_non_null(memchr(buf, '\0', sizeof(buf)));
}

/* Every day of a leap year and a common year survives the round trip. */
static void
test_time_round_trip_days(void **state)
{
	char buf[RFC3339_LEN], in[RFC3339_LEN];
	int64_t ms;

	(void)state;
	for (int64_t d = 0; d < 366 + 365; d++) {
		/* From 2024-01-01T01:02:03.004Z on. */
		int64_t t = 1704067200000LL + d * 86400000LL + 3723004;
		util_time_format(t, buf);
		assert_int_equal(util_time_parse(buf, &ms), 0);
		assert_int_equal(ms, t);
		/* The same instant written with a -07:00 offset. */
		util_time_format(t - 7 * 3600000LL, in);
		in[strlen(in) - 1] = '\0';
		strcat(in, "-07:00");
		assert_int_equal(util_time_parse(in, &ms), 0);
		assert_int_equal(ms, t);
	}
}

static void
test_name_valid(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		bool want;
	} rows[] = {
		{"a", 64, true},
		{"venue-123", 64, true},
		{"A.b_c-d", 64, true},
		{"0", 64, true},
		{"v123456789012345678901234567890123456789012345678901234567890"
		 "123", 64, true},
		{"v123456789012345678901234567890123456789012345678901234567890"
		 "1234", 64, false},
		{"ab", 2, true},
		{"abc", 2, false},
		{"a", 1, true},
		{"", 64, false},
		{"-a", 64, false},
		{".a", 64, false},
		{"_a", 64, false},
		{"a b", 64, false},
		{"a/b", 64, false},
		{"../../bin/sh", 64, false},
		{"a\tb", 64, false},
		{"a\nb", 64, false},
		{"\xc3\xa9", 64, false},
		{"a\xc3\xa9", 64, false},
		{"a:b", 64, false},
		{"a*", 64, false},
	};

	(void)state;
	for (size_t i = 0; i < ROWS(rows); i++)
		if (util_name_valid(rows[i].in, rows[i].max) != rows[i].want)
			fail_msg("name_valid('%s', %zu) != %d", rows[i].in,
				 rows[i].max, rows[i].want);
	assert_false(util_name_valid(NULL, 64));
}

static void
test_seterr(void **state)
{
	char err[8];

	(void)state;
	util_seterr(err, sizeof(err), "%s %d", "abcdef", 42);
	assert_string_equal(err, "abcdef ");
	util_seterr(NULL, 0, "nothing %d", 1);
	util_seterr(err, 0, "nothing %d", 1);
	assert_string_equal(err, "abcdef ");
}

static void
test_clocks(void **state)
{
	int64_t a, b;

	(void)state;
	/* After 2020 and before 2200: a sanity check on the units. */
	a = util_now_ms();
	assert_true(a > 1577836800000LL && a < 7258118400000LL);
	a = util_mono_ms();
	b = util_mono_ms();
	assert_true(b >= a);
}

/* Small files read whole, cut at the buffer, never through a symlink. */
static void
test_file_read_at(void **state)
{
	static const struct {
		const char *name;   /* in the test directory */
		size_t len;         /* buffer size */
		int rc;
		const char *want;   /* NULL: not looked at */
	} cases[] = {
		{"short", 64, 0, "populated 0\nfrozen 0\n"},
		{"short", 10, 0, "populated"},
		{"short", 1, 0, ""},
		{"empty", 8, 0, ""},
		{"missing", 8, -ENOENT, NULL},
		{"link", 64, -ELOOP, NULL},
		{"dir", 64, -EISDIR, NULL},
	};
	char dir[] = "/tmp/test_util.XXXXXX", buf[64], path[64];
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	fd = openat(dfd, "short", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "populated 0\nfrozen 0\n", 21), 21);
	close(fd);
	fd = openat(dfd, "empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlinkat("short", dfd, "link"), 0);
	assert_int_equal(mkdirat(dfd, "dir", 0700), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = 999;
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(util_file_read_at(dfd, cases[i].name, buf,
						   cases[i].len, &got),
				 cases[i].rc);
		if (cases[i].want == NULL)
			continue;
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(got, strlen(cases[i].want));
	}
	/* AT_FDCWD and a path, as /proc files are read. */
	snprintf(path, sizeof(path), "%s/short", dir);
	assert_int_equal(util_file_read_at(AT_FDCWD, path, buf, 8, NULL), 0);
	assert_string_equal(buf, "populat");
	unlinkat(dfd, "short", 0);
	unlinkat(dfd, "empty", 0);
	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "dir", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_round_trip_days),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_seterr),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_file_read_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

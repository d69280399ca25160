/*
 * test_job.c - job_parse() against tables of valid and invalid job files.
 *
 * Each row becomes its own cmocka test, named after the row, so that a
 * failure says which document broke. Invalid rows give the line the
 * message must name (0: a message about the file as a whole, with no
 * position) and a piece of the message; both are checked, and so is that
 * a failed parse leaves the job empty. Documents too big or too odd to
 * write as literals are built by a function.
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

#include "job.h"

#define DOC(s) s, sizeof(s) - 1

struct opt {
	const char *key;
	const char *value;
};

struct valid {
	const char *name;
	const char *doc;
	size_t len;
	char *(*make)(size_t *len);
	const char *venue_id;
	const char *provider;
	const char *sync_type;
	int64_t priority;
	const char *not_before; /* RFC 3339, or NULL for 0 */
	unsigned max_attempts;
	size_t noptions;
	struct opt options[4];  /* the first ones, checked in order */
};

struct invalid {
	const char *name;
	const char *doc;
	size_t len;
	char *(*make)(size_t *len);
	size_t line;            /* 0: no position in the message */
	const char *msg;
};

/* Documents built in code. Each returns a malloc'd buffer. */

static char *
repeat(const char *head, char c, size_t n, const char *tail, size_t *len)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	*len = hl + n + tl;
	return s;
}

static char *
make_brackets_100k(size_t *len)
{
	return repeat("", '[', 100000, "", len);
}

static char *
make_brackets_root_60k(size_t *len)
{
	return repeat("", '[', 60000, "", len);
}

static char *
make_brackets_option_60k(size_t *len)
{
	return repeat("venue_id: v\nprovider: p\noptions:\n  deep: ", '[',
		      60000, "", len);
}

static char *
make_oversize(size_t *len)
{
	return repeat("venue_id: v\nprovider: p\n#", 'x', JOB_MAX_SIZE, "\n",
		      len);
}

/* Exactly JOB_MAX_SIZE bytes: the limit itself is allowed. */
static char *
make_at_limit(size_t *len)
{
	const char *head = "venue_id: v\nprovider: p\n#";

	return repeat(head, 'x', JOB_MAX_SIZE - strlen(head) - 1, "\n", len);
}

static char *
make_value_4096(size_t *len)
{
	return repeat("venue_id: v\nprovider: p\noptions:\n  big: ", 'v',
		      JOB_OPTION_VALUE_MAX, "\n", len);
}

static char *
make_value_4097(size_t *len)
{
	return repeat("venue_id: v\nprovider: p\noptions:\n  big: ", 'v',
		      JOB_OPTION_VALUE_MAX + 1, "\n", len);
}

static char *
make_options(size_t n, size_t *len)
{
	size_t cap = 64 + n * 16, off;
	char *s = malloc(cap);

	assert_non_null(s);
	off = (size_t)snprintf(s, cap, "venue_id: v\nprovider: p\noptions:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off, "  o%zu: %zu\n", i,
					i);
	*len = off;
	return s;
}

static char *
make_options_64(size_t *len)
{
	return make_options(JOB_MAX_OPTIONS, len);
}

static char *
make_options_65(size_t *len)
{
	return make_options(JOB_MAX_OPTIONS + 1, len);
}

static const struct valid valid_rows[] = {
	{.name = "minimal", DOC("venue_id: venue-123\nprovider: square\n"),
	 .venue_id = "venue-123", .provider = "square", .sync_type = "full"},
	{.name = "every key",
	 DOC("venue_id: venue-123\n"
	     "provider: square\n"
	     "sync_type: incremental\n"
	     "options:\n"
	     "  since: \"2025-01-01\"\n"
	     "  limit: 500\n"
	     "priority: 10\n"
	     "not_before: 2025-01-02T03:00:00Z\n"
	     "max_attempts: 5\n"),
	 .venue_id = "venue-123", .provider = "square",
	 .sync_type = "incremental", .priority = 10,
	 .not_before = "2025-01-02T03:00:00Z", .max_attempts = 5,
	 .noptions = 2, .options = {{"since", "2025-01-01"}, {"limit", "500"}}},
	{.name = "flow mapping root",
	 DOC("{venue_id: v1, provider: stripe, priority: -7}"),
	 .venue_id = "v1", .provider = "stripe", .sync_type = "full",
	 .priority = -7},
	{.name = "quoted scalars",
	 DOC("venue_id: \"venue.1_a\"\nprovider: 'mailchimp'\n"
	     "sync_type: \"delta\"\n"),
	 .venue_id = "venue.1_a", .provider = "mailchimp",
	 .sync_type = "delta"},
	{.name = "document markers and comments",
	 DOC("%YAML 1.1\n---\n# a nightly job\n\nvenue_id: v # trailing\n"
	     "provider: quickbooks\n...\n"),
	 .venue_id = "v", .provider = "quickbooks", .sync_type = "full"},
	{.name = "CRLF line ends",
	 DOC("venue_id: v\r\nprovider: p\r\nmax_attempts: 2\r\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .max_attempts = 2},
	{.name = "UTF-8 BOM and non-ASCII value",
	 DOC("\xef\xbb\xbfvenue_id: v\nprovider: p\noptions:\n"
	     "  city: \"Z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x98\x80\"\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .noptions = 1,
	 .options = {{"city", "Z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x98\x80"}}},
	{.name = "numbers as names and bounds",
	 DOC("venue_id: 123\nprovider: 7\npriority: -1000000\n"
	     "max_attempts: 1000\n"),
	 .venue_id = "123", .provider = "7", .sync_type = "full",
	 .priority = -1000000, .max_attempts = 1000},
	{.name = "priority with a plus sign, upper bound",
	 DOC("venue_id: v\nprovider: p\npriority: +1000000\n"
	     "max_attempts: 1\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .priority = 1000000, .max_attempts = 1},
	{.name = "not_before with offset and fraction",
	 DOC("venue_id: v\nprovider: p\n"
	     "not_before: 2025-01-02T04:30:00.250+01:30\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .not_before = "2025-01-02T03:00:00.250Z"},
	{.name = "empty options mapping",
	 DOC("venue_id: v\nprovider: p\noptions: {}\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full"},
	{.name = "option values of every scalar kind",
	 DOC("venue_id: v\nprovider: p\noptions:\n"
	     "  flag: true\n  _under: ~x\n  empty: \"\"\n"
	     "  text: |\n    two\n    lines\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .noptions = 4,
	 .options = {{"flag", "true"}, {"_under", "~x"}, {"empty", ""},
		     {"text", "two\nlines\n"}}},
	{.name = "longest names",
	 DOC("venue_id: v123456789012345678901234567890123456789012345678901"
	     "23456789012\n"
	     "provider: p123456789012345678901234567890123456789012345678901"
	     "23456789012\n"
	     "options: {A23456789012345678901234567890123456789012345678901"
	     "234567890123: x}\n"),
	 .venue_id = "v12345678901234567890123456789012345678901234567890123"
		     "456789012",
	 .provider = "p12345678901234567890123456789012345678901234567890123"
		     "456789012",
	 .sync_type = "full", .noptions = 1,
	 .options = {{"A23456789012345678901234567890123456789012345678901"
		      "234567890123", "x"}}},
	{.name = "keys in any order",
	 DOC("max_attempts: 3\noptions: {b: 2}\nprovider: p\nvenue_id: v\n"),
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .max_attempts = 3, .noptions = 1, .options = {{"b", "2"}}},
	{.name = "64 options", .make = make_options_64, .venue_id = "v",
	 .provider = "p", .sync_type = "full", .noptions = JOB_MAX_OPTIONS,
	 .options = {{"o0", "0"}, {"o1", "1"}}},
	{.name = "option value of 4096 bytes", .make = make_value_4096,
	 .venue_id = "v", .provider = "p", .sync_type = "full",
	 .noptions = 1},
	{.name = "exactly 64 KiB", .make = make_at_limit, .venue_id = "v",
	 .provider = "p", .sync_type = "full"},
};

static const char billion_laughs[] =
	"venue_id: v\n"
	"provider: p\n"
	"options:\n"
	"  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	"  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	"  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	"  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	"  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	"  f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";

static const struct invalid invalid_rows[] = {
	/* The file as a whole. */
	{"empty file", DOC(""), NULL, 0, "empty job file: expected a mapping "
	 "with venue_id and provider"},
	{"only a comment", DOC("# nothing\n"), NULL, 0, "empty job file"},
	{"empty document", DOC("---\n...\n"), NULL, 0, "empty job file"},
	{"oversize", NULL, 0, make_oversize, 0, "job file too large"},
	{"100,000 brackets", NULL, 0, make_brackets_100k, 0,
	 "job file too large"},
	{"UTF-16LE BOM", DOC("\xff\xfev\0e\0n\0"), NULL, 0,
	 "job files must be UTF-8"},
	{"UTF-16BE BOM", DOC("\xfe\xff\0v\0e"), NULL, 0,
	 "job files must be UTF-8"},
	{"UTF-32LE BOM", DOC("\xff\xfe\0\0v\0\0\0"), NULL, 0,
	 "job files must be UTF-8"},
	{"UTF-32BE BOM", DOC("\0\0\xfe\xff\0\0\0v"), NULL, 0,
	 "job files must be UTF-8"},
	{"UTF-16 without a BOM", DOC("v\0e\0n\0u\0e\0"), NULL, 0,
	 "job files must be UTF-8"},

	/* Bytes. */
	{"NUL byte", DOC("venue_id: v\nprovider: p\0q\n"), NULL, 2,
	 "line 2, column 12: NUL byte at offset 23"},
	{"invalid UTF-8", DOC("venue_id: v\nprovider: p\xff\n"), NULL, 2,
	 "invalid UTF-8 (byte 0xff"},
	{"truncated UTF-8", DOC("venue_id: v\noptions: {a: \"\xc3\"}\n"), NULL,
	 2, "invalid UTF-8 (byte 0xc3"},
	{"overlong UTF-8", DOC("venue_id: v\nprovider: \xc0\xaf\n"), NULL, 2,
	 "invalid UTF-8 (byte 0xc0"},
	{"UTF-8 surrogate", DOC("venue_id: v\n\nprovider: \xed\xa0\x80\n"),
	 NULL, 3, "invalid UTF-8 (byte 0xed"},
	{"control character", DOC("venue_id: v\nprovider: p\x01\n"), NULL, 2,
	 "control characters are not allowed"},
	{"control character after a BOM",
	 DOC("\xef\xbb\xbfvenue_id: v\x01\n"), NULL, 1,
	 "line 1, column 12: control characters are not allowed"},
	{"NUL from an escape", DOC("venue_id: \"v\\0\"\nprovider: p\n"), NULL,
	 1, "NUL character"},

	/* libyaml's own errors. */
	{"unterminated quote", DOC("venue_id: \"v1\nprovider: square\n"),
	 NULL, 3, "found unexpected end of stream while scanning a quoted "
	 "scalar that starts at line 1, column 11"},
	{"tab indentation", DOC("venue_id: v\nprovider:\n\tsquare\n"), NULL, 3,
	 "not tabs"},
	{"bad indentation", DOC("venue_id: v\nprovider: p\noptions:\n"
				"  a: x\n   b: y\n"), NULL, 5,
	 "mapping values are not allowed"},
	{"unclosed flow mapping", DOC("{venue_id: v, provider: p\n"), NULL, 2,
	 "did not find expected ',' or '}'"},

	/* Structure. */
	{"two documents", DOC("venue_id: v\nprovider: p\n---\nvenue_id: w\n"),
	 NULL, 3, "a second document starts here"},
	{"sequence as root", DOC("- venue_id: v\n- provider: p\n"), NULL, 1,
	 "must be a mapping of \"key: value\" lines, not a sequence"},
	{"scalar as root", DOC("venue-123\n"), NULL, 1,
	 "must be a mapping of \"key: value\" lines, not a single value"},
	{"60,000 brackets as root", NULL, 0, make_brackets_root_60k, 1,
	 "not a sequence"},
	{"60,000 brackets in an option", NULL, 0, make_brackets_option_60k, 4,
	 "option 'deep' must be a single value, not a sequence"},
	{"mapping as a key", DOC("venue_id: v\n? {a: b}\n: c\n"), NULL, 2,
	 "keys must be names, not a mapping"},

	/* Anchors, aliases, tags. */
	{"tag !!python/object",
	 DOC("venue_id: !!python/object:os.system v\nprovider: p\n"), NULL, 1,
	 "tags are not allowed (!!python/object:os.system)"},
	{"local tag", DOC("venue_id: v\nprovider: !foo p\n"), NULL, 2,
	 "tags are not allowed (!foo)"},
	{"tag on a mapping", DOC("venue_id: v\noptions: !!map {a: b}\n"),
	 NULL, 2, "tags are not allowed (!!map)"},
	{"TAG directive", DOC("%TAG !e! tag:example.com,2000:\n---\n"
			      "venue_id: v\n"), NULL, 1, "%TAG directives"},
	{"anchor", DOC("venue_id: &v v1\nprovider: p\n"), NULL, 1,
	 "anchors are not allowed (&v)"},
	{"alias", DOC("venue_id: v1\nprovider: *v\n"), NULL, 2,
	 "aliases are not allowed (*v)"},
	{"billion laughs", DOC(billion_laughs), NULL, 4,
	 "anchors are not allowed (&a)"},

	/* Keys. */
	{"unknown key", DOC("venue_id: v\nprovider: p\nvenue: x\n"), NULL, 3,
	 "unknown key 'venue' (expected venue_id, provider, sync_type, "
	 "options, priority, not_before, max_attempts)"},
	{"duplicate key", DOC("venue_id: v\nprovider: p\nvenue_id: w\n"), NULL,
	 3, "duplicate key 'venue_id' (first given on line 1)"},
	{"missing venue_id", DOC("provider: p\npriority: 1\n"), NULL, 1,
	 "missing required key 'venue_id'"},
	{"missing provider", DOC("\nvenue_id: v\n"), NULL, 2,
	 "missing required key 'provider'"},

	/* Values. */
	{"venue_id with a space", DOC("venue_id: venue 1\nprovider: p\n"),
	 NULL, 1, "venue_id 'venue 1' is not valid"},
	{"venue_id with a slash", DOC("venue_id: a/b\nprovider: p\n"), NULL, 1,
	 "venue_id 'a/b' is not valid"},
	{"venue_id starting with a dot", DOC("venue_id: .v\nprovider: p\n"),
	 NULL, 1, "venue_id '.v' is not valid"},
	{"venue_id of 65 characters",
	 DOC("venue_id: v1234567890123456789012345678901234567890123456789012"
	     "345678901234\n"), NULL, 1, "is not valid: use 1 to 64"},
	{"venue_id null", DOC("venue_id: null\nprovider: p\n"), NULL, 1,
	 "venue_id has no value"},
	{"venue_id empty", DOC("venue_id:\nprovider: p\n"), NULL, 1,
	 "venue_id has no value"},
	{"venue_id quoted empty", DOC("venue_id: \"\"\nprovider: p\n"), NULL,
	 1, "venue_id '' is not valid"},
	{"venue_id a mapping", DOC("venue_id: {id: 1}\nprovider: p\n"), NULL,
	 1, "venue_id must be a single value, not a mapping"},
	{"provider ../../bin/sh",
	 DOC("venue_id: v\nprovider: ../../bin/sh\n"), NULL, 2,
	 "provider '../../bin/sh' is not valid"},
	{"provider non-ASCII", DOC("venue_id: v\nprovider: sq\xc3\xbc\n"),
	 NULL, 2, "provider 'sq\xc3\xbc' is not valid"},
	{"sync_type with a space", DOC("venue_id: v\nprovider: p\n"
				       "sync_type: a b\n"), NULL, 3,
	 "sync_type 'a b' is not valid"},
	{"priority not an integer", DOC("venue_id: v\nprovider: p\n"
					"priority: high\n"), NULL, 3,
	 "priority 'high' is not an integer"},
	{"priority a float", DOC("venue_id: v\nprovider: p\n"
				 "priority: 1.5\n"), NULL, 3,
	 "priority '1.5' is not an integer"},
	{"priority out of range", DOC("venue_id: v\nprovider: p\n"
				      "priority: 1000001\n"), NULL, 3,
	 "priority 1000001 is out of range (-1000000 to 1000000)"},
	{"priority far out of range", DOC("venue_id: v\nprovider: p\n"
		"priority: -99999999999999999999999\n"), NULL, 3,
	 "is not an integer"},
	{"not_before invalid", DOC("venue_id: v\nprovider: p\n"
				   "not_before: tomorrow\n"), NULL, 3,
	 "not_before 'tomorrow' is not an RFC 3339 time"},
	{"not_before without a zone", DOC("venue_id: v\nprovider: p\n"
		"not_before: 2025-01-02T03:00:00\n"), NULL, 3,
	 "is not an RFC 3339 time"},
	{"not_before Feb 29 of 2025", DOC("venue_id: v\nprovider: p\n"
		"not_before: 2025-02-29T00:00:00Z\n"), NULL, 3,
	 "is not an RFC 3339 time"},
	{"max_attempts 0", DOC("venue_id: v\nprovider: p\nmax_attempts: 0\n"),
	 NULL, 3, "max_attempts '0' is not an integer from 1 to 1000"},
	{"max_attempts 1001", DOC("venue_id: v\nprovider: p\n"
				  "max_attempts: 1001\n"), NULL, 3,
	 "max_attempts '1001' is not an integer from 1 to 1000"},
	{"max_attempts negative", DOC("venue_id: v\nprovider: p\n"
				      "max_attempts: -1\n"), NULL, 3,
	 "max_attempts '-1' is not"},

	/* Options. */
	{"options a scalar", DOC("venue_id: v\nprovider: p\noptions: all\n"),
	 NULL, 3, "options must be a mapping (key: value), not a single "
	 "value"},
	{"options a sequence", DOC("venue_id: v\nprovider: p\n"
				   "options: [a, b]\n"), NULL, 3,
	 "options must be a mapping (key: value), not a sequence"},
	{"options null", DOC("venue_id: v\nprovider: p\noptions:\n"), NULL, 3,
	 "options must be a mapping (key: value), not empty"},
	{"nested option value", DOC("venue_id: v\nprovider: p\noptions:\n"
				    "  range: {from: 1, to: 2}\n"), NULL, 4,
	 "option 'range' must be a single value, not a mapping"},
	{"option value a sequence", DOC("venue_id: v\nprovider: p\noptions:\n"
					"  ids: [1, 2]\n"), NULL, 4,
	 "option 'ids' must be a single value, not a sequence"},
	{"option value null", DOC("venue_id: v\nprovider: p\noptions:\n"
				  "  since:\n  limit: 5\n"), NULL, 4,
	 "option 'since' has no value"},
	{"bad option key, dash", DOC("venue_id: v\nprovider: p\noptions:\n"
				     "  page-size: 5\n"), NULL, 4,
	 "option name 'page-size' is not valid"},
	{"bad option key, digit first", DOC("venue_id: v\nprovider: p\n"
					    "options: {1st: x}\n"), NULL, 3,
	 "option name '1st' is not valid"},
	{"bad option key, 65 characters",
	 DOC("venue_id: v\nprovider: p\noptions:\n  a2345678901234567890123456"
	     "7890123456789012345678901234567890123456789: x\n"), NULL, 4,
	 "is not valid: use 1 to 64 letters"},
	{"bad option key, empty", DOC("venue_id: v\nprovider: p\n"
				      "options: {\"\": x}\n"), NULL, 3,
	 "option name '' is not valid"},
	{"option key dup case-insensitive",
	 DOC("venue_id: v\nprovider: p\noptions:\n  since: 1\n  Since: 2\n"),
	 NULL, 5, "duplicate option 'Since'"},
	{"option value too long", NULL, 0, make_value_4097, 4,
	 "option 'big' is too long: 4097 bytes, at most 4096"},
	{"65 options", NULL, 0, make_options_65, 68,
	 "too many options: at most 64"},
};

/* The line a message names: "line N, column C: ..." at its start, or 0. */
static size_t
err_line(const char *err)
{
	unsigned long line;

	if (sscanf(err, "line %lu, column", &line) != 1)
		return 0;
	return (size_t)line;
}

static void
test_valid(void **state)
{
	const struct valid *r = *state;
	char err[ERRLEN] = "", *made = NULL;
	const char *doc = r->doc;
	size_t len = r->len;
	struct job job;
	int64_t nb = 0;

	if (r->make != NULL)
		doc = made = r->make(&len);
	if (job_parse(doc, len, &job, err, sizeof(err)) != 0)
		fail_msg("%s: %s", r->name, err);
	assert_string_equal(job.venue_id, r->venue_id);
	assert_string_equal(job.provider, r->provider);
	assert_string_equal(job.sync_type, r->sync_type);
	assert_int_equal(job.priority, r->priority);
	if (r->not_before != NULL)
		assert_int_equal(util_time_parse(r->not_before, &nb), 0);
	assert_int_equal(job.not_before, nb);
	assert_int_equal(job.max_attempts, r->max_attempts);
	assert_int_equal(job.noptions, r->noptions);
	for (size_t i = 0; i < 4 && r->options[i].key != NULL; i++) {
		assert_string_equal(job.options[i].key, r->options[i].key);
		assert_string_equal(job.options[i].value,
				    r->options[i].value);
	}
	if (r->make == make_value_4096)
		assert_int_equal(strlen(job.options[0].value),
				 JOB_OPTION_VALUE_MAX);
	job_free(&job);
	job_free(&job); /* twice: job_free leaves a zeroed job */
	assert_int_equal(job.noptions, 0);
	free(made);
}

static void
test_invalid(void **state)
{
	const struct invalid *r = *state;
	char err[ERRLEN] = "", *made = NULL;
	const char *doc = r->doc;
	size_t len = r->len;
	struct job job;
	int rc;

	if (r->make != NULL)
		doc = made = r->make(&len);
	memset(&job, 0xa5, sizeof(job));
	rc = job_parse(doc, len, &job, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("%s: job_parse returned %d, not -EINVAL (err '%s')",
			 r->name, rc, err);
	if (strstr(err, r->msg) == NULL)
		fail_msg("%s: message '%s' lacks '%s'", r->name, err, r->msg);
	if (err_line(err) != r->line)
		fail_msg("%s: message '%s' names line %zu, not %zu", r->name,
			 err, err_line(err), r->line);
	/* A failed parse leaves the job empty. */
	assert_int_equal(job.noptions, 0);
	assert_null(job.options);
	assert_string_equal(job.venue_id, "");
	free(made);
}

/* The err buffer is optional, and a short one is cut, not overrun. */
static void
test_err_buffers(void **state)
{
	static const char doc[] = "venue_id: v\nprovider: p\nbad: 1\n";
	char small[8];
	struct job job;

	(void)state;
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, &job, NULL, 0),
			 -EINVAL);
	memset(small, 'x', sizeof(small));
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, &job, small,
				   sizeof(small)), -EINVAL);
	assert_string_equal(small, "line 3,");
	/* No buffer at all reads as an empty file. */
	assert_int_equal(job_parse(NULL, 0, &job, small, sizeof(small)),
			 -EINVAL);
	assert_string_equal(small, "empty j");
}

/* Parsing the same bytes twice gives the same job: nothing is kept. */
static void
test_reparse(void **state)
{
	static const char doc[] = "venue_id: v\nprovider: p\noptions: {a: 1}\n";
	char err[ERRLEN];
	struct job a, b;

	(void)state;
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, &a, err, sizeof(err)),
			 0);
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, &b, err, sizeof(err)),
			 0);
	assert_string_equal(a.options[0].value, b.options[0].value);
	assert_ptr_not_equal(a.options[0].value, b.options[0].value);
	job_free(&a);
	job_free(&b);
}

int
main(void)
{
	size_t nv = sizeof(valid_rows) / sizeof(valid_rows[0]);
	size_t ni = sizeof(invalid_rows) / sizeof(invalid_rows[0]);
	size_t n = 0;
	struct CMUnitTest *tests = calloc(nv + ni + 2, sizeof(*tests));
	int rc;

	assert_non_null(tests);
	for (size_t i = 0; i < nv; i++, n++) {
		tests[n].name = valid_rows[i].name;
		tests[n].test_func = test_valid;
		tests[n].initial_state = (void *)&valid_rows[i];
	}
	for (size_t i = 0; i < ni; i++, n++) {
		tests[n].name = invalid_rows[i].name;
		tests[n].test_func = test_invalid;
		tests[n].initial_state = (void *)&invalid_rows[i];
	}
	tests[n].name = "err buffers";
	tests[n++].test_func = test_err_buffers;
	tests[n].name = "reparse";
	tests[n++].test_func = test_reparse;
	rc = _cmocka_run_group_tests("job_parse", tests, n, NULL, NULL);
	free(tests);
	return rc;
}

/*
 * job.c - parse a job file into a struct job. See job.h.
 *
 * The reading is bounded by yamlev (size, encoding, depth, one document,
 * no anchors, aliases or tags); this file knows the keys and what each
 * value must look like. Whatever was wrong is refused with the line and
 * column of the value at fault, because the message ends up in history
 * where the client who dropped the file has to act on it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "job.h"
#include "yamlev.h"

#define JOB_PRIORITY_MIN (-1000000)
#define JOB_PRIORITY_MAX 1000000

enum job_key {
	JOB_VENUE_ID,
	JOB_PROVIDER,
	JOB_SYNC_TYPE,
	JOB_OPTIONS,
	JOB_PRIORITY,
	JOB_NOT_BEFORE,
	JOB_MAX_ATTEMPTS_KEY,
};

static const char *const job_keys[] = {
	[JOB_VENUE_ID] = "venue_id",
	[JOB_PROVIDER] = "provider",
	[JOB_SYNC_TYPE] = "sync_type",
	[JOB_OPTIONS] = "options",
	[JOB_PRIORITY] = "priority",
	[JOB_NOT_BEFORE] = "not_before",
	[JOB_MAX_ATTEMPTS_KEY] = "max_attempts",
	NULL,
};

/* venue_id, provider and sync_type: [A-Za-z0-9][A-Za-z0-9._-]{0,max-1}. */
static int
job_name_read(struct yamlev *ye, const char *key, char *out, size_t max)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	int rc;

	if ((rc = yamlev_scalar(ye, key, &v)) < 0)
		return rc;
	if (!util_name_valid(v, max))
		return yamlev_error(ye, NULL,
			"%s '%s' is not valid: use 1 to %zu letters, digits, "
			"'.', '_' or '-', starting with a letter or digit",
			key, yamlev_quote(v, q), max);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int
job_priority_read(struct yamlev *ye, struct job *job)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	int64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, "priority", &v)) < 0)
		return rc;
	if (util_parse_int(v, INT64_MIN, INT64_MAX, &n) < 0)
		return yamlev_error(ye, NULL, "priority '%s' is not an integer",
				    yamlev_quote(v, q));
	if (n < JOB_PRIORITY_MIN || n > JOB_PRIORITY_MAX)
		return yamlev_error(ye, NULL, "priority %s is out of range "
				    "(%d to %d)", yamlev_quote(v, q),
				    JOB_PRIORITY_MIN, JOB_PRIORITY_MAX);
	job->priority = n;
	return 0;
}

static int
job_not_before_read(struct yamlev *ye, struct job *job)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	int rc;

	if ((rc = yamlev_scalar(ye, "not_before", &v)) < 0)
		return rc;
	if (util_time_parse(v, &job->not_before) < 0)
		return yamlev_error(ye, NULL, "not_before '%s' is not an RFC "
				    "3339 time (write it like "
				    "2025-01-02T03:00:00Z)",
				    yamlev_quote(v, q));
	return 0;
}

static int
job_max_attempts_read(struct yamlev *ye, struct job *job)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	uint64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, "max_attempts", &v)) < 0)
		return rc;
	if (util_parse_uint(v, JOB_MAX_ATTEMPTS, &n) < 0 || n < 1)
		return yamlev_error(ye, NULL, "max_attempts '%s' is not an "
				    "integer from 1 to %d", yamlev_quote(v, q),
				    JOB_MAX_ATTEMPTS);
	job->max_attempts = (unsigned)n;
	return 0;
}

/*
 * An option key becomes part of an environment variable's name,
 * SYNCSPOOL_OPTION_<KEY upper-cased>, so it must be one once upper-cased.
 */
static bool
job_option_key_valid(const char *k)
{
	size_t n;

	if (!(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return false;
	for (n = 1; k[n] != '\0'; n++)
		if (n >= JOB_OPTION_KEY_MAX ||
		    !(isalnum((unsigned char)k[n]) || k[n] == '_'))
			return false;
	return true;
}

/* Read one "key: value" of options; ye->ev holds the key. */
static int
job_option_read(struct yamlev *ye, struct job *job, const char *key)
{
	struct job_option *opts, *o;
	char q[YAMLEV_QUOTE_MAX], what[YAMLEV_QUOTE_MAX + 16];
	char *k = NULL, *v = NULL;
	const char *val;
	size_t i;
	int rc;

	if (!job_option_key_valid(key))
		return yamlev_error(ye, NULL, "option name '%s' is not valid: "
				    "use 1 to %d letters, digits or '_', not "
				    "starting with a digit",
				    yamlev_quote(key, q), JOB_OPTION_KEY_MAX);
	/* Options become SYNCSPOOL_OPTION_<KEY>: "since" and "Since" clash. */
	for (i = 0; i < job->noptions; i++)
		if (strcasecmp(job->options[i].key, key) == 0)
			return yamlev_error(ye, NULL, "duplicate option '%s' "
					    "(option names are compared "
					    "without regard to case)", key);
	if (job->noptions == JOB_MAX_OPTIONS)
		return yamlev_error(ye, NULL, "too many options: at most %d",
				    JOB_MAX_OPTIONS);
	if ((k = strdup(key)) == NULL)
		return -ENOMEM;
	snprintf(what, sizeof(what), "option '%s'", key);
	if ((rc = yamlev_scalar(ye, what, &val)) < 0)
		goto fail;
	if (strlen(val) > JOB_OPTION_VALUE_MAX) {
		rc = yamlev_error(ye, NULL, "option '%s' is too long: %zu "
				  "bytes, at most %d", k, strlen(val),
				  JOB_OPTION_VALUE_MAX);
		goto fail;
	}
	rc = -ENOMEM;
	if ((v = strdup(val)) == NULL)
		goto fail;
	opts = realloc(job->options, (job->noptions + 1) * sizeof(*opts));
	if (opts == NULL)
		goto fail;
	job->options = opts;
	o = &job->options[job->noptions++];
	o->key = k;
	o->value = v;
	return 0;
fail:
	free(k);
	free(v);
	return rc;
}

static int
job_options_read(struct yamlev *ye, struct job *job)
{
	const char *key;
	int rc;

	if ((rc = yamlev_mapping(ye, "options")) < 0)
		return rc;
	for (;;) {
		if ((rc = yamlev_map_any_key(ye, "of options", &key)) < 0)
			return rc;
		if (key == NULL)
			return 0;
		if ((rc = job_option_read(ye, job, key)) < 0)
			return rc;
	}
}

static int
job_value_read(struct yamlev *ye, struct job *job, enum job_key k)
{
	switch (k) {
	case JOB_VENUE_ID:
		return job_name_read(ye, "venue_id", job->venue_id, VENUE_MAX);
	case JOB_PROVIDER:
		return job_name_read(ye, "provider", job->provider, TOKEN_MAX);
	case JOB_SYNC_TYPE:
		return job_name_read(ye, "sync_type", job->sync_type,
				     TOKEN_MAX);
	case JOB_OPTIONS:
		return job_options_read(ye, job);
	case JOB_PRIORITY:
		return job_priority_read(ye, job);
	case JOB_NOT_BEFORE:
		return job_not_before_read(ye, job);
	case JOB_MAX_ATTEMPTS_KEY:
		return job_max_attempts_read(ye, job);
	}
	return -EINVAL;
}

int
job_parse(const char *buf, size_t len, struct job *job, char *err,
	  size_t errlen)
{
	struct yamlev ye = {
		.kind = "job",
		.max_size = JOB_MAX_SIZE,
		.max_depth = JOB_MAX_DEPTH,
	};
	struct yamlev_map m;
	int rc, idx;

	memset(job, 0, sizeof(*job));
	strcpy(job->sync_type, "full");
	if ((rc = yamlev_open(&ye, buf, len, err, errlen)) < 0)
		goto fail;
	rc = yamlev_doc_begin(&ye, "empty job file: expected a mapping with "
			      "venue_id and provider");
	if (rc < 0)
		goto fail;
	yamlev_map_init(&ye, &m, job_keys, NULL);
	for (;;) {
		if ((rc = yamlev_map_key(&ye, &m, &idx)) < 0)
			goto fail;
		if (idx < 0)
			break;
		if ((rc = job_value_read(&ye, job, (enum job_key)idx)) < 0)
			goto fail;
	}
	if ((rc = yamlev_map_require(&ye, &m, JOB_VENUE_ID)) < 0 ||
	    (rc = yamlev_map_require(&ye, &m, JOB_PROVIDER)) < 0 ||
	    (rc = yamlev_doc_end(&ye)) < 0)
		goto fail;
	yamlev_close(&ye);
	return 0;
fail:
	if (rc == -ENOMEM)
		util_seterr(err, errlen, "out of memory");
	yamlev_close(&ye);
	job_free(job);
	return rc;
}

void
job_free(struct job *job)
{
	size_t i;

	for (i = 0; i < job->noptions; i++) {
		free(job->options[i].key);
		free(job->options[i].value);
	}
	free(job->options);
	memset(job, 0, sizeof(*job));
}

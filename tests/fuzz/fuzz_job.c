/*
 * fuzz_job.c - libFuzzer harness for job_parse(), the parser of every
 * file a client drops into pending.
 *
 * Besides what the sanitizers catch, it checks job.h's contract on every
 * input: on success the names are valid tokens, the options are within
 * their bounds and keys; on failure the job is left empty and err holds a
 * message. A broken contract aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "fuzz_job: %s:%d: broken: %s\n",  \
				__FILE__, __LINE__, #c);                  \
			abort();                                          \
		}                                                         \
	} while (0)

static int
key_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > JOB_OPTION_KEY_MAX)
		return 0;
	if (!(k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') ||
	      (k[0] >= 'a' && k[0] <= 'z')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(k[i] == '_' || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9')))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ERRLEN];
	struct job job;
	int rc;

	memset(err, 'x', sizeof(err));
	rc = job_parse((const char *)data, size, &job, err, sizeof(err));
	CHECK(rc == 0 || rc < 0);
	if (rc == 0) {
		CHECK(util_name_valid(job.venue_id, VENUE_MAX));
		CHECK(util_name_valid(job.provider, TOKEN_MAX));
		CHECK(util_name_valid(job.sync_type, TOKEN_MAX));
		CHECK(job.max_attempts <= JOB_MAX_ATTEMPTS);
		CHECK(job.noptions <= JOB_MAX_OPTIONS);
		CHECK(job.noptions == 0 || job.options != NULL);
		for (size_t i = 0; i < job.noptions; i++) {
			CHECK(key_valid(job.options[i].key));
			CHECK(job.options[i].value != NULL);
			CHECK(strlen(job.options[i].value) <=
			      JOB_OPTION_VALUE_MAX);
			for (size_t k = 0; k < i; k++)
				CHECK(strcmp(job.options[k].key,
					     job.options[i].key) != 0);
		}
	} else {
		CHECK(job.noptions == 0 && job.options == NULL);
		CHECK(job.venue_id[0] == '\0' && job.provider[0] == '\0');
		CHECK(strnlen(err, sizeof(err)) < sizeof(err));
		CHECK(err[0] != '\0');
	}
	job_free(&job);
	return 0;
}

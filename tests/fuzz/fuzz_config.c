/*
 * fuzz_config.c - libFuzzer harness for config_parse(), with a fixed
 * config directory (as tests/unit/test_config.c uses) so that relative
 * paths resolve the same way on every run.
 *
 * The contract checked besides the sanitizers': on success every path is
 * absolute, every provider has a valid name and a command that is
 * absolute or a bare name (config_load() resolves those), and the
 * providers are sorted by name; on failure err holds a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

#define NAME "etc/syncspool.yaml"
#define DIR "/srv/app/etc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "fuzz_config: %s:%d: broken: %s\n", \
				__FILE__, __LINE__, #c);                  \
			abort();                                          \
		}                                                         \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ERRLEN];
	struct config cfg;
	int rc;

	memset(err, 'x', sizeof(err));
	memset(&cfg, 0, sizeof(cfg));
	rc = config_parse((const char *)data, size, NAME, DIR, &cfg, err,
			  sizeof(err));
	CHECK(rc == 0 || rc < 0);
	if (rc == 0) {
		CHECK(cfg.spool != NULL && cfg.spool[0] == '/');
		CHECK(cfg.metrics == NULL || cfg.metrics[0] == '/');
		CHECK(cfg.nproviders <= CONFIG_MAX_PROVIDERS);
		for (size_t i = 0; i < cfg.nproviders; i++) {
			const struct provider *p = &cfg.providers[i];

			CHECK(p->name != NULL &&
			      util_name_valid(p->name, TOKEN_MAX));
			CHECK(p->command != NULL && p->ncommand > 0);
			/* Absolute, or a bare name config_load() looks up. */
			CHECK(p->command[0] != NULL);
			CHECK(p->command[0][0] == '/' ||
			      strchr(p->command[0], '/') == NULL);
			CHECK(p->command[p->ncommand] == NULL);
			CHECK(p->env == NULL || p->env[p->nenv] == NULL);
			CHECK(i == 0 ||
			      strcmp(cfg.providers[i - 1].name, p->name) < 0);
			CHECK(config_provider(&cfg, p->name) == p);
		}
		config_free(&cfg);
	} else {
		CHECK(strnlen(err, sizeof(err)) < sizeof(err));
		CHECK(err[0] != '\0');
	}
	return 0;
}

/*
 * config.h - etc/syncspool.yaml: the daemon's settings and one entry per
 * provider (what the old service kept in integration_configs).
 *
 * config_parse() is pure: it reads a YAML buffer with libyaml's event API
 * (bounded like the job parser: one document, no anchors, aliases or tags)
 * and resolves every relative path against `dir`, the directory of the
 * config file. config_load() reads the file and calls it. On failure both
 * return a negative errno and write into err a message naming the file,
 * line and column and what to do, e.g.
 *   "etc/syncspool.yaml: line 7, column 3: unknown key 'wrokers' in the top level (expected spool, workers, ...)"
 *
 * Defaults (every key but spool and providers has one):
 *   workers 4, settle 2s, rescan 60s, min_free 5%, log_max 1MiB,
 *   shutdown_grace 30s, metrics none, log stderr, cgroups auto,
 *   retention {completed: 7d, failed: 30d, history: 90d};
 *   per provider: timeout 300s, max_attempts 5,
 *   backoff {initial: 30s, max: 1h}, concurrency 1, rate none,
 *   coalesce false, breaker {failures: 0 (off), cooldown: 10m},
 *   max_age 24h, env none, mode exec. `command` is required.
 *
 * The command's first element, when it holds a '/', is resolved against
 * the config's directory; when it does not, it is looked up in
 * /usr/local/bin:/usr/bin:/bin at load time, since execve() does not
 * search PATH. A command that is not an executable file is an error.
 */
#ifndef SYNCSPOOL_CONFIG_H
#define SYNCSPOOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_MAX_PROVIDERS 256

struct provider {
	char *name;                /* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
	char **command;            /* NULL-terminated argv; [0] is absolute */
	size_t ncommand;
	uint64_t timeout_ms;
	unsigned max_attempts;
	uint64_t backoff_initial_ms;
	uint64_t backoff_max_ms;
	unsigned concurrency;
	unsigned rate_count;       /* 0: no rate limit */
	uint64_t rate_period_ms;   /* "60/min": count 60, period 60000 */
	bool coalesce;
	unsigned breaker_failures; /* 0: no breaker */
	uint64_t breaker_cooldown_ms;
	uint64_t max_age_ms;
	char **env;                /* NULL-terminated "KEY=VALUE" strings */
	size_t nenv;
	bool persistent;           /* mode: persistent (default exec) */
};

struct config {
	char *path;     /* the file as given */
	char *dir;      /* its directory, absolute */
	char *spool;    /* absolute */
	unsigned workers;
	uint64_t settle_ms;
	uint64_t rescan_ms;
	unsigned min_free_pct; /* 0..99 */
	uint64_t log_max;      /* bytes */
	uint64_t shutdown_grace_ms;
	char *metrics;         /* absolute, or NULL */
	bool log_syslog;       /* log: syslog (default: stderr) */
	bool cgroups_off;      /* cgroups: off (default: auto) */
	uint64_t retention_completed_ms;
	uint64_t retention_failed_ms;
	uint64_t retention_history_ms;
	struct provider *providers; /* sorted by name */
	size_t nproviders;
};

/*
 * Where the config is: opt (from -c) if not NULL, else $SYNCSPOOL_CONFIG,
 * else ./etc/syncspool.yaml when it exists, else
 * /etc/syncspool/syncspool.yaml. Returns a pointer to one of those strings
 * (static or from getenv); never NULL.
 */
const char *config_find(const char *opt);

/* name: used in messages; dir: absolute directory for relative paths. */
int config_parse(const char *buf, size_t len, const char *name,
		 const char *dir, struct config *cfg, char *err, size_t errlen);
int config_load(const char *path, struct config *cfg, char *err,
		size_t errlen);
void config_free(struct config *cfg);

/*
 * Who may change what the daemon reads and runs: the config file and each
 * provider's program, and the directories above them. Errors: a file, or
 * a directory above it without the sticky bit, that everyone may write.
 * Warnings: a file its group may write; a file or a directory above it
 * owned by someone other than euid or root. Returns the errors.
 */
unsigned config_audit(const struct config *cfg, uid_t euid, audit_cb cb,
		      void *arg);

/* The provider called name, or NULL. */
const struct provider *config_provider(const struct config *cfg,
				       const char *name);

#endif

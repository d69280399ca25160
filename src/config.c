/*
 * config.c - read etc/syncspool.yaml into a struct config. See config.h.
 *
 * config_parse() walks the document with yamlev (bounded like a job
 * file) and converts each value as it comes, so that every message points
 * at the line and column of the value at fault. It touches no file:
 * relative paths are only joined to the directory it is given.
 * config_load() adds the file system: it reads the file, takes the
 * directory's real path, and checks that every provider's command is an
 * executable file, since finding that out when the first job runs would
 * be too late.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "yamlev.h"

#define CONFIG_MAX_DEPTH 8
#define CONFIG_WORKERS_MAX 1024
#define CONFIG_CONCURRENCY_MAX 1024
#define CONFIG_ATTEMPTS_MAX 1000
#define CONFIG_BREAKER_MAX 1000000
#define CONFIG_RATE_MAX 1000000
#define CONFIG_COMMAND_MAX 256      /* argv elements */
#define CONFIG_ENV_MAX 256          /* env entries per provider */
#define CONFIG_ENV_KEY_MAX 128
#define CONFIG_ENV_VALUE_MAX 4096
#define CONFIG_LOG_MAX_MAX (1ULL << 30)
/* Durations are capped so that "now + duration" cannot overflow. */
#define CONFIG_DURATION_MAX (3650ULL * 86400000)
#define CONFIG_WHAT_MAX 160
#define CONFIG_SEARCH "/usr/local/bin:/usr/bin:/bin"

enum config_top_key {
	TOP_SPOOL,
	TOP_WORKERS,
	TOP_SETTLE,
	TOP_RESCAN,
	TOP_MIN_FREE,
	TOP_LOG_MAX,
	TOP_SHUTDOWN_GRACE,
	TOP_METRICS,
	TOP_LOG,
	TOP_CGROUPS,
	TOP_RETENTION,
	TOP_PROVIDERS,
};

static const char *const config_top_keys[] = {
	[TOP_SPOOL] = "spool",
	[TOP_WORKERS] = "workers",
	[TOP_SETTLE] = "settle",
	[TOP_RESCAN] = "rescan",
	[TOP_MIN_FREE] = "min_free",
	[TOP_LOG_MAX] = "log_max",
	[TOP_SHUTDOWN_GRACE] = "shutdown_grace",
	[TOP_METRICS] = "metrics",
	[TOP_LOG] = "log",
	[TOP_CGROUPS] = "cgroups",
	[TOP_RETENTION] = "retention",
	[TOP_PROVIDERS] = "providers",
	NULL,
};

enum config_prov_key {
	PROV_COMMAND,
	PROV_TIMEOUT,
	PROV_MAX_ATTEMPTS,
	PROV_BACKOFF,
	PROV_CONCURRENCY,
	PROV_RATE,
	PROV_COALESCE,
	PROV_BREAKER,
	PROV_MAX_AGE,
	PROV_ENV,
	PROV_MODE,
};

static const char *const config_prov_keys[] = {
	[PROV_COMMAND] = "command",
	[PROV_TIMEOUT] = "timeout",
	[PROV_MAX_ATTEMPTS] = "max_attempts",
	[PROV_BACKOFF] = "backoff",
	[PROV_CONCURRENCY] = "concurrency",
	[PROV_RATE] = "rate",
	[PROV_COALESCE] = "coalesce",
	[PROV_BREAKER] = "breaker",
	[PROV_MAX_AGE] = "max_age",
	[PROV_ENV] = "env",
	[PROV_MODE] = "mode",
	NULL,
};

static const char *const config_retention_keys[] = {
	"completed", "failed", "history", NULL,
};
static const char *const config_backoff_keys[] = {"initial", "max", NULL};
static const char *const config_breaker_keys[] = {
	"failures", "cooldown", NULL,
};

/*
 * snprintf for the texts that name things in messages. They are cut to fit
 * if need be (a name is bounded, so they never are in practice); going
 * through a va_list keeps -Wformat-truncation from guessing otherwise.
 */
static void __attribute__((format(printf, 3, 4)))
config_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* "backoff.initial" alone, or "backoff.initial in provider 'square'". */
static const char *
config_what(char what[CONFIG_WHAT_MAX], const char *key, const char *in)
{
	if (in == NULL)
		config_fmt(what, CONFIG_WHAT_MAX, "%s", key);
	else
		config_fmt(what, CONFIG_WHAT_MAX, "%s %s", key, in);
	return what;
}

/* ms as the shortest duration that reads back the same: "90s", "1h". */
static const char *
config_ms_str(uint64_t ms, char buf[32])
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, 32, "%llu%s",
				 (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return buf;
		}
	}
	snprintf(buf, 32, "%llums", (unsigned long long)ms);
	return buf;
}

static int
config_duration_read(struct yamlev *ye, const char *what, bool zero_ok,
		     uint64_t *ms)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	uint64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (util_parse_duration(v, &n) < 0)
		return yamlev_error(ye, NULL, "%s: '%s' is not a duration "
				    "(write it like 500ms, 30s, 10m, 1h or 7d)",
				    what, yamlev_quote(v, q));
	if (n == 0 && !zero_ok)
		return yamlev_error(ye, NULL, "%s must be longer than 0", what);
	if (n > CONFIG_DURATION_MAX)
		return yamlev_error(ye, NULL, "%s: '%s' is too long (at most "
				    "3650d)", what, yamlev_quote(v, q));
	*ms = n;
	return 0;
}

static int
config_uint_read(struct yamlev *ye, const char *what, unsigned min,
		 unsigned max, unsigned *out)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	uint64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (util_parse_uint(v, max, &n) < 0 || n < min)
		return yamlev_error(ye, NULL, "%s: '%s' is not an integer from "
				    "%u to %u", what, yamlev_quote(v, q), min,
				    max);
	*out = (unsigned)n;
	return 0;
}

static int
config_size_read(struct yamlev *ye, const char *what, uint64_t *bytes)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	uint64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (util_parse_size(v, &n) < 0)
		return yamlev_error(ye, NULL, "%s: '%s' is not a size (write "
				    "it like 65536, 64KiB or 1MiB)", what,
				    yamlev_quote(v, q));
	if (n < 1 || n > CONFIG_LOG_MAX_MAX)
		return yamlev_error(ye, NULL, "%s: '%s' is out of range (1 "
				    "byte to 1GiB)", what, yamlev_quote(v, q));
	*bytes = n;
	return 0;
}

/* "5%": a whole percentage from 0 to 99. */
static int
config_percent_read(struct yamlev *ye, const char *what, unsigned *pct)
{
	char q[YAMLEV_QUOTE_MAX], num[8];
	const char *v;
	size_t len;
	uint64_t n;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	len = strlen(v);
	if (len < 2 || len > sizeof(num) || v[len - 1] != '%')
		goto bad;
	memcpy(num, v, len - 1);
	num[len - 1] = '\0';
	if (util_parse_uint(num, 99, &n) < 0)
		goto bad;
	*pct = (unsigned)n;
	return 0;
bad:
	return yamlev_error(ye, NULL, "%s: '%s' is not a percentage from 0%% "
			    "to 99%% (write it like 5%%)", what,
			    yamlev_quote(v, q));
}

static int
config_bool_read(struct yamlev *ye, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", NULL};
	static const char *const no[] = {"false", "False", "FALSE", NULL};
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	size_t i;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	for (i = 0; yes[i] != NULL; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return yamlev_error(ye, NULL, "%s: '%s' is not true or false", what,
			    yamlev_quote(v, q));
}

/* How handlers run: "exec" (one process per attempt) or "persistent". */
static int
config_mode_read(struct yamlev *ye, const char *what, bool *persistent)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (strcmp(v, "exec") == 0 || strcmp(v, "persistent") == 0) {
		*persistent = strcmp(v, "persistent") == 0;
		return 0;
	}
	return yamlev_error(ye, NULL, "%s: '%s' is not exec or persistent",
			    what, yamlev_quote(v, q));
}

/* Where the daemon logs: "stderr" (journald reads it) or "syslog". */
/* One of two words: *second_out says whether it was the second. */
static int
config_choice_read(struct yamlev *ye, const char *what, const char *first,
		   const char *second, bool *second_out)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *v;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (strcmp(v, first) == 0 || strcmp(v, second) == 0) {
		*second_out = strcmp(v, second) == 0;
		return 0;
	}
	return yamlev_error(ye, NULL, "%s: '%s' is not %s or %s", what,
			    yamlev_quote(v, q), first, second);
}

/*
 * "60/min": a count of handler starts per period. The period is a unit
 * word (one of it) or a duration ("100/30s").
 */
static int
config_rate_read(struct yamlev *ye, const char *what, struct provider *p)
{
	static const struct {
		const char *word;
		uint64_t ms;
	} words[] = {
		{"s", 1000}, {"sec", 1000}, {"m", 60000}, {"min", 60000},
		{"h", 3600000}, {"hour", 3600000}, {"d", 86400000},
		{"day", 86400000},
	};
	char q[YAMLEV_QUOTE_MAX], num[24];
	const char *v, *slash, *per;
	uint64_t count, ms = 0;
	size_t i;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	slash = strchr(v, '/');
	if (slash == NULL || (size_t)(slash - v) >= sizeof(num))
		goto bad;
	memcpy(num, v, (size_t)(slash - v));
	num[slash - v] = '\0';
	if (util_parse_uint(num, CONFIG_RATE_MAX, &count) < 0 || count == 0)
		goto bad;
	per = slash + 1;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(per, words[i].word) == 0)
			ms = words[i].ms;
	if (ms == 0 && (util_parse_duration(per, &ms) < 0 || ms == 0 ||
			ms > CONFIG_DURATION_MAX))
		goto bad;
	p->rate_count = (unsigned)count;
	p->rate_period_ms = ms;
	return 0;
bad:
	return yamlev_error(ye, NULL, "%s: '%s' is not a rate (write it like "
			    "60/min, 10/s or 100/30s; the count is 1 to %d)",
			    what, yamlev_quote(v, q), CONFIG_RATE_MAX);
}

/*
 * rel joined to dir, the directory of the config. Leading "." and ".."
 * components are taken off against dir, which is absolute and, coming
 * from config_load(), a real path with no symbolic links, so "dir/.."
 * is exactly dir's parent. The rest is kept as written.
 */
static char *
config_path_join(const char *dir, const char *rel)
{
	size_t dlen = strlen(dir);
	char *out;

	while (dlen > 0 && dir[dlen - 1] == '/')
		dlen--;
	for (;;) {
		if (strcmp(rel, ".") == 0) {
			rel++;
		} else if (strncmp(rel, "./", 2) == 0) {
			rel += 2;
		} else if (strcmp(rel, "..") == 0 ||
			   strncmp(rel, "../", 3) == 0) {
			while (dlen > 0 && dir[dlen - 1] != '/')
				dlen--;
			while (dlen > 0 && dir[dlen - 1] == '/')
				dlen--;
			rel += 2;
		} else {
			break;
		}
		while (*rel == '/')
			rel++;
	}
	if (*rel == '\0')
		return dlen == 0 ? strdup("/") : strndup(dir, dlen);
	if (asprintf(&out, "%.*s/%s", (int)dlen, dir, rel) < 0)
		return NULL;
	return out;
}

/* An absolute path from v: as it is, or joined to dir. */
static int
config_path_make(struct yamlev *ye, const char *what, const char *v,
		 const char *dir, char **out)
{
	char *path;

	path = v[0] == '/' ? strdup(v) : config_path_join(dir, v);
	if (path == NULL)
		return -ENOMEM;
	if (strlen(path) >= PATH_MAX) {
		free(path);
		return yamlev_error(ye, NULL, "%s: path too long (at most %d "
				    "bytes once made absolute)", what,
				    PATH_MAX - 1);
	}
	free(*out);
	*out = path;
	return 0;
}

static int
config_path_read(struct yamlev *ye, const char *what, const char *dir,
		 char **out)
{
	const char *v;
	int rc;

	if ((rc = yamlev_scalar(ye, what, &v)) < 0)
		return rc;
	if (v[0] == '\0')
		return yamlev_error(ye, NULL, "%s must not be empty", what);
	return config_path_make(ye, what, v, dir, out);
}

static int
config_retention_read(struct yamlev *ye, struct config *cfg)
{
	uint64_t *const dst[] = {
		&cfg->retention_completed_ms, &cfg->retention_failed_ms,
		&cfg->retention_history_ms,
	};
	char what[CONFIG_WHAT_MAX], key[32];
	struct yamlev_map m;
	int rc, idx;

	if ((rc = yamlev_mapping(ye, "retention")) < 0)
		return rc;
	yamlev_map_init(ye, &m, config_retention_keys, "in retention");
	for (;;) {
		if ((rc = yamlev_map_key(ye, &m, &idx)) < 0)
			return rc;
		if (idx < 0)
			return 0;
		config_fmt(key, sizeof(key), "retention.%s",
			 config_retention_keys[idx]);
		if ((rc = config_duration_read(ye, config_what(what, key, NULL),
					       true, dst[idx])) < 0)
			return rc;
	}
}

/* "in provider 'square'", and "in backoff of provider 'square'". */
static void
config_prov_where(char where[CONFIG_WHAT_MAX], const char *map,
		  const struct provider *p)
{
	if (map == NULL)
		config_fmt(where, CONFIG_WHAT_MAX, "in provider '%s'", p->name);
	else
		config_fmt(where, CONFIG_WHAT_MAX, "in %s of provider '%s'",
			   map, p->name);
}

static int
config_backoff_read(struct yamlev *ye, struct provider *p, const char *in)
{
	char what[CONFIG_WHAT_MAX], where[CONFIG_WHAT_MAX], a[32], b[32];
	struct yamlev_map m;
	int rc, idx;

	if ((rc = yamlev_mapping(ye, config_what(what, "backoff", in))) < 0)
		return rc;
	config_prov_where(where, "backoff", p);
	yamlev_map_init(ye, &m, config_backoff_keys, where);
	for (;;) {
		if ((rc = yamlev_map_key(ye, &m, &idx)) < 0)
			return rc;
		if (idx < 0)
			break;
		if (idx == 0)
			rc = config_duration_read(ye,
				config_what(what, "backoff.initial", in), true,
				&p->backoff_initial_ms);
		else
			rc = config_duration_read(ye,
				config_what(what, "backoff.max", in), false,
				&p->backoff_max_ms);
		if (rc < 0)
			return rc;
	}
	/* Either may come from the defaults (30s, 1h), so say both. */
	if (p->backoff_initial_ms > p->backoff_max_ms)
		return yamlev_error(ye, &m.start, "backoff %s: initial (%s) is "
				    "longer than max (%s)", in,
				    config_ms_str(p->backoff_initial_ms, a),
				    config_ms_str(p->backoff_max_ms, b));
	return 0;
}

static int
config_breaker_read(struct yamlev *ye, struct provider *p, const char *in)
{
	char what[CONFIG_WHAT_MAX], where[CONFIG_WHAT_MAX];
	struct yamlev_map m;
	int rc, idx;

	if ((rc = yamlev_mapping(ye, config_what(what, "breaker", in))) < 0)
		return rc;
	config_prov_where(where, "breaker", p);
	yamlev_map_init(ye, &m, config_breaker_keys, where);
	for (;;) {
		if ((rc = yamlev_map_key(ye, &m, &idx)) < 0)
			return rc;
		if (idx < 0)
			return 0;
		if (idx == 0)
			rc = config_uint_read(ye,
				config_what(what, "breaker.failures", in), 0,
				CONFIG_BREAKER_MAX, &p->breaker_failures);
		else
			rc = config_duration_read(ye,
				config_what(what, "breaker.cooldown", in),
				false, &p->breaker_cooldown_ms);
		if (rc < 0)
			return rc;
	}
}

/* Append s to the NULL-terminated vector *v of *n strings; s is taken. */
static int
config_vec_push(char ***v, size_t *n, char *s)
{
	char **nv;

	if ((nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
		free(s);
		return -ENOMEM;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static int
config_command_read(struct yamlev *ye, struct provider *p, const char *in,
		    const char *dir)
{
	char what[CONFIG_WHAT_MAX];
	yaml_mark_t start;
	const char *v;
	char *s;
	int rc;

	config_what(what, "command", in);
	if ((rc = yamlev_sequence(ye, what)) < 0) {
		if (ye->have_ev && ye->ev.type == YAML_SCALAR_EVENT)
			return yamlev_error(ye, NULL, "%s must be a sequence, "
					    "the argv of the handler (like "
					    "[/usr/bin/handler, --flag]); it "
					    "is never run by a shell", what);
		return rc;
	}
	start = ye->ev.start_mark;
	for (;;) {
		if ((rc = yamlev_seq_scalar(ye, what, &v)) < 0)
			return rc;
		if (v == NULL)
			break;
		if (p->ncommand == CONFIG_COMMAND_MAX)
			return yamlev_error(ye, NULL, "%s has too many "
					    "arguments (at most %d)", what,
					    CONFIG_COMMAND_MAX);
		if (p->ncommand == 0 && v[0] == '\0')
			return yamlev_error(ye, NULL, "%s: the program's name "
					    "is empty", what);
		/*
		 * A program with a '/' is a path, relative to the config's
		 * directory; a bare name is searched for by config_load().
		 */
		s = NULL;
		if (p->ncommand == 0 && strchr(v, '/') != NULL)
			rc = config_path_make(ye, what, v, dir, &s);
		else
			rc = (s = strdup(v)) == NULL ? -ENOMEM : 0;
		if (rc < 0 || (rc = config_vec_push(&p->command, &p->ncommand,
						    s)) < 0)
			return rc;
	}
	if (p->ncommand == 0)
		return yamlev_error(ye, &start, "%s must not be empty: give "
				    "the handler's path and its arguments",
				    what);
	return 0;
}

/* A name the environment can hold: [A-Za-z_][A-Za-z0-9_]*, bounded. */
static bool
config_env_name_valid(const char *k)
{
	size_t n;

	if (!(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return false;
	for (n = 1; k[n] != '\0'; n++)
		if (n >= CONFIG_ENV_KEY_MAX ||
		    !(isalnum((unsigned char)k[n]) || k[n] == '_'))
			return false;
	return true;
}

static int
config_env_read(struct yamlev *ye, struct provider *p, const char *in)
{
	char what[CONFIG_WHAT_MAX], keys[CONFIG_WHAT_MAX];
	char q[YAMLEV_QUOTE_MAX];
	char name[CONFIG_ENV_KEY_MAX + 1];
	const char *key, *v;
	char *s;
	size_t i, klen;
	int rc;

	if ((rc = yamlev_mapping(ye, config_what(what, "env", in))) < 0)
		return rc;
	config_fmt(keys, sizeof(keys), "of env %s", in);
	for (;;) {
		if ((rc = yamlev_map_any_key(ye, keys, &key)) < 0)
			return rc;
		if (key == NULL)
			return 0;
		if (!config_env_name_valid(key))
			return yamlev_error(ye, NULL, "env name '%s' %s is not "
					    "valid: use letters, digits and "
					    "'_', not starting with a digit, "
					    "at most %d", yamlev_quote(key, q),
					    in, CONFIG_ENV_KEY_MAX);
		if (strncmp(key, "SYNCSPOOL_", 10) == 0)
			return yamlev_error(ye, NULL, "env name '%s' %s: names "
					    "starting with SYNCSPOOL_ are set "
					    "by the daemon", key, in);
		klen = strlen(key);
		for (i = 0; i < p->nenv; i++)
			if (strncmp(p->env[i], key, klen) == 0 &&
			    p->env[i][klen] == '=')
				return yamlev_error(ye, NULL, "duplicate env "
						    "name '%s' %s", key, in);
		if (p->nenv == CONFIG_ENV_MAX)
			return yamlev_error(ye, NULL, "too many env entries "
					    "%s (at most %d)", in,
					    CONFIG_ENV_MAX);
		memcpy(name, key, klen + 1);
		config_fmt(what, sizeof(what), "env %s %s", name, in);
		if ((rc = yamlev_scalar(ye, what, &v)) < 0)
			return rc;
		if (strlen(v) > CONFIG_ENV_VALUE_MAX)
			return yamlev_error(ye, NULL, "%s is too long (at most "
					    "%d bytes)", what,
					    CONFIG_ENV_VALUE_MAX);
		if (asprintf(&s, "%s=%s", name, v) < 0)
			return -ENOMEM;
		if ((rc = config_vec_push(&p->env, &p->nenv, s)) < 0)
			return rc;
	}
}

static void
config_provider_defaults(struct provider *p)
{
	p->timeout_ms = 300000;
	p->max_attempts = 5;
	p->backoff_initial_ms = 30000;
	p->backoff_max_ms = 3600000;
	p->concurrency = 1;
	p->rate_count = 0;
	p->rate_period_ms = 0;
	p->coalesce = false;
	p->breaker_failures = 0;
	p->breaker_cooldown_ms = 600000;
	p->max_age_ms = 86400000;
}

static int
config_provider_value(struct yamlev *ye, struct provider *p, int idx,
		      const char *in, const char *dir)
{
	char what[CONFIG_WHAT_MAX];

	config_what(what, config_prov_keys[idx], in);
	switch ((enum config_prov_key)idx) {
	case PROV_COMMAND:
		return config_command_read(ye, p, in, dir);
	case PROV_TIMEOUT:
		return config_duration_read(ye, what, false, &p->timeout_ms);
	case PROV_MAX_ATTEMPTS:
		return config_uint_read(ye, what, 1, CONFIG_ATTEMPTS_MAX,
					&p->max_attempts);
	case PROV_BACKOFF:
		return config_backoff_read(ye, p, in);
	case PROV_CONCURRENCY:
		return config_uint_read(ye, what, 1, CONFIG_CONCURRENCY_MAX,
					&p->concurrency);
	case PROV_RATE:
		return config_rate_read(ye, what, p);
	case PROV_COALESCE:
		return config_bool_read(ye, what, &p->coalesce);
	case PROV_BREAKER:
		return config_breaker_read(ye, p, in);
	case PROV_MAX_AGE:
		return config_duration_read(ye, what, false, &p->max_age_ms);
	case PROV_ENV:
		return config_env_read(ye, p, in);
	case PROV_MODE:
		return config_mode_read(ye, what, &p->persistent);
	}
	return -EINVAL;
}

/* One provider's mapping; p has its name and defaults already. */
static int
config_provider_read(struct yamlev *ye, struct provider *p, const char *dir)
{
	char in[CONFIG_WHAT_MAX], what[CONFIG_WHAT_MAX];
	struct yamlev_map m;
	int rc, idx;

	config_prov_where(in, NULL, p);
	config_fmt(what, sizeof(what), "provider '%s'", p->name);
	if ((rc = yamlev_mapping(ye, what)) < 0)
		return rc;
	yamlev_map_init(ye, &m, config_prov_keys, in);
	for (;;) {
		if ((rc = yamlev_map_key(ye, &m, &idx)) < 0)
			return rc;
		if (idx < 0)
			break;
		if ((rc = config_provider_value(ye, p, idx, in, dir)) < 0)
			return rc;
	}
	return yamlev_map_require(ye, &m, PROV_COMMAND);
}

static int
config_providers_read(struct yamlev *ye, struct config *cfg)
{
	char q[YAMLEV_QUOTE_MAX];
	struct provider *np, *p;
	yaml_mark_t start;
	const char *name;
	size_t i;
	int rc;

	if ((rc = yamlev_mapping(ye, "providers")) < 0)
		return rc;
	start = ye->ev.start_mark;
	for (;;) {
		if ((rc = yamlev_map_any_key(ye, "of providers", &name)) < 0)
			return rc;
		if (name == NULL)
			break;
		if (!util_name_valid(name, TOKEN_MAX))
			return yamlev_error(ye, NULL, "provider name '%s' is "
					    "not valid: use 1 to %d letters, "
					    "digits, '.', '_' or '-', starting "
					    "with a letter or digit",
					    yamlev_quote(name, q), TOKEN_MAX);
		for (i = 0; i < cfg->nproviders; i++)
			if (strcmp(cfg->providers[i].name, name) == 0)
				return yamlev_error(ye, NULL, "provider '%s' "
						    "is defined twice", name);
		if (cfg->nproviders == CONFIG_MAX_PROVIDERS)
			return yamlev_error(ye, NULL, "too many providers (at "
					    "most %d)", CONFIG_MAX_PROVIDERS);
		np = realloc(cfg->providers,
			     (cfg->nproviders + 1) * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		cfg->providers = np;
		/* Counted at once, so that config_free() sees it on failure. */
		p = &cfg->providers[cfg->nproviders++];
		memset(p, 0, sizeof(*p));
		config_provider_defaults(p);
		if ((p->name = strdup(name)) == NULL)
			return -ENOMEM;
		if ((rc = config_provider_read(ye, p, cfg->dir)) < 0)
			return rc;
	}
	if (cfg->nproviders == 0)
		return yamlev_error(ye, &start, "providers must list at least "
				    "one provider");
	return 0;
}

static int
config_top_value(struct yamlev *ye, struct config *cfg, int idx)
{
	const char *key = config_top_keys[idx];

	switch ((enum config_top_key)idx) {
	case TOP_SPOOL:
		return config_path_read(ye, key, cfg->dir, &cfg->spool);
	case TOP_WORKERS:
		return config_uint_read(ye, key, 1, CONFIG_WORKERS_MAX,
					&cfg->workers);
	case TOP_SETTLE:
		return config_duration_read(ye, key, true, &cfg->settle_ms);
	case TOP_RESCAN:
		return config_duration_read(ye, key, false, &cfg->rescan_ms);
	case TOP_MIN_FREE:
		return config_percent_read(ye, key, &cfg->min_free_pct);
	case TOP_LOG_MAX:
		return config_size_read(ye, key, &cfg->log_max);
	case TOP_SHUTDOWN_GRACE:
		return config_duration_read(ye, key, true,
					    &cfg->shutdown_grace_ms);
	case TOP_METRICS:
		return config_path_read(ye, key, cfg->dir, &cfg->metrics);
	case TOP_LOG:
		return config_choice_read(ye, key, "stderr", "syslog",
					  &cfg->log_syslog);
	case TOP_CGROUPS:
		return config_choice_read(ye, key, "auto", "off",
					  &cfg->cgroups_off);
	case TOP_RETENTION:
		return config_retention_read(ye, cfg);
	case TOP_PROVIDERS:
		return config_providers_read(ye, cfg);
	}
	return -EINVAL;
}

static void
config_defaults(struct config *cfg)
{
	cfg->workers = 4;
	cfg->settle_ms = 2000;
	cfg->rescan_ms = 60000;
	cfg->min_free_pct = 5;
	cfg->log_max = 1 << 20;
	cfg->shutdown_grace_ms = 30000;
	cfg->retention_completed_ms = 7 * 86400000ULL;
	cfg->retention_failed_ms = 30 * 86400000ULL;
	cfg->retention_history_ms = 90 * 86400000ULL;
}

static int
config_provider_cmp(const void *a, const void *b)
{
	const struct provider *pa = a, *pb = b;

	return strcmp(pa->name, pb->name);
}

int
config_parse(const char *buf, size_t len, const char *name, const char *dir,
	     struct config *cfg, char *err, size_t errlen)
{
	struct yamlev ye = {
		.kind = "config",
		.name = name,
		.max_size = CONFIG_MAX_SIZE,
		.max_depth = CONFIG_MAX_DEPTH,
	};
	struct yamlev_map m;
	int rc = -ENOMEM, idx;

	memset(cfg, 0, sizeof(*cfg));
	config_defaults(cfg);
	if (dir == NULL || dir[0] != '/') {
		util_seterr(err, errlen, "%s: the config's directory must be "
			    "an absolute path", name ? name : "config");
		return -EINVAL;
	}
	if ((cfg->path = strdup(name ? name : "")) == NULL ||
	    (cfg->dir = strdup(dir)) == NULL)
		goto fail;
	if ((rc = yamlev_open(&ye, buf, len, err, errlen)) < 0)
		goto fail;
	rc = yamlev_doc_begin(&ye, "empty config file: expected a mapping "
			      "with spool and providers");
	if (rc < 0)
		goto fail;
	yamlev_map_init(&ye, &m, config_top_keys, "at the top level");
	for (;;) {
		if ((rc = yamlev_map_key(&ye, &m, &idx)) < 0)
			goto fail;
		if (idx < 0)
			break;
		if ((rc = config_top_value(&ye, cfg, idx)) < 0)
			goto fail;
	}
	if ((rc = yamlev_map_require(&ye, &m, TOP_SPOOL)) < 0 ||
	    (rc = yamlev_map_require(&ye, &m, TOP_PROVIDERS)) < 0 ||
	    (rc = yamlev_doc_end(&ye)) < 0)
		goto fail;
	yamlev_close(&ye);
	qsort(cfg->providers, cfg->nproviders, sizeof(*cfg->providers),
	      config_provider_cmp);
	return 0;
fail:
	if (rc == -ENOMEM)
		util_seterr(err, errlen, "%s: out of memory",
			    name ? name : "config");
	yamlev_close(&ye);
	config_free(cfg);
	return rc;
}

/* 0 when path is a regular file we may execute, else a negative errno. */
static int
config_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

/*
 * Check p's program, and make a bare name absolute by looking it up in
 * CONFIG_SEARCH: execve() does not search, and the daemon's environment
 * is not the handler's.
 */
static int
config_command_resolve(const struct config *cfg, struct provider *p,
		       char *err, size_t errlen)
{
	static const char *const dirs[] = {
		"/usr/local/bin", "/usr/bin", "/bin", NULL,
	};
	char path[PATH_MAX];
	char *s;
	size_t i;
	int rc;

	if (strchr(p->command[0], '/') != NULL) {
		if ((rc = config_executable(p->command[0])) == 0)
			return 0;
		util_seterr(err, errlen, "%s: provider '%s': command %s: not "
			    "executable (%s)", cfg->path, p->name,
			    p->command[0], strerror(-rc));
		return -EINVAL;
	}
	for (i = 0; dirs[i] != NULL; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dirs[i],
			     p->command[0]) >= (int)sizeof(path) ||
		    config_executable(path) < 0)
			continue;
		if ((s = strdup(path)) == NULL)
			return -ENOMEM;
		free(p->command[0]);
		p->command[0] = s;
		return 0;
	}
	util_seterr(err, errlen, "%s: provider '%s': command '%s' not found "
		    "in %s (give its path; one with a '/' is relative to the "
		    "config file's directory)", cfg->path, p->name,
		    p->command[0], CONFIG_SEARCH);
	return -EINVAL;
}

/* Read at most CONFIG_MAX_SIZE + 1 bytes: one more tells it is too big. */
static int
config_read_file(const char *path, char **bufp, size_t *lenp, char *err,
		 size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc;

	/* O_NONBLOCK: a FIFO put in the config's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		util_seterr(err, errlen, "%s: cannot open: %s (give the config "
			    "with -c or $SYNCSPOOL_CONFIG)", path,
			    strerror(-rc));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "%s: fstat: %s", path, strerror(-rc));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		util_seterr(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	rc = -ENOMEM;
	if ((buf = malloc(CONFIG_MAX_SIZE + 1)) == NULL) {
		util_seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (len < CONFIG_MAX_SIZE + 1) {
		n = read(fd, buf + len, CONFIG_MAX_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			util_seterr(err, errlen, "%s: read: %s", path,
				    strerror(-rc));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	char *buf = NULL, *copy = NULL, *dir = NULL;
	size_t len = 0, i;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((rc = config_read_file(path, &buf, &len, err, errlen)) < 0)
		goto fail;
	rc = -ENOMEM;
	if ((copy = strdup(path)) == NULL)
		goto fail;
	if ((dir = realpath(dirname(copy), NULL)) == NULL) {
		rc = -errno;
		util_seterr(err, errlen, "%s: cannot resolve its directory: %s",
			    path, strerror(-rc));
		goto fail;
	}
	if ((rc = config_parse(buf, len, path, dir, cfg, err, errlen)) < 0)
		goto fail;
	for (i = 0; i < cfg->nproviders; i++)
		if ((rc = config_command_resolve(cfg, &cfg->providers[i], err,
						 errlen)) < 0)
			goto fail;
	free(buf);
	free(copy);
	free(dir);
	return 0;
fail:
	if (rc == -ENOMEM)
		util_seterr(err, errlen, "%s: out of memory", path);
	config_free(cfg);
	free(buf);
	free(copy);
	free(dir);
	return rc;
}

void
config_free(struct config *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->nproviders; i++) {
		struct provider *p = &cfg->providers[i];
		free(p->name);
		for (j = 0; j < p->ncommand; j++)
			free(p->command[j]);
		free(p->command);
		for (j = 0; j < p->nenv; j++)
			free(p->env[j]);
		free(p->env);
	}
	free(cfg->providers);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->spool);
	free(cfg->metrics);
	memset(cfg, 0, sizeof(*cfg));
}

const char *
config_find(const char *opt)
{
	const char *env;

	if (opt != NULL)
		return opt;
	env = getenv("SYNCSPOOL_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	if (access("./etc/syncspool.yaml", F_OK) == 0)
		return "./etc/syncspool.yaml";
	return "/etc/syncspool/syncspool.yaml";
}

const struct provider *
config_provider(const struct config *cfg, const char *name)
{
	struct provider key = {.name = (char *)name};

	if (cfg->nproviders == 0)
		return NULL;
	return bsearch(&key, cfg->providers, cfg->nproviders,
		       sizeof(*cfg->providers), config_provider_cmp);
}

/*
 * Who may change what the daemon reads and runs: path (the config, or a
 * provider's program, what says which) and the directories above it.
 */
static unsigned
config_audit_path(const char *path, const char *what, uid_t euid,
		  audit_cb cb, void *arg)
{
	char real[PATH_MAX], *slash;
	unsigned errors = 0;
	struct stat st;

	if (realpath(path, real) == NULL || stat(real, &st) < 0)
		return 0; /* config_load() and the spawn say why */
	if (st.st_mode & S_IWOTH) {
		util_audit(cb, arg, AUDIT_ERROR, "%s (%s) is writable by "
			   "everyone, so anyone could run code as the user "
			   "syncspoold runs as; chmod o-w %s", real, what,
			   real);
		errors++;
	} else if (st.st_mode & S_IWGRP) {
		util_audit(cb, arg, AUDIT_WARNING, "%s (%s) is writable by its "
			   "group (gid %ld), whose members can run code as "
			   "the user syncspoold runs as; chmod g-w %s", real,
			   what, (long)st.st_gid, real);
	}
	if (st.st_uid != euid && st.st_uid != 0)
		util_audit(cb, arg, AUDIT_WARNING, "%s (%s) is owned by uid %ld, "
			   "who can run code as the user syncspoold runs as "
			   "(uid %ld); chown it to root", real, what,
			   (long)st.st_uid, (long)euid);
	/* Whoever may rename in a directory above it may replace it. */
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &st) < 0)
			break;
		if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
			util_audit(cb, arg, AUDIT_ERROR, "the directory %s, "
				   "above %s, is writable by everyone, so "
				   "anyone could replace it; chmod o-w %s",
				   real, what, real);
			errors++;
		} else if (st.st_uid != euid && st.st_uid != 0) {
			util_audit(cb, arg, AUDIT_WARNING, "the directory %s, "
				   "above %s, is owned by uid %ld, who could "
				   "replace it", real, what, (long)st.st_uid);
		}
		if (strcmp(real, "/") == 0)
			break;
	}
	return errors;
}

unsigned
config_audit(const struct config *cfg, uid_t euid, audit_cb cb, void *arg)
{
	char what[TOKEN_MAX + 32];
	unsigned errors;

	errors = config_audit_path(cfg->path, "the configuration", euid, cb,
				   arg);
	for (size_t i = 0; i < cfg->nproviders; i++) {
		const struct provider *p = &cfg->providers[i];
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(cfg->providers[k].command[0],
				      p->command[0]) == 0;
		if (seen)
			continue;
		snprintf(what, sizeof(what), "the handler of provider %s",
			 p->name);
		errors += config_audit_path(p->command[0], what, euid, cb,
					    arg);
	}
	return errors;
}

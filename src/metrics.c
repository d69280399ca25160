/*
 * metrics.c - counters and gauges in Prometheus text format. See
 * metrics.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

const double metrics_bucket_le[METRICS_BUCKETS] = {
	0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400,
};

static const char *const reason_names[REASON_COUNT] = {
	"exit", "signal", "timeout", "invalid", "expired",
};

void
metrics_init(struct metrics *m, int64_t now)
{
	memset(m, 0, sizeof(*m));
	m->started = now;
	m->free_space = m->free_inodes = 1;
}

void
metrics_free(struct metrics *m)
{
	free(m->provs);
	memset(m, 0, sizeof(*m));
}

struct metrics_provider *
metrics_provider(struct metrics *m, const char *name)
{
	struct metrics_provider *p;

	for (size_t i = 0; i < m->nprovs; i++)
		if (strcmp(m->provs[i].name, name) == 0)
			return &m->provs[i];
	p = realloc(m->provs, (m->nprovs + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	m->provs = p;
	p = &m->provs[m->nprovs++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

void
metrics_clear_gauges(struct metrics *m)
{
	for (size_t i = 0; i < m->nprovs; i++) {
		memset(m->provs[i].jobs, 0, sizeof(m->provs[i].jobs));
		m->provs[i].oldest_pending_ms = 0;
		m->provs[i].breaker_open = 0;
	}
}

void
metrics_duration(struct metrics_provider *p, uint64_t duration_ms)
{
	for (int i = 0; i < METRICS_BUCKETS; i++)
		if ((double)duration_ms <= metrics_bucket_le[i] * 1000)
			p->duration_le[i]++;
	p->duration_count++;
	p->duration_sum_ms += duration_ms;
}

/* A growing text buffer; any failure sticks and is reported at the end. */
struct text {
	char *buf;
	size_t len, cap;
	int err;
};

static void
text_add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err != 0)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n + 1;
		char *b = realloc(t->buf, cap);
		if (b == NULL) {
			t->err = -ENOMEM;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

static void
family(struct text *t, const char *name, const char *type, const char *help)
{
	text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int
metrics_format(const struct metrics *m, char **out)
{
	struct text t = {.cap = 4096};
	const char *name;

	*out = NULL;
	t.buf = malloc(t.cap);
	if (t.buf == NULL)
		return -ENOMEM;
	t.buf[0] = '\0';
	family(&t, "syncspool_start_time_seconds", "gauge",
	       "When the daemon started, since the epoch.");
	text_add(&t, "syncspool_start_time_seconds %.3f\n",
		 (double)m->started / 1000);
	name = "syncspool_jobs";
	family(&t, name, "gauge", "Job files per state directory.");
	for (size_t i = 0; i < m->nprovs; i++)
		for (int s = STATE_PENDING; s < STATE_COUNT; s++)
			text_add(&t, "%s{provider=\"%s\",state=\"%s\"} %llu\n",
				 name, m->provs[i].name, state_name(s),
				 (unsigned long long)m->provs[i].jobs[s]);
	name = "syncspool_oldest_pending_seconds";
	family(&t, name, "gauge", "Age of the oldest job waiting in pending.");
	for (size_t i = 0; i < m->nprovs; i++)
		text_add(&t, "%s{provider=\"%s\"} %.3f\n", name,
			 m->provs[i].name,
			 (double)m->provs[i].oldest_pending_ms / 1000);
	name = "syncspool_attempts_total";
	family(&t, name, "counter", "Handler runs started.");
	for (size_t i = 0; i < m->nprovs; i++)
		text_add(&t, "%s{provider=\"%s\"} %llu\n", name,
			 m->provs[i].name,
			 (unsigned long long)m->provs[i].attempts);
	name = "syncspool_retries_total";
	family(&t, name, "counter", "Attempts that went back to pending.");
	for (size_t i = 0; i < m->nprovs; i++)
		text_add(&t, "%s{provider=\"%s\"} %llu\n", name,
			 m->provs[i].name,
			 (unsigned long long)m->provs[i].retries);
	name = "syncspool_failures_total";
	family(&t, name, "counter", "Attempts and files that failed, by reason.");
	for (size_t i = 0; i < m->nprovs; i++)
		for (int r = 0; r < REASON_COUNT; r++)
			text_add(&t, "%s{provider=\"%s\",reason=\"%s\"} %llu\n",
				 name, m->provs[i].name, reason_names[r],
				 (unsigned long long)m->provs[i].failures[r]);
	name = "syncspool_handler_duration_seconds";
	family(&t, name, "histogram", "How long handlers ran.");
	for (size_t i = 0; i < m->nprovs; i++) {
		const struct metrics_provider *p = &m->provs[i];
		for (int b = 0; b < METRICS_BUCKETS; b++)
			text_add(&t, "%s_bucket{provider=\"%s\",le=\"%g\"} %llu\n",
				 name, p->name, metrics_bucket_le[b],
				 (unsigned long long)p->duration_le[b]);
		text_add(&t, "%s_bucket{provider=\"%s\",le=\"+Inf\"} %llu\n",
			 name, p->name, (unsigned long long)p->duration_count);
		text_add(&t, "%s_sum{provider=\"%s\"} %.3f\n", name, p->name,
			 (double)p->duration_sum_ms / 1000);
		text_add(&t, "%s_count{provider=\"%s\"} %llu\n", name, p->name,
			 (unsigned long long)p->duration_count);
	}
	name = "syncspool_breaker_open";
	family(&t, name, "gauge", "1 while the provider's circuit breaker "
	       "holds its jobs.");
	for (size_t i = 0; i < m->nprovs; i++)
		text_add(&t, "%s{provider=\"%s\"} %d\n", name, m->provs[i].name,
			 m->provs[i].breaker_open);
	family(&t, "syncspool_free_space_ratio", "gauge",
	       "Free space on the spool's filesystem, 0 to 1.");
	text_add(&t, "syncspool_free_space_ratio %.4f\n", m->free_space);
	family(&t, "syncspool_free_inodes_ratio", "gauge",
	       "Free inodes on the spool's filesystem, 0 to 1.");
	text_add(&t, "syncspool_free_inodes_ratio %.4f\n", m->free_inodes);
	name = "syncspool_commits_total";
	family(&t, name, "counter", "Batches of moves made durable and "
	       "recorded, by the process that did it.");
	text_add(&t, "%s{by=\"committer\"} %llu\n", name,
		 (unsigned long long)m->commits[0]);
	text_add(&t, "%s{by=\"daemon\"} %llu\n", name,
		 (unsigned long long)m->commits[1]);
	family(&t, "syncspool_commit_failures_total", "counter",
	       "Flushes (directory fsyncs or commits) that failed and were "
	       "tried again.");
	text_add(&t, "syncspool_commit_failures_total %llu\n",
		 (unsigned long long)m->commit_failures);
	family(&t, "syncspool_committer_exits_total", "counter",
	       "Committer processes that died or were ended.");
	text_add(&t, "syncspool_committer_exits_total %llu\n",
		 (unsigned long long)m->committer_exits);
	if (t.err != 0) {
		free(t.buf);
		return t.err;
	}
	*out = t.buf;
	return 0;
}

int
metrics_write(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4096];
	size_t len = strlen(text), off = 0;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		util_seterr(err, errlen, "metrics path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0) {
		rc = -errno;
		util_seterr(err, errlen, "cannot write %s: %s", tmp,
			    strerror(errno));
		return rc;
	}
	/*
	 * 0644 whatever the umask (the unit's is 0027): the collector runs
	 * as a user of its own, and the file holds nothing secret.
	 */
	if (fchmod(fd, 0644) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "chmod %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return rc;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			util_seterr(err, errlen, "write %s: %s", tmp,
				    strerror(errno));
			close(fd);
			unlink(tmp);
			return rc;
		}
		off += (size_t)w;
	}
	/*
	 * No fsync: a metrics file lost in a crash is rewritten seconds after
	 * the restart; the rename alone keeps readers from a torn file.
	 */
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		rc = -errno;
		util_seterr(err, errlen, "cannot replace %s: %s", path,
			    strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

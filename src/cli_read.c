/*
 * cli_read.c - the commands that read the daemon's index: status,
 * history, list and show.
 *
 * Each read is one short LMDB read transaction inside store.c (retried
 * there after MDB_MAP_RESIZED); the callbacks only copy what they are
 * given into a table or a JSON document, and the output is written after
 * the transaction has ended, so a slow reader of our stdout never holds
 * a reader slot.
 *
 * The index lags the directories by the moment the daemon takes to see
 * a move, and by more while the daemon is not running: then every answer
 * that comes from the index carries a note (and "stale": true in JSON).
 * The directory a file sits in is the truth, so `show` looks there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"

/* A "N Unit" line of a duration or "off". */
static const char *
dur_or(uint64_t ms, const char *zero, char *buf, size_t len)
{
	if (ms == 0) {
		snprintf(buf, len, "%s", zero);
		return buf;
	}
	return cli_duration(ms, buf, len);
}

/* The provider's argv as one line, for humans. */
static void
print_command(const struct provider *p)
{
	char clean[1024];

	for (size_t i = 0; i < p->ncommand; i++)
		printf("%s%s", i > 0 ? " " : "",
		       cli_clean(p->command[i], clean, sizeof(clean)));
	fputc('\n', stdout);
}

/* ---- status ----------------------------------------------------------- */

static json_t *
json_provider_config(const struct provider *p)
{
	json_t *o = json_object(), *cmd = json_array();

	if (o == NULL || cmd == NULL) {
		json_decref(o);
		json_decref(cmd);
		return NULL;
	}
	for (size_t i = 0; i < p->ncommand; i++)
		json_array_append_new(cmd, cli_json_str(p->command[i]));
	json_object_set_new(o, "command", cmd);
	json_object_set_new(o, "timeout_ms",
			    json_integer((json_int_t)p->timeout_ms));
	json_object_set_new(o, "max_attempts", json_integer(p->max_attempts));
	json_object_set_new(o, "backoff",
			    json_pack("{s:I,s:I}", "initial_ms",
				      (json_int_t)p->backoff_initial_ms,
				      "max_ms", (json_int_t)p->backoff_max_ms));
	json_object_set_new(o, "concurrency", json_integer(p->concurrency));
	json_object_set_new(o, "rate", p->rate_count == 0 ? json_null() :
			    json_pack("{s:i,s:I}", "count", (int)p->rate_count,
				      "period_ms",
				      (json_int_t)p->rate_period_ms));
	json_object_set_new(o, "coalesce", json_boolean(p->coalesce));
	json_object_set_new(o, "breaker", p->breaker_failures == 0 ?
			    json_null() :
			    json_pack("{s:i,s:I}", "failures",
				      (int)p->breaker_failures, "cooldown_ms",
				      (json_int_t)p->breaker_cooldown_ms));
	json_object_set_new(o, "max_age_ms",
			    json_integer((json_int_t)p->max_age_ms));
	return o;
}

static json_t *
json_daemon(const struct cli *c)
{
	json_t *pid = c->daemon != 0 ? json_integer(c->daemon) : json_null();

	return json_pack("{s:b,s:o}", "running", c->daemon != 0, "pid", pid);
}

static json_t *
json_last_run(const struct vpstat *s)
{
	if (s->last_run == 0)
		return json_null();
	return json_pack("{s:o,s:o,s:s,s:I,s:o,s:o,s:o}",
			 "time", cli_json_time(s->last_run),
			 "job_id", cli_json_str(s->last_job),
			 "outcome", event_name(s->last_outcome),
			 "duration_ms", (json_int_t)s->last_duration_ms,
			 "exit_code", s->last_exit < 0 ? json_null() :
			 json_integer(s->last_exit),
			 "signal", s->last_signal == 0 ? json_null() :
			 json_integer(s->last_signal),
			 "error", s->last_error[0] == '\0' ? json_null() :
			 cli_json_str(s->last_error));
}

/* The provider's circuit breaker as the daemon last saved it. */
struct breaker {
	bool known;
	bool open;
	int64_t until;
	unsigned failures;
};

static void
breaker_read(const struct cli *c, const char *provider, struct breaker *b)
{
	char key[TOKEN_MAX + 16], val[96], state[16];
	long long until;
	size_t len;

	memset(b, 0, sizeof(*b));
	snprintf(key, sizeof(key), "breaker/%s", provider);
	if (c->st == NULL ||
	    store_get_meta(c->st, key, val, sizeof(val) - 1, &len) < 0)
		return;
	val[len] = '\0';
	if (sscanf(val, "v1 %15s %lld %u", state, &until, &b->failures) != 3)
		return;
	b->known = true;
	b->open = strcmp(state, "open") == 0;
	b->until = until;
}

/* "closed", "open" (until a time), or "half_open" (a probe may run). */
static const char *
breaker_state(const struct breaker *b)
{
	if (!b->open)
		return "closed";
	return util_now_ms() < b->until ? "open" : "half_open";
}

static json_t *
json_breaker(const struct breaker *b)
{
	return json_pack("{s:s,s:o,s:i}", "state", breaker_state(b),
			 "until", b->open ? cli_json_time(b->until)
					  : json_null(),
			 "failures", (int)b->failures);
}

static void
breaker_human(const struct breaker *b, const char *label)
{
	char t[RFC3339_LEN];

	if (!b->open)
		return;
	if (strcmp(breaker_state(b), "open") == 0)
		printf("%sOPEN until %s after %u failed attempts in a row: "
		       "its jobs are held\n", label, cli_time(b->until, t),
		       b->failures);
	else
		printf("%shalf open: one job may run as a probe\n", label);
}

static void
status_vp_human(const struct cli *c, const char *venue,
		const struct provider *p, const struct vpstat *s, bool seen)
{
	struct breaker br;

	char b1[64], b2[64], t[RFC3339_LEN], clean[ERROR_MAX * 3 + 8];

	printf("venue         %s\n", venue);
	printf("provider      %s\n", p->name);
	printf("command       ");
	print_command(p);
	printf("timeout       %s\n",
	       cli_duration(p->timeout_ms, b1, sizeof(b1)));
	printf("max attempts  %u\n", p->max_attempts);
	printf("backoff       %s to %s, exponential with jitter\n",
	       cli_duration(p->backoff_initial_ms, b1, sizeof(b1)),
	       cli_duration(p->backoff_max_ms, b2, sizeof(b2)));
	printf("concurrency   %u\n", p->concurrency);
	if (p->rate_count == 0)
		printf("rate          unlimited\n");
	else
		printf("rate          %u per %s\n", p->rate_count,
		       cli_duration(p->rate_period_ms, b1, sizeof(b1)));
	printf("coalesce      %s\n", p->coalesce ? "yes" : "no");
	if (p->breaker_failures == 0)
		printf("breaker       off\n");
	else
		printf("breaker       opens after %u failures, cooldown %s\n",
		       p->breaker_failures,
		       cli_duration(p->breaker_cooldown_ms, b1, sizeof(b1)));
	breaker_read(c, p->name, &br);
	breaker_human(&br, "              ");
	printf("max age       %s\n", dur_or(p->max_age_ms, "none", b1,
					     sizeof(b1)));
	printf("\n");
	printf("jobs          %llu pending, %llu processing, %llu completed, "
	       "%llu failed, %llu paused\n",
	       (unsigned long long)s->counts[STATE_PENDING],
	       (unsigned long long)s->counts[STATE_PROCESSING],
	       (unsigned long long)s->counts[STATE_COMPLETED],
	       (unsigned long long)s->counts[STATE_FAILED],
	       (unsigned long long)s->counts[STATE_PAUSED]);
	if (!seen) {
		printf("last run      never (no job of this venue and provider "
		       "is in the index)\n");
	} else if (s->last_run == 0) {
		printf("last run      never\n");
	} else {
		printf("last run      %s %s after %s (exit %s)\n",
		       cli_time(s->last_run, t), event_name(s->last_outcome),
		       cli_duration(s->last_duration_ms, b1, sizeof(b1)),
		       cli_exit(s->last_exit, s->last_signal, b2, sizeof(b2)));
		printf("              job %s\n", s->last_job);
		if (s->last_error[0] != '\0')
			printf("              error: %s\n",
			       cli_fit(c, s->last_error, c->width - 21, clean,
				       sizeof(clean)));
	}
	printf("last success  %s\n", s->last_success == 0 ? "never" :
	       cli_time(s->last_success, t));
	printf("next attempt  %s\n", cli_time(s->next_attempt, t));
	if (c->daemon != 0)
		printf("daemon        running, pid %d\n", (int)c->daemon);
	else
		printf("daemon        not running: the counts may be stale\n");
}

static int
status_vp(struct cli *c, const char *provider, const char *venue, bool json)
{
	const struct provider *p;
	struct vpstat s;
	bool seen = false;
	int rc;

	if ((rc = cli_check_venue(venue)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_CONFIG)) != EX_OK)
		return rc;
	if ((rc = cli_check_provider(c, provider, &p)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;
	memset(&s, 0, sizeof(s));
	s.last_exit = -1;
	if (c->st != NULL) {
		rc = store_vpstat_get(c->st, provider, venue, &s);
		if (rc < 0 && rc != -ENOENT) {
			cli_warn("cannot read the index: %s", strerror(-rc));
			return EX_UNAVAILABLE;
		}
		seen = rc == 0;
	}
	cli_note_stale(c);
	if (!json) {
		status_vp_human(c, venue, p, &s, seen);
		return EX_OK;
	}
	json_t *doc = json_object();
	if (doc != NULL) {
		json_object_set_new(doc, "venue_id", json_string(venue));
		json_object_set_new(doc, "provider", json_string(provider));
		json_object_set_new(doc, "counts", cli_json_counts(s.counts));
		json_object_set_new(doc, "last_run", json_last_run(&s));
		json_object_set_new(doc, "last_success",
				    cli_json_time(s.last_success));
		json_object_set_new(doc, "next_attempt",
				    cli_json_time(s.next_attempt));
		struct breaker br;
		breaker_read(c, provider, &br);
		json_object_set_new(doc, "breaker", json_breaker(&br));
		json_object_set_new(doc, "config", json_provider_config(p));
		json_object_set_new(doc, "daemon", json_daemon(c));
		json_object_set_new(doc, "stale", json_boolean(c->daemon == 0));
	}
	return cli_json_print(doc);
}

/* Per provider: the sum over its venues. */
struct prov_sum {
	char name[TOKEN_MAX + 1];
	bool configured;
	uint64_t counts[STATE_COUNT];
	size_t venues;
};

struct prov_sums {
	struct prov_sum *v;
	size_t n, cap;
};

static struct prov_sum *
prov_sum_get(struct prov_sums *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return &ps->v[i];
	if (ps->n == ps->cap) {
		size_t cap = ps->cap == 0 ? 16 : ps->cap * 2;
		struct prov_sum *v = realloc(ps->v, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	struct prov_sum *p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

static int
prov_sum_add(const char *provider, const char *venue, const struct vpstat *s,
	     void *arg)
{
	struct prov_sum *p = prov_sum_get(arg, provider);

	(void)venue;
	if (p == NULL)
		return -ENOMEM;
	for (int i = 0; i < STATE_COUNT; i++)
		p->counts[i] += s->counts[i];
	p->venues++;
	return 0;
}

/* The daemon's start: when it took the lock (and wrote its pid). */
static int64_t
daemon_started(const struct cli *c)
{
	struct stat st;

	if (c->daemon == 0 ||
	    fstatat(c->sp.db_fd, SPOOL_LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

struct space {
	bool known;
	unsigned space_pct, inodes_pct;
	bool low;
};

static void
spool_space(const struct cli *c, struct space *sp)
{
	struct statvfs vfs;

	memset(sp, 0, sizeof(*sp));
	if (fstatvfs(c->sp.root_fd, &vfs) < 0 || vfs.f_blocks == 0)
		return;
	sp->known = true;
	sp->space_pct = (unsigned)(vfs.f_bavail * 100 / vfs.f_blocks);
	sp->inodes_pct = vfs.f_files == 0 ? 100 :
			 (unsigned)(vfs.f_favail * 100 / vfs.f_files);
	sp->low = sp->space_pct < c->cfg.min_free_pct ||
		  sp->inodes_pct < c->cfg.min_free_pct;
}

/* The no-argument status as JSON; NULL when out of memory. */
static json_t *
status_all_json(const struct cli *c, const struct prov_sums *ps,
		int64_t started, const struct space *space)
{
	json_t *doc = json_object(), *provs = json_object();
	json_t *d = json_daemon(c);

	if (doc == NULL || provs == NULL || d == NULL) {
		json_decref(doc);
		json_decref(provs);
		json_decref(d);
		return NULL;
	}
	json_object_set_new(d, "started", cli_json_time(started));
	json_object_set_new(d, "uptime_s", started == 0 ? json_null() :
			    json_integer((util_now_ms() - started) / 1000));
	json_object_set_new(doc, "daemon", d);
	json_object_set_new(doc, "config", cli_json_str(c->config_path));
	json_object_set_new(doc, "spool", cli_json_str(c->sp.path));
	json_object_set_new(doc, "space", !space->known ? json_null() :
			    json_pack("{s:i,s:i,s:i,s:b}",
				      "free_pct", (int)space->space_pct,
				      "inodes_free_pct", (int)space->inodes_pct,
				      "min_free_pct", (int)c->cfg.min_free_pct,
				      "low", space->low));
	for (size_t i = 0; i < ps->n; i++) {
		const struct prov_sum *p = &ps->v[i];
		json_t *counts = cli_json_counts(p->counts);
		struct breaker br;
		breaker_read(c, p->name, &br);
		json_object_set_new(provs, p->name,
				    json_pack("{s:o,s:I,s:b,s:o}",
					      "counts", counts,
					      "venues", (json_int_t)p->venues,
					      "configured", p->configured,
					      "breaker", json_breaker(&br)));
	}
	json_object_set_new(doc, "providers", provs);
	json_object_set_new(doc, "stale", json_boolean(c->daemon == 0));
	return doc;
}

static int
status_all(struct cli *c, bool json)
{
	struct prov_sums ps;
	struct space space;
	char t[RFC3339_LEN], b[64];
	int64_t started;
	int rc;

	memset(&ps, 0, sizeof(ps));
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;
	for (size_t i = 0; i < c->cfg.nproviders; i++) {
		const char *name = c->cfg.providers[i].name;
		struct prov_sum *p = prov_sum_get(&ps, name);
		if (p == NULL)
			goto nomem;
		p->configured = true;
	}
	if (c->st != NULL) {
		rc = store_vps(c->st, prov_sum_add, &ps);
		if (rc == -ENOMEM)
			goto nomem;
		if (rc < 0 && rc != -ENOENT) {
			cli_warn("cannot read the index: %s", strerror(-rc));
			free(ps.v);
			return EX_UNAVAILABLE;
		}
	}
	started = daemon_started(c);
	spool_space(c, &space);
	cli_note_stale(c);

	if (json) {
		rc = cli_json_print(status_all_json(c, &ps, started, &space));
		free(ps.v);
		return rc;
	}

	if (c->daemon != 0 && started != 0)
		printf("daemon   running, pid %d, up %s since %s\n",
		       (int)c->daemon,
		       cli_duration((uint64_t)(util_now_ms() - started), b,
				    sizeof(b)),
		       cli_time(started, t));
	else if (c->daemon != 0)
		printf("daemon   running, pid %d\n", (int)c->daemon);
	else
		printf("daemon   not running: the counts below may be stale\n");
	printf("config   %s\n", c->config_path);
	printf("spool    %s\n", c->sp.path);
	if (space.known)
		printf("space    %u%% free, %u%% inodes free "
		       "(reserve %u%%)%s\n",
		       space.space_pct, space.inodes_pct, c->cfg.min_free_pct,
		       space.low ? ": LOW, syncspoold claims no new jobs" : "");
	printf("\n");

	struct cli_table tab = {
		.ncols = 7,
		.head = {"PROVIDER", "VENUES", "PENDING", "PROCESSING",
			 "COMPLETED", "FAILED", "PAUSED"},
		.right = {false, true, true, true, true, true, true},
		.cut = {true},
	};
	for (size_t i = 0; i < ps.n; i++) {
		char cells[7][TOKEN_MAX + 32];
		const char *row[7];
		snprintf(cells[0], sizeof(cells[0]), "%s%s", ps.v[i].name,
			 ps.v[i].configured ? "" : " (not configured)");
		snprintf(cells[1], sizeof(cells[1]), "%zu", ps.v[i].venues);
		for (int s = STATE_PENDING; s < STATE_COUNT; s++)
			snprintf(cells[s + 1], sizeof(cells[s + 1]), "%llu",
				 (unsigned long long)ps.v[i].counts[s]);
		for (int k = 0; k < 7; k++)
			row[k] = cells[k];
		if (cli_table_add(&tab, row) < 0) {
			cli_table_free(&tab);
			goto nomem;
		}
	}
	if (ps.n == 0)
		printf("no providers configured\n");
	else
		cli_table_print(c, &tab, "");
	cli_table_free(&tab);
	for (size_t i = 0; i < ps.n; i++) {
		struct breaker br;
		char label[TOKEN_MAX + 32];
		breaker_read(c, ps.v[i].name, &br);
		snprintf(label, sizeof(label), "breaker of %s: ", ps.v[i].name);
		breaker_human(&br, label);
	}
	free(ps.v);
	return EX_OK;
nomem:
	free(ps.v);
	cli_warn("out of memory");
	return EX_OSERR;
}

int
cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"venue", required_argument, NULL, 'v'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *venue = NULL;
	bool json = false;
	int ch;

	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (ch) {
		case 'v':
			venue = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind + 1 < argc)
		return cli_extra_arg("status", argv[optind + 1]);
	if (optind < argc && venue == NULL)
		return cli_usage_error("status", "status: missing --venue");
	if (optind == argc && venue != NULL)
		return cli_usage_error("status", "status: --venue needs a "
				       "provider");
	if (optind < argc)
		return status_vp(c, argv[optind], venue, json);
	return status_all(c, json);
}

/* ---- history ---------------------------------------------------------- */

/* "result: a=1 b=2" from the "key: value" lines of a result. */
static const char *
result_line(const char *result, char *line, size_t len)
{
	size_t o = (size_t)snprintf(line, len, "result:");

	for (const char *p = result; *p != '\0' && o < len;) {
		size_t n = strcspn(p, "\n");
		const char *colon = memchr(p, ':', n);
		if (colon != NULL) {
			const char *v = colon + 1;
			while (v < p + n && *v == ' ')
				v++;
			o += (size_t)snprintf(line + o, len - o, " %.*s=%.*s",
					      (int)(colon - p), p,
					      (int)(p + n - v), v);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	return line;
}

/* One event as a table row, with its error and result as notes. */
static int
event_row(struct cli_table *t, const struct event *e, bool with_job)
{
	char tb[RFC3339_LEN], att[16], ex[32], dur[32];
	const char *row[6];
	size_t n = 0;
	int rc;

	snprintf(att, sizeof(att), "%u", e->attempt);
	row[n++] = cli_time(e->time, tb);
	row[n++] = event_name(e->type);
	row[n++] = att;
	row[n++] = cli_exit(e->exit_code, e->signal, ex, sizeof(ex));
	row[n++] = e->duration_ms == 0 ? "-" :
		   cli_duration(e->duration_ms, dur, sizeof(dur));
	if (with_job)
		row[n++] = e->job_id;
	if ((rc = cli_table_add(t, row)) < 0)
		return rc;
	if (e->error[0] != '\0') {
		char line[ERROR_MAX + 16];
		snprintf(line, sizeof(line), "error: %s", e->error);
		if ((rc = cli_table_note(t, line)) < 0)
			return rc;
	}
	if (e->result[0] != '\0') {
		char line[RESULT_MAX + 16];
		if ((rc = cli_table_note(t, result_line(e->result, line,
							sizeof(line)))) < 0)
			return rc;
	}
	return 0;
}

static void
event_table_init(struct cli_table *t, bool with_job)
{
	static const char *const head[] = {"TIME", "EVENT", "ATT", "EXIT",
					   "DURATION", "JOB"};

	memset(t, 0, sizeof(*t));
	t->ncols = with_job ? 6 : 5;
	for (size_t i = 0; i < t->ncols; i++)
		t->head[i] = head[i];
	t->right[2] = t->right[3] = t->right[4] = true;
	/*
	 * The job id is never cut: it is what an admin copies into show,
	 * logs and retry --job. On a terminal too narrow for the table it
	 * goes under its row instead, as "job ID".
	 */
	t->own_line = with_job ? 6 : 0;
}

struct hist_walk {
	struct cli_table tab;
	json_t *arr;       /* --json */
	size_t limit;      /* 0: all */
	size_t n;
	bool with_job;
	int err;
	/*
	 * The provider's own events (its breaker), newest first, merged
	 * into a venue's history: they hold that venue's jobs too.
	 */
	struct event *pev;
	size_t npev, ipev, cappev;
};

static int
hist_visit(const struct event *e, void *arg)
{
	struct hist_walk *w = arg;

	if (w->arr != NULL) {
		json_t *o = cli_json_event(e);
		if (o == NULL || json_array_append_new(w->arr, o) < 0)
			w->err = -ENOMEM;
	} else {
		w->err = event_row(&w->tab, e, w->with_job);
	}
	if (w->err < 0)
		return 1;
	w->n++;
	return w->limit != 0 && w->n >= w->limit;
}

/* Keep a provider event (no venue, no job) for hist_merge(). */
static int
hist_collect(const struct event *e, void *arg)
{
	struct hist_walk *w = arg;
	struct event *v;

	if (e->job_id[0] != '\0')
		return 0;
	if (w->npev == w->cappev) {
		size_t cap = w->cappev ? w->cappev * 2 : 8;
		v = reallocarray(w->pev, cap, sizeof(*v));
		if (v == NULL) {
			w->err = -ENOMEM;
			return 1;
		}
		w->pev = v;
		w->cappev = cap;
	}
	w->pev[w->npev++] = *e;
	return w->limit != 0 && w->npev >= w->limit;
}

/* A venue's event, after the provider's events that are newer. */
static int
hist_merge(const struct event *e, void *arg)
{
	struct hist_walk *w = arg;

	while (w->ipev < w->npev &&
	       (e == NULL || w->pev[w->ipev].time >= e->time))
		if (hist_visit(&w->pev[w->ipev++], w) != 0)
			return 1;
	return e != NULL ? hist_visit(e, w) : 0;
}

int
cmd_history(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"venue", required_argument, NULL, 'v'},
		{"limit", required_argument, NULL, 'l'},
		{"since", required_argument, NULL, 's'},
		{"job", required_argument, NULL, 'J'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *venue = NULL, *job = NULL, *provider = NULL;
	struct hist_walk w;
	uint64_t limit = 20;
	int64_t since = 0;
	char clean[256];
	bool json = false, limit_set = false, since_set = false;
	int ch, rc;

	memset(&w, 0, sizeof(w));
	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (ch) {
		case 'v':
			venue = optarg;
			break;
		case 'l':
			cli_clean(optarg, clean, sizeof(clean));
			if (util_parse_uint(optarg, 1000000000, &limit) < 0)
				return cli_usage_error("history", "history: "
						       "invalid --limit '%s': "
						       "expected a count (0: "
						       "no limit)", clean);
			limit_set = true;
			break;
		case 's':
			cli_clean(optarg, clean, sizeof(clean));
			if (util_time_parse(optarg, &since) < 0) {
				cli_warn("invalid --since '%s': expected an "
					 "RFC 3339 time such as "
					 "2025-01-02T03:00:00Z", clean);
				return EX_DATAERR;
			}
			since_set = true;
			break;
		case 'J':
			job = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind < argc)
		provider = argv[optind];
	if (optind + 1 < argc)
		return cli_extra_arg("history", argv[optind + 1]);
	if (job != NULL && (provider != NULL || venue != NULL || limit_set ||
			    since_set))
		return cli_usage_error("history", "history: --job takes no "
				       "provider, --venue, --limit or --since");
	if (job == NULL && provider == NULL)
		return cli_usage_error("history", "history: missing provider "
				       "(or --job)");
	if (job == NULL && venue == NULL)
		return cli_usage_error("history", "history: missing --venue");
	if (job != NULL && (rc = cli_check_id(job)) != EX_OK)
		return rc;
	if (venue != NULL && (rc = cli_check_venue(venue)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;

	w.limit = job != NULL ? 0 : (size_t)limit;
	w.with_job = job == NULL;
	if (json && (w.arr = json_array()) == NULL)
		return EX_OSERR;
	event_table_init(&w.tab, w.with_job);
	rc = 0;
	if (c->st != NULL) {
		if (job != NULL) {
			rc = store_job_history(c->st, job, hist_visit, &w);
		} else {
			rc = store_vp_history(c->st, provider, "", since,
					      hist_collect, &w);
			if (rc == -ENOENT)
				rc = 0;
			if (rc == 0 && w.err == 0)
				rc = store_vp_history(c->st, provider, venue,
						      since, hist_merge, &w);
			/* The provider's events older than any of the venue's. */
			if (rc == 0 && w.err == 0 &&
			    (w.limit == 0 || w.n < w.limit))
				hist_merge(NULL, &w);
		}
	}
	if (w.err < 0 || (rc < 0 && rc != -ENOENT)) {
		cli_warn("cannot read the history: %s",
			 strerror(w.err < 0 ? -w.err : -rc));
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (job != NULL && w.n == 0 && c->have_spool &&
	    cli_locate(c, job, STATE_PENDING) == STATE_NONE) {
		cli_warn("no such job %s", job);
		rc = EX_NOINPUT;
		goto out;
	}
	cli_note_stale(c);
	if (json) {
		rc = cli_json_print(w.arr);
		w.arr = NULL;
		goto out;
	}
	if (w.n == 0 && job != NULL)
		printf("no history for job %s yet\n", job);
	else if (w.n == 0)
		printf("no history for venue %s provider %s%s\n", venue,
		       cli_clean(provider, clean, sizeof(clean)),
		       since_set ? " in that time" : "");
	else
		cli_table_print(c, &w.tab, "");
	rc = EX_OK;
out:
	free(w.pev);
	json_decref(w.arr);
	cli_table_free(&w.tab);
	return rc;
}

/* ---- list ------------------------------------------------------------- */

struct list_walk {
	enum job_state state;  /* STATE_NONE: all */
	const char *provider, *venue;
	struct cli_table tab;
	json_t *arr;
	size_t n;
	int err;
};

static json_t *
json_jobrec(const struct jobrec *r)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "job_id", json_string(r->id));
	json_object_set_new(o, "state", json_string(state_name(r->state)));
	json_object_set_new(o, "venue_id", json_string(r->venue));
	json_object_set_new(o, "provider", json_string(r->provider));
	json_object_set_new(o, "sync_type", json_string(r->sync_type));
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "max_attempts", json_integer(r->max_attempts));
	json_object_set_new(o, "next_attempt", cli_json_time(r->next_attempt));
	json_object_set_new(o, "priority", json_integer(r->priority));
	json_object_set_new(o, "not_before", cli_json_time(r->not_before));
	json_object_set_new(o, "created", cli_json_time(r->created));
	json_object_set_new(o, "updated", cli_json_time(r->updated));
	json_object_set_new(o, "name", cli_json_str(r->name));
	return o;
}

static int
list_visit(const struct jobrec *r, void *arg)
{
	struct list_walk *w = arg;

	if ((w->state != STATE_NONE && r->state != w->state) ||
	    (w->provider != NULL && strcmp(r->provider, w->provider) != 0) ||
	    (w->venue != NULL && strcmp(r->venue, w->venue) != 0))
		return 0;
	if (w->arr != NULL) {
		json_t *o = json_jobrec(r);
		if (o == NULL || json_array_append_new(w->arr, o) < 0)
			w->err = -ENOMEM;
	} else {
		char att[32], next[RFC3339_LEN];
		const char *row[7];
		snprintf(att, sizeof(att), "%u/%u", r->attempts,
			 r->max_attempts);
		row[0] = r->id;
		row[1] = state_name(r->state);
		row[2] = r->venue;
		row[3] = r->provider;
		row[4] = r->sync_type;
		row[5] = att;
		/* A pending job runs at its back-off or not_before, later. */
		int64_t at = r->next_attempt > r->not_before ?
			     r->next_attempt : r->not_before;
		row[6] = r->state != STATE_PENDING ? "-" :
			 at <= util_now_ms() ? "now" : cli_time(at, next);
		w->err = cli_table_add(&w->tab, row);
	}
	w->n++;
	return w->err < 0;
}

int
cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"state", required_argument, NULL, 's'},
		{"provider", required_argument, NULL, 'p'},
		{"venue", required_argument, NULL, 'v'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct list_walk w = {
		.tab = {
			.ncols = 7,
			.head = {"ID", "STATE", "VENUE", "PROVIDER", "TYPE",
				 "ATTEMPTS", "NEXT"},
			.right = {[5] = true},
			/* Never the id: see event_table_init(). */
			.cut = {false, false, true, true, true},
			.own_line = 1,
		},
	};
	char clean[256];
	bool json = false;
	int ch, rc;

	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (ch) {
		case 's':
			w.state = state_from_name(optarg);
			cli_clean(optarg, clean, sizeof(clean));
			if (w.state == STATE_NONE)
				return cli_usage_error("list", "list: invalid "
						       "--state '%s': expected "
						       "pending, processing, "
						       "completed, failed or "
						       "paused", clean);
			break;
		case 'p':
			w.provider = optarg;
			break;
		case 'v':
			w.venue = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return cli_extra_arg("list", argv[optind]);
	if (w.venue != NULL && (rc = cli_check_venue(w.venue)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;
	if (json && (w.arr = json_array()) == NULL)
		return EX_OSERR;
	rc = 0;
	if (c->st != NULL) {
		/* Both given: that venue+provider's keys only, no full walk. */
		if (w.provider != NULL && w.venue != NULL)
			rc = store_vp_jobs(c->st, w.provider, w.venue,
					   list_visit, &w);
		else
			rc = store_jobs(c->st, list_visit, &w);
	}
	if (w.err < 0 || (rc < 0 && rc != -ENOENT)) {
		cli_warn("cannot read the index: %s",
			 strerror(w.err < 0 ? -w.err : -rc));
		rc = EX_UNAVAILABLE;
		goto out;
	}
	cli_note_stale(c);
	if (json) {
		rc = cli_json_print(w.arr);
		w.arr = NULL;
		goto out;
	}
	if (w.n == 0)
		printf(w.state == STATE_NONE && w.provider == NULL &&
		       w.venue == NULL ? "the queue is empty\n"
				       : "no jobs match\n");
	else
		cli_table_print(c, &w.tab, "");
	rc = EX_OK;
out:
	json_decref(w.arr);
	cli_table_free(&w.tab);
	return rc;
}

/* ---- show ------------------------------------------------------------- */

#define SHOW_EVENTS_MAX 1000
#define SHOW_LOG_LINES 20
#define SHOW_LOG_BYTES (64 * 1024)

struct events {
	struct event *v;
	size_t n, cap;
	int err;
};

/* Newest first from the index: kept, then shown oldest first. */
static int
events_visit(const struct event *e, void *arg)
{
	struct events *ev = arg;

	if (ev->n == ev->cap) {
		size_t cap = ev->cap == 0 ? 16 : ev->cap * 2;
		struct event *v = realloc(ev->v, cap * sizeof(*v));
		if (v == NULL) {
			ev->err = -ENOMEM;
			return 1;
		}
		ev->v = v;
		ev->cap = cap;
	}
	ev->v[ev->n++] = *e;
	return ev->n >= SHOW_EVENTS_MAX;
}

/*
 * The last SHOW_LOG_LINES lines of logs/<id>.log, malloc'd into *out
 * (NULL when there is no log). 0 or a negative errno.
 */
static int
log_tail(struct cli *c, const char *id, char **out)
{
	char name[ID_MAX + 8];
	struct stat st;
	char *buf = NULL;
	off_t from;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	snprintf(name, sizeof(name), "%s.log", id);
	fd = openat(c->sp.logs_fd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto fail;
	}
	from = st.st_size > SHOW_LOG_BYTES ? st.st_size - SHOW_LOG_BYTES : 0;
	buf = malloc(SHOW_LOG_BYTES + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	n = pread(fd, buf, SHOW_LOG_BYTES, from);
	if (n < 0) {
		rc = -errno;
		goto fail;
	}
	buf[n] = '\0';
	close(fd);
	/* Back from the end over SHOW_LOG_LINES newlines. */
	size_t end = (size_t)n, lines = 0, start = end;
	if (end > 0 && buf[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && lines < SHOW_LOG_LINES) {
		start--;
		if (buf[start] == '\n' && ++lines == SHOW_LOG_LINES) {
			start++;
			break;
		}
	}
	memmove(buf, buf + start, (size_t)n - start);
	buf[(size_t)n - start] = '\0';
	*out = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* What the index does not know yet: read from the file itself. */
static void
show_from_file(struct cli *c, enum job_state where, const char *id,
	       struct jobrec *r)
{
	char name[ID_MAX + 8], err[ERRLEN], *buf = NULL;
	struct stat st;
	struct job job;
	size_t len;

	jobrec_init(r);
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->state = where;
	spool_id_to_name(id, name);
	snprintf(r->name, sizeof(r->name), "%s", name);
	memset(&job, 0, sizeof(job));
	if (spool_read_job(&c->sp, where, name, JOB_MAX_SIZE, &buf, &len, &st,
			   err, sizeof(err)) == 0 &&
	    job_parse(buf, len, &job, err, sizeof(err)) == 0) {
		snprintf(r->venue, sizeof(r->venue), "%s", job.venue_id);
		snprintf(r->provider, sizeof(r->provider), "%s", job.provider);
		snprintf(r->sync_type, sizeof(r->sync_type), "%s",
			 job.sync_type);
		r->priority = job.priority;
		r->not_before = job.not_before;
		r->max_attempts = job.max_attempts;
		r->ino = (uint64_t)st.st_ino;
	}
	job_free(&job);
	free(buf);
}

static int
show_json(struct cli *c, const struct jobrec *r, bool indexed,
	  enum job_state where, const struct events *ev, const char *tail)
{
	char path[4096];
	json_t *o = json_jobrec(r), *events = json_array();

	if (o == NULL || events == NULL) {
		json_decref(o);
		json_decref(events);
		return cli_json_print(NULL);
	}
	json_object_set_new(o, "state", json_string(state_name(where)));
	json_object_set_new(o, "indexed", json_boolean(indexed));
	json_object_set_new(o, "indexed_state", indexed ?
			    json_string(state_name(r->state)) : json_null());
	snprintf(path, sizeof(path), "%s/%s/%s.yaml", c->sp.path,
		 state_name(where), r->id);
	json_object_set_new(o, "file", cli_json_str(path));
	json_object_set_new(o, "ino", json_integer((json_int_t)r->ino));
	json_object_set_new(o, "pid", r->pid == 0 ? json_null() :
			    json_integer(r->pid));
	json_object_set_new(o, "pid_start", r->pid == 0 ? json_null() :
			    json_integer((json_int_t)r->pid_start));
	json_object_set_new(o, "boot_id", r->boot_id[0] == '\0' ?
			    json_null() : cli_json_str(r->boot_id));
	json_object_set_new(o, "last_exit", r->last_exit < 0 ? json_null() :
			    json_integer(r->last_exit));
	json_object_set_new(o, "last_signal", r->last_signal == 0 ?
			    json_null() : json_integer(r->last_signal));
	json_object_set_new(o, "last_error", r->last_error[0] == '\0' ?
			    json_null() : cli_json_str(r->last_error));
	for (size_t i = ev->n; i-- > 0;)
		json_array_append_new(events, cli_json_event(&ev->v[i]));
	json_object_set_new(o, "events", events);
	snprintf(path, sizeof(path), "%s/logs/%s.log", c->sp.path, r->id);
	json_object_set_new(o, "log", cli_json_str(path));
	json_object_set_new(o, "log_tail", tail == NULL ? json_null() :
			    cli_json_str(tail));
	return cli_json_print(o);
}

static int
show_human(struct cli *c, const struct jobrec *r, bool indexed,
	   enum job_state where, const struct events *ev, const char *tail)
{
	char t[RFC3339_LEN], b[64], clean[NAME_MAX_LEN * 4 + 1];
	struct cli_table tab;
	int rc = EX_OK;

	printf("job           %s\n", r->id);
	printf("file          %s/%s/%s.yaml\n", c->sp.path, state_name(where),
	       r->id);
	if (!indexed)
		printf("state         %s (not in the index yet)\n",
		       state_name(where));
	else if (r->state != where)
		printf("state         %s (the index says %s: syncspoold has "
		       "not recorded the move yet)\n", state_name(where),
		       state_name(r->state));
	else
		printf("state         %s\n", state_name(where));
	printf("uploaded as   %s\n", cli_clean(r->name, clean, sizeof(clean)));
	printf("venue         %s\n", r->venue);
	printf("provider      %s\n", r->provider);
	printf("sync type     %s\n", r->sync_type);
	printf("priority      %lld\n", (long long)r->priority);
	printf("created       %s\n", cli_time(r->created, t));
	printf("updated       %s\n", cli_time(r->updated, t));
	printf("not before    %s\n", cli_time(r->not_before, t));
	printf("next attempt  %s\n", cli_time(r->next_attempt, t));
	if (r->max_attempts != 0)
		printf("attempts      %u of %u\n", r->attempts, r->max_attempts);
	else
		printf("attempts      %u\n", r->attempts);
	if (r->pid != 0)
		printf("handler       pid %d\n", (int)r->pid);
	printf("last exit     %s\n", cli_exit(r->last_exit, r->last_signal, b,
					     sizeof(b)));
	if (r->last_error[0] != '\0')
		printf("last error    %s\n",
		       cli_clean(r->last_error, clean, sizeof(clean)));

	printf("\nevents, oldest first:\n");
	event_table_init(&tab, false);
	for (size_t i = ev->n; i-- > 0 && rc == EX_OK;)
		if (event_row(&tab, &ev->v[i], false) < 0)
			rc = EX_OSERR;
	if (ev->n == 0)
		printf("  none yet\n");
	else
		cli_table_print(c, &tab, "  ");
	cli_table_free(&tab);

	if (tail == NULL) {
		printf("\nno output: its handler has printed nothing (there is "
		       "no %s/logs/%s.log)\n", c->sp.path, r->id);
		return rc;
	}
	printf("\nlog, last lines of %s/logs/%s.log:\n", c->sp.path, r->id);
	for (const char *p = tail; *p != '\0';) {
		char line[1024], buf[4096];
		size_t n = strcspn(p, "\n");
		size_t k = n < sizeof(line) ? n : sizeof(line) - 1;
		memcpy(line, p, k);
		line[k] = '\0';
		printf("  %s\n", cli_fit(c, line, c->width - 2, buf,
					 sizeof(buf)));
		p += n;
		if (*p == '\n')
			p++;
	}
	return rc;
}

int
cmd_show(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct events ev;
	struct jobrec r;
	enum job_state where;
	bool json = false, indexed = false;
	char *tail = NULL;
	const char *id;
	int ch, rc;

	memset(&ev, 0, sizeof(ev));
	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'h':
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("show", "show: missing job id");
	if (optind + 1 < argc)
		return cli_extra_arg("show", argv[optind + 1]);
	id = argv[optind];
	if ((rc = cli_check_id(id)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;
	if (c->st != NULL) {
		rc = store_job_get(c->st, id, &r);
		if (rc < 0 && rc != -ENOENT) {
			cli_warn("cannot read the index: %s", strerror(-rc));
			return EX_UNAVAILABLE;
		}
		indexed = rc == 0;
	}
	where = cli_locate(c, id, indexed ? r.state : STATE_PENDING);
	if (where == STATE_NONE) {
		if (indexed)
			cli_warn("no such job %s: its file is in no spool "
				 "directory (the index last saw it %s)", id,
				 state_name(r.state));
		else
			cli_warn("no such job %s", id);
		return EX_NOINPUT;
	}
	if (!indexed)
		show_from_file(c, where, id, &r);
	if (c->st != NULL) {
		rc = store_job_history(c->st, id, events_visit, &ev);
		if (ev.err < 0 || (rc < 0 && rc != -ENOENT)) {
			cli_warn("cannot read the history: %s",
				 strerror(ev.err < 0 ? -ev.err : -rc));
			free(ev.v);
			return EX_UNAVAILABLE;
		}
	}
	rc = log_tail(c, id, &tail);
	if (rc < 0)
		cli_warn("cannot read %s/logs/%s.log: %s", c->sp.path, id,
			 strerror(-rc));
	cli_note_stale(c);
	rc = json ? show_json(c, &r, indexed, where, &ev, tail)
		  : show_human(c, &r, indexed, where, &ev, tail);
	free(ev.v);
	free(tail);
	return rc;
}

/* ---- stats ---- */

/* One sample of the metrics file: name, labels, value. */
struct sample {
	char name[64];
	char provider[TOKEN_MAX + 1];
	char label2[32];   /* state, reason or le */
	double value;
};

static bool
sample_parse(const char *line, struct sample *sm)
{
	const char *brace = strchr(line, '{'), *sp;

	memset(sm, 0, sizeof(*sm));
	if (line[0] == '#' || line[0] == '\n')
		return false;
	sp = brace != NULL ? strchr(brace, '}') : strchr(line, ' ');
	if (sp == NULL)
		return false;
	snprintf(sm->name, sizeof(sm->name), "%.*s",
		 (int)((brace != NULL ? brace : sp) - line), line);
	if (brace != NULL) {
		const char *pv = strstr(brace, "provider=\"");
		const char *l2 = strstr(brace, "state=\"");
		if (l2 == NULL)
			l2 = strstr(brace, "reason=\"");
		if (pv != NULL)
			sscanf(pv, "provider=\"%64[^\"]\"", sm->provider);
		if (l2 != NULL)
			sscanf(strchr(l2, '"'), "\"%31[^\"]\"", sm->label2);
		sp++;
	}
	return sscanf(sp, " %lf", &sm->value) == 1;
}

/* The metrics file's failure reasons, in the order stats prints them. */
static const char *const stat_reasons[] = {
	"exit", "signal", "timeout", "invalid", "expired",
};
#define NREASONS (sizeof(stat_reasons) / sizeof(stat_reasons[0]))

struct stat_row {
	char provider[TOKEN_MAX + 1];
	double jobs[STATE_COUNT], attempts, retries, failures, dsum, dcount;
	double oldest, breaker;
	double by_reason[NREASONS];
};

int
cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct stat_row rows[64];
	size_t nrows = 0;
	double space = -1, inodes = -1;
	char line[512], b[64];
	struct stat st;
	FILE *f;
	int ch, rc;

	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (ch == 'h')
			return EX_OK;
		return EX_USAGE;
	}
	if (optind < argc)
		return cli_extra_arg("stats", argv[optind]);
	if ((rc = cli_open(c, NEED_CONFIG)) != EX_OK)
		return rc;
	if (c->cfg.metrics == NULL) {
		cli_warn("metrics are off: set `metrics: PATH` in %s and "
			 "reload syncspoold", c->config_path);
		return EX_UNAVAILABLE;
	}
	f = fopen(c->cfg.metrics, "re");
	if (f == NULL || fstat(fileno(f), &st) < 0) {
		cli_warn("cannot read %s: %s (syncspoold writes it every five "
			 "seconds while it runs)", c->cfg.metrics,
			 strerror(errno));
		if (f != NULL)
			fclose(f);
		return EX_UNAVAILABLE;
	}
	memset(rows, 0, sizeof(rows));
	while (fgets(line, sizeof(line), f) != NULL) {
		struct sample sm;
		struct stat_row *r = NULL;

		if (!sample_parse(line, &sm))
			continue;
		if (strcmp(sm.name, "syncspool_free_space_ratio") == 0)
			space = sm.value;
		if (strcmp(sm.name, "syncspool_free_inodes_ratio") == 0)
			inodes = sm.value;
		if (strncmp(line, "syncspool_", 10) != 0 ||
		    strstr(line, "provider=") == NULL)
			continue;
		for (size_t i = 0; i < nrows; i++)
			if (strcmp(rows[i].provider, sm.provider) == 0)
				r = &rows[i];
		if (r == NULL && nrows < sizeof(rows) / sizeof(rows[0])) {
			r = &rows[nrows++];
			snprintf(r->provider, sizeof(r->provider), "%s",
				 sm.provider);
		}
		if (r == NULL)
			continue;
		if (strcmp(sm.name, "syncspool_jobs") == 0)
			r->jobs[state_from_name(sm.label2)] = sm.value;
		else if (strcmp(sm.name, "syncspool_attempts_total") == 0)
			r->attempts = sm.value;
		else if (strcmp(sm.name, "syncspool_retries_total") == 0)
			r->retries = sm.value;
		else if (strcmp(sm.name, "syncspool_failures_total") == 0) {
			r->failures += sm.value;
			for (size_t k = 0; k < NREASONS; k++)
				if (strcmp(sm.label2, stat_reasons[k]) == 0)
					r->by_reason[k] += sm.value;
		}
		else if (strcmp(sm.name,
				"syncspool_handler_duration_seconds_sum") == 0)
			r->dsum = sm.value;
		else if (strcmp(sm.name,
				"syncspool_handler_duration_seconds_count") == 0)
			r->dcount = sm.value;
		else if (strcmp(sm.name,
				"syncspool_oldest_pending_seconds") == 0)
			r->oldest = sm.value;
		else if (strcmp(sm.name, "syncspool_breaker_open") == 0)
			r->breaker = sm.value;
	}
	fclose(f);
	printf("metrics of %s, written %s ago\n", c->cfg.metrics,
	       cli_duration((uint64_t)(util_now_ms() -
				       ((int64_t)st.st_mtim.tv_sec * 1000 +
					st.st_mtim.tv_nsec / 1000000)),
			    b, sizeof(b)));
	if (space >= 0)
		printf("space    %.0f%% free, %.0f%% inodes free\n",
		       space * 100, inodes * 100);
	printf("\n");

	struct cli_table tab = {
		.ncols = 10,
		.head = {"PROVIDER", "PENDING", "RUNNING", "DONE", "FAILED",
			 "PAUSED", "ATTEMPTS", "RETRIES", "AVG RUN", "OLDEST"},
		.right = {false, true, true, true, true, true, true, true, true,
			  true},
		.cut = {true},
	};
	for (size_t i = 0; i < nrows; i++) {
		const struct stat_row *r = &rows[i];
		char cells[10][TOKEN_MAX + 16];
		const char *row[10];
		snprintf(cells[0], sizeof(cells[0]), "%.64s%s",
			 r->provider[0] != '\0' ? r->provider : "(none)",
			 r->breaker > 0 ? " (breaker)" : "");
		for (int k = STATE_PENDING; k < STATE_COUNT; k++)
			snprintf(cells[k], sizeof(cells[k]), "%.0f", r->jobs[k]);
		snprintf(cells[6], sizeof(cells[6]), "%.0f", r->attempts);
		snprintf(cells[7], sizeof(cells[7]), "%.0f", r->retries);
		if (r->dcount > 0)
			cli_duration((uint64_t)(r->dsum / r->dcount * 1000),
				     cells[8], sizeof(cells[8]));
		else
			snprintf(cells[8], sizeof(cells[8]), "-");
		if (r->oldest > 0)
			cli_duration((uint64_t)(r->oldest * 1000), cells[9],
				     sizeof(cells[9]));
		else
			snprintf(cells[9], sizeof(cells[9]), "-");
		for (int k = 0; k < 10; k++)
			row[k] = cells[k];
		if (cli_table_add(&tab, row) < 0)
			break;
	}
	cli_table_print(c, &tab, "");
	cli_table_free(&tab);
	for (size_t i = 0; i < nrows; i++) {
		const char *sep = " (";
		if (rows[i].failures <= 0)
			continue;
		printf("%s: %.0f failed attempts or invalid files since "
		       "syncspoold started",
		       rows[i].provider[0] ? rows[i].provider : "(none)",
		       rows[i].failures);
		for (size_t k = 0; k < NREASONS; k++) {
			if (rows[i].by_reason[k] <= 0)
				continue;
			printf("%s%s %.0f", sep, stat_reasons[k],
			       rows[i].by_reason[k]);
			sep = ", ";
		}
		printf("%s\n", sep[0] == ',' ? ")" : "");
	}
	return EX_OK;
}

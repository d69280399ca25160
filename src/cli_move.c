/*
 * cli_move.c - the commands that move job files: trigger, stop, resume
 * and retry.
 *
 * trigger writes a new job file into pending (spool_write_new(): a dot
 * name, fsync, rename into view, fsync of pending) under a name that is
 * already a stamped id, which the daemon keeps. stop, resume and retry
 * only rename files between state directories with RENAME_NOREPLACE;
 * the daemon sees the move and records what it means (paused, cancelled,
 * resumed, retried with attempts reset to 0), now or at its next start.
 *
 * Which files belong to a venue+provider: with the daemon running, its
 * index says (store_vp_jobs(): that venue+provider's keys only), and a
 * look at the names in the source directories adds what the daemon has
 * not indexed yet: a file `trigger` wrote a moment ago (its name is a
 * stamped id beginning with "<venue>-<provider>."), and uploads not yet
 * accepted (not stamped at all, so few). Only those files are read; the
 * other venues' stamped files are passed over by name. With the daemon
 * stopped the index may lag the directories by any amount, so every job
 * file in the source directories is read and parsed.
 *
 * The daemon moves files too. A file that is gone from where we looked
 * when we move it was moved by the daemon first: that is no error, and
 * it is not reported, except that a job gone from pending during a stop
 * is looked for in processing, where the daemon may just have claimed it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"

/* ---- trigger ---------------------------------------------------------- */

/* Write s as a YAML double-quoted scalar; -EINVAL when not UTF-8. */
static int
yaml_quote(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p != '\0') {
		uint32_t cp = 0;
		size_t n;

		if (p[0] < 0x80) {
			cp = p[0], n = 1;
		} else if ((p[0] & 0xe0) == 0xc0) {
			cp = p[0] & 0x1f, n = 2;
		} else if ((p[0] & 0xf0) == 0xe0) {
			cp = p[0] & 0x0f, n = 3;
		} else if ((p[0] & 0xf8) == 0xf0) {
			cp = p[0] & 0x07, n = 4;
		} else {
			return -EINVAL;
		}
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -EINVAL;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -EINVAL;
		/*
		 * Escape what YAML would not keep as is inside quotes: the
		 * quote and backslash, controls (C0, DEL, C1), the line
		 * breaks NEL, LS and PS (which would be folded), the BOM
		 * and the non-characters U+FFFE and U+FFFF.
		 */
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (int)cp);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			fprintf(f, "\\x%02x", (unsigned)cp);
		else if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
			 cp == 0xfffe || cp == 0xffff)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else
			fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
	return 0;
}

struct trigger {
	const char *provider;
	const char *venue;
	const char *type;
	struct cli_strv keys, values;
	int64_t priority;
	bool has_priority;
	int64_t not_before;
};

static bool
option_key_valid(const char *k, size_t n)
{
	if (n == 0 || n > JOB_OPTION_KEY_MAX ||
	    !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') ||
	      k[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = k[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* --option KEY=VALUE: returns EX_OK or EX_DATAERR (said why). */
static int
trigger_option(struct trigger *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[JOB_OPTION_KEY_MAX + 1], clean[256];
	size_t n;

	if (eq == NULL) {
		cli_warn("invalid --option '%s': expected KEY=VALUE",
			 cli_clean(arg, clean, sizeof(clean)));
		return EX_DATAERR;
	}
	n = (size_t)(eq - arg);
	if (!option_key_valid(arg, n)) {
		cli_clean(arg, clean, sizeof(clean));
		cli_warn("invalid --option key '%.*s': a key is 1 to %d of "
			 "[A-Za-z0-9_], not starting with a digit (it becomes "
			 "the handler's SYNCSPOOL_OPTION_<KEY>)",
			 (int)(n < 64 ? n : 64), clean, JOB_OPTION_KEY_MAX);
		return EX_DATAERR;
	}
	memcpy(key, arg, n);
	key[n] = '\0';
	if (cli_strv_has(&t->keys, key)) {
		cli_warn("--option %s given twice: give each key once", key);
		return EX_DATAERR;
	}
	if (strlen(eq + 1) > JOB_OPTION_VALUE_MAX) {
		cli_warn("--option %s: the value is longer than %d bytes", key,
			 JOB_OPTION_VALUE_MAX);
		return EX_DATAERR;
	}
	if (t->keys.n >= JOB_MAX_OPTIONS) {
		cli_warn("too many --option: at most %d", JOB_MAX_OPTIONS);
		return EX_DATAERR;
	}
	if (cli_strv_add(&t->keys, key) < 0 ||
	    cli_strv_add(&t->values, eq + 1) < 0) {
		cli_warn("out of memory");
		return EX_OSERR;
	}
	return EX_OK;
}

/*
 * The job file's text, malloc'd into *text. Every string is quoted, so
 * no value can turn into another type or into YAML structure.
 */
static int
trigger_yaml(const struct trigger *t, char **text, size_t *len)
{
	char tbuf[RFC3339_LEN];
	FILE *f;
	int rc = 0;

	*text = NULL;
	f = open_memstream(text, len);
	if (f == NULL)
		return -errno;
	fputs("venue_id: ", f);
	rc |= yaml_quote(f, t->venue);
	fputs("\nprovider: ", f);
	rc |= yaml_quote(f, t->provider);
	fputs("\nsync_type: ", f);
	rc |= yaml_quote(f, t->type);
	fputc('\n', f);
	if (t->has_priority)
		fprintf(f, "priority: %lld\n", (long long)t->priority);
	if (t->not_before != 0)
		fprintf(f, "not_before: %s\n",
			util_time_format(t->not_before, tbuf));
	if (t->keys.n > 0)
		fputs("options:\n", f);
	for (size_t i = 0; i < t->keys.n; i++) {
		fputs("  ", f);
		rc |= yaml_quote(f, t->keys.v[i]);
		fputs(": ", f);
		rc |= yaml_quote(f, t->values.v[i]);
		fputc('\n', f);
	}
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc < 0 ? -EINVAL : 0;
}

/*
 * Parse what we are about to write with the daemon's own parser and see
 * that it reads back as meant: a file trigger writes is never one the
 * daemon fails as invalid.
 */
static int
trigger_verify(const struct trigger *t, const char *text, size_t len)
{
	char err[ERRLEN];
	struct job job;
	int rc = EX_OK;

	memset(&job, 0, sizeof(job));
	if (job_parse(text, len, &job, err, sizeof(err)) < 0) {
		cli_warn("the job would not be valid: %s", err);
		return EX_DATAERR;
	}
	bool same = strcmp(job.venue_id, t->venue) == 0 &&
		    strcmp(job.provider, t->provider) == 0 &&
		    strcmp(job.sync_type, t->type) == 0 &&
		    job.priority == t->priority &&
		    job.not_before == t->not_before &&
		    job.noptions == t->keys.n;
	for (size_t i = 0; same && i < job.noptions; i++) {
		size_t k = 0;
		while (k < t->keys.n &&
		       strcmp(t->keys.v[k], job.options[i].key) != 0)
			k++;
		same = k < t->keys.n &&
		       strcmp(t->values.v[k], job.options[i].value) == 0;
	}
	if (!same) {
		cli_warn("internal error: the job file written for these "
			 "arguments does not read back the same; please "
			 "report it with the command line");
		rc = EX_SOFTWARE;
	}
	job_free(&job);
	return rc;
}

static int
trigger_args(struct cli *c, int argc, char **argv, struct trigger *t)
{
	static const struct option longopts[] = {
		{"venue", required_argument, NULL, 'v'},
		{"type", required_argument, NULL, 't'},
		{"option", required_argument, NULL, 'o'},
		{"priority", required_argument, NULL, 'p'},
		{"not-before", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char clean[256];
	int ch, rc;

	t->type = "full";
	while ((ch = cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (ch) {
		case 'v':
			t->venue = optarg;
			break;
		case 't':
			t->type = optarg;
			break;
		case 'o':
			/* Checked after the usage: errors come in order. */
			if (cli_strv_add(&t->values, optarg) < 0)
				return EX_OSERR;
			break;
		case 'p':
			cli_clean(optarg, clean, sizeof(clean));
			if (util_parse_int(optarg, INT32_MIN, INT32_MAX,
					   &t->priority) < 0) {
				cli_warn("invalid --priority '%s': expected an "
					 "integer, higher runs first", clean);
				return EX_DATAERR;
			}
			t->has_priority = true;
			break;
		case 'n':
			cli_clean(optarg, clean, sizeof(clean));
			if (util_time_parse(optarg, &t->not_before) < 0 ||
			    t->not_before <= 0) {
				cli_warn("invalid --not-before '%s': expected "
					 "an RFC 3339 time such as "
					 "2025-01-02T03:00:00Z", clean);
				return EX_DATAERR;
			}
			break;
		case 'h':
			return -1;
		default:
			return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("trigger", "trigger: missing provider");
	if (optind + 1 < argc)
		return cli_extra_arg("trigger", argv[optind + 1]);
	t->provider = argv[optind];
	if (t->venue == NULL)
		return cli_usage_error("trigger", "trigger: missing --venue");

	/* The options as given, split into keys and values. */
	struct cli_strv raw = t->values;
	memset(&t->values, 0, sizeof(t->values));
	rc = EX_OK;
	for (size_t i = 0; i < raw.n && rc == EX_OK; i++)
		rc = trigger_option(t, raw.v[i]);
	cli_strv_free(&raw);
	if (rc != EX_OK)
		return rc;
	if ((rc = cli_check_venue(t->venue)) != EX_OK)
		return rc;
	if (!util_name_valid(t->type, TOKEN_MAX)) {
		cli_warn("invalid --type '%s': a sync type is 1 to %d of "
			 "[A-Za-z0-9._-], starting with a letter or digit",
			 cli_clean(t->type, clean, sizeof(clean)), TOKEN_MAX);
		return EX_DATAERR;
	}
	if ((rc = cli_open(c, NEED_CONFIG)) != EX_OK)
		return rc;
	return cli_check_provider(c, t->provider, NULL);
}

/* The readable part of the ids trigger makes: "<venue>-<provider>". */
static void
trigger_stem(const char *venue, const char *provider, char stem[ID_MAX + 1])
{
	char vp[VENUE_MAX + TOKEN_MAX + 2];

	snprintf(vp, sizeof(vp), "%s-%s", venue, provider);
	spool_stem(vp, stem);
}

int
cmd_trigger(struct cli *c, int argc, char **argv)
{
	struct trigger t;
	char err[ERRLEN], stem[ID_MAX + 1];
	char id[ID_MAX + 1], name[ID_MAX + 8];
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = trigger_args(c, argc, argv, &t);
	if (rc != EX_OK)
		goto out;
	if (trigger_yaml(&t, &text, &len) < 0) {
		cli_warn("--option values must be UTF-8 text");
		rc = EX_DATAERR;
		goto out;
	}
	if ((rc = trigger_verify(&t, text, len)) != EX_OK)
		goto out;
	if ((rc = cli_open(c, NEED_SPOOL)) != EX_OK)
		goto out;

	/*
	 * A stamped id as the name: the daemon keeps it as the job's id,
	 * so the id printed here is the one every other command knows.
	 */
	trigger_stem(t.venue, t.provider, stem);
	for (int tries = 0;; tries++) {
		uint32_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)getpid() ^ (uint32_t)util_mono_ms();
		spool_id_make(stem, util_now_ms(), rnd, id);
		spool_id_to_name(id, name);
		int wr = spool_write_new(&c->sp, name, text, len, err,
					 sizeof(err));
		if (wr == 0)
			break;
		if (wr == -EEXIST && tries < 16)
			continue; /* same second, same 16 random bits */
		cli_warn("%s", err);
		cli_warn("cannot queue the job in %s/pending: check that it "
			 "exists and that you may write to it",
			 c->sp.path);
		rc = EX_CANTCREAT;
		goto out;
	}
	printf("%s\n", id);
	if (c->daemon == 0)
		cli_warn("syncspoold is not running on %s: the job waits in "
			 "pending until it starts", c->sp.path);
	rc = EX_OK;
out:
	free(text);
	cli_strv_free(&t.keys);
	cli_strv_free(&t.values);
	return rc == -1 ? EX_OK : rc;
}

/* ---- stop, resume, retry --------------------------------------------- */

/* What one of the three commands does. */
struct move_spec {
	const char *cmd;
	enum job_state from[2]; /* tried in this order; STATE_NONE: unused */
	enum job_state to;
	const char *done[2];    /* printed per source state, with the id */
	const char *nothing;    /* "nothing to stop" */
};

static const struct move_spec spec_stop = {
	"stop", {STATE_PENDING, STATE_PROCESSING}, STATE_PAUSED,
	{"paused %s", "cancelled %s (was running)"}, "nothing to stop",
};
static const struct move_spec spec_resume = {
	"resume", {STATE_PAUSED, STATE_NONE}, STATE_PENDING,
	{"resumed %s", NULL}, "nothing to resume",
};
static const struct move_spec spec_retry = {
	"retry", {STATE_FAILED, STATE_NONE}, STATE_PENDING,
	{"retried %s", NULL}, "nothing to retry",
};

/* A file to move, and the directory it was last seen in. */
struct cand {
	char name[NAME_MAX_LEN + 1];
	enum job_state where;
};

struct cands {
	const struct move_spec *spec;
	const char *provider, *venue;
	char stem[ID_MAX + 1];  /* of the ids trigger makes for them */
	struct cand *v;
	size_t n, cap;
	int err; /* -ENOMEM while collecting */
};

static bool
spec_from(const struct move_spec *m, enum job_state s)
{
	return s != STATE_NONE && (m->from[0] == s || m->from[1] == s);
}

static bool
cands_has(const struct cands *cs, const char *name)
{
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(cs->v[i].name, name) == 0)
			return true;
	return false;
}

static int
cands_add(struct cands *cs, const char *name, enum job_state where)
{
	if (cands_has(cs, name))
		return 0;
	if (strlen(name) > NAME_MAX_LEN)
		return 0;
	if (cs->n == cs->cap) {
		size_t cap = cs->cap == 0 ? 16 : cs->cap * 2;
		struct cand *v = realloc(cs->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	snprintf(cs->v[cs->n].name, sizeof(cs->v[cs->n].name), "%s", name);
	cs->v[cs->n].where = where;
	cs->n++;
	return 0;
}

static int
cands_from_index(const struct jobrec *r, void *arg)
{
	struct cands *cs = arg;
	char name[ID_MAX + 8];

	if (!spec_from(cs->spec, r->state))
		return 0;
	spool_id_to_name(r->id, name);
	cs->err = cands_add(cs, name, r->state);
	return cs->err < 0;
}

/*
 * May the file called name be the venue+provider's, judging by the name
 * and the index alone? A stamped id of another stem is not, once the
 * index says whose it is. The daemon renames an upload to its stamped id
 * a moment before it commits the record, so an id the index does not
 * know yet is read like any other file.
 */
static bool
cands_name_may_match(struct cli *c, const struct cands *cs, const char *name)
{
	char id[ID_MAX + 1];
	size_t n = strlen(cs->stem);
	struct jobrec r;

	if (spool_name_to_id(name, id) < 0 || !spool_id_stamped(id))
		return true;
	if (strncmp(id, cs->stem, n) == 0 && id[n] == '.')
		return true;
	if (store_job_get(c->st, id, &r) < 0)
		return true;
	return strcmp(r.venue, cs->venue) == 0 &&
	       strcmp(r.provider, cs->provider) == 0;
}

/*
 * Read directory s and add every job file of the venue+provider (quick:
 * only those whose name may match). A file that is not a job (yet) is
 * not ours to move, and is passed over.
 */
static int
cands_scan(struct cli *c, struct cands *cs, enum job_state s, bool quick)
{
	char err[ERRLEN];
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	fd = openat(c->sp.dir_fd[s], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		cli_warn("cannot read %s/%s: %s", c->sp.path, state_name(s),
			 strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		struct job job;
		struct stat st;
		char *buf = NULL;
		size_t len;

		if (spool_name_ignored(de->d_name) ||
		    (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) ||
		    (quick && !cands_name_may_match(c, cs, de->d_name)))
			continue;
		/* The index has said whose it is: no need to read it. */
		if (cands_has(cs, de->d_name))
			continue;
		if (spool_read_job(&c->sp, s, de->d_name, JOB_MAX_SIZE, &buf,
				   &len, &st, err, sizeof(err)) < 0)
			continue;
		memset(&job, 0, sizeof(job));
		if (job_parse(buf, len, &job, err, sizeof(err)) == 0 &&
		    strcmp(job.venue_id, cs->venue) == 0 &&
		    strcmp(job.provider, cs->provider) == 0)
			rc = cands_add(cs, de->d_name, s);
		job_free(&job);
		free(buf);
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

static int
cand_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->name,
		      ((const struct cand *)b)->name);
}

/* The jobs a move command may move, from the index and/or the files. */
static int
cands_collect(struct cli *c, struct cands *cs)
{
	int rc;

	if (c->st != NULL) {
		rc = store_vp_jobs(c->st, cs->provider, cs->venue,
				   cands_from_index, cs);
		if (cs->err < 0)
			return cs->err;
		if (rc < 0 && rc != -ENOENT) {
			cli_warn("cannot read the index: %s", strerror(-rc));
			return rc;
		}
	}
	/*
	 * What the index has not caught up with. With no daemon to keep it
	 * current that may be anything, so every file is read.
	 */
	bool quick = c->daemon != 0 && c->st != NULL;
	for (int i = 0; i < 2; i++) {
		if (cs->spec->from[i] == STATE_NONE)
			continue;
		rc = cands_scan(c, cs, cs->spec->from[i], quick);
		if (rc < 0)
			return rc;
	}
	if (cs->n > 1)
		qsort(cs->v, cs->n, sizeof(*cs->v), cand_cmp);
	return 0;
}

/* How often move_cmd() looks again for uploads accepted under its feet. */
#define MOVE_ROUNDS 4

struct move_result {
	size_t moved;
	size_t failed;
	bool touched[STATE_COUNT];
};

static void
print_done(struct cli *c, const char *fmt, const char *name,
	   enum job_state from)
{
	char id[ID_MAX + 1], clean[NAME_MAX_LEN * 4 + 1];
	const char *shown;

	/* An upload the daemon has not accepted yet has no id: its name. */
	if (spool_name_to_id(name, id) == 0 && spool_id_stamped(id))
		shown = id;
	else
		shown = cli_clean(name, clean, sizeof(clean));
	/* Without a daemon, a file in processing has no handler to cancel. */
	if (from == STATE_PROCESSING && c->daemon == 0)
		printf("paused %s (was in processing; no daemon runs)", shown);
	else
		printf(fmt, shown);
	fputc('\n', stdout);
}

/*
 * Move one file to spec->to, trying where it was seen first, then the
 * other source. Gone from every source: moved by the daemon, skipped,
 * and false returned.
 */
static bool
move_one(struct cli *c, const struct move_spec *m, const struct cand *cd,
	 struct move_result *res)
{
	enum job_state order[2];
	size_t n = 0;

	order[n++] = cd->where;
	for (int i = 0; i < 2; i++)
		if (m->from[i] != STATE_NONE && m->from[i] != cd->where)
			order[n++] = m->from[i];
	for (size_t i = 0; i < n; i++) {
		int rc = spool_move(&c->sp, order[i], cd->name, m->to, NULL);
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			char clean[NAME_MAX_LEN * 4 + 1];
			const char *from = state_name(order[i]);
			const char *to = state_name(m->to);

			cli_clean(cd->name, clean, sizeof(clean));
			if (rc == -EEXIST)
				cli_warn("cannot move %s/%s/%s: %s/%s already "
					 "exists; rename one of the two files",
					 c->sp.path, from, clean, to, clean);
			else
				cli_warn("cannot move %s/%s/%s to %s/: %s",
					 c->sp.path, from, clean, to,
					 strerror(-rc));
			res->failed++;
			return true;
		}
		int k = m->from[0] == order[i] ? 0 : 1;
		print_done(c, m->done[k], cd->name, order[i]);
		res->touched[order[i]] = res->touched[m->to] = true;
		res->moved++;
		return true;
	}
	return false;
}

/* The moves are durable before we say they are done: fsync both sides. */
static void
sync_touched(struct cli *c, struct move_result *res)
{
	for (int s = STATE_PENDING; s < STATE_COUNT; s++) {
		if (!res->touched[s])
			continue;
		int rc = spool_sync(&c->sp, (enum job_state)s);
		if (rc < 0) {
			cli_warn("fsync %s/%s: %s: the moves may not survive a "
				 "crash", c->sp.path, state_name(s),
				 strerror(-rc));
			res->failed++;
		}
	}
}

struct move_args {
	const char *provider;
	const char *venue;
	const char *job; /* retry --job */
};

static int
move_parse(const struct move_spec *m, int argc, char **argv,
	   struct move_args *a)
{
	static const struct option stop_opts[] = {
		{"venue", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const struct option retry_opts[] = {
		{"venue", required_argument, NULL, 'v'},
		{"job", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = cli_getopt(argc, argv, ":",
				m == &spec_retry ? retry_opts : stop_opts)) !=
	       -1) {
		switch (ch) {
		case 'v':
			a->venue = optarg;
			break;
		case 'j':
			a->job = optarg;
			break;
		case 'h':
			return -1;
		default:
			return EX_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(m->cmd, "%s: missing provider", m->cmd);
	if (optind + 1 < argc)
		return cli_extra_arg(m->cmd, argv[optind + 1]);
	a->provider = argv[optind];
	if (a->venue == NULL)
		return cli_usage_error(m->cmd, "%s: missing --venue", m->cmd);
	return EX_OK;
}

/* retry --job ID: that one job, which must be failed and be the vp's. */
static int
retry_one(struct cli *c, const struct move_args *a)
{
	struct jobrec rec;
	bool indexed = false;
	enum job_state where;
	char name[ID_MAX + 8];
	int rc;

	if ((rc = cli_check_id(a->job)) != EX_OK)
		return rc;
	if (c->st != NULL && store_job_get(c->st, a->job, &rec) == 0)
		indexed = true;
	where = cli_locate(c, a->job, indexed ? rec.state : STATE_FAILED);
	if (where == STATE_NONE) {
		if (indexed)
			cli_warn("no such job %s: its file is in no spool "
				 "directory (the index last saw it %s)",
				 a->job, state_name(rec.state));
		else
			cli_warn("no such job %s", a->job);
		return EX_NOINPUT;
	}
	if (where != STATE_FAILED) {
		cli_warn("job %s is not failed (it is %s)", a->job,
			 state_name(where));
		return EX_NOINPUT;
	}
	spool_id_to_name(a->job, name);
	if (!indexed) {
		/* Not indexed yet: the file says whose it is, if it can. */
		char err[ERRLEN], *buf = NULL;
		struct stat st;
		struct job job;
		size_t len;

		jobrec_init(&rec);
		memset(&job, 0, sizeof(job));
		if (spool_read_job(&c->sp, STATE_FAILED, name, JOB_MAX_SIZE,
				   &buf, &len, &st, err, sizeof(err)) == 0 &&
		    job_parse(buf, len, &job, err, sizeof(err)) == 0) {
			snprintf(rec.venue, sizeof(rec.venue), "%s",
				 job.venue_id);
			snprintf(rec.provider, sizeof(rec.provider), "%s",
				 job.provider);
			indexed = true;
		}
		job_free(&job);
		free(buf);
	}
	if (indexed && (strcmp(rec.venue, a->venue) != 0 ||
			strcmp(rec.provider, a->provider) != 0)) {
		cli_warn("job %s is venue %s provider %s, not venue %s "
			 "provider %s", a->job, rec.venue, rec.provider,
			 a->venue, a->provider);
		return EX_NOINPUT;
	}
	rc = spool_move(&c->sp, STATE_FAILED, name, STATE_PENDING, NULL);
	if (rc == -ENOENT) {
		where = cli_locate(c, a->job, STATE_PENDING);
		if (where == STATE_NONE)
			cli_warn("no such job %s (it was just removed)",
				 a->job);
		else
			cli_warn("job %s is not failed (it is %s)", a->job,
				 state_name(where));
		return EX_NOINPUT;
	}
	if (rc < 0) {
		cli_warn("cannot move %s/failed/%s to pending/: %s%s",
			 c->sp.path, name, strerror(-rc),
			 rc == -EEXIST ? " (a file of that name is in pending)"
				       : "");
		return EX_CANTCREAT;
	}
	printf("retried %s\n", a->job);
	rc = EX_OK;
	if (spool_sync(&c->sp, STATE_FAILED) < 0 ||
	    spool_sync(&c->sp, STATE_PENDING) < 0) {
		cli_warn("fsync %s: %m: the move may not survive a crash",
			 c->sp.path);
		rc = EX_CANTCREAT;
	}
	if (c->daemon == 0)
		cli_warn("syncspoold is not running on %s: it resets the "
			 "attempts when it starts", c->sp.path);
	return rc;
}

static int
move_cmd(struct cli *c, const struct move_spec *m, int argc, char **argv)
{
	struct move_args a;
	struct cands cs;
	struct move_result res;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&cs, 0, sizeof(cs));
	memset(&res, 0, sizeof(res));
	rc = move_parse(m, argc, argv, &a);
	if (rc == -1)
		return EX_OK;
	if (rc != EX_OK)
		return rc;
	if ((rc = cli_check_venue(a.venue)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_CONFIG)) != EX_OK)
		return rc;
	if ((rc = cli_check_provider(c, a.provider, NULL)) != EX_OK)
		return rc;
	if ((rc = cli_open(c, NEED_STORE)) != EX_OK)
		return rc;
	if (a.job != NULL)
		return retry_one(c, &a);

	/*
	 * An upload the daemon has not accepted yet vanishes when it is
	 * accepted: renamed within pending to its id. Look again, a few
	 * times at most, for what it became.
	 */
	for (int round = 0; round < MOVE_ROUNDS; round++) {
		bool again = false;

		memset(&cs, 0, sizeof(cs));
		cs.spec = m;
		cs.provider = a.provider;
		cs.venue = a.venue;
		trigger_stem(a.venue, a.provider, cs.stem);
		if (cands_collect(c, &cs) < 0) {
			free(cs.v);
			sync_touched(c, &res);
			return EX_UNAVAILABLE;
		}
		for (size_t i = 0; i < cs.n; i++) {
			char id[ID_MAX + 1];
			const char *name = cs.v[i].name;

			if (!move_one(c, m, &cs.v[i], &res) &&
			    (spool_name_to_id(name, id) < 0 ||
			     !spool_id_stamped(id)))
				again = true;
		}
		free(cs.v);
		if (!again)
			break;
	}
	sync_touched(c, &res);
	if (res.moved == 0 && res.failed == 0)
		printf("%s for venue %s provider %s\n", m->nothing, a.venue,
		       a.provider);
	if (res.moved > 0 && c->daemon == 0)
		cli_warn("syncspoold is not running on %s: it records these "
			 "moves when it starts", c->sp.path);
	return res.failed > 0 ? EX_CANTCREAT : EX_OK;
}

int
cmd_stop(struct cli *c, int argc, char **argv)
{
	return move_cmd(c, &spec_stop, argc, argv);
}

int
cmd_resume(struct cli *c, int argc, char **argv)
{
	return move_cmd(c, &spec_resume, argc, argv);
}

int
cmd_retry(struct cli *c, int argc, char **argv)
{
	return move_cmd(c, &spec_retry, argc, argv);
}

/*
 * cli_common.c - what the syncspool commands share: opening the config,
 * the spool and the index; usage text and option errors; the checks of
 * names; text, table and JSON output. See cli.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

/*
 * The SYNOPSIS of man/syncspool.1, one entry per line of it, in its
 * order. Keep the two the same word for word: `syncspool --help` and
 * the manual must not disagree.
 */
static const struct synopsis {
	const char *cmd;
	const char *args;
} synopsis[] = {
	{"trigger", "provider --venue venue [--type type] "
		    "[--option key=value ...] [--priority n] "
		    "[--not-before time]"},
	{"stop", "provider --venue venue"},
	{"resume", "provider --venue venue"},
	{"retry", "provider --venue venue [--job id]"},
	{"status", "[provider --venue venue] [--json]"},
	{"stats", ""},
	{"history", "provider --venue venue [--limit n] [--since time] "
		    "[--json]"},
	{"history", "--job id [--json]"},
	{"list", "[--state state] [--provider provider] [--venue venue] "
		 "[--json]"},
	{"show", "id [--json]"},
	{"logs", "id [-f]"},
	{"check", ""},
};

#define USAGE_WIDTH 79

/*
 * Print words, wrapping before USAGE_WIDTH at indent. A bracketed group
 * is one word, so "[--type type]" never breaks inside.
 */
static void
usage_wrap(FILE *f, const char *text, size_t col, size_t indent)
{
	const char *p = text;

	while (*p != '\0') {
		const char *end = p;
		int depth = 0;

		while (*end != '\0' && (depth > 0 || *end != ' ')) {
			depth += *end == '[';
			depth -= *end == ']';
			end++;
		}
		size_t n = (size_t)(end - p);
		if (col + 1 + n > USAGE_WIDTH && col > indent) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += n;
		p = *end == ' ' ? end + 1 : end;
	}
	fputc('\n', f);
}

void
cli_usage(const char *cmd, FILE *f)
{
	static const char lead[] = "usage:";
	bool first = true;

	for (size_t i = 0; i < sizeof(synopsis) / sizeof(synopsis[0]); i++) {
		const struct synopsis *s = &synopsis[i];
		char line[256];

		if (cmd != NULL && strcmp(cmd, s->cmd) != 0)
			continue;
		snprintf(line, sizeof(line), "syncspool [-c config] %s%s%s",
			 s->cmd, s->args[0] != '\0' ? " " : "", s->args);
		fprintf(f, "%-*s", (int)sizeof(lead) - 1, first ? lead : "");
		usage_wrap(f, line, sizeof(lead) - 1, sizeof(lead) + 10);
		first = false;
	}
	if (cmd == NULL)
		fprintf(f, "%*s syncspool [command] --help\n",
			(int)sizeof(lead) - 1, "");
}

bool
cli_command_known(const char *cmd)
{
	for (size_t i = 0; i < sizeof(synopsis) / sizeof(synopsis[0]); i++)
		if (strcmp(cmd, synopsis[i].cmd) == 0)
			return true;
	return false;
}

static void
vwarn(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("syncspool: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	cli_usage(cmd, stderr);
	return EX_USAGE;
}

int
cli_extra_arg(const char *cmd, const char *arg)
{
	char clean[256];

	return cli_usage_error(cmd, "%s: unexpected argument '%s'", cmd,
			       cli_clean(arg, clean, sizeof(clean)));
}

int
cli_getopt(int argc, char **argv, const char *optstring,
	   const struct option *longopts)
{
	const char *arg;
	int ch;

	opterr = 0;
	ch = getopt_long(argc, argv, optstring, longopts, NULL);
	switch (ch) {
	case 'h':
		cli_usage(argv[0], stdout);
		return 'h';
	case ':':
	case '?':
		arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
		if (strncmp(arg, "--", 2) == 0) {
			int n = (int)strcspn(arg, "=");
			const char *what = ch == ':' ? "needs an argument" :
					   arg[n] == '=' && optopt != 0 ?
					   "takes no argument" : "is unknown";
			cli_usage_error(argv[0], "%s: option %.*s %s", argv[0],
					n, arg, what);
		} else if (ch == ':') {
			cli_usage_error(argv[0],
					"%s: option -%c needs an argument",
					argv[0], optopt);
		} else {
			cli_usage_error(argv[0], "%s: option -%c is unknown",
					argv[0], optopt);
		}
		return '?';
	}
	return ch;
}

int
cli_open(struct cli *c, enum cli_need need)
{
	char err[ERRLEN], db[PATH_MAX];
	int rc;

	if (!c->have_cfg) {
		c->config_path = config_find(c->config_opt);
		rc = config_load(c->config_path, &c->cfg, err, sizeof(err));
		if (rc < 0) {
			cli_warn("%s", err);
			return EX_CONFIG;
		}
		c->have_cfg = true;
	}
	if (need >= NEED_SPOOL && !c->have_spool) {
		rc = spool_open(c->cfg.spool, false, &c->sp, err, sizeof(err));
		if (rc < 0) {
			cli_warn("%s", err);
			return EX_UNAVAILABLE;
		}
		c->have_spool = true;
		/* No answer is treated as no daemon: the index may be stale. */
		if (spool_lock_holder(&c->sp, &c->daemon) < 0)
			c->daemon = 0;
	}
	if (need >= NEED_STORE && c->st == NULL && !c->no_index) {
		snprintf(db, sizeof(db), "%s/db", c->sp.path);
		rc = store_open(db, false, &c->st, err, sizeof(err));
		if (rc == -ENOENT) {
			/* Before the daemon's first start: nothing indexed. */
			c->no_index = true;
			c->st = NULL;
			cli_warn("no index in %s yet: syncspoold creates it "
				 "when it first starts", db);
		} else if (rc < 0) {
			cli_warn("%s", err);
			cli_warn("cannot read the index in %s: check that you "
				 "may read it, and run `syncspool check`", db);
			c->st = NULL;
			return EX_UNAVAILABLE;
		}
	}
	return EX_OK;
}

void
cli_close(struct cli *c)
{
	if (c->st != NULL)
		store_close(c->st);
	c->st = NULL;
	if (c->have_spool)
		spool_close(&c->sp);
	c->have_spool = false;
	if (c->have_cfg)
		config_free(&c->cfg);
	c->have_cfg = false;
}

void
cli_note_stale(struct cli *c)
{
	if (c->daemon != 0 || c->stale_noted || c->no_index)
		return;
	c->stale_noted = true;
	cli_warn("syncspoold is not running on %s: the index may not show "
		 "the latest moves yet (it records them when it starts)",
		 c->have_spool ? c->sp.path : c->cfg.spool);
}

int
cli_check_provider(const struct cli *c, const char *provider,
		   const struct provider **out)
{
	const struct provider *p = config_provider(&c->cfg, provider);
	char list[1024];
	size_t n = 0;

	if (p != NULL) {
		if (out != NULL)
			*out = p;
		return EX_OK;
	}
	list[0] = '\0';
	for (size_t i = 0; i < c->cfg.nproviders && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      i > 0 ? ", " : "",
				      c->cfg.providers[i].name);
	if (c->cfg.nproviders == 0)
		snprintf(list, sizeof(list), "none");
	char clean[TOKEN_MAX * 4 + 1];
	cli_warn("unknown provider '%s' (configured in %s: %s)",
		 cli_clean(provider, clean, sizeof(clean)), c->config_path,
		 list);
	return EX_DATAERR;
}

int
cli_check_venue(const char *venue)
{
	char clean[VENUE_MAX * 4 + 1];

	if (util_name_valid(venue, VENUE_MAX))
		return EX_OK;
	cli_warn("invalid venue id '%s': a venue id is 1 to %d of "
		 "[A-Za-z0-9._-], starting with a letter or digit",
		 cli_clean(venue, clean, sizeof(clean)), VENUE_MAX);
	return EX_DATAERR;
}

int
cli_check_id(const char *id)
{
	char clean[ID_MAX * 4 + 1];

	if (util_name_valid(id, ID_MAX))
		return EX_OK;
	cli_warn("invalid job id '%s': a job id is 1 to %d of "
		 "[A-Za-z0-9._-], starting with a letter or digit",
		 cli_clean(id, clean, sizeof(clean)), ID_MAX);
	return EX_DATAERR;
}

enum job_state
cli_locate(struct cli *c, const char *id, enum job_state hint)
{
	char name[ID_MAX + 8];
	struct stat st;

	spool_id_to_name(id, name);
	/*
	 * A file moving while we look may slip from a directory not yet
	 * looked at into one already looked at; a second and third sweep
	 * catch it, unless it keeps moving, when "none" is as true as any.
	 */
	for (int sweep = 0; sweep < 3; sweep++) {
		if (hint > STATE_NONE && hint < STATE_COUNT &&
		    fstatat(c->sp.dir_fd[hint], name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
			return hint;
		for (int s = STATE_PENDING; s < STATE_COUNT; s++)
			if (fstatat(c->sp.dir_fd[s], name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0)
				return (enum job_state)s;
	}
	return STATE_NONE;
}

/* Length of the valid UTF-8 sequence at p, or 0; *cp gets its code point. */
static size_t
utf8_seq(const unsigned char *p, uint32_t *cp)
{
	size_t n;
	uint32_t v, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2, v = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, v = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, v = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

const char *
cli_clean(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (len == 0)
		return "";
	while (*p != '\0' && o + 1 < len) {
		uint32_t cp;
		size_t n = utf8_seq(p, &cp);

		/* C0, DEL and C1 controls, and broken UTF-8, become '?'. */
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			buf[o++] = '?';
			p += n == 0 ? 1 : n;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(buf + o, p, n);
		o += n;
		p += n;
	}
	buf[o] = '\0';
	return buf;
}

size_t
cli_cols(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

const char *
cli_fit(const struct cli *c, const char *s, size_t cols, char *buf,
	size_t len)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */
	size_t o = 0, n = 0;

	cli_clean(s, buf, len);
	if (!c->tty || cols == 0 || cli_cols(buf) <= cols)
		return buf;
	/* Keep cols - 1 code points, then the ellipsis. */
	while (buf[o] != '\0') {
		if (((unsigned char)buf[o] & 0xc0) != 0x80 && n++ == cols - 1)
			break;
		o++;
	}
	if (o + sizeof(ellipsis) > len)
		o = len - sizeof(ellipsis);
	while (o > 0 && ((unsigned char)buf[o] & 0xc0) == 0x80)
		o--;
	memcpy(buf + o, ellipsis, sizeof(ellipsis));
	return buf;
}

const char *
cli_time(int64_t ms, char buf[RFC3339_LEN])
{
	if (ms == 0) {
		snprintf(buf, RFC3339_LEN, "-");
		return buf;
	}
	/* Whole seconds, so that columns of times line up. */
	return util_time_format(ms - ((ms % 1000) + 1000) % 1000, buf);
}

const char *
cli_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		char unit;
		uint64_t ms;
	} units[] = {{'d', 86400000}, {'h', 3600000}, {'m', 60000},
		     {'s', 1000}};
	size_t o = 0;

	if (ms < 1000) {
		snprintf(buf, len, "%llums", (unsigned long long)ms);
		return buf;
	}
	if (ms < 60000) {
		if (ms % 1000 == 0)
			snprintf(buf, len, "%llus",
				 (unsigned long long)(ms / 1000));
		else
			snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
		return buf;
	}
	/* Longer ones to the second, at most two units: "1h30m", "2d". */
	buf[0] = '\0';
	int used = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < 2;
	     i++) {
		uint64_t q = ms / units[i].ms;
		if (q == 0 && used == 0)
			continue;
		if (q != 0 && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%llu%c",
					      (unsigned long long)q,
					      units[i].unit);
		ms -= q * units[i].ms;
		used++;
	}
	return buf;
}

const char *
cli_exit(int32_t exit_code, int32_t sig, char *buf, size_t len)
{
	const char *abbrev;

	if (sig > 0) {
		abbrev = sigabbrev_np(sig);
		if (abbrev != NULL)
			snprintf(buf, len, "SIG%s", abbrev);
		else
			snprintf(buf, len, "signal %d", (int)sig);
	} else if (exit_code >= 0) {
		snprintf(buf, len, "%d", (int)exit_code);
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

int
cli_table_add(struct cli_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap == 0 ? 32 : t->cap * 2;
		char **cells = realloc(t->cells,
				       cap * t->ncols * sizeof(*cells));
		if (cells == NULL)
			return -ENOMEM;
		t->cells = cells;
		char **notes = realloc(t->notes, cap * sizeof(*notes));
		if (notes == NULL)
			return -ENOMEM;
		t->notes = notes;
		t->cap = cap;
	}
	char **r = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		size_t len = strlen(row[i]) + 1;
		char *s = malloc(len);
		if (s == NULL) {
			while (i-- > 0)
				free(r[i]);
			return -ENOMEM;
		}
		cli_clean(row[i], s, len);
		r[i] = s;
	}
	t->notes[t->nrows] = NULL;
	t->nrows++;
	return 0;
}

int
cli_table_note(struct cli_table *t, const char *line)
{
	size_t old, len = strlen(line) + 1;
	char **note;

	if (t->nrows == 0)
		return -EINVAL;
	note = &t->notes[t->nrows - 1];
	old = *note != NULL ? strlen(*note) + 1 : 0;
	char *s = realloc(*note, old + len);
	if (s == NULL)
		return -ENOMEM;
	if (old > 0)
		s[old - 1] = '\n';
	cli_clean(line, s + old, len);
	*note = s;
	return 0;
}

/*
 * Like cli_fit(), but the ellipsis goes in the middle: an id keeps its
 * start (venue and provider) and its end (the random part that tells it
 * from its neighbours).
 */
static const char *
fit_middle(const struct cli *c, const char *s, size_t cols, char *buf,
	   size_t len)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */
	size_t total, head, tail, o = 0, n = 0, from = 0;

	cli_clean(s, buf, len);
	total = cli_cols(buf);
	if (!c->tty || cols < 3 || total <= cols)
		return cli_fit(c, s, cols, buf, len);
	tail = (cols - 1) / 2;
	head = cols - 1 - tail;
	/* Byte offsets of code point head and of code point total - tail. */
	for (size_t i = 0; buf[i] != '\0'; i++) {
		if (((unsigned char)buf[i] & 0xc0) == 0x80)
			continue;
		if (n == head)
			o = i;
		if (n == total - tail) {
			from = i;
			break;
		}
		n++;
	}
	if (o + sizeof(ellipsis) - 1 > from)
		return cli_fit(c, s, cols, buf, len);
	memcpy(buf + o, ellipsis, sizeof(ellipsis) - 1);
	memmove(buf + o + sizeof(ellipsis) - 1, buf + from,
		strlen(buf + from) + 1);
	return buf;
}

static void
cli_table_row(const struct cli *c, const struct cli_table *t,
	      const char *indent, const char *const *cells, const size_t *w,
	      size_t skip)
{
	char buf[1024];
	size_t last = t->ncols - 1;
	bool first = true;

	if (last == skip)
		last--;
	fputs(indent, stdout);
	for (size_t i = 0; i < t->ncols; i++) {
		if (i == skip)
			continue;
		const char *s = fit_middle(c, cells[i], w[i], buf, sizeof(buf));
		size_t pad = w[i] > cli_cols(s) ? w[i] - cli_cols(s) : 0;

		if (!first)
			fputs("  ", stdout);
		first = false;
		if (t->right[i])
			printf("%*s%s", (int)pad, "", s);
		else if (i == last)
			fputs(s, stdout);
		else
			printf("%s%*s", s, (int)pad, "");
	}
	fputc('\n', stdout);
}

/* Note lines, indented under the row, each cut to the width on a tty. */
static void
cli_table_notes(const struct cli *c, const char *indent, const char *note)
{
	size_t room = c->width > strlen(indent) + 4 ?
		      c->width - strlen(indent) - 4 : 20;
	char line[RESULT_MAX + 1], buf[RESULT_MAX * 3 + 8];

	while (*note != '\0') {
		size_t n = strcspn(note, "\n");
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, note, n);
		line[n] = '\0';
		printf("%s    %s\n", indent, cli_fit(c, line, room, buf,
						    sizeof(buf)));
		note += n;
		if (*note == '\n')
			note++;
	}
}

/*
 * The columns' widths, without column skip (CLI_TABLE_MAXCOLS: none),
 * narrowed on a terminal as far as the cuttable columns allow; returns
 * the width of a line, indent included.
 */
static size_t
cli_table_widths(const struct cli *c, const struct cli_table *t,
		 size_t indent, size_t skip, size_t *w)
{
	size_t min[CLI_TABLE_MAXCOLS], total = indent, n = 0;

	for (size_t i = 0; i < t->ncols; i++) {
		w[i] = min[i] = 0;
		if (i == skip)
			continue;
		w[i] = cli_cols(t->head[i]);
		min[i] = w[i] > 8 ? w[i] : 8;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t len = cli_cols(t->cells[r * t->ncols + i]);
			w[i] = len > w[i] ? len : w[i];
		}
		total += w[i] + (n++ > 0 ? 2 : 0);
	}
	/* On a terminal, narrow the widest cuttable column until it fits. */
	while (c->tty && total > c->width) {
		size_t best = CLI_TABLE_MAXCOLS;
		for (size_t i = 0; i < t->ncols; i++)
			if (i != skip && t->cut[i] && w[i] > min[i] &&
			    (best == CLI_TABLE_MAXCOLS || w[i] > w[best]))
				best = i;
		if (best == CLI_TABLE_MAXCOLS)
			break;
		w[best]--;
		total--;
	}
	return total;
}

void
cli_table_print(const struct cli *c, const struct cli_table *t,
		const char *indent)
{
	size_t w[CLI_TABLE_MAXCOLS], skip = CLI_TABLE_MAXCOLS;
	size_t total, ind = strlen(indent);
	char inner[64], buf[1024];

	total = cli_table_widths(c, t, ind, skip, w);
	/*
	 * Still wider than the terminal: the column that is never cut (the
	 * job id) leaves the grid for a line of its own in each row, above
	 * the row when it is the first column, else under it like a note,
	 * so that the grid fits and stays aligned, and the id stays whole.
	 */
	if (c->tty && total > c->width && t->own_line > 0 &&
	    t->own_line <= t->ncols && t->ncols > 1) {
		skip = t->own_line - 1;
		cli_table_widths(c, t, ind + (skip == 0 ? 2 : 0), skip, w);
	}
	snprintf(inner, sizeof(inner), "%s%s", indent, skip == 0 ? "  " : "");
	if (skip == 0)
		printf("%s%s\n", indent, t->head[0]);
	cli_table_row(c, t, inner, t->head, w, skip);
	for (size_t r = 0; r < t->nrows; r++) {
		char **cells = t->cells + r * t->ncols;

		if (skip == 0)
			printf("%s%s\n", indent, cells[0]);
		cli_table_row(c, t, inner, (const char *const *)cells, w, skip);
		if (skip < t->ncols && skip > 0) {
			/* "job ID": the header in lower case, the cell. */
			size_t k;
			for (k = 0; t->head[skip][k] != '\0' &&
				    k + 1 < sizeof(buf); k++)
				buf[k] = (char)tolower(
					(unsigned char)t->head[skip][k]);
			buf[k] = '\0';
			printf("%s    %s %s\n", indent, buf, cells[skip]);
		}
		if (t->notes[r] != NULL)
			cli_table_notes(c, indent, t->notes[r]);
	}
}

void
cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (size_t i = 0; i < t->nrows; i++)
		free(t->notes[i]);
	free(t->cells);
	free(t->notes);
	t->cells = t->notes = NULL;
	t->nrows = t->cap = 0;
}

json_t *
cli_json_str(const char *s)
{
	json_t *j = json_string(s);
	size_t len, o = 0;
	char *buf;

	if (j != NULL)
		return j;
	len = strlen(s);
	buf = malloc(len * 3 + 1);
	if (buf == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
		uint32_t cp;
		size_t n = utf8_seq(p, &cp);
		if (n == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
		}
	}
	buf[o] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

json_t *
cli_json_time(int64_t ms)
{
	char buf[RFC3339_LEN];

	if (ms == 0)
		return json_null();
	return json_string(util_time_format(ms, buf));
}

json_t *
cli_json_result(const char *result)
{
	json_t *o = json_object();
	const char *p = result;

	if (o == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		const char *colon = memchr(p, ':', n);
		if (colon != NULL && colon > p) {
			char key[128], val[RESULT_MAX + 1];
			size_t kn = (size_t)(colon - p);
			const char *v = colon + 1;
			while (v < p + n && (*v == ' ' || *v == '\t'))
				v++;
			if (kn < sizeof(key)) {
				memcpy(key, p, kn);
				key[kn] = '\0';
				memcpy(val, v, (size_t)(p + n - v));
				val[p + n - v] = '\0';
				json_t *k = cli_json_str(key);
				if (k != NULL)
					json_object_set_new(
						o, json_string_value(k),
						cli_json_str(val));
				json_decref(k);
			}
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	return o;
}

json_t *
cli_json_event(const struct event *e)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "time", cli_json_time(e->time));
	json_object_set_new(o, "job_id", cli_json_str(e->job_id));
	json_object_set_new(o, "event", json_string(event_name(e->type)));
	json_object_set_new(o, "venue_id", cli_json_str(e->venue));
	json_object_set_new(o, "provider", cli_json_str(e->provider));
	json_object_set_new(o, "sync_type", cli_json_str(e->sync_type));
	json_object_set_new(o, "attempt", json_integer(e->attempt));
	json_object_set_new(o, "exit_code", e->exit_code < 0 ? json_null()
					    : json_integer(e->exit_code));
	json_object_set_new(o, "signal", e->signal == 0 ? json_null()
					 : json_integer(e->signal));
	json_object_set_new(o, "duration_ms",
			    json_integer((json_int_t)e->duration_ms));
	json_object_set_new(o, "error", e->error[0] == '\0' ? json_null()
					: cli_json_str(e->error));
	json_object_set_new(o, "result", cli_json_result(e->result));
	return o;
}

json_t *
cli_json_counts(const uint64_t counts[STATE_COUNT])
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	for (int s = STATE_PENDING; s < STATE_COUNT; s++)
		json_object_set_new(o, state_name(s),
				    json_integer((json_int_t)counts[s]));
	return o;
}

int
cli_json_print(json_t *doc)
{
	int rc = 0;

	if (doc == NULL) {
		cli_warn("out of memory building the JSON output");
		return EX_OSERR;
	}
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', stdout) == EOF)
		rc = EX_IOERR;
	json_decref(doc);
	return rc;
}

int
cli_strv_add(struct cli_strv *sv, const char *s)
{
	char *dup;

	if (sv->n == sv->cap) {
		size_t cap = sv->cap == 0 ? 16 : sv->cap * 2;
		char **v = realloc(sv->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	dup = strdup(s);
	if (dup == NULL)
		return -ENOMEM;
	sv->v[sv->n++] = dup;
	return 0;
}

bool
cli_strv_has(const struct cli_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void
cli_strv_free(struct cli_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

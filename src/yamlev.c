/*
 * yamlev.c - bounded reading of small YAML files with libyaml's event
 * API. See yamlev.h for the contract.
 *
 * libyaml does the scanning and parsing; this file decides what it may
 * hand over. The bytes are checked before libyaml sees them so that the
 * encoding errors carry a line and column of our own making (libyaml's
 * reader reports only an offset, and would happily decode UTF-16), and
 * every event is checked as it comes, so that a hostile document is
 * refused at its first anchor or its first level too deep, before any of
 * it is expanded or stored.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "yamlev.h"

#define YAMLEV_TAG_PREFIX "tag:yaml.org,2002:"

/* Write "[name: ][line L, column C: ]message" into the caller's buffer. */
static void
yamlev_vput(struct yamlev *ye, size_t line, size_t col, const char *fmt,
	    va_list ap)
{
	size_t n = 0;
	int w;

	if (ye->err == NULL || ye->errlen == 0)
		return;
	ye->err[0] = '\0';
	if (ye->name != NULL) {
		w = snprintf(ye->err, ye->errlen, "%s: ", ye->name);
		n = w < 0 ? 0 : (size_t)w;
	}
	if (line > 0 && n < ye->errlen) {
		w = snprintf(ye->err + n, ye->errlen - n,
			     "line %zu, column %zu: ", line, col);
		n += w < 0 ? 0 : (size_t)w;
	}
	if (n < ye->errlen)
		vsnprintf(ye->err + n, ye->errlen - n, fmt, ap);
}

/* A message about the file as a whole, with no position. */
static int __attribute__((format(printf, 3, 4)))
yamlev_fail_file(struct yamlev *ye, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yamlev_vput(ye, 0, 0, fmt, ap);
	va_end(ap);
	return rc;
}

/* A message at a 1-based line and column. */
static int __attribute__((format(printf, 4, 5)))
yamlev_fail_at(struct yamlev *ye, size_t line, size_t col, const char *fmt,
	       ...)
{
	va_list ap;

	va_start(ap, fmt);
	yamlev_vput(ye, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
yamlev_error(struct yamlev *ye, const yaml_mark_t *at, const char *fmt, ...)
{
	va_list ap;

	if (at == NULL)
		at = &ye->ev.start_mark;
	va_start(ap, fmt);
	yamlev_vput(ye, at->line + 1, at->column + 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *
yamlev_quote(const char *s, char out[YAMLEV_QUOTE_MAX])
{
	size_t len = strlen(s), limit = len, i;
	bool cut = len > YAMLEV_QUOTE_MAX - 1;

	if (cut) {
		limit = YAMLEV_QUOTE_MAX - 4;
		/* Do not leave half a UTF-8 sequence before the "...". */
		while (limit > 0 && ((unsigned char)s[limit] & 0xC0) == 0x80)
			limit--;
	}
	for (i = 0; i < limit; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	strcpy(out + i, cut ? "..." : "");
	return out;
}

/* libyaml takes a UTF-8 byte order mark off before it counts anything. */
static size_t
yamlev_bom_len(const char *buf, size_t len)
{
	return len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/*
 * The line and column (1-based) of byte off. Line breaks are counted the
 * way libyaml counts them (\n, \r\n, a lone \r) and columns in characters,
 * so that our positions agree with the parser's.
 */
static void
yamlev_offset_pos(const char *buf, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1, i;

	for (i = yamlev_bom_len(buf, off); i < off; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == '\n' || ch == '\r') {
			if (ch == '\r' && i + 1 < off && buf[i + 1] == '\n')
				i++;
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* The byte offset of character number index (libyaml's mark.index). */
static size_t
yamlev_index_byte(const char *buf, size_t len, size_t index)
{
	size_t i, n = 0;

	for (i = yamlev_bom_len(buf, len); i < len; i++) {
		if (((unsigned char)buf[i] & 0xC0) == 0x80)
			continue;
		if (n == index)
			return i;
		n++;
	}
	return len;
}

/*
 * The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
yamlev_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static int
yamlev_check_bytes(struct yamlev *ye)
{
	const unsigned char *p = (const unsigned char *)ye->buf;
	size_t i, n, line, col;

	if (ye->len > ye->max_size)
		return yamlev_fail_file(ye, -EINVAL,
			"%s file too large: %zu bytes, the limit is %zu",
			ye->kind, ye->len, ye->max_size);
	/*
	 * A UTF-16 or UTF-32 byte order mark, or a NUL among the first two
	 * bytes (how YAML itself detects those encodings without a mark).
	 * UTF-32LE's mark begins with UTF-16LE's.
	 */
	if (ye->len >= 2 && ((p[0] == 0xFE && p[1] == 0xFF) ||
			     (p[0] == 0xFF && p[1] == 0xFE) || p[0] == 0 ||
			     p[1] == 0))
		return yamlev_fail_file(ye, -EINVAL,
			"%s files must be UTF-8 (this one looks like UTF-16 "
			"or UTF-32: save it as UTF-8)", ye->kind);
	for (i = 0; i < ye->len; i += n) {
		if (p[i] == 0) {
			yamlev_offset_pos(ye->buf, i, &line, &col);
			return yamlev_fail_at(ye, line, col,
				"NUL byte at offset %zu: %s files are text "
				"and must not contain NUL", i, ye->kind);
		}
		n = yamlev_utf8_len(p + i, ye->len - i);
		if (n == 0) {
			yamlev_offset_pos(ye->buf, i, &line, &col);
			return yamlev_fail_at(ye, line, col,
				"invalid UTF-8 (byte 0x%02x at offset %zu): "
				"%s files must be UTF-8", p[i], i, ye->kind);
		}
	}
	return 0;
}

int
yamlev_open(struct yamlev *ye, const char *buf, size_t len, char *err,
	    size_t errlen)
{
	int rc;

	/* libyaml asserts on a NULL input; an empty buffer is just empty. */
	if (buf == NULL && len == 0)
		buf = "";
	ye->have_ev = false;
	ye->parser_ready = false;
	ye->depth = 0;
	ye->ndocs = 0;
	ye->buf = buf;
	ye->len = len;
	ye->err = err;
	ye->errlen = errlen;
	if ((rc = yamlev_check_bytes(ye)) < 0)
		return rc;
	if (!yaml_parser_initialize(&ye->parser))
		return yamlev_fail_file(ye, -ENOMEM, "out of memory");
	ye->parser_ready = true;
	/*
	 * The encoding is left for libyaml to detect: the bytes are UTF-8 by
	 * now, and detection is what takes off a UTF-8 byte order mark
	 * before columns are counted (forcing UTF-8 would leave the mark in
	 * column 1 and shift the first line's indentation).
	 */
	yaml_parser_set_input_string(&ye->parser, (const unsigned char *)buf,
				     len);
	return 0;
}

void
yamlev_close(struct yamlev *ye)
{
	if (ye->have_ev)
		yaml_event_delete(&ye->ev);
	if (ye->parser_ready)
		yaml_parser_delete(&ye->parser);
	ye->have_ev = false;
	ye->parser_ready = false;
}

/* libyaml's own complaint, placed where it found the problem. */
static int
yamlev_parser_error(struct yamlev *ye)
{
	const yaml_parser_t *p = &ye->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	const char *hint = "";
	size_t line, col, at;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return yamlev_fail_file(ye, -ENOMEM, "out of memory");
	case YAML_READER_ERROR:
		/* The reader knows only a byte offset. */
		yamlev_offset_pos(ye->buf, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return yamlev_fail_at(ye, line, col, "%s (#x%X)",
					      problem,
					      (unsigned)p->problem_value);
		return yamlev_fail_at(ye, line, col, "%s", problem);
	default:
		break;
	}
	line = p->problem_mark.line + 1;
	col = p->problem_mark.column + 1;
	at = yamlev_index_byte(ye->buf, ye->len, p->problem_mark.index);
	if ((at < ye->len && ye->buf[at] == '\t') || strstr(problem, "tab"))
		hint = " (YAML indents with spaces, not tabs)";
	if (p->context != NULL)
		return yamlev_fail_at(ye, line, col,
			"%s %s that starts at line %zu, column %zu%s", problem,
			p->context, p->context_mark.line + 1,
			p->context_mark.column + 1, hint);
	return yamlev_fail_at(ye, line, col, "%s%s", problem, hint);
}

/* An anchor or a tag on a node is refused: see the top of yamlev.h. */
static int
yamlev_check_node(struct yamlev *ye, const yaml_char_t *anchor,
		  const yaml_char_t *tag)
{
	char q[YAMLEV_QUOTE_MAX];
	const char *t;

	if (anchor != NULL)
		return yamlev_error(ye, NULL,
			"anchors are not allowed (&%s): write the value out "
			"in full", yamlev_quote((const char *)anchor, q));
	if (tag != NULL) {
		t = (const char *)tag;
		/* Show "!!python/object" the way it was written. */
		if (strncmp(t, YAMLEV_TAG_PREFIX,
			    strlen(YAMLEV_TAG_PREFIX)) == 0)
			return yamlev_error(ye, NULL,
				"tags are not allowed (!!%s): remove it",
				yamlev_quote(t + strlen(YAMLEV_TAG_PREFIX), q));
		return yamlev_error(ye, NULL,
			"tags are not allowed (%s): remove it",
			yamlev_quote(t, q));
	}
	return 0;
}

int
yamlev_next(struct yamlev *ye)
{
	yaml_event_t *ev = &ye->ev;
	char q[YAMLEV_QUOTE_MAX];
	int rc;

	if (ye->have_ev)
		yaml_event_delete(ev);
	ye->have_ev = false;
	if (!yaml_parser_parse(&ye->parser, ev))
		return yamlev_parser_error(ye);
	ye->have_ev = true;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++ye->ndocs > 1)
			return yamlev_error(ye, NULL,
				"a second document starts here: a %s file "
				"holds exactly one (remove this one)",
				ye->kind);
		if (ev->data.document_start.tag_directives.start !=
		    ev->data.document_start.tag_directives.end)
			return yamlev_error(ye, NULL,
				"%%TAG directives are not allowed: remove it");
		return 0;
	case YAML_ALIAS_EVENT:
		return yamlev_error(ye, NULL,
			"aliases are not allowed (*%s): write the value out "
			"in full",
			yamlev_quote((const char *)ev->data.alias.anchor, q));
	case YAML_SCALAR_EVENT:
		if ((rc = yamlev_check_node(ye, ev->data.scalar.anchor,
					    ev->data.scalar.tag)) < 0)
			return rc;
		/* The bytes had no NUL, but "\0" or "\x00" escapes make one. */
		if (memchr(ev->data.scalar.value, '\0',
			   ev->data.scalar.length) != NULL)
			return yamlev_error(ye, NULL,
				"a NUL character (from an escape) is not "
				"allowed in a value");
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			rc = yamlev_check_node(ye,
				ev->data.sequence_start.anchor,
				ev->data.sequence_start.tag);
		else
			rc = yamlev_check_node(ye,
				ev->data.mapping_start.anchor,
				ev->data.mapping_start.tag);
		if (rc < 0)
			return rc;
		if (++ye->depth > ye->max_depth)
			return yamlev_error(ye, NULL,
				"nested deeper than %u levels", ye->max_depth);
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		ye->depth--;
		return 0;
	default:
		return 0;
	}
}

bool
yamlev_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* What the current event is, for "must be X, not Y" messages. */
static const char *
yamlev_what_is(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_SCALAR_EVENT:
		return yamlev_is_null(ev) ? "empty" : "a single value";
	default:
		return "missing";
	}
}

int
yamlev_doc_begin(struct yamlev *ye, const char *empty_msg)
{
	int rc;

	/* The stream's start, then a document's start or the stream's end. */
	if ((rc = yamlev_next(ye)) < 0 || (rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type == YAML_STREAM_END_EVENT)
		return yamlev_fail_file(ye, -EINVAL, "%s", empty_msg);
	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type == YAML_MAPPING_START_EVENT)
		return 0;
	if (yamlev_is_null(&ye->ev))
		return yamlev_fail_file(ye, -EINVAL, "%s", empty_msg);
	return yamlev_error(ye, NULL,
		"a %s file must be a mapping of \"key: value\" lines, not %s",
		ye->kind, yamlev_what_is(&ye->ev));
}

int
yamlev_doc_end(struct yamlev *ye)
{
	int rc;

	/*
	 * The root mapping's end is followed by the document's end, then by
	 * the stream's end or a second document, which yamlev_next()
	 * refuses.
	 */
	if ((rc = yamlev_next(ye)) < 0 || (rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type != YAML_STREAM_END_EVENT)
		return yamlev_error(ye, NULL, "unexpected content after the "
				    "document");
	return 0;
}

void
yamlev_map_init(struct yamlev *ye, struct yamlev_map *m,
		const char *const *keys, const char *where)
{
	size_t n = 0;

	while (keys[n] != NULL)
		n++;
	/* line[] has a slot per key: a longer list is a programming error. */
	assert(n <= YAMLEV_MAP_KEYS);
	(void)n;
	memset(m, 0, sizeof(*m));
	m->keys = keys;
	m->where = where;
	m->start = ye->ev.start_mark;
}

int
yamlev_map_any_key(struct yamlev *ye, const char *what, const char **key)
{
	int rc;

	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type == YAML_MAPPING_END_EVENT) {
		*key = NULL;
		return 0;
	}
	if (ye->ev.type != YAML_SCALAR_EVENT)
		return yamlev_error(ye, NULL, "keys%s%s must be names, not %s",
				    what ? " " : "", what ? what : "",
				    yamlev_what_is(&ye->ev));
	*key = (const char *)ye->ev.data.scalar.value;
	return 0;
}

int
yamlev_map_key(struct yamlev *ye, struct yamlev_map *m, int *idx)
{
	char expected[512], q[YAMLEV_QUOTE_MAX];
	const char *key, *sp = m->where ? " " : "";
	const char *where = m->where ? m->where : "";
	size_t n = 0;
	int rc, i;

	if ((rc = yamlev_map_any_key(ye, m->where, &key)) < 0)
		return rc;
	if (key == NULL) {
		*idx = -1;
		return 0;
	}
	for (i = 0; m->keys[i] != NULL; i++)
		if (strcmp(key, m->keys[i]) == 0)
			break;
	if (m->keys[i] == NULL) {
		expected[0] = '\0';
		for (i = 0; m->keys[i] != NULL && n < sizeof(expected); i++) {
			int w = snprintf(expected + n, sizeof(expected) - n,
					 "%s%s", i ? ", " : "", m->keys[i]);
			n += w < 0 ? 0 : (size_t)w;
		}
		return yamlev_error(ye, NULL, "unknown key '%s'%s%s (expected "
				    "%s)", yamlev_quote(key, q), sp, where,
				    expected);
	}
	if (m->line[i] != 0)
		return yamlev_error(ye, NULL, "duplicate key '%s'%s%s (first "
				    "given on line %zu)", key, sp, where,
				    m->line[i]);
	m->line[i] = ye->ev.start_mark.line + 1;
	*idx = i;
	return 0;
}

int
yamlev_map_require(struct yamlev *ye, const struct yamlev_map *m, int idx)
{
	if (m->line[idx] != 0)
		return 0;
	return yamlev_error(ye, &m->start, "missing required key '%s'%s%s",
			    m->keys[idx], m->where ? " " : "",
			    m->where ? m->where : "");
}

int
yamlev_scalar(struct yamlev *ye, const char *what, const char **val)
{
	int rc;

	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type != YAML_SCALAR_EVENT)
		return yamlev_error(ye, NULL, "%s must be a single value, "
				    "not %s", what, yamlev_what_is(&ye->ev));
	if (yamlev_is_null(&ye->ev))
		return yamlev_error(ye, NULL, "%s has no value", what);
	*val = (const char *)ye->ev.data.scalar.value;
	return 0;
}

int
yamlev_mapping(struct yamlev *ye, const char *what)
{
	int rc;

	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type != YAML_MAPPING_START_EVENT)
		return yamlev_error(ye, NULL, "%s must be a mapping "
				    "(key: value), not %s", what,
				    yamlev_what_is(&ye->ev));
	return 0;
}

int
yamlev_sequence(struct yamlev *ye, const char *what)
{
	int rc;

	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type != YAML_SEQUENCE_START_EVENT)
		return yamlev_error(ye, NULL, "%s must be a sequence "
				    "([a, b, ...]), not %s", what,
				    yamlev_what_is(&ye->ev));
	return 0;
}

int
yamlev_seq_scalar(struct yamlev *ye, const char *what, const char **val)
{
	int rc;

	if ((rc = yamlev_next(ye)) < 0)
		return rc;
	if (ye->ev.type == YAML_SEQUENCE_END_EVENT) {
		*val = NULL;
		return 0;
	}
	if (ye->ev.type != YAML_SCALAR_EVENT)
		return yamlev_error(ye, NULL, "items of %s must be single "
				    "values, not %s", what,
				    yamlev_what_is(&ye->ev));
	if (yamlev_is_null(&ye->ev))
		return yamlev_error(ye, NULL, "an item of %s has no value "
				    "(quote it, \"\", for an empty string)",
				    what);
	*val = (const char *)ye->ev.data.scalar.value;
	return 0;
}

/*
 * yamlev.h - bounded reading of small YAML files with libyaml's event API,
 * shared by the job parser and the config parser.
 *
 * A reader walks one document whose root is a mapping, event by event,
 * and refuses everything a spool's input has no business holding:
 *
 *   - input larger than max_size bytes (checked before libyaml sees it);
 *   - anything but UTF-8: a UTF-16 or UTF-32 byte order mark or layout,
 *     an invalid UTF-8 sequence, a NUL byte (reported with the line and
 *     column of the offending byte), and a NUL made by an escape;
 *   - nesting deeper than max_depth collections;
 *   - anchors, aliases, tags and %TAG directives;
 *   - a second document.
 *
 * Every message written to err has the form
 *   "[name: ]line L, column C: what was wrong (what to do)"
 * with 1-based line and column, except for the few that are about the
 * file as a whole (too large, wrong encoding), which carry no position.
 * Every failing function returns -EINVAL (-ENOMEM when memory ran out)
 * after writing err; the caller then only has to yamlev_close().
 *
 * Usage:
 *
 *	struct yamlev ye = {.kind = "job", .max_size = ..., .max_depth = ...};
 *	rc = yamlev_open(&ye, buf, len, err, errlen);
 *	rc = yamlev_doc_begin(&ye, "empty job file: ...");  (root mapping)
 *	yamlev_map_init(&ye, &m, keys, NULL);
 *	while ((rc = yamlev_map_key(&ye, &m, &idx)) == 0 && idx >= 0)
 *		... yamlev_scalar(&ye, "venue_id", &value) ...
 *	rc = yamlev_doc_end(&ye);
 *	yamlev_close(&ye);  (always, on every path)
 *
 * Strings handed out (keys, scalar values) point into the current event
 * and are valid until the next call that reads an event.
 */
#ifndef SYNCSPOOL_YAMLEV_H
#define SYNCSPOOL_YAMLEV_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#define YAMLEV_MAP_KEYS 16 /* the most keys a fixed-key mapping may list */
#define YAMLEV_QUOTE_MAX 80 /* buffer for yamlev_quote() */

struct yamlev {
	/* Set by the caller before yamlev_open(). */
	const char *kind;  /* "job" or "config": "job files must be UTF-8" */
	const char *name;  /* prefixed to messages as "name: ", or NULL */
	size_t max_size;   /* bytes */
	unsigned max_depth;

	/* Private. */
	yaml_parser_t parser;
	yaml_event_t ev;   /* the current event, when have_ev */
	bool have_ev;
	bool parser_ready;
	unsigned depth;    /* collections open around the current event */
	unsigned ndocs;
	const char *buf;
	size_t len;
	char *err;
	size_t errlen;
};

/* A mapping whose keys come from a fixed list. */
struct yamlev_map {
	const char *const *keys; /* allowed keys, NULL-terminated */
	const char *where;       /* "at the top level", or NULL */
	yaml_mark_t start;       /* where the mapping starts */
	size_t line[YAMLEV_MAP_KEYS]; /* line a key was given on; 0: not yet */
};

/*
 * Check buf (size, encoding, NUL bytes) and set up the parser on it.
 * buf must outlive the reader. Returns 0, or -EINVAL/-ENOMEM with err set.
 */
int yamlev_open(struct yamlev *ye, const char *buf, size_t len, char *err,
		size_t errlen);
/* Release the parser and the current event; safe after a failed open. */
void yamlev_close(struct yamlev *ye);

/*
 * Read the next event into ye->ev, checking it against the rules above.
 * Most callers use the helpers below instead.
 */
int yamlev_next(struct yamlev *ye);

/*
 * Read up to the root node, which must be a mapping; on success ye->ev is
 * its start. A file with no document, or whose document is empty (a null
 * root), is an error worded by empty_msg.
 */
int yamlev_doc_begin(struct yamlev *ye, const char *empty_msg);
/* After the root mapping's end: the end of the document and the stream. */
int yamlev_doc_end(struct yamlev *ye);

/* Start walking the mapping whose start is the current event. */
void yamlev_map_init(struct yamlev *ye, struct yamlev_map *m,
		     const char *const *keys, const char *where);
/*
 * Read the next key: *idx is its index in m->keys, or -1 at the end of the
 * mapping. An unknown key (named, with the list of expected ones) and a
 * key given twice are errors.
 */
int yamlev_map_key(struct yamlev *ye, struct yamlev_map *m, int *idx);
/* Error unless m->keys[idx] was given; placed at the mapping's start. */
int yamlev_map_require(struct yamlev *ye, const struct yamlev_map *m,
		       int idx);
/*
 * For mappings with free-form keys: read the next key into *key, or set
 * *key to NULL at the end of the mapping. The key must be a scalar;
 * checking its text and uniqueness is the caller's business.
 */
int yamlev_map_any_key(struct yamlev *ye, const char *what,
		       const char **key);

/*
 * Read a value that must be a scalar with something in it: a mapping, a
 * sequence or a null (nothing, ~, null) is an error naming what.
 * A quoted empty string is returned as "" (the caller decides).
 */
int yamlev_scalar(struct yamlev *ye, const char *what, const char **val);
/* Read a value that must be a mapping (or a sequence): its start event. */
int yamlev_mapping(struct yamlev *ye, const char *what);
int yamlev_sequence(struct yamlev *ye, const char *what);
/* Inside a sequence: the next item, a scalar, or NULL at its end. */
int yamlev_seq_scalar(struct yamlev *ye, const char *what,
		      const char **val);

/* True for a plain scalar that YAML reads as null: "", ~, null. */
bool yamlev_is_null(const yaml_event_t *ev);

/*
 * Write "[name: ]line L, column C: " and the message into err and return
 * -EINVAL. at is where; NULL means the current event's start.
 */
int yamlev_error(struct yamlev *ye, const yaml_mark_t *at, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

/*
 * s made safe to quote in a message: control bytes shown as '?', cut to
 * fit with "..." at the end. Returns out.
 */
const char *yamlev_quote(const char *s, char out[YAMLEV_QUOTE_MAX]);

#endif

/*
 * table.h - a string-keyed hash table of pointers, for the daemon's live
 * jobs (by id) and the uploads it is watching settle (by name).
 *
 * The table copies keys and owns those copies (or, with table_put_ref(),
 * borrows them); values belong to the caller. Nothing may be added or deleted while table_next() iterates:
 * collect first, then change.
 */
#ifndef SYNCSPOOL_TABLE_H
#define SYNCSPOOL_TABLE_H

#include <stddef.h>

struct table_entry {
	struct table_entry *next;
	void *value;
	const char *key; /* NUL-terminated: copy[], or the caller's */
	char copy[];
};

struct table {
	struct table_entry **buckets;
	size_t nbuckets, count;
};

void table_init(struct table *t);
/* Free the entries (not the values). */
void table_free(struct table *t);
void *table_get(const struct table *t, const char *key);
/* Add or replace; -ENOMEM. */
int table_put(struct table *t, const char *key, void *value);
/*
 * The same without copying the key: key must stay as it is until the
 * entry is deleted or replaced (typically, it lives in value). With
 * 100,000 jobs waiting, a copy of every id was 6 MiB.
 */
int table_put_ref(struct table *t, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void *table_del(struct table *t, const char *key);
/*
 * Iterate: start with *pos = 0 and e = NULL, then pass back the entry
 * returned; NULL at the end.
 */
struct table_entry *table_next(const struct table *t, size_t *pos,
			       struct table_entry *e);

#endif

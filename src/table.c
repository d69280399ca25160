/*
 * table.c - string-keyed chained hash table. See table.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void
table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
}

void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct table_entry *e = t->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static struct table_entry **
slot(const struct table *t, const char *key)
{
	struct table_entry **pp;

	if (t->nbuckets == 0)
		return NULL;
	pp = &t->buckets[hash(key) & (t->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

void *
table_get(const struct table *t, const char *key)
{
	struct table_entry **pp = slot(t, key);

	return pp != NULL && *pp != NULL ? (*pp)->value : NULL;
}

static int
grow(struct table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 256;
	struct table_entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct table_entry *e = t->buckets[i], *next;
		for (; e != NULL; e = next) {
			size_t k = hash(e->key) & (n - 1);
			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 0;
}

static int
put(struct table *t, const char *key, void *value, bool copy)
{
	struct table_entry **pp, *e;
	size_t len = copy ? strlen(key) + 1 : 0;

	if (t->count >= t->nbuckets && grow(t) < 0)
		return -ENOMEM;
	pp = slot(t, key);
	if (*pp != NULL) {
		/* A borrowed key may belong to the value it replaces. */
		if (!copy)
			(*pp)->key = key;
		(*pp)->value = value;
		return 0;
	}
	e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return -ENOMEM;
	e->next = NULL;
	e->value = value;
	if (copy) {
		memcpy(e->copy, key, len);
		e->key = e->copy;
	} else {
		e->key = key;
	}
	*pp = e;
	t->count++;
	return 0;
}

int
table_put(struct table *t, const char *key, void *value)
{
	return put(t, key, value, true);
}

int
table_put_ref(struct table *t, const char *key, void *value)
{
	return put(t, key, value, false);
}

void *
table_del(struct table *t, const char *key)
{
	struct table_entry **pp = slot(t, key), *e;
	void *v;

	if (pp == NULL || *pp == NULL)
		return NULL;
	e = *pp;
	*pp = e->next;
	v = e->value;
	free(e);
	t->count--;
	return v;
}

struct table_entry *
table_next(const struct table *t, size_t *pos, struct table_entry *e)
{
	if (e != NULL && e->next != NULL)
		return e->next;
	if (e != NULL)
		(*pos)++;
	for (; *pos < t->nbuckets; (*pos)++)
		if (t->buckets[*pos] != NULL)
			return t->buckets[*pos];
	return NULL;
}

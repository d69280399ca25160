/*
 * test_table.c - the string-keyed table: copied keys, borrowed keys
 * (table_put_ref(), the daemon's jobs by id and uploads by name), a
 * replacement that must take the new value's key, deletion, and growth
 * past many bucket doublings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

/* A value that carries its own key, as struct djob and struct cand do. */
struct item {
	int n;
	char key[32];
};

static struct item *
item_new(int n, const char *key)
{
	struct item *it = calloc(1, sizeof(*it));

	assert_non_null(it);
	it->n = n;
	snprintf(it->key, sizeof(it->key), "%s", key);
	return it;
}

static void
test_copied_key(void **state)
{
	struct table t;
	char key[16] = "alpha";
	int v = 1;

	(void)state;
	table_init(&t);
	assert_int_equal(table_put(&t, key, &v), 0);
	/* The table owns a copy: the caller's buffer may change. */
	strcpy(key, "beta");
	assert_ptr_equal(table_get(&t, "alpha"), &v);
	assert_null(table_get(&t, "beta"));
	assert_ptr_equal(table_del(&t, "alpha"), &v);
	assert_null(table_get(&t, "alpha"));
	assert_int_equal(t.count, 0);
	table_free(&t);
}

static void
test_borrowed_key_replaced(void **state)
{
	struct table t;
	struct item *a = item_new(1, "job-1"), *b = item_new(2, "job-1");
	struct table_entry *e;
	size_t pos = 0;

	(void)state;
	table_init(&t);
	assert_int_equal(table_put_ref(&t, a->key, a), 0);
	assert_ptr_equal(table_get(&t, "job-1"), a);
	/*
	 * b replaces a under an equal key of its own; a, and the key the
	 * entry borrowed from it, may then go (ASan sees a read of it).
	 */
	assert_int_equal(table_put_ref(&t, b->key, b), 0);
	memset(a, 0, sizeof(*a));
	free(a);
	assert_int_equal(t.count, 1);
	assert_ptr_equal(table_get(&t, "job-1"), b);
	e = table_next(&t, &pos, NULL);
	assert_non_null(e);
	assert_ptr_equal(e->key, b->key);
	assert_ptr_equal(table_del(&t, "job-1"), b);
	free(b);
	table_free(&t);
}

static void
test_many(void **state)
{
	enum { N = 20000 };
	struct item **items = calloc(N, sizeof(*items));
	struct table t;
	char key[32];

	(void)state;
	assert_non_null(items);
	table_init(&t);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		items[i] = item_new(i, key);
		if (i % 2)
			assert_int_equal(table_put_ref(&t, items[i]->key,
						       items[i]), 0);
		else
			assert_int_equal(table_put(&t, key, items[i]), 0);
	}
	assert_int_equal(t.count, N);
	for (int i = 0; i < N; i += 3)
		assert_ptr_equal(table_del(&t, items[i]->key), items[i]);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (i % 3 == 0)
			assert_null(table_get(&t, key));
		else
			assert_ptr_equal(table_get(&t, key), items[i]);
	}
	table_free(&t);
	for (int i = 0; i < N; i++)
		free(items[i]);
	free(items);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copied_key),
		cmocka_unit_test(test_borrowed_key_replaced),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

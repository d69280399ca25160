/*
 * test_spool.c - spool_read_job() on a mkdtemp spool: a job file is read
 * whole at every size up to the cap, including the sizes at which its
 * buffer (sized from fstat, not from the cap) is exactly full, and one
 * byte past the cap is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

struct fixture {
	char dir[64];
	struct spool sp;
	char err[ERRLEN];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_spool.XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    spool_open(f->dir, true, &f->sp, f->err, sizeof(f->err)) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	spool_close(&f->sp);
	/* Only the directory this test made, by its exact name. */
	snprintf(cmd, sizeof(cmd), "rm -r -- '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* pending/name holds n bytes, byte i being 'a' + i % 26. */
static void
write_file(struct fixture *f, const char *name, size_t n)
{
	int fd = openat(f->sp.dir_fd[STATE_PENDING], name,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char *b = malloc(n + 1);

	assert_true(fd >= 0);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + i % 26);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
	free(b);
}

static void
check_read(struct fixture *f, size_t n, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int rc;

	write_file(f, "j.yaml", n);
	rc = spool_read_job(&f->sp, STATE_PENDING, "j.yaml", max, &buf, &len,
			    &st, f->err, sizeof(f->err));
	if (n > max) {
		assert_int_equal(rc, -EFBIG);
		assert_null(buf);
		return;
	}
	if (rc != 0)
		fail_msg("%zu bytes, cap %zu: %d %s", n, max, rc, f->err);
	assert_int_equal(len, n);
	assert_int_equal(buf[n], '\0');
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (char)('a' + i % 26))
			fail_msg("%zu bytes: byte %zu differs", n, i);
	free(buf);
}

static void
test_read_sizes(void **state)
{
	struct fixture *f = *state;
	static const size_t sizes[] = {0, 1, 2, 100, 4095, 4096, 4097,
				       65535, 65536, 65537};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_read(f, sizes[i], 65536);
	for (size_t n = 0; n <= 12; n++)
		check_read(f, n, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_sizes, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

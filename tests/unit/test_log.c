/*
 * test_log.c - the daemon's log lines on stderr: one line each, written
 * at once, or held and written together by log_flush().
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
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* stderr goes to a pipe while a test runs; what has come out so far. */
struct capture {
	int rd;
	int saved;
	char buf[65536];
	size_t len;
};

static void
capture_start(struct capture *c)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	/* Room for everything a test writes, so no write ever blocks. */
	(void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	c->rd = p[0];
	c->len = 0;
}

/* Read what is there now; the text so far, NUL-terminated. */
static const char *
capture_read(struct capture *c)
{
	ssize_t n;

	while ((n = read(c->rd, c->buf + c->len,
			 sizeof(c->buf) - 1 - c->len)) > 0)
		c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return c->buf;
}

static void
capture_end(struct capture *c)
{
	fflush(stderr);
	assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	close(c->rd);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_at_once(void **state)
{
	struct capture c;

	(void)state;
	log_hold(false);
	capture_start(&c);
	log_info("event=one job=%s", "j1");
	assert_string_equal(capture_read(&c),
			    "test: level=info event=one job=j1\n");
	log_flush(); /* nothing held: nothing more */
	assert_int_equal(count_lines(capture_read(&c)), 1);
	capture_end(&c);
}

static void
test_held_until_flush(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	log_hold(true);
	log_info("event=one");
	log_warn("event=two");
	assert_string_equal(capture_read(&c), "");
	log_flush();
	assert_string_equal(capture_read(&c), "test: level=info event=one\n"
			    "test: level=warn event=two\n");
	log_flush();
	assert_int_equal(count_lines(capture_read(&c)), 2);
	log_hold(false);
	capture_end(&c);
}

/* An error goes out at once, with what was held before it, in order. */
static void
test_error_flushes(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	log_hold(true);
	log_info("event=before");
	log_error("event=bad");
	assert_string_equal(capture_read(&c), "test: level=info event=before\n"
			    "test: level=error event=bad\n");
	log_info("event=after");
	assert_int_equal(count_lines(capture_read(&c)), 2);
	/* Holding no more writes out what is held. */
	log_hold(false);
	assert_int_equal(count_lines(capture_read(&c)), 3);
	capture_end(&c);
}

/* A full buffer is written out, and no line is lost or cut. */
static void
test_full_buffer(void **state)
{
	struct capture c;
	const char *out;
	char pad[201];

	(void)state;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	capture_start(&c);
	log_hold(true);
	for (int i = 0; i < 200; i++)
		log_info("event=n%03d pad=%s", i, pad);
	/* 200 lines of about 240 bytes: more than 16 KiB went out already. */
	assert_true(capture_read(&c)[0] != '\0');
	log_flush();
	out = capture_read(&c);
	assert_int_equal(count_lines(out), 200);
	for (int i = 0; i < 200; i++) {
		char want[32];
		snprintf(want, sizeof(want), "event=n%03d pad=x", i);
		assert_non_null(strstr(out, want));
	}
	/* In order: the last line is the last one logged. */
	assert_non_null(strstr(out + c.len - 260, "event=n199"));
	log_hold(false);
	capture_end(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at_once),
		cmocka_unit_test(test_held_until_flush),
		cmocka_unit_test(test_error_flushes),
		cmocka_unit_test(test_full_buffer),
	};

	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

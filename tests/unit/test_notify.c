/*
 * test_notify.c - notify_send() against a real AF_UNIX datagram socket,
 * bound the way systemd binds its own: a path in a temporary directory,
 * or a name in the abstract namespace.
 *
 * The receiving socket is non-blocking: a datagram sent on AF_UNIX is
 * queued before sendto() returns, so it is there to read at once, or it
 * was never sent.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

struct listener {
	char dir[64];          /* the temporary directory, for a path */
	char name[128];        /* what $NOTIFY_SOCKET is set to */
	int fd;
};

/* Bind a datagram socket; abstract when asked, else in a temp dir. */
static void
listener_open(struct listener *l, int abstract)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;

	l->dir[0] = '\0';
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(l->fd >= 0);
	if (abstract) {
		snprintf(l->name, sizeof(l->name), "@syncspool-test-notify.%ld",
			 (long)getpid());
		memcpy(sun.sun_path + 1, l->name + 1, strlen(l->name) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				  strlen(l->name));
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(l->dir, sizeof(l->dir), "%s/notify.XXXXXX",
			 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
		assert_non_null(mkdtemp(l->dir));
		snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
		memcpy(sun.sun_path, l->name, strlen(l->name) + 1);
		len = sizeof(sun);
	}
	if (bind(l->fd, (struct sockaddr *)&sun, len) < 0)
		fail_msg("bind %s: %s", l->name, strerror(errno));
	assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
}

static void
listener_close(struct listener *l)
{
	close(l->fd);
	if (l->dir[0] != '\0') {
		unlink(l->name);
		rmdir(l->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* The one datagram waiting, as a string; fails when there is none. */
static void
listener_expect(struct listener *l, const char *want)
{
	char buf[256];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		fail_msg("nothing received on %s: %s", l->name, strerror(errno));
	buf[n] = '\0';
	assert_string_equal(buf, want);
	/* Exactly one datagram per call. */
	assert_true(recv(l->fd, buf, sizeof(buf), 0) < 0 && errno == EAGAIN);
}

static void
test_unset_is_a_no_op(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_send("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_path_socket(void **state)
{
	static const char *const states[] = {
		"READY=1",
		"RELOADING=1\nMONOTONIC_USEC=12345",
		"STATUS=3 handlers running",
		"STOPPING=1",
	};
	struct listener l;

	(void)state;
	listener_open(&l, 0);
	for (size_t i = 0; i < ROWS(states); i++) {
		assert_int_equal(notify_send(states[i]), 0);
		listener_expect(&l, states[i]);
	}
	listener_close(&l);
}

static void
test_abstract_socket(void **state)
{
	struct listener l;

	(void)state;
	listener_open(&l, 1);
	assert_int_equal(notify_send("READY=1"), 0);
	listener_expect(&l, "READY=1");
	assert_int_equal(notify_send("STOPPING=1"), 0);
	listener_expect(&l, "STOPPING=1");
	listener_close(&l);
}

static void
test_errors(void **state)
{
	char longpath[200];
	static const struct {
		const char *socket;   /* NULL: longpath */
		const char *state;
		int rc;
	} rows[] = {
		{"relative/notify", "READY=1", -EAFNOSUPPORT},
		{"vsock:2:1234", "READY=1", -EAFNOSUPPORT},
		{NULL, "READY=1", -ENAMETOOLONG},
		{"/nonexistent/syncspool/notify", "READY=1", -ENOENT},
		{"/tmp", "", -EINVAL},
		{"/tmp", NULL, -EINVAL},
	};

	(void)state;
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	for (size_t i = 0; i < ROWS(rows); i++) {
		const char *s = rows[i].socket ? rows[i].socket : longpath;
		setenv("NOTIFY_SOCKET", s, 1);
		int rc = notify_send(rows[i].state);
		if (rc != rows[i].rc)
			fail_msg("NOTIFY_SOCKET=%.40s state=%s: %d, want %d", s,
				 rows[i].state ? rows[i].state : "(null)", rc,
				 rows[i].rc);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* A socket whose listener has gone: refused, not a crash or a hang. */
static void
test_listener_gone(void **state)
{
	struct listener l;
	char name[sizeof(l.name)];

	(void)state;
	listener_open(&l, 1);
	snprintf(name, sizeof(name), "%s", l.name);
	close(l.fd);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_send("READY=1"), -ECONNREFUSED);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_is_a_no_op),
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_listener_gone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

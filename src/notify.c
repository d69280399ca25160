/*
 * notify.c - the sd_notify(3) datagram, by hand. See notify.h.
 *
 * The protocol is one sendto(2) on an AF_UNIX SOCK_DGRAM socket; no
 * credentials or fds are passed, so libsystemd would buy nothing but a
 * dependency.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/*
 * Fill *sun from $NOTIFY_SOCKET's value and return the address length to
 * pass to sendto(2), or a negative errno.
 */
static int
notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (name[0] == '@') {
		/*
		 * Abstract: sun_path starts with a NUL and the length says
		 * where the name ends, so no terminating NUL is sent.
		 */
		if (n > sizeof(sun->sun_path))
			return -ENAMETOOLONG;
		memcpy(sun->sun_path + 1, name + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (name[0] != '/')
		return -EAFNOSUPPORT;
	/* A path keeps its NUL inside sun_path, as unix(7) advises. */
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, name, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
notify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	ssize_t w;
	int fd, rc;

	if (name == NULL || name[0] == '\0')
		return 0;
	if (state == NULL || state[0] == '\0')
		return -EINVAL;
	if ((rc = notify_addr(name, &sun, &len)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A datagram goes whole or not at all. EINTR is retried: nothing
	 * was sent. MSG_NOSIGNAL: a manager gone away must not kill us.
	 */
	do
		w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&sun, len);
	while (w < 0 && errno == EINTR);
	rc = w < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/*
 * notify.h - tell the service manager how the daemon is doing, the
 * sd_notify(3) way, without libsystemd.
 *
 * systemd starts a Type=notify service with $NOTIFY_SOCKET naming an
 * AF_UNIX datagram socket: a path ("/run/systemd/notify") or, with a
 * leading '@', a name in the abstract namespace. One datagram holds one
 * or more "KEY=VALUE" lines: READY=1 once the daemon serves, RELOADING=1
 * while it rereads its config, STOPPING=1 when it begins to shut down,
 * STATUS=free text for `systemctl status`.
 *
 * The variable is left in the environment: handlers never see it, since
 * they start with an environment of their own (runner.c).
 */
#ifndef SYNCSPOOL_NOTIFY_H
#define SYNCSPOOL_NOTIFY_H

/*
 * Send state (for example "READY=1") as one datagram to $NOTIFY_SOCKET.
 * Returns 0 when it was sent, and 0 too when $NOTIFY_SOCKET is unset or
 * empty (not started by systemd: nobody is listening). Otherwise a
 * negative errno: -EAFNOSUPPORT for an address that is neither a path nor
 * '@'-abstract (vsock is not supported), -ENAMETOOLONG for one too long
 * for sockaddr_un, -EINVAL for an empty state, or what socket(2) or
 * sendto(2) said. A caller warns and goes on: the daemon works the same
 * whether or not its manager heard it.
 */
int notify_send(const char *state);

#endif

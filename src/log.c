/*
 * log.c - key=value lines on stderr. See log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

#define LOG_HELD_MAX 16384

static const char *log_prog = "syncspool";
static bool log_syslog;
static bool log_held_on;
static char log_held[LOG_HELD_MAX];
static size_t log_nheld;

void
log_init(const char *prog)
{
	log_prog = prog;
}

void
log_use_syslog(bool on)
{
	log_flush();
	if (on && !log_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && log_syslog)
		closelog();
	log_syslog = on;
}

void
log_hold(bool on)
{
	if (!on)
		log_flush();
	log_held_on = on;
}

void
log_flush(void)
{
	size_t off = 0;

	while (off < log_nheld) {
		ssize_t n = write(STDERR_FILENO, log_held + off,
				  log_nheld - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* nowhere to say so: the lines are lost */
		off += (size_t)n;
	}
	log_nheld = 0;
}

/* Keep line (and its newline) for log_flush(); false if it cannot be. */
static bool
log_keep(enum log_level level, const char *line)
{
	size_t len = strlen(line);

	if (len + 1 > sizeof(log_held))
		return false;
	if (log_nheld + len + 1 > sizeof(log_held))
		log_flush();
	memcpy(log_held + log_nheld, line, len);
	log_held[log_nheld + len] = '\n';
	log_nheld += len + 1;
	if (level == LOG_LEVEL_ERROR)
		log_flush();
	return true;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO};
	char line[2048];
	va_list ap;
	int n;

	n = log_syslog ? snprintf(line, sizeof(line), "level=%s ",
				  names[level])
		       : snprintf(line, sizeof(line), "%s: level=%s ",
				  log_prog, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	if (log_held_on && log_keep(level, line))
		return;
	log_flush();
	/* One write per line, so lines from one process never interleave. */
	fprintf(stderr, "%s\n", line);
}

const char *
log_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	int plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '\\' || *p == '=' ||
		    (unsigned char)*p < 0x20 || *p == 0x7f)
			plain = 0;
	if (plain) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	if (len < 3) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; *s && o + 3 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf[o++] = '\\';
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

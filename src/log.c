/*
 * log.c - key=value lines on stderr. See log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char *log_prog = "syncspool";
static bool log_syslog;

void
log_init(const char *prog)
{
	log_prog = prog;
}

void
log_use_syslog(bool on)
{
	if (on && !log_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && log_syslog)
		closelog();
	log_syslog = on;
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

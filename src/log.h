/*
 * log.h - the daemon's log: one line per event on stderr, as
 *   syncspoold: level=info event=started job=ID venue=V provider=P attempt=1
 * so that journald (or a grep) can pick fields out, or the same to
 * syslog(3) with `log: syslog`. Values with spaces are the caller's to
 * quote (log_quote() helps).
 */
#ifndef SYNCSPOOL_LOG_H
#define SYNCSPOOL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO };

void log_init(const char *prog);
/* Send lines to syslog(3) (facility daemon) instead of stderr, or back. */
void log_use_syslog(bool on);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Hold stderr lines in memory until log_flush(), which writes them all
 * with one write(2): the daemon's loop flushes once a pass, before it
 * sleeps, instead of writing three lines a job one by one. An error line
 * is written at once, with what was held before it, and so is a line
 * that finds the buffer (16 KiB) full. A process killed mid-pass loses
 * that pass's held lines, never a job. Off by default; syslog(3) lines
 * are never held.
 */
void log_hold(bool on);
void log_flush(void);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)

/*
 * s as a log value: unchanged when it is plain, else double-quoted with
 * '"' and '\\' escaped and control bytes as '?'. Returns buf.
 */
const char *log_quote(const char *s, char *buf, size_t len);

#endif

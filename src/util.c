/*
 * util.c - small pure helpers: number, duration, size and time parsing,
 * name checks, clocks and the err[] convention. See util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
util_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
util_audit(audit_cb cb, void *arg, enum audit_level level, const char *fmt,
	   ...)
{
	char msg[ERRLEN + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cb(level, msg, arg);
}

int
util_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		/* v * 10 + d must not wrap: exact, so UINT64_MAX itself parses. */
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
util_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag;
	int neg = 0;

	if (s == NULL)
		return -EINVAL;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (util_parse_uint(s, (uint64_t)INT64_MAX + neg, &mag) < 0)
		return -EINVAL;
	int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN
				 : -(int64_t)mag)
			: (int64_t)mag;
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split "123unit" into its number and unit; the number must be there. */
static int
split_number(const char *s, uint64_t *num, const char **unit)
{
	char digits[24];
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*unit = s + n;
	return util_parse_uint(digits, UINT64_MAX, num);
}

struct unit {
	const char *name;
	uint64_t factor;
};

static int
parse_with_units(const char *s, const struct unit *units, uint64_t *out)
{
	uint64_t num;
	const char *unit;

	if (s == NULL || split_number(s, &num, &unit) < 0)
		return -EINVAL;
	for (; units->name != NULL; units++) {
		if (strcmp(unit, units->name) != 0)
			continue;
		if (num != 0 && units->factor > UINT64_MAX / num)
			return -EINVAL;
		*out = num * units->factor;
		return 0;
	}
	return -EINVAL;
}

int
util_parse_duration(const char *s, uint64_t *ms)
{
	static const struct unit units[] = {
		{"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000},
		{"min", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
	};
	return parse_with_units(s, units, ms);
}

int
util_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{"", 1}, {"B", 1}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20},
		{"GiB", 1ULL << 30}, {"kB", 1000}, {"KB", 1000},
		{"MB", 1000000}, {"GB", 1000000000}, {NULL, 0},
	};
	return parse_with_units(s, units, bytes);
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int64_t
days_from_civil(int y, int m, int d)
{
	/* Days since 1970-01-01 of a proleptic Gregorian date. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
util_time_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, frac = 0, off = 0;

	if (s == NULL || strlen(s) < 20)
		return -EINVAL;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		int scale = 100, n = 0;
		for (s++; isdigit((unsigned char)*s); s++, n++) {
			frac += (*s - '0') * scale;
			scale /= 10;
		}
		if (n == 0)
			return -EINVAL;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om, sign = *s == '-' ? -1 : 1;
		if (digits(s + 1, 2, &oh) || s[3] != ':' ||
		    digits(s + 4, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 60 + om);
		s += 6;
	} else {
		return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	if (sec == 60)
		sec = 59; /* a leap second reads as the second before it */
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		    sec - (int64_t)off * 60;
	*ms = t * 1000 + frac;
	return 0;
}

const char *
util_time_format(int64_t ms, char buf[RFC3339_LEN])
{
	/* Floor division without computing ms - 999, which overflows. */
	int64_t secs = ms / 1000;
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	time_t t = (time_t)secs;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, RFC3339_LEN, "(bad time)");
		return buf;
	}
	size_t n = strftime(buf, RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0)
		snprintf(buf + n, RFC3339_LEN - n, ".%03dZ", frac);
	else
		snprintf(buf + n, RFC3339_LEN - n, "Z");
	return buf;
}

bool
util_name_valid(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || !isalnum((unsigned char)s[0]) ||
	    (unsigned char)s[0] > 127)
		return false;
	for (n = 1; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= max)
			return false;
		if (c > 127 || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
	return util_mono_us() / 1000;
}

int64_t
util_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
util_file_read_at(int dirfd, const char *name, char *buf, size_t len,
		  size_t *got)
{
	size_t off = 0;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	while (off + 1 < len) {
		ssize_t n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	if (got != NULL)
		*got = off;
	return r;
}

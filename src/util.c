/* util.c: diagnostics, allocation that cannot fail, and small parsing helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void
vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/*
	 * One message is one line, whatever the caller's text holds, and text
	 * from outside (a server's message, a URL) never drives the terminal:
	 * C0 and C1 control characters are replaced.
	 */
	for (unsigned char *p = (unsigned char *)line; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		else if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
	fprintf(stderr, "%s: %s%s\n", PROGNAME, prefix, line);
}

void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void
errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

/*
 * The exit status when memory runs out: exec sets its command's, once that
 * has run, so that tracing never changes it. The one global of its kind:
 * xmalloc has no caller to return to.
 */
static int oom_status = EXIT_RUNTIME;

void
set_oom_status(int status)
{
	oom_status = status;
}

static void
oom(void)
{
	/* Out of memory is the one failure with no safe way to go on. */
	errmsg("out of memory");
	exit(oom_status);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int
writeall(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

static const char *
skip_digits(const char *p)
{
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

int
is_json_number(const char *s)
{
	const char *p = s, *q;
	char *end;
	double d;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = skip_digits(p);
	else
		return 0;
	if (*p == '.') {
		q = skip_digits(p + 1);
		if (q == p + 1)
			return 0;
		p = q;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		q = skip_digits(p);
		if (q == p)
			return 0;
		p = q;
	}
	if (*p != '\0')
		return 0;
	errno = 0;
	d = strtod(s, &end);
	/* 1e999 is valid JSON grammar but no finite number X-Ray can store. */
	return errno != ERANGE || (d > -1 && d < 1);
}

size_t
utf8_decode(const char *s, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		*cp = ((uint32_t)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
		return 2;
	}
	if ((u[0] & 0xf0) == 0xe0) {
		*cp = ((uint32_t)(u[0] & 0x0f) << 12) | ((uint32_t)(u[1] & 0x3f) << 6) |
		    (u[2] & 0x3f);
		return 3;
	}
	*cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3f) << 12) |
	    ((uint32_t)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
	return 4;
}

/* Length of the valid UTF-8 sequence at u, or 0 if it is not one. */
static size_t
utf8_valid_at(const unsigned char *u)
{
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		return (u[1] & 0xc0) == 0x80 ? 2 : 0;
	if (u[0] >= 0xe0 && u[0] <= 0xef) {
		if ((u[1] & 0xc0) != 0x80 || (u[2] & 0xc0) != 0x80)
			return 0;
		if (u[0] == 0xe0 && u[1] < 0xa0)
			return 0; /* overlong */
		if (u[0] == 0xed && u[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		if ((u[1] & 0xc0) != 0x80 || (u[2] & 0xc0) != 0x80 || (u[3] & 0xc0) != 0x80)
			return 0;
		if (u[0] == 0xf0 && u[1] < 0x90)
			return 0; /* overlong */
		if (u[0] == 0xf4 && u[1] >= 0x90)
			return 0; /* beyond U+10FFFF */
		return 4;
	}
	return 0;
}

char *
utf8_sanitize(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s);
	/* Each bad byte becomes three bytes of U+FFFD. */
	char *out = xmalloc(len * 3 + 1), *o = out;

	while (*u) {
		size_t n = utf8_valid_at(u);

		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			u++;
			continue;
		}
		memcpy(o, u, n);
		o += n;
		u += n;
	}
	*o = '\0';
	return out;
}

int
utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	for (; *u; u += n)
		if ((n = utf8_valid_at(u)) == 0)
			return 0;
	return 1;
}

size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
utf8_prefix(const char *s, size_t n)
{
	size_t i = 0, cps = 0;

	while (s[i]) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (cps == n)
				break;
			cps++;
		}
		i++;
	}
	return i;
}

char *
shell_quote(const char *s)
{
	size_t n = 2;
	char *out, *p;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	p = out = xmalloc(n + 1);
	*p++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

/* All of fd, NUL-terminated, up to max bytes; NULL with errno. */
static char *
read_fd(int fd, size_t max)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap + 1);
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

int
read_arg(const char *arg, size_t max, char **out)
{
	int fd, e;

	*out = NULL;
	if (strcmp(arg, "-") == 0)
		return (*out = read_fd(STDIN_FILENO, max)) ? 0 : -1;
	if (arg[0] != '@')
		return 0;
	if ((fd = open(arg + 1, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	*out = read_fd(fd, max);
	e = errno;
	close(fd);
	errno = e;
	return *out ? 0 : -1;
}

/* ids.c: random identifiers and the wall clock, as X-Ray wants them. */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ids.h"
#include "sha256.h"
#include "util.h"

static void
random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* No getrandom(2): the device gives the same bytes. */
			int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

			if (fd < 0 || read(fd, buf + got, n - got) != (ssize_t)(n - got)) {
				errmsg("no random source: %s", strerror(errno));
				_exit(EXIT_RUNTIME);
			}
			close(fd);
			return;
		}
		got += (size_t)r;
	}
}

static void
to_hex(char *out, const unsigned char *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
all_zero(const unsigned char *b, size_t n)
{
	int zero = 1;

	for (size_t i = 0; i < n; i++)
		zero &= b[i] == 0;
	return zero;
}

void
ids_new(char out[ID_LEN + 1])
{
	unsigned char b[ID_LEN / 2];

	do
		random_bytes(b, sizeof(b));
	while (all_zero(b, sizeof(b))); /* all zeros is the SDKs' "not sampled" id */
	to_hex(out, b, sizeof(b));
}

void
ids_trace_new(char out[TRACE_ID_LEN + 1])
{
	unsigned char b[12];

	do
		random_bytes(b, sizeof(b));
	while (all_zero(b, sizeof(b)));
	snprintf(out, 12, "1-%08x-", (unsigned)(uint32_t)time(NULL));
	to_hex(out + 11, b, sizeof(b));
}

void
ids_trace_from(const char *s, char out[TRACE_ID_LEN + 1])
{
	uint8_t d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	sha256(s, strlen(s), d);
	to_hex(hex, d, sizeof(d));
	snprintf(out, TRACE_ID_LEN + 1, "1-%.8s-%.24s", hex, hex + 8);
}

void
clock_now(char out[TIME_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, TIME_LEN, "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

/* 2000-01-01T00:00:00Z: no traced work starts earlier. */
#define CLOCK_EARLIEST 946684800LL

/* Six digits of microseconds from the fraction digits frac (n of them); more are dropped. */
static long long
fraction_usec(const char *frac, size_t n)
{
	long long usec = 0;

	for (size_t i = 0; i < 6; i++)
		usec = usec * 10 + (i < n ? frac[i] - '0' : 0);
	return usec;
}

/* "D[.F]": epoch seconds, or by their digits ms (13-15), us (16-18), ns (19). */
static int
parse_epoch(const char *v, long long *sec, long long *usec)
{
	size_t ndig = strspn(v, "0123456789"), nfrac = 0;
	const char *frac = NULL;
	long long n = 0;

	if (ndig == 0 || ndig > 19)
		return -1;
	if (v[ndig] == '.') {
		frac = v + ndig + 1;
		nfrac = strspn(frac, "0123456789");
		if (nfrac == 0 || frac[nfrac] != '\0' || ndig >= 13)
			return -1; /* a fraction only of seconds */
	} else if (v[ndig] != '\0') {
		return -1;
	}
	for (size_t i = 0; i < ndig; i++)
		n = n * 10 + (v[i] - '0');
	/* Seconds since 1970 have had 10 digits since 2001: more are finer units. */
	if (ndig >= 19) {
		*sec = n / 1000000000LL;
		*usec = n % 1000000000LL / 1000;
	} else if (ndig >= 16) {
		*sec = n / 1000000LL;
		*usec = n % 1000000LL;
	} else if (ndig >= 13) {
		*sec = n / 1000;
		*usec = n % 1000 * 1000;
	} else {
		*sec = n;
		*usec = fraction_usec(frac ? frac : "", nfrac);
	}
	return 0;
}

/* RFC 3339: "2026-12-08T01:02:03[.F](Z|+hh:mm|-hh:mm)", 't' or ' ' for 'T'. */
static int
parse_rfc3339(const char *v, long long *sec, long long *usec)
{
	struct tm tm;
	int y, mo, d, h, mi, s, oh, om, used = 0;
	size_t nfrac = 0;
	const char *p;
	char sep, sign;

	/* Digits exactly where the format has them: sscanf alone would take signs and spaces. */
	if (strnlen(v, 19) < 19)
		return -1;
	for (int i = 0; i < 19; i++)
		if ((i == 4 || i == 7 || i == 10 || i == 13 || i == 16) != !isdigit((unsigned char)v[i]))
			return -1;
	if (sscanf(v, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s, &used) != 7 ||
	    used != 19 || (sep != 'T' && sep != 't' && sep != ' ') || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 0 || h < 0 || mi < 0 || s < 0)
		return -1;
	p = v + used;
	if (*p == '.') {
		nfrac = strspn(p + 1, "0123456789");
		if (nfrac == 0)
			return -1;
		*usec = fraction_usec(p + 1, nfrac);
		p += 1 + nfrac;
	} else {
		*usec = 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s == 60 ? 59 : s; /* a leap second is the second before it */
	*sec = (long long)timegm(&tm);
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if (sscanf(p, "%c%2d:%2d%n", &sign, &oh, &om, &used) != 3 || used != 6 || p[6] != '\0' ||
	    (sign != '+' && sign != '-') || oh < 0 || oh > 23 || om < 0 || om > 59)
		return -1;
	*sec -= (sign == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL);
	return 0;
}

int
clock_parse(const char *v, char out[TIME_LEN])
{
	long long sec, usec;

	if (parse_epoch(v, &sec, &usec) < 0 && parse_rfc3339(v, &sec, &usec) < 0)
		return -1;
	if (sec < CLOCK_EARLIEST || sec > (long long)time(NULL) + 24 * 60 * 60)
		return -1;
	snprintf(out, TIME_LEN, "%lld.%06lld", sec, usec);
	return 0;
}

/* ids.c: random identifiers and the wall clock, as X-Ray wants them. */
#include <sys/random.h>

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

int
clock_parse(const char *v, char out[TIME_LEN])
{
	size_t ndig = strspn(v, "0123456789"), nfrac = 0;
	long long sec = 0, usec = 0;
	const char *frac = NULL;

	if (ndig == 0 || ndig > 16)
		return -1;
	if (v[ndig] == '.') {
		frac = v + ndig + 1;
		nfrac = strspn(frac, "0123456789");
		if (nfrac == 0 || frac[nfrac] != '\0')
			return -1;
	} else if (v[ndig] != '\0') {
		return -1;
	}
	for (size_t i = 0; i < ndig; i++)
		sec = sec * 10 + (v[i] - '0');
	/* Digits past the sixth are below X-Ray's microseconds: dropped. */
	for (size_t i = 0; i < 6; i++)
		usec = usec * 10 + (i < nfrac ? frac[i] - '0' : 0);
	/* Seconds since 1970 have had 10 digits since 2001; 13 are milliseconds. */
	if (ndig >= 13 && frac == NULL) {
		usec = (sec % 1000) * 1000;
		sec /= 1000;
	} else if (ndig >= 13) {
		return -1;
	}
	if (sec < CLOCK_EARLIEST || sec > (long long)time(NULL) + 24 * 60 * 60)
		return -1;
	snprintf(out, TIME_LEN, "%lld.%06lld", sec, usec);
	return 0;
}

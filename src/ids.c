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

void
ids_new(char out[ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[ID_LEN / 2];
	int zero;

	do {
		random_bytes(b, sizeof(b));
		zero = 1;
		for (size_t i = 0; i < sizeof(b); i++)
			zero &= b[i] == 0;
	} while (zero); /* all zeros is the SDKs' "not sampled" id */
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[ID_LEN] = '\0';
}

void
clock_now(char out[TIME_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, TIME_LEN, "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

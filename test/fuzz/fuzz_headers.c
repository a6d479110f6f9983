/* libFuzzer target: Runtime API headers files and times from the command line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ids.h"
#include "../../src/invocation.h"
#include "../../src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size), t[TIME_LEN], again[TIME_LEN];
	struct invocation inv;

	invocation_parse(&inv, (const char *)data, size);
	/* A value never spans lines. */
	if ((inv.trace && strchr(inv.trace, '\n')) || (inv.deadline && strchr(inv.deadline, '\n')))
		abort();
	invocation_free(&inv);
	/* A time that is taken is written so that it reads back as itself. */
	if (clock_parse(s, t) == 0 && (clock_parse(t, again) != 0 || strcmp(t, again) != 0))
		abort();
	free(s);
	return 0;
}

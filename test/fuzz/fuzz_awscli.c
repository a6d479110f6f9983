/* libFuzzer target: the aws CLI recogniser (argv split at NULs) and its stderr scanner. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/awscli.h"
#include "../../src/util.h"

#define ARGS_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1), *argv[ARGS_MAX + 2];
	struct awscall c;
	struct awsout o;
	struct outcome out;
	size_t n = 1;

	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "aws";
	for (char *p = buf; p < buf + size && n <= ARGS_MAX; p += strlen(p) + 1)
		argv[n++] = p;
	argv[n] = NULL;
	if (awscli_parse(argv, &c) == 0) {
		if (c.name[0] == '\0' || c.nfields > AWS_FIELDS_MAX)
			abort();
		awscli_free(&c);
	}
	memset(&o, 0, sizeof(o));
	awsout_feed(&o, (const char *)data, size);
	awsout_end(&o);
	awscli_outcome(&o, size % 256, &out);
	if (out.throttle && !out.error)
		abort();
	free(buf);
	return 0;
}

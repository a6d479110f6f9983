/* libFuzzer target: the AWS_XRAY_DAEMON_ADDRESS parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/emit.h"
#include "../../src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	char host[256], port[8];
	long p;

	if (emit_parse_address(s, host, sizeof(host), port, sizeof(port)) == 0) {
		if (host[0] == '\0' || parse_long(port, 1, 65535, &p) < 0)
			abort();
	}
	free(s);
	return 0;
}

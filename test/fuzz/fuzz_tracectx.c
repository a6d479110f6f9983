/* libFuzzer target: the trace header parser and formatter. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/tracectx.h"
#include "../../src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct tracectx c;
	enum ctx_state st = tracectx_parse(s, &c);

	if (st == CTX_RECORDING) {
		char *h = tracectx_format(&c, c.parent);
		struct tracectx again;

		/* What we propagate must parse back to the same context. */
		if (tracectx_parse(h, &again) != CTX_RECORDING || strcmp(again.root, c.root) ||
		    strcmp(again.parent, c.parent))
			abort();
		tracectx_free(&again);
		free(h);
	}
	if (st != CTX_MISSING && st != CTX_INVALID && !tracectx_valid_root(c.root))
		abort();
	tracectx_free(&c);
	free(s);
	return 0;
}

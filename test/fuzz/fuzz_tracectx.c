/* libFuzzer target: the trace header parser and formatters, and W3C traceparent. */
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
	if (st != CTX_MISSING && st != CTX_INVALID) {
		/* The normal form context exports says the same and parses as it did. */
		char *n = tracectx_normal(&c);
		struct tracectx again;

		if (tracectx_parse(n, &again) != st || strcmp(again.root, c.root) ||
		    strcmp(again.parent, c.parent) || again.sampled != c.sampled ||
		    n[strlen(n) - 1] == ';' || strstr(n, ";;"))
			abort();
		tracectx_free(&again);
		free(n);
	}
	{
		/* A traceparent that converts gives a header that records or is sampled out. */
		char *h;

		if (tracectx_from_w3c(s, &h) == 0) {
			struct tracectx w;
			enum ctx_state ws = tracectx_parse(h, &w);

			if (ws != CTX_RECORDING && ws != CTX_UNSAMPLED)
				abort();
			tracectx_free(&w);
			free(h);
		}
	}
	tracectx_free(&c);
	free(s);
	return 0;
}

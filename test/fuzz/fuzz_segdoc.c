/* libFuzzer target: metadata JSON, state documents and API responses through segdoc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/emit.h"
#include "../../src/segdoc.h"
#include "../../src/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
unprocessed(void *arg, const char *id, const char *code, const char *message)
{
	/* Every entry comes with three strings, empty when absent. */
	if (id == NULL || code == NULL || message == NULL)
		abort();
	++*(size_t *)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size), *text, *name;
	struct segdoc *d;
	size_t len;
	int shrunk, changed;

	name = segdoc_clean_name(s, &changed);
	if (segdoc_json_ok(s)) {
		d = segdoc_new("0123456789abcdef", *name ? name : "x",
		    "1-6b067ecf-f735ae4ea9cab4596e9c2ff3", "35ef1b6816f8fc76", "1.000000", NULL);
		if (segdoc_metadata(d, "default", s, s) < 0)
			abort();
		text = segdoc_wire(d, 512, &len, &shrunk);
		segdoc_free(d);
		/* Whatever went in, what comes out parses as a document. */
		if ((d = segdoc_parse(text, len)) == NULL)
			abort();
		segdoc_free(d);
		free(text);
	}
	if ((d = segdoc_parse(s, size)) != NULL) {
		text = segdoc_text(d, &len);
		free(text);
		segdoc_free(d);
	}
	if (segdoc_json_ok(s)) {
		/* A request body made of any document is itself one JSON value. */
		char *doc[1] = { s }, *body;
		size_t dlen[1] = { strlen(s) }, blen, n = 0;

		body = segdoc_batch(doc, dlen, 1, &blen);
		if (!segdoc_json_ok(body))
			abort();
		free(body);
		int k = segdoc_unprocessed(s, strlen(s), unprocessed, &n);

		if (k >= 0 && (size_t)k != n)
			abort();
	}
	free(segdoc_api_error(s, strlen(s)));
	free(name);
	free(s);
	return 0;
}

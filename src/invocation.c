/* invocation.c: the headers of a Runtime API invocation (see invocation.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "invocation.h"
#include "util.h"

void
invocation_free(struct invocation *inv)
{
	free(inv->trace);
	free(inv->request_id);
	free(inv->deadline);
	memset(inv, 0, sizeof(*inv));
}

/* One header line; a status line starts the next response. */
static void
take_header(struct invocation *inv, const char *line, size_t n)
{
	static const char *names[] = { "Lambda-Runtime-Trace-Id", "Lambda-Runtime-Aws-Request-Id",
		"Lambda-Runtime-Deadline-Ms" };
	char **slots[] = { &inv->trace, &inv->request_id, &inv->deadline };
	const char *colon = memchr(line, ':', n), *v;
	size_t klen, vlen;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* curl -D writes every response it saw: the last one counts. */
		invocation_free(inv);
		return;
	}
	if (colon == NULL)
		return;
	klen = (size_t)(colon - line);
	for (v = colon + 1; v < line + n && (*v == ' ' || *v == '\t'); v++)
		;
	vlen = (size_t)(line + n - v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r'))
		vlen--;
	for (size_t i = 0; i < 3; i++)
		if (strlen(names[i]) == klen && strncasecmp(line, names[i], klen) == 0) {
			free(*slots[i]);
			*slots[i] = xstrndup(v, vlen);
		}
}

void
invocation_parse(struct invocation *inv, const char *buf, size_t len)
{
	const char *end;

	memset(inv, 0, sizeof(*inv));
	for (const char *line = buf; line < buf + len; line = end + 1) {
		if ((end = memchr(line, '\n', (size_t)(buf + len - line))) == NULL)
			end = buf + len;
		take_header(inv, line, (size_t)(end - line));
	}
}

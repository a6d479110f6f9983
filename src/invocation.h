/*
 * invocation.h: what the Lambda Runtime API says of one invocation in the
 * headers of its /runtime/invocation/next response, as curl -D saves them.
 */
#ifndef XRAY_SEG_INVOCATION_H
#define XRAY_SEG_INVOCATION_H

#include <stddef.h>

/* Each field NULL when its header is absent; all owned. */
struct invocation {
	char *trace;       /* Lambda-Runtime-Trace-Id */
	char *request_id;  /* Lambda-Runtime-Aws-Request-Id */
	char *deadline;    /* Lambda-Runtime-Deadline-Ms */
};

/*
 * Read the len bytes of headers at buf (CRLF or LF lines, names in any
 * case) into inv; of several responses, the last one's.
 */
void invocation_parse(struct invocation *inv, const char *buf, size_t len);

void invocation_free(struct invocation *inv);

#endif

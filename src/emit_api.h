/*
 * emit_api.h: delivery through the X-Ray API's PutTraceSegments, signed with
 * SigV4, by a libcurl loaded only when this transport runs: the UDP path
 * never pays for libcurl's dozens of shared libraries.
 */
#ifndef XRAY_SEG_EMIT_API_H
#define XRAY_SEG_EMIT_API_H

#include "transport.h"

/* The library loaded unless XRAY_SEG_LIBCURL names another. */
#define LIBCURL_DEFAULT "libcurl.so.4"

/*
 * Send docs in requests of at most TRANSPORT_BATCH, retrying network errors,
 * 5xx and throttling with backoff, and set each one's fate (see
 * transport_send, also for why). cmd names the caller in messages.
 */
void emit_api_send(const char *cmd, struct outdoc *docs, size_t n, char *why, size_t whylen);

#endif

/*
 * transport.h: delivery of finished documents by the transport a call uses:
 * UDP datagrams to the X-Ray daemon, PutTraceSegments requests to the X-Ray
 * API, or lines on standard output.
 */
#ifndef XRAY_SEG_TRANSPORT_H
#define XRAY_SEG_TRANSPORT_H

#include <stddef.h>

#include "ids.h"
#include "session.h"

/* What became of a document. */
enum fate {
	FATE_KEEP,  /* not delivered: keep it for a later send */
	FATE_SENT,  /* delivered */
	FATE_DROP,  /* refused for good (said on stderr): keeping it would not help */
};

struct outdoc {
	const char *text;     /* the document, borrowed */
	size_t len;
	char id[ID_LEN + 1];  /* its (sub)segment id, for messages */
	enum fate fate;       /* set by transport_send */
};

/*
 * Deliver docs by s's transport and set each one's fate; returns the number
 * not delivered, and if there are any, why (one phrase) in why. Only
 * documents X-Ray refused for good are reported here, a line each: what
 * becomes of the kept ones is the caller's to say.
 */
size_t transport_send(struct session *s, struct outdoc *docs, size_t n, char *why, size_t whylen);

/* The most documents one delivery of the API carries. */
#define TRANSPORT_BATCH 50

#endif

/* tracectx.h: the X-Ray trace header (_X_AMZN_TRACE_ID): parse, judge, format. */
#ifndef XRAY_SEG_TRACECTX_H
#define XRAY_SEG_TRACECTX_H

#include "ids.h"

enum ctx_state {
	CTX_MISSING,     /* no header at all */
	CTX_INVALID,     /* a header we must not trust */
	CTX_PASSTHROUGH, /* Root without Parent: tracing is not active */
	CTX_UNSAMPLED,   /* Sampled is not 1 */
	CTX_RECORDING,   /* Root, Parent and Sampled=1: subsegments are recorded */
};

struct tracectx {
	char root[TRACE_ID_LEN + 1];
	char parent[ID_LEN + 1];
	char sampled;           /* '0', '1', '?' or 0 when absent */
	char *extra;            /* other fields, "k=v;k=v" in order, or NULL; owned */
	const char *why;        /* for CTX_INVALID: what is wrong (static text) */
};

/* Parse header s (may be NULL) into c and say what it allows. */
enum ctx_state tracectx_parse(const char *s, struct tracectx *c);

/* Release what tracectx_parse allocated. */
void tracectx_free(struct tracectx *c);

/* "Root=...;Parent=<parent>;Sampled=1[;extra]" (0 if c is sampled out); caller frees. */
char *tracectx_format(const struct tracectx *c, const char *parent);

/* The same context as a W3C traceparent: "00-<trace>-<parent>-01"; caller frees. */
char *tracectx_traceparent(const struct tracectx *c, const char *parent);

/*
 * c as a header every SDK accepts: Root, then Parent and Sampled when c has
 * them, then the other fields, no empty field, no trailing ';'. Caller frees.
 */
char *tracectx_normal(const struct tracectx *c);

/*
 * The X-Ray header of W3C traceparent tp (version 00, or a later one by its
 * first four fields): 0, or -1 if tp is not one. *header is the caller's to
 * free.
 */
int tracectx_from_w3c(const char *tp, char **header);

/* Non-zero if s is a well-formed trace id (1-8hex-24hex, lowercase). */
int tracectx_valid_root(const char *s);

#endif

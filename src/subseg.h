/*
 * subseg.h: the life of one subsegment across calls: open it in the store,
 * find the one a command means, change it, end it and deliver it.
 */
#ifndef XRAY_SEG_SUBSEG_H
#define XRAY_SEG_SUBSEG_H

#include "segdoc.h"
#include "session.h"
#include "state.h"

/* Undelivered documents a trace keeps at most. */
#define SUBSEG_KEEP_MAX 1000

/* Where a new subsegment goes on the stacks of scopes. */
enum push {
	PUSH_NONE,   /* on none: exec's children find it by their context */
	PUSH_SCOPE,  /* innermost of the caller's scope */
	PUSH_OWN,    /* innermost of its own scope: a context naming it finds it */
};

/*
 * Record a new open subsegment id (start time start) under parent, or when
 * parent is NULL under the innermost open one of the scope, else under the
 * context's Parent. When s is rooted, record the trace's segment instead.
 * 0 or -1 (said on stderr).
 */
int subseg_begin(struct session *s, struct trace *t, const char *id, const char *name,
    const char *parent, const char *ns, const char *start, enum push push);

/*
 * The subsegment a command without --id means: the scope's innermost open
 * one, else, with fallback, the context's Parent when it is open here (as it
 * is inside exec). 0 or -1 (said on stderr).
 */
int subseg_target(struct session *s, struct trace *t, const char *given, int fallback,
    char id[ID_LEN + 1]);

/* Whether subsegment id is open in t. */
int subseg_is_open(struct trace *t, const char *id);

/* The open subsegment id, or NULL (said on stderr). */
struct segdoc *subseg_load(struct session *s, struct trace *t, const char *id);

/*
 * 1 if open subsegment id, ended with e, fits in one datagram as it is, 0 if
 * not, -1 if it cannot be read (said on stderr).
 */
int subseg_end_fits(struct session *s, struct trace *t, const char *id, const struct seg_end *e);

/* What subseg_annotate did. */
enum annotated {
	ANNOTATED,
	DOC_FULL,    /* the subsegment has ANNOTATION_MAX annotations already */
	TRACE_FULL,  /* the trace has ANNOTATION_MAX annotation keys already */
	TOO_BIG,     /* with s->strict: the subsegment would not fit in a datagram */
	NOT_DONE,    /* the subsegment cannot be read or stored (said on stderr) */
};

/*
 * Set annotation key of open subsegment id, within what X-Ray indexes:
 * ANNOTATION_MAX annotations a document and ANNOTATION_MAX keys a trace.
 */
enum annotated subseg_annotate(struct session *s, struct trace *t, const char *id,
    const char *key, enum annot type, const char *value);

/* subseg_save's answer, with s->strict, for a document too big for a datagram. */
#define SUBSEG_TOO_BIG (-2)

/*
 * Store d as the open subsegment id: 0, -1 (said on stderr), or with
 * s->strict SUBSEG_TOO_BIG, not stored, when it would not fit in a datagram.
 */
int subseg_save(struct session *s, struct trace *t, const char *id, struct segdoc *d);

/*
 * Finish open subsegment id with e, to be delivered by subseg_close; with the
 * API, while the trace's segment is open, it is kept to go with it instead.
 * A segment takes along everything its trace keeps. 0 or -1 (said on stderr).
 */
int subseg_end(struct session *s, struct trace *t, const char *id, const struct seg_end *e);

/* Have subseg_close deliver every kept document of the trace. */
int subseg_flush(struct session *s, struct trace *t);

/*
 * state_close for a call that may have documents to deliver (subseg_begin's
 * in-progress one, subseg_end's, subseg_flush's): they are sent with the
 * trace's lock given up, and what does not leave is kept for a later send
 * (one warning line). 0, or -1 if anything is still kept.
 */
int subseg_close(struct session *s, struct trace *t, int tidy);

#endif

/* subseg.c: the life of one subsegment across calls (see subseg.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "transport.h"
#include "runenv.h"
#include "subseg.h"
#include "util.h"

#define FILE_NAME_LEN (ID_LEN + 6)
#define STR_(x) #x
#define STR(x) STR_(x)
/* The id of the trace's segment while it is open: later ends may wait for it. */
#define ROOT_FILE "root"
/* The state set of the annotation keys the trace's documents have. */
#define ANNOTATION_SET "annotations"

static void
file_name(char out[FILE_NAME_LEN], const char *id, const char *kind)
{
	snprintf(out, FILE_NAME_LEN, "%s.%s", id, kind);
}

/*
 * The documents a call delivers when it gives up the trace's lock (see
 * subseg_close): claimed ones, whose files it owns meanwhile, and others it
 * holds only in memory.
 */
struct outbox {
	struct outdoc *docs;
	char **texts;          /* owned */
	enum held { CLAIMED, IN_MEMORY, IN_PROGRESS } *held;
	size_t n, cap;
};

static void
outbox_add(struct session *s, const char *id, char *text, size_t len, enum held held)
{
	struct outbox *o = s->outbox;

	if (o == NULL) {
		o = s->outbox = xmalloc(sizeof(*o));
		memset(o, 0, sizeof(*o));
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 16;
		o->docs = xrealloc(o->docs, o->cap * sizeof(*o->docs));
		o->texts = xrealloc(o->texts, o->cap * sizeof(*o->texts));
		o->held = xrealloc(o->held, o->cap * sizeof(*o->held));
	}
	memset(&o->docs[o->n], 0, sizeof(o->docs[o->n]));
	o->docs[o->n].text = text;
	o->docs[o->n].len = len;
	snprintf(o->docs[o->n].id, sizeof(o->docs[o->n].id), "%s", id);
	o->texts[o->n] = text;
	o->held[o->n++] = held;
}

/*
 * The first subsegment of an invocation says whether it ran in a fresh
 * sandbox, and for which service, as Powertools users know it.
 */
static void
describe_invocation(struct session *s, struct trace *t, struct segdoc *d)
{
	int first = state_mark_first(t);

	if (first < 0)
		return;
	/* context knows best: it runs for every invocation, traced or not. */
	if (s->cold_start >= 0)
		first = s->cold_start;
	segdoc_annotate(d, "ColdStart", ANNOT_BOOL, first && !s->prewarmed ? "true" : "false");
	if (s->service_name)
		segdoc_annotate(d, "Service", ANNOT_STRING, s->service_name);
}

/* Count the annotation keys of new document text in the trace's set. */
static void
note_keys(struct trace *t, const char *text)
{
	size_t n, in_set;
	char **keys = segdoc_json_keys(text, "annotations", &n);

	for (size_t i = 0; i < n; i++) {
		if (state_set_has(t, ANNOTATION_SET, keys[i], &in_set) == 0)
			state_set_add(t, ANNOTATION_SET, keys[i]);
		free(keys[i]);
	}
	free(keys);
}

/* Tell X-Ray of open work now, so that it shows even if nothing ever ends it. */
static void
send_in_progress(struct session *s, struct segdoc *d, const char *id)
{
	size_t len;
	char *text = segdoc_in_progress(d, &len);

	outbox_add(s, id, text, len, IN_PROGRESS);
}

int
subseg_begin(struct session *s, struct trace *t, const char *id, const char *name,
    const char *parent, const char *ns, const char *start, enum push push)
{
	char top[ID_LEN + 1], f[FILE_NAME_LEN];
	struct segdoc *d;
	size_t len;
	char *text;
	int r;

	if (s->rooted)
		parent = NULL;
	else if (parent == NULL)
		parent = state_top(t, s->ctx.parent, top) == 0 ? top : s->ctx.parent;
	d = segdoc_new(id, name, s->ctx.root, parent, start, ns);
	if (s->rooted)
		runenv_describe(d, s->service_version);
	else if (s->lambda && state_made(t))
		describe_invocation(s, t, d);
	text = segdoc_text(d, &len);
	file_name(f, id, "open");
	r = state_put(t, f, text, len, 1);
	if (r == 0 && segdoc_annotation_count(d) > 0)
		note_keys(t, text);
	if (r == 0 && s->rooted)
		r = state_put(t, ROOT_FILE, id, ID_LEN, 0);
	if (r == 0 && push != PUSH_NONE)
		r = state_push(t, push == PUSH_OWN ? id : s->ctx.parent, id);
	if (r == 0 && s->in_progress)
		send_in_progress(s, d, id);
	if (r < 0)
		warnmsg("%s: cannot record subsegment %s: %s", s->cmd, id, strerror(errno));
	free(text);
	segdoc_free(d);
	return r;
}

int
subseg_target(struct session *s, struct trace *t, const char *given, int fallback,
    char id[ID_LEN + 1])
{
	char f[FILE_NAME_LEN];

	if (given) {
		file_name(f, given, "open");
		if (t && state_has(t, f)) {
			memcpy(id, given, ID_LEN + 1);
			return 0;
		}
		warnmsg("%s: subsegment %s is not open", s->cmd, given);
		return -1;
	}
	if (t && state_top(t, s->ctx.parent, id) == 0)
		return 0;
	file_name(f, s->ctx.parent, "open");
	if (t && fallback && state_has(t, f)) {
		memcpy(id, s->ctx.parent, ID_LEN + 1);
		return 0;
	}
	warnmsg("%s: no open subsegment in this trace", s->cmd);
	return -1;
}

int
subseg_is_open(struct trace *t, const char *id)
{
	char f[FILE_NAME_LEN];

	file_name(f, id, "open");
	return state_has(t, f);
}

struct segdoc *
subseg_load(struct session *s, struct trace *t, const char *id)
{
	char f[FILE_NAME_LEN];
	struct segdoc *d = NULL;
	char *text;
	size_t len;

	file_name(f, id, "open");
	if (state_get(t, f, &text, &len) < 0) {
		warnmsg("%s: cannot read subsegment %s: %s", s->cmd, id, strerror(errno));
		return NULL;
	}
	if ((d = segdoc_parse(text, len)) == NULL)
		warnmsg("%s: the state of subsegment %s is damaged", s->cmd, id);
	free(text);
	return d;
}

int
subseg_save(struct session *s, struct trace *t, const char *id, struct segdoc *d)
{
	char f[FILE_NAME_LEN];
	size_t len;
	char *text = segdoc_text(d, &len);
	int r = SUBSEG_TOO_BIG;

	file_name(f, id, "open");
	if ((!s->strict || len <= DOCUMENT_MAX) && (r = state_put(t, f, text, len, 0)) < 0)
		warnmsg("%s: cannot record subsegment %s: %s", s->cmd, id, strerror(errno));
	free(text);
	return r;
}

int
subseg_end_fits(struct session *s, struct trace *t, const char *id, const struct seg_end *e)
{
	struct segdoc *d = subseg_load(s, t, id);
	size_t len;

	if (d == NULL)
		return -1; /* said already */
	segdoc_finish(d, e);
	free(segdoc_text(d, &len));
	segdoc_free(d);
	return len <= DOCUMENT_MAX;
}

enum annotated
subseg_annotate(struct session *s, struct trace *t, const char *id, const char *key,
    enum annot type, const char *value)
{
	struct segdoc *d = subseg_load(s, t, id);
	enum annotated r = ANNOTATED;
	size_t n;
	int known, saved;

	if (d == NULL)
		return NOT_DONE;
	/* A set that cannot be read limits nothing: each document still has its own bound. */
	known = state_set_has(t, ANNOTATION_SET, key, &n);
	if (segdoc_annotate(d, key, type, value) < 0)
		r = DOC_FULL;
	else if (known == 0 && n >= ANNOTATION_MAX)
		r = TRACE_FULL;
	else if ((saved = subseg_save(s, t, id, d)) < 0)
		r = saved == SUBSEG_TOO_BIG ? TOO_BIG : NOT_DONE;
	else if (known == 0)
		state_set_add(t, ANNOTATION_SET, key);
	segdoc_free(d);
	return r;
}

static int
count_one(void *arg, const char *name)
{
	(void)name;
	++*(size_t *)arg;
	return 0;
}

/* keep()'s answer when the trace keeps all it may already. */
#define KEEP_FULL (-1)

/*
 * Store a finished document for a later send, within the bound on what a
 * trace keeps: 0, KEEP_FULL, or the errno of the failure. On a full disk the
 * open subsegment's own file is rewritten in place, so the space it holds is
 * enough.
 */
static int
keep(struct trace *t, const char *id, const char *text, size_t len)
{
	char open[FILE_NAME_LEN], done[FILE_NAME_LEN];
	size_t n = 0;

	state_each(t, ".done", count_one, &n);
	if (n >= SUBSEG_KEEP_MAX)
		return KEEP_FULL;
	file_name(open, id, "open");
	file_name(done, id, "done");
	if (state_put(t, done, text, len, 0) == 0)
		return 0;
	if ((errno == ENOSPC || errno == EDQUOT) && state_has(t, open) &&
	    state_morph(t, open, done, text, len) == 0)
		return 0;
	return errno ? errno : EIO;
}

/* Why documents that could not be kept are lost, for a warning. */
static const char *
lost_why(int err)
{
	return err == KEEP_FULL ? "the trace keeps " STR(SUBSEG_KEEP_MAX) " already" :
	    strerror(err);
}

/* Claim kept document name ("<id>.done") and add it to the outbox. */
static int
claim_kept(void *arg, const char *name)
{
	struct session *s = ((void **)arg)[0];
	struct trace *t = ((void **)arg)[1];
	char id[ID_LEN + 1], claim[STATE_CLAIM_LEN + 1], *text;
	size_t len;

	if (strlen(name) != ID_LEN + 5)
		return 0;
	snprintf(id, sizeof(id), "%.*s", ID_LEN, name);
	if (state_claim(t, id) < 0)
		return 0;
	state_claim_name(claim, id);
	if (state_get(t, claim, &text, &len) < 0) {
		state_unclaim(t, id);
		return 0;
	}
	outbox_add(s, id, text, len, CLAIMED);
	return 0;
}

static void
claim_all_kept(struct session *s, struct trace *t)
{
	void *arg[2] = { s, t };

	state_each(t, ".done", claim_kept, arg);
}

/*
 * Add finished document text of subsegment id to the outbox, claimed: stored
 * as this call's claim before the lock is given up, so a call killed while
 * sending leaves it for a later one. On a full disk the open subsegment's
 * file (named open) is rewritten into the claim.
 */
static void
outbox_new(struct session *s, struct trace *t, const char *id, const char *open, char *text,
    size_t len)
{
	char claim[STATE_CLAIM_LEN + 1];
	enum held held = CLAIMED;

	state_claim_name(claim, id);
	if (state_put(t, claim, text, len, 0) < 0 &&
	    ((errno != ENOSPC && errno != EDQUOT) || state_morph(t, open, claim, text, len) < 0))
		held = IN_MEMORY;
	outbox_add(s, id, text, len, held);
}

/* What became of one document: its claim settled, or kept if it must be. */
static int
settle(struct session *s, struct trace *t, size_t i, size_t *kept, size_t *lost)
{
	struct outbox *o = s->outbox;
	char claim[STATE_CLAIM_LEN + 1];
	struct outdoc *d = &o->docs[i];
	int err = 0;

	if (o->held[i] == CLAIMED) {
		state_claim_name(claim, d->id);
		if (d->fate != FATE_KEEP)
			state_del(t, claim);
		else if (state_unclaim(t, d->id) == 0)
			++*kept;
	} else if (o->held[i] == IN_MEMORY && d->fate == FATE_KEEP) {
		err = state_relock(t) < 0 ? errno : keep(t, d->id, d->text, d->len);
		if (err == 0)
			++*kept;
		else
			++*lost;
	}
	return err;
}

/*
 * Deliver the outbox; a document that left (or was refused) is forgotten,
 * one that did not is kept. 0, or -1 if anything is still kept. Only in
 * the rare case of a document that could not be claimed is the lock taken
 * again, to keep it.
 */
static int
deliver(struct session *s, struct trace *t)
{
	struct outbox *o = s->outbox;
	char why[700] = "";
	size_t kept = 0, lost = 0;
	int err = 0, e;

	transport_send(s, o->docs, o->n, why, sizeof(why));
	for (size_t i = 0; i < o->n; i++) {
		if ((e = settle(s, t, i, &kept, &lost)) != 0)
			err = e;
		if (o->held[i] == IN_PROGRESS && o->docs[i].fate == FATE_KEEP &&
		    !s->quiet_in_progress)
			warnmsg("%s: %s; the in-progress document of %s is not sent (the complete one "
			    "follows at its end)", s->cmd, why, o->docs[i].id);
		free(o->texts[i]);
	}
	/* One line for the whole delivery: what went wrong, and what became of it. */
	if (lost)
		warnmsg("%s: %s; %zu document%s kept for 'xray-seg send', %zu lost (%s)", s->cmd,
		    why, kept, kept == 1 ? "" : "s", lost, lost_why(err));
	else if (kept)
		warnmsg("%s: %s; %zu document%s kept for 'xray-seg send'", s->cmd, why, kept,
		    kept == 1 ? "" : "s");
	free(o->docs);
	free(o->texts);
	free(o->held);
	free(o);
	s->outbox = NULL;
	return kept + lost ? -1 : 0;
}

int
subseg_close(struct session *s, struct trace *t, int tidy)
{
	int r = 0;

	if (t && s->outbox && s->outbox->n > 0) {
		/* No lock across a send: it may take seconds, and others of the trace wait. */
		state_unlock(t);
		r = deliver(s, t);
	}
	state_close(t, tidy);
	return r;
}

/*
 * Whether the document of subsegment id waits for its segment: the API takes
 * many documents per request, so while the trace's segment is open here its
 * subsegments go with it, or whenever a request's worth has gathered.
 */
static int
waits(struct session *s, struct trace *t, const struct segdoc *d)
{
	size_t n = 0;

	if (s->transport != TRANSPORT_API || segdoc_is_segment(d) || !state_has(t, ROOT_FILE))
		return 0;
	state_each(t, ".done", count_one, &n);
	return n + 1 < TRANSPORT_BATCH;
}

/* e, or a copy of it ending at d's start if it would end before it. */
static const struct seg_end *
not_before_start(struct session *s, const struct segdoc *d, const struct seg_end *e,
    struct seg_end *fixed)
{
	int found;
	double start = segdoc_get_num(d, "start_time", &found);

	if (!found || strtod(e->end_time, NULL) >= start)
		return e;
	warnmsg("%s: end time %s is before the start (%.6f); the start time is used", s->cmd,
	    e->end_time, start);
	*fixed = *e;
	snprintf(fixed->end_time, sizeof(fixed->end_time), "%.6f", start);
	return fixed;
}

int
subseg_end(struct session *s, struct trace *t, const char *id, const struct seg_end *e)
{
	struct seg_end fixed;
	char open[FILE_NAME_LEN];
	struct segdoc *d = subseg_load(s, t, id);
	int shrunk;
	size_t len;
	char *text;

	if (d == NULL)
		return -1;
	segdoc_finish(d, not_before_start(s, d, e, &fixed));
	text = segdoc_wire(d, DOCUMENT_MAX, &len, &shrunk);
	if (shrunk)
		warnmsg("%s: subsegment %s was over %zu bytes: metadata, causes or annotations were "
		    "cut (marked in the document)", s->cmd, id, (size_t)DOCUMENT_MAX);
	file_name(open, id, "open");
	if (waits(s, t, d)) {
		int err = keep(t, id, text, len);

		if (err)
			warnmsg("%s: cannot keep subsegment %s until its segment ends (%s); it is lost",
			    s->cmd, id, lost_why(err));
		free(text);
	} else {
		/* What waited (or was kept before) goes along. */
		if (s->transport == TRANSPORT_API || segdoc_is_segment(d))
			claim_all_kept(s, t);
		outbox_new(s, t, id, open, text, len);
	}
	/*
	 * Stored (claimed or kept) first, forgotten after: a call killed between
	 * loses nothing. An exec's mark goes first, as a killed exec may have
	 * left it: a mark without its subsegment would never go.
	 */
	state_unlive(t, id);
	state_del(t, open);
	/* The segment of a trace started here ends the trace. */
	if (segdoc_is_segment(d)) {
		state_del(t, ROOT_FILE);
		state_set_del(t, ANNOTATION_SET);
	}
	segdoc_free(d);
	return 0;
}

int
subseg_flush(struct session *s, struct trace *t)
{
	state_clean(t);
	claim_all_kept(s, t);
	return 0;
}

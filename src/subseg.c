/* subseg.c: the life of one subsegment across calls (see subseg.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "subseg.h"
#include "util.h"

#define FILE_NAME_LEN (ID_LEN + 6)

static void
file_name(char out[FILE_NAME_LEN], const char *id, const char *kind)
{
	snprintf(out, FILE_NAME_LEN, "%s.%s", id, kind);
}

int
subseg_begin(struct session *s, struct trace *t, const char *id, const char *name,
    const char *parent, const char *ns, const char *start, int push)
{
	char top[ID_LEN + 1], f[FILE_NAME_LEN];
	struct segdoc *d;
	size_t len;
	char *text;
	int r;

	if (parent == NULL)
		parent = state_top(t, s->ctx.parent, top) == 0 ? top : s->ctx.parent;
	d = segdoc_new(id, name, s->ctx.root, parent, start, ns);
	text = segdoc_text(d, &len);
	file_name(f, id, "open");
	r = state_put(t, f, text, len, 1);
	if (r == 0 && push)
		r = state_push(t, s->ctx.parent, id);
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
	int r;

	file_name(f, id, "open");
	if ((r = state_put(t, f, text, len, 0)) < 0)
		warnmsg("%s: cannot record subsegment %s: %s", s->cmd, id, strerror(errno));
	free(text);
	return r;
}

static void
warn_kept(struct session *s, const struct emitter *e, int err, size_t n)
{
	const char *why = err == ECONNREFUSED ? "nothing is listening there" :
	    err == EINVAL ? "not an address" : strerror(err);

	warnmsg("%s: cannot send to the X-Ray daemon at %s (%s); %zu document%s kept for "
	    "'xray-seg send'", s->cmd, e->where, why, n, n == 1 ? "" : "s");
}

int
subseg_end(struct session *s, struct trace *t, const char *id, const struct seg_end *e)
{
	char open[FILE_NAME_LEN], done[FILE_NAME_LEN];
	struct segdoc *d = subseg_load(s, t, id);
	struct emitter em;
	int shrunk, r = 0;
	size_t len;
	char *text;

	if (d == NULL)
		return -1;
	segdoc_finish(d, e);
	text = segdoc_wire(d, DOCUMENT_MAX, &len, &shrunk);
	if (shrunk)
		warnmsg("%s: subsegment %s was over %zu bytes: metadata, causes or annotations were "
		    "cut (marked in the document)", s->cmd, id, (size_t)DOCUMENT_MAX);
	file_name(open, id, "open");
	file_name(done, id, "done");
	/* Sent first, forgotten after: a call killed between the two loses nothing. */
	if (emit_open(&em, s->daemon) == 0 && emit_send(&em, text, len) == 0) {
		state_del(t, open);
	} else {
		int err = errno;

		if (state_put(t, done, text, len, 0) == 0)
			state_del(t, open);
		warn_kept(s, &em, err, 1);
		r = -1;
	}
	emit_close(&em);
	free(text);
	segdoc_free(d);
	return r;
}

struct flush {
	struct session *s;
	struct trace *t;
	struct emitter em;
	int err;      /* first failure, 0 if none */
	size_t kept;
};

static int
flush_one(void *arg, const char *name)
{
	struct flush *f = arg;
	char *text;
	size_t len;

	if (f->err) {
		f->kept++;
		return 0;
	}
	if (state_get(f->t, name, &text, &len) < 0)
		return 0;
	if (emit_send(&f->em, text, len) == 0) {
		state_del(f->t, name);
	} else {
		f->err = errno;
		f->kept++;
	}
	free(text);
	return 0;
}

int
subseg_flush(struct session *s, struct trace *t)
{
	struct flush f = { s, t, { -1, "" }, 0, 0 };

	if (emit_open(&f.em, s->daemon) < 0)
		f.err = errno;
	state_each(t, ".done", flush_one, &f);
	if (f.kept)
		warn_kept(s, &f.em, f.err, f.kept);
	emit_close(&f.em);
	return f.kept ? -1 : 0;
}

/* cmd_end.c: end: close a subsegment with its outcome and send it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "cmd.h"
#include "emit.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

/* Open subsegments begun inside one that end ends with it, a batch. */
#define INSIDE_MAX 64

struct end_opts {
	const char *id;         /* the ID operand, or NULL */
	enum export_to export;
	int inside;             /* also end what is open inside it */
	const char *transport;  /* checked, or NULL */
	char *cause_read;       /* owned: --cause read from a file or stdin */
	int strict;
};

static int
parse_end(int argc, char **argv, struct seg_end *e, struct end_opts *o)
{
	static const struct option lo[] = {
		{ "error", no_argument, NULL, 'e' },
		{ "fault", no_argument, NULL, 'f' },
		{ "throttle", no_argument, NULL, 't' },
		{ "cause", required_argument, NULL, 'c' },
		{ "exit-code", required_argument, NULL, 'x' },
		{ "http-status", required_argument, NULL, 's' },
		{ "end-time", required_argument, NULL, OPT_TIME },
		{ "export", optional_argument, NULL, OPT_EXPORT },
		{ "inside", no_argument, NULL, OPT_INSIDE },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum transport t;
	long v;
	int c;

	o->strict = session_strict();
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("end"));
			return -1;
		case 'e':
			e->error = 1;
			break;
		case 'f':
			e->fault = 1;
			break;
		case 't':
			e->throttle = 1;
			break;
		case 'c':
			free(o->cause_read);
			o->cause_read = NULL;
			cmd_text_arg("end", "the cause", optarg, &e->cause, &o->cause_read);
			break;
		case 'x':
			if (parse_long(optarg, 0, 255, &v) < 0)
				return cmd_usage("end", "exit code '%s' is not 0..255", optarg);
			e->has_exit = 1;
			e->exit_code = (int)v;
			break;
		case 's':
			if (parse_long(optarg, 100, 599, &v) < 0)
				return cmd_usage("end", "HTTP status '%s' is not 100..599", optarg);
			e->http_status = (int)v;
			break;
		case OPT_TIME:
			if (cmd_time("end", optarg, e->end_time) < 0)
				return EXIT_USAGE;
			break;
		case OPT_EXPORT:
			if (cmd_export_to("end", optarg, &o->export) < 0)
				return EXIT_USAGE;
			break;
		case OPT_INSIDE:
			o->inside = 1;
			break;
		case OPT_TRANSPORT:
			if (cmd_transport("end", optarg, &t) < 0)
				return EXIT_USAGE;
			o->transport = optarg;
			break;
		case OPT_STRICT:
			o->strict = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cmd_usage("end", "too many arguments");
	o->id = argc > optind ? argv[optind] : NULL;
	if (o->id && cmd_check_id("end", "subsegment", o->id) < 0)
		return EXIT_USAGE;
	return e->cause ? cmd_utf8("end", o->strict, "--cause", e->cause) : 0;
}

/*
 * End what was begun inside id in this scope and is still open, innermost
 * first: a script that stopped half way (set -e, a failed step) still has
 * its inner work, and the causes recorded there, delivered.
 */
static void
end_inside(struct session *s, struct trace *t, const char *id, const char *end_time)
{
	char inside[INSIDE_MAX][ID_LEN + 1], last[ID_LEN + 1] = "";
	size_t n = INSIDE_MAX;
	struct seg_end e;

	memset(&e, 0, sizeof(e));
	snprintf(e.end_time, sizeof(e.end_time), "%s", end_time);
	/* In batches, until none is left, or one that cannot be ended comes back. */
	while (t && n == INSIDE_MAX) {
		n = state_above(t, s->ctx.parent, id, inside, INSIDE_MAX);
		if (n == 0 || strcmp(inside[0], last) == 0)
			break;
		memcpy(last, inside[0], sizeof(last));
		for (size_t i = 0; i < n; i++)
			subseg_end(s, t, inside[i], &e);
	}
}

/*
 * The context to restore around subsegment id, which is about to end: its
 * parent's ID, or "" for none (a segment). NULL if id cannot be read.
 */
static char *
restore_code(struct session *s, struct trace *t, const char *id)
{
	struct segdoc *d = subseg_load(s, t, id);
	const char *parent;
	char *code = NULL;

	if (d == NULL)
		return NULL;
	parent = segdoc_get_str(d, "parent_id");
	code = xstrdup(segdoc_is_segment(d) || parent == NULL ? "" : parent);
	segdoc_free(d);
	return code;
}

/* End id (and with --inside what is open in it); the --export code, or NULL. */
static char *
end_one(struct session *s, struct trace *t, const char *id, const struct seg_end *e,
    const struct end_opts *o)
{
	char *restore = o->export ? restore_code(s, t, id) : NULL;
	char top[ID_LEN + 1];

	if (o->inside)
		end_inside(s, t, id, e->end_time);
	subseg_end(s, t, id, e);
	/* Drops the ended id from the scope's stack if it was innermost. */
	if (t)
		state_top(t, s->ctx.parent, top);
	return restore;
}

/*
 * end --export without an ID ends what begin --export opened: the context's
 * Parent, with what is still open inside it, even after a failed step left
 * its own subsegment innermost (an EXIT trap after set -e).
 */
static void
export_target(const struct session *s, struct trace *t, struct end_opts *o)
{
	char f[ID_LEN + sizeof(".open")];

	if (!o->export || o->id || t == NULL || !is_lower_hex(s->ctx.parent, ID_LEN))
		return;
	snprintf(f, sizeof(f), "%s.open", s->ctx.parent);
	if (state_has(t, f)) {
		o->id = s->ctx.parent;
		o->inside = 1;
	}
}

int
cmd_end(int argc, char **argv)
{
	struct end_opts o = { NULL, EXPORT_NONE, 0, NULL, NULL, 0 };
	struct seg_end e;
	char id[ID_LEN + 1], *restore = NULL;
	struct session s;
	struct trace *t = NULL;
	int r, status;

	memset(&e, 0, sizeof(e));
	clock_now(e.end_time);
	if ((r = parse_end(argc, argv, &e, &o)) != 0) {
		free(o.cause_read);
		return r < 0 ? EXIT_OK : r;
	}
	status = session_start(&s, "end");
	if (o.transport)
		session_transport(o.transport, &s.transport);
	/* Standard output is shell code to eval: documents printed go to stderr. */
	if (o.export)
		s.stdout_fd = STDERR_FILENO;
	if (s.recording) {
		/* A state directory refused is said once: nothing to end then. */
		int refused = session_trace(&s, 0, &t) < 0 && errno != ENOENT, fits = 1;

		export_target(&s, t, &o);
		if (!refused && subseg_target(&s, t, o.id, 0, id) == 0) {
			if (o.strict && e.cause)
				fits = subseg_end_fits(&s, t, id, &e);
			if (fits == 0)
				status = cmd_usage("end", "with its cause, subsegment %s would be over "
				    "%zu bytes; not ended", id, (size_t)DOCUMENT_MAX);
			else if (fits > 0)
				restore = end_one(&s, t, id, &e, &o);
		}
		subseg_close(&s, t, 1);
	}
	if (restore)
		cmd_print_export(&s, *restore ? restore : NULL, o.export);
	free(restore);
	free(o.cause_read);
	session_end(&s);
	return status;
}

/* cmd_status.c: status: what a trace holds open and undelivered, a line each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "ids.h"
#include "segdoc.h"
#include "session.h"
#include "state.h"
#include "util.h"

/* What one status listing needs: the trace it reads, and the time of the call. */
struct listing {
	struct trace *t;
	const char *root;
	double now;
	const char *kind;   /* of the files listed now */
};

/*
 * One line: trace, id, kind, age in seconds (since the start for open work,
 * since the end for finished documents), name. A file that a concurrent
 * call removed meanwhile is left out.
 */
static int
list_one(void *arg, const char *file)
{
	struct listing *l = arg;
	struct segdoc *d;
	double when;
	char *text;
	size_t len;
	int found;

	if (state_get(l->t, file, &text, &len) < 0)
		return 0;
	if ((d = segdoc_parse(text, len)) != NULL) {
		when = segdoc_get_num(d, strcmp(l->kind, "open") == 0 ? "start_time" : "end_time",
		    &found);
		printf("%s %.*s %s %.1fs %s\n", l->root, ID_LEN, file, l->kind,
		    found && when <= l->now ? l->now - when : 0.0, segdoc_get_str(d, "name") ?
		    segdoc_get_str(d, "name") : "");
		segdoc_free(d);
	}
	free(text);
	return 0;
}

/* List trace root of state directory dir; 0, or -1 if its state is gone. */
static int
list_trace(struct session *s, const char *root)
{
	struct listing l = { NULL, root, 0, NULL };
	char now[TIME_LEN];
	static const char *const kinds[][2] = {
		{ ".open", "open" }, { ".done", "kept" }, { ".sending", "sending" },
	};

	if (state_open(session_state_dir(s), root, 0, &l.t) < 0)
		return -1;
	clock_now(now);
	l.now = strtod(now, NULL);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		l.kind = kinds[i][1];
		state_each(l.t, kinds[i][0], list_one, &l);
	}
	state_close(l.t, 0);
	return 0;
}

static int
list_each(void *arg, const char *root)
{
	list_trace(arg, root);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct session s;
	int c, all = 0, status;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("status"));
			return EXIT_OK;
		case OPT_ALL:
			all = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cmd_usage("status", "too many arguments");
	/* --all needs no context, as send --all. */
	status = all ? (session_start_quiet(&s, "status"), EXIT_OK) : session_start(&s, "status");
	if (all)
		session_each_trace(&s, list_each, &s);
	else if (s.ctx.root[0] && list_trace(&s, s.ctx.root) < 0 && errno != ENOENT)
		warnmsg("status: cannot read the state of trace %s: %s", s.ctx.root,
		    state_strerror(errno));
	session_end(&s);
	fflush(stdout);
	return status;
}

/* cmd_begin.c: begin: open a subsegment and print its ID. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ids.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

/* --namespace: NULL and -1 when the value is not one X-Ray knows for subsegments. */
int
cmd_namespace(const char *cmd, const char *v, const char **out)
{
	if (strcmp(v, "aws") == 0 || strcmp(v, "remote") == 0) {
		*out = v;
		return 0;
	}
	cmd_usage(cmd, "namespace '%s' is not aws or remote", v);
	return -1;
}

/* Clean NAME for X-Ray; NULL (reported) when nothing usable is left. */
char *
cmd_name(const char *cmd, const char *name, int strict)
{
	int changed;
	char *clean = segdoc_clean_name(name, &changed);

	/* The name as given may hold anything: messages show only what X-Ray takes. */
	if (*clean == '\0' || (changed && strict)) {
		if (*clean == '\0')
			cmd_usage(cmd, "name has no character X-Ray allows (letters, digits, spaces "
			    "and _.:/%%&#=+-@)");
		else
			cmd_usage(cmd, "name has characters X-Ray does not allow or is over %d "
			    "characters (as X-Ray takes it: '%s')", NAME_MAX_CHARS, clean);
		free(clean);
		return NULL;
	}
	if (changed)
		warnmsg("%s: name changed to '%s' (X-Ray allows letters, digits, spaces and "
		    "_.:/%%&#=+-@, up to %d characters)", cmd, clean, NAME_MAX_CHARS);
	return clean;
}

/*
 * Append the variables to the file GitHub Actions names in $GITHUB_ENV, as
 * NAME=value lines that later steps of the job get in their environment
 * (an empty value for none: a step cannot unset a variable for the next).
 */
static void
github_env(const char *const name[], const char *const value[], size_t n)
{
	const char *path = getenv("GITHUB_ENV");
	FILE *f;
	int bad = 0;

	if (path == NULL || *path == '\0') {
		warnmsg("--export=github: GITHUB_ENV is not set (not a GitHub Actions step?); "
		    "nothing exported");
		return;
	}
	if ((f = fopen(path, "ae")) == NULL) {
		warnmsg("--export=github: cannot open %s: %s; nothing exported", path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		/* One line each: a header never holds a newline, but a file is no place to find out. */
		if (value[i] && strchr(value[i], '\n'))
			continue;
		bad |= fprintf(f, "%s=%s\n", name[i], value[i] ? value[i] : "") < 0;
	}
	if (fclose(f) != 0 || bad)
		warnmsg("--export=github: cannot write %s: %s", path, strerror(errno));
}

void
cmd_print_export(const struct session *s, const char *id, enum export_to to)
{
	static const char *const names[] = { "_X_AMZN_TRACE_ID", "TRACEPARENT" };
	char *h = id ? tracectx_format(&s->ctx, id) : NULL;
	char *tp = id ? tracectx_traceparent(&s->ctx, id) : NULL;
	const char *values[] = { h, tp };

	if (to == EXPORT_GITHUB)
		github_env(names, values, 2);
	else if (id == NULL)
		fputs("unset _X_AMZN_TRACE_ID TRACEPARENT\n", stdout);
	else
		for (size_t i = 0; i < 2; i++)
			cmd_print_var(names[i], values[i]);
	free(h);
	free(tp);
}

int
cmd_export_to(const char *cmd, const char *v, enum export_to *to)
{
	if (v == NULL || strcmp(v, "sh") == 0)
		*to = EXPORT_SH;
	else if (strcmp(v, "github") == 0)
		*to = EXPORT_GITHUB;
	else
		return cmd_usage(cmd, "--export '%s' is not sh or github", v), -1;
	return 0;
}

void
cmd_print_var(const char *name, const char *value)
{
	char *q;

	if (value == NULL) {
		printf("unset %s\n", name);
		return;
	}
	/* A header's other fields may hold any printable character, quotes too. */
	q = shell_quote(value);
	printf("export %s=%s\n", name, q);
	free(q);
}

struct begin_opts {
	const char *parent, *ns;
	enum export_to export;
	int in_progress, strict;
	char start[TIME_LEN];   /* --start-time, else now */
	struct root_opts root;
};

static int
parse_begin(int argc, char **argv, struct begin_opts *o)
{
	static const struct option lo[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "export", optional_argument, NULL, OPT_EXPORT },
		{ "start-time", required_argument, NULL, OPT_TIME },
		{ "in-progress", no_argument, NULL, OPT_IN_PROGRESS },
		ROOT_LONGOPTS,
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	o->strict = session_strict();
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if ((r = cmd_root_option("begin", c, optarg, &o->root)) != 0) {
			if (r < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("begin"));
			return -1;
		case 'p':
			if (cmd_check_id("begin", "parent", optarg) < 0)
				return EXIT_USAGE;
			o->parent = optarg;
			break;
		case 'n':
			if (cmd_namespace("begin", optarg, &o->ns) < 0)
				return EXIT_USAGE;
			break;
		case OPT_EXPORT:
			if (cmd_export_to("begin", optarg, &o->export) < 0)
				return EXIT_USAGE;
			break;
		case OPT_TIME:
			if (cmd_time("begin", optarg, o->start) < 0)
				return EXIT_USAGE;
			break;
		case OPT_IN_PROGRESS:
			o->in_progress = 1;
			break;
		case OPT_STRICT:
			o->strict = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cmd_usage("begin", argc == optind ? "missing NAME" : "too many arguments");
	return o->root.service_version ?
	    cmd_utf8("begin", o->strict, "--service-version", o->root.service_version) : 0;
}

int
cmd_begin(int argc, char **argv)
{
	struct begin_opts o = { NULL, NULL, EXPORT_NONE, 0, 0, "", { NULL, NULL, NULL } };
	char id[ID_LEN + 1], *name;
	const char *v;
	struct session s;
	struct trace *t;
	int r, status, begun = 0;

	clock_now(o.start);
	if ((r = parse_begin(argc, argv, &o)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((name = cmd_name("begin", argv[optind], o.strict)) == NULL)
		return EXIT_USAGE;
	ids_new(id);
	/* Nothing would carry the context on, and so end what is begun: begin nothing. */
	if (o.export == EXPORT_GITHUB && ((v = getenv("GITHUB_ENV")) == NULL || *v == '\0')) {
		warnmsg("begin: --export=github: GITHUB_ENV is not set (not a GitHub Actions step?); "
		    "nothing begun");
		free(name);
		return EXIT_OK;
	}
	/* Only --export can start a trace: without it nothing would carry the trace on. */
	status = o.export ? session_start_root(&s, "begin", &o.root) : session_start(&s, "begin");
	s.in_progress |= o.in_progress;
	/* Standard output is the ID or shell code: in-progress documents go to stderr. */
	s.stdout_fd = STDERR_FILENO;
	if (s.recording && session_trace(&s, 1, &t) == 0) {
		begun = subseg_begin(&s, t, id, name, o.parent, o.ns, o.start,
		    o.export ? PUSH_OWN : PUSH_SCOPE) == 0;
		subseg_close(&s, t, 0);
	}
	/* The ID is printed whatever happened, so "end $id" keeps working. */
	if (!o.export)
		printf("%s\n", id);
	else if (begun || (s.rooted && !s.recording))
		cmd_print_export(&s, id, o.export); /* a trace not sampled is passed on as such */
	session_end(&s);
	free(name);
	return status;
}

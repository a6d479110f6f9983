/* cmd_begin.c: begin: open a subsegment and print its ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
cmd_name(const char *cmd, const char *name)
{
	int changed;
	char *clean = segdoc_clean_name(name, &changed);

	if (*clean == '\0') {
		free(clean);
		cmd_usage(cmd, "name '%s' has no character X-Ray allows", name);
		return NULL;
	}
	if (changed)
		warnmsg("%s: name changed to '%s' (X-Ray allows letters, digits, spaces and "
		    "_.:/%%&#=+-@, up to %d characters)", cmd, clean, NAME_MAX_CHARS);
	return clean;
}

int
cmd_begin(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *parent = NULL, *ns = NULL;
	char id[ID_LEN + 1], start[TIME_LEN], *name;
	struct session s;
	struct trace *t;
	int c, status;

	clock_now(start);
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("begin"));
			return EXIT_OK;
		case 'p':
			if (cmd_check_id("begin", "parent", optarg) < 0)
				return EXIT_USAGE;
			parent = optarg;
			break;
		case 'n':
			if (cmd_namespace("begin", optarg, &ns) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cmd_usage("begin", argc == optind ? "missing NAME" : "too many arguments");
	if ((name = cmd_name("begin", argv[optind])) == NULL)
		return EXIT_USAGE;
	ids_new(id);
	status = session_start(&s, "begin");
	if (s.recording && session_trace(&s, 1, &t) == 0) {
		subseg_begin(&s, t, id, name, parent, ns, start, 1);
		state_close(t, 0);
	}
	/* The ID is printed whatever happened, so "end $id" keeps working. */
	printf("%s\n", id);
	session_end(&s);
	free(name);
	return status;
}

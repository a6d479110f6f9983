/* cmd_header.c: header: the trace header a child process or request should carry. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "session.h"
#include "state.h"
#include "util.h"

int
cmd_header(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char top[ID_LEN + 1];
	struct session s;
	struct trace *t;
	int c, status;
	char *h;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		cmd_print_help(cmd_find("header"));
		return EXIT_OK;
	}
	if (optind != argc)
		return cmd_usage("header", "too many arguments");
	status = session_start(&s, "header");
	if (s.recording) {
		const char *parent = s.ctx.parent;

		if (session_trace(&s, 0, &t) == 0) {
			if (state_top(t, s.ctx.parent, top) == 0)
				parent = top;
			state_close(t, 0);
		}
		h = tracectx_format(&s.ctx, parent);
		printf("%s\n", h);
		free(h);
	} else if (s.st != CTX_MISSING && s.st != CTX_INVALID) {
		/* Not recording: pass the header on exactly as it came. */
		printf("%s\n", s.header);
	} else if (!s.enabled && s.header) {
		printf("%s\n", s.header);
	}
	session_end(&s);
	return status;
}

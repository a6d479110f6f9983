/* cmd_send.c: send: deliver what this trace still keeps, before Lambda freezes. */
#include "cmd.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

int
cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct session s;
	struct trace *t;
	int c, status;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		cmd_print_help(cmd_find("send"));
		return EXIT_OK;
	}
	if (optind != argc)
		return cmd_usage("send", "too many arguments");
	status = session_start(&s, "send");
	if (s.recording && session_trace(&s, 0, &t) == 0) {
		subseg_flush(&s, t);
		state_close(t, 1);
	}
	session_end(&s);
	return status;
}

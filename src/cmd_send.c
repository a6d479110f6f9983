/* cmd_send.c: send: deliver what is still kept, before Lambda freezes or later. */
#include <stdlib.h>

#include "cmd.h"
#include "session.h"
#include "state.h"
#include "subseg.h"
#include "util.h"

/* Deliver what trace root keeps. */
static int
send_trace(void *arg, const char *root)
{
	struct session *s = arg;
	struct trace *t;

	if (state_open(s->state_dir, root, 0, &t) == 0) {
		subseg_flush(s, t);
		subseg_close(s, t, 1);
	}
	return 0;
}

int
cmd_send(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *transport = NULL;
	struct session s;
	struct trace *t;
	enum transport tr;
	int c, all = 0, status;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("send"));
			return EXIT_OK;
		case OPT_ALL:
			all = 1;
			break;
		case OPT_TRANSPORT:
			if (cmd_transport("send", optarg, &tr) < 0)
				return EXIT_USAGE;
			transport = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cmd_usage("send", "too many arguments");
	/* --all needs no context: it is how kept roots of finished jobs get out. */
	status = all ? (session_start_quiet(&s, "send"), EXIT_OK) : session_start(&s, "send");
	if (transport)
		session_transport(transport, &s.transport);
	if (all && s.enabled)
		session_each_trace(&s, send_trace, &s);
	else if (s.recording && session_trace(&s, 0, &t) == 0) {
		subseg_flush(&s, t);
		subseg_close(&s, t, 1);
	}
	session_end(&s);
	return status;
}

/* cmd_end.c: end: close a subsegment with its outcome and send it. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

static int
parse_end(int argc, char **argv, struct seg_end *e, const char **id)
{
	static const struct option lo[] = {
		{ "error", no_argument, NULL, 'e' },
		{ "fault", no_argument, NULL, 'f' },
		{ "throttle", no_argument, NULL, 't' },
		{ "cause", required_argument, NULL, 'c' },
		{ "exit-code", required_argument, NULL, 'x' },
		{ "http-status", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

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
			e->cause = optarg;
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
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cmd_usage("end", "too many arguments");
	*id = argc > optind ? argv[optind] : NULL;
	if (*id && cmd_check_id("end", "subsegment", *id) < 0)
		return EXIT_USAGE;
	return 0;
}

int
cmd_end(int argc, char **argv)
{
	struct seg_end e;
	const char *given = NULL;
	char id[ID_LEN + 1];
	struct session s;
	struct trace *t = NULL;
	int r, status;

	memset(&e, 0, sizeof(e));
	clock_now(e.end_time);
	if ((r = parse_end(argc, argv, &e, &given)) != 0)
		return r < 0 ? EXIT_OK : r;
	status = session_start(&s, "end");
	if (s.recording) {
		session_trace(&s, 0, &t);
		if (subseg_target(&s, t, given, 0, id) == 0) {
			subseg_end(&s, t, id, &e);
			/* Drops the ended id from the scope's stack if it was innermost. */
			if (t)
				state_top(t, s.ctx.parent, id);
		}
		state_close(t, 1);
	}
	session_end(&s);
	return status;
}

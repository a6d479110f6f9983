/* cmd_guard.c: guard: close what is still open just before the invocation's deadline. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "ids.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

#define MARGIN_DEFAULT_MS 500L
#define TIMEOUT_MESSAGE "still open at the invocation deadline"

/* Stopped by the bootstrap once the invocation is over: nothing to do, and no noise. */
static void
stopped(int sig)
{
	(void)sig;
	_exit(EXIT_OK);
}

static void
sleep_until_ms(long when_ms)
{
	struct timespec ts = { (time_t)(when_ms / 1000), (long)(when_ms % 1000) * 1000000L };

	if (when_ms <= 0)
		return; /* already past */
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* An open subsegment and when it started, to end the innermost first. */
struct opened {
	char id[ID_LEN + 1];
	double start;
};

struct open_list {
	struct session *s;
	struct trace *t;
	struct opened *v;
	size_t n;
};

static int
collect(void *arg, const char *name)
{
	struct open_list *l = arg;
	struct segdoc *d;
	int found;

	if (strlen(name) != ID_LEN + 5)
		return 0;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%.*s", ID_LEN, name);
	if ((d = subseg_load(l->s, l->t, l->v[l->n].id)) == NULL)
		return 0;
	l->v[l->n++].start = segdoc_get_num(d, "start_time", &found);
	segdoc_free(d);
	return 0;
}

static int
later_first(const void *a, const void *b)
{
	double x = ((const struct opened *)a)->start, y = ((const struct opened *)b)->start;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* End every subsegment the trace still has open as a timeout, latest begun first. */
static void
close_all(struct session *s)
{
	struct open_list l = { s, NULL, NULL, 0 };
	struct seg_end e;

	if (session_trace(s, 0, &l.t) < 0)
		return; /* no state: nothing was left open */
	state_each(l.t, ".open", collect, &l);
	if (l.n > 1) /* qsort must not be given the NULL of an empty list */
		qsort(l.v, l.n, sizeof(*l.v), later_first);
	memset(&e, 0, sizeof(e));
	e.fault = 1;
	e.cause = TIMEOUT_MESSAGE;
	e.cause_type = "Timeout";
	for (size_t i = 0; i < l.n; i++) {
		clock_now(e.end_time);
		subseg_end(s, l.t, l.v[i].id, &e);
	}
	if (l.n)
		warnmsg("guard: %zu subsegment%s still open at the deadline ended as timeouts", l.n,
		    l.n == 1 ? "" : "s");
	free(l.v);
	subseg_close(s, l.t, 1);
}

static int
parse_ms(const char *what, const char *v, long max, long *out)
{
	if (parse_long(v, 0, max, out) < 0)
		return cmd_usage("guard", "%s '%s' is not a number of milliseconds", what, v), -1;
	return 0;
}

int
cmd_guard(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "deadline", required_argument, NULL, 'd' },
		{ "margin", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *deadline = NULL;
	long when = 0, margin = MARGIN_DEFAULT_MS;
	struct session s;
	int c, status;

	/* From the start: the bootstrap may stop a guard it has only just begun. */
	signal(SIGTERM, stopped);
	signal(SIGINT, stopped);
	signal(SIGHUP, stopped);
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("guard"));
			return EXIT_OK;
		case 'd':
			deadline = optarg;
			break;
		case 'm':
			if (parse_ms("margin", optarg, 15 * 60 * 1000, &margin) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cmd_usage("guard", "too many arguments");
	if (deadline && parse_ms("deadline", deadline, LONG_MAX, &when) < 0)
		return EXIT_USAGE;
	status = session_start(&s, "guard");
	if (deadline == NULL && s.deadline_ms && parse_long(s.deadline_ms, 0, LONG_MAX, &when) < 0) {
		warnmsg("guard: XRAY_SEG_DEADLINE_MS '%s' is not epoch milliseconds; not guarding",
		    s.deadline_ms);
		s.recording = 0;
	}
	if (s.recording && when == 0)
		warnmsg("guard: no deadline (--deadline, or XRAY_SEG_DEADLINE_MS from "
		    "'xray-seg context'); not guarding");
	if (s.recording && when > 0) {
		sigset_t stop;

		sleep_until_ms(when - margin);
		/* Once ending has begun it finishes: a stop now would leave one half sent. */
		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		sigaddset(&stop, SIGHUP);
		sigprocmask(SIG_BLOCK, &stop, NULL);
		close_all(&s);
	}
	session_end(&s);
	return status;
}

/*
 * cmd_listen.c: listen: a local receiver for development and tests. Shows
 * every segment document that arrives on a loopback UDP port, from xray-seg
 * or any X-Ray SDK, and a waterfall of each trace once it goes quiet.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "emit.h"
#include "segdoc.h"
#include "util.h"

#define TRACES_MAX 64
#define DOCS_MAX 1000     /* per trace: a waterfall longer than this is not read */
#define QUIET_SECONDS 1.0 /* a trace this long without news gets its waterfall */
#define BAR 30

struct view {
	char root[64];
	struct segdoc *doc[DOCS_MAX];
	size_t n, shown;      /* documents held, and held when last drawn */
	double last;          /* monotonic time of the last arrival */
};

struct listener {
	int fd, json, colour;
	long count, max;      /* documents seen, and how many to stop after (0: no limit) */
	double idle;          /* stop after this long without a datagram (0: never) */
	struct view *views[TRACES_MAX];
};

/* Set by SIGINT/SIGTERM: the one way a signal can ask the loop to stop. */
static volatile sig_atomic_t stop_asked;

static void
ask_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
paint(const struct listener *l, const struct segdoc *d)
{
	if (!l->colour)
		return "";
	if (segdoc_get_flag(d, "fault"))
		return "\033[31m";
	if (segdoc_get_flag(d, "throttle"))
		return "\033[35m";
	if (segdoc_get_flag(d, "error"))
		return "\033[33m";
	return "\033[32m";
}

static const char *
marks(const struct segdoc *d)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%s%s%s", segdoc_get_flag(d, "error") ? " error" : "",
	    segdoc_get_flag(d, "throttle") ? " throttle" : "",
	    segdoc_get_flag(d, "fault") ? " fault" : "");
	return buf;
}

static double
duration_ms(const struct segdoc *d)
{
	int f1, f2;
	double s = segdoc_get_num(d, "start_time", &f1), e = segdoc_get_num(d, "end_time", &f2);

	return f1 && f2 ? (e - s) * 1000 : -1;
}

/* Text safe to print on a terminal: control characters become '?'. Caller frees. */
static char *
printable(const char *s)
{
	char *t = xstrdup(s ? s : "?");

	for (char *p = t; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return t;
}

static void
duration_text(const struct segdoc *d, char *buf, size_t len)
{
	double ms = duration_ms(d);

	if (ms < 0)
		snprintf(buf, len, "%11s", "in progress");
	else
		snprintf(buf, len, "%8.1f ms", ms);
}

/* The live line of one document. */
static void
show_line(const struct listener *l, const struct segdoc *d)
{
	const char *name = segdoc_get_str(d, "name"), *trace = segdoc_get_str(d, "trace_id");
	char *ann = segdoc_annotations(d), stamp[16], dur[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	duration_text(d, dur, sizeof(dur));
	char *pname = printable(name), *pann = printable(ann), *ptrace = printable(trace);

	printf("%s %s %s%-24s%s %s%s%s%s\n", stamp, ptrace, paint(l, d), pname,
	    l->colour ? "\033[0m" : "", dur, marks(d), *pann ? " " : "", pann);
	free(pname);
	free(pann);
	free(ptrace);
	free(ann);
}

static void
bar(char out[BAR + 3], double from, double to, double span)
{
	int a = span > 0 ? (int)(from / span * BAR) : 0, b = span > 0 ? (int)(to / span * BAR) : BAR;

	if (a >= BAR)
		a = BAR - 1;
	if (b <= a)
		b = a + 1;
	out[0] = '|';
	for (int i = 0; i < BAR; i++)
		out[i + 1] = i >= a && i < b ? '#' : ' ';
	out[BAR + 1] = '|';
	out[BAR + 2] = '\0';
}

static int
by_start(const void *x, const void *y)
{
	int f;
	double a = segdoc_get_num(*(struct segdoc *const *)x, "start_time", &f);
	double b = segdoc_get_num(*(struct segdoc *const *)y, "start_time", &f);

	return a < b ? -1 : a > b;
}

static int
held(const struct view *v, const char *id)
{
	for (size_t i = 0; id && i < v->n; i++)
		if (strcmp(segdoc_get_str(v->doc[i], "id"), id) == 0)
			return 1;
	return 0;
}

static void draw(const struct listener *, const struct view *, size_t, int, double, double,
    unsigned char *);

/* Draw the children of document i (not yet drawn), in start order. */
static void
draw_children(const struct listener *l, const struct view *v, size_t i, int depth, double t0,
    double span, unsigned char *drawn)
{
	const char *id = segdoc_get_str(v->doc[i], "id");

	for (size_t j = 0; j < v->n; j++) {
		const char *p = segdoc_get_str(v->doc[j], "parent_id");

		if (!drawn[j] && p && strcmp(p, id) == 0)
			draw(l, v, j, depth, t0, span, drawn);
	}
}

/* Draw document i and, below it, its children. Each document is drawn once. */
static void
draw(const struct listener *l, const struct view *v, size_t i, int depth, double t0, double span,
    unsigned char *drawn)
{
	const struct segdoc *d = v->doc[i];
	int f, indent = depth < 12 ? depth : 12;
	double s = segdoc_get_num(d, "start_time", &f), ms = duration_ms(d);
	char b[BAR + 3], dur[32], *ann = segdoc_annotations(d), *name;

	drawn[i] = 1;
	name = printable(segdoc_get_str(d, "name"));
	bar(b, (s - t0) * 1000, (s - t0) * 1000 + (ms < 0 ? 0 : ms), span);
	duration_text(d, dur, sizeof(dur));
	printf("  %*s%s%-*s%s %s %+9.1f ms %s%s%s", 2 * indent, "", paint(l, d), 28 - 2 * indent,
	    name, l->colour ? "\033[0m" : "", b, (s - t0) * 1000, dur, marks(d), *ann ? " " : "");
	free(name);
	name = printable(ann);
	printf("%s\n", name);
	free(name);
	free(ann);
	draw_children(l, v, i, depth + 1, t0, span, drawn);
}

static void
waterfall(const struct listener *l, struct view *v)
{
	double t0 = 0, t1 = 0;
	unsigned char *drawn;
	int f;

	for (size_t i = 0; i < v->n; i++) {
		double s = segdoc_get_num(v->doc[i], "start_time", &f), ms = duration_ms(v->doc[i]);

		if (i == 0 || s < t0)
			t0 = s;
		if (s + (ms < 0 ? 0 : ms / 1000) > t1)
			t1 = s + (ms < 0 ? 0 : ms / 1000);
	}
	printf("trace %s: %zu document%s, %.1f ms\n", v->root, v->n, v->n == 1 ? "" : "s",
	    (t1 - t0) * 1000);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers is sorted */
	qsort(v->doc, v->n, sizeof(v->doc[0]), by_start);
	drawn = xmalloc(v->n);
	memset(drawn, 0, v->n);
	/* Roots first: documents whose parent is not here (the function's segment). */
	for (size_t i = 0; i < v->n; i++)
		if (!drawn[i] && !held(v, segdoc_get_str(v->doc[i], "parent_id")))
			draw(l, v, i, 0, t0, (t1 - t0) * 1000, drawn);
	/* Then whatever a parent cycle kept from being reached. */
	for (size_t i = 0; i < v->n; i++)
		if (!drawn[i])
			draw(l, v, i, 0, t0, (t1 - t0) * 1000, drawn);
	free(drawn);
	fflush(stdout);
	v->shown = v->n;
}

static struct view *
view_for(struct listener *l, const char *root)
{
	size_t i, oldest = 0;

	for (i = 0; i < TRACES_MAX && l->views[i]; i++) {
		if (strcmp(l->views[i]->root, root) == 0)
			return l->views[i];
		if (l->views[i]->last < l->views[oldest]->last)
			oldest = i;
	}
	if (i == TRACES_MAX) {
		/* Full: the trace heard from least recently makes room. */
		for (size_t j = 0; j < l->views[oldest]->n; j++)
			segdoc_free(l->views[oldest]->doc[j]);
		free(l->views[oldest]);
		i = oldest;
	}
	l->views[i] = xmalloc(sizeof(struct view));
	memset(l->views[i], 0, sizeof(struct view));
	snprintf(l->views[i]->root, sizeof(l->views[i]->root), "%s", root);
	return l->views[i];
}

/* Header line and document of one datagram; NULL with *why when malformed. */
static struct segdoc *
read_datagram(char *buf, size_t n, const char **why)
{
	char *nl = memchr(buf, '\n', n);
	struct segdoc *h, *d;
	int found, ok;

	if (nl == NULL || nl + 1 == buf + n)
		return *why = "no header line or no document", NULL;
	*nl = '\0';
	h = segdoc_parse(buf, (size_t)(nl - buf));
	ok = h && segdoc_get_str(h, "format") && strcasecmp(segdoc_get_str(h, "format"), "json") == 0 &&
	    segdoc_get_num(h, "version", &found) == 1 && found;
	segdoc_free(h);
	if (!ok)
		return *why = "header is not {\"format\":\"json\",\"version\":1}", NULL;
	buf[n] = '\0';
	if ((d = segdoc_parse(nl + 1, n - (size_t)(nl + 1 - buf))) == NULL)
		return *why = "document is not a JSON object", NULL;
	if (!segdoc_get_str(d, "id") || !segdoc_get_str(d, "name"))
		return segdoc_free(d), *why = "document has no id or name", NULL;
	return d;
}

static void
receive(struct listener *l, char *buf)
{
	ssize_t n = recv(l->fd, buf, 65536, 0);
	const char *why, *root;
	struct segdoc *d;
	struct view *v;

	if (n < 0)
		return;
	if ((d = read_datagram(buf, (size_t)n, &why)) == NULL) {
		warnmsg("listen: malformed datagram (%zd bytes): %s", n, why);
		return;
	}
	l->count++;
	if (l->json) {
		size_t len;
		char *text = segdoc_text(d, &len);

		printf("%s\n", text);
		fflush(stdout);
		free(text);
		segdoc_free(d);
		return;
	}
	show_line(l, d);
	fflush(stdout);
	root = segdoc_get_str(d, "trace_id");
	v = view_for(l, root ? root : "-");
	v->last = mono();
	/* A finished document replaces the in-progress one with its id. */
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(segdoc_get_str(v->doc[i], "id"), segdoc_get_str(d, "id")) == 0) {
			segdoc_free(v->doc[i]);
			v->doc[i] = d;
			v->shown = v->shown < v->n ? v->shown : v->n - 1;
			return;
		}
	if (v->n < DOCS_MAX)
		v->doc[v->n++] = d;
	else
		segdoc_free(d);
}

static void
draw_quiet(struct listener *l, int all)
{
	double now = mono();

	for (size_t i = 0; i < TRACES_MAX && l->views[i]; i++)
		if (l->views[i]->n > l->views[i]->shown && (all || now - l->views[i]->last >= QUIET_SECONDS))
			waterfall(l, l->views[i]);
}

static int
open_socket(long port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		errmsg("listen: cannot listen on 127.0.0.1:%ld: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* The bound port on stderr: with --port 0 it is how a script learns it. */
	errmsg("listening on 127.0.0.1:%u", ntohs(sin.sin_port));
	return fd;
}

static int
loop(struct listener *l)
{
	struct pollfd p = { l->fd, POLLIN, 0 };
	char *buf = xmalloc(65536 + 1);
	double heard = mono();

	while (!stop_asked && (l->max == 0 || l->count < l->max)) {
		int r = poll(&p, 1, 200);

		if (r > 0) {
			receive(l, buf);
			heard = mono();
		}
		if (!l->json)
			draw_quiet(l, 0);
		if (l->idle > 0 && mono() - heard >= l->idle)
			break;
	}
	if (!l->json)
		draw_quiet(l, 1);
	free(buf);
	return EXIT_OK;
}

int
cmd_listen(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "idle", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listener l;
	struct sigaction sa;
	long port = 2000, v;
	int c, r;

	memset(&l, 0, sizeof(l));
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("listen"));
			return EXIT_OK;
		case 'p':
			if (parse_long(optarg, 0, 65535, &port) < 0)
				return cmd_usage("listen", "port '%s' is not 0..65535", optarg);
			break;
		case 'j':
			l.json = 1;
			break;
		case 'c':
		case 'i':
			if (parse_long(optarg, 1, 1000000, &v) < 0)
				return cmd_usage("listen", "'%s' is not a positive number", optarg);
			if (c == 'c')
				l.max = v;
			else
				l.idle = (double)v;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cmd_usage("listen", "too many arguments");
	l.colour = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && !l.json;
	/* Before the port is announced: whoever reads it may signal at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ask_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((l.fd = open_socket(port)) < 0)
		return EXIT_RUNTIME;
	r = loop(&l);
	for (size_t i = 0; i < TRACES_MAX && l.views[i]; i++) {
		for (size_t j = 0; j < l.views[i]->n; j++)
			segdoc_free(l.views[i]->doc[j]);
		free(l.views[i]);
	}
	close(l.fd);
	return r;
}

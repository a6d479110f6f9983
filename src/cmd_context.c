/* cmd_context.c: context: the exports a custom runtime needs for one invocation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "invocation.h"
#include "session.h"
#include "tracectx.h"
#include "util.h"

/* Far more than the Runtime API sends: the rest is not read. */
#define HEADERS_MAX (64 * 1024)

static int
read_headers(const char *path, struct invocation *inv)
{
	char *buf;
	size_t len;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	buf = xmalloc(HEADERS_MAX + 1);
	len = fread(buf, 1, HEADERS_MAX, f);
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		free(buf);
		errno = e;
		return -1;
	}
	fclose(f);
	buf[len] = '\0';
	invocation_parse(inv, buf, len);
	free(buf);
	return 0;
}

/* Only what is safe to pass on: ids and digits, as Lambda sends them. */
static const char *
checked(const char *v, const char *allowed)
{
	return v && *v && strspn(v, allowed) == strlen(v) ? v : NULL;
}

/* Print the trace header's exports, or unsets when there is none to trust. */
static void
print_trace(const char *header, const char *from)
{
	struct tracectx c;
	enum ctx_state st = tracectx_parse(header, &c);
	char *h = NULL, *tp = NULL;

	if (st == CTX_INVALID)
		warnmsg("context: invalid trace header in %s (%s); not passed on", from, c.why);
	else if (st != CTX_MISSING)
		h = tracectx_normal(&c);
	if (h && c.parent[0]) {
		/* TRACEPARENT speaks for a sampling decision only when there is one. */
		if (c.sampled != '1')
			c.sampled = '0';
		tp = tracectx_traceparent(&c, c.parent);
	}
	cmd_print_var("_X_AMZN_TRACE_ID", h);
	cmd_print_var("TRACEPARENT", tp);
	free(h);
	free(tp);
	tracectx_free(&c);
}

/* "true" for the sandbox's first invocation, "false" after, NULL if it cannot tell. */
static const char *
cold_start(void)
{
	struct session s;
	int first;

	session_start_quiet(&s, "context");
	first = session_first_invocation(&s);
	session_end(&s);
	return first < 0 ? NULL : first && !s.prewarmed ? "true" : "false";
}

static int
from_headers(const char *path)
{
	struct invocation inv = { NULL, NULL, NULL };

	if (read_headers(path, &inv) < 0)
		warnmsg("context: cannot read %s: %s", path, strerror(errno));
	cmd_print_var("XRAY_SEG_COLD_START", cold_start());
	print_trace(inv.trace, path);
	cmd_print_var("XRAY_SEG_REQUEST_ID",
	    checked(inv.request_id, "0123456789abcdefABCDEF-"));
	cmd_print_var("XRAY_SEG_DEADLINE_MS", checked(inv.deadline, "0123456789"));
	invocation_free(&inv);
	return EXIT_OK;
}

/* AWS_LAMBDA_TRACE_ID (a bash layer's name for the header), else TRACEPARENT. */
static int
from_env(void)
{
	const char *h = getenv("AWS_LAMBDA_TRACE_ID"), *tp = getenv("TRACEPARENT");
	char *converted = NULL;

	if ((h == NULL || *h == '\0') && tp && *tp && tracectx_from_w3c(tp, &converted) < 0)
		warnmsg("context: TRACEPARENT '%s' is not a W3C traceparent; not passed on", tp);
	print_trace(h && *h ? h : converted, h && *h ? "AWS_LAMBDA_TRACE_ID" : "TRACEPARENT");
	free(converted);
	return EXIT_OK;
}

int
cmd_context(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from-headers", required_argument, NULL, 'H' },
		{ "from-env", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *headers = NULL;
	int c, env = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("context"));
			return EXIT_OK;
		case 'H':
			headers = optarg;
			break;
		case 'E':
			env = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cmd_usage("context", "too many arguments");
	if (headers && env)
		return cmd_usage("context", "--from-headers and --from-env exclude each other");
	if (headers)
		return from_headers(headers);
	if (env)
		return from_env();
	print_trace(getenv("_X_AMZN_TRACE_ID"), "_X_AMZN_TRACE_ID");
	return EXIT_OK;
}

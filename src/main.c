/* main.c: xray-seg entry point: the command table, help, exact-match dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ids.h"
#include "job.h"
#include "util.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

#define HELP_LINE "  -h, --help             show this help\n"
#define ROOT_HELP \
	"  --trace-id-from S      a trace started here gets the ID derived from S\n" \
	"  --sample-rate R        share of traces started here that are recorded (0-1)\n" \
	"  --service-version V    service version of a trace started here\n"
#define TRANSPORT_HELP \
	"  --transport T          udp (the daemon), api (PutTraceSegments) or stdout\n"
#define STRICT_HELP \
	"  --strict               refuse (exit 2) what X-Ray would not take, never clean it\n"

static const struct cmd commands[] = {
	{ "begin", cmd_begin,
	    "[--parent ID] [--namespace aws|remote] [--start-time T] [--in-progress] [--export] "
	    "[--trace-id-from S] [--sample-rate R] [--service-version V] [--strict] NAME",
	    "start a subsegment and print its ID",
	    "  --parent ID            parent subsegment (default: the innermost open one)\n"
	    "  --namespace NS         aws or remote\n"
	    "  --start-time T         started at T (epoch s, ms, us or ns, or RFC 3339)\n"
	    "  --in-progress          send an in-progress document now\n"
	    "  --export               print shell code exporting a context inside it (eval it);\n"
	    "                         outside Lambda with no context, start a trace;\n"
	    "                         --export=github appends it to $GITHUB_ENV instead\n"
	    ROOT_HELP STRICT_HELP HELP_LINE },
	{ "end", cmd_end,
	    "[--error] [--fault] [--throttle] [--cause TEXT] [--exit-code N] [--http-status N] "
	    "[--end-time T] [--inside] [--export] [--transport T] [--strict] [ID]",
	    "end subsegment ID (default: the innermost open one) and send it",
	    "  --error                client error (4xx)\n"
	    "  --fault                server error (5xx)\n"
	    "  --throttle             throttled (sets error too)\n"
	    "  --cause TEXT           record TEXT as the exception that ended it (@FILE, -: read it)\n"
	    "  --exit-code N          record exit status N (non-zero is a fault)\n"
	    "  --http-status N        record HTTP status N (429 throttle, 4xx error, 5xx fault)\n"
	    "  --end-time T           ended at T (epoch s, ms, us or ns, or RFC 3339)\n"
	    "  --inside               also end what was begun inside it and is still open\n"
	    "  --export               print shell code restoring the context around it\n"
	    "                         (--export=github: append it to $GITHUB_ENV)\n"
	    TRANSPORT_HELP STRICT_HELP HELP_LINE },
	{ "annotate", cmd_annotate, "[--id ID] [--number | --bool] [--strict] KEY VALUE",
	    "add an indexed annotation to a subsegment",
	    "  --id ID                subsegment to annotate (default: the innermost open one)\n"
	    "  --number               VALUE is a number\n"
	    "  --bool                 VALUE is true or false\n" STRICT_HELP HELP_LINE },
	{ "metadata", cmd_metadata, "[--id ID] [--namespace NS] [--strict] KEY JSON",
	    "add a JSON metadata value to a subsegment",
	    "  --id ID                subsegment (default: the innermost open one)\n"
	    "  --namespace NS         metadata namespace (default: default)\n" STRICT_HELP
	    HELP_LINE "\nJSON may be @FILE or - (standard input).\n" },
	{ "send", cmd_send, "[--all] [--transport T]",
	    "deliver every finished document of this trace still kept",
	    "  --all                  of every trace in the state directory\n"
	    TRANSPORT_HELP HELP_LINE },
	{ "status", cmd_status, "[--all]",
	    "list what this trace has open and kept undelivered, a line each",
	    "  --all                  of every trace in the state directory\n" HELP_LINE
	    "\nEach line: TRACE ID KIND AGE NAME, KIND open, kept or sending; AGE in seconds\n"
	    "since the start (open) or the end.\n" },
	{ "exec", cmd_exec,
	    "[--name NAME] [--namespace aws|remote] [--aws | --no-aws] [--in-progress] "
	    "[--trace-id-from S] [--sample-rate R] [--service-version V] [--transport T] "
	    "[--strict] [--] CMD [ARG...]",
	    "run CMD inside a subsegment (outside Lambda, a trace) and exit with its status",
	    "  --name NAME            subsegment name (default: the command's base name)\n"
	    "  --namespace NS         aws or remote\n"
	    "  --aws                  read CMD as an aws CLI call (default when it is named aws)\n"
	    "  --no-aws               do not read CMD as an aws CLI call\n"
	    "  --in-progress          send an in-progress document when CMD starts\n"
	    ROOT_HELP TRANSPORT_HELP STRICT_HELP HELP_LINE },
	{ "header", cmd_header, "", "print the trace header for a child process or request",
	    HELP_LINE },
	{ "context", cmd_context, "[--from-headers FILE | --from-env]",
	    "print shell code exporting an invocation's trace context (eval it)",
	    "  --from-headers FILE    from the Runtime API response headers curl -D wrote\n"
	    "  --from-env             from AWS_LAMBDA_TRACE_ID, else TRACEPARENT\n" HELP_LINE },
	{ "guard", cmd_guard, "[--deadline MS] [--margin MS]",
	    "just before the deadline, end what is still open as timeouts (run it with &)",
	    "  --deadline MS          epoch milliseconds (default: XRAY_SEG_DEADLINE_MS)\n"
	    "  --margin MS            act this long before it (default 500)\n" HELP_LINE },
	{ "exception", cmd_exception,
	    "[--id ID] [--type TYPE] [--exit-code N] [--frame PATH:LINE:LABEL]... [--strict] MESSAGE",
	    "record an exception, with its stack, in a subsegment and mark it a fault",
	    "  --id ID                subsegment (default: the innermost open one)\n"
	    "  --type TYPE            the exception's type\n"
	    "  --exit-code N          record exit status N\n"
	    "  --frame PATH:LINE:LABEL  a stack frame, innermost first (repeatable)\n" STRICT_HELP
	    HELP_LINE "\nMESSAGE may be @FILE or - (standard input).\n" },
	{ "errtrap", cmd_errtrap, "",
	    "print a bash ERR trap that records failing commands as exceptions (eval it)",
	    HELP_LINE },
	{ "listen", cmd_listen, "[--port P] [--json] [--count N] [--idle S]",
	    "show the documents that arrive on a local UDP port (for development)",
	    "  --port P               UDP port on 127.0.0.1 (default 2000; 0 picks a free one)\n"
	    "  --json                 print each document as one JSON line\n"
	    "  --count N              stop after N documents\n"
	    "  --idle S               stop after S seconds without a datagram\n" HELP_LINE },
	{ "help", cmd_help, "[COMMAND]", "show help for xray-seg or COMMAND", HELP_LINE },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void
cmd_print_help(const struct cmd *c)
{
	printf("usage: xray-seg %s%s%s\n%s\n\nOptions:\n%s", c->name, *c->synopsis ? " " : "",
	    c->synopsis, c->summary, c->options);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: xray-seg COMMAND [OPTION...] [ARG...]\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions:\n"
	    "  -h, --help     show this help\n"
	    "  -V, --version  show the version\n\n"
	    "Environment: _X_AMZN_TRACE_ID, AWS_XRAY_DAEMON_ADDRESS, AWS_XRAY_CONTEXT_MISSING,\n"
	    "AWS_XRAY_SDK_ENABLED, XRAY_SEG_STATE_DIR, TMPDIR, XRAY_SEG_TRANSPORT,\n"
	    "XRAY_SEG_SAMPLE_RATE, XRAY_SEG_SERVICE_VERSION, XRAY_SEG_LIBCURL,\n"
	    "XRAY_SEG_IN_PROGRESS, XRAY_SEG_STRICT, XRAY_SEG_DEADLINE_MS,\n"
	    "AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_INITIALIZATION_TYPE,\n"
	    "POWERTOOLS_SERVICE_NAME, XRAY_SEG_COLD_START; TRACEPARENT outside Lambda\n"
	    "when _X_AMZN_TRACE_ID is unset; context --from-env reads AWS_LAMBDA_TRACE_ID.\n"
	    "The api transport reads AWS credentials, region and endpoint from the\n"
	    "environment variables the AWS CLI reads (see xray-seg(1)).\n"
	    "Run 'xray-seg help COMMAND' for a command's options; see xray-seg(1).\n");
}

int
cmd_transport(const char *cmd, const char *v, enum transport *t)
{
	if (session_transport(v, t) == 0)
		return 0;
	cmd_usage(cmd, "transport '%s' is not udp, api or stdout", v);
	return -1;
}

int
cmd_time(const char *cmd, const char *v, char out[TIME_LEN])
{
	if (clock_parse(v, out) == 0)
		return 0;
	cmd_usage(cmd, "time '%s' is not epoch seconds (with a fraction), milliseconds, "
	    "microseconds or nanoseconds, or RFC 3339, from 2000 to a day from now", v);
	return -1;
}

int
cmd_root_option(const char *cmd, int c, const char *v, struct root_opts *o)
{
	double rate;

	switch (c) {
	case OPT_TRACE_ID_FROM:
		if (*v == '\0')
			return cmd_usage(cmd, "--trace-id-from needs a non-empty string"), -1;
		o->trace_id_from = v;
		return 1;
	case OPT_SAMPLE_RATE:
		if (session_rate(v, &rate) < 0)
			return cmd_usage(cmd, "sample rate '%s' is not a number from 0 to 1", v), -1;
		o->sample_rate = v;
		return 1;
	case OPT_SERVICE_VERSION:
		if (*v == '\0')
			return cmd_usage(cmd, "--service-version needs a non-empty string"), -1;
		o->service_version = v;
		return 1;
	default:
		return 0;
	}
}

int
cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc > 2)
		return cmd_usage("help", "too many arguments");
	if (argc == 1) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cmd_print_help(cmd_find("help"));
		return EXIT_OK;
	}
	if ((c = cmd_find(argv[1])) == NULL)
		return cmd_usage("help", "unknown command '%s'", argv[1]);
	cmd_print_help(c);
	return EXIT_OK;
}

int
cmd_usage(const char *cmd, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	errmsg("%s: %s (see 'xray-seg help %s')", cmd, line, cmd);
	return EXIT_USAGE;
}

int
cmd_refuse(const char *cmd, int strict, const char *fix, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strict)
		return cmd_usage(cmd, "%s", line);
	warnmsg("%s: %s; %s", cmd, line, fix);
	return EXIT_OK;
}

void
cmd_text_arg(const char *cmd, const char *what, const char *arg, const char **text,
    char **owned)
{
	size_t len;

	*text = arg;
	if (read_arg(arg, CMD_READ_MAX, owned) < 0) {
		warnmsg("%s: cannot read %s from %s: %s; left out", cmd, what,
		    strcmp(arg, "-") == 0 ? "standard input" : arg + 1,
		    errno == EFBIG ? "over " CMD_READ_MAX_TEXT : strerror(errno));
		*text = NULL;
	} else if (*owned) {
		/* A file's last line ends in a newline that is not part of the text. */
		for (len = strlen(*owned); len > 0 && (*owned)[len - 1] == '\n'; len--)
			(*owned)[len - 1] = '\0';
		*text = *owned;
	}
}

int
cmd_utf8(const char *cmd, int strict, const char *what, const char *text)
{
	if (utf8_valid(text))
		return EXIT_OK;
	return cmd_refuse(cmd, strict, "bad bytes replaced by U+FFFD", "%s is not valid UTF-8",
	    what);
}

/*
 * Whether "--word[=value]" is an abbreviation of several long options; if
 * so, their names in alts ("--name, --namespace").
 */
static int
ambiguous(const struct option *longopts, const char *arg, char *alts, size_t len)
{
	size_t n = strcspn(arg + 2, "="), used = 0;
	int matches = 0;

	alts[0] = '\0';
	for (const struct option *o = longopts; o && o->name; o++) {
		if (strncmp(o->name, arg + 2, n) != 0)
			continue;
		if (strlen(o->name) == n)
			return 0; /* exact */
		if (used < len)
			used += (size_t)snprintf(alts + used, len - used, "%s--%s",
			    matches ? ", " : "", o->name);
		matches++;
	}
	return matches > 1;
}

int
cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char alts[256];

	char spec[64];
	int c;

	/* '+': stop at the first operand, so a wrapped command keeps its options. */
	snprintf(spec, sizeof(spec), "+:%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == '?') {
		if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
			cmd_usage(argv[0], "unknown option '-%c'", optopt);
		else if (ambiguous(longopts, argv[optind - 1], alts, sizeof(alts)))
			cmd_usage(argv[0], "ambiguous option '%s' (%s)", argv[optind - 1], alts);
		else
			cmd_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
	} else if (c == ':') {
		cmd_usage(argv[0], "option '%s' needs a value", argv[optind - 1]);
		c = '?';
	}
	return c;
}

int
cmd_check_id(const char *cmd, const char *what, const char *id)
{
	if (is_lower_hex(id, ID_LEN))
		return 0;
	cmd_usage(cmd, "%s '%s' is not an ID (16 lowercase hex digits)", what, id);
	return -1;
}

/*
 * Flush stdout and say so if it failed. For help, the version and listen,
 * whose output is all they do, that is a failure; for a tracing command it
 * is a tracing problem like any other, and must not stop the script.
 */
static int
finish(const char *cmd, int status)
{
	int tracing = cmd && strcmp(cmd, "help") != 0 && strcmp(cmd, "listen") != 0;

	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	if (tracing) {
		warnmsg("%s: cannot write to standard output", cmd);
		return status;
	}
	errmsg("cannot write to standard output");
	return status == EXIT_OK ? EXIT_RUNTIME : status;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;

	job_init_signals();
	if (argc < 2) {
		errmsg("missing command (see 'xray-seg --help')");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return finish(NULL, EXIT_OK);
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("xray-seg %s\n", VERSION);
		return finish(NULL, EXIT_OK);
	}
	if ((c = cmd_find(argv[1])) == NULL) {
		errmsg("unknown command '%s' (see 'xray-seg --help')", argv[1]);
		return EXIT_USAGE;
	}
	return finish(c->name, c->run(argc - 1, argv + 1));
}

/*
 * cmd.h: the command table and what the command handlers share.
 * Only main.c and the cmd_*.c files decide exit statuses.
 */
#ifndef XRAY_SEG_CMD_H
#define XRAY_SEG_CMD_H

#include <getopt.h>

#include "ids.h"
#include "session.h"

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	const char *synopsis;              /* what follows "xray-seg NAME" */
	const char *summary;
	const char *options;               /* one "  --opt ARG  text" line each */
};

int cmd_begin(int argc, char **argv);
int cmd_end(int argc, char **argv);
int cmd_annotate(int argc, char **argv);
int cmd_metadata(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_header(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_context(int argc, char **argv);
int cmd_guard(int argc, char **argv);
int cmd_exception(int argc, char **argv);
int cmd_errtrap(int argc, char **argv);

/* The table entry for name, or NULL. */
const struct cmd *cmd_find(const char *name);

/* Print the help of c on stdout. */
void cmd_print_help(const struct cmd *c);

/*
 * getopt_long for command argv[0], with "+:" prepended semantics and our
 * own one-line messages. Returns the option, -1 at the end, or '?' after it
 * has reported a misuse (the caller returns EXIT_USAGE). 'h' is handled by
 * the caller: print help, exit 0.
 */
int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Report misuse of command cmd: one line on stderr; returns EXIT_USAGE. */
int cmd_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Check an ID operand or option value; reports and returns -1 if it is not one. */
int cmd_check_id(const char *cmd, const char *what, const char *id);

/* Check a --namespace value (aws or remote) into *out; reports and returns -1 if bad. */
int cmd_namespace(const char *cmd, const char *v, const char **out);

/* Long options without a short form. */
enum {
	OPT_TRACE_ID_FROM = 1000,
	OPT_SAMPLE_RATE,
	OPT_SERVICE_VERSION,
	OPT_TRANSPORT,
	OPT_EXPORT,
	OPT_ALL,
	OPT_TIME,
	OPT_IN_PROGRESS,
	OPT_INSIDE,
	OPT_STRICT,
};

/* --strict, in the option tables of the commands that take names and values. */
#define STRICT_LONGOPT { "strict", no_argument, NULL, OPT_STRICT }

/*
 * A value as given that X-Ray would not take: with strict, report it as
 * misuse and return EXIT_USAGE; else warn of it and of fix, what is done to
 * it instead, and return 0.
 */
int cmd_refuse(const char *cmd, int strict, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * A text argument (named what) that may come from a file: "@FILE" is read
 * from FILE and "-" from standard input, its trailing newlines dropped, into
 * *owned (NULL for a text given as is). *text is the text to use, or NULL
 * when it cannot be read (said in one warning line).
 */
void cmd_text_arg(const char *cmd, const char *what, const char *arg, const char **text,
    char **owned);

/* The most a text or value read from a file or standard input may hold. */
#define CMD_READ_MAX (16u * 1024 * 1024)
#define CMD_READ_MAX_TEXT "16 MiB"

/* cmd_refuse for text (named what) that is not valid UTF-8. */
int cmd_utf8(const char *cmd, int strict, const char *what, const char *text);

/* The options of calls that may start a trace, for a struct option array. */
#define ROOT_LONGOPTS \
	{ "trace-id-from", required_argument, NULL, OPT_TRACE_ID_FROM }, \
	{ "sample-rate", required_argument, NULL, OPT_SAMPLE_RATE }, \
	{ "service-version", required_argument, NULL, OPT_SERVICE_VERSION }

/* Take root option c (value v) into o: 1 if it was one, 0 if not, -1 (reported) if bad. */
int cmd_root_option(const char *cmd, int c, const char *v, struct root_opts *o);

/* Check a time value (see clock_parse) into out; reports and returns -1 if bad. */
int cmd_time(const char *cmd, const char *v, char out[TIME_LEN]);

/* Check a --transport value into *t; reports and returns -1 if bad. */
int cmd_transport(const char *cmd, const char *v, enum transport *t);

/* Where --export puts the context: shell code on stdout, or GitHub Actions' $GITHUB_ENV. */
enum export_to { EXPORT_NONE, EXPORT_SH, EXPORT_GITHUB };

/* Check --export's value v (NULL: sh) into *to; reports and returns -1 if bad. */
int cmd_export_to(const char *cmd, const char *v, enum export_to *to);

/*
 * Export s's context with Parent id (_X_AMZN_TRACE_ID, TRACEPARENT) as to
 * says; with id NULL, export that there is none (unset, or empty values).
 */
void cmd_print_export(const struct session *s, const char *id, enum export_to to);

/* Print shell code setting variable name to value, or unsetting it when value is NULL. */
void cmd_print_var(const char *name, const char *value);

/*
 * NAME cleaned for X-Ray (warns if changed), or NULL (reported) if nothing is
 * left or, with strict, if it had to change.
 */
char *cmd_name(const char *cmd, const char *name, int strict);

#endif

/* cmd_annotate.c: annotate and metadata: add data to an open subsegment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "emit.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

#define ANNOTATION_KEY_MAX 500
/* The most a metadata value read from a file or stdin may be: a Lambda event is at most 6 MB. */

struct addition {
	const char *cmd;
	const char *id;         /* --id, or NULL */
	const char *key;
	const char *value;      /* annotation value, or metadata JSON text */
	const char *ns;         /* metadata namespace; NULL for an annotation */
	enum annot type;
	int strict;             /* --strict, or XRAY_SEG_STRICT */
};

static int
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > ANNOTATION_KEY_MAX)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || *k == '_'))
			return 0;
	return 1;
}

/* Add metadata a to open subsegment id: its exit status. */
static int
add_metadata(struct session *s, struct trace *t, const char *id, const struct addition *a)
{
	struct segdoc *d = subseg_load(s, t, id);
	int status = EXIT_OK;

	if (d == NULL)
		return EXIT_OK;
	segdoc_metadata(d, a->ns, a->key, a->value);
	if (subseg_save(s, t, id, d) == SUBSEG_TOO_BIG)
		status = cmd_usage(a->cmd, "with '%s', subsegment %s would be over %zu bytes; "
		    "not added", a->key, id, (size_t)DOCUMENT_MAX);
	segdoc_free(d);
	return status;
}

/* Add annotation a to open subsegment id: its exit status. */
static int
add_annotation(struct session *s, struct trace *t, const char *id, const struct addition *a)
{
	switch (subseg_annotate(s, t, id, a->key, a->type, a->value)) {
	case DOC_FULL:
		return cmd_refuse(a->cmd, a->strict, "not added", "annotation '%s' would be one "
		    "more than the %d X-Ray indexes in subsegment %s", a->key, ANNOTATION_MAX, id);
	case TRACE_FULL:
		return cmd_refuse(a->cmd, a->strict, "not added", "annotation key '%s' would be one "
		    "more than the %d X-Ray indexes in trace %s", a->key, ANNOTATION_MAX, s->ctx.root);
	case TOO_BIG:
		return cmd_usage(a->cmd, "with '%s', subsegment %s would be over %zu bytes; "
		    "not added", a->key, id, (size_t)DOCUMENT_MAX);
	default:
		return EXIT_OK; /* added, or said already */
	}
}

/* Load the target, apply a, store it. Tracing problems are warnings: exit 0. */
static int
apply(struct session *s, const struct addition *a)
{
	char id[ID_LEN + 1];
	struct trace *t = NULL;
	int status = EXIT_OK;

	/* A state directory refused is said once; no state at all is "nothing open". */
	if (session_trace(s, 0, &t) < 0 && errno != ENOENT)
		return EXIT_OK;
	if (subseg_target(s, t, a->id, 1, id) == 0)
		status = a->ns ? add_metadata(s, t, id, a) : add_annotation(s, t, id, a);
	state_close(t, 0);
	return status;
}

static int
run(const struct addition *a)
{
	struct session s;
	int status = session_start(&s, a->cmd), r = EXIT_OK;

	s.strict = a->strict;
	if (s.recording)
		r = apply(&s, a);
	session_end(&s);
	return r != EXIT_OK ? r : status;
}

/* Check a; segdoc_annotate itself makes a string valid UTF-8 and cuts it. */
static int
check_annotation(const struct addition *a)
{
	char what[ANNOTATION_KEY_MAX + 16], *clean;
	size_t len;
	int r;

	if (!key_ok(a->key))
		return cmd_usage(a->cmd, "annotation key '%s' must be 1-%d letters, digits or _",
		    a->key, ANNOTATION_KEY_MAX);
	if (a->type == ANNOT_NUMBER && !is_json_number(a->value))
		return cmd_usage(a->cmd, "'%s' is not a number", a->value);
	if (a->type == ANNOT_BOOL && strcmp(a->value, "true") && strcmp(a->value, "false"))
		return cmd_usage(a->cmd, "'%s' is not true or false", a->value);
	if (a->type != ANNOT_STRING)
		return EXIT_OK;
	snprintf(what, sizeof(what), "value of '%s'", a->key);
	if ((r = cmd_utf8(a->cmd, a->strict, what, a->value)) != EXIT_OK)
		return r;
	clean = utf8_sanitize(a->value);
	len = utf8_len(clean);
	free(clean);
	if (len <= ANNOTATION_VALUE_MAX)
		return EXIT_OK;
	return cmd_refuse(a->cmd, a->strict, "cut to the limit", "%s is over %d characters",
	    what, ANNOTATION_VALUE_MAX);
}

int
cmd_annotate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "number", no_argument, NULL, 'n' },
		{ "bool", no_argument, NULL, 'b' },
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct addition a = { "annotate", NULL, NULL, NULL, NULL, ANNOT_STRING, session_strict() };
	int c, status, types = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("annotate"));
			return EXIT_OK;
		case 'i':
			if (cmd_check_id(a.cmd, "subsegment", optarg) < 0)
				return EXIT_USAGE;
			a.id = optarg;
			break;
		case 'n':
		case 'b':
			a.type = c == 'n' ? ANNOT_NUMBER : ANNOT_BOOL;
			types++;
			break;
		case OPT_STRICT:
			a.strict = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (types > 1)
		return cmd_usage(a.cmd, "--number and --bool may not be combined");
	if (argc - optind != 2)
		return cmd_usage(a.cmd, argc - optind < 2 ? "needs KEY and VALUE" : "too many arguments");
	a.key = argv[optind];
	a.value = argv[optind + 1];
	if ((status = check_annotation(&a)) == EXIT_OK)
		status = run(&a);
	return status;
}

int
cmd_metadata(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "namespace", required_argument, NULL, 'n' },
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct addition a = { "metadata", NULL, NULL, NULL, "default", ANNOT_STRING, session_strict() };
	char *text = NULL;
	const char *why;
	int c, r;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("metadata"));
			return EXIT_OK;
		case 'i':
			if (cmd_check_id(a.cmd, "subsegment", optarg) < 0)
				return EXIT_USAGE;
			a.id = optarg;
			break;
		case 'n':
			a.ns = optarg;
			break;
		case OPT_STRICT:
			a.strict = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cmd_usage(a.cmd, argc - optind < 2 ? "needs KEY and JSON" : "too many arguments");
	a.key = argv[optind];
	if (*a.ns == '\0' || strncmp(a.ns, "AWS.", 4) == 0)
		return cmd_usage(a.cmd, "namespace '%s' is reserved or empty", a.ns);
	if (*a.key == '\0')
		return cmd_usage(a.cmd, "KEY must not be empty");
	/* JSON never begins with '@' and is never "-": the file and stdin forms. */
	if (read_arg(argv[optind + 1], CMD_READ_MAX, &text) < 0) {
		warnmsg("%s: cannot read the value of '%s' from %s: %s; not added", a.cmd, a.key,
		    strcmp(argv[optind + 1], "-") == 0 ? "standard input" : argv[optind + 1] + 1,
		    errno == EFBIG ? "over " CMD_READ_MAX_TEXT : strerror(errno));
		return EXIT_OK;
	}
	a.value = text ? text : argv[optind + 1];
	if ((why = segdoc_json_error(a.value)) != NULL)
		r = cmd_usage(a.cmd, "value of '%s' %s", a.key, why);
	else if ((r = cmd_utf8(a.cmd, a.strict, "KEY", a.key)) == EXIT_OK &&
	    (r = cmd_utf8(a.cmd, a.strict, "the namespace", a.ns)) == EXIT_OK)
		r = run(&a);
	free(text);
	return r;
}

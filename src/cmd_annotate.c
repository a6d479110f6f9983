/* cmd_annotate.c: annotate and metadata: add data to an open subsegment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

#define ANNOTATION_KEY_MAX 500

struct addition {
	const char *cmd;
	const char *id;         /* --id, or NULL */
	const char *key;
	const char *value;      /* annotation value, or metadata JSON text */
	const char *ns;         /* metadata namespace; NULL for an annotation */
	enum annot type;
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

/* Load the target, apply a, store it. Problems are warnings: exit 0. */
static void
apply(struct session *s, const struct addition *a)
{
	char id[ID_LEN + 1];
	struct trace *t = NULL;
	struct segdoc *d;
	int r;

	/* A state directory refused is said once; no state at all is "nothing open". */
	if (session_trace(s, 0, &t) < 0 && errno != ENOENT)
		return;
	if (subseg_target(s, t, a->id, 1, id) < 0 || (d = subseg_load(s, t, id)) == NULL) {
		state_close(t, 0);
		return;
	}
	if (a->ns)
		r = segdoc_metadata(d, a->ns, a->key, a->value);
	else
		r = segdoc_annotate(d, a->key, a->type, a->value);
	if (r < 0)
		warnmsg("%s: subsegment %s already has %d annotations; '%s' not added", a->cmd, id,
		    ANNOTATION_MAX, a->key);
	else
		subseg_save(s, t, id, d);
	segdoc_free(d);
	state_close(t, 0);
}

static int
run(const struct addition *a)
{
	struct session s;
	int status = session_start(&s, a->cmd);

	if (s.recording)
		apply(&s, a);
	session_end(&s);
	return status;
}

static int
check_annotation(struct addition *a, char **cut)
{
	if (!key_ok(a->key))
		return cmd_usage(a->cmd, "annotation key '%s' must be 1-%d letters, digits or _",
		    a->key, ANNOTATION_KEY_MAX);
	if (a->type == ANNOT_NUMBER && !is_json_number(a->value))
		return cmd_usage(a->cmd, "'%s' is not a number", a->value);
	if (a->type == ANNOT_BOOL && strcmp(a->value, "true") && strcmp(a->value, "false"))
		return cmd_usage(a->cmd, "'%s' is not true or false", a->value);
	if (a->type == ANNOT_STRING) {
		*cut = utf8_sanitize(a->value);
		if (utf8_len(*cut) > ANNOTATION_VALUE_MAX) {
			(*cut)[utf8_prefix(*cut, ANNOTATION_VALUE_MAX)] = '\0';
			warnmsg("%s: value of '%s' cut to %d characters", a->cmd, a->key,
			    ANNOTATION_VALUE_MAX);
		}
		a->value = *cut;
	}
	return 0;
}

int
cmd_annotate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "number", no_argument, NULL, 'n' },
		{ "bool", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct addition a = { "annotate", NULL, NULL, NULL, NULL, ANNOT_STRING };
	char *cut = NULL;
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
	if ((status = check_annotation(&a, &cut)) != 0)
		return status;
	status = run(&a);
	free(cut);
	return status;
}

int
cmd_metadata(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct addition a = { "metadata", NULL, NULL, NULL, "default", ANNOT_STRING };
	int c;

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
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cmd_usage(a.cmd, argc - optind < 2 ? "needs KEY and JSON" : "too many arguments");
	a.key = argv[optind];
	a.value = argv[optind + 1];
	if (*a.ns == '\0' || strncmp(a.ns, "AWS.", 4) == 0)
		return cmd_usage(a.cmd, "namespace '%s' is reserved or empty", a.ns);
	if (*a.key == '\0')
		return cmd_usage(a.cmd, "KEY must not be empty");
	if (!segdoc_json_ok(a.value))
		return cmd_usage(a.cmd, "value of '%s' is not valid JSON", a.key);
	return run(&a);
}

/* cmd_exception.c: exception and errtrap: failures, with their stack, as X-Ray causes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "emit.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

#define FRAMES_MAX 64

struct failure {
	const char *id;         /* --id, or NULL */
	const char *type;
	long exit_code;         /* or -1 */
	const char *message;    /* NULL: it could not be read (said) */
	char *message_read;     /* owned: the message read from a file or stdin */
	struct seg_frame frame[FRAMES_MAX];
	char *text[FRAMES_MAX]; /* owned copies the frames point into */
	size_t nframes, truncated;
	int strict;
};

/* PATH:LINE:LABEL, split at the last two colons (a path may hold colons). */
static int
add_frame(struct failure *f, const char *v)
{
	char *copy, *label, *line;
	long n;

	if (f->nframes == FRAMES_MAX) {
		f->truncated++;
		return 0;
	}
	copy = xstrdup(v);
	if ((label = strrchr(copy, ':')) == NULL)
		goto bad;
	*label++ = '\0';
	if ((line = strrchr(copy, ':')) == NULL)
		goto bad;
	*line++ = '\0';
	if (parse_long(line, 0, INT_MAX, &n) < 0)
		goto bad;
	f->frame[f->nframes].path = copy;
	f->frame[f->nframes].line = n;
	f->frame[f->nframes].label = label;
	f->text[f->nframes++] = copy;
	return 0;
bad:
	free(copy);
	return cmd_usage("exception", "frame '%s' is not PATH:LINE:LABEL", v), -1;
}

/* Record f in its subsegment: the exit status. */
static int
record(struct session *s, const struct failure *f)
{
	char id[ID_LEN + 1];
	struct trace *t = NULL;
	struct segdoc *d;
	int status = EXIT_OK;

	if (session_trace(s, 0, &t) < 0 && errno != ENOENT)
		return EXIT_OK; /* said already */
	if (subseg_target(s, t, f->id, 1, id) == 0 && (d = subseg_load(s, t, id)) != NULL) {
		segdoc_exception(d, f->message, f->type, f->frame, f->nframes, f->truncated);
		if (f->exit_code >= 0) {
			char n[24];

			snprintf(n, sizeof(n), "%ld", f->exit_code);
			segdoc_metadata(d, "process", "exit_code", n);
		}
		if (subseg_save(s, t, id, d) == SUBSEG_TOO_BIG)
			status = cmd_usage("exception", "with it, subsegment %s would be over %zu "
			    "bytes; not recorded", id, (size_t)DOCUMENT_MAX);
		segdoc_free(d);
	}
	state_close(t, 0);
	return status;
}

/* Every text of f in UTF-8, or cleaned with a warning, or with --strict refused. */
static int
check_texts(const struct failure *f)
{
	int r = cmd_utf8("exception", f->strict, "MESSAGE", f->message);

	if (r == EXIT_OK && f->type)
		r = cmd_utf8("exception", f->strict, "--type", f->type);
	for (size_t i = 0; r == EXIT_OK && i < f->nframes; i++)
		if ((r = cmd_utf8("exception", f->strict, "a --frame path", f->frame[i].path)) == 0)
			r = cmd_utf8("exception", f->strict, "a --frame label", f->frame[i].label);
	return r;
}

static int
parse_exception(int argc, char **argv, struct failure *f)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "type", required_argument, NULL, 't' },
		{ "exit-code", required_argument, NULL, 'x' },
		{ "frame", required_argument, NULL, 'f' },
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	f->strict = session_strict();
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("exception"));
			return -1;
		case 'i':
			if (cmd_check_id("exception", "subsegment", optarg) < 0)
				return EXIT_USAGE;
			f->id = optarg;
			break;
		case 't':
			f->type = optarg;
			break;
		case 'x':
			if (parse_long(optarg, 0, 255, &v) < 0)
				return cmd_usage("exception", "exit code '%s' is not 0..255", optarg);
			f->exit_code = v;
			break;
		case 'f':
			if (add_frame(f, optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STRICT:
			f->strict = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cmd_usage("exception", argc == optind ? "missing MESSAGE" : "too many arguments");
	cmd_text_arg("exception", "MESSAGE", argv[optind], &f->message, &f->message_read);
	return f->message ? check_texts(f) : 0;
}

int
cmd_exception(int argc, char **argv)
{
	struct failure f;
	struct session s;
	int r, status;

	memset(&f, 0, sizeof(f));
	f.exit_code = -1;
	if ((r = parse_exception(argc, argv, &f)) == 0) {
		status = session_start(&s, "exception");
		s.strict = f.strict;
		if (s.recording && f.message && (r = record(&s, &f)) != EXIT_OK)
			status = r;
		session_end(&s);
		r = status;
	} else if (r < 0) {
		r = EXIT_OK;
	}
	for (size_t i = 0; i < f.nframes; i++)
		free(f.text[i]);
	free(f.message_read);
	return r;
}

/*
 * The ERR trap, in bash. It runs in the failing shell: $? and BASH_COMMAND
 * are the failure's, PIPESTATUS its pipeline's, FUNCNAME/BASH_SOURCE/
 * BASH_LINENO its call stack, of which frame 0 is the trap function itself.
 * With errtrace, a function whose failure makes it return non-zero fires the
 * trap again in its caller: same command, one frame less, and $_ no longer
 * the failing command's last word but the function call's. A failure of the
 * same command text at a shallower depth with $_ as it was is a new one.
 */
static const char errtrap_head[] =
    "set -o errtrace\n"
    "__xray_seg_err() {\n"
    "\tlocal __xs_status=$? __xs_pipe=\"${PIPESTATUS[*]}\" __xs_arg=$_ __xs_i __xs_what\n"
    "\tlocal -a __xs_frames=()\n"
    "\t# A function that fails because its last command did: one failure, once.\n"
    "\tif [[ $BASH_COMMAND == \"${__xray_seg_last_command-}\" &&\n"
    "\t\t${#FUNCNAME[@]} -lt ${__xray_seg_last_depth:-0} &&\n"
    "\t\t$__xs_arg != \"${__xray_seg_last_arg-}\" ]]; then\n"
    "\t\t__xray_seg_last_depth=${#FUNCNAME[@]}\n"
    "\t\treturn \"$__xs_status\"\n"
    "\tfi\n"
    "\t__xray_seg_last_command=$BASH_COMMAND __xray_seg_last_depth=${#FUNCNAME[@]}\n"
    "\t__xray_seg_last_arg=$__xs_arg\n"
    "\tfor ((__xs_i = 1; __xs_i < ${#FUNCNAME[@]}; __xs_i++)); do\n"
    "\t\t__xs_frames+=(--frame \"${BASH_SOURCE[__xs_i]}:${BASH_LINENO[__xs_i - 1]}:"
    "${FUNCNAME[__xs_i]}\")\n"
    "\tdone\n"
    "\t# A pipeline is named by its last command, the only one bash tells.\n"
    "\t__xs_what=\"$BASH_COMMAND exited with status $__xs_status\"\n"
    "\tif [[ $__xs_pipe == *\" \"* ]]; then\n"
    "\t\t__xs_what=\"pipeline ending in '$BASH_COMMAND' exited with status $__xs_status\"\n"
    "\t\t__xs_what+=\" (PIPESTATUS $__xs_pipe)\"\n"
    "\tfi\n"
    "\t";
static const char errtrap_tail[] =
    " exception --type CommandFailed --exit-code \"$__xs_status\" \"${__xs_frames[@]}\" \\\n"
    "\t\t-- \"$__xs_what\"\n"
    "\treturn \"$__xs_status\"\n"
    "}\n"
    "trap __xray_seg_err ERR\n";

int
cmd_errtrap(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char self[PATH_MAX], *q;
	ssize_t n;
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		cmd_print_help(cmd_find("errtrap"));
		return EXIT_OK;
	}
	if (optind != argc)
		return cmd_usage("errtrap", "too many arguments");
	/* This very binary, so the trap works wherever PATH leads. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	snprintf(self + (n > 0 ? n : 0), sizeof(self) - (size_t)(n > 0 ? n : 0), "%s",
	    n > 0 ? "" : "xray-seg");
	q = shell_quote(self);
	fputs(errtrap_head, stdout);
	fputs(q, stdout);
	fputs(errtrap_tail, stdout);
	free(q);
	return EXIT_OK;
}

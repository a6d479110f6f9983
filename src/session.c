/* session.c: the trace context and settings of one call (see session.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "session.h"
#include "util.h"

/* AWS_XRAY_SDK_ENABLED as the Python SDK reads it: only the false words disable. */
static int
sdk_enabled(void)
{
	static const char *off[] = { "n", "no", "f", "false", "off", "0" };
	const char *v = getenv("AWS_XRAY_SDK_ENABLED");

	for (size_t i = 0; v && i < sizeof(off) / sizeof(off[0]); i++)
		if (strcasecmp(v, off[i]) == 0)
			return 0;
	return 1;
}

static char *
state_dir_path(void)
{
	const char *d = getenv("XRAY_SEG_STATE_DIR"), *tmp = getenv("TMPDIR");

	if (d && *d)
		return xstrdup(d);
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	return xasprintf("%s/xray-seg-%u", tmp, (unsigned)geteuid());
}

static int
context_missing(struct session *s)
{
	const char *policy = getenv("AWS_XRAY_CONTEXT_MISSING");
	char what[160];

	if (s->st == CTX_MISSING)
		snprintf(what, sizeof(what), "no trace context (_X_AMZN_TRACE_ID is not set)");
	else
		snprintf(what, sizeof(what), "invalid _X_AMZN_TRACE_ID (%s)", s->ctx.why);
	if (policy && strcmp(policy, "IGNORE_ERROR") == 0)
		return EXIT_OK;
	warnmsg("%s: %s; not tracing", s->cmd, what);
	return policy && strcmp(policy, "RUNTIME_ERROR") == 0 ? EXIT_RUNTIME : EXIT_OK;
}

int
session_start(struct session *s, const char *cmd)
{
	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->header = getenv("_X_AMZN_TRACE_ID");
	s->enabled = sdk_enabled();
	s->st = tracectx_parse(s->header, &s->ctx);
	s->daemon = getenv("AWS_XRAY_DAEMON_ADDRESS");
	if (!s->enabled)
		return EXIT_OK;
	s->recording = s->st == CTX_RECORDING;
	if (s->st == CTX_MISSING || s->st == CTX_INVALID)
		return context_missing(s);
	return EXIT_OK;
}

void
session_end(struct session *s)
{
	tracectx_free(&s->ctx);
	free(s->state_dir);
	s->state_dir = NULL;
}

int
session_trace(struct session *s, int create, struct trace **t)
{
	int e;

	if (s->state_dir == NULL)
		s->state_dir = state_dir_path();
	if (state_open(s->state_dir, s->ctx.root, create, t) == 0)
		return 0;
	e = errno;
	if (e == ENOENT && !create)
		return -1;
	if (e == ELOOP || e == EPERM || e == EACCES || e == ENOTDIR)
		warnmsg("%s: state directory %s %s; not recording", s->cmd, s->state_dir,
		    state_strerror(e));
	else
		warnmsg("%s: cannot keep state in %s: %s; not recording", s->cmd, s->state_dir,
		    strerror(e));
	errno = e;
	return -1;
}

/* session.c: the trace context and settings of one call (see session.h). */
#include <sys/stat.h>

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

/* A setting that is on: 1, true, yes, on (any case). */
static int
is_true(const char *v)
{
	static const char *on[] = { "1", "true", "yes", "on" };

	for (size_t i = 0; v && i < sizeof(on) / sizeof(on[0]); i++)
		if (strcasecmp(v, on[i]) == 0)
			return 1;
	return 0;
}

int
session_strict(void)
{
	return is_true(getenv("XRAY_SEG_STRICT"));
}

static char *
state_dir_path(void)
{
	/* Paths from the environment are not taken by a setuid program (secure_getenv). */
	const char *d = secure_getenv("XRAY_SEG_STATE_DIR"), *tmp = secure_getenv("TMPDIR");
	char *cwd, *path;

	if (d && *d && d[0] == '/')
		return xstrdup(d);
	/* Relative: to where this call runs, once (exec passes it on absolute). */
	if (d && *d) {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			return xstrdup(d);
		path = xasprintf("%s/%s", cwd, d);
		free(cwd);
		return path;
	}
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
session_transport(const char *v, enum transport *t)
{
	static const char *names[] = { "udp", "api", "stdout" };

	for (int i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*t = (enum transport)i;
			return 0;
		}
	return -1;
}

int
session_rate(const char *v, double *rate)
{
	char *end;

	/* Plain decimals only: strtod would also take " 1", "inf" and hex. */
	if (strspn(v, "0123456789.") != strlen(v) || strchr(v, '.') != strrchr(v, '.'))
		return -1;
	errno = 0;
	*rate = strtod(v, &end);
	if (errno || end == v || *end || !(*rate >= 0 && *rate <= 1))
		return -1;
	return 0;
}

static void
read_settings(struct session *s)
{
	const char *v = getenv("XRAY_SEG_TRANSPORT");

	s->daemon = getenv("AWS_XRAY_DAEMON_ADDRESS");
	s->stdout_fd = STDOUT_FILENO;
	/* Said when a document leaves, not by calls that send nothing. */
	if (v && *v && session_transport(v, &s->transport) < 0)
		s->bad_transport = v;
	v = getenv("AWS_LAMBDA_FUNCTION_NAME");
	s->lambda = v && *v;
	s->in_progress = is_true(getenv("XRAY_SEG_IN_PROGRESS"));
	v = getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
	s->prewarmed = v && (strcmp(v, "provisioned-concurrency") == 0 ||
	    strcmp(v, "snap-start") == 0);
	s->deadline_ms = getenv("XRAY_SEG_DEADLINE_MS");
	v = getenv("XRAY_SEG_COLD_START");
	s->cold_start = v == NULL ? -1 : strcmp(v, "true") == 0 ? 1 : strcmp(v, "false") == 0 ? 0 : -1;
	s->service_name = getenv("POWERTOOLS_SERVICE_NAME");
	if (s->service_name && *s->service_name == '\0')
		s->service_name = NULL;
	s->service_version = getenv("XRAY_SEG_SERVICE_VERSION");
	if (s->service_version && *s->service_version == '\0')
		s->service_version = NULL;
}

/*
 * Outside Lambda, with no X-Ray header, a caller traced by OpenTelemetry
 * passes its context as a W3C TRACEPARENT: joined as the same trace, under
 * its span (X-Ray and W3C ids are the same bits).
 */
static const char *
trace_header(struct session *s)
{
	const char *h = getenv("_X_AMZN_TRACE_ID"), *tp = getenv("TRACEPARENT");

	if ((h && *h) || s->lambda || tp == NULL || *tp == '\0')
		return h;
	if (tracectx_from_w3c(tp, &s->w3c_header) == 0)
		return s->w3c_header;
	warnmsg("%s: TRACEPARENT '%.64s' is not a W3C traceparent; ignored", s->cmd, tp);
	return h;
}

void
session_start_quiet(struct session *s, const char *cmd)
{
	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	read_settings(s);
	s->header = trace_header(s);
	s->enabled = sdk_enabled();
	s->st = tracectx_parse(s->header, &s->ctx);
	s->recording = s->enabled && s->st == CTX_RECORDING;
}

int
session_start(struct session *s, const char *cmd)
{
	session_start_quiet(s, cmd);
	if (s->enabled && (s->st == CTX_MISSING || s->st == CTX_INVALID))
		return context_missing(s);
	return EXIT_OK;
}

/* The rate of roots we start: the option's, else the environment's, else all. */
static double
sample_rate(const struct session *s, const char *given)
{
	const char *v = given ? given : getenv("XRAY_SEG_SAMPLE_RATE");
	double rate = 1;

	if (v && *v && session_rate(v, &rate) < 0) {
		warnmsg("%s: XRAY_SEG_SAMPLE_RATE '%s' is not a number from 0 to 1; tracing all",
		    s->cmd, v);
		rate = 1;
	}
	return rate;
}

/*
 * The decision follows from the trace id's last 32 random bits, so every job
 * that joins one trace by --trace-id-from decides the same way.
 */
static int
sampled(const char *root, double rate)
{
	unsigned long r = strtoul(root + TRACE_ID_LEN - 8, NULL, 16);

	return rate >= 1 || (double)r < rate * 4294967296.0;
}

int
session_start_root(struct session *s, const char *cmd, const struct root_opts *o)
{
	int joinable;

	session_start_quiet(s, cmd);
	joinable = s->st == CTX_MISSING || (s->st == CTX_PASSTHROUGH && s->ctx.sampled != '0');
	/* In Lambda the function's segment is Lambda's own: never start another. */
	if (!joinable || !s->enabled || s->lambda)
		return s->enabled && (s->st == CTX_MISSING || s->st == CTX_INVALID) ?
		    context_missing(s) : EXIT_OK;
	if (o->service_version)
		s->service_version = o->service_version;
	if (s->st == CTX_MISSING && o->trace_id_from)
		ids_trace_from(o->trace_id_from, s->ctx.root);
	else if (s->st == CTX_MISSING)
		ids_trace_new(s->ctx.root);
	s->rooted = 1;
	s->recording = s->enabled &&
	    (s->ctx.sampled == '1' || sampled(s->ctx.root, sample_rate(s, o->sample_rate)));
	s->ctx.sampled = s->recording ? '1' : '0';
	s->st = s->recording ? CTX_RECORDING : CTX_UNSAMPLED;
	return EXIT_OK;
}

void
session_end(struct session *s)
{
	tracectx_free(&s->ctx);
	free(s->w3c_header);
	s->w3c_header = NULL;
	free(s->state_dir);
	s->state_dir = NULL;
}

static void
warn_state(struct session *s, int e)
{
	struct stat st;

	/* Name the directory that was refused: the state directory, or the trace's in it. */
	if (state_refused(e) &&
	    s->ctx.root[0] && state_check(s->state_dir) == 0)
		warnmsg("%s: trace directory %s/%s %s; not recording", s->cmd, s->state_dir,
		    s->ctx.root, state_strerror(e));
	else if (e == STATE_NOT_OWNED && stat(s->state_dir, &st) == 0)
		/* Someone else made it first (a shared /tmp): say who, and the way out. */
		warnmsg("%s: state directory %s is owned by another user (uid %u); not recording "
		    "(set XRAY_SEG_STATE_DIR to a directory of your own)", s->cmd, s->state_dir,
		    (unsigned)st.st_uid);
	else if (state_refused(e))
		warnmsg("%s: state directory %s %s; not recording", s->cmd, s->state_dir,
		    state_strerror(e));
	else if (e == ETIMEDOUT)
		warnmsg("%s: the lock of trace %s stayed with one call (stopped for %ld s, or "
		    "held %ld s); not recording", s->cmd, s->ctx.root, STATE_HOLD_MS / 1000,
		    STATE_WAIT_MS / 1000);
	else
		warnmsg("%s: cannot keep state in %s: %s; not recording", s->cmd, s->state_dir,
		    strerror(e));
}

static int
open_trace(struct session *s, int flags, struct trace **t)
{
	int e;

	session_state_dir(s);
	/* In Lambda a sandbox runs one invocation, and so one trace, at a time. */
	if (state_open(s->state_dir, s->ctx.root, flags | (s->lambda ? STATE_SOLE : 0), t) == 0)
		return 0;
	e = errno;
	if ((e != ENOENT || (flags & STATE_CREATE)) && !(e == ETIMEDOUT && (flags & STATE_QUICK)))
		warn_state(s, e);
	errno = e;
	return -1;
}

const char *
session_state_dir(struct session *s)
{
	if (s->state_dir == NULL)
		s->state_dir = state_dir_path();
	return s->state_dir;
}

int
session_trace(struct session *s, int create, struct trace **t)
{
	return open_trace(s, create ? STATE_CREATE : 0, t);
}

int
session_trace_quick(struct session *s, struct trace **t)
{
	return open_trace(s, STATE_CREATE | STATE_QUICK, t);
}

int
session_first_invocation(struct session *s)
{
	int r;

	session_state_dir(s);
	if ((r = state_first_use(s->state_dir)) < 0)
		warn_state(s, errno);
	return r;
}

int
session_each_trace(struct session *s, int (*fn)(void *, const char *), void *arg)
{
	session_state_dir(s);
	if (state_traces(s->state_dir, fn, arg) == 0 || errno == ENOENT)
		return 0;
	warn_state(s, errno);
	return -1;
}

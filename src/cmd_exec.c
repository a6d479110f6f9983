/* cmd_exec.c: exec: run a command inside a subsegment and exit with its status. */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awscli.h"
#include "cmd.h"
#include "ids.h"
#include "job.h"
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

extern char **environ;

#define TRACE_VAR "_X_AMZN_TRACE_ID"

/*
 * What exec may set for its child: the trace, as X-Ray and W3C write it, the
 * transport, and the state directory (absolute, so a cd changes nothing).
 */
static const char *const child_vars[] = { TRACE_VAR, "TRACEPARENT", "XRAY_SEG_TRANSPORT",
	"XRAY_SEG_STATE_DIR" };
#define NCHILD_VARS (sizeof(child_vars) / sizeof(child_vars[0]))

/* Whether environ entry is one of child_vars that value[] replaces. */
static int
replaced(const char *entry, const char *const value[NCHILD_VARS])
{
	for (size_t k = 0; k < NCHILD_VARS; k++) {
		size_t len = strlen(child_vars[k]);

		if (value[k] && strncmp(entry, child_vars[k], len) == 0 && entry[len] == '=')
			return 1;
	}
	return 0;
}

/* environ with each child_vars[k] whose value[k] is set replaced; the caller frees it and set[]. */
static char **
child_env(const char *const value[NCHILD_VARS], char *set[NCHILD_VARS])
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = xmalloc((n + NCHILD_VARS + 1) * sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (!replaced(environ[i], value))
			env[j++] = environ[i];
	for (size_t k = 0; k < NCHILD_VARS; k++) {
		set[k] = value[k] ? xasprintf("%s=%s", child_vars[k], value[k]) : NULL;
		if (set[k])
			env[j++] = set[k];
	}
	env[j] = NULL;
	return env;
}

/* How the child ran, and its stderr on the way for the aws CLI. */
struct child {
	struct job_result r;
	struct awsout *out;  /* if set, stderr is read through here on its way out */
};

/* Copy the child's stderr to ours as it comes, unchanged, and scan it. */
static void
relay_stderr(void *arg, const char *buf, size_t len)
{
	writeall(STDERR_FILENO, buf, len); /* a closed stderr is the caller's choice */
	awsout_feed(arg, buf, len);
}

static double
tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Outcome and resource use of the child, and for the aws CLI its call. */
static void
describe(const struct child *ch, const struct awscall *aws, struct seg_end *e, char sig[32])
{
	struct outcome o;

	clock_now(e->end_time);
	e->has_exit = 1;
	e->exit_code = ch->r.status;
	if (ch->r.signo) {
		snprintf(sig, 32, "SIG%s", sigabbrev_np(ch->r.signo) ? sigabbrev_np(ch->r.signo) : "?");
		e->signal = sig;
	}
	if (ch->r.spawn_err) {
		e->cause = ch->r.spawn_err == ENOENT ? "command not found" : strerror(ch->r.spawn_err);
		return;
	}
	e->has_usage = 1;
	e->wall_time = ch->r.wall;
	e->user_time = tv_seconds(ch->r.ru.ru_utime);
	e->system_time = tv_seconds(ch->r.ru.ru_stime);
	e->max_rss_kb = ch->r.ru.ru_maxrss;
	if (aws == NULL || ch->r.signo)
		return;
	awscli_outcome(ch->out, ch->r.status, &o);
	e->outcome_set = 1;
	e->error = o.error;
	e->fault = o.fault;
	e->throttle = o.throttle;
	e->cause = o.message && *o.message ? o.message : o.type;
	e->cause_type = o.type;
	e->cause_remote = o.remote;
	e->http_status = ch->out->http_status >= 100 && ch->out->http_status <= 599 ?
	    ch->out->http_status : 0;
}

static void
record_aws(struct segdoc *d, const struct awscall *c, const struct awsout *out)
{
	const char *keys[AWS_FIELDS_MAX];
	char *values[AWS_FIELDS_MAX];
	struct seg_aws a;

	for (size_t i = 0; i < c->nfields; i++) {
		keys[i] = c->field[i].key;
		values[i] = c->field[i].value;
	}
	a.operation = c->operation;
	a.region = c->region;
	a.request_id = out->request_id[0] ? out->request_id : NULL;
	a.keys = keys;
	a.values = values;
	a.nfields = c->nfields;
	a.table_names = c->table_names;
	a.ntables = c->ntables;
	segdoc_set_aws(d, &a);
}

#define LEFT_BATCH 64
#define LEFT_ROUNDS 16
#define LEFT_DEPTH 8

/*
 * End what the command began in scope and left open, innermost first, and
 * what was begun inside each of those (a begin --export's own scope): a
 * script stopped half way (set -e) still delivers its steps, with the
 * exceptions recorded in them.
 */
static void
end_left_open(struct session *s, struct trace *t, const char *scope, const struct seg_end *e,
    int depth)
{
	char ids[LEFT_BATCH][ID_LEN + 1];
	size_t n = LEFT_BATCH;

	for (int round = 0; round < LEFT_ROUNDS && n == LEFT_BATCH; round++) {
		n = state_open_on(t, scope, ids, LEFT_BATCH);
		for (size_t i = 0; i < n; i++) {
			if (depth < LEFT_DEPTH)
				end_left_open(s, t, ids[i], e, depth + 1);
			subseg_end(s, t, ids[i], e);
		}
	}
}

/* How what the command left open ends: at its end, with its failure. */
static char *
left_open_end(const struct seg_end *own, struct seg_end *e)
{
	char *cause = NULL;

	memset(e, 0, sizeof(*e));
	memcpy(e->end_time, own->end_time, sizeof(e->end_time));
	if (own->signal)
		cause = xasprintf("left open; ended by exec: its command was killed by %s",
		    own->signal);
	else if (own->exit_code != 0)
		cause = xasprintf("left open; ended by exec: its command exited with status %d",
		    own->exit_code);
	e->cause = cause;
	e->fault = cause != NULL;
	return cause;
}

/*
 * The trace's state of subsegment id, open: what a sweep or a user removed
 * while the command ran is made again from what exec holds (the child's
 * annotations and metadata are gone with it). 0, or -1 (said on stderr).
 */
static int
reopen(struct session *s, struct trace **t, const char *id, const char *name, const char *ns,
    const char *start)
{
	if (session_trace(s, 1, t) < 0)
		return -1;
	/* Ended by another call (guard, end) while it ran: its mark is still there. */
	if (subseg_is_open(*t, id) || state_is_live(*t, id))
		return 0;
	warnmsg("%s: the state of subsegment %s was removed while its command ran; it is sent "
	    "without what the command recorded in it", s->cmd, id);
	if (subseg_begin(s, *t, id, name, NULL, ns, start, PUSH_NONE) == 0)
		return 0;
	subseg_close(s, *t, 1);
	return -1;
}

/* Record how the child ran in subsegment id (begun as name in ns at start). */
static void
exec_end(struct session *s, const char *id, const struct child *ch, const struct awscall *aws,
    const char *name, const char *ns, const char *start)
{
	struct seg_end e, left;
	struct trace *t;
	struct segdoc *d;
	char sig[32], *cause;

	memset(&e, 0, sizeof(e));
	describe(ch, aws, &e, sig);
	if (reopen(s, &t, id, name, ns, start) < 0)
		return;
	cause = left_open_end(&e, &left);
	end_left_open(s, t, id, &left, 0);
	free(cause);
	/* The aws object goes in first, so end's cuts for size can still see it. */
	if (aws && (d = subseg_load(s, t, id)) != NULL) {
		record_aws(d, aws, ch->out);
		subseg_save(s, t, id, d);
		segdoc_free(d);
	}
	subseg_end(s, t, id, &e);
	subseg_close(s, t, 1);
}

struct exec_opts {
	char *name;             /* owned; NULL: from the command */
	const char *ns;
	int aws;                /* -1 by the command's name, 0 no, 1 yes */
	struct root_opts root;
	const char *transport;  /* --transport (checked), or NULL */
	int in_progress;
	int strict;
};

/* --name: cleaned as for begin; one with nothing usable left falls back to the command's. */
static int
exec_name(struct exec_opts *o, const char *name)
{
	int changed;
	char *clean = segdoc_clean_name(name, &changed);
	int empty = *clean == '\0';

	free(clean);
	if (empty)
		return cmd_refuse("exec", o->strict, "the command's name used",
		    "name has no character X-Ray allows (letters, digits, spaces and _.:/%%&#=+-@)");
	return (o->name = cmd_name("exec", name, o->strict)) == NULL ? EXIT_USAGE : 0;
}

/* Tracing options as given, checked once all are read: --strict may come last. */
struct exec_raw {
	const char *name, *ns, *transport, *trace_id_from, *sample_rate, *service_version;
};

/*
 * A tracing option must never cost the user the command: one that cannot be
 * used is a warning and the command runs without it; with --strict it is a
 * usage error and nothing runs.
 */
static int
check_exec(struct exec_opts *o, const struct exec_raw *raw)
{
	enum transport t;
	double rate;
	int r = 0;

	if (raw->ns && strcmp(raw->ns, "aws") != 0 && strcmp(raw->ns, "remote") != 0)
		r = cmd_refuse("exec", o->strict, "none used", "namespace '%s' is not aws or remote",
		    raw->ns);
	else
		o->ns = raw->ns;
	if (r == 0 && raw->transport && session_transport(raw->transport, &t) < 0)
		r = cmd_refuse("exec", o->strict, "the default used",
		    "transport '%s' is not udp, api or stdout", raw->transport);
	else if (r == 0)
		o->transport = raw->transport;
	if (r == 0 && raw->trace_id_from && *raw->trace_id_from == '\0')
		r = cmd_refuse("exec", o->strict, "a new trace ID used", "--trace-id-from is empty");
	else if (r == 0)
		o->root.trace_id_from = raw->trace_id_from;
	if (r == 0 && raw->sample_rate && session_rate(raw->sample_rate, &rate) < 0)
		r = cmd_refuse("exec", o->strict, "ignored", "sample rate '%s' is not a number from 0 to 1",
		    raw->sample_rate);
	else if (r == 0)
		o->root.sample_rate = raw->sample_rate;
	if (r == 0 && raw->service_version && *raw->service_version == '\0')
		r = cmd_refuse("exec", o->strict, "ignored", "--service-version is empty");
	else if (r == 0 && raw->service_version) {
		o->root.service_version = raw->service_version;
		r = cmd_utf8("exec", o->strict, "--service-version", raw->service_version);
	}
	if (r == 0 && raw->name)
		r = exec_name(o, raw->name);
	return r;
}

static int
parse_exec(int argc, char **argv, struct exec_opts *o)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "aws", no_argument, NULL, 'a' },
		{ "no-aws", no_argument, NULL, 'A' },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "in-progress", no_argument, NULL, OPT_IN_PROGRESS },
		ROOT_LONGOPTS,
		STRICT_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_raw raw;
	int c;

	memset(&raw, 0, sizeof(raw));
	o->strict = session_strict();
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("exec"));
			return -1;
		case OPT_TRANSPORT:
			raw.transport = optarg;
			break;
		case OPT_TRACE_ID_FROM:
			raw.trace_id_from = optarg;
			break;
		case OPT_SAMPLE_RATE:
			raw.sample_rate = optarg;
			break;
		case OPT_SERVICE_VERSION:
			raw.service_version = optarg;
			break;
		case OPT_IN_PROGRESS:
			o->in_progress = 1;
			break;
		case 'N':
			raw.name = optarg;
			break;
		case OPT_STRICT:
			o->strict = 1;
			break;
		case 'n':
			raw.ns = optarg;
			break;
		case 'a':
		case 'A':
			o->aws = c == 'a';
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cmd_usage("exec", "missing CMD");
	return check_exec(o, &raw);
}

static const char *
base_name(const char *cmd)
{
	const char *slash = strrchr(cmd, '/');

	return slash && slash[1] ? slash + 1 : cmd;
}

/* The subsegment's name and namespace; for the aws CLI, what it calls. */
static int
name_it(struct exec_opts *o, char **argv, struct awscall *aws, int *is_aws)
{
	if (o->aws < 0)
		o->aws = strcmp(base_name(argv[0]), "aws") == 0;
	*is_aws = o->aws && awscli_parse(argv, aws) == 0;
	if (*is_aws && o->ns == NULL)
		o->ns = "aws";
	if (o->name == NULL) {
		int changed;

		/* A name we made up is never the user's mistake: clean it quietly. */
		o->name = segdoc_clean_name(*is_aws ? aws->name : base_name(argv[0]), &changed);
		if (*o->name == '\0') {
			free(o->name);
			o->name = xstrdup("exec");
		}
	}
	return 0;
}

/* The subsegment (or, starting a trace, the segment) the child runs in. */
struct opening {
	struct session *s;
	const struct exec_opts *o;
	const char *start;
	const char *id;
	struct trace *t;        /* locked from before the child starts until it is recorded */
	int late;               /* the lock was taken: recorded once the child has ended */
	int traced;             /* it is recorded */
};

/*
 * Lock the trace for the subsegment and fill the child's trace variables.
 * The subsegment itself is written while the child starts: until then the
 * lock holds back any call of the child's that would look for it.
 */
static void
exec_prepare(struct opening *op, char id[ID_LEN + 1], char *value[2])
{
	struct session *s = op->s;
	int locked;

	ids_new(id);
	op->id = id;
	/* The command starts within STATE_QUICK_MS, whatever holds the lock. */
	locked = s->recording && session_trace_quick(s, &op->t) == 0;
	op->late = s->recording && !locked && errno == ETIMEDOUT;
	/* A trace we start but do not sample is still passed on, as not sampled. */
	if (locked || op->late || (s->rooted && !s->recording)) {
		value[0] = tracectx_format(&s->ctx, id);
		value[1] = tracectx_traceparent(&s->ctx, id);
	} else if (s->w3c_header) {
		/* Not recorded here: the caller's W3C context goes on, in both forms. */
		value[0] = xstrdup(s->w3c_header);
	}
}

/* run_child's started: record the subsegment and let the child's calls in. */
static void
exec_begin(void *arg)
{
	struct opening *op = arg;

	if (op->t == NULL)
		return;
	op->traced = subseg_begin(op->s, op->t, op->id, op->o->name, NULL, op->o->ns, op->start,
	    PUSH_NONE) == 0;
	/* A command may run for hours: its trace is not stale meanwhile. */
	if (op->traced)
		state_live(op->t, op->id);
	subseg_close(op->s, op->t, 0);
	op->t = NULL;
}

int
cmd_exec(int argc, char **argv)
{
	struct exec_opts o = { NULL, NULL, -1, { NULL, NULL, NULL }, NULL, 0, 0 };
	char id[ID_LEN + 1], start[TIME_LEN], *value[NCHILD_VARS] = { NULL }, *set[NCHILD_VARS];
	char **env, **cmd;
	struct awscall aws;
	struct job_relay relay;
	struct awsout out;
	struct opening op;
	struct child ch;
	struct session s;
	const char *v;
	int r, is_aws = 0;

	clock_now(start);
	memset(&aws, 0, sizeof(aws));
	if ((r = parse_exec(argc, argv, &o)) != 0 || (r = name_it(&o, argv + optind, &aws, &is_aws))) {
		free(o.name);
		return r < 0 ? EXIT_OK : r;
	}
	cmd = argv + optind;
	session_start_root(&s, "exec", &o.root); /* whatever the policy, the command runs */
	if (o.transport)
		session_transport(o.transport, &s.transport);
	s.in_progress |= o.in_progress;
	/* exec ends what it begins: one warning there says how delivery went. */
	s.quiet_in_progress = 1;
	memset(&op, 0, sizeof(op));
	op.s = &s;
	op.o = &o;
	op.start = start;
	exec_prepare(&op, id, value);
	value[2] = (char *)o.transport;
	v = secure_getenv("XRAY_SEG_STATE_DIR");
	value[3] = v && *v && *v != '/' ? (char *)session_state_dir(&s) : NULL;
	memset(&ch, 0, sizeof(ch));
	memset(&out, 0, sizeof(out));
	ch.out = (op.t || op.late) && is_aws ? &out : NULL;
	env = child_env((const char *const *)value, set);
	relay.data = relay_stderr;
	relay.arg = ch.out;
	job_run(cmd, env, ch.out ? &relay : NULL, exec_begin, &op, &ch.r);
	/* From here on, whatever happens to the tracing, the command's status is ours. */
	set_oom_status(ch.r.status);
	if (ch.out)
		awsout_end(ch.out);
	if (ch.r.spawn_err)
		errmsg("%s: %s", cmd[0], ch.r.spawn_err == ENOENT ? "command not found" :
		    strerror(ch.r.spawn_err));
	if (op.late && session_trace(&s, 1, &op.t) == 0)
		exec_begin(&op);
	if (op.traced)
		exec_end(&s, id, &ch, ch.out ? &aws : NULL, o.name, o.ns, start);
	if (is_aws)
		awscli_free(&aws);
	for (size_t i = 0; i < NCHILD_VARS; i++)
		free(set[i]);
	free(env);
	free(value[0]);
	free(value[1]);
	free(o.name);
	session_end(&s);
	if (ch.r.signo) {
		/* Everything is sent: die as the child did, for the caller's $? and its SIGINT rule. */
		fflush(NULL);
		job_die(ch.r.signo);
	}
	return ch.r.status;
}

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
#include "segdoc.h"
#include "session.h"
#include "subseg.h"
#include "util.h"

extern char **environ;

#define TRACE_VAR "_X_AMZN_TRACE_ID"

/* Signals a terminal or a supervisor sends that belong to the child. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

/* The one global: a signal handler has no other way to find the child. */
static volatile sig_atomic_t child_pid;

static void
forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

/* What exec may set for its child: the trace, as X-Ray and W3C write it, and the transport. */
static const char *const child_vars[] = { TRACE_VAR, "TRACEPARENT", "XRAY_SEG_TRANSPORT" };
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

/* How the child ran. */
struct child {
	int status;          /* as a shell reports it: 128+N for signal N, 126/127 */
	int signo;           /* the signal that killed it, or 0 */
	int spawn_err;       /* errno of a child that could not start, or 0 */
	struct rusage ru;
	double wall;         /* seconds from spawn to exit */
	struct awsout *out;  /* if set, stderr is read through here on its way out */
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copy the child's stderr to ours as it comes, unchanged, and scan it. */
static void
relay_stderr(int fd, struct awsout *out)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		writeall(STDERR_FILENO, buf, (size_t)n); /* a closed stderr is the caller's choice */
		awsout_feed(out, buf, (size_t)n);
	}
	awsout_end(out);
}

/* The child starts with the caller's signal mask, and our handlers reset to default. */
static int
spawn(char **argv, char **env, int errfd, const sigset_t *mask, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t defaults;
	int r;

	sigemptyset(&defaults);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&defaults, forwarded[i]);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setsigmask(&attr, mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	if (errfd >= 0)
		posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
	r = posix_spawnp(pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r;
}

/*
 * Run argv with env to its end, forwarding signals meanwhile; call
 * started(arg) as soon as the child has started (or failed to).
 */
static void
run_child(char **argv, char **env, struct child *ch, void (*started)(void *), void *arg)
{
	struct sigaction sa, old[NFORWARDED];
	int pipefd[2] = { -1, -1 }, st = 0;
	double start = now_seconds();
	sigset_t block, mask;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&block);
	for (size_t i = 0; i < NFORWARDED; i++) {
		sigaction(forwarded[i], &sa, &old[i]);
		sigaddset(&block, forwarded[i]);
	}
	if (ch->out && pipe2(pipefd, O_CLOEXEC) < 0)
		ch->out = NULL; /* no pipe: the child writes to our stderr directly */
	/* Held back until the child's pid is known, so none is lost on the way. */
	sigprocmask(SIG_BLOCK, &block, &mask);
	ch->spawn_err = spawn(argv, env, pipefd[1], &mask, &pid);
	if (ch->spawn_err == 0)
		child_pid = pid;
	sigprocmask(SIG_SETMASK, &mask, NULL);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	started(arg);
	if (ch->spawn_err == 0) {
		if (ch->out)
			relay_stderr(pipefd[0], ch->out);
		while (wait4(pid, &st, 0, &ch->ru) < 0 && errno == EINTR)
			;
		child_pid = 0;
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	ch->wall = now_seconds() - start;
	if (ch->spawn_err)
		ch->status = ch->spawn_err == ENOENT ? 127 : 126;
	else if (WIFSIGNALED(st))
		ch->status = 128 + (ch->signo = WTERMSIG(st));
	else
		ch->status = WEXITSTATUS(st);
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
	e->exit_code = ch->status;
	if (ch->signo) {
		snprintf(sig, 32, "SIG%s", sigabbrev_np(ch->signo) ? sigabbrev_np(ch->signo) : "?");
		e->signal = sig;
	}
	if (ch->spawn_err) {
		e->cause = ch->spawn_err == ENOENT ? "command not found" : strerror(ch->spawn_err);
		return;
	}
	e->has_usage = 1;
	e->wall_time = ch->wall;
	e->user_time = tv_seconds(ch->ru.ru_utime);
	e->system_time = tv_seconds(ch->ru.ru_stime);
	e->max_rss_kb = ch->ru.ru_maxrss;
	if (aws == NULL || ch->signo)
		return;
	awscli_outcome(ch->out, ch->status, &o);
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

/* Record how the child ran in subsegment id. */
static void
exec_end(struct session *s, const char *id, const struct child *ch, const struct awscall *aws)
{
	struct seg_end e;
	struct trace *t;
	struct segdoc *d;
	char sig[32];

	memset(&e, 0, sizeof(e));
	describe(ch, aws, &e, sig);
	if (session_trace(s, 0, &t) < 0)
		return;
	/* The aws object goes in first, so end's cuts for size can still see it. */
	if (aws && (d = subseg_load(s, t, id)) != NULL) {
		record_aws(d, aws, ch->out);
		subseg_save(s, t, id, d);
		segdoc_free(d);
	}
	subseg_end(s, t, id, &e);
	state_close(t, 1);
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
	const char *name = NULL;
	enum transport t;
	int c, r;

	o->strict = session_strict();
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if ((r = cmd_root_option("exec", c, optarg, &o->root)) != 0) {
			if (r < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("exec"));
			return -1;
		case OPT_TRANSPORT:
			if (cmd_transport("exec", optarg, &t) < 0)
				return EXIT_USAGE;
			o->transport = optarg;
			break;
		case OPT_IN_PROGRESS:
			o->in_progress = 1;
			break;
		case 'N':
			name = optarg;
			break;
		case OPT_STRICT:
			o->strict = 1;
			break;
		case 'n':
			if (cmd_namespace("exec", optarg, &o->ns) < 0)
				return EXIT_USAGE;
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
	/* After every option: --strict may follow --name. */
	if (name && (o->name = cmd_name("exec", name, o->strict)) == NULL)
		return EXIT_USAGE;
	return o->root.service_version ?
	    cmd_utf8("exec", o->strict, "--service-version", o->root.service_version) : 0;
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
	locked = s->recording && session_trace(s, 1, &op->t) == 0;
	/* A trace we start but do not sample is still passed on, as not sampled. */
	if (locked || (s->rooted && !s->recording)) {
		value[0] = tracectx_format(&s->ctx, id);
		value[1] = tracectx_traceparent(&s->ctx, id);
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
	state_close(op->t, 0);
	op->t = NULL;
}

int
cmd_exec(int argc, char **argv)
{
	struct exec_opts o = { NULL, NULL, -1, { NULL, NULL, NULL }, NULL, 0, 0 };
	char id[ID_LEN + 1], start[TIME_LEN], *value[NCHILD_VARS] = { NULL }, *set[NCHILD_VARS];
	char **env, **cmd;
	struct awscall aws;
	struct awsout out;
	struct opening op;
	struct child ch;
	struct session s;
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
	memset(&ch, 0, sizeof(ch));
	memset(&out, 0, sizeof(out));
	ch.out = op.t && is_aws ? &out : NULL;
	env = child_env((const char *const *)value, set);
	run_child(cmd, env, &ch, exec_begin, &op);
	if (ch.spawn_err)
		errmsg("%s: %s", cmd[0], ch.spawn_err == ENOENT ? "command not found" :
		    strerror(ch.spawn_err));
	if (op.traced)
		exec_end(&s, id, &ch, ch.out ? &aws : NULL);
	if (is_aws)
		awscli_free(&aws);
	for (size_t i = 0; i < NCHILD_VARS; i++)
		free(set[i]);
	free(env);
	free(value[0]);
	free(value[1]);
	free(o.name);
	session_end(&s);
	return ch.status;
}

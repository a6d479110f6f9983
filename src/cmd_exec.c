/* cmd_exec.c: exec: run a command inside a subsegment and exit with its status. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The one global: a signal handler has no other way to find the child. */
static volatile sig_atomic_t child_pid;

static void
forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

/* environ with _X_AMZN_TRACE_ID set to header (or as is when NULL); caller frees the array. */
static char **
child_env(const char *header, char **var)
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = xmalloc((n + 2) * sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (header == NULL || strncmp(environ[i], TRACE_VAR "=", sizeof(TRACE_VAR)) != 0)
			env[j++] = environ[i];
	*var = header ? xasprintf(TRACE_VAR "=%s", header) : NULL;
	if (*var)
		env[j++] = *var;
	env[j] = NULL;
	return env;
}

/* Start argv with env; the child's status as a shell reports it (126/127 if it cannot start). */
static int
spawn_wait(char **argv, char **env, int *spawn_err, int *signo)
{
	struct sigaction sa, old[4];
	posix_spawnattr_t attr;
	sigset_t defaults;
	pid_t pid;
	int st, r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&defaults);
	for (size_t i = 0; i < 4; i++) {
		sigaction(forwarded[i], &sa, &old[i]);
		sigaddset(&defaults, forwarded[i]);
	}
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	r = posix_spawnp(&pid, argv[0], NULL, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	*spawn_err = r;
	*signo = 0;
	if (r == 0) {
		child_pid = pid;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		child_pid = 0;
	}
	for (size_t i = 0; i < 4; i++)
		sigaction(forwarded[i], &old[i], NULL);
	if (r != 0)
		return r == ENOENT ? 127 : 126;
	if (WIFSIGNALED(st)) {
		*signo = WTERMSIG(st);
		return 128 + *signo;
	}
	return WEXITSTATUS(st);
}

static char *
default_name(const char *cmd)
{
	const char *slash = strrchr(cmd, '/');

	return cmd_name("exec", slash && slash[1] ? slash + 1 : cmd);
}

/* Record the outcome of the child in subsegment id. */
static void
exec_end(struct session *s, const char *id, int status, int spawn_err, int signo)
{
	struct seg_end e;
	struct trace *t;
	char sig[32];

	memset(&e, 0, sizeof(e));
	clock_now(e.end_time);
	e.has_exit = 1;
	e.exit_code = status;
	if (signo) {
		snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(signo) ? sigabbrev_np(signo) : "?");
		e.signal = sig;
	}
	if (spawn_err)
		e.cause = spawn_err == ENOENT ? "command not found" : strerror(spawn_err);
	if (session_trace(s, 0, &t) < 0)
		return;
	subseg_end(s, t, id, &e);
	state_close(t, 1);
}

static int
parse_exec(int argc, char **argv, char **name, const char **ns)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (c) {
		case 'h':
			cmd_print_help(cmd_find("exec"));
			return -1;
		case 'N':
			free(*name);
			if ((*name = cmd_name("exec", optarg)) == NULL)
				return EXIT_USAGE;
			break;
		case 'n':
			if (cmd_namespace("exec", optarg, ns) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cmd_usage("exec", "missing CMD");
	if (*name == NULL && (*name = default_name(argv[optind])) == NULL)
		return EXIT_USAGE;
	return 0;
}

int
cmd_exec(int argc, char **argv)
{
	char id[ID_LEN + 1], start[TIME_LEN], *name = NULL, *header = NULL, *var, **env;
	const char *ns = NULL;
	struct session s;
	struct trace *t;
	int r, status, spawn_err, signo, traced = 0;

	clock_now(start);
	if ((r = parse_exec(argc, argv, &name, &ns)) != 0) {
		free(name);
		return r < 0 ? EXIT_OK : r;
	}
	session_start(&s, "exec"); /* whatever the policy, the command runs */
	if (s.recording && session_trace(&s, 1, &t) == 0) {
		ids_new(id);
		traced = subseg_begin(&s, t, id, name, NULL, ns, start, 0) == 0;
		state_close(t, 0);
		if (traced)
			header = tracectx_format(&s.ctx, id);
	}
	env = child_env(header, &var);
	status = spawn_wait(argv + optind, env, &spawn_err, &signo);
	if (spawn_err)
		errmsg("%s: %s", argv[optind],
		    spawn_err == ENOENT ? "command not found" : strerror(spawn_err));
	if (traced)
		exec_end(&s, id, status, spawn_err, signo);
	free(env);
	free(var);
	free(header);
	free(name);
	session_end(&s);
	return status;
}

/* job.c: run a command as the shell would have run it (see job.h). */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "job.h"

/* Signals that are the command's: xray-seg passes them on and never acts on them. */
static const int relayed[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
	SIGALRM, SIGWINCH, SIGTSTP, SIGCONT };
#define NRELAYED (sizeof(relayed) / sizeof(relayed[0]))

/*
 * What a signal handler needs and how xray-seg's signals came: process-wide
 * by nature, set before any handler can run.
 */
static struct sigaction came_pipe, came_xfsz;
static volatile sig_atomic_t job_pid;       /* the command while it runs, or 0 */
static volatile sig_atomic_t job_own_group; /* it leads a process group of its own */

void
job_init_signals(void)
{
	struct sigaction ign;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &came_pipe);
	sigaction(SIGXFSZ, &ign, &came_xfsz);
}

/*
 * Pass a signal on, unless the command has it already. Sent by the kernel
 * (a terminal's key, a hangup), it reached the command too when both share
 * the caller's group; sent with kill(2) from inside that group, it went to
 * the group; sent from the command's own group, it is not the command's.
 */
static void
relay(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	pid_t pid = (pid_t)job_pid, from;
	int sent = si->si_code <= 0; /* SI_USER, SI_QUEUE, SI_TKILL...: not the kernel */

	(void)uc;
	if (pid > 0) {
		from = sent ? getpgid(si->si_pid) : -1;
		if (job_own_group) {
			if (from != pid)
				killpg(pid, sig);
		} else if (sent && from != getpgrp())
			kill(pid, sig);
	}
	errno = saved;
}

/* SIGCHLD only has to end a wait in ppoll. */
static void
woken(int sig)
{
	(void)sig;
}

/* Make pgrp the terminal's foreground; SIGTTOU held back, as a shell does. */
static void
give_tty(int tty, pid_t pgrp)
{
	sigset_t ttou, old;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(tty, pgrp);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* What the child of vfork needs to become the command. */
struct launch {
	char **argv, **env;
	int errfd;                 /* becomes its stderr, or -1 */
	int own_group;
	pid_t parent;
	sigset_t mask;             /* the caller's */
	struct sigaction came[NRELAYED]; /* how relayed[i] came to xray-seg */
	int taken[NRELAYED];       /* relayed[i] has a handler here */
	struct sigaction chld;     /* how SIGCHLD came */
	volatile int err;          /* why it could not start */
};

/*
 * The child of vfork, sharing the parent's memory until it execs: system
 * calls only, then exec or _exit. Every disposition and the mask are put
 * back as they came to xray-seg.
 */
static void
become(struct launch *l)
{
	for (size_t i = 0; i < NRELAYED; i++)
		if (l->taken[i])
			sigaction(relayed[i], &l->came[i], NULL);
	sigaction(SIGCHLD, &l->chld, NULL);
	sigaction(SIGPIPE, &came_pipe, NULL);
	sigaction(SIGXFSZ, &came_xfsz, NULL);
	if (l->own_group) {
		setpgid(0, 0);
		/* A SIGKILL of the caller's group ends xray-seg: the command goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != l->parent)
			_exit(127);
	}
	if (l->errfd >= 0 && dup2(l->errfd, STDERR_FILENO) < 0)
		l->err = errno;
	else {
		sigprocmask(SIG_SETMASK, &l->mask, NULL);
		execvpe(l->argv[0], l->argv, l->env);
		l->err = errno;
	}
	_exit(127);
}

/* Start the command; its pid, or -1 with l->err set. */
static pid_t
launch(struct launch *l)
{
	sigset_t all, old;
	int st;
	pid_t pid;

	/* No handler may run in the child while it shares our memory. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	l->err = 0;
	/* vfork: the child only makes system calls (see become), and a wrapper starts fast. */
	pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
	if (pid == 0)
		become(l); /* NOLINT(clang-analyzer-unix.Vfork) */
	if (pid < 0)
		l->err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && l->err) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pid = -1;
	}
	return pid;
}

/* Read once from fd into relay: 1 data, 0 end or error, -1 nothing now. */
static int
pump(int fd, const struct job_relay *relay)
{
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0) {
		relay->data(relay->arg, buf, (size_t)n);
		return 1;
	}
	return n < 0 && (errno == EINTR || errno == EAGAIN) ? -1 : 0;
}

/*
 * The command stopped: stop xray-seg the same way, so that the caller's
 * shell sees its job stopped; once continued, continue the command, with
 * the terminal if xray-seg now has it.
 */
static void
stop_too(pid_t pid, int tty, int sig)
{
	struct sigaction dfl, was_sig, was_cont;
	sigset_t one, old;

	if (tty >= 0 && tcgetpgrp(tty) == pid)
		give_tty(tty, getpgrp());
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCONT, &dfl, &was_cont);
	sigaction(sig, &dfl, &was_sig);
	if (was_sig.sa_handler == SIG_IGN)
		sig = SIGSTOP; /* the caller ignores it: stop all the same */
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, &old);
	kill(getpid(), sig); /* returns when continued */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (sig != SIGSTOP)
		sigaction(sig, &was_sig, NULL);
	sigaction(SIGCONT, &was_cont, NULL);
	if (tty >= 0 && tcgetpgrp(tty) == getpgrp())
		give_tty(tty, pid);
	killpg(pid, SIGCONT);
}

/* Wait for the command to end, relaying its stderr from fd meanwhile; its wait status. */
static int
follow(pid_t pid, int tty, int fd, const struct job_relay *relay, const sigset_t *waitmask,
    struct rusage *ru)
{
	int st = 0, flags = WNOHANG | (job_own_group ? WUNTRACED : 0);
	struct pollfd p;
	pid_t r;

	for (;;) {
		r = wait4(pid, &st, flags, ru);
		if (r == pid && WIFSTOPPED(st)) {
			stop_too(pid, tty, WSTOPSIG(st));
			continue;
		}
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		p.fd = fd;
		p.events = POLLIN;
		if (ppoll(&p, fd >= 0, NULL, waitmask) > 0 && pump(fd, relay) == 0) {
			close(fd);
			fd = -1;
		}
	}
	/* What is already written is read; background writers are not waited for. */
	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		while (pump(fd, relay) == 1)
			;
		close(fd);
	}
	return st;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Install relay for the relayed signals, even those the caller ignores: a
 * signal sent to the caller's group must still reach a command that sets a
 * handler of its own. The command gets them back as they came.
 */
static void
take_signals(struct launch *l)
{
	struct sigaction sa, chld;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = relay;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NRELAYED; i++) {
		/* In a shared group, stops and continues are the kernel's, for all alike. */
		l->taken[i] = l->own_group || (relayed[i] != SIGTSTP && relayed[i] != SIGCONT);
		if (l->taken[i])
			sigaction(relayed[i], &sa, &l->came[i]);
	}
	memset(&chld, 0, sizeof(chld));
	chld.sa_handler = woken;
	sigemptyset(&chld.sa_mask);
	sigaction(SIGCHLD, &chld, &l->chld); /* back as it came in the command, see become */
}

static void
give_back_signals(const struct launch *l)
{
	for (size_t i = 0; i < NRELAYED; i++)
		if (l->taken[i])
			sigaction(relayed[i], &l->came[i], NULL);
	sigaction(SIGCHLD, &l->chld, NULL);
}

/* The controlling terminal when xray-seg is not in its foreground, or -1. */
static int
background_tty(int *foreground)
{
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	*foreground = tty >= 0 && tcgetpgrp(tty) == getpgrp();
	if (*foreground) {
		close(tty);
		tty = -1;
	}
	return tty;
}

void
job_run(char **argv, char **env, const struct job_relay *relay, void (*started)(void *),
    void *arg, struct job_result *res)
{
	int pipefd[2] = { -1, -1 }, foreground, tty = background_tty(&foreground), st = 0;
	double start = now_seconds();
	sigset_t hold, waitmask;
	struct launch l;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	memset(&l, 0, sizeof(l));
	l.argv = argv;
	l.env = env;
	l.own_group = !foreground;
	l.parent = getpid();
	job_own_group = l.own_group;
	/* Held back until the command's pid is known, so none is lost on the way. */
	sigemptyset(&hold);
	for (size_t i = 0; i < NRELAYED; i++)
		sigaddset(&hold, relayed[i]);
	sigaddset(&hold, SIGCHLD);
	sigprocmask(SIG_BLOCK, &hold, &l.mask);
	take_signals(&l);
	if (relay && pipe2(pipefd, O_CLOEXEC) < 0)
		relay = NULL; /* no pipe: the command writes to our stderr directly */
	l.errfd = pipefd[1];
	pid = launch(&l);
	if (pid > 0)
		job_pid = pid;
	else
		res->spawn_err = l.err ? l.err : EAGAIN;
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	/* From here SIGCHLD waits for ppoll, which lets it in. */
	waitmask = l.mask;
	sigdelset(&waitmask, SIGCHLD);
	hold = l.mask;
	sigaddset(&hold, SIGCHLD);
	sigprocmask(SIG_SETMASK, &hold, NULL);
	started(arg);
	if (pid > 0)
		st = follow(pid, tty, relay ? pipefd[0] : -1, relay, &waitmask, &res->ru);
	else if (pipefd[0] >= 0)
		close(pipefd[0]);
	job_pid = 0;
	if (tty >= 0) {
		if (pid > 0 && tcgetpgrp(tty) == pid)
			give_tty(tty, getpgrp());
		close(tty);
	}
	give_back_signals(&l);
	sigprocmask(SIG_SETMASK, &l.mask, NULL);
	res->wall = now_seconds() - start;
	if (res->spawn_err)
		res->status = res->spawn_err == ENOENT ? 127 : 126;
	else if (WIFSIGNALED(st))
		res->status = 128 + (res->signo = WTERMSIG(st));
	else
		res->status = WEXITSTATUS(st);
}

void
job_die(int signo)
{
	struct rlimit none = { 0, 0 };
	struct sigaction dfl;
	sigset_t one;

	/* The command's core, if it made one, is written; xray-seg's would only mislead. */
	setrlimit(RLIMIT_CORE, &none);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(signo, &dfl, NULL);
	sigemptyset(&one);
	sigaddset(&one, signo);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	kill(getpid(), signo);
}

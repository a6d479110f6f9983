/*
 * kill-at.c - run a command and SIGKILL it a given number of microseconds
 * after it started, for the crash tests of hardening.bats.
 *
 * usage: kill-at [-r FILE] USEC CMD [ARG...]
 *
 * The command is started with posix_spawnp (glibc returns once the child has
 * exec'd, so USEC counts from the start of the command itself, not of a fork),
 * then the helper waits until USEC microseconds after that instant on
 * CLOCK_MONOTONIC (or until the command ends, if sooner) and sends SIGKILL.
 * USEC -1 never kills (to measure a normal run). The helper exits with the child's status as a shell reports it (137
 * when the kill landed while the command ran). With -r, one line
 *     killed|exited STATUS ELAPSED_US
 * is appended to FILE, where ELAPSED_US is the time from the start to the
 * child's end.
 *
 * It is test code, deliberately not part of xray-seg.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long
usec_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

int
main(int argc, char **argv)
{
	const char *report = NULL;
	struct timespec t0, ts;
	long long usec, elapsed, left;
	posix_spawnattr_t attr;
	sigset_t chld, old;
	char *end;
	pid_t pid;
	int st = 0, r, argi = 1, status, reaped;
	FILE *f;

	if (argc > 2 && strcmp(argv[1], "-r") == 0) {
		report = argv[2];
		argi = 3;
	}
	if (argc - argi < 2) {
		fprintf(stderr, "usage: kill-at [-r FILE] USEC CMD [ARG...]\n");
		return 2;
	}
	errno = 0;
	usec = strtoll(argv[argi], &end, 10);
	if (errno || *end || usec < -1) {
		fprintf(stderr, "kill-at: bad USEC '%s'\n", argv[argi]);
		return 2;
	}
	/* SIGCHLD is waited for, so that a command that ends early ends the wait. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &old);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = posix_spawnp(&pid, argv[argi + 1], NULL, &attr, argv + argi + 1, environ);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		fprintf(stderr, "kill-at: %s: %s\n", argv[argi + 1], strerror(r));
		return 127;
	}
	reaped = 0;
	while (usec >= 0 && !reaped) {
		left = usec - usec_since(&t0);
		if (left <= 0) {
			kill(pid, SIGKILL); /* a child that has just exited is a zombie: harmless */
			break;
		}
		ts.tv_sec = left / 1000000;
		ts.tv_nsec = (left % 1000000) * 1000;
		if (sigtimedwait(&chld, NULL, &ts) == SIGCHLD)
			reaped = waitpid(pid, &st, WNOHANG) == pid;
	}
	while (!reaped && waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("kill-at: waitpid");
			return 2;
		}
	elapsed = usec_since(&t0);
	status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	if (report && (f = fopen(report, "a")) != NULL) {
		fprintf(f, "%s %d %lld\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed" : "exited",
		    status, elapsed);
		fclose(f);
	}
	return status;
}

/*
 * kill-at.c - run a command and SIGKILL it a given number of microseconds
 * after it started, for the crash tests of hardening.bats.
 *
 * usage: kill-at [-r FILE] USEC CMD [ARG...]
 *
 * The command is started with posix_spawnp (glibc returns once the child has
 * exec'd, so USEC counts from the start of the command itself, not of a fork),
 * then the helper sleeps until USEC microseconds after that instant on
 * CLOCK_MONOTONIC and sends SIGKILL. USEC -1 never kills (to measure a normal
 * run). The helper exits with the child's status as a shell reports it (137
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
	struct timespec t0, at;
	long long usec, elapsed;
	char *end;
	pid_t pid;
	int st, r, argi = 1, status;
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
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = posix_spawnp(&pid, argv[argi + 1], NULL, NULL, argv + argi + 1, environ);
	if (r != 0) {
		fprintf(stderr, "kill-at: %s: %s\n", argv[argi + 1], strerror(r));
		return 127;
	}
	if (usec >= 0) {
		at = t0;
		at.tv_sec += usec / 1000000;
		at.tv_nsec += (usec % 1000000) * 1000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
		kill(pid, SIGKILL); /* a child that has already exited is a zombie: harmless */
	}
	while (waitpid(pid, &st, 0) < 0)
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

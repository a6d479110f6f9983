/*
 * job.h: run a command as the shell would have run it, with xray-seg in
 * between: the same signals reach it once, its stops are the caller's, and
 * its death by a signal becomes ours.
 *
 * Two cases (the man page's SIGNALS section says why):
 *  - xray-seg is in the foreground of its controlling terminal: the command
 *    stays in the caller's process group, so that the terminal's signals
 *    (Ctrl-C, Ctrl-\, Ctrl-Z) reach the command, xray-seg and the caller
 *    together, as they would without xray-seg; xray-seg passes on only what
 *    is sent to it from outside that group.
 *  - otherwise (no terminal, or in the background): the command gets a
 *    process group of its own, and every signal sent to xray-seg or to the
 *    caller's group reaches it once, through xray-seg.
 */
#ifndef XRAY_SEG_JOB_H
#define XRAY_SEG_JOB_H

#include <sys/resource.h>
#include <sys/types.h>

#include <stddef.h>

/*
 * Ignore SIGPIPE and SIGXFSZ in xray-seg (a closed pipe or a full file is a
 * failed write, not a death) and remember how they came, for the command.
 * Called once, first thing in main.
 */
void job_init_signals(void);

/* How the command ran. */
struct job_result {
	int status;          /* as a shell reports it: 128+N for signal N, 126/127 */
	int signo;           /* the signal that killed it, or 0 */
	int spawn_err;       /* errno of a command that could not start, or 0 */
	struct rusage ru;
	double wall;         /* seconds from start to exit */
};

/* Where the command's stderr goes when xray-seg reads it on the way. */
struct job_relay {
	void (*data)(void *arg, const char *buf, size_t len);
	void *arg;
};

/*
 * Run argv (looked up in PATH) with env and wait for it to end, following
 * its stops. started(arg) is called as soon as it has started (or failed
 * to). With relay, its stderr is a pipe whose data go to relay->data as
 * they come, until it exits: what its own background processes write after
 * that is not waited for.
 */
void job_run(char **argv, char **env, const struct job_relay *relay,
    void (*started)(void *), void *arg, struct job_result *res);

/*
 * Die of signo as the command did, once everything is recorded and sent,
 * so that the caller sees what it would have seen without xray-seg. Returns
 * only if the signal did not kill the process.
 */
void job_die(int signo);

#endif

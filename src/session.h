/*
 * session.h: what one xray-seg call knows about its surroundings: the trace
 * context, whether it records, where its state lives, where documents go.
 * Every setting of xray-seg's own taken from the environment is read here and
 * only here (AWS credentials are the API emitter's, CI facts runenv's).
 */
#ifndef XRAY_SEG_SESSION_H
#define XRAY_SEG_SESSION_H

#include "state.h"
#include "tracectx.h"

/* How finished documents leave: the daemon, the X-Ray API, or standard output. */
enum transport { TRANSPORT_UDP, TRANSPORT_API, TRANSPORT_STDOUT };

/* What a call that may start a trace of its own asks for. */
struct root_opts {
	const char *trace_id_from;   /* --trace-id-from, or NULL */
	const char *sample_rate;     /* --sample-rate (checked), or NULL */
	const char *service_version; /* --service-version, or NULL */
};

struct session {
	const char *cmd;        /* command name, for messages */
	const char *header;     /* _X_AMZN_TRACE_ID as given (or from TRACEPARENT), or NULL */
	char *w3c_header;       /* owned: the header made from TRACEPARENT, or NULL */
	enum ctx_state st;
	struct tracectx ctx;
	int enabled;            /* AWS_XRAY_SDK_ENABLED is not false */
	int recording;          /* subsegments are recorded and sent */
	const char *daemon;     /* AWS_XRAY_DAEMON_ADDRESS, or NULL */
	char *state_dir;        /* owned */
	enum transport transport;
	int stdout_fd;          /* where the stdout transport writes (its default 1) */
	const char *bad_transport; /* XRAY_SEG_TRANSPORT when it names none, or NULL */
	int lambda;             /* running in AWS Lambda */
	int in_progress;        /* send an in-progress document at begin */
	int quiet_in_progress;  /* its failure is said by this call's end instead */
	int prewarmed;          /* provisioned concurrency or SnapStart: no cold starts */
	const char *service_name; /* POWERTOOLS_SERVICE_NAME, or NULL */
	const char *deadline_ms;  /* XRAY_SEG_DEADLINE_MS, or NULL */
	int cold_start;           /* XRAY_SEG_COLD_START: 1 true, 0 false, -1 unknown */
	int rooted;             /* this call starts the trace: its unit is a segment */
	const char *service_version; /* of a segment we start */
	int strict;             /* refuse what X-Ray would not take, never clean it */
	struct outbox *outbox;  /* documents to deliver once the lock is given up (subseg.h) */
};

/*
 * Read the environment into s. Says on stderr what AWS_XRAY_CONTEXT_MISSING
 * asks for when the context is missing or invalid, and returns the exit
 * status that policy wants (EXIT_RUNTIME for RUNTIME_ERROR, else EXIT_OK).
 */
int session_start(struct session *s, const char *cmd);

/* As session_start, without a word about a missing or invalid context. */
void session_start_quiet(struct session *s, const char *cmd);

/*
 * As session_start, but outside Lambda, when there is no trace to join or
 * only a Root to join, start a trace (or a segment in that Root) instead:
 * s->rooted is set, s->ctx holds the trace with an empty Parent, and
 * s->recording says whether it is sampled.
 */
int session_start_root(struct session *s, const char *cmd, const struct root_opts *o);

/*
 * Call fn(arg, root) for every trace with state in the state directory.
 * 0, or -1 (said on stderr) if the directory is refused.
 */
int session_each_trace(struct session *s, int (*fn)(void *, const char *), void *arg);

/*
 * Whether this is the first invocation the state directory has seen (its
 * first call): 1, 0, or -1 (said on stderr) if the directory is refused.
 */
int session_first_invocation(struct session *s);

/* Whether XRAY_SEG_STRICT asks for --strict (1, true, yes or on). */
int session_strict(void);

/* Parse a transport name; -1 if v is none. */
int session_transport(const char *v, enum transport *t);

/* Parse a sample rate, a decimal from 0 to 1; -1 if v is none. */
int session_rate(const char *v, double *rate);

void session_end(struct session *s);

/* The state directory, as an absolute path when XRAY_SEG_STATE_DIR is relative. */
const char *session_state_dir(struct session *s);

/*
 * Open this trace's state, locked (create: make it if absent). On failure
 * says why on stderr, except for ENOENT without create, and returns -1.
 */
int session_trace(struct session *s, int create, struct trace **t);

/*
 * session_trace with STATE_CREATE for a caller that must not wait: -1 with
 * ETIMEDOUT, and no warning, when the lock stays taken for STATE_QUICK_MS.
 */
int session_trace_quick(struct session *s, struct trace **t);

#endif

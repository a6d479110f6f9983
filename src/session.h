/*
 * session.h: what one xray-seg call knows about its surroundings: the trace
 * context, whether it records, where its state lives, where the daemon is.
 * Every setting taken from the environment is read here and only here.
 */
#ifndef XRAY_SEG_SESSION_H
#define XRAY_SEG_SESSION_H

#include "state.h"
#include "tracectx.h"

struct session {
	const char *cmd;        /* command name, for messages */
	const char *header;     /* _X_AMZN_TRACE_ID as given, or NULL */
	enum ctx_state st;
	struct tracectx ctx;
	int enabled;            /* AWS_XRAY_SDK_ENABLED is not false */
	int recording;          /* subsegments are recorded and sent */
	const char *daemon;     /* AWS_XRAY_DAEMON_ADDRESS, or NULL */
	char *state_dir;        /* owned */
};

/*
 * Read the environment into s. Says on stderr what AWS_XRAY_CONTEXT_MISSING
 * asks for when the context is missing or invalid, and returns the exit
 * status that policy wants (EXIT_RUNTIME for RUNTIME_ERROR, else EXIT_OK).
 */
int session_start(struct session *s, const char *cmd);

void session_end(struct session *s);

/*
 * Open this trace's state, locked (create: make it if absent). On failure
 * says why on stderr, except for ENOENT without create, and returns -1.
 */
int session_trace(struct session *s, int create, struct trace **t);

#endif

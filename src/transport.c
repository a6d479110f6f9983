/* transport.c: documents out by UDP, the API or standard output (see transport.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "emit_api.h"
#include "transport.h"
#include "util.h"

/* After the first failure the rest is kept untried: the cause is the same. */
static size_t
keep_rest(struct outdoc *docs, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		docs[i].fate = FATE_KEEP;
	return n - from;
}

static size_t
send_udp(struct session *s, struct outdoc *docs, size_t n, char *why, size_t whylen)
{
	struct emitter em;
	size_t i = 0, kept = 0;
	int err = 0;

	if (emit_open(&em, s->daemon) < 0)
		err = errno;
	while (err == 0 && i < n) {
		if (emit_send(&em, docs[i].text, docs[i].len) < 0)
			err = errno;
		else
			docs[i++].fate = FATE_SENT;
	}
	if (err) {
		kept = keep_rest(docs, i, n);
		snprintf(why, whylen, "cannot send to the X-Ray daemon at %s (%s)", em.where,
		    err == ECONNREFUSED ? "nothing is listening there" :
		    err == EINVAL ? "not an address" : strerror(err));
	}
	emit_close(&em);
	return kept;
}

static size_t
send_stdout(struct session *s, struct outdoc *docs, size_t n, char *why, size_t whylen)
{
	size_t kept;

	for (size_t i = 0; i < n; i++) {
		if (writeall(s->stdout_fd, docs[i].text, docs[i].len) < 0 ||
		    writeall(s->stdout_fd, "\n", 1) < 0) {
			snprintf(why, whylen, "cannot write documents to standard output (%s)",
			    strerror(errno));
			kept = keep_rest(docs, i, n);
			return kept;
		}
		docs[i].fate = FATE_SENT;
	}
	return 0;
}

size_t
transport_send(struct session *s, struct outdoc *docs, size_t n, char *why, size_t whylen)
{
	size_t kept = 0;

	if (n == 0)
		return 0;
	if (s->bad_transport) {
		warnmsg("%s: XRAY_SEG_TRANSPORT '%s' is not udp, api or stdout; using udp", s->cmd,
		    s->bad_transport);
		s->bad_transport = NULL;
	}
	switch (s->transport) {
	case TRANSPORT_UDP:
		return send_udp(s, docs, n, why, whylen);
	case TRANSPORT_STDOUT:
		return send_stdout(s, docs, n, why, whylen);
	case TRANSPORT_API:
		emit_api_send(s->cmd, docs, n, why, whylen);
		break;
	}
	for (size_t i = 0; i < n; i++)
		kept += docs[i].fate == FATE_KEEP;
	return kept;
}

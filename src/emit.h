/* emit.h: delivery of finished documents to the X-Ray daemon over UDP. */
#ifndef XRAY_SEG_EMIT_H
#define XRAY_SEG_EMIT_H

#include <stddef.h>

#define DAEMON_DEFAULT "127.0.0.1:2000"
/* Whole datagram, header included: the figure the Java SDK keeps under. */
#define DATAGRAM_MAX 64512
#define DATAGRAM_HEADER "{\"format\":\"json\",\"version\":1}\n"
#define DOCUMENT_MAX (DATAGRAM_MAX - (sizeof(DATAGRAM_HEADER) - 1))

struct emitter {
	int fd;            /* connected UDP socket, or -1 */
	char where[300];   /* the daemon's address, for messages */
};

/*
 * Find the UDP address in spec (AWS_XRAY_DAEMON_ADDRESS syntax; NULL or ""
 * for the default) and split it into host and port. 0, or -1 with EINVAL.
 */
int emit_parse_address(const char *spec, char *host, size_t hostlen, char *port, size_t portlen);

/* Resolve spec and open a socket to it. -1 with errno (EINVAL: bad syntax). */
int emit_open(struct emitter *e, const char *spec);

/*
 * Send one document as one datagram. -1 with errno; ECONNREFUSED means the
 * kernel already knows nothing listens there.
 */
int emit_send(struct emitter *e, const char *doc, size_t len);

void emit_close(struct emitter *e);

#endif

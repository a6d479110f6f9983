/* emit_udp.c: the X-Ray daemon's UDP protocol: address forms, one datagram per document. */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "util.h"

/* Split "host:port" or "[v6]:port" (n bytes at s). */
static int
split_hostport(const char *s, size_t n, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;
	long p;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL || close + 1 >= s + n || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = memchr(s, ':', n);
		if (colon == NULL || memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	n -= (size_t)(colon + 1 - s);
	if (n == 0 || n >= portlen)
		return -1;
	memcpy(port, colon + 1, n);
	port[n] = '\0';
	if (parse_long(port, 1, 65535, &p) < 0)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int
emit_parse_address(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *part[3] = { NULL, NULL, NULL }, *udp = NULL;
	size_t len[3] = { 0, 0, 0 }, n = 0;
	int tcp = 0;

	if (spec == NULL || *spec == '\0')
		spec = DAEMON_DEFAULT;
	for (const char *p = spec; *p && n < 3;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		part[n] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - part[n]);
		n++;
	}
	if (n == 1 && strncmp(part[0], "udp:", 4) != 0 && strncmp(part[0], "tcp:", 4) != 0)
		return split_hostport(part[0], len[0], host, hostlen, port, portlen);
	/* The pair form: "udp:h:p tcp:h:p" in either order, both required. */
	errno = EINVAL;
	if (n != 2)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		if (strncmp(part[i], "udp:", 4) == 0 && udp == NULL)
			udp = part[i];
		else if (strncmp(part[i], "tcp:", 4) == 0)
			tcp++;
	}
	if (udp == NULL || tcp != 1)
		return -1;
	len[0] = udp == part[0] ? len[0] : len[1];
	return split_hostport(udp + 4, len[0] - 4, host, hostlen, port, portlen);
}

/* Numeric addresses skip getaddrinfo, which would load the resolver's modules. */
static int
numeric_addr(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	uint16_t p = htons((uint16_t)atoi(port));

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = p;
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = p;
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static int
connect_to(struct emitter *e, const struct sockaddr *sa, socklen_t len)
{
	e->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return -1;
	/* Connected, so the kernel can tell us when nothing listens there. */
	if (connect(e->fd, sa, len) < 0) {
		int err = errno;

		close(e->fd);
		e->fd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

static int
resolve_and_connect(struct emitter *e, const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		errno = r == EAI_SYSTEM ? errno : EHOSTUNREACH;
		return -1;
	}
	r = -1;
	for (ai = res; ai != NULL && r < 0; ai = ai->ai_next)
		r = connect_to(e, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return r;
}

int
emit_open(struct emitter *e, const char *spec)
{
	char host[256], port[8];
	struct sockaddr_storage ss;
	socklen_t len;

	e->fd = -1;
	snprintf(e->where, sizeof(e->where), "%s", spec && *spec ? spec : DAEMON_DEFAULT);
	if (emit_parse_address(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (numeric_addr(host, port, &ss, &len) == 0)
		return connect_to(e, (struct sockaddr *)&ss, len);
	return resolve_and_connect(e, host, port);
}

int
emit_send(struct emitter *e, const char *doc, size_t len)
{
	size_t hl = sizeof(DATAGRAM_HEADER) - 1;
	char *buf;
	ssize_t n;
	char c;

	if (len > DOCUMENT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Header, newline and document must travel in one send. */
	buf = xmalloc(hl + len);
	memcpy(buf, DATAGRAM_HEADER, hl);
	memcpy(buf + hl, doc, len);
	do
		n = send(e->fd, buf, hl + len, 0);
	while (n < 0 && errno == EINTR);
	free(buf);
	if (n < 0)
		return -1;
	/* On loopback a closed port's ICMP reply is queued before send returns. */
	if (recv(e->fd, &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
		return -1;
	return 0;
}

void
emit_close(struct emitter *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

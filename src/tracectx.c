/* tracectx.c: the X-Ray trace header (_X_AMZN_TRACE_ID): parse, judge, format. */
#include <stdlib.h>
#include <string.h>

#include "tracectx.h"
#include "util.h"

/* Far above anything Lambda sends; bounds the work done on hostile input. */
#define HEADER_MAX 4096

static int
is_hex_span(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
tracectx_valid_root(const char *s)
{
	return strlen(s) == TRACE_ID_LEN && s[0] == '1' && s[1] == '-' && s[10] == '-' &&
	    is_hex_span(s + 2, 8) && is_hex_span(s + 11, 24);
}

static int
is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static void
add_extra(struct tracectx *c, const char *f, size_t n)
{
	size_t old = c->extra ? strlen(c->extra) : 0;

	c->extra = xrealloc(c->extra, old + n + 2);
	if (old)
		c->extra[old++] = ';';
	memcpy(c->extra + old, f, n);
	c->extra[old + n] = '\0';
}

/* Take one "key=value" field (already trimmed); -1 with c->why on a bad one. */
static int
take_field(struct tracectx *c, const char *f, size_t n, unsigned *seen)
{
	const char *eq = memchr(f, '=', n);
	size_t klen, vlen;
	const char *v;

	if (eq == NULL)
		return 0; /* as the SDKs do, a field without '=' is skipped */
	klen = (size_t)(eq - f);
	v = eq + 1;
	vlen = n - klen - 1;
	if (klen == 4 && memcmp(f, "Root", 4) == 0) {
		if ((*seen & 1) || vlen != TRACE_ID_LEN)
			return c->why = "bad or repeated Root", -1;
		memcpy(c->root, v, vlen);
		c->root[vlen] = '\0';
		*seen |= 1;
		return tracectx_valid_root(c->root) ? 0 : (c->why = "bad Root", -1);
	}
	if (klen == 6 && memcmp(f, "Parent", 6) == 0) {
		if ((*seen & 2) || vlen != ID_LEN || !is_hex_span(v, vlen))
			return c->why = "bad or repeated Parent", -1;
		memcpy(c->parent, v, vlen);
		c->parent[vlen] = '\0';
		*seen |= 2;
		return 0;
	}
	if (klen == 7 && memcmp(f, "Sampled", 7) == 0) {
		if ((*seen & 4) || vlen != 1 || strchr("01?", *v) == NULL)
			return c->why = "bad or repeated Sampled", -1;
		c->sampled = *v;
		*seen |= 4;
		return 0;
	}
	if (klen == 4 && memcmp(f, "Self", 4) == 0)
		return 0; /* added by load balancers, dropped by every SDK */
	if (klen == 0 || !is_printable(f, n))
		return c->why = "malformed field", -1;
	add_extra(c, f, n);
	return 0;
}

static int
parse_fields(struct tracectx *c, const char *s)
{
	unsigned seen = 0;

	while (*s) {
		const char *end = strchr(s, ';');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *f = s;

		while (n > 0 && (*f == ' ' || *f == '\t'))
			f++, n--;
		while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\t'))
			n--;
		if (n > 0 && take_field(c, f, n, &seen) < 0)
			return -1;
		if (end == NULL)
			break;
		s = end + 1;
	}
	if (!(seen & 1))
		return c->why = "no Root", -1;
	return 0;
}

enum ctx_state
tracectx_parse(const char *s, struct tracectx *c)
{
	memset(c, 0, sizeof(*c));
	if (s == NULL || *s == '\0')
		return CTX_MISSING;
	if (strlen(s) > HEADER_MAX) {
		c->why = "too long";
		return CTX_INVALID;
	}
	if (parse_fields(c, s) < 0) {
		free(c->extra);
		c->extra = NULL;
		return CTX_INVALID;
	}
	if (c->parent[0] == '\0')
		return CTX_PASSTHROUGH;
	if (c->sampled != '1')
		return CTX_UNSAMPLED;
	return CTX_RECORDING;
}

void
tracectx_free(struct tracectx *c)
{
	free(c->extra);
	c->extra = NULL;
}

char *
tracectx_format(const struct tracectx *c, const char *parent)
{
	return xasprintf("Root=%s;Parent=%s;Sampled=%c%s%s", c->root, parent,
	    c->sampled == '0' ? '0' : '1', c->extra ? ";" : "", c->extra ? c->extra : "");
}

char *
tracectx_traceparent(const struct tracectx *c, const char *parent)
{
	/* "1-" epoch "-" random is the W3C trace id with two dashes put in. */
	return xasprintf("00-%.8s%.24s-%s-%s", c->root + 2, c->root + 11, parent,
	    c->sampled == '0' ? "00" : "01");
}

char *
tracectx_normal(const struct tracectx *c)
{
	char sampled[] = { ';', 'S', 'a', 'm', 'p', 'l', 'e', 'd', '=', c->sampled, '\0' };

	return xasprintf("Root=%s%s%s%s%s%s", c->root, c->parent[0] ? ";Parent=" : "", c->parent,
	    c->sampled ? sampled : "", c->extra ? ";" : "", c->extra ? c->extra : "");
}

int
tracectx_from_w3c(const char *tp, char **header)
{
	size_t len = tp ? strlen(tp) : 0;

	/*
	 * "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lowercase.
	 * Version 00 is exactly that; a later one (not ff) is read by those
	 * four fields, whatever it adds after a further '-' (W3C Trace
	 * Context, "Versioning of traceparent").
	 */
	if (len < 55 || !is_hex_span(tp, 2) || strncmp(tp, "ff", 2) == 0 || tp[2] != '-' ||
	    tp[35] != '-' || tp[52] != '-' || !is_hex_span(tp + 3, 32) ||
	    !is_hex_span(tp + 36, 16) || !is_hex_span(tp + 53, 2))
		return -1;
	if (strncmp(tp, "00", 2) == 0 ? len != 55 : len > 55 && tp[55] != '-')
		return -1;
	if (strspn(tp + 3, "0") >= 32 || strspn(tp + 36, "0") >= 16)
		return -1; /* all zeros is invalid in W3C */
	*header = xasprintf("Root=1-%.8s-%.24s;Parent=%.16s;Sampled=%c", tp + 3, tp + 11, tp + 36,
	    (strtol((char[3]){ tp[53], tp[54], 0 }, NULL, 16) & 1) ? '1' : '0');
	return 0;
}

/* emit_api.c: PutTraceSegments through a libcurl loaded on demand (see emit_api.h). */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "emit_api.h"
#include "segdoc.h"
#include "util.h"

#define ATTEMPTS 3
#define CONNECT_TIMEOUT_MS 2000L
#define REQUEST_TIMEOUT_MS 5000L
#define RESPONSE_MAX 65536
#define CURL_SIGV4_SINCE 0x074b00 /* 7.75.0 */

/* The part of libcurl this file uses, found by dlsym. */
struct curlapi {
	void *lib;
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	curl_version_info_data *(*version_info)(CURLversion);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	void (*url_cleanup)(CURLU *);
	void (*free)(void *);
};

#define NSYMS 14

/* Where and as whom to call the API: from the environment, as the AWS SDKs read it. */
struct apicfg {
	const char *key, *secret, *token, *region;
	char *url;        /* .../TraceSegments; owned */
	char *sigv4;      /* "aws:amz:<region>:xray"; owned */
	char *creds_url;  /* the container credentials endpoint, or NULL; owned */
	int creds_full;   /* it came from AWS_CONTAINER_CREDENTIALS_FULL_URI */
	char *owned[3];   /* key, secret and token when they came from there */
};

/* One request's outcome. */
struct reply {
	long status;      /* HTTP status, 0 if none came */
	CURLcode code;
	struct curl_slist *pins; /* addresses resolved here (pin_hosts); freed by perform */
	char body[RESPONSE_MAX + 1];
	size_t len;
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * A static binary that dlopens libcurl brings in a second C library, the
 * system's: that works only when both are the same glibc (and, see
 * pin_hosts, when no thread is started in it).
 */
static int
same_libc(char *why, size_t len)
{
#ifdef XRAY_SEG_STATIC
	const char *(*version)(void) = NULL;
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_LOCAL), *sym;

	if (libc && (sym = dlsym(libc, "gnu_get_libc_version")) != NULL)
		memcpy(&version, &sym, sizeof(sym));
	if (version == NULL || strcmp(version(), gnu_get_libc_version()) != 0) {
		snprintf(why, len, "this static xray-seg was built with glibc %s and the system has %s: "
		    "it cannot load libcurl safely (the dynamic build, make STATIC=0, can)",
		    gnu_get_libc_version(), version ? version() : "no glibc");
		return -1;
	}
#else
	(void)why;
	(void)len;
#endif
	return 0;
}

static int
load_curl(struct curlapi *c, char *why, size_t len)
{
	/* A library chosen by the environment is not loaded into a setuid program. */
	const char *lib = secure_getenv("XRAY_SEG_LIBCURL");
	const char *name = lib && *lib ? lib : LIBCURL_DEFAULT;
	void *syms[NSYMS];
	static const char *names[NSYMS] = { "curl_easy_init", "curl_easy_setopt",
		"curl_easy_perform", "curl_easy_getinfo", "curl_easy_cleanup",
		"curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
		"curl_version_info", "curl_url", "curl_url_set", "curl_url_get",
		"curl_url_cleanup", "curl_free" };

	if (same_libc(why, len) < 0)
		return -1;
	if ((c->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, len, "the api transport needs libcurl: %s", dlerror());
		return -1;
	}
	for (int i = 0; i < NSYMS; i++)
		if ((syms[i] = dlsym(c->lib, names[i])) == NULL) {
			snprintf(why, len, "%s is not a usable libcurl (no %s)", name, names[i]);
			return -1;
		}
	/* POSIX dlsym gives object pointers that are function pointers: copy the bits. */
	memcpy(&c->init, &syms[0], sizeof(void *));
	memcpy(&c->setopt, &syms[1], sizeof(void *));
	memcpy(&c->perform, &syms[2], sizeof(void *));
	memcpy(&c->getinfo, &syms[3], sizeof(void *));
	memcpy(&c->cleanup, &syms[4], sizeof(void *));
	memcpy(&c->strerror, &syms[5], sizeof(void *));
	memcpy(&c->slist_append, &syms[6], sizeof(void *));
	memcpy(&c->slist_free_all, &syms[7], sizeof(void *));
	memcpy(&c->version_info, &syms[8], sizeof(void *));
	memcpy(&c->url, &syms[9], sizeof(void *));
	memcpy(&c->url_set, &syms[10], sizeof(void *));
	memcpy(&c->url_get, &syms[11], sizeof(void *));
	memcpy(&c->url_cleanup, &syms[12], sizeof(void *));
	memcpy(&c->free, &syms[13], sizeof(void *));
	if (c->version_info(CURLVERSION_NOW)->version_num < CURL_SIGV4_SINCE) {
		snprintf(why, len, "libcurl %s cannot sign AWS requests (7.75.0 or later needed)",
		    c->version_info(CURLVERSION_NOW)->version);
		return -1;
	}
	return 0;
}

/* Whether url is an http or https URL: no other scheme of libcurl's is ever used. */
static int
web_url(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* url without a user name and password in it, for messages; the caller frees it. */
static char *
url_shown(const char *url)
{
	const char *host = strstr(url, "://"), *at = NULL;
	size_t n;

	if (host == NULL)
		return xstrdup(url);
	host += 3;
	n = strcspn(host, "/?#");
	for (size_t i = 0; i < n; i++)
		if (host[i] == '@')
			at = host + i;
	return at ? xasprintf("%.*s%s", (int)(host - url), url, at + 1) : xstrdup(url);
}

/* Whether s holds a control character: it would end a header line, or worse. */
static int
has_control(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * Endpoint: AWS_ENDPOINT_URL_XRAY, then AWS_ENDPOINT_URL, then the region's
 * own; NULL (why says so) for one that is not http or https, before libcurl
 * could take it (it speaks ftp, ldap, gopher... with the credentials too).
 */
static char *
endpoint(const char *region, char *why, size_t len)
{
	const char *e = NULL, *var = NULL, *ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	size_t n;

	if (ignore == NULL || strcmp(ignore, "true") != 0)
		e = env(var = "AWS_ENDPOINT_URL_XRAY") ? env(var) : env(var = "AWS_ENDPOINT_URL");
	if (e == NULL)
		return xasprintf("https://xray.%s.amazonaws.com%s/TraceSegments", region,
		    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	if (!web_url(e) || has_control(e)) {
		snprintf(why, len, "%s is not an http or https URL", var);
		return NULL;
	}
	n = strlen(e);
	while (n > 0 && e[n - 1] == '/')
		n--;
	return xasprintf("%.*s/TraceSegments", (int)n, e);
}

/* A region names a host and a signing scope: letters, digits and '-' only. */
static int
region_ok(const char *r)
{
	return *r && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(r);
}

/*
 * What becomes a header: a control character in it would add headers of
 * its own. The name of the first variable that holds one, or NULL.
 */
static const char *
bad_header_value(const struct apicfg *cfg)
{
	if (has_control(cfg->key))
		return "AWS_ACCESS_KEY_ID";
	if (has_control(cfg->secret))
		return "AWS_SECRET_ACCESS_KEY";
	if (has_control(cfg->token))
		return "AWS_SESSION_TOKEN";
	return NULL;
}

/*
 * Where ECS, CodeBuild and EKS Pod Identity hand out a task's credentials,
 * as the AWS SDKs find it. The full URI's host is checked once libcurl can
 * parse it (creds_url_ok); here only that it is http or https.
 */
static int
container_url(struct apicfg *cfg, char *why, size_t len)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");

	if (rel && !has_control(rel)) {
		cfg->creds_url = xasprintf("http://169.254.170.2%s%s", *rel == '/' ? "" : "/", rel);
		return 0;
	}
	if (full && web_url(full) && !has_control(full)) {
		cfg->creds_url = xstrdup(full);
		cfg->creds_full = 1;
		return 0;
	}
	if (rel || full)
		snprintf(why, len, "%s is not an http or https URL",
		    rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	else
		snprintf(why, len, "the api transport has no AWS credentials (AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY are not both set, nor a container credentials URI)");
	return -1;
}

/* Whether host (as libcurl gives it: IPv6 in brackets) is where the SDKs take credentials over http. */
static int
credentials_host(const char *host)
{
	static const char *const allowed[] = { "localhost", "[::1]", "169.254.170.2",
		"169.254.170.23", "[fd00:ec2::23]" };
	struct in_addr a;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcasecmp(host, allowed[i]) == 0)
			return 1;
	/* Any loopback address, 127.0.0.0/8, written in full. */
	return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/*
 * The full credentials URI, parsed by libcurl as it will be used: https to
 * any host, or http to the host itself or the container agent's addresses,
 * never with a user name or password in it. 0, or -1 (why says so).
 */
static int
creds_url_ok(const struct curlapi *c, const char *url, char *why, size_t len)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
	CURLU *u = c->url();
	int ok = 0;

	if (u && c->url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    c->url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    c->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		ok = c->url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK &&
		    c->url_get(u, CURLUPART_PASSWORD, &password, 0) != CURLUE_OK &&
		    (strcasecmp(scheme, "https") == 0 ||
		    (strcasecmp(scheme, "http") == 0 && credentials_host(host)));
	}
	if (!ok)
		snprintf(why, len, "AWS_CONTAINER_CREDENTIALS_FULL_URI is neither https nor http to "
		    "this host or the container agent (169.254.170.2, 169.254.170.23, fd00:ec2::23), "
		    "or holds a user name");
	c->free(scheme);
	c->free(host);
	c->free(user);
	c->free(password);
	c->url_cleanup(u);
	return ok ? 0 : -1;
}

static int
read_config(struct apicfg *cfg, char *why, size_t len)
{
	const char *bad;

	memset(cfg, 0, sizeof(*cfg));
	cfg->key = env("AWS_ACCESS_KEY_ID");
	cfg->secret = env("AWS_SECRET_ACCESS_KEY");
	cfg->token = env("AWS_SESSION_TOKEN");
	cfg->region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
	if ((cfg->key == NULL || cfg->secret == NULL) && container_url(cfg, why, len) < 0)
		return -1;
	if (cfg->region == NULL) {
		snprintf(why, len, "the api transport has no region "
		    "(AWS_REGION and AWS_DEFAULT_REGION are not set)");
		return -1;
	}
	if (!region_ok(cfg->region)) {
		snprintf(why, len, "%s is not a region name (lowercase letters, digits and '-')",
		    env("AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION");
		return -1;
	}
	if ((bad = bad_header_value(cfg)) != NULL) {
		snprintf(why, len, "%s holds a control character", bad);
		return -1;
	}
	if ((cfg->url = endpoint(cfg->region, why, len)) == NULL)
		return -1;
	cfg->sigv4 = xasprintf("aws:amz:%s:xray", cfg->region);
	return 0;
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n, room = RESPONSE_MAX - r->len;

	memcpy(r->body + r->len, data, len < room ? len : room);
	r->len += len < room ? len : room;
	return len;
}

/* The longest container authorization token taken from a file. */
#define TOKEN_MAX 16384

/*
 * The container authorization token: AWS_CONTAINER_AUTHORIZATION_TOKEN, or
 * the first line of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, a regular file
 * opened without blocking (a FIFO would hang the call) and read whole. 0 with
 * *out (NULL for none; the caller frees it), or -1 (why says so).
 */
static int
container_token(char **out, char *why, size_t len)
{
	const char *file = secure_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char *buf;
	struct stat st;
	ssize_t n;
	int fd;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		*out = xstrdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		return 0;
	}
	if (file == NULL || *file == '\0')
		return 0;
	if ((fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size > TOKEN_MAX) {
		snprintf(why, len, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", file,
		    fd < 0 ? strerror(errno) : !S_ISREG(st.st_mode) ? "not a regular file" :
		    "over 16 KiB");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = buf;
	return 0;
}

/*
 * Run request e (its URL, headers and body already set) with the timeouts
 * given, into r, and free e and h. The one place a request is performed.
 */
static void
perform(const struct curlapi *c, CURL *e, struct curl_slist *h, long connect_ms, long total_ms,
    struct reply *r)
{
	c->setopt(e, CURLOPT_HTTPHEADER, h);
	c->setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	c->setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
	c->setopt(e, CURLOPT_NOSIGNAL, 1L);
	c->setopt(e, CURLOPT_WRITEFUNCTION, collect);
	c->setopt(e, CURLOPT_WRITEDATA, r);
	if ((r->code = c->perform(e)) == CURLE_OK)
		c->getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	r->body[r->len] = '\0';
	c->cleanup(e);
	c->slist_free_all(h);
	c->slist_free_all(r->pins);
	r->pins = NULL;
}

#ifdef XRAY_SEG_STATIC
/*
 * Add "host:port:addr,..." for host to *pins, resolved by this binary's own
 * resolver. -1 if it has no address.
 */
static int
pin_one(const struct curlapi *c, const char *host, const char *port, struct curl_slist **pins)
{
	struct addrinfo hints, *res, *a;
	char addr[INET6_ADDRSTRLEN], *entry;
	struct in6_addr bin;
	size_t n = 0;

	/* An address needs no lookup, and libcurl starts no thread for it. */
	if (*host == '[' || inet_pton(AF_INET, host, &bin) == 1)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	entry = xasprintf("%s:%s:", host, port);
	for (a = res; a; a = a->ai_next) {
		const void *src = a->ai_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr;
		char *longer;

		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    inet_ntop(a->ai_family, src, addr, sizeof(addr)) == NULL)
			continue;
		longer = xasprintf(a->ai_family == AF_INET6 ? "%s%s[%s]" : "%s%s%s", entry,
		    n++ ? "," : "", addr);
		free(entry);
		entry = longer;
	}
	freeaddrinfo(res);
	if (n)
		*pins = c->slist_append(*pins, entry);
	free(entry);
	return n ? 0 : -1;
}

/*
 * Pin the host of url (a proxy's when proxy is set, whose port when not
 * given is libcurl's default for proxies). -1 if it has no address.
 */
static int
pin_url(const struct curlapi *c, const char *url, int proxy, struct curl_slist **pins)
{
	char *host = NULL, *port = NULL, *scheme = NULL;
	CURLU *u = c->url();
	int r = 0;

	if (u == NULL || c->url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME) != CURLUE_OK ||
	    c->url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out; /* libcurl will refuse it too, without a lookup */
	if (c->url_get(u, CURLUPART_PORT, &port, proxy ? 0 : CURLU_DEFAULT_PORT) != CURLUE_OK) {
		c->url_get(u, CURLUPART_SCHEME, &scheme, 0);
		r = pin_one(c, host, scheme && strcmp(scheme, "https") == 0 ? "443" : "1080", pins);
	} else
		r = pin_one(c, host, port, pins);
out:
	c->free(host);
	c->free(port);
	c->free(scheme);
	c->url_cleanup(u);
	return r;
}

/*
 * Resolve the request's host names here, and hand libcurl the addresses: its
 * resolver runs in a thread, and a thread started in the system's C library
 * loaded into a static binary crashes it. Proxies are pinned too, in case
 * libcurl picks one from the environment.
 */
static int
pin_hosts(const struct curlapi *c, const char *url, struct reply *r)
{
	static const char *proxies[] = { "http_proxy", "https_proxy", "HTTPS_PROXY",
		"all_proxy", "ALL_PROXY" };
	if (pin_url(c, url, 0, &r->pins) < 0) {
		r->code = CURLE_COULDNT_RESOLVE_HOST;
		return -1;
	}
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		if (env(proxies[i]) && pin_url(c, env(proxies[i]), 1, &r->pins) < 0) {
			r->code = CURLE_COULDNT_RESOLVE_PROXY;
			return -1;
		}
	return 0;
}
#else
/* A dynamic binary has one C library: libcurl resolves as it always does. */
static int
pin_hosts(const struct curlapi *c, const char *url, struct reply *r)
{
	(void)c;
	(void)url;
	(void)r;
	return 0;
}
#endif

/* A new easy handle and an empty r; NULL (r says so) if libcurl has none. */
static CURL *
start(const struct curlapi *c, const char *url, struct reply *r)
{
	CURL *e;

	memset(r, 0, offsetof(struct reply, body));
	r->len = 0;
	r->body[0] = '\0';
	if (pin_hosts(c, url, r) < 0) {
		c->slist_free_all(r->pins);
		r->pins = NULL;
		return NULL;
	}
	if ((e = c->init()) == NULL)
		r->code = CURLE_FAILED_INIT;
	else {
		c->setopt(e, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0: older ones take only the checks above */
		c->setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
		c->setopt(e, CURLOPT_RESOLVE, r->pins);
		/* The certificates to trust instead of the system's, as the AWS SDKs take them. */
		if (secure_getenv("AWS_CA_BUNDLE") && *secure_getenv("AWS_CA_BUNDLE"))
			c->setopt(e, CURLOPT_CAINFO, secure_getenv("AWS_CA_BUNDLE"));
	}
	return e;
}

/* Fetch key, secret and token from cfg->creds_url. */
static int
fetch_credentials(const struct curlapi *c, struct apicfg *cfg, char *why, size_t len)
{
	static const char *names[3] = { "AccessKeyId", "SecretAccessKey", "Token" };
	struct reply *r = xmalloc(sizeof(*r));
	struct curl_slist *h = NULL;
	char *token, *auth = NULL;
	CURL *e;

	if (container_token(&token, why, len) < 0) {
		free(r);
		return -1;
	}
	if (token && has_control(token)) {
		snprintf(why, len, "the container authorization token holds a control character");
		free(token);
		free(r);
		return -1;
	}
	if ((e = start(c, cfg->creds_url, r)) != NULL) {
		/* As the AWS SDKs do: credentials never pass through a proxy. */
		c->setopt(e, CURLOPT_NOPROXY, "*");
		if (token)
			h = c->slist_append(h, (auth = xasprintf("Authorization: %s", token)));
		perform(c, e, h, 1000L, 2000L, r);
	}
	for (int i = 0; r->code == CURLE_OK && r->status == 200 && i < 3; i++)
		cfg->owned[i] = segdoc_json_member(r->body, names[i]);
	if (has_control(cfg->owned[0]) || has_control(cfg->owned[1]) || has_control(cfg->owned[2]))
		snprintf(why, len, "the credentials from %s hold a control character",
		    cfg->creds_url);
	else if (cfg->owned[0] == NULL || cfg->owned[1] == NULL)
		snprintf(why, len, "no AWS credentials from %s: %s", cfg->creds_url,
		    r->code != CURLE_OK ? c->strerror(r->code) :
		    r->status != 200 ? "it did not answer 200" : "no AccessKeyId and SecretAccessKey");
	else {
		cfg->key = cfg->owned[0];
		cfg->secret = cfg->owned[1];
		cfg->token = cfg->owned[2];
	}
	free(token);
	free(auth);
	free(r);
	return cfg->key && cfg->secret ? 0 : -1;
}

/* POST body to the API once. */
static void
post(const struct curlapi *c, const struct apicfg *cfg, const char *body, size_t len,
    struct reply *r)
{
	struct curl_slist *h = NULL;
	char *token = NULL;
	CURL *e = start(c, cfg->url, r);

	if (e == NULL)
		return;
	h = c->slist_append(h, "Content-Type: application/json");
	if (cfg->token) {
		/* Signed with the rest: curl signs the x-amz- headers it is given. */
		token = xasprintf("X-Amz-Security-Token: %s", cfg->token);
		h = c->slist_append(h, token);
	}
	c->setopt(e, CURLOPT_USERAGENT, "xray-seg/" VERSION);
	c->setopt(e, CURLOPT_POSTFIELDS, body);
	c->setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	c->setopt(e, CURLOPT_AWS_SIGV4, cfg->sigv4);
	c->setopt(e, CURLOPT_USERNAME, cfg->key);
	c->setopt(e, CURLOPT_PASSWORD, cfg->secret);
	perform(c, e, h, CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, r);
	free(token);
}

/* Worth another try: the network, the service's own faults, throttling. */
static int
transient(const struct reply *r)
{
	switch (r->code) {
	case CURLE_OK:
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_PEER_FAILED_VERIFICATION: /* a certificate does not get better in 300 ms */
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return 0;
	default:
		return 1;
	}
	return r->status >= 500 || r->status == 429 ||
	    (r->status == 400 && strstr(r->body, "ThrottledException") != NULL);
}

/* 100 ms, then 200 ms, each plus up to as much again at random. */
static void
backoff(int attempt)
{
	long ms = 100L << attempt;
	struct timespec ts;

	ms += (long)(rand() % (int)ms);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Why a request failed, for a message. */
static void
describe(const struct curlapi *c, const struct reply *r, char *out, size_t len)
{
	char *msg;

	if (r->code != CURLE_OK) {
		snprintf(out, len, "%s", c->strerror(r->code));
		return;
	}
	msg = segdoc_api_error(r->body, r->len);
	snprintf(out, len, "HTTP %ld%s%s%s", r->status, msg ? " (" : "", msg ? msg : "",
	    msg ? ")" : "");
	free(msg);
}

struct unprocessed {
	const char *cmd;
	struct outdoc *docs;
	size_t n;
};

/* X-Ray read the document and refused it: it would refuse it again. */
static void
refused(void *arg, const char *id, const char *code, const char *message)
{
	struct unprocessed *u = arg;
	char *m = utf8_sanitize(message);

	warnmsg("%s: X-Ray did not take segment %s: %s%s%s", u->cmd, *id ? id : "(no id)",
	    *code ? code : "unprocessed", *m ? ": " : "", m);
	free(m);
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->docs[i].id, id) == 0 && u->docs[i].fate == FATE_SENT)
			u->docs[i].fate = FATE_DROP;
}

/* One request for docs[0..n), retried; 0 when the API answered 200. */
static int
send_batch(const struct curlapi *c, const struct apicfg *cfg, const char *cmd,
    struct outdoc *docs, size_t n, char *why, size_t whylen)
{
	struct unprocessed u = { cmd, docs, n };
	char *texts[TRANSPORT_BATCH], *body;
	size_t lens[TRANSPORT_BATCH], len;
	struct reply *r = xmalloc(sizeof(*r));
	int attempt = 0, ok;

	for (size_t i = 0; i < n; i++) {
		texts[i] = (char *)docs[i].text;
		lens[i] = docs[i].len;
	}
	if ((body = segdoc_batch(texts, lens, n, &len)) == NULL) {
		snprintf(why, whylen, "out of memory for a PutTraceSegments request");
		free(r);
		return -1;
	}
	for (;;) {
		post(c, cfg, body, len, r);
		if ((ok = r->code == CURLE_OK && r->status == 200) || !transient(r) ||
		    ++attempt == ATTEMPTS)
			break;
		backoff(attempt - 1);
	}
	if (ok) {
		for (size_t i = 0; i < n; i++)
			docs[i].fate = FATE_SENT;
		segdoc_unprocessed(r->body, r->len, refused, &u);
	} else {
		char d[300], *shown = url_shown(cfg->url);

		describe(c, r, d, sizeof(d));
		snprintf(why, whylen, "PutTraceSegments to %s failed: %s%s", shown, d,
		    attempt == ATTEMPTS ? " (3 attempts)" : "");
		free(shown);
	}
	free(body);
	free(r);
	return ok ? 0 : -1;
}

void
emit_api_send(const char *cmd, struct outdoc *docs, size_t n, char *why, size_t whylen)
{
	struct curlapi c;
	struct apicfg cfg;
	size_t i = 0;
	int failed;

	for (size_t j = 0; j < n; j++)
		docs[j].fate = FATE_KEEP;
	failed = read_config(&cfg, why, whylen) < 0 || load_curl(&c, why, whylen) < 0 ||
	    (cfg.creds_full && creds_url_ok(&c, cfg.creds_url, why, whylen) < 0) ||
	    (cfg.creds_url && fetch_credentials(&c, &cfg, why, whylen) < 0);
	srand((unsigned)time(NULL) ^ (unsigned)n);
	for (; i < n && !failed; i += TRANSPORT_BATCH)
		failed = send_batch(&c, &cfg, cmd, docs + i,
		    n - i < TRANSPORT_BATCH ? n - i : TRANSPORT_BATCH, why, whylen) < 0;
	/* libcurl stays loaded: its TLS library may have exit handlers of its own. */
	free(cfg.url);
	free(cfg.sigv4);
	free(cfg.creds_url);
	for (int j = 0; j < 3; j++)
		free(cfg.owned[j]);
}

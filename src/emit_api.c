/* emit_api.c: PutTraceSegments through a libcurl loaded on demand (see emit_api.h). */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
};

/* Where and as whom to call the API: from the environment, as the AWS SDKs read it. */
struct apicfg {
	const char *key, *secret, *token, *region;
	char *url;        /* .../TraceSegments; owned */
	char *sigv4;      /* "aws:amz:<region>:xray"; owned */
	char *creds_url;  /* the container credentials endpoint, or NULL; owned */
	char *owned[3];   /* key, secret and token when they came from there */
};

/* One request's outcome. */
struct reply {
	long status;      /* HTTP status, 0 if none came */
	CURLcode code;
	char body[RESPONSE_MAX + 1];
	size_t len;
};

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int
load_curl(struct curlapi *c, char *why, size_t len)
{
	const char *name = env("XRAY_SEG_LIBCURL") ? env("XRAY_SEG_LIBCURL") : LIBCURL_DEFAULT;
	void *syms[9];
	static const char *names[9] = { "curl_easy_init", "curl_easy_setopt",
		"curl_easy_perform", "curl_easy_getinfo", "curl_easy_cleanup",
		"curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
		"curl_version_info" };

	if ((c->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, len, "the api transport needs libcurl: %s", dlerror());
		return -1;
	}
	for (int i = 0; i < 9; i++)
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
	if (c->version_info(CURLVERSION_NOW)->version_num < CURL_SIGV4_SINCE) {
		snprintf(why, len, "libcurl %s cannot sign AWS requests (7.75.0 or later needed)",
		    c->version_info(CURLVERSION_NOW)->version);
		return -1;
	}
	return 0;
}

/* Endpoint: AWS_ENDPOINT_URL_XRAY, then AWS_ENDPOINT_URL, then the region's own. */
static char *
endpoint(const char *region)
{
	const char *e = NULL, *ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	size_t n;

	if (ignore == NULL || strcmp(ignore, "true") != 0)
		e = env("AWS_ENDPOINT_URL_XRAY") ? env("AWS_ENDPOINT_URL_XRAY") :
		    env("AWS_ENDPOINT_URL");
	if (e == NULL)
		return xasprintf("https://xray.%s.amazonaws.com%s/TraceSegments", region,
		    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	n = strlen(e);
	while (n > 0 && e[n - 1] == '/')
		n--;
	return xasprintf("%.*s/TraceSegments", (int)n, e);
}

/*
 * Where ECS, CodeBuild and EKS Pod Identity hand out a task's credentials,
 * as the AWS SDKs find it. A full URI must be https or on the host itself.
 */
static int
container_url(struct apicfg *cfg, char *why, size_t len)
{
	static const char *local[] = { "http://127.", "http://localhost", "http://[::1]",
		"http://169.254.170.2/", "http://169.254.170.2:", "http://169.254.170.23", "https://" };
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");

	if (rel) {
		cfg->creds_url = xasprintf("http://169.254.170.2%s", rel);
		return 0;
	}
	for (size_t i = 0; full && i < sizeof(local) / sizeof(local[0]); i++)
		if (strncmp(full, local[i], strlen(local[i])) == 0) {
			cfg->creds_url = xstrdup(full);
			return 0;
		}
	if (full)
		snprintf(why, len, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is neither https nor "
		    "on this host", full);
	else
		snprintf(why, len, "the api transport has no AWS credentials (AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY are not both set, nor a container credentials URI)");
	return -1;
}

static int
read_config(struct apicfg *cfg, char *why, size_t len)
{
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
	cfg->url = endpoint(cfg->region);
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

/* The authorization a credentials endpoint wants, if any; caller frees. */
static char *
container_token(void)
{
	const char *file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char buf[4096];
	size_t n;
	FILE *f;

	if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		return xstrdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	if (file == NULL || (f = fopen(file, "re")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
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
}

/* A new easy handle and an empty r; NULL (r says so) if libcurl has none. */
static CURL *
start(const struct curlapi *c, const char *url, struct reply *r)
{
	CURL *e = c->init();

	memset(r, 0, offsetof(struct reply, body));
	r->len = 0;
	r->body[0] = '\0';
	if (e == NULL)
		r->code = CURLE_FAILED_INIT;
	else
		c->setopt(e, CURLOPT_URL, url);
	return e;
}

/* Fetch key, secret and token from cfg->creds_url. */
static int
fetch_credentials(const struct curlapi *c, struct apicfg *cfg, char *why, size_t len)
{
	static const char *names[3] = { "AccessKeyId", "SecretAccessKey", "Token" };
	struct reply *r = xmalloc(sizeof(*r));
	struct curl_slist *h = NULL;
	char *token = container_token(), *auth = NULL;
	CURL *e = start(c, cfg->creds_url, r);

	if (e) {
		if (token)
			h = c->slist_append(h, (auth = xasprintf("Authorization: %s", token)));
		perform(c, e, h, 1000L, 2000L, r);
	}
	for (int i = 0; r->code == CURLE_OK && r->status == 200 && i < 3; i++)
		cfg->owned[i] = segdoc_json_member(r->body, names[i]);
	if (cfg->owned[0] == NULL || cfg->owned[1] == NULL)
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
	if (r->code != CURLE_OK)
		return r->code != CURLE_URL_MALFORMAT && r->code != CURLE_UNSUPPORTED_PROTOCOL;
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
	body = segdoc_batch(texts, lens, n, &len);
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
		char d[300];

		describe(c, r, d, sizeof(d));
		snprintf(why, whylen, "PutTraceSegments to %s failed: %s%s", cfg->url, d,
		    attempt == ATTEMPTS ? " (3 attempts)" : "");
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

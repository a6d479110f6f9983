/* awscli.c: the aws CLI's command line and outcome, read as X-Ray wants them (see awscli.h). */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "awscli.h"
#include "awsnames.h"
#include "segdoc.h"
#include "util.h"

#define INPUT_FILE_MAX (1024 * 1024)
#define LINE_KEEP 2048 /* of an overlong stderr line, the bytes kept */

/* Global options of aws CLI v1 and v2 that take a value. */
static const char *const global_with_value[] = { "--region", "--profile", "--endpoint-url",
	"--output", "--query", "--color", "--ca-bundle", "--cli-read-timeout",
	"--cli-connect-timeout", "--cli-binary-format", NULL };

/* Operation parameters that name the resource, with their API spelling. */
static const struct {
	const char *service; /* NULL: any service */
	const char *option;
	const char *param;   /* in --cli-input-json */
	const char *field;   /* in the subsegment's "aws" object */
} resources[] = {
	{ NULL, "--table-name", "TableName", "table_name" },
	{ NULL, "--queue-url", "QueueUrl", "queue_url" },
	{ NULL, "--queue-name", "QueueName", "queue_name" },
	{ "s3api", "--bucket", "Bucket", "bucket_name" },
	{ "s3api", "--key", "Key", "key" },
	{ NULL, "--topic-arn", "TopicArn", "topic_arn" },
	{ NULL, "--function-name", "FunctionName", "function_name" },
	{ NULL, "--invocation-type", "InvocationType", "invocation_type" },
	{ NULL, "--stream-name", "StreamName", "stream_name" },
	{ NULL, "--secret-id", "SecretId", "secret_id" },
	{ "ssm", "--name", "Name", "parameter_name" },
	{ NULL, "--event-bus-name", "EventBusName", "event_bus_name" },
	{ NULL, "--state-machine-arn", "stateMachineArn", "state_machine_arn" },
};

#define NRESOURCES (sizeof(resources) / sizeof(resources[0]))

static int
cmp_service(const void *key, const void *elem)
{
	return strcmp(key, ((const struct aws_service *)elem)->cli);
}

struct opkey {
	const char *service, *cli;
};

static int
cmp_operation(const void *key, const void *elem)
{
	const struct opkey *k = key;
	const struct aws_operation *o = elem;
	int c = strcmp(k->service, o->service);

	return c ? c : strcmp(k->cli, o->cli);
}

static void
camel(const char *cli, char *out, size_t outlen)
{
	size_t n = 0;
	int up = 1;

	for (; *cli && n + 1 < outlen; cli++) {
		if (*cli == '-') {
			up = 1;
			continue;
		}
		out[n++] = up ? (char)toupper((unsigned char)*cli) : *cli;
		up = 0;
	}
	out[n] = '\0';
}

static void
name_service(struct awscall *c, const char *service)
{
	const struct aws_service *s =
	    bsearch(service, aws_services, aws_nservices, sizeof(*s), cmp_service);

	/* A service newer than our tables: its name in CamelCase is the likeliest. */
	if (s)
		snprintf(c->name, sizeof(c->name), "%s", s->xray);
	else
		camel(service, c->name, sizeof(c->name));
}

static void
name_operation(struct awscall *c, const char *service, const char *op)
{
	struct opkey k = { service, op };
	const struct aws_operation *o =
	    bsearch(&k, aws_operations, aws_noperations, sizeof(*o), cmp_operation);

	if (o)
		snprintf(c->operation, sizeof(c->operation), "%s", o->api);
	else
		camel(op, c->operation, sizeof(c->operation));
}

static void
add_field(struct awscall *c, const char *key, const char *value)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (strcmp(c->field[i].key, key) == 0)
			return; /* the command line wins over --cli-input-json */
	if (c->nfields == AWS_FIELDS_MAX)
		return;
	c->field[c->nfields].key = key;
	c->field[c->nfields].value = xstrdup(value);
	c->nfields++;
}

/* The text of an argument that may be file://PATH; NULL if unreadable. Caller frees. */
static char *
arg_text(const char *v)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if (strncmp(v, "file://", 7) != 0)
		return xstrdup(v);
	if ((fd = open(v + 7, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > INPUT_FILE_MAX) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static void
take_input_json(struct awscall *c, const char *service, const char *v)
{
	char *json = arg_text(v), *s;

	if (json == NULL)
		return;
	if (c->table_names == NULL)
		c->table_names = segdoc_json_keys(json, "RequestItems", &c->ntables);
	for (size_t i = 0; i < NRESOURCES; i++) {
		if (resources[i].service && strcmp(resources[i].service, service))
			continue;
		if ((s = segdoc_json_member(json, resources[i].param)) != NULL) {
			add_field(c, resources[i].field, s);
			free(s);
		}
	}
	free(json);
}

static void
take_request_items(struct awscall *c, const char *v)
{
	char *json = arg_text(v);

	if (json && c->table_names == NULL)
		c->table_names = segdoc_json_keys(json, NULL, &c->ntables);
	free(json);
}

/* One "--option value" of the operation. */
static void
take_param(struct awscall *c, const char *service, const char *opt, const char *v)
{
	if (strcmp(opt, "--cli-input-json") == 0) {
		take_input_json(c, service, v);
		return;
	}
	if (strcmp(opt, "--request-items") == 0) {
		take_request_items(c, v);
		return;
	}
	for (size_t i = 0; i < NRESOURCES; i++)
		if ((resources[i].service == NULL || strcmp(resources[i].service, service) == 0) &&
		    strcmp(resources[i].option, opt) == 0)
			add_field(c, resources[i].field, v);
}

/* Options of the high-level s3 commands that take a value; the rest are flags. */
static const char *const s3_with_value[] = { "--exclude", "--include", "--acl", "--grants",
	"--sse", "--sse-c", "--sse-c-key", "--sse-kms-key-id", "--sse-c-copy-source",
	"--sse-c-copy-source-key", "--storage-class", "--website-redirect", "--content-type",
	"--cache-control", "--content-disposition", "--content-encoding", "--content-language",
	"--expires", "--source-region", "--page-size", "--metadata", "--metadata-directive",
	"--expected-size", "--request-payer", "--checksum-mode", "--checksum-algorithm",
	"--index-document", "--error-document", "--expires-in", "--case-conflict", NULL };

static const char *const global_flags[] = { "--debug", "--no-verify-ssl", "--no-paginate",
	"--no-sign-request", "--no-cli-pager", "--cli-auto-prompt", "--no-cli-auto-prompt", NULL };

static int
in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* bucket and key of "s3://bucket/key"; 0 if path is not one. */
static int
s3_path(const char *path, char *bucket, size_t blen, const char **key)
{
	const char *b, *slash;
	size_t n;

	if (path == NULL || strncmp(path, "s3://", 5) != 0)
		return 0;
	b = path + 5;
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	if (n == 0 || n >= blen)
		return 0;
	memcpy(bucket, b, n);
	bucket[n] = '\0';
	*key = slash && slash[1] ? slash + 1 : NULL;
	return 1;
}

static void
s3_resource(struct awscall *c, const char *path)
{
	char bucket[256];
	const char *key;

	if (s3_path(path, bucket, sizeof(bucket), &key)) {
		add_field(c, "bucket_name", bucket);
		if (key)
			add_field(c, "key", key);
	}
}

/* The API call a high-level s3 command makes; paths are its operands. */
static void
s3_command(struct awscall *c, const char *cmd, const char *src, const char *dst)
{
	int s3src = src && strncmp(src, "s3://", 5) == 0, s3dst = dst && strncmp(dst, "s3://", 5) == 0;
	static const struct {
		const char *cmd, *api;
	} simple[] = { { "mb", "CreateBucket" }, { "rb", "DeleteBucket" }, { "rm", "DeleteObject" },
		{ "sync", "ListObjectsV2" }, { "presign", "Presign" }, { "website", "PutBucketWebsite" } };
	const char *api = NULL, *res = src;

	if (strcmp(cmd, "cp") == 0 || strcmp(cmd, "mv") == 0) {
		api = s3src && s3dst ? "CopyObject" : s3src ? "GetObject" : "PutObject";
		res = s3dst ? dst : src;
	} else if (strcmp(cmd, "ls") == 0) {
		api = s3src ? "ListObjectsV2" : "ListBuckets";
	} else if (strcmp(cmd, "sync") == 0 && !s3src) {
		res = dst;
	}
	for (size_t i = 0; api == NULL && i < sizeof(simple) / sizeof(simple[0]); i++)
		if (strcmp(cmd, simple[i].cmd) == 0)
			api = simple[i].api;
	if (api)
		snprintf(c->operation, sizeof(c->operation), "%s", api);
	else
		camel(cmd, c->operation, sizeof(c->operation));
	s3_resource(c, res);
}

struct parsed {
	const char *word[4];    /* service, operation, then operands */
	size_t nwords;
	const char *input_json; /* --cli-input-json, read last: the command line wins */
};

/* Handle option argv[*i]; advances *i past its value. */
static void
take_option(struct awscall *c, struct parsed *p, char *const *argv, int *i)
{
	char opt[64];
	const char *a = argv[*i], *eq = strchr(a, '='), *v = NULL;
	int s3 = p->nwords > 0 && strcmp(p->word[0], "s3") == 0;

	snprintf(opt, sizeof(opt), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
	if (eq)
		v = eq + 1;
	if (in_list(global_flags, opt)) {
		c->debug |= strcmp(opt, "--debug") == 0;
		return;
	}
	/* API operations have no operands, so a following word is the value. */
	if (v == NULL && argv[*i + 1] && strncmp(argv[*i + 1], "--", 2) != 0 &&
	    (in_list(global_with_value, opt) || !s3 || in_list(s3_with_value, opt)))
		v = argv[++*i];
	if (v == NULL)
		return;
	if (strcmp(opt, "--region") == 0)
		c->region = v;
	else if (strcmp(opt, "--cli-input-json") == 0)
		p->input_json = v;
	else if (p->nwords >= 2 && !s3)
		take_param(c, p->word[0], opt, v);
}

int
awscli_parse(char *const *argv, struct awscall *c)
{
	struct parsed p;
	const char *service;

	memset(c, 0, sizeof(*c));
	memset(&p, 0, sizeof(p));
	for (int i = 1; argv[i]; i++) {
		if (strcmp(argv[i], "--") == 0)
			continue;
		if (strncmp(argv[i], "--", 2) == 0)
			take_option(c, &p, argv, &i);
		else if (p.nwords < 4)
			p.word[p.nwords++] = argv[i];
	}
	if (p.nwords >= 2 && *p.word[0] && *p.word[1])
		name_service(c, p.word[0]);
	if (p.nwords < 2 || c->name[0] == '\0') {
		awscli_free(c);
		return -1;
	}
	service = p.word[0];
	if (strcmp(service, "s3") == 0)
		s3_command(c, p.word[1], p.nwords > 2 ? p.word[2] : NULL, p.nwords > 3 ? p.word[3] : NULL);
	else
		name_operation(c, service, p.word[1]);
	if (p.input_json)
		take_input_json(c, service, p.input_json);
	if (c->region == NULL && (c->region = getenv("AWS_REGION")) == NULL)
		c->region = getenv("AWS_DEFAULT_REGION");
	if (c->region && *c->region == '\0')
		c->region = NULL;
	return 0;
}

void
awscli_free(struct awscall *c)
{
	for (size_t i = 0; i < c->nfields; i++)
		free(c->field[i].value);
	for (size_t i = 0; i < c->ntables; i++)
		free(c->table_names[i]);
	free(c->table_names);
	c->nfields = c->ntables = 0;
	c->table_names = NULL;
}

static void
copy_span(char *dst, size_t dlen, const char *s, size_t n)
{
	if (n >= dlen)
		n = dlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * Where MESSAGE starts in what follows "An error occurred (CODE)": after
 * " when calling the OP operation: ", or after " operation (reached max
 * retries: N): " when botocore retried, else after the first ": ".
 */
static const char *
error_message(const char *rest)
{
	const char *op = strstr(rest, " operation"), *after;

	if (op) {
		after = op + strlen(" operation");
		if (strncmp(after, " (", 2) == 0 && (op = strstr(after, "): ")) != NULL)
			after = op + 1;
		if (strncmp(after, ": ", 2) == 0)
			return after + 2;
	}
	return (after = strstr(rest, ": ")) != NULL ? after + 2 : NULL;
}

/* "An error occurred (CODE) when calling the OP operation: MESSAGE" */
static void
scan_error(struct awsout *o, const char *line)
{
	const char *p = strstr(line, "An error occurred ("), *close, *msg;

	if (p == NULL)
		return;
	p += strlen("An error occurred (");
	if ((close = strchr(p, ')')) == NULL || close == p)
		return;
	copy_span(o->code, sizeof(o->code), p, (size_t)(close - p));
	msg = error_message(close);
	copy_span(o->message, sizeof(o->message), msg ? msg : "", msg ? strlen(msg) : 0);
	if (isdigit((unsigned char)o->code[0]) && strlen(o->code) == 3)
		o->http_status = atoi(o->code);
}

/* botocore's --debug lines: urllib3's status line and the response headers. */
static void
scan_debug(struct awsout *o, const char *line)
{
	static const char *const ids[] = { "x-amzn-requestid': '", "x-amz-request-id': '", NULL };
	const char *p = strstr(line, " HTTP/1.1\" ");

	if (p && isdigit((unsigned char)p[11]) && isdigit((unsigned char)p[12]) &&
	    isdigit((unsigned char)p[13]) && (p[14] == ' ' || p[14] == '\0'))
		o->http_status = atoi(p + 11);
	/* Every retry logs its own: the last one is the attempt that counted. */
	for (size_t i = 0; ids[i]; i++) {
		const char *id = strcasestr(line, ids[i]), *end;

		if (id && (end = strchr(id + strlen(ids[i]), '\'')) != NULL)
			copy_span(o->request_id, sizeof(o->request_id), id + strlen(ids[i]),
			    (size_t)(end - id - strlen(ids[i])));
	}
}

static void
scan_line(struct awsout *o)
{
	char *line = o->partial;
	size_t n = o->plen;

	o->partial[n] = '\0';
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	o->plen = 0;
	if (n == 0)
		return;
	copy_span(o->last, sizeof(o->last), line, n);
	scan_error(o, line);
	scan_debug(o, line);
}

void
awsout_feed(struct awsout *o, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			scan_line(o);
			continue;
		}
		/* An overlong line keeps only its end: the error report closes the line. */
		if (o->plen == sizeof(o->partial) - 1) {
			/* A report that starts here but runs past the buffer is read now. */
			o->partial[o->plen] = '\0';
			scan_error(o, o->partial);
			memmove(o->partial, o->partial + o->plen - LINE_KEEP, LINE_KEEP);
			o->plen = LINE_KEEP;
		}
		o->partial[o->plen++] = buf[i] ? buf[i] : ' ';
	}
}

void
awsout_end(struct awsout *o)
{
	if (o->plen)
		scan_line(o);
}

static int
code_in(const char *code, const char *const *list)
{
	return in_list(list, code);
}

void
awscli_outcome(const struct awsout *o, int status, struct outcome *out)
{
	/* botocore's own list of throttling codes (its retry rules). */
	static const char *const throttling[] = { "Throttling", "ThrottlingException",
		"ThrottledException", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
		"TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
		"BandwidthLimitExceeded", "LimitExceededException", "EC2ThrottledException",
		"PriorRequestNotComplete", NULL };
	static const char *const server[] = { "InternalServerError", "InternalFailure",
		"InternalError", "ServiceUnavailable", "ServiceUnavailableException",
		"InternalServerException", "ServiceException", "ServiceFailure", "InternalErrorException",
		NULL };
	static const char *const config[] = { "Unable to locate credentials",
		"You must specify a region", "The config profile", "Partial credentials found", NULL };

	memset(out, 0, sizeof(*out));
	if (o->code[0]) {
		out->type = o->code;
		out->message = o->message;
		out->remote = 1;
		if (code_in(o->code, throttling) || o->http_status == 429)
			out->throttle = out->error = 1;
		else if (code_in(o->code, server) || o->http_status >= 500)
			out->fault = 1;
		else
			out->error = 1;
		return;
	}
	if (status == 0)
		return;
	out->message = o->last[0] ? o->last : NULL;
	if (status == 2 || status == 252) {
		out->type = "UsageError";
		out->error = 1;
		return;
	}
	for (size_t i = 0; config[i]; i++)
		if (strstr(o->last, config[i]))
			status = 253;
	if (status == 253) {
		out->type = "ConfigurationError";
		out->error = 1;
	} else {
		out->fault = 1;
	}
}

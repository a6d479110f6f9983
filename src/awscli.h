/*
 * awscli.h: the aws CLI as exec sees it: which service, operation, region and
 * resource a command line names, and what its stderr and exit status say
 * about the outcome.
 */
#ifndef XRAY_SEG_AWSCLI_H
#define XRAY_SEG_AWSCLI_H

#include <stddef.h>

#define AWS_FIELDS_MAX 8

struct awscall {
	char name[64];          /* the subsegment name: the service's X-Ray name */
	char operation[128];    /* API spelling: GetItem */
	const char *region;     /* borrowed from argv or the environment, or NULL */
	int debug;              /* --debug: the output carries status and request id */
	struct {
		const char *key;  /* field of the "aws" object: table_name... */
		char *value;      /* owned */
	} field[AWS_FIELDS_MAX];
	size_t nfields;
	char **table_names;     /* owned, for batch DynamoDB operations */
	size_t ntables;
};

/* Recognise argv (argv[0] is the aws program). -1 if no service/operation is named. */
int awscli_parse(char *const *argv, struct awscall *c);

void awscli_free(struct awscall *c);

/* What the CLI's stderr said, gathered line by line while it passes through. */
struct awsout {
	char code[128];         /* from "An error occurred (CODE) ..." */
	char message[1024];
	char last[1024];        /* last non-empty line, for failures without a code */
	char request_id[128];
	int http_status;
	char partial[4096];     /* the line being read */
	size_t plen;
};

/* Feed n bytes of stderr. */
void awsout_feed(struct awsout *o, const char *buf, size_t n);

/* Finish: the last line even without a newline. */
void awsout_end(struct awsout *o);

struct outcome {
	int error, fault, throttle;
	const char *type;       /* exception type, or NULL */
	const char *message;    /* exception message, or NULL */
	int remote;             /* the service said so */
};

/* Decide the outcome from o and the exit status. */
void awscli_outcome(const struct awsout *o, int status, struct outcome *out);

#endif

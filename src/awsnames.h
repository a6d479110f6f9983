/* awsnames.h: what the aws CLI calls a service or an operation, and what X-Ray and the API call it. */
#ifndef XRAY_SEG_AWSNAMES_H
#define XRAY_SEG_AWSNAMES_H

#include <stddef.h>

struct aws_service {
	const char *cli;  /* "dynamodb", "s3api" */
	const char *xray; /* "DynamoDB", "S3" */
};

struct aws_operation {
	const char *service; /* CLI service name */
	const char *cli;     /* "assume-role-with-saml" */
	const char *api;     /* "AssumeRoleWithSAML" */
};

/* Generated tables (awsnames.c), sorted by CLI names. */
extern const struct aws_service aws_services[];
extern const size_t aws_nservices;
extern const struct aws_operation aws_operations[];
extern const size_t aws_noperations;

#endif

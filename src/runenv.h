/*
 * runenv.h: where a trace we start runs: the CI system of the job, the AWS
 * compute it runs on, the host. What the X-Ray console shows of a service.
 */
#ifndef XRAY_SEG_RUNENV_H
#define XRAY_SEG_RUNENV_H

#include "segdoc.h"

/* Annotate segment d with the host and the CI run, and record its origin. */
void runenv_describe(struct segdoc *d, const char *service_version);

#endif

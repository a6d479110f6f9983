/*
 * segdoc.h: X-Ray segment and subsegment documents. The only user of json-c:
 * documents, and the API's bodies that carry them, are built, changed,
 * checked and serialised here and nowhere else.
 */
#ifndef XRAY_SEG_SEGDOC_H
#define XRAY_SEG_SEGDOC_H

#include <stddef.h>

#include "ids.h"

#define NAME_MAX_CHARS 200
#define ANNOTATION_MAX 50        /* X-Ray indexes at most 50 per trace */
#define ANNOTATION_VALUE_MAX 1000 /* characters of a string value */

struct segdoc;

enum annot { ANNOT_STRING, ANNOT_NUMBER, ANNOT_BOOL };

/* How a subsegment ended; zero/NULL fields are not recorded. */
struct seg_end {
	int error, fault, throttle;
	const char *cause;      /* exception message */
	int has_exit;           /* exit_code is set */
	int exit_code;
	const char *signal;     /* "SIGKILL"... when the process was killed */
	int http_status;
	char end_time[TIME_LEN];
	const char *cause_type;  /* exception type, with cause */
	int cause_remote;        /* the exception came from a downstream service */
	int outcome_set;         /* the flags above are the whole outcome: a
	                          * non-zero exit status adds no fault */
	int has_usage;           /* the child's resource use below is set */
	double wall_time, user_time, system_time;
	long max_rss_kb;
};

/* The "aws" object of an AWS call: key/value string fields and table names. */
struct seg_aws {
	const char *operation, *region, *request_id;
	const char *const *keys;
	char *const *values;
	size_t nfields;
	char *const *table_names;
	size_t ntables;
};

/* What a segment says about the service it stands for; NULL fields are left out. */
struct seg_service {
	const char *origin;      /* AWS::EC2::Instance... */
	const char *version;     /* service.version */
	const char *instance_id; /* aws.ec2.instance_id */
};

/*
 * A new open subsegment; ns may be NULL. With parent_id NULL, a segment (the
 * top of a trace) instead, which has no namespace. Strings are copied.
 */
struct segdoc *segdoc_new(const char *id, const char *name, const char *trace_id,
    const char *parent_id, const char *start_time, const char *ns);

/* The document in text, or NULL if it is not a JSON object. */
struct segdoc *segdoc_parse(const char *text, size_t len);

void segdoc_free(struct segdoc *d);

/* Compact JSON of d; caller frees. */
char *segdoc_text(const struct segdoc *d, size_t *len);

/*
 * Compact JSON of d in at most max bytes: if it is larger, the largest
 * metadata values and then the cause and annotation texts are cut down, each
 * cut marked in the document, and *shrunk is set. Caller frees.
 */
char *segdoc_wire(struct segdoc *d, size_t max, size_t *len, int *shrunk);

/*
 * Set annotation key; -1 when the subsegment already has ANNOTATION_MAX
 * others. A string value is made valid UTF-8 and cut to ANNOTATION_VALUE_MAX
 * characters.
 */
int segdoc_annotate(struct segdoc *d, const char *key, enum annot type, const char *value);

/* The number of annotations of d. */
size_t segdoc_annotation_count(const struct segdoc *d);

/* Set metadata ns.key to JSON text json (which must pass segdoc_json_ok). */
int segdoc_metadata(struct segdoc *d, const char *ns, const char *key, const char *json);

/* The deepest nesting a metadata value may have. */
#define SEGDOC_JSON_DEPTH 64
#define SEGDOC_JSON_DEPTH_TEXT "64"

/* Non-zero if json is one complete JSON value in valid UTF-8, nested at most SEGDOC_JSON_DEPTH. */
int segdoc_json_ok(const char *json);

/* NULL if segdoc_json_ok, else what is wrong ("is not valid JSON"...). */
const char *segdoc_json_error(const char *json);

/* Record the end: end_time, flags, cause, HTTP status, exit status. */
void segdoc_finish(struct segdoc *d, const struct seg_end *e);

/* One frame of an exception's stack. */
struct seg_frame {
	const char *path;
	long line;
	const char *label;
};

/*
 * Add an exception to d's cause, with a stack of n frames (innermost first)
 * of which truncated more were left out, and set fault.
 */
void segdoc_exception(struct segdoc *d, const char *message, const char *type,
    const struct seg_frame *frames, size_t n, size_t truncated);

/* Set the "aws" object of d. */
void segdoc_set_aws(struct segdoc *d, const struct seg_aws *a);

/* The string member key of JSON object text json, or NULL. Caller frees. */
char *segdoc_json_member(const char *json, const char *key);

/*
 * The member names of JSON object text json, or with member, of its object
 * member of that name; NULL if there is none. *n is their number. Caller frees.
 */
char **segdoc_json_keys(const char *json, const char *member, size_t *n);

/* Field key of d as a string (NULL if absent or not a string). */
const char *segdoc_get_str(const struct segdoc *d, const char *key);

/* Field key of d as a number (0 if absent); *found says whether it was there. */
double segdoc_get_num(const struct segdoc *d, const char *key, int *found);

/* Non-zero if field key of d is true. */
int segdoc_get_flag(const struct segdoc *d, const char *key);

/* The annotations of d as "k=v k=v" (JSON values); caller frees. */
char *segdoc_annotations(const struct segdoc *d);

/* The in-progress document of open d ("in_progress": true). Caller frees. */
char *segdoc_in_progress(struct segdoc *d, size_t *len);

/* Non-zero if d is a segment rather than a subsegment. */
int segdoc_is_segment(const struct segdoc *d);

/* Record origin, service version and EC2 instance of segment d. */
void segdoc_set_service(struct segdoc *d, const struct seg_service *v);

/*
 * The PutTraceSegments request body for n documents (each docs[i] of lens[i]
 * bytes): {"TraceSegmentDocuments":["...",...]}. Caller frees. NULL when
 * memory ran out.
 */
char *segdoc_batch(char *const *docs, const size_t *lens, size_t n, size_t *len);

/*
 * Call fn(arg, id, error_code, message) for each UnprocessedTraceSegments
 * entry of a PutTraceSegments response; their number, or -1 if json is not
 * a JSON object.
 */
int segdoc_unprocessed(const char *json, size_t len,
    void (*fn)(void *, const char *, const char *, const char *), void *arg);

/* "Type: message" of an AWS JSON error body, or NULL. Caller frees. */
char *segdoc_api_error(const char *json, size_t len);

/*
 * A copy of name fit for X-Ray: valid UTF-8, only the characters X-Ray
 * allows, at most NAME_MAX_CHARS. *changed says whether anything was removed.
 */
char *segdoc_clean_name(const char *name, int *changed);

#endif

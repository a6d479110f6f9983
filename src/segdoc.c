/* segdoc.c: X-Ray subsegment documents, built with json-c (see segdoc.h). */
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <json-c/json.h>

#include "segdoc.h"
#include "util.h"

#define TEXT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CAUSE_SHORT 256

struct segdoc {
	json_object *o; /* owned: one reference */
};

static json_object *
new_str(const char *s)
{
	char *clean = utf8_sanitize(s);
	json_object *o = json_object_new_string(clean);

	free(clean);
	return o;
}

/* json-c keeps a double's own text, so times keep exactly 6 decimals. */
static json_object *
new_time(const char *t)
{
	return json_object_new_double_s(strtod(t, NULL), t);
}

/* Child object key of o, made if absent. */
static json_object *
child(json_object *o, const char *key)
{
	json_object *c;

	if (json_object_object_get_ex(o, key, &c) && json_object_is_type(c, json_type_object))
		return c;
	c = json_object_new_object();
	json_object_object_add(o, key, c);
	return c;
}

struct segdoc *
segdoc_new(const char *id, const char *name, const char *trace_id, const char *parent_id,
    const char *start_time, const char *ns)
{
	struct segdoc *d = xmalloc(sizeof(*d));

	d->o = json_object_new_object();
	json_object_object_add(d->o, "id", json_object_new_string(id));
	json_object_object_add(d->o, "name", new_str(name));
	json_object_object_add(d->o, "trace_id", json_object_new_string(trace_id));
	/* A segment is the top of its trace: no parent, no type, no namespace. */
	if (parent_id) {
		json_object_object_add(d->o, "parent_id", json_object_new_string(parent_id));
		json_object_object_add(d->o, "type", json_object_new_string("subsegment"));
	}
	json_object_object_add(d->o, "start_time", new_time(start_time));
	if (ns && parent_id)
		json_object_object_add(d->o, "namespace", json_object_new_string(ns));
	return d;
}

/*
 * How deep a document may nest: a metadata value as deep as
 * SEGDOC_JSON_DEPTH sits under "metadata", its namespace and its key, and
 * every document that holds one must load again at every later call.
 */
#define DOC_DEPTH (SEGDOC_JSON_DEPTH + 8)

/* One JSON value filling the NUL-terminated text of len bytes, or NULL. */
static json_object *
parse_depth(const char *text, size_t len, int depth, int *too_deep)
{
	json_tokener *tok = json_tokener_new_ex(depth);
	json_object *o;

	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* The NUL goes in too: a number at the very end is complete only once the
	 * tokener sees where the text ends. */
	o = json_tokener_parse_ex(tok, text, (int)len + 1);
	if (too_deep)
		*too_deep = json_tokener_get_error(tok) == json_tokener_error_depth;
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* A value as metadata takes it, or a document's parts. */
static json_object *
parse_strict(const char *text, size_t len)
{
	return parse_depth(text, len, DOC_DEPTH, NULL);
}

struct segdoc *
segdoc_parse(const char *text, size_t len)
{
	json_object *o = parse_strict(text, len);
	struct segdoc *d;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	d = xmalloc(sizeof(*d));
	d->o = o;
	return d;
}

/* json-c's tokener takes NaN and Infinity even when strict; JSON has neither. */
static int
all_finite(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!all_finite(v))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/*
 * Whether the integer of digits d (n of them, after any '-') fits json-c's
 * integers: from -2^63 to 2^64 - 1. Past that they would be cut to the limit.
 */
static int
integer_fits(const char *d, size_t n, int negative)
{
	const char *max = negative ? "9223372036854775808" : "18446744073709551615";
	size_t mlen = strlen(max);

	return n < mlen || (n == mlen && strncmp(d, max, n) <= 0);
}

/*
 * Why json (valid JSON) holds an integer that json-c would not keep as
 * written: -0 (it keeps 0) or one past 64 bits (it keeps the limit); NULL
 * if none. Numbers with a fraction or an exponent keep their text.
 */
static const char *
inexact_integer(const char *json)
{
	int in_string = 0;

	for (const char *p = json; *p; p++) {
		if (in_string) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_string = 0;
			continue;
		}
		if (*p == '"') {
			in_string = 1;
			continue;
		}
		if (*p != '-' && !isdigit((unsigned char)*p))
			continue;
		int negative = *p == '-';
		const char *d = p + negative;
		size_t n = strspn(d, "0123456789");

		p = d + n - 1;
		if (d[n] == '.' || d[n] == 'e' || d[n] == 'E') {
			p = d + n;
			p += strspn(p + 1, "0123456789.eE+-");
			continue;
		}
		if (negative && n == 1 && d[0] == '0')
			return "holds -0, which would be sent as 0 (write -0.0)";
		if (!integer_fits(d, n, negative))
			return "holds an integer past 64 bits, which would not be sent as written "
			    "(give it a fraction or an exponent, or quote it)";
	}
	return NULL;
}

const char *
segdoc_json_error(const char *json)
{
	json_object *o;
	int ok, deep = 0;

	/* A bare "null" parses to NULL too: tell it apart by the text. */
	if (strcmp(json, "null") == 0)
		return NULL;
	o = parse_depth(json, strlen(json), SEGDOC_JSON_DEPTH + 1, &deep); /* json-c counts one more */
	ok = o != NULL && all_finite(o);
	json_object_put(o);
	if (deep)
		return "is nested deeper than " SEGDOC_JSON_DEPTH_TEXT " levels";
	return ok ? inexact_integer(json) : "is not valid JSON";
}

int
segdoc_json_ok(const char *json)
{
	return segdoc_json_error(json) == NULL;
}

void
segdoc_free(struct segdoc *d)
{
	if (d == NULL)
		return;
	json_object_put(d->o);
	free(d);
}

char *
segdoc_text(const struct segdoc *d, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(d->o, TEXT_FLAGS, &n);

	if (s == NULL) {
		errmsg("out of memory");
		exit(EXIT_RUNTIME);
	}
	*len = n;
	return xstrndup(s, n);
}

/* A string annotation as X-Ray keeps it: valid UTF-8, cut at a character boundary. */
static json_object *
new_annotation_str(const char *s)
{
	char *clean = utf8_sanitize(s);
	json_object *o;

	clean[utf8_prefix(clean, ANNOTATION_VALUE_MAX)] = '\0';
	o = json_object_new_string(clean);
	free(clean);
	return o;
}

int
segdoc_annotate(struct segdoc *d, const char *key, enum annot type, const char *value)
{
	json_object *a = child(d->o, "annotations"), *v;

	if (!json_object_object_get_ex(a, key, NULL) &&
	    json_object_object_length(a) >= ANNOTATION_MAX)
		return -1;
	if (type == ANNOT_BOOL)
		v = json_object_new_boolean(strcmp(value, "true") == 0);
	else if (type == ANNOT_NUMBER)
		v = new_time(value); /* any JSON number, kept as written */
	else
		v = new_annotation_str(value);
	json_object_object_add(a, key, v);
	return 0;
}

size_t
segdoc_annotation_count(const struct segdoc *d)
{
	json_object *a;

	if (!json_object_object_get_ex(d->o, "annotations", &a) ||
	    !json_object_is_type(a, json_type_object))
		return 0;
	return (size_t)json_object_object_length(a);
}

int
segdoc_metadata(struct segdoc *d, const char *ns, const char *key, const char *json)
{
	json_object *v = strcmp(json, "null") == 0 ? NULL : parse_strict(json, strlen(json));
	char *k, *n;

	if (v == NULL && strcmp(json, "null") != 0)
		return -1;
	k = utf8_sanitize(key);
	n = utf8_sanitize(ns);
	json_object_object_add(child(child(d->o, "metadata"), n), k, v);
	free(n);
	free(k);
	return 0;
}

static void
set_true(json_object *o, const char *key)
{
	json_object_object_add(o, key, json_object_new_boolean(1));
}

/* Seconds as JSON with microseconds, like the document's own times. */
static json_object *
new_seconds(double v)
{
	char buf[TIME_LEN];

	snprintf(buf, sizeof(buf), "%.6f", v);
	return json_object_new_double_s(v, buf);
}

static void
record_process(json_object *o, const struct seg_end *e)
{
	json_object *p = child(child(o, "metadata"), "process");

	json_object_object_add(p, "exit_code", json_object_new_int(e->exit_code));
	if (e->signal)
		json_object_object_add(p, "signal", json_object_new_string(e->signal));
	if (!e->has_usage)
		return;
	json_object_object_add(p, "wall_time", new_seconds(e->wall_time));
	json_object_object_add(p, "user_time", new_seconds(e->user_time));
	json_object_object_add(p, "system_time", new_seconds(e->system_time));
	json_object_object_add(p, "max_rss_kb", json_object_new_int64(e->max_rss_kb));
}

static json_object *
add_exception(json_object *o, const char *message, const char *type, int remote)
{
	json_object *cause = child(o, "cause"), *list, *ex;
	char id[ID_LEN + 1];

	if (!json_object_object_get_ex(cause, "exceptions", &list)) {
		list = json_object_new_array();
		json_object_object_add(cause, "exceptions", list);
	}
	ids_new(id);
	ex = json_object_new_object();
	json_object_object_add(ex, "id", json_object_new_string(id));
	json_object_object_add(ex, "message", new_str(message));
	if (type && *type)
		json_object_object_add(ex, "type", new_str(type));
	if (remote)
		json_object_object_add(ex, "remote", json_object_new_boolean(1));
	json_object_array_add(list, ex);
	return ex;
}

void
segdoc_exception(struct segdoc *d, const char *message, const char *type,
    const struct seg_frame *frames, size_t n, size_t truncated)
{
	json_object *ex = add_exception(d->o, message, type, 0), *stack, *f;

	if (n > 0) {
		stack = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			f = json_object_new_object();
			json_object_object_add(f, "path", new_str(frames[i].path));
			json_object_object_add(f, "line", json_object_new_int64(frames[i].line));
			json_object_object_add(f, "label", new_str(frames[i].label));
			json_object_array_add(stack, f);
		}
		json_object_object_add(ex, "stack", stack);
	}
	if (truncated)
		json_object_object_add(ex, "truncated", json_object_new_int64((int64_t)truncated));
	set_true(d->o, "fault");
}

void
segdoc_finish(struct segdoc *d, const struct seg_end *e)
{
	int error = e->error || e->throttle, fault = e->fault, throttle = e->throttle;

	json_object_object_add(d->o, "end_time", new_time(e->end_time));
	if (e->http_status) {
		json_object_object_add(child(child(d->o, "http"), "response"), "status",
		    json_object_new_int(e->http_status));
		throttle |= e->http_status == 429;
		error |= e->http_status >= 400 && e->http_status < 500;
		fault |= e->http_status >= 500;
	}
	if (e->has_exit) {
		record_process(d->o, e);
		fault |= e->exit_code != 0 && !e->outcome_set;
	}
	if (e->cause) {
		add_exception(d->o, e->cause, e->cause_type, e->cause_remote);
		fault |= !error && !fault && !e->outcome_set;
	} else if (e->has_exit && e->exit_code != 0) {
		char *msg = e->signal ? xasprintf("killed by %s", e->signal) :
		    xasprintf("exit status %d", e->exit_code);

		add_exception(d->o, msg, NULL, 0);
		free(msg);
	}
	if (error)
		set_true(d->o, "error");
	if (throttle)
		set_true(d->o, "throttle");
	if (fault)
		set_true(d->o, "fault");
}

/* The biggest metadata value not yet cut, as its namespace and key. */
static int
largest_metadata(json_object *o, json_object **ns_out, const char **key_out, size_t *size)
{
	json_object *meta;

	*size = 0;
	if (!json_object_object_get_ex(o, "metadata", &meta))
		return 0;
	json_object_object_foreach(meta, ns, nsobj) {
		(void)ns;
		if (!json_object_is_type(nsobj, json_type_object))
			continue;
		json_object_object_foreach(nsobj, key, val) {
			size_t n = 0;

			json_object_to_json_string_length(val, TEXT_FLAGS, &n);
			if (n > *size && n > 64) {
				*size = n;
				*ns_out = nsobj;
				*key_out = key;
			}
		}
	}
	return *size > 0;
}

static int
cut_metadata(json_object *o)
{
	json_object *ns = NULL, *mark;
	const char *key = NULL;
	size_t n;
	char *k;

	if (!largest_metadata(o, &ns, &key, &n))
		return 0;
	mark = json_object_new_object();
	json_object_object_add(mark, "truncated", json_object_new_boolean(1));
	json_object_object_add(mark, "bytes", json_object_new_int64((int64_t)n));
	k = xstrdup(key); /* key dies with the value it names */
	json_object_object_add(ns, k, mark);
	free(k);
	return 1;
}

/* Cut every string in the object values of o (one level) to max characters. */
static int
cut_strings(json_object *o, size_t max)
{
	int cut = 0;

	json_object_object_foreach(o, key, val) {
		const char *s;
		char *t;

		if (!json_object_is_type(val, json_type_string))
			continue;
		s = json_object_get_string(val);
		if (utf8_len(s) <= max)
			continue;
		t = xasprintf("%.*s [truncated]", (int)utf8_prefix(s, max), s);
		json_object_object_add(o, key, json_object_new_string(t));
		free(t);
		cut = 1;
	}
	return cut;
}

static int
cut_causes(json_object *o, size_t max)
{
	json_object *cause, *list;
	int cut = 0;

	if (!json_object_object_get_ex(o, "cause", &cause) ||
	    !json_object_object_get_ex(cause, "exceptions", &list) ||
	    !json_object_is_type(list, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *ex = json_object_array_get_idx(list, i);

		if (json_object_is_type(ex, json_type_object))
			cut |= cut_strings(ex, max);
	}
	return cut;
}

/* One step of making o smaller; 0 when nothing more can go. */
static int
shrink_step(json_object *o)
{
	json_object *ann;

	if (cut_metadata(o))
		return 1;
	/* Causes shrink in steps, so they keep as much text as still fits. */
	for (size_t max = 8192; max >= CAUSE_SHORT; max /= 4)
		if (cut_causes(o, max))
			return 1;
	if (json_object_object_get_ex(o, "annotations", &ann) && cut_strings(ann, 64))
		return 1;
	if (json_object_object_get_ex(o, "annotations", NULL)) {
		json_object_object_del(o, "annotations");
		return 1;
	}
	return 0;
}

char *
segdoc_wire(struct segdoc *d, size_t max, size_t *len, int *shrunk)
{
	char *text = segdoc_text(d, len);

	*shrunk = 0;
	while (*len > max && shrink_step(d->o)) {
		free(text);
		text = segdoc_text(d, len);
		*shrunk = 1;
	}
	return text;
}

static int
name_char_ok(uint32_t cp, locale_t *loc)
{
	static const uint32_t spaces[] = { 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
		0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x202f, 0x205f, 0x3000 };

	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		    (cp >= '0' && cp <= '9') || (cp && strchr(" _.:/%&#=+-@", (int)cp));
	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++)
		if (cp == spaces[i])
			return 1;
	if (cp == 0xfffd)
		return 0;
	/* Unicode letters and digits: only now is a UTF-8 locale worth loading. */
	if (*loc == (locale_t)0)
		*loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return *loc == (locale_t)0 || iswalnum_l((wint_t)cp, *loc);
}

char *
segdoc_clean_name(const char *name, int *changed)
{
	char *in = utf8_sanitize(name), *out = xmalloc(strlen(in) + 1), *o = out;
	locale_t loc = (locale_t)0;
	size_t chars = 0;

	*changed = strcmp(in, name) != 0;
	for (const char *p = in; *p;) {
		uint32_t cp;
		size_t n = utf8_decode(p, &cp);

		if (name_char_ok(cp, &loc) && chars < NAME_MAX_CHARS) {
			memcpy(o, p, n);
			o += n;
			chars++;
		} else {
			*changed = 1;
		}
		p += n;
	}
	*o = '\0';
	if (loc != (locale_t)0)
		freelocale(loc);
	free(in);
	return out;
}

void
segdoc_set_aws(struct segdoc *d, const struct seg_aws *a)
{
	json_object *aws = child(d->o, "aws"), *names;

	if (a->operation)
		json_object_object_add(aws, "operation", new_str(a->operation));
	if (a->region)
		json_object_object_add(aws, "region", new_str(a->region));
	if (a->request_id)
		json_object_object_add(aws, "request_id", new_str(a->request_id));
	for (size_t i = 0; i < a->nfields; i++)
		json_object_object_add(aws, a->keys[i], new_str(a->values[i]));
	if (a->ntables == 0)
		return;
	names = json_object_new_array();
	for (size_t i = 0; i < a->ntables; i++)
		json_object_array_add(names, new_str(a->table_names[i]));
	json_object_object_add(aws, "table_names", names);
}

char *
segdoc_json_member(const char *json, const char *key)
{
	json_object *o = parse_strict(json, strlen(json)), *v;
	char *s = NULL;

	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		s = xstrdup(json_object_get_string(v));
	json_object_put(o);
	return s;
}

char **
segdoc_json_keys(const char *json, const char *member, size_t *n)
{
	json_object *root = parse_strict(json, strlen(json)), *o = root;
	char **keys = NULL;
	size_t i = 0;

	*n = 0;
	if (member && !(o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(root, member, &o)))
		o = NULL;
	if (o && json_object_is_type(o, json_type_object) && json_object_object_length(o) > 0) {
		keys = xmalloc((size_t)json_object_object_length(o) * sizeof(*keys));
		json_object_object_foreach(o, k, v) {
			(void)v;
			keys[i++] = xstrdup(k);
		}
		*n = i;
	}
	json_object_put(root);
	return keys;
}

const char *
segdoc_get_str(const struct segdoc *d, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(d->o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

double
segdoc_get_num(const struct segdoc *d, const char *key, int *found)
{
	json_object *v;

	*found = json_object_object_get_ex(d->o, key, &v) &&
	    (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int));
	return *found ? json_object_get_double(v) : 0;
}

int
segdoc_get_flag(const struct segdoc *d, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(d->o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

char *
segdoc_annotations(const struct segdoc *d)
{
	json_object *a;
	char *out = xstrdup(""), *next;

	if (!json_object_object_get_ex(d->o, "annotations", &a) ||
	    !json_object_is_type(a, json_type_object))
		return out;
	json_object_object_foreach(a, k, v) {
		next = xasprintf("%s%s%s=%s", out, *out ? " " : "", k,
		    json_object_to_json_string_ext(v, TEXT_FLAGS));
		free(out);
		out = next;
	}
	return out;
}

int
segdoc_is_segment(const struct segdoc *d)
{
	return !json_object_object_get_ex(d->o, "type", NULL);
}

void
segdoc_set_service(struct segdoc *d, const struct seg_service *v)
{
	if (v->origin)
		json_object_object_add(d->o, "origin", json_object_new_string(v->origin));
	if (v->version)
		json_object_object_add(child(d->o, "service"), "version", new_str(v->version));
	if (v->instance_id)
		json_object_object_add(child(child(d->o, "aws"), "ec2"), "instance_id",
		    new_str(v->instance_id));
}

char *
segdoc_batch(char *const *docs, const size_t *lens, size_t n, size_t *len)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array(), *d;
	const char *text = NULL;
	char *out = NULL;
	int ok = o && a;

	/* json-c answers an allocation failure with NULL: then there is no body. */
	for (size_t i = 0; ok && i < n; i++) {
		d = json_object_new_string_len(docs[i], (int)lens[i]);
		if ((ok = d != NULL && json_object_array_add(a, d) == 0) == 0)
			json_object_put(d);
	}
	if (ok && json_object_object_add(o, "TraceSegmentDocuments", a) == 0) {
		a = NULL; /* o owns it now */
		text = json_object_to_json_string_length(o, TEXT_FLAGS, len);
	}
	if (text) {
		out = xmalloc(*len + 1);
		memcpy(out, text, *len + 1);
	}
	json_object_put(a);
	json_object_put(o);
	return out;
}

/* A string member of o, or "". */
static const char *
str_member(json_object *o, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

int
segdoc_unprocessed(const char *json, size_t len,
    void (*fn)(void *, const char *, const char *, const char *), void *arg)
{
	json_object *o = parse_strict(json, len), *a;
	size_t n;

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	n = json_object_object_get_ex(o, "UnprocessedTraceSegments", &a) &&
	    json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);

		fn(arg, str_member(e, "Id"), str_member(e, "ErrorCode"), str_member(e, "Message"));
	}
	json_object_put(o);
	return (int)n;
}

char *
segdoc_api_error(const char *json, size_t len)
{
	json_object *o = parse_strict(json, len);
	const char *type, *msg;
	char *both, *out = NULL;

	if (o && json_object_is_type(o, json_type_object)) {
		type = str_member(o, "__type");
		if (*(msg = str_member(o, "message")) == '\0')
			msg = str_member(o, "Message");
		if (strchr(type, '#'))
			type = strchr(type, '#') + 1;
		both = xasprintf("%s%s%s", type, *type && *msg ? ": " : "", msg);
		if (*both)
			out = utf8_sanitize(both);
		free(both);
	}
	json_object_put(o);
	return out;
}

char *
segdoc_in_progress(struct segdoc *d, size_t *len)
{
	char *text;

	json_object_object_add(d->o, "in_progress", json_object_new_boolean(1));
	text = segdoc_text(d, len);
	json_object_object_del(d->o, "in_progress");
	return text;
}

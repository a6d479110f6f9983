/* util.h: diagnostics, allocation that cannot fail, and small parsing helpers. */
#ifndef XRAY_SEG_UTIL_H
#define XRAY_SEG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define PROGNAME "xray-seg"

/* Exit statuses shared by every command (see EXIT STATUS in the man page). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* One line on stderr: "xray-seg: warning: ...". */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line on stderr: "xray-seg: ...". */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation wrappers: they print a message and exit on failure. */
/* Exit with status, not EXIT_RUNTIME, should memory run out from now on. */
void set_oom_status(int status);

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write all of buf to fd, retrying short writes and EINTR. 0 or -1 (errno). */
int writeall(int fd, const void *buf, size_t len);

/*
 * The text named by arg: with "@FILE" that file's, with "-" standard
 * input's, else arg itself (*out NULL). 0, or -1 with errno (EFBIG past max
 * bytes); the caller frees *out.
 */
int read_arg(const char *arg, size_t max, char **out);

/* Parse a decimal integer in [min, max]. 0 or -1. */
int parse_long(const char *s, long min, long max, long *out);

/* Non-zero if s is exactly n lowercase hex digits. */
int is_lower_hex(const char *s, size_t n);

/* Non-zero if s is a JSON number (RFC 8259 grammar) that is finite. */
int is_json_number(const char *s);

/*
 * Copy of s with every invalid UTF-8 sequence replaced by U+FFFD and control
 * characters other than tab kept (JSON escapes them). Caller frees.
 */
char *utf8_sanitize(const char *s);

/* Non-zero if s is valid UTF-8 throughout. */
int utf8_valid(const char *s);

/* Number of code points in a valid UTF-8 string. */
size_t utf8_len(const char *s);

/* Length in bytes of the longest prefix of valid UTF-8 s with at most n code points. */
size_t utf8_prefix(const char *s, size_t n);

/* Decode one code point at s (valid UTF-8); returns its length in bytes. */
size_t utf8_decode(const char *s, uint32_t *cp);

/* s in single quotes for a POSIX shell, each ' written as '\''. Caller frees. */
char *shell_quote(const char *s);

#endif

/* ids.h: random identifiers and the wall clock, as X-Ray wants them. */
#ifndef XRAY_SEG_IDS_H
#define XRAY_SEG_IDS_H

#define ID_LEN 16        /* segment, subsegment and exception ids: 64 bits in hex */
#define TRACE_ID_LEN 35  /* 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx */
#define TIME_LEN 32      /* room for "<epoch seconds>.<6 digits>" */

/* Fill out with 16 lowercase hex digits from the kernel's random source. */
void ids_new(char out[ID_LEN + 1]);

/* A new trace id: the current time and 96 random bits. */
void ids_trace_new(char out[TRACE_ID_LEN + 1]);

/*
 * The trace id named by s: the first 128 bits of SHA-256(s), laid out as an
 * X-Ray id. X-Ray accepts ids whose time part is not a time (as those made
 * from W3C trace ids are), and the same s gives the same id on any machine.
 */
void ids_trace_from(const char *s, char out[TRACE_ID_LEN + 1]);

/* Fill out with "<seconds>.<microseconds>" of the current time. */
void clock_now(char out[TIME_LEN]);

/*
 * Read a time given on the command line into out, as clock_now writes it:
 * epoch seconds, with any fraction (kept to microseconds); epoch
 * milliseconds (13 to 15 digits), microseconds (16 to 18) or nanoseconds
 * (19); or RFC 3339 ("2026-12-08T01:02:03.5Z", an offset for Z). -1 for
 * anything else and for times before 2000 or more than a day ahead.
 */
int clock_parse(const char *v, char out[TIME_LEN]);

#endif

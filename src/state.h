/*
 * state.h: the private store of open and undelivered subsegments.
 *
 * One directory per trace inside a private state directory; every change to a
 * trace happens under an exclusive flock(2) on its "lock" file, and every file
 * is replaced atomically, so concurrent calls never corrupt each other and a
 * call killed at any instant leaves state that later calls can read. The store
 * holds bytes; it knows nothing of JSON.
 */
#ifndef XRAY_SEG_STATE_H
#define XRAY_SEG_STATE_H

#include <stddef.h>

#include "ids.h"

/* Trace state untouched for longer than a Lambda invocation can last. */
#define STATE_STALE_SECONDS (15 * 60)
/* Trace state with an open segment or undelivered documents: a day. */
#define STATE_KEEP_SECONDS (24 * 60 * 60)

struct trace;

/* state_open's refusals of a directory that is not private, beside ELOOP and ENOTDIR. */
#define STATE_NOT_OWNED 1001   /* owned by another user */
#define STATE_NOT_PRIVATE 1002 /* group or others have access */

/* Whether errno value err is a refusal of a directory that is not private. */
#define state_refused(err) \
	((err) == ELOOP || (err) == ENOTDIR || (err) == STATE_NOT_OWNED || (err) == STATE_NOT_PRIVATE)

/* state_open's flags. */
enum {
	STATE_CREATE = 1, /* make the trace's state if it has none */
	STATE_SOLE = 2,   /* one trace at a time (Lambda): a new one ends the others */
	STATE_QUICK = 4,  /* wait at most STATE_QUICK_MS for the lock */
};

/* The longest exec waits for the lock before it starts its command anyway. */
#define STATE_QUICK_MS 50L
/* Others wait while the lock changes hands; one holder stopped this long... */
#define STATE_HOLD_MS 2000L
/* ...or this long, whatever it does, and they give up. */
#define STATE_WAIT_MS 60000L

/*
 * Open the state of trace root under the state directory dir, locked. A
 * trace that state_open makes sweeps the others: those untouched for too
 * long and, with STATE_SOLE, those with nothing open or kept. -1 with errno:
 * ENOENT (no state and no STATE_CREATE); ELOOP, ENOTDIR, STATE_NOT_OWNED or
 * STATE_NOT_PRIVATE for a directory that is refused (state_refused); the
 * system's own errors (EACCES: no permission); ETIMEDOUT when the lock stayed
 * taken (see STATE_QUICK_MS, STATE_HOLD_MS).
 */
int state_open(const char *dir, const char *root, int flags, struct trace **out);

/* 0 if dir is a state directory state_open would accept, else -1 with its errno. */
int state_check(const char *dir);

/*
 * Call fn(arg, root) for each trace under dir, until fn returns non-zero.
 * -1 with errno as state_open's when dir is refused or absent (ENOENT).
 */
int state_traces(const char *dir, int (*fn)(void *, const char *), void *arg);

/*
 * Unlock and free t; with tidy, first remove the trace's state if nothing is
 * left: nothing open, nothing kept or claimed and no set (what the trace as
 * a whole has recorded stays until the trace is swept). With STATE_SOLE the
 * state stays for the next trace to sweep. A t unlocked by state_unlock is
 * tidied only if its lock is free within STATE_QUICK_MS.
 */
void state_close(struct trace *t, int tidy);

/*
 * 1 the first time it is called for state directory dir (a fresh Lambda
 * sandbox), 0 after; -1 with errno as state_open's if dir is refused.
 */
int state_first_use(const char *dir);

/* Non-zero if the state_open that gave t made the trace's directory. */
int state_made(const struct trace *t);

/*
 * Mark t as the state directory's latest trace: 1 if it is the first the
 * directory has ever had (a fresh Lambda sandbox), 0 if others came before,
 * -1 if t was already marked (or the mark cannot be kept).
 */
int state_mark_first(struct trace *t);

/* Words for state_open's errno, including the refusals. */
const char *state_strerror(int err);

/* Store data as file name: atomically replaced, or with excl, newly created. */
int state_put(struct trace *t, const char *name, const char *data, size_t len, int excl);

/* Read file name into a new NUL-terminated buffer (*data, caller frees). */
int state_get(struct trace *t, const char *name, char **data, size_t *len);

int state_del(struct trace *t, const char *name);

/*
 * When there is no room for a new file: overwrite file from with data,
 * within the space it already takes, and rename it to. -1 with errno
 * (ENOSPC when data does not fit).
 */
int state_morph(struct trace *t, const char *from, const char *to, const char *data, size_t len);

/*
 * Sets of words, one a line in file "set.<name>": 1 if word is in set name
 * and 0 if not, with *n its number of words; -1 with errno.
 */
int state_set_has(struct trace *t, const char *name, const char *word, size_t *n);

/*
 * In the len bytes of a set's file: 1 if word is one of its lines, else 0;
 * *count is the number of whole lines and *whole their length in bytes (a
 * last line without its newline is a killed call's, and not counted).
 */
int state_set_find(const char *data, size_t len, const char *word, size_t *count, size_t *whole);

/* Add word (which has no newline) to set name. 0 or -1 with errno. */
int state_set_add(struct trace *t, const char *name, const char *word);

/* Forget set name. */
int state_set_del(struct trace *t, const char *name);

/*
 * Sending happens with the lock given up (a send may take seconds), so a
 * document on its way is claimed first: file "<id>.done", or a new one
 * stored under state_claim_name, is the claim "<id>.<pid>.sending" of the
 * process that sends it. After the send, it deletes its claim or gives it
 * back with state_unclaim; neither needs the lock, as no one else touches a
 * live process's claim. A claim whose process died is given back by
 * state_clean, so a document is sent again rather than lost.
 */
#define STATE_CLAIM_LEN (ID_LEN + 1 + 20 + 8)
/* A claim held this long is taken back even if its pid lives (reused). */
#define STATE_CLAIM_SECONDS (5 * 60)

void state_claim_name(char out[STATE_CLAIM_LEN + 1], const char *id);

/*
 * Mark open subsegment id as owned by this running process (exec, while its
 * command runs): the sweep leaves a trace with a live owner alone, however
 * old. The mark holds the pid; its time tells a reused pid from the owner.
 */
int state_live(struct trace *t, const char *id);
int state_is_live(struct trace *t, const char *id);
void state_unlive(struct trace *t, const char *id);

/* Claim kept document id ("<id>.done"): 0, or -1 with errno (ENOENT: another has it). */
int state_claim(struct trace *t, const char *id);

/* Give this process's claim of id back to the trace as "<id>.done". */
int state_unclaim(struct trace *t, const char *id);

/* Give up t's lock (state_close and what is claimed need none), and take it again. */
void state_unlock(struct trace *t);

/* 0, or -1 with ETIMEDOUT when the lock stays taken (as state_open). */
int state_relock(struct trace *t);

/*
 * Remove what calls killed while writing left behind, and give back the
 * claims of those killed while sending (t is locked: no one writes now).
 */
void state_clean(struct trace *t);
int state_has(struct trace *t, const char *name);

/* Call fn for every file whose name ends in suffix; stops at fn's first non-zero. */
int state_each(struct trace *t, const char *suffix, int (*fn)(void *, const char *), void *arg);

/*
 * The stack of a scope: ids of subsegments begun there, innermost last.
 * state_top gives the innermost id whose "<id>.open" still exists (dropping
 * ids ended out of order on the way), or -1 with ENOENT.
 */
int state_push(struct trace *t, const char *scope, const char *id);

/*
 * The ids begun after id on the stack of scope that are still open,
 * innermost first, at most max of them: the work begun inside id and not
 * ended. None if id is not on that stack.
 */
size_t state_above(struct trace *t, const char *scope, const char *id, char (*out)[ID_LEN + 1],
    size_t max);
int state_top(struct trace *t, const char *scope, char out[ID_LEN + 1]);

/* Every id on the stack of scope that is still open, innermost first, at most max. */
size_t state_open_on(struct trace *t, const char *scope, char (*out)[ID_LEN + 1], size_t max);

#endif

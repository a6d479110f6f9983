/* state.c: the private store of open and undelivered subsegments (see state.h). */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "state.h"
#include "tracectx.h"
#include "util.h"

#define STATE_FILE_MAX (16 * 1024 * 1024)
#define STACK_LINE (ID_LEN + 1)
#define OPEN_RETRIES 100
/* The lock file's text: holder pid and when it took the lock (see stamp_lock). */
#define LOCK_STAMP_LEN 31

struct trace {
	int rootfd; /* the state directory */
	int dirfd;  /* this trace's directory */
	int lockfd; /* held with LOCK_EX while t is open */
	int made;   /* this call made the trace's directory */
	int sole;   /* STATE_SOLE: the next trace removes this one */
	int locked; /* the lock is held now (see state_unlock) */
	char root[TRACE_ID_LEN + 1];
};

/* In the state directory: the last trace marked by state_mark_first. */
#define SANDBOX_FILE "sandbox"
/* Files being written; one found while holding the lock is a killed call's. */
#define TEMP_PREFIX ".tmp."
/* In the state directory: made by the first invocation's context call. */
#define INVOCATIONS_FILE "invoked"

const char *
state_strerror(int err)
{
	switch (err) {
	case ELOOP:
		return "is a symbolic link";
	case STATE_NOT_OWNED:
		return "is owned by another user";
	case STATE_NOT_PRIVATE:
		return "is accessible to other users (must be mode 0700)";
	case ENOTDIR:
		return "is not a directory";
	default:
		return strerror(err);
	}
}

/* Open directory name under at (or the path), refusing anything not private. */
static int
open_private_dir(int at, const char *name, int create)
{
	struct stat st;
	int fd;

	if (create && mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* O_NOFOLLOW on a symlink gives ELOOP, or ENOTDIR with O_DIRECTORY. */
		if (errno == ENOTDIR) {
			if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				errno = ELOOP;
			else
				errno = ENOTDIR;
		}
		return -1;
	}
	if (fstat(fd, &st) < 0)
		goto bad;
	if (st.st_uid != geteuid()) {
		errno = STATE_NOT_OWNED;
		goto bad;
	}
	if (st.st_mode & 077) {
		errno = STATE_NOT_PRIVATE;
		goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

/* A directory stream over fd from its first entry (dup shares the offset). */
static DIR *
dir_stream(int fd)
{
	int dfd = dup(fd);
	DIR *d;

	if (dfd < 0)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* Remove every file of trace directory fd (it must be locked or abandoned). */
static void
remove_contents(int fd)
{
	DIR *d;
	struct dirent *e;

	if ((d = dir_stream(fd)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			unlinkat(fd, e->d_name, 0);
	closedir(d);
}

/* Documents being sent: "<id>.<pid>.sending" (see state_claim). */
#define CLAIM_SUFFIX ".sending"

/* Prefix of the files of state_set_*. */
#define SET_PREFIX "set."

/* What a trace directory holds: open and kept documents, an open segment, sets. */
struct contents {
	size_t open, done, sets;
	int root;
};

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static void
count_contents(int fd, struct contents *c, int stop_at_first)
{
	DIR *d;
	struct dirent *e;

	memset(c, 0, sizeof(*c));
	if ((d = dir_stream(fd)) == NULL) {
		c->open = 1; /* cannot tell: keep the state */
		return;
	}
	while ((e = readdir(d)) != NULL) {
		c->open += ends_with(e->d_name, ".open");
		c->done += ends_with(e->d_name, ".done") || ends_with(e->d_name, CLAIM_SUFFIX);
		c->sets += strncmp(e->d_name, SET_PREFIX, sizeof(SET_PREFIX) - 1) == 0;
		c->root |= strcmp(e->d_name, "root") == 0;
		if (stop_at_first && c->open + c->done + c->sets > 0)
			break;
	}
	closedir(d);
}

/*
 * Remove trace directory name under rootfd if its trace is over and no one
 * holds its lock. Open subsegments outlive any Lambda invocation after 15
 * minutes; a trace with an open segment (a CI job) or undelivered documents
 * waits a day, and what it still holds then is dropped with a warning. With
 * sole, a new trace means this one is over as soon as nothing in it is open
 * or kept.
 */
/* A live exec's mark: "<id>.live", holding its pid (see state_live). */
#define LIVE_SUFFIX ".live"

/* When the system booted, in seconds since the epoch; 0 if unknown. */
static long long
boot_time(void)
{
	char line[128];
	long long btime = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (f == NULL)
		return 0;
	while (btime == 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &btime) != 1)
			btime = 0;
	fclose(f);
	return btime;
}

/*
 * Whether process pid is running and started no later than since (epoch
 * seconds): the process that wrote a mark then, not a later one given its
 * pid. An unreadable start counts as running: keeping state is the safe side.
 */
/*
 * The fields of /proc/pid/stat after "pid (comm) ", which may hold anything:
 * into buf, from the state (field 3) on. NULL if it cannot be read.
 */
static const char *
proc_stat(long pid, char *buf, size_t size)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/*
 * Whether process pid is running and started no later than since (epoch
 * seconds): the process that wrote a mark then, not a later one given its
 * pid. An unreadable start counts as running: keeping state is the safe side.
 */
static int
running_since(long pid, time_t since)
{
	char buf[1024];
	const char *f;
	unsigned long long start;
	long long btime;

	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 0;
	/* Field 22, the start in clock ticks after boot, counted from the state (field 3). */
	if ((f = proc_stat(pid, buf, sizeof(buf))) == NULL ||
	    sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
	    "%*d %llu", &start) != 1 || (btime = boot_time()) == 0)
		return 1;
	/* A tick of slack: the start is rounded down to one. */
	return btime + (long long)(start / (unsigned long long)sysconf(_SC_CLK_TCK)) <=
	    (long long)since + 1;
}

static int
live_mark(int fd, const char *name)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	long pid;
	int mfd;

	if (!ends_with(name, LIVE_SUFFIX) ||
	    (mfd = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	n = fstat(mfd, &st) == 0 ? read(mfd, buf, sizeof(buf) - 1) : -1;
	close(mfd);
	buf[n > 0 ? n : 0] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 && running_since(pid, st.st_mtime);
}

/* Whether a running exec still owns something in trace directory fd. */
static int
owned(int fd)
{
	DIR *d;
	struct dirent *e;
	int live = 0;

	if ((d = dir_stream(fd)) == NULL)
		return 1;
	while (!live && (e = readdir(d)) != NULL)
		live = live_mark(fd, e->d_name);
	closedir(d);
	return live;
}

static void
sweep_one(int rootfd, const char *name, time_t now, int sole)
{
	struct contents c;
	struct stat st;
	int fd, lfd, stale;

	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return;
	stale = st.st_mtime <= now - STATE_STALE_SECONDS;
	if (!stale && !sole)
		return;
	if ((fd = open_private_dir(rootfd, name, 0)) < 0)
		return;
	lfd = openat(fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		count_contents(fd, &c, 0);
		if (((c.done == 0 && !c.root && (stale || c.open == 0)) ||
		    st.st_mtime <= now - STATE_KEEP_SECONDS) && !owned(fd)) {
			if (c.done > 0)
				warnmsg("dropping %zu undelivered document%s of trace %s, kept for over "
				    "a day", c.done, c.done == 1 ? "" : "s", name);
			else if (c.open > 0)
				warnmsg("removing stale state of trace %s (%zu open subsegment%s)", name,
				    c.open, c.open == 1 ? "" : "s");
			remove_contents(fd);
			unlinkat(rootfd, name, AT_REMOVEDIR);
		}
	}
	if (lfd >= 0)
		close(lfd);
	close(fd);
}

static void
sweep(int rootfd, const char *keep, int sole)
{
	time_t now = time(NULL);
	DIR *d;
	struct dirent *e;

	if ((d = dir_stream(rootfd)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (tracectx_valid_root(e->d_name) && strcmp(e->d_name, keep) != 0)
			sweep_one(rootfd, e->d_name, now, sole);
	closedir(d);
}

int
state_check(const char *dir)
{
	int fd = open_private_dir(AT_FDCWD, dir, 0);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int
state_traces(const char *dir, int (*fn)(void *, const char *), void *arg)
{
	int rootfd = open_private_dir(AT_FDCWD, dir, 0), r = 0;
	DIR *d;
	struct dirent *e;

	if (rootfd < 0)
		return -1;
	if ((d = dir_stream(rootfd)) != NULL) {
		while (r == 0 && (e = readdir(d)) != NULL)
			if (tracectx_valid_root(e->d_name))
				r = fn(arg, e->d_name);
		closedir(d);
	}
	close(rootfd);
	return 0;
}

/* The longest a call sleeps between two tries of a taken lock. */
#define LOCK_STEP_MAX_US 20000L

static long
since_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/*
 * Who holds the lock, as its holder wrote it in the lock file (see
 * stamp_lock): a new text means the lock changed hands.
 */
static void
lock_holder(int fd, char out[LOCK_STAMP_LEN + 1])
{
	ssize_t n = pread(fd, out, LOCK_STAMP_LEN, 0);

	out[n > 0 ? n : 0] = '\0';
}

/*
 * Say in the lock file who holds the lock and since when, in one write of
 * fixed size, for the calls that wait (lock_trace).
 */
static int
stamp_lock(int fd)
{
	char stamp[64];
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(stamp, sizeof(stamp), "%10ld %19lld\n", (long)getpid(),
	    (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	/* Only waiters read it: one that sees no change waits no longer than its bound. */
	return pwrite(fd, stamp, LOCK_STAMP_LEN, 0) == LOCK_STAMP_LEN ? 0 : -1;
}

/*
 * Whether the process named by lock stamp is stopped (by a signal, or by a
 * debugger or tracer): it cannot give the lock up until someone resumes it.
 */
static int
holder_stopped(const char *stamp)
{
	char buf[512];
	long pid = strtol(stamp, NULL, 10);
	const char *f = pid > 0 ? proc_stat(pid, buf, sizeof(buf)) : NULL;

	return f && (f[0] == 'T' || f[0] == 't');
}

/*
 * flock(LOCK_EX), within bounds: a call stopped or stuck while holding the
 * lock must not stop every other call of the trace. quick (exec) waits at
 * most STATE_QUICK_MS in all. Others wait while the lock changes hands,
 * however long a queue of calls takes (hundreds at once on a loaded machine
 * can hold it for seconds each), and give up when one holder keeps it
 * STATE_HOLD_MS while it is stopped, or STATE_WAIT_MS whatever it does.
 * Polled, in steps growing from 0.1 ms to 20 ms: a lock is normally held
 * for well under a millisecond. -1 with ETIMEDOUT when it is given up.
 */
static int
lock_trace(int fd, int quick)
{
	char holder[LOCK_STAMP_LEN + 1], now[LOCK_STAMP_LEN + 1];
	struct timespec start, held;
	long step_us = 100;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		goto got;
	if (errno != EWOULDBLOCK)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	held = start;
	lock_holder(fd, holder);
	for (;;) {
		struct timespec step = { 0, step_us * 1000L };

		nanosleep(&step, NULL);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			goto got;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		lock_holder(fd, now);
		if (strcmp(now, holder) != 0) {
			memcpy(holder, now, sizeof(holder));
			clock_gettime(CLOCK_MONOTONIC, &held);
		}
		if (quick ? since_ms(&start) >= STATE_QUICK_MS :
		    since_ms(&held) >= STATE_WAIT_MS ||
		    (since_ms(&held) >= STATE_HOLD_MS && holder_stopped(holder))) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (quick)
			step_us = 1000;
		else if ((step_us *= 2) > LOCK_STEP_MAX_US)
			step_us = LOCK_STEP_MAX_US;
	}
got:
	stamp_lock(fd);
	return 0;
}

/* One attempt at opening and locking the trace directory; 1 means try again. */
static int
open_trace_once(struct trace *t, const char *root, int create, int quick, int *made)
{
	struct stat st;

	if (create) {
		if (mkdirat(t->rootfd, root, 0700) == 0)
			*made = 1;
		else if (errno != EEXIST)
			return -1;
	}
	if ((t->dirfd = open_private_dir(t->rootfd, root, 0)) < 0)
		/* Made, or found, and removed by its last end before we opened it. */
		return create && errno == ENOENT ? 1 : -1;
	t->lockfd = openat(t->dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (t->lockfd < 0 || lock_trace(t->lockfd, quick) < 0 || fstat(t->lockfd, &st) < 0) {
		int e = errno;

		if (t->lockfd >= 0)
			close(t->lockfd);
		close(t->dirfd);
		errno = e;
		/* The directory was removed under us: start again. */
		return e == ENOENT ? 1 : -1;
	}
	if (st.st_nlink == 0) {
		/* We waited on the lock of state that its holder then removed. */
		close(t->lockfd);
		close(t->dirfd);
		return 1;
	}
	return 0;
}

int
state_open(const char *dir, const char *root, int flags, struct trace **out)
{
	int create = flags & STATE_CREATE;
	struct trace *t;
	int made = 0, r = 1;

	if (!tracectx_valid_root(root)) {
		errno = EINVAL;
		return -1;
	}
	t = xmalloc(sizeof(*t));
	memcpy(t->root, root, sizeof(t->root));
	if ((t->rootfd = open_private_dir(AT_FDCWD, dir, 1)) < 0) {
		free(t);
		return -1;
	}
	for (int i = 0; i < OPEN_RETRIES && r == 1; i++)
		r = open_trace_once(t, root, create, flags & STATE_QUICK, &made);
	if (r != 0) {
		int e = r == 1 ? EAGAIN : errno;

		close(t->rootfd);
		free(t);
		errno = e;
		return -1;
	}
	/* A new trace is a new invocation: the moment to clear out old ones. */
	t->made = made;
	t->sole = flags & STATE_SOLE;
	t->locked = 1;
	if (made)
		sweep(t->rootfd, root, flags & STATE_SOLE);
	*out = t;
	return 0;
}

void
state_close(struct trace *t, int tidy)
{
	struct contents c;

	if (t == NULL)
		return;
	/*
	 * One trace at a time: the next one removes this one, so its directory
	 * is not removed and made again between sequential subsegments.
	 */
	tidy &= !t->sole;
	/* Tidying can wait for the next call: a short wait for the lock only. */
	if (tidy && !t->locked)
		tidy = lock_trace(t->lockfd, 1) == 0;
	/* Unlink everything, lock last, while holding the lock: see open_trace_once. */
	if (tidy)
		count_contents(t->dirfd, &c, 1);
	if (tidy && c.open + c.done + c.sets == 0) {
		remove_contents(t->dirfd);
		unlinkat(t->rootfd, t->root, AT_REMOVEDIR);
	}
	close(t->lockfd);
	close(t->dirfd);
	close(t->rootfd);
	free(t);
}

void
state_unlock(struct trace *t)
{
	if (t->locked)
		flock(t->lockfd, LOCK_UN);
	t->locked = 0;
}

int
state_relock(struct trace *t)
{
	if (!t->locked && lock_trace(t->lockfd, 0) < 0)
		return -1;
	t->locked = 1;
	return 0;
}

/* The name of the live mark of id. */
static void
live_name(char out[ID_LEN + sizeof(LIVE_SUFFIX)], const char *id)
{
	snprintf(out, ID_LEN + sizeof(LIVE_SUFFIX), "%.*s" LIVE_SUFFIX, ID_LEN, id);
}

int
state_live(struct trace *t, const char *id)
{
	char name[ID_LEN + sizeof(LIVE_SUFFIX)], pid[24];

	live_name(name, id);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	return state_put(t, name, pid, strlen(pid), 0);
}

int
state_is_live(struct trace *t, const char *id)
{
	char name[ID_LEN + sizeof(LIVE_SUFFIX)];

	live_name(name, id);
	return state_has(t, name);
}

void
state_unlive(struct trace *t, const char *id)
{
	char name[ID_LEN + sizeof(LIVE_SUFFIX)];

	live_name(name, id);
	unlinkat(t->dirfd, name, 0);
}

void
state_claim_name(char out[STATE_CLAIM_LEN + 1], const char *id)
{
	snprintf(out, STATE_CLAIM_LEN + 1, "%.*s.%ld" CLAIM_SUFFIX, ID_LEN, id, (long)getpid());
}

/* Rename id's kept document to this process's claim (back: the other way round). */
static int
move_claim(struct trace *t, const char *id, int back)
{
	char done[ID_LEN + 6], claim[STATE_CLAIM_LEN + 1];

	snprintf(done, sizeof(done), "%.*s.done", ID_LEN, id);
	state_claim_name(claim, id);
	return back ? renameat(t->dirfd, claim, t->dirfd, done) :
	    renameat(t->dirfd, done, t->dirfd, claim);
}

int
state_claim(struct trace *t, const char *id)
{
	return move_claim(t, id, 0);
}

int
state_unclaim(struct trace *t, const char *id)
{
	return move_claim(t, id, 1);
}

/*
 * Whether claim file name (of fstatat's st) is abandoned: its process is
 * gone, or it has held it far longer than any send takes (its pid may be
 * another's by now).
 */
static int
abandoned(const char *name, const struct stat *st, time_t now)
{
	char *end;
	long pid;

	if (strlen(name) <= ID_LEN + 1 || name[ID_LEN] != '.')
		return 0;
	pid = strtol(name + ID_LEN + 1, &end, 10);
	if (strcmp(end, CLAIM_SUFFIX) != 0 || pid <= 0)
		return 0;
	return (kill((pid_t)pid, 0) < 0 && errno == ESRCH) ||
	    st->st_ctime <= now - STATE_CLAIM_SECONDS;
}

/* Give the documents of abandoned claims back to the trace (see state_claim). */
static void
reclaim(int dirfd, const char *name, time_t now)
{
	char done[ID_LEN + 6];
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !abandoned(name, &st, now))
		return;
	snprintf(done, sizeof(done), "%.*s.done", ID_LEN, name);
	renameat(dirfd, name, dirfd, done);
}

/* Put tmp in place as name; with excl only if name does not exist yet. */
static int
install(struct trace *t, const char *tmp, const char *name, int excl)
{
	if (!excl)
		return renameat(t->dirfd, tmp, t->dirfd, name);
	if (renameat2(t->dirfd, tmp, t->dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: a hard link is as exclusive. */
	if (linkat(t->dirfd, tmp, t->dirfd, name, 0) < 0)
		return -1;
	unlinkat(t->dirfd, tmp, 0);
	return 0;
}

int
state_put(struct trace *t, const char *name, const char *data, size_t len, int excl)
{
	char tmp[NAME_MAX + 1];
	int fd, e;

	/*
	 * Written aside and renamed into place, so that a call killed at any
	 * instant leaves the old file or the new one, never a part of one. Only
	 * the lock holder writes, so one temp name per file is enough.
	 */
	snprintf(tmp, sizeof(tmp), TEMP_PREFIX "%s", name);
	fd = openat(t->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (writeall(fd, data, len) < 0) {
		e = errno;
		close(fd);
		goto bad;
	}
	if (close(fd) < 0 || install(t, tmp, name, excl) < 0) {
		e = errno;
		goto bad;
	}
	return 0;
bad:
	/* A half-written file must never be read as state. */
	unlinkat(t->dirfd, tmp, 0);
	errno = e;
	return -1;
}

int
state_get(struct trace *t, const char *name, char **data, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, e;

	if ((fd = openat(t->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto bad;
	if (!S_ISREG(st.st_mode) || st.st_size > STATE_FILE_MAX) {
		errno = EFBIG;
		goto bad;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0)
		goto bad;
	buf[n] = '\0';
	close(fd);
	*data = buf;
	*len = (size_t)n;
	return 0;
bad:
	e = errno;
	free(buf);
	close(fd);
	errno = e;
	return -1;
}

int
state_morph(struct trace *t, const char *from, const char *to, const char *data, size_t len)
{
	struct stat st;
	int fd = openat(t->dirfd, from, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), r = -1;

	if (fd < 0)
		return -1;
	/* Only into blocks the file already has: a short write would spoil it. */
	if (fstat(fd, &st) == 0 && (off_t)len <= (off_t)st.st_blocks * 512) {
		if (pwrite(fd, data, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0)
			r = 0;
	} else {
		errno = ENOSPC;
	}
	if (close(fd) < 0)
		r = -1;
	if (r == 0)
		r = renameat(t->dirfd, from, t->dirfd, to);
	return r;
}

int
state_del(struct trace *t, const char *name)
{
	return unlinkat(t->dirfd, name, 0);
}

int
state_has(struct trace *t, const char *name)
{
	struct stat st;

	return fstatat(t->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int
state_each(struct trace *t, const char *suffix, int (*fn)(void *, const char *), void *arg)
{
	size_t slen = strlen(suffix);
	DIR *d;
	struct dirent *e;
	int r = 0;

	if ((d = dir_stream(t->dirfd)) == NULL)
		return -1;
	while (r == 0 && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len > slen && e->d_name[0] != '.' && strcmp(e->d_name + len - slen, suffix) == 0)
			r = fn(arg, e->d_name);
	}
	closedir(d);
	return r;
}

static int
open_stack(struct trace *t, const char *scope, int flags)
{
	char name[NAME_MAX + 1];

	snprintf(name, sizeof(name), "stack.%s", scope);
	return openat(t->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int
state_push(struct trace *t, const char *scope, const char *id)
{
	char line[STACK_LINE];
	int fd, r;

	if ((fd = open_stack(t, scope, O_WRONLY | O_APPEND | O_CREAT)) < 0)
		return -1;
	memcpy(line, id, ID_LEN);
	line[ID_LEN] = '\n';
	/* One small O_APPEND write: whole or not at all, even if we are killed. */
	r = writeall(fd, line, sizeof(line));
	close(fd);
	return r;
}

/* Is the last line of stack fd (size bytes) an open subsegment? Copies it to out. */
static int
top_is_open(struct trace *t, int fd, off_t size, char out[ID_LEN + 1])
{
	char line[STACK_LINE], name[NAME_MAX + 1];

	if (pread(fd, line, sizeof(line), size - STACK_LINE) != STACK_LINE ||
	    line[ID_LEN] != '\n')
		return 0;
	line[ID_LEN] = '\0';
	if (!is_lower_hex(line, ID_LEN))
		return 0;
	snprintf(name, sizeof(name), "%s.open", line);
	if (!state_has(t, name))
		return 0;
	memcpy(out, line, ID_LEN + 1);
	return 1;
}

int
state_top(struct trace *t, const char *scope, char out[ID_LEN + 1])
{
	struct stat st;
	off_t size;
	int fd, r = -1;

	if ((fd = open_stack(t, scope, O_RDWR)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto done;
	/* A torn last line can only come from a killed call: drop it. */
	size = st.st_size - st.st_size % STACK_LINE;
	/* Popping ended ids here keeps begin and end O(1) amortised. */
	while (size > 0 && !top_is_open(t, fd, size, out))
		size -= STACK_LINE;
	if (size != st.st_size && ftruncate(fd, size) < 0)
		goto done;
	st.st_size = size;
	if (st.st_size == 0)
		errno = ENOENT;
	else
		r = 0;
done:
	close(fd);
	return r;
}

static void
set_file(char file[NAME_MAX + 1], const char *name)
{
	snprintf(file, NAME_MAX + 1, SET_PREFIX "%s", name);
}

static int
open_set(struct trace *t, const char *name, int flags)
{
	char file[NAME_MAX + 1];

	set_file(file, name);
	/* O_NONBLOCK: a FIFO in its place must not hang the call. */
	return openat(t->dirfd, file, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
}

int
state_set_find(const char *data, size_t len, const char *word, size_t *count, size_t *whole)
{
	size_t wlen = strlen(word);
	const char *line = data, *end = data + len, *nl;
	int found = 0;

	*count = 0;
	for (; (nl = memchr(line, '\n', (size_t)(end - line))) != NULL; line = nl + 1) {
		++*count;
		found |= (size_t)(nl - line) == wlen && memcmp(line, word, wlen) == 0;
	}
	*whole = (size_t)(line - data);
	return found;
}

int
state_set_has(struct trace *t, const char *name, const char *word, size_t *n)
{
	int fd = open_set(t, name, O_RDWR), found;
	size_t whole;
	struct stat st;
	ssize_t got;
	char *data;

	*n = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_FILE_MAX) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	data = xmalloc((size_t)st.st_size + 1);
	got = pread(fd, data, (size_t)st.st_size, 0);
	found = state_set_find(data, got > 0 ? (size_t)got : 0, word, n, &whole);
	/* A last line without its newline is a killed call's: drop it. */
	if (got > 0 && whole != (size_t)got && ftruncate(fd, (off_t)whole) < 0)
		found = -1;
	close(fd);
	free(data);
	return found;
}

int
state_set_add(struct trace *t, const char *name, const char *word)
{
	int fd = open_set(t, name, O_WRONLY | O_APPEND | O_CREAT), r;
	char *line;

	if (fd < 0)
		return -1;
	/* One O_APPEND write: a call killed in it leaves a whole line or a cut one, dropped later. */
	line = xasprintf("%s\n", word);
	r = writeall(fd, line, strlen(line));
	free(line);
	if (close(fd) < 0)
		r = -1;
	return r;
}

int
state_set_del(struct trace *t, const char *name)
{
	char file[NAME_MAX + 1];

	set_file(file, name);
	return unlinkat(t->dirfd, file, 0);
}

void
state_clean(struct trace *t)
{
	time_t now = time(NULL);
	DIR *d;
	struct dirent *e;

	if ((d = dir_stream(t->dirfd)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) == 0)
			unlinkat(t->dirfd, e->d_name, 0);
		else if (ends_with(e->d_name, CLAIM_SUFFIX))
			reclaim(t->dirfd, e->d_name, now);
	closedir(d);
}

/* state_above, and with id NULL state_open_on: what is open on scope's stack above id. */
static size_t
open_above(struct trace *t, const char *scope, const char *id, char (*out)[ID_LEN + 1],
    size_t max)
{
	char line[STACK_LINE], name[NAME_MAX + 1];
	struct stat st;
	size_t n = 0;
	off_t at;
	int fd;

	if ((fd = open_stack(t, scope, O_RDONLY)) < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	for (at = st.st_size - st.st_size % STACK_LINE - STACK_LINE; at >= 0; at -= STACK_LINE) {
		if (pread(fd, line, sizeof(line), at) != STACK_LINE || line[ID_LEN] != '\n')
			continue;
		line[ID_LEN] = '\0';
		if (id && strcmp(line, id) == 0)
			break;
		snprintf(name, sizeof(name), "%s.open", line);
		if (n < max && is_lower_hex(line, ID_LEN) && state_has(t, name))
			memcpy(out[n++], line, ID_LEN + 1);
	}
	close(fd);
	/* Not on this stack: nothing was begun inside it here. */
	return at >= 0 || id == NULL ? n : 0;
}

size_t
state_above(struct trace *t, const char *scope, const char *id, char (*out)[ID_LEN + 1],
    size_t max)
{
	return open_above(t, scope, id, out, max);
}

size_t
state_open_on(struct trace *t, const char *scope, char (*out)[ID_LEN + 1], size_t max)
{
	return open_above(t, scope, NULL, out, max);
}

int
state_first_use(const char *dir)
{
	int rootfd = open_private_dir(AT_FDCWD, dir, 1), fd, e;

	if (rootfd < 0)
		return -1;
	fd = openat(rootfd, INVOCATIONS_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	e = errno;
	if (fd >= 0)
		close(fd);
	close(rootfd);
	if (fd < 0 && e != EEXIST) {
		errno = e;
		return -1;
	}
	return fd >= 0;
}

int
state_made(const struct trace *t)
{
	return t->made;
}

int
state_mark_first(struct trace *t)
{
	char seen[TRACE_ID_LEN + 1] = "";
	int fd = openat(t->rootfd, SANDBOX_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	ssize_t n;
	int first;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	first = st.st_size == 0;
	n = pread(fd, seen, TRACE_ID_LEN, 0);
	seen[n > 0 ? n : 0] = '\0';
	if (!first && strcmp(seen, t->root) == 0) {
		close(fd);
		return -1;
	}
	/*
	 * Rewritten in place, in one write of a fixed size: a killed call
	 * leaves the old root or the new one, and no temp file behind.
	 */
	if (pwrite(fd, t->root, TRACE_ID_LEN, 0) != TRACE_ID_LEN)
		first = -1;
	close(fd);
	return first;
}

/*
 * inspect.c - the admin tools' look into objects: snapshots of who waits,
 * consistency checks with optional repair, and the namespace's purge. The
 * type-specific parts are each type's inspect and check hooks (ns.h).
 */
#include "inspect.h"
#include "internal.h"
#include "lock.h"
#include "ns.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a check waits for a live process to release a lock. */
#define CHECK_LOCK_WAIT_NS 3000000000LL

static const char *const kind_names[SVIPC_NTYPES] = { "message queue", "shared memory segment",
						     "semaphore set" };

void svipc__report(struct svipc_report *rep, int level, const char *fmt, ...)
{
	char text[512];
	int n = 0;
	if (rep->what)
		n = snprintf(text, sizeof text, "%s: ", rep->what);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	va_end(ap);
	rep->problems += level == SVIPC_PROBLEM;
	rep->cleanups += level == SVIPC_CLEANUP;
	if (rep->fn)
		rep->fn(rep->arg, level, text);
}

/*
 * Findings are kept while a lock is held and told once it is released:
 * the tool's output may be a pipe that nobody reads for a while (| less),
 * and a write that blocks under an object's lock (or the namespace's)
 * would stall every user of it meanwhile.
 */
struct deferred {
	svipc_report_fn fn;
	void *arg;
	char *buf; /* per finding: its level, its text, a NUL */
	size_t len, cap;
	int lost;
};

static void defer_fn(void *arg, int level, const char *text)
{
	struct deferred *d = arg;
	size_t n = strlen(text) + 2;
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		while (cap < d->len + n)
			cap *= 2;
		char *b = realloc(d->buf, cap);
		if (!b) {
			d->lost++;
			return;
		}
		d->buf = b;
		d->cap = cap;
	}
	d->buf[d->len] = (char)level;
	memcpy(d->buf + d->len + 1, text, n - 1);
	d->len += n;
}

static void defer_flush(struct deferred *d)
{
	for (size_t at = 0; at < d->len;) {
		const char *text = d->buf + at + 1;
		if (d->fn)
			d->fn(d->arg, d->buf[at], text);
		at += strlen(text) + 2;
	}
	if (d->lost && d->fn)
		d->fn(d->arg, SVIPC_NOTE, "out of memory: some findings could not be shown");
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

int svipc__obj_fd(enum svipc_type type, int id, const struct svipc_ref *ref)
{
	char name[32];
	struct stat st;
	int dfd = svipc__ns_dirfd();
	if (dfd < 0)
		return -1;
	svipc__obj_name(name, sizeof name, type, id);
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != ref->dev || st.st_ino != ref->ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

uint32_t svipc__scan_skip(int fd, uint64_t base, uint32_t sz, uint32_t k, uint32_t n, int first)
{
	uint64_t at = base + (uint64_t)k * sz;
	if (fd < 0 || k >= n || (!first && (at & 4095) >= sz))
		return k;
	off_t d = lseek(fd, (off_t)at, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? n : k; /* ENXIO: no data from there on */
	if ((uint64_t)d <= at)
		return k;
	uint64_t j = ((uint64_t)d - base) / sz;
	return j >= n ? n : (uint32_t)j;
}

/* Maps object id of type for one look. */
static int get(enum svipc_type type, int id, const struct svipc_type_ops **ops,
	       struct svipc_ref *ref)
{
	*ops = svipc__type_ops(type);
	return *ops ? svipc__get(*ops, id, ref) : -EINVAL;
}

int svipc__inspect(enum svipc_type type, int id, struct svipc_obj_info *info,
		   void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg)
{
	const struct svipc_type_ops *ops;
	struct svipc_ref ref;
	int r = get(type, id, &ops, &ref);
	if (r < 0)
		return r;
	memset(info, 0, sizeof *info);
	info->type = type;
	info->id = id;
	uint32_t owner = LOAD(&ref.obj->lock) & ~SVIPC_LOCK_WAITERS;
	if (owner) {
		info->lock_pid = svipc__proc_token_pid(owner);
		/* A holder that let go and then exited is no dead holder: look again. */
		info->lock_dead = !svipc__proc_alive(owner) &&
				  (LOAD(&ref.obj->lock) & ~SVIPC_LOCK_WAITERS) == owner;
	}
	info->corrupt = LOAD(&ref.obj->corrupt) != 0;
	if (!info->corrupt && ops->inspect)
		ops->inspect(&ref, info, each, arg);
	svipc__obj_put(&ref);
	return 0;
}

int svipc__check(enum svipc_type type, int id, int repair, svipc_report_fn fn, void *arg)
{
	const struct svipc_type_ops *ops;
	struct svipc_ref ref;
	int r = get(type, id, &ops, &ref);
	if (r < 0)
		return r;
	char what[64];
	snprintf(what, sizeof what, "%s %d", kind_names[type], id);
	struct deferred d = { fn, arg, NULL, 0, 0, 0 };
	struct svipc_report rep = { defer_fn, &d, what, 0, 0 };
	pid_t pid = 0;
	long owner;
	if (LOAD(&ref.obj->corrupt)) {
		svipc__report(&rep, SVIPC_PROBLEM, "damaged (it failed validation): every call on it fails with "
			      "EIDRM; remove it with svipcrm");
		goto out;
	}
	owner = svipc__lock_settle(&ref.obj->lock, CHECK_LOCK_WAIT_NS, &pid);
	if (owner == -ETIMEDOUT) {
		svipc__report(&rep, SVIPC_PROBLEM, "its lock has been held by live process %d for over 3 s "
			      "(stopped?): not checked", (int)pid);
		goto out;
	}
	if (owner > 0) {
		pid = svipc__proc_token_pid((uint32_t)owner);
		if (!repair) {
			svipc__report(&rep, SVIPC_PROBLEM, "its lock is held by process %d, which died: recovery "
				      "pending (its next user runs it; check --repair runs it now)",
				      (int)pid);
			goto out;
		}
		svipc__report(&rep, SVIPC_NOTE, "its lock was held by process %d, which died: recovering",
			      (int)pid);
	}
	if (ops->check)
		ops->check(&ref, &rep, repair);
out:
	svipc__obj_put(&ref);
	defer_flush(&d);
	return rep.problems;
}

int svipc__check_ns(int repair, svipc_report_fn fn, void *arg)
{
	struct deferred d = { fn, arg, NULL, 0, 0, 0 };
	struct svipc_report rep = { defer_fn, &d, NULL, 0, 0 };
	int r = svipc__ns_scrub(repair ? SVIPC_SCRUB_REPAIR : 0, &rep);
	defer_flush(&d);
	return r < 0 ? r : rep.problems;
}

int svipc__purge(int dry_run, svipc_report_fn fn, void *arg)
{
	struct deferred d = { fn, arg, NULL, 0, 0, 0 };
	struct svipc_report rep = { defer_fn, &d, NULL, 0, 0 };
	int r = svipc__ns_scrub(SVIPC_SCRUB_PURGE | (dry_run ? SVIPC_SCRUB_DRY_RUN : 0), &rep);
	defer_flush(&d);
	return r < 0 ? r : rep.cleanups;
}

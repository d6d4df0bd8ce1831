/*
 * inspect.h - a look into a namespace's objects for the admin tools
 * (svipcs, svipcadm): who is blocked on an object, whether its lock holder
 * died, whether its state is consistent, and repair. Not part of the public
 * API: the tools link libsvipc.a, where these symbols are visible.
 */
#ifndef SVIPC_INSPECT_H
#define SVIPC_INSPECT_H

#include <stdint.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/types.h>
#include "region.h"

/* One process blocked on an object (msg, sem) or attached to it (shm). */
struct svipc_waiter_info {
	pid_t pid;
	int alive;       /* 0: the process is dead (the next user of the object cleans up) */
	double waited_s; /* seconds since it blocked (0 for shm attachments) */
	char what[96];   /* in words: "msgrcv type 5, up to 4096 bytes", "semop sem 2 -1", "attached" */
};

struct svipc_obj_info {
	enum svipc_type type;
	int id;
	pid_t lock_pid; /* the process holding the object's lock, 0 if it is free */
	int lock_dead;  /* 1 if that process died holding it: the next user will recover */
	int corrupt;    /* 1 if the object failed validation and is unusable */
	unsigned nwaiters; /* processes blocked (msg, sem) or attached (shm) */
	/*
	 * What IPC_STAT would give, read without the lock (so also for an
	 * object whose holder died: the values its last complete update left,
	 * or a torn mix if a live holder is writing). Zero if corrupt.
	 */
	union {
		struct msqid_ds msg;
		struct shmid_ds shm;
		struct semid_ds sem;
	} ds;
};

/*
 * A snapshot of object id of type, read without taking its lock (so it
 * works while a holder is stuck or dead). each(arg, w) is called for every
 * blocked (or, for shm, attached) process; each may be NULL. Returns 0,
 * -EINVAL (no such object), -EIDRM (unreadable file), -EACCES.
 */
int svipc__inspect(enum svipc_type type, int id, struct svipc_obj_info *info,
		   void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg);

/*
 * What the checks say, one finding at a time, at one of three levels: a
 * problem (something is wrong, or recovery is pending), a cleanup (what no
 * live process can reach any more, which the library frees lazily and
 * purge frees now), or a note (for the curious: -v).
 */
enum { SVIPC_NOTE = 0, SVIPC_PROBLEM = 1, SVIPC_CLEANUP = 2 };
typedef void (*svipc_report_fn)(void *arg, int level, const char *text);

struct svipc_report {
	svipc_report_fn fn;
	void *arg;
	const char *what; /* "message queue 32768": prefixed to each finding */
	int problems;
	int cleanups;
};

/* Reports one finding (printf-style) and counts problems and cleanups. */
void svipc__report(struct svipc_report *rep, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * For the checks' scans of the sparse parts of an object file (the slots
 * above a high-water mark): reading a hole through a MAP_SHARED mapping of
 * a tmpfs file allocates its page, so a scan that reads every slot would
 * make each checked object use megabytes for good. svipc__obj_fd() opens
 * the file the ref maps (-1 if the name is another file now, or none);
 * svipc__scan_skip(fd, base, sz, k, n, first) gives, for a scan of
 * elements [k, n) of sz bytes at byte base of that file, k itself unless k
 * starts a page (or first), and then the first element from k on that is
 * not in a hole (n if none). With fd < 0 it skips nothing.
 */
int svipc__obj_fd(enum svipc_type type, int id, const struct svipc_ref *ref);
uint32_t svipc__scan_skip(int fd, uint64_t base, uint32_t sz, uint32_t k, uint32_t n, int first);

/*
 * Checks the consistency of object id of type under its lock, reporting
 * each finding. Returns the number of problems (0: all well) or -errno if
 * the object cannot be checked. An object whose lock holder died is a
 * problem; with repair its lock is taken over and the type's recovery runs,
 * as its next user would do, and the check goes on; an object found
 * inconsistent is then put through the same recovery (which rebuilds what
 * is derived from what was committed). Without repair the
 * object's state is not written (unless its holder dies while the check
 * waits for the lock: then the check's taking it over recovers it, which
 * any user would have done). A lock a live process keeps for more than a
 * few seconds (a stopped process) is reported, never waited for forever.
 */
int svipc__check(enum svipc_type type, int id, int repair, svipc_report_fn fn, void *arg);

/*
 * Checks the namespace itself: its lock, its key table against the object
 * files in the directory. With repair, a dead holder's namespace lock is
 * recovered. Returns the number of problems or -errno.
 */
int svipc__check_ns(int repair, svipc_report_fn fn, void *arg);

/*
 * Removes what no live process can reach and System V semantics let go:
 * removals interrupted by a crash, removed segments whose last attacher
 * died, object files no entry names, temporary files of creations that
 * died half-way. Each is reported as a cleanup (with dry_run: what would
 * go). Returns how many, or -errno.
 */
int svipc__purge(int dry_run, svipc_report_fn fn, void *arg);

#endif

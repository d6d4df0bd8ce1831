/*
 * test_shm_corrupt.c - a corrupted, truncated or replaced segment file gives
 * errors, never a crash, a hang, or a result that could not be true.
 *
 * A builder process creates two segments (one keyed, 3 pages + 100 bytes;
 * one private, 5000 bytes), fills their data with a known pattern, leaves
 * attachment slots behind that were used and freed and others whose
 * attacher died, then exits; the parent keeps byte copies of the
 * namespace's files ("ns", "procs", "shm.<id>") and never maps anything
 * itself. Each trial puts the pristine files back (as new files), corrupts
 * ONE segment file in one to three ways, and runs a fixed script of calls
 * in a forked child (with its own alarm), on both segments:
 *
 *   shmget by key (0 / IPC_CREAT / IPC_CREAT|IPC_EXCL / too large a size),
 *   shmctl IPC_STAT, shmat read-write and SHM_RDONLY (and touching the data:
 *   first byte, last byte of shm_segsz, random bytes, each checked against
 *   the pattern), shmsync MS_ASYNC and MS_SYNC, a burst of attachments,
 *   IPC_STAT while attached, IPC_SET, SHM_LOCK / SHM_UNLOCK, shmdt of every
 *   attachment, IPC_STAT again, SHM_STAT / SHM_STAT_ANY on the first
 *   indexes, SHM_INFO, IPC_INFO, a new private segment used from start to
 *   end, and (in a third of the trials) IPC_RMID followed by the lookups
 *   that must then fail.
 *
 * Every call must succeed with a sane result or fail with EINVAL or EIDRM
 * (or the errno that call may give anyway: ENOENT from a keyed lookup,
 * EACCES, EPERM, ENOMEM from shmat, EEXIST with IPC_EXCL, ENOSPC when
 * creating, EIO from shmsync). Sane means: a shmget by key returns the key's
 * segment (or one whose own IPC_STAT key is KEY), never another; shm_segsz
 * is at least 1 and at most what the segment's file holds (the pristine map
 * length); shm_nattch counts our attachments while we hold them and is 0
 * once we dropped them (every other attacher is dead); the data shmat shows
 * is the segment's data (the pattern; zeros are accepted where the trial
 * cut the file short inside its data), and all of shm_segsz can be read;
 * shmdt of an address shmat returned succeeds; a removed segment nobody
 * has attached is gone; a new segment in the same namespace works. The
 * child must exit by itself: death by a signal (SIGSEGV, SIGBUS, the
 * SIGALRM of a hang) is a failure.
 *
 * Corruptions (only ever of the segment's metadata: the header and the slot
 * table, never the data area, whose contents are the user's): every field
 * of struct svipc_obj and struct shm_seg with interesting values; slot
 * states and pids; random bytes and words; truncation to 0, inside the
 * header, inside the slot table, just before the data, inside the data, or
 * extension; the file replaced by a directory, a symlink (to the other
 * segment, to /dev/zero, to nothing), a FIFO, a socket, or a hard link to
 * the other segment's file; wrong magic (a message queue's), version, id,
 * size, or a copy of the other segment's file; and, more rarely, the
 * namespace's shm key table (entries, table counters, limits, its lock).
 * In about half the trials the segment's lock is also handed to a dead
 * process, so the first call that takes it runs recovery over the damage.
 * A list of targeted trials, the same in every run, comes first.
 *
 * Early and late trials. In two thirds of the trials the corruption is
 * made before the child starts: the child's first call finds it. In the
 * others ("late") the child first maps both segments (IPC_STAT) and
 * attaches the one to be corrupted, then corrupts it, runs the script, and
 * at the end reads the data through that first attachment and detaches it
 * (which must succeed). This is what a process that already uses a segment
 * sees when the file changes under it.
 *
 * Excluded on purpose: making a file the trial child has mapped shorter. A
 * library cannot defend against that (touching a page past the new end
 * raises SIGBUS; README, "Differences from the kernel"). So in late trials
 * a truncation puts a NEW file of that length under the name instead (the
 * old file, still mapped, keeps its size), and the parent never maps a file.
 * A truncation into the data area before shmat is NOT excluded: shmat can
 * see the file is too short, so a SIGBUS then counts as a failure.
 *
 * Environment: SVIPC_SHM_CORRUPT_SEED=<n> replays a run,
 * SVIPC_SHM_CORRUPT_TRIAL=<i> runs only trial i (-1, -2, ... for the
 * targeted ones) and prints its corruptions and every call's result,
 * SVIPC_SHM_CORRUPT_TRIALS=<n> sets the number of random trials (default
 * 5000), SVIPC_SHM_CORRUPT_BUDGET=<s> the seconds after which no new trial
 * starts (default 200: a hang costs 20 s and ctest allows 300),
 * SVIPC_SHM_CORRUPT_PRINT=<n> how many failed trials are printed (12); with
 * SVIPC_SHM_CORRUPT_TRIAL, SVIPC_SHM_CORRUPT_NOFORK=1 runs the trial in the
 * test process (for a debugger).
 */
#include "svipc.h"
#include "t.h"
#include "internal.h"
#include "msg.h"
#include "region.h"
#include "shm.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif

#define KEY ((key_t)0x5c0c5e6)
#define KSIZE (3 * 4096 + 100) /* the keyed segment */
#define PSIZE 5000             /* the private one */
#define DEAD_TOKEN ((1u << 16) | 65000u) /* a register slot nobody holds */
#define TRIAL_ALARM 20                   /* seconds before a trial child counts as hung */

/* ---- shared with the children ------------------------------------------------------ */

struct shared {
	int kid, pid;
	int nbad, nlines;
	int verbose;
	long ops;
	int geom_touched; /* the trial changed where the data is (for the report) */
	int kinds[3], nk, recov; /* what the corruption was, for the statistics */
	int data_lost; /* the file was cut short inside its data: zeros there are right */
	int ns_touched; /* the namespace file was corrupted (its limits may be anything) */
	char desc[1024];  /* the trial's corruptions (made in the child in late trials) */
	char report[4096];
};

/* ---- corruption kinds ----------------------------------------------------------------- */

enum { C_TRUNC, C_FIELD, C_SLOT, C_BYTES, C_WORDS, C_REPLACE, C_IDENTITY, C_NS, C_NKINDS };
static const char *const kind_name[C_NKINDS] = {
	"truncate/extend", "header field", "attach slot", "random bytes", "random words",
	"replace the file", "wrong identity", "namespace file",
};
static const int kind_weight[C_NKINDS] = { 14, 34, 14, 10, 10, 8, 10, 6 };

#define CORRUPT_ENV "SVIPC_SHM_CORRUPT"
#define NOTE_BUF SH->desc
#define CORRUPT_STATS_EXTRA long late, late_failed;
#include "corrupt.h"

/* A finding in the child: kept for the parent, which prints the first ones. */
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
	SH->nbad++;
	size_t o = strlen(SH->report);
	if (SH->nlines++ == 8) {
		snprintf(SH->report + o, sizeof SH->report - o, "(more findings not shown)\n");
	} else if (SH->nlines < 8 && o + 300 < sizeof SH->report) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(SH->report + o, sizeof SH->report - o - 1, fmt, ap);
		va_end(ap);
		strcat(SH->report, "\n");
	}
	if (SH->verbose) {
		fprintf(stderr, "    BAD: ");
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
}

/* The byte at offset i of the segment made for `which` (0 keyed, 1 private). */
static unsigned char pattern(int which, size_t i)
{
	return (unsigned char)(i * 29u + (i >> 11) * 3u + (which ? 0x71u : 0x13u));
}

/* ---- checking one call ------------------------------------------------------------- */

enum { A_ENOENT = 1, A_EACCES = 2, A_EPERM = 4, A_ENOMEM = 8, A_EEXIST = 16, A_ENOSPC = 32,
       A_EIO = 64 };

/*
 * Counts the call and checks its errno: EIDRM and EINVAL are always fine,
 * the others only where listed. Returns 1 if the call succeeded.
 */
static int check(const char *what, long r, int e, int allowed)
{
	SH->ops++;
	say("    %-46s -> %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
	if (r >= 0)
		return 1;
	if (r != -1)
		bad("%s returned %ld, neither a result nor -1", what, r);
	else if (e == EIDRM || e == EINVAL)
		return 0;
	else if ((e == ENOENT && (allowed & A_ENOENT)) || (e == EACCES && (allowed & A_EACCES)) ||
		 (e == EPERM && (allowed & A_EPERM)) || (e == ENOMEM && (allowed & A_ENOMEM)) ||
		 (e == EEXIST && (allowed & A_EEXIST)) || (e == ENOSPC && (allowed & A_ENOSPC)) ||
		 (e == EIO && (allowed & A_EIO)))
		return 0;
	else
		bad("%s: unexpected errno %d (%s)", what, e, strerror(e));
	return 0;
}

/* check() for a call: evaluates it, then reads errno (argument order is unspecified). */
#define CALL(what, expr, allowed)                                             \
	({                                                                    \
		errno = 0;                                                    \
		long c_r_ = (long)(expr);                                     \
		int c_e_ = errno;                                             \
		check((what), c_r_, c_e_, (allowed));                         \
	})

/* ---- the pristine geometry ----------------------------------------------------------- */

/* PF: ns, procs, shm.<kid>, shm.<pid> */
enum { F_NS, F_PROCS, F_KSEG, F_PSEG, NFILES };
_Static_assert(NFILES == sizeof PF / sizeof PF[0], "PF holds the four files");
static struct shm_seg G[2]; /* pristine headers: [0] keyed, [1] private */

/* The index (0 keyed, 1 private) of the segment in file f. */
static int seg_of_file(int f)
{
	return f == F_KSEG ? 0 : 1;
}

/* ---- the script a trial runs -------------------------------------------------------------- */

static long segsz_sane(const char *what, const struct shmid_ds *ds, int which)
{
	uint64_t sz = ds->shm_segsz;
	if (sz < 1 || sz > G[which].map_len) {
		bad("%s: shm_segsz %llu, but the segment's file holds %llu bytes of data", what,
		    (unsigned long long)sz, (unsigned long long)G[which].map_len);
		return -1;
	}
	if (ds->shm_nattch > SHM_NSLOTS)
		bad("%s: shm_nattch %lu, more than the %u slots", what, (unsigned long)ds->shm_nattch,
		    SHM_NSLOTS);
	return (long)sz;
}

static int stat_id(int id, struct shmid_ds *ds, const char *when)
{
	char what[80];
	snprintf(what, sizeof what, "shmctl(%d, IPC_STAT) %s", id, when);
	memset(ds, 0, sizeof *ds);
	return CALL(what, svipc_shmctl(id, IPC_STAT, ds), A_EACCES);
}

/*
 * Reads the attached data at p (segsz bytes as IPC_STAT said, or just the
 * first byte if unknown) and checks it against the pattern; writes back the
 * same bytes if rw.
 */
static void touch(int which, volatile unsigned char *p, long segsz, int rw, const char *what,
		  int check_data)
{
	size_t n = segsz > 0 ? (size_t)segsz : 1;
	size_t want = which ? PSIZE : KSIZE;
	size_t offs[10];
	int k = 0;
	offs[k++] = 0;
	offs[k++] = n - 1;
	for (int i = 0; i < 8; i++)
		offs[k++] = below(n);
	for (int i = 0; i < k; i++) {
		size_t o = offs[i];
		unsigned char c = p[o]; /* a SIGSEGV or SIGBUS here: shmat mapped less than shm_segsz */
		if (check_data && o < want && c != pattern(which, o)) {
			bad("%s: data byte %zu is %#x, want %#x (the attachment does not show the "
			    "segment's data)", what, o, c, pattern(which, o));
			break;
		}
		if (rw)
			p[o] = c;
	}
}

#define NBURST 12

/*
 * The script for one segment. held: this process holds one more attachment
 * of it, made before the corruption (late trials).
 */
static void one_segment(int which, int id, int held)
{
	char what[96];
	struct shmid_ds ds;
	long segsz = -1;
	if (stat_id(id, &ds, "first"))
		segsz = segsz_sane("IPC_STAT", &ds, which);

	snprintf(what, sizeof what, "shmat(%d, NULL, 0)", id);
	errno = 0;
	void *p = svipc_shmat(id, NULL, 0);
	int p_ok = check(what, p == (void *)-1 ? -1 : 0, errno, A_EACCES | A_ENOMEM);
	if (p_ok && ((uintptr_t)p & 4095))
		bad("%s returned %p, not page aligned", what, p);
	snprintf(what, sizeof what, "shmat(%d, NULL, SHM_RDONLY)", id);
	errno = 0;
	void *q = svipc_shmat(id, NULL, SHM_RDONLY);
	int q_ok = check(what, q == (void *)-1 ? -1 : 0, errno, A_EACCES | A_ENOMEM);
	if (p_ok && q_ok && p == q)
		bad("two attachments at the same address %p", p);

	if (stat_id(id, &ds, "attached")) {
		long s = segsz_sane("IPC_STAT attached", &ds, which);
		if (s > 0)
			segsz = s;
		unsigned long mine = (unsigned long)(p_ok + q_ok);
		if (ds.shm_nattch < mine)
			bad("IPC_STAT: shm_nattch %lu while this process holds %lu attachments",
			    (unsigned long)ds.shm_nattch, mine);
	}
	if (p_ok) {
		say("    touching the read-write attachment (%ld bytes)\n", segsz);
		touch(which, p, segsz, 1, "read-write attachment", !SH->data_lost);
		int r = svipc_shmsync(p, MS_ASYNC);
		check("shmsync(p, MS_ASYNC)", r, errno, A_EIO);
		r = svipc_shmsync(p, MS_SYNC);
		check("shmsync(p, MS_SYNC)", r, errno, A_EIO);
	}
	if (q_ok) {
		say("    touching the read-only attachment\n");
		touch(which, q, segsz, 0, "read-only attachment", !SH->data_lost);
	}

	/* A burst of attachments: the slot search over a damaged table. */
	void *burst[NBURST];
	int nb = 0;
	for (int i = 0; i < NBURST; i++) {
		errno = 0;
		void *b = svipc_shmat(id, NULL, i % 3 ? SHM_RDONLY : 0);
		snprintf(what, sizeof what, "shmat(%d) burst %d", id, i);
		if (check(what, b == (void *)-1 ? -1 : 0, errno, A_EACCES | A_ENOMEM)) {
			for (int j = 0; j < nb; j++)
				if (burst[j] == b)
					bad("%s returned %p twice", what, b);
			burst[nb++] = b;
		}
	}
	if (nb && stat_id(id, &ds, "after a burst")) {
		segsz_sane("IPC_STAT after a burst", &ds, which);
		unsigned long mine = (unsigned long)(p_ok + q_ok + nb);
		if (ds.shm_nattch < mine)
			bad("IPC_STAT: shm_nattch %lu while this process holds %lu attachments",
			    (unsigned long)ds.shm_nattch, mine);
	}
	if (nb)
		touch(which, burst[nb - 1], segsz, 0, "last burst attachment", !SH->data_lost);

	/* IPC_SET, SHM_LOCK, SHM_UNLOCK. */
	memset(&ds, 0, sizeof ds);
	ds.shm_perm.uid = getuid();
	ds.shm_perm.gid = getgid();
	ds.shm_perm.mode = 0600;
	snprintf(what, sizeof what, "shmctl(%d, IPC_SET)", id);
	CALL(what, svipc_shmctl(id, IPC_SET, &ds), A_EPERM);
	snprintf(what, sizeof what, "shmctl(%d, SHM_LOCK)", id);
	CALL(what, svipc_shmctl(id, SHM_LOCK, NULL), A_EPERM | A_ENOMEM);
	snprintf(what, sizeof what, "shmctl(%d, SHM_UNLOCK)", id);
	CALL(what, svipc_shmctl(id, SHM_UNLOCK, NULL), A_EPERM);

	/* Every address shmat gave must detach. */
	for (int i = 0; i < nb; i++) {
		snprintf(what, sizeof what, "shmdt(burst %d)", i);
		if (!CALL(what, svipc_shmdt(burst[i]), 0))
			bad("%s failed for an address shmat returned", what);
	}
	if (q_ok && !CALL("shmdt(q)", svipc_shmdt(q), 0))
		bad("shmdt(q) failed for an address shmat returned");
	if (p_ok && !CALL("shmdt(p)", svipc_shmdt(p), 0))
		bad("shmdt(p) failed for an address shmat returned");
	if (p_ok) {
		errno = 0;
		int r = svipc_shmdt(p);
		SH->ops++;
		say("    %-46s -> %d %s\n", "shmdt(p) again", r, r < 0 ? strerror(errno) : "");
		if (r != -1 || errno != EINVAL)
			bad("shmdt(p) of a detached address: %d errno %d (%s), want -1 EINVAL", r,
			    errno, strerror(errno));
	}

	if (stat_id(id, &ds, "detached")) {
		segsz_sane("IPC_STAT detached", &ds, which);
		/*
		 * Every other attacher ever was a process that has exited. An
		 * attachment made before the corruption may or may not still be
		 * seen (the corruption may have erased its slot, or replaced the file).
		 */
		if (ds.shm_nattch > (shmatt_t)held)
			bad("IPC_STAT: shm_nattch %lu after this process (the only live one) "
			    "detached all but %d", (unsigned long)ds.shm_nattch, held);
	}
}

/* 1 if segment id's own IPC_STAT says its key is KEY (a corruption made it claim it). */
static int claims_key(int id)
{
	struct shmid_ds ds;
	return svipc_shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == KEY;
}

static void keyed_lookups(int kid, const char *when)
{
	char what[96];
	int r = svipc_shmget(KEY, 0, 0);
	int e = errno;
	snprintf(what, sizeof what, "shmget(KEY, 0, 0) %s", when);
	if (check(what, r, e, A_ENOENT | A_EACCES) && r != kid && !claims_key(r))
		bad("%s returned %d, but the key's segment is %d, and %d's own key is not KEY", what, r,
		    kid, r);
	r = svipc_shmget(KEY, KSIZE, IPC_CREAT | 0600), e = errno;
	snprintf(what, sizeof what, "shmget(KEY, %d, IPC_CREAT) %s", KSIZE, when);
	if (check(what, r, e, A_EACCES | A_ENOSPC | A_ENOMEM) && r != kid && !claims_key(r) &&
	    !SH->ns_touched)
		bad("%s returned %d, but the key's segment is %d (a second segment for one key)",
		    what, r, kid);
	r = svipc_shmget(KEY, 0, IPC_CREAT | IPC_EXCL | 0600), e = errno;
	snprintf(what, sizeof what, "shmget(KEY, 0, IPC_CREAT|IPC_EXCL) %s", when);
	if (check(what, r, e, A_EEXIST | A_EACCES | A_ENOSPC | A_ENOMEM) && !SH->ns_touched)
		bad("%s created segment %d, but the key has segment %d", what, r, kid);
	r = svipc_shmget(KEY, (size_t)KSIZE * 1000, 0), e = errno;
	snprintf(what, sizeof what, "shmget(KEY, %d, 0) %s", KSIZE * 1000, when);
	if (check(what, r, e, A_ENOENT | A_EACCES))
		bad("%s succeeded (%d): no segment for this key holds %d bytes", what, r, KSIZE * 1000);
}

static void info(void)
{
	struct shminfo si;
	memset(&si, 0, sizeof si);
	long r = svipc_shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
	if (check("shmctl(0, IPC_INFO)", r, errno, 0) && !SH->ns_touched &&
	    (si.shmmax == 0 || si.shmmni == 0))
		bad("IPC_INFO: shmmax %lu shmmni %lu", (unsigned long)si.shmmax,
		    (unsigned long)si.shmmni);
	struct shm_info sinfo;
	memset(&sinfo, 0, sizeof sinfo);
	r = svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo);
	if (check("shmctl(0, SHM_INFO)", r, errno, 0) && sinfo.used_ids < 0)
		bad("SHM_INFO: used_ids %d", sinfo.used_ids);
	for (int idx = 0; idx < 4; idx++) {
		struct shmid_ds ds;
		char what[64];
		for (int any = 0; any < 2; any++) {
			snprintf(what, sizeof what, "shmctl(%d, %s)", idx, any ? "SHM_STAT_ANY" : "SHM_STAT");
			r = svipc_shmctl(idx, any ? SHM_STAT_ANY : SHM_STAT, &ds);
			if (check(what, r, errno, A_EACCES) && SVIPC_ID_IDX(r) != (uint32_t)idx)
				bad("%s returned id %ld, whose index is not %d", what, r, idx);
		}
	}
}

/* A new segment, made and used from start to end: the namespace still works. */
static void fresh_segment(void)
{
	int n = svipc_shmget(IPC_PRIVATE, 5000, IPC_CREAT | 0600);
	if (!check("shmget(IPC_PRIVATE, 5000, IPC_CREAT)", n, errno, A_ENOSPC))
		return;
	unsigned char *p = svipc_shmat(n, NULL, 0);
	if (p == (void *)-1) {
		bad("shmat of a new segment: %s", strerror(errno));
	} else {
		SH->ops++;
		for (int i = 0; i < 5000; i++)
			if (p[i] != 0) {
				bad("a new segment is not zero at byte %d", i);
				break;
			}
		memset(p, 0x5a, 5000);
		struct shmid_ds ds;
		if (stat_id(n, &ds, "new") && (ds.shm_nattch != 1 || ds.shm_segsz != 5000))
			bad("new segment: nattch %lu segsz %zu", (unsigned long)ds.shm_nattch,
			    (size_t)ds.shm_segsz);
		if (svipc_shmdt(p) != 0)
			bad("shmdt of a new segment: %s", strerror(errno));
	}
	if (svipc_shmctl(n, IPC_RMID, NULL) != 0)
		bad("IPC_RMID of a new segment: %s", strerror(errno));
	SH->ops += 3;
}

/*
 * IPC_RMID and what must follow it; 1 if it succeeded. held: this process
 * still has it attached (made before the corruption), so it may linger.
 */
static int rmid(int id, const char *name, int held)
{
	char what[64];
	snprintf(what, sizeof what, "shmctl(%d, IPC_RMID) %s", id, name);
	if (!CALL(what, svipc_shmctl(id, IPC_RMID, NULL), A_EPERM))
		return 0;
	struct shmid_ds ds;
	snprintf(what, sizeof what, "shmctl(%d, IPC_STAT) after IPC_RMID", id);
	if (CALL(what, svipc_shmctl(id, IPC_STAT, &ds), 0)) {
		if (!held)
			bad("%s succeeded: a removed segment nobody has attached still exists "
			    "(mode %#o)", what, (unsigned)ds.shm_perm.mode);
		else if (!(ds.shm_perm.mode & SHM_DEST) || ds.shm_perm.__key != IPC_PRIVATE)
			bad("%s: a removed segment that lingers has mode %#o key %#x (want SHM_DEST, "
			    "IPC_PRIVATE)", what, (unsigned)ds.shm_perm.mode,
			    (unsigned)ds.shm_perm.__key);
	}
	snprintf(what, sizeof what, "shmat(%d) after IPC_RMID", id);
	errno = 0;
	void *p = svipc_shmat(id, NULL, 0);
	if (check(what, p == (void *)-1 ? -1 : 0, errno, held ? A_EACCES | A_ENOMEM : 0)) {
		/* Linux lets a lingering segment be attached by id. */
		if (!held)
			bad("%s succeeded", what);
		if (svipc_shmdt(p) != 0)
			bad("shmdt of %s: %s", what, strerror(errno));
	}
	return 1;
}

/* held: the segment (0 keyed, 1 private) this process holds attached, or -1. */
static int script(int kid, int pid, int do_rmid, int held)
{
	int removed = 0;
	keyed_lookups(kid, "");
	one_segment(0, kid, held == 0);
	one_segment(1, pid, held == 1);
	info();
	fresh_segment();
	if (do_rmid) {
		int gone = rmid(kid, "keyed", held == 0);
		removed = rmid(pid, "private", held == 1) ? 2 : 0;
		removed |= gone;
		errno = 0;
		int r = svipc_shmget(KEY, 0, 0);
		int e = errno;
		if (check("shmget(KEY, 0, 0) after IPC_RMID", r, e, A_ENOENT | A_EACCES) && gone &&
		    !claims_key(r))
			bad("shmget(KEY, 0, 0) after a successful IPC_RMID returned %d", r);
		else if (r == -1 && gone && e != ENOENT && !(SH->ns_touched && e == EIDRM))
			bad("shmget(KEY, 0, 0) after a successful IPC_RMID: %s, want ENOENT",
			    strerror(e));
		fresh_segment();
	} else {
		keyed_lookups(kid, "at the end");
	}
	return removed; /* bit 0: the keyed segment was removed, bit 1: the private one */
}

/* ---- the builder ------------------------------------------------------------------------- */

static void fill(int which, unsigned char *p)
{
	size_t n = which ? PSIZE : KSIZE;
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(which, i);
}

static void build(void)
{
	int k = svipc_shmget(KEY, KSIZE, IPC_CREAT | IPC_EXCL | 0600);
	int q = svipc_shmget(IPC_PRIVATE, PSIZE, IPC_CREAT | 0600);
	if (k < 0 || q < 0)
		_exit(10);
	for (int which = 0; which < 2; which++) {
		int id = which ? q : k;
		/* Attach three times, detach the middle one: a freed slot between used ones. */
		unsigned char *a = svipc_shmat(id, NULL, 0);
		unsigned char *b = svipc_shmat(id, NULL, SHM_RDONLY);
		unsigned char *c = svipc_shmat(id, NULL, 0);
		if (a == (void *)-1 || b == (void *)-1 || c == (void *)-1)
			_exit(11);
		fill(which, a);
		if (svipc_shmdt(b) != 0)
			_exit(12);
		/* A child attaches and dies attached: a slot whose detach nobody booked. */
		pid_t ch = fork();
		if (ch == 0) {
			void *d = svipc_shmat(id, NULL, 0);
			_exit(d == (void *)-1 ? 1 : 0);
		}
		int st;
		if (waitpid(ch, &st, 0) != ch || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			_exit(13);
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		ds.shm_perm.uid = getuid();
		ds.shm_perm.gid = getgid();
		ds.shm_perm.mode = 0600;
		if (svipc_shmctl(id, IPC_SET, &ds) != 0)
			_exit(14);
		(void)c; /* a and c stay attached: this process dies with them */
	}
	SH->kid = k;
	SH->pid = q;
	_exit(0);
}

/* ---- files ---------------------------------------------------------------------------- */

/* Removes name in the namespace directory, whatever it is now. */
static void remove_name(const char *name)
{
	if (unlinkat(dfd, name, 0) < 0 && (errno == EISDIR || errno == EPERM))
		unlinkat(dfd, name, AT_REMOVEDIR);
}

/*
 * Puts every file back as the builder left it (as new files: a trial may
 * have made one name a hard link to another), and removes anything else.
 */
static void restore(void)
{
	each_entry(remove_name);
	for (int i = 0; i < NFILES; i++)
		put_back(i, 1);
}

/*
 * 1 in a late trial: the trial child has the segment files mapped (its
 * metadata in svipc's cache, and an attachment) when the corruption is made.
 */
static int late;

/* Puts a new file (a new inode) under f's name: size bytes, the first n from data. */
static void new_file(int f, const unsigned char *data, size_t n, uint64_t size)
{
	remove_name(PF[f].name);
	int fd = openat(dfd, PF[f].name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, PF[f].mode) < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    pwrite(fd, data, MIN(n, size), 0) < 0)
		perror("new_file");
	if (fd >= 0)
		close(fd);
}

/*
 * Truncates (or extends) f. In a late trial the mapped file itself is never
 * made shorter (a library cannot survive that: SIGBUS, see above): a new
 * file of that length, with the same bytes, takes its name instead.
 */
static void truncate_to(int f, uint64_t size)
{
	int fd = openat(dfd, PF[f].name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	const struct shm_seg *g = &G[seg_of_file(f)];
	if ((f == F_KSEG || f == F_PSEG) && size < g->data_off + g->map_len)
		SH->data_lost = 1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (late && size < (uint64_t)st.st_size) {
			unsigned char *b = malloc(size + 1);
			ssize_t n = b ? pread(fd, b, size, 0) : -1;
			if (n >= 0)
				new_file(f, b, (size_t)n, size);
			free(b);
		} else if (ftruncate(fd, (off_t)size) < 0) {
			perror("ftruncate");
		}
	}
	close(fd);
}

/* ---- corruptions ---------------------------------------------------------------------- */

/*
 * The namespace file's layout (ns.c: struct ns_file), for corrupting the
 * shm key table: magic, version, lock, pad, the limits (shmmax, shmall,
 * shmmni at 40, 48, 56), then one table per type (next_idx, in_use,
 * hiwater, pad, then 32768 entries of {key, state, seq, units}).
 */
#define NS_OFF_LOCK 8
#define NS_OFF_SHMLIM 40
#define NS_OFF_TABLES 144
#define NS_TABLE_SIZE (16 + 16ull * SVIPC_IDX_MAX)
#define NS_SHM_TABLE (NS_OFF_TABLES + NS_TABLE_SIZE * SVIPC_SHM)
#define NS_SHM_ENTRY(idx) (NS_SHM_TABLE + 16 + 16ull * (idx))

struct field {
	const char *name;
	uint32_t off, width;
};

#define SF(f) { #f, offsetof(struct shm_seg, f), sizeof(((struct shm_seg *)0)->f) }
static const struct field sfields[] = {
	SF(obj.magic), SF(obj.version), SF(obj.size), SF(obj.id), SF(obj.lock), SF(obj.removed),
	SF(obj.corrupt), SF(obj.perm.key), SF(obj.perm.uid), SF(obj.perm.gid), SF(obj.perm.cuid),
	SF(obj.perm.cgid), SF(obj.perm.mode), SF(obj.perm.seq), SF(obj.ctime), SF(obj.gen),
	SF(segsz), SF(data_off), SF(map_len), SF(atime), SF(dtime), SF(cpid), SF(lpid), SF(flags),
	SF(nslots), SF(slot_hi), SF(events), SF(align), SF(set_uid), SF(set_gid), SF(set_mode),
	SF(set_valid), SF(set_ctime),
};

/* An interesting value for a field, near the values the file's geometry uses. */
static uint64_t field_value(const struct field *fd, const struct shm_seg *g, uint64_t fsize)
{
	uint64_t near[] = { g->segsz, g->data_off, g->map_len, g->nslots, g->slot_hi, fsize,
			    SHM_SLOT_OFF, 4096, 2u << 20 };
	uint64_t v;
	switch (below(4)) {
	case 0: /* near a geometry value */
		v = near[below(ARRAY_SIZE(near))] + below(5) - 2;
		if (below(3) == 0)
			v = v * (1 + below(4)) + (below(2) ? 4096 : 0);
		break;
	case 1: v = below(8); break;
	default: v = val64(); break;
	}
	return fd->width == 4 ? (uint32_t)v : v;
}

static void corrupt_field(int f, const struct field *fd, const struct shm_seg *g)
{
	uint64_t v = field_value(fd, g, PF[f].size);
	if (fd->width == 8)
		poke64(f, fd->off, v);
	else
		poke32(f, fd->off, (uint32_t)v);
	if (fd->off >= offsetof(struct shm_seg, segsz) && fd->off <= offsetof(struct shm_seg, map_len))
		SH->geom_touched = 1;
	note("%s = %#llx", fd->name, (unsigned long long)v);
}

static uint64_t slot_off(uint32_t i)
{
	return SHM_SLOT_OFF + (uint64_t)i * sizeof(struct shm_slot);
}

static void truncation(int f, const struct shm_seg *g)
{
	uint64_t sz;
	const char *where;
	switch (below(10)) {
	case 0: sz = 0, where = "empty"; break;
	case 1: sz = below(sizeof(struct svipc_obj)), where = "inside struct svipc_obj"; break;
	case 2: sz = sizeof(struct svipc_obj) + below(SHM_SLOT_OFF - sizeof(struct svipc_obj)),
		where = "inside the shm header"; break;
	case 3: sz = SHM_SLOT_OFF + below(g->data_off - SHM_SLOT_OFF), where = "inside the slot table";
		break;
	case 4: sz = g->data_off - 1 - below(16), where = "just before the data"; break;
	case 5: sz = g->data_off, where = "exactly at the data"; break;
	case 6: sz = g->data_off + 1 + below(g->map_len - 1), where = "inside the data"; break;
	case 7: sz = PF[f].size - 1, where = "one byte short"; break;
	case 8: sz = slot_off((uint32_t)below(g->slot_hi + 2)) + below(sizeof(struct shm_slot)),
		where = "inside the used slots"; break;
	default: sz = PF[f].size + 1 + below(3 * 4096), where = "extended"; break;
	}
	truncate_to(f, sz);
	note("%s truncated to %llu of %zu bytes (%s)", PF[f].name, (unsigned long long)sz, PF[f].size,
	     where);
}

static void replace(int f)
{
	int other = f == F_KSEG ? F_PSEG : F_KSEG;
	const char *name = PF[f].name;
	remove_name(name);
	switch (below(7)) {
	case 0:
		mkdirat(dfd, name, 0700);
		note("%s replaced by a directory", name);
		break;
	case 1:
		if (symlinkat(PF[other].name, dfd, name) < 0)
			perror("symlinkat");
		note("%s replaced by a symlink to %s", name, PF[other].name);
		break;
	case 2:
		if (symlinkat("/dev/zero", dfd, name) < 0)
			perror("symlinkat");
		note("%s replaced by a symlink to /dev/zero", name);
		break;
	case 3:
		if (symlinkat("no-such-file", dfd, name) < 0)
			perror("symlinkat");
		note("%s replaced by a dangling symlink", name);
		break;
	case 4:
		if (mkfifoat(dfd, name, 0600) < 0)
			perror("mkfifoat");
		note("%s replaced by a FIFO", name);
		break;
	case 5: {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a;
		memset(&a, 0, sizeof a);
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", getenv("SVIPC_DIR"), name);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0)
			perror("bind");
		if (s >= 0)
			close(s);
		note("%s replaced by a socket", name);
		break;
	}
	default:
		if (linkat(dfd, PF[other].name, dfd, name, 0) < 0)
			perror("linkat");
		note("%s replaced by a hard link to %s", name, PF[other].name);
		break;
	}
}

static void identity(int f, const struct shm_seg *g)
{
	int other = f == F_KSEG ? F_PSEG : F_KSEG;
	switch (below(6)) {
	case 0:
		poke32(f, offsetof(struct svipc_obj, magic), MSG_MAGIC);
		note("magic = a message queue's");
		break;
	case 1: {
		uint32_t v = g->obj.version + 1 + (uint32_t)below(3);
		poke32(f, offsetof(struct svipc_obj, version), v);
		note("version = %u (was %u)", v, g->obj.version);
		break;
	}
	case 2: {
		int32_t v = below(2) ? G[seg_of_file(other)].obj.id : g->obj.id + (int32_t)SVIPC_IDX_MAX;
		poke32(f, offsetof(struct svipc_obj, id), (uint32_t)v);
		note("id = %d (was %d)", v, g->obj.id);
		break;
	}
	case 3: /* the other segment's file under this name: valid, but the wrong one */
		new_file(f, PF[other].data, PF[other].size, PF[other].size);
		note("%s holds a copy of %s", PF[f].name, PF[other].name);
		break;
	case 4: {
		uint64_t v = below(2) ? PF[f].size : g->obj.size + 4096 * (1 + below(4));
		poke64(f, offsetof(struct svipc_obj, size), v);
		note("obj.size = %llu (was %llu)", (unsigned long long)v,
		     (unsigned long long)g->obj.size);
		break;
	}
	default: {
		uint32_t v = (uint32_t)t_rand();
		poke32(f, offsetof(struct svipc_obj, perm) + offsetof(struct svipc_perm, seq), v);
		note("perm.seq = %#x", v);
		break;
	}
	}
}

/* The namespace's shm table and limits (the segment files are left alone). */
static void corrupt_ns(void)
{
	static const char *const ent_field[] = { "key", "state", "seq", "units" };
	static const char *const tab_field[] = { "next_idx", "in_use", "hiwater" };
	static const char *const lim_field[] = { "shmmax", "shmall", "shmmni" };
	SH->ns_touched = 1;
	switch (below(late ? 4 : 5)) {
	case 0:
	case 1: { /* an entry: ours mostly */
		uint32_t idx = below(3) ? SVIPC_ID_IDX(below(2) ? SH->kid : SH->pid) : (uint32_t)below(8);
		int which = (int)below(4);
		uint32_t v;
		if (which == 0)
			v = below(2) ? (uint32_t)KEY : (uint32_t)val64();
		else if (which == 1)
			v = (uint32_t)below(6);
		else
			v = (uint32_t)val64();
		poke32(F_NS, NS_SHM_ENTRY(idx) + 4ull * which, v);
		note("ns shm entry %u: %s = %#x", idx, ent_field[which], v);
		break;
	}
	case 2: {
		int which = (int)below(3);
		uint32_t v = below(2) ? (uint32_t)val64() : (uint32_t)below(8);
		poke32(F_NS, NS_SHM_TABLE + 4ull * which, v);
		note("ns shm table %s = %#x", tab_field[which], v);
		break;
	}
	case 3: {
		int which = (int)below(3);
		uint64_t v = below(2) ? val64() : below(8);
		poke64(F_NS, NS_OFF_SHMLIM + 8ull * which, v);
		note("ns limit %s = %#llx", lim_field[which], (unsigned long long)v);
		break;
	}
	default: {
		uint64_t sz = below(2) ? below(PF[F_NS].size) : NS_SHM_TABLE + below(NS_TABLE_SIZE);
		truncate_to(F_NS, sz);
		note("ns truncated to %llu of %zu bytes", (unsigned long long)sz, PF[F_NS].size);
		break;
	}
	}
	if (below(3) == 0) {
		poke32(F_NS, NS_OFF_LOCK, DEAD_TOKEN);
		note("ns lock held by the dead");
	}
}

static void corrupt_one(int kind, int f, const struct shm_seg *g)
{
	switch (kind) {
	case C_TRUNC:
		truncation(f, g);
		break;
	case C_FIELD:
		corrupt_field(f, &sfields[below(ARRAY_SIZE(sfields))], g);
		break;
	case C_SLOT: {
		/* Mostly the slots in use or just past them. */
		uint32_t i = below(3) ? (uint32_t)below(g->slot_hi + 3) : (uint32_t)below(SHM_NSLOTS);
		if (below(2)) {
			uint32_t v = below(3) ? (uint32_t)below(4) : (uint32_t)t_rand();
			poke32(f, slot_off(i) + offsetof(struct shm_slot, state), v);
			note("slot[%u].state = %#x", i, v);
		} else {
			uint32_t v = (uint32_t)val64();
			poke32(f, slot_off(i) + offsetof(struct shm_slot, pid), v);
			note("slot[%u].pid = %d", i, (int32_t)v);
		}
		if (below(3) == 0) { /* many slots that claim to be attached */
			uint32_t n = 1 + (uint32_t)below(below(2) ? 64 : SHM_NSLOTS);
			uint32_t from = (uint32_t)below(SHM_NSLOTS - n + 1);
			for (uint32_t s = from; s < from + n; s++)
				poke32(f, slot_off(s) + offsetof(struct shm_slot, state), SHM_SLOT_ATTACHED);
			note("slots %u..%u ATTACHED", from, from + n - 1);
		}
		break;
	}
	case C_BYTES: {
		int n = 1 + (int)below(16);
		char list[256] = "";
		for (int i = 0; i < n; i++) {
			uint64_t off = below(3) ? below(SHM_SLOT_OFF) : below(g->data_off);
			if (below(4) == 0)
				off = slot_off(0) + below(sizeof(struct shm_slot) * (g->slot_hi + 2));
			uint8_t v = (uint8_t)t_rand();
			poke(f, off, &v, 1);
			if (off >= offsetof(struct shm_seg, segsz) && off < offsetof(struct shm_seg, atime))
				SH->geom_touched = 1;
			size_t o = strlen(list);
			snprintf(list + o, sizeof list - o, "%s%llu=%#x", i ? " " : "",
				 (unsigned long long)off, v);
		}
		note("%d random bytes of the metadata (offset=value: %s)", n, list);
		break;
	}
	case C_WORDS: {
		int n = 1 + (int)below(8);
		char list[256] = "";
		for (int i = 0; i < n; i++) {
			uint64_t off = below(2) ? below(SHM_SLOT_OFF / 4) * 4 : below(g->data_off / 4) * 4;
			uint32_t v = below(2) ? (uint32_t)t_rand() : (uint32_t)below(4);
			poke32(f, off, v);
			if (off >= offsetof(struct shm_seg, segsz) && off < offsetof(struct shm_seg, atime))
				SH->geom_touched = 1;
			size_t o = strlen(list);
			snprintf(list + o, sizeof list - o, "%s%llu=%#x", i ? " " : "",
				 (unsigned long long)off, v);
		}
		note("%d random 32-bit words of the metadata (offset=value: %s)", n, list);
		break;
	}
	case C_REPLACE:
		replace(f);
		break;
	case C_NS:
		corrupt_ns();
		break;
	default:
		identity(f, g);
		break;
	}
}

/* ---- targeted trials, the same in every run ------------------------------------------------ */

#define OFF(f) offsetof(struct shm_seg, f)

static const char *const fixed_name[] = {
	"data_off = 0 (the data would overlap the header)",
	"data_off = 4096 (inside the slot table)",
	"data_off + map_len past the end of the file",
	"map_len = 0",
	"map_len = 2^40",
	"segsz = 0",
	"segsz = map_len + 1",
	"segsz = 2^63",
	"nslots = 0",
	"nslots = 0xffffffff",
	"slot_hi = 0xffffffff",
	"slot_hi = SHM_NSLOTS + 1",
	"align = 0",
	"align = 3",
	"align = 2^40",
	"flags = HUGE on a page-aligned segment",
	"IPC_SET redo record valid, mode 0xffffffff, lock held by the dead",
	"every slot ATTACHED with a dead pid",
	"obj.size = data_off + 1",
	"obj.size = file size",
	"file truncated to data_off (no data at all)",
	"file truncated inside the data",
	"file replaced by a FIFO",
	"file replaced by a directory",
	"file replaced by a symlink to the other segment",
	"removed = 1 (IPC_RMID half done), lock held by the dead",
	"removed = 2 (moved), lock held by the dead",
	"corrupt = 1",
	"every slot FREE and slot_hi = 0 (an attachment forgotten)",
	"the name holds a new copy of the other segment's file",
	"file replaced by a socket",
	"segsz = map_len = 2^24 (consistent, but the file holds less)",
	"ns: the keyed entry freed, the private segment's entry says KEY",
};
#define NFIXED ((long)ARRAY_SIZE(fixed_name))

/* The targeted trials run again late (after the child mapped the files): these ones. */
static const int late_fixed[] = { 22, 23, 24, 30, 20, 21, 29, 28, 16, 17, 25, 27 };
#define NLATE ((long)ARRAY_SIZE(late_fixed))

static void fixed_corruption(int k, int f, const struct shm_seg *g)
{
	switch (k) {
	case 0: poke64(f, OFF(data_off), 0); break;
	case 1: poke64(f, OFF(data_off), 4096); break;
	case 2: poke64(f, OFF(data_off), g->data_off + g->map_len); break;
	case 3: poke64(f, OFF(map_len), 0); break;
	case 4: poke64(f, OFF(map_len), 1ull << 40); break;
	case 5: poke64(f, OFF(segsz), 0); break;
	case 6: poke64(f, OFF(segsz), g->map_len + 1); break;
	case 7: poke64(f, OFF(segsz), 1ull << 63); break;
	case 8: poke32(f, OFF(nslots), 0); break;
	case 9: poke32(f, OFF(nslots), 0xffffffffu); break;
	case 10: poke32(f, OFF(slot_hi), 0xffffffffu); break;
	case 11: poke32(f, OFF(slot_hi), SHM_NSLOTS + 1); break;
	case 12: poke64(f, OFF(align), 0); break;
	case 13: poke64(f, OFF(align), 3); break;
	case 14: poke64(f, OFF(align), 1ull << 40); break;
	case 15: poke32(f, OFF(flags), SHM_SEG_HUGE); break;
	case 16:
		poke32(f, OFF(set_uid), 12345);
		poke32(f, OFF(set_mode), 0xffffffffu);
		poke32(f, OFF(set_valid), 1);
		poke32(f, OFF(obj.lock), DEAD_TOKEN);
		break;
	case 17:
		for (uint32_t s = 0; s < SHM_NSLOTS; s++) {
			poke32(f, slot_off(s) + offsetof(struct shm_slot, state), SHM_SLOT_ATTACHED);
			poke32(f, slot_off(s) + offsetof(struct shm_slot, pid), 999999);
		}
		poke32(f, OFF(slot_hi), SHM_NSLOTS);
		break;
	case 18: poke64(f, OFF(obj.size), g->data_off + 1); break;
	case 19: poke64(f, OFF(obj.size), PF[f].size); break;
	case 20: truncate_to(f, g->data_off); break;
	case 21: truncate_to(f, g->data_off + g->map_len / 2); break;
	case 22: remove_name(PF[f].name), mkfifoat(dfd, PF[f].name, 0600); break;
	case 23: remove_name(PF[f].name), mkdirat(dfd, PF[f].name, 0700); break;
	case 24:
		remove_name(PF[f].name);
		if (symlinkat(PF[f == F_KSEG ? F_PSEG : F_KSEG].name, dfd, PF[f].name) < 0)
			perror("symlinkat");
		break;
	case 25:
		poke32(f, OFF(obj.removed), SVIPC_OBJ_REMOVED);
		poke32(f, OFF(obj.lock), DEAD_TOKEN);
		break;
	case 26:
		poke32(f, OFF(obj.removed), SVIPC_OBJ_MOVED);
		poke32(f, OFF(obj.lock), DEAD_TOKEN);
		break;
	case 27: poke32(f, OFF(obj.corrupt), 1); break;
	case 28:
		for (uint32_t s = 0; s < SHM_NSLOTS; s++)
			poke32(f, slot_off(s) + offsetof(struct shm_slot, state), SHM_SLOT_FREE);
		poke32(f, OFF(slot_hi), 0);
		break;
	case 29: {
		int other = f == F_KSEG ? F_PSEG : F_KSEG;
		new_file(f, PF[other].data, PF[other].size, PF[other].size);
		break;
	}
	case 30: {
		remove_name(PF[f].name);
		int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a;
		memset(&a, 0, sizeof a);
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", getenv("SVIPC_DIR"), PF[f].name);
		if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof a) < 0)
			perror("bind");
		if (sk >= 0)
			close(sk);
		break;
	}
	case 31:
		poke64(f, OFF(segsz), 1ull << 24);
		poke64(f, OFF(map_len), 1ull << 24);
		break;
	case 32:
		poke32(F_NS, NS_SHM_ENTRY(SVIPC_ID_IDX(SH->kid)) + 4, 0); /* state: free */
		poke32(F_NS, NS_SHM_ENTRY(SVIPC_ID_IDX(SH->pid)), (uint32_t)KEY);
		SH->ns_touched = 1;
		break;
	}
	if (k <= 7 || k == 31)
		SH->geom_touched = 1;
	note("%s: %s", PF[f].name, fixed_name[k]);
}

/* ---- the trials ----------------------------------------------------------------------------- */

static int printed;
static long failed_list[64];
static int nfailed_list;


/* Applies trial i's corruption to file f (in the parent, or in a late trial's child). */
static void corrupt_trial(long i, int f)
{
	const struct shm_seg *g = &G[seg_of_file(f)];
	if (i < 0) {
		long k = -i - 1;
		fixed_corruption(k < NFIXED ? (int)k : late_fixed[k - NFIXED], f, g);
		return;
	}
	SH->nk = 1 + (int)below(3);
	for (int k = 0; k < SH->nk; k++) {
		SH->kinds[k] = pick_kind();
		corrupt_one(SH->kinds[k], f, g);
	}
	if (below(2)) {
		poke32(f, offsetof(struct svipc_obj, lock), DEAD_TOKEN);
		note("lock held by the dead (recovery runs)");
		SH->recov = 1;
	}
}

/*
 * A late trial's child, before the corruption: maps both segments'
 * metadata (IPC_STAT) and attaches the one to be corrupted. Returns the
 * attachment, or NULL (a finding: the files are pristine).
 */
static void *warm_up(int f)
{
	struct shmid_ds ds;
	if (svipc_shmctl(SH->kid, IPC_STAT, &ds) != 0 || svipc_shmctl(SH->pid, IPC_STAT, &ds) != 0)
		bad("warm-up: IPC_STAT of a pristine segment: %s", strerror(errno));
	void *p = svipc_shmat(f == F_KSEG ? SH->kid : SH->pid, NULL, 0);
	SH->ops += 3;
	if (p == (void *)-1) {
		bad("warm-up: shmat of a pristine segment: %s", strerror(errno));
		return NULL;
	}
	return p;
}

/* A late trial's child, at the end: the attachment made before the corruption. */
static void held_end(int f, void *p, int removed)
{
	int which = seg_of_file(f), id = which ? SH->pid : SH->kid;
	/* Its mapping is of the file as it was: the data must still be there. */
	touch(which, p, (long)(which ? PSIZE : KSIZE), 0, "attachment made before the corruption", 1);
	int r = svipc_shmdt(p);
	if (!check("shmdt(attachment made before the corruption)", r, errno, 0))
		bad("shmdt of an address shmat returned failed: %s", strerror(errno));
	if (r == 0 && (removed & (1 << which))) {
		/* IPC_RMID went through, and that was its last attachment. */
		struct shmid_ds ds;
		if (CALL("shmctl(IPC_STAT) after the last detach of a removed segment",
			 svipc_shmctl(id, IPC_STAT, &ds), 0))
			bad("a segment removed with IPC_RMID still exists after its last detach "
			    "(mode %#o, nattch %lu)", (unsigned)ds.shm_perm.mode,
			    (unsigned long)ds.shm_nattch);
	}
}

/* What the trial child does (trial_child); returns its exit status. */
struct child_args {
	long i;
	int f, do_rmid;
};

static int trial_child(void *arg)
{
	const struct child_args *a = arg;
	long i = a->i;
	int f = a->f, do_rmid = a->do_rmid;
	int held = -1;
	void *p = NULL;
	if (late) {
		p = warm_up(f);
		corrupt_trial(i, f);
		held = p ? seg_of_file(f) : -1;
		if (SH->verbose)
			fprintf(stderr, "  late corruption: %s\n", SH->desc);
	}
	int removed = script(SH->kid, SH->pid, do_rmid, held);
	if (p)
		held_end(f, p, removed);
	return SH->nbad ? 2 : 0;
}

static void trial(uint64_t seed, long i)
{
	t_rng = t_mix64(seed ^ (uint64_t)i * 0x100000001b3ull);
	restore();
	SH->desc[0] = 0;
	SH->geom_touched = 0;
	SH->nk = SH->recov = SH->data_lost = SH->ns_touched = 0;
	int f = below(2) ? F_KSEG : F_PSEG;
	late = i < 0 ? -i > NFIXED : below(3) == 0;
	int do_rmid = i >= 0 ? below(3) == 0 : 0;
	if (late)
		note("late: after the child mapped the files and attached %s", PF[f].name);
	else
		corrupt_trial(i, f);
	if (do_rmid)
		note("script ends with IPC_RMID");
	SH->nbad = SH->nlines = 0;
	SH->report[0] = 0;
	SH->ops = 0;
	if (SH->verbose)
		fprintf(stderr, "trial %ld: %s\n", i, SH->desc);
	/* SVIPC_SHM_CORRUPT_NOFORK=1 with SVIPC_SHM_CORRUPT_TRIAL: in this process, for a debugger. */
	struct child_args ca = { i, f, do_rmid };
	int st = run_trial_child(trial_child, &ca, TRIAL_ALARM);
	ST.trials++;
	ST.late += late;
	ST.ops += SH->ops;
	ST.recov += SH->recov;
	for (int k = 0; k < SH->nk; k++)
		ST.by_kind[SH->kinds[k]]++;
	char buf[96];
	const char *what = trial_outcome(st, TRIAL_ALARM, buf, sizeof buf);
	if (!what)
		return;
	for (int k = 0; k < SH->nk; k++)
		ST.bad_kind[SH->kinds[k]]++;
	ST.late_failed += late;
	trial_failed(i, "trial %ld: %s\n    corruption: %s%s\n%s", i, what, SH->desc,
		     SH->geom_touched ? " [changes where the data is]" : "", SH->report);
}

/* The untouched files pass the script, early and late (arg: round r, see main). */
static int pristine_child(void *arg)
{
	int r = *(const int *)arg;
	void *p = r & 2 ? warm_up(F_KSEG) : NULL;
	int removed = script(SH->kid, SH->pid, r & 1, p ? 0 : -1);
	if (p)
		held_end(F_KSEG, p, removed);
	return SH->nbad ? 2 : 0;
}

int main(void)
{
	t_setup(290);
	struct corrupt_run run = corrupt_start("test_shm_corrupt", 5000, build);
	long ntrials = run.ntrials, only = run.only;
	char name[32];
	load(&PF[F_NS], "ns");
	load(&PF[F_PROCS], "procs");
	snprintf(name, sizeof name, "shm.%d", SH->kid);
	load(&PF[F_KSEG], name);
	snprintf(name, sizeof name, "shm.%d", SH->pid);
	load(&PF[F_PSEG], name);
	for (int w = 0; w < 2; w++) {
		const struct pfile *p = &PF[w ? F_PSEG : F_KSEG];
		memcpy(&G[w], p->data, sizeof G[w]);
		printf("  %s: %zu bytes, segsz %llu, data at %llu, %llu bytes mapped, %u slots, "
		       "slot_hi %u\n", p->name, p->size, (unsigned long long)G[w].segsz,
		       (unsigned long long)G[w].data_off, (unsigned long long)G[w].map_len,
		       G[w].nslots, G[w].slot_hi);
		if (G[w].obj.magic != SHM_MAGIC || G[w].data_off < SHM_SLOT_OFF ||
		    G[w].data_off + G[w].map_len > p->size || G[w].segsz != (w ? PSIZE : KSIZE)) {
			fprintf(stderr, "the builder's %s does not have the layout of shm.h\n", p->name);
			return 1;
		}
	}

	/* The untouched files pass the script, early and late (the test's own sanity). */
	if (only == LONG_MIN) {
		for (int r = 0; r < 4; r++) {
			restore();
			SH->nbad = SH->nlines = 0;
			SH->report[0] = 0;
			int st = run_trial_child(pristine_child, &r, TRIAL_ALARM);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				T_FAIL("the script fails on the pristine files (IPC_RMID %d, held %d): "
				       "status %#x\n%s", r & 1, r >> 1, st, SH->report);
		}
	}

	for (long k = 1; k <= NFIXED + NLATE; k++)
		if (only == LONG_MIN || only == -k)
			trial(run.seed, -k);
	if (only == LONG_MIN)
		printf("  %ld targeted trials (%ld of them late), %ld failed\n", NFIXED + NLATE, NLATE,
		       ST.fixed_failed);
	/* Hangs cost TRIAL_ALARM seconds each: stay within the ctest timeout. */
	const char *e = getenv("SVIPC_SHM_CORRUPT_BUDGET");
	double budget = e ? atof(e) : 200, secs = 0;
	if (budget > 200)
		alarm((unsigned)budget + 90); /* a longer run, by hand: the whole-test bound follows */
	long ran = 0;
	for (long i = 0; i < ntrials && secs < budget; i++) {
		if (only == LONG_MIN || only == i) {
			trial(run.seed, i);
			ran++;
		}
		secs = corrupt_secs(&run);
	}
	secs = corrupt_secs(&run);
	if (only == LONG_MIN && ran < ntrials)
		printf("  NOTE: stopped after %ld of %ld random trials: the %.0f s budget is spent "
		       "(SVIPC_SHM_CORRUPT_BUDGET)\n", ran, ntrials, budget);

	printf("test_shm_corrupt: %ld trials (%ld late) in %.1f s (%ld calls), %ld with recovery "
	       "over the corruption: %ld fine, %ld wrong results, %ld crashes, %ld hangs, %ld other "
	       "exits; %ld late trials failed\n",
	       ST.trials, ST.late, secs, ST.ops, ST.recov, ST.ok, ST.failed, ST.crashed, ST.hung,
	       ST.other, ST.late_failed);
	corrupt_report(&run);
	restore();
	return t_done();
}

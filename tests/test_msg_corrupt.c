/*
 * test_msg_corrupt.c - a corrupted object file gives errors (EIDRM or
 * EINVAL), never a crash, a hang, an access out of bounds, or a result that
 * could not have come from any queue.
 *
 * A builder process creates two queues (one private, one keyed) with
 * messages of several types and sizes, free slots and a used waiter slot,
 * then exits; the parent keeps byte copies of the namespace's files ("ns",
 * "procs", "msg.<id>") and never maps anything itself. Each trial restores
 * the pristine files, corrupts them in one to three ways, and runs a fixed
 * script of calls in a forked child:
 *
 *   msgctl IPC_STAT / IPC_SET / MSG_STAT / MSG_INFO / IPC_INFO / IPC_RMID,
 *   msgrcv with msgtyp 0, > 0, < 0, LONG_MIN, MSG_EXCEPT, MSG_COPY,
 *   MSG_NOERROR and too small buffers, msgsnd of 0, small and multi-segment
 *   messages, timed msgrcv / msgsnd that register waiter slots, msgget, and
 *   an IPC_SET that grows the queue (copies it into a larger file).
 *
 * Every call must succeed with a sane result (size within the buffer, a
 * positive type that the selector allows) or fail with EIDRM or EINVAL, or
 * with the benign ENOMSG / EAGAIN / E2BIG / ENOENT where the corruption
 * left the queue usable. The child must exit by itself within a few
 * seconds: death by a signal (SIGSEGV, SIGBUS, the SIGALRM of a hang), an
 * AddressSanitizer report or an unexpected errno is a failure.
 *
 * Corruptions: truncation or extension of the file before it is opened;
 * every field of the queue header; message headers (state, size, type, seq,
 * queue links, type link, segment link); segment links; type nodes (type,
 * head, tail, hash link, heap positions); hash buckets; both heaps; waiter
 * slots and the waiter lists; random bytes and words anywhere; circular
 * lists (queue order, type list, free lists, segment chains); the namespace
 * file (truncation, magic, limits, key table, its lock) and the process
 * register. In about half the trials the queue's lock is also handed to a
 * dead process, so the first call runs recovery (svipc__mq_rebuild) over the
 * corrupted file.
 *
 * Before the random trials come targeted ones, the same in every run, one
 * for each weakness found so far (a heap position out of range, a type list
 * leading into another type, a size that recovery accepted, a type below 1,
 * a stale "moved" mark, a free segment list that loops, an allocator that
 * hands out live segments or headers). Where the corruption leaves payloads
 * alone, every byte received is also checked against what was sent: a
 * message that was never sent is silent corruption, a failure too.
 *
 * A file truncated while a process has it mapped cannot be defended by a
 * library (the next access raises SIGBUS); a few trials do exactly that and
 * are reported as a NOTE, not a failure.
 *
 * Environment: SVIPC_CORRUPT_SEED=<n> replays a run, SVIPC_CORRUPT_TRIAL=<i>
 * runs only trial i (-1, -2, ... for the targeted ones) and prints its
 * corruptions and every call's result,
 * SVIPC_CORRUPT_TRIALS=<n> sets the number of trials (default 4000); with
 * SVIPC_CORRUPT_TRIAL, SVIPC_CORRUPT_NOFORK=1 runs the trial without forking
 * (to run it under a debugger).
 */
#include "svipc.h"
#include "t.h"
#include "internal.h"
#include "msg.h"
#include "region.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#ifndef MSG_EXCEPT
#define MSG_EXCEPT 020000
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

#define QCAP 1024               /* msgmnb for the test's queues: small files */
#define KEY ((key_t)0x5c0c0de)
#define DEAD_TOKEN ((1u << 16) | 65000u) /* a register slot nobody holds */
#define BUFSZ 70000

/* The namespace file's layout (ns.c), for corrupting it. */
#define NS_OFF_LOCK 8
#define NS_OFF_LIM 16
#define NS_OFF_TABLE 144
#define NS_TABLE_SIZE (16 + 32768 * 16)

/* ---- shared with the children ------------------------------------------------------- */

struct shared {
	int qid, kid;
	int nbad;
	char report[4096];
	int verbose;
	long ops;
	int check_payload; /* the corruption left payloads alone: check every byte received */
};

/* ---- corruption kinds ----------------------------------------------------------------- */

enum {
	C_TRUNC, C_QFIELD, C_HDR, C_SEG, C_TNODE, C_BUCKET, C_HEAP, C_WAITER, C_BYTES, C_WORDS,
	C_CYCLE, C_NS, C_PROCS, C_NKINDS
};
static const char *const kind_name[C_NKINDS] = {
	"truncate", "queue header", "message header", "segment link", "type node", "hash bucket",
	"heap", "waiter", "random bytes", "random words", "circular list", "namespace file",
	"process register"
};
static const int kind_weight[C_NKINDS] = { 8, 18, 16, 8, 10, 5, 7, 7, 6, 6, 5, 5, 3 };

static char desc[1024]; /* the trial's corruptions */

#define CORRUPT_ENV "SVIPC_CORRUPT"
#define NOTE_BUF desc
#define CORRUPT_STATS_EXTRA long sigbus_trials, sigbus, sigbus_survived;
#include "corrupt.h"


/* A finding in the child: kept for the parent, which prints the first ones. */
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
	SH->nbad++;
	size_t o = strlen(SH->report);
	if (o + 200 < sizeof SH->report) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(SH->report + o, sizeof SH->report - o - 1, fmt, ap);
		va_end(ap);
		strcat(SH->report, "\n");
	}
}


/* ---- payloads ---------------------------------------------------------------------------- */

/* What the builder queued: message i is `len` bytes of 'a' + i; then 50 bytes of 'z', type 7. */
static const struct {
	long type;
	size_t len;
} msgs[] = { { 1, 0 },   { 2, 10 }, { 3, 24 }, { 1, 25 }, { 4, 100 }, { 2, 300 },
	     { 5, 61 },  { 3, 7 },  { 1, 140 }, { 6, 1 }, { 2, 84 } };

/* What the script sends: (type, length), bytes i * 13 + 5. */
static const struct {
	long type;
	size_t len;
} sent[] = { { 2, 11 }, { 9, 200 }, { 1, 0 }, { 3, 24 }, { 4, 70 }, { 8, 8000 }, { 3, 100 },
	      { 1, 1 } };

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 13 + 5);
}

/*
 * 1 if (mtype, payload) is a message that was ever sent (cut to bufsz by
 * MSG_NOERROR if trunc). Only asked in the targeted trials whose corruption
 * leaves every payload byte alone.
 */
static int payload_ok(long mtype, const unsigned char *p, size_t n, size_t bufsz, int trunc)
{
	for (size_t i = 0; i <= ARRAY_SIZE(msgs); i++) {
		long t = i < ARRAY_SIZE(msgs) ? msgs[i].type : 7;
		size_t len = i < ARRAY_SIZE(msgs) ? msgs[i].len : 50;
		unsigned char c = i < ARRAY_SIZE(msgs) ? (unsigned char)('a' + i) : 'z';
		if (t != mtype || !(n == len || (trunc && n == bufsz && bufsz < len)))
			continue;
		size_t k = 0;
		while (k < n && p[k] == c)
			k++;
		if (k == n)
			return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sent); i++) {
		if (sent[i].type != mtype || !(n == sent[i].len || (trunc && n == bufsz && bufsz < sent[i].len)))
			continue;
		size_t k = 0;
		while (k < n && p[k] == pattern(k))
			k++;
		if (k == n)
			return 1;
	}
	return 0;
}

/* ---- the script a trial runs ------------------------------------------------------------- */

enum { A_ENOMSG = 1, A_EAGAIN = 2, A_E2BIG = 4, A_ENOENT = 8, A_EPERM = 16, A_ENOSPC = 32,
       A_ENOMEM = 64 };

/*
 * EIDRM and EINVAL are always fine, and so is EACCES (a corrupted mode that
 * denies access, when not run as root); the benign ones only where listed.
 */
static void check_errno(const char *what, long r, int e, int allowed)
{
	SH->ops++;
	say("    %-40s -> %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
	if (r >= 0 || e == EIDRM || e == EINVAL || e == EACCES)
		return;
	if ((e == ENOMSG && (allowed & A_ENOMSG)) || (e == EAGAIN && (allowed & A_EAGAIN)) ||
	    (e == E2BIG && (allowed & A_E2BIG)) || (e == ENOENT && (allowed & A_ENOENT)) ||
	    (e == EPERM && (allowed & A_EPERM)) || (e == ENOSPC && (allowed & A_ENOSPC)) ||
	    (e == ENOMEM && (allowed & A_ENOMEM)))
		return;
	bad("%s: unexpected errno %d (%s)", what, e, strerror(e));
}

static unsigned char *rbuf;

static void rcv(int id, long typ, int flg, size_t bufsz, int timed)
{
	char what[96];
	snprintf(what, sizeof what, "msgrcv(%d, %zu, %ld, %#x%s)", id, bufsz, typ, flg,
		 timed ? ", 2 ms" : "");
	memset(rbuf, 0, sizeof(long));
	ssize_t n;
	if (timed) {
		struct timespec ts = { 0, 2000000 };
		n = svipc_msgrcv_timed(id, rbuf, bufsz, typ, flg, &ts);
	} else {
		n = svipc_msgrcv(id, rbuf, bufsz, typ, flg | IPC_NOWAIT);
	}
	int e = errno;
	/* No message in this file can be larger than BUFSZ: E2BIG there means a size field
	 * nobody checked (the queue's storage could never hold such a message). */
	if (n < 0 && e == E2BIG && bufsz >= BUFSZ) {
		SH->ops++;
		bad("%s: E2BIG, yet no message in this file can exceed %d bytes (a corrupted size "
		    "field, which should give EIDRM)", what, BUFSZ);
		return;
	}
	check_errno(what, n, e, A_ENOMSG | A_E2BIG | (timed ? A_EAGAIN : 0));
	if (n < 0)
		return;
	long mtype;
	memcpy(&mtype, rbuf, sizeof mtype);
	if ((size_t)n > bufsz)
		bad("%s returned %zd bytes into a %zu-byte buffer", what, n, bufsz);
	if (mtype < 1)
		bad("%s returned a message of type %ld", what, mtype);
	if (SH->check_payload && !payload_ok(mtype, rbuf + sizeof(long), (size_t)n, bufsz,
					     (flg & MSG_NOERROR) != 0))
		bad("%s returned %zd bytes of type %ld that are not what was sent: silent corruption",
		    what, n, mtype);
	if (flg & MSG_COPY)
		return;
	long t = typ < 0 ? (typ == LONG_MIN ? LONG_MAX : -typ) : typ;
	int ok = typ == 0 || (typ < 0 && mtype <= t) || (typ > 0 && (flg & MSG_EXCEPT) && mtype != t) ||
		 (typ > 0 && !(flg & MSG_EXCEPT) && mtype == t);
	if (!ok)
		bad("%s returned a message of type %ld, which msgtyp %ld%s does not select", what, mtype,
		    typ, (flg & MSG_EXCEPT) ? " with MSG_EXCEPT" : "");
}

static void snd(int id, long type, size_t len, int timed)
{
	static unsigned char b[sizeof(long) + 9000];
	char what[96];
	snprintf(what, sizeof what, "msgsnd(%d, type %ld, %zu bytes%s)", id, type, len,
		 timed ? ", 2 ms" : "");
	memcpy(b, &type, sizeof type);
	for (size_t i = 0; i < len; i++)
		b[sizeof(long) + i] = pattern(i);
	long r;
	if (timed) {
		struct timespec ts = { 0, 2000000 };
		r = svipc_msgsnd_timed(id, b, len, 0, &ts);
	} else {
		r = svipc_msgsnd(id, b, len, IPC_NOWAIT);
	}
	check_errno(what, r, errno, A_EAGAIN);
}

static void ctl(int id, int cmd, const char *name)
{
	int grow = cmd == -IPC_SET; /* IPC_SET past the file's capacity: copies it into a larger one */
	if (grow)
		cmd = IPC_SET;
	struct msqid_ds ds;
	memset(&ds, 0, sizeof ds);
	char what[64];
	snprintf(what, sizeof what, "msgctl(%d, %s)", id, name);
	long r;
	if (cmd == IPC_SET) {
		ds.msg_perm.uid = getuid();
		ds.msg_perm.gid = getgid();
		ds.msg_perm.mode = 0600;
		ds.msg_qbytes = grow ? 2 * QCAP : QCAP;
	}
	r = svipc_msgctl(id, cmd, cmd == IPC_RMID ? NULL : &ds);
	check_errno(what, r, errno, A_EPERM | A_ENOSPC | (grow ? A_ENOMEM : 0));
}

static void info(void)
{
	struct msginfo mi;
	long r = svipc_msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
	check_errno("msgctl(0, IPC_INFO)", r, errno, 0);
	r = svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	check_errno("msgctl(0, MSG_INFO)", r, errno, 0);
	struct msqid_ds ds;
	for (int idx = 0; idx < 3; idx++) {
		r = svipc_msgctl(idx, MSG_STAT, &ds);
		check_errno("msgctl(idx, MSG_STAT)", r, errno, 0);
		r = svipc_msgctl(idx, MSG_STAT_ANY, &ds);
		check_errno("msgctl(idx, MSG_STAT_ANY)", r, errno, 0);
	}
}

static void script(int qid, int kid, int timed, int rmid, int grow)
{
	if (SH->check_payload) {
		/* New messages first, while the old ones are all still there, then look at all. */
		snd(qid, 9, 200, 0);
		snd(qid, 3, 100, 0);
		snd(qid, 2, 11, 0);
		for (long k = 0; k < 16; k++)
			rcv(qid, k, MSG_COPY, BUFSZ, 0);
	}
	ctl(qid, IPC_STAT, "IPC_STAT");
	for (long k = 0; k < 4; k++)
		rcv(qid, k, MSG_COPY, BUFSZ, 0);
	rcv(qid, 7, MSG_COPY, BUFSZ, 0);
	rcv(qid, 0, 0, BUFSZ, 0);
	rcv(qid, 2, 0, BUFSZ, 0);
	rcv(qid, 3, 0, BUFSZ, 0);
	rcv(qid, 3, 0, BUFSZ, 0);
	rcv(qid, -3, 0, BUFSZ, 0);
	rcv(qid, 1, MSG_EXCEPT, BUFSZ, 0);
	rcv(qid, 1, MSG_NOERROR, 5, 0);
	rcv(qid, 3, 0, 1, 0);
	rcv(qid, LONG_MIN, 0, BUFSZ, 0);
	rcv(qid, 5, 0, BUFSZ, 0);
	snd(qid, 2, 11, 0);
	snd(qid, 9, 200, 0);
	snd(qid, 1, 0, 0);
	snd(qid, 3, 24, 0);
	rcv(qid, 9, 0, BUFSZ, 0);
	rcv(qid, 6, MSG_EXCEPT, BUFSZ, 0);
	rcv(qid, 2, MSG_COPY, 3, 0);
	rcv(qid, -100, 0, BUFSZ, 0);
	if (timed) {
		rcv(qid, 77, 0, BUFSZ, 1);
		snd(qid, 8, 8000, 1); /* larger than msg_qbytes: it waits */
	}
	ctl(qid, IPC_SET, "IPC_SET");
	if (grow) {
		ctl(qid, -IPC_SET, "IPC_SET to grow");
		rcv(qid, 0, MSG_COPY, BUFSZ, 0);
		rcv(qid, 0, 0, BUFSZ, 0);
		snd(qid, 2, 11, 0);
	}
	info();
	int k = svipc_msgget(KEY, 0);
	check_errno("msgget(KEY, 0)", k, errno, A_ENOENT);
	ctl(kid, IPC_STAT, "IPC_STAT");
	rcv(kid, 0, 0, BUFSZ, 0);
	rcv(kid, -4, MSG_NOERROR, 30, 0);
	snd(kid, 4, 70, 0);
	if (rmid) {
		ctl(qid, IPC_RMID, "IPC_RMID");
		snd(qid, 1, 1, 0);
		int n = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		check_errno("msgget(IPC_PRIVATE)", n, errno, A_ENOSPC);
		if (n >= 0) {
			snd(n, 3, 100, 0);
			rcv(n, 3, 0, BUFSZ, 0);
			ctl(n, IPC_RMID, "IPC_RMID");
		}
		ctl(kid, IPC_RMID, "IPC_RMID");
	}
	/* Drain what is left, within a bound. */
	for (int i = 0; i < 40; i++) {
		rcv(i % 2 ? kid : qid, 0, 0, BUFSZ, 0);
		if (SH->nbad)
			break;
	}
}

/* ---- the builder ----------------------------------------------------------------------- */

static void build(void)
{
	struct svipc_limits lim;
	if (svipc_limits_get(&lim) < 0)
		_exit(10);
	lim.msgmnb = QCAP;
	if (svipc_limits_set(&lim) < 0)
		_exit(11);
	int q = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	int k = svipc_msgget(KEY, IPC_CREAT | 0600);
	if (q < 0 || k < 0)
		_exit(12);
	unsigned char b[sizeof(long) + 400];
	for (int id = 0; id < 2; id++) {
		int qq = id ? k : q;
		for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
			memcpy(b, &msgs[i].type, sizeof(long));
			memset(b + sizeof(long), (int)i + 'a', msgs[i].len);
			if (svipc_msgsnd(qq, b, msgs[i].len, IPC_NOWAIT) < 0)
				_exit(13);
		}
		/* Free slots in every array: the only type-4 message, and the head. */
		if (svipc_msgrcv(qq, b, 400, 4, IPC_NOWAIT) < 0 || svipc_msgrcv(qq, b, 400, 0, IPC_NOWAIT) < 0)
			_exit(14);
		long t7 = 7;
		memcpy(b, &t7, sizeof t7);
		memset(b + sizeof(long), 'z', 50);
		if (svipc_msgsnd(qq, b, 50, IPC_NOWAIT) < 0)
			_exit(15);
		/* A waiter slot that was used. */
		struct timespec ts = { 0, 1000000 };
		svipc_msgrcv_timed(qq, b, 400, 99, 0, &ts);
	}
	/* Queues are sized by msgmnb when created; a higher limit lets IPC_SET grow them. */
	lim.msgmnb = 4 * QCAP;
	if (svipc_limits_set(&lim) < 0)
		_exit(16);
	SH->qid = q;
	SH->kid = k;
	_exit(0);
}

/* ---- files ---------------------------------------------------------------------------- */

/*
 * Puts the files back as the builder left it, and removes anything else. The
 * queue files always; "ns" and "procs" (1.5 MB and 1 MB) only when the last
 * trial corrupted them or may have changed them (msgget, IPC_RMID).
 */
static int dirty_ns = 1, dirty_procs = 1;

/* Removes name unless it is one of the files. */
static void remove_other(const char *name)
{
	int keep = 0;
	for (int i = 0; i < 4; i++)
		keep |= !strcmp(name, PF[i].name);
	if (!keep)
		unlinkat(dfd, name, 0);
}

static void restore(void)
{
	each_entry(remove_other);
	for (int i = 0; i < 4; i++)
		if (!((i == 0 && !dirty_ns) || (i == 1 && !dirty_procs)))
			put_back(i, 0);
	dirty_ns = dirty_procs = 0;
}

static void truncate_to(int f, uint64_t size)
{
	int fd = openat(dfd, PF[f].name, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		if (ftruncate(fd, (off_t)size) < 0)
			perror("ftruncate");
		close(fd);
	}
}

/* ---- corruptions ------------------------------------------------------------------------- */


/* The pristine geometry of a queue file. */
struct geom {
	struct msg_queue q;
	uint32_t live[64], nlive; /* committed headers, queue order */
};

static void geom_of(int f, struct geom *g)
{
	memset(g, 0, sizeof *g);
	memcpy(&g->q, PF[f].data, sizeof g->q);
	uint32_t h = g->q.ghead;
	while (h && g->nlive < 64 && h <= g->q.nhdr) {
		g->live[g->nlive++] = h;
		const struct msg_hdr *hp =
			(const void *)(PF[f].data + g->q.off_hdr + (uint64_t)(h - 1) * sizeof *hp);
		h = hp->gnext;
	}
}

/* An interesting value for an index field whose valid range is 1..n. */
static uint32_t idx_value(uint32_t n, uint32_t self, const struct geom *g)
{
	switch (below(12)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return n;
	case 3: return n + 1;
	case 4: return n + 2 + (uint32_t)below(1000);
	case 5: return 0x7fffffffu;
	case 6: return 0x80000000u;
	case 7: return 0xffffffffu;
	case 8: return self;
	case 9: return g->nlive ? g->live[below(g->nlive)] : 1;
	case 10: return 1 + (uint32_t)below(n ? n : 1);
	default: return (uint32_t)t_rand();
	}
}

struct field {
	const char *name;
	uint32_t off, width;
	int bound; /* 0: any value; 1..: index into the header's n* counts, see below */
};

enum { B_NONE, B_NHDR, B_NSEG, B_NTNODE, B_NWAIT, B_SIZE };

#define QF(f, b) { #f, offsetof(struct msg_queue, f), sizeof(((struct msg_queue *)0)->f), b }
static const struct field qfields[] = {
	QF(obj.magic, B_NONE), QF(obj.version, B_NONE), QF(obj.size, B_SIZE), QF(obj.id, B_NONE),
	QF(obj.lock, B_NONE), QF(obj.removed, B_NONE), QF(obj.corrupt, B_NONE),
	QF(obj.perm.key, B_NONE), QF(obj.perm.uid, B_NONE), QF(obj.perm.mode, B_NONE),
	QF(obj.perm.seq, B_NONE), QF(obj.gen, B_NONE), QF(obj.ctime, B_NONE),
	QF(cbytes, B_NONE), QF(qnum, B_NONE), QF(qbytes, B_NONE), QF(next_seq, B_NONE),
	QF(ghead, B_NHDR), QF(gtail, B_NHDR), QF(ntypes, B_NTNODE), QF(free_hdr, B_NHDR),
	QF(bump_hdr, B_NHDR), QF(free_seg, B_NSEG), QF(bump_seg, B_NSEG),
	QF(free_tnode, B_NTNODE), QF(bump_tnode, B_NTNODE), QF(thint, B_NTNODE),
	QF(rhead, B_NWAIT), QF(rtail, B_NWAIT), QF(shead, B_NWAIT), QF(stail, B_NWAIT),
	QF(noverflow, B_NONE), QF(overflow, B_NONE), QF(arrival, B_NONE), QF(lspid, B_NONE),
	QF(stime, B_NONE), QF(nhdr, B_NHDR), QF(nseg, B_NSEG), QF(ntnode, B_NTNODE),
	QF(nbucket, B_NONE), QF(off_hdr, B_SIZE), QF(off_seg, B_SIZE), QF(off_tnode, B_SIZE),
	QF(off_bucket, B_SIZE), QF(off_hseq, B_SIZE), QF(off_htype, B_SIZE), QF(off_waiter, B_SIZE),
};

#define HF(f, b) { #f, offsetof(struct msg_hdr, f), sizeof(((struct msg_hdr *)0)->f), b }
static const struct field hfields[] = {
	HF(state, B_NONE), HF(size, B_NONE), HF(type, B_NONE), HF(seq, B_NONE), HF(gnext, B_NHDR),
	HF(gprev, B_NHDR), HF(tnext, B_NHDR), HF(seg, B_NSEG),
};

#define TF(f, b) { #f, offsetof(struct msg_tnode, f), sizeof(((struct msg_tnode *)0)->f), b }
static const struct field tfields[] = {
	TF(type, B_NONE), TF(head, B_NHDR), TF(tail, B_NHDR), TF(hnext, B_NTNODE),
	TF(pos_seq, B_NTNODE), TF(pos_type, B_NTNODE),
};

#define WF(f, b) { #f, offsetof(struct msg_waiter, f), sizeof(((struct msg_waiter *)0)->f), b }
static const struct field wfields[] = {
	WF(word, B_NONE), WF(token, B_NONE), WF(next, B_NWAIT), WF(prev, B_NWAIT), WF(kind, B_NONE),
	WF(mode, B_NONE), WF(msgtyp, B_NONE), WF(size, B_NONE), WF(arrival, B_NONE),
};


static uint64_t bound_of(const struct geom *g, int b, int f)
{
	switch (b) {
	case B_NHDR: return g->q.nhdr;
	case B_NSEG: return g->q.nseg;
	case B_NTNODE: return g->q.ntnode;
	case B_NWAIT: return MSG_NWAITERS;
	case B_SIZE: return PF[f].size;
	}
	return 0;
}

/* Writes an interesting value into one field at off (in file f). */
static void corrupt_field(int f, uint64_t base, const struct field *fd, const struct geom *g,
			  uint32_t self, const char *what)
{
	uint64_t n = bound_of(g, fd->bound, f);
	uint64_t v;
	if (fd->width == 8)
		v = fd->bound == B_SIZE ? (below(2) ? n + below(3) * 64 - 64 : val64()) : val64();
	else if (fd->bound == B_NONE)
		v = below(3) ? (uint32_t)val64() : (uint32_t)below(8);
	else
		v = idx_value((uint32_t)n, self, g);
	if (fd->width == 8)
		poke64(f, base + fd->off, v);
	else
		poke32(f, base + fd->off, (uint32_t)v);
	note("%s.%s = %#llx", what, fd->name, (unsigned long long)v);
}

static void corrupt_one(int kind, int f, const struct geom *g)
{
	const struct msg_queue *q = &g->q;
	switch (kind) {
	case C_TRUNC: {
		static const uint64_t fixed[] = { 0, 1, 8, sizeof(struct svipc_obj) - 1,
						  sizeof(struct svipc_obj), sizeof(struct msg_queue) - 1,
						  sizeof(struct msg_queue) };
		uint64_t sz;
		switch (below(5)) {
		case 0: sz = fixed[below(ARRAY_SIZE(fixed))]; break;
		case 1: sz = PF[f].size - 1 - below(64); break;
		case 2: sz = PF[f].size + 1 + below(8192); break;
		case 3: sz = q->off_waiter + below(MSG_NWAITERS * sizeof(struct msg_waiter)); break;
		default: sz = below(PF[f].size); break;
		}
		truncate_to(f, sz);
		note("%s truncated to %llu of %zu bytes", PF[f].name, (unsigned long long)sz, PF[f].size);
		break;
	}
	case C_QFIELD:
		corrupt_field(f, 0, &qfields[below(ARRAY_SIZE(qfields))], g, 0, "queue");
		break;
	case C_HDR: {
		uint32_t h = below(3) && g->nlive ? g->live[below(g->nlive)]
						  : 1 + (uint32_t)below(MAX(q->bump_hdr, 1));
		const struct field *fd = &hfields[below(ARRAY_SIZE(hfields))];
		char what[32];
		snprintf(what, sizeof what, "hdr[%u]", h);
		corrupt_field(f, q->off_hdr + (uint64_t)(h - 1) * sizeof(struct msg_hdr), fd, g, h, what);
		break;
	}
	case C_SEG: {
		uint32_t s = 1 + (uint32_t)below(MAX(q->bump_seg, 1));
		static const struct field sf = { "next", 0, 4, B_NSEG };
		char what[32];
		snprintf(what, sizeof what, "seg[%u]", s);
		corrupt_field(f, q->off_seg + (uint64_t)(s - 1) * sizeof(struct msg_seg), &sf, g, s, what);
		break;
	}
	case C_TNODE: {
		uint32_t t = 1 + (uint32_t)below(MAX(q->bump_tnode, 1));
		const struct field *fd = &tfields[below(ARRAY_SIZE(tfields))];
		char what[32];
		snprintf(what, sizeof what, "tnode[%u]", t);
		corrupt_field(f, q->off_tnode + (uint64_t)(t - 1) * sizeof(struct msg_tnode), fd, g, t, what);
		break;
	}
	case C_BUCKET: {
		uint32_t b = (uint32_t)below(q->nbucket);
		uint32_t v = idx_value(q->ntnode, 1, g);
		poke32(f, q->off_bucket + 4ull * b, v);
		note("bucket[%u] = %#x", b, v);
		break;
	}
	case C_HEAP: {
		int which = (int)below(2);
		uint32_t pos = 1 + (uint32_t)below(MAX(q->ntypes + 1, 1));
		uint32_t v = idx_value(q->ntnode, 1, g);
		poke32(f, (which ? q->off_htype : q->off_hseq) + 4ull * (pos - 1), v);
		note("%s[%u] = %#x", which ? "htype" : "hseq", pos, v);
		break;
	}
	case C_WAITER: {
		if (below(4) == 0) {
			corrupt_field(f, 0, &qfields[27 + below(4)], g, 0, "queue"); /* rhead..stail */
			break;
		}
		uint32_t w = below(2) ? 1 : 1 + (uint32_t)below(MSG_NWAITERS);
		const struct field *fd = &wfields[below(ARRAY_SIZE(wfields))];
		char what[32];
		snprintf(what, sizeof what, "waiter[%u]", w);
		corrupt_field(f, q->off_waiter + (uint64_t)(w - 1) * sizeof(struct msg_waiter), fd, g, w, what);
		/* A slot that claims to be in use, so the lists reach it. */
		if (below(2)) {
			poke32(f, q->off_waiter + (uint64_t)(w - 1) * sizeof(struct msg_waiter) +
					  offsetof(struct msg_waiter, kind), 1 + (uint32_t)below(2));
			note("waiter[%u] in use", w);
		}
		break;
	}
	case C_BYTES: {
		int n = 1 + (int)below(16);
		for (int i = 0; i < n; i++) {
			/* Mostly where the data is: the header and the used parts of the arrays. */
			uint64_t off = below(3) ? below(q->off_seg + 64ull * q->bump_seg) : below(PF[f].size);
			if (below(4) == 0)
				off = q->off_tnode + below(32ull * MAX(q->bump_tnode, 1));
			uint8_t v = (uint8_t)t_rand();
			poke(f, off, &v, 1);
		}
		note("%d random bytes", n);
		break;
	}
	case C_WORDS: {
		int n = 1 + (int)below(8);
		for (int i = 0; i < n; i++) {
			uint64_t off = below(PF[f].size / 4) * 4;
			if (below(2))
				off = below(MIN(PF[f].size, q->off_waiter + 4096) / 4) * 4;
			uint32_t v = below(2) ? (uint32_t)t_rand() : idx_value(q->nhdr, 1, g);
			poke32(f, off, v);
		}
		note("%d random words", n);
		break;
	}
	case C_CYCLE: {
		if (g->nlive < 2)
			break;
		uint32_t a = g->live[below(g->nlive)], b = g->live[below(g->nlive)];
		uint64_t ha = q->off_hdr + (uint64_t)(a - 1) * sizeof(struct msg_hdr);
		switch (below(5)) {
		case 0: /* queue order loops back */
			poke32(f, ha + offsetof(struct msg_hdr, gnext), b);
			note("hdr[%u].gnext = %u (a cycle)", a, b);
			break;
		case 1:
			poke32(f, ha + offsetof(struct msg_hdr, tnext), b);
			note("hdr[%u].tnext = %u (a cycle)", a, b);
			break;
		case 2: { /* a segment chain that loops */
			uint32_t s = 1 + (uint32_t)below(MAX(q->bump_seg, 1));
			poke32(f, q->off_seg + (uint64_t)(s - 1) * sizeof(struct msg_seg), s);
			note("seg[%u].next = itself", s);
			break;
		}
		case 3: /* two messages share a chain */
			if (q->bump_seg) {
				uint32_t s = 1 + (uint32_t)below(q->bump_seg);
				poke32(f, ha + offsetof(struct msg_hdr, seg), s);
				note("hdr[%u].seg = %u (shared)", a, s);
			}
			break;
		default: /* free lists loop */
			poke32(f, offsetof(struct msg_queue, free_hdr), a);
			poke32(f, ha + offsetof(struct msg_hdr, gnext), a);
			note("free_hdr = %u, which links to itself", a);
			break;
		}
		break;
	}
	case C_NS: {
		int nsf = 0;
		dirty_ns = 1;
		switch (below(8)) {
		case 0: {
			uint64_t sz = below(2) ? below(PF[nsf].size) : PF[nsf].size + 1 + below(4096);
			truncate_to(nsf, sz);
			note("ns truncated to %llu", (unsigned long long)sz);
			break;
		}
		case 1:
			poke32(nsf, below(2) * 4, (uint32_t)t_rand());
			note("ns magic/version");
			break;
		case 2:
			poke32(nsf, NS_OFF_LOCK, DEAD_TOKEN);
			note("ns lock held by the dead");
			break;
		case 3: {
			int which = (int)below(3); /* msgmax, msgmnb, msgmni */
			uint64_t v = val64();
			poke64(nsf, NS_OFF_LIM + 8ull * which, v);
			note("ns limit %d = %#llx", which, (unsigned long long)v);
			break;
		}
		case 4: { /* table header of the msg table */
			int which = (int)below(3); /* next_idx, in_use, hiwater */
			uint32_t v = (uint32_t)val64();
			poke32(nsf, NS_OFF_TABLE + 4ull * which, v);
			note("ns msg table field %d = %#x", which, v);
			break;
		}
		default: { /* the entries of our queues, or random ones */
			uint32_t idx = below(3) ? SVIPC_ID_IDX(below(2) ? SH->qid : SH->kid) : (uint32_t)below(64);
			int which = (int)below(3); /* key, state, seq */
			uint32_t v = which == 1 ? (uint32_t)below(6) : (uint32_t)val64();
			poke32(nsf, NS_OFF_TABLE + 16 + 16ull * idx + 4ull * which, v);
			if (below(3) == 0)
				poke32(nsf, NS_OFF_LOCK, DEAD_TOKEN); /* and recover over it */
			note("ns entry %u field %d = %#x", idx, which, v);
			break;
		}
		}
		break;
	}
	case C_PROCS: {
		int pf = 1;
		dirty_procs = 1;
		switch (below(4)) {
		case 0: {
			uint64_t sz = below(64);
			truncate_to(pf, sz);
			note("procs truncated to %llu", (unsigned long long)sz);
			break;
		}
		case 1:
			poke32(pf, below(3) * 4, (uint32_t)t_rand());
			note("procs magic/version/hint");
			break;
		default: {
			for (int i = 0; i < 8; i++)
				poke32(pf, 16 + 16 * below(64) + 4 * below(4), (uint32_t)t_rand());
			note("procs entries");
			break;
		}
		}
		break;
	}
	}
}

/* AddressSanitizer must leave SIGBUS alone: it is the expected end of the after-mapping trials. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_sigbus=0";
}


/* ---- targeted trials: one for each weakness found so far, the same in every run ---------- */

static const struct msg_hdr *phdr(int f, const struct geom *g, uint32_t h)
{
	return (const void *)(PF[f].data + g->q.off_hdr + (uint64_t)(h - 1) * sizeof(struct msg_hdr));
}

static const struct msg_tnode *ptnode(int f, const struct geom *g, uint32_t t)
{
	return (const void *)(PF[f].data + g->q.off_tnode + (uint64_t)(t - 1) * sizeof(struct msg_tnode));
}

/* The live header of type `type` (the n-th of it), or 0. */
static uint32_t live_of_type(int f, const struct geom *g, int64_t type, int nth)
{
	for (uint32_t k = 0; k < g->nlive; k++)
		if (phdr(f, g, g->live[k])->type == type && nth-- == 0)
			return g->live[k];
	return 0;
}

/* The type node of `type`, or 0. */
static uint32_t tnode_of(int f, const struct geom *g, int64_t type)
{
	for (uint32_t t = 1; t <= g->q.bump_tnode; t++)
		if (ptnode(f, g, t)->type == type && ptnode(f, g, t)->head)
			return t;
	return 0;
}

static const char *const fixed_name[] = {
	"heap position 0 of the head's type (which has more messages)",
	"heap position 2^30 of the head's type (which has more messages)",
	"a type node whose head is a message of another type",
	"a type list (tnext) that leads into another type",
	"a 10-byte message whose size says 4 GB, then recovery",
	"a message of type 0 in the queue",
	"a queue marked moved that was never moved",
	"a queue marked moved, its lock held by the dead",
	"the free segment list loops on itself",
	"the segment allocator forgot every segment (bump 0, no free list)",
	"the free header list points at a live message",
	"the header allocator forgot every header (bump 0, no free list)",
};
/* From this targeted trial on, payloads are untouched: every byte received is checked. */
#define FIXED_PAYLOAD_FROM 8
#define NFIXED ((long)ARRAY_SIZE(fixed_name))

/* Applies targeted corruption k to queue file f. */
static void fixed_corruption(int k, int f, const struct geom *g)
{
	/* The first receive takes the queue's head, whose type has more messages. */
	uint32_t t1 = tnode_of(f, g, phdr(f, g, g->live[0])->type), t3 = tnode_of(f, g, 3);
	uint64_t tbase1 = g->q.off_tnode + (uint64_t)(t1 - 1) * sizeof(struct msg_tnode);
	uint64_t tbase3 = g->q.off_tnode + (uint64_t)(t3 - 1) * sizeof(struct msg_tnode);
	uint32_t h3 = live_of_type(f, g, 3, 0), h6 = live_of_type(f, g, 6, 0);
	uint32_t h2 = live_of_type(f, g, 2, 0);
	uint64_t hb3 = g->q.off_hdr + (uint64_t)(h3 - 1) * sizeof(struct msg_hdr);
	uint64_t hb2 = g->q.off_hdr + (uint64_t)(h2 - 1) * sizeof(struct msg_hdr);
	switch (k) {
	case 0:
	case 1:
		poke32(f, tbase1 + offsetof(struct msg_tnode, pos_seq), k ? 1u << 30 : 0);
		break;
	case 2:
		poke32(f, tbase3 + offsetof(struct msg_tnode, head), h6);
		break;
	case 3:
		poke32(f, hb3 + offsetof(struct msg_hdr, tnext), h6);
		break;
	case 4: /* hdr h2 is {type 2, 10 bytes}: no segment */
		poke32(f, hb2 + offsetof(struct msg_hdr, size), 0xffffffffu);
		poke32(f, offsetof(struct svipc_obj, lock), DEAD_TOKEN);
		break;
	case 5:
		poke64(f, hb2 + offsetof(struct msg_hdr, type), 0);
		break;
	case 6:
	case 7:
		poke32(f, offsetof(struct svipc_obj, removed), SVIPC_OBJ_MOVED);
		if (k == 7)
			poke32(f, offsetof(struct svipc_obj, lock), DEAD_TOKEN);
		break;
	case 8:
		if (g->q.free_seg)
			poke32(f, g->q.off_seg + (uint64_t)(g->q.free_seg - 1) * sizeof(struct msg_seg),
			       g->q.free_seg);
		break;
	case 9:
		poke32(f, offsetof(struct msg_queue, bump_seg), 0);
		poke32(f, offsetof(struct msg_queue, free_seg), 0);
		break;
	case 10:
		poke32(f, offsetof(struct msg_queue, free_hdr), g->live[1]);
		break;
	case 11:
		poke32(f, offsetof(struct msg_queue, bump_hdr), 0);
		poke32(f, offsetof(struct msg_queue, free_hdr), 0);
		break;
	}
	note("%s", fixed_name[k]);
}

/* ---- the trials ------------------------------------------------------------------------------ */

static struct geom GQ, GK;

/* What the trial child does (trial_child); returns its exit status. */
struct child_args {
	int f, timed, rmid, grow, after_map;
	uint64_t trunc_size;
};

static int trial_child(void *arg)
{
	const struct child_args *a = arg;
	if (a->after_map) {
		struct msqid_ds ds;
		svipc_msgctl(SH->qid, IPC_STAT, &ds);
		svipc_msgctl(SH->kid, IPC_STAT, &ds);
		truncate_to(a->f, a->trunc_size);
	}
	script(SH->qid, SH->kid, a->timed, a->rmid, a->grow);
	return SH->nbad ? 2 : 0;
}

/* One trial; after_map: truncate the file only after the child has mapped it. */
static void trial(uint64_t seed, long i, int after_map)
{
	t_rng = t_mix64(seed ^ (uint64_t)i * 0x100000001b3ull);
	restore();
	desc[0] = 0;
	int kinds[3], nk = 0;
	int f = below(5) ? 2 : 3;
	const struct geom *g = f == 2 ? &GQ : &GK;
	int recov = 0;
	uint64_t trunc_size = 0;
	SH->check_payload = 0;
	if (i < 0) {
		f = 2, g = &GQ;
		fixed_corruption((int)(-i - 1), f, g);
		SH->check_payload = -i - 1 >= FIXED_PAYLOAD_FROM;
	} else if (after_map) {
		trunc_size = below(3) ? below(PF[f].size) : PF[f].size - 4096 * (1 + below(8));
		note("%s truncated to %llu after the child mapped it", PF[f].name,
		     (unsigned long long)trunc_size);
	} else {
		nk = 1 + (int)below(3);
		for (int k = 0; k < nk; k++) {
			kinds[k] = pick_kind();
			corrupt_one(kinds[k], f, g);
		}
		if (below(2)) {
			poke32(f, offsetof(struct svipc_obj, lock), DEAD_TOKEN);
			note("lock held by the dead (recovery runs)");
			recov = 1;
		}
	}
	struct child_args a = { .f = f, .after_map = after_map, .trunc_size = trunc_size };
	a.timed = i >= 0 && below(4) == 0;
	a.rmid = i >= 0 && below(6) == 0;
	a.grow = i >= 0 && below(4) == 0;
	dirty_ns |= a.rmid;
	SH->nbad = 0;
	SH->report[0] = 0;
	SH->ops = 0;
	if (SH->verbose)
		fprintf(stderr, "trial %ld: %s\n", i, desc);
	/*
	 * A generous alarm: a loaded CI machine (ASan, -j2) is slow.
	 * SVIPC_CORRUPT_NOFORK=1 with SVIPC_CORRUPT_TRIAL: runs in this process, for a debugger.
	 */
	int st = run_trial_child(trial_child, &a, 20);
	ST.trials++;
	ST.ops += SH->ops;
	if (after_map) {
		ST.sigbus_trials++;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS) {
			ST.sigbus++;
			return;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			ST.sigbus_survived++;
			return;
		}
	}
	ST.recov += recov;
	for (int k = 0; k < nk; k++)
		ST.by_kind[kinds[k]]++;
	char buf[96];
	const char *what = trial_outcome(st, 20, buf, sizeof buf);
	if (!what)
		return;
	for (int k = 0; k < nk; k++)
		ST.bad_kind[kinds[k]]++;
	trial_failed(i, "trial %ld: %s\n    corruption: %s\n%s", i, what, desc, SH->report);
}

/* The untouched files pass the script (the test's own sanity). */
static int pristine_child(void *arg)
{
	(void)arg;
	script(SH->qid, SH->kid, 1, 1, 1);
	return SH->nbad ? 2 : 0;
}

int main(void)
{
	t_setup(240);
	struct corrupt_run run = corrupt_start("test_msg_corrupt", 4000, build);
	long ntrials = run.ntrials, only = run.only;
	rbuf = malloc(sizeof(long) + BUFSZ);
	char name[32];
	load(&PF[0], "ns");
	load(&PF[1], "procs");
	snprintf(name, sizeof name, "msg.%d", SH->qid);
	load(&PF[2], name);
	snprintf(name, sizeof name, "msg.%d", SH->kid);
	load(&PF[3], name);
	geom_of(2, &GQ);
	geom_of(3, &GK);
	printf("  queue file %zu bytes: %u headers, %u segments, %u type nodes, %u live messages, "
	       "%u types\n", PF[2].size, GQ.q.nhdr, GQ.q.nseg, GQ.q.ntnode, GQ.nlive, GQ.q.ntypes);

	/* The untouched files pass the script (the test's own sanity). */
	if (only == LONG_MIN) {
		restore();
		int st = run_trial_child(pristine_child, NULL, 10);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			T_FAIL("the script fails on the pristine files: %#x\n%s", st, SH->report);
		dirty_ns = 1;
	}

	long n_after = ntrials / 50;
	/* The targeted trials first: trial -1 .. -NFIXED. */
	for (long k = 1; k <= NFIXED; k++)
		if (only == LONG_MIN || only == -k)
			trial(run.seed, -k, 0);
	if (only == LONG_MIN)
		printf("  %ld targeted trials (one per weakness found so far), %ld failed\n", NFIXED,
		       ST.fixed_failed);
	for (long i = 0; i < ntrials; i++)
		if (only == LONG_MIN || only == i)
			trial(run.seed, i, 0);
	for (long i = ntrials; i < ntrials + n_after; i++)
		if (only == LONG_MIN || only == i)
			trial(run.seed, i, 1);
	double secs = corrupt_secs(&run);

	printf("test_msg_corrupt: %ld trials in %.1f s (%ld calls), %ld with recovery over the "
	       "corruption: %ld fine, %ld wrong results, %ld crashes, %ld hangs, %ld other exits\n",
	       ST.trials - ST.sigbus_trials, secs, ST.ops, ST.recov, ST.ok, ST.failed, ST.crashed,
	       ST.hung, ST.other);
	corrupt_report(&run);
	if (ST.sigbus_trials)
		printf("  NOTE: a file truncated while mapped: %ld of %ld trials died of SIGBUS "
		       "(a library cannot prevent that; not counted as failures), %ld were fine\n",
		       ST.sigbus, ST.sigbus_trials, ST.sigbus_survived);
	dirty_ns = dirty_procs = 1;
	restore();
	return t_done();
}

/*
 * test_sem_oracle.c - the running kernel is the oracle for semaphore sets.
 *
 * Every scenario below is written once against a table of function pointers
 * {semget, semop, semtimedop, semctl} (struct sem_impl, t.h) and run twice:
 * once with libc's functions (the kernel's System V semaphores) and once
 * with svipc_sem*. Each call appends one line to a transcript: the call, its
 * result and errno, and what was read back (values, counts, pids, IPC_STAT
 * fields). The two transcripts must match line by line; every difference is
 * printed (as a diff, so one missing line is one difference).
 *
 * Isolation: as root, the kernel's side of each scenario runs in a fresh IPC
 * namespace (unshare(CLONE_NEWIPC) in the runner, with /proc/sys/kernel/sem
 * copied from the test's own namespace), and svipc's side in a fresh
 * namespace directory (SVIPC_DIR=<test dir>/<scenario>). So both start
 * empty, counts such as SEM_INFO's are exact, nothing another test does
 * can disturb them, and every kernel set dies with its namespace. Without
 * root the kernel side runs in the shared namespace (its sets are tracked
 * and removed as in the other oracles) and the lines that need an empty
 * namespace are informational.
 *
 * Values that cannot be equal are recorded as properties:
 *  - set ids become m0, m1... in order of first appearance; indexes (for
 *    SEM_STAT) are named after the set found there;
 *  - keys become K0..K3 (fresh per scenario) or PRIVATE;
 *  - times: "0", "now" (within 2 s) or, in "times", T(<call>): the calls are
 *    1.1 s apart and a time field is named by the call that set it;
 *  - pids: runner / child1.. / 0;
 *  - timed waits: "after the timeout" or "before the timeout".
 * Lines starting with '~' are informational: a mismatch there is a NOTE.
 *
 * Children that block are checked to be asleep (/proc state S) before the
 * runner acts, their results are recorded by the runner in a fixed order,
 * and every child is bounded by its own alarm; a child still blocked when
 * it should have returned is killed and recorded as such.
 *
 * Scenarios (the table at the end): semget with IPC_PRIVATE, keys,
 * CREAT/EXCL, nsems (0, negative, SEMMSL, more than the set has), modes,
 * permissions as uid 65534, ENOSPC for SEMMNS/SEMMNI and lowered SEMMSL/
 * SEMOPM; semop/semtimedop errors and their order (E2BIG, EINVAL, EFBIG,
 * EACCES, timespec), increments, decrements, wait-for-zero, all-or-nothing,
 * one semaphore several times in one call, ERANGE (SEMVMX and SEM_UNDO
 * adjustments), IPC_NOWAIT on some operations only, timeouts, hand-off in
 * arrival order (also with 300 waiters), wait-for-zero wake-ups,
 * GETNCNT/GETZCNT of blocked complex operations, errors delivered to
 * sleepers, EIDRM, EINTR (SA_RESTART, SIGSTOP/SIGCONT), waiters killed while
 * blocked, permission revoked while blocked, SEMOPM raised after a set was
 * made, SEM_UNDO at exit (clamping, fork, exec, kill, cleared by
 * SETVAL/SETALL); semctl GETVAL/SETVAL/GETALL/SETALL/GETPID/GETNCNT/GETZCNT
 * and their error order, IPC_STAT/IPC_SET/IPC_RMID, IPC_INFO/SEM_INFO,
 * SEM_STAT/SEM_STAT_ANY, bad ids and commands, times.
 *
 * Usage: test_sem_oracle [--kernel-only] [scenario...]
 *   --kernel-only  runs only the kernel's side and prints its transcripts
 *                  (for writing scenarios; compares nothing)
 *   scenario...    runs only the scenarios named
 * SVIPC_ORACLE_VERBOSE=1 prints every kernel transcript.
 * The machinery this shares with the other oracles is in oracle.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#define TLINES 700
#define ORACLE_NIDS 128
#define ORACLE_NAME_WIDTH 22
#include "oracle.h"

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

#define HUGE_ID (INT_MAX - 0x1234) /* an id that was never handed out */
#define NOWAIT IPC_NOWAIT
#define UNDO SEM_UNDO
#define SEMVMX 32767

/* OPS({0, -1, 0}, {1, +1, NOWAIT}) is the two arguments "sops, nsops". */
#define OPS(...)                                                              \
	(struct sembuf[]){ __VA_ARGS__ },                                     \
		sizeof((struct sembuf[]){ __VA_ARGS__ }) / sizeof(struct sembuf)
/* VALS(1, 2, 3) is the two arguments "array, n" of r_setall. */
#define VALS(...)                                                             \
	(unsigned short[]){ __VA_ARGS__ },                                    \
		sizeof((unsigned short[]){ __VA_ARGS__ }) / sizeof(unsigned short)

static const struct sem_impl K = T_KERNEL_SEM;
static const struct sem_impl S = T_SVIPC_SEM;

/* The limits of the test's own IPC namespace: /proc/sys/kernel/sem. */
static long g_semmsl, g_semmns, g_semopm, g_semmni;
/* The kernel's runners each have a fresh IPC namespace (root only). */
static int g_private;
static int g_kernel_only;

/* A child that makes one semop/semtimedop call; the runner records it. */
enum { KF_TIMED = 1, KF_USR1 = 2, KF_RESTART = 4, KF_IGN = 8, KF_HOLD = 16 };

struct kid {
	pid_t pid;
	int id, flags;
	size_t n;
	struct sembuf ops[8];
	struct timespec ts;
	int started, returned, release, handled;
	int r, e;
	long long ns; /* how long the call took */
	char desc[200];
};

/* MAP_SHARED as well: what this oracle's runners and children share beyond
 * oracle.h's transcript and labels. */
struct shared {
	struct kid kid[10];
	int v[16]; /* scratch */
	int mseq; /* sc_many_waiters: completions so far */
	struct many {
		int started, r, e, order;
	} many[320];
};

static struct shared *sh;
static volatile sig_atomic_t g_handled;

/* ---------------------------------------------------------------- helpers */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* What oracle.h asks of its includer. */
static void ipc_rm(int kernel, int id)
{
	(kernel ? &K : &S)->ctl(id, 0, IPC_RMID, (union t_semun){ .val = 0 });
}

static int kernel_key_unused(key_t k)
{
	return semget(k, 0, 0) == -1 && errno == ENOENT;
}

static void rec_killed(const char *what, int child, int sig)
{
	rec("%s%s by %s", pre(what), child ? "child killed" : "RUNNER KILLED",
	    sig == SIGALRM ? "SIGALRM (hung)" : sigabbrev_np(sig));
}

/* Kernel sets are tracked for removal only in the shared namespace: in a
 * private one they die with it, and main's namespace must not be touched. */
static void trk(const struct sem_impl *A, int id)
{
	if (!g_private)
		track(A->kernel, id);
}

/* Set ids are m0, m1...; ids never handed out are named. */
static const char *lab(int id)
{
	if (id == HUGE_ID)
		return "NEVER-CREATED";
	if (id == INT_MIN)
		return "INT_MIN";
	return id_label(id, 'm');
}

/* Lines that hold only in an empty namespace are informational outside one. */
static const char *excl(void)
{
	return g_private ? "" : "~";
}

static const char *yn(int v)
{
	return v ? "yes" : "NO";
}

/* semget flags: CREAT|EXCL|0640 and the rest in hex. */
static const char *getfl(int flg)
{
	unsigned f = (unsigned)flg;
	char *b = rot();
	size_t o = 0;
	b[0] = 0;
	if (f & IPC_CREAT)
		o += (size_t)snprintf(b + o, ROTLEN - o, "CREAT");
	if (f & IPC_EXCL)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%sEXCL", o ? "|" : "");
	f &= ~(unsigned)(IPC_CREAT | IPC_EXCL);
	if (f & 0777)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s0%o", o ? "|" : "", f & 0777);
	f &= ~0777u;
	if (f)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s0x%x", o ? "|" : "", f);
	if (!o)
		snprintf(b, ROTLEN, "0");
	return b;
}

static const char *nslab(long n)
{
	char *b = rot();
	if (n == g_semmsl)
		return "semmsl";
	if (n == g_semmsl + 1)
		return "semmsl+1";
	if (n == INT_MAX)
		return "INT_MAX";
	if (n == INT_MIN)
		return "INT_MIN";
	snprintf(b, ROTLEN, "%ld", n);
	return b;
}

/* [0:-1 NOWAIT, 1:+2 UNDO, 2:0]; long arrays by their length. */
static const char *opsstr(const struct sembuf *ops, size_t n)
{
	char *b = rot();
	size_t o = 0;
	if (n > 6) {
		snprintf(b, ROTLEN, "[%zu ops]", n);
		return b;
	}
	o += (size_t)snprintf(b + o, ROTLEN - o, "[");
	for (size_t i = 0; i < n && o < ROTLEN; i++) {
		unsigned f = (unsigned short)ops[i].sem_flg;
		char v[16];
		if (ops[i].sem_op)
			snprintf(v, sizeof v, "%+d", ops[i].sem_op);
		else
			snprintf(v, sizeof v, "0");
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s%u:%s%s%s", i ? ", " : "",
				      ops[i].sem_num, v, f & IPC_NOWAIT ? " NOWAIT" : "",
				      f & SEM_UNDO ? " UNDO" : "");
		f &= ~(unsigned)(IPC_NOWAIT | SEM_UNDO);
		if (f && o < ROTLEN)
			o += (size_t)snprintf(b + o, ROTLEN - o, " flag 0x%x", f);
	}
	if (o < ROTLEN)
		snprintf(b + o, ROTLEN - o, "]");
	return b;
}

static const char *tslab(const struct timespec *ts)
{
	char *b = rot();
	if (!ts)
		return "NULL";
	if (ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L && ts->tv_nsec % 1000000 == 0 &&
	    ts->tv_sec >= 0 && ts->tv_sec < 1000000)
		snprintf(b, ROTLEN, "%llds+%ldms", (long long)ts->tv_sec, ts->tv_nsec / 1000000);
	else
		snprintf(b, ROTLEN, "{%lld,%ld}", (long long)ts->tv_sec, ts->tv_nsec);
	return b;
}

static long long ts_ns(const struct timespec *ts)
{
	if (ts->tv_sec > 1000000000L)
		return LLONG_MAX;
	return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static const char *cmdname(int cmd)
{
	char *b = rot();
	switch (cmd) {
	case IPC_RMID: return "IPC_RMID";
	case IPC_SET: return "IPC_SET";
	case IPC_STAT: return "IPC_STAT";
	case IPC_INFO: return "IPC_INFO";
	case SEM_INFO: return "SEM_INFO";
	case SEM_STAT: return "SEM_STAT";
	case SEM_STAT_ANY: return "SEM_STAT_ANY";
	case GETPID: return "GETPID";
	case GETVAL: return "GETVAL";
	case GETALL: return "GETALL";
	case GETNCNT: return "GETNCNT";
	case GETZCNT: return "GETZCNT";
	case SETVAL: return "SETVAL";
	case SETALL: return "SETALL";
	default: snprintf(b, ROTLEN, "cmd=%#x", (unsigned)cmd); return b;
	}
}

static const char *proc_comm(pid_t p)
{
	char path[64];
	char *b = rot();
	snprintf(path, sizeof path, "/proc/%d/comm", (int)p);
	b[0] = 0;
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(b, ROTLEN, f))
			b[0] = 0;
		fclose(f);
	}
	b[strcspn(b, "\n")] = 0;
	return b;
}

/* The state letter of /proc/<pid>/stat (R, S, T, Z...), or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *c = strrchr(buf, ')');
	return c && c[1] == ' ' ? c[2] : 0;
}

/* ----------------------------------------------------- recorded wrappers */

static int r_get(const struct sem_impl *A, const char *what, key_t key, int nsems, int flg)
{
	errno = 0;
	int r = A->get(key, nsems, flg);
	int e = errno;
	trk(A, r);
	rec("%ssemget(%s, %s, %s) -> %s", pre(what), keylab(key), nslab(nsems), getfl(flg),
	    r >= 0 ? lab(r) : rv(r, e));
	return r;
}

static int r_op(const struct sem_impl *A, const char *what, int id, struct sembuf *ops, size_t n)
{
	const char *os = opsstr(ops, n);
	errno = 0;
	int r = A->op(id, ops, n);
	int e = errno;
	rec("%ssemop(%s, %s) -> %s", pre(what), lab(id), os, rv(r, e));
	return r;
}

/* semtimedop; a wait that ends is placed against the timeout asked for. */
static int r_top(const struct sem_impl *A, const char *what, int id, struct sembuf *ops, size_t n,
		 const struct timespec *ts)
{
	const char *os = opsstr(ops, n);
	const char *tl = tslab(ts);
	errno = 0;
	int64_t t0 = now_ns();
	int r = A->timedop(id, ops, n, ts);
	int e = errno;
	int64_t dt = now_ns() - t0;
	const char *when = "";
	if (ts && r == -1 && e == EAGAIN && ts_ns(ts) >= 0)
		when = dt >= ts_ns(ts) ? " after the timeout" : " before the timeout";
	rec("%ssemtimedop(%s, %s, %s) -> %s%s", pre(what), lab(id), os, tl, rv(r, e), when);
	return r;
}

/* A semctl whose fourth argument, if any, is unused or a big zeroed buffer. */
static int r_cmd(const struct sem_impl *A, const char *what, int id, int semnum, int cmd)
{
	static long long scratch[512];
	memset(scratch, 0, sizeof scratch);
	union t_semun a = { .buf = (struct semid_ds *)(void *)scratch };
	if (cmd == SETVAL)
		a.val = 1;
	errno = 0;
	int r = A->ctl(id, semnum, cmd, a);
	int e = errno;
	const char *res = rv(r, e);
	if (r >= 0 && (cmd == IPC_INFO || cmd == SEM_INFO))
		res = ">=0";
	else if (r >= 0 && (cmd == SEM_STAT || cmd == SEM_STAT_ANY))
		res = lab(r);
	else if (r >= 0 && cmd == GETPID)
		res = pidlab(r);
	rec("%ssemctl(%s, %d, %s%s) -> %s", pre(what), lab(id), semnum, cmdname(cmd),
	    cmd == SETVAL ? ", 1" : "", res);
	return r;
}

static int r_getval(const struct sem_impl *A, const char *what, int id, int semnum)
{
	return r_cmd(A, what, id, semnum, GETVAL);
}

static int r_setval(const struct sem_impl *A, const char *what, int id, int semnum, int val)
{
	errno = 0;
	int r = A->ctl(id, semnum, SETVAL, (union t_semun){ .val = val });
	int e = errno;
	rec("%sSETVAL(%s, %d, %d) -> %s", pre(what), lab(id), semnum, val, rv(r, e));
	return r;
}

/* GETALL of a set of n semaphores (n <= GETALL_MAX); says so if more than n
 * entries were written. Sets of more than 16 are printed by their nonzero
 * values. */
#define GETALL_MAX 1024
static int r_getall_n(const struct sem_impl *A, const char *what, int id, int semnum, int n)
{
	static unsigned short v[GETALL_MAX + 8];
	char b[400];
	size_t o = 0;
	for (int i = 0; i < GETALL_MAX + 8; i++)
		v[i] = 0xbeef;
	errno = 0;
	int r = A->ctl(id, semnum, GETALL, (union t_semun){ .array = v });
	int e = errno;
	b[0] = 0;
	if (r == 0 && n <= 16) {
		o += (size_t)snprintf(b + o, sizeof b - o, " [");
		for (int i = 0; i < n && o < sizeof b; i++)
			o += (size_t)snprintf(b + o, sizeof b - o, "%s%u", i ? " " : "", v[i]);
	} else if (r == 0) {
		int shown = 0;
		o += (size_t)snprintf(b + o, sizeof b - o, " [%d values; nonzero:", n);
		for (int i = 0; i < n && o < sizeof b; i++)
			if (v[i] && shown++ < 12)
				o += (size_t)snprintf(b + o, sizeof b - o, " %d=%u", i, v[i]);
		if (!shown && o < sizeof b)
			o += (size_t)snprintf(b + o, sizeof b - o, " none");
	}
	if (r == 0 && o < sizeof b)
		o += (size_t)snprintf(b + o, sizeof b - o, "]%s",
				      v[n] != 0xbeef ? " WROTE PAST nsems" : "");
	rec("%sGETALL(%s%s) -> %s%s", pre(what), lab(id), semnum ? ", semnum ignored" : "", rv(r, e),
	    b);
	return r;
}

static int r_getall(const struct sem_impl *A, const char *what, int id, int n)
{
	return r_getall_n(A, what, id, 0, n);
}

static int r_setall_n(const struct sem_impl *A, const char *what, int id, int semnum,
		      const unsigned short *vals, size_t n)
{
	unsigned short v[80];
	char b[400];
	size_t o = 0;
	memset(v, 0, sizeof v);
	memcpy(v, vals, n * sizeof *vals);
	for (size_t i = 0; i < n && o < sizeof b; i++)
		o += (size_t)snprintf(b + o, sizeof b - o, "%s%u", i ? " " : "", vals[i]);
	errno = 0;
	int r = A->ctl(id, semnum, SETALL, (union t_semun){ .array = v });
	int e = errno;
	rec("%sSETALL(%s%s, [%s]) -> %s", pre(what), lab(id), semnum ? ", semnum ignored" : "", b,
	    rv(r, e));
	return r;
}

static int r_setall(const struct sem_impl *A, const char *what, int id, const unsigned short *vals,
		    size_t n)
{
	return r_setall_n(A, what, id, 0, vals, n);
}

/* GETNCNT and GETZCNT of semaphores 0..n-1 in one line. */
static void r_counts(const struct sem_impl *A, const char *what, int id, int n)
{
	char nb[200], zb[200];
	size_t on = 0, oz = 0;
	for (int i = 0; i < n; i++) {
		errno = 0;
		int c = A->ctl(id, i, GETNCNT, (union t_semun){ .val = 0 });
		int ce = errno;
		errno = 0;
		int z = A->ctl(id, i, GETZCNT, (union t_semun){ .val = 0 });
		int ze = errno;
		on += (size_t)snprintf(nb + on, sizeof nb - on, "%s%s", i ? " " : "", rv(c, ce));
		oz += (size_t)snprintf(zb + oz, sizeof zb - oz, "%s%s", i ? " " : "", rv(z, ze));
	}
	rec("%s%s: ncnt=[%s] zcnt=[%s]", pre(what), lab(id), nb, zb);
}

/* GETPID of semaphores 0..n-1 in one line. */
static void r_pids(const struct sem_impl *A, const char *what, int id, int n)
{
	char b[200];
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		errno = 0;
		int p = A->ctl(id, i, GETPID, (union t_semun){ .val = 0 });
		int e = errno;
		o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", i ? " " : "",
				      p >= 0 ? pidlab(p) : rv(p, e));
	}
	rec("%s%s: sempid=[%s]", pre(what), lab(id), b);
}

static void ds_str(char *b, size_t n, const struct semid_ds *d, int id)
{
	/* what the kernel leaves zero (it clears the whole structure) */
	int rsv = d->__sem_otime_high == 0 && d->__sem_ctime_high == 0 &&
		  d->__glibc_reserved3 == 0 && d->__glibc_reserved4 == 0 &&
		  d->sem_perm.__pad2 == 0 && d->sem_perm.__glibc_reserved1 == 0 &&
		  d->sem_perm.__glibc_reserved2 == 0;
	snprintf(b, n,
		 "nsems=%lu mode=0%o uid=%u gid=%u cuid=%u cgid=%u key=%s otime=%s ctime=%s "
		 "seq=%s unused-fields=%s",
		 (unsigned long)d->sem_nsems, (unsigned)d->sem_perm.mode, (unsigned)d->sem_perm.uid,
		 (unsigned)d->sem_perm.gid, (unsigned)d->sem_perm.cuid, (unsigned)d->sem_perm.cgid,
		 keylab(d->sem_perm.__key), tlab(d->sem_otime), tlab(d->sem_ctime),
		 d->sem_perm.__seq == (unsigned short)((unsigned)id >> g_seq_shift) ? "id>>shift"
										    : "OTHER",
		 rsv ? "0" : "NOT-ZERO");
}

/* IPC_STAT (semnum given: it is ignored); the struct to *out when out != NULL. */
static int r_stat_d(const struct sem_impl *A, const char *what, int id, int semnum,
		    struct semid_ds *out)
{
	struct semid_ds d;
	char b[320];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(id, semnum, IPC_STAT, (union t_semun){ .buf = &d });
	int e = errno;
	if (r == 0) {
		ds_str(b, sizeof b, &d, id);
		rec("%sIPC_STAT(%s%s) -> 0 %s", pre(what), lab(id), semnum ? ", semnum ignored" : "",
		    b);
	} else {
		rec("%sIPC_STAT(%s) -> %s", pre(what), lab(id), rv(r, e));
		memset(&d, 0, sizeof d);
	}
	if (out)
		*out = d;
	return r;
}

static int r_stat(const struct sem_impl *A, const char *what, int id)
{
	return r_stat_d(A, what, id, 0, NULL);
}

/* SEM_STAT / SEM_STAT_ANY at an index; idxname is how the index is printed. */
static int r_sstat(const struct sem_impl *A, const char *what, int idx, const char *idxname, int cmd)
{
	struct semid_ds d;
	char b[320];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(idx, 0, cmd, (union t_semun){ .buf = &d });
	int e = errno;
	if (r >= 0) {
		ds_str(b, sizeof b, &d, r);
		rec("%s%s(%s) -> %s %s", pre(what), cmdname(cmd), idxname, lab(r), b);
	} else {
		rec("%s%s(%s) -> %s", pre(what), cmdname(cmd), idxname, rv(r, e));
	}
	return r;
}

static const char *llv(long long v, int octal)
{
	char *b = rot();
	if (v == KEEP)
		return "keep";
	snprintf(b, ROTLEN, octal ? "0%llo" : "%lld", v);
	return b;
}

/* IPC_SET: start from IPC_STAT (or zeros if that fails), change the given fields. */
static int r_set_n(const struct sem_impl *A, const char *what, int id, int semnum, long long mode,
		   long long uid, long long gid)
{
	struct semid_ds d;
	memset(&d, 0, sizeof d);
	int base = A->ctl(id, 0, IPC_STAT, (union t_semun){ .buf = &d }) == 0;
	if (!base)
		memset(&d, 0, sizeof d);
	if (mode != KEEP)
		d.sem_perm.mode = (mode_t)mode;
	if (uid != KEEP)
		d.sem_perm.uid = (uid_t)uid;
	if (gid != KEEP)
		d.sem_perm.gid = (gid_t)gid;
	errno = 0;
	int r = A->ctl(id, semnum, IPC_SET, (union t_semun){ .buf = &d });
	int e = errno;
	rec("%sIPC_SET(%s%s, mode=%s uid=%s gid=%s)%s -> %s", pre(what), lab(id),
	    semnum ? ", semnum ignored" : "", llv(mode, 1), llv(uid, 0), llv(gid, 0),
	    base ? "" : " [from zeroed buf]", rv(r, e));
	return r;
}

static int r_set(const struct sem_impl *A, const char *what, int id, long long mode, long long uid,
		 long long gid)
{
	return r_set_n(A, what, id, 0, mode, uid, gid);
}

static int r_rmid(const struct sem_impl *A, const char *what, int id)
{
	return r_cmd(A, what, id, 0, IPC_RMID);
}

/* IPC_INFO / SEM_INFO: every field of struct seminfo; the return value
 * against the highest index of the scenario's sets (top, -1: none).
 * exact: the namespace holds only the scenario's sets. */
static int r_info(const struct sem_impl *A, const char *what, int id, int cmd, int top)
{
	struct seminfo si;
	memset(&si, 0x5a, sizeof si);
	errno = 0;
	int r = A->ctl(id, 0, cmd, (union t_semun){ .__buf = &si });
	int e = errno;
	if (r < 0) {
		rec("%s%s(id %d) -> %s", pre(what), cmdname(cmd), id, rv(r, e));
		return r;
	}
	rec("%s%s(id %s) -> ok; semmni=%d semmns=%d semmsl=%d semopm=%d semvmx=%d semmap=%d "
	    "semmnu=%d semume=%d",
	    pre(what), cmdname(cmd), id == HUGE_ID ? "NEVER-CREATED" : llv(id, 0), si.semmni, si.semmns,
	    si.semmsl, si.semopm, si.semvmx, si.semmap, si.semmnu, si.semume);
	/* SEM_INFO's semusz/semaem count the namespace's sets and semaphores;
	 * IPC_INFO's are constants. The return value is the highest index in
	 * use (0 if none). Exact only in a namespace of the scenario's own. */
	rec("%s%s%s: semusz=%d semaem=%d; returns %s", excl(), pre(what), cmdname(cmd), si.semusz,
	    si.semaem,
	    top < 0 ? (r == 0 ? "0 (no set)" : "NONZERO with no set")
		    : (r == top ? "the highest index in use" : "OTHER"));
	return r;
}

/* Index of set id (for SEM_STAT), by scanning 0..SEM_INFO's top index. */
static int find_index(const struct sem_impl *A, int id)
{
	struct seminfo si;
	int top = A->ctl(0, 0, SEM_INFO, (union t_semun){ .__buf = &si });
	for (int i = 0; i <= top && i < 1 << 20; i++) {
		struct semid_ds d;
		if (A->ctl(i, 0, SEM_STAT_ANY, (union t_semun){ .buf = &d }) == id)
			return i;
	}
	return -1;
}

/* ------------------------------------------------------ child processes */

static pid_t fork_child(void)
{
	return oracle_fork(8);
}

static void on_usr1(int s)
{
	(void)s;
	g_handled++;
}

/*
 * Forks child `slot`, which makes one call: semop(id, ops, n), or
 * semtimedop with ts (KF_TIMED); with a SIGUSR1 handler (KF_USR1, with
 * SA_RESTART: KF_RESTART) or SIGUSR1 ignored (KF_IGN); KF_HOLD: it then
 * waits for kid_release before it exits (its SEM_UNDO adjustments stay).
 */
static pid_t kid_start(const struct sem_impl *A, int slot, int id, const struct sembuf *ops,
		       size_t n, const struct timespec *ts, int flags)
{
	struct kid *k = &sh->kid[slot];
	memset(k, 0, sizeof *k);
	k->id = id;
	k->n = n < 8 ? n : 8;
	memcpy(k->ops, ops, k->n * sizeof *ops);
	if (ts)
		k->ts = *ts;
	k->flags = flags | (ts ? KF_TIMED : 0);
	if (ts)
		snprintf(k->desc, sizeof k->desc, "semtimedop(%s, %s, %s)", lab(id), opsstr(ops, n),
			 tslab(ts));
	else
		snprintf(k->desc, sizeof k->desc, "semop(%s, %s)", lab(id), opsstr(ops, n));
	pid_t p = fork_child();
	if (p == 0) {
		if (flags & (KF_USR1 | KF_RESTART)) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_usr1;
			sa.sa_flags = flags & KF_RESTART ? SA_RESTART : 0;
			sigemptyset(&sa.sa_mask);
			sigaction(SIGUSR1, &sa, NULL);
		}
		if (flags & KF_IGN)
			signal(SIGUSR1, SIG_IGN);
		g_handled = 0;
		int64_t t0 = now_ns();
		__atomic_store_n(&k->started, 1, __ATOMIC_SEQ_CST);
		errno = 0;
		int r = (k->flags & KF_TIMED) ? A->timedop(k->id, k->ops, k->n, &k->ts)
					      : A->op(k->id, k->ops, k->n);
		k->e = errno;
		k->r = r;
		k->ns = now_ns() - t0;
		k->handled = g_handled;
		__atomic_store_n(&k->returned, 1, __ATOMIC_SEQ_CST);
		if (flags & KF_HOLD)
			for (int i = 0; i < 6000 && !__atomic_load_n(&k->release, __ATOMIC_SEQ_CST); i++)
				sleep_ms(1);
		_exit(0);
	}
	k->pid = p;
	return p;
}

static int kid_returned(int slot)
{
	return __atomic_load_n(&sh->kid[slot].returned, __ATOMIC_SEQ_CST);
}

/* Waits (up to 3 s) until child `slot` sleeps in its call; records it. */
static void kid_blocked(int slot)
{
	struct kid *k = &sh->kid[slot];
	int asleep = 0;
	for (int i = 0; i < 3000 && !kid_returned(slot); i++) {
		if (__atomic_load_n(&k->started, __ATOMIC_SEQ_CST)) {
			char s = proc_state(k->pid);
			if (s == 'S' || s == 'D') {
				asleep = 1;
				break;
			}
		}
		sleep_ms(1);
	}
	if (kid_returned(slot))
		rec("%s blocks in %s: NO, it returned %s", pidlab(k->pid), k->desc, rv(k->r, k->e));
	else
		rec("%s blocks in %s: %s", pidlab(k->pid), k->desc, asleep ? "yes" : "NOT ASLEEP");
}

/* After a short while: has child `slot` returned from its call? */
static void kid_still(int slot)
{
	sleep_ms(50);
	struct kid *k = &sh->kid[slot];
	if (kid_returned(slot))
		rec("%s still blocked: NO, it returned %s", pidlab(k->pid), rv(k->r, k->e));
	else
		rec("%s still blocked: yes", pidlab(k->pid));
}

/* Waits (up to 3 s) until child `slot` returned from its call. */
static void kid_wait_returned(int slot)
{
	for (int i = 0; i < 3000 && !kid_returned(slot); i++)
		sleep_ms(1);
}

static void kid_release(int slot)
{
	__atomic_store_n(&sh->kid[slot].release, 1, __ATOMIC_SEQ_CST);
}

/* Waits (up to 3 s) for child `slot` to end and records its call's result;
 * a child still blocked then is killed and recorded so. */
static void kid_reap(int slot, const char *what)
{
	struct kid *k = &sh->kid[slot];
	int st = 0, done = 0;
	kid_release(slot);
	for (int i = 0; i < 3000; i++) {
		pid_t w = waitpid(k->pid, &st, WNOHANG);
		if (w == k->pid) {
			done = 1;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		sleep_ms(1);
	}
	if (!done) {
		kill(k->pid, SIGKILL);
		while (waitpid(k->pid, &st, 0) == -1 && errno == EINTR)
			;
		rec("%s%s: %s -> STILL BLOCKED after 3 s (killed)", pre(what), pidlab(k->pid),
		    k->desc);
		return;
	}
	if (!k->returned) {
		rec("%s%s: %s -> never returned, child %s %d", pre(what), pidlab(k->pid), k->desc,
		    WIFSIGNALED(st) ? "killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st)
										  : WEXITSTATUS(st));
		return;
	}
	char extra[96] = "";
	if (k->flags & KF_TIMED)
		snprintf(extra, sizeof extra, " %s the timeout",
			 k->ns >= ts_ns(&k->ts) ? "after" : "before");
	if (k->flags & (KF_USR1 | KF_RESTART))
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "; handler ran %d time%s",
			 k->handled, k->handled == 1 ? "" : "s");
	rec("%s%s: %s -> %s%s", pre(what), pidlab(k->pid), k->desc, rv(k->r, k->e), extra);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rec("%s%s then ended badly: status 0x%x", pre(what), pidlab(k->pid), st);
}

/* ------------------------------------------------------------ scenarios */

/* semget(IPC_PRIVATE) creates a new set whatever the flags; fresh fields. */
static void sc_get_private(const struct sem_impl *A)
{
	int a = r_get(A, "", IPC_PRIVATE, 1, 0600);
	r_stat(A, "fresh", a);
	r_getall(A, "fresh values are 0", a, 1);
	r_pids(A, "fresh", a, 1);
	r_counts(A, "fresh", a, 1);
	int b = r_get(A, "CREAT|EXCL still creates", IPC_PRIVATE, 3, IPC_CREAT | IPC_EXCL | 0640);
	r_stat(A, "fresh", b);
	r_getall(A, "", b, 3);
	int c = r_get(A, "no flags still creates", IPC_PRIVATE, 2, 0);
	r_stat(A, "fresh", c);
	r_get(A, "nsems 0", IPC_PRIVATE, 0, 0600);
	r_get(A, "nsems -1", IPC_PRIVATE, -1, 0600);
	rec("three distinct ids: %s", yn(a != b && b != c && a != c));
	r_rmid(A, "", a);
	r_rmid(A, "", b);
	r_rmid(A, "", c);
}

/* Keys: ENOENT without CREAT, CREAT opens or creates, CREAT|EXCL is EEXIST,
 * nsems against the existing set, and the order of those checks. */
static void sc_get_keyed(const struct sem_impl *A)
{
	key_t k = osh->key[0];
	r_get(A, "absent", k, 1, 0600);
	r_get(A, "absent, EXCL without CREAT", k, 1, IPC_EXCL | 0600);
	r_get(A, "absent, CREAT, nsems 0", k, 0, IPC_CREAT | 0600);
	r_get(A, "absent, CREAT, nsems -1", k, -1, IPC_CREAT | 0600);
	r_get(A, "absent, nsems 0, no CREAT: ENOENT", k, 0, 0600);
	int s = r_get(A, "create", k, 3, IPC_CREAT | 0640);
	r_stat(A, "", s);
	r_get(A, "existing, flags 0", k, 3, 0);
	r_get(A, "existing, nsems 0", k, 0, 0);
	r_get(A, "existing, fewer", k, 1, 0);
	r_get(A, "existing, more", k, 4, 0);
	r_get(A, "existing, more, CREAT", k, 4, IPC_CREAT | 0640);
	r_get(A, "existing, nsems > semmsl", k, (int)g_semmsl + 1, 0);
	r_get(A, "existing, nsems -1", k, -1, 0);
	r_get(A, "existing, CREAT with another mode", k, 3, IPC_CREAT | 0606);
	r_stat(A, "mode unchanged", s);
	r_get(A, "existing, CREAT|EXCL", k, 3, IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, CREAT|EXCL, more: EEXIST first", k, 4, IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, CREAT|EXCL, nsems 0", k, 0, IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, CREAT|EXCL, nsems > semmsl: EINVAL first", k, (int)g_semmsl + 1,
	      IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, EXCL only", k, 3, IPC_EXCL);
	int t = r_get(A, "another key", osh->key[1], 1, IPC_CREAT | 0600);
	rec("another set: %s", yn(t != s && t >= 0));
	r_rmid(A, "", s);
	r_get(A, "after RMID", k, 3, 0);
	r_get(A, "after RMID, nsems 0", k, 0, 0);
	int s2 = r_get(A, "re-create", k, 2, IPC_CREAT | IPC_EXCL | 0600);
	rec("new id differs from the removed one: %s", yn(s2 != s));
	r_stat(A, "", s2);
	r_getall(A, "re-created values are 0", s2, 2);
	r_rmid(A, "", s2);
	r_rmid(A, "", t);
}

/* nsems limits: SEMMSL exactly, above it, extreme values. */
static void sc_get_nsems(const struct sem_impl *A)
{
	int m = r_get(A, "exactly semmsl", IPC_PRIVATE, (int)g_semmsl, 0600);
	r_stat(A, "", m);
	r_getval(A, "last semaphore", m, (int)g_semmsl - 1);
	r_setval(A, "last semaphore", m, (int)g_semmsl - 1, 7);
	r_getval(A, "", m, (int)g_semmsl - 1);
	r_getval(A, "one past the last", m, (int)g_semmsl);
	r_op(A, "last semaphore", m, OPS({ (unsigned short)(g_semmsl - 1), -7, 0 }));
	r_rmid(A, "", m);
	r_get(A, "semmsl+1", IPC_PRIVATE, (int)g_semmsl + 1, 0600);
	r_get(A, "", IPC_PRIVATE, INT_MAX, 0600);
	r_get(A, "", IPC_PRIVATE, INT_MIN, 0600);
	r_get(A, "", osh->key[0], INT_MAX, IPC_CREAT | 0600);
	int s = r_get(A, "250 semaphores", osh->key[0], 250, IPC_CREAT | 0600);
	r_get(A, "", osh->key[0], 250, 0);
	r_get(A, "", osh->key[0], 251, 0);
	r_get(A, "", osh->key[0], (int)g_semmsl, 0);
	r_setval(A, "", s, 249, 9);
	r_getall(A, "", s, 250);
	r_rmid(A, "", s);
}

/* The set's mode is the low 9 bits of semflg; other bits are ignored. */
static void sc_get_mode(const struct sem_impl *A)
{
	static const int flags[] = { 0, 0400, 0421, 0777, 0111, 01777, 0x100000 | 0640,
				     IPC_NOWAIT | 0600, SEM_UNDO | 0604, IPC_EXCL | 0660 };
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		int s = r_get(A, "", IPC_PRIVATE, 1, flags[i]);
		r_stat(A, "", s);
		r_rmid(A, "", s);
	}
	int s = r_get(A, "keyed, unknown high bit", osh->key[0], 1, IPC_CREAT | 0x200000 | 0604);
	r_stat(A, "", s);
	r_rmid(A, "", s);
}

/* As another user: the nsems checks come before the permission check, and
 * EEXIST too; only the mode bits asked for in semflg are checked. */
static void sc_get_perm(const struct sem_impl *A)
{
	key_t k0 = osh->key[0], k1 = osh->key[1];
	int s0 = r_get(A, "", k0, 2, IPC_CREAT | 0600);
	int s1 = r_get(A, "", k1, 2, IPC_CREAT | 0644);
	r_get(A, "root asks 0777 of a 0600 set", k0, 0, 0777);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_get(A, "more semaphores, no bits asked", k0, 3, 0);
		r_get(A, "more semaphores and 0400 asked: nsems first", k0, 3, 0400);
		r_get(A, "nsems > semmsl and 0400 asked", k0, (int)g_semmsl + 1, 0400);
		r_get(A, "0400 asked of 0600", k0, 2, 0400);
		r_get(A, "nothing asked of 0600", k0, 0, 0);
		r_get(A, "CREAT|0600 on an existing 0600", k0, 0, IPC_CREAT | 0600);
		r_get(A, "CREAT|EXCL on an existing 0600", k0, 0, IPC_CREAT | IPC_EXCL | 0600);
		static const int asks[] = { 0400, 0040, 0004, 0444, 0200, 0020, 0002,
					    0100, 0001, 0600, 0644, 0604 };
		for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++)
			r_get(A, "of 0644", k1, 0, asks[i]);
		int m = r_get(A, "65534 creates", IPC_PRIVATE, 1, 0600);
		r_stat(A, "", m);
		r_rmid(A, "", m);
		_exit(0);
	}
	reap(c, "");
	r_rmid(A, "", s0);
	r_rmid(A, "", s1);
}

/* Lowered limits: SEMMSL (EINVAL), SEMMNS and SEMMNI (ENOSPC), SEMOPM (E2BIG),
 * in a namespace of the scenario's own (the kernel's: a fresh IPC namespace
 * with /proc/sys/kernel/sem written; svipc's: svipc_limits_set). */
static void sc_limits(const struct sem_impl *A)
{
	const long lim[4] = { 8, 20, 4, 3 }; /* semmsl semmns semopm semmni */
	int ok;
	if (A->kernel) {
		ok = g_private || unshare(CLONE_NEWIPC) == 0;
		FILE *f = ok ? fopen("/proc/sys/kernel/sem", "w") : NULL;
		ok = f && fprintf(f, "%ld %ld %ld %ld\n", lim[0], lim[1], lim[2], lim[3]) > 0;
		if (f)
			ok &= fclose(f) == 0;
	} else {
		struct svipc_limits l;
		memset(&l, 0, sizeof l);
		l.semmsl = (uint64_t)lim[0];
		l.semmns = (uint64_t)lim[1];
		l.semopm = (uint64_t)lim[2];
		l.semmni = (uint64_t)lim[3];
		ok = svipc_limits_set(&l) == 0;
	}
	rec("limits semmsl 8, semmns 20, semopm 4, semmni 3: %s", ok ? "set" : "FAILED");
	if (!ok)
		return;
	r_info(A, "", 0, IPC_INFO, -1);
	r_get(A, "nsems 9 > semmsl", IPC_PRIVATE, 9, 0600);
	int a = r_get(A, "8", IPC_PRIVATE, 8, 0600);
	int b = r_get(A, "8 more", osh->key[0], 8, IPC_CREAT | 0600);
	r_get(A, "5 more: over semmns", IPC_PRIVATE, 5, 0600);
	r_get(A, "5 more, keyed: over semmns", osh->key[1], 5, IPC_CREAT | 0600);
	r_get(A, "5 more, keyed, no CREAT: ENOENT", osh->key[1], 5, 0600);
	int c = r_get(A, "4 more: exactly semmns", IPC_PRIVATE, 4, 0600);
	r_get(A, "1 more: over semmns and semmni", IPC_PRIVATE, 1, 0600);
	r_get(A, "the existing key still opens", osh->key[0], 0, 0);
	r_get(A, "the existing key with CREAT", osh->key[0], 8, IPC_CREAT | 0600);
	r_get(A, "the existing key, nsems 9 > semmsl", osh->key[0], 9, 0);
	r_rmid(A, "", a);
	int d = r_get(A, "1 after removing 8", IPC_PRIVATE, 1, 0600);
	r_get(A, "1 more: semmni reached, semmns not", IPC_PRIVATE, 1, 0600);
	r_get(A, "keyed: semmni reached", osh->key[2], 1, IPC_CREAT | 0600);
	int ids[3] = { b, c, d };
	int top = -1;
	for (int i = 0; i < 3; i++) {
		int x = find_index(A, ids[i]);
		top = x > top ? x : top;
	}
	r_info(A, "3 sets, 13 semaphores", 0, SEM_INFO, top);
	r_op(A, "semopm ops", b, OPS({ 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }));
	r_op(A, "semopm+1 ops", b, OPS({ 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }, { 4, 1, 0 }));
	r_top(A, "semopm+1 ops", b,
	      OPS({ 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }, { 4, 1, 0 }), NULL);
	r_getall(A, "", b, 8);
	/* raising SEMOPM holds for the sets that exist already */
	if (A->kernel) {
		FILE *f = fopen("/proc/sys/kernel/sem", "w");
		ok = f && fprintf(f, "%ld %ld %ld %ld\n", lim[0], lim[1], 10L, lim[3]) > 0;
		if (f)
			ok &= fclose(f) == 0;
	} else {
		struct svipc_limits l;
		memset(&l, 0, sizeof l);
		l.semopm = 10;
		ok = svipc_limits_set(&l) == 0;
	}
	rec("semopm raised to 10: %s", ok ? "set" : "FAILED");
	r_op(A, "5 ops on a set made under semopm 4", b,
	     OPS({ 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }, { 4, 1, 0 }));
	r_op(A, "10 ops", c,
	     OPS({ 0, 1, 0 }, { 0, 1, 0 }, { 0, 1, 0 }, { 0, 1, 0 }, { 0, 1, 0 }, { 1, 1, 0 }, { 1, 1, 0 },
		 { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }));
	r_getall(A, "", b, 8);
	r_getall(A, "", c, 4);
	r_rmid(A, "", b);
	r_rmid(A, "", c);
	r_rmid(A, "", d);
	r_info(A, "empty", 0, SEM_INFO, -1);
}

/* Increments, decrements, wait-for-zero that can proceed, several
 * semaphores in one call, SEMVMX, sempid, flags the kernel ignores. */
static void sc_semop_basic(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 3, 0600);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_getval(A, "", s, 0);
	r_pids(A, "", s, 3);
	r_op(A, "", s, OPS({ 0, 5, 0 }));
	r_op(A, "", s, OPS({ 0, -2, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, -4, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, -1, NOWAIT }));
	r_op(A, "wait-for-zero on 0 proceeds", s, OPS({ 1, 0, 0 }));
	r_pids(A, "wait-for-zero sets sempid", s, 3);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_op(A, "", s, OPS({ 0, 0, NOWAIT }));
	r_op(A, "", s, OPS({ 0, -1, NOWAIT }));
	r_op(A, "", s, OPS({ 2, SEMVMX, 0 }));
	r_op(A, "above SEMVMX", s, OPS({ 2, 1, 0 }));
	r_op(A, "above SEMVMX, NOWAIT", s, OPS({ 2, 1, NOWAIT }));
	r_getval(A, "", s, 2);
	r_op(A, "", s, OPS({ 2, -SEMVMX, 0 }));
	r_op(A, "SHRT_MIN on 0", s, OPS({ 2, SHRT_MIN, NOWAIT }));
	r_op(A, "three semaphores", s, OPS({ 0, 2, 0 }, { 1, 3, 0 }, { 2, 4, 0 }));
	r_getall(A, "", s, 3);
	r_op(A, "", s, OPS({ 2, -1, 0 }, { 0, -2, 0 }));
	r_getall(A, "", s, 3);
	pid_t c = fork_child();
	if (c == 0) {
		r_op(A, "child", s, OPS({ 1, -1, 0 }));
		_exit(0);
	}
	reap(c, "");
	r_pids(A, "the child's semaphore", s, 3);
	c = fork_child();
	if (c == 0) {
		r_op(A, "child waits for zero on 0", s, OPS({ 0, 0, 0 }));
		r_op(A, "child, failing", s, OPS({ 2, -100, NOWAIT }));
		_exit(0);
	}
	reap(c, "");
	r_pids(A, "a failed call leaves sempid", s, 3);
	r_op(A, "unknown flag bit", s, OPS({ 0, 1, 0x0200 }));
	r_op(A, "unknown flag bits", s, OPS({ 0, -1, (short)0x8000 }, { 1, 1, 0x2000 }));
	r_getall(A, "", s, 3);
	r_stat(A, "after semops", s);
	r_rmid(A, "", s);
}

/* Errors of semop/semtimedop and their order: E2BIG first, then nsops 0
 * and semid < 0, then the id, then EFBIG (before anything is tried). */
static void sc_semop_errors(const struct sem_impl *A)
{
	static struct sembuf big[1200];
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_op(A, "nsops 0", s, OPS({ 0, 1, 0 }) - 1);
	r_op(A, "", -1, OPS({ 0, 1, 0 }));
	r_op(A, "", INT_MIN, OPS({ 0, 1, 0 }));
	r_op(A, "", HUGE_ID, OPS({ 0, 1, 0 }));
	r_op(A, "nsops 0", -1, OPS({ 0, 1, 0 }) - 1);
	for (long i = 0; i < 1200; i++)
		big[i] = (struct sembuf){ 0, 1, 0 };
	rec("semopm is %s", g_semopm < 1100 ? "below 1100" : "NOT below 1100");
	r_op(A, "semopm increments", s, big, (size_t)g_semopm);
	r_getval(A, "", s, 0);
	r_op(A, "semopm+1", s, big, (size_t)g_semopm + 1);
	r_op(A, "semopm+1, bad id", -1, big, (size_t)g_semopm + 1);
	r_op(A, "semopm+1, never-created id", HUGE_ID, big, (size_t)g_semopm + 1);
	for (long i = 0; i < 1200; i++)
		big[i] = (struct sembuf){ 0, -1, 0 };
	r_op(A, "semopm decrements", s, big, (size_t)g_semopm);
	r_getval(A, "", s, 0);
	r_op(A, "sem_num = nsems", s, OPS({ 2, 1, 0 }));
	r_op(A, "sem_num 65535", s, OPS({ 65535, 1, 0 }));
	r_op(A, "sem_num = nsems, wait-for-zero", s, OPS({ 2, 0, 0 }));
	const struct timespec t1s = { 1, 0 };
	r_top(A, "a blocking op, then sem_num = nsems: EFBIG, no wait", s,
	      OPS({ 0, -1, 0 }, { 2, 1, 0 }), &t1s);
	r_op(A, "an increment, then sem_num = nsems", s, OPS({ 0, 1, 0 }, { 5, 1, 0 }));
	r_getall(A, "unchanged", s, 2);
	r_op(A, "sem_num = nsems, UNDO", s, OPS({ 2, 1, UNDO }));
	r_op(A, "sem_num = nsems, never-created id: EINVAL first", HUGE_ID, OPS({ 5, 1, 0 }));
	big[0] = (struct sembuf){ 9, 1, 0 };
	r_op(A, "semopm+1 with sem_num 9: E2BIG first", s, big, (size_t)g_semopm + 1);
	r_rmid(A, "", s);
	r_op(A, "removed", s, OPS({ 0, 1, 0 }));
	r_op(A, "removed, UNDO", s, OPS({ 0, 1, UNDO }));
	r_op(A, "removed, sem_num 9", s, OPS({ 9, 1, 0 }));
	r_op(A, "removed, NOWAIT", s, OPS({ 0, -1, NOWAIT }));
	int t = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_op(A, "removed id after another set was created", s, OPS({ 0, 1, 0 }));
	r_op(A, "", t, OPS({ 0, 1, 0 }));
	/* Informational: nsops is size_t in the library, unsigned int in the
	 * system call: the kernel sees (1 << 32) + 1 as 1 (one operation). */
	errno = 0;
	int r = A->op(t, OPS({ 0, 1, 0 }) + (1ULL << 32));
	rec("~semop(%s, [0:+1], nsops (1 << 32) + 1) -> %s", lab(t), rv(r, errno));
	r_rmid(A, "", t);
}

/* All or nothing: an EAGAIN or ERANGE anywhere undoes everything; the first
 * operation that cannot proceed decides; one semaphore several times in one
 * call acts in array order. */
static void sc_semop_atomic(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 3, 0600);
	r_setall(A, "", s, VALS(1, 0, 5));
	r_op(A, "EAGAIN undoes the earlier ops", s, OPS({ 0, 1, 0 }, { 2, 1, 0 }, { 1, -1, NOWAIT }));
	r_getall(A, "", s, 3);
	r_op(A, "ERANGE undoes the earlier ops", s, OPS({ 0, 1, 0 }, { 2, SEMVMX, 0 }));
	r_getall(A, "", s, 3);
	r_op(A, "would block first: EAGAIN", s, OPS({ 1, -1, NOWAIT }, { 2, SEMVMX, 0 }));
	r_op(A, "ERANGE first", s, OPS({ 2, SEMVMX, 0 }, { 1, -1, NOWAIT }));
	const struct timespec t1s = { 1, 0 };
	r_top(A, "ERANGE before an op that would sleep: no wait", s,
	      OPS({ 2, SEMVMX, 0 }, { 1, -1, 0 }), &t1s);
	r_op(A, "wait-for-zero sees the value the earlier ops left", s,
	     OPS({ 0, -1, 0 }, { 2, -5, 0 }, { 1, 1, 0 }, { 0, 0, NOWAIT }));
	r_getall(A, "", s, 3);
	r_op(A, "wait-for-zero after an increment of the same semaphore", s,
	     OPS({ 2, 1, 0 }, { 2, 0, NOWAIT }));
	r_getall(A, "", s, 3);
	r_pids(A, "", s, 3);
	r_setall(A, "", s, VALS(1, 0, 5));
	r_op(A, "+1 then -1", s, OPS({ 0, 1, 0 }, { 0, -1, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "-1 then +1", s, OPS({ 0, -1, 0 }, { 0, 1, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "-2 then +1", s, OPS({ 0, -2, NOWAIT }, { 0, 1, 0 }));
	r_op(A, "+1 then -2", s, OPS({ 0, 1, 0 }, { 0, -2, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "+1 then wait-for-zero", s, OPS({ 0, 1, 0 }, { 0, 0, NOWAIT }));
	r_getval(A, "", s, 0);
	r_op(A, "wait-for-zero then +1", s, OPS({ 0, 0, 0 }, { 0, 1, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "-1, wait-for-zero, +2", s, OPS({ 0, -1, 0 }, { 0, 0, 0 }, { 0, 2, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "through SEMVMX+1 on the way", s, OPS({ 0, 32765, 0 }, { 0, 1, 0 }, { 0, -1, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "up to SEMVMX and back", s, OPS({ 0, 32765, 0 }, { 0, -1, 0 }, { 0, 1, 0 }));
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, -SEMVMX, 0 }));
	r_op(A, "three times", s, OPS({ 0, 1, 0 }, { 0, 1, 0 }, { 0, 1, 0 }));
	r_op(A, "-1 twice, the second NOWAIT", s, OPS({ 1, 1, 0 }, { 1, -1, 0 }, { 1, -1, NOWAIT }));
	r_getall(A, "", s, 3);
	r_pids(A, "", s, 3);
	r_stat(A, "", s);
	/* 0 and 64 are one bit apart in the kernel's duplicate detection */
	int w = r_get(A, "", IPC_PRIVATE, 70, 0600);
	r_op(A, "semaphores 0 and 64", w, OPS({ 0, 1, 0 }, { 64, 1, 0 }));
	r_op(A, "semaphores 0 and 64", w, OPS({ 0, 1, 0 }, { 64, 1, 0 }, { 64, 0, NOWAIT }));
	r_op(A, "semaphores 0 and 64", w, OPS({ 0, 2, 0 }, { 64, -1, NOWAIT }, { 0, -1, NOWAIT }));
	r_getall(A, "", w, 70);
	r_rmid(A, "", s);
	r_rmid(A, "", w);
}

/* IPC_NOWAIT only on some operations: the flag of the operation that
 * cannot proceed decides between EAGAIN and waiting (a 300 ms timeout
 * shows which). */
static void sc_nowait_mixed(const struct sem_impl *A)
{
	const struct timespec t300 = { 0, 300000000 };
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setall(A, "", s, VALS(1, 0));
	r_top(A, "NOWAIT on the op that blocks", s, OPS({ 0, -1, 0 }, { 1, -1, NOWAIT }), &t300);
	r_getall(A, "", s, 2);
	r_top(A, "NOWAIT only on an op that can proceed", s, OPS({ 0, -1, NOWAIT }, { 1, -1, 0 }),
	      &t300);
	r_getall(A, "", s, 2);
	r_top(A, "first blocking op without NOWAIT, a later one with", s,
	      OPS({ 1, -1, 0 }, { 0, -2, NOWAIT }), &t300);
	r_top(A, "first blocking op with NOWAIT, a later one without", s,
	      OPS({ 1, -1, NOWAIT }, { 0, -2, 0 }), &t300);
	r_top(A, "wait-for-zero with NOWAIT blocks", s, OPS({ 0, 0, NOWAIT }, { 1, -1, 0 }), &t300);
	r_top(A, "wait-for-zero without NOWAIT blocks first", s, OPS({ 0, 0, 0 }, { 1, -1, NOWAIT }),
	      &t300);
	r_op(A, "", s, OPS({ 0, -1, 0 }, { 1, -1, NOWAIT }));
	r_op(A, "", s, OPS({ 1, -1, NOWAIT }, { 0, -1, 0 }));
	r_getall(A, "", s, 2);
	r_counts(A, "nobody left waiting", s, 2);
	r_rmid(A, "", s);
}

/* semtimedop: EAGAIN after the timeout; the timespec is checked (EINVAL)
 * right after nsops, before the id and sem_num, even if nothing would wait. */
static void sc_semtimedop(const struct sem_impl *A)
{
	static struct sembuf big[1200];
	const struct timespec t200 = { 0, 200000000 }, t0 = { 0, 0 }, t3s = { 3, 0 };
	const struct timespec bad1 = { 0, -1 }, bad2 = { 0, 1000000000 }, bad3 = { -1, 0 },
			      edge = { 0, 999999999 }, far = { LONG_MAX, 999999999 };
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_top(A, "would block", s, OPS({ 0, -1, 0 }), &t200);
	r_top(A, "zero timeout", s, OPS({ 0, -1, 0 }), &t0);
	r_top(A, "wait-for-zero would block", s, OPS({ 0, 1, 0 }, { 0, 0, 0 }), &t200);
	r_top(A, "can proceed", s, OPS({ 0, 1, 0 }), &t200);
	r_top(A, "can proceed, zero timeout", s, OPS({ 0, 1, 0 }), &t0);
	r_top(A, "NULL timeout", s, OPS({ 0, -1, 0 }), NULL);
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, -1, NOWAIT }));
	r_top(A, "tv_nsec -1", s, OPS({ 0, 1, 0 }), &bad1);
	r_top(A, "tv_nsec 1e9", s, OPS({ 0, 1, 0 }), &bad2);
	r_top(A, "tv_sec -1", s, OPS({ 0, 1, 0 }), &bad3);
	r_getval(A, "nothing done", s, 0);
	r_top(A, "tv_nsec 999999999", s, OPS({ 0, 1, 0 }), &edge);
	r_top(A, "tv_sec LONG_MAX", s, OPS({ 0, 1, 0 }), &far);
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, -2, NOWAIT }));
	r_top(A, "bad timespec and sem_num out of range: EINVAL first", s, OPS({ 5, 1, 0 }), &bad1);
	r_top(A, "sem_num out of range, valid timeout", s, OPS({ 5, 1, 0 }), &t200);
	r_top(A, "bad timespec, never-created id", HUGE_ID, OPS({ 0, 1, 0 }), &bad1);
	r_top(A, "bad timespec, nsops 0", s, OPS({ 0, 1, 0 }) - 1, &bad1);
	for (int i = 0; i < 1200; i++)
		big[i] = (struct sembuf){ 0, 1, 0 };
	r_top(A, "bad timespec, semopm+1: E2BIG first", s, big, (size_t)g_semopm + 1, &bad1);
	r_top(A, "NOWAIT and a timeout", s, OPS({ 0, -5, NOWAIT }), &t3s);
	r_counts(A, "after the timeouts", s, 2);
	kid_start(A, 0, s, OPS({ 0, -3, 0 }), &t3s, 0);
	kid_blocked(0);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 0, 3, 0 }));
	kid_reap(0, "woken before its timeout");
	r_op(A, "", s, OPS({ 1, 1, 0 }));
	kid_start(A, 1, s, OPS({ 1, 0, 0 }), &far, 0);
	kid_blocked(1);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 1, -1, 0 }));
	kid_reap(1, "woken, a timeout that saturates");
	kid_start(A, 2, s, OPS({ 0, -1, 0 }), &t200, 0);
	kid_reap(2, "a child times out");
	r_counts(A, "", s, 2);
	r_getall(A, "", s, 2);
	r_rmid(A, "", s);
	r_top(A, "removed, bad timespec", s, OPS({ 0, 1, 0 }), &bad1);
	r_top(A, "removed, valid timespec", s, OPS({ 0, 1, 0 }), &t200);
}

/* Waiters are served in arrival order and the unit is handed over: after
 * the +1 that wakes A, a NOWAIT -1 from the runner fails. No starvation
 * protection: a waiter for 2 does not hold up a later waiter for 1. */
static void sc_handoff(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 1, 0600);
	kid_start(A, 0, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(0);
	kid_start(A, 1, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(1);
	r_counts(A, "", s, 1);
	r_op(A, "runner", s, OPS({ 0, 1, 0 }));
	r_op(A, "the unit went to child1", s, OPS({ 0, -1, NOWAIT }));
	kid_still(1);
	kid_reap(0, "");
	r_counts(A, "", s, 1);
	r_getval(A, "", s, 0);
	r_pids(A, "", s, 1);
	r_op(A, "runner", s, OPS({ 0, 1, 0 }));
	r_op(A, "the unit went to child2", s, OPS({ 0, -1, NOWAIT }));
	kid_reap(1, "");
	r_getval(A, "", s, 0);
	r_pids(A, "", s, 1);

	kid_start(A, 2, s, OPS({ 0, -2, 0 }), NULL, 0);
	kid_blocked(2);
	kid_start(A, 3, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(3);
	r_op(A, "one unit for a waiter of 2 and a later waiter of 1", s, OPS({ 0, 1, 0 }));
	kid_reap(3, "");
	kid_still(2);
	r_getval(A, "", s, 0);
	r_counts(A, "", s, 1);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_still(2);
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_reap(2, "");
	r_getval(A, "", s, 0);

	for (int i = 4; i < 7; i++) {
		kid_start(A, i, s, OPS({ 0, -1, 0 }), NULL, 0);
		kid_blocked(i);
	}
	r_counts(A, "three waiters", s, 1);
	r_op(A, "two units at once", s, OPS({ 0, 2, 0 }));
	kid_reap(4, "");
	kid_reap(5, "");
	kid_still(6);
	r_counts(A, "", s, 1);
	r_setval(A, "wakes the third", s, 0, 3);
	kid_reap(6, "");
	r_getval(A, "", s, 0);
	r_pids(A, "", s, 1);
	r_rmid(A, "", s);
}

/* A waiter killed while blocked takes nothing: the next unit goes to the
 * next waiter; its earlier SEM_UNDO adjustments are applied. */
static void kid_kill(int slot)
{
	struct kid *k = &sh->kid[slot];
	int st;
	kill(k->pid, SIGKILL);
	while (waitpid(k->pid, &st, 0) == -1 && errno == EINTR)
		;
	rec("%s killed by SIGKILL: %s%s", pidlab(k->pid),
	    yn(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL),
	    kid_returned(slot) ? " (but its call had RETURNED)" : "");
}

static void sc_killed_waiter(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	kid_start(A, 0, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(0);
	kid_start(A, 1, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(1);
	kid_kill(0);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_op(A, "the unit went to child2", s, OPS({ 0, -1, NOWAIT }));
	kid_reap(1, "");
	r_getall(A, "", s, 2);

	pid_t c = fork_child();
	if (c == 0) {
		A->op(s, OPS({ 1, 3, UNDO }));
		__atomic_store_n(&sh->v[0], 1, __ATOMIC_SEQ_CST);
		A->op(s, OPS({ 0, -1, 0 }));
		_exit(0);
	}
	char st = 0;
	for (int i = 0; i < 3000; i++) {
		if (__atomic_load_n(&sh->v[0], __ATOMIC_SEQ_CST) == 1 && (st = proc_state(c)) == 'S')
			break;
		sleep_ms(1);
	}
	rec("child3 did [1:+3 UNDO] and sleeps in [0:-1]: %s", yn(st == 'S'));
	r_getall(A, "", s, 2);
	r_counts(A, "", s, 2);
	kill(c, SIGKILL);
	reap(c, "");
	r_getall(A, "its adjustment applied", s, 2);
	r_counts(A, "", s, 2);
	r_pids(A, "", s, 2);

	kid_start(A, 3, s, OPS({ 1, 1, 0 }, { 0, -1, 0 }), NULL, 0);
	kid_blocked(3);
	kid_kill(3);
	r_getall(A, "", s, 2);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_getall(A, "", s, 2);
	r_rmid(A, "", s);
}

/* 300 waiters (more than svipc's waiter slots) are served in arrival order,
 * one unit at a time, also the latest ones. */
#define NMANY 300
static void sc_many_waiters(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 1, 0600);
	static pid_t pids[NMANY];
	int n = 0;
	sh->mseq = 0;
	for (; n < NMANY; n++) {
		struct many *m = &sh->many[n];
		m->order = -1;
		pid_t p = oracle_fork(40);
		if (p == 0) {
			__atomic_store_n(&m->started, 1, __ATOMIC_SEQ_CST);
			errno = 0;
			int r = A->op(s, OPS({ 0, -1, 0 }));
			m->e = errno;
			m->r = r;
			__atomic_store_n(&m->order, __atomic_fetch_add(&sh->mseq, 1, __ATOMIC_SEQ_CST),
					 __ATOMIC_SEQ_CST);
			_exit(0);
		}
		pids[n] = p;
		if (p < 0)
			break;
		char st = 0;
		for (int i = 0; i < 2000; i++) {
			if (__atomic_load_n(&m->started, __ATOMIC_SEQ_CST) && (st = proc_state(p)) == 'S')
				break;
			sleep_ms(1);
		}
		if (st != 'S') {
			n++;
			break;
		}
	}
	rec("%d waiters forked, each asleep before the next: %s", NMANY,
	    yn(n == NMANY && proc_state(pids[n - 1]) == 'S'));
	r_counts(A, "", s, 1);
	int done = 0;
	/* one unit at a time: which waiter got it */
	for (int k = 0; k < 5; k++) {
		A->op(s, OPS({ 0, 1, 0 }));
		for (int i = 0; i < 3000 && __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST) <= done; i++)
			sleep_ms(1);
		int who = -1;
		for (int j = 0; j < n; j++)
			if (__atomic_load_n(&sh->many[j].order, __ATOMIC_SEQ_CST) == done)
				who = j;
		done = __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST);
		rec("+1: waiter #%d returned %s; %d returned so far", who,
		    who >= 0 ? rv(sh->many[who].r, sh->many[who].e) : "-", done);
	}
	r_op(A, "250 units at once", s, OPS({ 0, 250, 0 }));
	for (int i = 0; i < 5000 && __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST) < 255; i++)
		sleep_ms(1);
	sleep_ms(50);
	done = __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST);
	int first = 1;
	for (int j = 0; j < n && j < 255; j++)
		first &= sh->many[j].order >= 0 && sh->many[j].r == 0;
	rec("%d returned so far; they are waiters #0..#254: %s", done, yn(first && done == 255));
	r_counts(A, "", s, 1);
	r_getval(A, "", s, 0);
	for (int k = 0; k < 5; k++) {
		A->op(s, OPS({ 0, 1, 0 }));
		for (int i = 0; i < 3000 && __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST) <= done; i++)
			sleep_ms(1);
		int who = -1;
		for (int j = 0; j < n; j++)
			if (__atomic_load_n(&sh->many[j].order, __ATOMIC_SEQ_CST) == done)
				who = j;
		done = __atomic_load_n(&sh->mseq, __ATOMIC_SEQ_CST);
		rec("+1: waiter #%d returned %s; %d returned so far", who,
		    who >= 0 ? rv(sh->many[who].r, sh->many[who].e) : "-", done);
	}
	r_op(A, "the rest", s, OPS({ 0, NMANY - 260, 0 }));
	int killed = 0, bad = 0;
	int64_t end = now_ns() + 5000000000LL;
	for (int j = 0; j < n; j++) {
		int st;
		pid_t w;
		while ((w = waitpid(pids[j], &st, WNOHANG)) == 0 && now_ns() < end)
			sleep_ms(1);
		if (w == 0) {
			kill(pids[j], SIGKILL);
			waitpid(pids[j], &st, 0);
			killed++;
		} else if (sh->many[j].order < 0 || sh->many[j].r != 0) {
			bad++;
		}
	}
	rec("all %d returned 0: %s; failed: %d; still blocked (killed): %d", n, yn(!bad && !killed),
	    bad, killed);
	r_getval(A, "", s, 0);
	r_counts(A, "", s, 1);
	r_rmid(A, "", s);
}

/* Wait-for-zero: every waiter wakes when the value reaches 0 (not at a 0
 * inside one call); a complex operation that reaches 0 wakes them too. */
static void sc_wait_zero(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setval(A, "", s, 0, 2);
	kid_start(A, 0, s, OPS({ 0, 0, 0 }), NULL, 0);
	kid_blocked(0);
	kid_start(A, 1, s, OPS({ 0, 0, 0 }), NULL, 0);
	kid_blocked(1);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 0, -1, 0 }));
	kid_still(0);
	kid_still(1);
	r_counts(A, "", s, 2);
	r_op(A, "a 0 inside one call", s, OPS({ 0, -1, 0 }, { 0, 1, 0 }));
	kid_still(0);
	r_op(A, "", s, OPS({ 0, -1, 0 }));
	kid_reap(0, "");
	kid_reap(1, "");
	r_counts(A, "", s, 2);
	r_pids(A, "", s, 2);

	r_setval(A, "", s, 0, 1);
	kid_start(A, 2, s, OPS({ 0, 0, 0 }, { 1, 1, 0 }), NULL, 0);
	kid_blocked(2);
	r_counts(A, "complex wait-for-zero", s, 2);
	r_op(A, "", s, OPS({ 0, -1, 0 }));
	kid_reap(2, "");
	r_getall(A, "", s, 2);
	r_pids(A, "", s, 2);

	kid_start(A, 3, s, OPS({ 1, 0, 0 }), NULL, 0);
	kid_blocked(3);
	r_setval(A, "SETVAL 0 wakes", s, 1, 0);
	kid_reap(3, "");

	/* a waiter's completed decrement wakes a wait-for-zero */
	r_setall(A, "", s, VALS(1, 0));
	kid_start(A, 4, s, OPS({ 0, 0, 0 }), NULL, 0);
	kid_blocked(4);
	kid_start(A, 5, s, OPS({ 0, -1, 0 }, { 1, -1, 0 }), NULL, 0);
	kid_blocked(5);
	r_counts(A, "", s, 2);
	r_op(A, "lets child6 take sem 0 to 0", s, OPS({ 1, 1, 0 }));
	kid_reap(5, "");
	kid_reap(4, "");
	r_getall(A, "", s, 2);
	r_counts(A, "", s, 2);

	/* a wait-for-zero NOWAIT among waiters */
	r_setval(A, "", s, 0, 1);
	r_op(A, "", s, OPS({ 0, 0, NOWAIT }));
	r_rmid(A, "", s);
}

/* GETNCNT/GETZCNT count a blocked operation only on the semaphore of the
 * operation it is blocked on, and that changes when it is retried. */
static void sc_ncnt_zcnt(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 3, 0600);
	r_setall(A, "", s, VALS(0, 0, 1));
	kid_start(A, 0, s, OPS({ 0, -1, 0 }, { 1, -1, 0 }), NULL, 0);
	kid_blocked(0);
	r_counts(A, "", s, 3);
	kid_start(A, 1, s, OPS({ 2, 0, 0 }, { 1, -1, 0 }), NULL, 0);
	kid_blocked(1);
	r_counts(A, "", s, 3);
	kid_start(A, 2, s, OPS({ 1, -1, 0 }), NULL, 0);
	kid_blocked(2);
	kid_start(A, 3, s, OPS({ 2, 0, 0 }), NULL, 0);
	kid_blocked(3);
	kid_start(A, 4, s, OPS({ 1, 0, 0 }, { 2, 0, 0 }), NULL, 0);
	kid_blocked(4);
	r_counts(A, "", s, 3);
	r_op(A, "child1's first op can proceed now", s, OPS({ 0, 1, 0 }));
	kid_still(0);
	r_counts(A, "", s, 3);
	r_getall(A, "", s, 3);
	r_op(A, "", s, OPS({ 1, 1, 0 }));
	kid_reap(0, "first in line");
	kid_still(2);
	r_counts(A, "", s, 3);
	r_getall(A, "", s, 3);
	r_setval(A, "", s, 2, 0);
	kid_reap(3, "");
	kid_reap(4, "");
	kid_still(1);
	r_counts(A, "", s, 3);
	r_op(A, "", s, OPS({ 1, 2, 0 }));
	kid_reap(1, "");
	kid_reap(2, "");
	r_counts(A, "", s, 3);
	r_getall(A, "", s, 3);
	r_counts(A, "semnum out of range", s, 4);
	r_rmid(A, "", s);
}

/* A sleeper is retried by the call that may let it proceed; the retry can
 * fail, and the sleeper gets that error: EAGAIN from a NOWAIT operation
 * further on, ERANGE from an increment further on. */
static void sc_sleeper_errors(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setall(A, "", s, VALS(0, 1));
	kid_start(A, 0, s, OPS({ 0, -1, 0 }, { 1, -1, NOWAIT }), NULL, 0);
	kid_blocked(0);
	r_op(A, "", s, OPS({ 1, -1, 0 }));
	kid_still(0);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_reap(0, "");
	r_getall(A, "", s, 2);
	r_counts(A, "", s, 2);
	r_setall(A, "", s, VALS(0, SEMVMX));
	kid_start(A, 1, s, OPS({ 0, -1, 0 }, { 1, 1, 0 }), NULL, 0);
	kid_blocked(1);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_reap(1, "");
	r_getall(A, "", s, 2);
	r_counts(A, "", s, 2);
	r_rmid(A, "", s);
}

/* IPC_RMID wakes every sleeper with EIDRM; the id is then EINVAL. */
static void sc_eidrm(const struct sem_impl *A)
{
	const struct timespec t5 = { 5, 0 };
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setval(A, "", s, 1, 1);
	kid_start(A, 0, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(0);
	kid_start(A, 1, s, OPS({ 1, 0, 0 }), NULL, 0);
	kid_blocked(1);
	kid_start(A, 2, s, OPS({ 0, -1, 0 }), &t5, 0);
	kid_blocked(2);
	kid_start(A, 3, s, OPS({ 0, -1, UNDO }), NULL, 0);
	kid_blocked(3);
	kid_start(A, 4, s, OPS({ 1, 1, UNDO }, { 0, -1, 0 }, { 1, 0, 0 }), NULL, 0);
	kid_blocked(4);
	r_counts(A, "", s, 2);
	r_rmid(A, "", s);
	for (int i = 0; i < 5; i++)
		kid_reap(i, "");
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_getval(A, "", s, 0);
	r_stat(A, "", s);
	r_rmid(A, "", s);

	/* a child's SEM_UNDO adjustment to a set removed under it */
	int t = r_get(A, "", IPC_PRIVATE, 1, 0600);
	kid_start(A, 5, t, OPS({ 0, 1, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(5);
	r_rmid(A, "", t);
	int u = r_get(A, "", IPC_PRIVATE, 1, 0600);
	kid_reap(5, "exits after the removal");
	r_getval(A, "a new set is not touched", u, 0);
	r_pids(A, "", u, 1);
	r_rmid(A, "", u);
}

/* A caught signal ends a wait with EINTR, SA_RESTART or not; an ignored one
 * does not; the waiter is no longer counted. SIGSTOP/SIGCONT: signal(7)
 * lists semop among the calls that fail with EINTR after a stop. svipc
 * waits in FUTEX_WAIT, which the kernel restarts after a stop when no
 * handler ran, so its waiter goes on waiting: a documented difference
 * (README), recorded as informational ('~') lines. */
static void sc_eintr(const struct sem_impl *A)
{
	const struct timespec t5 = { 5, 0 };
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setval(A, "", s, 1, 1);
	kid_start(A, 0, s, OPS({ 0, -1, 0 }), NULL, KF_USR1);
	kid_blocked(0);
	kid_start(A, 1, s, OPS({ 0, -1, 0 }), NULL, KF_RESTART);
	kid_blocked(1);
	kid_start(A, 2, s, OPS({ 0, -1, 0 }), &t5, KF_USR1);
	kid_blocked(2);
	kid_start(A, 3, s, OPS({ 1, 0, 0 }), NULL, KF_USR1);
	kid_blocked(3);
	kid_start(A, 4, s, OPS({ 1, 0, 0 }, { 0, -1, 0 }), NULL, KF_RESTART);
	kid_blocked(4);
	r_counts(A, "", s, 2);
	for (int i = 0; i < 5; i++) {
		kill(sh->kid[i].pid, SIGUSR1);
		kid_reap(i, "SIGUSR1");
		r_counts(A, "", s, 2);
	}
	r_getall(A, "nothing taken", s, 2);

	kid_start(A, 5, s, OPS({ 0, -1, 0 }), NULL, KF_IGN);
	kid_blocked(5);
	kill(sh->kid[5].pid, SIGUSR1);
	kid_still(5);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_reap(5, "SIGUSR1 ignored");

	kid_start(A, 6, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(6);
	kill(sh->kid[6].pid, SIGSTOP);
	char st = 0;
	for (int i = 0; i < 2000 && st != 'T'; i++) {
		st = proc_state(sh->kid[6].pid);
		if (st != 'T')
			sleep_ms(1);
	}
	rec("%s stopped: %s", pidlab(sh->kid[6].pid), yn(st == 'T'));
	kill(sh->kid[6].pid, SIGCONT);
	for (int i = 0; i < 300 && !kid_returned(6); i++)
		sleep_ms(1);
	rec("~%s returned after SIGSTOP/SIGCONT: %s", pidlab(sh->kid[6].pid), yn(kid_returned(6)));
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	kid_reap(6, "~stopped and continued");
	r_getall(A, "~", s, 2);
	r_counts(A, "", s, 2);
	r_rmid(A, "", s);
}

/* SEM_UNDO: adjustments are applied when the process exits, clamped to
 * 0..SEMVMX; only the UNDO operations count; not inherited by fork; kept
 * across exec; applied when the process is killed. */
static void sc_undo_exit(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setval(A, "", s, 0, 5);
	kid_start(A, 0, s, OPS({ 0, 3, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(0);
	r_getval(A, "while child1 lives", s, 0);
	kid_reap(0, "");
	r_getval(A, "after child1 exited", s, 0);
	r_pids(A, "the exit's adjustment sets sempid", s, 2);
	kid_start(A, 1, s, OPS({ 0, -1, UNDO }, { 0, -1, UNDO }, { 0, 1, 0 }, { 1, 2, 0 }), NULL, 0);
	kid_reap(1, "");
	r_getall(A, "only the UNDO operations were undone", s, 2);
	r_pids(A, "", s, 2);

	r_setall(A, "", s, VALS(5, 0));
	kid_start(A, 2, s, OPS({ 0, 2, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(2);
	r_op(A, "", s, OPS({ 0, -7, 0 }));
	kid_reap(2, "");
	r_getval(A, "clamped at 0", s, 0);

	r_setval(A, "", s, 0, 3);
	kid_start(A, 3, s, OPS({ 0, -3, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(3);
	r_op(A, "", s, OPS({ 0, SEMVMX, 0 }));
	kid_reap(3, "");
	r_getval(A, "clamped at SEMVMX", s, 0);

	r_setall(A, "", s, VALS(0, 0));
	kid_start(A, 4, s, OPS({ 0, 1, UNDO }, { 1, -1, NOWAIT | UNDO }), NULL, 0);
	kid_reap(4, "a failed call makes no adjustment");
	r_getall(A, "", s, 2);

	kid_start(A, 5, s, OPS({ 0, -1, UNDO }), NULL, 0);
	kid_blocked(5);
	r_op(A, "", s, OPS({ 0, 2, 0 }));
	kid_reap(5, "a sleeper's UNDO");
	r_getval(A, "", s, 0);

	kid_start(A, 6, s, OPS({ 0, 4, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(6);
	r_getval(A, "", s, 0);
	kill(sh->kid[6].pid, SIGKILL);
	int st;
	while (waitpid(sh->kid[6].pid, &st, 0) == -1 && errno == EINTR)
		;
	rec("%s killed by SIGKILL: %s", pidlab(sh->kid[6].pid),
	    yn(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
	r_getval(A, "after the kill", s, 0);
	r_pids(A, "", s, 2);
	r_rmid(A, "", s);
}

/* More SEM_UNDO: fork does not inherit the adjustments, exec keeps them;
 * an adjustment outside -32768..32767 is ERANGE. */
static void sc_undo_more(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	pid_t c = fork_child();
	if (c == 0) {
		r_op(A, "child", s, OPS({ 0, 1, UNDO }));
		pid_t g = fork();
		if (g == 0) {
			alarm(5);
			_exit(0);
		}
		int st;
		while (waitpid(g, &st, 0) == -1 && errno == EINTR)
			;
		r_getval(A, "after the child's own child exited", s, 0);
		g = fork();
		if (g == 0) {
			alarm(5);
			A->op(s, OPS({ 0, 1, UNDO }));
			_exit(0);
		}
		while (waitpid(g, &st, 0) == -1 && errno == EINTR)
			;
		r_getval(A, "after a grandchild's +1 UNDO and exit", s, 0);
		_exit(0);
	}
	reap(c, "");
	r_getval(A, "after the child exited", s, 0);

	c = fork_child();
	if (c == 0) {
		A->op(s, OPS({ 1, 2, UNDO }));
		execl("/bin/sleep", "sleep", "0.4", (char *)NULL);
		_exit(127);
	}
	int seen = 0;
	for (int i = 0; i < 2000 && !seen; i++) {
		seen = strcmp(proc_comm(c), "sleep") == 0;
		if (!seen)
			sleep_ms(1);
	}
	rec("the child execs /bin/sleep: %s", yn(seen));
	r_getval(A, "while the exec'd program runs", s, 1);
	reap(c, "");
	r_getval(A, "after it exited", s, 1);

	c = fork_child();
	if (c == 0) {
		r_op(A, "child", s, OPS({ 0, SEMVMX, UNDO }));
		r_op(A, "child", s, OPS({ 0, -SEMVMX, 0 }));
		r_op(A, "child: adjustment -32768", s, OPS({ 0, 1, UNDO }));
		r_op(A, "child", s, OPS({ 0, -1, 0 }));
		r_op(A, "child: adjustment -32769", s, OPS({ 0, 1, UNDO }));
		r_op(A, "child: with another op first", s, OPS({ 1, 1, 0 }, { 0, 1, UNDO }));
		r_getall(A, "child", s, 2);
		r_op(A, "child: adjustment back to -32767", s, OPS({ 0, 1, 0 }, { 0, -1, UNDO }));
		_exit(0);
	}
	reap(c, "");
	r_getall(A, "", s, 2);
	r_setall(A, "", s, VALS(SEMVMX, 0));
	c = fork_child();
	if (c == 0) {
		r_op(A, "child", s, OPS({ 0, -SEMVMX, UNDO }));
		r_op(A, "child", s, OPS({ 0, SEMVMX, 0 }));
		r_op(A, "child: adjustment 32768", s, OPS({ 0, -1, UNDO }));
		r_op(A, "child: value above SEMVMX on the way", s, OPS({ 0, 1, 0 }, { 0, -1, UNDO }));
		r_op(A, "child: adjustment back to 32766", s, OPS({ 0, -2, 0 }, { 0, 1, UNDO }));
		r_getval(A, "child", s, 0);
		_exit(0);
	}
	reap(c, "");
	r_getall(A, "", s, 2);
	r_rmid(A, "", s);
}

/* SETVAL and SETALL clear the SEM_UNDO adjustments of the semaphores they
 * set, in every process. */
static void sc_undo_setval(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_setval(A, "", s, 0, 5);
	kid_start(A, 0, s, OPS({ 0, -1, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(0);
	r_setval(A, "", s, 0, 10);
	kid_reap(0, "");
	r_getval(A, "the SETVAL value stays", s, 0);
	r_pids(A, "", s, 2);

	kid_start(A, 1, s, OPS({ 1, 2, UNDO }, { 0, -1, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(1);
	r_setval(A, "clears semaphore 1's only", s, 1, 7);
	kid_reap(1, "");
	r_getall(A, "", s, 2);

	kid_start(A, 2, s, OPS({ 0, 3, UNDO }, { 1, 3, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(2);
	r_setall(A, "", s, VALS(1, 2));
	kid_reap(2, "");
	r_getall(A, "the SETALL values stay", s, 2);
	r_pids(A, "", s, 2);

	kid_start(A, 3, s, OPS({ 0, 3, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(3);
	r_setval(A, "a failing SETVAL", s, 0, -1);
	r_setall(A, "a failing SETALL", s, VALS(1, 40000));
	kid_reap(3, "");
	r_getall(A, "the adjustment still applied", s, 2);
	r_rmid(A, "", s);
}

/* GETVAL/SETVAL/GETALL/SETALL/GETPID/GETNCNT/GETZCNT and their errors:
 * SETVAL's ERANGE comes before the id; semnum range; SETALL's ERANGE. */
static void sc_ctl_vals(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 3, 0600);
	r_setval(A, "", s, 0, SEMVMX);
	r_getval(A, "", s, 0);
	r_setval(A, "", s, 0, SEMVMX + 1);
	r_setval(A, "", s, 0, -1);
	r_setval(A, "", s, 0, INT_MIN);
	r_setval(A, "", s, 0, 65536 + 3);
	r_getval(A, "", s, 0);
	r_setval(A, "", s, 0, 0);
	r_setval(A, "", s, 3, 1);
	r_setval(A, "", s, -1, 1);
	r_setval(A, "ERANGE before semnum", s, 3, -1);
	r_setval(A, "ERANGE before the id", HUGE_ID, 0, -1);
	r_setval(A, "", HUGE_ID, 0, 1);
	r_setval(A, "semid < 0 first", -1, 0, -1);
	static const int cmds[] = { GETVAL, GETPID, GETNCNT, GETZCNT };
	for (size_t i = 0; i < 4; i++) {
		r_cmd(A, "", s, 3, cmds[i]);
		r_cmd(A, "", s, -1, cmds[i]);
		r_cmd(A, "", s, INT_MAX, cmds[i]);
	}
	r_setall(A, "", s, VALS(1, 2, 3));
	r_getall(A, "", s, 3);
	r_pids(A, "", s, 3);
	r_setall(A, "", s, VALS(4, SEMVMX + 1, 6));
	r_setall(A, "", s, VALS(65535, 0, 0));
	r_getall(A, "unchanged", s, 3);
	r_getall_n(A, "", s, 99, 3);
	r_getall_n(A, "", s, -5, 3);
	r_setall_n(A, "", s, -5, VALS(7, 8, 9));
	r_getall(A, "", s, 3);
	r_stat_d(A, "", s, 12345, NULL);
	pid_t c = fork_child();
	if (c == 0) {
		r_setval(A, "child", s, 1, 11);
		_exit(0);
	}
	reap(c, "");
	r_pids(A, "SETVAL sets sempid", s, 3);
	c = fork_child();
	if (c == 0) {
		r_setall(A, "child", s, VALS(0, 0, 0));
		_exit(0);
	}
	reap(c, "");
	r_pids(A, "SETALL sets every sempid", s, 3);
	r_setval(A, "", s, 2, 0);
	r_pids(A, "", s, 3);
	r_stat(A, "", s);
	r_rmid(A, "", s);
	r_setval(A, "removed", s, 0, 1);
	r_setval(A, "removed, ERANGE first", s, 0, -1);
	r_setall(A, "removed", s, VALS(1, 2, 3));
	r_setall(A, "removed, out of range", s, VALS(1, 40000, 3));
	r_getall(A, "removed", s, 3);
	r_getval(A, "removed", s, 0);
}

/* Permission checks of semctl as uid 65534 and their order: SETVAL checks
 * the value, then semnum, then permission; GETVAL and its kind check
 * permission before semnum; SETALL permission before the values. */
static void sc_ctl_perm(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	int r = r_get(A, "", IPC_PRIVATE, 2, 0644);
	int w = r_get(A, "", IPC_PRIVATE, 2, 0622);
	int is = find_index(A, s), ir = find_index(A, r);
	rec("indexes found: %s", yn(is >= 0 && ir >= 0));
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		const int sets[3] = { s, r, w };
		const char *names[3] = { "0600", "0644", "0622" };
		for (int i = 0; i < 3; i++) {
			const char *n = names[i];
			r_getval(A, n, sets[i], 0);
			r_getval(A, n, sets[i], 9);
			r_setval(A, n, sets[i], 0, 1);
			r_setval(A, n, sets[i], 9, 1);
			r_setval(A, n, sets[i], 0, -1);
			r_setval(A, n, sets[i], 9, -1);
			r_getall(A, n, sets[i], 2);
			r_setall(A, n, sets[i], VALS(2, 2));
			r_setall(A, n, sets[i], VALS(2, 40000));
			r_cmd(A, n, sets[i], 0, GETPID);
			r_cmd(A, n, sets[i], 0, GETNCNT);
			r_cmd(A, n, sets[i], 9, GETNCNT);
			r_cmd(A, n, sets[i], 0, GETZCNT);
			r_stat(A, n, sets[i]);
			r_set(A, n, sets[i], 0666, KEEP, KEEP);
			r_cmd(A, n, sets[i], 0, IPC_RMID);
		}
		r_sstat(A, "0600", is, "idx(m0)", SEM_STAT);
		r_sstat(A, "0600", is, "idx(m0)", SEM_STAT_ANY);
		r_sstat(A, "0644", ir, "idx(m1)", SEM_STAT);
		r_cmd(A, "", HUGE_ID, 0, IPC_INFO);
		r_cmd(A, "", HUGE_ID, 0, SEM_INFO);
		_exit(0);
	}
	reap(c, "");
	r_getall(A, "", s, 2);
	r_getall(A, "", r, 2);
	r_getall(A, "", w, 2);
	r_rmid(A, "", s);
	r_rmid(A, "", r);
	r_rmid(A, "", w);
}

/* semop as uid 65534: read permission for wait-for-zero only calls, write
 * (alter) permission for any call with a nonzero sem_op, and then no read
 * permission at all; owner class by uid or cuid, group class by gid or
 * cgid; EFBIG before EACCES. */
static void sc_perm_semop(const struct sem_impl *A)
{
	static const int modes[] = { 0400, 0200, 0600, 0644, 0622, 0666, 0066, 0004, 0002, 0000 };
	enum { NM = sizeof modes / sizeof modes[0] };
	int ids[NM + 4];
	for (int i = 0; i < NM; i++)
		ids[i] = r_get(A, "", IPC_PRIVATE, 2, modes[i]);
	ids[NM] = r_get(A, "owner 65534, mode 0400", IPC_PRIVATE, 2, 0400);
	r_set(A, "", ids[NM], KEEP, NOBODY_UID, KEEP);
	ids[NM + 1] = r_get(A, "owner 65534, mode 0066", IPC_PRIVATE, 2, 0066);
	r_set(A, "", ids[NM + 1], KEEP, NOBODY_UID, KEEP);
	ids[NM + 2] = r_get(A, "group 65534, mode 0060", IPC_PRIVATE, 2, 0060);
	r_set(A, "", ids[NM + 2], KEEP, KEEP, NOBODY_GID);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		int m = r_get(A, "65534 creates, mode 0600", IPC_PRIVATE, 2, 0600);
		sh->v[0] = m;
		_exit(0);
	}
	reap(c, "");
	ids[NM + 3] = sh->v[0];
	r_set(A, "root takes it: 65534 stays creator", ids[NM + 3], 0600, 0, 0);
	c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		for (int i = 0; i < NM + 4; i++) {
			int id = ids[i];
			r_op(A, "read", id, OPS({ 0, 0, 0 }));
			r_op(A, "alter", id, OPS({ 0, 1, 0 }));
			r_op(A, "alter and wait-for-zero", id, OPS({ 1, 0, 0 }, { 0, -1, 0 }));
			r_op(A, "sem_num 9", id, OPS({ 9, 0, 0 }));
			r_getval(A, "", id, 0);
		}
		r_set(A, "creator", ids[NM + 3], 0640, KEEP, KEEP);
		r_cmd(A, "creator", ids[NM + 3], 0, IPC_RMID);
		_exit(0);
	}
	reap(c, "");
	for (int i = 0; i < NM + 3; i++)
		r_rmid(A, "", ids[i]);
}

/* Permission is checked when the call is made: a sleeper whose permission
 * is revoked meanwhile (IPC_SET) still completes when woken. */
static void sc_perm_revoked(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0666);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		__atomic_store_n(&sh->v[1], 1, __ATOMIC_SEQ_CST);
		/* the runner records these after the child is gone */
		errno = 0;
		sh->v[2] = A->op(s, OPS({ 0, -1, 0 }));
		sh->v[3] = errno;
		errno = 0;
		sh->v[4] = A->op(s, OPS({ 1, 1, 0 }));
		sh->v[5] = errno;
		_exit(0);
	}
	char st = 0;
	for (int i = 0; i < 3000; i++) {
		if (__atomic_load_n(&sh->v[1], __ATOMIC_SEQ_CST) == 1 && (st = proc_state(c)) == 'S')
			break;
		sleep_ms(1);
	}
	rec("child asleep: %s", yn(st == 'S'));
	r_set(A, "revokes", s, 0600, KEEP, KEEP);
	r_counts(A, "", s, 2);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	reap(c, "");
	rec("child (65534): blocked semop(%s, [0:-1]) -> %s; then semop(%s, [1:+1]) -> %s", lab(s),
	    rv(sh->v[2], sh->v[3]), lab(s), rv(sh->v[4], sh->v[5]));
	r_getall(A, "", s, 2);
	r_rmid(A, "", s);
}

/* IPC_STAT fields; IPC_SET changes uid, gid and the low 9 mode bits and
 * ctime; owner or creator (or root) only; uid/gid -1 are EINVAL. */
static void sc_stat_set(const struct sem_impl *A)
{
	int s = r_get(A, "", osh->key[0], 2, IPC_CREAT | 0640);
	r_stat(A, "", s);
	r_set(A, "mode 07777: low 9 bits only", s, 07777, KEEP, KEEP);
	r_stat(A, "", s);
	r_set(A, "", s, 0600, 1234, 5678);
	r_stat(A, "cuid/cgid unchanged", s);
	r_set(A, "uid -1", s, KEEP, (uid_t)-1, KEEP);
	r_set(A, "gid -1", s, KEEP, KEEP, (gid_t)-1);
	r_stat(A, "unchanged", s);
	r_set_n(A, "", s, 77, 0604, KEEP, KEEP);
	r_stat_d(A, "", s, 77, NULL);
	r_get(A, "the key still finds it", osh->key[0], 2, 0);

	int o = r_get(A, "root's", IPC_PRIVATE, 1, 0666);
	int g = r_get(A, "given to 65534", IPC_PRIVATE, 1, 0600);
	r_set(A, "", g, KEEP, NOBODY_UID, KEEP);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_stat(A, "0666, not owner", o);
		r_set(A, "not owner", o, 0600, KEEP, KEEP);
		r_cmd(A, "not owner", o, 0, IPC_RMID);
		r_stat(A, "", o);
		r_stat(A, "owner, 0600", g);
		r_set(A, "owner", g, 0640, KEEP, NOBODY_GID);
		r_stat(A, "", g);
		r_set(A, "owner gives it back to 0", g, 0644, 0, KEEP);
		r_set(A, "no longer owner", g, 0666, KEEP, KEEP);
		r_cmd(A, "no longer owner", g, 0, IPC_RMID);
		r_stat(A, "0644, gid 65534", g);
		int m = r_get(A, "created by 65534", IPC_PRIVATE, 1, 0600);
		sh->v[0] = m;
		_exit(0);
	}
	reap(c, "");
	r_stat(A, "", g);
	int m = sh->v[0];
	r_stat(A, "", m);
	r_set(A, "root takes 65534's", m, KEEP, 0, 0);
	c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_set(A, "creator, not owner", m, 0644, KEEP, KEEP);
		r_stat(A, "", m);
		r_cmd(A, "creator, not owner", m, 0, IPC_RMID);
		r_stat(A, "removed", m);
		_exit(0);
	}
	reap(c, "");
	r_rmid(A, "", s);
	r_rmid(A, "", o);
	r_rmid(A, "", g);
}

/* IPC_RMID: the key is free at once, the id is EINVAL for every call. */
static void sc_rmid(const struct sem_impl *A)
{
	key_t k = osh->key[0];
	int s = r_get(A, "", k, 1, IPC_CREAT | 0600);
	r_cmd(A, "semnum is ignored", s, 7, IPC_RMID);
	r_rmid(A, "twice", s);
	r_stat(A, "", s);
	r_getval(A, "", s, 0);
	r_op(A, "", s, OPS({ 0, 1, 0 }));
	r_get(A, "", k, 1, 0);
	int n = r_get(A, "a new set under the old key", k, 1, IPC_CREAT | IPC_EXCL | 0600);
	rec("new id differs: %s", yn(n != s));
	r_stat(A, "", s);
	r_stat(A, "", n);
	r_rmid(A, "", n);
	r_get(A, "", k, 1, 0);
}

/* IPC_INFO (the limits, constants) and SEM_INFO (sets and semaphores in
 * use); both return the highest index in use, 0 when there is none. */
static void sc_info(const struct sem_impl *A)
{
	r_info(A, "empty namespace", 0, IPC_INFO, -1);
	r_info(A, "empty namespace", 0, SEM_INFO, -1);
	int ids[3];
	ids[0] = r_get(A, "", IPC_PRIVATE, 1, 0600);
	ids[1] = r_get(A, "", IPC_PRIVATE, 5, 0600);
	ids[2] = r_get(A, "", osh->key[0], 2, IPC_CREAT | 0600);
	int idx[3], top = -1;
	for (int i = 0; i < 3; i++) {
		idx[i] = find_index(A, ids[i]);
		top = idx[i] > top ? idx[i] : top;
	}
	rec("our sets have indexes: %s", yn(idx[0] >= 0 && idx[1] >= 0 && idx[2] >= 0));
	r_info(A, "3 sets", 0, IPC_INFO, top);
	r_info(A, "3 sets", 0, SEM_INFO, top);
	r_info(A, "the id is ignored", HUGE_ID, IPC_INFO, top);
	r_info(A, "", -1, IPC_INFO, top);
	r_info(A, "", -1, SEM_INFO, top);
	r_info(A, "", INT_MIN, SEM_INFO, top);
	/* remove the set at the highest index: the top moves down */
	int hi = 0;
	for (int i = 1; i < 3; i++)
		if (idx[i] > idx[hi])
			hi = i;
	r_rmid(A, "the highest index", ids[hi]);
	int top2 = -1;
	for (int i = 0; i < 3; i++)
		if (i != hi && idx[i] > top2)
			top2 = idx[i];
	r_info(A, "2 sets", 0, SEM_INFO, top2);
	for (int i = 0; i < 3; i++)
		if (i != hi)
			r_rmid(A, "", ids[i]);
	r_info(A, "empty again", 0, SEM_INFO, -1);
	r_info(A, "empty again", 0, IPC_INFO, -1);
}

/* SEM_STAT / SEM_STAT_ANY take an index and return the full id; SEM_STAT
 * needs read permission, SEM_STAT_ANY does not; unused index EINVAL. */
static void sc_sem_stat(const struct sem_impl *A)
{
	int s = r_get(A, "", osh->key[0], 2, IPC_CREAT | 0600);
	int t = r_get(A, "", IPC_PRIVATE, 1, 0644);
	int is = find_index(A, s), it = find_index(A, t);
	rec("indexes found: %s", yn(is >= 0 && it >= 0));
	r_sstat(A, "", is, "idx(m0)", SEM_STAT);
	r_sstat(A, "", is, "idx(m0)", SEM_STAT_ANY);
	r_sstat(A, "", it, "idx(m1)", SEM_STAT);
	r_sstat(A, "", -1, "-1", SEM_STAT);
	r_sstat(A, "", -1, "-1", SEM_STAT_ANY);
	r_sstat(A, "", INT_MIN, "INT_MIN", SEM_STAT_ANY);
	r_sstat(A, "", 5000, "5000 (unused)", SEM_STAT);
	r_sstat(A, "", 32767, "32767 (unused)", SEM_STAT_ANY);
	if (is >= 0)
		r_sstat(A, "index bits above the index field", is + (1 << g_seq_shift),
			"idx(m0)+(1<<shift)", SEM_STAT_ANY);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_sstat(A, "0600", is, "idx(m0)", SEM_STAT);
		r_sstat(A, "0600", is, "idx(m0)", SEM_STAT_ANY);
		r_sstat(A, "0644", it, "idx(m1)", SEM_STAT);
		r_stat(A, "0600", s);
		r_stat(A, "0644", t);
		_exit(0);
	}
	reap(c, "");
	r_rmid(A, "", s);
	r_sstat(A, "removed", is, "idx(m0)", SEM_STAT_ANY);
	r_sstat(A, "removed", is, "idx(m0)", SEM_STAT);
	r_rmid(A, "", t);
}

/* Unknown commands; negative, never-created and removed ids for every
 * command (semid < 0 is EINVAL before anything else). */
static void sc_bad_ctl(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	static const int bad[] = { 99, -1, 4, 10, 21, 1000, IPC_STAT | 0x100, GETVAL | 0x100,
				   IPC_RMID | 0x200 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		r_cmd(A, "", s, 0, bad[i]);
	r_stat(A, "still there", s);
	int t = r_get(A, "", IPC_PRIVATE, 2, 0600);
	r_rmid(A, "", t);
	static const int cmds[] = { IPC_STAT, IPC_SET, IPC_RMID, GETVAL, SETVAL, GETALL, SETALL,
				    GETPID, GETNCNT, GETZCNT, IPC_INFO, SEM_INFO, SEM_STAT,
				    SEM_STAT_ANY, 99 };
	const int badids[] = { -1, INT_MIN, HUGE_ID, t };
	for (size_t j = 0; j < 4; j++)
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			r_cmd(A, j == 3 ? "removed" : "", badids[j], 0, cmds[i]);
	r_rmid(A, "", s);
}

/* SETVAL and SETALL wake the waiters they let proceed; the woken call sets
 * sempid to the sleeper's pid. */
static void sc_wake_set(const struct sem_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2, 0600);
	kid_start(A, 0, s, OPS({ 0, -3, 0 }), NULL, 0);
	kid_blocked(0);
	r_setval(A, "", s, 0, 2);
	kid_still(0);
	r_setval(A, "", s, 0, 5);
	kid_reap(0, "");
	r_getall(A, "", s, 2);
	r_pids(A, "", s, 2);
	r_setval(A, "", s, 1, 4);
	kid_start(A, 1, s, OPS({ 1, 0, 0 }), NULL, 0);
	kid_blocked(1);
	r_setall(A, "", s, VALS(2, 0));
	kid_reap(1, "");
	r_pids(A, "", s, 2);
	r_setall(A, "", s, VALS(0, 0));
	kid_start(A, 2, s, OPS({ 0, -1, 0 }, { 1, -1, 0 }), NULL, 0);
	kid_blocked(2);
	r_setall(A, "", s, VALS(1, 0));
	kid_still(2);
	r_set(A, "IPC_SET wakes nobody", s, 0666, KEEP, KEEP);
	kid_still(2);
	r_setall(A, "", s, VALS(1, 1));
	kid_reap(2, "");
	r_getall(A, "", s, 2);
	r_pids(A, "", s, 2);
	r_counts(A, "", s, 2);
	r_rmid(A, "", s);
}

/* sem_otime: 0 until a semop succeeds (wait-for-zero, a woken sleeper and
 * an exit's adjustments count; failures and semctl do not); sem_ctime:
 * creation, SETVAL, SETALL, IPC_SET. Calls 1.1 s apart, each field named
 * by the call that set it. */
static void sc_times(const struct sem_impl *A)
{
	const long gap = 1100;
	ev_begin("create");
	int s = r_get(A, "", osh->key[0], 2, IPC_CREAT | 0600);
	ev_end();
	r_stat(A, "fresh", s);
	sleep_ms(gap);
	ev_begin("failures");
	r_op(A, "", s, OPS({ 0, -1, NOWAIT }));
	r_op(A, "", s, OPS({ 5, 1, 0 }));
	r_op(A, "", s, OPS({ 0, SEMVMX, 0 }, { 0, 1, 0 }));
	r_getall(A, "", s, 2);
	r_cmd(A, "", s, 0, GETNCNT);
	r_setval(A, "failing", s, 0, -1);
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("SETVAL");
	r_setval(A, "", s, 0, 1);
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("semop");
	r_op(A, "", s, OPS({ 0, -1, 0 }));
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("wait-for-zero");
	r_op(A, "", s, OPS({ 1, 0, 0 }));
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("SETALL");
	r_setall(A, "", s, VALS(0, 0));
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("IPC_SET");
	r_set(A, "", s, 0640, KEEP, KEEP);
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("child +1 UNDO");
	kid_start(A, 0, s, OPS({ 0, 1, UNDO }), NULL, KF_HOLD);
	kid_wait_returned(0);
	ev_end();
	r_stat(A, "", s);
	sleep_ms(gap);
	ev_begin("child exits");
	kid_reap(0, "");
	ev_end();
	r_stat(A, "", s);
	r_getval(A, "", s, 0);
	sleep_ms(gap);
	ev_begin("child blocks");
	kid_start(A, 1, s, OPS({ 0, -1, 0 }), NULL, 0);
	kid_blocked(1);
	ev_end();
	sleep_ms(gap);
	ev_begin("SETVAL wakes it");
	r_setval(A, "", s, 0, 1);
	kid_reap(1, "");
	ev_end();
	r_stat(A, "", s);
	r_rmid(A, "", s);
}

/* ------------------------------------------------------------- the runner */

struct scenario {
	const char *name;
	void (*fn)(const struct sem_impl *);
	int root;      /* needs root (drops to 65534 in a child, or namespaces) */
	unsigned secs; /* the runner's bound */
};

static const struct scenario scenarios[] = {
	{ "semget_private", sc_get_private, 0, 15 },
	{ "semget_keyed", sc_get_keyed, 0, 15 },
	{ "semget_nsems", sc_get_nsems, 0, 15 },
	{ "semget_mode", sc_get_mode, 0, 15 },
	{ "semget_perm", sc_get_perm, 1, 15 },
	{ "limits", sc_limits, 1, 15 },
	{ "semop_basic", sc_semop_basic, 0, 15 },
	{ "semop_errors", sc_semop_errors, 0, 15 },
	{ "semop_atomic", sc_semop_atomic, 0, 15 },
	{ "nowait_mixed", sc_nowait_mixed, 0, 15 },
	{ "semtimedop", sc_semtimedop, 0, 25 },
	{ "handoff", sc_handoff, 0, 30 },
	{ "wait_zero", sc_wait_zero, 0, 30 },
	{ "ncnt_zcnt", sc_ncnt_zcnt, 0, 30 },
	{ "sleeper_errors", sc_sleeper_errors, 0, 20 },
	{ "killed_waiter", sc_killed_waiter, 0, 30 },
	{ "many_waiters", sc_many_waiters, 0, 60 },
	{ "eidrm", sc_eidrm, 0, 30 },
	{ "eintr", sc_eintr, 0, 40 },
	{ "undo_exit", sc_undo_exit, 0, 30 },
	{ "undo_more", sc_undo_more, 0, 20 },
	{ "undo_setval", sc_undo_setval, 0, 30 },
	{ "ctl_vals", sc_ctl_vals, 0, 15 },
	{ "ctl_perm", sc_ctl_perm, 1, 15 },
	{ "perm_semop", sc_perm_semop, 1, 15 },
	{ "perm_revoked", sc_perm_revoked, 1, 15 },
	{ "stat_set", sc_stat_set, 1, 15 },
	{ "rmid", sc_rmid, 0, 15 },
	{ "info", sc_info, 0, 15 },
	{ "sem_stat", sc_sem_stat, 1, 15 },
	{ "bad_ctl", sc_bad_ctl, 0, 15 },
	{ "wake_set", sc_wake_set, 0, 30 },
	{ "times", sc_times, 0, 40 },
};

static const struct scenario *g_sc; /* the one side() runs */

/* Writes the test namespace's limits into the runner's fresh IPC namespace. */
static int private_ipc_ns(void)
{
	if (unshare(CLONE_NEWIPC) != 0)
		return -1;
	FILE *f = fopen("/proc/sys/kernel/sem", "w");
	if (!f)
		return -1;
	int ok = fprintf(f, "%ld %ld %ld %ld\n", g_semmsl, g_semmns, g_semopm, g_semmni) > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* One side of g_sc, in its runner: the kernel's in a fresh IPC namespace,
 * svipc's in a fresh namespace directory. */
static void side(int kernel)
{
	memset(sh, 0, sizeof *sh);
	memset(sh->v, -1, sizeof sh->v);
	if (kernel && g_private && private_ipc_ns() != 0) {
		rec("RUNNER: no private IPC namespace: %s", strerror(errno));
		return;
	}
	if (!kernel) {
		char dir[sizeof t_dir + 64];
		snprintf(dir, sizeof dir, "%s/%s", t_dir, g_sc->name);
		setenv("SVIPC_DIR", dir, 1);
	}
	g_sc->fn(kernel ? &K : &S);
}

static int read_sem_limits(void)
{
	FILE *f = fopen("/proc/sys/kernel/sem", "r");
	if (!f)
		return -1;
	int n = fscanf(f, "%ld %ld %ld %ld", &g_semmsl, &g_semmns, &g_semopm, &g_semmni);
	fclose(f);
	return n == 4 && g_semmsl > 0 && g_semopm > 0 && g_semopm < 1100 ? 0 : -1;
}

/* 1 if a child can have a fresh IPC namespace with these limits. */
static int probe_private_ns(void)
{
	if (!g_root)
		return 0;
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		alarm(5);
		_exit(private_ipc_ns() == 0 ? 0 : 1);
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) != p)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int wanted(const char *name, int argc, char **argv)
{
	int any = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		any = 1;
		if (strcmp(argv[i], name) == 0)
			return 1;
	}
	return !any;
}

int main(int argc, char **argv)
{
	t_setup(150);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--kernel-only") == 0)
			g_kernel_only = 1;
	if (read_sem_limits() != 0) {
		fprintf(stderr, "cannot read /proc/sys/kernel/sem (or semopm >= 1100)\n");
		return 1;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || oracle_init() != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	{
		int s = semget(IPC_PRIVATE, 1, 0600);
		int rc = first_kernel_object(s, "kernel semget");
		if (rc)
			return rc;
		struct semid_ds d;
		if (semctl(s, 0, IPC_STAT, (union t_semun){ .buf = &d }) == 0)
			learn_seq_shift(s, d.sem_perm.__seq);
		kclean();
	}
	g_private = probe_private_ns();
	printf("kernel side: %s\n", g_private ? "a fresh IPC namespace per scenario"
					      : "the shared IPC namespace (not root?)");

	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		const struct scenario *sc = &scenarios[i];
		if (!wanted(sc->name, argc, argv) || skip_unless_root(sc->name, sc->root))
			continue;
		g_sc = sc;
		if (g_kernel_only) {
			fresh_keys(0x5e000000u);
			run_side(side, 1, sc->secs, g_kt);
			printf("=== %s (kernel)\n", sc->name);
			for (int j = 0; j < g_kt->n; j++)
				printf("  %s\n", g_kt->line[j]);
			g_checks += g_kt->n;
			continue;
		}
		run_sides(side, 0x5e000000u, sc->secs);
		compare_diff(sc->name);
	}
	return oracle_done();
}

/*
 * test_msg_oracle.c - the running kernel is the oracle.
 *
 * Every scenario below is written once against a table of function pointers
 * {msgget, msgsnd, msgrcv, msgctl} and run twice: once with libc's functions
 * (the kernel's System V message queues) and once with svipc_msg*. Each call
 * appends one line to a transcript: the call, its return value and errno,
 * and for IPC_STAT the deterministic msqid_ds fields. The two transcripts
 * must match line by line; every difference is printed with the scenario.
 *
 * Values that genuinely cannot match are recorded as properties: queue ids
 * become labels q0, q1... in order of first appearance, pids become
 * "runner"/"child"/"0", times "0"/"nz", keys "K0".."K7"/"0", MSG_INFO's
 * system-wide counts become "at least what this scenario created".
 * Lines starting with '~' are informational: a mismatch there is printed
 * as a NOTE and does not fail the test.
 *
 * Each side of each scenario runs in its own forked "runner" process, so a
 * crash or hang in one scenario is recorded and the rest still run. The
 * transcript lives in a MAP_SHARED mapping, so runners and their children
 * write to it directly. Kernel queues are tracked there as well and are
 * always removed (after every scenario, at exit, and from fatal signals).
 *
 * Scenarios (see the table at the end): msgget (PRIVATE, keys, CREAT/EXCL,
 * ENOENT, mode bits, ignored flag bits); msgsnd errors and limits (mtype,
 * msgsz vs msgmax, huge/negative sizes, zero-length messages, full queues by
 * bytes and by count, qbytes 0 or below cbytes); msgrcv selection (0, >0,
 * <0 = lowest type oldest first, EXCEPT incl. with 0/<0, LONG_MIN/LONG_MAX),
 * E2BIG vs NOERROR, sizes, ENOMSG, MSG_COPY (probed: without
 * CONFIG_CHECKPOINT_RESTORE svipc is checked against msgop(2) instead);
 * invalid ids; msgctl bad cmds, IPC_64, IPC_SET rules, IPC_RMID,
 * IPC_INFO/MSG_INFO (limits vs /proc), MSG_STAT/MSG_STAT_ANY; pid/time
 * fields incl. children and threads; blocking: typed wake-ups, EIDRM, EINTR
 * with SA_RESTART, SIGSTOP/SIGCONT, E2BIG to a blocked receiver, wake-ups by
 * IPC_SET and by receives, 140 concurrent waiters, 150 waiters killed while
 * blocked, IPC_RMID waking everyone; permissions as uid 65534 (others,
 * owner, creator, groups incl. supplementary and cgid, a revoked permission
 * while blocked) and as uid 0 without CAP_IPC_OWNER / CAP_SYS_ADMIN.
 *
 * SVIPC_ORACLE_VERBOSE=1 prints every transcript.
 * The machinery this shares with test_shm_oracle.c is in oracle.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#define TLINES 1200
#define ORACLE_NIDS 256
#define ORACLE_NAME_WIDTH 28
#include "oracle.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define NW IPC_NOWAIT

#if defined(__SANITIZE_ADDRESS__)
/*
 * AddressSanitizer's msgsnd interceptor checks msgsz bytes of the buffer
 * before the kernel sees the call (so msgsz = LONG_MAX "crashes" in ASan
 * before the kernel could say EINVAL): under ASan the kernel side makes the
 * system call itself, as libc does on x86-64.
 */
static int k_msgsnd(int q, const void *p, size_t n, int f)
{
	return (int)syscall(SYS_msgsnd, q, p, n, f);
}
#define K_MSGSND k_msgsnd
#else
#define K_MSGSND msgsnd
#endif

static const struct msg_impl K = { "kernel", 1, msgget, K_MSGSND, msgrcv, msgctl };
static const struct msg_impl S = T_SVIPC_IMPL;

/* MAP_SHARED as well: what this oracle's runners and children share beyond
 * oracle.h's transcript and labels. */
struct shared {
	volatile int ready; /* a child is about to block */
	int v[16];     /* scratch shared between a runner and its children */
	char deferred[8][TLEN]; /* lines of children that may finish in any order */
};

static struct shared *sh;
static long g_msgmax, g_msgmnb, g_msgmni;
static size_t g_cap;
static int g_have_copy = 1, g_cap_resource;
static unsigned g_seq;
struct mbuf {
	long mtype;
	unsigned char mtext[];
};
static struct mbuf *sbuf, *rbuf;

/* ---------------------------------------------------------------- helpers */

static long read_proc(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Is capability number cap in this process's effective set? */
static int has_cap(int cap)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (int)((eff >> cap) & 1);
}

/* What oracle.h asks of its includer. */
static void ipc_rm(int kernel, int id)
{
	(kernel ? &K : &S)->ctl(id, IPC_RMID, NULL);
}

static int kernel_key_unused(key_t k)
{
	return msgget(k, 0) == -1 && errno == ENOENT;
}

static void rec_killed(const char *what, int child, int sig)
{
	rec("%s%s KILLED by signal %d (%s)", pre(what), child ? "child" : "RUNNER", sig,
	    sig == SIGALRM ? "hung" : strsignal(sig));
}

/* Queue ids are q0, q1... */
static const char *lab(int id)
{
	return id_label(id, 'q');
}

/* A queue id that was never handed out, for "invalid id" checks. */
static const char *idlab(int id)
{
	if (id == INT_MAX - 0x1234)
		return "HUGE";
	if (id == INT_MIN)
		return "INT_MIN";
	return lab(id);
}

static const char *fl(int f)
{
	static const struct {
		int bit;
		const char *n;
	} names[] = { { IPC_CREAT, "CREAT" },     { IPC_EXCL, "EXCL" },
		      { IPC_NOWAIT, "NOWAIT" },   { MSG_NOERROR, "NOERROR" },
		      { MSG_EXCEPT, "EXCEPT" },   { MSG_COPY, "COPY" } };
	char *b = rot();
	size_t o = 0;
	b[0] = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (f & names[i].bit) {
			o += snprintf(b + o, ROTLEN - o, "%s%s", o ? "|" : "", names[i].n);
			f &= ~names[i].bit;
		}
	if (f & 0777)
		o += snprintf(b + o, ROTLEN - o, "%s0%o", o ? "|" : "", f & 0777);
	f &= ~0777;
	if (f)
		o += snprintf(b + o, ROTLEN - o, "%s0x%x", o ? "|" : "", (unsigned)f);
	if (!o)
		snprintf(b, ROTLEN, "0");
	return b;
}

static unsigned fnv(const unsigned char *p, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void ds_str(char *b, size_t n, const struct msqid_ds *d, int id)
{
	snprintf(b, n,
		 "qnum=%lu cbytes=%lu qbytes=%lu mode=%o uid=%u gid=%u cuid=%u cgid=%u "
		 "key=%s lspid=%s lrpid=%s stime=%s rtime=%s ctime=%s seq=%s",
		 (unsigned long)d->msg_qnum, (unsigned long)d->__msg_cbytes,
		 (unsigned long)d->msg_qbytes, (unsigned)d->msg_perm.mode,
		 (unsigned)d->msg_perm.uid, (unsigned)d->msg_perm.gid,
		 (unsigned)d->msg_perm.cuid, (unsigned)d->msg_perm.cgid,
		 keylab(d->msg_perm.__key), pidlab(d->msg_lspid), pidlab(d->msg_lrpid),
		 d->msg_stime ? "nz" : "0", d->msg_rtime ? "nz" : "0",
		 d->msg_ctime ? "nz" : "0",
		 d->msg_perm.__seq == (unsigned short)((unsigned)id >> g_seq_shift) ? "id>>shift"
										: "OTHER");
}

/* ----------------------------------------------------- recorded wrappers */

static int r_get(const struct msg_impl *A, const char *what, key_t key, int flg)
{
	errno = 0;
	int r = A->get(key, flg);
	int e = errno;
	track(A->kernel, r);
	rec("%smsgget(%s, %s) -> %s", pre(what), keylab(key), fl(flg),
	    r >= 0 ? lab(r) : rv(r, e));
	return r;
}

static int r_snd(const struct msg_impl *A, const char *what, int id, long type, size_t len,
		 int flg)
{
	unsigned s = ++g_seq;
	size_t n = len < g_cap ? len : g_cap;
	sbuf->mtype = type;
	for (size_t i = 0; i < n; i++)
		sbuf->mtext[i] = (unsigned char)(s * 131 + i * 7 + (unsigned long)type);
	errno = 0;
	int r = A->snd(id, sbuf, len, flg);
	int e = errno;
	rec("%smsgsnd(%s, type=%ld, len=%zu, %s) -> %s", pre(what), idlab(id), type, len,
	    fl(flg), rv(r, e));
	return r;
}

static ssize_t r_rcv(const struct msg_impl *A, const char *what, int id, size_t sz, long typ,
		     int flg)
{
	char out[160];
	memset(rbuf, 0xA5, sizeof(long) + g_cap);
	errno = 0;
	ssize_t r = A->rcv(id, rbuf, sz, typ, flg);
	int e = errno;
	if (r >= 0) {
		size_t got = (size_t)r < g_cap ? (size_t)r : g_cap;
		size_t end = got + 64 < g_cap ? got + 64 : g_cap;
		int guard = 1;
		for (size_t i = got; i < end; i++)
			if (rbuf->mtext[i] != 0xA5)
				guard = 0;
		snprintf(out, sizeof out, "%zd type=%ld data=%08x%s", r, rbuf->mtype,
			 fnv(rbuf->mtext, got), guard ? "" : " WROTE-PAST-RETURNED-LENGTH");
	} else {
		int untouched = 1;
		unsigned char *p = (unsigned char *)rbuf;
		for (size_t i = 0; i < sizeof(long) + 64; i++)
			if (p[i] != 0xA5)
				untouched = 0;
		snprintf(out, sizeof out, "-1 %s%s", en(e),
			 untouched ? "" : " BUFFER-WRITTEN-ON-ERROR");
	}
	rec("%smsgrcv(%s, sz=%zu, typ=%ld, %s) -> %s", pre(what), idlab(id), sz, typ, fl(flg),
	    out);
	return r;
}

static int r_stat(const struct msg_impl *A, const char *what, int id)
{
	struct msqid_ds d;
	char b[256];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(id, IPC_STAT, &d);
	int e = errno;
	if (r == 0) {
		ds_str(b, sizeof b, &d, id);
		rec("%sIPC_STAT(%s) -> 0 %s", pre(what), idlab(id), b);
	} else {
		rec("%sIPC_STAT(%s) -> %s", pre(what), idlab(id), rv(r, e));
	}
	return r;
}

/* MSG_STAT / MSG_STAT_ANY at an index; idxname is how the index is printed. */
static int r_mstat(const struct msg_impl *A, const char *what, int idx, const char *idxname,
		   int cmd)
{
	struct msqid_ds d;
	char b[256];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(idx, cmd, &d);
	int e = errno;
	const char *cn = cmd == MSG_STAT ? "MSG_STAT" : "MSG_STAT_ANY";
	if (r >= 0) {
		ds_str(b, sizeof b, &d, r);
		rec("%s%s(%s) -> %s %s", pre(what), cn, idxname, lab(r), b);
	} else {
		rec("%s%s(%s) -> %s", pre(what), cn, idxname, rv(r, e));
	}
	return r;
}

static const char *llv(long long v)
{
	char *b = rot();
	if (v == KEEP)
		return "keep";
	snprintf(b, ROTLEN, "%lld", v);
	return b;
}

static const char *octv(long long v)
{
	char *b = rot();
	if (v == KEEP)
		return "keep";
	snprintf(b, ROTLEN, "0%llo", v);
	return b;
}

/* IPC_SET: start from IPC_STAT (or zeros if that fails), change the given fields. */
static int r_set(const struct msg_impl *A, const char *what, int id, long long mode, long long uid,
		 long long gid, long long qbytes)
{
	struct msqid_ds d;
	memset(&d, 0, sizeof d);
	int base = A->ctl(id, IPC_STAT, &d) == 0;
	if (!base)
		memset(&d, 0, sizeof d);
	if (mode != KEEP)
		d.msg_perm.mode = (unsigned short)mode;
	if (uid != KEEP)
		d.msg_perm.uid = (uid_t)uid;
	if (gid != KEEP)
		d.msg_perm.gid = (gid_t)gid;
	if (qbytes != KEEP)
		d.msg_qbytes = (msglen_t)qbytes;
	errno = 0;
	int r = A->ctl(id, IPC_SET, &d);
	int e = errno;
	rec("%sIPC_SET(%s, mode=%s uid=%s gid=%s qbytes=%s)%s -> %s", pre(what), idlab(id),
	    octv(mode), llv(uid), llv(gid),
	    llv(qbytes), base ? "" : " [from zeroed buf]", rv(r, e));
	return r;
}

static int r_ctl(const struct msg_impl *A, const char *what, int id, int cmd)
{
	struct msqid_ds d;
	memset(&d, 0, sizeof d);
	errno = 0;
	int r = A->ctl(id, cmd, &d);
	int e = errno;
	rec("%smsgctl(%s, cmd=%d) -> %s", pre(what), idlab(id), cmd, rv(r, e));
	return r;
}

static const char *vs_proc(long v, long proc)
{
	char *b = rot();
	if (v == proc)
		return "=proc";
	snprintf(b, ROTLEN, "%ld(proc %ld)", v, proc);
	return b;
}

/*
 * IPC_INFO / MSG_INFO. nq/nmsg/nbytes: what this scenario has created, the
 * lower bounds for MSG_INFO's counts (the kernel's include other users').
 */
static int r_info(const struct msg_impl *A, const char *what, int id, int cmd, int nq, long nmsg,
		  long nbytes)
{
	struct msginfo mi;
	memset(&mi, 0x5a, sizeof mi);
	errno = 0;
	int r = A->ctl(id, cmd, (struct msqid_ds *)(void *)&mi);
	int e = errno;
	const char *cn = cmd == IPC_INFO ? "IPC_INFO" : "MSG_INFO";
	if (r < 0) {
		rec("%s%s(%s) -> %s", pre(what), cn, idlab(id), rv(r, e));
		return r;
	}
	const char *top = "-";
	if (nq > 0) {
		struct msqid_ds d;
		/* the returned value is the highest index in use */
		top = A->ctl(r, MSG_STAT_ANY, &d) >= 0 ? "in-use" : "NOT-IN-USE";
	}
	rec("%s%s(%d) -> >=0 top-index=%s msgmax%s msgmnb%s msgmni%s", pre(what), cn, id, top,
	    vs_proc(mi.msgmax, g_msgmax), vs_proc(mi.msgmnb, g_msgmnb),
	    vs_proc(mi.msgmni, g_msgmni));
	if (cmd == MSG_INFO) {
		rec("%sMSG_INFO counts: queues>=%d:%s messages>=%ld:%s bytes>=%ld:%s", pre(what),
		    nq, mi.msgpool >= nq ? "yes" : "NO", nmsg, mi.msgmap >= nmsg ? "yes" : "NO",
		    nbytes, mi.msgtql >= nbytes ? "yes" : "NO");
		rec("~%sMSG_INFO constants: msgssz=%d msgseg=%u", pre(what), mi.msgssz,
		    (unsigned)mi.msgseg);
	} else {
		rec("~%sIPC_INFO constants: msgpool=%d msgmap=%d msgtql=%d msgssz=%d msgseg=%u",
		    pre(what), mi.msgpool, mi.msgmap, mi.msgtql, mi.msgssz, (unsigned)mi.msgseg);
	}
	return r;
}

/* Index of queue id (for MSG_STAT), found by scanning 0..MSG_INFO's top index. */
static int find_index(const struct msg_impl *A, int id)
{
	struct msginfo mi;
	int top = A->ctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi);
	if (top < 0)
		return -1;
	for (int i = 0; i <= top && i < 1 << 20; i++) {
		struct msqid_ds d;
		if (A->ctl(i, MSG_STAT_ANY, &d) == id || A->ctl(i, MSG_STAT, &d) == id)
			return i;
	}
	return -1;
}

static int top_index(const struct msg_impl *A)
{
	struct msginfo mi;
	return A->ctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi);
}

/* ------------------------------------------------------ child processes */

static pid_t fork_child(void)
{
	sh->ready = 0;
	return oracle_fork(3);
}

/* Waits until the child said it is about to block and is asleep. */
static void wait_sleeping(pid_t p)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
	for (int i = 0; i < 400; i++) {
		if (sh->ready) {
			int fd = open(path, O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n > 0) {
				buf[n] = 0;
				char *c = strrchr(buf, ')');
				if (c && c[1] == ' ' && (c[2] == 'S' || c[2] == 'D'))
					break;
			}
		}
		sleep_ms(5);
	}
	sleep_ms(30);
}

static void on_usr1(int s)
{
	(void)s;
}

/* -------------------------------------------------------------- scenarios */

static void sc_get_private(const struct msg_impl *A)
{
	int a = r_get(A, "", IPC_PRIVATE, 0600);
	r_stat(A, "fresh", a);
	int b = r_get(A, "PRIVATE with CREAT|EXCL still creates", IPC_PRIVATE,
		      IPC_CREAT | IPC_EXCL | 0640);
	r_stat(A, "fresh", b);
	int c = r_get(A, "PRIVATE without CREAT creates", IPC_PRIVATE, 0);
	r_stat(A, "fresh", c);
	r_ctl(A, "", a, IPC_RMID);
	r_ctl(A, "", b, IPC_RMID);
	r_ctl(A, "", c, IPC_RMID);
}

static void sc_get_keyed(const struct msg_impl *A)
{
	key_t k = osh->key[0], k2 = osh->key[1];
	r_get(A, "absent", k, 0600);
	r_get(A, "absent, EXCL without CREAT", k, IPC_EXCL | 0600);
	int q = r_get(A, "create", k, IPC_CREAT | 0640);
	r_stat(A, "", q);
	r_get(A, "existing, flags 0", k, 0);
	r_get(A, "existing, CREAT with another mode", k, IPC_CREAT | 0606);
	r_stat(A, "mode unchanged", q);
	r_get(A, "existing, CREAT|EXCL", k, IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, EXCL only", k, IPC_EXCL);
	r_snd(A, "", q, 1, 4, NW);
	r_ctl(A, "", q, IPC_RMID);
	r_get(A, "after RMID", k, 0);
	int q2 = r_get(A, "re-create", k, IPC_CREAT | IPC_EXCL | 0600);
	r_stat(A, "new queue is empty", q2);
	r_ctl(A, "", q2, IPC_RMID);
	int q3 = r_get(A, "create with mode 0", k2, IPC_CREAT);
	r_stat(A, "", q3);
	r_get(A, "open the mode-0 queue asking rw", k2, 0600);
	r_ctl(A, "", q3, IPC_RMID);
}

static void sc_get_mode(const struct msg_impl *A)
{
	static const int modes[] = { 0, 0400, 0200, 0421, 0777, 0644, 0111 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int q = r_get(A, "", IPC_PRIVATE, IPC_CREAT | modes[i]);
		r_stat(A, "", q);
		r_ctl(A, "", q, IPC_RMID);
	}
	int q = r_get(A, "unknown high flag bit", IPC_PRIVATE, 0x100000 | 0640);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
	q = r_get(A, "NOWAIT|NOERROR bits in msgget", IPC_PRIVATE, IPC_NOWAIT | MSG_NOERROR | 0604);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_snd_invalid(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "mtype 0", q, 0, 1, NW);
	r_snd(A, "mtype -5", q, -5, 1, NW);
	r_snd(A, "mtype LONG_MIN", q, LONG_MIN, 1, NW);
	r_snd(A, "msgsz = msgmax+1", q, 1, (size_t)g_msgmax + 1, NW);
	r_snd(A, "msgsz = (size_t)-1", q, 1, (size_t)-1, NW);
	r_snd(A, "msgsz = LONG_MAX+1", q, 1, (size_t)LONG_MAX + 1, NW);
	r_snd(A, "msgsz = LONG_MAX", q, 1, (size_t)LONG_MAX, NW);
	r_snd(A, "mtype 0 and msgsz too big", q, 0, (size_t)g_msgmax + 1, NW);
	r_snd(A, "msgsz too big, blocking call", q, 1, (size_t)g_msgmax + 1, 0);
	r_stat(A, "nothing queued", q);
	r_snd(A, "msgsz = msgmax", q, 1, (size_t)g_msgmax, NW);
	r_snd(A, "mtype LONG_MAX", q, LONG_MAX, 3, NW);
	r_stat(A, "", q);
	r_rcv(A, "", q, (size_t)g_msgmax, 0, NW);
	r_rcv(A, "", q, 16, 0, NW);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_zero_len(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 1, 0, NW);
	r_snd(A, "", q, 2, 0, 0);
	r_stat(A, "two empty messages", q);
	r_rcv(A, "sz 0", q, 0, 0, NW);
	r_rcv(A, "", q, 100, 0, NW);
	r_rcv(A, "empty queue", q, 0, 0, NW);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_full(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "qbytes 3", q, KEEP, KEEP, KEEP, 3);
	r_stat(A, "", q);
	for (int i = 0; i < 3; i++)
		r_snd(A, "zero-length", q, 1, 0, NW);
	r_snd(A, "4th zero-length: qnum+1 > qbytes", q, 1, 0, NW);
	r_snd(A, "mtype 0 on a full queue", q, 0, 0, NW);
	r_snd(A, "msgsz too big on a full queue", q, 1, (size_t)g_msgmax + 1, NW);
	r_stat(A, "", q);
	r_rcv(A, "", q, 8, 0, NW);
	r_snd(A, "1 byte fits", q, 2, 1, NW);
	r_snd(A, "zero-length: qnum would exceed qbytes", q, 2, 0, NW);
	for (int i = 0; i < 3; i++)
		r_rcv(A, "", q, 8, 0, NW);
	r_set(A, "qbytes 10", q, KEEP, KEEP, KEEP, 10);
	r_snd(A, "10 bytes fill it", q, 1, 10, NW);
	r_snd(A, "zero-length still fits", q, 1, 0, NW);
	r_snd(A, "1 more byte", q, 1, 1, NW);
	r_stat(A, "", q);
	r_set(A, "qbytes below cbytes", q, KEEP, KEEP, KEEP, 5);
	r_stat(A, "", q);
	r_snd(A, "zero-length over qbytes", q, 1, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_snd(A, "msgsz > qbytes on an empty queue", q, 1, 6, NW);
	r_snd(A, "msgsz == qbytes", q, 1, 5, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_set(A, "qbytes 0", q, KEEP, KEEP, KEEP, 0);
	r_snd(A, "zero-length with qbytes 0", q, 1, 0, NW);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_select(const struct msg_impl *A)
{
	static const long types[] = { 3, 1, 2, 3, 1, 5, 2, 7, 10, 1 };
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	for (int i = 0; i < 10; i++)
		r_snd(A, "", q, types[i], (size_t)i + 1, NW);
	r_rcv(A, "first of type 2", q, 64, 2, NW);
	r_rcv(A, "lowest type <= 3", q, 64, -3, NW);
	r_rcv(A, "first not of type 3", q, 64, 3, NW | MSG_EXCEPT);
	r_rcv(A, "EXCEPT with typ 0 = any", q, 64, 0, NW | MSG_EXCEPT);
	r_rcv(A, "EXCEPT with typ < 0 = lowest <= |typ|", q, 64, -2, NW | MSG_EXCEPT);
	r_rcv(A, "absent type", q, 64, 4, NW);
	r_rcv(A, "no type <= 1 left", q, 64, -1, NW);
	r_rcv(A, "typ LONG_MIN = lowest of all", q, 64, LONG_MIN, NW);
	r_rcv(A, "first not of type 10", q, 64, 10, NW | MSG_EXCEPT);
	r_rcv(A, "typ LONG_MAX absent", q, 64, LONG_MAX, NW);
	r_snd(A, "", q, LONG_MAX, 1, NW);
	r_rcv(A, "typ LONG_MAX", q, 64, LONG_MAX, NW);
	r_rcv(A, "typ -LONG_MAX", q, 64, -LONG_MAX, NW);
	r_stat(A, "", q);
	r_rcv(A, "drain", q, 64, 0, NW);
	r_rcv(A, "drain", q, 64, 0, NW);
	r_rcv(A, "drain", q, 64, 0, NW);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_lesseq_oldest(const struct msg_impl *A)
{
	static const long types[] = { 5, 3, 3, 4, 3, 9, 2 };
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	for (int i = 0; i < 7; i++)
		r_snd(A, "", q, types[i], (size_t)i * 3, NW);
	r_rcv(A, "", q, 64, -1, NW);
	for (int i = 0; i < 5; i++)
		r_rcv(A, "oldest of lowest type <= 4", q, 64, -4, NW);
	r_rcv(A, "", q, 64, -5, NW);
	r_rcv(A, "only type 9 left", q, 64, -8, NW);
	r_rcv(A, "EXCEPT 9", q, 64, 9, NW | MSG_EXCEPT);
	r_rcv(A, "", q, 64, -9, NW);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_noerror(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 7, 10, NW);
	r_rcv(A, "too small", q, 4, 0, NW);
	r_rcv(A, "too small, blocking call", q, 4, 0, 0);
	r_rcv(A, "too small, by type", q, 4, 7, NW);
	r_stat(A, "still queued", q);
	r_rcv(A, "NOERROR truncates", q, 4, 0, NW | MSG_NOERROR);
	r_stat(A, "gone", q);
	r_snd(A, "", q, 7, 10, NW);
	r_rcv(A, "sz 0", q, 0, 0, NW);
	r_rcv(A, "sz 0 NOERROR", q, 0, 0, NW | MSG_NOERROR);
	r_snd(A, "", q, 1, 10, NW);
	r_snd(A, "", q, 2, 3, NW);
	r_rcv(A, "lowest type is too big: no fallback", q, 5, -5, NW);
	r_rcv(A, "first message too big: no fallback", q, 5, 0, NW);
	r_rcv(A, "type 2 fits", q, 5, 2, NW);
	r_rcv(A, "exact size", q, 10, 0, NW);
	r_snd(A, "", q, 3, 5, NW);
	r_rcv(A, "sz LONG_MAX", q, (size_t)LONG_MAX, 0, NW);
	r_snd(A, "", q, 3, 5, NW);
	r_rcv(A, "sz (size_t)-1", q, (size_t)-1, 0, NW);
	r_rcv(A, "sz LONG_MAX+1", q, (size_t)LONG_MAX + 1, 0, NW);
	r_rcv(A, "sz (size_t)-1 NOERROR", q, (size_t)-1, 0, NW | MSG_NOERROR);
	r_rcv(A, "sz (size_t)-1 on an empty type", q, (size_t)-1, 99, NW);
	r_stat(A, "", q);
	r_rcv(A, "", q, 5, 0, NW);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_nowait_empty(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 5, NW);
	r_rcv(A, "", q, 64, -5, NW);
	r_rcv(A, "", q, 64, 1, NW | MSG_EXCEPT);
	r_rcv(A, "sz 0", q, 0, 0, NW | MSG_NOERROR);
	r_stat(A, "failed receives leave rtime/lrpid", q);
	r_snd(A, "", q, 1, 2, NW);
	r_rcv(A, "", q, 64, 2, NW);
	r_rcv(A, "", q, 64, 1, NW | MSG_EXCEPT);
	r_rcv(A, "", q, 64, -0, NW | MSG_EXCEPT);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_copy(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	for (int i = 0; i < 5; i++)
		r_snd(A, "", q, (i + 1) * 10, (size_t)i + 1, NW);
	r_rcv(A, "pos 0", q, 64, 0, NW | MSG_COPY);
	r_rcv(A, "pos 2", q, 64, 2, NW | MSG_COPY);
	r_rcv(A, "pos 4", q, 64, 4, NW | MSG_COPY);
	r_rcv(A, "pos 5 = past the end", q, 64, 5, NW | MSG_COPY);
	r_rcv(A, "pos 1000", q, 64, 1000, NW | MSG_COPY);
	r_rcv(A, "pos -1", q, 64, -1, NW | MSG_COPY);
	r_rcv(A, "pos LONG_MIN", q, 64, LONG_MIN, NW | MSG_COPY);
	r_stat(A, "copies leave the queue alone", q);
	r_rcv(A, "COPY without NOWAIT", q, 64, 0, MSG_COPY);
	r_rcv(A, "COPY|EXCEPT", q, 64, 0, NW | MSG_COPY | MSG_EXCEPT);
	r_rcv(A, "COPY|EXCEPT without NOWAIT", q, 64, 1, MSG_COPY | MSG_EXCEPT);
	r_rcv(A, "COPY into too small a buffer", q, 2, 4, NW | MSG_COPY);
	r_rcv(A, "COPY|NOERROR into too small a buffer", q, 2, 4, NW | MSG_COPY | MSG_NOERROR);
	r_rcv(A, "COPY|NOERROR, buffer big enough", q, 64, 4, NW | MSG_COPY | MSG_NOERROR);
	r_rcv(A, "COPY sz (size_t)-1", q, (size_t)-1, 0, NW | MSG_COPY);
	r_rcv(A, "COPY sz (size_t)-1 without NOWAIT", q, (size_t)-1, 0, MSG_COPY);
	r_rcv(A, "COPY sz LONG_MAX", q, (size_t)LONG_MAX, 1, NW | MSG_COPY);
	r_rcv(A, "COPY sz exact", q, 3, 2, NW | MSG_COPY);
	r_stat(A, "", q);
	r_rcv(A, "remove the first", q, 64, 0, NW);
	r_rcv(A, "pos 0 is now the old second", q, 64, 0, NW | MSG_COPY);
	r_rcv(A, "pos 3 is now the last", q, 64, 3, NW | MSG_COPY);
	r_rcv(A, "pos 4 is now past the end", q, 64, 4, NW | MSG_COPY);
	for (int i = 0; i < 4; i++)
		r_rcv(A, "drain", q, 64, 0, NW);
	r_rcv(A, "COPY on an empty queue", q, 64, 0, NW | MSG_COPY);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_invalid_ids(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 1, 1, NW);
	r_ctl(A, "", q, IPC_RMID);
	int q2 = r_get(A, "new queue after RMID", IPC_PRIVATE, 0600);
	const int bad[] = { q, -1, INT_MIN, INT_MAX - 0x1234 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int id = bad[i];
		r_snd(A, "bad id", id, 1, 1, NW);
		r_snd(A, "bad id, blocking call", id, 1, 1, 0);
		r_rcv(A, "bad id", id, 64, 0, NW);
		r_rcv(A, "bad id, blocking call", id, 64, 0, 0);
		if (g_have_copy)
			r_rcv(A, "bad id", id, 64, 0, NW | MSG_COPY);
		r_stat(A, "bad id", id);
		r_set(A, "bad id", id, 0600, KEEP, KEEP, KEEP);
		r_ctl(A, "bad id", id, IPC_RMID);
	}
	r_stat(A, "the new queue is fine", q2);
	r_ctl(A, "", q2, IPC_RMID);
}

static void sc_ctl_badcmd(const struct msg_impl *A)
{
	static const int cmds[] = { -1, 4, 5, 10, 14, 15, 99, 1000, INT_MAX, INT_MIN };
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		r_ctl(A, "bad cmd", q, cmds[i]);
	r_ctl(A, "bad id and bad cmd", -1, 99);
	r_ctl(A, "", -1, IPC_STAT);
	r_ctl(A, "", -1, IPC_RMID);
	r_ctl(A, "", -1, IPC_SET);
	r_stat(A, "still there", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_ctl_set(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 1, 4, NW);
	r_stat(A, "", q);
	r_set(A, "mode with bits above 0777", q, 07640, KEEP, KEEP, KEEP);
	r_stat(A, "", q);
	r_set(A, "mode 0xffff", q, 0xffff, KEEP, KEEP, KEEP);
	r_stat(A, "", q);
	r_set(A, "uid/gid", q, 0600, 1234, 5678, KEEP);
	r_stat(A, "cuid/cgid unchanged", q);
	r_set(A, "uid (uid_t)-1", q, 0666, -1, KEEP, 50);
	r_stat(A, "failed IPC_SET changes nothing", q);
	r_set(A, "gid (gid_t)-1", q, KEEP, KEEP, -1, KEEP);
	r_set(A, "qbytes 100", q, KEEP, KEEP, KEEP, 100);
	r_stat(A, "", q);
	/* the kernel lets only CAP_SYS_RESOURCE raise qbytes above msgmnb */
	r_set(A, g_cap_resource ? "qbytes 4*msgmnb, caller has CAP_SYS_RESOURCE"
				: "qbytes 4*msgmnb, caller lacks CAP_SYS_RESOURCE",
	      q, KEEP, KEEP, KEEP, 4 * g_msgmnb);
	r_stat(A, "", q);
	r_set(A, "qbytes 100 again", q, KEEP, KEEP, KEEP, 100);
	r_set(A, "qbytes 2^32+5 (the kernel keeps an int)", q, KEEP, KEEP, KEEP, (1LL << 32) + 5);
	r_stat(A, "", q);
	r_set(A, "qbytes 100 again", q, KEEP, KEEP, KEEP, 100);
	r_set(A, "qbytes 0", q, KEEP, KEEP, KEEP, 0);
	r_stat(A, "", q);
	r_set(A, "back to root", q, 0600, 0, 0, g_msgmnb);
	r_stat(A, "", q);

	/* IPC_SET ignores every field it does not set */
	struct msqid_ds d;
	memset(&d, 0, sizeof d);
	A->ctl(q, IPC_STAT, &d);
	d.msg_qnum = 77;
	d.__msg_cbytes = 77;
	d.msg_stime = 12345;
	d.msg_rtime = 12345;
	d.msg_ctime = 1;
	d.msg_lspid = 4242;
	d.msg_lrpid = 4242;
	d.msg_perm.cuid = 4242;
	d.msg_perm.cgid = 4242;
	d.msg_perm.__key = 4242;
	d.msg_perm.__seq = 77;
	d.msg_perm.mode = 0640;
	errno = 0;
	int r = A->ctl(q, IPC_SET, &d);
	rec("IPC_SET with garbage in the fields it must ignore -> %s", rv(r, errno));
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_rmid(const struct msg_impl *A)
{
	key_t k = osh->key[0];
	int q = r_get(A, "", k, IPC_CREAT | 0600);
	r_snd(A, "", q, 1, 5, NW);
	r_snd(A, "", q, 2, 5, NW);
	r_ctl(A, "with messages queued", q, IPC_RMID);
	r_ctl(A, "again", q, IPC_RMID);
	r_stat(A, "", q);
	r_get(A, "key is gone", k, 0);
	r_snd(A, "", q, 1, 1, NW);
	r_rcv(A, "", q, 64, 0, NW);
	int q2 = r_get(A, "", k, IPC_CREAT | 0600);
	errno = 0;
	int r = A->ctl(q2, IPC_RMID, NULL);
	rec("RMID with NULL buf -> %s", rv(r, errno));
	r_get(A, "key is gone", k, 0);
}

static void sc_info(const struct msg_impl *A)
{
	r_info(A, "", 0, IPC_INFO, 0, 0, 0);
	r_info(A, "msqid is ignored", 12345, IPC_INFO, 0, 0, 0);
	r_info(A, "", -1, IPC_INFO, 0, 0, 0);
	r_info(A, "", -1, MSG_INFO, 0, 0, 0);
	int a = r_get(A, "", IPC_PRIVATE, 0600);
	int b = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", a, 1, 10, NW);
	r_snd(A, "", a, 1, 20, NW);
	r_snd(A, "", b, 1, 0, NW);
	r_info(A, "", 0, MSG_INFO, 2, 3, 30);
	r_info(A, "", 0, IPC_INFO, 2, 3, 30);
	r_info(A, "msqid is ignored", 777, MSG_INFO, 2, 3, 30);
	r_ctl(A, "", a, IPC_RMID);
	r_ctl(A, "", b, IPC_RMID);
}

static void sc_msgstat(const struct msg_impl *A)
{
	int q = r_get(A, "", osh->key[0], IPC_CREAT | 0640);
	r_snd(A, "", q, 3, 7, NW);
	int idx = find_index(A, q);
	rec("index of q0 found by MSG_STAT scan: %s", idx >= 0 ? "yes" : "NO");
	if (idx >= 0) {
		r_mstat(A, "", idx, "idx(q0)", MSG_STAT);
		r_mstat(A, "", idx, "idx(q0)", MSG_STAT_ANY);
	}
	int top = top_index(A);
	rec("MSG_INFO top index >= index of q0: %s", top >= idx ? "yes" : "NO");
	/* above the top index: EINVAL (in the kernel another user may just have
	 * created a queue there: then it is at least not ours) */
	struct msqid_ds d;
	errno = 0;
	int r = A->ctl(top + 1, MSG_STAT, &d);
	rec("MSG_STAT(top+1) -> EINVAL or another user's queue: %s",
	    (r == -1 && errno == EINVAL) || (r >= 0 && r != q) ? "yes" : rv(r, errno));
	errno = 0;
	r = A->ctl(top + 1, MSG_STAT_ANY, &d);
	rec("MSG_STAT_ANY(top+1) -> EINVAL or another user's queue: %s",
	    (r == -1 && errno == EINVAL) || (r >= 0 && r != q) ? "yes" : rv(r, errno));
	r_mstat(A, "", -1, "-1", MSG_STAT);
	r_mstat(A, "", -1, "-1", MSG_STAT_ANY);
	r_ctl(A, "", q, IPC_RMID);
	if (idx >= 0) {
		errno = 0;
		r = A->ctl(idx, MSG_STAT, &d);
		rec("after RMID: MSG_STAT(idx(q0)) -> EINVAL or another user's new queue: %s",
		    (r == -1 && errno == EINVAL) || (r >= 0 && r != q) ? "yes" : rv(r, errno));
	}
}

static void sc_pid_time(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_stat(A, "fresh", q);
	r_snd(A, "", q, 1, 3, NW);
	r_stat(A, "after send", q);
	pid_t p = fork_child();
	if (p == 0) {
		r_snd(A, "child", q, 2, 3, NW);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "after child's send", q);
	r_rcv(A, "", q, 64, 0, NW);
	r_stat(A, "after receive", q);
	p = fork_child();
	if (p == 0) {
		r_rcv(A, "child", q, 64, 0, NW);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "after child's receive", q);
	r_rcv(A, "fails", q, 64, 0, NW);
	r_snd(A, "", q, 5, 30, NW);
	r_rcv(A, "fails E2BIG", q, 2, 0, NW);
	if (g_have_copy)
		r_rcv(A, "copy", q, 64, 0, NW | MSG_COPY);
	r_stat(A, "failed/copy receives leave lrpid alone", q);
	r_set(A, "qbytes 30", q, KEEP, KEEP, KEEP, 30);
	p = fork_child();
	if (p == 0) {
		r_snd(A, "child, queue full", q, 6, 1, NW);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "failed send leaves lspid alone", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* ---- blocking behaviour: a child blocks, the runner acts, the child reports */

static void sc_block_rcv_type(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 3, 4, NW);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks for type 5", q, 64, 5, 0);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 4;
	int r1 = A->snd(q, sbuf, 2, NW);
	sbuf->mtype = 5;
	memcpy(sbuf->mtext, "five!", 5);
	int r2 = A->snd(q, sbuf, 5, NW);
	reap(p, "");
	rec("runner sent type 4 -> %d, type 5 -> %d", r1, r2);
	r_stat(A, "", q);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_block_rcv_rmid(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks", q, 64, 0, 0);
		_exit(0);
	}
	wait_sleeping(p);
	int r = A->ctl(q, IPC_RMID, NULL);
	reap(p, "");
	rec("runner RMID -> %d", r);
}

static void sc_block_snd_rmid(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "", q, KEEP, KEEP, KEEP, 1);
	r_snd(A, "fill", q, 1, 1, NW);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "child blocks on a full queue", q, 1, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	int r = A->ctl(q, IPC_RMID, NULL);
	reap(p, "");
	rec("runner RMID -> %d", r);
}

static void sc_block_snd_wake(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "", q, KEEP, KEEP, KEEP, 1);
	r_snd(A, "fill", q, 1, 1, NW);
	/* raising qbytes with IPC_SET wakes a blocked sender */
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "child blocks on a full queue", q, 2, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	r_stat(A, "while the child is blocked", q);
	struct msqid_ds d;
	A->ctl(q, IPC_STAT, &d);
	d.msg_qbytes = 100;
	int r = A->ctl(q, IPC_SET, &d);
	reap(p, "");
	rec("runner IPC_SET qbytes 100 -> %d", r);
	r_stat(A, "", q);
	/* a receive wakes a blocked sender */
	r_set(A, "", q, KEEP, KEEP, KEEP, 2);
	p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "child blocks on a full queue", q, 3, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	ssize_t rr = A->rcv(q, rbuf, 64, 0, NW);
	long t = rbuf->mtype;
	reap(p, "");
	rec("runner received -> %zd type %ld", rr, t);
	r_stat(A, "", q);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_block_eintr(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p = fork_child();
	if (p == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		sh->ready = 1;
		r_rcv(A, "child blocks in msgrcv, SA_RESTART handler", q, 64, 0, 0);
		_exit(0);
	}
	wait_sleeping(p);
	kill(p, SIGUSR1);
	reap(p, "");
	r_set(A, "", q, KEEP, KEEP, KEEP, 1);
	r_snd(A, "fill", q, 1, 1, NW);
	p = fork_child();
	if (p == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		sh->ready = 1;
		r_snd(A, "child blocks in msgsnd, SA_RESTART handler", q, 1, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	kill(p, SIGUSR1);
	reap(p, "");
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_block_rcv_size(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks with a 2-byte buffer", q, 2, 0, 0);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 9;
	memset(sbuf->mtext, 'x', 10);
	int r = A->snd(q, sbuf, 10, NW);
	reap(p, "");
	rec("runner sent 10 bytes -> %d", r);
	r_stat(A, "", q);
	p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks with a 2-byte buffer, NOERROR", q, 2, 8, MSG_NOERROR);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 8;
	r = A->snd(q, sbuf, 10, NW);
	reap(p, "");
	rec("runner sent 10 bytes -> %d", r);
	r_stat(A, "", q);
	p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks for not-type-9", q, 64, 9, MSG_EXCEPT);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 9;
	int r1 = A->snd(q, sbuf, 3, NW);
	sbuf->mtype = 4;
	int r2 = A->snd(q, sbuf, 4, NW);
	reap(p, "");
	rec("runner sent type 9 -> %d, type 4 -> %d", r1, r2);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* ---- permissions: a child drops to uid/gid 65534 */

static void sc_perm_other(const struct msg_impl *A)
{
	key_t k1 = osh->key[0], k2 = osh->key[1], k3 = osh->key[2];
	int q1 = r_get(A, "", k1, IPC_CREAT | 0600);
	int q2 = r_get(A, "", k2, IPC_CREAT | 0644);
	int q3 = r_get(A, "", k3, IPC_CREAT | 0622);
	int q4 = r_get(A, "", IPC_PRIVATE, 0606);
	r_snd(A, "", q1, 1, 8, NW);
	r_snd(A, "", q2, 1, 8, NW);
	r_snd(A, "", q3, 1, 8, NW);
	r_snd(A, "", q4, 1, 8, NW);
	int idx1 = find_index(A, q1);
	rec("index of q0 found: %s", idx1 >= 0 ? "yes" : "NO");
	pid_t p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		r_get(A, "0600 queue, flags 0", k1, 0);
		r_get(A, "0600 queue, ask read", k1, 0400);
		r_get(A, "0600 queue, ask write", k1, 0200);
		r_get(A, "0600 queue, ask exec", k1, 0100);
		r_get(A, "0600 queue, ask other-read", k1, 0004);
		r_get(A, "0600 queue", k1, IPC_CREAT | 0600);
		r_get(A, "0600 queue", k1, IPC_CREAT | IPC_EXCL | 0600);
		r_snd(A, "no write permission", q1, 1, 4, NW);
		r_snd(A, "no write permission, mtype 0", q1, 0, 4, NW);
		r_snd(A, "no write permission, msgsz too big", q1, 1, (size_t)g_msgmax + 1, NW);
		r_rcv(A, "no read permission", q1, 64, 0, NW);
		r_rcv(A, "no read permission, absent type", q1, 64, 99, NW);
		r_rcv(A, "no read permission, sz -1", q1, (size_t)-1, 0, NW);
		if (g_have_copy)
			r_rcv(A, "no read permission", q1, 64, 0, NW | MSG_COPY);
		r_stat(A, "no read permission", q1);
		if (idx1 >= 0) {
			r_mstat(A, "no read permission", idx1, "idx(q0)", MSG_STAT);
			r_mstat(A, "no read permission", idx1, "idx(q0)", MSG_STAT_ANY);
		}
		r_set(A, "not owner", q1, 0666, KEEP, KEEP, KEEP);
		r_set(A, "not owner, qbytes above msgmnb", q1, 0666, KEEP, KEEP, g_msgmnb + 1);
		r_ctl(A, "not owner", q1, IPC_RMID);
		r_info(A, "unprivileged", 0, IPC_INFO, 1, 0, 0);
		r_info(A, "unprivileged", 0, MSG_INFO, 4, 4, 32);

		r_get(A, "0644 queue, ask read", k2, 0400);
		r_get(A, "0644 queue, ask rw", k2, 0600);
		r_get(A, "0644 queue, ask group-read", k2, 0040);
		r_stat(A, "read permission", q2);
		r_snd(A, "no write permission", q2, 1, 4, NW);
		r_rcv(A, "read permission", q2, 64, 0, NW);
		r_rcv(A, "now empty", q2, 64, 0, NW);

		r_get(A, "0622 queue, ask write", k3, 0200);
		r_snd(A, "write permission", q3, 2, 4, NW);
		r_rcv(A, "no read permission", q3, 64, 0, NW);
		r_stat(A, "no read permission", q3);

		r_snd(A, "others rw", q4, 2, 4, NW);
		r_rcv(A, "others rw", q4, 64, 0, NW);
		r_stat(A, "others rw", q4);
		r_set(A, "others rw, not owner", q4, 0666, KEEP, KEEP, KEEP);
		r_ctl(A, "others rw, not owner", q4, IPC_RMID);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "after child", q1);
	r_stat(A, "after child", q2);
	r_stat(A, "after child", q3);
	r_stat(A, "after child", q4);
	r_ctl(A, "", q1, IPC_RMID);
	r_ctl(A, "", q2, IPC_RMID);
	r_ctl(A, "", q3, IPC_RMID);
	r_ctl(A, "", q4, IPC_RMID);
}

static void sc_perm_owner(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "give to 65534 with mode 0", q, 0, NOBODY_UID, KEEP, KEEP);
	r_stat(A, "", q);
	int g = r_get(A, "", IPC_PRIVATE, 0660);
	r_set(A, "group 65534", g, 0660, KEEP, NOBODY_GID, KEEP);
	r_snd(A, "", g, 1, 3, NW);
	pid_t p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		r_stat(A, "owner, mode 0", q);
		r_snd(A, "owner, mode 0", q, 1, 1, NW);
		r_rcv(A, "owner, mode 0", q, 64, 0, NW);
		r_set(A, "owner sets mode", q, 0600, NOBODY_UID, NOBODY_GID, g_msgmnb);
		r_stat(A, "", q);
		r_snd(A, "", q, 1, 1, NW);
		r_set(A, "owner raises qbytes above msgmnb", q, KEEP, KEEP, KEEP, g_msgmnb + 1);
		r_set(A, "owner raises qbytes above msgmnb, with mode", q, 0640, KEEP, KEEP,
		      g_msgmnb + 1);
		r_stat(A, "unchanged", q);
		r_set(A, "owner lowers qbytes", q, KEEP, KEEP, KEEP, 100);
		r_set(A, "owner sets qbytes back to exactly msgmnb", q, KEEP, KEEP, KEEP, g_msgmnb);
		r_set(A, "owner sets uid -1", q, KEEP, -1, KEEP, KEEP);
		r_set(A, "owner sets gid 0", q, KEEP, KEEP, 0, KEEP);
		r_stat(A, "", q);
		r_set(A, "owner gives the queue to root", q, 0600, 0, KEEP, KEEP);
		r_set(A, "no longer owner", q, 0600, NOBODY_UID, KEEP, KEEP);
		r_stat(A, "no longer owner, mode 0600", q);
		r_ctl(A, "no longer owner", q, IPC_RMID);

		r_stat(A, "group member", g);
		r_rcv(A, "group member", g, 64, 0, NW);
		r_snd(A, "group member", g, 2, 2, NW);
		r_set(A, "group member", g, 0666, KEEP, KEEP, KEEP);
		r_ctl(A, "group member", g, IPC_RMID);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "after child", q);
	r_stat(A, "after child", g);
	r_ctl(A, "", q, IPC_RMID);
	r_ctl(A, "", g, IPC_RMID);
}

static void sc_perm_creator(const struct msg_impl *A)
{
	key_t k = osh->key[0];
	pid_t p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		int q = r_get(A, "created by 65534", IPC_PRIVATE, 0600);
		int kq = r_get(A, "keyed, created by 65534", k, IPC_CREAT | 0640);
		sh->v[0] = q;
		sh->v[1] = kq;
		r_stat(A, "", q);
		r_stat(A, "", kq);
		r_set(A, "creator raises qbytes above msgmnb", q, KEEP, KEEP, KEEP, g_msgmnb + 1);
		_exit(0);
	}
	reap(p, "");
	int q = sh->v[0], kq = sh->v[1];
	track(A->kernel, q);
	track(A->kernel, kq);
	r_set(A, "root takes ownership", q, 0600, 0, 0, KEEP);
	r_stat(A, "", q);
	r_get(A, "root opens the keyed queue", k, 0);
	r_snd(A, "root", kq, 1, 1, NW);
	p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		r_stat(A, "creator, not owner", q);
		r_snd(A, "creator, not owner", q, 1, 2, NW);
		r_set(A, "creator, not owner", q, 0640, KEEP, KEEP, KEEP);
		r_stat(A, "", q);
		r_get(A, "own keyed queue", k, 0640);
		r_rcv(A, "own keyed queue", kq, 64, 0, NW);
		r_ctl(A, "creator, not owner", q, IPC_RMID);
		r_ctl(A, "owner", kq, IPC_RMID);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "removed by the creator", q);
	r_get(A, "removed by the owner", k, 0);
}

/* How many messages fit: the count limit (qnum+1 <= qbytes) and the byte limit. */
static void sc_capacity(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	static const size_t sizes[] = { 0, 1, 2, 100 };
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		long n = 0;
		int r, e;
		for (;;) {
			sbuf->mtype = 1 + n % 7;
			memset(sbuf->mtext, (int)(n & 0xff), sizes[s]);
			errno = 0;
			r = A->snd(q, sbuf, sizes[s], NW);
			e = errno;
			if (r != 0 || n > 100000)
				break;
			n++;
		}
		rec("%zu-byte messages: %ld sent, then %s", sizes[s], n, rv(r, e));
		r_stat(A, "full", q);
		long got = 0, wrong = 0;
		for (;;) {
			ssize_t rr = A->rcv(q, rbuf, 200, 0, NW);
			if (rr < 0)
				break;
			if ((size_t)rr != sizes[s] || rbuf->mtype != 1 + got % 7 ||
			    (sizes[s] && rbuf->mtext[0] != (unsigned char)(got & 0xff)))
				wrong++;
			got++;
		}
		rec("%zu-byte messages: %ld received in order, %ld wrong, then %s", sizes[s], got,
		    wrong, en(errno));
	}
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Flag bits that mean nothing to a call are ignored. */
static void sc_flags_ignored(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "receive-only flags on msgsnd", q, 1, 3, NW | MSG_NOERROR | MSG_EXCEPT);
	r_snd(A, "unknown flag bit on msgsnd", q, 2, 3, NW | 0x100000);
	r_snd(A, "IPC_CREAT|IPC_EXCL on msgsnd", q, 3, 3, NW | IPC_CREAT | IPC_EXCL | 0777);
	r_rcv(A, "unknown flag bit on msgrcv", q, 64, 0, NW | 0x100000);
	r_rcv(A, "IPC_CREAT|IPC_EXCL on msgrcv", q, 64, 0, NW | IPC_CREAT | IPC_EXCL | 0777);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

static void sc_block_lesseq(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks for type <= 3", q, 64, -3, 0);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 5;
	int r1 = A->snd(q, sbuf, 5, NW);
	sbuf->mtype = 2;
	int r2 = A->snd(q, sbuf, 2, NW);
	reap(p, "");
	rec("runner sent type 5 -> %d, type 2 -> %d", r1, r2);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Two blocked receivers. Different types: each gets its own. Same type: the
 * kernel serves the one that blocked first (informational). */
static void sc_block_two(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p1 = fork_child();
	if (p1 == 0) {
		sh->ready = 1;
		r_rcv(A, "child1 blocks for type 1", q, 64, 1, 0);
		_exit(0);
	}
	wait_sleeping(p1);
	pid_t p2 = fork_child();
	if (p2 == 0) {
		sh->ready = 1;
		r_rcv(A, "child2 blocks for type 2", q, 64, 2, 0);
		_exit(0);
	}
	wait_sleeping(p2);
	sbuf->mtype = 2;
	int r = A->snd(q, sbuf, 2, NW);
	reap(p2, "child2");
	sbuf->mtype = 1;
	r += A->snd(q, sbuf, 1, NW);
	reap(p1, "child1");
	rec("runner sent type 2 then type 1 -> %d", r);
	r_stat(A, "", q);

	/* same type */
	for (int i = 0; i < 2; i++) {
		pid_t c = fork_child();
		if (c == 0) {
			sh->ready = 1;
			errno = 0;
			ssize_t rr = A->rcv(q, rbuf, 64, 7, 0);
			_exit(rr == 1 ? 10 + (int)rbuf->mtext[0] : 99);
		}
		sh->v[i] = (int)c;
		wait_sleeping(c);
	}
	sbuf->mtype = 7;
	sbuf->mtext[0] = 1;
	A->snd(q, sbuf, 1, NW);
	int st;
	pid_t first = waitpid(-1, &st, 0);
	int got1 = WIFEXITED(st) ? WEXITSTATUS(st) - 10 : -1;
	sbuf->mtext[0] = 2;
	A->snd(q, sbuf, 1, NW);
	pid_t second = waitpid(-1, &st, 0);
	int got2 = WIFEXITED(st) ? WEXITSTATUS(st) - 10 : -1;
	rec("both same-type receivers served: %s", got1 > 0 && got2 > 0 ? "yes" : "NO");
	rec("~same type: first served is the first to block: %s (got message %d), then %s (got %d)",
	    first == sh->v[0] ? "yes" : "no", got1, second == sh->v[1] ? "the second" : "?",
	    got2);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* SIGSTOP/SIGCONT (no handler runs) does not interrupt a blocked call. */
static void sc_block_stop_cont(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "child blocks, gets stopped and continued", q, 64, 0, 0);
		_exit(0);
	}
	wait_sleeping(p);
	kill(p, SIGSTOP);
	sleep_ms(30);
	kill(p, SIGCONT);
	wait_sleeping(p);
	sbuf->mtype = 3;
	int r = A->snd(q, sbuf, 3, NW);
	reap(p, "");
	rec("runner sent -> %d", r);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Permission is checked again when a blocked call wakes: IPC_SET revokes it. */
static void sc_block_perm_revoked(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0666);
	pid_t p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		sh->ready = 1;
		r_rcv(A, "child (65534) blocks in msgrcv", q, 64, 0, 0);
		_exit(0);
	}
	wait_sleeping(p);
	/* (recorded after the child's line: the child may wake first) */
	struct msqid_ds d;
	A->ctl(q, IPC_STAT, &d);
	d.msg_perm.mode = 0600;
	int rs = A->ctl(q, IPC_SET, &d);
	sleep_ms(50);
	sbuf->mtype = 1;
	int r = A->snd(q, sbuf, 1, NW);
	reap(p, "");
	rec("runner revoked access while the child waited (IPC_SET mode 0600 -> %d), then sent"
	    " -> %d", rs, r);
	r_stat(A, "", q);
	r_set(A, "", q, 0666, KEEP, KEEP, 2);
	r_snd(A, "fill", q, 1, 1, NW);
	p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		sh->ready = 1;
		r_snd(A, "child (65534) blocks in msgsnd", q, 1, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	A->ctl(q, IPC_STAT, &d);
	d.msg_perm.mode = 0600;
	d.msg_qbytes = 100;
	rs = A->ctl(q, IPC_SET, &d);
	reap(p, "");
	rec("runner revoked access and made room while the child waited -> %d", rs);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Group access through supplementary groups and through cgid; owner bits win. */
static void sc_perm_groups(const struct msg_impl *A)
{
	int a = r_get(A, "", IPC_PRIVATE, 0060);
	r_set(A, "group 4242", a, 0060, KEEP, 4242, KEEP);
	int b = r_get(A, "", IPC_PRIVATE, 0060);
	r_set(A, "gid 4243, cgid stays 0", b, 0060, KEEP, 4243, KEEP);
	int c = r_get(A, "", IPC_PRIVATE, 0066);
	r_set(A, "owner 65534, mode 0066", c, 0066, NOBODY_UID, KEEP, KEEP);
	int d = r_get(A, "", IPC_PRIVATE, 0606);
	r_set(A, "group 4242, mode 0606", d, 0606, KEEP, 4242, KEEP);
	pid_t p = fork_child();
	if (p == 0) {
		gid_t groups[] = { 4242 };
		int ok = setgroups(1, groups) == 0 && setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID) == 0 &&
			 setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) == 0;
		rec("drop to 65534 with supplementary group 4242: %s", ok ? "ok" : "FAILED");
		r_snd(A, "supplementary group", a, 1, 1, NW);
		r_rcv(A, "supplementary group", a, 64, 0, NW);
		r_snd(A, "not in gid 4243 nor cgid 0", b, 1, 1, NW);
		r_snd(A, "owner bits are 0 although others may", c, 1, 1, NW);
		r_stat(A, "owner bits are 0 although others may", c);
		r_snd(A, "group bits are 0 although others may", d, 1, 1, NW);
		_exit(0);
	}
	reap(p, "");
	p = fork_child();
	if (p == 0) {
		gid_t groups[] = { 0 };
		int ok = setgroups(1, groups) == 0 && setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID) == 0 &&
			 setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) == 0;
		rec("drop to 65534 with supplementary group 0: %s", ok ? "ok" : "FAILED");
		r_snd(A, "in cgid 0 (gid is 4243)", b, 1, 1, NW);
		r_stat(A, "in cgid 0 (gid is 4243)", b);
		_exit(0);
	}
	reap(p, "");
	r_ctl(A, "", a, IPC_RMID);
	r_ctl(A, "", b, IPC_RMID);
	r_ctl(A, "", c, IPC_RMID);
	r_ctl(A, "", d, IPC_RMID);
}

/* The IPC_64 flag in cmd: what x86-64's libc passes to the kernel unchanged. */
static void sc_ipc64(const struct msg_impl *A)
{
	static const int cmds[] = { IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, MSG_INFO, MSG_STAT,
				    MSG_STAT_ANY };
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	int idx = find_index(A, q);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		int cmd = cmds[i];
		int id = cmd == IPC_INFO || cmd == MSG_INFO ? 0 : cmd >= MSG_STAT ? idx : q;
		struct msqid_ds d;
		memset(&d, 0, sizeof d);
		if (cmd == IPC_SET)
			A->ctl(q, IPC_STAT, &d);
		errno = 0;
		int r = A->ctl(id, cmd | 0x100, &d);
		rec("msgctl(%s, %d|IPC_64) -> %s",
		    cmd >= MSG_STAT ? "idx(q0)" : id == q ? "q0" : "0", cmd,
		    r >= 0 ? "succeeds" : rv(r, errno));
	}
	r_stat(A, "still there", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Blocked waiters in numbers (svipc has a fixed number of waiter slots). */
#define NWAIT 140
static void sc_many_waiters(const struct msg_impl *A)
{
	pid_t pids[NWAIT];
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	fflush(NULL);
	for (int i = 0; i < NWAIT; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			signal(SIGALRM, SIG_DFL);
			alarm(6);
			static struct {
				long mtype;
				char t[64];
			} m;
			errno = 0;
			ssize_t r = A->rcv(q, &m, sizeof m.t, i + 1, 0);
			_exit(r == 3 && m.mtype == i + 1 ? 0 : r >= 0 ? 2 : 10 + (errno & 63));
		}
	}
	/* wait until all sleep */
	for (int tries = 0; tries < 600; tries++) {
		int asleep = 0;
		for (int i = 0; i < NWAIT; i++) {
			char path[64], buf[512];
			snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
			int fd = open(path, O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n > 0) {
				buf[n] = 0;
				char *c = strrchr(buf, ')');
				asleep += c && c[1] == ' ' && (c[2] == 'S' || c[2] == 'D');
			}
		}
		if (asleep == NWAIT)
			break;
		sleep_ms(5);
	}
	sleep_ms(50);
	int sendfail = 0;
	for (int i = NWAIT; i >= 1; i--) {
		sbuf->mtype = i;
		sendfail += A->snd(q, sbuf, 3, NW) != 0;
	}
	int ok = 0, bad = 0, killed = 0, firsterr = 0;
	for (int i = 0; i < NWAIT; i++) {
		int st;
		while (waitpid(pids[i], &st, 0) == -1 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFEXITED(st)) {
			bad++;
			if (!firsterr)
				firsterr = WEXITSTATUS(st);
		} else
			killed++;
	}
	rec("%d receivers blocked on %d types; %d sends failed; %d got their message, %d failed"
	    " (first: %s), %d killed (hung)",
	    NWAIT, NWAIT, sendfail, ok, bad,
	    firsterr >= 10 ? en(firsterr - 10) : firsterr ? "wrong message" : "-", killed);
	r_stat(A, "", q);

	/* as many blocked senders */
	r_set(A, "", q, KEEP, KEEP, KEEP, 1);
	r_snd(A, "fill", q, 1, 1, NW);
	fflush(NULL);
	for (int i = 0; i < NWAIT; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			signal(SIGALRM, SIG_DFL);
			alarm(6);
			sbuf->mtype = 2 + i;
			errno = 0;
			int r = A->snd(q, sbuf, 1, 0);
			_exit(r == 0 ? 0 : 10 + (errno & 63));
		}
	}
	for (int tries = 0; tries < 600; tries++) {
		int asleep = 0;
		for (int i = 0; i < NWAIT; i++) {
			char path[64], buf[512];
			snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
			int fd = open(path, O_RDONLY);
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (n > 0) {
				buf[n] = 0;
				char *c = strrchr(buf, ')');
				asleep += c && c[1] == ' ' && (c[2] == 'S' || c[2] == 'D');
			}
		}
		if (asleep == NWAIT)
			break;
		sleep_ms(5);
	}
	sleep_ms(50);
	r_set(A, "room for all", q, KEEP, KEEP, KEEP, 1000);
	ok = bad = killed = firsterr = 0;
	for (int i = 0; i < NWAIT; i++) {
		int st;
		while (waitpid(pids[i], &st, 0) == -1 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFEXITED(st)) {
			bad++;
			if (!firsterr)
				firsterr = WEXITSTATUS(st);
		} else
			killed++;
	}
	rec("%d senders blocked on a full queue; after IPC_SET: %d sent, %d failed (first: %s),"
	    " %d killed (hung)",
	    NWAIT, ok, bad, firsterr >= 10 ? en(firsterr - 10) : "-", killed);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/*
 * A process that changes its credentials after its first call. The kernel
 * checks the credentials of every call. svipc's README documents that it
 * samples them once per process (and after fork): the lines after the drop
 * are informational ('~').
 */
static void sc_cred_change(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 1, 3, NW);
	pid_t p = fork_child();
	if (p == 0) {
		r_stat(A, "child, still root", q);
		rec("drop to 65534 without fork: %s", become_nobody());
		r_snd(A, "~documented difference: after the drop", q, 1, 1, NW);
		r_rcv(A, "~documented difference: after the drop", q, 64, 0, NW);
		r_stat(A, "~documented difference: after the drop", q);
		r_ctl(A, "~documented difference: after the drop", q, IPC_RMID);
		_exit(0);
	}
	reap(p, "");
	A->ctl(q, IPC_RMID, NULL); /* unrecorded: the child may have removed it */
}

/* Drops capabilities (uid stays 0). */
static const char *drop_caps(const int *caps, int n)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return "capget failed";
	for (int i = 0; i < n; i++) {
		d[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
		d[caps[i] / 32].permitted &= ~(1u << (caps[i] % 32));
	}
	return syscall(SYS_capset, &h, d) == 0 ? "ok" : "capset failed";
}

/* uid 0 without CAP_IPC_OWNER / CAP_SYS_ADMIN on another user's queue. */
static void sc_perm_caps(const struct msg_impl *A)
{
	key_t k = osh->key[0];
	pid_t p = fork_child();
	if (p == 0) {
		rec("drop to 65534: %s", become_nobody());
		int q = r_get(A, "created by 65534", k, IPC_CREAT | 0600);
		r_snd(A, "", q, 1, 3, NW);
		sh->v[0] = q;
		_exit(0);
	}
	reap(p, "");
	int q = sh->v[0];
	track(A->kernel, q);
	int idx = find_index(A, q);
	rec("index found: %s", idx >= 0 ? "yes" : "NO");
	p = fork_child();
	if (p == 0) {
		static const int c[] = { 15 /* CAP_IPC_OWNER */ };
		rec("uid 0 drops CAP_IPC_OWNER: %s", drop_caps(c, 1));
		r_get(A, "", k, 0600);
		r_get(A, "", k, 0);
		r_snd(A, "", q, 1, 1, NW);
		r_rcv(A, "", q, 64, 0, NW);
		r_stat(A, "", q);
		if (idx >= 0) {
			r_mstat(A, "", idx, "idx(q0)", MSG_STAT);
			r_mstat(A, "", idx, "idx(q0)", MSG_STAT_ANY);
		}
		r_set(A, "CAP_SYS_ADMIN suffices for IPC_SET", q, 0606, NOBODY_UID, NOBODY_GID,
		      g_msgmnb);
		r_snd(A, "now others may write", q, 1, 1, NW);
		_exit(0);
	}
	reap(p, "");
	p = fork_child();
	if (p == 0) {
		static const int c[] = { 15, 21 /* CAP_SYS_ADMIN */ };
		rec("uid 0 drops CAP_IPC_OWNER and CAP_SYS_ADMIN: %s", drop_caps(c, 2));
		r_set(A, "", q, 0666, KEEP, KEEP, KEEP);
		r_ctl(A, "", q, IPC_RMID);
		r_stat(A, "", q);
		_exit(0);
	}
	reap(p, "");
	p = fork_child();
	if (p == 0) {
		static const int c[] = { 21 };
		rec("uid 0 drops CAP_SYS_ADMIN only: %s", drop_caps(c, 1));
		r_stat(A, "", q);
		r_rcv(A, "", q, 64, 0, NW);
		r_set(A, "", q, 0666, KEEP, KEEP, KEEP);
		r_ctl(A, "", q, IPC_RMID);
		_exit(0);
	}
	reap(p, "");
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

struct thr_arg {
	const struct msg_impl *A;
	int q;
	int rs, rr;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;
	struct {
		long mtype;
		char t[16];
	} m = { 4, "thread" };
	a->rs = a->A->snd(a->q, &m, 6, NW);
	a->rr = (int)a->A->rcv(a->q, &m, sizeof m.t, 0, NW);
	return NULL;
}

/* A thread's send/receive: lspid/lrpid are the process id (tgid), not the tid. */
static void sc_thread_pids(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_snd(A, "", q, 1, 2, NW);
	struct thr_arg a = { A, q, -2, -2 };
	pthread_t t;
	if (pthread_create(&t, NULL, thr_main, &a) == 0)
		pthread_join(t, NULL);
	rec("thread sent -> %d, received -> %d", a.rs, a.rr);
	r_stat(A, "after a thread's send and receive", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* Polls until p sleeps, without the extra delay of wait_sleeping. */
static int quick_wait_sleeping(pid_t p)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
	for (int i = 0; i < 2000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = 0;
			char *c = strrchr(buf, ')');
			if (c && c[1] == ' ' && (c[2] == 'S' || c[2] == 'D'))
				return 1;
		}
		sleep_ms(1);
	}
	return 0;
}

/* Waiters killed while blocked leave nothing behind: 150 of each kind. */
#define NKILL 150
static void sc_killed_waiters(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	int slept = 0;
	fflush(NULL);
	for (int i = 0; i < NKILL; i++) {
		pid_t p = fork();
		if (p == 0) {
			signal(SIGALRM, SIG_DFL);
			alarm(5);
			A->rcv(q, rbuf, 64, 1 + i % 5, 0);
			_exit(1);
		}
		slept += quick_wait_sleeping(p);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	rec("%d receivers killed while blocked (%d seen asleep)", NKILL,
	    slept == NKILL ? NKILL : -slept);
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_rcv(A, "a new receiver blocks", q, 64, 3, 0);
		_exit(0);
	}
	wait_sleeping(p);
	sbuf->mtype = 3;
	int r = A->snd(q, sbuf, 3, NW);
	reap(p, "");
	rec("runner sent -> %d", r);
	r_stat(A, "", q);

	r_set(A, "", q, KEEP, KEEP, KEEP, 1);
	r_snd(A, "fill", q, 1, 1, NW);
	slept = 0;
	fflush(NULL);
	for (int i = 0; i < NKILL; i++) {
		pid_t c = fork();
		if (c == 0) {
			signal(SIGALRM, SIG_DFL);
			alarm(5);
			sbuf->mtype = 9;
			A->snd(q, sbuf, 1, 0);
			_exit(1);
		}
		slept += quick_wait_sleeping(c);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
	rec("%d senders killed while blocked (%d seen asleep)", NKILL,
	    slept == NKILL ? NKILL : -slept);
	r_stat(A, "nothing was sent by the killed senders", q);
	p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "a new sender blocks", q, 2, 1, 0);
		_exit(0);
	}
	wait_sleeping(p);
	r = (int)A->rcv(q, rbuf, 64, 0, NW);
	reap(p, "");
	rec("runner received -> %d", r);
	r_rcv(A, "", q, 64, 0, NW);
	r_rcv(A, "", q, 64, 0, NW);
	r_ctl(A, "", q, IPC_RMID);
}

/* A blocked sender wakes only when its message fits. */
static void sc_block_snd_fit(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "", q, KEEP, KEEP, KEEP, 10);
	r_snd(A, "", q, 1, 5, NW);
	r_snd(A, "", q, 2, 5, NW);
	r_set(A, "qbytes below cbytes", q, KEEP, KEEP, KEEP, 8);
	sh->v[0] = 0;
	pid_t p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "child blocks with 4 bytes", q, 3, 4, 0);
		sh->v[0] = 1;
		_exit(0);
	}
	wait_sleeping(p);
	ssize_t r1 = A->rcv(q, rbuf, 64, 0, NW); /* 5 + 4 > 8: still no room */
	sleep_ms(100);
	int early = sh->v[0];
	ssize_t r2 = A->rcv(q, rbuf, 64, 0, NW); /* now it fits */
	reap(p, "");
	rec("runner received %zd (child done already: %s), then %zd", r1, early ? "yes" : "no", r2);
	r_stat(A, "", q);
	/* a message larger than qbytes waits for IPC_SET to make room */
	p = fork_child();
	if (p == 0) {
		sh->ready = 1;
		r_snd(A, "child blocks with 20 bytes > qbytes", q, 4, 20, 0);
		_exit(0);
	}
	wait_sleeping(p);
	r_rcv(A, "", q, 64, 0, NW); /* empties the queue: still no room */
	sleep_ms(50);
	struct msqid_ds d;
	A->ctl(q, IPC_STAT, &d);
	d.msg_qbytes = 20;
	int rs = A->ctl(q, IPC_SET, &d);
	reap(p, "");
	rec("runner IPC_SET qbytes 20 -> %d", rs);
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/*
 * Which blocked receiver gets a message. A receiver whose buffer is too
 * small gets E2BIG and the next one still gets the message (hard). Among
 * receivers that all match, the kernel serves them in the order they went to
 * sleep (informational: msgop(2) does not promise an order).
 */
static void sc_block_choice(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	strcpy(sh->deferred[0], "(nothing)");
	strcpy(sh->deferred[1], "(nothing)");
	pid_t p1 = fork_child();
	if (p1 == 0) {
		g_rec_into = sh->deferred[0];
		sh->ready = 1;
		r_rcv(A, "child1 blocks with a 2-byte buffer", q, 2, 0, 0);
		_exit(0);
	}
	wait_sleeping(p1);
	pid_t p2 = fork_child();
	if (p2 == 0) {
		g_rec_into = sh->deferred[1];
		sh->ready = 1;
		r_rcv(A, "child2 blocks with a 64-byte buffer", q, 64, 0, 0);
		_exit(0);
	}
	wait_sleeping(p2);
	sbuf->mtype = 6;
	memset(sbuf->mtext, 'z', 10);
	int r = A->snd(q, sbuf, 10, NW);
	reap(p1, "child1");
	reap(p2, "child2");
	rec("%s", sh->deferred[0]);
	rec("%s", sh->deferred[1]);
	rec("runner sent 10 bytes -> %d", r);
	r_stat(A, "", q);

	/* child3 waits for any type, child4 for type 5; two type-5 messages */
	sh->v[0] = sh->v[1] = 0;
	pid_t p3 = fork_child();
	if (p3 == 0) {
		sh->ready = 1;
		ssize_t rr = A->rcv(q, rbuf, 64, 0, 0);
		sh->v[0] = rr >= 1 && rbuf->mtype == 5 ? rbuf->mtext[0] : -1;
		_exit(0);
	}
	wait_sleeping(p3);
	pid_t p4 = fork_child();
	if (p4 == 0) {
		sh->ready = 1;
		ssize_t rr = A->rcv(q, rbuf, 64, 5, 0);
		sh->v[1] = rr >= 1 && rbuf->mtype == 5 ? rbuf->mtext[0] : -1;
		_exit(0);
	}
	wait_sleeping(p4);
	sbuf->mtype = 5;
	sbuf->mtext[0] = 1;
	r = A->snd(q, sbuf, 1, NW);
	sleep_ms(50);
	sbuf->mtext[0] = 2;
	r |= A->snd(q, sbuf, 1, NW);
	reap(p3, "child3 (any type)");
	reap(p4, "child4 (type 5)");
	rec("runner sent two type-5 messages -> %d; both receivers got one: %s", r,
	    sh->v[0] > 0 && sh->v[1] > 0 && sh->v[0] != sh->v[1] ? "yes" : "NO");
	rec("~the first type-5 message went to the receiver that blocked first: %s",
	    sh->v[0] == 1 ? "yes" : "no");
	r_stat(A, "", q);
	r_ctl(A, "", q, IPC_RMID);
}

/* IPC_RMID wakes every waiter, senders and receivers at once. */
static void sc_rmid_wakes_all(const struct msg_impl *A)
{
	int q = r_get(A, "", IPC_PRIVATE, 0600);
	r_set(A, "", q, KEEP, KEEP, KEEP, 2);
	r_snd(A, "", q, 1, 1, NW);
	r_snd(A, "", q, 1, 1, NW);
	pid_t p[6];
	/* the children wake in any order: they leave their result in sh->v */
	for (int i = 0; i < 6; i++) {
		p[i] = fork_child();
		if (p[i] == 0) {
			sh->ready = 1;
			errno = 0;
			long r = i % 2 ? A->snd(q, sbuf, 1, 0) : A->rcv(q, rbuf, 64, 2, 0);
			sh->v[i] = r == -1 ? errno : 1000;
			_exit(0);
		}
		wait_sleeping(p[i]);
	}
	r_stat(A, "all six wait", q);
	int r = A->ctl(q, IPC_RMID, NULL);
	for (int i = 0; i < 6; i++) {
		reap(p[i], "");
		rec("%s %d -> %s", i % 2 ? "blocked sender" : "blocked receiver", i / 2,
		    sh->v[i] == 1000 ? "succeeded" : sh->v[i] < 0 ? "?" : rv(-1, sh->v[i]));
	}
	rec("runner RMID -> %d", r);
}

/* ------------------------------------------------------------- the runner */

struct scenario {
	const char *name;
	void (*fn)(const struct msg_impl *);
	int root, copy;
};

static const struct scenario scenarios[] = {
	{ "msgget_private", sc_get_private, 0, 0 },
	{ "msgget_keyed", sc_get_keyed, 0, 0 },
	{ "msgget_mode", sc_get_mode, 0, 0 },
	{ "msgsnd_invalid", sc_snd_invalid, 0, 0 },
	{ "zero_length", sc_zero_len, 0, 0 },
	{ "queue_full", sc_full, 0, 0 },
	{ "msgrcv_select", sc_select, 0, 0 },
	{ "msgrcv_lesseq_oldest", sc_lesseq_oldest, 0, 0 },
	{ "msgrcv_noerror_e2big", sc_noerror, 0, 0 },
	{ "msgrcv_nowait_empty", sc_nowait_empty, 0, 0 },
	{ "msg_copy", sc_copy, 0, 1 },
	{ "invalid_ids", sc_invalid_ids, 0, 0 },
	{ "msgctl_bad_cmd", sc_ctl_badcmd, 0, 0 },
	{ "msgctl_ipc_set", sc_ctl_set, 0, 0 },
	{ "msgctl_rmid", sc_rmid, 0, 0 },
	{ "msgctl_info", sc_info, 0, 0 },
	{ "msgctl_msg_stat", sc_msgstat, 0, 0 },
	{ "pid_and_time_fields", sc_pid_time, 0, 0 },
	{ "block_rcv_type", sc_block_rcv_type, 0, 0 },
	{ "block_rcv_rmid", sc_block_rcv_rmid, 0, 0 },
	{ "block_snd_rmid", sc_block_snd_rmid, 0, 0 },
	{ "block_snd_wakeups", sc_block_snd_wake, 0, 0 },
	{ "block_eintr", sc_block_eintr, 0, 0 },
	{ "block_rcv_size_and_except", sc_block_rcv_size, 0, 0 },
	{ "block_rcv_lesseq", sc_block_lesseq, 0, 0 },
	{ "block_two_receivers", sc_block_two, 0, 0 },
	{ "block_stop_cont", sc_block_stop_cont, 0, 0 },
	{ "capacity", sc_capacity, 0, 0 },
	{ "flags_ignored", sc_flags_ignored, 0, 0 },
	{ "block_perm_revoked", sc_block_perm_revoked, 1, 0 },
	{ "perm_groups", sc_perm_groups, 1, 0 },
	{ "msgctl_ipc64_flag", sc_ipc64, 0, 0 },
	{ "many_waiters", sc_many_waiters, 0, 0 },
	{ "thread_pids", sc_thread_pids, 0, 0 },
	{ "killed_waiters", sc_killed_waiters, 0, 0 },
	{ "block_snd_until_fits", sc_block_snd_fit, 0, 0 },
	{ "block_receiver_choice", sc_block_choice, 0, 0 },
	{ "rmid_wakes_all", sc_rmid_wakes_all, 0, 0 },
	{ "cred_change_without_fork", sc_cred_change, 1, 0 },
	{ "perm_capabilities", sc_perm_caps, 1, 0 },
	{ "perm_other_user", sc_perm_other, 1, 0 },
	{ "perm_owner", sc_perm_owner, 1, 0 },
	{ "perm_creator", sc_perm_creator, 1, 0 },
};

static const struct scenario *g_sc; /* the one side() runs */

/* One side of g_sc, in its runner. */
static void side(int kernel)
{
	sh->ready = 0;
	memset(sh->v, -1, sizeof sh->v);
	g_sc->fn(kernel ? &K : &S);
}

/* Entry by entry: #i of one transcript against #i of the other. */
static void compare(const char *name)
{
	int n = g_kt->n > g_st->n ? g_kt->n : g_st->n;
	int bad = 0;
	print_kernel_transcript(name);
	for (int i = 0; i < n; i++) {
		const char *a = i < g_kt->n ? g_kt->line[i] : "(no entry)";
		const char *b = i < g_st->n ? g_st->line[i] : "(no entry)";
		g_checks++;
		if (strcmp(a, b) == 0)
			continue;
		if (a[0] == '~' && b[0] == '~') {
			g_notes++;
			printf("NOTE [%s] #%d (informational, not a failure)\n  kernel: %s\n  svipc:  %s\n",
			       name, i, a + 1, b + 1);
			continue;
		}
		bad++;
		T_FAIL("[%s] entry #%d differs\n  kernel: %s\n  svipc:  %s", name, i, a, b);
	}
	summary(name, n, bad);
}

/* MSG_COPY per msgop(2), for kernels built without CONFIG_CHECKPOINT_RESTORE. */
static void copy_manpage_check(void)
{
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	for (int i = 0; i < 3; i++) {
		sbuf->mtype = i + 1;
		memset(sbuf->mtext, 'a' + i, 4);
		T_OK(svipc_msgsnd(q, sbuf, 4, NW));
	}
	T_EQ(svipc_msgrcv(q, rbuf, 64, 1, NW | MSG_COPY), 4);
	T_EQ(rbuf->mtype, 2);
	T_EQ(rbuf->mtext[0], 'b');
	T_ERR(svipc_msgrcv(q, rbuf, 64, 3, NW | MSG_COPY), ENOMSG);
	T_ERR(svipc_msgrcv(q, rbuf, 64, 0, MSG_COPY), EINVAL);
	T_ERR(svipc_msgrcv(q, rbuf, 64, 0, NW | MSG_COPY | MSG_EXCEPT), EINVAL);
	T_ERR(svipc_msgrcv(q, rbuf, 2, 0, NW | MSG_COPY), E2BIG);
	struct msqid_ds d;
	T_OK(svipc_msgctl(q, IPC_STAT, &d));
	T_EQ(d.msg_qnum, 3);
	T_EQ(d.msg_lrpid, 0);
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
}

int main(void)
{
	t_setup(150);
	g_cap_resource = has_cap(24); /* CAP_SYS_RESOURCE */
	g_msgmax = read_proc("/proc/sys/kernel/msgmax");
	g_msgmnb = read_proc("/proc/sys/kernel/msgmnb");
	g_msgmni = read_proc("/proc/sys/kernel/msgmni");
	if (g_msgmax <= 0 || g_msgmnb <= 0 || g_msgmni <= 0) {
		fprintf(stderr, "cannot read /proc/sys/kernel/msg*\n");
		return 1;
	}
	g_cap = (size_t)g_msgmax + 4096;
	sbuf = calloc(1, sizeof(struct mbuf) + g_cap + 64);
	rbuf = calloc(1, sizeof(struct mbuf) + g_cap + 64);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!sbuf || !rbuf || sh == MAP_FAILED || oracle_init() != 0) {
		perror("alloc");
		return 1;
	}

	/* Does the kernel have MSG_COPY (CONFIG_CHECKPOINT_RESTORE)? */
	{
		int q = msgget(IPC_PRIVATE, 0600);
		int rc = first_kernel_object(q, "kernel msgget");
		if (rc)
			return rc;
		sbuf->mtype = 1;
		msgsnd(q, sbuf, 1, NW);
		errno = 0;
		if (msgrcv(q, rbuf, 64, 0, NW | MSG_COPY) == -1 && errno == ENOSYS)
			g_have_copy = 0;
		struct msqid_ds d;
		if (msgctl(q, IPC_STAT, &d) == 0)
			learn_seq_shift(q, d.msg_perm.__seq);
		kclean();
		printf("kernel MSG_COPY: %s\n", g_have_copy ? "available" : "ENOSYS");
	}

	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		const struct scenario *sc = &scenarios[i];
		if (skip_unless_root(sc->name, sc->root))
			continue;
		if (sc->copy && !g_have_copy) {
			printf("%-*s kernel lacks MSG_COPY: checking svipc against msgop(2)\n",
			       ORACLE_NAME_WIDTH, sc->name);
			copy_manpage_check();
			continue;
		}
		g_sc = sc;
		run_sides(side, 0x5c000000u, 10);
		compare(sc->name);
	}
	return oracle_done();
}

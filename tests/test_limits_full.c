/*
 * test_limits_full.c - limits reached, and a full filesystem.
 *
 * Part 1, the limits, against the kernel (oracle.h: the same scenario runs
 * on the kernel, in a fresh IPC namespace whose /proc/sys/kernel limits it
 * writes, and on svipc, in a fresh namespace whose limits it sets with
 * svipc_limits_set; the transcripts must be equal): msgmni, shmmni, semmni
 * reached (ENOSPC, keyed or not; an existing key still opens), semmns
 * (ENOSPC), shmall (ENOSPC), shmmax (EINVAL), msgmax (EINVAL), a queue's
 * bytes (EAGAIN with IPC_NOWAIT, a message larger than msg_qbytes EINVAL);
 * and each time everything else keeps working: the other types, the
 * existing objects, and a new object once one is removed.
 *
 * Part 2, a full filesystem under the namespace (root: a 8 MiB tmpfs is
 * mounted for it; skipped with a message when mount fails): objects are
 * made and filled, then a file fills the filesystem, then each risky call
 * runs in a forked child, so that a SIGBUS is reported with the call that
 * got it:
 *   msgget, semget, shmget (and shmget SHM_NORESERVE): fail with ENOMEM
 *     (the kernel's errno when memory for a new object runs out) or ENOSPC;
 *   msgsnd of 100-byte messages until one fails: ENOMEM, the kernel's
 *     msgsnd errno when memory runs out (whatever IPC_NOWAIT), unless the
 *     queue fills first (EAGAIN with its bytes at msg_qbytes); a 4000-byte
 *     message too;
 *   semop with SEM_UNDO by 8 processes at once (each needs an undo record,
 *     here a page each): 0 or ENOMEM (the kernel's errno for an undo
 *     structure it cannot allocate);
 *   40 processes blocking in semop (waiter slots beyond the first page):
 *     the kernel's behaviour, they wait and complete when released (a
 *     blocking semop never fails for memory on Linux);
 *   10 processes blocking in msgrcv for a type never sent: they time out
 *     (EAGAIN of svipc_msgrcv_timed), nothing else;
 *   shmat of an existing segment, also 300 times in one process (its
 *     attachment slots beyond the first page): attached or ENOMEM; a first
 *     touch of a data page that was never touched gets SIGBUS, which README
 *     documents ("space taken by others later can still make a first touch
 *     SIGBUS"): reported, not failed;
 *   and nothing stored before is lost: every message queued before is
 *   received, in order, with its contents; the semaphore values and the
 *   segment's data are intact; once the filler is removed everything works.
 * A SIGBUS anywhere else is a failure naming the call.
 *
 * Root only (writing IPC limits in a fresh IPC namespace, mounting); 77
 * otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#define TLINES 400
#define ORACLE_NIDS 64
#define ORACLE_NAME_WIDTH 12
#include "oracle.h"

static const struct t_ipc KI = T_KERNEL_IPC, SI = T_SVIPC_IPC;

static void ipc_rm(int kernel, int id)
{
	(void)kernel, (void)id; /* kernel: a private namespace; svipc: a directory per scenario */
}

static int kernel_key_unused(key_t k)
{
	(void)k;
	return 1;
}

static void rec_killed(const char *what, int child, int sig)
{
	rec("%s%s by %s", pre(what), child ? "child killed" : "RUNNER KILLED",
	    sig == SIGALRM ? "SIGALRM (hung)" : sigabbrev_np(sig));
}

/* ------------------------------------------------------ part 1: limits */

static long g_pagesz;

/* Writes a limit: the kernel's into /proc (the runner's own IPC namespace), svipc's. */
static int set_limit(const struct t_ipc *A, const char *name, const char *value)
{
	if (A->kernel) {
		char p[64];
		snprintf(p, sizeof p, "/proc/sys/kernel/%s", name);
		FILE *f = fopen(p, "w");
		int ok = f && fputs(value, f) >= 0;
		if (f)
			ok &= fclose(f) == 0;
		return ok ? 0 : -1;
	}
	struct svipc_limits l;
	memset(&l, 0, sizeof l);
	unsigned long long v[4] = { 0 };
	if (!strcmp(name, "sem")) {
		sscanf(value, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]);
		l.semmsl = v[0], l.semmns = v[1], l.semopm = v[2], l.semmni = v[3];
	} else {
		unsigned long long x = strtoull(value, NULL, 0);
		if (!strcmp(name, "msgmni")) l.msgmni = x;
		else if (!strcmp(name, "msgmnb")) l.msgmnb = x;
		else if (!strcmp(name, "msgmax")) l.msgmax = x;
		else if (!strcmp(name, "shmmni")) l.shmmni = x;
		else if (!strcmp(name, "shmall")) l.shmall = x;
		else if (!strcmp(name, "shmmax")) l.shmmax = x;
		else return -1;
	}
	return svipc_limits_set(&l);
}

#define R(label, expr)                                                               \
	({                                                                           \
		errno = 0;                                                           \
		long long r_ = (long long)(expr);                                    \
		rec("%s = %s", label, rv(r_, errno));                                \
		r_;                                                                  \
	})
#define RID(label, expr)                                                             \
	({                                                                           \
		errno = 0;                                                           \
		int r_ = (int)(expr);                                                \
		int e_ = errno;                                                      \
		rec("%s = %s", label, r_ < 0 ? rv(-1, e_) : id_label(r_, 'o'));      \
		r_;                                                                  \
	})

struct mb {
	long type;
	char text[8192];
};

/* The other types, and a send/receive on queue q (-1: none), still work. */
static void still_works(const struct t_ipc *A, int q, int skip_type)
{
	struct mb m = { 3, "ok" };
	if (q >= 0) {
		R("  msgsnd on an existing queue", A->msgsnd(q, &m, 3, IPC_NOWAIT));
		R("  msgrcv on an existing queue", A->msgrcv(q, &m, 16, 3, IPC_NOWAIT));
	}
	if (skip_type != 0) {
		int x = RID("  msgget", A->msgget(IPC_PRIVATE, 0600));
		if (x >= 0)
			A->msgctl(x, IPC_RMID, NULL);
	}
	if (skip_type != 1) {
		int x = RID("  semget", A->semget(IPC_PRIVATE, 1, 0600));
		if (x >= 0)
			A->semctl(x, 0, IPC_RMID);
	}
	if (skip_type != 2) {
		int x = RID("  shmget", A->shmget(IPC_PRIVATE, 4096, 0600));
		if (x >= 0)
			A->shmctl(x, IPC_RMID, NULL);
	}
}

static void sc_msgmni(const struct t_ipc *A)
{
	R("set msgmni 4", set_limit(A, "msgmni", "4"));
	int q[4];
	q[0] = RID("msgget keyed", A->msgget(osh->key[0], IPC_CREAT | 0600));
	for (int i = 1; i < 4; i++)
		q[i] = RID("msgget", A->msgget(IPC_PRIVATE, 0600));
	RID("msgget 5th", A->msgget(IPC_PRIVATE, 0600));
	RID("msgget 5th keyed", A->msgget(osh->key[1], IPC_CREAT | 0600));
	RID("msgget existing key", A->msgget(osh->key[0], IPC_CREAT | 0600));
	still_works(A, q[1], 0);
	R("msgctl IPC_RMID", A->msgctl(q[3], IPC_RMID, NULL));
	RID("msgget after a removal", A->msgget(osh->key[1], IPC_CREAT | 0600));
	RID("msgget over again", A->msgget(IPC_PRIVATE, 0600));
}

static void sc_shmmni(const struct t_ipc *A)
{
	R("set shmmni 3", set_limit(A, "shmmni", "3"));
	int m[3];
	for (int i = 0; i < 3; i++)
		m[i] = RID("shmget", A->shmget(IPC_PRIVATE, 4096, 0600));
	RID("shmget 4th", A->shmget(IPC_PRIVATE, 4096, 0600));
	RID("shmget 4th keyed", A->shmget(osh->key[0], 4096, IPC_CREAT | 0600));
	void *p = A->shmat(m[0], NULL, 0);
	rec("shmat an existing segment = %s", p == (void *)-1 ? "failed" : "attached");
	if (p != (void *)-1) {
		memset(p, 7, 4096);
		A->shmdt(p);
	}
	still_works(A, -1, 2);
	R("shmctl IPC_RMID", A->shmctl(m[2], IPC_RMID, NULL));
	RID("shmget after a removal", A->shmget(IPC_PRIVATE, 4096, 0600));
	for (int i = 0; i < 2; i++)
		A->shmctl(m[i], IPC_RMID, NULL);
}

static void sc_shmall(const struct t_ipc *A)
{
	R("set shmall 10 pages, shmmax 8 pages", set_limit(A, "shmall", "10") |
	  set_limit(A, "shmmax", g_pagesz == 4096 ? "32768" : "0"));
	RID("shmget 8 pages + 1 byte (shmmax)", A->shmget(IPC_PRIVATE, 8 * 4096 + 1, 0600));
	int a = RID("shmget 8 pages", A->shmget(IPC_PRIVATE, 8 * 4096, 0600));
	RID("shmget 3 pages (shmall)", A->shmget(IPC_PRIVATE, 3 * 4096, 0600));
	int b = RID("shmget 2 pages", A->shmget(IPC_PRIVATE, 2 * 4096, 0600));
	RID("shmget 1 byte (shmall)", A->shmget(IPC_PRIVATE, 1, 0600));
	still_works(A, -1, 2);
	R("shmctl IPC_RMID", A->shmctl(b, IPC_RMID, NULL));
	int c = RID("shmget 2 pages after a removal", A->shmget(IPC_PRIVATE, 2 * 4096, 0600));
	A->shmctl(a, IPC_RMID, NULL);
	A->shmctl(c, IPC_RMID, NULL);
}

static void sc_semmni(const struct t_ipc *A)
{
	R("set sem 250 20 32 3", set_limit(A, "sem", "250 20 32 3"));
	int s0 = RID("semget 8 keyed", A->semget(osh->key[0], 8, IPC_CREAT | 0600));
	int s1 = RID("semget 8", A->semget(IPC_PRIVATE, 8, 0600));
	RID("semget 5 (semmns)", A->semget(IPC_PRIVATE, 5, 0600));
	int s2 = RID("semget 4", A->semget(IPC_PRIVATE, 4, 0600));
	RID("semget 1 (semmni and semmns)", A->semget(IPC_PRIVATE, 1, 0600));
	RID("semget existing key", A->semget(osh->key[0], 8, IPC_CREAT | 0600));
	R("semop on an existing set", A->semop(s1, (struct sembuf[]){ { 0, 1, 0 } }, 1));
	R("GETVAL", A->semctl(s1, 0, GETVAL));
	still_works(A, -1, 1);
	R("semctl IPC_RMID", A->semctl(s2, 0, IPC_RMID));
	RID("semget 4 after a removal", A->semget(IPC_PRIVATE, 4, 0600));
	(void)s0;
}

static void sc_qbytes(const struct t_ipc *A)
{
	R("set msgmnb 512, msgmax 200", set_limit(A, "msgmnb", "512") | set_limit(A, "msgmax", "200"));
	int q = RID("msgget", A->msgget(IPC_PRIVATE, 0600));
	int q2 = RID("msgget another", A->msgget(IPC_PRIVATE, 0600));
	struct mb m = { 1, "" };
	R("msgsnd 201 bytes (msgmax)", A->msgsnd(q, &m, 201, IPC_NOWAIT));
	int n = 0;
	for (int i = 0; i < 10; i++) {
		memset(m.text, 'a' + i, 100);
		m.type = i + 1;
		errno = 0;
		if (A->msgsnd(q, &m, 100, IPC_NOWAIT) != 0) {
			rec("msgsnd 100 bytes #%d = %s", i, rv(-1, errno));
			break;
		}
		n++;
	}
	rec("messages queued: %d", n);
	struct msqid_ds d;
	R("IPC_STAT", A->msgctl(q, IPC_STAT, &d));
	rec("qnum %d cbytes %d qbytes %d", (int)d.msg_qnum, (int)d.__msg_cbytes, (int)d.msg_qbytes);
	d.msg_qbytes = 100;
	R("IPC_SET qbytes 100", A->msgctl(q, IPC_SET, &d));
	R("msgsnd 101 bytes > qbytes", A->msgsnd(q, &m, 101, IPC_NOWAIT));
	R("msgsnd 100 bytes (over qbytes)", A->msgsnd(q, &m, 100, IPC_NOWAIT));
	R("msgsnd on another queue", A->msgsnd(q2, &m, 100, IPC_NOWAIT));
	still_works(A, q2, -1);
	for (int i = 0; i < n; i++) {
		errno = 0;
		ssize_t r = A->msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
		rec("msgrcv = %s type %ld byte %c", rv(r, errno), r >= 0 ? m.type : 0L,
		    r > 0 ? m.text[99] : '-');
	}
	R("msgsnd 100 bytes after draining", A->msgsnd(q, &m, 100, IPC_NOWAIT));
}

struct scenario {
	const char *name;
	void (*fn)(const struct t_ipc *);
};
static const struct scenario scenarios[] = {
	{ "msgmni", sc_msgmni }, { "shmmni", sc_shmmni }, { "shmall", sc_shmall },
	{ "semmni", sc_semmni }, { "qbytes", sc_qbytes },
};
static const struct scenario *g_sc;

static const char *const limit_files[] = { "msgmax", "msgmnb", "msgmni", "shmmax",
					   "shmall", "shmmni", "sem" };
static char g_limits[7][128];

static void side(int kernel)
{
	if (kernel) {
		if (unshare(CLONE_NEWIPC) != 0) {
			rec("RUNNER: no private IPC namespace: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < 7; i++)
			set_limit(&KI, limit_files[i], g_limits[i]);
	} else {
		char dir[sizeof t_dir + 64];
		snprintf(dir, sizeof dir, "%s/%s", t_dir, g_sc->name);
		setenv("SVIPC_DIR", dir, 1);
	}
	g_sc->fn(kernel ? &KI : &SI);
}

/* -------------------------------------------------- part 2: a full filesystem */

static char g_mnt[64];
static int g_mounted;

struct fshared {
	int q, s, m;
	int r[64], e[64];
	int sent, failed_errno, qnum;
	volatile int release;
	char step[96]; /* the call a risky child is in: named when it is killed */
};
static struct fshared *fs;

static void unmount_all(void)
{
	if (getpid() != t_owner_pid)
		return;
	if (g_mounted) {
		if (umount2(g_mnt, MNT_DETACH) != 0)
			perror("umount");
		g_mounted = 0;
	}
	if (g_mnt[0])
		rmdir(g_mnt);
}

static const char *stname(int st)
{
	static char b[64];
	if (WIFEXITED(st))
		snprintf(b, sizeof b, "exit %d", WEXITSTATUS(st));
	else
		snprintf(b, sizeof b, "KILLED by SIG%s", sigabbrev_np(WTERMSIG(st)));
	return b;
}

/* Runs fn in a child in the full namespace; returns its wait status. */
static int in_child(void (*fn)(void *), void *arg, unsigned secs)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		alarm(secs);
		t_failures = 0;
		fn(arg);
		fflush(NULL);
		_exit(t_failures ? 1 : 0);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static int g_sigbus_fail;

/* Names the call about to be made (for the report if a signal kills us). */
static void step(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fs->step, sizeof fs->step, fmt, ap);
	va_end(ap);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* A risky call's child: must exit 0; a signal is reported with the call's name. */
static void risky(const char *what, void (*fn)(void *), void *arg, unsigned secs)
{
	fs->step[0] = 0;
	int st = in_child(fn, arg, secs);
	if (WIFSIGNALED(st)) {
		T_FAIL("[full fs] %s: %s in %s", what, stname(st), fs->step[0] ? fs->step : "?");
		g_sigbus_fail += WTERMSIG(st) == SIGBUS;
	} else if (WEXITSTATUS(st) != 0) {
		T_FAIL("[full fs] %s: wrong result (above)", what);
	} else {
		printf("  %-48s ok\n", what);
	}
}

static void msg_text(char *t, int i)
{
	for (int k = 0; k < 100; k++)
		t[k] = (char)('A' + (i * 7 + k) % 26);
}

static void fill_setup(void *arg)
{
	(void)arg;
	struct mb m;
	fs->q = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	for (int i = 0; i < 10; i++) {
		m.type = i + 1;
		msg_text(m.text, i);
		T_OK(svipc_msgsnd(fs->q, &m, 100, IPC_NOWAIT));
	}
	fs->s = (int)T_OK(svipc_semget(IPC_PRIVATE, 2048, IPC_CREAT | 0600));
	T_OK(svipc_semctl(fs->s, 0, SETVAL, 5));
	T_OK(svipc_semctl(fs->s, 2047, SETVAL, 9));
	fs->m = (int)T_OK(svipc_shmget(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600));
	char *p = svipc_shmat(fs->m, NULL, 0);
	T_ASSERT(p != (void *)-1);
	if (p != (void *)-1) {
		memset(p, 0x5a, 4096); /* the first page only: the second stays a hole */
		svipc_shmdt(p);
	}
}

/* Fills the filesystem with a file; returns its size in KiB, or -1. */
static long fill_fs(void)
{
	char f[128];
	snprintf(f, sizeof f, "%s/filler", g_mnt);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	static char buf[4096];
	memset(buf, 1, sizeof buf);
	long n = 0;
	while (write(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
		n += 4;
	/* the last partial page too */
	while (write(fd, buf, 1) == 1)
		;
	close(fd);
	return n;
}

static int errno_in(int e, int a, int b)
{
	return e == a || e == b;
}

static void do_gets(void *arg)
{
	(void)arg;
	errno = 0;
	int r = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	printf("    msgget: %s\n", rv(r, errno));
	T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
	errno = 0;
	r = svipc_semget(IPC_PRIVATE, 4, IPC_CREAT | 0600);
	printf("    semget: %s\n", rv(r, errno));
	T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
	errno = 0;
	r = svipc_shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	printf("    shmget: %s\n", rv(r, errno));
	T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
}

static void do_msgget(void *arg)
{
	(void)arg;
	errno = 0;
	step("msgget");
	int r = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	printf("    msgget: %s\n", rv(r, errno));
	T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
}

static void do_semget(void *arg)
{
	(void)arg;
	errno = 0;
	step("semget");
	int r = svipc_semget(IPC_PRIVATE, 4, IPC_CREAT | 0600);
	printf("    semget: %s\n", rv(r, errno));
	T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
}

static void do_shmget(void *arg)
{
	int flg = *(int *)arg;
	errno = 0;
	step("shmget");
	int r = svipc_shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600 | flg);
	printf("    shmget%s: %s\n", flg ? " SHM_NORESERVE" : "", rv(r, errno));
	if (!flg)
		T_ASSERT(r == -1 && errno_in(errno, ENOMEM, ENOSPC));
	else if (r >= 0)
		svipc_shmctl(r, IPC_RMID, NULL);
}

static void do_msgsnd(void *arg)
{
	size_t len = (size_t)*(int *)arg;
	struct mb m;
	fs->sent = 0;
	fs->failed_errno = 0;
	for (int i = 0; i < 400; i++) {
		m.type = 100 + i;
		msg_text(m.text, 100 + i);
		__atomic_store_n(&fs->sent, i, __ATOMIC_SEQ_CST); /* for the report if killed */
		errno = 0;
		step("msgsnd #%d of %zu bytes", i, len);
		if (svipc_msgsnd(fs->q, &m, len, IPC_NOWAIT) != 0) {
			fs->failed_errno = errno;
			break;
		}
		fs->sent = i + 1;
	}
	struct msqid_ds d;
	step("msgctl IPC_STAT");
	T_OK(svipc_msgctl(fs->q, IPC_STAT, &d));
	fs->qnum = (int)d.msg_qnum;
	printf("    %zu-byte msgsnd: %d sent, then %s (queue: %d messages, %lu of %lu bytes)\n", len,
	       fs->sent, fs->failed_errno ? strerrorname_np(fs->failed_errno) : "none failed",
	       (int)d.msg_qnum, (unsigned long)d.__msg_cbytes, (unsigned long)d.msg_qbytes);
	int full = d.__msg_cbytes + len > d.msg_qbytes;
	T_ASSERT(fs->failed_errno == ENOMEM || (fs->failed_errno == EAGAIN && full));
}

static void do_undo_holder(void *arg)
{
	int i = *(int *)arg;
	struct sembuf op = { (unsigned short)(i * 200), 1, SEM_UNDO | IPC_NOWAIT };
	errno = 0;
	step("semop SEM_UNDO in holder %d", i);
	fs->r[i] = svipc_semop(fs->s, &op, 1);
	fs->e[i] = errno;
	step("holder %d waits", i);
	__atomic_fetch_add(&fs->qnum, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&fs->release, __ATOMIC_SEQ_CST))
		usleep(2000);
	_exit(0); /* the undo is applied by the next user */
}

static void do_undo(void *arg)
{
	(void)arg;
	pid_t kids[8];
	fs->release = 0;
	fs->qnum = 0;
	for (int i = 0; i < 8; i++) {
		fs->r[i] = -2;
		fflush(NULL);
		kids[i] = fork();
		if (kids[i] == 0) {
			alarm(20);
			do_undo_holder(&i);
		}
		while (__atomic_load_n(&fs->qnum, __ATOMIC_SEQ_CST) < i + 1) {
			int st;
			if (waitpid(kids[i], &st, WNOHANG) == kids[i]) {
				T_FAIL("SEM_UNDO holder %d: %s", i, stname(st));
				kids[i] = -1;
				break;
			}
			usleep(1000);
		}
	}
	printf("    SEM_UNDO by 8 processes:");
	for (int i = 0; i < 8; i++) {
		printf(" %s", fs->r[i] == -2 ? "killed" : rv(fs->r[i], fs->e[i]));
		T_ASSERT(fs->r[i] == 0 || (fs->r[i] == -1 && fs->e[i] == ENOMEM));
	}
	printf("\n");
	fs->release = 1;
	for (int i = 0; i < 8; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	/* their adjustments are undone: every value back */
	for (int i = 0; i < 8; i++) {
		step("GETVAL after the holders exited");
		T_EQ(svipc_semctl(fs->s, i * 200, GETVAL), i == 0 ? 5 : 0);
	}
}

static void do_sem_waiters(void *arg)
{
	(void)arg;
	enum { N = 40 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		fs->r[i] = -2;
		fflush(NULL);
		kids[i] = fork();
		if (kids[i] == 0) {
			alarm(20);
			struct sembuf op = { 1, -1, 0 };
			struct timespec ts = { 10, 0 };
			errno = 0;
			step("blocking semop in waiter %d", i);
			fs->r[i] = svipc_semtimedop(fs->s, &op, 1, &ts);
			fs->e[i] = errno;
			_exit(0);
		}
	}
	/* all blocked (GETNCNT counts those with a stored place only) */
	for (int t = 0; t < 200; t++) {
		int n = 0;
		char p[64], st = 0;
		for (int i = 0; i < N; i++) {
			snprintf(p, sizeof p, "/proc/%d/stat", kids[i]);
			FILE *f = fopen(p, "r");
			if (f && fscanf(f, "%*d %*s %c", &st) == 1 && st == 'S')
				n++;
			if (f)
				fclose(f);
		}
		if (n == N)
			break;
		usleep(10000);
	}
	errno = 0;
	step("the semop releasing the 40 waiters");
	int r = svipc_semop(fs->s, (struct sembuf[]){ { 1, N, 0 } }, 1);
	printf("    release 40 blocked semop callers: %s;", rv(r, errno));
	T_EQ(r, 0);
	int ok = 0, st;
	for (int i = 0; i < N; i++) {
		waitpid(kids[i], &st, 0);
		if (!WIFEXITED(st)) {
			T_FAIL("blocked semop caller %d: %s in %s", i, stname(st), fs->step);
			continue;
		}
		ok += fs->r[i] == 0;
		if (fs->r[i] != 0)
			T_FAIL("blocked semop caller %d: %s (the kernel's would complete)", i,
			       rv(fs->r[i], fs->e[i]));
	}
	printf(" %d of %d completed\n", ok, N);
	step("GETVAL after the waiters");
	T_EQ(svipc_semctl(fs->s, 1, GETVAL), 0);
}

static void do_msg_waiters(void *arg)
{
	(void)arg;
	enum { N = 10 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		fs->r[i] = -2;
		fflush(NULL);
		kids[i] = fork();
		if (kids[i] == 0) {
			alarm(20);
			struct mb m;
			struct timespec ts = { 1, 0 };
			errno = 0;
			step("blocking msgrcv in receiver %d", i);
			fs->r[i] = (int)svipc_msgrcv_timed(fs->q, &m, sizeof m.text, 777, 0, &ts);
			fs->e[i] = errno;
			_exit(0);
		}
	}
	int st, ok = 0;
	for (int i = 0; i < N; i++) {
		waitpid(kids[i], &st, 0);
		if (!WIFEXITED(st)) {
			T_FAIL("blocked msgrcv %d: %s", i, stname(st));
			continue;
		}
		ok += fs->r[i] == -1 && fs->e[i] == EAGAIN;
		if (!(fs->r[i] == -1 && fs->e[i] == EAGAIN))
			T_FAIL("blocked msgrcv %d: %s, want a timeout (EAGAIN)", i, rv(fs->r[i], fs->e[i]));
	}
	printf("    10 blocked msgrcv: %d timed out\n", ok);
}

static void do_shmat(void *arg)
{
	int many = *(int *)arg;
	int n = many ? 300 : 1, ok = 0, nomem = 0;
	static char *at[300];
	for (int i = 0; i < n; i++) {
		errno = 0;
		step("shmat #%d", i);
		at[i] = svipc_shmat(fs->m, NULL, SHM_RDONLY);
		if (at[i] == (void *)-1) {
			if (errno == ENOMEM)
				nomem++;
			else
				T_FAIL("shmat #%d: %s", i, strerrorname_np(errno));
			continue;
		}
		ok++;
		T_EQ((unsigned char)at[i][4095], 0x5a);
	}
	printf("    shmat x%d: %d attached, %d ENOMEM\n", n, ok, nomem);
	T_ASSERT(ok > 0 || nomem == n);
	for (int i = 0; i < n; i++)
		if (at[i] != (void *)-1)
			svipc_shmdt(at[i]);
}

static void do_shm_touch(void *arg)
{
	(void)arg;
	char *p = svipc_shmat(fs->m, NULL, 0);
	if (p == (void *)-1) {
		printf("    shmat: %s\n", strerrorname_np(errno));
		return;
	}
	p[4096] = 1; /* a page never touched: the filesystem has no room for it */
	svipc_shmdt(p);
}

/* Everything stored before the filesystem filled up is there. */
static void do_verify(void *arg)
{
	int extra = *(int *)arg; /* messages the msgsnd step added */
	struct mb m;
	char want[100];
	for (int i = 0; i < 10; i++) {
		errno = 0;
		step("msgrcv of message %d queued before the fill", i);
		ssize_t r = svipc_msgrcv(fs->q, &m, sizeof m.text, 0, IPC_NOWAIT);
		msg_text(want, i);
		if (r != 100 || m.type != i + 1 || memcmp(m.text, want, 100) != 0)
			T_FAIL("message %d queued before the fill: %s, type %ld", i, rv(r, errno), m.type);
	}
	int got = 0;
	step("msgrcv of the messages sent on the full filesystem");
	while (svipc_msgrcv(fs->q, &m, sizeof m.text, 0, IPC_NOWAIT) >= 0)
		got++;
	if (got != extra)
		T_FAIL("messages sent on the full filesystem: %d accepted, %d received", extra, got);
	step("semctl GETVAL");
	T_EQ(svipc_semctl(fs->s, 0, GETVAL), 5);
	T_EQ(svipc_semctl(fs->s, 2047, GETVAL), 9);
	step("shmat");
	char *p = svipc_shmat(fs->m, NULL, SHM_RDONLY);
	T_ASSERT(p != (void *)-1);
	if (p != (void *)-1) {
		T_EQ((unsigned char)p[0], 0x5a);
		T_EQ((unsigned char)p[4095], 0x5a);
		svipc_shmdt(p);
	}
	printf("    10 + %d messages received, values and data intact\n", got);
}

static void do_after(void *arg)
{
	(void)arg;
	struct mb m = { 999, "again" };
	T_OK(svipc_msgsnd(fs->q, &m, 6, IPC_NOWAIT));
	T_EQ(svipc_msgrcv(fs->q, &m, sizeof m.text, 999, IPC_NOWAIT), 6);
	int q = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	int s = (int)T_OK(svipc_semget(IPC_PRIVATE, 4, IPC_CREAT | 0600));
	int sg = (int)T_OK(svipc_shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	T_OK(svipc_shmctl(sg, IPC_RMID, NULL));
}

/* Returns 0 if it ran, 77 if it could not mount. */
static int full_fs(void)
{
	snprintf(g_mnt, sizeof g_mnt, "/tmp/svipc-full-XXXXXX");
	if (!mkdtemp(g_mnt)) {
		perror("mkdtemp");
		return 1;
	}
	if (mount("none", g_mnt, "tmpfs", 0, "size=8m,mode=1777") != 0) {
		printf("part 2 skipped: cannot mount a tmpfs on %s (%s): needs root and mount permission\n",
		       g_mnt, strerror(errno));
		rmdir(g_mnt);
		g_mnt[0] = 0;
		return 77;
	}
	g_mounted = 1;
	setenv("SVIPC_DIR", g_mnt, 1);
	fs = mmap(NULL, sizeof *fs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("part 2: a full 8 MiB tmpfs at %s\n", g_mnt);
	int st = in_child(fill_setup, NULL, 20);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("[full fs] setup before the fill: %s", stname(st));
		return 0;
	}
	long kib = fill_fs();
	printf("  filled: %ld KiB written\n", kib);
	int zero = 0, one = 1, len100 = 100, len4000 = 4000;
	risky("msgget on a full filesystem", do_msgget, NULL, 10);
	risky("semget on a full filesystem", do_semget, NULL, 10);
	risky("shmget on a full filesystem", do_shmget, &zero, 10);
	risky("shmget SHM_NORESERVE on a full filesystem", do_shmget, &one, 10);
	int extra = 0;
	risky("msgsnd 100 bytes until it fails", do_msgsnd, &len100, 20);
	extra += fs->sent;
	printf("    (%d of them sent before it ended)\n", fs->sent);
	risky("msgsnd 4000 bytes until it fails", do_msgsnd, &len4000, 20);
	extra += fs->sent;
	risky("semop SEM_UNDO, 8 new undo records", do_undo, NULL, 30);
	risky("40 blocking semop callers (waiter slots)", do_sem_waiters, NULL, 30);
	risky("10 blocking msgrcv callers (waiter slots)", do_msg_waiters, NULL, 30);
	risky("shmat of an existing segment", do_shmat, &zero, 10);
	risky("shmat x300 (attachment slots)", do_shmat, &one, 20);
	st = in_child(do_shm_touch, NULL, 10);
	printf("  %-48s %s%s\n", "first touch of a data page never touched",
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? "SIGBUS" : stname(st),
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? " (documented: README, Differences)" : "");
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGBUS)
		T_FAIL("[full fs] shm first touch: %s", stname(st));
	risky("nothing stored before is lost", do_verify, &extra, 20);
	char f[128];
	snprintf(f, sizeof f, "%s/filler", g_mnt);
	unlink(f);
	risky("after the filler is removed, everything works", do_after, NULL, 20);
	if (g_sigbus_fail)
		printf("%d call(s) got SIGBUS on the full filesystem (see FAIL lines)\n", g_sigbus_fail);
	return 0;
}

/* Under ASan: a SIGBUS must kill the process (the signal is what is checked
 * and reported), not be turned into a report and exit 1. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_sigbus=0";
}

int main(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (geteuid() != 0) {
		printf("test_limits_full needs root (IPC limits in a fresh IPC namespace, a tmpfs mount): skipped\n");
		return 77;
	}
	g_pagesz = sysconf(_SC_PAGESIZE);
	t_setup(280);
	if (oracle_init() != 0)
		return 1;
	atexit(unmount_all);
	for (int i = 0; i < 7; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/sys/kernel/%s", limit_files[i]);
		FILE *f = fopen(p, "r");
		if (!f || !fgets(g_limits[i], sizeof g_limits[i], f)) {
			fprintf(stderr, "cannot read %s\n", p);
			return 1;
		}
		fclose(f);
	}
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		alarm(5);
		_exit(unshare(CLONE_NEWIPC) == 0 && msgget(IPC_PRIVATE, 0600) >= 0 ? 0 : 1);
	}
	int st;
	waitpid(p, &st, 0);
	int part1 = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!part1)
		printf("part 1 skipped: no fresh IPC namespace (unshare(CLONE_NEWIPC))\n");
	for (size_t i = 0; part1 && i < sizeof scenarios / sizeof scenarios[0]; i++) {
		g_sc = &scenarios[i];
		run_sides(side, 0x1f000000u, 30);
		compare_diff(g_sc->name);
	}
	int r = full_fs();
	unmount_all();
	int d = oracle_done();
	return d ? d : (r == 77 && !part1) ? 77 : 0;
}

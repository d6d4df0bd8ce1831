/*
 * test_msg_ctl.c - svipc's msqid_ds bookkeeping and msgctl/permission rules.
 *
 * Part 1 (any user): every msqid_ds field after a sequence of operations:
 * msg_stime/msg_rtime/msg_ctime set at the right moments (and only then),
 * msg_lspid/msg_lrpid naming the process that did it (forked children for
 * some), msg_qnum/msg_cbytes accounting, the default msg_qbytes, IPC_SET
 * field rules, IPC_INFO/MSG_INFO exact counts in a private namespace, and
 * the msgmni/msgmax namespace limits.
 *
 * Part 2 (root only, else the test ends with 77 = skipped when part 1
 * passed): children that drop to uid/gid 65534 get EPERM for IPC_SET and
 * IPC_RMID on queues they neither own nor created, EACCES for msgsnd/msgrcv/
 * IPC_STAT/msgget without the permission, EPERM raising msg_qbytes above
 * msgmnb; the owner and the creator may IPC_SET.
 *
 * The expected values were checked against the kernel (test_msg_oracle runs
 * the same rules against it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <grp.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define NW IPC_NOWAIT
#define NOBODY 65534

static long g_msgmax, g_msgmnb, g_msgmni;
static int g_checks;

struct mbuf {
	long mtype;
	char mtext[256];
};

/* Counted wrappers: every check in this file goes through these. */
#define C_EQ(a, b)                                                                 \
	do {                                                                       \
		g_checks++;                                                        \
		T_EQ(a, b);                                                        \
	} while (0)
#define C_ERR(e, err)                                                              \
	do {                                                                       \
		g_checks++;                                                        \
		T_ERR(e, err);                                                     \
	} while (0)
#define C_ASSERT(c)                                                                \
	do {                                                                       \
		g_checks++;                                                        \
		T_ASSERT(c);                                                       \
	} while (0)
#define C_OK(e) (g_checks++, (int)T_OK(e))

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

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sleeps into the next second (plus a little), so timestamps can differ. */
static void next_second(void)
{
	time_t t = time(NULL);
	while (time(NULL) == t)
		sleep_ms(5);
	sleep_ms(20);
}

static int snd(int q, long type, size_t len, int flg)
{
	struct mbuf m;
	m.mtype = type;
	memset(m.mtext, (int)('a' + type % 26), sizeof m.mtext);
	return svipc_msgsnd(q, &m, len, flg);
}

static struct msqid_ds st(int q)
{
	struct msqid_ds d;
	memset(&d, 0x5a, sizeof d);
	C_OK(svipc_msgctl(q, IPC_STAT, &d));
	return d;
}

/* t lies in [lo, hi] (hi + 1: a fine clock may be a tick ahead of time()). */
#define C_WITHIN(t, lo, hi)                                                        \
	do {                                                                       \
		g_checks++;                                                        \
		if ((t) < (lo) || (t) > (hi) + 1)                                  \
			T_FAIL("%s = %lld not within [%lld, %lld]", #t, (long long)(t), \
			       (long long)(lo), (long long)(hi));                 \
	} while (0)

static int wait_child(pid_t p)
{
	int s;
	while (waitpid(p, &s, 0) == -1 && errno == EINTR)
		;
	return WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
}

/* Runs fn in a child; the child's failed checks fail the test. */
static void in_child(const char *what, void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		alarm(5);
		t_failures = 0;
		g_checks = 0;
		fn(arg);
		fflush(NULL);
		_exit(t_failures ? 100 : (g_checks > 99 ? 99 : g_checks));
	}
	int rc = wait_child(p);
	if (rc >= 100)
		T_FAIL("child '%s': %s", what, rc == 100 ? "checks failed (see above)" : "crashed or hung");
	else
		g_checks += rc;
}

/* ------------------------------------------------------------- part 1 */

static void child_receive(void *arg)
{
	struct mbuf m;
	C_EQ(svipc_msgrcv(*(int *)arg, &m, sizeof m.mtext, 0, NW), 10);
	C_EQ(m.mtype, 1);
}

static void child_send(void *arg)
{
	C_OK(snd(*(int *)arg, 9, 7, NW));
}

static void child_send_fails(void *arg)
{
	C_ERR(snd(*(int *)arg, 0, 7, NW), EINVAL);
}

static void test_fields_and_times(void)
{
	struct msqid_ds d, prev;
	struct mbuf m;
	pid_t me = getpid();

	time_t t0 = time(NULL);
	int q = C_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0640));
	time_t t1 = time(NULL);
	d = st(q);
	C_EQ(d.msg_perm.__key, IPC_PRIVATE);
	C_EQ(d.msg_perm.uid, geteuid());
	C_EQ(d.msg_perm.gid, getegid());
	C_EQ(d.msg_perm.cuid, geteuid());
	C_EQ(d.msg_perm.cgid, getegid());
	C_EQ(d.msg_perm.mode, 0640);
	C_EQ(d.msg_qnum, 0);
	C_EQ(d.__msg_cbytes, 0);
	C_EQ(d.msg_qbytes, g_msgmnb);
	C_EQ(d.msg_lspid, 0);
	C_EQ(d.msg_lrpid, 0);
	C_EQ(d.msg_stime, 0);
	C_EQ(d.msg_rtime, 0);
	C_WITHIN(d.msg_ctime, t0, t1);
	prev = d;

	/* second 1: a send sets stime and lspid, nothing else's time */
	next_second();
	t0 = time(NULL);
	C_OK(snd(q, 1, 10, NW));
	t1 = time(NULL);
	d = st(q);
	C_WITHIN(d.msg_stime, t0, t1);
	C_ASSERT(d.msg_stime > prev.msg_ctime);
	C_EQ(d.msg_ctime, prev.msg_ctime);
	C_EQ(d.msg_rtime, 0);
	C_EQ(d.msg_lspid, me);
	C_EQ(d.msg_lrpid, 0);
	C_EQ(d.msg_qnum, 1);
	C_EQ(d.__msg_cbytes, 10);
	/* failures in this second change nothing */
	struct msqid_ds bad = d;
	bad.msg_perm.uid = (uid_t)-1;
	C_ERR(svipc_msgctl(q, IPC_SET, &bad), EINVAL);
	C_ERR(svipc_msgrcv(q, &m, 2, 0, NW), E2BIG);
	C_ERR(svipc_msgrcv(q, &m, 64, 5, NW), ENOMSG);
	C_EQ(svipc_msgrcv(q, &m, 64, 0, NW | MSG_COPY), 10);
	d = st(q);
	C_EQ(d.msg_ctime, prev.msg_ctime);
	C_EQ(d.msg_rtime, 0);
	C_EQ(d.msg_lrpid, 0);
	C_EQ(d.msg_qnum, 1);
	C_EQ(d.__msg_cbytes, 10);
	C_EQ(d.msg_perm.uid, geteuid());
	prev = d;

	/* second 2: a child receives: rtime and lrpid (the child's pid) */
	next_second();
	t0 = time(NULL);
	snd(q, 1, 0, NW); /* keep stime's second apart: this send is in second 2 */
	fflush(NULL);
	pid_t c = fork();
	if (c == 0) {
		t_failures = 0;
		child_receive(&q);
		_exit(t_failures ? 1 : 0);
	}
	if (wait_child(c) != 0)
		T_FAIL("receiving child failed");
	t1 = time(NULL);
	d = st(q);
	C_EQ(d.msg_lrpid, c);
	C_EQ(d.msg_lspid, me);
	C_WITHIN(d.msg_rtime, t0, t1);
	C_WITHIN(d.msg_stime, t0, t1);
	C_EQ(d.msg_ctime, prev.msg_ctime);
	C_EQ(d.msg_qnum, 1);
	C_EQ(d.__msg_cbytes, 0);
	prev = d;
	/* failed sends (bad mtype; a child's) and failed receives leave it all */
	C_ERR(snd(q, 0, 3, NW), EINVAL);
	C_ERR(snd(q, 1, (size_t)g_msgmax + 1, NW), EINVAL);
	in_child("failing send", child_send_fails, &q);
	C_ERR(svipc_msgrcv(q, &m, 64, 42, NW), ENOMSG);
	C_EQ(svipc_msgrcv(q, &m, 64, 0, NW | MSG_COPY), 0);
	d = st(q);
	C_EQ(d.msg_lspid, me);
	C_EQ(d.msg_lrpid, c);
	C_EQ(d.msg_stime, prev.msg_stime);
	C_EQ(d.msg_rtime, prev.msg_rtime);
	C_EQ(d.msg_ctime, prev.msg_ctime);
	C_EQ(d.msg_qnum, 1);

	/* second 3: IPC_SET sets ctime only; IPC_STAT sets nothing */
	next_second();
	t0 = time(NULL);
	d.msg_perm.mode = 0600;
	C_OK(svipc_msgctl(q, IPC_SET, &d));
	t1 = time(NULL);
	d = st(q);
	C_WITHIN(d.msg_ctime, t0, t1);
	C_ASSERT(d.msg_ctime > prev.msg_ctime);
	C_EQ(d.msg_stime, prev.msg_stime);
	C_EQ(d.msg_rtime, prev.msg_rtime);
	C_EQ(d.msg_perm.mode, 0600);
	prev = d;
	d = st(q);
	C_EQ(d.msg_ctime, prev.msg_ctime);

	/* a child's send: lspid is the child */
	fflush(NULL);
	c = fork();
	if (c == 0) {
		t_failures = 0;
		child_send(&q);
		_exit(t_failures ? 1 : 0);
	}
	if (wait_child(c) != 0)
		T_FAIL("sending child failed");
	d = st(q);
	C_EQ(d.msg_lspid, c);
	C_EQ(d.msg_qnum, 2);
	C_EQ(d.__msg_cbytes, 7);
	C_EQ(d.msg_ctime, prev.msg_ctime);

	/* this process receives: lrpid back to us; truncation removes all bytes */
	C_EQ(svipc_msgrcv(q, &m, 64, 0, NW), 0);
	C_EQ(svipc_msgrcv(q, &m, 3, 0, NW | MSG_NOERROR), 3);
	d = st(q);
	C_EQ(d.msg_lrpid, me);
	C_EQ(d.msg_qnum, 0);
	C_EQ(d.__msg_cbytes, 0);
	C_OK(svipc_msgctl(q, IPC_RMID, NULL));
	C_ERR(svipc_msgctl(q, IPC_STAT, &d), EINVAL);
}

static void test_accounting_and_set(void)
{
	struct msqid_ds d;
	struct mbuf m;
	key_t key = 0x5eed0001;
	int q = C_OK(svipc_msgget(key, IPC_CREAT | IPC_EXCL | 0604));
	d = st(q);
	C_EQ(d.msg_perm.__key, key);
	C_EQ(d.msg_perm.mode, 0604);
	long bytes = 0;
	for (int i = 0; i < 20; i++) {
		C_OK(snd(q, 1 + i % 3, (size_t)i * 5, NW));
		bytes += i * 5;
	}
	d = st(q);
	C_EQ(d.msg_qnum, 20);
	C_EQ(d.__msg_cbytes, bytes);
	C_EQ(svipc_msgrcv(q, &m, 200, 2, NW), 5); /* first of type 2: i = 1 */
	C_EQ(svipc_msgrcv(q, &m, 200, -1, NW), 0); /* first of type 1: i = 0 */
	C_EQ(svipc_msgrcv(q, &m, 4, 3, NW | MSG_NOERROR), 4); /* i = 2, 10 bytes */
	bytes -= 5 + 0 + 10;
	d = st(q);
	C_EQ(d.msg_qnum, 17);
	C_EQ(d.__msg_cbytes, bytes);

	/* IPC_SET: mode's low 9 bits, uid, gid, qbytes; nothing else */
	struct msqid_ds s = d;
	s.msg_perm.mode = 07777;
	s.msg_perm.uid = 1234;
	s.msg_perm.gid = 5678;
	s.msg_perm.cuid = 1;
	s.msg_perm.cgid = 1;
	s.msg_perm.__key = 1;
	s.msg_qbytes = 1000;
	s.msg_qnum = 1;
	s.__msg_cbytes = 1;
	s.msg_lspid = 1;
	s.msg_lrpid = 1;
	s.msg_stime = 1;
	s.msg_rtime = 1;
	C_OK(svipc_msgctl(q, IPC_SET, &s));
	d = st(q);
	C_EQ(d.msg_perm.mode, 0777);
	C_EQ(d.msg_perm.uid, 1234);
	C_EQ(d.msg_perm.gid, 5678);
	C_EQ(d.msg_perm.cuid, geteuid());
	C_EQ(d.msg_perm.cgid, getegid());
	C_EQ(d.msg_perm.__key, key);
	C_EQ(d.msg_qbytes, 1000);
	C_EQ(d.msg_qnum, 17);
	C_EQ(d.__msg_cbytes, bytes);
	C_EQ(d.msg_lspid, getpid());
	C_EQ(d.msg_lrpid, getpid());
	C_ASSERT(d.msg_stime > 1000);
	C_ASSERT(d.msg_rtime > 1000);
	/* an invalid gid fails as a whole: nothing changes */
	s = d;
	s.msg_perm.mode = 0600;
	s.msg_qbytes = 2000;
	s.msg_perm.gid = (gid_t)-1;
	C_ERR(svipc_msgctl(q, IPC_SET, &s), EINVAL);
	d = st(q);
	C_EQ(d.msg_perm.mode, 0777);
	C_EQ(d.msg_qbytes, 1000);
	C_EQ(d.msg_perm.gid, 5678);
	/* msgget on the key still finds it; key survives IPC_SET */
	C_EQ(svipc_msgget(key, 0), q);
	C_OK(svipc_msgctl(q, IPC_RMID, NULL));
	C_ERR(svipc_msgget(key, 0), ENOENT);
}

static void test_info(void)
{
	struct msginfo mi;
	struct svipc_limits lim;
	C_OK(svipc_limits_get(&lim));
	C_EQ(lim.msgmax, g_msgmax);
	C_EQ(lim.msgmnb, g_msgmnb);
	C_EQ(lim.msgmni, g_msgmni);

	/* a fresh namespace: nothing in use */
	memset(&mi, 0x5a, sizeof mi);
	C_EQ(svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi), 0);
	C_EQ(mi.msgpool, 0);
	C_EQ(mi.msgmap, 0);
	C_EQ(mi.msgtql, 0);
	C_EQ(mi.msgmax, g_msgmax);
	C_EQ(mi.msgmnb, g_msgmnb);
	C_EQ(mi.msgmni, g_msgmni);

	int q[3];
	for (int i = 0; i < 3; i++)
		q[i] = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
	C_OK(snd(q[0], 1, 10, NW));
	C_OK(snd(q[0], 1, 20, NW));
	C_OK(snd(q[2], 1, 0, NW));
	C_OK(snd(q[2], 1, 33, NW));
	memset(&mi, 0x5a, sizeof mi);
	int top = C_OK(svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi));
	C_EQ(mi.msgpool, 3);
	C_EQ(mi.msgmap, 4);
	C_EQ(mi.msgtql, 63);
	/* the top index is in use, the one above it is not, and MSG_STAT over
	 * 0..top finds exactly our three queues */
	struct msqid_ds d;
	int found = 0, used = 0;
	for (int i = 0; i <= top; i++) {
		int id = svipc_msgctl(i, MSG_STAT, &d);
		if (id >= 0) {
			used++;
			for (int j = 0; j < 3; j++)
				found += id == q[j];
		}
	}
	C_EQ(found, 3);
	C_EQ(used, 3);
	C_ASSERT(svipc_msgctl(top, MSG_STAT, &d) >= 0);
	C_ERR(svipc_msgctl(top + 1, MSG_STAT, &d), EINVAL);
	memset(&mi, 0x5a, sizeof mi);
	C_EQ(svipc_msgctl(0, IPC_INFO, (struct msqid_ds *)(void *)&mi), top);
	C_EQ(mi.msgmax, g_msgmax);
	C_EQ(mi.msgmnb, g_msgmnb);
	C_EQ(mi.msgmni, g_msgmni);

	/* receive and remove: the counts follow */
	struct mbuf m;
	C_EQ(svipc_msgrcv(q[2], &m, sizeof m.mtext, 0, NW), 0);
	C_OK(svipc_msgctl(q[0], IPC_RMID, NULL));
	memset(&mi, 0x5a, sizeof mi);
	C_OK(svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi));
	C_EQ(mi.msgpool, 2);
	C_EQ(mi.msgmap, 1);
	C_EQ(mi.msgtql, 33);

	/* msgmni: the namespace's limit on queues (ENOSPC) */
	struct svipc_limits nl;
	memset(&nl, 0, sizeof nl);
	nl.msgmni = 4;
	if (svipc_limits_set(&nl) == 0) {
		int a = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
		int b = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
		C_ERR(svipc_msgget(IPC_PRIVATE, 0600), ENOSPC);
		C_ERR(svipc_msgget(0x5eed0002, IPC_CREAT | 0600), ENOSPC);
		C_ERR(svipc_msgget(0x5eed0002, 0600), ENOENT);
		C_OK(svipc_msgctl(0, IPC_INFO, (struct msqid_ds *)(void *)&mi));
		C_EQ(mi.msgmni, 4);
		C_OK(svipc_msgctl(a, IPC_RMID, NULL));
		int c = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
		C_OK(svipc_msgctl(b, IPC_RMID, NULL));
		C_OK(svipc_msgctl(c, IPC_RMID, NULL));
		/* msgmax: the namespace's largest message (EINVAL above it) */
		nl.msgmni = (uint64_t)g_msgmni;
		nl.msgmax = 100;
		C_OK(svipc_limits_set(&nl));
		C_OK(snd(q[1], 1, 100, NW));
		C_ERR(snd(q[1], 1, 101, NW), EINVAL);
		C_OK(svipc_msgctl(0, IPC_INFO, (struct msqid_ds *)(void *)&mi));
		C_EQ(mi.msgmax, 100);
		nl.msgmax = (uint64_t)g_msgmax;
		C_OK(svipc_limits_set(&nl));
		C_OK(svipc_limits_get(&lim));
		C_EQ(lim.msgmax, g_msgmax);
		C_EQ(lim.msgmni, g_msgmni);
	} else {
		T_FAIL("svipc_limits_set on our own namespace: %s", strerror(errno));
	}
	C_OK(svipc_msgctl(q[1], IPC_RMID, NULL));
	C_OK(svipc_msgctl(q[2], IPC_RMID, NULL));
}

/* ------------------------------------------------------------- part 2 */

static key_t KA = 0x5eed1001, KB = 0x5eed1002;

struct ids {
	int a, b, c, r, w, idx_a;
	int made, made_key;
};

static void drop(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		T_FAIL("cannot drop to uid %d: %s", NOBODY, strerror(errno));
		fflush(NULL);
		_exit(100);
	}
}

static void child_stranger(void *arg)
{
	struct ids *I = arg;
	struct msqid_ds d;
	struct mbuf m;
	drop();
	/* a: root's 0600 queue with one message */
	memset(&d, 0, sizeof d);
	d.msg_perm.mode = 0666;
	d.msg_qbytes = (msglen_t)g_msgmnb;
	C_ERR(svipc_msgctl(I->a, IPC_SET, &d), EPERM);
	C_ERR(svipc_msgctl(I->a, IPC_RMID, NULL), EPERM);
	C_ERR(snd(I->a, 1, 1, NW), EACCES);
	C_ERR(svipc_msgrcv(I->a, &m, 64, 0, NW), EACCES);
	C_ERR(svipc_msgrcv(I->a, &m, 64, 0, NW | MSG_COPY), EACCES);
	C_ERR(svipc_msgctl(I->a, IPC_STAT, &d), EACCES);
	C_ERR(svipc_msgctl(I->idx_a, MSG_STAT, &d), EACCES);
	C_EQ(svipc_msgctl(I->idx_a, MSG_STAT_ANY, &d), I->a);
	C_ERR(svipc_msgget(KA, 0600), EACCES);
	C_ERR(svipc_msgget(KA, 0400), EACCES);
	C_ERR(svipc_msgget(KA, 0200), EACCES);
	C_ERR(svipc_msgget(KA, IPC_CREAT | 0600), EACCES);
	C_ERR(svipc_msgget(KA, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	C_EQ(svipc_msgget(KA, 0), I->a); /* no access asked: the kernel allows it */
	/* b: root's 0666 queue: send/receive/stat yes, control no */
	C_OK(snd(I->b, 2, 2, NW));
	C_EQ(svipc_msgrcv(I->b, &m, 64, 2, NW), 2);
	C_OK(svipc_msgctl(I->b, IPC_STAT, &d));
	d.msg_perm.mode = 0600;
	C_ERR(svipc_msgctl(I->b, IPC_SET, &d), EPERM);
	C_ERR(svipc_msgctl(I->b, IPC_RMID, NULL), EPERM);
	C_EQ(svipc_msgget(KB, 0666), I->b);
	/* r: 0644 read-only for us; w: 0622 write-only for us */
	C_ERR(snd(I->r, 1, 1, NW), EACCES);
	C_EQ(svipc_msgrcv(I->r, &m, 64, 0, NW), 1);
	C_OK(svipc_msgctl(I->r, IPC_STAT, &d));
	C_OK(snd(I->w, 1, 1, NW));
	C_ERR(svipc_msgrcv(I->w, &m, 64, 0, NW), EACCES);
	C_ERR(svipc_msgctl(I->w, IPC_STAT, &d), EACCES);
	/* c: given to us (owner) with mode 0600 */
	C_OK(svipc_msgctl(I->c, IPC_STAT, &d));
	C_EQ(d.msg_perm.uid, NOBODY);
	C_EQ(d.msg_perm.cuid, 0);
	d.msg_qbytes = (msglen_t)g_msgmnb + 1;
	C_ERR(svipc_msgctl(I->c, IPC_SET, &d), EPERM); /* above msgmnb, unprivileged */
	d.msg_perm.mode = 0640;
	C_ERR(svipc_msgctl(I->c, IPC_SET, &d), EPERM);
	C_OK(svipc_msgctl(I->c, IPC_STAT, &d));
	C_EQ(d.msg_perm.mode, 0600); /* the failed IPC_SET changed nothing */
	C_EQ(d.msg_qbytes, g_msgmnb);
	d.msg_qbytes = 100;
	d.msg_perm.mode = 0640;
	d.msg_perm.gid = NOBODY;
	C_OK(svipc_msgctl(I->c, IPC_SET, &d));
	d.msg_qbytes = (msglen_t)g_msgmnb; /* back up to exactly msgmnb: allowed */
	C_OK(svipc_msgctl(I->c, IPC_SET, &d));
	C_OK(svipc_msgctl(I->c, IPC_STAT, &d));
	C_EQ(d.msg_perm.mode, 0640);
	C_EQ(d.msg_perm.gid, NOBODY);
	C_EQ(d.msg_qbytes, g_msgmnb);
	/* a queue of our own: uid/cuid/gid/cgid are ours */
	int mine = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
	C_OK(svipc_msgctl(mine, IPC_STAT, &d));
	C_EQ(d.msg_perm.uid, NOBODY);
	C_EQ(d.msg_perm.gid, NOBODY);
	C_EQ(d.msg_perm.cuid, NOBODY);
	C_EQ(d.msg_perm.cgid, NOBODY);
	d.msg_qbytes = (msglen_t)g_msgmnb + 1;
	C_ERR(svipc_msgctl(mine, IPC_SET, &d), EPERM);
	I->made = mine;
	I->made_key = C_OK(svipc_msgget(KB + 1, IPC_CREAT | 0600));
	/* the owner's mode bits apply to the owner: mode 0 locks us out */
	d.msg_qbytes = (msglen_t)g_msgmnb;
	d.msg_perm.mode = 0;
	C_OK(svipc_msgctl(mine, IPC_SET, &d));
	C_ERR(svipc_msgctl(mine, IPC_STAT, &d), EACCES);
	C_ERR(snd(mine, 1, 1, NW), EACCES);
}

/* After root took ownership of the child's queue: the creator keeps control. */
static void child_creator(void *arg)
{
	struct ids *I = arg;
	struct msqid_ds d;
	drop();
	C_OK(svipc_msgctl(I->made, IPC_STAT, &d)); /* creator: owner bits (0600) */
	C_EQ(d.msg_perm.uid, 0);
	C_EQ(d.msg_perm.cuid, NOBODY);
	d.msg_perm.mode = 0640;
	C_OK(svipc_msgctl(I->made, IPC_SET, &d));
	C_OK(svipc_msgctl(I->made, IPC_RMID, NULL));
	C_OK(svipc_msgctl(I->c, IPC_RMID, NULL)); /* owner */
}

static int find_index(int id)
{
	struct msginfo mi;
	struct msqid_ds d;
	int top = svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&mi);
	for (int i = 0; i <= top; i++)
		if (svipc_msgctl(i, MSG_STAT, &d) == id)
			return i;
	return -1;
}

static void test_permissions(void)
{
	static struct ids *I;
	struct msqid_ds d;
	/* shared with the children (they fill in made/made_key) */
	I = mmap(NULL, sizeof *I, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (I == MAP_FAILED) {
		T_FAIL("mmap");
		return;
	}
	I->a = C_OK(svipc_msgget(KA, IPC_CREAT | IPC_EXCL | 0600));
	I->b = C_OK(svipc_msgget(KB, IPC_CREAT | IPC_EXCL | 0666));
	I->c = C_OK(svipc_msgget(IPC_PRIVATE, 0600));
	I->r = C_OK(svipc_msgget(IPC_PRIVATE, 0644));
	I->w = C_OK(svipc_msgget(IPC_PRIVATE, 0622));
	I->idx_a = find_index(I->a);
	C_ASSERT(I->idx_a >= 0);
	C_OK(snd(I->a, 1, 4, NW));
	C_OK(snd(I->r, 1, 1, NW));
	d = st(I->c);
	d.msg_perm.uid = NOBODY;
	C_OK(svipc_msgctl(I->c, IPC_SET, &d));
	I->made = I->made_key = -1;

	in_child("stranger/owner/creator", child_stranger, I);

	/* nothing the stranger tried changed root's queue */
	d = st(I->a);
	C_EQ(d.msg_perm.mode, 0600);
	C_EQ(d.msg_perm.uid, 0);
	C_EQ(d.msg_qnum, 1);
	C_EQ(d.msg_lrpid, 0);
	d = st(I->w);
	C_EQ(d.msg_qnum, 1);
	/* root may do anything to the child's locked-out queue */
	if (I->made >= 0) {
		d = st(I->made);
		C_EQ(d.msg_perm.mode, 0);
		d.msg_perm.uid = 0;
		d.msg_perm.gid = 0;
		d.msg_perm.mode = 0600;
		C_OK(svipc_msgctl(I->made, IPC_SET, &d));
		in_child("creator", child_creator, I);
		C_ERR(svipc_msgctl(I->made, IPC_STAT, &d), EINVAL);
	} else {
		T_FAIL("the child could not create a queue");
	}
	C_ERR(svipc_msgctl(I->c, IPC_STAT, &d), EINVAL);
	if (I->made_key >= 0) {
		C_EQ(svipc_msgget(KB + 1, 0600), I->made_key); /* root: CAP_IPC_OWNER */
		C_OK(svipc_msgctl(I->made_key, IPC_RMID, NULL));
	}
	C_OK(svipc_msgctl(I->a, IPC_RMID, NULL));
	C_OK(svipc_msgctl(I->b, IPC_RMID, NULL));
	C_OK(svipc_msgctl(I->r, IPC_RMID, NULL));
	C_OK(svipc_msgctl(I->w, IPC_RMID, NULL));
}

int main(void)
{
	t_setup(30);
	g_msgmax = read_proc("/proc/sys/kernel/msgmax");
	g_msgmnb = read_proc("/proc/sys/kernel/msgmnb");
	g_msgmni = read_proc("/proc/sys/kernel/msgmni");
	if (g_msgmax <= 0 || g_msgmnb <= 0 || g_msgmni <= 0) {
		fprintf(stderr, "cannot read /proc/sys/kernel/msg*\n");
		return 1;
	}
	int root = geteuid() == 0;
	/* children that drop to 65534 must reach the namespace (mode like /dev/shm) */
	if (root && chmod(t_dir, 01777) != 0)
		perror("chmod");

	test_fields_and_times();
	test_accounting_and_set();
	test_info();
	if (root)
		test_permissions();
	printf("%d checks\n", g_checks);
	if (!root && !t_failures) {
		printf("not root: permission part skipped\n");
		return 77;
	}
	return t_done();
}

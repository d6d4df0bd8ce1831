/* test_msg_review.c - regressions for defects found in review (hand-off accounting, RMID vs growth). */
#include "svipc.h"
#include "t.h"
#include "dead_holder.h"
#include "inspect.h"
#include "msg.h"

#include <sys/wait.h>
#include <time.h>

/*
 * A message handed to a blocked receiver is never queued (the kernel's
 * pipelined_send): with msg_qbytes 100, a second 100-byte IPC_NOWAIT send
 * right after the hand-off still fits. Returns send2's result and errno.
 */
static void handoff(const struct msg_impl *a, int *r2, int *e2, unsigned long *qnum)
{
	int id = a->get(IPC_PRIVATE, 0600);
	struct msqid_ds ds;
	a->ctl(id, IPC_STAT, &ds);
	ds.msg_qbytes = 100;
	a->ctl(id, IPC_SET, &ds);
	pid_t p = fork();
	if (p == 0) {
		alarm(10);
		struct { long t; char b[200]; } m;
		_exit(a->rcv(id, &m, 200, 0, 0) == 100 ? 0 : 1);
	}
	usleep(200000); /* the receiver blocks */
	struct { long t; char b[100]; } m = { 1, { 0 } };
	T_OK(a->snd(id, &m, 100, IPC_NOWAIT));
	errno = 0;
	*r2 = a->snd(id, &m, 100, IPC_NOWAIT);
	*e2 = errno;
	int st;
	waitpid(p, &st, 0);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	a->ctl(id, IPC_STAT, &ds);
	*qnum = ds.msg_qnum;
	a->ctl(id, IPC_RMID, NULL);
}

/*
 * IPC_RMID racing an IPC_SET that moves the queue to a larger file: after
 * IPC_RMID returned 0, the id is gone for everyone, including a process
 * that has the (moved) queue mapped.
 */
static void rmid_races_growth(void)
{
	struct svipc_limits lim;
	T_OK(svipc_limits_get(&lim));
	int64_t end = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + 3;
	int trials = 0;
	for (;; trials++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec >= end)
			break;
		lim.msgmnb = 16384;
		T_OK(svipc_limits_set(&lim));
		int id = (int)T_OK(svipc_msgget(IPC_PRIVATE, 0600));
		lim.msgmnb = 1u << 20;
		T_OK(svipc_limits_set(&lim));
		struct { long t; char b[8]; } m = { 1, { 0 } };
		for (int i = 0; i < 50; i++)
			svipc_msgsnd(id, &m, 0, IPC_NOWAIT);
		struct msqid_ds ds;
		T_OK(svipc_msgctl(id, IPC_STAT, &ds));
		int pfd[2];
		T_OK(pipe(pfd));
		pid_t b = fork();
		if (b == 0) {
			alarm(10);
			char c;
			struct msqid_ds d2;
			svipc_msgctl(id, IPC_STAT, &d2); /* map it, as the remover */
			if (read(pfd[0], &c, 1) != 1)
				_exit(2);
			_exit(svipc_msgctl(id, IPC_RMID, NULL) == 0 ? 0 : 1);
		}
		ds.msg_qbytes = 20000 + (unsigned)trials;
		T_ASSERT(write(pfd[1], "x", 1) == 1);
		for (volatile int spin = 0; spin < (trials % 50) * 200; spin++)
			;
		svipc_msgctl(id, IPC_SET, &ds); /* 0, or EINVAL/EIDRM if removed first */
		int st;
		waitpid(b, &st, 0);
		close(pfd[0]);
		close(pfd[1]);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		T_ERR(svipc_msgsnd(id, &m, 0, IPC_NOWAIT), EINVAL);
		T_ERR(svipc_msgctl(id, IPC_STAT, &ds), EINVAL);
		if (t_failures)
			break;
	}
	fprintf(stderr, "rmid_races_growth: %d trials\n", trials);
}

static void count_waiters(void *arg, const struct svipc_waiter_info *w)
{
	(void)w;
	++*(int *)arg;
}

/*
 * Receivers killed while blocked: the sends that pass over them free their
 * slots at once. They used to stay until a quiet second, and every send
 * asked the kernel about each of them: 11 M pairs/s fell to 21 k.
 */
static void dead_receivers_reaped(void)
{
	enum { NDEAD = 40 };
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	pid_t kids[NDEAD];
	for (int i = 0; i < NDEAD; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct { long t; char c[8]; } m;
			svipc_msgrcv(q, &m, sizeof m.c, 0, 0);
			_exit(0);
		}
	}
	struct svipc_obj_info info;
	int n = 0;
	for (int tries = 0; tries < 5000 && n < NDEAD; tries++) {
		n = 0;
		if (svipc__inspect(SVIPC_MSG, q, &info, count_waiters, &n) < 0)
			break;
		usleep(1000);
	}
	T_EQ(n, NDEAD);
	for (int i = 0; i < NDEAD; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	struct { long t; char c[8]; } m = { 1, "x" };
	for (int i = 0; i < 3; i++) {
		T_OK(svipc_msgsnd(q, &m, sizeof m.c, 0));
		T_OK(svipc_msgrcv(q, &m, sizeof m.c, 0, IPC_NOWAIT));
	}
	n = 0;
	T_EQ(svipc__inspect(SVIPC_MSG, q, &info, count_waiters, &n), 0);
	T_EQ(n, 0);
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
}

/* A dead sender's call: 'A' committed, never offered (then it dies with the lock). */
static void committed_not_offered(struct svipc_obj *o)
{
	struct msg_queue *q = (struct msg_queue *)o;
	struct mq m;
	if (svipc__mq_view(&m, q, o->size) < 0)
		_exit(4);
	uint32_t h = svipc__mq_alloc_msg(&m, 16);
	if (!h)
		_exit(5);
	H(&m, h)->type = 1;
	H(&m, h)->seq = q->next_seq++;
	memcpy(H(&m, h)->data, "A from the dead", 16);
	STORE(&H(&m, h)->state, M_COMMITTED);
}

/*
 * A sender killed between its commit and its hand-off leaves a committed
 * message in no index, its lock held, while a receiver of that type is
 * blocked. Recovery must give the receiver that message: the next send's
 * newer one must not overtake it (found by the 600 s torture).
 */
static void dead_sender_before_handoff(void)
{
	int id = (int)T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	struct tm16 {
		long t;
		char b[16];
	};
	pid_t r = fork();
	if (r == 0) {
		alarm(10);
		struct tm16 m = { 0, { 0 } };
		long n = svipc_msgrcv(id, &m, sizeof m.b, 1, 0);
		_exit(n != sizeof m.b ? 1 : m.b[0] == 'A' ? 0 : m.b[0] == 'B' ? 2 : 3);
	}
	usleep(200000); /* the receiver blocks */
	t_die_holding(SVIPC_MSG, id, committed_not_offered);
	struct tm16 b = { 1, "B, sent after" };
	T_OK(svipc_msgsnd(id, &b, sizeof b.b, 0)); /* takes the lock over: recovery */
	int st;
	waitpid(r, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("the blocked receiver got %s", WIFEXITED(st) && WEXITSTATUS(st) == 2 ?
		       "the newer message first" : "no message, or a wrong one");
	struct tm16 rest;
	T_EQ(svipc_msgrcv(id, &rest, sizeof rest.b, 0, IPC_NOWAIT), 16);
	T_EQ(rest.b[0], 'B');
	T_ERR(svipc_msgrcv(id, &rest, sizeof rest.b, 0, IPC_NOWAIT), ENOMSG);
	T_OK(svipc_msgctl(id, IPC_RMID, NULL));
}

int main(void)
{
	t_setup(60);
	const struct msg_impl k = T_KERNEL_IMPL;
	const struct msg_impl s = T_SVIPC_IMPL;
	int kr, ke, sr, se;
	unsigned long kq, sq;
	handoff(&k, &kr, &ke, &kq);
	handoff(&s, &sr, &se, &sq);
	T_EQ(sr, kr);
	T_EQ(se, ke);
	T_EQ(sq, kq);
	rmid_races_growth();
	dead_receivers_reaped();
	dead_sender_before_handoff();
	return t_done();
}

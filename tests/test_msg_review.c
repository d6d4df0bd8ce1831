/* test_msg_review.c - regressions for defects found in review (hand-off accounting, RMID vs growth). */
#include "svipc.h"
#include "t.h"
#include "inspect.h"

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
	return t_done();
}

/*
 * Load: 64 processes on one queue and on one semaphore set, and thousands
 * of objects in one namespace.
 *
 * Asserted: every message sent is received once, each sender's messages in
 * order; a receiver of one rare type among 63 busy processes gets every
 * one of its messages (no starvation); 64 processes taking a semaphore as
 * a mutex never overlap and all finish. Printed, never asserted (a noisy
 * 2-core machine): throughput, the rare receiver's worst wait, fairness,
 * and how lookup by key and by id grows with the number of objects, for
 * svipc and the kernel (in a fresh IPC namespace of its own).
 */
#include "t.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define NPROC 64

struct shared {
	long sent[NPROC];      /* per sender: messages sent */
	long got[NPROC];       /* per sender: messages received (from its seq) */
	long last_seq[NPROC][NPROC]; /* [receiver][sender]: the last seq seen, for order */
	long order_errors;
	long rare_got;
	double rare_worst_ms;
	long in_cs, cs_errors, cs_total;
	int ready, go;
	long done_at_first; /* sections done by all when the first process finished */
	double finish_ms[NPROC];
};

static struct shared *sh;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct lmsg {
	long type;
	int sender;
	long seq;
	double sent_ms;
};

#define BODY (sizeof(struct lmsg) - sizeof(long))

enum { SENDERS = 31, RECEIVERS = 31, PER_SENDER = 3000, RARE = 200, RARE_TYPE = 99 };

static void queue_load(void)
{
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	pid_t pids[NPROC];
	int n = 0;
	double t0 = now_ms();
	/* 31 senders of types 1..4, one sender of the rare type, 31 receivers of any
	 * type but the rare one, one receiver of the rare type only. */
	for (int s = 0; s < SENDERS + 1; s++) {
		if ((pids[n++] = fork()) == 0) {
			int rare = s == SENDERS;
			int count = rare ? RARE : PER_SENDER;
			for (long i = 0; i < count; i++) {
				struct lmsg m = { rare ? RARE_TYPE : 1 + s % 4, s, i, now_ms() };
				if (svipc_msgsnd(q, &m, BODY, 0) < 0)
					_exit(1);
				__atomic_add_fetch(&sh->sent[s], 1, __ATOMIC_RELAXED);
				if (rare)
					usleep(500);
			}
			_exit(0);
		}
	}
	for (int r = 0; r < RECEIVERS + 1; r++) {
		if ((pids[n++] = fork()) == 0) {
			int rare = r == RECEIVERS;
			for (;;) {
				struct lmsg m;
				long got = rare ? svipc_msgrcv(q, &m, BODY, RARE_TYPE, 0)
						: svipc_msgrcv(q, &m, BODY, RARE_TYPE, MSG_EXCEPT);
				if (got < 0)
					_exit(errno == EIDRM ? 0 : 1);
				if (m.sender < 0 || m.sender > SENDERS)
					_exit(2);
				if (m.seq <= sh->last_seq[r][m.sender])
					__atomic_add_fetch(&sh->order_errors, 1, __ATOMIC_RELAXED);
				sh->last_seq[r][m.sender] = m.seq;
				__atomic_add_fetch(&sh->got[m.sender], 1, __ATOMIC_RELAXED);
				if (rare) {
					double w = now_ms() - m.sent_ms;
					if (w > sh->rare_worst_ms)
						sh->rare_worst_ms = w;
					if (++sh->rare_got == RARE)
						_exit(0);
				}
			}
		}
	}
	/* Senders end first; then wait until everything was received. */
	for (int i = 0; i < SENDERS + 1; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	long total = (long)SENDERS * PER_SENDER + RARE;
	for (int tries = 0; tries < 60000; tries++) {
		long got = 0;
		for (int s = 0; s <= SENDERS; s++)
			got += __atomic_load_n(&sh->got[s], __ATOMIC_RELAXED);
		if (got >= total)
			break;
		usleep(1000);
	}
	double t1 = now_ms();
	T_OK(svipc_msgctl(q, IPC_RMID, NULL)); /* the receivers end with EIDRM */
	for (int i = SENDERS + 1; i < n; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int s = 0; s <= SENDERS; s++)
		if (sh->got[s] != sh->sent[s])
			T_FAIL("sender %d: %ld sent, %ld received", s, sh->sent[s], sh->got[s]);
	T_EQ(sh->order_errors, 0);
	T_EQ(sh->rare_got, RARE);
	printf("queue, 64 processes: %ld messages in %.0f ms (%.0f k/s); the rare-type receiver got "
	       "%ld of %d, worst wait %.1f ms\n",
	       total, t1 - t0, total / (t1 - t0), sh->rare_got, RARE, sh->rare_worst_ms);
}

enum { ROUNDS = 300 };

/*
 * 64 processes take one semaphore as a mutex (SEM_UNDO), ROUNDS times
 * each, all starting together. Fairness: the share of all sections done
 * when the first process finished (all of them, if perfectly fair), and
 * when the first and the last finished.
 */
static void set_load(const struct sem_impl *im, double *ms, double *first_ms, double *last_ms,
		     double *share_at_first)
{
	int s = T_OK(im->get(IPC_PRIVATE, 1, 0600));
	T_OK(im->ctl(s, 0, SETVAL, 1));
	pid_t pids[NPROC];
	sh->in_cs = sh->cs_errors = sh->cs_total = 0;
	sh->ready = sh->go = 0;
	sh->done_at_first = -1;
	for (int p = 0; p < NPROC; p++) {
		if ((pids[p] = fork()) == 0) {
			struct sembuf down = { 0, -1, SEM_UNDO }, up = { 0, 1, SEM_UNDO };
			__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
			while (!__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST))
				sched_yield();
			for (int i = 0; i < ROUNDS; i++) {
				if (im->op(s, &down, 1) < 0)
					_exit(1);
				if (__atomic_add_fetch(&sh->in_cs, 1, __ATOMIC_SEQ_CST) != 1)
					__atomic_add_fetch(&sh->cs_errors, 1, __ATOMIC_RELAXED);
				sh->cs_total++;
				__atomic_sub_fetch(&sh->in_cs, 1, __ATOMIC_SEQ_CST);
				if (im->op(s, &up, 1) < 0)
					_exit(1);
			}
			long none = -1, done = __atomic_load_n(&sh->cs_total, __ATOMIC_SEQ_CST);
			__atomic_compare_exchange_n(&sh->done_at_first, &none, done, 0,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			sh->finish_ms[p] = now_ms();
			_exit(0);
		}
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < NPROC)
		usleep(1000);
	double t0 = now_ms();
	__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
	for (int p = 0; p < NPROC; p++) {
		int st;
		waitpid(pids[p], &st, 0);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	double t1 = now_ms(), first = t1, last = 0;
	for (int p = 0; p < NPROC; p++) {
		first = sh->finish_ms[p] < first ? sh->finish_ms[p] : first;
		last = sh->finish_ms[p] > last ? sh->finish_ms[p] : last;
	}
	T_EQ(sh->cs_errors, 0);
	T_EQ(sh->cs_total, (long)NPROC * ROUNDS);
	T_EQ(im->ctl(s, 0, GETVAL), 1);
	*ms = t1 - t0, *first_ms = first - t0, *last_ms = last - t0;
	*share_at_first = 100.0 * (double)sh->done_at_first / (NPROC * ROUNDS);
	T_OK(im->ctl(s, 0, IPC_RMID));
}

static void set_loads(void)
{
	const struct sem_impl k = T_KERNEL_SEM, sv = T_SVIPC_SEM;
	const struct sem_impl *im[2] = { &k, &sv };
	printf("set, 64 processes taking a SEM_UNDO mutex %d times each, starting together:\n",
	       ROUNDS);
	for (int i = 0; i < 2; i++) {
		double ms, first, last, share;
		set_load(im[i], &ms, &first, &last, &share);
		printf("  %-6s %d sections in %4.0f ms (%4.0f k/s); first process done at %4.0f ms "
		       "(%3.0f%% of all sections done), last at %4.0f ms\n", im[i]->name,
		       NPROC * ROUNDS, ms, NPROC * ROUNDS / ms, first, share, last);
	}
}

/* Average microseconds of msgget(key) for the newest key and of IPC_STAT by id. */
static void lookup(const struct msg_impl *im, int nobj, double *by_key, double *by_id)
{
	int *ids = malloc(sizeof(int) * (size_t)nobj);
	for (int i = 0; i < nobj; i++)
		ids[i] = im->get(0x10000 + i, IPC_CREAT | 0600);
	int reps = 2000;
	double t0 = now_ms();
	for (int r = 0; r < reps; r++)
		if (im->get(0x10000 + nobj - 1, 0) != ids[nobj - 1])
			T_FAIL("%s: lookup by key found the wrong queue", im->name);
	double t1 = now_ms();
	struct msqid_ds ds;
	for (int r = 0; r < reps; r++)
		im->ctl(ids[(r * 7919) % nobj], IPC_STAT, &ds);
	double t2 = now_ms();
	*by_key = (t1 - t0) * 1e3 / reps;
	*by_id = (t2 - t1) * 1e3 / reps;
	for (int i = 0; i < nobj; i++)
		if (ids[i] >= 0)
			im->ctl(ids[i], IPC_RMID, NULL);
	free(ids);
}

static void lookup_growth(void)
{
	static const int sizes[] = { 10, 100, 1000, 10000 };
	const struct msg_impl k = T_KERNEL_IMPL, s = T_SVIPC_IMPL;
	struct svipc_limits l = { .msgmni = 32768 };
	T_OK(svipc_limits_set(&l));
	printf("lookup, microseconds per call (kernel | svipc):\n");
	printf("  %-8s %-22s %-22s\n", "queues", "msgget(key)", "IPC_STAT(id)");
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		double kk = -1, ki = -1, sk, si;
		int p[2];
		T_OK(pipe(p));
		pid_t pid = fork();
		if (pid == 0) { /* the kernel in an IPC namespace of its own */
			double r[2] = { -1, -1 };
			if (unshare(CLONE_NEWIPC) == 0)
				lookup(&k, sizes[i], &r[0], &r[1]);
			(void)!write(p[1], r, sizeof r);
			_exit(0);
		}
		double r[2];
		if (read(p[0], r, sizeof r) == (ssize_t)sizeof r)
			kk = r[0], ki = r[1];
		waitpid(pid, NULL, 0);
		close(p[0]);
		close(p[1]);
		lookup(&s, sizes[i], &sk, &si);
		printf("  %-8d %8.2f | %-10.2f %8.2f | %-10.2f\n", sizes[i], kk, sk, ki, si);
	}
}

int main(void)
{
	t_setup(280);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	memset(sh->last_seq, 0xff, sizeof sh->last_seq); /* -1: nothing seen yet */
	queue_load();
	set_loads();
	lookup_growth();
	return t_done();
}

/*
 * test_sem_block.c - blocking semop / semtimedop across processes, and under
 * load.
 *
 * Every scenario runs on the kernel's System V semaphores first (IPC_PRIVATE,
 * removed at the end and on timeout), which validates this file's
 * expectations, then on svipc; both must give the answers written here
 * (SVIPC_SEM_IMPLS=kernel|svipc runs one side only):
 *  - fifo: 12 children block on -1 in a known order (half of them in
 *    semtimedop); the parent posts +1 at a time: each post goes to the
 *    longest waiter (a log in shared memory says who returned), at once: right
 *    after the post the value is 0 again and the parent's own -1 IPC_NOWAIT
 *    fails with EAGAIN (the kernel performs the waiter's operation inside the
 *    post); GETNCNT counts the waiters left;
 *  - no_head_of_line: a waiter for 1 unit is served by a post of 1 although
 *    a waiter for 2 that came first still waits; the 2 come later;
 *  - zero: wait-for-zero: 3 zero-waiters and a waiter for {0 on s0, -1 on
 *    s1} stay blocked while s0 is 2, then 1; when s0 reaches 0 all of them
 *    return; when s0 is 0 only for an instant (a -1 at once followed by a +1)
 *    they return too; GETZCNT counts them;
 *  - counts: GETNCNT / GETZCNT equal the live waiters and drop at once when
 *    waiters are SIGKILLed (checked right after waitpid); a waiter of
 *    several operations is counted once, on the operation it blocks on
 *    (first s0, then s1 once s0 is given);
 *  - rmid: IPC_RMID wakes every waiter (semop, semtimedop, zero, several
 *    operations): EIDRM, within 1 s;
 *  - eintr: a handler installed with SA_RESTART makes a blocked semop,
 *    semtimedop and wait-for-zero fail with EINTR (never restarted), nothing
 *    taken, no longer counted; signals at varying moments 100.00-100.25 ms
 *    into the wait (svipc's re-check slice) too;
 *  - stop_cont: a waiter stopped (SIGSTOP) and continued either keeps
 *    waiting or fails with EINTR (Linux), and posts made while it is stopped
 *    are accounted for either way; a difference from the kernel is printed
 *    as a NOTE (see stop_cont);
 *  - timeouts: semtimedop gives EAGAIN after the timeout (measured with
 *    CLOCK_MONOTONIC: never early, at most 150 ms late), at once for a zero
 *    timeout or with IPC_NOWAIT, EINVAL for a bad timespec; a post before
 *    the deadline ends it with success;
 *  - stress: 64 processes (44 "holders" that only use SEM_UNDO and are
 *    SIGKILLed at random and replaced, 20 "movers" that are never killed
 *    and move units between semaphores without SEM_UNDO, and also hold
 *    some with it) run random multi-operation semop / semtimedop / IPC_NOWAIT
 *    calls on one set of 8 pools and a gate (a semaphore holders raise with
 *    SEM_UNDO and others wait to be zero) for a few seconds. Checked: every
 *    snapshot (GETALL) has no pool above the total and a sum of pools at
 *    most the total; once stopped, every process still blocked waits for
 *    something the values do not allow (none left blocked that could
 *    proceed), and GETNCNT + GETZCNT over the set equal their number; the
 *    parent then adds enough units (recorded) and all must finish within
 *    5 s; at the end every pool equals its initial value plus the recorded
 *    moves of the movers plus the parent's additions, exactly, and the gate
 *    is 0 (every holder's adjustments applied, killed or not).
 *    SVIPC_SEM_STRESS_SECONDS sets the length (default 5 per implementation),
 *    SVIPC_SEM_STRESS_NOKILL=1 leaves the holders alive (to compare rates).
 * Synchronisation with children goes through an anonymous MAP_SHARED page,
 * never through the set under test. Every child is bounded by its own alarm
 * and reaped. Timing checks are retried (3 attempts).
 */
#include "svipc.h"
#include "t.h"

#include <sys/resource.h>

#include "sem_mp.h"

/* One blocked call made by a child. */
struct bcall {
	int nops;
	struct sembuf ops[4];
	int timed;     /* semtimedop with timeout_ms */
	long timeout_ms;
	int handler;   /* install a SIGUSR1 handler with SA_RESTART first */
	/* results */
	int started, done;
	int r, e;
	int nsig;
	int64_t t0, t1; /* ns */
	pid_t pid;
};

#define NCALLS 32

struct bshare {
	const struct sem_impl *o;
	int id;
	int nlog;
	int log[256];
	struct bcall c[NCALLS];
};

static struct bshare *B;
static struct bcall *my_call;

static void on_usr1(int sig)
{
	(void)sig;
	if (my_call)
		AADD(&my_call->nsig, 1);
}

static void call_child(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct bcall *c = &B->c[i];
	my_call = c;
	if (c->handler) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
	}
	struct sembuf ops[4];
	memcpy(ops, c->ops, sizeof ops);
	c->pid = getpid();
	ASTORE(&c->t0, now_ns());
	ASTORE(&c->started, 1);
	int r;
	if (c->timed) {
		struct timespec ts = ts_ms(c->timeout_ms);
		r = B->o->timedop(B->id, ops, (size_t)c->nops, &ts);
	} else {
		r = B->o->op(B->id, ops, (size_t)c->nops);
	}
	c->e = r == -1 ? errno : 0;
	c->r = r;
	c->t1 = now_ns();
	int k = AADD(&B->nlog, 1) - 1;
	if (k >= 0 && k < 256)
		ASTORE(&B->log[k], i);
	ASTORE(&c->done, 1);
}

static void reset_share(const struct sem_impl *o, int id)
{
	memset(B, 0, sizeof *B);
	B->o = o;
	B->id = id;
}

/* Call i: nops operations {num, op, flg}... (given as triples). */
static void set_call(int i, int nops, const int *t)
{
	struct bcall *c = &B->c[i];
	memset(c, 0, sizeof *c);
	c->nops = nops;
	for (int k = 0; k < nops; k++)
		c->ops[k] = (struct sembuf){ (unsigned short)t[3 * k], (short)t[3 * k + 1],
					     (short)t[3 * k + 2] };
}

/* Total of GETNCNT + GETZCNT over semaphores 0..nsems-1. */
static int total_counts(const struct sem_impl *o, int id, int nsems)
{
	int n = 0;
	for (int s = 0; s < nsems; s++) {
		int a = ncnt(o, id, s), b = zcnt(o, id, s);
		if (a < 0 || b < 0)
			return -1;
		n += a + b;
	}
	return n;
}

/*
 * Starts the child making call i and waits until it is counted as a waiter:
 * the counts over nsems semaphores reach want (its arrival is then fixed),
 * and it sleeps.
 */
static pid_t start_call(const struct sem_impl *o, int id, int i, int nsems, int want,
			const char *what)
{
	pid_t p = spawn(call_child, (void *)(intptr_t)i, 30);
	if (p <= 0)
		return p;
	if (!wait_flag(&B->c[i].started, 5000))
		T_FAIL("[%s] %s: child %d did not start", o->name, what, i);
	int64_t end = now_ms() + 5000;
	int n;
	while ((n = total_counts(o, id, nsems)) != want && now_ms() < end && !ALOAD(&B->c[i].done))
		sleep_us(300);
	if (ALOAD(&B->c[i].done))
		T_FAIL("[%s] %s: call %d returned %d (%s) instead of blocking", o->name, what, i,
		       B->c[i].r, strerror(B->c[i].e));
	else if (n != want)
		T_FAIL("[%s] %s: after call %d blocked, GETNCNT+GETZCNT total %d, want %d", o->name,
		       what, i, n, want);
	if (!wait_state(p, "S", 5000))
		T_FAIL("[%s] %s: call %d never slept (state %c)", o->name, what, i, proc_state(p));
	return p;
}

/* Waits up to ms for B->nlog to reach n. */
static int wait_log(int n, long ms)
{
	return wait_flag_ge(&B->nlog, n, ms);
}

/* ---- FIFO hand-off ------------------------------------------------------------------ */

#define NFIFO 12

static void fifo(const struct sem_impl *o)
{
	int id = set_new(o, 1, NULL);
	reset_share(o, id);
	pid_t p[NFIFO];
	for (int i = 0; i < NFIFO; i++) {
		set_call(i, 1, (int[]){ 0, -1, 0 });
		if (i & 1) {
			B->c[i].timed = 1;
			B->c[i].timeout_ms = 20000;
		}
		p[i] = start_call(o, id, i, 1, i + 1, "fifo");
	}
	for (int k = 0; k < NFIFO; k++) {
		T_OK(sop1(o, id, 0, 1, 0));
		/* The kernel performs the first waiter's -1 inside our post. */
		int v = semval(o, id, 0);
		if (v != 0)
			T_FAIL("[%s] fifo: right after post %d the value is %d, want 0 (handed to "
			       "the longest waiter)", o->name, k, v);
		errno = 0;
		int r = sop1(o, id, 0, -1, IPC_NOWAIT);
		if (r != -1 || errno != EAGAIN) {
			T_FAIL("[%s] fifo: the poster's own -1 IPC_NOWAIT right after post %d: %d "
			       "(%s), want EAGAIN (the unit belongs to the waiter)", o->name, k, r,
			       strerror(errno));
			if (r == 0)
				T_OK(sop1(o, id, 0, 1, 0));
		}
		if (!wait_log(k + 1, 5000)) {
			T_FAIL("[%s] fifo: nobody returned after post %d", o->name, k);
			break;
		}
		sleep_ms(2);
		int who = ALOAD(&B->log[k]);
		if (who != k)
			T_FAIL("[%s] fifo: post %d went to waiter %d, want %d (arrival order)",
			       o->name, k, who, k);
		if (ALOAD(&B->nlog) != k + 1)
			T_FAIL("[%s] fifo: one post released %d waiters", o->name,
			       ALOAD(&B->nlog) - k);
		T_EQ(ncnt(o, id, 0), NFIFO - k - 1);
	}
	for (int i = 0; i < NFIFO; i++) {
		reap(p[i], 0, "fifo waiter");
		if (B->c[i].r != 0)
			T_FAIL("[%s] fifo: waiter %d: %d (%s)", o->name, i, B->c[i].r,
			       strerror(B->c[i].e));
	}
	T_EQ(semval(o, id, 0), 0);
	set_rm(o, id);
}

/* A waiter for 1 is not stuck behind an earlier waiter for 2. */
static void no_head_of_line(const struct sem_impl *o)
{
	int id = set_new(o, 1, NULL);
	reset_share(o, id);
	set_call(0, 1, (int[]){ 0, -2, 0 });
	set_call(1, 1, (int[]){ 0, -1, 0 });
	pid_t a = start_call(o, id, 0, 1, 1, "no_head_of_line");
	pid_t b = start_call(o, id, 1, 1, 2, "no_head_of_line");
	T_OK(sop1(o, id, 0, 1, 0));
	if (!wait_log(1, 2000))
		T_FAIL("[%s] a post of 1 did not serve the waiter for 1 (behind a waiter for 2)",
		       o->name);
	else
		T_EQ(B->log[0], 1);
	T_EQ(semval(o, id, 0), 0);
	sleep_ms(50);
	T_ASSERT(!ALOAD(&B->c[0].done));
	T_EQ(ncnt(o, id, 0), 1);
	T_OK(sop1(o, id, 0, 1, 0));
	sleep_ms(50);
	T_ASSERT(!ALOAD(&B->c[0].done)); /* 1 of 2 */
	T_EQ(semval(o, id, 0), 1);
	T_OK(sop1(o, id, 0, 1, 0));
	T_EQ(semval(o, id, 0), 0);
	reap(a, 0, "waiter for 2");
	reap(b, 0, "waiter for 1");
	T_EQ(B->c[0].r, 0);
	T_EQ(B->c[1].r, 0);
	T_EQ(ncnt(o, id, 0), 0);
	set_rm(o, id);
}

/* ---- wait for zero ------------------------------------------------------------------ */

static void zero(const struct sem_impl *o)
{
	for (int instant = 0; instant < 2; instant++) {
		int id = set_new(o, 2, (unsigned short[]){ 2, 1 });
		reset_share(o, id);
		pid_t p[4];
		for (int i = 0; i < 3; i++) {
			set_call(i, 1, (int[]){ 0, 0, 0 });
			B->c[i].timed = i == 2;
			B->c[i].timeout_ms = 20000;
			p[i] = start_call(o, id, i, 2, i + 1, "zero");
		}
		set_call(3, 2, (int[]){ 0, 0, 0, 1, -1, 0 });
		p[3] = start_call(o, id, 3, 2, 4, "zero (two operations)");
		T_EQ(zcnt(o, id, 0), 4);
		T_EQ(ncnt(o, id, 1), 0);
		T_OK(sop1(o, id, 0, -1, 0));
		sleep_ms(50);
		T_EQ(ALOAD(&B->nlog), 0);
		T_EQ(zcnt(o, id, 0), 4);
		if (instant) {
			/* 0 for an instant: -1 then +1 at once. */
			T_OK(sop1(o, id, 0, -1, 0));
			T_OK(sop1(o, id, 0, 1, 0));
		} else {
			T_OK(sop1(o, id, 0, -1, 0));
		}
		if (!wait_log(4, 3000))
			T_FAIL("[%s] zero%s: %d of 4 zero-waiters returned", o->name,
			       instant ? " (0 for an instant)" : "", ALOAD(&B->nlog));
		for (int i = 0; i < 4; i++) {
			if (!ALOAD(&B->c[i].done))
				kill(p[i], SIGKILL);
			reap(p[i], ALOAD(&B->c[i].done) ? 0 : SIGKILL, "zero-waiter");
			if (B->c[i].r != 0)
				T_FAIL("[%s] zero-waiter %d: %d (%s)", o->name, i, B->c[i].r,
				       strerror(B->c[i].e));
		}
		T_VALS(o, id, ((unsigned short[]){ (unsigned short)instant, 0 }), 2,
		       "zero: after the zero-waiters");
		T_EQ(zcnt(o, id, 0), 0);
		set_rm(o, id);
	}
}

/* ---- counts -------------------------------------------------------------------------- */

static void counts(const struct sem_impl *o)
{
	int id = set_new(o, 3, (unsigned short[]){ 0, 1, 0 });
	reset_share(o, id);
	pid_t p[12];
	int n = 0;
	for (int i = 0; i < 6; i++, n++) {
		set_call(i, 1, (int[]){ 0, -1, 0 });
		B->c[i].timed = i % 3 == 2;
		B->c[i].timeout_ms = 20000;
		p[i] = start_call(o, id, i, 3, n + 1, "counts");
	}
	for (int i = 6; i < 10; i++, n++) {
		set_call(i, 1, (int[]){ 1, 0, 0 });
		p[i] = start_call(o, id, i, 3, n + 1, "counts");
	}
	T_EQ(ncnt(o, id, 0), 6);
	T_EQ(zcnt(o, id, 1), 4);
	T_EQ(zcnt(o, id, 0), 0);
	T_EQ(ncnt(o, id, 1), 0);
	/* Kill waiters 1, 3, 4 (semop, semtimedop) and zero-waiters 7, 9. */
	static const int victims[] = { 1, 3, 4, 7, 9 };
	for (int k = 0; k < 5; k++)
		kill(p[victims[k]], SIGKILL);
	for (int k = 0; k < 5; k++)
		reap(p[victims[k]], SIGKILL, "counts: killed waiter");
	int nc = ncnt(o, id, 0), zc = zcnt(o, id, 1);
	if (nc != 3 || zc != 2) {
		int64_t t0 = now_ms();
		while ((ncnt(o, id, 0) != 3 || zcnt(o, id, 1) != 2) && now_ms() - t0 < 3000)
			sleep_ms(1);
		T_FAIL("[%s] right after 3 + 2 waiters were killed and reaped: GETNCNT %d (want 3), "
		       "GETZCNT %d (want 2); right %lld ms later", o->name, nc, zc,
		       (long long)(now_ms() - t0));
	}
	/* A waiter of two operations counts once, on the one it blocks on. */
	set_call(10, 2, (int[]){ 2, -1, 0, 0, -1, 0 });
	p[10] = start_call(o, id, 10, 3, 6, "counts (two operations)");
	T_EQ(ncnt(o, id, 2), 1);
	T_EQ(ncnt(o, id, 0), 3);
	T_OK(sop1(o, id, 2, 1, 0)); /* s2 given, now blocked on s0 */
	sleep_ms(20);
	T_EQ(ncnt(o, id, 2), 0);
	T_EQ(ncnt(o, id, 0), 4);
	T_EQ(semval(o, id, 2), 1);
	/* Release everyone: 4 units on s0 (the survivors, then the pair), s1 to 0. */
	T_OK(sop1(o, id, 1, -1, 0));
	T_OK(sop1(o, id, 0, 4, 0));
	if (!wait_log(6, 3000))
		T_FAIL("[%s] counts: %d of 6 survivors returned", o->name, ALOAD(&B->nlog));
	for (int i = 0; i <= 10; i++) {
		int victim = 0;
		for (int k = 0; k < 5; k++)
			victim |= victims[k] == i;
		if (victim)
			continue;
		reap(p[i], 0, "counts: survivor");
		T_EQ(B->c[i].r, 0);
	}
	T_VALS(o, id, ((unsigned short[]){ 0, 0, 0 }), 3, "counts: all served");
	T_EQ(total_counts(o, id, 3), 0);
	set_rm(o, id);
}

/* ---- IPC_RMID ------------------------------------------------------------------------ */

static void rmid(const struct sem_impl *o)
{
	int id = set_new(o, 2, (unsigned short[]){ 0, 1 });
	reset_share(o, id);
	pid_t p[6];
	set_call(0, 1, (int[]){ 0, -1, 0 });
	set_call(1, 1, (int[]){ 0, -1, 0 });
	B->c[1].timed = 1;
	B->c[1].timeout_ms = 20000;
	set_call(2, 1, (int[]){ 1, 0, 0 });
	set_call(3, 1, (int[]){ 1, 0, 0 });
	B->c[3].timed = 1;
	B->c[3].timeout_ms = 20000;
	set_call(4, 2, (int[]){ 1, -1, SEM_UNDO, 0, -1, SEM_UNDO });
	set_call(5, 1, (int[]){ 0, -3, SEM_UNDO });
	for (int i = 0; i < 6; i++)
		p[i] = start_call(o, id, i, 2, i + 1, "rmid");
	int64_t t0 = now_ns();
	T_OK(o->ctl(id, 0, IPC_RMID));
	if (o->kernel)
		mp_untrack_kernel(id);
	if (!wait_log(6, 3000))
		T_FAIL("[%s] IPC_RMID: %d of 6 waiters returned", o->name, ALOAD(&B->nlog));
	for (int i = 0; i < 6; i++) {
		if (!ALOAD(&B->c[i].done))
			kill(p[i], SIGKILL);
		reap(p[i], ALOAD(&B->c[i].done) ? 0 : SIGKILL, "rmid waiter");
		if (B->c[i].r != -1 || B->c[i].e != EIDRM)
			T_FAIL("[%s] waiter %d at IPC_RMID: %d (%s), want EIDRM", o->name, i,
			       B->c[i].r, strerror(B->c[i].e));
		else if (B->c[i].t1 - t0 > 1000000000LL)
			T_FAIL("[%s] waiter %d got EIDRM %.1f ms after IPC_RMID", o->name, i,
			       (B->c[i].t1 - t0) / 1e6);
	}
	T_ERR(semval(o, id, 0), EINVAL);
}

/* ---- signals ------------------------------------------------------------------------- */

static void eintr(const struct sem_impl *o)
{
	int id = set_new(o, 2, (unsigned short[]){ 0, 1 });
	reset_share(o, id);
	static const int shapes[3][3] = { { 0, -1, 0 }, { 0, -1, 0 }, { 1, 0, 0 } };
	for (int i = 0; i < 3; i++) {
		set_call(i, 1, shapes[i]);
		B->c[i].handler = 1;
		B->c[i].timed = i == 1;
		B->c[i].timeout_ms = 20000;
		pid_t p = start_call(o, id, i, 2, 1, "eintr");
		sleep_ms(30);
		kill(p, SIGUSR1);
		reap(p, 0, "eintr waiter");
		if (B->c[i].r != -1 || B->c[i].e != EINTR)
			T_FAIL("[%s] %s interrupted by a SA_RESTART handler: %d (%s), want EINTR",
			       o->name, i == 0 ? "semop" : i == 1 ? "semtimedop" : "wait-for-zero",
			       B->c[i].r, strerror(B->c[i].e));
		T_EQ(B->c[i].nsig, 1);
		T_EQ(total_counts(o, id, 2), 0);
	}
	/* Nothing was taken: a post stays. */
	T_OK(sop1(o, id, 0, 1, 0));
	T_VALS(o, id, ((unsigned short[]){ 1, 1 }), 2, "eintr: interrupted waiters took nothing");
	T_OK(sop1(o, id, 0, -1, 0));
	/* At varying moments around svipc's 100 ms re-check. */
	for (int k = 0; k < 6; k++) {
		B->nlog = 0;
		set_call(0, 1, (int[]){ 0, -1, 0 });
		B->c[0].handler = 1;
		pid_t p = start_call(o, id, 0, 2, 1, "eintr at 100 ms");
		int64_t target = B->c[0].t0 + 100000000LL + k * 50000LL;
		while (now_ns() < target)
			;
		kill(p, SIGUSR1);
		reap(p, 0, "eintr waiter (100 ms)");
		if (B->c[0].r != -1 || B->c[0].e != EINTR)
			T_FAIL("[%s] semop interrupted %.2f ms into its wait: %d (%s), want EINTR",
			       o->name, 100 + k * 0.05, B->c[0].r, strerror(B->c[0].e));
	}
	T_EQ(total_counts(o, id, 2), 0);
	set_rm(o, id);
}

/*
 * What a stopped and continued waiter does: Linux ends semop with EINTR at
 * SIGSTOP (signal(7): "System V IPC interfaces ... can fail with EINTR after
 * the process is stopped ... and then resumed"), so a post made while it is
 * stopped is not its. A library's futex wait is restarted by the kernel
 * across a stop and cannot see it: a difference from the kernel is printed
 * as a note, not counted as a failure; what each side did must be
 * consistent (the values account for it).
 */
static int stop_cont_result[2][4]; /* [kernel?]: r, errno (stopped), r, errno (posted) */

static void stop_cont(const struct sem_impl *o)
{
	int *res = stop_cont_result[o->kernel];
	int id = set_new(o, 1, NULL);
	reset_share(o, id);
	set_call(0, 1, (int[]){ 0, -1, 0 });
	pid_t p = start_call(o, id, 0, 1, 1, "stop_cont");
	kill(p, SIGSTOP);
	if (!wait_state(p, "T", 2000))
		T_FAIL("[%s] waiter did not stop", o->name);
	sleep_ms(200);
	kill(p, SIGCONT);
	sleep_ms(150);
	int failed = ALOAD(&B->c[0].done);
	res[0] = failed ? B->c[0].r : 0;
	res[1] = failed ? B->c[0].e : 0;
	if (failed && (B->c[0].r != -1 || B->c[0].e != EINTR))
		T_FAIL("[%s] semop after SIGSTOP/SIGCONT: %d (%s)", o->name, B->c[0].r,
		       strerror(B->c[0].e));
	if (!failed) {
		T_OK(sop1(o, id, 0, 1, 0));
		reap(p, 0, "stop_cont waiter");
		T_EQ(B->c[0].r, 0);
	} else {
		reap(p, 0, "stop_cont waiter");
	}
	T_EQ(semval(o, id, 0), 0);
	T_EQ(ncnt(o, id, 0), 0);

	/* Posts while it is stopped. */
	B->nlog = 0;
	set_call(0, 1, (int[]){ 0, -1, 0 });
	p = start_call(o, id, 0, 1, 1, "stopped waiter");
	kill(p, SIGSTOP);
	if (!wait_state(p, "T", 2000))
		T_FAIL("[%s] waiter did not stop", o->name);
	T_OK(sop1(o, id, 0, 1, 0));
	T_OK(sop1(o, id, 0, 1, 0));
	kill(p, SIGCONT);
	reap(p, 0, "stopped waiter");
	res[2] = B->c[0].r;
	res[3] = B->c[0].r ? B->c[0].e : 0;
	if (B->c[0].r == 0)
		T_EQ(semval(o, id, 0), 1);
	else if (B->c[0].e == EINTR)
		T_EQ(semval(o, id, 0), 2);
	else
		T_FAIL("[%s] stopped waiter, posts made meanwhile: %d (%s)", o->name, B->c[0].r,
		       strerror(B->c[0].e));
	printf("[%s] semop stopped (SIGSTOP) and continued: %s; with posts while stopped: %s\n",
	       o->name, res[0] ? strerror(res[1]) : "kept waiting",
	       res[2] ? strerror(res[3]) : "took a unit");
	if (!o->kernel && sem_kernel_ok &&
	    memcmp(stop_cont_result[0], stop_cont_result[1], sizeof stop_cont_result[0]))
		printf("NOTE: [%s] differs from the kernel after SIGSTOP/SIGCONT (the kernel: %s, "
		       "%s): a library cannot see a stop\n", o->name,
		       stop_cont_result[1][0] ? strerror(stop_cont_result[1][1]) : "kept waiting",
		       stop_cont_result[1][2] ? strerror(stop_cont_result[1][3]) : "took a unit");
	set_rm(o, id);
}

/* ---- semtimedop timeouts ---------------------------------------------------------- */

static void timeouts(const struct sem_impl *o)
{
	int id = set_new(o, 1, NULL);
	struct sembuf b = { 0, -1, 0 };
	static const long ms[] = { 1, 50, 200, 450 };
	for (int k = 0; k < 4; k++) {
		struct timespec ts = ts_ms(ms[k]);
		int64_t t0 = now_ns();
		errno = 0;
		int r = o->timedop(id, &b, 1, &ts);
		int e = errno;
		int64_t el = now_ns() - t0;
		if (r != -1 || e != EAGAIN)
			T_FAIL("[%s] semtimedop(%ld ms) with nothing to take: %d (%s), want EAGAIN",
			       o->name, ms[k], r, strerror(e));
		if (el < ms[k] * 1000000LL || el > (ms[k] + 150) * 1000000LL)
			T_FAIL("[%s] semtimedop(%ld ms) returned after %.2f ms", o->name, ms[k],
			       el / 1e6);
	}
	struct timespec zero_ts = { 0, 0 };
	int64_t t0 = now_ns();
	T_ERR(o->timedop(id, &b, 1, &zero_ts), EAGAIN);
	b.sem_flg = IPC_NOWAIT;
	struct timespec long_ts = ts_ms(5000);
	T_ERR(o->timedop(id, &b, 1, &long_ts), EAGAIN);
	if (now_ns() - t0 > 50000000LL)
		T_FAIL("[%s] zero timeout / IPC_NOWAIT took %.1f ms", o->name, (now_ns() - t0) / 1e6);
	b.sem_flg = 0;
	struct timespec bad[3] = { { 0, 1000000000L }, { 0, -1 }, { -1, 0 } };
	for (int k = 0; k < 3; k++)
		T_ERR(o->timedop(id, &b, 1, &bad[k]), EINVAL);
	/* A post in time. */
	reset_share(o, id);
	set_call(0, 1, (int[]){ 0, -1, 0 });
	B->c[0].timed = 1;
	B->c[0].timeout_ms = 3000;
	pid_t p = start_call(o, id, 0, 1, 1, "timed, posted in time");
	sleep_ms(100);
	T_ASSERT(!ALOAD(&B->c[0].done));
	t0 = now_ns();
	T_OK(sop1(o, id, 0, 1, 0));
	reap(p, 0, "timed waiter");
	T_EQ(B->c[0].r, 0);
	if (B->c[0].t1 - t0 > 50000000LL)
		T_FAIL("[%s] timed waiter returned %.1f ms after the post", o->name,
		       (B->c[0].t1 - t0) / 1e6);
	/* Timing out in a child while another waiter stays. */
	reset_share(o, id);
	set_call(0, 1, (int[]){ 0, -1, 0 });
	set_call(1, 1, (int[]){ 0, -1, 0 });
	B->c[1].timed = 1;
	B->c[1].timeout_ms = 150;
	pid_t q = start_call(o, id, 0, 1, 1, "untimed waiter");
	p = start_call(o, id, 1, 1, 2, "timed waiter");
	reap(p, 0, "timed waiter");
	T_EQ(B->c[1].r, -1);
	T_EQ(B->c[1].e, EAGAIN);
	int64_t el = B->c[1].t1 - B->c[1].t0;
	if (el < 150000000LL || el > 300000000LL)
		T_FAIL("[%s] semtimedop(150 ms) in a child returned after %.1f ms", o->name,
		       el / 1e6);
	T_EQ(ncnt(o, id, 0), 1);
	T_OK(sop1(o, id, 0, 1, 0));
	reap(q, 0, "untimed waiter");
	T_EQ(B->c[0].r, 0);
	T_EQ(semval(o, id, 0), 0);
	set_rm(o, id);
}

/* ---- stress ------------------------------------------------------------------------- */

#define NPOOL 8
#define GATE NPOOL
#define SNSEMS (NPOOL + 1)
#define POOL_INIT 20
#define NHOLD 44
#define NMOVE 20
#define NW (NHOLD + NMOVE)
#define MAXOPS 6

enum { M_BLOCK, M_TIMED, M_NOWAIT };

struct worker {
	pid_t pid;
	int in_call;         /* inside semop with the request below */
	int mode;
	int nops;
	struct sembuf req[MAXOPS];
	long calls, ok;
	long delta[SNSEMS];  /* movers: completed operations without SEM_UNDO */
	int err;             /* an unexpected errno */
	int exited;
};

struct sshare {
	int stop;
	uint64_t seed;
	struct worker w[NW];
};

static struct sshare *S;
static const struct sem_impl *S_o;
static int S_id;

static uint64_t w_rng;

static uint64_t wr(void)
{
	w_rng += 0x9e3779b97f4a7c15ull;
	return t_mix64(w_rng);
}

/* One call with the worker's request published; 0 or errno. */
static int w_call(struct worker *w, struct sembuf *ops, int n, int mode)
{
	w->nops = n;
	memcpy(w->req, ops, (size_t)n * sizeof *ops);
	w->mode = mode;
	int r;
	ASTORE(&w->in_call, 1);
	if (mode == M_TIMED) {
		struct timespec ts = { 0, (long)(1 + wr() % 20) * 1000000L };
		r = S_o->timedop(S_id, ops, (size_t)n, &ts);
	} else {
		if (mode == M_NOWAIT)
			for (int i = 0; i < n; i++)
				ops[i].sem_flg |= IPC_NOWAIT;
		r = S_o->op(S_id, ops, (size_t)n);
	}
	int e = r == -1 ? errno : 0;
	ASTORE(&w->in_call, 0);
	w->calls++;
	if (!e)
		w->ok++;
	else if (e != EAGAIN && !w->err)
		w->err = e;
	return e;
}

/* Up to k distinct pools, in random order, into p; returns how many. */
static int pick_pools(int *p, int k)
{
	int n = 0;
	unsigned used = 0;
	for (int i = 0; i < k; i++) {
		int s = (int)(wr() % NPOOL);
		if (used & (1u << s))
			continue;
		used |= 1u << s;
		p[n++] = s;
	}
	return n;
}

/* Leaves at the end: exit() or _exit, holding whatever it holds. */
static void w_leave(void)
{
	if (wr() & 1)
		exit(0);
	_exit(0);
}

/*
 * A holder: takes units from 1-3 pools with SEM_UNDO (sometimes also waiting
 * for the gate to be 0), maybe raises the gate, maybe takes more without
 * blocking, then gives everything back with SEM_UNDO. It blocks only while
 * holding nothing, so its adjustments always equal what it holds (>= 0 on
 * the pools, <= 0 on the gate): whenever it dies, undo is exact (no clamp).
 */
static void holder(struct worker *w, int idx)
{
	int held[SNSEMS] = { 0 };
	w_rng = S->seed ^ ((uint64_t)idx << 32) ^ (uint64_t)getpid();
	for (;;) {
		if (ALOAD(&S->stop))
			w_leave();
		struct sembuf ops[MAXOPS];
		int pools[3];
		int np = pick_pools(pools, 1 + (int)(wr() % 3));
		int n = 0;
		for (int i = 0; i < np; i++)
			ops[n++] = (struct sembuf){ (unsigned short)pools[i], (short)-(1 + wr() % 3),
						    SEM_UNDO };
		if (wr() % 6 == 0)
			ops[n++] = (struct sembuf){ GATE, 0, SEM_UNDO };
		int mode = (int)(wr() % 3);
		if (w_call(w, ops, n, mode) == 0)
			for (int i = 0; i < n; i++)
				held[ops[i].sem_num] -= ops[i].sem_op;
		if (ALOAD(&S->stop) && wr() % 2)
			w_leave(); /* holding: undo gives it back */
		/* Maybe raise the gate, giving one pool back in the same call. */
		if (wr() % 8 == 0) {
			n = 0;
			ops[n++] = (struct sembuf){ GATE, 1, SEM_UNDO };
			for (int s = 0; s < NPOOL && n < 2; s++)
				if (held[s]) {
					ops[n++] = (struct sembuf){ (unsigned short)s, (short)held[s],
								    SEM_UNDO };
				}
			if (w_call(w, ops, n, M_NOWAIT) == 0)
				for (int i = 0; i < n; i++)
					held[ops[i].sem_num] -= ops[i].sem_op;
		}
		/* Maybe more, never blocking while holding. */
		if (wr() % 3 == 0) {
			np = pick_pools(pools, 2);
			n = 0;
			for (int i = 0; i < np; i++)
				ops[n++] = (struct sembuf){ (unsigned short)pools[i], -1, SEM_UNDO };
			if (w_call(w, ops, n, wr() % 2 ? M_NOWAIT : M_TIMED) == 0)
				for (int i = 0; i < n; i++)
					held[ops[i].sem_num] -= ops[i].sem_op;
		}
		if (wr() % 4 == 0)
			sleep_us((long)(wr() % 500));
		/* Give everything back, in one or two calls. */
		n = 0;
		for (int s = 0; s < SNSEMS; s++)
			if (held[s])
				ops[n++] = (struct sembuf){ (unsigned short)s, (short)held[s],
							    SEM_UNDO };
		int split = n > 1 && wr() % 2 ? n / 2 : n;
		if (split < n && w_call(w, ops + split, n - split, M_BLOCK) == 0)
			for (int i = split; i < n; i++)
				held[ops[i].sem_num] = 0;
		if (split > 0 && w_call(w, ops, split, M_BLOCK) == 0)
			for (int i = 0; i < split; i++)
				held[ops[i].sem_num] = 0;
		for (int s = 0; s < SNSEMS; s++)
			if (held[s] && !w->err)
				w->err = 1000 + s; /* a give-back that cannot block failed */
	}
}

/*
 * A mover: moves units between pools without SEM_UNDO (1 or 2 pairs
 * -a / +a), recording each completed move; sometimes takes and gives back
 * with SEM_UNDO like a holder, and may leave at the end while holding.
 * It is never killed, so its records are exact.
 */
static void mover(struct worker *w, int idx)
{
	int held[SNSEMS] = { 0 };
	w_rng = S->seed ^ ((uint64_t)idx << 32) ^ 0xabcdefull;
	for (;;) {
		int holding = 0;
		for (int s = 0; s < SNSEMS; s++)
			holding |= held[s];
		if (ALOAD(&S->stop))
			w_leave();
		struct sembuf ops[MAXOPS];
		int pools[4];
		int r = (int)(wr() % 4);
		if (r < 3) {
			int np = pick_pools(pools, r == 0 ? 4 : 2) & ~1;
			int n = 0;
			for (int i = 0; i + 1 < np; i += 2) {
				short a = (short)(1 + wr() % 3);
				ops[n++] = (struct sembuf){ (unsigned short)pools[i], (short)-a, 0 };
				ops[n++] = (struct sembuf){ (unsigned short)pools[i + 1], a, 0 };
			}
			if (!n)
				continue;
			int mode = holding ? (wr() % 2 ? M_NOWAIT : M_TIMED) : (int)(wr() % 3);
			if (w_call(w, ops, n, mode) == 0)
				for (int i = 0; i < n; i++)
					AADD(&w->delta[ops[i].sem_num], ops[i].sem_op);
		} else if (!holding) {
			int np = pick_pools(pools, 2);
			for (int i = 0; i < np; i++)
				ops[i] = (struct sembuf){ (unsigned short)pools[i], -1, SEM_UNDO };
			if (w_call(w, ops, np, (int)(wr() % 3)) == 0)
				for (int i = 0; i < np; i++)
					held[ops[i].sem_num] += 1;
		} else {
			int n = 0;
			for (int s = 0; s < SNSEMS; s++)
				if (held[s])
					ops[n++] = (struct sembuf){ (unsigned short)s, (short)held[s],
								    SEM_UNDO };
			if (w_call(w, ops, n, M_BLOCK) == 0)
				memset(held, 0, sizeof held);
			else if (!w->err)
				w->err = 2000;
		}
	}
}

static void worker_main(void *arg)
{
	int idx = (int)(intptr_t)arg;
	struct worker *w = &S->w[idx];
	if (idx < NHOLD)
		holder(w, idx);
	else
		mover(w, idx);
}

static void spawn_worker(int idx)
{
	struct worker *w = &S->w[idx];
	long keep[SNSEMS];
	memcpy(keep, w->delta, sizeof keep);
	int err = w->err;
	memset(w, 0, sizeof *w);
	memcpy(w->delta, keep, sizeof keep);
	w->err = err;
	w->pid = spawn(worker_main, (void *)(intptr_t)idx, 120);
}

/* Could request r be performed on values v at once? */
static int satisfiable(const struct worker *w, const unsigned short *v)
{
	for (int i = 0; i < w->nops; i++) {
		int s = w->req[i].sem_num, op = w->req[i].sem_op;
		if (op == 0 && v[s] != 0)
			return 0;
		if (op < 0 && v[s] < -op)
			return 0;
		if (op > 0 && v[s] + op > SEM_MAXVAL)
			return 0;
	}
	return 1;
}

static void describe_req(const struct worker *w, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < w->nops && o + 24 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s{%d, %d%s}", i ? " " : "",
				      w->req[i].sem_num, w->req[i].sem_op,
				      w->req[i].sem_flg & SEM_UNDO ? ", UNDO" : "");
}

/* Reaps workers that have exited (without blocking); returns how many live. */
static int reap_exited(int *bad_status)
{
	int live = 0;
	for (int i = 0; i < NW; i++) {
		struct worker *w = &S->w[i];
		if (w->pid <= 0 || w->exited)
			continue;
		int st;
		pid_t r = waitpid(w->pid, &st, WNOHANG);
		if (r == w->pid) {
			forget_kid(w->pid);
			w->exited = 1;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				(*bad_status)++;
				T_FAIL("[%s] stress: worker %d (%s) ended with status 0x%x", S_o->name,
				       i, i < NHOLD ? "holder" : "mover", st);
			}
		} else {
			live++;
		}
	}
	return live;
}

static long stress_seconds(void)
{
	const char *e = getenv("SVIPC_SEM_STRESS_SECONDS");
	long s = e ? atol(e) : 5;
	return s > 0 ? s : 5;
}

static void stress(const struct sem_impl *o)
{
	unsigned short init[SNSEMS];
	for (int s = 0; s < NPOOL; s++)
		init[s] = POOL_INIT;
	init[GATE] = 0;
	const long total0 = (long)NPOOL * POOL_INIT;
	int id = set_new(o, SNSEMS, init);
	memset(S, 0, sizeof *S);
	S->seed = t_rand();
	S_o = o;
	S_id = id;
	for (int i = 0; i < NW; i++)
		spawn_worker(i);
	long kills = 0, kills_in_call = 0, snapshots = 0;
	int64_t end = now_ms() + stress_seconds() * 1000;
	int bad_snap = 0;
	const char *nk = getenv("SVIPC_SEM_STRESS_NOKILL");
	int no_kills = nk && *nk && *nk != '0';
	while (now_ms() < end && t_failures < 20) {
		sleep_us((long)(200 + t_rand() % 20000));
		/* A snapshot. */
		unsigned short v[SNSEMS];
		if (getall(o, id, v) == -1) {
			T_FAIL("[%s] stress: GETALL: %s", o->name, strerror(errno));
			break;
		}
		snapshots++;
		long sum = 0;
		for (int s = 0; s < NPOOL; s++)
			sum += v[s];
		int over = sum > total0 || v[GATE] > NW;
		for (int s = 0; s < NPOOL; s++)
			over |= v[s] > total0;
		if (over && bad_snap++ < 5) {
			char b[256];
			T_FAIL("[%s] stress: snapshot %s: pools sum %ld, total %ld", o->name,
			       fmt_vals(b, sizeof b, v, SNSEMS), sum, total0);
		}
		/* Kill a holder (often one that is inside a call) and replace it. */
		int idx = (int)(t_rand() % NHOLD);
		if (t_rand() % 2)
			for (int k = 0; k < NHOLD; k++) {
				int j = (idx + k) % NHOLD;
				if (ALOAD(&S->w[j].in_call)) {
					idx = j;
					break;
				}
			}
		struct worker *w = &S->w[idx];
		if (w->pid > 0 && !no_kills) {
			kills_in_call += ALOAD(&w->in_call);
			kill(w->pid, SIGKILL);
			int st = mp_wait(w->pid, "stress: killed holder");
			forget_kid(w->pid);
			if (st != -1 && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
				T_FAIL("[%s] stress: holder %d ended with status 0x%x before the kill",
				       o->name, idx, st);
			if (w->err)
				T_FAIL("[%s] stress: holder %d: unexpected error %d (%s)", o->name, idx,
				       w->err, w->err < 1000 ? strerror(w->err) : "give-back failed");
			w->err = 0;
			kills++;
			spawn_worker(idx);
		}
	}
	long calls = 0, ok = 0;
	for (int i = 0; i < NW; i++) {
		calls += ALOAD(&S->w[i].calls);
		ok += ALOAD(&S->w[i].ok);
	}
	ASTORE(&S->stop, 1);

	/* Quiescence: only waiters in blocking calls are left, unchanged for 400 ms. */
	int bad_status = 0;
	int64_t qend = now_ms() + 15000, stable_since = now_ms();
	unsigned short last[SNSEMS] = { 0 };
	int last_live = -1;
	int live = 0;
	for (;;) {
		live = reap_exited(&bad_status);
		unsigned short v[SNSEMS];
		getall(o, id, v);
		int quiet = 1;
		for (int i = 0; i < NW; i++) {
			struct worker *w = &S->w[i];
			if (w->exited)
				continue;
			if (!ALOAD(&w->in_call) || w->mode != M_BLOCK || proc_state(w->pid) != 'S')
				quiet = 0;
		}
		if (!quiet || live != last_live || memcmp(v, last, sizeof v)) {
			stable_since = now_ms();
			memcpy(last, v, sizeof v);
			last_live = live;
		}
		if (live == 0 || (quiet && now_ms() - stable_since >= 400))
			break;
		if (now_ms() > qend) {
			T_FAIL("[%s] stress: %d workers still busy 15 s after the stop", o->name, live);
			break;
		}
		sleep_ms(5);
	}
	/* Nobody blocked could proceed; the counts are the blocked. */
	unsigned short v[SNSEMS];
	T_OK(getall(o, id, v));
	int nblocked = 0, could = 0;
	for (int i = 0; i < NW; i++) {
		struct worker *w = &S->w[i];
		if (w->exited)
			continue;
		nblocked++;
		if (satisfiable(w, v) && could++ < 5) {
			char b1[256], b2[256];
			describe_req(w, b1, sizeof b1);
			T_FAIL("[%s] stress: worker %d (pid %d) blocked on %s although the values %s "
			       "allow it", o->name, i, (int)w->pid, b1, fmt_vals(b2, sizeof b2, v,
										    SNSEMS));
		}
	}
	int tc = total_counts(o, id, SNSEMS);
	if (tc != nblocked)
		T_FAIL("[%s] stress: %d workers blocked, GETNCNT + GETZCNT over the set %d", o->name,
		       nblocked, tc);
	if (v[GATE] != 0)
		T_FAIL("[%s] stress: gate %u once every holder is gone or blocked, want 0", o->name,
		       v[GATE]);
	/* Enough for every blocked worker, recorded: then all must finish. */
	long refill = (long)nblocked * 3;
	if (refill) {
		struct sembuf add[NPOOL];
		for (int s = 0; s < NPOOL; s++)
			add[s] = (struct sembuf){ (unsigned short)s, (short)refill, 0 };
		T_OK(o->op(id, add, NPOOL));
	}
	int64_t t_refill = now_ms();
	while ((live = reap_exited(&bad_status)) > 0 && now_ms() - t_refill < 5000)
		sleep_ms(2);
	if (live) {
		T_FAIL("[%s] stress: %d of %d blocked workers still running 5 s after the refill",
		       o->name, live, nblocked);
		for (int i = 0; i < NW; i++)
			if (!S->w[i].exited && S->w[i].pid > 0) {
				char b[256];
				describe_req(&S->w[i], b, sizeof b);
				fprintf(stderr, "  worker %d pid %d state %c in_call %d mode %d req %s\n",
					i, (int)S->w[i].pid, proc_state(S->w[i].pid),
					S->w[i].in_call, S->w[i].mode, b);
				kill(S->w[i].pid, SIGKILL);
				mp_wait(S->w[i].pid, "stuck worker");
				forget_kid(S->w[i].pid);
				S->w[i].exited = 1;
			}
	}
	for (int i = 0; i < NW; i++)
		if (S->w[i].err)
			T_FAIL("[%s] stress: worker %d: unexpected error %d (%s)", o->name, i,
			       S->w[i].err, S->w[i].err < 1000 ? strerror(S->w[i].err) : "give-back");
	/* Exact: initial + movers' records + the refill; the gate 0. */
	unsigned short want[SNSEMS];
	long wsum = 0;
	for (int s = 0; s < SNSEMS; s++) {
		long x = init[s] + (s < NPOOL ? refill : 0);
		for (int i = NHOLD; i < NW; i++)
			x += S->w[i].delta[s];
		want[s] = (unsigned short)x;
		wsum += s < NPOOL ? x : 0;
	}
	if (wsum != total0 + NPOOL * refill)
		T_FAIL("[%s] stress: the movers' records do not balance (%ld vs %ld)", o->name, wsum,
		       total0 + NPOOL * refill);
	T_VALS(o, id, want, SNSEMS, "stress: after every process ended");
	T_EQ(total_counts(o, id, SNSEMS), 0);
	printf("[%s] stress: %d processes, %ld semop calls (%ld succeeded), %ld holders killed "
	       "(%ld inside a call), %ld snapshots, %d blocked at the stop\n", o->name, NW, calls,
	       ok, kills, kills_in_call, snapshots, nblocked);
	set_rm(o, id);
}

int main(void)
{
	sem_setup(300);
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
	B = shared_alloc(sizeof *B);
	S = shared_alloc(sizeof *S);
	t_rng = (uint64_t)time(NULL);
	const char *seed = getenv("SVIPC_SEM_SEED");
	if (seed)
		t_rng = strtoull(seed, NULL, 0);
	printf("seed %llu (SVIPC_SEM_SEED replays it)\n", (unsigned long long)t_rng);
	const struct sem_impl *impls[2];
	int ni = sem_impls(impls);
	for (int k = 0; k < ni; k++) {
		const struct sem_impl *o = impls[k];
		int before = t_failures;
		int64_t t0 = now_ms();
		sem_once(fifo, o, "fifo");
		sem_once(no_head_of_line, o, "no_head_of_line");
		sem_once(zero, o, "zero");
		sem_once(counts, o, "counts");
		sem_retry3(rmid, o, "rmid");
		sem_once(eintr, o, "eintr");
		sem_once(stop_cont, o, "stop_cont");
		sem_retry3(timeouts, o, "timeouts");
		sem_once(stress, o, "stress");
		printf("[%s] done in %lld ms, %d failure(s)\n", o->name, (long long)(now_ms() - t0),
		       t_failures - before);
		fflush(stdout);
	}
	return t_done();
}

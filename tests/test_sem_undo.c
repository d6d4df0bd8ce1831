/*
 * test_sem_undo.c - SEM_UNDO exactly as Linux applies it.
 *
 * Every scenario runs on the kernel's System V semaphores first (IPC_PRIVATE
 * or fresh keys, removed at the end and on timeout), which validates this
 * file's expectations, then on svipc; both must give the answers written
 * here (SVIPC_SEM_IMPLS=kernel|svipc runs one side only):
 *  - exit_paths: a child's adjustments (-1, +2, -3 on three semaphores in
 *    one semop) are applied when it leaves by exit(), by returning from
 *    main (an exec'd copy of this program), by _exit, by SIGTERM's default
 *    action, by a real SIGSEGV, by abort() and by SIGKILL. The parent's
 *    first call after waitpid sees them applied, whether that call is GETALL
 *    or a semop with IPC_NOWAIT that needs the returned units; GETPID (also
 *    as the first call) names the dead child (the kernel's exit_sem sets
 *    sempid);
 *  - zombie: also when the parent looks after the child died but before it
 *    reaped it (waitid WNOWAIT);
 *  - killed_times: undo of a killed process sets sem_otime (the kernel's
 *    exit_sem counts as an operation) and leaves sem_ctime, as IPC_STAT
 *    shows when it is the first call after the death;
 *  - counts_after_death: a waiter (for units, or for zero) that a killed
 *    process's undo lets through has returned by the time its killer has
 *    reaped it, as far as GETNCNT / GETZCNT (the first call) can tell: 0;
 *  - clamp: undo that would take a value below 0 gives 0, above 32767 gives
 *    32767;
 *  - erange: a semop whose adjustment would leave -32768..32767, or whose
 *    value would pass 32767, fails with ERANGE and changes nothing; the
 *    adjustment may reach -32768 exactly;
 *  - exec: adjustments survive exec: while the exec'd program (/bin/sleep,
 *    or this program, which adds adjustments of its own) lives they are not
 *    applied, whatever other processes do on the set meanwhile; they are
 *    applied once it exits normally or is killed, also after exec of
 *    /bin/true;
 *  - fork: a forked child inherits no adjustments: its exit (exit, _exit,
 *    SIGKILL) leaves the parent's in place, its own are its own, and the
 *    parent's still apply at the parent's exit;
 *  - many_sets: one process with adjustments on several semaphores of three
 *    sets (and a plain operation on a fourth) is undone on each set exactly;
 *  - accumulate: 1500 random operations (IPC_NOWAIT, with and without
 *    SEM_UNDO) add up: values while the process lives = initial + all
 *    operations; after it exits or is killed = initial + the operations
 *    without SEM_UNDO; the kernel and svipc accept the same operations;
 *  - rmid_recreate: undo for a set that was removed and re-created under
 *    the same key leaves the new set alone, including the same process's
 *    new adjustments on the new set;
 *  - threads: the threads of a process share one adjustment record (the
 *    range check sees their sum: ERANGE), a thread's exit applies nothing,
 *    the process's exit or death applies the sum once (clamped);
 *  - setval_setall: SETVAL clears that semaphore's adjustments in every
 *    process, SETALL all of them; later operations start from zero;
 *  - many_processes: 300 live processes hold adjustments on one set of 32000
 *    semaphores (the kernel's SEMMSL); every semop succeeds (the kernel has
 *    no limit but memory), and each is undone when they are killed;
 *  - kill_releases_waiter: a process blocked in semop / semtimedop on units
 *    that a SIGKILLed process held with SEM_UNDO gets them, and one waiting
 *    for zero on a value the killed process raised with SEM_UNDO returns,
 *    with nobody else touching the set; the latency from kill() to the
 *    waiter's return is printed (min / median / max over 12 rounds killed
 *    20-100 ms into the wait, max over 3 killed 1.5 s into it) and must stay
 *    under 1 s (median under 300 ms).
 * Synchronisation with children goes through an anonymous MAP_SHARED page
 * (or pipes across exec), never through the set under test. Every child is
 * bounded by its own alarm and reaped.
 */
#include "svipc.h"
#include "t.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "sem_mp.h"

/* The page shared with the children. */
struct ushare {
	const struct sem_impl *o;
	int id, id2, id3, id4;
	int mode;
	int stage;  /* parent -> child */
	int cstage; /* child -> parent */
	int r[16], e[16];
	long v[32];
	int64_t t_start_ns, t_end_ns;
	pid_t gpid;
	int done;
};

static struct ushare *U;
static char self_exe[4096];

/* ---- small tools ------------------------------------------------------------------ */

static void reset_share(const struct sem_impl *o)
{
	memset(U, 0, sizeof *U);
	U->o = o;
}

/* semop of n operations given as a const array (copied: semop takes a non-const one). */
static int semop_n(const struct sem_impl *o, int id, const struct sembuf *ops, int n)
{
	struct sembuf b[16];
	memcpy(b, ops, (size_t)n * sizeof *b);
	return o->op(id, b, (size_t)n);
}

static void no_core(void)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
}

/* Dies of sig by its default action (AddressSanitizer's handlers too are set aside). */
static void die_by(int sig)
{
	no_core();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	if (sig == SIGSEGV) {
		volatile int *volatile bad = (volatile int *)(uintptr_t)8;
		*bad = 1; /* a real fault */
	} else if (sig == SIGABRT) {
		abort();
	} else {
		kill(getpid(), sig);
	}
	for (;;)
		pause();
}

/* Waits for the child to reach cstage >= s; names what on failure. */
static int wait_child(int s, const char *what)
{
	if (!wait_flag_ge(&U->cstage, s, 10000)) {
		T_FAIL("[%s] %s: child did not reach stage %d", U->o->name, what, s);
		return 0;
	}
	return 1;
}

/* In a child: waits for the parent to reach stage >= s, or _exits 3. */
static void wait_parent(int s)
{
	if (!wait_flag_ge(&U->stage, s, 15000))
		_exit(3);
}

/* Forks a child that execs argv (this program as a helper, or a tool). */
static pid_t spawn_exec(char *const argv[])
{
	pid_t p = mp_fork();
	if (p == 0) {
		alarm(30);
		execv(argv[0], argv);
		_exit(127);
	}
	if (p > 0)
		remember_kid(p);
	return p;
}

/* The exe of process p contains name (after its exec). */
static int exe_is(pid_t p, const char *name, long ms)
{
	char path[64], exe[512];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)p);
	int64_t end = now_ms() + ms;
	do {
		ssize_t n = readlink(path, exe, sizeof exe - 1);
		if (n > 0) {
			exe[n] = 0;
			if (strstr(exe, name))
				return 1;
		}
		sleep_ms(1);
	} while (now_ms() < end);
	return 0;
}

/* Busy work on the set that must not apply anybody's undo: for ms, GETALL,
 * IPC_STAT and a plain +1/-1 on semaphore num; checks every GETALL. */
static void churn_set(const struct sem_impl *o, int id, int num, const unsigned short *want,
		      int n, long ms, const char *what)
{
	int64_t end = now_ms() + ms;
	int bad = 0;
	do {
		unsigned short got[16];
		struct semid_ds ds;
		if (getall(o, id, got) == -1 || memcmp(got, want, (size_t)n * sizeof *got))
			bad++;
		union t_semun u = { .buf = &ds };
		T_OK(o->ctl(id, 0, IPC_STAT, u));
		struct sembuf b[2] = { { (unsigned short)num, 1, 0 }, { (unsigned short)num, -1, 0 } };
		T_OK(o->op(id, &b[0], 1));
		T_OK(o->op(id, &b[1], 1));
		sleep_ms(10);
	} while (now_ms() < end && !bad);
	if (bad)
		T_VALS(o, id, want, n, what);
}

/* ---- exit paths -------------------------------------------------------------------- */

enum leave { L_EXIT, L_RETURN, L__EXIT, L_SIGTERM, L_SIGSEGV, L_SIGABRT, L_SIGKILL, L_N };
static const char *const leave_name[L_N] = { "exit()",  "return from main", "_exit",
					     "SIGTERM", "SIGSEGV",          "abort()",
					     "SIGKILL" };
static const int leave_sig[L_N] = { 0, 0, 0, SIGTERM, SIGSEGV, SIGABRT, SIGKILL };

static const struct sembuf EXIT_OPS[3] = { { 0, -1, SEM_UNDO }, { 1, 2, SEM_UNDO },
					   { 2, -3, SEM_UNDO } };
static const unsigned short EXIT_INIT[3] = { 5, 0, 7 }, EXIT_HELD[3] = { 4, 2, 4 };

static void leave_child(void *arg)
{
	(void)arg;
	const struct sem_impl *o = U->o;
	U->r[0] = semop_n(o, U->id, EXIT_OPS, 3);
	U->e[0] = errno;
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	switch (U->mode) {
	case L_EXIT:
		exit(0);
	case L__EXIT:
		_exit(0);
	case L_SIGSEGV:
	case L_SIGABRT:
		die_by(leave_sig[U->mode]);
		break;
	default: /* SIGTERM, SIGKILL: sent by the parent */
		ASTORE(&U->cstage, 2);
		for (;;)
			pause();
	}
}

/* The first call after the child's death: check 0 = GETALL, 1 = semop, 2 = GETPID. */
static void check_restored(const struct sem_impl *o, int id, int check, pid_t child,
			   const char *what)
{
	if (check == 0 || check == 2) {
		if (check == 0)
			T_VALS(o, id, EXIT_INIT, 3, what);
		for (int i = 0; i < 3; i++) {
			int p = sempid(o, id, i);
			if (p != child)
				T_FAIL("[%s] %s: GETPID of semaphore %d is %d, want the dead child %d "
				       "(undo at exit sets sempid)", o->name, what, i, p, (int)child);
		}
		if (check == 2)
			T_VALS(o, id, EXIT_INIT, 3, what);
	} else {
		/* Needs every unit the undo returns, and s1 back at 0. */
		struct sembuf b[3] = { { 0, -5, IPC_NOWAIT }, { 1, 0, IPC_NOWAIT },
				       { 2, -7, IPC_NOWAIT } };
		if (o->op(id, b, 3) == -1) {
			T_FAIL("[%s] %s: semop taking the returned units right after waitpid: %s",
			       o->name, what, strerror(errno));
			T_VALS(o, id, EXIT_INIT, 3, what);
		} else {
			static const unsigned short zero[3];
			T_VALS(o, id, zero, 3, what);
		}
	}
}

static void exit_paths(const struct sem_impl *o)
{
	char what[160];
	for (int m = 0; m < L_N; m++)
		for (int check = 0; check < 3; check++) {
			reset_share(o);
			U->mode = m;
			int id = U->id = set_new(o, 3, EXIT_INIT);
			int pfd[2] = { -1, -1 }, qfd[2] = { -1, -1 };
			pid_t p;
			snprintf(what, sizeof what, "child left by %s, reaped, first call %s",
				 leave_name[m],
				 check == 1 ? "semop IPC_NOWAIT" : check ? "GETPID" : "GETALL");
			if (m == L_RETURN) {
				/* This program exec'd as a helper: ops, 'r', wait, return. */
				if (pipe(pfd) || pipe(qfd)) {
					T_FAIL("pipe: %s", strerror(errno));
					return;
				}
				char ids[32], rfd[16], wfd[16];
				snprintf(ids, sizeof ids, "%d", id);
				snprintf(rfd, sizeof rfd, "%d", qfd[0]);
				snprintf(wfd, sizeof wfd, "%d", pfd[1]);
				char *argv[] = { self_exe, "--helper", "return", (char *)o->name, ids,
						 rfd, wfd, NULL };
				p = spawn_exec(argv);
				close(pfd[1]);
				close(qfd[0]);
				char c = 0;
				if (read(pfd[0], &c, 1) != 1 || c != 'r')
					T_FAIL("[%s] helper did not report its semop", o->name);
			} else {
				p = spawn(leave_child, NULL, 20);
				wait_child(1, what);
				if (U->r[0] != 0)
					T_FAIL("[%s] child's semop: %s", o->name, strerror(U->e[0]));
			}
			T_VALS(o, id, EXIT_HELD, 3, "child holds its adjustments");
			/* sempid: ours now, so that the child's exit must set it again. */
			struct sembuf mine[6] = { { 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 },
						  { 0, -1, 0 }, { 1, -1, 0 }, { 2, -1, 0 } };
			T_OK(o->op(id, mine, 3));
			T_OK(o->op(id, mine + 3, 3));
			if (m == L_RETURN) {
				T_EQ(write(qfd[1], "x", 1), 1);
				close(qfd[1]);
				close(pfd[0]);
			} else {
				ASTORE(&U->stage, 1);
			}
			if (m == L_SIGTERM || m == L_SIGKILL) {
				wait_child(2, what);
				kill(p, leave_sig[m]);
			}
			reap(p, leave_sig[m], what);
			check_restored(o, id, check, p, what);
			set_rm(o, id);
		}
}

/* The child died, the parent has not reaped it yet: applied already. */
static void zombie(const struct sem_impl *o)
{
	for (int m = 0; m < 2; m++) {
		int mode = m ? L_SIGKILL : L_EXIT;
		reset_share(o);
		U->mode = mode;
		int id = U->id = set_new(o, 3, EXIT_INIT);
		pid_t p = spawn(leave_child, NULL, 20);
		wait_child(1, "zombie");
		T_VALS(o, id, EXIT_HELD, 3, "zombie: child holds its adjustments");
		ASTORE(&U->stage, 1);
		if (mode == L_SIGKILL) {
			wait_child(2, "zombie");
			kill(p, SIGKILL);
		}
		siginfo_t si;
		memset(&si, 0, sizeof si);
		while (waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT) == -1 && errno == EINTR)
			;
		T_EQ(si.si_pid, p);
		char what[128];
		snprintf(what, sizeof what, "child left by %s, a zombie not yet reaped",
			 leave_name[mode]);
		T_VALS(o, id, EXIT_INIT, 3, what);
		reap(p, mode == L_SIGKILL ? SIGKILL : 0, what);
		set_rm(o, id);
	}
}

/* Undo applied for a killed process changes neither sem_otime nor sem_ctime. */
static void killed_times(const struct sem_impl *o)
{
	reset_share(o);
	U->mode = L_SIGKILL;
	int id = U->id = set_new(o, 3, EXIT_INIT);
	pid_t p = spawn(leave_child, NULL, 20);
	wait_child(1, "killed_times");
	struct semid_ds before, after;
	union t_semun u = { .buf = &before };
	T_OK(o->ctl(id, 0, IPC_STAT, u));
	ASTORE(&U->stage, 1);
	wait_child(2, "killed_times");
	sem_next_second(time(NULL));
	time_t t_kill = time(NULL);
	kill(p, SIGKILL);
	reap(p, SIGKILL, "killed_times");
	u.buf = &after;
	T_OK(o->ctl(id, 0, IPC_STAT, u)); /* the first call after the death */
	T_VALS(o, id, EXIT_INIT, 3, "killed child's undo");
	/* exit_sem's update counts as an operation: sem_otime is the time of the death. */
	if (after.sem_otime < t_kill || after.sem_otime > time(NULL))
		T_FAIL("[%s] undo at death: sem_otime %ld -> %ld, want the time of the death %ld",
		       o->name, (long)before.sem_otime, (long)after.sem_otime, (long)t_kill);
	if (after.sem_ctime != before.sem_ctime)
		T_FAIL("[%s] undo at death changed sem_ctime: %ld -> %ld", o->name,
		       (long)before.sem_ctime, (long)after.sem_ctime);
	set_rm(o, id);
}

/* ---- clamping and ranges ----------------------------------------------------------- */

static void op_child(void *arg)
{
	/* U->v[0..2]: an operation {num, op} with SEM_UNDO, then wait, then leave by mode. */
	(void)arg;
	const struct sem_impl *o = U->o;
	int k = 0;
	while (ALOAD(&U->stage) < 99) {
		int s = ALOAD(&U->stage);
		if (s > k) {
			k = s;
			if (U->v[2 * k] == 999) /* leave */
				break;
			struct sembuf b = { (unsigned short)U->v[2 * k], (short)U->v[2 * k + 1],
					    SEM_UNDO | IPC_NOWAIT };
			U->r[k] = o->op(U->id, &b, 1);
			U->e[k] = errno;
			ASTORE(&U->cstage, k);
		}
		sleep_us(200);
	}
	if (U->mode == L_SIGKILL) {
		ASTORE(&U->cstage, 100);
		for (;;)
			pause();
	}
	exit(0);
}

/* The child does operation k (num, op, SEM_UNDO) and reports. */
static int child_op(int k, int num, int op)
{
	U->v[2 * k] = num;
	U->v[2 * k + 1] = op;
	ASTORE(&U->stage, k);
	if (!wait_child(k, "operation"))
		return -2;
	errno = U->e[k];
	return U->r[k];
}

static void child_leave(pid_t p, int k)
{
	U->v[2 * k] = 999;
	ASTORE(&U->stage, k);
	if (U->mode == L_SIGKILL) {
		wait_child(100, "leave");
		kill(p, SIGKILL);
		reap(p, SIGKILL, "child killed");
	} else {
		reap(p, 0, "child exited");
	}
}

static void clamp(const struct sem_impl *o)
{
	for (int mode = 0; mode < 2; mode++) {
		const char *how = mode ? "killed" : "exited";
		char what[128];
		/* At 0: +3 with undo, others take 7, undo -3 from 1. */
		reset_share(o);
		U->mode = mode ? L_SIGKILL : L_EXIT;
		int id = U->id = set_new(o, 1, (unsigned short[]){ 5 });
		pid_t p = spawn(op_child, NULL, 20);
		T_EQ(child_op(1, 0, 3), 0);
		T_EQ(semval(o, id, 0), 8);
		T_OK(sop1(o, id, 0, -7, 0));
		child_leave(p, 2);
		snprintf(what, sizeof what, "undo -3 of a child that %s, value 1: clamped at 0",
			 how);
		T_VALS(o, id, ((unsigned short[]){ 0 }), 1, what);
		set_rm(o, id);

		/* At 32767: -4 with undo, others add up to 32767, undo +4. */
		reset_share(o);
		U->mode = mode ? L_SIGKILL : L_EXIT;
		id = U->id = set_new(o, 1, (unsigned short[]){ 10 });
		p = spawn(op_child, NULL, 20);
		T_EQ(child_op(1, 0, -4), 0);
		T_OK(sop1(o, id, 0, SEM_MAXVAL - 6, 0));
		T_EQ(semval(o, id, 0), SEM_MAXVAL);
		child_leave(p, 2);
		snprintf(what, sizeof what, "undo +4 of a child that %s, value 32767: clamped",
			 how);
		T_VALS(o, id, ((unsigned short[]){ SEM_MAXVAL }), 1, what);
		set_rm(o, id);
	}
}

static void erange(const struct sem_impl *o)
{
	for (int mode = 0; mode < 2; mode++) {
		reset_share(o);
		U->mode = mode ? L_SIGKILL : L_EXIT;
		int id = U->id = set_new(o, 2, (unsigned short[]){ 0, 32760 });
		pid_t p = spawn(op_child, NULL, 20);
		/* Value over 32767: ERANGE, nothing changes. */
		T_EQ(child_op(1, 1, 8), -1);
		T_EQ(U->e[1], ERANGE);
		T_EQ(semval(o, id, 1), 32760);
		T_OK(sop1(o, id, 1, 7, 0)); /* exactly 32767 is fine */
		/* Adjustment down to -32768 exactly, one more is ERANGE. */
		T_EQ(child_op(2, 0, SEM_MAXVAL), 0); /* adj -32767 */
		T_OK(sop1(o, id, 0, -1, 0));
		T_EQ(child_op(3, 0, 1), 0); /* adj -32768 */
		T_OK(sop1(o, id, 0, -1, 0));
		T_EQ(child_op(4, 0, 1), -1); /* adj would be -32769 */
		T_EQ(U->e[4], ERANGE);
		T_EQ(semval(o, id, 0), SEM_MAXVAL - 1);
		/* Up: take 32766 (adj -2), then 32767 (adj 32765), then 3 more: 32768 is ERANGE. */
		T_EQ(child_op(5, 0, -(SEM_MAXVAL - 1)), 0);
		T_OK(sop1(o, id, 0, SEM_MAXVAL, 0));
		T_EQ(child_op(6, 0, -SEM_MAXVAL), 0);
		T_OK(sop1(o, id, 0, SEM_MAXVAL, 0));
		T_EQ(child_op(7, 0, -3), -1);
		T_EQ(U->e[7], ERANGE);
		T_EQ(child_op(8, 0, -2), 0); /* adj 32767: fine */
		T_EQ(semval(o, id, 0), SEM_MAXVAL - 2);
		child_leave(p, 9);
		/* 32765 + 32767, clamped; semaphore 1 untouched by undo. */
		T_VALS(o, id, ((unsigned short[]){ SEM_MAXVAL, SEM_MAXVAL }), 2,
		       mode ? "erange: child killed" : "erange: child exited");
		set_rm(o, id);
	}
}

/* ---- exec -------------------------------------------------------------------------- */

static void exec_child(void *arg)
{
	const char *prog = arg;
	const struct sem_impl *o = U->o;
	U->r[0] = sop1(o, U->id, 0, -1, SEM_UNDO);
	U->e[0] = errno;
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	if (!strcmp(prog, "sleep"))
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
	else
		execl("/bin/true", "true", (char *)NULL);
	_exit(127);
}

static void exec_keeps(const struct sem_impl *o)
{
	static const unsigned short init[2] = { 5, 0 }, held[2] = { 4, 0 };
	/* exec /bin/sleep: not applied while it sleeps, applied when it is killed. */
	reset_share(o);
	int id = U->id = set_new(o, 2, init);
	pid_t p = spawn(exec_child, "sleep", 30);
	wait_child(1, "exec sleep");
	T_EQ(U->r[0], 0);
	ASTORE(&U->stage, 1);
	if (!exe_is(p, "sleep", 5000))
		T_FAIL("[%s] child did not exec /bin/sleep", o->name);
	churn_set(o, id, 1, held, 2, 300, "exec'd /bin/sleep running: adjustment not applied");
	T_VALS(o, id, held, 2, "exec'd /bin/sleep running: adjustment not applied");
	kill(p, SIGKILL);
	reap(p, SIGKILL, "exec'd /bin/sleep killed");
	T_VALS(o, id, init, 2, "exec'd /bin/sleep killed and reaped: applied");
	set_rm(o, id);

	/* exec /bin/true: applied when it exits. */
	reset_share(o);
	id = U->id = set_new(o, 2, init);
	p = spawn(exec_child, "true", 30);
	wait_child(1, "exec true");
	ASTORE(&U->stage, 1);
	reap(p, 0, "exec'd /bin/true");
	T_VALS(o, id, init, 2, "exec'd /bin/true exited and reaped: applied");
	set_rm(o, id);

	/* This program exec'd: it adds its own adjustments to the ones it had. */
	for (int kill_it = 0; kill_it < 2; kill_it++) {
		reset_share(o);
		id = U->id = set_new(o, 2, init);
		int pfd[2], qfd[2];
		if (pipe(pfd) || pipe(qfd)) {
			T_FAIL("pipe: %s", strerror(errno));
			return;
		}
		p = mp_fork();
		if (p == 0) {
			alarm(30);
			if (sop1(o, id, 0, -1, SEM_UNDO) == -1)
				_exit(4);
			char ids[32], rfd[16], wfd[16];
			snprintf(ids, sizeof ids, "%d", id);
			snprintf(rfd, sizeof rfd, "%d", qfd[0]);
			snprintf(wfd, sizeof wfd, "%d", pfd[1]);
			char *argv[] = { self_exe, "--helper", "more", (char *)o->name, ids, rfd, wfd,
					 NULL };
			execv(self_exe, argv);
			_exit(127);
		}
		remember_kid(p);
		close(pfd[1]);
		close(qfd[0]);
		char c = 0;
		if (read(pfd[0], &c, 1) != 1 || c != 'r')
			T_FAIL("[%s] exec'd helper did not report", o->name);
		static const unsigned short both[2] = { 3, 1 };
		T_VALS(o, id, both, 2, "exec'd helper alive: before and after exec adjustments held");
		churn_set(o, id, 1, both, 2, 300, "exec'd helper alive, set in use");
		if (kill_it) {
			kill(p, SIGKILL);
			reap(p, SIGKILL, "exec'd helper killed");
		} else {
			T_EQ(write(qfd[1], "x", 1), 1);
			reap(p, 0, "exec'd helper exited");
		}
		close(qfd[1]);
		close(pfd[0]);
		T_VALS(o, id, init, 2,
		       kill_it ? "exec'd helper killed: both adjustments applied"
			       : "exec'd helper exited: both adjustments applied");
		set_rm(o, id);
	}
}

/* ---- fork -------------------------------------------------------------------------- */

static void fork_grandchild(int how)
{
	/* No adjustments inherited: leave without any semop, or after one of its own. */
	if (how == 3) {
		if (sop1(U->o, U->id, 0, -1, SEM_UNDO) == -1)
			_exit(5);
		ASTORE(&U->v[1], semval(U->o, U->id, 0));
		exit(0);
	}
	if (how == 0)
		exit(0);
	if (how == 1)
		_exit(0);
	ASTORE(&U->gpid, getpid());
	for (;;)
		pause();
}

static void fork_middle(void *arg)
{
	(void)arg;
	const struct sem_impl *o = U->o;
	struct sembuf b[2] = { { 0, -1, SEM_UNDO }, { 1, 3, SEM_UNDO } };
	T_OK(o->op(U->id, b, 2)); /* {10, 0} -> {9, 3} */
	static const unsigned short held[2] = { 9, 3 };
	for (int how = 0; how < 4; how++) {
		U->gpid = 0;
		pid_t g = mp_fork();
		if (g == 0) {
			alarm(10);
			fork_grandchild(how);
		}
		if (how == 2) {
			while (!ALOAD(&U->gpid))
				sleep_ms(1);
			kill(g, SIGKILL);
		}
		int st = mp_wait(g, "grandchild");
		if (how == 2 ? !WIFSIGNALED(st) : !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			T_FAIL("[%s] forked child (way %d): status 0x%x", o->name, how, st);
		if (how == 3)
			T_EQ(U->v[1], 8);
		char what[96];
		static const char *const ways[] = { "exit()", "_exit", "SIGKILL",
						    "its own semop -1 SEM_UNDO and exit()" };
		snprintf(what, sizeof what, "forked child left by %s: parent's adjustments stay",
			 ways[how]);
		T_VALS(o, U->id, held, 2, what);
	}
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	exit(t_failures ? 1 : 0);
}

static void fork_not_inherited(const struct sem_impl *o)
{
	static const unsigned short init[2] = { 10, 0 }, held[2] = { 9, 3 };
	reset_share(o);
	int id = U->id = set_new(o, 2, init);
	pid_t p = spawn(fork_middle, NULL, 30);
	wait_child(1, "fork");
	T_VALS(o, id, held, 2, "forked children gone, the parent still holds its adjustments");
	ASTORE(&U->stage, 1);
	reap(p, 0, "fork: the parent process");
	T_VALS(o, id, init, 2, "the parent process exited: its adjustments applied once");
	set_rm(o, id);
}

/* ---- several sets ------------------------------------------------------------------- */

static void many_sets_child(void *arg)
{
	(void)arg;
	const struct sem_impl *o = U->o;
	struct sembuf a[2] = { { 0, -2, SEM_UNDO }, { 2, 5, SEM_UNDO } };
	struct sembuf b[3] = { { 1, 1, SEM_UNDO }, { 4, 7, SEM_UNDO }, { 3, 0, SEM_UNDO } };
	struct sembuf b2[1] = { { 1, 2, SEM_UNDO } };
	struct sembuf c[1] = { { 0, -3, SEM_UNDO } };
	struct sembuf d[1] = { { 0, -1, 0 } };
	T_OK(o->op(U->id, a, 2));
	T_OK(o->op(U->id2, b, 3));
	T_OK(o->op(U->id2, b2, 1));
	T_OK(o->op(U->id3, c, 1));
	T_OK(o->op(U->id4, d, 1));
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	if (U->mode == L_SIGKILL) {
		ASTORE(&U->cstage, 2);
		for (;;)
			pause();
	}
	exit(t_failures ? 1 : 0);
}

static void many_sets(const struct sem_impl *o)
{
	static const unsigned short a0[3] = { 10, 10, 10 }, a1[3] = { 8, 10, 15 };
	static const unsigned short b0[5] = { 0, 0, 0, 0, 0 }, b1[5] = { 0, 3, 0, 0, 7 };
	static const unsigned short c0[1] = { 3 }, c1[1] = { 0 };
	static const unsigned short d0[1] = { 2 }, d1[1] = { 1 };
	for (int m = 0; m < 2; m++) {
		reset_share(o);
		U->mode = m ? L_SIGKILL : L_EXIT;
		U->id = set_new(o, 3, a0);
		U->id2 = set_new(o, 5, b0);
		U->id3 = set_new(o, 1, c0);
		U->id4 = set_new(o, 1, d0);
		pid_t p = spawn(many_sets_child, NULL, 20);
		wait_child(1, "many_sets");
		T_VALS(o, U->id, a1, 3, "many_sets: set A held");
		T_VALS(o, U->id2, b1, 5, "many_sets: set B held");
		T_VALS(o, U->id3, c1, 1, "many_sets: set C held");
		T_VALS(o, U->id4, d1, 1, "many_sets: set D (no SEM_UNDO)");
		ASTORE(&U->stage, 1);
		if (m) {
			wait_child(2, "many_sets");
			kill(p, SIGKILL);
		}
		reap(p, m ? SIGKILL : 0, "many_sets");
		const char *w = m ? "many_sets: child killed" : "many_sets: child exited";
		T_VALS(o, U->id, a0, 3, w);
		T_VALS(o, U->id2, b0, 5, w);
		T_VALS(o, U->id3, c0, 1, w);
		T_VALS(o, U->id4, d1, 1, w);
		set_rm(o, U->id);
		set_rm(o, U->id2);
		set_rm(o, U->id3);
		set_rm(o, U->id4);
	}
}

/* ---- many operations add up --------------------------------------------------------- */

#define ACC_NSEMS 4
#define ACC_OPS 1500
#define ACC_INIT 10000
static long acc_ok[2][2]; /* [kernel?][mode]: operations accepted */

static void accumulate_child(void *arg)
{
	(void)arg;
	const struct sem_impl *o = U->o;
	long undo[ACC_NSEMS] = { 0 }, plain[ACC_NSEMS] = { 0 };
	uint64_t rng = 0x5eed0000u + (uint64_t)U->mode;
	long ok = 0;
	for (int i = 0; i < ACC_OPS; i++) {
		struct sembuf b[3];
		int n = 1 + (int)(t_mix64(rng++) % 3);
		int used = 0;
		int k = 0;
		for (int j = 0; j < n; j++) {
			uint64_t r = t_mix64(rng++);
			int num = (int)(r % ACC_NSEMS);
			if (used & (1 << num))
				continue;
			used |= 1 << num;
			int mag = 1 + (int)((r >> 8) % 3);
			int op = (r >> 16) & 1 ? mag : -mag;
			int flg = IPC_NOWAIT | ((r >> 17) % 3 ? SEM_UNDO : 0);
			b[k++] = (struct sembuf){ (unsigned short)num, (short)op, (short)flg };
		}
		if (o->op(U->id, b, (size_t)k) == -1) {
			if (errno != EAGAIN)
				T_FAIL("[%s] accumulate: semop: %s", o->name, strerror(errno));
			continue;
		}
		ok++;
		for (int j = 0; j < k; j++)
			(b[j].sem_flg & SEM_UNDO ? undo : plain)[b[j].sem_num] += b[j].sem_op;
	}
	for (int s = 0; s < ACC_NSEMS; s++) {
		U->v[s] = ACC_INIT + undo[s] + plain[s];
		U->v[8 + s] = ACC_INIT + plain[s];
	}
	U->v[15] = ok;
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	if (U->mode) {
		ASTORE(&U->cstage, 2);
		for (;;)
			pause();
	}
	exit(t_failures ? 1 : 0);
}

static void accumulate(const struct sem_impl *o)
{
	for (int m = 0; m < 2; m++) {
		reset_share(o);
		U->mode = m;
		unsigned short init[ACC_NSEMS], alive[ACC_NSEMS], after[ACC_NSEMS];
		for (int s = 0; s < ACC_NSEMS; s++)
			init[s] = ACC_INIT;
		int id = U->id = set_new(o, ACC_NSEMS, init);
		pid_t p = spawn(accumulate_child, NULL, 30);
		wait_child(1, "accumulate");
		for (int s = 0; s < ACC_NSEMS; s++) {
			alive[s] = (unsigned short)U->v[s];
			after[s] = (unsigned short)U->v[8 + s];
		}
		acc_ok[o->kernel][m] = U->v[15];
		T_VALS(o, id, alive, ACC_NSEMS, "accumulate: process alive, every operation counts");
		ASTORE(&U->stage, 1);
		if (m) {
			wait_child(2, "accumulate");
			kill(p, SIGKILL);
		}
		reap(p, m ? SIGKILL : 0, "accumulate");
		T_VALS(o, id, after, ACC_NSEMS,
		       m ? "accumulate: killed, only plain operations remain"
			 : "accumulate: exited, only plain operations remain");
		if (!o->kernel && acc_ok[1][m] && acc_ok[1][m] != acc_ok[0][m])
			T_FAIL("accumulate: the kernel accepted %ld of %d operations, svipc %ld",
			       acc_ok[1][m], ACC_OPS, acc_ok[0][m]);
		set_rm(o, id);
	}
}

/* ---- removed and re-created --------------------------------------------------------- */

static void rmid_child(void *arg)
{
	(void)arg;
	const struct sem_impl *o = U->o;
	struct sembuf b[2] = { { 0, -1, SEM_UNDO }, { 1, 1, SEM_UNDO } };
	T_OK(o->op(U->id, b, 2));
	ASTORE(&U->cstage, 1);
	wait_parent(1);
	/* The old set is gone; a new adjustment on the new one. */
	struct sembuf c = { 0, -1, SEM_UNDO | IPC_NOWAIT };
	U->r[1] = o->op(U->id, &c, 1);
	U->e[1] = errno;
	struct sembuf d = { 0, -2, SEM_UNDO };
	U->r[2] = o->op(U->id2, &d, 1);
	U->e[2] = errno;
	ASTORE(&U->cstage, 2);
	wait_parent(2);
	if (U->mode) {
		ASTORE(&U->cstage, 3);
		for (;;)
			pause();
	}
	exit(t_failures ? 1 : 0);
}

static void rmid_recreate(const struct sem_impl *o)
{
	for (int m = 0; m < 2; m++) {
		reset_share(o);
		U->mode = m;
		key_t key = sem_free_key();
		int a = U->id = set_new_key(o, key, 2, IPC_EXCL | 0600);
		T_OK(setall(o, a, (unsigned short[]){ 5, 5 }));
		pid_t p = spawn(rmid_child, NULL, 20);
		wait_child(1, "rmid_recreate");
		T_VALS(o, a, ((unsigned short[]){ 4, 6 }), 2, "old set, child's adjustments held");
		set_rm(o, a);
		int b = U->id2 = set_new_key(o, key, 2, IPC_EXCL | 0600);
		/* Values by plain semop, not SETALL (which would clear adjustments). */
		struct sembuf up[2] = { { 0, 5, 0 }, { 1, 5, 0 } };
		T_OK(o->op(b, up, 2));
		ASTORE(&U->stage, 1);
		wait_child(2, "rmid_recreate");
		if (U->r[1] != -1 || U->e[1] != EINVAL)
			T_FAIL("[%s] semop on the removed set: %d (%s), want EINVAL", o->name,
			       U->r[1], strerror(U->e[1]));
		T_EQ(U->r[2], 0);
		T_VALS(o, b, ((unsigned short[]){ 3, 5 }), 2, "new set, child's new adjustment");
		ASTORE(&U->stage, 2);
		if (m) {
			wait_child(3, "rmid_recreate");
			kill(p, SIGKILL);
		}
		reap(p, m ? SIGKILL : 0, "rmid_recreate");
		T_VALS(o, b, ((unsigned short[]){ 5, 5 }), 2,
		       m ? "new set after the child was killed: only its new adjustment undone"
			 : "new set after the child exited: only its new adjustment undone");
		set_rm(o, b);
	}
}

/* ---- threads ------------------------------------------------------------------------ */

struct tjob {
	const struct sem_impl *o;
	int id;
	int step;
	int r[4], e[4];
};

static void *thread_a(void *arg)
{
	struct tjob *j = arg;
	struct sembuf b[2] = { { 0, -20000, SEM_UNDO }, { 1, -1, SEM_UNDO } };
	j->r[0] = j->o->op(j->id, b, 2);
	j->e[0] = errno;
	return NULL;
}

static void *thread_b(void *arg)
{
	struct tjob *j = arg;
	if (j->step == 0) {
		struct sembuf b[2] = { { 0, -10000, SEM_UNDO }, { 1, -1, SEM_UNDO } };
		j->r[0] = j->o->op(j->id, b, 2);
		j->e[0] = errno;
	} else {
		/* The shared record holds +30000: -2768 would make it 32768. */
		struct sembuf b = { 0, -2768, SEM_UNDO | IPC_NOWAIT };
		j->r[1] = j->o->op(j->id, &b, 1);
		j->e[1] = errno;
		b.sem_op = -2767;
		j->r[2] = j->o->op(j->id, &b, 1);
		j->e[2] = errno;
	}
	return NULL;
}

/* Many threads at once: 100 x (-1, +1) each and a final -1, all with SEM_UNDO. */
static void *thread_many(void *arg)
{
	struct tjob *j = arg;
	for (int i = 0; i < 100; i++) {
		if (sop1(j->o, j->id, 2, -1, SEM_UNDO) == -1 || sop1(j->o, j->id, 2, 1, SEM_UNDO) == -1)
			j->e[3]++;
	}
	if (sop1(j->o, j->id, 2, -1, SEM_UNDO) == -1)
		j->e[3]++;
	return NULL;
}

static void *thread_sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void threads_child(void *arg)
{
	(void)arg;
	struct tjob ja = { .o = U->o, .id = U->id }, jb = ja, jm[8];
	pthread_t ta, tb, tm[8], ts;
	pthread_create(&ta, NULL, thread_a, &ja);
	pthread_join(ta, NULL);
	pthread_create(&tb, NULL, thread_b, &jb);
	pthread_join(tb, NULL);
	for (int i = 0; i < 8; i++) {
		jm[i] = ja;
		jm[i].e[3] = 0;
		pthread_create(&tm[i], NULL, thread_many, &jm[i]);
	}
	int errs = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(tm[i], NULL);
		errs += jm[i].e[3];
	}
	U->r[0] = ja.r[0];
	U->e[0] = ja.e[0];
	U->r[1] = jb.r[0];
	U->e[1] = jb.e[0];
	U->r[6] = errs;
	ASTORE(&U->cstage, 1); /* threads a, b and the 8 are gone */
	wait_parent(1);
	jb.step = 1;
	pthread_create(&tb, NULL, thread_b, &jb);
	pthread_join(tb, NULL);
	U->r[2] = jb.r[1];
	U->e[2] = jb.e[1];
	U->r[3] = jb.r[2];
	U->e[3] = jb.e[2];
	pthread_create(&ts, NULL, thread_sleeper, NULL); /* alive when the process goes */
	ASTORE(&U->cstage, 2);
	wait_parent(2);
	if (U->mode) {
		ASTORE(&U->cstage, 3);
		for (;;)
			pause();
	}
	exit(0); /* from the main thread while thread_sleeper runs */
}

static void threads_share(const struct sem_impl *o)
{
	for (int m = 0; m < 2; m++) {
		reset_share(o);
		U->mode = m;
		int id = U->id = set_new(o, 3, (unsigned short[]){ 30000, 5, 20 });
		pid_t p = spawn(threads_child, NULL, 30);
		wait_child(1, "threads");
		T_EQ(U->r[0], 0);
		T_EQ(U->r[1], 0);
		T_EQ(U->r[6], 0);
		T_VALS(o, id, ((unsigned short[]){ 0, 3, 12 }), 3,
		       "threads that did SEM_UNDO operations have exited: nothing applied");
		T_OK(sop1(o, id, 0, 5000, 0));
		ASTORE(&U->stage, 1);
		wait_child(2, "threads");
		if (U->r[2] != -1 || U->e[2] != ERANGE)
			T_FAIL("[%s] a thread's semop taking the process's adjustment to 32768: "
			       "%d (%s), want ERANGE (the threads share one record)", o->name,
			       U->r[2], strerror(U->e[2]));
		T_EQ(U->r[3], 0);
		T_VALS(o, id, ((unsigned short[]){ 2233, 3, 12 }), 3, "threads: before exit");
		ASTORE(&U->stage, 2);
		if (m) {
			wait_child(3, "threads");
			kill(p, SIGKILL);
		}
		reap(p, m ? SIGKILL : 0, "threads");
		/* 2233 + 32767 clamped; +2; +8. */
		T_VALS(o, id, ((unsigned short[]){ SEM_MAXVAL, 5, 20 }), 3,
		       m ? "threads: process killed, one record applied"
			 : "threads: process exited, one record applied");
		set_rm(o, id);
	}
}

/* ---- SETVAL and SETALL clear adjustments --------------------------------------------- */

static void setval_child(void *arg)
{
	int which = (int)(intptr_t)arg;
	const struct sem_impl *o = U->o;
	if (which == 1) {
		struct sembuf b[3] = { { 0, -2, SEM_UNDO }, { 1, -2, SEM_UNDO }, { 2, -2, SEM_UNDO } };
		T_OK(o->op(U->id, b, 3));
	} else if (which == 2) {
		struct sembuf b[2] = { { 0, -1, SEM_UNDO }, { 1, -1, SEM_UNDO } };
		T_OK(o->op(U->id, b, 2));
	} else {
		struct sembuf b[3] = { { 0, -1, SEM_UNDO }, { 1, -1, SEM_UNDO }, { 2, 1, SEM_UNDO } };
		T_OK(o->op(U->id, b, 3));
	}
	AADD(&U->cstage, 1);
	wait_parent(which == 1 ? 1 : 9);
	if (which == 1) {
		T_OK(sop1(o, U->id, 0, -1, SEM_UNDO)); /* after SETVAL: adj 0 + 1 */
		AADD(&U->cstage, 1);
		wait_parent(2);
		exit(t_failures ? 1 : 0);
	}
	for (;;)
		pause(); /* killed */
}

static void setval_setall(const struct sem_impl *o)
{
	reset_share(o);
	int id = U->id = set_new(o, 3, (unsigned short[]){ 5, 5, 5 });
	pid_t c1 = spawn(setval_child, (void *)1, 20);
	wait_child(1, "setval");
	pid_t c2 = spawn(setval_child, (void *)2, 20);
	wait_child(2, "setval");
	T_VALS(o, id, ((unsigned short[]){ 2, 2, 3 }), 3, "two children hold adjustments");
	T_OK(setval(o, id, 0, 7));
	ASTORE(&U->stage, 1);
	wait_child(3, "setval");
	T_VALS(o, id, ((unsigned short[]){ 6, 2, 3 }), 3, "after SETVAL and one more -1");
	ASTORE(&U->stage, 2);
	reap(c1, 0, "setval: first child exited");
	T_VALS(o, id, ((unsigned short[]){ 7, 4, 5 }), 3,
	       "SETVAL cleared semaphore 0's adjustment of the first child, not its later one");
	kill(c2, SIGKILL);
	reap(c2, SIGKILL, "setval: second child killed");
	T_VALS(o, id, ((unsigned short[]){ 7, 5, 5 }), 3,
	       "SETVAL cleared semaphore 0's adjustment of the second child too");

	/* SETALL clears every adjustment. */
	U->cstage = 0;
	pid_t c3 = spawn(setval_child, (void *)3, 20);
	wait_child(1, "setall");
	T_VALS(o, id, ((unsigned short[]){ 6, 4, 6 }), 3, "third child holds adjustments");
	T_OK(setall(o, id, (unsigned short[]){ 1, 1, 1 }));
	kill(c3, SIGKILL);
	reap(c3, SIGKILL, "setall: child killed");
	T_VALS(o, id, ((unsigned short[]){ 1, 1, 1 }), 3, "SETALL cleared every adjustment");
	set_rm(o, id);
}

/* ---- a killed holder releases a blocked waiter ---------------------------------------- */

#define LAT_ROUNDS 12
#define LAT_LONG 3 /* rounds more, where the waiter has waited 1.5 s before the kill */
static int64_t lat_ns[2][LAT_ROUNDS + LAT_LONG]; /* [kernel?] */

/* kind 0: waiter semop -1, 1: semtimedop -1, 2: wait-for-zero (the holder raised it). */
static void holder_child(void *arg)
{
	int kind = (int)(intptr_t)arg;
	T_OK(sop1(U->o, U->id, 0, kind == 2 ? 1 : -1, SEM_UNDO));
	ASTORE(&U->cstage, 1);
	for (;;)
		pause();
}

static void waiter_child(void *arg)
{
	int kind = (int)(intptr_t)arg;
	struct sembuf b = { 0, kind == 2 ? 0 : -1, 0 };
	ASTORE(&U->t_start_ns, now_ns());
	ASTORE(&U->v[0], 1);
	int r;
	if (kind == 1) {
		struct timespec ts = ts_ms(10000);
		r = U->o->timedop(U->id, &b, 1, &ts);
	} else {
		r = U->o->op(U->id, &b, 1);
	}
	U->t_end_ns = now_ns();
	U->r[0] = r;
	U->e[0] = errno;
	ASTORE(&U->done, 1);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void kill_releases_waiter(const struct sem_impl *o)
{
	int64_t *lat = lat_ns[o->kernel];
	for (int round = 0; round < LAT_ROUNDS + LAT_LONG; round++) {
		int kind = round % 3;
		reset_share(o);
		int id = U->id = set_new(o, 1, (unsigned short[]){ kind == 2 ? 0 : 1 });
		pid_t h = spawn(holder_child, (void *)(intptr_t)kind, 20);
		wait_child(1, "holder");
		pid_t w = spawn(waiter_child, (void *)(intptr_t)kind, 20);
		int64_t end = now_ms() + 5000;
		while (ncnt(o, id, 0) + zcnt(o, id, 0) != 1 && now_ms() < end)
			sleep_ms(1);
		if (!wait_state(w, "S", 5000))
			T_FAIL("[%s] waiter never slept", o->name);
		/* At various moments of svipc's re-check slices, which grow as it waits. */
		sleep_ms(round < LAT_ROUNDS ? 20 + round * 7 : 1500);
		if (ALOAD(&U->done))
			T_FAIL("[%s] waiter returned before the holder died: %d (%s)", o->name,
			       U->r[0], strerror(U->e[0]));
		int64_t t_kill = now_ns();
		kill(h, SIGKILL);
		/* Nobody touches the set: the waiter must notice on its own. */
		while (!ALOAD(&U->done) && now_ns() - t_kill < 5000000000LL)
			sleep_us(100);
		lat[round] = ALOAD(&U->done) ? U->t_end_ns - t_kill : 5000000000LL;
		if (!ALOAD(&U->done))
			T_FAIL("[%s] waiter (%s) still blocked 5 s after the holder was killed",
			       o->name, kind == 1 ? "semtimedop" : kind ? "wait-for-zero" : "semop");
		reap(h, SIGKILL, "holder killed");
		if (!ALOAD(&U->done))
			kill(w, SIGKILL);
		reap(w, ALOAD(&U->done) ? 0 : SIGKILL, "waiter");
		T_EQ(U->r[0], 0);
		T_VALS(o, id, ((unsigned short[]){ 0 }), 1, "the waiter took the returned unit");
		T_EQ(ncnt(o, id, 0) + zcnt(o, id, 0), 0);
		set_rm(o, id);
	}
	int64_t s[LAT_ROUNDS], l[LAT_LONG];
	memcpy(s, lat, sizeof s);
	memcpy(l, lat + LAT_ROUNDS, sizeof l);
	qsort(s, LAT_ROUNDS, sizeof s[0], cmp64);
	qsort(l, LAT_LONG, sizeof l[0], cmp64);
	printf("[%s] waiter released after its holder's SIGKILL: min %.3f ms, median %.3f ms, "
	       "max %.3f ms (%d rounds, killed 20-100 ms into the wait); max %.3f ms when killed "
	       "1.5 s into the wait (%d rounds)\n", o->name, s[0] / 1e6, s[LAT_ROUNDS / 2] / 1e6,
	       s[LAT_ROUNDS - 1] / 1e6, LAT_ROUNDS, l[LAT_LONG - 1] / 1e6, LAT_LONG);
	if (s[LAT_ROUNDS / 2] > 300000000LL || s[LAT_ROUNDS - 1] > 1000000000LL ||
	    l[LAT_LONG - 1] > 1000000000LL)
		T_FAIL("[%s] release after a holder's death too slow: median %.1f ms, max %.1f ms, "
		       "after a long wait %.1f ms", o->name, s[LAT_ROUNDS / 2] / 1e6,
		       s[LAT_ROUNDS - 1] / 1e6, l[LAT_LONG - 1] / 1e6);
}

/* ---- counts right after a death ------------------------------------------------------ */

/*
 * The kernel applies a dying process's undo in exit(), and completes the
 * waiters it lets through there: once waitpid returned, GETNCNT / GETZCNT
 * (asked first) no longer count them.
 */
static void counts_after_death(const struct sem_impl *o)
{
	for (int kind = 0; kind < 3; kind += 2) { /* holder_child / waiter_child kinds */
		reset_share(o);
		int id = U->id = set_new(o, 1, (unsigned short[]){ kind == 2 ? 0 : 1 });
		pid_t h = spawn(holder_child, (void *)(intptr_t)kind, 20);
		wait_child(1, "counts_after_death: holder");
		pid_t w = spawn(waiter_child, (void *)(intptr_t)kind, 20);
		int64_t end = now_ms() + 5000;
		while (ncnt(o, id, 0) + zcnt(o, id, 0) != 1 && now_ms() < end)
			sleep_ms(1);
		if (!wait_state(w, "S", 5000))
			T_FAIL("[%s] waiter never slept", o->name);
		sleep_ms(30);
		kill(h, SIGKILL);
		reap(h, SIGKILL, "counts_after_death: holder");
		int n = kind == 2 ? zcnt(o, id, 0) : ncnt(o, id, 0);
		if (n != 0)
			T_FAIL("[%s] right after the holder was killed and reaped: %s %d, want 0 (its "
			       "undo let the waiter through at its death)", o->name,
			       kind == 2 ? "GETZCNT" : "GETNCNT", n);
		if (!wait_flag(&U->done, 5000)) {
			T_FAIL("[%s] counts_after_death: the waiter was not let through", o->name);
			kill(w, SIGKILL);
			reap(w, SIGKILL, "counts_after_death: waiter");
		} else {
			reap(w, 0, "counts_after_death: waiter");
			T_EQ(U->r[0], 0);
		}
		T_VALS(o, id, ((unsigned short[]){ 0 }), 1, "counts_after_death");
		set_rm(o, id);
	}
}

/* ---- many processes with adjustments on one big set ---------------------------------- */

#define MANY_NSEMS 32000 /* SEMMSL, the largest set the kernel allows by default */
#define MANY_PROCS 300

static void many_child(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct sembuf b[2] = { { 0, -1, SEM_UNDO },
			       { (unsigned short)(1 + i * 97 % (MANY_NSEMS - 1)), 1, SEM_UNDO } };
	if (U->o->op(U->id, b, 2) == -1) {
		AADD(&U->r[1], 1); /* failures */
		ASTORE(&U->e[1], errno);
	}
	AADD(&U->cstage, 1);
	for (;;)
		pause();
}

/*
 * MANY_PROCS live processes each hold adjustments on a set of MANY_NSEMS
 * semaphores: the kernel keeps an undo structure per process and set with no
 * limit but memory, so every semop succeeds; all are undone when they are
 * killed.
 */
static void many_processes(const struct sem_impl *o)
{
	reset_share(o);
	int id = U->id = set_new(o, MANY_NSEMS, NULL);
	T_OK(setval(o, id, 0, 1000));
	static pid_t pids[MANY_PROCS];
	int n = 0;
	for (; n < MANY_PROCS; n++) {
		pids[n] = spawn(many_child, (void *)(intptr_t)n, 60);
		if (pids[n] <= 0)
			break;
	}
	if (!wait_flag_ge(&U->cstage, n, 30000))
		T_FAIL("[%s] many_processes: %d of %d children got through their semop", o->name,
		       ALOAD(&U->cstage), n);
	if (U->r[1])
		T_FAIL("[%s] many_processes: %d of %d processes with SEM_UNDO on a set of %d "
		       "semaphores failed: %s (the kernel has no such limit)", o->name, U->r[1], n,
		       MANY_NSEMS, strerror(U->e[1]));
	T_EQ(semval(o, id, 0), 1000 - (n - U->r[1]));
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		reap(pids[i], SIGKILL, "many_processes");
	T_EQ(semval(o, id, 0), 1000);
	int bad = 0;
	for (int i = 0; i < n && !bad; i++)
		bad = semval(o, id, 1 + i * 97 % (MANY_NSEMS - 1)) != 0;
	if (bad)
		T_FAIL("[%s] many_processes: an adjustment of a killed process left behind", o->name);
	set_rm(o, id);
}

/* ---- the exec'd helper ------------------------------------------------------------- */

static int helper_main(int argc, char **argv)
{
	/* --helper <what> <kernel|svipc> <id> <rfd> <wfd> */
	if (argc < 7)
		return 2;
	signal(SIGALRM, SIG_DFL);
	alarm(30);
	const struct sem_impl *o = strcmp(argv[3], "kernel") ? &SEM_S : &SEM_K;
	int id = atoi(argv[4]), rfd = atoi(argv[5]), wfd = atoi(argv[6]);
	if (!strcmp(argv[2], "return")) {
		if (semop_n(o, id, EXIT_OPS, 3) == -1)
			return 4;
	} else if (!strcmp(argv[2], "more")) {
		struct sembuf b[2] = { { 0, -1, SEM_UNDO }, { 1, 1, SEM_UNDO } };
		if (o->op(id, b, 2) == -1)
			return 4;
	} else {
		return 2;
	}
	if (write(wfd, "r", 1) != 1)
		return 5;
	char c;
	while (read(rfd, &c, 1) == -1 && errno == EINTR)
		;
	return 0; /* from main: exit() runs */
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	self_exe[n] = 0;
	if (argc > 1 && !strcmp(argv[1], "--helper"))
		return helper_main(argc, argv);
	sem_setup(200);
	no_core();
	U = shared_alloc(sizeof *U);
	const struct sem_impl *impls[2];
	int ni = sem_impls(impls);
	for (int k = 0; k < ni; k++) {
		const struct sem_impl *o = impls[k];
		int before = t_failures;
		int64_t t0 = now_ms();
		sem_once(exit_paths, o, "exit_paths");
		sem_once(zombie, o, "zombie");
		sem_once(killed_times, o, "killed_times");
		sem_once(clamp, o, "clamp");
		sem_once(erange, o, "erange");
		sem_once(exec_keeps, o, "exec");
		sem_once(fork_not_inherited, o, "fork");
		sem_once(many_sets, o, "many_sets");
		sem_once(accumulate, o, "accumulate");
		sem_once(rmid_recreate, o, "rmid_recreate");
		sem_once(threads_share, o, "threads");
		sem_once(setval_setall, o, "setval_setall");
		sem_once(counts_after_death, o, "counts_after_death");
		sem_once(many_processes, o, "many_processes");
		sem_retry3(kill_releases_waiter, o, "kill_releases_waiter");
		printf("[%s] done in %lld ms, %d failure(s)\n", o->name, (long long)(now_ms() - t0),
		       t_failures - before);
		fflush(stdout);
	}
	return t_done();
}

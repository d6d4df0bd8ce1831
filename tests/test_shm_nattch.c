/*
 * test_shm_nattch.c - shm_nattch (and shm_lpid / shm_atime / shm_dtime) at
 * every moment, across attaches, threads, fork, exec, exit and SIGKILL.
 *
 * Every scenario runs twice, first on the kernel's System V segments
 * (IPC_PRIVATE, removed at the end and on timeout) as the reference that
 * validates this file's expectations, then on svipc; both must give the
 * answers written here:
 *  - attach_counts: +1 per shmat, the same process attaching twice counts 2,
 *    SHM_RDONLY counts; failed shmat / shmdt (bad id, misaligned address,
 *    an address inside a segment, an already detached address) change
 *    nothing; two attachments in one process see the same bytes;
 *  - fork_*: a child inherits its parent's attachment and it counts: 2 right
 *    after fork() returns, in the parent and in the child; a further shmat /
 *    shmdt in the child gives 3 / 2; the parent's write right after fork is
 *    seen by the child, the child's write by the parent (the mapping stays
 *    shared after the child re-registers). Then the child leaves by shmdt,
 *    by _exit without shmdt, by exit() without shmdt (svipc: library
 *    destructor), by SIGKILL while attached, or by exec of /bin/true; the
 *    count returns to 1 (polled up to 2 s after the child is reaped);
 *  - exec: a child that execs /bin/sleep stops counting while it lives; a
 *    failed exec keeps its attachment counted; posix_spawn of /bin/sleep by
 *    an attached process changes nothing;
 *  - grandchild: double fork, the middle child _exits attached; the
 *    grandchild counts (3, then 2), shares data both ways, detaches (1);
 *  - threads: 8 threads attach / detach concurrently (some twice), each
 *    checking the data through its own and the main thread's attachment;
 *    the count seen meanwhile stays within bounds and returns to 1 exactly;
 *  - fork_while_threads: children forked while threads attach and detach can
 *    use the segment (no hang) and leave by _exit or exit(); afterwards 1;
 *  - fork_keep_while_threads: 24 children forked at random moments while 8
 *    threads attach and detach stay alive and count their own mappings of
 *    the segment in /proc/self/maps; shm_nattch == 1 + their total (a
 *    mapping a thread had just made or was just undoing counts, as in the
 *    kernel); each child can shmdt every attachment it inherited, after
 *    which the count is 1;
 *  - many_killed: 50 children attach and detach in a loop and end attached,
 *    half of them are SIGKILLed at random moments (some inside shmat or
 *    shmdt or before their first call); afterwards shm_nattch == 1 + 2 x
 *    the number still alive (each has its inherited attachment and its
 *    own), and 1 once they are killed too;
 *  - times_lpid: shm_cpid, shm_lpid, shm_atime, shm_dtime, shm_ctime after
 *    shmget, shmat, shmdt by the parent and by a child, after an attached
 *    child's normal exit (kernel: exit detaches; svipc: the destructor), and
 *    after a shmat / shmdt that follows a child's death while attached (the
 *    later call's pid, not the dead child's);
 *  - munmap_not_shmdt: munmap of an attachment detaches it (nattch 0);
 *    private memory then mapped at that address is left alone by fork (the
 *    child sees it, nattch stays 0) and by shmdt (EINVAL);
 *  - closed_fds: a child that closes every descriptor above 2 (as a daemon
 *    does), svipc's included, and then calls shmget is counted (the README
 *    promises such a process is registered again at its next msgget; the
 *    same is expected of shmget), and its shmdt then counts.
 * A note (not a failure) compares with the kernel what a library cannot
 * see: shm_lpid / shm_atime at fork and shm_lpid / shm_dtime at SIGKILL.
 *
 * Synchronisation with children goes through an anonymous MAP_SHARED page,
 * never through the segment under test. Every scenario is bounded by the
 * test's alarm and each child by its own; every child is reaped (the test is
 * a child subreaper so that the grandchild is reaped too).
 */
#include "svipc.h"
#include "t.h"

#include <pthread.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "shm_mp.h"

extern char **environ;

/* The page shared with the children. */
struct fshare {
	int id;
	const struct shm_impl *o;
	char *addr;
	int mode;
	int stage;  /* parent -> children */
	int cstage; /* child -> parent */
	int gstage; /* grandchild -> parent */
	long n_child_start, n_child_more, n_child_after, n_child_dt, n_exec_failed;
	long n_grand_start, n_grand_dt;
	pid_t pid, gpid;
	time_t t0, t1, t2, t3;
	key_t key;
	int ready[64];
	int res[64];
};

static struct fshare *F;

/*
 * The opening most scenarios share: names the scenario for the timeout
 * message, makes a segment and attaches it once, and points F (cleared) at
 * both for the children. Returns the attachment, or SHM_FAILED after a
 * failed check (the scenario then stops).
 */
static char *begin_attached(const struct shm_impl *o, const char *name, size_t size, int *id)
{
	mp_scenario = name;
	*id = seg_new(o, size);
	char *a = o->at(*id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return a;
	memset(F, 0, sizeof *F);
	F->o = o;
	F->id = *id;
	F->addr = a;
	return a;
}

/* The closing: the parent's attachment a goes, nothing is left attached, the
 * segment is removed. */
static void end_detached(const struct shm_impl *o, int id, char *a, const char *what)
{
	T_OK(o->dt(a));
	T_NATTCH(o, id, 0, what);
	seg_rm(o, id);
}

/* One more attachment (flags flg) while it lasts: the string at off reads
 * `text` through it and shm_nattch is n. */
static void attach_again(const struct shm_impl *o, int id, int flg, size_t off, const char *text,
			 long n, const char *what)
{
	char *b = o->at(id, NULL, flg);
	T_ASSERT(b != SHM_FAILED);
	if (b != SHM_FAILED) {
		T_ASSERT(strcmp(b + off, text) == 0);
		T_NATTCH(o, id, n, what);
		T_OK(o->dt(b));
	}
}

/* SIGKILLs every child in pids (but those marked in skip, if given), then
 * reaps them all. */
static void kill_and_reap(const pid_t *pids, const int *skip, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!skip || !skip[i])
			kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		if (!skip || !skip[i])
			reap(pids[i], SIGKILL, what);
}

/* ---- attach counts in one process ------------------------------------------------ */

static void attach_counts(const struct shm_impl *o)
{
	mp_scenario = "attach_counts";
	int id = seg_new(o, 3 * 4096 + 100);
	T_NATTCH(o, id, 0, "new segment");
	char *a1 = o->at(id, NULL, 0);
	T_ASSERT(a1 != SHM_FAILED);
	T_NATTCH(o, id, 1, "one shmat");
	char *a2 = o->at(id, NULL, 0);
	T_ASSERT(a2 != SHM_FAILED && a2 != a1);
	T_NATTCH(o, id, 2, "the same process attached twice");
	char *a3 = o->at(id, NULL, SHM_RDONLY);
	T_ASSERT(a3 != SHM_FAILED);
	T_NATTCH(o, id, 3, "third attachment (SHM_RDONLY)");
	if (a1 == SHM_FAILED || a2 == SHM_FAILED || a3 == SHM_FAILED)
		return;
	strcpy(a1 + 5000, "written via a1");
	T_ASSERT(strcmp(a2 + 5000, "written via a1") == 0);
	T_ASSERT(strcmp(a3 + 5000, "written via a1") == 0);

	/* Failed calls change nothing. */
	T_ERR(o->at(-1, NULL, 0), EINVAL);
	T_ERR(o->at(id, (void *)0x10001, 0), EINVAL);
	T_ERR(o->dt(a1 + 4096), EINVAL);
	T_ERR(o->dt(a1 + 1), EINVAL);
	int local;
	T_ERR(o->dt(&local), EINVAL);
	T_NATTCH(o, id, 3, "after failed shmat/shmdt calls");

	T_OK(o->dt(a2));
	T_NATTCH(o, id, 2, "after one shmdt");
	T_ERR(o->dt(a2), EINVAL);
	T_NATTCH(o, id, 2, "after a second shmdt of the same address");
	T_OK(o->dt(a3));
	T_NATTCH(o, id, 1, "after shmdt of the read-only attachment");
	T_ASSERT(strcmp(a1 + 5000, "written via a1") == 0);
	T_OK(o->dt(a1));
	T_NATTCH(o, id, 0, "all detached");
	/* Not removed: attachable again, contents kept. */
	attach_again(o, id, 0, 5000, "written via a1", 1, "attached again");
	seg_rm(o, id);
}

/* ---- fork and the ways a child leaves ------------------------------------------- */

enum { LEAVE_SHMDT, LEAVE__EXIT, LEAVE_EXIT, LEAVE_KILL, LEAVE_EXEC };
static const char *const leave_names[] = { "shmdt", "_exit", "exit", "SIGKILL", "exec /bin/true" };

static void fork_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = F->o;
	char *a = F->addr;
	ASTORE(&F->n_child_start, nattch(o, F->id));
	T_ASSERT(strcmp(a, "before fork") == 0);
	ASTORE(&F->cstage, 1);
	if (!wait_flag_ge(&F->stage, 1, 10000))
		T_FAIL("child: parent never wrote");
	T_ASSERT(strcmp(a + 100, "parent after fork") == 0);
	strcpy(a + 200, "child");
	char *b = o->at(F->id, NULL, 0);
	T_ASSERT(b != SHM_FAILED);
	ASTORE(&F->n_child_more, nattch(o, F->id));
	if (b != SHM_FAILED) {
		T_ASSERT(strcmp(b + 200, "child") == 0);
		T_ASSERT(strcmp(b + 100, "parent after fork") == 0);
		T_OK(o->dt(b));
	}
	ASTORE(&F->n_child_after, nattch(o, F->id));
	ASTORE(&F->cstage, 2);
	if (!wait_flag_ge(&F->stage, 2, 10000))
		T_FAIL("child: parent never said go");
	switch (F->mode) {
	case LEAVE_SHMDT:
		T_OK(o->dt(a));
		ASTORE(&F->n_child_dt, nattch(o, F->id));
		_exit(t_failures ? 1 : 0);
	case LEAVE__EXIT:
		_exit(t_failures ? 1 : 0);
	case LEAVE_EXIT:
		exit(t_failures ? 1 : 0); /* svipc: the library's destructor detaches */
	case LEAVE_KILL:
		ASTORE(&F->cstage, 3);
		for (;;)
			pause();
	case LEAVE_EXEC:
		if (t_failures)
			_exit(1);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
}

static void fork_leave(const struct shm_impl *o, int mode)
{
	char what[128];
	int id;
	char *a = begin_attached(o, "fork_leave", 8192, &id);
	if (a == SHM_FAILED)
		return;
	F->mode = mode;
	strcpy(a, "before fork");
	pid_t p = spawn(fork_child, NULL, 20);
	long n0 = nattch(o, id); /* right after fork() returned, before any handshake */
	strcpy(a + 100, "parent after fork");
	ASTORE(&F->stage, 1);
	if (!wait_flag_ge(&F->cstage, 2, 10000))
		T_FAIL("[%s] child (leaves by %s) did not get through its checks", o->name,
		       leave_names[mode]);
	if (n0 != 2)
		T_FAIL("[%s] right after fork() returned in the parent: shm_nattch %ld, want 2 "
		       "(the child's inherited attachment counts from fork on)", o->name, n0);
	if (F->n_child_start != 2)
		T_FAIL("[%s] in the child right after fork(): shm_nattch %ld, want 2", o->name,
		       F->n_child_start);
	if (F->n_child_more != 3)
		T_FAIL("[%s] child attached once more: shm_nattch %ld, want 3", o->name,
		       F->n_child_more);
	if (F->n_child_after != 2)
		T_FAIL("[%s] child detached its own attachment: shm_nattch %ld, want 2", o->name,
		       F->n_child_after);
	T_ASSERT(strcmp(a + 200, "child") == 0);
	T_NATTCH(o, id, 2, "child alive with its inherited attachment");
	ASTORE(&F->stage, 2);
	snprintf(what, sizeof what, "child left by %s, reaped", leave_names[mode]);
	switch (mode) {
	case LEAVE_SHMDT:
		reap(p, 0, what);
		if (F->n_child_dt != 1)
			T_FAIL("[%s] child's shmdt of its inherited attachment: shm_nattch %ld, "
			       "want 1", o->name, F->n_child_dt);
		T_NATTCH(o, id, 1, what);
		break;
	case LEAVE_KILL:
		if (!wait_flag_ge(&F->cstage, 3, 10000))
			T_FAIL("[%s] child never got ready to be killed", o->name);
		kill(p, SIGKILL);
		reap(p, SIGKILL, what);
		T_NATTCH_SOON(o, id, 1, 2000, what);
		break;
	default:
		reap(p, 0, what);
		T_NATTCH_SOON(o, id, 1, 2000, what);
		break;
	}
	T_ASSERT(strcmp(a, "before fork") == 0);
	T_ASSERT(strcmp(a + 100, "parent after fork") == 0);
	T_ASSERT(strcmp(a + 200, "child") == 0);
	/* The parent's attachment still works and is still the only one. */
	attach_again(o, id, SHM_RDONLY, 200, "child", 2, "parent attached a second time");
	end_detached(o, id, a, "parent detached");
}

/* ---- exec ------------------------------------------------------------------------ */

static void exec_child(int wfd)
{
	(void)wfd;
	signal(SIGALRM, SIG_DFL);
	alarm(30);
	if (!wait_flag_ge(&F->stage, 1, 10000))
		_exit(3);
	/* A failed exec keeps the process and its attachments. */
	execl("/nonexistent/svipc-no-such-program", "x", (char *)NULL);
	ASTORE(&F->n_exec_failed, nattch(F->o, F->id));
	ASTORE(&F->cstage, 1);
	if (!wait_flag_ge(&F->stage, 2, 10000))
		_exit(3);
	execl("/bin/sleep", "sleep", "30", (char *)NULL);
	_exit(127);
}

static void exec_drops(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "exec_drops", 4096, &id);
	if (a == SHM_FAILED)
		return;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		T_FAIL("pipe2: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		close(pfd[0]);
		exec_child(pfd[1]);
	}
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		return;
	}
	remember_kid(p);
	close(pfd[1]);
	T_NATTCH_SOON(o, id, 2, 2000, "child forked, before its exec");
	ASTORE(&F->stage, 1);
	if (!wait_flag_ge(&F->cstage, 1, 10000))
		T_FAIL("[%s] child did not report after a failed exec", o->name);
	if (F->n_exec_failed != 2)
		T_FAIL("[%s] after a failed execl in the child: shm_nattch %ld, want 2", o->name,
		       F->n_exec_failed);
	T_NATTCH(o, id, 2, "child's exec failed, child attached");
	ASTORE(&F->stage, 2);
	char c;
	ssize_t r;
	while ((r = read(pfd[0], &c, 1)) == -1 && errno == EINTR)
		;
	close(pfd[0]);
	T_EQ(r, 0); /* EOF: the child's close-on-exec descriptors are closed */
	char exe[256] = "";
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)p);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	if (!strstr(exe, "sleep"))
		T_FAIL("[%s] child did not exec /bin/sleep (exe '%s', state %c)", o->name, exe,
		       proc_state(p));
	T_NATTCH_SOON(o, id, 1, 2000, "child exec'd /bin/sleep and is still running");
	char st = proc_state(p);
	if (st == 0 || st == 'Z')
		T_FAIL("[%s] the exec'd child is gone already (state %c)", o->name, st ? st : '-');
	kill(p, SIGKILL);
	reap(p, SIGKILL, "exec'd /bin/sleep");
	T_NATTCH(o, id, 1, "exec'd child killed");

	/* posix_spawn (vfork-like, no fork handlers) by an attached process. */
	pid_t sp;
	char *argv[] = { "sleep", "0.2", NULL };
	int e = posix_spawn(&sp, "/bin/sleep", NULL, NULL, argv, environ);
	if (e) {
		T_FAIL("posix_spawn: %s", strerror(e));
	} else {
		remember_kid(sp);
		T_NATTCH(o, id, 1, "right after posix_spawn of /bin/sleep");
		sleep_ms(50);
		T_NATTCH(o, id, 1, "posix_spawn'd /bin/sleep running");
		reap(sp, 0, "posix_spawn'd /bin/sleep");
		T_NATTCH(o, id, 1, "posix_spawn'd child exited");
	}
	end_detached(o, id, a, "parent detached");
}

/* ---- double fork ----------------------------------------------------------------- */

static void grandchild_fn(void)
{
	const struct shm_impl *o = F->o;
	char *a = F->addr;
	signal(SIGALRM, SIG_DFL);
	alarm(30);
	t_failures = 0;
	ASTORE(&F->n_grand_start, nattch(o, F->id));
	T_ASSERT(strcmp(a, "grandparent") == 0);
	ASTORE(&F->gstage, 1);
	if (!wait_flag_ge(&F->stage, 2, 10000))
		T_FAIL("grandchild: no go");
	strcpy(a + 300, "grandchild");
	ASTORE(&F->gstage, 2);
	if (!wait_flag_ge(&F->stage, 3, 10000))
		T_FAIL("grandchild: no reply");
	T_ASSERT(strcmp(a + 400, "grandparent reply") == 0);
	T_OK(o->dt(a));
	ASTORE(&F->n_grand_dt, nattch(o, F->id));
	ASTORE(&F->gstage, 3);
	_exit(t_failures ? 1 : 0);
}

static void middle_child(void *arg)
{
	(void)arg;
	fflush(NULL);
	pid_t g = fork();
	if (g == 0)
		grandchild_fn();
	if (g == -1)
		T_FAIL("fork (grandchild): %s", strerror(errno));
	ASTORE(&F->gpid, g);
	ASTORE(&F->cstage, 1);
	wait_flag_ge(&F->stage, 1, 10000);
	_exit(t_failures ? 1 : 0); /* attached, no shmdt */
}

static void grandchild(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "grandchild", 4096, &id);
	if (a == SHM_FAILED)
		return;
	strcpy(a, "grandparent");
	pid_t c = spawn(middle_child, NULL, 20);
	if (!wait_flag_ge(&F->cstage, 1, 10000) || !wait_flag_ge(&F->gstage, 1, 10000))
		T_FAIL("[%s] child / grandchild did not start", o->name);
	pid_t g = ALOAD(&F->gpid);
	if (g > 0)
		remember_kid(g);
	T_NATTCH(o, id, 3, "parent, child and grandchild attached");
	if (F->n_grand_start != 3)
		T_FAIL("[%s] grandchild right after its fork: shm_nattch %ld, want 3", o->name,
		       F->n_grand_start);
	ASTORE(&F->stage, 1);
	reap(c, 0, "middle child (_exit attached)");
	T_NATTCH_SOON(o, id, 2, 2000, "middle child gone, grandchild attached");
	ASTORE(&F->stage, 2);
	if (!wait_flag_ge(&F->gstage, 2, 10000))
		T_FAIL("[%s] grandchild did not write", o->name);
	T_ASSERT(strcmp(a + 300, "grandchild") == 0);
	strcpy(a + 400, "grandparent reply");
	ASTORE(&F->stage, 3);
	if (!wait_flag_ge(&F->gstage, 3, 10000))
		T_FAIL("[%s] grandchild did not detach", o->name);
	if (F->n_grand_dt != 1)
		T_FAIL("[%s] grandchild detached: shm_nattch %ld, want 1", o->name, F->n_grand_dt);
	if (g > 0)
		reap(g, 0, "grandchild"); /* ours: we are a child subreaper */
	T_NATTCH(o, id, 1, "grandchild exited");
	end_detached(o, id, a, "parent detached");
}

/* ---- threads --------------------------------------------------------------------- */

#define NTHR 8

struct thr {
	const struct shm_impl *o;
	int id;
	int idx;
	int iters;     /* 0: until *stop */
	int *stop;
	char *main_addr;
	int errors;
	int done_iters;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; t->iters ? i < t->iters : !ALOAD(t->stop); i++) {
		char *a = t->o->at(t->id, NULL, 0);
		if (a == SHM_FAILED) {
			t->errors++;
			continue;
		}
		a[t->idx * 64] = (char)i;
		if (ALOAD((volatile char *)&t->main_addr[t->idx * 64]) != (char)i)
			t->errors++;
		if (i & 1) {
			char *b = t->o->at(t->id, NULL, SHM_RDONLY);
			if (b == SHM_FAILED)
				t->errors++;
			else if (b[t->idx * 64] != (char)i || t->o->dt(b) == -1)
				t->errors++;
		}
		if (t->o->dt(a) == -1)
			t->errors++;
		__atomic_add_fetch(&t->done_iters, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* NTHR threads running thr_main, and the flag that stops those without iters. */
struct team {
	struct thr t[NTHR];
	pthread_t th[NTHR];
	int stop;
};

static void start_threads(struct team *tm, const struct shm_impl *o, int id, char *main_addr,
			  int iters)
{
	tm->stop = 0;
	for (int i = 0; i < NTHR; i++) {
		tm->t[i] = (struct thr){ .o = o, .id = id, .idx = i + 1, .iters = iters,
					 .stop = &tm->stop, .main_addr = main_addr };
		if (pthread_create(&tm->th[i], NULL, thr_main, &tm->t[i]))
			T_FAIL("pthread_create");
	}
}

static void stop_threads(struct team *tm, const struct shm_impl *o)
{
	ASTORE(&tm->stop, 1);
	for (int i = 0; i < NTHR; i++) {
		pthread_join(tm->th[i], NULL);
		if (tm->t[i].errors)
			T_FAIL("[%s] thread %d: %d failed shmat/shmdt/data checks", o->name, i,
			       tm->t[i].errors);
	}
}

static void threads(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "threads", 4096, &id);
	if (a == SHM_FAILED)
		return;
	struct team tm;
	start_threads(&tm, o, id, a, o->kernel ? 500 : 3000);
	long lo = 1000, hi = -1, samples = 0;
	for (;;) {
		int running = 0;
		for (int i = 0; i < NTHR; i++)
			running += ALOAD(&tm.t[i].done_iters) < tm.t[i].iters;
		if (!running)
			break;
		long n = nattch(o, id);
		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
		samples++;
		sched_yield();
	}
	stop_threads(&tm, o); /* all done already: this joins them */
	/*
	 * Each thread holds at most 2 attachments; the kernel's do_shmat counts
	 * an attach in progress twice for a moment (its own increment, then the
	 * mapping's), hence 3 per thread.
	 */
	if (samples && (lo < 1 || hi > 1 + 3 * NTHR))
		T_FAIL("[%s] shm_nattch seen while %d threads attach/detach: %ld..%ld, want within "
		       "1..%d", o->name, NTHR, lo, hi, 1 + 3 * NTHR);
	T_NATTCH(o, id, 1, "threads joined");
	end_detached(o, id, a, "all detached");
}

static void fork_in_threads_child(void *arg)
{
	long mode = (long)arg;
	const struct shm_impl *o = F->o;
	long n = nattch(o, F->id);
	if (n < 2)
		T_FAIL("[%s] child forked while threads attach: shm_nattch %ld, want >= 2", o->name,
		       n);
	char *b = o->at(F->id, NULL, 0);
	T_ASSERT(b != SHM_FAILED);
	if (b != SHM_FAILED) {
		b[4000] = 'c';
		T_ASSERT(F->addr[4000] == 'c');
		T_OK(o->dt(b));
	}
	if (mode)
		exit(t_failures ? 1 : 0); /* svipc: the destructor detaches inherited attachments */
	_exit(t_failures ? 1 : 0);
}

static void fork_while_threads(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "fork_while_threads", 4096, &id);
	if (a == SHM_FAILED)
		return;
	struct team tm;
	start_threads(&tm, o, id, a, 0);
	for (long i = 0; i < 24; i++) {
		sleep_us((long)(t_rand() % 3000));
		pid_t p = spawn(fork_in_threads_child, (void *)(i & 1), 10);
		reap(p, 0, "child forked while threads attach/detach");
	}
	stop_threads(&tm, o);
	T_NATTCH_SOON(o, id, 1, 2000, "threads joined, children reaped");
	end_detached(o, id, a, "all detached");
}

/*
 * This process's mappings of segment id, from /proc/self/maps: mappings of
 * len bytes of the kernel's segment (inode == id) or of svipc's file
 * shm.<id> (svipc also maps a segment's header for its books: another length).
 */
static int count_my_maps(const struct shm_impl *o, int id, size_t len, uintptr_t *addrs, int max)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	char line[1024], name[64];
	snprintf(name, sizeof name, "/shm.%d", id);
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, ino;
		char path[768] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu %767[^\n]", &lo, &hi, &ino, path) < 3)
			continue;
		if (hi - lo != len)
			continue;
		if (o->kernel ? (strncmp(path, "/SYSV", 5) == 0 && ino == (unsigned long)id)
			      : (strstr(path, name) != NULL)) {
			if (n < max)
				addrs[n] = lo;
			n++;
		}
	}
	fclose(f);
	return n;
}

/*
 * Children forked while threads attach and detach stay alive: each counts
 * its own mappings of the segment (what it inherited: the main thread's
 * attachment and whatever the threads had mapped at that instant). The
 * kernel counts every mapping; so must svipc, including one a thread had
 * just mapped and not yet recorded, or had unrecorded and not yet unmapped.
 */
#define NFKIDS 24
#define FK_LEN (7 * 4096)

static void fork_keep_child(void *arg)
{
	long i = (long)arg;
	const struct shm_impl *o = F->o;
	uintptr_t addrs[64];
	int n = count_my_maps(o, F->id, FK_LEN, addrs, 64);
	ASTORE(&F->ready[i], 1 + n);
	if (!wait_flag_ge(&F->stage, 1, 30000))
		_exit(3);
	/* Every inherited attachment can be detached, as in the kernel. */
	int bad = 0;
	for (int k = 0; k < n && k < 64; k++)
		if (o->dt((void *)addrs[k]) == -1)
			bad++;
	ASTORE(&F->res[i], 1 + bad);
	for (;;)
		pause();
}

static void fork_keep_while_threads(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "fork_keep_while_threads", FK_LEN, &id);
	if (a == SHM_FAILED)
		return;
	uintptr_t one;
	T_EQ(count_my_maps(o, id, FK_LEN, &one, 1), 1);
	struct team tm;
	start_threads(&tm, o, id, a, 0);
	pid_t pids[NFKIDS];
	for (long i = 0; i < NFKIDS; i++) {
		sleep_us((long)(t_rand() % 2000));
		pids[i] = spawn(fork_keep_child, (void *)i, 60);
	}
	stop_threads(&tm, o);
	long want = 1, extra = 0;
	for (int i = 0; i < NFKIDS; i++) {
		if (!wait_flag_ge(&F->ready[i], 1, 10000))
			T_FAIL("[%s] child %d forked amid threads never reported", o->name, i);
		want += F->ready[i] - 1;
		extra += F->ready[i] - 2;
	}
	char what[160];
	snprintf(what, sizeof what, "%d children forked amid attaching threads, alive, holding "
		 "%ld mappings of the segment (%ld beyond the main thread's)", NFKIDS, want - 1,
		 extra);
	T_NATTCH_SOON(o, id, want, 2000, what);
	ASTORE(&F->stage, 1);
	int bad = 0, nbad = 0;
	for (int i = 0; i < NFKIDS; i++) {
		if (!wait_flag_ge(&F->res[i], 1, 10000))
			T_FAIL("[%s] child %d forked amid threads did not detach", o->name, i);
		bad += F->res[i] > 1;
		nbad += F->res[i] - 1;
	}
	if (bad)
		T_FAIL("[%s] %d of %d children forked amid attaching threads could not shmdt %d of "
		       "the %ld attachments they inherited (EINVAL)", o->name, bad, NFKIDS, nbad,
		       want - 1);
	T_NATTCH_SOON(o, id, 1, 2000, "those children detached all they inherited");
	kill_and_reap(pids, NULL, NFKIDS, "child forked amid threads");
	T_NATTCH_SOON(o, id, 1, 2000, "those children killed");
	end_detached(o, id, a, "all detached");
}

/* ---- many processes killed at random moments ------------------------------------ */

#define NKILL 50

static void churn_child(void *arg)
{
	long i = (long)arg;
	const struct shm_impl *o = F->o;
	t_rng ^= (uint64_t)getpid() << 20;
	int rounds = (int)(t_rand() % 40);
	for (int r = 0; r < rounds; r++) {
		char *b = o->at(F->id, NULL, 0);
		if (b == SHM_FAILED) {
			T_FAIL("[%s] child %ld: shmat: %s", o->name, i, strerror(errno));
			continue;
		}
		b[i] = (char)r;
		if (o->dt(b) == -1)
			T_FAIL("[%s] child %ld: shmdt: %s", o->name, i, strerror(errno));
	}
	char *b = o->at(F->id, NULL, 0);
	if (b == SHM_FAILED)
		T_FAIL("[%s] child %ld: final shmat: %s", o->name, i, strerror(errno));
	if (t_failures)
		_exit(1);
	ASTORE(&F->ready[i], 1);
	for (;;)
		pause();
}

static void many_killed(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "many_killed", 4096, &id);
	if (a == SHM_FAILED)
		return;
	pid_t pids[NKILL];
	int victim[NKILL];
	for (long i = 0; i < NKILL; i++) {
		victim[i] = (int)(t_rand() & 1);
		pids[i] = spawn(churn_child, (void *)i, 60);
	}
	for (int i = 0; i < NKILL; i++) {
		if (!victim[i])
			continue;
		sleep_us((long)(t_rand() % 1500));
		kill(pids[i], SIGKILL);
	}
	int alive = 0;
	for (int i = 0; i < NKILL; i++) {
		if (victim[i]) {
			reap(pids[i], SIGKILL, "randomly killed child");
			continue;
		}
		alive++;
		if (!wait_flag_ge(&F->ready[i], 1, 20000))
			T_FAIL("[%s] surviving child %d never attached", o->name, i);
	}
	char what[128];
	snprintf(what, sizeof what, "%d of %d children killed at random moments, %d alive "
		 "(each: inherited + own attachment)", NKILL - alive, NKILL, alive);
	T_NATTCH_SOON(o, id, 1 + 2 * alive, 2000, what);
	kill_and_reap(pids, victim, NKILL, "surviving child, killed");
	T_NATTCH_SOON(o, id, 1, 2000, "all children killed");
	end_detached(o, id, a, "all detached");
}

/* ---- shm_lpid, shm_atime, shm_dtime --------------------------------------------- */

#define T_IN(v, lo, hi, what)                                                           \
	do {                                                                            \
		long long t_v_ = (long long)(v);                                        \
		if (t_v_ < (long long)(lo) || t_v_ > (long long)(hi))                   \
			T_FAIL("[%s] %s: %s = %lld, want within [%lld, %lld]", o->name, \
			       (what), #v, t_v_, (long long)(lo), (long long)(hi));     \
	} while (0)

static void times_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = F->o;
	ASTORE(&F->pid, getpid());
	F->t0 = time(NULL);
	char *b = o->at(F->id, NULL, 0);
	F->t1 = time(NULL);
	T_ASSERT(b != SHM_FAILED);
	wait_next_second(F->t1);
	F->t2 = time(NULL);
	if (b != SHM_FAILED)
		T_OK(o->dt(b));
	F->t3 = time(NULL);
}

static void exiting_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = F->o;
	ASTORE(&F->pid, getpid());
	char *b = o->at(F->id, NULL, 0);
	T_ASSERT(b != SHM_FAILED);
	exit(t_failures ? 1 : 0); /* attached twice (inherited + b), no shmdt */
}

static void attach_and_die(void *arg)
{
	(void)arg;
	char *b = F->o->at(F->id, NULL, 0);
	T_ASSERT(b != SHM_FAILED);
	_exit(t_failures ? 1 : 0);
}

/*
 * A child dies attached, then (a second later) the parent attaches (*b =
 * the new attachment) or detaches *b: shm_lpid must be the parent's, the
 * call's time stamp the call's, shm_nattch `want`.
 */
static void after_dead_child(const struct shm_impl *o, int id, char **b, int detach, long want)
{
	const char *call = detach ? "shmdt" : "shmat";
	char what[64];
	struct shmid_ds ds;
	pid_t p = spawn(attach_and_die, NULL, 20);
	reap(p, 0, "child dying attached");
	wait_next_second(time(NULL));
	time_t t0 = time(NULL);
	if (!detach)
		*b = o->at(id, NULL, 0);
	else if (*b != SHM_FAILED)
		T_OK(o->dt(*b));
	time_t t1 = time(NULL);
	if (!detach)
		T_ASSERT(*b != SHM_FAILED);
	T_OK(o->ctl(id, IPC_STAT, &ds));
	if (ds.shm_lpid != getpid())
		T_FAIL("[%s] %s by the parent after a child died attached: shm_lpid %d, want "
		       "the parent's %d (the dead child is %d)", o->name, call, (int)ds.shm_lpid,
		       (int)getpid(), (int)p);
	snprintf(what, sizeof what, "%s after a child died attached", call);
	if (detach)
		T_IN(ds.shm_dtime, t0, t1, what);
	else
		T_IN(ds.shm_atime, t0, t1, what);
	T_EQ(ds.shm_nattch, want);
}

static void times_lpid(const struct shm_impl *o)
{
	mp_scenario = "times_lpid";
	struct shmid_ds ds;
	memset(F, 0, sizeof *F);
	F->o = o;
	time_t t0 = time(NULL);
	int id = seg_new(o, 10000);
	time_t t1 = time(NULL);
	F->id = id;
	memset(&ds, 0, sizeof ds);
	T_OK(o->ctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_cpid, getpid());
	T_EQ(ds.shm_lpid, 0);
	T_EQ(ds.shm_atime, 0);
	T_EQ(ds.shm_dtime, 0);
	T_IN(ds.shm_ctime, t0, t1, "new segment");
	T_EQ(ds.shm_segsz, 10000);
	T_EQ(ds.shm_nattch, 0);
	T_EQ(ds.shm_perm.mode & 0777, 0600);
	T_EQ(ds.shm_perm.uid, geteuid());
	T_EQ(ds.shm_perm.cuid, geteuid());
	time_t ctime0 = ds.shm_ctime;

	wait_next_second(t1);
	t0 = time(NULL);
	char *a = o->at(id, NULL, 0);
	t1 = time(NULL);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return;
	T_OK(o->ctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_lpid, getpid());
	T_IN(ds.shm_atime, t0, t1, "after the parent's shmat");
	T_EQ(ds.shm_dtime, 0);
	T_EQ(ds.shm_ctime, ctime0);
	T_EQ(ds.shm_nattch, 1);
	time_t atime_parent = ds.shm_atime;

	/* A child attaches and detaches: its pid, its times. */
	wait_next_second(t1);
	pid_t p = spawn(times_child, NULL, 20);
	reap(p, 0, "times child");
	T_OK(o->ctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_lpid, p);
	T_IN(ds.shm_atime, F->t0, F->t1, "after a child's shmat + shmdt");
	T_IN(ds.shm_dtime, F->t2, F->t3, "after a child's shmat + shmdt");
	if (ds.shm_atime == atime_parent)
		T_FAIL("[%s] shm_atime not updated by the child's shmat", o->name);
	T_EQ(ds.shm_ctime, ctime0);
	T_EQ(ds.shm_nattch, 1);
	time_t dtime_child = ds.shm_dtime;

	/* The parent detaches: its pid, a new dtime; atime stays the child's. */
	wait_next_second(F->t3);
	time_t atime_child = ds.shm_atime;
	t0 = time(NULL);
	T_OK(o->dt(a));
	t1 = time(NULL);
	T_OK(o->ctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_lpid, getpid());
	T_IN(ds.shm_dtime, t0, t1, "after the parent's shmdt");
	if (ds.shm_dtime == dtime_child)
		T_FAIL("[%s] shm_dtime not updated by the parent's shmdt", o->name);
	T_EQ(ds.shm_atime, atime_child);
	T_EQ(ds.shm_nattch, 0);

	/* An attached child that exits normally (two attachments): detached by exit. */
	a = o->at(id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	wait_next_second(time(NULL));
	t0 = time(NULL);
	p = spawn(exiting_child, NULL, 20);
	reap(p, 0, "attached child exiting normally");
	t1 = time(NULL);
	T_OK(o->ctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_nattch, 1);
	T_EQ(ds.shm_lpid, p);
	T_IN(ds.shm_dtime, t0, t1, "after an attached child's exit()");

	/*
	 * A child dies attached (_exit, no shmdt); the parent's shmat and shmdt
	 * come later, so shm_lpid is the parent's after each (kernel: the exit
	 * is booked when it happens, not when someone looks).
	 */
	char *b = SHM_FAILED;
	after_dead_child(o, id, &b, 0, 2);
	after_dead_child(o, id, &b, 1, 1);
	if (a != SHM_FAILED)
		T_OK(o->dt(a));
	seg_rm(o, id);
}

/*
 * Not failures: what a library cannot see. The kernel sets shm_atime and
 * shm_lpid (to the parent: fork runs in the parent) at fork, and shm_lpid
 * (the dying process) and shm_dtime when a process dies attached.
 */
static void kid_pause(void *arg)
{
	(void)arg;
	ASTORE(&F->cstage, 1);
	for (;;)
		pause();
}

static void implicit_notes(void)
{
	mp_scenario = "implicit_notes";
	const struct shm_impl *impls[2] = { &SHM_K, &SHM_S };
	struct {
		int fork_lpid, fork_atime, kill_lpid, kill_dtime;
		time_t tf0, tf1, tk0, dtime;
	} r[2];
	memset(r, 0, sizeof r);
	for (int k = 0; k < 2; k++) {
		const struct shm_impl *o = impls[k];
		struct shmid_ds ds;
		memset(F, 0, sizeof *F);
		F->o = o;
		int id = F->id = seg_new(o, 4096);
		char *a = o->at(id, NULL, 0);
		if (a == SHM_FAILED)
			return;
		/* Someone else attaches and detaches last, so the parent's pid is not lpid. */
		pid_t c = spawn(times_child, NULL, 20);
		reap(c, 0, "times child");
		T_OK(o->ctl(id, IPC_STAT, &ds)); /* svipc books the child's exit now */
		wait_next_second(time(NULL));
		r[k].tf0 = time(NULL);
		pid_t p = spawn(kid_pause, NULL, 20);
		wait_flag_ge(&F->cstage, 1, 10000);
		r[k].tf1 = time(NULL);
		T_OK(o->ctl(id, IPC_STAT, &ds));
		r[k].fork_lpid = ds.shm_lpid == getpid() ? 1 : ds.shm_lpid == p ? 2 : 0;
		r[k].fork_atime = ds.shm_atime >= r[k].tf0 && ds.shm_atime <= r[k].tf1;
		wait_next_second(r[k].tf1);
		r[k].tk0 = time(NULL);
		kill(p, SIGKILL);
		reap(p, SIGKILL, "paused child");
		sleep_ms(2100); /* nobody looks meanwhile */
		T_OK(o->ctl(id, IPC_STAT, &ds));
		r[k].kill_lpid = ds.shm_lpid == p;
		r[k].dtime = ds.shm_dtime;
		r[k].kill_dtime = ds.shm_dtime >= r[k].tk0 && ds.shm_dtime <= r[k].tk0 + 1;
		T_OK(o->dt(a));
		seg_rm(o, id);
	}
	static const char *const who[] = { "someone else", "the parent", "the child" };
	if (r[0].fork_lpid != r[1].fork_lpid || r[0].fork_atime != r[1].fork_atime)
		fprintf(stderr, "note: after fork of an attached process: kernel shm_lpid = %s, "
				"shm_atime %s; svipc shm_lpid = %s, shm_atime %s\n",
			who[r[0].fork_lpid], r[0].fork_atime ? "= fork time" : "unchanged",
			who[r[1].fork_lpid], r[1].fork_atime ? "= fork time" : "unchanged");
	if (r[0].kill_lpid != r[1].kill_lpid || r[0].kill_dtime != r[1].kill_dtime)
		fprintf(stderr, "note: SIGKILL of an attached child, IPC_STAT 2 s later: kernel "
				"shm_lpid %s, shm_dtime %s; svipc shm_lpid %s, shm_dtime %s\n",
			r[0].kill_lpid ? "= the child" : "unchanged",
			r[0].kill_dtime ? "= kill time" : "not the kill time",
			r[1].kill_lpid ? "= the child" : "unchanged",
			r[1].kill_dtime ? "= kill time" : "= when it was noticed, 2 s later");
}

/* ---- munmap instead of shmdt ----------------------------------------------------- */

/* 1 if [p, p + len) is mapped in this process. */
static int is_mapped(void *p, size_t len)
{
	return msync(p, len, MS_ASYNC) == 0;
}

static void munmap_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = F->o;
	ASTORE(&F->n_child_start, nattch(o, F->id));
	/* This process's own private memory, inherited, must be what it was. */
	if (strcmp(F->addr, "private memory") != 0)
		T_FAIL("[%s] child forked after its parent munmapped an attachment and mapped "
		       "private memory there reads \"%.20s\" instead of its private memory",
		       o->name, F->addr);
}

/*
 * munmap detaches too (Linux: the mapping is the attachment). Afterwards
 * the address is no attachment: shmdt gives EINVAL, fork leaves whatever
 * the program mapped there alone.
 */
static void munmap_not_shmdt(const struct shm_impl *o)
{
	int id;
	char *a = begin_attached(o, "munmap_not_shmdt", 4096, &id);
	if (a == SHM_FAILED)
		return;
	strcpy(a, "segment");
	T_NATTCH(o, id, 1, "attached");
	T_OK(munmap(a, 4096));
	T_NATTCH_SOON(o, id, 0, 2000, "attachment munmapped");
	char *m = mmap(a, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		       0);
	T_ASSERT(m == a);
	if (m != a)
		return;
	strcpy(m, "private memory");
	memset(F, 0, sizeof *F);
	F->o = o;
	F->id = id;
	F->addr = m;
	pid_t p = spawn(munmap_child, NULL, 20);
	reap(p, 0, "child forked after munmap of an attachment");
	if (F->n_child_start != 0)
		T_FAIL("[%s] child forked after its parent munmapped its attachment: shm_nattch "
		       "%ld, want 0", o->name, F->n_child_start);
	T_NATTCH(o, id, 0, "child exited");
	T_ERR(o->dt(m), EINVAL);
	if (!is_mapped(m, 4096))
		T_FAIL("[%s] shmdt of an address that is no attachment unmapped the private "
		       "memory mapped there", o->name);
	else
		T_ASSERT(strcmp(m, "private memory") == 0);
	munmap(m, 4096);
	/* The segment itself is intact. */
	attach_again(o, id, 0, 0, "segment", 1, "attached again");
	seg_rm(o, id);
}

/* ---- a process that closes descriptors it did not open -------------------------- */

static void closing_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = F->o;
	struct rlimit rl;
	int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
									  : 65536;
	for (int fd = 3; fd < max; fd++)
		close(fd);
	ASTORE(&F->cstage, 1);
	wait_flag_ge(&F->stage, 1, 10000);
	/* The next get call registers this process again. */
	int id = o->get(F->key, 0, 0);
	T_EQ(id, F->id);
	ASTORE(&F->n_child_start, nattch(o, F->id));
	ASTORE(&F->cstage, 2);
	wait_flag_ge(&F->stage, 2, 10000);
	T_OK(o->dt(F->addr));
	ASTORE(&F->n_child_dt, nattch(o, F->id));
	_exit(t_failures ? 1 : 0);
}

static void closed_fds(const struct shm_impl *o)
{
	mp_scenario = "closed_fds";
	memset(F, 0, sizeof *F);
	F->o = o;
	F->key = free_key();
	int id = F->id = seg_new_key(o, F->key, 4096, IPC_EXCL | 0600);
	char *a = F->addr = o->at(id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return;
	pid_t p = spawn(closing_child, NULL, 20);
	wait_flag_ge(&F->cstage, 1, 10000);
	long n1 = nattch(o, id);
	ASTORE(&F->stage, 1);
	wait_flag_ge(&F->cstage, 2, 10000);
	long n2 = nattch(o, id);
	if (n2 != 2 || F->n_child_start != 2)
		T_FAIL("[%s] a child that closed all descriptors >= 3 and then called shmget is "
		       "not counted: shm_nattch %ld (parent's view), %ld (child's), want 2 "
		       "(before its shmget: %ld)", o->name, n2, F->n_child_start, n1);
	ASTORE(&F->stage, 2);
	reap(p, 0, "child that closed its descriptors");
	if (F->n_child_dt != 1)
		T_FAIL("[%s] that child's shmdt: shm_nattch %ld, want 1", o->name, F->n_child_dt);
	T_NATTCH(o, id, 1, "that child exited");
	T_OK(o->dt(a));
	seg_rm(o, id);
}

int main(void)
{
	shm_setup(200);
	t_rng = (uint64_t)getpid() * 1000003u ^ (uint64_t)time(NULL);
	fprintf(stderr, "seed %llu\n", (unsigned long long)t_rng);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	F = shared_alloc(sizeof *F);
	const struct shm_impl *impls[2] = { &SHM_K, &SHM_S };
	for (int k = shm_kernel_ok ? 0 : 1; k < 2; k++) {
		const struct shm_impl *o = impls[k];
		int before = t_failures;
		int64_t t0 = now_ms();
		attach_counts(o);
		for (int m = LEAVE_SHMDT; m <= LEAVE_EXEC; m++)
			fork_leave(o, m);
		exec_drops(o);
		grandchild(o);
		threads(o);
		fork_while_threads(o);
		fork_keep_while_threads(o);
		for (int r = 0; r < (o->kernel ? 1 : 3); r++)
			many_killed(o);
		times_lpid(o);
		munmap_not_shmdt(o);
		closed_fds(o);
		fprintf(stderr, "%s: %lld ms, %d failure(s)\n", o->name, (long long)(now_ms() - t0),
			t_failures - before);
	}
	if (shm_kernel_ok)
		implicit_notes();
	return t_done();
}

/*
 * test_sem_crash.c - semaphore sets survive a SIGKILL at any instruction.
 *
 * A child runs one operation under ptrace; the parent single-steps it N
 * instructions and kills it for real, so the kernel releases what it
 * releases at a death (the child's register lock) and nothing else. Then
 * the parent checks, as the next user of the set, what must hold whatever
 * N was:
 *   - no lock stays held: every later call returns (the alarm catches a
 *     hang), a plain semop works, GETNCNT + GETZCNT count exactly the live
 *     waiters (not the killed child);
 *   - every change is all or nothing, and SEM_UNDO is exact:
 *       semop          -1 -1 +1 +1 on four semaphores: {5,5,5,5} or {4,4,6,6};
 *       semop-undo     the same with SEM_UNDO: {5,5,5,5} exactly (done and
 *                      undone by the checker, or never done);
 *       undo-at-exit   the child did that semop before the trace and is
 *                      killed inside exit(), which applies its adjustments:
 *                      {5,5,5,5} exactly;
 *       undo-reap      a killed helper left adjustments (+1 on s0, -1 on s2);
 *                      the child's semop {0,-5,IPC_NOWAIT} must apply them
 *                      first: {5,5,5,5} or {0,5,5,5}, never applied twice;
 *       timedop-handoff      the child blocks in semtimedop({0,-1},{1,-1});
 *                      when it sleeps, another process posts {+1,+1} (the
 *                      units are handed to the waiter): {1,1} or {0,0} if
 *                      posted, {0,0} if not; the poster returns;
 *       timedop-handoff-undo the same with SEM_UNDO: {1,1} if posted, exactly;
 *       post-handoff   a waiter blocks on {0,-1},{1,-1}, the child posts
 *                      {+1,+1}; the checker's first look sees either the
 *                      units handed over ({0,0}, the waiter no longer
 *                      counted; it returns within 1.5 s) or no post ({0,0},
 *                      still one waiter; the checker's own post serves it),
 *                      never the units posted while the waiter still waits;
 *       setall         SETALL {9,8,7,6} while a helper holds an adjustment
 *                      (-1 SEM_UNDO on s0), killed afterwards: {5,5,5,5}
 *                      (not done, the helper's undo applied) or {9,8,7,6}
 *                      (done: the adjustment cleared);
 *       setval         SETVAL s1 = 9, a helper holding -1 SEM_UNDO on s1:
 *                      {5,5,5,5} or {5,9,5,5};
 *       ipc-set        uid, gid and mode all changed or none;
 *       rmid           IPC_RMID with a waiter blocked: removed (EINVAL, the
 *                      key gone, the waiter gets EIDRM within 2 s) or whole
 *                      (the waiter still counted, the key finds it), as the
 *                      first call sees it (GETVAL or a semop, by turns) and
 *                      every later one;
 *       semget         semget(IPC_CREAT | IPC_EXCL): the key finds a whole
 *                      set (4 semaphores, all 0, never operated on) or none;
 *   - no file is left behind once the sets are removed.
 * N runs over the operation with a stride chosen so that each operation
 * gets about SVIPC_SEM_CRASH_POINTS kill points (default 40; 0 means every
 * instruction, without the time limit), within OP_BUDGET_S seconds each;
 * the points are drawn from the steps spent in or near this program's code
 * (see iv_note), not from long stretches of foreign code.
 * SVIPC_SEM_CRASH_OPS=<names> (comma separated, as printed) runs only those
 * operations; an unknown name fails. SVIPC_SEM_CRASH_AT=<n> runs one trial
 * per selected operation, killed after n instructions (to replay a failure
 * reported as "op@n"). svipc only: the kernel's semaphores cannot be
 * stepped into.
 */
#include "svipc.h"
#include "t.h"
#include "crash_step.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#define OP_BUDGET_S 4 /* seconds of kill points per operation at most */
#define KEY 0x5c4a5e00
#define NS 4

enum op { OP_SEMOP, OP_SEMOP_UNDO, OP_UNDO_EXIT, OP_UNDO_REAP, OP_TIMED, OP_TIMED_UNDO, OP_POST, OP_SETALL,
	  OP_SETVAL, OP_SET, OP_RMID, OP_SEMGET, OP_N };
static const char *const op_name[OP_N] = { "semop",  "semop-undo", "undo-at-exit", "undo-reap",
					  "timedop-handoff", "timedop-handoff-undo",
					  "post-handoff", "setall", "setval", "ipc-set", "rmid",
					  "semget" };

/* What the helpers (waiter, adjustment holder, poster) share with us. */
struct cshare {
	int w_done, w_r, w_e;
	int h_ready;
	int p_done, p_r, p_e;
};
static struct cshare *C;

static int warm_id;
static char warm_name[32]; /* its file, which count_files passes over */
static unsigned long vdso_lo, vdso_hi;
static unsigned long exe_lo, exe_hi; /* this program's code (svipc is linked in) */

/*
 * Where a full run executed this program's code: steps in runs merged
 * across gaps of at most IV_GAP steps spent elsewhere (libc calls made by
 * svipc: memcpy, system call wrappers), up to the first stretch of more than
 * IV_FAR steps elsewhere. Kill points are drawn from these spans, which
 * leaves out long stretches of foreign code such as AddressSanitizer's work
 * in exit() (unregistering globals, after svipc's destructor ran): a full
 * run stops there (its total is then printed with a "+").
 */
#define IV_MAX 4096
#define IV_GAP 20000
#define IV_FAR 40000
static long *iv_a, *iv_b; /* IV_MAX each, allocated: no large globals (AddressSanitizer
			   * unpoisons globals at exit, a long stretch for a traced exit()) */
static int niv, iv_recording, iv_cut;

static void iv_note(long i)
{
	if (niv && i - iv_b[niv - 1] > IV_FAR)
		iv_cut = 1; /* what comes after a long stretch elsewhere is not the operation */
	else if (niv && i - iv_b[niv - 1] <= IV_GAP)
		iv_b[niv - 1] = i;
	else if (niv < IV_MAX) {
		iv_a[niv] = iv_b[niv] = i;
		niv++;
	}
}

/* Steps covered by the spans. */
static long iv_total(void)
{
	long t = 0;
	for (int k = 0; k < niv; k++)
		t += iv_b[k] - iv_a[k] + 1;
	return t;
}

/* The x-th covered step. */
static long iv_step(long x)
{
	for (int k = 0; k < niv; k++) {
		long len = iv_b[k] - iv_a[k] + 1;
		if (x < len)
			return iv_a[k] + x;
		x -= len;
	}
	return niv ? iv_b[niv - 1] : x;
}

static int getall4(int id, unsigned short *v)
{
	union t_semun u = { .array = v };
	return svipc_semctl(id, 0, GETALL, u);
}

static int total_waiters(int id)
{
	int n = 0;
	for (int s = 0; s < NS; s++) {
		int a = svipc_semctl(id, s, GETNCNT), b = svipc_semctl(id, s, GETZCNT);
		if (a < 0 || b < 0)
			return -1;
		n += a + b;
	}
	return n;
}

static int vals_are(const unsigned short *v, int a, int b, int c, int d)
{
	return v[0] == a && v[1] == b && v[2] == c && v[3] == d;
}

static const char *fmt4(char *buf, const unsigned short *v)
{
	sprintf(buf, "{%u, %u, %u, %u}", v[0], v[1], v[2], v[3]);
	return buf;
}

/* ---- helper processes -------------------------------------------------------------- */

/* Blocks on ops; the result goes to C. */
static pid_t start_waiter(int id, struct sembuf *ops, int n)
{
	C->w_done = 0;
	pid_t p = fork();
	if (p == 0) {
		alarm(30);
		int r = svipc_semop(id, ops, (size_t)n);
		C->w_e = errno;
		C->w_r = r;
		__atomic_store_n(&C->w_done, 1, __ATOMIC_SEQ_CST);
		_exit(0);
	}
	/* Counted as a waiter: its arrival is fixed. */
	for (int i = 0; i < 5000 && total_waiters(id) < 1; i++)
		usleep(1000);
	if (total_waiters(id) != 1)
		T_FAIL("waiter not counted (%d)", total_waiters(id));
	return p;
}

/* Holds an adjustment (-1 SEM_UNDO on num; and +1 on num2 if >= 0) until killed. */
static pid_t start_holder(int id, int num, int num2)
{
	C->h_ready = 0;
	pid_t p = fork();
	if (p == 0) {
		alarm(30);
		struct sembuf b[2] = { { (unsigned short)num, -1, SEM_UNDO },
				       { (unsigned short)(num2 >= 0 ? num2 : 0), 1, SEM_UNDO } };
		if (svipc_semop(id, b, num2 >= 0 ? 2 : 1) == -1)
			_exit(1);
		__atomic_store_n(&C->h_ready, 1, __ATOMIC_SEQ_CST);
		for (;;)
			pause();
	}
	for (int i = 0; i < 5000 && !__atomic_load_n(&C->h_ready, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	if (!C->h_ready)
		T_FAIL("adjustment holder did not start");
	return p;
}

static int g_id;
static pid_t g_poster;

/* Posts {0,+1},{1,+1} from another process (the traced child sleeps). */
static void post_units(void)
{
	C->p_done = 0;
	g_poster = fork();
	if (g_poster == 0) {
		alarm(30);
		struct sembuf b[2] = { { 0, 1, 0 }, { 1, 1, 0 } };
		int r = svipc_semop(g_id, b, 2);
		C->p_e = errno;
		C->p_r = r;
		__atomic_store_n(&C->p_done, 1, __ATOMIC_SEQ_CST);
		_exit(0);
	}
}

/* Waits up to ms for *flag; 1 if set. */
static int wait_set(int *flag, long ms)
{
	int64_t end = mono_ns() + ms * 1000000LL;
	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (mono_ns() > end)
			return 0;
		usleep(500);
	}
	return 1;
}

/* ---- the traced child --------------------------------------------------------------- */

static void child_op(enum op op, int id, key_t key)
{
	switch (op) {
	case OP_SEMOP:
	case OP_SEMOP_UNDO: {
		short f = op == OP_SEMOP_UNDO ? SEM_UNDO : 0;
		struct sembuf b[4] = { { 0, -1, f }, { 1, -1, f }, { 2, 1, f }, { 3, 1, f } };
		svipc_semop(id, b, 4);
		break;
	}
	case OP_UNDO_REAP: {
		/* Needs the dead holder's unit back first. */
		struct sembuf b = { 0, -5, IPC_NOWAIT };
		svipc_semop(id, &b, 1);
		break;
	}
	case OP_TIMED:
	case OP_TIMED_UNDO: {
		short f = op == OP_TIMED_UNDO ? SEM_UNDO : 0;
		struct sembuf b[2] = { { 0, -1, f }, { 1, -1, f } };
		struct timespec ts = { 20, 0 };
		svipc_semtimedop(id, b, 2, &ts);
		break;
	}
	case OP_POST: {
		struct sembuf b[2] = { { 0, 1, 0 }, { 1, 1, 0 } };
		svipc_semop(id, b, 2);
		break;
	}
	case OP_SETALL: {
		unsigned short v[NS] = { 9, 8, 7, 6 };
		union t_semun u = { .array = v };
		svipc_semctl(id, 0, SETALL, u);
		break;
	}
	case OP_SETVAL: {
		union t_semun u = { .val = 9 };
		svipc_semctl(id, 1, SETVAL, u);
		break;
	}
	case OP_SET: {
		struct semid_ds ds;
		union t_semun u = { .buf = &ds };
		svipc_semctl(id, 0, IPC_STAT, u);
		ds.sem_perm.uid = 1234;
		ds.sem_perm.gid = 5678;
		ds.sem_perm.mode = 0640;
		svipc_semctl(id, 0, IPC_SET, u);
		break;
	}
	case OP_RMID:
		svipc_semctl(id, 0, IPC_RMID);
		break;
	case OP_SEMGET:
		svipc_semget(key, NS, IPC_CREAT | IPC_EXCL | 0600);
		break;
	default:
		break;
	}
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer's check at exit cannot run under ptrace (it dies trying, a
 * million instructions later): the traced child's exit() skips it.
 */
static int lsan_off;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return lsan_off;
}
#define LSAN_OFF() (lsan_off = 1)
#else
#define LSAN_OFF() ((void)0)
#endif

static void run_child(enum op op, int id, key_t key)
{
	LSAN_OFF();
	svipc_semctl(warm_id, 0, GETVAL); /* first-use setup: not what is tested */
	if (id >= 0 && op != OP_UNDO_REAP)
		svipc_semctl(id, 0, GETVAL); /* the set mapped (undo-reap: that would reap) */
	if (op == OP_UNDO_EXIT) {
		struct sembuf b[4] = { { 0, -1, SEM_UNDO }, { 1, -1, SEM_UNDO }, { 2, 1, SEM_UNDO },
				       { 3, 1, SEM_UNDO } };
		if (svipc_semop(id, b, 4) == -1)
			_exit(92);
	}
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(90);
	raise(SIGSTOP);
	if (op == OP_UNDO_EXIT)
		exit(0); /* the destructor applies the adjustments */
	child_op(op, id, key);
	_exit(0);
}

static pid_t start(enum op op, int id, key_t key)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		run_child(op, id, key);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		T_FAIL("%s: child did not stop (status 0x%x)", op_name[op], st);
		return -1;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL);
	return pid;
}

/* Where the vDSO and our code are mapped (the same in every child: they are forks of us). */
static void find_maps(void)
{
	char line[4352], exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (strstr(line, "[vdso]")) {
			vdso_lo = lo;
			vdso_hi = hi;
		} else if (n > 0 && strchr(perms, 'x') && strlen(line) >= strlen(exe) &&
			   !strcmp(line + strlen(line) - strlen(exe), exe)) {
			exe_lo = exe_lo && exe_lo < lo ? exe_lo : lo;
			exe_hi = exe_hi > hi ? exe_hi : hi;
		}
	}
	fclose(f);
}

/* Before step i: the interval notes, and the vDSO's calls run out (see
 * run_vdso_call_out). */
static int step_over_vdso(pid_t pid, long i)
{
#if defined(__x86_64__)
	struct user_regs_struct rg;
	if (!vdso_lo && !iv_recording)
		return 0;
	if (ptrace(PTRACE_GETREGS, pid, NULL, &rg) < 0)
		return -1;
	if (iv_recording && rg.rip >= exe_lo && rg.rip < exe_hi)
		iv_note(i);
	if (rg.rip < vdso_lo || rg.rip >= vdso_hi)
		return 0;
	return run_vdso_call_out(pid, &rg);
#else
	(void)pid;
	if (iv_recording)
		iv_note(i); /* no registers: every step counts */
	return 0;
#endif
}

/* Ends the stepping at a ptrace failure or a cut full run (the child is then killed). */
static int before_step(pid_t pid, long i)
{
	return step_over_vdso(pid, i) < 0 || iv_cut;
}

/* The set is usable: a plain semop, and waiters counted = want. */
static void check_usable(enum op op, long n, int id, int want_waiters)
{
	struct sembuf b[2] = { { 3, 1, IPC_NOWAIT }, { 3, -1, IPC_NOWAIT } };
	if (svipc_semop(id, b, 1) == -1 || svipc_semop(id, b + 1, 1) == -1)
		T_FAIL("%s@%ld: a plain semop afterwards: %s", op_name[op], n, strerror(errno));
	int w = total_waiters(id);
	if (w != want_waiters)
		T_FAIL("%s@%ld: GETNCNT + GETZCNT %d, want %d", op_name[op], n, w, want_waiters);
}

/*
 * One trial: a fresh set (and its helpers), the child killed after n steps,
 * then the checks. Returns the child's total steps when n is "to the end"
 * (LONG_MAX), else 0.
 */
static long trial(enum op op, long n)
{
	key_t key = KEY + (key_t)op;
	int id = -1;
	char b1[64];
	unsigned short init[NS] = { 5, 5, 5, 5 };
	if (op == OP_TIMED || op == OP_TIMED_UNDO || op == OP_POST)
		init[0] = init[1] = 0;
	if (op == OP_RMID)
		init[0] = 0;
	if (op != OP_SEMGET) {
		id = svipc_semget(key, NS, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0) {
			T_FAIL("%s: setup semget: %s", op_name[op], strerror(errno));
			return 0;
		}
		union t_semun u = { .array = init };
		T_OK(svipc_semctl(id, 0, SETALL, u));
	}
	g_id = id;
	g_poster = 0;
	pid_t w = 0, h = 0;
	if (op == OP_POST) {
		struct sembuf b[2] = { { 0, -1, 0 }, { 1, -1, 0 } };
		w = start_waiter(id, b, 2);
	} else if (op == OP_RMID) {
		struct sembuf b = { 0, -1, 0 };
		w = start_waiter(id, &b, 1);
	} else if (op == OP_SETALL || op == OP_SETVAL) {
		h = start_holder(id, op == OP_SETALL ? 0 : 1, -1);
	} else if (op == OP_UNDO_REAP) {
		/* A dead process's adjustments (+1 on s0, -1 on s2), not yet applied. */
		h = start_holder(id, 0, 2);
		kill_reap(h);
		h = 0;
	}
	struct semid_ds before;
	if (id >= 0 && op != OP_UNDO_REAP) { /* (it would apply the dead holder's undo) */
		union t_semun u = { .buf = &before };
		svipc_semctl(id, 0, IPC_STAT, u);
	}
	pid_t pid = start(op, id, key);
	if (pid < 0)
		return 0;
	int exited;
	long done = step(pid, n, &exited, before_step,
			 op == OP_TIMED || op == OP_TIMED_UNDO ? post_units : NULL);
	if (!exited)
		kill_reap(pid);
	else
		waitpid(pid, NULL, 0);
	int posted = g_poster > 0;
	if (posted) {
		if (!wait_set(&C->p_done, 5000))
			T_FAIL("%s@%ld: the poster did not return", op_name[op], n);
		else if (C->p_r != 0)
			T_FAIL("%s@%ld: the poster's semop: %s", op_name[op], n, strerror(C->p_e));
		kill_reap(g_poster);
	}
	if (h) {
		kill_reap(h); /* its undo: applied by our next call */
		h = 0;
	}

	unsigned short v[NS] = { 0 };
	char b2[64];
	switch (op) {
	case OP_SEMOP:
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5) && !vals_are(v, 4, 4, 6, 6))
			T_FAIL("semop@%ld: values %s: not all or nothing", n, fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	case OP_SEMOP_UNDO:
	case OP_UNDO_EXIT:
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5))
			T_FAIL("%s@%ld: values %s, want {5, 5, 5, 5} (undone or never done)",
			       op_name[op], n, fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	case OP_UNDO_REAP:
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5) && !vals_are(v, 0, 5, 5, 5))
			T_FAIL("undo-reap@%ld: values %s, want {5, 5, 5, 5} (the dead holder's "
			       "adjustments applied once) or {0, 5, 5, 5} (and the -5 done)", n,
			       fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	case OP_TIMED:
	case OP_TIMED_UNDO:
		T_OK(getall4(id, v));
		if (op == OP_TIMED_UNDO || !posted) {
			if (!vals_are(v, posted, posted, 5, 5))
				T_FAIL("%s@%ld: values %s, want {%d, %d, 5, 5} (%s)", op_name[op], n,
				       fmt4(b1, v), posted, posted,
				       posted ? "posted; the killed waiter's undo applied" : "never posted");
		} else if (!vals_are(v, 1, 1, 5, 5) && !vals_are(v, 0, 0, 5, 5)) {
			T_FAIL("%s@%ld: values %s: the hand-off not all or nothing", op_name[op], n,
			       fmt4(b1, v));
		}
		check_usable(op, n, id, 0);
		break;
	case OP_POST: {
		/*
		 * Our first call: the units are either the waiter's (its operation
		 * done: it no longer counts) or still unposted (it counts). Seeing
		 * them posted while it still waits is what the kernel never shows.
		 */
		T_OK(getall4(id, v));
		int waiting = total_waiters(id);
		if (vals_are(v, 0, 0, 5, 5) && waiting == 0) {
			if (!wait_set(&C->w_done, 1500))
				T_FAIL("post-handoff@%ld: the waiter's operation done, but it has not "
				       "returned 1.5 s after the poster's death", n);
			else if (C->w_r != 0)
				T_FAIL("post-handoff@%ld: the waiter got %s", n, strerror(C->w_e));
		} else if (vals_are(v, 0, 0, 5, 5) && waiting == 1) {
			if (C->w_done)
				T_FAIL("post-handoff@%ld: still counted, yet returned %d (%s)", n, C->w_r,
				       strerror(C->w_e));
			check_usable(op, n, id, 1);
			struct sembuf b[2] = { { 0, 1, 0 }, { 1, 1, 0 } };
			T_OK(svipc_semop(id, b, 2));
			if (!wait_set(&C->w_done, 2000))
				T_FAIL("post-handoff@%ld: the waiter not served by a later post", n);
			else if (C->w_r != 0)
				T_FAIL("post-handoff@%ld: the waiter got %s", n, strerror(C->w_e));
		} else {
			/* Can the next user take them ahead of the older waiter? */
			struct sembuf b[2] = { { 0, -1, IPC_NOWAIT }, { 1, -1, IPC_NOWAIT } };
			int stolen = svipc_semop(id, b, 2) == 0;
			T_FAIL("post-handoff@%ld: the next user sees values %s with %d waiter(s): the "
			       "post happened but the waiter that can take it still waits (the kernel "
			       "hands the units over in the post); a semop -1 -1 IPC_NOWAIT by the "
			       "next user then %s", n, fmt4(b1, v), waiting,
			       stolen ? "SUCCEEDS (takes them ahead of the older waiter)" : "fails");
			if (stolen) {
				b[0].sem_op = b[1].sem_op = 1;
				T_OK(svipc_semop(id, b, 2));
			}
			if (!wait_set(&C->w_done, 2000))
				T_FAIL("post-handoff@%ld: the waiter not served 2 s later", n);
		}
		T_OK(getall4(id, v));
		if (!vals_are(v, 0, 0, 5, 5))
			T_FAIL("post-handoff@%ld: at the end values %s", n, fmt4(b1, v));
		check_usable(op, n, id, 0);
		kill_reap(w);
		w = 0;
		break;
	}
	case OP_SETALL:
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5) && !vals_are(v, 9, 8, 7, 6))
			T_FAIL("setall@%ld: values %s, want {5, 5, 5, 5} (not done, the holder's undo "
			       "applied) or {9, 8, 7, 6} (done, its adjustment cleared)", n, fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	case OP_SETVAL:
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5) && !vals_are(v, 5, 9, 5, 5))
			T_FAIL("setval@%ld: values %s, want {5, 5, 5, 5} or {5, 9, 5, 5}", n,
			       fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	case OP_SET: {
		struct semid_ds ds;
		union t_semun u = { .buf = &ds };
		T_OK(svipc_semctl(id, 0, IPC_STAT, u));
		int none = ds.sem_perm.uid == before.sem_perm.uid &&
			   ds.sem_perm.gid == before.sem_perm.gid &&
			   ds.sem_perm.mode == before.sem_perm.mode;
		int all = ds.sem_perm.uid == 1234 && ds.sem_perm.gid == 5678 &&
			  (ds.sem_perm.mode & 0777) == 0640;
		if (!none && !all)
			T_FAIL("ipc-set@%ld: half applied: uid %u gid %u mode %o", n, ds.sem_perm.uid,
			       ds.sem_perm.gid, ds.sem_perm.mode);
		T_OK(getall4(id, v));
		if (!vals_are(v, 5, 5, 5, 5))
			T_FAIL("ipc-set@%ld: values %s", n, fmt4(b1, v));
		check_usable(op, n, id, 0);
		break;
	}
	case OP_RMID: {
		/* The first call: GETVAL (even n) or a semop (odd n). */
		errno = 0;
		struct sembuf nop = { 3, 0, IPC_NOWAIT }; /* s3 is 5: EAGAIN if it stands */
		int r = n & 1 ? svipc_semop(id, &nop, 1) : svipc_semctl(id, 0, GETVAL);
		int e = errno;
		int removed = r == -1 && e != EAGAIN;
		const char *first = n & 1 ? "semop" : "GETVAL";
		if (removed) {
			if (e != EINVAL)
				T_FAIL("rmid@%ld: %s on the removed set: %s, want EINVAL", n, first,
				       strerror(e));
			T_ERR(svipc_semget(key, 0, 0), ENOENT);
			if (!wait_set(&C->w_done, 2000))
				T_FAIL("rmid@%ld: set removed, the waiter still waits", n);
			else if (C->w_r != -1 || C->w_e != EIDRM)
				T_FAIL("rmid@%ld: the waiter got %d (%s), want EIDRM", n, C->w_r,
				       strerror(C->w_e));
		} else {
			if (n & 1 ? r != -1 || e != EAGAIN : r != 0)
				T_FAIL("rmid@%ld: %s: %d (%s)", n, first, r, strerror(e));
			errno = 0;
			int k = svipc_semget(key, 0, 0);
			if (k != id)
				T_FAIL("rmid@%ld: %s worked (the set stands) but then its key gives %d "
				       "(%s), want %d", n, first, k, strerror(errno), id);
			if (C->w_done)
				T_FAIL("rmid@%ld: set not removed, yet the waiter returned %d (%s)", n,
				       C->w_r, strerror(C->w_e));
			check_usable(op, n, id, 1);
			T_OK(svipc_semctl(id, 0, IPC_RMID));
			if (!wait_set(&C->w_done, 2000))
				T_FAIL("rmid@%ld: the waiter not woken by a later IPC_RMID", n);
			else if (C->w_r != -1 || C->w_e != EIDRM)
				T_FAIL("rmid@%ld: the waiter got %d (%s), want EIDRM", n, C->w_r,
				       strerror(C->w_e));
		}
		T_ERR(svipc_semctl(id, 0, GETVAL), EINVAL);
		kill_reap(w);
		w = 0;
		id = -1;
		break;
	}
	case OP_SEMGET: {
		int got = svipc_semget(key, 0, 0);
		if (got >= 0) {
			struct semid_ds ds;
			union t_semun u = { .buf = &ds };
			T_OK(svipc_semctl(got, 0, IPC_STAT, u));
			T_EQ(ds.sem_nsems, NS);
			T_EQ(ds.sem_otime, 0);
			T_OK(getall4(got, v));
			if (!vals_are(v, 0, 0, 0, 0))
				T_FAIL("semget@%ld: new set's values %s", n, fmt4(b2, v));
			check_usable(op, n, got, 0);
			T_OK(svipc_semctl(got, 0, IPC_RMID));
		} else if (errno != ENOENT) {
			T_FAIL("semget@%ld: key lookup: %s", n, strerror(errno));
		}
		break;
	}
	default:
		break;
	}
	if (w)
		kill_reap(w);
	if (id >= 0)
		T_OK(svipc_semctl(id, 0, IPC_RMID));
	char names[512];
	if (count_files(names, sizeof names, warm_name))
		T_FAIL("%s@%ld: files left: %s", op_name[op], n, names);
	return exited || iv_cut ? done : 0;
}

int main(void)
{
	t_setup(280);
	C = mmap(NULL, sizeof *C, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (C == MAP_FAILED)
		return 1;
	find_maps();
	iv_a = calloc(2 * IV_MAX, sizeof *iv_a);
	if (!iv_a)
		return 1;
	iv_b = iv_a + IV_MAX;
	warm_id = (int)T_OK(svipc_semget(IPC_PRIVATE, 1, 0600));
	snprintf(warm_name, sizeof warm_name, "sem.%d", warm_id);
	const char *pts = getenv("SVIPC_SEM_CRASH_POINTS");
	long points = pts ? atol(pts) : 40;
	unsigned ops = selected_ops("SVIPC_SEM_CRASH_OPS", op_name, OP_N);
	const char *at_env = getenv("SVIPC_SEM_CRASH_AT");
	long at = at_env && *at_env ? atol(at_env) : -1;
	if (t_failures) {
		svipc_semctl(warm_id, 0, IPC_RMID);
		return t_done();
	}
	t_rng = (uint64_t)time(NULL);
	long total_trials = 0;
	for (int op = 0; op < OP_N; op++) {
		if (!(ops & (1u << op)))
			continue;
		if (at >= 0) {
			long all = trial(op, at);
			if (all)
				printf("%-22s ran to its end after %ld instructions\n", op_name[op], all);
			else
				printf("%-22s killed at instruction %ld\n", op_name[op], at);
			total_trials++;
			continue;
		}
		niv = 0;
		iv_cut = 0;
		iv_recording = exe_lo != 0;
		long total = trial(op, LONG_MAX);
		iv_recording = 0;
		int cut = iv_cut;
		iv_cut = 0;
		if (total <= 0) {
			T_FAIL("%s: the full run did not finish", op_name[op]);
			continue;
		}
		if (!niv) { /* nothing recorded: every step */
			iv_a[0] = 0;
			iv_b[0] = total - 1;
			niv = 1;
		}
		long covered = iv_total();
		struct strata sa = strata_over(covered, points);
		int before = t_failures;
		long trials = 0;
		time_t t0 = time(NULL);
		for (long i = 0; i < sa.n && t_failures - before < 5; i++) {
			if (points > 0 && time(NULL) - t0 >= OP_BUDGET_S)
				break;
			long x = stratum(&sa, i) + (long)(t_rand() % (uint64_t)sa.stride);
			trial(op, iv_step(x < covered ? x : covered - 1));
			trials++;
		}
		total_trials += trials;
		printf("%-22s %7ld instructions%s (%ld in and near svipc), killed at %ld points\n",
		       op_name[op], total, cut ? "+" : "", covered, trials);
		fflush(stdout);
	}
	svipc_semctl(warm_id, 0, IPC_RMID);
	printf("%ld kills, %d failures\n", total_trials, t_failures);
	free(iv_a);
	return t_done();
}

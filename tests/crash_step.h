/*
 * crash_step.h - the ptrace machinery the crash tests share
 * (test_sem_crash.c, test_shm_crash.c, test_msg_crash.c): a traced child
 * single-stepped instruction by instruction (run past the vDSO's clock
 * calls) and killed, the files left behind, the operations an environment
 * variable selects, and the kill points spread over a run.
 */
#ifndef SVIPC_TEST_CRASH_STEP_H
#define SVIPC_TEST_CRASH_STEP_H

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

static inline int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Kills p for real and reaps it (p <= 0: nothing to kill). */
static inline void kill_reap(pid_t p)
{
	if (p <= 0)
		return;
	kill(p, SIGKILL);
	while (waitpid(p, NULL, 0) == -1 && errno == EINTR)
		;
}

#if defined(__x86_64__)
/*
 * Single-stepping through the vDSO's clock_gettime never ends: each step
 * takes longer than a clock tick, so its seqlock retries forever. It touches
 * no shared state, so a child stopped in the vDSO (registers rg) runs to the
 * call's return address instead. Returns -1 if ptrace failed.
 */
static inline int run_vdso_call_out(pid_t pid, struct user_regs_struct *rg)
{
	errno = 0;
	unsigned long ret = (unsigned long)ptrace(PTRACE_PEEKDATA, pid, (void *)rg->rsp, NULL);
	long orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)ret, NULL);
	if (errno)
		return -1;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)ret, (void *)((orig & ~0xffL) | 0xcc)) < 0 ||
	    ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
		return -1;
	int st;
	waitpid(pid, &st, 0);
	if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP || ptrace(PTRACE_GETREGS, pid, NULL, rg) < 0)
		return -1;
	rg->rip--;
	if (rg->rip != ret || ptrace(PTRACE_SETREGS, pid, NULL, rg) < 0 ||
	    ptrace(PTRACE_POKETEXT, pid, (void *)ret, (void *)orig) < 0)
		return -1;
	return 0;
}
#endif

/*
 * Steps the child n instructions (or to its end); returns the steps done.
 * If before_step is given, it runs before step i and a nonzero return ends
 * the stepping. If on_block is given, it is called once when a step does
 * not finish within 20 ms (the child sleeps in a system call).
 */
static inline long step(pid_t pid, long n, int *exited, int (*before_step)(pid_t pid, long i),
			void (*on_block)(void))
{
	long i;
	int st;
	*exited = 0;
	for (i = 0; i < n; i++) {
		if (before_step && before_step(pid, i))
			break;
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0)
			break;
		pid_t r = on_block ? waitpid(pid, &st, WNOHANG) : 0;
		if (on_block && r == 0) {
			int64_t t0 = mono_ns(), t;
			while ((r = waitpid(pid, &st, WNOHANG)) == 0 &&
			       (t = mono_ns() - t0) < 20000000LL) {
				if (t < 1000000LL)
					sched_yield(); /* a step takes microseconds */
				else
					usleep(100);
			}
			if (r == 0) {
				on_block();
				on_block = NULL;
			}
		}
		if (r == 0)
			r = waitpid(pid, &st, 0);
		if (r != pid)
			break;
		if (!WIFSTOPPED(st)) {
			*exited = 1;
			break;
		}
		if (WSTOPSIG(st) != SIGTRAP) {
			/* A signal the child got (SIGSTOP of the stopped grandchild's parent...): pass it on. */
			if (ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)WSTOPSIG(st)) < 0)
				break;
			waitpid(pid, &st, 0);
			if (!WIFSTOPPED(st)) {
				*exited = 1;
				break;
			}
		}
	}
	return i;
}

/* Files in the namespace other than ns, procs and warm (the warm object's
 * file): their names into names[len], space separated. */
static inline int count_files(char *names, size_t len, const char *warm)
{
	DIR *d = opendir(t_dir);
	struct dirent *e;
	int n = 0;
	names[0] = 0;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "ns") ||
		    !strcmp(e->d_name, "procs") || !strcmp(e->d_name, warm))
			continue;
		n++;
		strncat(names, e->d_name, len - strlen(names) - 2);
		strcat(names, " ");
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * The operations environment variable var selects (a bit per name in
 * names[0..n-1]); all when it is unset or empty. An unknown name is a
 * failure, so a typo cannot pass as a run of nothing.
 */
static inline unsigned selected_ops(const char *var, const char *const *names, int n)
{
	const char *env = getenv(var);
	if (!env || !*env)
		return (1u << n) - 1;
	unsigned mask = 0;
	const char *p = env;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (len > 0) {
			int op;
			for (op = 0; op < n; op++)
				if (strlen(names[op]) == len && !strncmp(p, names[op], len))
					break;
			if (op < n)
				mask |= 1u << op;
			else
				T_FAIL("%s: unknown operation \"%.*s\"", var, (int)len, p);
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	return mask;
}

static inline long gcd(long a, long b)
{
	while (b) {
		long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * One kill point per stratum of `stride` instructions, the strata in a
 * shuffled order, so that an operation cut short by its time budget (slow
 * machines, sanitizers) is still sampled all along.
 */
struct strata {
	long stride, n, start, step_by;
};

/* About `points` strata over `total` instructions (0: every instruction). */
static inline struct strata strata_over(long total, long points)
{
	struct strata s;
	s.stride = points > 0 && total > points ? total / points : 1;
	s.n = (total + s.stride - 1) / s.stride;
	s.start = (long)(t_rand() % (uint64_t)s.n);
	s.step_by = 7919; /* coprime with n: visits every stratum once */
	while (gcd(s.step_by, s.n) != 1)
		s.step_by++;
	return s;
}

/* The first instruction of the i-th stratum visited. */
static inline long stratum(const struct strata *s, long i)
{
	return ((s->start + i * s->step_by) % s->n) * s->stride;
}

#endif

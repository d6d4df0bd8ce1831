/* mp_common.h - what the multi-process tests share whatever they test (mp.h
 * adds message queues, shm_mp.h shared memory): timing, polling, children
 * bounded by their own alarm and always reaped, and the kernel objects a test
 * made, removed on exit and on timeout so that a failed run leaks nothing. */
#ifndef SVIPC_TEST_MP_COMMON_H
#define SVIPC_TEST_MP_COMMON_H

#include "svipc.h"
#include "t.h"

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define ALOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ASTORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

#define MP_MAX_KIDS 128
#define MP_MAX_KOBJS 256

static volatile pid_t mp_kids[MP_MAX_KIDS];
static volatile int mp_kobjs[MP_MAX_KOBJS]; /* kernel queues or segments */
static volatile int mp_nkobjs;
static void (*mp_kobj_rm)(int id);          /* msgctl / shmctl IPC_RMID */
static const char *mp_kobj_kind = "objects"; /* named on timeout */
static const char *volatile mp_scenario;    /* named on timeout, if set */

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static inline void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline void sleep_ms(long ms)
{
	sleep_us(ms * 1000);
}

/* Registers a kernel object id for removal at exit / timeout. */
static inline void mp_track_kernel(int id)
{
	if (id != -1 && mp_nkobjs < MP_MAX_KOBJS)
		mp_kobjs[mp_nkobjs++] = id;
}

static inline void mp_untrack_kernel(int id)
{
	for (int i = 0; i < mp_nkobjs; i++)
		if (mp_kobjs[i] == id)
			mp_kobjs[i] = -1;
}

static inline void mp_kernel_rm_all(void)
{
	for (int i = 0; i < mp_nkobjs; i++)
		if (mp_kobjs[i] != -1) {
			mp_kobj_rm(mp_kobjs[i]);
			mp_kobjs[i] = -1;
		}
}

static inline void mp_kill_kids(void)
{
	for (int i = 0; i < MP_MAX_KIDS; i++)
		if (mp_kids[i] > 0) {
			kill(mp_kids[i], SIGKILL);
			mp_kids[i] = 0;
		}
}

static inline void mp_write_str(const char *s)
{
	(void)!write(2, s, strlen(s));
}

static inline void mp_on_alarm(int sig)
{
	if (mp_scenario) {
		mp_write_str("timeout in scenario '");
		mp_write_str(mp_scenario);
		mp_write_str("'");
	} else {
		mp_write_str("timeout");
	}
	mp_write_str(": removing kernel ");
	mp_write_str(mp_kobj_kind);
	mp_write_str(", killing children\n");
	mp_kernel_rm_all();
	mp_kill_kids();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void mp_cleanup_atexit(void)
{
	if (getpid() == t_owner_pid) {
		mp_kernel_rm_all();
		mp_kill_kids();
	}
}

/* After t_setup: tracked kernel objects (removed by rm, called `kind` in the
 * timeout message) and children are cleaned up on exit and on timeout. */
static inline void mp_setup_cleanup(void (*rm)(int id), const char *kind)
{
	mp_kobj_rm = rm;
	mp_kobj_kind = kind;
	signal(SIGALRM, mp_on_alarm);
	atexit(mp_cleanup_atexit);
}

static inline void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 0, size);
	return p;
}

/* Polls until *flag != 0 (up to ms); returns 1 if it got there. */
static inline int wait_flag(int *flag, long ms)
{
	int64_t end = now_ms() + ms;
	while (!ALOAD(flag)) {
		if (now_ms() >= end)
			return 0;
		sleep_ms(1);
	}
	return 1;
}

/* Polls until *flag >= want (up to ms); returns 1 if it got there. */
static inline int wait_flag_ge(int *flag, int want, long ms)
{
	int64_t end = now_ms() + ms;
	while (ALOAD(flag) < want) {
		if (now_ms() >= end)
			return 0;
		sleep_us(200);
	}
	return 1;
}

static inline void remember_kid(pid_t p)
{
	for (int i = 0; i < MP_MAX_KIDS; i++)
		if (!mp_kids[i]) {
			mp_kids[i] = p;
			return;
		}
}

static inline void forget_kid(pid_t p)
{
	for (int i = 0; i < MP_MAX_KIDS; i++)
		if (mp_kids[i] == p)
			mp_kids[i] = 0;
}

/* fork() after flushing stdio; a failure is reported. Returns what fork did. */
static inline pid_t mp_fork(void)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == -1)
		T_FAIL("fork: %s", strerror(errno));
	return p;
}

/* waitpid(p), again on EINTR: p's wait status, or -1 (reported, named what). */
static inline int mp_wait(pid_t p, const char *what)
{
	int st;
	while (waitpid(p, &st, 0) == -1) {
		if (errno != EINTR) {
			T_FAIL("%s: waitpid: %s", what, strerror(errno));
			return -1;
		}
	}
	return st;
}

/*
 * Forks a child bounded by its own alarm; it runs fn(arg) and _exits 1 if
 * any check failed in it (fn may exit on its own).
 */
static inline pid_t spawn(void (*fn)(void *), void *arg, unsigned seconds)
{
	pid_t p = mp_fork();
	if (p == -1)
		return -1;
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(seconds);
		for (int i = 0; i < MP_MAX_KIDS; i++)
			mp_kids[i] = 0;
		mp_nkobjs = 0;
		t_failures = 0;
		fn(arg);
		_exit(t_failures ? 1 : 0);
	}
	remember_kid(p);
	return p;
}

/* Waits for child p: it must exit with status `code` (sig == 0) or die of sig. */
static inline void reap_code(pid_t p, int sig, int code, const char *what)
{
	if (p <= 0)
		return;
	int st = mp_wait(p, what);
	forget_kid(p);
	if (st == -1)
		return;
	if (sig) {
		if (!WIFSIGNALED(st) || WTERMSIG(st) != sig)
			T_FAIL("%s: child status 0x%x, expected death by signal %d", what, st, sig);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != code) {
		T_FAIL("%s: child status 0x%x (%s %d), want exit %d", what, st,
		       WIFSIGNALED(st) ? "signal" : "exit",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), code);
	}
}

static inline void reap(pid_t p, int sig, const char *what)
{
	reap_code(p, sig, 0, what);
}

/* The state letter of /proc/<pid>/stat (R, S, T, t, Z, ...), or 0. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Polls until pid is in one of `states` (up to ms); returns 1 if it got there. */
static inline int wait_state(pid_t pid, const char *states, long ms)
{
	int64_t end = now_ms() + ms;
	do {
		char s = proc_state(pid);
		if (s && strchr(states, s))
			return 1;
		sleep_ms(1);
	} while (now_ms() < end);
	return 0;
}

#endif

/* shm_mp.h - helpers shared by the shared-memory tests: the kernel's and
 * svipc's shm calls behind one table, kernel segments removed on exit and on
 * timeout, children bounded by their own alarm and always reaped, polling. */
#ifndef SVIPC_TEST_SHM_MP_H
#define SVIPC_TEST_SHM_MP_H

#include "svipc.h"
#include "t.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

/* struct shm_impl (t.h): the kernel's shm calls (libc) or svipc's. */
__attribute__((unused)) static const struct shm_impl SHM_K = T_KERNEL_SHM;
__attribute__((unused)) static const struct shm_impl SHM_S = T_SVIPC_SHM;

#define SHM_FAILED ((void *)-1)
#define ALOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ASTORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

#define SHM_MAX_KIDS 128
#define SHM_MAX_KSEGS 256

static int shm_kernel_ok;
static volatile int shm_ksegs[SHM_MAX_KSEGS];
static volatile int shm_nksegs;
static volatile pid_t shm_kids[SHM_MAX_KIDS];
static const char *volatile shm_scenario = "setup"; /* named on timeout */

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

static inline void shm_kernel_rm_all(void)
{
	for (int i = 0; i < shm_nksegs; i++)
		if (shm_ksegs[i] != -1) {
			shmctl(shm_ksegs[i], IPC_RMID, NULL);
			shm_ksegs[i] = -1;
		}
}

static inline void shm_kill_kids(void)
{
	for (int i = 0; i < SHM_MAX_KIDS; i++)
		if (shm_kids[i] > 0) {
			kill(shm_kids[i], SIGKILL);
			shm_kids[i] = 0;
		}
}

static inline void shm_on_alarm(int sig)
{
	static const char m1[] = "timeout in scenario '";
	static const char m2[] = "': removing kernel segments, killing children\n";
	(void)!write(2, m1, sizeof m1 - 1);
	(void)!write(2, shm_scenario, strlen(shm_scenario));
	(void)!write(2, m2, sizeof m2 - 1);
	shm_kernel_rm_all();
	shm_kill_kids();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void shm_cleanup_atexit(void)
{
	if (getpid() == t_owner_pid) {
		shm_kernel_rm_all();
		shm_kill_kids();
	}
}

/* Registers kernel segment ids for removal at exit / timeout. */
static inline void shm_track_kernel(int id)
{
	if (id != -1 && shm_nksegs < SHM_MAX_KSEGS)
		shm_ksegs[shm_nksegs++] = id;
}

static inline void shm_untrack_kernel(int id)
{
	for (int i = 0; i < shm_nksegs; i++)
		if (shm_ksegs[i] == id)
			shm_ksegs[i] = -1;
}

/* After t_setup (or an equivalent): kernel segments and children are cleaned
 * up on exit and on timeout; probes the kernel's System V shared memory. */
static inline void shm_setup_common(void)
{
	signal(SIGALRM, shm_on_alarm);
	atexit(shm_cleanup_atexit);
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id != -1) {
		shm_kernel_ok = 1;
		shmctl(id, IPC_RMID, NULL);
	} else {
		fprintf(stderr, "note: no kernel System V shared memory (%s): kernel comparisons "
				"skipped\n", strerror(errno));
	}
}

static inline void shm_setup(unsigned seconds)
{
	t_setup(seconds);
	shm_setup_common();
}

/* A fresh segment (IPC_PRIVATE unless key given); kernel ones are remembered. */
static inline int seg_new_key(const struct shm_impl *o, key_t key, size_t size, int flg)
{
	int id = (int)T_OK(o->get(key, size, IPC_CREAT | flg));
	if (o->kernel)
		shm_track_kernel(id);
	return id;
}

static inline int seg_new(const struct shm_impl *o, size_t size)
{
	return seg_new_key(o, IPC_PRIVATE, size, 0600);
}

static inline void seg_rm(const struct shm_impl *o, int id)
{
	if (id == -1)
		return;
	T_OK(o->ctl(id, IPC_RMID, NULL));
	if (o->kernel)
		shm_untrack_kernel(id);
}

/* shm_nattch of id, or -1 (errno set) if IPC_STAT fails. */
static inline long nattch(const struct shm_impl *o, int id)
{
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (o->ctl(id, IPC_STAT, &ds) == -1)
		return -1;
	return (long)ds.shm_nattch;
}

/* Polls until nattch(id) == want, up to ms; returns the last value seen. */
static inline long wait_nattch(const struct shm_impl *o, int id, long want, long ms)
{
	int64_t end = now_ms() + ms;
	long n;
	while ((n = nattch(o, id)) != want && now_ms() < end)
		sleep_ms(1);
	return n;
}

/* Fails unless nattch becomes `want` within ms (kernel releases asynchronously). */
#define T_NATTCH_SOON(o, id, want, ms, what)                                      \
	do {                                                                      \
		int64_t t_t0_ = now_ms();                                         \
		long t_n_ = wait_nattch((o), (id), (want), (ms));                 \
		if (t_n_ != (want))                                               \
			T_FAIL("[%s] %s: shm_nattch %ld, want %ld (waited %lld ms)", \
			       (o)->name, (what), t_n_, (long)(want),             \
			       (long long)(now_ms() - t_t0_));                    \
	} while (0)

/* Fails unless nattch is `want` right now. */
#define T_NATTCH(o, id, want, what)                                               \
	do {                                                                      \
		long t_n_ = nattch((o), (id));                                    \
		if (t_n_ != (want))                                               \
			T_FAIL("[%s] %s: shm_nattch %ld, want %ld", (o)->name,     \
			       (what), t_n_, (long)(want));                       \
	} while (0)

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
	for (int i = 0; i < SHM_MAX_KIDS; i++)
		if (!shm_kids[i]) {
			shm_kids[i] = p;
			return;
		}
}

static inline void forget_kid(pid_t p)
{
	for (int i = 0; i < SHM_MAX_KIDS; i++)
		if (shm_kids[i] == p)
			shm_kids[i] = 0;
}

/*
 * Forks a child bounded by its own alarm; it runs fn(arg) and _exits 1 if
 * any check failed in it (fn may exit on its own).
 */
static inline pid_t spawn(void (*fn)(void *), void *arg, unsigned seconds)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(seconds);
		for (int i = 0; i < SHM_MAX_KIDS; i++)
			shm_kids[i] = 0;
		shm_nksegs = 0;
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
	int st;
	pid_t r;
	while ((r = waitpid(p, &st, 0)) == -1 && errno == EINTR)
		;
	forget_kid(p);
	if (r != p) {
		T_FAIL("%s: waitpid: %s", what, strerror(errno));
		return;
	}
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

/* The state letter of /proc/<pid>/stat (R, S, T, Z, ...), or 0. */
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

/* 1 if the namespace directory holds the file shm.<id>. */
static inline int seg_file_exists(int id)
{
	char path[512];
	snprintf(path, sizeof path, "%s/shm.%d", svipc_dir(), id);
	return access(path, F_OK) == 0;
}

/* Number of files named shm.* in the namespace directory. */
static inline int count_shm_files(void)
{
	DIR *d = opendir(svipc_dir());
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "shm.", 4) == 0)
			n++;
	closedir(d);
	return n;
}

/* Sleeps until time(NULL) has moved on from t (second-granularity stamps). */
static inline void wait_next_second(time_t t)
{
	while (time(NULL) <= t)
		sleep_ms(10);
}

/* A key unused in the kernel (the svipc namespace of a test is new). */
static inline key_t free_key(void)
{
	for (;;) {
		key_t k = (key_t)(0x53000000u | (uint32_t)(t_rand() & 0x00ffffffu));
		if (k == IPC_PRIVATE)
			continue;
		if (!shm_kernel_ok || (shmget(k, 0, 0) == -1 && errno == ENOENT))
			return k;
	}
}

#endif

/* sem_mp.h - helpers shared by the semaphore tests: the kernel's and svipc's
 * sem calls behind one table, sets tracked for removal, one-line wrappers of
 * the semctl commands (the set-free part is mp_common.h). */
#ifndef SVIPC_TEST_SEM_MP_H
#define SVIPC_TEST_SEM_MP_H

#include "svipc.h"
#include "t.h"
#include "mp_common.h"

#include <sys/sem.h>

/* struct sem_impl (t.h): the kernel's sem calls (libc) or svipc's. */
__attribute__((unused)) static const struct sem_impl SEM_K = T_KERNEL_SEM;
__attribute__((unused)) static const struct sem_impl SEM_S = T_SVIPC_SEM;

#define SEM_MAXVAL 32767 /* SEMVMX */

static int sem_kernel_ok;

static inline void sem_rm_set(int id)
{
	semctl(id, 0, IPC_RMID);
}

/* After t_setup (or an equivalent): kernel sets and children are cleaned up
 * on exit and on timeout; probes the kernel's System V semaphores. */
static inline void sem_setup_common(void)
{
	mp_scenario = "setup";
	mp_setup_cleanup(sem_rm_set, "semaphore sets");
	int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (id != -1) {
		sem_kernel_ok = 1;
		semctl(id, 0, IPC_RMID);
	} else {
		fprintf(stderr, "note: no kernel System V semaphores (%s): kernel comparisons "
				"skipped\n", strerror(errno));
	}
}

static inline void sem_setup(unsigned seconds)
{
	t_setup(seconds);
	sem_setup_common();
}

/*
 * The implementations to run, kernel first (the oracle): both by default,
 * SVIPC_SEM_IMPLS=kernel or =svipc selects one (to replay a failure). The
 * kernel is left out when it has no System V semaphores. Returns how many.
 */
static inline int sem_impls(const struct sem_impl *out[2])
{
	const char *e = getenv("SVIPC_SEM_IMPLS");
	int n = 0;
	int want_k = !e || !*e || strstr(e, "kernel");
	int want_s = !e || !*e || strstr(e, "svipc");
	if (e && *e && !want_k && !want_s)
		T_FAIL("SVIPC_SEM_IMPLS=\"%s\": want kernel, svipc or both", e);
	if (want_k && sem_kernel_ok)
		out[n++] = &SEM_K;
	if (want_s)
		out[n++] = &SEM_S;
	return n;
}

/* A fresh set (IPC_PRIVATE unless key given); kernel ones are remembered. */
static inline int set_new_key(const struct sem_impl *o, key_t key, int nsems, int flg)
{
	int id = (int)T_OK(o->get(key, nsems, IPC_CREAT | flg));
	if (o->kernel)
		mp_track_kernel(id);
	return id;
}

/* A fresh private set of nsems semaphores; vals (if given) set with SETALL. */
static inline int set_new(const struct sem_impl *o, int nsems, const unsigned short *vals)
{
	int id = set_new_key(o, IPC_PRIVATE, nsems, 0600);
	if (id != -1 && vals) {
		union t_semun u = { .array = (unsigned short *)vals };
		T_OK(o->ctl(id, 0, SETALL, u));
	}
	return id;
}

static inline void set_rm(const struct sem_impl *o, int id)
{
	if (id == -1)
		return;
	T_OK(o->ctl(id, 0, IPC_RMID));
	if (o->kernel)
		mp_untrack_kernel(id);
}

/* GETVAL (or -1, errno set). */
static inline int semval(const struct sem_impl *o, int id, int num)
{
	return o->ctl(id, num, GETVAL);
}

static inline int setval(const struct sem_impl *o, int id, int num, int v)
{
	union t_semun u = { .val = v };
	return o->ctl(id, num, SETVAL, u);
}

static inline int getall(const struct sem_impl *o, int id, unsigned short *vals)
{
	union t_semun u = { .array = vals };
	return o->ctl(id, 0, GETALL, u);
}

static inline int setall(const struct sem_impl *o, int id, const unsigned short *vals)
{
	union t_semun u = { .array = (unsigned short *)vals };
	return o->ctl(id, 0, SETALL, u);
}

static inline int ncnt(const struct sem_impl *o, int id, int num)
{
	return o->ctl(id, num, GETNCNT);
}

static inline int zcnt(const struct sem_impl *o, int id, int num)
{
	return o->ctl(id, num, GETZCNT);
}

static inline int sempid(const struct sem_impl *o, int id, int num)
{
	return o->ctl(id, num, GETPID);
}

/* One operation: semop(id, {num, op, flg}); its result, errno kept. */
static inline int sop1(const struct sem_impl *o, int id, int num, int op, int flg)
{
	struct sembuf b = { (unsigned short)num, (short)op, (short)flg };
	return o->op(id, &b, 1);
}

static inline struct timespec ts_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return ts;
}

/* Sleeps until time(NULL) has moved on from t (second-granularity stamps). */
static inline void sem_next_second(time_t t)
{
	while (time(NULL) <= t)
		sleep_ms(10);
}

/* "{a, b, c}" of n values, into buf. */
static inline const char *fmt_vals(char *buf, size_t len, const unsigned short *v, int n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < n && o + 8 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? ", " : "{", v[i]);
	snprintf(buf + o, len - o, "}");
	return buf;
}

/* Fails unless GETALL of id gives the n values want; what names the moment. */
#define T_VALS(o, id, want, n, what)                                               \
	do {                                                                       \
		unsigned short t_got_[256];                                        \
		char t_b1_[1200], t_b2_[1200];                                     \
		memset(t_got_, 0xff, sizeof t_got_);                               \
		if (getall((o), (id), t_got_) == -1)                               \
			T_FAIL("[%s] %s: GETALL: %s", (o)->name, (what),           \
			       strerror(errno));                                   \
		else if (memcmp(t_got_, (want), (size_t)(n) * sizeof(unsigned short))) \
			T_FAIL("[%s] %s: values %s, want %s", (o)->name, (what),   \
			       fmt_vals(t_b1_, sizeof t_b1_, t_got_, (n)),         \
			       fmt_vals(t_b2_, sizeof t_b2_, (want), (n)));        \
	} while (0)

/* A key no kernel set uses (the svipc namespace of a test is new). */
static inline key_t sem_free_key(void)
{
	for (;;) {
		key_t k = (key_t)(0x5e000000u | (uint32_t)(t_rand() & 0x00ffffffu));
		if (k == IPC_PRIVATE)
			continue;
		if (!sem_kernel_ok || (semget(k, 0, 0) == -1 && errno == ENOENT))
			return k;
	}
}

/*
 * Runs scenario fn on o; if it fails, runs it again (at most 3 times in all)
 * and keeps only the last attempt's failures: timing checks must not fail
 * on a loaded machine, while a real bug fails every attempt.
 */
static inline void sem_retry3(void (*fn)(const struct sem_impl *), const struct sem_impl *o,
			      const char *name)
{
	for (int a = 0; a < 3; a++) {
		int before = t_failures;
		int64_t t0 = now_ms();
		mp_scenario = name;
		fn(o);
		if (now_ms() - t0 > 3000)
			fprintf(stderr, "  [%s] note: %s took %lld ms\n", o->name, name,
				(long long)(now_ms() - t0));
		if (t_failures == before)
			return;
		if (a < 2) {
			fprintf(stderr, "  [%s] %s failed (attempt %d of 3), again:\n", o->name, name,
				a + 1);
			t_failures = before;
		}
	}
}

/* Runs scenario fn on o once, named for the timeout message. */
static inline void sem_once(void (*fn)(const struct sem_impl *), const struct sem_impl *o,
			    const char *name)
{
	int64_t t0 = now_ms();
	mp_scenario = name;
	fn(o);
	if (now_ms() - t0 > 3000)
		fprintf(stderr, "  [%s] note: %s took %lld ms\n", o->name, name,
			(long long)(now_ms() - t0));
}

#endif

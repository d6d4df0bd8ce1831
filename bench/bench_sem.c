/* bench_sem.c - semaphore workloads of svipc-bench: the kernel and svipc side by side. */

/*
 * Four workloads, each measured in a process of its own (bench_msg.c forks
 * it, one run per implementation, kernel and svipc interleaved):
 *
 *   sem-pair      semop(-1) then semop(+1) on one semaphore of value 1, in
 *                 one process: never a reason to wait; ns per pair;
 *   sem-undo      the same with SEM_UNDO on both operations;
 *   sem-pingpong  two processes on two semaphores of value 0: A does +1 on
 *                 s0 then -1 on s1, B does -1 on s0 then +1 on s1; A times
 *                 each round trip; median and 99th percentile in us;
 *   sem-multi     one semop of 4 operations (-1 on each of 4 semaphores of
 *                 value 1), then one of 4 (+1 on each); ns per pair of calls.
 *
 * The first calls of a run (svipc opens its namespace then) are not timed.
 * Each workload checks what it can without changing what it measures: every
 * return value, the values at the end (GETVAL / GETALL back where they
 * started), and for the ping-pong that B saw as many rounds as A and that
 * both semaphores are 0. A failed check makes the cell ERR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "svipc.h"

#define WARM_OPS 1000   /* untimed pairs first */
#define PP_WARM 2000    /* untimed round trips first (--quick: 200) */
#define MULTI_N 4

/* Informational targets, printed as PASS/MISS (never a failure). */
#define TARGET_PAIR 20.0     /* uncontended -1/+1 pair: svipc 20x faster */
#define TARGET_PINGPONG 5.0  /* round trip 5x shorter */

struct sem_api {
	int (*get)(key_t key, int nsems, int semflg);
	int (*op)(int semid, struct sembuf *sops, size_t nsops);
	int (*ctl)(int semid, int semnum, int cmd, ...);
};

static const struct sem_api sem_apis[NAPI] = {
	{ semget, semop, semctl },
	{ svipc_semget, svipc_semop, svipc_semctl },
};

union semarg {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

enum { W_PAIR, W_UNDO, W_PINGPONG, W_MULTI };

const struct work sem_works[SEM_NWORK] = {
	[W_PAIR] = { "sem-pair", "sem -1/+1 pair" },
	[W_UNDO] = { "sem-undo", "sem -1/+1 SEM_UNDO" },
	[W_PINGPONG] = { "sem-pingpong", "sem ping-pong 2 procs" },
	[W_MULTI] = { "sem-multi", "sem 4-op semop pair" },
};

unsigned sem_budget(void)
{
	/* A kernel round trip can take tens of microseconds. */
	return run_budget_s(200e-6);
}

/* ---- one run -------------------------------------------------------------- */

struct run {
	const struct sem_api *api;
	struct result *res;
	struct sem_held *held;
	uint64_t deadline;
};

/* A new private set of n semaphores, all set to val, recorded until removed. */
static int create(struct run *r, int n, int val)
{
	int id = r->api->get(IPC_PRIVATE, n, IPC_CREAT | 0600);
	if (id == -1)
		return run_fail(r->res, "semget(IPC_PRIVATE, %d): %s", n, strerror(errno));
	if (r->held->n < 2)
		r->held->ids[r->held->n++] = id;
	unsigned short v[MULTI_N];
	for (int k = 0; k < n && k < MULTI_N; k++)
		v[k] = (unsigned short)val;
	union semarg a = { .array = v };
	if (r->api->ctl(id, 0, SETALL, a) == -1)
		return run_fail(r->res, "semctl(SETALL): %s", strerror(errno));
	return id;
}

static int destroy(struct run *r, int id)
{
	int rc = r->api->ctl(id, 0, IPC_RMID);
	if (rc == -1)
		run_fail(r->res, "semctl(%d, IPC_RMID): %s", id, strerror(errno));
	for (int k = 0; k < r->held->n; k++)
		if (r->held->ids[k] == id)
			r->held->ids[k] = r->held->ids[--r->held->n];
	return rc;
}

/* Whether to do pair number n (counted from 0) of the timed part. */
static int more(const struct run *r, uint64_t n)
{
	if (cfg.iters > 0)
		return n < (uint64_t)cfg.iters;
	return n == 0 || (n & 1023) || now_ns() < r->deadline;
}

static uint64_t start(struct run *r)
{
	uint64_t t = now_ns();
	r->deadline = t + (uint64_t)(cfg.run_s * 1e9);
	return t;
}

/* -1 then +1 on n semaphores of value 1 (one call each), flg on every operation. */
static void pairs(struct run *r, int n, short flg)
{
	int id = create(r, n, 1);
	if (id == -1)
		return;
	struct sembuf down[MULTI_N], up[MULTI_N];
	for (int k = 0; k < n; k++) {
		down[k] = (struct sembuf){ (unsigned short)k, -1, flg };
		up[k] = (struct sembuf){ (unsigned short)k, 1, flg };
	}
	uint64_t t0 = 0, cnt = 0;
	for (uint64_t i = 0;; i++) {
		if (i == WARM_OPS)
			t0 = start(r);
		if (i >= WARM_OPS && !more(r, cnt++))
			break;
		if (r->api->op(id, down, (size_t)n) == -1) {
			run_fail(r->res, "semop(-1 x%d) #%llu: %s", n, (unsigned long long)i, strerror(errno));
			goto out;
		}
		if (r->api->op(id, up, (size_t)n) == -1) {
			run_fail(r->res, "semop(+1 x%d) #%llu: %s", n, (unsigned long long)i, strerror(errno));
			goto out;
		}
	}
	uint64_t t1 = now_ns();
	cnt--;
	unsigned short v[MULTI_N] = { 0 };
	union semarg a = { .array = v };
	if (r->api->ctl(id, 0, GETALL, a) == -1) {
		run_fail(r->res, "semctl(GETALL): %s", strerror(errno));
		goto out;
	}
	for (int k = 0; k < n; k++)
		if (v[k] != 1) {
			run_fail(r->res, "semaphore %d is %u after as many -1 as +1, want 1", k, v[k]);
			goto out;
		}
	r->res->count = cnt;
	r->res->v[0] = (double)(t1 - t0) / (double)cnt;
	r->res->v[1] = (double)cnt / ((double)(t1 - t0) / 1e9);
	r->res->ok = 1;
out:
	if (destroy(r, id) == -1)
		r->res->ok = 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Shared with the partner process of the ping-pong. */
struct pp_shared {
	uint32_t stop;    /* A: no more rounds; B leaves at its next -1 on s0 */
	uint64_t rounds;  /* B: rounds completed */
	char err[200];
};

/* Side B: -1 on s0, +1 on s1, until told to stop. */
static void __attribute__((noreturn)) pong(const struct sem_api *api, int id,
					   struct pp_shared *ps, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	alarm(sem_budget());
	struct sembuf down = { 0, -1, 0 }, up = { 1, 1, 0 };
	for (;;) {
		if (api->op(id, &down, 1) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(ps->err, sizeof ps->err, "B: semop(s0 -1) after %llu rounds: %s",
				 (unsigned long long)ps->rounds, strerror(errno));
			_exit(1);
		}
		if (__atomic_load_n(&ps->stop, __ATOMIC_ACQUIRE))
			_exit(0);
		ps->rounds++;
		while (api->op(id, &up, 1) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(ps->err, sizeof ps->err, "B: semop(s1 +1): %s", strerror(errno));
			_exit(1);
		}
	}
}

static void pingpong(struct run *r)
{
	struct pp_shared *ps = mmap(NULL, sizeof *ps, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ps == MAP_FAILED) {
		run_fail(r->res, "mmap: %s", strerror(errno));
		return;
	}
	memset(ps, 0, sizeof *ps);
	size_t cap = cfg.iters > 0 ? (size_t)cfg.iters : (size_t)(cfg.run_s * 2e6) + 100000;
	uint32_t *samples = malloc(cap * sizeof *samples);
	if (!samples) {
		run_fail(r->res, "out of memory");
		munmap(ps, sizeof *ps);
		return;
	}
	int id = create(r, 2, 0);
	if (id == -1)
		goto out_free;
	pid_t self = getpid();
	pid_t b = fork();
	if (b == -1) {
		run_fail(r->res, "fork: %s", strerror(errno));
		goto out;
	}
	if (b == 0)
		pong(r->api, id, ps, self);

	struct sembuf up = { 0, 1, 0 }, down = { 1, -1, 0 };
	uint64_t warm = cfg.quick ? 200 : PP_WARM, n = 0, i;
	for (i = 0;; i++) {
		if (i == warm)
			start(r);
		uint64_t t1 = now_ns();
		if (r->api->op(id, &up, 1) == -1) {
			run_fail(r->res, "A: semop(s0 +1) #%llu: %s", (unsigned long long)i, strerror(errno));
			break;
		}
		int rc;
		while ((rc = r->api->op(id, &down, 1)) == -1 && errno == EINTR)
			;
		if (rc == -1) {
			run_fail(r->res, "A: semop(s1 -1) #%llu: %s", (unsigned long long)i, strerror(errno));
			break;
		}
		uint64_t t2 = now_ns();
		if (i < warm)
			continue;
		uint64_t d = t2 - t1;
		samples[n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		if (n >= cap || (cfg.iters > 0 ? n >= (uint64_t)cfg.iters : t2 >= r->deadline))
			break;
	}
	uint64_t done = r->res->err[0] ? 0 : i + 1;
	/* Let B go: it sees stop at its next -1 on s0. */
	__atomic_store_n(&ps->stop, 1, __ATOMIC_RELEASE);
	if (r->api->op(id, &up, 1) == -1)
		run_fail(r->res, "A: semop(s0 +1) to stop B: %s", strerror(errno));
	int st = 0;
	while (waitpid(b, &st, 0) == -1 && errno == EINTR)
		;
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		if (ps->err[0])
			run_fail(r->res, "%s", ps->err);
		else
			run_fail(r->res, "B: wait status %#x", st);
	}
	if (!r->res->err[0]) {
		int v0 = r->api->ctl(id, 0, GETVAL), v1 = r->api->ctl(id, 1, GETVAL);
		if (ps->rounds != done)
			run_fail(r->res, "A made %llu round trips, B saw %llu", (unsigned long long)done,
			     (unsigned long long)ps->rounds);
		else if (v0 != 0 || v1 != 0)
			run_fail(r->res, "s0 %d s1 %d at the end, want 0 0", v0, v1);
		else if (n == 0)
			run_fail(r->res, "no round trips measured");
	}
	if (!r->res->err[0]) {
		qsort(samples, n, sizeof *samples, cmp_u32);
		r->res->v[0] = samples[n / 2] / 1e3;
		r->res->v[1] = samples[n * 99 / 100] / 1e3;
		r->res->count = n;
		r->res->ok = 1;
	}
out:
	if (destroy(r, id) == -1)
		r->res->ok = 0;
out_free:
	free(samples);
	munmap(ps, sizeof *ps);
}

void sem_run(int i, int api, struct result *res, struct sem_held *held)
{
	struct run r = { &sem_apis[api], res, held, 0 };
	switch (i) {
	case W_PAIR: pairs(&r, 1, 0); break;
	case W_UNDO: pairs(&r, 1, SEM_UNDO); break;
	case W_PINGPONG: pingpong(&r); break;
	case W_MULTI: pairs(&r, MULTI_N, 0); break;
	}
	if (!res->ok && !res->err[0])
		run_fail(res, "failed without a reason");
}

void sem_release_kernel(struct sem_held *held)
{
	for (int k = 0; k < held->n && k < 2; k++)
		semctl(held->ids[k], 0, IPC_RMID);
	held->n = 0;
}

/* ---- report --------------------------------------------------------------- */

double sem_print(int i, const struct result r[NAPI])
{
	if (i == W_PINGPONG) {
		double x = print_row(sem_works[i].name, "med us", r, 0, 0, "%.2f");
		print_row(sem_works[i].name, "p99 us", r, 1, 0, "%.2f");
		return x;
	}
	return print_row(sem_works[i].name, "ns/pair", r, 0, 0, "%.1f");
}

void sem_footnote(void)
{
	printf("(sem pair: semop(-1) + semop(+1) on one semaphore of value 1, one process;\n"
	       " SEM_UNDO: the same with SEM_UNDO; ping-pong: A +1 s0, -1 s1 / B -1 s0, +1 s1,\n"
	       " round trip timed by A; 4-op: one semop of -1 on 4 semaphores, one of +1)\n");
}

void sem_targets(const double ratio[SEM_NWORK])
{
	char t1[64], t2[64];
	target(t1, sizeof t1, "pair", TARGET_PAIR, ratio[W_PAIR]);
	target(t2, sizeof t2, "pingpong", TARGET_PINGPONG, ratio[W_PINGPONG]);
	printf("sem targets: %s, %s\n", t1, t2);
}

/* bench_shm.c - shared-memory workloads of svipc-bench: the kernel and svipc side by side. */

/*
 * Four workloads, each measured in a process of its own (bench_msg.c forks
 * it, one run per implementation, kernel and svipc interleaved):
 *
 *   shm-cycle   shmget(IPC_PRIVATE, 64 KiB) + shmat + a store to each page +
 *               shmdt + shmctl(IPC_RMID): a segment's whole life, in ops/s;
 *   shm-attach  shmat + shmdt of one existing 64 KiB segment, in ops/s;
 *   shm-copy    memcpy of a 64 MiB buffer into an attached 64 MiB segment,
 *               after one untimed pass that takes the page faults, in GB/s;
 *   shm-cold    the same copy into a new segment each time, with shmget and
 *               shmat: what a program pays to fill a fresh segment, in GB/s.
 *
 * The first calls of a run (svipc opens its namespace then) are not timed.
 * Each workload checks what it can without changing what it measures: every
 * return value, that a new segment reads as zeros, that the bytes copied
 * arrive, that nothing is left attached. A failed check makes the cell ERR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "bench.h"
#include "svipc.h"

#define SMALL_SIZE (64u << 10)  /* shm-cycle and shm-attach */
#define BIG_SIZE (64u << 20)    /* shm-copy and shm-cold */
#define WARM_OPS 64             /* untimed cycles / attach-detach pairs first */

/* Informational targets, printed as PASS/MISS (never a failure). */
#define TARGET_CYCLE 1.0   /* svipc at least as fast as the kernel */
#define TARGET_ATTACH 1.0
#define TARGET_COPY_TOL 0.10 /* copy bandwidth equal to the kernel's, within 10% */

struct shm_api {
	int (*get)(key_t key, size_t size, int shmflg);
	void *(*at)(int shmid, const void *shmaddr, int shmflg);
	int (*dt)(const void *shmaddr);
	int (*ctl)(int shmid, int cmd, struct shmid_ds *buf);
};

static const struct shm_api shm_apis[NAPI] = {
	{ shmget, shmat, shmdt, shmctl },
	{ svipc_shmget, svipc_shmat, svipc_shmdt, svipc_shmctl },
};

enum { W_CYCLE, W_ATTACH, W_COPY, W_COLD };

const struct work shm_works[SHM_NWORK] = {
	[W_CYCLE] = { "shm-cycle", "shm cycle 64 KiB" },
	[W_ATTACH] = { "shm-attach", "shm at+dt 64 KiB" },
	[W_COPY] = { "shm-copy", "shm copy 64 MiB warm" },
	[W_COLD] = { "shm-cold", "shm copy 64 MiB cold" },
};

unsigned shm_budget(void)
{
	/* A cold 64 MiB copy takes tens of milliseconds. */
	return run_budget_s(0.1);
}

/* ---- one run -------------------------------------------------------------- */

struct run {
	const struct shm_api *api;
	struct result *res;
	struct shm_held *held;
	uint64_t deadline;
};

/* A new private segment, recorded until removed so it cannot outlive a crash. */
static int create(struct run *r, size_t size)
{
	int id = r->api->get(IPC_PRIVATE, size, IPC_CREAT | 0600);
	if (id == -1)
		return run_fail(r->res, "shmget(IPC_PRIVATE, %zu): %s", size, strerror(errno));
	if (r->held->n < 2)
		r->held->ids[r->held->n++] = id;
	return id;
}

static int destroy(struct run *r, int id)
{
	int rc = r->api->ctl(id, IPC_RMID, NULL);
	if (rc == -1)
		run_fail(r->res, "shmctl(%d, IPC_RMID): %s", id, strerror(errno));
	for (int k = 0; k < r->held->n; k++)
		if (r->held->ids[k] == id)
			r->held->ids[k] = r->held->ids[--r->held->n];
	return rc;
}

static char *attach(struct run *r, int id)
{
	void *p = r->api->at(id, NULL, 0);
	if (p == (void *)-1) {
		run_fail(r->res, "shmat(%d): %s", id, strerror(errno));
		return NULL;
	}
	return p;
}

static int detach(struct run *r, const void *p)
{
	if (r->api->dt(p) == -1)
		return run_fail(r->res, "shmdt(%p): %s", p, strerror(errno));
	return 0;
}

/* Whether to do operation number n (counted from 0) of the timed part. */
static int more(const struct run *r, uint64_t n, uint64_t check_mask)
{
	if (cfg.iters > 0)
		return n < (uint64_t)cfg.iters;
	return n == 0 || (n & check_mask) || now_ns() < r->deadline;
}

/* Starts the timed part; returns its start time. */
static uint64_t start(struct run *r)
{
	uint64_t t = now_ns();
	r->deadline = t + (uint64_t)(cfg.run_s * 1e9);
	return t;
}

/* The compiler may not merge or drop stores into the segment across this. */
static inline void keep(void)
{
	__asm__ volatile("" ::: "memory");
}

/* shmget + shmat + a store to each page + shmdt + IPC_RMID. */
static void cycle(struct run *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t t0 = 0, n = 0;
	for (uint64_t i = 0;; i++) {
		if (i == WARM_OPS)
			t0 = start(r);
		if (i >= WARM_OPS && !more(r, n++, 15))
			break;
		int id = create(r, SMALL_SIZE);
		if (id == -1)
			return;
		volatile char *p = attach(r, id);
		if (!p) {
			destroy(r, id);
			return;
		}
		int dirty = 0;
		for (size_t off = 0; off < SMALL_SIZE; off += page) {
			dirty |= p[off];
			p[off] = (char)(i | 1);
		}
		if (detach(r, (const void *)p) || destroy(r, id))
			return;
		if (dirty) {
			run_fail(r->res, "a new segment was not zero-filled (cycle %llu)",
			     (unsigned long long)i);
			return;
		}
	}
	uint64_t t1 = now_ns();
	r->res->count = n - 1;
	r->res->v[0] = (double)(n - 1) / ((double)(t1 - t0) / 1e9);
	r->res->ok = 1;
}

/* shmat + shmdt of one segment; its contents and shm_nattch checked around. */
static void attach_detach(struct run *r)
{
	static const char tag[] = "svipc-bench";
	int id = create(r, SMALL_SIZE);
	if (id == -1)
		return;
	char *p = attach(r, id);
	if (!p)
		goto out;
	memcpy(p + SMALL_SIZE - sizeof tag, tag, sizeof tag);
	if (detach(r, p))
		goto out;

	uint64_t t0 = 0, n = 0;
	for (uint64_t i = 0;; i++) {
		if (i == WARM_OPS)
			t0 = start(r);
		if (i >= WARM_OPS && !more(r, n++, 15))
			break;
		void *q = r->api->at(id, NULL, 0);
		if (q == (void *)-1) {
			run_fail(r->res, "shmat #%llu: %s", (unsigned long long)i, strerror(errno));
			goto out;
		}
		if (r->api->dt(q) == -1) {
			run_fail(r->res, "shmdt #%llu: %s", (unsigned long long)i, strerror(errno));
			goto out;
		}
	}
	uint64_t t1 = now_ns();

	struct shmid_ds ds;
	if (r->api->ctl(id, IPC_STAT, &ds) == -1) {
		run_fail(r->res, "shmctl(IPC_STAT): %s", strerror(errno));
		goto out;
	}
	if (ds.shm_nattch != 0) {
		run_fail(r->res, "shm_nattch is %lu after as many shmdt as shmat", (unsigned long)ds.shm_nattch);
		goto out;
	}
	if (!(p = attach(r, id)))
		goto out;
	int same = memcmp(p + SMALL_SIZE - sizeof tag, tag, sizeof tag) == 0;
	if (detach(r, p))
		goto out;
	if (!same) {
		run_fail(r->res, "the segment lost its contents");
		goto out;
	}
	r->res->count = n - 1;
	r->res->v[0] = (double)(n - 1) / ((double)(t1 - t0) / 1e9);
	r->res->ok = 1;
out:
	if (destroy(r, id) == -1)
		r->res->ok = 0;
}

/* A source buffer of BIG_SIZE bytes, every page present, word k holding k. */
static uint64_t *make_source(struct run *r)
{
	uint64_t *src = malloc(BIG_SIZE);
	if (!src) {
		run_fail(r->res, "malloc(%u): out of memory", BIG_SIZE);
		return NULL;
	}
	for (size_t k = 0; k < BIG_SIZE / sizeof *src; k++)
		src[k] = k;
	return src;
}

/*
 * Copy durations of one run. The figure is BIG_SIZE over the median: a copy
 * takes milliseconds, and the mean would let the few that another process
 * on the machine slowed down move the figure.
 */
struct copies {
	uint64_t *ns;
	uint64_t n, cap;
};

static int copies_init(struct run *r, struct copies *c)
{
	c->n = 0;
	c->cap = cfg.iters > 0 ? (uint64_t)cfg.iters : 1u << 16;
	c->ns = malloc(c->cap * sizeof *c->ns);
	return c->ns ? 0 : run_fail(r->res, "out of memory");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void copies_result(struct run *r, struct copies *c)
{
	if (!r->res->err[0] && c->n > 0) {
		qsort(c->ns, c->n, sizeof *c->ns, cmp_u64);
		r->res->count = c->n;
		r->res->v[0] = (double)BIG_SIZE / (double)c->ns[c->n / 2]; /* bytes/ns = GB/s */
		r->res->ok = 1;
	}
	free(c->ns);
}

/* memcpy into an attached segment, after one untimed pass. */
static void copy_warm(struct run *r)
{
	struct copies c;
	uint64_t *src = make_source(r);
	if (!src || copies_init(r, &c))
		goto out;
	int id = create(r, BIG_SIZE);
	char *dst = id == -1 ? NULL : attach(r, id);
	if (dst) {
		memcpy(dst, src, BIG_SIZE); /* takes the page faults */
		keep();
		start(r);
		while (c.n < c.cap && more(r, c.n, 0)) {
			uint64_t t0 = now_ns();
			memcpy(dst, src, BIG_SIZE);
			keep();
			c.ns[c.n++] = now_ns() - t0;
		}
		int same = memcmp(dst, src, BIG_SIZE) == 0;
		if (detach(r, dst) == 0 && !same)
			run_fail(r->res, "the segment does not hold what was copied into it");
	}
	if (id != -1)
		destroy(r, id);
	copies_result(r, &c);
out:
	free(src);
}

/* shmget + shmat + the first memcpy into a new segment (every page faulted in). */
static void copy_cold(struct run *r)
{
	struct copies c;
	uint64_t *src = make_source(r);
	if (!src || copies_init(r, &c))
		goto out;
	const uint64_t *last = src + BIG_SIZE / sizeof *src - 1;
	/* Round 0 is not timed, as the other workloads' first calls are not. */
	for (uint64_t round = 0; c.n < c.cap; round++) {
		if (round == 1)
			start(r);
		if (round >= 1 && !more(r, c.n, 0))
			break;
		uint64_t t0 = now_ns();
		int id = create(r, BIG_SIZE);
		if (id == -1)
			break;
		uint64_t *dst = (uint64_t *)attach(r, id);
		if (!dst) {
			destroy(r, id);
			break;
		}
		memcpy(dst, src, BIG_SIZE);
		keep();
		uint64_t t1 = now_ns();
		if (round >= 1)
			c.ns[c.n++] = t1 - t0;
		int same = dst[0] == src[0] && dst[BIG_SIZE / sizeof *dst - 1] == *last;
		if (detach(r, dst) || destroy(r, id))
			break;
		if (!same) {
			run_fail(r->res, "the segment does not hold what was copied into it");
			break;
		}
	}
	copies_result(r, &c);
out:
	free(src);
}

void shm_run(int i, int api, struct result *res, struct shm_held *held)
{
	struct run r = { &shm_apis[api], res, held, 0 };
	switch (i) {
	case W_CYCLE: cycle(&r); break;
	case W_ATTACH: attach_detach(&r); break;
	case W_COPY: copy_warm(&r); break;
	case W_COLD: copy_cold(&r); break;
	}
	if (!res->ok && !res->err[0])
		run_fail(res, "failed without a reason");
}

void shm_release_kernel(struct shm_held *held)
{
	for (int k = 0; k < held->n && k < 2; k++)
		shmctl(held->ids[k], IPC_RMID, NULL);
	held->n = 0;
}

/* ---- report --------------------------------------------------------------- */

double shm_print(int i, const struct result r[NAPI])
{
	if (i == W_COPY || i == W_COLD)
		return print_row(shm_works[i].name, "GB/s", r, 0, 1, "%.2f");
	return print_row(shm_works[i].name, "ops/s", r, 0, 1, NULL);
}

void shm_footnote(void)
{
	printf("(shm cycle: shmget(IPC_PRIVATE) + shmat + a store to each page + shmdt + IPC_RMID;\n"
	       " at+dt: shmat + shmdt of one segment; copy warm: memcpy into an attached segment\n"
	       " whose pages are present; copy cold: shmget + shmat + first memcpy of a new one;\n"
	       " GB/s = 64 MiB / the median time of one copy)\n");
}

void shm_targets(const double ratio[SHM_NWORK])
{
	char t1[64], t2[64], t3[80];
	target(t1, sizeof t1, "cycle", TARGET_CYCLE, ratio[W_CYCLE]);
	target(t2, sizeof t2, "at+dt", TARGET_ATTACH, ratio[W_ATTACH]);
	double c = ratio[W_COPY];
	if (c > 0)
		snprintf(t3, sizeof t3, "copy warm x=1+-%g %s (%.2fx)", TARGET_COPY_TOL,
			 c >= 1 - TARGET_COPY_TOL && c <= 1 + TARGET_COPY_TOL ? "PASS" : "MISS", c);
	else
		snprintf(t3, sizeof t3, "copy warm x=1+-%g n/a", TARGET_COPY_TOL);
	printf("shm targets: %s, %s, %s\n", t1, t2, t3);
}

/* bench.h - what the parts of svipc-bench share: options, results, the table. */
#ifndef SVIPC_BENCH_H
#define SVIPC_BENCH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { API_KERNEL, API_SVIPC, NAPI };

struct bench_cfg {
	int quick;
	double run_s;  /* seconds per measured run (time mode) */
	long iters;    /* > 0: fixed count per run instead of a duration */
	int only;      /* -1: both, else API_KERNEL or API_SVIPC */
	int reps;      /* runs per (workload, implementation); figures are medians */
};
extern struct bench_cfg cfg;

/* A workload's --only selector (e.g. "shm-copy") and its table name. */
struct work {
	const char *id, *name;
};

/*
 * Seconds a run may take before its processes are killed: 30 s and per_iter
 * seconds an iteration with --iters, else the run's duration and 20 s; an
 * hour at most.
 */
static inline unsigned run_budget_s(double per_iter)
{
	double s = cfg.iters > 0 ? 30.0 + (double)cfg.iters * per_iter : cfg.run_s + 20.0;
	return s > 3600.0 ? 3600u : (unsigned)s + 1u;
}

/* The figures of one run, written by the process that measured them. */
struct result {
	int ok;         /* 1: the figures are valid */
	int timed_out;  /* the run died of its alarm */
	double v[2];    /* the workload's figures (see its table row) */
	uint64_t count; /* operations measured */
	char err[256];
};

/* Records a run's first error (later ones follow from it); returns -1. */
static inline int __attribute__((format(printf, 2, 3))) run_fail(struct result *res,
								   const char *fmt, ...)
{
	if (res->err[0])
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->err, sizeof res->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* bench_msg.c: helpers and the table. */
uint64_t now_ns(void);
/* One table row of figure vi. hib: higher is better (ratio svipc/kernel, else kernel/svipc). */
double print_row(const char *wname, const char *metric, const struct result r[NAPI], int vi,
		 int hib, const char *fmt);
void target(char *out, size_t n, const char *name, double want, double got);

/* ---- bench_shm.c: the shared-memory workloads ---------------------------- */

/*
 * Kernel segments a shm run holds at a given moment, in memory the top
 * process shares: if the run dies, the top process removes them (a kernel
 * segment outlives its creator).
 */
struct shm_held {
	int n;
	int ids[2];
};

#define SHM_NWORK 4

extern const struct work shm_works[SHM_NWORK]; /* by workload index */
unsigned shm_budget(void);        /* seconds one run may take */
/* Measures workload i on implementation api (in a process of its own). */
void shm_run(int i, int api, struct result *res, struct shm_held *held);
/* IPC_RMID on the kernel segments still held; async-signal-safe. */
void shm_release_kernel(struct shm_held *held);
/* Prints workload i's rows; returns the ratio of its main figure (0: none). */
double shm_print(int i, const struct result r[NAPI]);
/* What the rows measure, printed under them. */
void shm_footnote(void);
/* The targets line; ratio[i] as shm_print returned it, 0 if not run. */
void shm_targets(const double ratio[SHM_NWORK]);

/* ---- bench_sem.c: the semaphore workloads --------------------------------- */

/* Kernel semaphore sets a sem run holds, for the top process to remove if it dies. */
struct sem_held {
	int n;
	int ids[2];
};

#define SEM_NWORK 4

extern const struct work sem_works[SEM_NWORK]; /* by workload index */
unsigned sem_budget(void);        /* seconds one run may take */
/* Measures workload i on implementation api (in a process of its own). */
void sem_run(int i, int api, struct result *res, struct sem_held *held);
/* IPC_RMID on the kernel sets still held; async-signal-safe. */
void sem_release_kernel(struct sem_held *held);
/* Prints workload i's rows; returns the ratio of its main figure (0: none). */
double sem_print(int i, const struct result r[NAPI]);
/* What the rows measure, printed under them. */
void sem_footnote(void);
/* The targets line; ratio[i] as sem_print returned it, 0 if not run. */
void sem_targets(const double ratio[SEM_NWORK]);

#endif

/* bench_msg.c - svipc-bench's message-queue workloads and its main program. */

/*
 * Runs the same workloads against the kernel (libc msgget/msgsnd/msgrcv/msgctl)
 * and against svipc (svipc_msg*), through one table of function pointers, and
 * prints one table: workload | metric | kernel | svipc | ratio, where ratio is
 * svipc's speedup (>1: svipc is faster), whatever the direction of the metric.
 * The shared-memory workloads (bench_shm.c) and the semaphore workloads
 * (bench_sem.c) follow in the same table; --only msg, --only shm or
 * --only sem runs one group.
 *
 * Shape of a run: the top process never calls the system under test. For each
 * (workload, implementation) it forks a supervisor, which creates the queue,
 * forks the workers, releases them through a start barrier in anonymous
 * shared memory (a futex on our own mapping, never the system under test),
 * waits for them, computes the figures and removes the queue. A crash or hang
 * of the implementation thus costs one cell of the table ("ERR"), not the run.
 * A shm or sem workload is measured by that forked process itself
 * (bench_shm.c, bench_sem.c; the sem ping-pong forks its partner); the
 * kernel segments and semaphore sets it holds are recorded in the shared
 * state, so that the top process can remove them when it dies.
 *
 * Never hangs: every process has an alarm(); workers and supervisors die with
 * their parent (PR_SET_PDEATHSIG); the top process is a child subreaper and
 * reaps every descendant; on its own alarm or on SIGINT/SIGTERM it removes the
 * kernel queues, segments and semaphore sets still recorded and the svipc
 * namespace directory, then exits.
 *
 * Each (workload, implementation) runs --reps times (default 3, kernel and
 * svipc interleaved) and the table shows the median of each figure: a single
 * run can land in an unlucky placement of its processes on the CPUs.
 *
 * Slowness never fails the program. Exit status: 0, or 1 when a run failed
 * (an error or a wrong result from an implementation), 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "svipc.h"

/* Targets of the project, printed as PASS/MISS at the end (informational). */
#define TARGET_16B 5.0      /* 1->1 throughput speedup at 16-byte messages */
#define TARGET_256B 5.0     /* 1->1 throughput speedup at 256-byte messages */
#define TARGET_PINGPONG 5.0 /* speedup of the median 64-byte round trip */

#define MAX_WORKERS 4
#define MAX_MSG 4096
#define TYPED_QLEN 256   /* messages kept in the queue by the typed workloads */
#define TYPED_NTYPES 16  /* their types: 1..16, round robin */
#define TYPED_SIZE 32    /* 256 x 32 bytes fits any default msg_qbytes >= 8 KiB */
#define PP_SIZE 64
#define T_DATA 1         /* throughput: data messages */
#define T_END 2          /* throughput: one end marker per producer */
#define T_PING 1
#define T_PONG 2

/* ---- the two implementations ------------------------------------------- */

struct msg_api {
	const char *name;
	int (*get)(key_t key, int msgflg);
	int (*snd)(int msqid, const void *msgp, size_t msgsz, int msgflg);
	ssize_t (*rcv)(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg);
	int (*ctl)(int msqid, int cmd, struct msqid_ds *buf);
};

static const struct msg_api apis[NAPI] = {
	{ "kernel", msgget, msgsnd, msgrcv, msgctl },
	{ "svipc", svipc_msgget, svipc_msgsnd, svipc_msgrcv, svipc_msgctl },
};

/* ---- workloads ------------------------------------------------------------ */

enum kind { W_TPUT, W_PINGPONG, W_TYPED };

struct workload {
	const char *name;
	enum kind kind;
	size_t size;  /* payload bytes */
	int npairs;   /* W_TPUT: producers = consumers = npairs */
	long msgtyp;  /* W_TYPED: the selector ... */
	int msgflg;   /* ... and its flag */
};

static const struct workload workloads[] = {
	{ "1p->1c 16 B", W_TPUT, 16, 1, 0, 0 },
	{ "1p->1c 256 B", W_TPUT, 256, 1, 0, 0 },
	{ "1p->1c 4096 B", W_TPUT, 4096, 1, 0, 0 },
	{ "2p->2c 256 B", W_TPUT, 256, 2, 0, 0 },
	{ "ping-pong 64 B", W_PINGPONG, PP_SIZE, 0, 0, 0 },
	{ "typed rcv msgtyp=16", W_TYPED, TYPED_SIZE, 0, TYPED_NTYPES, 0 },
	{ "typed rcv msgtyp=-16", W_TYPED, TYPED_SIZE, 0, -TYPED_NTYPES, 0 },
	{ "typed rcv MSG_EXCEPT 1", W_TYPED, TYPED_SIZE, 0, 1, MSG_EXCEPT },
};
#define NWORK (sizeof workloads / sizeof workloads[0])

/* ---- options -------------------------------------------------------------- */

struct bench_cfg cfg = { 0, 0.7, 0, -1, 3 };

/* Workloads selected by --only: all unless a group or workload is named. */
static int sel_msg = 1;
static unsigned sel_shm = (1u << SHM_NWORK) - 1;
static unsigned sel_sem = (1u << SEM_NWORK) - 1;

/* ---- shared state (anonymous MAP_SHARED, set up by the top process) ------ */

/*
 * Figures in struct result: tput: msg/s, MB/s; pingpong: median us, p99 us;
 * typed: ns/rcv; count: messages, round trips or receives measured.
 */
struct shared {
	uint32_t go;      /* start barrier futex word: 0 wait, 1 go */
	uint32_t ready;   /* workers at the barrier */
	int nq;           /* kernel queue ids still to remove, for emergencies */
	int qids[2];
	uint64_t t0;      /* start, CLOCK_MONOTONIC ns, written before go */
	uint64_t t_end[MAX_WORKERS];
	uint64_t count[MAX_WORKERS];
	uint64_t nsamples;   /* ping-pong round trips in samples[] */
	double sum_ns;       /* typed: total ns inside msgrcv */
	double timer_ns;     /* typed: cost of one clock_gettime pair */
	char werr[MAX_WORKERS][200];
	struct shm_held shm_held; /* kernel segments of a shm run, for emergencies */
	struct sem_held sem_held; /* kernel semaphore sets of a sem run, likewise */
	struct result res;
};

static struct shared *sh;
static uint32_t *samples;  /* ping-pong round trips, ns, shared */
static size_t samples_cap;

/* Top-process state the emergency handler reads. */
static pid_t top_pid;
static volatile pid_t cur_supervisor;
static volatile int cur_api = -1;
static char ns_dir[128];

/* ---- small helpers ------------------------------------------------------- */

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

/* Async-signal-safe output of a string. */
static void say(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Removes name (file or directory tree) below dirfd with bare system calls
 * only, so the emergency signal handler can use it too.
 */
static void rm_tree_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return;
	if (depth > 16)
		return;
	for (int pass = 0; pass < 3; pass++) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return;
		char buf[4096] __attribute__((aligned(8)));
		long n;
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
				off += d->d_reclen;
				if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
					rm_tree_at(fd, d->d_name, depth + 1);
			}
		}
		close(fd);
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno != ENOTEMPTY)
			return;
	}
}

static void fmt_rate(char *out, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(out, n, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, n, "%.1fk", v / 1e3);
	else
		snprintf(out, n, "%.0f", v);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Seconds a run may take before its processes are killed. */
static unsigned run_budget(void)
{
	return run_budget_s(100e-6);
}

/* ---- worker side ---------------------------------------------------------- */

static int worker_slot = -1;

static void __attribute__((noreturn, format(printf, 1, 2))) wfail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (worker_slot >= 0)
		vsnprintf(sh->werr[worker_slot], sizeof sh->werr[0], fmt, ap);
	va_end(ap);
	_exit(1);
}

/* Common start of every forked process: bounded, dies with its parent. */
static void child_setup(pid_t parent, unsigned seconds)
{
	signal(SIGALRM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	alarm(seconds);
}

/* Waits at the start barrier; returns the common start time. */
static uint64_t barrier_wait(void)
{
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE) == 0) {
		struct timespec ts = { 1, 0 };
		futex(&sh->go, FUTEX_WAIT, 0, &ts);
	}
	return __atomic_load_n(&sh->t0, __ATOMIC_ACQUIRE);
}

struct mbuf {
	long mtype;
	char mtext[MAX_MSG];
};

static struct mbuf *mbuf_new(void)
{
	struct mbuf *m = calloc(1, sizeof *m);
	if (!m)
		wfail("out of memory");
	return m;
}

/* Sends until the duration (or the fixed count) is over, then an end marker. */
static void producer(const struct msg_api *api, int q, int id, const struct workload *w)
{
	struct mbuf *m = mbuf_new();
	uint64_t n = 0;
	if (cfg.iters > 0)
		n = (uint64_t)cfg.iters / (uint64_t)w->npairs +
		    (id == 0 ? (uint64_t)cfg.iters % (uint64_t)w->npairs : 0);
	uint64_t deadline = barrier_wait() + (uint64_t)(cfg.run_s * 1e9);
	uint64_t seq;
	m->mtype = T_DATA;
	for (seq = 0;; seq++) {
		if (cfg.iters > 0) {
			if (seq == n)
				break;
		} else if ((seq & 15) == 0 && now_ns() >= deadline) {
			break;
		}
		uint64_t tag = ((uint64_t)id << 48) | seq;
		memcpy(m->mtext, &tag, sizeof tag);
		while (api->snd(q, m, w->size, 0) == -1)
			if (errno != EINTR)
				wfail("producer %d: msgsnd #%llu: %s", id,
				      (unsigned long long)seq, strerror(errno));
	}
	sh->count[id] = seq;
	m->mtype = T_END;
	while (api->snd(q, m, w->size, 0) == -1)
		if (errno != EINTR)
			wfail("producer %d: msgsnd end marker: %s", id, strerror(errno));
	_exit(0);
}

/* Receives (msgtyp 0) until an end marker; checks size and per-producer order. */
static void consumer(const struct msg_api *api, int q, int slot, const struct workload *w)
{
	struct mbuf *m = mbuf_new();
	uint64_t next[MAX_WORKERS] = { 0 };
	uint64_t got = 0;
	barrier_wait();
	for (;;) {
		ssize_t r = api->rcv(q, m, w->size, 0, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			wfail("consumer: msgrcv after %llu: %s", (unsigned long long)got,
			      strerror(errno));
		}
		if (m->mtype == T_END)
			break;
		if (m->mtype != T_DATA || (size_t)r != w->size)
			wfail("consumer: got type %ld size %zd, want type %d size %zu",
			      m->mtype, r, T_DATA, w->size);
		uint64_t tag;
		memcpy(&tag, m->mtext, sizeof tag);
		unsigned pid = (unsigned)(tag >> 48);
		uint64_t seq = tag & ((1ull << 48) - 1);
		if (pid >= (unsigned)w->npairs || seq < next[pid])
			wfail("consumer: out of order: producer %u seq %llu after %llu", pid,
			      (unsigned long long)seq, (unsigned long long)next[pid]);
		next[pid] = seq + 1;
		got++;
	}
	sh->t_end[slot] = now_ns();
	sh->count[slot] = got;
	_exit(0);
}

/* Ping side: times each round trip (send T_PING, receive T_PONG). */
static void pinger(const struct msg_api *api, int q)
{
	struct mbuf *m = mbuf_new();
	uint64_t warm = cfg.quick ? 200 : 2000, n = 0;
	uint64_t limit = cfg.iters > 0 ? (uint64_t)cfg.iters : samples_cap;
	if (limit > samples_cap)
		limit = samples_cap;
	barrier_wait();
	uint64_t deadline = 0;
	for (uint64_t i = 0;; i++) {
		if (i == warm)
			deadline = now_ns() + (uint64_t)(cfg.run_s * 1e9);
		m->mtype = T_PING;
		m->mtext[0] = 'P';
		uint64_t t1 = now_ns();
		while (api->snd(q, m, PP_SIZE, 0) == -1)
			if (errno != EINTR)
				wfail("ping: msgsnd: %s", strerror(errno));
		ssize_t r;
		while ((r = api->rcv(q, m, PP_SIZE, T_PONG, 0)) == -1)
			if (errno != EINTR)
				wfail("ping: msgrcv: %s", strerror(errno));
		uint64_t t2 = now_ns();
		if (m->mtype != T_PONG || r != PP_SIZE)
			wfail("ping: got type %ld size %zd, want type %d size %d", m->mtype, r,
			      T_PONG, PP_SIZE);
		if (i < warm)
			continue;
		uint64_t d = t2 - t1;
		samples[n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		if (n >= limit || (cfg.iters <= 0 && t2 >= deadline))
			break;
	}
	sh->nsamples = n;
	m->mtype = T_PING;
	m->mtext[0] = 'Q';
	while (api->snd(q, m, PP_SIZE, 0) == -1)
		if (errno != EINTR)
			wfail("ping: msgsnd quit: %s", strerror(errno));
	_exit(0);
}

/* Pong side: answers each T_PING with a T_PONG until told to quit. */
static void ponger(const struct msg_api *api, int q)
{
	struct mbuf *m = mbuf_new();
	barrier_wait();
	for (;;) {
		ssize_t r = api->rcv(q, m, PP_SIZE, T_PING, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			wfail("pong: msgrcv: %s", strerror(errno));
		}
		if (m->mtype != T_PING || r != PP_SIZE)
			wfail("pong: got type %ld size %zd", m->mtype, r);
		if (m->mtext[0] == 'Q')
			break;
		m->mtype = T_PONG;
		while (api->snd(q, m, PP_SIZE, 0) == -1)
			if (errno != EINTR)
				wfail("pong: msgsnd: %s", strerror(errno));
	}
	_exit(0);
}

/*
 * Typed receive: the queue holds TYPED_QLEN messages of types 1..16 (round
 * robin); each timed msgrcv with the workload's selector is followed by an
 * untimed re-send of the same type, so the queue stays at TYPED_QLEN.
 */
static void typed(const struct msg_api *api, int q, const struct workload *w)
{
	struct mbuf *m = mbuf_new();
	for (int i = 0; i < TYPED_QLEN; i++) {
		m->mtype = 1 + i % TYPED_NTYPES;
		if (api->snd(q, m, TYPED_SIZE, IPC_NOWAIT) == -1)
			wfail("typed: filling message %d: %s", i, strerror(errno));
	}
	/* The cost of the clock_gettime pair around each call, subtracted later. */
	uint64_t c0 = now_ns(), c1 = c0;
	for (int i = 0; i < 100000; i++)
		c1 = now_ns();
	sh->timer_ns = (double)(c1 - c0) / 100000.0;

	uint64_t deadline = barrier_wait() + (uint64_t)(cfg.run_s * 1e9);
	uint64_t n = 0;
	double sum = 0;
	for (;;) {
		uint64_t t1 = now_ns();
		ssize_t r = api->rcv(q, m, TYPED_SIZE, w->msgtyp, w->msgflg);
		uint64_t t2 = now_ns();
		if (r == -1) {
			if (errno == EINTR)
				continue;
			wfail("typed: msgrcv: %s", strerror(errno));
		}
		int good = w->msgflg & MSG_EXCEPT ? m->mtype != w->msgtyp
			   : w->msgtyp > 0       ? m->mtype == w->msgtyp
						 : m->mtype == 1;
		if (!good || r != TYPED_SIZE)
			wfail("typed: msgtyp %ld%s returned type %ld size %zd", w->msgtyp,
			      w->msgflg & MSG_EXCEPT ? " MSG_EXCEPT" : "", m->mtype, r);
		sum += (double)(t2 - t1);
		n++;
		while (api->snd(q, m, TYPED_SIZE, 0) == -1)
			if (errno != EINTR)
				wfail("typed: re-send: %s", strerror(errno));
		if (cfg.iters > 0 ? n >= (uint64_t)cfg.iters : t2 >= deadline)
			break;
	}
	sh->sum_ns = sum;
	sh->count[0] = n;
	_exit(0);
}

/* ---- supervisor ---------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 3, 4)))
sfail(const struct msg_api *api, int q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sh->res.err, sizeof sh->res.err, fmt, ap);
	va_end(ap);
	if (q != -1 && api->ctl(q, IPC_RMID, NULL) == 0)
		sh->nq = 0;
	_exit(1);
}

/* Records why worker p failed (first failure only); nothing if it exited 0. */
static void note_exit(pid_t p, int st, const pid_t *pids, int nw, char *why, size_t n)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	if (why[0])
		return;
	int i;
	for (i = 0; i < nw && pids[i] != p; i++)
		;
	if (i < nw && sh->werr[i][0])
		snprintf(why, n, "%s", sh->werr[i]);
	else if (WIFSIGNALED(st))
		snprintf(why, n, "worker %d killed by signal %d (%s)", i, WTERMSIG(st),
			 WTERMSIG(st) == SIGALRM ? "timeout" : strsignal(WTERMSIG(st)));
	else
		snprintf(why, n, "worker %d exited with %d", i, WEXITSTATUS(st));
}

/* Runs one workload on one implementation; the figures go to sh->res. */
static void supervise(const struct workload *w, const struct msg_api *api)
{
	pid_t self = getpid(), pids[MAX_WORKERS];
	int nw = w->kind == W_TPUT ? 2 * w->npairs : w->kind == W_PINGPONG ? 2 : 1;
	int q = api->get(IPC_PRIVATE, IPC_CREAT | 0600);
	if (q == -1)
		sfail(api, -1, "msgget: %s", strerror(errno));
	sh->qids[0] = q;
	sh->nq = 1;

	for (int i = 0; i < nw; i++) {
		pid_t p = fork();
		if (p == -1)
			sfail(api, q, "fork: %s", strerror(errno));
		if (p == 0) {
			child_setup(self, run_budget());
			worker_slot = i;
			switch (w->kind) {
			case W_TPUT:
				if (i < w->npairs)
					producer(api, q, i, w);
				consumer(api, q, i, w);
				break;
			case W_PINGPONG:
				if (i == 0)
					pinger(api, q);
				ponger(api, q);
				break;
			case W_TYPED:
				typed(api, q, w);
				break;
			}
			_exit(1);
		}
		pids[i] = p;
	}

	/* Start barrier: everyone ready (or someone dead), then go. */
	int left = nw, removed = 0;
	char why[200] = "";
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < (uint32_t)nw) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			left--;
			note_exit(p, st, pids, nw, why, sizeof why);
			break;
		}
		sleep_us(200);
	}
	__atomic_store_n(&sh->t0, now_ns(), __ATOMIC_RELEASE);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	futex(&sh->go, FUTEX_WAKE, INT32_MAX, NULL);

	/* Wait for all; the first failure removes the queue so the others end. */
	for (;;) {
		if (why[0] && !removed) {
			removed = 1;
			if (api->ctl(q, IPC_RMID, NULL) == 0)
				sh->nq = 0;
		}
		if (left == 0)
			break;
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		left--;
		note_exit(p, st, pids, nw, why, sizeof why);
	}
	if (why[0])
		sfail(api, removed ? -1 : q, "%s", why);

	struct result *res = &sh->res;
	switch (w->kind) {
	case W_TPUT: {
		uint64_t sent = 0, got = 0, end = 0;
		for (int i = 0; i < w->npairs; i++) {
			sent += sh->count[i];
			got += sh->count[w->npairs + i];
			if (sh->t_end[w->npairs + i] > end)
				end = sh->t_end[w->npairs + i];
		}
		if (sent != got)
			sfail(api, q, "sent %llu messages, received %llu",
			      (unsigned long long)sent, (unsigned long long)got);
		double s = (double)(end - sh->t0) / 1e9;
		res->v[0] = (double)got / s;
		res->v[1] = (double)got * (double)w->size / s / 1e6;
		res->count = got;
		break;
	}
	case W_PINGPONG: {
		uint64_t n = sh->nsamples;
		if (n == 0)
			sfail(api, q, "no round trips measured");
		qsort(samples, n, sizeof samples[0], cmp_u32);
		res->v[0] = samples[n / 2] / 1e3;
		res->v[1] = samples[n * 99 / 100] / 1e3;
		res->count = n;
		break;
	}
	case W_TYPED: {
		uint64_t n = sh->count[0];
		if (n == 0)
			sfail(api, q, "no receives measured");
		double ns = sh->sum_ns / (double)n - sh->timer_ns;
		res->v[0] = ns > 0 ? ns : 0;
		res->count = n;
		break;
	}
	}
	if (api->ctl(q, IPC_RMID, NULL) == -1)
		sfail(api, -1, "msgctl(IPC_RMID): %s", strerror(errno));
	sh->nq = 0;
	res->ok = 1;
	_exit(0);
}

/* ---- top process --------------------------------------------------------- */

/* Emergency exit (alarm, SIGINT, SIGTERM): kill, remove, leave. Signal-safe. */
static void on_fatal(int sig)
{
	say(sig == SIGALRM ? "\nsvipc-bench: overall time limit reached, cleaning up\n"
			   : "\nsvipc-bench: interrupted, cleaning up\n");
	if (cur_supervisor > 0)
		kill(cur_supervisor, SIGKILL);
	if (cur_api == API_KERNEL && sh) {
		for (int i = 0; i < sh->nq && i < 2; i++)
			msgctl(sh->qids[i], IPC_RMID, NULL);
		shm_release_kernel(&sh->shm_held);
		sem_release_kernel(&sh->sem_held);
	}
	/* Reap the supervisor and its workers (they die with it, then are ours). */
	for (int i = 0; i < 1000; i++) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p == -1 && errno == ECHILD)
			break;
		if (p <= 0) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (ns_dir[0] && getpid() == top_pid)
		rm_tree_at(AT_FDCWD, ns_dir, 0);
	_exit(sig == SIGALRM ? 3 : 130);
}

/* Reaps every child left (workers orphaned to us, the subreaper), bounded. */
static void reap_orphans(void)
{
	for (int i = 0; i < 2000; i++) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p == -1 && errno == ECHILD)
			return;
		if (p <= 0)
			sleep_us(1000);
	}
}

/*
 * Each run starts after a short pause: right after a run, the next one on
 * this machine measured up to 2.5x slower (256-byte 1p->1c after a kernel run:
 * ~0.9M msg/s for svipc instead of ~2.2M; 100 ms of rest was enough), which
 * penalised whichever side came second.
 */
#define SETTLE_US 300000
/*
 * The shm workloads run in one process each; rests of 0, 50 and 300 ms
 * before them measured the same, so a short one keeps --quick quick.
 */
#define SHM_SETTLE_US 50000
/* The sem workloads include a two-process ping-pong: the msg groups' rest. */
#define SEM_SETTLE_US 300000

enum group { G_MSG, G_SHM, G_SEM };

/* Runs workload i of group g on implementation a, in a process of its own. */
static void run_one(enum group g, int i, int a, struct result *out)
{
	sleep_us(g == G_MSG ? SETTLE_US : g == G_SHM ? SHM_SETTLE_US : SEM_SETTLE_US);
	memset(sh, 0, sizeof *sh);
	cur_api = a;
	pid_t p = fork();
	if (p == -1) {
		memset(out, 0, sizeof *out);
		snprintf(out->err, sizeof out->err, "fork: %s", strerror(errno));
		return;
	}
	if (p == 0) {
		if (g == G_MSG) {
			child_setup(top_pid, run_budget() + 10);
			supervise(&workloads[i], &apis[a]);
		}
		if (g == G_SEM) {
			child_setup(top_pid, sem_budget() + 10);
			sem_run(i, a, &sh->res, &sh->sem_held);
			_exit(sh->res.ok ? 0 : 1);
		}
		child_setup(top_pid, shm_budget() + 10);
		shm_run(i, a, &sh->res, &sh->shm_held);
		_exit(sh->res.ok ? 0 : 1);
	}
	cur_supervisor = p;
	int st = 0;
	while (waitpid(p, &st, 0) == -1 && errno == EINTR)
		;
	cur_supervisor = 0;
	reap_orphans();
	/* Kernel objects the run could not remove (it crashed or timed out). */
	if (a == API_KERNEL) {
		for (int k = 0; k < sh->nq && k < 2; k++)
			msgctl(sh->qids[k], IPC_RMID, NULL);
		shm_release_kernel(&sh->shm_held);
		sem_release_kernel(&sh->sem_held);
	}
	*out = sh->res;
	if (!out->ok && !out->err[0]) {
		const char *who = g == G_MSG ? "supervisor" : "measuring process";
		if (WIFSIGNALED(st)) {
			out->timed_out = WTERMSIG(st) == SIGALRM;
			snprintf(out->err, sizeof out->err, "%s killed by signal %d (%s)", who,
				 WTERMSIG(st), strsignal(WTERMSIG(st)));
		} else {
			snprintf(out->err, sizeof out->err, "%s exited with %d", who,
				 WEXITSTATUS(st));
		}
	}
	cur_api = -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of each figure over n runs; not ok (first error kept) if one failed. */
static void combine(struct result *out, const struct result *r, int n)
{
	memset(out, 0, sizeof *out);
	for (int k = 0; k < n; k++) {
		if (!r[k].ok) {
			*out = r[k];
			if (n > 1) {
				char e[sizeof out->err];
				snprintf(e, sizeof e, "run %d/%d: %.200s", k + 1, n, r[k].err);
				memcpy(out->err, e, sizeof e);
			}
			return;
		}
		out->count += r[k].count;
	}
	for (int vi = 0; vi < 2; vi++) {
		double v[100];
		for (int k = 0; k < n; k++)
			v[k] = r[k].v[vi];
		qsort(v, (size_t)n, sizeof v[0], cmp_double);
		out->v[vi] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	}
	out->ok = 1;
}

double print_row(const char *wname, const char *metric, const struct result r[NAPI], int vi,
		 int hib, const char *fmt)
{
	char cell[NAPI][32], ratio[32] = "-";
	double ratio_v = 0;
	for (int a = 0; a < NAPI; a++) {
		if (cfg.only >= 0 && cfg.only != a)
			snprintf(cell[a], sizeof cell[a], "-");
		else if (!r[a].ok)
			snprintf(cell[a], sizeof cell[a], r[a].timed_out ? "TIMEOUT" : "ERR");
		else if (!fmt)
			fmt_rate(cell[a], sizeof cell[a], r[a].v[vi]);
		else
			snprintf(cell[a], sizeof cell[a], fmt, r[a].v[vi]);
	}
	if (r[0].ok && r[1].ok && r[0].v[vi] > 0 && r[1].v[vi] > 0) {
		ratio_v = hib ? r[1].v[vi] / r[0].v[vi] : r[0].v[vi] / r[1].v[vi];
		snprintf(ratio, sizeof ratio, "%.2fx", ratio_v);
	}
	printf("%-24s %-8s %12s %12s %8s\n", wname, metric, cell[0], cell[1], ratio);
	fflush(stdout);
	return ratio_v;
}

void target(char *out, size_t n, const char *name, double want, double got)
{
	if (got > 0)
		snprintf(out, n, "%s x>=%g %s (%.2fx)", name, want, got >= want ? "PASS" : "MISS",
			 got);
	else
		snprintf(out, n, "%s x>=%g n/a", name, want);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svipc-bench [--quick] [--only X[,X...]] [--iters N] [--seconds S] [--reps R]\n"
		"  Runs message-queue, shared-memory and semaphore workloads on the kernel and\n"
		"  on svipc and prints a table.\n"
		"  --quick       short runs (about 0.25 s each; total well under 20 s)\n"
		"  --only X      run only what X names (repeatable, or a comma-separated list):\n"
		"                kernel or svipc: that implementation; msg, shm or sem: that\n"
		"                group of workloads; shm-cycle, shm-attach, shm-copy, shm-cold,\n"
		"                sem-pair, sem-undo, sem-pingpong, sem-multi: that workload.\n"
		"                Implementations and workloads combine:\n"
		"                --only shm,svipc runs the shm workloads on svipc alone.\n"
		"  --iters N     fixed count per run (messages, round trips, receives,\n"
		"                shm cycles, attach+detach pairs, copies, semop pairs) instead\n"
		"                of a duration\n"
		"  --seconds S   duration of each measured run (default 0.7, quick 0.25)\n"
		"  --reps R      runs per workload and implementation, median shown\n"
		"                (default 3; 1 with --quick or --iters)\n"
		"  ratio = svipc speedup over the kernel (>1: svipc faster).\n"
		"  Exit: 0; 1 if a run failed (error or wrong result); 2 bad usage.\n");
}

/*
 * Adds one --only list to *api_mask (bit per implementation), *msg, *shm and
 * *sem (workloads named). Returns 0, or -1 for a name it does not know.
 */
static int parse_only(const char *list, unsigned *api_mask, int *msg, unsigned *shm,
		      unsigned *sem)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k;
		if (!strcmp(t, "kernel"))
			*api_mask |= 1u << API_KERNEL;
		else if (!strcmp(t, "svipc"))
			*api_mask |= 1u << API_SVIPC;
		else if (!strcmp(t, "msg"))
			*msg = 1;
		else if (!strcmp(t, "shm"))
			*shm = (1u << SHM_NWORK) - 1;
		else if (!strcmp(t, "sem"))
			*sem = (1u << SEM_NWORK) - 1;
		else {
			for (k = 0; k < SHM_NWORK && strcmp(t, shm_works[k].id); k++)
				;
			if (k < SHM_NWORK) {
				*shm |= 1u << k;
				continue;
			}
			for (k = 0; k < SEM_NWORK && strcmp(t, sem_works[k].id); k++)
				;
			if (k == SEM_NWORK)
				return -1;
			*sem |= 1u << k;
		}
	}
	return 0;
}

/* Runs workload i of group g cfg.reps times per implementation; medians to res. */
static int measure(enum group g, int i, struct result res[NAPI])
{
	struct result runs_r[NAPI][100];
	int errors = 0;
	for (int k = 0; k < cfg.reps; k++)
		for (int a = 0; a < NAPI; a++)
			if (cfg.only < 0 || cfg.only == a)
				run_one(g, i, a, &runs_r[a][k]);
	for (int a = 0; a < NAPI; a++) {
		memset(&res[a], 0, sizeof res[a]);
		if (cfg.only >= 0 && cfg.only != a)
			continue;
		combine(&res[a], runs_r[a], cfg.reps);
		if (!res[a].ok)
			errors++;
	}
	return errors;
}

int main(int argc, char **argv)
{
	double seconds = -1;
	long reps = 0;
	unsigned only_apis = 0, only_shm = 0, only_sem = 0;
	int only_msg = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quick")) {
			cfg.quick = 1;
		} else if (!strcmp(a, "--only") && i + 1 < argc) {
			if (parse_only(argv[++i], &only_apis, &only_msg, &only_shm, &only_sem) == -1) {
				fprintf(stderr, "svipc-bench: --only %s: unknown name\n", argv[i]);
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(a, "--iters") && i + 1 < argc) {
			char *end;
			cfg.iters = strtol(argv[++i], &end, 10);
			if (*end || cfg.iters <= 0) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(a, "--reps") && i + 1 < argc) {
			char *end;
			reps = strtol(argv[++i], &end, 10);
			if (*end || reps <= 0 || reps > 100) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(a, "--seconds") && i + 1 < argc) {
			char *end;
			seconds = strtod(argv[++i], &end);
			if (*end || !(seconds > 0 && seconds <= 600)) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	cfg.run_s = seconds > 0 ? seconds : cfg.quick ? 0.25 : 0.7;
	cfg.reps = reps > 0 ? (int)reps : cfg.quick || cfg.iters > 0 ? 1 : 3;
	if (only_apis == 1u << API_KERNEL)
		cfg.only = API_KERNEL;
	else if (only_apis == 1u << API_SVIPC)
		cfg.only = API_SVIPC;
	if (only_msg || only_shm || only_sem) {
		sel_msg = only_msg;
		sel_shm = only_shm;
		sel_sem = only_sem;
	}
	int n_shm = __builtin_popcount(sel_shm), n_sem = __builtin_popcount(sel_sem);

	top_pid = getpid();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setvbuf(stdout, NULL, _IOLBF, 0);

	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	samples_cap = cfg.iters > 0 ? (size_t)cfg.iters : (size_t)(cfg.run_s * 2e6) + 100000;
	samples = mmap(NULL, samples_cap * sizeof *samples, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED || samples == MAP_FAILED) {
		perror("svipc-bench: mmap");
		return 1;
	}

	/* svipc gets a namespace of its own, made before any svipc call. */
	if (cfg.only != API_KERNEL) {
		snprintf(ns_dir, sizeof ns_dir, "/dev/shm/svipc-bench-XXXXXX");
		if (!mkdtemp(ns_dir)) {
			snprintf(ns_dir, sizeof ns_dir, "/tmp/svipc-bench-XXXXXX");
			if (!mkdtemp(ns_dir)) {
				perror("svipc-bench: mkdtemp");
				return 1;
			}
		}
		setenv("SVIPC_DIR", ns_dir, 1);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	unsigned per = (unsigned)cfg.reps * (cfg.only >= 0 ? 1u : 2u);
	alarm((sel_msg ? (unsigned)NWORK * per * (run_budget() + 15) : 0) +
	      (unsigned)n_shm * per * (shm_budget() + 15) +
	      (unsigned)n_sem * per * (sem_budget() + 15) + 30);

	struct utsname u;
	uname(&u);
	char cpu[128] = "";
	FILE *ci = fopen("/proc/cpuinfo", "r");
	if (ci) {
		char line[256];
		while (fgets(line, sizeof line, ci)) {
			char *c = strchr(line, ':');
			if (!strncmp(line, "model name", 10) && c) {
				snprintf(cpu, sizeof cpu, ", %s", c + 2);
				cpu[strcspn(cpu, "\n")] = 0;
				break;
			}
		}
		fclose(ci);
	}
	char mode[64];
	if (cfg.iters > 0)
		snprintf(mode, sizeof mode, "%ld iterations per run", cfg.iters);
	else
		snprintf(mode, sizeof mode, "%.2g s per run", cfg.run_s);
	if (cfg.reps > 1)
		snprintf(mode + strlen(mode), sizeof mode - strlen(mode), ", median of %d runs",
			 cfg.reps);
	printf("svipc-bench %s: nproc %ld, %s %s %s%s; %s%s\n", SVIPC_VERSION_STRING,
	       sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine, cpu, mode,
	       cfg.quick ? " (--quick)" : "");
	printf("%-24s %-8s %12s %12s %8s\n", "workload", "metric", "kernel", "svipc", "ratio");
	printf("%-24s %-8s %12s %12s %8s\n", "------------------------", "--------",
	       "------------", "------------", "--------");

	struct result res[NWORK][NAPI], shm_res[SHM_NWORK][NAPI], sem_res[SEM_NWORK][NAPI];
	double r16 = 0, r256 = 0, rpp = 0, shm_ratio[SHM_NWORK] = { 0 };
	double sem_ratio[SEM_NWORK] = { 0 };
	int errors = 0;
	memset(res, 0, sizeof res);
	memset(shm_res, 0, sizeof shm_res);
	memset(sem_res, 0, sizeof sem_res);
	for (size_t i = 0; i < NWORK && sel_msg; i++) {
		const struct workload *w = &workloads[i];
		errors += measure(G_MSG, (int)i, res[i]);
		switch (w->kind) {
		case W_TPUT: {
			double x = print_row(w->name, "msg/s", res[i], 0, 1, NULL);
			print_row(w->name, "MB/s", res[i], 1, 1, "%.1f");
			if (w->npairs == 1 && w->size == 16)
				r16 = x;
			if (w->npairs == 1 && w->size == 256)
				r256 = x;
			break;
		}
		case W_PINGPONG:
			rpp = print_row(w->name, "med us", res[i], 0, 0, "%.2f");
			print_row(w->name, "p99 us", res[i], 1, 0, "%.2f");
			break;
		case W_TYPED:
			print_row(w->name, "ns/rcv", res[i], 0, 0, "%.0f");
			break;
		}
	}
	if (sel_msg)
		printf("(typed rcv: %d messages of types 1..%d queued; ns/rcv is the msgrcv call alone)\n",
		       TYPED_QLEN, TYPED_NTYPES);
	for (int i = 0; i < SHM_NWORK; i++) {
		if (!(sel_shm & (1u << i)))
			continue;
		errors += measure(G_SHM, i, shm_res[i]);
		shm_ratio[i] = shm_print(i, shm_res[i]);
	}
	if (sel_shm)
		shm_footnote();
	for (int i = 0; i < SEM_NWORK; i++) {
		if (!(sel_sem & (1u << i)))
			continue;
		errors += measure(G_SEM, i, sem_res[i]);
		sem_ratio[i] = sem_print(i, sem_res[i]);
	}
	if (sel_sem)
		sem_footnote();

	if (errors) {
		printf("errors:\n");
		for (size_t i = 0; i < NWORK && sel_msg; i++)
			for (int a = 0; a < NAPI; a++)
				if ((cfg.only < 0 || cfg.only == a) && !res[i][a].ok)
					printf("  %s / %s: %s\n", workloads[i].name, apis[a].name,
					       res[i][a].err);
		for (int i = 0; i < SHM_NWORK; i++)
			for (int a = 0; a < NAPI; a++)
				if ((sel_shm & (1u << i)) && (cfg.only < 0 || cfg.only == a) &&
				    !shm_res[i][a].ok)
					printf("  %s / %s: %s\n", shm_works[i].name, apis[a].name,
					       shm_res[i][a].err);
		for (int i = 0; i < SEM_NWORK; i++)
			for (int a = 0; a < NAPI; a++)
				if ((sel_sem & (1u << i)) && (cfg.only < 0 || cfg.only == a) &&
				    !sem_res[i][a].ok)
					printf("  %s / %s: %s\n", sem_works[i].name, apis[a].name,
					       sem_res[i][a].err);
	}
	if (sel_msg) {
		char t1[64], t2[64], t3[64];
		target(t1, sizeof t1, "16B", TARGET_16B, r16);
		target(t2, sizeof t2, "256B", TARGET_256B, r256);
		target(t3, sizeof t3, "pingpong", TARGET_PINGPONG, rpp);
		printf("targets: %s, %s, %s\n", t1, t2, t3);
	}
	if (sel_shm)
		shm_targets(shm_ratio);
	if (sel_sem)
		sem_targets(sem_ratio);

	alarm(0);
	if (ns_dir[0])
		rm_tree_at(AT_FDCWD, ns_dir, 0);
	return errors ? 1 : 0;
}

/*
 * test_msg_types.c - typed selection on large queues, against a reference
 * model and against the kernel.
 *
 * The model is an array of messages in arrival order:
 *   msgtyp == 0            first message
 *   msgtyp >  0            first message of that type
 *   msgtyp >  0 EXCEPT     first message of another type
 *   msgtyp <  0            lowest type <= |msgtyp|, the oldest of that type
 *                          (EXCEPT is ignored: the kernel does so)
 *   MSG_COPY               the message at position msgtyp (0-based), kept
 *   msg longer than sz     E2BIG and kept; NOERROR: truncated and removed;
 *                          COPY|NOERROR: EINVAL (the kernel's copy_msg)
 *   full queue             bytes + len > qbytes or qnum + 1 > qbytes: EAGAIN
 *
 * One seeded operation sequence (fill a queue with hundreds of messages of
 * mixed types in random order, read every position back with MSG_COPY,
 * empty it with every receive mode in turn, then thousands of random
 * sends/receives, some with a small msg_qbytes) runs against svipc and
 * against a kernel queue. Each answer (return value, errno, type, payload
 * bytes) is checked against the model, and svipc's answers are compared
 * with the kernel's. SVIPC_TYPES_SEED=n picks another seed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/msg.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define NW IPC_NOWAIT
#define SMALL 24      /* most payloads: hundreds of messages stay under msgmnb */
#define MAXLEN 8192   /* longest payload (capped by msgmax) */
#define BIGSZ (MAXLEN + 64)
#define MAXMSG 20000  /* model capacity */
#define NRANDOM 40000 /* random operations after the structured phases */

static const struct msg_impl K = T_KERNEL_IMPL;
static const struct msg_impl S = T_SVIPC_IMPL;

/* ------------------------------------------------------------ the model */

struct msg {
	long type;
	unsigned len;
	unsigned seq;
};

static struct msg model[MAXMSG];
static int mn;           /* messages in the model */
static long mbytes;      /* their bytes */
static unsigned long mqbytes;

static unsigned char payload(unsigned seq, unsigned j, long type)
{
	return (unsigned char)(seq * 7u + j * 13u + (unsigned long)type * 29u + 1u);
}

/* Index of the message msgrcv would pick, or -1. */
static int model_find(long typ, int flg)
{
	if (flg & MSG_COPY)
		return typ >= 0 && typ < mn ? (int)typ : -1;
	if (typ == 0)
		return mn ? 0 : -1;
	if (typ < 0) {
		long lim = typ == LONG_MIN ? LONG_MAX : -typ;
		int best = -1;
		for (int i = 0; i < mn; i++)
			if (model[i].type <= lim && (best < 0 || model[i].type < model[best].type))
				best = i;
		return best;
	}
	for (int i = 0; i < mn; i++)
		if ((flg & MSG_EXCEPT) ? model[i].type != typ : model[i].type == typ)
			return i;
	return -1;
}

static void model_remove(int i)
{
	mbytes -= model[i].len;
	memmove(&model[i], &model[i + 1], sizeof model[0] * (size_t)(mn - i - 1));
	mn--;
}

/* ------------------------------------------------------------- running */

struct res {
	long ret;
	int err;
	long type;
	unsigned hash;
};

struct run {
	const struct msg_impl *A;
	int q;
	uint64_t rng;
	unsigned seq;
	struct res *log;
	int nlog, cap;
	long checks, model_bad;
	int printed;
	long n_ok, n_enomsg, n_e2big, n_eagain, n_einval, n_other;
};

static struct res *g_klog, *g_slog;
static int g_kq = -1;

/*
 * Blocking calls are made only when the model says they return at once. If
 * an implementation disagrees it would wait forever: SIGALRM interrupts the
 * call (EINTR, recorded as a disagreement), and after the first disagreement
 * no more blocking calls are made.
 */
static volatile sig_atomic_t g_in_block, g_fires;
static time_t g_deadline;

static void on_fatal(int sig);

static void on_alarm(int sig)
{
	if (g_in_block && g_fires < 3 && time(NULL) < g_deadline) {
		g_fires++;
		alarm(1);
		return;
	}
	on_fatal(sig);
}

static void block_begin(void)
{
	g_fires = 0;
	g_in_block = 1;
	alarm(2);
}

static void block_end(void)
{
	g_in_block = 0;
	time_t now = time(NULL);
	alarm(g_deadline > now ? (unsigned)(g_deadline - now) : 1);
}

static uint64_t rnd(struct run *R)
{
	uint64_t x = R->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	R->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned rn(struct run *R, unsigned n)
{
	return (unsigned)(rnd(R) % n);
}

static unsigned fnv(const unsigned char *p, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static struct {
	long mtype;
	unsigned char mtext[MAXLEN + 128];
} sb, rb;

static void logres(struct run *R, long ret, int err, long type, unsigned hash)
{
	if (ret >= 0)
		R->n_ok++;
	else if (err == ENOMSG)
		R->n_enomsg++;
	else if (err == E2BIG)
		R->n_e2big++;
	else if (err == EAGAIN)
		R->n_eagain++;
	else if (err == EINVAL)
		R->n_einval++;
	else
		R->n_other++;
	if (R->nlog < R->cap) {
		struct res *x = &R->log[R->nlog];
		x->ret = ret;
		x->err = ret < 0 ? err : 0;
		x->type = ret < 0 ? 0 : type;
		x->hash = ret < 0 ? 0 : hash;
	}
	R->nlog++;
}

#define MODEL_FAIL(R, ...)                                                        \
	do {                                                                      \
		(R)->model_bad++;                                                 \
		if ((R)->printed++ < 15)                                          \
			T_FAIL(__VA_ARGS__);                                      \
	} while (0)

static void do_send(struct run *R, long type, unsigned len, int block)
{
	unsigned seq = ++R->seq;
	sb.mtype = type;
	for (unsigned j = 0; j < len; j++)
		sb.mtext[j] = payload(seq, j, type);
	int fits = (unsigned long)mbytes + len <= mqbytes && (unsigned long)mn + 1 <= mqbytes;
	/* block only when the model says it fits: otherwise it would wait */
	int flg = block && fits && !R->model_bad ? 0 : NW;
	if (!(flg & NW))
		block_begin();
	errno = 0;
	int r = R->A->snd(R->q, &sb, len, flg);
	int e = errno;
	if (!(flg & NW))
		block_end();
	logres(R, r, e, 0, 0);
	R->checks++;
	if (fits && mn < MAXMSG) {
		if (r != 0)
			MODEL_FAIL(R, "%s op %d: msgsnd(type %ld, len %u) -> %d %s, model: fits",
				   R->A->name, R->nlog - 1, type, len, r, strerror(e));
		model[mn].type = type;
		model[mn].len = len;
		model[mn].seq = seq;
		mn++;
		mbytes += len;
	} else if (!(r == -1 && e == EAGAIN)) {
		MODEL_FAIL(R, "%s op %d: msgsnd(type %ld, len %u) with %d msgs/%ld bytes, qbytes %lu"
			      " -> %d %s, model: EAGAIN",
			   R->A->name, R->nlog - 1, type, len, mn, mbytes, mqbytes, r, strerror(e));
	}
}

static const char *modename(long typ, int flg)
{
	static char b[64];
	snprintf(b, sizeof b, "typ=%ld%s%s%s", typ, flg & MSG_EXCEPT ? "|EXCEPT" : "",
		 flg & MSG_COPY ? "|COPY" : "", flg & MSG_NOERROR ? "|NOERROR" : "");
	return b;
}

static void do_recv(struct run *R, long typ, int flg, size_t sz, int block)
{
	int i = model_find(typ, flg);
	/* what the model says */
	long want_ret;
	int want_err = 0, removes = 0;
	if (i < 0) {
		want_ret = -1;
		want_err = ENOMSG;
	} else if (model[i].len > sz && !(flg & MSG_NOERROR)) {
		want_ret = -1;
		want_err = E2BIG;
	} else if (model[i].len > sz && (flg & MSG_COPY)) {
		want_ret = -1;
		want_err = EINVAL;
	} else {
		want_ret = model[i].len < sz ? model[i].len : (long)sz;
		removes = !(flg & MSG_COPY);
	}
	/* block only when the model says the call returns at once */
	if (!(block && i >= 0 && !(flg & MSG_COPY) && !R->model_bad))
		flg |= NW;
	memset(&rb, 0xA5, sizeof rb);
	if (!(flg & NW))
		block_begin();
	errno = 0;
	ssize_t r = R->A->rcv(R->q, &rb, sz, typ, flg);
	int e = errno;
	if (!(flg & NW))
		block_end();
	unsigned h = r >= 0 ? fnv(rb.mtext, (size_t)r) : 0;
	logres(R, r, e, rb.mtype, h);
	R->checks++;
	if (r != want_ret || (r < 0 && e != want_err)) {
		MODEL_FAIL(R, "%s op %d: msgrcv(%s, sz %zu) on %d msgs -> %zd %s, model: %ld %s",
			   R->A->name, R->nlog - 1, modename(typ, flg), sz, mn, r,
			   r < 0 ? strerror(e) : "", want_ret, want_ret < 0 ? strerror(want_err) : "");
	} else if (r >= 0) {
		int bad = rb.mtype != model[i].type;
		for (long j = 0; j < r && !bad; j++)
			bad = rb.mtext[j] != payload(model[i].seq, (unsigned)j, model[i].type);
		for (size_t j = (size_t)r; j < (size_t)r + 16 && j < sizeof rb.mtext && !bad; j++)
			bad = rb.mtext[j] != 0xA5;
		if (bad)
			MODEL_FAIL(R, "%s op %d: msgrcv(%s) returned type %ld / payload not the model's"
				      " message #%d (type %ld, len %u, seq %u)",
				   R->A->name, R->nlog - 1, modename(typ, flg), rb.mtype, i,
				   model[i].type, model[i].len, model[i].seq);
	}
	if (removes)
		model_remove(i);
}

static void check_stat(struct run *R)
{
	struct msqid_ds d;
	int r = R->A->ctl(R->q, IPC_STAT, &d);
	logres(R, r, errno, (long)d.msg_qnum, (unsigned)d.__msg_cbytes);
	R->checks++;
	if (r != 0 || d.msg_qnum != (msgqnum_t)mn || d.__msg_cbytes != (unsigned long)mbytes ||
	    d.msg_qbytes != mqbytes)
		MODEL_FAIL(R, "%s op %d: IPC_STAT qnum %lu cbytes %lu qbytes %lu, model %d %ld %lu",
			   R->A->name, R->nlog - 1, (unsigned long)d.msg_qnum,
			   (unsigned long)d.__msg_cbytes, (unsigned long)d.msg_qbytes, mn, mbytes,
			   mqbytes);
}

static void set_qbytes(struct run *R, unsigned long qb)
{
	struct msqid_ds d;
	R->A->ctl(R->q, IPC_STAT, &d);
	d.msg_qbytes = qb;
	int r = R->A->ctl(R->q, IPC_SET, &d);
	logres(R, r, errno, 0, 0);
	R->checks++;
	if (r != 0)
		MODEL_FAIL(R, "%s: IPC_SET qbytes %lu: %s", R->A->name, qb, strerror(errno));
	else
		mqbytes = qb;
}

static long rand_type(struct run *R)
{
	unsigned k = rn(R, 100);
	if (k < 80)
		return 1 + rn(R, 8);
	if (k < 96)
		return 9 + rn(R, 4);
	if (k < 98)
		return 1000000;
	return LONG_MAX;
}

static long rand_typ(struct run *R, int *flg)
{
	unsigned k = rn(R, 100);
	*flg = 0;
	if (k < 15)
		return 0;
	if (k < 45)
		return 1 + rn(R, 14);
	if (k < 70)
		return -(long)(1 + rn(R, 14));
	if (k < 72)
		return k & 1 ? LONG_MIN : -LONG_MAX;
	if (k < 73)
		return LONG_MAX;
	*flg = MSG_EXCEPT;
	if (k < 90)
		return 1 + rn(R, 14);
	if (k < 93)
		return 0;
	if (k < 96)
		return -(long)(1 + rn(R, 14));
	*flg = MSG_COPY;
	return (long)rn(R, (unsigned)mn + 3) - 1;
}

static long g_maxlen;

/* Payload lengths: mostly short (one message header holds 24 bytes in svipc),
 * some spanning several segments, a few up to msgmax. */
static unsigned rand_len(struct run *R, int wide)
{
	unsigned k = rn(R, 100);
	if (k < (wide ? 75u : 90u))
		return rn(R, SMALL + 1);
	if (k < (wide ? 92u : 100u))
		return SMALL + 1 + rn(R, 276);
	if (k < 98)
		return 300 + rn(R, 1700);
	return 2000 + rn(R, (unsigned)g_maxlen - 1999);
}

static size_t rand_sz(struct run *R, int *flg)
{
	unsigned k = rn(R, 100);
	if (k < 80)
		return BIGSZ - rn(R, 40);
	if (k < 90)
		return rn(R, 300);
	*flg |= MSG_NOERROR;
	return rn(R, 300);
}

static void run_all(const struct msg_impl *A, uint64_t seed, struct res *log, int cap, struct run *R)
{
	memset(R, 0, sizeof *R);
	R->A = A;
	R->rng = (seed ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL | 1;
	R->log = log;
	R->cap = cap;
	mn = 0;
	mbytes = 0;
	R->q = A->get(IPC_PRIVATE, 0600);
	if (R->q < 0) {
		T_FAIL("%s msgget: %s", A->name, strerror(errno));
		return;
	}
	if (A->kernel)
		g_kq = R->q;
	struct msqid_ds d;
	A->ctl(R->q, IPC_STAT, &d);
	mqbytes = d.msg_qbytes;

	/* 1: a few hundred messages of mixed types in random order */
	int nfill = 300 + (int)rn(R, 200);
	for (int i = 0; i < nfill; i++)
		do_send(R, rand_type(R), rand_len(R, 0), rn(R, 2));
	check_stat(R);
	/* 2: every position, non-destructively */
	for (int i = -1; i <= mn + 1; i++)
		do_recv(R, i, MSG_COPY, BIGSZ, 0);
	check_stat(R);
	/* 3: empty it, every receive mode in turn (misses included) */
	for (int step = 0; mn > 0 && step < 20000; step++) {
		int flg = 0;
		long typ;
		switch (step % 6) {
		case 0: typ = 1 + rn(R, 13); break;
		case 1: typ = -(long)(1 + rn(R, 13)); break;
		case 2: typ = 1 + rn(R, 13); flg = MSG_EXCEPT; break;
		case 3: typ = 0; break;
		case 4: typ = (long)rn(R, (unsigned)mn + 1); flg = MSG_COPY; break;
		default: typ = rand_typ(R, &flg); break;
		}
		do_recv(R, typ, flg, step % 11 == 0 ? rn(R, 300) : BIGSZ, step & 1);
		if (step % 50 == 0)
			check_stat(R);
	}
	check_stat(R);
	/* 4: random traffic; the queue hovers around a few hundred messages */
	for (int op = 0; op < NRANDOM; op++) {
		unsigned k = rn(R, 100);
		int bias = mn > 500 ? 20 : mn < 100 ? 70 : 48;
		if (op == NRANDOM / 2)
			set_qbytes(R, 200 + (unsigned long)mbytes < d.msg_qbytes
					      ? 200 + (unsigned long)mbytes
					      : d.msg_qbytes / 2); /* sends start failing: EAGAIN */
		if (op == NRANDOM / 2 + 3000)
			set_qbytes(R, (unsigned long)mn + 5); /* the message-count limit */
		if (op == NRANDOM / 2 + 6000)
			set_qbytes(R, d.msg_qbytes);
		if ((int)k < bias) {
			do_send(R, rand_type(R), rand_len(R, 1), rn(R, 4) == 0);
		} else {
			int flg;
			long typ = rand_typ(R, &flg);
			size_t sz = rand_sz(R, &flg);
			do_recv(R, typ, flg, sz, rn(R, 4) == 0);
		}
		if (op % 500 == 0)
			check_stat(R);
	}
	check_stat(R);
	/* 5: drain in order */
	while (mn > 0 && R->nlog < cap)
		do_recv(R, 0, 0, BIGSZ, 0);
	do_recv(R, 0, 0, BIGSZ, 0);
	check_stat(R);
	A->ctl(R->q, IPC_RMID, NULL);
	if (A->kernel)
		g_kq = -1;
}

static void kclean(void)
{
	if (g_kq >= 0 && getpid() == t_owner_pid)
		msgctl(g_kq, IPC_RMID, NULL);
	g_kq = -1;
}

static void on_fatal(int sig)
{
	if (g_kq >= 0)
		msgctl(g_kq, IPC_RMID, NULL);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(void)
{
	t_setup(60);
	g_deadline = time(NULL) + 60;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked call gets EINTR */
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGTERM, on_fatal);
	signal(SIGINT, on_fatal);
	signal(SIGSEGV, on_fatal);
	signal(SIGABRT, on_fatal);
	atexit(kclean);
	uint64_t seed = 0x5eed7e57ULL;
	const char *s = getenv("SVIPC_TYPES_SEED");
	if (s)
		seed = strtoull(s, NULL, 0);
	printf("seed %llu (SVIPC_TYPES_SEED)\n", (unsigned long long)seed);
	FILE *f = fopen("/proc/sys/kernel/msgmax", "r");
	if (!f || fscanf(f, "%ld", &g_maxlen) != 1 || g_maxlen < 2100) {
		fprintf(stderr, "need /proc/sys/kernel/msgmax >= 2100\n");
		return 1;
	}
	fclose(f);
	if (g_maxlen > MAXLEN)
		g_maxlen = MAXLEN;

	int cap = 200000;
	g_klog = calloc((size_t)cap, sizeof *g_klog);
	g_slog = calloc((size_t)cap, sizeof *g_slog);
	if (!g_klog || !g_slog)
		return 1;

	/* the kernel: validates the model and records the reference answers */
	struct run kr, sr;
	int probe = msgget(IPC_PRIVATE, 0600);
	if (probe < 0 && errno == ENOSYS) {
		printf("the kernel has no System V IPC: svipc is checked against the model only\n");
		run_all(&S, seed, g_slog, cap, &sr);
		printf("svipc:  %d operations, %ld checks against the model, %ld disagreements\n",
		       sr.nlog, sr.checks, sr.model_bad);
		return t_done();
	}
	if (probe >= 0)
		msgctl(probe, IPC_RMID, NULL);
	run_all(&K, seed, g_klog, cap, &kr);
	printf("kernel: %d operations, %ld checks against the model, %ld disagreements\n",
	       kr.nlog, kr.checks, kr.model_bad);
	printf("kernel outcomes: %ld ok, %ld ENOMSG, %ld E2BIG, %ld EAGAIN, %ld EINVAL, %ld other\n",
	       kr.n_ok, kr.n_enomsg, kr.n_e2big, kr.n_eagain, kr.n_einval, kr.n_other);
	if (kr.model_bad)
		fprintf(stderr, "the kernel disagrees with the model: the model is wrong\n");

	/* svipc: against the model and against the kernel's answers */
	run_all(&S, seed, g_slog, cap, &sr);
	printf("svipc:  %d operations, %ld checks against the model, %ld disagreements\n",
	       sr.nlog, sr.checks, sr.model_bad);

	int n = kr.nlog < sr.nlog ? kr.nlog : sr.nlog;
	if (n > cap)
		n = cap;
	int diff = 0;
	for (int i = 0; i < n; i++) {
		struct res *a = &g_klog[i], *b = &g_slog[i];
		if (a->ret == b->ret && a->err == b->err && a->type == b->type && a->hash == b->hash)
			continue;
		if (diff++ < 15)
			T_FAIL("op %d: kernel ret %ld errno %d type %ld data %08x; svipc ret %ld errno %d"
			       " type %ld data %08x",
			       i, a->ret, a->err, a->type, a->hash, b->ret, b->err, b->type, b->hash);
	}
	if (kr.nlog != sr.nlog)
		T_FAIL("kernel ran %d operations, svipc %d", kr.nlog, sr.nlog);
	if (diff)
		T_FAIL("%d of %d operations differ between svipc and the kernel", diff, n);
	printf("svipc vs kernel: %d operations compared, %d differ\n", n, diff);
	if (kr.nlog < 10000)
		T_FAIL("too few operations ran (%d)", kr.nlog);
	return t_done();
}

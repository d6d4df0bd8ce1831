/*
 * test_msg_crash.c - any process may be SIGKILLed at any instruction inside
 * msgsnd/msgrcv/msgctl, and afterwards nothing committed is lost, nothing is
 * delivered twice or corrupted, no queue stays locked, and the counters and
 * IPC_STAT stay exact.
 *
 * Two complementary methods.
 *
 * 1. Random kills. Senders, receivers, msgctl workers (IPC_STAT / IPC_SET)
 *    and msgget / IPC_RMID "churn" workers run on a few queues while the
 *    parent SIGKILLs one every few microseconds to milliseconds and starts
 *    it again. Part of the kills are aimed: the parent watches the lock
 *    words and kills whoever holds one (inside its critical section), and
 *    then often the process that takes the dead holder's lock over (inside
 *    its recovery). Everything the test knows lives in anonymous MAP_SHARED
 *    memory, never in the system under test:
 *
 *  - a message is named by (sender id, seq). Its type, length and payload
 *    are functions of (seed, sender, seq), so a receiver checks every byte
 *    (and the checksum in the payload's header). Messages shorter than that
 *    header carry their name in their type instead (types >= 2^40).
 *  - a sender marks seq TRYING, reserves it, calls msgsnd, then marks it
 *    SENT (or FAILED on EAGAIN/EINTR). A sender killed between msgsnd's
 *    return and that store leaves its last seq TRYING: it may or may not
 *    have been queued ("sent but unrecorded", at most one per kill).
 *  - a receiver receives into a buffer in the shared memory, which it
 *    marks empty before each call; after the call it checks the message and
 *    records it (receipt count, time before and after the call). A receiver
 *    killed after msgrcv's commit but before recording consumed a message
 *    without recording it ("received but unrecorded"); that message is then
 *    whole in its buffer, since the library copies out before it commits.
 *    So the parent reads a killed receiver's buffer: each lost message must
 *    be one of those, at most one per kill. This bound is exact, not a count.
 *
 *    After each phase: stop the workers, time the first IPC_STAT (a dead
 *    holder's lock must be recovered), walk the queue with MSG_COPY and
 *    compare with msg_qnum / __msg_cbytes, drain it with IPC_NOWAIT (the
 *    same messages in the same order), then check every message attempted:
 *      SENT    -> received exactly once, or lost only as explained above;
 *      TRYING  -> received at most once; counted per sender, <= its kills;
 *      FAILED  -> never received;
 *    no duplicates, and per (sender, type) FIFO: if k < k' then k' was not
 *    dequeued before k (a violation is certain when msgrcv(k') returned
 *    before msgrcv(k) was called). IPC_STAT must never show a mix of two
 *    IPC_SETs, and the namespace directory must hold nothing but live
 *    objects once a phase removed its queues.
 *
 *    Phases: mixed (2 queues, every receive mode, blocking / timed /
 *    IPC_NOWAIT, IPC_STAT and IPC_SET), large (4 KB messages: long copies
 *    under the lock), hot (IPC_NOWAIT only: workers are always inside the
 *    library), ctl (IPC_SET / IPC_STAT only), grow (IPC_SET raising
 *    msg_qbytes past the file's capacity, which moves the queue to a larger
 *    file, amid traffic), churn (msgget / msgsnd / msgrcv / IPC_STAT /
 *    IPC_RMID of keyed queues; every key must resolve afterwards).
 *
 * 2. Every instruction ("sweep"). SIGKILL after instruction N leaves exactly
 *    the memory that N instructions wrote, so one call at a time is traced
 *    with PTRACE_SINGLESTEP, and after each instruction the queue file is
 *    copied into a scratch queue whose lock (if held) is handed to a dead
 *    token; recovery then runs there, and the result must be the queue
 *    before the call or after it, exactly (see check_sweep).
 *
 * Also: a process killed while blocked in msgsnd/msgrcv must not take a live
 * waiter's wake-up with it ("wakeup").
 *
 * Environment: SVIPC_CRASH_SEED=<n> replays a seed; SVIPC_CRASH_SCALE=<n>
 * multiplies the kill targets and time limits (default 1: the CI size);
 * SVIPC_CRASH_PHASES=mixed,large,hot,ctl,grow,churn,wakeup,sweep runs only
 * those; SVIPC_SWEEP_STRIDE=<n> checks every n-th instruction only.
 */
#include "svipc.h"
#include "t.h"
#include "crash_step.h"
#include "internal.h"
#include "lock.h"
#include "proc.h"
#include "region.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#ifndef MSG_EXCEPT
#define MSG_EXCEPT 020000
#endif

#define MAXS 24              /* sender ids, over all phases */
#define MAXW 24              /* workers in one phase */
#define MAXQ 4
#define SEQ_BITS 20
#define MAXSEQ (1u << SEQ_BITS)
#define NTYPES 6
#define HDR 16               /* {sender, seq, len, checksum} at the start of a payload */
#define SHORT_BASE (1L << 40) /* types of messages too short for that header */
#define BUF_MAX 8192
#define DRAIN_WHO 255

enum { ST_NONE = 0, ST_TRYING, ST_SENT, ST_FAILED };
enum { R_SENDER = 1, R_RECEIVER, R_CTL, R_CHURN };
static const char *const role_name[] = { "?", "sender", "receiver", "ctl", "churn" };

/* One attempted message. */
struct rec {
	uint8_t state;   /* ST_*, written by its sender */
	uint8_t count;   /* receipts */
	uint8_t who;     /* last receiver (worker index, DRAIN_WHO) */
	uint8_t pad;
	uint32_t tb, ta; /* microseconds since start, before / after that msgrcv */
};

struct shared {
	uint64_t seed;
	int64_t t0;
	int stop;
	uint32_t next_seq[MAXS];
	uint32_t minlen[MAXS], maxlen[MAXS];
	uint32_t tok[MAXW];    /* each worker's svipc process token */
	uint32_t in_rcv[MAXW]; /* a consuming msgrcv is in progress or unrecorded */
	uint32_t rcv_bufsz[MAXW], rcv_trunc[MAXW]; /* that msgrcv's size and MSG_NOERROR */
	uint64_t rbuf[MAXW][(sizeof(long) + BUF_MAX) / 8]; /* receivers' buffers */
	uint64_t qprog[MAXQ];
	uint64_t qbytes_hi, qbytes_lo; /* the two IPC_SET configurations */
	/*
	 * How far a queue may go over msg_qbytes: a message svipc handed to a
	 * blocked receiver is not counted (as in the kernel), and if that receiver
	 * is killed before taking it, it goes back to the queue even when that
	 * puts the queue over msg_qbytes (the kernel would lose it). At most one
	 * such message per receiver of the queue.
	 */
	uint64_t over_bytes, over_msgs;
	int set_pct, grow;
	uint64_t n_sent, n_rcvd, n_copy, n_stat, n_set, n_churn;
	int nerr;
	int err_ready[8];
	char err[8][256];
};

struct worker {
	int role, idx, q, sid;
	int nowait;     /* never block */
	pid_t pid;
	int kills, kills_in_rcv, kills_holding, stop_kills, kills_recovering;
};

struct phase {
	const char *name;
	int nq, send_per_q, recv_per_q, nctl, nchurn;
	uint32_t minlen, maxlen;
	int nowait;
	int kills, secs, max_delay_us;
	int aim_pct; /* share of the kills aimed at whoever holds a lock */
	int set_pct; /* share of the ctl workers' rounds that do IPC_SET */
	int grow;    /* IPC_SET raises msg_qbytes past the file's capacity: the queue moves */
};

static struct shared *S;
static struct rec *R;
static int qids[MAXQ];
static int nq;
static struct worker W[MAXW];
static int nw;
static pid_t parent_pid;

/* ---- helpers ---------------------------------------------------------------- */

static uint32_t now_us(void)
{
	return (uint32_t)((mono_ns() - S->t0) / 1000);
}

static struct rec *rec_of(int sid, uint32_t seq)
{
	return &R[(size_t)sid * MAXSEQ + seq];
}

/* Payloads are slices of one random pool: cheap to make and to check, so the
 * workers spend their time inside the library, where the kills should land. */
#define POOL (1u << 16)
static unsigned char pool[POOL];

static uint32_t csum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		h = (h ^ v) * 0x100000001b3ull;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32));
}

/* A worker's fatal finding: logged for the parent, then exit status 3. */
static void wfail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void wfail(const char *fmt, ...)
{
	int i = __atomic_fetch_add(&S->nerr, 1, __ATOMIC_SEQ_CST);
	if (i < 8) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(S->err[i], sizeof S->err[i], fmt, ap);
		va_end(ap);
		STORE(&S->err_ready[i], 1);
	}
	_exit(3);
}

/* ---- messages ------------------------------------------------------------- */

static void msg_shape(int sid, uint32_t seq, long *type, uint32_t *len)
{
	uint64_t h = t_mix64(S->seed ^ ((uint64_t)sid << 48) ^ seq);
	uint32_t lo = S->minlen[sid], hi = S->maxlen[sid];
	*len = lo + (uint32_t)(h % (hi - lo + 1));
	if (*len < HDR)
		*type = SHORT_BASE + ((long)sid << SEQ_BITS) + (long)seq;
	else
		*type = 1 + (long)((h >> 32) % NTYPES);
}

static const unsigned char *msg_body(int sid, uint32_t seq)
{
	uint64_t h = t_mix64(S->seed ^ ((uint64_t)sid << 48) ^ seq ^ 0x5a5a5a5a00000000ull);
	return pool + h % (POOL - BUF_MAX);
}

static void msg_fill(int sid, uint32_t seq, uint32_t len, unsigned char *p)
{
	const unsigned char *body = msg_body(sid, seq);
	memcpy(p, body, len);
	if (len >= HDR) {
		uint32_t hd[4] = { (uint32_t)sid, seq, len, csum(body + HDR, len - HDR) };
		memcpy(p, hd, HDR);
	}
}

/*
 * Checks a message msgrcv returned (n bytes of payload; bufsz the caller's
 * buffer, trunc if MSG_NOERROR may have cut it). Returns 0 and its name, or
 * -1 with the reason in why.
 */
static int msg_check(long mtype, const unsigned char *p, size_t n, size_t bufsz, int trunc,
		     int *sidp, uint32_t *seqp, char *why, size_t whylen)
{
	int sid;
	uint32_t seq;
	if (mtype >= SHORT_BASE) {
		long v = mtype - SHORT_BASE;
		sid = (int)(v >> SEQ_BITS);
		seq = (uint32_t)(v & (MAXSEQ - 1));
	} else {
		if (n < HDR) {
			snprintf(why, whylen, "type %ld but only %zu bytes", mtype, n);
			return -1;
		}
		uint32_t hd[4];
		memcpy(hd, p, HDR);
		sid = (int)hd[0];
		seq = hd[1];
	}
	if (sid < 0 || sid >= MAXS || seq >= LOAD(&S->next_seq[sid])) {
		snprintf(why, whylen, "no such message: type %ld, sender %d, seq %u", mtype, sid, seq);
		return -1;
	}
	long etype;
	uint32_t elen;
	msg_shape(sid, seq, &etype, &elen);
	if (etype != mtype) {
		snprintf(why, whylen, "msg %d/%u: type %ld, expected %ld", sid, seq, mtype, etype);
		return -1;
	}
	if (n != elen && !(trunc && n == bufsz && bufsz < elen)) {
		snprintf(why, whylen, "msg %d/%u: %zu bytes, expected %u (buffer %zu)", sid, seq, n,
			 elen, bufsz);
		return -1;
	}
	const unsigned char *body = msg_body(sid, seq);
	size_t from = elen >= HDR ? HDR : 0;
	if (n > from && memcmp(p + from, body + from, n - from) != 0) {
		size_t i = from;
		while (p[i] == body[i])
			i++;
		snprintf(why, whylen, "msg %d/%u (len %u): payload differs at byte %zu", sid, seq,
			 elen, i);
		return -1;
	}
	if (elen >= HDR) {
		uint32_t hd[4];
		memcpy(hd, p, HDR);
		if (hd[2] != elen || (n == elen && (hd[3] != csum(body + HDR, elen - HDR) ||
						    hd[3] != csum(p + HDR, elen - HDR)))) {
			snprintf(why, whylen, "msg %d/%u: length or checksum in the header corrupted",
				 sid, seq);
			return -1;
		}
	}
	*sidp = sid;
	*seqp = seq;
	return 0;
}

static void record(int sid, uint32_t seq, int who, uint32_t tb, uint32_t ta)
{
	struct rec *r = rec_of(sid, seq);
	r->tb = tb;
	r->ta = ta;
	r->who = (uint8_t)who;
	__atomic_fetch_add(&r->count, 1, __ATOMIC_SEQ_CST);
}

/* ---- workers ----------------------------------------------------------------------- */

static void on_usr1(int sig)
{
	(void)sig;
}

static struct timespec rel_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	return ts;
}

static void sender(struct worker *w)
{
	static unsigned char buf[sizeof(long) + BUF_MAX];
	int id = qids[w->q], sid = w->sid;
	for (;;) {
		if (LOAD(&S->stop))
			_exit(0);
		uint32_t k = LOAD(&S->next_seq[sid]);
		if (k >= MAXSEQ) {
			usleep(1000);
			continue;
		}
		struct rec *r = rec_of(sid, k);
		STORE(&r->state, ST_TRYING);
		STORE(&S->next_seq[sid], k + 1);
		long type;
		uint32_t len;
		msg_shape(sid, k, &type, &len);
		memcpy(buf, &type, sizeof type);
		msg_fill(sid, k, len, buf + sizeof(long));
		int style = w->nowait ? 0 : (int)(t_rand() % 10);
		int rc;
		if (style < 3) {
			rc = svipc_msgsnd(id, buf, len, IPC_NOWAIT);
		} else if (style < 5) {
			struct timespec ts = rel_ms(1 + (long)(t_rand() % 30));
			rc = svipc_msgsnd_timed(id, buf, len, 0, &ts);
		} else {
			rc = svipc_msgsnd(id, buf, len, 0);
		}
		int e = errno;
		if (rc == 0) {
			STORE(&r->state, ST_SENT);
			__atomic_fetch_add(&S->n_sent, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&S->qprog[w->q], 1, __ATOMIC_RELAXED);
		} else if (e == EAGAIN && style < 5) {
			/*
			 * Not sent: the number is used again. Burning one per failed
			 * IPC_NOWAIT send ran a sender out of numbers (MAXSEQ) while a
			 * full queue waited for receivers on a loaded machine, and the
			 * watchdog then saw a queue that made no progress.
			 */
			STORE(&r->state, ST_NONE);
			STORE(&S->next_seq[sid], k);
		} else if (e == EINTR && LOAD(&S->stop)) {
			STORE(&r->state, ST_FAILED);
		} else {
			wfail("sender %d: msgsnd(seq %u, %u bytes, style %d): %s", sid, k, len, style,
			      strerror(e));
		}
	}
}

/* Marks a receive buffer empty: type 0, and a header naming no message. */
static void rbuf_clear(unsigned char *buf)
{
	memset(buf + sizeof(long), 0xff, HDR);
	STORE((long *)buf, 0L);
}

static void receiver(struct worker *w)
{
	unsigned char *buf = (unsigned char *)S->rbuf[w->idx];
	int id = qids[w->q];
	for (;;) {
		if (LOAD(&S->stop))
			_exit(0);
		long typ = 0;
		int flg = 0, trunc = 0;
		size_t bufsz = BUF_MAX;
		int pick = (int)(t_rand() % 100);
		if (pick < 30) {
			typ = 0;
		} else if (pick < 50) {
			typ = 1 + (long)(t_rand() % NTYPES);
		} else if (pick < 62) {
			typ = (t_rand() % 4) ? -(1 + (long)(t_rand() % NTYPES)) : LONG_MIN;
		} else if (pick < 74) {
			typ = 1 + (long)(t_rand() % NTYPES);
			flg |= MSG_EXCEPT;
		} else if (pick < 82) {
			typ = (long)(t_rand() % 8);
			flg |= MSG_COPY | IPC_NOWAIT;
		} else if (pick < 91) {
			bufsz = HDR + t_rand() % 200;
			flg |= MSG_NOERROR;
			trunc = 1;
		} else {
			bufsz = t_rand() % 300; /* E2BIG when the chosen message is longer */
		}
		int timed = 0;
		if (!(flg & MSG_COPY)) {
			int style = w->nowait ? 0 : (int)(t_rand() % 10);
			if (style < 3)
				flg |= IPC_NOWAIT;
			else if (style < 6)
				timed = 1;
		}
		int consume = !(flg & MSG_COPY);
		rbuf_clear(buf);
		S->rcv_bufsz[w->idx] = (uint32_t)bufsz;
		S->rcv_trunc[w->idx] = (uint32_t)trunc;
		uint32_t tb = now_us();
		if (consume)
			STORE(&S->in_rcv[w->idx], 1);
		ssize_t n;
		if (timed) {
			struct timespec ts = rel_ms(1 + (long)(t_rand() % 50));
			n = svipc_msgrcv_timed(id, buf, bufsz, typ, flg, &ts);
		} else {
			n = svipc_msgrcv(id, buf, bufsz, typ, flg);
		}
		int e = errno;
		uint32_t ta = now_us();
		if (n >= 0) {
			long mtype;
			memcpy(&mtype, buf, sizeof mtype);
			if ((size_t)n > bufsz)
				wfail("msgrcv returned %zd > buffer %zu", n, bufsz);
			if (!(flg & MSG_COPY)) {
				long t = typ < 0 ? (typ == LONG_MIN ? LONG_MAX : -typ) : typ;
				int ok = typ == 0 || (typ < 0 && mtype <= t) ||
					 (typ > 0 && (flg & MSG_EXCEPT) && mtype != t) ||
					 (typ > 0 && !(flg & MSG_EXCEPT) && mtype == t);
				if (!ok)
					wfail("msgrcv(msgtyp %ld, flags %#x) returned type %ld", typ, flg,
					      mtype);
			}
			char why[200];
			int sid;
			uint32_t seq;
			if (msg_check(mtype, buf + sizeof(long), (size_t)n, bufsz, trunc, &sid, &seq, why,
				      sizeof why) < 0)
				wfail("receiver %d (msgtyp %ld, flags %#x): %s", w->idx, typ, flg, why);
			if (consume) {
				record(sid, seq, w->idx, tb, ta);
				__atomic_fetch_add(&S->n_rcvd, 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&S->qprog[w->q], 1, __ATOMIC_RELAXED);
			} else {
				__atomic_fetch_add(&S->n_copy, 1, __ATOMIC_RELAXED);
			}
		} else if (!((e == ENOMSG && (flg & IPC_NOWAIT)) || (e == EAGAIN && timed) ||
			     (e == E2BIG && bufsz < BUF_MAX && !trunc) ||
			     (e == EINTR && LOAD(&S->stop)))) {
			wfail("receiver %d: msgrcv(msgtyp %ld, size %zu, flags %#x%s): %s", w->idx, typ,
			      bufsz, flg, timed ? ", timed" : "", strerror(e));
		}
		if (consume)
			STORE(&S->in_rcv[w->idx], 0);
	}
}

/* IPC_STAT everywhere; IPC_SET toggles (mode, qbytes) between two configurations. */
static void ctl(struct worker *w)
{
	(void)w;
	for (;;) {
		if (LOAD(&S->stop))
			_exit(0);
		int q = (int)(t_rand() % (uint64_t)nq), id = qids[q];
		struct msqid_ds ds;
		if (svipc_msgctl(id, IPC_STAT, &ds) < 0)
			wfail("ctl: IPC_STAT: %s", strerror(errno));
		__atomic_fetch_add(&S->n_stat, 1, __ATOMIC_RELAXED);
		unsigned mode = ds.msg_perm.mode & 0777;
		uint64_t qb = ds.msg_qbytes;
		if (S->grow) {
			/* Raise qbytes: each raise past the file's capacity moves the queue. */
			if (mode != 0600 || ds.msg_qnum > qb + S->over_msgs || ds.__msg_cbytes > qb + S->over_bytes)
				wfail("ctl: IPC_STAT after growth: mode %o qnum %lu cbytes %lu qbytes %lu",
				      mode, (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
				      (unsigned long)qb);
			if ((int)(t_rand() % 100) < S->set_pct && qb < 60000) {
				ds.msg_qbytes = qb + 1 + t_rand() % 256;
				if (svipc_msgctl(id, IPC_SET, &ds) < 0)
					wfail("ctl: IPC_SET to grow: %s", strerror(errno));
				__atomic_fetch_add(&S->n_set, 1, __ATOMIC_RELAXED);
			}
			__atomic_fetch_add(&S->qprog[q], 1, __ATOMIC_RELAXED);
			continue;
		}
		if (!((mode == 0600 && qb == S->qbytes_hi) || (mode == 0640 && qb == S->qbytes_lo)))
			wfail("ctl: IPC_STAT shows a half-done IPC_SET: mode %o with qbytes %llu "
			      "(only 600/%llu and 640/%llu were ever set)", mode, (unsigned long long)qb,
			      (unsigned long long)S->qbytes_hi, (unsigned long long)S->qbytes_lo);
		if (ds.msg_qnum > S->qbytes_hi + S->over_msgs ||
		    ds.__msg_cbytes > S->qbytes_hi + S->over_bytes)
			wfail("ctl: IPC_STAT: qnum %lu, cbytes %lu out of range", (unsigned long)ds.msg_qnum,
			      (unsigned long)ds.__msg_cbytes);
		/* A few IPC_SETs per IPC_STAT: they toggle both fields at once. */
		for (int k = 0; k < 4 && (int)(t_rand() % 100) < S->set_pct; k++) {
			int hi = (ds.msg_perm.mode & 0777) != 0600;
			ds.msg_perm.mode = hi ? 0600 : 0640;
			ds.msg_qbytes = hi ? S->qbytes_hi : S->qbytes_lo;
			if (svipc_msgctl(id, IPC_SET, &ds) < 0)
				wfail("ctl: IPC_SET: %s", strerror(errno));
			__atomic_fetch_add(&S->n_set, 1, __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&S->qprog[q], 1, __ATOMIC_RELAXED);
	}
}

static key_t churn_key(int idx)
{
	return (key_t)(0x5c0000 + idx);
}

/* The whole life of a keyed queue, over and over. */
static void churn(struct worker *w)
{
	key_t key = churn_key(w->idx);
	struct {
		long t;
		char b[64];
	} m = { 1, "churn" };
	for (;;) {
		if (LOAD(&S->stop))
			_exit(0);
		int id = svipc_msgget(key, IPC_CREAT | 0600);
		if (id < 0)
			wfail("churn %d: msgget: %s", w->idx, strerror(errno));
		if (svipc_msgsnd(id, &m, 6, IPC_NOWAIT) < 0)
			wfail("churn %d: msgsnd: %s", w->idx, strerror(errno));
		if (svipc_msgrcv(id, &m, sizeof m.b, 0, IPC_NOWAIT) < 0)
			wfail("churn %d: msgrcv: %s", w->idx, strerror(errno));
		struct msqid_ds ds;
		if (svipc_msgctl(id, IPC_STAT, &ds) < 0)
			wfail("churn %d: IPC_STAT: %s", w->idx, strerror(errno));
		if (t_rand() % 4 == 0)
			continue; /* leave it for the next round */
		if (svipc_msgctl(id, IPC_RMID, NULL) < 0)
			wfail("churn %d: IPC_RMID: %s", w->idx, strerror(errno));
		errno = 0;
		if (svipc_msgsnd(id, &m, 6, IPC_NOWAIT) != -1 || (errno != EINVAL && errno != EIDRM))
			wfail("churn %d: msgsnd after IPC_RMID: errno %d", w->idx, errno);
		__atomic_fetch_add(&S->n_churn, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&S->qprog[0], 1, __ATOMIC_RELAXED);
	}
}

static void spawn(struct worker *w)
{
	STORE(&S->tok[w->idx], 0);
	STORE(&S->in_rcv[w->idx], 0);
	static uint64_t incarnation;
	incarnation++;
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent_pid)
			_exit(0);
		t_rng = t_mix64(S->seed ^ ((uint64_t)w->idx << 32) ^ incarnation);
		uint32_t tok = svipc__proc_token();
		if (!tok)
			wfail("worker %d: cannot register", w->idx);
		STORE(&S->tok[w->idx], tok);
		switch (w->role) {
		case R_SENDER:
			sender(w);
			break;
		case R_RECEIVER:
			receiver(w);
			break;
		case R_CTL:
			ctl(w);
			break;
		case R_CHURN:
			churn(w);
			break;
		}
		_exit(0);
	}
	w->pid = pid;
}

/* ---- the parent: kill, respawn, watch ------------------------------------------------ */

static uint32_t *lock_words[MAXQ + 1]; /* queue locks, then the namespace's */

/* Messages found in killed receivers' buffers: the only ones that may be lost. */
#define MAXCAND 100000
static struct cand {
	int sid;
	uint32_t seq;
	int used;
} cands[MAXCAND];
static int ncand, ncand_partial;

/*
 * The message a receiver killed inside a consuming msgrcv holds in its
 * buffer, if it holds a whole one: the library copies out before its
 * commit, so a message consumed by the dead is complete in its buffer.
 */
static void note_candidate(struct worker *w)
{
	if (!LOAD(&S->in_rcv[w->idx]))
		return;
	const unsigned char *buf = (const unsigned char *)S->rbuf[w->idx];
	long mtype;
	memcpy(&mtype, buf, sizeof mtype);
	if (mtype < 1)
		return;
	size_t bufsz = S->rcv_bufsz[w->idx];
	int trunc = (int)S->rcv_trunc[w->idx];
	int sid;
	uint32_t seq;
	if (mtype >= SHORT_BASE) {
		sid = (int)((mtype - SHORT_BASE) >> SEQ_BITS);
		seq = (uint32_t)((mtype - SHORT_BASE) & (MAXSEQ - 1));
	} else {
		uint32_t hd[4];
		memcpy(hd, buf + sizeof(long), HDR);
		sid = (int)hd[0];
		seq = hd[1];
	}
	if (sid < 0 || sid >= MAXS || seq >= S->next_seq[sid] || ncand >= MAXCAND)
		return;
	long type;
	uint32_t len;
	msg_shape(sid, seq, &type, &len);
	size_t n = trunc ? MIN((size_t)len, bufsz) : len;
	char why[200];
	if (n > bufsz || msg_check(mtype, buf + sizeof(long), n, bufsz, trunc, &sid, &seq, why,
				   sizeof why) < 0) {
		ncand_partial++;
		return;
	}
	cands[ncand++] = (struct cand){ sid, seq, 0 };
}

static int take_candidate(int sid, uint32_t seq)
{
	for (int i = 0; i < ncand; i++)
		if (cands[i].sid == sid && cands[i].seq == seq && !cands[i].used) {
			cands[i].used = 1;
			return 1;
		}
	return 0;
}

static uint32_t *map_lock_word(const char *name, size_t off)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", svipc_dir(), name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : (uint32_t *)((char *)p + off);
}

static void unmap_lock_word(uint32_t *w)
{
	if (w)
		munmap((void *)((uintptr_t)w & ~(uintptr_t)4095), 4096);
}

/* A queue that moved to a larger file has a new lock word. */
static void remap_lock_words(void)
{
	for (int q = 0; q < nq; q++) {
		char name[32];
		snprintf(name, sizeof name, "msg.%d", qids[q]);
		uint32_t *w = map_lock_word(name, offsetof(struct svipc_obj, lock));
		if (w) {
			unmap_lock_word(lock_words[q]);
			lock_words[q] = w;
		}
	}
}

static void report_worker_errors(void)
{
	for (int i = 0; i < 8; i++)
		if (LOAD(&S->err_ready[i]) == 1) {
			T_FAIL("worker: %s", S->err[i]);
			STORE(&S->err_ready[i], 2);
		}
}

static struct worker *worker_of(pid_t pid)
{
	for (int i = 0; i < nw; i++)
		if (W[i].pid == pid)
			return &W[i];
	return NULL;
}

static void describe_status(char *buf, size_t len, int st)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
}

/* A worker died on its own: always a failure (a crash, or a finding it logged). */
static int reap_unexpected(void)
{
	int bad = 0, st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct worker *w = worker_of(pid);
		char d[80];
		describe_status(d, sizeof d, st);
		T_FAIL("%s %d (pid %d) died on its own: %s", w ? role_name[w->role] : "?",
		       w ? w->idx : -1, (int)pid, d);
		if (w)
			w->pid = 0;
		bad = 1;
	}
	report_worker_errors();
	return bad;
}

static void delay_us(int us)
{
	if (us <= 0)
		return;
	if (us < 60) {
		int64_t end = mono_ns() + us * 1000LL;
		while (mono_ns() < end)
			;
		return;
	}
	struct timespec ts = { 0, us * 1000L };
	nanosleep(&ts, NULL);
}

/*
 * Watches the lock words for up to 200 us and returns the worker that holds
 * one, so that it can be killed inside its critical section, or NULL.
 */
static struct worker *lock_holder(const struct phase *ph)
{
	int64_t end = mono_ns() + 200000;
	do {
		for (int q = 0; q <= MAXQ; q++) {
			if (!lock_words[q])
				continue;
			uint32_t owner = LOAD(lock_words[q]) & ~SVIPC_LOCK_WAITERS;
			if (!owner)
				continue;
			for (int i = 0; i < nw; i++)
				if (W[i].pid && LOAD(&S->tok[i]) == owner) {
					delay_us((int)(t_rand() % 3));
					return &W[i];
				}
		}
	} while (mono_ns() < end);
	(void)ph;
	return NULL;
}

/* Waits up to 20 ms for a worker to take over a lock the dead token held. */
static struct worker *next_holder(uint32_t dead)
{
	int64_t end = mono_ns() + 20000000;
	do {
		for (int q = 0; q <= MAXQ; q++) {
			if (!lock_words[q])
				continue;
			uint32_t owner = LOAD(lock_words[q]) & ~SVIPC_LOCK_WAITERS;
			if (!owner || owner == dead)
				continue;
			for (int i = 0; i < nw; i++)
				if (W[i].pid && LOAD(&S->tok[i]) == owner)
					return &W[i];
		}
	} while (mono_ns() < end);
	return NULL;
}

/* Kills w and notes where it died: returns 1 if it held a lock, 0, or -1 on failure. */
/* What every worker is doing, for a stall's report: state, system call, wait channel. */
static void dump_stall(int nworkers, uint32_t lock_word)
{
	uint32_t owner = lock_word & ~SVIPC_LOCK_WAITERS;
	if (owner)
		fprintf(stderr, "  lock owner token %#x: pid %d, alive %d\n", owner,
			(int)svipc__proc_token_pid(owner), svipc__proc_alive(owner));
	for (int i = 0; i < nworkers; i++) {
		char path[64], st[256] = "", sc[128] = "", wc[64] = "";
		FILE *f;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)W[i].pid);
		if ((f = fopen(path, "re"))) {
			if (!fgets(st, sizeof st, f))
				st[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof path, "/proc/%d/syscall", (int)W[i].pid);
		if ((f = fopen(path, "re"))) {
			if (!fgets(sc, sizeof sc, f))
				sc[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof path, "/proc/%d/wchan", (int)W[i].pid);
		if ((f = fopen(path, "re"))) {
			if (!fgets(wc, sizeof wc, f))
				wc[0] = 0;
			fclose(f);
		}
		st[strcspn(st, "\n")] = 0;
		sc[strcspn(sc, "\n")] = 0;
		char *p = strrchr(st, ')');
		fprintf(stderr, "  %s %d pid %d token %#x: state %.1s, syscall %s, wchan %s\n",
			role_name[W[i].role], W[i].idx, (int)W[i].pid, LOAD(&S->tok[W[i].idx]),
			p && p[1] ? p + 2 : "?", sc, wc);
	}
}

static int kill_one(struct worker *w, int stopping)
{
	if (!w->pid)
		return 0;
	kill(w->pid, SIGKILL);
	int st;
	if (waitpid(w->pid, &st, 0) != w->pid) {
		T_FAIL("waitpid: %s", strerror(errno));
		return -1;
	}
	int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	if (!ok) {
		char d[80];
		describe_status(d, sizeof d, st);
		T_FAIL("%s %d died on its own before the kill: %s", role_name[w->role], w->idx, d);
		report_worker_errors();
	}
	w->pid = 0;
	if (stopping)
		w->stop_kills++;
	else
		w->kills++;
	if (w->role == R_RECEIVER && LOAD(&S->in_rcv[w->idx]))
		w->kills_in_rcv++;
	if (w->role == R_RECEIVER)
		note_candidate(w);
	uint32_t tok = LOAD(&S->tok[w->idx]);
	int held = 0;
	for (int q = 0; q <= MAXQ; q++)
		if (tok && lock_words[q] && (LOAD(lock_words[q]) & ~SVIPC_LOCK_WAITERS) == tok)
			held = 1;
	w->kills_holding += held;
	return ok ? held : -1;
}

/* Stops every worker: flag, then SIGUSR1 (EINTR) until it leaves, then SIGKILL. */
static void stop_all(void)
{
	STORE(&S->stop, 1);
	int64_t deadline = mono_ns() + 2000000000LL;
	for (;;) {
		int alive = 0;
		for (int i = 0; i < nw; i++) {
			struct worker *w = &W[i];
			if (!w->pid)
				continue;
			int st;
			pid_t p = waitpid(w->pid, &st, WNOHANG);
			if (p == w->pid) {
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
					char d[80];
					describe_status(d, sizeof d, st);
					T_FAIL("%s %d at stop: %s", role_name[w->role], w->idx, d);
				}
				w->pid = 0;
				continue;
			}
			alive++;
			kill(w->pid, SIGUSR1);
		}
		if (!alive || mono_ns() > deadline)
			break;
		delay_us(2000);
	}
	for (int i = 0; i < nw; i++)
		if (W[i].pid)
			kill_one(&W[i], 1);
	report_worker_errors();
}

/* ---- checks -------------------------------------------------------------------------- */

struct totals {
	uint64_t kills, kills_snd, kills_rcv, kills_in_rcv, kills_holding, stop_kills, kills_recovering;
	uint64_t sent, rcvd, drained, copies, stats, sets, churns;
	uint64_t lost, unrec_sent, unrec_delivered, trying;
};

static struct totals TT;

/* Drains a quiet queue: MSG_COPY walk, then msgrcv, checked against IPC_STAT. */
static void check_queue(int q, uint64_t *drained)
{
	int id = qids[q];
	static unsigned char buf[sizeof(long) + BUF_MAX];
	struct msqid_ds ds;
	int64_t t = mono_ns();
	if (svipc_msgctl(id, IPC_STAT, &ds) < 0) {
		T_FAIL("queue %d: IPC_STAT after the phase: %s", q, strerror(errno));
		return;
	}
	t = mono_ns() - t;
	if (t > 1000000000LL)
		T_FAIL("queue %d: first IPC_STAT after the kills took %lld ms", q, (long long)(t / 1000000));
	uint64_t qnum = ds.msg_qnum, cbytes = ds.__msg_cbytes;
	unsigned mode = ds.msg_perm.mode & 0777;
	if (!S->grow && !((mode == 0600 && ds.msg_qbytes == S->qbytes_hi) ||
			  (mode == 0640 && ds.msg_qbytes == S->qbytes_lo)))
		T_FAIL("queue %d: IPC_STAT shows a half-done IPC_SET: mode %o with qbytes %llu (only "
		       "600/%llu and 640/%llu were ever set)", q, mode, (unsigned long long)ds.msg_qbytes,
		       (unsigned long long)S->qbytes_hi, (unsigned long long)S->qbytes_lo);

	/* Walk with MSG_COPY: what is queued, in queue order. */
	uint32_t *names = calloc(qnum + 1, sizeof *names * 2);
	uint64_t n = 0, bytes = 0;
	for (;; n++) {
		ssize_t r = svipc_msgrcv(id, buf, BUF_MAX, (long)n, MSG_COPY | IPC_NOWAIT);
		if (r < 0) {
			if (errno != ENOMSG)
				T_FAIL("queue %d: MSG_COPY %llu: %s", q, (unsigned long long)n, strerror(errno));
			break;
		}
		long mtype;
		memcpy(&mtype, buf, sizeof mtype);
		char why[200];
		int sid;
		uint32_t seq;
		if (msg_check(mtype, buf + sizeof(long), (size_t)r, BUF_MAX, 0, &sid, &seq, why, sizeof why) < 0) {
			T_FAIL("queue %d: MSG_COPY %llu: %s", q, (unsigned long long)n, why);
			sid = -1, seq = 0;
		}
		if (n < qnum) {
			names[2 * n] = (uint32_t)sid;
			names[2 * n + 1] = seq;
		}
		bytes += (uint64_t)r;
		if (n > qnum + 10)
			break;
	}
	if (n != qnum || bytes != cbytes)
		T_FAIL("queue %d: IPC_STAT says %llu messages / %llu bytes, MSG_COPY finds %llu / %llu",
		       q, (unsigned long long)qnum, (unsigned long long)cbytes, (unsigned long long)n,
		       (unsigned long long)bytes);

	/* Drain, recording: the same messages in the same order. */
	uint64_t dn = 0, dbytes = 0;
	for (;;) {
		uint32_t tb = now_us();
		ssize_t r = svipc_msgrcv(id, buf, BUF_MAX, 0, IPC_NOWAIT);
		uint32_t ta = now_us();
		if (r < 0) {
			if (errno != ENOMSG)
				T_FAIL("queue %d: drain: %s", q, strerror(errno));
			break;
		}
		long mtype;
		memcpy(&mtype, buf, sizeof mtype);
		char why[200];
		int sid;
		uint32_t seq;
		if (msg_check(mtype, buf + sizeof(long), (size_t)r, BUF_MAX, 0, &sid, &seq, why, sizeof why) < 0) {
			T_FAIL("queue %d: drained: %s", q, why);
		} else {
			record(sid, seq, DRAIN_WHO, tb, ta);
			if (dn < qnum && (names[2 * dn] != (uint32_t)sid || names[2 * dn + 1] != seq))
				T_FAIL("queue %d: drained message %llu is %d/%u, MSG_COPY showed %d/%u", q,
				       (unsigned long long)dn, sid, seq, (int)names[2 * dn], names[2 * dn + 1]);
		}
		dn++;
		dbytes += (uint64_t)r;
		if (dn > qnum + 100000)
			break;
	}
	free(names);
	if (dn != qnum || dbytes != cbytes)
		T_FAIL("queue %d: IPC_STAT said %llu messages / %llu bytes, drained %llu / %llu", q,
		       (unsigned long long)qnum, (unsigned long long)cbytes, (unsigned long long)dn,
		       (unsigned long long)dbytes);
	*drained += dn;
	T_OK(svipc_msgctl(id, IPC_STAT, &ds));
	T_EQ(ds.msg_qnum, 0);
	T_EQ(ds.__msg_cbytes, 0);

	/* Not left locked: a round trip completes at once. */
	struct {
		long t;
		char b[8];
	} m = { 1, "x" };
	t = mono_ns();
	T_OK(svipc_msgsnd(id, &m, 2, IPC_NOWAIT));
	T_EQ(svipc_msgrcv(id, &m, sizeof m.b, 0, IPC_NOWAIT), 2);
	t = mono_ns() - t;
	if (t > 1000000000LL)
		T_FAIL("queue %d: final round trip took %lld ms", q, (long long)(t / 1000000));
}

/* Every message the phase's senders attempted. */
static void check_records(const struct phase *ph, int sid0, int nsid, uint64_t kills_in_rcv)
{
	uint64_t lost = 0, unexplained = 0, dup = 0, failed_dlv = 0, bogus = 0, fifo = 0, trying_all = 0, unrec_dlv = 0;
	uint64_t late = 0; /* messages returned after younger ones of their (sender, type) */
	for (int sid = sid0; sid < sid0 + nsid; sid++) {
		uint32_t n = S->next_seq[sid];
		uint64_t trying = 0;
		uint32_t maxtb[NTYPES + 1] = { 0 };
		uint32_t maxseq[NTYPES + 1] = { 0 };
		uint32_t last_late[NTYPES + 1];
		memset(last_late, 0xff, sizeof last_late);
		for (uint32_t k = 0; k < n; k++) {
			struct rec *r = rec_of(sid, k);
			long type;
			uint32_t len;
			msg_shape(sid, k, &type, &len);
			if (r->count > 1 && dup++ < 5)
				T_FAIL("%s: message %d/%u delivered %u times", ph->name, sid, k, r->count);
			switch (r->state) {
			case ST_SENT:
				if (r->count)
					break;
				lost++;
				if (!take_candidate(sid, k) && unexplained++ < 10)
					T_FAIL("%s: message %d/%u (type %ld, %u bytes) was sent and never "
					       "received, and no killed receiver held it", ph->name, sid, k,
					       type, len);
				break;
			case ST_TRYING:
				trying++;
				unrec_dlv += r->count > 0;
				break;
			case ST_FAILED:
				if (r->count && failed_dlv++ < 5)
					T_FAIL("%s: message %d/%u: msgsnd failed, yet it was received", ph->name,
					       sid, k);
				break;
			default:
				if (r->count && bogus++ < 5)
					T_FAIL("%s: message %d/%u never attempted, yet received", ph->name, sid, k);
			}
			/*
			 * FIFO per (sender, type): no later seq dequeued before an earlier
			 * one, except that a message svipc handed to a blocked receiver that
			 * was then killed goes back to the queue (nothing is lost, where the
			 * kernel would lose it) and reaches another receiver after younger
			 * ones. Each such late message must be explained by a receiver killed
			 * inside msgrcv (checked below, together with the lost ones).
			 */
			if (r->count && type <= NTYPES) {
				if (maxtb[type] && r->ta < maxtb[type]) {
					fifo++;
					if (last_late[type] != maxseq[type]) {
						last_late[type] = maxseq[type];
						late++;
					}
				}
				if (r->tb >= maxtb[type]) {
					maxtb[type] = r->tb;
					maxseq[type] = k;
				}
			}
		}
		/* Each killed incarnation leaves at most one TRYING seq. */
		uint64_t killed = 0;
		for (int i = 0; i < nw; i++)
			if (W[i].role == R_SENDER && W[i].sid == sid)
				killed += W[i].kills + W[i].stop_kills;
		if (trying > killed)
			T_FAIL("%s: sender %d has %llu unfinished sends but was killed only %llu times",
			       ph->name, sid, (unsigned long long)trying, (unsigned long long)killed);
		trying_all += trying;
	}
	if (lost > kills_in_rcv)
		T_FAIL("%s: %llu sent messages were never received; receivers killed inside msgrcv "
		       "can explain only %llu", ph->name, (unsigned long long)lost,
		       (unsigned long long)kills_in_rcv);
	T_EQ(unexplained, 0);
	T_EQ(dup, 0);
	if (lost + late > kills_in_rcv)
		T_FAIL("%s: FIFO: %llu message(s) came after younger ones of their sender and type "
		       "(%llu inversions); with %llu lost, receivers killed inside msgrcv explain "
		       "only %llu", ph->name, (unsigned long long)late, (unsigned long long)fifo,
		       (unsigned long long)lost, (unsigned long long)kills_in_rcv);
	TT.lost += lost;
	TT.trying += trying_all;
	TT.unrec_delivered += unrec_dlv;
	printf("  %s: allowances used: %llu sent-but-unrecorded delivered (of %llu unfinished sends), "
	       "%llu received-but-unrecorded, %llu re-delivered late (of %llu receiver kills inside msgrcv, %d with a "
	       "whole message in the buffer, %d a partial one)\n",
	       ph->name, (unsigned long long)unrec_dlv, (unsigned long long)trying_all,
	       (unsigned long long)lost, (unsigned long long)late, (unsigned long long)kills_in_rcv,
	       ncand, ncand_partial);
}

/* After the churn: every key resolves to a working queue or to nothing; no leaks. */
static void check_namespace(int nchurn)
{
	for (int i = 0; i < nchurn; i++) {
		int64_t t = mono_ns();
		int id = svipc_msgget(churn_key(i), 0);
		t = mono_ns() - t;
		if (t > 1000000000LL)
			T_FAIL("msgget after the churn took %lld ms", (long long)(t / 1000000));
		if (id < 0) {
			if (errno != ENOENT)
				T_FAIL("churn key %d: msgget: %s", i, strerror(errno));
			continue;
		}
		struct msqid_ds ds;
		T_OK(svipc_msgctl(id, IPC_STAT, &ds));
		T_EQ(ds.msg_perm.__key, churn_key(i));
		T_OK(svipc_msgctl(id, IPC_RMID, NULL));
	}
}

/* After a phase removed its queues: no queue in use, nothing left in the directory. */
static void check_leftovers(const char *phase)
{
	struct msginfo mi;
	int maxidx = svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	T_ASSERT(maxidx >= -1);
	if (mi.msgpool != 0)
		T_FAIL("%s: MSG_INFO counts %d queues in use after all were removed", phase, mi.msgpool);
	DIR *d = opendir(svipc_dir());
	if (!d) {
		T_FAIL("opendir: %s", strerror(errno));
		return;
	}
	struct dirent *de;
	int n = 0;
	off_t bytes = 0;
	char names[200] = "";
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "ns") || !strcmp(de->d_name, "procs"))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			bytes += st.st_blocks * 512;
		if (n++ < 3)
			snprintf(names + strlen(names), sizeof names - strlen(names), " %.60s", de->d_name);
		unlinkat(dirfd(d), de->d_name, 0); /* so that later phases start clean */
	}
	closedir(d);
	if (n)
		T_FAIL("%s: %d files (%lld KB) left in the namespace directory after every queue "
		       "was removed:%s%s", phase, n, (long long)bytes / 1024, names, n > 3 ? " ..." : "");
}


/*
 * A process killed while blocked must not take a live waiter's wake-up with
 * it: the design promises no lost wake-up. R1 blocks and is killed, R2
 * blocks behind it, then the event R2 waits for happens; R2 must return
 * promptly (the best of three tries, so a slow scheduler does not fail it).
 */
static int64_t wake_latency(int id, int sender_side)
{
	struct {
		long t;
		char b[4096];
	} m = { 1, "w" };
	int64_t *t_ret = (int64_t *)&S->rbuf[0][0];
	pid_t p1 = fork();
	if (p1 == 0) {
		if (sender_side)
			svipc_msgsnd(id, &m, 4000, 0);
		else
			svipc_msgrcv(id, &m, sizeof m.b, 0, 0);
		_exit(0);
	}
	usleep(30000); /* p1 is asleep in the library */
	kill(p1, SIGKILL);
	waitpid(p1, NULL, 0);
	STORE(t_ret, (int64_t)0);
	pid_t p2 = fork();
	if (p2 == 0) {
		int r = sender_side ? svipc_msgsnd(id, &m, 4000, 0)
				    : (int)svipc_msgrcv(id, &m, sizeof m.b, 0, 0);
		STORE(t_ret, mono_ns());
		_exit(r < 0);
	}
	usleep(5000); /* p2 is asleep behind p1's slot, early in its 100 ms slice */
	int64_t t0 = mono_ns();
	if (sender_side)
		T_OK(svipc_msgrcv(id, &m, sizeof m.b, 0, IPC_NOWAIT)); /* room for p2 */
	else
		T_OK(svipc_msgsnd(id, &m, 1, 0)); /* something for p2 */
	int st;
	waitpid(p2, &st, 0);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return LOAD(t_ret) - t0;
}

static void check_wakeups(void)
{
	int id = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	struct {
		long t;
		char b[4000];
	} m = { 1, "" };
	int64_t best_r = INT64_MAX, best_s = INT64_MAX;
	for (int i = 0; i < 3; i++)
		best_r = MIN(best_r, wake_latency(id, 0));
	while (svipc_msgsnd(id, &m, sizeof m.b, IPC_NOWAIT) == 0)
		; /* full: senders block */
	for (int i = 0; i < 3; i++)
		best_s = MIN(best_s, wake_latency(id, 1));
	printf("  wakeup: a live waiter behind a killed one returns after %.3f ms (receiver), "
	       "%.3f ms (sender)\n", (double)best_r / 1e6, (double)best_s / 1e6);
	if (best_r > 40000000LL)
		T_FAIL("a receiver killed while blocked took the wake-up meant for the live "
		       "receiver behind it: that one returned %.1f ms after the msgsnd",
		       (double)best_r / 1e6);
	if (best_s > 40000000LL)
		T_FAIL("a sender killed while blocked took the wake-up meant for the live sender "
		       "behind it: that one returned %.1f ms after the msgrcv", (double)best_s / 1e6);
	T_OK(svipc_msgctl(id, IPC_RMID, NULL));
	check_leftovers("wakeup");
}

/* ---- every instruction: single-step one call, check the queue after each ---------------- */

/*
 * SIGKILL at instruction N leaves exactly the memory that the first N
 * instructions wrote. So a call is traced with PTRACE_SINGLESTEP, and after
 * every instruction the queue file is copied into a scratch queue whose lock,
 * if the call held it, is handed to a token that is certainly dead. A
 * call on the scratch queue then takes the lock over and runs recovery, and
 * the result must be the queue as it was before the call or as it is after
 * it: same messages, same order, same bytes, exact IPC_STAT, working
 * indexes. Once a step shows the "after" state, no later step may show
 * "before" (a commit is final). This checks every instruction of the call,
 * not a random sample.
 */

#define DEAD_TOKEN ((1u << 16) | 65000u) /* slot 64999, never registered here */

struct smsg {
	long type;
	uint32_t len, tag;
};

struct sstate {
	struct smsg m[16];
	int n;
	unsigned mode;
	uint64_t qbytes;
};

enum { OP_SND, OP_RCV, OP_SET, OP_COPY };

struct sop {
	const char *name;
	int kind;
	long type; /* OP_SND: the new message */
	uint32_t len;
	long msgtyp; /* OP_RCV / OP_COPY */
	int flags;
};

static void sm_fill(uint32_t tag, uint32_t len, unsigned char *p)
{
	for (uint32_t j = 0; j < len; j++)
		p[j] = (unsigned char)(tag * 131u + j * 7u + (j >> 8));
}

/* Linux's choice of message for msgrcv(msgtyp, flags). */
static int model_pick(const struct sstate *s, long msgtyp, int flags)
{
	if (msgtyp == 0)
		return s->n ? 0 : -1;
	int best = -1;
	for (int i = 0; i < s->n; i++) {
		long t = s->m[i].type;
		if (msgtyp > 0 && ((flags & MSG_EXCEPT) ? t != msgtyp : t == msgtyp))
			return i;
		if (msgtyp < 0 && t <= -msgtyp && (best < 0 || t < s->m[best].type))
			best = i;
	}
	return best;
}

/* 1 if queue id holds exactly state e (non-destructive), else 0; -1 with why if unusable. */
static int sweep_matches(int id, const struct sstate *e, char *why, size_t wl)
{
	static unsigned char buf[sizeof(long) + BUF_MAX], exp[BUF_MAX];
	struct msqid_ds ds;
	if (svipc_msgctl(id, IPC_STAT, &ds) < 0) {
		snprintf(why, wl, "IPC_STAT: %s", strerror(errno));
		return -1;
	}
	uint64_t bytes = 0;
	for (int i = 0; i < e->n; i++)
		bytes += e->m[i].len;
	if (ds.msg_qnum != (msgqnum_t)e->n || ds.__msg_cbytes != bytes ||
	    (ds.msg_perm.mode & 0777) != e->mode || ds.msg_qbytes != e->qbytes)
		return 0;
	for (int i = 0; i <= e->n; i++) {
		ssize_t r = svipc_msgrcv(id, buf, BUF_MAX, i, MSG_COPY | IPC_NOWAIT);
		if (i == e->n)
			return r < 0 && errno == ENOMSG;
		if (r < 0)
			return 0;
		long t;
		memcpy(&t, buf, sizeof t);
		sm_fill(e->m[i].tag, e->m[i].len, exp);
		if (t != e->m[i].type || (uint32_t)r != e->m[i].len ||
		    memcmp(buf + sizeof(long), exp, (size_t)r) != 0)
			return 0;
	}
	return 0;
}

/* What a queue holds, for a failure message. */
static void sweep_describe(int id, char *out, size_t len)
{
	static unsigned char buf[sizeof(long) + BUF_MAX];
	struct msqid_ds ds;
	size_t o = 0;
	if (svipc_msgctl(id, IPC_STAT, &ds) < 0) {
		snprintf(out, len, "IPC_STAT: %s", strerror(errno));
		return;
	}
	o += (size_t)snprintf(out + o, len - o, "qnum %lu cbytes %lu mode %o qbytes %lu:",
			      (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
			      ds.msg_perm.mode & 0777, (unsigned long)ds.msg_qbytes);
	for (int i = 0; i < 20 && o < len - 40; i++) {
		ssize_t r = svipc_msgrcv(id, buf, BUF_MAX, i, MSG_COPY | IPC_NOWAIT);
		if (r < 0)
			break;
		long t;
		memcpy(&t, buf, sizeof t);
		o += (size_t)snprintf(out + o, len - o, " %ld/%zd", t, r);
	}
}

static void sstate_print(const struct sstate *e, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "mode %o qbytes %lu:", e->mode, (unsigned long)e->qbytes);
	for (int i = 0; i < e->n && o < len - 40; i++)
		o += (size_t)snprintf(out + o, len - o, " %ld/%u", e->m[i].type, e->m[i].len);
}

/* Destructive checks of the recovered scratch queue: typed selection still works. */
static int sweep_indexes(int id, const struct sstate *e, char *why, size_t wl)
{
	static unsigned char buf[sizeof(long) + BUF_MAX];
	struct sstate left = *e;
	/* Alternate the selection modes, each checked against the model. */
	static const long sel[][2] = { { -LONG_MAX, 0 }, { 3, MSG_EXCEPT }, { 0, 0 }, { 1, 0 },
				       { -2, 0 }, { 5, 0 }, { 7, MSG_EXCEPT } };
	for (int k = 0; left.n; k++) {
		long msgtyp = sel[k % ARRAY_SIZE(sel)][0];
		int flg = (int)sel[k % ARRAY_SIZE(sel)][1];
		int want = model_pick(&left, msgtyp, flg);
		ssize_t r = svipc_msgrcv(id, buf, BUF_MAX, msgtyp, flg | IPC_NOWAIT);
		if (want < 0) {
			if (r >= 0 || errno != ENOMSG) {
				snprintf(why, wl, "msgrcv(%ld, %#x) gave %zd (%s), expected ENOMSG", msgtyp,
					 flg, r, strerror(errno));
				return -1;
			}
			continue;
		}
		long t = 0;
		memcpy(&t, buf, sizeof t);
		if (r != (ssize_t)left.m[want].len || t != left.m[want].type) {
			snprintf(why, wl, "msgrcv(%ld, %#x) gave type %ld, %zd bytes (%s); expected "
				 "type %ld, %u bytes", msgtyp, flg, t, r, r < 0 ? strerror(errno) : "ok",
				 left.m[want].type, left.m[want].len);
			return -1;
		}
		memmove(&left.m[want], &left.m[want + 1], sizeof left.m[0] * (size_t)(left.n - want - 1));
		left.n--;
	}
	struct msqid_ds ds;
	if (svipc_msgctl(id, IPC_STAT, &ds) < 0 || ds.msg_qnum != 0 || ds.__msg_cbytes != 0) {
		snprintf(why, wl, "not empty after draining");
		return -1;
	}
	struct {
		long t;
		char b[8];
	} m = { 9, "z" };
	if (svipc_msgsnd(id, &m, 2, IPC_NOWAIT) < 0 || svipc_msgrcv(id, &m, 8, 9, IPC_NOWAIT) != 2) {
		snprintf(why, wl, "round trip after recovery failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static unsigned char *map_obj_rw(int id, size_t *size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/msg.%d", svipc_dir(), id);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	fstat(fd, &st);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	*size = (size_t)st.st_size;
	return p == MAP_FAILED ? NULL : p;
}


/* Where the vDSO is mapped in process pid. */
static void find_vdso(pid_t pid, unsigned long *lo, unsigned long *hi)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[vdso]"))
			sscanf(line, "%lx-%lx", lo, hi);
	fclose(f);
}

/* A step that stopped in the vDSO runs its call out (see run_vdso_call_out). */
static int step_over_vdso(pid_t pid, unsigned long lo, unsigned long hi)
{
#if defined(__x86_64__)
	struct user_regs_struct rg;
	if (ptrace(PTRACE_GETREGS, pid, NULL, &rg) < 0)
		return -1;
	if (rg.rip < lo || rg.rip >= hi)
		return 0;
	return run_vdso_call_out(pid, &rg);
#else
	(void)pid, (void)lo, (void)hi;
	return 0;
#endif
}

static const struct smsg sweep_init[] = { { 3, 10, 1 }, { 1, 30, 2 }, { 3, 100, 3 },
					  { 2, 0, 4 },  { 5, 200, 5 }, { 1, 300, 6 } };

/*
 * Every instruction is checked; under AddressSanitizer a call runs ten times as
 * many, so every 8th (SVIPC_SWEEP_STRIDE overrides).
 */
#if defined(__SANITIZE_ADDRESS__)
#define SWEEP_STRIDE 8
#else
#define SWEEP_STRIDE 1
#endif
static long sweep_stride = SWEEP_STRIDE;

struct sweep_totals {
	long steps, held, checked, recoveries;
	int skipped;
} SW;

/* Traces one call; returns -1 if ptrace is unavailable. */
static int sweep_op(const struct sop *op, int idq, int ids, unsigned char *qmap,
		    unsigned char *smap, size_t size, uint64_t qb)
{
	static unsigned char buf[sizeof(long) + BUF_MAX];
	/* The queue before: 0600, qbytes qb, the initial messages. */
	struct msqid_ds ds;
	while (svipc_msgrcv(idq, buf, BUF_MAX, 0, IPC_NOWAIT) >= 0)
		;
	T_OK(svipc_msgctl(idq, IPC_STAT, &ds));
	ds.msg_perm.mode = 0600;
	ds.msg_qbytes = qb;
	T_OK(svipc_msgctl(idq, IPC_SET, &ds));
	struct sstate pre = { .n = 0, .mode = 0600, .qbytes = qb };
	for (size_t i = 0; i < ARRAY_SIZE(sweep_init); i++) {
		const struct smsg *m = &sweep_init[i];
		memcpy(buf, &m->type, sizeof(long));
		sm_fill(m->tag, m->len, buf + sizeof(long));
		T_OK(svipc_msgsnd(idq, buf, m->len, IPC_NOWAIT));
		pre.m[pre.n++] = *m;
	}
	struct sstate post = pre;
	switch (op->kind) {
	case OP_SND:
		post.m[post.n++] = (struct smsg){ op->type, op->len, 99 };
		break;
	case OP_RCV: {
		int k = model_pick(&pre, op->msgtyp, op->flags);
		memmove(&post.m[k], &post.m[k + 1], sizeof post.m[0] * (size_t)(post.n - k - 1));
		post.n--;
		break;
	}
	case OP_SET:
		post.mode = 0640;
		post.qbytes = qb - 512;
		break;
	}

	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		svipc__proc_token(); /* register and warm up outside the trace */
		svipc_msgctl(idq, IPC_STAT, &ds);
		if (op->kind == OP_SND) {
			memcpy(buf, &op->type, sizeof(long));
			sm_fill(99, op->len, buf + sizeof(long));
		} else if (op->kind == OP_SET) {
			ds.msg_perm.mode = 0640;
			ds.msg_qbytes = qb - 512;
		}
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(77);
		raise(SIGSTOP);
		long r = -1;
		switch (op->kind) {
		case OP_SND:
			r = svipc_msgsnd(idq, buf, op->len, IPC_NOWAIT);
			break;
		case OP_RCV:
		case OP_COPY:
			r = svipc_msgrcv(idq, buf, BUF_MAX, op->msgtyp, op->flags | IPC_NOWAIT);
			break;
		case OP_SET:
			r = svipc_msgctl(idq, IPC_SET, &ds);
			break;
		}
		_exit(r < 0 ? 1 : 0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return -1;
	if (!WIFSTOPPED(st)) {
		T_FAIL("sweep %s: the traced child did not stop", op->name);
		return 0;
	}
	Dl_info dli;
	dladdr((void *)sweep_op, &dli);
	unsigned long vdso_lo = 0, vdso_hi = 0;
	find_vdso(pid, &vdso_lo, &vdso_hi);
	const struct sstate *after_op = op->kind == OP_COPY ? &pre : &post;
	int seen_post = 0, fails = 0;
	long steps = 0;
	for (;;) {
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0) {
			T_FAIL("sweep %s: PTRACE_SINGLESTEP: %s", op->name, strerror(errno));
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 0;
		}
		waitpid(pid, &st, 0);
		if (!WIFSTOPPED(st))
			break;
		steps++;
		if (WSTOPSIG(st) != SIGTRAP) {
			T_FAIL("sweep %s: traced call stopped by signal %d", op->name, WSTOPSIG(st));
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 0;
		}
		if (step_over_vdso(pid, vdso_lo, vdso_hi) < 0) {
			T_FAIL("sweep %s: cannot step over the vDSO", op->name);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 0;
		}
		if (steps % sweep_stride != 0)
			continue;
		/* "Killed here": the queue as the first `steps` instructions left it. */
		memcpy(smap, qmap, size);
		struct svipc_obj *o = (struct svipc_obj *)smap;
		o->id = ids;
		int held = (o->lock & ~SVIPC_LOCK_WAITERS) != 0;
		if (held)
			o->lock = DEAD_TOKEN;
		SW.held += held;
		char why[1000] = "", got[600], exp1[300], exp2[300];
		int is_pre = sweep_matches(ids, &pre, why, sizeof why);
		int is_post = is_pre == 0 ? sweep_matches(ids, after_op, why, sizeof why) : 0;
		int bad = 0;
		if (is_pre < 0 || is_post < 0) {
			bad = 1;
		} else if (!is_pre && !is_post) {
			sweep_describe(ids, got, sizeof got);
			sstate_print(&pre, exp1, sizeof exp1);
			sstate_print(after_op, exp2, sizeof exp2);
			snprintf(why, sizeof why, "neither the state before nor after the call:\n"
				 "    got    %.250s\n    before %.200s\n    after  %.200s", got, exp1, exp2);
			bad = 1;
		} else if (is_pre && seen_post && op->kind != OP_COPY) {
			snprintf(why, sizeof why, "back to the state before the call after a step had "
				 "shown the state after it");
			bad = 1;
		} else if (sweep_indexes(ids, is_pre ? &pre : after_op, why, sizeof why) < 0) {
			bad = 1;
		}
		seen_post |= is_post && !is_pre;
		SW.checked++;
		SW.recoveries += held;
		if (bad && ++fails <= 3) {
			struct user_regs_struct regs;
			unsigned long long ip = 0;
			if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) == 0)
#if defined(__x86_64__)
				ip = regs.rip;
#elif defined(__aarch64__)
				ip = regs.pc;
#endif
			T_FAIL("sweep %s: killed after instruction %ld (pc %#llx = test binary + %#llx%s): %s",
			       op->name, steps, ip, ip - (unsigned long long)(uintptr_t)dli.dli_fbase,
			       held ? ", holding the queue lock" : "", why);
		}
	}
	SW.steps += steps;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("sweep %s: the traced call failed", op->name);
	char why[300];
	if (sweep_matches(idq, after_op, why, sizeof why) != 1)
		T_FAIL("sweep %s: the queue after the completed call is not as expected", op->name);
	if (fails)
		T_FAIL("sweep %s: a kill after %d of its %ld instructions (of those checked) leaves a "
		       "wrong state", op->name, fails, steps);
	if (sweep_stride == 1)
		printf("  sweep %s: %ld instructions, a kill after each one checked\n", op->name, steps);
	else
		printf("  sweep %s: %ld instructions, a kill after every %ldth one checked\n", op->name,
		       steps, sweep_stride);
	return 0;
}

static void check_sweep(void)
{
	static const struct sop ops[] = {
		{ "msgsnd new type", OP_SND, 7, 5, 0, 0 },
		{ "msgsnd existing type", OP_SND, 3, 60, 0, 0 },
		{ "msgsnd 1500 bytes", OP_SND, 2, 1500, 0, 0 },
		{ "msgrcv 0", OP_RCV, 0, 0, 0, 0 },
		{ "msgrcv last of type", OP_RCV, 0, 0, 2, 0 },
		{ "msgrcv 5 (200 bytes)", OP_RCV, 0, 0, 5, 0 },
		{ "msgrcv -2", OP_RCV, 0, 0, -2, 0 },
		{ "msgrcv EXCEPT 3", OP_RCV, 0, 0, 3, MSG_EXCEPT },
		{ "msgrcv MSG_COPY 4", OP_COPY, 0, 0, 4, MSG_COPY },
		{ "IPC_SET", OP_SET, 0, 0, 0, 0 },
	};
#if !defined(__x86_64__)
	printf("  sweep: skipped (single-stepping over the vDSO is written for x86-64)\n");
	return;
#endif
	const char *e = getenv("SVIPC_SWEEP_STRIDE");
	if (e && atol(e) > 0)
		sweep_stride = atol(e);
	/* Small queues: each step copies the whole file. */
	struct svipc_limits lim0, lim;
	T_OK(svipc_limits_get(&lim0));
	lim = lim0;
	lim.msgmnb = 4096;
	T_OK(svipc_limits_set(&lim));
	int idq = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	int ids = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	T_OK(svipc_limits_set(&lim0));
	size_t qsize = 0, ssize = 0;
	unsigned char *qmap = map_obj_rw(idq, &qsize), *smap = map_obj_rw(ids, &ssize);
	T_ASSERT(qmap && smap && qsize == ssize);
	if (!qmap || !smap || qsize != ssize)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (sweep_op(&ops[i], idq, ids, qmap, smap, qsize, 4096) < 0) {
			printf("  sweep: ptrace is not available here: skipped\n");
			SW.skipped = 1;
			break;
		}
	}
	printf("  sweep: %ld instructions in %zu calls; %ld checked, %ld of those inside the lock "
	       "(each followed by a recovery)\n", SW.steps, ARRAY_SIZE(ops), SW.checked, SW.held);
	munmap(qmap, qsize);
	munmap(smap, ssize);
	T_OK(svipc_msgctl(idq, IPC_RMID, NULL));
	T_OK(svipc_msgctl(ids, IPC_RMID, NULL));
	check_leftovers("sweep");
}

/* ---- phases ---------------------------------------------------------------------------- */

static void run_phase(const struct phase *ph, int *sid_next, int scale)
{
	memset(W, 0, sizeof W);
	nw = 0;
	nq = ph->nq;
	S->stop = 0;
	S->nerr = 0;
	memset(S->err_ready, 0, sizeof S->err_ready);
	S->set_pct = ph->set_pct;
	S->grow = ph->grow;
	memset(S->qprog, 0, sizeof S->qprog);
	for (int q = 0; q < nq; q++) {
		qids[q] = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
		char name[32];
		snprintf(name, sizeof name, "msg.%d", qids[q]);
		lock_words[q] = map_lock_word(name, offsetof(struct svipc_obj, lock));
	}
	lock_words[MAXQ] = map_lock_word("ns", 8);
	if (nq) {
		struct msqid_ds ds;
		T_OK(svipc_msgctl(qids[0], IPC_STAT, &ds));
		S->qbytes_hi = ds.msg_qbytes;
		S->qbytes_lo = ds.msg_qbytes - 512;
	}
	struct svipc_limits lim0;
	T_OK(svipc_limits_get(&lim0));
	if (ph->grow) {
		/* Queues exist at the default size; raising msgmnb lets IPC_SET grow them. */
		struct svipc_limits lim = lim0;
		lim.msgmnb = 65536;
		T_OK(svipc_limits_set(&lim));
	}
	int sid0 = *sid_next;
	ncand = ncand_partial = 0;
	S->over_msgs = (uint64_t)ph->recv_per_q;
	S->over_bytes = (uint64_t)ph->recv_per_q * ph->maxlen;
	for (int q = 0; q < nq; q++) {
		for (int j = 0; j < ph->send_per_q; j++) {
			int sid = (*sid_next)++;
			S->minlen[sid] = ph->minlen;
			S->maxlen[sid] = ph->maxlen;
			W[nw] = (struct worker){ .role = R_SENDER, .idx = nw, .q = q, .sid = sid,
						 .nowait = ph->nowait };
			nw++;
		}
		for (int j = 0; j < ph->recv_per_q; j++) {
			W[nw] = (struct worker){ .role = R_RECEIVER, .idx = nw, .q = q, .nowait = ph->nowait };
			nw++;
		}
	}
	for (int j = 0; j < ph->nctl; j++, nw++)
		W[nw] = (struct worker){ .role = R_CTL, .idx = nw };
	for (int j = 0; j < ph->nchurn; j++, nw++)
		W[nw] = (struct worker){ .role = R_CHURN, .idx = nw };
	int nsid = *sid_next - sid0;

	uint64_t sent0 = S->n_sent, rcvd0 = S->n_rcvd;
	for (int i = 0; i < nw; i++)
		spawn(&W[i]);

	int target = ph->kills * scale;
	int64_t start = mono_ns(), end = start + (int64_t)ph->secs * scale * 1000000000LL;
	int64_t last_prog_t[MAXQ];
	uint64_t last_prog[MAXQ];
	for (int q = 0; q < MAXQ; q++) {
		last_prog_t[q] = start;
		last_prog[q] = 0;
	}
	int kills = 0, broken = 0;
	while (kills < target && mono_ns() < end && !broken) {
		int us = (int)(t_rand() % (uint64_t)ph->max_delay_us);
		if (t_rand() % 4 == 0)
			us = (int)(t_rand() % 50); /* sometimes right away */
		delay_us(us);
		if (reap_unexpected()) {
			broken = 1;
			break;
		}
		if (ph->grow)
			remap_lock_words();
		struct worker *w = NULL;
		if ((int)(t_rand() % 100) < ph->aim_pct)
			w = lock_holder(ph);
		if (!w)
			w = &W[t_rand() % (uint64_t)nw];
		uint32_t dead = LOAD(&S->tok[w->idx]);
		int held = kill_one(w, 0);
		if (held < 0) {
			broken = 1;
			break;
		}
		kills++;
		spawn(w);
		if (held && t_rand() % 2) {
			/* Kill the one who takes the lock over too: likely inside its recovery. */
			struct worker *v = next_holder(dead);
			if (v) {
				delay_us((int)(t_rand() % 40));
				if (kill_one(v, 0) < 0) {
					broken = 1;
					break;
				}
				v->kills_recovering++;
				kills++;
				spawn(v);
			}
		}
		/* Watchdog: every queue keeps moving. */
		int64_t now = mono_ns();
		for (int q = 0; q < MAX(nq, 1); q++) {
			uint64_t p = LOAD(&S->qprog[q]);
			if (p != last_prog[q]) {
				last_prog[q] = p;
				last_prog_t[q] = now;
			} else if (now - last_prog_t[q] > 5000000000LL) {
				uint32_t lw = lock_words[q] ? LOAD(lock_words[q]) : 0;
				T_FAIL("%s: queue %d made no progress for 5 s (lock word %#x)", ph->name, q, lw);
				dump_stall(nw, lw);
				broken = 1;
			}
		}
	}
	double secs = (double)(mono_ns() - start) / 1e9;
	stop_all();
	if (ph->grow)
		T_OK(svipc_limits_set(&lim0));

	uint64_t drained = 0;
	for (int q = 0; q < nq; q++)
		check_queue(q, &drained);

	struct totals t = { 0 };
	for (int i = 0; i < nw; i++) {
		struct worker *w = &W[i];
		t.kills += w->kills;
		t.kills_snd += w->role == R_SENDER ? w->kills : 0;
		t.kills_rcv += w->role == R_RECEIVER ? w->kills : 0;
		t.kills_in_rcv += w->kills_in_rcv;
		t.kills_holding += w->kills_holding;
		t.kills_recovering += w->kills_recovering;
		t.stop_kills += w->stop_kills;
	}
	if (nsid)
		check_records(ph, sid0, nsid, t.kills_in_rcv);
	if (ph->nchurn)
		check_namespace(ph->nchurn);

	uint64_t sent = S->n_sent - sent0, rcvd = S->n_rcvd - rcvd0;
	printf("  %s: %.1f s, %llu kills (%llu senders, %llu receivers [%llu inside msgrcv], "
	       "%llu holding a lock, %llu just after taking a dead holder's lock over), %llu killed "
	       "at stop; %llu sent, %llu received, %llu drained\n",
	       ph->name, secs, (unsigned long long)t.kills, (unsigned long long)t.kills_snd,
	       (unsigned long long)t.kills_rcv, (unsigned long long)t.kills_in_rcv,
	       (unsigned long long)t.kills_holding, (unsigned long long)t.kills_recovering,
	       (unsigned long long)t.stop_kills,
	       (unsigned long long)sent, (unsigned long long)rcvd, (unsigned long long)drained);
	fflush(stdout);
	if (kills < target && !broken)
		printf("  %s: time limit reached after %d of %d kills\n", ph->name, kills, target);

	TT.kills += t.kills;
	TT.kills_snd += t.kills_snd;
	TT.kills_rcv += t.kills_rcv;
	TT.kills_in_rcv += t.kills_in_rcv;
	TT.kills_holding += t.kills_holding;
	TT.kills_recovering += t.kills_recovering;
	TT.stop_kills += t.stop_kills;
	TT.sent += sent;
	TT.rcvd += rcvd;
	TT.drained += drained;

	for (int q = 0; q < nq; q++) {
		T_OK(svipc_msgctl(qids[q], IPC_RMID, NULL));
		unmap_lock_word(lock_words[q]);
		lock_words[q] = NULL;
	}
	unmap_lock_word(lock_words[MAXQ]);
	lock_words[MAXQ] = NULL;
	check_leftovers(ph->name);
}

int main(void)
{
	t_setup(170);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parent_pid = getpid();
	prctl(PR_SET_TIMERSLACK, 1UL);

	S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	R = mmap(NULL, sizeof(struct rec) * MAXS * (size_t)MAXSEQ, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (S == MAP_FAILED || R == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	const char *e = getenv("SVIPC_CRASH_SEED");
	S->seed = e ? strtoull(e, NULL, 0) : (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32);
	e = getenv("SVIPC_CRASH_SCALE");
	int scale = e ? atoi(e) : 1;
	if (scale < 1)
		scale = 1;
	if (scale > 1)
		alarm(170 * scale);
	t_rng = S->seed;
	for (uint32_t i = 0; i < POOL; i += 8) {
		uint64_t v = t_rand();
		memcpy(pool + i, &v, 8);
	}
	S->t0 = mono_ns();
	printf("test_msg_crash: seed %#llx (replay: SVIPC_CRASH_SEED=%#llx), scale %d\n",
	       (unsigned long long)S->seed, (unsigned long long)S->seed, scale);

	struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART: stops waits with EINTR */
	sigaction(SIGUSR1, &sa, NULL);

	/* Register and open the namespace before forking. */
	struct svipc_limits lim;
	T_OK(svipc_limits_get(&lim));

	static const struct phase phases[] = {
		/* name   nq s/q r/q ctl churn minlen maxlen nowait kills secs delay aim% set% grow */
		{ "mixed", 2, 3, 3, 1, 0, 0, 300, 0, 2500, 20, 1500, 30, 33, 0 },
		{ "large", 1, 2, 2, 0, 0, 3500, 4000, 0, 800, 10, 1500, 50, 0, 0 },
		{ "hot", 1, 3, 3, 0, 0, 0, 200, 1, 1500, 10, 400, 60, 0, 0 },
		{ "ctl", 1, 0, 0, 2, 0, 0, 0, 1, 3000, 8, 1000, 50, 100, 0 },
		{ "grow", 1, 2, 2, 1, 0, 0, 300, 0, 800, 10, 1500, 50, 20, 1 },
		{ "churn", 0, 0, 0, 0, 3, 0, 0, 0, 500, 8, 1500, 30, 0, 0 },
	};
	int sid_next = 0;
	const char *only = getenv("SVIPC_CRASH_PHASES"); /* e.g. "mixed,ctl" */
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		if (!only || strstr(only, phases[i].name))
			run_phase(&phases[i], &sid_next, scale);
	if (!only || strstr(only, "wakeup"))
		check_wakeups();
	if (!only || strstr(only, "sweep"))
		check_sweep();

	printf("test_msg_crash: %llu kills (%llu senders, %llu receivers, %llu inside msgrcv, "
	       "%llu while holding a lock, %llu in recovery; %llu more at stop), %llu messages sent, "
	       "%llu received, "
	       "%llu drained at the end; allowances: %llu sent-but-unrecorded delivered "
	       "(%llu unfinished sends), %llu received-but-unrecorded\n",
	       (unsigned long long)TT.kills, (unsigned long long)TT.kills_snd,
	       (unsigned long long)TT.kills_rcv, (unsigned long long)TT.kills_in_rcv,
	       (unsigned long long)TT.kills_holding, (unsigned long long)TT.kills_recovering,
	       (unsigned long long)TT.stop_kills, (unsigned long long)TT.sent, (unsigned long long)TT.rcvd,
	       (unsigned long long)TT.drained, (unsigned long long)TT.unrec_delivered,
	       (unsigned long long)TT.trying, (unsigned long long)TT.lost);
	printf("test_msg_crash: also %llu MSG_COPY peeks, %llu IPC_STAT, %llu IPC_SET, %llu "
	       "create/remove rounds\n",
	       (unsigned long long)S->n_copy, (unsigned long long)S->n_stat,
	       (unsigned long long)S->n_set, (unsigned long long)S->n_churn);
	if (TT.kills >= 1000 * (uint64_t)scale && TT.kills_holding == 0)
		T_FAIL("no kill landed while a lock was held: the test lost its teeth");
	return t_done();
}

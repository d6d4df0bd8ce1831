/*
 * test_torture.c - message queues, shared memory with semaphores and
 * semaphore sets, all in one namespace, driven by many processes at once
 * while a killer process sends SIGKILL, and SIGSTOP/SIGCONT, at random
 * moments; at the end everything is accounted for exactly.
 *
 * Workers (each a slot; a killed worker is replaced in its slot by a new
 * process that continues from what the slot records):
 *  - senders: send checksummed messages (random lengths, 4 types) to 2
 *    queues, blocking, IPC_NOWAIT or with a timeout; one stream of
 *    sequence numbers per (queue, sender, type);
 *  - receivers (3 per queue; one of them with msgtyp 0 only, so that
 *    the queue never jams): receive with msgtyp 0, t, -t or t|MSG_EXCEPT,
 *    blocking, IPC_NOWAIT or timed, into a buffer in the shared log;
 *  - semx: multi-operation transfers between the pools of a set, without
 *    SEM_UNDO, sometimes with a wait-for-zero on a gate; each call also
 *    bumps the worker's witness semaphore, in the same call, so that the
 *    outcome of the call a worker was killed in is known exactly (two of
 *    them never block for long, so that no pool stays empty while every
 *    worker waits on it);
 *  - semu: take units from pools into a pocket semaphore (and hold the
 *    gate) with SEM_UNDO, hold them, give them back; killed, or leaving
 *    by exit() or _exit() while holding: their adjustments must be applied;
 *  - shm: shmget + shmat a segment, take its SEM_UNDO mutex, increment the
 *    counter in the segment, release, shmdt;
 *  - churn: create a segment, attach it twice, IPC_RMID it while attached
 *    (nattch and SHM_DEST checked, the file must vanish at the last
 *    detach); create, use and remove queues and sets.
 * The log is an anonymous MAP_SHARED region. Each worker records what it
 * is about to do, does it, then records that it is done; the supervisor
 * (the test's main process) reaps every killed worker and settles its last
 * operation: a send in flight is "maybe sent"; a receive in flight whose
 * buffer holds a whole message is "maybe received" (the one message a
 * killed receiver may lose; its buffer is the proof); a semop in flight is settled by the witness
 * semaphore; an increment in flight by the chain of counter values (each
 * completed increment records the value it saw, in a bitmap: two holders
 * seeing the same value would be a broken mutex).
 *
 * The killer: SIGKILL to a random worker (first noting whether it is in a
 * call, holds an application lock, or holds an object lock, as the
 * lock-free inspection shows), SIGSTOP then SIGCONT after a few ms, and
 * now and then a freeze: every worker stopped (no respawn meanwhile),
 * shm_nattch of every segment (lock-free inspection) checked against the
 * slots that are attached. Each process is killed at most once, and every
 * kill sent must be reaped as a SIGKILL death.
 *
 * Per-type FIFO is checked per receiver (and in the final drain). One
 * reordering is allowed and counted apart: svipc hands a message to a
 * blocked receiver (as the kernel's pipelined send does), and gives it
 * back to the queue if that receiver dies before taking it (where the
 * kernel loses it with the receiver), so another receiver may then get it
 * after later messages of its stream. This is accepted only when a
 * receiver of that queue was killed after the message was built, or had
 * been killed before but was not yet reaped (a dying process still looks
 * alive to the library).
 *
 * At the end: senders are interrupted (EINTR), semaphore and shm workers
 * stop, receivers block on one type; once nothing moves, no blocked
 * process may be able to proceed (values, queue contents by MSG_COPY),
 * GETNCNT+GETZCNT count the blocked; the shm workers park attached:
 * shm_nattch is exact, also right after half of them are SIGKILLed. Then
 * everyone is interrupted and must exit within a bound; the queues are
 * drained (IPC_STAT's msg_qnum/msg_cbytes must match the contents, order
 * per stream), and: every message sent with success received exactly once
 * and intact, except a killed receiver's one message, proven by its buffer;
 * every pool = initial + committed transfers, pockets and gate 0 (undo
 * applied), witnesses = calls done, GETNCNT/GETZCNT 0; every counter =
 * completed increments (+ settled maybes), mutexes 1, nattch 0; removed
 * segments' files gone; svipcadm check exits 0.
 *
 * Default: a CI-sized run (TORTURE_SECONDS, default 25 s of torture);
 * --long SECONDS for a long one. TORTURE_SEED replays the random choices
 * (not the timing).
 */

#include "svipc.h"
#include "t.h"
#include "mp_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "inspect.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#ifndef SVIPCADM
#define SVIPCADM "svipcadm"
#endif

/* ---- geometry ---------------------------------------------------------------------- */

enum { R_SND, R_RCV, R_SEMX, R_SEMU, R_SHM, R_CHURN, R_N };
static const char *const role_name[R_N] = { "snd", "rcv", "semx", "semu", "shm", "churn" };
static const int role_count[R_N] = { 5, 6, 4, 4, 4, 2 };
#define NSLOT 25
#define NSND 5
#define NQ 2
#define NTYPES 4
#define NSTREAM_Q (NSND * NTYPES)
#define NSTREAM (NQ * NSTREAM_Q)

#define NPOOL 6
#define POOL_INIT 12
#define GATE NPOOL
#define POCKET(w) (NPOOL + 1 + (w))
#define WIT(w) (NPOOL + 1 + 4 + (w))
#define NSEMS (NPOOL + 1 + 4 + 4)
#define WMOD 30000

#define NSEG 3
#define SEGSZ 65536

#define MAXDATA 2000
struct mhdr {
	uint32_t magic, seq, len, epoch;
	uint16_t snd;
	uint8_t q, t;
	uint32_t pad;
	int64_t t_fill; /* CLOCK_MONOTONIC ns when the sender built it */
};
#define MAGIC 0x7a11c0deu
#define MAXP (sizeof(struct mhdr) + MAXDATA)
struct mbuf {
	long mtype;
	struct mhdr h;
	unsigned char data[MAXDATA];
};

/* Slot states. */
enum { S_IDLE, S_CALL, S_BOOK, S_HOLD, S_ATTACHING, S_ATTACHED, S_INC, S_DETACHING, S_PARKED, S_GONE };

struct slot {
	int role, idx;
	pid_t pid;
	int incarnation;
	int state;
	int blocking; /* the call in progress may wait forever */
	int64_t ops;  /* completed operations */
	/* sender */
	uint32_t next[NQ][NTYPES + 1];
	int p_q, p_t;
	uint32_t p_seq;
	/* receiver */
	int q;
	long sel_typ;
	int sel_flg;
	int64_t last[NSTREAM_Q];
	struct mbuf buf;
	/* semx */
	uint64_t word; /* completed calls << 1 | which cum is current */
	int64_t cum[2][NPOOL];
	int pn;
	struct sembuf pops[8];
	/* semu */
	int held;
	/* shm */
	int g;
	uint32_t inc_v;
	/* churn */
	int churn_id, churn_kind;
	uint32_t kill_epoch; /* receiver: the epoch its kill made */
};

#define KRING 65536
struct world {
	int phase; /* PH_* */
	int stop_killer;
	int ktarget;
	int shm_release;
	int qid[NQ], semid, mutexid, shmid[NSEG];
	uint32_t epoch[NQ]; /* receivers killed on the queue so far (bumped before the kill) */
	int64_t reap_ns[NQ][KRING]; /* when the receiver of each kill was reaped (INT64_MAX: not yet) */
	int freezing, spawning;
	int64_t progress;
	uint64_t seed;
	int64_t cap;  /* bits per stream / per counter */
	struct slot s[NSLOT];
	/* stats */
	int64_t sent, recv, snd_fail, rcv_fail, sem_ok, sem_fail, semu_ok, incs, shm_attach, churn_ops;
	int64_t eintr;
	int64_t late_after_kill; /* per-receiver inversions explained by a killed receiver's reservation */
	int64_t late_dying; /* the same, sent after the kill while that receiver was still dying */
	int64_t kills[R_N], kills_incall, kills_app_lock, kills_obj_lock, stops, conts;
	int64_t freezes, freeze_checks, freeze_skipped;
	/* failures seen by workers */
	int64_t corrupt, dup, order, wrong_select, excl, bad_errno, churn_bad, freeze_bad;
};

enum { PH_RUN, PH_STOP, PH_END };

static struct world *W;
static uint64_t *msgbits; /* NSTREAM * cap bits */
static uint64_t *shmbits; /* NSEG * cap bits */
static pid_t killer_pid;
static volatile sig_atomic_t got_usr1;
static int long_mode;

/* What a segment holds. */
struct segdata {
	uint64_t counter;
};

static key_t key_base;
#define KEY_Q(q) (key_base + 1 + (q))
#define KEY_SEM (key_base + 10)
#define KEY_MUTEX (key_base + 11)
#define KEY_SEG(g) (key_base + 20 + (g))
#define KEY_CHURN(w, kind) (key_base + 100 + (w) * 4 + (kind))

static inline uint64_t rnd(void)
{
	return t_rand();
}

static inline int rn(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

#define WFAIL(ctr, ...)                                                        \
	do {                                                                   \
		AADD(&W->ctr, 1);                                              \
		fprintf(stderr, "[%s %d pid %d] ", role_name[me->role], me->idx, getpid()); \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
	} while (0)

static struct slot *me;

/* ---- messages ---------------------------------------------------------------------- */

static inline int stream_of(int q, int snd, int t)
{
	return q * NSTREAM_Q + snd * NTYPES + (t - 1);
}

static inline uint8_t data_byte(const struct mhdr *h, uint32_t i)
{
	uint64_t k = ((uint64_t)h->q << 60) ^ ((uint64_t)h->snd << 48) ^ ((uint64_t)h->t << 40) ^ h->seq;
	return (uint8_t)(t_mix64(k * 977 + i / 8) >> ((i % 8) * 8));
}

static void fill_msg(struct mbuf *b, int q, int snd, int t, uint32_t seq, uint32_t len)
{
	b->mtype = t;
	b->h = (struct mhdr){ .magic = MAGIC, .seq = seq, .len = len, .epoch = ALOAD(&W->epoch[q]),
			      .snd = (uint16_t)snd, .q = (uint8_t)q, .t = (uint8_t)t, .t_fill = now_ns() };
	for (uint32_t i = 0; i < len; i++)
		b->data[i] = data_byte(&b->h, i);
}

/* 1 if b (n bytes received from queue q) is a whole, intact message. */
static int msg_ok(const struct mbuf *b, ssize_t n, int q)
{
	const struct mhdr *h = &b->h;
	if (n < (ssize_t)sizeof *h || h->magic != MAGIC || h->len > MAXDATA ||
	    n != (ssize_t)(sizeof *h + h->len) || h->q != q || h->snd >= NSND || h->t < 1 ||
	    h->t > NTYPES || b->mtype != h->t)
		return 0;
	for (uint32_t i = 0; i < h->len; i++)
		if (b->data[i] != data_byte(h, i))
			return 0;
	return 1;
}

static inline uint64_t *mbit_word(int stream, uint32_t seq, uint64_t *mask)
{
	uint64_t bit = (uint64_t)stream * (uint64_t)W->cap + seq;
	*mask = 1ull << (bit % 64);
	return &msgbits[bit / 64];
}

/* Marks a message received; returns 1 if it already was. */
static int mark_received(int stream, uint32_t seq)
{
	uint64_t mask, *w = mbit_word(stream, seq, &mask);
	return (__atomic_fetch_or(w, mask, __ATOMIC_SEQ_CST) & mask) != 0;
}

static int is_received(int stream, uint32_t seq)
{
	uint64_t mask, *w = mbit_word(stream, seq, &mask);
	return (ALOAD(w) & mask) != 0;
}

static uint32_t rand_len(void)
{
	int r = rn(100);
	if (r < 70)
		return (uint32_t)rn(101);
	if (r < 95)
		return 100 + (uint32_t)rn(501);
	return 600 + (uint32_t)rn(MAXDATA - 600 + 1);
}

static void sender(void)
{
	static struct mbuf b;
	while (ALOAD(&W->phase) == PH_RUN && !got_usr1) {
		int q = rn(NQ), t = 1 + rn(NTYPES);
		uint32_t seq = me->next[q][t];
		if (seq >= (uint64_t)W->cap) {
			sleep_ms(1);
			continue;
		}
		uint32_t len = rand_len();
		fill_msg(&b, q, me->idx, t, seq, len);
		int mode = rn(100), flg = mode >= 70 && mode < 85 ? IPC_NOWAIT : 0;
		me->p_q = q;
		me->p_t = t;
		me->p_seq = seq;
		me->blocking = mode < 70;
		ASTORE(&me->state, S_CALL);
		int r;
		if (mode >= 85) {
			struct timespec ts = { 0, (1 + rn(20)) * 1000000L };
			r = svipc_msgsnd_timed(W->qid[q], &b, sizeof b.h + len, 0, &ts);
		} else {
			r = svipc_msgsnd(W->qid[q], &b, sizeof b.h + len, flg);
		}
		int e = errno;
		if (r == 0) {
			me->next[q][t] = seq + 1;
			me->ops++;
			AADD(&W->sent, 1);
			AADD(&W->progress, 1);
		} else {
			AADD(&W->snd_fail, 1);
			if (e == EINTR)
				AADD(&W->eintr, 1);
			if (!(e == EINTR || (e == EAGAIN && mode >= 70)))
				WFAIL(bad_errno, "msgsnd: %s (mode %d)", strerror(e), mode);
		}
		ASTORE(&me->state, S_IDLE);
	}
	exit(0);
}

/* 1 if a receive with (typ, flg) selects a message of type t. */
static int selects(long typ, int flg, long t)
{
	if (typ == 0)
		return 1;
	if (typ < 0)
		return t <= -typ;
	if (flg & MSG_EXCEPT)
		return t != typ;
	return t == typ;
}

/* A received message: intact, selected, not seen before, in order for this receiver. */
static void book_received(struct mbuf *b, ssize_t n, long typ, int flg)
{
	if (!msg_ok(b, n, me->q)) {
		WFAIL(corrupt, "queue %d: corrupt message: %zd bytes, mtype %ld, seq %u len %u", me->q, n,
		      b->mtype, b->h.seq, b->h.len);
		return;
	}
	if (!selects(typ, flg, b->mtype))
		WFAIL(wrong_select, "msgrcv type %ld flg %#x got type %ld", typ, flg, b->mtype);
	int st = stream_of(me->q, b->h.snd, b->h.t), ls = st - me->q * NSTREAM_Q;
	if (b->h.seq >= (uint64_t)W->cap || mark_received(st, b->h.seq))
		WFAIL(dup, "queue %d: message snd %u type %u seq %u received twice", me->q, b->h.snd,
		      b->h.t, b->h.seq);
	if ((int64_t)b->h.seq < me->last[ls]) {
		/*
		 * Handed to a receiver that was then killed, and back in the queue
		 * (svipc gives it back where the kernel would lose it with the
		 * receiver). The hand-off may also come after the kill: until the
		 * killed receiver has finished dying it looks alive, so a message
		 * sent then may be handed to it too.
		 */
		int dying = 0;
		for (uint32_t e = b->h.epoch; e > 0 && e + 32 > b->h.epoch; e--)
			dying |= ALOAD(&W->reap_ns[me->q][e % KRING]) > b->h.t_fill;
		if (ALOAD(&W->epoch[me->q]) != b->h.epoch)
			AADD(&W->late_after_kill, 1);
		else if (dying)
			AADD(&W->late_dying, 1);
		else
			WFAIL(order, "queue %d snd %u type %u: seq %u after %lld (msgtyp %ld flg %#x; "
			      "sent %.3f ms ago, epoch %u, last killed receiver reaped %.3f ms before "
			      "the send)", me->q, b->h.snd, b->h.t, b->h.seq, (long long)me->last[ls],
			      typ, flg, (now_ns() - b->h.t_fill) / 1e6, b->h.epoch,
			      (b->h.t_fill - ALOAD(&W->reap_ns[me->q][b->h.epoch % KRING])) / 1e6);
	} else {
		me->last[ls] = b->h.seq;
	}
	AADD(&W->recv, 1);
	AADD(&W->progress, 1);
	me->ops++;
}

static void receiver(void)
{
	int id = W->qid[me->q];
	while (!got_usr1) {
		int run = ALOAD(&W->phase) == PH_RUN;
		long t = 1 + rn(NTYPES), typ;
		int flg = 0, r = rn(100);
		if (!run)
			typ = t; /* the end: block on one type */
		else if (r < 40 || me->idx < NQ) /* one receiver per queue takes anything: no deadlock */
			typ = 0;
		else if (r < 65)
			typ = t;
		else if (r < 85)
			typ = -t;
		else
			typ = t, flg = MSG_EXCEPT;
		int mode = run ? rn(100) : 0;
		if (mode >= 70 && mode < 85)
			flg |= IPC_NOWAIT;
		me->sel_typ = typ;
		me->sel_flg = flg;
		me->blocking = mode < 70;
		me->buf.mtype = 0;
		memset(&me->buf.h, 0, sizeof me->buf.h);
		ASTORE(&me->state, S_CALL);
		ssize_t n;
		if (mode >= 85) {
			struct timespec ts = { 0, (1 + rn(20)) * 1000000L };
			n = svipc_msgrcv_timed(id, &me->buf, MAXP, typ, flg, &ts);
		} else {
			n = svipc_msgrcv(id, &me->buf, MAXP, typ, flg);
		}
		int e = errno;
		if (n >= 0) {
			ASTORE(&me->state, S_BOOK); /* returned: the message is in the buffer */
			book_received(&me->buf, n, typ, flg);
		} else {
			AADD(&W->rcv_fail, 1);
			if (e == EINTR)
				AADD(&W->eintr, 1);
			if (!(e == EINTR || ((e == ENOMSG || e == EAGAIN) && mode >= 70)))
				WFAIL(bad_errno, "msgrcv: %s (mode %d)", strerror(e), mode);
		}
		ASTORE(&me->state, S_IDLE);
	}
	exit(0);
}

/* ---- semaphores -------------------------------------------------------------------- */

static void semx_commit(struct slot *sl)
{
	uint64_t word = ALOAD(&sl->word);
	int sel = (int)(word & 1);
	int64_t d[NPOOL] = { 0 };
	for (int k = 0; k < sl->pn; k++)
		if (sl->pops[k].sem_num < NPOOL)
			d[sl->pops[k].sem_num] += sl->pops[k].sem_op;
	for (int i = 0; i < NPOOL; i++)
		sl->cum[!sel][i] = sl->cum[sel][i] + d[i];
	ASTORE(&sl->word, (((word >> 1) + 1) << 1) | (uint64_t)!sel);
}

static void semx(void)
{
	while (ALOAD(&W->phase) == PH_RUN && !got_usr1) {
		struct sembuf ops[8];
		int n = 0, i = rn(NPOOL), j = (i + 1 + rn(NPOOL - 1)) % NPOOL;
		short a = (short)(1 + rn(4));
		ops[n++] = (struct sembuf){ (unsigned short)i, (short)-a, 0 };
		ops[n++] = (struct sembuf){ (unsigned short)j, a, 0 };
		if (rn(100) < 30) {
			int k = rn(NPOOL), l = (k + 1 + rn(NPOOL - 1)) % NPOOL;
			short b = (short)(1 + rn(3));
			ops[n++] = (struct sembuf){ (unsigned short)k, (short)-b, 0 };
			ops[n++] = (struct sembuf){ (unsigned short)l, b, 0 };
		}
		if (rn(100) < 15)
			ops[n++] = (struct sembuf){ GATE, 0, 0 };
		uint64_t count = ALOAD(&me->word) >> 1;
		ops[n++] = (struct sembuf){ (unsigned short)WIT(me->idx),
					    (short)(count % WMOD == WMOD - 1 ? -(WMOD - 1) : 1), 0 };
		for (int k = n - 1; k > 0; k--) {
			int x = rn(k + 1);
			struct sembuf tmp = ops[k];
			ops[k] = ops[x];
			ops[x] = tmp;
		}
		/* Two of them never wait long, so no pool stays empty while everyone waits on it. */
		int mode = me->idx < 2 ? 60 + rn(40) : rn(100);
		if (mode >= 60 && mode < 80)
			for (int k = 0; k < n; k++)
				ops[k].sem_flg = IPC_NOWAIT;
		memcpy(me->pops, ops, sizeof ops);
		me->pn = n;
		me->blocking = mode < 60;
		ASTORE(&me->state, S_CALL);
		int r;
		if (mode >= 80) {
			struct timespec ts = { 0, (2 + rn(18)) * 1000000L };
			r = svipc_semtimedop(W->semid, ops, (size_t)n, &ts);
		} else {
			r = svipc_semop(W->semid, ops, (size_t)n);
		}
		int e = errno;
		if (r == 0) {
			semx_commit(me);
			me->ops++;
			AADD(&W->sem_ok, 1);
			AADD(&W->progress, 1);
		} else {
			AADD(&W->sem_fail, 1);
			if (e == EINTR)
				AADD(&W->eintr, 1);
			if (!(e == EINTR || (e == EAGAIN && mode >= 60)))
				WFAIL(bad_errno, "semop: %s (mode %d)", strerror(e), mode);
		}
		ASTORE(&me->state, S_IDLE);
	}
	exit(0);
}

static void semu(void)
{
	while (ALOAD(&W->phase) == PH_RUN && !got_usr1) {
		struct sembuf take[5], give[5];
		int n = 0, pools = 1 + (rn(100) < 20), gate = rn(100) < 20;
		short total = 0;
		for (int p = 0; p < pools; p++) {
			int i = rn(NPOOL);
			short a = (short)(1 + rn(3));
			take[n] = (struct sembuf){ (unsigned short)i, (short)-a, SEM_UNDO };
			give[n++] = (struct sembuf){ (unsigned short)i, a, SEM_UNDO };
			total = (short)(total + a);
		}
		take[n] = (struct sembuf){ (unsigned short)POCKET(me->idx), total, SEM_UNDO };
		give[n++] = (struct sembuf){ (unsigned short)POCKET(me->idx), (short)-total, SEM_UNDO };
		if (gate) {
			take[n] = (struct sembuf){ GATE, 1, SEM_UNDO };
			give[n++] = (struct sembuf){ GATE, -1, SEM_UNDO };
		}
		int mode = rn(100);
		if (mode >= 60 && mode < 80)
			for (int k = 0; k < n; k++)
				take[k].sem_flg |= IPC_NOWAIT;
		memcpy(me->pops, take, sizeof take);
		me->pn = n;
		me->blocking = mode < 60;
		ASTORE(&me->state, S_CALL);
		int r;
		if (mode >= 80) {
			struct timespec ts = { 0, (2 + rn(18)) * 1000000L };
			r = svipc_semtimedop(W->semid, take, (size_t)n, &ts);
		} else {
			r = svipc_semop(W->semid, take, (size_t)n);
		}
		int e = errno;
		if (r != 0) {
			AADD(&W->sem_fail, 1);
			if (e == EINTR)
				AADD(&W->eintr, 1);
			if (!(e == EINTR || (e == EAGAIN && mode >= 60)))
				WFAIL(bad_errno, "semop take: %s (mode %d)", strerror(e), mode);
			ASTORE(&me->state, S_IDLE);
			continue;
		}
		me->held = total;
		ASTORE(&me->state, S_HOLD);
		AADD(&W->semu_ok, 1);
		AADD(&W->progress, 1);
		if (rn(3))
			sleep_us(rn(2000));
		if (ALOAD(&W->phase) != PH_RUN) {
			int how = rn(3);
			if (how == 1)
				exit(0); /* the library's destructor gives the units back */
			if (how == 2)
				_exit(0); /* nobody is told: the next user applies the adjustments */
		}
		me->blocking = 0;
		ASTORE(&me->state, S_CALL);
		while ((r = svipc_semop(W->semid, give, (size_t)n)) == -1 && errno == EINTR)
			;
		if (r != 0)
			WFAIL(bad_errno, "semop give back: %s", strerror(errno));
		me->held = 0;
		me->ops += 2;
		ASTORE(&me->state, S_IDLE);
	}
	exit(0);
}

/* ---- shared memory ----------------------------------------------------------------- */

static inline uint64_t *sbit_word(int g, uint64_t v, uint64_t *mask)
{
	uint64_t bit = (uint64_t)g * (uint64_t)W->cap + v;
	*mask = 1ull << (bit % 64);
	return &shmbits[bit / 64];
}

static void mutex_op(int g, int op)
{
	struct sembuf b = { (unsigned short)g, (short)op, SEM_UNDO };
	while (svipc_semop(W->mutexid, &b, 1) == -1) {
		if (errno != EINTR) {
			WFAIL(bad_errno, "mutex semop %d: %s", op, strerror(errno));
			return;
		}
	}
}

static void shm_worker(void)
{
	for (;;) {
		int park = ALOAD(&W->phase) != PH_RUN;
		int g = rn(NSEG);
		me->g = g;
		ASTORE(&me->state, S_ATTACHING);
		int id = svipc_shmget(KEY_SEG(g), SEGSZ, 0600);
		struct segdata *d = id == -1 ? (void *)-1 : svipc_shmat(id, NULL, 0);
		if (d == (void *)-1) {
			WFAIL(bad_errno, "shmget/shmat segment %d: %s", g, strerror(errno));
			ASTORE(&me->state, S_IDLE);
			sleep_ms(10);
			continue;
		}
		ASTORE(&me->state, S_ATTACHED);
		AADD(&W->shm_attach, 1);
		if (park) {
			ASTORE(&me->state, S_PARKED);
			while (!ALOAD(&W->shm_release))
				sleep_ms(1);
			ASTORE(&me->state, S_DETACHING);
			if (svipc_shmdt(d) != 0)
				WFAIL(bad_errno, "shmdt: %s", strerror(errno));
			ASTORE(&me->state, S_IDLE);
			exit(0);
		}
		for (int k = 1 + rn(3); k > 0; k--) {
			me->blocking = 1;
			ASTORE(&me->state, S_CALL); /* attached, in the mutex's semop */
			mutex_op(g, -1);
			uint64_t v = ALOAD(&d->counter);
			me->inc_v = (uint32_t)v;
			ASTORE(&me->state, S_INC);
			ASTORE(&d->counter, v + 1);
			if (v < (uint64_t)W->cap) {
				uint64_t mask, *w = sbit_word(g, v, &mask);
				if (__atomic_fetch_or(w, mask, __ATOMIC_SEQ_CST) & mask)
					WFAIL(excl, "segment %d: counter value %llu seen twice (mutex broken)",
					      g, (unsigned long long)v);
			}
			me->ops++;
			AADD(&W->incs, 1);
			AADD(&W->progress, 1);
			if (rn(4) == 0)
				sleep_us(rn(300));
			me->blocking = 0;
			ASTORE(&me->state, S_CALL);
			mutex_op(g, +1);
			ASTORE(&me->state, S_ATTACHED);
		}
		ASTORE(&me->state, S_DETACHING);
		if (svipc_shmdt(d) != 0)
			WFAIL(bad_errno, "shmdt: %s", strerror(errno));
		ASTORE(&me->state, S_IDLE);
	}
}

/* ---- churn ------------------------------------------------------------------------- */

static int file_exists(const char *prefix, int id)
{
	char p[160];
	snprintf(p, sizeof p, "%s/%s.%d", t_dir, prefix, id);
	return access(p, F_OK) == 0;
}

static void churn_shm(void)
{
	key_t key = KEY_CHURN(me->idx, 0);
	int id = svipc_shmget(key, 16384, IPC_CREAT | 0600);
	if (id == -1) {
		WFAIL(churn_bad, "churn shmget: %s", strerror(errno));
		return;
	}
	me->churn_kind = 0;
	ASTORE(&me->churn_id, id);
	char *a = svipc_shmat(id, NULL, 0), *b = svipc_shmat(id, NULL, SHM_RDONLY);
	if (a == (void *)-1 || b == (void *)-1) {
		WFAIL(churn_bad, "churn shmat: %s", strerror(errno));
		return;
	}
	a[100] = (char)me->idx;
	if (svipc_shmctl(id, IPC_RMID, NULL) != 0)
		WFAIL(churn_bad, "churn IPC_RMID: %s", strerror(errno));
	struct shmid_ds ds;
	if (svipc_shmctl(id, IPC_STAT, &ds) != 0 || ds.shm_nattch != 2 || !(ds.shm_perm.mode & SHM_DEST))
		WFAIL(churn_bad, "churn: removed segment %d attached twice: nattch %lu mode %#o (%s)", id,
		      (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.mode, strerror(errno));
	if (b[100] != (char)me->idx)
		WFAIL(churn_bad, "churn: the two attachments differ");
	if (!file_exists("shm", id))
		WFAIL(churn_bad, "churn: removed but attached segment %d has no file", id);
	sleep_us(rn(2000));
	svipc_shmdt(b);
	if (svipc_shmctl(id, IPC_STAT, &ds) != 0 || ds.shm_nattch != 1)
		WFAIL(churn_bad, "churn: after one shmdt nattch %lu (%s)", (unsigned long)ds.shm_nattch,
		      strerror(errno));
	svipc_shmdt(a);
	if (svipc_shmctl(id, IPC_STAT, &ds) != -1 || errno != EINVAL)
		WFAIL(churn_bad, "churn: segment %d still there after the last detach", id);
	if (file_exists("shm", id))
		WFAIL(churn_bad, "churn: segment %d's file still there after the last detach", id);
	ASTORE(&me->churn_id, -1);
}

static void churn_msg(void)
{
	key_t key = KEY_CHURN(me->idx, 1);
	int id = svipc_msgget(key, IPC_CREAT | 0600);
	if (id == -1) {
		WFAIL(churn_bad, "churn msgget: %s", strerror(errno));
		return;
	}
	me->churn_kind = 1;
	ASTORE(&me->churn_id, id);
	struct { long t; char x[64]; } m = { 1, "churn" };
	struct msqid_ds ds;
	if (svipc_msgctl(id, IPC_STAT, &ds) != 0) {
		WFAIL(churn_bad, "churn IPC_STAT: %s", strerror(errno));
		return;
	}
	int before = (int)ds.msg_qnum; /* a killed predecessor may have left some */
	for (int i = 0; i < 3; i++)
		if (svipc_msgsnd(id, &m, sizeof m.x, IPC_NOWAIT) != 0)
			WFAIL(churn_bad, "churn msgsnd: %s", strerror(errno));
	if (svipc_msgrcv(id, &m, sizeof m.x, 0, IPC_NOWAIT) != (ssize_t)sizeof m.x)
		WFAIL(churn_bad, "churn msgrcv: %s", strerror(errno));
	if (svipc_msgctl(id, IPC_STAT, &ds) != 0 || (int)ds.msg_qnum != before + 2)
		WFAIL(churn_bad, "churn: qnum %lu, want %d", (unsigned long)ds.msg_qnum, before + 2);
	if (svipc_msgctl(id, IPC_RMID, NULL) != 0)
		WFAIL(churn_bad, "churn msg IPC_RMID: %s", strerror(errno));
	if (svipc_msgsnd(id, &m, sizeof m.x, IPC_NOWAIT) != -1 ||
	    (errno != EINVAL && errno != EIDRM))
		WFAIL(churn_bad, "churn: send to a removed queue: %s", strerror(errno));
	if (file_exists("msg", id))
		WFAIL(churn_bad, "churn: removed queue %d's file still there", id);
	ASTORE(&me->churn_id, -1);
}

static void churn_sem(void)
{
	key_t key = KEY_CHURN(me->idx, 2);
	int id = svipc_semget(key, 3, IPC_CREAT | 0600);
	if (id == -1) {
		WFAIL(churn_bad, "churn semget: %s", strerror(errno));
		return;
	}
	me->churn_kind = 2;
	ASTORE(&me->churn_id, id);
	unsigned short v[3] = { 1, 2, 3 };
	if (svipc_semctl(id, 0, SETALL, v) != 0)
		WFAIL(churn_bad, "churn SETALL: %s", strerror(errno));
	struct sembuf ops[2] = { { 0, -1, SEM_UNDO }, { 2, 1, 0 } };
	if (svipc_semop(id, ops, 2) != 0)
		WFAIL(churn_bad, "churn semop: %s", strerror(errno));
	if (svipc_semctl(id, 2, GETVAL) != 4 || svipc_semctl(id, 0, GETVAL) != 0)
		WFAIL(churn_bad, "churn: values wrong after semop");
	if (svipc_semctl(id, 0, IPC_RMID) != 0)
		WFAIL(churn_bad, "churn sem IPC_RMID: %s", strerror(errno));
	if (svipc_semop(id, ops, 1) != -1 || (errno != EINVAL && errno != EIDRM))
		WFAIL(churn_bad, "churn: semop on a removed set: %s", strerror(errno));
	ASTORE(&me->churn_id, -1);
}

static void churn(void)
{
	while (ALOAD(&W->phase) == PH_RUN && !got_usr1) {
		ASTORE(&me->state, S_CALL);
		me->blocking = 0;
		int k = rn(3);
		if (k == 0)
			churn_shm();
		else if (k == 1)
			churn_msg();
		else
			churn_sem();
		me->ops++;
		AADD(&W->churn_ops, 1);
		AADD(&W->progress, 1);
		ASTORE(&me->state, S_IDLE);
		sleep_us(rn(1000));
	}
	exit(0);
}

/* ---- workers: spawning and settling the killed ------------------------------------- */

static void worker_main(int s)
{
	me = &W->s[s];
	signal(SIGALRM, SIG_DFL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART: a blocked call fails with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t set; /* blocked by the supervisor until the handler is there */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	for (int i = 0; i < MP_MAX_KIDS; i++)
		mp_kids[i] = 0;
	t_rng = W->seed ^ ((uint64_t)s << 40) ^ ((uint64_t)me->incarnation << 20) ^ (uint64_t)getpid();
	switch (me->role) {
	case R_SND: sender(); break;
	case R_RCV: receiver(); break;
	case R_SEMX: semx(); break;
	case R_SEMU: semu(); break;
	case R_SHM: shm_worker(); break;
	case R_CHURN: churn(); break;
	}
	exit(0);
}

static unsigned child_alarm;

static void spawn_slot(int s)
{
	struct slot *sl = &W->s[s];
	for (;;) { /* not while the killer freezes everyone (Dekker with freeze_check) */
		ASTORE(&W->spawning, 1);
		if (!ALOAD(&W->freezing))
			break;
		ASTORE(&W->spawning, 0);
		while (ALOAD(&W->freezing))
			sleep_us(200);
	}
	sl->incarnation++;
	sl->state = S_IDLE;
	fflush(NULL);
	pid_t p = fork();
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		ASTORE(&W->spawning, 0);
		return;
	}
	if (p == 0) {
		alarm(child_alarm);
		worker_main(s);
	}
	ASTORE(&sl->pid, p);
	ASTORE(&W->spawning, 0);
}

/* Settling what killed workers left: lists kept by the supervisor only. */
struct maybe_msg { int stream; uint32_t seq; int returned; };
struct maybe_inc { int g; uint32_t v; };
static struct maybe_msg *maybe_sent, *cand_recv;
static int n_maybe_sent, n_cand_recv;
static struct maybe_inc *maybe_incs;
static int n_maybe_incs;
static int *churn_left; /* {kind, id} pairs */
static int n_churn_left;
static int64_t semx_maybe_done, semx_maybe_not, incs_maybe, rcv_cand, reaped_killed;

static void *grow(void *p, int n, int *cap, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 1024;
	p = realloc(p, (size_t)*cap * sz);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

static int cap_ms, cap_cr, cap_mi, cap_cl;

static void settle_killed(int s)
{
	struct slot *sl = &W->s[s];
	int st = ALOAD(&sl->state);
	switch (sl->role) {
	case R_SND:
		if (st == S_CALL) {
			maybe_sent = grow(maybe_sent, n_maybe_sent, &cap_ms, sizeof *maybe_sent);
			maybe_sent[n_maybe_sent++] =
				(struct maybe_msg){ stream_of(sl->p_q, sl->idx, sl->p_t), sl->p_seq, 0 };
			if (sl->next[sl->p_q][sl->p_t] <= sl->p_seq)
				sl->next[sl->p_q][sl->p_t] = sl->p_seq + 1;
		}
		break;
	case R_RCV:
		if (st == S_CALL || st == S_BOOK) {
			struct mbuf *b = &sl->buf;
			if (msg_ok(b, (ssize_t)(sizeof b->h + (b->h.len <= MAXDATA ? b->h.len : 0)), sl->q)) {
				cand_recv = grow(cand_recv, n_cand_recv, &cap_cr, sizeof *cand_recv);
				cand_recv[n_cand_recv++] = (struct maybe_msg){
					stream_of(sl->q, b->h.snd, b->h.t), b->h.seq, st == S_BOOK };
				rcv_cand++;
			}
		}
		break;
	case R_SEMX: {
		uint64_t count = ALOAD(&sl->word) >> 1;
		int wit = svipc_semctl(W->semid, WIT(sl->idx), GETVAL);
		if (wit == -1) {
			T_FAIL("GETVAL witness: %s", strerror(errno));
			break;
		}
		if (st == S_CALL && (uint64_t)wit == (count + 1) % WMOD) {
			semx_commit(sl); /* the call it was killed in was done: book it for it */
			semx_maybe_done++;
		} else if ((uint64_t)wit == count % WMOD) {
			if (st == S_CALL)
				semx_maybe_not++;
		} else {
			T_FAIL("semx %d killed: witness %d, calls booked %llu (state %d)", sl->idx, wit,
			       (unsigned long long)count, st);
		}
		break;
	}
	case R_SHM:
		if (st == S_INC) {
			maybe_incs = grow(maybe_incs, n_maybe_incs, &cap_mi, sizeof *maybe_incs);
			maybe_incs[n_maybe_incs++] = (struct maybe_inc){ sl->g, sl->inc_v };
		}
		break;
	case R_CHURN:
		if (sl->churn_id != -1) {
			churn_left = grow(churn_left, n_churn_left + 1, &cap_cl, sizeof *churn_left);
			churn_left[n_churn_left++] = sl->churn_kind;
			churn_left[n_churn_left++] = sl->churn_id;
		}
		sl->churn_id = -1;
		break;
	}
	sl->state = S_IDLE;
}

static int slot_of_pid(pid_t p)
{
	for (int s = 0; s < NSLOT; s++)
		if (ALOAD(&W->s[s].pid) == p)
			return s;
	return -1;
}

/*
 * Reaps one dead child if there is one (waiting up to ms): settles it and,
 * while respawn is set, replaces it. Returns its slot, -2 for the killer, -1
 * if none died.
 */
static int reap_one(long ms, int respawn, int expect_kill)
{
	int64_t end = now_ms() + ms;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
			pid_t p = si.si_pid;
			if (p == killer_pid) {
				int st = mp_wait(p, "killer");
				forget_kid(p);
				killer_pid = 0;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					T_FAIL("the killer process ended with status %#x", st);
				return -2;
			}
			int s = slot_of_pid(p);
			if (s >= 0) {
				ASTORE(&W->s[s].pid, 0);
				while (ALOAD(&W->ktarget) == s) /* the killer may be signalling it */
					;
			}
			int st = mp_wait(p, "worker");
			forget_kid(p);
			if (s < 0) {
				T_FAIL("unknown child %d ended", (int)p);
				return -1;
			}
			struct slot *sl = &W->s[s];
			int killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
			if (sl->role == R_RCV && sl->kill_epoch)
				ASTORE(&W->reap_ns[sl->q][sl->kill_epoch % KRING], now_ns());
			sl->kill_epoch = 0;
			if (expect_kill && !killed)
				T_FAIL("%s %d (pid %d) ended by itself: status %#x%s", role_name[sl->role],
				       sl->idx, (int)p, st,
				       WIFSIGNALED(st) ? " (a signal: crashed or timed out)" : "");
			if (!expect_kill && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
				T_FAIL("%s %d (pid %d) ended with status %#x", role_name[sl->role], sl->idx,
				       (int)p, st);
			reaped_killed += killed;
			if (killed || !WIFEXITED(st))
				settle_killed(s);
			else
				sl->state = S_GONE;
			if (respawn) {
				spawn_slot(s);
				remember_kid(W->s[s].pid);
			}
			return s;
		}
		if (now_ms() >= end)
			return -1;
		sleep_us(300);
	}
}

/* ---- the killer -------------------------------------------------------------------- */

/* Sends sig to slot s's current process (never to a pid the supervisor reaped). */
static pid_t signal_slot(int s, int sig)
{
	ASTORE(&W->ktarget, s);
	pid_t p = ALOAD(&W->s[s].pid);
	if (p > 0)
		kill(p, sig);
	ASTORE(&W->ktarget, -1);
	return p;
}

/* 1 if pid holds the lock of one of the long-lived objects (lock-free look). */
static int holds_obj_lock(pid_t pid)
{
	struct svipc_obj_info info;
	for (int q = 0; q < NQ; q++)
		if (svipc__inspect(SVIPC_MSG, W->qid[q], &info, NULL, NULL) == 0 && info.lock_pid == pid)
			return 1;
	if (svipc__inspect(SVIPC_SEM, W->semid, &info, NULL, NULL) == 0 && info.lock_pid == pid)
		return 1;
	if (svipc__inspect(SVIPC_SEM, W->mutexid, &info, NULL, NULL) == 0 && info.lock_pid == pid)
		return 1;
	for (int g = 0; g < NSEG; g++)
		if (svipc__inspect(SVIPC_SHM, W->shmid[g], &info, NULL, NULL) == 0 && info.lock_pid == pid)
			return 1;
	return 0;
}

/*
 * Every worker stopped; the segments' shm_nattch (read without their lock)
 * must lie between the attachments the slots record as certain and those
 * plus the ones in shmat/shmdt.
 */
static void freeze_check(void)
{
	pid_t pids[NSLOT];
	AADD(&W->freezes, 1);
	ASTORE(&W->freezing, 1);
	while (ALOAD(&W->spawning))
		sleep_us(50);
	for (int s = 0; s < NSLOT; s++)
		pids[s] = signal_slot(s, SIGSTOP);
	int64_t end = now_ms() + 2000;
	int all = 1;
	for (int s = 0; s < NSLOT; s++) {
		if (pids[s] <= 0)
			continue;
		while (1) {
			char c = proc_state(pids[s]);
			if (c == 'T' || c == 't' || c == 'Z' || c == 0)
				break;
			if (now_ms() >= end) {
				all = 0;
				break;
			}
			sleep_us(200);
		}
	}
	if (all) {
		int sure[NSEG] = { 0 }, maybe[NSEG] = { 0 };
		for (int s = 0; s < NSLOT; s++) {
			struct slot *sl = &W->s[s];
			if (sl->role != R_SHM || pids[s] <= 0 || ALOAD(&sl->pid) != pids[s])
				continue;
			char c = proc_state(pids[s]);
			if (c == 'Z' || c == 0)
				continue; /* killed: its attachment ended with it */
			int st = ALOAD(&sl->state);
			if (st == S_ATTACHED || st == S_INC || st == S_CALL || st == S_PARKED)
				sure[sl->g]++;
			else if (st == S_ATTACHING || st == S_DETACHING)
				maybe[sl->g]++;
		}
		for (int g = 0; g < NSEG; g++) {
			struct svipc_obj_info info;
			int r = svipc__inspect(SVIPC_SHM, W->shmid[g], &info, NULL, NULL);
			long n = (long)info.ds.shm.shm_nattch;
			if (r != 0 || n < sure[g] || n > sure[g] + maybe[g]) {
				AADD(&W->freeze_bad, 1);
				fprintf(stderr, "freeze: segment %d: inspect %d, nattch %ld, attached %d + %d in shmat/shmdt\n",
					g, r, n, sure[g], maybe[g]);
			}
		}
		AADD(&W->freeze_checks, 1);
	} else {
		AADD(&W->freeze_skipped, 1);
	}
	for (int s = 0; s < NSLOT; s++)
		if (pids[s] > 0 && ALOAD(&W->s[s].pid) == pids[s])
			signal_slot(s, SIGCONT);
	ASTORE(&W->freezing, 0);
}

static void killer(void *arg)
{
	(void)arg;
	struct { int s; pid_t p; int64_t at; } stopped[8];
	int nstopped = 0;
	pid_t killed[NSLOT] = { 0 }; /* each process is killed once: one kill, one death */
	int64_t next_freeze = now_ms() + 700;
	const char *nk = getenv("TORTURE_NOKILL"); /* diagnosis: rates without the killer */
	while (!ALOAD(&W->stop_killer)) {
		sleep_us(1000 + rn(long_mode ? 30000 : 15000));
		if (nk && *nk == '1')
			continue;
		int64_t t = now_ms();
		for (int i = 0; i < nstopped;) {
			if (stopped[i].at <= t) {
				if (ALOAD(&W->s[stopped[i].s].pid) == stopped[i].p) {
					signal_slot(stopped[i].s, SIGCONT);
					AADD(&W->conts, 1);
				}
				stopped[i] = stopped[--nstopped];
			} else {
				i++;
			}
		}
		if (t >= next_freeze && nstopped == 0) {
			freeze_check();
			next_freeze = t + 700 + rn(1500);
			continue;
		}
		int s = rn(NSLOT);
		struct slot *sl = &W->s[s];
		pid_t p = ALOAD(&sl->pid);
		if (p <= 0 || p == killed[s])
			continue;
		if (rn(100) < 55) {
			int st = ALOAD(&sl->state);
			int lk = holds_obj_lock(p);
			if (sl->role == R_RCV) { /* before: a message handed to it may come back */
				uint32_t e = ALOAD(&W->epoch[sl->q]) + 1;
				ASTORE(&W->reap_ns[sl->q][e % KRING], INT64_MAX);
				ASTORE(&sl->kill_epoch, e);
				ASTORE(&W->epoch[sl->q], e);
			}
			if (signal_slot(s, SIGKILL) != p)
				continue;
			killed[s] = p;
			AADD(&W->kills[sl->role], 1);
			if (st == S_CALL || st == S_ATTACHING || st == S_DETACHING)
				AADD(&W->kills_incall, 1);
			if (st == S_HOLD || st == S_INC)
				AADD(&W->kills_app_lock, 1);
			if (lk)
				AADD(&W->kills_obj_lock, 1);
		} else if (nstopped < 8) {
			int dup = 0;
			for (int i = 0; i < nstopped; i++)
				dup |= stopped[i].s == s;
			if (dup || signal_slot(s, SIGSTOP) != p)
				continue;
			AADD(&W->stops, 1);
			stopped[nstopped].s = s;
			stopped[nstopped].p = p;
			stopped[nstopped++].at = now_ms() + 1 + rn(rn(10) ? 10 : 60);
		}
	}
	for (int i = 0; i < nstopped; i++)
		if (ALOAD(&W->s[stopped[i].s].pid) == stopped[i].p) {
			signal_slot(stopped[i].s, SIGCONT);
			AADD(&W->conts, 1);
		}
}

/* ---- the end ----------------------------------------------------------------------- */

static int alive_count(int role)
{
	int n = 0;
	for (int s = 0; s < NSLOT; s++)
		if ((role < 0 || W->s[s].role == role) && ALOAD(&W->s[s].pid) > 0)
			n++;
	return n;
}

/* Reaps the workers that end (they must exit 0) until none of role (-1: any) is left. */
static int wait_exit(int role, long ms, int usr1)
{
	int64_t end = now_ms() + ms;
	while (alive_count(role) > 0) {
		if (usr1)
			for (int s = 0; s < NSLOT; s++)
				if ((role < 0 || W->s[s].role == role) && ALOAD(&W->s[s].pid) > 0)
					kill(W->s[s].pid, SIGUSR1);
		reap_one(2, 0, 0);
		if (now_ms() >= end)
			return 0;
	}
	return 1;
}

static void report_stuck(const char *when)
{
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		if (ALOAD(&sl->pid) > 0)
			fprintf(stderr, "  %s: %s %d pid %d state %d blocking %d proc %c\n", when,
				role_name[sl->role], sl->idx, (int)sl->pid, sl->state, sl->blocking,
				proc_state(sl->pid) ? proc_state(sl->pid) : '?');
	}
}

/* 1 if the operations could all be done on vals now (in order). */
static int could_proceed(const struct sembuf *ops, int n, const unsigned short *vals0)
{
	int v[NSEMS];
	for (int i = 0; i < NSEMS; i++)
		v[i] = vals0[i];
	for (int k = 0; k < n; k++) {
		int s = ops[k].sem_num, op = ops[k].sem_op;
		if (op == 0 && v[s] != 0)
			return 0;
		if (op < 0 && v[s] < -op)
			return 0;
		v[s] += op;
	}
	return 1;
}

/* Every message in queue q, by MSG_COPY (nothing taken); returns how many, types in types[]. */
static int queue_types(int q, long *types, int max)
{
	static struct mbuf b;
	int n = 0;
	for (long k = 0; n < max; k++) {
		ssize_t r = svipc_msgrcv(W->qid[q], &b, MAXP, k, IPC_NOWAIT | MSG_COPY);
		if (r < 0) {
			if (errno != ENOMSG)
				T_FAIL("MSG_COPY %ld: %s", k, strerror(errno));
			break;
		}
		types[n++] = b.mtype;
	}
	return n;
}

static void dump_sem(const unsigned short *vals)
{
	fprintf(stderr, "  values:");
	for (int i = 0; i < NSEMS; i++)
		fprintf(stderr, " %u", vals[i]);
	fprintf(stderr, "\n");
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		if ((sl->role != R_SEMX && sl->role != R_SEMU) || ALOAD(&sl->pid) <= 0 ||
		    ALOAD(&sl->state) != S_CALL)
			continue;
		fprintf(stderr, "  %s %d blocked on:", role_name[sl->role], sl->idx);
		for (int k = 0; k < sl->pn; k++)
			fprintf(stderr, " {%u,%d,%#x}", sl->pops[k].sem_num, sl->pops[k].sem_op,
				(unsigned)sl->pops[k].sem_flg);
		fprintf(stderr, "\n");
	}
}

/* Once nothing moves, nobody blocked may be able to proceed. Returns the problems seen. */
static int blocked_could_proceed(int report)
{
	int bad = 0;
	unsigned short vals[NSEMS];
	if (svipc_semctl(W->semid, 0, GETALL, vals) != 0) {
		T_FAIL("GETALL: %s", strerror(errno));
		return 1;
	}
	static long types[NQ][4096];
	int nt[NQ];
	for (int q = 0; q < NQ; q++)
		nt[q] = queue_types(q, types[q], 4096);
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		if (ALOAD(&sl->pid) <= 0 || ALOAD(&sl->state) != S_CALL)
			continue;
		if ((sl->role == R_SEMX || sl->role == R_SEMU) && could_proceed(sl->pops, sl->pn, vals)) {
			bad++;
			if (report) {
				T_FAIL("%s %d blocked although its %d operations could proceed",
				       role_name[sl->role], sl->idx, sl->pn);
				dump_sem(vals);
			}
		}
		if (sl->role == R_RCV)
			for (int k = 0; k < nt[sl->q]; k++)
				if (selects(sl->sel_typ, sl->sel_flg, types[sl->q][k])) {
					bad++;
					if (report)
						T_FAIL("receiver %d blocked on type %ld while queue %d holds a type %ld",
						       sl->idx, sl->sel_typ, sl->q, types[sl->q][k]);
					break;
				}
	}
	return bad;
}

static int settled(void)
{
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		pid_t p = ALOAD(&sl->pid);
		if (p <= 0)
			continue;
		int st = ALOAD(&sl->state);
		if (st == S_PARKED)
			continue;
		if (st != S_CALL || !sl->blocking ||
		    (sl->role != R_RCV && sl->role != R_SEMX && sl->role != R_SEMU))
			return 0;
		char c = proc_state(p);
		if (c != 'S')
			return 0;
	}
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_maybe(const void *a, const void *b)
{
	const struct maybe_msg *x = a, *y = b;
	if (x->stream != y->stream)
		return x->stream < y->stream ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* 0 if (stream, seq) is not in l (sorted), else 1 + its `returned`. */
static int in_list(const struct maybe_msg *l, int n, int stream, uint32_t seq)
{
	struct maybe_msg k = { stream, seq, 0 };
	const struct maybe_msg *f = n ? bsearch(&k, l, (size_t)n, sizeof *l, cmp_maybe) : NULL;
	return f ? 1 + f->returned : 0;
}

static int64_t lost, dups_end, phantom, allowed_loss, allowed_loss_ret, maybe_recv, maybe_unrecv,
	drained;

static void drain_and_check_queues(void)
{
	static struct mbuf b;
	for (int q = 0; q < NQ; q++) {
		struct msqid_ds ds;
		if (svipc_msgctl(W->qid[q], IPC_STAT, &ds) != 0) {
			T_FAIL("IPC_STAT queue %d: %s", q, strerror(errno));
			continue;
		}
		int64_t n = 0, bytes = 0, last[NSTREAM_Q];
		for (int i = 0; i < NSTREAM_Q; i++)
			last[i] = -1;
		ssize_t r;
		while ((r = svipc_msgrcv(W->qid[q], &b, MAXP, 0, IPC_NOWAIT)) >= 0) {
			n++;
			bytes += r;
			if (!msg_ok(&b, r, q)) {
				T_FAIL("queue %d: drained a corrupt message (%zd bytes)", q, r);
				W->corrupt++;
				continue;
			}
			int st = stream_of(q, b.h.snd, b.h.t), ls = st - q * NSTREAM_Q;
			if ((int64_t)b.h.seq <= last[ls]) {
				T_FAIL("queue %d: drained snd %u type %u seq %u after %lld", q, b.h.snd, b.h.t,
				       b.h.seq, (long long)last[ls]);
				W->order++;
			}
			last[ls] = b.h.seq;
			if (b.h.seq >= (uint64_t)W->cap || mark_received(st, b.h.seq)) {
				T_FAIL("queue %d: drained snd %u type %u seq %u, already received", q, b.h.snd,
				       b.h.t, b.h.seq);
				dups_end++;
			}
		}
		if (errno != ENOMSG)
			T_FAIL("drain queue %d: %s", q, strerror(errno));
		drained += n;
		if ((int64_t)ds.msg_qnum != n || (int64_t)ds.__msg_cbytes != bytes)
			T_FAIL("queue %d: IPC_STAT says %lu messages, %lu bytes; drained %lld, %lld bytes", q,
			       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, (long long)n,
			       (long long)bytes);
		if (svipc_msgctl(W->qid[q], IPC_STAT, &ds) != 0 || ds.msg_qnum != 0 || ds.__msg_cbytes != 0)
			T_FAIL("queue %d: not empty after the drain", q);
	}
	/* Every message sent with success received once; the maybes either way. */
	if (n_maybe_sent)
		qsort(maybe_sent, (size_t)n_maybe_sent, sizeof *maybe_sent, cmp_maybe);
	if (n_cand_recv)
		qsort(cand_recv, (size_t)n_cand_recv, sizeof *cand_recv, cmp_maybe);
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		if (sl->role != R_SND)
			continue;
		for (int q = 0; q < NQ; q++)
			for (int t = 1; t <= NTYPES; t++) {
				int st = stream_of(q, sl->idx, t);
				uint32_t next = sl->next[q][t];
				for (uint32_t seq = 0; seq < next; seq++) {
					int rcvd = is_received(st, seq);
					int maybe = (!rcvd || n_maybe_sent) && in_list(maybe_sent, n_maybe_sent, st, seq);
					if (rcvd) {
						if (maybe)
							maybe_recv++;
						continue;
					}
					if (maybe) {
						maybe_unrecv++;
						continue;
					}
					int c = in_list(cand_recv, n_cand_recv, st, seq);
					if (c) { /* 2: msgrcv had returned it; 1: copied, not yet returned */
						allowed_loss++;
						allowed_loss_ret += c == 2;
						continue;
					}
					lost++;
					if (lost <= 20)
						T_FAIL("lost: queue %d snd %d type %d seq %u (sent, never received)", q,
						       sl->idx, t, seq);
				}
				for (uint32_t seq = next; seq < next + 64 && seq < (uint64_t)W->cap; seq++)
					if (is_received(st, seq)) {
						phantom++;
						T_FAIL("phantom: queue %d snd %d type %d seq %u received, never sent", q,
						       sl->idx, t, seq);
					}
			}
	}
	if (lost > 20)
		T_FAIL("%lld messages lost in all", (long long)lost);
}

static void check_sems(void)
{
	unsigned short vals[NSEMS];
	if (svipc_semctl(W->semid, 0, GETALL, vals) != 0) {
		T_FAIL("GETALL: %s", strerror(errno));
		return;
	}
	int64_t want[NPOOL], tot = 0;
	for (int i = 0; i < NPOOL; i++)
		want[i] = POOL_INIT;
	for (int s = 0; s < NSLOT; s++) {
		struct slot *sl = &W->s[s];
		if (sl->role != R_SEMX)
			continue;
		uint64_t word = sl->word;
		for (int i = 0; i < NPOOL; i++)
			want[i] += sl->cum[word & 1][i];
		if (vals[WIT(sl->idx)] != (word >> 1) % WMOD)
			T_FAIL("semx %d: witness %u, calls done %llu (mod %d)", sl->idx, vals[WIT(sl->idx)],
			       (unsigned long long)(word >> 1), WMOD);
	}
	for (int i = 0; i < NPOOL; i++) {
		tot += vals[i];
		if (vals[i] != want[i])
			T_FAIL("pool %d: value %u, want %lld (initial + committed transfers)", i, vals[i],
			       (long long)want[i]);
	}
	if (tot != NPOOL * POOL_INIT)
		T_FAIL("pools hold %lld units in all, want %d (a transfer half done?)", (long long)tot,
		       NPOOL * POOL_INIT);
	if (vals[GATE] != 0)
		T_FAIL("gate %u, want 0 (every holder's adjustment applied)", vals[GATE]);
	for (int w = 0; w < 4; w++)
		if (vals[POCKET(w)] != 0)
			T_FAIL("pocket %d: %u, want 0 (adjustments applied)", w, vals[POCKET(w)]);
	for (int i = 0; i < NSEMS; i++) {
		int nc = svipc_semctl(W->semid, i, GETNCNT), zc = svipc_semctl(W->semid, i, GETZCNT);
		if (nc != 0 || zc != 0)
			T_FAIL("sem %d: GETNCNT %d GETZCNT %d at the end", i, nc, zc);
	}
	for (int g = 0; g < NSEG; g++) {
		int v = svipc_semctl(W->mutexid, g, GETVAL);
		if (v != 1 || svipc_semctl(W->mutexid, g, GETNCNT) != 0)
			T_FAIL("mutex %d: %d, want 1 and no waiter", g, v);
	}
}

static int64_t incs_checked;

static void check_shm(void)
{
	for (int g = 0; g < NSEG; g++) {
		struct shmid_ds ds;
		if (svipc_shmctl(W->shmid[g], IPC_STAT, &ds) != 0) {
			T_FAIL("IPC_STAT segment %d: %s", g, strerror(errno));
			continue;
		}
		if (ds.shm_nattch != 0)
			T_FAIL("segment %d: nattch %lu at the end, want 0", g, (unsigned long)ds.shm_nattch);
		struct segdata *d = svipc_shmat(W->shmid[g], NULL, SHM_RDONLY);
		if (d == (void *)-1) {
			T_FAIL("shmat %d: %s", g, strerror(errno));
			continue;
		}
		uint64_t f = d->counter;
		svipc_shmdt(d);
		if (f >= (uint64_t)W->cap) {
			printf("segment %d: counter %llu beyond the bitmap, checked up to %lld\n", g,
			       (unsigned long long)f, (long long)W->cap);
			f = (uint64_t)W->cap;
		}
		uint32_t *mv = malloc(sizeof(uint32_t) * (size_t)(n_maybe_incs + 1));
		int nm = 0;
		for (int i = 0; i < n_maybe_incs; i++)
			if (maybe_incs[i].g == g)
				mv[nm++] = maybe_incs[i].v;
		qsort(mv, (size_t)nm, sizeof *mv, cmp_u32);
		int mi = 0;
		int64_t missing = 0;
		for (uint64_t v = 0; v < f; v++) {
			uint64_t mask, *w = sbit_word(g, v, &mask);
			while (mi < nm && mv[mi] < v)
				mi++;
			int maybe = mi < nm && mv[mi] == v;
			if (*w & mask) {
				incs_checked++;
				continue;
			}
			if (maybe) {
				incs_maybe++; /* a killed holder's increment that happened */
				incs_checked++;
				continue;
			}
			if (++missing <= 10)
				T_FAIL("segment %d: counter went past %llu but no increment saw it", g,
				       (unsigned long long)v);
		}
		for (uint64_t v = f; v < f + 64 && v < (uint64_t)W->cap; v++) {
			uint64_t mask, *w = sbit_word(g, v, &mask);
			if (*w & mask)
				T_FAIL("segment %d: an increment saw %llu but the counter is %llu (lost update)",
				       g, (unsigned long long)v, (unsigned long long)f);
		}
		free(mv);
	}
}

static void check_files(void)
{
	/* What killed churn workers left: removed now (or already gone). */
	for (int i = 0; i < n_churn_left; i += 2) {
		int kind = churn_left[i], id = churn_left[i + 1];
		if (kind == 0)
			svipc_shmctl(id, IPC_RMID, NULL);
		else if (kind == 1)
			svipc_msgctl(id, IPC_RMID, NULL);
		else
			svipc_semctl(id, 0, IPC_RMID);
	}
	for (int w = 0; w < role_count[R_CHURN]; w++) {
		int id;
		if ((id = svipc_shmget(KEY_CHURN(w, 0), 0, 0)) != -1)
			svipc_shmctl(id, IPC_RMID, NULL);
		if ((id = svipc_msgget(KEY_CHURN(w, 1), 0)) != -1)
			svipc_msgctl(id, IPC_RMID, NULL);
		if ((id = svipc_semget(KEY_CHURN(w, 2), 0, 0)) != -1)
			svipc_semctl(id, 0, IPC_RMID);
	}
	struct shm_info si;
	if (svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&si) == -1)
		T_FAIL("SHM_INFO: %s", strerror(errno));
	char want[16][48];
	int nw = 0;
	snprintf(want[nw++], 48, "ns");
	snprintf(want[nw++], 48, "procs");
	for (int q = 0; q < NQ; q++)
		snprintf(want[nw++], 48, "msg.%d", W->qid[q]);
	snprintf(want[nw++], 48, "sem.%d", W->semid);
	snprintf(want[nw++], 48, "sem.%d", W->mutexid);
	for (int g = 0; g < NSEG; g++)
		snprintf(want[nw++], 48, "shm.%d", W->shmid[g]);
	DIR *d = opendir(t_dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int ok = 0;
		for (int i = 0; i < nw; i++)
			ok |= !strcmp(e->d_name, want[i]);
		if (!ok)
			T_FAIL("namespace: unexpected file %s after the end (a removed object that stayed?)",
			       e->d_name);
	}
	if (d)
		closedir(d);
}

static void run_svipcadm(void)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		alarm(60);
		execl(SVIPCADM, "svipcadm", "--dir", t_dir, "check", (char *)NULL);
		_exit(127);
	}
	int st = mp_wait(p, "svipcadm");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("svipcadm check: status %#x (it must find 0 problems)", st);
		pid_t v = fork();
		if (v == 0) {
			execl(SVIPCADM, "svipcadm", "--dir", t_dir, "check", "-v", (char *)NULL);
			_exit(127);
		}
		mp_wait(v, "svipcadm -v");
	}
}

/* ---- main -------------------------------------------------------------------------- */

static void rm_nothing(int id)
{
	(void)id;
}

/* Timeout: children killed (mp_on_alarm), and the namespace removed too. */
static void on_alarm(int sig)
{
	mp_kill_kids();
	if (killer_pid > 0)
		kill(killer_pid, SIGKILL);
	for (int s = 0; s < NSLOT; s++)
		if (W && W->s[s].pid > 0)
			kill(W->s[s].pid, SIGKILL);
	t_cleanup();
	mp_on_alarm(sig);
}

int main(int argc, char **argv)
{
	long seconds = 25;
	const char *env = getenv("TORTURE_SECONDS");
	if (env && *env)
		seconds = atol(env);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--long") && i + 1 < argc) {
			seconds = atol(argv[++i]);
			long_mode = 1;
		} else {
			fprintf(stderr, "usage: %s [--long SECONDS]\n", argv[0]);
			return 2;
		}
	}
	if (seconds < 1)
		seconds = 1;
	unsigned bound = (unsigned)seconds + 150;
	t_setup(bound);
	mp_setup_cleanup(rm_nothing, "objects");
	signal(SIGALRM, on_alarm);
	child_alarm = bound - 10;
	setvbuf(stdout, NULL, _IOLBF, 0);

	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL); /* workers unblock it once their handler is in place */
	W = shared_alloc(sizeof *W);
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if ((env = getenv("TORTURE_SEED")) && *env)
		seed = strtoull(env, NULL, 0);
	W->seed = seed;
	t_rng = seed;
	W->cap = long_mode ? (seconds > 300 ? 1 << 24 : 1 << 23) : 1 << 20;
	msgbits = mmap(NULL, (size_t)NSTREAM * (size_t)W->cap / 8, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	shmbits = mmap(NULL, (size_t)NSEG * (size_t)W->cap / 8, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (msgbits == MAP_FAILED || shmbits == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	key_base = 0x70000000 + (key_t)(getpid() & 0xffff) * 256;
	printf("test_torture: %s mode, %ld s, seed %#llx, namespace %s\n", long_mode ? "long" : "CI",
	       seconds, (unsigned long long)seed, t_dir);

	for (int q = 0; q < NQ; q++)
		W->qid[q] = (int)T_OK(svipc_msgget(KEY_Q(q), IPC_CREAT | IPC_EXCL | 0600));
	W->semid = (int)T_OK(svipc_semget(KEY_SEM, NSEMS, IPC_CREAT | IPC_EXCL | 0600));
	unsigned short init[NSEMS] = { 0 };
	for (int i = 0; i < NPOOL; i++)
		init[i] = POOL_INIT;
	T_OK(svipc_semctl(W->semid, 0, SETALL, init));
	W->mutexid = (int)T_OK(svipc_semget(KEY_MUTEX, NSEG, IPC_CREAT | IPC_EXCL | 0600));
	unsigned short ones[NSEG] = { 1, 1, 1 };
	T_OK(svipc_semctl(W->mutexid, 0, SETALL, ones));
	for (int g = 0; g < NSEG; g++)
		W->shmid[g] = (int)T_OK(svipc_shmget(KEY_SEG(g), SEGSZ, IPC_CREAT | IPC_EXCL | 0600));
	if (t_failures)
		return t_done();
	W->ktarget = -1;
	int s = 0;
	for (int r = 0; r < R_N; r++)
		for (int i = 0; i < role_count[r]; i++, s++) {
			W->s[s].role = r;
			W->s[s].idx = i;
			W->s[s].q = i % NQ;
			W->s[s].churn_id = -1;
			for (int k = 0; k < NSTREAM_Q; k++)
				W->s[s].last[k] = -1;
		}
	for (s = 0; s < NSLOT; s++) {
		spawn_slot(s);
		remember_kid(W->s[s].pid);
	}
	killer_pid = spawn(killer, NULL, bound - 5);

	/* The torture. */
	int64_t t0 = now_ms(), end = t0 + seconds * 1000, next_report = t0 + 60000;
	while (now_ms() < end) {
		reap_one(5, 1, 1);
		if (long_mode && now_ms() >= next_report) {
			next_report += 60000;
			printf("  %llds: sent %lld recv %lld semops %lld incs %lld, kills %lld\n",
			       (long long)(now_ms() - t0) / 1000, (long long)W->sent, (long long)W->recv,
			       (long long)(W->sem_ok + W->semu_ok), (long long)W->incs,
			       (long long)(W->kills[0] + W->kills[1] + W->kills[2] + W->kills[3] +
					   W->kills[4] + W->kills[5]));
		}
	}
	ASTORE(&W->stop_killer, 1);
	int64_t kend = now_ms() + 10000;
	while (killer_pid && now_ms() < kend)
		reap_one(5, 1, 1);
	if (killer_pid)
		T_FAIL("the killer did not stop");
	int64_t sent_kills = 0;
	for (int r = 0; r < R_N; r++)
		sent_kills += W->kills[r];
	kend = now_ms() + 10000;
	while (reaped_killed < sent_kills && now_ms() < kend) /* the last kills */
		reap_one(5, 1, 1);
	if (reaped_killed != sent_kills)
		T_FAIL("%lld kills sent, %lld workers died of them", (long long)sent_kills,
		       (long long)reaped_killed);
	int64_t t_stop = now_ms();

	/* The end: senders interrupted, the rest stop calling (semu give back or leave). */
	ASTORE(&W->phase, PH_STOP);
	if (!wait_exit(R_SND, 10000, 1)) {
		T_FAIL("senders still running 10 s after SIGUSR1");
		report_stuck("senders");
	}
	if (!wait_exit(R_CHURN, 10000, 0)) {
		T_FAIL("churn workers did not finish within 10 s");
		report_stuck("churn");
	}
	/* Nothing moves any more: nobody blocked may be able to go on. */
	int64_t p0 = -1, send_ = now_ms() + 15000, quiet_since = now_ms();
	int ok = 0;
	while (now_ms() < send_) {
		reap_one(2, 0, 0);
		int64_t p = ALOAD(&W->progress);
		if (p != p0) {
			p0 = p;
			quiet_since = now_ms();
		}
		if (settled() && now_ms() - quiet_since >= 300) {
			if (blocked_could_proceed(0) == 0) {
				ok = 1;
				break;
			}
			sleep_ms(300);
			if (settled() && ALOAD(&W->progress) == p0) {
				blocked_could_proceed(1);
				ok = 1;
				break;
			}
		}
		sleep_ms(5);
	}
	if (!ok) {
		T_FAIL("no quiescence within 15 s of the stop (a process neither blocked nor finishing)");
		report_stuck("not settled");
	}
	int nblocked = 0;
	for (s = 0; s < NSLOT; s++)
		if ((W->s[s].role == R_SEMX || W->s[s].role == R_SEMU) && ALOAD(&W->s[s].pid) > 0 &&
		    W->s[s].state == S_CALL)
			nblocked++;
	int nrblocked = 0;
	for (s = 0; s < NSLOT; s++)
		if (W->s[s].role == R_RCV && ALOAD(&W->s[s].pid) > 0 && W->s[s].state == S_CALL)
			nrblocked++;
	int counted = 0;
	for (int i = 0; i < NSEMS; i++)
		counted += svipc_semctl(W->semid, i, GETNCNT) + svipc_semctl(W->semid, i, GETZCNT);
	if (ok && counted != nblocked)
		T_FAIL("GETNCNT+GETZCNT over the set %d, blocked semop callers %d", counted, nblocked);
	/* Parked attachments: nattch exact, also right after SIGKILLs. */
	int parked[NSEG] = { 0 }, nparked = 0, pk_killed = 0;
	for (s = 0; s < NSLOT; s++)
		if (W->s[s].role == R_SHM && ALOAD(&W->s[s].pid) > 0 && W->s[s].state == S_PARKED)
			parked[W->s[s].g]++, nparked++;
	for (int round = 0; round < 2; round++) {
		for (int g = 0; g < NSEG; g++) {
			struct shmid_ds ds;
			if (svipc_shmctl(W->shmid[g], IPC_STAT, &ds) != 0 || (int)ds.shm_nattch != parked[g])
				T_FAIL("segment %d: nattch %lu, %d processes attached (%s)", g,
				       (unsigned long)ds.shm_nattch, parked[g], round ? "after SIGKILLs" : "parked");
		}
		if (round)
			break;
		for (s = 0; s < NSLOT; s++)
			if (W->s[s].role == R_SHM && ALOAD(&W->s[s].pid) > 0 &&
			    W->s[s].state == S_PARKED && rn(2)) {
				kill(W->s[s].pid, SIGKILL);
				for (int k = 0; k < 10 && reap_one(1000, 0, 1) != s; k++)
					;
				parked[W->s[s].g]--;
				pk_killed++;
			}
	}
	ASTORE(&W->shm_release, 1);
	if (!wait_exit(R_SHM, 5000, 0)) {
		T_FAIL("shm workers did not detach and exit within 5 s");
		report_stuck("shm");
	}
	/* Everyone left is blocked: interrupted, they must all finish. */
	if (!wait_exit(-1, 5000, 1)) {
		T_FAIL("processes still blocked 5 s after SIGUSR1");
		report_stuck("after SIGUSR1");
	}
	mp_kill_kids();
	while (reap_one(0, 0, 0) >= 0)
		;
	int64_t t_end = now_ms();

	drain_and_check_queues();
	check_sems();
	check_shm();
	check_files();
	run_svipcadm();

	int64_t kills = 0;
	for (int r = 0; r < R_N; r++)
		kills += W->kills[r];
	int64_t bad = lost + W->dup + dups_end + W->corrupt + W->order + phantom + W->wrong_select +
		      W->excl + W->bad_errno + W->churn_bad + W->freeze_bad;
	printf("kills %lld (snd %lld rcv %lld semx %lld semu %lld shm %lld churn %lld; in a call %lld, "
	       "holding units/mutex %lld, holding an object lock %lld), + %d parked shm at the end; "
	       "stops %lld conts %lld; freezes %lld (nattch checked %lld, skipped %lld)\n",
	       (long long)kills, (long long)W->kills[R_SND], (long long)W->kills[R_RCV],
	       (long long)W->kills[R_SEMX], (long long)W->kills[R_SEMU], (long long)W->kills[R_SHM],
	       (long long)W->kills[R_CHURN], (long long)W->kills_incall, (long long)W->kills_app_lock,
	       (long long)W->kills_obj_lock, pk_killed, (long long)W->stops, (long long)W->conts,
	       (long long)W->freezes, (long long)W->freeze_checks, (long long)W->freeze_skipped);
	printf("end: %d semop callers and %d receivers blocked, none of them able to proceed; %d shm "
	       "workers parked attached, %d of them then SIGKILLed\n", nblocked, nrblocked, nparked,
	       pk_killed);
	printf("messages: sent %lld (maybe %d: %lld received, %lld not), received %lld + drained %lld, "
	       "killed receivers' buffers %lld (%lld the only copy, %lld of them returned by msgrcv), "
	       "late after a receiver kill %lld "
	       "(+%lld sent while it was dying), failed calls %lld, EINTR %lld\n",
	       (long long)W->sent, n_maybe_sent, (long long)maybe_recv, (long long)maybe_unrecv,
	       (long long)W->recv, (long long)drained, (long long)rcv_cand, (long long)allowed_loss,
	       (long long)allowed_loss_ret,
	       (long long)W->late_after_kill, (long long)W->late_dying,
	       (long long)(W->snd_fail + W->rcv_fail), (long long)W->eintr);
	printf("semaphores: transfers %lld (killed in the call: %lld done, %lld not), holds %lld, "
	       "failed %lld; shm: attaches %lld, increments %lld checked %lld (killed holders' done %lld); "
	       "churn %lld\n",
	       (long long)W->sem_ok, (long long)semx_maybe_done, (long long)semx_maybe_not,
	       (long long)W->semu_ok, (long long)W->sem_fail, (long long)W->shm_attach,
	       (long long)W->incs, (long long)incs_checked, (long long)incs_maybe,
	       (long long)W->churn_ops);
	printf("TORTURE SUMMARY: kills %lld, stops %lld, ops checked: msg %lld, sem %lld, shm %lld; "
	       "lost %lld, duplicated %lld, corrupted %lld, out of order %lld, other failures %lld; "
	       "run %.1f s, end %.1f s\n",
	       (long long)(kills + pk_killed), (long long)W->stops, (long long)(W->sent + n_maybe_sent),
	       (long long)(W->sem_ok + W->semu_ok + semx_maybe_done), (long long)(incs_checked + W->shm_attach),
	       (long long)lost, (long long)(W->dup + dups_end), (long long)W->corrupt, (long long)W->order,
	       (long long)(bad - lost - W->dup - dups_end - W->corrupt - W->order),
	       (double)(t_stop - t0) / 1000, (double)(t_end - t_stop) / 1000);
	if (bad)
		T_FAIL("%lld failures counted by the workers and the accounting", (long long)bad);

	for (int q = 0; q < NQ; q++)
		svipc_msgctl(W->qid[q], IPC_RMID, NULL);
	svipc_semctl(W->semid, 0, IPC_RMID);
	svipc_semctl(W->mutexid, 0, IPC_RMID);
	for (int g = 0; g < NSEG; g++)
		svipc_shmctl(W->shmid[g], IPC_RMID, NULL);
	return t_done();
}

/* msg.c - System V message queues: msgget, msgsnd, msgrcv, msgctl. */
#include "msg.h"
#include "inspect.h"
#include "internal.h"
#include "lock.h"
#include "ns.h"
#include "proc.h"
#include "svipc.h"
#include "wait.h"

#include <limits.h>
#include <stdio.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Crash safety. Everything below runs under the queue's lock. A send
 * reserves a header (M_WRITING), copies the payload, and commits by storing
 * M_COMMITTED; only then does it link the indexes. A receive copies the
 * payload out, commits by storing M_CONSUMED, then unlinks and frees. If a
 * process dies holding the lock, the next one to take it rebuilds every
 * index and counter from the headers (svipc__mq_rebuild): before its commit
 * an update vanishes, after it the update is completed.
 */

/*
 * A blocked call's futex wait ends after this long even without a wake-up,
 * as a safety net for a waker that died between its unlock and its futex
 * wake. Long, because a signal handler that runs while the waiter is
 * between two waits cannot be seen (no EINTR for that call).
 */
#define WAIT_SLICE_NS 1000000000LL
#define MAX_KICKS 8
#define WAIT_ARMED_NS 1000000LL /* longer than any spin (wait.c): not spinning any more */

/* A store that would not change the value would still take the line away from other CPUs. */
static inline void set_if_changed32(int32_t *p, int32_t v)
{
	if (*p != v)
		*p = v;
}

static inline void set_if_changed64(int64_t *p, int64_t v)
{
	if (*p != v)
		*p = v;
}

/* One call's view of a queue, and the futex wake-ups to issue after unlock. */
struct mcall {
	struct svipc_ref ref;
	struct mq m;
	uint32_t *kick[MAX_KICKS];
	int nkick;
	int kick_overflow;
	int unlocked; /* wait_turn could not take the lock back */
};

/* ---- the type's hooks for the namespace ---------------------------------------- */

static size_t msg_file_size(const struct svipc_ns_limits *lim, const void *params)
{
	uint32_t a, b, c, d;
	uint64_t off[7];
	return svipc__mq_layout(lim->msgmnb, &a, &b, &c, &d, off);
}

static int msg_init(void *base, size_t size, const struct svipc_ns_limits *lim, const void *params)
{
	struct msg_queue *q = base;
	uint64_t off[7];
	svipc__mq_layout(lim->msgmnb, &q->nhdr, &q->nseg, &q->ntnode, &q->nbucket, off);
	q->off_hdr = off[0], q->off_seg = off[1], q->off_tnode = off[2];
	q->off_bucket = off[3], q->off_hseq = off[4], q->off_htype = off[5];
	q->off_waiter = off[6];
	q->qbytes = lim->msgmnb;
	q->next_seq = 1;
	struct mq m;
	return svipc__mq_view(&m, q, size) < 0 ? -EINVAL : svipc__mq_populate_fixed(&m);
}

static void wake_all(struct mcall *c);
static int mq_lock(struct mcall *c);
static void mq_unlock(struct mcall *c);
static void mq_recover(struct mcall *c);

/*
 * Returns -ESTALE, removing nothing, if the queue moved to a larger file
 * meanwhile: the caller then removes the file that has the name now.
 */
static int msg_remove(struct svipc_obj *o, size_t size)
{
	struct mcall c = { .ref = { .obj = o, .size = size } };
	if (svipc__mq_view(&c.m, (struct msg_queue *)o, size) < 0) {
		STORE(&o->removed, SVIPC_OBJ_REMOVED);
		return 0;
	}
	int r = mq_lock(&c);
	int locked = r == 0 || r == -EIDRM;
	if (locked && LOAD(&o->removed) == SVIPC_OBJ_MOVED) {
		mq_unlock(&c);
		return -ESTALE;
	}
	STORE(&o->removed, SVIPC_OBJ_REMOVED);
	wake_all(&c);
	if (locked)
		mq_unlock(&c);
	return 0;
}

static uint64_t msg_max_objects(const struct svipc_ns_limits *lim)
{
	return lim->msgmni;
}

static void msg_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg);
static void msg_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair);

const struct svipc_type_ops svipc__msg_ops = {
	.type = SVIPC_MSG,
	.magic = MSG_MAGIC,
	.size = msg_file_size,
	.init = msg_init,
	.remove = msg_remove,
	.max_objects = msg_max_objects,
	.inspect = msg_inspect,
	.check = msg_check,
};

/* ---- locking, recovery, waiters -------------------------------------------------- */

static void waiters_rebuild(struct mq *m);
static void waiters_claim(struct mq *m);
static void serve_blocked(struct mcall *c);

/* Applies a committed IPC_SET record; applying it twice is harmless. */
static void apply_set(struct msg_queue *q)
{
	STORE_RELAXED(&q->qbytes, q->set_qbytes); /* peeked without the lock (queue_has_room) */
	q->obj.perm.uid = q->set_uid;
	q->obj.perm.gid = q->set_gid;
	q->obj.perm.mode = q->set_mode;
	q->obj.ctime = q->set_ctime;
	STORE(&q->set_valid, 0);
}

/*
 * Rebuilds every index and counter from the committed messages, with the
 * lock held: after a holder died, or when svipcadm check --repair found
 * them wrong.
 */
static void mq_recover(struct mcall *c)
{
	struct msg_queue *q = c->m.q;
	int dfd = svipc__ns_dirfd();
	if (dfd >= 0)
		svipc__tmp_cleanup(dfd); /* a mover may have died */
	if (LOAD(&q->set_valid))
		apply_set(q);
	waiters_claim(&c->m);
	svipc__mq_rebuild(&c->m);
	waiters_rebuild(&c->m);
	serve_blocked(c);
	if (c->m.corrupt)
		STORE(&q->obj.corrupt, 1);
	wake_all(c); /* whoever waited on the dead holder re-checks */
}

/*
 * Takes the queue lock, recovering the queue if its holder died. Returns 0;
 * -EIDRM (still locked) if the queue is corrupt; or another -errno (unlocked).
 */
static int mq_lock(struct mcall *c)
{
	struct msg_queue *q = c->m.q;
	int r = svipc__lock(&q->obj.lock);
	if (r < 0)
		return r;
	if (LOAD(&q->obj.removed) == SVIPC_OBJ_MOVED) {
		/*
		 * Moved only if the name now has another file: a mover that died
		 * before its rename (or a scribbler) leaves the mark on a file
		 * that still has the name, and callers would start over forever.
		 */
		int dfd = svipc__ns_dirfd();
		long g = dfd < 0 ? dfd : svipc__obj_name_gen(dfd, SVIPC_MSG, q->obj.id);
		if (g >= 0 && (uint32_t)g == q->obj.gen)
			STORE(&q->obj.removed, 0);
	}
	if (r == 1)
		mq_recover(c);
	return LOAD(&q->obj.corrupt) ? -EIDRM : 0;
}

static void mq_unlock(struct mcall *c)
{
	struct msg_queue *q = c->m.q;
	if (c->m.corrupt)
		STORE(&q->obj.corrupt, 1);
	svipc__unlock(&q->obj.lock);
	for (int i = 0; i < c->nkick; i++)
		svipc__futex_wake(c->kick[i], 1);
	c->nkick = 0;
	if (c->kick_overflow)
		svipc__futex_wake(&q->overflow, INT_MAX);
	c->kick_overflow = 0;
}

/* Marks waiter i woken; its futex is kicked after unlock if it sleeps. */
static void wake_one(struct mcall *c, uint32_t i)
{
	uint32_t *word = &W(&c->m, i)->word;
	if (XCHG(word, SVIPC_W_WOKEN) == SVIPC_W_SLEEPING) {
		if (c->nkick < MAX_KICKS)
			c->kick[c->nkick++] = word;
		else
			svipc__futex_wake(word, 1);
	}
}

static uint32_t *list_head(struct mq *m, int kind)
{
	return kind == W_RECV ? &m->q->rhead : &m->q->shead;
}

static uint32_t *list_tail(struct mq *m, int kind)
{
	return kind == W_RECV ? &m->q->rtail : &m->q->stail;
}

/* Walks a waiter list with a bound; stops (and flags corruption) on a bad link. */
#define FOR_WAITERS(m, kind, i, n)                                                     \
	for (uint32_t i = *list_head(m, kind), n = 0;                                   \
	     i && (MQ_OK(m, i, MSG_NWAITERS) || (MQ_CORRUPT(m), 0)) && n < MSG_NWAITERS; \
	     i = W(m, i)->next, n++)

static void wake_all(struct mcall *c)
{
	struct mq *m = &c->m;
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++)
		if (W(m, i)->kind != W_FREE)
			wake_one(c, i);
	STORE(&m->q->overflow, m->q->overflow + 1);
	c->kick_overflow = 1;
}

static void list_append(struct mq *m, uint32_t i)
{
	struct msg_waiter *w = W(m, i);
	uint32_t *head = list_head(m, w->kind), *tail = list_tail(m, w->kind);
	w->next = 0;
	w->prev = *tail;
	if (*tail && MQ_OK(m, *tail, MSG_NWAITERS))
		W(m, *tail)->next = i;
	else
		*head = i;
	*tail = i;
}

static uint32_t waiter_add(struct mq *m, int kind, int mode, int64_t typ, uint64_t size)
{
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		if (w->kind != W_FREE)
			continue;
		w->kind = kind;
		w->mode = mode;
		w->msgtyp = typ;
		w->size = size;
		w->token = svipc__proc_token();
		w->pid = svipc__proc_pid();
		w->arrival = m->q->arrival++;
		w->msg = 0;
		w->result = 0;
		w->since = svipc__mono_ns();
		STORE(&w->word, SVIPC_W_ARMED);
		list_append(m, i);
		return i;
	}
	return 0;
}

static void waiter_del(struct mq *m, uint32_t i)
{
	struct msg_waiter *w = W(m, i);
	if (w->kind != W_RECV && w->kind != W_SEND)
		return;
	uint32_t *head = list_head(m, w->kind), *tail = list_tail(m, w->kind);
	if (w->prev && MQ_OK(m, w->prev, MSG_NWAITERS))
		W(m, w->prev)->next = w->next;
	else
		*head = w->next;
	if (w->next && MQ_OK(m, w->next, MSG_NWAITERS))
		W(m, w->next)->prev = w->prev;
	else
		*tail = w->prev;
	w->kind = W_FREE;
}

/* 1 if a waiter slot before i names message h. */
static int named_before(struct mq *m, uint32_t i, uint32_t h)
{
	for (uint32_t j = 1; j < i; j++)
		if (W(m, j)->msg == h)
			return 1;
	return 0;
}

/*
 * Recovery, first step, with one look at who lives: the slots of dead
 * waiters are freed; a reservation stands if its receiver lives and the
 * message it names is reserved and named by no other slot. The slots
 * that keep a message name it for svipc__mq_rebuild; no other names any.
 */
static void waiters_claim(struct mq *m)
{
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		uint32_t h = w->msg;
		int live = (w->kind == W_RECV || w->kind == W_SEND) && svipc__proc_alive(w->token);
		if (!live)
			w->kind = W_FREE;
		if (!h)
			continue;
		if (!live || w->kind != W_RECV || !MQ_OK(m, h, m->nhdr) ||
		    H(m, h)->state != M_RESERVED || named_before(m, i, h))
			w->msg = 0; /* the message goes back in the queue */
	}
}

static uint32_t *waiter_link(void *arg, uint32_t i)
{
	return &W((struct mq *)arg, i)->next;
}

static int arrived_before(void *arg, uint32_t a, uint32_t b)
{
	struct mq *m = arg;
	return (int32_t)(W(m, a)->arrival - W(m, b)->arrival) < 0; /* wrap-safe */
}

/* Recovery: both lists again from the slots waiters_claim kept, in arrival order. */
static void waiters_rebuild(struct mq *m)
{
	struct msg_queue *q = m->q;
	uint32_t all = 0, *tail = &all;
	q->noverflow = 0; /* slotless waiters that died are not counted any more */
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		if (w->kind == W_RECV || w->kind == W_SEND) {
			*tail = i;
			tail = &w->next;
		} else {
			w->kind = W_FREE;
		}
	}
	*tail = 0;
	all = svipc__chain_sort(all, waiter_link, arrived_before, m);
	q->rhead = q->rtail = q->shead = q->stail = 0;
	while (all) {
		uint32_t next = W(m, all)->next;
		list_append(m, all);
		all = next;
	}
}

static void unreserve(struct mcall *c, struct msg_waiter *w);

/*
 * Before a waiter is chosen: one may have been killed while it waited, and
 * would take a wake-up (or a message) meant for a live one. A waiter that
 * registered moments ago is spinning, so it runs; others (asleep, or armed
 * for longer than any spin) are asked about, which costs a system call
 * only on the path where waking them costs one anyway. A dead one is
 * passed over; reap_dead_waiters() frees its slot later.
 */
static int waiter_lives(struct mq *m, uint32_t i)
{
	struct msg_waiter *w = W(m, i);
	uint32_t word = LOAD(&w->word);
	/* Armed and recent: it is spinning (or about to sleep), so it runs.
	 * (Woken proves nothing: IPC_SET and recovery wake the dead too.) */
	if (word == SVIPC_W_ARMED && svipc__mono_ns() - w->since < WAIT_ARMED_NS)
		return 1;
	return svipc__proc_alive(w->token);
}

/* Drops the slots of waiters that died while blocked (called after a quiet slice). */
static void reap_dead_waiters(struct mcall *c)
{
	struct mq *m = &c->m;
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		if (w->kind != W_FREE && !svipc__proc_alive(w->token)) {
			waiter_del(m, i);
			if (w->msg)
				unreserve(c, w);
		}
	}
}

/* Hands message h (committed, in no index) to receiver slot i. Called locked. */
static void reserve_for(struct mcall *c, uint32_t i, uint32_t h)
{
	struct msg_queue *q = c->m.q;
	struct msg_waiter *w = W(&c->m, i);
	w->msg = h;
	STORE(&H(&c->m, h)->state, M_RESERVED);
	q->nreserved++; /* not counted in qnum/cbytes: the kernel never queues it */
	set_if_changed32(&q->lrpid, w->pid);
	set_if_changed64(&q->rtime, svipc__real_sec());
	wake_one(c, i);
}

/*
 * After recovery: a message that a dead sender committed but never offered
 * is in the queue now, while a receiver that selects it may be blocked
 * (the sender died between its commit and its hand-off). Each blocked
 * receiver, in arrival order, is handed what it would find, as the sender
 * would have done: otherwise the next send would hand its newer message to
 * that receiver, which would then take the older one after it (found by
 * the 600 s torture: once in 210 M messages).
 */
static void serve_blocked(struct mcall *c)
{
	struct mq *m = &c->m;
	struct msg_queue *q = m->q;
	FOR_WAITERS(m, W_RECV, i, n) {
		struct msg_waiter *w = W(m, i);
		if (!q->qnum || m->corrupt)
			return;
		if (w->msg || w->result)
			continue;
		uint32_t h = svipc__mq_find(m, w->mode, w->msgtyp);
		if (!h)
			continue;
		uint32_t size = H(m, h)->size;
		if (w->size < size) {
			w->result = -E2BIG; /* as a sender's hand-off would */
			wake_one(c, i);
			continue;
		}
		if (svipc__mq_unlink(m, h) < 0)
			return;
		STORE_RELAXED(&q->qnum, q->qnum - 1);
		STORE_RELAXED(&q->cbytes, q->cbytes - size);
		reserve_for(c, i, h);
	}
}

/*
 * A committed, unlinked message goes to the first blocked receiver, in
 * arrival order, that selects it, as the kernel's pipelined_send() does:
 * the message is reserved for that receiver (it stays in the file, so a
 * receiver killed before taking it loses nothing: see unreserve). Receivers
 * whose buffer is too small on the way get E2BIG. With no taker the
 * message joins the queue. Called locked.
 */
static int offer(struct mcall *c, uint32_t h)
{
	struct mq *m = &c->m;
	struct msg_queue *q = m->q;
	struct msg_hdr *hp = H(m, h);
	FOR_WAITERS(m, W_RECV, i, n) {
		struct msg_waiter *w = W(m, i);
		if (w->msg || w->result || !svipc__mq_match(w->mode, w->msgtyp, hp->type))
			continue;
		if (!waiter_lives(m, i)) {
			/* Dead (it holds no message: see above): free its slot now, or every
			 * send would ask about it again. FOR_WAITERS still finds w->next. */
			waiter_del(m, i);
			continue;
		}
		if (w->size < hp->size) {
			w->result = -E2BIG;
			wake_one(c, i);
			continue;
		}
		reserve_for(c, i, h);
		return 0;
	}
	if (m->corrupt || svipc__mq_link(m, h) < 0)
		return -EIDRM;
	/* Relaxed stores: these counters are peeked without the lock while spinning. */
	STORE_RELAXED(&q->cbytes, q->cbytes + hp->size);
	STORE_RELAXED(&q->qnum, q->qnum + 1);
	if (q->noverflow) {
		STORE(&q->overflow, q->overflow + 1);
		c->kick_overflow = 1;
	}
	return 0;
}

/* Takes a reservation back; returns the message (still counted as queued) or 0. */
static uint32_t take_back(struct mcall *c, struct msg_waiter *w)
{
	struct mq *m = &c->m;
	uint32_t h = w->msg;
	w->msg = 0;
	if (!MQ_OK(m, h, m->nhdr) || H(m, h)->state != M_RESERVED) {
		MQ_CORRUPT(m);
		return 0;
	}
	STORE(&H(m, h)->state, M_COMMITTED);
	if (m->q->nreserved)
		m->q->nreserved--;
	return h;
}

/* A reserved message whose receiver is gone is offered again. */
static void unreserve(struct mcall *c, struct msg_waiter *w)
{
	uint32_t h = take_back(c, w);
	if (!h)
		return;
	offer(c, h); /* counted if it joins the queue, even above msg_qbytes */
}

/* A reserved message goes back in the queue, at its place; its receiver looks again. */
static void unreserve_in_place(struct mcall *c, struct msg_waiter *w)
{
	uint32_t h = take_back(c, w);
	if (h && svipc__mq_link(&c->m, h) < 0)
		MQ_CORRUPT(&c->m);
	if (h) {
		STORE_RELAXED(&c->m.q->cbytes, c->m.q->cbytes + H(&c->m, h)->size);
		STORE_RELAXED(&c->m.q->qnum, c->m.q->qnum + 1);
	}
}

/*
 * Messages handed to receivers that died go back to the queue before
 * anyone looks at it (IPC_STAT, MSG_COPY), so what is counted is what can
 * be seen. Costs a system call per reservation, only while there are any.
 */
static void reap_reserved(struct mcall *c)
{
	struct mq *m = &c->m;
	if (!m->q->nreserved)
		return;
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		if (w->kind == W_RECV && w->msg && !svipc__proc_alive(w->token)) {
			waiter_del(m, i);
			unreserve(c, w);
		}
	}
}

/*
 * After space was freed (or qbytes raised): wake, in arrival order, the
 * senders whose messages now fit, counting the room each one will take.
 * A sender whose message does not fit does not hold back a smaller one
 * behind it (the kernel's ss_wakeup() skips it too).
 */
static void wake_senders(struct mcall *c)
{
	struct mq *m = &c->m;
	struct msg_queue *q = m->q;
	uint64_t bytes = q->cbytes, cnt = q->qnum;
	FOR_WAITERS(m, W_SEND, i, n) {
		struct msg_waiter *w = W(m, i);
		if (bytes + w->size > q->qbytes || cnt + 1 > q->qbytes)
			continue;
		if (!waiter_lives(m, i)) {
			waiter_del(m, i); /* dead: its slot goes now */
			continue;
		}
		bytes += w->size;
		cnt++;
		if (LOAD(&w->word) != SVIPC_W_WOKEN)
			wake_one(c, i);
	}
}

/*
 * Blocks until woken, a slice passes, the deadline passes or a signal
 * arrives. Called and returns with the lock held (unless c->unlocked is
 * set, when it could not be taken back). Returns 0 to re-check, or with
 * *reserved set to a message a sender handed us; -E2BIG if a sender found
 * our buffer too small; -EINTR; -EAGAIN (deadline); or another -errno.
 */
static int wait_turn(struct mcall *c, int kind, int mode, int64_t typ, uint64_t size,
		     int64_t deadline, uint32_t *reserved)
{
	struct mq *m = &c->m;
	struct msg_queue *q = m->q;
	uint32_t slot = waiter_add(m, kind, mode, typ, size);
	int r, woken = 0, result = 0;
	if (!slot) {
		/* No free slot: poll the overflow word, which every change bumps. */
		uint32_t v = LOAD(&q->overflow);
		q->noverflow++;
		mq_unlock(c);
		int64_t t = WAIT_SLICE_NS;
		if (deadline >= 0)
			t = MIN(t, MAX(deadline - svipc__mono_ns(), 0));
		r = svipc__futex_wait(&q->overflow, v, t);
		if (r == -ETIMEDOUT)
			r = (deadline >= 0 && svipc__mono_ns() >= deadline) ? -ETIMEDOUT : 0;
		int lr = mq_lock(c);
		if (lr < 0 && lr != -EIDRM) {
			c->unlocked = 1;
			return lr;
		}
		if (q->noverflow)
			q->noverflow--;
		return r == -ETIMEDOUT ? -EAGAIN : r;
	}
	/*
	 * The slot stays registered until we leave, so a waiter keeps its place
	 * in line across slices. A slice that ends with no wake-up is only a
	 * safety net (a waker may have died between its unlock and its futex
	 * wake); then we reap dead waiters and look whether we can go on.
	 */
	uint32_t me = W(m, slot)->token;
	for (;;) {
		mq_unlock(c);
		/* Spinning pays only while few wait: each spinner holds a CPU. */
		r = svipc__wait(&W(m, slot)->word, deadline, WAIT_SLICE_NS, slot <= 2);
		int lr = mq_lock(c);
		if (lr < 0 && lr != -EIDRM) {
			c->unlocked = 1;
			return lr;
		}
		struct msg_waiter *w = W(m, slot);
		if (w->kind != kind || w->token != me)
			return 0; /* our slot was reaped (recovery): look again */
		woken = LOAD(&w->word) == SVIPC_W_WOKEN;
		if (woken || w->msg || w->result || r < 0 || lr < 0 || LOAD(&q->obj.removed))
			break;
		reap_dead_waiters(c);
		if (w->msg || w->result)
			break;
		if (kind == W_RECV ? svipc__mq_find(m, mode, typ) != 0
				   : (q->cbytes + size <= q->qbytes && q->qnum + 1 <= q->qbytes))
			break;
		if (m->corrupt)
			break;
	}
	struct msg_waiter *w = W(m, slot);
	/* A message handed to us is ours even if a signal came too. */
	*reserved = w->msg;
	result = w->result;
	if (result && result != -E2BIG) {
		/* Only a sender writes it, and only -E2BIG: anything else is damage. */
		MQ_CORRUPT(m);
		result = -EIDRM;
	}
	w->msg = 0;
	waiter_del(m, slot);
	if (*reserved)
		return 0;
	if (result)
		return result;
	if (r < 0 && woken && kind == W_SEND)
		wake_senders(c); /* we leave with a wake-up meant for a sender: pass it on */
	if (r == -ETIMEDOUT)
		return -EAGAIN;
	return r;
}

/*
 * The error for a call that finds its queue removed: EINVAL if it was gone
 * before the call looked (a stale id), EIDRM if it went away while the call
 * waited. -ESTALE (internal) if the queue moved to a larger file: the public
 * wrappers then start over on the file that now has the name.
 */
static int removed_error(struct msg_queue *q, int waited)
{
	if (LOAD(&q->obj.removed) == SVIPC_OBJ_MOVED)
		return -ESTALE;
	return waited ? -EIDRM : -EINVAL;
}

/*
 * What every pass of a send or receive loop checks first, in the kernel's
 * order: permission (EACCES), then whether the queue is still there.
 */
static int may_proceed(struct msg_queue *q, int mode, int waited)
{
	if (svipc__perm_check(&q->obj.perm, mode))
		return -EACCES;
	if (LOAD(&q->obj.removed))
		return removed_error(q, waited);
	return 0;
}

_Static_assert(sizeof(struct mq) <= SVIPC_VIEW_SIZE, "a queue's view fits the cache entry");

/* Maps queue id and gets its validated view (computed once per mapping). */
static int mq_open(int id, struct mcall *c)
{
	c->nkick = 0;
	c->kick_overflow = 0;
	c->unlocked = 0;
	int r = svipc__get(&svipc__msg_ops, id, &c->ref);
	if (r < 0)
		return r;
	if (c->ref.view_ok && LOAD(c->ref.view_ok)) {
		memcpy(&c->m, c->ref.view, sizeof c->m);
		return 0;
	}
	r = svipc__mq_view(&c->m, (struct msg_queue *)c->ref.obj, c->ref.size);
	if (r < 0) {
		svipc__obj_put(&c->ref);
		return r;
	}
	if (c->ref.view_ok) {
		memcpy(c->ref.view, &c->m, sizeof c->m);
		STORE(c->ref.view_ok, 1);
	}
	return 0;
}

static void mq_close(struct mcall *c, int id)
{
	svipc__obj_put_removed(&c->ref, SVIPC_MSG, id);
}

/* ---- send ------------------------------------------------------------------------ */

/* Unlocked peeks, for spinning only: the decision is always made locked. */
static int queue_not_empty(const void *arg)
{
	const struct msg_queue *q = arg;
	return LOAD_RELAXED(&q->qnum) != 0 || LOAD_RELAXED(&q->obj.removed);
}

struct fit_arg {
	struct msg_queue *q;
	size_t size;
};

static int queue_has_room(const void *arg)
{
	const struct fit_arg *a = arg;
	uint64_t qb = LOAD_RELAXED(&a->q->qbytes);
	return (a->size + LOAD_RELAXED(&a->q->cbytes) <= qb && LOAD_RELAXED(&a->q->qnum) + 1 <= qb) ||
	       LOAD_RELAXED(&a->q->obj.removed);
}

/*
 * Copies n payload bytes between buf and message h, in the direction
 * to_msg says. Every link of the chain is checked, and so is each
 * segment's owner: a broken or stolen chain marks the queue corrupt.
 */
static inline void chain_copy(struct mq *m, uint32_t h, char *buf, size_t n, int to_msg)
{
	struct msg_hdr *hp = H(m, h);
	size_t k = MIN(n, (size_t)MSG_INLINE);
	if (to_msg)
		memcpy(hp->data, buf, k);
	else
		memcpy(buf, hp->data, k);
	buf += k, n -= k;
	for (uint32_t s = hp->seg; n; s = S(m, s)->next) {
		if (!MQ_OK(m, s, m->nseg) || S(m, s)->owner != h) {
			MQ_CORRUPT(m);
			return;
		}
		if (s < m->nseg) { /* chains are mostly contiguous */
			if (to_msg)
				__builtin_prefetch(S(m, s + 1), 1);
			else
				__builtin_prefetch(S(m, s + 1), 0);
		}
		k = MIN(n, (size_t)MSG_SEG_DATA);
		if (to_msg)
			memcpy(S(m, s)->data, buf, k);
		else
			memcpy(buf, S(m, s)->data, k);
		buf += k, n -= k;
	}
}

static void copy_in(struct mq *m, uint32_t h, const char *src, size_t n)
{
	chain_copy(m, h, (char *)src, n, 1);
}

static long do_msgsnd(int id, const void *msgp, size_t msgsz, int flg, int64_t deadline)
{
	const struct svipc_ns_limits *lim;
	int r = svipc__ns_lim(&lim);
	if (r < 0)
		return r;
	if (msgsz > LOAD_RELAXED(&lim->msgmax) || (long)msgsz < 0 || id < 0)
		return -EINVAL;
	long mtype;
	memcpy(&mtype, msgp, sizeof mtype);
	if (mtype < 1)
		return -EINVAL;
	struct mcall c;
	r = mq_open(id, &c);
	if (r < 0)
		return r;
	struct mq *m = &c.m;
	struct msg_queue *q = m->q;
	struct fit_arg fa = { q, msgsz };
	if (!(flg & IPC_NOWAIT) && !queue_has_room(&fa))
		svipc__spin_until(queue_has_room, &fa);
	r = mq_lock(&c);
	if (r < 0 && r != -EIDRM)
		goto out;
	for (int waited = 0; r == 0; waited = 1) {
		r = may_proceed(q, S_IWUGO, waited);
		if (r < 0)
			break;
		if (msgsz + q->cbytes <= q->qbytes && 1 + q->qnum <= q->qbytes) {
			uint32_t h = svipc__mq_alloc_msg(m, (uint32_t)msgsz);
			if (h) {
				struct msg_hdr *hp = H(m, h);
				hp->type = mtype;
				copy_in(m, h, (const char *)msgp + sizeof(long), msgsz);
				if (m->corrupt) {
					r = -EIDRM;
					break;
				}
				hp->seq = q->next_seq++;
				STORE(&hp->state, M_COMMITTED); /* the commit point */
				set_if_changed32(&q->lspid, svipc__proc_pid());
				set_if_changed64(&q->stime, svipc__real_sec());
				r = offer(&c, h);
				break;
			}
			if (m->corrupt) {
				r = -EIDRM;
				break;
			}
			if (m->nomem) {
				r = -ENOMEM; /* the filesystem is full: as the kernel out of memory */
				break;
			}
			/* Storage full though qbytes allows more: wait as if full. */
		}
		if (flg & IPC_NOWAIT) {
			r = -EAGAIN;
			break;
		}
		uint32_t none = 0;
		r = wait_turn(&c, W_SEND, 0, 0, msgsz, deadline, &none);
		if (c.unlocked)
			goto out;
	}
	mq_unlock(&c);
out:
	mq_close(&c, id);
	return r;
}

/* ---- receive ------------------------------------------------------------------------ */

static void copy_out(struct mq *m, uint32_t h, char *msgp, size_t n)
{
	long t = (long)H(m, h)->type;
	memcpy(msgp, &t, sizeof t);
	chain_copy(m, h, msgp + sizeof(long), n, 0);
}

/* Takes the message a sender reserved for this receiver. Called locked. */
static long take_reserved(struct mcall *c, uint32_t h, void *msgp, size_t bufsz)
{
	struct mq *m = &c->m;
	if (!MQ_OK(m, h, m->nhdr) || H(m, h)->state != M_RESERVED ||
	    !svipc__mq_size_fits(m, H(m, h)->size)) {
		MQ_CORRUPT(m);
		return -EIDRM;
	}
	size_t n = MIN(bufsz, (size_t)H(m, h)->size);
	copy_out(m, h, msgp, n);
	if (m->corrupt)
		return -EIDRM;
	STORE(&H(m, h)->state, M_CONSUMED); /* the commit point */
	svipc__mq_free_msg_chain(m, h);
	if (m->q->nreserved)
		m->q->nreserved--;
	return (long)n;
}

static int convert_mode(long *msgtyp, int flg)
{
	if (flg & MSG_COPY)
		return SEARCH_NUMBER;
	if (*msgtyp == 0)
		return SEARCH_ANY;
	if (*msgtyp < 0) {
		*msgtyp = *msgtyp == LONG_MIN ? LONG_MAX : -*msgtyp;
		return SEARCH_LESSEQUAL;
	}
	if (flg & MSG_EXCEPT)
		return SEARCH_NOTEQUAL;
	return SEARCH_EQUAL;
}

static long do_msgrcv(int id, void *msgp, size_t bufsz, long msgtyp, int flg, int64_t deadline)
{
	if (id < 0 || (long)bufsz < 0)
		return -EINVAL;
	size_t copy_max = 0;
	if (flg & MSG_COPY) {
		if ((flg & MSG_EXCEPT) || !(flg & IPC_NOWAIT))
			return -EINVAL;
		struct svipc_ns_limits lim;
		int lr = svipc__ns_limits(&lim);
		if (lr < 0)
			return lr;
		copy_max = MIN(bufsz, lim.msgmax);
	}
	int mode = convert_mode(&msgtyp, flg);
	struct mcall c;
	long r = mq_open(id, &c);
	if (r < 0)
		return r;
	struct mq *m = &c.m;
	struct msg_queue *q = m->q;
	/*
	 * A receiver that would only find an empty queue waits for a message
	 * without taking the lock, which would slow the sender it waits for.
	 */
	if (!(flg & IPC_NOWAIT) && LOAD_RELAXED(&q->qnum) == 0)
		svipc__spin_until(queue_not_empty, q);
	r = mq_lock(&c);
	if (r < 0 && r != -EIDRM)
		goto out;
	int reaped = 0;
	for (int waited = 0; r == 0; waited = 1) {
		r = may_proceed(q, S_IRUGO, waited);
		if (r < 0)
			break;
		if (flg & MSG_COPY)
			reap_reserved(&c);
		uint32_t h = svipc__mq_find(m, mode, msgtyp);
		if (m->corrupt) {
			r = -EIDRM;
			break;
		}
		if (h) {
			struct msg_hdr *hp = H(m, h);
			size_t size = hp->size;
			if (bufsz < size && !(flg & MSG_NOERROR)) {
				r = -E2BIG;
				break;
			}
			if (flg & MSG_COPY) {
				if (size > copy_max) {
					r = -EINVAL;
				} else {
					copy_out(m, h, msgp, size);
					r = m->corrupt ? -EIDRM : (long)size;
				}
				break;
			}
			size_t n = MIN(bufsz, size);
			copy_out(m, h, msgp, n);
			if (m->corrupt) {
				r = -EIDRM;
				break;
			}
			STORE(&hp->state, M_CONSUMED); /* the commit point */
			if (svipc__mq_unlink(m, h) < 0) {
				r = -EIDRM;
				break;
			}
			svipc__mq_free_msg_chain(m, h);
			STORE_RELAXED(&q->qnum, q->qnum - 1);
			STORE_RELAXED(&q->cbytes, q->cbytes - size);
			set_if_changed32(&q->lrpid, svipc__proc_pid());
			set_if_changed64(&q->rtime, svipc__real_sec());
			wake_senders(&c);
			if (q->noverflow) {
				STORE(&q->overflow, q->overflow + 1);
				c.kick_overflow = 1;
			}
			r = (long)n;
			break;
		}
		if (q->nreserved && !reaped) {
			/* A message handed to a receiver that died comes back first. */
			reaped = 1;
			reap_reserved(&c);
			continue;
		}
		if (flg & IPC_NOWAIT) {
			r = -ENOMSG;
			break;
		}
		uint32_t got = 0;
		r = wait_turn(&c, W_RECV, mode, msgtyp, (flg & MSG_NOERROR) ? UINT64_MAX : bufsz,
			      deadline, &got);
		if (c.unlocked)
			goto out;
		if (got) {
			r = take_reserved(&c, got, msgp, bufsz);
			break;
		}
	}
	mq_unlock(&c);
out:
	mq_close(&c, id);
	return r;
}

/* ---- control ------------------------------------------------------------------------ */

static void fill_stat(struct msg_queue *q, struct msqid_ds *buf)
{
	memset(buf, 0, sizeof *buf);
	svipc__perm_to_user(&q->obj.perm, &buf->msg_perm);
	buf->msg_stime = q->stime;
	buf->msg_rtime = q->rtime;
	buf->msg_ctime = q->obj.ctime;
	buf->__msg_cbytes = q->cbytes;
	buf->msg_qnum = q->qnum;
	buf->msg_qbytes = q->qbytes;
	buf->msg_lspid = q->lspid;
	buf->msg_lrpid = q->lrpid;
}

static long msg_info(int cmd, struct msginfo *mi)
{
	struct svipc_ns_limits lim;
	int maxidx, in_use;
	int r = svipc__ns_limits(&lim);
	if (r == 0)
		r = svipc__ns_usage(SVIPC_MSG, &maxidx, &in_use);
	if (r < 0)
		return r;
	memset(mi, 0, sizeof *mi);
	mi->msgmni = (int)lim.msgmni;
	mi->msgmax = (int)lim.msgmax;
	mi->msgmnb = (int)lim.msgmnb;
	mi->msgssz = 16;
	mi->msgseg = 0xffff;
	mi->msgpool = (int)MIN(lim.msgmni * lim.msgmnb / 1024, (uint64_t)INT_MAX);
	mi->msgmap = (int)lim.msgmnb;
	mi->msgtql = (int)lim.msgmnb;
	if (cmd == MSG_INFO) {
		uint64_t msgs = 0, bytes = 0;
		for (int i = 0; i <= maxidx; i++) {
			int id = svipc__ns_index_to_id(SVIPC_MSG, i);
			struct svipc_ref ref;
			if (id < 0 || svipc__get(&svipc__msg_ops, id, &ref) < 0)
				continue;
			struct msg_queue *q = (struct msg_queue *)ref.obj;
			msgs += LOAD_RELAXED(&q->qnum);
			bytes += LOAD_RELAXED(&q->cbytes);
			svipc__obj_put(&ref);
		}
		mi->msgpool = in_use;
		mi->msgmap = (int)MIN(msgs, (uint64_t)INT_MAX);
		mi->msgtql = (int)MIN(bytes, (uint64_t)INT_MAX);
	}
	return maxidx < 0 ? 0 : maxidx;
}

/* ---- growth ----------------------------------------------------------------------- */

struct grow_arg {
	struct mcall *c;
	uint64_t cap;
};

/* Copies message oh's payload into nh of another queue, segment by segment. */
static void msg_copy(struct mq *om, uint32_t oh, struct mq *nm, uint32_t nh, size_t n)
{
	size_t k = MIN(n, (size_t)MSG_INLINE);
	memcpy(H(nm, nh)->data, H(om, oh)->data, k);
	n -= k;
	for (uint32_t s = H(om, oh)->seg, t = H(nm, nh)->seg; n;
	     s = S(om, s)->next, t = S(nm, t)->next) {
		if (!MQ_OK(om, s, om->nseg) || S(om, s)->owner != oh) {
			MQ_CORRUPT(om);
			return;
		}
		if (!MQ_OK(nm, t, nm->nseg) || S(nm, t)->owner != nh) {
			MQ_CORRUPT(nm);
			return;
		}
		k = MIN(n, (size_t)MSG_SEG_DATA);
		memcpy(S(nm, t)->data, S(om, s)->data, k);
		n -= k;
	}
}

/* Builds the larger copy of a queue: same header, same messages, same order. */
static int grow_init(void *base, size_t size, void *arg)
{
	struct grow_arg *a = arg;
	struct mq *om = &a->c->m;
	struct msg_queue *oq = om->q, *nq = base;
	uint64_t off[7];
	nq->obj = oq->obj;
	nq->obj.magic = 0;
	nq->obj.lock = 0;
	nq->obj.removed = 0;
	nq->obj.size = size;
	nq->obj.gen = oq->obj.gen + 1;
	nq->stime = oq->stime, nq->rtime = oq->rtime;
	nq->qbytes = oq->qbytes;
	nq->lspid = oq->lspid, nq->lrpid = oq->lrpid;
	nq->next_seq = oq->next_seq;
	svipc__mq_layout(a->cap, &nq->nhdr, &nq->nseg, &nq->ntnode, &nq->nbucket, off);
	nq->off_hdr = off[0], nq->off_seg = off[1], nq->off_tnode = off[2];
	nq->off_bucket = off[3], nq->off_hseq = off[4], nq->off_htype = off[5];
	nq->off_waiter = off[6];
	struct mq nm;
	if (svipc__mq_view(&nm, nq, size) < 0)
		return -EINVAL;
	if (svipc__mq_populate_fixed(&nm) < 0)
		return -ENOMEM;
	uint32_t h = oq->ghead;
	int r = 0;
	for (uint64_t n = 0; h && n < oq->qnum; n++) {
		if (!MQ_OK(om, h, om->nhdr)) {
			MQ_CORRUPT(om);
			break;
		}
		struct msg_hdr *oh = H(om, h);
		uint32_t nh = svipc__mq_alloc_msg(&nm, oh->size);
		if (!nh) {
			if (nm.nomem)
				r = -ENOMEM;
			break;
		}
		H(&nm, nh)->type = oh->type;
		H(&nm, nh)->seq = oh->seq;
		msg_copy(om, h, &nm, nh, oh->size);
		if (om->corrupt || nm.corrupt)
			break;
		STORE(&H(&nm, nh)->state, M_COMMITTED);
		if (svipc__mq_link(&nm, nh) < 0)
			break;
		nq->qnum++;
		nq->cbytes += oh->size;
		h = oh->gnext;
	}
	if (r < 0)
		return r;
	if (om->corrupt || nm.corrupt || nq->qnum != oq->qnum)
		return -EIDRM;
	STORE(&nq->obj.magic, MSG_MAGIC);
	return 0;
}

static void grow_commit(void *arg, int ok)
{
	struct grow_arg *a = arg;
	STORE(&a->c->m.q->obj.removed, ok ? SVIPC_OBJ_MOVED : 0);
}

/*
 * Called locked. Copies the queue into a file sized for `cap` and gives it
 * the queue's name; this file is then marked moved and its waiters woken,
 * so every process continues on the new file.
 */
static int msg_grow(struct mcall *c, uint64_t cap)
{
	if (cap > (1u << 30))
		return -ENOMEM;
	/*
	 * Messages handed to receivers go back in the queue and move with it;
	 * their receivers, woken below, find them in the new file. (Taking
	 * them from this file would lose them if those receivers died.)
	 */
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(&c->m, i);
		if (w->kind == W_RECV && w->msg)
			unreserve_in_place(c, w);
	}
	int dfd = svipc__ns_dirfd();
	if (dfd < 0)
		return dfd;
	uint32_t a1, a2, a3, a4;
	uint64_t off[7];
	size_t size = svipc__mq_layout(cap, &a1, &a2, &a3, &a4, off);
	char name[32];
	svipc__obj_name(name, sizeof name, SVIPC_MSG, c->m.q->obj.id);
	struct grow_arg a = { c, cap };
	int r = svipc__file_replace(dfd, name, size, 0666, grow_init, grow_commit, &a);
	if (r < 0)
		return r == -EFBIG || r == -ENOSPC ? -ENOMEM : r;
	wake_all(c);
	return 0;
}

static uint64_t lim_msgmnb(void)
{
	struct svipc_ns_limits lim;
	return svipc__ns_limits(&lim) < 0 ? 0 : lim.msgmnb;
}

static long do_msgctl(int id, int cmd, struct msqid_ds *buf)
{
	if (id < 0 || cmd < 0)
		return -EINVAL;
#ifndef __LP64__
	/* 32-bit glibc adds IPC_64 and 32-bit kernels strip it; 64-bit ones reject it. */
	cmd &= ~IPC_64;
#endif
	if (cmd == IPC_INFO || cmd == MSG_INFO)
		return msg_info(cmd, (struct msginfo *)buf);

	int stat_by_index = cmd == MSG_STAT || cmd == MSG_STAT_ANY;
	if (stat_by_index) {
		id = svipc__ns_index_to_id(SVIPC_MSG, id);
		if (id < 0)
			return id;
	} else if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID) {
		return -EINVAL;
	}
	struct msqid_ds in;
	if (cmd == IPC_SET)
		memcpy(&in, buf, sizeof in); /* the kernel copies in before the lookup */
	struct mcall c;
	long r = mq_open(id, &c);
	if (r == -EIDRM && cmd == IPC_RMID)
		return svipc__ipc_remove_damaged(&svipc__msg_ops, id);
	if (r < 0)
		return r;
	struct mq *m = &c.m;
	struct msg_queue *q = m->q;
	r = mq_lock(&c);
	if (r < 0) {
		if (r == -EIDRM) {
			mq_unlock(&c);
			if (cmd == IPC_RMID) {
				/* A damaged queue can still be removed by its owner. */
				mq_close(&c, id);
				return svipc__ipc_remove_damaged(&svipc__msg_ops, id);
			}
		}
		goto out;
	}
	if (LOAD(&q->obj.removed)) {
		r = removed_error(q, 0);
		goto unlock;
	}
	reap_reserved(&c);
	switch (cmd) {
	case MSG_STAT:
	case IPC_STAT:
	case MSG_STAT_ANY:
		if (cmd != MSG_STAT_ANY && svipc__perm_check(&q->obj.perm, S_IRUGO)) {
			r = -EACCES;
			break;
		}
		fill_stat(q, buf);
		r = stat_by_index ? id : 0;
		break;
	case IPC_SET:
		if (!svipc__perm_is_owner(&q->obj.perm)) {
			r = -EPERM;
			break;
		}
		/* What reaches the kernel through glibc is 32 bits wide. */
		in.msg_qbytes = (uint32_t)in.msg_qbytes;
		if (in.msg_qbytes > lim_msgmnb() && !svipc__capable(CAP_SYS_RESOURCE)) {
			r = -EPERM;
			break;
		}
		if (in.msg_perm.uid == (uid_t)-1 || in.msg_perm.gid == (gid_t)-1) {
			r = -EINVAL;
			break;
		}
		if (in.msg_qbytes > (uint64_t)m->nhdr) {
			/* The storage was sized at creation: move to a larger file. */
			r = msg_grow(&c, in.msg_qbytes);
			if (r < 0)
				break;
			r = -ESTALE; /* apply the change to the new file */
			break;
		}
		q->set_uid = in.msg_perm.uid;
		q->set_gid = in.msg_perm.gid;
		q->set_mode = (q->obj.perm.mode & ~0777u) | (in.msg_perm.mode & 0777u);
		q->set_qbytes = in.msg_qbytes;
		q->set_ctime = svipc__real_sec();
		STORE(&q->set_valid, 1); /* the commit point */
		apply_set(q);
		/* Like the kernel: senders may fit now, receivers re-check permissions. */
		wake_all(&c);
		r = 0;
		break;
	case IPC_RMID:
		if (!svipc__perm_is_owner(&q->obj.perm)) {
			r = -EPERM;
			break;
		}
		mq_unlock(&c);
		r = svipc__ipc_remove(&svipc__msg_ops, id);
		goto out;
	}
unlock:
	mq_unlock(&c);
out:
	mq_close(&c, id);
	return r;
}

/* ---- public API ------------------------------------------------------------------------ */

SVIPC_EXPORT int svipc_msgget(key_t key, int msgflg)
{
	return (int)svipc__ret(svipc__ipcget(&svipc__msg_ops, key, msgflg, NULL));
}

static long msgsnd_retry(int msqid, const void *msgp, size_t msgsz, int msgflg,
			 const struct timespec *timeout)
{
	int64_t deadline = svipc__deadline(timeout);
	if (deadline == -2)
		return -EINVAL;
	long r;
	do
		r = do_msgsnd(msqid, msgp, msgsz, msgflg, deadline);
	while (r == -ESTALE);
	return r;
}

static long msgrcv_retry(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg,
			 const struct timespec *timeout)
{
	int64_t deadline = svipc__deadline(timeout);
	if (deadline == -2)
		return -EINVAL;
	long r;
	do
		r = do_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg, deadline);
	while (r == -ESTALE);
	return r;
}

SVIPC_EXPORT int svipc_msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)
{
	return (int)svipc__ret(msgsnd_retry(msqid, msgp, msgsz, msgflg, NULL));
}

SVIPC_EXPORT int svipc_msgsnd_timed(int msqid, const void *msgp, size_t msgsz, int msgflg,
				    const struct timespec *timeout)
{
	return (int)svipc__ret(msgsnd_retry(msqid, msgp, msgsz, msgflg, timeout));
}

SVIPC_EXPORT ssize_t svipc_msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)
{
	return svipc__ret(msgrcv_retry(msqid, msgp, msgsz, msgtyp, msgflg, NULL));
}

SVIPC_EXPORT ssize_t svipc_msgrcv_timed(int msqid, void *msgp, size_t msgsz, long msgtyp,
					int msgflg, const struct timespec *timeout)
{
	return svipc__ret(msgrcv_retry(msqid, msgp, msgsz, msgtyp, msgflg, timeout));
}

SVIPC_EXPORT int svipc_msgctl(int msqid, int cmd, struct msqid_ds *buf)
{
	long r;
	do
		r = do_msgctl(msqid, cmd, buf);
	while (r == -ESTALE);
	return (int)svipc__ret(r);
}

/* ---- the admin tools' view (inspect.h) ----------------------------------------------- */

/* What a blocked call waits for, in words. */
static void describe_waiter(const struct msg_waiter *w, char *buf, size_t len)
{
	unsigned long long size = LOAD_RELAXED(&w->size);
	long long typ = LOAD_RELAXED(&w->msgtyp);
	if (LOAD_RELAXED(&w->kind) == W_SEND) {
		snprintf(buf, len, "msgsnd of %llu bytes (queue full)", size);
		return;
	}
	switch (LOAD_RELAXED(&w->mode)) {
	case SEARCH_EQUAL:
		snprintf(buf, len, "msgrcv type %lld, up to %llu bytes", typ, size);
		break;
	case SEARCH_NOTEQUAL:
		snprintf(buf, len, "msgrcv any type but %lld, up to %llu bytes", typ, size);
		break;
	case SEARCH_LESSEQUAL:
		snprintf(buf, len, "msgrcv lowest type <= %lld, up to %llu bytes", typ, size);
		break;
	default:
		snprintf(buf, len, "msgrcv any type, up to %llu bytes", size);
	}
}

static void msg_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg)
{
	struct mq m;
	if (svipc__mq_view(&m, (struct msg_queue *)ref->obj, ref->size) < 0) {
		info->corrupt = 1;
		return;
	}
	fill_stat(m.q, &info->ds.msg);
	int64_t now = svipc__mono_ns();
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		const struct msg_waiter *w = W(&m, i);
		int kind = LOAD_RELAXED(&w->kind);
		if (kind != W_RECV && kind != W_SEND)
			continue;
		struct svipc_waiter_info wi = { .pid = LOAD_RELAXED(&w->pid),
						.alive = svipc__proc_alive(LOAD_RELAXED(&w->token)) };
		int64_t since = LOAD_RELAXED(&w->since);
		wi.waited_s = since > 0 && now > since ? (double)(now - since) / 1e9 : 0;
		describe_waiter(w, wi.what, sizeof wi.what);
		info->nwaiters++;
		if (each)
			each(arg, &wi);
	}
	info->nwaiters += LOAD_RELAXED(&m.q->noverflow); /* slotless: no pid to show */
}

/* The waiter lists against the slots: each used slot once, in arrival order. */
static void waiters_check(struct mq *m, struct svipc_report *rep)
{
	uint32_t listed = 0, used = 0;
	uint8_t seen[MSG_NWAITERS + 1] = { 0 };
	for (int kind = W_RECV; kind <= W_SEND; kind++) {
		uint32_t prev = 0, last = 0, k = 0;
		FOR_WAITERS(m, kind, i, n) {
			struct msg_waiter *w = W(m, i);
			if (w->kind != kind || seen[i] || w->prev != prev ||
			    (k && (int32_t)(w->arrival - last) <= 0)) {
				svipc__report(rep, SVIPC_PROBLEM, "%s waiter list broken at slot %u",
					      kind == W_RECV ? "receiver" : "sender", i);
				break;
			}
			seen[i] = 1;
			prev = i;
			last = w->arrival;
			k++;
		}
		if (*list_tail(m, kind) != prev && !m->corrupt)
			svipc__report(rep, SVIPC_PROBLEM, "%s waiter list's tail is wrong",
				      kind == W_RECV ? "receiver" : "sender");
		listed += k;
	}
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++) {
		struct msg_waiter *w = W(m, i);
		if (w->kind == W_FREE)
			continue;
		used++;
		if (w->kind != W_RECV && w->kind != W_SEND)
			svipc__report(rep, SVIPC_PROBLEM, "waiter slot %u in state %d", i, w->kind);
		else if (!svipc__proc_alive(w->token))
			svipc__report(rep, SVIPC_CLEANUP, "waiter slot %u: process %d died blocked "
				      "(its slot is freed by the queue's next send or wait)", i, w->pid);
		if (w->msg && (w->kind != W_RECV || !MQ_OK(m, w->msg, m->nhdr) ||
			       H(m, w->msg)->state != M_RESERVED))
			svipc__report(rep, SVIPC_PROBLEM, "waiter slot %u holds message %u, which is "
				      "not handed over", i, w->msg);
	}
	if (used != listed)
		svipc__report(rep, SVIPC_PROBLEM, "%u waiter slots in use, %u in the lists", used, listed);
}

static void msg_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair)
{
	struct mcall c = { .ref = *ref };
	c.ref.entry = NULL;
	if (svipc__mq_view(&c.m, (struct msg_queue *)ref->obj, ref->size) < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "its layout is invalid");
		return;
	}
	int r = mq_lock(&c);
	if (r == -EIDRM) {
		svipc__report(rep, SVIPC_PROBLEM, "damaged: recovery could not rebuild it");
		mq_unlock(&c);
		return;
	}
	if (r < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "cannot take its lock (%s)", strerror(-r));
		return;
	}
	struct msg_queue *q = c.m.q;
	if (LOAD(&q->set_valid))
		svipc__report(rep, SVIPC_PROBLEM, "an IPC_SET record is pending outside a call");
	if (q->qbytes > q->nhdr)
		svipc__report(rep, SVIPC_PROBLEM, "msg_qbytes %llu is beyond the file's capacity %u",
			      (unsigned long long)q->qbytes, q->nhdr);
	int before = rep->problems;
	svipc__mq_check(&c.m, rep);
	waiters_check(&c.m, rep);
	c.m.corrupt = 0; /* what the check saw is reported, not acted on */
	if (repair && rep->problems > before) {
		mq_recover(&c);
		svipc__report(rep, SVIPC_NOTE, "rebuilt from its committed messages%s",
			      LOAD(&q->obj.corrupt) ? ", which failed: it is unusable" : "");
	}
	mq_unlock(&c);
}

/* msg_index.c - a queue's storage and indexes: free lists, type lists, heaps. */
#include "msg.h"
#include "inspect.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * Selection without scanning the queue:
 *  - msgtyp == 0: the head of the queue-order list;
 *  - msgtyp > 0: the head of that type's FIFO, found through a hash of types;
 *  - MSG_EXCEPT: a min-heap of types ordered by the seq of their oldest
 *    message; the answer is the root, or the smaller child of the root when
 *    the root has the excluded type;
 *  - msgtyp < 0: a min-heap of types ordered by type; the lowest type is the
 *    root, and it qualifies iff it is <= |msgtyp|.
 * All of it is derived from the committed message headers, so recovery can
 * rebuild it from scratch (svipc__mq_rebuild).
 */

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 16;
	while (p < v && p < (1u << 16))
		p <<= 1;
	return p;
}

static uint64_t align64(uint64_t v)
{
	return (v + 63) & ~(uint64_t)63;
}

size_t svipc__mq_layout(uint64_t cap, uint32_t *nhdr, uint32_t *nseg, uint32_t *ntnode,
			uint32_t *nbucket, uint64_t off[7])
{
	*nhdr = (uint32_t)MAX(cap, 1);
	*nseg = (uint32_t)(cap / 25 + 1);
	*ntnode = *nhdr;
	*nbucket = pow2_at_least(cap / 8);
	uint64_t o = align64(sizeof(struct msg_queue));
	off[0] = o; o = align64(o + (uint64_t)*nhdr * sizeof(struct msg_hdr));
	off[1] = o; o = align64(o + (uint64_t)*nseg * sizeof(struct msg_seg));
	off[2] = o; o = align64(o + (uint64_t)*ntnode * sizeof(struct msg_tnode));
	off[3] = o; o = align64(o + (uint64_t)*nbucket * 4);
	off[4] = o; o = align64(o + (uint64_t)*ntnode * 4);
	off[5] = o; o = align64(o + (uint64_t)*ntnode * 4);
	off[6] = o; o = align64(o + (uint64_t)MSG_NWAITERS * sizeof(struct msg_waiter));
	return (size_t)o;
}

int svipc__mq_view(struct mq *m, struct msg_queue *q, size_t size)
{
	uint32_t nhdr, nseg, ntnode, nbucket;
	uint64_t off[7];
	memset(m, 0, sizeof *m);
	m->q = q;
	uint32_t qh = LOAD_RELAXED(&q->nhdr);
	if (qh == 0 || qh > (1u << 30))
		return -EIDRM;
	size_t need = svipc__mq_layout(qh, &nhdr, &nseg, &ntnode, &nbucket, off);
	uint64_t qoff[7] = { q->off_hdr, q->off_seg, q->off_tnode, q->off_bucket,
			     q->off_hseq, q->off_htype, q->off_waiter };
	if (need > size || memcmp(off, qoff, sizeof off) != 0 || q->nseg != nseg ||
	    q->ntnode != ntnode || q->nbucket != nbucket)
		return -EIDRM;
	char *b = (char *)q;
	m->hdr = (struct msg_hdr *)(b + off[0]);
	m->seg = (struct msg_seg *)(b + off[1]);
	m->tn = (struct msg_tnode *)(b + off[2]);
	m->bucket = (uint32_t *)(b + off[3]);
	m->hseq = (uint32_t *)(b + off[4]);
	m->htype = (uint32_t *)(b + off[5]);
	m->w = (struct msg_waiter *)(b + off[6]);
	m->nhdr = nhdr, m->nseg = nseg, m->ntnode = ntnode, m->nbucket = nbucket;
	return 0;
}

/* ---- type hash -------------------------------------------------------------- */

static uint32_t type_hash(struct mq *m, int64_t t)
{
	uint64_t x = (uint64_t)t * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) & (m->nbucket - 1);
}

static uint32_t tnode_find(struct mq *m, int64_t type)
{
	uint32_t i = m->q->thint;
	if (MQ_OK(m, i, m->ntnode) && T(m, i)->type == type && T(m, i)->head)
		return i;
	i = m->bucket[type_hash(m, type)];
	for (uint32_t n = 0; i && n <= m->ntnode; n++) {
		if (!MQ_OK(m, i, m->ntnode))
			break;
		if (T(m, i)->type == type) {
			m->q->thint = i;
			return i;
		}
		i = T(m, i)->hnext;
	}
	if (i)
		MQ_CORRUPT(m);
	return 0;
}

static void tnode_unhash(struct mq *m, uint32_t t)
{
	uint32_t *pp = &m->bucket[type_hash(m, T(m, t)->type)];
	for (uint32_t n = 0; *pp && n <= m->ntnode; n++) {
		if (!MQ_OK(m, *pp, m->ntnode))
			break;
		if (*pp == t) {
			*pp = T(m, t)->hnext;
			return;
		}
		pp = &T(m, *pp)->hnext;
	}
	MQ_CORRUPT(m);
}

/* ---- heaps ------------------------------------------------------------------ */

enum { HEAP_SEQ = 0, HEAP_TYPE = 1 };

static uint32_t *heap_arr(struct mq *m, int which)
{
	return which == HEAP_SEQ ? m->hseq : m->htype;
}

static uint32_t *heap_pos(struct mq *m, int which, uint32_t t)
{
	return which == HEAP_SEQ ? &T(m, t)->pos_seq : &T(m, t)->pos_type;
}

/* a < b in heap order; ties broken by node index so the order is total. */
static int heap_less(struct mq *m, int which, uint32_t a, uint32_t b)
{
	if (which == HEAP_TYPE) {
		int64_t x = T(m, a)->type, y = T(m, b)->type;
		return x < y || (x == y && a < b);
	}
	uint32_t ha = T(m, a)->head, hb = T(m, b)->head;
	if (!MQ_OK(m, ha, m->nhdr) || !MQ_OK(m, hb, m->nhdr)) {
		MQ_CORRUPT(m);
		return 0;
	}
	return H(m, ha)->seq < H(m, hb)->seq;
}

static void heap_set(struct mq *m, int which, uint32_t pos, uint32_t t)
{
	if (pos < 1 || pos > m->ntnode) {
		MQ_CORRUPT(m);
		return;
	}
	heap_arr(m, which)[pos - 1] = t;
	*heap_pos(m, which, t) = pos;
}

static uint32_t heap_at(struct mq *m, int which, uint32_t pos)
{
	if (pos < 1 || pos > m->ntnode) {
		MQ_CORRUPT(m);
		return 0;
	}
	uint32_t t = heap_arr(m, which)[pos - 1];
	if (!MQ_OK(m, t, m->ntnode)) {
		MQ_CORRUPT(m);
		return 0;
	}
	return t;
}

static void heap_up(struct mq *m, int which, uint32_t pos)
{
	uint32_t t = heap_at(m, which, pos);
	while (t && pos > 1 && !m->corrupt) {
		uint32_t p = heap_at(m, which, pos / 2);
		if (!p || !heap_less(m, which, t, p))
			break;
		heap_set(m, which, pos, p);
		pos /= 2;
	}
	if (t)
		heap_set(m, which, pos, t);
}

static void heap_down(struct mq *m, int which, uint32_t pos)
{
	uint32_t n = m->q->ntypes;
	uint32_t t = heap_at(m, which, pos);
	while (t && !m->corrupt) {
		uint32_t c = pos * 2;
		if (c > n)
			break;
		uint32_t ct = heap_at(m, which, c);
		if (c + 1 <= n) {
			uint32_t rt = heap_at(m, which, c + 1);
			if (rt && ct && heap_less(m, which, rt, ct))
				c++, ct = rt;
		}
		if (!ct || !heap_less(m, which, ct, t))
			break;
		heap_set(m, which, pos, ct);
		pos = c;
	}
	if (t)
		heap_set(m, which, pos, t);
}

static void heap_remove(struct mq *m, int which, uint32_t t)
{
	uint32_t n = m->q->ntypes;
	uint32_t pos = *heap_pos(m, which, t);
	if (pos < 1 || pos > n || heap_arr(m, which)[pos - 1] != t) {
		MQ_CORRUPT(m);
		return;
	}
	uint32_t last = heap_at(m, which, n);
	if (!last)
		return;
	if (pos != n) {
		heap_set(m, which, pos, last);
		/* ntypes is decremented by the caller after both heaps are done. */
		m->q->ntypes = n - 1;
		heap_up(m, which, pos);
		heap_down(m, which, *heap_pos(m, which, last));
		m->q->ntypes = n;
	}
}

/* ---- allocation ------------------------------------------------------------- */

/*
 * The one allocator of every array in the file: pop the free list (whose
 * links live in each element at link_off), else take the next never-used
 * element from the bump pointer. The popped index is checked against the
 * array's size before its link is read. Returns a 1-based index, 0 if full
 * (or corrupt).
 */
static inline uint32_t pool_alloc(struct mq *m, uint32_t *freel, uint32_t *bump, uint32_t n,
				  void *base, size_t elem, size_t link_off, int populate)
{
	uint32_t i = *freel;
	if (i) {
		if (!MQ_OK(m, i, n)) {
			MQ_CORRUPT(m);
			return 0;
		}
		*freel = *(uint32_t *)((char *)base + (size_t)(i - 1) * elem + link_off);
		return i;
	}
	if (*bump < n) {
		/*
		 * A new element: the array's first, or the first in its page,
		 * populates it, unless the caller did (populate 0: type nodes are
		 * reserved before the commit point, and taken after it).
		 */
		char *at = (char *)base + (size_t)*bump * elem;
		if (populate && (*bump == 0 || ((uintptr_t)at & 4095) < elem) &&
		    svipc__populate(at, elem) < 0) {
			m->nomem = 1;
			return 0;
		}
		return ++*bump;
	}
	return 0;
}

static uint32_t alloc_hdr(struct mq *m)
{
	struct msg_queue *q = m->q;
	uint32_t i = q->free_hdr;
	if (i && MQ_OK(m, i, m->nhdr) && H(m, i)->state != M_FREE) {
		MQ_CORRUPT(m); /* a free list must hold free headers only */
		return 0;
	}
	return pool_alloc(m, &q->free_hdr, &q->bump_hdr, m->nhdr, m->hdr,
			  sizeof(struct msg_hdr), offsetof(struct msg_hdr, gnext), 1);
}

static void free_hdr(struct mq *m, uint32_t i)
{
	H(m, i)->gnext = m->q->free_hdr;
	m->q->free_hdr = i;
}

static uint32_t alloc_seg(struct mq *m)
{
	return pool_alloc(m, &m->q->free_seg, &m->q->bump_seg, m->nseg, m->seg,
			  sizeof(struct msg_seg), offsetof(struct msg_seg, next), 1);
}

static uint32_t alloc_tnode(struct mq *m)
{
	return pool_alloc(m, &m->q->free_tnode, &m->q->bump_tnode, m->ntnode, m->tn,
			  sizeof(struct msg_tnode), offsetof(struct msg_tnode, hnext), 0);
}

/*
 * The pages a new type would use (its node, its places in the heaps), made
 * ready before a message is committed: linking it comes after the commit
 * point, where a failure would have no way back.
 */
static int reserve_type(struct mq *m)
{
	struct msg_queue *q = m->q;
	uint32_t t = q->bump_tnode, pos = q->ntypes;
	if (!q->free_tnode && t < m->ntnode &&
	    (t == 0 || ((uintptr_t)T(m, t + 1) & 4095) < sizeof(struct msg_tnode)) &&
	    svipc__populate(T(m, t + 1), sizeof(struct msg_tnode)) < 0)
		return -1;
	/* (The heaps' first page is populated with the queue: not asked again at every send.) */
	if (pos < m->ntnode && ((uintptr_t)&m->hseq[pos] & 4095) < 4 &&
	    (svipc__populate(&m->hseq[pos], 4) < 0 || svipc__populate(&m->htype[pos], 4) < 0))
		return -1;
	return 0;
}

/* The parts of a queue file every call may read, populated when it is made. */
int svipc__mq_populate_fixed(struct mq *m)
{
	if (svipc__populate(m->q, sizeof *m->q) < 0 ||
	    svipc__populate(m->bucket, (size_t)m->nbucket * 4) < 0 ||
	    svipc__populate(m->w, (size_t)MSG_NWAITERS * sizeof(struct msg_waiter)) < 0 ||
	    svipc__populate(m->hseq, 4) < 0 || svipc__populate(m->htype, 4) < 0)
		return -ENOMEM;
	return 0;
}

/* Allocates a header (state M_WRITING) and its segment chain; 0 if full (or m->nomem). */
uint32_t svipc__mq_alloc_msg(struct mq *m, uint32_t size)
{
	if (reserve_type(m) < 0) {
		m->nomem = 1;
		return 0;
	}
	uint32_t h = alloc_hdr(m);
	if (!h)
		return 0;
	struct msg_hdr *hp = H(m, h);
	hp->state = M_WRITING;
	hp->size = size;
	hp->seg = 0;
	uint32_t *link = &hp->seg;
	for (uint32_t left = size > MSG_INLINE ? size - MSG_INLINE : 0; left;) {
		uint32_t s = alloc_seg(m);
		if (!s)
			goto fail;

		S(m, s)->next = 0;
		S(m, s)->owner = h;
		*link = s;
		link = &S(m, s)->next;
		left -= MIN(left, MSG_SEG_DATA);
	}
	return h;
fail:
	svipc__mq_free_msg_chain(m, h);
	return 0;
}

/*
 * Returns a header and its segments to the free lists. The chain goes back
 * whole, in order, at the front of the segment list, so the next message
 * of the same size gets the same segments in the same (usually ascending,
 * contiguous) order: copies then stream through memory instead of chasing
 * scattered pointers.
 */
void svipc__mq_free_msg_chain(struct mq *m, uint32_t h)
{
	struct msg_hdr *hp = H(m, h);
	uint32_t first = hp->seg, last = 0;
	for (uint32_t s = first, n = 0; s; n++) {
		if (!MQ_OK(m, s, m->nseg) || n >= m->nseg) {
			MQ_CORRUPT(m);
			first = 0;
			break;
		}
		last = s;
		s = S(m, s)->next;
	}
	if (first && last) {
		S(m, last)->next = m->q->free_seg;
		m->q->free_seg = first;
	}
	hp->seg = 0;
	STORE(&hp->state, M_FREE);
	free_hdr(m, h);
}

/* ---- link / unlink ------------------------------------------------------------ */

/*
 * Links committed message h into the indexes at its place in seq order:
 * at the tail, except for a reserved message handed back by a receiver that
 * died (or never came), which goes back among the younger ones.
 */
int svipc__mq_link(struct mq *m, uint32_t h)
{
	struct msg_queue *q = m->q;
	struct msg_hdr *hp = H(m, h);
	/* queue order */
	uint32_t after = q->gtail;
	for (uint32_t n = 0; after && n <= m->nhdr; n++) {
		if (!MQ_OK(m, after, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		if (H(m, after)->seq < hp->seq)
			break;
		after = H(m, after)->gprev;
	}
	hp->gprev = after;
	hp->gnext = after ? H(m, after)->gnext : q->ghead;
	if (hp->gnext) {
		if (!MQ_OK(m, hp->gnext, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		H(m, hp->gnext)->gprev = h;
	} else {
		q->gtail = h;
	}
	if (after)
		H(m, after)->gnext = h;
	else
		q->ghead = h;
	/* type FIFO */
	hp->tnext = 0;
	uint32_t t = tnode_find(m, hp->type);
	if (m->corrupt)
		return -EIDRM;
	if (t) {
		struct msg_tnode *tp = T(m, t);
		if (!MQ_OK(m, tp->tail, m->nhdr) || !MQ_OK(m, tp->head, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		if (H(m, tp->tail)->seq < hp->seq) {
			H(m, tp->tail)->tnext = h;
			tp->tail = h;
			return 0;
		}
		if (hp->seq < H(m, tp->head)->seq) {
			/* The new oldest of its type: it moves up in the seq heap. */
			hp->tnext = tp->head;
			tp->head = h;
			if (q->ntypes > 1)
				heap_up(m, HEAP_SEQ, tp->pos_seq);
			return m->corrupt ? -EIDRM : 0;
		}
		uint32_t p = tp->head;
		for (uint32_t n = 0; n <= m->nhdr; n++) {
			uint32_t nx = H(m, p)->tnext;
			if (nx && !MQ_OK(m, nx, m->nhdr))
				break;
			if (!nx || H(m, nx)->seq > hp->seq) {
				hp->tnext = nx;
				H(m, p)->tnext = h;
				return 0;
			}
			if (!MQ_OK(m, nx, m->nhdr))
				break;
			p = nx;
		}
		return MQ_CORRUPT(m), -EIDRM;
	}
	t = alloc_tnode(m);
	if (!t || q->ntypes >= m->ntnode)
		return MQ_CORRUPT(m), -EIDRM;
	struct msg_tnode *tp = T(m, t);
	tp->type = hp->type;
	tp->head = tp->tail = h;
	uint32_t b = type_hash(m, hp->type);
	tp->hnext = m->bucket[b];
	m->bucket[b] = t;
	uint32_t pos = ++q->ntypes;
	heap_set(m, HEAP_SEQ, pos, t);
	heap_set(m, HEAP_TYPE, pos, t);
	if (pos > 1) {
		heap_up(m, HEAP_SEQ, pos);
		heap_up(m, HEAP_TYPE, pos);
	}
	return m->corrupt ? -EIDRM : 0;
}

/* Unlinks h, which must be the oldest message of its type. */
int svipc__mq_unlink(struct mq *m, uint32_t h)
{
	struct msg_queue *q = m->q;
	struct msg_hdr *hp = H(m, h);
	uint32_t t = tnode_find(m, hp->type);
	if (!t || T(m, t)->head != h)
		return MQ_CORRUPT(m), -EIDRM;
	if (hp->gprev) {
		if (!MQ_OK(m, hp->gprev, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		H(m, hp->gprev)->gnext = hp->gnext;
	} else {
		q->ghead = hp->gnext;
	}
	if (hp->gnext) {
		if (!MQ_OK(m, hp->gnext, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		H(m, hp->gnext)->gprev = hp->gprev;
	} else {
		q->gtail = hp->gprev;
	}
	struct msg_tnode *tp = T(m, t);
	if (hp->tnext) {
		if (!MQ_OK(m, hp->tnext, m->nhdr))
			return MQ_CORRUPT(m), -EIDRM;
		tp->head = hp->tnext;
		if (q->ntypes > 1)
			heap_down(m, HEAP_SEQ, tp->pos_seq);
		return m->corrupt ? -EIDRM : 0;
	}
	/* The last message of its type: the type leaves both heaps. */
	if (q->ntypes > 1) {
		heap_remove(m, HEAP_SEQ, t);
		heap_remove(m, HEAP_TYPE, t);
	} else if (q->ntypes != 1 || tp->pos_seq != 1 || tp->pos_type != 1) {
		return MQ_CORRUPT(m), -EIDRM;
	}
	q->ntypes--;
	tnode_unhash(m, t);
	tp->head = tp->tail = 0;
	tp->hnext = q->free_tnode;
	q->free_tnode = t;
	return m->corrupt ? -EIDRM : 0;
}

int svipc__mq_match(int mode, int64_t typ, int64_t msgtype)
{
	switch (mode) {
	case SEARCH_ANY:
		return 1;
	case SEARCH_EQUAL:
		return msgtype == typ;
	case SEARCH_NOTEQUAL:
		return msgtype != typ;
	case SEARCH_LESSEQUAL:
		return msgtype <= typ;
	}
	return 0;
}

uint32_t svipc__mq_find(struct mq *m, int mode, int64_t typ)
{
	struct msg_queue *q = m->q;
	uint32_t h = 0, t;
	uint32_t n = q->ntypes;
	if (n > m->ntnode)
		return MQ_CORRUPT(m), 0;
	switch (mode) {
	case SEARCH_ANY:
		h = q->ghead;
		break;
	case SEARCH_EQUAL:
		t = tnode_find(m, typ);
		h = t ? T(m, t)->head : 0;
		break;
	case SEARCH_NOTEQUAL:
		if (!n)
			return 0;
		t = heap_at(m, HEAP_SEQ, 1);
		if (t && T(m, t)->type == typ) {
			uint32_t a = n >= 2 ? heap_at(m, HEAP_SEQ, 2) : 0;
			uint32_t b = n >= 3 ? heap_at(m, HEAP_SEQ, 3) : 0;
			t = (a && b) ? (heap_less(m, HEAP_SEQ, a, b) ? a : b) : a;
		}
		h = t ? T(m, t)->head : 0;
		break;
	case SEARCH_LESSEQUAL:
		if (!n)
			return 0;
		t = heap_at(m, HEAP_TYPE, 1);
		h = (t && T(m, t)->type <= typ) ? T(m, t)->head : 0;
		break;
	case SEARCH_NUMBER:
		if (typ < 0 || (uint64_t)typ >= q->qnum)
			return 0;
		h = q->ghead;
		for (int64_t i = 0; i < typ && h; i++) {
			if (!MQ_OK(m, h, m->nhdr))
				return MQ_CORRUPT(m), 0;
			h = H(m, h)->gnext;
		}
		break;
	}
	if (m->corrupt)
		return 0;
	if (!h)
		return 0;
	/* What the indexes point at must be what was asked for. */
	if (!MQ_OK(m, h, m->nhdr) || H(m, h)->state != M_COMMITTED || H(m, h)->type < 1 ||
	    H(m, h)->size > q->cbytes || !svipc__mq_size_fits(m, H(m, h)->size) ||
	    (mode != SEARCH_NUMBER && !svipc__mq_match(mode, typ, H(m, h)->type)))
		return MQ_CORRUPT(m), 0;
	return h;
}

/* ---- recovery ----------------------------------------------------------------- */

static uint32_t *gnext_link(void *arg, uint32_t i)
{
	return &H((struct mq *)arg, i)->gnext;
}

static int seq_before(void *arg, uint32_t a, uint32_t b)
{
	struct mq *m = arg;
	return H(m, a)->seq < H(m, b)->seq;
}

/* 1 if reserved message h is a live receiver's (waiters_claim kept it in w->msg). */
static int reserved_kept(struct mq *m, uint32_t h)
{
	for (uint32_t i = 1; i <= MSG_NWAITERS; i++)
		if (W(m, i)->kind == W_RECV && W(m, i)->msg == h)
			return 1;
	return 0;
}

/*
 * Rebuilds every derived structure from the message headers: committed
 * messages stay (in seq order), and so do reserved ones that a live
 * receiver's waiter slot still names (they stay out of the indexes);
 * anything else is freed. Also validates each committed message's segment
 * chain; a message whose chain is broken or shared is dropped rather than
 * trusted. Counters are recomputed. Safe to run any number of times, and
 * to be cut short by death at any point. It allocates nothing (it runs
 * when a process died, perhaps for want of memory): segments in use are
 * marked in their owner field, and live messages are chained and sorted
 * through their own queue links.
 */
void svipc__mq_rebuild(struct mq *m)
{
	struct msg_queue *q = m->q;
	uint32_t bh = MIN(q->bump_hdr, m->nhdr), bs = MIN(q->bump_seg, m->nseg);
	q->bump_hdr = bh;
	q->bump_seg = bs;
	for (uint32_t s = 1; s <= bs; s++) /* marks of a recovery cut short */
		S(m, s)->owner &= ~MSG_SEG_MARK;
	uint32_t nlive = 0, nreserved = 0, live = 0, *live_tail = &live;
	uint64_t bytes = 0, maxseq = 0;
	for (uint32_t i = 1; i <= bh; i++) {
		struct msg_hdr *hp = H(m, i);
		/* A message handed to a live receiver stays its own; others go back. */
		int reserved = hp->state == M_RESERVED && reserved_kept(m, i);
		if (hp->state == M_RESERVED && !reserved)
			hp->state = M_COMMITTED;
		if (hp->state != M_COMMITTED && !reserved)
			continue;
		uint64_t size = hp->size;
		uint64_t need = size > MSG_INLINE ?
			(size - MSG_INLINE + MSG_SEG_DATA - 1) / MSG_SEG_DATA : 0;
		uint32_t s = hp->seg, k = 0;
		int ok = hp->type >= 1 && need <= bs;
		for (; ok && s && k < need; k++) {
			/* A marked segment is already another chain's, or this one's (a loop). */
			if (!MQ_OK(m, s, bs) || S(m, s)->owner != i) {
				ok = 0;
				break;
			}
			S(m, s)->owner = i | MSG_SEG_MARK;
			s = S(m, s)->next;
		}
		if (!ok || k != need || (need && s) || (!need && hp->seg)) {
			/* Undo the marks of a chain we reject. */
			for (uint32_t s2 = hp->seg, k2 = 0; k2 < k && MQ_OK(m, s2, bs); k2++) {
				S(m, s2)->owner = i;
				s2 = S(m, s2)->next;
			}
			hp->state = M_FREE;
			continue;
		}
		if (hp->seq >= maxseq)
			maxseq = hp->seq + 1;
		if (reserved) {
			nreserved++;
			continue; /* handed over: not counted, as in the kernel */
		}
		*live_tail = i;
		live_tail = &hp->gnext;
		nlive++;
		bytes += hp->size;
	}
	*live_tail = 0;
	live = svipc__chain_sort(live, gnext_link, seq_before, m);

	/* Free lists from scratch, lowest index first. */
	q->free_hdr = 0;
	for (uint32_t i = bh; i >= 1; i--) {
		if (H(m, i)->state == M_COMMITTED || H(m, i)->state == M_RESERVED)
			continue;
		H(m, i)->state = M_FREE;
		H(m, i)->seg = 0;
		free_hdr(m, i);
	}
	q->free_seg = 0;
	for (uint32_t s = bs; s >= 1; s--) {
		struct msg_seg *sp = S(m, s);
		if (sp->owner & MSG_SEG_MARK) {
			sp->owner &= ~MSG_SEG_MARK;
			continue;
		}
		sp->next = q->free_seg;
		q->free_seg = s;
	}
	q->free_tnode = 0;
	q->bump_tnode = 0;
	q->thint = 0;
	q->ntypes = 0;
	memset(m->bucket, 0, (size_t)m->nbucket * 4);
	q->ghead = q->gtail = 0;
	m->corrupt = 0;
	while (live) {
		uint32_t next = H(m, live)->gnext;
		svipc__mq_link(m, live);
		live = next;
	}
	STORE_RELAXED(&q->qnum, nlive);
	STORE_RELAXED(&q->cbytes, bytes);
	q->nreserved = nreserved;
	if (q->next_seq < maxseq)
		q->next_seq = maxseq;
}

/* ---- svipcadm check ------------------------------------------------------------ */

/*
 * Checks the messages and their indexes against each other, as recovery
 * would rebuild them: each committed message's segment chain, the counters,
 * queue order, each type's FIFO, and that no header or segment is lost to
 * both the queue and the free lists. Called locked; writes nothing.
 */
void svipc__mq_check(struct mq *m, struct svipc_report *rep)
{
	struct msg_queue *q = m->q;
	uint32_t bh = q->bump_hdr, bs = q->bump_seg;
	if (bh > m->nhdr || bs > m->nseg) {
		svipc__report(rep, SVIPC_PROBLEM, "bump pointers %u/%u beyond the arrays (%u/%u)", bh,
			      bs, m->nhdr, m->nseg);
		return;
	}
	uint8_t *seen = calloc((size_t)bh + 1, 1), *used = calloc((size_t)bs + 1, 1);
	if (!seen || !used) {
		free(seen);
		free(used);
		svipc__report(rep, SVIPC_PROBLEM, "out of memory for the check");
		return;
	}
	uint64_t qnum = 0, bytes = 0, nreserved = 0, nfree = 0;
	for (uint32_t i = 1; i <= bh; i++) {
		struct msg_hdr *hp = H(m, i);
		if (hp->state == M_FREE)
			continue;
		if (hp->state != M_COMMITTED && hp->state != M_RESERVED) {
			svipc__report(rep, SVIPC_PROBLEM, "message slot %u left in state %u outside a call",
				      i, hp->state);
			continue;
		}
		uint64_t size = hp->size; /* 64 bits: a size near 4 GiB must not wrap the count */
		uint64_t need = size > MSG_INLINE ? (size - MSG_INLINE + MSG_SEG_DATA - 1) / MSG_SEG_DATA : 0;
		uint32_t s = hp->seg, k = 0;
		for (; s && k < need && MQ_OK(m, s, bs) && !used[s] && S(m, s)->owner == i; k++) {
			used[s] = 1;
			s = S(m, s)->next;
		}
		if (hp->type < 1 || k != need || s || !svipc__mq_size_fits(m, size))
			svipc__report(rep, SVIPC_PROBLEM, "message slot %u (type %lld, %u bytes): broken "
				      "segment chain (%u of %llu segments); recovery would drop it", i,
				      (long long)hp->type, hp->size, k, (unsigned long long)need);
		if (hp->state == M_RESERVED) {
			nreserved++;
			continue;
		}
		qnum++;
		bytes += hp->size;
	}
	if (qnum != q->qnum || bytes != q->cbytes || nreserved != q->nreserved)
		svipc__report(rep, SVIPC_PROBLEM, "counters say %llu messages, %llu bytes, %u handed "
			      "over; the messages say %llu, %llu, %llu",
			      (unsigned long long)q->qnum, (unsigned long long)q->cbytes, q->nreserved,
			      (unsigned long long)qnum, (unsigned long long)bytes,
			      (unsigned long long)nreserved);

	/* Queue order: every queued message once, oldest first. */
	uint64_t n = 0, last = 0;
	uint32_t prev = 0, i = q->ghead;
	for (; i && n <= bh; n++, prev = i, i = H(m, i)->gnext) {
		if (!MQ_OK(m, i, bh) || H(m, i)->state != M_COMMITTED || seen[i] ||
		    H(m, i)->gprev != prev || (n && H(m, i)->seq <= last)) {
			svipc__report(rep, SVIPC_PROBLEM, "queue order broken at slot %u (message %llu)",
				      i, (unsigned long long)n + 1);
			break;
		}
		seen[i] = 1;
		last = H(m, i)->seq;
	}
	if (!i && (n != qnum || q->gtail != prev))
		svipc__report(rep, SVIPC_PROBLEM, "queue order holds %llu messages of %llu",
			      (unsigned long long)n, (unsigned long long)qnum);

	/* Each type's FIFO, found through the type index as receivers find it. */
	uint64_t in_fifos = 0, ntypes = 0;
	memset(seen, 0, (size_t)bh + 1);
	for (uint32_t h = q->ghead, g = 0; h && MQ_OK(m, h, bh) && g <= bh; h = H(m, h)->gnext, g++) {
		if (seen[h])
			continue;
		int64_t type = H(m, h)->type;
		uint32_t t = tnode_find(m, type);
		if (!t || T(m, t)->head != h) {
			svipc__report(rep, SVIPC_PROBLEM, "type %lld: its index does not start at its "
				      "oldest message", (long long)type);
			continue;
		}
		ntypes++;
		uint32_t x = h, k = 0, tail = 0;
		for (; x && k <= bh; k++, tail = x, x = H(m, x)->tnext) {
			if (!MQ_OK(m, x, bh) || seen[x] || H(m, x)->type != type ||
			    H(m, x)->state != M_COMMITTED) {
				svipc__report(rep, SVIPC_PROBLEM, "type %lld: its FIFO is broken at slot %u",
					      (long long)type, x);
				break;
			}
			seen[x] = 1;
		}
		if (!x && T(m, t)->tail != tail)
			svipc__report(rep, SVIPC_PROBLEM, "type %lld: its FIFO's tail is wrong",
				      (long long)type);
		in_fifos += k;
	}
	if (m->corrupt)
		svipc__report(rep, SVIPC_PROBLEM, "the type index is damaged");
	if (in_fifos != qnum || ntypes != q->ntypes)
		svipc__report(rep, SVIPC_PROBLEM, "type FIFOs hold %llu messages of %llu in %llu types "
			      "(the header says %u types)", (unsigned long long)in_fifos,
			      (unsigned long long)qnum, (unsigned long long)ntypes, q->ntypes);

	/* Nothing lost: every header and segment is either used or free, and free once. */
	memset(seen, 0, (size_t)bh + 1);
	for (i = q->free_hdr; i && nfree <= bh; nfree++, i = H(m, i)->gnext)
		if (!MQ_OK(m, i, bh) || H(m, i)->state != M_FREE || seen[i]) {
			svipc__report(rep, SVIPC_PROBLEM, "free message list broken at slot %u", i);
			break;
		} else {
			seen[i] = 1;
		}
	if (!i && qnum + nreserved + nfree != bh)
		svipc__report(rep, SVIPC_PROBLEM, "%llu message slots neither used nor free (leaked)",
			      (unsigned long long)(bh - MIN(bh, qnum + nreserved + nfree)));
	uint64_t nseg_used = 0, nseg_free = 0;
	for (uint32_t s = 1; s <= bs; s++)
		nseg_used += used[s];
	uint32_t s = q->free_seg;
	for (; s && nseg_free <= bs; nseg_free++, s = S(m, s)->next)
		if (!MQ_OK(m, s, bs) || used[s]) {
			svipc__report(rep, SVIPC_PROBLEM, "free segment list broken at segment %u", s);
			break;
		} else {
			used[s] = 2; /* free: seen twice means a loop */
		}
	if (!s && nseg_used + nseg_free != bs)
		svipc__report(rep, SVIPC_PROBLEM, "%llu segments neither used nor free (leaked)",
			      (unsigned long long)(bs - MIN(bs, nseg_used + nseg_free)));
	free(seen);
	free(used);
}

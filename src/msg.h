/* msg.h - the layout of a message queue file, shared by msg.c and msg_index.c. */
#ifndef SVIPC_MSG_H
#define SVIPC_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "region.h"

#define MSG_MAGIC 0x51475653u /* "SVGQ" */
#define MSG_INLINE 24         /* payload bytes in the message header itself */
#define MSG_SEG_DATA 56       /* payload bytes per continuation segment */
#define MSG_NWAITERS 128      /* waiter slots; more waiters poll the overflow word */

/*
 * The file: struct msg_queue, then arrays at the offsets the header gives:
 * headers[nhdr], segments[nseg], type nodes[ntnode], buckets[nbucket],
 * the two heaps (ntnode entries each) and waiters[MSG_NWAITERS]. Array
 * indexes stored in shared memory are 1-based, 0 meaning "none".
 * Every array is allocated by a bump pointer and then a free list, so the
 * memory a queue touches grows with its contents.
 */

/*
 * Message states: the commit points of send and receive. M_RESERVED is a
 * committed message that a sender handed to a blocked receiver (as the
 * kernel's pipelined_send does): it is out of the indexes and the counters,
 * and only that receiver takes it. Recovery treats it as M_COMMITTED.
 */
enum { M_FREE = 0, M_WRITING = 1, M_COMMITTED = 2, M_CONSUMED = 3, M_RESERVED = 4 };

struct msg_hdr {
	uint32_t state;
	uint32_t size;
	int64_t type;
	uint64_t seq;
	uint32_t gnext, gprev; /* queue order */
	uint32_t tnext;        /* next message of the same type */
	uint32_t seg;          /* first continuation segment */
	uint8_t data[MSG_INLINE];
};

struct msg_seg {
	uint32_t next;
	uint32_t owner; /* the header it belongs to: a stolen segment is detected */
	uint8_t data[MSG_SEG_DATA];
};

/* Set in a segment's owner by recovery while it runs: the segment is in use. */
#define MSG_SEG_MARK 0x80000000u

/* One per type present in the queue. */
struct msg_tnode {
	int64_t type;
	uint32_t head, tail; /* oldest and newest message of this type */
	uint32_t hnext;      /* hash chain */
	uint32_t pos_seq;    /* position in the heap ordered by head seq (1-based) */
	uint32_t pos_type;   /* position in the heap ordered by type (1-based) */
	uint32_t pad;
};

enum { W_FREE = 0, W_RECV = 1, W_SEND = 2 };

struct msg_waiter {
	uint32_t word;  /* wait.h states */
	uint32_t token; /* waiting process */
	uint32_t next, prev;
	int32_t kind;
	int32_t mode;   /* receivers: search mode */
	int64_t msgtyp; /* receivers: selector */
	uint64_t size;  /* senders: message size; receivers: the most they take */
	int32_t pid;
	uint32_t arrival; /* order of registration, for rebuilding the lists */
	uint32_t msg;     /* receivers: the message reserved for it (M_RESERVED) */
	int32_t result;   /* receivers: -E2BIG if a sender found the buffer too small */
	int64_t since;    /* CLOCK_MONOTONIC ns when it registered */
};

/*
 * Field order is for the cache: the lock word is in the first line (obj),
 * the fields every send and receive writes are in the next two, and what
 * rarely changes comes last, so a call moves few lines between CPUs.
 */
struct msg_queue {
	struct svipc_obj obj;
	/* hot: written by every send and receive */
	uint64_t cbytes, qnum, qbytes;
	uint64_t next_seq;
	uint32_t ghead, gtail; /* queue order (derived: rebuilt by recovery) */
	uint32_t ntypes;
	uint32_t free_hdr; /* free lists and bump pointers (rebuilt by recovery) */
	uint32_t bump_hdr, free_seg, bump_seg, free_tnode, bump_tnode;
	uint32_t thint;    /* the type node used last: most queues have one type */
	uint32_t rhead, rtail, shead, stail; /* waiters, in arrival order */
	uint32_t noverflow; /* waiters without a slot, polling `overflow` */
	uint32_t overflow;  /* futex word for those */
	uint32_t arrival;   /* next waiter arrival number */
	int32_t lspid, lrpid; /* written only when they change */
	uint32_t nreserved; /* messages handed to receivers not yet taken (derived) */
	/* cold */
	int64_t stime, rtime; /* written only when they change */
	uint32_t nhdr, nseg, ntnode, nbucket; /* geometry, fixed at creation */
	uint64_t off_hdr, off_seg, off_tnode, off_bucket, off_hseq, off_htype, off_waiter;
	/*
	 * IPC_SET's redo record: the new values are written here, set_valid is
	 * the commit point, then they are applied. Recovery applies a valid
	 * record again, so an IPC_SET is all or nothing.
	 */
	uint32_t set_valid, set_uid, set_gid, set_mode;
	uint64_t set_qbytes;
	int64_t set_ctime;
};

_Static_assert(offsetof(struct msg_queue, cbytes) == 80, "hot fields start in line 1");
_Static_assert(offsetof(struct msg_queue, stime) == 192, "hot fields fill lines 1-2");

_Static_assert(sizeof(struct msg_hdr) == 64, "msg_hdr is an ABI");
_Static_assert(sizeof(struct msg_seg) == 64, "msg_seg is an ABI");
_Static_assert(sizeof(struct msg_tnode) == 32, "msg_tnode is an ABI");
_Static_assert(sizeof(struct msg_waiter) == 64, "msg_waiter is an ABI");

/* Search modes, as the kernel's convert_mode() names them. */
enum { SEARCH_ANY = 1, SEARCH_EQUAL, SEARCH_NOTEQUAL, SEARCH_LESSEQUAL, SEARCH_NUMBER };

/*
 * A validated view of one queue for one call: the geometry is read once and
 * checked against the size of the mapping, so no index below the n* values
 * can reach outside it, whatever another process writes meanwhile.
 */
struct mq {
	struct msg_queue *q;
	struct msg_hdr *hdr;
	struct msg_seg *seg;
	struct msg_tnode *tn;
	uint32_t *bucket;
	uint32_t *hseq, *htype;
	struct msg_waiter *w;
	uint32_t nhdr, nseg, ntnode, nbucket;
	int corrupt;
	int nomem; /* this call could not populate a page (full filesystem) */
};

/* msg_index.c: called with the queue lock held. */
int svipc__mq_view(struct mq *m, struct msg_queue *q, size_t size);
size_t svipc__mq_layout(uint64_t capacity, uint32_t *nhdr, uint32_t *nseg, uint32_t *ntnode,
			uint32_t *nbucket, uint64_t off[7]);
uint32_t svipc__mq_alloc_msg(struct mq *m, uint32_t size);
void svipc__mq_free_msg_chain(struct mq *m, uint32_t h);
int svipc__mq_link(struct mq *m, uint32_t h);
int svipc__mq_unlink(struct mq *m, uint32_t h);
uint32_t svipc__mq_find(struct mq *m, int mode, int64_t typ);
void svipc__mq_rebuild(struct mq *m);
int svipc__mq_populate_fixed(struct mq *m);
int svipc__mq_match(int mode, int64_t typ, int64_t msgtype);
struct svipc_report;
void svipc__mq_check(struct mq *m, struct svipc_report *rep);

#define MQ_CORRUPT(m) ((m)->corrupt = 1)

/* Slots by their 1-based index. */
#define H(m, i) (&(m)->hdr[(i) - 1])
#define S(m, i) (&(m)->seg[(i) - 1])
#define T(m, i) (&(m)->tn[(i) - 1])
#define W(m, i) (&(m)->w[(i) - 1])

/* A message can be no larger than the storage of its queue (a check on a
 * size read from the file that does not trust the file's own counters). */
static inline int svipc__mq_size_fits(const struct mq *m, uint64_t size)
{
	return size <= MSG_INLINE + (uint64_t)m->nseg * MSG_SEG_DATA;
}
#define MQ_OK(m, i, n) ((i) >= 1 && (i) <= (n))

#endif

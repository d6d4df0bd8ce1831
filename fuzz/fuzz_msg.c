/*
 * fuzz_msg.c - a message queue's file (msg.<id>), corrupted, truncated,
 * grown or scribbled between calls, under every call that reads it.
 *
 * Each input: a keyed queue is made through the API and given messages of
 * several types and sizes (inline, multi-segment, zero-length) and a free
 * slot, then the input's commands run (fuzz_common.h): patches of the
 * queue header, message headers, segments, type nodes, hash buckets, both
 * heaps and waiter slots; raw bytes; a new file length; the lock handed
 * to a dead process (so the next call runs recovery over whatever the
 * file holds); the cached mapping dropped (so the next call validates the
 * file afresh); and msgsnd / msgrcv (IPC_NOWAIT, MSG_NOERROR, MSG_EXCEPT,
 * MSG_COPY, every msgtyp kind, timed variants of 100 us), msgctl
 * IPC_STAT / MSG_STAT / MSG_STAT_ANY / IPC_SET (which may move the queue
 * into a larger file) / IPC_INFO / MSG_INFO / IPC_RMID, msgget by key,
 * and the admin paths.
 *
 * Besides "no crash, no hang, no sanitizer report", a received message
 * must fit the buffer and have a positive type.
 */
#include "fuzz_common.h"
#include "msg.h"

#include <sys/msg.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#ifndef MSG_EXCEPT
#define MSG_EXCEPT 020000
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

static const struct fz_field qf[] = {
	FZ_F(struct msg_queue, obj.magic), FZ_F(struct msg_queue, obj.version),
	FZ_F(struct msg_queue, obj.size), FZ_F(struct msg_queue, obj.id),
	FZ_LOCK(struct msg_queue, obj.lock), FZ_F(struct msg_queue, obj.removed),
	FZ_F(struct msg_queue, obj.corrupt), FZ_F(struct msg_queue, obj.perm.key),
	FZ_F(struct msg_queue, obj.perm.uid), FZ_F(struct msg_queue, obj.perm.mode),
	FZ_F(struct msg_queue, obj.perm.seq), FZ_F(struct msg_queue, obj.gen),
	FZ_F(struct msg_queue, cbytes), FZ_F(struct msg_queue, qnum),
	FZ_F(struct msg_queue, qbytes), FZ_F(struct msg_queue, next_seq),
	FZ_F(struct msg_queue, ghead), FZ_F(struct msg_queue, gtail),
	FZ_F(struct msg_queue, ntypes), FZ_F(struct msg_queue, free_hdr),
	FZ_F(struct msg_queue, bump_hdr), FZ_F(struct msg_queue, free_seg),
	FZ_F(struct msg_queue, bump_seg), FZ_F(struct msg_queue, free_tnode),
	FZ_F(struct msg_queue, bump_tnode), FZ_F(struct msg_queue, thint),
	FZ_F(struct msg_queue, rhead), FZ_F(struct msg_queue, rtail),
	FZ_F(struct msg_queue, shead), FZ_F(struct msg_queue, stail),
	FZ_F(struct msg_queue, noverflow), FZ_F(struct msg_queue, overflow),
	FZ_F(struct msg_queue, arrival), FZ_F(struct msg_queue, lspid),
	FZ_F(struct msg_queue, nreserved), FZ_F(struct msg_queue, nhdr),
	FZ_F(struct msg_queue, nseg), FZ_F(struct msg_queue, ntnode),
	FZ_F(struct msg_queue, nbucket), FZ_F(struct msg_queue, off_hdr),
	FZ_F(struct msg_queue, off_seg), FZ_F(struct msg_queue, off_tnode),
	FZ_F(struct msg_queue, off_bucket), FZ_F(struct msg_queue, off_hseq),
	FZ_F(struct msg_queue, off_htype), FZ_F(struct msg_queue, off_waiter),
	FZ_F(struct msg_queue, set_valid), FZ_F(struct msg_queue, set_uid),
	FZ_F(struct msg_queue, set_mode), FZ_F(struct msg_queue, set_qbytes),
};
static const struct fz_field hf[] = {
	FZ_F(struct msg_hdr, state), FZ_F(struct msg_hdr, size), FZ_F(struct msg_hdr, type),
	FZ_F(struct msg_hdr, seq), FZ_F(struct msg_hdr, gnext), FZ_F(struct msg_hdr, gprev),
	FZ_F(struct msg_hdr, tnext), FZ_F(struct msg_hdr, seg),
};
static const struct fz_field sf[] = {
	FZ_F(struct msg_seg, next), FZ_F(struct msg_seg, owner),
};
static const struct fz_field tf[] = {
	FZ_F(struct msg_tnode, type), FZ_F(struct msg_tnode, head), FZ_F(struct msg_tnode, tail),
	FZ_F(struct msg_tnode, hnext), FZ_F(struct msg_tnode, pos_seq),
	FZ_F(struct msg_tnode, pos_type),
};
static const struct fz_field u32f[] = { { 0, 4, 0 } };
static const struct fz_field wf[] = {
	FZ_F(struct msg_waiter, word), FZ_F(struct msg_waiter, token), FZ_F(struct msg_waiter, next),
	FZ_F(struct msg_waiter, prev), FZ_F(struct msg_waiter, kind), FZ_F(struct msg_waiter, mode),
	FZ_F(struct msg_waiter, msgtyp), FZ_F(struct msg_waiter, size), FZ_F(struct msg_waiter, pid),
	FZ_F(struct msg_waiter, arrival), FZ_F(struct msg_waiter, msg),
	FZ_F(struct msg_waiter, result), FZ_F(struct msg_waiter, since),
};

#define NREG 8
static struct fz_region REG[NREG];
static const uint32_t LOCKS[] = { offsetof(struct msg_queue, obj.lock) };

/* The geometry of the queue as made (every queue of the namespace has the same). */
static void regions(const struct msg_queue *q)
{
	REG[0] = (struct fz_region){ 0, sizeof *q, 1, qf, ARRAY_SIZE(qf) };
	REG[1] = (struct fz_region){ q->off_hdr, sizeof(struct msg_hdr), q->nhdr, hf, ARRAY_SIZE(hf) };
	REG[2] = (struct fz_region){ q->off_seg, sizeof(struct msg_seg), q->nseg, sf, ARRAY_SIZE(sf) };
	REG[3] = (struct fz_region){ q->off_tnode, sizeof(struct msg_tnode), q->ntnode, tf, ARRAY_SIZE(tf) };
	REG[4] = (struct fz_region){ q->off_bucket, 4, q->nbucket, u32f, 1 };
	REG[5] = (struct fz_region){ q->off_hseq, 4, q->ntnode, u32f, 1 };
	REG[6] = (struct fz_region){ q->off_htype, 4, q->ntnode, u32f, 1 };
	REG[7] = (struct fz_region){ q->off_waiter, sizeof(struct msg_waiter), MSG_NWAITERS, wf, ARRAY_SIZE(wf) };
}

struct mbuf {
	long mtype;
	char text[16384];
};
static struct mbuf SB, RB;

static const long TYPES[] = { 1, 2, 3, 5, 7, 0, -1, LONG_MAX, LONG_MIN, 1000 };
static const size_t SIZES[] = { 0, 1, 24, 25, 80, 81, 200, 1000, 2048, 2049, 8192, 9000 };

static void snd(struct fz *f, int id, int timed)
{
	SB.mtype = TYPES[fz_u8(f) % ARRAY_SIZE(TYPES)];
	size_t n = SIZES[fz_u8(f) % ARRAY_SIZE(SIZES)];
	memset(SB.text, (int)SB.mtype, n < sizeof SB.text ? n : sizeof SB.text);
	if (timed) {
		struct timespec ts = { 0, 100000 };
		svipc_msgsnd_timed(id, &SB, n, 0, &ts);
	} else {
		svipc_msgsnd(id, &SB, n, IPC_NOWAIT);
	}
}

static void rcv(struct fz *f, int id, int timed)
{
	static const int FLAGS[] = { 0, MSG_NOERROR, MSG_EXCEPT, MSG_COPY, MSG_EXCEPT | MSG_NOERROR };
	long typ = TYPES[fz_u8(f) % ARRAY_SIZE(TYPES)];
	int flg = FLAGS[fz_u8(f) % ARRAY_SIZE(FLAGS)];
	size_t bufsz = SIZES[fz_u8(f) % ARRAY_SIZE(SIZES)];
	if (flg & MSG_COPY)
		typ = fz_u8(f) % 8;
	ssize_t r;
	RB.mtype = 0;
	if (timed) {
		struct timespec ts = { 0, 100000 };
		r = svipc_msgrcv_timed(id, &RB, bufsz, typ, flg, &ts);
	} else {
		r = svipc_msgrcv(id, &RB, bufsz, typ, flg | IPC_NOWAIT);
	}
	if (r >= 0 && ((size_t)r > bufsz || RB.mtype < 1)) {
		fprintf(stderr, "msgrcv returned %zd bytes of type %ld for a buffer of %zu\n", r,
			RB.mtype, bufsz);
		abort();
	}
}

static void ctl(struct fz *f, int id)
{
	struct msqid_ds ds;
	struct msginfo mi;
	memset(&ds, 0, sizeof ds);
	switch (fz_u8(f) % 8) {
	case 0:
		svipc_msgctl(id, IPC_STAT, &ds);
		break;
	case 1:
		svipc_msgctl(SVIPC_ID_IDX(id) + (fz_u8(f) % 3), MSG_STAT, &ds);
		break;
	case 2:
		svipc_msgctl(SVIPC_ID_IDX(id), MSG_STAT_ANY, &ds);
		break;
	case 3: {
		if (svipc_msgctl(id, IPC_STAT, &ds) < 0)
			break;
		static const unsigned long QB[] = { 0, 1, 100, 2048, 4096, 20000 };
		ds.msg_qbytes = QB[fz_u8(f) % ARRAY_SIZE(QB)];
		ds.msg_perm.mode = fz_u16(f) & 0777;
		svipc_msgctl(id, IPC_SET, &ds);
		break;
	}
	case 4:
		svipc_msgctl(id, IPC_INFO, (struct msqid_ds *)&mi);
		break;
	case 5:
		svipc_msgctl(id, MSG_INFO, (struct msqid_ds *)&mi);
		break;
	case 6:
		svipc_msgctl(id, IPC_RMID, NULL);
		break;
	default:
		svipc_msgget(fz_key(), (fz_u8(f) & 1) ? IPC_CREAT | 0600 : 0600);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	FZ_RUN++;
	int id = svipc_msgget(fz_key(), IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		perror("msgget");
		abort();
	}
	/* Messages: two of type 1, one multi-segment, an empty one; one taken (a free slot). */
	static const struct { long t; size_t n; } pre[] = {
		{ 1, 10 }, { 2, 100 }, { 3, 0 }, { 1, 30 }, { 5, 300 }, { 2, 7 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		SB.mtype = pre[i].t;
		memset(SB.text, 'a' + (int)i, pre[i].n);
		svipc_msgsnd(id, &SB, pre[i].n, IPC_NOWAIT);
	}
	svipc_msgrcv(id, &RB, sizeof RB.text, 2, IPC_NOWAIT);

	char name[32];
	svipc__obj_name(name, sizeof name, SVIPC_MSG, id);
	int fd = fz_open_file(name);
	struct msg_queue q;
	if (fd < 0 || pread(fd, &q, sizeof q, 0) != (ssize_t)sizeof q) {
		perror("queue file");
		abort();
	}
	regions(&q);
	uint64_t orig = fz_file_size(fd);
	close(fd);

	const struct fz_target t = { SVIPC_MSG, id, name, REG, NREG, LOCKS[0],
				     orig, q.obj.size, q.off_hdr, NULL };
	fz_scribble_start(name, REG, NREG, data, size);
	struct fz in = { data, size };
	for (int cmd = 0; cmd < FZ_MAX_CMDS && in.n; cmd++) {
		uint8_t op = fz_u8(&in);
		int timed = 0;
		if (fz_file_cmd(&in, op, &t))
			continue;
		switch (op % 16) {
		case 8:
			timed = (fz_u8(&in) % 8) == 0;
			/* fall through */
		case 9:
			snd(&in, id, timed);
			break;
		case 10:
			timed = (fz_u8(&in) % 8) == 0;
			/* fall through */
		case 11:
		case 12:
			rcv(&in, id, timed);
			break;
		case 13:
		case 14:
			ctl(&in, id);
			break;
		default:
			fz_admin(&in, SVIPC_MSG, id);
			break;
		}
	}
	fz_scribble_stop();
	fz_remove(SVIPC_MSG, id);
	fz_remove_all();
	fz_sweep_dir();
	return 0;
}

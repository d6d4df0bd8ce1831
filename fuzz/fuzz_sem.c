/*
 * fuzz_sem.c - a semaphore set's file (sem.<id>), corrupted, truncated,
 * grown or scribbled between calls, under every call that reads it.
 *
 * Each input: a keyed set of 4 semaphores is made through the API, given
 * values, and an undo record of this process (SEM_UNDO), then the input's
 * commands run (fuzz_common.h): patches of the set header (geometry,
 * journal count, waiter list, high-water marks, epoch, IPC_SET record),
 * the values, waiter slots (and their inline operations), the big
 * operation areas, undo records and their rows, and journal entries; raw
 * bytes; a new file length; the lock handed to a dead process (recovery
 * replays the journal and rebuilds the derived state); the cached mapping
 * dropped; and semop / semtimedop (IPC_NOWAIT or a 100 us timeout, with
 * and without SEM_UNDO, up to 8 operations, numbers past nsems), semctl
 * GETVAL / GETALL / GETPID / GETNCNT / GETZCNT / SETVAL / SETALL /
 * IPC_STAT / SEM_STAT / SEM_STAT_ANY / IPC_SET / IPC_INFO / SEM_INFO /
 * IPC_RMID, semget by key, and the admin paths.
 */
#include "fuzz_common.h"
#include "sem.h"

#include <sys/sem.h>

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

#define NSEMS 4

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

static const struct fz_field hf[] = {
	FZ_F(struct sem_set, obj.magic), FZ_F(struct sem_set, obj.version),
	FZ_F(struct sem_set, obj.size), FZ_F(struct sem_set, obj.id),
	FZ_LOCK(struct sem_set, obj.lock), FZ_F(struct sem_set, obj.removed),
	FZ_F(struct sem_set, obj.corrupt), FZ_F(struct sem_set, obj.perm.key),
	FZ_F(struct sem_set, obj.perm.uid), FZ_F(struct sem_set, obj.perm.mode),
	FZ_F(struct sem_set, otime), FZ_F(struct sem_set, j_n),
	FZ_F(struct sem_set, whead), FZ_F(struct sem_set, wtail), FZ_F(struct sem_set, nwait),
	FZ_F(struct sem_set, arrival), FZ_F(struct sem_set, poll), FZ_F(struct sem_set, npoll),
	FZ_F(struct sem_set, undo_hi), FZ_F(struct sem_set, nundo_nz),
	FZ_F(struct sem_set, adj_epoch), FZ_F(struct sem_set, w_hi),
	FZ_F(struct sem_set, big_used), FZ_F(struct sem_set, nsems),
	FZ_F(struct sem_set, nwaiters), FZ_F(struct sem_set, opcap), FZ_F(struct sem_set, nundo),
	FZ_F(struct sem_set, njournal), FZ_F(struct sem_set, nbig),
	FZ_F(struct sem_set, off_sem), FZ_F(struct sem_set, off_waiter),
	FZ_F(struct sem_set, off_wop), FZ_F(struct sem_set, off_undo),
	FZ_F(struct sem_set, off_adj), FZ_F(struct sem_set, off_journal),
	FZ_F(struct sem_set, set_valid), FZ_F(struct sem_set, set_uid),
	FZ_F(struct sem_set, set_mode),
};
static const struct fz_field vf[] = {
	FZ_F(struct sem_val, val), FZ_F(struct sem_val, pid), FZ_F(struct sem_val, nadj),
};
static const struct fz_field wf[] = {
	FZ_F(struct sem_waiter, word), FZ_F(struct sem_waiter, token),
	FZ_F(struct sem_waiter, next), FZ_F(struct sem_waiter, prev),
	FZ_F(struct sem_waiter, state), FZ_F(struct sem_waiter, status),
	FZ_F(struct sem_waiter, pid), FZ_F(struct sem_waiter, nsops),
	FZ_F(struct sem_waiter, undo), FZ_F(struct sem_waiter, arrival),
	FZ_F(struct sem_waiter, bnum), FZ_F(struct sem_waiter, bop),
	FZ_F(struct sem_waiter, watching), FZ_F(struct sem_waiter, since),
	FZ_F(struct sem_waiter, big), FZ_F(struct sem_waiter, ops[0].num),
	FZ_F(struct sem_waiter, ops[0].op), FZ_F(struct sem_waiter, ops[0].flg),
	FZ_F(struct sem_waiter, ops[1].num), FZ_F(struct sem_waiter, ops[1].op),
	FZ_F(struct sem_waiter, ops[7].num),
};
static const struct fz_field opf[] = {
	FZ_F(struct sem_wop, num), FZ_F(struct sem_wop, op), FZ_F(struct sem_wop, flg),
};
static const struct fz_field uf[] = {
	FZ_F(struct sem_undo, state), FZ_F(struct sem_undo, pid), FZ_F(struct sem_undo, start),
	FZ_F(struct sem_undo, token), FZ_F(struct sem_undo, epoch), FZ_F(struct sem_undo, nz),
};
static const struct fz_field i32f[] = { { 0, 4, 0 } };
static const struct fz_field jf[] = {
	FZ_F(struct sem_jent, off), FZ_F(struct sem_jent, width), FZ_F(struct sem_jent, val),
};

#define NREG 7
static struct fz_region REG[NREG];
static const uint32_t LOCKS[] = { offsetof(struct sem_set, obj.lock) };

static void regions(const struct sem_set *s)
{
	REG[0] = (struct fz_region){ 0, sizeof *s, 1, hf, ARRAY_SIZE(hf) };
	REG[1] = (struct fz_region){ s->off_sem, sizeof(struct sem_val), s->nsems, vf, ARRAY_SIZE(vf) };
	REG[2] = (struct fz_region){ s->off_waiter, sizeof(struct sem_waiter), s->nwaiters, wf, ARRAY_SIZE(wf) };
	REG[3] = (struct fz_region){ s->off_wop, sizeof(struct sem_wop), s->nbig * s->opcap, opf, ARRAY_SIZE(opf) };
	REG[4] = (struct fz_region){ s->off_undo, sizeof(struct sem_undo), s->nundo, uf, ARRAY_SIZE(uf) };
	REG[5] = (struct fz_region){ s->off_adj, 4, s->nundo * s->nsems, i32f, 1 };
	REG[6] = (struct fz_region){ s->off_journal, sizeof(struct sem_jent), s->njournal, jf, ARRAY_SIZE(jf) };
}

/*
 * GETALL/SETALL buffers: as large as any set can be, since a file
 * rewritten with a consistent larger geometry is a larger set to a
 * process that maps it afresh (see README.md).
 */
static unsigned short ALL[SEM_NSEMS_MAX];

static void semop_cmd(struct fz *f, int id, int timed)
{
	struct sembuf ops[8];
	size_t n = 1 + fz_u8(f) % 8;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = fz_u8(f), b = fz_u8(f);
		ops[i].sem_num = (unsigned short)(a % (NSEMS + 2));
		static const short OPS[] = { 0, 1, -1, 2, -2, 32767, -32768, 5 };
		ops[i].sem_op = (b & 0x80) ? (short)(int8_t)fz_u8(f) : OPS[b % 8];
		ops[i].sem_flg = (short)(((a >> 4) & 1 ? SEM_UNDO : 0) | (timed ? 0 : IPC_NOWAIT));
	}
	if (timed) {
		struct timespec ts = { 0, 100000 };
		svipc_semtimedop(id, ops, n, &ts);
	} else {
		svipc_semop(id, ops, n);
	}
}

static void semctl_cmd(struct fz *f, int id)
{
	struct semid_ds ds;
	struct seminfo si;
	int num = fz_u8(f) % (NSEMS + 2);
	union semun a;
	switch (fz_u8(f) % 15) {
	case 0:
		svipc_semctl(id, num, GETVAL);
		break;
	case 1:
		a.array = ALL;
		svipc_semctl(id, 0, GETALL, a);
		break;
	case 2:
		svipc_semctl(id, num, GETPID);
		break;
	case 3:
		svipc_semctl(id, num, GETNCNT);
		break;
	case 4:
		svipc_semctl(id, num, GETZCNT);
		break;
	case 5:
		a.val = (fz_u8(f) & 0x80) ? (int)fz_u16(f) : fz_u8(f) % 4;
		svipc_semctl(id, num, SETVAL, a);
		break;
	case 6:
		for (int i = 0; i < NSEMS; i++)
			ALL[i] = (unsigned short)(fz_u8(f) % 4);
		a.array = ALL;
		svipc_semctl(id, 0, SETALL, a);
		break;
	case 7:
		a.buf = &ds;
		svipc_semctl(id, 0, IPC_STAT, a);
		break;
	case 8:
		a.buf = &ds;
		svipc_semctl((int)SVIPC_ID_IDX(id) + fz_u8(f) % 3, 0, SEM_STAT, a);
		break;
	case 9:
		a.buf = &ds;
		svipc_semctl((int)SVIPC_ID_IDX(id), 0, SEM_STAT_ANY, a);
		break;
	case 10:
		a.buf = &ds;
		if (svipc_semctl(id, 0, IPC_STAT, a) == 0) {
			ds.sem_perm.mode = fz_u16(f) & 0777;
			svipc_semctl(id, 0, IPC_SET, a);
		}
		break;
	case 11:
		a.__buf = &si;
		svipc_semctl(id, 0, (fz_u8(f) & 1) ? IPC_INFO : SEM_INFO, a);
		break;
	case 12:
		svipc_semctl(id, 0, IPC_RMID);
		break;
	default:
		svipc_semget(fz_key(), fz_u8(f) % (NSEMS + 2), (fz_u8(f) & 1) ? IPC_CREAT | 0600 : 0600);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	FZ_RUN++;
	int id = svipc_semget(fz_key(), NSEMS, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		perror("semget");
		abort();
	}
	union semun a;
	static unsigned short init[NSEMS] = { 1, 0, 3, 2 };
	a.array = init;
	svipc_semctl(id, 0, SETALL, a);
	struct sembuf up[2] = { { 0, 1, SEM_UNDO | IPC_NOWAIT }, { 2, -1, SEM_UNDO | IPC_NOWAIT } };
	svipc_semop(id, up, 2);

	char name[32];
	svipc__obj_name(name, sizeof name, SVIPC_SEM, id);
	int fd = fz_open_file(name);
	struct sem_set s;
	if (fd < 0 || pread(fd, &s, sizeof s, 0) != (ssize_t)sizeof s) {
		perror("set file");
		abort();
	}
	regions(&s);
	uint64_t orig = fz_file_size(fd);
	close(fd);

	const struct fz_target t = { SVIPC_SEM, id, name, REG, NREG, LOCKS[0],
				     orig, s.obj.size, s.off_sem, NULL };
	fz_scribble_start(name, REG, NREG, data, size);
	struct fz in = { data, size };
	for (int cmd = 0; cmd < FZ_MAX_CMDS && in.n; cmd++) {
		uint8_t op = fz_u8(&in);
		if (fz_file_cmd(&in, op, &t))
			continue;
		switch (op % 16) {
		case 8:
			semop_cmd(&in, id, (fz_u8(&in) % 8) == 0);
			break;
		case 9:
		case 10:
		case 11:
			semop_cmd(&in, id, 0);
			break;
		case 12:
		case 13:
		case 14:
			semctl_cmd(&in, id);
			break;
		default:
			fz_admin(&in, SVIPC_SEM, id);
			break;
		}
	}
	fz_scribble_stop();
	fz_remove(SVIPC_SEM, id);
	fz_remove_all();
	fz_sweep_dir();
	return 0;
}

/*
 * fuzz_shm.c - a shared memory segment's file (shm.<id>), corrupted,
 * truncated, grown or scribbled between calls, under every call that
 * reads it.
 *
 * Each input: a keyed segment of SEGSZ bytes is made through the API and
 * attached once, then the input's commands run (fuzz_common.h): patches of
 * the segment header (sizes, data offset, mapping length, alignment,
 * flags, slot count and high-water mark, event count, IPC_SET record) and
 * of the attachment slots; raw bytes; a new file length (all attachments
 * are detached first: touching a mapping of a file truncated under it is a
 * SIGBUS no library can prevent, see README.md); the lock handed to a dead
 * process; the cached mapping dropped; shmat (read-write, SHM_RDONLY, at
 * an address with and without SHM_RND) whose result is touched at both
 * ends, shmdt of an attachment or of an address that is none, shmsync,
 * shmctl IPC_STAT / SHM_STAT / SHM_STAT_ANY / IPC_SET / IPC_INFO /
 * SHM_INFO / SHM_LOCK / SHM_UNLOCK / IPC_RMID, shmget by key (with a size
 * that fits and one that does not), and the admin paths.
 */
#include "fuzz_common.h"
#include "shm.h"

#include <sys/mman.h>
#include <sys/shm.h>

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif

#define SEGSZ 10000u
#define MAXAT 8

static const struct fz_field hf[] = {
	FZ_F(struct shm_seg, obj.magic), FZ_F(struct shm_seg, obj.version),
	FZ_F(struct shm_seg, obj.size), FZ_F(struct shm_seg, obj.id),
	FZ_LOCK(struct shm_seg, obj.lock), FZ_F(struct shm_seg, obj.removed),
	FZ_F(struct shm_seg, obj.corrupt), FZ_F(struct shm_seg, obj.perm.key),
	FZ_F(struct shm_seg, obj.perm.uid), FZ_F(struct shm_seg, obj.perm.mode),
	FZ_F(struct shm_seg, segsz), FZ_F(struct shm_seg, data_off), FZ_F(struct shm_seg, map_len),
	FZ_F(struct shm_seg, atime), FZ_F(struct shm_seg, cpid), FZ_F(struct shm_seg, lpid),
	FZ_F(struct shm_seg, flags), FZ_F(struct shm_seg, nslots), FZ_F(struct shm_seg, slot_hi),
	FZ_F(struct shm_seg, events), FZ_F(struct shm_seg, align), FZ_F(struct shm_seg, set_uid),
	FZ_F(struct shm_seg, set_mode), FZ_F(struct shm_seg, set_valid),
};
static const struct fz_field sf[] = {
	FZ_F(struct shm_slot, state), FZ_F(struct shm_slot, pid), FZ_F(struct shm_slot, ev),
};

#define NREG 2
static struct fz_region REG[NREG];
static const uint32_t LOCKS[] = { offsetof(struct shm_seg, obj.lock) };

/* This process's attachments, detached before a truncation and at the end. */
static void *AT[MAXAT];
static int NAT;

static void detach_all(void)
{
	for (int i = 0; i < NAT; i++)
		svipc_shmdt(AT[i]);
	NAT = 0;
}

static void attach(struct fz *f, int id)
{
	if (NAT == MAXAT)
		detach_all();
	static const int FLAGS[] = { 0, SHM_RDONLY, SHM_RND, SHM_RDONLY | SHM_RND };
	int flg = FLAGS[fz_u8(f) % 4];
	void *want = NULL;
	if (fz_u8(f) % 4 == 0) {
		/* An address: reserve some room, free it, ask for it (plus a bit: SHM_RND). */
		void *r = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r != MAP_FAILED) {
			munmap(r, 1 << 20);
			want = (char *)r + (flg & SHM_RND ? 123 : 0);
		}
	}
	char *p = svipc_shmat(id, want, flg);
	if (p == (void *)-1)
		return;
	AT[NAT++] = p;
	/* The segment must be there, as large as it says. */
	struct shmid_ds ds;
	volatile char c = p[0];
	(void)c;
	if (svipc_shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz >= 1 && ds.shm_segsz <= SEGSZ) {
		c = p[ds.shm_segsz - 1];
		if (!(flg & SHM_RDONLY))
			p[ds.shm_segsz - 1] = 'z';
	}
	if (!(flg & SHM_RDONLY))
		p[0] = 'a';
}

static void ctl(struct fz *f, int id)
{
	struct shmid_ds ds;
	struct shminfo si;
	switch (fz_u8(f) % 12) {
	case 0:
	case 1:
		svipc_shmctl(id, IPC_STAT, &ds);
		break;
	case 2:
		svipc_shmctl((int)SVIPC_ID_IDX(id) + fz_u8(f) % 3, SHM_STAT, &ds);
		break;
	case 3:
		svipc_shmctl((int)SVIPC_ID_IDX(id), SHM_STAT_ANY, &ds);
		break;
	case 4:
		if (svipc_shmctl(id, IPC_STAT, &ds) == 0) {
			ds.shm_perm.mode = fz_u16(f) & 0777;
			svipc_shmctl(id, IPC_SET, &ds);
		}
		break;
	case 5:
		svipc_shmctl(id, (fz_u8(f) & 1) ? IPC_INFO : SHM_INFO, (struct shmid_ds *)&si);
		break;
	case 6:
		svipc_shmctl(id, (fz_u8(f) & 1) ? SHM_LOCK : SHM_UNLOCK, NULL);
		break;
	case 7:
		svipc_shmctl(id, IPC_RMID, NULL);
		break;
	case 8:
		if (NAT)
			svipc_shmsync(AT[fz_u8(f) % NAT], (fz_u8(f) & 1) ? MS_SYNC : MS_ASYNC);
		break;
	case 9: {
		static const size_t SZ[] = { 0, 1, SEGSZ, SEGSZ + 1 };
		svipc_shmget(fz_key(), SZ[fz_u8(f) % 4], (fz_u8(f) & 1) ? IPC_CREAT | 0600 : 0600);
		break;
	}
	default:
		if (NAT) {
			int i = fz_u8(f) % NAT;
			if (fz_u8(f) % 4 == 0) {
				svipc_shmdt((char *)AT[i] + 1); /* not an attachment */
				break;
			}
			svipc_shmdt(AT[i]);
			AT[i] = AT[--NAT];
		} else {
			svipc_shmdt(NULL);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	FZ_RUN++;
	int id = svipc_shmget(fz_key(), SEGSZ, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		perror("shmget");
		abort();
	}
	char *p = svipc_shmat(id, NULL, 0);
	if (p != (void *)-1) {
		p[0] = 1;
		AT[NAT++] = p;
	}

	char name[32];
	svipc__obj_name(name, sizeof name, SVIPC_SHM, id);
	int fd = fz_open_file(name);
	struct shm_seg s;
	if (fd < 0 || pread(fd, &s, sizeof s, 0) != (ssize_t)sizeof s) {
		perror("segment file");
		abort();
	}
	REG[0] = (struct fz_region){ 0, sizeof s, 1, hf, ARRAY_SIZE(hf) };
	REG[1] = (struct fz_region){ SHM_SLOT_OFF, sizeof(struct shm_slot), s.nslots, sf, ARRAY_SIZE(sf) };
	uint64_t orig = fz_file_size(fd);
	close(fd);

	const struct fz_target t = { SVIPC_SHM, id, name, REG, NREG, LOCKS[0],
				     orig, s.obj.size, SHM_SLOT_OFF, detach_all };
	fz_scribble_start(name, REG, NREG, data, size);
	struct fz in = { data, size };
	for (int cmd = 0; cmd < FZ_MAX_CMDS && in.n; cmd++) {
		uint8_t op = fz_u8(&in);
		if (fz_file_cmd(&in, op, &t))
			continue;
		switch (op % 16) {
		case 8:
		case 9:
		case 10:
			attach(&in, id);
			break;
		case 11:
		case 12:
		case 13:
		case 14:
			ctl(&in, id);
			break;
		default:
			fz_admin(&in, SVIPC_SHM, id);
			break;
		}
	}
	fz_scribble_stop();
	detach_all();
	fz_remove(SVIPC_SHM, id);
	fz_remove_all();
	fz_sweep_dir();
	return 0;
}

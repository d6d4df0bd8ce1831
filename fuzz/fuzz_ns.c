/*
 * fuzz_ns.c - the namespace's own files: `ns` (limits and the key -> id
 * table) and `procs` (the register of live processes), corrupted or
 * scribbled between calls, under every call that reads them.
 *
 * A process maps both files once, at its first call, and keeps the
 * mappings: what a scribbler changes is what every later call reads. So
 * each input starts from the namespace as fz_init() left it (restored
 * below), makes one keyed object of each type and a private queue through
 * the API, and runs the input's commands: patches of the ns header (magic,
 * version, lock word, each limit), of each type's table header (next
 * index, count in use, high-water mark) and entries (key, state, sequence,
 * units), of each type's key index (its header, the links of the entries
 * in use, and the chain head and count of each key the input uses), and of
 * the register (header, entries); raw bytes in either
 * file; the ns lock handed to a dead process (the next msgget runs the
 * namespace's recovery); and msgget / semget / shmget (private, by key,
 * IPC_CREAT, IPC_EXCL), IPC_RMID / IPC_STAT on the objects made and on ids
 * the input makes up, MSG_STAT / SEM_STAT / SHM_STAT by index, the *_INFO
 * calls, svipc_limits_get, svipc__check_ns (with and without repair),
 * svipc__purge (dry run or not), and svipc__inspect / svipc__check on
 * those ids.
 *
 * Opening a namespace (ns_open's checks of size, magic and version; the
 * register's) happens once per process and is not fuzzed here; truncating
 * these files under a process that maps them is a SIGBUS no library can
 * prevent (README.md), so their length is never changed.
 */
#include "fuzz_common.h"

#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* The layout of ns (ns.c, struct ns_file) and procs (proc.c, struct proc_file). */
#define NS_OFF_LOCK 8
#define NS_OFF_LIM 16
#define NS_OFF_TABLE 144
#define NS_TABLE_SIZE (16 + SVIPC_IDX_MAX * 16)
#define NS_OFF_IX (NS_OFF_TABLE + SVIPC_NTYPES * NS_TABLE_SIZE) /* struct ns_index[3] */
#define NS_BUCKETS 16384
#define NS_IX_SIZE (16 + 4 * NS_BUCKETS + 2 * SVIPC_IDX_MAX)
#define NS_IX_HEAD(t, h) (NS_OFF_IX + (t) * NS_IX_SIZE + 16 + 2 * (h))
#define NS_IX_COUNT(t, h) (NS_IX_HEAD(t, h) + 2 * NS_BUCKETS)
#define NS_IX_NEXT(t) (NS_OFF_IX + (t) * NS_IX_SIZE + 16 + 4 * NS_BUCKETS)
#define NS_SIZE (NS_OFF_IX + SVIPC_NTYPES * NS_IX_SIZE)
#define PROCS_SIZE (16 + SVIPC_PROC_SLOTS * 16)

static const struct fz_field nshf[] = {
	{ 0, 4, 0 }, { 4, 4, 0 }, { NS_OFF_LOCK, 4, 1 },
	{ NS_OFF_LIM + 0, 8, 0 }, { NS_OFF_LIM + 8, 8, 0 }, { NS_OFF_LIM + 16, 8, 0 },
	{ NS_OFF_LIM + 24, 8, 0 }, { NS_OFF_LIM + 32, 8, 0 }, { NS_OFF_LIM + 40, 8, 0 },
	{ NS_OFF_LIM + 48, 8, 0 }, { NS_OFF_LIM + 56, 8, 0 }, { NS_OFF_LIM + 64, 8, 0 },
	{ NS_OFF_LIM + 72, 8, 0 },
};
static const struct fz_field tabf[] = { { 0, 4, 0 }, { 4, 4, 0 }, { 8, 4, 0 } };
static const struct fz_field entf[] = { { 0, 4, 0 }, { 4, 4, 0 }, { 8, 4, 0 }, { 12, 4, 0 } };
static const struct fz_field ixhf[] = { { 0, 4, 0 }, { 4, 4, 0 }, { 8, 4, 0 }, { 12, 4, 0 } };
static const struct fz_field ixlink[] = { { 0, 2, 0 } };
static const struct fz_field prhf[] = { { 0, 4, 0 }, { 4, 4, 0 }, { 8, 4, 0 } };
static const struct fz_field pref[] = { { 0, 4, 0 }, { 4, 4, 0 }, { 8, 8, 0 } };

#define NREG_NS 11
static const struct fz_region NSREG[NREG_NS] = {
	{ 0, NS_OFF_TABLE, 1, nshf, ARRAY_SIZE(nshf) },
	{ NS_OFF_TABLE, NS_TABLE_SIZE, SVIPC_NTYPES, tabf, ARRAY_SIZE(tabf) },
	{ NS_OFF_TABLE + 16, 16, SVIPC_IDX_MAX, entf, ARRAY_SIZE(entf) },
	{ NS_OFF_TABLE + NS_TABLE_SIZE + 16, 16, SVIPC_IDX_MAX, entf, ARRAY_SIZE(entf) },
	{ NS_OFF_TABLE + 2 * NS_TABLE_SIZE + 16, 16, SVIPC_IDX_MAX, entf, ARRAY_SIZE(entf) },
	/* twice: the entries in use are the interesting ones */
	{ NS_OFF_TABLE + 16, 16, SVIPC_IDX_MAX, entf, ARRAY_SIZE(entf) },
	{ NS_OFF_TABLE + 2 * NS_TABLE_SIZE + 16, 16, SVIPC_IDX_MAX, entf, ARRAY_SIZE(entf) },
	/* the key index: headers, and the links of the entries (the first ones are in use) */
	{ NS_OFF_IX, NS_IX_SIZE, SVIPC_NTYPES, ixhf, ARRAY_SIZE(ixhf) },
	{ NS_IX_NEXT(0), 2, SVIPC_IDX_MAX, ixlink, ARRAY_SIZE(ixlink) },
	{ NS_IX_NEXT(1), 2, SVIPC_IDX_MAX, ixlink, ARRAY_SIZE(ixlink) },
	{ NS_IX_NEXT(2), 2, SVIPC_IDX_MAX, ixlink, ARRAY_SIZE(ixlink) },
};
#define NREG_PR 2
static const struct fz_region PRREG[NREG_PR] = {
	{ 0, 16, 1, prhf, ARRAY_SIZE(prhf) },
	{ 16, 16, SVIPC_PROC_SLOTS, pref, ARRAY_SIZE(pref) },
};
static const uint32_t NSLOCK[] = { NS_OFF_LOCK };

/* Our own views of the two files, and their contents as fz_init left them. */
static uint8_t *NSMAP, *PRMAP, *NS0, *PR0;
/* The highest sequence each (type, index) has had: ids are never reused. */
static uint16_t SEQHW[SVIPC_NTYPES][SVIPC_IDX_MAX];

#define MAXIDS 64
static int IDS[MAXIDS][2]; /* type, id: what this input made or named */
static int NIDS;
static void *ATT[8];
static int NATT;

static void remember(int type, int id)
{
	if (id >= 0 && NIDS < MAXIDS) {
		IDS[NIDS][0] = type;
		IDS[NIDS][1] = id;
		NIDS++;
	}
}

static uint8_t *map_file(const char *name, size_t size, uint8_t **copy)
{
	int fd = fz_open_file(name);
	if (fd < 0 || fz_file_size(fd) != size) {
		fprintf(stderr, "fuzz_ns: %s is not %zu bytes: the layout changed?\n", name, size);
		abort();
	}
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		abort();
	*copy = malloc(size);
	memcpy(*copy, m, size);
	return m;
}

static void setup_once(void)
{
	if (NSMAP)
		return;
	fz_init();
	/* Registered, so that procs holds this process. */
	svipc_msgctl(0, IPC_STAT, NULL);
	(void)fz_own_token();
	NSMAP = map_file("ns", NS_SIZE, &NS0);
	PRMAP = map_file("procs", PROCS_SIZE, &PR0);
}

/*
 * Puts both files back as fz_init left them, but with every sequence
 * number kept (NS0 holds that image). Only pages that differ are looked at.
 */
static void restore(void)
{
	for (size_t off = 0; off < NS_SIZE; off += 4096) {
		size_t n = NS_SIZE - off < 4096 ? NS_SIZE - off : 4096;
		if (!memcmp(NSMAP + off, NS0 + off, n))
			continue;
		for (int t = 0; t < SVIPC_NTYPES; t++) {
			size_t tab = NS_OFF_TABLE + (size_t)t * NS_TABLE_SIZE + 16;
			size_t lo = off > tab ? (off - tab) / 16 : 0;
			size_t hi = off + n > tab ? (off + n - tab + 15) / 16 : 0;
			for (size_t i = lo; i < hi && i < SVIPC_IDX_MAX; i++) {
				uint32_t seq, st;
				memcpy(&st, NSMAP + tab + i * 16 + 4, 4);
				memcpy(&seq, NSMAP + tab + i * 16 + 8, 4);
				seq &= SVIPC_SEQ_MAX;
				if (st != 0) /* an object's cached mapping goes with it */
					svipc__obj_forget(t, SVIPC_MKID(seq, (uint32_t)i));
				if (seq > SEQHW[t][i]) {
					SEQHW[t][i] = (uint16_t)seq;
					memcpy(NS0 + tab + i * 16 + 8, &seq, 4);
				}
			}
		}
		memcpy(NSMAP + off, NS0 + off, n);
	}
	for (size_t off = 0; off < PROCS_SIZE; off += 4096) {
		size_t n = PROCS_SIZE - off < 4096 ? PROCS_SIZE - off : 4096;
		if (memcmp(PRMAP + off, PR0 + off, n))
			memcpy(PRMAP + off, PR0 + off, n);
	}
}

/*
 * The chain of a key the input uses (fz_key() and the two after it, see
 * get_cmd): its head or its count set to a link near the entries in use,
 * an edge, or anything.
 */
static void chain_patch(struct fz *f, int fd)
{
	uint8_t b = fz_u8(f);
	uint32_t h = svipc__ns_key_bucket(fz_key() + b % 3);
	int t = (b >> 2) % SVIPC_NTYPES;
	uint64_t off = (b & 0x20) ? NS_IX_COUNT(t, h) : NS_IX_HEAD(t, h);
	uint16_t cur = 0;
	if (pread(fd, &cur, 2, (off_t)off) != 2)
		return;
	fz_poke(fd, off, fz_value(f, 2, cur, 8, 1), 2);
}

/* An id: one this input made, or one made up from an index and a sequence. */
static int pick_id(struct fz *f, int *type)
{
	uint8_t b = fz_u8(f);
	if (NIDS && !(b & 0x80)) {
		int i = b % NIDS;
		*type = IDS[i][0];
		return IDS[i][1];
	}
	*type = b % SVIPC_NTYPES;
	uint32_t idx = fz_u8(f) % 8;
	uint32_t seq = SEQHW[*type][idx] + fz_u8(f) % 3;
	return SVIPC_MKID(seq & SVIPC_SEQ_MAX, idx);
}

static void get_cmd(struct fz *f)
{
	static const int FLAGS[] = { 0600, IPC_CREAT | 0600, IPC_CREAT | IPC_EXCL | 0600, IPC_CREAT | 0666 };
	uint8_t b = fz_u8(f);
	key_t key = (b & 3) == 0 ? IPC_PRIVATE : fz_key() + (b & 3) - 1;
	int flg = FLAGS[(b >> 2) % 4];
	switch ((b >> 4) % 3) {
	case 0:
		remember(SVIPC_MSG, svipc_msgget(key, flg));
		break;
	case 1:
		remember(SVIPC_SEM, svipc_semget(key, 1 + fz_u8(f) % 3, flg));
		break;
	default:
		remember(SVIPC_SHM, svipc_shmget(key, 1 + fz_u16(f), flg));
		break;
	}
}

static void ctl_cmd(struct fz *f)
{
	int type;
	int id = pick_id(f, &type);
	uint8_t b = fz_u8(f);
	union {
		struct msqid_ds m;
		struct semid_ds s;
		struct shmid_ds h;
		struct msginfo mi;
		struct seminfo si;
		struct shminfo hi;
		struct shm_info hu;
	} u;
	int idx = fz_u8(f) % 8;
	switch (b % 5) {
	case 0: /* IPC_RMID */
		if (type == SVIPC_MSG)
			svipc_msgctl(id, IPC_RMID, NULL);
		else if (type == SVIPC_SEM)
			svipc_semctl(id, 0, IPC_RMID);
		else
			svipc_shmctl(id, IPC_RMID, NULL);
		break;
	case 1: /* IPC_STAT */
		if (type == SVIPC_MSG)
			svipc_msgctl(id, IPC_STAT, &u.m);
		else if (type == SVIPC_SEM)
			svipc_semctl(id, 0, IPC_STAT, &u.s);
		else
			svipc_shmctl(id, IPC_STAT, &u.h);
		break;
	case 2: /* *_STAT by index */
		if (type == SVIPC_MSG)
			svipc_msgctl(idx, (b & 8) ? MSG_STAT : 13 /* MSG_STAT_ANY */, &u.m);
		else if (type == SVIPC_SEM)
			svipc_semctl(idx, 0, (b & 8) ? SEM_STAT : 20 /* SEM_STAT_ANY */, &u.s);
		else
			svipc_shmctl(idx, (b & 8) ? SHM_STAT : 15 /* SHM_STAT_ANY */, &u.h);
		break;
	case 3: /* *_INFO */
		if (type == SVIPC_MSG)
			svipc_msgctl(0, (b & 8) ? IPC_INFO : MSG_INFO, (struct msqid_ds *)&u.mi);
		else if (type == SVIPC_SEM)
			svipc_semctl(0, 0, (b & 8) ? IPC_INFO : SEM_INFO, &u.si);
		else
			svipc_shmctl(0, (b & 8) ? IPC_INFO : SHM_INFO, (struct shmid_ds *)&u.hi);
		break;
	default: /* use it */
		if (type == SVIPC_MSG) {
			struct { long t; char c[64]; } m = { 1 + (b >> 5), "x" };
			if (b & 8)
				svipc_msgsnd(id, &m, 1 + (b >> 4) % 60, IPC_NOWAIT);
			else
				svipc_msgrcv(id, &m, sizeof m.c, 0, IPC_NOWAIT);
		} else if (type == SVIPC_SEM) {
			struct sembuf op = { 0, (short)((b & 8) ? 1 : -1), IPC_NOWAIT | ((b & 16) ? SEM_UNDO : 0) };
			svipc_semop(id, &op, 1);
		} else if (NATT < 8) {
			void *p = svipc_shmat(id, NULL, (b & 8) ? SHM_RDONLY : 0);
			if (p != (void *)-1) {
				volatile char c = *(char *)p;
				(void)c;
				ATT[NATT++] = p;
			}
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	FZ_RUN++;
	NIDS = 0;
	remember(SVIPC_MSG, svipc_msgget(fz_key(), IPC_CREAT | 0600));
	remember(SVIPC_SEM, svipc_semget(fz_key(), 2, IPC_CREAT | 0600));
	remember(SVIPC_SHM, svipc_shmget(fz_key(), 5000, IPC_CREAT | 0600));
	remember(SVIPC_MSG, svipc_msgget(IPC_PRIVATE, 0600));
	if (NIDS != 4) {
		fprintf(stderr, "fuzz_ns: setup failed\n");
		abort();
	}

	struct fz in = { data, size };
	for (int cmd = 0; cmd < FZ_MAX_CMDS && in.n; cmd++) {
		uint8_t op = fz_u8(&in);
		int fd = -1;
		int type, id;
		switch (op % 16) {
		case 0:
		case 1:
		case 2:
		case 3:
			fd = fz_open_file("ns");
			if (fd >= 0)
				fz_patch(&in, fd, NSREG, NREG_NS, NSLOCK, 1);
			break;
		case 4:
			fd = fz_open_file("procs");
			if (fd >= 0)
				fz_patch(&in, fd, PRREG, NREG_PR, NULL, 0);
			break;
		case 5:
			fd = fz_open_file((fz_u8(&in) & 3) ? "ns" : "procs");
			if (fd >= 0)
				fz_raw(&in, fd, 0, NSLOCK, 1);
			break;
		case 6:
			fd = fz_open_file("ns");
			if (fd >= 0)
				fz_poke(fd, NS_OFF_LOCK, FZ_DEAD_TOKEN | ((fz_u8(&in) & 1) ? 0x80000000u : 0), 4);
			break;
		case 7:
		case 8:
			get_cmd(&in);
			break;
		case 9:
		case 10:
		case 11:
			ctl_cmd(&in);
			break;
		case 12: {
			struct svipc_limits l;
			svipc_limits_get(&l);
			break;
		}
		case 13:
			if (fz_u8(&in) & 1) {
				fd = fz_open_file("ns");
				if (fd >= 0)
					chain_patch(&in, fd);
				break;
			}
			id = pick_id(&in, &type);
			svipc__obj_forget(type, id);
			break;
		default:
			id = pick_id(&in, &type);
			fz_admin(&in, type, id);
			break;
		}
		if (fd >= 0)
			close(fd);
	}
	for (int i = 0; i < NATT; i++)
		svipc_shmdt(ATT[i]);
	NATT = 0;
	for (int i = 0; i < NIDS; i++)
		svipc__obj_forget(IDS[i][0], IDS[i][1]);
	restore();
	fz_sweep_dir();
	return 0;
}

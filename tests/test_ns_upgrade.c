/*
 * The namespace file's key index (ns.c, struct ns_index, version 2).
 *
 * Upgrade: a namespace written by version 1 (the same file without the
 * index, as it may lie on a disk across a reboot) is brought to version 2
 * in place by the first process that opens it, or by many at once, or by
 * the next opener after an upgrader was killed half-way (the file already
 * grown, still version 1, its new part zero or holding what looks like an
 * index); every object is then found by its key. The version-1 file is
 * made by writing its layout directly: a namespace made by this version,
 * cut back to the old length, its version field set to 1.
 *
 * Damage: the index changed behind the library's back (a chain cut, a
 * chain and its count both cut, a cycle, a link out of range, an object
 * created by a process that does not maintain the index) never gives a
 * wrong id, and never a second object for a key that exists.
 *
 * Every scenario runs in fresh processes: a process maps the namespace
 * once, at its first call.
 */
#include "t.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "inspect.h"
#include "ns.h"

/* The layout of ns (ns.c: struct ns_file and struct ns_index). */
#define IDX_MAX 32768u
#define BUCKETS 16384u
#define TAB_SIZE (16 + 16 * IDX_MAX)
#define TAB(t) (144 + (t) * TAB_SIZE) /* next_idx, in_use, hiwater, pad, entries */
#define ENT(t, i) (TAB(t) + 16 + 16 * (i)) /* key, state, seq, units */
#define NS_V1_SIZE (144 + 3 * TAB_SIZE)
#define IX_SIZE (16 + 4 * BUCKETS + 2 * IDX_MAX)
#define NS_V2_SIZE (NS_V1_SIZE + 3 * IX_SIZE)
#define IX(t) (NS_V1_SIZE + (t) * IX_SIZE) /* built, in_use, next_idx, hiwater */
#define IX_HEAD(t, h) (IX(t) + 16 + 2 * (h))
#define IX_COUNT(t, h) (IX(t) + 16 + 2 * BUCKETS + 2 * (h))
#define IX_NEXT(t, i) (IX(t) + 16 + 4 * BUCKETS + 2 * (i))
#define INDEX_BUILT 0x58444e49u

#define KEY 0x4e530000
#define SEM_KEY 0x4e531000
#define SHM_KEY 0x4e532000
enum { NQ = 300 };

struct shared {
	int q[NQ]; /* -1: removed */
	int sem, shm;
};
static struct shared *sh;
static int fd_ns = -1;

static uint32_t rd32(off_t off)
{
	uint32_t v = 0;
	T_EQ(pread(fd_ns, &v, 4, off), 4);
	return v;
}

static void wr32(off_t off, uint32_t v)
{
	T_EQ(pwrite(fd_ns, &v, 4, off), 4);
}

static uint16_t rd16(off_t off)
{
	uint16_t v = 0;
	T_EQ(pread(fd_ns, &v, 2, off), 2);
	return v;
}

static void wr16(off_t off, uint16_t v)
{
	T_EQ(pwrite(fd_ns, &v, 2, off), 2);
}

static off_t ns_size(void)
{
	struct stat st;
	T_OK(fstat(fd_ns, &st));
	return st.st_size;
}

/* Runs fn in a new process; its exit status (0: every check passed). */
static pid_t start(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(t_failures ? 1 : 0);
	}
	return pid;
}

static int finish(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(void (*fn)(void))
{
	return finish(start(fn));
}

/* Queues with holes (some removed), a set and a segment, with this version. */
static void make_objects(void)
{
	for (int i = 0; i < NQ; i++)
		sh->q[i] = T_OK(svipc_msgget(KEY + i, IPC_CREAT | 0600));
	for (int i = 3; i < NQ; i += 7) {
		T_OK(svipc_msgctl(sh->q[i], IPC_RMID, NULL));
		sh->q[i] = -1;
	}
	sh->sem = T_OK(svipc_semget(SEM_KEY, 3, IPC_CREAT | 0600));
	sh->shm = T_OK(svipc_shmget(SHM_KEY, 4096, IPC_CREAT | 0600));
	T_OK(svipc_msgget(IPC_PRIVATE, 0600));
}

/* Every object by its key, with and without IPC_CREAT; removed keys are gone. */
static void find_objects(void)
{
	for (int i = 0; i < NQ; i++) {
		if (sh->q[i] < 0) {
			T_ERR(svipc_msgget(KEY + i, 0600), ENOENT);
			continue;
		}
		T_EQ(svipc_msgget(KEY + i, 0600), sh->q[i]);
		T_EQ(svipc_msgget(KEY + i, IPC_CREAT | 0600), sh->q[i]);
	}
	T_OK(svipc_msgget(KEY + 3, IPC_CREAT | IPC_EXCL | 0600)); /* a new key */
	T_EQ(svipc_semget(SEM_KEY, 0, 0600), sh->sem);
	T_EQ(svipc_shmget(SHM_KEY, 0, 0600), sh->shm);
	T_ERR(svipc_semget(SEM_KEY, 3, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	T_ERR(svipc_shmget(SHM_KEY, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
}

/* Lookups only (several processes run it at once). */
static void lookup_objects(void)
{
	for (int i = 0; i < NQ; i++)
		if (sh->q[i] >= 0)
			T_EQ(svipc_msgget(KEY + i, 0600), sh->q[i]);
		else
			T_ERR(svipc_msgget(KEY + i, 0600), ENOENT);
	T_EQ(svipc_semget(SEM_KEY, 0, 0600), sh->sem);
	T_EQ(svipc_shmget(SHM_KEY, 0, 0600), sh->shm);
}

/* find_objects made KEY + 3 again: forget it, so the next run expects it gone. */
static void unmake_key3(void)
{
	int q = svipc_msgget(KEY + 3, 0600);
	if (q >= 0)
		T_OK(svipc_msgctl(q, IPC_RMID, NULL));
}

/*
 * The namespace as version 1 wrote it: the old length, version 1. With
 * `grown`, as an upgrader killed after growing it leaves it: the new length,
 * still version 1; with `fake` too, its new part holding an index that says
 * it is built and current but knows no key.
 */
static void to_v1(int grown, int fake)
{
	T_OK(ftruncate(fd_ns, NS_V1_SIZE));
	wr32(4, 1);
	if (!grown)
		return;
	T_OK(ftruncate(fd_ns, NS_V2_SIZE));
	for (int t = 0; fake && t < 3; t++) {
		wr32(IX(t), INDEX_BUILT);
		wr32(IX(t) + 4, rd32(TAB(t) + 4));
		wr32(IX(t) + 8, rd32(TAB(t)));
		wr32(IX(t) + 12, rd32(TAB(t) + 8));
	}
}

static void expect_v2(void)
{
	T_EQ(ns_size(), NS_V2_SIZE);
	T_EQ(rd32(4), 2);
}

static void refused(void)
{
	T_ERR(svipc_msgget(KEY, 0600), EINVAL);
}

static void test_upgrade(void)
{
	expect_v2();

	/* One process. */
	to_v1(0, 0);
	T_EQ(ns_size(), NS_V1_SIZE);
	T_EQ(run(find_objects), 0);
	expect_v2();
	T_EQ(run(unmake_key3), 0);

	/* Many at once, released together. */
	to_v1(0, 0);
	enum { N = 8 };
	int gate[2];
	T_OK(pipe(gate));
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char c;
			close(gate[1]);
			(void)!read(gate[0], &c, 1); /* EOF: go */
			lookup_objects();
			_exit(t_failures ? 1 : 0);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < N; i++)
		T_EQ(finish(kids[i]), 0);
	expect_v2();

	/* An upgrader killed after growing the file: the next opener finishes. */
	to_v1(1, 0);
	T_EQ(run(find_objects), 0);
	expect_v2();
	T_EQ(run(unmake_key3), 0);

	/* ... even if the new part looks like a built index: it is never trusted. */
	to_v1(1, 1);
	T_EQ(run(find_objects), 0);
	expect_v2();
	T_EQ(run(unmake_key3), 0);

	/* Not a namespace of any version: refused, not grown. */
	to_v1(0, 0);
	wr32(4, 7);
	T_EQ(run(refused), 0);
	T_EQ(ns_size(), NS_V1_SIZE);
	wr32(4, 1);
	T_EQ(run(lookup_objects), 0);
	expect_v2();
}

/* ---- damage -------------------------------------------------------------------- */

static int damage_case;

/* The table index of queue i's entry. */
static uint32_t qidx(int i)
{
	return (uint32_t)sh->q[i] & (IDX_MAX - 1);
}

/* Damages the index (in the parent, between two processes' lookups). */
static void damage(int c, int i)
{
	uint32_t b = svipc__ns_key_bucket(KEY + i), e = qidx(i);
	switch (c) {
	case 0: /* a chain cut, its count left */
		wr16(IX_HEAD(0, b), 0);
		break;
	case 1: /* a chain and its count both cut: looks whole */
		wr16(IX_HEAD(0, b), 0);
		wr16(IX_COUNT(0, b), 0);
		break;
	case 2: /* a cycle */
		wr16(IX_HEAD(0, b), (uint16_t)(e + 1));
		wr16(IX_NEXT(0, e), (uint16_t)(e + 1));
		wr16(IX_COUNT(0, b), 0xffff);
		break;
	case 3: /* a link out of range */
		wr16(IX_HEAD(0, b), 0xffff);
		break;
	case 4: /* a link to another key's entry */
		wr16(IX_HEAD(0, b), (uint16_t)(qidx(i + 1) + 1));
		break;
	case 5: { /* the queue made by a process that does not maintain the index (version 1) */
		uint16_t h = rd16(IX_HEAD(0, b));
		T_EQ(h, e + 1); /* the only one of its chain (the test's keys spread) */
		wr16(IX_HEAD(0, b), rd16(IX_NEXT(0, e)));
		wr16(IX_COUNT(0, b), (uint16_t)(rd16(IX_COUNT(0, b)) - 1));
		wr32(IX(0) + 4, rd32(TAB(0) + 4) - 1); /* its copy of the header: from before */
		wr32(IX(0) + 8, e);
		break;
	}
	default: /* the index not built */
		wr32(IX(0), 0);
		break;
	}
}

static int damaged_q = 11; /* not one of the removed (i % 7 == 3) */

/* A key nobody made that falls in key i's chain. */
static key_t missing_key(int i)
{
	uint32_t b = svipc__ns_key_bucket(KEY + i);
	key_t k = 0x60000000;
	while (svipc__ns_key_bucket(k) != b)
		k++;
	return k;
}

static void check_clean(void)
{
	T_EQ(svipc__check_ns(0, NULL, NULL), 0);
}

static void lookup_damaged(void)
{
	int i = damaged_q;
	/* A miss walks the whole chain: it meets the damage, or the chain looks whole. */
	T_ERR(svipc_msgget(missing_key(i), 0600), ENOENT);
	/* The id is right, and a key that exists is never made twice. */
	if (damage_case == 1) {
		T_EQ(svipc_msgget(KEY + i, IPC_CREAT | 0600), sh->q[i]);
	} else {
		T_EQ(svipc_msgget(KEY + i, 0600), sh->q[i]);
	}
	T_ERR(svipc_msgget(KEY + i, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	lookup_objects(); /* and everything else is still found */
}

static void test_damage(void)
{
	for (damage_case = 0; damage_case <= 6; damage_case++) {
		T_EQ(run(lookup_objects), 0); /* builds the index */
		T_EQ(rd32(IX(0)), INDEX_BUILT);
		damage(damage_case, damaged_q);
		if (run(lookup_damaged) != 0)
			T_FAIL("damage case %d", damage_case);
		T_EQ(rd32(IX(0)), INDEX_BUILT); /* built again */
		T_EQ(run(check_clean), 0);
	}
}

int main(void)
{
	t_setup(120);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	/* This process never calls svipc on the namespace: only its children map it. */
	T_EQ(run(make_objects), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/ns", t_dir);
	fd_ns = open(path, O_RDWR | O_CLOEXEC);
	T_ASSERT(fd_ns >= 0);
	test_upgrade();
	test_damage();
	close(fd_ns);
	return t_done();
}

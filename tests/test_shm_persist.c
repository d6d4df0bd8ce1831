/*
 * test_shm_persist.c - segments in a namespace on a disk filesystem outlive
 * the processes that use them; svipc_shmsync.
 *
 * The namespace is a directory of its own under /var/tmp (a disk
 * filesystem, not /dev/shm), set as SVIPC_DIR by this program and removed
 * at the end. Each step runs in a separately exec'd process (this program
 * again, /proc/self/exe with a step name), so nothing is inherited but the
 * environment, as after a restart:
 *  1. write: creates a keyed segment (1 MiB + 123 bytes, mode 0640),
 *     writes a pattern, svipc_shmsync(addr, MS_SYNC) == 0, detaches, exits;
 *     meanwhile checks that svipc_shmsync fails with EINVAL for bad flags
 *     (MS_SYNC|MS_ASYNC, unknown bits) and for addresses that are not an
 *     attachment's (NULL, the stack, the heap, inside the segment, a kernel
 *     System V attachment, the address after shmdt);
 *  2. read: finds the segment by key; IPC_STAT: size, mode, nattch 0, cpid
 *     and lpid the writer's; the pattern is there; svipc_shmsync on a
 *     SHM_RDONLY attachment works;
 *  3. update with MS_ASYNC (returns 0), then 4. read the new pattern;
 *  5. crash: attaches, writes, MS_SYNC, and SIGKILLs itself attached;
 *  6. read: nattch 0 (the dead attacher does not count), the pattern is
 *     there;
 *  7. remove: IPC_RMID; the directory then holds no shm.* file.
 * The whole test is bounded by its alarm and each step by its own; every
 * step's process is reaped.
 */
#include "svipc.h"
#include "t.h"

#include <sys/statfs.h>
#include <linux/magic.h>

#include "shm_mp.h"

#define SEG_SIZE ((size_t)(1u << 20) + 123)

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = t_mix64(seed + i);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* Offset of the first byte that differs from the pattern, or -1. */
static long check(const unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = t_mix64(seed + i);
		size_t k = n - i < 8 ? n - i : 8;
		if (memcmp(p + i, &v, k) != 0)
			return (long)i;
	}
	return -1;
}

/* ---- the steps, each in its own exec'd process ---------------------------------- */

static int step_write(key_t key, uint64_t seed, int flags, int create, int crash)
{
	int id = (int)T_OK(svipc_shmget(key, SEG_SIZE, create ? IPC_CREAT | IPC_EXCL | 0640 : 0));
	if (id == -1)
		return 1;
	unsigned char *a = svipc_shmat(id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return 1;
	fill(a, SEG_SIZE, seed);
	if (svipc_shmsync(a, flags) != 0)
		T_FAIL("svipc_shmsync(addr, %s): %s", flags == MS_SYNC ? "MS_SYNC" : "MS_ASYNC",
		       strerror(errno));
	if (crash)
		raise(SIGKILL); /* attached, no shmdt, no destructor */
	if (flags == MS_SYNC) {
		/* Bad flags. */
		T_ERR(svipc_shmsync(a, MS_SYNC | MS_ASYNC), EINVAL);
		T_ERR(svipc_shmsync(a, 0x100), EINVAL);
		T_ERR(svipc_shmsync(a, -1), EINVAL);
		T_ERR(svipc_shmsync(a, MS_SYNC | 0x40000), EINVAL);
		/* Addresses that are not an attachment's. */
		int local = 0;
		char *heap = malloc(64);
		T_ERR(svipc_shmsync(NULL, MS_SYNC), EINVAL);
		T_ERR(svipc_shmsync(&local, MS_SYNC), EINVAL);
		T_ERR(svipc_shmsync(heap, MS_SYNC), EINVAL);
		T_ERR(svipc_shmsync(a + 4096, MS_SYNC), EINVAL);
		T_ERR(svipc_shmsync(a + 1, MS_ASYNC), EINVAL);
		free(heap);
		int kid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		if (kid != -1) {
			void *k = shmat(kid, NULL, 0);
			shmctl(kid, IPC_RMID, NULL);
			if (k != SHM_FAILED) {
				T_ERR(svipc_shmsync(k, MS_SYNC), EINVAL);
				shmdt(k);
			}
		}
		T_EQ(check(a, SEG_SIZE, seed), -1);
	}
	T_OK(svipc_shmdt(a));
	T_ERR(svipc_shmsync(a, MS_SYNC), EINVAL);
	T_ERR(svipc_shmsync(a, MS_ASYNC), EINVAL);
	return t_failures ? 1 : 0;
}

static int step_read(key_t key, uint64_t seed, pid_t creator, pid_t last)
{
	int id = svipc_shmget(key, 0, 0);
	if (id == -1) {
		T_FAIL("shmget(key %#x) in a new process: %s", (unsigned)key, strerror(errno));
		return 1;
	}
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	T_OK(svipc_shmctl(id, IPC_STAT, &ds));
	T_EQ(ds.shm_segsz, SEG_SIZE);
	T_EQ(ds.shm_perm.mode & 0777, 0640);
	T_EQ((unsigned)ds.shm_perm.__key, (unsigned)key);
	T_EQ(ds.shm_nattch, 0);
	T_EQ(ds.shm_cpid, creator);
	T_EQ(ds.shm_lpid, last);
	unsigned char *a = svipc_shmat(id, NULL, SHM_RDONLY);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return 1;
	long bad = check(a, SEG_SIZE, seed);
	if (bad != -1)
		T_FAIL("segment read back in a new process differs at offset %ld", bad);
	T_OK(svipc_shmsync(a, MS_SYNC));
	T_OK(svipc_shmsync(a, MS_ASYNC));
	T_OK(svipc_shmdt(a));
	return t_failures ? 1 : 0;
}

static int step_remove(key_t key)
{
	int id = (int)T_OK(svipc_shmget(key, 0, 0));
	if (id != -1)
		T_OK(svipc_shmctl(id, IPC_RMID, NULL));
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	return t_failures ? 1 : 0;
}

static int step_main(int argc, char **argv)
{
	signal(SIGALRM, SIG_DFL);
	alarm(30);
	const char *step = argv[1];
	key_t key = (key_t)strtoul(argc > 2 ? argv[2] : "0", NULL, 0);
	uint64_t seed = strtoull(argc > 3 ? argv[3] : "0", NULL, 0);
	if (!strcmp(step, "write"))
		return step_write(key, seed, MS_SYNC, 1, 0);
	if (!strcmp(step, "update"))
		return step_write(key, seed, MS_ASYNC, 0, 0);
	if (!strcmp(step, "crash"))
		return step_write(key, seed, MS_SYNC, 0, 1);
	if (!strcmp(step, "read") && argc > 5)
		return step_read(key, seed, (pid_t)atoi(argv[4]), (pid_t)atoi(argv[5]));
	if (!strcmp(step, "remove"))
		return step_remove(key);
	fprintf(stderr, "unknown step %s\n", step);
	return 2;
}

/* ---- the driver ----------------------------------------------------------------- */

/* Runs a step in a fresh exec of this program; returns its pid. */
static pid_t run_step(int sig, const char *step, key_t key, uint64_t seed, pid_t creator,
		      pid_t last)
{
	char k[32], s[32], c[32], l[32];
	snprintf(k, sizeof k, "%#x", (unsigned)key);
	snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
	snprintf(c, sizeof c, "%d", (int)creator);
	snprintf(l, sizeof l, "%d", (int)last);
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		execl("/proc/self/exe", "test_shm_persist", step, k, s, c, l, (char *)NULL);
		_exit(127);
	}
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	remember_kid(p);
	char what[64];
	snprintf(what, sizeof what, "step '%s'", step);
	reap(p, sig, what);
	return p;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return step_main(argc, argv);

	/* A namespace of our own on a disk filesystem. */
	t_owner_pid = getpid();
	snprintf(t_dir, sizeof t_dir, "/var/tmp/svipc-persist-XXXXXX");
	if (!mkdtemp(t_dir)) {
		perror("mkdtemp /var/tmp");
		return 1;
	}
	setenv("SVIPC_DIR", t_dir, 1);
	atexit(t_cleanup);
	alarm(90);
	shm_setup_common();
	struct statfs sf;
	if (statfs(t_dir, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC))
		fprintf(stderr, "note: %s is on tmpfs here; MS_SYNC has nothing to write\n", t_dir);
	t_rng = (uint64_t)getpid() * 1000003u ^ (uint64_t)time(NULL);
	key_t key = (key_t)(0x50000000u | (uint32_t)(t_rand() & 0x0fffffffu));
	uint64_t s1 = t_rand(), s2 = t_rand(), s3 = t_rand();

	mp_scenario = "write (MS_SYNC)";
	pid_t w = run_step(0, "write", key, s1, 0, 0);
	if (count_shm_files() != 1)
		T_FAIL("after the writer exited: %d shm.* file(s) in %s, want 1", count_shm_files(),
		       t_dir);
	mp_scenario = "read";
	run_step(0, "read", key, s1, w, w);
	mp_scenario = "update (MS_ASYNC)";
	pid_t u = run_step(0, "update", key, s2, 0, 0);
	mp_scenario = "read after update";
	run_step(0, "read", key, s2, w, u);
	mp_scenario = "crash";
	pid_t c = run_step(SIGKILL, "crash", key, s3, 0, 0);
	mp_scenario = "read after crash";
	run_step(0, "read", key, s3, w, c);
	mp_scenario = "remove";
	run_step(0, "remove", key, 0, 0, 0);
	if (count_shm_files() != 0)
		T_FAIL("after IPC_RMID: %d shm.* file(s) left in %s", count_shm_files(), t_dir);
	return t_done();
}

/*
 * test_shim_shm.c - the LD_PRELOAD shim runs unmodified shared memory
 * programs on svipc.
 *
 * prog_plain_shm (built without svipc, against <sys/shm.h> only) is run
 * under LD_PRELOAD=libsvipc-preload.so in this test's SVIPC_DIR, and:
 *  - a run that never touches a segment exits 0 and leaves SVIPC_DIR empty;
 *  - its self-contained scenario (create, attach, fork, read-only attach,
 *    IPC_SET, IPC_RMID while attached, last detach, IPC_INFO, SHM_INFO,
 *    IPC_64 refused) exits 0 and leaves no segment;
 *  - two unrelated programs share a keyed segment: program 1 (`create`)
 *    makes it and writes a pattern, then holds its attachment; program 2
 *    (`check`, a separate exec) finds it by key, attaches it read-only,
 *    checks the pattern and shm_nattch == 2, that a write through its
 *    read-only attachment is SIGSEGV, and writes a reply through a
 *    read-write attachment that program 1 then checks. Meanwhile this test
 *    shows where the segment lives: under the shim the file shm.<id> exists
 *    in SVIPC_DIR, svipc_shmget finds the key, svipc_shmat shows the
 *    pattern, and the kernel's shmget(key, 0, 0) fails with ENOENT; with
 *    SVIPC_PRELOAD_KERNEL=1 it is the other way round (the kernel has it,
 *    SVIPC_DIR holds no shm.* file, svipc_shmget gives ENOENT). Each round
 *    is run twice: program 1 exits by itself, or is killed with SIGKILL
 *    while attached, and shm_nattch must drop to 0 either way. Program 3
 *    (`rm`) then removes the segment by key, and the file is gone.
 * Every segment made here, in the kernel or in svipc, is removed at the end
 * (atexit, and on the test's own timeout).
 */
#include "svipc.h"
#include "t.h"
#include "shim_run.h"

#include <sys/shm.h>
#include <sys/stat.h>

#ifndef PLAIN_SHM_PROG
#error "PLAIN_SHM_PROG (path of prog_plain_shm) must be defined"
#endif

#define SEG_SIZE 12411 /* not a multiple of the page size */
#define REPLY_LEN 64   /* as in prog_plain_shm.c */

static int kseg_private(void)
{
	return shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
}

static int kseg_get(key_t key)
{
	return shmget(key, 0, 0);
}

static void kseg_rm(int id)
{
	shmctl(id, IPC_RMID, NULL);
}

/* svipc's object at key, for shim_self_checks. */
static int svipc_seg_at(key_t key)
{
	return svipc_shmget(key, 0, 0);
}

static const struct shim_kernel kernel_segments = { "shared memory", "segment", "shmget",
						    kseg_private, kseg_get, kseg_rm };

/* The byte at offset i of a segment made for key (as in prog_plain_shm.c). */
static unsigned char pattern(key_t key, size_t i)
{
	return (unsigned char)((i * 131u + (i >> 12) * 7u + 0x5au) ^ (unsigned)key ^
			       ((unsigned)key >> 8));
}

/* ---- running prog_plain_shm (see shim_start) ----------------------------------- */

static pid_t start_prog(const char *const *args, const char *kernel_env, int *in, FILE **out)
{
	return shim_start(PLAIN_SHM_PROG, args, kernel_env, in, out);
}

static int run_prog(const char *const *args, const char *kernel_env)
{
	return shim_run(PLAIN_SHM_PROG, args, kernel_env);
}

/* ---- one round: create / check / end / rm ------------------------------------------ */

/*
 * kernel: run the programs with SVIPC_PRELOAD_KERNEL=1. kill_creator: end
 * program 1 with SIGKILL while it is attached instead of letting it detach.
 */
static void round_trip(key_t key, int proj, int kernel, int kill_creator)
{
	const char *env = kernel ? "1" : NULL;
	const char *mode = kernel ? "kernel" : "svipc";
	char projs[16], sizes[16], cpids[16];
	snprintf(projs, sizeof projs, "%d", proj);
	snprintf(sizes, sizeof sizes, "%d", SEG_SIZE);
	fprintf(stderr, "round: %s, creator %s\n", mode, kill_creator ? "killed" : "exits");

	int in = -1;
	FILE *out = NULL;
	const char *cargs[] = { "create", t_dir, projs, sizes, NULL };
	pid_t creator = start_prog(cargs, env, &in, &out);
	if (creator == -1)
		return;
	char line[64] = "";
	int id = -1;
	if (!out || !fgets(line, sizeof line, out) || sscanf(line, "ready %d", &id) != 1) {
		T_FAIL("%s: program 1 did not report ready (\"%s\")", mode, line);
		close(in);
		T_EXITED_0(shim_wait(creator), "program 1");
		if (out)
			fclose(out);
		return;
	}

	/* Where does it live? */
	if (!kernel) {
		T_ASSERT(ns_file_exists("shm", id));
		T_EQ(T_OK(svipc_shmget(key, 0, 0)), id);
		if (kernel_ok)
			T_ERR(shmget(key, 0, 0), ENOENT);
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		T_OK(svipc_shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_segsz, SEG_SIZE);
		T_EQ(ds.shm_cpid, creator);
		T_EQ(ds.shm_nattch, 1);
		T_EQ(ds.shm_perm.__key, key);
	} else {
		T_EQ(dir_entries("shm."), 0);
		T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		T_EQ(T_OK(shmget(key, 0, 0)), id);
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		T_OK(shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_segsz, SEG_SIZE);
		T_EQ(ds.shm_cpid, creator);
		T_EQ(ds.shm_nattch, 1);
	}

	/* Program 2: an unrelated process finds it by key. */
	snprintf(cpids, sizeof cpids, "%d", (int)creator);
	const char *kargs[] = { "check", t_dir, projs, sizes, "2", cpids, NULL };
	T_EXITED_0(run_prog(kargs, env), kernel ? "program 2 (kernel)" : "program 2 (svipc)");

	if (kill_creator) {
		kill(creator, SIGKILL);
		int st = shim_wait(creator);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			T_FAIL("%s: program 1 was not killed: status %#x", mode, st);
	} else {
		close(in);
		in = -1;
		T_EXITED_0(shim_wait(creator), kernel ? "program 1 (kernel)" : "program 1 (svipc)");
	}
	if (in != -1)
		close(in);
	fclose(out);

	/* Nobody is attached any more; the segment and its contents remain. */
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (!kernel) {
		T_ASSERT(ns_file_exists("shm", id));
		T_OK(svipc_shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_nattch, 0);
		T_EQ(ds.shm_segsz, SEG_SIZE);
		/* This process (linked with svipc) reads what the two programs wrote. */
		const unsigned char *p = svipc_shmat(id, NULL, SHM_RDONLY);
		if (p == (void *)-1) {
			T_FAIL("svipc_shmat(%d, SHM_RDONLY): %s", id, strerror(errno));
		} else {
			size_t bad = SIZE_MAX;
			for (size_t i = 0; i < SEG_SIZE - REPLY_LEN && bad == SIZE_MAX; i++)
				if (p[i] != pattern(key, i))
					bad = i;
			if (bad != SIZE_MAX)
				T_FAIL("svipc segment byte %zu is %#x, want %#x", bad, p[bad],
				       pattern(key, bad));
			if (memcmp(p + SEG_SIZE - REPLY_LEN, "reply from ", 11))
				T_FAIL("no reply from program 2 in the svipc segment");
			T_OK(svipc_shmdt(p));
		}
		if (kernel_ok)
			T_ERR(shmget(key, 0, 0), ENOENT);
	} else {
		T_OK(shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_nattch, 0);
		T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		T_EQ(dir_entries("shm."), 0);
	}

	/* Program 3 removes it by key. */
	const char *rargs[] = { "rm", t_dir, projs, NULL };
	T_EXITED_0(run_prog(rargs, env), kernel ? "program 3 (kernel)" : "program 3 (svipc)");
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	T_ASSERT(!ns_file_exists("shm", id) || kernel);
	T_EQ(dir_entries("shm."), 0);
	if (kernel_ok)
		T_ERR(shmget(key, 0, 0), ENOENT);
}

/* ---- main ------------------------------------------------------------------------ */

int main(void)
{
	t_setup(100);
	key_t key = -1;
	int proj = shim_setup(&kernel_segments, &key);
	if (proj == -1)
		return t_done();
	shim_self_checks(PLAIN_SHM_PROG, key, proj, svipc_seg_at, "shm.");

	/* Two unrelated programs, on svipc, then on the kernel. */
	for (int kill_creator = 0; kill_creator < 2; kill_creator++) {
		round_trip(key, proj, 0, kill_creator);
		if (kernel_ok)
			round_trip(key, proj, 1, kill_creator);
	}

	/* Nothing left anywhere. */
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	T_EQ(dir_entries("shm."), 0);
	shim_kernel_clean(key);
	return t_done();
}

/*
 * test_shm_crash.c - shared memory survives a SIGKILL at any instruction.
 *
 * A child runs one operation (shmget, shmat, shmdt, IPC_RMID, IPC_SET, a
 * fork) under ptrace; the parent single-steps it N instructions and kills
 * it for real, so the kernel releases what it releases at a death (the
 * child's attachment locks, its register lock) and nothing else. Then the
 * parent checks what must hold whatever N was:
 *   - no lock stays held: every later call returns (the alarm catches a hang);
 *   - shm_nattch counts exactly the attachments of live processes;
 *   - the segment is either untouched or the operation is complete
 *     (IPC_SET: all fields or none; IPC_RMID: key hidden and SHM_DEST, and
 *     the segment goes away at its last detach; shmget: the key finds a
 *     whole segment or none), and its data is intact;
 *   - no file is left behind once the segments are removed.
 * N runs over the whole operation with a stride chosen so that each
 * operation gets about SVIPC_SHM_CRASH_POINTS kill points (default 60;
 * set it to 0 for every instruction, without the time limit), within
 * OP_BUDGET_S seconds. SVIPC_SHM_CRASH_OPS=<names> (comma separated, as
 * printed: shmget, shmat, shmat-rdonly, shmdt, rmid, rmid-attached, ipc-set,
 * fork) runs only those operations (default: all); an unknown name fails.
 */
#include "svipc.h"
#include "t.h"
#include "crash_step.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SEGSZ 10000
#define OP_BUDGET_S 12 /* seconds of kill points per operation at most */
#define KEY 0x5c4a5400

static volatile pid_t *grandchild; /* MAP_SHARED: written by the traced child */

enum op { OP_SHMGET, OP_SHMAT, OP_SHMAT_RO, OP_SHMDT, OP_RMID, OP_RMID_ATTACHED, OP_SET, OP_FORK,
	  OP_N };
static const char *const op_name[OP_N] = { "shmget", "shmat", "shmat-rdonly", "shmdt", "rmid",
					  "rmid-attached", "ipc-set", "fork" };

static long nattch(int id)
{
	struct shmid_ds ds;
	if (svipc_shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	return (long)ds.shm_nattch;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31u + i * 7u);
}

static int check_fill(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed * 31u + i * 7u))
			return 0;
	return 1;
}

/* What the traced child does after it stops itself. */
static void child_op(enum op op, int id, key_t key)
{
	switch (op) {
	case OP_SHMGET:
		svipc_shmget(key, SEGSZ, IPC_CREAT | IPC_EXCL | 0600);
		break;
	case OP_SHMAT:
		svipc_shmat(id, NULL, 0);
		break;
	case OP_SHMAT_RO:
		svipc_shmat(id, NULL, SHM_RDONLY);
		break;
	case OP_SHMDT:
	case OP_FORK:
		break; /* prepared before the stop, see run_child */
	case OP_RMID:
	case OP_RMID_ATTACHED:
		svipc_shmctl(id, IPC_RMID, NULL);
		break;
	case OP_SET: {
		struct shmid_ds ds;
		svipc_shmctl(id, IPC_STAT, &ds);
		ds.shm_perm.uid = 1234;
		ds.shm_perm.gid = 5678;
		ds.shm_perm.mode = 0640;
		svipc_shmctl(id, IPC_SET, &ds);
		break;
	}
	default:
		break;
	}
}

static int warm_id; /* a segment every child touches before it is traced */
static char warm_name[32]; /* its file, which count_files passes over */

static void run_child(enum op op, int id, key_t key)
{
	void *pre = NULL;
	struct shmid_ds ds;
	svipc_shmctl(warm_id, IPC_STAT, &ds); /* first-use setup: not what is tested */
	if (op == OP_SHMDT || op == OP_FORK)
		pre = svipc_shmat(id, NULL, 0); /* attached before the traced part */
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(90);
	raise(SIGSTOP);
	if (op == OP_SHMDT) {
		svipc_shmdt(pre);
	} else if (op == OP_FORK) {
		/* The fork's child re-registers the attachment, then waits to be killed. */
		pid_t g = fork();
		if (g == 0) {
			pause();
			_exit(0);
		}
		*grandchild = g;
		_exit(g > 0 ? 0 : 91);
	} else {
		child_op(op, id, key);
	}
	_exit(0);
}

/* Starts the child stopped under ptrace; returns its pid. */
static pid_t start(enum op op, int id, key_t key)
{
	pid_t pid = fork();
	if (pid == 0)
		run_child(op, id, key);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		T_FAIL("%s: child did not stop", op_name[op]);
		return -1;
	}
	return pid;
}

/* The fork's grandchild, or 0: the traced child records it here (shared memory). */
static pid_t grandchild_of(pid_t parent)
{
	char path[64], buf[256];
	pid_t g = *grandchild;
	if (g > 0)
		return g;
	/* Killed between fork and the store: ask /proc while the child lives. */
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", parent, parent);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof buf, f))
			g = (pid_t)atoi(buf);
		fclose(f);
	}
	return g;
}

/*
 * One trial: a fresh segment (attached once by us, with a pattern), the
 * child killed after n steps, then the checks. Returns the child's total
 * steps when n is "to the end" (LONG_MAX), else 0.
 */
static long trial(enum op op, long n, unsigned seed)
{
	key_t key = KEY + (key_t)op;
	int id = -1;
	unsigned char *mine = NULL;
	if (op != OP_SHMGET) {
		id = svipc_shmget(key, SEGSZ, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0) {
			T_FAIL("%s: setup shmget: %s", op_name[op], strerror(errno));
			return 0;
		}
		if (op != OP_RMID) {
			mine = svipc_shmat(id, NULL, 0);
			if (mine == (void *)-1) {
				T_FAIL("%s: setup shmat", op_name[op]);
				return 0;
			}
			fill(mine, SEGSZ, seed);
		}
	}
	struct shmid_ds before;
	if (id >= 0)
		svipc_shmctl(id, IPC_STAT, &before);
	*grandchild = 0;
	pid_t pid = start(op, id, key);
	if (pid < 0)
		return 0;
	int exited;
	long done = step(pid, n, &exited, NULL, NULL);
	pid_t grand = 0;
	if (op == OP_FORK && !exited)
		grand = grandchild_of(pid); /* before the kill, while /proc still knows */
	if (!exited)
		kill_reap(pid);
	else
		waitpid(pid, NULL, 0);
	if (op == OP_FORK && !grand)
		grand = grandchild_of(pid);

	/* Everything the child did is now either complete or abandoned. */
	long expect = mine ? 1 : 0;
	if (op == OP_FORK && grand > 0) {
		/*
		 * The grandchild lives and holds both of the child's attachments
		 * (ours, inherited, and its own): counted from the fork on.
		 */
		/*
		 * Until the grandchild has mapped its own copies (a few
		 * microseconds after the fork), its inherited mappings keep the
		 * killed child's locks too: poll.
		 */
		long got = nattch(id);
		for (int i = 0; i < 400 && got != 3; i++) {
			usleep(5000);
			got = nattch(id);
		}
		if (got != 3)
			T_FAIL("%s@%ld: nattch with a live grandchild %ld", op_name[op], n, got);
		kill(grand, SIGKILL);
		for (int i = 0; i < 200 && kill(grand, 0) == 0; i++)
			usleep(5000); /* reaped by init once its parent is gone */
	}
	if (op == OP_SHMGET) {
		int got = svipc_shmget(key, 0, 0);
		if (got >= 0) {
			struct shmid_ds ds;
			T_OK(svipc_shmctl(got, IPC_STAT, &ds));
			T_EQ(ds.shm_segsz, SEGSZ);
			T_EQ(ds.shm_nattch, 0);
			unsigned char *p = svipc_shmat(got, NULL, SHM_RDONLY);
			T_ASSERT(p != (void *)-1);
			if (p != (void *)-1) {
				int zero = 1;
				for (int i = 0; i < SEGSZ; i++)
					zero &= p[i] == 0;
				T_ASSERT(zero);
				T_OK(svipc_shmdt(p));
			}
			T_OK(svipc_shmctl(got, IPC_RMID, NULL));
		} else if (errno != ENOENT) {
			T_FAIL("shmget@%ld: key lookup: %s", n, strerror(errno));
		}
	} else if (op == OP_RMID) {
		long a = nattch(id);
		if (a == -EINVAL) {
			T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		} else {
			T_EQ(a, 0); /* not removed yet: still whole */
			T_EQ(svipc_shmget(key, 0, 0), id);
			T_OK(svipc_shmctl(id, IPC_RMID, NULL));
		}
		T_EQ(nattch(id), -EINVAL);
	} else {
		long a = nattch(id);
		if (a != expect)
			T_FAIL("%s@%ld: nattch %ld, want %ld", op_name[op], n, a, expect);
		T_ASSERT(check_fill(mine, SEGSZ, seed));
		struct shmid_ds ds;
		T_OK(svipc_shmctl(id, IPC_STAT, &ds));
		if (op == OP_SET) {
			int none = ds.shm_perm.uid == before.shm_perm.uid &&
				   ds.shm_perm.gid == before.shm_perm.gid &&
				   ds.shm_perm.mode == before.shm_perm.mode;
			int all = ds.shm_perm.uid == 1234 && ds.shm_perm.gid == 5678 &&
				  (ds.shm_perm.mode & 0777) == 0640;
			if (!none && !all)
				T_FAIL("ipc-set@%ld: half applied: uid %u gid %u mode %o", n,
				       ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.mode);
		}
		int removed = (ds.shm_perm.mode & SHM_DEST) != 0;
		if (op == OP_RMID_ATTACHED && removed) {
			T_EQ(ds.shm_perm.__key, IPC_PRIVATE);
			T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		} else if (!removed) {
			T_EQ(svipc_shmget(key, 0, 0), id);
		}
		/* The lock is free: attach and detach again. */
		void *p = svipc_shmat(id, NULL, SHM_RDONLY);
		T_ASSERT(p != (void *)-1);
		T_EQ(nattch(id), 2);
		if (p != (void *)-1)
			T_OK(svipc_shmdt(p));
		if (!removed)
			T_OK(svipc_shmctl(id, IPC_RMID, NULL));
		T_OK(svipc_shmdt(mine));
		T_EQ(nattch(id), -EINVAL); /* last detach after IPC_RMID: gone */
	}
	char names[512];
	int left = count_files(names, sizeof names, warm_name);
	if (left)
		T_FAIL("%s@%ld: files left: %s", op_name[op], n, names);
	return exited ? done : 0;
}

int main(void)
{
	t_setup(280);
	grandchild = mmap(NULL, sizeof *grandchild, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	if (grandchild == MAP_FAILED)
		return 1;
	warm_id = T_OK(svipc_shmget(IPC_PRIVATE, 1, 0600));
	snprintf(warm_name, sizeof warm_name, "shm.%d", warm_id);
	const char *pts = getenv("SVIPC_SHM_CRASH_POINTS");
	long points = pts ? atol(pts) : 60;
	unsigned ops = selected_ops("SVIPC_SHM_CRASH_OPS", op_name, OP_N);
	if (t_failures) {
		svipc_shmctl(warm_id, IPC_RMID, NULL);
		return t_done();
	}
	unsigned seed = (unsigned)time(NULL);
	long total_trials = 0;
	for (int op = 0; op < OP_N; op++) {
		if (!(ops & (1u << op)))
			continue;
		long total = trial(op, LONG_MAX, seed);
		if (total <= 0) {
			T_FAIL("%s: the full run did not finish", op_name[op]);
			continue;
		}
		struct strata sa = strata_over(total, points);
		int before = t_failures;
		long trials = 0;
		time_t t0 = time(NULL);
		for (long i = 0; i < sa.n && t_failures - before < 5; i++) {
			if (points > 0 && time(NULL) - t0 > OP_BUDGET_S)
				break;
			long n = stratum(&sa, i);
			trial(op, n + (long)(t_rand() % (uint64_t)sa.stride), seed + (unsigned)n);
			trials++;
		}
		total_trials += trials;
		printf("%-14s %6ld instructions, killed at %ld points\n", op_name[op], total, trials);
	}
	svipc_shmctl(warm_id, IPC_RMID, NULL);
	printf("%ld kills, %d failures\n", total_trials, t_failures);
	return t_done();
}

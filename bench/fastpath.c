/* fastpath.c - svipc's uncontended msgsnd+msgrcv and semop loops in one process, for strace -c. */

/*
 * usage: svipc-fastpath N [size]
 *        svipc-fastpath sem N
 *
 * Creates one svipc queue, puts one message in it, then does N pairs of
 * msgsnd + msgrcv (msgtyp 0) with IPC_NOWAIT, so the queue holds one or two
 * messages throughout: never empty, never full, never a reason to wait.
 * Everything else the program does (namespace setup, output, removal) costs
 * the same whatever N is, so under `strace -f -c` the difference between two
 * values of N is what the loop itself asks of the kernel: it should be zero.
 *
 * With `sem`: creates one svipc set of 4 semaphores of value 1 and does N
 * rounds of: semop(-1) and semop(+1) on semaphore 0; the same with SEM_UNDO
 * on semaphore 1; one semop of -1 on all 4 and one of +1 on all 4. None of
 * them ever has a reason to wait. Then checks that all 4 are 1 again.
 *
 * Uses SVIPC_DIR when set; otherwise makes its own namespace directory under
 * /dev/shm and removes it at the end. Exit: 0, or 1 on any error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"

#define MAX_SIZE 4096

struct mbuf {
	long mtype;
	char mtext[MAX_SIZE];
};

static char own_dir[64];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup_dir(void)
{
	if (own_dir[0])
		nftw(own_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int fail(const char *what, long i)
{
	fprintf(stderr, "svipc-fastpath: %s (pair %ld): %s\n", what, i, strerror(errno));
	return 1;
}

/* One semop; -1 (reported) on failure. */
static int sop(int id, struct sembuf *b, size_t n, const char *what, long i)
{
	if (svipc_semop(id, b, n) == 0)
		return 0;
	fail(what, i);
	return -1;
}

static int sem_loop(long n)
{
	int id = svipc_semget(IPC_PRIVATE, 4, IPC_CREAT | 0600);
	if (id == -1)
		return fail("semget", -1);
	int rc = 0;
	unsigned short v[4] = { 1, 1, 1, 1 };
	union {
		int val;
		struct semid_ds *buf;
		unsigned short *array;
	} a = { .array = v };
	if (svipc_semctl(id, 0, SETALL, a) == -1) {
		rc = fail("semctl(SETALL)", -1);
		goto out;
	}
	struct sembuf down = { 0, -1, 0 }, up = { 0, 1, 0 };
	struct sembuf udown = { 1, -1, SEM_UNDO }, uup = { 1, 1, SEM_UNDO };
	struct sembuf down4[4], up4[4];
	for (unsigned short k = 0; k < 4; k++) {
		down4[k] = (struct sembuf){ k, -1, 0 };
		up4[k] = (struct sembuf){ k, 1, 0 };
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (sop(id, &down, 1, "semop(-1)", i) || sop(id, &up, 1, "semop(+1)", i) ||
		    sop(id, &udown, 1, "semop(-1, SEM_UNDO)", i) ||
		    sop(id, &uup, 1, "semop(+1, SEM_UNDO)", i) ||
		    sop(id, down4, 4, "semop(-1 x4)", i) || sop(id, up4, 4, "semop(+1 x4)", i)) {
			rc = 1;
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	memset(v, 0, sizeof v);
	if (svipc_semctl(id, 0, GETALL, a) == -1) {
		rc = fail("semctl(GETALL)", -1);
		goto out;
	}
	if (v[0] != 1 || v[1] != 1 || v[2] != 1 || v[3] != 1) {
		fprintf(stderr, "svipc-fastpath: values %u %u %u %u at the end, want 1 1 1 1\n", v[0],
			v[1], v[2], v[3]);
		rc = 1;
		goto out;
	}
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("svipc-fastpath: %ld rounds of 6 semop calls (-1/+1, -1/+1 SEM_UNDO, 4-op -1/+1), "
	       "%.1f ns per round\n", n, n ? ns / (double)n : 0.0);
out:
	if (svipc_semctl(id, 0, IPC_RMID) == -1 && rc == 0)
		rc = fail("semctl(IPC_RMID)", -1);
	return rc;
}

/* Uses SVIPC_DIR, or a directory of its own removed at exit. */
static int namespace(void)
{
	if (getenv("SVIPC_DIR"))
		return 0;
	snprintf(own_dir, sizeof own_dir, "/dev/shm/svipc-fastpath-XXXXXX");
	if (!mkdtemp(own_dir)) {
		perror("svipc-fastpath: mkdtemp");
		return -1;
	}
	setenv("SVIPC_DIR", own_dir, 1);
	atexit(cleanup_dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sem") == 0) {
		char *end;
		long n = strtol(argv[2], &end, 10);
		if (*end || n < 0) {
			fprintf(stderr, "usage: svipc-fastpath sem N (N >= 0)\n");
			return 2;
		}
		alarm(120);
		if (namespace())
			return 1;
		return sem_loop(n);
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: svipc-fastpath N [size] | svipc-fastpath sem N\n");
		return 2;
	}
	long n = strtol(argv[1], NULL, 10);
	long size = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
	if (n < 0 || size < 8 || size > MAX_SIZE) {
		fprintf(stderr, "svipc-fastpath: N >= 0 and 8 <= size <= %d\n", MAX_SIZE);
		return 2;
	}
	alarm(120);
	if (namespace())
		return 1;

	static struct mbuf m;
	int q = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (q == -1)
		return fail("msgget", -1);
	int rc = 0;
	m.mtype = 1;
	if (svipc_msgsnd(q, &m, (size_t)size, IPC_NOWAIT) == -1) {
		rc = fail("msgsnd (first)", -1);
		goto out;
	}

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		m.mtype = 1 + (i & 7);
		memcpy(m.mtext, &i, sizeof i);
		if (svipc_msgsnd(q, &m, (size_t)size, IPC_NOWAIT) == -1) {
			rc = fail("msgsnd", i);
			goto out;
		}
		ssize_t r = svipc_msgrcv(q, &m, (size_t)size, 0, IPC_NOWAIT);
		if (r == -1) {
			rc = fail("msgrcv", i);
			goto out;
		}
		/* FIFO: this receive returns the message sent one pair earlier. */
		long want = i - 1, got;
		memcpy(&got, m.mtext, sizeof got);
		if (r != size || (i > 0 && got != want)) {
			fprintf(stderr, "svipc-fastpath: pair %ld: got size %zd seq %ld, want %ld %ld\n",
				i, r, got, size, want);
			rc = 1;
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("svipc-fastpath: %ld msgsnd+msgrcv pairs of %ld bytes, %.1f ns per pair\n", n, size,
	       n ? ns / (double)n : 0.0);
out:
	if (svipc_msgctl(q, IPC_RMID, NULL) == -1 && rc == 0)
		rc = fail("msgctl(IPC_RMID)", -1);
	return rc;
}

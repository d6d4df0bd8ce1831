/* fastpath.c - svipc's uncontended msgsnd+msgrcv loop in one process, for strace -c. */

/*
 * usage: svipc-fastpath N [size]
 *
 * Creates one svipc queue, puts one message in it, then does N pairs of
 * msgsnd + msgrcv (msgtyp 0) with IPC_NOWAIT, so the queue holds one or two
 * messages throughout: never empty, never full, never a reason to wait.
 * Everything else the program does (namespace setup, output, removal) costs
 * the same whatever N is, so under `strace -f -c` the difference between two
 * values of N is what the loop itself asks of the kernel: it should be zero.
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

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: svipc-fastpath N [size]\n");
		return 2;
	}
	long n = strtol(argv[1], NULL, 10);
	long size = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
	if (n < 0 || size < 8 || size > MAX_SIZE) {
		fprintf(stderr, "svipc-fastpath: N >= 0 and 8 <= size <= %d\n", MAX_SIZE);
		return 2;
	}
	alarm(120);
	if (!getenv("SVIPC_DIR")) {
		snprintf(own_dir, sizeof own_dir, "/dev/shm/svipc-fastpath-XXXXXX");
		if (!mkdtemp(own_dir)) {
			perror("svipc-fastpath: mkdtemp");
			return 1;
		}
		setenv("SVIPC_DIR", own_dir, 1);
		atexit(cleanup_dir);
	}

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

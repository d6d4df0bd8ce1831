/* shm_fork.c - a parent and its forked child share an IPC_PRIVATE segment: the child writes, the parent reads. */
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

int main(void)
{
	char expect[DEMO_TEXT_MAX];

	demo_line_buffered();

	/*
	 * IPC_PRIVATE: the segment has no key, so no other program can find it.
	 * The child needs none: fork copies the variable that holds the id.
	 */
	int shmid = svipc_shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (shmid == -1)
		demo_die("parent", "shmget");
	printf("parent:   shmget(IPC_PRIVATE, 4096) -> shmid %d\n", shmid);

	pid_t pid = fork();
	if (pid == -1)
		demo_die("parent", "fork");
	if (pid == 0) {
		char *p = svipc_shmat(shmid, NULL, 0);
		if (p == (void *)-1)
			demo_die("child", "shmat");
		snprintf(p, 4096, "hello from the child, pid %d", (int)getpid());
		printf("child:    attached shmid %d and wrote \"%s\"\n", shmid, p);
		/* No shmdt: a process's attachments end with it. */
		exit(0);
	}
	snprintf(expect, sizeof expect, "hello from the child, pid %d", (int)pid);

	/*
	 * The notes' version sleeps 3 s and hopes the other side has written by
	 * then; waitpid makes it certain: the child has exited, so its write is done.
	 */
	int st;
	if (waitpid(pid, &st, 0) == -1)
		demo_die("parent", "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "parent:   FAIL: the child failed (status 0x%x)\n", st);
		svipc_shmctl(shmid, IPC_RMID, NULL);
		return 1;
	}

	char *p = svipc_shmat(shmid, NULL, 0);
	if (p == (void *)-1)
		demo_die("parent", "shmat");
	struct shmid_ds ds;
	if (svipc_shmctl(shmid, IPC_STAT, &ds) == -1)
		demo_die("parent", "shmctl(IPC_STAT)");
	printf("parent:   after waitpid, attached and read \"%s\" (shm_nattch %lu: the "
	       "child's attachment ended with it)\n", p, (unsigned long)ds.shm_nattch);

	int failed = 0;
	if (strcmp(p, expect) != 0) {
		fprintf(stderr, "parent:   FAIL: expected \"%s\"\n", expect);
		failed = 1;
	}
	if (ds.shm_nattch != 1) {
		fprintf(stderr, "parent:   FAIL: shm_nattch should be 1\n");
		failed = 1;
	}
	if (svipc_shmdt(p) == -1)
		demo_die("parent", "shmdt");
	if (svipc_shmctl(shmid, IPC_RMID, NULL) == -1)
		demo_die("parent", "shmctl(IPC_RMID)");
	printf("parent:   detached and removed the segment\n");
	return failed;
}

/* shm_nattch.c - shm_nattch as attachments and processes come and go, through IPC_RMID to the last detach. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

static int shmid;
static int failed;

/* Prints shm_nattch after an event and checks it against what Linux gives. */
static void show(const char *event, unsigned long want)
{
	struct shmid_ds ds;
	if (svipc_shmctl(shmid, IPC_STAT, &ds) == -1)
		demo_die("nattch", "shmctl(IPC_STAT)");
	printf("nattch:   %-46s shm_nattch %lu\n", event, (unsigned long)ds.shm_nattch);
	if (ds.shm_nattch != want) {
		fprintf(stderr, "nattch:   FAIL: expected shm_nattch %lu\n", want);
		failed = 1;
	}
}

/*
 * Forks a child that holds whatever it inherited until *go is closed (then
 * it exits normally) or until it is killed. Its inherited attachments
 * count from the moment fork returns, as in the kernel.
 */
static pid_t spawn(int *go)
{
	int hold[2];
	if (pipe(hold) == -1)
		demo_die("nattch", "pipe");
	pid_t pid = fork();
	if (pid == -1)
		demo_die("nattch", "fork");
	if (pid == 0) {
		close(hold[1]);
		char c;
		while (read(hold[0], &c, 1) == -1 && errno == EINTR)
			;
		exit(0); /* exit ends the attachments: no shmdt needed */
	}
	close(hold[0]);
	*go = hold[1];
	return pid;
}

static void reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) == -1)
		demo_die("nattch", "waitpid");
}

int main(int argc, char **argv)
{
	int proj = 'N', go, opt;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p') {
			fprintf(stderr, "usage: demo-shm-nattch [-p PROJ]\n");
			return 2;
		}
		proj = (unsigned char)optarg[0];
	}

	/* A key, not IPC_PRIVATE: IPC_RMID's effect on the key is part of the story. */
	key_t key = demo_key("nattch", proj);
	shmid = svipc_shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	if (shmid == -1)
		demo_die("nattch", "shmget");
	printf("nattch:   key 0x%08x -> shmid %d\n", (unsigned)key, shmid);
	show("created", 0);

	/* Every shmat counts, even a second one by the same process. */
	char *a1 = svipc_shmat(shmid, NULL, 0);
	if (a1 == (void *)-1)
		demo_die("nattch", "shmat");
	show("attached once", 1);
	char *a2 = svipc_shmat(shmid, NULL, 0);
	if (a2 == (void *)-1)
		demo_die("nattch", "shmat");
	show("attached again, at another address", 2);

	/* fork copies the attachments, and each copy counts. */
	pid_t child = spawn(&go);
	show("forked child A (it inherits both)", 4);
	close(go);
	reap(child);
	show("child A exited", 2);

	/* A process killed without a chance to detach loses its attachments too. */
	child = spawn(&go);
	show("forked child B", 4);
	if (kill(child, SIGKILL) == -1)
		demo_die("nattch", "kill");
	reap(child);
	close(go);
	show("child B killed by SIGKILL", 2);

	/*
	 * IPC_RMID with attachments left only marks the segment: SHM_DEST in
	 * its mode, and its key becomes IPC_PRIVATE (0) so that the key is free
	 * for a new segment at once. The segment itself lives on until its last
	 * detach.
	 */
	if (svipc_shmctl(shmid, IPC_RMID, NULL) == -1)
		demo_die("nattch", "shmctl(IPC_RMID)");
	struct shmid_ds ds;
	if (svipc_shmctl(shmid, IPC_STAT, &ds) == -1)
		demo_die("nattch", "shmctl(IPC_STAT)");
	printf("nattch:   %-46s shm_nattch %lu, mode 0%o (SHM_DEST %s), key 0x%08x\n",
	       "IPC_RMID", (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.mode,
	       ds.shm_perm.mode & SHM_DEST ? "set" : "NOT set", (unsigned)ds.shm_perm.__key);
	if (ds.shm_nattch != 2 || !(ds.shm_perm.mode & SHM_DEST) || ds.shm_perm.__key != 0) {
		fprintf(stderr, "nattch:   FAIL: expected shm_nattch 2, SHM_DEST, key 0\n");
		failed = 1;
	}
	if (svipc_shmget(key, 0, 0) != -1 || errno != ENOENT) {
		fprintf(stderr, "nattch:   FAIL: the old key still finds the removed segment\n");
		failed = 1;
	} else {
		printf("nattch:   %-46s ENOENT: the key is free again\n", "shmget(old key)");
	}

	/* Linux (not POSIX) still lets a removed segment be attached by its id. */
	char *a3 = svipc_shmat(shmid, NULL, 0);
	if (a3 == (void *)-1)
		demo_die("nattch", "shmat after IPC_RMID");
	show("attached by id after IPC_RMID (Linux only)", 3);
	if (svipc_shmdt(a3) == -1 || svipc_shmdt(a1) == -1)
		demo_die("nattch", "shmdt");
	show("detached two", 1);

	/* The last detach destroys it: its id now means nothing. */
	if (svipc_shmdt(a2) == -1)
		demo_die("nattch", "shmdt");
	if (svipc_shmctl(shmid, IPC_STAT, &ds) != -1 || errno != EINVAL) {
		fprintf(stderr, "nattch:   FAIL: shmid %d still answers IPC_STAT after the last detach\n",
		        shmid);
		failed = 1;
	} else {
		printf("nattch:   %-46s IPC_STAT fails with EINVAL: the segment is gone\n",
		       "detached the last one");
	}
	return failed;
}

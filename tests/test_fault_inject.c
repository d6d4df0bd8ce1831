/*
 * File-growth failure injection: every page svipc takes for an object goes
 * through svipc__populate(), and svipc__fault_countdown makes the Nth such
 * call from now fail as a full filesystem would. Each operation below is
 * run with N = 1, 2, 3 ... until it succeeds; every failure must be a clean
 * error (ENOMEM, as the kernel out of memory), leave every object
 * consistent (svipc__check finds no problem) and lose nothing stored.
 */
#include "check_all.h"
#include "region.h"

#include <dirent.h>
#include <sys/wait.h>

/* Counts the object files (msg.*, shm.*, sem.*) and temporary files in the namespace. */
static int files(void)
{
	DIR *d = opendir(t_dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "msg.", 4) || !strncmp(e->d_name, "shm.", 4) ||
		     !strncmp(e->d_name, "sem.", 4) || !strncmp(e->d_name, ".tmp", 4);
	if (d)
		closedir(d);
	return n;
}

/*
 * Runs op() with the Nth page failing, N = 1, 2, ... until it succeeds.
 * after_failure() checks what must not have changed. Returns the number of
 * failures seen (each growth step of the operation).
 */
static int sweep(const char *what, long (*op)(void), void (*after_failure)(int n))
{
	for (int n = 1; n < 200; n++) {
		svipc__fault_countdown = n;
		errno = 0;
		long r = op();
		int e = errno;
		int hit = svipc__fault_countdown == 0;
		svipc__fault_countdown = 0;
		if (r >= 0 && !hit)
			return n - 1; /* succeeded without reaching the Nth page */
		if (r >= 0) {
			T_FAIL("%s: the page failure %d was not reported", what, n);
			return n;
		}
		if (e != ENOMEM)
			T_FAIL("%s, failure %d: errno %d (%s), want ENOMEM", what, n, e, strerror(e));
		t_all_consistent(what, n);
		if (after_failure)
			after_failure(n);
	}
	T_FAIL("%s: never succeeded", what);
	return 0;
}

/* ---- creation ---------------------------------------------------------------------- */

static int nfiles_before;

static long make_queue(void)
{
	return svipc_msgget(IPC_PRIVATE, 0600);
}

static long make_set(void)
{
	return svipc_semget(IPC_PRIVATE, 5, 0600);
}

static long make_segment(void)
{
	return svipc_shmget(IPC_PRIVATE, 65536, 0600);
}

static void nothing_left(int n)
{
	if (files() != nfiles_before)
		T_FAIL("creation failure %d left %d file(s)", n, files() - nfiles_before);
}

/* ---- msgsnd: each new page of headers and segments --------------------------------- */

static int q;
static unsigned long q_before;
static struct {
	long type;
	char text[4000];
} big;
static size_t big_size;

static long send_big(void)
{
	big.type = 1 + (long)(q_before % 7); /* new types too: their nodes and heap places */
	return svipc_msgsnd(q, &big, big_size, IPC_NOWAIT);
}

static void queue_unchanged(int n)
{
	struct msqid_ds ds;
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	if (ds.msg_qnum != q_before)
		T_FAIL("msgsnd failure %d: %lu messages, want %lu", n, (unsigned long)ds.msg_qnum,
		       q_before);
}

/* ---- SEM_UNDO: a new undo record and its row --------------------------------------- */

static int s;

static long undo_op(void)
{
	struct sembuf b = { 3, 1, SEM_UNDO };
	return svipc_semop(s, &b, 1);
}

static void set_unchanged(int n)
{
	if (svipc_semctl(s, 3, GETVAL) != 0)
		T_FAIL("semop failure %d changed the value", n);
}

/* ---- shmat: a new attachment slot --------------------------------------------------- */

static int m;
static void *at[2100];
static int nat;

static long attach(void)
{
	void *p = svipc_shmat(m, NULL, 0);
	if (p == (void *)-1)
		return -1;
	at[nat++] = p;
	return 0;
}

static void nattch_unchanged(int n)
{
	struct shmid_ds ds;
	T_OK(svipc_shmctl(m, IPC_STAT, &ds));
	if (ds.shm_nattch != (shmatt_t)nat)
		T_FAIL("shmat failure %d: nattch %lu, want %d", n, (unsigned long)ds.shm_nattch, nat);
}

int main(void)
{
	t_setup(120);
	T_OK(svipc_msgget(IPC_PRIVATE, 0600)); /* the namespace is made */
	int fails = 0;

	nfiles_before = files();
	fails += sweep("msgget", make_queue, nothing_left);
	nfiles_before = files();
	fails += sweep("semget", make_set, nothing_left);
	nfiles_before = files();
	fails += sweep("shmget", make_segment, nothing_left);

	/*
	 * Sends that take new pages (a page of segments holds 3.6 KiB of
	 * payload): 4 messages of 4000 bytes, then 16 of 1000 in a new queue.
	 */
	int msg_fails = 0;
	for (int round = 0; round < 2; round++) {
		big_size = round ? 1000 : 4000;
		q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
		for (q_before = 0; q_before < (round ? 16u : 4u); q_before++)
			msg_fails += sweep("msgsnd", send_big, queue_unchanged);
		/* What was stored comes back, whole and in order. */
		for (unsigned long i = 0; i < q_before; i++) {
			long n = svipc_msgrcv(q, &big, sizeof big.text, 0, IPC_NOWAIT);
			T_EQ(n, (long)big_size);
			T_EQ(big.type, 1 + (long)(i % 7));
		}
		if (!round)
			T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	}
	T_ASSERT(msg_fails >= 10);
	fails += msg_fails;

	s = T_OK(svipc_semget(IPC_PRIVATE, 5, 0600));
	int undo_fails = sweep("semop SEM_UNDO", undo_op, set_unchanged);
	T_ASSERT(undo_fails >= 1);
	fails += undo_fails;
	T_EQ(svipc_semctl(s, 3, GETVAL), 1);

	/* Attachments across slot pages (256 slots of 16 bytes to a page). */
	m = T_OK(svipc_shmget(IPC_PRIVATE, 4096, 0600));
	int shm_fails = 0;
	while (nat < 600)
		shm_fails += sweep("shmat", attach, nattch_unchanged);
	T_ASSERT(shm_fails >= 2);
	fails += shm_fails;
	for (int i = 0; i < nat; i++)
		T_OK(svipc_shmdt(at[i]));
	T_OK(svipc_shmctl(m, IPC_RMID, NULL));

	/* A blocking semop whose waiter slot cannot be had still completes. */
	pid_t pid = fork();
	if (pid == 0) {
		struct sembuf b = { 0, -1, 0 };
		svipc__fault_countdown = 1;
		_exit(svipc_semop(s, &b, 1) == 0 ? 0 : 1);
	}
	while (svipc_semctl(s, 0, GETNCNT) == 0 && waitpid(pid, NULL, WNOHANG) == 0)
		usleep(1000);
	T_OK(svipc_semctl(s, 0, SETVAL, 1));
	int st;
	T_EQ(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	t_all_consistent("at the end", 0);
	printf("injected %d page failures: every one a clean ENOMEM, every object consistent\n",
	       fails);
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	return t_done();
}

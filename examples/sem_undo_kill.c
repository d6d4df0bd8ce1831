/* sem_undo_kill.c - a lock holder killed with SIGKILL: its SEM_UNDO adjustment frees the lock for the waiter. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

#define HOLD_MS 500     /* how long the holder keeps the lock before it is killed */
#define MAX_FREE_MS 2000 /* the lock must come free this soon after the kill */

static void usage(void)
{
	fprintf(stderr, "usage: demo-sem-undo-kill [-p PROJ]\n"
	                "  -p PROJ  ftok project id, one character (default U)\n"
	                "  A holder takes a lock (one semaphore, value 1) with SEM_UNDO and is\n"
	                "  killed with SIGKILL while holding it; a waiter blocked on the lock\n"
	                "  gets it, because the kernel's rule (kept by svipc) undoes a dead\n"
	                "  process's SEM_UNDO operations.\n");
	exit(2);
}

static int semid;

static void lock_op(const char *who, int delta, short flg)
{
	struct sembuf op = { 0, (short)delta, flg };
	if (svipc_semop(semid, &op, 1) == -1)
		demo_die(who, delta < 0 ? "semop(-1)" : "semop(+1)");
}

int main(int argc, char **argv)
{
	int proj = 'U', opt;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p')
			usage();
		proj = (unsigned char)optarg[0];
	}
	if (optind != argc)
		usage();

	key_t key = demo_key("undo", proj);
	semid = svipc_semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	if (semid == -1)
		demo_die("undo", "semget");
	union {
		int val;
		struct semid_ds *buf;
		unsigned short *array;
	} arg = { .val = 1 };
	if (svipc_semctl(semid, 0, SETVAL, arg) == -1)
		demo_die("undo", "semctl(SETVAL)");
	printf("undo:     key 0x%08x -> semid %d, one semaphore of value 1: a lock\n",
	       (unsigned)key, semid);

	/* The holder: takes the lock with SEM_UNDO, says so, and never lets go. */
	int told[2];
	if (pipe(told) == -1)
		demo_die("undo", "pipe");
	pid_t holder = fork();
	if (holder == -1)
		demo_die("undo", "fork");
	if (holder == 0) {
		close(told[0]);
		lock_op("holder", -1, SEM_UNDO);
		printf("holder:   pid %d took the lock (semop -1, SEM_UNDO) and keeps it\n",
		       (int)getpid());
		if (write(told[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(told[1]);
	char c;
	if (read(told[0], &c, 1) != 1) {
		fprintf(stderr, "undo:     FAIL: the holder did not take the lock\n");
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
		svipc_semctl(semid, 0, IPC_RMID);
		return 1;
	}
	close(told[0]);

	/* The waiter: blocks on the lock, and reports how long it waited. */
	double t_wait = demo_now();
	pid_t waiter = fork();
	if (waiter == -1)
		demo_die("undo", "fork");
	if (waiter == 0) {
		printf("waiter:   pid %d waits for the lock (semop -1 blocks)\n", (int)getpid());
		struct sembuf op = { 0, -1, 0 };
		struct timespec limit = { 5, 0 };
		if (svipc_semtimedop(semid, &op, 1, &limit) == -1) {
			fprintf(stderr, "waiter:   FAIL: no lock after 5 s: %s\n", strerror(errno));
			_exit(1);
		}
		double got = demo_now();
		printf("waiter:   got the lock after waiting %.0f ms\n", (got - t_wait) * 1e3);
		int v = svipc_semctl(semid, 0, GETVAL);
		printf("waiter:   value now %d; releasing it (semop +1)\n", v);
		lock_op("waiter", +1, 0);
		_exit(v == 0 ? 0 : 1);
	}

	/* The waiter is in line before the holder dies: GETNCNT shows it. */
	double give_up = demo_now() + 5;
	while (svipc_semctl(semid, 0, GETNCNT) != 1) {
		if (demo_now() > give_up) {
			fprintf(stderr, "undo:     FAIL: the waiter never blocked\n");
			break;
		}
		demo_sleep_ms(1);
	}
	demo_sleep_ms(HOLD_MS);
	printf("undo:     value %d, %d process(es) waiting (GETNCNT); now SIGKILL to the holder\n",
	       svipc_semctl(semid, 0, GETVAL), svipc_semctl(semid, 0, GETNCNT));
	double t_kill = demo_now();
	if (kill(holder, SIGKILL) == -1)
		demo_die("undo", "kill");
	int st;
	if (waitpid(holder, &st, 0) == -1)
		demo_die("undo", "waitpid");
	int failed = !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* Nothing else touches the set now: the waiter alone finds the holder dead. */
	if (waitpid(waiter, &st, 0) == -1)
		demo_die("undo", "waitpid");
	double t_done = demo_now();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "undo:     FAIL: the waiter did not get the lock\n");
		failed = 1;
	}
	double after = (t_done - t_kill) * 1e3;
	printf("undo:     the lock came free within %.0f ms of the SIGKILL (the waiter had waited "
	       "%.0f ms before it)\n", after, (t_kill - t_wait) * 1e3);
	if (after > MAX_FREE_MS) {
		fprintf(stderr, "undo:     FAIL: that is more than %d ms\n", MAX_FREE_MS);
		failed = 1;
	}
	int v = svipc_semctl(semid, 0, GETVAL);
	printf("undo:     value back to %d; removing the set\n", v);
	failed |= v != 1;
	if (svipc_semctl(semid, 0, IPC_RMID) == -1)
		demo_die("undo", "semctl(IPC_RMID)");
	if (svipc_semget(key, 0, 0) != -1 || errno != ENOENT) {
		fprintf(stderr, "undo:     FAIL: the set is still there\n");
		failed = 1;
	}
	return failed;
}

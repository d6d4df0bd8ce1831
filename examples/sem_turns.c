/* sem_turns.c - two processes take turns writing a shared buffer, each turn handed over by a semaphore. */
#include <unistd.h>

#include "demo.h"

/*
 * The two semaphores of the set: whose turn it is. Both start at 0 (a new
 * set's value), so no one needs to initialise them: A creates everything
 * and simply starts, since the first turn is its own; B waits on B_TURN.
 * A turn ends with +1 on the other's semaphore; the next begins with -1 on
 * one's own, which blocks until the other has finished writing. At any
 * moment one of the two processes owns the buffer.
 */
enum { A_TURN, B_TURN, NSEMS };

#define WAIT_S 5.0 /* how long B looks for A's objects; the demo bounds us anyway */

/* The buffer the two take turns on, in the shared memory segment. */
struct turns_board {
	int turn;               /* number of the last turn written */
	pid_t writer;           /* who wrote it */
	char text[DEMO_TEXT_MAX];
};

static void usage(void)
{
	fprintf(stderr, "usage: demo-sem-turns [-p PROJ] [-n TURNS] A|B\n"
	                "  -p PROJ   ftok project id, one character (default T)\n"
	                "  -n TURNS  turns each side takes (default 3)\n"
	                "  A creates the segment and the semaphore set and writes first;\n"
	                "  B, started separately, finds them by the same key. A removes\n"
	                "  both at the end.\n");
	exit(2);
}

/* semop on one semaphore; a failure ends the program. */
static void step(const char *who, int semid, int num, int delta)
{
	struct sembuf op = { (unsigned short)num, (short)delta, 0 };
	if (svipc_semop(semid, &op, 1) == -1)
		demo_die(who, delta < 0 ? "semop(-1: wait for my turn)" : "semop(+1: pass the turn)");
}

int main(int argc, char **argv)
{
	int proj = 'T', opt;
	long turns = 3;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:n:")) != -1) {
		switch (opt) {
		case 'p': proj = (unsigned char)optarg[0]; break;
		case 'n': turns = demo_parse_long("turns", optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (strcmp(argv[optind], "A") && strcmp(argv[optind], "B")) ||
	    turns < 1 || turns > 1000)
		usage();
	int is_a = argv[optind][0] == 'A';
	const char *who = is_a ? "turns A" : "turns B";
	int mine = is_a ? A_TURN : B_TURN, theirs = is_a ? B_TURN : A_TURN;
	char me[32];
	snprintf(me, sizeof me, "%s:", who);

	/* One key for both objects: segments and semaphore sets are separate spaces. */
	key_t key = demo_key(who, proj);
	int shmid, semid;
	if (is_a) {
		shmid = svipc_shmget(key, sizeof(struct turns_board), IPC_CREAT | IPC_EXCL | 0600);
		if (shmid == -1)
			demo_die(who, "shmget");
		/* The set last: once B finds it, the segment is there too. */
		semid = svipc_semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600);
		if (semid == -1)
			demo_die(who, "semget");
		printf("%-9s pid %d: key 0x%08x -> shmid %d, semid %d (sem %d: A's turn, sem %d: "
		       "B's turn, both 0)\n", me, (int)getpid(), (unsigned)key, shmid, semid,
		       A_TURN, B_TURN);
	} else {
		/* Started on its own, B may come before A has created the set: look again. */
		double give_up = demo_now() + WAIT_S;
		while ((semid = svipc_semget(key, 0, 0)) == -1) {
			if (errno != ENOENT || demo_now() > give_up)
				demo_die(who, "semget");
			demo_sleep_ms(10);
		}
		shmid = svipc_shmget(key, 0, 0);
		if (shmid == -1)
			demo_die(who, "shmget");
		printf("%-9s pid %d: found semid %d and shmid %d by the same key\n", me,
		       (int)getpid(), semid, shmid);
	}
	struct turns_board *board = svipc_shmat(shmid, NULL, 0);
	if (board == (void *)-1)
		demo_die(who, "shmat");

	int failed = 0;
	for (long t = 0; t < turns; t++) {
		int turn = (int)(2 * t + (is_a ? 1 : 2)); /* A writes turns 1, 3, 5..., B 2, 4, 6... */
		if (turn > 1) {
			/* Wait for my turn: -1 on my semaphore, which the other raised. */
			step(who, semid, mine, -1);
			char want[DEMO_TEXT_MAX];
			snprintf(want, sizeof want, "turn %d, written by %s", turn - 1,
			         is_a ? "B" : "A");
			printf("%-9s reads   \"%s\" (pid %d)\n", me, board->text, (int)board->writer);
			if (board->turn != turn - 1 || strcmp(board->text, want)) {
				fprintf(stderr, "%s FAIL: expected turn %d \"%s\"\n", me, turn - 1, want);
				failed = 1;
			}
		}
		board->turn = turn;
		board->writer = getpid();
		snprintf(board->text, sizeof board->text, "turn %d, written by %s", turn,
		         is_a ? "A" : "B");
		printf("%-9s writes  \"%s\", then +1 on sem %d: %s's turn\n", me, board->text, theirs,
		       is_a ? "B" : "A");
		step(who, semid, theirs, +1);
	}

	if (is_a) {
		/* B's last turn, then A cleans up. */
		step(who, semid, mine, -1);
		printf("%-9s reads   \"%s\" (pid %d): B's last turn\n", me, board->text,
		       (int)board->writer);
		char want[DEMO_TEXT_MAX];
		snprintf(want, sizeof want, "turn %d, written by B", (int)(2 * turns));
		if (board->turn != 2 * turns || strcmp(board->text, want)) {
			fprintf(stderr, "%s FAIL: expected \"%s\"\n", me, want);
			failed = 1;
		}
		/* Both semaphores are back at 0, and B was the last to operate on B_TURN
		 * (its -1 there began its last turn). */
		int a = svipc_semctl(semid, A_TURN, GETVAL), b = svipc_semctl(semid, B_TURN, GETVAL);
		int last_b = svipc_semctl(semid, B_TURN, GETPID);
		printf("%-9s sem values %d %d; last operation on sem %d by pid %d (B)\n", me, a, b,
		       B_TURN, last_b);
		if (a != 0 || b != 0 || last_b != board->writer) {
			fprintf(stderr, "%s FAIL: expected values 0 0 and B's pid\n", me);
			failed = 1;
		}
		if (svipc_semctl(semid, 0, IPC_RMID) == -1)
			demo_die(who, "semctl(IPC_RMID)");
		if (svipc_shmdt(board) == -1)
			demo_die(who, "shmdt");
		if (svipc_shmctl(shmid, IPC_RMID, NULL) == -1)
			demo_die(who, "shmctl(IPC_RMID)");
		if (svipc_semget(key, 0, 0) != -1 || errno != ENOENT) {
			fprintf(stderr, "%s FAIL: the set is still there\n", me);
			failed = 1;
		} else {
			printf("%-9s removed the semaphore set and the segment (semget: ENOENT)\n", me);
		}
	} else if (svipc_shmdt(board) == -1) {
		/* Quietly: A is printing its last lines now. */
		demo_die(who, "shmdt");
	}
	return failed;
}

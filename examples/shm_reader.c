/* shm_reader.c - finds the writer's segment by its ftok key, attaches it read-only, prints the message. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

#define WAIT_S 5.0 /* longest wait for the writer; the demo script bounds us anyway */

static void usage(void)
{
	fprintf(stderr, "usage: demo-shm-reader [-p PROJ] [-e TEXT]\n"
	                "  -p PROJ  ftok project id, one character (default W)\n"
	                "  -e TEXT  the message expected; anything else is a failure\n");
	exit(2);
}

/*
 * A write through the SHM_RDONLY attachment, in a child so that the
 * SIGSEGV it must raise ends the child, not us. Returns 1 if it did.
 */
static int write_faults(struct demo_board *board)
{
	pid_t pid = fork();
	if (pid == -1)
		demo_die("reader", "fork");
	if (pid == 0) {
		/* Not dumpable: the expected crash leaves no core file behind. */
		prctl(PR_SET_DUMPABLE, 0);
		board->text[0] = '!';
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) == -1)
		demo_die("reader", "waitpid");
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

int main(int argc, char **argv)
{
	int proj = 'W', opt;
	const char *expect = NULL;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:e:")) != -1) {
		switch (opt) {
		case 'p': proj = (unsigned char)optarg[0]; break;
		case 'e': expect = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	/*
	 * The notes' reader calls shmget(key, size, 0) once and fails if the
	 * writer has not created the segment yet. Started independently of the
	 * writer, this one looks again for a few seconds.
	 */
	key_t key = demo_key("reader", proj);
	double t0 = demo_now();
	int shmid;
	while ((shmid = svipc_shmget(key, 0, 0)) == -1) {
		if (errno != ENOENT)
			demo_die("reader", "shmget");
		if (demo_now() - t0 > WAIT_S) {
			fprintf(stderr, "reader:   FAIL: no segment with key 0x%08x after %.0f s\n",
			        (unsigned)key, WAIT_S);
			return 1;
		}
		demo_sleep_ms(10);
	}
	const struct demo_board *board = svipc_shmat(shmid, NULL, SHM_RDONLY);
	if (board == (void *)-1)
		demo_die("reader", "shmat");

	/* The segment exists before its text does: wait for the writer's flag. */
	while (!__atomic_load_n(&board->ready, __ATOMIC_ACQUIRE)) {
		if (demo_now() - t0 > WAIT_S) {
			fprintf(stderr, "reader:   FAIL: the writer never marked its message ready\n");
			return 1;
		}
		demo_sleep_ms(10);
	}

	struct shmid_ds ds;
	if (svipc_shmctl(shmid, IPC_STAT, &ds) == -1)
		demo_die("reader", "shmctl(IPC_STAT)");
	printf("reader:   key 0x%08x -> shmid %d (%lu bytes), attached SHM_RDONLY; "
	       "shm_nattch %lu (the writer and me), my pid %d\n",
	       (unsigned)key, shmid, (unsigned long)ds.shm_segsz,
	       (unsigned long)ds.shm_nattch, (int)getpid());
	printf("reader:   read     \"%s\"\n", board->text);

	int failed = 0;
	if (ds.shm_nattch != 2) {
		fprintf(stderr, "reader:   FAIL: shm_nattch should be 2\n");
		failed = 1;
	}
	if (expect && strcmp(board->text, expect) != 0) {
		fprintf(stderr, "reader:   FAIL: expected \"%s\"\n", expect);
		failed = 1;
	}
	if (write_faults((struct demo_board *)board)) {
		printf("reader:   a write through this attachment killed a child with SIGSEGV: "
		       "SHM_RDONLY is enforced\n");
	} else {
		fprintf(stderr, "reader:   FAIL: a write through the SHM_RDONLY attachment did not fault\n");
		failed = 1;
	}

	if (svipc_shmdt(board) == -1)
		demo_die("reader", "shmdt");
	printf("reader:   detached (the segment stays: only IPC_RMID removes it)\n");
	return failed;
}

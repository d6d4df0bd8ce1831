/* shm_writer.c - creates a segment by its ftok key, writes a message into it, waits, removes it. */
#include <signal.h>
#include <unistd.h>

#include "demo.h"

#define SEG_SIZE 1024 /* the notes' SHM_SIZE; the segment still takes a whole page */

static void usage(void)
{
	fprintf(stderr, "usage: demo-shm-writer [-p PROJ] TEXT\n"
	                "  -p PROJ  ftok project id, one character (default W)\n"
	                "  Writes TEXT into a new segment and waits for SIGTERM or SIGINT;\n"
	                "  then detaches and removes the segment.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int proj = 'W', opt;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:")) != -1) {
		switch (opt) {
		case 'p': proj = (unsigned char)optarg[0]; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || strlen(argv[optind]) >= DEMO_TEXT_MAX)
		usage();

	/*
	 * The notes' writer waits in pause() until a signal kills it. Here the
	 * signal ends the wait instead, so the writer can still detach and
	 * remove the segment. Blocked from the start: a signal that comes
	 * before the wait is kept for it, not lost.
	 */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	/*
	 * IPC_EXCL: a segment left with this key by an earlier run would
	 * otherwise be opened with its old contents. 0644: readers need no
	 * more than read permission, since they attach with SHM_RDONLY.
	 */
	key_t key = demo_key("writer", proj);
	int shmid = svipc_shmget(key, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0644);
	if (shmid == -1)
		demo_die("writer", "shmget");
	struct demo_board *board = svipc_shmat(shmid, NULL, 0);
	if (board == (void *)-1)
		demo_die("writer", "shmat");
	printf("writer:   key 0x%08x -> shmid %d, attached read-write\n", (unsigned)key, shmid);

	strcpy(board->text, argv[optind]);
	printf("writer:   wrote    \"%s\"\n", board->text);
	printf("writer:   waiting, as the notes' writer does in pause() (SIGTERM ends the wait)\n");
	/* Last: a reader that sees ready sees the whole text (and our lines above). */
	__atomic_store_n(&board->ready, 1, __ATOMIC_RELEASE);

	int sig;
	sigwait(&stop, &sig);

	struct shmid_ds ds;
	if (svipc_shmctl(shmid, IPC_STAT, &ds) == -1)
		demo_die("writer", "shmctl(IPC_STAT)");
	printf("writer:   %s: shm_nattch %lu, last shmat/shmdt by pid %d\n",
	       sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long)ds.shm_nattch,
	       (int)ds.shm_lpid);
	/* Readers come and go; when the writer is told to stop, they have gone. */
	if (ds.shm_nattch != 1) {
		fprintf(stderr, "writer:   FAIL: shm_nattch should be 1 (the writer alone)\n");
		return 1;
	}
	if (svipc_shmdt(board) == -1)
		demo_die("writer", "shmdt");
	if (svipc_shmctl(shmid, IPC_RMID, NULL) == -1)
		demo_die("writer", "shmctl(IPC_RMID)");
	/* Nobody is attached any more, so the segment is gone at once, key and all. */
	if (svipc_shmget(key, 0, 0) != -1 || errno != ENOENT) {
		fprintf(stderr, "writer:   FAIL: key 0x%08x still finds a segment after IPC_RMID\n",
		        (unsigned)key);
		return 1;
	}
	printf("writer:   detached and removed the segment; its key finds nothing (ENOENT)\n");
	return 0;
}

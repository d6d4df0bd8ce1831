/* stat.c - shows a demo queue's state (IPC_STAT), or checks that no queue or segment is left behind. */
#include <unistd.h>

#include "demo.h"

static void usage(void)
{
	fprintf(stderr, "usage: demo-stat -p PROJ      show the queue of that ftok project id\n"
	                "       demo-stat -e PROJS     fail if svipc or the kernel still holds a queue\n"
	                "                              or a segment (PROJS: the project ids used)\n");
	exit(2);
}

static void show(int proj)
{
	key_t key = demo_key("stat", proj);
	int msqid = svipc_msgget(key, 0);
	if (msqid == -1 && errno == ENOENT) {
		printf("stat:     no queue has key 0x%08x any more (msgget: ENOENT)\n", (unsigned)key);
		return;
	}
	if (msqid == -1)
		demo_die("stat", "msgget");

	struct msqid_ds ds;
	if (svipc_msgctl(msqid, IPC_STAT, &ds) == -1)
		demo_die("stat", "msgctl(IPC_STAT)");
	printf("stat:     msqid %d holds %lu message(s), %lu bytes", msqid,
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
	if (ds.msg_lspid)
		printf("; last msgsnd by pid %d", (int)ds.msg_lspid);
	if (ds.msg_lrpid)
		printf("; last msgrcv by pid %d", (int)ds.msg_lrpid);
	printf("\n");
}

/* Returns the number of problems found. */
static int check_empty(const char *projs)
{
	int bad = 0;

	/* MSG_INFO fills a struct msginfo; msgpool is the number of queues in use. */
	struct msginfo info;
	if (svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&info) == -1)
		demo_die("check", "msgctl(MSG_INFO)");
	printf("check:    svipc namespace: %d queue(s) in use (msgctl MSG_INFO)\n", info.msgpool);
	bad += info.msgpool != 0;

	/* SHM_INFO fills a struct shm_info; used_ids is the number of segments. */
	struct shm_info sinfo;
	if (svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo) == -1)
		demo_die("check", "shmctl(SHM_INFO)");
	printf("check:    svipc namespace: %d segment(s) in use (shmctl SHM_INFO)\n", sinfo.used_ids);
	bad += sinfo.used_ids != 0;

	for (const char *p = projs; *p; p++) {
		key_t key = demo_key("check", (unsigned char)*p);
		if (svipc_msgget(key, 0) != -1 || errno != ENOENT) {
			printf("check:    FAIL: svipc still knows key 0x%08x\n", (unsigned)key);
			bad++;
		}
		/* The kernel's own msgget: svipc must never have created a kernel queue. */
		if (msgget(key, 0) != -1 || errno != ENOENT) {
			printf("check:    FAIL: the kernel has a queue with key 0x%08x\n", (unsigned)key);
			bad++;
		}
		if (svipc_shmget(key, 0, 0) != -1 || errno != ENOENT) {
			printf("check:    FAIL: svipc still has a segment with key 0x%08x\n", (unsigned)key);
			bad++;
		}
		if (shmget(key, 0, 0) != -1 || errno != ENOENT) {
			printf("check:    FAIL: the kernel has a segment with key 0x%08x\n", (unsigned)key);
			bad++;
		}
	}
	if (!bad)
		printf("check:    no queue or segment with the demo's keys, neither in svipc nor in "
		       "the kernel\n");
	return bad;
}

int main(int argc, char **argv)
{
	int opt;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:e:")) != -1) {
		switch (opt) {
		case 'p': show((unsigned char)optarg[0]); return 0;
		case 'e': return check_empty(optarg) ? 1 : 0;
		default: usage();
		}
	}
	usage();
}

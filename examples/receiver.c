/* receiver.c - waits on a queue for messages chosen by type and checks what arrives. */
#include <unistd.h>

#include "demo.h"

static void usage(void)
{
	fprintf(stderr,
	        "usage: demo-receiver [-p PROJ] [-t MSGTYP] [-x] [-c COUNT] [-w SECONDS] [-r] [TYPE:TEXT...]\n"
	        "  -p PROJ     ftok project id, one character (default M)\n"
	        "  -t MSGTYP   msgrcv's msgtyp: 0 any, N > 0 type N, -N lowest type <= N (default 0)\n"
	        "  -x          add MSG_EXCEPT: any type but MSGTYP\n"
	        "  -c COUNT    messages to receive (default: one per TYPE:TEXT, else 1)\n"
	        "  -w SECONDS  fail unless the first message took at least this long (it blocked)\n"
	        "  -r          remove the queue at the end (IPC_RMID)\n"
	        "  TYPE:TEXT   the messages expected, in order; anything else is a failure\n");
	exit(2);
}

static void describe(char *buf, size_t len, long msgtyp, int flags)
{
	if (msgtyp == 0)
		snprintf(buf, len, "the oldest message of any type");
	else if (msgtyp < 0)
		snprintf(buf, len, "the lowest type <= %ld", -msgtyp);
	else if (flags & MSG_EXCEPT)
		snprintf(buf, len, "any type but %ld", msgtyp);
	else
		snprintf(buf, len, "type %ld", msgtyp);
}

int main(int argc, char **argv)
{
	int proj = 'M', flags = 0, rmid = 0, opt;
	long msgtyp = 0, count = -1;
	double min_wait = 0;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:t:xc:w:r")) != -1) {
		switch (opt) {
		case 'p': proj = (unsigned char)optarg[0]; break;
		case 't': msgtyp = demo_parse_long("receiver", optarg); break;
		case 'x': flags |= MSG_EXCEPT; break;
		case 'c': count = demo_parse_long("receiver", optarg); break;
		case 'w': min_wait = strtod(optarg, NULL); break;
		case 'r': rmid = 1; break;
		default: usage();
		}
	}
	int nexpect = argc - optind;
	if (count < 0)
		count = nexpect ? nexpect : 1;
	if (nexpect && nexpect != count)
		usage();

	/*
	 * IPC_CREAT, unlike the notes' receiver: started before any sender, a
	 * plain msgget(key, 0666) fails with ENOENT instead of waiting.
	 */
	key_t key = demo_key("receiver", proj);
	int msqid = svipc_msgget(key, IPC_CREAT | 0600);
	if (msqid == -1)
		demo_die("receiver", "msgget");
	char what[64];
	describe(what, sizeof what, msgtyp, flags);
	printf("receiver: key 0x%08x -> msqid %d, waiting for %s ...\n",
	       (unsigned)key, msqid, what);

	int failed = 0;
	for (long i = 0; i < count; i++) {
		struct demo_msg m;
		double t0 = demo_now();
		/* Blocking, as in the notes; the demo script bounds it with timeout(1). */
		ssize_t n = svipc_msgrcv(msqid, &m, sizeof m.mtext, msgtyp, flags);
		double waited = demo_now() - t0;
		if (n == -1)
			demo_die("receiver", "msgrcv");
		if (n == 0 || m.mtext[n - 1] != '\0' || strlen(m.mtext) + 1 != (size_t)n) {
			fprintf(stderr, "receiver: FAIL: %zd bytes that are not one NUL-terminated text\n", n);
			return 1;
		}
		printf("receiver: got      type %ld  \"%s\"", m.mtype, m.mtext);
		if (waited >= 0.1)
			printf("  (after blocking %.1f s)", waited);
		printf("\n");

		if (i == 0 && waited < min_wait) {
			fprintf(stderr, "receiver: FAIL: msgrcv returned after %.3f s; it should have "
			                "blocked until the sender came (>= %.1f s)\n", waited, min_wait);
			failed = 1;
		}
		struct demo_msg want;
		if (nexpect && (demo_parse_msg(argv[optind + i], &want) == -1 ||
		                want.mtype != m.mtype || strcmp(want.mtext, m.mtext) != 0)) {
			fprintf(stderr, "receiver: FAIL: expected %s\n", argv[optind + i]);
			failed = 1;
		}
	}

	if (rmid) {
		struct msqid_ds ds;
		if (svipc_msgctl(msqid, IPC_STAT, &ds) == -1)
			demo_die("receiver", "msgctl(IPC_STAT)");
		if (svipc_msgctl(msqid, IPC_RMID, NULL) == -1)
			demo_die("receiver", "msgctl(IPC_RMID)");
		if (ds.msg_qnum)
			printf("receiver: removed the queue (msgctl IPC_RMID) and the %lu message(s) "
			       "nobody took\n", (unsigned long)ds.msg_qnum);
		else
			printf("receiver: removed the queue (msgctl IPC_RMID)\n");
	}
	return failed;
}

/* sender.c - opens (or creates) a queue by its ftok key and sends typed messages. */
#include <unistd.h>

#include "demo.h"

static void usage(void)
{
	fprintf(stderr, "usage: demo-sender [-p PROJ] [-n] TYPE:TEXT...\n"
	                "  -p PROJ  ftok project id, one character (default M)\n"
	                "  -n       send with IPC_NOWAIT (fail at once if the queue is full)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int proj = 'M', flags = 0, opt;

	demo_line_buffered();
	while ((opt = getopt(argc, argv, "p:n")) != -1) {
		switch (opt) {
		case 'p': proj = (unsigned char)optarg[0]; break;
		case 'n': flags |= IPC_NOWAIT; break;
		default: usage();
		}
	}
	if (optind == argc)
		usage();

	key_t key = demo_key("sender", proj);
	int msqid = svipc_msgget(key, IPC_CREAT | 0600);
	if (msqid == -1)
		demo_die("sender", "msgget");
	printf("sender:   key 0x%08x -> msqid %d\n", (unsigned)key, msqid);

	for (int i = optind; i < argc; i++) {
		struct demo_msg m;
		if (demo_parse_msg(argv[i], &m) == -1) {
			fprintf(stderr, "sender: not TYPE:TEXT with TYPE > 0: %s\n", argv[i]);
			return 2;
		}
		/* Printed before the call: a blocked receiver may print its copy first. */
		printf("sender:   sends    type %ld  \"%s\"\n", m.mtype, m.mtext);
		/* The size counts the text and its NUL, not the type field. */
		if (svipc_msgsnd(msqid, &m, strlen(m.mtext) + 1, flags) == -1)
			demo_die("sender", "msgsnd");
	}
	return 0;
}

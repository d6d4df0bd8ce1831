/*
 * svipcrm - remove System V IPC objects from an svipc namespace, like
 * util-linux ipcrm: the same options, messages and exit status (1 if any
 * removal failed), so that scripts written for ipcrm work with it.
 */
#include "svipc.h"
#include "tool_ns.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum type { SHM, MSG, SEM, ALL };

static const char *prog = "svipcrm";

static void usage(FILE *out)
{
	fprintf(out,
		"\nUsage:\n"
		" %s [options]\n"
		" %s shm|msg|sem <id>...\n"
		"\nRemove certain IPC resources from an svipc namespace.\n"
		"\nOptions:\n"
		" -m, --shmem-id <id>        remove shared memory segment by id\n"
		" -M, --shmem-key <key>      remove shared memory segment by key\n"
		" -q, --queue-id <id>        remove message queue by id\n"
		" -Q, --queue-key <key>      remove message queue by key\n"
		" -s, --semaphore-id <id>    remove semaphore by id\n"
		" -S, --semaphore-key <key>  remove semaphore by key\n"
		" -a, --all[=shm|msg|sem]    remove all (in the specified category)\n"
		"     --dir <dir>            the namespace directory (default: $SVIPC_DIR or %s)\n"
		" -v, --verbose              explain what is being done\n"
		"\n -h, --help                 display this help\n"
		" -V, --version              display version\n",
		prog, prog, SVIPC_DEFAULT_DIR);
}

static int verbose;
static int ns_empty; /* no namespace there: nothing to remove, and nothing is created */

static void bad(const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s (%s)\n", prog, what, arg);
}

/* An id or key as ipcrm reads them (decimal, or hex with 0x); exits on junk. */
static long parse_num(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "%s: failed to parse argument: '%s'\n", prog, s);
		exit(EXIT_FAILURE);
	}
	return v;
}

/* Removes id of type; arg is what the user wrote (for messages). 0 or 1. */
static int remove_id(enum type t, int iskey, int id, const char *arg)
{
	int r;
	if (verbose)
		fprintf(stderr, "removing %s id %d\n", t == SHM ? "shared memory" : t == MSG ?
			"message queue" : "semaphore", id);
	if (ns_empty)
		r = -1, errno = EINVAL;
	else if (t == SHM)
		r = svipc_shmctl(id, IPC_RMID, NULL);
	else if (t == MSG)
		r = svipc_msgctl(id, IPC_RMID, NULL);
	else
		r = svipc_semctl(id, 0, IPC_RMID);
	if (r == 0)
		return 0;
	switch (errno) {
	case EACCES:
	case EPERM:
		bad(iskey ? "permission denied for key" : "permission denied for id", arg);
		break;
	case EINVAL:
		bad(iskey ? "invalid key" : "invalid id", arg);
		break;
	case EIDRM:
		bad(iskey ? "already removed key" : "already removed id", arg);
		break;
	default:
		fprintf(stderr, "%s: %s failed: %s\n", prog, iskey ? "key" : "id", strerror(errno));
		exit(EXIT_FAILURE);
	}
	return 1;
}

static int remove_key(enum type t, const char *s)
{
	key_t key = (key_t)parse_num(s);
	if (key == IPC_PRIVATE) {
		bad("illegal key", s);
		return 1;
	}
	errno = ENOENT;
	int id = ns_empty ? -1 : t == SHM ? svipc_shmget(key, 0, 0) : t == MSG ? svipc_msgget(key, 0)
									: svipc_semget(key, 0, 0);
	if (id < 0) {
		switch (errno) {
		case EACCES:
			bad("permission denied for key", s);
			break;
		case EIDRM:
			bad("already removed key", s);
			break;
		case ENOENT:
			bad("invalid key", s);
			break;
		default:
			fprintf(stderr, "%s: key failed: %s\n", prog, strerror(errno));
			exit(EXIT_FAILURE);
		}
		return 1;
	}
	return remove_id(t, 1, id, s);
}

/* Every object of type t that the caller may remove (the *_STAT_ANY walk, as ipcrm -a). */
static int remove_all(enum type t)
{
	int ret = 0;
	int maxidx;
	if (ns_empty)
		return 0;
	if (t == SHM) {
		struct shm_info si;
		maxidx = svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
	} else if (t == MSG) {
		struct msginfo mi;
		maxidx = svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	} else {
		struct seminfo si;
		maxidx = svipc_semctl(0, 0, SEM_INFO, &si);
	}
	if (maxidx < 0) {
		tool_ns_error(prog, "listing", errno);
		return 1;
	}
	for (int i = 0; i <= maxidx; i++) {
		int id;
		struct ipc_perm *perm;
		struct shmid_ds sd;
		struct msqid_ds qd;
		struct semid_ds md;
		if (t == SHM) {
			id = svipc_shmctl(i, SHM_STAT_ANY, &sd);
			perm = &sd.shm_perm;
		} else if (t == MSG) {
			id = svipc_msgctl(i, MSG_STAT_ANY, &qd);
			perm = &qd.msg_perm;
		} else {
			id = svipc_semctl(i, 0, SEM_STAT_ANY, &md);
			perm = &md.sem_perm;
		}
		if (id < 0)
			continue;
		char arg[32];
		snprintf(arg, sizeof arg, "%d", id);
		if (perm->__key != IPC_PRIVATE)
			snprintf(arg, sizeof arg, "0x%08x", (unsigned)perm->__key);
		ret |= remove_id(t, perm->__key != IPC_PRIVATE, id, arg);
	}
	return ret;
}

int main(int argc, char **argv)
{
	enum { OPT_DIR = 256 };
	static const struct option longopts[] = {
		{ "all", optional_argument, NULL, 'a' },
		{ "shmem-id", required_argument, NULL, 'm' },
		{ "shmem-key", required_argument, NULL, 'M' },
		{ "queue-id", required_argument, NULL, 'q' },
		{ "queue-key", required_argument, NULL, 'Q' },
		{ "semaphore-id", required_argument, NULL, 's' },
		{ "semaphore-key", required_argument, NULL, 'S' },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	/*
	 * ipcrm acts on each option as it reads it, so the namespace comes
	 * first: --dir anywhere on the line, vetted before anything is done.
	 */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			setenv("SVIPC_DIR", argv[++i], 1);
		else if (!strncmp(argv[i], "--dir=", 6))
			setenv("SVIPC_DIR", argv[i] + 6, 1);
	}
	int vet = tool_ns_vet(prog);
	if (vet == TOOL_NS_BAD)
		return EXIT_FAILURE;
	ns_empty = vet == TOOL_NS_EMPTY;
	/* The old syntax: svipcrm shm|msg|sem id... */
	if (argc > 2 && (!strcmp(argv[1], "shm") || !strcmp(argv[1], "msg") || !strcmp(argv[1], "sem"))) {
		enum type t = argv[1][1] == 'h' ? SHM : argv[1][0] == 'm' ? MSG : SEM;
		int ret = 0;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--dir")) {
				i++; /* read above */
				continue;
			}
			if (!strncmp(argv[i], "--dir=", 6))
				continue;
			ret |= remove_id(t, 0, (int)parse_num(argv[i]), argv[i]);
		}
		return ret;
	}
	int ret = 0, c, all = -1;
	while ((c = getopt_long(argc, argv, "q:m:s:Q:M:S:ahVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'M':
			ret |= remove_key(SHM, optarg);
			break;
		case 'm':
			ret |= remove_id(SHM, 0, (int)parse_num(optarg), optarg);
			break;
		case 'Q':
			ret |= remove_key(MSG, optarg);
			break;
		case 'q':
			ret |= remove_id(MSG, 0, (int)parse_num(optarg), optarg);
			break;
		case 'S':
			ret |= remove_key(SEM, optarg);
			break;
		case 's':
			ret |= remove_id(SEM, 0, (int)parse_num(optarg), optarg);
			break;
		case 'a':
			if (!optarg)
				all = ALL;
			else if (!strcmp(optarg, "shm"))
				all = SHM;
			else if (!strcmp(optarg, "msg"))
				all = MSG;
			else if (!strcmp(optarg, "sem"))
				all = SEM;
			else {
				fprintf(stderr, "%s: unknown argument: %s\n", prog, optarg);
				return EXIT_FAILURE;
			}
			break;
		case OPT_DIR:
			setenv("SVIPC_DIR", optarg, 1);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("%s from svipc %s\n", prog, SVIPC_VERSION_STRING);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unknown argument: %s\nTry '%s --help' for more information.\n",
			prog, argv[optind], prog);
		return EXIT_FAILURE;
	}
	if (all == ALL || all == SHM)
		ret |= remove_all(SHM);
	if (all == ALL || all == MSG)
		ret |= remove_all(MSG);
	if (all == ALL || all == SEM)
		ret |= remove_all(SEM);
	return ret;
}

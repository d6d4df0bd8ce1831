/*
 * svipcmk - make System V IPC objects in an svipc namespace, like util-linux
 * ipcmk: the same options, output and exit status, so that scripts written
 * for ipcmk work with it. Each object gets a random key, as ipcmk's do.
 */
#include "svipc.h"
#include "tool_ns.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *prog = "svipcmk";

static void usage(FILE *out)
{
	fprintf(out,
		"\nUsage:\n"
		" %s [options]\n"
		"\nCreate various System V IPC resources in an svipc namespace.\n"
		"\nOptions:\n"
		" -M, --shmem <size>       create shared memory segment of size <size>\n"
		" -S, --semaphore <number> create semaphore array with <number> elements\n"
		" -Q, --queue              create message queue\n"
		" -p, --mode <mode>        permission for the resource (default is 0644)\n"
		"     --dir <dir>          the namespace directory (default: $SVIPC_DIR or %s)\n"
		"\n -h, --help               display this help\n"
		" -V, --version            display version\n"
		"\n<size> arguments may be followed by the suffixes for\n"
		"   GiB, TiB, PiB, EiB, ZiB, and YiB (the \"iB\" is optional)\n",
		prog, SVIPC_DEFAULT_DIR);
}

static void bad_usage(void)
{
	fprintf(stderr, "%s: bad usage\nTry '%s --help' for more information.\n", prog, prog);
	exit(EXIT_FAILURE);
}

/* util-linux's size syntax: a number, then K, M, G, T, P, E, Z, Y (powers of
 * 1024, "iB" optional) or KB, MB, ... (powers of 1000). 0 on success; errno
 * ERANGE for a size that does not fit in 64 bits (Z and Y never do). */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPEZY";
	char *end;
	errno = 0;
	if (*s == '-' || !*s)
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (!*end) {
		*out = v;
		return 0;
	}
	const char *u = strchr(units, (*end >= 'a' && *end <= 'z') ? *end - 32 : *end);
	if (!u || !*u)
		return -1;
	end++;
	unsigned base = 1024;
	if (!strcmp(end, "B"))
		base = 1000;
	else if (*end && strcmp(end, "iB"))
		return -1;
	for (long i = 0; i <= u - units; i++) {
		if (v > UINT64_MAX / base) {
			errno = ERANGE;
			return -1;
		}
		v *= base;
	}
	*out = v;
	return 0;
}

static key_t random_key(void)
{
	key_t k = 0;
	while (k == IPC_PRIVATE)
		if (getrandom(&k, sizeof k, 0) != (ssize_t)sizeof k)
			k = (key_t)rand();
	return k;
}

int main(int argc, char **argv)
{
	enum { OPT_DIR = 256 };
	static const struct option longopts[] = {
		{ "shmem", required_argument, NULL, 'M' },
		{ "semaphore", required_argument, NULL, 'S' },
		{ "queue", no_argument, NULL, 'Q' },
		{ "mode", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ask_shm = 0, ask_msg = 0, ask_sem = 0, nsems = 0, c;
	uint64_t size = 0;
	int mode = 0644;
	while ((c = getopt_long(argc, argv, "hM:QS:p:V", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'M':
			if (parse_size(optarg, &size)) {
				fprintf(stderr, "%s: failed to parse size: '%s': %s\n", prog, optarg,
					strerror(errno ? errno : EINVAL));
				return EXIT_FAILURE;
			}
			ask_shm = 1;
			break;
		case 'Q':
			ask_msg = 1;
			break;
		case 'S': {
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 0 || n > INT32_MAX) {
				fprintf(stderr, "%s: failed to parse elements: '%s'\n", prog, optarg);
				return EXIT_FAILURE;
			}
			nsems = (int)n;
			ask_sem = 1;
			break;
		}
		case 'p': {
			errno = 0;
			unsigned long m = strtoul(optarg, &end, 8);
			if (errno || *end || end == optarg || m > 0777) {
				fprintf(stderr, "%s: failed to parse mode: '%s'\n", prog, optarg);
				return EXIT_FAILURE;
			}
			mode = (int)m;
			break;
		}
		case OPT_DIR:
			setenv("SVIPC_DIR", optarg, 1);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("%s from svipc %s\n", prog, SVIPC_VERSION_STRING);
			return EXIT_SUCCESS;
		default:
			bad_usage();
		}
	}
	if (!ask_shm && !ask_msg && !ask_sem)
		bad_usage(); /* (ipcmk ignores operands too) */
	/* A missing namespace is made with its first object; a broken one is refused. */
	if (tool_ns_vet(prog) == TOOL_NS_BAD)
		return EXIT_FAILURE;
	/* ipcmk's order: segment, queue, semaphores. */
	if (ask_shm) {
		int id = svipc_shmget(random_key(), (size_t)size, mode | IPC_CREAT);
		if (id == -1) {
			fprintf(stderr, "%s: create share memory failed: %s\n", prog, strerror(errno));
			return EXIT_FAILURE;
		}
		printf("Shared memory id: %d\n", id);
	}
	if (ask_msg) {
		int id = svipc_msgget(random_key(), mode | IPC_CREAT);
		if (id == -1) {
			fprintf(stderr, "%s: create message queue failed: %s\n", prog, strerror(errno));
			return EXIT_FAILURE;
		}
		printf("Message queue id: %d\n", id);
	}
	if (ask_sem) {
		int id = svipc_semget(random_key(), nsems, mode | IPC_CREAT);
		if (id == -1) {
			fprintf(stderr, "%s: create semaphore failed: %s\n", prog, strerror(errno));
			return EXIT_FAILURE;
		}
		printf("Semaphore id: %d\n", id);
	}
	return EXIT_SUCCESS;
}

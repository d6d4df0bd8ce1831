/*
 * plain_check.h - the check of the plain programs (prog_plain_msg.c,
 * prog_plain_shm.c, prog_plain_sem.c), which use libc only and never svipc:
 * CHECK(cond, fmt, ...) reports a failed condition with `who` (the
 * includer's `static const char *who`, declared before this is used) and the
 * line, and counts it in `failures`; plain_key() starts a main that takes
 * COMMAND PATH PROJ ....
 */
#ifndef SVIPC_TEST_PLAIN_CHECK_H
#define SVIPC_TEST_PLAIN_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s line %d: ", who, __LINE__);       \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, " [errno %d: %s]\n", errno,           \
				strerror(errno));                             \
			failures++;                                           \
		}                                                             \
	} while (0)

/*
 * The start of main for `-n | COMMAND PATH PROJ ...`: -n exits 0 at once
 * (a program that never calls the functions); too few arguments call
 * usage(); then an alarm of secs seconds, and the key ftok(PATH, PROJ)
 * (prog names the program if ftok fails: exit 1).
 */
static inline key_t plain_key(int argc, char **argv, const char *prog, unsigned secs,
			      void (*usage)(void))
{
	if (argc == 2 && strcmp(argv[1], "-n") == 0)
		exit(0);
	if (argc < 4)
		usage();
	alarm(secs); /* never hang forever, whatever the implementation */
	key_t key = ftok(argv[2], atoi(argv[3]));
	if (key == (key_t)-1) {
		fprintf(stderr, "%s: ftok: %s\n", prog, strerror(errno));
		exit(1);
	}
	return key;
}

#endif

/*
 * plain_check.h - the check of the plain programs (prog_plain_msg.c,
 * prog_plain_shm.c), which use libc only and never svipc: CHECK(cond, fmt,
 * ...) reports a failed condition with `who` (the includer's
 * `static const char *who`, declared before this is used) and the line, and
 * counts it in `failures`.
 */
#ifndef SVIPC_TEST_PLAIN_CHECK_H
#define SVIPC_TEST_PLAIN_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

#endif

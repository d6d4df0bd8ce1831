/* demo.h - helpers shared by the examples that `make demo` runs. */
#ifndef SVIPC_DEMO_H
#define SVIPC_DEMO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <svipc.h>

#define DEMO_TEXT_MAX 256

/* The layout msgsnd/msgrcv expect: a positive long type, then the bytes. */
struct demo_msg {
	long mtype;
	char mtext[DEMO_TEXT_MAX];
};

/*
 * What the shm writer leaves in its segment for the reader. Shared memory
 * has no protection of its own (the notes: it needs a semaphore or the
 * like): a reader that came too early could print half a message, so the
 * writer raises ready only after the text is complete.
 */
struct demo_board {
	unsigned ready; /* 0, then 1 once text is complete (release/acquire) */
	char text[DEMO_TEXT_MAX];
};

/* Reports a failed call with its errno and ends the program with status 1. */
static inline void demo_die(const char *who, const char *call)
{
	fprintf(stderr, "%s: %s failed: %s\n", who, call, strerror(errno));
	exit(1);
}

/*
 * The key of a demo queue or segment. Like the notes' programs, the processes
 * that share an object agree on a path and a project id and let ftok() turn
 * them into a key; here the path is the namespace directory itself, which
 * exists for as long as the demo runs and is unique to it.
 */
static inline key_t demo_key(const char *who, int proj)
{
	key_t key = ftok(svipc_dir(), proj);
	if (key == -1)
		demo_die(who, "ftok");
	return key;
}

/* Parses "TYPE:TEXT" (e.g. "1:hello") into *m. Returns 0, or -1 if malformed. */
static inline int demo_parse_msg(const char *arg, struct demo_msg *m)
{
	char *end;
	errno = 0;
	long type = strtol(arg, &end, 10);
	if (errno || end == arg || *end != ':' || type <= 0 ||
	    strlen(end + 1) >= sizeof m->mtext)
		return -1;
	m->mtype = type;
	strcpy(m->mtext, end + 1);
	return 0;
}

/* Parses a whole decimal long; exits with usage status 2 if it is not one. */
static inline long demo_parse_long(const char *who, const char *arg)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end) {
		fprintf(stderr, "%s: not a number: %s\n", who, arg);
		exit(2);
	}
	return v;
}

/* Sleeps for ms milliseconds: the pause between two looks at something awaited. */
static inline void demo_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static inline double demo_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Output goes line by line even into a pipe, so the processes' lines interleave in order. */
static inline void demo_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

#endif

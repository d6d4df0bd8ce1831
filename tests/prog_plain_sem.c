/*
 * prog_plain_sem.c - an ordinary System V semaphore program.
 *
 * Written against <sys/sem.h> only and NOT linked with svipc: test_shim_sem
 * runs it under LD_PRELOAD=libsvipc-preload.so to show that an unmodified
 * program runs on svipc. It works just as well on the kernel (run it
 * directly, or under the shim with SVIPC_PRELOAD_KERNEL=1).
 *
 * usage:
 *   prog_plain_sem -n
 *       touch no semaphore at all, just exit 0.
 *   prog_plain_sem self PATH PROJ
 *       key = ftok(PATH, PROJ): create a set of 3 (IPC_EXCL), semget's errors,
 *       IPC_STAT, SETVAL/GETVAL/SETALL/GETALL and ERANGE, semop's errors and
 *       all-or-nothing rule, semtimedop's timeout, children blocked in semop
 *       (GETNCNT, GETZCNT, woken by semop and by SETVAL), SEM_UNDO undone at
 *       exit and at SIGKILL, SETVAL clearing a process's adjustment, IPC_SET,
 *       IPC_INFO, SEM_INFO, SEM_STAT, SEM_STAT_ANY, IPC_64 and unknown
 *       commands refused (EINVAL, as glibc does), IPC_RMID called with three
 *       arguments waking a blocked child with EIDRM. Leaves nothing behind.
 *   prog_plain_sem create PATH PROJ ROUNDS
 *       program 1. Creates the keyed set (IPC_EXCL, mode 0640, 3 semaphores
 *       {0, 0, 1}: s0 and s1 for a ping-pong, s2 a lock), checks IPC_STAT,
 *       prints "ready <id>", then plays side A of ROUNDS round trips
 *       (+1 on s0, then -1 on s1) against a `peer`, checking after each that
 *       both are 0 again, prints "pingpong <ROUNDS> peer <pid of the last
 *       process that took s0>", then waits for its stdin to reach end of
 *       file and exits, leaving the set.
 *   prog_plain_sem peer PATH PROJ ROUNDS
 *       program 2. Finds the set by key, checks IPC_STAT, plays side B of ROUNDS round trips (-1 on s0, then +1 on s1), then
 *       takes the lock (-1 on s2, SEM_UNDO), prints "locked", and holds it
 *       until its stdin reaches end of file; then exits without releasing it
 *       (exit undoes it), unless it is killed first (then too).
 *   prog_plain_sem lock PATH PROJ HOLDER
 *       program 3. Waits (up to 20 s) to take the lock -1 on s2, prints
 *       "got lock after <ms> ms at <CLOCK_MONOTONIC ms>", checks s2 is 0 and that sempid of s2 is
 *       itself, releases it (+1, no SEM_UNDO) and exits. HOLDER is the pid
 *       of the last process that held it (printed in messages only).
 *   prog_plain_sem rm PATH PROJ
 *       removes the keyed set (semctl with three arguments) and checks its
 *       key is gone.
 * Exit status: 0 success, 1 a check failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SEM_INFO, SEM_STAT, struct seminfo, semtimedop */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IPC_64_FLAG 0x0100 /* what 32-bit glibc adds to cmd; x86-64 refuses it */
#define NSEMS 3

/* The caller defines it (semctl(2)). */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

static const char *who = "prog_plain_sem";

#include "plain_check.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int getval(int id, int n)
{
	return semctl(id, n, GETVAL);
}

static int setval(int id, int n, int v)
{
	union semun a;
	a.val = v;
	return semctl(id, n, SETVAL, a);
}

/* One operation; 0 or -1 with errno. */
static int op1(int id, unsigned short n, short delta, short flg)
{
	struct sembuf b = { n, delta, flg };
	return semop(id, &b, 1);
}

/* The same, giving up after ms milliseconds (EAGAIN). */
static int op1_timed(int id, unsigned short n, short delta, short flg, long ms)
{
	struct sembuf b = { n, delta, flg };
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	return semtimedop(id, &b, 1, &t);
}

static int stat_set(int id, struct semid_ds *ds, const char *when)
{
	memset(ds, 0, sizeof *ds);
	union semun a;
	a.buf = ds;
	int r = semctl(id, 0, IPC_STAT, a);
	CHECK(r == 0, "semctl(%d, IPC_STAT) %s", id, when);
	return r;
}

/* Polls until semctl(cmd) on semaphore n gives want (up to 5 s); 1 if it did. */
static int wait_count(int id, int n, int cmd, int want)
{
	long long end = now_ms() + 5000;
	int v;
	while ((v = semctl(id, n, cmd)) != want) {
		if (v == -1 || now_ms() > end)
			return 0;
		sleep_ms(1);
	}
	return 1;
}

/* Forks a child that runs fn(id) under its own alarm and exits with its result. */
static pid_t child(int (*fn)(int), int id)
{
	fflush(NULL);
	pid_t c = fork();
	if (c == 0) {
		who = "prog_plain_sem (child)";
		alarm(15);
		_exit(fn(id));
	}
	CHECK(c > 0, "fork");
	return c;
}

static int reap(pid_t c, const char *what)
{
	int st = 0;
	if (c <= 0)
		return -1;
	while (waitpid(c, &st, 0) == -1)
		if (errno != EINTR) {
			CHECK(0, "waitpid %s", what);
			return -1;
		}
	return st;
}

static void reap_ok(pid_t c, const char *what)
{
	int st = reap(c, what);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x", what, st);
}

/* ---- children of the self test ------------------------------------------------ */

static int take0(int id) /* blocks until s0 > 0, takes 1 */
{
	return op1(id, 0, -1, 0) == 0 ? 0 : 1;
}

static int zero2(int id) /* blocks until s2 == 0 */
{
	return op1(id, 2, 0, 0) == 0 ? 0 : 1;
}

static int idrm0(int id) /* blocks on s0 until the set is removed */
{
	int r = op1(id, 0, -1, 0);
	if (r == -1 && errno == EIDRM)
		return 0;
	fprintf(stderr, "%s: semop on a removed set returned %d errno %d (%s), want EIDRM\n", who,
		r, errno, strerror(errno));
	return 1;
}

/* Net -1 on s1 under SEM_UNDO (-2 then +1), then exit: exit gives it back. */
static int undo_exit(int id)
{
	if (op1(id, 1, -2, SEM_UNDO | IPC_NOWAIT) || op1(id, 1, 1, SEM_UNDO))
		return 1;
	return getval(id, 1) == 4 ? 0 : 1;
}

static int undo_pipe_w = -1, undo_pipe_r = -1;

/* -5 on s1 under SEM_UNDO, tells the parent, and waits to be killed. */
static int undo_hold(int id)
{
	if (op1(id, 1, -5, SEM_UNDO | IPC_NOWAIT))
		return 1;
	char b = 1;
	if (write(undo_pipe_w, &b, 1) != 1)
		return 1;
	for (;;)
		pause();
}

/* -1 on s1 under SEM_UNDO, tells the parent, waits for its word, exits. */
static int undo_then_setval(int id)
{
	if (op1(id, 1, -1, SEM_UNDO | IPC_NOWAIT))
		return 1;
	char b = 1;
	if (write(undo_pipe_w, &b, 1) != 1 || read(undo_pipe_r, &b, 1) != 1)
		return 1;
	return 0;
}

static int self_test(key_t key)
{
	union semun a;
	struct semid_ds ds;

	int id = semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1) {
		fprintf(stderr, "%s: semget(%#x, IPC_CREAT|IPC_EXCL): %s\n", who, (unsigned)key,
			strerror(errno));
		return 1;
	}
	errno = 0;
	CHECK(semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST,
	      "second semget(IPC_CREAT|IPC_EXCL) did not fail with EEXIST");
	CHECK(semget(key, 0, 0) == id, "semget(key, 0, 0) did not return the same id");
	CHECK(semget(key, NSEMS, 0) == id, "semget(key, nsems, 0) did not return the same id");
	errno = 0;
	CHECK(semget(key, NSEMS + 1, 0) == -1 && errno == EINVAL,
	      "semget(key, more semaphores than the set has) did not fail with EINVAL");
	errno = 0;
	CHECK(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1 && errno == EINVAL,
	      "semget(IPC_PRIVATE, 0 semaphores) did not fail with EINVAL");

	/* IPC_STAT of a new set. */
	stat_set(id, &ds, "after semget");
	CHECK(ds.sem_nsems == NSEMS, "sem_nsems %lu", (unsigned long)ds.sem_nsems);
	CHECK(ds.sem_otime == 0, "sem_otime %ld before any semop", (long)ds.sem_otime);
	CHECK(ds.sem_ctime != 0, "sem_ctime 0 after semget");
	CHECK((ds.sem_perm.mode & 0777) == 0600, "mode %#o", (unsigned)ds.sem_perm.mode);
	CHECK(ds.sem_perm.uid == geteuid() && ds.sem_perm.cuid == geteuid(), "uid %u cuid %u",
	      (unsigned)ds.sem_perm.uid, (unsigned)ds.sem_perm.cuid);
	CHECK(ds.sem_perm.__key == key, "key %#x", (unsigned)ds.sem_perm.__key);
	errno = 0;
	a.buf = &ds;
	CHECK(semctl(id, 0, IPC_STAT | IPC_64_FLAG, a) == -1 && errno == EINVAL,
	      "semctl(IPC_STAT | IPC_64) did not fail with EINVAL as on x86-64");
	errno = 0;
	CHECK(semctl(id, 0, 1234, a) == -1 && errno == EINVAL,
	      "semctl(cmd 1234) did not fail with EINVAL");

	/* Values. */
	unsigned short all[NSEMS] = { 9, 9, 9 };
	a.array = all;
	CHECK(semctl(id, 0, GETALL, a) == 0 && all[0] == 0 && all[1] == 0 && all[2] == 0,
	      "GETALL of a new set: %u %u %u", all[0], all[1], all[2]);
	unsigned short init[NSEMS] = { 1, 2, 3 };
	a.array = init;
	CHECK(semctl(id, 0, SETALL, a) == 0, "SETALL");
	a.array = all;
	CHECK(semctl(id, 0, GETALL, a) == 0 && all[0] == 1 && all[1] == 2 && all[2] == 3,
	      "GETALL after SETALL {1,2,3}: %u %u %u", all[0], all[1], all[2]);
	CHECK(setval(id, 1, 5) == 0 && getval(id, 1) == 5, "SETVAL 5 / GETVAL");
	errno = 0;
	CHECK(setval(id, 1, -1) == -1 && errno == ERANGE, "SETVAL -1 did not fail with ERANGE");
	errno = 0;
	CHECK(setval(id, 1, 32768) == -1 && errno == ERANGE,
	      "SETVAL 32768 (> SEMVMX) did not fail with ERANGE");
	errno = 0;
	CHECK(getval(id, NSEMS) == -1 && errno == EINVAL, "GETVAL of semaphore %d: not EINVAL",
	      NSEMS);
	CHECK(getval(id, 1) == 5, "SETVAL that failed changed the value: %d", getval(id, 1));

	/* semop. */
	CHECK(op1(id, 0, -1, IPC_NOWAIT) == 0 && getval(id, 0) == 0, "-1 on s0 (1)");
	errno = 0;
	CHECK(op1(id, 0, -1, IPC_NOWAIT) == -1 && errno == EAGAIN, "-1 on s0 (0): not EAGAIN");
	errno = 0;
	CHECK(op1(id, 2, 0, IPC_NOWAIT) == -1 && errno == EAGAIN,
	      "wait-for-zero on s2 (3) with IPC_NOWAIT: not EAGAIN");
	CHECK(semctl(id, 0, GETPID) == getpid(), "GETPID of s0: %d, want %d",
	      semctl(id, 0, GETPID), (int)getpid());
	stat_set(id, &ds, "after semop");
	CHECK(ds.sem_otime != 0, "sem_otime 0 after a semop");
	{
		/* All or nothing: +1 on s0 and -10 on s1 (5) fails as a whole. */
		struct sembuf two[2] = { { 0, 1, 0 }, { 1, -10, IPC_NOWAIT } };
		errno = 0;
		CHECK(semop(id, two, 2) == -1 && errno == EAGAIN, "two ops, second impossible");
		CHECK(getval(id, 0) == 0 && getval(id, 1) == 5,
		      "a failed semop changed values: s0 %d s1 %d", getval(id, 0), getval(id, 1));
		struct sembuf bad = { NSEMS, 1, 0 };
		errno = 0;
		CHECK(semop(id, &bad, 1) == -1 && errno == EFBIG,
		      "sem_num %d: not EFBIG", NSEMS);
		errno = 0;
		CHECK(semop(id, two, 0) == -1 && errno == EINVAL, "nsops 0: not EINVAL");
		struct sembuf over = { 1, 32767, IPC_NOWAIT };
		errno = 0;
		CHECK(semop(id, &over, 1) == -1 && errno == ERANGE,
		      "5 + 32767 > SEMVMX: not ERANGE");
	}
	{
		long long t0 = now_ms();
		errno = 0;
		CHECK(op1_timed(id, 0, -1, 0, 60) == -1 && errno == EAGAIN,
		      "semtimedop(60 ms) on s0 == 0: not EAGAIN");
		long long dt = now_ms() - t0;
		CHECK(dt >= 50 && dt < 3000, "semtimedop(60 ms) returned after %lld ms", dt);
		struct sembuf b = { 0, -1, 0 };
		struct timespec bad = { 0, 1000000000L };
		errno = 0;
		CHECK(semtimedop(id, &b, 1, &bad) == -1 && errno == EINVAL,
		      "semtimedop(tv_nsec 1e9) that would block: not EINVAL");
	}

	/* Blocked children: GETNCNT, GETZCNT; woken by a semop and by SETVAL. */
	pid_t c1 = child(take0, id);
	CHECK(wait_count(id, 0, GETNCNT, 1), "GETNCNT of s0 never became 1 (is %d)",
	      semctl(id, 0, GETNCNT));
	pid_t c2 = child(zero2, id);
	CHECK(wait_count(id, 2, GETZCNT, 1), "GETZCNT of s2 never became 1 (is %d)",
	      semctl(id, 2, GETZCNT));
	CHECK(op1(id, 0, 1, 0) == 0, "+1 on s0 for the child");
	reap_ok(c1, "child blocked on s0");
	CHECK(getval(id, 0) == 0 && semctl(id, 0, GETPID) == c1,
	      "after the child took s0: value %d, sempid %d (child %d)", getval(id, 0),
	      semctl(id, 0, GETPID), (int)c1);
	CHECK(semctl(id, 0, GETNCNT) == 0, "GETNCNT %d after the child left",
	      semctl(id, 0, GETNCNT));
	CHECK(setval(id, 2, 0) == 0, "SETVAL 0 on s2");
	reap_ok(c2, "child waiting for zero on s2");
	CHECK(semctl(id, 2, GETZCNT) == 0, "GETZCNT %d after the child left",
	      semctl(id, 2, GETZCNT));

	/* SEM_UNDO: undone at exit, at SIGKILL, and cleared by SETVAL. */
	int p[2], q[2];
	if (pipe(p) || pipe(q)) {
		CHECK(0, "pipe");
		return 1;
	}
	undo_pipe_r = q[0];
	undo_pipe_w = p[1];
	reap_ok(child(undo_exit, id), "SEM_UNDO child that exits");
	CHECK(getval(id, 1) == 5, "s1 is %d after a SEM_UNDO child exited, want 5",
	      getval(id, 1));

	pid_t k = child(undo_hold, id);
	char b;
	CHECK(read(p[0], &b, 1) == 1, "the SEM_UNDO child did not report");
	CHECK(getval(id, 1) == 0, "s1 is %d while the child holds 5 of it", getval(id, 1));
	kill(k, SIGKILL);
	int st = reap(k, "SEM_UNDO child killed");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	CHECK(getval(id, 1) == 5, "s1 is %d after a SEM_UNDO child was killed, want 5",
	      getval(id, 1));

	pid_t s = child(undo_then_setval, id);
	CHECK(read(p[0], &b, 1) == 1, "the SEM_UNDO child did not report");
	CHECK(getval(id, 1) == 4, "s1 is %d, want 4", getval(id, 1));
	CHECK(setval(id, 1, 10) == 0, "SETVAL 10 on s1");
	CHECK(write(q[1], &b, 1) == 1, "write");
	reap_ok(s, "SEM_UNDO child after SETVAL");
	CHECK(getval(id, 1) == 10, "s1 is %d: SETVAL did not clear the child's adjustment "
				   "(want 10)", getval(id, 1));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);

	/* IPC_SET. */
	stat_set(id, &ds, "before IPC_SET");
	ds.sem_perm.mode = 0640;
	a.buf = &ds;
	CHECK(semctl(id, 0, IPC_SET, a) == 0, "semctl(IPC_SET)");
	stat_set(id, &ds, "after IPC_SET");
	CHECK((ds.sem_perm.mode & 0777) == 0640, "mode %#o after IPC_SET",
	      (unsigned)ds.sem_perm.mode);
	CHECK(ds.sem_nsems == NSEMS, "sem_nsems %lu after IPC_SET", (unsigned long)ds.sem_nsems);

	/* Limits, usage, SEM_STAT by index. */
	struct seminfo si;
	memset(&si, 0, sizeof si);
	a.__buf = &si;
	int top = semctl(0, 0, IPC_INFO, a);
	CHECK(top >= 0, "semctl(IPC_INFO)");
	CHECK(si.semmsl > 0 && si.semopm > 0 && si.semmni > 0 && si.semvmx == 32767,
	      "IPC_INFO: semmsl %d semopm %d semmni %d semvmx %d", si.semmsl, si.semopm,
	      si.semmni, si.semvmx);
	memset(&si, 0, sizeof si);
	top = semctl(0, 0, SEM_INFO, a);
	CHECK(top >= id % 32768, "SEM_INFO returned highest index %d, below ours %d", top,
	      id % 32768);
	CHECK(si.semusz >= 1 && si.semaem >= NSEMS, "SEM_INFO: %d sets, %d semaphores in use",
	      si.semusz, si.semaem);
	memset(&ds, 0, sizeof ds);
	a.buf = &ds;
	CHECK(semctl(id % 32768, 0, SEM_STAT, a) == id, "SEM_STAT(index %d) did not return %d",
	      id % 32768, id);
	CHECK(ds.sem_nsems == NSEMS && ds.sem_perm.__key == key, "SEM_STAT: nsems %lu key %#x",
	      (unsigned long)ds.sem_nsems, (unsigned)ds.sem_perm.__key);
	memset(&ds, 0, sizeof ds);
	CHECK(semctl(id % 32768, 0, SEM_STAT_ANY, a) == id,
	      "SEM_STAT_ANY(index %d) did not return %d", id % 32768, id);
	CHECK(ds.sem_nsems == NSEMS && (ds.sem_perm.mode & 0777) == 0640,
	      "SEM_STAT_ANY: nsems %lu mode %#o", (unsigned long)ds.sem_nsems,
	      (unsigned)ds.sem_perm.mode);

	/* IPC_RMID (three arguments) wakes a blocked child with EIDRM. */
	CHECK(getval(id, 0) == 0, "s0 is %d before the removal", getval(id, 0));
	pid_t r = child(idrm0, id);
	CHECK(wait_count(id, 0, GETNCNT, 1), "GETNCNT of s0 never became 1 (is %d)",
	      semctl(id, 0, GETNCNT));
	CHECK(semctl(id, 0, IPC_RMID) == 0, "semctl(IPC_RMID)");
	reap_ok(r, "child blocked during IPC_RMID");
	errno = 0;
	CHECK(semget(key, 0, 0) == -1 && errno == ENOENT, "semget(key) after IPC_RMID");
	errno = 0;
	CHECK(getval(id, 0) == -1 && errno == EINVAL, "GETVAL of a removed set: not EINVAL");
	errno = 0;
	CHECK(op1(id, 0, 1, 0) == -1 && errno == EINVAL, "semop on a removed set: not EINVAL");
	return failures ? 1 : 0;
}

/* ---- the programs that share a set -------------------------------------------- */

static int find(key_t key)
{
	int id = semget(key, 0, 0);
	if (id == -1)
		fprintf(stderr, "%s: semget(%#x, 0, 0): %s\n", who, (unsigned)key, strerror(errno));
	return id;
}

static int create(key_t key, long rounds)
{
	who = "prog_plain_sem create";
	int id = semget(key, NSEMS, IPC_CREAT | IPC_EXCL | 0640);
	if (id == -1) {
		fprintf(stderr, "%s: semget(%#x, IPC_CREAT|IPC_EXCL): %s\n", who, (unsigned)key,
			strerror(errno));
		return 1;
	}
	unsigned short init[NSEMS] = { 0, 0, 1 };
	union semun a;
	a.array = init;
	CHECK(semctl(id, 0, SETALL, a) == 0, "SETALL {0, 0, 1}");
	struct semid_ds ds;
	stat_set(id, &ds, "after create");
	CHECK(ds.sem_nsems == NSEMS && ds.sem_perm.__key == key &&
		      (ds.sem_perm.mode & 0777) == 0640,
	      "nsems %lu key %#x mode %#o", (unsigned long)ds.sem_nsems,
	      (unsigned)ds.sem_perm.__key, (unsigned)ds.sem_perm.mode);
	printf("ready %d\n", id);
	fflush(stdout);

	/* Side A: +1 on s0, -1 on s1. The peer must have taken s0 first. */
	for (long i = 0; i < rounds && !failures; i++) {
		CHECK(op1(id, 0, 1, 0) == 0, "round %ld: +1 on s0", i);
		CHECK(op1_timed(id, 1, -1, 0, 20000) == 0, "round %ld: -1 on s1", i);
		int v0 = getval(id, 0), v1 = getval(id, 1);
		CHECK(v0 == 0 && v1 == 0, "round %ld: s0 %d s1 %d after the round trip", i, v0, v1);
	}
	int peer = semctl(id, 0, GETPID);
	CHECK(peer > 0 && peer != getpid(), "sempid of s0 is %d (mine %d)", peer, (int)getpid());
	CHECK(semctl(id, 1, GETPID) == getpid(), "sempid of s1 is %d, want mine %d",
	      semctl(id, 1, GETPID), (int)getpid());
	printf("pingpong %ld peer %d\n", rounds, peer);
	fflush(stdout);

	/* Hold on until the test closes our stdin. */
	char buf[64];
	while (fread(buf, 1, sizeof buf, stdin) > 0)
		;
	return failures ? 1 : 0;
}

static int peer(key_t key, long rounds)
{
	who = "prog_plain_sem peer";
	int id = find(key);
	if (id == -1)
		return 1;
	struct semid_ds ds;
	stat_set(id, &ds, "in the peer");
	CHECK(ds.sem_nsems == NSEMS && (ds.sem_perm.mode & 0777) == 0640 &&
		      ds.sem_perm.__key == key,
	      "nsems %lu mode %#o key %#x", (unsigned long)ds.sem_nsems,
	      (unsigned)ds.sem_perm.mode, (unsigned)ds.sem_perm.__key);

	/* Side B: -1 on s0, +1 on s1. */
	for (long i = 0; i < rounds && !failures; i++) {
		CHECK(op1_timed(id, 0, -1, 0, 20000) == 0, "round %ld: -1 on s0", i);
		CHECK(op1(id, 1, 1, 0) == 0, "round %ld: +1 on s1", i);
	}

	/* The lock, with SEM_UNDO; never released by hand. */
	CHECK(op1_timed(id, 2, -1, SEM_UNDO, 20000) == 0, "-1 on s2 (the lock), SEM_UNDO");
	CHECK(getval(id, 2) == 0, "s2 is %d while locked", getval(id, 2));
	printf("locked\n");
	fflush(stdout);
	char buf[64];
	while (fread(buf, 1, sizeof buf, stdin) > 0)
		;
	return failures ? 1 : 0; /* exit undoes the -1 on s2 */
}

static int lock(key_t key, pid_t holder)
{
	who = "prog_plain_sem lock";
	int id = find(key);
	if (id == -1)
		return 1;
	long long t0 = now_ms();
	int r = op1_timed(id, 2, -1, 0, 20000);
	long long dt = now_ms() - t0;
	CHECK(r == 0, "-1 on s2: the lock held by %d was never released (%lld ms)", (int)holder,
	      dt);
	if (r == 0) {
		printf("got lock after %lld ms at %lld\n", dt, now_ms());
		fflush(stdout);
		CHECK(getval(id, 2) == 0, "s2 is %d after taking the lock", getval(id, 2));
		CHECK(semctl(id, 2, GETPID) == getpid(), "sempid of s2 is %d, want %d",
		      semctl(id, 2, GETPID), (int)getpid());
		CHECK(op1(id, 2, 1, 0) == 0, "+1 on s2");
	}
	return failures ? 1 : 0;
}

static int rm(key_t key)
{
	who = "prog_plain_sem rm";
	int id = find(key);
	if (id == -1)
		return 1;
	CHECK(semctl(id, 0, IPC_RMID) == 0, "semctl(%d, 0, IPC_RMID)", id);
	errno = 0;
	CHECK(semget(key, 0, 0) == -1 && errno == ENOENT, "semget(key) after IPC_RMID");
	return failures ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: prog_plain_sem -n | self PATH PROJ | create PATH PROJ ROUNDS |\n"
			"       peer PATH PROJ ROUNDS | lock PATH PROJ HOLDER | rm PATH PROJ\n");
	exit(2);
}

int main(int argc, char **argv)
{
	key_t key = plain_key(argc, argv, "prog_plain_sem", 40, usage);
	const char *cmd = argv[1];
	if (strcmp(cmd, "self") == 0 && argc == 4)
		return self_test(key);
	if (strcmp(cmd, "create") == 0 && argc == 5)
		return create(key, strtol(argv[4], NULL, 0));
	if (strcmp(cmd, "peer") == 0 && argc == 5)
		return peer(key, strtol(argv[4], NULL, 0));
	if (strcmp(cmd, "lock") == 0 && argc == 5)
		return lock(key, (pid_t)atoi(argv[4]));
	if (strcmp(cmd, "rm") == 0 && argc == 4)
		return rm(key);
	usage();
	return 2;
}

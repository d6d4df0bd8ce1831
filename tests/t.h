/* t.h - tiny test harness: assertions, an isolated namespace, a time bound. */
#ifndef SVIPC_T_H
#define SVIPC_T_H

#include <errno.h>
#include <stdint.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/sem.h>

#include "svipc.h"

/* One message-queue implementation: the kernel's (libc) or svipc's. */
struct msg_impl {
	const char *name;
	int kernel;
	int (*get)(key_t, int);
	int (*snd)(int, const void *, size_t, int);
	ssize_t (*rcv)(int, void *, size_t, long, int);
	int (*ctl)(int, int, struct msqid_ds *);
};

#define T_KERNEL_IMPL { "kernel", 1, msgget, msgsnd, msgrcv, msgctl }
#define T_SVIPC_IMPL { "svipc", 0, svipc_msgget, svipc_msgsnd, svipc_msgrcv, svipc_msgctl }

/* One shared-memory implementation: the kernel's (libc) or svipc's. */
struct shm_impl {
	const char *name;
	int kernel;
	int (*get)(key_t, size_t, int);
	void *(*at)(int, const void *, int);
	int (*dt)(const void *);
	int (*ctl)(int, int, struct shmid_ds *);
};

#define T_KERNEL_SHM { "kernel", 1, shmget, shmat, shmdt, shmctl }
#define T_SVIPC_SHM { "svipc", 0, svipc_shmget, svipc_shmat, svipc_shmdt, svipc_shmctl }

/* One semaphore implementation: the kernel's (libc) or svipc's. */
struct sem_impl {
	const char *name;
	int kernel;
	int (*get)(key_t, int, int);
	int (*op)(int, struct sembuf *, size_t);
	int (*timedop)(int, struct sembuf *, size_t, const struct timespec *);
	int (*ctl)(int, int, int, ...);
};

#define T_KERNEL_SEM { "kernel", 1, semget, semop, semtimedop, semctl }
#define T_SVIPC_SEM { "svipc", 0, svipc_semget, svipc_semop, svipc_semtimedop, svipc_semctl }

/* All three types of one implementation, for tests that use them together. */
struct t_ipc {
	int kernel;
	int (*msgget)(key_t, int);
	int (*msgsnd)(int, const void *, size_t, int);
	ssize_t (*msgrcv)(int, void *, size_t, long, int);
	int (*msgctl)(int, int, struct msqid_ds *);
	int (*semget)(key_t, int, int);
	int (*semop)(int, struct sembuf *, size_t);
	int (*semctl)(int, int, int, ...);
	int (*shmget)(key_t, size_t, int);
	void *(*shmat)(int, const void *, int);
	int (*shmdt)(const void *);
	int (*shmctl)(int, int, struct shmid_ds *);
};
#define T_KERNEL_IPC { 1, msgget, msgsnd, msgrcv, msgctl, semget, semop, semctl, \
		       shmget, shmat, shmdt, shmctl }
#define T_SVIPC_IPC { 0, svipc_msgget, svipc_msgsnd, svipc_msgrcv, svipc_msgctl, \
		      svipc_semget, svipc_semop, svipc_semctl, svipc_shmget, svipc_shmat, \
		      svipc_shmdt, svipc_shmctl }

/* The fourth argument of semctl, which the caller must define (semctl(2)). */
union t_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

/* A small seeded generator (splitmix64), so failures can be replayed. */
static uint64_t t_rng;

static inline uint64_t t_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t t_rand(void)
{
	t_rng += 0x9e3779b97f4a7c15ull;
	return t_mix64(t_rng);
}

static int t_failures;
static pid_t t_owner_pid;
static char t_dir[64];

#define T_FAIL(...)                                                           \
	do {                                                                  \
		fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);         \
		fprintf(stderr, __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                        \
		t_failures++;                                                 \
	} while (0)

#define T_ASSERT(cond)                                                        \
	do {                                                                  \
		if (!(cond))                                                  \
			T_FAIL("%s", #cond);                                  \
	} while (0)

#define T_EQ(a, b)                                                            \
	do {                                                                  \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);       \
		if (t_a_ != t_b_)                                             \
			T_FAIL("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_);  \
	} while (0)

/* expr must fail with -1 and errno == err. */
#define T_ERR(expr, err)                                                      \
	do {                                                                  \
		errno = 0;                                                    \
		long long t_r_ = (long long)(expr);                           \
		int t_e_ = errno;                                             \
		if (t_r_ != -1 || t_e_ != (err))                              \
			T_FAIL("%s: got %lld errno %d (%s), want -1 errno %d (%s)", \
			       #expr, t_r_, t_e_, strerror(t_e_), (err),      \
			       strerror(err));                                \
	} while (0)

/* expr must succeed (not -1). Evaluates to its value. */
#define T_OK(expr)                                                            \
	({                                                                    \
		errno = 0;                                                    \
		long long t_r_ = (long long)(expr);                           \
		if (t_r_ == -1)                                               \
			T_FAIL("%s: errno %d (%s)", #expr, errno, strerror(errno)); \
		t_r_;                                                         \
	})

static int t_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

static void t_cleanup(void)
{
	if (getpid() == t_owner_pid && t_dir[0])
		nftw(t_dir, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Gives the test its own namespace (SVIPC_DIR) and kills it after `seconds`. */
static void t_setup(unsigned seconds)
{
	t_owner_pid = getpid();
	snprintf(t_dir, sizeof t_dir, "/dev/shm/svipc-test-XXXXXX");
	if (!mkdtemp(t_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("SVIPC_DIR", t_dir, 1);
	atexit(t_cleanup);
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

/* Exit status: 0 pass, 1 fail. */
static int t_done(void)
{
	if (t_failures) {
		fprintf(stderr, "%d check(s) failed\n", t_failures);
		return 1;
	}
	return 0;
}

#endif

/* svipc.h - System V IPC in user space: the public API of libsvipc. */
#ifndef SVIPC_H
#define SVIPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SVIPC_VERSION_MAJOR 0
#define SVIPC_VERSION_MINOR 1
#define SVIPC_VERSION_STRING "0.1.0"

/* Default namespace directory; the environment variable SVIPC_DIR overrides it. */
#define SVIPC_DEFAULT_DIR "/dev/shm/svipc"

/*
 * Message queues. Same signatures, return values and errno as the libc
 * functions of the same name without the prefix (see msgget(2), msgop(2),
 * msgctl(2)). One difference that a library cannot avoid: a bad pointer is
 * not reported as EFAULT; touching it raises SIGSEGV as any library call would.
 */
int svipc_msgget(key_t key, int msgflg);
int svipc_msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg);
ssize_t svipc_msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg);
int svipc_msgctl(int msqid, int cmd, struct msqid_ds *buf);

/*
 * Extensions: msgsnd/msgrcv that give up after a relative timeout (NULL: wait
 * forever). On timeout they fail with EAGAIN, like semtimedop(2).
 */
int svipc_msgsnd_timed(int msqid, const void *msgp, size_t msgsz, int msgflg,
                       const struct timespec *timeout);
ssize_t svipc_msgrcv_timed(int msqid, void *msgp, size_t msgsz, long msgtyp,
                           int msgflg, const struct timespec *timeout);

/*
 * Shared memory segments. Same signatures, return values and errno as
 * shmget(2), shmat(2), shmdt(2) and shmctl(2), including Linux's rules:
 * a segment marked for removal (IPC_RMID) stays attachable by id until its
 * last detach; shm_nattch counts every attachment, inherited ones after fork
 * included, and drops when an attached process exits, execs or is killed.
 * A segment is a file in the namespace directory mapped MAP_SHARED; with
 * SHM_RDONLY the mapping is read-only in the kernel (a write is SIGSEGV).
 */
int svipc_shmget(key_t key, size_t size, int shmflg);
void *svipc_shmat(int shmid, const void *shmaddr, int shmflg);
int svipc_shmdt(const void *shmaddr);
int svipc_shmctl(int shmid, int cmd, struct shmid_ds *buf);

/*
 * Extension: flushes the segment attached at shmaddr to its file, like
 * msync(2) over the whole segment. flags is MS_SYNC (wait until the data,
 * the segment's metadata and the namespace's key table are on disk, so that
 * after a restart the same key finds the same contents) or MS_ASYNC (start
 * writing back, do not wait). Useful in a namespace on a disk filesystem;
 * on tmpfs (the default) it has nothing to write. Returns 0, or -1 with
 * errno EINVAL (no segment attached at shmaddr, or bad flags) or EIO.
 */
int svipc_shmsync(const void *shmaddr, int flags);

/*
 * Semaphore sets. Same signatures, return values and errno as semget(2),
 * semop(2), semtimedop(2) and semctl(2); semctl takes its fourth argument
 * (a union semun, which the caller defines, see semctl(2)) as libc does.
 * Linux's rules hold: operations are all-or-nothing, blocked callers are
 * served in arrival order, SEM_UNDO adjustments are applied when the process
 * exits (also when it is killed: then by the next process that uses the
 * set), kept across exec and not inherited by fork. The uncontended path
 * makes no system call.
 */
int svipc_semget(key_t key, int nsems, int semflg);
int svipc_semop(int semid, struct sembuf *sops, size_t nsops);
int svipc_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                     const struct timespec *timeout);
int svipc_semctl(int semid, int semnum, int cmd, ...);

/*
 * Limits of a namespace. They default to the running kernel's values
 * (/proc/sys/kernel/{msgmax,msgmnb,msgmni,shmmax,shmall,shmmni,sem}) when the
 * namespace is created, and IPC_INFO/MSG_INFO report them.
 */
struct svipc_limits {
	uint64_t msgmax;  /* largest message, bytes */
	uint64_t msgmnb;  /* default (and non-root maximum) msg_qbytes */
	uint64_t msgmni;  /* most message queues */
	uint64_t shmmax;  /* largest segment, bytes */
	uint64_t shmall;  /* total pages of all segments */
	uint64_t shmmni;  /* most segments */
	uint64_t semmsl;  /* most semaphores per set */
	uint64_t semmns;  /* most semaphores in all sets */
	uint64_t semopm;  /* most operations per semop call */
	uint64_t semmni;  /* most semaphore sets */
	uint64_t reserved[6];
};

/* Reads the limits of the namespace in use. Returns 0, or -1 with errno. */
int svipc_limits_get(struct svipc_limits *limits);

/*
 * Sets the limits of the namespace in use. Only root (euid 0) or the owner
 * of the namespace directory may (EPERM otherwise). Index limits (msgmni,
 * shmmni, semmni) are capped at 32768, the size of an id's index field, and
 * msgmax and msgmnb at INT32_MAX (EINVAL above). Zero fields and reserved
 * fields are left unchanged.
 */
int svipc_limits_set(const struct svipc_limits *limits);

/*
 * svipc checks permissions like the kernel, with the caller's euid, egid,
 * groups and capabilities; it reads them at the first call, after fork
 * and at each msgget, shmget and semget, not at every call (that would
 * cost system calls). A program that changes its credentials between calls (setuid, setgroups,
 * capset...) calls this so the next check uses the new ones. The
 * LD_PRELOAD shim does it for the set*id and setgroups calls it sees.
 */
void svipc_refresh_credentials(void);

/* The namespace directory this process uses (SVIPC_DIR or the default). */
const char *svipc_dir(void);

#ifdef __cplusplus
}
#endif
#endif

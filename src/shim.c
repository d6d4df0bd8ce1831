/*
 * shim.c - LD_PRELOAD shim: runs unmodified programs on svipc.
 *
 * build/libsvipc-preload.so exports msgget, msgsnd, msgrcv, msgctl, shmget,
 * shmat, shmdt, shmctl, semget, semop, semctl and semtimedop with the symbol
 * versions that programs linked against glibc on x86-64 bind to (GLIBC_2.2.5
 * for all but semtimedop, which is GLIBC_2.3.3; see src/shim.map and
 * `objdump -T libc.so.6`), so
 *
 *     LD_PRELOAD=build/libsvipc-preload.so SVIPC_DIR=... ./program
 *
 * makes the program's System V message queue, shared memory and semaphore
 * calls go to svipc instead of the kernel. Everything else in the shim (the
 * svipc_* API and the library internals) is local: the version script hides
 * it, so the shim cannot clash with a program that also links libsvipc, and
 * its exported surface is exactly the libc names (plus the credential calls
 * below).
 *
 * SVIPC_PRELOAD_KERNEL=1 (any value other than empty or "0") makes the shim
 * forward to the real libc functions instead, found with
 * dlvsym(RTLD_NEXT, name, version) for the version the shim exports the name
 * under. The choice is made once per process,
 * at the first call of any of the forwarded functions, and then never
 * changes, so a process uses one implementation for all its objects, never a
 * mix (ids and addresses of one implementation mean nothing to the other: an
 * address from the kernel's shmat given to svipc's shmdt fails with EINVAL).
 * Children made by fork() inherit the choice; programs they exec inherit the
 * environment variable.
 *
 * Nothing happens at load time: there is no constructor, so a program that
 * never calls these functions runs exactly as it would without the shim (no
 * namespace is opened, no file is created, no environment is read).
 *
 * semctl is variadic. Like glibc's, the shim reads its fourth argument (a
 * union semun) only for the commands that take one (SETVAL, GETALL, SETALL,
 * IPC_STAT, IPC_SET, SEM_STAT, SEM_STAT_ANY, IPC_INFO, SEM_INFO), never for
 * IPC_RMID, GETVAL, GETPID, GETNCNT and GETZCNT, and fails any other command
 * (IPC_64 included) with EINVAL without going further, as glibc 2.32 and
 * later do. A program that calls semctl(id, 0, IPC_RMID) with three
 * arguments is thus fine.
 *
 * Limits, by construction of LD_PRELOAD:
 *  - Only dynamically linked programs that call msgget & co. through the
 *    dynamic linker are redirected. Statically linked binaries, programs that
 *    issue the raw syscalls (syscall(SYS_shmat, ...), inline assembly, Go's
 *    syscall package), and calls made from inside libc itself are out of
 *    reach and still go to the kernel.
 *  - setuid/setgid programs ignore LD_PRELOAD paths containing '/'.
 *  - The symbol versions are those of x86-64 glibc. Other architectures have
 *    other base versions (aarch64: GLIBC_2.17; i386 has msgctl@GLIBC_2.0 and
 *    msgctl@@GLIBC_2.2, likewise shmctl and semctl); shim.map would need
 *    per-architecture variants. Programs built for 64-bit time on 32-bit
 *    architectures call __semctl64 and __semtimedop64, which the shim does
 *    not export.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/sem.h>
#include <grp.h>
#include <unistd.h>

#include "svipc.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The version of the libc symbols the shim stands in for (x86-64). */
#define SHIM_LIBC_VERSION "GLIBC_2.2.5"
/* semtimedop came later: its only version on x86-64. */
#define SHIM_LIBC_VERSION_SEMTIMEDOP "GLIBC_2.3.3"

/* Old-style "64-bit ipc structures" flag; cmd may carry it (see msgctl(2)). */

enum { MODE_UNSET = 0, MODE_SVIPC = 1, MODE_KERNEL = 2 };

/*
 * The libc functions, for kernel mode. Atomic because several threads may
 * race through the first call: each stores the same values, then one of them
 * publishes the mode with a release that orders these stores before it.
 */
static void *_Atomic kernel_msgget;
static void *_Atomic kernel_msgsnd;
static void *_Atomic kernel_msgrcv;
static void *_Atomic kernel_msgctl;
static void *_Atomic kernel_shmget;
static void *_Atomic kernel_shmat;
static void *_Atomic kernel_shmdt;
static void *_Atomic kernel_shmctl;
static void *_Atomic kernel_semget;
static void *_Atomic kernel_semop;
static void *_Atomic kernel_semtimedop;
static void *_Atomic kernel_semctl;

static _Atomic int shim_mode = MODE_UNSET;

static void *next_symbol_v(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_NEXT, name, version);
	if (!p)
		p = dlsym(RTLD_NEXT, name);
	return p;
}

static void *next_symbol(const char *name)
{
	return next_symbol_v(name, SHIM_LIBC_VERSION);
}

/*
 * A function that cannot be found stays NULL and then fails with ENOSYS:
 * kernel mode never falls back to svipc.
 */
static void resolve_kernel(void)
{
	atomic_store_explicit(&kernel_msgget, next_symbol("msgget"), memory_order_relaxed);
	atomic_store_explicit(&kernel_msgsnd, next_symbol("msgsnd"), memory_order_relaxed);
	atomic_store_explicit(&kernel_msgrcv, next_symbol("msgrcv"), memory_order_relaxed);
	atomic_store_explicit(&kernel_msgctl, next_symbol("msgctl"), memory_order_relaxed);
	atomic_store_explicit(&kernel_shmget, next_symbol("shmget"), memory_order_relaxed);
	atomic_store_explicit(&kernel_shmat, next_symbol("shmat"), memory_order_relaxed);
	atomic_store_explicit(&kernel_shmdt, next_symbol("shmdt"), memory_order_relaxed);
	atomic_store_explicit(&kernel_shmctl, next_symbol("shmctl"), memory_order_relaxed);
	atomic_store_explicit(&kernel_semget, next_symbol("semget"), memory_order_relaxed);
	atomic_store_explicit(&kernel_semop, next_symbol("semop"), memory_order_relaxed);
	atomic_store_explicit(&kernel_semtimedop,
			      next_symbol_v("semtimedop", SHIM_LIBC_VERSION_SEMTIMEDOP),
			      memory_order_relaxed);
	atomic_store_explicit(&kernel_semctl, next_symbol("semctl"), memory_order_relaxed);
}

/* MODE_SVIPC or MODE_KERNEL, decided at the first call and fixed after. */
static int shim_get_mode(void)
{
	int mode = atomic_load_explicit(&shim_mode, memory_order_acquire);
	if (mode != MODE_UNSET)
		return mode;

	int saved_errno = errno;
	const char *v = getenv("SVIPC_PRELOAD_KERNEL");
	int want = (v && v[0] && !(v[0] == '0' && v[1] == '\0')) ? MODE_KERNEL : MODE_SVIPC;
	if (want == MODE_KERNEL)
		resolve_kernel();
	errno = saved_errno;

	int expected = MODE_UNSET;
	if (atomic_compare_exchange_strong_explicit(&shim_mode, &expected, want,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return want;
	return expected; /* another thread decided first; its choice stands */
}

typedef int (*msgget_fn)(key_t, int);
typedef int (*msgsnd_fn)(int, const void *, size_t, int);
typedef ssize_t (*msgrcv_fn)(int, void *, size_t, long, int);
typedef int (*msgctl_fn)(int, int, struct msqid_ds *);
typedef int (*shmget_fn)(key_t, size_t, int);
typedef void *(*shmat_fn)(int, const void *, int);
typedef int (*shmdt_fn)(const void *);
typedef int (*shmctl_fn)(int, int, struct shmid_ds *);
typedef int (*semget_fn)(key_t, int, int);
typedef int (*semop_fn)(int, struct sembuf *, size_t);
typedef int (*semtimedop_fn)(int, struct sembuf *, size_t, const struct timespec *);
typedef int (*semctl_fn)(int, int, int, ...);

/* The libc function stored in `p` (kernel mode), or NULL. */
#define KERNEL_FN(type, p) ((type)atomic_load_explicit(&(p), memory_order_relaxed))

static int no_kernel_fn(void)
{
	errno = ENOSYS;
	return -1;
}

SHIM_EXPORT int msgget(key_t key, int msgflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		msgget_fn fn = KERNEL_FN(msgget_fn, kernel_msgget);
		return fn ? fn(key, msgflg) : no_kernel_fn();
	}
	return svipc_msgget(key, msgflg);
}

SHIM_EXPORT int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		msgsnd_fn fn = KERNEL_FN(msgsnd_fn, kernel_msgsnd);
		return fn ? fn(msqid, msgp, msgsz, msgflg) : no_kernel_fn();
	}
	return svipc_msgsnd(msqid, msgp, msgsz, msgflg);
}

SHIM_EXPORT ssize_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		msgrcv_fn fn = KERNEL_FN(msgrcv_fn, kernel_msgrcv);
		return fn ? fn(msqid, msgp, msgsz, msgtyp, msgflg) : no_kernel_fn();
	}
	return svipc_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg);
}

SHIM_EXPORT int msgctl(int msqid, int cmd, struct msqid_ds *buf)
{
	/* Kernel mode passes cmd through untouched: libc decides what it means. */
	if (shim_get_mode() == MODE_KERNEL) {
		msgctl_fn fn = KERNEL_FN(msgctl_fn, kernel_msgctl);
		return fn ? fn(msqid, cmd, buf) : no_kernel_fn();
	}
	/* svipc_msgctl treats IPC_64 as the kernel of this architecture does. */
	return svipc_msgctl(msqid, cmd, buf);
}

/*
 * Shared memory. shmat fails like the kernel's, with (void *)-1; the other
 * three return -1.
 */
SHIM_EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		shmget_fn fn = KERNEL_FN(shmget_fn, kernel_shmget);
		return fn ? fn(key, size, shmflg) : no_kernel_fn();
	}
	return svipc_shmget(key, size, shmflg);
}

SHIM_EXPORT void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		shmat_fn fn = KERNEL_FN(shmat_fn, kernel_shmat);
		if (!fn) {
			errno = ENOSYS;
			return (void *)-1;
		}
		return fn(shmid, shmaddr, shmflg);
	}
	return svipc_shmat(shmid, shmaddr, shmflg);
}

SHIM_EXPORT int shmdt(const void *shmaddr)
{
	if (shim_get_mode() == MODE_KERNEL) {
		shmdt_fn fn = KERNEL_FN(shmdt_fn, kernel_shmdt);
		return fn ? fn(shmaddr) : no_kernel_fn();
	}
	return svipc_shmdt(shmaddr);
}

SHIM_EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	/* As msgctl: kernel mode passes cmd through untouched. */
	if (shim_get_mode() == MODE_KERNEL) {
		shmctl_fn fn = KERNEL_FN(shmctl_fn, kernel_shmctl);
		return fn ? fn(shmid, cmd, buf) : no_kernel_fn();
	}
	/* svipc_shmctl treats IPC_64 as the kernel of this architecture does. */
	return svipc_shmctl(shmid, cmd, buf);
}

/*
 * Semaphores. semctl reads its fourth argument as glibc does (see the top of
 * this file) and hands it on as a fourth argument, to svipc_semctl or to
 * libc's semctl; the commands without one get a zero union semun, which
 * neither reads.
 */
union shim_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

SHIM_EXPORT int semget(key_t key, int nsems, int semflg)
{
	if (shim_get_mode() == MODE_KERNEL) {
		semget_fn fn = KERNEL_FN(semget_fn, kernel_semget);
		return fn ? fn(key, nsems, semflg) : no_kernel_fn();
	}
	return svipc_semget(key, nsems, semflg);
}

SHIM_EXPORT int semop(int semid, struct sembuf *sops, size_t nsops)
{
	if (shim_get_mode() == MODE_KERNEL) {
		semop_fn fn = KERNEL_FN(semop_fn, kernel_semop);
		return fn ? fn(semid, sops, nsops) : no_kernel_fn();
	}
	return svipc_semop(semid, sops, nsops);
}

SHIM_EXPORT int semtimedop(int semid, struct sembuf *sops, size_t nsops,
			   const struct timespec *timeout)
{
	if (shim_get_mode() == MODE_KERNEL) {
		semtimedop_fn fn = KERNEL_FN(semtimedop_fn, kernel_semtimedop);
		return fn ? fn(semid, sops, nsops, timeout) : no_kernel_fn();
	}
	return svipc_semtimedop(semid, sops, nsops, timeout);
}

SHIM_EXPORT int semctl(int semid, int semnum, int cmd, ...)
{
	union shim_semun arg = { 0 };
	switch (cmd) {
	case SETVAL:   /* arg.val */
	case GETALL:   /* arg.array */
	case SETALL:
	case IPC_STAT: /* arg.buf */
	case IPC_SET:
	case SEM_STAT:
	case SEM_STAT_ANY:
	case IPC_INFO: /* arg.__buf */
	case SEM_INFO: {
		va_list ap;
		va_start(ap, cmd);
		arg = va_arg(ap, union shim_semun);
		va_end(ap);
		break;
	}
	case IPC_RMID: /* no argument */
	case GETVAL:
	case GETPID:
	case GETNCNT:
	case GETZCNT:
		break;
	default: /* glibc refuses the rest, IPC_64 included, before any system call */
		errno = EINVAL;
		return -1;
	}
	if (shim_get_mode() == MODE_KERNEL) {
		semctl_fn fn = KERNEL_FN(semctl_fn, kernel_semctl);
		return fn ? fn(semid, semnum, cmd, arg) : no_kernel_fn();
	}
	return svipc_semctl(semid, semnum, cmd, arg);
}

/*
 * Credential changes. svipc samples euid/egid/groups/capabilities (reading
 * them at every call would put system calls on the fast path), so the shim
 * watches the libc calls that change them: it calls the real function and
 * then has svipc read them again. Programs that change credentials by raw
 * system calls, or capset(2), are not seen; see svipc_refresh_credentials().
 */
#define CRED_WRAPPER(name, params, args)                                          \
	SHIM_EXPORT int name params                                               \
	{                                                                         \
		static void *_Atomic real_;                                       \
		int (*fn) params = (int (*) params)atomic_load(&real_);           \
		if (!fn) {                                                        \
			fn = (int (*) params)next_symbol(#name);                  \
			atomic_store(&real_, (void *)fn);                         \
		}                                                                 \
		if (!fn) {                                                        \
			errno = ENOSYS;                                           \
			return -1;                                                \
		}                                                                 \
		int ret_ = fn args;                                               \
		svipc_refresh_credentials();                                      \
		return ret_;                                                      \
	}

CRED_WRAPPER(setuid, (uid_t u), (u))
CRED_WRAPPER(seteuid, (uid_t u), (u))
CRED_WRAPPER(setreuid, (uid_t ru, uid_t eu), (ru, eu))
CRED_WRAPPER(setresuid, (uid_t ru, uid_t eu, uid_t su), (ru, eu, su))
CRED_WRAPPER(setgid, (gid_t g), (g))
CRED_WRAPPER(setegid, (gid_t g), (g))
CRED_WRAPPER(setregid, (gid_t rg, gid_t eg), (rg, eg))
CRED_WRAPPER(setresgid, (gid_t rg, gid_t eg, gid_t sg), (rg, eg, sg))
CRED_WRAPPER(setgroups, (size_t n, const gid_t *list), (n, list))

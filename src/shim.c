/*
 * shim.c - LD_PRELOAD shim: runs unmodified programs on svipc.
 *
 * build/libsvipc-preload.so exports msgget, msgsnd, msgrcv, msgctl, shmget,
 * shmat, shmdt and shmctl with the symbol version that programs linked
 * against glibc on x86-64 bind to (GLIBC_2.2.5 for all eight, see
 * src/shim.map and `objdump -T libc.so.6`), so
 *
 *     LD_PRELOAD=build/libsvipc-preload.so SVIPC_DIR=... ./program
 *
 * makes the program's System V message queue and shared memory calls go to
 * svipc instead of the kernel. Everything else in the shim (the svipc_* API
 * and the library internals) is local: the version script hides it, so the
 * shim cannot clash with a program that also links libsvipc, and its
 * exported surface is exactly the libc names (plus the credential calls
 * below).
 *
 * SVIPC_PRELOAD_KERNEL=1 (any value other than empty or "0") makes the shim
 * forward to the real libc functions instead, found with
 * dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5"). The choice is made once per process,
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
 * Limits, by construction of LD_PRELOAD:
 *  - Only dynamically linked programs that call msgget & co. through the
 *    dynamic linker are redirected. Statically linked binaries, programs that
 *    issue the raw syscalls (syscall(SYS_shmat, ...), inline assembly, Go's
 *    syscall package), and calls made from inside libc itself are out of
 *    reach and still go to the kernel.
 *  - setuid/setgid programs ignore LD_PRELOAD paths containing '/'.
 *  - The symbol versions are those of x86-64 glibc. Other architectures have
 *    other base versions (aarch64: GLIBC_2.17; i386 has msgctl@GLIBC_2.0 and
 *    msgctl@@GLIBC_2.2, likewise shmctl); shim.map would need
 *    per-architecture variants.
 *
 * Semaphores (semget/semop/semtimedop/semctl) are not implemented yet. When
 * svipc gains them, add forwarders here following the same pattern (one more
 * kernel_* pointer, resolved in resolve_kernel(), and the name in shim.map
 * under GLIBC_2.2.5, except semtimedop which is GLIBC_2.3.3 on x86-64 and
 * needs its own version node; semctl is variadic: read the fourth argument
 * only for the commands that take one). Until then those calls go to the
 * kernel untouched, which is safe because semaphore ids are a separate space.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <grp.h>
#include <unistd.h>

#include "svipc.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The version of the libc symbols the shim stands in for (x86-64). */
#define SHIM_LIBC_VERSION "GLIBC_2.2.5"

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

static _Atomic int shim_mode = MODE_UNSET;

static void *next_symbol(const char *name)
{
	void *p = dlvsym(RTLD_NEXT, name, SHIM_LIBC_VERSION);
	if (!p)
		p = dlsym(RTLD_NEXT, name);
	return p;
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

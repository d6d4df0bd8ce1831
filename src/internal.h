/* internal.h - helpers shared by every svipc source file (not installed). */
#ifndef SVIPC_INTERNAL_H
#define SVIPC_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#define SVIPC_EXPORT __attribute__((visibility("default")))

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define CAS(p, expp, v) \
	__atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define FETCH_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)

/* The kernel's names for "read by anyone" / "write by anyone", and the
 * flag glibc adds to *ctl commands for the 64-bit structures. */
#define S_IRUGO 0444
#define S_IWUGO 0222
#ifndef IPC_64
#define IPC_64 0x0100
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The one place where an internal -errno becomes -1 + errno. */
static inline long svipc__ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/*
 * fork: every process-wide mutex is taken before fork and released on both
 * sides after it, so a child never inherits one held by a thread that does
 * not exist in the child (ns.c registers the handlers, in this order).
 */
enum svipc_fork_phase { SVIPC_FORK_PREPARE, SVIPC_FORK_PARENT, SVIPC_FORK_CHILD };
void svipc__proc_atfork(enum svipc_fork_phase phase);
void svipc__cache_atfork(enum svipc_fork_phase phase);
void svipc__shm_atfork(enum svipc_fork_phase phase);
void svipc__sem_atfork(enum svipc_fork_phase phase);

/* util.c */
int svipc__futex_wait(uint32_t *word, uint32_t expect, int64_t timeout_ns);
int svipc__futex_wake(uint32_t *word, int n);
int64_t svipc__mono_ns(void);
int64_t svipc__deadline(const struct timespec *timeout);
int64_t svipc__real_sec(void);
/*
 * /proc and /sys readers without stdio, which allocates: a library call
 * must not fail, or worse fall back to a default, for want of memory.
 * read_small_file reads at most size - 1 bytes and ends them with a NUL
 * (returns the length or -errno); read_proc_u64s reads up to n numbers
 * (returns how many, or -errno).
 */
ssize_t svipc__read_small_file(const char *path, char *buf, size_t size);
int svipc__read_proc_u64s(const char *path, uint64_t *out, int n);
int svipc__read_proc_u64(const char *path, uint64_t *out);
uint64_t svipc__effective_caps(void);

/*
 * Sorts a chain of slots (numbered from 1, linked through *link(ctx, i),
 * 0 ending it) so that no element comes after one it is before(); stable.
 * A merge sort of the links themselves: recovery, which may run when
 * memory is short, sorts what is in the file without allocating.
 * Returns the new head.
 */
uint32_t svipc__chain_sort(uint32_t head, uint32_t *(*link)(void *ctx, uint32_t i),
			   int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx);

#endif

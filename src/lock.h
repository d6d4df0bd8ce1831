/* lock.h - a lock in shared memory that survives the death of its holder. */
#ifndef SVIPC_LOCK_H
#define SVIPC_LOCK_H

#include <stdint.h>
#include <sys/types.h>

#define SVIPC_LOCK_WAITERS 0x80000000u

/*
 * The lock word holds the holder's process token, plus SVIPC_LOCK_WAITERS
 * when someone may sleep on it. Uncontended lock and unlock are one atomic
 * each. Waiters sleep with a timeout and then ask the process register
 * whether the holder still lives; if not, one of them takes the lock over.
 *
 * Returns 0 when the lock was free, 1 when it was taken over from a dead
 * holder (the caller must run recovery before relying on the protected
 * state), or -errno if this process cannot register itself.
 */
int svipc__lock(uint32_t *word);
void svipc__unlock(uint32_t *word);

/*
 * For the admin tools, which must never hang behind a stopped process:
 * waits (at most wait_ns) until the lock word is free or its holder dead.
 * Returns 0 (free), the dead holder's token, or -ETIMEDOUT with *live_pid
 * the pid of a holder that keeps it.
 */
long svipc__lock_settle(const uint32_t *word, int64_t wait_ns, pid_t *live_pid);

#endif

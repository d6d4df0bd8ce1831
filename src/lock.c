/* lock.c - futex lock with dead-holder takeover (see lock.h). */
#include "lock.h"
#include "internal.h"
#include "proc.h"

#include <time.h>

#define LOCK_SPINS 200
#define LOCK_FIRST_WAIT_NS 1000000LL    /* 1 ms before the first liveness check */
#define LOCK_MAX_WAIT_NS 100000000LL    /* then up to 100 ms between checks */

int svipc__lock(uint32_t *word)
{
	uint32_t me = svipc__proc_token();
	if (!me)
		return -ENOSPC;
	uint32_t v = 0;
	if (CAS(word, &v, me))
		return 0;
	for (int i = 0; i < LOCK_SPINS; i++) {
		cpu_relax();
		v = LOAD_RELAXED(word);
		if (v == 0 && CAS(word, &v, me))
			return 0;
	}
	int64_t wait_ns = LOCK_FIRST_WAIT_NS;
	for (;;) {
		v = LOAD(word);
		if (v == 0) {
			/* Others may still sleep: keep the flag so unlock wakes one. */
			if (CAS(word, &v, me | SVIPC_LOCK_WAITERS))
				return 0;
			continue;
		}
		if (!(v & SVIPC_LOCK_WAITERS)) {
			uint32_t nv = v | SVIPC_LOCK_WAITERS;
			if (!CAS(word, &v, nv))
				continue;
			v = nv;
		}
		int r = svipc__futex_wait(word, v, wait_ns);
		if (r != -ETIMEDOUT)
			continue;
		uint32_t owner = v & ~SVIPC_LOCK_WAITERS;
		if (!svipc__proc_alive(owner)) {
			if (CAS(word, &v, me | SVIPC_LOCK_WAITERS))
				return 1;
			continue;
		}
		wait_ns = MIN(wait_ns * 2, LOCK_MAX_WAIT_NS);
	}
}

void svipc__unlock(uint32_t *word)
{
	uint32_t v = XCHG(word, 0);
	if (v & SVIPC_LOCK_WAITERS)
		svipc__futex_wake(word, 1);
}

long svipc__lock_settle(const uint32_t *word, int64_t wait_ns, pid_t *live_pid)
{
	int64_t deadline = svipc__mono_ns() + wait_ns;
	for (;;) {
		uint32_t owner = LOAD(word) & ~SVIPC_LOCK_WAITERS;
		if (!owner)
			return 0;
		if (!svipc__proc_alive(owner)) {
			/*
			 * Dead now; but it may have let go and exited after we read
			 * the word: only a word that still names it is its lock.
			 */
			if ((LOAD(word) & ~SVIPC_LOCK_WAITERS) == owner)
				return owner;
			continue;
		}
		if (svipc__mono_ns() > deadline) {
			*live_pid = svipc__proc_token_pid(owner);
			return -ETIMEDOUT;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

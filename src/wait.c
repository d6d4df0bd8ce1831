/* wait.c - spin-then-futex waiting on a waiter word (see wait.h). */
#include "wait.h"
#include "internal.h"
#include "proc.h"

#include <unistd.h>

/*
 * A short spin first: a peer on another CPU usually answers within a few
 * microseconds, and a spinning waiter is woken by a plain store, with no
 * system call on either side. The spin adapts per thread: it doubles after
 * a wake-up that arrived while spinning and halves after one that did not,
 * so on an overcommitted machine (the peer cannot run while we spin) it
 * shrinks towards a plain futex sleep instead of burning the peer's time.
 */
#define SPIN_MIN_NS 2000
#define SPIN_MAX_NS 50000

static __thread int64_t spin_ns = 20000;

static int ncpus(void)
{
	static int n;
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	return n;
}

int svipc__spin_until(int (*ready)(const void *arg), const void *arg)
{
	if (ncpus() < 2)
		return ready(arg);
	int64_t end = svipc__mono_ns() + spin_ns;
	for (;;) {
		for (int k = 0; k < 16; k++) {
			if (ready(arg))
				return 1;
			cpu_relax();
		}
		if (svipc__mono_ns() >= end)
			return ready(arg);
	}
}

int svipc__wait(uint32_t *word, int64_t deadline_ns, int64_t slice_ns, int may_spin)
{
	if (LOAD(word) == SVIPC_W_WOKEN)
		return 0;
	int64_t now = svipc__mono_ns();
	if (may_spin && ncpus() > 1) {
		int64_t spin_end = now + spin_ns;
		for (;;) {
			for (int k = 0; k < 32; k++) {
				if (LOAD_RELAXED(word) == SVIPC_W_WOKEN) {
					__atomic_thread_fence(__ATOMIC_ACQUIRE);
					spin_ns = MIN(spin_ns * 2, SPIN_MAX_NS);
					return 0;
				}
				cpu_relax();
			}
			now = svipc__mono_ns();
			if (now >= spin_end)
				break;
		}
		spin_ns = MAX(spin_ns / 2, SPIN_MIN_NS);
	}
	if (deadline_ns >= 0 && now >= deadline_ns)
		return -ETIMEDOUT;
	/*
	 * We hold no lock here: safe to re-register if the program closed our
	 * descriptor. Looked at most every 100 ms: a wait is often short, and
	 * the look costs a system call.
	 */
	static int64_t checked;
	if (now - LOAD_RELAXED(&checked) >= 100000000LL) {
		STORE_RELAXED(&checked, now);
		svipc__proc_check();
	}
	uint32_t v = SVIPC_W_ARMED;
	if (!CAS(word, &v, SVIPC_W_SLEEPING) && v != SVIPC_W_SLEEPING)
		return 0; /* woken meanwhile */
	int64_t t = slice_ns;
	if (deadline_ns >= 0 && deadline_ns - now < t)
		t = deadline_ns - now;
	int r = svipc__futex_wait(word, SVIPC_W_SLEEPING, t);
	if (r == -EINTR)
		return -EINTR;
	if (r == -ETIMEDOUT && deadline_ns >= 0 && svipc__mono_ns() >= deadline_ns)
		return LOAD(word) == SVIPC_W_WOKEN ? 0 : -ETIMEDOUT;
	return 0;
}

void svipc__wake(uint32_t *word)
{
	if (XCHG(word, SVIPC_W_WOKEN) == SVIPC_W_SLEEPING)
		svipc__futex_wake(word, 1);
}

/* wait.h - one waiter's futex word: sleep until woken, with spinning first. */
#ifndef SVIPC_WAIT_H
#define SVIPC_WAIT_H

#include <stdint.h>

/* States of a waiter word. */
#define SVIPC_W_ARMED 0u    /* registered, not yet woken, maybe spinning */
#define SVIPC_W_WOKEN 1u    /* a waker chose this waiter */
#define SVIPC_W_SLEEPING 2u /* registered and asleep in FUTEX_WAIT */

/*
 * Waits until *word is WOKEN, the absolute CLOCK_MONOTONIC deadline_ns
 * passes (< 0: none) or a signal handler runs; spins first if may_spin. Sleeps at most slice_ns at a
 * time so the caller can re-check the object (a waker may have died).
 * Returns 0 (woken, or a slice ended: re-check), -EINTR, -ETIMEDOUT (deadline).
 */
int svipc__wait(uint32_t *word, int64_t deadline_ns, int64_t slice_ns, int may_spin);

/*
 * Spins, within this thread's adaptive spin budget, while ready() is false.
 * Returns 1 as soon as it is true, 0 if the budget ran out. Used before
 * taking a lock that would only show "nothing to do yet".
 */
int svipc__spin_until(int (*ready)(const void *arg), const void *arg);

/* Marks the waiter WOKEN; enters the kernel only if it sleeps. */
void svipc__wake(uint32_t *word);

#endif

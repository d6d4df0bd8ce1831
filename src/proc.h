/* proc.h - the namespace's register of live processes. */
#ifndef SVIPC_PROC_H
#define SVIPC_PROC_H

#include <stdint.h>
#include <sys/types.h>

/*
 * A token names one registered process: (generation << 16) | (slot + 1).
 * It fits in 31 bits so that lock words can use bit 31 as a waiters flag.
 * Token 0 is never valid.
 */
#define SVIPC_PROC_SLOTS 65535u
#define SVIPC_TOKEN_GEN_MASK 0x7fffu

/*
 * Opens (creating if needed) the register in the namespace directory dirfd;
 * get_dirfd() gives a checked directory descriptor later on.
 */
int svipc__proc_init(int dirfd, int (*get_dirfd)(void));

/*
 * Re-registers this process if the program closed (or replaced) the
 * descriptor that holds its lock, which would make it look dead to others.
 * Call only where this process holds no svipc lock.
 */
void svipc__proc_check(void);

/* This process's token; registers it (again, after fork) when needed. */
uint32_t svipc__proc_token(void);

/* This process's pid, cached (refreshed after fork). */
pid_t svipc__proc_pid(void);

/*
 * 1 if the process named by token is alive, 0 if it is dead or the token is
 * not a valid one. A "dead" answer is certain; an "alive" answer may be stale.
 */
int svipc__proc_alive(uint32_t token);

/* Pid recorded for a token's slot (0 if unknown); for diagnostics. */
pid_t svipc__proc_token_pid(uint32_t token);

#endif

/* sem.h - the layout of a semaphore set's file. */
#ifndef SVIPC_SEM_H
#define SVIPC_SEM_H

#include <stddef.h>
#include <stdint.h>
#include "region.h"

#define SEM_MAGIC 0x4d455653u /* "SVEM" */

#define SEM_VMX 32767          /* SEMVMX: the largest value */
#define SEM_AEM SEM_VMX        /* SEMAEM: the largest adjustment */
#define SEM_NSEMS_MAX 65536u   /* sem_num is 16 bits wide */
#define SEM_NWAITERS 32768u    /* waiter slots; more waiters poll the set's `poll` word */
#define SEM_INLINE_OPS 8u      /* operations a waiter slot holds itself */
#define SEM_NBIG 64u           /* areas for waiters with more operations than that */
#define SEM_OPCAP_MAX 1024u    /* operations one such area holds, at most */
/*
 * Undo records per set: as many processes as may hold SEM_UNDO adjustments
 * on it at once (Linux's only limit is memory). The rows are sparse, so
 * the bound is on address space: SEM_UNDO_BYTES of rows at most.
 */
#define SEM_UNDO_BYTES (256u << 20)
#define SEM_NUNDO_MIN 64u
#define SEM_NUNDO_MAX 32768u

/*
 * The file: struct sem_set, then at the offsets the header gives:
 * sems[nsems], waiters[nwaiters], SEM_NBIG areas of opcap operations for
 * waiters with many operations, undo records[nundo], their adjustment rows
 * (nundo x nsems), and the redo journal (njournal entries). The file is
 * sparse and every scan is bounded by a high-water mark, so only what is
 * used is ever touched. Indexes stored in shared memory are 1-based, 0
 * meaning "none".
 *
 * Crash safety. Every change of the set is one transaction under the set
 * lock: its new absolute values are written to the journal, `j_n` is
 * stored (the commit point), they are applied, and `j_n` goes back to 0.
 * Whoever takes the lock over from a dead holder applies a committed
 * journal again (harmless: absolute values) and rebuilds what is derived
 * (the waiter list, the nadj/nz counters), so a semop with many
 * operations, a hand-off to a waiter or an undo is all or nothing.
 */

struct sem_val {
	int32_t val;   /* val and pid form one aligned 8-byte word (see single_op) */
	int32_t pid;   /* sempid: the last process that changed it */
	uint32_t nadj; /* undo records with a non-zero adjustment here (derived) */
	uint32_t pad;
};

/* One operation, as struct sembuf lays it out on every Linux ABI. */
struct sem_wop {
	uint16_t num;
	int16_t op;
	int16_t flg;
};

enum { SW_FREE = 0, SW_WAIT = 1, SW_POLL = 2, SW_DONE = 3 };
#define SEM_PENDING 1 /* a waiter's status until its call is decided */

/*
 * A blocked semop. SW_WAIT: its operations are in the set (in the slot, or
 * in big area `big`), and whoever changes the set performs them for it, in
 * arrival order, as the kernel does (status then holds the call's result).
 * SW_POLL: its operations did not fit, so it is only woken on changes and
 * tries again itself. SW_DONE: another call decided it (status holds the
 * result) and took it out of the list; the slot stays its owner's until
 * the owner, woken, reads the result and frees the slot without the lock.
 */
struct sem_waiter {
	uint32_t word;    /* wait.h states */
	uint32_t token;   /* the waiting process */
	uint32_t next, prev;
	int32_t state;
	int32_t status;   /* SEM_PENDING, then 0 (done) or -errno */
	int32_t pid;
	uint32_t nsops;
	uint32_t undo;    /* the caller's undo record (SEM_UNDO), or 0 */
	uint32_t arrival; /* order of registration, for rebuilding the list */
	uint16_t bnum;    /* the operation it blocks on: GETNCNT/GETZCNT */
	int16_t bop;
	uint32_t watching; /* it sleeps in short slices, looking for dead undo holders */
	int64_t since;    /* CLOCK_MONOTONIC ns when it registered */
	uint32_t big;     /* the big area holding its operations, or 0 */
	uint32_t pad2;
	struct sem_wop ops[SEM_INLINE_OPS];
	uint8_t pad3[16];
};

/*
 * A process's SEM_UNDO adjustments on this set. Linux applies them when the
 * process exits, not when it execs, so the owner is named by pid and start
 * time; the register token is a quick "still alive" check that exec ends.
 * A row whose epoch is not the set's adj_epoch is all zero (SETALL).
 */
enum { SU_FREE = 0, SU_USED = 1 };

struct sem_undo {
	uint32_t state;
	int32_t pid;
	uint64_t start;  /* /proc/<pid>/stat starttime; 0 if unknown */
	uint32_t token;
	uint32_t epoch;
	uint32_t nz;     /* non-zero adjustments in the row (derived) */
	uint32_t pad;
};

/* A journal entry: store val (width 4 or 8 bytes) at offset off of the file. */
struct sem_jent {
	uint32_t off;
	uint32_t width;
	int64_t val;
};

struct sem_set {
	struct svipc_obj obj;
	/* hot */
	int64_t otime;
	uint32_t j_n;       /* committed journal entries (0: none) */
	uint32_t whead, wtail; /* waiters in arrival order (derived) */
	uint32_t nwait;     /* registered waiters (derived) */
	uint32_t arrival;   /* next waiter arrival number */
	uint32_t poll;      /* futex word of slotless waiters; bumped on every change */
	uint32_t npoll;     /* slotless waiters */
	uint32_t undo_hi;   /* every used undo record is below this */
	uint32_t nundo_nz;  /* undo records with a non-zero adjustment (derived) */
	uint32_t adj_epoch;
	uint32_t w_hi;      /* every waiter slot in use is below this */
	uint32_t pad;
	uint64_t big_used;  /* big operation areas in use, one bit each (derived) */
	/* cold: geometry, fixed at creation */
	uint32_t nsems, nwaiters, opcap, nundo, njournal, nbig;
	uint64_t off_sem, off_waiter, off_wop, off_undo, off_adj, off_journal;
	/* IPC_SET's redo record: set_valid is its commit point */
	uint32_t set_valid, set_uid, set_gid, set_mode;
	int64_t set_ctime;
};

_Static_assert(sizeof(struct sem_val) == 16, "sem_val is an ABI");
_Static_assert(sizeof(struct sem_wop) == 6, "sem_wop is an ABI");
_Static_assert(sizeof(struct sem_waiter) == 128, "sem_waiter is an ABI");
_Static_assert(sizeof(struct sem_undo) == 32, "sem_undo is an ABI");
_Static_assert(sizeof(struct sem_jent) == 16, "sem_jent is an ABI");

#endif

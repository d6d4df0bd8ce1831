/* shm.h - the layout of a shared memory segment's file. */
#ifndef SVIPC_SHM_H
#define SVIPC_SHM_H

#include <stdint.h>
#include "region.h"

#define SHM_MAGIC 0x4d485653u /* "SVHM" */

/*
 * A segment's file: this header, the attachment slots, then the data at a
 * page-aligned offset (a huge-page-aligned one for SHM_HUGETLB segments).
 * shmat maps [data_off, data_off + map_len) of the file. The header and
 * the slots are the object's own part (obj.size == data_off): every
 * process maps it to keep the books.
 *
 * Attachment slots. Slot i's attachment holds an OFD read lock on byte
 * SHM_LOCK_BASE + i of the file (far past its end), taken on the very
 * descriptor the attachment is mapped from and then closed: the mapping
 * keeps that open file description, hence the lock, alive exactly as long
 * as the attachment exists. munmap, exit, exec and SIGKILL all end it, and
 * the kernel drops the lock then. shm_nattch is the number of ATTACHED
 * slots whose lock is still held; a slot found ATTACHED with its lock gone
 * is a detach nobody booked (exit, kill, exec) and is booked by whoever
 * finds it.
 */
#define SHM_NSLOTS 16384u
#define SHM_LOCK_BASE ((int64_t)1 << 40)
#define SHM_SLOT_OFF 256u

enum { SHM_SLOT_FREE = 0, SHM_SLOT_ATTACHED = 1 };

struct shm_slot {
	uint32_t state;
	int32_t pid;      /* the attacher (0: a fork child not yet running) */
	uint32_t ev;      /* the segment's event count when this attachment began */
	uint32_t pad;
};

/* flags */
#define SHM_SEG_HUGE 1u      /* SHM_HUGETLB: huge-page aligned, MADV_HUGEPAGE */
#define SHM_SEG_NORESERVE 2u /* SHM_NORESERVE was given */

struct shm_seg {
	struct svipc_obj obj;
	uint64_t segsz;    /* the size asked for (shm_segsz) */
	uint64_t data_off; /* where the data starts in the file */
	uint64_t map_len;  /* bytes shmat maps: segsz rounded up to (huge) pages */
	int64_t atime, dtime;
	int32_t cpid, lpid;
	uint32_t flags;
	uint32_t nslots;
	uint32_t slot_hi;   /* every ATTACHED slot is below this */
	/*
	 * Attaches and detaches booked so far. A detach found late (the
	 * attacher died) sets shm_dtime/shm_lpid only if nothing was booked
	 * after that attachment began: otherwise the later event may be the
	 * last one, as the kernel would have it.
	 */
	uint32_t events;
	uint64_t align;     /* the address alignment shmat needs (page or huge page) */
	/* IPC_SET redo record: written, then set_valid, then applied. */
	uint32_t set_uid, set_gid, set_mode, set_valid;
	int64_t set_ctime;
};

_Static_assert(sizeof(struct shm_seg) <= SHM_SLOT_OFF, "header fits before the slots");
_Static_assert(sizeof(struct shm_slot) == 16, "shm_slot is an ABI");

#endif

/* ns.h - the namespace: directory, key table, ids, permissions, limits. */
#ifndef SVIPC_NS_H
#define SVIPC_NS_H

#include <stdint.h>
#include <sys/ipc.h>
#include "region.h"

struct svipc_limits;
struct svipc_obj_info;
struct svipc_waiter_info;
struct svipc_report;

/* Limits as stored in the namespace file (same order as struct svipc_limits). */
struct svipc_ns_limits {
	uint64_t msgmax, msgmnb, msgmni;
	uint64_t shmmax, shmall, shmmni;
	uint64_t semmsl, semmns, semopm, semmni;
	uint64_t reserved[6];
};

/* What ipcget needs to know about one IPC type (cf. the kernel's ipc_ops). */
struct svipc_type_ops {
	enum svipc_type type;
	uint32_t magic;
	/*
	 * Checks the parameters of a new object (optional): -errno to refuse,
	 * before any limit on counts is looked at (the kernel's order).
	 */
	int (*check_new)(const struct svipc_ns_limits *lim, const void *params);
	/*
	 * What a new object takes from a namespace-wide total (optional):
	 * shm pages against shmall, semaphores against semmns.
	 */
	uint64_t (*units)(const void *params);
	uint64_t (*max_units)(const struct svipc_ns_limits *lim);
	/* Last word on a new object once the counts allow it (optional). */
	int (*admit)(const struct svipc_ns_limits *lim, const void *params);
	/* Bytes of a new object mapped by every user (its header and state). */
	size_t (*size)(const struct svipc_ns_limits *lim, const void *params);
	/* Length of a new object's file, when more than size() (optional). */
	uint64_t (*file_size)(const struct svipc_ns_limits *lim, const void *params);
	/* Fills a new object file; hdr is already filled in by the caller. */
	int (*init)(void *base, size_t size, const struct svipc_ns_limits *lim,
		    const void *params);
	/* Extra checks when opening an existing object by key (e.g. size). */
	int (*more_checks)(const struct svipc_ref *ref, const void *params);
	/*
	 * IPC_RMID's work on the object; takes the object lock. Returns 0 when
	 * the object is gone (marked removed, waiters woken), 1 when it lingers
	 * (a segment still attached: it is hidden and goes at the last detach),
	 * -ESTALE if the object moved to another file under the same name.
	 * Called again for a lingering object whenever someone may have seen
	 * its last use end, and by recovery: it must be idempotent.
	 */
	int (*remove)(struct svipc_obj *o, size_t size);
	/* 1 if remove() can return 1 (the type has lingering objects). */
	int remove_lingers;
	/* The limit on the number of objects of this type. */
	uint64_t (*max_objects)(const struct svipc_ns_limits *lim);
	/*
	 * For the admin tools (inspect.c). inspect: a snapshot without the
	 * lock, calling each() per blocked (or attached) process. check: the
	 * object's consistency, under its lock (taking it runs recovery if
	 * the holder died), each finding reported to rep; with repair, an
	 * object found inconsistent is put through its recovery too.
	 */
	void (*inspect)(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg);
	void (*check)(const struct svipc_ref *ref, struct svipc_report *rep, int repair);
};

/* The operations of an IPC type. */
const struct svipc_type_ops *svipc__type_ops(enum svipc_type type);

/*
 * The namespace's own check (svipcadm check) and cleanup (svipcadm purge):
 * see svipc__check_ns() and svipc__purge() in inspect.h.
 */
enum { SVIPC_SCRUB_REPAIR = 1, SVIPC_SCRUB_PURGE = 2, SVIPC_SCRUB_DRY_RUN = 4 };
int svipc__ns_scrub(int how, struct svipc_report *rep);


/* The namespace directory's descriptor, opening the namespace on first use. */
int svipc__ns_dirfd(void);

/*
 * The same without checking that the descriptor is still the directory
 * (the program may have closed it): for callers that check what they open.
 */
int svipc__ns_dirfd_unchecked(void);

/* The namespace's limits in place (read fields with relaxed loads). */
int svipc__ns_lim(const struct svipc_ns_limits **out);

/* A copy of the namespace's limits. */
int svipc__ns_limits(struct svipc_ns_limits *out);

/* msgget/shmget/semget: returns an id or -errno. */
int svipc__ipcget(const struct svipc_type_ops *ops, key_t key, int flg, const void *params);

/*
 * IPC_RMID after the caller checked permission; returns 0 or -errno. The
 * key is hidden at once; an object that lingers (ops->remove() == 1) keeps
 * its id until svipc__ns_reap() finds it unused.
 */
int svipc__ipc_remove(const struct svipc_type_ops *ops, int id);

/*
 * IPC_RMID of an object that failed validation (EIDRM for every other
 * call): its owner may still remove it; the namespace's removal needs
 * nothing of it but its header's permissions. Returns 0 or -errno.
 */
int svipc__ipc_remove_damaged(const struct svipc_type_ops *ops, int id);

/* Frees lingering object id if it is no longer used. */
void svipc__ns_reap(const struct svipc_type_ops *ops, int id);

/* Frees every lingering object of the type that is no longer used. */
void svipc__ns_sweep(const struct svipc_type_ops *ops);

/* Sum of the units (ops->units) of every object of the type. */
uint64_t svipc__ns_units(enum svipc_type type);

/* The kernel's ipcperms(): 0 if the caller may access with flg's mode bits. */
int svipc__perm_check(const struct svipc_perm *p, int flg);

/*
 * Capabilities that change System V IPC rules, as the kernel names them:
 * CAP_IPC_OWNER bypasses mode bits, CAP_SYS_ADMIN acts as any object's
 * owner, CAP_SYS_RESOURCE may raise msg_qbytes above msgmnb.
 */
int svipc__capable(int cap);

/* 1 if the caller owns or created the object, or has CAP_SYS_ADMIN (IPC_SET/IPC_RMID). */
int svipc__perm_is_owner(const struct svipc_perm *p);

/*
 * What object id counts against its type's namespace-wide total (sem: its
 * nsems; shm: its size in pages), as recorded when it was made: a second
 * copy of its size, outside its file. 0 and *units set, or -EINVAL if the
 * namespace has no such object.
 */
int svipc__ns_entry_units(enum svipc_type type, int id, uint64_t *units);

/* id of the object at table index idx (for *_STAT), or -EINVAL. */
int svipc__ns_index_to_id(enum svipc_type type, int idx);

/*
 * What the namespace says of id, without locking: live, removed (IPC_RMID
 * committed, the object may linger), or no such object.
 */
enum { SVIPC_NS_NONE = 0, SVIPC_NS_LIVE = 1, SVIPC_NS_DEST = 2 };
int svipc__ns_state(enum svipc_type type, int id);

/* 1 if the caller's egid or a supplementary group is g. */
int svipc__in_group(gid_t g);

/* Highest index in use (-1 if none) and number in use, for *_INFO. */
int svipc__ns_usage(enum svipc_type type, int *maxidx, int *in_use);

/* 1 if the caller's euid is the object's owner or creator (no capability counts). */
int svipc__perm_uid_is_owner(const struct svipc_perm *p);

/* Copies out a perm block to a struct ipc_perm. */
void svipc__perm_to_user(const struct svipc_perm *p, struct ipc_perm *out);

/* The chain of the namespace's key index that key hashes to (for tests and the fuzzer). */
uint32_t svipc__ns_key_bucket(key_t key);

/* Maps an object by id; adds the dirfd. */
int svipc__get(const struct svipc_type_ops *ops, int id, struct svipc_ref *ref);

#endif

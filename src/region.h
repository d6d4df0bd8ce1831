/* region.h - object files: atomic creation, validated mapping, per-process cache. */
#ifndef SVIPC_REGION_H
#define SVIPC_REGION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum svipc_type { SVIPC_MSG = 0, SVIPC_SHM = 1, SVIPC_SEM = 2, SVIPC_NTYPES = 3 };

/* Ids follow the kernel's layout: index in the low 15 bits, sequence above. */
#define SVIPC_IDX_BITS 15
#define SVIPC_IDX_MAX (1u << SVIPC_IDX_BITS)
#define SVIPC_SEQ_MAX (INT32_MAX >> SVIPC_IDX_BITS)
#define SVIPC_ID_IDX(id) ((uint32_t)(id) & (SVIPC_IDX_MAX - 1))
#define SVIPC_ID_SEQ(id) ((uint32_t)(id) >> SVIPC_IDX_BITS)
#define SVIPC_MKID(seq, idx) ((int)(((seq) << SVIPC_IDX_BITS) | (idx)))

/*
 * The permission block every object file starts with, after its magic. It
 * mirrors struct ipc_perm with fixed-width fields.
 */
struct svipc_perm {
	int32_t key;
	uint32_t uid, gid, cuid, cgid;
	uint32_t mode;
	uint32_t seq;
	uint32_t pad;
};

/*
 * Header common to every object file. `lock` guards the whole object.
 * `removed` is set under the lock: SVIPC_OBJ_REMOVED by IPC_RMID, or
 * SVIPC_OBJ_MOVED when the object was copied into a larger file that now
 * has its name (callers then drop this mapping and open the name again).
 * `gen` counts such replacements.
 */
#define SVIPC_OBJ_REMOVED 1u
#define SVIPC_OBJ_MOVED 2u

struct svipc_obj {
	uint32_t magic;
	uint32_t version;
	uint64_t size;      /* bytes mapped per process: the file, or a segment's metadata */
	int32_t id;
	uint32_t lock;
	uint32_t removed;
	uint32_t corrupt;   /* set when validation failed: the object is unusable */
	struct svipc_perm perm;
	int64_t ctime;
	uint32_t gen;
	uint32_t pad;
};

_Static_assert(sizeof(struct svipc_perm) == 32, "svipc_perm is an ABI");
_Static_assert(sizeof(struct svipc_obj) == 80, "svipc_obj is an ABI");

/* A mapping of an object file's first `size` bytes, and which file it is. */
struct svipc_mapped {
	void *base;
	size_t size;
	dev_t dev;
	ino_t ino;
	uint64_t file_size;
};

/*
 * Creates `name` in dirfd, file_size bytes long (0: size), its first `size`
 * bytes initialised by init(base, arg), the rest zero; visible to others
 * only once complete (O_TMPFILE + linkat, or a temporary name + link).
 * With keep, the mapping init() filled is handed back (for the cache).
 * Returns 0, -EEXIST if the name exists, or -errno.
 */
int svipc__file_create(int dirfd, const char *name, size_t size, uint64_t file_size,
		       mode_t mode, int (*init)(void *base, size_t size, void *arg), void *arg,
		       struct svipc_mapped *keep);

/*
 * Replaces `name` with a new file built by init(base, arg), atomically:
 * before the rename, commit(arg) runs (it marks the old object moved); if
 * the rename fails, uncommit(arg) runs. Returns 0 or -errno.
 */
int svipc__file_replace(int dirfd, const char *name, size_t size, mode_t mode,
			int (*init)(void *base, size_t size, void *arg),
			void (*commit)(void *arg, int ok), void *arg);

/*
 * Object files are sparse: a page is given memory (tmpfs) or disk space
 * when it is first touched, and on a full filesystem that touch is SIGBUS.
 * So every page of an object file is populated here before its first use:
 * at creation for the parts every call may read, and as a high-water mark
 * (a bump pointer, a waiter or undo slot) moves into a new page. Returns 0,
 * or -ENOMEM when the filesystem cannot give the page (the caller fails
 * the call as the kernel does when it runs out of memory).
 */
int svipc__populate(void *addr, size_t len);

/*
 * For tests: when set to N > 0, the Nth svipc__populate() from then on
 * fails as a full filesystem would (each file creation and each new page
 * goes through it), so a test can fail every growth step of an operation
 * in turn and check that each failure leaves the objects consistent.
 */
extern int svipc__fault_countdown;

/* Removes temporary files left by processes that died making them. */
void svipc__tmp_cleanup(int dirfd);

/* The gen of the object file currently named (type, id), or -errno. */
long svipc__obj_name_gen(int dirfd, enum svipc_type type, int id);

/* What an object's open failing with errno e means: -EINVAL, -EIDRM or -e. */
int svipc__open_error(int e);

/* Writes the object file name for (type, id) into buf. */
void svipc__obj_name(char *buf, size_t len, enum svipc_type type, int id);

/* A reference to a mapped object, held for the duration of one call. */
struct svipc_ref {
	struct svipc_obj *obj;
	size_t size;
	dev_t dev; /* the mapped file, to recognise it when opened again */
	ino_t ino;
	uint64_t file_size; /* the file's length when this process mapped it */
	void *entry; /* cache entry, or NULL for a temporary mapping */
	/*
	 * Per-mapping scratch kept with the cache entry: a type stores there
	 * what it validated once for this mapping (its geometry), so later
	 * calls neither recompute nor re-read it from the shared file.
	 * view_ok is 1 once *view holds that. NULL for temporary mappings.
	 */
	void *view;
	uint32_t *view_ok;
};

#define SVIPC_VIEW_SIZE 128

/*
 * Maps object `id` of `type` (cached per process) and checks its header:
 * dirfd() is asked for the namespace directory only when the cache misses;
 * magic, version, size and id. Returns 0, or -EINVAL when no such object
 * exists, or -EIDRM when the file is not a valid object.
 */
int svipc__obj_get(int (*dirfd)(void), enum svipc_type type, uint32_t magic, int id,
		   struct svipc_ref *ref);
void svipc__obj_put(struct svipc_ref *ref);

/* Puts ref back, and forgets the cached mapping if the object was removed meanwhile. */
void svipc__obj_put_removed(struct svipc_ref *ref, enum svipc_type type, int id);

/* Puts the mapping of a new object into the cache (or unmaps it); takes m. */
void svipc__obj_install(enum svipc_type type, int id, struct svipc_mapped *m);

/* Forgets the cached mapping of a removed object if no thread uses it. */
void svipc__obj_forget(enum svipc_type type, int id);

#endif

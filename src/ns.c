/* ns.c - the namespace: directory, key table, ids, permissions, limits. */
#include "ns.h"
#include "inspect.h"
#include "internal.h"
#include "lock.h"
#include "proc.h"
#include "svipc.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_MAGIC 0x534e5653u /* "SVNS" */
#define NS_VERSION 2u /* 2: the key index (struct ns_index) after the tables */
#define NS_MIN_CYCLE 64u
#define NS_BUCKET_BITS 14u
#define NS_BUCKETS (1u << NS_BUCKET_BITS)
#define NS_INDEX_BUILT 0x58444e49u /* "INDX" */

/*
 * An entry's life: FREE -> CREATING -> LIVE -> DEST -> FREE. DEST is
 * IPC_RMID's commit point: the key is hidden, and the object is being
 * removed, or lingers while still in use (an attached segment). REMOVING
 * is the same as DEST (namespaces written by older versions have it).
 */
enum { ENT_FREE = 0, ENT_CREATING = 1, ENT_LIVE = 2, ENT_REMOVING = 3, ENT_DEST = 4 };

struct ns_entry {
	int32_t key;
	uint32_t state;
	uint32_t seq;
	uint32_t units; /* what the object counts against max_units, saturated */
};

static int entry_exists(uint32_t state)
{
	return state == ENT_LIVE || state == ENT_DEST;
}

struct ns_table {
	uint32_t next_idx;
	uint32_t in_use;
	uint32_t hiwater; /* every live entry has index < hiwater */
	uint32_t pad;
	struct ns_entry e[SVIPC_IDX_MAX];
};

/*
 * A hash of the keys of one type's LIVE entries (IPC_PRIVATE is never
 * looked up), chained through the entries. It is derived data: the table
 * says what exists, the index only says where to look. Links are 1 + an
 * entry's index, 0 ends a chain.
 */
struct ns_index {
	uint32_t built; /* NS_INDEX_BUILT; anything else (the zeroes of an upgrade): build it */
	/* The table's header when the index last changed with it (see ix_begin). */
	uint32_t in_use, next_idx, hiwater;
	uint16_t head[NS_BUCKETS];
	uint16_t count[NS_BUCKETS]; /* length of each chain: a cut chain or a cycle shows */
	uint16_t next[SVIPC_IDX_MAX];
};

struct ns_file {
	uint32_t magic;
	uint32_t version;
	uint32_t lock;
	uint32_t pad;
	struct svipc_ns_limits lim;
	struct ns_table t[SVIPC_NTYPES];
	struct ns_index ix[SVIPC_NTYPES]; /* version 2 */
};

/* Version 1 is the same file without the index. */
#define NS_V1_SIZE offsetof(struct ns_file, ix)

_Static_assert(sizeof(struct ns_entry) == 16, "ns_entry is an ABI");
_Static_assert(sizeof(struct svipc_ns_limits) == 128, "limits are an ABI");
_Static_assert(NS_V1_SIZE == 144 + SVIPC_NTYPES * (16 + 16 * SVIPC_IDX_MAX), "version 1's layout");
_Static_assert(sizeof(struct ns_index) == 16 + 4 * NS_BUCKETS + 2 * SVIPC_IDX_MAX, "ns_index is an ABI");
_Static_assert(SVIPC_IDX_MAX < UINT16_MAX, "links and counts fit in 16 bits");

extern const struct svipc_type_ops svipc__msg_ops;
extern const struct svipc_type_ops svipc__shm_ops;
extern const struct svipc_type_ops svipc__sem_ops;

static const struct svipc_type_ops *const all_ops[SVIPC_NTYPES] = {
	[SVIPC_MSG] = &svipc__msg_ops,
	[SVIPC_SHM] = &svipc__shm_ops,
	[SVIPC_SEM] = &svipc__sem_ops,
};

const struct svipc_type_ops *svipc__type_ops(enum svipc_type type)
{
	return (unsigned)type < SVIPC_NTYPES ? all_ops[type] : NULL;
}

static struct {
	pthread_mutex_t mu;
	int dirfd;
	struct ns_file *f;
	char dir[PATH_MAX];
	/* Credentials, sampled at first use and again after fork. */
	int creds_valid;
	uid_t euid;
	gid_t egid;
	int ngroups; /* -1: more than fit in groups[]; asked for at each check */
	gid_t groups[64];
	uint64_t caps;
	dev_t dir_dev; /* what NS.dirfd must still be (see ns_dirfd_checked) */
	ino_t dir_ino;
} NS = { .mu = PTHREAD_MUTEX_INITIALIZER, .dirfd = -1 };

static void atfork_prepare(void)
{
	svipc__shm_atfork(SVIPC_FORK_PREPARE);
	svipc__sem_atfork(SVIPC_FORK_PREPARE);
	pthread_mutex_lock(&NS.mu);
	svipc__proc_atfork(SVIPC_FORK_PREPARE);
	svipc__cache_atfork(SVIPC_FORK_PREPARE);
}

static void atfork_parent(void)
{
	svipc__cache_atfork(SVIPC_FORK_PARENT);
	svipc__proc_atfork(SVIPC_FORK_PARENT);
	pthread_mutex_unlock(&NS.mu);
	svipc__sem_atfork(SVIPC_FORK_PARENT);
	svipc__shm_atfork(SVIPC_FORK_PARENT);
}

static void atfork_child(void)
{
	STORE_RELAXED(&NS.creds_valid, 0);
	svipc__cache_atfork(SVIPC_FORK_CHILD);
	svipc__proc_atfork(SVIPC_FORK_CHILD);
	pthread_mutex_unlock(&NS.mu);
	svipc__sem_atfork(SVIPC_FORK_CHILD);
	/* Last: it re-registers the child's attachments, using all of the above. */
	svipc__shm_atfork(SVIPC_FORK_CHILD);
}

/*
 * Registered at load time, before the program's own handlers: glibc runs
 * prepare handlers last-registered first and the others in order, so a
 * program's handler that calls svipc runs outside svipc's fork window.
 */
__attribute__((constructor)) static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * A limit of the kernel's, or dflt where the machine does not say (no
 * /proc, no such file, not readable). Any other failure (out of memory or
 * descriptors) is returned: the namespace's limits are written once, and
 * a default taken for want of memory would stay for good.
 */
static int read_limits(const char *path, uint64_t *v, const uint64_t *dflt, int n)
{
	int k = svipc__read_proc_u64s(path, v, n);
	if (k == n)
		return 0;
	if (k < 0 && k != -ENOENT && k != -EACCES && k != -EPERM && k != -ENOTDIR)
		return k;
	memcpy(v, dflt, sizeof *v * (size_t)n);
	return 0;
}

static int kernel_limits(struct svipc_ns_limits *l)
{
	static const struct {
		const char *path;
		size_t off;
		uint64_t dflt;
	} one[] = {
		{ "/proc/sys/kernel/msgmax", offsetof(struct svipc_ns_limits, msgmax), 8192 },
		{ "/proc/sys/kernel/msgmnb", offsetof(struct svipc_ns_limits, msgmnb), 16384 },
		{ "/proc/sys/kernel/msgmni", offsetof(struct svipc_ns_limits, msgmni), 32000 },
		{ "/proc/sys/kernel/shmmax", offsetof(struct svipc_ns_limits, shmmax), INT64_MAX },
		{ "/proc/sys/kernel/shmall", offsetof(struct svipc_ns_limits, shmall), INT64_MAX },
		{ "/proc/sys/kernel/shmmni", offsetof(struct svipc_ns_limits, shmmni), 4096 },
	};
	static const uint64_t sem_dflt[4] = { 32000, 1024000000, 500, 32000 };
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < ARRAY_SIZE(one); i++) {
		int r = read_limits(one[i].path, (uint64_t *)((char *)l + one[i].off), &one[i].dflt, 1);
		if (r < 0)
			return r;
	}
	uint64_t sem[4];
	int r = read_limits("/proc/sys/kernel/sem", sem, sem_dflt, 4);
	if (r < 0)
		return r;
	l->semmsl = sem[0], l->semmns = sem[1], l->semopm = sem[2], l->semmni = sem[3];
	l->msgmni = MIN(l->msgmni, SVIPC_IDX_MAX);
	l->shmmni = MIN(l->shmmni, SVIPC_IDX_MAX);
	l->semmni = MIN(l->semmni, SVIPC_IDX_MAX);
	return 0;
}

static int ns_init_file(void *base, size_t size, void *arg)
{
	struct ns_file *f = base;
	/*
	 * All of it (1.9 MiB): any index of the key table may be read (*_STAT
	 * takes one from the caller), and reading a hole of a tmpfs file also
	 * takes a page, so a full filesystem would mean SIGBUS anywhere.
	 */
	if (svipc__populate(base, size) < 0)
		return -ENOMEM;
	int r = kernel_limits(&f->lim);
	if (r < 0)
		return r;
	for (int t = 0; t < SVIPC_NTYPES; t++)
		f->ix[t].built = NS_INDEX_BUILT; /* empty, like the tables */
	f->version = NS_VERSION;
	STORE(&f->magic, NS_MAGIC);
	return 0;
}

static int ns_dirfd_checked(void);

/*
 * Brings a namespace written by version 1 (no key index) to version 2 in
 * place: the file grows by the index, its new pages are populated (a full
 * filesystem is ENOMEM here, not SIGBUS later), and the version is stored,
 * last. No lock: each step is idempotent, so processes opening at once may
 * all run it, and the next opener finishes what a killed one began (a file
 * of the new length still saying version 1). The file only grows and the
 * table does not move, so processes that mapped the old length (an older
 * library) keep working on it; the index they do not maintain is caught
 * disagreeing (ix_begin, find_key). The index is marked not built, and
 * the first lookup builds it under the namespace lock.
 * Returns 0, -EINVAL if this is no namespace of version 1 or 2, or -errno.
 */
static int ns_upgrade(int fd, off_t size)
{
	uint32_t hdr[2];
	if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || hdr[0] != NS_MAGIC)
		return -EINVAL;
	if (hdr[1] != 1)
		return hdr[1] == NS_VERSION && (size_t)size == sizeof(struct ns_file) ? 0 : -EINVAL;
	if ((size_t)size < sizeof(struct ns_file) && ftruncate(fd, sizeof(struct ns_file)) < 0)
		return errno == EFBIG || errno == ENOSPC ? -ENOMEM : -errno;
	struct ns_file *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		return -errno;
	int r = svipc__populate(f->ix, sizeof f->ix);
	if (r == 0) {
		/*
		 * Whatever the region holds is not an index of this table. If
		 * a slower upgrader stores this after the version went to 2,
		 * the next lookup just builds the index once more.
		 */
		for (int t = 0; t < SVIPC_NTYPES; t++)
			STORE(&f->ix[t].built, 0);
		uint32_t v1 = 1;
		__atomic_compare_exchange_n(&f->version, &v1, NS_VERSION, 0, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED);
	}
	munmap(f, sizeof *f);
	return r;
}

/* Called with NS.mu held. */
static int ns_open(void)
{
	const char *dir = getenv("SVIPC_DIR");
	if (!dir || !*dir)
		dir = SVIPC_DEFAULT_DIR;
	if (strlen(dir) >= sizeof NS.dir)
		return -ENAMETOOLONG;
	int made = mkdir(dir, 01777) == 0;
	if (!made && errno != EEXIST)
		return -errno;
	/*
	 * The last component may be a symlink: follow it only if it is the
	 * caller's or root's (fs.protected_symlinks' rule, whatever the
	 * sysctl says): someone else's may point at any directory, and we
	 * would create world-writable files there.
	 */
	struct stat lst;
	if (lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode) && lst.st_uid != geteuid() &&
	    lst.st_uid != 0)
		return -EACCES;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (made ? O_NOFOLLOW : 0));
	if (dfd < 0)
		return -errno;
	struct stat st, dst;
	/* shared by every user, like /dev/shm (mkdir obeys umask); through the
	 * descriptor, so a directory swapped for a symlink meanwhile is not chmodded */
	if (made && fstat(dfd, &dst) == 0 && dst.st_uid == geteuid())
		fchmod(dfd, 01777);
	if (fstat(dfd, &dst) < 0 || ((dst.st_mode & S_IWOTH) && !(dst.st_mode & S_ISVTX))) {
		/* A world-writable directory without the sticky bit lets anyone
		 * replace anyone's objects: refuse it. */
		close(dfd);
		return -EACCES;
	}
	int fd = -1;
	for (int tries = 0; tries < 3 && fd < 0; tries++) {
		fd = openat(dfd, "ns", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			int r = svipc__file_create(dfd, "ns", sizeof(struct ns_file), 0, 0666,
						   ns_init_file, NULL, NULL);
			if (r < 0 && r != -EEXIST) {
				close(dfd);
				return r;
			}
		} else if (fd < 0) {
			int e = -errno;
			close(dfd);
			return e;
		}
	}
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    ((size_t)st.st_size != sizeof(struct ns_file) && (size_t)st.st_size != NS_V1_SIZE)) {
		if (fd >= 0)
			close(fd);
		close(dfd);
		return -EINVAL;
	}
	int r = ns_upgrade(fd, st.st_size);
	if (r < 0) {
		close(fd);
		close(dfd);
		return r;
	}
	struct ns_file *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (f == MAP_FAILED) {
		close(dfd);
		return -errno;
	}
	if (LOAD(&f->magic) != NS_MAGIC || f->version != NS_VERSION) {
		munmap(f, sizeof *f);
		close(dfd);
		return -EINVAL;
	}
	r = svipc__proc_init(dfd, ns_dirfd_checked);
	if (r < 0) {
		munmap(f, sizeof *f);
		close(dfd);
		return r;
	}
	strcpy(NS.dir, dir);
	NS.dirfd = dfd;
	NS.dir_dev = dst.st_dev;
	NS.dir_ino = dst.st_ino;
	STORE(&NS.f, f);
	return 0;
}

static struct ns_file *ns_file(int *err)
{
	struct ns_file *f = LOAD(&NS.f);
	if (f)
		return f;
	pthread_mutex_lock(&NS.mu);
	int r = NS.f ? 0 : ns_open();
	pthread_mutex_unlock(&NS.mu);
	*err = r;
	return r < 0 ? NULL : NS.f;
}

/*
 * The namespace directory's descriptor, checked: a program may close
 * descriptors it did not open (daemons close them all) and even get the
 * same number back for a file of its own. If ours is gone or is no longer
 * the namespace directory, open the directory again under a new number,
 * leaving the old number alone (it may be the program's now). Only slow
 * paths (opening and creating files) come here.
 */
static int ns_dirfd_checked(void)
{
	int err;
	if (!ns_file(&err))
		return err;
	pthread_mutex_lock(&NS.mu);
	struct stat st;
	int fd = NS.dirfd;
	if (fstat(fd, &st) < 0 || st.st_dev != NS.dir_dev || st.st_ino != NS.dir_ino) {
		int nfd = open(NS.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (nfd < 0 || fstat(nfd, &st) < 0 || st.st_dev != NS.dir_dev ||
		    st.st_ino != NS.dir_ino) {
			fd = nfd < 0 ? -errno : -ESTALE;
			if (nfd >= 0)
				close(nfd);
		} else {
			fd = NS.dirfd = nfd;
		}
	}
	pthread_mutex_unlock(&NS.mu);
	return fd;
}

int svipc__ns_dirfd(void)
{
	return ns_dirfd_checked();
}

int svipc__ns_dirfd_unchecked(void)
{
	int err;
	return ns_file(&err) ? LOAD_RELAXED(&NS.dirfd) : err;
}

SVIPC_EXPORT const char *svipc_dir(void)
{
	int err;
	if (ns_file(&err))
		return NS.dir;
	const char *d = getenv("SVIPC_DIR");
	return d && *d ? d : SVIPC_DEFAULT_DIR;
}

/* ---- credentials and permissions ---------------------------------------- */

static int in_group(gid_t g);

static void creds_load(void)
{
	if (LOAD(&NS.creds_valid))
		return;
	NS.euid = geteuid();
	NS.egid = getegid();
	int n = getgroups(ARRAY_SIZE(NS.groups), NS.groups);
	NS.ngroups = n >= 0 ? n : (errno == EINVAL ? -1 : 0);
	NS.caps = svipc__effective_caps();
	STORE(&NS.creds_valid, 1);
}

SVIPC_EXPORT void svipc_refresh_credentials(void)
{
	STORE(&NS.creds_valid, 0);
}

int svipc__in_group(gid_t g)
{
	creds_load();
	return in_group(g);
}

static int in_group(gid_t g)
{
	if (g == NS.egid)
		return 1;
	if (NS.ngroups < 0) {
		/* More supplementary groups than we cache: ask each time. */
		int n = getgroups(0, NULL);
		gid_t *all = n > 0 ? malloc(sizeof(gid_t) * (size_t)n) : NULL;
		int found = 0;
		n = all ? getgroups(n, all) : 0;
		for (int i = 0; i < n && !found; i++)
			found = all[i] == g;
		free(all);
		return found;
	}
	for (int i = 0; i < NS.ngroups; i++)
		if (NS.groups[i] == g)
			return 1;
	return 0;
}

int svipc__perm_check(const struct svipc_perm *p, int flg)
{
	creds_load();
	uint32_t requested = (uint32_t)((flg >> 6) | (flg >> 3) | flg) & 7;
	uint32_t granted = LOAD_RELAXED(&p->mode);
	if (NS.euid == LOAD_RELAXED(&p->cuid) || NS.euid == LOAD_RELAXED(&p->uid))
		granted >>= 6;
	else if (in_group(LOAD_RELAXED(&p->gid)) || in_group(LOAD_RELAXED(&p->cgid)))
		granted >>= 3;
	if ((requested & ~granted & 7) && !svipc__capable(CAP_IPC_OWNER))
		return -EACCES;
	return 0;
}

int svipc__capable(int cap)
{
	creds_load();
	return (NS.caps >> cap) & 1;
}

int svipc__perm_is_owner(const struct svipc_perm *p)
{
	creds_load();
	return svipc__capable(CAP_SYS_ADMIN) || NS.euid == LOAD_RELAXED(&p->uid) || NS.euid == LOAD_RELAXED(&p->cuid);
}

int svipc__perm_uid_is_owner(const struct svipc_perm *p)
{
	creds_load();
	return NS.euid == LOAD_RELAXED(&p->uid) || NS.euid == LOAD_RELAXED(&p->cuid);
}

void svipc__perm_to_user(const struct svipc_perm *p, struct ipc_perm *out)
{
	memset(out, 0, sizeof *out);
	out->__key = p->key;
	out->uid = p->uid;
	out->gid = p->gid;
	out->cuid = p->cuid;
	out->cgid = p->cgid;
	out->mode = (unsigned short)p->mode;
	out->__seq = (unsigned short)p->seq;
}

/* ---- the key table -------------------------------------------------------- */

static void ns_recover(struct ns_file *f);

/*
 * The key index (struct ns_index). Everything here is called with the
 * namespace lock held. Its contents are trusted no further than checked:
 * a holder killed half-way through a change leaves it for ns_recover(),
 * which builds it again from the table, and a scribbler may have written
 * anything, so every link is range-checked, every walk is bounded by its
 * chain's count, and every entry found must be LIVE with a key of that
 * bucket. What fails a check is never used: the index is built again
 * from the table, which answers meanwhile.
 */
static uint32_t key_bucket(key_t key)
{
	return ((uint32_t)key * 0x9e3779b1u) >> (32 - NS_BUCKET_BITS);
}

uint32_t svipc__ns_key_bucket(key_t key)
{
	return key_bucket(key);
}

/* 1 if entry i belongs in the index: what the table scan (scan_key) can find. */
static int indexable(const struct ns_table *tb, uint32_t i)
{
	return i < MIN(tb->hiwater, SVIPC_IDX_MAX) && tb->e[i].state == ENT_LIVE &&
	       tb->e[i].key != IPC_PRIVATE;
}

/* 1 if type t's index is built and saw the table's header as it is. */
static int ix_current(const struct ns_file *f, int t)
{
	const struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	return LOAD_RELAXED(&ix->built) == NS_INDEX_BUILT && ix->in_use == tb->in_use &&
	       ix->next_idx == tb->next_idx && ix->hiwater == tb->hiwater;
}

/* After a change of type t's table that the index followed. */
static void ix_seal(struct ns_file *f, int t)
{
	struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	if (LOAD_RELAXED(&ix->built) != NS_INDEX_BUILT)
		return;
	ix->in_use = tb->in_use;
	ix->next_idx = tb->next_idx;
	ix->hiwater = tb->hiwater;
}

/*
 * Before a change of type t's table: an index that already disagrees with
 * the table's header was left behind by someone who changed the table
 * without it (a process of version 1 still running, a scribbler), so it
 * is dropped rather than sealed as current afterwards; the next lookup
 * builds it again. (A removal by version 1 that changes no counter leaves
 * a non-LIVE entry in a chain, which every walk catches.)
 */
static void ix_begin(struct ns_file *f, int t)
{
	if (!ix_current(f, t))
		STORE_RELAXED(&f->ix[t].built, 0);
}

/* Builds type t's index from its table; the table is not changed. */
static void ix_build(struct ns_file *f, int t)
{
	struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	STORE_RELAXED(&ix->built, 0);
	memset(ix->head, 0, sizeof ix->head);
	memset(ix->count, 0, sizeof ix->count);
	/* Downwards, each pushed at its chain's head: chains in table order, as the scan finds them. */
	for (uint32_t i = MIN(tb->hiwater, SVIPC_IDX_MAX); i-- > 0;) {
		if (!indexable(tb, i))
			continue;
		uint32_t h = key_bucket(tb->e[i].key);
		ix->next[i] = ix->head[h];
		ix->head[h] = (uint16_t)(i + 1);
		ix->count[h]++;
	}
	STORE_RELAXED(&ix->built, NS_INDEX_BUILT);
	ix_seal(f, t);
}

enum { IX_MISS = -1, IX_DAMAGED = -2, IX_ALL = -3 };

/*
 * Walks chain h of type t's index to the LIVE entry with `key` (want ==
 * -1), to entry `want` (>= 0), or to its end (IX_ALL). Returns the entry's
 * index, with *linkp (if not NULL) where the link to it is; IX_MISS at the
 * end of a whole chain; IX_DAMAGED if the chain is not one the table
 * allows: a link out of range, an entry not indexable or of another
 * bucket, a chain longer or shorter than its count (which also ends a
 * cycle).
 */
static int ix_walk(struct ns_file *f, int t, uint32_t h, key_t key, int want, uint16_t **linkp)
{
	struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	uint16_t *link = &ix->head[h];
	uint32_t n = ix->count[h];
	for (uint32_t steps = 0;; steps++) {
		uint32_t v = *link;
		if (!v)
			return steps == n ? IX_MISS : IX_DAMAGED;
		if (steps >= n || v > SVIPC_IDX_MAX)
			return IX_DAMAGED;
		uint32_t i = v - 1;
		if (!indexable(tb, i) || key_bucket(tb->e[i].key) != h)
			return IX_DAMAGED;
		if (want == -1 ? tb->e[i].key == key : (int)i == want) {
			if (linkp)
				*linkp = link;
			return (int)i;
		}
		link = &ix->next[i];
	}
}

/* Entry i has just become LIVE with its key. */
static void ix_insert(struct ns_file *f, int t, uint32_t i)
{
	struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	if (LOAD_RELAXED(&ix->built) != NS_INDEX_BUILT || !indexable(tb, i))
		return;
	uint32_t h = key_bucket(tb->e[i].key);
	ix->next[i] = ix->head[h];
	ix->head[h] = (uint16_t)(i + 1);
	ix->count[h]++;
}

/* Entry i, LIVE with its key still, is about to lose it. */
static void ix_remove(struct ns_file *f, int t, uint32_t i)
{
	struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	uint16_t *link;
	if (LOAD_RELAXED(&ix->built) != NS_INDEX_BUILT || !indexable(tb, i))
		return;
	uint32_t h = key_bucket(tb->e[i].key);
	if (ix_walk(f, t, h, 0, (int)i, &link) != (int)i) {
		STORE_RELAXED(&ix->built, 0); /* it was not where it belongs: build it again at the next lookup */
		return;
	}
	*link = ix->next[i];
	ix->count[h]--;
}

/*
 * svipcadm check: 0 if type t's index holds exactly the table's indexable
 * entries, each once, or is not built (the next lookup builds it);
 * otherwise 1, with what is wrong in why.
 */
static int ix_verify(struct ns_file *f, int t, char *why, size_t len)
{
	const struct ns_index *ix = &f->ix[t];
	const struct ns_table *tb = &f->t[t];
	if (LOAD_RELAXED(&ix->built) != NS_INDEX_BUILT)
		return 0;
	uint32_t linked = 0, live = 0;
	for (uint32_t h = 0; h < NS_BUCKETS; h++) {
		if (ix_walk(f, t, h, 0, IX_ALL, NULL) != IX_MISS) {
			snprintf(why, len, "chain %u is broken", h);
			return 1;
		}
		linked += ix->count[h];
	}
	/* Whole chains hold distinct entries, each in its key's chain: equal counts mean all. */
	for (uint32_t i = 0; i < MIN(tb->hiwater, SVIPC_IDX_MAX); i++)
		live += indexable(tb, i);
	if (linked != live) {
		snprintf(why, len, "it holds %u keys, the table %u", linked, live);
		return 1;
	}
	return 0;
}

/*
 * Marks the object that has the name of `id` removed. If it moved to a
 * larger file while we waited for its lock, the file that has the name now
 * is the one to remove (an IPC_SET that grows the queue races IPC_RMID).
 */
static int remove_object(const struct svipc_type_ops *ops, int id)
{
	for (int tries = 0; tries < 16; tries++) {
		struct svipc_ref ref;
		if (svipc__obj_get(ns_dirfd_checked, ops->type, ops->magic, id, &ref) < 0)
			return 0; /* no valid file: nothing lingers */
		int r = ops->remove(ref.obj, ref.size);
		svipc__obj_put(&ref);
		if (r != -ESTALE)
			return r == 1;
	}
	return 0;
}

/* Locks the namespace, recovering it if the previous holder died. */
static int ns_lock(struct ns_file *f)
{
	int r = svipc__lock(&f->lock);
	if (r < 0)
		return r;
	if (r == 1)
		ns_recover(f);
	return 0;
}

static void ns_unlock(struct ns_file *f)
{
	svipc__unlock(&f->lock);
}

static void entry_unlink(enum svipc_type type, int id)
{
	char name[32];
	int dfd = ns_dirfd_checked();
	svipc__obj_name(name, sizeof name, type, id);
	if (dfd >= 0)
		unlinkat(dfd, name, 0);
}

/*
 * Completes or discards what a dead holder of the namespace lock left half
 * done: a creation is discarded, a removal is completed. Idempotent, so a
 * recovery cut short by another death is simply run again.
 */
static void ns_recover(struct ns_file *f)
{
	int dfd = ns_dirfd_checked();
	if (dfd >= 0)
		svipc__tmp_cleanup(dfd); /* a creator may have died */
	for (int t = 0; t < SVIPC_NTYPES; t++) {
		struct ns_table *tb = &f->t[t];
		uint32_t in_use = 0, hi = 0;
		for (uint32_t i = 0; i < SVIPC_IDX_MAX; i++) {
			struct ns_entry *e = &tb->e[i];
			uint32_t seq = e->seq & SVIPC_SEQ_MAX;
			int id = SVIPC_MKID(seq, i);
			switch (e->state) {
			case ENT_FREE:
				continue;
			case ENT_LIVE:
				in_use++;
				hi = i + 1;
				continue;
			case ENT_REMOVING:
			case ENT_DEST:
				e->key = IPC_PRIVATE;
				if (all_ops[t] && remove_object(all_ops[t], id)) {
					STORE(&e->state, ENT_DEST); /* lingers */
					in_use++;
					hi = i + 1;
					continue;
				}
				/* fall through */
			default:
				entry_unlink(t, id);
				e->key = IPC_PRIVATE;
				STORE(&e->state, ENT_FREE);
			}
		}
		tb->in_use = in_use;
		tb->hiwater = hi;
		if (tb->next_idx >= SVIPC_IDX_MAX)
			tb->next_idx = 0;
		/* The dead holder may have been changing it: never trusted, always rebuilt. */
		ix_build(f, t);
	}
}

/* The table's answer: the first LIVE entry with key below the high-water mark, or -1. */
static int scan_key(const struct ns_table *tb, key_t key)
{
	uint32_t hi = MIN(tb->hiwater, SVIPC_IDX_MAX);
	for (uint32_t i = 0; i < hi; i++)
		if (tb->e[i].state == ENT_LIVE && tb->e[i].key == key)
			return (int)i;
	return -1;
}

/*
 * The LIVE entry of type t with key, or -1. Called with the namespace lock
 * held. A hit is checked against the table by the walk (LIVE, this key).
 * A miss is trusted only from an index that saw the table's header as it
 * is and a chain that is whole (its length is its count, every entry on it
 * belongs there); otherwise the index is built again and the table is
 * scanned. A miss about to create an object is checked by a scan anyway
 * (svipc__ipcget): damage that leaves the chain looking whole exists.
 */
static int find_key(struct ns_file *f, int t, key_t key)
{
	if (!ix_current(f, t))
		ix_build(f, t);
	int i = ix_walk(f, t, key_bucket(key), key, -1, NULL);
	if (i != IX_DAMAGED)
		return i;
	ix_build(f, t);
	return scan_key(&f->t[t], key);
}

/*
 * Called with the namespace lock held, for an entry in state DEST: asks
 * the object whether it still lingers; if not, deletes its file and frees
 * the entry. Returns 1 if it lingers, 0 if it was freed.
 */
static int reap_locked(struct ns_file *f, const struct svipc_type_ops *ops, int id)
{
	struct ns_table *tb = &f->t[ops->type];
	struct ns_entry *e = &tb->e[SVIPC_ID_IDX(id)];
	if (remove_object(ops, id))
		return 1;
	entry_unlink(ops->type, id);
	ix_begin(f, ops->type);
	STORE(&e->state, ENT_FREE);
	tb->in_use--;
	ix_seal(f, ops->type);
	svipc__obj_forget(ops->type, id);
	return 0;
}

/*
 * Frees the lingering objects nobody uses any more (a segment's last
 * attacher may have been killed: nobody else saw its last detach).
 * `throttled` limits it to once a second per process, for shmget.
 */
static void sweep_locked(struct ns_file *f, const struct svipc_type_ops *ops, int throttled)
{
	static int64_t last;
	if (throttled) {
		int64_t now = svipc__mono_ns();
		if (now - LOAD_RELAXED(&last) < 1000000000)
			return;
		STORE_RELAXED(&last, now);
	}
	struct ns_table *tb = &f->t[ops->type];
	uint32_t hi = MIN(tb->hiwater, SVIPC_IDX_MAX);
	for (uint32_t i = 0; i < hi; i++)
		if (tb->e[i].state == ENT_DEST)
			reap_locked(f, ops, SVIPC_MKID(tb->e[i].seq & SVIPC_SEQ_MAX, i));
}

struct newobj_arg {
	const struct svipc_type_ops *ops;
	const struct svipc_ns_limits *lim;
	const void *params;
	int id;
	key_t key;
	int flg;
};

static int newobj_init(void *base, size_t size, void *arg)
{
	struct newobj_arg *a = arg;
	struct svipc_obj *o = base;
	creds_load();
	o->version = 1;
	o->size = size;
	o->id = a->id;
	o->perm.key = a->key;
	o->perm.uid = o->perm.cuid = NS.euid;
	o->perm.gid = o->perm.cgid = NS.egid;
	o->perm.mode = (uint32_t)a->flg & 0777;
	o->perm.seq = SVIPC_ID_SEQ(a->id);
	o->ctime = svipc__real_sec();
	int r = a->ops->init(base, size, a->lim, a->params);
	if (r == 0)
		STORE(&o->magic, a->ops->magic);
	return r;
}

/* newobj's second half: an index, an entry and the object's file. Returns the id or -errno. */
static int newobj_at(struct ns_file *f, const struct svipc_type_ops *ops, key_t key, int flg,
		     const void *params, const struct svipc_ns_limits *limp, uint64_t units)
{
	struct ns_table *tb = &f->t[ops->type];
	struct svipc_ns_limits lim = *limp;
	int r;
	uint32_t cycle = MIN(MAX(tb->in_use * 3 / 2, NS_MIN_CYCLE), SVIPC_IDX_MAX);
	uint32_t idx = tb->next_idx < cycle ? tb->next_idx : 0;
	uint32_t n;
	for (n = 0; n < SVIPC_IDX_MAX; n++, idx = (idx + 1) % SVIPC_IDX_MAX)
		if (tb->e[idx].state == ENT_FREE)
			break;
	if (n == SVIPC_IDX_MAX)
		return -ENOSPC;
	ix_begin(f, ops->type);
	struct ns_entry *e = &tb->e[idx];
	uint32_t seq = (e->seq + 1) & SVIPC_SEQ_MAX;
	int id = SVIPC_MKID(seq, idx);
	e->seq = seq;
	e->key = key;
	e->units = (uint32_t)MIN(units, UINT32_MAX);
	STORE(&e->state, ENT_CREATING);
	if (idx + 1 > tb->hiwater)
		tb->hiwater = idx + 1;

	struct newobj_arg a = { ops, &lim, params, id, key, flg };
	char name[32];
	svipc__obj_name(name, sizeof name, ops->type, id);
	size_t size = ops->size(&lim, params);
	uint64_t file_size = ops->file_size ? ops->file_size(&lim, params) : 0;
	int dfd = ns_dirfd_checked();
	r = dfd;
	struct svipc_mapped m;
	if (dfd >= 0)
		r = svipc__file_create(dfd, name, size, file_size, 0666, newobj_init, &a, &m);
	if (r == -EEXIST) {
		/* A stale file from a crashed creator of an earlier life. */
		unlinkat(dfd, name, 0);
		r = svipc__file_create(dfd, name, size, file_size, 0666, newobj_init, &a, &m);
	}
	if (r == 0)
		svipc__obj_install(ops->type, id, &m); /* its first use needs no open */
	if (r < 0) {
		e->key = IPC_PRIVATE;
		STORE(&e->state, ENT_FREE);
		if (r == -EEXIST)
			tb->next_idx = (idx + 1) % SVIPC_IDX_MAX; /* the next try takes the next index */
		ix_seal(f, ops->type);
		return r == -EFBIG ? -ENOMEM : r;
	}
	STORE(&e->state, ENT_LIVE);
	tb->in_use++;
	tb->next_idx = (idx + 1) % SVIPC_IDX_MAX;
	ix_insert(f, ops->type, idx);
	ix_seal(f, ops->type);
	return id;
}

/* Called with the namespace lock held. */
static int newobj(struct ns_file *f, const struct svipc_type_ops *ops, key_t key, int flg,
		  const void *params)
{
	struct ns_table *tb = &f->t[ops->type];
	struct svipc_ns_limits lim = f->lim;
	int r = ops->check_new ? ops->check_new(&lim, params) : 0;
	if (r < 0)
		return r;
	uint64_t units = ops->units ? ops->units(params) : 0;
	for (int swept = 0;; swept = 1) {
		uint64_t total = units ? svipc__ns_units(ops->type) : 0;
		int full = total + units < total || (units && total + units > ops->max_units(&lim));
		if (!full) {
			r = ops->admit ? ops->admit(&lim, params) : 0;
			if (r < 0)
				return r;
			full = tb->in_use >= MIN(ops->max_objects(&lim), SVIPC_IDX_MAX);
		}
		if (!full)
			break;
		if (swept || !ops->remove_lingers)
			return -ENOSPC;
		sweep_locked(f, ops, 0); /* a dead process's removed segment may still count */
	}
	/*
	 * A name that someone else's file blocks (a sticky directory: we may
	 * not remove it) costs that index, not the call: try the next one.
	 */
	for (int attempt = 0; attempt < 8; attempt++) {
		r = newobj_at(f, ops, key, flg, params, &lim, units);
		if (r != -EEXIST)
			return r;
	}
	return -ENOSPC;
}

int svipc__get(const struct svipc_type_ops *ops, int id, struct svipc_ref *ref)
{
	int err;
	if (!ns_file(&err))
		return err;
	return svipc__obj_get(ns_dirfd_checked, ops->type, ops->magic, id, ref);
}

int svipc__ipcget(const struct svipc_type_ops *ops, key_t key, int flg, const void *params)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	svipc__proc_check();
	svipc_refresh_credentials(); /* msgget is not a fast path: look again */
	r = ns_lock(f);
	if (r < 0)
		return r;
	if (ops->remove_lingers)
		sweep_locked(f, ops, 1);
	if (key == IPC_PRIVATE) {
		r = newobj(f, ops, key, flg, params);
		goto out;
	}
	int idx = find_key(f, ops->type, key);
	if (idx < 0 && (flg & IPC_CREAT)) {
		/*
		 * Before a second object gets the key, the table has the last
		 * word: a key rewritten in the table, or a chain and its count
		 * both cut, look whole to the index. Creating makes a file, which
		 * costs more than this scan; a miss without IPC_CREAT is answered
		 * by the index alone.
		 */
		idx = scan_key(&f->t[ops->type], key);
		if (idx >= 0)
			ix_build(f, ops->type); /* it disagreed */
	}
	if (idx < 0) {
		r = (flg & IPC_CREAT) ? newobj(f, ops, key, flg, params) : -ENOENT;
		goto out;
	}
	if ((flg & IPC_CREAT) && (flg & IPC_EXCL)) {
		r = -EEXIST;
		goto out;
	}
	int id = SVIPC_MKID(f->t[ops->type].e[idx].seq & SVIPC_SEQ_MAX, (uint32_t)idx);
	struct svipc_ref ref;
	r = svipc__obj_get(ns_dirfd_checked, ops->type, ops->magic, id, &ref);
	if (r < 0) {
		r = r == -EINVAL ? -EIDRM : r;
		goto out;
	}
	if (LOAD_RELAXED(&ref.obj->perm.key) != key)
		r = -EIDRM; /* the table and the object disagree: one is damaged */
	else
		r = ops->more_checks ? ops->more_checks(&ref, params) : 0;
	if (r == 0)
		r = svipc__perm_check(&ref.obj->perm, flg) ? -EACCES : id;
	svipc__obj_put(&ref);
out:
	ns_unlock(f);
	return r;
}

int svipc__ipc_remove(const struct svipc_type_ops *ops, int id)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	r = ns_lock(f);
	if (r < 0)
		return r;
	struct ns_table *tb = &f->t[ops->type];
	struct ns_entry *e = &tb->e[SVIPC_ID_IDX(id)];
	if (id < 0 || !entry_exists(e->state) || (e->seq & SVIPC_SEQ_MAX) != SVIPC_ID_SEQ(id)) {
		r = -EINVAL;
		goto out;
	}
	/*
	 * The commit point: from here ns_recover() completes the removal. The
	 * key goes after it (lookups match LIVE entries only), so a death in
	 * between never leaves a live object that its key cannot find. (Out
	 * of the index first: a death after that is recovery's, which
	 * rebuilds the index.)
	 */
	ix_begin(f, ops->type);
	if (e->state == ENT_LIVE)
		ix_remove(f, ops->type, SVIPC_ID_IDX(id));
	STORE(&e->state, ENT_DEST);
	STORE(&e->key, IPC_PRIVATE); /* a release store: not before the state's */
	r = reap_locked(f, ops, id);
	r = r < 0 ? r : 0;
out:
	ns_unlock(f);
	return r;
}

int svipc__ipc_remove_damaged(const struct svipc_type_ops *ops, int id)
{
	struct svipc_ref ref;
	int r = svipc__get(ops, id, &ref);
	if (r < 0)
		return r;
	int owner = svipc__perm_is_owner(&ref.obj->perm);
	svipc__obj_put(&ref);
	return owner ? svipc__ipc_remove(ops, id) : -EPERM;
}

void svipc__ns_reap(const struct svipc_type_ops *ops, int id)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f || id < 0 || ns_lock(f) < 0)
		return;
	struct ns_table *tb = &f->t[ops->type];
	struct ns_entry *e = &tb->e[SVIPC_ID_IDX(id)];
	if (e->state == ENT_DEST && (e->seq & SVIPC_SEQ_MAX) == SVIPC_ID_SEQ(id))
		reap_locked(f, ops, id);
	ns_unlock(f);
}

void svipc__ns_sweep(const struct svipc_type_ops *ops)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f || ns_lock(f) < 0)
		return;
	sweep_locked(f, ops, 0);
	ns_unlock(f);
}

uint64_t svipc__ns_units(enum svipc_type type)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return 0;
	struct ns_table *tb = &f->t[type];
	uint64_t total = 0;
	uint32_t hi = MIN(LOAD(&tb->hiwater), SVIPC_IDX_MAX);
	for (uint32_t i = 0; i < hi; i++)
		if (entry_exists(LOAD(&tb->e[i].state)))
			total += LOAD_RELAXED(&tb->e[i].units);
	return total;
}

int svipc__ns_entry_units(enum svipc_type type, int id, uint64_t *units)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	if (id < 0 || (unsigned)type >= SVIPC_NTYPES)
		return -EINVAL;
	struct ns_entry *e = &f->t[type].e[SVIPC_ID_IDX(id)];
	if (!entry_exists(LOAD(&e->state)) ||
	    (LOAD_RELAXED(&e->seq) & SVIPC_SEQ_MAX) != SVIPC_ID_SEQ(id))
		return -EINVAL;
	*units = LOAD_RELAXED(&e->units);
	return 0;
}

int svipc__ns_index_to_id(enum svipc_type type, int idx)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	if (idx < 0)
		return -EINVAL;
	idx &= (int)SVIPC_IDX_MAX - 1; /* like the kernel, which looks at the index bits only */
	struct ns_entry *e = &f->t[type].e[idx];
	if (!entry_exists(LOAD(&e->state)))
		return -EINVAL;
	return SVIPC_MKID(LOAD(&e->seq) & SVIPC_SEQ_MAX, (uint32_t)idx);
}

int svipc__ns_state(enum svipc_type type, int id)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f || id < 0)
		return SVIPC_NS_NONE;
	struct ns_entry *e = &f->t[type].e[SVIPC_ID_IDX(id)];
	uint32_t st = LOAD(&e->state);
	if ((LOAD_RELAXED(&e->seq) & SVIPC_SEQ_MAX) != SVIPC_ID_SEQ(id))
		return SVIPC_NS_NONE;
	return st == ENT_LIVE ? SVIPC_NS_LIVE
	       : st == ENT_DEST || st == ENT_REMOVING ? SVIPC_NS_DEST : SVIPC_NS_NONE;
}

int svipc__ns_usage(enum svipc_type type, int *maxidx, int *in_use)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	struct ns_table *tb = &f->t[type];
	int hi = -1, n = 0;
	uint32_t lim = MIN(LOAD(&tb->hiwater), SVIPC_IDX_MAX);
	for (uint32_t i = 0; i < lim; i++)
		if (entry_exists(LOAD(&tb->e[i].state))) {
			hi = (int)i;
			n++;
		}
	*maxidx = hi;
	*in_use = n;
	return 0;
}

int svipc__ns_lim(const struct svipc_ns_limits **out)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	*out = &f->lim;
	return 0;
}

int svipc__ns_limits(struct svipc_ns_limits *out)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	memcpy(out, &f->lim, sizeof *out);
	return 0;
}

/* ---- public limit calls ---------------------------------------------------- */

_Static_assert(sizeof(struct svipc_limits) == sizeof(struct svipc_ns_limits),
	       "public and stored limits have the same layout");

SVIPC_EXPORT int svipc_limits_get(struct svipc_limits *limits)
{
	struct svipc_ns_limits l;
	int r = svipc__ns_limits(&l);
	if (r < 0)
		return (int)svipc__ret(r);
	memcpy(limits, &l, sizeof l);
	memset(limits->reserved, 0, sizeof limits->reserved);
	return 0;
}

SVIPC_EXPORT int svipc_limits_set(const struct svipc_limits *limits)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return (int)svipc__ret(r);
	struct stat st;
	int dfd = ns_dirfd_checked();
	if (dfd < 0)
		return (int)svipc__ret(dfd);
	if (fstat(dfd, &st) < 0)
		return (int)svipc__ret(-errno);
	if (geteuid() != 0 && geteuid() != st.st_uid)
		return (int)svipc__ret(-EPERM);
	if (limits->msgmni > SVIPC_IDX_MAX || limits->shmmni > SVIPC_IDX_MAX ||
	    limits->semmni > SVIPC_IDX_MAX || limits->msgmax > INT32_MAX ||
	    limits->msgmnb > INT32_MAX)
		return (int)svipc__ret(-EINVAL);
	r = ns_lock(f);
	if (r < 0)
		return (int)svipc__ret(r);
	const uint64_t *src = &limits->msgmax;
	uint64_t *dst = &f->lim.msgmax;
	for (int i = 0; i < 10; i++)
		if (src[i])
			STORE_RELAXED(&dst[i], src[i]);
	ns_unlock(f);
	return 0;
}

/* ---- svipcadm check and purge ------------------------------------------------------ */

static const char *const scrub_names[SVIPC_NTYPES] = { "message queue", "shared memory segment",
						      "semaphore set" };

static void count_alive(void *arg, const struct svipc_waiter_info *w)
{
	*(int *)arg += w->alive;
}

/* Live users (attachments) of a removed object, read without changing it. */
static int dest_users(const struct svipc_type_ops *ops, int id)
{
	struct svipc_ref ref;
	struct svipc_obj_info info;
	int n = 0;
	if (!ops->remove_lingers || !ops->inspect ||
	    svipc__obj_get(ns_dirfd_checked, ops->type, ops->magic, id, &ref) < 0)
		return 0;
	ops->inspect(&ref, &info, count_alive, &n);
	svipc__obj_put(&ref);
	return n;
}

/*
 * Purge holds the namespace lock: it must not then wait, unbounded, for the
 * lock of an object that a stopped process holds (everyone's msgget,
 * shmget, semget and IPC_RMID would wait with it). 0 if the object's lock
 * is free or its holder dead; else the pid of the live holder.
 */
static pid_t held_by_live(const struct svipc_type_ops *ops, int id)
{
	struct svipc_ref ref;
	pid_t pid = 0;
	if (svipc__obj_get(ns_dirfd_checked, ops->type, ops->magic, id, &ref) < 0)
		return 0;
	long r = svipc__lock_settle(&ref.obj->lock, 1000000000LL, &pid);
	svipc__obj_put(&ref);
	return r == -ETIMEDOUT ? (pid ? pid : -1) : 0;
}

/*
 * The key table against the directory. Called with the namespace lock held.
 * Problems: an entry without a valid file, counters that disagree with the
 * entries. Notes (purge's work): removed objects nobody uses any more,
 * files no entry names, temporary files of dead creators.
 */
static void scrub_locked(struct ns_file *f, int dfd, int how, struct svipc_report *rep)
{
	int fix = (how & SVIPC_SCRUB_REPAIR) && !(how & SVIPC_SCRUB_DRY_RUN);
	int purge = (how & SVIPC_SCRUB_PURGE) && !(how & SVIPC_SCRUB_DRY_RUN);
	const char *gone = purge ? "freed" : "can be freed (svipcadm purge)";
	for (int t = 0; t < SVIPC_NTYPES; t++) {
		struct ns_table *tb = &f->t[t];
		uint32_t in_use = 0, hi = 0;
		for (uint32_t i = 0; i < SVIPC_IDX_MAX; i++) {
			struct ns_entry *e = &tb->e[i];
			uint32_t st = LOAD(&e->state);
			int id = SVIPC_MKID(e->seq & SVIPC_SEQ_MAX, i);
			if (st == ENT_FREE)
				continue;
			if (st == ENT_REMOVING)
				st = ENT_DEST; /* written by older versions: the same */
			if (!entry_exists(st)) {
				svipc__report(rep, SVIPC_PROBLEM, "%s %d: entry left in state %u by a dead creator%s",
					      scrub_names[t], id, st, fix ? " (discarded)" : "");
				if (fix) {
					entry_unlink(t, id);
					e->key = IPC_PRIVATE;
					STORE(&e->state, ENT_FREE);
				}
				continue;
			}
			if (st == ENT_DEST) {
				int users = dest_users(all_ops[t], id);
				pid_t holder = users || !purge ? 0 : held_by_live(all_ops[t], id);
				if (users) {
					svipc__report(rep, SVIPC_NOTE, "%s %d: removed (IPC_RMID), still "
						      "attached %d time(s): goes at the last detach",
						      scrub_names[t], id, users);
				} else if (holder) {
					svipc__report(rep, SVIPC_PROBLEM, "%s %d: removed and unused, but its lock "
						      "stays with live process %d (stopped?): not freed",
						      scrub_names[t], id, (int)holder);
				} else if (purge && !reap_locked(f, all_ops[t], id)) {
					svipc__report(rep, SVIPC_CLEANUP, "%s %d: removed and unused: freed",
						      scrub_names[t], id);
					continue;
				} else if (!purge) {
					svipc__report(rep, SVIPC_CLEANUP, "%s %d: removed and unused: %s",
						      scrub_names[t], id, gone);
				}
			}
			in_use++;
			hi = i + 1;
			struct svipc_ref ref;
			int r = svipc__obj_get(ns_dirfd_checked, t, all_ops[t]->magic, id, &ref);
			if (r < 0) {
				svipc__report(rep, SVIPC_PROBLEM, "%s %d: its file is missing or invalid (%s)", scrub_names[t],
					      id, strerror(-r));
				continue;
			}
			if (st == ENT_LIVE && LOAD_RELAXED(&ref.obj->perm.key) != LOAD_RELAXED(&e->key))
				svipc__report(rep, SVIPC_PROBLEM, "%s %d: key 0x%08x in the table, 0x%08x in the object",
					      scrub_names[t], id, (unsigned)e->key,
					      (unsigned)ref.obj->perm.key);
			svipc__obj_put(&ref);
		}
		if (tb->in_use != in_use || tb->hiwater < hi || tb->hiwater > SVIPC_IDX_MAX) {
			svipc__report(rep, purge ? SVIPC_CLEANUP : SVIPC_PROBLEM, "%s table: counts %u in use below %u, entries say %u below %u%s",
				      scrub_names[t], tb->in_use, tb->hiwater, in_use, hi,
				      fix || purge ? " (corrected)" : "");
			if (fix || purge) {
				tb->in_use = in_use;
				tb->hiwater = hi;
			}
		}
		char why[64];
		if (ix_verify(f, t, why, sizeof why)) {
			svipc__report(rep, SVIPC_PROBLEM, "%s key index: disagrees with the table (%s)%s",
				      scrub_names[t], why, fix ? " (rebuilt)" : "");
			if (fix)
				ix_build(f, t);
		} else if ((fix || purge) && !ix_current(f, t)) {
			ix_build(f, t); /* not built, or behind the table: the next lookup would */
		}
	}
	/* The directory: files nobody names. */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		svipc__report(rep, SVIPC_PROBLEM, "cannot read the namespace directory (%s)", strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "ns") || !strcmp(n, "procs"))
			continue;
		if (!strncmp(n, ".tmp.", 5)) {
			uint32_t token = (uint32_t)strtoul(n + 5, NULL, 16);
			if (svipc__proc_alive(token))
				continue;
			svipc__report(rep, SVIPC_CLEANUP, "%s: temporary file of a creator that died: %s", n, gone);
			if (purge)
				unlinkat(dfd, n, 0);
			continue;
		}
		int t, id, len = 0;
		char tn[4];
		if (sscanf(n, "%3[a-z].%d%n", tn, &id, &len) != 2 || n[len] || id < 0) {
			svipc__report(rep, SVIPC_NOTE, "%s: not an svipc file (left alone)", n);
			continue;
		}
		for (t = 0; t < SVIPC_NTYPES; t++) {
			char want[32];
			svipc__obj_name(want, sizeof want, t, id);
			if (!strcmp(want, n))
				break;
		}
		if (t == SVIPC_NTYPES) {
			svipc__report(rep, SVIPC_NOTE, "%s: not an svipc file (left alone)", n);
			continue;
		}
		struct ns_entry *e = &f->t[t].e[SVIPC_ID_IDX(id)];
		if (entry_exists(LOAD(&e->state)) && (e->seq & SVIPC_SEQ_MAX) == SVIPC_ID_SEQ(id))
			continue;
		svipc__report(rep, SVIPC_CLEANUP, "%s: file of no %s (an interrupted removal): %s", n,
			      scrub_names[t], gone);
		if (purge)
			unlinkat(dfd, n, 0);
	}
	closedir(d);
}

int svipc__ns_scrub(int how, struct svipc_report *rep)
{
	int r;
	struct ns_file *f = ns_file(&r);
	if (!f)
		return r;
	int dfd = ns_dirfd_checked();
	if (dfd < 0)
		return dfd;
	pid_t pid = 0;
	long owner = svipc__lock_settle(&f->lock, 3000000000LL, &pid);
	if (owner == -ETIMEDOUT) {
		svipc__report(rep, SVIPC_PROBLEM, "the namespace lock has been held by live process %d for over 3 s "
			      "(stopped?): not checked", (int)pid);
		return 0;
	}
	if (owner > 0) {
		pid = svipc__proc_token_pid((uint32_t)owner);
		if (!(how & (SVIPC_SCRUB_REPAIR | SVIPC_SCRUB_PURGE)) || (how & SVIPC_SCRUB_DRY_RUN)) {
			svipc__report(rep, SVIPC_PROBLEM, "the namespace lock is held by process %d, which died: "
				      "recovery pending (the next msgget/shmget/semget or IPC_RMID runs it)",
				      (int)pid);
			return 0;
		}
		svipc__report(rep, SVIPC_NOTE, "the namespace lock was held by process %d, which died: recovered",
			      (int)pid);
	}
	r = ns_lock(f);
	if (r < 0)
		return r;
	scrub_locked(f, dfd, how, rep);
	ns_unlock(f);
	return 0;
}

/* region.c - object files: atomic creation, validated mapping, per-process cache. */
#include "region.h"
#include "internal.h"
#include "proc.h"

#include <dirent.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const type_names[SVIPC_NTYPES] = { "msg", "shm", "sem" };

int svipc__open_error(int e)
{
	switch (e) {
	case ENOENT:
		return -EINVAL; /* no such object */
	case ELOOP: /* a symlink, */
	case EISDIR: /* a directory, */
	case ENXIO: /* a socket or a device */
	case ENODEV:
	case ETXTBSY:
	case EWOULDBLOCK:
		return -EIDRM; /* ... where an object file should be: not a valid object */
	default:
		return -e;
	}
}

void svipc__obj_name(char *buf, size_t len, enum svipc_type type, int id)
{
	snprintf(buf, len, "%s.%d", type_names[type], id);
}

/*
 * Temporary files carry their maker's process token, so that whoever
 * recovers after a death can tell a dead maker's leftovers from a live
 * maker's work in progress (svipc__tmp_cleanup).
 */
static void tmp_name(char *buf, size_t len)
{
	snprintf(buf, len, ".tmp.%08x.%llx", svipc__proc_token(),
		 (unsigned long long)svipc__mono_ns());
}

void svipc__tmp_cleanup(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, ".tmp.", 5) != 0)
			continue;
		uint32_t token = (uint32_t)strtoul(e->d_name + 5, NULL, 16);
		if (!svipc__proc_alive(token))
			unlinkat(dirfd, e->d_name, 0);
	}
	closedir(d);
}

int svipc__fault_countdown;

int svipc__populate(void *addr, size_t len)
{
	static long ps;
	if (!len)
		return 0;
	/* Fault injection (tests): the Nth call from when it was set fails. */
	if (LOAD_RELAXED(&svipc__fault_countdown) > 0 &&
	    __atomic_sub_fetch(&svipc__fault_countdown, 1, __ATOMIC_RELAXED) == 0)
		return -ENOMEM;
	if (!LOAD_RELAXED(&ps))
		STORE_RELAXED(&ps, sysconf(_SC_PAGESIZE));
	uintptr_t mask = (uintptr_t)LOAD_RELAXED(&ps) - 1;
	uintptr_t a = (uintptr_t)addr & ~mask, e = ((uintptr_t)addr + len + mask) & ~mask;
	if (madvise((void *)a, e - a, MADV_POPULATE_WRITE) == 0)
		return 0;
	/* EINVAL: a kernel before 5.14, which cannot say; the pages are then
	 * touched as before, and a full filesystem still means SIGBUS. */
	return errno == EINVAL ? 0 : -ENOMEM;
}

static int file_fill(int fd, size_t size, uint64_t file_size, mode_t mode,
		     int (*init)(void *, size_t, void *), void *arg, struct svipc_mapped *keep)
{
	if (fchmod(fd, mode) < 0)
		return -errno;
	if (file_size < size || file_size > (uint64_t)INT64_MAX)
		return -EFBIG;
	/* posix_fallocate would commit the whole size; objects grow with use. */
	if (ftruncate(fd, (off_t)file_size) < 0)
		return -errno;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	/* The header is written first: on a full filesystem, fail here, not with SIGBUS. */
	int r = svipc__populate(m, MIN(size, 4096));
	if (r == 0)
		r = init(m, size, arg);
	struct stat st;
	if (r == 0 && keep && fstat(fd, &st) == 0) {
		*keep = (struct svipc_mapped){ m, size, st.st_dev, st.st_ino, (uint64_t)st.st_size };
		return 0;
	}
	munmap(m, size);
	return r;
}

static void mapped_drop(struct svipc_mapped *keep)
{
	if (keep && keep->base) {
		munmap(keep->base, keep->size);
		keep->base = NULL;
	}
}

int svipc__file_create(int dirfd, const char *name, size_t size, uint64_t file_size,
		       mode_t mode, int (*init)(void *base, size_t size, void *arg), void *arg,
		       struct svipc_mapped *keep)
{
	int r;
	if (keep)
		keep->base = NULL;
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		r = file_fill(fd, size, file_size ? file_size : size, mode, init, arg, keep);
		if (r == 0) {
			/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does not. */
			char path[64];
			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
				r = 0;
			else if (errno != EPERM && errno != ENOENT && errno != EINVAL)
				r = -errno;
			else if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
			else
				r = 0;
			if (r < 0)
				mapped_drop(keep);
			if (r == -ENOENT)
				goto fallback; /* no /proc: use a temporary name */
		}
		close(fd);
		return r;
	}
fallback:
	if (fd >= 0)
		close(fd);
	char tmp[64];
	tmp_name(tmp, sizeof tmp);
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = file_fill(fd, size, file_size ? file_size : size, mode, init, arg, keep);
	if (r == 0 && linkat(dirfd, tmp, dirfd, name, 0) < 0) {
		r = -errno;
		mapped_drop(keep);
	}
	unlinkat(dirfd, tmp, 0);
	close(fd);
	return r;
}

int svipc__file_replace(int dirfd, const char *name, size_t size, mode_t mode,
			int (*init)(void *base, size_t size, void *arg),
			void (*commit)(void *arg, int ok), void *arg)
{
	char tmp[64];
	tmp_name(tmp, sizeof tmp);
	int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = file_fill(fd, size, size, mode, init, arg, NULL);
	close(fd);
	if (r == 0) {
		commit(arg, 1);
		if (renameat(dirfd, tmp, dirfd, name) < 0) {
			r = -errno;
			commit(arg, 0);
		}
	}
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

long svipc__obj_name_gen(int dirfd, enum svipc_type type, int id)
{
	char name[32];
	struct svipc_obj o;
	svipc__obj_name(name, sizeof name, type, id);
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, &o, sizeof o, 0);
	close(fd);
	if (n != (ssize_t)sizeof o || o.id != id)
		return -EIDRM;
	return o.gen;
}

/*
 * The per-process cache of mapped objects, one entry per (type, index).
 * A call pins an entry by incrementing `users`, then checks `id`; a thread
 * replacing the mapping first sets id to -1 and then checks users == 0.
 * Both sides use sequentially consistent atomics, so either the reader sees
 * -1 and backs off, or the replacer sees the reader and leaves the mapping
 * alone (and uses a temporary one). A mapping is never unmapped under a
 * thread that uses it.
 */
struct cache_entry {
	uint32_t users;
	/*
	 * id + 1 of the object mapped, 0 if none: a new table is all zeros,
	 * so its pages take memory only as entries are used (32768 entries
	 * of each type: writing -1 to every one cost 6 MiB per type).
	 */
	uint32_t tag;
	void *base;
	size_t size;
	dev_t dev;
	ino_t ino;
	uint64_t file_size;
	uint32_t view_ok;
	uint64_t view[SVIPC_VIEW_SIZE / 8];
};

static struct cache_entry *cache[SVIPC_NTYPES];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

void svipc__cache_atfork(enum svipc_fork_phase phase)
{
	if (phase == SVIPC_FORK_PREPARE)
		pthread_mutex_lock(&cache_mu);
	else
		pthread_mutex_unlock(&cache_mu);
}

static struct cache_entry *cache_table(enum svipc_type type)
{
	struct cache_entry *t = LOAD(&cache[type]);
	if (t)
		return t;
	pthread_mutex_lock(&cache_mu);
	t = cache[type];
	if (!t) {
		t = calloc(SVIPC_IDX_MAX, sizeof *t);
		if (t)
			STORE(&cache[type], t);
	}
	pthread_mutex_unlock(&cache_mu);
	return t;
}

static int obj_map(int dirfd, enum svipc_type type, uint32_t magic, int id,
		   void **basep, size_t *sizep, struct svipc_mapped *id_out)
{
	char name[32];
	svipc__obj_name(name, sizeof name, type, id);
	/* O_NONBLOCK: a FIFO put in an object's place must not block the open. */
	int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return svipc__open_error(errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/*
	 * Map what the header says is the object's own part: the whole file
	 * for queues and sets; for a segment, its metadata (the data is
	 * mapped by shmat, as the program asks).
	 */
	struct svipc_obj h;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof h ||
	    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.size < sizeof h ||
	    h.size > (uint64_t)st.st_size || h.size > (1ull << 46)) {
		close(fd);
		return -EIDRM;
	}
	size_t size = (size_t)h.size;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	struct svipc_obj *o = m;
	if (LOAD(&o->magic) != magic || LOAD(&o->size) != size || LOAD(&o->id) != id) {
		munmap(m, size);
		return -EIDRM;
	}
	*basep = m;
	*sizep = size;
	*id_out = (struct svipc_mapped){ m, size, st.st_dev, st.st_ino, (uint64_t)st.st_size };
	return 0;
}

static int cache_try(struct cache_entry *e, int id, struct svipc_ref *ref)
{
	__atomic_fetch_add(&e->users, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&e->tag, __ATOMIC_SEQ_CST) == (uint32_t)id + 1 &&
	    LOAD(&((struct svipc_obj *)e->base)->removed) != SVIPC_OBJ_MOVED) {
		ref->obj = e->base;
		ref->size = e->size;
		ref->dev = e->dev;
		ref->ino = e->ino;
		ref->file_size = e->file_size;
		ref->entry = e;
		ref->view = e->view;
		ref->view_ok = &e->view_ok;
		return 1;
	}
	__atomic_fetch_sub(&e->users, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/*
 * Called with cache_mu held. Unmaps entry e if no thread uses it; returns 1
 * if the entry is now empty.
 */
static int cache_evict(struct cache_entry *e)
{
	uint32_t old = e->tag;
	__atomic_store_n(&e->tag, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&e->users, __ATOMIC_SEQ_CST) != 0) {
		__atomic_store_n(&e->tag, old, __ATOMIC_SEQ_CST);
		return 0;
	}
	if (e->base)
		munmap(e->base, e->size);
	e->base = NULL;
	e->size = 0;
	return 1;
}

int svipc__obj_get(int (*dirfd)(void), enum svipc_type type, uint32_t magic, int id,
		   struct svipc_ref *ref)
{
	if (id < 0)
		return -EINVAL;
	struct cache_entry *t = cache_table(type);
	struct cache_entry *e = t ? &t[SVIPC_ID_IDX(id)] : NULL;
	if (e && cache_try(e, id, ref))
		return 0;
	void *m = NULL;
	size_t size = 0;
	struct svipc_mapped mi = { 0 };
	int dfd = dirfd();
	if (dfd < 0)
		return dfd;
	int r = obj_map(dfd, type, magic, id, &m, &size, &mi);
	if (r < 0)
		return r;
	if (e) {
		pthread_mutex_lock(&cache_mu);
		if (cache_try(e, id, ref)) {
			/* Another thread installed it meanwhile. */
			pthread_mutex_unlock(&cache_mu);
			munmap(m, size);
			return 0;
		}
		if (cache_evict(e)) {
			e->base = m;
			e->size = size;
			e->dev = mi.dev;
			e->ino = mi.ino;
			e->file_size = mi.file_size;
			e->view_ok = 0;
			/* An add, not a store: a reader's pin taken meanwhile must stay counted. */
			__atomic_fetch_add(&e->users, 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&e->tag, (uint32_t)id + 1, __ATOMIC_SEQ_CST);
			pthread_mutex_unlock(&cache_mu);
			ref->obj = m;
			ref->size = size;
			ref->dev = mi.dev;
			ref->ino = mi.ino;
			ref->file_size = mi.file_size;
			ref->entry = e;
			ref->view = e->view;
			ref->view_ok = &e->view_ok;
			return 0;
		}
		pthread_mutex_unlock(&cache_mu);
	}
	ref->obj = m;
	ref->size = size;
	ref->dev = mi.dev;
	ref->ino = mi.ino;
	ref->file_size = mi.file_size;
	ref->entry = NULL;
	ref->view = NULL;
	ref->view_ok = NULL;
	return 0;
}

void svipc__obj_put(struct svipc_ref *ref)
{
	if (ref->entry)
		__atomic_fetch_sub(&((struct cache_entry *)ref->entry)->users, 1, __ATOMIC_SEQ_CST);
	else if (ref->obj)
		munmap(ref->obj, ref->size);
	ref->obj = NULL;
	ref->entry = NULL;
}

void svipc__obj_put_removed(struct svipc_ref *ref, enum svipc_type type, int id)
{
	int removed = LOAD(&ref->obj->removed);
	svipc__obj_put(ref);
	if (removed)
		svipc__obj_forget(type, id);
}

void svipc__obj_install(enum svipc_type type, int id, struct svipc_mapped *m)
{
	struct cache_entry *t = cache_table(type);
	struct cache_entry *e = t && id >= 0 ? &t[SVIPC_ID_IDX(id)] : NULL;
	if (!m->base)
		return;
	pthread_mutex_lock(&cache_mu);
	if (e && cache_evict(e)) {
		e->base = m->base;
		e->size = m->size;
		e->dev = m->dev;
		e->ino = m->ino;
		e->file_size = m->file_size;
		e->view_ok = 0;
		__atomic_store_n(&e->tag, (uint32_t)id + 1, __ATOMIC_SEQ_CST);
	} else {
		munmap(m->base, m->size);
	}
	pthread_mutex_unlock(&cache_mu);
	m->base = NULL;
}

void svipc__obj_forget(enum svipc_type type, int id)
{
	struct cache_entry *t = LOAD(&cache[type]);
	if (!t || id < 0)
		return;
	struct cache_entry *e = &t[SVIPC_ID_IDX(id)];
	pthread_mutex_lock(&cache_mu);
	if (__atomic_load_n(&e->tag, __ATOMIC_SEQ_CST) == (uint32_t)id + 1)
		cache_evict(e);
	pthread_mutex_unlock(&cache_mu);
}

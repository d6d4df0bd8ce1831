/* proc.c - the register of live processes: one OFD lock byte per process. */
#include "proc.h"
#include "region.h"
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Each process takes a write OFD lock on byte `slot` of the file "procs" in
 * the namespace, through a descriptor of its own opened O_CLOEXEC and never
 * mmapped: the kernel drops the lock when the process dies or execs, and
 * F_OFD_GETLK lets anyone ask. Beside the lock byte the file holds
 * {generation, pid} so that a reused slot is never mistaken for its old
 * owner. The mapping is made from a different open file description than
 * the lock, so a forked child that inherits the mapping does not keep the
 * parent's lock alive; the child closes the inherited lock descriptor.
 */

#define PROC_MAGIC 0x53565052u /* "SVPR" */
#define PROC_VERSION 1u

struct proc_entry {
	uint32_t gen;
	int32_t pid;
	int64_t since; /* registration time, seconds since the epoch */
};

struct proc_file {
	uint32_t magic;
	uint32_t version;
	uint32_t hint; /* where the next registration starts looking */
	uint32_t pad;
	struct proc_entry e[SVIPC_PROC_SLOTS];
};

_Static_assert(sizeof(struct proc_entry) == 16, "proc_entry is an ABI");

static struct {
	pthread_mutex_t mu;
	int (*get_dirfd)(void);
	dev_t dev; /* the register file, to recognise our lock descriptor */
	ino_t ino;
	struct proc_file *map;
	int lock_fd;
	uint32_t slot;
	uint32_t token; /* 0: not registered in this process (yet, or since fork) */
	pid_t pid;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .lock_fd = -1 };

void svipc__proc_atfork(enum svipc_fork_phase phase)
{
	if (phase == SVIPC_FORK_PREPARE) {
		pthread_mutex_lock(&P.mu);
		return;
	}
	if (phase == SVIPC_FORK_CHILD) {
		/* The inherited descriptor shares the parent's lock: let go of it. */
		if (P.lock_fd >= 0)
			close(P.lock_fd);
		P.lock_fd = -1;
		STORE_RELAXED(&P.token, 0); /* read without the mutex by svipc__proc_token */
		STORE_RELAXED(&P.pid, 0);
	}
	pthread_mutex_unlock(&P.mu);
}

int svipc__proc_init(int dirfd, int (*get_dirfd)(void))
{
	int r = 0;
	pthread_mutex_lock(&P.mu);
	if (P.map)
		goto out;
	int fd = openat(dirfd, "procs", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	struct stat st;
	/*
	 * A hard link (st_nlink > 1) is someone else's file put here: we would
	 * chmod, extend and write it.
	 */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		r = fd >= 0 ? -EINVAL : -errno;
		close(fd);
		goto out;
	}
	if (st.st_uid == geteuid())
		fchmod(fd, 0666); /* every user of the namespace registers here */
	if ((size_t)st.st_size < sizeof(struct proc_file) &&
	    ftruncate(fd, sizeof(struct proc_file)) < 0) {
		r = -errno;
		close(fd);
		goto out;
	}
	void *m = mmap(NULL, sizeof(struct proc_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	if (svipc__populate(m, 4096) < 0) { /* the header: before it is written */
		munmap(m, sizeof(struct proc_file));
		r = -ENOMEM;
		goto out;
	}
	P.map = m;
	uint32_t zero = 0;
	CAS(&P.map->magic, &zero, PROC_MAGIC);
	if (LOAD(&P.map->magic) != PROC_MAGIC) {
		munmap(m, sizeof(struct proc_file));
		P.map = NULL;
		r = -EINVAL;
		goto out;
	}
	STORE_RELAXED(&P.map->version, PROC_VERSION);
	STORE(&P.get_dirfd, get_dirfd); /* read without the mutex by svipc__proc_token */
	P.dev = st.st_dev;
	P.ino = st.st_ino;
out:
	pthread_mutex_unlock(&P.mu);
	return r;
}

/* Called with P.mu held; dfd was looked up before (lock order: ns, then P.mu). */
static int proc_register(int dfd)
{
	if (!P.map)
		return -EINVAL;
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, "procs", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint32_t start = LOAD_RELAXED(&P.map->hint) % SVIPC_PROC_SLOTS;
	for (uint32_t n = 0; n < SVIPC_PROC_SLOTS; n++) {
		uint32_t slot = (start + n) % SVIPC_PROC_SLOTS;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				    .l_start = slot, .l_len = 1 };
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			if (errno == EAGAIN || errno == EACCES)
				continue;
			int e = -errno;
			close(fd);
			return e;
		}
		struct proc_entry *e = &P.map->e[slot];
		if (svipc__populate(e, sizeof *e) < 0) { /* a full filesystem: no SIGBUS */
			close(fd);
			return -ENOMEM;
		}
		/* The new generation is published before anyone can see our token. */
		uint32_t gen = (LOAD(&e->gen) + 1) & SVIPC_TOKEN_GEN_MASK;
		STORE(&e->gen, gen);
		pid_t pid = getpid();
		STORE_RELAXED(&P.pid, pid); /* atomic: a fork child's handler clears it */
		STORE(&e->pid, pid);
		STORE_RELAXED(&e->since, svipc__real_sec());
		STORE_RELAXED(&P.map->hint, slot + 1);
		P.lock_fd = fd;
		P.slot = slot;
		STORE(&P.token, (gen << 16) | (slot + 1));
		return 0;
	}
	close(fd);
	return -ENOSPC;
}

void svipc__proc_check(void)
{
	if (!LOAD(&P.token))
		return;
	pthread_mutex_lock(&P.mu);
	struct stat st;
	if (P.token && (fstat(P.lock_fd, &st) < 0 || st.st_dev != P.dev || st.st_ino != P.ino)) {
		/* Our lock went with the descriptor; the number may be the program's now. */
		P.lock_fd = -1;
		STORE_RELAXED(&P.token, 0);
	}
	pthread_mutex_unlock(&P.mu);
}

uint32_t svipc__proc_token(void)
{
	uint32_t t = LOAD(&P.token);
	if (t)
		return t;
	int (*get_dirfd)(void) = LOAD(&P.get_dirfd);
	int dfd = get_dirfd ? get_dirfd() : -EINVAL;
	pthread_mutex_lock(&P.mu);
	if (!P.token)
		proc_register(dfd);
	t = P.token;
	pthread_mutex_unlock(&P.mu);
	return t;
}

pid_t svipc__proc_pid(void)
{
	if (!LOAD(&P.token))
		svipc__proc_token();
	pid_t pid = LOAD_RELAXED(&P.pid);
	return pid ? pid : getpid();
}

int svipc__proc_alive(uint32_t token)
{
	uint32_t slot = (token & 0xffffu);
	if (slot == 0 || slot > SVIPC_PROC_SLOTS || !P.map)
		return 0;
	slot--;
	if (token == svipc__proc_token())
		return 1; /* our own lock; GETLK cannot see it through our descriptor */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1 };
	if (P.lock_fd < 0 || fcntl(P.lock_fd, F_OFD_GETLK, &fl) < 0)
		return 1; /* cannot tell: never declare a live process dead */
	if (fl.l_type == F_UNLCK)
		return 0;
	return (LOAD(&P.map->e[slot].gen) & SVIPC_TOKEN_GEN_MASK) == ((token >> 16) & SVIPC_TOKEN_GEN_MASK);
}

pid_t svipc__proc_token_pid(uint32_t token)
{
	uint32_t slot = token & 0xffffu;
	if (slot == 0 || slot > SVIPC_PROC_SLOTS || !P.map)
		return 0;
	return LOAD(&P.map->e[slot - 1].pid);
}

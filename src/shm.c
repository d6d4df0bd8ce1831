/* shm.c - System V shared memory segments: shmget, shmat, shmdt, shmctl. */
#include "shm.h"
#include "inspect.h"
#include "internal.h"
#include "lock.h"
#include "ns.h"
#include "proc.h"
#include "svipc.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
#define SHM_HUGE_LOG_MASK 0x3fu

static uint64_t page_size(void)
{
	static uint64_t ps;
	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);
		ps = v > 0 ? (uint64_t)v : 4096;
	}
	return ps;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---- creation: the kernel's checks, in the kernel's order ------------------- */

struct shm_params {
	uint64_t size;
	int flg;
};

static uint64_t read_u64_file(const char *path, uint64_t dflt)
{
	uint64_t v;
	return svipc__read_proc_u64(path, &v) == 0 ? v : dflt;
}

/* "Name:   123 kB" from /proc/meminfo, in bytes; 0 if absent. */
static uint64_t meminfo(const char *name)
{
	char buf[8192];
	if (svipc__read_small_file("/proc/meminfo", buf, sizeof buf) < 0)
		return 0;
	size_t n = strlen(name);
	for (char *line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			return strtoull(line + n + 1, NULL, 10) * 1024;
	return 0;
}

/*
 * The huge page size SHM_HUGETLB asks for: the default one, or the one
 * encoded in the flags (log2 << SHM_HUGE_SHIFT). 0 if this machine has no
 * such size (the kernel says EINVAL then).
 */
static uint64_t huge_size(int flg)
{
	unsigned lg = ((unsigned)flg >> SHM_HUGE_SHIFT) & SHM_HUGE_LOG_MASK;
	if (lg == 0)
		return meminfo("Hugepagesize");
	if (lg < 12 || lg > 40)
		return 0;
	char path[96];
	snprintf(path, sizeof path, "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)((1ull << lg) >> 10));
	return access(path, F_OK) == 0 ? 1ull << lg : 0;
}

static uint64_t huge_pages_available(uint64_t hsz)
{
	char base[96], path[128];
	snprintf(base, sizeof base, "/sys/kernel/mm/hugepages/hugepages-%llukB",
		 (unsigned long long)(hsz >> 10));
	snprintf(path, sizeof path, "%s/free_hugepages", base);
	uint64_t freep = read_u64_file(path, 0);
	snprintf(path, sizeof path, "%s/resv_hugepages", base);
	uint64_t resv = read_u64_file(path, 0);
	return freep > resv ? freep - resv : 0;
}

/*
 * vm.overcommit_memory and RAM + swap, read again at most once a second:
 * they seldom change, and shmget should not cost four system calls more.
 */
static uint64_t overcommit_mode(uint64_t *ram_swap)
{
	static int64_t when;
	static uint64_t mode, total;
	int64_t now = svipc__mono_ns();
	if (!LOAD_RELAXED(&when) || now - LOAD_RELAXED(&when) > 1000000000) {
		struct sysinfo si;
		uint64_t t = UINT64_MAX;
		if (sysinfo(&si) == 0) {
			uint64_t unit = si.mem_unit ? si.mem_unit : 1;
			t = ((uint64_t)si.totalram + (uint64_t)si.totalswap) * unit;
		}
		STORE_RELAXED(&total, t);
		STORE_RELAXED(&mode, read_u64_file("/proc/sys/vm/overcommit_memory", 0));
		STORE_RELAXED(&when, now);
	}
	*ram_swap = LOAD_RELAXED(&total);
	return LOAD_RELAXED(&mode);
}

/* The kernel's __vm_enough_memory() for `bytes` more of committed memory. */
static int enough_memory(uint64_t mode, uint64_t ram_swap, uint64_t bytes)
{
	if (mode == 1)
		return 1;
	if (mode == 2) {
		uint64_t limit = meminfo("CommitLimit"), used = meminfo("Committed_AS");
		return used + bytes >= used && used + bytes <= limit;
	}
	return bytes <= ram_swap;
}

static int shm_check_new(const struct svipc_ns_limits *lim, const void *params)
{
	const struct shm_params *p = params;
	if (p->size < 1 || p->size > lim->shmmax)
		return -EINVAL;
	if (round_up(p->size, page_size()) < p->size)
		return -ENOSPC;
	return 0;
}

static uint64_t shm_units(const void *params)
{
	const struct shm_params *p = params;
	return round_up(p->size, page_size()) / page_size();
}

static uint64_t shm_max_units(const struct svipc_ns_limits *lim)
{
	return lim->shmall;
}

/*
 * What the kernel checks once the counts are fine: a huge page size that
 * exists, and memory it would commit. svipc's files are sparse, so nothing
 * is reserved; the answers are the kernel's so that programs see the same.
 */
static int shm_admit(const struct svipc_ns_limits *lim, const void *params)
{
	(void)lim;
	const struct shm_params *p = params;
	uint64_t ram_swap, mode = overcommit_mode(&ram_swap);
	if (p->size > (uint64_t)INT64_MAX)
		return -EINVAL; /* no file is that long (the kernel's MAX_LFS_FILESIZE) */
	if (p->flg & SHM_HUGETLB) {
		uint64_t hsz = huge_size(p->flg);
		if (!hsz)
			return -EINVAL;
		uint64_t len = round_up(p->size, hsz);
		if (len < p->size)
			return -ENOSPC;
		/* Only CAP_IPC_LOCK or membership of vm.hugetlb_shm_group allow it. */
		if (!svipc__capable(CAP_IPC_LOCK) &&
		    !svipc__in_group((gid_t)read_u64_file("/proc/sys/vm/hugetlb_shm_group", 0)))
			return -EPERM;
		if (!(p->flg & SHM_NORESERVE) && len / hsz > huge_pages_available(hsz))
			return -ENOMEM;
		return 0;
	}
	if ((!(p->flg & SHM_NORESERVE) || mode == 2) && !enough_memory(mode, ram_swap, p->size))
		return -ENOMEM;
	/*
	 * The namespace's filesystem must hold the data (a 64 MiB /dev/shm in
	 * a container would otherwise turn into SIGBUS at first touch). Only a
	 * check at creation: SHM_NORESERVE skips it, as it skips the kernel's.
	 */
	struct statvfs sv;
	int dfd = svipc__ns_dirfd_unchecked();
	if (!(p->flg & SHM_NORESERVE) && dfd >= 0 && fstatvfs(dfd, &sv) == 0 && sv.f_blocks &&
	    p->size / (sv.f_frsize ? sv.f_frsize : 1) > (uint64_t)sv.f_bavail)
		return -ENOMEM;
	return 0;
}

struct geom {
	uint64_t segsz, data_off, map_len, align;
	uint32_t flags, nslots;
};

static void new_geom(const struct shm_params *p, struct geom *g)
{
	uint64_t meta = round_up(SHM_SLOT_OFF + (uint64_t)SHM_NSLOTS * sizeof(struct shm_slot),
				 page_size());
	g->segsz = p->size;
	g->flags = 0;
	g->align = page_size();
	if (p->flg & SHM_HUGETLB) {
		g->align = huge_size(p->flg);
		g->flags |= SHM_SEG_HUGE;
	}
	if (p->flg & SHM_NORESERVE)
		g->flags |= SHM_SEG_NORESERVE;
	/* Huge pages need the data huge-page aligned in the file too. */
	g->data_off = round_up(meta, g->align);
	g->map_len = round_up(p->size, g->align);
	g->nslots = SHM_NSLOTS;
}

static size_t shm_meta_size(const struct svipc_ns_limits *lim, const void *params)
{
	(void)lim;
	struct geom g;
	new_geom(params, &g);
	return (size_t)g.data_off;
}

static uint64_t shm_file_size(const struct svipc_ns_limits *lim, const void *params)
{
	(void)lim;
	struct geom g;
	new_geom(params, &g);
	return g.data_off + g.map_len;
}

static int shm_init(void *base, size_t size, const struct svipc_ns_limits *lim,
		    const void *params)
{
	(void)lim;
	(void)size;
	struct shm_seg *s = base;
	struct geom g;
	new_geom(params, &g);
	s->segsz = g.segsz;
	s->data_off = g.data_off;
	s->map_len = g.map_len;
	s->align = g.align;
	s->flags = g.flags;
	s->nslots = g.nslots;
	s->cpid = svipc__proc_pid();
	return 0;
}

/*
 * Reads the geometry once and checks it against what this process mapped
 * (and the file's length then, when the caller knows it): every later
 * offset comes from these locals, never again from the file.
 */
static int seg_geom(const struct svipc_ref *ref, struct geom *g)
{
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	uint64_t ps = page_size();
	g->segsz = LOAD_RELAXED(&s->segsz);
	g->data_off = LOAD_RELAXED(&s->data_off);
	g->map_len = LOAD_RELAXED(&s->map_len);
	g->align = LOAD_RELAXED(&s->align);
	g->flags = LOAD_RELAXED(&s->flags);
	g->nslots = LOAD_RELAXED(&s->nslots);
	int ok = ref->size >= sizeof *s && g->data_off == ref->size && g->data_off % ps == 0 &&
		 g->nslots >= 1 && g->nslots <= SHM_NSLOTS &&
		 SHM_SLOT_OFF + (uint64_t)g->nslots * sizeof(struct shm_slot) <= g->data_off &&
		 g->align >= ps && (g->align & (g->align - 1)) == 0 && g->align <= (1ull << 40) &&
		 g->segsz >= 1 && g->map_len >= g->segsz && g->map_len % g->align == 0 &&
		 g->map_len <= (uint64_t)INT64_MAX - g->data_off &&
		 (!ref->file_size || g->data_off + g->map_len <= ref->file_size) &&
		 !LOAD_RELAXED(&s->obj.corrupt);
	if (!ok) {
		STORE(&s->obj.corrupt, 1);
		return -EIDRM;
	}
	return 0;
}

static int shm_more_checks(const struct svipc_ref *ref, const void *params)
{
	struct geom g;
	const struct shm_params *p = params;
	if (seg_geom(ref, &g) < 0)
		return -EIDRM;
	return p->size > g.segsz ? -EINVAL : 0;
}

/* ---- the lock, and booking attachments ------------------------------------------- */

static struct shm_slot *slots(struct shm_seg *s)
{
	return (struct shm_slot *)((char *)s + SHM_SLOT_OFF);
}

static void apply_set(struct shm_seg *s)
{
	if (!LOAD(&s->set_valid))
		return;
	s->obj.perm.uid = s->set_uid;
	s->obj.perm.gid = s->set_gid;
	s->obj.perm.mode = s->set_mode;
	s->obj.ctime = s->set_ctime;
	STORE(&s->set_valid, 0);
}

/*
 * Takes the segment's lock. A dead holder can have left only single-store
 * updates behind, plus an IPC_SET record to apply; the slot counters are
 * only hints and are clamped on use.
 */
static int seg_lock(struct shm_seg *s)
{
	int r = svipc__lock(&s->obj.lock);
	if (r < 0)
		return r;
	if (r == 1)
		apply_set(s);
	return 0;
}

static void seg_unlock(struct shm_seg *s)
{
	svipc__unlock(&s->obj.lock);
}

static int lock_held(int fd, uint32_t slot)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = SHM_LOCK_BASE + slot, .l_len = 1 };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return 1; /* cannot tell: assume alive, never drop a live one */
	return fl.l_type != F_UNLCK;
}

static int seg_open_in(int dfd, int id, int flags)
{
	char name[32];
	if (dfd < 0)
		return dfd;
	svipc__obj_name(name, sizeof name, SVIPC_SHM, id);
	int fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? svipc__open_error(errno) : fd;
}

static int seg_open(int id, int flags)
{
	return seg_open_in(svipc__ns_dirfd(), id, flags);
}

/*
 * Called with the lock held. Counts the live attachments and books the
 * detaches nobody booked (the attacher exited, execed or was killed: its
 * lock is gone), as the kernel does at exit: shm_dtime, shm_lpid.
 * Returns the count, or -errno if the segment file cannot be opened.
 */
static long book_attachments(struct shm_seg *s, const struct geom *g, int id)
{
	uint32_t hi = MIN(LOAD_RELAXED(&s->slot_hi), g->nslots);
	uint32_t n = 0, new_hi = 0;
	struct shm_slot *sl = slots(s);
	int fd = -1;
	for (uint32_t i = 0; i < hi; i++) {
		if (LOAD_RELAXED(&sl[i].state) != SHM_SLOT_ATTACHED)
			continue;
		if (fd < 0) {
			fd = seg_open(id, O_RDONLY);
			if (fd < 0)
				return fd;
		}
		if (lock_held(fd, i)) {
			n++;
			new_hi = i + 1;
			continue;
		}
		int32_t pid = LOAD_RELAXED(&sl[i].pid);
		if (pid > 0 && LOAD_RELAXED(&sl[i].ev) == s->events) {
			s->dtime = svipc__real_sec();
			s->lpid = pid;
		}
		STORE_RELAXED(&sl[i].state, SHM_SLOT_FREE);
	}
	if (fd >= 0)
		close(fd);
	STORE_RELAXED(&s->slot_hi, new_hi);
	return n;
}

/*
 * IPC_RMID's work (also run again by whoever may have seen the last detach,
 * and by recovery): hides the key, sets SHM_DEST, and marks the segment
 * removed if nothing is attached. 1 if it lingers.
 */
static int shm_remove(struct svipc_obj *o, size_t size)
{
	struct shm_seg *s = (struct shm_seg *)o;
	struct svipc_ref ref = { .obj = o, .size = size };
	struct geom g;
	if (seg_geom(&ref, &g) < 0) {
		STORE(&o->removed, SVIPC_OBJ_REMOVED);
		return 0;
	}
	if (seg_lock(s) < 0)
		return 1;
	/*
	 * Key first, SHM_DEST last (a release store): SHM_DEST is what tells
	 * seg_get that the removal reached the segment, so a death between
	 * the two must leave it unset (and the removal is redone).
	 */
	STORE_RELAXED(&s->obj.perm.key, IPC_PRIVATE);
	STORE(&s->obj.perm.mode, LOAD_RELAXED(&s->obj.perm.mode) | SHM_DEST);
	long n = book_attachments(s, &g, o->id);
	if (n == 0)
		STORE(&o->removed, SVIPC_OBJ_REMOVED);
	seg_unlock(s);
	return n != 0;
}

static uint64_t shm_max_objects(const struct svipc_ns_limits *lim)
{
	return lim->shmmni;
}

static void shm_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg);
static void shm_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair);

const struct svipc_type_ops svipc__shm_ops = {
	.type = SVIPC_SHM,
	.magic = SHM_MAGIC,
	.check_new = shm_check_new,
	.units = shm_units,
	.max_units = shm_max_units,
	.admit = shm_admit,
	.size = shm_meta_size,
	.file_size = shm_file_size,
	.init = shm_init,
	.more_checks = shm_more_checks,
	.remove = shm_remove,
	.remove_lingers = 1,
	.max_objects = shm_max_objects,
	.inspect = shm_inspect,
	.check = shm_check,
};

/*
 * Maps segment id for one call, and makes sure an IPC_RMID that was
 * committed in the namespace (entry DEST) shows in the segment even if
 * its caller died before marking it: reaping completes that removal.
 */
static int seg_get(int id, struct svipc_ref *ref)
{
	for (int tries = 0;; tries++) {
		int r = svipc__get(&svipc__shm_ops, id, ref);
		if (r < 0)
			return r;
		int st = svipc__ns_state(SVIPC_SHM, id);
		if (st == SVIPC_NS_LIVE ||
		    (st == SVIPC_NS_DEST && (LOAD_RELAXED(&ref->obj->perm.mode) & SHM_DEST))) {
			/*
			 * The size never changes, and the namespace entry recorded
			 * it in pages: a header rewritten for a smaller segment
			 * would map less than the program made (its accesses past
			 * that land in whatever is mapped next). seg_geom() then
			 * refuses the segment.
			 */
			uint64_t units, segsz = LOAD_RELAXED(&((struct shm_seg *)ref->obj)->segsz);
			if (svipc__ns_entry_units(SVIPC_SHM, id, &units) == 0 && units &&
			    units < UINT32_MAX && round_up(segsz, page_size()) / page_size() != units)
				STORE(&ref->obj->corrupt, 1);
			return 0;
		}
		svipc__obj_put(ref);
		if (st == SVIPC_NS_NONE || tries)
			return -EINVAL;
		svipc__ns_reap(&svipc__shm_ops, id);
	}
}

/* ---- this process's attachments ----------------------------------------------------- */

struct claim {
	uint32_t slot, ev;
};

struct attachment {
	int booked; /* the exit destructor booked its detach already */
	uintptr_t addr;
	size_t len;
	uint64_t data_off;
	ino_t ino; /* the segment's file, to recognise the mapping in /proc/self/maps */
	int id;
	struct claim claim; /* slot NO_SLOT: this attachment has none to free */
	int prot;
	int huge;
	int fork_fd; /* during fork: the child's descriptor and claim */
	struct claim fork_claim;
};

static struct {
	pthread_mutex_t mu;
	struct attachment *a;
	size_t n, cap;
	size_t reserved; /* entries promised to shmat calls in flight (at_reserve) */
} AT = { .mu = PTHREAD_MUTEX_INITIALIZER };

/*
 * The fork gate: shmat and shmdt pass it for the whole call (from mapping
 * to table entry), a fork closes it and waits until none is in flight, so
 * no mapping is inherited without its entry. A closed gate stops new calls,
 * so a busy process cannot starve a fork (a reader-preferring rwlock would).
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned inflight, forking;
} GATE = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void gate_enter(void)
{
	pthread_mutex_lock(&GATE.mu);
	while (GATE.forking)
		pthread_cond_wait(&GATE.cv, &GATE.mu);
	GATE.inflight++;
	pthread_mutex_unlock(&GATE.mu);
}

static void gate_leave(void)
{
	pthread_mutex_lock(&GATE.mu);
	if (--GATE.inflight == 0 && GATE.forking)
		pthread_cond_broadcast(&GATE.cv);
	pthread_mutex_unlock(&GATE.mu);
}

/* Fork: closes the gate, waits for the calls in flight; keeps GATE.mu. */
static void gate_close(void)
{
	pthread_mutex_lock(&GATE.mu);
	GATE.forking++;
	while (GATE.inflight)
		pthread_cond_wait(&GATE.cv, &GATE.mu);
}

static void gate_open(int child)
{
	if (child) {
		/* One thread, nothing in flight; a condition variable is not reused after fork. */
		pthread_mutex_unlock(&GATE.mu);
		GATE.forking = 0;
		GATE.cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
		return;
	}
	GATE.forking--;
	pthread_cond_broadcast(&GATE.cv);
	pthread_mutex_unlock(&GATE.mu);
}

/*
 * Makes room for one more entry before shmat maps anything: once the
 * mapping is made (and with SHM_REMAP has replaced what was there), the
 * entry cannot fail for want of memory. Returns 0 or -ENOMEM.
 */
static int at_reserve(void)
{
	int r = 0;
	pthread_mutex_lock(&AT.mu);
	if (AT.n + AT.reserved == AT.cap) {
		size_t cap = AT.cap ? AT.cap * 2 : 16;
		struct attachment *na = realloc(AT.a, cap * sizeof *na);
		if (na) {
			AT.a = na;
			AT.cap = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0)
		AT.reserved++;
	pthread_mutex_unlock(&AT.mu);
	return r;
}

static void at_unreserve(void)
{
	pthread_mutex_lock(&AT.mu);
	AT.reserved--;
	pthread_mutex_unlock(&AT.mu);
}

/* Takes the entry at_reserve() made room for. */
static void at_add(const struct attachment *x)
{
	pthread_mutex_lock(&AT.mu);
	AT.reserved--;
	/* SHM_REMAP may have replaced an attachment that started there. */
	for (size_t i = 0; i < AT.n; i++)
		if (AT.a[i].addr == x->addr) {
			AT.a[i] = *x;
			goto out;
		}
	AT.a[AT.n++] = *x;
out:
	pthread_mutex_unlock(&AT.mu);
}

static int at_take(uintptr_t addr, struct attachment *out)
{
	int r = -EINVAL;
	pthread_mutex_lock(&AT.mu);
	for (size_t i = 0; i < AT.n; i++)
		if (AT.a[i].addr == addr) {
			*out = AT.a[i];
			AT.a[i] = AT.a[--AT.n];
			r = 0;
			break;
		}
	pthread_mutex_unlock(&AT.mu);
	return r;
}

static int at_find(uintptr_t addr, struct attachment *out)
{
	int r = -EINVAL;
	pthread_mutex_lock(&AT.mu);
	for (size_t i = 0; i < AT.n; i++)
		if (AT.a[i].addr == addr) {
			*out = AT.a[i];
			r = 0;
			break;
		}
	pthread_mutex_unlock(&AT.mu);
	return r;
}

/* ---- attach and detach ----------------------------------------------------------------- */

/*
 * An attachment's claim on a slot: which slot, and which use of it (the
 * slot's ev when claimed). A slot is freed only by its own claim, so a
 * late free can never free the slot of an attachment that came after.
 */
#define NO_SLOT UINT32_MAX

/*
 * Called with the lock held: takes the lowest free slot and its lock byte
 * on fd. When every slot looks taken, books the dead ones first.
 */
static long slot_claim(struct shm_seg *s, const struct geom *g, int id, int fd, int32_t pid,
		       struct claim *c)
{
	struct shm_slot *sl = slots(s);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t hi = MIN(LOAD_RELAXED(&s->slot_hi), g->nslots);
		for (uint32_t i = 0; i < g->nslots; i++) {
			/*
			 * Slots from slot_hi on are free, and their page may be a hole,
			 * which on a full filesystem would be SIGBUS even to read: it is
			 * populated before it is looked at.
			 */
			if (i >= hi && svipc__populate(&sl[i], sizeof sl[i]) < 0)
				return -ENOMEM;
			if (LOAD_RELAXED(&sl[i].state) != SHM_SLOT_FREE)
				continue;
			struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
					    .l_start = SHM_LOCK_BASE + i, .l_len = 1 };
			if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
				return -errno == -ENOLCK ? -ENOMEM : -errno;
			/* slot_hi first: whatever happens next, the slot is looked at. */
			if (i + 1 > MIN(LOAD_RELAXED(&s->slot_hi), g->nslots))
				STORE_RELAXED(&s->slot_hi, i + 1);
			sl[i].pid = pid;
			sl[i].ev = ++s->events;
			STORE_RELAXED(&sl[i].state, SHM_SLOT_ATTACHED);
			c->slot = i;
			c->ev = sl[i].ev;
			return 0;
		}
		long n = book_attachments(s, g, id);
		if (n < 0)
			return n;
	}
	return -ENOMEM; /* SHM_NSLOTS live attachments */
}

/* Called with the lock held: frees the claim's slot if it is still the claim's. */
static void slot_free(struct shm_seg *s, const struct geom *g, const struct claim *c)
{
	struct shm_slot *sl = slots(s);
	if (c->slot < g->nslots && LOAD_RELAXED(&sl[c->slot].state) == SHM_SLOT_ATTACHED &&
	    LOAD_RELAXED(&sl[c->slot].ev) == c->ev)
		STORE_RELAXED(&sl[c->slot].state, SHM_SLOT_FREE);
}

/*
 * Opens the segment's file for one attachment and checks it is the file
 * this process maps, long enough for the data. Returns the descriptor or
 * -errno.
 */
static int attach_open(int id, struct svipc_ref *ref, const struct geom *g, int prot)
{
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	int flags = (prot & PROT_WRITE) ? O_RDWR : O_RDONLY;
	struct stat st;
	/*
	 * The fast way trusts the directory descriptor and checks what it
	 * opened; the checked way is for when the program closed or replaced
	 * that descriptor.
	 */
	int fd = seg_open_in(svipc__ns_dirfd_unchecked(), id, flags);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != ref->dev || st.st_ino != ref->ino)) {
		close(fd);
		fd = -ESTALE;
	}
	if (fd < 0) {
		fd = seg_open(id, flags);
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0 || st.st_dev != ref->dev || st.st_ino != ref->ino) {
			close(fd);
			return -EINVAL; /* the name is another segment's now */
		}
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < g->data_off + g->map_len) {
		close(fd);
		STORE(&s->obj.corrupt, 1);
		return -EIDRM;
	}
	return fd;
}

/*
 * Called with the lock held: whether id still stands for callers. -EINVAL
 * if the segment was removed; -EIDRM if it is marked for removal and its
 * last attacher died unseen (the kernel would have freed it then: the
 * caller reaps it, then answers EINVAL); else 0. *nattch gets the live
 * count when it had to be computed, -1 otherwise.
 */
static long seg_stands(struct shm_seg *s, const struct geom *g, int id, long *nattch)
{
	*nattch = -1;
	if (LOAD(&s->obj.removed))
		return -EINVAL;
	if (!(LOAD_RELAXED(&s->obj.perm.mode) & SHM_DEST))
		return 0;
	*nattch = book_attachments(s, g, id);
	return *nattch == 0 ? -EIDRM : 0;
}

/*
 * Takes a slot with its lock on fd (which the attachment is, or will be,
 * mapped from) and books the attach: shm_atime, shm_lpid = lpid. The slot
 * records `owner` (0: a fork child not running yet).
 */
static long attach_claim(struct svipc_ref *ref, const struct geom *g, int id, int fd,
			 int32_t owner, int32_t lpid, struct claim *c)
{
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	long nattch, r = seg_lock(s);
	if (r < 0)
		return r;
	r = seg_stands(s, g, id, &nattch);
	if (r == 0) {
		r = slot_claim(s, g, id, fd, owner, c);
		if (r == 0) {
			s->atime = svipc__real_sec();
			s->lpid = lpid;
		}
	}
	seg_unlock(s);
	return r;
}

/* Gives a claim back; call while its lock is still held (fd open or mapped). */
static void claim_drop(struct svipc_ref *ref, const struct geom *g, const struct claim *c)
{
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	if (seg_lock(s) < 0)
		return;
	slot_free(s, g, c);
	seg_unlock(s);
}

/* Maps len bytes at an address aligned to align (huge pages): reserve, then trim. */
static void *map_aligned(size_t len, uint64_t align, int prot, int fd, uint64_t off)
{
	size_t span = len + (size_t)align;
	char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	char *at = (char *)round_up((uintptr_t)res, align);
	void *m = mmap(at, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	if (m == MAP_FAILED) {
		int e = errno;
		munmap(res, span);
		errno = e;
		return MAP_FAILED;
	}
	if (at > res)
		munmap(res, (size_t)(at - res));
	if (at + len < res + span)
		munmap(at + len, (size_t)(res + span - (at + len)));
	return m;
}

/* Returns 0 and the address in *out, or -errno. */
static long do_shmat(int id, uintptr_t addr, int flg, void **out)
{
	uint64_t ps = page_size();
	/*
	 * The kernel checks the address before it looks at the id. A given
	 * address is a fixed mapping, even one that SHM_RND rounds down to 0.
	 */
	int fixed = addr != 0;
	if (addr) {
		if (addr & (ps - 1)) {
			if (!(flg & SHM_RND))
				return -EINVAL;
			addr &= ~(uintptr_t)(ps - 1);
			if (!addr && (flg & SHM_REMAP))
				return -EINVAL;
		}
	} else if (flg & SHM_REMAP) {
		return -EINVAL;
	}
	if (id < 0)
		return -EINVAL;
	int prot = PROT_READ, acc = S_IRUGO;
	if (!(flg & SHM_RDONLY))
		prot |= PROT_WRITE, acc |= S_IWUGO;
	if (flg & SHM_EXEC)
		prot |= PROT_EXEC, acc |= 0111;
	struct svipc_ref ref;
	long r = seg_get(id, &ref);
	if (r < 0)
		return r;
	struct geom g;
	struct claim c;
	r = seg_geom(&ref, &g);
	if (r < 0)
		goto out;
	if (svipc__perm_check(&ref.obj->perm, acc)) {
		r = -EACCES;
		goto out;
	}
	if (addr && (addr & (g.align - 1))) {
		r = -EINVAL; /* a huge page segment needs a huge page address */
		goto out;
	}
	if (g.map_len > SIZE_MAX || (fixed && addr + g.map_len < addr)) {
		r = fixed ? -EINVAL : -ENOMEM;
		goto out;
	}
	r = at_reserve();
	if (r < 0)
		goto out;
	int fd = attach_open(id, &ref, &g, prot);
	if (fd < 0) {
		r = fd;
		goto unreserve;
	}
	/*
	 * Map first, then claim a slot on the same descriptor: a failed mmap
	 * books nothing (as in the kernel), and the lock is never without
	 * the mapping that will keep it.
	 */
	size_t len = (size_t)g.map_len;
	void *m;
	if (!fixed && g.align > ps)
		m = map_aligned(len, g.align, prot, fd, g.data_off);
	else
		m = mmap((void *)addr, len, prot,
			 MAP_SHARED | (fixed ? ((flg & SHM_REMAP) ? MAP_FIXED : MAP_FIXED_NOREPLACE) : 0),
			 fd, (off_t)g.data_off);
	int e = errno;
	if (m != MAP_FAILED && fixed && (uintptr_t)m != addr) {
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(m, len);
		m = MAP_FAILED;
		e = EEXIST;
	}
	if (m == MAP_FAILED) {
		close(fd);
		r = e == EEXIST ? -EINVAL : -e;
		goto unreserve;
	}
	r = attach_claim(&ref, &g, id, fd, svipc__proc_pid(), svipc__proc_pid(), &c);
	close(fd); /* the mapping keeps the description, and so the lock */
	if (r < 0) {
		munmap(m, len);
		if (r == -EIDRM) {
			svipc__ns_reap(&svipc__shm_ops, id);
			r = -EINVAL;
		}
		goto unreserve;
	}
	if (g.flags & SHM_SEG_HUGE)
		madvise(m, len, MADV_HUGEPAGE); /* transparent huge pages where tmpfs allows */
	struct attachment at = { .addr = (uintptr_t)m, .len = len, .data_off = g.data_off,
				 .ino = ref.ino, .id = id, .claim = c, .prot = prot,
				 .huge = (g.flags & SHM_SEG_HUGE) != 0, .fork_fd = -1 };
	at_add(&at);
	*out = m;
	goto out;
unreserve:
	at_unreserve();
out:
	svipc__obj_put(&ref);
	return r;
}

/*
 * Books a detach: frees the attachment's slot, sets shm_dtime and
 * shm_lpid. Done before the unmap, while the lock still stands, so that
 * nobody can have booked the slot as dead and given it to someone else.
 * Returns 1 if the segment is marked for removal (the caller then lets
 * the namespace see, after the unmap, whether that was the last one).
 */
static int detach_book(const struct attachment *at)
{
	struct svipc_ref ref;
	if (svipc__get(&svipc__shm_ops, at->id, &ref) < 0)
		return 0;
	struct shm_seg *s = (struct shm_seg *)ref.obj;
	struct geom g;
	int dest = 0;
	if (seg_geom(&ref, &g) == 0 && seg_lock(s) == 0) {
		slot_free(s, &g, &at->claim);
		s->dtime = svipc__real_sec();
		s->lpid = svipc__proc_pid();
		s->events++;
		dest = (LOAD_RELAXED(&s->obj.perm.mode) & SHM_DEST) != 0;
		seg_unlock(s);
	}
	svipc__obj_put(&ref);
	return dest;
}

static long do_shmdt(uintptr_t addr)
{
	struct attachment at;
	if (addr & (page_size() - 1))
		return -EINVAL;
	if (at_take(addr, &at) < 0)
		return -EINVAL;
	int dest = at.booked ? 0 : detach_book(&at);
	munmap((void *)at.addr, at.len); /* drops the attachment's lock */
	if (dest)
		svipc__ns_reap(&svipc__shm_ops, at.id);
	return 0;
}

/* ---- fork and exit --------------------------------------------------------------------- */

/*
 * A child's inherited mappings hold its parent's open file descriptions:
 * left alone, parent and child would count once together, and the child
 * would keep the parent's attachments alive after the parent detached.
 * The kernel counts a child's attachments from the moment fork returns;
 * so does svipc: before the fork, the parent takes a slot for the child's
 * copy of each attachment, locked on a new descriptor that the child
 * inherits (the parent closes its copy after the fork). The child maps each
 * attachment again in place (MAP_FIXED: same file, same offset, the same
 * pages) from that descriptor and closes it. Forks wait for shmat/shmdt
 * calls in flight (the fork gate), so no mapping is inherited without its entry.
 *
 * First the table is checked against /proc/self/maps: an entry whose
 * mapping the program unmapped itself is dropped rather than mapped over
 * whatever is there now.
 */
static int32_t fork_parent_pid;
static int fork_cancel_state;

static uint64_t parse_hex(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
		if (d == 16)
			return v;
		v = v * 16 + d;
	}
}

/*
 * Adds to covered[i] the bytes of entry i that a line of /proc/self/maps
 * shows mapped from its file at the right offset: an entry is intact when
 * all of it is (the program may have unmapped or replaced a part).
 */
static void maps_line(const char *p, const char *end, size_t *covered)
{
	uint64_t lo = parse_hex(&p), hi, off, ino = 0;
	if (p >= end || *p != '-')
		return;
	p++;
	hi = parse_hex(&p);
	while (p < end && *p == ' ')
		p++;
	while (p < end && *p != ' ')
		p++; /* perms */
	if (p >= end)
		return;
	p++;
	off = parse_hex(&p);
	while (p < end && *p == ' ')
		p++;
	while (p < end && *p != ' ')
		p++; /* dev */
	while (p < end && *p == ' ')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		ino = ino * 10 + (uint64_t)(*p - '0');
	for (size_t i = 0; i < AT.n; i++) {
		const struct attachment *a = &AT.a[i];
		if (a->ino == ino && lo >= a->addr && hi <= a->addr + a->len && hi > lo &&
		    off == a->data_off + (lo - a->addr))
			covered[i] += (size_t)(hi - lo);
	}
}

/* Drops the entries whose mapping the program unmapped (or replaced) itself. */
static void drop_unmapped_entries(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t *covered = fd < 0 ? NULL : calloc(AT.n, sizeof *covered);
	char buf[8192];
	size_t have = 0;
	int ok = covered != NULL;
	while (ok) {
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ok = 0;
		if (n <= 0)
			break;
		have += (size_t)n;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			maps_line(line, nl, covered);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf)
			have = 0; /* a line longer than the buffer: not one of ours */
	}
	if (fd >= 0)
		close(fd);
	if (ok) {
		size_t k = 0;
		for (size_t i = 0; i < AT.n; i++)
			if (covered[i] == AT.a[i].len)
				AT.a[k++] = AT.a[i];
		AT.n = k;
	}
	free(covered);
}

/* In the parent before fork: a slot and a descriptor for the child's copy. */
static void prepare_child_copy(struct attachment *at, int32_t parent)
{
	struct svipc_ref ref;
	at->fork_fd = -1;
	if (svipc__get(&svipc__shm_ops, at->id, &ref) < 0)
		return;
	struct geom g;
	if (seg_geom(&ref, &g) == 0 && g.data_off == at->data_off && g.map_len == at->len &&
	    ref.ino == at->ino) {
		int fd = attach_open(at->id, &ref, &g, at->prot);
		if (fd >= 0 && attach_claim(&ref, &g, at->id, fd, 0, parent, &at->fork_claim) < 0) {
			close(fd);
			fd = -1;
		}
		at->fork_fd = fd;
	}
	svipc__obj_put(&ref);
}

/*
 * In the child after fork: its own mapping from the descriptor prepared.
 * Without one, the child keeps the inherited mapping (shared data, one
 * count short) and owns no slot: it must never free its parent's.
 */
static void adopt_child_copy(struct attachment *at, int32_t self)
{
	struct claim c = at->fork_claim;
	int fd = at->fork_fd;
	at->claim.slot = NO_SLOT;
	at->fork_fd = -1;
	if (fd < 0)
		return;
	void *m = mmap((void *)at->addr, at->len, at->prot, MAP_SHARED | MAP_FIXED, fd,
		       (off_t)at->data_off);
	struct svipc_ref ref;
	if (svipc__get(&svipc__shm_ops, at->id, &ref) == 0) {
		struct shm_seg *s = (struct shm_seg *)ref.obj;
		struct geom g;
		if (seg_geom(&ref, &g) == 0) {
			if (m == MAP_FAILED) {
				claim_drop(&ref, &g, &c); /* before close: the lock still stands */
			} else if (c.slot < g.nslots) {
				STORE_RELAXED(&slots(s)[c.slot].pid, self);
				at->claim = c;
			}
		}
		svipc__obj_put(&ref);
	}
	close(fd);
	if (m != MAP_FAILED && at->huge)
		madvise(m, at->len, MADV_HUGEPAGE);
}

void svipc__shm_atfork(enum svipc_fork_phase phase)
{
	if (phase == SVIPC_FORK_PREPARE) {
		/* fork is no cancellation point; the opens and reads below are. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &fork_cancel_state);
		gate_close();
		pthread_mutex_lock(&AT.mu);
		fork_parent_pid = svipc__proc_pid();
		if (AT.n)
			drop_unmapped_entries();
		for (size_t i = 0; i < AT.n; i++)
			prepare_child_copy(&AT.a[i], fork_parent_pid);
		return;
	}
	if (phase == SVIPC_FORK_PARENT) {
		for (size_t i = 0; i < AT.n; i++)
			if (AT.a[i].fork_fd >= 0) {
				close(AT.a[i].fork_fd); /* the child's copy holds the lock now */
				AT.a[i].fork_fd = -1;
			}
		pthread_mutex_unlock(&AT.mu);
		gate_open(0);
		pthread_setcancelstate(fork_cancel_state, NULL);
		return;
	}
	/* The child: single-threaded here, nothing else touches the table. */
	int32_t self = svipc__proc_pid();
	for (size_t i = 0; i < AT.n; i++)
		adopt_child_copy(&AT.a[i], self);
	pthread_mutex_unlock(&AT.mu);
	gate_open(1);
	pthread_setcancelstate(fork_cancel_state, NULL);
}

/*
 * At exit the kernel would detach everything, book it and free segments
 * marked for removal. Unmapping here could pull memory from under threads
 * that still run, so the mappings stay (the kernel drops them, and their
 * locks, a moment later); the books are done now: each slot is freed (the
 * count then ignores its lock), and a segment marked for removal that has
 * no other attachment is removed.
 */
/*
 * Priority 101: the last of this object's destructors, after the program's
 * own when svipc is linked in statically. The entries stay, with nothing
 * left to free, so that a later destructor's shmdt still works.
 */
__attribute__((destructor(101))) static void detach_all_at_exit(void)
{
	if (pthread_mutex_trylock(&AT.mu) != 0)
		return;
	for (size_t i = 0; i < AT.n; i++) {
		struct attachment *a = &AT.a[i];
		if (a->booked)
			continue;
		int dest = detach_book(a);
		a->claim.slot = NO_SLOT;
		a->booked = 1;
		if (dest)
			svipc__ns_reap(&svipc__shm_ops, a->id);
	}
	pthread_mutex_unlock(&AT.mu);
}

/* ---- shmctl ---------------------------------------------------------------------------- */

/*
 * Pages of a segment's data its file holds (it is sparse), as the kernel
 * counts a segment's resident pages: the data extents past data_off, not
 * the header and slots before it.
 */
static unsigned long resident_pages(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct shm_seg hdr;
	uint64_t bytes = 0;
	if (fd < 0)
		return 0;
	if (pread(fd, &hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && hdr.obj.magic == SHM_MAGIC) {
		off_t end = (off_t)MIN(hdr.data_off + hdr.map_len, (uint64_t)INT64_MAX);
		off_t at = (off_t)MIN(hdr.data_off, (uint64_t)end);
		while (at < end) {
			off_t data = lseek(fd, at, SEEK_DATA);
			if (data < 0 || data >= end)
				break;
			off_t hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || hole <= data)
				break;
			hole = MIN(hole, end);
			bytes += (uint64_t)(hole - data);
			at = hole;
		}
	}
	close(fd);
	return (unsigned long)((bytes + page_size() - 1) / page_size());
}

static long shm_info(int cmd, void *buf)
{
	struct svipc_ns_limits lim;
	int maxidx, in_use;
	long r = svipc__ns_limits(&lim);
	if (r < 0)
		return r;
	if (cmd == SHM_INFO)
		svipc__ns_sweep(&svipc__shm_ops); /* a listing shows no dead segment */
	r = svipc__ns_usage(SVIPC_SHM, &maxidx, &in_use);
	if (r < 0)
		return r;
	if (cmd == IPC_INFO) {
		struct shminfo si;
		memset(&si, 0, sizeof si);
		si.shmmax = lim.shmmax;
		si.shmmin = 1;
		si.shmmni = si.shmseg = lim.shmmni;
		si.shmall = lim.shmall;
		memcpy(buf, &si, sizeof si);
	} else {
		struct shm_info si;
		memset(&si, 0, sizeof si);
		si.used_ids = in_use;
		si.shm_tot = svipc__ns_units(SVIPC_SHM);
		/* Resident pages: what the files hold (they are sparse). */
		int dfd = svipc__ns_dirfd();
		for (int i = 0; i <= maxidx && dfd >= 0; i++) {
			int id = svipc__ns_index_to_id(SVIPC_SHM, i);
			char name[32];
			if (id < 0)
				continue;
			svipc__obj_name(name, sizeof name, SVIPC_SHM, id);
			si.shm_rss += resident_pages(dfd, name);
		}
		memcpy(buf, &si, sizeof si);
	}
	return maxidx < 0 ? 0 : maxidx;
}

static void fill_stat(struct shm_seg *s, const struct geom *g, long nattch, struct shmid_ds *out)
{
	memset(out, 0, sizeof *out);
	svipc__perm_to_user(&s->obj.perm, &out->shm_perm);
	out->shm_segsz = (size_t)g->segsz;
	out->shm_atime = s->atime;
	out->shm_dtime = s->dtime;
	out->shm_ctime = s->obj.ctime;
	out->shm_cpid = s->cpid;
	out->shm_lpid = s->lpid;
	out->shm_nattch = (shmatt_t)nattch;
}

static long do_shmctl(int id, int cmd, struct shmid_ds *buf)
{
	if (id < 0 || cmd < 0)
		return -EINVAL;
#ifndef __LP64__
	cmd &= ~IPC_64;
#endif
	if (cmd == IPC_INFO || cmd == SHM_INFO) {
		if (!buf)
			return -EFAULT;
		return shm_info(cmd, buf);
	}
	int by_index = cmd == SHM_STAT || cmd == SHM_STAT_ANY;
	switch (cmd) {
	case IPC_SET:
		if (!buf)
			return -EFAULT; /* the kernel copies it in before the lookup */
		break;
	case IPC_STAT:
	case SHM_STAT:
	case SHM_STAT_ANY:
	case IPC_RMID:
	case SHM_LOCK:
	case SHM_UNLOCK:
		break;
	default:
		return -EINVAL;
	}
	if (by_index) {
		id = svipc__ns_index_to_id(SVIPC_SHM, id);
		if (id < 0)
			return id;
	}
	struct shmid_ds in;
	if (cmd == IPC_SET)
		memcpy(&in, buf, sizeof in);
	struct svipc_ref ref;
	long r = seg_get(id, &ref);
	if (r == -EIDRM && cmd == IPC_RMID)
		return svipc__ipc_remove_damaged(&svipc__shm_ops, id);
	if (r < 0)
		return r;
	struct shm_seg *s = (struct shm_seg *)ref.obj;
	struct geom g;
	int reap = 0;
	r = seg_geom(&ref, &g);
	if (r == -EIDRM && cmd == IPC_RMID) {
		/* A damaged segment can still be removed by its owner (EPERM for others). */
		svipc__obj_put(&ref);
		return svipc__ipc_remove_damaged(&svipc__shm_ops, id);
	}
	if (r < 0)
		goto out;
	r = seg_lock(s);
	if (r < 0)
		goto out;
	long nattch;
	r = seg_stands(s, &g, id, &nattch);
	if (r < 0) {
		reap = r == -EIDRM;
		r = -EINVAL;
		goto unlock;
	}
	switch (cmd) {
	case IPC_STAT:
	case SHM_STAT:
	case SHM_STAT_ANY: {
		if (cmd != SHM_STAT_ANY && svipc__perm_check(&s->obj.perm, S_IRUGO)) {
			r = -EACCES;
			break;
		}
		if (!buf) {
			r = -EFAULT; /* the kernel copies out after the lookup */
			break;
		}
		if (nattch < 0)
			nattch = book_attachments(s, &g, id); /* not counted yet */
		if (nattch < 0) {
			r = nattch;
			break;
		}
		fill_stat(s, &g, nattch, buf);
		r = by_index ? id : 0;
		break;
	}
	case IPC_SET:
		if (!svipc__perm_is_owner(&s->obj.perm)) {
			r = -EPERM;
			break;
		}
		if (in.shm_perm.uid == (uid_t)-1 || in.shm_perm.gid == (gid_t)-1) {
			r = -EINVAL;
			break;
		}
		s->set_uid = in.shm_perm.uid;
		s->set_gid = in.shm_perm.gid;
		s->set_mode = (s->obj.perm.mode & ~0777u) | (in.shm_perm.mode & 0777u);
		s->set_ctime = svipc__real_sec();
		STORE(&s->set_valid, 1); /* the commit point */
		apply_set(s);
		r = 0;
		break;
	case IPC_RMID:
		if (!svipc__perm_is_owner(&s->obj.perm)) {
			r = -EPERM;
			break;
		}
		seg_unlock(s);
		svipc__obj_put(&ref);
		return svipc__ipc_remove(&svipc__shm_ops, id);
	case SHM_LOCK:
	case SHM_UNLOCK:
		if (!svipc__capable(CAP_IPC_LOCK)) {
			struct rlimit rl;
			if (!svipc__perm_uid_is_owner(&s->obj.perm)) {
				r = -EPERM;
				break;
			}
			if (cmd == SHM_LOCK && (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == 0)) {
				r = -EPERM;
				break;
			}
			/*
			 * The kernel charges the pages of every segment the user
			 * locked against RLIMIT_MEMLOCK; this segment's alone must fit.
			 */
			if (cmd == SHM_LOCK && !(s->obj.perm.mode & SHM_LOCKED) &&
			    rl.rlim_cur != RLIM_INFINITY && g.map_len > rl.rlim_cur) {
				r = -ENOMEM;
				break;
			}
		}
		if (g.flags & SHM_SEG_HUGE)
			r = 0; /* huge pages are never swapped: the kernel does nothing */
		else if (cmd == SHM_LOCK)
			s->obj.perm.mode |= SHM_LOCKED;
		else
			s->obj.perm.mode &= ~(uint32_t)SHM_LOCKED;
		r = 0;
		break;
	}
unlock:
	seg_unlock(s);
out:
	svipc__obj_put(&ref);
	if (reap)
		svipc__ns_reap(&svipc__shm_ops, id);
	return r;
}

/* ---- public API ------------------------------------------------------------------------ */

/*
 * The shm calls do not block, but they make system calls that are
 * cancellation points while they hold locks (a segment's, the fork gate):
 * a thread cancelled there would leave them held. So cancellation waits
 * until the call is over.
 */
static int nocancel_begin(void)
{
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static void nocancel_end(int old)
{
	pthread_setcancelstate(old, NULL);
}

SVIPC_EXPORT int svipc_shmget(key_t key, size_t size, int shmflg)
{
	struct shm_params p = { size, shmflg };
	int c = nocancel_begin();
	long r = svipc__ipcget(&svipc__shm_ops, key, shmflg, &p);
	nocancel_end(c);
	return (int)svipc__ret(r);
}

SVIPC_EXPORT void *svipc_shmat(int shmid, const void *shmaddr, int shmflg)
{
	void *m = NULL;
	int c = nocancel_begin();
	gate_enter();
	long r = do_shmat(shmid, (uintptr_t)shmaddr, shmflg, &m);
	gate_leave();
	nocancel_end(c);
	if (r < 0) {
		errno = (int)-r;
		return (void *)-1;
	}
	return m;
}

SVIPC_EXPORT int svipc_shmdt(const void *shmaddr)
{
	int c = nocancel_begin();
	gate_enter();
	long r = do_shmdt((uintptr_t)shmaddr);
	gate_leave();
	nocancel_end(c);
	return (int)svipc__ret(r);
}

SVIPC_EXPORT int svipc_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	int c = nocancel_begin();
	long r = do_shmctl(shmid, cmd, buf);
	nocancel_end(c);
	return (int)svipc__ret(r);
}

SVIPC_EXPORT int svipc_shmsync(const void *shmaddr, int flags)
{
	struct attachment at;
	if ((flags & ~(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) || !(flags & (MS_SYNC | MS_ASYNC)) ||
	    (flags & MS_SYNC && flags & MS_ASYNC))
		return (int)svipc__ret(-EINVAL);
	if (at_find((uintptr_t)shmaddr, &at) < 0)
		return (int)svipc__ret(-EINVAL);
	if (msync((void *)at.addr, at.len, flags) < 0)
		return (int)svipc__ret(-errno);
	if (flags & MS_ASYNC)
		return 0;
	/* The header (times, nattch books), the name and the key table too. */
	int fd = seg_open(at.id, O_RDONLY);
	int dfd = svipc__ns_dirfd();
	long r = 0;
	if (fd < 0)
		return (int)svipc__ret(fd);
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && dfd >= 0) {
		int nfd = openat(dfd, "ns", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (nfd >= 0) {
			if (fsync(nfd) < 0)
				r = -errno;
			close(nfd);
		}
		if (r == 0 && fsync(dfd) < 0 && errno != EINVAL)
			r = -errno;
	}
	return (int)svipc__ret(r);
}

/* ---- the admin tools' view (inspect.h) ----------------------------------------------- */

/* Attachments rather than waiters: nobody blocks on a segment. */
static void shm_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg)
{
	struct geom g;
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	if (seg_geom(ref, &g) < 0) {
		info->corrupt = 1;
		return;
	}
	int fd = seg_open(s->obj.id, O_RDONLY);
	uint32_t hi = MIN(LOAD_RELAXED(&s->slot_hi), g.nslots);
	long nattch = 0;
	for (uint32_t i = 0; i < hi; i++) {
		const struct shm_slot *sl = &slots(s)[i];
		if (LOAD_RELAXED(&sl->state) != SHM_SLOT_ATTACHED)
			continue;
		struct svipc_waiter_info wi = { .pid = LOAD_RELAXED(&sl->pid),
						.alive = fd < 0 || lock_held(fd, i) };
		nattch += wi.alive;
		snprintf(wi.what, sizeof wi.what, wi.alive ? "attached" :
			 "attached, ended without shmdt (booked at the next use)");
		info->nwaiters++;
		if (each)
			each(arg, &wi);
	}
	if (fd >= 0)
		close(fd);
	fill_stat(s, &g, nattch, &info->ds.shm);
}

static void shm_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair)
{
	struct geom g;
	struct shm_seg *s = (struct shm_seg *)ref->obj;
	if (seg_geom(ref, &g) < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "its layout is invalid");
		return;
	}
	int r = seg_lock(s);
	if (r < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "cannot take its lock (%s)", strerror(-r));
		return;
	}
	if (LOAD(&s->obj.removed)) {
		/* Removed since the check mapped it (its file is gone or going): nothing to check. */
		seg_unlock(s);
		return;
	}
	if (LOAD(&s->set_valid)) {
		svipc__report(rep, SVIPC_PROBLEM, "an IPC_SET record is pending outside a call%s",
			      repair ? " (applied)" : "");
		if (repair)
			apply_set(s);
	}
	int fd = seg_open(s->obj.id, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "its file cannot be opened (%s)",
			      strerror(fd < 0 ? -fd : errno));
	} else if ((uint64_t)st.st_size < g.data_off + g.map_len) {
		svipc__report(rep, SVIPC_PROBLEM, "its file was truncated to %lld bytes of %llu: "
			      "attached processes touching the rest get SIGBUS", (long long)st.st_size,
			      (unsigned long long)(g.data_off + g.map_len));
	}
	uint32_t hi = MIN(s->slot_hi, g.nslots);
	for (uint32_t i = 0; i < g.nslots; i++) {
		if (i >= hi) { /* slots above the mark should be untouched: skip holes */
			i = svipc__scan_skip(fd, SHM_SLOT_OFF, sizeof(struct shm_slot), i, g.nslots, i == hi);
			if (i >= g.nslots)
				break;
		}
		const struct shm_slot *sl = &slots(s)[i];
		if (sl->state == SHM_SLOT_FREE)
			continue;
		if (sl->state != SHM_SLOT_ATTACHED)
			svipc__report(rep, SVIPC_PROBLEM, "attachment slot %u in state %u", i, sl->state);
		else if (i >= hi)
			svipc__report(rep, SVIPC_PROBLEM, "attachment slot %u is used above the "
				      "high-water mark %u", i, s->slot_hi);
		else if (fd >= 0 && !lock_held(fd, i))
			svipc__report(rep, SVIPC_CLEANUP, "attachment of process %d ended without "
				      "shmdt (booked by the next call)", sl->pid);
	}
	if (fd >= 0)
		close(fd);
	seg_unlock(s);
}

/*
 * fuzz_common.h - what the libFuzzer targets (fuzz_msg.c, fuzz_sem.c,
 * fuzz_shm.c, fuzz_ns.c) share: a private namespace per fuzzing process,
 * a reader over the input, structure-aware patches of a file, truncation
 * and extension, the admin calls, and the reset between inputs.
 *
 * The input of every target is a list of commands, one after the other
 * until the input runs out (at most FZ_MAX_CMDS). The first byte of each
 * picks the command; what follows gives its arguments. Commands either
 * change the object's file behind the library's back (a field of a named
 * structure set to an interesting value, raw bytes at any offset, a new
 * length) or call the library (each target's own calls, plus the admin
 * paths). Patches are written with pwrite on a descriptor of the file, as
 * another process would scribble; a patch made after a call has run
 * lands on a mapping the library has already validated, so "corrupted
 * before first use" and "scribbled while in use" are both covered, in any
 * interleaving the fuzzer finds.
 *
 * No call may block: every msgsnd/msgrcv/semop is IPC_NOWAIT or a timed
 * variant with a timeout of at most 200 us. A lock word is never patched
 * to name this (live) process: a lock held by a live process is waited
 * for by design, and a scribbler naming one is indistinguishable from a
 * stopped holder (see README.md).
 */
#ifndef SVIPC_FUZZ_COMMON_H
#define SVIPC_FUZZ_COMMON_H

#include "svipc.h"
#include "inspect.h"
#include "internal.h"
#include "ns.h"
#include "proc.h"
#include "region.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FZ_MAX_CMDS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define FZ_DEAD_TOKEN ((1u << 16) | 65000u) /* a register slot nobody holds */

/* ---- reading the input ---------------------------------------------------------- */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v = fz_u8(f);
	return (uint16_t)(v | (uint16_t)fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v = fz_u16(f);
	return v | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v = fz_u32(f);
	return v | (uint64_t)fz_u32(f) << 32;
}

/* ---- the namespace ---------------------------------------------------------------- */

static char FZ_DIR[PATH_MAX];
static int FZ_DFD = -1;
static key_t FZ_KEY_BASE;
static unsigned FZ_RUN;

static void fz_rm_tree(void)
{
	if (!FZ_DIR[0])
		return;
	DIR *d = opendir(FZ_DIR);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(FZ_DIR);
	FZ_DIR[0] = 0;
}

/*
 * The namespace: a fresh directory under $SVIPC_FUZZ_TMP (default
 * /dev/shm), removed at exit. Small limits keep the files small, so that
 * the indexes the fuzzer writes are near the ones in use.
 */
static void fz_init(void)
{
	if (FZ_DIR[0])
		return;
	const char *base = getenv("SVIPC_FUZZ_TMP");
	if (!base || !*base)
		base = "/dev/shm";
	snprintf(FZ_DIR, sizeof FZ_DIR, "%s/svipc-fuzz.XXXXXX", base);
	if (!mkdtemp(FZ_DIR)) {
		perror("mkdtemp");
		abort();
	}
	setenv("SVIPC_DIR", FZ_DIR, 1);
	atexit(fz_rm_tree);
	FZ_DFD = open(FZ_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct svipc_limits l;
	if (FZ_DFD < 0 || svipc_limits_get(&l) < 0) {
		perror("svipc namespace");
		abort();
	}
	memset(&l, 0, sizeof l);
	l.msgmax = 8192;
	l.msgmnb = 2048;
	l.msgmni = 32768;
	l.shmmni = 32768;
	l.semmni = 32768;
	l.semmsl = 64;
	l.semopm = 16;
	if (svipc_limits_set(&l) < 0) {
		perror("svipc_limits_set");
		abort();
	}
	FZ_KEY_BASE = (key_t)(0x5f000000 ^ (getpid() << 8));
}

/* A key no earlier input used. */
static key_t fz_key(void)
{
	return FZ_KEY_BASE + (key_t)(FZ_RUN & 0xffffff);
}

static uint32_t fz_own_token(void)
{
	return svipc__proc_token();
}

/* ---- patches -------------------------------------------------------------------------- */

struct fz_field {
	uint32_t off;
	uint8_t width;
	uint8_t lock; /* a lock word: never this process's token */
};

#define FZ_F(type, member) \
	{ (uint32_t)offsetof(type, member), (uint8_t)sizeof(((type *)0)->member), 0 }
#define FZ_LOCK(type, member) \
	{ (uint32_t)offsetof(type, member), (uint8_t)sizeof(((type *)0)->member), 1 }

/* An array of count elements of elsz bytes at base (a header: count 1). */
struct fz_region {
	uint64_t base;
	uint32_t elsz;
	uint32_t count;
	const struct fz_field *fields;
	int nfields;
};

static inline uint64_t fz_mask(unsigned width)
{
	return width >= 8 ? ~0ull : (1ull << (8 * width)) - 1;
}

/*
 * A value for a field of `width` bytes that holds cur now: the edges, the
 * bounds of its array (n: 1-based indexes run to n), the element's own
 * index (self, 1-based), tokens, small numbers, nearby values or anything.
 */
static uint64_t fz_value(struct fz *f, unsigned width, uint64_t cur, uint64_t n, uint64_t self)
{
	uint64_t v;
	switch (fz_u8(f) % 18) {
	case 0: v = 0; break;
	case 1: v = 1; break;
	case 2: v = ~0ull; break;
	case 3: v = fz_mask(width) >> 1; break;           /* the largest signed */
	case 4: v = (fz_mask(width) >> 1) + 1; break;     /* the smallest signed */
	case 5: v = n; break;
	case 6: v = n + 1; break;
	case 7: v = n ? n - 1 : 0; break;
	case 8: v = self; break;
	case 9: v = self + 1 + fz_u8(f) % 4; break;
	case 10: v = fz_u8(f) % 16; break;
	case 11: v = FZ_DEAD_TOKEN; break;
	case 12: v = fz_own_token(); break;
	case 13: v = (fz_own_token() & 0xffffu) | (((fz_own_token() >> 16) + 1) & 0x7fffu) << 16; break;
	case 14: v = cur + (uint64_t)(int64_t)(int8_t)fz_u8(f); break;
	case 15: v = n ? fz_u16(f) % (n + 2) : fz_u16(f); break;
	case 16: v = cur ^ (1ull << (fz_u8(f) % (8 * width))); break;
	default: v = fz_u64(f); break;
	}
	return v & fz_mask(width);
}

static int fz_open_file(const char *name)
{
	return openat(FZ_DFD, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

static uint64_t fz_file_size(int fd)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* Never leaves a lock word naming this process (it would wait for itself). */
static void fz_fix_lock(int fd, uint64_t off)
{
	uint32_t v;
	if (pread(fd, &v, 4, (off_t)off) != 4)
		return;
	uint32_t me = fz_own_token();
	if (me && (v & 0x7fffffffu) == me) {
		v = (v & 0x80000000u) | FZ_DEAD_TOKEN;
		if (pwrite(fd, &v, 4, (off_t)off) != 4)
			return;
	}
}

/* Writes width bytes of v at off, inside the file only (growing it is a command of its own). */
static void fz_poke(int fd, uint64_t off, uint64_t v, unsigned width)
{
	uint64_t size = fz_file_size(fd);
	if (off + width > size || off + width < off)
		return;
	if (pwrite(fd, &v, width, (off_t)off) != (ssize_t)width)
		return;
}

/*
 * One structured patch: region, element, field, value. The element is
 * mostly one of the first few (where the data is), sometimes any.
 */
static void fz_patch(struct fz *f, int fd, const struct fz_region *reg, int nreg,
		     const uint32_t *lock_offs, int nlock)
{
	const struct fz_region *r = &reg[fz_u8(f) % nreg];
	uint8_t how = fz_u8(f);
	uint32_t idx;
	if (r->count <= 1)
		idx = 0;
	else if (how & 0x80)
		idx = fz_u16(f) % r->count;
	else
		idx = (how & 0x7f) % (r->count < 8 ? r->count : 8);
	const struct fz_field *fl = &r->fields[fz_u8(f) % r->nfields];
	if (nlock < 0 && fl->lock)
		return; /* the scribbling thread leaves lock words alone */
	uint64_t off = r->base + (uint64_t)idx * r->elsz + fl->off;
	uint64_t cur = 0;
	if (pread(fd, &cur, fl->width, (off_t)off) != (ssize_t)fl->width)
		cur = 0;
	uint64_t v = fz_value(f, fl->width, cur, r->count, idx + 1);
	fz_poke(fd, off, v, fl->width);
	for (int i = 0; i < nlock; i++)
		fz_fix_lock(fd, lock_offs[i]);
}

/* Raw bytes anywhere in the file (or just past its end: ignored). */
static void fz_raw(struct fz *f, int fd, uint64_t hint_size, const uint32_t *lock_offs, int nlock)
{
	uint64_t size = fz_file_size(fd);
	uint8_t sel = fz_u8(f);
	uint64_t off;
	if (!size)
		return;
	if (sel & 1) /* near the start: the headers */
		off = fz_u16(f) % (size < 4096 ? size : 4096);
	else
		off = fz_u32(f) % size;
	(void)hint_size;
	unsigned len = 1 + fz_u8(f) % 8;
	uint8_t b[8];
	for (unsigned i = 0; i < len; i++)
		b[i] = fz_u8(f);
	if (off + len > size)
		len = (unsigned)(size - off);
	if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
		return;
	for (int i = 0; i < nlock; i++)
		fz_fix_lock(fd, lock_offs[i]);
}

/* A new length for the file: the edges of its structures, or anything. */
__attribute__((unused)) static uint64_t fz_length(struct fz *f, uint64_t orig, uint64_t mapped, uint64_t hdr)
{
	switch (fz_u8(f) % 14) {
	case 0: return 0;
	case 1: return 16;
	case 2: return sizeof(struct svipc_obj) - 1;
	case 3: return sizeof(struct svipc_obj);
	case 4: return hdr - 1;
	case 5: return hdr;
	case 6: return mapped - 1;
	case 7: return mapped;
	case 8: return orig - 1;
	case 9: return orig / 2;
	case 10: return orig + 4096;
	case 11: return orig * 2;
	case 12: return mapped + 1;
	default: return fz_u32(f) % (orig * 2 + 1);
	}
}

/* What the file commands need to know of the object a target fuzzes. */
struct fz_target {
	enum svipc_type type;
	int id;
	const char *name;        /* its file in the namespace */
	const struct fz_region *reg;
	int nreg;
	uint32_t lock_off;       /* its lock word */
	uint64_t orig, mapped, hdr; /* the file's length, the mapped part, where the header ends */
	void (*unmap)(void);     /* lets go of other mappings of the file (attachments), or NULL */
};

/*
 * The commands that change the object's file, the same for every object
 * target: ops 0-3 patch a field, 4 writes raw bytes, 5 gives the file a
 * new length (after dropping our mappings: truncation under a mapping can
 * SIGBUS, documented), 6 drops the cached mapping, 7 hands the lock to a
 * dead process (the next call recovers). Returns 0 for the other ops (the
 * target's own calls).
 */
__attribute__((unused)) static int fz_file_cmd(struct fz *in, uint8_t op, const struct fz_target *t)
{
	int fd = -1;
	switch (op % 16) {
	case 0:
	case 1:
	case 2:
	case 3:
		fd = fz_open_file(t->name);
		if (fd >= 0)
			fz_patch(in, fd, t->reg, t->nreg, &t->lock_off, 1);
		break;
	case 4:
		fd = fz_open_file(t->name);
		if (fd >= 0)
			fz_raw(in, fd, t->orig, &t->lock_off, 1);
		break;
	case 5: {
		uint64_t len = fz_length(in, t->orig, t->mapped, t->hdr);
		if (t->unmap)
			t->unmap();
		svipc__obj_forget(t->type, t->id);
		fd = fz_open_file(t->name);
		if (fd >= 0)
			(void)!ftruncate(fd, (off_t)len);
		break;
	}
	case 6:
		svipc__obj_forget(t->type, t->id);
		break;
	case 7: {
		fd = fz_open_file(t->name);
		uint32_t v = FZ_DEAD_TOKEN | ((fz_u8(in) & 1) ? 0x80000000u : 0);
		if (fd >= 0)
			fz_poke(fd, t->lock_off, v, 4);
		break;
	}
	default:
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return 1;
}

/* ---- the admin paths ----------------------------------------------------------------- */

static void fz_report(void *arg, int level, const char *text)
{
	(void)arg, (void)level;
	/* Read every byte, as a tool printing it would. */
	volatile size_t n = strlen(text);
	(void)n;
}

static void fz_each(void *arg, const struct svipc_waiter_info *w)
{
	(void)arg;
	volatile size_t n = strlen(w->what);
	(void)n;
}

/* svipc__inspect, svipc__check (with or without repair), check_ns, purge. */
static void fz_admin(struct fz *f, enum svipc_type type, int id)
{
	struct svipc_obj_info info;
	switch (fz_u8(f) % 6) {
	case 0:
	case 1:
		svipc__inspect(type, id, &info, fz_each, NULL);
		break;
	case 2:
		svipc__check(type, id, 0, fz_report, NULL);
		break;
	case 3:
		svipc__check(type, id, 1, fz_report, NULL);
		break;
	case 4:
		svipc__check_ns(fz_u8(f) & 1, fz_report, NULL);
		break;
	default:
		svipc__purge(fz_u8(f) & 1, fz_report, NULL);
		break;
	}
}

/* ---- a concurrent scribbler (SVIPC_FUZZ_SCRIBBLE=1) ----------------------------- */

/*
 * With SVIPC_FUZZ_SCRIBBLE=1 in the environment, a thread keeps patching
 * the object's file (fields of its regions, never a lock word) while the
 * input's calls run: "scribbled during a call", which the commands'
 * interleaving (patches between calls) cannot reach. Runs are then not
 * reproducible exactly; the thread's patches are drawn from a generator
 * seeded by the input, so a crash usually comes back with the same input.
 */
static struct {
	pthread_t th;
	int on, run;
	char name[64];
	const struct fz_region *reg;
	int nreg;
	uint64_t seed;
} SCR;

static void *fz_scribbler(void *arg)
{
	(void)arg;
	int fd = fz_open_file(SCR.name);
	uint64_t x = SCR.seed | 1;
	uint8_t buf[32];
	while (fd >= 0 && __atomic_load_n(&SCR.run, __ATOMIC_RELAXED)) {
		for (size_t i = 0; i < sizeof buf; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)(x >> 24);
		}
		struct fz f = { buf, sizeof buf };
		fz_patch(&f, fd, SCR.reg, SCR.nreg, NULL, -1);
		for (volatile int spin = (int)(x & 1023); spin > 0; spin--)
			;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

__attribute__((unused)) static void fz_scribble_start(const char *name, const struct fz_region *reg, int nreg,
			      const uint8_t *data, size_t size)
{
	static int checked, enabled;
	if (!checked) {
		const char *e = getenv("SVIPC_FUZZ_SCRIBBLE");
		enabled = e && *e && *e != '0';
		checked = 1;
	}
	if (!enabled)
		return;
	snprintf(SCR.name, sizeof SCR.name, "%s", name);
	SCR.reg = reg;
	SCR.nreg = nreg;
	SCR.seed = 1469598103934665603ull;
	for (size_t i = 0; i < size; i++)
		SCR.seed = (SCR.seed ^ data[i]) * 1099511628211ull;
	SCR.run = 1;
	SCR.on = pthread_create(&SCR.th, NULL, fz_scribbler, NULL) == 0;
}

__attribute__((unused)) static void fz_scribble_stop(void)
{
	if (!SCR.on)
		return;
	__atomic_store_n(&SCR.run, 0, __ATOMIC_RELAXED);
	pthread_join(SCR.th, NULL);
	SCR.on = 0;
}

/* ---- between inputs ---------------------------------------------------------------------- */

/*
 * Removes object id of type whatever state the input left it in (a
 * corrupt object refuses IPC_RMID: the namespace's removal does not ask
 * it), then anything else in the directory but ns and procs, so that the
 * next input starts from the same namespace.
 */
static void fz_remove(enum svipc_type type, int id)
{
	if (id < 0)
		return;
	const struct svipc_type_ops *ops = svipc__type_ops(type);
	svipc__obj_forget(type, id);
	if (svipc__ns_state(type, id) != SVIPC_NS_NONE)
		svipc__ipc_remove(ops, id);
	if (svipc__ns_state(type, id) == SVIPC_NS_DEST) {
		/* It lingers (a slot still reads as attached): its file goes, then its entry. */
		char name[32];
		svipc__obj_name(name, sizeof name, type, id);
		svipc__obj_forget(type, id);
		unlinkat(FZ_DFD, name, 0);
		svipc__ns_reap(ops, id);
	}
	if (svipc__ns_state(type, id) != SVIPC_NS_NONE) {
		fprintf(stderr, "fuzz harness: object %d of type %d could not be removed\n", id, type);
		abort();
	}
	svipc__obj_forget(type, id);
}

/* Every object the namespace still names (an input may make more), then the stray files. */
__attribute__((unused)) static void fz_remove_all(void)
{
	for (int t = 0; t < SVIPC_NTYPES; t++) {
		int maxidx = -1, n = 0;
		if (svipc__ns_usage(t, &maxidx, &n) < 0)
			continue;
		for (int i = 0; i <= maxidx; i++) {
			int id = svipc__ns_index_to_id(t, i);
			if (id >= 0)
				fz_remove(t, id);
		}
		if (svipc__ns_usage(t, &maxidx, &n) == 0 && n) {
			fprintf(stderr, "fuzz harness: %d objects of type %d left\n", n, t);
			abort();
		}
	}
}

static void fz_sweep_dir(void)
{
	DIR *d = fdopendir(dup(FZ_DFD));
	if (!d)
		return;
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "ns") || !strcmp(n, "procs"))
			continue;
		unlinkat(FZ_DFD, n, 0);
	}
	closedir(d);
}

#endif

/*
 * test_shm_oracle.c - the running kernel is the oracle for shared memory.
 *
 * Every scenario below is written once against a table of function pointers
 * {shmget, shmat, shmdt, shmctl} (struct shm_impl, t.h) and run twice: once
 * with libc's functions (the kernel's System V shared memory) and once with
 * svipc_shm*. Each call appends one line to a transcript: the call, its
 * result class and errno, and for IPC_STAT the shmid_ds fields. The two
 * transcripts must match line by line; every difference is printed.
 *
 * Values that cannot be equal are recorded as properties:
 *  - segment ids become s0, s1... in order of first appearance;
 *  - keys become K0..K3 (fresh per scenario) or PRIVATE;
 *  - addresses: the scenarios that choose addresses use a reference region R
 *    (1 GiB, checked free at start, far below where mmap places things), so
 *    "R+0x1000" is exact; an address the system chose becomes a<n>, n the
 *    number of the shmat call in the scenario that returned it, with its
 *    properties (page alignment, the /proc/self/maps protection of
 *    the mapping there and how many pages it spans from that address);
 *  - times: "0", "now" (within 2 s of the call) or "old"; the "times"
 *    scenario sleeps across second boundaries to see which calls set which;
 *  - pids: runner / child1.. / 0;
 *  - IPC_INFO/SHM_INFO's system-wide values: relations to what the scenario
 *    created (the kernel's namespace is shared with concurrent tests).
 * Lines starting with '~' are informational: a mismatch there is a NOTE.
 *
 * Each side of each scenario runs in its own forked "runner", so a crash in
 * one scenario is recorded and the rest still run. The transcript lives in a
 * MAP_SHARED mapping, so runners and their children write to it directly.
 * Kernel segments are tracked there as well and always removed (after every
 * scenario, at exit, and from fatal signals).
 *
 * The two transcripts are compared as a diff, so one extra or missing line
 * is reported once instead of shifting everything after it.
 *
 * Scenarios (see the table at the end): shmget with IPC_PRIVATE, keys,
 * CREAT/EXCL, sizes (0, larger than the segment, shmmax, 1<<44 with and
 * without NORESERVE), the size check before the permission check, requested
 * mode bits, SHM_HUGETLB with size logs; contents (zero-filled, shared, whole
 * pages); shmat addresses (system-chosen, given, misaligned, SHM_RND incl.
 * rounding to page 0, SHM_REMAP over mappings and attachments and splitting
 * one, overlaps), protections (RDONLY write = SIGSEGV, EXEC), bad and removed
 * ids; shmdt; IPC_STAT fields over time; IPC_SET; IPC_RMID with and without
 * attachments; IPC_INFO/SHM_INFO; SHM_STAT/SHM_STAT_ANY; SHM_LOCK/UNLOCK with
 * RLIMIT_MEMLOCK; bad commands; attachments inherited by fork and dropped by
 * exit/exec/kill; permissions as uid 65534.
 *
 * SVIPC_ORACLE_VERBOSE=1 prints every kernel transcript.
 * The machinery this shares with test_msg_oracle.c is in oracle.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#define TLINES 600
#define ORACLE_NIDS 128
#define ORACLE_NAME_WIDTH 22
#include "oracle.h"

#ifndef SHM_HUGETLB
#define SHM_HUGETLB 04000
#endif
#ifndef SHM_NORESERVE
#define SHM_NORESERVE 010000
#endif
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef SHM_DEST
#define SHM_DEST 01000
#endif
#ifndef SHM_LOCKED
#define SHM_LOCKED 02000
#endif
#define HUGE_LOG(n) ((n) << 26) /* SHM_HUGE_SHIFT */

#define PG 4096UL
#define REF_LEN (1UL << 30)
#define HUGE_ID (INT_MAX - 0x1234) /* an id that was never handed out */

static const struct shm_impl K = T_KERNEL_SHM;
static const struct shm_impl S = T_SVIPC_SHM;

/* MAP_SHARED as well: what this oracle's runners and children share beyond
 * oracle.h's transcript and labels. */
struct shared {
	uintptr_t abase[64]; /* addresses the system chose, printed as a<n>: */
	uintptr_t aspan[64];
	int acall[64];       /* n = which shmat call of the scenario chose it */
	int naddr, ncalls;
	int v[16]; /* scratch shared between a runner and its children */
};

static struct shared *sh;
static uintptr_t g_ref; /* the reference region R */
static unsigned long g_shmmax, g_shmall, g_shmmni;

/* ---------------------------------------------------------------- helpers */

static unsigned long read_proc(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long v = 0;
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* What oracle.h asks of its includer. */
static void ipc_rm(int kernel, int id)
{
	(kernel ? &K : &S)->ctl(id, IPC_RMID, NULL);
}

static int kernel_key_unused(key_t k)
{
	return shmget(k, 0, 0) == -1 && errno == ENOENT;
}

static void rec_killed(const char *what, int child, int sig)
{
	rec("%s%s by %s", pre(what), child ? "child killed" : "RUNNER KILLED",
	    sig == SIGALRM ? "SIGALRM (hung)" : sigabbrev_np(sig));
}

/* Segment ids are s0, s1...; ids never handed out are named. */
static const char *lab(int id)
{
	if (id == HUGE_ID)
		return "NEVER-CREATED";
	if (id == INT_MIN)
		return "INT_MIN";
	return id_label(id, 's');
}

/* shmget flags. Note SHM_NORESERVE == SHM_RDONLY: two printers. */
static const char *getfl(int flg)
{
	unsigned f = (unsigned)flg;
	char *b = rot();
	size_t o = 0;
	b[0] = 0;
#define BIT(bit, name)                                                               \
	if (f & (bit)) {                                                             \
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s%s", o ? "|" : "", name); \
		f &= ~(unsigned)(bit);                                               \
	}
	BIT(IPC_CREAT, "CREAT")
	BIT(IPC_EXCL, "EXCL")
	BIT(SHM_HUGETLB, "HUGETLB")
	BIT(SHM_NORESERVE, "NORESERVE")
	unsigned lg = (f >> 26) & 0x3f;
	if (lg) {
		o += (size_t)snprintf(b + o, ROTLEN - o, "%sHUGE_LOG(%u)", o ? "|" : "", lg);
		f &= ~(0x3fu << 26);
	}
	if (f & 0777)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s0%o", o ? "|" : "", f & 0777);
	f &= ~0777;
	if (f)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s0x%x", o ? "|" : "", f);
	if (!o)
		snprintf(b, ROTLEN, "0");
	return b;
}

static const char *atfl(int flg)
{
	unsigned f = (unsigned)flg;
	char *b = rot();
	size_t o = 0;
	b[0] = 0;
	BIT(SHM_RDONLY, "RDONLY")
	BIT(SHM_RND, "RND")
	BIT(SHM_REMAP, "REMAP")
	BIT(SHM_EXEC, "EXEC")
#undef BIT
	if (f)
		o += (size_t)snprintf(b + o, ROTLEN - o, "%s0x%x", o ? "|" : "", f);
	if (!o)
		snprintf(b, ROTLEN, "0");
	return b;
}

static const char *szlab(size_t n)
{
	char *b = rot();
	if (n == g_shmmax)
		return "shmmax";
	if (g_shmmax != SIZE_MAX && n == g_shmmax + 1)
		return "shmmax+1";
	if (n == SIZE_MAX)
		return "SIZE_MAX";
	if (n >= (1UL << 20) && (n & (n - 1)) == 0)
		snprintf(b, ROTLEN, "1<<%d", __builtin_ctzl(n));
	else
		snprintf(b, ROTLEN, "%zu", n);
	return b;
}

/* An address: NULL, R+off, a<i>[+off] (system-chosen), or a raw odd value. */
static const char *alab(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	char *b = rot();
	if (!p)
		return "NULL";
	if (g_ref && a >= g_ref && a < g_ref + REF_LEN) {
		snprintf(b, ROTLEN, "R+%#lx", (unsigned long)(a - g_ref));
		if (a == g_ref)
			snprintf(b, ROTLEN, "R+0");
		return b;
	}
	for (int i = sh->naddr - 1; i >= 0; i--)
		if (a >= sh->abase[i] && a - sh->abase[i] < sh->aspan[i]) {
			if (a == sh->abase[i])
				snprintf(b, ROTLEN, "a%d", sh->acall[i]);
			else
				snprintf(b, ROTLEN, "a%d+%#lx", sh->acall[i],
					 (unsigned long)(a - sh->abase[i]));
			return b;
		}
	if (a < 0x100000 || a >= (1UL << 47))
		snprintf(b, ROTLEN, "%#lx", (unsigned long)a);
	else
		snprintf(b, ROTLEN, "elsewhere");
	return b;
}

/* The /proc/self/maps entry holding p: "rw-s 2p" (pages from p to its end). */
static const char *mapinfo(const void *p, unsigned long *pages)
{
	uintptr_t a = (uintptr_t)p;
	char *b = rot();
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	snprintf(b, ROTLEN, "unmapped");
	if (pages)
		*pages = 0;
	if (!f)
		return "no-maps";
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) != 3 || a < s || a >= e)
			continue;
		snprintf(b, ROTLEN, "%s %lup%s", perm, (e - a) / PG, s == a ? "" : " STARTS-BEFORE");
		if (pages)
			*pages = (e - a) / PG;
		break;
	}
	fclose(f);
	return b;
}

static sigjmp_buf g_jb;
static volatile sig_atomic_t g_fault;

static void on_fault(int sig)
{
	g_fault = sig;
	siglongjmp(g_jb, 1);
}

/* Reads or writes one byte in this process: "ok", "SIGSEGV" or "SIGBUS". */
static const char *probe(void *p, size_t off, int wr)
{
	struct sigaction sa, o1, o2;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, &o1);
	sigaction(SIGBUS, &sa, &o2);
	g_fault = 0;
	if (sigsetjmp(g_jb, 1) == 0) {
		volatile unsigned char *c = (volatile unsigned char *)p + off;
		if (wr)
			*c = (unsigned char)(*c + 1);
		else
			(void)*c;
	}
	sigaction(SIGSEGV, &o1, NULL);
	sigaction(SIGBUS, &o2, NULL);
	return g_fault == 0 ? "ok" : g_fault == SIGSEGV ? "SIGSEGV" : "SIGBUS";
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(seed * 131 + i * 7 + 1);
}

static int same(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed * 131 + i * 7 + 1))
			return 0;
	return 1;
}

static const char *yn(int v)
{
	return v ? "yes" : "NO";
}

static int ok(const void *p)
{
	return p != (void *)-1;
}

/* ----------------------------------------------------- recorded wrappers */

static int r_get(const struct shm_impl *A, const char *what, key_t key, size_t size, int flg)
{
	errno = 0;
	int r = A->get(key, size, flg);
	int e = errno;
	track(A->kernel, r);
	rec("%sshmget(%s, %s, %s) -> %s", pre(what), keylab(key), szlab(size), getfl(flg),
	    r >= 0 ? lab(r) : rv(r, e));
	return r;
}

static void *r_at(const struct shm_impl *A, const char *what, int id, const void *addr, int flg)
{
	const char *arg = alab(addr);
	int call = sh->ncalls++;
	errno = 0;
	void *r = A->at(id, addr, flg);
	int e = errno;
	char res[160];
	if (!ok(r)) {
		snprintf(res, sizeof res, "-1 %s", en(e));
	} else {
		unsigned long pages;
		const char *mi = mapinfo(r, &pages);
		const char *name;
		if (r && g_ref && (uintptr_t)r >= g_ref && (uintptr_t)r < g_ref + REF_LEN) {
			name = alab(r);
		} else if (!r) {
			name = "0x0";
		} else if (sh->naddr < 64) {
			sh->abase[sh->naddr] = (uintptr_t)r;
			sh->aspan[sh->naddr] = (pages ? pages : 1) * PG;
			sh->acall[sh->naddr] = call;
			sh->naddr++;
			name = alab(r);
		} else {
			name = "a?";
		}
		snprintf(res, sizeof res, "%s %s [%s]", name,
			 (uintptr_t)r % PG ? "MISALIGNED" : "page-aligned", mi);
	}
	rec("%sshmat(%s, %s, %s) -> %s", pre(what), lab(id), arg, atfl(flg), res);
	return r;
}

static int r_dt(const struct shm_impl *A, const char *what, const void *addr)
{
	errno = 0;
	int r = A->dt(addr);
	int e = errno;
	rec("%sshmdt(%s) -> %s", pre(what), alab(addr), rv(r, e));
	return r;
}

static void ds_str(char *b, size_t n, const struct shmid_ds *d, int id)
{
	snprintf(b, n,
		 "segsz=%s mode=0%o uid=%u gid=%u cuid=%u cgid=%u key=%s cpid=%s lpid=%s "
		 "nattch=%lu atime=%s dtime=%s ctime=%s seq=%s",
		 szlab(d->shm_segsz), (unsigned)d->shm_perm.mode, (unsigned)d->shm_perm.uid,
		 (unsigned)d->shm_perm.gid, (unsigned)d->shm_perm.cuid,
		 (unsigned)d->shm_perm.cgid, keylab(d->shm_perm.__key), pidlab(d->shm_cpid),
		 pidlab(d->shm_lpid), (unsigned long)d->shm_nattch, tlab(d->shm_atime),
		 tlab(d->shm_dtime), tlab(d->shm_ctime),
		 d->shm_perm.__seq == (unsigned short)((unsigned)id >> g_seq_shift) ? "id>>shift"
										     : "OTHER");
}

/* IPC_STAT; the struct is copied to *out (zeroed on failure) when out != NULL. */
static int r_stat_d(const struct shm_impl *A, const char *what, int id, struct shmid_ds *out)
{
	struct shmid_ds d;
	char b[320];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(id, IPC_STAT, &d);
	int e = errno;
	if (r == 0) {
		ds_str(b, sizeof b, &d, id);
		rec("%sIPC_STAT(%s) -> 0 %s", pre(what), lab(id), b);
	} else {
		rec("%sIPC_STAT(%s) -> %s", pre(what), lab(id), rv(r, e));
		memset(&d, 0, sizeof d);
	}
	if (out)
		*out = d;
	return r;
}

static int r_stat(const struct shm_impl *A, const char *what, int id)
{
	return r_stat_d(A, what, id, NULL);
}

/* SHM_STAT / SHM_STAT_ANY at an index; idxname is how the index is printed. */
static int r_sstat(const struct shm_impl *A, const char *what, int idx, const char *idxname,
		   int cmd)
{
	struct shmid_ds d;
	char b[320];
	memset(&d, 0x5a, sizeof d);
	errno = 0;
	int r = A->ctl(idx, cmd, &d);
	int e = errno;
	const char *cn = cmd == SHM_STAT ? "SHM_STAT" : "SHM_STAT_ANY";
	if (r >= 0) {
		ds_str(b, sizeof b, &d, r);
		rec("%s%s(%s) -> %s %s", pre(what), cn, idxname, lab(r), b);
	} else {
		rec("%s%s(%s) -> %s", pre(what), cn, idxname, rv(r, e));
	}
	return r;
}

static const char *llv(long long v, int octal)
{
	char *b = rot();
	if (v == KEEP)
		return "keep";
	snprintf(b, ROTLEN, octal ? "0%llo" : "%lld", v);
	return b;
}

/* IPC_SET: start from IPC_STAT (or zeros if that fails), change the given fields. */
static int r_set(const struct shm_impl *A, const char *what, int id, long long mode, long long uid,
		 long long gid)
{
	struct shmid_ds d;
	memset(&d, 0, sizeof d);
	int base = A->ctl(id, IPC_STAT, &d) == 0;
	if (!base)
		memset(&d, 0, sizeof d);
	if (mode != KEEP)
		d.shm_perm.mode = (unsigned short)mode;
	if (uid != KEEP)
		d.shm_perm.uid = (uid_t)uid;
	if (gid != KEEP)
		d.shm_perm.gid = (gid_t)gid;
	errno = 0;
	int r = A->ctl(id, IPC_SET, &d);
	int e = errno;
	rec("%sIPC_SET(%s, mode=%s uid=%s gid=%s)%s -> %s", pre(what), lab(id), llv(mode, 1),
	    llv(uid, 0), llv(gid, 0), base ? "" : " [from zeroed buf]", rv(r, e));
	return r;
}

static const char *cmdname(int cmd)
{
	char *b = rot();
	switch (cmd) {
	case IPC_RMID: return "IPC_RMID";
	case IPC_STAT: return "IPC_STAT";
	case IPC_INFO: return "IPC_INFO";
	case SHM_INFO: return "SHM_INFO";
	case SHM_LOCK: return "SHM_LOCK";
	case SHM_UNLOCK: return "SHM_UNLOCK";
	default: snprintf(b, ROTLEN, "cmd=%d", cmd); return b;
	}
}

/* Any shmctl with a zeroed buffer; IPC_INFO/SHM_INFO print their class only. */
static int r_ctl(const struct shm_impl *A, const char *what, int id, int cmd)
{
	struct shmid_ds d;
	memset(&d, 0, sizeof d);
	errno = 0;
	int r = A->ctl(id, cmd, &d);
	int e = errno;
	const char *res = rv(r, e);
	if (r >= 0 && ((cmd & 0xff) == IPC_INFO || (cmd & 0xff) == SHM_INFO))
		res = ">=0";
	rec("%sshmctl(%s, %s) -> %s", pre(what), lab(id), cmdname(cmd), res);
	return r;
}

/* Index of segment id (for SHM_STAT), by scanning 0..SHM_INFO's top index. */
static int find_index(const struct shm_impl *A, int id)
{
	struct shm_info si;
	int top = A->ctl(0, SHM_INFO, (struct shmid_ds *)(void *)&si);
	for (int i = 0; i <= top && i < 1 << 20; i++) {
		struct shmid_ds d;
		if (A->ctl(i, SHM_STAT_ANY, &d) == id)
			return i;
	}
	return -1;
}

/* ------------------------------------------------------ child processes */

static pid_t fork_child(void)
{
	return oracle_fork(5);
}

/* Writes one byte at p+off in a forked child; records how the child ended. */
static void write_in_child(const char *what, void *p, size_t off)
{
	pid_t c = fork_child();
	if (c == 0) {
		((volatile unsigned char *)p)[off] = 1;
		_exit(0);
	}
	reap(c, what);
}

static void *addr_r(unsigned long off)
{
	return (void *)(g_ref + off);
}

/* An ordinary private anonymous page at R+off. */
static void anon_at(unsigned long off)
{
	void *m = mmap(addr_r(off), PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	rec("anonymous page mmap'ed at %s: %s", alab(addr_r(off)), yn(m == addr_r(off)));
}

/* -------------------------------------------------------------- scenarios */

/* shmget(IPC_PRIVATE) creates a new segment whatever the flags; fresh fields. */
static void sc_get_private(const struct shm_impl *A)
{
	int a = r_get(A, "", IPC_PRIVATE, 4096, 0600);
	r_stat(A, "fresh", a);
	int b = r_get(A, "CREAT|EXCL still creates", IPC_PRIVATE, 100, IPC_CREAT | IPC_EXCL | 0640);
	r_stat(A, "fresh", b);
	int c = r_get(A, "no flags still creates", IPC_PRIVATE, 1, 0);
	r_stat(A, "fresh", c);
	rec("three distinct ids: %s", yn(a != b && b != c && a != c));
	r_ctl(A, "", a, IPC_RMID);
	r_ctl(A, "", b, IPC_RMID);
	r_ctl(A, "", c, IPC_RMID);
}

/* Keys: ENOENT without CREAT, CREAT opens or creates, CREAT|EXCL is EEXIST. */
static void sc_get_keyed(const struct shm_impl *A)
{
	key_t k = osh->key[0];
	r_get(A, "absent", k, 4096, 0600);
	r_get(A, "absent, EXCL without CREAT", k, 4096, IPC_EXCL | 0600);
	int s = r_get(A, "create", k, 4096, IPC_CREAT | 0640);
	r_stat(A, "", s);
	r_get(A, "existing, flags 0", k, 4096, 0);
	r_get(A, "existing, CREAT with another mode", k, 4096, IPC_CREAT | 0606);
	r_stat(A, "mode unchanged", s);
	r_get(A, "existing, CREAT|EXCL", k, 4096, IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, CREAT|EXCL, larger size: EEXIST first", k, 8192,
	      IPC_CREAT | IPC_EXCL | 0640);
	r_get(A, "existing, EXCL only", k, 4096, IPC_EXCL);
	r_ctl(A, "", s, IPC_RMID);
	r_get(A, "after RMID", k, 4096, 0);
	int s2 = r_get(A, "re-create", k, 4096, IPC_CREAT | IPC_EXCL | 0600);
	rec("new id differs from the removed one: %s", yn(s2 != s));
	r_stat(A, "", s2);
	r_ctl(A, "", s2, IPC_RMID);
}

/* Sizes: 0 creates nothing but opens; larger than the segment is EINVAL;
 * shmmax; huge sizes need NORESERVE (overcommit accounting). */
static void sc_get_size(const struct shm_impl *A)
{
	key_t k = osh->key[0];
	r_get(A, "size 0 with CREAT", k, 0, IPC_CREAT | 0600);
	r_get(A, "size 0 PRIVATE", IPC_PRIVATE, 0, 0600);
	int s = r_get(A, "", k, 5000, IPC_CREAT | 0600);
	r_stat(A, "segsz is the size asked for", s);
	r_get(A, "size 0 opens the existing", k, 0, 0);
	r_get(A, "smaller size", k, 1, 0);
	r_get(A, "same size", k, 5000, 0);
	r_get(A, "larger size within the same page", k, 5001, 0);
	r_get(A, "larger size with CREAT", k, 8192, IPC_CREAT | 0600);
	r_ctl(A, "", s, IPC_RMID);
	int one = r_get(A, "size 1", IPC_PRIVATE, 1, 0600);
	r_stat(A, "", one);
	r_ctl(A, "", one, IPC_RMID);
	if (g_shmmax != SIZE_MAX)
		r_get(A, "above shmmax", IPC_PRIVATE, g_shmmax + 1, 0600);
	r_get(A, "", IPC_PRIVATE, SIZE_MAX, 0600);
	r_get(A, "", IPC_PRIVATE, SIZE_MAX, SHM_NORESERVE | 0600);
	int m = r_get(A, "exactly shmmax", IPC_PRIVATE, g_shmmax, 0600);
	if (m >= 0)
		r_ctl(A, "", m, IPC_RMID);
	m = r_get(A, "exactly shmmax", IPC_PRIVATE, g_shmmax, SHM_NORESERVE | 0600);
	if (m >= 0)
		r_ctl(A, "", m, IPC_RMID);
	m = r_get(A, "", IPC_PRIVATE, 1UL << 62, SHM_NORESERVE | 0600);
	if (m >= 0)
		r_ctl(A, "", m, IPC_RMID);
	r_get(A, "more than RAM+swap, accounted", IPC_PRIVATE, 1UL << 44, 0600);
	int h = r_get(A, "more than RAM+swap, NORESERVE", IPC_PRIVATE, 1UL << 44,
		      SHM_NORESERVE | 0600);
	r_stat(A, "", h);
	void *p = r_at(A, "", h, NULL, 0);
	if (ok(p)) {
		rec("write first byte: %s; last byte: %s", probe(p, 0, 1),
		    probe(p, (1UL << 44) - 1, 1));
		r_dt(A, "", p);
	}
	r_ctl(A, "", h, IPC_RMID);
	int g = r_get(A, "1 GiB, accounted", IPC_PRIVATE, 1UL << 30, 0600);
	r_stat(A, "", g);
	r_ctl(A, "", g, IPC_RMID);
}

/* As another user: the size check (EINVAL) comes before the permission
 * check (EACCES); only the mode bits asked for in shmflg are checked. */
static void sc_get_perm(const struct shm_impl *A)
{
	key_t k0 = osh->key[0], k1 = osh->key[1];
	int s0 = r_get(A, "", k0, 8192, IPC_CREAT | 0600);
	int s1 = r_get(A, "", k1, 8192, IPC_CREAT | 0644);
	r_get(A, "root asks 0777 of a 0600 segment", k0, 0, 0777);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_get(A, "larger size, no bits asked", k0, 16384, 0);
		r_get(A, "larger size and 0400 asked: size first", k0, 16384, 0400);
		r_get(A, "0400 asked of 0600", k0, 8192, 0400);
		r_get(A, "nothing asked of 0600", k0, 0, 0);
		r_get(A, "CREAT|0600 on an existing 0600", k0, 0, IPC_CREAT | 0600);
		r_get(A, "CREAT|EXCL on an existing 0600", k0, 0, IPC_CREAT | IPC_EXCL | 0600);
		static const int asks[] = { 0400, 0040, 0004, 0444, 0200, 0020, 0002, 0100, 0600, 0644 };
		for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++)
			r_get(A, "of 0644", k1, 0, asks[i]);
		r_get(A, "0644 segment, larger size and 0600 asked", k1, 9000, 0600);
		_exit(0);
	}
	reap(c, "");
	r_ctl(A, "", s0, IPC_RMID);
	r_ctl(A, "", s1, IPC_RMID);
}

/* The segment's mode is the low 9 bits of shmflg; other bits are flags. */
static void sc_get_mode(const struct shm_impl *A)
{
	static const int modes[] = { 0, 0400, 0421, 0777, 0111 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int s = r_get(A, "", IPC_PRIVATE, 4096, IPC_CREAT | modes[i]);
		r_stat(A, "", s);
		r_ctl(A, "", s, IPC_RMID);
	}
	int s = r_get(A, "unknown high flag bit", IPC_PRIVATE, 4096, 0x100000 | 0640);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
	s = r_get(A, "size log without HUGETLB", IPC_PRIVATE, 4096, HUGE_LOG(21) | 0640);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
	s = r_get(A, "NORESERVE alone", IPC_PRIVATE, 4096, SHM_NORESERVE | 0604);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
}

/* SHM_HUGETLB: whatever this machine's kernel answers (hugepage pools,
 * size logs 21/30 valid, 25 not); another user is refused. */
static void sc_hugetlb(const struct shm_impl *A)
{
	const size_t m2 = 2UL << 20;
	r_get(A, "2 MiB huge", IPC_PRIVATE, m2, SHM_HUGETLB | 0600);
	int s = r_get(A, "2 MiB huge NORESERVE", IPC_PRIVATE, m2, SHM_HUGETLB | SHM_NORESERVE | 0600);
	r_stat(A, "", s);
	void *p = r_at(A, "", s, NULL, 0);
	if (ok(p)) {
		rec("2 MiB aligned: %s", yn((uintptr_t)p % m2 == 0));
		rec("~touching it: %s", probe(p, 0, 0));
		void *m = r_at(A, "misaligned for huge pages", s, addr_r(PG), 0);
		if (ok(m))
			r_dt(A, "", m);
		r_dt(A, "", p);
	}
	r_ctl(A, "", s, IPC_RMID);
	s = r_get(A, "5000 bytes huge NORESERVE", IPC_PRIVATE, 5000, SHM_HUGETLB | SHM_NORESERVE | 0600);
	r_stat(A, "", s);
	p = r_at(A, "", s, NULL, 0);
	if (ok(p))
		r_dt(A, "", p);
	r_ctl(A, "", s, IPC_RMID);
	r_get(A, "HUGE_2MB", IPC_PRIVATE, m2, SHM_HUGETLB | HUGE_LOG(21) | 0600);
	s = r_get(A, "HUGE_2MB NORESERVE", IPC_PRIVATE, m2,
		  SHM_HUGETLB | SHM_NORESERVE | HUGE_LOG(21) | 0600);
	r_ctl(A, "", s, IPC_RMID);
	r_get(A, "HUGE_1GB", IPC_PRIVATE, 1UL << 30, SHM_HUGETLB | HUGE_LOG(30) | 0600);
	s = r_get(A, "HUGE_1GB NORESERVE", IPC_PRIVATE, 1UL << 30,
		  SHM_HUGETLB | SHM_NORESERVE | HUGE_LOG(30) | 0600);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
	r_get(A, "size log 25 (no such size)", IPC_PRIVATE, m2,
	      SHM_HUGETLB | SHM_NORESERVE | HUGE_LOG(25) | 0600);
	r_get(A, "size log 25 without NORESERVE", IPC_PRIVATE, m2,
	      SHM_HUGETLB | HUGE_LOG(25) | 0600);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		s = r_get(A, "huge NORESERVE as 65534", IPC_PRIVATE, m2,
			  SHM_HUGETLB | SHM_NORESERVE | 0600);
		if (s >= 0)
			r_ctl(A, "", s, IPC_RMID);
		_exit(0);
	}
	reap(c, "");
}

/* A new segment reads as zeros (also one re-created under the same key);
 * attachments share the bytes; the mapping is whole pages. */
static void sc_contents(const struct shm_impl *A)
{
	key_t k = osh->key[0];
	const size_t n = 3 * PG + 100;
	int s = r_get(A, "", k, n, IPC_CREAT | 0600);
	void *p = r_at(A, "", s, NULL, 0);
	if (!ok(p))
		return;
	rec("new segment all zeros, whole last page too: %s", yn(is_zero(p, 4 * PG)));
	fill(p, n, 1);
	r_dt(A, "", p);
	p = r_at(A, "re-attach", s, NULL, 0);
	if (!ok(p))
		return;
	rec("contents kept across detach: %s", yn(same(p, n, 1)));
	void *q = r_at(A, "second attachment", s, addr_r(0), 0);
	if (!ok(q))
		return;
	rec("second attachment sees the same bytes: %s", yn(same(q, n, 1)));
	fill(q, n, 2);
	rec("a write through one is seen through the other: %s", yn(same(p, n, 2)));
	r_dt(A, "", p);
	r_dt(A, "", q);
	r_ctl(A, "", s, IPC_RMID);
	s = r_get(A, "re-create under the same key", k, n, IPC_CREAT | 0600);
	p = r_at(A, "", s, NULL, 0);
	if (!ok(p))
		return;
	rec("re-created segment all zeros: %s", yn(is_zero(p, 4 * PG)));
	r_dt(A, "", p);
	r_ctl(A, "", s, IPC_RMID);

	s = r_get(A, "5000 bytes", IPC_PRIVATE, 5000, 0600);
	p = r_at(A, "", s, addr_r(0x100000), 0);
	if (!ok(p))
		return;
	rec("bytes 5000..8191 zero: %s", yn(is_zero((char *)p + 5000, 8192 - 5000)));
	rec("write the last byte of the last page: %s", probe(p, 8191, 1));
	rec("read one byte past the last page: %s", probe(p, 8192, 0));
	q = r_at(A, "", s, addr_r(0x200000), 0);
	if (ok(q))
		rec("the tail byte is shared too: %s", yn(((unsigned char *)q)[8191] == 1));
	r_dt(A, "", p);
	r_dt(A, "", q);
	r_ctl(A, "", s, IPC_RMID);
}

/* shmat addresses: system-chosen, given, misaligned (EINVAL), SHM_RND,
 * SHM_REMAP (over an anonymous mapping and over another attachment; not
 * with NULL), overlapping without SHM_REMAP (EINVAL), protections. */
static void sc_at_addr(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 8192, 0600);
	int s3 = r_get(A, "", IPC_PRIVATE, 3 * PG, 0600);
	void *sys = r_at(A, "system chooses", s, NULL, 0);
	r_at(A, "given free page-aligned", s, addr_r(0), 0);
	r_at(A, "misaligned", s, addr_r(0x10000 + 0x1234), 0);
	r_at(A, "misaligned, RND", s, addr_r(0x10000 + 0x1234), SHM_RND);
	void *rnd0 = r_at(A, "NULL with RND", s, NULL, SHM_RND);
	r_at(A, "REMAP with NULL", s, NULL, SHM_REMAP);
	r_at(A, "below one page, RND|REMAP", s, (void *)0x123, SHM_RND | SHM_REMAP);
	r_at(A, "below one page, no RND", s, (void *)0x123, 0);
	void *low = r_at(A, "below one page, RND: rounds down to 0", s, (void *)0x123, SHM_RND);
	if (ok(low))
		r_dt(A, "", low);
	low = r_at(A, "low address 0x1000", s, (void *)0x1000, 0);
	if (ok(low))
		r_dt(A, "", low);
	r_at(A, "beyond user space", s, (void *)0xffffffffffe00000UL, 0);
	if (g_root) {
		int w = r_get(A, "", IPC_PRIVATE, PG, 0666);
		pid_t c = fork_child();
		if (c == 0) {
			rec("drop to 65534: %s", become_nobody_told(A->kernel));
			void *z = r_at(A, "as 65534, RND rounds down to 0", w, (void *)0x123, SHM_RND);
			if (ok(z))
				r_dt(A, "", z);
			_exit(0);
		}
		reap(c, "");
		r_ctl(A, "", w, IPC_RMID);
	}
	r_stat(A, "", s);
	r_at(A, "overlaps an attachment, no REMAP", s3, addr_r(PG), 0);
	r_at(A, "ends inside an attachment, no REMAP", s3, addr_r(0x11000 - 2 * PG), 0);
	anon_at(0x30000);
	r_at(A, "on an anonymous mapping, no REMAP", s, addr_r(0x30000), 0);
	rec("anonymous page still there: %s", mapinfo(addr_r(0x30000), NULL));
	r_at(A, "on an anonymous mapping, REMAP", s, addr_r(0x30000), SHM_REMAP);
	r_stat(A, "one more", s);
	r_at(A, "REMAP over an attachment of another segment", s3, addr_r(0), SHM_REMAP);
	r_stat(A, "the attachment replaced is gone", s);
	r_stat(A, "", s3);
	r_dt(A, "detaches the 3-page segment", addr_r(0));
	rec("R+0 now: %s", mapinfo(addr_r(0), NULL));
	r_stat(A, "", s3);
	void *x = r_at(A, "EXEC", s, NULL, SHM_EXEC);
	void *ro = r_at(A, "RDONLY", s, NULL, SHM_RDONLY);
	void *rx = r_at(A, "RDONLY|EXEC", s, NULL, SHM_RDONLY | SHM_EXEC);
	void *odd = r_at(A, "unknown flag bit", s, NULL, 0x1000000);
	if (ok(ro)) {
		rec("read through RDONLY: %s", probe(ro, 100, 0));
		write_in_child("write through RDONLY", ro, 100);
	}
	r_stat(A, "", s);
	void *all[] = { sys, rnd0, x, ro, rx, odd, addr_r(0x11000), addr_r(0x30000) };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (ok(all[i]))
			r_dt(A, "", all[i]);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
	r_ctl(A, "", s3, IPC_RMID);
}

/* SHM_REMAP over the middle page of a 3-page attachment splits it: the
 * kernel counts each piece as an attachment; shmdt at the start removes
 * every piece of that segment. */
static void sc_remap_split(const struct shm_impl *A)
{
	int s1 = r_get(A, "", IPC_PRIVATE, 3 * PG, 0600);
	int s2 = r_get(A, "", IPC_PRIVATE, PG, 0600);
	r_at(A, "", s1, addr_r(0x50000), 0);
	r_at(A, "middle page", s2, addr_r(0x51000), SHM_REMAP);
	rec("R+0x50000: %s; R+0x52000: %s", mapinfo(addr_r(0x50000), NULL),
	    mapinfo(addr_r(0x52000), NULL));
	/*
	 * Informational: the kernel counts each piece of a split attachment
	 * (nattch 2, and dtime for the piece replaced); svipc counts the
	 * attachment once (README, "Differences from the kernel").
	 */
	r_stat(A, "~split attachment", s1);
	r_stat(A, "", s2);
	r_dt(A, "", addr_r(0x51000));
	r_dt(A, "tail piece is not an attachment start", addr_r(0x52000));
	r_dt(A, "", addr_r(0x50000));
	rec("R+0x52000 after: %s", mapinfo(addr_r(0x52000), NULL));
	r_stat(A, "", s1);
	r_ctl(A, "", s1, IPC_RMID);
	r_ctl(A, "", s2, IPC_RMID);
}

/* shmat of bad ids is EINVAL; a segment marked for removal stays
 * attachable by id until its last detach. */
static void sc_at_ids(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, PG, 0600);
	r_at(A, "", -1, NULL, 0);
	r_at(A, "", INT_MIN, NULL, 0);
	r_at(A, "", HUGE_ID, NULL, 0);
	r_ctl(A, "", s, IPC_RMID);
	r_at(A, "removed", s, NULL, 0);
	key_t k = osh->key[0];
	int s2 = r_get(A, "", k, PG, IPC_CREAT | 0600);
	void *p = r_at(A, "", s2, NULL, 0);
	r_ctl(A, "", s2, IPC_RMID);
	void *q = r_at(A, "marked for removal", s2, NULL, 0);
	r_stat(A, "", s2);
	r_get(A, "old key", k, PG, 0);
	if (ok(p))
		r_dt(A, "", p);
	r_stat(A, "", s2);
	if (ok(q))
		r_dt(A, "last detach", q);
	r_stat(A, "destroyed", s2);
	r_at(A, "destroyed", s2, NULL, 0);
}

/* shmdt detaches exactly the attachment starting at that address. */
static void sc_dt(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 3 * PG, 0600);
	void *p1 = r_at(A, "", s, addr_r(0), 0);
	void *p2 = r_at(A, "", s, addr_r(0x10000), 0);
	if (!ok(p1) || !ok(p2))
		return;
	fill(p1, 3 * PG, 3);
	r_stat(A, "", s);
	r_dt(A, "inside an attachment", addr_r(PG));
	r_dt(A, "misaligned", addr_r(1));
	r_dt(A, "just past an attachment", addr_r(0x10000 + 3 * PG));
	r_dt(A, "", NULL);
	anon_at(0x20000);
	r_dt(A, "anonymous mapping", addr_r(0x20000));
	rec("anonymous page still there: %s", mapinfo(addr_r(0x20000), NULL));
	r_dt(A, "", p1);
	r_stat(A, "", s);
	rec("R+0: %s; R+0x10000: %s", mapinfo(addr_r(0), NULL), mapinfo(addr_r(0x10000), NULL));
	rec("other attachment still has the bytes: %s", yn(same(p2, 3 * PG, 3)));
	r_dt(A, "already detached", p1);
	r_dt(A, "", p2);
	r_stat(A, "", s);
	r_ctl(A, "", s, IPC_RMID);
}

/* IPC_STAT fields over time: atime/lpid by shmat, dtime/lpid by shmdt,
 * ctime by creation and IPC_SET; which calls leave which alone. Calls are
 * 1.1 s apart and each time field is named by the call that set it. */
static void sc_times(const struct shm_impl *A)
{
	struct shmid_ds d0, d1, d2, d3, d4;
	ev_begin("create");
	int s = r_get(A, "", osh->key[0], 5000, IPC_CREAT | 0640);
	ev_end();
	r_stat_d(A, "fresh", s, &d0);
	sleep_ms(1100);
	ev_begin("attach");
	void *p = r_at(A, "", s, NULL, 0);
	ev_end();
	r_stat_d(A, "", s, &d1);
	rec("atime > ctime: %s; ctime kept: %s", yn(d1.shm_atime > d0.shm_ctime),
	    yn(d1.shm_ctime == d0.shm_ctime));
	sleep_ms(1100);
	ev_begin("detach");
	if (ok(p))
		r_dt(A, "", p);
	ev_end();
	r_stat_d(A, "", s, &d2);
	rec("dtime > atime: %s; atime kept: %s; ctime kept: %s", yn(d2.shm_dtime > d1.shm_atime),
	    yn(d2.shm_atime == d1.shm_atime), yn(d2.shm_ctime == d0.shm_ctime));
	sleep_ms(1100);
	ev_begin("lock+failures");
	r_ctl(A, "", s, SHM_LOCK);
	r_ctl(A, "", s, SHM_UNLOCK);
	r_at(A, "fails", s, addr_r(1), 0);
	r_dt(A, "fails", addr_r(0));
	r_stat_d(A, "", s, &d3);
	ev_end();
	rec("after LOCK/UNLOCK and failed calls: ctime kept: %s; atime kept: %s; dtime kept: %s",
	    yn(d3.shm_ctime == d2.shm_ctime), yn(d3.shm_atime == d2.shm_atime),
	    yn(d3.shm_dtime == d2.shm_dtime));
	sleep_ms(1100);
	ev_begin("IPC_SET");
	r_set(A, "", s, 0600, KEEP, KEEP);
	ev_end();
	r_stat_d(A, "", s, &d4);
	rec("IPC_SET: ctime > before: %s; atime kept: %s; dtime kept: %s",
	    yn(d4.shm_ctime > d3.shm_ctime), yn(d4.shm_atime == d3.shm_atime),
	    yn(d4.shm_dtime == d3.shm_dtime));
	sleep_ms(1100);
	ev_begin("child");
	pid_t c = fork_child();
	if (c == 0) {
		void *cp = A->at(s, NULL, SHM_RDONLY);
		rec("child attaches: %s", yn(ok(cp)));
		r_stat(A, "in the child", s);
		if (ok(cp))
			A->dt(cp);
		_exit(0);
	}
	reap(c, "");
	ev_end();
	r_stat(A, "lpid is the child", s);
	r_ctl(A, "", s, IPC_RMID);
}

/* IPC_SET changes uid, gid and the low 9 mode bits only (SHM_LOCKED and
 * SHM_DEST stay); owner or creator (or root) only; invalid ids rejected. */
static void sc_set(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, PG, 0640);
	r_set(A, "mode 07777: low 9 bits only", s, 07777, KEEP, KEEP);
	r_stat(A, "", s);
	r_set(A, "", s, 0600, 1234, 5678);
	r_stat(A, "cuid/cgid unchanged", s);
	r_set(A, "uid -1", s, KEEP, (uid_t)-1, KEEP);
	r_set(A, "gid -1", s, KEEP, KEEP, (gid_t)-1);
	r_stat(A, "unchanged", s);
	r_ctl(A, "", s, SHM_LOCK);
	r_set(A, "while locked", s, 0644, KEEP, KEEP);
	r_stat(A, "SHM_LOCKED kept", s);
	r_ctl(A, "", s, SHM_UNLOCK);
	void *p = r_at(A, "", s, NULL, 0);
	r_ctl(A, "", s, IPC_RMID);
	r_set(A, "marked for removal", s, 0604, KEEP, KEEP);
	r_stat(A, "SHM_DEST kept", s);
	if (ok(p))
		r_dt(A, "", p);

	int o = r_get(A, "root's", IPC_PRIVATE, PG, 0666);
	int g = r_get(A, "given to 65534", IPC_PRIVATE, PG, 0600);
	r_set(A, "", g, KEEP, NOBODY_UID, KEEP);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_set(A, "not owner", o, 0600, KEEP, KEEP);
		r_ctl(A, "not owner", o, IPC_RMID);
		r_stat(A, "", o);
		r_set(A, "owner", g, 0640, KEEP, NOBODY_GID);
		r_stat(A, "", g);
		r_set(A, "owner gives it back to 0", g, 0644, 0, KEEP);
		r_set(A, "no longer owner", g, 0666, KEEP, KEEP);
		r_ctl(A, "no longer owner", g, IPC_RMID);
		int m = r_get(A, "created by 65534", IPC_PRIVATE, PG, 0600);
		sh->v[0] = m;
		_exit(0);
	}
	reap(c, "");
	int m = sh->v[0];
	r_set(A, "root takes 65534's", m, KEEP, 0, 0);
	c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_set(A, "creator, not owner", m, 0644, KEEP, KEEP);
		r_ctl(A, "creator, not owner", m, IPC_RMID);
		r_stat(A, "removed", m);
		_exit(0);
	}
	reap(c, "");
	r_ctl(A, "", o, IPC_RMID);
	r_ctl(A, "", g, IPC_RMID);
}

/* IPC_RMID without attachments destroys; with attachments it marks
 * (SHM_DEST, key 0, key free for a new segment) until the last detach. */
static void sc_rmid(const struct shm_impl *A)
{
	key_t k = osh->key[0];
	int s = r_get(A, "", k, PG, IPC_CREAT | 0600);
	r_ctl(A, "no attachments", s, IPC_RMID);
	r_stat(A, "", s);
	r_ctl(A, "twice", s, IPC_RMID);
	r_get(A, "", k, PG, 0);
	s = r_get(A, "", k, 2 * PG, IPC_CREAT | 0640);
	void *p = r_at(A, "", s, NULL, 0);
	void *q = r_at(A, "", s, NULL, SHM_RDONLY);
	r_ctl(A, "with two attachments", s, IPC_RMID);
	r_stat(A, "marked", s);
	r_ctl(A, "twice while attached", s, IPC_RMID);
	r_stat(A, "", s);
	r_get(A, "old key", k, PG, 0);
	int n = r_get(A, "a new segment under the old key", k, PG, IPC_CREAT | IPC_EXCL | 0600);
	rec("new id differs: %s", yn(n != s));
	r_stat(A, "", n);
	int idx = find_index(A, s);
	rec("marked segment has an index: %s", yn(idx >= 0));
	if (idx >= 0)
		r_sstat(A, "", idx, "idx(marked)", SHM_STAT);
	if (ok(p))
		r_dt(A, "", p);
	r_stat(A, "one attachment left", s);
	if (ok(q))
		r_dt(A, "last detach", q);
	r_stat(A, "destroyed", s);
	r_ctl(A, "destroyed", s, IPC_RMID);
	r_ctl(A, "", n, IPC_RMID);
}

/* IPC_INFO (struct shminfo = the limits) and SHM_INFO (usage); both
 * return the highest index in use. */
static void sc_info(const struct shm_impl *A)
{
	int ids[3];
	ids[0] = r_get(A, "", IPC_PRIVATE, 5000, 0600);
	ids[1] = r_get(A, "", IPC_PRIVATE, 1, 0600);
	ids[2] = r_get(A, "", IPC_PRIVATE, 3 * PG, 0600);
	void *p = r_at(A, "", ids[2], NULL, 0);
	if (ok(p))
		memset(p, 1, 3 * PG);
	int maxidx = -1;
	for (int i = 0; i < 3; i++) {
		int x = find_index(A, ids[i]);
		if (x > maxidx)
			maxidx = x;
	}
	rec("our segments have indexes: %s", yn(maxidx >= 0));
	static const int ids_to_try[] = { 0, -1, INT_MAX };
	for (size_t j = 0; j < 3; j++) {
		struct shminfo mi;
		memset(&mi, 0x5a, sizeof mi);
		errno = 0;
		int r = A->ctl(ids_to_try[j], IPC_INFO, (struct shmid_ds *)(void *)&mi);
		int e = errno;
		if (r < 0) {
			rec("IPC_INFO(id %d) -> %s", ids_to_try[j], rv(r, e));
			continue;
		}
		rec("IPC_INFO(id %d) -> >= our highest index: %s; shmmax %s shmall %s shmmni %s "
		    "shmmin=%lu shmseg=%lu",
		    ids_to_try[j], yn(r >= maxidx), mi.shmmax == g_shmmax ? "=proc" : "DIFFERS",
		    mi.shmall == g_shmall ? "=proc" : "DIFFERS",
		    mi.shmmni == g_shmmni ? "=proc" : "DIFFERS", (unsigned long)mi.shmmin,
		    (unsigned long)mi.shmseg);
		struct shmid_ds d;
		rec("~IPC_INFO's index is in use: %s", yn(A->ctl(r, SHM_STAT_ANY, &d) >= 0));
	}
	struct shm_info si;
	memset(&si, 0x5a, sizeof si);
	errno = 0;
	int r = A->ctl(0, SHM_INFO, (struct shmid_ds *)(void *)&si);
	int e = errno;
	if (r < 0) {
		rec("SHM_INFO -> %s", rv(r, e));
	} else {
		rec("SHM_INFO -> >= our highest index: %s; used_ids >= 3: %s; shm_tot >= 6 pages: %s; "
		    "shm_rss >= 3 pages: %s",
		    yn(r >= maxidx), yn(si.used_ids >= 3), yn(si.shm_tot >= 6), yn(si.shm_rss >= 3));
		rec("~SHM_INFO swap: shm_swp=%lu swap_attempts=%lu swap_successes=%lu",
		    (unsigned long)si.shm_swp, (unsigned long)si.swap_attempts,
		    (unsigned long)si.swap_successes);
	}
	if (ok(p))
		r_dt(A, "", p);
	for (int i = 0; i < 3; i++)
		r_ctl(A, "", ids[i], IPC_RMID);
}

/* SHM_STAT / SHM_STAT_ANY take an index and return the full id;
 * SHM_STAT needs read permission, SHM_STAT_ANY does not. */
static void sc_shm_stat(const struct shm_impl *A)
{
	int s = r_get(A, "", osh->key[0], PG, IPC_CREAT | 0600);
	int t = r_get(A, "", IPC_PRIVATE, PG, 0644);
	int is = find_index(A, s), it = find_index(A, t);
	rec("indexes found: %s", yn(is >= 0 && it >= 0));
	r_sstat(A, "", is, "idx(s0)", SHM_STAT);
	r_sstat(A, "", is, "idx(s0)", SHM_STAT_ANY);
	r_sstat(A, "", -1, "-1", SHM_STAT);
	r_sstat(A, "", -1, "-1", SHM_STAT_ANY);
	r_sstat(A, "", 32767, "32767", SHM_STAT);
	if (is >= 0)
		r_sstat(A, "index bits above 15", is + 32768, "idx(s0)+32768", SHM_STAT_ANY);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_sstat(A, "0600", is, "idx(s0)", SHM_STAT);
		r_sstat(A, "0600", is, "idx(s0)", SHM_STAT_ANY);
		r_sstat(A, "0644", it, "idx(s1)", SHM_STAT);
		r_stat(A, "0600", s);
		r_stat(A, "0644", t);
		_exit(0);
	}
	reap(c, "");
	r_ctl(A, "", s, IPC_RMID);
	r_sstat(A, "removed", is, "idx(s0)", SHM_STAT_ANY);
	r_ctl(A, "", t, IPC_RMID);
}

/* SHM_LOCK/SHM_UNLOCK set/clear SHM_LOCKED; as another user: owner or
 * creator only, and SHM_LOCK within RLIMIT_MEMLOCK (0 = EPERM). */
static void sc_lock(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 4 * PG, 0600);
	r_ctl(A, "", s, SHM_LOCK);
	r_stat(A, "", s);
	r_ctl(A, "again", s, SHM_LOCK);
	r_ctl(A, "", s, SHM_UNLOCK);
	r_stat(A, "", s);
	r_ctl(A, "again", s, SHM_UNLOCK);
	r_ctl(A, "", -1, SHM_LOCK);
	r_ctl(A, "", HUGE_ID, SHM_UNLOCK);
	int o = r_get(A, "root's", IPC_PRIVATE, 4 * PG, 0666);
	r_ctl(A, "root's, locked by root", o, SHM_LOCK);
	int mine = r_get(A, "4 pages for 65534", IPC_PRIVATE, 4 * PG, 0600);
	int big = r_get(A, "32 pages for 65534", IPC_PRIVATE, 32 * PG, 0600);
	r_set(A, "", mine, KEEP, NOBODY_UID, KEEP);
	r_set(A, "", big, KEEP, NOBODY_UID, KEEP);
	pid_t c = fork_child();
	if (c == 0) {
		struct rlimit rl = { 16 * PG, 16 * PG };
		rec("RLIMIT_MEMLOCK 16 pages: %s", setrlimit(RLIMIT_MEMLOCK, &rl) == 0 ? "ok" : "failed");
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		r_ctl(A, "not owner", s, SHM_LOCK);
		r_ctl(A, "not owner", o, SHM_UNLOCK);
		r_ctl(A, "owner, within the limit", mine, SHM_LOCK);
		r_stat(A, "", mine);
		r_ctl(A, "owner, over the limit", big, SHM_LOCK);
		r_stat(A, "", big);
		r_ctl(A, "owner", mine, SHM_UNLOCK);
		rl.rlim_cur = 0;
		rec("RLIMIT_MEMLOCK 0: %s", setrlimit(RLIMIT_MEMLOCK, &rl) == 0 ? "ok" : "failed");
		r_ctl(A, "owner, limit 0", mine, SHM_LOCK);
		r_ctl(A, "owner, limit 0", mine, SHM_UNLOCK);
		_exit(0);
	}
	reap(c, "");
	r_stat(A, "", mine);
	r_stat(A, "still locked", o);
	r_ctl(A, "", o, SHM_UNLOCK);
	r_ctl(A, "", s, IPC_RMID);
	r_ctl(A, "", o, IPC_RMID);
	r_ctl(A, "", mine, IPC_RMID);
	r_ctl(A, "", big, IPC_RMID);
}

/* Unknown commands and negative or unknown ids. */
static void sc_bad_ctl(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, PG, 0600);
	static const int cmds[] = { 99, -1, 16, 4, 10, IPC_STAT | 0x100, IPC_RMID | 0x200 };
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		r_ctl(A, "", s, cmds[i]);
	r_stat(A, "still there", s);
	static const int badids[] = { -1, INT_MIN, HUGE_ID };
	for (size_t i = 0; i < 3; i++) {
		r_stat(A, "", badids[i]);
		r_set(A, "", badids[i], 0600, KEEP, KEEP);
		r_ctl(A, "", badids[i], IPC_RMID);
		r_ctl(A, "", badids[i], SHM_UNLOCK);
		r_ctl(A, "", badids[i], 99);
	}
	r_ctl(A, "", -1, IPC_INFO);
	r_ctl(A, "", -1, SHM_INFO);
	r_ctl(A, "", s, IPC_RMID);
}

/* fork inherits attachments (nattch counts them; the kernel's fork sets
 * atime and lpid to the parent); exit, exec, kill and shmdt in the child
 * drop them (lpid = child); the last one gone destroys a marked segment. */
static void sc_fork(const struct shm_impl *A)
{
	int s = r_get(A, "", IPC_PRIVATE, 2 * PG, 0600);
	void *p = r_at(A, "", s, NULL, 0);
	if (!ok(p))
		return;
	fill(p, 2 * PG, 4);
	r_stat(A, "runner attached", s);
	pid_t c = fork_child();
	if (c == 0) {
		r_stat(A, "in the child", s);
		rec("child sees the bytes: %s", yn(same(p, 2 * PG, 4)));
		((unsigned char *)p)[7] = 0xee;
		_exit(0);
	}
	reap(c, "exits");
	r_stat(A, "", s);
	rec("runner sees the child's write: %s", yn(((unsigned char *)p)[7] == 0xee));
	c = fork_child();
	if (c == 0) {
		r_dt(A, "child detaches the inherited attachment", p);
		r_stat(A, "in the child", s);
		r_dt(A, "again", p);
		_exit(0);
	}
	reap(c, "");
	r_stat(A, "", s);
	c = fork_child();
	if (c == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	reap(c, "execs /bin/true");
	r_stat(A, "", s);
	c = fork_child();
	if (c == 0) {
		raise(SIGKILL);
		_exit(0);
	}
	reap(c, "");
	r_stat(A, "", s);
	c = fork_child();
	if (c == 0) {
		void *q = r_at(A, "child attaches again", s, NULL, 0);
		r_stat(A, "in the child", s);
		_exit(ok(q) ? 0 : 1);
	}
	reap(c, "exits attached twice");
	r_stat(A, "", s);
	c = fork_child();
	if (c == 0) {
		void *q = A->at(s, NULL, 0);
		sh->v[0] = ok(q);
		signal(SIGUSR1, SIG_DFL);
		for (;;)
			pause();
	}
	for (int i = 0; i < 400 && sh->v[0] < 0; i++)
		sleep_ms(5);
	rec("child holds an attachment: %s", yn(sh->v[0] == 1));
	r_dt(A, "", p);
	r_ctl(A, "", s, IPC_RMID);
	r_stat(A, "only the child's attachments left", s);
	kill(c, SIGUSR1);
	reap(c, "");
	r_stat(A, "destroyed with the child", s);
}

/* Permissions as uid 65534: SHM_RDONLY needs read, read-write needs read
 * and write, SHM_EXEC also execute; the owner class and group class
 * decide alone; root's CAP_IPC_OWNER skips all of it. */
static void sc_perm_at(const struct shm_impl *A)
{
	static const int modes[] = { 0400, 0600, 0644, 0666, 0777, 0604, 0002, 0005 };
	enum { NM = sizeof modes / sizeof modes[0] };
	int ids[NM];
	for (int i = 0; i < NM; i++)
		ids[i] = r_get(A, "", IPC_PRIVATE, PG, modes[i]);
	int own = r_get(A, "owner 65534, mode 0400", IPC_PRIVATE, PG, 0400);
	r_set(A, "", own, KEEP, NOBODY_UID, KEEP);
	int own2 = r_get(A, "owner 65534, mode 0066", IPC_PRIVATE, PG, 0066);
	r_set(A, "", own2, KEEP, NOBODY_UID, KEEP);
	int grp = r_get(A, "group 65534, mode 0040", IPC_PRIVATE, PG, 0040);
	r_set(A, "", grp, KEEP, KEEP, NOBODY_GID);
	void *p = r_at(A, "root, EXEC on 0400", ids[0], NULL, SHM_EXEC);
	if (ok(p))
		r_dt(A, "", p);
	pid_t c = fork_child();
	if (c == 0) {
		rec("drop to 65534: %s", become_nobody_told(A->kernel));
		static const int flags[] = { SHM_RDONLY, 0, SHM_EXEC, SHM_RDONLY | SHM_EXEC };
		int all[NM + 3];
		memcpy(all, ids, sizeof ids);
		all[NM] = own;
		all[NM + 1] = own2;
		all[NM + 2] = grp;
		for (int i = 0; i < NM + 3; i++)
			for (size_t f = 0; f < 4; f++) {
				void *q = r_at(A, "", all[i], NULL, flags[f]);
				if (ok(q))
					A->dt(q);
			}
		_exit(0);
	}
	reap(c, "");
	for (int i = 0; i < NM; i++)
		r_ctl(A, "", ids[i], IPC_RMID);
	r_ctl(A, "", own, IPC_RMID);
	r_ctl(A, "", own2, IPC_RMID);
	r_ctl(A, "", grp, IPC_RMID);
}

/* ------------------------------------------------------------- the runner */

struct scenario {
	const char *name;
	void (*fn)(const struct shm_impl *);
	int root; /* needs root (drops to 65534 in a child) */
};

static const struct scenario scenarios[] = {
	{ "shmget_private", sc_get_private, 0 },
	{ "shmget_keyed", sc_get_keyed, 0 },
	{ "shmget_size", sc_get_size, 0 },
	{ "shmget_perm", sc_get_perm, 1 },
	{ "shmget_mode", sc_get_mode, 0 },
	{ "shmget_hugetlb", sc_hugetlb, 1 },
	{ "contents", sc_contents, 0 },
	{ "shmat_addr", sc_at_addr, 0 },
	{ "shmat_remap_split", sc_remap_split, 0 },
	{ "shmat_ids", sc_at_ids, 0 },
	{ "shmdt", sc_dt, 0 },
	{ "times_and_pids", sc_times, 0 },
	{ "ipc_set", sc_set, 1 },
	{ "ipc_rmid", sc_rmid, 0 },
	{ "info", sc_info, 0 },
	{ "shm_stat", sc_shm_stat, 1 },
	{ "shm_lock", sc_lock, 1 },
	{ "bad_ctl", sc_bad_ctl, 0 },
	{ "fork_exit_exec", sc_fork, 0 },
	{ "perm_shmat", sc_perm_at, 1 },
};

static const struct scenario *g_sc; /* the one side() runs */

/* One side of g_sc, in its runner. */
static void side(int kernel)
{
	sh->naddr = 0;
	sh->ncalls = 0;
	memset(sh->v, -1, sizeof sh->v);
	g_sc->fn(kernel ? &K : &S);
}

/* A 1 GiB range nothing uses, far below where mmap places things. */
static uintptr_t find_ref(void)
{
	for (uintptr_t a = 0x300000000000UL; a < 0x400000000000UL; a += 0x10000000000UL) {
		void *m = mmap((void *)a, REF_LEN, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (m == (void *)a) {
			munmap(m, REF_LEN);
			return a;
		}
		if (m != MAP_FAILED)
			munmap(m, REF_LEN);
	}
	return 0;
}

int main(void)
{
	t_setup(150);
	g_shmmax = read_proc("/proc/sys/kernel/shmmax");
	g_shmall = read_proc("/proc/sys/kernel/shmall");
	g_shmmni = read_proc("/proc/sys/kernel/shmmni");
	if (!g_shmmax || !g_shmall || !g_shmmni) {
		fprintf(stderr, "cannot read /proc/sys/kernel/shm*\n");
		return 1;
	}
	if (sysconf(_SC_PAGESIZE) != (long)PG) {
		printf("page size is not 4096: skipped\n");
		return 77;
	}
	g_ref = find_ref();
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!g_ref || sh == MAP_FAILED || oracle_init() != 0) {
		fprintf(stderr, "setup failed (reference region %#lx)\n", (unsigned long)g_ref);
		return 1;
	}

	{
		int s = shmget(IPC_PRIVATE, PG, 0600);
		int rc = first_kernel_object(s, "kernel shmget");
		if (rc)
			return rc;
		struct shmid_ds d;
		if (shmctl(s, IPC_STAT, &d) == 0)
			learn_seq_shift(s, d.shm_perm.__seq);
		kclean();
	}

	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		const struct scenario *sc = &scenarios[i];
		if (skip_unless_root(sc->name, sc->root))
			continue;
		g_sc = sc;
		run_sides(side, 0x5d000000u, 15);
		compare_diff(sc->name);
	}
	return oracle_done();
}

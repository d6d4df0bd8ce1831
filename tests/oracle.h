/*
 * oracle.h - the machinery the kernel-as-oracle tests share
 * (test_msg_oracle.c, test_shm_oracle.c, test_sem_oracle.c): a transcript
 * in MAP_SHARED memory that runners and their children append to, the
 * labels that make two transcripts comparable (ids, keys, pids, errno
 * names), each side of a scenario in its own forked runner, the two
 * compared, and the kernel's objects removed after every scenario, at exit
 * and from fatal signals.
 *
 * The includer defines, before the include, TLINES (transcript capacity),
 * ORACLE_NIDS (ids labelled and kernel objects tracked per scenario) and
 * ORACLE_NAME_WIDTH (the column of scenario names in the summary), and
 * defines the three functions declared under "the includer's" below.
 */
#ifndef SVIPC_TEST_ORACLE_H
#define SVIPC_TEST_ORACLE_H

#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#if !defined(TLINES) || !defined(ORACLE_NIDS) || !defined(ORACLE_NAME_WIDTH)
#error "define TLINES, ORACLE_NIDS and ORACLE_NAME_WIDTH before including oracle.h"
#endif

#define TLEN 320
#define ROTLEN 128 /* each of rot()'s buffers */
#define KEEP LLONG_MIN
#define NOBODY_UID 65534
#define NOBODY_GID 65534

struct transcript {
	int n;
	char line[TLINES][TLEN];
};

/* What runners and their children share with the main process. */
struct oracle_shared {
	struct transcript t;
	int ids[ORACLE_NIDS]; /* label table: ids[i] is printed as "<letter><i>" */
	int nids;
	int kobj[ORACLE_NIDS]; /* kernel objects to remove */
	int nkobj;
	pid_t runner;
	pid_t kids[32]; /* children forked by the runner, printed as child1.. */
	int nkids;
	key_t key[4]; /* fresh keys for the current scenario */
	struct event { /* calls whose time a time field may hold (ev_begin) */
		char name[24];
		time_t lo, hi;
	} ev[16];
	int nev;
};

static struct oracle_shared *osh;
static struct transcript *g_kt, *g_st;
static int g_root, g_verbose, g_checks, g_notes;
static int g_seq_shift = 15; /* the kernel's id = seq << shift | index */
static long g_ms_k, g_ms_s;

/* ------------------------------------------------------- the includer's */

/* Removes object id, the kernel's (kernel != 0) or svipc's: IPC_RMID; runs
 * from signal handlers too. */
static void ipc_rm(int kernel, int id);
/* 1 if no kernel object has key k right now. */
static int kernel_key_unused(key_t k);
/* Records the death by signal sig of a child (child != 0; `what` says which)
 * or of the runner, worded as this oracle's transcripts always have. */
static void rec_killed(const char *what, int child, int sig);

/* ---------------------------------------------------------------- recording */

/* When set (in a child that may finish in any order), rec writes the line
 * into this TLEN-byte slot instead; the runner moves it into the transcript
 * in a fixed order. */
static char *g_rec_into;

static void rec(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (g_rec_into) {
		vsnprintf(g_rec_into, TLEN, fmt, ap);
	} else {
		int i = __atomic_fetch_add(&osh->t.n, 1, __ATOMIC_SEQ_CST);
		if (i < TLINES)
			vsnprintf(osh->t.line[i], TLEN, fmt, ap);
	}
	va_end(ap);
}

static void kclean(void)
{
	for (int i = 0; i < osh->nkobj && i < ORACLE_NIDS; i++)
		ipc_rm(1, osh->kobj[i]);
	osh->nkobj = 0;
}

/* Remembers a kernel object for kclean. */
static void track(int kernel, int id)
{
	if (!kernel || id < 0)
		return;
	for (int i = 0; i < osh->nkobj; i++)
		if (osh->kobj[i] == id)
			return;
	if (osh->nkobj < ORACLE_NIDS)
		osh->kobj[osh->nkobj++] = id;
}

/* ---------------------------------------------------------------- labels */

static const char *en(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "E?";
}

/* One of 16 rotating buffers, so that one rec() can hold several labels. */
static char *rot(void)
{
	static char bufs[16][ROTLEN];
	static int bi;
	return bufs[bi++ & 15];
}

/* "-1 EINVAL" or the value. */
static const char *rv(long long r, int e)
{
	char *b = rot();
	if (r == -1)
		snprintf(b, ROTLEN, "-1 %s", en(e));
	else
		snprintf(b, ROTLEN, "%lld", r);
	return b;
}

/* An id as <letter><n>, n in order of first appearance in the scenario. */
static const char *id_label(int id, char letter)
{
	char *b = rot();
	if (id < 0) {
		snprintf(b, ROTLEN, "%d", id);
		return b;
	}
	for (int i = 0; i < osh->nids; i++)
		if (osh->ids[i] == id) {
			snprintf(b, ROTLEN, "%c%d", letter, i);
			return b;
		}
	if (osh->nids < ORACLE_NIDS) {
		osh->ids[osh->nids] = id;
		snprintf(b, ROTLEN, "%c%d", letter, osh->nids++);
	} else {
		snprintf(b, ROTLEN, "%c?", letter);
	}
	return b;
}

static const char *keylab(key_t k)
{
	char *b = rot();
	if (k == IPC_PRIVATE)
		return "PRIVATE";
	for (int i = 0; i < 4; i++)
		if (osh->key[i] == k) {
			snprintf(b, ROTLEN, "K%d", i);
			return b;
		}
	snprintf(b, ROTLEN, "other:%d", (int)k);
	return b;
}

static const char *pidlab(pid_t p)
{
	static const char *names[] = { "child1", "child2", "child3", "child4",
				       "child5", "child6", "child7", "child8" };
	if (p == 0)
		return "0";
	if (p == osh->runner)
		return "runner";
	for (int i = 0; i < osh->nkids && i < 32; i++)
		if (p == osh->kids[i])
			return i < 8 ? names[i] : "childN";
	return "other";
}

/* The prefix of a transcript line: "what: ", or nothing. */
static const char *pre(const char *what)
{
	char *b = rot();
	snprintf(b, ROTLEN, "%s%s", what, *what ? ": " : "");
	return b;
}

/* ------------------------------------------------------ child processes */

/* Forks a child of the runner (bounded by its own alarm), named child<n> in pids. */
static pid_t oracle_fork(unsigned seconds)
{
	int slot = osh->nkids < 32 ? osh->nkids++ : 31;
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(seconds);
		osh->kids[slot] = getpid();
	} else if (p > 0) {
		osh->kids[slot] = p;
	}
	return p;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Waits for child p and records how it ended. */
static void reap(pid_t p, const char *what)
{
	int st;
	while (waitpid(p, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(st))
		rec("%schild exited %d", pre(what), WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		rec_killed(what, 1, WTERMSIG(st));
}

/* Becomes uid/gid 65534 without supplementary groups: "ok" or what failed. */
static const char *become_nobody(void)
{
	if (setgroups(0, NULL) != 0)
		return "setgroups failed";
	if (setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID) != 0)
		return "setresgid failed";
	if (setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) != 0)
		return "setresuid failed";
	return "ok";
}

/* become_nobody; on svipc's side (kernel == 0) svipc is told. */
static inline const char *become_nobody_told(int kernel)
{
	const char *r = become_nobody();
	if (strcmp(r, "ok") == 0 && !kernel)
		svipc_refresh_credentials();
	return r;
}

/* ------------------------------------------------------------- time fields */

/* Wall-clock seconds, shifted by ms (a coarse clock may lag a fine one). */
static inline time_t wall(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec + ms * 1000000LL;
	return (time_t)(ns / 1000000000LL);
}

/* Brackets a call: a time field within [lo, hi] was set by it. */
static inline void ev_begin(const char *name)
{
	int i = osh->nev < 16 ? osh->nev++ : 15;
	snprintf(osh->ev[i].name, sizeof osh->ev[i].name, "%s", name);
	osh->ev[i].lo = wall(-50);
	osh->ev[i].hi = (time_t)LONG_MAX;
}

static inline void ev_end(void)
{
	osh->ev[osh->nev - 1].hi = wall(50);
}

/*
 * A time field: 0, within 2 s of now, or something else. When a scenario
 * brackets its calls (ev_begin/ev_end, one second apart), the field is named
 * by the latest call whose interval holds it.
 */
static inline const char *tlab(time_t t)
{
	time_t now = time(NULL);
	if (t == 0)
		return "0";
	if (osh->nev) {
		char *b = rot();
		for (int i = osh->nev - 1; i >= 0; i--)
			if (t >= osh->ev[i].lo && t <= osh->ev[i].hi) {
				snprintf(b, ROTLEN, "T(%s)", osh->ev[i].name);
				return b;
			}
		return "T(none)";
	}
	if (t >= now - 2 && t <= now + 2)
		return "now";
	return "old";
}

/* ------------------------------------------------------------- the runner */

/* side(kernel) in a forked runner bounded by `seconds`; its transcript to out. */
static void run_side(void (*side)(int kernel), int kernel, unsigned seconds,
		     struct transcript *out)
{
	osh->t.n = 0;
	osh->nids = 0;
	osh->nkobj = 0;
	osh->nkids = 0;
	osh->nev = 0;
	fflush(NULL);
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(1);
	}
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		alarm(seconds);
		osh->runner = getpid();
		side(kernel);
		if (!kernel) /* tidy the namespace for the next scenario */
			for (int i = 0; i < osh->nids; i++)
				ipc_rm(0, osh->ids[i]);
		_exit(0);
	}
	int st;
	while (waitpid(p, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFSIGNALED(st))
			rec_killed("", 0, WTERMSIG(st));
		else
			rec("RUNNER exited %d", WEXITSTATUS(st));
	}
	/* let orphaned grandchildren (hung children) die before the next scenario */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	kclean();
	out->n = osh->t.n < TLINES ? osh->t.n : TLINES;
	memcpy(out->line, osh->t.line, sizeof(out->line[0]) * (size_t)out->n);
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Fresh keys base | 24 random bits: unused in the kernel right now (the
 * svipc namespace is new). */
static void fresh_keys(unsigned base)
{
	static unsigned seed;
	if (!seed)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
	for (int i = 0; i < 4; i++) {
		for (;;) {
			key_t k = (key_t)(base | ((unsigned)rand_r(&seed) & 0xffffffu));
			int dup = 0;
			for (int j = 0; j < i; j++)
				dup |= osh->key[j] == k;
			errno = 0;
			if (!dup && kernel_key_unused(k)) {
				osh->key[i] = k;
				break;
			}
		}
	}
}

/* One scenario, with fresh keys (base | random bits): the kernel's side
 * into g_kt, svipc's into g_st, both timed. */
static void run_sides(void (*side)(int kernel), unsigned keybase, unsigned seconds)
{
	struct timespec t0, t1, t2;
	fresh_keys(keybase);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_side(side, 1, seconds, g_kt);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	run_side(side, 0, seconds, g_st);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	g_ms_k = ms_between(&t0, &t1);
	g_ms_s = ms_between(&t1, &t2);
}

/*
 * Takes the first kernel object, made by main before any scenario, into the
 * tracking; none at all (ENOSYS) skips the test. Returns 0, or the exit status.
 */
static int first_kernel_object(int id, const char *call)
{
	if (id < 0 && errno == ENOSYS) {
		printf("the kernel has no System V IPC: no oracle, skipped\n");
		return 77;
	}
	if (id < 0) {
		perror(call);
		return 1;
	}
	track(1, id);
	return 0;
}

/* The kernel's ids carry seq << 24 instead of << 15 when booted with ipcmni_extend. */
static void learn_seq_shift(int id, unsigned short seq)
{
	if (seq != (unsigned short)(id >> 15) && seq == (unsigned short)(id >> 24))
		g_seq_shift = 24;
}

/* A scenario that needs root is reported and skipped without it. */
static int skip_unless_root(const char *name, int needs_root)
{
	if (!needs_root || g_root)
		return 0;
	printf("%-*s skipped (needs root)\n", ORACLE_NAME_WIDTH, name);
	return 1;
}

/* ---------------------------------------------------------- comparison */

/* SVIPC_ORACLE_VERBOSE: the kernel's transcript, the reference. */
static void print_kernel_transcript(const char *name)
{
	if (!g_verbose)
		return;
	printf("=== %s (kernel)\n", name);
	for (int i = 0; i < g_kt->n; i++)
		printf("  %s\n", g_kt->line[i]);
}

/* The end of a comparison: a scenario that recorded nothing checked nothing. */
static void summary(const char *name, int n, int bad)
{
	if (g_kt->n == 0)
		T_FAIL("[%s] empty kernel transcript", name);
	printf("%-*s %3d entries  kernel %4ld ms  svipc %4ld ms  %s\n", ORACLE_NAME_WIDTH, name, n,
	       g_ms_k, g_ms_s, bad ? "MISMATCH" : "ok");
}

/* An informational line: differences made of these only are NOTEs. */
static inline int is_note(const char *l)
{
	return l[0] == '~';
}

/*
 * Compares the two transcripts as a diff (longest common subsequence), so a
 * line one side has and the other lacks is one difference, not a cascade.
 * A hunk made of informational ('~') lines only is a NOTE. (Used by the sem
 * and shm oracles; test_msg_oracle.c compares entry by entry.)
 */
static inline void compare_diff(const char *name)
{
	const int n = g_kt->n, m = g_st->n;
	char (*kl)[TLEN] = g_kt->line, (*sl)[TLEN] = g_st->line;
	unsigned short *L = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof *L);
	int bad = 0;
	if (!L) {
		perror("calloc");
		exit(1);
	}
#define LCS(i, j) L[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
	for (int i = n - 1; i >= 0; i--)
		for (int j = m - 1; j >= 0; j--)
			LCS(i, j) = strcmp(kl[i], sl[j]) == 0 ? (unsigned short)(LCS(i + 1, j + 1) + 1)
			    : LCS(i + 1, j) >= LCS(i, j + 1) ? LCS(i + 1, j) : LCS(i, j + 1);
	print_kernel_transcript(name);
	int i = 0, j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && strcmp(kl[i], sl[j]) == 0) {
			i++, j++, g_checks++;
			continue;
		}
		int i0 = i, j0 = j, notes = 1;
		while ((i < n || j < m) && !(i < n && j < m && strcmp(kl[i], sl[j]) == 0)) {
			if (j >= m || (i < n && LCS(i + 1, j) >= LCS(i, j + 1)))
				notes &= is_note(kl[i++]);
			else
				notes &= is_note(sl[j++]);
		}
		g_checks += i - i0 > j - j0 ? i - i0 : j - j0;
		char hunk[8192];
		size_t o = 0;
		for (int a = i0; a < i; a++)
			o += (size_t)snprintf(hunk + o, o < sizeof hunk ? sizeof hunk - o : 0,
					      "\n  kernel: %s", kl[a]);
		if (i == i0)
			o += (size_t)snprintf(hunk + o, o < sizeof hunk ? sizeof hunk - o : 0,
					      "\n  kernel: (nothing)");
		for (int b = j0; b < j; b++)
			o += (size_t)snprintf(hunk + o, o < sizeof hunk ? sizeof hunk - o : 0,
					      "\n  svipc:  %s", sl[b]);
		if (j == j0)
			snprintf(hunk + o, o < sizeof hunk ? sizeof hunk - o : 0, "\n  svipc:  (nothing)");
		if (notes) {
			g_notes++;
			printf("NOTE [%s] kernel #%d / svipc #%d (informational, not a failure)%s\n",
			       name, i0, j0, hunk);
		} else {
			bad++;
			T_FAIL("[%s] kernel #%d / svipc #%d differ:%s", name, i0, j0, hunk);
		}
	}
#undef LCS
	free(L);
	summary(name, n > m ? n : m, bad);
}

/* The exit status, after the totals. */
static int oracle_done(void)
{
	printf("%d transcript entries compared, %d informational notes\n", g_checks, g_notes);
	return t_done();
}

/* ------------------------------------------------------------- setup */

static void fatal_signal(int sig)
{
	kclean();
	t_cleanup(); /* the namespace directory (only in the main process) */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void atexit_kclean(void)
{
	if (getpid() == t_owner_pid)
		kclean();
}

/* After t_setup: the shared state, the transcripts, cleanup on every way
 * out. Returns -1 (errno set) if memory could not be had. */
static int oracle_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	g_verbose = getenv("SVIPC_ORACLE_VERBOSE") != NULL;
	g_root = geteuid() == 0;
	g_kt = malloc(sizeof *g_kt);
	g_st = malloc(sizeof *g_st);
	osh = mmap(NULL, sizeof *osh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!g_kt || !g_st || osh == MAP_FAILED)
		return -1;
	signal(SIGALRM, fatal_signal);
	signal(SIGTERM, fatal_signal);
	signal(SIGINT, fatal_signal);
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGABRT, fatal_signal);
	atexit(atexit_kclean);
	/* children that drop to uid 65534 must reach the namespace */
	if (g_root && chmod(t_dir, 01777) != 0)
		perror("chmod");
	return 0;
}

#endif

/*
 * corrupt.h - what the file corruption tests (test_msg_corrupt.c,
 * test_shm_corrupt.c) share: the state shared with the trial children,
 * the pristine files and their corruption, trial children bounded by an
 * alarm, the outcome statistics, and the report.
 *
 * The includer defines, before including this header:
 *  - CORRUPT_ENV, the prefix of its environment variables ("SVIPC_CORRUPT":
 *    SVIPC_CORRUPT_SEED, _TRIALS, _TRIAL, _PRINT, _NOFORK);
 *  - struct shared (mapped shared with the children) with at least
 *    int nbad, int verbose, long ops and char report[];
 *  - the corruption kinds: C_NKINDS, kind_name[C_NKINDS] and
 *    kind_weight[C_NKINDS];
 *  - CORRUPT_STATS_EXTRA, its own fields of struct stats (may be empty);
 *  - NOTE_BUF, the char array note() appends the corruptions' description to.
 */
#ifndef SVIPC_TEST_CORRUPT_H
#define SVIPC_TEST_CORRUPT_H

#include "t.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static struct shared *SH;

static uint64_t below(uint64_t n)
{
	return n ? t_rand() % n : 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	if (!SH->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Appends one corruption to the trial's description. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char *d = NOTE_BUF;
	size_t o = strlen(d);
	if (o + 2 >= sizeof NOTE_BUF)
		return;
	if (o)
		strcat(d, "; "), o += 2;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d + o, sizeof NOTE_BUF - o, fmt, ap);
	va_end(ap);
}

/* A 64-bit value for a corrupted field: the edges, small numbers, or anything. */
static uint64_t val64(void)
{
	switch (below(8)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return (uint64_t)-1;
	case 3: return (uint64_t)INT64_MIN;
	case 4: return (uint64_t)INT64_MAX;
	case 5: return 1 + below(10);
	case 6: return 0xffffffffull + below(3);
	default: return t_rand();
	}
}

/* ---- files ---------------------------------------------------------------------------- */

/* A file of the namespace as the builder left it. */
struct pfile {
	char name[40];
	unsigned char *data;
	size_t size;
	mode_t mode;
};

static struct pfile PF[4]; /* ns, procs, and the two objects' files */
static int dfd;            /* the namespace directory */

static void load(struct pfile *p, const char *name)
{
	snprintf(p->name, sizeof p->name, "%s", name);
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "cannot read %s: %s\n", name, strerror(errno));
		exit(1);
	}
	p->size = (size_t)st.st_size;
	p->mode = st.st_mode & 07777;
	p->data = malloc(p->size);
	if (!p->data || pread(fd, p->data, p->size, 0) != (ssize_t)p->size) {
		fprintf(stderr, "short read of %s\n", name);
		exit(1);
	}
	close(fd);
}

/* Calls fn(name) for every entry of the namespace directory but . and .. */
static void each_entry(void (*fn)(const char *name))
{
	DIR *d = fdopendir(dup(dfd));
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		fn(de->d_name);
	}
	closedir(d);
}

/*
 * Writes file i back as the builder left it: over what is there, or (fresh,
 * its name is free) as a new file with the builder's mode.
 */
static void put_back(int i, int fresh)
{
	int fd = fresh ? openat(dfd, PF[i].name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
		       : openat(dfd, PF[i].name, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || (fresh && fchmod(fd, PF[i].mode) < 0) || ftruncate(fd, (off_t)PF[i].size) < 0 ||
	    pwrite(fd, PF[i].data, PF[i].size, 0) != (ssize_t)PF[i].size) {
		fprintf(stderr, "cannot restore %s: %s\n", PF[i].name, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* Writes n bytes at off into file f, if it is (still) a regular file. */
static void poke(int f, uint64_t off, const void *v, size_t n)
{
	int fd = openat(dfd, PF[f].name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pwrite(fd, v, n, (off_t)off) < 0)
			perror("pwrite");
		close(fd);
	}
}

static void poke32(int f, uint64_t off, uint32_t v)
{
	poke(f, off, &v, 4);
}

static void poke64(int f, uint64_t off, uint64_t v)
{
	poke(f, off, &v, 8);
}

/* A corruption kind, drawn by kind_weight. */
static int pick_kind(void)
{
	int total = 0;
	for (int i = 0; i < C_NKINDS; i++)
		total += kind_weight[i];
	int r = (int)below((uint64_t)total);
	for (int i = 0; i < C_NKINDS; i++) {
		if (r < kind_weight[i])
			return i;
		r -= kind_weight[i];
	}
	return 0;
}

/* ---- the trials ----------------------------------------------------------------------- */

struct stats {
	long trials, ok, failed, crashed, hung, other;
	long by_kind[C_NKINDS], bad_kind[C_NKINDS];
	long recov, ops, fixed_failed;
	CORRUPT_STATS_EXTRA
};

static struct stats ST;
static int printed;
static long failed_list[64];
static int nfailed_list;

/*
 * Runs child(arg) in a child process bounded by alarm_s seconds (in this
 * process in a verbose run with CORRUPT_ENV_NOFORK set, for a debugger).
 * Returns its wait status.
 */
static int run_trial_child(int (*child)(void *), void *arg, unsigned alarm_s)
{
	fflush(NULL);
	if (SH->verbose && getenv(CORRUPT_ENV "_NOFORK"))
		return child(arg) << 8;
	pid_t pid = fork();
	if (pid == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		alarm(alarm_s);
		_exit(child(arg));
	}
	int st;
	waitpid(pid, &st, 0);
	return st;
}

/*
 * Counts a trial child's wait status in ST. Returns NULL if it passed
 * (exit 0), otherwise what went wrong (possibly in buf).
 */
static const char *trial_outcome(int st, unsigned alarm_s, char *buf, size_t n)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		ST.ok++;
		return NULL;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		ST.failed++;
		return "a call gave a wrong result";
	} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
		ST.hung++;
		snprintf(buf, n, "the calls hung (killed after %u s)", alarm_s);
	} else if (WIFSIGNALED(st)) {
		ST.crashed++;
		snprintf(buf, n, "the child crashed: signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	} else {
		ST.other++;
		snprintf(buf, n, "the child exited with status %d (a sanitizer report?)",
			 WEXITSTATUS(st));
	}
	return buf;
}

/* Records failed trial i; the first ones (CORRUPT_ENV_PRINT, 12) fail with the message. */
static void trial_failed(long i, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trial_failed(long i, const char *fmt, ...)
{
	if (i < 0)
		ST.fixed_failed++;
	if (nfailed_list < 64)
		failed_list[nfailed_list++] = i;
	const char *pe = getenv(CORRUPT_ENV "_PRINT");
	if (printed++ < (pe ? atoi(pe) : 12)) {
		static char msg[8192];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		T_FAIL("%s", msg);
	} else {
		t_failures++;
	}
}

/* ---- the run -------------------------------------------------------------------------- */

struct corrupt_run {
	uint64_t seed;
	long ntrials, only; /* only: LONG_MIN, or the one trial to run (verbose) */
	int64_t t0;
};

/*
 * Maps SH, reads the settings from the environment (default_trials random
 * trials), then builds the namespace in a child with build (this process
 * must never map it) and opens dfd.
 */
static struct corrupt_run corrupt_start(const char *test, long default_trials,
					void (*build)(void))
{
	struct corrupt_run run;
	setvbuf(stdout, NULL, _IOLBF, 0);
	SH = mmap(NULL, sizeof *SH, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (SH == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	const char *e = getenv(CORRUPT_ENV "_SEED");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	run.t0 = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	run.seed = e ? strtoull(e, NULL, 0) : (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	e = getenv(CORRUPT_ENV "_TRIALS");
	run.ntrials = e ? atol(e) : default_trials;
	e = getenv(CORRUPT_ENV "_TRIAL");
	run.only = e ? atol(e) : LONG_MIN; /* the targeted trials are -1, -2, ... */
	SH->verbose = run.only != LONG_MIN;
	printf("%s: seed %#llx (replay: " CORRUPT_ENV "_SEED=%#llx; one trial, verbose: "
	       CORRUPT_ENV "_TRIAL=<n>)\n", test, (unsigned long long)run.seed,
	       (unsigned long long)run.seed);

	pid_t pid = fork();
	if (pid == 0)
		build();
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "builder failed: status %#x\n", st);
		exit(1);
	}
	dfd = open(getenv("SVIPC_DIR"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return run;
}

/* Seconds since the run started. */
static double corrupt_secs(const struct corrupt_run *run)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec * 1000000000LL + ts.tv_nsec - run->t0) / 1e9;
}

/* The statistics by kind, and the failed trials. */
static void corrupt_report(const struct corrupt_run *run)
{
	for (int k = 0; k < C_NKINDS; k++)
		printf("  %-18s %5ld trials, %4ld failed\n", kind_name[k], ST.by_kind[k], ST.bad_kind[k]);
	if (nfailed_list) {
		printf("  failed trials (replay one with " CORRUPT_ENV "_SEED=%#llx " CORRUPT_ENV
		       "_TRIAL=<n>):", (unsigned long long)run->seed);
		for (int k = 0; k < nfailed_list; k++)
			printf(" %ld", failed_list[k]);
		printf("\n");
	}
}

#endif

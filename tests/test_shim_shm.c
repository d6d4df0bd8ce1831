/*
 * test_shim_shm.c - the LD_PRELOAD shim runs unmodified shared memory
 * programs on svipc.
 *
 * prog_plain_shm (built without svipc, against <sys/shm.h> only) is run
 * under LD_PRELOAD=libsvipc-preload.so in this test's SVIPC_DIR, and:
 *  - a run that never touches a segment exits 0 and leaves SVIPC_DIR empty;
 *  - its self-contained scenario (create, attach, fork, read-only attach,
 *    IPC_SET, IPC_RMID while attached, last detach, IPC_INFO, SHM_INFO,
 *    IPC_64 refused) exits 0 and leaves no segment;
 *  - two unrelated programs share a keyed segment: program 1 (`create`)
 *    makes it and writes a pattern, then holds its attachment; program 2
 *    (`check`, a separate exec) finds it by key, attaches it read-only,
 *    checks the pattern and shm_nattch == 2, that a write through its
 *    read-only attachment is SIGSEGV, and writes a reply through a
 *    read-write attachment that program 1 then checks. Meanwhile this test
 *    shows where the segment lives: under the shim the file shm.<id> exists
 *    in SVIPC_DIR, svipc_shmget finds the key, svipc_shmat shows the
 *    pattern, and the kernel's shmget(key, 0, 0) fails with ENOENT; with
 *    SVIPC_PRELOAD_KERNEL=1 it is the other way round (the kernel has it,
 *    SVIPC_DIR holds no shm.* file, svipc_shmget gives ENOENT). Each round
 *    is run twice: program 1 exits by itself, or is killed with SIGKILL
 *    while attached, and shm_nattch must drop to 0 either way. Program 3
 *    (`rm`) then removes the segment by key, and the file is gone.
 * Every segment made here, in the kernel or in svipc, is removed at the end
 * (atexit, and on the test's own timeout).
 */
#include "svipc.h"
#include "t.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef SHIM_PATH
#error "SHIM_PATH (path of libsvipc-preload.so) must be defined"
#endif
#ifndef PLAIN_SHM_PROG
#error "PLAIN_SHM_PROG (path of prog_plain_shm) must be defined"
#endif

#define SEG_SIZE 12411 /* not a multiple of the page size */
#define REPLY_LEN 64   /* as in prog_plain_shm.c */

/* Kernel segment key this test may leave behind; removed at exit or timeout. */
static volatile sig_atomic_t kernel_key_armed;
static volatile key_t kernel_key;
static int kernel_ok; /* the kernel has System V shared memory */

static void remove_kernel_segment(void)
{
	if (!kernel_key_armed)
		return;
	int id = shmget(kernel_key, 0, 0);
	if (id != -1)
		shmctl(id, IPC_RMID, NULL);
}

static void kernel_cleanup_atexit(void)
{
	if (getpid() == t_owner_pid)
		remove_kernel_segment();
}

static void on_alarm(int sig)
{
	remove_kernel_segment(); /* shmget/shmctl are plain system calls */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The byte at offset i of a segment made for key (as in prog_plain_shm.c). */
static unsigned char pattern(key_t key, size_t i)
{
	return (unsigned char)((i * 131u + (i >> 12) * 7u + 0x5au) ^ (unsigned)key ^
			       ((unsigned)key >> 8));
}

/* ---- LD_PRELOAD value (as in test_shim.c) ------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

static char preload[PATH_MAX * 2 + 2];

#ifdef T_ASAN
static int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libasan")) {
		snprintf(data, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}
#endif

/* The shim, preceded under AddressSanitizer by the ASan runtime. */
static void make_preload(void)
{
	char asan[PATH_MAX] = "";
#ifdef T_ASAN
	dl_iterate_phdr(find_asan, asan);
#endif
	if (asan[0])
		snprintf(preload, sizeof preload, "%s %s", asan, SHIM_PATH);
	else
		snprintf(preload, sizeof preload, "%s", SHIM_PATH);
}

/* ---- running prog_plain_shm ---------------------------------------------------- */

/*
 * Starts PLAIN_SHM_PROG with argv[1..] = args (NULL-terminated) under the
 * shim. kernel_env: NULL leaves SVIPC_PRELOAD_KERNEL unset, otherwise its
 * value. If in/out are not NULL, *in gets a pipe to the program's stdin and
 * *out a stream of its stdout. Returns the pid, or -1.
 */
static pid_t start_prog(const char *const *args, const char *kernel_env, int *in, FILE **out)
{
	char *argv[10];
	int argc = 0;
	argv[argc++] = (char *)PLAIN_SHM_PROG;
	for (; *args && argc < 9; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;

	int ip[2] = { -1, -1 }, op[2] = { -1, -1 };
	if (in && (pipe2(ip, O_CLOEXEC) || pipe2(op, O_CLOEXEC))) {
		T_FAIL("pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t p = fork();
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		if (in) {
			dup2(ip[0], 0);
			dup2(op[1], 1);
		}
		setenv("LD_PRELOAD", preload, 1);
		if (kernel_env)
			setenv("SVIPC_PRELOAD_KERNEL", kernel_env, 1);
		else
			unsetenv("SVIPC_PRELOAD_KERNEL");
		execv(PLAIN_SHM_PROG, argv);
		fprintf(stderr, "execv %s: %s\n", PLAIN_SHM_PROG, strerror(errno));
		_exit(127);
	}
	if (in) {
		close(ip[0]);
		close(op[1]);
		*in = ip[1];
		*out = fdopen(op[0], "r");
	}
	return p;
}

static int wait_prog(pid_t p)
{
	int status;
	while (waitpid(p, &status, 0) == -1) {
		if (errno != EINTR) {
			T_FAIL("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	return status;
}

static int run_prog(const char *const *args, const char *kernel_env)
{
	pid_t p = start_prog(args, kernel_env, NULL, NULL);
	return p == -1 ? -1 : wait_prog(p);
}

#define T_EXITED_0(status, what)                                              \
	do {                                                                  \
		int t_s_ = (status);                                          \
		if (!(t_s_ != -1 && WIFEXITED(t_s_) && WEXITSTATUS(t_s_) == 0)) \
			T_FAIL("%s: wait status %#x (%s %d)", (what), t_s_,   \
			       WIFSIGNALED(t_s_) ? "signal" : "exit",         \
			       WIFSIGNALED(t_s_) ? WTERMSIG(t_s_) : WEXITSTATUS(t_s_)); \
	} while (0)

/* Entries of SVIPC_DIR other than . and ..; with prefix, only those named so. */
static int dir_entries(const char *prefix)
{
	DIR *d = opendir(t_dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    (!prefix || strncmp(e->d_name, prefix, strlen(prefix)) == 0))
			n++;
	closedir(d);
	return n;
}

static int shm_file_exists(int id)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/shm.%d", t_dir, id);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- one round: create / check / end / rm ------------------------------------------ */

/*
 * kernel: run the programs with SVIPC_PRELOAD_KERNEL=1. kill_creator: end
 * program 1 with SIGKILL while it is attached instead of letting it detach.
 */
static void round_trip(key_t key, int proj, int kernel, int kill_creator)
{
	const char *env = kernel ? "1" : NULL;
	const char *mode = kernel ? "kernel" : "svipc";
	char projs[16], sizes[16], cpids[16];
	snprintf(projs, sizeof projs, "%d", proj);
	snprintf(sizes, sizeof sizes, "%d", SEG_SIZE);
	fprintf(stderr, "round: %s, creator %s\n", mode, kill_creator ? "killed" : "exits");

	int in = -1;
	FILE *out = NULL;
	const char *cargs[] = { "create", t_dir, projs, sizes, NULL };
	pid_t creator = start_prog(cargs, env, &in, &out);
	if (creator == -1)
		return;
	char line[64] = "";
	int id = -1;
	if (!out || !fgets(line, sizeof line, out) || sscanf(line, "ready %d", &id) != 1) {
		T_FAIL("%s: program 1 did not report ready (\"%s\")", mode, line);
		close(in);
		T_EXITED_0(wait_prog(creator), "program 1");
		if (out)
			fclose(out);
		return;
	}

	/* Where does it live? */
	if (!kernel) {
		T_ASSERT(shm_file_exists(id));
		T_EQ(T_OK(svipc_shmget(key, 0, 0)), id);
		if (kernel_ok)
			T_ERR(shmget(key, 0, 0), ENOENT);
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		T_OK(svipc_shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_segsz, SEG_SIZE);
		T_EQ(ds.shm_cpid, creator);
		T_EQ(ds.shm_nattch, 1);
		T_EQ(ds.shm_perm.__key, key);
	} else {
		T_EQ(dir_entries("shm."), 0);
		T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		T_EQ(T_OK(shmget(key, 0, 0)), id);
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		T_OK(shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_segsz, SEG_SIZE);
		T_EQ(ds.shm_cpid, creator);
		T_EQ(ds.shm_nattch, 1);
	}

	/* Program 2: an unrelated process finds it by key. */
	snprintf(cpids, sizeof cpids, "%d", (int)creator);
	const char *kargs[] = { "check", t_dir, projs, sizes, "2", cpids, NULL };
	T_EXITED_0(run_prog(kargs, env), kernel ? "program 2 (kernel)" : "program 2 (svipc)");

	if (kill_creator) {
		kill(creator, SIGKILL);
		int st = wait_prog(creator);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			T_FAIL("%s: program 1 was not killed: status %#x", mode, st);
	} else {
		close(in);
		in = -1;
		T_EXITED_0(wait_prog(creator), kernel ? "program 1 (kernel)" : "program 1 (svipc)");
	}
	if (in != -1)
		close(in);
	fclose(out);

	/* Nobody is attached any more; the segment and its contents remain. */
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (!kernel) {
		T_ASSERT(shm_file_exists(id));
		T_OK(svipc_shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_nattch, 0);
		T_EQ(ds.shm_segsz, SEG_SIZE);
		/* This process (linked with svipc) reads what the two programs wrote. */
		const unsigned char *p = svipc_shmat(id, NULL, SHM_RDONLY);
		if (p == (void *)-1) {
			T_FAIL("svipc_shmat(%d, SHM_RDONLY): %s", id, strerror(errno));
		} else {
			size_t bad = SIZE_MAX;
			for (size_t i = 0; i < SEG_SIZE - REPLY_LEN && bad == SIZE_MAX; i++)
				if (p[i] != pattern(key, i))
					bad = i;
			if (bad != SIZE_MAX)
				T_FAIL("svipc segment byte %zu is %#x, want %#x", bad, p[bad],
				       pattern(key, bad));
			if (memcmp(p + SEG_SIZE - REPLY_LEN, "reply from ", 11))
				T_FAIL("no reply from program 2 in the svipc segment");
			T_OK(svipc_shmdt(p));
		}
		if (kernel_ok)
			T_ERR(shmget(key, 0, 0), ENOENT);
	} else {
		T_OK(shmctl(id, IPC_STAT, &ds));
		T_EQ(ds.shm_nattch, 0);
		T_ERR(svipc_shmget(key, 0, 0), ENOENT);
		T_EQ(dir_entries("shm."), 0);
	}

	/* Program 3 removes it by key. */
	const char *rargs[] = { "rm", t_dir, projs, NULL };
	T_EXITED_0(run_prog(rargs, env), kernel ? "program 3 (kernel)" : "program 3 (svipc)");
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	T_ASSERT(!shm_file_exists(id) || kernel);
	T_EQ(dir_entries("shm."), 0);
	if (kernel_ok)
		T_ERR(shmget(key, 0, 0), ENOENT);
}

/* ---- main ------------------------------------------------------------------------ */

int main(void)
{
	t_setup(100);
	signal(SIGALRM, on_alarm);
	atexit(kernel_cleanup_atexit);
	unsetenv("SVIPC_PRELOAD_KERNEL");
	make_preload();

	/* Is there a kernel implementation to tell apart from? */
	int probe = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (probe != -1) {
		kernel_ok = 1;
		shmctl(probe, IPC_RMID, NULL);
	} else {
		fprintf(stderr, "note: kernel shared memory unavailable (%s); "
				"kernel-side checks skipped\n", strerror(errno));
	}

	/* A key free in the kernel (svipc's namespace is new and empty). */
	int proj;
	key_t key = -1;
	for (proj = 1; proj < 256; proj++) {
		key = ftok(t_dir, proj);
		if (key == (key_t)-1) {
			T_FAIL("ftok(%s): %s", t_dir, strerror(errno));
			return t_done();
		}
		if (!kernel_ok || (shmget(key, 0, 0) == -1 && errno == ENOENT))
			break;
	}
	if (proj == 256) {
		T_FAIL("no free kernel key for ftok(%s, 1..255)", t_dir);
		return t_done();
	}
	kernel_key = key;
	kernel_key_armed = 1;
	char projs[16];
	snprintf(projs, sizeof projs, "%d", proj);

	/* A program that never calls the functions: the shim does nothing. */
	const char *nargs[] = { "-n", NULL };
	T_EXITED_0(run_prog(nargs, NULL), "prog -n under the shim");
	T_EQ(dir_entries(NULL), 0);

	/* The self-contained scenario, on svipc and (if there is one) on the kernel. */
	const char *sargs[] = { "self", t_dir, projs, NULL };
	T_EXITED_0(run_prog(sargs, NULL), "prog self under the shim");
	T_ASSERT(dir_entries(NULL) > 0); /* it did run on svipc: the namespace exists */
	T_EQ(dir_entries("shm."), 0);
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	if (kernel_ok) {
		T_ERR(shmget(key, 0, 0), ENOENT);
		T_EXITED_0(run_prog(sargs, "1"), "prog self, SVIPC_PRELOAD_KERNEL=1");
		T_ERR(shmget(key, 0, 0), ENOENT);
		T_EQ(dir_entries("shm."), 0);
	}

	/* Two unrelated programs, on svipc, then on the kernel. */
	for (int kill_creator = 0; kill_creator < 2; kill_creator++) {
		round_trip(key, proj, 0, kill_creator);
		if (kernel_ok)
			round_trip(key, proj, 1, kill_creator);
	}

	/* Nothing left anywhere. */
	T_ERR(svipc_shmget(key, 0, 0), ENOENT);
	T_EQ(dir_entries("shm."), 0);
	if (kernel_ok) {
		errno = 0;
		int left = shmget(key, 0, 0);
		if (left == -1 && errno == ENOENT)
			kernel_key_armed = 0; /* clean: the key is no longer ours to remove */
		else
			T_FAIL("kernel segment left at key %#x: shmget = %d", (unsigned)key, left);
	}
	return t_done();
}

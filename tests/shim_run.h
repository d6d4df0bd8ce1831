/*
 * shim_run.h - what the LD_PRELOAD shim tests (test_shim.c, test_shim_shm.c)
 * share: the LD_PRELOAD value, running a plain program (built without svipc)
 * under the shim, the entries of the test's SVIPC_DIR, and the kernel object
 * a test may leave at its key, removed at exit and on the test's timeout.
 *
 * The includer defines SHIM_PATH, the path of libsvipc-preload.so.
 */
#ifndef SVIPC_TEST_SHIM_RUN_H
#define SVIPC_TEST_SHIM_RUN_H

#include "mp_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <sys/stat.h>

#ifndef SHIM_PATH
#error "SHIM_PATH (path of libsvipc-preload.so) must be defined"
#endif

/* ---- LD_PRELOAD value ---------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

static char preload[PATH_MAX * 2 + 2];

#ifdef T_ASAN
static inline int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libasan")) {
		snprintf(data, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}
#endif

/*
 * The shim, preceded under AddressSanitizer by the ASan runtime, which
 * insists on coming first in the library list (the shim links it too).
 */
static inline void make_preload(void)
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

/* ---- running a program under the shim --------------------------------------- */

/*
 * Starts prog with argv[1..] = args (NULL-terminated, at most 8) under the
 * shim. kernel_env: NULL leaves SVIPC_PRELOAD_KERNEL unset, otherwise its
 * value. If in/out are not NULL, *in gets a pipe to the program's stdin and
 * *out a stream of its stdout. Returns the pid, or -1.
 */
static inline pid_t shim_start(const char *prog, const char *const *args, const char *kernel_env,
			int *in, FILE **out)
{
	char *argv[10];
	int argc = 0;
	argv[argc++] = (char *)prog;
	for (; *args && argc < 9; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;

	int ip[2] = { -1, -1 }, op[2] = { -1, -1 };
	if (in && (pipe2(ip, O_CLOEXEC) || pipe2(op, O_CLOEXEC))) {
		T_FAIL("pipe: %s", strerror(errno));
		return -1;
	}
	pid_t p = mp_fork();
	if (p == -1)
		return -1;
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
		execv(prog, argv);
		fprintf(stderr, "execv %s: %s\n", prog, strerror(errno));
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

/* The wait status of a program shim_start started, or -1. */
static inline int shim_wait(pid_t p)
{
	return mp_wait(p, "program");
}

/* Runs prog with args under the shim (see shim_start): its wait status, or -1. */
static inline int shim_run(const char *prog, const char *const *args, const char *kernel_env)
{
	pid_t p = shim_start(prog, args, kernel_env, NULL, NULL);
	return p == -1 ? -1 : shim_wait(p);
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
static inline int dir_entries(const char *prefix)
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

/* 1 if the namespace has the regular file of object id of kind ("shm"). */
static inline int ns_file_exists(const char *kind, int id)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s.%d", t_dir, kind, id);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- the kernel object at the test's key -------------------------------------- */

/* The kernel's calls for one kind of object. */
struct shim_kernel {
	const char *kinds;        /* named when the kernel has none: "message queues" */
	const char *kind;         /* named when one is left behind: "queue" */
	const char *get_name;     /* "msgget" */
	int (*make_private)(void); /* an IPC_PRIVATE object, or -1 */
	int (*get)(key_t key);     /* the object at key, or -1 */
	void (*rm)(int id);        /* IPC_RMID */
};

/* Kernel object key this test may leave behind; removed at exit or timeout. */
static const struct shim_kernel *shim_k;
static volatile sig_atomic_t kernel_key_armed;
static volatile key_t kernel_key;
static int kernel_ok; /* the kernel has this kind of object */

static inline void remove_kernel_object(void)
{
	if (!kernel_key_armed)
		return;
	int id = shim_k->get(kernel_key);
	if (id != -1)
		shim_k->rm(id);
}

static inline void kernel_cleanup_atexit(void)
{
	if (getpid() == t_owner_pid)
		remove_kernel_object();
}

static inline void on_alarm(int sig)
{
	remove_kernel_object(); /* msgget/msgctl, shmget/shmctl are plain system calls */
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * After t_setup: the kernel object at the key is removed at exit and on
 * timeout; makes the LD_PRELOAD value; sets kernel_ok; finds a key
 * ftok(t_dir, proj) free in the kernel (svipc's namespace is new and empty)
 * into *key. Returns proj, or -1 (reported).
 */
static inline int shim_setup(const struct shim_kernel *k, key_t *key)
{
	shim_k = k;
	signal(SIGALRM, on_alarm);
	atexit(kernel_cleanup_atexit);
	unsetenv("SVIPC_PRELOAD_KERNEL");
	make_preload();

	/* Is there a kernel implementation to tell apart from? */
	int probe = k->make_private();
	if (probe != -1) {
		kernel_ok = 1;
		k->rm(probe);
	} else {
		fprintf(stderr, "note: kernel %s unavailable (%s); kernel-side checks skipped\n",
			k->kinds, strerror(errno));
	}

	int proj;
	for (proj = 1; proj < 256; proj++) {
		*key = ftok(t_dir, proj);
		if (*key == (key_t)-1) {
			T_FAIL("ftok(%s): %s", t_dir, strerror(errno));
			return -1;
		}
		if (!kernel_ok || (k->get(*key) == -1 && errno == ENOENT))
			break;
	}
	if (proj == 256) {
		T_FAIL("no free kernel key for ftok(%s, 1..255)", t_dir);
		return -1;
	}
	kernel_key = *key;
	kernel_key_armed = 1;
	return proj;
}

/* At the end: nothing is left in the kernel at key (no longer ours to remove). */
static inline void shim_kernel_clean(key_t key)
{
	if (!kernel_ok)
		return;
	errno = 0;
	int left = shim_k->get(key);
	if (left == -1 && errno == ENOENT)
		kernel_key_armed = 0; /* clean: the key is no longer ours to remove */
	else
		T_FAIL("kernel %s left at key %#x: %s = %d", shim_k->kind, (unsigned)key,
		       shim_k->get_name, left);
}

/*
 * The opening checks every shim test makes: a program that never calls the
 * functions does nothing; the self-contained scenario ("self") runs on svipc
 * and (if there is one) on the kernel, and leaves nothing at key either way.
 * svipc_get is svipc's get of the object at a key; prefix names the kind's
 * files in the namespace ("shm.").
 */
static inline void shim_self_checks(const char *prog, key_t key, int proj,
				    int (*svipc_get)(key_t key), const char *prefix)
{
	char projs[16];
	snprintf(projs, sizeof projs, "%d", proj);
	const char *nargs[] = { "-n", NULL };
	T_EXITED_0(shim_run(prog, nargs, NULL), "prog -n under the shim");
	T_EQ(dir_entries(NULL), 0);
	const char *sargs[] = { "self", t_dir, projs, NULL };
	T_EXITED_0(shim_run(prog, sargs, NULL), "prog self under the shim");
	T_ASSERT(dir_entries(NULL) > 0); /* it did run on svipc: the namespace exists */
	T_EQ(dir_entries(prefix), 0);
	T_ERR(svipc_get(key), ENOENT);
	if (kernel_ok) {
		T_ERR(shim_k->get(key), ENOENT);
		T_EXITED_0(shim_run(prog, sargs, "1"), "prog self, SVIPC_PRELOAD_KERNEL=1");
		T_ERR(shim_k->get(key), ENOENT);
		T_EQ(dir_entries(prefix), 0);
	}
}

#endif

/*
 * test_shim_sem.c - the LD_PRELOAD shim runs unmodified semaphore programs
 * on svipc.
 *
 * prog_plain_sem (built without svipc, against <sys/sem.h> only) is run
 * under LD_PRELOAD=libsvipc-preload.so in this test's SVIPC_DIR, and:
 *  - a run that never touches a semaphore exits 0 and leaves SVIPC_DIR empty;
 *  - its self-contained scenario (see prog_plain_sem.c: errors, values,
 *    blocking, GETNCNT/GETZCNT, SEM_UNDO at exit and SIGKILL, SETVAL
 *    clearing adjustments, IPC_SET, IPC_INFO/SEM_INFO/SEM_STAT, IPC_64 and
 *    unknown commands, IPC_RMID with three arguments waking a waiter with
 *    EIDRM) exits 0 and leaves no set, on svipc and on the kernel;
 *  - three unrelated programs share a keyed set: program 1 (`create`) makes
 *    it and plays side A of 2000 ping-pong round trips with program 2
 *    (`peer`, a separate exec) over two semaphores; program 1 checks after
 *    each round that both are 0 again and reports the pid of the last
 *    process that took s0, which must be program 2. Program 2 then takes a
 *    lock semaphore with SEM_UNDO and holds it; program 3 (`lock`) blocks
 *    on it (GETNCNT shows it waiting), and gets it when program 2 exits by
 *    itself or is killed with SIGKILL: the adjustment gives it back.
 *    Meanwhile this test shows where the set lives: under the shim
 *    svipc_semget finds the key, the file sem.<id> is in SVIPC_DIR and the
 *    kernel's semget(key, 0, 0) fails with ENOENT; with SVIPC_PRELOAD_KERNEL=1 it is
 *    the other way round: the kernel's semctl(IPC_STAT) and `ipcs -s` show
 *    the set, svipc_semget gives ENOENT and SVIPC_DIR holds no sem.* file.
 *    Program 4 (`rm`) removes the set by key.
 *  - dlopen + dlvsym finds semget, semop, semctl@GLIBC_2.2.5 and
 *    semtimedop@GLIBC_2.3.3 in the shim; svipc_sem* are not exported.
 * Every set made here, in the kernel or in svipc, is removed at the end
 * (atexit, and on the test's own timeout).
 */
#include "svipc.h"
#include "t.h"
#include "shim_run.h"

#include <dlfcn.h>
#include <sys/sem.h>
#include <sys/stat.h>

#ifndef PLAIN_SEM_PROG
#error "PLAIN_SEM_PROG (path of prog_plain_sem) must be defined"
#endif

#define ROUNDS 2000
#define LOCK_SEM 2
#define MAX_LOCK_WAIT_MS 5000 /* program 3 must get the lock this soon after the holder ends */

static int kset_private(void)
{
	return semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
}

static int kset_get(key_t key)
{
	return semget(key, 0, 0);
}

static void kset_rm(int id)
{
	semctl(id, 0, IPC_RMID);
}

/* svipc's object at key, for shim_self_checks. */
static int svipc_set_at(key_t key)
{
	return svipc_semget(key, 0, 0);
}

static const struct shim_kernel kernel_sets = { "semaphores", "semaphore set", "semget",
						kset_private, kset_get, kset_rm };

static pid_t start_prog(const char *const *args, const char *kernel_env, int *in, FILE **out)
{
	return shim_start(PLAIN_SEM_PROG, args, kernel_env, in, out);
}

static int run_prog(const char *const *args, const char *kernel_env)
{
	return shim_run(PLAIN_SEM_PROG, args, kernel_env);
}

/* semctl of the implementation the programs use (no fourth argument). */
static int impl_ctl(int kernel, int id, int n, int cmd)
{
	return kernel ? semctl(id, n, cmd) : svipc_semctl(id, n, cmd);
}

/* Polls until impl_ctl(cmd) gives want (up to ms); 1 if it did. */
static int wait_ctl(int kernel, int id, int n, int cmd, int want, long ms)
{
	int64_t end = now_ms() + ms;
	while (impl_ctl(kernel, id, n, cmd) != want) {
		if (now_ms() > end)
			return 0;
		sleep_ms(1);
	}
	return 1;
}

/* Reads one line from f into buf; 1 if it got one. */
static int read_line(FILE *f, char *buf, size_t n)
{
	buf[0] = 0;
	if (!f || !fgets(buf, (int)n, f))
		return 0;
	buf[strcspn(buf, "\n")] = 0;
	return 1;
}

/* 1 if `ipcs -s` lists a set with this key and id; 0 if not; -1 if ipcs cannot run. */
static int ipcs_lists(key_t key, int id)
{
	FILE *p = popen("ipcs -s 2>/dev/null", "r");
	if (!p)
		return -1;
	char line[256], want_key[32], want_id[32];
	snprintf(want_key, sizeof want_key, "0x%08x", (unsigned)key);
	snprintf(want_id, sizeof want_id, "%d", id);
	int found = 0, lines = 0;
	while (fgets(line, sizeof line, p)) {
		lines++;
		char k[64] = "", i[64] = "";
		if (sscanf(line, "%63s %63s", k, i) == 2 && !strcmp(k, want_key) &&
		    !strcmp(i, want_id))
			found = 1;
	}
	int st = pclose(p);
	if (lines == 0 || st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return found;
}

/* ---- one round: create + peer ping-pong, a SEM_UNDO lock, rm ------------------ */

static void round_trip(key_t key, int proj, int kernel, int kill_peer)
{
	const char *env = kernel ? "1" : NULL;
	const char *mode = kernel ? "kernel" : "svipc";
	char projs[16], rounds[16];
	snprintf(projs, sizeof projs, "%d", proj);
	snprintf(rounds, sizeof rounds, "%d", ROUNDS);
	fprintf(stderr, "round: %s, lock holder %s\n", mode, kill_peer ? "killed" : "exits");

	int in1 = -1, in2 = -1, in3 = -1;
	FILE *out1 = NULL, *out2 = NULL, *out3 = NULL;
	pid_t p2 = -1, p3 = -1;
	char line[128];
	int id = -1;

	const char *cargs[] = { "create", t_dir, projs, rounds, NULL };
	pid_t p1 = start_prog(cargs, env, &in1, &out1);
	if (p1 == -1)
		return;
	if (!read_line(out1, line, sizeof line) || sscanf(line, "ready %d", &id) != 1) {
		T_FAIL("%s: program 1 did not report ready (\"%s\")", mode, line);
		goto out;
	}

	/* Where does it live? */
	if (!kernel) {
		T_EQ(T_OK(svipc_semget(key, 0, 0)), id);
		T_ASSERT(ns_file_exists("sem", id));
		if (kernel_ok)
			T_ERR(semget(key, 0, 0), ENOENT);
		struct semid_ds ds;
		memset(&ds, 0, sizeof ds);
		union t_semun a = { .buf = &ds };
		T_OK(svipc_semctl(id, 0, IPC_STAT, a));
		T_EQ(ds.sem_nsems, 3);
		T_EQ(ds.sem_perm.__key, key);
		T_EQ(ds.sem_perm.mode & 0777, 0640);
	} else {
		T_EQ(dir_entries("sem."), 0);
		T_ERR(svipc_semget(key, 0, 0), ENOENT);
		T_EQ(T_OK(semget(key, 0, 0)), id);
		struct semid_ds ds;
		memset(&ds, 0, sizeof ds);
		union t_semun a = { .buf = &ds };
		T_OK(semctl(id, 0, IPC_STAT, a));
		T_EQ(ds.sem_nsems, 3);
		T_EQ(ds.sem_perm.__key, key);
		T_EQ(ds.sem_perm.mode & 0777, 0640);
		int l = ipcs_lists(key, id);
		if (l == -1)
			fprintf(stderr, "note: ipcs not available; kernel semctl shown instead\n");
		else if (l == 0)
			T_FAIL("kernel: `ipcs -s` does not list key 0x%08x id %d", (unsigned)key, id);
	}

	/* Program 2: an unrelated process finds it by key and plays side B. */
	const char *pargs[] = { "peer", t_dir, projs, rounds, NULL };
	p2 = start_prog(pargs, env, &in2, &out2);
	if (p2 == -1)
		goto out;
	int n = 0, peer = 0;
	if (!read_line(out1, line, sizeof line) ||
	    sscanf(line, "pingpong %d peer %d", &n, &peer) != 2) {
		T_FAIL("%s: program 1 did not finish the ping-pong (\"%s\")", mode, line);
		goto out;
	}
	T_EQ(n, ROUNDS);
	T_EQ(peer, p2);
	if (!read_line(out2, line, sizeof line) || strcmp(line, "locked")) {
		T_FAIL("%s: program 2 did not take the lock (\"%s\")", mode, line);
		goto out;
	}
	T_EQ(impl_ctl(kernel, id, LOCK_SEM, GETVAL), 0);
	T_EQ(impl_ctl(kernel, id, LOCK_SEM, GETPID), p2);

	/* Program 3 blocks on the lock... */
	char holder[16];
	snprintf(holder, sizeof holder, "%d", (int)p2);
	const char *largs[] = { "lock", t_dir, projs, holder, NULL };
	p3 = start_prog(largs, env, &in3, &out3);
	if (p3 == -1)
		goto out;
	if (!wait_ctl(kernel, id, LOCK_SEM, GETNCNT, 1, 5000))
		T_FAIL("%s: GETNCNT of the lock never showed program 3 waiting (%d)", mode,
		       impl_ctl(kernel, id, LOCK_SEM, GETNCNT));
	T_EQ(impl_ctl(kernel, id, LOCK_SEM, GETVAL), 0);

	/* ... until program 2 ends: the SEM_UNDO adjustment releases it. From here
	 * this process leaves the set alone until program 3 is done, so that only
	 * program 3 can notice a killed holder. */
	int64_t t_release = now_ms();
	if (kill_peer) {
		kill(p2, SIGKILL);
		int st = shim_wait(p2);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			T_FAIL("%s: program 2 was not killed: status %#x", mode, st);
	} else {
		close(in2);
		in2 = -1;
		T_EXITED_0(shim_wait(p2), kernel ? "program 2 (kernel)" : "program 2 (svipc)");
	}
	p2 = -1;
	long long ms = -1, at = 0;
	if (!read_line(out3, line, sizeof line) ||
	    sscanf(line, "got lock after %lld ms at %lld", &ms, &at) != 2)
		T_FAIL("%s: program 3 never got the lock (\"%s\")", mode, line);
	close(in3);
	in3 = -1;
	T_EXITED_0(shim_wait(p3), kernel ? "program 3 (kernel)" : "program 3 (svipc)");
	p3 = -1;
	if (ms >= 0) {
		/* Both clocks are CLOCK_MONOTONIC, in ms. */
		long long after = at - (long long)t_release;
		fprintf(stderr, "  %s: program 3 got the lock %lld ms after the holder was %s "
				"(it waited %lld ms in all)\n",
			mode, after, kill_peer ? "killed" : "told to exit", ms);
		if (after > MAX_LOCK_WAIT_MS)
			T_FAIL("%s: the lock came free %lld ms after its holder was %s (limit %d)",
			       mode, after, kill_peer ? "killed" : "told to exit", MAX_LOCK_WAIT_MS);
	}
	T_EQ(impl_ctl(kernel, id, LOCK_SEM, GETVAL), 1);
	T_EQ(impl_ctl(kernel, id, LOCK_SEM, GETNCNT), 0);
	T_EQ(impl_ctl(kernel, id, 0, GETVAL), 0);
	T_EQ(impl_ctl(kernel, id, 1, GETVAL), 0);

	close(in1);
	in1 = -1;
	T_EXITED_0(shim_wait(p1), kernel ? "program 1 (kernel)" : "program 1 (svipc)");
	p1 = -1;

	/* Program 4 removes it by key (semctl with three arguments). */
	const char *rargs[] = { "rm", t_dir, projs, NULL };
	T_EXITED_0(run_prog(rargs, env), kernel ? "program 4 (kernel)" : "program 4 (svipc)");
	T_ERR(svipc_semget(key, 0, 0), ENOENT);
	T_EQ(dir_entries("sem."), 0);
	if (kernel_ok) {
		T_ERR(semget(key, 0, 0), ENOENT);
		if (kernel && ipcs_lists(key, id) == 1)
			T_FAIL("kernel: `ipcs -s` still lists key 0x%08x after rm", (unsigned)key);
	}
out:
	for (int k = 0; k < 3; k++) {
		pid_t p = k == 0 ? p1 : k == 1 ? p2 : p3;
		if (p > 0) {
			kill(p, SIGKILL);
			shim_wait(p);
		}
	}
	if (in1 != -1)
		close(in1);
	if (in2 != -1)
		close(in2);
	if (in3 != -1)
		close(in3);
	if (out1)
		fclose(out1);
	if (out2)
		fclose(out2);
	if (out3)
		fclose(out3);
}

/* ---- the exported names, through the dynamic linker -------------------------- */

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int in_shim(const void *p)
{
	Dl_info info;
	return p && dladdr(p, &info) && same_file(info.dli_fname, SHIM_PATH);
}

/* In a child: dlopen(RTLD_LOCAL) interposes nothing on this process. */
static int dl_checks(void)
{
	t_failures = 0;
	void *h = dlopen(SHIM_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		T_FAIL("dlopen %s: %s", SHIM_PATH, dlerror());
		return 1;
	}
	static const char *const names[][2] = { { "semget", "GLIBC_2.2.5" },
						{ "semop", "GLIBC_2.2.5" },
						{ "semctl", "GLIBC_2.2.5" },
						{ "semtimedop", "GLIBC_2.3.3" } };
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		void *v = dlvsym(h, names[k][0], names[k][1]);
		if (!in_shim(v))
			T_FAIL("dlvsym(shim, %s, %s) = %p is not in the shim", names[k][0],
			       names[k][1], v);
		void *d = dlsym(h, names[k][0]);
		if (d != v)
			T_FAIL("dlsym(shim, %s) = %p, dlvsym gave %p", names[k][0], d, v);
	}
	if (in_shim(dlvsym(h, "semtimedop", "GLIBC_2.2.5")))
		T_FAIL("the shim exports semtimedop@GLIBC_2.2.5, which x86-64 glibc never had");
	static const char *const hidden[] = { "svipc_semget", "svipc_semop", "svipc_semtimedop",
					      "svipc_semctl" };
	for (size_t k = 0; k < sizeof hidden / sizeof hidden[0]; k++)
		if (in_shim(dlsym(h, hidden[k])))
			T_FAIL("shim exports %s", hidden[k]);
	dlclose(h);
	return t_failures ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------ */

int main(void)
{
	t_setup(150);
	key_t key = -1;
	int proj = shim_setup(&kernel_sets, &key);
	if (proj == -1)
		return t_done();
	shim_self_checks(PLAIN_SEM_PROG, key, proj, svipc_set_at, "sem.");

	/* Unrelated programs, on svipc, then on the kernel. */
	for (int kill_peer = 0; kill_peer < 2; kill_peer++) {
		round_trip(key, proj, 0, kill_peer);
		if (kernel_ok)
			round_trip(key, proj, 1, kill_peer);
	}

	fflush(NULL);
	pid_t c = fork();
	if (c == 0)
		_exit(dl_checks());
	if (c == -1)
		T_FAIL("fork: %s", strerror(errno));
	else
		T_EXITED_0(shim_wait(c), "dlopen/dlvsym checks");

	/* Nothing left anywhere. */
	T_ERR(svipc_semget(key, 0, 0), ENOENT);
	T_EQ(dir_entries("sem."), 0);
	shim_kernel_clean(key);
	return t_done();
}

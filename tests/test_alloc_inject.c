/*
 * Allocation failure injection. This program replaces malloc and its kin
 * with versions that fail the Nth call once armed, so svipc's own
 * allocations and those of the C library calls it makes fail alike. Each
 * operation runs in a fresh process (the test runs itself again), first
 * use included, with N = 1, 2, 3 ... until it succeeds without reaching
 * the Nth. Every failure must be a clean ENOMEM that leaves every object
 * consistent (svipc__check) with the operation done wholly or not at all.
 * Recovery from a dead lock holder is swept the same way, and the calls a
 * program makes all the time (after their first) must allocate nothing.
 */
#include "check_all.h"
#include "dead_holder.h"
#include "internal.h"
#include "region.h"

#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define ALLOC_HOOKS 1

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static long alloc_countdown = -1; /* < 0: off; 0: count only; N: fail the Nth */
static long alloc_calls;
static int alloc_hit;

static int alloc_fails(void)
{
	if (alloc_countdown < 0)
		return 0;
	alloc_calls++;
	if (alloc_countdown > 0 && --alloc_countdown == 0) {
		alloc_hit = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *malloc(size_t n)
{
	return alloc_fails() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
	return alloc_fails() ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* ---- the child: one operation in a fresh process ------------------------------------- */

#define MSG_BYTES 3000
#define NSEMS 5

struct msg {
	long type;
	unsigned char text[MSG_BYTES];
};

static void fill(struct msg *m, unsigned seed)
{
	m->type = 1 + seed % 5;
	for (int i = 0; i < MSG_BYTES; i++)
		m->text[i] = (unsigned char)(seed * 31 + (unsigned)i * 7);
}

/* 1 if m is what fill(seed) made, for some seed (the first byte says which). */
static int intact(const struct msg *m)
{
	struct msg want;
	for (unsigned seed = 0; seed < 4096; seed++)
		if ((unsigned char)(seed * 31) == m->text[0]) {
			fill(&want, seed);
			if (want.type == m->type && !memcmp(want.text, m->text, MSG_BYTES))
				return 1;
		}
	return 0;
}

static struct msg cmsg;

/* Each returns >= 0, or -1 with errno; -2 means wrong data. */
static long child_op(const char *op, long a, long b)
{
	if (!strcmp(op, "msgget"))
		return svipc_msgget((key_t)a, IPC_CREAT | 0600);
	if (!strcmp(op, "semget"))
		return svipc_semget((key_t)a, NSEMS, IPC_CREAT | 0600);
	if (!strcmp(op, "shmget"))
		return svipc_shmget((key_t)a, 65536, IPC_CREAT | 0600);
	if (!strcmp(op, "msgsnd")) {
		fill(&cmsg, (unsigned)b);
		return svipc_msgsnd((int)a, &cmsg, MSG_BYTES, IPC_NOWAIT);
	}
	if (!strcmp(op, "msgrcv")) {
		long n = svipc_msgrcv((int)a, &cmsg, MSG_BYTES, 0, IPC_NOWAIT);
		return n < 0 ? n : (n != MSG_BYTES || !intact(&cmsg)) ? -2 : 0;
	}
	if (!strcmp(op, "msgsnd+msgrcv")) {
		fill(&cmsg, (unsigned)b);
		if (svipc_msgsnd((int)a, &cmsg, MSG_BYTES, IPC_NOWAIT) < 0)
			return -1;
		long n = svipc_msgrcv((int)a, &cmsg, MSG_BYTES, 0, IPC_NOWAIT);
		return n < 0 ? n : (n != MSG_BYTES || !intact(&cmsg)) ? -2 : 0;
	}
	if (!strcmp(op, "msgctl_grow")) {
		struct msqid_ds ds;
		if (svipc_msgctl((int)a, IPC_STAT, &ds) < 0)
			return -1;
		ds.msg_qbytes = (msglen_t)b;
		return svipc_msgctl((int)a, IPC_SET, &ds);
	}
	if (!strcmp(op, "semop_undo")) {
		struct sembuf ops[2] = { { 0, 1, SEM_UNDO }, { 1, 1, 0 } };
		return svipc_semop((int)a, ops, 2);
	}
	if (!strcmp(op, "undo_churn")) { /* sets used with SEM_UNDO in turn */
		for (int i = 0; i < 1000; i++) {
			int id = svipc_semget(IPC_PRIVATE, 1, 0600);
			struct sembuf op1 = { 0, 1, SEM_UNDO };
			if (id < 0 || svipc_semop(id, &op1, 1) < 0 || svipc_semctl(id, 0, IPC_RMID) < 0)
				return -1;
		}
		return 0;
	}
	if (!strcmp(op, "semop")) {
		struct sembuf op1 = { 0, 1, 0 };
		return svipc_semop((int)a, &op1, 1);
	}
	if (!strcmp(op, "setall")) {
		unsigned short v[NSEMS] = { 1, 2, 3, 4, 5 };
		return svipc_semctl((int)a, 0, SETALL, v);
	}
	if (!strcmp(op, "shmat")) {
		unsigned char *p = svipc_shmat((int)a, NULL, 0);
		if (p == (void *)-1)
			return -1;
		p[0] = (unsigned char)b;
		return svipc_shmdt(p);
	}
	fprintf(stderr, "unknown operation %s\n", op);
	return -3;
}

/*
 * argv: child OP N WARM A B. WARM: run the operation once before arming.
 * Writes "r errno hit calls" to stdout with the allocator disarmed.
 */
static int child_main(char **argv)
{
	alarm(20);
	const char *op = argv[2];
	long n = atol(argv[3]), a = atol(argv[5]), b = atol(argv[6]);
	if (atoi(argv[4]) && child_op(op, a, b) < 0)
		return 3;
	long r;
	int e;
	alloc_countdown = n;
	errno = 0;
	r = child_op(op, a, b);
	e = errno;
	alloc_countdown = -1;
	char line[128];
	int len = snprintf(line, sizeof line, "%ld %d %d %ld\n", r, e, alloc_hit, alloc_calls);
	if (write(1, line, (size_t)len) != len)
		return 4;
	return 0;
}

/* ---- the parent ----------------------------------------------------------------------- */

struct result {
	long r;
	int e, hit;
	long calls;
};

static char self[4096];

static int run_child(const char *op, int n, int warm, long a, long b, struct result *res)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	char sn[16], sw[4], sa[24], sb[24];
	snprintf(sn, sizeof sn, "%d", n);
	snprintf(sw, sizeof sw, "%d", warm);
	snprintf(sa, sizeof sa, "%ld", a);
	snprintf(sb, sizeof sb, "%ld", b);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl(self, self, "child", op, sn, sw, sa, sb, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[128] = { 0 };
	size_t have = 0;
	ssize_t k;
	while (have < sizeof buf - 1 && (k = read(p[0], buf + have, sizeof buf - 1 - have)) > 0)
		have += (size_t)k;
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("%s, failure %d: the process ended with status 0x%x", op, n, st);
		return -1;
	}
	if (sscanf(buf, "%ld %d %d %ld", &res->r, &res->e, &res->hit, &res->calls) != 4) {
		T_FAIL("%s, failure %d: no result", op, n);
		return -1;
	}
	return 0;
}

/* Recovery sweeps: a lock word handed to a dead process before each run. */
static uint32_t dead_token;
static uint32_t *lock_word;
static int recoveries; /* runs whose process took the lock over */

struct sweep_stats {
	int failures;  /* runs that failed cleanly with ENOMEM */
	int tolerated; /* runs that succeeded although an allocation failed */
	long calls;    /* allocations the operation makes when none fails */
};

/*
 * Runs op with the Nth allocation failing, N = 1, 2, ... until it succeeds
 * without reaching the Nth, on object *a (before() may replace it).
 * before() prepares each run; after(r) checks
 * that a run that failed changed nothing and one that succeeded did all.
 */
static struct sweep_stats sweep(const char *op, const long *a, long b, void (*before)(void),
				void (*after)(int n, long r))
{
	struct sweep_stats st = { 0, 0, 0 };
	for (int n = 1; n < 400; n++) {
		if (before)
			before();
		struct result res;
		if (run_child(op, n, 0, *a, b, &res) < 0)
			return st;
		if (lock_word && __atomic_load_n(lock_word, __ATOMIC_ACQUIRE) != dead_token)
			recoveries++; /* before anything here takes the lock */
		if (res.r < 0 && (res.r != -1 || res.e != ENOMEM)) {
			T_FAIL("%s, failure %d: returned %ld errno %d (%s), want ENOMEM", op, n,
			       res.r, res.e, strerror(res.e));
			return st;
		}
		t_all_consistent(op, n);
		if (after)
			after(n, res.r);
		if (res.r >= 0 && !res.hit) {
			st.calls = res.calls;
			return st;
		}
		if (res.r >= 0)
			st.tolerated++;
		else
			st.failures++;
	}
	T_FAIL("%s: never succeeded", op);
	return st;
}

static void report(const char *op, struct sweep_stats st)
{
	printf("  %-22s %3ld allocations, %3d failed with ENOMEM, %2d succeeded anyway\n", op,
	       st.calls, st.failures, st.tolerated);
}

/* ---- creation --------------------------------------------------------------------------- */

static long key;
static int (*exists)(key_t key);
static int (*remove_key)(key_t key);

static int msg_exists(key_t k)
{
	return svipc_msgget(k, 0) >= 0;
}

static int msg_remove(key_t k)
{
	return svipc_msgctl(svipc_msgget(k, 0), IPC_RMID, NULL);
}

static int sem_exists(key_t k)
{
	return svipc_semget(k, 0, 0) >= 0;
}

static int sem_remove(key_t k)
{
	return svipc_semctl(svipc_semget(k, 0, 0), 0, IPC_RMID);
}

static int shm_exists(key_t k)
{
	return svipc_shmget(k, 0, 0) >= 0;
}

static int shm_remove(key_t k)
{
	return svipc_shmctl(svipc_shmget(k, 0, 0), IPC_RMID, NULL);
}

static void created_or_not(int n, long r)
{
	if (exists(key) != (r >= 0))
		T_FAIL("key 0x%x, failure %d: returned %ld but the object %s", (unsigned)key, n, r,
		       exists(key) ? "exists" : "does not exist");
	if (exists(key))
		T_OK(remove_key(key));
}

/* ---- a new namespace: its limits are the kernel's, never defaults taken for want of memory */

static char new_ns[96];

static void no_namespace(void)
{
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", new_ns);
	T_EQ(system(cmd), 0);
}

static uint64_t proc_value(const char *path, int field)
{
	unsigned long long v[4] = { 0 };
	FILE *f = fopen(path, "r");
	T_ASSERT(f != NULL);
	if (f) {
		T_ASSERT(fscanf(f, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) >= field + 1);
		fclose(f);
	}
	return v[field];
}

static void kernel_limits_or_nothing(int n, long r)
{
	char path[160];
	snprintf(path, sizeof path, "%s/ns", new_ns);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (r >= 0)
			T_FAIL("namespace, failure %d: the call succeeded without a namespace", n);
		return;
	}
	uint64_t lim[10]; /* after magic, version, lock and pad */
	T_EQ(fseek(f, 16, SEEK_SET), 0);
	T_EQ(fread(lim, sizeof lim, 1, f), 1);
	fclose(f);
	if (lim[0] != proc_value("/proc/sys/kernel/msgmax", 0) ||
	    lim[1] != proc_value("/proc/sys/kernel/msgmnb", 0) ||
	    lim[6] != proc_value("/proc/sys/kernel/sem", 0) ||
	    lim[7] != proc_value("/proc/sys/kernel/sem", 1) ||
	    lim[8] != proc_value("/proc/sys/kernel/sem", 2))
		T_FAIL("namespace, failure %d: made with limits that are not the kernel's "
		       "(msgmax %llu, msgmnb %llu, semmsl %llu)", n, (unsigned long long)lim[0],
		       (unsigned long long)lim[1], (unsigned long long)lim[6]);
}

/* ---- messages --------------------------------------------------------------------------- */

static long q;
static unsigned long qnum0;

static unsigned long qnum(int id)
{
	struct msqid_ds ds;
	T_OK(svipc_msgctl(id, IPC_STAT, &ds));
	return (unsigned long)ds.msg_qnum;
}

static void note_qnum(void)
{
	qnum0 = qnum(q);
}

static void one_more_or_not(int n, long r)
{
	if (qnum(q) != qnum0 + (r >= 0))
		T_FAIL("msgsnd, failure %d: %lu messages, want %lu", n, qnum(q), qnum0 + (r >= 0));
}

static void one_message(void)
{
	if (qnum(q) == 0) {
		struct msg m;
		fill(&m, 77);
		T_OK(svipc_msgsnd(q, &m, MSG_BYTES, 0));
	}
	qnum0 = qnum(q);
}

static void one_less_or_not(int n, long r)
{
	if (r == -2)
		T_FAIL("msgrcv, failure %d: the message came back damaged", n);
	if (qnum(q) + (r >= 0) != qnum0)
		T_FAIL("msgrcv, failure %d: %lu messages left of %lu", n, qnum(q), qnum0);
}

/* Receives every message of q; each must be intact. */
static unsigned long drain(int id)
{
	struct msg m;
	unsigned long n = 0;
	long k;
	while ((k = svipc_msgrcv(id, &m, MSG_BYTES, 0, IPC_NOWAIT)) >= 0) {
		if (k != MSG_BYTES || !intact(&m))
			T_FAIL("message %lu came back damaged", n);
		n++;
	}
	T_EQ(errno, ENOMSG);
	return n;
}

static unsigned long qbytes_old, qbytes_new;

/* A queue of 4 messages that has not grown (a run that succeeded grew the last one). */
static void queue_to_grow(void)
{
	struct msqid_ds ds;
	if (q >= 0) {
		T_OK(svipc_msgctl(q, IPC_STAT, &ds));
		if (ds.msg_qbytes == qbytes_old)
			return;
		T_EQ(drain(q), 4);
		T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	}
	/* made under the old msgmnb, so that it has room for no more */
	struct svipc_limits lim;
	T_OK(svipc_limits_get(&lim));
	lim.msgmnb = qbytes_old;
	T_OK(svipc_limits_set(&lim));
	q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	lim.msgmnb = qbytes_new;
	T_OK(svipc_limits_set(&lim));
	for (unsigned i = 0; i < 4; i++) {
		struct msg msg;
		fill(&msg, 100 + i);
		T_OK(svipc_msgsnd(q, &msg, MSG_BYTES, 0));
	}
	qnum0 = 4;
}

static ino_t q_ino(void)
{
	char name[32], path[160];
	struct stat st;
	svipc__obj_name(name, sizeof name, SVIPC_MSG, (int)q);
	snprintf(path, sizeof path, "%s/%s", t_dir, name);
	T_OK(stat(path, &st));
	return st.st_ino;
}

static ino_t ino_before;

static void queue_to_grow_ino(void)
{
	queue_to_grow();
	ino_before = q_ino();
}

static void qbytes_set_or_not(int n, long r)
{
	struct msqid_ds ds;
	if ((q_ino() != ino_before) != (r >= 0))
		T_FAIL("IPC_SET, failure %d: returned %ld, and the queue %s", n, r,
		       r >= 0 ? "did not move to a larger file" : "moved");
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	if (ds.msg_qbytes != (r >= 0 ? qbytes_new : qbytes_old) || ds.msg_qnum != qnum0)
		T_FAIL("IPC_SET, failure %d: qbytes %lu qnum %lu", n, (unsigned long)ds.msg_qbytes,
		       (unsigned long)ds.msg_qnum);
}

/* ---- semaphores ------------------------------------------------------------------------- */

static long s;
static int sem1_before;

static void note_sem1(void)
{
	sem1_before = svipc_semctl(s, 1, GETVAL);
}

static void undone_and_all_or_nothing(int n, long r)
{
	/* The SEM_UNDO half was undone at exit; the other half stays if the call succeeded. */
	if (svipc_semctl(s, 0, GETVAL) != 0 || svipc_semctl(s, 1, GETVAL) != sem1_before + (r >= 0))
		T_FAIL("semop, failure %d (returned %ld): values %d %d, want 0 %d", n, r,
		       svipc_semctl(s, 0, GETVAL), svipc_semctl(s, 1, GETVAL), sem1_before + (r >= 0));
}

static void zero_all(void)
{
	unsigned short z[NSEMS] = { 0 };
	T_OK(svipc_semctl(s, 0, SETALL, z));
}

static void setall_or_not(int n, long r)
{
	unsigned short v[NSEMS];
	T_OK(svipc_semctl(s, 0, GETALL, v));
	for (int i = 0; i < NSEMS; i++)
		if (v[i] != (r >= 0 ? i + 1 : 0))
			T_FAIL("SETALL, failure %d (returned %ld): semaphore %d is %u", n, r, i, v[i]);
}

static int sem0_before;

static void note_sem0(void)
{
	sem0_before = svipc_semctl(s, 0, GETVAL);
}

/* ---- shared memory ---------------------------------------------------------------------- */

static long m;
static volatile unsigned char *mine;

static void clear_byte(void)
{
	mine[0] = 0;
}

static void detached_and_written_or_not(int n, long r)
{
	struct shmid_ds ds;
	T_OK(svipc_shmctl(m, IPC_STAT, &ds));
	if (ds.shm_nattch != 1) /* ours */
		T_FAIL("shmat, failure %d: nattch %lu, want 1", n, (unsigned long)ds.shm_nattch);
	if (r >= 0 && mine[0] != 0x5a)
		T_FAIL("shmat, failure %d: succeeded but wrote nothing", n);
}

/* ---- recovery: a lock whose holder died ------------------------------------------------- */


static uint32_t *map_word(const char *name, size_t off)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", t_dir, name);
	int fd = open(path, O_RDWR);
	if (fd < 0) {
		T_FAIL("open %s: %s", path, strerror(errno));
		exit(1);
	}
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		T_FAIL("mmap %s", path);
		exit(1);
	}
	return (uint32_t *)((char *)p + off);
}

static void lock_to_the_dead(void)
{
	__atomic_store_n(lock_word, dead_token, __ATOMIC_RELEASE);
}

static void lock_to_the_dead_q(void)
{
	note_qnum();
	lock_to_the_dead();
}

static void lock_to_the_dead_s(void)
{
	note_sem0();
	lock_to_the_dead();
}

static void sem0_up_or_not(int n, long r)
{
	if (svipc_semctl(s, 0, GETVAL) != sem0_before + (r >= 0))
		T_FAIL("semop after a dead holder, failure %d (returned %ld): value %d, want %d", n,
		       r, svipc_semctl(s, 0, GETVAL), sem0_before + (r >= 0));
}

/* Hands the lock at word to a dead process once more and sweeps op on it. */
static struct sweep_stats sweep_recovery(const char *what, uint32_t *word, const char *op,
					 const long *a, long b, void (*before)(void),
					 void (*after)(int n, long r))
{
	lock_word = word;
	recoveries = 0;
	struct sweep_stats st = sweep(op, a, b, before, after);
	lock_word = NULL;
	if (recoveries != st.failures + st.tolerated + 1)
		T_FAIL("%s: %d recoveries in %d runs", what, recoveries,
		       st.failures + st.tolerated + 1);
	report(what, st);
	return st;
}

/* ---- no allocation where a program spends its time ------------------------------------ */

static void steady(const char *op, long a, long b)
{
	struct result res;
	if (run_child(op, 0, 1, a, b, &res) < 0)
		return;
	if (res.r < 0)
		T_FAIL("%s: returned %ld errno %d", op, res.r, res.e);
	if (res.calls != 0)
		T_FAIL("%s: %ld allocations after the first call, want none", op, res.calls);
	printf("  %-22s %3ld allocations\n", op, res.calls);
}

static void chain_sort_check(void);

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "child"))
		return child_main(argv);
	t_setup(240);
	ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
	T_ASSERT(k > 0);
	chain_sort_check();

	printf("first calls in a fresh process, the Nth allocation failing:\n");
	struct svipc_limits lim;
	T_OK(svipc_limits_get(&lim)); /* this process keeps its namespace */
	snprintf(new_ns, sizeof new_ns, "%s/new", t_dir);
	T_OK(setenv("SVIPC_DIR", new_ns, 1));
	long priv = IPC_PRIVATE;
	report("new namespace", sweep("msgget", &priv, 0, no_namespace, kernel_limits_or_nothing));
	T_OK(setenv("SVIPC_DIR", t_dir, 1));
	key = 0x5eed0001;
	exists = msg_exists, remove_key = msg_remove;
	report("msgget", sweep("msgget", &key, 0, NULL, created_or_not));
	exists = sem_exists, remove_key = sem_remove;
	report("semget", sweep("semget", &key, 0, NULL, created_or_not));
	exists = shm_exists, remove_key = shm_remove;
	report("shmget", sweep("shmget", &key, 0, NULL, created_or_not));

	q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	report("msgsnd", sweep("msgsnd", &q, 1, note_qnum, one_more_or_not));
	report("msgrcv", sweep("msgrcv", &q, 0, one_message, one_less_or_not));
	T_EQ(drain(q), qnum0 - 1);

	/* IPC_SET beyond the queue's room moves it to a larger file. */
	T_OK(svipc_limits_get(&lim));
	qbytes_old = lim.msgmnb;
	qbytes_new = 1 << 20;
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	q = -1;
	queue_to_grow();
	report("IPC_SET (move)", sweep("msgctl_grow", &q, (long)qbytes_new, queue_to_grow_ino,
				       qbytes_set_or_not));
	T_EQ(drain(q), 4);

	s = T_OK(svipc_semget(IPC_PRIVATE, NSEMS, 0600));
	report("semop SEM_UNDO + exit",
	       sweep("semop_undo", &s, 0, note_sem1, undone_and_all_or_nothing));
	report("SETALL", sweep("setall", &s, 0, zero_all, setall_or_not));
	zero_all();

	m = T_OK(svipc_shmget(IPC_PRIVATE, 4096, 0600));
	mine = svipc_shmat(m, NULL, 0);
	T_ASSERT(mine != (void *)-1);
	report("shmat + shmdt", sweep("shmat", &m, 0x5a, clear_byte, detached_and_written_or_not));

	printf("recovery after a dead lock holder, the Nth allocation failing:\n");
	dead_token = t_dead_token();
	char name[32];
	for (unsigned i = 0; i < 3; i++) {
		struct msg msg;
		fill(&msg, 200 + i);
		T_OK(svipc_msgsnd(q, &msg, MSG_BYTES, 0));
	}
	svipc__obj_name(name, sizeof name, SVIPC_MSG, (int)q);
	uint32_t *qlock = map_word(name, offsetof(struct svipc_obj, lock));
	struct sweep_stats st = sweep_recovery("queue recovery", qlock, "msgsnd", &q, 3,
					       lock_to_the_dead_q, one_more_or_not);
	T_EQ(drain(q), 3 + st.tolerated + 1); /* each run that succeeded sent one */
	svipc__obj_name(name, sizeof name, SVIPC_SEM, (int)s);
	uint32_t *slock = map_word(name, offsetof(struct svipc_obj, lock));
	sweep_recovery("set recovery", slock, "semop", &s, 0, lock_to_the_dead_s, sem0_up_or_not);
	key = 0x5eed0002;
	exists = msg_exists, remove_key = msg_remove;
	uint32_t *nslock = map_word("ns", 8); /* magic, version, lock */
	sweep_recovery("namespace recovery", nslock, "msgget", &key, 0, lock_to_the_dead,
		       created_or_not);

	printf("calls after the first (must allocate nothing):\n");
	steady("msgsnd+msgrcv", q, 9);
	steady("semop", s, 0);
	steady("semop_undo", s, 0);
	steady("shmat", m, 0x5a);
	steady("undo_churn", 0, 0);
	zero_all();

	t_all_consistent("at the end", 0);
	T_OK(svipc_shmdt((void *)mine));
	T_OK(svipc_shmctl(m, IPC_RMID, NULL));
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	return t_done();
}

/* ---- the sort recovery uses (svipc__chain_sort) ---------------------------------------- */

static uint32_t cs_next[1001], cs_key[1001];

static uint32_t *cs_link(void *ctx, uint32_t i)
{
	(void)ctx;
	return &cs_next[i];
}

static int cs_before(void *ctx, uint32_t a, uint32_t b)
{
	(void)ctx;
	return cs_key[a] < cs_key[b];
}

/* Chains of every length to 1000 with few distinct keys: sorted, complete, stable. */
static void chain_sort_check(void)
{
	t_rng = 42;
	for (uint32_t n = 0; n <= 1000; n += n < 40 ? 1 : 37) {
		uint32_t head = 0;
		for (uint32_t i = n; i >= 1; i--) {
			cs_key[i] = (uint32_t)(t_rand() % (n / 4 + 1));
			cs_next[i] = head;
			head = i;
		}
		head = svipc__chain_sort(head, cs_link, cs_before, NULL);
		uint32_t count = 0, prev = 0;
		for (uint32_t i = head; i && count <= n; i = cs_next[i], count++) {
			if (prev && (cs_key[prev] > cs_key[i] ||
				     (cs_key[prev] == cs_key[i] && prev > i)))
				T_FAIL("chain sort of %u: %u (key %u) before %u (key %u)", n, prev,
				       cs_key[prev], i, cs_key[i]);
			prev = i;
		}
		if (count != n)
			T_FAIL("chain sort of %u elements gave %u", n, count);
	}
}

#else /* no way to replace malloc here */

int main(void)
{
	printf("skip: replacing malloc needs glibc and no sanitizer\n");
	return 77;
}

#endif

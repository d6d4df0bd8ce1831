/* mp.h - helpers shared by the multi-process message queue tests: both
 * implementations behind one table, timing, child processes, retries. */
#ifndef SVIPC_TEST_MP_H
#define SVIPC_TEST_MP_H

#include "svipc.h"
#include "t.h"

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>

static const struct msg_impl KOPS = T_KERNEL_IMPL;
static const struct msg_impl SOPS = T_SVIPC_IMPL;

static int kernel_ok;
static volatile int kernel_ids[64];
static volatile int nkernel_ids;
static volatile pid_t kids[64];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void kernel_rm_all(void)
{
	for (int i = 0; i < nkernel_ids; i++)
		if (kernel_ids[i] != -1) {
			msgctl(kernel_ids[i], IPC_RMID, NULL);
			kernel_ids[i] = -1;
		}
}

static void kill_kids(void)
{
	for (int i = 0; i < 64; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			kids[i] = 0;
		}
}

static void on_alarm(int sig)
{
	static const char msg[] = "timeout: removing kernel queues, killing children\n";
	(void)!write(2, msg, sizeof msg - 1);
	kernel_rm_all();
	kill_kids();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void cleanup_atexit(void)
{
	if (getpid() == t_owner_pid) {
		kernel_rm_all();
		kill_kids();
	}
}

/* t_setup plus: kernel queues and children are cleaned up on exit and timeout. */
static void setup(unsigned seconds)
{
	t_setup(seconds);
	signal(SIGALRM, on_alarm);
	atexit(cleanup_atexit);
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (id != -1) {
		kernel_ok = 1;
		msgctl(id, IPC_RMID, NULL);
	} else {
		fprintf(stderr, "note: no kernel System V queues (%s): kernel comparisons skipped\n",
			strerror(errno));
	}
}

/* A fresh private queue; kernel ones are remembered for removal. */
static int q_new(const struct msg_impl *o)
{
	int id = (int)T_OK(o->get(IPC_PRIVATE, IPC_CREAT | 0600));
	if (o->kernel && id != -1 && nkernel_ids < 64)
		kernel_ids[nkernel_ids++] = id;
	return id;
}

static void q_rm(const struct msg_impl *o, int id)
{
	if (id == -1)
		return;
	T_OK(o->ctl(id, IPC_RMID, NULL));
	for (int i = 0; i < nkernel_ids; i++)
		if (kernel_ids[i] == id)
			kernel_ids[i] = -1;
}

static void q_set_qbytes(const struct msg_impl *o, int id, unsigned long qbytes)
{
	struct msqid_ds ds;
	T_OK(o->ctl(id, IPC_STAT, &ds));
	ds.msg_qbytes = qbytes;
	T_OK(o->ctl(id, IPC_SET, &ds));
}

static void q_stat(const struct msg_impl *o, int id, unsigned long *qnum, unsigned long *cbytes)
{
	struct msqid_ds ds;
	memset(&ds, 0, sizeof ds);
	T_OK(o->ctl(id, IPC_STAT, &ds));
	*qnum = ds.msg_qnum;
	*cbytes = ds.__msg_cbytes;
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

#define ALOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ASTORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/*
 * Forks a child bounded by its own alarm; it runs fn(arg) and exits 1 if
 * any check failed in it.
 */
static pid_t spawn(void (*fn)(void *), void *arg, unsigned seconds)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == -1) {
		T_FAIL("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(seconds);
		for (int i = 0; i < 64; i++)
			kids[i] = 0;
		nkernel_ids = 0;
		t_failures = 0;
		fn(arg);
		_exit(t_failures ? 1 : 0);
	}
	for (int i = 0; i < 64; i++)
		if (!kids[i]) {
			kids[i] = p;
			break;
		}
	return p;
}

static void forget_kid(pid_t p)
{
	for (int i = 0; i < 64; i++)
		if (kids[i] == p)
			kids[i] = 0;
}

/* Waits for child p; it must exit with status 0 (or die of `sig` if sig != 0). */
static void reap(pid_t p, int sig, const char *what)
{
	if (p <= 0)
		return;
	int st;
	pid_t r;
	while ((r = waitpid(p, &st, 0)) == -1 && errno == EINTR)
		;
	forget_kid(p);
	if (r != p) {
		T_FAIL("%s: waitpid: %s", what, strerror(errno));
		return;
	}
	if (sig) {
		if (!WIFSIGNALED(st) || WTERMSIG(st) != sig)
			T_FAIL("%s: child status 0x%x, expected death by signal %d", what, st, sig);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_FAIL("%s: child status 0x%x (%s %d)", what, st,
		       WIFSIGNALED(st) ? "signal" : "exit",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
}

/* The state letter of /proc/<pid>/stat (R, S, T, t, Z, ...), or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Polls until pid is in one of `states` (up to ms); returns 1 if it got there. */
static int wait_state(pid_t pid, const char *states, long ms)
{
	int64_t end = now_ms() + ms;
	do {
		char s = proc_state(pid);
		if (s && strchr(states, s))
			return 1;
		sleep_ms(1);
	} while (now_ms() < end);
	return 0;
}

/* Polls until *flag != 0 (up to ms); returns 1 if it got there. */
static int wait_flag(int *flag, long ms)
{
	int64_t end = now_ms() + ms;
	while (!ALOAD(flag)) {
		if (now_ms() >= end)
			return 0;
		sleep_ms(1);
	}
	return 1;
}

struct tmsg {
	long mtype;
	char mtext[256];
};

/* One blocking call made by a child; results land in shared memory. */
struct call {
	const struct msg_impl *o;
	int id;
	int send;         /* 1: msgsnd(mtype, size), 0: msgrcv(msgtyp, bufsz) */
	long typ;
	size_t size;
	int flg;
	int handler;      /* install a SIGUSR1 handler with SA_RESTART first */
	int timed;        /* svipc only: use the _timed call with `timeout` */
	struct timespec timeout;
	/* results */
	int started, done;
	int64_t t_start, t_end; /* ms */
	int64_t t_start_ns;
	long ret;
	int err;
	long mtype;
	char text[64];
	int nsig;
};

static struct call *the_call; /* the child's own, for its handler */

static void on_usr1(int sig)
{
	(void)sig;
	if (the_call)
		AADD(&the_call->nsig, 1);
}

static void call_child(void *arg)
{
	struct call *c = arg;
	the_call = c;
	if (c->handler) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
	}
	struct tmsg m;
	memset(&m, 0, sizeof m);
	long r;
	ASTORE(&c->t_start_ns, now_ns());
	ASTORE(&c->t_start, c->t_start_ns / 1000000);
	ASTORE(&c->started, 1);
	if (c->send) {
		m.mtype = c->typ;
		snprintf(m.mtext, sizeof m.mtext, "from %d", (int)getpid());
		if (c->timed)
			r = svipc_msgsnd_timed(c->id, &m, c->size, c->flg, &c->timeout);
		else
			r = c->o->snd(c->id, &m, c->size, c->flg);
	} else {
		if (c->timed)
			r = svipc_msgrcv_timed(c->id, &m, c->size, c->typ, c->flg, &c->timeout);
		else
			r = c->o->rcv(c->id, &m, c->size, c->typ, c->flg);
	}
	c->err = r == -1 ? errno : 0;
	c->ret = r;
	c->mtype = m.mtype;
	memcpy(c->text, m.mtext, sizeof c->text);
	ASTORE(&c->t_end, now_ms());
	ASTORE(&c->done, 1);
}

/*
 * Starts a child making call c and waits until it is asleep inside the
 * call. Returns the pid.
 */
static pid_t start_call(struct call *c, const char *what)
{
	c->started = c->done = 0;
	c->nsig = 0;
	pid_t p = spawn(call_child, c, 20);
	if (p <= 0)
		return p;
	if (!wait_flag(&c->started, 5000))
		T_FAIL("%s: child did not start", what);
	if (!wait_state(p, "S", 5000))
		T_FAIL("%s: child never went to sleep (state %c)", what, proc_state(p));
	return p;
}

static void send_text(const struct msg_impl *o, int id, long type, const char *text, size_t size)
{
	struct tmsg m;
	memset(&m, 0, sizeof m);
	m.mtype = type;
	snprintf(m.mtext, sizeof m.mtext, "%s", text);
	T_OK(o->snd(id, &m, size, 0));
}

/*
 * Runs a scenario; if it fails, runs it again (at most 3 times in all) and
 * keeps only the last attempt's failures. Some checks are about timing
 * (e.g. "woken within 50 ms" where a missed wake-up shows as svipc's 100 ms
 * re-check slice); a loaded machine must not make them fail, while a real
 * bug fails every attempt.
 */
static void retry3(void (*fn)(const struct msg_impl *, struct call *), const struct msg_impl *o,
		   struct call *c, const char *name)
{
	for (int a = 0; a < 3; a++) {
		int before = t_failures;
		int64_t t0 = now_ms();
		fn(o, c);
		if (now_ms() - t0 > 1500)
			fprintf(stderr, "  [%s] note: %s took %lld ms\n", o->name, name,
				(long long)(now_ms() - t0));
		if (t_failures == before)
			return;
		if (a < 2) {
			fprintf(stderr, "  [%s] %s failed (attempt %d of 3), again:\n", o->name, name,
				a + 1);
			t_failures = before;
		}
	}
}
#define RUN(fn, o, c) retry3(fn, o, c, #fn)

#endif

/* mp.h - helpers shared by the multi-process message queue tests: both
 * implementations behind one table, blocking calls made by children, retries
 * (the queue-free part is mp_common.h). */
#ifndef SVIPC_TEST_MP_H
#define SVIPC_TEST_MP_H

#include "svipc.h"
#include "t.h"
#include "mp_common.h"

#include <sys/msg.h>

static const struct msg_impl KOPS = T_KERNEL_IMPL;
static const struct msg_impl SOPS = T_SVIPC_IMPL;

static int kernel_ok;

static void rm_queue(int id)
{
	msgctl(id, IPC_RMID, NULL);
}

/* t_setup plus: kernel queues and children are cleaned up on exit and timeout. */
static void setup(unsigned seconds)
{
	t_setup(seconds);
	mp_setup_cleanup(rm_queue, "queues");
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
	if (o->kernel)
		mp_track_kernel(id);
	return id;
}

static void q_rm(const struct msg_impl *o, int id)
{
	if (id == -1)
		return;
	T_OK(o->ctl(id, IPC_RMID, NULL));
	mp_untrack_kernel(id);
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

/*
 * test_msg_block.c - blocking msgsnd/msgrcv across processes.
 *
 * Every scenario that has a kernel equivalent runs twice, once on the
 * kernel's System V queues (IPC_PRIVATE, removed at the end) and once on
 * svipc, and both must give the answer this file expects:
 *  - a receiver blocks until a sender delivers (still waiting after 100 ms);
 *  - msgsnd blocks while the queue is full, by bytes (bytes + size > qbytes)
 *    and by count (count + 1 > qbytes), and proceeds when a receiver frees
 *    space; IPC_NOWAIT gives EAGAIN (send) and ENOMSG (receive);
 *  - a blocked small sender proceeds as soon as its message fits, even
 *    when a bigger sender that blocked before it still does not fit;
 *  - IPC_RMID while a receiver and a sender are blocked wakes both: EIDRM;
 *  - a signal handler installed with SA_RESTART makes a blocked msgrcv and a
 *    blocked msgsnd fail with EINTR (never restarted), the sender's message
 *    not queued; also when the handler runs at one of the moments svipc's
 *    waiter re-checks the queue (every 100 ms): signals are sent at varying
 *    moments 100.00-100.25 ms into a blocked msgrcv;
 *  - SIGSTOP + SIGCONT (stopped longer than any internal slice), and a
 *    signal whose default action is to ignore it, do not make the call fail;
 *    a message sent while the receiver is stopped is received on SIGCONT;
 * and, svipc only:
 *  - svipc_msgrcv_timed / svipc_msgsnd_timed fail with EAGAIN after about
 *    the requested time, succeed when the message / space comes in time,
 *    honour IPC_NOWAIT, are interrupted by a handler (EINTR), and fail with
 *    EINVAL for a bad timespec.
 * Synchronisation with the children goes through an anonymous MAP_SHARED
 * page of this file's own, never through the queue under test.
 *
 * Timing checks ("woken within 50 ms": a missed wake-up shows as svipc's
 * 100 ms re-check slice) are retried up to 3 times, keeping only the last
 * attempt's failures, so that a loaded machine does not fail them while a
 * real bug fails every attempt. Every forking scenario is bounded by this
 * test's alarm and each child by its own; all children are reaped.
 */
#include "svipc.h"
#include "t.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>

#include "mp.h"


/* ---- the scenarios --------------------------------------------------------------- */

/* A receiver blocks until a sender delivers. */
static void recv_blocks(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	memset(c, 0, sizeof *c);
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64 };
	pid_t p = start_call(c, "recv_blocks");
	sleep_ms(100);
	if (ALOAD(&c->done))
		T_FAIL("[%s] msgrcv on an empty queue returned %ld (errno %d) instead of blocking",
		       o->name, c->ret, c->err);
	int64_t t0 = now_ms();
	send_text(o, id, 5, "wake up", 8);
	reap(p, 0, "recv_blocks");
	T_EQ(c->ret, 8);
	T_EQ(c->mtype, 5);
	T_ASSERT(strcmp(c->text, "wake up") == 0);
	if (c->t_end - t0 > 50)
		T_FAIL("[%s] receiver took %lld ms to return after the send", o->name,
		       (long long)(c->t_end - t0));
	unsigned long qnum, cbytes;
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 0);
	T_EQ(cbytes, 0);
	q_rm(o, id);
}

/* msgsnd blocks while full (by bytes, then by count) and proceeds when space is freed. */
static void send_blocks_when_full(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	struct tmsg m;
	unsigned long qnum, cbytes;

	/* By bytes: qbytes 100, 60 + 40 queued; a 10-byte message does not fit. */
	q_set_qbytes(o, id, 100);
	send_text(o, id, 1, "sixty", 60);
	send_text(o, id, 2, "forty", 40);
	memset(&m, 0, sizeof m);
	m.mtype = 3;
	T_ERR(o->snd(id, &m, 1, IPC_NOWAIT), EAGAIN);
	T_ERR(o->rcv(id, &m, sizeof m.mtext, 9, IPC_NOWAIT), ENOMSG);
	*c = (struct call){ .o = o, .id = id, .send = 1, .typ = 3, .size = 10 };
	pid_t p = start_call(c, "send_blocks(bytes)");
	sleep_ms(100);
	if (ALOAD(&c->done))
		T_FAIL("[%s] msgsnd into a full queue returned %ld (errno %d) instead of blocking",
		       o->name, c->ret, c->err);
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 2);
	T_EQ(cbytes, 100);
	int64_t t0 = now_ms();
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 1, 0), 60);
	reap(p, 0, "send_blocks(bytes)");
	T_EQ(c->ret, 0);
	if (c->t_end - t0 > 50)
		T_FAIL("[%s] blocked sender took %lld ms to proceed after space was freed",
		       o->name, (long long)(c->t_end - t0));
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 2);
	T_EQ(cbytes, 50);
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 0, 0), 40);
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 0, 0), 10);
	T_EQ(m.mtype, 3);

	/* By count: qbytes 3 lets three empty messages in, not a fourth. */
	q_set_qbytes(o, id, 3);
	m.mtype = 1;
	for (int i = 0; i < 3; i++)
		T_OK(o->snd(id, &m, 0, IPC_NOWAIT));
	T_ERR(o->snd(id, &m, 0, IPC_NOWAIT), EAGAIN);
	*c = (struct call){ .o = o, .id = id, .send = 1, .typ = 4, .size = 0 };
	p = start_call(c, "send_blocks(count)");
	sleep_ms(100);
	if (ALOAD(&c->done))
		T_FAIL("[%s] 4th msgsnd with qbytes 3 returned %ld (errno %d) instead of blocking",
		       o->name, c->ret, c->err);
	t0 = now_ms();
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 0, 0), 0);
	reap(p, 0, "send_blocks(count)");
	T_EQ(c->ret, 0);
	if (c->t_end - t0 > 50)
		T_FAIL("[%s] blocked sender (count) took %lld ms to proceed", o->name,
		       (long long)(c->t_end - t0));
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 3);
	T_EQ(cbytes, 0);
	q_rm(o, id);
}

/*
 * Two senders blocked on a full queue, the first one's message bigger than
 * the second's. A receive frees room for the small one only: it must
 * proceed at once (Linux wakes every sender whose message fits; ss_wakeup()
 * in ipc/msg.c), not stay behind the big one.
 */
static void small_sender_not_stuck_behind_big(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	struct tmsg m;
	q_set_qbytes(o, id, 100);
	send_text(o, id, 1, "ten", 10);
	send_text(o, id, 2, "eighty-five", 85);
	struct call *big = c, *small = c + 1;
	*big = (struct call){ .o = o, .id = id, .send = 1, .typ = 3, .size = 50 };
	*small = (struct call){ .o = o, .id = id, .send = 1, .typ = 4, .size = 10 };
	pid_t pb = start_call(big, "big sender");
	pid_t ps = start_call(small, "small sender");
	/* Free 10 bytes: 85 queued, the 50-byte message does not fit, the 10-byte one does. */
	int64_t t0 = now_ms();
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 1, 0), 10);
	int64_t end = t0 + 50;
	while (!ALOAD(&small->done) && now_ms() < end)
		sleep_ms(1);
	if (!ALOAD(&small->done)) {
		while (!ALOAD(&small->done) && now_ms() < t0 + 2000)
			sleep_ms(1);
		T_FAIL("[%s] a blocked 10-byte sender whose message fits was not woken "
		       "when space was freed, because a 50-byte sender blocked before it "
		       "(it proceeded only after %lld ms)",
		       o->name, (long long)(ALOAD(&small->t_end) - t0));
	}
	T_ASSERT(!ALOAD(&big->done));
	reap(ps, 0, "small sender");
	T_EQ(small->ret, 0);
	/* Now 95 queued; take the 85 out and the big one fits. */
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 2, 0), 85);
	reap(pb, 0, "big sender");
	T_EQ(big->ret, 0);
	unsigned long qnum, cbytes;
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 2);
	T_EQ(cbytes, 60);
	q_rm(o, id);
}

/* IPC_RMID while a receiver and a sender are blocked wakes both with EIDRM. */
static void rmid_wakes_all(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	q_set_qbytes(o, id, 16);
	send_text(o, id, 1, "full", 16);
	struct call *r = c, *s = c + 1;
	*r = (struct call){ .o = o, .id = id, .typ = 99, .size = 64 };
	*s = (struct call){ .o = o, .id = id, .send = 1, .typ = 2, .size = 8 };
	pid_t pr = start_call(r, "rmid receiver");
	pid_t ps = start_call(s, "rmid sender");
	sleep_ms(50);
	T_ASSERT(!ALOAD(&r->done) && !ALOAD(&s->done));
	int64_t t0 = now_ms();
	q_rm(o, id);
	reap(pr, 0, "rmid receiver");
	reap(ps, 0, "rmid sender");
	T_EQ(r->ret, -1);
	T_EQ(r->err, EIDRM);
	T_EQ(s->ret, -1);
	T_EQ(s->err, EIDRM);
	if (r->t_end - t0 > 100 || s->t_end - t0 > 100)
		T_FAIL("[%s] IPC_RMID woke the blocked calls only after %lld / %lld ms", o->name,
		       (long long)(r->t_end - t0), (long long)(s->t_end - t0));
	struct tmsg m = { .mtype = 1 };
	T_ERR(o->snd(id, &m, 1, IPC_NOWAIT), EINVAL);
	T_ERR(o->rcv(id, &m, 1, 0, IPC_NOWAIT), EINVAL);
}

/* A handler installed with SA_RESTART interrupts blocked calls: EINTR, not restarted. */
static void sa_restart_gives_eintr(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64, .handler = 1 };
	pid_t p = start_call(c, "EINTR receiver");
	sleep_ms(50);
	int64_t t0 = now_ms();
	kill(p, SIGUSR1);
	int64_t end = t0 + 1000;
	while (!ALOAD(&c->done) && now_ms() < end)
		sleep_ms(1);
	if (!ALOAD(&c->done)) {
		T_FAIL("[%s] blocked msgrcv did not return after a SA_RESTART handler ran "
		       "(restarted?)", o->name);
		send_text(o, id, 1, "unblock", 8);
	}
	reap(p, 0, "EINTR receiver");
	T_EQ(c->ret, -1);
	T_EQ(c->err, EINTR);
	T_EQ(c->nsig, 1);

	/* The same for a sender blocked on a full queue; its message is not queued. */
	q_set_qbytes(o, id, 10);
	send_text(o, id, 1, "full", 10);
	*c = (struct call){ .o = o, .id = id, .send = 1, .typ = 2, .size = 5, .handler = 1 };
	p = start_call(c, "EINTR sender");
	sleep_ms(50);
	kill(p, SIGUSR1);
	end = now_ms() + 1000;
	while (!ALOAD(&c->done) && now_ms() < end)
		sleep_ms(1);
	if (!ALOAD(&c->done)) {
		T_FAIL("[%s] blocked msgsnd did not return after a SA_RESTART handler ran "
		       "(restarted?)", o->name);
		struct tmsg m;
		o->rcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT);
	}
	reap(p, 0, "EINTR sender");
	T_EQ(c->ret, -1);
	T_EQ(c->err, EINTR);
	T_EQ(c->nsig, 1);
	unsigned long qnum, cbytes;
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 1);
	T_EQ(cbytes, 10);
	q_rm(o, id);
}

/*
 * A signal whose handler runs at any moment while msgrcv is blocked makes it
 * fail with EINTR. The signal is sent at varying moments between 100.00
 * and 100.25 ms after the call began: svipc's waiters wake every 100 ms to
 * re-check the queue, and a handler that runs then, outside the futex wait,
 * must not be lost (the call would block on, as if restarted). Stops at the
 * first signal that does not interrupt the call.
 */
static void signal_at_any_time(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	uint32_t seed = (uint32_t)getpid() * 2654435761u;
	int tries = 0, lost = 0;
	int64_t lost_at = 0;
	int max_tries = o->kernel ? 8 : 24; /* the kernel: a reference run */
	for (; tries < max_tries && !lost; tries++) {
		*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64, .handler = 1 };
		pid_t p = spawn(call_child, c, 10);
		if (p <= 0)
			break;
		wait_flag(&c->started, 5000);
		seed = seed * 1103515245u + 12345u;
		int64_t at = ALOAD(&c->t_start_ns) + 100000000LL + (int64_t)(seed >> 8) % 250000;
		while (now_ns() < at)
			;
		kill(p, SIGUSR1);
		int64_t end = now_ms() + 400;
		while (!ALOAD(&c->done) && now_ms() < end)
			sleep_ms(1);
		if (!ALOAD(&c->done)) {
			lost = 1;
			lost_at = at - c->t_start_ns;
			send_text(o, id, 1, "unblock", 8);
		}
		reap(p, 0, "signalled receiver");
		if (!lost && (c->ret != -1 || c->err != EINTR))
			T_FAIL("[%s] signalled msgrcv: ret %ld errno %d (%s), want EINTR", o->name,
			       c->ret, c->err, strerror(c->err));
	}
	if (lost)
		T_FAIL("[%s] a SIGUSR1 whose handler ran %lld us after msgrcv began (try %d) did not "
		       "interrupt it: still blocked 400 ms later (handler ran %d time(s))", o->name,
		       (long long)(lost_at / 1000), tries, c->nsig);
	q_rm(o, id);
}

/*
 * Signals without a handler: SIGSTOP + SIGCONT (stopped for longer than a
 * 100 ms slice) and SIGWINCH (ignored by default) do not end the call.
 */
static void stop_cont_does_not_fail(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64 };
	pid_t p = start_call(c, "stop/cont receiver");
	for (int round = 0; round < 2; round++) {
		kill(p, SIGSTOP);
		if (!wait_state(p, "T", 2000))
			T_FAIL("[%s] receiver did not stop", o->name);
		sleep_ms(round ? 30 : 250);
		kill(p, SIGCONT);
		kill(p, SIGWINCH);
		if (!wait_state(p, "S", 2000))
			T_FAIL("[%s] receiver did not go back to sleep", o->name);
		sleep_ms(150);
		if (ALOAD(&c->done)) {
			T_FAIL("[%s] msgrcv returned %ld errno %d (%s) after SIGSTOP/SIGCONT",
			       o->name, c->ret, c->err, strerror(c->err));
			break;
		}
	}
	if (!ALOAD(&c->done))
		send_text(o, id, 4, "after stop", 11);
	reap(p, 0, "stop/cont receiver");
	T_EQ(c->ret, 11);
	T_EQ(c->mtype, 4);

	/* A message sent while the receiver is stopped is received once it continues. */
	*c = (struct call){ .o = o, .id = id, .typ = 6, .size = 64 };
	p = start_call(c, "stopped receiver");
	kill(p, SIGSTOP);
	if (!wait_state(p, "T", 2000))
		T_FAIL("[%s] receiver did not stop", o->name);
	send_text(o, id, 6, "while stopped", 14);
	sleep_ms(150);
	T_ASSERT(!ALOAD(&c->done));
	kill(p, SIGCONT);
	reap(p, 0, "stopped receiver");
	T_EQ(c->ret, 14);
	T_EQ(c->mtype, 6);
	T_ASSERT(strcmp(c->text, "while stopped") == 0);

	/* A sender blocked on a full queue survives SIGSTOP/SIGCONT too. */
	q_set_qbytes(o, id, 10);
	send_text(o, id, 1, "full", 10);
	*c = (struct call){ .o = o, .id = id, .send = 1, .typ = 2, .size = 5 };
	p = start_call(c, "stop/cont sender");
	kill(p, SIGSTOP);
	if (!wait_state(p, "T", 2000))
		T_FAIL("[%s] sender did not stop", o->name);
	sleep_ms(250);
	kill(p, SIGCONT);
	kill(p, SIGWINCH);
	wait_state(p, "S", 2000);
	sleep_ms(150);
	if (ALOAD(&c->done))
		T_FAIL("[%s] msgsnd returned %ld errno %d (%s) after SIGSTOP/SIGCONT", o->name,
		       c->ret, c->err, strerror(c->err));
	struct tmsg m;
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 1, 0), 10);
	reap(p, 0, "stop/cont sender");
	T_EQ(c->ret, 0);
	q_rm(o, id);
}

static struct timespec ts_ms(long ms)
{
	return (struct timespec){ ms / 1000, (ms % 1000) * 1000000L };
}

/* svipc_msgrcv_timed / svipc_msgsnd_timed. */
static void timed_calls(const struct msg_impl *o, struct call *c)
{
	int id = q_new(o);
	struct tmsg m;
	memset(&m, 0, sizeof m);
	m.mtype = 1;

	/* Time-outs: EAGAIN after about the requested time (several internal slices). */
	struct timespec t350 = ts_ms(350);
	int64_t t0 = now_ms();
	T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 0, 0, &t350), EAGAIN);
	int64_t el = now_ms() - t0;
	if (el < 340 || el > 1500)
		T_FAIL("msgrcv_timed(350 ms) timed out after %lld ms", (long long)el);

	q_set_qbytes(o, id, 10);
	send_text(o, id, 1, "full", 10);
	struct timespec t200 = ts_ms(200);
	t0 = now_ms();
	T_ERR(svipc_msgsnd_timed(id, &m, 1, 0, &t200), EAGAIN);
	el = now_ms() - t0;
	if (el < 190 || el > 1500)
		T_FAIL("msgsnd_timed(200 ms) timed out after %lld ms", (long long)el);
	unsigned long qnum, cbytes;
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 1);
	T_EQ(cbytes, 10);

	/* Zero timeout: EAGAIN at once; IPC_NOWAIT: the usual ENOMSG / EAGAIN. */
	struct timespec t0s = { 0, 0 };
	t0 = now_ms();
	T_ERR(svipc_msgsnd_timed(id, &m, 1, 0, &t0s), EAGAIN);
	T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 7, 0, &t0s), EAGAIN);
	T_ERR(svipc_msgsnd_timed(id, &m, 1, IPC_NOWAIT, &t200), EAGAIN);
	T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 7, IPC_NOWAIT, &t200), ENOMSG);
	el = now_ms() - t0;
	if (el > 50)
		T_FAIL("zero-timeout / IPC_NOWAIT timed calls took %lld ms", (long long)el);

	/* A timed call that can proceed at once does not wait. */
	t0 = now_ms();
	T_EQ(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 1, 0, &t200), 10);
	T_OK(svipc_msgsnd_timed(id, &m, 3, 0, &t200));
	T_ASSERT(now_ms() - t0 < 50);
	T_EQ(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 0, 0, &t0s), 3);

	/* Bad timespecs: EINVAL, whatever the queue holds. */
	struct timespec bad[] = { { 0, 1000000000L }, { 0, -1 }, { -1, 0 }, { -5, 500 } };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 0, 0, &bad[i]), EINVAL);
		T_ERR(svipc_msgsnd_timed(id, &m, 1, 0, &bad[i]), EINVAL);
		T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 0, IPC_NOWAIT, &bad[i]), EINVAL);
	}
	send_text(o, id, 1, "present", 8);
	T_ERR(svipc_msgrcv_timed(id, &m, sizeof m.mtext, 0, 0, &bad[0]), EINVAL);
	q_stat(o, id, &qnum, &cbytes);
	T_EQ(qnum, 1);
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 0, 0), 8);

	/* A message arriving before the deadline ends a timed receive with success. */
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64, .timed = 1,
			    .timeout = ts_ms(3000) };
	pid_t p = start_call(c, "timed receiver");
	sleep_ms(100);
	T_ASSERT(!ALOAD(&c->done));
	t0 = now_ms();
	send_text(o, id, 2, "in time", 8);
	reap(p, 0, "timed receiver");
	T_EQ(c->ret, 8);
	T_EQ(c->mtype, 2);
	T_ASSERT(c->t_end - t0 < 500);

	/* Space freed before the deadline ends a timed send with success. */
	send_text(o, id, 1, "full", 10);
	*c = (struct call){ .o = o, .id = id, .send = 1, .typ = 3, .size = 4, .timed = 1,
			    .timeout = ts_ms(3000) };
	p = start_call(c, "timed sender");
	sleep_ms(100);
	T_ASSERT(!ALOAD(&c->done));
	t0 = now_ms();
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 1, 0), 10);
	reap(p, 0, "timed sender");
	T_EQ(c->ret, 0);
	T_ASSERT(c->t_end - t0 < 500);
	T_EQ(o->rcv(id, &m, sizeof m.mtext, 3, IPC_NOWAIT), 4);

	/* A handler (SA_RESTART) interrupts a timed receive: EINTR, not EAGAIN. */
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64, .timed = 1,
			    .timeout = ts_ms(5000), .handler = 1 };
	p = start_call(c, "timed EINTR receiver");
	sleep_ms(50);
	kill(p, SIGUSR1);
	reap(p, 0, "timed EINTR receiver");
	T_EQ(c->ret, -1);
	T_EQ(c->err, EINTR);
	T_ASSERT(c->t_end - c->t_start < 2000);

	/* A stopped timed receiver still times out (after SIGCONT) with EAGAIN. */
	*c = (struct call){ .o = o, .id = id, .typ = 0, .size = 64, .timed = 1,
			    .timeout = ts_ms(300) };
	p = start_call(c, "stopped timed receiver");
	kill(p, SIGSTOP);
	wait_state(p, "T", 2000);
	sleep_ms(100);
	kill(p, SIGCONT);
	reap(p, 0, "stopped timed receiver");
	T_EQ(c->ret, -1);
	T_EQ(c->err, EAGAIN);
	el = c->t_end - c->t_start;
	if (el < 290 || el > 1500)
		T_FAIL("stopped msgrcv_timed(300 ms) returned after %lld ms", (long long)el);
	q_rm(o, id);
}

int main(void)
{
	setup(60);
	struct call *c = shared_alloc(4096);
	const struct msg_impl *impls[2] = { &KOPS, &SOPS };
	for (int k = kernel_ok ? 0 : 1; k < 2; k++) {
		const struct msg_impl *o = impls[k];
		int before = t_failures;
		RUN(recv_blocks, o, c);
		RUN(send_blocks_when_full, o, c);
		RUN(small_sender_not_stuck_behind_big, o, c);
		RUN(rmid_wakes_all, o, c);
		RUN(sa_restart_gives_eintr, o, c);
		signal_at_any_time(o, c);
		RUN(stop_cont_does_not_fail, o, c);
		if (t_failures != before)
			fprintf(stderr, "^ %d failure(s) on %s\n", t_failures - before, o->name);
	}
	RUN(timed_calls, &SOPS, c);
	return t_done();
}

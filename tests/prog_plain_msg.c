/*
 * prog_plain_msg.c - an ordinary System V message queue program.
 *
 * Written against <sys/msg.h> only and NOT linked with svipc: test_shim runs
 * it under LD_PRELOAD=libsvipc-preload.so to show that an unmodified program
 * runs on svipc. It works just as well on the kernel (run it directly).
 *
 * usage: prog_plain_msg [-k | -n] PATH PROJ
 *   key = ftok(PATH, PROJ). Creates the queue (IPC_EXCL), sends typed
 *   messages, forks a receiver that takes them by type (including a blocking
 *   receive that the parent satisfies later), checks every result and
 *   IPC_STAT, then removes the queue.
 *   -k  keep: instead of removing the queue, leave it behind holding one
 *       message of type 7 whose text is "left behind by <pid>".
 *   -n  no-op: touch no message queue at all, just exit 0.
 * Exit status: 0 success, 1 a check failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MSG_EXCEPT */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tmsg {
	long mtype;
	char mtext[64];
};

static const char *who = "prog_plain_msg (parent)";

#include "plain_check.h"

static int send_text(int qid, long type, const char *text)
{
	struct tmsg m;
	memset(&m, 0, sizeof m);
	m.mtype = type;
	snprintf(m.mtext, sizeof m.mtext, "%s", text);
	int r = msgsnd(qid, &m, strlen(m.mtext) + 1, 0);
	CHECK(r == 0, "msgsnd type %ld \"%s\" returned %d", type, text, r);
	return r;
}

/* Receives with (msgtyp, flg) and expects (type, text) back. */
static void expect(int qid, long msgtyp, int flg, long type, const char *text)
{
	struct tmsg m;
	memset(&m, 0, sizeof m);
	ssize_t n = msgrcv(qid, &m, sizeof m.mtext, msgtyp, flg);
	CHECK(n == (ssize_t)strlen(text) + 1, "msgrcv(msgtyp %ld, flg %#x) returned %zd, want %zu",
	      msgtyp, flg, n, strlen(text) + 1);
	if (n < 0)
		return;
	CHECK(m.mtype == type, "msgrcv(msgtyp %ld): got type %ld, want %ld", msgtyp, m.mtype, type);
	CHECK(strcmp(m.mtext, text) == 0, "msgrcv(msgtyp %ld): got \"%s\", want \"%s\"", msgtyp,
	      m.mtext, text);
}

static int receiver(int qid)
{
	who = "prog_plain_msg (receiver)";
	alarm(30); /* alarms are not inherited across fork */
	/* By exact type: first of that type, not first in the queue. */
	expect(qid, 2, 0, 2, "two-a");
	expect(qid, 3, 0, 3, "three-a");
	/* Negative: first message of the lowest type <= 2. */
	expect(qid, -2, 0, 1, "one-a");
	/* MSG_EXCEPT: first message whose type is not 1. */
	expect(qid, 1, MSG_EXCEPT, 3, "three-b");
	/* Zero: first in the queue. */
	expect(qid, 0, 0, 1, "one-b");

	struct tmsg m;
	errno = 0;
	ssize_t n = msgrcv(qid, &m, sizeof m.mtext, 4, IPC_NOWAIT);
	CHECK(n == -1 && errno == ENOMSG, "msgrcv(type 4, IPC_NOWAIT) on no such message: %zd", n);
	/* Too small a buffer: E2BIG and the message stays... */
	errno = 0;
	n = msgrcv(qid, &m, 3, 5, 0);
	CHECK(n == -1 && errno == E2BIG, "msgrcv(type 5, size 3) without MSG_NOERROR: %zd", n);
	/* ...until MSG_NOERROR takes it truncated. */
	memset(&m, 0, sizeof m);
	n = msgrcv(qid, &m, 3, 5, MSG_NOERROR);
	CHECK(n == 3 && m.mtype == 5 && memcmp(m.mtext, "fiv", 3) == 0 && m.mtext[3] == 0,
	      "msgrcv(type 5, size 3, MSG_NOERROR): %zd type %ld \"%.8s\"", n, m.mtype, m.mtext);

	/* Tell the parent we are about to block, then block for type 9. */
	send_text(qid, 8, "ready");
	expect(qid, 9, 0, 9, "nine");
	return failures ? 1 : 0;
}

/*
 * -u: a queue of mode 0600 made as root, then a child that drops to uid and
 * gid 65534 with setresgid/setresuid must lose access, as with the kernel.
 * Exit 0 if so; 77 if not root.
 */
static int drop_privileges_check(void)
{
	if (geteuid() != 0)
		return 77;
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct { long mtype; char t[8]; } m = { 1, "x" };
	if (q == -1 || msgsnd(q, &m, sizeof m.t, 0) == -1)
		return 1;
	pid_t p = fork();
	if (p == 0) {
		alarm(10);
		if (msgsnd(q, &m, sizeof m.t, IPC_NOWAIT) == -1) /* still root here */
			_exit(2);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		int ok = msgsnd(q, &m, sizeof m.t, IPC_NOWAIT) == -1 && errno == EACCES &&
			 msgrcv(q, &m, sizeof m.t, 0, IPC_NOWAIT) == -1 && errno == EACCES &&
			 msgctl(q, IPC_RMID, NULL) == -1 && errno == EPERM;
		_exit(ok ? 0 : 4);
	}
	int st = 0;
	waitpid(p, &st, 0);
	msgctl(q, IPC_RMID, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 5;
}

int main(int argc, char **argv)
{
	int keep = 0, noop = 0, argi = 1;
	if (argi < argc && strcmp(argv[argi], "-u") == 0)
		return drop_privileges_check();
	if (argi < argc && strcmp(argv[argi], "-k") == 0)
		keep = 1, argi++;
	else if (argi < argc && strcmp(argv[argi], "-n") == 0)
		noop = 1, argi++;
	if (noop)
		return 0;
	if (argc - argi != 2) {
		fprintf(stderr, "usage: %s [-k | -n] PATH PROJ\n", argv[0]);
		return 2;
	}
	alarm(30); /* never hang forever, whatever the implementation */

	key_t key = ftok(argv[argi], atoi(argv[argi + 1]));
	if (key == (key_t)-1) {
		perror("prog_plain_msg: ftok");
		return 1;
	}
	int qid = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (qid == -1) {
		fprintf(stderr, "prog_plain_msg: msgget(%#x, IPC_CREAT|IPC_EXCL): %s\n",
			(unsigned)key, strerror(errno));
		return 1;
	}
	errno = 0;
	CHECK(msgget(key, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST,
	      "second msgget(IPC_CREAT|IPC_EXCL) did not fail with EEXIST");
	CHECK(msgget(key, 0) == qid, "msgget(key, 0) did not return the same id");

	send_text(qid, 3, "three-a");
	send_text(qid, 1, "one-a");
	send_text(qid, 2, "two-a");
	send_text(qid, 1, "one-b");
	send_text(qid, 3, "three-b");
	send_text(qid, 5, "five");

	struct msqid_ds ds;
	memset(&ds, 0, sizeof ds);
	CHECK(msgctl(qid, IPC_STAT, &ds) == 0, "msgctl IPC_STAT");
	CHECK(ds.msg_qnum == 6, "msg_qnum %lu after 6 sends", (unsigned long)ds.msg_qnum);
	CHECK(ds.msg_perm.__key == key, "msg_perm.__key %#x, want %#x",
	      (unsigned)ds.msg_perm.__key, (unsigned)key);
	CHECK((ds.msg_perm.mode & 0777) == 0600, "msg_perm.mode %#o", (unsigned)ds.msg_perm.mode);
	CHECK(ds.msg_lspid == getpid(), "msg_lspid %d, want %d", (int)ds.msg_lspid, (int)getpid());

	fflush(NULL);
	pid_t child = fork();
	if (child == -1) {
		perror("prog_plain_msg: fork");
		msgctl(qid, IPC_RMID, NULL);
		return 1;
	}
	if (child == 0)
		_exit(receiver(qid));

	/* Wait (blocking) for the receiver's "ready", let it block, wake it. */
	expect(qid, 8, 0, 8, "ready");
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	send_text(qid, 9, "nine");

	int status = 0;
	if (waitpid(child, &status, 0) != child) {
		CHECK(0, "waitpid");
	} else {
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "receiver status %#x", status);
	}

	memset(&ds, 0, sizeof ds);
	CHECK(msgctl(qid, IPC_STAT, &ds) == 0, "msgctl IPC_STAT after receiver");
	CHECK(ds.msg_qnum == 0, "msg_qnum %lu at the end", (unsigned long)ds.msg_qnum);
	CHECK(ds.msg_lrpid == child, "msg_lrpid %d, want the receiver %d", (int)ds.msg_lrpid,
	      (int)child);
	CHECK(ds.msg_lspid == getpid(), "msg_lspid %d, want %d", (int)ds.msg_lspid, (int)getpid());

	if (keep) {
		char text[64];
		snprintf(text, sizeof text, "left behind by %d", (int)getpid());
		send_text(qid, 7, text);
		printf("prog_plain_msg: left queue key=%#x id=%d\n", (unsigned)key, qid);
		return failures ? 1 : 0;
	}

	CHECK(msgctl(qid, IPC_RMID, NULL) == 0, "msgctl IPC_RMID");
	errno = 0;
	CHECK(msgget(key, 0) == -1 && errno == ENOENT, "msgget(key, 0) after IPC_RMID");
	struct tmsg m = { 1, "gone" };
	errno = 0;
	CHECK(msgsnd(qid, &m, 5, IPC_NOWAIT) == -1 && (errno == EINVAL || errno == EIDRM),
	      "msgsnd to a removed queue");
	return failures ? 1 : 0;
}

/* select.c - shows which message msgrcv picks for each msgtyp and MSG_EXCEPT, and why. */
#include <stdbool.h>
#include <unistd.h>

#include "demo.h"

/* The queue as Linux would hold it: index order is arrival order. */
static struct item {
	long type;
	const char *text;
	bool gone;
} queue[] = {
	{ 3, "info-1", false },  { 1, "alert-1", false }, { 2, "warn-1", false },
	{ 3, "info-2", false },  { 5, "debug-1", false }, { 1, "alert-2", false },
	{ 2, "warn-2", false },
};
#define NQUEUE (sizeof queue / sizeof queue[0])

static const struct step {
	long msgtyp;
	int flags;
} steps[] = {
	{ 0, 0 },  { 3, 0 },           { -4, 0 }, { -4, 0 }, { 2, MSG_EXCEPT },
	{ -1, 0 }, { 2, MSG_EXCEPT }, { -2, 0 }, { 0, 0 },
};

/*
 * Linux's rule (ipc/msg.c, convert_mode and find_msg): msgtyp 0 takes the
 * oldest message; msgtyp > 0 the oldest of that type, or with MSG_EXCEPT the
 * oldest of any other type; msgtyp < 0 the lowest type <= -msgtyp, the oldest
 * of that type (MSG_EXCEPT is ignored when msgtyp <= 0). Returns the index in
 * queue[], or -1 if nothing matches.
 */
static int expected_pick(long msgtyp, int flags)
{
	int best = -1;
	for (int i = 0; i < (int)NQUEUE; i++) {
		const struct item *it = &queue[i];
		if (it->gone)
			continue;
		if (msgtyp == 0)
			return i;
		if (msgtyp < 0) {
			if (it->type <= -msgtyp && (best == -1 || it->type < queue[best].type))
				best = i;
		} else if ((flags & MSG_EXCEPT) ? it->type != msgtyp : it->type == msgtyp) {
			return i;
		}
	}
	return best;
}

/* Why expected_pick chose `pick` (or nothing), in words. */
static void explain(char *buf, size_t len, long msgtyp, int flags, int pick)
{
	if (pick == -1) {
		if (msgtyp == 0)
			snprintf(buf, len, "the queue is empty");
		else if (msgtyp < 0)
			snprintf(buf, len, "no message of type <= %ld is left", -msgtyp);
		else if (flags & MSG_EXCEPT)
			snprintf(buf, len, "every message left has type %ld", msgtyp);
		else
			snprintf(buf, len, "no message of type %ld is left", msgtyp);
		return;
	}

	int n = 0;
	if (msgtyp == 0)
		n = snprintf(buf, len, "the oldest message, whatever its type");
	else if (msgtyp < 0)
		n = snprintf(buf, len, "the lowest type <= %ld left is %ld; its oldest",
		             -msgtyp, queue[pick].type);
	else if (flags & MSG_EXCEPT)
		n = snprintf(buf, len, "the oldest whose type is not %ld", msgtyp);
	else
		n = snprintf(buf, len, "the oldest of type %ld", msgtyp);

	int older = 0;
	for (int i = 0; i < pick; i++)
		older += !queue[i].gone;
	if (older && (size_t)n < len)
		snprintf(buf + n, len - n, ", passing over %d older message%s", older,
		         older == 1 ? "" : "s");
}

static void print_queue(const char *label)
{
	printf("%s", label);
	int left = 0;
	for (size_t i = 0; i < NQUEUE; i++) {
		if (!queue[i].gone) {
			printf(" %s", queue[i].text);
			left++;
		}
	}
	printf("%s\n", left ? "" : " (nothing)");
}

/* Compares the queue's msg_qnum and byte count with the model. Returns 0 or -1. */
static int check_stat(int msqid)
{
	unsigned long want_num = 0, want_bytes = 0;
	for (size_t i = 0; i < NQUEUE; i++) {
		if (!queue[i].gone) {
			want_num++;
			want_bytes += strlen(queue[i].text) + 1;
		}
	}
	struct msqid_ds ds;
	if (svipc_msgctl(msqid, IPC_STAT, &ds) == -1) {
		perror("select: msgctl(IPC_STAT)");
		return -1;
	}
	if (ds.msg_qnum != want_num || ds.__msg_cbytes != want_bytes) {
		fprintf(stderr, "select: FAIL: IPC_STAT says %lu messages, %lu bytes; expected %lu, %lu\n",
		        (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, want_num, want_bytes);
		return -1;
	}
	return 0;
}

/* Runs one msgrcv, prints what it took and why, and checks it against the model. */
static int run_step(int msqid, const struct step *s)
{
	char sel[48], why[128], got[DEMO_TEXT_MAX + 32];
	snprintf(sel, sizeof sel, "msgtyp %2ld%s", s->msgtyp,
	         (s->flags & MSG_EXCEPT) ? " + MSG_EXCEPT" : "");

	int pick = expected_pick(s->msgtyp, s->flags);
	explain(why, sizeof why, s->msgtyp, s->flags, pick);

	struct demo_msg m;
	ssize_t n = svipc_msgrcv(msqid, &m, sizeof m.mtext, s->msgtyp, s->flags | IPC_NOWAIT);
	int err = errno;
	if (n == -1)
		snprintf(got, sizeof got, "%s", err == ENOMSG ? "ENOMSG" : strerror(err));
	else if (n > 0 && m.mtext[n - 1] == '\0')
		snprintf(got, sizeof got, "%s", m.mtext);
	else
		snprintf(got, sizeof got, "%zd bytes of garbage", n);
	printf("%-22s -> %-8s %s\n", sel, got, why);

	bool ok;
	if (pick == -1)
		ok = n == -1 && err == ENOMSG;
	else
		ok = n == (ssize_t)strlen(queue[pick].text) + 1 && m.mtype == queue[pick].type &&
		     strcmp(m.mtext, queue[pick].text) == 0;
	if (!ok) {
		fprintf(stderr, "select: FAIL: svipc gave %s (type %ld), Linux gives %s\n", got,
		        n == -1 ? 0L : m.mtype, pick == -1 ? "ENOMSG" : queue[pick].text);
		return -1;
	}
	if (pick != -1) {
		queue[pick].gone = true;
		print_queue("                          left:");
	}
	return check_stat(msqid);
}

int main(void)
{
	demo_line_buffered();
	key_t key = demo_key("select", 'S');
	int msqid = svipc_msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (msqid == -1)
		demo_die("select", "msgget");

	int failed = 0;
	for (size_t i = 0; i < NQUEUE && !failed; i++) {
		struct demo_msg m = { .mtype = queue[i].type };
		strcpy(m.mtext, queue[i].text);
		if (svipc_msgsnd(msqid, &m, strlen(m.mtext) + 1, IPC_NOWAIT) == -1) {
			perror("select: msgsnd");
			failed = 1;
		}
	}
	if (!failed) {
		printf("types: alert 1, warn 2, info 3, debug 5; every msgrcv passes IPC_NOWAIT\n");
		print_queue("sent, oldest first:");
		failed = check_stat(msqid) == -1;
	}
	for (size_t i = 0; i < sizeof steps / sizeof steps[0] && !failed; i++)
		failed = run_step(msqid, &steps[i]) == -1;

	if (svipc_msgctl(msqid, IPC_RMID, NULL) == -1) {
		perror("select: msgctl(IPC_RMID)");
		failed = 1;
	}
	return failed;
}

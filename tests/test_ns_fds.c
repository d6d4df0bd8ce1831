/* test_ns_fds.c - a program that closes descriptors it did not open (as daemons do). */
#include "svipc.h"
#include "t.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

struct msg {
	long mtype;
	char text[16];
};

static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	t_setup(30);
	char other[96];
	snprintf(other, sizeof other, "%s-other", t_dir);
	T_OK(mkdir(other, 0700));

	struct msg m = { 1, "before" };
	int q1 = (int)T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	T_OK(svipc_msgsnd(q1, &m, sizeof m.text, 0));

	/* Close everything but stdio, then reuse the numbers for other files. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int mine[8];
	for (int i = 0; i < 8; i++)
		mine[i] = open(other, O_RDONLY | O_DIRECTORY);

	/* Cached queues keep working; new ones land in SVIPC_DIR, not in `other`. */
	struct msg r;
	T_EQ(svipc_msgrcv(q1, &r, sizeof r.text, 0, 0), sizeof r.text);
	T_ASSERT(strcmp(r.text, "before") == 0);
	int q2 = (int)T_OK(svipc_msgget(1234, IPC_CREAT | 0600));
	T_OK(svipc_msgsnd(q2, &m, sizeof m.text, 0));
	T_EQ(count_entries(other, "msg."), 0);
	T_EQ(count_entries(t_dir, "msg."), 2);

	/* A blocking receive (which re-checks our registration before sleeping)
	 * is satisfied by a child. */
	pid_t p = fork();
	if (p == 0) {
		alarm(10);
		usleep(100000);
		struct msg c = { 2, "from child" };
		_exit(svipc_msgsnd(q2, &c, sizeof c.text, 0) == 0 ? 0 : 1);
	}
	T_EQ(svipc_msgrcv(q2, &r, sizeof r.text, 2, 0), sizeof r.text);
	T_ASSERT(strcmp(r.text, "from child") == 0);
	int st;
	T_EQ(waitpid(p, &st, 0), p);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Our descriptors were left alone. */
	for (int i = 0; i < 8; i++) {
		struct stat a, b;
		T_OK(fstat(mine[i], &a));
		T_OK(stat(other, &b));
		T_EQ(a.st_ino, b.st_ino);
	}
	T_OK(svipc_msgctl(q1, IPC_RMID, NULL));
	T_OK(svipc_msgctl(q2, IPC_RMID, NULL));
	rmdir(other);
	return t_done();
}

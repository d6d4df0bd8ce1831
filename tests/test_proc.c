/* test_proc.c - the register of live processes across fork, exec, exit and SIGKILL. */
#include "svipc.h"
#include "t.h"
#include "proc.h"

#include <sys/mman.h>
#include <sys/wait.h>

struct shared {
	volatile uint32_t token[4];
	volatile int ready[4];
};

static struct shared *sh;

static void wait_ready(int i)
{
	for (int n = 0; !sh->ready[i] && n < 5000; n++)
		usleep(1000);
}

static void reap(pid_t p)
{
	int st;
	waitpid(p, &st, 0);
}

int main(void)
{
	t_setup(30);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(sh != MAP_FAILED);
	/* Any call opens the namespace and registers us. */
	T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	uint32_t me = svipc__proc_token();
	T_ASSERT(me != 0);
	T_EQ(svipc__proc_alive(me), 1);
	T_EQ(svipc__proc_alive(0), 0);
	T_EQ(svipc__proc_alive(0x7fffffff), 0);

	/* fork: the child gets a token of its own and sees its parent alive. */
	pid_t p = fork();
	if (p == 0) {
		alarm(10);
		uint32_t t = svipc__proc_token();
		int ok = t != 0 && t != me && svipc__proc_alive(me) && svipc__proc_alive(t);
		sh->token[0] = t;
		sh->ready[0] = ok ? 1 : 2;
		pause(); /* killed by the parent */
		_exit(0);
	}
	wait_ready(0);
	T_EQ(sh->ready[0], 1); /* the child saw itself and its parent alive */
	uint32_t child = sh->token[0];
	T_ASSERT(child != 0 && child != me);
	T_EQ(svipc__proc_alive(child), 1);
	kill(p, SIGKILL);
	reap(p);
	T_EQ(svipc__proc_alive(child), 0); /* SIGKILL: the kernel dropped its lock */
	T_EQ(svipc__proc_alive(me), 1);

	/* A process that exits leaves a grandchild that inherited its descriptors:
	 * the grandchild must not keep it looking alive. */
	p = fork();
	if (p == 0) {
		alarm(10);
		sh->token[1] = svipc__proc_token();
		pid_t g = fork();
		if (g == 0) {
			alarm(10);
			sh->ready[2] = 1;
			sleep(5);
			_exit(0);
		}
		sh->token[2] = (uint32_t)g;
		while (!sh->ready[2])
			usleep(1000);
		sh->ready[1] = 1;
		_exit(0);
	}
	wait_ready(1);
	reap(p);
	T_EQ(svipc__proc_alive(sh->token[1]), 0);
	kill((pid_t)sh->token[2], SIGKILL);

	/* exec drops the registration (O_CLOEXEC), though the pid lives on. */
	p = fork();
	if (p == 0) {
		alarm(10);
		sh->token[3] = svipc__proc_token();
		sh->ready[3] = 1;
		execl("/bin/sleep", "sleep", "3", (char *)NULL);
		_exit(127);
	}
	wait_ready(3);
	uint32_t before_exec = sh->token[3];
	int dead = 0;
	for (int n = 0; n < 2000 && !dead; n++) {
		dead = !svipc__proc_alive(before_exec);
		if (!dead)
			usleep(1000);
	}
	T_ASSERT(dead);
	T_EQ(kill(p, 0), 0); /* still running */
	kill(p, SIGKILL);
	reap(p);

	/* A reused slot gets a new generation: the old token stays dead. */
	for (int i = 0; i < 20; i++) {
		p = fork();
		if (p == 0) {
			alarm(10);
			_exit(svipc__proc_token() != child ? 0 : 1);
		}
		int st;
		waitpid(p, &st, 0);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	T_EQ(svipc__proc_alive(child), 0);
	return t_done();
}

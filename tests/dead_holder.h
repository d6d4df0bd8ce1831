/*
 * dead_holder.h - a process that died holding an object's lock, for the
 * tests of recovery: its token, or the object left as it left it.
 */
#ifndef SVIPC_TEST_DEAD_HOLDER_H
#define SVIPC_TEST_DEAD_HOLDER_H

#include "t.h"
#include "internal.h"
#include "ns.h"
#include "proc.h"
#include "region.h"

#include <sys/wait.h>

/* The token of a process that registered and exited: a lock word naming it has a dead holder. */
static inline uint32_t t_dead_token(void)
{
	int p[2];
	T_OK(pipe(p));
	pid_t pid = fork();
	if (pid == 0) {
		uint32_t t = svipc__proc_token();
		_exit(write(p[1], &t, sizeof t) == sizeof t ? 0 : 1);
	}
	uint32_t t = 0;
	T_EQ(read(p[0], &t, sizeof t), (long)sizeof t);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	T_ASSERT(t != 0 && !svipc__proc_alive(t));
	return t;
}

/*
 * Object id of type is left as a process killed inside a call would leave
 * it: a child runs stage() on it (what that call had written), takes its
 * lock by storing its own token, and exits.
 */
static inline void t_die_holding(enum svipc_type type, int id, void (*stage)(struct svipc_obj *o))
{
	pid_t pid = fork();
	if (pid == 0) {
		struct svipc_ref ref;
		if (svipc__get(svipc__type_ops(type), id, &ref) < 0)
			_exit(3);
		if (stage)
			stage(ref.obj);
		STORE(&ref.obj->lock, svipc__proc_token());
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

#endif

/* svipcrm: ipcrm's options, messages and exit status; the objects named go, the others stay. */
#include "t.h"
#include "tool_run.h"

static char out[512], err[512];

static int rm(const char *const *args)
{
	return tool_run(SVIPCRM, args, out, err);
}

int main(void)
{
	t_setup(60);
	key_t kq = 0x5a1, km = 0x5a2, ks = 0x5a3;
	int q = svipc_msgget(kq, IPC_CREAT | 0600), m = svipc_shmget(km, 4096, IPC_CREAT | 0600);
	int s = svipc_semget(ks, 2, IPC_CREAT | 0600);
	T_ASSERT(q >= 0 && m >= 0 && s >= 0);
	char ids[3][16];
	snprintf(ids[0], 16, "%d", q);
	snprintf(ids[1], 16, "%d", m);
	snprintf(ids[2], 16, "%d", s);

	/* By id, then the same id again: ipcrm's "invalid id (N)" and status 1. */
	T_EQ(rm((const char *[]){ "-q", ids[0], NULL }), 0);
	T_EQ(err[0], 0);
	T_ERR(svipc_msgctl(q, IPC_STAT, &(struct msqid_ds){ 0 }), EINVAL);
	T_EQ(rm((const char *[]){ "-q", ids[0], NULL }), 1);
	char want[64];
	snprintf(want, sizeof want, "svipcrm: invalid id (%d)\n", q);
	T_ASSERT(!strcmp(err, want));
	/* By key (hex), and the segment is gone while the semaphore set stays. */
	T_EQ(rm((const char *[]){ "-M", "0x5a2", NULL }), 0);
	T_ERR(svipc_shmget(km, 0, 0), ENOENT);
	T_EQ(svipc_semget(ks, 0, 0), s);
	T_EQ(rm((const char *[]){ "-M", "0x5a2", NULL }), 1);
	T_ASSERT(!strcmp(err, "svipcrm: invalid key (0x5a2)\n"));
	/* ipcrm's other refusals. */
	T_EQ(rm((const char *[]){ "-S", "0", NULL }), 1);
	T_ASSERT(!strcmp(err, "svipcrm: illegal key (0)\n"));
	T_EQ(rm((const char *[]){ "-s", "abc", NULL }), 1);
	T_ASSERT(!strcmp(err, "svipcrm: failed to parse argument: 'abc'\n"));
	T_EQ(rm((const char *[]){ "-a", "msg", NULL }), 1);
	T_ASSERT(strstr(err, "unknown argument: msg") != NULL);
	T_EQ(svipc_semget(ks, 0, 0), s); /* nothing removed by a refused command line */
	/* The old syntax, and --all=TYPE leaves the other types alone. */
	int q2 = svipc_msgget(IPC_PRIVATE, 0600), m2 = svipc_shmget(IPC_PRIVATE, 4096, 0600);
	T_ASSERT(q2 >= 0 && m2 >= 0);
	T_EQ(rm((const char *[]){ "--all=msg", NULL }), 0);
	T_ERR(svipc_msgctl(q2, IPC_STAT, &(struct msqid_ds){ 0 }), EINVAL);
	T_OK(svipc_shmctl(m2, IPC_STAT, &(struct shmid_ds){ 0 }));
	snprintf(ids[1], 16, "%d", m2);
	T_EQ(rm((const char *[]){ "shm", ids[1], NULL }), 0);
	T_ERR(svipc_shmctl(m2, IPC_STAT, &(struct shmid_ds){ 0 }), EINVAL);
	/* --all removes everything left. */
	T_EQ(rm((const char *[]){ "--all", NULL }), 0);
	T_ERR(svipc_semget(ks, 0, 0), ENOENT);
	/* A namespace that is not there is not made by looking; a file is not one. */
	T_EQ(rm((const char *[]){ "-q", "5", "--dir", "/nonexistent/svipc", NULL }), 1);
	T_ASSERT(!strcmp(err, "svipcrm: invalid id (5)\n"));
	T_ERR(access("/nonexistent/svipc", F_OK), ENOENT);
	T_EQ(rm((const char *[]){ "--dir=/nonexistent/svipc", "--all", NULL }), 0);
	T_EQ(rm((const char *[]){ "--dir", "/etc/hostname", "-q", "5", NULL }), 1);
	T_ASSERT(strstr(err, "is not a directory") != NULL);
	T_EQ(rm((const char *[]){ "--help", NULL }), 0);
	T_ASSERT(strstr(out, "--semaphore-key") != NULL);
	return t_done();
}

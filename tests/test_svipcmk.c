/* svipcmk: ipcmk's options and output, and the objects it makes are there as asked. */
#include "t.h"

#include "tool_run.h"

static char err[512];

static int run(char *out, size_t len, const char *const *args)
{
	(void)len;
	return tool_run(SVIPCMK, args, out, err);
}

int main(void)
{
	t_setup(60);
	char out[512];
	T_EQ(run(out, sizeof out, (const char *[]){ "-Q", "-M", "10K", "-S", "3", "-p", "600", NULL }), 0);
	int shm = -1, msg = -1, sem = -1;
	/* ipcmk's lines, in ipcmk's order: segment, queue, semaphores. */
	T_EQ(sscanf(out, "Shared memory id: %d\nMessage queue id: %d\nSemaphore id: %d\n", &shm, &msg,
		    &sem), 3);
	struct shmid_ds sd;
	T_OK(svipc_shmctl(shm, IPC_STAT, &sd));
	T_EQ(sd.shm_segsz, 10240);
	T_EQ(sd.shm_perm.mode & 0777, 0600);
	T_ASSERT(sd.shm_perm.__key != IPC_PRIVATE);
	struct msqid_ds qd;
	T_OK(svipc_msgctl(msg, IPC_STAT, &qd));
	T_EQ(qd.msg_perm.mode & 0777, 0600);
	T_ASSERT(qd.msg_perm.__key != IPC_PRIVATE);
	struct semid_ds ssd;
	union t_semun arg = { .buf = &ssd };
	T_OK(svipc_semctl(sem, 0, IPC_STAT, arg));
	T_EQ(ssd.sem_nsems, 3);
	T_EQ(ssd.sem_perm.mode & 0777, 0600);

	/* Default mode 0644; size suffixes as util-linux reads them. */
	T_EQ(run(out, sizeof out, (const char *[]){ "-M", "1MiB", NULL }), 0);
	T_EQ(sscanf(out, "Shared memory id: %d\n", &shm), 1);
	T_OK(svipc_shmctl(shm, IPC_STAT, &sd));
	T_EQ(sd.shm_segsz, 1048576);
	T_EQ(sd.shm_perm.mode & 0777, 0644);
	T_EQ(run(out, sizeof out, (const char *[]){ "--shmem", "2KB", NULL }), 0);
	T_EQ(sscanf(out, "Shared memory id: %d\n", &shm), 1);
	T_OK(svipc_shmctl(shm, IPC_STAT, &sd));
	T_EQ(sd.shm_segsz, 2000);

	/* Errors: ipcmk's exit status 1, nothing on stdout. */
	T_EQ(run(out, sizeof out, (const char *[]){ NULL }), 1);
	T_EQ(run(out, sizeof out, (const char *[]){ "-M", "1x", NULL }), 1);
	T_EQ(run(out, sizeof out, (const char *[]){ "-S", "0", NULL }), 1);
	T_EQ(out[0], 0);
	T_EQ(run(out, sizeof out, (const char *[]){ "-p", "9", "-Q", NULL }), 1);
	T_EQ(run(out, sizeof out, (const char *[]){ "--bogus", NULL }), 1);
	T_EQ(run(out, sizeof out, (const char *[]){ "--help", NULL }), 0);
	T_ASSERT(strstr(out, "--semaphore") != NULL);
	T_EQ(run(out, sizeof out, (const char *[]){ "-V", NULL }), 0);
	T_ASSERT(strstr(out, SVIPC_VERSION_STRING) != NULL);
	return t_done();
}

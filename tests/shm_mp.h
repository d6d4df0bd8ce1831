/* shm_mp.h - helpers shared by the shared-memory tests: the kernel's and
 * svipc's shm calls behind one table, segments tracked and counted, the
 * namespace's files (the segment-free part is mp_common.h). */
#ifndef SVIPC_TEST_SHM_MP_H
#define SVIPC_TEST_SHM_MP_H

#include "svipc.h"
#include "t.h"
#include "mp_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/shm.h>
#include <sys/stat.h>

/* struct shm_impl (t.h): the kernel's shm calls (libc) or svipc's. */
__attribute__((unused)) static const struct shm_impl SHM_K = T_KERNEL_SHM;
__attribute__((unused)) static const struct shm_impl SHM_S = T_SVIPC_SHM;

#define SHM_FAILED ((void *)-1)

static int shm_kernel_ok;

static inline void shm_rm_segment(int id)
{
	shmctl(id, IPC_RMID, NULL);
}

/* After t_setup (or an equivalent): kernel segments and children are cleaned
 * up on exit and on timeout; probes the kernel's System V shared memory. */
static inline void shm_setup_common(void)
{
	mp_scenario = "setup";
	mp_setup_cleanup(shm_rm_segment, "segments");
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	if (id != -1) {
		shm_kernel_ok = 1;
		shmctl(id, IPC_RMID, NULL);
	} else {
		fprintf(stderr, "note: no kernel System V shared memory (%s): kernel comparisons "
				"skipped\n", strerror(errno));
	}
}

static inline void shm_setup(unsigned seconds)
{
	t_setup(seconds);
	shm_setup_common();
}

/* A fresh segment (IPC_PRIVATE unless key given); kernel ones are remembered. */
static inline int seg_new_key(const struct shm_impl *o, key_t key, size_t size, int flg)
{
	int id = (int)T_OK(o->get(key, size, IPC_CREAT | flg));
	if (o->kernel)
		mp_track_kernel(id);
	return id;
}

static inline int seg_new(const struct shm_impl *o, size_t size)
{
	return seg_new_key(o, IPC_PRIVATE, size, 0600);
}

static inline void seg_rm(const struct shm_impl *o, int id)
{
	if (id == -1)
		return;
	T_OK(o->ctl(id, IPC_RMID, NULL));
	if (o->kernel)
		mp_untrack_kernel(id);
}

/* shm_nattch of id, or -1 (errno set) if IPC_STAT fails. */
static inline long nattch(const struct shm_impl *o, int id)
{
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (o->ctl(id, IPC_STAT, &ds) == -1)
		return -1;
	return (long)ds.shm_nattch;
}

/* Polls until nattch(id) == want, up to ms; returns the last value seen. */
static inline long wait_nattch(const struct shm_impl *o, int id, long want, long ms)
{
	int64_t end = now_ms() + ms;
	long n;
	while ((n = nattch(o, id)) != want && now_ms() < end)
		sleep_ms(1);
	return n;
}

/* Fails unless nattch becomes `want` within ms (kernel releases asynchronously). */
#define T_NATTCH_SOON(o, id, want, ms, what)                                      \
	do {                                                                      \
		int64_t t_t0_ = now_ms();                                         \
		long t_n_ = wait_nattch((o), (id), (want), (ms));                 \
		if (t_n_ != (want))                                               \
			T_FAIL("[%s] %s: shm_nattch %ld, want %ld (waited %lld ms)", \
			       (o)->name, (what), t_n_, (long)(want),             \
			       (long long)(now_ms() - t_t0_));                    \
	} while (0)

/* Fails unless nattch is `want` right now. */
#define T_NATTCH(o, id, want, what)                                               \
	do {                                                                      \
		long t_n_ = nattch((o), (id));                                    \
		if (t_n_ != (want))                                               \
			T_FAIL("[%s] %s: shm_nattch %ld, want %ld", (o)->name,     \
			       (what), t_n_, (long)(want));                       \
	} while (0)

/* 1 if the namespace directory holds the file shm.<id>. */
static inline int seg_file_exists(int id)
{
	char path[512];
	snprintf(path, sizeof path, "%s/shm.%d", svipc_dir(), id);
	return access(path, F_OK) == 0;
}

/* Number of files named shm.* in the namespace directory. */
static inline int count_shm_files(void)
{
	DIR *d = opendir(svipc_dir());
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "shm.", 4) == 0)
			n++;
	closedir(d);
	return n;
}

/* Sleeps until time(NULL) has moved on from t (second-granularity stamps). */
static inline void wait_next_second(time_t t)
{
	while (time(NULL) <= t)
		sleep_ms(10);
}

/* A key unused in the kernel (the svipc namespace of a test is new). */
static inline key_t free_key(void)
{
	for (;;) {
		key_t k = (key_t)(0x53000000u | (uint32_t)(t_rand() & 0x00ffffffu));
		if (k == IPC_PRIVATE)
			continue;
		if (!shm_kernel_ok || (shmget(k, 0, 0) == -1 && errno == ENOENT))
			return k;
	}
}

#endif

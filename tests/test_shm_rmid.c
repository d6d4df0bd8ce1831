/*
 * test_shm_rmid.c - IPC_RMID of shared memory segments, with and without
 * attachments, and the segment file's life in the namespace directory.
 *
 * Every scenario runs first on the kernel's segments (the reference that
 * validates the expectations written here; kernel segments are removed at
 * the end and on timeout), then on svipc, where the file shm.<id> in the
 * namespace directory is checked too:
 *  - rmid_attached: IPC_RMID while attached hides the key (IPC_STAT: key 0,
 *    SHM_DEST in mode, nattch and mode bits kept); shmget(old key) gives
 *    ENOENT and a new segment takes the key (zero-filled, independent); the
 *    removed segment stays attachable by id (Linux); a second IPC_RMID
 *    succeeds; the file stays while attached; after the last shmdt the id
 *    gives EINVAL (IPC_STAT, shmat) and the file is gone;
 *  - rmid_last_dies: the last attacher is SIGKILLed, or _exits without
 *    shmdt: the first call afterwards finds the id gone and the file
 *    removed: an IPC_STAT by id (EINVAL), or a shmget of another segment,
 *    which succeeds even though (svipc) shmmni was set to the number of
 *    segments that existed with the dead one;
 *  - rmid_last_exits: the last attacher exits normally without shmdt (its
 *    own attachment, or one it inherited from its parent): the file is gone
 *    as soon as it is reaped, before anyone makes a call;
 *  - rmid_unattached: IPC_RMID with nattch 0 removes the file at once;
 *  - rmid_fork_race: attach, IPC_RMID, fork, the parent detaches at once:
 *    the child's inherited attachment keeps the segment (IPC_STAT by id in
 *    the child: nattch 1, or 2 if it looks before the parent's shmdt;
 *    attachable by id), until the child exits;
 *  - rmid_attach_race: a child attaches by id in a loop while the parent
 *    makes the last detach of a removed segment: each shmat either fails
 *    (EINVAL/EIDRM) or gives a live attachment (IPC_STAT works, nattch >= 1,
 *    the file exists, the data is the segment's); in the end the id is gone
 *    and so is the file;
 *  - zero_fill: new segments of many sizes are zero over their whole
 *    page-rounded mapping, whatever a removed segment (same key, maybe the
 *    same index) held, also while the old one is still attached;
 * and at the end no shm.* file is left in the namespace directory.
 * Every scenario is bounded by the test's alarm and each child by its own;
 * every child is reaped.
 */
#include "svipc.h"
#include "t.h"

#include "shm_mp.h"

struct share {
	int id;
	const struct shm_impl *o;
	char *addr;
	int stage, cstage;
	long n_child, child_errno, child_ok, child_bad;
	int mode;
};

static struct share *S;

static long stat_key(const struct shm_impl *o, int id, unsigned *mode)
{
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (o->ctl(id, IPC_STAT, &ds) == -1)
		return -1;
	*mode = ds.shm_perm.mode;
	return (long)(unsigned)ds.shm_perm.__key;
}

/* The file of a svipc segment exists (want 1) or not (want 0). */
#define T_FILE(o, id, want, what)                                                  \
	do {                                                                       \
		if (!(o)->kernel && seg_file_exists(id) != (want))                 \
			T_FAIL("[svipc] %s: file shm.%d %s", (what), (id),          \
			       (want) ? "is gone" : "is still there");             \
	} while (0)

/* ---- IPC_RMID while attached ------------------------------------------------------ */

static void rmid_attached(const struct shm_impl *o)
{
	mp_scenario = "rmid_attached";
	key_t key = free_key();
	int id = seg_new_key(o, key, 8192, IPC_EXCL | 0640);
	char *a = o->at(id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	if (a == SHM_FAILED)
		return;
	strcpy(a, "old segment");
	T_FILE(o, id, 1, "new segment");
	T_OK(o->ctl(id, IPC_RMID, NULL));
	unsigned mode = 0;
	long k = stat_key(o, id, &mode);
	if (k != 0)
		T_FAIL("[%s] IPC_STAT after IPC_RMID: key %#lx, want 0", o->name, k);
	if (!(mode & SHM_DEST))
		T_FAIL("[%s] IPC_STAT after IPC_RMID: mode %#o without SHM_DEST", o->name, mode);
	T_EQ(mode & 0777, 0640);
	T_NATTCH(o, id, 1, "removed, attached");
	T_FILE(o, id, 1, "removed, attached");

	/* The key is free: ENOENT, and a new segment takes it. */
	T_ERR(o->get(key, 0, 0), ENOENT);
	T_ERR(o->get(key, 8192, 0600), ENOENT);
	int id2 = seg_new_key(o, key, 8192, IPC_EXCL | 0600);
	T_ASSERT(id2 != id);
	T_EQ(o->get(key, 0, 0), id2);
	char *c = o->at(id2, NULL, 0);
	T_ASSERT(c != SHM_FAILED);
	if (c != SHM_FAILED) {
		int nz = 0;
		for (int i = 0; i < 8192; i++)
			nz += c[i] != 0;
		if (nz)
			T_FAIL("[%s] new segment under the old key: %d non-zero bytes", o->name, nz);
		strcpy(c, "new segment");
		T_ASSERT(strcmp(a, "old segment") == 0);
		T_OK(o->dt(c));
	}

	/* Still attachable by id (Linux), and a second IPC_RMID is fine. */
	char *b = o->at(id, NULL, SHM_RDONLY);
	T_ASSERT(b != SHM_FAILED);
	if (b != SHM_FAILED)
		T_ASSERT(strcmp(b, "old segment") == 0);
	T_NATTCH(o, id, 2, "removed, attached again by id");
	T_OK(o->ctl(id, IPC_RMID, NULL));
	T_NATTCH(o, id, 2, "second IPC_RMID");
	k = stat_key(o, id, &mode);
	T_EQ(k, 0);
	T_ASSERT(mode & SHM_DEST);
	T_OK(o->dt(a));
	T_NATTCH(o, id, 1, "removed, one detach of two");
	T_FILE(o, id, 1, "removed, one attachment left");
	if (b != SHM_FAILED)
		T_OK(o->dt(b));
	struct shmid_ds ds;
	T_ERR(o->ctl(id, IPC_STAT, &ds), EINVAL);
	T_ERR(o->at(id, NULL, 0), EINVAL);
	T_ERR(o->ctl(id, IPC_RMID, NULL), EINVAL);
	T_FILE(o, id, 0, "removed, last shmdt");
	if (o->kernel)
		mp_untrack_kernel(id);

	/* The new segment is untouched. */
	k = stat_key(o, id2, &mode);
	T_EQ(k, (long)(unsigned)key);
	T_ASSERT(!(mode & SHM_DEST));
	c = o->at(id2, NULL, 0);
	T_ASSERT(c != SHM_FAILED);
	if (c != SHM_FAILED) {
		T_ASSERT(strcmp(c, "new segment") == 0);
		T_OK(o->dt(c));
	}
	T_FILE(o, id2, 1, "the key's new segment");
	seg_rm(o, id2);
	T_FILE(o, id2, 0, "the key's new segment, removed with nattch 0");
}

/* ---- the last attacher dies ------------------------------------------------------- */

enum { DIE_KILL, DIE__EXIT, EXIT_OWN, EXIT_INHERITED };

static void last_attacher(void *arg)
{
	(void)arg;
	const struct shm_impl *o = S->o;
	char *a = S->addr;
	if (S->mode != EXIT_INHERITED) {
		a = o->at(S->id, NULL, 0);
		T_ASSERT(a != SHM_FAILED);
		if (a == SHM_FAILED)
			_exit(1);
	}
	strcpy(a + 100, "child was here");
	ASTORE(&S->cstage, 1);
	if (!wait_flag_ge(&S->stage, 1, 10000))
		_exit(3);
	T_ASSERT(strcmp(a, "parent") == 0);
	switch (S->mode) {
	case DIE_KILL:
		ASTORE(&S->cstage, 2);
		for (;;)
			pause();
	case DIE__EXIT:
		_exit(t_failures ? 1 : 0);
	default:
		exit(t_failures ? 1 : 0); /* svipc: the library's destructor detaches */
	}
}

static const char *const mode_names[] = { "SIGKILL", "_exit", "exit() (own attachment)",
					  "exit() (inherited attachment)" };

/* how: 0 the next call is IPC_STAT by id; 1 a shmget of another segment. */
static void rmid_last_dies(const struct shm_impl *o, int mode, int how)
{
	char what[160];
	mp_scenario = "rmid_last_dies";
	key_t key = free_key();
	int id = seg_new_key(o, key, 3 * 4096, IPC_EXCL | 0600);
	memset(S, 0, sizeof *S);
	S->o = o;
	S->id = id;
	S->mode = mode;
	char *a = NULL;
	if (mode == EXIT_INHERITED) {
		a = o->at(id, NULL, 0);
		T_ASSERT(a != SHM_FAILED);
		if (a == SHM_FAILED)
			return;
		S->addr = a;
	}
	pid_t p = spawn(last_attacher, NULL, 20);
	if (!wait_flag_ge(&S->cstage, 1, 10000))
		T_FAIL("[%s] child did not attach", o->name);
	char *mine = o->at(id, NULL, 0);
	T_ASSERT(mine != SHM_FAILED);
	if (mine == SHM_FAILED)
		return;
	T_ASSERT(strcmp(mine + 100, "child was here") == 0);
	strcpy(mine, "parent");
	T_OK(o->ctl(id, IPC_RMID, NULL));
	T_OK(o->dt(mine));
	if (a)
		T_OK(o->dt(a));
	T_NATTCH(o, id, 1, "removed, only the child attached");
	T_FILE(o, id, 1, "removed, the child attached");
	T_ERR(o->get(key, 0, 0), ENOENT);
	struct svipc_limits lim_saved, lim_set;
	memset(&lim_set, 0, sizeof lim_set);
	if (!o->kernel && how == 1) {
		struct shm_info si;
		memset(&si, 0, sizeof si);
		T_OK(svipc_limits_get(&lim_saved));
		T_OK(o->ctl(0, SHM_INFO, (struct shmid_ds *)&si));
		lim_set.shmmni = (uint64_t)si.used_ids;
		T_EQ(si.used_ids, 1);
		T_OK(svipc_limits_set(&lim_set));
	}
	ASTORE(&S->stage, 1);
	snprintf(what, sizeof what, "removed segment, last attacher left by %s%s",
		 mode_names[mode], how == 1 ? ", then shmget of another segment" : "");
	if (mode == DIE_KILL) {
		if (!wait_flag_ge(&S->cstage, 2, 10000))
			T_FAIL("[%s] child never got ready to be killed", o->name);
		kill(p, SIGKILL);
		reap(p, SIGKILL, what);
	} else {
		reap(p, 0, what);
	}
	if (mode == EXIT_OWN || mode == EXIT_INHERITED) {
		/* Its destructor did the last detach: gone before anyone looks. */
		T_FILE(o, id, 0, what);
	}
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	int64_t t0 = now_ms();
	if (how == 0) {
		errno = 0;
		int r = o->ctl(id, IPC_STAT, &ds);
		if (r != -1 || errno != EINVAL) {
			int e = errno;
			long n = r == -1 ? -1 : (long)ds.shm_nattch;
			while (o->ctl(id, IPC_STAT, &ds) != -1 && now_ms() < t0 + 2000)
				sleep_ms(1);
			T_FAIL("[%s] %s: the first IPC_STAT by id gave %d (errno %d, nattch %ld), "
			       "want EINVAL; the id was gone %s",
			       o->name, what, r, e, n,
			       o->ctl(id, IPC_STAT, &ds) == -1 ? "after polling" : "never (2 s)");
		}
	} else {
		/*
		 * A shmget creating another segment: the dead segment no longer
		 * counts (svipc: shmmni is set to the number of segments that
		 * existed, the dead one included).
		 */
		errno = 0;
		int other = o->get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		if (other == -1)
			T_FAIL("[%s] %s: shmget of another segment failed: %s (the namespace "
			       "still counts the dead segment against shmmni %llu)", o->name, what,
			       strerror(errno), (unsigned long long)lim_set.shmmni);
		else if (o->kernel)
			mp_track_kernel(other);
		T_FILE(o, id, 0, "after a shmget of another segment");
		if (other != -1)
			seg_rm(o, other);
		T_ERR(o->ctl(id, IPC_STAT, &ds), EINVAL);
	}
	if (!o->kernel && how == 1)
		T_OK(svipc_limits_set(&lim_saved));
	T_FILE(o, id, 0, what);
	T_ERR(o->at(id, NULL, 0), EINVAL);
	if (o->kernel)
		mp_untrack_kernel(id);
	/* The key is free for a new segment. */
	int id2 = seg_new_key(o, key, 4096, IPC_EXCL | 0600);
	seg_rm(o, id2);
}

/* ---- IPC_RMID with nattch 0 ------------------------------------------------------- */

static void rmid_unattached(const struct shm_impl *o)
{
	mp_scenario = "rmid_unattached";
	key_t key = free_key();
	int id = seg_new_key(o, key, 100000, IPC_EXCL | 0600);
	char *a = o->at(id, NULL, 0);
	T_ASSERT(a != SHM_FAILED);
	if (a != SHM_FAILED) {
		memset(a, 0x5a, 100000);
		T_OK(o->dt(a));
	}
	T_FILE(o, id, 1, "detached, not removed");
	seg_rm(o, id);
	T_FILE(o, id, 0, "IPC_RMID with nattch 0");
	struct shmid_ds ds;
	T_ERR(o->ctl(id, IPC_STAT, &ds), EINVAL);
	T_ERR(o->at(id, NULL, 0), EINVAL);
	T_ERR(o->get(key, 0, 0), ENOENT);
	int id2 = seg_new_key(o, key, 100000, IPC_EXCL | 0600);
	T_ASSERT(id2 != id);
	seg_rm(o, id2);
}

/* ---- fork, then the parent's last detach ------------------------------------------ */

static void fork_race_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = S->o;
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	errno = 0;
	if (o->ctl(S->id, IPC_STAT, &ds) == -1) {
		ASTORE(&S->child_errno, errno);
		ASTORE(&S->n_child, -1);
	} else {
		ASTORE(&S->n_child, (long)ds.shm_nattch);
	}
	char *b = o->at(S->id, NULL, 0);
	ASTORE(&S->child_ok, b != SHM_FAILED);
	if (b != SHM_FAILED) {
		if (strcmp(b, "before fork") != 0)
			ASTORE(&S->child_bad, 1);
		o->dt(b);
	}
	strcpy(S->addr + 100, "child");
	ASTORE(&S->cstage, 1);
	wait_flag_ge(&S->stage, 1, 10000);
	exit(0); /* svipc: the destructor detaches the inherited attachment */
}

static void rmid_fork_race(const struct shm_impl *o)
{
	mp_scenario = "rmid_fork_race";
	int rounds = 20, lost = 0, noattach = 0, lost_nattch = 0;
	long first_err = 0, first_n = 0;
	for (int r = 0; r < rounds; r++) {
		int id = seg_new(o, 4096);
		char *a = o->at(id, NULL, 0);
		T_ASSERT(a != SHM_FAILED);
		if (a == SHM_FAILED)
			return;
		strcpy(a, "before fork");
		T_OK(o->ctl(id, IPC_RMID, NULL));
		memset(S, 0, sizeof *S);
		S->o = o;
		S->id = id;
		S->addr = a;
		pid_t p = spawn(fork_race_child, NULL, 20);
		T_OK(o->dt(a)); /* at once: the child's inherited attachment remains */
		if (!wait_flag_ge(&S->cstage, 1, 10000))
			T_FAIL("[%s] child did not report", o->name);
		if (S->n_child == -1) {
			if (!lost++) {
				first_err = S->child_errno;
			}
		} else if (S->n_child != 1 && S->n_child != 2) { /* 2: before the parent's shmdt */
			if (!lost_nattch++)
				first_n = S->n_child;
		}
		noattach += !S->child_ok;
		T_ASSERT(!S->child_bad);
		ASTORE(&S->stage, 1);
		reap(p, 0, "child of a removed segment");
		struct shmid_ds ds;
		T_ERR(o->ctl(id, IPC_STAT, &ds), EINVAL);
		T_FILE(o, id, 0, "removed segment, inherited by a child that exited");
		if (o->kernel)
			mp_untrack_kernel(id);
	}
	if (lost)
		T_FAIL("[%s] attach, IPC_RMID, fork, parent's shmdt at once: in %d of %d rounds the "
		       "child, still attached by inheritance, found the segment gone (IPC_STAT: "
		       "errno %ld %s; want nattch 1, or 2 before the parent's shmdt)", o->name, lost, rounds,
		       first_err,
		       strerror((int)first_err));
	if (lost_nattch)
		T_FAIL("[%s] attach, IPC_RMID, fork, parent's shmdt: in %d of %d rounds the child saw "
		       "shm_nattch %ld, want 1 (2 before the parent's shmdt)", o->name, lost_nattch, rounds,
		       first_n);
	if (noattach)
		T_FAIL("[%s] attach, IPC_RMID, fork, parent's shmdt: in %d of %d rounds the child "
		       "could not attach by id the removed segment it is still attached to",
		       o->name, noattach, rounds);
}

/* ---- shmat by id racing the last detach ------------------------------------------- */

static void attach_race_child(void *arg)
{
	(void)arg;
	const struct shm_impl *o = S->o;
	ASTORE(&S->cstage, 1);
	if (!wait_flag_ge(&S->stage, 1, 10000))
		_exit(3);
	for (long i = 0;; i++) {
		char *b = o->at(S->id, NULL, 0);
		if (b == SHM_FAILED) {
			if (errno != EINVAL && errno != EIDRM)
				T_FAIL("[%s] shmat of a removed segment: errno %d (%s)", o->name,
				       errno, strerror(errno));
			ASTORE(&S->child_ok, i);
			break;
		}
		struct shmid_ds ds;
		memset(&ds, 0, sizeof ds);
		if (o->ctl(S->id, IPC_STAT, &ds) == -1)
			T_FAIL("[%s] attached to a removed segment, yet IPC_STAT by id fails: %s",
			       o->name, strerror(errno));
		else if (ds.shm_nattch < 1 || !(ds.shm_perm.mode & SHM_DEST))
			T_FAIL("[%s] attached to a removed segment: nattch %lu, mode %#o", o->name,
			       (unsigned long)ds.shm_nattch, ds.shm_perm.mode);
		if (!o->kernel && !seg_file_exists(S->id))
			T_FAIL("[svipc] attached to a removed segment, yet its file shm.%d is gone",
			       S->id);
		if (strcmp(b, "race") != 0)
			T_FAIL("[%s] attached to a removed segment: wrong data", o->name);
		if (o->dt(b) == -1)
			T_FAIL("[%s] shmdt: %s", o->name, strerror(errno));
		if (t_failures)
			break;
	}
	_exit(t_failures ? 1 : 0);
}

static void rmid_attach_race(const struct shm_impl *o)
{
	mp_scenario = "rmid_attach_race";
	int before = t_failures;
	for (int r = 0; r < 100 && t_failures == before; r++) {
		/* The child is forked first: it must not inherit the parent's attachment. */
		memset(S, 0, sizeof *S);
		S->o = o;
		pid_t p = spawn(attach_race_child, NULL, 20);
		wait_flag_ge(&S->cstage, 1, 10000);
		int id = S->id = seg_new(o, 4096);
		char *a = o->at(id, NULL, 0);
		T_ASSERT(a != SHM_FAILED);
		if (a == SHM_FAILED)
			return;
		strcpy(a, "race");
		T_OK(o->ctl(id, IPC_RMID, NULL));
		ASTORE(&S->stage, 1);
		sleep_us((long)(t_rand() % 2000));
		T_OK(o->dt(a));
		reap(p, 0, "child attaching a removed segment by id");
		struct shmid_ds ds;
		T_ERR(o->ctl(id, IPC_STAT, &ds), EINVAL);
		T_FILE(o, id, 0, "removed segment after the attach race");
		if (o->kernel)
			mp_untrack_kernel(id);
	}
}

/* ---- zero fill -------------------------------------------------------------------- */

struct zf {
	int id;
	size_t len;
	int nonzero;
	long first;
};

static void zero_check_child(void *arg)
{
	struct zf *z = arg;
	const struct shm_impl *o = S->o;
	unsigned char *b = o->at(z->id, NULL, 0);
	if (b == SHM_FAILED) {
		T_FAIL("[%s] shmat: %s", o->name, strerror(errno));
		return;
	}
	/* The whole page-rounded mapping (a SIGBUS here fails the child). */
	z->first = -1;
	for (size_t i = 0; i < z->len; i++)
		if (b[i]) {
			if (z->first < 0)
				z->first = (long)i;
			z->nonzero++;
		}
	memset(b, 0xa5, z->len);
	T_OK(o->dt(b));
}

static void zero_fill(const struct shm_impl *o)
{
	mp_scenario = "zero_fill";
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 3 * 4096 + 5, 65537, 1 << 20 };
	struct zf *z = (struct zf *)(S + 1);
	key_t key = free_key();
	int held = -1;
	char *held_addr = NULL;
	for (int r = 0; r < 24; r++) {
		size_t size = sizes[r % 8];
		memset(S, 0, sizeof *S);
		S->o = o;
		int id = seg_new_key(o, (r & 1) ? key : IPC_PRIVATE, size, IPC_EXCL | 0600);
		memset(z, 0, sizeof *z);
		z->id = id;
		z->len = (size + 4095) & ~(size_t)4095;
		pid_t p = spawn(zero_check_child, z, 20);
		char what[96];
		snprintf(what, sizeof what, "zero check of a new %zu-byte segment", size);
		reap(p, 0, what);
		if (z->nonzero)
			T_FAIL("[%s] new %zu-byte segment (round %d): %d non-zero bytes in its %zu "
			       "mapped bytes, the first at offset %ld", o->name, size, r, z->nonzero,
			       z->len, z->first);
		/* Every third segment stays attached (0xa5) while removed and replaced. */
		if (held != -1) {
			T_OK(o->dt(held_addr));
			T_FILE(o, held, 0, "removed while attached, then detached");
			held = -1;
		}
		if (r % 3 == 0) {
			held_addr = o->at(id, NULL, 0);
			if (held_addr != SHM_FAILED) {
				held = id;
				T_EQ((unsigned char)held_addr[0], 0xa5);
			}
		}
		seg_rm(o, id);
		if (held != id)
			T_FILE(o, id, 0, "removed with nattch 0");
	}
	if (held != -1)
		T_OK(o->dt(held_addr));
}

int main(void)
{
	shm_setup(200);
	t_rng = (uint64_t)getpid() * 1000003u ^ (uint64_t)time(NULL);
	fprintf(stderr, "seed %llu\n", (unsigned long long)t_rng);
	S = shared_alloc(8192);
	const struct shm_impl *impls[2] = { &SHM_K, &SHM_S };
	for (int k = shm_kernel_ok ? 0 : 1; k < 2; k++) {
		const struct shm_impl *o = impls[k];
		int before = t_failures;
		int64_t t0 = now_ms();
		rmid_attached(o);
		rmid_last_dies(o, DIE_KILL, 0);
		rmid_last_dies(o, DIE_KILL, 1);
		rmid_last_dies(o, DIE__EXIT, 0);
		rmid_last_dies(o, DIE__EXIT, 1);
		rmid_last_dies(o, EXIT_OWN, 0);
		rmid_last_dies(o, EXIT_INHERITED, 0);
		rmid_unattached(o);
		rmid_fork_race(o);
		rmid_attach_race(o);
		zero_fill(o);
		fprintf(stderr, "%s: %lld ms, %d failure(s)\n", o->name, (long long)(now_ms() - t0),
			t_failures - before);
	}
	int left = count_shm_files();
	if (left != 0)
		T_FAIL("[svipc] %d shm.* file(s) left in the namespace directory at the end", left);
	return t_done();
}

/*
 * test_perm_matrix.c - every class of the mode bits, on every object type
 * and operation, against the kernel.
 *
 * The same scenarios run twice (oracle.h): once against the kernel, in a
 * fresh IPC namespace of their own (unshare(CLONE_NEWIPC), with the test
 * namespace's msg/shm/sem limits copied in), once against svipc, in a fresh
 * namespace directory. Each records one line per call (the call and its
 * result: "0", a label, or "-1 EACCES"); the two transcripts must be equal.
 *
 * The object: created by a child running as uid 4000/gid 4001 (so cuid
 * 4000, cgid 4001), then given to uid 1000/gid 1001 by root (IPC_SET). Then
 * for each mode of a list covering each class's r and w bits alone and in
 * the combinations that show class precedence (0066: the owner gets
 * nothing although group and others get rw; 0606: the group gets nothing),
 * root sets the mode and a child per credential profile makes every call:
 *
 *   owner (uid 1000), creator (uid 4000), group by egid (1001), group by a
 *   supplementary group, creator's group by egid (4001) and by a
 *   supplementary group, other (65534/65534, no groups), other with
 *   unrelated supplementary groups, root without CAP_IPC_OWNER, root
 *   without CAP_SYS_ADMIN, root without CAP_IPC_OWNER, CAP_SYS_ADMIN and
 *   CAP_IPC_LOCK, full root (capabilities dropped with capset).
 *
 * Calls: msgget/semget/shmget of the key asking for r, w or nothing;
 * msgsnd (w), msgrcv of a present and an absent type (r), IPC_STAT,
 * MSG_STAT/SEM_STAT/SHM_STAT (r) and *_STAT_ANY (nothing), IPC_SET of the
 * same values (owner, creator or CAP_SYS_ADMIN), msg_qbytes raised above
 * msgmnb (CAP_SYS_RESOURCE); semop alter (w) and wait-for-zero (r),
 * GETVAL/GETALL/GETNCNT/GETZCNT/GETPID (r), SETVAL/SETALL (w); shmat
 * read-write (rw), SHM_RDONLY (r), SHM_RDONLY|SHM_EXEC (rx), SHM_LOCK and
 * SHM_UNLOCK (owner, creator or CAP_IPC_LOCK). Scenario "rmid": IPC_RMID
 * of each type by each profile. Scenario "owner": IPC_SET's ownership
 * rules (the owner gives the object away and loses it, the creator takes
 * it back, uid -1 is EINVAL for the owner and EPERM for others, only the
 * 0777 bits of the mode are kept).
 *
 * svipc reads credentials at the first call, after fork and at each *get;
 * the children call svipc_refresh_credentials() after switching.
 *
 * Root only (switching uid, unshare); otherwise exit 77.
 * Usage: test_perm_matrix [scenario...]; SVIPC_ORACLE_VERBOSE=1 prints the
 * kernel's transcripts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"

#define TLINES 3000
#define ORACLE_NIDS 64
#define ORACLE_NAME_WIDTH 10
#include "oracle.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif

#define OWNER_UID 1000
#define OWNER_GID 1001
#define CREATOR_UID 4000
#define CREATOR_GID 4001

struct profile {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[3];
	uint64_t drop; /* capabilities taken from root */
};

#define CAPB(c) (1ull << (c))
static const struct profile profiles[] = {
	{ "owner", OWNER_UID, 2000, 0, { 0 }, 0 },
	{ "creator", CREATOR_UID, 2000, 0, { 0 }, 0 },
	{ "group", 3000, OWNER_GID, 0, { 0 }, 0 },
	{ "suppl-group", 3000, 2000, 1, { OWNER_GID }, 0 },
	{ "creator-group", 3000, CREATOR_GID, 0, { 0 }, 0 },
	{ "suppl-cgroup", 3000, 2000, 2, { 2001, CREATOR_GID }, 0 },
	{ "other", 65534, 65534, 0, { 0 }, 0 },
	{ "other+groups", 65534, 65534, 2, { 2000, 3000 }, 0 },
	{ "root-IPC_OWNER", 0, 0, 0, { 0 }, CAPB(CAP_IPC_OWNER) },
	{ "root-SYS_ADMIN", 0, 0, 0, { 0 }, CAPB(CAP_SYS_ADMIN) },
	{ "root-3caps", 0, 0, 0, { 0 }, CAPB(CAP_IPC_OWNER) | CAPB(CAP_SYS_ADMIN) | CAPB(CAP_IPC_LOCK) },
	{ "root", 0, 0, 0, { 0 }, 0 },
};
#define NPROF (int)(sizeof profiles / sizeof profiles[0])

static const int modes[] = { 0000, 0400, 0200, 0600, 0040, 0020, 0004, 0002, 0066, 0606, 0660, 0777 };
#define NMODES (int)(sizeof modes / sizeof modes[0])

/* What the runner and its children share besides oracle.h's. */
struct shared {
	int id;
	long msgmnb;
};
static struct shared *sh;

static const struct t_ipc KI = T_KERNEL_IPC, SI = T_SVIPC_IPC;

enum { T_MSG, T_SEM, T_SHM };

/* ------------------------------------------------- what oracle.h asks of us */

static void ipc_rm(int kernel, int id)
{
	const struct t_ipc *A = kernel ? &KI : &SI;
	if (kernel)
		return; /* the kernel's objects die with the runner's IPC namespace */
	A->msgctl(id, IPC_RMID, NULL);
}

static int kernel_key_unused(key_t k)
{
	(void)k;
	return 1; /* every kernel side runs in a fresh IPC namespace */
}

static void rec_killed(const char *what, int child, int sig)
{
	rec("%s%s by %s", pre(what), child ? "child killed" : "RUNNER KILLED",
	    sig == SIGALRM ? "SIGALRM (hung)" : sigabbrev_np(sig));
}

/* ------------------------------------------------------------ credentials */

static int drop_caps(uint64_t drop)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &hdr, d) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t m = (uint32_t)(drop >> (32 * i));
		d[i].effective &= ~m;
		d[i].permitted &= ~m;
		d[i].inheritable &= ~m;
	}
	return (int)syscall(SYS_capset, &hdr, d);
}

/* Becomes profile p; 0 or -1. */
static int become(const struct profile *p)
{
	if (setgroups((size_t)p->ngroups, p->groups) != 0)
		return -1;
	if (setresgid(p->gid, p->gid, p->gid) != 0 || setresuid(p->uid, p->uid, p->uid) != 0)
		return -1;
	if (p->drop && drop_caps(p->drop) != 0)
		return -1;
	svipc_refresh_credentials();
	return 0;
}

/* Runs fn(A, arg) in a child as profile p; waits for it. */
static void as(const struct profile *p, const struct t_ipc *A, void (*fn)(const struct t_ipc *, void *),
	       void *arg)
{
	pid_t c = oracle_fork(10);
	if (c == 0) {
		if (become(p) != 0) {
			rec("%s: cannot switch credentials: %s", p->name, strerror(errno));
			_exit(1);
		}
		fn(A, arg);
		_exit(0);
	}
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rec("%s: child %s %d", p->name, WIFEXITED(st) ? "exited" : "killed by",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ------------------------------------------------------------ recording */

static const char *g_who; /* "profile mode" prefix of every line */

#define R(label, expr)                                                               \
	do {                                                                         \
		errno = 0;                                                           \
		long long r_ = (long long)(expr);                                    \
		rec("%s: %s = %s", g_who, label, rv(r_, errno));                     \
	} while (0)

/* A call that returns an id (the *_STAT ones): labelled. */
#define RID(label, expr, letter)                                                     \
	do {                                                                         \
		errno = 0;                                                           \
		int r_ = (expr);                                                     \
		int e_ = errno;                                                      \
		rec("%s: %s = %s", g_who, label, r_ < 0 ? rv(-1, e_) : id_label(r_, letter)); \
	} while (0)

/* A call whose positive result varies (a pid): "pid" or the error. */
#define RPOS(label, expr)                                                            \
	do {                                                                         \
		errno = 0;                                                           \
		long long r_ = (long long)(expr);                                    \
		rec("%s: %s = %s", g_who, label, r_ > 0 ? "positive" : rv(r_, errno)); \
	} while (0)

struct mb {
	long type;
	char text[16];
};

/* ---------------------------------------------------------------- objects */

static int g_type;

/* As the creator: makes the object with key K0. */
static void create_obj(const struct t_ipc *A, void *arg)
{
	(void)arg;
	int id = -1;
	errno = 0;
	if (g_type == T_MSG)
		id = A->msgget(osh->key[0], IPC_CREAT | IPC_EXCL | 0600);
	else if (g_type == T_SEM)
		id = A->semget(osh->key[0], 2, IPC_CREAT | IPC_EXCL | 0600);
	else
		id = A->shmget(osh->key[0], 4096, IPC_CREAT | IPC_EXCL | 0600);
	rec("creator: get = %s", id < 0 ? rv(-1, errno) : id_label(id, 'o'));
	sh->id = id;
}

/* As root: uid, gid and mode of the object (and msg_qbytes back to msgmnb). */
static void root_set(const struct t_ipc *A, int id, uid_t uid, gid_t gid, int mode)
{
	int r;
	errno = 0;
	if (g_type == T_MSG) {
		struct msqid_ds d;
		r = A->msgctl(id, IPC_STAT, &d);
		d.msg_perm.uid = uid, d.msg_perm.gid = gid, d.msg_perm.mode = (unsigned short)mode;
		d.msg_qbytes = (msglen_t)sh->msgmnb;
		r = r ? r : A->msgctl(id, IPC_SET, &d);
	} else if (g_type == T_SEM) {
		struct semid_ds d;
		r = A->semctl(id, 0, IPC_STAT, (union t_semun){ .buf = &d });
		d.sem_perm.uid = uid, d.sem_perm.gid = gid, d.sem_perm.mode = (unsigned short)mode;
		r = r ? r : A->semctl(id, 0, IPC_SET, (union t_semun){ .buf = &d });
	} else {
		struct shmid_ds d;
		r = A->shmctl(id, IPC_STAT, &d);
		d.shm_perm.uid = uid, d.shm_perm.gid = gid, d.shm_perm.mode = (unsigned short)mode;
		r = r ? r : A->shmctl(id, IPC_SET, &d);
	}
	rec("root: set uid %d gid %d mode %04o = %s", (int)uid, (int)gid, mode, rv(r, errno));
}

static int root_rmid(const struct t_ipc *A, int id)
{
	if (g_type == T_MSG)
		return A->msgctl(id, IPC_RMID, NULL);
	if (g_type == T_SEM)
		return A->semctl(id, 0, IPC_RMID);
	return A->shmctl(id, IPC_RMID, NULL);
}

/* A fresh object owned by 1000/1001, created by 4000/4001, with `mode`. */
static int new_obj(const struct t_ipc *A, int mode)
{
	as(&(struct profile){ "creator", CREATOR_UID, CREATOR_GID, 0, { 0 }, 0 }, A, create_obj, NULL);
	if (sh->id >= 0)
		root_set(A, sh->id, OWNER_UID, OWNER_GID, mode);
	return sh->id;
}

/* ------------------------------------------------------------- the calls */

static int g_mode;

static void msg_calls(const struct t_ipc *A, void *arg)
{
	int q = *(int *)arg;
	struct mb m = { 5, "x" };
	struct msqid_ds d;
	RID("msgget 0", A->msgget(osh->key[0], 0), 'o');
	RID("msgget r", A->msgget(osh->key[0], 0400), 'o');
	RID("msgget w", A->msgget(osh->key[0], 0200), 'o');
	RID("msgget rw", A->msgget(osh->key[0], 0666), 'o');
	R("msgsnd", A->msgsnd(q, &m, 1, IPC_NOWAIT));
	R("msgrcv present", A->msgrcv(q, &m, sizeof m.text, 5, IPC_NOWAIT));
	R("msgrcv absent", A->msgrcv(q, &m, sizeof m.text, 99, IPC_NOWAIT));
	R("IPC_STAT", A->msgctl(q, IPC_STAT, &d));
	RID("MSG_STAT", A->msgctl(0, MSG_STAT, &d), 'o');
	RID("MSG_STAT_ANY", A->msgctl(0, MSG_STAT_ANY, &d), 'o');
	memset(&d, 0, sizeof d);
	d.msg_perm.uid = OWNER_UID, d.msg_perm.gid = OWNER_GID, d.msg_perm.mode = (unsigned short)g_mode;
	d.msg_qbytes = (msglen_t)sh->msgmnb;
	R("IPC_SET same", A->msgctl(q, IPC_SET, &d));
	d.msg_qbytes = (msglen_t)sh->msgmnb + 1;
	R("IPC_SET qbytes > msgmnb", A->msgctl(q, IPC_SET, &d));
}

static void sem_calls(const struct t_ipc *A, void *arg)
{
	int s = *(int *)arg;
	struct semid_ds d;
	unsigned short v[2] = { 0, 0 };
	RID("semget 0", A->semget(osh->key[0], 0, 0), 'o');
	RID("semget r", A->semget(osh->key[0], 0, 0400), 'o');
	RID("semget w", A->semget(osh->key[0], 0, 0200), 'o');
	R("semop +1", A->semop(s, (struct sembuf[]){ { 0, 1, IPC_NOWAIT } }, 1));
	R("semop -1", A->semop(s, (struct sembuf[]){ { 0, -1, IPC_NOWAIT } }, 1));
	R("semop zero", A->semop(s, (struct sembuf[]){ { 1, 0, IPC_NOWAIT } }, 1));
	R("semop zero+alter", A->semop(s, (struct sembuf[]){ { 1, 0, IPC_NOWAIT }, { 0, 0, 0 } }, 2));
	R("GETVAL", A->semctl(s, 0, GETVAL));
	R("GETALL", A->semctl(s, 0, GETALL, (union t_semun){ .array = v }));
	R("GETNCNT", A->semctl(s, 0, GETNCNT));
	R("GETZCNT", A->semctl(s, 0, GETZCNT));
	RPOS("GETPID", A->semctl(s, 0, GETPID));
	R("SETVAL", A->semctl(s, 1, SETVAL, (union t_semun){ .val = 0 }));
	R("SETALL", A->semctl(s, 0, SETALL, (union t_semun){ .array = v }));
	R("IPC_STAT", A->semctl(s, 0, IPC_STAT, (union t_semun){ .buf = &d }));
	RID("SEM_STAT", A->semctl(0, 0, SEM_STAT, (union t_semun){ .buf = &d }), 'o');
	RID("SEM_STAT_ANY", A->semctl(0, 0, SEM_STAT_ANY, (union t_semun){ .buf = &d }), 'o');
	memset(&d, 0, sizeof d);
	d.sem_perm.uid = OWNER_UID, d.sem_perm.gid = OWNER_GID, d.sem_perm.mode = (unsigned short)g_mode;
	R("IPC_SET same", A->semctl(s, 0, IPC_SET, (union t_semun){ .buf = &d }));
}

static void shm_calls(const struct t_ipc *A, void *arg)
{
	int m = *(int *)arg;
	struct shmid_ds d;
	RID("shmget 0", A->shmget(osh->key[0], 0, 0), 'o');
	RID("shmget r", A->shmget(osh->key[0], 0, 0400), 'o');
	RID("shmget w", A->shmget(osh->key[0], 0, 0200), 'o');
	static const struct { const char *name; int flg; } at[] = {
		{ "shmat rw", 0 }, { "shmat RDONLY", SHM_RDONLY }, { "shmat RDONLY|EXEC", SHM_RDONLY | SHM_EXEC },
		{ "shmat rw|EXEC", SHM_EXEC } };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		errno = 0;
		void *p = A->shmat(m, NULL, at[i].flg);
		rec("%s: %s = %s", g_who, at[i].name, p == (void *)-1 ? rv(-1, errno) : "attached");
		if (p != (void *)-1)
			A->shmdt(p);
	}
	R("IPC_STAT", A->shmctl(m, IPC_STAT, &d));
	RID("SHM_STAT", A->shmctl(0, SHM_STAT, &d), 'o');
	RID("SHM_STAT_ANY", A->shmctl(0, SHM_STAT_ANY, &d), 'o');
	memset(&d, 0, sizeof d);
	d.shm_perm.uid = OWNER_UID, d.shm_perm.gid = OWNER_GID, d.shm_perm.mode = (unsigned short)g_mode;
	R("IPC_SET same", A->shmctl(m, IPC_SET, &d));
	R("SHM_LOCK", A->shmctl(m, SHM_LOCK, NULL));
	R("SHM_UNLOCK", A->shmctl(m, SHM_UNLOCK, NULL));
}

static void (*const calls[3])(const struct t_ipc *, void *) = { msg_calls, sem_calls, shm_calls };

/* --------------------------------------------------------------- scenarios */

static void matrix(const struct t_ipc *A, int type)
{
	char who[64];
	g_type = type;
	int id = new_obj(A, 0600);
	if (id < 0)
		return;
	for (int mi = 0; mi < NMODES; mi++) {
		g_mode = modes[mi];
		g_who = "root";
		root_set(A, id, OWNER_UID, OWNER_GID, g_mode);
		for (int pi = 0; pi < NPROF; pi++) {
			snprintf(who, sizeof who, "%s %04o", profiles[pi].name, g_mode);
			g_who = who;
			as(&profiles[pi], A, calls[type], &id);
		}
	}
	errno = 0;
	int r = root_rmid(A, id);
	rec("root: IPC_RMID = %s", rv(r, errno));
}

static void sc_msg(const struct t_ipc *A) { matrix(A, T_MSG); }
static void sc_sem(const struct t_ipc *A) { matrix(A, T_SEM); }
static void sc_shm(const struct t_ipc *A) { matrix(A, T_SHM); }

static void rmid_call(const struct t_ipc *A, void *arg)
{
	int id = *(int *)arg;
	R("IPC_RMID", root_rmid(A, id));
}

static void sc_rmid(const struct t_ipc *A)
{
	char who[64];
	static const char *tn[] = { "msg", "sem", "shm" };
	for (int t = 0; t < 3; t++) {
		g_type = t;
		for (int pi = 0; pi < NPROF; pi++) {
			g_who = "root";
			int id = new_obj(A, 0666);
			if (id < 0)
				continue;
			snprintf(who, sizeof who, "%s %s", tn[t], profiles[pi].name);
			g_who = who;
			as(&profiles[pi], A, rmid_call, &id);
			errno = 0;
			int r = root_rmid(A, id);
			rec("root: IPC_RMID after = %s", rv(r, errno));
		}
	}
}

/* IPC_SET by the calling profile: uid, gid, mode given. */
struct setarg {
	int id;
	uid_t uid;
	gid_t gid;
	int mode;
};

static void set_call(const struct t_ipc *A, void *arg)
{
	struct setarg *s = arg;
	char label[64];
	snprintf(label, sizeof label, "IPC_SET uid %d gid %d mode %o", (int)s->uid, (int)s->gid, s->mode);
	errno = 0;
	int r;
	if (g_type == T_MSG) {
		struct msqid_ds d;
		memset(&d, 0, sizeof d);
		d.msg_perm.uid = s->uid, d.msg_perm.gid = s->gid, d.msg_perm.mode = (unsigned short)s->mode;
		d.msg_qbytes = (msglen_t)sh->msgmnb;
		errno = 0;
		r = A->msgctl(s->id, IPC_SET, &d);
	} else if (g_type == T_SEM) {
		struct semid_ds d;
		memset(&d, 0, sizeof d);
		d.sem_perm.uid = s->uid, d.sem_perm.gid = s->gid, d.sem_perm.mode = (unsigned short)s->mode;
		r = A->semctl(s->id, 0, IPC_SET, (union t_semun){ .buf = &d });
	} else {
		struct shmid_ds d;
		memset(&d, 0, sizeof d);
		d.shm_perm.uid = s->uid, d.shm_perm.gid = s->gid, d.shm_perm.mode = (unsigned short)s->mode;
		r = A->shmctl(s->id, IPC_SET, &d);
	}
	rec("%s: %s = %s", g_who, label, rv(r, errno));
}

static void stat_perm(const struct t_ipc *A, int id)
{
	struct ipc_perm p;
	int r;
	errno = 0;
	if (g_type == T_MSG) {
		struct msqid_ds d;
		r = A->msgctl(id, IPC_STAT, &d);
		p = d.msg_perm;
	} else if (g_type == T_SEM) {
		struct semid_ds d;
		r = A->semctl(id, 0, IPC_STAT, (union t_semun){ .buf = &d });
		p = d.sem_perm;
	} else {
		struct shmid_ds d;
		r = A->shmctl(id, IPC_STAT, &d);
		p = d.shm_perm;
	}
	if (r != 0)
		rec("root: IPC_STAT = %s", rv(r, errno));
	else
		rec("root: IPC_STAT uid %d gid %d cuid %d cgid %d mode %04o", (int)p.uid, (int)p.gid,
		    (int)p.cuid, (int)p.cgid, p.mode & 0777);
}

static void sc_owner(const struct t_ipc *A)
{
	static const char *tn[] = { "msg", "sem", "shm" };
	char who[64];
	const struct profile *owner = &profiles[0], *creator = &profiles[1], *group = &profiles[2],
			     *other = &profiles[6], *noadmin = &profiles[9];
	for (int t = 0; t < 3; t++) {
		g_type = t;
		g_who = "root";
		int id = new_obj(A, 0660);
		if (id < 0)
			continue;
		struct setarg s = { id, 5000, 5001, 0640 };
		struct { const struct profile *p; struct setarg s; } steps[] = {
			{ group, { id, 3000, 3001, 0666 } },
			{ other, { id, 65534, 65534, 0666 } },
			{ noadmin, { id, 0, 0, 0666 } },
			{ owner, { id, (uid_t)-1, OWNER_GID, 0660 } },
			{ owner, { id, OWNER_UID, (gid_t)-1, 0660 } },
			{ other, { id, (uid_t)-1, OWNER_GID, 0660 } },
			{ owner, s },                               /* gives it away */
			{ owner, { id, OWNER_UID, OWNER_GID, 0660 } }, /* no longer its owner */
			{ creator, { id, OWNER_UID, 2000, 07777 } },  /* takes it back; 0777 bits kept */
			{ owner, { id, OWNER_UID, OWNER_GID, 0604 } },
			{ creator, { id, 7000, 7001, 0600 } },
			{ noadmin, { id, 0, 0, 0600 } },
		};
		for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
			snprintf(who, sizeof who, "%s %s", tn[t], steps[i].p->name);
			g_who = who;
			as(steps[i].p, A, set_call, &steps[i].s);
			g_who = "root";
			stat_perm(A, id);
		}
		errno = 0;
		int r = root_rmid(A, id);
		rec("root: IPC_RMID = %s", rv(r, errno));
	}
}

struct scenario {
	const char *name;
	void (*fn)(const struct t_ipc *);
	unsigned secs;
};

static const struct scenario scenarios[] = {
	{ "msg", sc_msg, 60 }, { "sem", sc_sem, 60 }, { "shm", sc_shm, 60 },
	{ "rmid", sc_rmid, 30 }, { "owner", sc_owner, 30 },
};
static const struct scenario *g_sc;

/* The limits a fresh IPC namespace gets are the defaults: copy ours in. */
static const char *const limit_files[] = { "msgmax", "msgmnb", "msgmni", "shmmax",
					   "shmall", "shmmni", "sem" };
static char g_limits[7][128];

static int private_ipc_ns(void)
{
	if (unshare(CLONE_NEWIPC) != 0)
		return -1;
	for (int i = 0; i < 7; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/sys/kernel/%s", limit_files[i]);
		FILE *f = fopen(p, "w");
		if (!f || fputs(g_limits[i], f) < 0 || fclose(f) != 0)
			return -1;
	}
	return 0;
}

static void side(int kernel)
{
	if (kernel && private_ipc_ns() != 0) {
		rec("RUNNER: no private IPC namespace: %s", strerror(errno));
		return;
	}
	if (!kernel) {
		char dir[sizeof t_dir + 64];
		snprintf(dir, sizeof dir, "%s/%s", t_dir, g_sc->name);
		setenv("SVIPC_DIR", dir, 1);
	}
	g_sc->fn(kernel ? &KI : &SI);
}

static int wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		printf("test_perm_matrix needs root (uid switching, a fresh IPC namespace): skipped\n");
		return 77;
	}
	t_setup(280);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || oracle_init() != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (int i = 0; i < 7; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/sys/kernel/%s", limit_files[i]);
		FILE *f = fopen(p, "r");
		if (!f || !fgets(g_limits[i], sizeof g_limits[i], f)) {
			fprintf(stderr, "cannot read %s\n", p);
			return 1;
		}
		fclose(f);
	}
	sh->msgmnb = atol(g_limits[1]);
	{
		fflush(NULL);
		pid_t p = fork();
		if (p == 0) {
			alarm(5);
			_exit(private_ipc_ns() == 0 && msgget(IPC_PRIVATE, 0600) >= 0 ? 0 : 1);
		}
		int st;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("no fresh IPC namespace (unshare(CLONE_NEWIPC)) or no System V IPC: skipped\n");
			return 77;
		}
	}
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	printf("RLIMIT_MEMLOCK %llu\n", (unsigned long long)rl.rlim_cur);
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		if (!wanted(scenarios[i].name, argc, argv))
			continue;
		g_sc = &scenarios[i];
		run_sides(side, 0x9e000000u, scenarios[i].secs);
		compare_diff(scenarios[i].name);
	}
	return oracle_done();
}

/*
 * svipcadm: limits shown and set; check finds what is wrong (dead lock
 * holders, damaged counters, a truncated segment, a dead namespace lock
 * holder, a key index that disagrees with the key table) and --repair
 * recovers what a dead holder left and rebuilds the index; purge frees
 * what nobody can reach and nothing else; errors are plain and exit 2.
 */
#include "t.h"
#include "dead_holder.h"
#include "tool_run.h"

#include <sys/mman.h>

#include "inspect.h"
#include "internal.h"
#include "msg.h"
#include "ns.h"
#include "proc.h"
#include "sem.h"
#include "shm.h"

static char out[16384], err[4096];

static int adm(const char *const *args)
{
	return tool_run_buf(SVIPCADM, args, out, sizeof out, err, sizeof err);
}

static int has(const char *text)
{
	return strstr(out, text) || strstr(err, text);
}

/* A semop that committed "semaphore 0 becomes 5" in the journal and died before applying it. */
static void sem_half_done(struct svipc_obj *o)
{
	struct sem_set *s = (struct sem_set *)o;
	struct sem_jent *j = (struct sem_jent *)((char *)s + s->off_journal);
	j[0] = (struct sem_jent){ .off = (uint32_t)s->off_sem, .width = 4, .val = 5 };
	STORE(&s->j_n, 1);
}

/* A receive that consumed a message and died before the counters caught up. */
static void msg_counters_stale(struct svipc_obj *o)
{
	struct msg_queue *q = (struct msg_queue *)o;
	q->qnum += 3;
}

/* An IPC_SET that committed its record and died before applying it. */
static void shm_set_pending(struct svipc_obj *o)
{
	struct shm_seg *s = (struct shm_seg *)o;
	s->set_uid = s->obj.perm.uid;
	s->set_gid = s->obj.perm.gid;
	s->set_mode = 0640;
	s->set_ctime = s->obj.ctime;
	STORE(&s->set_valid, 1);
}

static void test_clean_and_limits(void)
{
	T_EQ(adm((const char *[]){ "check", NULL }), 0);
	T_ASSERT(has("0 problems"));
	T_EQ(adm((const char *[]){ "limits", "msgmni=77", "semopm=64", NULL }), 0);
	struct svipc_limits l;
	T_OK(svipc_limits_get(&l));
	T_EQ(l.msgmni, 77);
	T_EQ(l.semopm, 64);
	T_EQ(adm((const char *[]){ "limits", NULL }), 0);
	T_ASSERT(strstr(out, "msgmni") && strstr(out, " 77 "));
	T_EQ(adm((const char *[]){ "limits", "msgmni=40000", NULL }), 2); /* above an id's index */
	T_EQ(adm((const char *[]){ "limits", "nosuch=1", NULL }), 2);
	T_ASSERT(has("unknown limit 'nosuch'"));
	T_EQ(adm((const char *[]){ "limits", "msgmax=-1", NULL }), 2);
	T_EQ(adm((const char *[]){ "limits", "msgmax", NULL }), 2);
	T_OK(svipc_limits_get(&l));
	T_EQ(l.msgmni, 77); /* refused settings changed nothing */
	/* Only root or the directory's owner may set limits. */
	if (geteuid() == 0) {
		T_OK(chmod(t_dir, 0755)); /* mkdtemp's 0700 would stop the stranger at the door */
		pid_t pid = fork();
		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(9);
			_exit(adm((const char *[]){ "limits", "msgmni=5", NULL }) == 2 &&
				      has("only root or the owner") ? 0 : 1);
		}
		int st;
		waitpid(pid, &st, 0);
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		T_OK(chmod(t_dir, 0700));
	}
	T_OK(svipc_limits_set(&(struct svipc_limits){ .msgmni = 32000, .semopm = 500 }));
}

static void test_dead_holders(void)
{
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	int m = T_OK(svipc_shmget(IPC_PRIVATE, 8192, 0600));
	int s = T_OK(svipc_semget(IPC_PRIVATE, 2, 0600));
	struct { long t; char c[8]; } msg = { 4, "abc" };
	for (int i = 0; i < 2; i++)
		T_OK(svipc_msgsnd(q, &msg, sizeof msg.c, 0));
	t_die_holding(SVIPC_MSG, q, msg_counters_stale);
	t_die_holding(SVIPC_SHM, m, shm_set_pending);
	t_die_holding(SVIPC_SEM, s, sem_half_done);

	/* Without --repair: reported, nothing written. */
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("3 problems"));
	char want[96];
	snprintf(want, sizeof want, "message queue %d: its lock is held by process", q);
	T_ASSERT(has(want));
	snprintf(want, sizeof want, "semaphore set %d: its lock is held by process", s);
	T_ASSERT(has(want));
	struct svipc_ref ref;
	T_OK(svipc__get(svipc__type_ops(SVIPC_SEM), s, &ref));
	T_EQ(((struct sem_set *)ref.obj)->j_n, 1);
	T_ASSERT(ref.obj->lock != 0);
	svipc__obj_put(&ref);

	/* --repair runs each type's recovery, then a second look finds nothing. */
	T_EQ(adm((const char *[]){ "check", "--repair", "-v", NULL }), 0);
	T_ASSERT(has("which died: recovering"));
	T_EQ(svipc_semctl(s, 0, GETVAL), 5); /* the committed semop was completed */
	struct msqid_ds ds;
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	T_EQ(ds.msg_qnum, 2); /* counters rebuilt from the messages */
	struct shmid_ds sds;
	T_OK(svipc_shmctl(m, IPC_STAT, &sds));
	T_EQ(sds.shm_perm.mode & 0777, 0640); /* the committed IPC_SET was applied */
	T_EQ(adm((const char *[]){ "check", NULL }), 0);

	/* Damage with no dead holder: found, and --repair rebuilds the queue from its messages. */
	T_OK(svipc__get(svipc__type_ops(SVIPC_MSG), q, &ref));
	((struct msg_queue *)ref.obj)->cbytes += 1;
	svipc__obj_put(&ref);
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("counters say 2 messages, 17 bytes"));
	T_EQ(adm((const char *[]){ "check", "--repair", NULL }), 0);
	T_ASSERT(has("after repair: 0 problems left"));
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	T_EQ(ds.msg_cbytes, 16);
	T_EQ(ds.msg_qnum, 2);

	/* Undo counters that disagree with the records. */
	struct sembuf up = { 1, 1, SEM_UNDO };
	T_OK(svipc_semop(s, &up, 1));
	T_OK(svipc__get(svipc__type_ops(SVIPC_SEM), s, &ref));
	struct sem_set *ss = (struct sem_set *)ref.obj;
	struct sem_val *vals = (struct sem_val *)((char *)ss + ss->off_sem);
	vals[1].nadj += 1;
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("semaphore 1: 1 undo records adjust it, the count says 2"));
	T_EQ(adm((const char *[]){ "check", "--repair", NULL }), 0);
	T_EQ(vals[1].nadj, 1);
	svipc__obj_put(&ref);

	/* A truncated segment file is found before an attacher meets SIGBUS. */
	char path[128];
	snprintf(path, sizeof path, "%s/shm.%d", t_dir, m);
	T_OK(truncate(path, 4096));
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	snprintf(want, sizeof want, "shared memory segment %d:", m);
	T_ASSERT(has(want));
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	svipc_shmctl(m, IPC_RMID, NULL);
}

/* A live holder that is stopped: reported within a bound, never waited for. */
static void test_stopped_holder(void)
{
	int s = T_OK(svipc_semget(IPC_PRIVATE, 1, 0600));
	int p[2];
	T_OK(pipe(p));
	pid_t pid = fork();
	if (pid == 0) {
		struct svipc_ref ref;
		if (svipc__get(svipc__type_ops(SVIPC_SEM), s, &ref) < 0)
			_exit(3);
		STORE(&ref.obj->lock, svipc__proc_token());
		(void)!write(p[1], "x", 1);
		raise(SIGSTOP);
		STORE(&ref.obj->lock, 0);
		_exit(0);
	}
	char c;
	T_EQ(read(p[0], &c, 1), 1);
	int64_t t0 = svipc__mono_ns();
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("held by live process"));
	T_ASSERT(svipc__mono_ns() - t0 < 10000000000LL);
	kill(pid, SIGCONT);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	T_EQ(adm((const char *[]){ "check", NULL }), 0);
	T_OK(svipc_semctl(s, 0, IPC_RMID));
}

/* Waiters and attachers that died: cleanups for the curious, not problems. */
static void test_dead_users_and_purge(void)
{
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	int m = T_OK(svipc_shmget(IPC_PRIVATE, 4096, 0600));
	int keep = T_OK(svipc_shmget(IPC_PRIVATE, 4096, 0600));
	int go[2];
	T_OK(pipe(go));
	pid_t pid = fork();
	if (pid == 0) {
		if (!svipc_shmat(m, NULL, 0) || !svipc_shmat(keep, NULL, 0))
			_exit(3);
		(void)!write(go[1], "x", 1);
		struct { long t; char c[8]; } b;
		svipc_msgrcv(q, &b, sizeof b.c, 0, 0); /* blocks until killed */
		_exit(0);
	}
	char c;
	T_EQ(read(go[0], &c, 1), 1);
	/* Wait until the receiver is registered as a waiter. */
	struct svipc_obj_info info;
	for (int i = 0; i < 2000; i++) {
		if (svipc__inspect(SVIPC_MSG, q, &info, NULL, NULL) == 0 && info.nwaiters == 1)
			break;
		usleep(1000);
	}
	T_EQ(info.nwaiters, 1);
	T_EQ(info.ds.msg.msg_perm.mode & 0777, 0600); /* IPC_STAT's fields, read without the lock */
	T_EQ(svipc__inspect(SVIPC_SHM, keep, &info, NULL, NULL), 0);
	T_EQ(info.ds.shm.shm_nattch, 1);
	T_EQ(info.ds.shm.shm_segsz, 4096);
	T_OK(svipc_shmctl(m, IPC_RMID, NULL)); /* lingers: still attached */
	T_EQ(adm((const char *[]){ "purge", "--dry-run", "-v", NULL }), 0);
	T_ASSERT(has("would purge 0 items"));
	T_ASSERT(has("still attached 1 time(s)"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(go[0]);
	close(go[1]);

	T_EQ(adm((const char *[]){ "check", "-v", NULL }), 0);
	T_ASSERT(has("died blocked"));
	T_ASSERT(has("ended without shmdt"));
	/* Leftovers a crash can leave in the directory, and a stranger's file. */
	char path[128];
	snprintf(path, sizeof path, "%s/msg.%d", t_dir, 12345 << SVIPC_IDX_BITS | 7);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/.tmp.%08x.1", t_dir, 0x7ffe0001u);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(path, sizeof path, "%s/notes.txt", t_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);

	T_EQ(adm((const char *[]){ "purge", "-n", NULL }), 0);
	T_ASSERT(has("would purge 3 items"));
	T_EQ(adm((const char *[]){ "purge", "-v", NULL }), 0);
	T_ASSERT(has("purged 3 items"));
	T_ASSERT(has("notes.txt: not an svipc file (left alone)"));
	T_EQ(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/shm.%d", t_dir, m);
	T_ERR(access(path, F_OK), ENOENT);
	/* What anyone can still reach stays. */
	struct shmid_ds sds;
	T_OK(svipc_shmctl(keep, IPC_STAT, &sds));
	T_EQ(sds.shm_nattch, 0);
	T_OK(svipc_msgctl(q, IPC_STAT, &(struct msqid_ds){ 0 }));
	T_EQ(adm((const char *[]){ "purge", NULL }), 0);
	T_ASSERT(has("purged 0 items"));
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_shmctl(keep, IPC_RMID, NULL));
}

static long long file_blocks(const char *type, int id)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s.%d", t_dir, type, id);
	return stat(path, &st) == 0 ? (long long)st.st_blocks : -1;
}

/*
 * Regressions from review: a check reads no hole of a sparse object file
 * (that would make every checked set use megabytes for good), and waiters
 * without stored operations (more than 64 at once with more than 8
 * operations each) are no problem.
 */
static void test_check_is_light_and_quiet(void)
{
	int s = T_OK(svipc_semget(IPC_PRIVATE, 9, 0600));
	int m = T_OK(svipc_shmget(IPC_PRIVATE, 4096, 0600));
	long long sb = file_blocks("sem", s), mb = file_blocks("shm", m);
	enum { NW = 70 };
	pid_t kids[NW];
	for (int i = 0; i < NW; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct sembuf ops[9];
			for (int k = 0; k < 9; k++)
				ops[k] = (struct sembuf){ (unsigned short)k, -1, 0 };
			svipc_semop(s, ops, 9); /* blocks: every value is 0 */
			_exit(0);
		}
	}
	int n = 0;
	for (int tries = 0; tries < 5000 && n < NW; tries++) {
		n = svipc_semctl(s, 0, GETNCNT);
		usleep(1000);
	}
	T_EQ(n, NW);
	T_EQ(adm((const char *[]){ "check", NULL }), 0);
	T_ASSERT(has("0 problems"));
	for (int i = 0; i < NW; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	s = T_OK(svipc_semget(IPC_PRIVATE, 9, 0600));
	sb = file_blocks("sem", s);
	T_EQ(adm((const char *[]){ "check", NULL }), 0);
	/* 64 KiB of slack: the check reads headers, not the empty slots above the marks. */
	T_ASSERT(file_blocks("sem", s) - sb <= 128);
	T_ASSERT(file_blocks("shm", m) - mb <= 128);
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	T_OK(svipc_shmctl(m, IPC_RMID, NULL));
}

/* The namespace's own lock, held by a process that died mid-creation. */
static void test_dead_ns_holder(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		char path[128];
		snprintf(path, sizeof path, "%s/ns", t_dir);
		int fd = open(path, O_RDWR);
		uint32_t *lock = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || lock == MAP_FAILED)
			_exit(3);
		STORE(&lock[2], svipc__proc_token()); /* ns_file: magic, version, lock */
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("the namespace lock is held by process"));
	T_EQ(adm((const char *[]){ "check", "--repair", "-v", NULL }), 0);
	T_ASSERT(has("which died: recovered"));
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600)); /* the namespace works again */
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
}

/*
 * The namespace's key index (ns.c, struct ns_index) disagreeing with the
 * key table: check reports it, --repair rebuilds it, lookups stay right.
 */
#define NS_V1_SIZE (144 + 3 * (16 + 16 * 32768))
#define NS_V2_SIZE (NS_V1_SIZE + 3 * (16 + 4 * 16384 + 2 * 32768))
#define IX_HEAD(h) (NS_V1_SIZE + 16 + 2 * (h)) /* the message queues' index */
#define IX_COUNT(h) (IX_HEAD(h) + 2 * 16384)

static void test_index_damage(void)
{
	key_t k = 0x1d0c0001;
	int q = T_OK(svipc_msgget(k, IPC_CREAT | 0600));
	char path[128];
	snprintf(path, sizeof path, "%s/ns", t_dir);
	int fd = open(path, O_RDWR);
	T_ASSERT(fd >= 0);
	uint8_t *ns = mmap(NULL, NS_V2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	T_ASSERT(ns != MAP_FAILED);
	uint16_t *head = (uint16_t *)(ns + IX_HEAD(svipc__ns_key_bucket(k)));
	uint16_t *count = (uint16_t *)(ns + IX_COUNT(svipc__ns_key_bucket(k)));
	uint16_t h = *head, c = *count;
	T_ASSERT(h != 0 && c == 1);
	for (int how = 0; how < 2; how++) {
		if (how == 0)
			*head = 0; /* the queue's key cut out */
		else
			*count = 3; /* a chain longer than it is */
		T_EQ(adm((const char *[]){ "check", NULL }), 1);
		T_ASSERT(has("message queue key index: disagrees with the table"));
		T_EQ(adm((const char *[]){ "check", "--repair", "-v", NULL }), 0);
		T_ASSERT(has("(rebuilt)"));
		T_EQ(*head, h);
		T_EQ(*count, c);
		T_EQ(adm((const char *[]){ "check", NULL }), 0);
		T_ASSERT(has("0 problems"));
	}
	T_EQ(svipc_msgget(k, 0600), q);
	munmap(ns, NS_V2_SIZE);
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
}

/* A damaged object can still be removed by its owner, as svipcadm check tells users to. */
static void test_remove_damaged(void)
{
	int q = T_OK(svipc_msgget(IPC_PRIVATE, 0600));
	int s = T_OK(svipc_semget(IPC_PRIVATE, 2, 0600));
	struct svipc_ref ref;
	T_OK(svipc__get(svipc__type_ops(SVIPC_MSG), q, &ref));
	STORE(&ref.obj->corrupt, 1);
	svipc__obj_put(&ref);
	T_OK(svipc__get(svipc__type_ops(SVIPC_SEM), s, &ref));
	STORE(&ref.obj->corrupt, 1);
	svipc__obj_put(&ref);
	T_ERR(svipc_msgctl(q, IPC_STAT, &(struct msqid_ds){ 0 }), EIDRM);
	T_ERR(svipc_semctl(s, 0, GETVAL), EIDRM);
	T_EQ(adm((const char *[]){ "check", NULL }), 1);
	T_ASSERT(has("remove it with svipcrm"));
	T_OK(svipc_msgctl(q, IPC_RMID, NULL));
	T_OK(svipc_semctl(s, 0, IPC_RMID));
	T_ERR(svipc_msgctl(q, IPC_STAT, &(struct msqid_ds){ 0 }), EINVAL);
	T_EQ(adm((const char *[]){ "check", NULL }), 0);
}

static void test_errors(void)
{
	T_EQ(adm((const char *[]){ NULL }), 2);
	T_ASSERT(has("no command"));
	T_EQ(adm((const char *[]){ "frob", NULL }), 2);
	T_ASSERT(has("unknown command 'frob'"));
	T_EQ(adm((const char *[]){ "purge", "--repair", NULL }), 2);
	T_EQ(adm((const char *[]){ "check", "extra", NULL }), 2);
	T_EQ(adm((const char *[]){ "--dir", "/nonexistent/svipc", "check", NULL }), 2);
	T_ASSERT(has("no svipc namespace at /nonexistent/svipc"));
	T_ERR(access("/nonexistent/svipc", F_OK), ENOENT); /* not created by looking */
	T_EQ(adm((const char *[]){ "--dir", "/etc/hostname", "check", NULL }), 2);
	T_ASSERT(has("is not a directory"));
	T_EQ(adm((const char *[]){ "--help", NULL }), 0);
	T_ASSERT(strstr(out, "--repair") && strstr(out, "--dry-run"));
	T_EQ(adm((const char *[]){ "--version", NULL }), 0);
	T_ASSERT(strstr(out, SVIPC_VERSION_STRING) != NULL);
}

int main(void)
{
	t_setup(120);
	T_OK(svipc_msgget(IPC_PRIVATE, 0600)); /* the namespace exists from here */
	test_clean_and_limits();
	test_dead_holders();
	test_stopped_holder();
	test_dead_users_and_purge();
	test_dead_ns_holder();
	test_check_is_light_and_quiet();
	test_remove_damaged();
	test_index_damage();
	test_errors();
	return t_done();
}

/*
 * test_hostile_ns.c - a namespace directory that someone else prepared.
 *
 * A namespace is a directory, so whoever can write it can put things where
 * svipc expects its files. Every case below runs svipc in forked children
 * (each bounded by alarm: a hang is a failure) in a directory of its own,
 * and checks that svipc answers with an error instead of crashing,
 * hanging, or writing anywhere outside the directory. "Victims" are files
 * and directories outside the namespace that a planted name points at:
 * their size, mode, owner, mtime and contents must not change.
 *
 * Part 1 (any user):
 *  - symlinks planted as ns, procs (pointing at a victim, or dangling): the
 *    call fails with ELOOP (O_NOFOLLOW), the victim is untouched, a
 *    dangling target is not created;
 *  - a symlink in place of an existing msg.<id>, sem.<id>, shm.<id>: every
 *    call on the object fails with EIDRM ("not a valid object", README:
 *    Differences, Permissions), msgget of its key too;
 *  - symlinks planted at the names of the next ids, before they are
 *    created: creation replaces them, the objects work, the victim is
 *    untouched;
 *  - symlinks named like temporary files (.tmp.<token>.<n>) of a dead
 *    creator, to a file and to a directory: purge removes the links only;
 *    a queue that grows into a new file (IPC_SET msg_qbytes, which goes
 *    through a temporary name) keeps its messages;
 *  - a FIFO, a directory, a socket and a character device (/dev/null's
 *    numbers) in place of ns, procs and each object file: no hang; ns and
 *    procs give EINVAL (EISDIR for a directory), objects give EIDRM;
 *  - a world-writable directory without the sticky bit: EACCES, nothing
 *    created in it (README: Namespaces); with the sticky bit: accepted;
 *  - an object file truncated under live users (to 0, and to its first
 *    page) while another process has it mapped (a "cached" user) and for a
 *    process that maps it afterwards (a "fresh" user): a fresh user always
 *    gets an error (EIDRM); a cached user touching metadata beyond the new
 *    end gets SIGBUS, which README documents ("A file truncated under a
 *    process that has it mapped can raise SIGBUS"); it is reported, not
 *    failed. An attached segment's data beyond the end: SIGBUS, documented
 *    (checked: README says so).
 *
 * Part 2 (root only; without root the test ends with 77 = skipped when part
 * 1 passed), with a child that switches to uid/gid 65534 as the "other
 * user":
 *  - files planted by the other user in a 1777 (sticky) namespace before
 *    root first uses it: a garbage ns (EINVAL), a procs or ns that is a
 *    hard link to a root-owned file outside the namespace that the other
 *    user may link (mode 0606: fs.protected_hardlinks allows it): root must
 *    not chmod, extend or write that file; a planted msg.<next id>: root's
 *    creation replaces it;
 *  - and the other way round: a file root planted at msg.<next id> must not
 *    make the other user's msgget(IPC_PRIVATE) fail with EEXIST (an errno
 *    the kernel never gives for IPC_PRIVATE; the sticky bit stops the
 *    library from removing root's file); root's procs with mode 0600: the
 *    other user gets EACCES;
 *  - a namespace directory owned by the other user (0755): root may use it
 *    (the caller chose it), but nothing outside the directory is written:
 *    an object file replaced by a symlink gives EIDRM, the victim is
 *    untouched;
 *  - SVIPC_DIR naming a symlink that the other user owns (in a directory
 *    the other user owns, or in a sticky 1777 one like /dev/shm, where
 *    fs.protected_symlinks=0 does not stop it), pointing at a root-owned
 *    directory: root must refuse it (EACCES, what fs.protected_symlinks
 *    gives) and create nothing in the victim directory. The safe rule
 *    chosen here: follow a symlink to the namespace only if it belongs to
 *    the caller or to root.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svipc.h"
#include "t.h"
#include "inspect.h"
#include "ns.h"

#ifndef SVIPC_README
#define SVIPC_README "README.md"
#endif

#define NOBODY 65534
#define CHILD_SECS 10

static char g_base[96];
static int g_root, g_notes;

/* What children hand back. */
struct shared {
	int id[8];
	volatile int ready, go;
	int r[32], e[32];
};
static struct shared *sh;

/* ---------------------------------------------------------------- helpers */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (g_base[0] && getpid() == t_owner_pid)
		nftw(g_base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void path(char *out, size_t n, const char *a, const char *b)
{
	snprintf(out, n, "%s/%s", a, b);
}

/* A fresh directory for one case, with `mode` (chmod: no umask). */
static const char *mkcase(const char *name, mode_t mode)
{
	static char d[8][PATH_MAX];
	static int i;
	char *p = d[i++ & 7];
	path(p, PATH_MAX, g_base, name);
	if (mkdir(p, 0700) != 0 || chmod(p, mode) != 0) {
		perror(p);
		exit(1);
	}
	return p;
}

/* A file outside any namespace, and what must stay true of it. */
struct victim {
	char path[PATH_MAX];
	struct stat st;
	char data[8192];
	size_t len;
};

static void victim_make(struct victim *v, const char *name, mode_t mode, size_t len)
{
	path(v->path, sizeof v->path, g_base, name);
	for (size_t i = 0; i < len; i++)
		v->data[i] = (char)('A' + i % 23);
	v->len = len;
	int fd = open(v->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, v->data, len) != (ssize_t)len || fchmod(fd, mode) != 0) {
		perror(v->path);
		exit(1);
	}
	close(fd);
	stat(v->path, &v->st);
}

/* The victim is unchanged: size, mode, owner, times, contents. */
static int victim_intact(const struct victim *v, const char *what)
{
	struct stat st;
	char buf[8192 + 1];
	int ok = 1;
	if (lstat(v->path, &st) != 0) {
		T_FAIL("[%s] victim %s: gone (%s)", what, v->path, strerror(errno));
		return 0;
	}
	if (st.st_size != v->st.st_size || st.st_mode != v->st.st_mode || st.st_uid != v->st.st_uid ||
	    st.st_gid != v->st.st_gid || st.st_mtim.tv_sec != v->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != v->st.st_mtim.tv_nsec) {
		T_FAIL("[%s] victim %s changed: size %lld -> %lld, mode %o -> %o, owner %d -> %d", what,
		       v->path, (long long)v->st.st_size, (long long)st.st_size, v->st.st_mode,
		       st.st_mode, (int)v->st.st_uid, (int)st.st_uid);
		ok = 0;
	}
	int fd = open(v->path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)v->len || memcmp(buf, v->data, v->len) != 0) {
		T_FAIL("[%s] victim %s: contents changed", what, v->path);
		ok = 0;
	}
	return ok;
}

/* Number of entries in a directory (without . and ..). */
static int dir_entries(const char *d)
{
	DIR *dd = opendir(d);
	int n = 0;
	struct dirent *e;
	if (!dd)
		return -1;
	while ((e = readdir(dd)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dd);
	return n;
}

static const char *become_nobody(void)
{
	if (setgroups(0, NULL) != 0)
		return "setgroups";
	if (setresgid(NOBODY, NOBODY, NOBODY) != 0)
		return "setresgid";
	if (setresuid(NOBODY, NOBODY, NOBODY) != 0)
		return "setresuid";
	return NULL;
}

/*
 * Runs fn in a child using namespace dir (NULL: leave SVIPC_DIR alone), as
 * uid 65534 if `nobody`. Returns the exit status, or 128 + signal. The
 * child's own failed checks make it exit 1.
 */
static int run(const char *what, const char *dir, int nobody, void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(1);
	}
	if (p == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(CHILD_SECS);
		t_failures = 0;
		if (dir)
			setenv("SVIPC_DIR", dir, 1);
		if (nobody) {
			const char *e = become_nobody();
			if (e) {
				fprintf(stderr, "[%s] %s failed: %s\n", what, e, strerror(errno));
				_exit(2);
			}
		}
		fn(arg);
		fflush(NULL);
		_exit(t_failures ? 1 : 0);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *status_name(int rc)
{
	static char b[64];
	if (rc < 128)
		snprintf(b, sizeof b, "exit %d", rc);
	else
		snprintf(b, sizeof b, "killed by SIG%s%s", sigabbrev_np(rc - 128),
			 rc - 128 == SIGALRM ? " (hung)" : "");
	return b;
}

/* A child that must end normally with its checks passed. */
static void must_pass(const char *what, const char *dir, int nobody, void (*fn)(void *), void *arg)
{
	int rc = run(what, dir, nobody, fn, arg);
	if (rc != 0)
		T_FAIL("[%s] child: %s", what, rc == 1 ? "checks failed (above)" : status_name(rc));
	else
		printf("  %-44s ok\n", what);
}

/* expr fails with errno err; prints what it gave otherwise. */
#define EXPECT_ERR(what, expr, err)                                                  \
	do {                                                                         \
		errno = 0;                                                           \
		long long r_ = (long long)(intptr_t)(expr);                          \
		int e_ = errno;                                                      \
		if (r_ != -1 || e_ != (err))                                         \
			T_FAIL("[%s] %s: got %lld %s, want -1 %s", (what), #expr, r_,  \
			       r_ == -1 ? strerrorname_np(e_) : "(success)",         \
			       strerrorname_np(err));                               \
	} while (0)

struct mb {
	long type;
	char text[64];
};

static key_t g_key = 0x4e570000;

/* ----------------------------------------------- children: the calls */

/* Every way in fails with `err`: the namespace is unusable. */
static void calls_fail(void *arg)
{
	int err = *(int *)arg;
	EXPECT_ERR("msgget", svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600), err);
	EXPECT_ERR("semget", svipc_semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), err);
	EXPECT_ERR("shmget", svipc_shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), err);
	EXPECT_ERR("msgget key", svipc_msgget(g_key, IPC_CREAT | 0600), err);
}

/* Makes a queue with 2 messages, a set with value 5, a segment with "hi". */
static void make_objects(void *arg)
{
	(void)arg;
	struct mb m = { 1, "one" };
	int q = (int)T_OK(svipc_msgget(g_key + 1, IPC_CREAT | 0666));
	T_OK(svipc_msgsnd(q, &m, 4, 0));
	m.type = 2;
	T_OK(svipc_msgsnd(q, &m, 4, 0));
	int s = (int)T_OK(svipc_semget(g_key + 2, 2, IPC_CREAT | 0666));
	T_OK(svipc_semctl(s, 0, SETVAL, 5));
	int m_ = (int)T_OK(svipc_shmget(g_key + 3, 4096, IPC_CREAT | 0666));
	char *p = svipc_shmat(m_, NULL, 0);
	T_ASSERT(p != (void *)-1);
	if (p != (void *)-1) {
		strcpy(p, "hi");
		svipc_shmdt(p);
	}
	sh->id[0] = q, sh->id[1] = s, sh->id[2] = m_;
}

/* Every call on the three objects fails with EIDRM. */
static void objects_invalid(void *arg)
{
	int which = *(int *)arg; /* 0 msg, 1 sem, 2 shm */
	struct mb m = { 1, "x" };
	int id = sh->id[which];
	if (which == 0) {
		EXPECT_ERR("msgsnd", svipc_msgsnd(id, &m, 2, IPC_NOWAIT), EIDRM);
		EXPECT_ERR("msgrcv", svipc_msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT), EIDRM);
		struct msqid_ds d;
		EXPECT_ERR("msgctl", svipc_msgctl(id, IPC_STAT, &d), EIDRM);
		EXPECT_ERR("msgget", svipc_msgget(g_key + 1, 0), EIDRM);
	} else if (which == 1) {
		struct sembuf op = { 0, 1, IPC_NOWAIT };
		EXPECT_ERR("semop", svipc_semop(id, &op, 1), EIDRM);
		EXPECT_ERR("semctl", svipc_semctl(id, 0, GETVAL), EIDRM);
		EXPECT_ERR("semget", svipc_semget(g_key + 2, 0, 0), EIDRM);
	} else {
		EXPECT_ERR("shmat", svipc_shmat(id, NULL, 0), EIDRM);
		struct shmid_ds d;
		EXPECT_ERR("shmctl", svipc_shmctl(id, IPC_STAT, &d), EIDRM);
		EXPECT_ERR("shmget", svipc_shmget(g_key + 3, 0, 0), EIDRM);
	}
}

static const char *type_name[3] = { "msg", "sem", "shm" };

static void obj_path(char *out, size_t n, const char *dir, int which)
{
	snprintf(out, n, "%s/%s.%d", dir, type_name[which], sh->id[which]);
}

/* --------------------------------------------------------- part 1 cases */

static void case_ns_procs_symlinks(void)
{
	static const char *names[] = { "ns", "procs" };
	for (int i = 0; i < 2; i++) {
		char what[64], link[PATH_MAX], dangling[PATH_MAX];
		struct victim v;
		snprintf(what, sizeof what, "%s: symlink to a victim", names[i]);
		char vname[32];
		snprintf(vname, sizeof vname, "victim-%s", names[i]);
		victim_make(&v, vname, 0644, 3000);
		const char *d = mkcase(names[i][0] == 'n' ? "ns-link" : "procs-link", 0700);
		path(link, sizeof link, d, names[i]);
		if (symlink(v.path, link) != 0)
			perror("symlink");
		int err = ELOOP;
		must_pass(what, d, 0, calls_fail, &err);
		victim_intact(&v, what);

		snprintf(what, sizeof what, "%s: dangling symlink", names[i]);
		d = mkcase(names[i][0] == 'n' ? "ns-dangling" : "procs-dangling", 0700);
		path(link, sizeof link, d, names[i]);
		snprintf(dangling, sizeof dangling, "%s/created-through-%s", g_base, names[i]);
		if (symlink(dangling, link) != 0)
			perror("symlink");
		must_pass(what, d, 0, calls_fail, &err);
		if (access(dangling, F_OK) == 0)
			T_FAIL("[%s] the symlink's target %s was created", what, dangling);
	}
}

static void case_object_symlinks(void)
{
	for (int t = 0; t < 3; t++) {
		char what[64], f[PATH_MAX], saved[PATH_MAX], vname[32];
		struct victim v;
		snprintf(vname, sizeof vname, "victim-obj-%d", t);
		victim_make(&v, vname, 0644, 5000);
		snprintf(what, sizeof what, "%s.<id> replaced by a symlink", type_name[t]);
		char cname[32];
		snprintf(cname, sizeof cname, "objlink-%d", t);
		const char *d = mkcase(cname, 0700);
		must_pass("  (make the objects)", d, 0, make_objects, NULL);
		obj_path(f, sizeof f, d, t);
		snprintf(saved, sizeof saved, "%s.saved", f);
		if (rename(f, saved) != 0 || symlink(v.path, f) != 0)
			perror("plant");
		int which = t;
		must_pass(what, d, 0, objects_invalid, &which);
		victim_intact(&v, what);
	}
}

/* Creates 3 objects of each type; they work. */
static void create_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		struct mb m = { 7, "seven" };
		int q = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
		T_OK(svipc_msgsnd(q, &m, 6, IPC_NOWAIT));
		T_EQ(svipc_msgrcv(q, &m, sizeof m.text, 7, IPC_NOWAIT), 6);
		int s = (int)T_OK(svipc_semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
		T_OK(svipc_semctl(s, 0, SETVAL, 3));
		T_EQ(svipc_semctl(s, 0, GETVAL), 3);
		int m_ = (int)T_OK(svipc_shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600));
		char *p = svipc_shmat(m_, NULL, 0);
		T_ASSERT(p != (void *)-1);
		if (p != (void *)-1) {
			p[8191] = 1;
			svipc_shmdt(p);
		}
	}
}

static void case_next_id_symlinks(void)
{
	struct victim v;
	victim_make(&v, "victim-next", 0644, 4000);
	const char *d = mkcase("next-ids", 0700);
	/* ids are seq << 15 | index: the first ones of a fresh namespace */
	for (int t = 0; t < 3; t++)
		for (int seq = 0; seq < 3; seq++)
			for (int idx = 0; idx < 4; idx++) {
				char f[PATH_MAX];
				snprintf(f, sizeof f, "%s/%s.%d", d, type_name[t], seq << 15 | idx);
				if (symlink(v.path, f) != 0)
					perror("symlink");
			}
	must_pass("symlinks at the next ids' names", d, 0, create_many, NULL);
	victim_intact(&v, "next ids");
}

/* Makes a queue with 3 messages, purges, then grows the queue into a new file. */
static void tmp_and_grow(void *arg)
{
	(void)arg;
	struct mb m = { 1, "abc" };
	int q = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	for (int i = 1; i <= 3; i++) {
		m.type = i;
		T_OK(svipc_msgsnd(q, &m, 4, IPC_NOWAIT));
	}
	struct svipc_report rep = { 0 };
	T_OK(svipc__ns_scrub(SVIPC_SCRUB_PURGE, &rep));
	struct svipc_limits l;
	T_OK(svipc_limits_get(&l));
	uint64_t want = l.msgmnb * 2;
	memset(&l, 0, sizeof l);
	l.msgmnb = want;
	T_OK(svipc_limits_set(&l));
	struct msqid_ds ds;
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	ds.msg_qbytes = want;
	T_OK(svipc_msgctl(q, IPC_SET, &ds));
	T_OK(svipc_msgctl(q, IPC_STAT, &ds));
	T_EQ(ds.msg_qbytes, want);
	for (int i = 1; i <= 3; i++) {
		T_EQ(svipc_msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT), 4);
		T_EQ(m.type, i);
	}
}

static void case_tmp_symlinks(void)
{
	struct victim v;
	char vd[PATH_MAX], vdf[PATH_MAX], l1[PATH_MAX], l2[PATH_MAX];
	victim_make(&v, "victim-tmp", 0644, 2000);
	path(vd, sizeof vd, g_base, "victim-tmpdir");
	path(vdf, sizeof vdf, vd, "keep");
	mkdir(vd, 0755);
	close(open(vdf, O_WRONLY | O_CREAT, 0644));
	const char *d = mkcase("tmp-links", 0700);
	path(l1, sizeof l1, d, ".tmp.00000001.1");
	path(l2, sizeof l2, d, ".tmp.0000ffff.2");
	if (symlink(v.path, l1) != 0 || symlink(vd, l2) != 0)
		perror("symlink");
	must_pass(".tmp.* symlinks, purge, queue growth", d, 0, tmp_and_grow, NULL);
	victim_intact(&v, ".tmp symlink");
	if (access(vdf, F_OK) != 0)
		T_FAIL("[.tmp symlink] a file in the victim directory was removed");
}

enum kind { K_FIFO, K_DIR, K_SOCK, K_CHR, K_NKINDS };
static const char *kind_name[] = { "FIFO", "directory", "socket", "char device" };

static int plant(const char *f, enum kind k)
{
	switch (k) {
	case K_FIFO:
		return mkfifo(f, 0666);
	case K_DIR:
		return mkdir(f, 0777);
	case K_CHR:
		return mknod(f, S_IFCHR | 0666, makedev(1, 3));
	case K_SOCK: {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(a.sun_path, sizeof a.sun_path, "%s", f);
		int r = s < 0 ? -1 : bind(s, (struct sockaddr *)&a, sizeof a);
		if (s >= 0)
			close(s);
		return r;
	}
	default:
		return -1;
	}
}

static void case_special_files(void)
{
	static const char *names[] = { "ns", "procs" };
	for (int k = 0; k < K_NKINDS; k++) {
		if (k == K_CHR && !g_root)
			continue; /* mknod of a device needs CAP_MKNOD */
		for (int i = 0; i < 2; i++) {
			char what[80], cname[48], f[PATH_MAX];
			snprintf(what, sizeof what, "%s in place of %s", kind_name[k], names[i]);
			snprintf(cname, sizeof cname, "special-%s-%d", names[i], k);
			const char *d = mkcase(cname, 0700);
			path(f, sizeof f, d, names[i]);
			if (plant(f, k) != 0) {
				printf("  %-44s not made (%s): skipped\n", what, strerror(errno));
				continue;
			}
			int err = k == K_DIR ? EISDIR : k == K_SOCK ? ENXIO : EINVAL;
			/* ns: a socket cannot be opened (ENXIO); procs is opened with O_CREAT */
			if (k == K_SOCK && i == 1)
				err = ENXIO;
			must_pass(what, d, 0, calls_fail, &err);
		}
		for (int t = 0; t < 3; t++) {
			char what[80], cname[48], f[PATH_MAX];
			snprintf(what, sizeof what, "%s in place of %s.<id>", kind_name[k], type_name[t]);
			snprintf(cname, sizeof cname, "special-obj-%d-%d", t, k);
			const char *d = mkcase(cname, 0700);
			must_pass("  (make the objects)", d, 0, make_objects, NULL);
			obj_path(f, sizeof f, d, t);
			unlink(f);
			if (plant(f, k) != 0) {
				printf("  %-44s not made (%s): skipped\n", what, strerror(errno));
				continue;
			}
			int which = t;
			must_pass(what, d, 0, objects_invalid, &which);
		}
	}
}

static void case_world_writable(void)
{
	const char *d = mkcase("ww-nosticky", 0777);
	int err = EACCES;
	must_pass("world-writable directory without sticky bit", d, 0, calls_fail, &err);
	if (dir_entries(d) != 0)
		T_FAIL("[world-writable] files were created in the refused directory");
	d = mkcase("ww-sticky", 01777);
	must_pass("world-writable directory with sticky bit", d, 0, create_many, NULL);
}

/* ------------------------------------------------------------ truncation */

/*
 * A user of one object, in its own process: maps it (a first call), says
 * ready, waits for go, then makes the object's calls. Records each call's
 * result in sh->r/e. Killed by SIGBUS if a call touches a truncated page.
 */
struct trunc_arg {
	int which;
	int wait; /* a cached user: map first, then wait */
	int attach; /* shm: attach the data and touch it after go */
};

static void trunc_user(void *arg)
{
	struct trunc_arg *a = arg;
	int id = sh->id[a->which];
	char *p = NULL;
	if (a->wait) {
		if (a->which == 0) {
			struct msqid_ds d;
			svipc_msgctl(id, IPC_STAT, &d);
		} else if (a->which == 1) {
			svipc_semctl(id, 0, GETVAL);
		} else {
			p = svipc_shmat(id, NULL, 0);
			if (!a->attach && p != (void *)-1)
				svipc_shmdt(p);
		}
		__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST))
			usleep(1000);
	}
	if (a->attach) {
		__atomic_store_n(&sh->r[0], -2, __ATOMIC_SEQ_CST);
		if (p && p != (void *)-1)
			p[0] = 'x'; /* the data page is gone: SIGBUS, documented */
		__atomic_store_n(&sh->r[0], 0, __ATOMIC_SEQ_CST);
		return;
	}
	int n = 0;
#define REC(expr)                                                                    \
	do {                                                                         \
		errno = 0;                                                           \
		sh->r[n] = -9;                                                       \
		long long r_ = (long long)(intptr_t)(expr);                          \
		sh->e[n] = errno;                                                    \
		sh->r[n] = r_ == -1 ? -1 : 0;                                        \
		n++;                                                                 \
	} while (0)
	if (a->which == 0) {
		struct mb m = { 1, "x" };
		struct msqid_ds d;
		REC(svipc_msgsnd(id, &m, 2, IPC_NOWAIT));
		REC(svipc_msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT));
		REC(svipc_msgctl(id, IPC_STAT, &d));
	} else if (a->which == 1) {
		struct sembuf op = { 0, 1, IPC_NOWAIT };
		REC(svipc_semop(id, &op, 1));
		REC(svipc_semctl(id, 0, GETVAL));
		REC(svipc_semctl(id, 0, SETVAL, 1));
	} else {
		struct shmid_ds d;
		void *q = NULL;
		REC(q = svipc_shmat(id, NULL, 0));
		if (q != (void *)-1)
			svipc_shmdt(q);
		REC(svipc_shmctl(id, IPC_STAT, &d));
	}
#undef REC
}

static const char *trunc_calls[3][3] = { { "msgsnd", "msgrcv", "IPC_STAT" },
					 { "semop", "GETVAL", "SETVAL" },
					 { "shmat", "IPC_STAT", NULL } };

/* What a trunc_user recorded: "msgsnd EIDRM, msgrcv EIDRM, ..." */
static const char *trunc_results(int which, int rc, int *bad)
{
	static char b[256];
	size_t o = 0;
	*bad = 0;
	for (int i = 0; i < 3 && trunc_calls[which][i]; i++) {
		if (sh->r[i] == -9) {
			o += (size_t)snprintf(b + o, sizeof b - o, "%s%s: %s", i ? ", " : "", trunc_calls[which][i],
					      status_name(rc));
			break;
		}
		o += (size_t)snprintf(b + o, sizeof b - o, "%s%s %s", i ? ", " : "", trunc_calls[which][i],
				      sh->r[i] == 0 ? "ok" : strerrorname_np(sh->e[i]));
		if (sh->r[i] == 0 || (sh->e[i] != EIDRM && sh->e[i] != EINVAL))
			*bad = 1;
	}
	return b;
}

static void case_truncation(void)
{
	static const long sizes[] = { 0, 4096 };
	for (int t = 0; t < 3; t++)
		for (int si = 0; si < 2; si++) {
			char cname[48], f[PATH_MAX], what[96];
			snprintf(cname, sizeof cname, "trunc-%d-%ld", t, sizes[si]);
			const char *d = mkcase(cname, 0700);
			must_pass("  (make the objects)", d, 0, make_objects, NULL);
			obj_path(f, sizeof f, d, t);
			/* a cached user: mapped before the truncation */
			memset(sh->r, -1, sizeof sh->r);
			sh->ready = sh->go = 0;
			struct trunc_arg a = { t, 1, 0 };
			fflush(NULL);
			pid_t p = fork();
			if (p == 0) {
				alarm(CHILD_SECS);
				setenv("SVIPC_DIR", d, 1);
				trunc_user(&a);
				_exit(0);
			}
			while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST))
				usleep(1000);
			if (truncate(f, sizes[si]) != 0)
				perror("truncate");
			__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
			int st, bad;
			waitpid(p, &st, 0);
			int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			snprintf(what, sizeof what, "%s.<id> truncated to %ld, cached user", type_name[t],
				 sizes[si]);
			const char *res = trunc_results(t, rc, &bad);
			if (rc == 128 + SIGBUS) {
				g_notes++;
				printf("  %-44s NOTE %s (documented: README, Differences)\n", what, res);
			} else if (rc != 0 || bad) {
				T_FAIL("[%s] %s", what, res);
			} else {
				printf("  %-44s ok: %s\n", what, res);
			}
			/* a fresh user: maps it after the truncation */
			memset(sh->r, -1, sizeof sh->r);
			a.wait = 0;
			snprintf(what, sizeof what, "%s.<id> truncated to %ld, fresh user", type_name[t],
				 sizes[si]);
			rc = run(what, d, 0, trunc_user, &a);
			res = trunc_results(t, rc, &bad);
			if (rc != 0 || bad)
				T_FAIL("[%s] %s", what, res);
			else
				printf("  %-44s ok: %s\n", what, res);
		}

	/* shm data attached by the application: SIGBUS, which README must say */
	const char *d = mkcase("trunc-shmdata", 0700);
	must_pass("  (make the objects)", d, 0, make_objects, NULL);
	char f[PATH_MAX];
	obj_path(f, sizeof f, d, 2);
	struct stat st0;
	stat(f, &st0);
	sh->ready = sh->go = 0;
	struct trunc_arg a = { 2, 1, 1 };
	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		alarm(CHILD_SECS);
		setenv("SVIPC_DIR", d, 1);
		trunc_user(&a);
		_exit(0);
	}
	while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST))
		usleep(1000);
	if (truncate(f, st0.st_size - 4096) != 0) /* the data page only */
		perror("truncate");
	__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
	int st;
	waitpid(p, &st, 0);
	int sigbus = WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
	FILE *rf = fopen(SVIPC_README, "r");
	char line[4096];
	int documented = 0;
	while (rf && fgets(line, sizeof line, rf))
		documented |= strstr(line, "truncated") && strstr(line, "SIGBUS") ? 1 : 0;
	if (rf)
		fclose(rf);
	printf("  %-44s %s; README documents it: %s\n", "shm data truncated under an attachment",
	       sigbus ? "SIGBUS" : "no SIGBUS", documented ? "yes" : "NO");
	if (sigbus && !documented)
		T_FAIL("[shm data] SIGBUS after truncation is not documented in %s", SVIPC_README);
	if (!sigbus && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		T_FAIL("[shm data] attached user: %s",
		       status_name(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
}

/* ----------------------------------------------------- part 2: root only */

static void plant_hardlink(void *arg)
{
	const char **ft = arg; /* { target, linkname } */
	if (link(ft[0], ft[1]) != 0) {
		printf("  (uid 65534 cannot link %s: %s)\n", ft[0], strerror(errno));
		_exit(3);
	}
}

static void plant_garbage(void *arg)
{
	const char *f = arg;
	int fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
	T_ASSERT(fd >= 0);
	if (fd >= 0) {
		T_EQ(write(fd, "garbage", 7), 7);
		close(fd);
	}
}

static void one_queue(void *arg)
{
	(void)arg;
	struct mb m = { 1, "q" };
	errno = 0;
	int q = svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	sh->r[0] = q, sh->e[0] = errno;
	if (q >= 0) {
		T_OK(svipc_msgsnd(q, &m, 2, IPC_NOWAIT));
		T_EQ(svipc_msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT), 2);
		sh->id[0] = q;
	}
}

static void case_planted_by_other(void)
{
	/* garbage ns by the other user, then root */
	const char *d = mkcase("other-ns-garbage", 01777);
	char f[PATH_MAX];
	path(f, sizeof f, d, "ns");
	must_pass("uid 65534 plants a garbage ns", d, 1, plant_garbage, f);
	int err = EINVAL;
	must_pass("  root uses it: EINVAL", d, 0, calls_fail, &err);

	/* hard links to a root-owned file the other user may link (0606) */
	static const char *names[] = { "procs", "ns" };
	for (int i = 0; i < 2; i++) {
		struct victim v;
		char vname[32], what[80], cname[32];
		snprintf(vname, sizeof vname, "victim-hl-%s", names[i]);
		victim_make(&v, vname, 0606, 100);
		snprintf(cname, sizeof cname, "other-hl-%s", names[i]);
		d = mkcase(cname, 01777);
		path(f, sizeof f, d, names[i]);
		const char *ft[2] = { v.path, f };
		int rc = run("plant hard link", d, 1, plant_hardlink, ft);
		snprintf(what, sizeof what, "%s: uid 65534's hard link to root's 0606 file", names[i]);
		if (rc != 0) {
			printf("  %-44s not made: skipped\n", what);
			continue;
		}
		memset(sh->r, 0, sizeof sh->r);
		rc = run(what, d, 0, one_queue, NULL);
		printf("  %-44s root's msgget: %s; %s\n", what,
		       sh->r[0] >= 0 ? "ok" : strerrorname_np(sh->e[0]), status_name(rc));
		if (rc != 0 && rc != 1)
			T_FAIL("[%s] root's child: %s", what, status_name(rc));
		victim_intact(&v, what);
	}

	/* the other user's file at the next id's name: root replaces it */
	d = mkcase("other-next-id", 01777);
	for (int idx = 0; idx < 4; idx++) {
		char ff[PATH_MAX];
		snprintf(ff, sizeof ff, "%s/msg.%d", d, 1 << 15 | idx);
		must_pass(idx ? "  (plant)" : "uid 65534 plants msg.<next ids>", d, 1, plant_garbage, ff);
	}
	must_pass("  root creates queues over them", d, 0, one_queue, NULL);

	/* root's files at the next ids' names: the other user's msgget(IPC_PRIVATE) */
	d = mkcase("root-next-id", 01777);
	for (int idx = 0; idx < 4; idx++) {
		char ff[PATH_MAX];
		snprintf(ff, sizeof ff, "%s/msg.%d", d, 1 << 15 | idx);
		close(open(ff, O_WRONLY | O_CREAT, 0644));
	}
	memset(sh->r, 0, sizeof sh->r);
	int rc = run("root planted msg.<next ids>", d, 1, one_queue, NULL);
	if (sh->r[0] < 0 && sh->e[0] == EEXIST)
		T_FAIL("[root planted msg.<next ids>] uid 65534's msgget(IPC_PRIVATE) failed with EEXIST "
		       "(the kernel never gives EEXIST without a key)");
	else if (rc != 0)
		T_FAIL("[root planted msg.<next ids>] %s", status_name(rc));
	else
		printf("  %-44s uid 65534's msgget: %s\n", "root planted msg.<next ids>",
		       sh->r[0] >= 0 ? "ok" : strerrorname_np(sh->e[0]));

	/* root's procs, mode 0600: the other user cannot register */
	d = mkcase("root-procs", 01777);
	path(f, sizeof f, d, "procs");
	close(open(f, O_WRONLY | O_CREAT, 0600));
	err = EACCES;
	must_pass("root's procs 0600: uid 65534 gets EACCES", d, 1, calls_fail, &err);
}

static void chown_nobody(const char *p)
{
	if (lchown(p, NOBODY, NOBODY) != 0)
		perror(p);
}

/* IPC_RMID of the three objects of make_objects fails with errno *arg (0: succeeds). */
static void remove_objects(void *arg)
{
	int err = *(int *)arg;
	for (int t = 0; t < 3; t++) {
		errno = 0;
		int r = t == 0 ? svipc_msgctl(sh->id[0], IPC_RMID, NULL)
		      : t == 1 ? svipc_semctl(sh->id[1], 0, IPC_RMID)
			       : svipc_shmctl(sh->id[2], IPC_RMID, NULL);
		if (err ? (r != -1 || errno != err) : r != 0)
			T_FAIL("IPC_RMID of the damaged %s: got %d %s, want %s", type_name[t], r,
			       r == -1 ? strerrorname_np(errno) : "(success)",
			       err ? strerrorname_np(err) : "success");
	}
}

/*
 * An object marked damaged (every other call EIDRM) can still be removed,
 * by its owner only: others get EPERM, as for an object in good order.
 */
static void case_damaged_removal(void)
{
	const char *d = mkcase("damaged", 0755);
	must_pass("  (make the objects)", d, 0, make_objects, NULL);
	for (int t = 0; t < 3; t++) {
		char f[PATH_MAX];
		obj_path(f, sizeof f, d, t);
		int fd = open(f, O_RDWR);
		uint32_t one = 1;
		if (fd < 0 || pwrite(fd, &one, 4, offsetof(struct svipc_obj, corrupt)) != 4)
			perror(f);
		if (fd >= 0)
			close(fd);
	}
	int eperm = EPERM, ok = 0;
	must_pass("uid 65534 removes damaged objects: EPERM", d, 1, remove_objects, &eperm);
	must_pass("their owner removes them", d, 0, remove_objects, &ok);
	if (dir_entries(d) != 2) /* ns and procs */
		T_FAIL("damaged objects removed, but %d files in the namespace", dir_entries(d));
}

static void case_dir_of_other(void)
{
	/* a 0755 directory owned by uid 65534: root may use it... */
	const char *d = mkcase("owned-by-other", 0755);
	chown_nobody(d);
	must_pass("root uses a 0755 dir owned by uid 65534", d, 0, make_objects, NULL);
	/* ...and the owner swaps an object for a symlink to root's file */
	struct victim v;
	victim_make(&v, "victim-other-dir", 0600, 1000);
	for (int t = 0; t < 3; t++) {
		char f[PATH_MAX], what[80];
		obj_path(f, sizeof f, d, t);
		unlink(f);
		if (symlink(v.path, f) != 0)
			perror("symlink");
		lchown(f, NOBODY, NOBODY);
		snprintf(what, sizeof what, "  owner swaps %s.<id> for a symlink: EIDRM", type_name[t]);
		int which = t;
		must_pass(what, d, 0, objects_invalid, &which);
	}
	victim_intact(&v, "dir owned by uid 65534");

	/* SVIPC_DIR is a symlink of the other user's to a root-owned directory */
	static const char *where[] = { "in a dir uid 65534 owns", "in a sticky 1777 dir" };
	for (int i = 0; i < 2; i++) {
		char cname[32], vd[PATH_MAX], link[PATH_MAX], what[96];
		snprintf(cname, sizeof cname, "link-parent-%d", i);
		const char *parent = mkcase(cname, i ? 01777 : 0755);
		if (!i)
			chown_nobody(parent);
		snprintf(vd, sizeof vd, "%s/victim-rootdir-%d", g_base, i);
		mkdir(vd, 0755);
		path(link, sizeof link, parent, "svipc");
		if (symlink(vd, link) != 0)
			perror("symlink");
		chown_nobody(link);
		snprintf(what, sizeof what, "SVIPC_DIR: uid 65534's symlink %s", where[i]);
		int err = EACCES;
		int rc = run(what, link, 0, calls_fail, &err);
		int n = dir_entries(vd);
		if (n != 0)
			T_FAIL("[%s] root followed it: %d file(s) created in the root-owned directory it "
			       "points at (want: refused with EACCES, as fs.protected_symlinks would)",
			       what, n);
		else if (rc != 0)
			T_FAIL("[%s] child: %s", what, status_name(rc));
		else
			printf("  %-44s refused\n", what);
	}
}

/* Under ASan: a SIGBUS must kill the process (the signal is what is checked
 * and reported), not be turned into a report and exit 1. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_sigbus=0";
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_owner_pid = getpid();
	g_root = geteuid() == 0;
	snprintf(g_base, sizeof g_base, "/dev/shm/svipc-hostile-XXXXXX");
	if (!mkdtemp(g_base)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(g_base, 0755);
	atexit(cleanup);
	signal(SIGALRM, SIG_DFL);
	alarm(240);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	printf("part 1: any user\n");
	case_ns_procs_symlinks();
	case_object_symlinks();
	case_next_id_symlinks();
	case_tmp_symlinks();
	case_special_files();
	case_world_writable();
	case_truncation();
	if (!g_root) {
		int r = t_done();
		printf("part 2 skipped (needs root)\n");
		return r ? r : 77;
	}
	printf("part 2: root and uid 65534\n");
	case_planted_by_other();
	case_dir_of_other();
	case_damaged_removal();
	printf("%d note(s)\n", g_notes);
	return t_done();
}

/*
 * svipcs - list the System V IPC objects of an svipc namespace, like
 * util-linux ipcs: the same options and the same output, column for column
 * (ipcs 2.38.1), so that scripts which parse ipcs's output parse ours.
 *
 * The listing walks each type's indexes 0..maxidx (from MSG_INFO, SHM_INFO,
 * SEM_INFO) with MSG_STAT_ANY, SHM_STAT_ANY and SEM_STAT_ANY, as ipcs does
 * on Linux. Before each *_STAT_ANY the object is looked at without its lock
 * (svipc__inspect): a *_STAT_ANY takes the lock, so it would wait forever
 * behind a stopped holder, and behind a dead one it would run the object's
 * recovery. Such an object's row shows the IPC_STAT fields read without
 * the lock (what its last complete update left), and a line on stderr says
 * why; -w and --json show it too. A damaged object has no row (its fields
 * mean nothing), only that line. Otherwise svipcs changes only what any
 * user's call would, as with the kernel's ipcs: SHM_INFO frees removed
 * segments nobody uses, SEM_STAT_ANY applies a dead process's SEM_UNDO.
 *
 * Beyond ipcs, off by default so that the default output stays ipcs's:
 *
 *   -w, --waiters  after each type's table, a section listing, per object,
 *                  the processes blocked on it (for shared memory: attached
 *                  to it) and a lock holder, if the lock is held:
 *
 *     ------ Message Queues Waiters --------
 *     msqid      pid        alive  waited     what
 *     32768      4242       yes    12.3s      msgrcv type 5, up to 4096 bytes
 *     32769      4250       no     -          died holding the lock: its next user recovers it
 *
 *                  ("Shared Memory Attachments" for segments, "Semaphore
 *                  Arrays Waiters" for sets). alive is no for a process
 *                  that died (its place is cleaned up by the object's next
 *                  user); waited is "-" where it means nothing.
 *
 *   -j, --json     the same selection as JSON: {"namespace": DIR, and per
 *                  type selected "message_queues", "shared_memory",
 *                  "semaphore_arrays": [objects]}, each object with its
 *                  IPC_STAT fields under the kernel's names (msg_perm
 *                  {key, uid, gid, cuid, cgid, mode, seq}, msg_stime, ...;
 *                  keys as unsigned 32-bit numbers, times in seconds since
 *                  the epoch, 0 = not set), "status" ("ok",
 *                  "lock_holder_dead", "lock_held": fields read without
 *                  the lock, "damaged": no fields), "lock" {pid, dead},
 *                  "corrupt", "waiters" (shm: "attached") [{pid, alive,
 *                  waited_s, what}], and for a set "sems" [{semnum, semval,
 *                  semncnt, semzcnt, sempid}] (read under the lock: not
 *                  for a set whose lock is not free). With -l: "limits", with -u:
 *                  "summary", per type, under the kernel's field names
 *                  (and the page size that shmall counts in).
 *
 *   --dir DIR      the namespace (default: $SVIPC_DIR, else the library's
 *                  default directory). It must exist and be a namespace:
 *                  svipcs never creates one, as the library would (an
 *                  empty directory is one nobody has used yet: the library
 *                  makes its files there, as any svipc program would).
 *
 * Where ipcs shows something only a kernel has, the same line says what is
 * true of svipc (see -l and -u). Exit status: 0, or 1 for a bad command
 * line, a namespace that cannot be used, an -i that finds nothing (ipcs
 * warns and exits 0 there) or a type that cannot be read. A watchdog ends
 * the run (status 1) rather than let it wait on a lock forever.
 */
#include "svipc.h"
#include "inspect.h"
#include "ns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "svipcs";

enum format { F_DEFAULT, F_LIMITS, F_STATUS, F_CREATOR, F_TIME, F_PID };
enum unit { U_DEFAULT, U_BYTES, U_KB, U_HUMAN };

/* The three types, in ipcs's output order. */
static const struct tdesc {
	enum svipc_type type;
	const char *noun;    /* in messages */
	const char *idname;  /* column and -i heading */
	const char *json;    /* JSON member */
	const char *short_name; /* JSON member under limits and summary */
	const char *section; /* -w heading */
} TD[3] = {
	{ SVIPC_MSG, "message queue", "msqid", "message_queues", "msg", "Message Queues Waiters" },
	{ SVIPC_SHM, "shared memory segment", "shmid", "shared_memory", "shm", "Shared Memory Attachments" },
	{ SVIPC_SEM, "semaphore array", "semid", "semaphore_arrays", "sem", "Semaphore Arrays Waiters" },
};

/* ok: read by *_STAT_ANY; dead, held: by the snapshot, without the lock; damaged: not read */
enum status { ST_OK, ST_DEAD, ST_HELD, ST_DAMAGED };
static const char *const status_name[] = { "ok", "lock_holder_dead", "lock_held", "damaged" };

struct sem_elem {
	int val, ncnt, zcnt, pid;
};

/* One object: what *_STAT_ANY said, and what inspection saw. */
struct obj {
	int id;
	enum status st;
	int inspected;
	struct svipc_obj_info info;
	struct svipc_waiter_info *w;
	size_t nw, wcap;
	union {
		struct msqid_ds q;
		struct shmid_ds m;
		struct semid_ds s;
	} ds;
	struct sem_elem *elem; /* sets, when asked for and readable */
	int elem_errno;        /* why elem is NULL */
};

struct objs {
	struct obj *v;
	size_t n, cap;
};

static int json, waiters, exit_status;

/* ---- never a hang --------------------------------------------------------- */

/*
 * Calls into the library take an object's lock (and SHM_INFO the
 * namespace's). svipcs looks before it locks, but a holder can stop in
 * between: a watchdog ends the run rather than wait forever.
 */
#define WATCHDOG_S 10

static void watchdog(int sig)
{
	static const char msg[] = "svipcs: timed out: a process keeps a lock of the namespace "
				  "(stopped?); see svipcs -w\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(EXIT_FAILURE);
}

static void guard(int on)
{
	alarm(on ? WATCHDOG_S : 0);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(EXIT_FAILURE);
	}
	return p;
}

/* ---- ipcs's formatting ------------------------------------------------------ */

/*
 * A size as util-linux writes it with one-letter suffixes: powers of 1024,
 * one decimal rounded half up, a trailing zero dropped ("4.9K", "1M",
 * "1023B"). Rounding up never moves to the next unit ("1024K"), as there.
 */
static void human_size(char *buf, size_t len, uint64_t bytes)
{
	static const char letters[] = "BKMGTPE";
	int exp = 0;
	while (exp < 60 && bytes >= (1ull << (exp + 10)))
		exp += 10;
	uint64_t dec = exp ? bytes >> exp : bytes;
	uint64_t frac = exp ? bytes & ((1ull << exp) - 1) : 0;
	if (frac) {
		/* thousandths, then tenths rounded half up (kept as 10..90) */
		if (frac >= UINT64_MAX / 1000)
			frac = ((frac / 1024) * 1000) >> (exp - 10);
		else
			frac = (frac * 1000) >> exp;
		frac = (frac + 50) / 100 * 10;
		if (frac == 100) {
			dec++;
			frac = 0;
		}
	}
	if (frac)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%c", dec, frac / 10, letters[exp / 10]);
	else
		snprintf(buf, len, "%" PRIu64 "%c", dec, letters[exp / 10]);
}

/*
 * ipcs's size printer: an optional label ("label = ", "label (bytes) = ",
 * or verbatim when it ends in '='), the size in the unit, padded to width
 * (negative: left-justified), then end.
 */
static void print_size(enum unit u, const char *label, uint64_t size, const char *end, int width)
{
	if (!label)
		;
	else if (label[strlen(label) - 1] == '=')
		fputs(label, stdout);
	else if (u == U_BYTES)
		printf("%s (bytes) = ", label);
	else if (u == U_KB)
		printf("%s (kbytes) = ", label);
	else
		printf("%s = ", label);
	if (u == U_HUMAN) {
		char b[64];
		human_size(b, sizeof b, size);
		printf("%*s", width, b);
	} else {
		printf("%*" PRIu64, width, u == U_KB ? size / 1024 : size);
	}
	if (end)
		fputs(end, stdout);
}

/* ctime(3)'s text, or "Not set" for 0 (and for a time it cannot show). */
static const char *when(time_t t, char buf[64])
{
	if (!t || !ctime_r(&t, buf))
		return "Not set";
	return buf;
}

/* The owner column: the user's name cut to 10, or the uid. */
static void print_id_owner(const char *idfmt, int id, uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	printf(idfmt, id);
	if (pw)
		printf(" %-10.10s", pw->pw_name);
	else
		printf(" %-10u", uid);
}

static void print_user(uid_t uid, const char *sep)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		printf(" %-10s%s", pw->pw_name, sep);
	else
		printf(" %-10u%s", uid, sep);
}

static void print_group(gid_t gid, const char *sep)
{
	struct group *gr = getgrgid(gid);
	if (gr)
		printf(" %-10s%s", gr->gr_name, sep);
	else
		printf(" %-10u%s", gid, sep);
}

/* -c's row: id, perms, then creator and owner by name. */
static void print_perms(int id, const struct ipc_perm *p)
{
	printf("%-10d %-10o", id, p->mode & 0777);
	print_user(p->cuid, "");
	print_group(p->cgid, "");
	print_user(p->uid, "");
	print_group(p->gid, "\n");
}

/* ---- JSON ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		: (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 2 && s[0] < 0xc2)
		return 0; /* overlong */
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || s[0] > 0xf4 || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

/* A JSON string. Bytes that are not UTF-8 (names and paths may have any) come out as U+00XX. */
static void jstr(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int n = utf8_len(p);
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p);
		} else if (n >= 1) {
			fwrite(p, 1, (size_t)n, stdout);
			p += n;
			continue;
		} else {
			printf("\\u%04x", *p);
		}
		p++;
	}
	putchar('"');
}

static void jkey(const char *k)
{
	jstr(k);
	putchar(':');
}

static void jperm(const char *name, const struct ipc_perm *p)
{
	jkey(name);
	printf("{\"key\":%u,\"uid\":%u,\"gid\":%u,\"cuid\":%u,\"cgid\":%u,\"mode\":%u,\"seq\":%u}",
	       (unsigned)p->__key, p->uid, p->gid, p->cuid, p->cgid, (unsigned)p->mode,
	       (unsigned)p->__seq);
}

/* ---- the namespace ---------------------------------------------------------- */

static const char *ns_dir(void)
{
	const char *d = getenv("SVIPC_DIR");
	return d && *d ? d : SVIPC_DEFAULT_DIR;
}

static void __attribute__((noreturn)) ns_fail(const char *dir, const char *why)
{
	fprintf(stderr, "%s: cannot open namespace %s: %s\n", prog, dir, why);
	exit(EXIT_FAILURE);
}

static int dir_is_empty(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	struct dirent *e;
	int empty = 1;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

/*
 * Refuses what is not a namespace before the library sees it: the library
 * creates a missing directory, and its namespace file in any directory.
 * An empty directory is a namespace nobody has used yet: the library then
 * makes its files, as any svipc program there would.
 */
static void ns_check(void)
{
	const char *dir = ns_dir();
	struct stat st;
	if (stat(dir, &st) < 0)
		ns_fail(dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		ns_fail(dir, strerror(ENOTDIR));
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		ns_fail(dir, "world-writable without the sticky bit (svipc refuses it)");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		ns_fail(dir, strerror(errno));
	if (fstatat(dfd, "ns", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		if (e != ENOENT)
			ns_fail(dir, strerror(e));
		if (!dir_is_empty(dfd))
			ns_fail(dir, "not an svipc namespace (no ns file)");
	} else if (!S_ISREG(st.st_mode)) {
		ns_fail(dir, "not an svipc namespace (ns is not a regular file)");
	}
	close(dfd);
	struct svipc_limits lim;
	guard(1);
	if (svipc_limits_get(&lim) < 0)
		ns_fail(dir, errno == EINVAL ? "not an svipc namespace (its ns file is not one)"
					     : strerror(errno));
	guard(0);
}

/* ---- reading objects ----------------------------------------------------------- */

/* The type's highest index in use (*_INFO's return value), or -1 with errno. */
static int type_maxidx(enum svipc_type t)
{
	int r;
	guard(1);
	if (t == SVIPC_MSG) {
		struct msginfo mi;
		r = svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&mi);
	} else if (t == SVIPC_SHM) {
		struct shm_info si;
		r = svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
	} else {
		struct seminfo si;
		r = svipc_semctl(0, 0, SEM_INFO, &si);
	}
	guard(0);
	return r;
}

static int stat_any(enum svipc_type t, int idx, struct obj *o)
{
	int r;
	guard(1);
	if (t == SVIPC_MSG)
		r = svipc_msgctl(idx, MSG_STAT_ANY, &o->ds.q);
	else if (t == SVIPC_SHM)
		r = svipc_shmctl(idx, SHM_STAT_ANY, &o->ds.m);
	else
		r = svipc_semctl(idx, 0, SEM_STAT_ANY, &o->ds.s);
	guard(0);
	return r;
}

static void add_waiter(void *arg, const struct svipc_waiter_info *w)
{
	struct obj *o = arg;
	if (o->nw == o->wcap) {
		o->wcap = o->wcap ? 2 * o->wcap : 4;
		o->w = xrealloc(o->w, o->wcap * sizeof *o->w);
	}
	o->w[o->nw] = *w;
	o->w[o->nw].what[sizeof o->w[o->nw].what - 1] = 0;
	o->nw++;
}

/*
 * Looks at object id without its lock. A live holder usually lets go
 * within microseconds: wait up to a second for that before calling it held.
 */
static int look(enum svipc_type t, int id, struct obj *o)
{
	int r;
	for (int tries = 0;; tries++) {
		o->nw = 0;
		r = svipc__inspect(t, id, &o->info, add_waiter, o);
		if (r < 0 || !o->info.lock_pid || o->info.lock_dead || tries == 100)
			break;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	return r;
}

/* The semaphores' values (as ipcs -i shows them); 0, or -1 with errno. */
static int sem_values(struct obj *o)
{
	unsigned long n = o->ds.s.sem_nsems;
	o->elem = xrealloc(NULL, n * sizeof *o->elem);
	guard(1);
	for (unsigned long i = 0; i < n; i++) {
		struct sem_elem *e = &o->elem[i];
		if ((e->val = svipc_semctl(o->id, (int)i, GETVAL)) < 0 ||
		    (e->ncnt = svipc_semctl(o->id, (int)i, GETNCNT)) < 0 ||
		    (e->zcnt = svipc_semctl(o->id, (int)i, GETZCNT)) < 0 ||
		    (e->pid = svipc_semctl(o->id, (int)i, GETPID)) < 0) {
			o->elem_errno = errno;
			guard(0);
			free(o->elem);
			o->elem = NULL;
			return -1;
		}
	}
	guard(0);
	return 0;
}

static void warn_obj(const struct tdesc *d, const struct obj *o)
{
	if (json)
		return;
	switch (o->st) {
	case ST_DEAD:
		fprintf(stderr, "%s: %s %d: lock holder %d died; its next user recovers it "
			"(or: svipcadm check --repair)\n", prog, d->noun, o->id, (int)o->info.lock_pid);
		break;
	case ST_HELD:
		fprintf(stderr, "%s: %s %d: its lock stays with process %d (stopped?); "
			"shown as read without the lock\n", prog, d->noun, o->id, (int)o->info.lock_pid);
		break;
	case ST_DAMAGED:
		fprintf(stderr, "%s: %s %d: damaged, unusable (see svipcadm check); not listed\n",
			prog, d->noun, o->id);
		break;
	default:
		break;
	}
}

/*
 * Reads the object at index idx into o: 1 if there is one (o->st says
 * whether its IPC_STAT fields could be read), 0 if not.
 */
static int read_obj(const struct tdesc *d, int idx, int with_sems, struct obj *o)
{
	memset(o, 0, sizeof *o);
	int id = svipc__ns_index_to_id(d->type, idx);
	if (id < 0)
		return 0;
	o->id = id;
	int r = look(d->type, id, o);
	if (r == -EINVAL)
		goto gone;
	o->inspected = r == 0;
	if (r == -EIDRM || (r == 0 && o->info.corrupt))
		o->st = ST_DAMAGED;
	else if (r == 0 && o->info.lock_pid)
		o->st = o->info.lock_dead ? ST_DEAD : ST_HELD;
	if (o->st == ST_DEAD || o->st == ST_HELD)
		memcpy(&o->ds, &o->info.ds, sizeof o->ds);
	if (o->st != ST_OK) {
		warn_obj(d, o);
		return 1;
	}
	r = stat_any(d->type, idx, o);
	if (r < 0) {
		if (errno != EIDRM)
			goto gone;
		o->st = ST_DAMAGED;
		warn_obj(d, o);
		return 1;
	}
	if (r != id) {
		/* Another object took the index meanwhile: what we saw was not it. */
		o->inspected = 0;
		o->nw = 0;
		o->id = r;
	}
	if (with_sems && d->type == SVIPC_SEM)
		sem_values(o);
	return 1;
gone: /* removed meanwhile */
	free(o->w);
	return 0;
}

static void objs_free(struct objs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].w);
		free(l->v[i].elem);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Every object of the type (only_id >= 0: that one). 0, or -1 if the type cannot be read. */
static int collect(const struct tdesc *d, int only_id, int with_sems, struct objs *l)
{
	int maxidx = type_maxidx(d->type);
	if (maxidx < 0) {
		fprintf(stderr, "%s: cannot read the %ss of %s: %s\n", prog, d->noun, svipc_dir(),
			strerror(errno));
		exit_status = EXIT_FAILURE;
		return -1;
	}
	int lo = 0, hi = maxidx;
	if (only_id >= 0)
		lo = hi = (int)SVIPC_ID_IDX(only_id); /* the kernel's id layout: index in the low bits */
	for (int i = lo; i <= hi; i++) {
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 16;
			l->v = xrealloc(l->v, l->cap * sizeof *l->v);
		}
		struct obj *o = &l->v[l->n];
		if (!read_obj(d, i, with_sems, o))
			continue;
		if (only_id >= 0 && o->id != only_id) {
			free(o->w);
			free(o->elem);
			continue;
		}
		l->n++;
	}
	return 0;
}

/* ---- the tables ------------------------------------------------------------------ */

static void table_msg(enum format f, enum unit u, const struct objs *l)
{
	switch (f) {
	case F_CREATOR:
		printf("------ Message Queues Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n", "msqid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Message Queues Send/Recv/Change Times --------\n");
		printf("%-8s %-10s %-20s %-20s %-20s\n", "msqid", "owner", "send", "recv", "change");
		break;
	case F_PID:
		printf("------ Message Queues PIDs --------\n");
		printf("%-10s %-10s %-10s %-10s\n", "msqid", "owner", "lspid", "lrpid");
		break;
	default:
		printf("------ Message Queues --------\n");
		printf("%-10s %-10s %-10s %-10s %-12s %-12s\n", "key", "msqid", "owner", "perms",
		       u == U_HUMAN ? "size" : "used-bytes", "messages");
		break;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct obj *o = &l->v[i];
		const struct msqid_ds *q = &o->ds.q;
		char b1[64], b2[64], b3[64];
		if (o->st == ST_DAMAGED)
			continue;
		switch (f) {
		case F_CREATOR:
			print_perms(o->id, &q->msg_perm);
			break;
		case F_TIME:
			print_id_owner("%-8d", o->id, q->msg_perm.uid);
			printf(" %-20.16s", q->msg_stime ? when(q->msg_stime, b1) + 4 : "Not set");
			printf(" %-20.16s", q->msg_rtime ? when(q->msg_rtime, b2) + 4 : "Not set");
			printf(" %-20.16s\n", q->msg_ctime ? when(q->msg_ctime, b3) + 4 : "Not set");
			break;
		case F_PID:
			print_id_owner("%-8d", o->id, q->msg_perm.uid);
			printf("  %5d     %5d\n", q->msg_lspid, q->msg_lrpid);
			break;
		default:
			printf("0x%08x ", (unsigned)q->msg_perm.__key);
			print_id_owner("%-10d", o->id, q->msg_perm.uid);
			printf(" %-10o ", q->msg_perm.mode & 0777);
			if (u == U_HUMAN)
				print_size(u, NULL, q->__msg_cbytes, "      ", 6);
			else
				print_size(u, NULL, q->__msg_cbytes, NULL, -12);
			printf(" %-12" PRIu64 "\n", (uint64_t)q->msg_qnum);
			break;
		}
	}
}

static void table_shm(enum format f, enum unit u, const struct objs *l)
{
	switch (f) {
	case F_CREATOR:
		printf("------ Shared Memory Segment Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n", "shmid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Shared Memory Attach/Detach/Change Times --------\n");
		printf("%-10s %-10s %-20s %-20s %-20s\n", "shmid", "owner", "attached", "detached", "changed");
		break;
	case F_PID:
		printf("------ Shared Memory Creator/Last-op PIDs --------\n");
		printf("%-10s %-10s %-10s %-10s\n", "shmid", "owner", "cpid", "lpid");
		break;
	default:
		printf("------ Shared Memory Segments --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n", "key", "shmid", "owner", "perms",
		       u == U_HUMAN ? "size" : "bytes", "nattch", "status");
		break;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct obj *o = &l->v[i];
		const struct shmid_ds *m = &o->ds.m;
		char b1[64], b2[64], b3[64];
		if (o->st == ST_DAMAGED)
			continue;
		switch (f) {
		case F_CREATOR:
			print_perms(o->id, &m->shm_perm);
			break;
		case F_TIME:
			print_id_owner("%-10d", o->id, m->shm_perm.uid);
			printf(" %-20.16s", m->shm_atime ? when(m->shm_atime, b1) + 4 : "Not set");
			printf(" %-20.16s", m->shm_dtime ? when(m->shm_dtime, b2) + 4 : "Not set");
			printf(" %-20.16s\n", m->shm_ctime ? when(m->shm_ctime, b3) + 4 : "Not set");
			break;
		case F_PID:
			print_id_owner("%-10d", o->id, m->shm_perm.uid);
			printf(" %-10u %-10u\n", (unsigned)m->shm_cpid, (unsigned)m->shm_lpid);
			break;
		default:
			printf("0x%08x ", (unsigned)m->shm_perm.__key);
			print_id_owner("%-10d", o->id, m->shm_perm.uid);
			printf(" %-10o ", m->shm_perm.mode & 0777);
			if (u == U_HUMAN)
				print_size(u, NULL, m->shm_segsz, "    ", 6);
			else
				print_size(u, NULL, m->shm_segsz, NULL, -10);
			printf(" %-10" PRIu64 " %-6s %-6s\n", (uint64_t)m->shm_nattch,
			       m->shm_perm.mode & SHM_DEST ? "dest" : " ",
			       m->shm_perm.mode & SHM_LOCKED ? "locked" : " ");
			break;
		}
	}
}

static void table_sem(enum format f, const struct objs *l)
{
	switch (f) {
	case F_CREATOR:
		printf("------ Semaphore Arrays Creators/Owners --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s %-10s\n", "semid", "perms", "cuid", "cgid", "uid", "gid");
		break;
	case F_TIME:
		printf("------ Semaphore Operation/Change Times --------\n");
		printf("%-8s %-10s %-26.24s %-26.24s\n", "semid", "owner", "last-op", "last-changed");
		break;
	case F_PID:
		return; /* ipcs has no pid view of sets: nothing, not even a heading */
	default:
		printf("------ Semaphore Arrays --------\n");
		printf("%-10s %-10s %-10s %-10s %-10s\n", "key", "semid", "owner", "perms", "nsems");
		break;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct obj *o = &l->v[i];
		const struct semid_ds *s = &o->ds.s;
		char b1[64], b2[64];
		if (o->st == ST_DAMAGED)
			continue;
		switch (f) {
		case F_CREATOR:
			print_perms(o->id, &s->sem_perm);
			break;
		case F_TIME:
			print_id_owner("%-8d", o->id, s->sem_perm.uid);
			printf("  %-26.24s", when(s->sem_otime, b1));
			printf(" %-26.24s\n", when(s->sem_ctime, b2));
			break;
		default:
			printf("0x%08x ", (unsigned)s->sem_perm.__key);
			print_id_owner("%-10d", o->id, s->sem_perm.uid);
			printf(" %-10o %-10" PRIu64 "\n", s->sem_perm.mode & 0777, (uint64_t)s->sem_nsems);
			break;
		}
	}
}

/* -w: the processes blocked on (attached to) each object, and lock holders. */
static void table_waiters(const struct tdesc *d, const struct objs *l)
{
	printf("------ %s --------\n", d->section);
	printf("%-10s %-10s %-6s %-10s %s\n", d->idname, "pid", "alive", "waited", "what");
	for (size_t i = 0; i < l->n; i++) {
		const struct obj *o = &l->v[i];
		if (o->st == ST_DAMAGED) {
			printf("%-10d %-10s %-6s %-10s %s\n", o->id, "-", "-", "-",
			       "damaged, unusable (see svipcadm check)");
			continue;
		}
		if (!o->inspected)
			continue;
		if (o->info.lock_pid) {
			char pid[16];
			snprintf(pid, sizeof pid, "%d", (int)o->info.lock_pid);
			printf("%-10d %-10s %-6s %-10s %s\n", o->id, pid, o->info.lock_dead ? "no" : "yes",
			       "-", o->info.lock_dead ? "died holding the lock: its next user recovers it"
						       : "holds the lock");
		}
		for (size_t k = 0; k < o->nw; k++) {
			const struct svipc_waiter_info *w = &o->w[k];
			char waited[32] = "-";
			if (d->type != SVIPC_SHM)
				snprintf(waited, sizeof waited, "%.1fs", w->waited_s);
			printf("%-10d %-10d %-6s %-10s %s\n", o->id, (int)w->pid, w->alive ? "yes" : "no",
			       waited, w->what);
		}
	}
}

/* ---- -i --------------------------------------------------------------------------- */

static void detail(const struct tdesc *d, enum unit u, const struct obj *o)
{
	char b1[64], b2[64], b3[64];
	if (d->type == SVIPC_MSG) {
		const struct msqid_ds *q = &o->ds.q;
		const struct ipc_perm *p = &q->msg_perm;
		printf("\nMessage Queue msqid=%d\n", o->id);
		printf("uid=%u\tgid=%u\tcuid=%u\tcgid=%u\tmode=%#o\n", p->uid, p->gid, p->cuid, p->cgid,
		       (unsigned)p->mode);
		print_size(u, u == U_HUMAN ? "csize=" : "cbytes=", q->__msg_cbytes, "\t", 0);
		print_size(u, u == U_HUMAN ? "qsize=" : "qbytes=", q->msg_qbytes, "\t", 0);
		printf("qnum=%" PRIu64 "\tlspid=%d\tlrpid=%d\n", (uint64_t)q->msg_qnum, q->msg_lspid,
		       q->msg_lrpid);
		printf("send_time=%-26.24s\n", when(q->msg_stime, b1));
		printf("rcv_time=%-26.24s\n", when(q->msg_rtime, b2));
		printf("change_time=%-26.24s\n", when(q->msg_ctime, b3));
		printf("\n");
	} else if (d->type == SVIPC_SHM) {
		const struct shmid_ds *m = &o->ds.m;
		const struct ipc_perm *p = &m->shm_perm;
		printf("\nShared memory Segment shmid=%d\n", o->id);
		printf("uid=%u\tgid=%u\tcuid=%u\tcgid=%u\n", p->uid, p->gid, p->cuid, p->cgid);
		printf("mode=%#o\taccess_perms=%#o\n", (unsigned)p->mode, (unsigned)p->mode & 0777);
		print_size(u, u == U_HUMAN ? "size=" : "bytes=", m->shm_segsz, "\t", 0);
		printf("lpid=%u\tcpid=%u\tnattch=%" PRIu64 "\n", (unsigned)m->shm_lpid,
		       (unsigned)m->shm_cpid, (uint64_t)m->shm_nattch);
		printf("att_time=%-26.24s\n", when(m->shm_atime, b1));
		printf("det_time=%-26.24s\n", when(m->shm_dtime, b2));
		printf("change_time=%-26.24s\n", when(m->shm_ctime, b3));
		printf("\n");
	} else {
		const struct semid_ds *s = &o->ds.s;
		const struct ipc_perm *p = &s->sem_perm;
		printf("\nSemaphore Array semid=%d\n", o->id);
		printf("uid=%u\t gid=%u\t cuid=%u\t cgid=%u\n", p->uid, p->gid, p->cuid, p->cgid);
		printf("mode=%#o, access_perms=%#o\n", (unsigned)p->mode, (unsigned)p->mode & 0777);
		printf("nsems = %" PRIu64 "\n", (uint64_t)s->sem_nsems);
		printf("otime = %-26.24s\n", when(s->sem_otime, b1));
		printf("ctime = %-26.24s\n", when(s->sem_ctime, b2));
		printf("%-10s %-10s %-10s %-10s %-10s\n", "semnum", "value", "ncount", "zcount", "pid");
		if (!o->elem) /* a set whose lock is not free: its values are read under the lock */
			fprintf(stderr, "%s: semaphore array %d: values not shown while its lock is not "
				"free\n", prog, o->id);
		for (unsigned long i = 0; o->elem && i < s->sem_nsems; i++) {
			const struct sem_elem *e = &o->elem[i];
			printf("%-10lu %-10d %-10d %-10d %-10d\n", i, e->val, e->ncnt, e->zcnt, e->pid);
		}
		printf("\n");
	}
}

/* ---- -l and -u ---------------------------------------------------------------------- */

static void limits_text(enum svipc_type t, enum unit u, const struct svipc_limits *lim, int semvmx)
{
	if (t == SVIPC_MSG) {
		enum unit mu = u == U_DEFAULT ? U_BYTES : u;
		printf("------ Messages Limits --------\n");
		printf("max queues system wide = %" PRIu64 "\n", lim->msgmni);
		print_size(mu, "max size of message", lim->msgmax, "\n", 0);
		print_size(mu, "default max size of queue", lim->msgmnb, "\n", 0);
	} else if (t == SVIPC_SHM) {
		uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), tot;
		printf("------ Shared Memory Limits --------\n");
		printf("max number of segments = %" PRIu64 "\n", lim->shmmni);
		print_size(u == U_DEFAULT ? U_KB : u, "max seg size", lim->shmmax, "\n", 0);
		/* shmall is in pages; a product that overflows shows the largest multiple */
		if (u == U_DEFAULT || u == U_KB) {
			uint64_t k = pg / 1024;
			tot = lim->shmall * k;
			if (lim->shmall && tot / lim->shmall != k)
				tot = UINT64_MAX - UINT64_MAX % k;
			print_size(U_DEFAULT, "max total shared memory (kbytes)", tot, "\n", 0);
		} else {
			tot = lim->shmall * pg;
			if (lim->shmall && tot / lim->shmall != pg)
				tot = UINT64_MAX - UINT64_MAX % pg;
			print_size(u, "max total shared memory", tot, "\n", 0);
		}
		/* SHMMIN: svipc's segments start at one byte, as the kernel's */
		print_size(u == U_DEFAULT ? U_BYTES : u, "min seg size", 1, "\n", 0);
	} else {
		printf("------ Semaphore Limits --------\n");
		printf("max number of arrays = %" PRIu64 "\n", lim->semmni);
		printf("max semaphores per array = %" PRIu64 "\n", lim->semmsl);
		printf("max semaphores system wide = %" PRIu64 "\n", lim->semmns);
		printf("max ops per semop call = %" PRIu64 "\n", lim->semopm);
		printf("semaphore max value = %u\n", (unsigned)semvmx);
	}
}

static void limits_json(enum svipc_type t, const struct svipc_limits *lim, int semvmx)
{
	if (t == SVIPC_MSG)
		printf("\"msg\":{\"msgmni\":%" PRIu64 ",\"msgmax\":%" PRIu64 ",\"msgmnb\":%" PRIu64 "}",
		       lim->msgmni, lim->msgmax, lim->msgmnb);
	else if (t == SVIPC_SHM)
		printf("\"shm\":{\"shmmni\":%" PRIu64 ",\"shmmax\":%" PRIu64 ",\"shmall\":%" PRIu64
		       ",\"shmmin\":1,\"pagesize\":%ld}",
		       lim->shmmni, lim->shmmax, lim->shmall, sysconf(_SC_PAGESIZE));
	else
		printf("\"sem\":{\"semmni\":%" PRIu64 ",\"semmsl\":%" PRIu64 ",\"semmns\":%" PRIu64
		       ",\"semopm\":%" PRIu64 ",\"semvmx\":%d}",
		       lim->semmni, lim->semmsl, lim->semmns, lim->semopm, semvmx);
}

/* -l; 0, or -1 (reported) if the namespace's limits cannot be read. */
static int do_limits(enum svipc_type t, enum unit u)
{
	struct svipc_limits lim;
	struct seminfo si;
	guard(1);
	int r = svipc_limits_get(&lim);
	/* SEMVMX is no limit of the namespace: the library's constant, from IPC_INFO */
	if (r == 0 && t == SVIPC_SEM)
		r = svipc_semctl(0, 0, IPC_INFO, &si) < 0 ? -1 : 0;
	guard(0);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read the limits of %s: %s\n", prog, svipc_dir(),
			strerror(errno));
		exit_status = EXIT_FAILURE;
		if (json)
			printf("\"%s\":null", TD[t].short_name);
		return -1;
	}
	int vmx = t == SVIPC_SEM ? si.semvmx : 0;
	if (json)
		limits_json(t, &lim, vmx);
	else
		limits_text(t, u, &lim, vmx);
	return 0;
}

/* -u; 0, or -1 (reported). */
static int do_summary(enum svipc_type t, enum unit u)
{
	union {
		struct msginfo msg;
		struct shm_info shm;
		struct seminfo sem;
	} i;
	guard(1);
	int r = t == SVIPC_MSG ? svipc_msgctl(0, MSG_INFO, (struct msqid_ds *)&i.msg)
		: t == SVIPC_SHM ? svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&i.shm)
				 : svipc_semctl(0, 0, SEM_INFO, &i.sem);
	guard(0);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read the %ss of %s: %s\n", prog, TD[t].noun, svipc_dir(),
			strerror(errno));
		exit_status = EXIT_FAILURE;
		if (json)
			printf("\"%s\":null", TD[t].short_name);
		return -1;
	}
	if (json) {
		if (t == SVIPC_MSG)
			printf("\"msg\":{\"msgpool\":%d,\"msgmap\":%d,\"msgtql\":%d}", i.msg.msgpool,
			       i.msg.msgmap, i.msg.msgtql);
		else if (t == SVIPC_SHM)
			printf("\"shm\":{\"used_ids\":%d,\"shm_tot\":%lu,\"shm_rss\":%lu,\"shm_swp\":%lu,"
			       "\"swap_attempts\":%lu,\"swap_successes\":%lu}",
			       i.shm.used_ids, i.shm.shm_tot, i.shm.shm_rss, i.shm.shm_swp,
			       i.shm.swap_attempts, i.shm.swap_successes);
		else
			printf("\"sem\":{\"semusz\":%d,\"semaem\":%d}", i.sem.semusz, i.sem.semaem);
		return 0;
	}
	if (t == SVIPC_MSG) {
		printf("------ Messages Status --------\n");
		printf("allocated queues = %d\n", i.msg.msgpool);
		printf("used headers = %d\n", i.msg.msgmap);
		print_size(u, "used space", (uint64_t)(unsigned)i.msg.msgtql,
			   u == U_DEFAULT ? " bytes\n" : "\n", 0);
	} else if (t == SVIPC_SHM) {
		/*
		 * The kernel's layout, with svipc's facts: resident pages are
		 * those the segments' files hold; nothing is ever swapped
		 * (tmpfs pages may be, but no counter tells), so swapped and
		 * the swap attempts are 0.
		 */
		printf("------ Shared Memory Status --------\n");
		printf("segments allocated %d\n", i.shm.used_ids);
		printf("pages allocated %ld\n", (long)i.shm.shm_tot);
		printf("pages resident  %ld\n", (long)i.shm.shm_rss);
		printf("pages swapped   %ld\n", (long)i.shm.shm_swp);
		printf("Swap performance: %ld attempts\t %ld successes\n", (long)i.shm.swap_attempts,
		       (long)i.shm.swap_successes);
	} else {
		printf("------ Semaphore Status --------\n");
		printf("used arrays = %d\n", i.sem.semusz);
		printf("allocated semaphores = %d\n", i.sem.semaem);
	}
	return 0;
}

/* ---- JSON objects ------------------------------------------------------------------- */

static void json_obj(const struct tdesc *d, const struct obj *o)
{
	printf("{\"id\":%d,\"status\":\"%s\"", o->id, status_name[o->st]);
	if (o->st != ST_DAMAGED) {
		if (d->type == SVIPC_MSG) {
			const struct msqid_ds *q = &o->ds.q;
			printf(",\"key\":%u,", (unsigned)q->msg_perm.__key);
			jperm("msg_perm", &q->msg_perm);
			printf(",\"msg_stime\":%lld,\"msg_rtime\":%lld,\"msg_ctime\":%lld,"
			       "\"msg_cbytes\":%" PRIu64 ",\"msg_qnum\":%" PRIu64 ",\"msg_qbytes\":%" PRIu64
			       ",\"msg_lspid\":%d,\"msg_lrpid\":%d",
			       (long long)q->msg_stime, (long long)q->msg_rtime, (long long)q->msg_ctime,
			       (uint64_t)q->__msg_cbytes, (uint64_t)q->msg_qnum, (uint64_t)q->msg_qbytes,
			       q->msg_lspid, q->msg_lrpid);
		} else if (d->type == SVIPC_SHM) {
			const struct shmid_ds *m = &o->ds.m;
			printf(",\"key\":%u,", (unsigned)m->shm_perm.__key);
			jperm("shm_perm", &m->shm_perm);
			printf(",\"shm_segsz\":%" PRIu64 ",\"shm_atime\":%lld,\"shm_dtime\":%lld,"
			       "\"shm_ctime\":%lld,\"shm_cpid\":%d,\"shm_lpid\":%d,\"shm_nattch\":%" PRIu64,
			       (uint64_t)m->shm_segsz, (long long)m->shm_atime, (long long)m->shm_dtime,
			       (long long)m->shm_ctime, m->shm_cpid, m->shm_lpid, (uint64_t)m->shm_nattch);
		} else {
			const struct semid_ds *s = &o->ds.s;
			printf(",\"key\":%u,", (unsigned)s->sem_perm.__key);
			jperm("sem_perm", &s->sem_perm);
			printf(",\"sem_otime\":%lld,\"sem_ctime\":%lld,\"sem_nsems\":%" PRIu64,
			       (long long)s->sem_otime, (long long)s->sem_ctime, (uint64_t)s->sem_nsems);
			if (o->elem) {
				printf(",\"sems\":[");
				for (unsigned long i = 0; i < s->sem_nsems; i++) {
					const struct sem_elem *e = &o->elem[i];
					printf("%s{\"semnum\":%lu,\"semval\":%d,\"semncnt\":%d,"
					       "\"semzcnt\":%d,\"sempid\":%d}",
					       i ? "," : "", i, e->val, e->ncnt, e->zcnt, e->pid);
				}
				printf("]");
			}
		}
	}
	printf(",\"corrupt\":%s", o->st == ST_DAMAGED ? "true" : "false");
	if (o->inspected) {
		printf(",\"lock\":{\"pid\":%d,\"dead\":%s}", (int)o->info.lock_pid,
		       o->info.lock_pid && o->info.lock_dead ? "true" : "false");
		printf(",\"%s\":[", d->type == SVIPC_SHM ? "attached" : "waiters");
		for (size_t k = 0; k < o->nw; k++) {
			const struct svipc_waiter_info *w = &o->w[k];
			printf("%s{\"pid\":%d,\"alive\":%s,\"waited_s\":%.3f,\"what\":", k ? "," : "",
			       (int)w->pid, w->alive ? "true" : "false", w->waited_s);
			jstr(w->what);
			printf("}");
		}
		printf("]");
	}
	printf("}");
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
	printf("\nUsage:\n"
	       " %s [resource-option...] [output-option]\n"
	       " %s -m|-q|-s -i <id>\n"
	       "\nShow information on the IPC objects of an svipc namespace.\n"
	       "\nOptions:\n"
	       " -i, --id <id>  print details on resource identified by <id>\n"
	       "     --dir <dir>  the namespace directory (default: $SVIPC_DIR or %s)\n"
	       " -h, --help     display this help\n"
	       " -V, --version  display version\n"
	       "\nResource options:\n"
	       " -m, --shmems      shared memory segments\n"
	       " -q, --queues      message queues\n"
	       " -s, --semaphores  semaphores\n"
	       " -a, --all         all (default)\n"
	       "\nOutput options:\n"
	       " -t, --time        show attach, detach and change times\n"
	       " -p, --pid         show PIDs of creator and last operator\n"
	       " -c, --creator     show creator and owner\n"
	       " -l, --limits      show resource limits\n"
	       " -u, --summary     show status summary\n"
	       "     --human       show sizes in human-readable format\n"
	       " -b, --bytes       show sizes in bytes\n"
	       " -w, --waiters     also show blocked (shm: attached) processes and lock holders\n"
	       " -j, --json        print the same selection as JSON\n"
	       "\nAn object whose lock holder died, or whose lock a process keeps (stopped?),\n"
	       "is shown as read without its lock and reported on standard error: svipcs\n"
	       "never waits for a lock, nor recovers an object.\n",
	       prog, prog, SVIPC_DEFAULT_DIR);
}

/* The exit status, once everything printed made it out (a full disk, a closed pipe). */
static int finish(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
		return EXIT_FAILURE;
	}
	return exit_status;
}

static void try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(EXIT_FAILURE);
}

/* ipcs's id argument: decimal, 32 bits. */
static int parse_id(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!errno && (v < INT_MIN || v > INT_MAX))
		errno = ERANGE;
	if (errno == ERANGE) {
		fprintf(stderr, "%s: failed to parse id argument: '%s': %s\n", prog, s, strerror(ERANGE));
		exit(EXIT_FAILURE);
	}
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: failed to parse id argument: '%s'\n", prog, s);
		exit(EXIT_FAILURE);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	enum { OPT_HUMAN = 256, OPT_DIR };
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "queues", no_argument, NULL, 'q' },
		{ "shmems", no_argument, NULL, 'm' },
		{ "semaphores", no_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "time", no_argument, NULL, 't' },
		{ "pid", no_argument, NULL, 'p' },
		{ "creator", no_argument, NULL, 'c' },
		{ "limits", no_argument, NULL, 'l' },
		{ "summary", no_argument, NULL, 'u' },
		{ "human", no_argument, NULL, OPT_HUMAN },
		{ "bytes", no_argument, NULL, 'b' },
		{ "waiters", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int want[3] = { 0, 0, 0 }, id = 0, specific = 0, c;
	enum format fmt = F_DEFAULT;
	enum unit unit = U_DEFAULT;

	argv[0] = (char *)prog; /* getopt's messages name the program as ipcs's do */
	while ((c = getopt_long(argc, argv, "i:qmsatpclubwjVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = parse_id(optarg);
			specific = 1;
			break;
		case 'a':
			want[SVIPC_MSG] = want[SVIPC_SHM] = want[SVIPC_SEM] = 1;
			break;
		case 'q':
			want[SVIPC_MSG] = 1;
			break;
		case 'm':
			want[SVIPC_SHM] = 1;
			break;
		case 's':
			want[SVIPC_SEM] = 1;
			break;
		case 't':
			fmt = F_TIME;
			break;
		case 'p':
			fmt = F_PID;
			break;
		case 'c':
			fmt = F_CREATOR;
			break;
		case 'l':
			fmt = F_LIMITS;
			break;
		case 'u':
			fmt = F_STATUS;
			break;
		case OPT_HUMAN:
			unit = U_HUMAN;
			break;
		case 'b':
			unit = U_BYTES;
			break;
		case 'w':
			waiters = 1;
			break;
		case 'j':
			json = 1;
			break;
		case OPT_DIR:
			setenv("SVIPC_DIR", optarg, 1); /* before the library's first call */
			break;
		case 'h':
			usage();
			return finish();
		case 'V':
			printf("%s from svipc %s\n", prog, SVIPC_VERSION_STRING);
			return finish();
		default:
			try_help();
		}
	}
	if (optind < argc) {
		/* ipcs ignores operands; a stray word is more likely a mistake */
		fprintf(stderr, "%s: unknown argument: %s\n", prog, argv[optind]);
		try_help();
	}
	int nwant = want[0] + want[1] + want[2];
	if (specific && nwant != 1) {
		fprintf(stderr, "%s: when using an ID, a single resource must be specified\n", prog);
		return EXIT_FAILURE;
	}
	if (!nwant)
		want[0] = want[1] = want[2] = 1;

	signal(SIGALRM, watchdog);
	ns_check();

	if (specific) {
		const struct tdesc *d = &TD[want[SVIPC_MSG] ? 0 : want[SVIPC_SHM] ? 1 : 2];
		struct objs l = { 0 };
		if (id >= 0 && collect(d, id, 1, &l) < 0)
			return EXIT_FAILURE;
		struct obj *o = l.n ? &l.v[0] : NULL;
		int bad = !o || (o->st == ST_DAMAGED && !json); /* read_obj said why */
		if (!o) /* ipcs says so and exits 0; an id that is not there is an error here */
			fprintf(stderr, "%s: id %d not found\n", prog, id);
		else if (o->st == ST_OK && d->type == SVIPC_SEM && !o->elem)
			bad = fprintf(stderr, "%s: semctl(GETVAL) failed: %s\n", prog,
				      strerror(o->elem_errno));
		if (bad) {
			objs_free(&l);
			return EXIT_FAILURE;
		}
		if (json) {
			printf("{\"namespace\":");
			jstr(svipc_dir());
			printf(",\"%s\":[", d->json);
			json_obj(d, o);
			printf("]}\n");
		} else {
			detail(d, unit, o);
			if (waiters) {
				table_waiters(d, &l);
				printf("\n");
			}
		}
		objs_free(&l);
		return finish();
	}

	if (json) {
		printf("{\"namespace\":");
		jstr(svipc_dir());
		if (fmt == F_LIMITS || fmt == F_STATUS)
			printf(",\"%s\":{", fmt == F_LIMITS ? "limits" : "summary");
		int first = 1;
		for (int k = 0; k < 3; k++) {
			const struct tdesc *d = &TD[k];
			if (!want[d->type])
				continue;
			if (fmt == F_LIMITS || fmt == F_STATUS) {
				if (!first)
					printf(",");
				first = 0;
				if (fmt == F_LIMITS)
					do_limits(d->type, unit);
				else
					do_summary(d->type, unit);
				continue;
			}
			struct objs l = { 0 };
			printf(",\"%s\":[", d->json);
			collect(d, -1, 1, &l);
			for (size_t i = 0; i < l.n; i++) {
				if (i)
					printf(",");
				json_obj(d, &l.v[i]);
			}
			printf("]");
			objs_free(&l);
		}
		if (fmt == F_LIMITS || fmt == F_STATUS)
			printf("}");
		printf("}\n");
		return finish();
	}

	printf("\n");
	for (int k = 0; k < 3; k++) {
		const struct tdesc *d = &TD[k];
		if (!want[d->type])
			continue;
		if (fmt == F_LIMITS || fmt == F_STATUS) {
			if (fmt == F_LIMITS)
				do_limits(d->type, unit);
			else
				do_summary(d->type, unit);
			printf("\n");
			continue;
		}
		struct objs l = { 0 };
		if (collect(d, -1, 0, &l) == 0) {
			if (d->type == SVIPC_MSG)
				table_msg(fmt, unit, &l);
			else if (d->type == SVIPC_SHM)
				table_shm(fmt, unit, &l);
			else
				table_sem(fmt, &l);
			printf("\n");
			if (waiters) {
				table_waiters(d, &l);
				printf("\n");
			}
		}
		objs_free(&l);
	}
	return finish();
}

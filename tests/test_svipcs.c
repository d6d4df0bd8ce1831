/*
 * svipcs: util-linux ipcs is the oracle. The same objects (keys, modes,
 * sizes, messages, semaphore values, attachments, owners) are made in a
 * fresh kernel IPC namespace and in a fresh svipc namespace, by one process
 * (so pids agree), and `ipcs OPTS` and `svipcs OPTS` must print the same
 * bytes for every option combination, once the kernel's ids are written as
 * svipc's (a fresh kernel namespace numbers from 0, svipc from 32768: same
 * index) and clock times are masked on both sides. Then what ipcs has not:
 * -w and --json (blocked msgrcv and semop callers, attached processes, a
 * lock held by a stopped and then by a dead process), the namespace checks
 * and the error messages.
 */
#include "t.h"
#include "tool_run.h"
#include "region.h"
#include "proc.h"

#include <fcntl.h>
#include <grp.h>
#include <regex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define OUTLEN 65536

static char kout[OUTLEN], sout[OUTLEN], kerr[4096], serr[4096];
static char ipcs_path[64];

static int svipcs(const char *const *args, char *out, char *err)
{
	return tool_run_buf(SVIPCS, args, out, OUTLEN, err, 4096);
}

static int ipcs(const char *const *args, char *out, char *err)
{
	return tool_run_buf(ipcs_path, args, out, OUTLEN, err, 4096);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- normalising ipcs's output --------------------------------------------- */

/*
 * Kernel id -> svipc id of the same object, with its ipcs option. Both
 * number a fresh namespace's objects by index from 0 (the kernel with
 * sequence 0, svipc with 1), so one map serves the three types.
 */
static struct { int kid, sid; const char *opt; } idmap[64];
static int nidmap;

static void pair(const char *opt, int kid, int sid)
{
	T_ASSERT(kid >= 0 && sid >= 0 && nidmap < 64);
	T_EQ(sid, kid + 32768);
	idmap[nidmap].kid = kid;
	idmap[nidmap].sid = sid;
	idmap[nidmap].opt = opt;
	nidmap++;
}

static int svipc_id_of(int kid)
{
	for (int i = 0; i < nidmap; i++)
		if (idmap[i].kid == kid)
			return idmap[i].sid;
	return -1;
}

/*
 * Rewrites the kernel id at s (digits) as svipc's, keeping the columns: the
 * longer id eats the padding after it. Appends to out; returns chars of s used.
 */
static size_t put_id(const char *s, char *out, size_t *n)
{
	size_t len = strspn(s, "0123456789");
	char num[16], buf[16];
	if (!len || len >= sizeof num) {
		out[(*n)++] = *s;
		return 1;
	}
	memcpy(num, s, len);
	num[len] = 0;
	int sid = svipc_id_of(atoi(num));
	if (sid < 0) {
		memcpy(out + *n, s, len);
		*n += len;
		return len;
	}
	int w = snprintf(buf, sizeof buf, "%d", sid);
	memcpy(out + *n, buf, (size_t)w);
	*n += (size_t)w;
	size_t used = len;
	/* eat padding, keeping one separating space */
	for (size_t extra = (size_t)w - len; extra && s[used] == ' ' && s[used + 1] == ' '; extra--)
		used++;
	return used;
}

/*
 * The id columns of ipcs's output (second of a "0x..." row, first of the
 * other tables' rows, "msqid=" and friends of -i) in svipc's numbering.
 */
static void kernel_ids_to_svipc(char *text)
{
	static char out[OUTLEN + 4096];
	size_t n = 0;
	int in_table = 0;
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');
		size_t llen = eol ? (size_t)(eol - line + 1) : strlen(line);
		const char *p = line;
		if (!strncmp(line, "msqid ", 6) || !strncmp(line, "shmid ", 6) ||
		    !strncmp(line, "semid ", 6) || !strncmp(line, "key ", 4))
			in_table = 1;
		else if (!strncmp(line, "semnum ", 7) || *line == '\n' || *line == '-')
			in_table = 0;
		if (!strncmp(line, "0x", 2) && llen > 11) {
			memcpy(out + n, line, 11);
			n += 11;
			p += 11;
			p += put_id(p, out, &n);
		} else if (in_table && *line >= '0' && *line <= '9') {
			p += put_id(p, out, &n);
		}
		while (p < line + llen) {
			static const char *const keys[] = { "msqid=", "shmid=", "semid=" };
			int hit = 0;
			for (int k = 0; k < 3; k++)
				if (!strncmp(p, keys[k], 6)) {
					memcpy(out + n, p, 6);
					n += 6;
					p += 6;
					p += put_id(p, out, &n);
					hit = 1;
				}
			if (!hit)
				out[n++] = *p++;
		}
		line += llen;
	}
	out[n] = 0;
	strcpy(text, out);
}

/* Clock times ("Nov 27 11:12:29", also inside ctime's longer form) masked. */
static void mask_times(char *text)
{
	static regex_t re;
	static int ready;
	if (!ready) {
		T_ASSERT(regcomp(&re, "[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]",
				 REG_EXTENDED) == 0);
		ready = 1;
	}
	regmatch_t m;
	char *p = text;
	while (regexec(&re, p, 1, &m, 0) == 0) {
		memcpy(p + m.rm_so, "MMM DD hh:mm:ss", 15);
		p += m.rm_eo;
	}
}

static void show_diff(const char *a, const char *b)
{
	int ln = 1;
	while (*a || *b) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
		if (la != lb || memcmp(a, b, la))
			fprintf(stderr, "  line %d:\n    ipcs  : [%.*s]\n    svipcs: [%.*s]\n", ln,
				(int)la, a, (int)lb, b);
		a += la + (ea ? 1 : 0);
		b += lb + (eb ? 1 : 0);
		ln++;
	}
}

static void args_text(const char *const *args, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; args[i]; i++) {
		strncat(buf, " ", len - strlen(buf) - 1);
		strncat(buf, args[i], len - strlen(buf) - 1);
	}
}

/* ipcs kargs and svipcs sargs print the same thing (status, stdout, stderr). */
static void same2(const char *const *kargs, const char *const *sargs)
{
	char what[256];
	args_text(sargs, what, sizeof what);
	int ks = ipcs(kargs, kout, kerr);
	int ss = svipcs(sargs, sout, serr);
	T_ASSERT(kout[0] != 0);
	kernel_ids_to_svipc(kout);
	mask_times(kout);
	mask_times(sout);
	if (ks != ss || strcmp(kout, sout) || strcmp(kerr, serr)) {
		T_FAIL("svipcs%s differs from ipcs (status %d vs %d, stderr [%s] vs [%s])", what,
		       ss, ks, serr, kerr);
		show_diff(kout, sout);
	}
}

static void same(const char *const *args)
{
	same2(args, args);
}

/* ---- JSON, checked by python3 ----------------------------------------------------- */

static int have_python = 1;

/*
 * Parses text as JSON (python3's json module, strict) and evaluates expr
 * over it as d; 1 if it parses and expr holds. With no python3, 1.
 */
static int json_ok(const char *text, const char *expr)
{
	if (!have_python)
		return 1;
	char script[2048];
	snprintf(script, sizeof script,
		 "import json,sys\nd=json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
		 "sys.exit(0 if (%s) else 3)\n", expr);
	int in[2];
	if (pipe(in))
		return 0;
	pid_t p = fork();
	if (p == 0) {
		alarm(20);
		dup2(in[0], 0);
		close(in[1]);
		execlp("python3", "python3", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	size_t len = strlen(text);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(in[1], text + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	int st;
	waitpid(p, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		fprintf(stderr, "note: no python3: JSON not parsed\n");
		have_python = 0;
		return 1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "JSON check failed (%s) on:\n%s\n", expr, text);
		return 0;
	}
	return 1;
}

/* ---- the oracle ------------------------------------------------------------------------ */

union semun4 {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void read_u64(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "re");
	unsigned long long x;
	if (f && fscanf(f, "%llu", &x) == 1)
		*v = x;
	if (f)
		fclose(f);
}

/* svipc's namespace gets the (fresh) kernel namespace's limits, for -l. */
static void copy_kernel_limits(void)
{
	struct svipc_limits l;
	memset(&l, 0, sizeof l);
	read_u64("/proc/sys/kernel/msgmax", &l.msgmax);
	read_u64("/proc/sys/kernel/msgmnb", &l.msgmnb);
	read_u64("/proc/sys/kernel/msgmni", &l.msgmni);
	read_u64("/proc/sys/kernel/shmmax", &l.shmmax);
	read_u64("/proc/sys/kernel/shmall", &l.shmall);
	read_u64("/proc/sys/kernel/shmmni", &l.shmmni);
	FILE *f = fopen("/proc/sys/kernel/sem", "re");
	unsigned long long s[4];
	T_ASSERT(f && fscanf(f, "%llu %llu %llu %llu", &s[0], &s[1], &s[2], &s[3]) == 4);
	if (f)
		fclose(f);
	l.semmsl = s[0], l.semmns = s[1], l.semopm = s[2], l.semmni = s[3];
	T_OK(svipc_limits_set(&l));
}

struct msgbuf_ {
	long mtype;
	char text[2048];
};

/*
 * Attachments live in a child of their own: a process that forks (to run
 * ipcs or svipcs) and execs while attached detaches and attaches again,
 * which the segments' lpid, dtime and atime would show.
 */
static pid_t holder;

/* Makes the same objects on both sides. */
static void make_objects(void)
{
	static const struct { key_t key; int mode; int nmsg; size_t sz[3]; int recv; } qs[] = {
		{ 0x5c0001, 0644, 3, { 10, 100, 1000 }, 0 },
		{ IPC_PRIVATE, 0600, 0, { 0 }, 0 },
		{ 0x5c0003, 0640, 2, { 2048, 1 }, 1 },
		{ 0x7fffffff, 0622, 1, { 1024 }, 0 },
	};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		int flg = IPC_CREAT | IPC_EXCL | qs[i].mode;
		int k = msgget(qs[i].key, flg), s = svipc_msgget(qs[i].key, flg);
		pair("-q", k, s);
		struct msgbuf_ m = { 7, { 0 } };
		for (int j = 0; j < qs[i].nmsg; j++) {
			T_OK(msgsnd(k, &m, qs[i].sz[j], 0));
			T_OK(svipc_msgsnd(s, &m, qs[i].sz[j], 0));
		}
		if (qs[i].recv) {
			T_OK(msgrcv(k, &m, sizeof m.text, 0, 0));
			T_OK(svipc_msgrcv(s, &m, sizeof m.text, 0, 0));
		}
	}
	/* Sizes that exercise --human's rounding; the big ones reserve nothing. */
	static const struct { key_t key; size_t size; int mode; int attach, rmid, lock; } ms[] = {
		{ 0x5c0101, 5000, 0644, 0, 0, 0 },
		{ IPC_PRIVATE, 1048576, 0640, 1, 0, 0 },
		{ 0x5c0103, 123456789, 0600, 1, 1, 0 },
		{ 0x5c0104, 1, 0666, 0, 0, 1 },
		{ 0x5c0105, 1023, 0600, 0, 0, 0 },
		{ 0x5c0106, 1076, 0600, 0, 0, 0 },
		{ 0x5c0107, 1048575, 0600, 0, 0, 0 },
		{ 0x5c0108, 1047040, 0600, 2, 0, 0 },
		{ 0x5c0109, 5190451, 0600, 0, 0, 0 },
	};
	enum { NMS = sizeof ms / sizeof ms[0] };
	int kid[NMS], sid[NMS];
	for (size_t i = 0; i < NMS; i++) {
		int flg = IPC_CREAT | IPC_EXCL | SHM_NORESERVE | ms[i].mode;
		kid[i] = shmget(ms[i].key, ms[i].size, flg);
		sid[i] = svipc_shmget(ms[i].key, ms[i].size, flg);
		pair("-m", kid[i], sid[i]);
		if (ms[i].lock) {
			T_OK(shmctl(kid[i], SHM_LOCK, NULL));
			T_OK(svipc_shmctl(sid[i], SHM_LOCK, NULL));
		}
	}
	/* A segment attached then detached: attach and detach times. */
	{
		int k = shmget(0x5c0110, 8192, IPC_CREAT | 0600), s = svipc_shmget(0x5c0110, 8192, IPC_CREAT | 0600);
		pair("-m", k, s);
		void *pk = shmat(k, NULL, 0), *ps = svipc_shmat(s, NULL, 0);
		T_OK(shmdt(pk));
		T_OK(svipc_shmdt(ps));
	}
	int ready[2];
	T_ASSERT(pipe(ready) == 0);
	holder = fork();
	if (holder == 0) {
		alarm(170);
		for (size_t i = 0; i < NMS; i++)
			for (int a = 0; a < ms[i].attach; a++) {
				char *pk = shmat(kid[i], NULL, 0), *ps = svipc_shmat(sid[i], NULL, 0);
				if (pk == (void *)-1 || ps == (void *)-1)
					_exit(1);
				if (a == 0)
					pk[0] = ps[0] = 1; /* one page resident */
			}
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char x;
	T_EQ(read(ready[0], &x, 1), 1);
	close(ready[0]);
	close(ready[1]);
	for (size_t i = 0; i < NMS; i++)
		if (ms[i].rmid) {
			T_OK(shmctl(kid[i], IPC_RMID, NULL));
			T_OK(svipc_shmctl(sid[i], IPC_RMID, NULL));
		}
	static const struct { key_t key; int nsems, mode; int op; } ss[] = {
		{ 0x5c0201, 3, 0644, 1 },
		{ IPC_PRIVATE, 1, 0666, 0 },
		{ 0x5c0203, 5, 0600, 1 },
	};
	for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++) {
		int flg = IPC_CREAT | IPC_EXCL | ss[i].mode;
		int k = semget(ss[i].key, ss[i].nsems, flg), s = svipc_semget(ss[i].key, ss[i].nsems, flg);
		pair("-s", k, s);
		if (ss[i].op) {
			struct sembuf up[2] = { { 1, 2, 0 }, { 0, 5, 0 } };
			T_OK(semop(k, up, 2));
			T_OK(svipc_semop(s, up, 2));
		}
	}
	/* Owners with no name: numeric columns. */
	struct msqid_ds qd;
	struct shmid_ds md;
	struct semid_ds sd;
	int kq = idmap[2].kid, sq = idmap[2].sid;
	T_OK(msgctl(kq, IPC_STAT, &qd));
	qd.msg_perm.uid = 54321, qd.msg_perm.gid = 54322;
	T_OK(msgctl(kq, IPC_SET, &qd));
	T_OK(svipc_msgctl(sq, IPC_SET, &qd));
	int km = idmap[4].kid, sm = idmap[4].sid;
	T_OK(shmctl(km, IPC_STAT, &md));
	md.shm_perm.uid = 54321;
	T_OK(shmctl(km, IPC_SET, &md));
	T_OK(svipc_shmctl(sm, IPC_SET, &md));
	int ks = idmap[nidmap - 2].kid, ssid = idmap[nidmap - 2].sid;
	union semun4 a = { .buf = &sd };
	T_OK(semctl(ks, 0, IPC_STAT, a));
	sd.sem_perm.gid = 54322;
	T_OK(semctl(ks, 0, IPC_SET, a));
	T_OK(svipc_semctl(ssid, 0, IPC_SET, a));
}

static void oracle(void)
{
	if (unshare(CLONE_NEWIPC) != 0) {
		fprintf(stderr, "note: no private IPC namespace (%s): ipcs comparison skipped\n",
			strerror(errno));
		exit(77);
	}
	copy_kernel_limits();
	make_objects();

	static const char *const combos[][6] = {
		{ NULL }, { "-a" }, { "-q" }, { "-m" }, { "-s" }, { "-q", "-m" }, { "-m", "-s" },
		{ "-s", "-q" }, { "-t" }, { "-p" }, { "-c" }, { "-l" }, { "-u" }, { "--human" },
		{ "-b" }, { "-q", "--human" }, { "-m", "--human" }, { "-m", "-b" }, { "-l", "--human" },
		{ "-l", "-b" }, { "-u", "--human" }, { "-u", "-b" }, { "-t", "-p" }, { "-p", "-t" },
		{ "-s", "-p" }, { "-q", "-t" }, { "-m", "-t" }, { "-s", "-t" }, { "-q", "-p" },
		{ "-m", "-p" }, { "-q", "-c" }, { "-m", "-c" }, { "-s", "-c" }, { "-a", "-l" },
		{ "-m", "-l" }, { "-s", "-l" }, { "-q", "-u" }, { "-m", "-u" }, { "-s", "-u" },
		{ "--queues", "--shmems", "--semaphores" }, { "--time" }, { "--pid" }, { "--creator" },
		{ "--limits" }, { "--summary" }, { "--bytes" }, { "--all", "--human" },
		{ "--human", "-t" }, { "-qms", "-c" }, { "-mb" }, { "-l", "-t" }, { "-t", "-l" },
		{ "-u", "-c", "-m" }, { "-b", "--human", "-q" },
	};
	for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++)
		same(combos[i]);

	/* -i for every object, in bytes and --human, and a few refusals. */
	for (int i = 0; i < nidmap; i++) {
		char k[16], s[16];
		snprintf(k, sizeof k, "%d", idmap[i].kid);
		snprintf(s, sizeof s, "%d", idmap[i].sid);
		const char *type = idmap[i].opt;
		same2((const char *[]){ type, "-i", k, NULL }, (const char *[]){ type, "-i", s, NULL });
		same2((const char *[]){ "--id", k, type, "--human", NULL },
		      (const char *[]){ "--id", s, type, "--human", NULL });
		same2((const char *[]){ type, "-b", "-i", k, NULL }, (const char *[]){ type, "-b", "-i", s, NULL });
	}
	static const char *const refusals[][4] = {
		{ "-z" }, { "--bogus" }, { "-i" }, { "-i", "3" }, { "-q", "-m", "-i", "0" },
		{ "-q", "-i", "abc" }, { "-q", "-i", "" }, { "-q", "-i", "99999999999" }, { "-s", "-i", "5x" },
	};
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		/* the messages name the program: ipcs's, as svipcs's would be */
		int ks = ipcs(refusals[i], kout, kerr);
		int ss = svipcs(refusals[i], sout, serr);
		char want[4096 + 16];
		const char *e = kerr;
		size_t n = 0;
		/* getopt names it by its path (argv[0]), ipcs's own messages by its name */
		for (const char *p; (p = strstr(e, "ipcs")); e = p + 4) {
			size_t pl = strlen(ipcs_path);
			if (p - e >= (long)(pl - 4) && !strncmp(p - (pl - 4), ipcs_path, pl))
				n += (size_t)snprintf(want + n, sizeof want - n, "%.*ssvipcs",
						      (int)(p - (pl - 4) - e), e);
			else
				n += (size_t)snprintf(want + n, sizeof want - n, "%.*ssvipcs", (int)(p - e), e);
		}
		snprintf(want + n, sizeof want - n, "%s", e);
		if (ks != ss || strcmp(serr, want) || strcmp(kout, sout))
			T_FAIL("refusal %s %s: status %d vs ipcs %d, stderr [%s] vs [%s]", refusals[i][0],
			       refusals[i][1] ? refusals[i][1] : "", ss, ks, serr, want);
	}
	/* An id that is not there: ipcs warns and exits 0, svipcs exits 1. */
	T_EQ(svipcs((const char *[]){ "-q", "-i", "12345", NULL }, sout, serr), 1);
	T_ASSERT(!strcmp(serr, "svipcs: id 12345 not found\n"));
	T_EQ(ipcs((const char *[]){ "-q", "-i", "12345", NULL }, kout, kerr), 0);
	T_ASSERT(!strcmp(kerr, "ipcs: id 12345 not found\n"));

	/* svipcs prints what the library's SHM_INFO says. */
	struct shm_info si;
	T_ASSERT(svipc_shmctl(0, SHM_INFO, (struct shmid_ds *)&si) >= 0);
	char want[64];
	snprintf(want, sizeof want, "\npages resident  %lu\n", si.shm_rss);
	T_EQ(svipcs((const char *[]){ "-m", "-u", NULL }, sout, serr), 0);
	T_ASSERT(strstr(sout, want) != NULL);

	/* --json: the values IPC_STAT gives, times included. */
	T_EQ(svipcs((const char *[]){ "--json", NULL }, sout, serr), 0);
	struct msqid_ds q0;
	T_OK(svipc_msgctl(idmap[0].sid, IPC_STAT, &q0));
	char expr[1024];
	snprintf(expr, sizeof expr,
		 "[ (o['id'], o['key'], o['msg_perm']['mode'], o['msg_qnum'], o['msg_cbytes'], "
		 "o['msg_stime'], o['msg_ctime'], o['msg_lspid'], o['status'], o['waiters']) "
		 "for o in d['message_queues'] if o['id'] == %d ] == "
		 "[(%d, %u, %u, 3, 1110, %lld, %lld, %d, 'ok', [])] and len(d['shared_memory']) == 10 "
		 "and len(d['semaphore_arrays']) == 3 and "
		 "[s['semval'] for s in d['semaphore_arrays'][0]['sems']] == [5, 2, 0]",
		 idmap[0].sid, idmap[0].sid, (unsigned)q0.msg_perm.__key, (unsigned)q0.msg_perm.mode,
		 (long long)q0.msg_stime, (long long)q0.msg_ctime, (int)getpid());
	T_ASSERT(json_ok(sout, expr));
	T_EQ(svipcs((const char *[]){ "-l", "--json", NULL }, sout, serr), 0);
	T_ASSERT(json_ok(sout, "d['limits']['msg']['msgmnb'] == 16384 and "
			       "d['limits']['sem']['semvmx'] == 32767 and 'shm' in d['limits']"));
	T_EQ(svipcs((const char *[]){ "-u", "-q", "--json", NULL }, sout, serr), 0);
	T_ASSERT(json_ok(sout, "d['summary'] == {'msg': {'msgpool': 4, 'msgmap': 5, 'msgtql': 2135}}"));
	T_EQ(svipcs((const char *[]){ "--summary", "--json", NULL }, sout, serr), 0);
	T_ASSERT(json_ok(sout, "d['summary']['sem'] == {'semusz': 3, 'semaem': 9} and "
			       "d['summary']['shm']['used_ids'] == 10 and d['summary']['shm']['shm_swp'] == 0 "
			       "and d['summary']['msg']['msgmap'] == 5"));
	/* the segment removed while attached: dest in its mode, key gone, attached by the holder */
	char m2[16];
	snprintf(m2, sizeof m2, "%d", idmap[6].sid);
	T_EQ(svipcs((const char *[]){ "-m", "--json", "-i", m2, NULL }, sout, serr), 0);
	snprintf(expr, sizeof expr, "[(o['key'], o['shm_perm']['mode'] & 0o1777, o['shm_nattch'], "
		 "[a['pid'] for a in o['attached']]) for o in d['shared_memory']] == [(0, 0o1600, 1, [%d])]",
		 (int)holder);
	T_ASSERT(json_ok(sout, expr));
	char s0[16];
	snprintf(s0, sizeof s0, "%d", idmap[nidmap - 1].sid);
	T_EQ(svipcs((const char *[]){ "-s", "-i", s0, "-j", NULL }, sout, serr), 0);
	T_ASSERT(json_ok(sout, "len(d['semaphore_arrays']) == 1 and "
			       "[s['semval'] for s in d['semaphore_arrays'][0]['sems']] == [5, 2, 0, 0, 0]"));
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	exit(t_done());
}

/* ---- what ipcs has not ------------------------------------------------------------------- */

/* Runs svipcs until its output has needle (a child is on its way to block); 1 if it did. */
static int wait_for(const char *const *args, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		if (svipcs(args, sout, serr) == 0 && strstr(sout, needle))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* 1 if text has a line that starts with prefix and ends with suffix. */
static int has_line(const char *text, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		if (len >= lp + ls && !strncmp(l, prefix, lp) && !strncmp(l + len - ls, suffix, ls))
			return 1;
	}
	return 0;
}

static void kill_reap(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

/* A child that writes its own token into the lock word of object file name, then stays or dies. */
static pid_t fake_holder(const char *dir, const char *name, int die)
{
	int ready[2];
	T_ASSERT(pipe(ready) == 0);
	pid_t c = fork();
	if (c == 0) {
		alarm(30);
		char path[256];
		snprintf(path, sizeof path, "%s/%s", dir, name);
		uint32_t tok = svipc__proc_token();
		int fd = open(path, O_RDWR);
		struct svipc_obj *o = fd < 0 ? MAP_FAILED
			: mmap(NULL, sizeof *o, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (!tok || o == MAP_FAILED)
			_exit(1);
		uint32_t zero = 0;
		if (!__atomic_compare_exchange_n(&o->lock, &zero, tok, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			_exit(1);
		if (die)
			raise(SIGKILL);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	char x;
	if (die) {
		int st;
		waitpid(c, &st, 0);
		T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	} else {
		T_EQ(read(ready[0], &x, 1), 1);
	}
	close(ready[0]);
	return c;
}

static void extras(void)
{
	char dir[128], ids[3][16], want[256];
	snprintf(dir, sizeof dir, "%s/extras", t_dir);
	T_OK(mkdir(dir, 0700));
	setenv("SVIPC_DIR", dir, 1);
	int q = T_OK(svipc_msgget(0x5d0001, IPC_CREAT | 0600));
	int m = T_OK(svipc_shmget(0x5d0002, 4096, IPC_CREAT | 0600));
	int s = T_OK(svipc_semget(0x5d0003, 2, IPC_CREAT | 0600));
	snprintf(ids[0], 16, "%d", q);
	snprintf(ids[1], 16, "%d", m);
	snprintf(ids[2], 16, "%d", s);

	/* A blocked msgrcv, a blocked semop and an attached process. */
	pid_t rc = fork();
	if (rc == 0) {
		alarm(30);
		struct msgbuf_ mb;
		svipc_msgrcv(q, &mb, 4096, 5, 0);
		_exit(0);
	}
	pid_t sc = fork();
	if (sc == 0) {
		alarm(30);
		struct sembuf down = { 1, -1, 0 };
		svipc_semop(s, &down, 1);
		_exit(0);
	}
	pid_t ac = fork();
	if (ac == 0) {
		alarm(30);
		if (svipc_shmat(m, NULL, 0) == (void *)-1)
			_exit(1);
		for (;;)
			pause();
	}
	/* the rows: id, pid, alive, waited (a number of seconds, or "-"), what */
	char row[3][128];
	snprintf(row[0], sizeof row[0], "\n%-10d %-10d %-6s ", q, (int)rc, "yes");
	snprintf(row[1], sizeof row[1], "\n%-10d %-10d %-6s %-10s %s\n", m, (int)ac, "yes", "-", "attached");
	snprintf(row[2], sizeof row[2], "\n%-10d %-10d %-6s ", s, (int)sc, "yes");
	T_ASSERT(wait_for((const char *[]){ "-w", NULL }, row[0]));
	T_ASSERT(wait_for((const char *[]){ "-w", NULL }, row[2]));
	T_ASSERT(wait_for((const char *[]){ "-w", NULL }, row[1]));
	T_EQ(svipcs((const char *[]){ "-w", NULL }, sout, serr), 0);
	T_ASSERT(strstr(sout, "\n------ Message Queues Waiters --------\n"
			      "msqid      pid        alive  waited     what\n") != NULL);
	T_ASSERT(strstr(sout, "\n------ Shared Memory Attachments --------\n"
			      "shmid      pid        alive  waited     what\n") != NULL);
	T_ASSERT(strstr(sout, "\n------ Semaphore Arrays Waiters --------\n"
			      "semid      pid        alive  waited     what\n") != NULL);
	T_ASSERT(has_line(sout, row[0] + 1, "s       msgrcv type 5, up to 4096 bytes"));
	T_ASSERT(has_line(sout, row[2] + 1, "s       semop sem 1 -1"));
	T_ASSERT(strstr(sout, row[1]) != NULL);
	T_ASSERT(serr[0] == 0);
	/* the default output has none of it */
	T_EQ(svipcs((const char *[]){ NULL }, sout, serr), 0);
	T_ASSERT(!strstr(sout, "Waiters") && !strstr(sout, "Attachments"));
	/* -i with -w: that object's section only */
	T_EQ(svipcs((const char *[]){ "-q", "-i", ids[0], "-w", NULL }, sout, serr), 0);
	T_ASSERT(strstr(sout, row[0]) && !strstr(sout, "Semaphore"));

	T_EQ(svipcs((const char *[]){ "--json", NULL }, sout, serr), 0);
	char expr[1024];
	snprintf(expr, sizeof expr,
		 "[(w['pid'], w['alive'], w['what']) for w in d['message_queues'][0]['waiters']] == "
		 "[(%d, True, 'msgrcv type 5, up to 4096 bytes')] and "
		 "[(w['pid'], w['alive'], w['what']) for w in d['semaphore_arrays'][0]['waiters']] == "
		 "[(%d, True, 'semop sem 1 -1')] and d['semaphore_arrays'][0]['sems'][1]['semncnt'] == 1 and "
		 "%d in [a['pid'] for a in d['shared_memory'][0]['attached']] and "
		 "d['shared_memory'][0]['shm_nattch'] == 1 and "
		 "all(w['waited_s'] >= 0 for w in d['message_queues'][0]['waiters']) and "
		 "d['message_queues'][0]['lock'] == {'pid': 0, 'dead': False} and "
		 "d['namespace'] == '%s'",
		 (int)rc, (int)sc, (int)ac, dir);
	T_ASSERT(json_ok(sout, expr));
	kill_reap(rc);
	kill_reap(sc);
	kill_reap(ac);

	/*
	 * A lock kept by a live (stuck) process: reported, not waited for; the
	 * row is the same, read without the lock. The table as it stands:
	 */
	struct msgbuf_ mb = { 3, "hello" };
	T_OK(svipc_msgsnd(q, &mb, 6, 0));
	T_EQ(svipcs((const char *[]){ "-q", NULL }, sout, serr), 0);
	static char table[OUTLEN];
	snprintf(table, sizeof table, "%s", sout);
	T_ASSERT(strstr(table, "0x005d0001") && strstr(table, " 6            1           \n"));
	T_EQ(svipcs((const char *[]){ "-q", "-t", NULL }, sout, serr), 0);
	static char times[OUTLEN];
	snprintf(times, sizeof times, "%s", sout);
	char name[32];
	snprintf(name, sizeof name, "msg.%d", q);
	pid_t h = fake_holder(dir, name, 0);
	int64_t t0 = now_ns();
	T_EQ(svipcs((const char *[]){ "-q", NULL }, sout, serr), 0);
	T_ASSERT(now_ns() - t0 < 8000000000LL);
	snprintf(want, sizeof want, "svipcs: message queue %d: its lock stays with process %d "
		 "(stopped?); shown as read without the lock\n", q, (int)h);
	T_ASSERT(!strcmp(serr, want));
	T_ASSERT(!strcmp(sout, table));
	T_EQ(svipcs((const char *[]){ "-q", "-w", "--json", NULL }, sout, serr), 0);
	snprintf(expr, sizeof expr, "d['message_queues'][0]['status'] == 'lock_held' and "
		 "d['message_queues'][0]['lock'] == {'pid': %d, 'dead': False} and "
		 "d['message_queues'][0]['msg_qnum'] == 1 and d['message_queues'][0]['msg_cbytes'] == 6",
		 (int)h);
	T_ASSERT(json_ok(sout, expr));
	T_ASSERT(serr[0] == 0);
	/* ... then killed: a dead lock holder, left for the next user; the row still there. */
	kill_reap(h);
	T_EQ(svipcs((const char *[]){ NULL }, sout, serr), 0);
	snprintf(want, sizeof want, "svipcs: message queue %d: lock holder %d died; its next user "
		 "recovers it (or: svipcadm check --repair)\n", q, (int)h);
	T_ASSERT(!strcmp(serr, want));
	T_ASSERT(strstr(sout, table + 1) != NULL);
	T_ASSERT(strstr(sout, "0x005d0002") && strstr(sout, "0x005d0003"));
	T_EQ(svipcs((const char *[]){ "-q", "-t", NULL }, sout, serr), 0);
	T_ASSERT(!strcmp(sout, times));
	T_EQ(svipcs((const char *[]){ "-q", "-w", NULL }, sout, serr), 0);
	snprintf(want, sizeof want, "\n%-10d %-10d %-6s %-10s %s\n", q, (int)h, "no", "-",
		 "died holding the lock: its next user recovers it");
	T_ASSERT(strstr(sout, want) != NULL);
	T_EQ(svipcs((const char *[]){ "-j", "-q", NULL }, sout, serr), 0);
	snprintf(expr, sizeof expr, "d['message_queues'][0]['status'] == 'lock_holder_dead' and "
		 "d['message_queues'][0]['lock'] == {'pid': %d, 'dead': True}", (int)h);
	T_ASSERT(json_ok(sout, expr));
	/* svipcs changed nothing: still so after five runs; the next user recovers it */
	T_EQ(svipcs((const char *[]){ "-q", "-i", ids[0], NULL }, sout, serr), 0);
	T_ASSERT(strstr(serr, "died") && strstr(sout, "cbytes=6\tqbytes=16384\tqnum=1\t"));
	struct msqid_ds qd;
	T_OK(svipc_msgctl(q, IPC_STAT, &qd));
	T_EQ(svipcs((const char *[]){ "-q", NULL }, sout, serr), 0);
	T_ASSERT(!strcmp(sout, table) && serr[0] == 0);

	/* The same for a set and a segment. */
	snprintf(name, sizeof name, "sem.%d", s);
	h = fake_holder(dir, name, 1);
	snprintf(name, sizeof name, "shm.%d", m);
	pid_t h2 = fake_holder(dir, name, 1);
	T_EQ(svipcs((const char *[]){ "-s", "-m", NULL }, sout, serr), 0);
	snprintf(want, sizeof want, "svipcs: shared memory segment %d: lock holder %d died", m, (int)h2);
	T_ASSERT(strstr(serr, want) != NULL);
	snprintf(want, sizeof want, "svipcs: semaphore array %d: lock holder %d died", s, (int)h);
	T_ASSERT(strstr(serr, want) != NULL);
	T_ASSERT(strstr(sout, "0x005d0002") && strstr(sout, "0x005d0003"));
	/* -i of a set whose lock is not free: all but the values, which need the lock */
	T_EQ(svipcs((const char *[]){ "-s", "-i", ids[2], NULL }, sout, serr), 0);
	T_ASSERT(strstr(sout, "nsems = 2\n") && strstr(sout, "semnum     value      ncount     zcount     pid       \n\n"));
	snprintf(want, sizeof want, "svipcs: semaphore array %d: values not shown while its lock is not free\n", s);
	T_ASSERT(strstr(serr, want) != NULL);
	T_OK(svipc_semctl(s, 0, GETVAL));
	T_OK(svipc_shmctl(m, IPC_STAT, &(struct shmid_ds){ 0 }));
	T_EQ(svipcs((const char *[]){ NULL }, sout, serr), 0);
	T_ASSERT(serr[0] == 0);

	/* A damaged object (its header says it failed validation). */
	int s2 = T_OK(svipc_semget(0x5d0004, 1, IPC_CREAT | 0600));
	char path[256];
	snprintf(path, sizeof path, "%s/sem.%d", dir, s2);
	int fd = open(path, O_RDWR);
	struct svipc_obj *ob = fd < 0 ? MAP_FAILED
		: mmap(NULL, sizeof *ob, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	T_ASSERT(ob != MAP_FAILED);
	if (fd >= 0)
		close(fd);
	if (ob != MAP_FAILED) {
		__atomic_store_n(&ob->corrupt, 1, __ATOMIC_SEQ_CST);
		T_EQ(svipcs((const char *[]){ "-s", "-w", NULL }, sout, serr), 0);
		snprintf(want, sizeof want, "svipcs: semaphore array %d: damaged, unusable (see svipcadm "
			 "check); not listed\n", s2);
		T_ASSERT(!strcmp(serr, want));
		snprintf(want, sizeof want, "\n%-10d %-10s %-6s %-10s %s\n", s2, "-", "-", "-",
			 "damaged, unusable (see svipcadm check)");
		T_ASSERT(strstr(sout, want) && !strstr(sout, "0x005d0004"));
		T_EQ(svipcs((const char *[]){ "-s", "-j", NULL }, sout, serr), 0);
		snprintf(expr, sizeof expr, "[(o['id'], o['status'], o['corrupt']) for o in "
			 "d['semaphore_arrays']] == [(%d, 'ok', False), (%d, 'damaged', True)]", s, s2);
		T_ASSERT(json_ok(sout, expr));
		munmap(ob, sizeof *ob);
	}

	/*
	 * JSON strings escaped: a namespace whose name has a quote, a
	 * backslash, a tab and a byte that is not UTF-8 (an empty one: this
	 * process's namespace is chosen for good at its first call).
	 */
	char odd[192];
	snprintf(odd, sizeof odd, "%s/we\"ird\\ na\tme\xff", t_dir);
	T_OK(mkdir(odd, 0700));
	T_EQ(svipcs((const char *[]){ "-j", "--dir", odd, NULL }, sout, serr), 0);
	T_ASSERT(json_ok(sout, "d['namespace'].endswith('/we\"ird\\\\ na\\tme\\xff') and "
			       "d['message_queues'] == [] and d['shared_memory'] == []"));
	T_ASSERT(strstr(sout, "we\\\"ird\\\\ na\\u0009me\\u00ff\"") != NULL);
}

/* ---- the namespace and the command line ------------------------------------------------------ */

/* svipcs --dir dir as user nobody: its status, its stderr into err. */
static int as_nobody(const char *dir, char *err)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t c = fork();
	if (c == 0) {
		alarm(20);
		int null = open("/dev/null", O_WRONLY);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(99);
		dup2(null, 1);
		dup2(p[1], 2);
		execl(SVIPCS, SVIPCS, "--dir", dir, (char *)NULL);
		_exit(98);
	}
	close(p[1]);
	tool_slurp(p[0], err, 4096);
	close(p[0]);
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void errors(void)
{
	char path[192], want[512];
	/* A missing directory: an error, and not created. */
	snprintf(path, sizeof path, "%s/missing", t_dir);
	T_EQ(svipcs((const char *[]){ "--dir", path, NULL }, sout, serr), 1);
	snprintf(want, sizeof want, "svipcs: cannot open namespace %s: No such file or directory\n", path);
	T_ASSERT(!strcmp(serr, want));
	T_ASSERT(sout[0] == 0);
	T_ASSERT(access(path, F_OK) != 0);
	/* SVIPC_DIR too */
	setenv("SVIPC_DIR", path, 1);
	T_EQ(svipcs((const char *[]){ "-l", NULL }, sout, serr), 1);
	T_ASSERT(!strcmp(serr, want));
	T_ASSERT(access(path, F_OK) != 0);
	/* A regular file. */
	snprintf(path, sizeof path, "%s/file", t_dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	T_ASSERT(fd >= 0);
	close(fd);
	T_EQ(svipcs((const char *[]){ "--dir", path, "-q", NULL }, sout, serr), 1);
	snprintf(want, sizeof want, "svipcs: cannot open namespace %s: Not a directory\n", path);
	T_ASSERT(!strcmp(serr, want));
	/* A directory with other things in it and no namespace file: not ours, left alone. */
	snprintf(path, sizeof path, "%s/foreign", t_dir);
	T_OK(mkdir(path, 0700));
	char f2[256];
	snprintf(f2, sizeof f2, "%s/notes.txt", path);
	fd = open(f2, O_CREAT | O_WRONLY, 0600);
	close(fd);
	T_EQ(svipcs((const char *[]){ "--dir", path, NULL }, sout, serr), 1);
	snprintf(want, sizeof want, "svipcs: cannot open namespace %s: not an svipc namespace (no ns file)\n",
		 path);
	T_ASSERT(!strcmp(serr, want));
	snprintf(f2, sizeof f2, "%s/ns", path);
	T_ASSERT(access(f2, F_OK) != 0);
	/* A namespace file that is not one. */
	fd = open(f2, O_CREAT | O_WRONLY, 0666);
	T_EQ(write(fd, "hello", 5), 5);
	close(fd);
	T_EQ(svipcs((const char *[]){ "--dir", path, "-j", NULL }, sout, serr), 1);
	snprintf(want, sizeof want,
		 "svipcs: cannot open namespace %s: not an svipc namespace (its ns file is not one)\n", path);
	T_ASSERT(!strcmp(serr, want));
	T_ASSERT(sout[0] == 0);
	/* World-writable without the sticky bit: the library refuses it, so do we, saying why. */
	snprintf(path, sizeof path, "%s/open", t_dir);
	T_OK(mkdir(path, 0700));
	T_OK(chmod(path, 0777));
	T_EQ(svipcs((const char *[]){ "--dir", path, NULL }, sout, serr), 1);
	T_ASSERT(strstr(serr, "world-writable without the sticky bit") != NULL);
	/* An empty directory is a namespace nobody used yet: empty tables. */
	snprintf(path, sizeof path, "%s/empty", t_dir);
	T_OK(mkdir(path, 0700));
	T_EQ(svipcs((const char *[]){ "--dir", path, "-q", NULL }, sout, serr), 0);
	T_ASSERT(!strcmp(sout, "\n------ Message Queues --------\n"
			       "key        msqid      owner      perms      used-bytes   messages    \n\n"));
	/*
	 * No permission, for nobody: a directory it may not enter, then a
	 * namespace whose ns file it may not open.
	 */
	if (geteuid() == 0) {
		snprintf(path, sizeof path, "%s/extras", t_dir);
		snprintf(want, sizeof want, "svipcs: cannot open namespace %s: Permission denied\n", path);
		T_EQ(as_nobody(path, serr), 1);
		T_ASSERT(!strcmp(serr, want));
		snprintf(path, sizeof path, "%s/perm", t_dir);
		T_OK(mkdir(path, 0755));
		T_EQ(svipcs((const char *[]){ "--dir", path, NULL }, sout, serr), 0); /* makes its files */
		snprintf(f2, sizeof f2, "%s/ns", path);
		T_OK(chmod(f2, 0600));
		T_OK(chmod(t_dir, 0711));
		snprintf(want, sizeof want, "svipcs: cannot open namespace %s: Permission denied\n", path);
		T_EQ(as_nobody(path, serr), 1);
		T_ASSERT(!strcmp(serr, want));
		T_OK(chmod(t_dir, 0700));
	}
	/* Help and version. */
	setenv("SVIPC_DIR", t_dir, 1);
	T_EQ(svipcs((const char *[]){ "--help", NULL }, sout, serr), 0);
	T_ASSERT(strstr(sout, "--json") && strstr(sout, "--waiters") && strstr(sout, "--dir") &&
		 strstr(sout, "--human"));
	T_EQ(svipcs((const char *[]){ "-V", NULL }, sout, serr), 0);
	T_ASSERT(!strcmp(sout, "svipcs from svipc " SVIPC_VERSION_STRING "\n"));
	T_EQ(svipcs((const char *[]){ "-q", "junk", NULL }, sout, serr), 1);
	T_ASSERT(!strcmp(serr, "svipcs: unknown argument: junk\nTry 'svipcs --help' for more information.\n"));
	T_EQ(svipcs((const char *[]){ "-i", "1", NULL }, sout, serr), 1);
	T_ASSERT(!strcmp(serr, "svipcs: when using an ID, a single resource must be specified\n"));
}

static int find_ipcs(void)
{
	static const char *const where[] = { "/usr/bin/ipcs", "/bin/ipcs", "/usr/local/bin/ipcs" };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
		if (access(where[i], X_OK) == 0) {
			snprintf(ipcs_path, sizeof ipcs_path, "%s", where[i]);
			return 1;
		}
	return 0;
}

int main(void)
{
	t_setup(240);
	setenv("TZ", "UTC", 1); /* the same clock text on both sides */
	/* The oracle, in a child of its own: a fresh kernel IPC namespace dies with it. */
	if (find_ipcs()) {
		char dir[128];
		snprintf(dir, sizeof dir, "%s/oracle", t_dir);
		T_OK(mkdir(dir, 0700));
		pid_t c = fork();
		if (c == 0) {
			alarm(180);
			setenv("SVIPC_DIR", dir, 1);
			oracle();
		}
		int st;
		waitpid(c, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
			fprintf(stderr, "note: the ipcs comparison did not run\n");
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			T_FAIL("the ipcs comparison failed (status %#x)", st);
	} else {
		fprintf(stderr, "note: no ipcs: the comparison with it did not run\n");
	}
	extras();
	errors();
	return t_done();
}

/*
 * prog_plain_shm.c - an ordinary System V shared memory program.
 *
 * Written against <sys/shm.h> only and NOT linked with svipc: test_shim_shm
 * runs it under LD_PRELOAD=libsvipc-preload.so to show that unmodified
 * programs share memory through svipc. It works just as well on the kernel
 * (run it directly, or under the shim with SVIPC_PRELOAD_KERNEL=1).
 *
 * usage:
 *   prog_plain_shm -n
 *       touch no segment at all, just exit 0.
 *   prog_plain_shm self PATH PROJ
 *       key = ftok(PATH, PROJ): create (IPC_EXCL), attach, write, fork a child
 *       that inherits the attachment, a second read-only attachment, IPC_SET,
 *       IPC_RMID while attached (key hidden, SHM_DEST, still usable), last
 *       detach destroys it; IPC_INFO / SHM_INFO; IPC_64 refused as the x86-64
 *       kernel does. Leaves nothing behind.
 *   prog_plain_shm create PATH PROJ SIZE
 *       creates the keyed segment (IPC_EXCL, mode 0640), attaches it
 *       read-write, fills it with pattern(key, i), checks IPC_STAT, prints
 *       "ready <id>" on stdout and then holds the attachment until its stdin
 *       reaches end of file. It then checks that the last REPLY_LEN bytes hold
 *       the reply a `check` wrote, detaches and exits, leaving the segment.
 *   prog_plain_shm check PATH PROJ SIZE NATTCH CPID
 *       finds the segment by key (shmget(key, 0, 0)), checks IPC_STAT (size
 *       SIZE, creator CPID, NATTCH - 1 attachments before its own), attaches
 *       it SHM_RDONLY, checks the pattern and that shm_nattch is now NATTCH,
 *       checks that a write through the read-only attachment is SIGSEGV (in a
 *       forked child), detaches, then attaches read-write and writes
 *       "reply from <pid>" into the last REPLY_LEN bytes.
 *   prog_plain_shm rm PATH PROJ
 *       removes the keyed segment (IPC_RMID) and checks its key is gone.
 * Exit status: 0 success, 1 a check failed, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SHM_INFO, SHM_DEST, struct shm_info */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLY_LEN 64
#define IPC_64_FLAG 0x0100 /* what 32-bit glibc adds to cmd; x86-64 kernels refuse it */

static const char *who = "prog_plain_shm";

#include "plain_check.h"

/* The byte at offset i of a segment made for key. */
static unsigned char pattern(key_t key, size_t i)
{
	return (unsigned char)((i * 131u + (i >> 12) * 7u + 0x5au) ^ (unsigned)key ^
			       ((unsigned)key >> 8));
}

/* IPC_STAT into *ds; 0 or -1 (reported). */
static int stat_seg(int id, struct shmid_ds *ds, const char *when)
{
	memset(ds, 0, sizeof *ds);
	int r = shmctl(id, IPC_STAT, ds);
	CHECK(r == 0, "shmctl(%d, IPC_STAT) %s", id, when);
	return r;
}

/* 1 if a forked child that writes p[0] dies of SIGSEGV. */
static int write_faults(volatile unsigned char *p)
{
	fflush(NULL);
	pid_t c = fork();
	if (c == 0) {
		alarm(10);
		signal(SIGSEGV, SIG_DFL);
		p[0] = (unsigned char)(p[0] + 1);
		_exit(0); /* the write went through: wrong */
	}
	int st = 0;
	if (c < 0 || waitpid(c, &st, 0) != c)
		return 0;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

static int self_test(key_t key)
{
	const size_t size = 10000;
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1) {
		fprintf(stderr, "%s: shmget(%#x, IPC_CREAT|IPC_EXCL): %s\n", who, (unsigned)key,
			strerror(errno));
		return 1;
	}
	errno = 0;
	CHECK(shmget(key, size, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST,
	      "second shmget(IPC_CREAT|IPC_EXCL) did not fail with EEXIST");
	CHECK(shmget(key, 0, 0) == id, "shmget(key, 0, 0) did not return the same id");
	errno = 0;
	CHECK(shmget(key, 2 * size, 0) == -1 && errno == EINVAL,
	      "shmget(key, larger than the segment) did not fail with EINVAL");

	struct shmid_ds ds;
	stat_seg(id, &ds, "after shmget");
	CHECK(ds.shm_segsz == size, "shm_segsz %zu, want %zu", (size_t)ds.shm_segsz, size);
	CHECK(ds.shm_nattch == 0, "shm_nattch %lu before any shmat", (unsigned long)ds.shm_nattch);
	CHECK(ds.shm_cpid == getpid(), "shm_cpid %d, want %d", (int)ds.shm_cpid, (int)getpid());
	CHECK(ds.shm_perm.__key == key, "shm_perm.__key %#x", (unsigned)ds.shm_perm.__key);
	CHECK((ds.shm_perm.mode & 0777) == 0600, "shm_perm.mode %#o", (unsigned)ds.shm_perm.mode);
	CHECK(ds.shm_perm.uid == geteuid(), "shm_perm.uid %u", (unsigned)ds.shm_perm.uid);
	errno = 0;
	CHECK(shmctl(id, IPC_STAT | IPC_64_FLAG, &ds) == -1 && errno == EINVAL,
	      "shmctl(IPC_STAT | IPC_64) did not fail with EINVAL as on x86-64");

	unsigned char *p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		CHECK(0, "shmat(%d, NULL, 0)", id);
		shmctl(id, IPC_RMID, NULL);
		return 1;
	}
	for (size_t i = 0; i < size; i++)
		p[i] = pattern(key, i);
	stat_seg(id, &ds, "after shmat");
	CHECK(ds.shm_nattch == 1, "shm_nattch %lu after shmat", (unsigned long)ds.shm_nattch);
	CHECK(ds.shm_lpid == getpid(), "shm_lpid %d after shmat", (int)ds.shm_lpid);
	CHECK(ds.shm_atime != 0, "shm_atime 0 after shmat");

	/* A child inherits the attachment: counted, and it writes into our memory. */
	fflush(NULL);
	int pfd[2], gfd[2];
	if (pipe(pfd) || pipe(gfd)) {
		CHECK(0, "pipe");
		return 1;
	}
	pid_t c = fork();
	if (c == 0) {
		who = "prog_plain_shm (child)";
		alarm(20);
		close(pfd[0]);
		close(gfd[1]);
		struct shmid_ds cds;
		stat_seg(id, &cds, "in the child");
		CHECK(cds.shm_nattch == 2, "shm_nattch %lu in a child that inherited it",
		      (unsigned long)cds.shm_nattch);
		CHECK(p[size - 1] == pattern(key, size - 1), "the child sees other bytes");
		memcpy(p, "child was here", 15);
		char b = 1;
		CHECK(write(pfd[1], &b, 1) == 1, "write");
		CHECK(read(gfd[0], &b, 1) == 0, "read"); /* hold the attachment until told */
		_exit(failures ? 1 : 0);
	}
	close(pfd[1]);
	close(gfd[0]);
	char b;
	CHECK(read(pfd[0], &b, 1) == 1, "the child did not report");
	CHECK(memcmp(p, "child was here", 15) == 0, "the child's write is not seen: \"%.15s\"",
	      (const char *)p);
	stat_seg(id, &ds, "while the child holds it");
	CHECK(ds.shm_nattch == 2, "shm_nattch %lu while a child holds the inherited attachment",
	      (unsigned long)ds.shm_nattch);
	close(gfd[1]);
	int st = 0;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "child status %#x", st);
	stat_seg(id, &ds, "after the child exited");
	CHECK(ds.shm_nattch == 1, "shm_nattch %lu after the child exited",
	      (unsigned long)ds.shm_nattch);
	close(pfd[0]);

	/* A second, read-only attachment of the same memory. */
	const unsigned char *q = shmat(id, NULL, SHM_RDONLY);
	CHECK(q != (void *)-1, "shmat(SHM_RDONLY)");
	if (q != (void *)-1) {
		CHECK(q != p, "two attachments at the same address");
		p[100] = 0xa5;
		CHECK(q[100] == 0xa5 && memcmp(q, "child was here", 15) == 0,
		      "the read-only attachment does not show the segment");
		CHECK(write_faults((volatile unsigned char *)q),
		      "a write through the SHM_RDONLY attachment was not SIGSEGV");
		stat_seg(id, &ds, "with two attachments");
		CHECK(ds.shm_nattch == 2, "shm_nattch %lu with two attachments",
		      (unsigned long)ds.shm_nattch);
		CHECK(shmdt(q) == 0, "shmdt(read-only attachment)");
		errno = 0;
		CHECK(shmdt(q) == -1 && errno == EINVAL, "a second shmdt of it did not fail with EINVAL");
	}
	errno = 0;
	CHECK(shmdt(p + 1) == -1 && errno == EINVAL, "shmdt(p + 1) did not fail with EINVAL");

	/* IPC_SET. */
	stat_seg(id, &ds, "before IPC_SET");
	ds.shm_perm.mode = 0640;
	CHECK(shmctl(id, IPC_SET, &ds) == 0, "shmctl(IPC_SET)");
	stat_seg(id, &ds, "after IPC_SET");
	CHECK((ds.shm_perm.mode & 0777) == 0640, "mode %#o after IPC_SET", (unsigned)ds.shm_perm.mode);
	CHECK(ds.shm_nattch == 1, "shm_nattch %lu", (unsigned long)ds.shm_nattch);

	/* Limits and usage. */
	struct shminfo si;
	memset(&si, 0, sizeof si);
	CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&si) >= 0, "shmctl(IPC_INFO)");
	CHECK(si.shmmax > 0 && si.shmmni > 0, "IPC_INFO: shmmax %lu shmmni %lu",
	      (unsigned long)si.shmmax, (unsigned long)si.shmmni);
	struct shm_info sinfo;
	memset(&sinfo, 0, sizeof sinfo);
	CHECK(shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo) >= 0, "shmctl(SHM_INFO)");
	CHECK(sinfo.used_ids >= 1, "SHM_INFO: used_ids %d", sinfo.used_ids);

	/* IPC_RMID while attached: key gone, memory still there until the last shmdt. */
	CHECK(shmctl(id, IPC_RMID, NULL) == 0, "shmctl(IPC_RMID)");
	errno = 0;
	CHECK(shmget(key, 0, 0) == -1 && errno == ENOENT, "shmget(key) after IPC_RMID");
	stat_seg(id, &ds, "after IPC_RMID, still attached");
	CHECK(ds.shm_perm.mode & SHM_DEST, "SHM_DEST not set: mode %#o", (unsigned)ds.shm_perm.mode);
	CHECK(ds.shm_perm.__key == IPC_PRIVATE, "key %#x after IPC_RMID, want IPC_PRIVATE",
	      (unsigned)ds.shm_perm.__key);
	CHECK(ds.shm_nattch == 1, "shm_nattch %lu after IPC_RMID", (unsigned long)ds.shm_nattch);
	p[size - 1] = 0x3c;
	CHECK(p[size - 1] == 0x3c && p[size - 2] == pattern(key, size - 2),
	      "the memory changed after IPC_RMID");
	CHECK(shmdt(p) == 0, "last shmdt");
	errno = 0;
	CHECK(shmctl(id, IPC_STAT, &ds) == -1 && (errno == EINVAL || errno == EIDRM),
	      "IPC_STAT after the last detach of a removed segment");
	errno = 0;
	CHECK(shmat(id, NULL, 0) == (void *)-1 && (errno == EINVAL || errno == EIDRM),
	      "shmat after the last detach of a removed segment");
	return failures ? 1 : 0;
}

static int create(key_t key, size_t size)
{
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0640);
	if (id == -1) {
		fprintf(stderr, "%s: shmget(%#x, %zu, IPC_CREAT|IPC_EXCL): %s\n", who, (unsigned)key,
			size, strerror(errno));
		return 1;
	}
	unsigned char *p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		CHECK(0, "shmat(%d)", id);
		return 1;
	}
	for (size_t i = 0; i < size; i++)
		p[i] = pattern(key, i);
	struct shmid_ds ds;
	stat_seg(id, &ds, "after create");
	CHECK(ds.shm_segsz == size, "shm_segsz %zu", (size_t)ds.shm_segsz);
	CHECK(ds.shm_nattch == 1, "shm_nattch %lu", (unsigned long)ds.shm_nattch);
	CHECK(ds.shm_cpid == getpid() && ds.shm_lpid == getpid(), "cpid %d lpid %d",
	      (int)ds.shm_cpid, (int)ds.shm_lpid);
	CHECK(ds.shm_perm.__key == key && (ds.shm_perm.mode & 0777) == 0640, "key %#x mode %#o",
	      (unsigned)ds.shm_perm.__key, (unsigned)ds.shm_perm.mode);
	printf("ready %d\n", id);
	fflush(stdout);

	/* Hold the attachment until the test closes our stdin. */
	char buf[64];
	while (fread(buf, 1, sizeof buf, stdin) > 0)
		;
	char want[REPLY_LEN];
	memset(want, 0, sizeof want);
	size_t off = size - REPLY_LEN;
	snprintf(want, sizeof want, "reply from ");
	CHECK(memcmp(p + off, want, strlen(want)) == 0, "no reply in the segment: \"%.20s\"",
	      (const char *)p + off);
	for (size_t i = 0; i < off; i++)
		if (p[i] != pattern(key, i)) {
			CHECK(0, "byte %zu changed: %#x, want %#x", i, p[i], pattern(key, i));
			break;
		}
	CHECK(shmdt(p) == 0, "shmdt");
	return failures ? 1 : 0;
}

static int check(key_t key, size_t size, unsigned long nattch, pid_t cpid)
{
	int id = shmget(key, 0, 0);
	if (id == -1) {
		fprintf(stderr, "%s: shmget(%#x, 0, 0): %s\n", who, (unsigned)key, strerror(errno));
		return 1;
	}
	struct shmid_ds ds;
	stat_seg(id, &ds, "before attaching");
	CHECK(ds.shm_segsz == size, "shm_segsz %zu, want %zu", (size_t)ds.shm_segsz, size);
	CHECK(ds.shm_cpid == cpid, "shm_cpid %d, want %d", (int)ds.shm_cpid, (int)cpid);
	CHECK(ds.shm_nattch == nattch - 1, "shm_nattch %lu before attaching, want %lu",
	      (unsigned long)ds.shm_nattch, nattch - 1);
	CHECK(ds.shm_perm.__key == key && (ds.shm_perm.mode & 0777) == 0640, "key %#x mode %#o",
	      (unsigned)ds.shm_perm.__key, (unsigned)ds.shm_perm.mode);

	const unsigned char *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		CHECK(0, "shmat(%d, SHM_RDONLY)", id);
		return 1;
	}
	for (size_t i = 0; i < size; i++)
		if (p[i] != pattern(key, i)) {
			CHECK(0, "byte %zu is %#x, want %#x", i, p[i], pattern(key, i));
			break;
		}
	stat_seg(id, &ds, "attached");
	CHECK(ds.shm_nattch == nattch, "shm_nattch %lu attached, want %lu",
	      (unsigned long)ds.shm_nattch, nattch);
	CHECK(ds.shm_lpid == getpid(), "shm_lpid %d, want %d", (int)ds.shm_lpid, (int)getpid());
	CHECK(write_faults((volatile unsigned char *)p),
	      "a write through the SHM_RDONLY attachment was not SIGSEGV");
	CHECK(shmdt(p) == 0, "shmdt");
	stat_seg(id, &ds, "detached");
	CHECK(ds.shm_nattch == nattch - 1, "shm_nattch %lu after shmdt, want %lu",
	      (unsigned long)ds.shm_nattch, nattch - 1);

	unsigned char *w = shmat(id, NULL, 0);
	if (w == (void *)-1) {
		CHECK(0, "shmat(%d, 0)", id);
		return 1;
	}
	char reply[REPLY_LEN];
	memset(reply, 0, sizeof reply);
	snprintf(reply, sizeof reply, "reply from %d", (int)getpid());
	memcpy(w + size - REPLY_LEN, reply, REPLY_LEN);
	CHECK(shmdt(w) == 0, "shmdt");
	return failures ? 1 : 0;
}

static int rm(key_t key)
{
	int id = shmget(key, 0, 0);
	if (id == -1) {
		fprintf(stderr, "%s: shmget(%#x, 0, 0): %s\n", who, (unsigned)key, strerror(errno));
		return 1;
	}
	CHECK(shmctl(id, IPC_RMID, NULL) == 0, "shmctl(%d, IPC_RMID)", id);
	errno = 0;
	CHECK(shmget(key, 0, 0) == -1 && errno == ENOENT, "shmget(key) after IPC_RMID");
	return failures ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: prog_plain_shm -n | self PATH PROJ | create PATH PROJ SIZE |\n"
			"       check PATH PROJ SIZE NATTCH CPID | rm PATH PROJ\n");
	exit(2);
}

int main(int argc, char **argv)
{
	key_t key = plain_key(argc, argv, "prog_plain_shm", 30, usage);
	const char *cmd = argv[1];
	if (strcmp(cmd, "self") == 0 && argc == 4)
		return self_test(key);
	if (strcmp(cmd, "create") == 0 && argc == 5)
		return create(key, strtoul(argv[4], NULL, 0));
	if (strcmp(cmd, "check") == 0 && argc == 7)
		return check(key, strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0),
			     (pid_t)atoi(argv[6]));
	if (strcmp(cmd, "rm") == 0 && argc == 4)
		return rm(key);
	usage();
	return 2;
}

/*
 * test_shim.c - the LD_PRELOAD shim runs an unmodified program on svipc.
 *
 * prog_plain_msg (built without svipc, against <sys/msg.h> only) is run
 * under LD_PRELOAD=libsvipc-preload.so in this test's SVIPC_DIR, and:
 *  - a run that never touches a queue exits 0 and leaves SVIPC_DIR empty
 *    (the shim does nothing at load time);
 *  - the full send/fork/receive-by-type run exits 0;
 *  - a run that leaves a queue behind (-k) left it in svipc, where
 *    svipc_msgget/msgctl/msgrcv find it with the program's message, and not
 *    in the kernel (msgget(key, 0) there fails with ENOENT);
 *  - with SVIPC_PRELOAD_KERNEL=1 the same program runs on the kernel instead
 *    and nothing lands in svipc;
 *  - the shim's dynamic symbol table exports exactly msgget, msgsnd, msgrcv,
 *    msgctl, shmget, shmat, shmdt, shmctl, semget, semop, semctl (and the
 *    credential calls), each as version GLIBC_2.2.5, and semtimedop as
 *    GLIBC_2.3.3 (read from the ELF file), and
 *    dlopen + dlvsym(..., version) resolves each into the shim, while
 *    svipc_* are not reachable; msgctl through the shim refuses IPC_64 like the kernel.
 * Every queue made here, in the kernel or in svipc, is removed at the end.
 */
#include "svipc.h"
#include "t.h"
#include "shim_run.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef PLAIN_PROG
#error "PLAIN_PROG (path of prog_plain_msg) must be defined"
#endif

#define SHIM_VERSION "GLIBC_2.2.5"
#define SHIM_VERSION_SEMTIMEDOP "GLIBC_2.3.3" /* semtimedop's only version on x86-64 */

static const char *const shim_exports[] = { "msgget", "msgsnd", "msgrcv", "msgctl",
					    "shmget", "shmat", "shmdt", "shmctl",
					    "semget", "semop", "semctl", "semtimedop",
					    /* credential changes, so svipc re-reads them */
					    "setuid", "seteuid", "setreuid", "setresuid",
					    "setgid", "setegid", "setregid", "setresgid",
					    "setgroups" };
#define N_EXPORTS (sizeof shim_exports / sizeof shim_exports[0])

/* The version the shim exports name under (that of x86-64 glibc). */
static const char *export_version(const char *name)
{
	return strcmp(name, "semtimedop") == 0 ? SHIM_VERSION_SEMTIMEDOP : SHIM_VERSION;
}

struct tmsg {
	long mtype;
	char mtext[64];
};

static int kq_private(void)
{
	return msgget(IPC_PRIVATE, IPC_CREAT | 0600);
}

static int kq_get(key_t key)
{
	return msgget(key, 0);
}

static void kq_rm(int id)
{
	msgctl(id, IPC_RMID, NULL);
}

static const struct shim_kernel kernel_queues = { "message queues", "queue", "msgget",
						  kq_private, kq_get, kq_rm };

/* ---- running prog_plain_msg ---------------------------------------------- */

/*
 * Runs PLAIN_PROG [flag] t_dir proj under the shim. kernel_env: NULL leaves
 * SVIPC_PRELOAD_KERNEL unset, otherwise its value. Returns the wait status,
 * or -1; *pid gets the program's pid.
 */
static int run_prog(const char *flag, int proj, const char *kernel_env, pid_t *pid)
{
	char projs[16];
	snprintf(projs, sizeof projs, "%d", proj);
	const char *args[4] = { NULL };
	int argc = 0;
	if (flag)
		args[argc++] = flag;
	args[argc++] = t_dir;
	args[argc++] = projs;
	pid_t p = shim_start(PLAIN_PROG, args, kernel_env, NULL, NULL);
	if (p == -1)
		return -1;
	if (pid)
		*pid = p;
	return shim_wait(p);
}

/* ---- the exported surface, from the ELF file ----------------------------- */

static void check_elf_exports(void)
{
	int fd = open(SHIM_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		T_FAIL("open %s: %s", SHIM_PATH, strerror(errno));
		return;
	}
	struct stat st;
	T_OK(fstat(fd, &st));
	const unsigned char *f = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f == MAP_FAILED) {
		T_FAIL("mmap %s: %s", SHIM_PATH, strerror(errno));
		return;
	}
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64) {
		T_FAIL("%s is not an x86-64 ELF64 file", SHIM_PATH);
		munmap((void *)f, st.st_size);
		return;
	}
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	const Elf64_Sym *syms = NULL;
	const char *dynstr = NULL;
	const Elf64_Half *versym = NULL;
	const unsigned char *verdef = NULL;
	size_t nsyms = 0, nverdef = 0;
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_DYNSYM) {
			syms = (const Elf64_Sym *)(f + sh[i].sh_offset);
			nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
			dynstr = (const char *)(f + sh[sh[i].sh_link].sh_offset);
		} else if (sh[i].sh_type == SHT_GNU_versym) {
			versym = (const Elf64_Half *)(f + sh[i].sh_offset);
		} else if (sh[i].sh_type == SHT_GNU_verdef) {
			verdef = f + sh[i].sh_offset;
			nverdef = sh[i].sh_info;
		}
	}
	T_ASSERT(syms && dynstr);
	T_ASSERT(versym); /* symbol versioning present */
	T_ASSERT(verdef); /* the shim defines versions */
	if (!syms || !dynstr || !versym || !verdef) {
		munmap((void *)f, st.st_size);
		return;
	}

	/* Version definitions: index -> name. */
	const char *vername[64] = { 0 };
	const unsigned char *vp = verdef;
	int saw_glibc_def = 0, saw_semtimedop_def = 0;
	for (size_t i = 0; i < nverdef; i++) {
		const Elf64_Verdef *vd = (const Elf64_Verdef *)vp;
		const Elf64_Verdaux *va = (const Elf64_Verdaux *)(vp + vd->vd_aux);
		const char *name = dynstr + va->vda_name;
		if (vd->vd_ndx < 64)
			vername[vd->vd_ndx] = name;
		if (!(vd->vd_flags & VER_FLG_BASE)) {
			if (strcmp(name, SHIM_VERSION) == 0)
				saw_glibc_def = 1;
			else if (strcmp(name, SHIM_VERSION_SEMTIMEDOP) == 0)
				saw_semtimedop_def = 1;
			else
				T_FAIL("shim defines unexpected version %s", name);
		}
		if (!vd->vd_next)
			break;
		vp += vd->vd_next;
	}
	T_ASSERT(saw_glibc_def);
	T_ASSERT(saw_semtimedop_def);

	int found[N_EXPORTS] = { 0 };
	for (size_t i = 1; i < nsyms; i++) {
		const Elf64_Sym *s = &syms[i];
		unsigned bind = ELF64_ST_BIND(s->st_info), type = ELF64_ST_TYPE(s->st_info);
		if (s->st_shndx == SHN_UNDEF || bind == STB_LOCAL)
			continue;
		const char *name = dynstr + s->st_name;
		unsigned ndx = versym[i] & 0x7fff;
		int hidden = (versym[i] & 0x8000) != 0;
		const char *ver = ndx < 64 ? vername[ndx] : NULL;
		/* The marker symbol ld emits for a version definition. */
		if (s->st_shndx == SHN_ABS && type == STT_OBJECT && ver && strcmp(name, ver) == 0)
			continue;
		size_t k;
		for (k = 0; k < N_EXPORTS; k++)
			if (strcmp(name, shim_exports[k]) == 0)
				break;
		if (k == N_EXPORTS) {
			T_FAIL("shim exports unexpected symbol %s@%s", name, ver ? ver : "?");
			continue;
		}
		found[k]++;
		if (!ver || strcmp(ver, export_version(name)) != 0 || hidden)
			T_FAIL("shim exports %s%s%s, want %s@@%s", name, hidden ? "@" : "@@",
			       ver ? ver : "(unversioned)", name, export_version(name));
		if (type != STT_FUNC)
			T_FAIL("shim export %s is not a function (type %u)", name, type);
	}
	for (size_t k = 0; k < N_EXPORTS; k++)
		if (found[k] != 1)
			T_FAIL("shim exports %s %d times, want once", shim_exports[k], found[k]);
	munmap((void *)f, st.st_size);
}

/* ---- the exported surface, through the dynamic linker --------------------- */

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int in_shim(const void *p)
{
	Dl_info info;
	return p && dladdr(p, &info) && same_file(info.dli_fname, SHIM_PATH);
}

/*
 * Runs in a child, so the shim's copy of svipc never shares a process with
 * the test's own copy beyond this check. Returns the exit status.
 */
static int dl_checks(key_t key)
{
	unsetenv("SVIPC_PRELOAD_KERNEL");
	void *h = dlopen(SHIM_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		T_FAIL("dlopen %s: %s", SHIM_PATH, dlerror());
		return 1;
	}
	void *fn[N_EXPORTS];
	for (size_t k = 0; k < N_EXPORTS; k++) {
		fn[k] = dlvsym(h, shim_exports[k], export_version(shim_exports[k]));
		if (!in_shim(fn[k]))
			T_FAIL("dlvsym(shim, %s, %s) = %p is not in the shim", shim_exports[k],
			       export_version(shim_exports[k]), fn[k]);
		/* The default (unversioned) lookup lands on the same function. */
		void *d = dlsym(h, shim_exports[k]);
		if (d != fn[k])
			T_FAIL("dlsym(shim, %s) = %p, dlvsym gave %p", shim_exports[k], d, fn[k]);
	}
	/* The library inside the shim is not exported. */
	static const char *const hidden[] = { "svipc_msgget", "svipc_msgsnd", "svipc_msgrcv",
					      "svipc_msgctl", "svipc_dir", "svipc_limits_get",
					      "svipc_shmget", "svipc_shmat", "svipc_shmdt",
					      "svipc_shmctl", "svipc_shmsync",
					      "svipc_semget", "svipc_semop", "svipc_semtimedop",
					      "svipc_semctl" };
	for (size_t k = 0; k < sizeof hidden / sizeof hidden[0]; k++) {
		void *p = dlsym(h, hidden[k]);
		if (in_shim(p))
			T_FAIL("shim exports %s", hidden[k]);
	}
	/* dlopen (RTLD_LOCAL) does not interpose: our msgget is still libc's. */
	T_ASSERT(!in_shim((void *)&msgget));

	/* Call through the shim: svipc, and IPC_64 is refused as the 64-bit kernel does. */
	int (*s_msgget)(key_t, int) = (int (*)(key_t, int))fn[0];
	int (*s_msgctl)(int, int, struct msqid_ds *) = (int (*)(int, int, struct msqid_ds *))fn[3];
	if (s_msgget && s_msgctl) {
		int id = T_OK(s_msgget(key, IPC_CREAT | IPC_EXCL | 0600));
		if (id != -1) {
			T_EQ(T_OK(svipc_msgget(key, 0)), id); /* same namespace, same queue */
			if (kernel_ok)
				T_ERR(msgget(key, 0), ENOENT);
			struct msqid_ds ds;
			memset(&ds, 0, sizeof ds);
			T_ERR(s_msgctl(id, IPC_STAT | 0x100, &ds), EINVAL);
			T_OK(s_msgctl(id, IPC_STAT, &ds));
			T_EQ(ds.msg_perm.__key, key);
			T_EQ(ds.msg_qnum, 0);
			T_OK(s_msgctl(id, IPC_RMID, NULL));
			T_ERR(svipc_msgget(key, 0), ENOENT);
		}
	}
	dlclose(h);
	return t_failures ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------ */

int main(void)
{
	t_setup(50);
	key_t key = -1;
	int proj = shim_setup(&kernel_queues, &key);
	if (proj == -1)
		return t_done();
	pid_t pid;

	/* A program that never calls the functions: the shim does nothing. */
	T_EXITED_0(run_prog("-n", proj, NULL, NULL), "prog -n under the shim");
	T_EQ(dir_entries(NULL), 0);

	/* (a) The full program, on svipc, passes its own checks and cleans up. */
	T_EXITED_0(run_prog(NULL, proj, NULL, NULL), "prog under the shim");
	T_ERR(svipc_msgget(key, 0), ENOENT);
	if (kernel_ok)
		T_ERR(msgget(key, 0), ENOENT);

	/* (b) It really ran on svipc: the queue it leaves is there, not in the kernel. */
	static const char *const svipc_env[] = { NULL, "0" };
	for (int v = 0; v < 2; v++) {
		int st = run_prog("-k", proj, svipc_env[v], &pid);
		T_EXITED_0(st, svipc_env[v] ? "prog -k, SVIPC_PRELOAD_KERNEL=0" : "prog -k");
		if (kernel_ok)
			T_ERR(msgget(key, 0), ENOENT);
		int id = T_OK(svipc_msgget(key, 0));
		if (id == -1)
			continue;
		struct msqid_ds ds;
		memset(&ds, 0, sizeof ds);
		T_OK(svipc_msgctl(id, IPC_STAT, &ds));
		T_EQ(ds.msg_perm.__key, key);
		T_EQ(ds.msg_perm.mode & 0777, 0600);
		T_EQ(ds.msg_perm.uid, geteuid());
		T_EQ(ds.msg_qnum, 1);
		T_EQ(ds.msg_lspid, pid);
		T_ASSERT(ds.msg_lrpid != 0 && ds.msg_lrpid != pid); /* its receiver child */
		struct tmsg m;
		memset(&m, 0, sizeof m);
		char want[64];
		snprintf(want, sizeof want, "left behind by %d", (int)pid);
		ssize_t n = T_OK(svipc_msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));
		T_EQ(n, strlen(want) + 1);
		T_EQ(m.mtype, 7);
		if (strcmp(m.mtext, want))
			T_FAIL("left message \"%s\", want \"%s\"", m.mtext, want);
		T_OK(svipc_msgctl(id, IPC_RMID, NULL));
		T_ERR(svipc_msgget(key, 0), ENOENT);
	}

	/* SVIPC_PRELOAD_KERNEL=1: the same program runs on the kernel instead. */
	if (kernel_ok) {
		T_EXITED_0(run_prog(NULL, proj, "1", NULL), "prog, SVIPC_PRELOAD_KERNEL=1");
		T_ERR(msgget(key, 0), ENOENT);

		int st = run_prog("-k", proj, "1", &pid);
		T_EXITED_0(st, "prog -k, SVIPC_PRELOAD_KERNEL=1");
		T_ERR(svipc_msgget(key, 0), ENOENT);
		int id = T_OK(msgget(key, 0));
		if (id != -1) {
			struct msqid_ds ds;
			memset(&ds, 0, sizeof ds);
			T_OK(msgctl(id, IPC_STAT, &ds));
			T_EQ(ds.msg_qnum, 1);
			T_EQ(ds.msg_lspid, pid);
			struct tmsg m;
			memset(&m, 0, sizeof m);
			T_OK(msgrcv(id, &m, sizeof m.mtext, 7, IPC_NOWAIT));
			char want[64];
			snprintf(want, sizeof want, "left behind by %d", (int)pid);
			if (strcmp(m.mtext, want))
				T_FAIL("left kernel message \"%s\", want \"%s\"", m.mtext, want);
			T_OK(msgctl(id, IPC_RMID, NULL));
		}
		T_ERR(msgget(key, 0), ENOENT);
	}

	/* (c) Exactly msg*, shm*, semget/semop/semctl@@GLIBC_2.2.5, semtimedop@@GLIBC_2.3.3. */
	check_elf_exports();
	fflush(NULL);
	pid_t c = fork();
	if (c == 0)
		_exit(dl_checks(key));
	int st = -1;
	if (c == -1)
		T_FAIL("fork: %s", strerror(errno));
	else
		T_OK(waitpid(c, &st, 0));
	T_EXITED_0(st, "dlopen/dlvsym checks");

	/* Nothing left anywhere. */
	T_ERR(svipc_msgget(key, 0), ENOENT);
	shim_kernel_clean(key);
	/* Credentials dropped under the shim take effect, as with the kernel. */
	if (geteuid() == 0) {
		T_EXITED_0(run_prog("-u", 0, NULL, NULL), "privilege drop on svipc");
		T_EXITED_0(run_prog("-u", 0, "1", NULL), "privilege drop on the kernel");
	}

	return t_done();
}

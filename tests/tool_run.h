/* tool_run.h - runs one of the admin tools in the test's namespace and captures its output. */
#ifndef SVIPC_TOOL_RUN_H
#define SVIPC_TOOL_RUN_H

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads fd to EOF into buf (len bytes, NUL-terminated). */
static void tool_slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
}

/*
 * Runs path with args (NULL-terminated, at most 10), bounded by an alarm;
 * its stdout into out (outlen bytes) and its stderr into err (errlen).
 * Returns its exit status, or 128 if it did not exit normally.
 */
static inline int tool_run_buf(const char *path, const char *const *args, char *out, size_t outlen,
			char *err, size_t errlen)
{
	char tmpl[] = "/tmp/svipc-tool-err.XXXXXX";
	int efd = mkstemp(tmpl);
	int p[2];
	if (efd < 0 || pipe(p))
		return -1;
	unlink(tmpl);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		dup2(p[1], 1);
		dup2(efd, 2);
		close(p[0]);
		char *argv[12] = { (char *)path };
		for (int i = 0; args[i] && i < 10; i++)
			argv[i + 1] = (char *)args[i];
		execv(path, argv);
		_exit(127);
	}
	close(p[1]);
	tool_slurp(p[0], out, outlen);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	lseek(efd, 0, SEEK_SET);
	tool_slurp(efd, err, errlen);
	close(efd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The same with 512-byte buffers. */
static inline int tool_run(const char *path, const char *const *args, char out[512], char err[512])
{
	return tool_run_buf(path, args, out, 512, err, 512);
}

#endif

/*
 * tool_ns.h - how the admin tools pick and vet the namespace directory.
 * The library creates a missing namespace on first use, which is right for
 * programs but wrong for a tool asked to look at one: a typo in --dir must
 * be an error, not a new empty namespace.
 */
#ifndef SVIPC_TOOL_NS_H
#define SVIPC_TOOL_NS_H

#include "svipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory the library will use: --dir (already in SVIPC_DIR), or the default. */
static inline const char *tool_ns_dir(void)
{
	const char *d = getenv("SVIPC_DIR");
	return d && *d ? d : SVIPC_DEFAULT_DIR;
}

enum { TOOL_NS_OK = 0, TOOL_NS_EMPTY = 1, TOOL_NS_BAD = -1 };

/*
 * Vets the namespace directory before the library touches it. Returns
 * TOOL_NS_OK (an existing namespace), TOOL_NS_EMPTY (no namespace there
 * yet: the directory is missing or has no namespace file; nothing to show,
 * and only a tool that may create one goes on), or TOOL_NS_BAD after
 * printing why to stderr (not a directory, not a namespace, no access).
 */
static inline int tool_ns_vet(const char *prog)
{
	const char *dir = tool_ns_dir();
	struct stat st;
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return TOOL_NS_EMPTY;
		fprintf(stderr, "%s: cannot access namespace directory %s: %s\n", prog, dir,
			strerror(errno));
		return TOOL_NS_BAD;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s is not a directory\n", prog, dir);
		return TOOL_NS_BAD;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/ns", dir);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return TOOL_NS_EMPTY;
		fprintf(stderr, "%s: cannot access %s: %s\n", prog, path, strerror(errno));
		return TOOL_NS_BAD;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s is not an svipc namespace (ns is not a regular file)\n", prog,
			dir);
		return TOOL_NS_BAD;
	}
	if (access(path, R_OK | W_OK) < 0) {
		fprintf(stderr, "%s: cannot use namespace %s: %s\n", prog, dir, strerror(errno));
		return TOOL_NS_BAD;
	}
	return TOOL_NS_OK;
}

/* An error from the library about the namespace, said plainly. */
static inline void tool_ns_error(const char *prog, const char *what, int err)
{
	const char *dir = tool_ns_dir();
	if (err == EINVAL)
		fprintf(stderr, "%s: %s: %s is not a valid svipc namespace\n", prog, what, dir);
	else if (err == EACCES)
		fprintf(stderr, "%s: %s: namespace %s: permission denied (or the directory is "
			"world-writable without the sticky bit)\n", prog, what, dir);
	else
		fprintf(stderr, "%s: %s: namespace %s: %s\n", prog, what, dir, strerror(err));
}

#endif

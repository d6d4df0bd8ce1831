/*
 * svipcadm - administration of an svipc namespace: its limits, a
 * consistency check of every object (with repair of what dead processes
 * left behind), and the purge of what no live process can reach.
 *
 * Exit status: 0 all well; 1 check found problems (with --repair: problems
 * that remain); 2 usage errors and failures.
 */
#include "svipc.h"
#include "inspect.h"
#include "ns.h"
#include "tool_ns.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>

static const char *prog = "svipcadm";

enum { EXIT_PROBLEMS = 1, EXIT_ERROR = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"\nUsage:\n"
		" %s [--dir <dir>] limits [<name>=<value>...]\n"
		" %s [--dir <dir>] check [--repair] [--verbose]\n"
		" %s [--dir <dir>] purge [--dry-run] [--verbose]\n"
		"\nAdminister an svipc namespace (a directory of System V IPC objects).\n"
		"\nCommands:\n"
		" limits                 show the namespace's limits\n"
		" limits name=value...   set them (root or the directory's owner only); names:\n"
		"                        msgmax msgmnb msgmni shmmax shmall shmmni\n"
		"                        semmsl semmns semopm semmni\n"
		" check                  verify every object; exit 1 if anything is wrong\n"
		" purge                  remove what no live process can reach: removals cut\n"
		"                        short by a crash, removed segments whose last user died,\n"
		"                        files of creations that died half-way\n"
		"\nOptions:\n"
		"     --dir <dir>        the namespace directory (default: $SVIPC_DIR or %s)\n"
		" -r, --repair           check: recover objects whose lock holder died, and\n"
		"                        finish what dead processes left half done\n"
		" -n, --dry-run          purge: say what would be removed, remove nothing\n"
		" -v, --verbose          also show notes and pending cleanups\n"
		"\n -h, --help             display this help\n"
		" -V, --version          display version\n",
		prog, prog, prog, SVIPC_DEFAULT_DIR);
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(EXIT_ERROR);
}

/* ---- limits -------------------------------------------------------------------- */

static const struct {
	const char *name;
	const char *what;
} limit_names[10] = {
	{ "msgmax", "largest message (bytes)" },
	{ "msgmnb", "default and non-root maximum queue size (bytes)" },
	{ "msgmni", "most message queues" },
	{ "shmmax", "largest segment (bytes)" },
	{ "shmall", "total pages of all segments" },
	{ "shmmni", "most segments" },
	{ "semmsl", "most semaphores per set" },
	{ "semmns", "most semaphores in all sets" },
	{ "semopm", "most operations per semop call" },
	{ "semmni", "most semaphore sets" },
};

static int limits_show(void)
{
	struct svipc_limits l;
	if (svipc_limits_get(&l) < 0) {
		tool_ns_error(prog, "reading limits", errno);
		return EXIT_ERROR;
	}
	const uint64_t *v = &l.msgmax;
	for (int i = 0; i < 10; i++)
		printf("%-8s %20" PRIu64 "   %s\n", limit_names[i].name, v[i], limit_names[i].what);
	return 0;
}

static int limits_set(char **args, int n)
{
	struct svipc_limits l = { 0 };
	uint64_t *v = &l.msgmax;
	for (int k = 0; k < n; k++) {
		char *eq = strchr(args[k], '=');
		if (!eq)
			usage_error("expected name=value, not '%s'", args[k]);
		*eq = 0;
		int i;
		for (i = 0; i < 10 && strcmp(args[k], limit_names[i].name); i++)
			;
		if (i == 10)
			usage_error("unknown limit '%s'", args[k]);
		char *end;
		errno = 0;
		unsigned long long x = strtoull(eq + 1, &end, 0);
		if (errno || end == eq + 1 || *end || x == 0 || eq[1] == '-')
			usage_error("invalid value '%s' (a positive number)", eq + 1);
		v[i] = x;
	}
	if (svipc_limits_set(&l) < 0) {
		if (errno == EPERM)
			fprintf(stderr, "%s: setting limits: only root or the owner of %s may\n", prog,
				tool_ns_dir());
		else if (errno == EINVAL)
			fprintf(stderr, "%s: setting limits: a value is out of range (msgmni, shmmni, "
				"semmni at most 32768; msgmax, msgmnb at most 2147483647)\n", prog);
		else
			tool_ns_error(prog, "setting limits", errno);
		return EXIT_ERROR;
	}
	return limits_show();
}

/* ---- check and purge ------------------------------------------------------------- */

/*
 * A check waits at most 3 s for a live lock holder, but a process may take
 * the lock and stop between that wait and the check's own taking of it: a
 * watchdog per object (and for the namespace scrub) ends the run then,
 * rather than hang. A check finishes in milliseconds.
 */
#define WATCHDOG_S 30

static const char *watched = "the namespace";

static void watchdog(int sig)
{
	(void)sig;
	static const char a[] = "svipcadm: timed out waiting for a lock of ";
	static const char b[] = " (held by a stopped process?)\n";
	(void)!write(2, a, sizeof a - 1);
	(void)!write(2, watched, strlen(watched));
	(void)!write(2, b, sizeof b - 1);
	_exit(EXIT_ERROR);
}

/* Arms the watchdog for what (a name that lives until disarmed), or disarms it (NULL). */
static void watch(const char *what)
{
	if (!what) {
		alarm(0);
		return;
	}
	watched = what;
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);
}

static int verbose;

static void show(void *arg, int level, const char *text)
{
	(void)arg;
	if (level == SVIPC_PROBLEM)
		printf("problem: %s\n", text);
	else if (verbose)
		printf("%s: %s\n", level == SVIPC_CLEANUP ? "cleanup" : "note", text);
}

static const char *const type_plural[SVIPC_NTYPES] = { "message queues", "shared memory segments",
							"semaphore sets" };

static const char *const type_one[SVIPC_NTYPES] = { "message queue", "shared memory segment",
						     "semaphore set" };

/* Checks the namespace and every object; returns the problems found, or -errno. */
static int check_all(int repair, svipc_report_fn fn, int counts[SVIPC_NTYPES])
{
	watch("the namespace");
	int problems = svipc__check_ns(repair, fn, NULL);
	watch(NULL);
	if (problems < 0)
		return problems;
	for (int t = 0; t < SVIPC_NTYPES; t++) {
		int maxidx, in_use;
		counts[t] = 0;
		if (svipc__ns_usage(t, &maxidx, &in_use) < 0)
			continue;
		for (int idx = 0; idx <= maxidx; idx++) {
			int id = svipc__ns_index_to_id(t, idx);
			if (id < 0)
				continue;
			char what[64];
			snprintf(what, sizeof what, "%s %d", type_one[t], id);
			watch(what);
			int r = svipc__check(t, id, repair, fn, NULL);
			watch(NULL);
			if (r == -EINVAL)
				continue; /* removed meanwhile */
			counts[t]++;
			if (r < 0) {
				char text[128];
				snprintf(text, sizeof text, "%s %d: cannot be checked: %s",
					 type_one[t], id, strerror(-r));
				fn(NULL, SVIPC_PROBLEM, text);
				r = 1;
			}
			problems += r;
		}
	}
	return problems;
}

static void quiet(void *arg, int level, const char *text)
{
	(void)arg, (void)level, (void)text;
}

static int cmd_check(int repair)
{
	int counts[SVIPC_NTYPES];
	int problems = check_all(repair, show, counts);
	if (problems < 0) {
		tool_ns_error(prog, "check", -problems);
		return EXIT_ERROR;
	}
	printf("checked %s: %d %s, %d %s, %d %s; %d problem%s\n", tool_ns_dir(), counts[0],
	       type_plural[0], counts[1], type_plural[1], counts[2], type_plural[2], problems,
	       problems == 1 ? "" : "s");
	if (repair && problems) {
		/* What the repair could not fix is what a second look still finds. */
		int left = check_all(0, quiet, counts);
		if (left < 0) {
			tool_ns_error(prog, "check", -left);
			return EXIT_ERROR;
		}
		printf("after repair: %d problem%s left\n", left, left == 1 ? "" : "s");
		problems = left;
	}
	return problems ? EXIT_PROBLEMS : 0;
}

static int cmd_purge(int dry_run)
{
	watch("the namespace");
	int n = svipc__purge(dry_run, show, NULL);
	watch(NULL);
	if (n < 0) {
		tool_ns_error(prog, "purge", -n);
		return EXIT_ERROR;
	}
	printf("%s %d item%s\n", dry_run ? "would purge" : "purged", n, n == 1 ? "" : "s");
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_DIR = 0x100 };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "repair", no_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, repair = 0, dry_run = 0;
	while ((c = getopt_long(argc, argv, "rnvhV", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR:
			setenv("SVIPC_DIR", optarg, 1);
			break;
		case 'r':
			repair = 1;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s from svipc %s\n", prog, SVIPC_VERSION_STRING);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return EXIT_ERROR;
		}
	}
	if (optind >= argc)
		usage_error("%s", "no command (limits, check or purge)");
	const char *cmd = argv[optind++];
	int setting = !strcmp(cmd, "limits") && optind < argc;
	if (strcmp(cmd, "limits") && strcmp(cmd, "check") && strcmp(cmd, "purge"))
		usage_error("unknown command '%s'", cmd);
	if (!setting && optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((repair && strcmp(cmd, "check")) || (dry_run && strcmp(cmd, "purge")))
		usage_error("%s", repair ? "--repair goes with check" : "--dry-run goes with purge");
	switch (tool_ns_vet(prog)) {
	case TOOL_NS_BAD:
		return EXIT_ERROR;
	case TOOL_NS_EMPTY:
		if (setting)
			break; /* limits may be set before any program runs */
		fprintf(stderr, "%s: no svipc namespace at %s\n", prog, tool_ns_dir());
		return EXIT_ERROR;
	}
	if (!strcmp(cmd, "limits"))
		return setting ? limits_set(argv + optind, argc - optind) : limits_show();
	if (!strcmp(cmd, "check"))
		return cmd_check(repair);
	return cmd_purge(dry_run);
}

/*
 * check_all.h - svipc__check() on the namespace and on every object in it,
 * for the failure injection tests: after each injected failure, nothing
 * may be inconsistent.
 */
#ifndef SVIPC_TEST_CHECK_ALL_H
#define SVIPC_TEST_CHECK_ALL_H

#include "t.h"
#include "inspect.h"
#include "ns.h"

static void t_show_problem(void *arg, int level, const char *text)
{
	(void)arg;
	if (level == SVIPC_PROBLEM)
		fprintf(stderr, "  check: %s\n", text);
}

/* Fails the test if svipcadm check would find anything wrong. */
static void t_all_consistent(const char *what, int n)
{
	int p = svipc__check_ns(0, t_show_problem, NULL);
	for (int t = 0; t < SVIPC_NTYPES; t++) {
		int maxidx, in_use;
		if (svipc__ns_usage(t, &maxidx, &in_use) < 0)
			continue;
		for (int i = 0; i <= maxidx; i++) {
			int id = svipc__ns_index_to_id(t, i);
			if (id >= 0)
				p += svipc__check(t, id, 0, t_show_problem, NULL);
		}
	}
	if (p)
		T_FAIL("%s, failure %d: %d problem(s) after the injected failure", what, n, p);
}

#endif

/* util.c - futex system calls, clocks and /proc readers. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Sleeps while *word == expect, at most timeout_ns (< 0: no limit).
 * Shared (not FUTEX_PRIVATE) because the word lives in a file mapped by
 * several processes. Always pass a timeout on paths that must return EINTR:
 * a timed FUTEX_WAIT is not restarted after a signal handler, even with
 * SA_RESTART. Returns 0 when woken (or the word differed), -ETIMEDOUT, -EINTR.
 */
int svipc__futex_wait(uint32_t *word, uint32_t expect, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	long r = syscall(SYS_futex, word, FUTEX_WAIT, expect, tp, NULL, 0);
	if (r == 0)
		return 0;
	if (errno == EAGAIN)
		return 0;
	return -errno;
}

int svipc__futex_wake(uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

int64_t svipc__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Seconds since the epoch, as the kernel's ktime_get_real_seconds() stamps
 * IPC times; time() reads the same clock through the vDSO, in a few
 * instructions and with no system call.
 */
int64_t svipc__real_sec(void)
{
	return (int64_t)time(NULL);
}

int svipc__read_proc_u64(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	unsigned long long v;
	int n = fscanf(f, "%llu", &v);
	fclose(f);
	if (n != 1)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The caller's effective capabilities as a bit mask (0 if unknown). */
uint64_t svipc__effective_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) < 0)
		return geteuid() == 0 ? ~0ull : 0;
	return (uint64_t)data[0].effective | (uint64_t)data[1].effective << 32;
}

/*
 * The absolute CLOCK_MONOTONIC deadline of a relative timeout: -1 for none
 * (NULL, or too far to represent), -2 for an invalid timespec (EINVAL).
 */
int64_t svipc__deadline(const struct timespec *timeout)
{
	if (!timeout)
		return -1;
	if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)
		return -2;
	int64_t ns = svipc__mono_ns();
	if (timeout->tv_sec > (INT64_MAX - ns) / 1000000000 - 1)
		return -1;
	return ns + (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec;
}

/* util.c - futex system calls, clocks and /proc readers. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/futex.h>
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

ssize_t svipc__read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t have = 0;
	while (have < size - 1) {
		ssize_t n = read(fd, buf + have, size - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = 0;
	return (ssize_t)have;
}

int svipc__read_proc_u64s(const char *path, uint64_t *out, int n)
{
	char buf[256];
	ssize_t len = svipc__read_small_file(path, buf, sizeof buf);
	if (len < 0)
		return (int)len;
	int k = 0;
	for (char *p = buf; k < n; k++) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno)
			break;
		out[k] = v;
		p = end;
	}
	return k;
}

int svipc__read_proc_u64(const char *path, uint64_t *out)
{
	int k = svipc__read_proc_u64s(path, out, 1);
	return k < 0 ? k : k == 1 ? 0 : -EINVAL;
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

/*
 * Merges two sorted chains, a's elements first among equals. The chain
 * built so far ends at *tail, a pointer to the link to fill in next.
 */
static uint32_t chain_merge(uint32_t a, uint32_t b, uint32_t *(*link)(void *ctx, uint32_t i),
			    int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx)
{
	uint32_t head = 0, *tail = &head;
	while (a && b) {
		uint32_t *from = before(ctx, b, a) ? &b : &a;
		*tail = *from;
		tail = link(ctx, *from);
		*from = *tail;
	}
	*tail = a ? a : b;
	return head;
}

uint32_t svipc__chain_sort(uint32_t head, uint32_t *(*link)(void *ctx, uint32_t i),
			   int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx)
{
	/* bin[k]: a sorted chain of 2^k elements, older than those in bin[k - 1] */
	uint32_t bin[33] = { 0 };
	while (head) {
		uint32_t x = head;
		uint32_t *next = link(ctx, x);
		head = *next;
		*next = 0;
		int k = 0;
		for (; k < 32 && bin[k]; k++) {
			x = chain_merge(bin[k], x, link, before, ctx);
			bin[k] = 0;
		}
		bin[k] = x;
	}
	uint32_t sorted = 0;
	for (int k = 0; k < 33; k++)
		if (bin[k])
			sorted = sorted ? chain_merge(bin[k], sorted, link, before, ctx) : bin[k];
	return sorted;
}

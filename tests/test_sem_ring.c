/*
 * test_sem_ring.c - the classic bounded buffer: producers and consumers in
 * separate processes share a ring buffer in a System V shared memory
 * segment, guarded by a set of three semaphores:
 *
 *     EMPTY  free slots   (starts at SLOTS)   producer -1 before, consumer +1 after
 *     FULL   items ready  (starts at 0)       consumer -1 before, producer +1 after
 *     MUTEX  the ring's indexes (starts at 1) -1 / +1 around every update, SEM_UNDO
 *
 * Run on the kernel (libc shmget/shmat + semget/semop/semctl) and on svipc
 * (svipc_shm* + svipc_sem*), with NPROD producers, NCONS consumers and one
 * inspector, all forked processes. Half of them use the one-call forms
 * ({EMPTY -1, MUTEX -1} and {MUTEX +1, FULL +1} in a single semop, which
 * must be all or nothing), the others one semop per step.
 *
 * Checked, exactly:
 *  - every item produced is consumed exactly once (a counter per item in
 *    bookkeeping memory of the test's own, not the segment);
 *  - per producer, the values' sum and xor match between the producer and
 *    all consumers together; every slot read holds an intact item
 *    (value and check word agree with the producer and sequence number);
 *  - each consumer receives each producer's items in increasing order (the
 *    ring is FIFO);
 *  - mutual exclusion: no two processes are ever inside the critical section
 *    (an atomic counter), and the ring never holds fewer than 0 or more than
 *    SLOTS items when a process enters it;
 *  - SEM_UNDO: the inspector takes MUTEX with SEM_UNDO and, on its
 *    INSPECT_KILL-th visit, stays inside (the producers wait for that half
 *    way through, so work remains); for HOLD_MS nobody else gets in (no
 *    progress at all), then it is killed with SIGKILL and its adjustment
 *    must release MUTEX so that the others, blocked on it, carry on (within
 *    MAX_RECOVER_MS, reported; this process leaves the set alone meanwhile,
 *    so the blocked processes must notice the death themselves);
 *  - at the end: EMPTY == SLOTS, FULL == 0, MUTEX == 1, nobody waiting
 *    (GETNCNT/GETZCNT 0), head == tail == items + end markers.
 * Consumers stop at an end marker, one each, which the test pushes through
 * the same protocol once the producers are done. Every process is bounded by
 * an alarm; kernel objects are removed at exit and on timeout.
 */
#include "svipc.h"
#include "t.h"
#include "mp_common.h"

#include <sys/sem.h>
#include <sys/shm.h>

#define NPROD 3
#define NCONS 3
#define ITEMS 10000       /* per producer */
#define SLOTS 16
#define INSPECT_KILL 40   /* the inspector's visit that it never leaves */
#define HOLD_MS 150       /* how long the killed holder keeps everyone out first */
#define MAX_RECOVER_MS 5000
#define CHILD_SECONDS 90
#define END_PROD 0xffffu  /* producer number of an end marker */

enum { EMPTY, FULL, MUTEX, NSEMS };

/* In the System V segment. */
struct slot {
	uint32_t prod, seq;
	uint64_t value, check;
};

struct ring {
	uint64_t head, tail; /* items taken, items put; only under MUTEX */
	struct slot s[SLOTS];
};

/* The test's own bookkeeping (anonymous shared memory), never the system under test. */
struct book {
	int in_cs;          /* processes inside the critical section */
	int cs_violations;  /* times a process found someone else inside */
	int ring_violations;
	uint64_t ops;       /* critical sections completed */
	int holding;        /* inspector: 1 inside for good, 2 being killed */
	int inspections;
	uint64_t prod_sum[NPROD], prod_xor[NPROD];
	uint64_t cons_sum[NPROD], cons_xor[NPROD];
	uint64_t consumed[NCONS];
	uint8_t seen[NPROD][ITEMS];
};

struct impl {
	const char *name;
	int kernel;
	struct sem_impl sem;
	struct shm_impl shm;
};

static const struct impl impls[] = {
	{ "kernel", 1, T_KERNEL_SEM, T_KERNEL_SHM },
	{ "svipc", 0, T_SVIPC_SEM, T_SVIPC_SHM },
};

static const struct impl *im;
static int semid = -1;
static struct ring *ring;
static struct book *bk;

static uint64_t item_value(uint32_t prod, uint32_t seq)
{
	return t_mix64(((uint64_t)prod << 32) | seq);
}

static uint64_t item_check(uint64_t value, uint32_t seq)
{
	return ~value ^ ((uint64_t)seq * 0x9e3779b97f4a7c15ull);
}

/* ---- kernel objects: semaphore sets and segments both, removed on the way out ---- */

/* Tracked ids: a set as itself, a segment as -2 - id (ids are >= 0). */
static void rm_kernel_object(int code)
{
	if (code >= 0)
		semctl(code, 0, IPC_RMID);
	else if (code <= -2)
		shmctl(-2 - code, IPC_RMID, NULL);
}

/* ---- the protocol ------------------------------------------------------------- */

/* semop, again on EINTR; a failure ends the process (reported). */
static void sop(struct sembuf *b, size_t n, const char *what)
{
	while (im->sem.op(semid, b, n) == -1) {
		if (errno == EINTR)
			continue;
		T_FAIL("%s: %s: semop: %s", im->name, what, strerror(errno));
		_exit(1);
	}
}

static void enter_cs(void)
{
	if (AADD(&bk->in_cs, 1) != 1)
		AADD(&bk->cs_violations, 1);
	if (ALOAD(&bk->holding) == 1)
		AADD(&bk->cs_violations, 1); /* the inspector holds MUTEX */
	uint64_t n = ring->tail - ring->head;
	if (ring->tail < ring->head || n > SLOTS)
		AADD(&bk->ring_violations, 1);
}

static void leave_cs(void)
{
	AADD(&bk->ops, 1);
	AADD(&bk->in_cs, -1);
}

/* Puts one item; `one_call`: EMPTY and MUTEX in one semop, MUTEX and FULL in one. */
static void put(uint32_t prod, uint32_t seq, int one_call)
{
	if (one_call) {
		struct sembuf b[2] = { { EMPTY, -1, 0 }, { MUTEX, -1, SEM_UNDO } };
		sop(b, 2, "put: EMPTY-1 MUTEX-1");
	} else {
		struct sembuf e = { EMPTY, -1, 0 }, m = { MUTEX, -1, SEM_UNDO };
		sop(&e, 1, "put: EMPTY-1");
		sop(&m, 1, "put: MUTEX-1");
	}
	enter_cs();
	if (ring->tail - ring->head >= SLOTS) {
		T_FAIL("%s: producer %u found the ring full after EMPTY-1 (head %llu tail %llu)",
		       im->name, prod, (unsigned long long)ring->head,
		       (unsigned long long)ring->tail);
		_exit(1);
	}
	struct slot *s = &ring->s[ring->tail % SLOTS];
	s->prod = prod;
	s->seq = seq;
	s->value = prod == END_PROD ? 0 : item_value(prod, seq);
	s->check = item_check(s->value, seq);
	ring->tail++;
	leave_cs();
	if (one_call) {
		struct sembuf b[2] = { { MUTEX, 1, SEM_UNDO }, { FULL, 1, 0 } };
		sop(b, 2, "put: MUTEX+1 FULL+1");
	} else {
		struct sembuf m = { MUTEX, 1, SEM_UNDO }, f = { FULL, 1, 0 };
		sop(&m, 1, "put: MUTEX+1");
		sop(&f, 1, "put: FULL+1");
	}
}

static void producer(void *arg)
{
	uint32_t p = (uint32_t)(uintptr_t)arg;
	uint64_t sum = 0, x = 0;
	for (uint32_t seq = 0; seq < ITEMS; seq++) {
		/* Half way, wait for the inspector to keep MUTEX: work remains for after its death. */
		if (seq == ITEMS / 2 && !wait_flag(&bk->holding, 60000))
			T_FAIL("%s: producer %u: the inspector never kept MUTEX", im->name, p);
		put(p, seq, p % 2 == 0);
		uint64_t v = item_value(p, seq);
		sum += v;
		x ^= v;
	}
	bk->prod_sum[p] = sum;
	bk->prod_xor[p] = x;
}

static void consumer(void *arg)
{
	int c = (int)(uintptr_t)arg, one_call = c == 0;
	int64_t last[NPROD];
	for (int p = 0; p < NPROD; p++)
		last[p] = -1;
	uint64_t got = 0;
	for (;;) {
		if (one_call) {
			struct sembuf b[2] = { { FULL, -1, 0 }, { MUTEX, -1, SEM_UNDO } };
			sop(b, 2, "get: FULL-1 MUTEX-1");
		} else {
			struct sembuf f = { FULL, -1, 0 }, m = { MUTEX, -1, SEM_UNDO };
			sop(&f, 1, "get: FULL-1");
			sop(&m, 1, "get: MUTEX-1");
		}
		enter_cs();
		if (ring->tail == ring->head) {
			T_FAIL("%s: consumer %d found the ring empty after FULL-1", im->name, c);
			_exit(1);
		}
		struct slot s = ring->s[ring->head % SLOTS];
		ring->head++;
		leave_cs();
		if (one_call) {
			struct sembuf b[2] = { { MUTEX, 1, SEM_UNDO }, { EMPTY, 1, 0 } };
			sop(b, 2, "get: MUTEX+1 EMPTY+1");
		} else {
			struct sembuf m = { MUTEX, 1, SEM_UNDO }, e = { EMPTY, 1, 0 };
			sop(&m, 1, "get: MUTEX+1");
			sop(&e, 1, "get: EMPTY+1");
		}
		if (s.prod == END_PROD)
			break;
		if (s.prod >= NPROD || s.seq >= ITEMS || s.value != item_value(s.prod, s.seq) ||
		    s.check != item_check(s.value, s.seq)) {
			T_FAIL("%s: consumer %d read a damaged item: prod %u seq %u value %#llx "
			       "check %#llx",
			       im->name, c, s.prod, s.seq, (unsigned long long)s.value,
			       (unsigned long long)s.check);
			continue;
		}
		if ((int64_t)s.seq <= last[s.prod])
			T_FAIL("%s: consumer %d got producer %u's item %u after its item %lld",
			       im->name, c, s.prod, s.seq, (long long)last[s.prod]);
		last[s.prod] = s.seq;
		__atomic_add_fetch(&bk->seen[s.prod][s.seq], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&bk->cons_sum[s.prod], s.value, __ATOMIC_SEQ_CST);
		__atomic_xor_fetch(&bk->cons_xor[s.prod], s.value, __ATOMIC_SEQ_CST);
		got++;
	}
	bk->consumed[c] = got;
}

/* Visits the ring under MUTEX (SEM_UNDO); stays inside on visit INSPECT_KILL. */
static void inspector(void *arg)
{
	(void)arg;
	for (int visit = 1;; visit++) {
		struct sembuf m = { MUTEX, -1, SEM_UNDO };
		sop(&m, 1, "inspect: MUTEX-1");
		enter_cs();
		for (uint64_t i = ring->head; i < ring->tail; i++) {
			const struct slot *s = &ring->s[i % SLOTS];
			if (s->prod != END_PROD &&
			    (s->prod >= NPROD || s->value != item_value(s->prod, s->seq) ||
			     s->check != item_check(s->value, s->seq)))
				AADD(&bk->ring_violations, 1);
		}
		ASTORE(&bk->inspections, visit);
		if (visit == INSPECT_KILL) {
			AADD(&bk->in_cs, -1); /* still holding MUTEX: `holding` guards it now */
			ASTORE(&bk->holding, 1);
			for (;;)
				pause(); /* until SIGKILL */
		}
		leave_cs();
		m.sem_op = 1;
		sop(&m, 1, "inspect: MUTEX+1");
		sleep_us(300);
	}
}

/* ---- one run ------------------------------------------------------------------- */

static int getval(int n)
{
	return im->sem.ctl(semid, n, GETVAL);
}

static void run(const struct impl *impl)
{
	im = impl;
	mp_scenario = impl->name;
	fprintf(stderr, "ring: %s: %d producers x %d items, %d consumers, %d slots\n", impl->name,
		NPROD, ITEMS, NCONS, SLOTS);
	memset(bk, 0, sizeof *bk);
	int64_t t0 = now_ms();

	int shmid = (int)T_OK(impl->shm.get(IPC_PRIVATE, sizeof(struct ring), IPC_CREAT | 0600));
	if (shmid == -1)
		return;
	if (impl->kernel)
		mp_track_kernel(-2 - shmid);
	semid = (int)T_OK(impl->sem.get(IPC_PRIVATE, NSEMS, IPC_CREAT | 0600));
	if (semid != -1 && impl->kernel)
		mp_track_kernel(semid);
	ring = impl->shm.at(shmid, NULL, 0);
	if (ring == (void *)-1) {
		T_FAIL("%s: shmat: %s", impl->name, strerror(errno));
		ring = NULL;
	}
	if (semid == -1 || !ring)
		goto out;
	for (size_t i = 0; i < sizeof *ring; i++)
		T_ASSERT(((unsigned char *)ring)[i] == 0);

	unsigned short init[NSEMS] = { [EMPTY] = SLOTS, [FULL] = 0, [MUTEX] = 1 };
	union t_semun a = { .array = init };
	if (T_OK(impl->sem.ctl(semid, 0, SETALL, a)) == -1)
		goto out;

	pid_t cons[NCONS], prod[NPROD], insp;
	for (int c = 0; c < NCONS; c++)
		cons[c] = spawn(consumer, (void *)(uintptr_t)c, CHILD_SECONDS);
	for (int p = 0; p < NPROD; p++)
		prod[p] = spawn(producer, (void *)(uintptr_t)p, CHILD_SECONDS);
	insp = spawn(inspector, NULL, CHILD_SECONDS);

	/* The inspector stays inside: nobody gets in, until it is killed. */
	if (!wait_flag(&bk->holding, 60000)) {
		T_FAIL("%s: the inspector never reached visit %d (%d visits)", impl->name,
		       INSPECT_KILL, ALOAD(&bk->inspections));
	} else {
		uint64_t before = ALOAD(&bk->ops);
		sleep_ms(HOLD_MS);
		uint64_t after = ALOAD(&bk->ops);
		if (after != before)
			T_FAIL("%s: %llu critical sections ran while the inspector held MUTEX",
			       impl->name, (unsigned long long)(after - before));
		T_EQ(getval(MUTEX), 0);
		ASTORE(&bk->holding, 2);
		int64_t tk = now_ms();
		kill(insp, SIGKILL);
		reap(insp, SIGKILL, "inspector");
		/* Its SEM_UNDO adjustment gives MUTEX back; the others go on. */
		while (ALOAD(&bk->ops) == after && now_ms() - tk < MAX_RECOVER_MS + 1000)
			sleep_us(100);
		int64_t dt = now_ms() - tk;
		if (ALOAD(&bk->ops) == after)
			T_FAIL("%s: no progress %lld ms after the MUTEX holder was killed "
			       "(SEM_UNDO not applied?)",
			       impl->name, (long long)dt);
		else
			fprintf(stderr, "ring: %s: MUTEX holder killed; the next critical section "
					"ran %lld ms later\n", impl->name, (long long)dt);
		if (dt > MAX_RECOVER_MS)
			T_FAIL("%s: recovery took %lld ms (limit %d)", impl->name, (long long)dt,
			       MAX_RECOVER_MS);
		insp = -1;
	}
	if (insp > 0) {
		kill(insp, SIGKILL);
		reap(insp, SIGKILL, "inspector");
	}

	for (int p = 0; p < NPROD; p++)
		reap(prod[p], 0, "producer");
	/* One end marker per consumer, through the same protocol (bounded waits). */
	for (int c = 0; c < NCONS; c++) {
		struct sembuf b[2] = { { EMPTY, -1, 0 }, { MUTEX, -1, SEM_UNDO } };
		struct timespec ts = { 20, 0 };
		if (impl->sem.timedop(semid, b, 2, &ts) == -1) {
			T_FAIL("%s: end marker %d: semtimedop: %s", impl->name, c, strerror(errno));
			break;
		}
		enter_cs();
		struct slot *s = &ring->s[ring->tail % SLOTS];
		s->prod = END_PROD;
		s->seq = (uint32_t)c;
		s->value = 0;
		s->check = item_check(0, (uint32_t)c);
		ring->tail++;
		leave_cs();
		struct sembuf r[2] = { { MUTEX, 1, SEM_UNDO }, { FULL, 1, 0 } };
		T_OK(impl->sem.op(semid, r, 2));
	}
	for (int c = 0; c < NCONS; c++)
		reap(cons[c], 0, "consumer");

	/* Exactly once, intact, in order (checked by the consumers), nothing lost. */
	uint64_t total = 0, missing = 0, twice = 0;
	for (int c = 0; c < NCONS; c++)
		total += bk->consumed[c];
	for (int p = 0; p < NPROD; p++)
		for (int i = 0; i < ITEMS; i++) {
			missing += bk->seen[p][i] == 0;
			twice += bk->seen[p][i] > 1;
		}
	T_EQ(total, (uint64_t)NPROD * ITEMS);
	T_EQ(missing, 0);
	T_EQ(twice, 0);
	for (int p = 0; p < NPROD; p++) {
		if (bk->prod_sum[p] != bk->cons_sum[p] || bk->prod_xor[p] != bk->cons_xor[p])
			T_FAIL("%s: producer %d: sum %#llx xor %#llx produced, %#llx %#llx consumed",
			       impl->name, p, (unsigned long long)bk->prod_sum[p],
			       (unsigned long long)bk->prod_xor[p],
			       (unsigned long long)bk->cons_sum[p],
			       (unsigned long long)bk->cons_xor[p]);
	}
	T_EQ(bk->cs_violations, 0);
	T_EQ(bk->ring_violations, 0);
	T_EQ(ring->head, (uint64_t)NPROD * ITEMS + NCONS);
	T_EQ(ring->tail, ring->head);
	T_EQ(getval(EMPTY), SLOTS);
	T_EQ(getval(FULL), 0);
	T_EQ(getval(MUTEX), 1);
	for (int n = 0; n < NSEMS; n++) {
		T_EQ(impl->sem.ctl(semid, n, GETNCNT), 0);
		T_EQ(impl->sem.ctl(semid, n, GETZCNT), 0);
	}
	fprintf(stderr, "ring: %s: %llu items in %lld ms, %d consumers took %llu/%llu/%llu\n",
		impl->name, (unsigned long long)total, (long long)(now_ms() - t0), NCONS,
		(unsigned long long)bk->consumed[0], (unsigned long long)bk->consumed[1],
		(unsigned long long)bk->consumed[2]);
out:
	if (ring)
		T_OK(impl->shm.dt(ring));
	ring = NULL;
	if (semid != -1) {
		T_OK(impl->sem.ctl(semid, 0, IPC_RMID));
		if (impl->kernel)
			mp_untrack_kernel(semid);
		T_ERR(impl->sem.ctl(semid, 0, GETVAL), EINVAL);
	}
	semid = -1;
	T_OK(impl->shm.ctl(shmid, IPC_RMID, NULL));
	if (impl->kernel)
		mp_untrack_kernel(-2 - shmid);
}

int main(int argc, char **argv)
{
	t_setup(200);
	mp_setup_cleanup(rm_kernel_object, "semaphore sets and segments");
	bk = shared_alloc(sizeof *bk);
	/* Optional argument: run only "kernel" or "svipc". */
	const char *only = argc > 1 ? argv[1] : NULL;
	for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
		if (only && strcmp(only, impls[i].name))
			continue;
		if (impls[i].kernel) {
			int probe = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
			if (probe == -1) {
				fprintf(stderr, "note: no kernel semaphores (%s): kernel run skipped\n",
					strerror(errno));
				continue;
			}
			semctl(probe, 0, IPC_RMID);
		}
		run(&impls[i]);
	}
	return t_done();
}

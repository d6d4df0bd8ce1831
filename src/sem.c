/* sem.c - System V semaphore sets: semget, semop, semtimedop, semctl. */
#include "sem.h"
#include "inspect.h"
#include "internal.h"
#include "lock.h"
#include "ns.h"
#include "proc.h"
#include "svipc.h"
#include "wait.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * How a call goes. Everything that reads or changes a set runs under its
 * lock (uncontended: one atomic to take it, one to release it, no system
 * call). A semop evaluates its operations in order on the current values,
 * writing what they would produce into the journal (sem.h); if all can be
 * done the journal is committed and applied, else nothing was changed.
 * After a change, every blocked call whose operations can now complete is
 * completed on its behalf, in arrival order (the kernel's update_queue),
 * and woken: a blocked caller returns with its work already done, so a
 * unit released is never taken by a latecomer ahead of an older waiter.
 *
 * SEM_UNDO. A process's adjustments live in its undo record in the set.
 * It applies them itself at exit (a destructor); if it died without doing
 * so, nobody is told, so whoever is about to depend on a value that some
 * other process's adjustment would change asks whether that process still
 * lives, and applies its record first if not. Each semaphore counts the
 * records with a non-zero adjustment on it (nadj), so the common case (no
 * other process holds an adjustment on what we touch) costs nothing.
 */

/*
 * A blocked call's futex wait ends after this long even without a wake-up,
 * as a safety net for a waker that died between its commit and its wake.
 * While other processes hold adjustments on semaphores that waiters wait
 * for, nobody is told when such a process dies, so one waiter (the newest
 * of those concerned) looks for that death sooner: after UNDO_SLICE_MIN,
 * growing to UNDO_SLICE_MAX; applying the dead one's undo then wakes
 * whoever it lets go. The newest, because it is awake when it takes the
 * role: on a contended SEM_UNDO mutex the role then passes without a
 * wake-up, where the oldest (the next one handed the mutex) would pass it
 * on at every hand-off.
 */
#define WAIT_SLICE_NS 1000000000LL
#define UNDO_SLICE_MIN 1000000LL
#define UNDO_SLICE_MAX 10000000LL
#define WAIT_ARMED_NS 1000000LL /* longer than any spin (wait.c) */
#define MAX_KICKS 8
#define MAX_CHANGES 32 /* semaphores whose change one call tracks; beyond: all changed */

/* How a semaphore's value changed: what can let a waiter go. */
enum { CHG_UP = 1, CHG_ZERO = 2, CHG_DOWN = 4 };

/* The kernel's fixed figures that seminfo reports (include/uapi/linux/sem.h). */
#define K_SEMMAP 1024000000
#define K_SEMMNU 1024000000
#define K_SEMUME 500
#define K_SEMUSZ 20

/* A validated view of one set: geometry read once and checked against the mapping. */
struct sem_view {
	struct sem_set *s;
	char *base;
	struct sem_val *sem;
	struct sem_waiter *w;
	struct sem_wop *wop;
	struct sem_undo *un;
	int32_t *adj;
	struct sem_jent *j;
	uint32_t nsems, nwaiters, opcap, nundo, njournal, nbig;
	uint32_t undo_hint; /* this process's undo record (in the cached copy) */
	int corrupt;
};

_Static_assert(sizeof(struct sem_view) <= SVIPC_VIEW_SIZE, "a set's view fits the cache entry");

/* One call: the set, the transaction being built, the wake-ups to issue after unlock. */
struct scall {
	struct svipc_ref ref;
	struct sem_view *v; /* the cached view of this mapping, or `local` */
	struct sem_view local;
	uint32_t jn;
	/* The semaphores changed since update_queue last looked, and how. */
	uint16_t chg[MAX_CHANGES];
	uint8_t chg_kind[MAX_CHANGES];
	int nchg;
	int chg_all;
	uint32_t *kick[MAX_KICKS];
	int nkick;
	int kick_poll;
	int unlocked; /* the lock could not be taken back */
};

#define W(v, i) (&(v)->w[(i) - 1])
#define U(v, u) (&(v)->un[(u) - 1])
#define ADJ(v, u, n) (&(v)->adj[(size_t)((u) - 1) * (v)->nsems + (n)])
#define BIG(v, b) (&(v)->wop[(size_t)((b) - 1) * (v)->opcap])
#define OFF(v, p) ((uint32_t)((char *)(p) - (v)->base))
#define CORRUPT(v) ((v)->corrupt = 1)

static inline size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

/* ---- geometry ------------------------------------------------------------------- */

struct sem_geom {
	uint32_t nsems, nwaiters, opcap, nundo, njournal, nbig;
	uint64_t off_sem, off_waiter, off_wop, off_undo, off_adj, off_journal;
	uint64_t size;
};

/*
 * Everything follows from nsems and opcap (semopm when the set was made,
 * at most SEM_OPCAP_MAX). A transaction writes each word once (repeats
 * update their entry), so the journal holds the largest one whatever
 * the number of operations: 3 words per semaphore (value, pid, the
 * caller's adjustment) plus, for SETVAL, one adjustment per undo record.
 */
static void sem_layout(uint32_t nsems, uint32_t opcap, struct sem_geom *g)
{
	g->nsems = nsems;
	g->nwaiters = SEM_NWAITERS;
	g->opcap = opcap;
	g->nbig = SEM_NBIG;
	uint64_t row = (uint64_t)nsems * sizeof(int32_t);
	g->nundo = (uint32_t)MIN(MAX(SEM_UNDO_BYTES / (row + sizeof(struct sem_undo)), SEM_NUNDO_MIN),
				 SEM_NUNDO_MAX);
	g->njournal = 3 * nsems + g->nundo + 16;
	g->off_sem = align_up(sizeof(struct sem_set), 64);
	g->off_waiter = align_up(g->off_sem + (uint64_t)nsems * sizeof(struct sem_val), 64);
	g->off_wop = g->off_waiter + (uint64_t)g->nwaiters * sizeof(struct sem_waiter);
	g->off_undo = align_up(g->off_wop + (uint64_t)g->nbig * g->opcap * sizeof(struct sem_wop), 64);
	g->off_adj = align_up(g->off_undo + (uint64_t)g->nundo * sizeof(struct sem_undo), 64);
	g->off_journal = align_up(g->off_adj + (uint64_t)g->nundo * row, 64);
	g->size = align_up(g->off_journal + (uint64_t)g->njournal * sizeof(struct sem_jent), 4096);
}

/* Checks a set's header against the layout its nsems and opcap give and the mapping. */
static int sem_view_make(struct sem_view *v, struct sem_set *s, size_t size)
{
	memset(v, 0, sizeof *v);
	v->s = s;
	v->base = (char *)s;
	if (size < sizeof *s)
		goto bad;
	uint32_t nsems = LOAD_RELAXED(&s->nsems), opcap = LOAD_RELAXED(&s->opcap);
	if (nsems < 1 || nsems > SEM_NSEMS_MAX || opcap < 1 || opcap > SEM_OPCAP_MAX)
		goto bad;
	struct sem_geom g;
	sem_layout(nsems, opcap, &g);
	if (g.size > size || LOAD_RELAXED(&s->nwaiters) != g.nwaiters ||
	    LOAD_RELAXED(&s->nbig) != g.nbig || LOAD_RELAXED(&s->nundo) != g.nundo ||
	    LOAD_RELAXED(&s->njournal) != g.njournal || s->off_sem != g.off_sem ||
	    s->off_waiter != g.off_waiter || s->off_wop != g.off_wop || s->off_undo != g.off_undo ||
	    s->off_adj != g.off_adj || s->off_journal != g.off_journal || g.size > UINT32_MAX)
		goto bad;
	v->sem = (struct sem_val *)(v->base + g.off_sem);
	v->w = (struct sem_waiter *)(v->base + g.off_waiter);
	v->wop = (struct sem_wop *)(v->base + g.off_wop);
	v->un = (struct sem_undo *)(v->base + g.off_undo);
	v->adj = (int32_t *)(v->base + g.off_adj);
	v->j = (struct sem_jent *)(v->base + g.off_journal);
	v->nsems = nsems;
	v->nwaiters = g.nwaiters;
	v->opcap = g.opcap;
	v->nundo = g.nundo;
	v->njournal = g.njournal;
	v->nbig = g.nbig;
	return LOAD_RELAXED(&s->obj.corrupt) ? -EIDRM : 0;
bad:
	STORE(&s->obj.corrupt, 1);
	return -EIDRM;
}

/* ---- the type's hooks for the namespace ---------------------------------------- */

struct sem_params {
	int nsems;
};

static int sem_check_new(const struct svipc_ns_limits *lim, const void *params)
{
	const struct sem_params *p = params;
	return p->nsems == 0 ? -EINVAL : 0;
}

static uint64_t sem_units(const void *params)
{
	return (uint64_t)((const struct sem_params *)params)->nsems;
}

static uint64_t sem_max_units(const struct svipc_ns_limits *lim)
{
	return lim->semmns;
}

static uint32_t lim_opcap(const struct svipc_ns_limits *lim)
{
	return (uint32_t)MIN(MAX(lim->semopm, 1), SEM_OPCAP_MAX);
}

static size_t sem_file_size(const struct svipc_ns_limits *lim, const void *params)
{
	struct sem_geom g;
	sem_layout((uint32_t)((const struct sem_params *)params)->nsems, lim_opcap(lim), &g);
	return g.size;
}

static int sem_init(void *base, size_t size, const struct svipc_ns_limits *lim, const void *params)
{
	struct sem_set *s = base;
	struct sem_geom g;
	sem_layout((uint32_t)((const struct sem_params *)params)->nsems, lim_opcap(lim), &g);
	s->nsems = g.nsems;
	s->nwaiters = g.nwaiters;
	s->opcap = g.opcap;
	s->nbig = g.nbig;
	s->nundo = g.nundo;
	s->njournal = g.njournal;
	s->off_sem = g.off_sem;
	s->off_waiter = g.off_waiter;
	s->off_wop = g.off_wop;
	s->off_undo = g.off_undo;
	s->off_adj = g.off_adj;
	s->off_journal = g.off_journal;
	/*
	 * What every call may touch, populated now (region.h): the values, and
	 * the journal for any transaction but SETVAL's (3 words per semaphore).
	 * Waiter slots, undo records and their rows are populated as they come
	 * into use.
	 */
	char *b = base;
	size_t jn = MIN(g.njournal, 3 * (size_t)g.nsems + 16);
	if (svipc__populate(b + g.off_sem, (size_t)g.nsems * sizeof(struct sem_val)) < 0 ||
	    svipc__populate(b + g.off_journal, jn * sizeof(struct sem_jent)) < 0)
		return -ENOMEM;
	return 0;
}

static int sem_more_checks(const struct svipc_ref *ref, const void *params)
{
	struct sem_view v;
	if (sem_view_make(&v, (struct sem_set *)ref->obj, ref->size) < 0)
		return -EIDRM;
	return (uint32_t)((const struct sem_params *)params)->nsems > v.nsems ? -EINVAL : 0;
}

static int set_lock(struct scall *c);
static void set_unlock(struct scall *c);
static void wake_all_removed(struct scall *c);

static int sem_remove(struct svipc_obj *o, size_t size)
{
	struct scall c = { .ref = { .obj = o, .size = size } };
	c.v = &c.local;
	if (sem_view_make(c.v, (struct sem_set *)o, size) < 0) {
		STORE(&o->removed, SVIPC_OBJ_REMOVED);
		return 0;
	}
	int r = set_lock(&c);
	int locked = r == 0 || r == -EIDRM;
	STORE(&o->removed, SVIPC_OBJ_REMOVED);
	wake_all_removed(&c);
	if (locked)
		set_unlock(&c);
	return 0;
}

static uint64_t sem_max_objects(const struct svipc_ns_limits *lim)
{
	return lim->semmni;
}

static void sem_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg);
static void sem_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair);

const struct svipc_type_ops svipc__sem_ops = {
	.type = SVIPC_SEM,
	.magic = SEM_MAGIC,
	.check_new = sem_check_new,
	.units = sem_units,
	.max_units = sem_max_units,
	.size = sem_file_size,
	.init = sem_init,
	.more_checks = sem_more_checks,
	.remove = sem_remove,
	.max_objects = sem_max_objects,
	.inspect = sem_inspect,
	.check = sem_check,
};

/* ---- who a process is, for SEM_UNDO ------------------------------------------------- */

/*
 * starttime (field 22 of /proc/<pid>/stat) names a process for as long as
 * it lives, across exec, and is never reused with its pid. Returns 0 if it
 * cannot be read; *state gets the state letter ('Z' for a zombie).
 */
static uint64_t pid_start_time(pid_t pid, char *state)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (svipc__read_small_file(path, buf, sizeof buf) <= 0)
		return 0;
	char *p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	if (state)
		*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

static struct {
	pid_t pid;
	uint64_t start;
} ME;

static void me_get(pid_t *pid, uint64_t *start)
{
	pid_t p = svipc__proc_pid();
	if (LOAD(&ME.pid) != p) {
		ME.start = pid_start_time(p, NULL);
		STORE(&ME.pid, p);
	}
	*pid = p;
	*start = ME.start;
}

/*
 * 1 unless the owner of undo record u is certainly gone: its register
 * token is dead (it exited or execed) and no process with its pid and
 * start time runs (a zombie has exited: Linux applied its undo then).
 */
static int undo_owner_alive(const struct sem_undo *rec)
{
	pid_t pid;
	uint64_t start;
	me_get(&pid, &start);
	if (rec->pid == pid && rec->start == start)
		return 1;
	if (svipc__proc_alive(rec->token))
		return 1;
	if (!rec->start)
		return 0;
	char st = 0;
	uint64_t t = pid_start_time(rec->pid, &st);
	return t == rec->start && st != 'Z' && st != 'X';
}

/* The sets this process has an undo record in, to apply at exit. */
static struct {
	pthread_mutex_t mu;
	pid_t pid;
	int n, cap;
	int *ids;
} UL = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* fork: the child must not inherit the list's mutex held by another thread. */
void svipc__sem_atfork(enum svipc_fork_phase phase)
{
	if (phase == SVIPC_FORK_PREPARE)
		pthread_mutex_lock(&UL.mu);
	else
		pthread_mutex_unlock(&UL.mu);
}

/*
 * Notes set id in the list, before the record it names is made: the list
 * cannot grow in memory that is not there, and the semop then fails with
 * ENOMEM, as the kernel's does when it cannot allocate its undo structure.
 */
static int undo_list_add(int id)
{
	int r = 0;
	pid_t pid = svipc__proc_pid();
	pthread_mutex_lock(&UL.mu);
	if (UL.pid != pid) { /* a forked child inherits none of its parent's */
		UL.pid = pid;
		UL.n = 0;
	}
	int i;
	for (i = 0; i < UL.n && UL.ids[i] != id; i++)
		;
	if (i == UL.n) {
		if (UL.n == UL.cap) {
			/* Sets removed since are forgotten first: a long-lived process
			 * that uses many sets in turn keeps a list of those that exist. */
			int k = 0;
			for (int j = 0; j < UL.n; j++)
				if (svipc__ns_state(SVIPC_SEM, UL.ids[j]) != SVIPC_NS_NONE)
					UL.ids[k++] = UL.ids[j];
			UL.n = k;
		}
		if (UL.n == UL.cap) {
			int cap = UL.cap ? UL.cap * 2 : 8;
			int *ids = realloc(UL.ids, (size_t)cap * sizeof *ids);
			if (ids) {
				UL.ids = ids;
				UL.cap = cap;
			}
		}
		if (UL.n < UL.cap)
			UL.ids[UL.n++] = id;
		else
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&UL.mu);
	return r;
}

/* ---- the journal ------------------------------------------------------------------- */

/* Where entry e writes, or NULL if it points outside the set (damage). */
static void *jent_target(const struct sem_view *v, size_t size, const struct sem_jent *e)
{
	uint32_t off = e->off, width = e->width;
	if ((width != 4 && width != 8) || off % width || (uint64_t)off + width > size ||
	    off < offsetof(struct sem_set, obj.ctime))
		return NULL;
	return v->base + off;
}

static void jput(struct scall *c, void *where, uint32_t width, int64_t val)
{
	struct sem_view *v = c->v;
	if (c->jn >= v->njournal) {
		CORRUPT(v);
		return;
	}
	struct sem_jent *e = &v->j[c->jn++];
	e->off = OFF(v, where);
	e->width = width;
	e->val = val;
}

/* jput, or the update of the entry for `where` made since entry `from`. */
static void jset(struct scall *c, uint32_t from, int dup, int32_t *where, int32_t val)
{
	if (dup) {
		uint32_t off = OFF(c->v, where);
		for (uint32_t k = from; k < c->jn; k++)
			if (c->v->j[k].off == off) {
				c->v->j[k].val = val;
				return;
			}
	}
	jput(c, where, 4, val);
}

/* The value at `where` as the transaction being built leaves it. */
static int32_t jlook(const struct scall *c, uint32_t from, const int32_t *where)
{
	uint32_t off = OFF(c->v, where);
	for (uint32_t k = c->jn; k > from; k--)
		if (c->v->j[k - 1].off == off)
			return (int32_t)c->v->j[k - 1].val;
	return *where;
}

/* Notes that semaphore num went from old to new, for update_queue. */
static void note_change(struct scall *c, uint32_t num, int32_t old, int32_t new)
{
	uint8_t kind = (uint8_t)((new > old ? CHG_UP : 0) | (new < old ? CHG_DOWN : 0) |
				 (new == 0 && old != 0 ? CHG_ZERO : 0));
	if (!kind || c->chg_all)
		return;
	for (int i = 0; i < c->nchg; i++)
		if (c->chg[i] == num) {
			c->chg_kind[i] |= kind;
			return;
		}
	if (c->nchg == MAX_CHANGES) {
		c->chg_all = 1;
		return;
	}
	c->chg[c->nchg] = (uint16_t)num;
	c->chg_kind[c->nchg++] = kind;
}

static uint8_t changed(const struct scall *c, uint32_t num)
{
	if (c->chg_all)
		return CHG_UP | CHG_ZERO | CHG_DOWN;
	for (int i = 0; i < c->nchg; i++)
		if (c->chg[i] == num)
			return c->chg_kind[i];
	return 0;
}

/* Keeps nadj/nz/nundo_nz right as an adjustment changes from old to new. */
static void adj_changed(struct sem_view *v, uint32_t off, int32_t old, int32_t new)
{
	if ((old != 0) == (new != 0))
		return;
	uint64_t idx = (off - (uint64_t)v->s->off_adj) / sizeof(int32_t);
	uint32_t u = (uint32_t)(idx / v->nsems) + 1, num = (uint32_t)(idx % v->nsems);
	struct sem_val *sv = &v->sem[num];
	struct sem_undo *rec = U(v, u);
	if (new) {
		sv->nadj++;
		if (rec->nz++ == 0)
			v->s->nundo_nz++;
	} else {
		if (sv->nadj)
			sv->nadj--;
		if (rec->nz && --rec->nz == 0 && v->s->nundo_nz)
			v->s->nundo_nz--;
	}
}

/* Commits the transaction built so far and applies it. */
static void jcommit(struct scall *c)
{
	struct sem_view *v = c->v;
	uint32_t n = c->jn;
	if (!n || v->corrupt)
		return;
	STORE(&v->s->j_n, n); /* the commit point */
	uint64_t adj_lo = v->s->off_adj, adj_hi = adj_lo + (uint64_t)v->nundo * v->nsems * 4;
	uint64_t sem_lo = v->s->off_sem, sem_hi = sem_lo + (uint64_t)v->nsems * sizeof(struct sem_val);
	for (uint32_t k = 0; k < n; k++) {
		struct sem_jent *e = &v->j[k];
		void *p = jent_target(v, c->ref.size, e);
		if (!p) {
			CORRUPT(v);
			continue;
		}
		if (e->width == 8) {
			*(int64_t *)p = e->val;
			continue;
		}
		if (e->off >= adj_lo && e->off < adj_hi)
			adj_changed(v, e->off, *(int32_t *)p, (int32_t)e->val);
		else if (e->off >= sem_lo && e->off < sem_hi && (e->off - sem_lo) % sizeof(struct sem_val) == 0)
			note_change(c, (uint32_t)((e->off - sem_lo) / sizeof(struct sem_val)), *(int32_t *)p,
				    (int32_t)e->val);
		*(int32_t *)p = (int32_t)e->val;
	}
	STORE(&v->s->j_n, 0);
	c->jn = 0;
}

/* ---- locking and recovery --------------------------------------------------------- */

static void apply_set(struct sem_set *s)
{
	s->obj.perm.uid = s->set_uid;
	s->obj.perm.gid = s->set_gid;
	s->obj.perm.mode = s->set_mode;
	s->obj.ctime = s->set_ctime;
	STORE(&s->set_valid, 0);
}

static void list_append(struct sem_view *v, uint32_t i)
{
	struct sem_set *s = v->s;
	struct sem_waiter *w = W(v, i);
	w->next = 0;
	w->prev = s->wtail;
	if (s->wtail && s->wtail <= v->nwaiters)
		W(v, s->wtail)->next = i;
	else
		s->whead = i;
	s->wtail = i;
}

/* Waiter slots in use are below this. */
static uint32_t w_hi(const struct sem_view *v)
{
	return MIN(v->s->w_hi, v->nwaiters);
}

/* The operations a waiter stored, or NULL if its slot says something impossible. */
static const struct sem_wop *waiter_ops(const struct sem_view *v, const struct sem_waiter *w)
{
	uint32_t n = w->nsops, b = w->big;
	if (n < 1)
		return NULL;
	if (!b)
		return n <= SEM_INLINE_OPS ? w->ops : NULL;
	return b <= v->nbig && n <= v->opcap ? BIG(v, b) : NULL;
}

static uint32_t *waiter_link(void *arg, uint32_t i)
{
	return &W((struct sem_view *)arg, i)->next;
}

static int arrived_before(void *arg, uint32_t a, uint32_t b)
{
	struct sem_view *v = arg;
	return (int32_t)(W(v, a)->arrival - W(v, b)->arrival) < 0; /* wrap-safe */
}

/*
 * Recovery: the list again from the slots of live waiters, in arrival
 * order, sorted through their own links (recovery allocates nothing).
 */
static void waiters_rebuild(struct sem_view *v)
{
	struct sem_set *s = v->s;
	uint32_t hi = w_hi(v), n = 0, top = 0, all = 0, *tail = &all;
	s->npoll = 0; /* slotless waiters that died are not counted any more */
	s->big_used = 0;
	for (uint32_t i = 1; i <= hi; i++) {
		struct sem_waiter *w = W(v, i);
		int32_t st = LOAD(&w->state);
		if ((st == SW_WAIT || st == SW_POLL) && svipc__proc_alive(w->token)) {
			*tail = i;
			tail = &w->next;
			n++;
			top = i;
			if (w->big && w->big <= v->nbig)
				s->big_used |= 1ull << (w->big - 1);
		} else if (st == SW_DONE && svipc__proc_alive(w->token)) {
			top = i; /* decided, not yet collected: its owner frees it */
		} else {
			STORE(&w->state, SW_FREE);
		}
	}
	*tail = 0;
	all = svipc__chain_sort(all, waiter_link, arrived_before, v);
	s->w_hi = top;
	s->whead = s->wtail = 0;
	s->nwait = n;
	while (all) {
		uint32_t next = W(v, all)->next;
		list_append(v, all);
		all = next;
	}
}

/* Recovery: the counters derived from the undo records, and a check of the values. */
static void derived_rebuild(struct sem_view *v)
{
	struct sem_set *s = v->s;
	for (uint32_t i = 0; i < v->nsems; i++) {
		v->sem[i].nadj = 0;
		if (v->sem[i].val < 0 || v->sem[i].val > SEM_VMX)
			CORRUPT(v);
	}
	if (s->undo_hi > v->nundo)
		s->undo_hi = v->nundo;
	s->nundo_nz = 0;
	/* Records above undo_hi are unused, and may be in pages never touched. */
	for (uint32_t u = 1; u <= s->undo_hi; u++) {
		struct sem_undo *rec = U(v, u);
		rec->nz = 0;
		if (rec->state != SU_USED || rec->epoch != s->adj_epoch)
			continue;
		for (uint32_t i = 0; i < v->nsems; i++)
			if (*ADJ(v, u, i)) {
				rec->nz++;
				v->sem[i].nadj++;
			}
		if (rec->nz)
			s->nundo_nz++;
	}
}

static void wake_all(struct scall *c);
static void update_queue_all(struct scall *c);
static void kick_watcher(struct scall *c);

static void set_recover(struct scall *c)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	uint32_t n = LOAD(&s->j_n);
	if (n > v->njournal) {
		CORRUPT(v);
	} else {
		for (uint32_t k = 0; k < n; k++) { /* committed: complete it */
			void *p = jent_target(v, c->ref.size, &v->j[k]);
			if (!p)
				CORRUPT(v);
			else if (v->j[k].width == 8)
				*(int64_t *)p = v->j[k].val;
			else
				*(int32_t *)p = (int32_t)v->j[k].val;
		}
	}
	STORE(&s->j_n, 0);
	if (LOAD(&s->set_valid))
		apply_set(s);
	waiters_rebuild(v);
	derived_rebuild(v);
	/*
	 * A committed change's hand-offs are part of it (the kernel makes them
	 * in the same semop): a holder that died between its commit and the
	 * end of its update_queue has them made now, before the next user can
	 * take the units ahead of an older waiter.
	 */
	update_queue_all(c);
	wake_all(c); /* whoever waited on the dead holder looks again */
}

/*
 * Takes the set lock, recovering the set if its holder died. Returns 0;
 * -EIDRM (still locked) if the set is damaged; another -errno (unlocked).
 */
static int set_lock(struct scall *c)
{
	c->jn = 0;
	int r = svipc__lock(&c->v->s->obj.lock);
	if (r < 0)
		return r;
	if (r == 1)
		set_recover(c);
	if (c->v->corrupt)
		STORE(&c->v->s->obj.corrupt, 1);
	return LOAD(&c->v->s->obj.corrupt) ? -EIDRM : 0;
}

/*
 * The futex wake-ups go out before the lock is released: a waker killed
 * after its unlock but before its wake-ups would leave a waiter that was
 * handed its units asleep for a whole slice, while one killed holding the
 * lock is recovered, and recovery wakes everyone. (A spinning waiter needs
 * no wake-up at all, so the fast hand-off is not slowed.)
 */
static void set_unlock(struct scall *c)
{
	struct sem_set *s = c->v->s;
	if (c->v->corrupt)
		STORE(&s->obj.corrupt, 1);
	for (int i = 0; i < c->nkick; i++)
		svipc__futex_wake(c->kick[i], 1);
	c->nkick = 0;
	if (c->kick_poll)
		svipc__futex_wake(&s->poll, INT_MAX);
	c->kick_poll = 0;
	svipc__unlock(&s->obj.lock);
}

/* ---- waiters ------------------------------------------------------------------------ */

/* Walks the waiter list with a bound; stops (and flags damage) on a bad link. */
#define FOR_WAITERS(v, i, n)                                                              \
	for (uint32_t i = (v)->s->whead, n = 0;                                             \
	     i && ((i) <= (v)->nwaiters || (CORRUPT(v), 0)) && n < (v)->nwaiters;          \
	     i = W(v, i)->next, n++)

static void wake_one(struct scall *c, struct sem_waiter *w)
{
	if (XCHG(&w->word, SVIPC_W_WOKEN) == SVIPC_W_SLEEPING) {
		if (c->nkick < MAX_KICKS)
			c->kick[c->nkick++] = &w->word;
		else
			svipc__futex_wake(&w->word, 1);
	}
}

static void poke_pollers(struct scall *c)
{
	struct sem_set *s = c->v->s;
	if (s->npoll) {
		STORE(&s->poll, s->poll + 1);
		c->kick_poll = 1;
	}
}

static void wake_all(struct scall *c)
{
	struct sem_view *v = c->v;
	for (uint32_t i = 1, hi = w_hi(v); i <= hi; i++)
		if (LOAD(&W(v, i)->state) != SW_FREE)
			wake_one(c, W(v, i));
	STORE(&v->s->poll, v->s->poll + 1);
	c->kick_poll = 1;
}

/* IPC_RMID: every waiter returns EIDRM. */
static void wake_all_removed(struct scall *c)
{
	struct sem_view *v = c->v;
	for (uint32_t i = 1, hi = w_hi(v); i <= hi; i++) {
		int32_t st = LOAD(&W(v, i)->state);
		if (st != SW_FREE && st != SW_DONE) /* a decided call keeps its result */
			STORE(&W(v, i)->status, -EIDRM);
	}
	wake_all(c);
}

/*
 * A waiter killed while it waited must not be handed units (they would be
 * lost with it). One that registered moments ago is spinning, so it runs;
 * others are asked about, which costs a system call only where waking them
 * costs one anyway.
 */
static int waiter_lives(const struct sem_waiter *w)
{
	if (LOAD(&w->word) == SVIPC_W_ARMED && svipc__mono_ns() - w->since < WAIT_ARMED_NS)
		return 1;
	return svipc__proc_alive(w->token);
}

static uint32_t waiter_add(struct scall *c, const struct sem_wop *ops, uint32_t nsops,
			   uint32_t undo, uint32_t blocking)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	uint32_t hi = w_hi(v);
	for (uint32_t i = 1; i <= v->nwaiters && i <= hi + 1; i++) {
		struct sem_waiter *w = W(v, i);
		/*
		 * A slot above the high-water mark may be in a page never used:
		 * populate it before reading it (on a full filesystem even a read
		 * of such a page is SIGBUS).
		 */
		if (i > s->w_hi && svipc__populate(w, sizeof *w) < 0)
			return 0; /* a full filesystem: wait without a slot */
		if (LOAD(&w->state) != SW_FREE) /* an owner frees its SW_DONE slot unlocked */
			continue;
		/* The operations go in the slot, or in a free big area, or nowhere (SW_POLL). */
		uint32_t big = 0;
		int stored = nsops <= SEM_INLINE_OPS;
		if (stored) {
			memcpy(w->ops, ops, nsops * sizeof *ops);
		} else if (nsops <= v->opcap && ~s->big_used) {
			big = (uint32_t)__builtin_ctzll(~s->big_used) + 1;
			if (big <= v->nbig && svipc__populate(BIG(v, big), nsops * sizeof *ops) == 0) {
				s->big_used |= 1ull << (big - 1);
				memcpy(BIG(v, big), ops, nsops * sizeof *ops);
				stored = 1;
			} else {
				big = 0;
			}
		}
		w->big = big;
		w->token = svipc__proc_token();
		w->pid = svipc__proc_pid();
		w->nsops = nsops;
		w->undo = undo;
		w->arrival = v->s->arrival++;
		w->bnum = ops[blocking].num;
		w->bop = ops[blocking].op;
		w->since = svipc__mono_ns();
		w->status = SEM_PENDING;
		STORE(&w->word, SVIPC_W_ARMED);
		w->state = stored ? SW_WAIT : SW_POLL;
		list_append(v, i);
		s->nwait++;
		if (i > s->w_hi)
			s->w_hi = i;
		return i;
	}
	return 0;
}

/* Takes waiter i out of the list (its slot stays as it is). */
static void waiter_unlink(struct sem_view *v, uint32_t i)
{
	struct sem_set *s = v->s;
	struct sem_waiter *w = W(v, i);
	if (w->prev && w->prev <= v->nwaiters)
		W(v, w->prev)->next = w->next;
	else
		s->whead = w->next;
	if (w->next && w->next <= v->nwaiters)
		W(v, w->next)->prev = w->prev;
	else
		s->wtail = w->prev;
	if (w->big && w->big <= v->nbig)
		s->big_used &= ~(1ull << (w->big - 1));
	if (s->nwait)
		s->nwait--;
}

static void waiter_del(struct sem_view *v, uint32_t i)
{
	struct sem_set *s = v->s;
	struct sem_waiter *w = W(v, i);
	int32_t st = LOAD(&w->state);
	if (st == SW_FREE)
		return;
	if (st != SW_DONE) /* a decided waiter is out of the list already */
		waiter_unlink(v, i);
	STORE(&w->state, SW_FREE);
	if (i == s->w_hi)
		while (s->w_hi && LOAD(&W(v, s->w_hi)->state) == SW_FREE)
			s->w_hi--;
}

/*
 * Waiter i's call is decided (its status is stored): out of the list, so
 * that its owner, once woken, returns without taking the lock again (under
 * contention, that second trip through the lock is what a hand-off cost).
 * A death before the state's store leaves an SW_WAIT slot with its result:
 * recovery links it again, and its owner collects the result under the lock.
 */
static void waiter_done(struct sem_view *v, uint32_t i)
{
	waiter_unlink(v, i);
	STORE(&W(v, i)->state, SW_DONE); /* the result and the list before it */
}

/* Drops the slots of waiters that died while blocked. */
static void reap_dead_waiters(struct scall *c)
{
	struct sem_view *v = c->v;
	for (uint32_t i = 1, hi = w_hi(v); i <= hi; i++) {
		struct sem_waiter *w = W(v, i);
		if (w->state != SW_FREE && !svipc__proc_alive(w->token))
			waiter_del(v, i);
	}
}

/* ---- performing operations ------------------------------------------------------- */

/* 1 if two operations may name the same semaphore (then each looks at the journal). */
static int may_repeat(const struct sem_wop *ops, uint32_t n)
{
	uint64_t seen = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t bit = 1ull << (ops[i].num % 64);
		if (seen & bit)
			return 1;
		seen |= bit;
	}
	return 0;
}

static void set_otime(struct sem_set *s)
{
	int64_t now = svipc__real_sec();
	if (s->otime != now)
		s->otime = now;
}

/*
 * The kernel's perform_atomic_semop: the operations in order, each on the
 * values the earlier ones left. Their results go into the transaction (not
 * committed). Returns 0; 1 if one would block (*blocking: which), -EAGAIN
 * if that one has IPC_NOWAIT; -ERANGE; -EIDRM if the set is damaged. On
 * anything but 0 the transaction is as before.
 */
static int eval(struct scall *c, const struct sem_wop *ops, uint32_t nsops, uint32_t u,
		int32_t pid, uint32_t *blocking)
{
	struct sem_view *v = c->v;
	uint32_t from = c->jn;
	int dup = may_repeat(ops, nsops);
	int r;
	uint32_t i;
	for (i = 0; i < nsops; i++) {
		uint32_t num = ops[i].num;
		int32_t op = ops[i].op;
		if (num >= v->nsems) {
			CORRUPT(v);
			r = -EIDRM;
			goto undo;
		}
		int32_t *vp = &v->sem[num].val;
		int64_t cur = dup ? jlook(c, from, vp) : *vp;
		if ((op == 0 && cur != 0) || cur + op < 0)
			goto block;
		if (cur + op > SEM_VMX) {
			r = -ERANGE;
			goto undo;
		}
		if (ops[i].flg & SEM_UNDO) {
			if (!u) {
				CORRUPT(v);
				r = -EIDRM;
				goto undo;
			}
			int32_t *ap = ADJ(v, u, num);
			int64_t adj = (int64_t)(dup ? jlook(c, from, ap) : *ap) - op;
			if (adj < -SEM_AEM - 1 || adj > SEM_AEM) {
				r = -ERANGE;
				goto undo;
			}
			jset(c, from, dup, ap, (int32_t)adj);
		}
		jset(c, from, dup, vp, (int32_t)(cur + op));
	}
	for (i = 0; i < nsops; i++)
		jset(c, from, dup, &v->sem[ops[i].num].pid, pid);
	if (v->corrupt) {
		c->jn = from;
		return -EIDRM;
	}
	return 0;
block:
	*blocking = i;
	r = (ops[i].flg & IPC_NOWAIT) ? -EAGAIN : 1;
undo:
	c->jn = from;
	return r;
}

/*
 * The commonest semop, one operation without SEM_UNDO that can go at once
 * on a semaphore nobody holds an adjustment on: its value and pid share
 * one aligned 8-byte word, so one store is the whole update and its own
 * commit point, with no journal. Returns 1 if done, 0 for the general path
 * (which also gives the errors and blocks).
 */
static int single_op(struct sem_view *v, const struct sem_wop *op, int32_t pid)
{
	struct sem_val *sv = &v->sem[op->num];
	int64_t cur = sv->val, next = cur + op->op;
	if (sv->nadj || (op->op == 0 ? cur != 0 : next < 0 || next > SEM_VMX))
		return 0;
	/* Built in a register: composing it in memory would stall the load. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t word = (uint32_t)next | (uint64_t)(uint32_t)pid << 32;
#else
	uint64_t word = (uint64_t)(uint32_t)next << 32 | (uint32_t)pid;
#endif
	STORE((uint64_t *)sv, word);
	return 1;
}

/* After ops completed: can a waiter that blocked before now go? (the kernel's check_restart) */
static int opens_doors(const struct sem_view *v, const struct sem_wop *ops, uint32_t nsops)
{
	for (uint32_t i = 0; i < nsops; i++)
		if (ops[i].op > 0 || (ops[i].num < v->nsems && v->sem[ops[i].num].val == 0))
			return 1;
	return 0;
}

static void undo_make_current(struct sem_view *v, uint32_t u);
static int undo_reap(struct scall *c, const struct sem_wop *ops, uint32_t nsops);
static int others_hold(const struct sem_view *v, const struct sem_wop *ops, uint32_t nsops,
		       uint32_t mine);

/*
 * Whether the changes noted since the last look can alter a waiter's
 * outcome: a single operation only if its semaphore went the way it waits
 * for; several, if any of their semaphores changed (an earlier operation
 * with IPC_NOWAIT may now fail).
 */
static int waiter_concerned(const struct scall *c, const struct sem_waiter *w,
			    const struct sem_wop *ops)
{
	if (w->nsops == 1)
		return (changed(c, w->bnum) & (w->bop < 0 ? CHG_UP : CHG_ZERO)) != 0;
	for (uint32_t i = 0; i < w->nsops; i++)
		if (changed(c, ops[i].num))
			return 1;
	return 0;
}

/*
 * After the values changed: every waiting call that can now complete is
 * completed for its caller, in arrival order (a waiter's completion may let
 * an older one go: then from the start again), and woken. A waiter whose
 * call now fails (ERANGE, or IPC_NOWAIT on the operation it now blocks at)
 * is woken with that error, as the kernel does. Only waiters that the
 * noted changes concern are evaluated (c->chg_all: all of them).
 */
static void update_queue(struct scall *c)
{
	struct sem_view *v = c->v;
	int decided = 0;
	poke_pollers(c);
	for (int again = 1; again && !v->corrupt;) {
		again = 0;
		FOR_WAITERS(v, i, n) {
			struct sem_waiter *w = W(v, i);
			if (w->state == SW_POLL) {
				if (LOAD(&w->word) != SVIPC_W_WOKEN)
					wake_one(c, w);
				continue;
			}
			if (w->state != SW_WAIT || LOAD(&w->status) != SEM_PENDING)
				continue;
			uint32_t nsops = w->nsops, u = w->undo;
			const struct sem_wop *ops = waiter_ops(v, w);
			if (!ops || u > v->nundo) {
				CORRUPT(v);
				return;
			}
			if (u && U(v, u)->state != SU_USED)
				continue; /* its owner is gone (records go only with their owner) */
			if (!waiter_concerned(c, w, ops))
				continue;
			if (u)
				undo_make_current(v, u);
			uint32_t b = 0;
			int r = eval(c, ops, nsops, u, w->pid, &b);
			if (r == 1) {
				w->bnum = ops[b].num;
				w->bop = ops[b].op;
				continue; /* a dead holder it waits for is the watcher's to find */
			}
			/* What a dead process's undo would change, Linux changed first. */
			if (others_hold(v, ops, nsops, u)) {
				c->jn = 0;
				if (undo_reap(c, ops, nsops)) {
					again = 1;
					break;
				}
				r = eval(c, ops, nsops, u, w->pid, &b); /* the same values: the same result */
			}
			if (!waiter_lives(w)) {
				c->jn = 0;
				/* Free its slot now, or every change would ask about it again
				 * (FOR_WAITERS still finds its next). */
				waiter_del(v, i);
				continue;
			}
			if (r == 0) {
				jput(c, &w->status, 4, 0);
				jcommit(c);
				set_otime(v->s);
				waiter_done(v, i);
				wake_one(c, w);
				decided = 1;
				if (opens_doors(v, ops, nsops)) {
					again = 1;
					break;
				}
			} else {
				STORE(&w->status, r);
				waiter_done(v, i);
				wake_one(c, w);
				decided = 1;
			}
		}
	}
	c->nchg = 0;
	c->chg_all = 0;
	if (decided)
		kick_watcher(c); /* the watcher may have been decided, or hold an adjustment now */
}

/* update_queue over every waiter, whatever changed. */
static void update_queue_all(struct scall *c)
{
	c->chg_all = 1;
	update_queue(c);
}

/* ---- undo records -------------------------------------------------------------------- */

/* A row left from before a SETALL is all zero: make it so before it is used. */
static void undo_make_current(struct sem_view *v, uint32_t u)
{
	struct sem_undo *rec = U(v, u);
	if (rec->epoch == v->s->adj_epoch)
		return;
	memset(ADJ(v, u, 0), 0, (size_t)v->nsems * sizeof(int32_t));
	rec->nz = 0;
	STORE(&rec->epoch, v->s->adj_epoch);
}

/*
 * Applies record u's adjustments as the kernel's exit_sem does (each value
 * clamped to 0..SEMVMX, sempid set to the owner) and frees it, in one
 * transaction. The caller then runs update_queue.
 */
static void undo_apply(struct scall *c, uint32_t u)
{
	struct sem_view *v = c->v;
	struct sem_undo *rec = U(v, u);
	if (rec->epoch == v->s->adj_epoch && rec->nz) {
		for (uint32_t i = 0; i < v->nsems; i++) {
			int32_t *ap = ADJ(v, u, i);
			int32_t a = *ap;
			if (!a)
				continue;
			int64_t val = (int64_t)v->sem[i].val + a;
			jput(c, &v->sem[i].val, 4, MIN(MAX(val, 0), SEM_VMX));
			jput(c, &v->sem[i].pid, 4, rec->pid);
			jput(c, ap, 4, 0);
		}
	}
	jput(c, &rec->state, 4, SU_FREE);
	jcommit(c);
	set_otime(v->s);
}

/*
 * Applies the records of dead processes that hold an adjustment on a
 * semaphore that ops name (all of them if ops is NULL). Returns how many;
 * if any, the caller runs update_queue.
 */
static int undo_reap(struct scall *c, const struct sem_wop *ops, uint32_t nsops)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	int n = 0;
	if (!s->nundo_nz)
		return 0;
	uint32_t hi = MIN(s->undo_hi, v->nundo);
	for (uint32_t u = 1; u <= hi; u++) {
		struct sem_undo *rec = U(v, u);
		if (rec->state != SU_USED || !rec->nz || rec->epoch != s->adj_epoch)
			continue;
		int relevant = !ops;
		for (uint32_t i = 0; i < nsops && !relevant; i++)
			relevant = ops[i].num < v->nsems && *ADJ(v, u, ops[i].num) != 0;
		if (relevant && !undo_owner_alive(rec)) {
			undo_apply(c, u);
			n++;
		}
	}
	return n;
}

/* 1 if a process other than the owner of record `mine` holds an adjustment on what ops name. */
static int others_hold(const struct sem_view *v, const struct sem_wop *ops, uint32_t nsops,
		       uint32_t mine)
{
	if (!v->s->nundo_nz)
		return 0;
	for (uint32_t i = 0; i < nsops; i++) {
		uint32_t num = ops[i].num;
		if (num >= v->nsems)
			continue;
		uint32_t held = v->sem[num].nadj;
		if (mine && *ADJ(v, mine, num) != 0 && held)
			held--;
		if (held)
			return 1;
	}
	return 0;
}

/*
 * This process's undo record in the set (found by pid and start time, so
 * one made before an exec is found again), made if `create`. Returns its
 * index, 0 if there is none, or -ENOMEM if every record is in use by a
 * live process.
 */
static long undo_find(struct scall *c, int id, int create)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	pid_t pid;
	uint64_t start;
	me_get(&pid, &start);
	uint32_t token = svipc__proc_token();
	uint32_t u = LOAD_RELAXED(&v->undo_hint);
	uint32_t hi = MIN(s->undo_hi, v->nundo);
	if (!(u >= 1 && u <= hi && U(v, u)->state == SU_USED && U(v, u)->pid == pid &&
	      U(v, u)->start == start)) {
		for (u = 1; u <= hi; u++)
			if (U(v, u)->state == SU_USED && U(v, u)->pid == pid && U(v, u)->start == start)
				break;
		if (u > hi) {
			if (!create)
				return 0;
			for (int pass = 0;; pass++) {
				/* Records above the high-water mark are free and may be
				 * holes: not read (reading a hole of a full tmpfs is SIGBUS). */
				for (u = 1; u <= hi; u++)
					if (U(v, u)->state != SU_USED)
						break;
				if (u <= v->nundo || pass)
					break;
				/* Full: free the records of the dead (applying theirs). */
				int freed = 0;
				for (uint32_t k = 1; k <= hi; k++)
					if (U(v, k)->state == SU_USED && !undo_owner_alive(U(v, k))) {
						undo_apply(c, k);
						freed = 1;
					}
				if (freed)
					update_queue(c);
			}
			if (u > v->nundo || undo_list_add(id) < 0)
				return -ENOMEM;
			struct sem_undo *rec = U(v, u);
			if (svipc__populate(rec, sizeof *rec) < 0 ||
			    svipc__populate(ADJ(v, u, 0), (size_t)v->nsems * sizeof(int32_t)) < 0)
				return -ENOMEM; /* a full filesystem, as the kernel out of memory */
			memset(ADJ(v, u, 0), 0, (size_t)v->nsems * sizeof(int32_t));
			rec->pid = pid;
			rec->start = start;
			rec->token = token;
			rec->epoch = s->adj_epoch;
			rec->nz = 0;
			STORE(&rec->state, SU_USED); /* the commit point of a new record */
			if (u > s->undo_hi)
				s->undo_hi = u;
		}
		STORE_RELAXED(&v->undo_hint, u);
	}
	struct sem_undo *rec = U(v, u);
	if (rec->token != token)
		rec->token = token; /* after an exec: the new image's token */
	undo_make_current(v, u);
	return u;
}

/* ---- opening a set --------------------------------------------------------------------- */

static int set_open(int id, struct scall *c)
{
	c->nkick = 0;
	c->kick_poll = 0;
	c->unlocked = 0;
	c->jn = 0;
	c->nchg = 0;
	c->chg_all = 0;
	int r = svipc__get(&svipc__sem_ops, id, &c->ref);
	if (r < 0)
		return r;
	/*
	 * The namespace entry says whether the set stands: IPC_RMID commits
	 * there (the key is hidden at once), so a remover that died before it
	 * marked the set leaves a set that must read as gone, and whose
	 * removal is completed here.
	 */
	int st = svipc__ns_state(SVIPC_SEM, id);
	if (st != SVIPC_NS_LIVE) {
		svipc__obj_put(&c->ref);
		if (st == SVIPC_NS_DEST)
			svipc__ns_reap(&svipc__sem_ops, id);
		return -EINVAL;
	}
	if (c->ref.view_ok && LOAD(c->ref.view_ok)) {
		c->v = c->ref.view;
		return 0;
	}
	c->v = &c->local;
	r = sem_view_make(c->v, (struct sem_set *)c->ref.obj, c->ref.size);
	/*
	 * nsems never changes, and the namespace entry recorded it at
	 * creation (0: unknown): a file rewritten for another nsems, however
	 * consistent, would make GETALL/SETALL overrun the caller's array.
	 */
	uint64_t units;
	if (r == 0 && svipc__ns_entry_units(SVIPC_SEM, id, &units) == 0 && units &&
	    units != c->v->nsems) {
		STORE(&c->ref.obj->corrupt, 1);
		r = -EIDRM;
	}
	if (r < 0) {
		svipc__obj_put(&c->ref);
		return r;
	}
	if (c->ref.view_ok) {
		/* Kept with the mapping: later calls use it in place. */
		memcpy(c->ref.view, c->v, sizeof *c->v);
		STORE(c->ref.view_ok, 1);
		c->v = c->ref.view;
	}
	return 0;
}

static void set_close(struct scall *c, int id)
{
	svipc__obj_put_removed(&c->ref, SVIPC_SEM, id);
}

/* ---- semop ------------------------------------------------------------------------------ */

/*
 * A waiter's status as read from the file: SEM_PENDING, 0 or a -errno.
 * Anything else is damage (it would come back as semop's result).
 */
static int32_t status_load(struct sem_view *v, struct sem_waiter *w)
{
	int32_t st = LOAD(&w->status);
	if (st == SEM_PENDING || (st <= 0 && st >= -4095))
		return st;
	CORRUPT(v);
	return -EIDRM;
}

/* The newest waiter that waits on a semaphore another process holds an adjustment on. */
static uint32_t undo_watcher(struct sem_view *v)
{
	if (!v->s->nundo_nz)
		return 0;
	for (uint32_t i = v->s->wtail, n = 0; i && n < v->nwaiters; i = W(v, i)->prev, n++) {
		if (i > v->nwaiters) {
			CORRUPT(v);
			return 0;
		}
		struct sem_waiter *w = W(v, i);
		const struct sem_wop *ops = w->state == SW_WAIT ? waiter_ops(v, w) : NULL;
		struct sem_wop b = { w->bnum, w->bop, 0 };
		if (w->state == SW_POLL)
			ops = &b; /* its operations are not stored: the one it blocks on */
		if (ops && others_hold(v, ops, ops == &b ? 1 : w->nsops, w->undo <= v->nundo ? w->undo : 0))
			return i;
	}
	return 0;
}

/* Makes sure the waiter that should look for dead undo holders does (see undo_watcher). */
static void kick_watcher(struct scall *c)
{
	uint32_t i = c->v->s->whead ? undo_watcher(c->v) : 0;
	if (i && !W(c->v, i)->watching)
		wake_one(c, W(c->v, i));
}

/*
 * Blocks until another call completes ours, or a signal, the deadline, the
 * removal of the set. Called and returns locked (unless c->unlocked).
 * Returns the call's result, or 1: look again (no slot, or a slot
 * without stored operations, or recovery dropped it).
 */
static int sem_block(struct scall *c, const struct sem_wop *ops, uint32_t nsops, uint32_t u,
		     uint32_t blocking, int64_t deadline)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	uint32_t slot = waiter_add(c, ops, nsops, u, blocking);
	int r, lr, st;
	if (!slot) {
		/* No free slot: poll the word that every change bumps. */
		uint32_t word = LOAD(&s->poll);
		s->npoll++;
		set_unlock(c);
		int64_t t = WAIT_SLICE_NS;
		if (deadline >= 0)
			t = MIN(t, MAX(deadline - svipc__mono_ns(), 0));
		r = svipc__futex_wait(&s->poll, word, t);
		lr = set_lock(c);
		if (lr < 0 && lr != -EIDRM) {
			c->unlocked = 1;
			return lr;
		}
		if (s->npoll)
			s->npoll--;
		if (r == -EINTR)
			return -EINTR;
		if (deadline >= 0 && svipc__mono_ns() >= deadline)
			return -EAGAIN;
		return 1;
	}
	uint32_t me = W(v, slot)->token;
	int64_t undo_slice = UNDO_SLICE_MIN;
	for (;;) {
		int watch = undo_watcher(v) == slot;
		W(v, slot)->watching = (uint32_t)watch;
		int64_t slice = watch ? undo_slice : WAIT_SLICE_NS;
		set_unlock(c);
		/* Spinning pays only while few wait: each spinner holds a CPU. */
		r = svipc__wait(&W(v, slot)->word, deadline, slice, slot <= 2);
		int woken = LOAD(&W(v, slot)->word) == SVIPC_W_WOKEN; /* not the end of a slice */
		if (LOAD(&W(v, slot)->state) == SW_DONE) {
			/* Decided and unlinked by its waker: the result, and the slot back. */
			st = status_load(v, W(v, slot));
			STORE(&W(v, slot)->state, SW_FREE);
			c->unlocked = 1;
			return st;
		}
		lr = set_lock(c);
		if (lr < 0 && lr != -EIDRM) {
			c->unlocked = 1;
			return lr;
		}
		struct sem_waiter *w = W(v, slot);
		if (w->state == SW_FREE || w->token != me)
			return 1; /* recovery dropped our slot: start over */
		st = status_load(v, w);
		if (st != SEM_PENDING)
			break;
		if (lr == -EIDRM || LOAD(&s->obj.removed)) {
			st = -EIDRM;
			break;
		}
		if (r == -EINTR || r == -ETIMEDOUT) {
			st = r == -EINTR ? -EINTR : -EAGAIN;
			break;
		}
		if (w->state == SW_POLL) {
			st = 1;
			break;
		}
		/*
		 * A quiet slice: look around, as the watcher (for a dead holder of
		 * an adjustment) or as the safety net (for a lost wake-up). Not
		 * after a wake-up with nothing for us (we were made the watcher,
		 * or the set was recovered: recovery looked already), nor at the
		 * end of a watcher's slice when the role has moved on.
		 */
		if (!woken && (!watch || undo_watcher(v) == slot)) {
			reap_dead_waiters(c);
			undo_reap(c, ops, nsops);
			update_queue_all(c);
			st = status_load(v, w);
			if (st != SEM_PENDING)
				break;
			undo_slice = MIN(undo_slice * 2, UNDO_SLICE_MAX);
		}
		STORE(&w->word, SVIPC_W_ARMED);
		w->since = svipc__mono_ns();
	}
	waiter_del(v, slot);
	kick_watcher(c); /* we may have been the watcher, or now hold an adjustment */
	return st;
}

static long do_semtimedop(int id, struct sembuf *sops, size_t nsops_arg,
			  const struct timespec *timeout)
{
	unsigned nsops = (unsigned)nsops_arg; /* what the system call's argument keeps */
	const struct svipc_ns_limits *lim;
	int r = svipc__ns_lim(&lim);
	if (r < 0)
		return r;
	/* The kernel's order: E2BIG first, then EINVAL for nsops and semid, then the timeout. */
	if (nsops > LOAD_RELAXED(&lim->semopm))
		return -E2BIG;
	if (nsops < 1 || id < 0)
		return -EINVAL;
	int64_t deadline = svipc__deadline(timeout); /* measured from here, as the kernel does */
	if (deadline == -2)
		return -EINVAL;
	const struct sem_wop *ops = (const struct sem_wop *)sops;
	uint32_t n = (uint32_t)nsops, max = 0;
	int undos = 0, alter = 0;
	for (uint32_t i = 0; i < n; i++) {
		max = MAX(max, ops[i].num);
		undos |= (ops[i].flg & SEM_UNDO) != 0;
		alter |= ops[i].op != 0;
	}
	struct scall c;
	r = set_open(id, &c);
	if (r < 0)
		return r;
	struct sem_view *v = c.v;
	struct sem_set *s = v->s;
	if (max >= v->nsems) {
		r = -EFBIG;
		goto out;
	}
	if (svipc__perm_check(&s->obj.perm, alter ? S_IWUGO : S_IRUGO)) {
		r = -EACCES;
		goto out;
	}
	r = set_lock(&c);
	if (r < 0 && r != -EIDRM)
		goto out;
	int32_t pid = svipc__proc_pid();
	for (int waited = 0; r == 0; waited = 1) {
		if (LOAD(&s->obj.removed)) {
			r = waited ? -EIDRM : -EINVAL;
			break;
		}
		long u = 0;
		if (undos) {
			u = undo_find(&c, id, 1);
			if (u < 0) {
				r = (int)u;
				break;
			}
		}
		uint32_t b = 0;
		if (n == 1 && !undos && single_op(v, ops, pid)) {
			r = 0;
			if (s->whead) {
				int32_t now = v->sem[ops[0].num].val;
				note_change(&c, ops[0].num, now - ops[0].op, now);
			}
		} else {
			r = eval(&c, ops, n, (uint32_t)u, pid, &b);
			/*
			 * What a dead process's undo would change, Linux changed at its
			 * exit: look for such a process first, unless the call will
			 * just wait (the watcher finds a dead holder within
			 * milliseconds, and a wait may last that long anyway).
			 */
			if (others_hold(v, ops, n, (uint32_t)u) && (r != 1 || deadline >= 0)) {
				c.jn = 0;
				if (undo_reap(&c, ops, n))
					update_queue(&c);
				r = eval(&c, ops, n, (uint32_t)u, pid, &b);
			}
		}
		if (r == 0) {
			if (c.jn)
				jcommit(&c);
			set_otime(s);
			if (alter && (s->whead || s->npoll))
				update_queue(&c);
			if (undos)
				kick_watcher(&c); /* a new adjustment someone may wait on */
			break;
		}
		if (r < 0)
			break;
		r = sem_block(&c, ops, n, (uint32_t)u, b, deadline);
		if (c.unlocked)
			goto out;
		if (r == 1)
			r = 0; /* look again */
		else
			break;
	}
	set_unlock(&c);
out:
	set_close(&c, id);
	return r;
}

/* ---- semctl ------------------------------------------------------------------------------ */

union semun_arg {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

static long sem_info(int cmd, struct seminfo *si)
{
	struct svipc_ns_limits lim;
	int maxidx, in_use;
	int r = svipc__ns_limits(&lim);
	if (r == 0)
		r = svipc__ns_usage(SVIPC_SEM, &maxidx, &in_use);
	if (r < 0)
		return r;
	memset(si, 0, sizeof *si);
	si->semmni = (int)MIN(lim.semmni, (uint64_t)INT_MAX);
	si->semmns = (int)MIN(lim.semmns, (uint64_t)INT_MAX);
	si->semmsl = (int)MIN(lim.semmsl, (uint64_t)INT_MAX);
	si->semopm = (int)MIN(lim.semopm, (uint64_t)INT_MAX);
	si->semvmx = SEM_VMX;
	si->semmnu = K_SEMMNU;
	si->semmap = K_SEMMAP;
	si->semume = K_SEMUME;
	if (cmd == SEM_INFO) {
		si->semusz = in_use;
		si->semaem = (int)MIN(svipc__ns_units(SVIPC_SEM), (uint64_t)INT_MAX);
	} else {
		si->semusz = K_SEMUSZ;
		si->semaem = SEM_AEM;
	}
	return maxidx < 0 ? 0 : maxidx;
}

/* GETNCNT/GETZCNT: live waiters whose blocking operation is a decrement (zero-wait) of num. */
static int count_waiters(struct scall *c, uint32_t num, int zero)
{
	struct sem_view *v = c->v;
	int n = 0;
	for (uint32_t i = 1, hi = w_hi(v); i <= hi; i++) {
		struct sem_waiter *w = W(v, i);
		if (w->state == SW_FREE || LOAD(&w->status) != SEM_PENDING || w->bnum != num ||
		    (zero ? w->bop != 0 : w->bop >= 0))
			continue;
		if (svipc__proc_alive(w->token))
			n++;
		else
			waiter_del(v, i);
	}
	return n;
}

static void fill_stat(struct sem_view *v, struct semid_ds *buf)
{
	struct sem_set *s = v->s;
	memset(buf, 0, sizeof *buf);
	svipc__perm_to_user(&s->obj.perm, &buf->sem_perm);
	buf->sem_otime = s->otime;
	buf->sem_ctime = s->obj.ctime;
	buf->sem_nsems = v->nsems;
}

/* SETVAL: the value, its pid, and every process's adjustment on it cleared; one transaction. */
static int do_setval(struct scall *c, uint32_t num, int val)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	if (v->sem[num].nadj) {
		uint32_t hi = MIN(s->undo_hi, v->nundo);
		/* One entry per undo record: beyond the part sem_init populated. */
		size_t n = MIN((size_t)hi + 3 * (size_t)v->nsems + 16, v->njournal);
		if (svipc__populate(v->j, n * sizeof *v->j) < 0)
			return -ENOMEM;
		for (uint32_t u = 1; u <= hi; u++)
			if (U(v, u)->state == SU_USED && U(v, u)->epoch == s->adj_epoch &&
			    *ADJ(v, u, num))
				jput(c, ADJ(v, u, num), 4, 0);
	}
	jput(c, &v->sem[num].val, 4, val);
	jput(c, &v->sem[num].pid, 4, svipc__proc_pid());
	jput(c, &s->obj.ctime, 8, svipc__real_sec());
	jcommit(c);
	update_queue(c);
	return v->corrupt ? -EIDRM : 0;
}

/* SETALL: all values and pids, and every adjustment cleared (a new epoch); one transaction. */
static void do_setall(struct scall *c, const unsigned short *vals)
{
	struct sem_view *v = c->v;
	struct sem_set *s = v->s;
	int32_t pid = svipc__proc_pid();
	for (uint32_t i = 0; i < v->nsems; i++) {
		jput(c, &v->sem[i].val, 4, vals[i]);
		jput(c, &v->sem[i].pid, 4, pid);
	}
	jput(c, &s->adj_epoch, 4, (int32_t)(s->adj_epoch + 1));
	jput(c, &s->obj.ctime, 8, svipc__real_sec());
	jcommit(c);
	if (v->corrupt)
		return;
	/* Every row is stale now: the derived counters say so. */
	for (uint32_t i = 0; i < v->nsems; i++)
		v->sem[i].nadj = 0;
	s->nundo_nz = 0;
	update_queue(c);
}

static long do_semctl(int id, int num, int cmd, union semun_arg arg)
{
	if (id < 0)
		return -EINVAL;
#ifndef __LP64__
	cmd &= ~IPC_64;
#endif
	int stat_by_index = 0;
	struct semid_ds in;
	switch (cmd) {
	case IPC_INFO:
	case SEM_INFO:
		return sem_info(cmd, arg.info);
	case SEM_STAT:
	case SEM_STAT_ANY:
		id = svipc__ns_index_to_id(SVIPC_SEM, id);
		if (id < 0)
			return id;
		stat_by_index = 1;
		break;
	case SETVAL:
		if (arg.val > SEM_VMX || arg.val < 0)
			return -ERANGE;
		break;
	case IPC_SET:
		memcpy(&in, arg.buf, sizeof in); /* the kernel copies in before the lookup */
		break;
	case IPC_STAT:
	case GETALL:
	case GETVAL:
	case GETPID:
	case GETNCNT:
	case GETZCNT:
	case SETALL:
	case IPC_RMID:
		break;
	default:
		return -EINVAL;
	}
	struct scall c;
	long r = set_open(id, &c);
	if (r == -EIDRM && cmd == IPC_RMID)
		return svipc__ipc_remove_damaged(&svipc__sem_ops, id);
	if (r < 0)
		return r;
	struct sem_view *v = c.v;
	struct sem_set *s = v->s;
	unsigned short *vals = NULL;
	int single = cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT;
	/* Checks before the lock, in the kernel's order for each command. */
	if (cmd == SETVAL) {
		if (num < 0 || (uint32_t)num >= v->nsems)
			r = -EINVAL;
		else if (svipc__perm_check(&s->obj.perm, S_IWUGO))
			r = -EACCES;
	} else if (single || cmd == GETALL || cmd == SETALL || cmd == IPC_STAT || cmd == SEM_STAT) {
		if (svipc__perm_check(&s->obj.perm, cmd == SETALL ? S_IWUGO : S_IRUGO))
			r = -EACCES;
		else if (single && (num < 0 || (uint32_t)num >= v->nsems))
			r = -EINVAL;
	}
	if (r == 0 && cmd == SETALL) {
		vals = malloc((size_t)v->nsems * sizeof *vals);
		if (!vals) {
			r = -ENOMEM;
		} else {
			memcpy(vals, arg.array, (size_t)v->nsems * sizeof *vals);
			for (uint32_t i = 0; i < v->nsems && r == 0; i++)
				if (vals[i] > SEM_VMX)
					r = -ERANGE;
		}
	}
	if (r < 0)
		goto out;
	r = set_lock(&c);
	if (r < 0) {
		if (r == -EIDRM) {
			set_unlock(&c);
			if (cmd == IPC_RMID) {
				/* A damaged set can still be removed by its owner. */
				set_close(&c, id);
				return svipc__ipc_remove_damaged(&svipc__sem_ops, id);
			}
		}
		goto out;
	}
	if (LOAD(&s->obj.removed)) {
		r = -EINVAL;
		goto unlock;
	}
	/* What a dead process's undo would have changed, Linux changed at its exit. */
	if (cmd != IPC_SET && cmd != IPC_RMID && undo_reap(&c, NULL, 0))
		update_queue(&c);
	switch (cmd) {
	case IPC_STAT:
	case SEM_STAT:
	case SEM_STAT_ANY:
		fill_stat(v, arg.buf);
		r = stat_by_index ? id : 0;
		break;
	case GETVAL:
		r = v->sem[num].val;
		break;
	case GETPID:
		r = v->sem[num].pid;
		break;
	case GETNCNT:
	case GETZCNT:
		r = count_waiters(&c, (uint32_t)num, cmd == GETZCNT);
		break;
	case GETALL:
		for (uint32_t i = 0; i < v->nsems; i++)
			arg.array[i] = (unsigned short)v->sem[i].val;
		r = 0;
		break;
	case SETVAL:
		r = do_setval(&c, (uint32_t)num, arg.val);
		break;
	case SETALL:
		do_setall(&c, vals);
		r = v->corrupt ? -EIDRM : 0;
		break;
	case IPC_SET:
		if (!svipc__perm_is_owner(&s->obj.perm)) {
			r = -EPERM;
			break;
		}
		if (in.sem_perm.uid == (uid_t)-1 || in.sem_perm.gid == (gid_t)-1) {
			r = -EINVAL;
			break;
		}
		s->set_uid = in.sem_perm.uid;
		s->set_gid = in.sem_perm.gid;
		s->set_mode = (s->obj.perm.mode & ~0777u) | (in.sem_perm.mode & 0777u);
		s->set_ctime = svipc__real_sec();
		STORE(&s->set_valid, 1); /* the commit point */
		apply_set(s);
		r = 0;
		break;
	case IPC_RMID:
		if (!svipc__perm_is_owner(&s->obj.perm)) {
			r = -EPERM;
			break;
		}
		set_unlock(&c);
		r = svipc__ipc_remove(&svipc__sem_ops, id);
		goto out;
	}
unlock:
	set_unlock(&c);
out:
	free(vals);
	set_close(&c, id);
	return r;
}

/* ---- exit: this process's adjustments ------------------------------------------------ */

/* Linux applies a process's undo records when it exits; svipc at exit(). */
__attribute__((destructor)) static void undo_at_exit(void)
{
	pthread_mutex_lock(&UL.mu); /* the list is taken, not copied: nothing to allocate */
	int n = UL.pid == svipc__proc_pid() ? UL.n : 0;
	int *ids = UL.ids;
	UL.ids = NULL;
	UL.n = UL.cap = 0;
	pthread_mutex_unlock(&UL.mu);
	for (int k = 0; ids && k < n; k++) {
		struct scall c;
		if (set_open(ids[k], &c) < 0)
			continue;
		int r = set_lock(&c);
		if (r == 0 && !LOAD(&c.v->s->obj.removed)) {
			long u = undo_find(&c, ids[k], 0);
			if (u > 0) {
				undo_apply(&c, (uint32_t)u);
				update_queue(&c);
			}
		}
		if (r == 0 || r == -EIDRM)
			set_unlock(&c);
		set_close(&c, ids[k]);
	}
	free(ids);
}

/* ---- public API ------------------------------------------------------------------------- */

SVIPC_EXPORT int svipc_semget(key_t key, int nsems, int semflg)
{
	const struct svipc_ns_limits *lim;
	int r = svipc__ns_lim(&lim);
	if (r < 0)
		return (int)svipc__ret(r);
	/* Checked before the key is looked up, as the kernel's ksys_semget does. */
	if (nsems < 0 || (uint64_t)nsems > LOAD_RELAXED(&lim->semmsl) ||
	    (uint32_t)nsems > SEM_NSEMS_MAX)
		return (int)svipc__ret(-EINVAL);
	struct sem_params p = { nsems };
	return (int)svipc__ret(svipc__ipcget(&svipc__sem_ops, key, semflg, &p));
}

SVIPC_EXPORT int svipc_semtimedop(int semid, struct sembuf *sops, size_t nsops,
				  const struct timespec *timeout)
{
	return (int)svipc__ret(do_semtimedop(semid, sops, nsops, timeout));
}

SVIPC_EXPORT int svipc_semop(int semid, struct sembuf *sops, size_t nsops)
{
	return (int)svipc__ret(do_semtimedop(semid, sops, nsops, NULL));
}

SVIPC_EXPORT int svipc_semctl(int semid, int semnum, int cmd, ...)
{
	union semun_arg arg = { 0 };
	switch (cmd & ~IPC_64) {
	case IPC_SET:
	case IPC_STAT:
	case IPC_INFO:
	case GETALL:
	case SETVAL:
	case SETALL:
	case SEM_STAT:
	case SEM_INFO:
	case SEM_STAT_ANY: {
		va_list ap;
		va_start(ap, cmd);
		arg = va_arg(ap, union semun_arg);
		va_end(ap);
		break;
	}
	}
	return (int)svipc__ret(do_semctl(semid, semnum, cmd, arg));
}

/* ---- the admin tools' view (inspect.h) ----------------------------------------------- */

static void sem_inspect(const struct svipc_ref *ref, struct svipc_obj_info *info,
			void (*each)(void *arg, const struct svipc_waiter_info *w), void *arg)
{
	struct sem_view v;
	if (sem_view_make(&v, (struct sem_set *)ref->obj, ref->size) < 0) {
		info->corrupt = 1;
		return;
	}
	fill_stat(&v, &info->ds.sem);
	int64_t now = svipc__mono_ns();
	uint32_t hi = MIN(LOAD_RELAXED(&v.s->w_hi), v.nwaiters);
	for (uint32_t i = 1; i <= hi; i++) {
		const struct sem_waiter *w = W(&v, i);
		int st = LOAD_RELAXED(&w->state);
		if (st != SW_WAIT && st != SW_POLL)
			continue;
		struct svipc_waiter_info wi = { .pid = LOAD_RELAXED(&w->pid),
						.alive = svipc__proc_alive(LOAD_RELAXED(&w->token)) };
		int64_t since = LOAD_RELAXED(&w->since);
		wi.waited_s = since > 0 && now > since ? (double)(now - since) / 1e9 : 0;
		unsigned num = LOAD_RELAXED(&w->bnum), nsops = LOAD_RELAXED(&w->nsops);
		int op = LOAD_RELAXED(&w->bop);
		int n = op ? snprintf(wi.what, sizeof wi.what, "semop sem %u %+d", num, op)
			   : snprintf(wi.what, sizeof wi.what, "semop sem %u == 0", num);
		if (nsops > 1 && n > 0 && (size_t)n < sizeof wi.what)
			snprintf(wi.what + n, sizeof wi.what - (size_t)n, " (1 of %u operations)", nsops);
		info->nwaiters++;
		if (each)
			each(arg, &wi);
	}
	info->nwaiters += LOAD_RELAXED(&v.s->npoll); /* slotless: no pid to show */
}

/* The waiter list against the slots, and each waiter's operations. */
static void sem_waiters_check(struct sem_view *v, struct svipc_report *rep, int fd)
{
	struct sem_set *s = v->s;
	uint32_t listed = 0, used = 0, prev = 0, last = 0;
	uint64_t big = 0;
	FOR_WAITERS(v, i, n) {
		struct sem_waiter *w = W(v, i);
		if ((w->state != SW_WAIT && w->state != SW_POLL) || w->prev != prev ||
		    (listed && (int32_t)(w->arrival - last) <= 0) || i > s->w_hi) {
			svipc__report(rep, SVIPC_PROBLEM, "waiter list broken at slot %u", i);
			return;
		}
		prev = i;
		last = w->arrival;
		listed++;
	}
	if (s->wtail != prev)
		svipc__report(rep, SVIPC_PROBLEM, "waiter list's tail is wrong");
	for (uint32_t i = 1; i <= w_hi(v); i++) {
		struct sem_waiter *w = W(v, i);
		if (w->state == SW_FREE)
			continue;
		if (w->state == SW_DONE) { /* decided; its owner has yet to collect the result */
			if (!svipc__proc_alive(w->token))
				svipc__report(rep, SVIPC_CLEANUP, "waiter slot %u: process %d died before "
					      "collecting its result (its slot is freed by the next look "
					      "for dead waiters)", i, w->pid);
			continue;
		}
		used++;
		/* SW_POLL: its operations did not fit anywhere, only the blocking one is kept. */
		const struct sem_wop *ops = w->state == SW_WAIT ? waiter_ops(v, w) : NULL;
		int bad = (w->state != SW_WAIT && w->state != SW_POLL) || (w->state == SW_WAIT && !ops) ||
			  w->bnum >= v->nsems;
		for (uint32_t k = 0; !bad && ops && k < w->nsops; k++)
			bad = ops[k].num >= v->nsems;
		if (bad)
			svipc__report(rep, SVIPC_PROBLEM, "waiter slot %u holds impossible operations", i);
		if (w->big && w->big <= v->nbig)
			big |= 1ull << (w->big - 1);
		if (!svipc__proc_alive(w->token))
			svipc__report(rep, SVIPC_CLEANUP, "waiter slot %u: process %d died blocked (its "
				      "slot is freed by the next change)", i, w->pid);
	}
	uint64_t wbase = (uint64_t)((char *)v->w - v->base);
	for (uint32_t k = w_hi(v); k < v->nwaiters; k++) { /* slot k + 1 */
		k = svipc__scan_skip(fd, wbase, sizeof(struct sem_waiter), k, v->nwaiters, k == w_hi(v));
		if (k >= v->nwaiters)
			break;
		if (W(v, k + 1)->state != SW_FREE) {
			svipc__report(rep, SVIPC_PROBLEM, "waiter slot %u is used above the high-water "
				      "mark %u", k + 1, s->w_hi);
			break;
		}
	}
	if (used != listed || listed != s->nwait)
		svipc__report(rep, SVIPC_PROBLEM, "%u waiter slots in use, %u in the list, the count "
			      "says %u", used, listed, s->nwait);
	if (big != s->big_used)
		svipc__report(rep, SVIPC_PROBLEM, "the big operation areas in use disagree with "
			      "their waiters");
}

/* Values, and the counters recovery derives from the undo records. */
static void sem_values_check(struct sem_view *v, struct svipc_report *rep, int fd)
{
	struct sem_set *s = v->s;
	for (uint32_t i = 0; i < v->nsems; i++)
		if (v->sem[i].val < 0 || v->sem[i].val > SEM_VMX)
			svipc__report(rep, SVIPC_PROBLEM, "semaphore %u has value %d, outside 0..%d", i,
				      v->sem[i].val, SEM_VMX);
	uint32_t *nadj = calloc(v->nsems, sizeof *nadj);
	if (!nadj) {
		svipc__report(rep, SVIPC_PROBLEM, "out of memory for the check");
		return;
	}
	uint32_t nz_records = 0, hi = MIN(s->undo_hi, v->nundo);
	if (s->undo_hi > v->nundo)
		svipc__report(rep, SVIPC_PROBLEM, "undo high-water mark %u beyond %u records",
			      s->undo_hi, v->nundo);
	uint64_t ubase = (uint64_t)((char *)v->un - v->base);
	for (uint32_t u = 1; u <= v->nundo; u++) {
		if (u > hi) { /* records above the mark should be untouched: skip holes */
			uint32_t k = svipc__scan_skip(fd, ubase, sizeof(struct sem_undo), u - 1, v->nundo,
						      u == hi + 1);
			if (k >= v->nundo)
				break;
			u = k + 1;
		}
		struct sem_undo *rec = U(v, u);
		if (rec->state == SU_FREE)
			continue;
		if (rec->state != SU_USED || u > hi) {
			svipc__report(rep, SVIPC_PROBLEM, "undo record %u: state %u%s", u, rec->state,
				      u > hi ? ", above the high-water mark" : "");
			continue;
		}
		if (rec->epoch != s->adj_epoch)
			continue; /* all zero since a SETALL */
		uint32_t nz = 0;
		for (uint32_t i = 0; i < v->nsems; i++) {
			int32_t a = *ADJ(v, u, i);
			if (!a)
				continue;
			nz++;
			nadj[i]++;
			if (a < -SEM_AEM || a > SEM_AEM)
				svipc__report(rep, SVIPC_PROBLEM, "undo record %u: adjustment %d of "
					      "semaphore %u is out of range", u, a, i);
		}
		if (nz != rec->nz)
			svipc__report(rep, SVIPC_PROBLEM, "undo record %u counts %u adjustments, holds %u",
				      u, rec->nz, nz);
		nz_records += nz != 0;
		if (nz && !undo_owner_alive(rec))
			svipc__report(rep, SVIPC_CLEANUP, "undo record %u: process %d died; its "
				      "adjustments are applied by the next call they concern", u, rec->pid);
	}
	for (uint32_t i = 0; i < v->nsems; i++)
		if (nadj[i] != v->sem[i].nadj)
			svipc__report(rep, SVIPC_PROBLEM, "semaphore %u: %u undo records adjust it, the "
				      "count says %u", i, nadj[i], v->sem[i].nadj);
	if (nz_records != s->nundo_nz)
		svipc__report(rep, SVIPC_PROBLEM, "%u undo records hold adjustments, the count says %u",
			      nz_records, s->nundo_nz);
	free(nadj);
}

static void sem_check(const struct svipc_ref *ref, struct svipc_report *rep, int repair)
{
	struct scall c = { .ref = *ref };
	c.ref.entry = NULL;
	c.v = &c.local;
	if (sem_view_make(c.v, (struct sem_set *)ref->obj, ref->size) < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "its layout is invalid");
		return;
	}
	int fd = svipc__obj_fd(SVIPC_SEM, ref->obj->id, ref);
	int r = set_lock(&c);
	if (r == -EIDRM) {
		svipc__report(rep, SVIPC_PROBLEM, "damaged: recovery could not repair it");
		set_unlock(&c);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (r < 0) {
		svipc__report(rep, SVIPC_PROBLEM, "cannot take its lock (%s)", strerror(-r));
		if (fd >= 0)
			close(fd);
		return;
	}
	struct sem_set *s = c.v->s;
	if (LOAD(&s->j_n))
		svipc__report(rep, SVIPC_PROBLEM, "a committed transaction of %u entries is not "
			      "applied", s->j_n);
	if (LOAD(&s->set_valid))
		svipc__report(rep, SVIPC_PROBLEM, "an IPC_SET record is pending outside a call");
	int before = rep->problems;
	sem_values_check(c.v, rep, fd);
	sem_waiters_check(c.v, rep, fd);
	c.v->corrupt = 0; /* what the check saw is reported, not acted on */
	if (repair && rep->problems > before) {
		set_recover(&c);
		svipc__report(rep, SVIPC_NOTE, "rebuilt by recovery%s",
			      c.v->corrupt ? ", which failed: it is unusable" : "");
	}
	set_unlock(&c);
	if (fd >= 0)
		close(fd);
}

/* des.c — the discrete-event simulator: plays a step graph in simulated time.
 *
 * Model (doc/network-model.md, "The discrete-event engine", says why):
 *  - Time is an integer count of picoseconds; every duration is rounded to
 *    the picosecond once, so runs are bit-for-bit deterministic.
 *  - Each (rank, stream) runs its tasks in graph order, one at a time.  A
 *    task begins when it is the head of its stream, the stream is free and
 *    all its dependencies have finished.  Each stream is one node of the
 *    event queue (its running task's completion), so the queue never holds
 *    more than nranks * STREAM_COUNT_ events and nothing is allocated per
 *    event.  Events run in (time, queue order) order: equal times first in,
 *    first out.
 *  - Kernel: costmodel_kernel_s (or flops / 1e12 s when the cost model is
 *    NULL) x the rank's slowdown, x (1 + device.overlap_slowdown) when a
 *    communication transfer of the same rank is in flight at the moment the
 *    kernel begins.  Memory tasks take no time.
 *  - Collective: priced by net_coll_time for the group that
 *    graph_task_group gives (Megatron rank order, with the concurrent
 *    identical groups).  The tasks of one collective on several
 *    representatives meet: it starts when the last of them reaches it
 *    (rendezvous) and all finish together.  Which tasks form one
 *    collective: those whose task.match names the same leader task (the
 *    builder's contract); for collectives without a match (UINT32_MAX),
 *    the k-th collective of a group kind on each representative of the
 *    same group instance.  Members folded away are identical and arrive
 *    together, so a collective alone in the graph starts at once.
 *  - Send/recv (matched by task.match): rendezvous of the pair; the
 *    transfer starts when both are ready and both finish together after
 *    net_p2p_time.  An unmatched send or recv transfers alone to/from
 *    task.u.p2p.peer.  net == NULL makes all communication free.  A graph
 *    that cannot finish (e.g. two ranks that both send first on in-order
 *    streams) is reported as a deadlock, naming the first task that never
 *    finished.
 *  - The other way round: a transfer takes (1 + device.comm_overlap_slowdown)
 *    times its price when, at the moment it starts, a kernel runs on its
 *    rank — for a collective or a send/recv pair, on any rank taking part,
 *    so the parts of one transfer still finish together.
 *  - Accounting per rank, swept online between consecutive event times:
 *    compute busy = union of kernel intervals; comm in flight per kind =
 *    union of transfer intervals (waiting for a partner is not in flight);
 *    exposed = time with a transfer in flight and no kernel running,
 *    attributed to one kind by priority TP > CP > PP > ZERO > DP > NONE
 *    (synchronous kinds first: those are what compute waits on);
 *    idle = step time - busy - exposed.
 *
 * Speed (the 1T-parameter benchmark graph is 2.3M tasks): setup is two
 * sequential passes.  The first validates every task, prices it (kernels
 * by the graph's distinct kernel calls, each priced once; collectives
 * through a small cache per (rank, group kind) in front of the network
 * memo; matched send/recv pairs when the second of the pair is read) and
 * extracts a 32-byte record (price, next task of its stream, dependency
 * counter, rendezvous, start of its successors); the second fills the
 * successor lists (CSR).  The event loop then never reads the 64-byte graph
 * tasks, and a finished task wakes exactly its successors.  The event
 * queue is a tournament tree over the ranks' groups of streams
 * (sim/event-queue.h, struct ps_event_tree): the same (time, push count)
 * order as a binary heap — first in, first out among equal times — where
 * the tasks a finished task starts on its own rank cost one store each.
 * A send/recv pair ends with one event.  A task that begins prefetches
 * what its end will read (its stream's next record, its successor list and
 * the records just after its own, where most successors are): the records
 * of a 2M-task graph are far beyond the caches.  All arrays are sized once
 * per run.  tests/test-des-diff checks every result bit for bit against a
 * frozen copy of an earlier engine (tests/des-ref.c).
 *
 * It does not model memory capacity (sim/memory does), launch queues,
 * kernel-kernel concurrency slowdowns, or contention between different
 * collectives in flight at the same time. */
#include "config.h"
#include "des.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "event-queue.h"

#define NONE32 UINT32_MAX
#define NGROUP_KINDS (GROUP_EMBED + 1)
#define CCACHE_WAYS 4 /* collective price cache entries per (rank, group kind) */
#define PCACHE_SIZE 256 /* point-to-point price cache; power of two */
#define MAX_PS_S 9.0e6	/* longest duration accepted (about 100 days) */

/* One group of the event tree per rank: a task's end usually starts tasks
 * on its own rank's streams, and those pushes cost one store each. */
_Static_assert(STREAM_COUNT_ == PS_EVENT_GROUP, "event tree groups are ranks");

/* TS_RUNNING_PAIR: a send or recv whose end event also ends its partner
 * (task aux), which started with it and runs just as long. */
enum { TS_PENDING = 0, TS_WAITING, TS_RUNNING, TS_RUNNING_PAIR, TS_DONE };

/* What the event loop needs of a task: 32 bytes. */
struct dtask {
	union {
		double base_s;	/* kernel: seconds x rank slowdown (before overlap) */
		int64_t dur_ps; /* communication: transfer time; memory: 0 */
		double bytes;	/* matched send/recv until its pair is priced */
	} p;
	uint32_t next;	    /* next task of the same stream, NONE32 at the end */
	uint32_t deps_left; /* dependencies not finished yet */
	uint32_t stream;    /* rank * STREAM_COUNT_ + stream */
	uint32_t aux;	    /* coll: rendezvous id; send/recv: matching task; NONE32 */
	uint32_t succ;	    /* successors are succ[succ .. dt[i+1].succ) */
	uint8_t kind, comm, phase, state;
};

struct des_stream {
	uint32_t head;	  /* next task to begin, NONE32 when the stream is exhausted */
	uint32_t running; /* task on the stream (waiting or running), NONE32 if free */
};

struct des_rank {
	int64_t last_ps; /* accounting swept up to here */
	int ncompute;
	unsigned comm_mask; /* bit k: a transfer of comm kind k is in flight */
	int ncomm[COMM_KIND_COUNT_];
	int64_t busy_ps, recompute_ps, optimizer_ps, end_ps;
	int64_t comm_ps[COMM_KIND_COUNT_], exposed_ps[COMM_KIND_COUNT_];
	double slow; /* kernel time multiplier */
};

struct ccache_entry {
	double bytes, s;
	int size, valid;
	uint8_t op, algo;
};

struct pcache_entry {
	double bytes, s;
	int src, dst; /* empty: bytes NaN */
};

struct des {
	const struct ps_graph *g;
	const struct ps_costmodel *cm;
	struct ps_net *net;
	ps_net_tier tier;
	double overlap_mul[2]; /* kernel time factor without / with a transfer in flight */
	double comm_mul;       /* transfer time factor when compute overlaps its start; 1 none */
	ps_coll_algo default_algo;
	int nstreams;
	struct des_stream *streams; /* (nranks * STREAM_COUNT_) */
	struct des_rank *ranks;	    /* (nranks) */
	struct dtask *dt;	    /* (ntasks + 1) the last one a sentinel */
	uint32_t *succ;		    /* (ndeps) dependents, grouped by task */
	uint32_t ninfer;	    /* collectives without task.match */
	uint32_t p2p_open;	    /* matched send/recv whose pair is not read yet */
	/* Collective rendezvous. */
	uint32_t nrv;
	uint32_t *rv_first, *rv_n, *rv_arrived, *rv_tasks;
	size_t rv_cap, rvt_cap, rvt_used;
	/* Prices. */
	double *call_s;		     /* (g->ncalls) seconds of each kernel call */
	struct ps_group_desc *gdesc; /* (nranks * NGROUP_KINDS) */
	uint8_t *gdesc_valid;
	struct ccache_entry *ccache; /* (nranks * NGROUP_KINDS * CCACHE_WAYS) */
	struct pcache_entry *pcache; /* (PCACHE_SIZE) */
	struct ps_event_tree q;	     /* one id per stream */
	int64_t now;
	uint64_t events;
	struct ps_trace_event *trace; /* (ntasks) or NULL */
	ps_status err;
};

static const ps_comm_kind exposed_priority[COMM_KIND_COUNT_] = {COMM_TP,   COMM_CP, COMM_PP,
								COMM_ZERO, COMM_DP, COMM_NONE};

/* ---------------------------------------------------------------- helpers */

/* The per-task arrays of a 2M-task graph are tens of MB: ask for huge
 * pages (fewer page faults and TLB misses) where the system offers them. */
static void *big_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	if (bytes < 4 * huge)
		return malloc(bytes);
	void *p = NULL;
	if (posix_memalign(&p, huge, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, bytes, MADV_HUGEPAGE);
#endif
	return p;
}

/* Seconds to picoseconds, rounded half up; -1 for negative, NaN or absurd. */
static inline int to_ps(double s, int64_t *out)
{
	if (!(s >= 0) || s > MAX_PS_S)
		return -1;
	*out = (int64_t)(s * 1e12 + 0.5);
	return 0;
}

static void fail(struct des *d, ps_status st)
{
	if (d->err == PS_OK)
		d->err = st;
}

/* Which kind exposed time is charged to, for each set of kinds in flight:
 * the first of exposed_priority in the set. */
static uint8_t exposed_kind[1 << COMM_KIND_COUNT_];

static void exposed_kind_init(void)
{
	for (unsigned m = 1; m < (1u << COMM_KIND_COUNT_); m++)
		for (int i = 0; i < COMM_KIND_COUNT_; i++)
			if (m & (1u << exposed_priority[i])) {
				exposed_kind[m] = (uint8_t)exposed_priority[i];
				break;
			}
}

/* Sweep a rank's accounting forward to now, under its current counters. */
static inline void rank_advance(struct des_rank *r, int64_t now)
{
	int64_t dt = now - r->last_ps;
	if (dt <= 0)
		return;
	r->last_ps = now;
	if (r->ncompute > 0)
		r->busy_ps += dt;
	unsigned m = r->comm_mask;
	if (!m)
		return;
	if (r->ncompute == 0)
		r->exposed_ps[exposed_kind[m]] += dt;
	do {
		r->comm_ps[__builtin_ctz(m)] += dt;
		m &= m - 1;
	} while (m);
}

static inline uint32_t task_rank(const struct dtask *x)
{
	return x->stream / STREAM_COUNT_;
}

/* Seconds of one call of each distinct kernel call of the graph, before
 * slowdowns: priced once per call in setup. */
static ps_status price_calls(struct des *d)
{
	const struct ps_graph *g = d->g;
	if (!d->cm || !g->ncalls)
		return PS_OK;
	d->call_s = malloc((size_t)g->ncalls * sizeof *d->call_s);
	if (!d->call_s)
		return PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
	for (uint32_t c = 0; c < g->ncalls; c++) {
		const struct ps_kcall *k = &g->calls[c];
		d->call_s[c] = costmodel_kernel_s(d->cm, k->op, &k->shape, (ps_dtype)k->dtype);
	}
	return PS_OK;
}

/* Seconds of one kernel call before slowdowns. */
static inline double kernel_seconds(const struct des *d, const struct ps_task *t)
{
	return d->cm ? d->call_s[t->u.kernel.call] : t->flops / 1e12;
}

/* Seconds of a collective task: the network price of its group, through a
 * small cache per (rank, group kind); -1 when the group does not fit. */
static double coll_seconds(struct des *d, uint32_t i, const struct ps_task *t)
{
	if (!d->net)
		return 0;
	size_t slot = (size_t)t->rank * NGROUP_KINDS + t->u.coll.group;
	ps_coll_algo algo = (ps_coll_algo)t->u.coll.algo;
	if (algo == ALGO_AUTO)
		algo = d->default_algo;
	int size = t->u.coll.group_size;
	double bytes = t->u.coll.bytes;
	uint64_t bb;
	memcpy(&bb, &bytes, sizeof bb);
	struct ccache_entry *e =
	    &d->ccache[slot * CCACHE_WAYS + ((bb >> 20) ^ (bb >> 40) ^ (uint64_t)t->u.coll.op) % CCACHE_WAYS];
	if (e->valid && e->bytes == bytes && e->size == size && e->op == t->u.coll.op && e->algo == algo)
		return e->s;
	if (!d->gdesc_valid[slot]) {
		struct ps_group_desc gd = {1, 1, 0, 1, 0};
		if (d->g->sc)
			graph_task_group(d->g, t, &gd);
		d->gdesc[slot] = gd;
		d->gdesc_valid[slot] = 1;
	}
	struct ps_group_desc gd = d->gdesc[slot];
	if (size > 0)
		gd.size = size;
	double s = 0;
	if (gd.size > 1) {
		s = net_coll_time(d->net, d->tier, t->u.coll.op, &gd, bytes, algo);
		if (s < 0) {
			fail(d, PS_ERROR(PS_ERR_INVALID,
					 "simulate: task %u: %s over %d ranks (first %d, stride %d) does not "
					 "fit the cluster",
					 i, coll_op_name(t->u.coll.op), gd.size, gd.first_rank, gd.stride));
			return -1;
		}
	}
	e->valid = 1;
	e->bytes = bytes;
	e->size = size;
	e->op = (uint8_t)t->u.coll.op;
	e->algo = (uint8_t)algo;
	e->s = s;
	return s;
}

/* Seconds of one transfer of bytes from real rank a to real rank b, through
 * a small direct-mapped cache; -1 when invalid. */
static double p2p_price(struct des *d, uint32_t i, int a, int b, double bytes)
{
	if (!d->net)
		return 0;
	uint64_t bb;
	memcpy(&bb, &bytes, sizeof bb);
	uint64_t h = ((uint64_t)(uint32_t)a * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(uint32_t)b * 0xC2B2AE3D27D4EB4FULL) ^
		     bb;
	struct pcache_entry *e = &d->pcache[(h ^ (h >> 32) ^ (h >> 17)) & (PCACHE_SIZE - 1)];
	if (e->src == a && e->dst == b && e->bytes == bytes)
		return e->s;
	double s = net_p2p_time(d->net, d->tier, a, b, bytes);
	if (s < 0) {
		fail(d, PS_ERROR(PS_ERR_INVALID, "simulate: task %u: transfer %d -> %d of %g bytes is invalid", i,
				 a, b, bytes));
		return -1;
	}
	e->src = a;
	e->dst = b;
	e->bytes = bytes;
	e->s = s;
	return s;
}

/* ---------------------------------------------------------------- task life */

static inline void schedule_end(struct des *d, uint32_t tid, uint32_t stream, int64_t dur_ps)
{
	d->dt[tid].state = TS_RUNNING;
	if (d->trace)
		d->trace[tid].start_s = (double)d->now * 1e-12;
	event_tree_push(&d->q, stream, d->now + dur_ps);
}

/* Duration of a transfer of price dur_ps that starts now; slow: a kernel
 * runs on a rank taking part (computing). */
static inline int64_t transfer_ps(struct des *d, uint32_t tid, int64_t dur_ps, int slow)
{
	if (!slow)
		return dur_ps;
	double ps = (double)dur_ps * d->comm_mul;
	if (!(ps <= MAX_PS_S * 1e12)) {
		fail(d, PS_ERROR(PS_ERR_INVALID, "simulate: task %u: transfer time %g s is invalid", tid, ps * 1e-12));
		return 0;
	}
	return (int64_t)(ps + 0.5);
}

/* Rank accounting of a transfer that starts now. */
static inline void transfer_open(struct des *d, const struct dtask *x)
{
	struct des_rank *r = &d->ranks[task_rank(x)];
	rank_advance(r, d->now);
	if (r->ncomm[x->comm]++ == 0)
		r->comm_mask |= 1u << x->comm;
}

/* Start transfer tid now for dur_ps. */
static inline void transfer_start(struct des *d, uint32_t tid, int64_t dur_ps)
{
	struct dtask *x = &d->dt[tid];
	transfer_open(d, x);
	schedule_end(d, tid, x->stream, dur_ps);
}

/* A kernel runs on the rank of task x now (only asked when comm_mul > 1). */
static inline int computing(const struct des *d, const struct dtask *x)
{
	return d->comm_mul > 1 && d->ranks[task_rank(x)].ncompute > 0;
}

static inline void task_begin(struct des *d, struct des_stream *s, uint32_t tid)
{
	struct dtask *x = &d->dt[tid];
	s->running = tid;
	/* Its end will read the stream's next task and its successors: fetch
	 * them now, while other events run. */
	if (x->next != NONE32)
		__builtin_prefetch(&d->dt[x->next]);
	__builtin_prefetch(&d->succ[x->succ]);
	__builtin_prefetch(x + 2); /* successors are often the next few ids */
	switch (x->kind) {
	case TASK_KERNEL: {
		struct des_rank *r = &d->ranks[task_rank(x)];
		double sec = x->p.base_s * d->overlap_mul[r->comm_mask != 0];
		if (!(sec <= MAX_PS_S)) {
			fail(d, PS_ERROR(PS_ERR_INVALID, "simulate: task %u: kernel time %g s is invalid",
					 tid, sec));
			sec = 0;
		}
		int64_t dur = (int64_t)(sec * 1e12 + 0.5);
		rank_advance(r, d->now);
		r->ncompute++;
		if (x->phase == PHASE_RECOMPUTE)
			r->recompute_ps += dur;
		else if (x->phase == PHASE_OPTIMIZER)
			r->optimizer_ps += dur;
		schedule_end(d, tid, x->stream, dur);
		break;
	}
	case TASK_COLL: {
		uint32_t rv = x->aux;
		if (rv == NONE32) {
			transfer_start(d, tid, transfer_ps(d, tid, x->p.dur_ps, computing(d, x)));
			break;
		}
		x->state = TS_WAITING;
		if (++d->rv_arrived[rv] < d->rv_n[rv])
			break;
		const uint32_t *m = &d->rv_tasks[d->rv_first[rv]];
		int slow = 0;
		for (uint32_t i = 0; i < d->rv_n[rv] && d->comm_mul > 1; i++)
			slow |= computing(d, &d->dt[m[i]]);
		for (uint32_t i = 0; i < d->rv_n[rv]; i++)
			transfer_start(d, m[i], transfer_ps(d, m[i], d->dt[m[i]].p.dur_ps, slow));
		break;
	}
	case TASK_SEND:
	case TASK_RECV:
		if (x->aux == NONE32) {
			transfer_start(d, tid, transfer_ps(d, tid, x->p.dur_ps, computing(d, x)));
		} else if (d->dt[x->aux].state != TS_WAITING) {
			x->state = TS_WAITING;
		} else { /* the partner waits: both start (checked and priced in setup) */
			/* the pair's duration, set on both in setup */
			int slow = computing(d, x) || computing(d, &d->dt[x->aux]);
			transfer_start(d, x->aux, transfer_ps(d, tid, x->p.dur_ps, slow));
			/* Both end at the same time, and would be queued one after
			 * the other, so no event could come between their ends: the
			 * partner's end event ends this one too. */
			struct dtask *y = &d->dt[x->aux];
			y->state = TS_RUNNING_PAIR;
			transfer_open(d, x);
			x->state = TS_RUNNING;
			if (d->trace)
				d->trace[tid].start_s = (double)d->now * 1e-12;
		}
		break;
	default: /* TASK_MEM */
		schedule_end(d, tid, x->stream, 0);
		break;
	}
}

static inline void stream_try(struct des *d, uint32_t sid)
{
	struct des_stream *s = &d->streams[sid];
	if (s->running != NONE32 || s->head == NONE32)
		return;
	if (d->dt[s->head].deps_left == 0)
		task_begin(d, s, s->head);
}

/* End the task running on stream sid; returns the stream of a paired
 * send/recv that ends with it (TS_RUNNING_PAIR), NONE32 otherwise. */
static inline uint32_t task_end(struct des *d, uint32_t sid)
{
	struct des_stream *s = &d->streams[sid];
	uint32_t tid = s->running;
	struct dtask *x = &d->dt[tid];
	struct des_rank *r = &d->ranks[sid / STREAM_COUNT_];
	int pair = x->state == TS_RUNNING_PAIR;
	d->events++;
	if (x->kind == TASK_KERNEL) {
		rank_advance(r, d->now);
		r->ncompute--;
	} else if (x->kind != TASK_MEM) {
		rank_advance(r, d->now);
		if (--r->ncomm[x->comm] == 0)
			r->comm_mask &= ~(1u << x->comm);
	}
	r->end_ps = d->now; /* time never goes back */
	x->state = TS_DONE;
	if (d->trace)
		d->trace[tid].end_s = (double)d->now * 1e-12;
	s->running = NONE32;
	s->head = x->next;
	for (uint32_t i = x->succ, e = x[1].succ; i < e; i++) {
		uint32_t u = d->succ[i];
		if (--d->dt[u].deps_left == 0)
			stream_try(d, d->dt[u].stream);
	}
	stream_try(d, sid);
	return pair ? d->dt[x->aux].stream : NONE32;
}

/* ---------------------------------------------------------------- rendezvous */

/* Room for a rendezvous of m tasks; returns its id, or NONE32 when out of
 * memory.  The caller fills rv_tasks[rv_first[id] ..]. */
static uint32_t rv_new(struct des *d, uint32_t m)
{
	if (d->nrv + 1 > d->rv_cap) {
		size_t cap = d->rv_cap ? 2 * d->rv_cap : 1024;
		uint32_t *p1 = realloc(d->rv_first, cap * sizeof *p1);
		if (!p1)
			return NONE32;
		d->rv_first = p1;
		uint32_t *p2 = realloc(d->rv_n, cap * sizeof *p2);
		if (!p2)
			return NONE32;
		d->rv_n = p2;
		d->rv_cap = cap;
	}
	size_t base = d->rvt_used;
	if (base + m > d->rvt_cap) {
		size_t cap = d->rvt_cap ? d->rvt_cap : 4096;
		while (base + m > cap)
			cap *= 2;
		uint32_t *p = realloc(d->rv_tasks, cap * sizeof *p);
		if (!p)
			return NONE32;
		d->rv_tasks = p;
		d->rvt_cap = cap;
	}
	uint32_t rv = d->nrv++;
	d->rv_first[rv] = (uint32_t)base;
	d->rv_n[rv] = m;
	d->rvt_used = base + m;
	return rv;
}

/* Followers of explicitly matched collectives, in task order: each entry
 * (leader << 32 | follower). */
struct follow_list {
	uint64_t *v;
	size_t n, cap;
};

static int follow_add(struct follow_list *f, uint32_t leader, uint32_t follower)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		uint64_t *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return -1;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = (uint64_t)leader << 32 | follower;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Explicit matching: collectives whose task.match names the same leader
 * (the lowest id of the instance, the graph builder's contract) are one
 * collective.  On entry dt[i].aux holds the leader for followers (NONE32
 * for leaders) and fl lists the followers; on exit aux is the rendezvous
 * id (NONE32 for a collective alone in the graph).  Rendezvous ids go to
 * leaders in task order, and each lists its leader, then its followers in
 * task order.  Only called when some collective has followers. */
static ps_status rendezvous_explicit(struct des *d, struct follow_list *fl)
{
	for (size_t k = 0; k < fl->n; k++) {
		uint32_t leader = (uint32_t)(fl->v[k] >> 32), i = (uint32_t)fl->v[k];
		if (leader > i)
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: its collective leader %u comes after it",
					i, leader);
	}
	qsort(fl->v, fl->n, sizeof *fl->v, u64_cmp);
	for (size_t k = 0; k < fl->n;) {
		uint32_t leader = (uint32_t)(fl->v[k] >> 32);
		size_t e = k;
		while (e < fl->n && (uint32_t)(fl->v[e] >> 32) == leader)
			e++;
		uint32_t rv = rv_new(d, (uint32_t)(e - k) + 1);
		if (rv == NONE32)
			return PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
		uint32_t *m = &d->rv_tasks[d->rv_first[rv]];
		*m++ = leader;
		d->dt[leader].aux = rv;
		for (; k < e; k++) {
			uint32_t i = (uint32_t)fl->v[k];
			*m++ = i;
			d->dt[i].aux = rv;
		}
	}
	return PS_OK;
}

/* Identifier of the group instance of `kind` that rank ri belongs to:
 * its Megatron global rank with the coordinates that vary inside the
 * group set to zero.  Without a scenario every rank is in one instance. */
static int64_t group_instance(const struct ps_strategy *st, const struct ps_rank_info *ri, int kind)
{
	if (!st)
		return 0;
	int64_t tp = st->tp > 0 ? st->tp : 1, cp = st->cp > 0 ? st->cp : 1, dp = st->dp > 0 ? st->dp : 1;
	int64_t t = ri->tp_rank, c = ri->cp_rank, d = ri->dp_rank, s = ri->pp_stage;
	switch (kind) {
	case GROUP_TP:
		t = 0;
		break;
	case GROUP_CP:
		c = 0;
		break;
	case GROUP_DP:
		d = 0;
		break;
	case GROUP_DP_CP:
		c = 0;
		d = 0;
		break;
	case GROUP_PP:
	case GROUP_EMBED:
		s = 0;
		break;
	default:
		return 0; /* GROUP_WORLD */
	}
	return t + tp * (c + cp * (d + dp * s));
}

struct rep_key {
	int64_t inst;
	int rank;
};

static int rep_key_cmp(const void *a, const void *b)
{
	const struct rep_key *x = a, *y = b;
	if (x->inst != y->inst)
		return x->inst < y->inst ? -1 : 1;
	return x->rank - y->rank;
}

/* Inferred matching for collectives without task.match: for each group
 * kind whose instances hold several representatives, the k-th collective
 * of that kind on each of them is one collective. */
static ps_status rendezvous_infer(struct des *d)
{
	const struct ps_graph *g = d->g;
	const struct ps_strategy *st = g->sc ? &g->sc->strategy : NULL;
	int nr = g->nranks;
	struct rep_key *keys = malloc((size_t)nr * sizeof *keys);
	uint32_t *cnt = malloc(((size_t)nr + 1) * sizeof *cnt);
	uint32_t *off = malloc(((size_t)nr + 1) * sizeof *off);
	uint32_t *lists = NULL;
	ps_status rc = PS_OK;
	if (!keys || !cnt || !off) {
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
		goto out;
	}
	for (int kind = 0; kind < NGROUP_KINDS; kind++) {
		for (int r = 0; r < nr; r++) {
			keys[r].inst = group_instance(st, &g->ranks[r], kind);
			keys[r].rank = r;
		}
		qsort(keys, (size_t)nr, sizeof *keys, rep_key_cmp);
		int shared = 0;
		for (int r = 1; r < nr; r++)
			if (keys[r].inst == keys[r - 1].inst)
				shared = 1;
		if (!shared)
			continue;
		/* Per representative, its unmatched collectives of this kind in graph order. */
		memset(cnt, 0, ((size_t)nr + 1) * sizeof *cnt);
		uint32_t total = 0;
		for (uint32_t i = 0; i < g->ntasks; i++) {
			const struct ps_task *t = &g->tasks[i];
			if (t->kind == TASK_COLL && t->match == NONE32 &&
			    t->u.coll.group == (ps_group_kind)kind) {
				cnt[t->rank]++;
				total++;
			}
		}
		if (total == 0)
			continue;
		free(lists);
		lists = malloc((size_t)total * sizeof *lists);
		if (!lists) {
			rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
			goto out;
		}
		off[0] = 0;
		for (int r = 0; r < nr; r++)
			off[r + 1] = off[r] + cnt[r];
		memset(cnt, 0, (size_t)nr * sizeof *cnt);
		for (uint32_t i = 0; i < g->ntasks; i++) {
			const struct ps_task *t = &g->tasks[i];
			if (t->kind == TASK_COLL && t->match == NONE32 &&
			    t->u.coll.group == (ps_group_kind)kind)
				lists[off[t->rank] + cnt[t->rank]++] = i;
		}
		for (int a = 0; a < nr;) {
			int b = a + 1;
			while (b < nr && keys[b].inst == keys[a].inst)
				b++;
			uint32_t m = (uint32_t)(b - a), n0 = cnt[keys[a].rank];
			for (int i = a + 1; i < b; i++)
				if (cnt[keys[i].rank] != n0) {
					rc = PS_ERROR(
					    PS_ERR_INVALID,
					    "simulate: ranks %d and %d are in one group but have %u and %u "
					    "collectives on it",
					    keys[a].rank, keys[i].rank, n0, cnt[keys[i].rank]);
					goto out;
				}
			for (uint32_t k = 0; m > 1 && k < n0; k++) {
				uint32_t rv = rv_new(d, m);
				if (rv == NONE32) {
					rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
					goto out;
				}
				const struct ps_task *t0 = &g->tasks[lists[off[keys[a].rank] + k]];
				for (int i = a; i < b; i++) {
					uint32_t tid = lists[off[keys[i].rank] + k];
					const struct ps_task *t = &g->tasks[tid];
					if (t->u.coll.op != t0->u.coll.op ||
					    t->u.coll.bytes != t0->u.coll.bytes) {
						rc = PS_ERROR(PS_ERR_INVALID,
							      "simulate: collective %u of rank %d (task %u) "
							      "does not match "
							      "task %u of rank %d",
							      k, keys[i].rank, tid, t0->id, keys[a].rank);
						goto out;
					}
					d->rv_tasks[d->rv_first[rv] + (uint32_t)(i - a)] = tid;
					d->dt[tid].aux = rv;
				}
			}
			a = b;
		}
	}
out:
	free(keys);
	free(cnt);
	free(off);
	free(lists);
	return rc;
}

/* A rendezvous lasts as long as its slowest member's price (to_ps is
 * monotone, so the maximum of the rounded prices is the rounded maximum). */
static void rendezvous_price(struct des *d)
{
	for (uint32_t rv = 0; rv < d->nrv; rv++) {
		const uint32_t *m = &d->rv_tasks[d->rv_first[rv]];
		int64_t dur = 0;
		for (uint32_t i = 0; i < d->rv_n[rv]; i++)
			if (d->dt[m[i]].p.dur_ps > dur)
				dur = d->dt[m[i]].p.dur_ps;
		for (uint32_t i = 0; i < d->rv_n[rv]; i++)
			d->dt[m[i]].p.dur_ps = dur;
	}
}

/* ---------------------------------------------------------------- setup */

/* A matched send/recv pair, both read: check it, price it (sender to
 * receiver, the sender's bytes) and give both the duration. */
static ps_status p2p_pair(struct des *d, uint32_t i, uint32_t m)
{
	const struct ps_graph *g = d->g;
	struct dtask *x = &d->dt[i], *y = &d->dt[m];
	if (y->kind != (x->kind == TASK_SEND ? TASK_RECV : TASK_SEND) || y->aux != i ||
	    task_rank(y) == task_rank(x))
		return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: %s is not matched by a %s on another rank", i,
				x->kind == TASK_SEND ? "send" : "recv", x->kind == TASK_SEND ? "recv" : "send");
	const struct dtask *snd = x->kind == TASK_SEND ? x : y, *rcv = x->kind == TASK_SEND ? y : x;
	int a = g->ranks[task_rank(snd)].global_rank, b = g->ranks[task_rank(rcv)].global_rank;
	double sec = p2p_price(d, i, a, b, snd->p.bytes);
	if (sec < 0)
		return d->err;
	int64_t dur;
	if (to_ps(sec, &dur))
		return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: invalid transfer time %g s", i, sec);
	x->p.dur_ps = dur;
	y->p.dur_ps = dur;
	return PS_OK;
}

/* Check one task and extract its record; counts its stream link and the
 * dependents of its dependencies (in cnt). */
static ps_status task_extract(struct des *d, uint32_t i, uint32_t *cnt, uint32_t *stail, struct follow_list *fl)
{
	const struct ps_graph *g = d->g;
	const struct ps_task *t = &g->tasks[i];
	struct dtask *x = &d->dt[i];
	if ((int)t->rank >= g->nranks || t->stream >= STREAM_COUNT_ || t->kind > TASK_MEM)
		return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: bad rank %u, stream %u or kind %u", i,
				t->rank, t->stream, t->kind);
	if ((uint64_t)t->dep_first + t->ndeps > g->ndeps)
		return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: dependencies out of range", i);
	const uint32_t *dp = g->deps + t->dep_first;
	for (uint32_t k = 0; k < t->ndeps; k++) {
		if (dp[k] >= g->ntasks || dp[k] == i)
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: bad dependency %u", i, dp[k]);
		cnt[dp[k]]++;
	}
	uint32_t s = t->rank * STREAM_COUNT_ + t->stream;
	if (stail[s] == NONE32)
		d->streams[s].head = i;
	else
		d->dt[stail[s]].next = i;
	stail[s] = i;
	x->next = NONE32;
	x->stream = s;
	x->deps_left = t->ndeps;
	x->kind = t->kind;
	x->comm = t->comm < COMM_KIND_COUNT_ ? t->comm : COMM_NONE;
	x->phase = t->phase;
	x->state = TS_PENDING;
	x->aux = NONE32;
	switch (t->kind) {
	case TASK_KERNEL: {
		if (t->u.kernel.call >= g->ncalls)
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: kernel call %u is not in the graph", i,
					t->u.kernel.call);
		double sec = kernel_seconds(d, t) * d->ranks[t->rank].slow;
		if (!(sec >= 0) || !isfinite(sec))
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: kernel time %g s is invalid", i, sec);
		x->p.base_s = sec;
		break;
	}
	case TASK_COLL: {
		if ((unsigned)t->u.coll.group >= NGROUP_KINDS || (unsigned)t->u.coll.op > COLL_ALLTOALL ||
		    !(t->u.coll.bytes >= 0) || !isfinite(t->u.coll.bytes))
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: bad collective", i);
		if (t->match == NONE32) {
			d->ninfer++;
		} else if (t->match != i) {
			const struct ps_task *l = t->match < g->ntasks ? &g->tasks[t->match] : NULL;
			if (!l || l->kind != TASK_COLL || l->match != t->match ||
			    l->u.coll.op != t->u.coll.op || l->u.coll.bytes != t->u.coll.bytes ||
			    l->rank == t->rank)
				return PS_ERROR(
				    PS_ERR_INVALID,
				    "simulate: task %u: collective match %u is not the same collective on "
				    "another rank",
				    i, t->match);
			if (follow_add(fl, t->match, i) != 0)
				return PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
			x->aux = t->match; /* the leader, until rendezvous_explicit */
		}
		double sec = coll_seconds(d, i, t);
		if (sec < 0)
			return d->err;
		if (to_ps(sec, &x->p.dur_ps))
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: invalid transfer time %g s", i, sec);
		break;
	}
	case TASK_SEND:
	case TASK_RECV: {
		if (!(t->u.p2p.bytes >= 0) || !isfinite(t->u.p2p.bytes))
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: bad message size", i);
		if (t->match != NONE32) {
			if (t->match >= g->ntasks || t->match == i)
				return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: match %u is not a task",
						i, t->match);
			x->aux = t->match;
			x->p.bytes = t->u.p2p.bytes;
			if (t->match > i) { /* priced when its partner is read */
				d->p2p_open++;
				break;
			}
			d->p2p_open--;
			return p2p_pair(d, i, t->match);
		}
		if (t->u.p2p.peer < 0 || t->u.p2p.peer >= g->nranks)
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: peer %d is not a rank", i,
					t->u.p2p.peer);
		int a = g->ranks[t->rank].global_rank, b = g->ranks[t->u.p2p.peer].global_rank;
		if (t->kind == TASK_RECV) {
			int c = a;
			a = b;
			b = c;
		}
		double sec = p2p_price(d, i, a, b, t->u.p2p.bytes);
		if (sec < 0)
			return d->err;
		if (to_ps(sec, &x->p.dur_ps))
			return PS_ERROR(PS_ERR_INVALID, "simulate: task %u: invalid transfer time %g s", i, sec);
		break;
	}
	default:
		x->p.dur_ps = 0;
		break;
	}
	return PS_OK;
}

static void des_fini(struct des *d)
{
	free(d->streams);
	free(d->ranks);
	free(d->dt);
	free(d->succ);
	free(d->rv_first);
	free(d->rv_n);
	free(d->rv_arrived);
	free(d->rv_tasks);
	free(d->call_s);
	free(d->gdesc);
	free(d->gdesc_valid);
	free(d->ccache);
	free(d->pcache);
	event_tree_fini(&d->q);
}

/* The first send/recv whose match was never read as its partner. */
static ps_status p2p_unpaired(struct des *d)
{
	for (uint32_t i = 0; i < d->g->ntasks; i++) {
		const struct dtask *x = &d->dt[i];
		if ((x->kind == TASK_SEND || x->kind == TASK_RECV) && x->aux != NONE32 && x->aux > i &&
		    d->dt[x->aux].aux != i)
			return PS_ERROR(PS_ERR_INVALID,
					"simulate: task %u: %s is not matched by a %s on another rank", i,
					x->kind == TASK_SEND ? "send" : "recv",
					x->kind == TASK_SEND ? "recv" : "send");
	}
	return PS_ERROR(PS_ERR_INVALID, "simulate: a send or recv is not matched");
}

static ps_status des_init(struct des *d)
{
	const struct ps_graph *g = d->g;
	uint32_t n = g->ntasks;
	size_t nrk = (size_t)g->nranks * NGROUP_KINDS;
	if (g->nranks < 1 || !g->ranks)
		return PS_ERROR(PS_ERR_INVALID, "simulate: step graph has no ranks");
	d->nstreams = g->nranks * STREAM_COUNT_;
	d->streams = malloc((size_t)d->nstreams * sizeof *d->streams);
	d->ranks = calloc((size_t)g->nranks, sizeof *d->ranks);
	d->dt = big_alloc(((size_t)n + 1) * sizeof *d->dt);
	d->gdesc = malloc(nrk * sizeof *d->gdesc);
	d->gdesc_valid = calloc(nrk, 1);
	d->ccache = calloc(nrk * CCACHE_WAYS, sizeof *d->ccache);
	d->pcache = malloc(PCACHE_SIZE * sizeof *d->pcache);
	uint32_t *cnt = big_alloc(((size_t)n + 1) * sizeof *cnt);
	uint32_t *stail = malloc((size_t)d->nstreams * sizeof *stail);
	ps_status rc = PS_OK;
	if (!d->streams || !d->ranks || !d->dt || !d->gdesc || !d->gdesc_valid || !d->ccache ||
	    !d->pcache || !cnt || !stail ||
	    event_tree_init(&d->q, (uint32_t)d->nstreams) != PS_OK) {
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory for %u tasks", n);
		goto out;
	}
	for (int s = 0; s < d->nstreams; s++) {
		d->streams[s].head = d->streams[s].running = NONE32;
		stail[s] = NONE32;
	}
	for (int i = 0; i < PCACHE_SIZE; i++) {
		d->pcache[i].src = d->pcache[i].dst = -1;
		d->pcache[i].bytes = NAN; /* equal to nothing */
		d->pcache[i].s = 0;
	}
	for (int r = 0; r < g->nranks; r++) {
		double sl = g->ranks[r].slowdown;
		d->ranks[r].slow = sl > 0 && isfinite(sl) ? sl : 1.0;
	}
	memset(cnt, 0, ((size_t)n + 1) * sizeof *cnt);
	if ((rc = price_calls(d)) != PS_OK)
		goto out;

	/* Pass 1: check, extract, price, count dependents and link streams. */
	struct follow_list fl = {NULL, 0, 0};
	int contiguous = 1; /* task i's deps follow task i-1's in g->deps (graph_add order) */
	uint64_t next_dep = 0;
	for (uint32_t i = 0; i < n && rc == PS_OK; i++) {
		const struct ps_task *t = &g->tasks[i];
		if (t->dep_first != next_dep)
			contiguous = 0;
		next_dep = (uint64_t)t->dep_first + t->ndeps;
		rc = task_extract(d, i, cnt, stail, &fl);
	}
	if (next_dep != g->ndeps)
		contiguous = 0;
	if (rc == PS_OK && d->p2p_open)
		rc = p2p_unpaired(d);
	if (rc == PS_OK && fl.n)
		rc = rendezvous_explicit(d, &fl);
	free(fl.v);
	if (rc == PS_OK && d->ninfer)
		rc = rendezvous_infer(d);
	if (rc == PS_OK && d->nrv && !(d->rv_arrived = calloc(d->nrv, sizeof *d->rv_arrived)))
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
	if (rc != PS_OK)
		goto out;
	rendezvous_price(d);

	/* Pass 2: dependents as CSR, each list in ascending task order (the
	 * order a finished task wakes them).  cnt becomes the fill cursor. */
	uint64_t acc = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = cnt[i];
		d->dt[i].succ = (uint32_t)acc;
		cnt[i] = (uint32_t)acc;
		acc += c;
	}
	if (acc >= UINT32_MAX) { /* only when many tasks share dependency ranges */
		rc = PS_ERROR(PS_ERR_INVALID, "simulate: %llu dependencies listed, more than %u",
			      (unsigned long long)acc, UINT32_MAX - 1);
		goto out;
	}
	d->dt[n].succ = (uint32_t)acc;
	/* sized by the dependencies listed: more than g->ndeps when tasks
	 * share a range of g->deps */
	d->succ = big_alloc(((size_t)acc + 1) * sizeof *d->succ);
	if (!d->succ) {
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory for %u tasks", n);
		goto out;
	}
	const uint32_t *dp = g->deps;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nd = d->dt[i].deps_left;
		if (!contiguous)
			dp = g->deps + g->tasks[i].dep_first;
		for (uint32_t k = 0; k < nd; k++)
			d->succ[cnt[dp[k]]++] = i;
		dp += nd;
	}
out:
	free(cnt);
	free(stail);
	return rc;
}

/* ---------------------------------------------------------------- run */

ps_status des_run(const struct ps_graph *g, const struct ps_costmodel *cm, struct ps_net *net,
		  ps_net_tier tier, int want_trace, struct ps_des_result *res)
{
	if (!res)
		return PS_ERROR(PS_ERR_INVALID, "simulate: no result");
	memset(res, 0, sizeof *res);
	if (!g)
		return PS_ERROR(PS_ERR_INVALID, "simulate: no step graph");

	exposed_kind_init(); /* idempotent: the same table every time */
	struct des d;
	memset(&d, 0, sizeof d);
	d.g = g;
	d.cm = cm;
	d.net = net;
	d.tier = tier;
	d.err = PS_OK;
	double ov = 0, cv = 0;
	if (g->sc) {
		ov = g->sc->cluster.device.overlap_slowdown;
		ov = ov > 0 && isfinite(ov) ? ov : 0;
		cv = g->sc->cluster.device.comm_overlap_slowdown;
		cv = cv > 0 && isfinite(cv) ? cv : 0;
		d.default_algo = g->sc->strategy.coll_algo;
	}
	d.overlap_mul[0] = 1.0;
	d.overlap_mul[1] = 1.0 + ov;
	d.comm_mul = 1.0 + cv;
	ps_status rc = des_init(&d);
	if (rc != PS_OK)
		goto out;
	res->nranks = g->nranks;
	res->ranks = calloc((size_t)g->nranks, sizeof *res->ranks);
	if (!res->ranks) {
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
		goto out;
	}
	if (want_trace && g->ntasks) {
		d.trace = calloc(g->ntasks, sizeof *d.trace);
		if (!d.trace) {
			rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory for the trace");
			goto out;
		}
	}

	/* Streams start in index order (rank-major), then events in time order,
	 * first in first out among equal times. */
	d.now = 0;
	for (int s = 0; s < d.nstreams && d.err == PS_OK; s++)
		stream_try(&d, (uint32_t)s);
	while (d.err == PS_OK && event_tree_size(&d.q)) {
		uint32_t sid = event_tree_pop(&d.q, &d.now);
		do
			sid = task_end(&d, sid);
		while (sid != NONE32);
	}
	if (d.err != PS_OK) {
		rc = d.err;
		goto out;
	}
	if (d.events < g->ntasks) {
		uint32_t i = 0;
		while (i < g->ntasks && d.dt[i].state == TS_DONE)
			i++;
		const struct ps_task *t = &g->tasks[i];
		rc = PS_ERROR(
		    PS_ERR_INVALID,
		    "simulate: the step graph deadlocks: %llu of %u tasks never finished; first: task %u "
		    "(rank %u, stream %s, %s)",
		    (unsigned long long)(g->ntasks - d.events), g->ntasks, i, t->rank,
		    stream_name((ps_stream)t->stream),
		    d.dt[i].state == TS_WAITING ? "waiting for its partners" : "never started");
		goto out;
	}

	int64_t makespan = 0;
	for (int r = 0; r < g->nranks; r++)
		if (d.ranks[r].end_ps > makespan)
			makespan = d.ranks[r].end_ps;
	res->step_time_s = (double)makespan * 1e-12;
	res->events = d.events;
	for (int r = 0; r < g->nranks; r++) {
		const struct des_rank *x = &d.ranks[r];
		struct ps_des_rank_stats *o = &res->ranks[r];
		int64_t exposed = 0;
		o->busy_compute_s = (double)x->busy_ps * 1e-12;
		o->recompute_s = (double)x->recompute_ps * 1e-12;
		o->optimizer_s = (double)x->optimizer_ps * 1e-12;
		for (int k = 0; k < COMM_KIND_COUNT_; k++) {
			o->comm_s[k] = (double)x->comm_ps[k] * 1e-12;
			o->exposed_comm_s[k] = (double)x->exposed_ps[k] * 1e-12;
			exposed += x->exposed_ps[k];
		}
		o->idle_s = (double)(makespan - x->busy_ps - exposed) * 1e-12;
		o->end_s = (double)x->end_ps * 1e-12;
	}
	if (d.trace) {
		for (uint32_t i = 0; i < g->ntasks; i++) {
			const struct ps_task *t = &g->tasks[i];
			struct ps_trace_event *te = &d.trace[i];
			te->task_id = i;
			te->rank = (int32_t)t->rank;
			te->stream = t->stream;
			te->kind = t->kind;
			te->phase = t->phase;
			te->layer = t->layer;
			te->microbatch = t->microbatch;
			te->flops = t->flops;
			switch (t->kind) {
			case TASK_COLL:
				te->bytes = t->u.coll.bytes;
				break;
			case TASK_SEND:
			case TASK_RECV:
				te->bytes = t->u.p2p.bytes;
				break;
			case TASK_MEM:
				te->bytes = t->u.mem.delta_bytes;
				break;
			default:
				break;
			}
			const char *name = graph_task_name(t);
			snprintf(te->name, sizeof te->name, "%s", name ? name : "?");
		}
		res->trace = d.trace;
		res->ntrace = g->ntasks;
		d.trace = NULL;
	}
	rc = PS_OK;
out:
	free(d.trace);
	des_fini(&d);
	if (rc != PS_OK)
		des_result_fini(res);
	return rc;
}

void des_result_fini(struct ps_des_result *res)
{
	if (!res)
		return;
	free(res->ranks);
	free(res->trace);
	memset(res, 0, sizeof *res);
}

/* graph-ir.c — the step graph as a container: allocation, appending tasks
 * and their dependencies, the interned kernel calls, the process group of a
 * collective, and names for traces (graph.h).  The builder that fills it
 * for a scenario is graph.c; nothing here knows about schedules or
 * models. */
#include "config.h"
#include "graph.h"
#include "net.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NONE UINT32_MAX

/* ------------------------------------------------------------ graph core */

struct ps_graph *graph_alloc(void)
{
	struct ps_graph *g = calloc(1, sizeof *g);
	return g;
}

void graph_free(struct ps_graph *g)
{
	if (!g)
		return;
	free(g->tasks);
	free(g->deps);
	free(g->ranks);
	free(g->calls);
	free(g->call_slot);
	free(g);
}

/* Grow an array to `bytes`, keeping its contents.  Large arrays are
 * 2 MiB-aligned and advised as transparent huge pages: a folded graph of a
 * 1T model holds hundreds of MB of tasks, and on virtual machines the first
 * touch of each 4 KiB page costs more than filling it. */
#define HUGE_ALIGN ((size_t)2 << 20)
static void *grow(void *old, size_t old_bytes, size_t bytes)
{
	if (bytes < 4 * HUGE_ALIGN)
		return realloc(old, bytes);
	size_t len = (bytes + HUGE_ALIGN - 1) / HUGE_ALIGN * HUGE_ALIGN;
	void *p = aligned_alloc(HUGE_ALIGN, len);
	if (!p)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);
#endif
	if (old) {
		memcpy(p, old, old_bytes);
		free(old);
	}
	return p;
}

int graph_reserve(struct ps_graph *g, uint32_t ntasks, uint32_t ndeps)
{
	if (ntasks > g->cap_tasks) {
		struct ps_task *t = grow(g->tasks, sizeof *t * (size_t)g->ntasks, sizeof *t * (size_t)ntasks);
		if (!t)
			return -1;
		g->tasks = t;
		g->cap_tasks = ntasks;
	}
	if (ndeps > g->cap_deps) {
		uint32_t *d = grow(g->deps, sizeof *d * (size_t)g->ndeps, sizeof *d * (size_t)ndeps);
		if (!d)
			return -1;
		g->deps = d;
		g->cap_deps = ndeps;
	}
	return 0;
}

uint32_t graph_add(struct ps_graph *g, const struct ps_task *t, const uint32_t *deps, uint32_t ndeps)
{
	if (g->ntasks == NONE - 1 || g->ndeps > UINT32_MAX - ndeps - 1)
		return NONE;
	if (g->ntasks == g->cap_tasks || g->ndeps + ndeps > g->cap_deps) {
		uint32_t nt = g->cap_tasks < 1024 ? 1024 : g->cap_tasks;
		uint32_t nd = g->cap_deps < 2048 ? 2048 : g->cap_deps;
		while (nt <= g->ntasks)
			nt = nt > UINT32_MAX / 2 ? UINT32_MAX - 1 : nt * 2;
		while (nd < g->ndeps + ndeps)
			nd = nd > UINT32_MAX / 2 ? UINT32_MAX - 1 : nd * 2;
		if (graph_reserve(g, nt, nd) != 0)
			return NONE;
	}
	if (t->kind == TASK_KERNEL &&
	    (t->u.kernel.call >= g->ncalls || g->calls[t->u.kernel.call].op != t->u.kernel.op ||
	     g->calls[t->u.kernel.call].dtype != t->u.kernel.dtype))
		return NONE;
	uint32_t id = g->ntasks++;
	struct ps_task *d = &g->tasks[id];
	*d = *t;
	d->id = id;
	d->dep_first = g->ndeps;
	d->ndeps = 0;
	for (uint32_t i = 0; i < ndeps; i++) {
		if (deps[i] == NONE)
			continue;
		if (deps[i] >= id) { /* deps must already be in the graph */
			g->ntasks--;
			g->ndeps = d->dep_first;
			return NONE;
		}
		g->deps[g->ndeps++] = deps[i];
		d->ndeps++;
	}
	return id;
}

_Static_assert(sizeof(struct ps_task) == 64, "struct ps_task grew: a 1T-model step holds millions");

static uint64_t kcall_hash(ps_op op, const struct ps_shape *s, int dtype)
{
	const int64_t f[] = {s->M, s->N, s->K, s->B, s->T, s->C, s->NH, s->KVH, s->HS, s->V, s->n, s->variant};
	uint64_t h = (uint64_t)op * 0x100000001B3ULL ^ (uint64_t)dtype;
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		h = (h ^ (uint64_t)f[i]) * 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 31);
}

static int kcall_equal(const struct ps_kcall *c, ps_op op, const struct ps_shape *s, int dtype)
{
	const struct ps_shape *a = &c->shape;
	return c->op == op && c->dtype == dtype && a->M == s->M && a->N == s->N && a->K == s->K && a->B == s->B &&
	       a->T == s->T && a->C == s->C && a->NH == s->NH && a->KVH == s->KVH && a->HS == s->HS &&
	       a->V == s->V && a->n == s->n && a->variant == s->variant;
}

/* Open addressing over 2 * cap_calls slots (a power of two), linear probes. */
static void kcall_slot_insert(uint32_t *slot, uint32_t nslots, uint64_t h, uint32_t idx)
{
	for (uint32_t k = (uint32_t)h & (nslots - 1);; k = (k + 1) & (nslots - 1))
		if (!slot[k]) {
			slot[k] = idx + 1;
			return;
		}
}

uint32_t graph_kcall(struct ps_graph *g, ps_op op, const struct ps_shape *shape, int dtype)
{
	if (!g || !shape || dtype < 0 || dtype > UINT8_MAX)
		return NONE;
	uint64_t h = kcall_hash(op, shape, dtype);
	if (g->cap_calls) {
		uint32_t nslots = 2 * g->cap_calls;
		for (uint32_t k = (uint32_t)h & (nslots - 1); g->call_slot[k]; k = (k + 1) & (nslots - 1))
			if (kcall_equal(&g->calls[g->call_slot[k] - 1], op, shape, dtype))
				return g->call_slot[k] - 1;
	}
	if (g->ncalls == g->cap_calls) {
		if (g->cap_calls >= (1u << 30))
			return NONE;
		uint32_t cap = g->cap_calls ? 2 * g->cap_calls : 64;
		struct ps_kcall *c = realloc(g->calls, (size_t)cap * sizeof *c);
		if (!c)
			return NONE;
		g->calls = c;
		uint32_t *slot = calloc((size_t)2 * cap, sizeof *slot);
		if (!slot)
			return NONE;
		for (uint32_t i = 0; i < g->ncalls; i++)
			kcall_slot_insert(slot, 2 * cap, kcall_hash(c[i].op, &c[i].shape, c[i].dtype), i);
		free(g->call_slot);
		g->call_slot = slot;
		g->cap_calls = cap;
	}
	uint32_t idx = g->ncalls++;
	struct ps_kcall *c = &g->calls[idx];
	memset(c, 0, sizeof *c);
	c->shape = *shape;
	c->op = op;
	c->dtype = (uint8_t)dtype;
	kcall_slot_insert(g->call_slot, 2 * g->cap_calls, h, idx);
	return idx;
}

const char *stream_name(ps_stream s)
{
	static const char *n[] = {"compute", "tp", "dp", "pp"};
	return (unsigned)s < STREAM_COUNT_ ? n[s] : "unknown";
}

const char *coll_op_name(ps_coll_op op)
{
	static const char *n[] = {"allreduce", "allgather", "reducescatter", "broadcast", "alltoall"};
	return (unsigned)op <= COLL_ALLTOALL ? n[op] : "unknown";
}

const char *comm_kind_name(ps_comm_kind k)
{
	static const char *n[] = {"none", "dp", "tp", "pp", "zero", "cp"};
	return (unsigned)k < COMM_KIND_COUNT_ ? n[k] : "unknown";
}

const char *graph_task_name(const struct ps_task *t)
{
	switch ((ps_task_kind)t->kind) {
	case TASK_KERNEL: return op_name(t->u.kernel.op);
	case TASK_COLL: return coll_op_name(t->u.coll.op);
	case TASK_SEND: return "send";
	case TASK_RECV: return "recv";
	case TASK_MEM: return "mem";
	}
	return "unknown";
}

void graph_task_group(const struct ps_graph *g, const struct ps_task *t, struct ps_group_desc *out)
{
	const struct ps_strategy *st = &g->sc->strategy;
	int tp = st->tp, cp = st->cp, dp = st->dp, pp = st->pp;
	int per_stage = tp * cp * dp;
	int stage = g->ranks[t->rank].pp_stage;
	int base = stage * per_stage;
	int dpr = g->ranks[t->rank].dp_rank;
	switch ((ps_group_kind)t->u.coll.group) {
	case GROUP_TP:
		*out = (struct ps_group_desc){tp, 1, base, dp * cp, tp};
		break;
	case GROUP_CP:
		*out = (struct ps_group_desc){cp, tp, base + dpr * tp * cp, tp, 1};
		break;
	case GROUP_DP:
		*out = (struct ps_group_desc){dp, tp * cp, base, tp * cp, 1};
		break;
	case GROUP_DP_CP:
		*out = (struct ps_group_desc){dp * cp, tp, base, tp, 1};
		break;
	case GROUP_PP:
		*out = (struct ps_group_desc){pp, per_stage, 0, per_stage, 1};
		break;
	case GROUP_EMBED:
		*out = pp > 1 ? (struct ps_group_desc){2, (pp - 1) * per_stage, 0, per_stage, 1}
			      : (struct ps_group_desc){1, 1, base, per_stage, 1};
		break;
	case GROUP_WORLD:
	default:
		*out = (struct ps_group_desc){pp * per_stage, 1, 0, 1, 1};
		break;
	}
}


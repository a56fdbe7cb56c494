/* graph.h — the step graph: one training step, per rank, as tasks on streams.
 *
 * This is the one intermediate representation consumed by both backends:
 * the simulator (sim/des) prices and plays it, the executor (sim/exec) runs
 * it for real.  Both write traces keyed by task id, so validation is a join.
 *
 * A task is a kernel call (op + shape + dtype), a collective (op, group,
 * bytes, algorithm), a point-to-point send or recv, or a memory event,
 * placed on one stream of one rank, waiting for the tasks in its dependency
 * list.  Streams run their tasks in the order they were added.
 *
 * Folding: when ranks are identical, the graph holds one representative rank
 * per role (`nranks` representatives) and each representative carries the
 * number of real ranks it stands for; collectives carry the full group size.
 *
 * Ownership: struct ps_graph is allocated by graph_alloc and freed by
 * graph_free; task arrays grow by doubling (no per-task malloc). */
#ifndef PS_GRAPH_H
#define PS_GRAPH_H

#include <stdint.h>
#include "ops.h"
#include "scenario.h"

typedef enum { TASK_KERNEL = 0, TASK_COLL, TASK_SEND, TASK_RECV, TASK_MEM } ps_task_kind;
typedef enum { STREAM_COMPUTE = 0, STREAM_TP, STREAM_DP, STREAM_PP, STREAM_COUNT_ } ps_stream;
typedef enum { COLL_ALLREDUCE = 0, COLL_ALLGATHER, COLL_REDUCESCATTER, COLL_BROADCAST, COLL_ALLTOALL } ps_coll_op;
/* What a communication is for: exposed-communication accounting per kind. */
typedef enum { COMM_NONE = 0, COMM_DP, COMM_TP, COMM_PP, COMM_ZERO, COMM_CP, COMM_KIND_COUNT_ } ps_comm_kind;
/* What part of the step a compute task belongs to. */
typedef enum { PHASE_FWD = 0, PHASE_BWD, PHASE_RECOMPUTE, PHASE_OPTIMIZER } ps_phase;

/* Process groups: the set of ranks a collective runs over.  GROUP_EMBED:
 * the first and the last pipeline stage of one (tp, cp, dp) coordinate,
 * which both hold the tied word embeddings (Megatron's embedding group). */
typedef enum { GROUP_TP = 0, GROUP_DP, GROUP_PP, GROUP_CP, GROUP_DP_CP, GROUP_WORLD, GROUP_EMBED } ps_group_kind;

/* A distinct kernel call: op, shape and dtype.  Kernel tasks name theirs by
 * index (task.u.kernel.call) into graph->calls, so a step of millions of
 * kernel tasks stores each distinct call once (a 1T-model step has a few
 * dozen) and a backend prices or prepares each once. */
struct ps_kcall {
	struct ps_shape shape;
	ps_op op;
	uint8_t dtype;          /* ps_dtype */
};

/* 64 bytes: a folded 1T-model step holds millions of these. */
struct ps_task {
	uint32_t id;            /* index in graph->tasks */
	uint32_t rank;          /* representative rank index (0..nranks-1) */
	uint8_t stream;         /* ps_stream */
	uint8_t kind;           /* ps_task_kind */
	uint8_t phase;          /* ps_phase */
	uint8_t comm;           /* ps_comm_kind for comm tasks */
	int16_t layer;          /* transformer layer (global index), -1 none */
	int16_t microbatch;     /* micro-batch index, -1 none */
	int16_t chunk;          /* virtual pipeline chunk, -1 none */
	uint32_t dep_first;     /* deps are graph->deps[dep_first .. dep_first+ndeps) */
	uint32_t ndeps;
	uint32_t match;         /* send<->recv: id of the matching task (UINT32_MAX none).
				 * TASK_COLL: the id of the first (lowest-id) task of the same
				 * collective instance among all representatives taking part; equal
				 * in every participant, its own id when it is the only one (all the
				 * group's members folded into this representative).  A collective
				 * starts when every task sharing its match is ready. */
	union {
		/* call: index in graph->calls (graph_kcall); op and dtype repeat it */
		struct { ps_op op; uint32_t call; uint8_t dtype; } kernel;
		struct { ps_coll_op op; ps_group_kind group; int group_size; uint8_t algo; double bytes; } coll;
		struct { int peer; uint32_t tag; double bytes; } p2p;   /* peer: representative rank */
		struct { double delta_bytes; } mem;                     /* + allocate, - free */
	} u;
	double flops;           /* model FLOPs of this task (kernels), for MFU accounting */
};

/* Rank layout (Megatron order tp-cp-dp-pp, tp fastest):
 *   global_rank = tp_rank + tp * (cp_rank + cp * (dp_rank + dp * pp_stage)).
 * Folded graphs hold one representative per class of identical ranks
 * (sim/fold.c: a pipeline stage without stragglers, smaller classes around
 * them), standing for the class's lowest real rank; representatives are in
 * rank order.  Unfolded graphs hold every real rank (rank index = global
 * rank).  send/recv peers are representative indices. */
struct ps_rank_info {
	int pp_stage;           /* pipeline stage of this rank */
	int tp_rank, dp_rank, cp_rank;
	int multiplicity;       /* real ranks this representative stands for */
	double slowdown;        /* compute time multiplier (stragglers), 1 = none */
	int global_rank;        /* a real rank it stands for (the first) */
};

struct ps_graph {
	const struct ps_scenario *sc;   /* borrowed */
	uint32_t ntasks, cap_tasks;
	struct ps_task *tasks;
	uint32_t ndeps, cap_deps;
	uint32_t *deps;
	int nranks;                     /* representatives */
	struct ps_rank_info *ranks;     /* (nranks) */
	int folded;                     /* 1 if identical ranks were folded */
	int num_microbatches;           /* per DP rank per step */
	uint32_t ncalls, cap_calls;
	struct ps_kcall *calls;         /* distinct kernel calls (graph_kcall) */
	uint32_t *call_slot;            /* (2 cap_calls) hash of calls: index + 1, 0 empty */
};

struct ps_graph *graph_alloc(void);
void graph_free(struct ps_graph *g);
/* Append a task (copied); returns its id.  deps: ids already in the graph.
 * A kernel task's u.kernel.call must name a call of g whose op and dtype
 * equal the task's (UINT32_MAX returned otherwise). */
uint32_t graph_add(struct ps_graph *g, const struct ps_task *t, const uint32_t *deps, uint32_t ndeps);

/* Room for ntasks tasks and ndeps dependencies in all (no effect when
 * there is); 0, or -1 when out of memory.  graph_add grows by itself. */
int graph_reserve(struct ps_graph *g, uint32_t ntasks, uint32_t ndeps);

/* Index of the kernel call (op, shape, dtype) in g->calls, added when new;
 * UINT32_MAX when out of memory.  Equal calls get equal indices (every
 * field of the shape compared). */
uint32_t graph_kcall(struct ps_graph *g, ps_op op, const struct ps_shape *shape, int dtype);

/* The call of kernel task t. */
static inline const struct ps_kcall *graph_task_kcall(const struct ps_graph *g, const struct ps_task *t)
{
	return &g->calls[t->u.kernel.call];
}

/* Build the step graph of sc.  fold: 1 to fold identical ranks where the
 * scenario allows it, 0 to build every rank. */
ps_status graph_build(const struct ps_scenario *sc, int fold, struct ps_graph **out);

/* --- additions (helper "graph") ------------------------------------ */

/* Options of graph_build_opts.  The skip flags build partial steps for the
 * closed-form tests and diagnostics (uniform pipeline stages). */
struct ps_graph_opts {
	int fold;              /* as graph_build */
	int skip_embed_loss;   /* omit embedding, final norm, logits and loss */
	int skip_optimizer;    /* omit gradient clipping, optimizer and parameter all-gathers */
	int skip_dp;           /* omit data-parallel gradient reduction */
};
ps_status graph_build_opts(const struct ps_scenario *sc, const struct ps_graph_opts *opts, struct ps_graph **out);

/* The process group of collective task t, as the network model prices it:
 * the group of t's representative, and `concurrent` identical groups of the
 * same kind that run the same collective at the same time by symmetry (e.g.
 * the dp*cp TP groups of a stage).  Identical for every member of a stage,
 * folded or not, so folded and unfolded graphs price collectives alike.
 * (CP groups: the concurrent set is the tp groups of one DP replica.) */
struct ps_group_desc;
void graph_task_group(const struct ps_graph *g, const struct ps_task *t, struct ps_group_desc *out);

/* Short name of a task for traces: "matmul_fwd", "allreduce", "send", ... */
const char *graph_task_name(const struct ps_task *t);

const char *stream_name(ps_stream s);
const char *coll_op_name(ps_coll_op op);
const char *comm_kind_name(ps_comm_kind k);

#endif

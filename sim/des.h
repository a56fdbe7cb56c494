/* des.h — the discrete-event simulator that plays a step graph.
 *
 * Integer time (picoseconds) so runs are bit-for-bit deterministic; events
 * ordered by (time, sequence number) in a tournament tree over the streams
 * (no allocation per event).  Each stream of each rank runs its tasks in
 * order; a task starts when its stream is free and its dependencies are
 * done.  Kernel tasks are priced by the cost model (times the rank's
 * slowdown, and the device's overlap_slowdown while a communication task of
 * the same rank runs), collectives and send/recv by the network model
 * (times the device's comm_overlap_slowdown when they start while a kernel
 * runs on a rank taking part).
 *
 * Ownership: des_run fills a caller-owned struct ps_des_result; des_result_fini
 * frees its arrays. */
#ifndef PS_DES_H
#define PS_DES_H

#include <stdint.h>
#include "costmodel.h"
#include "graph.h"
#include "net.h"
#include "trace.h"

typedef int64_t ps_time_ps;    /* simulated time, picoseconds */

struct ps_des_rank_stats {
	double busy_compute_s;              /* compute stream busy (incl. recompute, optimizer) */
	double recompute_s, optimizer_s;
	double comm_s[COMM_KIND_COUNT_];    /* time each comm kind was in flight */
	double exposed_comm_s[COMM_KIND_COUNT_]; /* comm time not hidden under compute */
	double idle_s;                      /* compute stream idle, not waiting on comm: bubble */
	double end_s;                       /* when this rank's last task finished */
};

struct ps_des_result {
	double step_time_s;                 /* makespan over all ranks */
	int nranks;
	struct ps_des_rank_stats *ranks;    /* (nranks) */
	size_t ntrace;
	struct ps_trace_event *trace;       /* (ntrace) when want_trace, else NULL */
	uint64_t events;                    /* events processed */
};

ps_status des_run(const struct ps_graph *g, const struct ps_costmodel *cm, struct ps_net *net,
		  ps_net_tier tier, int want_trace, struct ps_des_result *res);

/* Added by the engine helper (additive) — des_run details (definitions of
 * the statistics: doc/network-model.md, section 6):
 *  - cm == NULL: a kernel takes task.flops / 1e12 seconds (exact timings
 *    for tests); net == NULL: communication takes no time (rendezvous still
 *    applies); g->sc == NULL: no overlap slowdown, and a collective is
 *    priced as one group of group_size consecutive ranks from rank 0.
 *  - Collectives are priced for graph_task_group's group; tasks sharing a
 *    task.match leader (or, without a match, the k-th collective of a
 *    group kind on each representative of one group instance) start
 *    together when the last of them is ready.
 *  - The trace (want_trace) holds one event per task, indexed by task id;
 *    start_s of a communication task is when its transfer began.
 *  - Errors (PS_ERR_INVALID, res left empty): malformed graph (ids out of
 *    range, a send/recv whose match is not the opposite task on another
 *    rank, members of one collective that differ, a group that does not fit
 *    the cluster) or a graph that deadlocks. */
void des_result_fini(struct ps_des_result *res);

#endif

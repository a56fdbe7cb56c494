/* simulate.h — run one expanded scenario through the simulator and turn
 * the simulated step into metrics; and the analytic tier for sweeps.
 *
 * simulate_run: graph_build (folded unless told otherwise) -> net_alloc ->
 * cost model (the given one, else costmodel_device_alloc: a stored profile
 * when the device has one, the datasheet curves otherwise) -> des_run ->
 * metrics and per-rank memory (memory.c).  simulate_store writes the run
 * (scenario, params, metrics, per-rank breakdowns, trace) in one store
 * transaction.
 *
 * simulate_analytic: the whole step in closed form, without the step graph
 * of the whole pipeline — per-chunk forward/backward times priced from the
 * kernels and collectives of one block (same shapes and collectives as the
 * graph, cost model + the network's analytic tier), the pipeline time of the
 * schedule (m*vpp - 1) * C_max + sum_s C_s (= (m*vpp + pp - 1) C for
 * uniform chunks, i.e. the bubble formula), the p2p, exposed gradient
 * reduction and the optimizer added on top.  For planning sweeps; the
 * simulator is the reference (test-simulate states the agreement).
 *
 * Metric definitions (doc/step-graph.md): times are averages over real
 * ranks; bubble = step time - compute busy - exposed communication;
 * MFU/HFU from flops.h's model and hardware FLOPs and the device's dense
 * peak for the strategy's dtype. */
#ifndef PS_SIMULATE_H
#define PS_SIMULATE_H

#include <stddef.h>
#include <stdint.h>
#include "costmodel.h"
#include "des.h"
#include "memory.h"
#include "net.h"
#include "scenario.h"
#include "status.h"

struct ps_store;

struct ps_sim_metrics {
	double step_time_s;
	double tokens_per_s;
	double tflops_per_gpu;      /* model FLOPs per second per device, 1e12 */
	double mfu, hfu;
	double peak_mem_bytes;      /* max over ranks */
	int oom;                    /* some rank exceeds its device memory */
	int oom_rank;               /* real rank with the largest excess, -1 if none */
	double oom_excess_bytes;
	double bubble_fraction;
	double exposed_comm_s;      /* all kinds */
	double exposed_comm_dp_s, exposed_comm_tp_s, exposed_comm_pp_s, exposed_comm_zero_s;
	double compute_s;           /* forward + backward kernels, without recompute and optimizer */
	double recompute_s, optimizer_s;
	double params;              /* parameter count of the model */
	double model_flops_per_step;
};

/* The metrics by name, in output order, for the command layer and the store. */
typedef enum { SIM_METRIC_DOUBLE = 0, SIM_METRIC_INT, SIM_METRIC_BOOL } ps_sim_metric_type;
struct ps_sim_metric_desc {
	const char *key;            /* "step_time_s", ... */
	size_t offset;              /* in struct ps_sim_metrics */
	ps_sim_metric_type type;
};
const struct ps_sim_metric_desc *simulate_metrics(int *n);
double simulate_metric_value(const struct ps_sim_metrics *m, const struct ps_sim_metric_desc *d);

struct ps_sim_opts {
	int fold;                   /* fold identical ranks (default 1) */
	ps_net_tier tier;           /* NET_FLOW (default) or NET_ANALYTIC for the collectives */
	int want_trace;
	const struct ps_costmodel *cm; /* borrowed; NULL: costmodel_device_alloc(store, device) */
	struct ps_store *store;     /* where to look for profiles; may be NULL */
	const struct ps_graph_opts *graph; /* NULL: the whole step, folded per `fold` */
};
void simulate_opts_default(struct ps_sim_opts *o);

struct ps_sim_result {
	struct ps_sim_metrics m;
	int nranks;                 /* representatives simulated */
	struct ps_rank_info *ranks; /* (nranks) copied from the graph */
	struct ps_mem_breakdown *mem; /* (nranks) */
	struct ps_des_result des;
	uint32_t ntasks;
	int folded;
	char costmodel_source[16];  /* "datasheet" or "profile" */
};

/* Simulate one scenario (no sweep).  res is caller-allocated; on success
 * free it with simulate_result_fini (also safe after a failure). */
ps_status simulate_run(const struct ps_scenario *sc, const struct ps_sim_opts *o, struct ps_sim_result *res);
void simulate_result_fini(struct ps_sim_result *res);

/* Store a simulated run; the scenario needs its canonical text and sha256
 * (as scenario_load/scenario_expand give).  *run_id may be NULL. */
ps_status simulate_store(struct ps_store *st, const struct ps_scenario *sc, const struct ps_sim_opts *o,
			 const struct ps_sim_result *res, int64_t *run_id);

/* The analytic tier: metrics of sc in closed form with the given cost
 * model and network (both reused across calls).  Memory is exact (the
 * memory model); times are estimates.  No allocation beyond a few small
 * buffers; single-threaded use of net. */
ps_status simulate_analytic(const struct ps_scenario *sc, const struct ps_costmodel *cm, struct ps_net *net,
			    struct ps_sim_metrics *out);

/* Store an analytic run (backend "analytic"). */
ps_status simulate_store_analytic(struct ps_store *st, const struct ps_scenario *sc, const struct ps_sim_metrics *m,
				  int64_t *run_id);

/* "none", "selective", "full". */
const char *simulate_recompute_name(ps_recompute r);

#endif

/* simulate.c — one scenario through the simulator (graph -> network -> cost
 * model -> discrete-event run -> metrics), its storage, and the analytic
 * tier used for sweeps (see simulate.h for the definitions).
 *
 * It does not parse files or print (the command layer does), and it does
 * not expand sweeps (scenario_expand does). */
#include "config.h"
#include "simulate.h"
#include "flops.h"
#include "graph.h"
#include "schedule.h"
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD(k, t) {#k, offsetof(struct ps_sim_metrics, k), t}
static const struct ps_sim_metric_desc metric_table[] = {
	MD(step_time_s, SIM_METRIC_DOUBLE),
	MD(tokens_per_s, SIM_METRIC_DOUBLE),
	MD(tflops_per_gpu, SIM_METRIC_DOUBLE),
	MD(mfu, SIM_METRIC_DOUBLE),
	MD(hfu, SIM_METRIC_DOUBLE),
	MD(peak_mem_bytes, SIM_METRIC_DOUBLE),
	MD(oom, SIM_METRIC_BOOL),
	MD(oom_rank, SIM_METRIC_INT),
	MD(oom_excess_bytes, SIM_METRIC_DOUBLE),
	MD(bubble_fraction, SIM_METRIC_DOUBLE),
	MD(exposed_comm_s, SIM_METRIC_DOUBLE),
	MD(exposed_comm_dp_s, SIM_METRIC_DOUBLE),
	MD(exposed_comm_tp_s, SIM_METRIC_DOUBLE),
	MD(exposed_comm_pp_s, SIM_METRIC_DOUBLE),
	MD(exposed_comm_zero_s, SIM_METRIC_DOUBLE),
	MD(compute_s, SIM_METRIC_DOUBLE),
	MD(recompute_s, SIM_METRIC_DOUBLE),
	MD(optimizer_s, SIM_METRIC_DOUBLE),
	MD(params, SIM_METRIC_DOUBLE),
	MD(model_flops_per_step, SIM_METRIC_DOUBLE),
};
#undef MD

const struct ps_sim_metric_desc *simulate_metrics(int *n)
{
	*n = (int)(sizeof metric_table / sizeof metric_table[0]);
	return metric_table;
}

double simulate_metric_value(const struct ps_sim_metrics *m, const struct ps_sim_metric_desc *d)
{
	const char *p = (const char *)m + d->offset;
	switch (d->type) {
	case SIM_METRIC_INT:
	case SIM_METRIC_BOOL: {
		int v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	default: {
		double v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	}
}

const char *simulate_recompute_name(ps_recompute r)
{
	switch (r) {
	case RECOMPUTE_NONE: return "none";
	case RECOMPUTE_SELECTIVE: return "selective";
	case RECOMPUTE_FULL: return "full";
	}
	return "unknown";
}

void simulate_opts_default(struct ps_sim_opts *o)
{
	memset(o, 0, sizeof *o);
	o->fold = 1;
	o->tier = NET_FLOW;
}

void simulate_result_fini(struct ps_sim_result *res)
{
	if (!res)
		return;
	free(res->ranks);
	free(res->mem);
	des_result_fini(&res->des);
	memset(res, 0, sizeof *res);
}

/* Dense peak FLOP/s of the device for dtype d (falling back to the next
 * supported dtype as the cost model does). */
static double device_peak(const struct ps_device *dev, ps_dtype d)
{
	int fd = costmodel_dtype_fallback(dev, d);
	return fd >= 0 ? dev->peak_flops[fd] : 0.0;
}

/* The parts of the metrics that do not depend on timing. */
static void metrics_static(const struct ps_scenario *sc, struct ps_sim_metrics *m, struct ps_flop_count *fc)
{
	struct ps_param_count pc;
	flops_params(&sc->model, flops_parallel_block(&sc->model, &sc->strategy), &pc);
	flops_step(&sc->model, &sc->strategy, sc->strategy.global_batch, fc);
	m->params = pc.total;
	m->model_flops_per_step = fc->model;
}

static void metrics_rates(const struct ps_scenario *sc, const struct ps_flop_count *fc, struct ps_sim_metrics *m)
{
	double world = (double)scenario_world_size(sc);
	double peak = device_peak(&sc->cluster.device, sc->strategy.dtype);
	double step = m->step_time_s;
	m->tokens_per_s = step > 0 ? (double)sc->strategy.global_batch * sc->model.seq_len / step : 0;
	m->tflops_per_gpu = step > 0 ? fc->model / step / world / 1e12 : 0;
	m->mfu = flops_utilisation(fc->model, step, world, peak);
	m->hfu = flops_utilisation(fc->hardware, step, world, peak);
}

/* Peak memory over the given stages; OOM rank = first real rank of the
 * stage with the largest excess. */
static ps_status metrics_memory(const struct ps_scenario *sc, const int *stages, int n, struct ps_mem_breakdown *mem,
				struct ps_sim_metrics *m)
{
	int per_stage = sc->strategy.tp * sc->strategy.cp * sc->strategy.dp;
	m->peak_mem_bytes = 0;
	m->oom = 0;
	m->oom_rank = -1;
	m->oom_excess_bytes = 0;
	for (int i = 0; i < n; i++) {
		struct ps_mem_breakdown local, *b = mem ? &mem[i] : &local;
		ps_status rc = memory_rank(sc, stages[i], b);
		if (rc != PS_OK)
			return rc;
		if (b->total_bytes > m->peak_mem_bytes)
			m->peak_mem_bytes = b->total_bytes;
		if (b->oom && b->excess_bytes > m->oom_excess_bytes) {
			m->oom = 1;
			m->oom_excess_bytes = b->excess_bytes;
			m->oom_rank = stages[i] * per_stage;
		}
	}
	return PS_OK;
}

ps_status simulate_run(const struct ps_scenario *sc, const struct ps_sim_opts *o, struct ps_sim_result *res)
{
	struct ps_sim_opts def;
	if (!o) {
		simulate_opts_default(&def);
		o = &def;
	}
	memset(res, 0, sizeof *res);
	struct ps_graph *g = NULL;
	struct ps_net *net = NULL;
	struct ps_costmodel *own_cm = NULL;
	const struct ps_costmodel *cm = o->cm;
	int *stages = NULL;
	ps_status rc = o->graph ? graph_build_opts(sc, o->graph, &g) : graph_build(sc, o->fold, &g);
	if (rc != PS_OK)
		goto out;
	rc = net_alloc(&sc->cluster, &net);
	if (rc != PS_OK)
		goto out;
	if (!cm) {
		rc = costmodel_device_alloc(o->store, &sc->cluster.device, &own_cm);
		if (rc != PS_OK)
			goto out;
		cm = own_cm;
	}
	snprintf(res->costmodel_source, sizeof res->costmodel_source, "%s", costmodel_source(cm));
	rc = des_run(g, cm, net, o->tier, o->want_trace, &res->des);
	if (rc != PS_OK)
		goto out;

	res->nranks = g->nranks;
	res->folded = g->folded;
	res->ntasks = g->ntasks;
	res->ranks = malloc(sizeof *res->ranks * (size_t)g->nranks);
	res->mem = calloc((size_t)g->nranks, sizeof *res->mem);
	stages = malloc(sizeof(int) * (size_t)g->nranks);
	if (!res->ranks || !res->mem || !stages) {
		rc = PS_ERROR(PS_ERR_NOMEM, "simulate: out of memory");
		goto out;
	}
	memcpy(res->ranks, g->ranks, sizeof *res->ranks * (size_t)g->nranks);
	for (int r = 0; r < g->nranks; r++)
		stages[r] = g->ranks[r].pp_stage;

	struct ps_sim_metrics *m = &res->m;
	struct ps_flop_count fc;
	metrics_static(sc, m, &fc);
	m->step_time_s = res->des.step_time_s;
	metrics_rates(sc, &fc, m);
	rc = metrics_memory(sc, stages, g->nranks, res->mem, m);
	if (rc != PS_OK)
		goto out;
	/* OOM rank: the real rank of the representative */
	if (m->oom)
		for (int r = 0; r < g->nranks; r++)
			if (res->mem[r].oom && res->mem[r].excess_bytes == m->oom_excess_bytes) {
				m->oom_rank = g->ranks[r].global_rank;
				break;
			}
	/* averages over real ranks */
	double wsum = 0, comp = 0, rec = 0, opt = 0, bubble = 0, exp[COMM_KIND_COUNT_] = {0};
	for (int r = 0; r < g->nranks; r++) {
		const struct ps_des_rank_stats *s = &res->des.ranks[r];
		double w = g->ranks[r].multiplicity;
		double ex = 0;
		for (int k = 0; k < COMM_KIND_COUNT_; k++) {
			exp[k] += w * s->exposed_comm_s[k];
			ex += s->exposed_comm_s[k];
		}
		wsum += w;
		comp += w * (s->busy_compute_s - s->recompute_s - s->optimizer_s);
		rec += w * s->recompute_s;
		opt += w * s->optimizer_s;
		double idle = m->step_time_s - s->busy_compute_s - ex;
		bubble += w * (idle > 0 ? idle : 0);
	}
	if (wsum > 0) {
		m->compute_s = comp / wsum;
		m->recompute_s = rec / wsum;
		m->optimizer_s = opt / wsum;
		m->exposed_comm_dp_s = exp[COMM_DP] / wsum;
		m->exposed_comm_tp_s = exp[COMM_TP] / wsum;
		m->exposed_comm_pp_s = exp[COMM_PP] / wsum;
		m->exposed_comm_zero_s = exp[COMM_ZERO] / wsum;
		m->exposed_comm_s = 0;
		for (int k = 0; k < COMM_KIND_COUNT_; k++)
			m->exposed_comm_s += exp[k] / wsum;
		m->bubble_fraction = m->step_time_s > 0 ? bubble / wsum / m->step_time_s : 0;
	}
out:
	free(stages);
	graph_free(g);
	net_free(net);
	costmodel_free(own_cm);
	if (rc != PS_OK) {
		simulate_result_fini(res);
		return rc;
	}
	return PS_OK;
}

/* ------------------------------------------------------------ storage */

static ps_status store_params(struct ps_store *st, int64_t run, const struct ps_scenario *sc)
{
	const struct ps_strategy *s = &sc->strategy;
	ps_status rc = PS_OK;
#define NUM(k, v)                                                                                                      \
	if (rc == PS_OK)                                                                                               \
	rc = store_run_param_num(st, run, k, (double)(v))
#define TXT(k, v)                                                                                                      \
	if (rc == PS_OK)                                                                                               \
	rc = store_run_param(st, run, k, v)
	TXT("model", sc->model.name);
	TXT("cluster", sc->cluster.name);
	TXT("device", sc->cluster.device.name);
	NUM("nodes", sc->cluster.nodes);
	NUM("dp", s->dp);
	NUM("tp", s->tp);
	NUM("pp", s->pp);
	NUM("vpp", s->vpp);
	NUM("cp", s->cp);
	NUM("micro_batch", s->micro_batch);
	NUM("global_batch", s->global_batch);
	NUM("zero_stage", s->zero_stage);
	TXT("distributed_optimizer", s->distributed_optimizer ? "true" : "false");
	TXT("recompute", simulate_recompute_name(s->recompute));
	TXT("sequence_parallel", s->sequence_parallel ? "true" : "false");
	TXT("schedule", schedule_name(s->schedule));
	TXT("dtype", dtype_name(s->dtype));
#undef NUM
#undef TXT
	return rc;
}

static ps_status store_metrics(struct ps_store *st, int64_t run, const struct ps_sim_metrics *m)
{
	int n;
	const struct ps_sim_metric_desc *d = simulate_metrics(&n);
	for (int i = 0; i < n; i++) {
		ps_status rc = store_run_metric(st, run, d[i].key, simulate_metric_value(m, &d[i]));
		if (rc != PS_OK)
			return rc;
	}
	return PS_OK;
}

static ps_status store_begin(struct ps_store *st, const struct ps_scenario *sc, const char *backend, int64_t *run)
{
	if (!sc->canonical || strlen(sc->sha256) != 64)
		return PS_ERROR(PS_ERR_INVALID, "simulate: scenario %s has no canonical text to store", sc->name);
	int64_t sid;
	ps_status rc = store_scenario_put(st, sc->name, sc->canonical, sc->sha256, &sid);
	if (rc == PS_OK)
		rc = store_run_begin(st, sid, backend, 0, run);
	return rc;
}

ps_status simulate_store(struct ps_store *st, const struct ps_scenario *sc, const struct ps_sim_opts *o,
			 const struct ps_sim_result *res, int64_t *run_id)
{
	int64_t run;
	ps_status rc = store_begin(st, sc, "simulate", &run);
	if (rc != PS_OK)
		return rc;
	rc = store_params(st, run, sc);
	if (rc == PS_OK)
		rc = store_run_param(st, run, "network_tier", o && o->tier == NET_ANALYTIC ? "analytic" : "flow");
	if (rc == PS_OK)
		rc = store_run_param(st, run, "folded", res->folded ? "true" : "false");
	if (rc == PS_OK)
		rc = store_run_param(st, run, "costmodel", res->costmodel_source);
	if (rc == PS_OK)
		rc = store_metrics(st, run, &res->m);
	for (int r = 0; r < res->nranks && rc == PS_OK; r++) {
		int gr = res->ranks[r].global_rank;
		const struct ps_mem_breakdown *b = &res->mem[r];
		for (int t = 0; t < MEM_TERM_COUNT_ && rc == PS_OK; t++)
			rc = store_run_breakdown(st, run, gr, "memory", memory_term_key((ps_mem_term)t), b->term[t].bytes);
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "memory", "total_bytes", b->total_bytes);
		const struct ps_des_rank_stats *s = &res->des.ranks[r];
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "time", "compute_s", s->busy_compute_s - s->recompute_s - s->optimizer_s);
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "time", "recompute_s", s->recompute_s);
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "time", "optimizer_s", s->optimizer_s);
		for (int k = 0; k < COMM_KIND_COUNT_ && rc == PS_OK; k++) {
			char key[48];
			snprintf(key, sizeof key, "exposed_comm_%s_s", comm_kind_name((ps_comm_kind)k));
			rc = store_run_breakdown(st, run, gr, "time", key, s->exposed_comm_s[k]);
		}
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "time", "end_s", s->end_s);
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "rank", "multiplicity", res->ranks[r].multiplicity);
		if (rc == PS_OK)
			rc = store_run_breakdown(st, run, gr, "rank", "pp_stage", res->ranks[r].pp_stage);
	}
	if (rc == PS_OK && res->des.trace && res->des.ntrace)
		rc = store_run_trace(st, run, res->des.trace, res->des.ntrace);
	if (rc != PS_OK) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", ps_error_message());
		ps_status keep = rc;
		store_run_finish(st, run, "failed", msg);
		PS_ERROR(keep, "%s", msg);
		return keep;
	}
	rc = store_run_finish(st, run, "finished", NULL);
	if (rc == PS_OK && run_id)
		*run_id = run;
	return rc;
}

ps_status simulate_store_analytic(struct ps_store *st, const struct ps_scenario *sc, const struct ps_sim_metrics *m,
				  int64_t *run_id)
{
	int64_t run;
	ps_status rc = store_begin(st, sc, "analytic", &run);
	if (rc != PS_OK)
		return rc;
	rc = store_params(st, run, sc);
	if (rc == PS_OK)
		rc = store_metrics(st, run, m);
	if (rc != PS_OK) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", ps_error_message());
		store_run_finish(st, run, "failed", msg);
		PS_ERROR(rc, "%s", msg);
		return rc;
	}
	rc = store_run_finish(st, run, "finished", NULL);
	if (rc == PS_OK && run_id)
		*run_id = run;
	return rc;
}

/* ------------------------------------------------------ analytic tier */

/* Times of the units of one micro-batch on one rank. */
struct unit_times {
	double kern, recompute, comm; /* kernels (without recompute), recompute kernels, blocking comm */
	double gemm;                  /* GEMM kernels (what TP comm can hide behind) */
	double tp_comm;               /* TP/CP collectives (before overlap) */
};

enum { U_BLOCK = 0, U_EMBED, U_HEAD, U_COUNT };

/* Time factor of communication that overlaps compute (the DES charges it
 * when a transfer starts while a kernel runs; here, on the overlapped
 * terms). */
static double comm_overlap_factor(const struct ps_scenario *sc)
{
	double y = sc->cluster.device.comm_overlap_slowdown;
	return 1.0 + (y > 0 && isfinite(y) ? y : 0);
}

static double coll_s(const struct ps_graph *g, struct ps_net *net, const struct ps_task *t)
{
	struct ps_group_desc gd;
	graph_task_group(g, t, &gd);
	double s = net_coll_time(net, NET_ANALYTIC, t->u.coll.op, &gd, t->u.coll.bytes, (ps_coll_algo)t->u.coll.algo);
	return s > 0 ? s : 0;
}

/* Price the units (block, embedding, head) of one micro-batch, forward
 * [0] and backward [1], from a one-block graph of the same layout. */
static ps_status price_units(const struct ps_scenario *sc, const struct ps_costmodel *cm, struct ps_net *net,
			     struct unit_times ut[U_COUNT][2])
{
	struct ps_scenario one = *sc;
	one.canonical = NULL;
	one.sweep.naxes = 0;
	one.sweep.axes = NULL;
	one.model.layers = 1;
	one.strategy.pp = 1;
	one.strategy.vpp = 1;
	one.strategy.dp = 1;
	one.strategy.schedule = SCHED_1F1B;
	one.strategy.global_batch = sc->strategy.micro_batch;
	one.cluster.nodes = 1;
	one.cluster.devices_per_node = sc->strategy.tp * sc->strategy.cp;
	one.cluster.nperturb = 0;
	struct ps_graph_opts go = {.fold = 1, .skip_optimizer = 1, .skip_dp = 1};
	struct ps_graph *g = NULL;
	ps_status rc = graph_build_opts(&one, &go, &g);
	if (rc != PS_OK)
		return rc;
	/* price collectives with the real layout: a graph view of the real scenario */
	struct ps_rank_info ri = {0};
	ri.multiplicity = 1;
	ri.slowdown = 1;
	struct ps_graph view = {0};
	view.sc = sc;
	view.nranks = 1;
	view.ranks = &ri;
	memset(ut, 0, sizeof(struct unit_times) * U_COUNT * 2);
	int seen_block[2] = {0, 0};
	for (uint32_t i = 0; i < g->ntasks; i++) {
		const struct ps_task *t = &g->tasks[i];
		int dir = t->phase == PHASE_FWD ? 0 : 1;
		int u;
		if (t->layer >= 0) {
			u = U_BLOCK;
			seen_block[dir] = 1;
		} else {
			/* forward: embedding before the block, head after; backward the reverse */
			u = (dir == 0) == !seen_block[dir] ? U_EMBED : U_HEAD;
		}
		struct unit_times *x = &ut[u][dir];
		if (t->kind == TASK_KERNEL) {
			double s = costmodel_kernel_s(cm, t->u.kernel.op, &graph_task_kcall(g, t)->shape, (ps_dtype)t->u.kernel.dtype);
			if (!(s >= 0))
				s = 0;
			if (t->phase == PHASE_RECOMPUTE)
				x->recompute += s;
			else
				x->kern += s;
			if (t->u.kernel.op == OP_MATMUL_FWD || t->u.kernel.op == OP_MATMUL_BWD)
				x->gemm += s;
		} else if (t->kind == TASK_COLL) {
			x->tp_comm += coll_s(&view, net, t);
		}
	}
	graph_free(g);
	int ovl = sc->strategy.overlap_tp_comm;
	double cy = comm_overlap_factor(sc);
	for (int u = 0; u < U_COUNT; u++)
		for (int d = 0; d < 2; d++) {
			struct unit_times *x = &ut[u][d];
			x->comm = ovl ? fmax(0, x->tp_comm * cy - x->gemm) : x->tp_comm;
		}
	return PS_OK;
}

ps_status simulate_analytic(const struct ps_scenario *sc, const struct ps_costmodel *cm, struct ps_net *net,
			    struct ps_sim_metrics *out)
{
	memset(out, 0, sizeof *out);
	const struct ps_strategy *st = &sc->strategy;
	const struct ps_model *mo = &sc->model;
	int pp = st->pp, vpp = st->vpp, dp = st->dp, tp = st->tp, cp = st->cp;
	if (pp < 1 || vpp < 1 || dp < 1 || tp < 1 || cp < 1 || st->micro_batch < 1 ||
	    st->global_batch % (dp * st->micro_batch) != 0 || mo->layers % (pp * vpp) != 0)
		return PS_ERROR(PS_ERR_INVALID, "analytic: inconsistent layout (dp %d tp %d pp %d vpp %d)", dp, tp, pp, vpp);
	int m = st->global_batch / (dp * st->micro_batch);
	ps_status rc = schedule_check(st->schedule, pp, vpp, m);
	if (rc != PS_OK)
		return rc;
	struct unit_times ut[U_COUNT][2];
	rc = price_units(sc, cm, net, ut);
	if (rc != PS_OK)
		return rc;
	int nvs = pp * vpp, Lc = mo->layers / nvs;
	int per_stage = tp * cp * dp;
	/* per-chunk forward + backward time (kernels + blocking comm) by stage */
	double sum_c = 0, max_c = 0, kern_sum = 0, rec_sum = 0, comm_sum = 0;
	double tb_stage0 = 0;
	for (int s = 0; s < pp; s++) {
		double cs = 0;
		for (int c = 0; c < vpp; c++) {
			int vs = c * pp + s;
			double t = 0;
			for (int d = 0; d < 2; d++) {
				double k = Lc * (ut[U_BLOCK][d].kern + ut[U_BLOCK][d].recompute);
				double cm_ = Lc * ut[U_BLOCK][d].comm;
				double kk = Lc * ut[U_BLOCK][d].kern, rr = Lc * ut[U_BLOCK][d].recompute;
				if (vs == 0) {
					k += ut[U_EMBED][d].kern;
					kk += ut[U_EMBED][d].kern;
					cm_ += ut[U_EMBED][d].comm;
				}
				if (vs == nvs - 1) {
					k += ut[U_HEAD][d].kern;
					kk += ut[U_HEAD][d].kern;
					cm_ += ut[U_HEAD][d].comm;
				}
				t += k + cm_;
				kern_sum += kk;
				rec_sum += rr;
				comm_sum += cm_;
				if (s == 0 && d == 1)
					tb_stage0 += k + cm_;
			}
			cs += t;
		}
		cs /= vpp;
		sum_c += cs;
		if (cs > max_c)
			max_c = cs;
	}
	/* the schedule: (m*vpp - 1) chunk-steps at the slowest stage plus one
	 * pass through all stages — (m*vpp + pp - 1) C for uniform chunks */
	double t_pipe = (double)(m * vpp - 1) * max_c + sum_c;
	double t_p2p = 0;
	if (pp > 1) {
		double bytes = (double)st->micro_batch * mo->seq_len / cp * mo->hidden *
			       costmodel_dtype_bytes(st->dtype) / (st->sequence_parallel && tp > 1 ? tp : 1);
		t_p2p = net_p2p_time(net, NET_ANALYTIC, 0, per_stage, bytes);
		if (t_p2p < 0)
			t_p2p = 0;
		/* one transfer per chunk-step on the critical path, both directions */
		t_pipe += 2.0 * (double)(m * vpp + pp - 1) * t_p2p;
	}
	/* data parallelism: gradient buckets of stage 0 */
	struct ps_param_local pl;
	flops_params_local(mo, st, &pl);
	double stage0_params = (double)(mo->layers / pp) * pl.layer + pl.first_extra + (pp == 1 ? pl.last_extra : 0);
	double last_params = (double)(mo->layers / pp) * pl.layer + pl.last_extra + (pp == 1 ? pl.first_extra : 0);
	double max_params = fmax(stage0_params, last_params);
	double gbytes = costmodel_dtype_bytes(st->grad_dtype), ebytes = costmodel_dtype_bytes(st->dtype);
	int sharded = st->zero_stage >= 1 || st->distributed_optimizer;
	struct ps_group_desc dpg = {dp * cp, tp, 0, tp, 1};
	double exp_dp = 0, exp_zero = 0;
	if (dp * cp > 1) {
		ps_coll_op red = sharded ? COLL_REDUCESCATTER : COLL_ALLREDUCE;
		double bucket = st->bucket_bytes > 0 ? st->bucket_bytes : 40e6;
		double total_bytes = stage0_params * gbytes;
		double nb = ceil(total_bytes / bucket);
		if (nb < 1)
			nb = 1;
		double t_bucket = net_coll_time(net, NET_ANALYTIC, red, &dpg, total_bytes / nb, st->coll_algo);
		if (st->zero_stage >= 3) {
			/* per unit and micro-batch: gather before forward and backward, reduce-scatter after */
			double units = (double)(mo->layers / pp) + 1;
			double unit_bytes = pl.layer;
			double ag = net_coll_time(net, NET_ANALYTIC, COLL_ALLGATHER, &dpg, unit_bytes * ebytes, st->coll_algo);
			double rs = net_coll_time(net, NET_ANALYTIC, COLL_REDUCESCATTER, &dpg, unit_bytes * gbytes, st->coll_algo);
			double dp_total = (double)m * units * (2 * ag + rs);
			double window = (double)m * vpp * max_c;
			if (st->overlap_param_gather)
				exp_zero = fmax(2.0 * m * vpp * ag, dp_total * comm_overlap_factor(sc) - window);
			else
				exp_zero = (double)m * 2 * units * ag;
			exp_dp = st->overlap_grad_reduce ? rs : (double)m * units * rs;
		} else {
			double per_reduce = nb * t_bucket;
			double reps = st->zero_stage == 2 ? m : 1;
			if (st->overlap_grad_reduce)
				exp_dp = fmax(t_bucket, reps * per_reduce * comm_overlap_factor(sc) -
							    (st->zero_stage == 2 ? m * vpp * max_c : tb_stage0 / vpp));
			else
				exp_dp = reps * per_reduce;
			if (sharded) {
				double ag = net_coll_time(net, NET_ANALYTIC, COLL_ALLGATHER, &dpg, stage0_params * ebytes / nb,
							  st->coll_algo);
				exp_zero = st->overlap_param_gather ? ag : nb * ag;
			}
		}
	}
	/* optimizer: clip + norm all-reduce + AdamW over the rank's shard */
	double n_opt = (sharded && dp * cp > 1) ? max_params / (dp * cp) : max_params;
	struct ps_shape sh = {0};
	sh.n = (int64_t)(n_opt + 0.5);
	double t_opt = costmodel_kernel_s(cm, OP_GRADCLIP, &sh, st->dtype) + costmodel_kernel_s(cm, OP_ADAMW, &sh, st->dtype);
	int world = scenario_world_size(sc);
	double t_norm = 0;
	if (world > 1) {
		struct ps_group_desc wg = {world, 1, 0, 1, 1};
		t_norm = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &wg, 4.0, st->coll_algo);
		if (t_norm < 0)
			t_norm = 0;
	}
	/* tied embeddings over a pipeline: first and last stage sum their
	 * embedding gradients before the optimizer (the graph's GROUP_EMBED) */
	double t_emb = 0;
	if (mo->tied_embeddings && pp > 1) {
		struct ps_group_desc eg = {2, (pp - 1) * per_stage, 0, per_stage, 1};
		double vl = (double)((mo->vocab + tp - 1) / tp);
		t_emb = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &eg, vl * mo->hidden * gbytes, st->coll_algo);
		if (t_emb < 0)
			t_emb = 0;
	}
	/* sequence parallelism: the norms' gradients summed over the TP group
	 * (the graph's layer-norm all-reduce; the last stage has the final norm) */
	double t_ln = 0;
	if (st->sequence_parallel && tp > 1) {
		struct ps_group_desc tg = {tp, 1, 0, dp * cp, tp};
		double norm = flops_norm_params(mo);
		double np = (double)(mo->layers / pp) * (flops_parallel_block(mo, st) ? 1.0 : 2.0) * norm + norm;
		t_ln = net_coll_time(net, NET_ANALYTIC, COLL_ALLREDUCE, &tg, np * gbytes, st->coll_algo);
		if (t_ln < 0)
			t_ln = 0;
	}
	out->step_time_s = t_pipe + exp_dp + exp_zero + t_opt + t_norm + t_emb + t_ln;

	struct ps_flop_count fc;
	metrics_static(sc, out, &fc);
	metrics_rates(sc, &fc, out);
	/* per-rank averages (over stages; every stage runs m micro-batches) */
	out->compute_s = (double)m * kern_sum / pp;
	out->recompute_s = (double)m * rec_sum / pp;
	out->optimizer_s = t_opt;
	out->exposed_comm_tp_s = (double)m * comm_sum / pp + t_ln;
	out->exposed_comm_pp_s = pp > 1 ? 2.0 * (double)(m * vpp + pp - 1) * t_p2p : 0;
	out->exposed_comm_dp_s = exp_dp + t_norm + t_emb;
	out->exposed_comm_zero_s = exp_zero;
	out->exposed_comm_s = out->exposed_comm_tp_s + out->exposed_comm_pp_s + out->exposed_comm_dp_s +
			      out->exposed_comm_zero_s;
	double busy = out->compute_s + out->recompute_s + out->optimizer_s + out->exposed_comm_s;
	out->bubble_fraction = out->step_time_s > 0 ? fmax(0, out->step_time_s - busy) / out->step_time_s : 0;
	/* memory: stage 0 (most in flight, embedding) and the last (logits) bound all */
	int stages[2] = {0, pp - 1};
	rc = metrics_memory(sc, stages, pp > 1 ? 2 : 1, NULL, out);
	return rc;
}

/* memory.c — the per-rank memory model (see memory.h and doc/memory-model.md).
 *
 * Model states by ZeRO stage, activations tensor by tensor (Korthikanti et
 * al. 2022) times the schedule's in-flight micro-batches, plus the smaller
 * terms, each with the formula that produced it.  It does not simulate
 * memory over time (the peak is taken at the start of the first backward,
 * when the most micro-batches are in flight). */
#include "config.h"
#include "memory.h"
#include "flops.h"
#include "schedule.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static double elem_bytes(ps_dtype d)
{
	switch (d) {
	case DTYPE_FP32:
	case DTYPE_TF32: return 4;
	case DTYPE_BF16:
	case DTYPE_FP16: return 2;
	case DTYPE_FP8: return 1;
	default: return 2;
	}
}

static const char *elem_name(ps_dtype d)
{
	static const char *n[] = {"fp32", "tf32", "bf16", "fp16", "fp8"};
	return (unsigned)d < DTYPE_COUNT_ ? n[d] : "?";
}

/* Degree over which ZeRO / the distributed optimizer shards: the data-
 * parallel group, which includes the context-parallel ranks (Megatron). */
static double shard_degree(const struct ps_strategy *st)
{
	int dp = st->dp > 0 ? st->dp : 1, cp = st->cp > 0 ? st->cp : 1;
	return (double)dp * cp;
}

void memory_state_bytes_per_param(const struct ps_strategy *st, struct ps_state_bytes *out)
{
	double w = elem_bytes(st->dtype);
	double g = elem_bytes(st->grad_dtype);
	/* fp32 master weights are kept only when the parameters are not fp32 */
	int master = !(st->dtype == DTYPE_FP32 || st->dtype == DTYPE_TF32);
	double o = master ? 12.0 : 8.0;
	double n = shard_degree(st);
	out->weights = w;
	out->grads = g;
	out->optimizer = o;
	if (st->zero_stage >= 1 || st->distributed_optimizer)
		out->optimizer = o / n;
	if (st->zero_stage >= 2)
		out->grads = g / n;
	if (st->zero_stage >= 3)
		out->weights = w / n;
}

void memory_act_opts_default(const struct ps_model *m, struct ps_act_opts *o)
{
	o->dropout = m->bias ? 1 : 0;
	o->flash_attention = 0;
}


/* Per-token activation bytes of one block, split by how TP divides them. */
struct act_parts {
	double rep;    /* replicated across TP ranks (split by t with SP) */
	double split;  /* split across TP ranks */
	double scores; /* attention core (softmax, masks), split by t */
	double input;  /* block input (kept by full recompute), rep */
};

static void act_parts(const struct ps_model *m, const struct ps_strategy *st, const struct ps_act_opts *o,
		      struct act_parts *p)
{
	double e = elem_bytes(st->dtype);
	double h = m->hidden, a = m->heads, g = m->kv_heads > 0 ? m->kv_heads : m->heads;
	double d = m->head_dim > 0 ? m->head_dim : h / a;
	double f = m->ffn_hidden > 0 ? m->ffn_hidden : 4.0 * h;
	double s_kv = m->seq_len; /* keys per query: the whole sequence, also with cp */
	double up = m->ffn == FFN_SWIGLU ? 2.0 : 1.0;
	double mask = o->dropout ? 1.0 : 0.0;
	int parallel = flops_parallel_block(m, st);
	/* Attention (Korthikanti 11sbh + 5as^2b for GPT):
	 *   QKV input e*h (rep), Q and K e*(a+g)*d, V e*g*d, projection input
	 *   e*a*d (split), dropout mask after the projection h (rep);
	 *   core: softmax output e*a*s, its dropout mask a*s, dropout output
	 *   e*a*s (split) — without dropout the softmax output is the AV input.
	 * MLP (19sbh): FC1 input e*h (rep), activation input e*up*f, FC2 input
	 *   e*f (split), dropout mask h (rep).
	 * Norms (4sbh): the input of each norm e*h (rep); a parallel block has
	 *   one norm whose output feeds both QKV and FC1. */
	double norms = (parallel ? 1.0 : 2.0) * e * h;
	double qkv_in = e * h, fc1_in = parallel ? 0.0 : e * h;
	p->rep = norms + qkv_in + fc1_in + mask * h /* attention dropout */ + mask * h /* MLP dropout */;
	p->split = e * (a + g) * d + e * g * d + e * a * d + e * up * f + e * f;
	if (o->flash_attention)
		p->scores = 4.0 * a; /* fp32 log-sum-exp per row and head */
	else
		p->scores = e * a * s_kv + mask * (a * s_kv + e * a * s_kv);
	p->input = e * h;
}

static double tokens_local(const struct ps_model *m, const struct ps_strategy *st)
{
	double cp = st->cp > 0 ? st->cp : 1;
	double b = st->micro_batch > 0 ? st->micro_batch : 1;
	return b * m->seq_len / cp;
}

double memory_act_layer_bytes(const struct ps_model *m, const struct ps_strategy *st, const struct ps_act_opts *o)
{
	struct act_parts p;
	act_parts(m, st, o, &p);
	double t = st->tp > 0 ? st->tp : 1;
	double rep_div = st->sequence_parallel ? t : 1.0;
	double tok = tokens_local(m, st);
	switch (st->recompute) {
	case RECOMPUTE_FULL:
		return tok * p.input / rep_div;
	case RECOMPUTE_SELECTIVE:
		return tok * (p.rep / rep_div + p.split / t);
	default:
		return tok * (p.rep / rep_div + p.split / t + p.scores / t);
	}
}

double memory_act_recompute_work_bytes(const struct ps_model *m, const struct ps_strategy *st,
				       const struct ps_act_opts *o)
{
	struct act_parts p;
	act_parts(m, st, o, &p);
	double t = st->tp > 0 ? st->tp : 1;
	double rep_div = st->sequence_parallel ? t : 1.0;
	double tok = tokens_local(m, st);
	switch (st->recompute) {
	case RECOMPUTE_FULL:
		return tok * (p.rep / rep_div + p.split / t + p.scores / t);
	case RECOMPUTE_SELECTIVE:
		return tok * p.scores / t;
	default:
		return 0.0;
	}
}

const char *memory_term_key(ps_mem_term t)
{
	static const char *k[MEM_TERM_COUNT_] = {
		"weights_bytes",          "grads_bytes",          "optimizer_bytes",     "activations_bytes",
		"act_embed_logits_bytes", "recompute_work_bytes", "comm_buffers_bytes",  "zero3_gather_bytes",
		"alloc_overhead_bytes",   "reserved_bytes",
	};
	return (unsigned)t < MEM_TERM_COUNT_ ? k[t] : "unknown";
}

static void set_term(struct ps_mem_breakdown *b, ps_mem_term t, double bytes, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_term(struct ps_mem_breakdown *b, ps_mem_term t, double bytes, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	b->term[t].bytes = bytes;
	vsnprintf(b->term[t].formula, sizeof b->term[t].formula, fmt, ap);
	va_end(ap);
}

/* Largest number of forward activations of one chunk in flight. */
static int chunk_inflight(const struct ps_sched_item *it, int n, int chunk)
{
	int cur = 0, best = 0;
	for (int i = 0; i < n; i++) {
		if (it[i].chunk != chunk)
			continue;
		cur += it[i].dir == SCHED_ITEM_FWD ? 1 : -1;
		if (cur > best)
			best = cur;
	}
	return best;
}

ps_status memory_rank(const struct ps_scenario *sc, int stage, struct ps_mem_breakdown *out)
{
	const struct ps_model *m = &sc->model;
	const struct ps_strategy *st = &sc->strategy;
	const struct ps_device *dev = &sc->cluster.device;
	int pp = st->pp > 0 ? st->pp : 1, vpp = st->vpp > 0 ? st->vpp : 1;
	int dp = st->dp > 0 ? st->dp : 1, mb = st->micro_batch > 0 ? st->micro_batch : 1;
	int tp = st->tp > 0 ? st->tp : 1;
	if (stage < 0 || stage >= pp)
		return PS_ERROR(PS_ERR_INVALID, "memory: stage %d out of range 0..%d", stage, pp - 1);
	if (st->global_batch % (dp * mb) != 0)
		return PS_ERROR(PS_ERR_INVALID, "memory: global_batch %d is not a multiple of dp*micro_batch = %d",
				st->global_batch, dp * mb);
	if (m->layers % (pp * vpp) != 0)
		return PS_ERROR(PS_ERR_INVALID, "memory: layers %d not divisible by pp*vpp = %d", m->layers, pp * vpp);
	int nmicro = st->global_batch / (dp * mb);
	ps_status rc = schedule_check(st->schedule, pp, vpp, nmicro);
	if (rc != PS_OK)
		return rc;
	int n = schedule_length(nmicro, vpp);
	struct ps_sched_item *items = malloc(sizeof *items * (size_t)n);
	if (!items)
		return PS_ERROR(PS_ERR_NOMEM, "memory: schedule of %d items", n);
	schedule_stage(st->schedule, pp, vpp, nmicro, stage, items);
	int inflight = schedule_max_inflight(st->schedule, pp, vpp, nmicro, stage);
	int first_inflight = chunk_inflight(items, n, 0);
	int last_inflight = chunk_inflight(items, n, vpp - 1);
	free(items);

	*out = (struct ps_mem_breakdown){0};
	struct ps_param_local pl;
	flops_params_local(m, st, &pl);
	int layers_local = m->layers / pp;
	int first = stage == 0, last = stage == pp - 1;
	double params = layers_local * pl.layer + (first ? pl.first_extra : 0) + (last ? pl.last_extra : 0);
	out->params_local = params;
	out->layers_local = layers_local;
	out->inflight = inflight;

	struct ps_state_bytes sb;
	memory_state_bytes_per_param(st, &sb);
	double shard = shard_degree(st);
	set_term(out, MEM_WEIGHTS, params * sb.weights, "%.17g params x %g B (%s%s)", params, sb.weights,
		 elem_name(st->dtype), st->zero_stage >= 3 ? ", ZeRO-3 sharded" : "");
	set_term(out, MEM_GRADS, params * sb.grads, "%.17g params x %g B (%s%s)", params, sb.grads,
		 elem_name(st->grad_dtype), st->zero_stage >= 2 ? ", sharded" : "");
	set_term(out, MEM_OPTIMIZER, params * sb.optimizer, "%.17g params x %g B (%s Adam m, v%s / %g)", params,
		 sb.optimizer, (st->dtype == DTYPE_FP32 || st->dtype == DTYPE_TF32) ? "fp32" : "fp32 master +",
		 (st->zero_stage >= 1 || st->distributed_optimizer) ? ", sharded" : "",
		 (st->zero_stage >= 1 || st->distributed_optimizer) ? shard : 1.0);

	struct ps_act_opts ao;
	memory_act_opts_default(m, &ao);
	ao.flash_attention = st->flash_attention;
	double act_layer = memory_act_layer_bytes(m, st, &ao);
	double layers_chunk = (double)m->layers / (pp * vpp);
	static const char *rc_name[] = {"none", "selective", "full"};
	set_term(out, MEM_ACTIVATIONS, act_layer * layers_chunk * inflight,
		 "%.17g B/layer/micro-batch (recompute %s%s) x %g layers/chunk x %d in flight", act_layer,
		 rc_name[st->recompute % 3], st->sequence_parallel ? ", SP" : "", layers_chunk, inflight);

	double e = elem_bytes(st->dtype);
	double tok = tokens_local(m, st);
	double rep_div = st->sequence_parallel ? tp : 1.0;
	double emb = 0, logit = 0;
	if (first && ao.dropout)
		emb = tok * m->hidden / rep_div * first_inflight; /* embedding dropout mask */
	if (last)
		logit = (tok * 2.0 * e * m->hidden / rep_div + tok * 4.0 * ceil((double)m->vocab / tp)) * last_inflight;
	set_term(out, MEM_ACT_EMBED_LOGITS, emb + logit,
		 "embedding dropout mask %.17g B + (final-norm and logits inputs 2*e*s*b*h%s + fp32 logits "
		 "4*s*b*V/tp) x %d = %.17g B",
		 emb, st->sequence_parallel ? "/tp" : "", last ? last_inflight : 0, logit);

	double work = memory_act_recompute_work_bytes(m, st, &ao);
	set_term(out, MEM_RECOMPUTE_WORK, work, "one block rematerialised (%s recompute)", rc_name[st->recompute % 3]);

	double p2p = pp > 1 ? 2.0 * tok * m->hidden * e / rep_div : 0.0;
	double bucket = (st->zero_stage >= 2 && dp > 1) ? 2.0 * st->bucket_bytes : 0.0;
	set_term(out, MEM_COMM_BUFFERS, p2p + bucket,
		 "p2p send+recv 2*s*b*h*e%s = %.17g B; unsharded gradient buckets %s = %.17g B", st->sequence_parallel ? "/tp" : "",
		 p2p, st->zero_stage >= 2 ? "2 x bucket_size" : "(views of the gradient buffer)", bucket);

	double gather = 0;
	if (st->zero_stage >= 3 && shard > 1)
		gather = pl.layer * (2.0 * e + elem_bytes(st->grad_dtype));
	set_term(out, MEM_ZERO3_GATHER, gather, "%s", st->zero_stage >= 3
		 ? "layer params x (2 gathered copies x e + one unsharded gradient)" : "not ZeRO-3");

	double sum = 0;
	for (int t = 0; t < MEM_ALLOC_OVERHEAD; t++)
		sum += out->term[t].bytes;
	set_term(out, MEM_ALLOC_OVERHEAD, dev->alloc_overhead * sum, "%g x %.17g B", dev->alloc_overhead, sum);
	set_term(out, MEM_RESERVED, dev->reserved_bytes, "device reserved_memory");

	out->total_bytes = 0;
	for (int t = 0; t < MEM_TERM_COUNT_; t++)
		out->total_bytes += out->term[t].bytes;
	out->capacity_bytes = dev->mem_bytes;
	out->oom = out->total_bytes > out->capacity_bytes;
	out->excess_bytes = out->oom ? out->total_bytes - out->capacity_bytes : 0.0;
	return PS_OK;
}

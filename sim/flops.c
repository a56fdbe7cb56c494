/* flops.c — parameter count and step FLOPs in closed form (see flops.h for
 * the counting conventions and their sources).  Pure arithmetic. */
#include "config.h"
#include "flops.h"

#include <math.h>

int flops_parallel_block(const struct ps_model *m, const struct ps_strategy *st)
{
	return (m->parallel_block || (st && st->parallel_block)) ? 1 : 0;
}

double flops_norm_params(const struct ps_model *m)
{
	return m->norm == NORM_RMSNORM ? (double)m->hidden : 2.0 * m->hidden;
}

static double norm_params(const struct ps_model *m)
{
	return flops_norm_params(m);
}

/* Parts of one block, as (matrix, bias) pairs. */
struct block_parts {
	double qkv_w, qkv_b, proj_w, proj_b, fc1_w, fc1_b, fc2_w, fc2_b, norms;
};

static void block_parts(const struct ps_model *m, int parallel, struct block_parts *p)
{
	double h = m->hidden, a = m->heads, g = m->kv_heads > 0 ? m->kv_heads : m->heads;
	double d = m->head_dim > 0 ? m->head_dim : (double)m->hidden / m->heads;
	double f = m->ffn_hidden > 0 ? m->ffn_hidden : 4.0 * m->hidden;
	double up = m->ffn == FFN_SWIGLU ? 2.0 : 1.0; /* gate and up matrices */
	double bias = m->bias ? 1.0 : 0.0;
	p->qkv_w = h * (a + 2 * g) * d;
	p->qkv_b = bias * (a + 2 * g) * d;
	p->proj_w = a * d * h;
	p->proj_b = bias * h;
	p->fc1_w = up * h * f;
	p->fc1_b = bias * up * f;
	p->fc2_w = f * h;
	p->fc2_b = bias * h;
	p->norms = (parallel ? 1.0 : 2.0) * norm_params(m);
}

void flops_params(const struct ps_model *m, int parallel_block, struct ps_param_count *out)
{
	struct block_parts p;
	block_parts(m, parallel_block, &p);
	double h = m->hidden;
	out->layer_matmul = p.qkv_w + p.proj_w + p.fc1_w + p.fc2_w;
	out->layer = out->layer_matmul + p.qkv_b + p.proj_b + p.fc1_b + p.fc2_b + p.norms;
	out->embedding = (double)m->vocab * h;
	out->position = m->position == POS_LEARNED ? (double)m->seq_len * h : 0.0;
	out->final_norm = norm_params(m);
	out->output = m->tied_embeddings ? 0.0 : (double)m->vocab * h;
	out->total = m->layers * out->layer + out->embedding + out->position + out->final_norm + out->output;
}

void flops_params_local(const struct ps_model *m, const struct ps_strategy *st, struct ps_param_local *out)
{
	struct block_parts p;
	block_parts(m, flops_parallel_block(m, st), &p);
	double t = st->tp > 0 ? st->tp : 1;
	double h = m->hidden;
	/* column-parallel (QKV, FC1): weights and biases split; row-parallel
	 * (projection, FC2): weights split, biases replicated; norms replicated. */
	out->layer = (p.qkv_w + p.qkv_b + p.proj_w + p.fc1_w + p.fc1_b + p.fc2_w) / t + p.proj_b + p.fc2_b + p.norms;
	/* the vocabulary is split ceil(V / tp) per rank (padded when tp does not divide it) */
	double vl = ceil((double)m->vocab / t);
	out->first_extra = vl * h + (m->position == POS_LEARNED ? (double)m->seq_len * h : 0.0);
	double out_layer = (!m->tied_embeddings || st->pp > 1) ? vl * h : 0.0;
	out->last_extra = norm_params(m) + out_layer;
}

void flops_step(const struct ps_model *m, const struct ps_strategy *st, double sequences, struct ps_flop_count *out)
{
	struct ps_param_count pc;
	flops_params(m, flops_parallel_block(m, st), &pc);
	double s = m->seq_len, a = m->heads;
	double d = m->head_dim > 0 ? m->head_dim : (double)m->hidden / m->heads;
	double tokens = sequences * s;
	out->layer_dense_fwd_per_token = 2.0 * pc.layer_matmul;
	out->layer_attn_fwd_per_token = 4.0 * s * a * d;
	out->logits_fwd_per_token = 2.0 * m->hidden * (double)m->vocab;
	double layers_fwd = tokens * m->layers * (out->layer_dense_fwd_per_token + out->layer_attn_fwd_per_token);
	double fwd = layers_fwd + tokens * out->logits_fwd_per_token;
	out->model = 3.0 * fwd;
	switch (st ? st->recompute : RECOMPUTE_NONE) {
	case RECOMPUTE_FULL:
		out->recompute = layers_fwd;
		break;
	case RECOMPUTE_SELECTIVE:
		out->recompute = tokens * m->layers * out->layer_attn_fwd_per_token;
		break;
	default:
		out->recompute = 0.0;
	}
	out->hardware = out->model + out->recompute;
}

double flops_utilisation(double flops, double step_time_s, double ngpus, double peak_flops)
{
	double den = step_time_s * ngpus * peak_flops;
	return den > 0 ? flops / den : 0.0;
}

/* fixtures-sim.h — scenarios built in C for the simulator's tests
 * (header-only; no YAML loader needed).
 *
 * The numbers here are test inputs chosen for the closed forms, not
 * datasheet claims: the presets in scenarios/ carry the sourced figures. */
#ifndef PS_FIXTURES_SIM_H
#define PS_FIXTURES_SIM_H

#include <stdio.h>
#include <string.h>
#include "scenario.h"

/* A GPT (Radford et al. / Brown et al. 2020 layout): gelu, ffn 4h,
 * layernorm, learned positions, tied embeddings, biases. */
static inline void fx_gpt(struct ps_model *m, const char *name, int L, int h, int a, int s, int V)
{
	memset(m, 0, sizeof *m);
	strncpy(m->name, name, sizeof m->name - 1);
	m->layers = L;
	m->hidden = h;
	m->heads = a;
	m->kv_heads = a;
	m->head_dim = h / a;
	m->ffn_hidden = 4 * h;
	m->ffn = FFN_GELU;
	m->vocab = V;
	m->seq_len = s;
	m->norm = NORM_LAYERNORM;
	m->position = POS_LEARNED;
	m->tied_embeddings = true;
	m->bias = true;
	m->parallel_block = false;
}

/* A Llama (Touvron et al. 2023 layout): swiglu, rmsnorm, rope, untied, no bias. */
static inline void fx_llama(struct ps_model *m, const char *name, int L, int h, int a, int g, int f, int s, int V)
{
	fx_gpt(m, name, L, h, a, s, V);
	m->kv_heads = g;
	m->ffn_hidden = f;
	m->ffn = FFN_SWIGLU;
	m->norm = NORM_RMSNORM;
	m->position = POS_ROPE;
	m->tied_embeddings = false;
	m->bias = false;
}

/* An H100-like device (test numbers). */
static inline void fx_device(struct ps_device *d)
{
	memset(d, 0, sizeof *d);
	strcpy(d->name, "test-gpu");
	strcpy(d->kind, "gpu");
	d->peak_flops[DTYPE_FP32] = 67e12;
	d->peak_flops[DTYPE_TF32] = 494e12;
	d->peak_flops[DTYPE_BF16] = 989e12;
	d->peak_flops[DTYPE_FP16] = 989e12;
	d->mem_bytes = 80e9;
	d->mem_bw_Bps = 3.35e12;
	d->power_W = 700;
	d->matmul_eff_max = 0.8;
	d->matmul_half_flop = 5e9;
	d->attn_eff_max = 0.5;
	d->mem_eff_max = 0.85;
	d->mem_half_bytes = 4e6;
	d->kernel_launch_s = 4e-6;
	d->overlap_slowdown = 0.1;
	d->alloc_overhead = 0.05;
	d->reserved_bytes = 2.0 * 1024 * 1024 * 1024;
}

/* nodes x dpn devices: NVSwitch inside a node, `rails` IB rails between. */
static inline void fx_cluster(struct ps_cluster *c, int nodes, int dpn)
{
	memset(c, 0, sizeof *c);
	strcpy(c->name, "test-cluster");
	fx_device(&c->device);
	c->devices_per_node = dpn;
	c->nodes = nodes;
	c->nlevels = 2;
	strcpy(c->levels[0].name, "nvswitch");
	c->levels[0].scope = LEVEL_NODE;
	c->levels[0].bw_Bps = 450e9;
	c->levels[0].lat_s = 3e-6;
	c->levels[0].eff = 0.8;
	strcpy(c->levels[1].name, "ib");
	c->levels[1].scope = LEVEL_CLUSTER;
	c->levels[1].bw_Bps = 50e9;
	c->levels[1].lat_s = 5e-6;
	c->levels[1].rails = dpn;
	c->levels[1].leaf_nodes = 0;
	c->levels[1].oversubscription = 1.0;
	c->levels[1].eff = 0.8;
}

static inline void fx_strategy(struct ps_strategy *st, int dp, int tp, int pp, int mb, int gb)
{
	memset(st, 0, sizeof *st);
	st->dp = dp;
	st->tp = tp;
	st->pp = pp;
	st->vpp = 1;
	st->cp = 1;
	st->micro_batch = mb;
	st->global_batch = gb;
	st->zero_stage = 0;
	st->recompute = RECOMPUTE_NONE;
	st->schedule = SCHED_1F1B;
	st->overlap_grad_reduce = true;
	st->overlap_param_gather = true;
	st->dtype = DTYPE_BF16;
	st->grad_dtype = DTYPE_BF16;
	st->bucket_bytes = 40e6;
	st->coll_algo = ALGO_AUTO;
}

/* A whole scenario; the caller adjusts fields afterwards. */
static inline void fx_scenario(struct ps_scenario *sc, const struct ps_model *m, int nodes, int dpn, int dp, int tp,
			       int pp, int mb, int gb)
{
	memset(sc, 0, sizeof *sc);
	snprintf(sc->name, sizeof sc->name, "%.50s-test", m->name);
	sc->model = *m;
	fx_cluster(&sc->cluster, nodes, dpn);
	fx_strategy(&sc->strategy, dp, tp, pp, mb, gb);
}

#endif

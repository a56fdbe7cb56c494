/* gpt.c — a GPT-style Transformer assembled from the CPU kernels: memory
 * layout, initialisation, forward, backward and the AdamW update.
 *
 * Layout follows llm.c: all parameters in one block (then grads, m, v in the
 * same block, each n_params floats), all activations in another, tensors
 * addressed through the pointer structs of gpt.h.  Per-layer activations are
 * laid out with the capacity (B,T) as the layer stride, and compact at the
 * shape of the current call inside a layer.  The per-layer gradient scratch
 * (dqkv, dfch, ...) is shared by all layers and zeroed per layer, since the
 * kernels accumulate.
 *
 * This file does not know about parallelism (no MPI, no sharding) nor read
 * checkpoints; the execute backend builds those around it. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "kernels.h"

#define NPT 17 /* parameter tensors, order of struct gpt_params */

static size_t cfg_qkv(const struct gpt_config *c) { return (size_t)(c->NH + 2 * c->KVH) * c->HS; }
static size_t cfg_ac(const struct gpt_config *c) { return (size_t)c->NH * c->HS; }
static size_t cfg_fc(const struct gpt_config *c) { return (size_t)(c->ffn == GPT_FFN_SWIGLU ? 2 : 1) * c->F; }

void gpt_config_gpt2_124m(struct gpt_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->L = 12;
	cfg->C = 768;
	cfg->NH = 12;
	cfg->KVH = 12;
	cfg->HS = 64;
	cfg->F = 3072;
	cfg->V = 50257;
	cfg->maxT = 1024;
	cfg->ffn = GPT_FFN_GELU;
	cfg->norm = GPT_NORM_LAYERNORM;
	cfg->bias = 1;
	cfg->learned_pos = 1;
	cfg->tied = 1;
}

ps_status gpt_config_check(const struct gpt_config *c)
{
	if (c->L < 1 || c->C < 1 || c->NH < 1 || c->KVH < 1 || c->HS < 1 || c->F < 1 || c->V < 1 || c->maxT < 1)
		return PS_ERROR(PS_ERR_INVALID, "gpt config: every size must be positive (L=%d C=%d NH=%d KVH=%d "
						"HS=%d F=%d V=%d maxT=%d)",
				c->L, c->C, c->NH, c->KVH, c->HS, c->F, c->V, c->maxT);
	if (c->NH % c->KVH != 0)
		return PS_ERROR(PS_ERR_INVALID, "gpt config: kv heads %d must divide heads %d", c->KVH, c->NH);
	if (c->ffn != GPT_FFN_GELU && c->ffn != GPT_FFN_SWIGLU)
		return PS_ERROR(PS_ERR_INVALID, "gpt config: unknown ffn %d", (int)c->ffn);
	if (c->norm != GPT_NORM_LAYERNORM && c->norm != GPT_NORM_RMSNORM)
		return PS_ERROR(PS_ERR_INVALID, "gpt config: unknown norm %d", (int)c->norm);
	/* keep every tensor's element count well inside int and size_t */
	double big = (double)c->L * (double)cfg_fc(c) * c->C + (double)c->V * c->C;
	if (big > 1e11)
		return PS_ERROR(PS_ERR_RANGE, "gpt config: model too large for the CPU kernels");
	return PS_OK;
}

static void param_sizes(const struct gpt_config *c, size_t s[NPT])
{
	const size_t L = (size_t)c->L, C = (size_t)c->C, V = (size_t)c->V;
	const int lnb = c->norm == GPT_NORM_LAYERNORM && c->bias;
	s[0] = V * C;                                /* wte */
	s[1] = c->learned_pos ? (size_t)c->maxT * C : 0; /* wpe */
	s[2] = L * C;                                /* ln1w */
	s[3] = lnb ? L * C : 0;                      /* ln1b */
	s[4] = L * cfg_qkv(c) * C;                   /* qkvw */
	s[5] = c->bias ? L * cfg_qkv(c) : 0;         /* qkvb */
	s[6] = L * C * cfg_ac(c);                    /* attprojw */
	s[7] = c->bias ? L * C : 0;                  /* attprojb */
	s[8] = L * C;                                /* ln2w */
	s[9] = lnb ? L * C : 0;                      /* ln2b */
	s[10] = L * cfg_fc(c) * C;                   /* fcw */
	s[11] = c->bias ? L * cfg_fc(c) : 0;         /* fcb */
	s[12] = L * C * (size_t)c->F;                /* fcprojw */
	s[13] = c->bias ? L * C : 0;                 /* fcprojb */
	s[14] = C;                                   /* lnfw */
	s[15] = lnb ? C : 0;                         /* lnfb */
	s[16] = c->tied ? 0 : V * C;                 /* lmw */
}

/* tensors that get weight decay: matrices, not biases or norm weights */
static const int decay_of[NPT] = {1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1};

size_t gpt_config_num_params(const struct gpt_config *cfg)
{
	size_t s[NPT], n = 0;
	param_sizes(cfg, s);
	for (int i = 0; i < NPT; i++)
		n += s[i];
	return n;
}

static void param_slots(struct gpt_params *p, float **ptr[NPT])
{
	float **all[NPT] = {&p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb,
			    &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw, &p->fcb,
			    &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb, &p->lmw};
	memcpy(ptr, all, sizeof all);
}

static void point_params(struct gpt_params *p, float *base, const size_t s[NPT])
{
	float **ptr[NPT];
	param_slots(p, ptr);
	for (int i = 0; i < NPT; i++) {
		*ptr[i] = s[i] ? base : NULL;
		base += s[i];
	}
}

/* activation sizes at capacity (B,T), order of struct gpt_acts */
#define NACT 26
static void act_sizes(const struct gpt_config *c, int Bc, int Tc, size_t s[NACT])
{
	const size_t L = (size_t)c->L, C = (size_t)c->C, BT = (size_t)Bc * Tc;
	const int ln = c->norm == GPT_NORM_LAYERNORM;
	s[0] = (L + 1) * BT * C;                /* res */
	s[1] = L * BT * C;                      /* ln1 */
	s[2] = ln ? L * BT : 0;                 /* ln1_mean */
	s[3] = L * BT;                          /* ln1_rstd */
	s[4] = L * BT * cfg_qkv(c);             /* qkv */
	s[5] = L * BT * cfg_ac(c);              /* atty */
	s[6] = L * BT * (size_t)c->NH;          /* att_lse */
	s[7] = L * BT * C;                      /* resmid */
	s[8] = L * BT * C;                      /* ln2 */
	s[9] = ln ? L * BT : 0;                 /* ln2_mean */
	s[10] = L * BT;                         /* ln2_rstd */
	s[11] = L * BT * cfg_fc(c);             /* fch */
	s[12] = L * BT * (size_t)c->F;          /* fcact */
	s[13] = BT * C;                         /* lnf */
	s[14] = ln ? BT : 0;                    /* lnf_mean */
	s[15] = BT;                             /* lnf_rstd */
	s[16] = BT * (size_t)c->V;              /* logits */
	s[17] = BT;                             /* losses */
	s[18] = BT;                             /* xent_lse */
	s[19] = BT * C;                         /* tmp */
	s[20] = BT * C;                         /* dres */
	s[21] = BT * C;                         /* dln */
	s[22] = BT * cfg_qkv(c);                /* dqkv */
	s[23] = BT * cfg_ac(c);                 /* datty */
	s[24] = BT * cfg_fc(c);                 /* dfch */
	s[25] = BT * (size_t)c->F;              /* dfcact */
}

static void point_acts(struct gpt_acts *a, float *base, const size_t s[NACT])
{
	float **ptr[NACT] = {&a->res, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att_lse,
			     &a->resmid, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fcact, &a->lnf,
			     &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->losses, &a->xent_lse, &a->tmp,
			     &a->dres, &a->dln, &a->dqkv, &a->datty, &a->dfch, &a->dfcact};
	for (int i = 0; i < NACT; i++) {
		*ptr[i] = s[i] ? base : NULL;
		base += s[i];
	}
}

ps_status gpt_alloc(const struct gpt_config *cfg, int B, int T, struct gpt **out)
{
	*out = NULL;
	ps_status st = gpt_config_check(cfg);
	if (st != PS_OK)
		return st;
	if (B < 1 || T < 1 || T > cfg->maxT)
		return PS_ERROR(PS_ERR_INVALID, "gpt: batch %d x %d tokens outside 1..maxT=%d", B, T, cfg->maxT);
	struct gpt *g = calloc(1, sizeof *g);
	if (!g)
		return PS_ERROR(PS_ERR_NOMEM, "gpt: out of memory");
	g->cfg = *cfg;
	g->B = B;
	g->T = T;
	param_sizes(cfg, g->param_sizes);
	g->n_params = gpt_config_num_params(cfg);
	size_t as[NACT];
	act_sizes(cfg, B, T, as);
	g->n_acts = 0;
	for (int i = 0; i < NACT; i++)
		g->n_acts += as[i];
	g->mem_params = calloc(4 * g->n_params, sizeof(float));
	g->mem_acts = calloc(g->n_acts, sizeof(float));
	if (!g->mem_params || !g->mem_acts) {
		const size_t np = g->n_params, na = g->n_acts;
		gpt_free(g);
		return PS_ERROR(PS_ERR_NOMEM, "gpt: out of memory for %zu parameters and %zu activations", np, na);
	}
	point_params(&g->params, g->mem_params, g->param_sizes);
	point_params(&g->grads, g->mem_params + g->n_params, g->param_sizes);
	g->m = g->mem_params + 2 * g->n_params;
	g->v = g->mem_params + 3 * g->n_params;
	point_acts(&g->acts, g->mem_acts, as);
	*out = g;
	return PS_OK;
}

void gpt_free(struct gpt *g)
{
	if (!g)
		return;
	free(g->mem_params);
	free(g->mem_acts);
	free(g);
}

/* splitmix64: a small, well-mixed deterministic generator */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unif01(uint64_t *s) { return ((splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* fill x(n) with N(0, std^2); chunks of 65536 get their own stream, so the
 * result does not depend on the thread count */
static void fill_normal(float *x, size_t n, float std, uint64_t seed)
{
	const size_t CH = 65536;
	const long nch = (long)((n + CH - 1) / CH);
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 20))
	for (long ch = 0; ch < nch; ch++) {
		uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(ch + 1));
		const size_t lo = (size_t)ch * CH, hi = lo + CH < n ? lo + CH : n;
		for (size_t i = lo; i < hi; i += 2) {
			double u1 = unif01(&s), u2 = unif01(&s);
			double r = sqrt(-2.0 * log(u1));
			x[i] = (float)(std * r * cos(2.0 * M_PI * u2));
			if (i + 1 < hi)
				x[i + 1] = (float)(std * r * sin(2.0 * M_PI * u2));
		}
	}
}

static void fill_const(float *x, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		x[i] = v;
}

void gpt_init_random(struct gpt *g, uint64_t seed)
{
	float **slot[NPT];
	param_slots(&g->params, slot);
	const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)g->cfg.L);
	for (int i = 0; i < NPT; i++) {
		if (!g->param_sizes[i])
			continue;
		uint64_t ts = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i * 0x632be59bd9b4e019ULL;
		switch (i) {
		case 2: case 8: case 14: /* norm weights */
			fill_const(*slot[i], g->param_sizes[i], 1.0f);
			break;
		case 0: case 1: case 4: case 10: case 16:
			fill_normal(*slot[i], g->param_sizes[i], std, ts);
			break;
		case 6: case 12: /* residual projections */
			fill_normal(*slot[i], g->param_sizes[i], proj_std, ts);
			break;
		default: /* biases */
			fill_const(*slot[i], g->param_sizes[i], 0.0f);
		}
	}
	memset(g->m, 0, 2 * g->n_params * sizeof(float));
	g->step = 0;
}

/* layer-l slice of a per-layer activation with row width w */
static float *lay(const struct gpt *g, float *base, int l, size_t w)
{
	return base + (size_t)l * g->B * g->T * w;
}

static void norm_fwd(const struct gpt *g, float *out, float *mean, float *rstd, const float *inp, const float *w,
		     const float *b, int M)
{
	if (g->cfg.norm == GPT_NORM_LAYERNORM)
		cpu_layernorm_forward(out, mean, rstd, inp, w, b, M, g->cfg.C);
	else
		cpu_rmsnorm_forward(out, rstd, inp, w, M, g->cfg.C);
}

static void norm_bwd(const struct gpt *g, float *dinp, float *dw, float *db, const float *dout, const float *inp,
		     const float *w, const float *mean, const float *rstd, int M)
{
	if (g->cfg.norm == GPT_NORM_LAYERNORM)
		cpu_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, M, g->cfg.C);
	else
		cpu_rmsnorm_backward(dinp, dw, dout, inp, w, rstd, M, g->cfg.C);
}

/* pointer to layer l of a (L, rows...) parameter, or NULL */
static float *lp(float *base, int l, size_t per_layer) { return base ? base + (size_t)l * per_layer : NULL; }

void gpt_block_forward(struct gpt *g, int l, float *res_out, const float *res_in, int B, int T)
{
	const struct gpt_config *c = &g->cfg;
	const int M = B * T, C = c->C;
	const size_t QKV = cfg_qkv(c), AC = cfg_ac(c), FC = cfg_fc(c), F = (size_t)c->F;
	struct gpt_params *p = &g->params;
	struct gpt_acts *a = &g->acts;
	float *ln1 = lay(g, a->ln1, l, C), *ln1m = a->ln1_mean ? lay(g, a->ln1_mean, l, 1) : NULL;
	float *ln1r = lay(g, a->ln1_rstd, l, 1), *qkv = lay(g, a->qkv, l, QKV), *atty = lay(g, a->atty, l, AC);
	float *lse = lay(g, a->att_lse, l, (size_t)c->NH), *resmid = lay(g, a->resmid, l, C);
	float *ln2 = lay(g, a->ln2, l, C), *ln2m = a->ln2_mean ? lay(g, a->ln2_mean, l, 1) : NULL;
	float *ln2r = lay(g, a->ln2_rstd, l, 1), *fch = lay(g, a->fch, l, FC), *fcact = lay(g, a->fcact, l, F);

	norm_fwd(g, ln1, ln1m, ln1r, res_in, lp(p->ln1w, l, C), lp(p->ln1b, l, C), M);
	cpu_matmul_forward(qkv, ln1, lp(p->qkvw, l, QKV * C), lp(p->qkvb, l, QKV), M, C, (int)QKV);
	cpu_attention_forward(atty, lse, qkv, B, T, c->NH, c->KVH, c->HS);
	cpu_matmul_forward(a->tmp, atty, lp(p->attprojw, l, C * AC), lp(p->attprojb, l, C), M, (int)AC, C);
	cpu_residual_forward(resmid, res_in, a->tmp, (size_t)M * C);
	norm_fwd(g, ln2, ln2m, ln2r, resmid, lp(p->ln2w, l, C), lp(p->ln2b, l, C), M);
	cpu_matmul_forward(fch, ln2, lp(p->fcw, l, FC * C), lp(p->fcb, l, FC), M, C, (int)FC);
	if (c->ffn == GPT_FFN_GELU)
		cpu_gelu_forward(fcact, fch, (size_t)M * F);
	else
		cpu_swiglu_forward(fcact, fch, M, (int)F);
	cpu_matmul_forward(a->tmp, fcact, lp(p->fcprojw, l, C * F), lp(p->fcprojb, l, C), M, (int)F, C);
	cpu_residual_forward(res_out, resmid, a->tmp, (size_t)M * C);
}

void gpt_block_backward(struct gpt *g, int l, float *dres, const float *res_in, int B, int T)
{
	const struct gpt_config *c = &g->cfg;
	const int M = B * T, C = c->C;
	const size_t QKV = cfg_qkv(c), AC = cfg_ac(c), FC = cfg_fc(c), F = (size_t)c->F;
	struct gpt_params *p = &g->params, *dp = &g->grads;
	struct gpt_acts *a = &g->acts;
	float *ln1 = lay(g, a->ln1, l, C), *ln1m = a->ln1_mean ? lay(g, a->ln1_mean, l, 1) : NULL;
	float *ln1r = lay(g, a->ln1_rstd, l, 1), *qkv = lay(g, a->qkv, l, QKV), *atty = lay(g, a->atty, l, AC);
	float *lse = lay(g, a->att_lse, l, (size_t)c->NH), *resmid = lay(g, a->resmid, l, C);
	float *ln2 = lay(g, a->ln2, l, C), *ln2m = a->ln2_mean ? lay(g, a->ln2_mean, l, 1) : NULL;
	float *ln2r = lay(g, a->ln2_rstd, l, 1), *fch = lay(g, a->fch, l, FC), *fcact = lay(g, a->fcact, l, F);

	memset(a->dfcact, 0, sizeof(float) * (size_t)M * F);
	memset(a->dfch, 0, sizeof(float) * (size_t)M * FC);
	memset(a->dln, 0, sizeof(float) * (size_t)M * C);
	memset(a->datty, 0, sizeof(float) * (size_t)M * AC);
	memset(a->dqkv, 0, sizeof(float) * (size_t)M * QKV);

	/* MLP half: res_out = resmid + fcproj(act(fc(ln2(resmid)))) */
	cpu_matmul_backward(a->dfcact, lp(dp->fcprojw, l, C * F), lp(dp->fcprojb, l, C), dres, fcact,
			    lp(p->fcprojw, l, C * F), M, (int)F, C);
	if (c->ffn == GPT_FFN_GELU)
		cpu_gelu_backward(a->dfch, fch, a->dfcact, (size_t)M * F);
	else
		cpu_swiglu_backward(a->dfch, fch, a->dfcact, M, (int)F);
	cpu_matmul_backward(a->dln, lp(dp->fcw, l, FC * C), lp(dp->fcb, l, FC), a->dfch, ln2, lp(p->fcw, l, FC * C),
			    M, C, (int)FC);
	/* dres becomes d resmid: the identity path plus the norm path */
	norm_bwd(g, dres, lp(dp->ln2w, l, C), lp(dp->ln2b, l, C), a->dln, resmid, lp(p->ln2w, l, C), ln2m, ln2r, M);

	/* attention half: resmid = res_in + attproj(attn(qkv(ln1(res_in)))) */
	cpu_matmul_backward(a->datty, lp(dp->attprojw, l, C * AC), lp(dp->attprojb, l, C), dres, atty,
			    lp(p->attprojw, l, C * AC), M, (int)AC, C);
	cpu_attention_backward(a->dqkv, a->datty, qkv, atty, lse, B, T, c->NH, c->KVH, c->HS);
	memset(a->dln, 0, sizeof(float) * (size_t)M * C);
	cpu_matmul_backward(a->dln, lp(dp->qkvw, l, QKV * C), lp(dp->qkvb, l, QKV), a->dqkv, ln1,
			    lp(p->qkvw, l, QKV * C), M, C, (int)QKV);
	norm_bwd(g, dres, lp(dp->ln1w, l, C), lp(dp->ln1b, l, C), a->dln, res_in, lp(p->ln1w, l, C), ln1m, ln1r, M);
}

ps_status gpt_forward(struct gpt *g, const int *tokens, const int *targets, int B, int T, float *mean_loss)
{
	const struct gpt_config *c = &g->cfg;
	if (B < 1 || T < 1 || B > g->B || T > g->T)
		return PS_ERROR(PS_ERR_INVALID, "gpt: forward at %d x %d exceeds the allocated %d x %d", B, T, g->B,
				g->T);
	const int M = B * T;
	for (int i = 0; i < M; i++) {
		if (tokens[i] < 0 || tokens[i] >= c->V)
			return PS_ERROR(PS_ERR_INVALID, "gpt: token %d at position %d outside [0,%d)", tokens[i], i,
					c->V);
		if (targets && (targets[i] < 0 || targets[i] >= c->V))
			return PS_ERROR(PS_ERR_INVALID, "gpt: target %d at position %d outside [0,%d)", targets[i],
					i, c->V);
	}
	struct gpt_acts *a = &g->acts;
	const size_t BTC = (size_t)g->B * g->T * c->C; /* layer stride of res */
	cpu_embed_forward(a->res, tokens, g->params.wte, g->params.wpe, B, T, c->C);
	for (int l = 0; l < c->L; l++)
		gpt_block_forward(g, l, a->res + (size_t)(l + 1) * BTC, a->res + (size_t)l * BTC, B, T);
	norm_fwd(g, a->lnf, a->lnf_mean, a->lnf_rstd, a->res + (size_t)c->L * BTC, g->params.lnfw, g->params.lnfb,
		 M);
	const float *lmw = c->tied ? g->params.wte : g->params.lmw;
	cpu_matmul_forward(a->logits, a->lnf, lmw, NULL, M, c->C, c->V);
	g->cur_B = B;
	g->cur_T = T;
	g->cur_tokens = tokens;
	g->cur_targets = targets;
	if (targets) {
		cpu_xent_forward(a->losses, a->xent_lse, a->logits, targets, M, c->V);
		double s = 0.0;
		for (int i = 0; i < M; i++)
			s += a->losses[i];
		g->mean_loss = (float)(s / M);
		if (mean_loss)
			*mean_loss = g->mean_loss;
	}
	return PS_OK;
}

void gpt_zero_grad(struct gpt *g)
{
	float *restrict x = g->mem_params + g->n_params;
	const size_t n = g->n_params;
#pragma omp parallel for schedule(static) if (n > ((size_t)1 << 16))
	for (size_t i = 0; i < n; i++)
		x[i] = 0.0f;
}

ps_status gpt_backward(struct gpt *g, float dloss)
{
	const struct gpt_config *c = &g->cfg;
	if (!g->cur_targets || !g->cur_tokens)
		return PS_ERROR(PS_ERR_INVALID, "gpt: backward needs a forward with targets first");
	const int B = g->cur_B, T = g->cur_T, M = B * T, C = c->C;
	struct gpt_acts *a = &g->acts;
	const size_t BTC = (size_t)g->B * g->T * c->C;
	/* logits become dlogits in place */
	cpu_xent_backward(a->logits, a->logits, a->xent_lse, g->cur_targets, dloss, M, c->V);
	const float *lmw = c->tied ? g->params.wte : g->params.lmw;
	float *dlmw = c->tied ? g->grads.wte : g->grads.lmw;
	memset(a->dln, 0, sizeof(float) * (size_t)M * C);
	cpu_matmul_backward(a->dln, dlmw, NULL, a->logits, a->lnf, lmw, M, C, c->V);
	memset(a->dres, 0, sizeof(float) * (size_t)M * C);
	norm_bwd(g, a->dres, g->grads.lnfw, g->grads.lnfb, a->dln, a->res + (size_t)c->L * BTC, g->params.lnfw,
		 a->lnf_mean, a->lnf_rstd, M);
	for (int l = c->L - 1; l >= 0; l--)
		gpt_block_backward(g, l, a->dres, a->res + (size_t)l * BTC, B, T);
	cpu_embed_backward(g->grads.wte, g->grads.wpe, a->dres, g->cur_tokens, B, T, C);
	g->cur_targets = NULL; /* the logits now hold dlogits */
	return PS_OK;
}

void gpt_update(struct gpt *g, float lr, float beta1, float beta2, float eps, float weight_decay, float max_norm,
		double *grad_norm)
{
	const float *grads = g->mem_params + g->n_params;
	double norm = sqrt(cpu_sumsq(grads, g->n_params));
	if (grad_norm)
		*grad_norm = norm;
	const float scale = cpu_clip_factor(norm, max_norm);
	g->step++;
	size_t off = 0;
	for (int i = 0; i < NPT; i++) {
		const size_t n = g->param_sizes[i];
		if (n)
			cpu_adamw_update(g->mem_params + off, grads + off, g->m + off, g->v + off, n, lr, beta1, beta2,
					 eps, decay_of[i] ? weight_decay : 0.0f, scale, g->step);
		off += n;
	}
}

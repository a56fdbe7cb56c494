/* gpt.h — a whole GPT-style Transformer on the CPU kernels (kernels.h):
 * parameters, activations and gradients laid out llm.c style (one allocation
 * per group, shape comments on every tensor), forward, backward, AdamW.
 *
 * One config struct covers GPT-2 (learned positions, layernorm with bias,
 * GELU MLP, biases, tied embeddings) and Llama-like blocks (RMSNorm, SwiGLU,
 * grouped KV heads, no bias, untied head).  Pre-norm blocks:
 *   x = x + attproj(attention(qkv(norm1(x))))
 *   x = x + fcproj(act(fc(norm2(x))))
 * then norm_f and the LM head, and softmax cross-entropy averaged over the
 * B*T tokens.  No dropout, no rotary embeddings (positions are learned or
 * absent).  The execute backend reuses this for single-rank training and its
 * block functions for pipeline stages; it does not know about parallelism.
 *
 * Ownership: gpt_alloc returns a model owning all its memory; gpt_free frees
 * it.  The pointers inside params/grads/acts point into those blocks. */
#ifndef PS_GPT_H
#define PS_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

enum gpt_ffn { GPT_FFN_GELU = 0, GPT_FFN_SWIGLU = 1 };
enum gpt_norm { GPT_NORM_LAYERNORM = 0, GPT_NORM_RMSNORM = 1 };

struct gpt_config {
	int L;            /* layers */
	int C;            /* channels (hidden) */
	int NH;           /* query heads */
	int KVH;          /* key/value heads, divides NH */
	int HS;           /* head size (GPT-2: C / NH) */
	int F;            /* MLP hidden width (GPT-2: 4C) */
	int V;            /* vocabulary */
	int maxT;         /* longest sequence (rows of wpe) */
	enum gpt_ffn ffn;
	enum gpt_norm norm;
	int bias;         /* 1: linear layers have biases (and layernorm a bias) */
	int learned_pos;  /* 1: wpe exists */
	int tied;         /* 1: LM head is wte; 0: separate lmw */
};

/* GPT-2 124M: L=12 C=768 NH=KVH=12 HS=64 F=3072 V=50257 maxT=1024. */
void gpt_config_gpt2_124m(struct gpt_config *cfg);

/* Parameter tensors (also the layout of grads, AdamW m and v).  A tensor
 * absent from the config (no bias, rmsnorm, untied, ...) is NULL and takes no
 * space.  QKV = (NH+2*KVH)*HS, AC = NH*HS, FC = F (gelu) or 2F (swiglu). */
struct gpt_params {
	float *wte;      /* (V, C) */
	float *wpe;      /* (maxT, C)            learned_pos */
	float *ln1w;     /* (L, C) */
	float *ln1b;     /* (L, C)               layernorm && bias */
	float *qkvw;     /* (L, QKV, C) */
	float *qkvb;     /* (L, QKV)             bias */
	float *attprojw; /* (L, C, AC) */
	float *attprojb; /* (L, C)               bias */
	float *ln2w;     /* (L, C) */
	float *ln2b;     /* (L, C)               layernorm && bias */
	float *fcw;      /* (L, FC, C) */
	float *fcb;      /* (L, FC)              bias */
	float *fcprojw;  /* (L, C, F) */
	float *fcprojb;  /* (L, C)               bias */
	float *lnfw;     /* (C) */
	float *lnfb;     /* (C)                  layernorm && bias */
	float *lmw;      /* (V, C)               !tied */
};

/* Activations of one forward pass at (B,T), kept for the backward. */
struct gpt_acts {
	float *res;      /* (L+1, B, T, C) residual stream: res[0] embeddings, res[l+1] block l out */
	float *ln1;      /* (L, B, T, C) */
	float *ln1_mean; /* (L, B, T)    layernorm only */
	float *ln1_rstd; /* (L, B, T) */
	float *qkv;      /* (L, B, T, QKV) */
	float *atty;     /* (L, B, T, AC)  attention output */
	float *att_lse;  /* (L, B, NH, T) */
	float *resmid;   /* (L, B, T, C)  residual after the attention half */
	float *ln2;      /* (L, B, T, C) */
	float *ln2_mean; /* (L, B, T) */
	float *ln2_rstd; /* (L, B, T) */
	float *fch;      /* (L, B, T, FC) fc output (pre-activation) */
	float *fcact;    /* (L, B, T, F)  activation output */
	float *lnf;      /* (B, T, C) */
	float *lnf_mean; /* (B, T) */
	float *lnf_rstd; /* (B, T) */
	float *logits;   /* (B, T, V)  becomes dlogits during backward */
	float *losses;   /* (B, T) */
	float *xent_lse; /* (B, T) */
	/* scratch, reused by every layer */
	float *tmp;      /* (B, T, C)  projection outputs before the residual add */
	float *dres;     /* (B, T, C)  gradient of the residual stream */
	float *dln;      /* (B, T, C) */
	float *dqkv;     /* (B, T, QKV) */
	float *datty;    /* (B, T, AC) */
	float *dfch;     /* (B, T, FC) */
	float *dfcact;   /* (B, T, F) */
};

struct gpt {
	struct gpt_config cfg;
	int B, T;                   /* activation capacity: any B*T' with T' <= T, B' <= B */
	size_t n_params;            /* floats in params (= grads = m = v) */
	size_t param_sizes[17];     /* floats per tensor, order of struct gpt_params */
	struct gpt_params params, grads;
	float *m, *v;               /* AdamW moments (n_params each), zero at alloc */
	struct gpt_acts acts;
	int cur_B, cur_T;           /* shape of the last forward */
	const int *cur_tokens;      /* tokens of the last forward (caller-owned, must stay valid for backward) */
	const int *cur_targets;     /* targets of the last forward, NULL if none */
	float mean_loss;            /* of the last forward with targets */
	int step;                   /* AdamW steps taken */
	float *mem_params;          /* params, grads, m, v: one block of 4*n_params */
	float *mem_acts;
	size_t n_acts;              /* floats in mem_acts */
};

/* Check a config (sizes positive, KVH | NH, ...); PS_ERR_INVALID with a reason. */
ps_status gpt_config_check(const struct gpt_config *cfg);
/* Number of parameters of a config (closed form, = n_params of a model). */
size_t gpt_config_num_params(const struct gpt_config *cfg);
/* Allocate a model with activations for up to B sequences of up to T tokens.
 * Parameters are zero until gpt_init_random.  PS_ERR_INVALID, PS_ERR_NOMEM. */
ps_status gpt_alloc(const struct gpt_config *cfg, int B, int T, struct gpt **out);
void gpt_free(struct gpt *g);
/* GPT-2 initialisation from seed: weights N(0, 0.02), the two residual
 * projections N(0, 0.02/sqrt(2L)), biases 0, norm weights 1 (deterministic). */
void gpt_init_random(struct gpt *g, uint64_t seed);

/* Forward at (B,T) within capacity.  tokens (B,T) in [0,V); targets (B,T)
 * or NULL.  With targets, *mean_loss (if not NULL) gets the mean loss.
 * tokens and targets must stay valid until gpt_backward.
 * PS_ERR_INVALID on a bad shape or token. */
ps_status gpt_forward(struct gpt *g, const int *tokens, const int *targets, int B, int T, float *mean_loss);
/* Set all parameter gradients to zero. */
void gpt_zero_grad(struct gpt *g);
/* Backward of the last forward (which had targets), ACCUMULATING into grads
 * (call gpt_zero_grad first), gradient of dloss * mean loss.
 * PS_ERR_INVALID if there was no forward with targets. */
ps_status gpt_backward(struct gpt *g, float dloss);
/* Global-norm clipping (max_norm <= 0: none) and one AdamW step on every
 * parameter; weight decay applies to matrices (wte, wpe, lmw and the linear
 * weights), not to biases and norm weights.  Returns the gradient norm
 * before clipping in *grad_norm if not NULL. */
void gpt_update(struct gpt *g, float lr, float beta1, float beta2, float eps, float weight_decay, float max_norm,
		double *grad_norm);

/* One block (layer l) alone, for tests and pipeline stages, on the model's
 * layer-l activation slots at shape (B,T):
 * res_out(B,T,C) = block_l(res_in(B,T,C)).  res_in must stay valid until
 * the block's backward. */
void gpt_block_forward(struct gpt *g, int l, float *res_out, const float *res_in, int B, int T);
/* dres(B,T,C): on entry d res_out, on exit d res_in; parameter gradients of
 * layer l accumulate. */
void gpt_block_backward(struct gpt *g, int l, float *dres, const float *res_in, int B, int T);

#endif

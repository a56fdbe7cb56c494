/* flops.h — parameter count and FLOPs of a training step, in closed form.
 *
 * Counting conventions (doc/step-graph.md has the derivation):
 *  - a matrix multiply of (M x K) by (K x N) is 2*M*N*K FLOPs; its backward
 *    (input and weight gradients) is twice that;
 *  - only matrix multiplies are counted (QKV, attention scores and values,
 *    projection, MLP, logits); norms, activations, softmax, residuals,
 *    embeddings lookups and the optimizer are not (Narayanan et al. 2021,
 *    appendix; Chowdhery et al. 2022, appendix B);
 *  - attention counts the full s x s score matrix, 4*s*a*d per token and
 *    layer (QK^T and AV), not the causal half — the Megatron convention;
 *  - model FLOPs (MFU) count forward + backward = 3 forward passes, without
 *    recomputation; hardware FLOPs (HFU) add what recomputation re-runs:
 *    one more forward of every layer (full) or of the attention core
 *    (selective).  The logits layer is never recomputed.
 * For a GPT (a*d = h, g = a, ffn = 4h, gelu) this gives per step, with
 * B sequences of s tokens (Narayanan et al. 2021, eq. 3):
 *    model    = 72 B s L h^2 (1 + s/(6h) + V/(12 L h))
 *    full HFU = 96 B s L h^2 (1 + s/(6h) + V/(16 L h))
 * and the parameter count 12 L h^2 (1 + 13/(12h) + (V+s)/(12 L h)) + 2h
 * (the last 2h: the final layernorm), with tied embeddings.
 * Everything here is a pure function; no allocation. */
#ifndef PS_FLOPS_H
#define PS_FLOPS_H

#include "scenario.h"

/* Parameters of the whole model, by part.  Counts, not bytes. */
struct ps_param_count {
	double layer;        /* one Transformer block */
	double layer_matmul; /* weights of its matrix multiplies (no biases) */
	double embedding;    /* token embedding V*h */
	double position;     /* learned position embedding s*h (0 with rope) */
	double final_norm;   /* final norm before the logits */
	double output;       /* output layer V*h when not tied, else 0 */
	double total;        /* L*layer + the rest */
};

/* Whether the model has a parallel attention/MLP block: the strategy's flag
 * overrides the model's when set. */
int flops_parallel_block(const struct ps_model *m, const struct ps_strategy *st);

/* Parameter count of m (parallel: one norm per block instead of two). */
void flops_params(const struct ps_model *m, int parallel_block, struct ps_param_count *out);

/* Parameters held by one rank of tensor-parallel degree tp: weights split by
 * tp, norms and row-parallel biases replicated.  Per layer, and for the
 * first-stage (embedding) and last-stage (final norm + output) extras.
 * With tied embeddings and pp > 1 the last stage holds its own copy of the
 * embedding matrix for the logits (Megatron); with pp == 1 it is shared. */
struct ps_param_local {
	double layer;        /* one block on one TP rank */
	double first_extra;  /* embedding V*h/tp + position s*h */
	double last_extra;   /* final norm + output V*h/tp (see above) */
};
void flops_params_local(const struct ps_model *m, const struct ps_strategy *st, struct ps_param_local *out);
/* Parameters of one norm: h (rmsnorm) or 2h (layernorm: scale and bias). */
double flops_norm_params(const struct ps_model *m);

/* FLOPs of one step of `sequences` sequences (usually global_batch). */
struct ps_flop_count {
	double layer_dense_fwd_per_token; /* 2 * matmul weights of a block */
	double layer_attn_fwd_per_token;  /* 4 * s * a * d */
	double logits_fwd_per_token;      /* 2 * h * V */
	double model;                     /* 3 * fwd, no recompute: MFU numerator */
	double recompute;                 /* extra forward work of recomputation */
	double hardware;                  /* model + recompute: HFU numerator */
};
void flops_step(const struct ps_model *m, const struct ps_strategy *st, double sequences,
		struct ps_flop_count *out);

/* Model FLOPs utilisation: flops / (step_time_s * ngpus * peak_flops). */
double flops_utilisation(double flops, double step_time_s, double ngpus, double peak_flops);

#endif

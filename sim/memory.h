/* memory.h — the memory model: bytes a rank needs at its peak, by term.
 *
 * Per rank (doc/memory-model.md has the derivations and sources):
 *  - model states (Rajbhandari et al. 2020, ZeRO, section 3.1 — mixed
 *    precision Adam: 2 B parameter + 2 B gradient + 12 B fp32 master
 *    weights, momentum and variance = 16 B per parameter):
 *      ZeRO-0  2 + 2 + 12        ZeRO-1  2 + 2 + 12/dp
 *      ZeRO-2  2 + (2 + 12)/dp   ZeRO-3  (2 + 2 + 12)/dp
 *    Megatron's distributed optimizer keeps fp32 gradients:
 *      2 + 4 + 12/dp (Megatron-LM docs, distributed optimizer);
 *    fp32 training has no separate master copy: 4 + 4 + 8;
 *  - activations: per layer and per in-flight micro-batch, counted tensor
 *    by tensor as Korthikanti et al. 2022 ("Reducing Activation
 *    Recomputation in Large Transformer Models", section 4), which gives
 *    for a GPT with 16-bit activations and dropout:
 *      no parallelism        s b h (34 + 5 a s / h)
 *      tensor parallel t     s b h (10 + 24/t + 5 a s / (h t))
 *      + sequence parallel   s b h (34/t + 5 a s / (h t))
 *      selective recompute   s b h (10 + 24/t)  or  s b h 34/t with SP
 *      full recompute        2 s b h  (the block input; /t with SP)
 *    and handles GQA, SwiGLU, no dropout and flash attention from the same
 *    per-tensor accounting; times the schedule's in-flight count
 *    (schedule_max_inflight);
 *  - embedding/logits activations on the first and last stages, the
 *    working set of one recomputed block, communication buffers, ZeRO-3
 *    gathered parameters, an explicit allocator overhead (fraction of the
 *    rest, device.alloc_overhead) and the runtime's reserved memory.
 * Out-of-memory is a result: the breakdown says whether, and by how much,
 * the total exceeds the device's capacity.  Pure functions, no allocation. */
#ifndef PS_MEMORY_H
#define PS_MEMORY_H

#include "scenario.h"
#include "status.h"

/* Bytes per parameter of the model states on one rank. */
struct ps_state_bytes {
	double weights;   /* parameters in the compute dtype */
	double grads;     /* gradients (grad_dtype) */
	double optimizer; /* fp32 master copy + Adam m and v */
};
void memory_state_bytes_per_param(const struct ps_strategy *st, struct ps_state_bytes *out);

/* Options of the activation accounting. */
struct ps_act_opts {
	int dropout;         /* dropout layers present: their 1-byte masks are stored */
	int flash_attention; /* attention stores no s x s scores, only fp32 row statistics */
};
/* Default options for a scenario: dropout when the model has biases
 * (GPT-2/3 style training; Llama style models train without dropout),
 * Korthikanti's attention (scores stored) — see doc/memory-model.md.
 * memory_rank() then applies strategy.flash_attention (default true in
 * scenario files: FlashAttention-style kernels keep no s x s scores). */
void memory_act_opts_default(const struct ps_model *m, struct ps_act_opts *o);

/* Activation bytes one Transformer block stores for one micro-batch of
 * `micro_batch` sequences, after recomputation and sequence parallelism
 * (tp, sequence_parallel, recompute and cp from st; dtype st->dtype). */
double memory_act_layer_bytes(const struct ps_model *m, const struct ps_strategy *st, const struct ps_act_opts *o);

/* Working set of one block recomputed during backward (full recompute:
 * all of the block's no-recompute activations; selective: the attention
 * core's; none: 0). */
double memory_act_recompute_work_bytes(const struct ps_model *m, const struct ps_strategy *st,
				       const struct ps_act_opts *o);

/* The terms of a rank's peak memory. */
typedef enum {
	MEM_WEIGHTS = 0,
	MEM_GRADS,
	MEM_OPTIMIZER,
	MEM_ACTIVATIONS,      /* blocks x in-flight micro-batches */
	MEM_ACT_EMBED_LOGITS, /* first-stage embedding / last-stage logits activations */
	MEM_RECOMPUTE_WORK,   /* one block rematerialised during backward */
	MEM_COMM_BUFFERS,     /* gradient buckets in flight, p2p buffers */
	MEM_ZERO3_GATHER,     /* ZeRO-3: gathered parameters of the current and the prefetched block */
	MEM_ALLOC_OVERHEAD,   /* allocator fragmentation: alloc_overhead x the terms above */
	MEM_RESERVED,         /* runtime / context memory */
	MEM_TERM_COUNT_
} ps_mem_term;

struct ps_mem_entry {
	double bytes;
	char formula[200];    /* how it was computed, with the numbers */
};

struct ps_mem_breakdown {
	struct ps_mem_entry term[MEM_TERM_COUNT_];
	double params_local;  /* parameters held (unsharded) by the rank */
	int layers_local;     /* Transformer blocks on the rank */
	int inflight;         /* micro-batch-chunk activations held at the peak */
	double total_bytes;   /* sum of the terms */
	double capacity_bytes;/* device memory */
	int oom;              /* total_bytes > capacity_bytes */
	double excess_bytes;  /* total - capacity when oom, else 0 */
};

/* Key of a term with its unit: "weights_bytes", "activations_bytes", ... */
const char *memory_term_key(ps_mem_term t);

/* Peak memory of a rank of pipeline stage `stage` (all ranks of a stage
 * are alike).  m: micro-batches per step.  Returns PS_ERR_INVALID for an
 * impossible schedule. */
ps_status memory_rank(const struct ps_scenario *sc, int stage, struct ps_mem_breakdown *out);

#endif

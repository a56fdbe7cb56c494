/* scenario.h — one scenario = model x cluster x strategy [x sweep].
 *
 * Loaded from YAML by scenario_load() with strict validation: unknown keys,
 * wrong types, missing required keys, out-of-range or inconsistent values
 * are errors "file:line:col: key.path: expected ..., got ...".  All
 * quantities are stored in SI base units (see units.h).  Key names in YAML
 * are the field names below unless noted; see scenarios/schema.md.
 *
 * YAML layout:
 *   name: str                    (optional; default: file stem)
 *   model:   mapping | preset name   (a mapping may hold include: NAME|PATH plus overrides)
 *   cluster: mapping | preset name   (cluster.device: mapping | preset name, same include rule)
 *   strategy: mapping
 *   sweep:   mapping key -> list    (optional; strategy keys and cluster.nodes)
 *   training: mapping               (optional; tokens, deadline, for the planner)
 * Presets are looked up by name in $PARASIM_DATADIR/{models,hardware,clusters}
 * (then the source tree, then the install dir), or as a path relative to the
 * including file.
 *
 * Ownership: struct ps_scenario is caller-allocated; scenario_load fills it
 * and scenario_fini frees what it allocated (canonical text, sweep). */
#ifndef PS_SCENARIO_H
#define PS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define PS_NAME_MAX 64

typedef enum { DTYPE_FP32 = 0, DTYPE_TF32, DTYPE_BF16, DTYPE_FP16, DTYPE_FP8, DTYPE_COUNT_ } ps_dtype;
const char *dtype_name(ps_dtype d);     /* "fp32", "tf32", "bf16", "fp16", "fp8" */
int dtype_bytes(ps_dtype d);            /* 4, 4, 2, 2, 1 */
ps_status dtype_parse(const char *s, ps_dtype *out);

typedef enum { FFN_GELU = 0, FFN_SWIGLU } ps_ffn_type;
typedef enum { NORM_LAYERNORM = 0, NORM_RMSNORM } ps_norm_type;
typedef enum { POS_LEARNED = 0, POS_ROPE } ps_pos_type;

struct ps_model {
	char name[PS_NAME_MAX];
	int layers;         /* L: Transformer blocks */
	int hidden;         /* h: model width */
	int heads;          /* a: attention (query) heads */
	int kv_heads;       /* g: key/value heads (GQA); default = heads */
	int head_dim;       /* default hidden / heads */
	int ffn_hidden;     /* MLP inner width; default 4h (gelu) */
	ps_ffn_type ffn;    /* gelu | swiglu (swiglu: 3 matrices h x ffn_hidden) */
	int vocab;          /* V */
	int seq_len;        /* s: tokens per sequence */
	ps_norm_type norm;  /* layernorm | rmsnorm */
	ps_pos_type position; /* learned | rope */
	bool tied_embeddings;
	bool bias;          /* linear layers have biases (GPT-2/3 yes, Llama no) */
	bool parallel_block;/* GPT-J/PaLM attention and MLP in parallel from one norm */
};

/* Device: datasheet description, or the measured machine (kernel profile). */
struct ps_device {
	char name[PS_NAME_MAX];
	char kind[16];                  /* "gpu", "cpu", "tpu", "fpga" */
	double peak_flops[DTYPE_COUNT_];/* dense FLOP/s per dtype; 0 = unsupported */
	double mem_bytes;               /* memory capacity, bytes */
	double mem_bw_Bps;              /* memory bandwidth, bytes/s */
	double power_W;                 /* board power (TDP), watts */
	double cost_per_s;              /* rental price, dollars per second ("$2.10/h") */
	/* Size-dependent efficiency: eff(x) = eff_max * x / (x + half),
	 * x = FLOPs of one kernel call (matmul) or bytes (memory-bound). */
	double matmul_eff_max;          /* fraction of peak_flops reached by large GEMMs */
	double matmul_half_flop;        /* FLOPs of a GEMM reaching half of eff_max */
	double attn_eff_max;            /* fraction of peak reached by attention kernels */
	double mem_eff_max;             /* fraction of mem_bw reached by streaming kernels */
	double mem_half_bytes;          /* bytes of a kernel reaching half of mem_eff_max */
	double kernel_launch_s;         /* fixed cost per kernel launch, seconds */
	double overlap_slowdown;        /* interference: compute runs 1+x slower while comm overlaps it */
	double comm_overlap_slowdown;   /* and the other way: comm runs 1+x slower while compute overlaps it */
	double alloc_overhead;          /* allocator fragmentation, fraction of peak memory (e.g. 0.05) */
	double reserved_bytes;          /* runtime/context memory not available to tensors */
};

typedef enum { LEVEL_NODE = 0, LEVEL_CLUSTER } ps_level_scope;

/* One level of the network hierarchy.  Bandwidths are per device (NVLink) or
 * per rail (NIC), per direction. */
struct ps_net_level {
	char name[PS_NAME_MAX];   /* "nvswitch", "ib" */
	ps_level_scope scope;     /* node: devices of one node; cluster: nodes */
	double bw_Bps;            /* per device (node level) / per NIC rail (cluster), one direction */
	double lat_s;             /* per-hop latency, seconds */
	int rails;                /* cluster level: NICs per node (rail-optimised) */
	int leaf_nodes;           /* cluster level: nodes under one leaf switch (0 = all) */
	double oversubscription;  /* cluster level: leaf uplink oversubscription (1 = non-blocking) */
	double eff;               /* achievable fraction of bw_Bps for large messages (default 1) */
};

#define PS_MAX_LEVELS 4
#define PS_MAX_PERTURB 64

struct ps_perturb {               /* per-rank slowdown (straggler) or failure */
	int rank;
	double slowdown;              /* compute time multiplier, >= 1 */
};

struct ps_cluster {
	char name[PS_NAME_MAX];
	struct ps_device device;
	int devices_per_node;
	int nodes;
	int nlevels;
	struct ps_net_level levels[PS_MAX_LEVELS]; /* levels[0] innermost */
	int nperturb;
	struct ps_perturb perturb[PS_MAX_PERTURB];
	double failure_rate_per_device_h; /* failures per device-hour (planner), 0 = none */
};

typedef enum { SCHED_GPIPE = 0, SCHED_1F1B, SCHED_INTERLEAVED } ps_schedule;
typedef enum { RECOMPUTE_NONE = 0, RECOMPUTE_SELECTIVE, RECOMPUTE_FULL } ps_recompute;
typedef enum { ALGO_AUTO = 0, ALGO_RING, ALGO_TREE, ALGO_HIERARCHICAL } ps_coll_algo;

struct ps_strategy {
	int dp, tp, pp, vpp, cp;  /* vpp: virtual stages per pipeline rank (1 = none) */
	int micro_batch;          /* sequences per micro-batch per DP rank */
	int global_batch;         /* sequences per step, all DP ranks */
	int zero_stage;           /* 0..3 */
	bool distributed_optimizer; /* Megatron style: ZeRO-1 with fp32 grads */
	ps_recompute recompute;   /* none | selective | full */
	bool sequence_parallel;
	ps_schedule schedule;     /* gpipe | 1f1b | interleaved (default 1f1b; interleaved if vpp>1) */
	bool overlap_grad_reduce; /* DP gradient reduction overlapped with backward */
	bool overlap_param_gather;/* ZeRO-3 / distributed optimizer param all-gather overlapped */
	bool overlap_tp_comm;     /* TP communication overlapped with independent compute */
	bool parallel_block;      /* overrides model.parallel_block when set in strategy */
	ps_dtype dtype;           /* compute / parameter dtype (bf16 default) */
	ps_dtype grad_dtype;      /* gradient accumulation dtype (default = dtype; fp32 w/ distributed optimizer) */
	double bucket_bytes;      /* DP gradient bucket size (default 25MB... "40MB") */
	ps_coll_algo coll_algo;   /* auto (by size, like NCCL) | ring | tree | hierarchical */
	bool allow_tp_across_nodes; /* permit tp > devices_per_node */
	bool flash_attention;     /* attention keeps no s x s scores (FlashAttention-style kernels); default true */
	bool dp_auto;             /* "dp: auto" (or dp omitted): dp = world / (tp*pp*cp), re-derived
				   * for each sweep combination; dp holds the derived value (0 if
				   * it does not divide, possible only in a scenario with a sweep) */
};

struct ps_training {               /* optional, for the planner */
	double tokens;                 /* training token budget (0 = unset) */
	double deadline_s;             /* wall-clock deadline (0 = unset) */
};

/* A sweep: lists of values for keys, expanded into the Cartesian product. */
struct ps_sweep_axis {
	char key[PS_NAME_MAX];    /* "strategy.tp", "cluster.nodes", ... (as written: "tp" means strategy.tp) */
	int nvalues;
	char **values;            /* canonical text of each value */
	int line, col;            /* where the list is, for messages */
};

struct ps_sweep {
	int naxes;
	struct ps_sweep_axis *axes;
};

struct ps_scenario {
	char name[PS_NAME_MAX];
	char path[1024];          /* file it was loaded from ("" if from a string) */
	struct ps_model model;
	struct ps_cluster cluster;
	struct ps_strategy strategy;
	struct ps_training training;
	struct ps_sweep sweep;    /* naxes == 0 when no sweep */
	char *canonical;          /* canonical YAML text (owned) */
	char sha256[65];          /* hex sha256 of canonical */
};

/* Total devices = nodes * devices_per_node. */
int scenario_world_size(const struct ps_scenario *sc);

/* Load and validate a scenario file.  On error returns a status with the
 * message "file:line:col: key.path: ..." and leaves *sc finalised. */
ps_status scenario_load(const char *path, struct ps_scenario *sc);
/* Same from a text buffer; name_for_messages stands for the file name. */
ps_status scenario_load_string(const char *text, size_t len, const char *name_for_messages,
			       struct ps_scenario *sc);
void scenario_fini(struct ps_scenario *sc);

/* Consistency checks (dp*tp*pp*cp = devices, heads % tp, ...).  Fills msg
 * with the first violation; returns PS_ERR_INVALID then. */
ps_status scenario_check_consistency(const struct ps_scenario *sc, char *msg, size_t msgsize);

/* Expansion of the sweep: callback once per consistent combination with a
 * fully resolved scenario (its canonical text and sha256 set, sweep empty);
 * inconsistent combinations call skipped (may be NULL) with the reason.
 * Without a sweep, calls cb once with the scenario itself.
 * cb returning non-PS_OK stops the expansion and is returned. */
typedef ps_status (*scenario_cb)(const struct ps_scenario *one, void *arg);
typedef void (*scenario_skip_cb)(const char *combo, const char *reason, void *arg);
ps_status scenario_expand(const struct ps_scenario *sc, scenario_cb cb, scenario_skip_cb skipped, void *arg);

/* Write the canonical YAML of sc (units normalised, includes inlined, all
 * defaults explicit, sweep kept) into a newly allocated string. */
ps_status scenario_canonical(const struct ps_scenario *sc, char **out);

/* Directory searched for presets: $PARASIM_DATADIR, else source tree, else install. */
const char *scenario_datadir(void);

#endif

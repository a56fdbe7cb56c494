/* schedule.h — pipeline schedules: the order of forward and backward passes
 * of (micro-batch, model chunk) on each pipeline stage.
 *
 * Three schedules, with Megatron-LM semantics (Narayanan et al. 2021,
 * "Efficient Large-Scale Language Model Training on GPU Clusters Using
 * Megatron-LM", section 2.2; Megatron-core
 * pipeline_parallel/schedules.py):
 *  - GPipe (Huang et al. 2019): all m forwards, then all m backwards
 *    (micro-batches in ascending order both times);
 *  - 1F1B (PipeDream-Flush): stage s runs min(pp-s-1, m) warm-up forwards,
 *    then alternates one forward and one backward, then drains the
 *    remaining backwards;
 *  - interleaved 1F1B (vpp model chunks per stage): m*vpp virtual
 *    micro-batches; warm-up (pp-s-1)*2 + (vpp-1)*pp forwards (all m*vpp when
 *    m == pp), virtual micro-batch k runs chunk (k mod pp*vpp) / pp
 *    (reversed for backward) on micro-batch (k / (pp*vpp))*pp + k mod pp.
 *    Requires m to be a multiple of pp.  With vpp == 1 it is 1F1B.
 *
 * Chunk c of stage s holds virtual stage c*pp + s, i.e. layers
 * [(c*pp + s) * L/(pp*vpp), (c*pp + s + 1) * L/(pp*vpp)).
 *
 * This module only orders work; it does not time it (that is the simulator's
 * job, where the bubble emerges) and allocates nothing. */
#ifndef PS_SCHEDULE_H
#define PS_SCHEDULE_H

#include <stdint.h>
#include "scenario.h"
#include "status.h"

typedef enum { SCHED_ITEM_FWD = 0, SCHED_ITEM_BWD } ps_sched_dir;

struct ps_sched_item {
	int32_t dir;        /* ps_sched_dir */
	int32_t microbatch; /* 0..m-1 */
	int32_t chunk;      /* 0..vpp-1 (model chunk on this stage) */
};

/* Items per stage: 2 * m * vpp. */
int schedule_length(int m, int vpp);

/* The effective schedule: interleaved with vpp == 1 is 1F1B. */
ps_schedule schedule_effective(ps_schedule kind, int vpp);

/* Check that (kind, pp, vpp, m) is a schedulable combination.  Returns
 * PS_ERR_INVALID with a message otherwise (e.g. interleaved with m not a
 * multiple of pp, vpp > 1 with a non-interleaved schedule). */
ps_status schedule_check(ps_schedule kind, int pp, int vpp, int m);

/* Fill items[0 .. schedule_length(m, vpp)) with the order of stage `stage`
 * (0 <= stage < pp).  Returns schedule_check's status. */
ps_status schedule_stage(ps_schedule kind, int pp, int vpp, int m, int stage, struct ps_sched_item *items);

/* Number of warm-up forwards of the stage (forwards before its first
 * backward).  Megatron's num_warmup_microbatches (in virtual micro-batches
 * for the interleaved schedule). */
int schedule_warmup(ps_schedule kind, int pp, int vpp, int m, int stage);

/* Largest number of (micro-batch, chunk) forward activations the stage
 * holds at once: max over the order of (forwards done - backwards done).
 * GPipe: m*vpp; 1F1B: min(pp - stage, m); interleaved: min(warmup + 1, m*vpp). */
int schedule_max_inflight(ps_schedule kind, int pp, int vpp, int m, int stage);

/* Ideal bubble fraction of the schedule with uniform stages and free
 * communication: idle time / step time = (pp-1) / (vpp*m + pp - 1)
 * (for GPipe and 1F1B vpp = 1: (pp-1)/(m+pp-1)). */
double schedule_bubble_fraction(ps_schedule kind, int pp, int vpp, int m);

/* Virtual stage of (stage, chunk): chunk*pp + stage. */
static inline int schedule_virtual_stage(int pp, int stage, int chunk) { return chunk * pp + stage; }

/* "gpipe", "1f1b", "interleaved". */
const char *schedule_name(ps_schedule kind);

#endif

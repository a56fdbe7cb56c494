/* trace.h — one record per executed or simulated task.
 *
 * Both backends emit the same record so a validation is a join on task_id.
 * Times are seconds from the start of the step. */
#ifndef PS_TRACE_H
#define PS_TRACE_H

#include <stdint.h>

struct ps_trace_event {
	uint32_t task_id;    /* id in the step graph */
	int32_t rank;        /* representative rank (or real rank when unfolded) */
	int32_t stream;      /* ps_stream */
	int32_t kind;        /* ps_task_kind */
	int32_t phase;       /* ps_phase */
	int32_t layer, microbatch;
	double start_s, end_s;
	double flops, bytes;
	char name[48];       /* "matmul_fwd", "allreduce", "send", ... */
};

#endif
